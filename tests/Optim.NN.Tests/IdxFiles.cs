using System.Buffers.Binary;
using System.IO.Compression;

namespace Optim.NN.Tests;

/// <summary>Writes IDX files (gzip or plain) for the tests.</summary>
public static class IdxFiles
{
    public static byte[] Idx(int magic, int[] dims, byte[] data)
    {
        var bytes = new byte[4 + 4 * dims.Length + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        for (int d = 0; d < dims.Length; d++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * d), dims[d]);
        data.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    public static string Write(string dir, string name, byte[] bytes, bool gzip)
    {
        var path = Path.Combine(dir, name);
        if (!gzip) File.WriteAllBytes(path, bytes);
        else
        {
            using var file = File.Create(path);
            using var z = new GZipStream(file, CompressionLevel.Fastest);
            z.Write(bytes);
        }
        return path;
    }

    /// <summary>
    /// A small stand-in for Fashion-MNIST in <paramref name="dir"/>: 28×28 images whose class is which of ten
    /// horizontal bands is bright, with noise; 300 training and 100 test images.
    /// </summary>
    public static string TinyFashionMnist(string dir)
    {
        var r = new Random(11);
        void Split(string prefix, int n)
        {
            var labels = new byte[n];
            var pixels = new byte[n * 784];
            for (int i = 0; i < n; i++)
            {
                labels[i] = (byte)r.Next(10);
                for (int p = 0; p < 784; p++)
                {
                    bool band = p / 28 >= 2 + 2 * labels[i] && p / 28 < 4 + 2 * labels[i];
                    pixels[i * 784 + p] = (byte)Math.Min(255, (band ? 150 : 0) + r.Next(100));
                }
            }
            Write(dir, $"{prefix}-images-idx3-ubyte.gz", Idx(0x803, [n, 28, 28], pixels), gzip: true);
            Write(dir, $"{prefix}-labels-idx1-ubyte.gz", Idx(0x801, [n], labels), gzip: true);
        }
        Split("train", 300);
        Split("t10k", 100);
        return dir;
    }
}
