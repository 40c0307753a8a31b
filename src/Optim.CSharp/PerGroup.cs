namespace Optim.CSharp;

/// <summary>
/// A scheduler argument given once for every param group or once per group, as PyTorch's "float or list"
/// arguments (<c>max_lr</c>, <c>min_lr</c>, <c>swa_lr</c>, …). Both convert implicitly: pass <c>0.1</c> or
/// <c>new[] { 0.1, 0.05 }</c>.
/// </summary>
/// <remarks>
/// A single value also covers param groups added to the optimizer after the scheduler was created; a per-group
/// array cannot, and such a group makes the scheduler's next <c>Step</c> throw (see <see cref="LRScheduler"/>).
/// </remarks>
public readonly struct PerGroup
{
    private readonly double _value;
    private readonly double[]? _values;

    private PerGroup(double value, double[]? values)
    {
        _value = value;
        _values = values;
    }

    /// <summary>One value for every group.</summary>
    /// <param name="value">The value.</param>
    public static implicit operator PerGroup(double value) => new(value, null);

    /// <summary>One value per group, in the optimizer's group order (the array is copied).</summary>
    /// <param name="values">The values.</param>
    /// <exception cref="ArgumentNullException"><paramref name="values"/> is null.</exception>
    public static implicit operator PerGroup(double[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return new(0, (double[])values.Clone());
    }

    /// <summary>Whether values were given per group.</summary>
    public bool IsPerGroup => _values is not null;

    /// <summary>The value for a group.</summary>
    /// <param name="group">The group's index.</param>
    /// <exception cref="ArgumentOutOfRangeException">Values were given per group and there is none for this index.</exception>
    public double this[int group] =>
        _values is null ? _value
        : group >= 0 && group < _values.Length ? _values[group]
        : throw new ArgumentOutOfRangeException(nameof(group), group, $"Values were given for {_values.Length} groups.");

    /// <summary>Whether the argument has a value for group <paramref name="group"/>.</summary>
    internal bool Covers(int group) => _values is null || group < _values.Length;

    /// <summary>
    /// Checks the argument against the optimizer's groups: a per-group array must have one value per group, and
    /// every value must satisfy <paramref name="valid"/>.
    /// </summary>
    internal PerGroup Check(string name, string key, int groups, Func<double, bool> valid, string rule)
    {
        if (_values is not null && _values.Length != groups)
            throw new ArgumentException($"Expected {groups} values for {key}, got {_values.Length}.", name);
        foreach (var v in _values ?? [_value])
            if (!valid(v)) throw new ArgumentOutOfRangeException(name, v, $"Invalid {key} value: {v}; it must be {rule}.");
        return this;
    }

    /// <inheritdoc />
    public override string ToString() => _values is null ? _value.ToString(System.Globalization.CultureInfo.InvariantCulture)
        : "[" + string.Join(", ", _values.Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";
}
