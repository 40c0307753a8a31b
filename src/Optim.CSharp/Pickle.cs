using System.Buffers.Binary;
using System.Text;

namespace Optim.CSharp;

/// <summary>A Python dict (or <c>collections.OrderedDict</c>) of a pickle: string or int keys, in order, no duplicates.</summary>
internal sealed class PyDict
{
    private readonly HashSet<object> _keys = [];

    public List<KeyValuePair<object, object?>> Items { get; } = [];
    public bool Ordered { get; init; }

    /// <summary>Adds an entry; false, and nothing added, when the key is already there.</summary>
    public bool TryAdd(object key, object? value)
    {
        if (!_keys.Add(key)) return false;
        Items.Add(new(key, value));
        return true;
    }

    public PyDict Add(object key, object? value) =>
        TryAdd(key, value) ? this : throw new InvalidOperationException($"The key {Pickle.Describe(key)} appears twice.");

    public object? this[string key] => Items.FirstOrDefault(kv => kv.Key is string s && s == key).Value;
    public bool Has(string key) => Items.Any(kv => kv.Key is string s && s == key);
}

/// <summary>A Python tuple of a pickle.</summary>
internal sealed record PyTuple(object?[] Items);

/// <summary>
/// Pickle protocol 2, as <c>torch.save</c> writes it, both ways. Values: <see cref="PyDict"/>, <see cref="List{T}"/>
/// of objects (a list), <see cref="PyTuple"/>, <see cref="long"/>, <see cref="double"/>, <see cref="string"/>,
/// <see cref="bool"/>, null (None), and <see cref="TensorData"/> (written through <c>torch._utils._rebuild_tensor_v2</c>
/// over a storage entry).
/// </summary>
internal static class Pickle
{
    private const byte Mark = (byte)'(', Stop = (byte)'.', Global = (byte)'c', BinPut = (byte)'q', LongBinPut = (byte)'r',
        BinGet = (byte)'h', LongBinGet = (byte)'j', EmptyTuple = (byte)')', EmptyList = (byte)']', EmptyDict = (byte)'}',
        Tuple = (byte)'t', Tuple1 = 0x85, Tuple2 = 0x86, Tuple3 = 0x87, None = (byte)'N', NewTrue = 0x88, NewFalse = 0x89,
        BinInt1 = (byte)'K', BinInt2 = (byte)'M', BinInt = (byte)'J', Long1 = 0x8a, BinFloat = (byte)'G', BinUnicode = (byte)'X',
        BinPersId = (byte)'Q', Reduce = (byte)'R', SetItem = (byte)'s', SetItems = (byte)'u', Append = (byte)'a', Appends = (byte)'e',
        Build = (byte)'b', Proto = 0x80;

    /// <summary>The longest string a pickle may hold, in bytes.</summary>
    public const int MaxString = 1 << 20;

    /// <summary>The deepest nesting of containers a value may have.</summary>
    public const int MaxDepth = 64;

    // ---------------------------------------------------------------- writing

    /// <summary>Pickles <paramref name="value"/>; each tensor object becomes one storage, numbered from 0, that <paramref name="storages"/> collects.</summary>
    public static byte[] Write(object? value, List<TensorData> storages)
    {
        var w = new MemoryStream();
        w.WriteByte(Proto);
        w.WriteByte(2);
        WriteValue(w, value, new Storages(storages), 0);
        w.WriteByte(Stop);
        return w.ToArray();
    }

    /// <summary>The storages written so far, and each tensor object's storage key.</summary>
    private sealed class Storages(List<TensorData> list)
    {
        public List<TensorData> List { get; } = list;
        public Dictionary<TensorData, int> Keys { get; } = new(ReferenceEqualityComparer.Instance);
    }

