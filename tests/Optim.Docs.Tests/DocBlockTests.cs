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
