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
        : base(groups, Described.Defaults(Descriptors.radam, lr, betas, eps, weightDecay, decoupledWeightDecay, maximize)) { }
}
