using Microsoft.FSharp.Core;
using Optim;

namespace Optim.CSharp;

/// <summary>
/// Adafactor, as PyTorch 2.x's <c>torch.optim.Adafactor</c> (Shazeer &amp; Stern, "Adafactor: Adaptive Learning Rates
/// with Sublinear Memory Cost", ICML 2018). Per parameter, at step <c>t</c>: <c>G = ±g</c>, <c>β̂₂ₜ = 1 − t^τ</c>,
/// <c>ρₜ = min(lr, 1/√t)</c>, <c>αₜ = max(ε₂, RMS(p))·ρₜ</c>, <c>p = p·(1 − lr·λ)</c>; for a parameter of two or more
/// dimensions (factored over its last two), <c>R = β̂₂ₜR + (1−β̂₂ₜ)·mean_cols(G²)</c>,
/// <c>C = β̂₂ₜC + (1−β̂₂ₜ)·mean_rows(G²)</c>, <c>V̂ = R·C / max(mean(R), ε₁)</c>; otherwise
/// <c>V̂ = β̂₂ₜV̂ + (1−β̂₂ₜ)·G²</c>; then <c>U = G / max(√V̂, ε₁)</c>, <c>Û = U / max(1, RMS(U)/d)</c>,
/// <c>p = p − αₜ·Û</c>. State: <c>"step"</c>, and <c>"row_var"</c> (shape <c>[…, R, 1]</c>) and <c>"col_var"</c>
/// (<c>[…, 1, C]</c>) for a parameter of two or more dimensions, else <c>"variance"</c>.
/// </summary>
/// <remarks>
/// <para>Group keys are PyTorch's: <c>"lr"</c>, <c>"beta2_decay"</c>, <c>"d"</c>, <c>"weight_decay"</c>,
/// <c>"maximize"</c>, and the pair <c>"eps"</c> = (ε₁, ε₂), read and set with <see cref="ParamGroup.GetPair"/> and
/// <see cref="ParamGroup.SetPair"/>.</para>
/// <para>PyTorch's <c>eps[0] = None</c> means <c>torch.finfo(dtype).eps</c>; parameters are float32, so the group holds
/// that value, 2⁻²³ = 1.1920928955078125E-07, where PyTorch's holds <c>None</c>.</para>
/// <para>A matrix's <c>"row_var"</c> and <c>"col_var"</c> are created when its group is added (PyTorch creates them at
/// the first step), so the state dict holds them, as zeros with step 0, for a parameter that never had a gradient.</para>
/// </remarks>
public sealed class Adafactor : Optimizer
{
    private static Defaults MakeDefaults(double lr, double beta2Decay, (double?, double) eps, double d, double weightDecay, bool maximize)
    {
        var (eps1, eps2) = eps;
        AdafactorOptionsModule.validate(new AdafactorOptions(lr, beta2Decay, eps1 is { } e ? FSharpValueOption<double>.NewValueSome(e) : FSharpValueOption<double>.ValueNone, eps2, d, weightDecay, maximize));
        return new("Adafactor",
            [("lr", lr), ("beta2_decay", beta2Decay), ("d", d), ("weight_decay", weightDecay), ("maximize", maximize ? 1 : 0)],
            [("eps", (eps1 ?? AdafactorOptionsModule.float32Eps, eps2))], ["maximize"]);
    }

    private AdafactorOptions[] _options = [];

    /// <summary>Adafactor over one group of parameters.</summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="lr">The largest relative step size, and the scale of the weight decay.</param>
    /// <param name="beta2Decay">The decay rate τ of the second moment, 0 or less.</param>
    /// <param name="eps">(ε₁, ε₂): the floor of √V̂ (null: PyTorch's None, float32's machine epsilon 2⁻²³) and the floor of
    /// the parameter's RMS in the step size; null: (null, 1e-3).</param>
    /// <param name="d">The clipping threshold of the update's RMS, 1 or more.</param>
    /// <param name="weightDecay">Decoupled weight decay.</param>
    /// <param name="maximize">Maximise the objective.</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), or there are no parameters.</exception>
    public Adafactor(IEnumerable<Parameter> parameters, double lr = 1e-2, double beta2Decay = -0.8, (double?, double)? eps = null,
                     double d = 1.0, double weightDecay = 0.0, bool maximize = false)
        : this(Single(parameters), lr, beta2Decay, eps, d, weightDecay, maximize) { }

    /// <summary>Adafactor over param groups; keys a group does not set take these values.</summary>
    /// <param name="groups">The param groups.</param>
    /// <param name="lr">The largest relative step size, and the scale of the weight decay.</param>
    /// <param name="beta2Decay">The decay rate τ of the second moment, 0 or less.</param>
    /// <param name="eps">(ε₁, ε₂): the floor of √V̂ (null: PyTorch's None, float32's machine epsilon 2⁻²³) and the floor of
    /// the parameter's RMS in the step size; null: (null, 1e-3).</param>
    /// <param name="d">The clipping threshold of the update's RMS, 1 or more.</param>
    /// <param name="weightDecay">Decoupled weight decay.</param>
    /// <param name="maximize">Maximise the objective.</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), or there are no groups.</exception>
    public Adafactor(IEnumerable<ParamGroup> groups, double lr = 1e-2, double beta2Decay = -0.8, (double?, double)? eps = null,
                     double d = 1.0, double weightDecay = 0.0, bool maximize = false)
        : base(groups, MakeDefaults(lr, beta2Decay, eps ?? (null, 1e-3), d, weightDecay, maximize)) { }

    private static AdafactorOptions Read(ParamGroup g)
    {
        var (eps1, eps2) = Eps(g);
        return AdafactorOptionsModule.validate(new AdafactorOptions(
            g["lr"], g["beta2_decay"], FSharpValueOption<double>.NewValueSome(eps1), eps2, g["d"], g["weight_decay"], Flag(g, "maximize")));
    }

    private static (double, double) Eps(ParamGroup g)
    {
        try { return g.GetPair("eps"); }
        catch (KeyNotFoundException) when (g.ContainsKey("eps"))
        {
            throw new ArgumentException($"Invalid eps value: {g["eps"]}; Adafactor's eps is the pair (eps1, eps2): set it with ParamGroup.SetPair(\"eps\", …).", "eps");
        }
    }

    private protected override State InitState(CoreTensor[] parameters) =>
        Alias.adafactor(AdafactorOptionsModule.defaults).Init.Invoke(parameters);

    private protected override void Validate(ParamGroup group) => Read(group);

    private protected override string[]? KeptBuffers(HyperSnapshot group, int[] shape) =>
        shape.Length >= 2 ? ["row_var", "col_var"] : ["variance"];

    private protected override void Prepare(int index, ParamGroup group)
    {
        if (_options.Length != ParamGroups.Count) _options = new AdafactorOptions[ParamGroups.Count];
        _options[index] = Read(group);
    }

    private protected override void StepParam(int group, State state, int index, Span<float> param, ReadOnlySpan<float> grad) =>
        Fused.adafactorInPlace(_options[group], state, index, param, grad);
}
