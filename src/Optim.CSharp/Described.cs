using Optim;

namespace Optim.CSharp;

/// <summary>
/// The facade's side of the core's <see cref="Descriptor"/>: the defaults a built-in class fills into its groups, read
/// from its descriptor, and a group's values as the descriptor's rules read them.
/// </summary>
internal static class Described
{
    /// <summary>
    /// The defaults of a built-in class: the descriptor's, each replaced by the constructor's argument in the descriptor's
    /// order (null: the descriptor's own default), checked by its rules with the arguments' names.
    /// </summary>
    /// A required hyperparameter (SGD's <c>lr</c>) left null is not a default: every group must then set it.
    public static Defaults Defaults(Descriptor descriptor, params object?[] arguments)
    {
        // the rules check the given arguments; a required one not given is checked in each group instead
        var notGiven = descriptor.Specs.Select((s, i) => s.Default.Length == 0 && i < arguments.Length && arguments[i] is null).ToArray();
        var values = descriptor.Arguments(arguments.Select((a, i) => notGiven[i] ? (object)0.0 : a).ToArray()!);
        var scalars = new List<(string, double)>();
        var pairs = new List<(string, (double, double))>();
        var flags = new List<string>();
        for (int i = 0; i < descriptor.Specs.Length; i++)
        {
            var spec = descriptor.Specs[i];
            var v = values[i];
            if (notGiven[i]) continue;
            if (spec.Kind == HyperKind.Pair) pairs.Add((spec.Key, (v[0], v[1])));
            else scalars.Add((spec.Key, v[0]));
            if (spec.Kind == HyperKind.Flag) flags.Add(spec.Key);
        }
        return new(descriptor.Kind, [.. scalars], [.. pairs], [.. flags], Descriptor: descriptor);
    }
}

/// <summary>
/// A param group's values as a descriptor's rules read them, by its form of each key (a pair: <see cref="ParamGroup.GetPair"/>;
/// a scalar or flag: the indexer); exceptions name the argument (<c>weightDecay</c>), as the constructors' do.
/// </summary>
internal sealed class GroupValues(ParamGroup group, Descriptor descriptor) : HyperValues
{
    public Descriptor Descriptor => descriptor;

    public override double Get(string key, int index)
    {
        if (!descriptor.Owns(key, true)) return group[key];
        var (a, b) = group.GetPair(key);
        return index == 0 ? a : b;
    }

    public override string ParamName(string key) => descriptor.NameOf(key);
}

/// <summary>
/// One key's value, being set through a group's indexer or <see cref="ParamGroup.SetPair"/>; exceptions name the key.
/// One per thread, refilled for each check, so that the checks of a composed optimizer's step allocate nothing.
/// </summary>
internal sealed class KeyValue : HyperValues
{
    [ThreadStatic] private static KeyValue? t_current;

    private string _key = "";
    private double _first, _second;

    public static KeyValue Of(string key, double first, double second)
    {
        var v = t_current ??= new KeyValue();
        (v._key, v._first, v._second) = (key, first, second);
        return v;
    }

    public override double Get(string key, int index) =>
        key == _key ? (index == 0 ? _first : _second) : throw new KeyNotFoundException($"A rule of '{_key}' read '{key}'.");

    public override string ParamName(string key) => key;
}
