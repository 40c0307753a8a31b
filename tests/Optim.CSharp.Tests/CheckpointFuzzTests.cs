using System.Diagnostics;
using Xunit.Abstractions;

namespace Optim.CSharp.Tests;

/// <summary>
/// The .pt reader under seeded mutation of valid files (Optim's own and PyTorch's): every outcome is a
/// <see cref="CheckpointFileException"/>, or a load whose content re-saves and re-loads to the same content and whose
/// optimizer state either loads into an optimizer or is refused leaving it exactly as it was; a mutation of the zip
/// layer that is accepted loads exactly the original content. No other exception, no hang.
/// </summary>
public sealed class CheckpointFuzzTests(ITestOutputHelper log)
{
    private const int Mutations = 12_000;

    private static readonly string[] Kinds =
    [
        "file byte flip", "file truncation", "file inserted bytes", "zip header field", "swapped entries",
        "pickle byte flip", "pickle truncation", "pickle inserted bytes", "pickle integer (size, shape, offset, count)",
    ];

    private static readonly long[] Interesting = [0, 1, 2, 3, 4, 7, 8, 63, 64, 255, 256, 65535, int.MaxValue, -1, -2, int.MinValue, 1L << 31, long.MaxValue, long.MinValue];

    private static List<(string Name, byte[] Data)> Entries(byte[] file) =>
        TorchZip.Read(file).Select(kv => (kv.Key, kv.Value.ToArray())).ToList();

    private static byte[] Zip(IEnumerable<(string Name, byte[] Data)> entries)
    {
        var s = new MemoryStream();
        TorchZip.Write(s, entries.Select(e => (e.Name, (TorchZip.Bytes)(() => e.Data))).ToList());
        return s.ToArray();
    }

    private static byte[] WithPickle(byte[] file, Func<byte[], byte[]> mutate) =>
        Zip(Entries(file).Select(e => e.Name.EndsWith("/data.pkl", StringComparison.Ordinal) ? (e.Name, mutate(e.Data)) : e));

    private static byte[] Flip(byte[] b, Random r)
    {
        var m = (byte[])b.Clone();
        for (int k = r.Next(1, 4); k > 0; k--) m[r.Next(m.Length)] ^= (byte)(1 << r.Next(8));
        return m;
    }

    private static byte[] Insert(byte[] b, Random r)
    {
        var extra = new byte[r.Next(1, 17)];
        r.NextBytes(extra);
        int at = r.Next(b.Length + 1);
        return [.. b.AsSpan(0, at), .. extra, .. b.AsSpan(at)];
    }

    /// <summary>Overwrites the operand of a BININT1, BININT2, BININT or LONG1 opcode-looking byte with an interesting value.</summary>
    private static byte[] Integer(byte[] p, Random r)
    {
        var m = (byte[])p.Clone();
        var sites = Enumerable.Range(0, p.Length - 1).Where(i => p[i] is (byte)'K' or (byte)'M' or (byte)'J' or 0x8a).ToList();
        if (sites.Count == 0) return Flip(p, r);
        int at = sites[r.Next(sites.Count)];
        long v = Interesting[r.Next(Interesting.Length)];
        int width = p[at] switch { (byte)'K' => 1, (byte)'M' => 2, (byte)'J' => 4, _ => Math.Min(8, (int)p[at + 1]) };
        int start = p[at] == 0x8a ? at + 2 : at + 1;
        for (int k = 0; k < width && start + k < m.Length; k++) m[start + k] = (byte)(v >> (8 * k));
        return m;
    }

    private static byte[] HeaderField(byte[] file, Random r)
    {
        var m = (byte[])file.Clone();
        int end = m.Length - 22, cd = BitConverter.ToInt32(m, end + 16);
        // a field of the end record or of a central-directory entry, 2 or 4 bytes wide
        int at = r.Next(2) == 0 ? end + 2 * r.Next(11) : cd + 2 * r.Next(Math.Max(1, (end - cd) / 2));
        long v = Interesting[r.Next(Interesting.Length)];
        int width = r.Next(2) == 0 ? 2 : 4;
        for (int k = 0; k < width && at + k < m.Length; k++) m[at + k] = (byte)(v >> (8 * k));
        return m;
    }

