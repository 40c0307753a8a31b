using Optim;

namespace Optim.CSharp;

/// <summary>
/// An optimizer built from a <see cref="Transformation"/>: one chain per param group, run with the facade's whole
/// behaviour (<see cref="Optimizer.ZeroGrad"/>, <see cref="Optimizer.Step"/>, param groups and
/// <see cref="Optimizer.AddParamGroup"/>, <see cref="Optimizer.StateDict"/>/<see cref="Optimizer.LoadStateDict"/>, and every
/// learning-rate scheduler). The transformation's hyperparameters are the groups' keys with PyTorch's names; a group may set
/// its own, and a scheduler's change to one takes effect at the next step.
/// </summary>
/// <remarks>A chain of elementwise blocks runs as one fused pass over memory per parameter, on two threads, allocating
/// nothing per step: the same speed as the built-in class of the same chain. Its state dict records the transformation's
/// <see cref="Transformation.Name"/>, so loading one saved by another chain fails.</remarks>
/// <example>
/// <code>
/// var chain = Transformation.ClipByValue(1.0).Then(Transformation.Adam(lr: 1e-3));
/// var optimizer = new ComposedOptimizer(model.Parameters(), chain);
/// var scheduler = new OneCycleLR(optimizer, maxLr: 0.01, totalSteps: 1000);
/// </code>
/// </example>
public sealed class ComposedOptimizer : Optimizer
{
    /// <summary>The transformation over one group of parameters.</summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="transformation">The transformation each group runs.</param>
    /// <exception cref="ArgumentException">There are no parameters.</exception>
    public ComposedOptimizer(IEnumerable<Parameter> parameters, Transformation transformation)
        : this(Single(parameters), transformation) { }

    /// <summary>The transformation over param groups; keys a group does not set take the transformation's values.</summary>
    /// <param name="groups">The param groups.</param>
    /// <param name="transformation">The transformation each group runs.</param>
    /// <exception cref="ArgumentException">There are no groups, or a group's value is invalid.</exception>
    public ComposedOptimizer(IEnumerable<ParamGroup> groups, Transformation transformation)
        : base(groups, Describe(transformation)) { }

    private static Defaults Describe(Transformation transformation)
    {
        ArgumentNullException.ThrowIfNull(transformation);
        return new Defaults(transformation.Name, transformation.Scalars, transformation.Pairs, [], Chain: transformation);
    }

    /// <summary>The transformation each group runs.</summary>
    public Transformation Transformation => ChainOf!;

    /// <summary>
    /// The averaged weights of a transformation that ends in <see cref="Transformation.Ema"/>, one array per parameter (in
    /// the order of the groups): PyTorch's <c>AveragedModel</c> parameters. A parameter not yet averaged reads as itself.
    /// </summary>
    /// <returns>Copies of the averaged weights.</returns>
    /// <exception cref="InvalidOperationException">The transformation keeps no average.</exception>
    public float[][] EmaParameters()
    {
        if (!CoreState.Buffers.ContainsKey(Combinators.EmaBuffer))
            throw new InvalidOperationException($"The transformation {ChainOf!.Name} keeps no exponential moving average of the parameters.");
        return Combinators.emaParameters(CoreState, CoreTensors()).Select(t => (float[])t.Data.Clone()).ToArray();
    }

    /// <summary>
    /// The evaluation weights <c>x</c> of a schedule-free transformation (<see cref="Transformation.ScheduleFreeAdamW"/>,
    /// <see cref="Transformation.ScheduleFreeSGD"/>), one array per parameter: the reference implementation's weights after
    /// <c>optimizer.eval()</c>. The parameters themselves hold the training weights <c>y</c>.
    /// </summary>
    /// <returns>Copies of the evaluation weights.</returns>
    /// <exception cref="InvalidOperationException">The transformation is not schedule-free.</exception>
    public float[][] ScheduleFreeParameters()
    {
        if (ChainOf!.ScheduleFreeBeta is not { } beta)
            throw new InvalidOperationException($"The transformation {ChainOf.Name} is not schedule-free.");
        return ScheduleFree.evalParameters(beta, CoreState, CoreTensors()).Select(t => (float[])t.Data.Clone()).ToArray();
    }

    private protected override State InitState(CoreTensor[] parameters) =>
        ChainOf!.Build(new DefaultHypers(ChainOf)).Init.Invoke(parameters);

    private protected override State InitGroupState(ParamGroup group, CoreTensor[] parameters) =>
        ChainOf!.Build(new GroupHypers(group)).Init.Invoke(parameters);

    private protected override void Validate(ParamGroup group)
    {
        foreach (var (key, _) in ChainOf!.Scalars) Hyper.CheckScalar(key, group[key]);
        foreach (var (key, _) in ChainOf.Pairs) Hyper.CheckPair(key, group.GetPair(key));
    }

    private protected override void Prepare(int index, ParamGroup group) => Validate(group);

    private protected override bool Chained => true;

    private protected override GradientTransformation BuildChain(Hypers hypers) => ChainOf!.Build(hypers);
}
