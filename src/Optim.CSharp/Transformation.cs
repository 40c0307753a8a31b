using Optim;

namespace Optim.CSharp;

/// <summary>
/// Hyperparameters whose flags are fixed by a <see cref="Transformation"/> factory and whose values come from elsewhere
/// (a param group, or the factory's own defaults).
/// </summary>
internal sealed class FlagHypers(Hypers values, params (string Key, bool Value)[] flags) : Hypers
{
    public override bool Flag(string key)
    {
        foreach (var (k, v) in flags) if (k == key) return v;
        throw new ArgumentException($"No flag '{key}'.", nameof(key));
    }

    public override Cell Cell(string key, int index) => values.Cell(key, index);
}

/// <summary>Hyperparameters with the values a <see cref="Transformation"/> was built with.</summary>
internal sealed class DefaultHypers(Transformation t) : Hypers
{
    public override bool Flag(string key) => throw new ArgumentException($"No flag '{key}'.", nameof(key));

    public override Cell Cell(string key, int index)
    {
        foreach (var (k, v) in t.Scalars) if (k == key) return Optim.Cell.Const(v);
        foreach (var (k, (a, b)) in t.Pairs) if (k == key) return Optim.Cell.Const(index == 0 ? a : b);
        throw new ArgumentException($"No hyperparameter '{key}'.", nameof(key));
    }
}

/// <summary>
/// A gradient transformation, composed from C#: a block (<see cref="ScaleByAdam"/>, <see cref="ClipByValue"/>, …), a named
/// optimizer (<see cref="Adam"/>, <see cref="SGD"/>, …) or a chain of them (<see cref="Chain"/>, <see cref="Then"/>), as
/// Optax composes <c>optax.chain(...)</c>. Updates are added to parameters, so the learning-rate block negates. Run one with
/// <see cref="ComposedOptimizer"/>, which gives it the facade's whole behaviour: param groups, <c>ZeroGrad</c>/<c>Step</c>,
/// state dicts and schedulers.
/// </summary>
/// <remarks>
/// Each hyperparameter a block takes is a param-group key with PyTorch's name (<c>"lr"</c>, <c>"betas"</c>, <c>"eps"</c>,
/// <c>"weight_decay"</c>, <c>"momentum"</c>, …): the values given here are the groups' defaults, a group may set its own,
/// and a scheduler's change to a group's value takes effect at the next step. Two blocks of one chain that take the same
/// key share the group's value, so they must be given the same value here. A chain of elementwise blocks runs as one
/// fused pass over memory per parameter, with no allocation per step.
/// </remarks>
/// <example>
/// <code>
/// var adamW = Transformation.Chain(
///     Transformation.ClipByValue(1.0),
///     Transformation.ScaleByAdam(betas: (0.9, 0.999)),
///     Transformation.ScaleByLearningRate(1e-3),
///     Transformation.DecoupledWeightDecay(weightDecay: 1e-2, lr: 1e-3));
/// var optimizer = new ComposedOptimizer(model.Parameters(), adamW);
/// </code>
/// </example>
public sealed class Transformation
{
    private readonly Func<Hypers, GradientTransformation> _build;

    private Transformation(string name, Func<Hypers, GradientTransformation> build,
                           (string Key, double Value)[] scalars, (string Key, (double, double) Value)[] pairs)
    {
        Name = name;
        _build = build;
        Scalars = scalars;
        Pairs = pairs;
    }

    /// <summary>A short description of the structure, e.g. <c>chain(scaleByAdam, scaleByLearningRate)</c>; a state dict
    /// records it, so that one saved by another chain fails to load.</summary>
    public string Name { get; }

    /// <summary>The scalar keys the transformation reads, with their default values.</summary>
    internal (string Key, double Value)[] Scalars { get; }

    /// <summary>The pair keys (<c>"betas"</c>, …) it reads, with their default values.</summary>
    internal (string Key, (double, double) Value)[] Pairs { get; }

    /// <summary>The core transformation over hyperparameters from <paramref name="hypers"/>.</summary>
    internal GradientTransformation Build(Hypers hypers) => _build(hypers);

    /// <inheritdoc />
    public override string ToString() => Name;

    private static Transformation Make(string name, Func<Hypers, GradientTransformation> build, params (string Key, double Value)[] scalars) =>
        new(name, build, scalars, []);

    private static void NonNegative(string name, double value)
    {
        if (!(value >= 0) || !double.IsFinite(value))
            throw new ArgumentOutOfRangeException(name, value, $"Invalid {name} value: {value}; it must be a finite number, 0 or more.");
    }

