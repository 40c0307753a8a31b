using Optim.CSharp;

namespace Optim.CSharp.Tests;

/// <summary>The C# examples of README.md and src/Optim.CSharp/README.md, compiled and run.</summary>
public class DocExamples
{
    [Fact]
    public void TheReadmesCSharpQuickStartRunsAndMinimises()
    {
        var w = new Parameter(new float[] { 1f, -2f }) { Name = "w" };
        var optimizer = new Adam(new[] { w }, lr: 0.1);
        for (int step = 0; step < 200; step++)
        {
            optimizer.ZeroGrad();
            w.AccumulateGrad(new[] { 2 * w.Data[0], 2 * w.Data[1] });   // backward of Σw²
            optimizer.Step();
        }

        // Param groups with their own hyperparameters; keys a group does not set take the optimizer's defaults.
        var body = new Parameter(new float[16], 4, 4);
        var head = new Parameter(new float[4]);
        var sgd = new SGD(new[] { new ParamGroup(new[] { body }), new ParamGroup(new[] { head }) { Lr = 0.1 } },
                          lr: 0.01, momentum: 0.9);

        // Checkpoints are JSON in PyTorch's state_dict layout.
        string json = optimizer.StateDict().ToJson();
        var resumed = new Adam(new[] { w });
        resumed.LoadStateDict(StateDict.FromJson(json));

        Assert.All(w.Data, x => Assert.True(Math.Abs(x) < 0.05f));
        Assert.Equal(0.01, sgd.ParamGroups[0].Lr);
        Assert.Equal(0.9, sgd.ParamGroups[1]["momentum"]);
        Assert.Equal(json, resumed.StateDict().ToJson());
    }

    [Fact]
    public void TheReadmesCompositionExampleRunsAClippedAdamWUnderOneCycleLR()
    {
        var w = new Parameter(new float[] { 1f, -2f }) { Name = "w" };
        var clippedAdamW = Transformation.Chain(
            Transformation.ClipByGlobalNorm(1.0),
            Transformation.ScaleByAdam(betas: (0.9, 0.999)),
            Transformation.ScaleByLearningRate(1e-3),
            Transformation.DecoupledWeightDecay(weightDecay: 1e-2, lr: 1e-3));
        var composed = new ComposedOptimizer(new[] { w }, clippedAdamW);
        var oneCycle = new OneCycleLR(composed, maxLr: 0.01, totalSteps: 100);

        for (int step = 0; step < 100; step++)
        {
            composed.ZeroGrad();
            w.AccumulateGrad(new[] { 2 * w.Data[0], 2 * w.Data[1] });
            composed.Step();
            oneCycle.Step();
        }
        Assert.True(Math.Abs(w.Data[0]) < 1f && Math.Abs(w.Data[1]) < 2f);
        Assert.Equal(1e-2, composed.ParamGroups[0]["weight_decay"]);
    }

    [Fact]
    public void ThePackageReadmesExampleRuns()
    {
        var w = new Parameter(new float[] { 1f, -2f }) { Name = "w" };
        var optimizer = new Adam(new[] { w }, lr: 0.1);
        for (int step = 0; step < 200; step++)
        {
            optimizer.ZeroGrad();
            w.AccumulateGrad(new[] { 2 * w.Data[0], 2 * w.Data[1] });   // backward of Σw²
            optimizer.Step();
        }
        string checkpoint = optimizer.StateDict().ToJson();
        Assert.Contains("\"exp_avg\"", checkpoint);
    }
}

/// <summary>Every fenced F# and C# block in the README files and docs/ appears, line for line, in a compiled test.</summary>
public class DocExamplesTests
{
    private static string Root()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Optim.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Optim.sln not found above the test directory.");
    }

    private static IEnumerable<(string File, string Lang, string[] Lines)> Blocks(string root)
    {
        var docs = new[] { "README.md" }
            .Concat(Directory.GetFiles(Path.Combine(root, "src"), "README.md", SearchOption.AllDirectories))
            .Concat(Directory.Exists(Path.Combine(root, "docs")) ? Directory.GetFiles(Path.Combine(root, "docs"), "*.md") : []);
        foreach (var doc in docs)
        {
            var lines = File.ReadAllLines(Path.Combine(root, doc));
            for (int i = 0; i < lines.Length; i++)
            {
                var open = lines[i].Trim();
                if (open is not ("```fsharp" or "```csharp")) continue;
                var body = new List<string>();
                for (i++; i < lines.Length && lines[i].Trim() != "```"; i++) body.Add(lines[i]);
                yield return (Path.GetRelativePath(root, doc), open[3..], body.Select(l => l.Trim()).Where(l => l.Length > 0).ToArray());
            }
        }
    }

    private static bool ContainsInOrder(string[] haystack, string[] needle)
    {
        int k = 0;
        foreach (var line in haystack)
            if (k < needle.Length && line == needle[k]) k++;
        return k == needle.Length;
    }

    [Fact]
    public void EveryCodeBlockInTheDocsIsCompiledByATest()
    {
        var root = Root();
        var sources = new Dictionary<string, string[][]>
        {
            ["fsharp"] = Directory.GetFiles(Path.Combine(root, "tests"), "*.fs", SearchOption.AllDirectories)
                .Concat(Directory.Exists(Path.Combine(root, "samples")) ? Directory.GetFiles(Path.Combine(root, "samples"), "*.fs", SearchOption.AllDirectories) : [])
                .Select(f => File.ReadAllLines(f).Select(l => l.Trim()).ToArray()).ToArray(),
            ["csharp"] = Directory.GetFiles(Path.Combine(root, "tests"), "*.cs", SearchOption.AllDirectories)
                .Concat(Directory.Exists(Path.Combine(root, "samples")) ? Directory.GetFiles(Path.Combine(root, "samples"), "*.cs", SearchOption.AllDirectories) : [])
                .Select(f => File.ReadAllLines(f).Select(l => l.Trim()).ToArray()).ToArray(),
        };
        var blocks = Blocks(root).ToList();
        Assert.NotEmpty(blocks);
        var orphans = blocks.Where(b => !sources[b.Lang].Any(src => ContainsInOrder(src, b.Lines)))
            .Select(b => $"{b.File}: ```{b.Lang} block starting '{b.Lines.FirstOrDefault()}'").ToList();
        Assert.True(orphans.Count == 0, "Doc examples that no compiled test contains:\n" + string.Join("\n", orphans));
    }
}
