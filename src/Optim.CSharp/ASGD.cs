using Optim;

namespace Optim.CSharp;

/// <summary>
/// Averaged stochastic gradient descent, as <c>torch.optim.ASGD</c> (Polyak &amp; Juditsky, "Acceleration of
/// Stochastic Approximation by Averaging", SIAM J. Control Optim. 1992). Per parameter, at step <c>t</c>:
/// <c>g = ±g + λ_wd·p</c>, <c>p = p·(1 − λη) − η·g</c>; then <c>x̄ = p</c> while <c>μ = 1</c>, else
/// <c>x̄ = x̄ + μ·(p − x̄)</c>; and <c>η = lr / (1 + λ·lr·t)^α</c>, <c>μ = 1 / max(1, t − t₀)</c> for the next step
/// (<c>η</c> starts at <c>lr</c>, <c>μ</c> at 1). State: <c>"step"</c>, <c>"eta"</c>, <c>"mu"</c> (one value per
/// parameter), <c>"ax"</c> (the averaged parameters).
/// </summary>
public sealed class ASGD : Optimizer
{
    /// <summary>ASGD over one group of parameters.</summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="lambd">Decay term λ.</param>
    /// <param name="alpha">Power of the learning-rate decay.</param>
    /// <param name="t0">The step after which averaging starts.</param>
    /// <param name="weightDecay">L2 penalty.</param>
    /// <param name="maximize">Maximise the objective.</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), or there are no parameters.</exception>
    public ASGD(IEnumerable<Parameter> parameters, double lr = 1e-2, double lambd = 1e-4, double alpha = 0.75, double t0 = 1e6, double weightDecay = 0, bool maximize = false)
        : this(Single(parameters), lr, lambd, alpha, t0, weightDecay, maximize) { }

    /// <summary>ASGD over param groups; keys a group does not set take these values.</summary>
    /// <param name="groups">The param groups.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="lambd">Decay term λ.</param>
    /// <param name="alpha">Power of the learning-rate decay.</param>
    /// <param name="t0">The step after which averaging starts.</param>
    /// <param name="weightDecay">L2 penalty.</param>
    /// <param name="maximize">Maximise the objective.</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), or there are no groups.</exception>
    public ASGD(IEnumerable<ParamGroup> groups, double lr = 1e-2, double lambd = 1e-4, double alpha = 0.75, double t0 = 1e6, double weightDecay = 0, bool maximize = false)
        : base(groups, Described.Defaults(Descriptors.asgd, lr, lambd, alpha, t0, weightDecay, maximize)) { }
}
