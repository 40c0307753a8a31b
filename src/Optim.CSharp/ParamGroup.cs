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
    private readonly List<string> _order = new();
    private (double, double)? _betas;

    /// <summary>A group over these parameters, with no hyperparameter set yet.</summary>
    /// <param name="parameters">The parameters, in order.</param>
    /// <exception cref="ArgumentNullException">The sequence or one of its items is null.</exception>
    /// <exception cref="ArgumentException">A parameter appears twice.</exception>
    public ParamGroup(IEnumerable<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _params = new List<Parameter>();
        var seen = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        foreach (var p in parameters)
        {
            if (p is null) throw new ArgumentNullException(nameof(parameters), "A parameter group cannot hold a null parameter.");
            if (!seen.Add(p)) throw new ArgumentException($"{p} appears twice in the parameter group.", nameof(parameters));
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
    /// <exception cref="KeyNotFoundException">On get: the group has no such key (use <see cref="Betas"/> for <c>"betas"</c>).</exception>
    /// <exception cref="ArgumentOutOfRangeException">On set: NaN or infinite, or negative for a key that must be 0 or more.</exception>
    public double this[string key]
    {
        get
        {
            ArgumentNullException.ThrowIfNull(key);
            if (_values.TryGetValue(key, out var v)) return v;
            if (key == "betas") throw new KeyNotFoundException("'betas' is a pair: read it with ParamGroup.Betas.");
            throw new KeyNotFoundException($"The parameter group has no hyperparameter '{key}' (it has: {string.Join(", ", Keys)}).");
        }
        set
        {
            ArgumentNullException.ThrowIfNull(key);
            if (key == "betas") throw new ArgumentException("'betas' is a pair: set it with ParamGroup.Betas.", nameof(key));
            Hyper.CheckScalar(key, value);
            if (!_values.ContainsKey(key)) _order.Add(key);
            _values[key] = value;
        }
    }

    /// <summary>The pair <c>(beta1, beta2)</c> of optimizers with betas (<c>"betas"</c>).</summary>
    /// <exception cref="KeyNotFoundException">On get: the group has no betas.</exception>
    /// <exception cref="ArgumentOutOfRangeException">On set: a beta outside [0, 1).</exception>
    public (double, double) Betas
    {
        get => _betas ?? throw new KeyNotFoundException("The parameter group has no 'betas'.");
        set
        {
            Hyper.CheckBetas(value);
            if (_betas is null) _order.Add("betas");
            _betas = value;
        }
    }

    /// <summary>Whether the group sets this key.</summary>
    /// <param name="key">PyTorch's key.</param>
    public bool ContainsKey(string key) => key == "betas" ? _betas.HasValue : _values.ContainsKey(key);

    /// <summary>The keys the group sets, in the order they were first set.</summary>
    public IReadOnlyList<string> Keys => _order;

    internal bool Contains(Parameter p) => _params.Contains(p);

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
            _betas = (value, b2);
            return;
        }
        if (!_values.ContainsKey(key)) _order.Add(key);
        _values[key] = value;
    }

    /// <summary>Sets a key without the setter's checks, restoring a validated snapshot.</summary>
    internal void Restore(IReadOnlyList<(string Key, double Value)> scalars, (double, double)? betas, IReadOnlyList<string> order)
    {
        _values.Clear();
        foreach (var (k, v) in scalars) _values[k] = v;
        _betas = betas;
        _order.Clear();
        _order.AddRange(order);
    }

    internal (List<(string, double)> Scalars, (double, double)? Betas, List<string> Order) Snapshot() =>
        (_order.Where(k => k != "betas").Select(k => (k, _values[k])).ToList(), _betas, _order.ToList());
}

/// <summary>Hyperparameter rules shared by every optimizer's group keys.</summary>
internal static class Hyper
{
    private static readonly HashSet<string> NonNegative =
        ["lr", "momentum", "dampening", "weight_decay", "eps", "lr_decay", "initial_accumulator_value", "alpha", "lambd", "t0", "momentum_decay"];

    public static void CheckScalar(string key, double value)
    {
        if (!double.IsFinite(value))
            throw new ArgumentOutOfRangeException(key, value, $"Invalid {key} value: {value}; it must be a finite number.");
        if (NonNegative.Contains(key) && value < 0)
            throw new ArgumentOutOfRangeException(key, value, $"Invalid {key} value: {value}; it must be 0 or more.");
    }

    public static void CheckBetas((double, double) betas)
    {
        var (b1, b2) = betas;
        if (!(b1 >= 0 && b1 < 1)) throw new ArgumentOutOfRangeException("betas", b1, $"Invalid beta parameter at index 0: {b1}; it must be in [0, 1).");
        if (!(b2 >= 0 && b2 < 1)) throw new ArgumentOutOfRangeException("betas", b2, $"Invalid beta parameter at index 1: {b2}; it must be in [0, 1).");
    }
}
