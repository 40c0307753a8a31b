using System.Buffers.Binary;
using System.IO.Compression;

namespace Optim.NN.Tests;

/// <summary>
/// Seeded fuzzing of the data readers: 10,000 mutations each of small valid IDX and CIFAR-10 files (flipped bytes,
/// header extents set to edge values, truncations, appended bytes; IDX plain and gzipped). Each is rejected with
/// <see cref="InvalidDataException"/>, or read with exactly the values its bytes give; nothing else escapes.
/// </summary>
public class DataFuzzTests
{
    private const int Mutations = 10_000;

    private static byte[] IdxImages(int n, int rows, int cols, Random rng)
    {
        var bytes = new byte[16 + n * rows * cols];
        BinaryPrimitives.WriteInt32BigEndian(bytes, 0x00000803);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), n);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(12), cols);
        rng.NextBytes(bytes.AsSpan(16));
        return bytes;
    }

    private static readonly int[] EdgeExtents = [0, 1, 2, 3, -1, int.MaxValue, int.MinValue, 50000, 65536, 1 << 20];

    private static byte[] Mutate(byte[] valid, Random rng, int headerLength)
    {
        var b = (byte[])valid.Clone();
        switch (rng.Next(5))
        {
            case 0:
                b[rng.Next(b.Length)] ^= (byte)(1 << rng.Next(8));
                return b;
            case 1:
                if (headerLength > 4)
                {
                    int field = 4 + 4 * rng.Next((headerLength - 4) / 4);
                    BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(field), EdgeExtents[rng.Next(EdgeExtents.Length)]);
                    return b;
                }
                goto case 0;
            case 2:
                return b[..rng.Next(b.Length)];
            case 3:
                return [.. b, .. new byte[rng.Next(1, 40)]];
            default:
                b[rng.Next(Math.Min(headerLength, b.Length))] = (byte)rng.Next(256);
                return b;
        }
    }

    private static byte[] Gzip(byte[] raw)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(raw);
        return ms.ToArray();
    }

    /// <summary>What an IDX image file's bytes say, read by the format's definition, or null when they do not make one.</summary>
    private static (int N, int Rows, int Cols, byte[] Pixels)? Reference(byte[] b)
    {
        if (b.Length < 16 || BinaryPrimitives.ReadInt32BigEndian(b) != 0x803) return null;
        int n = BinaryPrimitives.ReadInt32BigEndian(b.AsSpan(4)), r = BinaryPrimitives.ReadInt32BigEndian(b.AsSpan(8)),
            c = BinaryPrimitives.ReadInt32BigEndian(b.AsSpan(12));
        if (n < 0 || r < 0 || c < 0) return null;
        long count = (long)n * r * c;
        if (count != b.Length - 16 || (long)r * c > Array.MaxLength) return null;
        return (n, r, c, b[16..]);
    }

    [Fact]
    public void Mutated_IDX_image_files_are_rejected_or_read_as_their_bytes_say()
    {
        var rng = new Random(1202);
        var valid = IdxImages(3, 4, 5, rng);
        int rejected = 0, accepted = 0;
        for (int i = 0; i < Mutations; i++)
        {
            var raw = Mutate(valid, rng, 16);
            bool gzip = i % 4 == 3;
            var input = gzip ? Gzip(raw) : raw;
            var expected = Reference(raw);
            try
            {
                var images = Idx.ReadImages(new MemoryStream(input), $"mutation {i}");
                accepted++;
                Assert.True(expected is not null, $"mutation {i} was accepted, but its bytes make no IDX image file");
                var (n, r, c, pixels) = expected!.Value;
                Assert.Equal(new[] { n, r * c }, images.Shape);
                for (int k = 0; k < pixels.Length; k++) Assert.Equal(pixels[k] / 255f, images.Data[k]);
            }
            catch (InvalidDataException)
            {
                rejected++;
                Assert.True(expected is null, $"mutation {i} makes a valid file, but it was rejected");
            }
        }
        Assert.True(rejected > 1000 && accepted > 1000, $"{rejected} rejected, {accepted} accepted");
    }

    [Fact]
    public void Mutated_IDX_label_files_are_rejected_or_read_as_their_bytes_say()
    {
        var rng = new Random(1203);
        var valid = new byte[8 + 12];
        BinaryPrimitives.WriteInt32BigEndian(valid, 0x00000801);
        BinaryPrimitives.WriteInt32BigEndian(valid.AsSpan(4), 12);
        for (int k = 0; k < 12; k++) valid[8 + k] = (byte)rng.Next(10);
        int rejected = 0, accepted = 0;
        for (int i = 0; i < Mutations; i++)
        {
            var raw = Mutate(valid, rng, 8);
            bool ok = raw.Length >= 8 && BinaryPrimitives.ReadInt32BigEndian(raw) == 0x801
                      && BinaryPrimitives.ReadInt32BigEndian(raw.AsSpan(4)) == raw.Length - 8;
            try
            {
                var labels = Idx.ReadLabels(new MemoryStream(raw), $"mutation {i}");
                accepted++;
                Assert.True(ok, $"mutation {i} was accepted, but its bytes make no IDX label file");
                Assert.Equal(raw[8..], labels);
            }
            catch (InvalidDataException)
            {
                rejected++;
                Assert.False(ok, $"mutation {i} makes a valid label file, but it was rejected");
            }
        }
        Assert.True(rejected > 1000 && accepted > 1000, $"{rejected} rejected, {accepted} accepted");
    }

    [Fact]
    public void Mutated_CIFAR_10_batches_are_rejected_or_read_as_their_bytes_say()
    {
        var rng = new Random(1204);
        const int record = 3073;
        byte[] Batch(int records)
        {
            var b = new byte[records * record];
            rng.NextBytes(b);
            for (int r = 0; r < records; r++) b[r * record] = (byte)rng.Next(10);
            return b;
        }
        var files = new Dictionary<string, byte[]>();
        for (int k = 1; k <= 5; k++) files[$"data_batch_{k}.bin"] = Batch(1);
        files["test_batch.bin"] = Batch(2);
        int rejected = 0, accepted = 0;
        for (int i = 0; i < Mutations; i++)
        {
            string target = files.Keys.ElementAt(rng.Next(files.Count));
            var mutated = Mutate(files[target], rng, 1);
            var set = new Dictionary<string, byte[]>(files) { [target] = mutated };
            bool ok = set.Values.All(b => b.Length > 0 && b.Length % record == 0 && Enumerable.Range(0, b.Length / record).All(r => b[r * record] <= 9));
            try
            {
                var data = Cifar10.Load(name => new MemoryStream(set.TryGetValue(name, out var b) ? b : throw new FileNotFoundException(name)));
                accepted++;
                Assert.True(ok, $"mutation {i} of {target} was accepted, but it makes no CIFAR-10 batch");
                var test = set["test_batch.bin"];
                int n = test.Length / record;
                Assert.Equal(new[] { n, 3, 32, 32 }, data.TestImages.Shape);
                for (int r = 0; r < n; r++)
                {
                    Assert.Equal(test[r * record], data.TestLabels[r]);
                    for (int p = 0; p < 3072; p += 97) Assert.Equal(test[r * record + 1 + p] / 255f, data.TestImages.Data[r * 3072 + p]);
                }
            }
            catch (InvalidDataException)
            {
                rejected++;
                Assert.False(ok, $"mutation {i} of {target} makes valid batches, but it was rejected");
            }
        }
        Assert.True(rejected > 1000 && accepted > 1000, $"{rejected} rejected, {accepted} accepted");
    }
}
