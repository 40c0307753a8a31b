using System.Runtime.CompilerServices;
using Xunit;

namespace Optim.CSharp.Tests;

/// <summary>docs/custom-optimizers.md: its C# snippet is the body of <see cref="Snippet"/>, verbatim, and it works.</summary>
public sealed class CustomOptimizerDocTests
{
    private static (Parameter W, ComposedOptimizer Optimizer, Transformation ClippedAdamW) Snippet()
    {
        // snippet:start
        // LAMB, composed from blocks: Adam's direction, weight decay, the trust ratio, the learning rate.
        var lamb = Transformation.Chain(
            Transformation.ScaleByAdam(betas: (0.9, 0.999), eps: 1e-6),
            Transformation.AddWeightDecay(0.01),
            Transformation.ScaleByTrustRatio(),
            Transformation.ScaleByLearningRate(0.05));

        // It runs as any optimizer of the facade: f(w) = Σ w², whose gradient is 2w.
        var w = new Parameter([1f, -2f, 3f]) { Name = "w" };
        var optimizer = new ComposedOptimizer([w], lamb);
        var scheduler = new StepLR(optimizer, stepSize: 100, gamma: 0.5);
        for (int step = 0; step < 200; step++)
        {
            optimizer.ZeroGrad();
            w.AccumulateGrad(w.Data.Select(x => 2 * x).ToArray());
            optimizer.Step();
            scheduler.Step();
        }

        // A chain of elementwise blocks runs as one fused pass: clip every gradient element, then AdamW.
        var clippedAdamW = Transformation.ClipByValue(1.0).Then(Transformation.AdamW(lr: 1e-3));
        // snippet:end
        return (w, optimizer, clippedAdamW);
    }

    private static string[] Between(string[] lines, int indent)
    {
        int a = Array.FindIndex(lines, l => l.Trim() == "// snippet:start");
        int b = Array.FindIndex(lines, l => l.Trim() == "// snippet:end");
        return lines[(a + 1)..b].Select(l => l.Length >= indent ? l[indent..] : l.TrimStart()).ToArray();
    }

    private static string[] Fenced(string[] markdown, string language)
    {
        int a = Array.FindIndex(markdown, l => l.Trim() == "```" + language);
        int b = Array.FindIndex(markdown, a + 1, l => l.Trim() == "```");
        return markdown[(a + 1)..b];
    }

    private static string ThisFile([CallerFilePath] string path = "") => path;

    [Fact]
    public void The_documentations_CSharp_snippet_is_the_code_this_test_compiles_and_runs()
    {
        var doc = File.ReadAllLines(Path.Combine(Path.GetDirectoryName(ThisFile())!, "..", "..", "docs", "custom-optimizers.md"));
        Assert.Equal(Between(File.ReadAllLines(ThisFile()), 8), Fenced(doc, "csharp"));
    }

    [Fact]
    public void The_documented_LAMB_minimises_the_quadratic_under_its_scheduler_and_keeps_Adams_state()
    {
        var (w, optimizer, clippedAdamW) = Snippet();
        Assert.True(w.Data.Sum(x => x * x) < 0.01f * 14f, $"f = {w.Data.Sum(x => x * x)}");
        Assert.Equal(0.05 * Math.Pow(0.5, 2), optimizer.ParamGroups[0].Lr, 12);
        Assert.Contains("\"exp_avg\"", optimizer.StateDict().ToJson());
        Assert.Equal("chain(clipByValue, adamw)", clippedAdamW.Name);
    }
}
