using Optim.CSharp;

namespace Optim.NN;

/// <summary>Modules applied one after the other (<c>torch.nn.Sequential</c>).</summary>
public sealed class Sequential : Module
{
    private readonly Module[] _modules;

    /// <summary>A chain of modules, applied in the order given.</summary>
    /// <param name="modules">The modules.</param>
    /// <exception cref="ArgumentNullException"><paramref name="modules"/> or one of them is null.</exception>
    /// <example><code>var model = new Sequential(new Linear(784, 128, random: rng), new ReLU(), new Linear(128, 10, random: rng));</code></example>
    public Sequential(params Module[] modules)
    {
        ArgumentNullException.ThrowIfNull(modules);
        for (int i = 0; i < modules.Length; i++)
            if (modules[i] is null) throw new ArgumentNullException(nameof(modules), $"Module {i} is null.");
        _modules = (Module[])modules.Clone();
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

    /// <inheritdoc />
    public override IEnumerable<Parameter> Parameters()
    {
        foreach (var m in _modules)
            foreach (var p in m.Parameters()) yield return p;
    }
}