    private static void WriteValue(MemoryStream w, object? value, Storages storages, int depth)
    {
        if (depth > MaxDepth) throw new InvalidOperationException($"A value nests deeper than {MaxDepth} levels.");
        switch (value)
        {
            case null: w.WriteByte(None); break;
            case bool b: w.WriteByte(b ? NewTrue : NewFalse); break;
            case int i: WriteInt(w, i); break;
            case long l: WriteInt(w, l); break;
            case double d:
                w.WriteByte(BinFloat);
                Span<byte> f = stackalloc byte[8];
                BinaryPrimitives.WriteDoubleBigEndian(f, d);
                w.Write(f);
                break;
            case string s: WriteString(w, s); break;
            case PyTuple t:
                if (t.Items.Length == 0) { w.WriteByte(EmptyTuple); break; }
                if (t.Items.Length > 3) w.WriteByte(Mark);
                foreach (var x in t.Items) WriteValue(w, x, storages, depth + 1);
                w.WriteByte(t.Items.Length switch { 1 => Tuple1, 2 => Tuple2, 3 => Tuple3, _ => Tuple });
                break;
            case List<object?> list:
                w.WriteByte(EmptyList);
                if (list.Count == 0) break;
                w.WriteByte(Mark);
                foreach (var x in list) WriteValue(w, x, storages, depth + 1);
                w.WriteByte(Appends);
                break;
            case PyDict d:
                if (d.Ordered) { WriteGlobal(w, "collections", "OrderedDict"); w.WriteByte(EmptyTuple); w.WriteByte(Reduce); }
                else w.WriteByte(EmptyDict);
                if (d.Items.Count == 0) break;
                w.WriteByte(Mark);
                foreach (var (k, v) in d.Items)
                {
                    WriteValue(w, k, storages, depth + 1);
                    WriteValue(w, v, storages, depth + 1);
                }
                w.WriteByte(SetItems);
                break;
            case TensorData t: WriteTensor(w, t, storages); break;
            default: throw new InvalidOperationException($"A {value.GetType().Name} cannot be written to a .pt file.");
        }
    }

    private static void WriteInt(MemoryStream w, long x)
    {
        if (x >= 0 && x <= 0xFF) { w.WriteByte(BinInt1); w.WriteByte((byte)x); return; }
        if (x >= 0 && x <= 0xFFFF) { w.WriteByte(BinInt2); w.WriteByte((byte)x); w.WriteByte((byte)(x >> 8)); return; }
        Span<byte> b = stackalloc byte[8];
        if (x >= int.MinValue && x <= int.MaxValue)
        {
            w.WriteByte(BinInt);
            BinaryPrimitives.WriteInt32LittleEndian(b, (int)x);
            w.Write(b[..4]);
            return;
        }
        // LONG1: the fewest little-endian two's-complement bytes that hold x
        BinaryPrimitives.WriteInt64LittleEndian(b, x);
        int n = 8;
        while (n > 1 && ((b[n - 1] == 0 && (b[n - 2] & 0x80) == 0) || (b[n - 1] == 0xFF && (b[n - 2] & 0x80) != 0))) n--;
        w.WriteByte(Long1);
        w.WriteByte((byte)n);
        w.Write(b[..n]);
    }

    private static void WriteString(MemoryStream w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        // the reader's limit, so that whatever Optim writes it reads back
        if (bytes.Length > MaxString) throw new NotSupportedException($"A string of {bytes.Length} bytes is over the checkpoint's limit of {MaxString}.");
        w.WriteByte(BinUnicode);
        Span<byte> n = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(n, bytes.Length);
        w.Write(n);
        w.Write(bytes);
    }

    private static void WriteGlobal(MemoryStream w, string module, string name)
    {
        w.WriteByte(Global);
        w.Write(Encoding.ASCII.GetBytes(module + "\n" + name + "\n"));
    }

    private static void WriteTensor(MemoryStream w, TensorData t, Storages storages)
    {
        string storage = t.DType switch { "float32" => "FloatStorage", "float64" => "DoubleStorage", _ => "LongStorage" };
        WriteGlobal(w, "torch._utils", "_rebuild_tensor_v2");
        w.WriteByte(Mark);
        // the persistent id: ('storage', torch.XStorage, key, location, numel)
        w.WriteByte(Mark);
        WriteString(w, "storage");
        WriteGlobal(w, "torch", storage);
        // one storage per tensor object, as torch.save writes one per storage: a tensor held twice (tied weights) is stored once
        if (!storages.Keys.TryGetValue(t, out int key))
        {
            key = storages.List.Count;
            storages.List.Add(t);
            storages.Keys[t] = key;
        }
        WriteString(w, key.ToString(System.Globalization.CultureInfo.InvariantCulture));
        WriteString(w, "cpu");
        WriteInt(w, t.Numel);
        w.WriteByte(Tuple);
        w.WriteByte(BinPersId);
        WriteInt(w, 0);
        var shape = t.Shape;
        var stride = new long[shape.Length];
        long s = 1;
        for (int k = shape.Length - 1; k >= 0; k--) { stride[k] = s; s *= Math.Max(1, shape[k]); }
        WriteValue(w, new PyTuple(shape.Select(d => (object?)(long)d).ToArray()), storages, 1);
        WriteValue(w, new PyTuple(stride.Select(d => (object?)d).ToArray()), storages, 1);
        w.WriteByte(NewFalse);
        WriteGlobal(w, "collections", "OrderedDict");
        w.WriteByte(EmptyTuple);
        w.WriteByte(Reduce);
        w.WriteByte(Tuple);
        w.WriteByte(Reduce);
    }

