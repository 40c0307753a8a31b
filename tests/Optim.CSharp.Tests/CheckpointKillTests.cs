using System.Diagnostics;
using Xunit.Abstractions;

namespace Optim.CSharp.Tests;

/// <summary>
/// A checkpoint survives a kill at any moment of a save: a child process saves multi-MB versions in a loop and is
/// killed (SIGKILL) at random moments; after each kill the file there loads and is one complete version.
/// </summary>
public sealed class CheckpointKillTests(ITestOutputHelper log)
{
    private const int Kills = 50, Megabytes = 2;

    /// <summary>Version <paramref name="v"/> of the child's checkpoint.</summary>
    public static CheckpointFile Version(float[] data, long v)
    {
        var c = new CheckpointFile();
        c.Model["w"] = new TensorData(data);
        c.Set("version", v);
        return c;
    }

    private static void CheckComplete(string path, int kill, ISet<long> seen)
    {
        var c = CheckpointFile.Load(path);
        long v = c.GetInt64("version");
        var w = c.Model["w"].ToFloat32();
        Assert.Equal(Megabytes * (1 << 18), w.Length);
        Assert.True(Array.TrueForAll(w, x => x == v), $"kill {kill}: version {v}'s tensor holds other values");
        seen.Add(v);
    }

    [Fact]
    public async Task AKillAtAnyMomentOfASaveLeavesTheOldOrTheNewCompleteFile()
    {
        var dir = Directory.CreateTempSubdirectory("optim-kill-").FullName;
        try
        {
            var path = Path.Combine(dir, "checkpoint.pt");
            Version(new float[Megabytes * (1 << 18)], 0).Save(path);
            var assembly = typeof(Program).Assembly.Location;
            var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";
            var random = new Random(11);
            var seen = new HashSet<long>();
            int tornTemps = 0;
            var clock = Stopwatch.StartNew();
            for (int kill = 0; kill < Kills; kill++)
            {
                var psi = new ProcessStartInfo(host, [assembly, "save-loop", path, Megabytes.ToString(System.Globalization.CultureInfo.InvariantCulture)])
                {
                    RedirectStandardOutput = true, UseShellExecute = false,
                };
                using var child = Process.Start(psi)!;
                var first = await child.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
                Assert.True(first?.StartsWith("saved 1 ", StringComparison.Ordinal) == true, $"kill {kill}: the child did not start");
                if (kill == 0) log.WriteLine("the child's first save: " + first);
                await Task.Delay(random.Next(0, 250));
                child.Kill();
                child.WaitForExit();
                CheckComplete(path, kill, seen);
                // a kill during a write leaves its temporary file, never a torn checkpoint
                foreach (var temp in Directory.GetFiles(dir, ".checkpoint.pt.*.tmp")) { tornTemps++; File.Delete(temp); }
            }
            log.WriteLine($"{Kills} kills in {clock.Elapsed.TotalSeconds:F1} s; {seen.Count} distinct versions found complete " +
                          $"(up to {seen.Max()}); {tornTemps} kills landed inside a write (a temporary file was left behind)");
            Assert.True(tornTemps >= 20, $"only {tornTemps} of {Kills} kills landed inside a write; the test did not test much");
            Assert.True(seen.Count >= 5, $"only {seen.Count} distinct versions were seen");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void ASaveThatFailsLeavesTheOldFileAndNoTemporaryFile()
    {
        var dir = Directory.CreateTempSubdirectory("optim-atomic-").FullName;
        try
        {
            var path = Path.Combine(dir, "c.pt");
            Version([1, 2, 3], 7).Save(path);
            var before = File.ReadAllBytes(path);
            Assert.Throws<IOException>(() => AtomicFile.Write(path, s => { s.Write(new byte[1000]); throw new IOException("disk full"); }));
            Assert.Equal(before, File.ReadAllBytes(path));
            Assert.Equal([path], Directory.GetFiles(dir));
            Assert.Equal(7, CheckpointFile.Load(path).GetInt64("version"));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
