using System.Buffers.Binary;
using System.IO.Compression;

namespace Optim.NN;

/// <summary>
/// Reads the IDX files of MNIST and Fashion-MNIST (unsigned-byte data, big-endian header), gzip-compressed or
/// plain: gzip is recognised by its magic bytes, whatever the file's name.
/// </summary>
public static class Idx
{
    private const int ImagesMagic = 0x0803, LabelsMagic = 0x0801;

    /// <summary>Reads an image file (magic 0x00000803: count × rows × columns bytes) as pixel/255.</summary>
    /// <param name="path">The file.</param>
    /// <returns>Shape <c>[count, rows·columns]</c>, values in [0, 1].</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not an IDX image file (wrong magic number), or is truncated or too long.</exception>
    public static Tensor ReadImages(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var file = File.OpenRead(path);
        return ReadImages(file, path);
    }

    /// <summary>Reads an image file from a stream, as <see cref="ReadImages(string)"/> reads one from disk.</summary>
    /// <param name="stream">The file's bytes, gzip-compressed or plain; read to its end, not disposed.</param>
    /// <param name="name">What error messages call the stream (a file or resource name).</param>
    /// <returns>Shape <c>[count, rows·columns]</c>, values in [0, 1].</returns>
    /// <exception cref="InvalidDataException">The stream is not an IDX image file (wrong magic number), or is truncated or too long.</exception>
    public static Tensor ReadImages(Stream stream, string name = "the stream") => ReadImageFile(stream, name).Images;

    /// <summary>An image file's images, as <see cref="ReadImages(Stream, string)"/> reads them, and their rows and columns.</summary>
    internal static (Tensor Images, int Rows, int Columns) ReadImageFile(Stream stream, string name)
    {
        var (dims, bytes) = Read(stream, name, ImagesMagic, 3);
        var pixels = GC.AllocateUninitializedArray<float>(bytes.Length);
        for (int i = 0; i < bytes.Length; i++) pixels[i] = bytes[i] / 255f;
        return (new Tensor(pixels, dims[0], dims[1] * dims[2]), dims[1], dims[2]);
    }

    /// <summary>The bytes before a label file's labels: the magic number and the count.</summary>
    internal const int LabelsHeaderSize = 8;

    /// <summary>Reads a label file (magic 0x00000801: count bytes).</summary>
    /// <param name="path">The file.</param>
    /// <returns>One label per sample.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not an IDX label file (wrong magic number), or is truncated or too long.</exception>
    public static byte[] ReadLabels(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var file = File.OpenRead(path);
        return ReadLabels(file, path);
    }

    /// <summary>Reads a label file from a stream, as <see cref="ReadLabels(string)"/> reads one from disk.</summary>
    /// <param name="stream">The file's bytes, gzip-compressed or plain; read to its end, not disposed.</param>
    /// <param name="name">What error messages call the stream (a file or resource name).</param>
    /// <returns>One label per sample.</returns>
    /// <exception cref="InvalidDataException">The stream is not an IDX label file (wrong magic number), or is truncated or too long.</exception>
    public static byte[] ReadLabels(Stream stream, string name = "the stream") => Read(stream, name, LabelsMagic, 1).Bytes;

    private static (int[] Dims, byte[] Bytes) Read(Stream source, string path, int magic, int rank)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(path);
        // gzip is told by its first two bytes, read and then rewound (a stream that cannot seek is read into memory first)
        using var copy = source.CanSeek ? null : new MemoryStream();
        if (copy is not null) { source.CopyTo(copy); copy.Position = 0; }
        var input = copy ?? source;
        long start = input.Position;
        int b0 = input.ReadByte(), b1 = input.ReadByte();
        input.Position = start;
        using var gzip = b0 == 0x1f && b1 == 0x8b ? new GZipStream(input, CompressionMode.Decompress, leaveOpen: true) : null;
        Stream stream = gzip ?? input;
        var header = new byte[4 + 4 * rank];
        int got = ReadFully(stream, header);
        if (got < 4)
            throw new InvalidDataException($"'{path}' is not an IDX file: it holds {got} bytes, fewer than the 4-byte magic number.");
        int found = BinaryPrimitives.ReadInt32BigEndian(header);
        if (found != magic)
            throw new InvalidDataException(
                $"'{path}' has magic number 0x{found:X8}, but an IDX {(rank == 3 ? "image" : "label")} file starts with 0x{magic:X8}.");
        if (got < header.Length)
            throw new InvalidDataException($"'{path}' is truncated: its header needs {header.Length} bytes, but the file ends after {got}.");
        var dims = new int[rank];
        long count = 1;
        for (int d = 0; d < rank; d++)
        {
            dims[d] = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4 + 4 * d));
            if (dims[d] < 0) throw new InvalidDataException($"'{path}' declares a negative extent {dims[d]} in dimension {d}.");
            count *= dims[d];
        }
        if (count > Array.MaxLength) throw new InvalidDataException($"'{path}' declares {count} bytes of data, more than an array holds.");
        // a sample's extents (an image's rows × columns) must fit one tensor row too, even when there are no samples
        long sample = 1;
        for (int d = 1; d < rank; d++) sample *= dims[d];
        if (sample > Array.MaxLength)
            throw new InvalidDataException($"'{path}' declares samples of [{string.Join(", ", dims[1..])}] = {sample} values, more than a tensor row holds.");
        // what a plain file holds is known: a header that declares more is refused before anything is allocated
        if (gzip is null && input.CanSeek && input.Length - input.Position < count)
            throw new InvalidDataException(
                $"'{path}' is truncated: its header declares [{string.Join(", ", dims)}] = {count} bytes of data, but only {input.Length - input.Position} follow.");
        // a compressed one is read in growing pieces, so that a short stream declaring gigabytes allocates what it holds
        var bytes = new byte[Math.Min(count, 1 << 24)];
        got = ReadFully(stream, bytes);
        while (got == bytes.Length && bytes.Length < count)
        {
            int before = bytes.Length;
            Array.Resize(ref bytes, (int)Math.Min(count, 2L * before));
            got = before + ReadFully(stream, bytes.AsSpan(before));
        }
        if (got < count)
            throw new InvalidDataException($"'{path}' is truncated: its header declares [{string.Join(", ", dims)}] = {count} bytes of data, but only {got} follow.");
        if (stream.ReadByte() >= 0)
            throw new InvalidDataException($"'{path}' is longer than its header declares ([{string.Join(", ", dims)}] = {count} bytes of data).");
        return (dims, bytes);
    }

    /// <summary>Reads until the buffer is full or the stream ends; returns the bytes read.</summary>
    internal static int ReadFully(Stream stream, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = stream.Read(buffer[total..]);
            if (n == 0) break;
            total += n;
        }
        return total;
    }
}
