using Optim;

namespace Optim.CSharp;

/// <summary>
/// Adagrad, as <c>torch.optim.Adagrad</c> (Duchi, Hazan &amp; Singer, "Adaptive Subgradient Methods for Online
/// Learning and Stochastic Optimization", JMLR 2011). Per parameter, at step <c>t</c>: <c>g = ±g + λ·p</c>,
/// <c>s = s + g²</c>, <c>p = p − lrₜ·g / (√s + ε)</c> with <c>lrₜ = lr / (1 + (t−1)·lr_decay)</c>.
/// State: <c>"step"</c> and <c>"sum"</c>, created for every parameter when its group is added (filled with
/// <c>initial_accumulator_value</c>), as PyTorch's constructor does.
/// </summary>
/// <remarks>
/// PyTorch creates that state only in the constructor, so a group added later with <c>add_param_group</c> fails
/// there on its first step; here it gets its state like the others. Each group's own
/// <c>initial_accumulator_value</c> is used (PyTorch uses the constructor's value for every group).
/// A sparse gradient (<see cref="Parameter.AccumulateSparseGrad"/>) is taken as PyTorch 1.13 takes it: repeated rows
/// summed, then only those rows of the parameter and of <c>"sum"</c> change, the step counted once; weight decay with
/// a sparse gradient is refused, as PyTorch refuses it. A sparse gradient without rows counts a step and moves nothing
/// (PyTorch 1.13 fails on one).
/// </remarks>
public sealed class Adagrad : Optimizer
{
    /// <summary>Adagrad over one group of parameters.</summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="lrDecay">Learning-rate decay.</param>
    /// <param name="weightDecay">L2 penalty.</param>
    /// <param name="initialAccumulatorValue">The starting value of the sum of squared gradients.</param>
    /// <param name="eps">Denominator term.</param>
    /// <param name="maximize">Maximise the objective.</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), or there are no parameters.</exception>
    public Adagrad(IEnumerable<Parameter> parameters, double lr = 1e-2, double lrDecay = 0, double weightDecay = 0, double initialAccumulatorValue = 0, double eps = 1e-10, bool maximize = false)
        : this(Single(parameters), lr, lrDecay, weightDecay, initialAccumulatorValue, eps, maximize) { }

    /// <summary>Adagrad over param groups; keys a group does not set take these values.</summary>
    /// <param name="groups">The param groups.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="lrDecay">Learning-rate decay.</param>
    /// <param name="weightDecay">L2 penalty.</param>
    /// <param name="initialAccumulatorValue">The starting value of the sum of squared gradients.</param>
    /// <param name="eps">Denominator term.</param>
    /// <param name="maximize">Maximise the objective.</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), or there are no groups.</exception>
    public Adagrad(IEnumerable<ParamGroup> groups, double lr = 1e-2, double lrDecay = 0, double weightDecay = 0, double initialAccumulatorValue = 0, double eps = 1e-10, bool maximize = false)
        : base(groups, Described.Defaults(Descriptors.adagrad, lr, lrDecay, weightDecay, initialAccumulatorValue, eps, maximize)) { }

    private protected override State InitGroupState(ParamGroup group, CoreTensor[] parameters) =>
        Descriptors.adagrad.Chain.Invoke(new GroupHypers(group)).Init.Invoke(parameters);

    private protected override bool AcceptsSparseGradients => true;

    // PyTorch 1.13's message
    private protected override string? SparseIncompatibility(ParamGroup group) =>
        group["weight_decay"] != 0 ? $"Adagrad's weightDecay ({group["weight_decay"]}): the weight_decay option is not compatible with sparse gradients" : null;
}
