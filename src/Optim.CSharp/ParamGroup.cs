namespace Optim.CSharp;

/// <summary>
/// A group of parameters that share hyperparameters, as one dict of <c>optimizer.param_groups</c>.
/// Keys the group does not set take the optimizer's defaults when the group is added to it; a change
/// (to <see cref="Lr"/>, say) takes effect at the next <see cref="Optimizer.Step"/>.
/// </summary>
/// <example>
/// <code>
/// var head = new ParamGroup(headParams) { Lr = 1e-2, ["momentum"] = 0.9 };
/// var opt = new SGD(new[] { new ParamGroup(bodyParams), head }, lr: 1e-3);
/// </code>
/// </example>
public sealed class ParamGroup
{
    private readonly List<Parameter> _params;
    private readonly Dictionary<string, double> _values = new();
    private readonly Dictionary<string, (double, double)> _pairs = new();
    private readonly Dictionary<string, (double, double, double)> _triples = new();
    private readonly Dictionary<string, string?> _texts = new();
    private readonly List<string> _order = new();

    /// <summary>A group over these parameters, with no hyperparameter set yet.</summary>
    /// <param name="parameters">The parameters, in order.</param>
    /// <exception cref="ArgumentNullException">The sequence or one of its items is null.</exception>
    /// <exception cref="ArgumentException">A parameter appears twice, or two parameters share one <see cref="Parameter.Data"/> array.</exception>
    public ParamGroup(IEnumerable<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _params = new List<Parameter>();
        var seen = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        var buffers = new Dictionary<float[], Parameter>(ReferenceEqualityComparer.Instance);
        foreach (var p in parameters)
        {
            if (p is null) throw new ArgumentNullException(nameof(parameters), "A parameter group cannot hold a null parameter.");
            if (!seen.Add(p)) throw new ArgumentException($"{p} appears twice in the parameter group.", nameof(parameters));
            if (!buffers.TryAdd(p.Data, p))
                throw new ArgumentException(
                    $"{p} and {buffers[p.Data]} are one buffer (the same float[]): a step would update it twice.", nameof(parameters));
            _params.Add(p);
        }
    }

    /// <summary>The group's parameters.</summary>
    public IReadOnlyList<Parameter> Params => _params;

    /// <summary>The learning rate, <c>this["lr"]</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">On set: negative, NaN or infinite.</exception>
    public double Lr
    {
        get => this["lr"];
        set => this["lr"] = value;
    }

    /// <summary>
    /// A scalar hyperparameter by PyTorch's key (<c>"lr"</c>, <c>"momentum"</c>, <c>"weight_decay"</c>, <c>"eps"</c>, …).
    /// Boolean options (<c>"nesterov"</c>, <c>"amsgrad"</c>, <c>"maximize"</c>) read as 1 or 0 and are set true by any non-zero value.
    /// </summary>
    /// <param name="key">PyTorch's key.</param>
    /// <exception cref="KeyNotFoundException">On get: the group has no such scalar key (read pairs such as <c>"betas"</c> with <see cref="GetPair"/>).</exception>
    /// <exception cref="ArgumentException">On set: the key names a pair (<c>"betas"</c>, <c>"etas"</c>, <c>"step_sizes"</c>); set it with <see cref="SetPair"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">On set: NaN or infinite, or negative for a key that must be 0 or more.</exception>
    public double this[string key]
    {
        get
        {
            ArgumentNullException.ThrowIfNull(key);
            if (_values.TryGetValue(key, out var v)) return v;
            if (_pairs.ContainsKey(key) || Hyper.IsPair(key))
                throw new KeyNotFoundException($"'{key}' is a pair: read it with ParamGroup.GetPair(\"{key}\").");
            if (_triples.ContainsKey(key) || Hyper.IsTriple(key))
                throw new KeyNotFoundException($"'{key}' is a triple: read it with ParamGroup.GetTriple(\"{key}\").");
            if (_texts.ContainsKey(key) || Hyper.IsText(key))
                throw new KeyNotFoundException($"'{key}' is a string: read it with ParamGroup.GetText(\"{key}\").");
            throw new KeyNotFoundException($"The parameter group has no hyperparameter '{key}' (it has: {string.Join(", ", Keys)}).");
        }
        set
        {
            ArgumentNullException.ThrowIfNull(key);
            if (_pairs.ContainsKey(key) || Hyper.IsPair(key))
                throw new ArgumentException($"'{key}' is a pair: set it with ParamGroup.SetPair(\"{key}\", …).", nameof(key));
            if (_triples.ContainsKey(key) || Hyper.IsTriple(key))
                throw new ArgumentException($"'{key}' is a triple: set it with ParamGroup.SetTriple(\"{key}\", …).", nameof(key));
            if (_texts.ContainsKey(key) || Hyper.IsText(key))
                throw new ArgumentException($"'{key}' is a string: set it with ParamGroup.SetText(\"{key}\", …).", nameof(key));
            Hyper.CheckScalar(Descriptor, key, value);
            if (!_values.ContainsKey(key)) _order.Add(key);
            _values[key] = value;
        }
    }

