using Optim;

namespace Optim.CSharp;

/// <summary>
/// NAdam, Adam with Nesterov momentum, as <c>torch.optim.NAdam</c> (Dozat, "Incorporating Nesterov Momentum into
/// Adam", 2016), with PyTorch 2.x's <c>decoupled_weight_decay</c> and <c>maximize</c>. Per parameter, at step <c>t</c>,
/// with the momentum schedule <c>μₜ = β₁·(1 − ½·0.96^(t·ψ))</c> and its running product <c>Πₜ</c>: <c>g = ±g + λ·p</c>
/// (or, decoupled, <c>p = p·(1 − lr·λ)</c>), <c>m = β₁·m + (1−β₁)·g</c>, <c>v = β₂·v + (1−β₂)·g²</c>,
/// <c>d = √(v / (1−β₂ᵗ)) + ε</c>, <c>p = p − lr·(1−μₜ)/(1−Πₜ)·g/d − lr·μₜ₊₁/(1−Πₜμₜ₊₁)·m/d</c>.
/// State: <c>"step"</c>, <c>"mu_product"</c>, <c>"exp_avg"</c>, <c>"exp_avg_sq"</c>.
/// </summary>
public sealed class NAdam : Optimizer
{
    /// <summary>NAdam over one group of parameters.</summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="betas">Decay rates of the first and second moments; null: (0.9, 0.999).</param>
    /// <param name="eps">Denominator term.</param>
    /// <param name="weightDecay">Weight decay: L2 penalty, or decoupled with <paramref name="decoupledWeightDecay"/>.</param>
    /// <param name="momentumDecay">Momentum decay ψ.</param>
    /// <param name="decoupledWeightDecay">Decay the parameter directly, as AdamW does (PyTorch 2.x).</param>
    /// <param name="maximize">Maximise the objective (PyTorch 2.x).</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), or there are no parameters.</exception>
    public NAdam(IEnumerable<Parameter> parameters, double lr = 2e-3, (double, double)? betas = null, double eps = 1e-8, double weightDecay = 0, double momentumDecay = 4e-3, bool decoupledWeightDecay = false, bool maximize = false)
        : this(Single(parameters), lr, betas, eps, weightDecay, momentumDecay, decoupledWeightDecay, maximize) { }

    /// <summary>NAdam over param groups; keys a group does not set take these values.</summary>
    /// <param name="groups">The param groups.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="betas">Decay rates of the first and second moments; null: (0.9, 0.999).</param>
    /// <param name="eps">Denominator term.</param>
    /// <param name="weightDecay">Weight decay: L2 penalty, or decoupled with <paramref name="decoupledWeightDecay"/>.</param>
    /// <param name="momentumDecay">Momentum decay ψ.</param>
    /// <param name="decoupledWeightDecay">Decay the parameter directly, as AdamW does (PyTorch 2.x).</param>
    /// <param name="maximize">Maximise the objective (PyTorch 2.x).</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), or there are no groups.</exception>
    public NAdam(IEnumerable<ParamGroup> groups, double lr = 2e-3, (double, double)? betas = null, double eps = 1e-8, double weightDecay = 0, double momentumDecay = 4e-3, bool decoupledWeightDecay = false, bool maximize = false)
        : base(groups, Described.Defaults(Descriptors.nadam, lr, betas, eps, weightDecay, momentumDecay, decoupledWeightDecay, maximize)) { }
}
