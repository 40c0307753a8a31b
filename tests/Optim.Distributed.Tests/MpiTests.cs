using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Optim.Distributed.Tests;

/// <summary>A test that needs OpenMPI's mpirun; skipped where it is not installed.</summary>
public sealed class MpiFactAttribute : FactAttribute
{
    public MpiFactAttribute()
    {
        if (MpiTests.Mpirun is null) Skip = "mpirun is not installed (Debian: apt-get install openmpi-bin)";
    }
}

/// <summary>
/// The collective tests and a DDP law on real MPI, and the faults: samples/Optim.Distributed.MpiCheck under
/// <c>mpirun -np 2</c> and <c>-np 4</c>.
/// </summary>
public class MpiTests
{
    public static readonly string? Mpirun = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
        .Select(d => Path.Combine(d, "mpirun")).FirstOrDefault(File.Exists);

    private static string Program(string name = "Optim.Distributed.MpiCheck", [CallerFilePath] string here = "")
    {
        // bin/<Configuration>/<framework>/ of this test project: the program is built with the same ones
        var framework = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
        var configuration = framework.Parent!.Name;
        return Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", "samples", name,
            "bin", configuration, framework.Name, name + ".dll"));
    }

    private static (int Code, string Output, TimeSpan Took) Run(int ranks, params string[] args) => RunProgram(Program(), ranks, args);

    private static (int Code, string Output, TimeSpan Took) RunProgram(string program, int ranks, params string[] args)
    {
        var psi = new ProcessStartInfo(Mpirun!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--allow-run-as-root", "--oversubscribe", "-x", "TERM=dumb", "-np", ranks.ToString(), "dotnet", program }.Concat(args))
            psi.ArgumentList.Add(a);
        var watch = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            p.Kill(entireProcessTree: true);
            throw new Xunit.Sdk.XunitException($"mpirun -np {ranks} {string.Join(" ", args)} did not end within 60 s");
        }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr.Result, watch.Elapsed);
    }

    [MpiFact]
    public void TheCollectivesAndDdpHoldOnTwoRanks() => Passes(2);

    [MpiFact]
    public void TheCollectivesAndDdpHoldOnFourRanks() => Passes(4);

    private static void Passes(int ranks)
    {
        var (code, output, _) = Run(ranks);
        Assert.True(code == 0, output);
        for (int r = 0; r < ranks; r++) Assert.Contains($"rank {r} of {ranks}: 9 passed, 0 failed", output);
    }

    [MpiFact]
    public void TheReadmesDataParallelDemoEqualsOneProcessBitForBit()
    {
        var (code, output, _) = RunProgram(Program("Optim.Distributed.Demo"), 2, "--steps", "20");
        Assert.True(code == 0, output);
        Assert.Contains("20 steps of 64 images", output);
        Assert.Contains("the replicas equal: True", output);
        Assert.Contains("within 1e-5 + 1e-4·|x|: True", output);
        Assert.Contains("the parameters equal bit for bit: True", output);
    }

    [MpiFact]
    public void ARankThatThrowsEndsTheJobWithinSeconds()
    {
        var (code, output, took) = Run(2, "fault");
        Assert.NotEqual(0, code);
        Assert.Contains("Rank 1: unhandled InvalidOperationException: rank 1 fails on purpose", output);
        Assert.DoesNotContain("the all-reduce returned", output);
        Assert.True(took < TimeSpan.FromSeconds(30), $"took {took}");
    }

    [MpiFact]
    public void AKilledRankEndsTheJobWithinSeconds()
    {
        var (code, output, took) = Run(2, "fault", "kill");
        Assert.NotEqual(0, code);
        Assert.Contains("exited on signal 9", output);
        Assert.DoesNotContain("the all-reduce returned", output);
        Assert.True(took < TimeSpan.FromSeconds(30), $"took {took}");
    }
}