    private static void Betas(string name, (double, double) betas)
    {
        Hyper.CheckPair("betas", betas);
        _ = name;
    }

    private static GradientTransformation Op(ElementwiseOp op) => Stages.ofOp(op);

    // ---- composition ----

    /// <summary>Runs transformations one after another, the updates of each feeding the next (<c>optax.chain</c>).</summary>
    /// <param name="transformations">The transformations, first applied first.</param>
    /// <returns>Their composition.</returns>
    /// <exception cref="ArgumentNullException">The array or one of its items is null.</exception>
    /// <exception cref="ArgumentException">Two of them give the same hyperparameter key different values.</exception>
    public static Transformation Chain(params Transformation[] transformations)
    {
        ArgumentNullException.ThrowIfNull(transformations);
        foreach (var t in transformations) ArgumentNullException.ThrowIfNull(t, nameof(transformations));
        var parts = (Transformation[])transformations.Clone();
        var scalars = new List<(string, double)>();
        var pairs = new List<(string, (double, double))>();
        foreach (var t in parts)
        {
            foreach (var (k, v) in t.Scalars)
            {
                int i = scalars.FindIndex(s => s.Item1 == k);
                if (i < 0) scalars.Add((k, v));
                else if (scalars[i].Item2 != v)
                    throw new ArgumentException($"Two blocks of the chain take '{k}' with different values ({scalars[i].Item2} and {v}); a param group holds one value per key.", nameof(transformations));
            }
            foreach (var (k, v) in t.Pairs)
            {
                int i = pairs.FindIndex(s => s.Item1 == k);
                if (i < 0) pairs.Add((k, v));
                else if (pairs[i].Item2 != v)
                    throw new ArgumentException($"Two blocks of the chain take '{k}' with different values ({pairs[i].Item2} and {v}); a param group holds one value per key.", nameof(transformations));
            }
        }
        string name = "chain(" + string.Join(", ", parts.Select(t => t.Name)) + ")";
        return new Transformation(name,
            h => Transform.chain(Microsoft.FSharp.Collections.ListModule.OfSeq(parts.Select(t => t.Build(h)))),
            [.. scalars], [.. pairs]);
    }

    /// <summary>This transformation followed by <paramref name="next"/>: <c>Chain(this, next)</c>.</summary>
    /// <param name="next">The transformation applied to this one's updates.</param>
    /// <returns>The chain.</returns>
    /// <exception cref="ArgumentException">The two give the same hyperparameter key different values.</exception>
    public Transformation Then(Transformation next)
    {
        ArgumentNullException.ThrowIfNull(next);
        return Chain(this, next);
    }

    // ---- blocks ----

    /// <summary>Multiplies the updates by a constant: <c>u' = c·u</c>.</summary>
    /// <param name="factor">The constant <c>c</c>, finite.</param>
    /// <returns>The block.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="factor"/> is NaN or infinite.</exception>
    public static Transformation Scale(double factor)
    {
        if (!double.IsFinite(factor)) throw new ArgumentOutOfRangeException(nameof(factor), factor, $"Invalid factor value: {factor}; it must be finite.");
        return Make("scale", _ => Blocks.scale(factor));
    }

    /// <summary>Negates the updates; first in a chain it is PyTorch's <c>maximize=True</c>.</summary>
    /// <returns>The block.</returns>
    public static Transformation Maximize() => Make("maximize", _ => Blocks.maximize);

    /// <summary>Scales by the negated learning rate, <c>u' = -lr·u</c>: the one sign flip (updates are added). Key <c>"lr"</c>.</summary>
    /// <param name="lr">The learning rate, 0 or more.</param>
    /// <returns>The block.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="lr"/> is negative, NaN or infinite.</exception>
    public static Transformation ScaleByLearningRate(double lr)
    {
        NonNegative(nameof(lr), lr);
        return Make("scaleByLearningRate", h => Chains.learningRate(h.Cell("lr", 0)), ("lr", lr));
    }

    /// <summary>Coupled weight decay, <c>u' = u + λ·p</c> (PyTorch's <c>weight_decay</c> before the moments). Key <c>"weight_decay"</c>.</summary>
    /// <param name="weightDecay">The coefficient <c>λ</c>, 0 or more.</param>
    /// <returns>The block.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="weightDecay"/> is negative, NaN or infinite.</exception>
    public static Transformation AddWeightDecay(double weightDecay)
    {
        NonNegative(nameof(weightDecay), weightDecay);
        return Make("addWeightDecay", h => Op(new Ops.AddWeightDecay(h.Cell("weight_decay", 0))), ("weight_decay", weightDecay));
    }