    // ---------------------------------------------------------------- reading

    private sealed record GlobalRef(string Module, string Name);

    /// <summary>A storage named by a persistent id: its element type and the elements it holds.</summary>
    internal sealed record StorageRef(string DType, string Key, Array Data);

    private sealed class MarkObject
    {
        public static readonly MarkObject Instance = new();
    }

    private static readonly HashSet<(string, string)> Allowed =
    [
        ("collections", "OrderedDict"), ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_parameter"),
        ("torch", "FloatStorage"), ("torch", "DoubleStorage"), ("torch", "LongStorage"),
    ];

    private static CheckpointFileException Bad(long offset, string message) => new($"data.pkl, offset {offset}: {message}");

    /// <summary>
    /// Reads a pickle through an allow-list: only the opcodes <see cref="Write"/> and <c>torch.save</c> use for dicts,
    /// lists, tuples, numbers, strings, booleans, None and tensors, and only the globals that rebuild tensors and
    /// OrderedDicts. Nothing is called: a global is a name matched against the list. <paramref name="storage"/> resolves
    /// a persistent id (dtype, key, declared element count) to the storage's elements, checking its entry's length.
    /// </summary>
    /// <param name="p">The pickle's bytes.</param>
    /// <param name="storage">Resolves (dtype, key, declared element count, offset) to the storage.</param>
    /// <param name="budget">How many tensor elements may be decoded in all, so that views cannot multiply a small file into a huge allocation.</param>
    public static object? Read(ReadOnlySpan<byte> p, Func<string, string, long, long, StorageRef> storage, long budget)
    {
        var stack = new List<object?>();
        var marks = new Stack<int>();
        var memo = new Dictionary<long, object?>();
        int pos = 0;
        if (p.Length < 2 || p[0] != Proto || p[1] != 2)
            throw Bad(0, "the pickle does not start with protocol 2 (PROTO 2), as torch.save writes.");
        pos = 2;

        ReadOnlySpan<byte> Take(ReadOnlySpan<byte> p, ref int pos, int n, int at)
        {
            if (n < 0 || n > p.Length - pos) throw Bad(at, $"the opcode needs {n} more bytes, but only {p.Length - pos} are left.");
            var s = p.Slice(pos, n);
            pos += n;
            return s;
        }
        object? Pop(int at)
        {
            if (stack.Count == 0 || (marks.Count > 0 && marks.Peek() == stack.Count)) throw Bad(at, "the opcode pops an empty stack.");
            var x = stack[^1];
            stack.RemoveAt(stack.Count - 1);
            return x;
        }
        object? Top(int at)
        {
            if (stack.Count == 0 || (marks.Count > 0 && marks.Peek() == stack.Count)) throw Bad(at, "the opcode needs a value on the stack.");
            return stack[^1];
        }
        List<object?> PopMark(int at)
        {
            if (marks.Count == 0) throw Bad(at, "the opcode needs a MARK, and there is none.");
            int m = marks.Pop();
            var items = stack.GetRange(m, stack.Count - m);
            stack.RemoveRange(m, stack.Count - m);
            return items;
        }
        void Put(PyDict d, object? key, object? value, int at)
        {
            if (key is not (string or long)) throw Bad(at, $"a dict key must be a string or an int, but is {Describe(key)}.");
            if (!d.TryAdd(key, value)) throw Bad(at, $"the dict key {Describe(key)} appears twice.");
        }

