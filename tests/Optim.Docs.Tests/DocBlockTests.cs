using System.Globalization;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Optim.Docs.Tests;

/// <summary>
/// Every C# and F# block of README.md, the package READMEs and docs/*.md compiles and runs whole, as a reader would paste
/// it into a new console project or an .fsx script (see <see cref="BlockRunner"/>), with no warning; what a block prints
/// is checked where <see cref="Expectations"/> says what it should be.
/// </summary>
public sealed class DocBlockTests(BlockRunner runner, ITestOutputHelper log) : IClassFixture<BlockRunner>
{
    /// <summary>The numbers in the text after <paramref name="label"/> on the first line of the output that has it.</summary>
    private static double[] After(string output, string label)
    {
        var line = output.Split('\n').FirstOrDefault(l => l.Contains(label))
                   ?? throw new Xunit.Sdk.XunitException($"No line with '{label}' in the output:\n{output}");
        var rest = line[(line.IndexOf(label, StringComparison.Ordinal) + label.Length)..];
        return Regex.Matches(rest, @"-?\d+(\.\d+)?([eE][-+]?\d+)?|-?∞|NaN")
            .Select(m => double.Parse(m.Value.Replace("∞", "Infinity"), CultureInfo.InvariantCulture)).ToArray();
    }

    private static void AllBelow(double[] xs, double bound, string what) =>
        Assert.True(xs.Length > 0 && xs.All(x => Math.Abs(x) < bound), $"{what}: [{string.Join(", ", xs)}], expected each below {bound} in magnitude");

