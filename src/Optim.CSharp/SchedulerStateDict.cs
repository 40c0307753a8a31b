using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Optim.CSharp;

/// <summary>
/// A snapshot of a learning-rate scheduler, as <c>scheduler.state_dict()</c>: its kind, epoch and step counters,
/// base and last learning rates, the counters of its policy (ReduceLROnPlateau's best metric, …), its
/// hyperparameters under PyTorch's names (<c>step_size</c>, <c>gamma</c>, <c>T_max</c>, <c>mode</c>, …), and
/// those of its children for SequentialLR and ChainedScheduler. Loaded into a scheduler of the same kind built with
/// other arguments, it makes that scheduler continue exactly as the saved one. Functions (<c>lrLambda</c>,
/// <c>scaleFn</c>) are not in it, as PyTorch does not save plain functions: they stay the loading scheduler's. A
/// <c>lrLambda</c> that is a method of an <see cref="IStatefulLrLambda"/> object has its state saved under
/// <c>"lr_lambdas"</c> and loaded back into the loading scheduler's object, as PyTorch saves a callable object's
/// <c>__dict__</c>. Save
/// it with the optimizer's <see cref="CSharp.StateDict"/>; to resume, build the optimizer and the scheduler, load the
/// optimizer's state, then this. A state dict without hyperparameters (written by an earlier Optim) loads as before:
/// the scheduler keeps its own.
/// </summary>
/// <example>
/// <code>
/// // saved atomically with the optimizer (a crash mid-save leaves the previous file whole); see CheckpointFile
/// new CheckpointFile { Optimizer = optimizer.StateDict(), Scheduler = scheduler.StateDict() }.Save("checkpoint.pt");
/// // later, on an optimizer and a scheduler of the same kinds over the same groups (the scheduler's own arguments are
/// // replaced by the saved ones); ToJson/FromJson give the same state as text
/// var loaded = CheckpointFile.Load("checkpoint.pt");
/// optimizer.LoadStateDict(loaded.OptimizerStateFor(optimizer));
/// scheduler.LoadStateDict(loaded.Scheduler!);
/// </code>
/// </example>
public sealed class SchedulerStateDict
{
    private readonly List<(string Key, double[] Values, bool Scalar)> _entries;
    private readonly List<(string Key, string Value)> _texts = [];
    // values that are neither numbers, lists of numbers nor strings: the states of stateful lrLambdas ("lr_lambdas")
    private readonly List<(string Key, JsonNode? Value)> _nodes = [];

    internal SchedulerStateDict(string kind, List<(string Key, double[] Values, bool Scalar)> entries, SchedulerStateDict[] children)
    {
        Kind = kind;
        _entries = entries;
        Children = children;
    }

    /// <summary>The scheduler's class name (<c>"StepLR"</c>, …).</summary>
    public string Kind { get; }

    internal IReadOnlyList<SchedulerStateDict> Children { get; }

    internal static SchedulerStateDict Create(string kind, SchedulerStateDict[]? children = null) => new(kind, [], children ?? []);

    internal SchedulerStateDict Add(string key, double value)
    {
        _entries.Add((key, [value], true));
        return this;
    }

    internal SchedulerStateDict Add(string key, IEnumerable<double> values)
    {
        _entries.Add((key, values.ToArray(), false));
        return this;
    }

    internal SchedulerStateDict Add(string key, string value)
    {
        _texts.Add((key, value));
        return this;
    }

    /// <summary>A structured value (a list holding nulls or objects, an object), kept as a copy of <paramref name="value"/>.</summary>
    internal SchedulerStateDict Add(string key, JsonNode? value)
    {
        _nodes.Add((key, value?.DeepClone()));
        return this;
    }

    /// <summary>A copy of the structured value under <paramref name="key"/>; false when there is none.</summary>
    internal bool TryStructured(string key, out JsonNode? value)
    {
        _read.Add(key);
        int i = _nodes.FindIndex(n => n.Key == key);
        value = i >= 0 ? _nodes[i].Value?.DeepClone() : null;
        return i >= 0;
    }

