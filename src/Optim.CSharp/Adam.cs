using Optim;

namespace Optim.CSharp;

/// <summary>The shared machinery of <see cref="Adam"/> and <see cref="AdamW"/>.</summary>
public abstract class AdamBase : Optimizer
{
    private protected AdamBase(IEnumerable<ParamGroup> groups, string kind, double lr, (double, double) betas, double eps,
                               double weightDecay, bool amsgrad, bool maximize)
        : base(groups, MakeDefaults(kind, lr, betas, eps, weightDecay, amsgrad, maximize)) { }

    private static Defaults MakeDefaults(string kind, double lr, (double, double) betas, double eps, double weightDecay, bool amsgrad, bool maximize)
    {
        AdamOptionsModule.validate(new AdamOptions(lr, betas.Item1, betas.Item2, eps, weightDecay, amsgrad, maximize));
        return new(kind,
            [("lr", lr), ("eps", eps), ("weight_decay", weightDecay), ("amsgrad", amsgrad ? 1 : 0), ("maximize", maximize ? 1 : 0)],
            [("betas", betas)], ["amsgrad", "maximize"]);
    }

    private static AdamOptions Read(ParamGroup g)
    {
        var (b1, b2) = g.Betas;
        return AdamOptionsModule.validate(new AdamOptions(g["lr"], b1, b2, g["eps"], g["weight_decay"], Flag(g, "amsgrad"), Flag(g, "maximize")));
    }

    private protected override State InitState(Tensor[] parameters) =>
        Alias.adam(new AdamOptions(0.0, 0.9, 0.999, 1e-8, 0.0, true, false)).Init.Invoke(parameters);

    private protected override void Validate(ParamGroup group) => Read(group);

    private protected override void Prepare(int index, ParamGroup group) => Read(group);

    private protected override bool Chained => true;

    private protected override GradientTransformation BuildChain(Hypers hypers) => Chains.adam(Decoupled, hypers);

    private protected abstract bool Decoupled { get; }
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
        : base(groups, "Adam", lr, betas ?? (0.9, 0.999), eps, weightDecay, amsgrad, maximize) { }

    private protected override bool Decoupled => false;
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
        : base(groups, "AdamW", lr, betas ?? (0.9, 0.999), eps, weightDecay, amsgrad, maximize) { }

    private protected override bool Decoupled => true;
}
