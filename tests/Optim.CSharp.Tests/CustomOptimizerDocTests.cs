using System.Runtime.CompilerServices;
using Microsoft.FSharp.Collections;
using Xunit;

namespace Optim.CSharp.Tests;

/// <summary>docs/custom-optimizers.md: its C# snippet is the body of <see cref="Snippet"/>, verbatim, and it works.</summary>
public sealed class CustomOptimizerDocTests
{
    private static (Optim.Tensor[] Start, Optim.Tensor[] Final) Snippet()
    {
        // snippet:start
        // LAMB, composed from the core's blocks in C#: an F# list of blocks, chained.
        var lamb = Transform.chain(ListModule.OfSeq(new[]
        {
            Blocks.scaleByAdam(0.9, 0.999, 1e-6, false),
            Blocks.addWeightDecay(0.01),
            Blocks.scaleByTrustRatio,
            Blocks.scaleByLearningRate(0.02),
        }));
        var optimizer = OptimizerModule.ofTransform(lamb);

        // The pure API: each step returns new parameters and a new state; f(x) = Σ x², its gradient 2x.
        Tensor[] parameters = [TensorModule.ofArray([1f, -2f, 3f])];
        var state = optimizer.Init.Invoke(parameters);
        for (int step = 0; step < 200; step++)
        {
            float[][] grads = parameters.Select(p => p.Data.Select(x => 2 * x).ToArray()).ToArray();
            (parameters, state) = optimizer.Step.Invoke(parameters).Invoke(grads).Invoke(state);
        }
        // snippet:end
        return ([TensorModule.ofArray([1f, -2f, 3f])], parameters);
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
    public void The_documented_LAMB_minimises_the_quadratic()
    {
        var (start, final) = Snippet();
        static float F(Optim.Tensor[] ps) => ps.Sum(p => p.Data.Sum(x => x * x));
        Assert.True(F(final) < 0.01f * F(start), $"f = {F(final)}");
    }
}