    /// <summary>
    /// A pair-valued hyperparameter by PyTorch's key: <c>"betas"</c> (Adam, Adamax, NAdam, RAdam, …),
    /// <c>"etas"</c> and <c>"step_sizes"</c> (Rprop).
    /// </summary>
    /// <param name="key">PyTorch's key.</param>
    /// <returns>The pair, as PyTorch's tuple.</returns>
    /// <exception cref="KeyNotFoundException">The group has no such pair.</exception>
    public (double, double) GetPair(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_pairs.TryGetValue(key, out var v)) return v;
        throw new KeyNotFoundException($"The parameter group has no pair '{key}' (it has: {string.Join(", ", Keys)}).");
    }

    /// <summary>
    /// Sets a pair-valued hyperparameter by PyTorch's key (<c>"betas"</c>, <c>"etas"</c>, <c>"step_sizes"</c>).
    /// The change takes effect at the next step.
    /// </summary>
    /// <param name="key">PyTorch's key.</param>
    /// <param name="value">The pair.</param>
    /// <exception cref="ArgumentException">The key names a scalar this group already holds.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The pair is out of range: betas outside [0, 1); etas not <c>0 &lt; η₋ &lt; 1 &lt; η₊</c>;
    /// step sizes not <c>0 ≤ min ≤ max</c>; any value NaN or infinite.</exception>
    public void SetPair(string key, (double, double) value)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_values.ContainsKey(key)) throw new ArgumentException($"'{key}' is a scalar: set it with the indexer.", nameof(key));
        if (_triples.ContainsKey(key) || Hyper.IsTriple(key))
            throw new ArgumentException($"'{key}' is a triple: set it with ParamGroup.SetTriple(\"{key}\", …).", nameof(key));
        Hyper.CheckPair(Descriptor, key, value);
        if (!_pairs.ContainsKey(key)) _order.Add(key);
        _pairs[key] = value;
    }

    /// <summary>A hyperparameter of three values by PyTorch's key: <c>"ns_coefficients"</c> (Muon).</summary>
    /// <param name="key">PyTorch's key.</param>
    /// <returns>The triple, as PyTorch's tuple.</returns>
    /// <exception cref="KeyNotFoundException">The group has no such triple.</exception>
    public (double, double, double) GetTriple(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_triples.TryGetValue(key, out var v)) return v;
        throw new KeyNotFoundException($"The parameter group has no triple '{key}' (it has: {string.Join(", ", Keys)}).");
    }

    /// <summary>
    /// Sets a hyperparameter of three values by PyTorch's key: Muon's <c>"ns_coefficients"</c>, the <c>(a, b, c)</c> of its
    /// Newton–Schulz quintic. The change takes effect at the next step.
    /// </summary>
    /// <param name="key">PyTorch's key.</param>
    /// <param name="value">The triple.</param>
    /// <exception cref="ArgumentException">The key names a scalar, a pair or a string.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A value is NaN or infinite.</exception>
    public void SetTriple(string key, (double, double, double) value)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_values.ContainsKey(key) || _pairs.ContainsKey(key) || _texts.ContainsKey(key) || Hyper.IsPair(key) || Hyper.IsText(key))
            throw new ArgumentException($"'{key}' is not a triple: set it with the indexer, SetPair or SetText.", nameof(key));
        Hyper.CheckTriple(key, value);
        if (!_triples.ContainsKey(key)) _order.Add(key);
        _triples[key] = value;
    }

    /// <summary>A string-valued hyperparameter by PyTorch's key: <c>"line_search_fn"</c> (LBFGS).</summary>
    /// <param name="key">PyTorch's key.</param>
    /// <returns>The value; null is PyTorch's <c>None</c>.</returns>
    /// <exception cref="KeyNotFoundException">The group has no such string.</exception>
    public string? GetText(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_texts.TryGetValue(key, out var v)) return v;
        throw new KeyNotFoundException($"The parameter group has no string '{key}' (it has: {string.Join(", ", Keys)}).");
    }

    /// <summary>
    /// Sets a string-valued hyperparameter by PyTorch's key: <c>"line_search_fn"</c>, which takes <c>"strong_wolfe"</c>
    /// or null (no line search). The change takes effect at the next step.
    /// </summary>
    /// <param name="key">PyTorch's key.</param>
    /// <param name="value">The value; null is PyTorch's <c>None</c>.</param>
    /// <exception cref="ArgumentException">The key names a scalar or a pair, or the value is not one the key takes (the message names it).</exception>
    public void SetText(string key, string? value)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_values.ContainsKey(key) || _pairs.ContainsKey(key) || _triples.ContainsKey(key) || Hyper.IsPair(key) || Hyper.IsTriple(key))
            throw new ArgumentException($"'{key}' is not a string hyperparameter: set it with the indexer, SetPair or SetTriple.", nameof(key));
        Hyper.CheckText(key, value);
        if (!_texts.ContainsKey(key)) _order.Add(key);
        _texts[key] = value;
    }

    /// <summary>The pair <c>(beta1, beta2)</c> of optimizers with betas: <c>GetPair("betas")</c> and <c>SetPair("betas", …)</c>.</summary>
    /// <exception cref="KeyNotFoundException">On get: the group has no betas.</exception>
    /// <exception cref="ArgumentOutOfRangeException">On set: a beta outside [0, 1).</exception>
    public (double, double) Betas
    {
        get => GetPair("betas");
        set => SetPair("betas", value);
    }

    /// <summary>Whether the group sets this key, scalar, pair, triple or string.</summary>
    /// <param name="key">PyTorch's key.</param>
    public bool ContainsKey(string key) => _values.ContainsKey(key) || _pairs.ContainsKey(key) || _triples.ContainsKey(key) || _texts.ContainsKey(key);

    /// <summary>The keys the group sets, in the order they were first set.</summary>
    public IReadOnlyList<string> Keys => _order;

    internal bool Contains(Parameter p) => _params.Contains(p);

    /// <summary>The descriptor of the built-in optimizer the group was added to, whose rules its setters apply (null: none).</summary>
    internal Optim.Descriptor? Descriptor { get; set; }

    private GroupValues? _described;

    /// <summary>The group's values as the descriptor's rules read them (kept, so that a step's check allocates nothing).</summary>
    internal GroupValues ValuesFor(Optim.Descriptor descriptor) =>
        _described is { } v && ReferenceEquals(v.Descriptor, descriptor) ? v : _described = new GroupValues(this, descriptor);

    /// <summary>
    /// Writes a value a learning-rate scheduler computed. It must be finite but may leave the key's range, as
    /// PyTorch's schedules do past their end (OneCycleLR's momentum extrapolated after its last step may exceed
    /// its bound); the optimizer's next <see cref="Optimizer.Step"/> rejects such a value.
    /// </summary>
    internal void SetComputed(string key, double value)
    {
        if (!double.IsFinite(value)) throw new InvalidOperationException($"A scheduler computed {value} for '{key}'.");
        if (key == "betas")
        {
            var (_, b2) = Betas;
            _pairs["betas"] = (value, b2);
            return;
        }
        if (!_values.ContainsKey(key)) _order.Add(key);
        _values[key] = value;
    }

    /// <summary>Sets every key without the setters' checks, restoring a validated snapshot.</summary>
    internal void Restore(HyperSnapshot snapshot)
    {
        _values.Clear();
        foreach (var (k, v) in snapshot.Scalars) _values[k] = v;
        _pairs.Clear();
        foreach (var (k, v) in snapshot.Pairs) _pairs[k] = v;
        _triples.Clear();
        foreach (var (k, v) in snapshot.Triples ?? []) _triples[k] = v;
        _texts.Clear();
        foreach (var (k, v) in snapshot.Texts ?? []) _texts[k] = v;
        _order.Clear();
        _order.AddRange(snapshot.Order);
    }

    internal HyperSnapshot Snapshot() =>
        new(_values.Select(kv => (kv.Key, kv.Value)).ToList(), _pairs.Select(kv => (kv.Key, kv.Value)).ToList(), _order.ToList(),
            _texts.Select(kv => (kv.Key, kv.Value)).ToList(), _triples.Select(kv => (kv.Key, kv.Value)).ToList());
}

