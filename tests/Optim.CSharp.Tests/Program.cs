using Optim.CSharp;

namespace Optim.CSharp.Tests;

/// <summary>
/// The test assembly's entry point, for the child process of <see cref="CheckpointKillTests"/>:
/// <c>dotnet Optim.CSharp.Tests.dll save-loop PATH MEGABYTES</c> saves checkpoint versions 1, 2, 3, … to PATH
/// until it is killed, printing a line after each save. Version v holds a float32 tensor of MEGABYTES MB filled with v, and the entry "version" = v.
/// The test runner does not call it.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args is not ["save-loop", var path, var megabytes]) return 2;
        int n = int.Parse(megabytes, System.Globalization.CultureInfo.InvariantCulture) * (1 << 18);
        var data = new float[n];
        for (long v = 1; ; v++)
        {
            Array.Fill(data, v);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            CheckpointKillTests.Version(data, v).Save(path);
            // the first save has compiled everything: from here on the child is in a save most of the time
            Console.Out.WriteLine($"saved {v} in {clock.Elapsed.TotalMilliseconds:F0} ms");
            Console.Out.Flush();
        }
    }
}
