using Optim;

namespace Optim.CSharp;

/// <summary>
/// Adam for sparse gradients, as <c>torch.optim.SparseAdam</c> (the lazy variant of Kingma &amp; Ba, "Adam: A Method
/// for Stochastic Optimization", 2015): only the rows a gradient touches (<see cref="Parameter.AccumulateSparseGrad"/>,
/// repeated rows summed) are updated, with <c>m = m + (1−β₁)(g − m)</c>, <c>v = v + (1−β₂)(g² − v)</c> and
/// <c>p = p − lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + ε)</c>; the other rows keep their values and moments, and
/// <c>t</c> counts the steps in which the parameter had a gradient. A dense gradient is rejected, as PyTorch
/// rejects it. State: <c>"step"</c>, <c>"exp_avg"</c>, <c>"exp_avg_sq"</c>.
/// </summary>
/// <remarks>A sparse gradient without rows (PyTorch 1.13 fails on one) counts a step and moves nothing.</remarks>
public sealed class SparseAdam : Optimizer
{
    private static Defaults MakeDefaults(double lr, (double, double) betas, double eps, bool maximize)
    {
        SparseAdamOptionsModule.validate(new SparseAdamOptions(lr, betas.Item1, betas.Item2, eps, maximize));
        return new("SparseAdam", [("lr", lr), ("eps", eps), ("maximize", maximize ? 1 : 0)], [("betas", betas)], ["maximize"]);
    }

    private SparseAdamOptions[] _options = [];

    /// <summary>SparseAdam over one group of parameters.</summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="lr">Learning rate, above 0.</param>
    /// <param name="betas">Decay rates of the first and second moments; null: (0.9, 0.999).</param>
    /// <param name="eps">Denominator term, above 0.</param>
    /// <param name="maximize">Maximise the objective.</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), or there are no parameters.</exception>
    public SparseAdam(IEnumerable<Parameter> parameters, double lr = 1e-3, (double, double)? betas = null, double eps = 1e-8, bool maximize = false)
        : this(Single(parameters), lr, betas, eps, maximize) { }

    /// <summary>SparseAdam over param groups; keys a group does not set take these values.</summary>
    /// <param name="groups">The param groups.</param>
    /// <param name="lr">Learning rate, above 0.</param>
    /// <param name="betas">Decay rates of the first and second moments; null: (0.9, 0.999).</param>
    /// <param name="eps">Denominator term, above 0.</param>
    /// <param name="maximize">Maximise the objective.</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), or there are no groups.</exception>
    public SparseAdam(IEnumerable<ParamGroup> groups, double lr = 1e-3, (double, double)? betas = null, double eps = 1e-8, bool maximize = false)
        : base(groups, MakeDefaults(lr, betas ?? (0.9, 0.999), eps, maximize)) { }

    private static SparseAdamOptions Read(ParamGroup g)
    {
        var (b1, b2) = g.GetPair("betas");
        return SparseAdamOptionsModule.validate(new SparseAdamOptions(g["lr"], b1, b2, g["eps"], Flag(g, "maximize")));
    }

    private protected override State InitState(CoreTensor[] parameters) =>
        Fused.sparseAdam(SparseAdamOptionsModule.defaults).Init.Invoke(parameters);

    private protected override void Validate(ParamGroup group) => Read(group);

    private protected override string[]? KeptBuffers(HyperSnapshot group, int[] shape) => ["exp_avg", "exp_avg_sq"];

    private protected override void Prepare(int index, ParamGroup group)
    {
        if (_options.Length != ParamGroups.Count) _options = new SparseAdamOptions[ParamGroups.Count];
        _options[index] = Read(group);
    }

    private protected override bool AcceptsDenseGradients => false;

    private protected override bool AcceptsSparseGradients => true;

    private protected override void StepParam(int group, State state, int index, Span<float> param, ReadOnlySpan<float> grad) =>
        throw new InvalidOperationException("SparseAdam does not support dense gradients, please consider Adam instead.");

    private protected override void StepSparseParam(int group, State state, int index, Parameter param)
    {
        var g = param.CoalescedSparseGrad();
        Fused.sparseAdamInPlace(_options[group], state, index, param.Data, Math.Max(1, param.SparseRowWidth), g.Rows, g.Values);
    }
}
