using System.Buffers.Binary;
using System.Text;

namespace Optim.CSharp;

/// <summary>
/// The zip container of PyTorch's <c>.pt</c> files: stored (uncompressed) entries, each entry's data 64-byte aligned
/// as PyTorch's writer pads it (with an extra field), CRC-32 checked on read. The reader is a bounded parser of the
/// central directory: it checks every declared count, size and offset against the file's length before it reads or
/// allocates, and rejects what PyTorch never writes (compression, encryption, ZIP64 sizes, multi-disk archives).
/// </summary>
internal static class TorchZip
{
    /// <summary>The most entries a file may have without ZIP64, which this reader and writer do not take.</summary>
    public const int MaxEntries = 0xFFFF;

    private const uint LocalSignature = 0x04034b50, CentralSignature = 0x02014b50, EndSignature = 0x06054b50;

    private static readonly uint[] CrcTable = MakeTable();

    private static uint[] MakeTable()
    {
        var t = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        return t;
    }

    public static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFFu;
        foreach (var b in data) c = CrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFFu;
    }

    /// <summary>An entry's bytes, produced when it is written (so that a tensor's storage is not copied first).</summary>
    public delegate ReadOnlySpan<byte> Bytes();

    /// <summary>Writes the entries, in order, as a stored zip with 64-byte aligned data.</summary>
    public static void Write(Stream output, IReadOnlyList<(string Name, Bytes Data)> entries)
    {
        if (entries.Count > MaxEntries)
            throw new NotSupportedException($"A checkpoint of {entries.Count} entries (one per tensor) needs ZIP64, which Optim does not write; the most is {MaxEntries}.");
        var central = new MemoryStream();
        long offset = 0;
        Span<byte> h = stackalloc byte[46];
        Span<byte> extra = stackalloc byte[4];
        foreach (var (name, bytes) in entries)
        {
            var data = bytes();
            if (offset + data.Length + 30 + 64 + NameLength(name) > uint.MaxValue)
                throw new NotSupportedException("A checkpoint over 4 GB needs ZIP64, which Optim does not write.");
            var nameBytes = Encoding.UTF8.GetBytes(name);
            uint crc = Crc32(data);
            // the extra field pads the local header so that the data starts at a multiple of 64, as torch.save does
            int pad = (int)((64 - (offset + 30 + nameBytes.Length + 4) % 64) % 64);
            h.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(h, LocalSignature);
            BinaryPrimitives.WriteUInt16LittleEndian(h[4..], 20);
            BinaryPrimitives.WriteUInt32LittleEndian(h[14..], crc);
            BinaryPrimitives.WriteUInt32LittleEndian(h[18..], (uint)data.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(h[22..], (uint)data.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(h[26..], (ushort)nameBytes.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(h[28..], (ushort)(4 + pad));
            output.Write(h[..30]);
            output.Write(nameBytes);
            BinaryPrimitives.WriteUInt16LittleEndian(extra, 0x4246); // "FB", PyTorch's padding field
            BinaryPrimitives.WriteUInt16LittleEndian(extra[2..], (ushort)pad);
            output.Write(extra);
            output.Write(new byte[pad]);
            output.Write(data);

            h.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(h, CentralSignature);
            BinaryPrimitives.WriteUInt16LittleEndian(h[4..], 20);
            BinaryPrimitives.WriteUInt16LittleEndian(h[6..], 20);
            BinaryPrimitives.WriteUInt32LittleEndian(h[16..], crc);
            BinaryPrimitives.WriteUInt32LittleEndian(h[20..], (uint)data.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(h[24..], (uint)data.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(h[28..], (ushort)nameBytes.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(h[42..], checked((uint)offset));
            central.Write(h);
            central.Write(nameBytes);
            offset += 30 + nameBytes.Length + 4 + pad + data.Length;
        }
        var cd = central.ToArray();
        output.Write(cd);
        h.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(h, EndSignature);
        BinaryPrimitives.WriteUInt16LittleEndian(h[8..], (ushort)entries.Count);
        BinaryPrimitives.WriteUInt16LittleEndian(h[10..], (ushort)entries.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(h[12..], (uint)cd.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(h[16..], checked((uint)offset));
        output.Write(h[..22]);
    }

    private static int NameLength(string name) => Encoding.UTF8.GetByteCount(name);

    private static CheckpointFileException Bad(string message) => new("Not a readable .pt file: " + message);

    /// <summary>The entries of a zip, by name: where each one's data lies in <paramref name="file"/>, CRC checked.</summary>
    public static Dictionary<string, ReadOnlyMemory<byte>> Read(ReadOnlyMemory<byte> file)
    {
        var f = file.Span;
        if (f.Length < 22) throw Bad($"the file has {f.Length} bytes, fewer than a zip's end record.");
        // the end record is the last 22 bytes plus a comment of at most 65535 bytes
        int end = -1;
        for (int i = f.Length - 22; i >= Math.Max(0, f.Length - 22 - 0xFFFF); i--)
            if (BinaryPrimitives.ReadUInt32LittleEndian(f[i..]) == EndSignature && i + 22 + BinaryPrimitives.ReadUInt16LittleEndian(f[(i + 20)..]) == f.Length)
            { end = i; break; }
        if (end < 0) throw Bad("no zip end record (the file is truncated or not a zip).");
        int disk = BinaryPrimitives.ReadUInt16LittleEndian(f[(end + 4)..]), cdDisk = BinaryPrimitives.ReadUInt16LittleEndian(f[(end + 6)..]);
        int onDisk = BinaryPrimitives.ReadUInt16LittleEndian(f[(end + 8)..]), count = BinaryPrimitives.ReadUInt16LittleEndian(f[(end + 10)..]);
        uint cdSize = BinaryPrimitives.ReadUInt32LittleEndian(f[(end + 12)..]), cdOffset = BinaryPrimitives.ReadUInt32LittleEndian(f[(end + 16)..]);
        if (count == 0xFFFF || cdSize == 0xFFFFFFFF || cdOffset == 0xFFFFFFFF)
            throw Bad($"the end record at offset {end} declares ZIP64 sizes, which this reader does not take (files over 4 GB).");
        if (disk != 0 || cdDisk != 0 || onDisk != count) throw Bad($"the end record at offset {end} declares a multi-disk archive.");
        if (count > MaxEntries) throw Bad($"the end record declares {count} entries, more than the limit of {MaxEntries}.");
        if ((long)cdOffset + cdSize > end)
            throw Bad($"the central directory (offset {cdOffset}, {cdSize} bytes) does not lie before the end record at offset {end}.");
        // each central entry takes at least 46 bytes
        if ((long)count * 46 > cdSize) throw Bad($"the end record declares {count} entries, which do not fit in a central directory of {cdSize} bytes.");

        var entries = new Dictionary<string, ReadOnlyMemory<byte>>(StringComparer.Ordinal);
        long at = cdOffset, cdEnd = (long)cdOffset + cdSize;
        for (int k = 0; k < count; k++)
        {
            if (at + 46 > cdEnd || BinaryPrimitives.ReadUInt32LittleEndian(f[(int)at..]) != CentralSignature)
                throw Bad($"central directory entry {k} at offset {at} is malformed.");
            var c = f[(int)at..];
            int flags = BinaryPrimitives.ReadUInt16LittleEndian(c[8..]), method = BinaryPrimitives.ReadUInt16LittleEndian(c[10..]);
            uint crc = BinaryPrimitives.ReadUInt32LittleEndian(c[16..]);
            uint packed = BinaryPrimitives.ReadUInt32LittleEndian(c[20..]), size = BinaryPrimitives.ReadUInt32LittleEndian(c[24..]);
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(c[28..]), extraLength = BinaryPrimitives.ReadUInt16LittleEndian(c[30..]);
            int commentLength = BinaryPrimitives.ReadUInt16LittleEndian(c[32..]);
            uint local = BinaryPrimitives.ReadUInt32LittleEndian(c[42..]);
            long next = at + 46 + nameLength + extraLength + commentLength;
            if (next > cdEnd) throw Bad($"central directory entry {k} at offset {at} runs past the directory's end.");
            var name = Name(c.Slice(46, nameLength), at);
            if ((flags & 1) != 0) throw Bad($"entry '{name}' is encrypted.");
            if (method != 0) throw Bad($"entry '{name}' is compressed (method {method}); PyTorch stores its entries.");
            if (packed != size) throw Bad($"entry '{name}' declares a stored size of {packed} bytes and a size of {size}.");
            if (size == 0xFFFFFFFF || local == 0xFFFFFFFF) throw Bad($"entry '{name}' declares ZIP64 sizes, which this reader does not take.");
            if ((long)local + 30 > cdOffset) throw Bad($"entry '{name}' declares its header at offset {local}, past the data region (which ends at {cdOffset}).");
            var l = f[(int)local..];
            if (BinaryPrimitives.ReadUInt32LittleEndian(l) != LocalSignature) throw Bad($"entry '{name}' has no local header at offset {local}.");
            int localName = BinaryPrimitives.ReadUInt16LittleEndian(l[26..]), localExtra = BinaryPrimitives.ReadUInt16LittleEndian(l[28..]);
            long start = (long)local + 30 + localName + localExtra;
            if (start + size > cdOffset)
                throw Bad($"entry '{name}' declares {size} bytes from offset {start}, past the data region (which ends at {cdOffset}).");
            if (!l.Slice(30, localName).SequenceEqual(c.Slice(46, nameLength)))
                throw Bad($"entry '{name}''s local header at offset {local} names another entry.");
            var data = file.Slice((int)start, (int)size);
            if (Crc32(data.Span) != crc) throw Bad($"entry '{name}' (offset {start}, {size} bytes) fails its CRC check: the file is corrupt.");
            if (!entries.TryAdd(name, data)) throw Bad($"entry '{name}' appears twice.");
            at = next;
        }
        return entries;
    }

    private static string Name(ReadOnlySpan<byte> bytes, long at)
    {
        foreach (var b in bytes)
            if (b < 0x20 || b > 0x7E) throw Bad($"the entry name at offset {at + 46} is not printable ASCII.");
        return Encoding.ASCII.GetString(bytes);
    }
}