    /// <summary>A per-group hyperparameter: a number when it was given once, a list when per group.</summary>
    internal SchedulerStateDict Add(string key, PerGroup value, int groups) =>
        value.IsPerGroup ? Add(key, Enumerable.Range(0, groups).Select(i => value[i])) : Add(key, value[0]);

    private double[] Find(string key, bool scalar)
    {
        _read.Add(key);
        return _entries.FirstOrDefault(e => e.Key == key && e.Scalar == scalar).Values
            ?? throw Bad($"The {Kind} state dict has no {(scalar ? "number" : "list")} '{key}'.");
    }

    internal bool Has(string key)
    {
        _read.Add(key);
        return _entries.Any(e => e.Key == key) || _texts.Any(t => t.Key == key) || _nodes.Any(n => n.Key == key);
    }

    // the keys a load has asked for: one it never asked for is not the loading scheduler's, and is refused
    private readonly HashSet<string> _read = [];

    /// <summary>The keys of this level that no load has read.</summary>
    internal IEnumerable<string> Unread =>
        _entries.Select(e => e.Key).Concat(_texts.Select(t => t.Key)).Concat(_nodes.Select(n => n.Key)).Where(k => !_read.Contains(k));

    internal double Number(string key) => Find(key, true)[0];

    internal int Integer(string key, int min)
    {
        var x = Number(key);
        // below int.MaxValue, so that the next step's count still fits
        if (x != Math.Floor(x) || x < min || x >= int.MaxValue)
            throw Bad($"'{key}' in the {Kind} state dict must be an integer from {min} to {int.MaxValue - 1}, but is {x}.");
        return (int)x;
    }

    internal double[] List(string key) => (double[])Find(key, false).Clone();

    private static ArgumentException Rule(string kind, string key, object value, string rule) =>
        Bad($"'{key}' in the {kind} state dict must be {rule}, but is {value}.");

    // Hyperparameters. A key that is absent (a state dict written before they were saved) keeps the scheduler's
    // own value; one that is present must pass the constructor's rule.

    /// <summary>An integer hyperparameter in [<paramref name="min"/>, <paramref name="max"/>], or <paramref name="current"/> when absent.</summary>
    internal int Hyper(string key, int current, int min, int max = int.MaxValue)
    {
        if (!Has(key)) return current;
        var x = Number(key);
        if (x != Math.Floor(x) || x < min || x > max)
            throw Rule(Kind, key, x, max == int.MaxValue ? $"an integer of at least {min}" : $"an integer in [{min}, {max}]");
        return (int)x;
    }

    /// <summary>A real hyperparameter that <paramref name="valid"/> accepts, or <paramref name="current"/> when absent.</summary>
    internal double Hyper(string key, double current, Func<double, bool> valid, string rule)
    {
        if (!Has(key)) return current;
        var x = Number(key);
        return valid(x) ? x : throw Rule(Kind, key, x, rule);
    }

    /// <summary>A string hyperparameter, one of <paramref name="options"/>, or <paramref name="current"/> when absent.</summary>
    internal string Hyper(string key, string current, params string[] options)
    {
        if (!Has(key)) return current;
        var text = _texts.FirstOrDefault(t => t.Key == key).Value ?? throw Bad($"'{key}' in the {Kind} state dict must be a string.");
        return Array.IndexOf(options, text) >= 0 ? text : throw Rule(Kind, key, $"'{text}'", "one of " + string.Join(", ", options.Select(o => $"'{o}'")));
    }

    /// <summary>A per-group hyperparameter (a number, or a list with one value per group), or <paramref name="current"/> when absent.</summary>
    internal PerGroup Hyper(string key, PerGroup current, int groups, Func<double, bool> valid, string rule)
    {
        if (!Has(key)) return current;
        bool scalar = _entries.Any(e => e.Key == key && e.Scalar);
        var values = scalar ? [Number(key)] : List(key);
        if (!scalar && values.Length != groups)
            throw Bad($"'{key}' in the {Kind} state dict has {values.Length} values, but the optimizer has {groups} param groups.");
        foreach (var x in values)
            if (!valid(x)) throw Rule(Kind, key, x, rule);
        return scalar ? values[0] : values;
    }