    /// <summary>
    /// Decoupled weight decay (Loshchilov &amp; Hutter, 2019), after the learning rate: the parameter shrinks by <c>1 - lr·λ</c>
    /// as in PyTorch's AdamW. Keys <c>"lr"</c> and <c>"weight_decay"</c>.
    /// </summary>
    /// <param name="weightDecay">The coefficient <c>λ</c>, 0 or more.</param>
    /// <param name="lr">The learning rate the decay is scaled by (the group's <c>"lr"</c>).</param>
    /// <returns>The block.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A value is negative, NaN or infinite.</exception>
    public static Transformation DecoupledWeightDecay(double weightDecay, double lr)
    {
        NonNegative(nameof(weightDecay), weightDecay);
        NonNegative(nameof(lr), lr);
        return Make("decoupledWeightDecay", h => Op(new Ops.DecoupledWeightDecay(h.Cell("lr", 0), h.Cell("weight_decay", 0))),
                    ("lr", lr), ("weight_decay", weightDecay));
    }

    /// <summary>SGD's momentum, as <c>torch.optim.SGD</c> (buffer <c>"momentum_buffer"</c>). Keys <c>"momentum"</c>, <c>"dampening"</c>.</summary>
    /// <param name="momentum">The momentum <c>μ</c>, 0 or more (0: no buffer, updates pass through).</param>
    /// <param name="dampening">The dampening <c>τ</c>.</param>
    /// <param name="nesterov">Nesterov momentum.</param>
    /// <returns>The block.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A value is negative, NaN or infinite.</exception>
    public static Transformation Trace(double momentum, double dampening = 0, bool nesterov = false)
    {
        NonNegative(nameof(momentum), momentum);
        NonNegative(nameof(dampening), dampening);
        return Make(nesterov ? "trace(nesterov)" : "trace",
                    h => Op(new Ops.Trace(h.Cell("momentum", 0), h.Cell("dampening", 0), nesterov, false)),
                    ("momentum", momentum), ("dampening", dampening));
    }

    /// <summary>Adam's moments with bias correction (Kingma &amp; Ba, 2015), AMSGrad optional. Keys <c>"betas"</c>, <c>"eps"</c>.</summary>
    /// <param name="betas">The decays of the first and second moments; null: (0.9, 0.999).</param>
    /// <param name="eps">The denominator's <c>ε</c>.</param>
    /// <param name="amsgrad">Normalise by the running maximum of the second moment.</param>
    /// <returns>The block.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A beta is outside [0, 1), or eps is negative.</exception>
    public static Transformation ScaleByAdam((double, double)? betas = null, double eps = 1e-8, bool amsgrad = false)
    {
        var b = betas ?? (0.9, 0.999);
        Betas(nameof(betas), b);
        NonNegative(nameof(eps), eps);
        return new(amsgrad ? "scaleByAdam(amsgrad)" : "scaleByAdam",
                   h => Op(new Ops.Adam(h.Cell("betas", 0), h.Cell("betas", 1), h.Cell("eps", 0), amsgrad)),
                   [("eps", eps)], [("betas", b)]);
    }

    /// <summary>Clips every element of the updates to <c>[-c, c]</c>. Key <c>"clip_value"</c>.</summary>
    /// <param name="clipValue">The bound <c>c</c>, 0 or more.</param>
    /// <returns>The block.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="clipValue"/> is negative, NaN or infinite.</exception>
    public static Transformation ClipByValue(double clipValue)
    {
        NonNegative(nameof(clipValue), clipValue);
        return Make("clipByValue", h => Op(new Ops.ClipByValue(h.Cell("clip_value", 0))), ("clip_value", clipValue));
    }

    /// <summary>
    /// Scales all updates by one coefficient so that their global 2-norm is at most <paramref name="maxNorm"/>, as
    /// <c>torch.nn.utils.clip_grad_norm_</c> computes it (coefficient <c>maxNorm / (norm + 1e-6)</c>, clamped to 1) over a
    /// param group's parameters. First in a chain, where the updates are the gradients, it costs one read of the
    /// gradients before the fused pass. Key <c>"max_norm"</c>.
    /// </summary>
    /// <param name="maxNorm">The largest norm, 0 or more.</param>
    /// <returns>The block.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxNorm"/> is negative, NaN or infinite.</exception>
    public static Transformation ClipByGlobalNorm(double maxNorm)
    {
        NonNegative(nameof(maxNorm), maxNorm);
        return Make("clipByGlobalNorm", h => Op(new Ops.ClipByGlobalNorm(h.Cell("max_norm", 0))), ("max_norm", maxNorm));
    }

