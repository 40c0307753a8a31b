using Optim.CSharp;

namespace Optim.NN;

/// <summary>
/// Modules applied one after the other (<c>torch.nn.Sequential</c>). Its children are named by position, <c>0</c>,
/// <c>1</c>, …, layers without parameters included, so <c>Sequential(Linear, ReLU, Linear)</c> has the parameters
/// <c>0.weight</c>, <c>0.bias</c>, <c>2.weight</c>, <c>2.bias</c>, as in PyTorch.
/// </summary>
public sealed class Sequential : Module
{
    private readonly Module[] _modules;

    /// <summary>
    /// A chain of modules, applied in the order given. It sets the <see cref="Parameter.Name"/> of every parameter below
    /// it to the parameter's dotted name in this chain (<see cref="Module.NamedParameters"/>: <c>0.weight</c>, <c>1.0.bias</c>),
    /// so that an optimizer's state dict records which layer each parameter is; a chain placed in another chain renames
    /// them again, from the outer one.
    /// </summary>
    /// <param name="modules">The modules.</param>
    /// <exception cref="ArgumentNullException"><paramref name="modules"/> or one of them is null.</exception>
    /// <example><code>var model = new Sequential(new Linear(784, 128, random: rng), new ReLU(), new Linear(128, 10, random: rng));
    /// // model.Parameters() are named 0.weight, 0.bias, 2.weight, 2.bias</code></example>
    public Sequential(params Module[] modules)
    {
        ArgumentNullException.ThrowIfNull(modules);
        for (int i = 0; i < modules.Length; i++)
            if (modules[i] is null) throw new ArgumentNullException(nameof(modules), $"Module {i} is null.");
        _modules = (Module[])modules.Clone();
        foreach (var (name, p) in NamedParameters()) p.Name = name;
    }

    /// <summary>The modules, in order.</summary>
    public IReadOnlyList<Module> Modules => _modules;

    /// <summary>The module at <paramref name="index"/> (<c>model[0]</c>).</summary>
    /// <param name="index">The position.</param>
    public Module this[int index] => _modules[index];

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        var x = input;
        foreach (var m in _modules) x = m.Forward(x);
        return x;
    }

    /// <summary>The modules, named by position: <c>"0"</c>, <c>"1"</c>, ….</summary>
    protected override IEnumerable<(string Name, Module Module)> RegisteredChildren() =>
        _modules.Select((m, i) => (i.ToString(System.Globalization.CultureInfo.InvariantCulture), m));
}
