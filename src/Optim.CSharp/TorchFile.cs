using System.Runtime.InteropServices;
using System.Text;

namespace Optim.CSharp;

/// <summary>
/// PyTorch's <c>.pt</c> file (what <c>torch.save</c> writes since 1.6): a zip of <c>archive/data.pkl</c>, the pickled
/// value, and <c>archive/data/&lt;key&gt;</c>, one raw little-endian storage per tensor, plus <c>archive/version</c>
/// and <c>archive/byteorder</c>. The reader takes any single top-level folder name, as <c>torch.load</c> does.
/// </summary>
internal static class TorchFile
{
    /// <summary>Writes <paramref name="root"/> as a <c>.pt</c> file; each tensor's storage goes to the stream from its own array.</summary>
    public static void Write(Stream output, object? root)
    {
        var storages = new List<TensorData>();
        var pickle = Pickle.Write(root, storages);
        var entries = new List<(string, TorchZip.Bytes)> { ("archive/data.pkl", () => pickle), ("archive/byteorder", () => "little"u8) };
        foreach (var (t, i) in storages.Select((t, i) => (t, i)))
            entries.Add(($"archive/data/{i}", () => t.Raw switch
            {
                float[] f => MemoryMarshal.AsBytes(f.AsSpan()),
                double[] d => MemoryMarshal.AsBytes(d.AsSpan()),
                long[] l => MemoryMarshal.AsBytes(l.AsSpan()),
                _ => throw new InvalidOperationException(),
            }));
        entries.Add(("archive/version", () => "3\n"u8));
        TorchZip.Write(output, entries);
    }

    private static CheckpointFileException Bad(string message) => new("Not a readable .pt file: " + message);

    /// <summary>The pickled value of a <c>.pt</c> file, its tensors read from their storages.</summary>
    public static object? Read(ReadOnlyMemory<byte> file, out long storageElements)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Reading .pt files needs a little-endian machine.");
        var entries = TorchZip.Read(file);
        var pickles = entries.Keys.Where(n => n.EndsWith("/data.pkl", StringComparison.Ordinal) && n.IndexOf('/') == n.Length - 9).ToList();
        if (pickles.Count != 1)
            throw Bad(pickles.Count == 0 ? "no '<folder>/data.pkl' entry." : $"{pickles.Count} data.pkl entries ({string.Join(", ", pickles)}).");
        var prefix = pickles[0][..^8];
        foreach (var name in entries.Keys)
            if (!name.StartsWith(prefix, StringComparison.Ordinal)) throw Bad($"entry '{name}' lies outside the folder '{prefix}'.");
        if (entries.TryGetValue(prefix + "byteorder", out var order) && !order.Span.SequenceEqual("little"u8))
            throw Bad($"'{prefix}byteorder' is '{Encoding.ASCII.GetString(order.Span)}'; only little-endian files are read.");
        if (entries.TryGetValue(prefix + "version", out var version)
            && !(int.TryParse(Encoding.ASCII.GetString(version.Span).Trim(), out var v) && v >= 1 && v <= 9))
            throw Bad($"'{prefix}version' is not a format version this reader knows.");

        long total = 0;
        foreach (var (name, data) in entries)
            if (name.StartsWith(prefix + "data/", StringComparison.Ordinal)) total += data.Length / 4;
        storageElements = total;
        var loaded = new Dictionary<string, Pickle.StorageRef>(StringComparer.Ordinal);
        Pickle.StorageRef Storage(string dtype, string key, long numel, long at)
        {
            if (loaded.TryGetValue(key, out var seen))
            {
                if (seen.DType != dtype || seen.Data.Length != numel)
                    throw new CheckpointFileException($"data.pkl, offset {at}: storage '{key}' is declared as {numel} {dtype} elements here and as {seen.Data.Length} {seen.DType} elements before.");
                return seen;
            }
            if (!entries.TryGetValue(prefix + "data/" + key, out var bytes))
                throw new CheckpointFileException($"data.pkl, offset {at}: storage '{key}' has no entry '{prefix}data/{key}'.");
            int size = dtype == "float32" ? 4 : 8;
            if (numel < 0 || numel * size != bytes.Length)
                throw new CheckpointFileException($"data.pkl, offset {at}: storage '{key}' is declared as {numel} {dtype} elements ({(numel < 0 ? "negative" : (numel * size).ToString(System.Globalization.CultureInfo.InvariantCulture))} bytes), but its entry holds {bytes.Length} bytes.");
            Array data = dtype switch
            {
                "float32" => MemoryMarshal.Cast<byte, float>(bytes.Span).ToArray(),
                "float64" => MemoryMarshal.Cast<byte, double>(bytes.Span).ToArray(),
                _ => MemoryMarshal.Cast<byte, long>(bytes.Span).ToArray(),
            };
            return loaded[key] = new Pickle.StorageRef(dtype, key, data);
        }
        return Pickle.Read(entries[pickles[0]].Span, Storage, 8 * total + (1 << 20));
    }
}
