using Optim;

namespace Optim.CSharp;

/// <summary>
/// Adamax, the infinity-norm variant of Adam, as <c>torch.optim.Adamax</c> (Kingma &amp; Ba, "Adam: A Method
/// for Stochastic Optimization", 2015, §7). Per parameter, at step <c>t</c>: <c>g = ±g + λ·p</c>,
/// <c>m = β₁·m + (1−β₁)·g</c>, <c>u = max(β₂·u, |g| + ε)</c>, <c>p = p − (lr / (1−β₁ᵗ))·m / u</c>.
/// State: <c>"step"</c>, <c>"exp_avg"</c>, <c>"exp_inf"</c>.
/// </summary>
public sealed class Adamax : Optimizer
{
    private static Defaults MakeDefaults(double lr, (double, double) betas, double eps, double weightDecay, bool maximize)
    {
        AdamaxOptionsModule.validate(new AdamaxOptions(lr, betas.Item1, betas.Item2, eps, weightDecay, maximize));
        return new("Adamax", [("lr", lr), ("eps", eps), ("weight_decay", weightDecay), ("maximize", maximize ? 1 : 0)], [("betas", betas)], ["maximize"]);
    }

    /// <summary>Adamax over one group of parameters.</summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="betas">Decay rates of the first moment and of the infinity norm; null: (0.9, 0.999).</param>
    /// <param name="eps">Term added to the gradient's magnitude.</param>
    /// <param name="weightDecay">L2 penalty.</param>
    /// <param name="maximize">Maximise the objective.</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), or there are no parameters.</exception>
    public Adamax(IEnumerable<Parameter> parameters, double lr = 2e-3, (double, double)? betas = null, double eps = 1e-8, double weightDecay = 0, bool maximize = false)
        : this(Single(parameters), lr, betas, eps, weightDecay, maximize) { }

    /// <summary>Adamax over param groups; keys a group does not set take these values.</summary>
    /// <param name="groups">The param groups.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="betas">Decay rates of the first moment and of the infinity norm; null: (0.9, 0.999).</param>
    /// <param name="eps">Term added to the gradient's magnitude.</param>
    /// <param name="weightDecay">L2 penalty.</param>
    /// <param name="maximize">Maximise the objective.</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), or there are no groups.</exception>
    public Adamax(IEnumerable<ParamGroup> groups, double lr = 2e-3, (double, double)? betas = null, double eps = 1e-8, double weightDecay = 0, bool maximize = false)
        : base(groups, MakeDefaults(lr, betas ?? (0.9, 0.999), eps, weightDecay, maximize)) { }

    private static AdamaxOptions Read(ParamGroup g)
    {
        var (b1, b2) = g.GetPair("betas");
        return AdamaxOptionsModule.validate(new AdamaxOptions(g["lr"], b1, b2, g["eps"], g["weight_decay"], Flag(g, "maximize")));
    }

    private protected override State InitState(Tensor[] parameters) =>
        Alias.adamax(AdamaxOptionsModule.defaults).Init.Invoke(parameters);

    private protected override void Validate(ParamGroup group) => Read(group);

    private protected override void Prepare(int index, ParamGroup group) => Read(group);

    private protected override bool Chained => true;

    private protected override GradientTransformation BuildChain(Hypers hypers) => Chains.adamax(hypers);

}