    private static byte[] Swap(byte[] file, Random r)
    {
        var e = Entries(file);
        int i = r.Next(e.Count), j = r.Next(e.Count);
        if (r.Next(2) == 0) (e[i], e[j]) = ((e[i].Name, e[j].Data), (e[j].Name, e[i].Data));
        else (e[i], e[j]) = (e[j], e[i]);
        return Zip(e);
    }

    private static byte[] Mutate(int kind, byte[] file, Random r) => kind switch
    {
        0 => Flip(file, r),
        1 => file[..r.Next(file.Length)],
        2 => Insert(file, r),
        3 => HeaderField(file, r),
        4 => Swap(file, r),
        5 => WithPickle(file, p => Flip(p, r)),
        6 => WithPickle(file, p => p[..r.Next(p.Length)]),
        7 => WithPickle(file, p => Insert(p, r)),
        _ => WithPickle(file, p => Integer(p, r)),
    };

    /// <summary>An Adam over the parameters both the golden files and <see cref="CheckpointFileTests.Sample"/> hold.</summary>
    private static Adam Target() => new([new Parameter(new float[12], 3, 4) { Name = "w" }, new Parameter(new float[3]) { Name = "b" }]);

    [Fact]
    public void MutatedCheckpointFilesAreRejectedWithCheckpointFileExceptionOrReadConsistently()
    {
        var golden = new[] { "adam.pt", "sgd.pt", "model.pt", "views.pt" }
            .Select(f => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "golden", "pt", f)));
        var bases = golden.Prepend(CheckpointFileTests.Sample().ToBytes()).ToArray();
        foreach (var b in bases) Assert.True(CheckpointFile.FromBytes(b).ToBytes().Length > 0);

        var random = new Random(20261202);
        var rejected = new int[Kinds.Length];
        var accepted = new int[Kinds.Length];
        int optimizerLoaded = 0, optimizerRefused = 0;
        double slowest = 0;
        var clock = Stopwatch.StartNew();
        for (int n = 0; n < Mutations; n++)
        {
            int kind = n % Kinds.Length;
            var source = bases[random.Next(bases.Length)];
            var file = Mutate(kind, source, random);
            var one = Stopwatch.StartNew();
            string where = $"mutation {n} ({Kinds[kind]})";
            CheckpointFile loaded;
            try { loaded = CheckpointFile.FromBytes(file); }
            catch (CheckpointFileException) { rejected[kind]++; slowest = Math.Max(slowest, one.Elapsed.TotalMilliseconds); continue; }
            catch (Exception e) { throw new Xunit.Sdk.XunitException($"{where}: {e.GetType().Name} escaped: {e}"); }
            accepted[kind]++;
            try
            {
                // the zip layer's checks (CRCs, offsets, names) leave a file that still loads exactly as it was
                if (kind <= 3)
                    Assert.True(CheckpointFileTests.SameContent(CheckpointFile.FromBytes(source), loaded, out var changed), $"{where}: accepted with another {changed}");
                var again = CheckpointFile.FromBytes(loaded.ToBytes());
                Assert.True(CheckpointFileTests.SameContent(loaded, again, out var why), $"{where}: re-saved, its {why} differs");
                if (loaded.HasOptimizer)
                {
                    var adam = Target();
                    var before = adam.StateDict().ToJson();
                    try
                    {
                        adam.LoadStateDict(loaded.OptimizerStateFor(adam));
                        optimizerLoaded++;
                    }
                    catch (Exception e) when (e is CheckpointFileException or ArgumentException)
                    {
                        optimizerRefused++;
                        Assert.True(before == adam.StateDict().ToJson(), $"{where}: a refused load changed the optimizer");
                    }
                }
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException) { throw new Xunit.Sdk.XunitException($"{where}: after an accepted load, {e.GetType().Name}: {e}"); }
            slowest = Math.Max(slowest, one.Elapsed.TotalMilliseconds);
        }
        for (int k = 0; k < Kinds.Length; k++) log.WriteLine($"{Kinds[k]}: {rejected[k]} rejected, {accepted[k]} accepted");
        log.WriteLine($"{Mutations} mutations in {clock.Elapsed.TotalSeconds:F1} s (slowest {slowest:F0} ms); of the accepted files with optimizer state, {optimizerLoaded} loaded into an Adam, {optimizerRefused} were refused with it unchanged");
        Assert.True(rejected.Sum() > Mutations / 2 && accepted.Sum() > 100, "the mutations should both break files and keep some valid");
    }
}