/// <summary>A group's hyperparameters: scalars (flags as 1/0), pairs, the order the keys were set in, strings (null: None)
/// and triples.</summary>
internal sealed record HyperSnapshot(List<(string Key, double Value)> Scalars, List<(string Key, (double, double) Value)> Pairs, List<string> Order,
                                     List<(string Key, string? Value)>? Texts = null, List<(string Key, (double, double, double) Value)>? Triples = null);

/// <summary>
/// The rules of a group's keys as they are set one at a time (the rules that read other keys too, such as SGD's
/// Nesterov condition, apply when the group is added and before each step). A key of the group's optimizer follows that
/// optimizer's descriptor; a key of a group that no descriptor holds (not added yet, or a subclass's, a composed
/// optimizer's), the descriptors of every torch.optim optimizer that has it, which agree; every value must be finite;
/// LBFGS's keys (no descriptor) follow the rules below.
/// </summary>
internal static class Hyper
{
    // LBFGS's keys: counts are whole numbers of 1 or more, tolerances 0 or more
    private static readonly HashSet<string> Counts = ["max_iter", "max_eval", "history_size"];
    // Muon's adjustments of the learning rate to a matrix's shape: PyTorch's None (null) and these
    private static readonly string?[] LrAdjustments = [null, "original", "match_rms_adamw"];
    private static readonly HashSet<string> Tolerances = ["tolerance_grad", "tolerance_change"];

