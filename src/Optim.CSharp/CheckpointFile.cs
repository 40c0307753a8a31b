using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Optim.CSharp;

/// <summary>
/// A training checkpoint: a model's weights, an optimizer's <see cref="StateDict"/>, a scheduler's
/// <see cref="SchedulerStateDict"/> and entries of your own (epoch, RNG seed, data-loader position), saved
/// atomically in PyTorch's <c>.pt</c> format, so that <c>torch.load(path, weights_only=True)</c> reads it, and Optim
/// reads what <c>torch.save</c> writes. (The core's <c>Optim.Checkpoint</c> is an optimizer's state alone; this class
/// is the file, hence its name.)
/// </summary>
/// <remarks>
/// <para>The file is the pickle of one dict: <c>"model"</c>, an OrderedDict of tensors as <c>model.state_dict()</c>;
/// <c>"optimizer"</c>, exactly what PyTorch's <c>optimizer.state_dict()</c> holds (<c>state</c> by parameter index
/// with <c>step</c> and the buffers as tensors, <c>param_groups</c> with the hyperparameters and <c>params</c>), so
/// that <c>torch_optimizer.load_state_dict(torch.load(path)["optimizer"])</c> works; <c>"scheduler"</c>, the
/// scheduler's counters and hyperparameters under PyTorch's names; your entries, each under its own key; and
/// <c>"optim_metadata"</c>, what PyTorch does not keep: the optimizer's kind and its parameters' names and shapes.</para>
/// <para><see cref="Save"/> writes a temporary file in the same directory, flushes it to disk, renames it over the
/// old file and syncs the directory: a crash at any moment leaves the old or the new complete file.</para>
/// <para><see cref="Load"/> reads through an allow-list, as PyTorch's <c>weights_only</c> unpickler: dicts, lists,
/// tuples, numbers, strings, booleans, None and float32, float64 and int64 tensors. Any other opcode or global
/// is rejected, and nothing in a file is executed. Every count and size is checked before anything is allocated.</para>
/// <para>LBFGS state dicts are not taken (their history has no PyTorch layout in Optim yet): save them with
/// <see cref="StateDict.ToJson"/>.</para>
/// </remarks>
/// <example>
/// <code>
/// var checkpoint = new CheckpointFile { Optimizer = optimizer.StateDict(), Scheduler = scheduler.StateDict() };
/// checkpoint.Model["weight"] = new TensorData(w.Data, w.Shape);
/// checkpoint.Set("epoch", 3);
/// checkpoint.Save("checkpoint.pt");
///
/// var loaded = CheckpointFile.Load("checkpoint.pt");
/// optimizer.LoadStateDict(loaded.OptimizerStateFor(optimizer));
/// long epoch = loaded.GetInt64("epoch");
/// </code>
/// </example>
public sealed class CheckpointFile
{
    /// <summary>The keys of the file's dict that are not entries.</summary>
    private static readonly string[] Reserved = ["model", "optimizer", "scheduler", MetadataKey];

    private const string MetadataKey = "optim_metadata";

    /// <summary>Group keys PyTorch 1.13 adds that choose its implementation, not the update; dropped on load.</summary>
    private static readonly string[] TorchOnlyGroupKeys = ["foreach", "capturable", "differentiable", "fused"];

    /// <summary>Kinds whose PyTorch 1.13 state keeps <c>step</c> as a Python int; the others keep a 0-dimensional tensor.</summary>
    private static readonly string[] IntegerSteps = ["SGD", "RMSprop", "Rprop", "Adadelta", "SparseAdam"];

    /// <summary>Group keys PyTorch holds as a Python int (Muon's <c>ns_steps</c> is a <c>range</c>'s bound), written as one.</summary>
    private static readonly string[] IntegerKeys = ["ns_steps"];

