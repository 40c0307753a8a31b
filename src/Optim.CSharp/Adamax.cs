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
        : base(groups, Described.Defaults(Descriptors.adamax, lr, betas, eps, weightDecay, maximize)) { }
}