    internal static ArgumentException Bad(string message) => new(message, "state");

    /// <summary>The key of LambdaLR's and MultiplicativeLR's function states, as PyTorch's: a list with, per group, null
    /// (a plain function) or the state of an <see cref="IStatefulLrLambda"/>.</summary>
    internal const string LrLambdasKey = "lr_lambdas";

    /// <summary>The JSON text: <c>{"scheduler": kind, "state": {…}, "schedulers": [children]}</c>; floats round-trip exactly, infinities are written as strings.</summary>
    public string ToJson() => ToNode().ToJsonString();

    private JsonObject ToNode()
    {
        var state = new JsonObject();
        foreach (var (key, values, scalar) in _entries)
            state[key] = scalar ? Number(values[0]) : new JsonArray(values.Select(v => (JsonNode?)Number(v)).ToArray());
        foreach (var (key, value) in _texts)
            state[key] = value;
        foreach (var (key, value) in _nodes)
            state[key] = value?.DeepClone();
        return new JsonObject
        {
            ["scheduler"] = Kind,
            ["state"] = state,
            ["schedulers"] = new JsonArray(Children.Select(c => (JsonNode?)c.ToNode()).ToArray()),
        };
    }

    // JSON has no infinities; the invariant culture spells them "Infinity", "-Infinity" and "NaN", which ReadNumber reads back.
    private static JsonNode Number(double x) =>
        double.IsFinite(x) ? JsonValue.Create(x) : JsonValue.Create(x.ToString(CultureInfo.InvariantCulture));

    /// <summary>Reads a state dict written by <see cref="ToJson"/>.</summary>
    /// <param name="json">The JSON text.</param>
    /// <exception cref="ArgumentNullException"><paramref name="json"/> is null.</exception>
    /// <exception cref="ArgumentException">The text is not JSON or not a scheduler state dict; the message says what is wrong.</exception>
    public static SchedulerStateDict FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonNode? root;
        // a key given twice has no one meaning (readers differ on which wins): rejected
        try { root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }); }
        catch (JsonException e) { throw new ArgumentException($"The scheduler state dict is not valid JSON: {e.Message}", nameof(json), e); }
        try { return FromNode(root); }
        catch (Exception e) when (e is InvalidOperationException or FormatException or JsonException)
        {
            throw new ArgumentException($"The JSON is not a scheduler state dict: {e.Message}", nameof(json), e);
        }
    }

    private static SchedulerStateDict FromNode(JsonNode? node)
    {
        if (node is not JsonObject o || o["scheduler"] is not JsonValue kind || o["state"] is not JsonObject state)
            throw new FormatException("expected an object with \"scheduler\" and \"state\".");
        var entries = new List<(string, double[], bool)>();
        var texts = new List<(string, string)>();
        var nodes = new List<(string, JsonNode?)>();
        foreach (var (key, value) in state)
        {
            if (key == LrLambdasKey) nodes.Add((key, value?.DeepClone()));
            else if (value is JsonArray a) entries.Add((key, a.Select(ReadNumber).ToArray(), false));
            else if (value is JsonValue v && v.GetValueKind() == JsonValueKind.String && v.GetValue<string>() is var text
                     && text is not ("Infinity" or "-Infinity" or "NaN"))
                texts.Add((key, text));
            else entries.Add((key, [ReadNumber(value)], true));
        }
        var children = o["schedulers"] is JsonArray cs ? cs.Select(FromNode).ToArray() : [];
        var dict = new SchedulerStateDict(kind.GetValue<string>(), entries, children);
        dict._texts.AddRange(texts);
        dict._nodes.AddRange(nodes);
        return dict;
    }

    private static double ReadNumber(JsonNode? node) => node switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.GetValue<double>(),
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>() switch
        {
            "Infinity" => double.PositiveInfinity,
            "-Infinity" => double.NegativeInfinity,
            "NaN" => double.NaN,
            var s => throw new FormatException($"'{s}' is not a number."),
        },
        _ => throw new FormatException($"expected a number, got {node?.ToJsonString() ?? "null"}."),
    };

    /// <inheritdoc />
    public override string ToString() => ToJson();
}