    private readonly Dictionary<string, object> _entries = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];

    /// <summary>The optimizer part of a file PyTorch wrote, which names no kind: kept until <see cref="OptimizerStateFor"/> supplies one.</summary>
    private PyDict? _torchOptimizer;

    private long _budget = long.MaxValue;

    /// <summary>An empty checkpoint.</summary>
    public CheckpointFile() { }

    /// <summary>
    /// Model weights by name, in order, as <c>model.state_dict()</c>: parameters and buffers (float32; int64 for
    /// <c>num_batches_tracked</c>). Empty when the checkpoint holds no model.
    /// </summary>
    public OrderedDictionary<string, TensorData> Model { get; } = new(StringComparer.Ordinal);

    /// <summary>An optimizer's state dict, or null. After <see cref="Load"/> of a file PyTorch wrote, null: PyTorch does
    /// not record the optimizer's kind; read it with <see cref="OptimizerStateFor"/>.</summary>
    public StateDict? Optimizer { get; set; }

    /// <summary>A scheduler's state dict, or null.</summary>
    public SchedulerStateDict? Scheduler { get; set; }

    /// <summary>Your entries by key, in the order they were set: <see cref="long"/>, <see cref="double"/>, <see cref="string"/> or <see cref="bool"/> values.</summary>
    public IReadOnlyDictionary<string, object> Entries => _order.ToDictionary(k => k, k => _entries[k], StringComparer.Ordinal);

    /// <summary>Whether the checkpoint holds optimizer state: <see cref="Optimizer"/>, or the state dict of a file PyTorch wrote.</summary>
    public bool HasOptimizer => Optimizer is not null || _torchOptimizer is not null;

    /// <summary>Sets an integer entry (an epoch, a seed, a data-loader position).</summary>
    /// <param name="key">The entry's key: not <c>"model"</c>, <c>"optimizer"</c>, <c>"scheduler"</c> or <c>"optim_metadata"</c>.</param>
    /// <param name="value">Its value.</param>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="key"/> is one the file's layout reserves, or empty.</exception>
    public void Set(string key, long value) => Put(key, value);

    /// <summary>Sets a real entry (a loss, a learning rate).</summary>
    /// <param name="key">The entry's key (see <see cref="Set(string, long)"/>).</param>
    /// <param name="value">Its value.</param>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="key"/> is one the file's layout reserves, or empty.</exception>
    public void Set(string key, double value) => Put(key, value);

    /// <summary>Sets a string entry.</summary>
    /// <param name="key">The entry's key (see <see cref="Set(string, long)"/>).</param>
    /// <param name="value">Its value.</param>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> or <paramref name="value"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="key"/> is one the file's layout reserves, or empty.</exception>
    public void Set(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        Put(key, value);
    }

    /// <summary>Sets a boolean entry.</summary>
    /// <param name="key">The entry's key (see <see cref="Set(string, long)"/>).</param>
    /// <param name="value">Its value.</param>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="key"/> is one the file's layout reserves, or empty.</exception>
    public void Set(string key, bool value) => Put(key, value);

    private void Put(string key, object value)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length == 0 || Array.IndexOf(Reserved, key) >= 0)
            throw new ArgumentException($"The entry key '{key}' is {(key.Length == 0 ? "empty" : "reserved for the checkpoint's own parts")}.", nameof(key));
        if (!_entries.ContainsKey(key)) _order.Add(key);
        _entries[key] = value;
    }

    /// <summary>Removes an entry.</summary>
    /// <param name="key">The entry's key.</param>
    /// <returns>Whether there was one.</returns>
    public bool Remove(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _entries.Remove(key) && _order.Remove(key);
    }

    private T Get<T>(string key, string what)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (!_entries.TryGetValue(key, out var v)) throw new KeyNotFoundException($"The checkpoint has no entry '{key}' (it has: {string.Join(", ", _order)}).");
        return v is T t ? t : throw new InvalidCastException($"The entry '{key}' is {Pickle.Describe(v)}, not {what}.");
    }

    /// <summary>An integer entry.</summary>
    /// <param name="key">The entry's key.</param>
    /// <exception cref="KeyNotFoundException">There is no such entry.</exception>
    /// <exception cref="InvalidCastException">The entry is not an integer.</exception>
    public long GetInt64(string key) => Get<long>(key, "an integer");

    /// <summary>A real entry; an integer entry is converted.</summary>
    /// <param name="key">The entry's key.</param>
    /// <exception cref="KeyNotFoundException">There is no such entry.</exception>
    /// <exception cref="InvalidCastException">The entry is not a number.</exception>
    public double GetDouble(string key) => _entries.TryGetValue(key ?? throw new ArgumentNullException(nameof(key)), out var v) && v is long l ? l : Get<double>(key, "a number");

    /// <summary>A string entry.</summary>
    /// <param name="key">The entry's key.</param>
    /// <exception cref="KeyNotFoundException">There is no such entry.</exception>
    /// <exception cref="InvalidCastException">The entry is not a string.</exception>
    public string GetString(string key) => Get<string>(key, "a string");

    /// <summary>A boolean entry.</summary>
    /// <param name="key">The entry's key.</param>
    /// <exception cref="KeyNotFoundException">There is no such entry.</exception>
    /// <exception cref="InvalidCastException">The entry is not a boolean.</exception>
    public bool GetBoolean(string key) => Get<bool>(key, "a boolean");

    // ================================================================ saving

    /// <summary>
    /// Writes the checkpoint to <paramref name="path"/> in PyTorch's <c>.pt</c> format, atomically: a crash at any
    /// moment leaves the old file or the new one, complete.
    /// </summary>
    /// <param name="path">The file; its directory must exist.</param>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> is null.</exception>
    /// <exception cref="NotSupportedException"><see cref="Optimizer"/> is an LBFGS state dict, or the file would exceed
    /// 4 GB or 65535 tensors (ZIP64, which Optim does not write).</exception>
    /// <exception cref="IOException">The file could not be written; the old one is untouched.</exception>
    public void Save(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var root = ToTree();
        AtomicFile.Write(path, s => TorchFile.Write(s, root));
    }

    /// <summary>The bytes <see cref="Save"/> writes.</summary>
    internal byte[] ToBytes()
    {
        var output = new MemoryStream();
        TorchFile.Write(output, ToTree());
        return output.ToArray();
    }

    /// <summary>The value <see cref="Save"/> pickles.</summary>
    private PyDict ToTree()
    {
        var root = new PyDict();
        if (Model.Count > 0)
        {
            var model = new PyDict { Ordered = true };
            foreach (var (k, v) in Model) model.Add(k, v ?? throw new InvalidOperationException($"Model weight '{k}' is null."));
            root.Add("model", model);
        }
        PyDict? metadata = null;
        if (Optimizer is { } sd)
        {
            if (sd.Lbfgs is not null)
                throw new NotSupportedException("An LBFGS state dict has no .pt layout in Optim yet; save it with StateDict.ToJson().");
            root.Add("optimizer", OptimizerToTorch(sd, out metadata));
        }
        else if (_torchOptimizer is not null) root.Add("optimizer", _torchOptimizer);
        if (Scheduler is { } sched) root.Add("scheduler", SchedulerToTorch(sched));
        foreach (var k in _order) root.Add(k, _entries[k]);
        if (metadata is not null) root.Add(MetadataKey, metadata);
        return root;
    }

    private static double ReadFloat(JsonElement e) => e.ValueKind == JsonValueKind.String
        ? e.GetString() switch { "NaN" => double.NaN, "Infinity" => double.PositiveInfinity, "-Infinity" => double.NegativeInfinity, var s => throw new FormatException($"'{s}' is not a number.") }
        : e.GetDouble();

    private static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    private static long Numel(int[] shape) => shape.Aggregate(1L, (a, d) => Math.Min(a * d, (long)int.MaxValue + 1));

    /// <summary>PyTorch's <c>optimizer.state_dict()</c> from the state dict's JSON form, whose keys are PyTorch's already.</summary>
    private static PyDict OptimizerToTorch(StateDict sd, out PyDict metadata)
    {
        using var doc = JsonDocument.Parse(sd.ToJson());
        var root = doc.RootElement;
        string kind = root.GetProperty("optimizer").GetString()!;
        var shapes = root.GetProperty("param_shapes").EnumerateArray().Select(Ints).ToArray();
        var state = new PyDict();
        foreach (var entry in root.GetProperty("state").EnumerateObject())
        {
            int i = int.Parse(entry.Name, CultureInfo.InvariantCulture);
            var fields = new PyDict();
            foreach (var f in entry.Value.EnumerateObject())
            {
                if (f.Name == "step")
                {
                    long step = f.Value.GetInt64();
                    fields.Add("step", Array.IndexOf(IntegerSteps, kind) >= 0 ? step
                        : step <= 1 << 24 ? TensorData.Scalar((float)step) : TensorData.Scalar((double)step));
                }
                else if (f.Value.ValueKind == JsonValueKind.Object)
                    fields.Add(f.Name, TensorData.Wrap(Floats(f.Value.GetProperty("data")), Ints(f.Value.GetProperty("shape")), "float32"));
                else
                {
                    var data = Floats(f.Value);
                    // a buffer of one value where the parameter has more is PyTorch's 0-dimensional state tensor (ASGD's eta)
                    int[] shape = data.Length == Numel(shapes[i]) ? shapes[i] : [];
                    fields.Add(f.Name, TensorData.Wrap(data, shape, "float32"));
                }
            }
            state.Add((long)i, fields);
        }
        var groups = new List<object?>();
        foreach (var g in root.GetProperty("param_groups").EnumerateArray())
        {
            var group = new PyDict();
            foreach (var h in g.EnumerateObject())
                group.Add(h.Name, h.Name == "params"
                    ? h.Value.EnumerateArray().Select(x => (object?)x.GetInt64()).ToList()
                    // PyTorch 2.x's names of the group's parameters
                    : h.Name == "param_names"
                    ? h.Value.EnumerateArray().Select(x => (object?)x.GetString()).ToList()
                    : h.Value.ValueKind switch
                    {
                        JsonValueKind.True => true,
                        JsonValueKind.False => false,
                        JsonValueKind.Null => null,
                        JsonValueKind.Array => new PyTuple(h.Value.EnumerateArray().Select(x => (object?)ReadFloat(x)).ToArray()),
                        JsonValueKind.String when h.Value.GetString() is not ("NaN" or "Infinity" or "-Infinity") => h.Value.GetString(),
                        JsonValueKind.Number when Array.IndexOf(IntegerKeys, h.Name) >= 0 && h.Value.TryGetInt64(out var whole) => whole,
                        _ => ReadFloat(h.Value),
                    });
            groups.Add(group);
        }
        var global = new PyDict();
        if (root.TryGetProperty("global", out var gl))
            foreach (var p in gl.EnumerateObject()) global.Add(p.Name, ReadFloat(p.Value));
        metadata = new PyDict()
            .Add("format", 1L)
            .Add("optimizer_kind", kind)
            .Add("param_names", root.GetProperty("param_names").EnumerateArray().Select(x => (object?)x.GetString()).ToList())
            .Add("param_shapes", shapes.Select(s => (object?)s.Select(d => (object?)(long)d).ToList()).ToList())
            .Add("optimizer_global", global);
        return new PyDict().Add("state", state).Add("param_groups", groups);
    }

    private static float[] Floats(JsonElement e) => e.EnumerateArray().Select(x => (float)ReadFloat(x)).ToArray();

    /// <summary>A scheduler's state dict under PyTorch's names; its kind under <c>_optim_kind</c>, its children under <c>_schedulers</c> as SequentialLR's.</summary>
    private static PyDict SchedulerToTorch(SchedulerStateDict sd)
    {
        using var doc = JsonDocument.Parse(sd.ToJson());
        return SchedulerNode(doc.RootElement);
    }

    private static PyDict SchedulerNode(JsonElement node)
    {
        var d = new PyDict();
        static object Number(JsonElement e)
        {
            double x = ReadFloat(e);
            // integral counters (last_epoch, step_size) as Python ints, as PyTorch keeps them
            return x == Math.Floor(x) && Math.Abs(x) <= 1L << 53 ? (long)x : (object)x;
        }
        foreach (var p in node.GetProperty("state").EnumerateObject())
            d.Add(p.Name, p.Name == SchedulerStateDict.LrLambdasKey ? Structured(p.Value) : p.Value.ValueKind switch
            {
                JsonValueKind.Array => p.Value.EnumerateArray().Select(x => (object?)Number(x)).ToList(),
                JsonValueKind.String when p.Value.GetString() is not ("NaN" or "Infinity" or "-Infinity") => p.Value.GetString(),
                _ => Number(p.Value),
            });
        var children = node.GetProperty("schedulers").EnumerateArray().Select(c => (object?)SchedulerNode(c)).ToList();
        if (children.Count > 0) d.Add("_schedulers", children);
        d.Add("_optim_kind", node.GetProperty("scheduler").GetString());
        return d;
    }

    /// <summary>A structured JSON value (stateful lrLambdas' states) as Python values: None, bools, ints, floats, str, lists, dicts.</summary>
    private static object? Structured(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Null => null,
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.TryGetInt64(out long n) ? n : e.GetDouble(),
        JsonValueKind.Array => e.EnumerateArray().Select(Structured).ToList(),
        _ => e.EnumerateObject().Aggregate(new PyDict(), (d, p) => d.Add(p.Name, Structured(p.Value))),
    };

    // ================================================================ loading

    private static CheckpointFileException Bad(string message) => new(message);

    /// <summary>
    /// Reads a checkpoint from a <c>.pt</c> file: one <see cref="Save"/> wrote, or one PyTorch wrote with
    /// <c>torch.save</c> — of <c>model.state_dict()</c> (its tensors become <see cref="Model"/>), of
    /// <c>optimizer.state_dict()</c> (read it with <see cref="OptimizerStateFor"/>), or of a dict holding
    /// <c>"model"</c>, <c>"optimizer"</c>, tensors (read as weights) and numbers, strings and booleans (read as entries).
    /// </summary>
    /// <param name="path">The file.</param>
    /// <returns>The checkpoint.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> is null.</exception>
    /// <exception cref="CheckpointFileException">The file is not a readable checkpoint; the message names the entry, key or offset.</exception>
    /// <exception cref="IOException">The file could not be read.</exception>
    public static CheckpointFile Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        long length = new FileInfo(path).Length;
        if (length > Array.MaxLength) throw Bad($"'{path}' has {length} bytes, more than this reader takes ({Array.MaxLength}).");
        return FromBytes(File.ReadAllBytes(path));
    }

    /// <summary>Reads the bytes of a <c>.pt</c> file (see <see cref="Load"/>).</summary>
    internal static CheckpointFile FromBytes(ReadOnlyMemory<byte> bytes)
    {
        var root = TorchFile.Read(bytes, out long elements);
        var c = new CheckpointFile { _budget = 4 * elements + (1 << 20) };
        if (root is not PyDict d) throw Bad($"The file holds {Pickle.Describe(root)}, not a dict.");
        if (d.Has("state") && d.Has("param_groups") && !d.Has(MetadataKey))
        {
            c._torchOptimizer = d;
            return c;
        }
        if (d.Items.Count > 0 && d.Items.All(kv => kv.Value is TensorData))
        {
            c.ReadModel(d);
            return c;
        }
        PyDict? metadata = null, optimizer = null;
        foreach (var (key, value) in d.Items)
        {
            if (key is not string k) throw Bad($"The file's dict has the key {Pickle.Describe(key)}; a checkpoint's keys are strings.");
            switch (k)
            {
                case "model":
                    c.ReadModel(value as PyDict ?? throw Bad($"'model' holds {Pickle.Describe(value)}, not a dict of tensors."));
                    break;
                case "optimizer":
                    optimizer = value as PyDict ?? throw Bad($"'optimizer' holds {Pickle.Describe(value)}, not an optimizer's state dict.");
                    break;
                case "scheduler":
                    c.Scheduler = ReadScheduler(value, "scheduler");
                    break;
                case MetadataKey:
                    metadata = value as PyDict ?? throw Bad($"'{MetadataKey}' holds {Pickle.Describe(value)}, not a dict.");
                    break;
                default:
                    // a flat dict PyTorch wrote ({name: tensor, "epoch": 3}): its tensors are weights
                    if (value is TensorData t)
                    {
                        if (!c.Model.TryAdd(k, t)) throw Bad($"The weight '{k}' appears both in 'model' and beside it.");
                        break;
                    }
                    if (value is not (long or double or string or bool))
                        throw Bad($"The entry '{k}' holds {Pickle.Describe(value)}; a checkpoint's entries are numbers, strings and booleans.");
                    c._order.Add(k);
                    c._entries[k] = value;
                    break;
            }
        }
        if (optimizer is not null)
        {
            if (metadata is null) c._torchOptimizer = optimizer;
            else c.Optimizer = c.ReadOptimizer(optimizer, ReadMetadata(metadata));
        }
        else if (metadata is not null && metadata.Has("optimizer_kind"))
            throw Bad($"'{MetadataKey}' describes an optimizer, but the file has no 'optimizer'.");
        return c;
    }

    private void ReadModel(PyDict d)
    {
        foreach (var (key, value) in d.Items)
        {
            if (key is not string k) throw Bad($"'model' has the key {Pickle.Describe(key)}; weights are named by strings.");
            if (!Model.TryAdd(k, value as TensorData ?? throw Bad($"model weight '{k}' holds {Pickle.Describe(value)}, not a tensor.")))
                throw Bad($"The weight '{k}' appears both in 'model' and beside it.");
        }
    }

    /// <summary>What the file records of the optimizer beyond PyTorch's layout.</summary>
    private sealed record OptimizerMeta(string Kind, string?[] Names, int[][] Shapes, List<(string Key, double Value)> Globals);

    private static OptimizerMeta ReadMetadata(PyDict m)
    {
        const string where = MetadataKey;
        if (m["format"] is not 1L) throw Bad($"'{where}.format' is {Pickle.Describe(m["format"])}; this reader knows format 1.");
        var kind = m["optimizer_kind"] as string ?? throw Bad($"'{where}.optimizer_kind' is not a string.");
        if (m["param_names"] is not List<object?> names || names.Any(n => n is not (null or string)))
            throw Bad($"'{where}.param_names' is not a list of strings and Nones.");
        if (m["param_shapes"] is not List<object?> shapes || shapes.Count != names.Count)
            throw Bad($"'{where}.param_shapes' is not a list of {names.Count} shapes.");
        var parsed = shapes.Select((s, i) => s is List<object?> dims && dims.Count <= TensorData.MaxRank && dims.All(x => x is long v && v >= 0 && v <= int.MaxValue)
            ? dims.Select(x => (int)(long)x!).ToArray()
            : throw Bad($"'{where}.param_shapes[{i}]' is not a list of sizes in [0, 2³¹).")).ToArray();
        for (int i = 0; i < parsed.Length; i++)
            if (Numel(parsed[i]) > Array.MaxLength) throw Bad($"'{where}.param_shapes[{i}]' holds more elements than an array holds.");
        var globals = new List<(string, double)>();
        if (m["optimizer_global"] is PyDict g)
            foreach (var (k, v) in g.Items)
                globals.Add((k as string ?? throw Bad($"'{where}.optimizer_global' has a key that is not a string."),
                    v is double x ? x : v is long l && Math.Abs(l) <= 1L << 53 ? l : throw Bad($"'{where}.optimizer_global.{k}' is {Pickle.Describe(v)}, not a number.")));
        else if (m.Has("optimizer_global")) throw Bad($"'{where}.optimizer_global' is not a dict.");
        return new OptimizerMeta(kind, names.Cast<string?>().ToArray(), parsed, globals);
    }

    /// <summary>
    /// The optimizer state of this checkpoint for <paramref name="optimizer"/>: <see cref="Optimizer"/> when Optim
    /// wrote the file; when PyTorch wrote it (<c>torch.save(optimizer.state_dict())</c>, which records no kind, names
    /// or shapes), its state read as a state dict of <paramref name="optimizer"/>'s kind over its parameters' names and
    /// shapes. Load it with <see cref="CSharp.Optimizer.LoadStateDict"/>, which checks that it fits.
    /// </summary>
    /// <param name="optimizer">The optimizer to load into.</param>
    /// <returns>The state dict.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="optimizer"/> is null.</exception>
    /// <exception cref="CheckpointFileException">The checkpoint holds no optimizer state, or PyTorch's state in it is malformed (the message names the key).</exception>
    public StateDict OptimizerStateFor(Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        if (Optimizer is { } sd) return sd;
        if (_torchOptimizer is null) throw Bad("The checkpoint holds no optimizer state.");
        using var doc = JsonDocument.Parse(optimizer.StateDict().ToJson());
        var r = doc.RootElement;
        var meta = new OptimizerMeta(
            r.GetProperty("optimizer").GetString()!,
            r.GetProperty("param_names").EnumerateArray().Select(x => x.GetString()).ToArray(),
            r.GetProperty("param_shapes").EnumerateArray().Select(Ints).ToArray(),
            r.TryGetProperty("global", out var g) ? g.EnumerateObject().Select(p => (p.Name, ReadFloat(p.Value))).ToList() : []);
        long budget = _budget;
        return ReadOptimizer(_torchOptimizer, meta, ref budget);
    }

    private StateDict ReadOptimizer(PyDict d, OptimizerMeta meta) => ReadOptimizer(d, meta, ref _budget);

    /// <summary>The state dict JSON of PyTorch's optimizer layout, read by <see cref="StateDict.FromJson"/>: one mapping, the JSON form's.</summary>
    private static StateDict ReadOptimizer(PyDict d, OptimizerMeta meta, ref long budget)
    {
        int n = meta.Shapes.Length;
        var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteString("optimizer", meta.Kind);
            if (d["state"] is not PyDict state) throw Bad("'optimizer.state' is not a dict.");
            w.WriteStartObject("state");
            foreach (var (key, value) in state.Items)
            {
                if (key is not long i || i < 0 || i >= n) throw Bad($"'optimizer.state' has the key {Pickle.Describe(key)}, not a parameter index below {n}.");
                if (value is not PyDict fields) throw Bad($"'optimizer.state[{i}]' is not a dict.");
                w.WriteStartObject(i.ToString(CultureInfo.InvariantCulture));
                foreach (var (fk, fv) in fields.Items)
                {
                    string where = $"optimizer.state[{i}].{Pickle.Describe(fk)}";
                    if (fk is not string name) throw Bad($"'optimizer.state[{i}]' has the key {Pickle.Describe(fk)}, not a string.");
                    if (name == "step") { w.WritePropertyName("step"); w.WriteNumberValue(Step(fv, where)); continue; }
                    if (fv is null) continue; // PyTorch's SGD keeps momentum_buffer None when momentum is 0
                    if (fv is not TensorData t) throw Bad($"'{where}' is {Pickle.Describe(fv)}, not a tensor.");
                    if (t.DType != "float32") throw Bad($"'{where}' is a {t.DType} tensor; Optim keeps float32 state.");
                    budget -= t.Numel;
                    if (budget < 0) throw Bad($"'{where}': the optimizer's buffers hold many times more elements than the file's storages; refused.");
                    var shape = t.Shape;
                    bool asParameter = shape.AsSpan().SequenceEqual(meta.Shapes[i]) || shape.Length == 0;
                    if (!asParameter)
                    {
                        w.WriteStartObject(name);
                        w.WriteStartArray("shape");
                        foreach (var x in shape) w.WriteNumberValue(x);
                        w.WriteEndArray();
                        WriteFloats(w, "data", (float[])t.Raw);
                        w.WriteEndObject();
                    }
                    else WriteFloats(w, name, (float[])t.Raw);
                }
                w.WriteEndObject();
            }
            w.WriteEndObject();
            if (meta.Globals.Count > 0)
            {
                w.WriteStartObject("global");
                foreach (var (k, v) in meta.Globals) { w.WritePropertyName(k); WriteFloat(w, v); }
                w.WriteEndObject();
            }
            if (d["param_groups"] is not List<object?> groups) throw Bad("'optimizer.param_groups' is not a list.");
            w.WriteStartArray("param_groups");
            for (int gi = 0; gi < groups.Count; gi++)
            {
                if (groups[gi] is not PyDict group) throw Bad($"'optimizer.param_groups[{gi}]' is not a dict.");
                w.WriteStartObject();
                foreach (var (hk, hv) in group.Items)
                {
                    if (hk is not string key) throw Bad($"'optimizer.param_groups[{gi}]' has the key {Pickle.Describe(hk)}, not a string.");
                    string where = $"optimizer.param_groups[{gi}].{key}";
                    if (Array.IndexOf(TorchOnlyGroupKeys, key) >= 0) continue;
                    w.WritePropertyName(key);
                    if (key == "params")
                    {
                        if (hv is not List<object?> ps || ps.Count > n) throw Bad($"'{where}' is not a list of at most {n} parameter indices.");
                        w.WriteStartArray();
                        foreach (var p in ps)
                            w.WriteNumberValue(p is long x && x >= 0 && x < n ? x : throw Bad($"'{where}' holds {Pickle.Describe(p)}, not a parameter index below {n}."));
                        w.WriteEndArray();
                        continue;
                    }
                    if (key == "param_names")
                    {
                        if (hv is not List<object?> names || names.Any(x => x is not string))
                            throw Bad($"'{where}' is not a list of parameter names.");
                        w.WriteStartArray();
                        foreach (var name in names) w.WriteStringValue((string)name!);
                        w.WriteEndArray();
                        continue;
                    }
                    switch (hv)
                    {
                        case bool b: w.WriteBooleanValue(b); break;
                        case null: w.WriteNullValue(); break;
                        case string s when s is not ("NaN" or "Infinity" or "-Infinity"): w.WriteStringValue(s); break;
                        // a pair (betas) or a triple (Muon's ns_coefficients), as a tuple or a list
                        case PyTuple { Items.Length: 2 or 3 } t: WriteReals(w, t.Items, where); break;
                        case List<object?> { Count: 2 or 3 } list: WriteReals(w, list, where); break;
                        default: WriteFloat(w, Real(hv, where)); break;
                    }
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("param_names");
            foreach (var name in meta.Names) if (name is null) w.WriteNullValue(); else w.WriteStringValue(name);
            w.WriteEndArray();
            w.WriteStartArray("param_shapes");
            foreach (var s in meta.Shapes)
            {
                w.WriteStartArray();
                foreach (var x in s) w.WriteNumberValue(x);
                w.WriteEndArray();
            }
            w.WriteEndArray();
            foreach (var (k, _) in d.Items)
                if (k is not ("state" or "param_groups")) throw Bad($"'optimizer' has the key {Pickle.Describe(k)}; an optimizer's state dict has 'state' and 'param_groups'.");
            w.WriteEndObject();
        }
        var json = Encoding.UTF8.GetString(ms.ToArray());
        try { return StateDict.FromJson(json); }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException or InvalidOperationException or KeyNotFoundException)
        {
            throw new CheckpointFileException($"'optimizer' is not a {meta.Kind} state dict: {e.Message}", e);
        }
    }

    /// <summary>A step count as PyTorch keeps it (an int, or a 0-dimensional tensor): a whole number in [0, 2⁵³].</summary>
    private static long Step(object? v, string where)
    {
        double x = v switch
        {
            long l => l,
            double d => d,
            TensorData { Numel: 1 } t when t.Shape.Length <= 1 => t.DType == "int64" ? t.ToInt64()[0] : t.ToFloat64()[0],
            _ => throw Bad($"'{where}' is {Pickle.Describe(v)}, not a step count."),
        };
        if (!(x >= 0 && x <= 1L << 53 && x == Math.Floor(x))) throw Bad($"'{where}' is {x}, not a whole number in [0, 2⁵³].");
        return (long)x;
    }

    private static double Real(object? v, string where) => v switch
    {
        double d => d,
        long l when Math.Abs(l) <= 1L << 53 => l,
        _ => throw Bad($"'{where}' is {Pickle.Describe(v)}, not a number."),
    };

    private static void WriteFloat(Utf8JsonWriter w, double x)
    {
        if (double.IsFinite(x)) w.WriteNumberValue(x);
        else w.WriteStringValue(double.IsNaN(x) ? "NaN" : x > 0 ? "Infinity" : "-Infinity");
    }

    private static void WriteReals(Utf8JsonWriter w, IEnumerable<object?> values, string where)
    {
        w.WriteStartArray();
        foreach (var x in values) WriteFloat(w, Real(x, where));
        w.WriteEndArray();
    }

    private static void WriteFloats(Utf8JsonWriter w, string name, float[] values)
    {
        w.WriteStartArray(name);
        foreach (var x in values)
            if (float.IsFinite(x)) w.WriteNumberValue(x);
            else WriteFloat(w, x);
        w.WriteEndArray();
    }

    private const int MaxSchedulers = 1 << 10;

    private static SchedulerStateDict ReadScheduler(object? value, string where)
    {
        var ms = new MemoryStream();
        int count = 0;
        using (var w = new Utf8JsonWriter(ms)) WriteScheduler(w, value, where, 0, ref count);
        try { return SchedulerStateDict.FromJson(Encoding.UTF8.GetString(ms.ToArray())); }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException or InvalidOperationException or KeyNotFoundException)
        {
            throw new CheckpointFileException($"'{where}' is not a scheduler state dict: {e.Message}", e);
        }
    }

    /// <summary>Python values as JSON: what <see cref="Structured"/> writes, and nothing JSON cannot hold faithfully.</summary>
    private static void WriteStructured(Utf8JsonWriter w, object? v, string where, int depth)
    {
        if (depth > 32) throw Bad($"'{where}' nests deeper than 32.");
        switch (v)
        {
            case null: w.WriteNullValue(); break;
            case bool b: w.WriteBooleanValue(b); break;
            case long n: w.WriteNumberValue(n); break;
            case double x when double.IsFinite(x): w.WriteNumberValue(x); break;
            case string s: w.WriteStringValue(s); break;
            case List<object?> list:
                w.WriteStartArray();
                for (int i = 0; i < list.Count; i++) WriteStructured(w, list[i], $"{where}[{i}]", depth + 1);
                w.WriteEndArray();
                break;
            case PyDict d:
                w.WriteStartObject();
                foreach (var (k, x) in d.Items)
                {
                    if (k is not string name) throw Bad($"'{where}' has the key {Pickle.Describe(k)}, not a string.");
                    w.WritePropertyName(name);
                    WriteStructured(w, x, $"{where}.{name}", depth + 1);
                }
                w.WriteEndObject();
                break;
            default: throw Bad($"'{where}' is {Pickle.Describe(v)}, which a scheduler's state dict does not hold.");
        }
    }

    private static void WriteScheduler(Utf8JsonWriter w, object? value, string where, int depth, ref int count)
    {
        if (++count > MaxSchedulers || depth > 8) throw Bad($"'{where}' nests more schedulers than {MaxSchedulers}, or deeper than 8.");
        if (value is not PyDict d) throw Bad($"'{where}' is {Pickle.Describe(value)}, not a scheduler's state dict.");
        if (d["_optim_kind"] is not string kind) throw Bad($"'{where}' has no '_optim_kind' string naming the scheduler's class.");
        w.WriteStartObject();
        w.WriteString("scheduler", kind);
        w.WriteStartObject("state");
        foreach (var (k, v) in d.Items)
        {
            if (k is not string key) throw Bad($"'{where}' has the key {Pickle.Describe(k)}, not a string.");
            if (key is "_optim_kind" or "_schedulers") continue;
            w.WritePropertyName(key);
            if (key == SchedulerStateDict.LrLambdasKey)
            {
                WriteStructured(w, v, $"{where}.{key}", 0);
                continue;
            }
            switch (v)
            {
                case string s when s is not ("NaN" or "Infinity" or "-Infinity"): w.WriteStringValue(s); break;
                case List<object?> list:
                    w.WriteStartArray();
                    foreach (var x in list) WriteFloat(w, Real(x, $"{where}.{key}"));
                    w.WriteEndArray();
                    break;
                default: WriteFloat(w, Real(v, $"{where}.{key}")); break;
            }
        }
        w.WriteEndObject();
        w.WriteStartArray("schedulers");
        if (d.Has("_schedulers"))
        {
            if (d["_schedulers"] is not List<object?> children) throw Bad($"'{where}._schedulers' is not a list.");
            for (int i = 0; i < children.Count; i++) WriteScheduler(w, children[i], $"{where}._schedulers[{i}]", depth + 1, ref count);
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
