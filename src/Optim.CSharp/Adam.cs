using Optim;

namespace Optim.CSharp;

/// <summary>The shared machinery of <see cref="Adam"/> and <see cref="AdamW"/>.</summary>
public abstract class AdamBase : Optimizer
{
    private protected AdamBase(IEnumerable<ParamGroup> groups, Descriptor descriptor, double lr, (double, double)? betas, double eps,
                               double weightDecay, bool amsgrad, bool maximize)
        : base(groups, Described.Defaults(descriptor, lr, betas, eps, weightDecay, amsgrad, maximize)) { }
}

/// <summary>
/// Adam, as <c>torch.optim.Adam</c> (Kingma &amp; Ba, "Adam: A Method for Stochastic Optimization", 2015), with
/// coupled L2 weight decay and AMSGrad (Reddi et al., 2018). Per parameter, at step <c>t</c>:
/// <c>g = ±g + λ·p</c>, <c>m = β₁m + (1−β₁)g</c>, <c>v = β₂v + (1−β₂)g²</c>, <c>v̂ = max(v̂, v)</c> with AMSGrad,
/// <c>p = p − (lr / (1−β₁ᵗ))·m / (√v / √(1−β₂ᵗ) + ε)</c>. State: <c>"step"</c>, <c>"exp_avg"</c>,
/// <c>"exp_avg_sq"</c>, <c>"max_exp_avg_sq"</c>.
/// </summary>
public sealed class Adam : AdamBase
{
    /// <summary>Adam over one group of parameters.</summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="betas">Decay rates of the first and second moments; null: (0.9, 0.999).</param>
    /// <param name="eps">Denominator term.</param>
    /// <param name="weightDecay">L2 penalty.</param>
    /// <param name="amsgrad">Use AMSGrad.</param>
    /// <param name="maximize">Maximise the objective.</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), or there are no parameters.</exception>
    public Adam(IEnumerable<Parameter> parameters, double lr = 1e-3, (double, double)? betas = null, double eps = 1e-8,
                double weightDecay = 0, bool amsgrad = false, bool maximize = false)
        : this(Single(parameters), lr, betas, eps, weightDecay, amsgrad, maximize) { }

    /// <summary>Adam over param groups; keys a group does not set take these values.</summary>
    /// <param name="groups">The param groups.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="betas">Decay rates of the first and second moments; null: (0.9, 0.999).</param>
    /// <param name="eps">Denominator term.</param>
    /// <param name="weightDecay">L2 penalty.</param>
    /// <param name="amsgrad">Use AMSGrad.</param>
    /// <param name="maximize">Maximise the objective.</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), or there are no groups.</exception>
    public Adam(IEnumerable<ParamGroup> groups, double lr = 1e-3, (double, double)? betas = null, double eps = 1e-8,
                double weightDecay = 0, bool amsgrad = false, bool maximize = false)
        : base(groups, Descriptors.adam, lr, betas, eps, weightDecay, amsgrad, maximize) { }
}

/// <summary>
/// AdamW, as <c>torch.optim.AdamW</c> (Loshchilov &amp; Hutter, "Decoupled Weight Decay Regularization", 2019):
/// Adam whose weight decay shrinks the parameter directly, <c>p = p·(1 − lr·λ)</c>, before the Adam step.
/// State as <see cref="Adam"/>.
/// </summary>
public sealed class AdamW : AdamBase
{
    /// <summary>AdamW over one group of parameters.</summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="betas">Decay rates of the first and second moments; null: (0.9, 0.999).</param>
    /// <param name="eps">Denominator term.</param>
    /// <param name="weightDecay">Decoupled weight decay.</param>
    /// <param name="amsgrad">Use AMSGrad.</param>
    /// <param name="maximize">Maximise the objective.</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), or there are no parameters.</exception>
    public AdamW(IEnumerable<Parameter> parameters, double lr = 1e-3, (double, double)? betas = null, double eps = 1e-8,
                 double weightDecay = 1e-2, bool amsgrad = false, bool maximize = false)
        : this(Single(parameters), lr, betas, eps, weightDecay, amsgrad, maximize) { }

    /// <summary>AdamW over param groups; keys a group does not set take these values.</summary>
    /// <param name="groups">The param groups.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="betas">Decay rates of the first and second moments; null: (0.9, 0.999).</param>
    /// <param name="eps">Denominator term.</param>
    /// <param name="weightDecay">Decoupled weight decay.</param>
    /// <param name="amsgrad">Use AMSGrad.</param>
    /// <param name="maximize">Maximise the objective.</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), or there are no groups.</exception>
    public AdamW(IEnumerable<ParamGroup> groups, double lr = 1e-3, (double, double)? betas = null, double eps = 1e-8,
                 double weightDecay = 1e-2, bool amsgrad = false, bool maximize = false)
        : base(groups, Descriptors.adamw, lr, betas, eps, weightDecay, amsgrad, maximize) { }
}
