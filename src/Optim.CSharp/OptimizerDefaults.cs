using System.Collections;

namespace Optim.CSharp;

/// <summary>
/// The hyperparameters an optimizer written by subclassing <see cref="Optimizer"/> fills into param groups that do not
/// set them, by PyTorch key: the <c>defaults</c> dict a <c>torch.optim.Optimizer</c> subclass hands to
/// <c>super().__init__(params, defaults)</c>. A value is a scalar (<c>"lr"</c>, <c>"eps"</c>, …), a pair
/// (<c>"betas"</c>, …) or a flag (<c>"maximize"</c>, …); a flag reads as 1 or 0 through the group's indexer and is
/// written as a boolean in state dicts.
/// </summary>
/// <remarks>The optimizer copies the values when it is built; a later change to this object does not reach it.</remarks>
/// <example>
/// <code>
/// var defaults = new OptimizerDefaults { { "lr", 1e-3 }, { "betas", (0.9, 0.999) }, { "weight_decay", 0.0 }, { "maximize", false } };
/// </code>
/// </example>
public sealed class OptimizerDefaults : IEnumerable<string>
{
    private readonly List<(string Key, double Value)> _scalars = new();
    private readonly List<(string Key, (double, double) Value)> _pairs = new();
    private readonly List<string> _flags = new();
    private readonly List<string> _keys = new();

    /// <summary>Adds a scalar hyperparameter.</summary>
    /// <param name="key">PyTorch's key (<c>"lr"</c>, <c>"momentum"</c>, <c>"eps"</c>, …).</param>
    /// <param name="value">Its default.</param>
    /// <returns>This object, for chained calls.</returns>
    /// <exception cref="ArgumentException">The key is empty, <c>"params"</c>, already added, or one that holds a pair
    /// (<c>"betas"</c>, <c>"etas"</c>, <c>"step_sizes"</c>) or a string (<c>"line_search_fn"</c>).</exception>
    /// <exception cref="ArgumentOutOfRangeException">The value is NaN or infinite, or negative for a key that must be 0 or
    /// more (<c>"lr"</c>, <c>"momentum"</c>, <c>"weight_decay"</c>, <c>"eps"</c>, …), as for <see cref="ParamGroup"/>.</exception>
    public OptimizerDefaults Add(string key, double value)
    {
        CheckNewKey(key, pair: false);
        Hyper.CheckScalar(key, value);
        _scalars.Add((key, value));
        _keys.Add(key);
        return this;
    }

    /// <summary>Adds a pair-valued hyperparameter.</summary>
    /// <param name="key">PyTorch's key (<c>"betas"</c>, or a pair of the optimizer's own).</param>
    /// <param name="value">Its default.</param>
    /// <returns>This object, for chained calls.</returns>
    /// <exception cref="ArgumentException">The key is empty, <c>"params"</c>, already added, or names a string.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The pair is out of range for its key (betas outside [0, 1), …) or not finite.</exception>
    public OptimizerDefaults Add(string key, (double, double) value)
    {
        CheckNewKey(key, pair: true);
        Hyper.CheckPair(key, value);
        _pairs.Add((key, value));
        _keys.Add(key);
        return this;
    }

    /// <summary>Adds a boolean option (a flag), as PyTorch's <c>nesterov</c>, <c>amsgrad</c> or <c>maximize</c>.</summary>
    /// <param name="key">PyTorch's key.</param>
    /// <param name="value">Its default.</param>
    /// <returns>This object, for chained calls.</returns>
    /// <exception cref="ArgumentException">The key is empty, <c>"params"</c>, already added, or one that holds a pair or a string.</exception>
    public OptimizerDefaults Add(string key, bool value)
    {
        CheckNewKey(key, pair: false);
        _scalars.Add((key, value ? 1 : 0));
        _flags.Add(key);
        _keys.Add(key);
        return this;
    }

    /// <summary>The keys, in the order they were added.</summary>
    public IReadOnlyList<string> Keys => _keys;

    /// <summary>Whether a key was added.</summary>
    /// <param name="key">PyTorch's key.</param>
    public bool ContainsKey(string key) => _keys.Contains(key);

    /// <summary>Enumerates the keys, in the order they were added.</summary>
    public IEnumerator<string> GetEnumerator() => _keys.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The optimizer's description of its kind: these values, its name and its elementwise state buffers.</summary>
    internal Defaults ToDefaults(string kind, string[] stateNames) =>
        new(kind, _scalars.ToArray(), _pairs.ToArray(), _flags.ToArray(), StateNames: stateNames);

    private void CheckNewKey(string key, bool pair)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length == 0) throw new ArgumentException("A hyperparameter needs a key.", nameof(key));
        if (key == "params") throw new ArgumentException("'params' holds a group's parameters; it cannot be a hyperparameter.", nameof(key));
        if (_keys.Contains(key)) throw new ArgumentException($"The hyperparameter '{key}' was already added.", nameof(key));
        if (Hyper.IsText(key))
            throw new ArgumentException($"'{key}' holds a string; an optimizer subclass takes scalars, pairs and flags.", nameof(key));
        if (!pair && Hyper.IsPair(key)) throw new ArgumentException($"'{key}' is a pair: add it as a pair, such as (0.9, 0.999).", nameof(key));
    }
}
