using Optim;

namespace Optim.CSharp;

/// <summary>
/// RAdam, rectified Adam, as <c>torch.optim.RAdam</c> (Liu et al., "On the Variance of the Adaptive Learning Rate
/// and Beyond", ICLR 2020), with PyTorch 2.x's <c>decoupled_weight_decay</c> and <c>maximize</c>. Per parameter, at
/// step <c>t</c>: <c>g = ±g + λ·p</c> (or, decoupled, <c>p = p·(1 − lr·λ)</c>), <c>m = β₁·m + (1−β₁)·g</c>,
/// <c>v = β₂·v + (1−β₂)·g²</c>, <c>m̂ = m / (1−β₁ᵗ)</c>; with <c>ρ∞ = 2/(1−β₂) − 1</c> and
/// <c>ρₜ = ρ∞ − 2tβ₂ᵗ/(1−β₂ᵗ)</c>, when <c>ρₜ &gt; 5</c>, <c>p = p − lr·m̂·r·√(1−β₂ᵗ)/(√v + ε)</c> with
/// <c>r = √((ρₜ−4)(ρₜ−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρₜ))</c>, otherwise <c>p = p − lr·m̂</c>.
/// State: <c>"step"</c>, <c>"exp_avg"</c>, <c>"exp_avg_sq"</c>.
/// </summary>
public sealed class RAdam : Optimizer
{
    private static Defaults MakeDefaults(double lr, (double, double) betas, double eps, double weightDecay, bool decoupledWeightDecay, bool maximize)
    {
        RadamOptionsModule.validate(new RadamOptions(lr, betas.Item1, betas.Item2, eps, weightDecay, decoupledWeightDecay, maximize));
        return new("RAdam", [("lr", lr), ("eps", eps), ("weight_decay", weightDecay), ("decoupled_weight_decay", decoupledWeightDecay ? 1 : 0), ("maximize", maximize ? 1 : 0)], [("betas", betas)], ["decoupled_weight_decay", "maximize"]);
    }

    /// <summary>RAdam over one group of parameters.</summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="betas">Decay rates of the first and second moments; null: (0.9, 0.999).</param>
    /// <param name="eps">Denominator term.</param>
    /// <param name="weightDecay">Weight decay: L2 penalty, or decoupled with <paramref name="decoupledWeightDecay"/>.</param>
    /// <param name="decoupledWeightDecay">Decay the parameter directly, as AdamW does (PyTorch 2.x).</param>
    /// <param name="maximize">Maximise the objective (PyTorch 2.x).</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), or there are no parameters.</exception>
    public RAdam(IEnumerable<Parameter> parameters, double lr = 1e-3, (double, double)? betas = null, double eps = 1e-8, double weightDecay = 0, bool decoupledWeightDecay = false, bool maximize = false)
        : this(Single(parameters), lr, betas, eps, weightDecay, decoupledWeightDecay, maximize) { }

    /// <summary>RAdam over param groups; keys a group does not set take these values.</summary>
    /// <param name="groups">The param groups.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="betas">Decay rates of the first and second moments; null: (0.9, 0.999).</param>
    /// <param name="eps">Denominator term.</param>
    /// <param name="weightDecay">Weight decay: L2 penalty, or decoupled with <paramref name="decoupledWeightDecay"/>.</param>
    /// <param name="decoupledWeightDecay">Decay the parameter directly, as AdamW does (PyTorch 2.x).</param>
    /// <param name="maximize">Maximise the objective (PyTorch 2.x).</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), or there are no groups.</exception>
    public RAdam(IEnumerable<ParamGroup> groups, double lr = 1e-3, (double, double)? betas = null, double eps = 1e-8, double weightDecay = 0, bool decoupledWeightDecay = false, bool maximize = false)
        : base(groups, MakeDefaults(lr, betas ?? (0.9, 0.999), eps, weightDecay, decoupledWeightDecay, maximize)) { }

    private static RadamOptions Read(ParamGroup g)
    {
        var (b1, b2) = g.GetPair("betas");
        return RadamOptionsModule.validate(new RadamOptions(g["lr"], b1, b2, g["eps"], g["weight_decay"], Flag(g, "decoupled_weight_decay"), Flag(g, "maximize")));
    }

    private protected override State InitState(Tensor[] parameters) =>
        Alias.radam(RadamOptionsModule.defaults).Init.Invoke(parameters);

    private protected override void Validate(ParamGroup group) => Read(group);

    private protected override void Prepare(int index, ParamGroup group) => Read(group);

    private protected override bool Chained => true;

    private protected override GradientTransformation BuildChain(Hypers hypers) => Chains.radam(hypers);

}