    public static void CheckScalar(string key, double value) => CheckScalar(null, key, value);

    public static void CheckScalar(Optim.Descriptor? owner, string key, double value)
    {
        if (!double.IsFinite(value))
            throw new ArgumentOutOfRangeException(key, value, $"Invalid {key} value: {value}; it must be a finite number.");
        CheckByDescriptors(owner, key, pair: false, KeyValue.Of(key, value, value));
        if (Tolerances.Contains(key) && value < 0)
            throw new ArgumentOutOfRangeException(key, value, $"Invalid {key} value: {value}; it must be 0 or more.");
        if (Counts.Contains(key) && !(value >= 1 && value <= int.MaxValue && Math.Floor(value) == value))
            throw new ArgumentOutOfRangeException(key, value, $"Invalid {key} value: {value}; it must be a whole number, 1 or more.");
        if (key == "ns_steps" && !(value >= 1 && value <= MuonOptionsModule.MaxNsSteps && Math.Floor(value) == value))
            throw new ArgumentOutOfRangeException(key, value,
                $"Invalid {key} value: {value}; it must be a whole number from 1 to {MuonOptionsModule.MaxNsSteps} (PyTorch takes fewer than 100).");
    }

    /// <summary>Whether PyTorch's key names a string-valued hyperparameter (None allowed).</summary>
    public static bool IsText(string key) => key is "line_search_fn" or "adjust_lr_fn";

    public static void CheckText(string key, string? value) => CheckText(key, value, key);

    /// <summary>Checks a string's value; the exception names <paramref name="paramName"/> (a constructor's argument, or the key).</summary>
    public static void CheckText(string key, string? value, string paramName)
    {
        if (key == "line_search_fn" && value is not null and not "strong_wolfe")
            throw new ArgumentException($"Invalid {key} value: '{value}'; only 'strong_wolfe' and null (no line search) are supported.", paramName);
        if (key == "adjust_lr_fn" && Array.IndexOf(LrAdjustments, value) < 0)
            throw new ArgumentException(
                $"Invalid {key} value: '{value}'; it must be null (PyTorch's None: \"original\"), \"original\" or \"match_rms_adamw\".", paramName);
    }

    /// <summary>Whether PyTorch's key names a hyperparameter of three values (Muon's <c>ns_coefficients</c>).</summary>
    public static bool IsTriple(string key) => key is "ns_coefficients";

    public static void CheckTriple(string key, (double, double, double) value)
    {
        var (a, b, c) = value;
        if (!double.IsFinite(a) || !double.IsFinite(b) || !double.IsFinite(c))
            throw new ArgumentOutOfRangeException(key, value, $"Invalid {key} value: ({a}, {b}, {c}); each must be a finite number.");
    }

    /// <summary>Whether PyTorch's key names a pair-valued hyperparameter of some torch.optim optimizer.</summary>
    public static bool IsPair(string key) => Descriptors.isPair(key);

    public static void CheckPair(string key, (double, double) pair) => CheckPair(null, key, pair);

    public static void CheckPair(Optim.Descriptor? owner, string key, (double, double) pair)
    {
        var (a, b) = pair;
        CheckByDescriptors(owner, key, pair: true, KeyValue.Of(key, a, b));
        if (!double.IsFinite(a) || !double.IsFinite(b))
            throw new ArgumentOutOfRangeException(key, pair, $"Invalid {key} value: ({a}, {b}); both must be finite numbers.");
    }

    private static void CheckByDescriptors(Optim.Descriptor? owner, string key, bool pair, KeyValue value)
    {
        if (owner is not null && owner.Owns(key, pair)) owner.CheckKey(key, value);
        else Descriptors.checkKey(key, pair, value);
    }
}