    /// <summary>Replaces every NaN of the updates by 0 (<c>optax.zero_nans</c>).</summary>
    /// <returns>The block.</returns>
    public static Transformation ZeroNans() => Make("zeroNans", _ => Blocks.zeroNans);

    /// <summary>Scales each parameter's update by the trust ratio <c>‖p‖ / ‖u‖</c> (LAMB).</summary>
    /// <returns>The block.</returns>
    public static Transformation ScaleByTrustRatio() => Make("scaleByTrustRatio", _ => Blocks.scaleByTrustRatio);

    // ---- named optimizers ----

    /// <summary>torch.optim.SGD as a chain: <c>maximize?; addWeightDecay; trace; scaleByLearningRate</c>.</summary>
    /// <param name="lr">Learning rate.</param>
    /// <param name="momentum">Momentum factor.</param>
    /// <param name="dampening">Dampening for momentum.</param>
    /// <param name="weightDecay">L2 penalty.</param>
    /// <param name="nesterov">Nesterov momentum (needs momentum &gt; 0 and dampening 0).</param>
    /// <param name="maximize">Maximise the objective.</param>
    /// <returns>The chain.</returns>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value).</exception>
    public static Transformation SGD(double lr, double momentum = 0, double dampening = 0, double weightDecay = 0, bool nesterov = false, bool maximize = false)
    {
        SgdOptionsModule.validate(new SgdOptions(lr, momentum, dampening, weightDecay, nesterov, maximize));
        return Make(Flags("sgd", (nesterov, "nesterov"), (maximize, "maximize")),
                    h => Chains.sgd(new FlagHypers(h, ("nesterov", nesterov), ("maximize", maximize))),
                    ("lr", lr), ("momentum", momentum), ("dampening", dampening), ("weight_decay", weightDecay));
    }

    /// <summary>torch.optim.Adam as a chain: <c>maximize?; addWeightDecay; scaleByAdam; scaleByLearningRate</c>.</summary>
    /// <param name="lr">Learning rate.</param>
    /// <param name="betas">Decay rates of the first and second moments; null: (0.9, 0.999).</param>
    /// <param name="eps">Denominator term.</param>
    /// <param name="weightDecay">L2 penalty.</param>
    /// <param name="amsgrad">Use AMSGrad.</param>
    /// <param name="maximize">Maximise the objective.</param>
    /// <returns>The chain.</returns>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value).</exception>
    public static Transformation Adam(double lr = 1e-3, (double, double)? betas = null, double eps = 1e-8, double weightDecay = 0, bool amsgrad = false, bool maximize = false) =>
        AdamFamily("adam", false, lr, betas ?? (0.9, 0.999), eps, weightDecay, amsgrad, maximize);

    /// <summary>torch.optim.AdamW as a chain: <c>maximize?; scaleByAdam; scaleByLearningRate; decoupledWeightDecay</c>.</summary>
    /// <param name="lr">Learning rate.</param>
    /// <param name="betas">Decay rates of the first and second moments; null: (0.9, 0.999).</param>
    /// <param name="eps">Denominator term.</param>
    /// <param name="weightDecay">Decoupled weight decay.</param>
    /// <param name="amsgrad">Use AMSGrad.</param>
    /// <param name="maximize">Maximise the objective.</param>
    /// <returns>The chain.</returns>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value).</exception>
    public static Transformation AdamW(double lr = 1e-3, (double, double)? betas = null, double eps = 1e-8, double weightDecay = 1e-2, bool amsgrad = false, bool maximize = false) =>
        AdamFamily("adamw", true, lr, betas ?? (0.9, 0.999), eps, weightDecay, amsgrad, maximize);

    private static Transformation AdamFamily(string name, bool decoupled, double lr, (double, double) betas, double eps, double weightDecay, bool amsgrad, bool maximize)
    {
        AdamOptionsModule.validate(new AdamOptions(lr, betas.Item1, betas.Item2, eps, weightDecay, amsgrad, maximize));
        return new(Flags(name, (amsgrad, "amsgrad"), (maximize, "maximize")),
                   h => Chains.adam(decoupled, new FlagHypers(h, ("amsgrad", amsgrad), ("maximize", maximize))),
                   [("lr", lr), ("eps", eps), ("weight_decay", weightDecay)], [("betas", betas)]);
    }

    private static string Flags(string name, params (bool On, string Flag)[] flags)
    {
        var on = flags.Where(f => f.On).Select(f => f.Flag).ToArray();
        return on.Length == 0 ? name : $"{name}({string.Join(", ", on)})";
    }
}
