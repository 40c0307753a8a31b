using Optim;

namespace Optim.CSharp;

/// <summary>
/// Adadelta, as <c>torch.optim.Adadelta</c> (Zeiler, "ADADELTA: An Adaptive Learning Rate Method", 2012). Per
/// parameter: <c>g = ±g + λ·p</c>, <c>v = ρ·v + (1−ρ)·g²</c>, <c>δ = √(a + ε) / √(v + ε) · g</c>,
/// <c>a = ρ·a + (1−ρ)·δ²</c>, <c>p = p − lr·δ</c>. State: <c>"square_avg"</c>, <c>"acc_delta"</c>.
/// </summary>
public sealed class Adadelta : Optimizer
{
    private static Defaults MakeDefaults(double lr, double rho, double eps, double weightDecay, bool maximize)
    {
        AdadeltaOptionsModule.validate(new AdadeltaOptions(lr, rho, eps, weightDecay, maximize));
        return new("Adadelta", [("lr", lr), ("rho", rho), ("eps", eps), ("weight_decay", weightDecay), ("maximize", maximize ? 1 : 0)], [], ["maximize"]);
    }

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
        : base(groups, MakeDefaults(lr, rho, eps, weightDecay, maximize)) { }

    private static AdadeltaOptions Read(ParamGroup g) => AdadeltaOptionsModule.validate(new AdadeltaOptions(g["lr"], g["rho"], g["eps"], g["weight_decay"], Flag(g, "maximize")));

    private protected override State InitState(Tensor[] parameters) =>
        Alias.adadelta(AdadeltaOptionsModule.defaults).Init.Invoke(parameters);

    private protected override void Validate(ParamGroup group) => Read(group);

    private protected override void Prepare(int index, ParamGroup group) => Read(group);

    private protected override bool Chained => true;

    private protected override GradientTransformation BuildChain(Hypers hypers) => Chains.adadelta(hypers);

}
