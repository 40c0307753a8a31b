using System.Runtime.CompilerServices;

namespace Optim.CSharp.Tests;

// snippet:start
/// <summary>
/// LAMB (You et al., "Large Batch Optimization for Deep Learning: Training BERT in 76 minutes", 2020): Adam's
/// direction plus weight decay, u = m̂ / (√v̂ + ε) + λp, rescaled per parameter by the trust ratio ‖p‖ / ‖u‖.
/// </summary>
public sealed class Lamb : Optimizer
{
    public Lamb(IEnumerable<Parameter> parameters, double lr = 1e-3, (double, double)? betas = null,
                double eps = 1e-6, double weightDecay = 0)
        : base(parameters,
               new OptimizerDefaults { { "lr", lr }, { "betas", betas ?? (0.9, 0.999) }, { "eps", eps }, { "weight_decay", weightDecay } },
               kind: "Lamb", "exp_avg", "exp_avg_sq") { }

    protected override void StepParameter(ParamGroup group, Parameter p, ReadOnlySpan<float> grad)
    {
        float[] m = GetState(p, "exp_avg"), v = GetState(p, "exp_avg_sq");   // zeros at first
        long t = GetStep(p);                                                 // 1 on the first step
        var (beta1, beta2) = group.Betas;
        float b1 = (float)beta1, b2 = (float)beta2, omb1 = (float)(1 - beta1), omb2 = (float)(1 - beta2);
        float corr1 = (float)(1 / (1 - Math.Pow(beta1, t))), sqrtBc2 = (float)Math.Sqrt(1 - Math.Pow(beta2, t));
        float eps = (float)group["eps"], wd = (float)group["weight_decay"];

        var u = new float[p.Numel];
        double pSquares = 0, uSquares = 0;
        for (int i = 0; i < u.Length; i++)
        {
            m[i] = m[i] * b1 + omb1 * grad[i];
            v[i] = v[i] * b2 + omb2 * grad[i] * grad[i];
            u[i] = corr1 * m[i] / (MathF.Sqrt(v[i]) / sqrtBc2 + eps) + wd * p.Data[i];
            pSquares += (double)p.Data[i] * p.Data[i];
            uSquares += (double)u[i] * u[i];
        }
        float ratio = pSquares > 0 && uSquares > 0 ? (float)(Math.Sqrt(pSquares) / Math.Sqrt(uSquares)) : 1f;
        float negLr = (float)-group.Lr;
        for (int i = 0; i < u.Length; i++) p.Data[i] += negLr * (ratio * u[i]);
    }
}
// snippet:end

/// <summary>docs/custom-optimizers.md, "Subclassing Optimizer in C#": its two C# blocks are the snippets of this file, verbatim, and they work.</summary>
public sealed class SubclassingDocTests
{
    private static (Parameter W, Lamb Optimizer, StepLR Scheduler, Lamb Resumed, float Start) Snippet()
    {
        // snippet:start
        // f(w) = Σ w², whose gradient is 2w. Lamb gets ZeroGrad, Step, param groups, schedulers and state dicts from Optimizer.
        var w = new Parameter([1f, -2f, 3f]) { Name = "w" };
        var optimizer = new Lamb([w], lr: 0.05, weightDecay: 0.01);
        var scheduler = new StepLR(optimizer, stepSize: 100, gamma: 0.5);
        for (int step = 0; step < 200; step++)
        {
            optimizer.ZeroGrad();
            w.AccumulateGrad(w.Data.Select(x => 2 * x).ToArray());
            optimizer.Step();
            scheduler.Step();
        }

        // {"optimizer":"Lamb","state":{"0":{"step":200,"exp_avg":[…],"exp_avg_sq":[…]}},"param_groups":[{"lr":0.0125,…}],…}
        string json = optimizer.StateDict().ToJson();
        var resumed = new Lamb([w], lr: 0.05, weightDecay: 0.01);
        resumed.LoadStateDict(StateDict.FromJson(json));   // an Adam's state dict would throw ArgumentException
        // snippet:end
        return (w, optimizer, scheduler, resumed, 1 + 4 + 9);
    }

    /// <summary>The lines between the n-th pair of snippet markers of a file, without the markers' own indentation.</summary>
    private static string[] Between(string[] lines, int n)
    {
        var starts = lines.Select((l, i) => (l, i)).Where(x => x.l.Trim() == "// snippet:start").Select(x => x.i).ToArray();
        int a = starts[n];
        int b = Array.FindIndex(lines, a, l => l.Trim() == "// snippet:end");
        int indent = lines[a].Length - lines[a].TrimStart().Length;
        return lines[(a + 1)..b].Select(l => l.Length >= indent ? l[indent..] : l.TrimStart()).ToArray();
    }

    /// <summary>The bodies of the csharp blocks after a heading of the page, in order.</summary>
    private static List<string[]> Fenced(string[] markdown, string heading)
    {
        int start = Array.FindIndex(markdown, l => l.Trim() == heading);
        Assert.True(start >= 0, $"The page has no heading '{heading}'.");
        var blocks = new List<string[]>();
        for (int i = start + 1; i < markdown.Length; i++)
        {
            if (markdown[i].StartsWith("## ")) break;
            if (markdown[i].Trim() != "```csharp") continue;
            int end = Array.FindIndex(markdown, i + 1, l => l.Trim() == "```");
            blocks.Add(markdown[(i + 1)..end]);
            i = end;
        }
        return blocks;
    }

    private static string ThisFile([CallerFilePath] string path = "") => path;

    [Fact]
    public void The_subclassing_sections_CSharp_blocks_are_the_code_this_test_compiles_and_runs()
    {
        var doc = File.ReadAllLines(Path.Combine(Path.GetDirectoryName(ThisFile())!, "..", "..", "docs", "custom-optimizers.md"));
        var blocks = Fenced(doc, "## Subclassing Optimizer in C#");
        var source = File.ReadAllLines(ThisFile());
        Assert.Equal(2, blocks.Count);
        Assert.Equal(Between(source, 0), blocks[0]);
        Assert.Equal(Between(source, 1), blocks[1]);
    }

    [Fact]
    public void The_documented_Lamb_minimises_the_quadratic_follows_its_schedule_and_resumes_from_its_state_dict()
    {
        var (w, optimizer, scheduler, resumed, start) = Snippet();
        Assert.True(w.Data.Sum(x => x * x) < 0.01f * start, $"f = {w.Data.Sum(x => x * x)}");
        Assert.Equal(0.05 * 0.25, optimizer.ParamGroups[0].Lr, 1e-15);
        Assert.Equal([0.05 * 0.25], scheduler.GetLastLr());
        Assert.Equal(optimizer.StateDict().ToJson(), resumed.StateDict().ToJson());
        Assert.Contains("\"optimizer\":\"Lamb\"", resumed.StateDict().ToJson());
        Assert.ThrowsAny<ArgumentException>(() => resumed.LoadStateDict(new Adam([w]).StateDict()));
    }
}