    /// <summary>What a block prints, by file and a piece of code that only that block of the file holds.</summary>
    public static readonly (string File, string Code, Action<string> Check)[] Expectations =
    [
        ("README.md", "let optimizer = Fused.adam", output =>
        {
            Assert.Equal([200.0], After(output, "after ").Take(1));
            AllBelow(After(output, "steps:"), 0.05, "Adam after 200 steps");
            Assert.Contains("the chain's numbers are the same: true", output);
            AllBelow(After(output, "one step of myAdamW:").Zip(new[] { 1.0, -2.0 }, (x, start) => x - start).ToArray(), 2e-3, "myAdamW's step");
        }),
        ("README.md", "var optimizer = new Adam(new[] { w }, lr: 0.1);", output =>
        {
            AllBelow(After(output, "w = "), 0.05, "Adam after 200 steps");
            Assert.Contains("lr 0.01 and 0.1, momentum 0.9", output);
            Assert.Contains("resumed with the same state: True", output);
        }),
        ("README.md", "new OneCycleLR(composed", output =>
        {
            var w = After(output, "w = ");
            Assert.True(Math.Abs(w[0]) < 1 && Math.Abs(w[1]) < 2, output);
            Assert.Equal([0.01], After(output, "weight_decay"));
        }),
        ("README.md", "FashionMnist.Load", output => Assert.True(After(output, "epoch 3: test accuracy")[0] >= 0.7, output)),
        ("src/Optim.Core/README.md", "Fused.adam", output => AllBelow(After(output, "after 200 steps:"), 0.05, "Adam after 200 steps")),
        ("src/Optim.Core/README.md", "Lbfgs.step", output =>
        {
            Assert.Equal(5.0, After(output, "loss")[0], 6);
            AllBelow(After(output, "then at"), 1e-3, "LBFGS's minimum of Σx²");
        }),
        ("src/Optim.Distributed/README.md", "InProcessCommunicator.Run(4", output => Assert.Equal([6.0, 4.0], After(output, ""))),
        ("src/Optim.Distributed/README.md", "new DistributedDataParallel(", output =>
        {
            Assert.Contains("replicas equal: True", output);
            AllBelow(After(output, "largest difference from one process:"), 1e-5, "two ranks against one process");
        }),
        ("src/Optim.Distributed/README.md", "new DistributedSampler(", output =>
        {
            // PyTorch 1.13: list(DistributedSampler(range(10), num_replicas=3, rank=r, seed=0))
            Assert.Equal([4.0, 5, 0, 2], After(output, "rank 0:"));
            Assert.Equal([1.0, 3, 8, 4], After(output, "rank 1:"));
            Assert.Equal([7.0, 9, 6, 1], After(output, "rank 2:"));
        }),
        ("src/Optim.CSharp/README.md", "new Adam(", output => AllBelow(After(output, "w = "), 0.05, "Adam after 200 steps")),
        ("src/Optim.CSharp/README.md", "new LBFGS(", output => AllBelow(After(output, "x = ").Select(x => x - 1).ToArray(), 1e-3, "LBFGS on Rosenbrock's function")),
        ("src/Optim.NN/README.md", "FashionMnist.Load", output =>
        {
            Assert.True(After(output, "test accuracy")[0] >= 0.7, output);
            Assert.Contains("graph recorded: False", output);
        }),
        ("src/Optim.NN/README.md", "accumulationSteps", output =>
        {
            Assert.Equal(2.0, After(output, "weight")[0], 1);
            Assert.Equal(1.0, After(output, "bias")[0], 1);
        }),
        ("src/Optim.NN/README.md", "w.Grad", output => Assert.Equal([2.0, -4.0], After(output, "w.Grad = "))),
        ("docs/custom-optimizers.md", "let quantize", output =>
        {
            var f = After(output, "f:");
            Assert.True(f[0] == 14 && f[1] < 0.01 * 14 && f[2] == 200, output);
            Assert.Contains("Lion's momentum is kept as exp_avg: true", output);
            Assert.Contains("rounded: [|[|-3.0f; 0.5f; 2.0f|]; null|]", output);
        }),
        ("docs/custom-optimizers.md", "new ComposedOptimizer([w], lamb)", output =>
        {
            var f = After(output, "f(w) = ");
            Assert.True(f[0] < 0.01 * 14, output);
            Assert.Equal(0.05 * 0.25, f[1], 12);
            Assert.Contains("Adam's state is kept: True", output);
            Assert.Contains("chain(clipByValue, adamw)", output);
        }),
        ("docs/custom-optimizers.md", "class Lamb : Optimizer", output =>
        {
            var f = After(output, "f(w) = ");
            Assert.True(f[0] < 0.01 * 14, output);
            Assert.Equal(0.05 * 0.25, f[1], 12);
            Assert.Contains("an Adam's state dict is refused:", output);
            Assert.Contains("resumed with the same state: True", output);
        }),
        ("docs/custom-optimizers.md", "RegisterStepPreHook", output =>
        {
            var f = After(output, "f(w) = ");
            Assert.True(f[0] < 0.01 * 14 && f[1] == 200, output);
            Assert.Equal([0.05], After(output, "lr after loading:"));
        }),
        ("docs/schedulers.md", "Schedule.step 0.1 50L 0.1", output =>
        {
            var lrs = After(output, "StepLR at epoch 100:");
            Assert.Equal(0.001, lrs[0], 12);
            Assert.Equal(0.01, lrs[1], 12);   // then the 0 of "step 0"
            Assert.Equal(0.1, lrs[3], 12);
            var ps = After(output, "after 100 steps:");
            AllBelow(ps[..2], 0.05, "SGD under the schedule");
            Assert.Equal(100, ps[2]);
            AllBelow(After(output, "through the chain:"), 0.05, "the chain under the schedule");
            Assert.Equal([0.1, 1], After(output, "plateau: lr"));
        }),
        ("docs/schedulers.md", "sealed class Warmup : IStatefulLrLambda", output =>
            Assert.Equal(["[{\"epochs\":10}]", "10"], output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))),
        ("docs/schedulers.md", "new StepLR(optimizer, stepSize: 50", output =>
        {
            var last = After(output, "last lr");
            Assert.Equal(1e-5, last[0], 12);
            Assert.True(Math.Abs(last[1]) < 1e-3, output);
            Assert.Equal([0, 1], After(output, "epochs: warmup"));
            Assert.Contains("resumed: True", output);
        }),
        ("docs/checkpoints.md", "checkpoint.Save(\"checkpoint.pt\")", output =>
        {
            Assert.Equal([3, 0.025], After(output, "resumed at epoch"));   // 0.1 · 0.5² after 4 epochs of StepLR(2, 0.5)
            Assert.Contains("resumed with the same state: True", output);
        }),
        ("docs/checkpoints.md", "checkpoint.Save \"checkpoint-fs.pt\"", output => Assert.Contains("F#: resumed at epoch 3 with the same state: true", output)),
        ("docs/checkpoints.md", "Transformation.ApplyIfFinite", output => Assert.Contains("skipped a NaN step: True", output)),
        ("docs/checkpoints.md", "file.SetModel(model)", output =>
        {
            Assert.Contains("model keys: 0.weight, 0.bias, 1.weight, 1.bias, 1.running_mean, 1.running_var, 1.num_batches_tracked, 5.weight, 5.bias", output);
            Assert.Contains("same weights: True", output);
        }),
        ("docs/checkpoints.md", "pytorch/model.pt", output =>
        {
            Assert.Contains("0.weight: float32 [3, 4]", output);
            Assert.Contains("1.num_batches_tracked: int64 []", output);
            Assert.Contains("Adam resumed from PyTorch after 10 steps: True", output);
            Assert.Contains("saved for PyTorch: w, b", output);
        }),
        ("docs/swa.md", "SwaUtils.UpdateBn(loader, swaModel)", output =>
        {
            var r = After(output, "averaged");
            Assert.Equal(4, r[0]);       // epochs 6 to 9, after swaStart = 5
            Assert.True(r[1] >= 0.8, output);
        }),
        ("docs/swa.md", "GetEmaMultiAvgFn(0.9)", output =>
        {
            var r = After(output, "EMA of");
            Assert.Equal(320, r[0]);     // 40 epochs of 8 batches
            Assert.True(r[1] < 0.05, output);
        }),
        ("docs/swa.md", "factory: () => new Stack", output =>
        {
            Assert.Contains("refused: Stack cannot be deep-copied", output);
            Assert.Contains("built by the factory: n_averaged, module.0.weight, module.0.bias, module.1.weight", output);
        }),
        ("docs/verification.md", "class MySgd : Optimizer", output =>
        {
            Assert.Contains("MySgd obeys every law", output);
            Assert.Contains("the bug fails 'equals its reference'", output);
            Assert.Contains("expected", output);
            Assert.Contains("parameters (", output);
        }),
        ("docs/verification.md", "new HyperparameterSpace()", output => Assert.Contains("SGD obeys every law over the space", output)),
        ("docs/verification.md", "new StepLR(o, stepSize: 10, gamma: 0.5)", output => Assert.Contains("StepLR equals its closed form", output)),
        ("docs/verification.md", "let mySgd", output =>
        {
            Assert.Contains("Law 'composition equals the built-in' held for my SGD on 50 case(s).", output);
            Assert.DoesNotContain("failed", output);
        }),
        ("docs/verification.md", "let signDescent", output =>
        {
            Assert.Contains("caught after", output);
            Assert.Contains("Decay = 0.01", output);
        }),
        ("docs/verification.md", "LawTests.optimizer", output => Assert.True(After(output, "")[0] >= 10, output)),
    ];

    /// <summary>The C# blocks, by place.</summary>
    public static TheoryData<string> CSharp() => new(DocBlocks.All.Where(b => b.Language == "csharp").Select(b => b.ToString()));

    /// <summary>The F# blocks, by place.</summary>
    public static TheoryData<string> FSharp() => new(DocBlocks.All.Where(b => b.Language == "fsharp").Select(b => b.ToString()));

    private void Check(DocBlock block, BlockRun run)
    {
        log.WriteLine(run.Output);
        Assert.True(run.ExitCode == 0, $"{block} exited with {run.ExitCode}:\n{run.Errors}\n{run.Output}");
        foreach (var e in Expectations.Where(e => e.File == block.File && block.Code.Contains(e.Code)))
            e.Check(run.Output);
    }

    [Theory]
    [MemberData(nameof(CSharp))]
    public void A_CSharp_block_compiles_as_a_console_program_without_warnings_and_runs(string id)
    {
        var block = DocBlocks.Get(id);
        var problems = runner.CompileCSharp(block, out var assembly);
        Assert.True(problems.Count == 0 && assembly is not null, string.Join("\n", problems));
        if (!block.Fragment) Check(block, runner.RunCSharp(assembly));
    }

    [Theory]
    [MemberData(nameof(FSharp))]
    public void An_FSharp_block_runs_as_a_script_without_warnings(string id)
    {
        var block = DocBlocks.Get(id);
        Assert.False(block.Fragment, $"{block}: an F# block is run as a script, so it must be whole (fsi cannot compile without running).");
        Check(block, runner.RunFSharp(block));
    }

    [Fact]
    public void Every_expectation_names_exactly_one_block()
    {
        foreach (var (file, code, _) in Expectations)
            Assert.True(DocBlocks.All.Count(b => b.File == file && b.Code.Contains(code)) == 1, $"{file}: '{code}' is not in exactly one block.");
    }

    [Fact]
    public void The_docs_have_CSharp_and_FSharp_blocks_in_every_file_that_should()
    {
        var files = DocBlocks.All.Select(b => b.File).ToHashSet();
        foreach (var f in new[] { "README.md", "src/Optim.Core/README.md", "src/Optim.CSharp/README.md", "src/Optim.NN/README.md",
                                  "docs/custom-optimizers.md", "docs/schedulers.md" })
            Assert.Contains(f, files);
    }
}
