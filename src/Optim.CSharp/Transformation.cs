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
        Hyper.CheckPair("betas", b);
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

    /// <summary>
    /// Muon's momentum, as <c>torch.optim.Muon</c> (PyTorch 2.9): <c>b = lerp(b, u, 1 − μ)</c> from zeros; out <c>b</c>, or
    /// <c>lerp(u, b, μ)</c> with Nesterov (buffer <c>"momentum_buffer"</c>). Key <c>"momentum"</c>.
    /// </summary>
    /// <param name="momentum">The momentum <c>μ</c>, in [0, 1).</param>
    /// <param name="nesterov">Output the Nesterov look-ahead.</param>
    /// <returns>The block.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="momentum"/> is outside [0, 1) or NaN.</exception>
    public static Transformation TraceByLerp(double momentum = 0.95, bool nesterov = true)
    {
        if (!(momentum >= 0 && momentum < 1))
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, $"Invalid momentum value: {momentum}; it must be in [0, 1).");
        return Make(nesterov ? "traceByLerp(nesterov)" : "traceByLerp", h => Op(new Ops.LerpTrace(h.Cell("momentum", 0), nesterov)), ("momentum", momentum));
    }

    /// <summary>
    /// Muon's Newton–Schulz orthogonalisation of each parameter's update (every parameter must be 2-D): <c>X = u / max(‖u‖_F, ε)</c>,
    /// then <paramref name="nsSteps"/> times <c>X = a·X + (b·XXᵀ + c·(XXᵀ)²)·X</c>. Its values are fixed here, not group keys.
    /// </summary>
    /// <param name="nsCoefficients">The quintic's (a, b, c); null: (3.4445, -4.775, 2.0315).</param>
    /// <param name="nsSteps">Steps, from 1 to 99.</param>
    /// <param name="eps">The norm's floor, 0 or more.</param>
    /// <returns>The block.</returns>
    /// <exception cref="ArgumentException">A value is out of range (the message names it and the value).</exception>
    public static Transformation OrthogonalizeByNewtonSchulz((double, double, double)? nsCoefficients = null, int nsSteps = 5, double eps = 1e-7)
    {
        var o = CheckedMuonOptions(1e-3, 0, 0, false, nsCoefficients, eps, nsSteps, null);
        return Make("orthogonalizeByNewtonSchulz", _ => Blocks.orthogonalizeByNewtonSchulz(o.NsCoefficients, o.NsSteps, o.Eps));
    }

    /// <summary>
    /// Scales each parameter's update by its own negated learning rate, <c>u' = −(lr·ratio(shape))·u</c>, rounded once as
    /// PyTorch's <c>p.add_(u, alpha=−adjusted_lr)</c>: Muon's learning rate adjusted to the matrix. Its values are fixed here.
    /// </summary>
    /// <param name="lr">The learning rate, 0 or more.</param>
    /// <param name="ratio">The factor for a parameter of the given shape.</param>
    /// <returns>The block.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="lr"/> is negative, NaN or infinite.</exception>
    public static Transformation ScaleByLearningRateForShape(double lr, Func<int[], double> ratio)
    {
        NonNegative(nameof(lr), lr);
        ArgumentNullException.ThrowIfNull(ratio);
        return Make("scaleByLearningRateForShape", _ => Blocks.scaleByLearningRateForShape(lr, Microsoft.FSharp.Core.FuncConvert.FromFunc(ratio)));
    }

    // ---- combinators ----
    // ---- combinators ----

    /// <summary>
    /// Runs <paramref name="inner"/> only on steps whose gradients are all finite (<c>optax.apply_if_finite</c>): a step
    /// with a NaN or an infinity changes no parameter and no state, and counts the skip; after
    /// <paramref name="maxConsecutiveErrors"/> consecutive skips, it steps anyway. Counters are saved in the state dict.
    /// </summary>
    /// <param name="inner">The transformation to protect; its keys are the groups' keys.</param>
    /// <param name="maxConsecutiveErrors">How many consecutive non-finite steps are skipped before one is taken; 0 or more.</param>
    /// <returns>The combinator.</returns>
    /// <exception cref="ArgumentException"><paramref name="maxConsecutiveErrors"/> is negative.</exception>
    public static Transformation ApplyIfFinite(Transformation inner, int maxConsecutiveErrors = 0)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (maxConsecutiveErrors < 0)
            throw new ArgumentOutOfRangeException(nameof(maxConsecutiveErrors), maxConsecutiveErrors, $"Invalid maxConsecutiveErrors value: {maxConsecutiveErrors}; it must be 0 or more.");
        return new($"applyIfFinite({inner.Name})", h => Combinators.applyIfFinite(maxConsecutiveErrors, inner.Build(h)), inner.Scalars, inner.Pairs);
    }

    /// <summary>
    /// Gradient accumulation inside the optimizer (<c>optax.MultiSteps</c>): every <see cref="Optimizer.Step"/> adds the
    /// gradients into an accumulator, and every <paramref name="everyK"/>-th one steps <paramref name="inner"/> on their
    /// mean; the others move no parameter. It is the training loops' <c>accumulation_steps</c> as a value.
    /// </summary>
    /// <param name="inner">The transformation that takes the real steps; its keys are the groups' keys.</param>
    /// <param name="everyK">Micro-batches per real step, 1 or more.</param>
    /// <returns>The combinator.</returns>
    /// <exception cref="ArgumentException"><paramref name="everyK"/> is less than 1.</exception>
    public static Transformation MultiSteps(Transformation inner, int everyK)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (everyK < 1) throw new ArgumentOutOfRangeException(nameof(everyK), everyK, $"Invalid everyK value: {everyK}; it must be 1 or more.");
        return new($"multiSteps({everyK}, {inner.Name})", h => Combinators.multiSteps(everyK, inner.Build(h)), inner.Scalars, inner.Pairs);
    }

    /// <summary>
    /// Applies <paramref name="inner"/> to the parameters <paramref name="mask"/> selects (<c>optax.masked</c>); the others'
    /// updates pass through unchanged and their state is untouched.
    /// </summary>
    /// <param name="inner">The transformation for the selected parameters; its keys are the groups' keys.</param>
    /// <param name="mask">Given a parameter's index in the optimizer and its shape, whether <paramref name="inner"/> applies to it.</param>
    /// <returns>The combinator.</returns>
    public static Transformation Masked(Transformation inner, Func<int, int[], bool> mask)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(mask);
        return new($"masked({inner.Name})", h => Combinators.masked(Microsoft.FSharp.Core.FuncConvert.FromFunc(mask), inner.Build(h)), inner.Scalars, inner.Pairs);
    }

    /// <summary>
    /// A different transformation per label (<c>optax.multi_transform</c>): each parameter's label picks the transformation
    /// it runs; equal to separate optimizers on the subsets. The parts' hyperparameters are the values given here (they are
    /// not param-group keys, since two parts may give one key different values: for per-part values a scheduler drives, use
    /// param groups instead).
    /// </summary>
    /// <param name="labelOf">Given a parameter's index in the optimizer and its shape, its label.</param>
    /// <param name="parts">The transformation of each label.</param>
    /// <returns>The combinator.</returns>
    /// <exception cref="ArgumentException">Two parts have the same label.</exception>
    public static Transformation Partition(Func<int, int[], string> labelOf, params (string Label, Transformation Transformation)[] parts)
    {
        ArgumentNullException.ThrowIfNull(labelOf);
        ArgumentNullException.ThrowIfNull(parts);
        var copy = ((string Label, Transformation Transformation)[])parts.Clone();
        foreach (var (label, t) in copy)
        {
            ArgumentNullException.ThrowIfNull(label, nameof(parts));
            ArgumentNullException.ThrowIfNull(t, nameof(parts));
        }
        if (copy.GroupBy(p => p.Label).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new ArgumentException($"The label '{twice.Key}' is given two transformations.", nameof(parts));
        string name = "partition(" + string.Join(", ", copy.Select(p => $"{p.Label}: {p.Transformation.Name}")) + ")";
        return new(name, _ => Combinators.partition(
                Microsoft.FSharp.Core.FuncConvert.FromFunc(labelOf),
                Microsoft.FSharp.Collections.ListModule.OfSeq(copy.Select(p => Tuple.Create(p.Label, p.Transformation.Build(new DefaultHypers(p.Transformation)))))),
            [], []);
    }

    /// <summary>
    /// An exponential moving average of the parameters, as <c>torch.optim.swa_utils.AveragedModel</c> with an EMA: put it
    /// last in a chain; read the averaged weights with <see cref="ComposedOptimizer.EmaParameters"/>.
    /// </summary>
    /// <param name="decay">The decay, in [0, 1].</param>
    /// <returns>The block.</returns>
    /// <exception cref="ArgumentException"><paramref name="decay"/> is outside [0, 1].</exception>
    public static Transformation Ema(double decay)
    {
        if (!(decay >= 0 && decay <= 1)) throw new ArgumentOutOfRangeException(nameof(decay), decay, $"Invalid decay value: {decay}; it must be in [0, 1].");
        return Make($"ema({decay.ToString(System.Globalization.CultureInfo.InvariantCulture)})", _ => Combinators.ema(decay));
    }

    /// <summary>
    /// Lookahead (Zhang et al., 2019, "Lookahead Optimizer: k steps forward, 1 step back"): the fast weights follow
    /// <paramref name="inner"/>; every <paramref name="syncPeriod"/> steps the slow weights move by
    /// <paramref name="alpha"/> toward them, and the fast weights start again from the slow ones.
    /// </summary>
    /// <param name="inner">The fast optimizer; its keys are the groups' keys.</param>
    /// <param name="syncPeriod">Fast steps per slow step, 1 or more.</param>
    /// <param name="alpha">The slow step size, in [0, 1].</param>
    /// <returns>The combinator.</returns>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public static Transformation Lookahead(Transformation inner, int syncPeriod = 6, double alpha = 0.5)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (syncPeriod < 1) throw new ArgumentOutOfRangeException(nameof(syncPeriod), syncPeriod, $"Invalid syncPeriod value: {syncPeriod}; it must be 1 or more.");
        if (!(alpha >= 0 && alpha <= 1)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, $"Invalid alpha value: {alpha}; it must be in [0, 1].");
        return new($"lookahead({syncPeriod}, {inner.Name})", h => Combinators.lookahead(syncPeriod, alpha, inner.Build(h)), inner.Scalars, inner.Pairs);
    }

    /// <summary>
    /// Schedule-free AdamW (Defazio et al., 2024, "The Road Less Scheduled"), as the reference implementation's
    /// <c>AdamWScheduleFree</c>; read the evaluation weights with <see cref="ComposedOptimizer.ScheduleFreeParameters"/>.
    /// </summary>
    /// <param name="lr">Learning rate.</param>
    /// <param name="betas">The interpolation β₁ and the second-moment decay β₂; null: (0.9, 0.999).</param>
    /// <param name="eps">Denominator term.</param>
    /// <param name="weightDecay">Weight decay.</param>
    /// <param name="warmupSteps">Steps of linear learning-rate warmup.</param>
    /// <returns>The transformation.</returns>
    /// <exception cref="ArgumentException">A value is out of range (the message names it and the value).</exception>
    public static Transformation ScheduleFreeAdamW(double lr = 0.0025, (double, double)? betas = null, double eps = 1e-8, double weightDecay = 0, int warmupSteps = 0)
    {
        var (b1, b2) = betas ?? (0.9, 0.999);
        var d = ScheduleFreeAdamWOptionsModule.defaults;
        var o = ScheduleFreeAdamWOptionsModule.validate(new ScheduleFreeAdamWOptions(lr, b1, b2, eps, weightDecay, warmupSteps, d.R, d.WeightLrPower));
        return new("scheduleFreeAdamW", _ => ScheduleFree.adamw(o), [], []) { ScheduleFreeBeta = b1 };
    }

    /// <summary>
    /// Schedule-free SGD (Defazio et al., 2024), as the reference implementation's <c>SGDScheduleFree</c>; read the
    /// evaluation weights with <see cref="ComposedOptimizer.ScheduleFreeParameters"/>.
    /// </summary>
    /// <param name="lr">Learning rate.</param>
    /// <param name="momentum">The interpolation β, in (0, 1).</param>
    /// <param name="weightDecay">Weight decay.</param>
    /// <param name="warmupSteps">Steps of linear learning-rate warmup.</param>
    /// <returns>The transformation.</returns>
    /// <exception cref="ArgumentException">A value is out of range (the message names it and the value).</exception>
    public static Transformation ScheduleFreeSGD(double lr = 1.0, double momentum = 0.9, double weightDecay = 0, int warmupSteps = 0)
    {
        var d = ScheduleFreeSgdOptionsModule.defaults;
        var o = ScheduleFreeSgdOptionsModule.validate(new ScheduleFreeSgdOptions(lr, momentum, weightDecay, warmupSteps, d.R, d.WeightLrPower));
        return new("scheduleFreeSgd", _ => ScheduleFree.sgd(o), [], []) { ScheduleFreeBeta = momentum };
    }

    /// <summary>For a schedule-free transformation, its interpolation β (the evaluation weights need it); else null.</summary>
    internal double? ScheduleFreeBeta { get; private init; }

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

    /// <summary>
    /// torch.optim.Muon (PyTorch 2.9) as a chain, for matrices: <c>traceByLerp; orthogonalizeByNewtonSchulz;
    /// scaleByLearningRateForShape; decoupledWeightDecay</c>, its values fixed here (the class <see cref="CSharp.Muon"/> reads
    /// them from param groups). Pair it with AdamW for the other parameters: <see cref="MuonWithAdamW"/>.
    /// </summary>
    /// <param name="lr">Learning rate, before the adjustment to the matrix's shape.</param>
    /// <param name="weightDecay">Decoupled weight decay.</param>
    /// <param name="momentum">Momentum factor, in [0, 1).</param>
    /// <param name="nesterov">Nesterov momentum.</param>
    /// <param name="nsCoefficients">The Newton–Schulz quintic's (a, b, c); null: (3.4445, -4.775, 2.0315).</param>
    /// <param name="eps">The norm's floor.</param>
    /// <param name="nsSteps">Newton–Schulz steps, from 1 to 99.</param>
    /// <param name="adjustLrFn">null (PyTorch's None), <c>"original"</c> or <c>"match_rms_adamw"</c>.</param>
    /// <returns>The chain.</returns>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value).</exception>
    public static Transformation Muon(double lr = 1e-3, double weightDecay = 0.1, double momentum = 0.95, bool nesterov = true,
                                      (double, double, double)? nsCoefficients = null, double eps = 1e-7, int nsSteps = 5, string? adjustLrFn = null)
    {
        var o = CheckedMuonOptions(lr, weightDecay, momentum, nesterov, nsCoefficients, eps, nsSteps, adjustLrFn);
        return Make(nesterov ? "muon(nesterov)" : "muon", _ => Alias.muon(o));
    }

    /// <summary>
    /// Muon on every parameter of two dimensions and AdamW on the others (biases, gains), as PyTorch's documentation of
    /// <c>torch.optim.Muon</c> pairs them: <see cref="Partition"/> by the parameter's number of dimensions (Optim.Core's
    /// <c>Alias.muonWithAdamW</c>).
    /// </summary>
    /// <param name="muon">The transformation of the matrices, such as <see cref="Muon(double, double, double, bool, ValueTuple{double, double, double}?, double, int, string?)"/>.</param>
    /// <param name="adamw">The transformation of the other parameters, such as <see cref="AdamW"/>.</param>
    /// <returns>The partition.</returns>
    public static Transformation MuonWithAdamW(Transformation muon, Transformation adamw)
    {
        ArgumentNullException.ThrowIfNull(muon);
        ArgumentNullException.ThrowIfNull(adamw);
        return Partition((_, shape) => shape.Length == 2 ? "muon" : "adamw", ("muon", muon), ("adamw", adamw));
    }

    /// <summary>Muon's options from the facade's arguments, checked with their names.</summary>
    private static MuonOptions CheckedMuonOptions(double lr, double weightDecay, double momentum, bool nesterov,
                                           (double, double, double)? nsCoefficients, double eps, int nsSteps, string? adjustLrFn)
    {
        Hyper.CheckText("adjust_lr_fn", adjustLrFn, nameof(adjustLrFn));
        var (a, b, c) = nsCoefficients ?? (3.4445, -4.775, 2.0315);
        return MuonOptionsModule.validate(new MuonOptions(lr, weightDecay, momentum, nesterov, (a, b, c), eps, nsSteps,
            adjustLrFn == "match_rms_adamw" ? MuonLrAdjustment.MatchRmsAdamW : MuonLrAdjustment.Original));
    }

    private static string Flags(string name, params (bool On, string Flag)[] flags)
    {
        var on = flags.Where(f => f.On).Select(f => f.Flag).ToArray();
        return on.Length == 0 ? name : $"{name}({string.Join(", ", on)})";
    }
}
