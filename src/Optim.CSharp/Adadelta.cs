using Optim;

namespace Optim.CSharp;

/// <summary>
/// Adadelta, as <c>torch.optim.Adadelta</c> (Zeiler, "ADADELTA: An Adaptive Learning Rate Method", 2012). Per
/// parameter: <c>g = ±g + λ·p</c>, <c>v = ρ·v + (1−ρ)·g²</c>, <c>δ = √(a + ε) / √(v + ε) · g</c>,
/// <c>a = ρ·a + (1−ρ)·δ²</c>, <c>p = p − lr·δ</c>. State: <c>"square_avg"</c>, <c>"acc_delta"</c>.
/// </summary>
public sealed class Adadelta : Optimizer
{
    /// <summary>Adadelta over one group of parameters.</summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="lr">Coefficient that scales the step.</param>
    /// <param name="rho">Decay of the running averages, in [0, 1].</param>
    /// <param name="eps">Term added inside the square roots.</param>
    /// <param name="weightDecay">L2 penalty.</param>
    /// <param name="maximize">Maximise the objective.</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), or there are no parameters.</exception>
    public Adadelta(IEnumerable<Parameter> parameters, double lr = 1.0, double rho = 0.9, double eps = 1e-6, double weightDecay = 0, bool maximize = false)
        : this(Single(parameters), lr, rho, eps, weightDecay, maximize) { }

    /// <summary>Adadelta over param groups; keys a group does not set take these values.</summary>
    /// <param name="groups">The param groups.</param>
    /// <param name="lr">Coefficient that scales the step.</param>
    /// <param name="rho">Decay of the running averages, in [0, 1].</param>
    /// <param name="eps">Term added inside the square roots.</param>
    /// <param name="weightDecay">L2 penalty.</param>
    /// <param name="maximize">Maximise the objective.</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), or there are no groups.</exception>
    public Adadelta(IEnumerable<ParamGroup> groups, double lr = 1.0, double rho = 0.9, double eps = 1e-6, double weightDecay = 0, bool maximize = false)
        : base(groups, Described.Defaults(Descriptors.adadelta, lr, rho, eps, weightDecay, maximize)) { }
}
