using Optim;

namespace Optim.CSharp;

/// <summary>
/// Muon, as PyTorch 2.9's <c>torch.optim.Muon</c> (Jordan et al., "Muon: An optimizer for hidden layers in neural
/// networks", 2024; the learning-rate adjustments of Liu et al., "Muon is Scalable for LLM Training", 2025), for 2-D
/// parameters (the weight matrices of hidden layers). Per parameter <c>p</c> of shape <c>A × B</c>:
/// <c>b = lerp(b, g, 1 − μ)</c>; <c>B̃ = lerp(g, b, μ)</c> with Nesterov, else <c>b</c>; <c>O = NS(B̃)</c>, the Newton–Schulz
/// orthogonalisation (<c>X = B̃ / max(‖B̃‖_F, ε)</c>, then <c>ns_steps</c> times <c>X = a·X + (b·XXᵀ + c·(XXᵀ)²)·X</c>);
/// <c>p = p·(1 − lr·λ) − lr·r·O</c> with <c>r = √max(1, A/B)</c> (<c>adjust_lr_fn</c> null or <c>"original"</c>) or
/// <c>r = 0.2·√max(A, B)</c> (<c>"match_rms_adamw"</c>). State: <c>"momentum_buffer"</c>.
/// </summary>
/// <remarks>
/// <para>Group keys are PyTorch's: <c>"lr"</c>, <c>"weight_decay"</c>, <c>"momentum"</c>, <c>"nesterov"</c>, <c>"eps"</c>,
/// <c>"ns_steps"</c>, the triple <c>"ns_coefficients"</c> (read and set with <see cref="ParamGroup.GetTriple"/> and
/// <see cref="ParamGroup.SetTriple"/>) and the string <c>"adjust_lr_fn"</c> (<see cref="ParamGroup.GetText"/>,
/// <see cref="ParamGroup.SetText"/>).</para>
/// <para>Every parameter must be 2-D: a group with another is rejected when it is added, as PyTorch's constructor does
/// (its <c>add_param_group</c> takes one, and its step then fails after updating the parameters before it). Optimize the
/// others (biases, gains) with AdamW: build an <see cref="AdamW"/> over them beside this, or one optimizer with
/// <c>Transformation.MuonWithAdamW</c>.</para>
/// <para>PyTorch iterates in bfloat16; this iterates in float32, the parameters' own type. The products run on
/// Optim.Kernels' packed GEMM.</para>
/// </remarks>
public sealed class Muon : Optimizer
{
    private static Defaults MakeDefaults(double lr, double weightDecay, double momentum, bool nesterov,
                                         (double, double, double) nsCoefficients, double eps, int nsSteps, string? adjustLrFn)
    {
        Hyper.CheckText("adjust_lr_fn", adjustLrFn, nameof(adjustLrFn));
        MuonOptionsModule.validate(Options(lr, weightDecay, momentum, nesterov, nsCoefficients, eps, nsSteps, adjustLrFn));
        return new("Muon",
            [("lr", lr), ("weight_decay", weightDecay), ("momentum", momentum), ("nesterov", nesterov ? 1 : 0), ("eps", eps), ("ns_steps", nsSteps)],
            [], ["nesterov"], Texts: [("adjust_lr_fn", adjustLrFn)], Triples: [("ns_coefficients", nsCoefficients)]);
    }

    private static MuonOptions Options(double lr, double weightDecay, double momentum, bool nesterov,
                                       (double A, double B, double C) ns, double eps, int nsSteps, string? adjustLrFn) =>
        new(lr, weightDecay, momentum, nesterov, (ns.A, ns.B, ns.C), eps, nsSteps,
            adjustLrFn == "match_rms_adamw" ? MuonLrAdjustment.MatchRmsAdamW : MuonLrAdjustment.Original);

    private MuonOptions[] _options = [];

    /// <summary>Muon over one group of parameters, each 2-D.</summary>
    /// <param name="parameters">The parameters: matrices.</param>
    /// <param name="lr">Learning rate, before the adjustment to the matrix's shape.</param>
    /// <param name="weightDecay">Decoupled weight decay: the parameter is multiplied by <c>1 − lr·weightDecay</c>.</param>
    /// <param name="momentum">Momentum factor μ, in [0, 1).</param>
    /// <param name="nesterov">Orthogonalise the Nesterov look-ahead <c>lerp(g, b, μ)</c> rather than the momentum.</param>
    /// <param name="nsCoefficients">The coefficients (a, b, c) of the Newton–Schulz quintic; null: (3.4445, -4.775, 2.0315).</param>
    /// <param name="eps">The floor of the Frobenius norm that normalises the momentum, 0 or more.</param>
    /// <param name="nsSteps">Newton–Schulz steps, from 1 to 99.</param>
    /// <param name="adjustLrFn">The adjustment of the learning rate to the shape: null (PyTorch's None, as
    /// <c>"original"</c>), <c>"original"</c> or <c>"match_rms_adamw"</c>.</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), a parameter is
    /// not 2-D (the message names it and its shape), or there are no parameters.</exception>
    public Muon(IEnumerable<Parameter> parameters, double lr = 1e-3, double weightDecay = 0.1, double momentum = 0.95, bool nesterov = true,
                (double, double, double)? nsCoefficients = null, double eps = 1e-7, int nsSteps = 5, string? adjustLrFn = null)
        : this(Single(parameters), lr, weightDecay, momentum, nesterov, nsCoefficients, eps, nsSteps, adjustLrFn) { }