        while (true)
        {
            if (pos >= p.Length) throw Bad(pos, "the pickle ends without STOP (the file is truncated).");
            int at = pos;
            byte op = p[pos++];
            switch (op)
            {
                case Stop:
                    if (marks.Count > 0 || stack.Count != 1) throw Bad(at, $"STOP with {stack.Count} values and {marks.Count} marks on the stack; a pickle ends with one value.");
                    if (pos != p.Length) throw Bad(pos, $"{p.Length - pos} bytes follow STOP.");
                    Check(stack[0], at, 2L * p.Length + 1024);
                    return stack[0];
                case Mark: marks.Push(stack.Count); break;
                case EmptyTuple: stack.Add(new PyTuple([])); break;
                case EmptyList: stack.Add(new List<object?>()); break;
                case EmptyDict: stack.Add(new PyDict()); break;
                case None: stack.Add(null); break;
                case NewTrue: stack.Add(true); break;
                case NewFalse: stack.Add(false); break;
                case BinInt1: stack.Add((long)Take(p, ref pos, 1, at)[0]); break;
                case BinInt2: stack.Add((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(p, ref pos, 2, at))); break;
                case BinInt: stack.Add((long)BinaryPrimitives.ReadInt32LittleEndian(Take(p, ref pos, 4, at))); break;
                case Long1:
                {
                    int n = Take(p, ref pos, 1, at)[0];
                    if (n > 8) throw Bad(at, $"LONG1 of {n} bytes: an integer beyond int64 is not taken.");
                    var b = Take(p, ref pos, n, at);
                    long x = 0;
                    for (int k = n - 1; k >= 0; k--) x = (x << 8) | b[k];
                    if (n > 0 && n < 8 && (b[n - 1] & 0x80) != 0) x -= 1L << (8 * n);
                    stack.Add(x);
                    break;
                }
                case BinFloat: stack.Add(BinaryPrimitives.ReadDoubleBigEndian(Take(p, ref pos, 8, at))); break;
                case BinUnicode:
                {
                    uint n = BinaryPrimitives.ReadUInt32LittleEndian(Take(p, ref pos, 4, at));
                    if (n > MaxString) throw Bad(at, $"a string of {n} bytes, more than the limit of {MaxString}.");
                    var bytes = Take(p, ref pos, (int)n, at);
                    try { stack.Add(new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes)); }
                    catch (DecoderFallbackException) { throw Bad(at, "a string that is not valid UTF-8."); }
                    break;
                }
                case Global:
                {
                    string module = Line(p, ref pos, at), name = Line(p, ref pos, at);
                    if (!Allowed.Contains((module, name)))
                        throw Bad(at, $"the global '{module}.{name}' is not allowed: only tensors (torch._utils._rebuild_tensor_v2 over Float, Double and Long storages) and collections.OrderedDict are read, and nothing is called.");
                    stack.Add(new GlobalRef(module, name));
                    break;
                }
                case BinPut: memo[Take(p, ref pos, 1, at)[0]] = Top(at); break;
                case LongBinPut: memo[BinaryPrimitives.ReadUInt32LittleEndian(Take(p, ref pos, 4, at))] = Top(at); break;
                case BinGet:
                case LongBinGet:
                {
                    long key = op == BinGet ? Take(p, ref pos, 1, at)[0] : BinaryPrimitives.ReadUInt32LittleEndian(Take(p, ref pos, 4, at));
                    if (!memo.TryGetValue(key, out var x)) throw Bad(at, $"BINGET of memo slot {key}, which holds nothing.");
                    stack.Add(x);
                    break;
                }
                case Tuple: stack.Add(new PyTuple(PopMark(at).ToArray())); break;
                case Tuple1: { var a = Pop(at); stack.Add(new PyTuple([a])); break; }
                case Tuple2: { var b = Pop(at); var a = Pop(at); stack.Add(new PyTuple([a, b])); break; }
                case Tuple3: { var c = Pop(at); var b = Pop(at); var a = Pop(at); stack.Add(new PyTuple([a, b, c])); break; }
                case Append:
                {
                    var v = Pop(at);
                    if (Top(at) is not List<object?> list) throw Bad(at, "APPEND to something that is not a list.");
                    list.Add(v);
                    break;
                }
                case Appends:
                {
                    var items = PopMark(at);
                    if (Top(at) is not List<object?> list) throw Bad(at, "APPENDS to something that is not a list.");
                    list.AddRange(items);
                    break;
                }
                case SetItem:
                {
                    var v = Pop(at);
                    var k = Pop(at);
                    if (Top(at) is not PyDict d) throw Bad(at, "SETITEM on something that is not a dict.");
                    Put(d, k, v, at);
                    break;
                }
                case SetItems:
                {
                    var items = PopMark(at);
                    if (items.Count % 2 != 0) throw Bad(at, $"SETITEMS with {items.Count} values, not key-value pairs.");
                    if (Top(at) is not PyDict d) throw Bad(at, "SETITEMS on something that is not a dict.");
                    for (int k = 0; k < items.Count; k += 2) Put(d, items[k], items[k + 1], at);
                    break;
                }
                case BinPersId:
                {
                    if (Pop(at) is not PyTuple { Items: ["storage", GlobalRef { Module: "torch" } type, string key, string, long numel] })
                        throw Bad(at, "a persistent id that is not ('storage', torch.XStorage, key, location, numel).");
                    string dtype = type.Name switch { "FloatStorage" => "float32", "DoubleStorage" => "float64", "LongStorage" => "int64", var n => throw Bad(at, $"torch.{n} is not a storage type.") };
                    stack.Add(storage(dtype, key, numel, at));
                    break;
                }
                case Reduce:
                {
                    var args = Pop(at);
                    var callable = Pop(at);
                    if (callable is not GlobalRef g || args is not PyTuple t) throw Bad(at, "REDUCE of something that is not an allowed global applied to a tuple.");
                    stack.Add((g.Module, g.Name) switch
                    {
                        ("collections", "OrderedDict") when t.Items.Length == 0 => new PyDict { Ordered = true },
                        ("torch._utils", "_rebuild_tensor_v2") => RebuildTensor(t, at, ref budget),
                        ("torch._utils", "_rebuild_parameter") when t.Items is [TensorData tensor, bool, PyDict { Items.Count: 0 }] => tensor,
                        _ => throw Bad(at, $"{g.Module}.{g.Name} with arguments {Describe(t)} is not how torch.save writes it."),
                    });
                    break;
                }
                case Build:
                {
                    // torch.save sets an OrderedDict's _metadata attribute (module versions) this way; an attribute is not content
                    var state = Pop(at);
                    if (Top(at) is not PyDict { Ordered: true } || state is not PyDict) throw Bad(at, "BUILD on something other than an OrderedDict's attributes.");
                    break;
                }
                default:
                    throw Bad(at, $"opcode 0x{op:x2} ('{(op >= 0x20 && op < 0x7f ? ((char)op).ToString() : "?")}') is not allowed: the reader takes only what torch.save writes for dicts, lists, tuples, numbers, strings, booleans, None and tensors.");
            }
        }
    }

    /// <summary>
    /// Checks the value a pickle built: no global or storage outside a tensor, no container that holds itself, at most
    /// <see cref="MaxDepth"/> levels, and, with shared references (BINGET) expanded, at most <paramref name="limit"/>
    /// values, so that what reads or re-saves it later does bounded work.
    /// </summary>
    private static void Check(object? root, int at, long limit)
    {
        long nodes = 0;
        var path = new HashSet<object>(ReferenceEqualityComparer.Instance);
        void Walk(object? x, int depth)
        {
            if (++nodes > limit) throw Bad(at, $"the pickle's values, with their shared references expanded, number more than {limit}: refused.");
            if (depth > MaxDepth) throw Bad(at, $"the pickle's values nest deeper than {MaxDepth} levels.");
            IEnumerable<object?>? children = x switch
            {
                GlobalRef g => throw Bad(at, $"the global {g.Module}.{g.Name} is used as a value; it may only rebuild a tensor or an OrderedDict."),
                StorageRef r => throw Bad(at, $"storage '{r.Key}' is used as a value; it may only rebuild a tensor."),
                PyDict d => d.Items.Select(kv => kv.Value),
                List<object?> l => l,
                PyTuple t => t.Items,
                _ => null,
            };
            if (children is null) return;
            if (!path.Add(x!)) throw Bad(at, "a container holds itself.");
            foreach (var c in children) Walk(c, depth + 1);
            path.Remove(x!);
        }
        Walk(root, 0);
    }

    private static string Line(ReadOnlySpan<byte> p, ref int pos, int at)
    {
        int n = p[pos..].IndexOf((byte)'\n');
        if (n < 0 || n > 256) throw Bad(at, "GLOBAL without a name line of at most 256 bytes.");
        var s = p.Slice(pos, n);
        pos += n + 1;
        foreach (var b in s)
            if (b < 0x20 || b > 0x7E) throw Bad(at, "GLOBAL with a name that is not printable ASCII.");
        return Encoding.ASCII.GetString(s);
    }

    internal static string Describe(object? x) => x switch
    {
        null => "None",
        string s => $"'{(s.Length > 40 ? s[..40] + "…" : s)}'",
        long or double or bool => Convert.ToString(x, System.Globalization.CultureInfo.InvariantCulture)!,
        PyTuple t => $"a tuple of {t.Items.Length}",
        List<object?> l => $"a list of {l.Count}",
        PyDict d => $"a dict of {d.Items.Count}",
        TensorData t => $"a {t.DType} tensor of shape [{string.Join(", ", t.Shape)}]",
        _ => "a " + x.GetType().Name,
    };

    /// <summary>
    /// <c>_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks[, metadata])</c>: the elements of
    /// the view, copied into a contiguous tensor. Any offset and non-negative strides are read faithfully; every index
    /// the view touches is checked to lie inside the storage, and the element count is checked for overflow, first.
    /// </summary>
    private static TensorData RebuildTensor(PyTuple t, int at, ref long budget)
    {
        if (t.Items.Length is not (6 or 7) || t.Items[0] is not StorageRef storage || t.Items[1] is not long offset
            || t.Items[2] is not PyTuple size || t.Items[3] is not PyTuple stride || t.Items[4] is not bool
            || t.Items[5] is not PyDict { Items.Count: 0 } || (t.Items.Length == 7 && t.Items[6] is not (null or PyDict { Items.Count: 0 })))
            throw Bad(at, $"_rebuild_tensor_v2 with arguments {Describe(t)}, not (storage, offset, size, stride, requires_grad, hooks).");
        if (size.Items.Length != stride.Items.Length || size.Items.Length > TensorData.MaxRank)
            throw Bad(at, $"a tensor with {size.Items.Length} sizes and {stride.Items.Length} strides (at most {TensorData.MaxRank}).");
        int rank = size.Items.Length;
        var shape = new int[rank];
        var strides = new long[rank];
        long numel = 1, last = offset;
        for (int k = 0; k < rank; k++)
        {
            if (size.Items[k] is not long d || d < 0 || d > int.MaxValue) throw Bad(at, $"a tensor's size {Describe(size.Items[k])} in dimension {k} is not an int in [0, 2³¹).");
            if (stride.Items[k] is not long s || s < 0 || s > int.MaxValue) throw Bad(at, $"a tensor's stride {Describe(stride.Items[k])} in dimension {k} is not an int in [0, 2³¹).");
            shape[k] = (int)d;
            strides[k] = s;
            numel = Math.Min(numel * d, (long)int.MaxValue + 1);
            // each term is below 2⁶², and the running sum is capped far below 2⁶², so it cannot overflow
            if (d > 0) last = Math.Min(last + (d - 1) * s, long.MaxValue / 4);
        }
        if (offset < 0 || offset > storage.Data.Length) throw Bad(at, $"a tensor's storage offset {offset} lies outside its storage '{storage.Key}' of {storage.Data.Length} elements.");
        if (numel > Array.MaxLength) throw Bad(at, $"a tensor of shape [{string.Join(", ", shape)}] has more elements than an array holds.");
        if (numel > 0 && last >= storage.Data.Length)
            throw Bad(at, $"a tensor of shape [{string.Join(", ", shape)}], offset {offset} and strides ({string.Join(", ", strides)}) reaches element {last} of storage '{storage.Key}', which has {storage.Data.Length}.");
        budget -= numel;
        if (budget < 0) throw Bad(at, "the tensors' views hold many times more elements than the file's storages: refused before allocating.");
        Array data = storage.DType switch { "float32" => new float[numel], "float64" => new double[numel], _ => new long[numel] };
        bool contiguous = true;
        long expect = 1;
        for (int k = rank - 1; k >= 0; k--)
        {
            if (shape[k] != 1 && strides[k] != expect) contiguous = false;
            expect *= shape[k];
        }
        if (contiguous) Array.Copy(storage.Data, offset, data, 0, numel);
        else
        {
            var index = new int[rank];
            for (long e = 0; e < numel; e++)
            {
                long src = offset;
                for (int k = 0; k < rank; k++) src += index[k] * strides[k];
                Array.Copy(storage.Data, src, data, e, 1);
                for (int k = rank - 1; k >= 0; k--)
                {
                    if (++index[k] < shape[k]) break;
                    index[k] = 0;
                }
            }
        }
        return TensorData.Wrap(data, shape, storage.DType);
    }
}