    /// <summary>Muon over param groups of 2-D parameters; keys a group does not set take these values.</summary>
    /// <param name="groups">The param groups.</param>
    /// <param name="lr">Learning rate, before the adjustment to the matrix's shape.</param>
    /// <param name="weightDecay">Decoupled weight decay: the parameter is multiplied by <c>1 − lr·weightDecay</c>.</param>
    /// <param name="momentum">Momentum factor μ, in [0, 1).</param>
    /// <param name="nesterov">Orthogonalise the Nesterov look-ahead <c>lerp(g, b, μ)</c> rather than the momentum.</param>
    /// <param name="nsCoefficients">The coefficients (a, b, c) of the Newton–Schulz quintic; null: (3.4445, -4.775, 2.0315).</param>
    /// <param name="eps">The floor of the Frobenius norm that normalises the momentum, 0 or more.</param>
    /// <param name="nsSteps">Newton–Schulz steps, from 1 to 99.</param>
    /// <param name="adjustLrFn">The adjustment of the learning rate to the shape: null (PyTorch's None, as
    /// <c>"original"</c>), <c>"original"</c> or <c>"match_rms_adamw"</c>.</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), a parameter is
    /// not 2-D (the message names it and its shape), or there are no groups.</exception>
    public Muon(IEnumerable<ParamGroup> groups, double lr = 1e-3, double weightDecay = 0.1, double momentum = 0.95, bool nesterov = true,
                (double, double, double)? nsCoefficients = null, double eps = 1e-7, int nsSteps = 5, string? adjustLrFn = null)
        : base(groups, MakeDefaults(lr, weightDecay, momentum, nesterov, nsCoefficients ?? (3.4445, -4.775, 2.0315), eps, nsSteps, adjustLrFn)) { }

    private static MuonOptions Read(ParamGroup g)
    {
        double steps = g["ns_steps"];
        Hyper.CheckScalar("ns_steps", steps);
        var adjust = g.GetText("adjust_lr_fn");
        Hyper.CheckText("adjust_lr_fn", adjust);
        return MuonOptionsModule.validate(Options(g["lr"], g["weight_decay"], g["momentum"], Flag(g, "nesterov"), Coefficients(g), g["eps"], (int)steps, adjust));
    }

    private static (double, double, double) Coefficients(ParamGroup g)
    {
        try { return g.GetTriple("ns_coefficients"); }
        catch (KeyNotFoundException) when (g.ContainsKey("ns_coefficients"))
        {
            throw new ArgumentException("Muon's ns_coefficients is the triple (a, b, c): set it with ParamGroup.SetTriple(\"ns_coefficients\", …).", "ns_coefficients");
        }
    }

    private protected override State InitState(CoreTensor[] parameters) => Alias.muon(MuonOptionsModule.defaults).Init.Invoke(parameters);

    private protected override void CheckNewGroup(ParamGroup group)
    {
        for (int k = 0; k < group.Params.Count; k++)
        {
            var p = group.Params[k];
            if (p.Shape.Length != 2)
                throw new ArgumentException(
                    $"Muon only supports 2-D parameters (matrices), but parameter {k} of the group, {p}, has shape [{string.Join(", ", p.Shape)}]; "
                    + "optimize it with AdamW (Transformation.MuonWithAdamW builds one optimizer that does both).", nameof(group));
        }
    }

    private protected override void Validate(ParamGroup group) => Read(group);

    private protected override string[]? KeptBuffers(HyperSnapshot group, int[] shape) => ["momentum_buffer"];

    private protected override void Prepare(int index, ParamGroup group)
    {
        if (_options.Length != ParamGroups.Count) _options = new MuonOptions[ParamGroups.Count];
        _options[index] = Read(group);
    }

    private protected override void StepParam(int group, State state, int index, Span<float> param, ReadOnlySpan<float> grad) =>
        Fused.muonInPlace(_options[group], state, index, param, grad);
}
