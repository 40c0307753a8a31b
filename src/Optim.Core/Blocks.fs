namespace Optim

open System

/// <summary>
/// The building blocks optimizers are made of. Each is a <see cref="T:Optim.GradientTransformation"/>;
/// named optimizers (<see cref="T:Optim.Alias"/>) are chains of them. Scalars are computed in
/// <c>double</c> and used in <c>float32</c> elementwise math, as PyTorch does.
/// </summary>
[<RequireQualifiedAccess>]
module Blocks =

    let private stateless (name: string) (f: int -> float32[] -> State -> Tensor[] -> float32[]) : GradientTransformation =
        Transform.create name (fun ps -> State.empty ps.Length) (fun updates state ps ->
            updates |> Array.mapi (fun i u -> if isNull u then null else f i u state ps), state)

    /// <summary>Multiplies updates by a constant: <c>u' = c·u</c>.</summary>
    /// <param name="factor">The constant <c>c</c>.</param>
    let scale (factor: float) : GradientTransformation =
        Stages.ofOp (ScaleOp($"scale({factor})", (fun _ -> factor), []))

    /// <summary>
    /// Turns descent into ascent: <c>u' = -u</c>. Placed first in a chain, it is PyTorch's
    /// <c>maximize=True</c>, which negates the gradient before everything else.
    /// </summary>
    let maximize : GradientTransformation = Stages.ofOp (SignFlipOp())

    /// <summary>Multiplies updates by a schedule of the step count: <c>u' = s(t)·u</c>, <c>t</c> the parameter's completed steps.</summary>
    /// <param name="schedule">The schedule.</param>
    let scaleBySchedule (schedule: Schedule) : GradientTransformation =
        if isNull (box schedule) then nullArg (nameof schedule)
        Stages.ofOp (ScaleOp("scaleBySchedule", schedule, []))

    /// <summary>
    /// Scales by the negated learning rate from a schedule: <c>u' = -lr(t)·u</c>. This block carries the
    /// library's one sign flip (updates are added to parameters).
    /// </summary>
    /// <param name="lr">The learning-rate schedule.</param>
    let scaleByLearningRateSchedule (lr: Schedule) : GradientTransformation =
        if isNull (box lr) then nullArg (nameof lr)
        Stages.ofOp (ScaleOp("scaleByLearningRateSchedule", (fun t -> -(lr t)), []))

    /// <summary>Scales by the negated constant learning rate: <c>u' = -lr·u</c>.</summary>
    /// <param name="lr">The learning rate.</param>
    let scaleByLearningRate (lr: float) : GradientTransformation =
        Stages.ofOp (ScaleOp($"scaleByLearningRate({lr})", (fun _ -> -lr), []))

    /// <summary>
    /// Adds weight times parameter: <c>u' = u + λ·p</c>. Before the moment estimates it is coupled L2
    /// regularisation, PyTorch's <c>weight_decay</c> (<c>d_p = d_p.add(p, alpha=λ)</c>).
    /// </summary>
    /// <param name="weightDecay">The coefficient <c>λ</c>; 0 makes the block the identity.</param>
    let addWeightDecay (weightDecay: float) : GradientTransformation =
        Stages.ofOp (Ops.AddWeightDecay(Cell.Const weightDecay))

    /// <summary>
    /// Decoupled weight decay (Loshchilov &amp; Hutter, "Decoupled Weight Decay Regularization", 2019):
    /// placed after the learning-rate block, <c>u' = u - lr·λ·p</c>, so that <c>p' = p·(1 - lr·λ) + u</c> as in
    /// PyTorch's AdamW.
    /// </summary>
    /// <param name="lr">The learning rate the decay is scaled by.</param>
    /// <param name="weightDecay">The coefficient <c>λ</c>.</param>
    let decoupledWeightDecay (lr: float) (weightDecay: float) : GradientTransformation =
        Stages.ofOp (Ops.DecoupledWeightDecay(Cell.Const lr, Cell.Const weightDecay))

    /// <summary>
    /// Momentum exactly as <c>torch.optim.SGD</c>: on a parameter's first update <c>b = u</c>, then
    /// <c>b = μ·b + (1 - τ)·u</c>; the output is <c>b</c>, or <c>u + μ·b</c> with Nesterov. Buffer:
    /// <c>"momentum_buffer"</c>. With <c>μ = 0</c> the block passes updates through and creates no buffer.
    /// </summary>
    /// <param name="momentum">The momentum <c>μ</c>.</param>
    /// <param name="dampening">The dampening <c>τ</c>.</param>
    /// <param name="nesterov">Whether to use Nesterov momentum (Sutskever et al., 2013).</param>
    let trace (momentum: float) (dampening: float) (nesterov: bool) : GradientTransformation =
        Stages.ofOp (Ops.Trace(Cell.Const momentum, Cell.Const dampening, nesterov, false))

    /// <summary>
    /// Momentum exactly as <c>torch.optim.RMSprop</c> keeps it: <c>b = μ·b + u</c> from a buffer of zeros; the output is
    /// <c>b</c>. Buffer: <c>"momentum_buffer"</c>. With <c>μ = 0</c> the block passes updates through and creates no buffer.
    /// </summary>
    /// <param name="momentum">The momentum <c>μ</c>.</param>
    let traceFromZeros (momentum: float) : GradientTransformation =
        Stages.ofOp (Ops.Trace(Cell.Const momentum, Cell.Const 0.0, false, true))

    /// <summary>
    /// Momentum exactly as <c>torch.optim.Muon</c> (PyTorch 2.9) keeps it, an exponential moving average where
    /// <c>trace</c> sums: <c>b = lerp(b, u, 1 - μ) = μ·b + (1 - μ)·u</c> from a buffer of zeros; the output is <c>b</c>,
    /// or <c>lerp(u, b, μ) = (1 - μ)·u + μ·b</c> with Nesterov. Each <c>lerp</c> is <c>torch.lerp</c>'s float32 arithmetic.
    /// Buffer: <c>"momentum_buffer"</c>, kept whatever μ (μ = 0 keeps the last update).
    /// </summary>
    /// <param name="momentum">The momentum <c>μ</c>.</param>
    /// <param name="nesterov">Whether to output the Nesterov look-ahead <c>lerp(u, b, μ)</c> rather than <c>b</c>.</param>
    let traceByLerp (momentum: float) (nesterov: bool) : GradientTransformation =
        Stages.ofOp (Ops.LerpTrace(Cell.Const momentum, nesterov))

    /// <summary>
    /// Adam's moment scaling with bias correction (Kingma &amp; Ba, "Adam", 2015), and AMSGrad
    /// (Reddi et al., "On the Convergence of Adam and Beyond", 2018):
    /// <c>m = β₁m + (1-β₁)u</c>, <c>v = β₂v + (1-β₂)u²</c>, <c>v̂ = max(v̂, v)</c> with AMSGrad,
    /// <c>u' = (m / (1-β₁ᵗ)) / (√v / √(1-β₂ᵗ) + ε)</c>. Buffers: <c>"exp_avg"</c>, <c>"exp_avg_sq"</c>,
    /// and <c>"max_exp_avg_sq"</c> with AMSGrad.
    /// </summary>
    /// <param name="beta1">The first-moment decay <c>β₁</c>.</param>
    /// <param name="beta2">The second-moment decay <c>β₂</c>.</param>
    /// <param name="eps">The denominator's <c>ε</c>.</param>
    /// <param name="amsgrad">Whether to normalise by the running maximum of <c>v</c>.</param>
    let scaleByAdam (beta1: float) (beta2: float) (eps: float) (amsgrad: bool) : GradientTransformation =
        Stages.ofOp (Ops.Adam(Cell.Const beta1, Cell.Const beta2, Cell.Const eps, amsgrad))

    /// Runs a per-parameter rule over the parameters that have an update. `rule step u p olds` gets the
    /// parameter's completed steps, its update, the parameter and its buffers named `names` (null where not yet
    /// created), and returns the outgoing update and the parameter's new buffers; it must not write `olds`.
    let private perParameter (name: string) (names: string list) (init: Tensor[] -> State) (rule: int64 -> float32[] -> Tensor -> float32[][] -> float32[] * float32[][]) =
        Transform.create name init (fun (updates: float32[][]) (state: State) (ps: Tensor[]) ->
            let tables = names |> List.map (fun n -> Array.copy (State.buffer n state)) |> Array.ofList
            let out =
                updates |> Array.mapi (fun i u ->
                    if isNull u then null
                    else
                        let u', news = rule state.Steps.[i] u ps.[i] (tables |> Array.map (fun t -> t.[i]))
                        tables |> Array.iteri (fun k t -> t.[i] <- news.[k])
                        u')
            out, List.fold2 (fun s name table -> State.setBuffer name table s) state names (List.ofArray tables))

    let private orFill (n: int) (value: float32) (a: float32[]) = if isNull a then Array.create n value else a

    /// <summary>
    /// Adagrad's scaling (Duchi et al., "Adaptive Subgradient Methods for Online Learning and Stochastic
    /// Optimization", JMLR 2011), as <c>torch.optim.Adagrad</c>: <c>s = s + u²</c>, <c>u' = u / (√s + ε)</c>.
    /// Buffer: <c>"sum"</c>, created by <c>Init</c> for every parameter and filled with the initial value, as
    /// PyTorch's constructor does.
    /// </summary>
    /// <param name="initialAccumulatorValue">The starting value of <c>s</c>.</param>
    /// <param name="eps">The denominator's <c>ε</c>.</param>
    let scaleByRss (initialAccumulatorValue: float) (eps: float) : GradientTransformation =
        Stages.ofOp (Ops.Rss(Cell.Const initialAccumulatorValue, Cell.Const eps))

    /// <summary>
    /// RMSprop's scaling (Hinton, Lecture 6e of "Neural Networks for Machine Learning", 2012; centered:
    /// Graves, "Generating Sequences With Recurrent Neural Networks", 2013), as <c>torch.optim.RMSprop</c>:
    /// <c>v = αv + (1-α)u²</c>; centered, <c>ḡ = αḡ + (1-α)u</c> and <c>u' = u / (√(v - ḡ²) + ε)</c>, otherwise
    /// <c>u' = u / (√v + ε)</c>. Buffers: <c>"square_avg"</c>, and <c>"grad_avg"</c> when centered.
    /// </summary>
    /// <param name="alpha">The smoothing constant <c>α</c>.</param>
    /// <param name="eps">The denominator's <c>ε</c>.</param>
    /// <param name="centered">Whether to subtract the squared mean gradient.</param>
    let scaleByRms (alpha: float) (eps: float) (centered: bool) : GradientTransformation =
        Stages.ofOp (Ops.Rms(Cell.Const alpha, Cell.Const eps, centered))

    /// <summary>
    /// Adadelta's scaling (Zeiler, "ADADELTA: An Adaptive Learning Rate Method", 2012), as
    /// <c>torch.optim.Adadelta</c>: <c>v = ρv + (1-ρ)u²</c>, <c>u' = √(a + ε) / √(v + ε) · u</c>,
    /// <c>a = ρa + (1-ρ)u'²</c>. Buffers: <c>"square_avg"</c>, <c>"acc_delta"</c>.
    /// </summary>
    /// <param name="rho">The decay <c>ρ</c> of both running averages.</param>
    /// <param name="eps">The <c>ε</c> inside both square roots.</param>
    let scaleByAdadelta (rho: float) (eps: float) : GradientTransformation =
        Stages.ofOp (Ops.Adadelta(Cell.Const rho, Cell.Const eps))

    /// <summary>
    /// Adamax's scaling, the infinity-norm variant of Adam (Kingma &amp; Ba, "Adam", 2015, §7), as
    /// <c>torch.optim.Adamax</c>: <c>m = β₁m + (1-β₁)u</c>, <c>w = max(β₂w, |u| + ε)</c>,
    /// <c>u' = (m / (1-β₁ᵗ)) / w</c>. Buffers: <c>"exp_avg"</c>, <c>"exp_inf"</c>.
    /// </summary>
    /// <param name="beta1">The first-moment decay <c>β₁</c>.</param>
    /// <param name="beta2">The infinity-norm decay <c>β₂</c>.</param>
    /// <param name="eps">The <c>ε</c> added to the gradient's magnitude.</param>
    let scaleByAdamax (beta1: float) (beta2: float) (eps: float) : GradientTransformation =
        Stages.ofOp (Ops.Adamax(Cell.Const beta1, Cell.Const beta2, Cell.Const eps))

    /// The momentum schedule of NAdam: μₜ = β₁(1 - ½·0.96^(t·ψ)).
    let internal nadamMu (beta1: float) (momentumDecay: float) (t: float) = Ops.nadamMu beta1 momentumDecay t

    /// <summary>
    /// NAdam's scaling (Dozat, "Incorporating Nesterov Momentum into Adam", 2016), as <c>torch.optim.NAdam</c>:
    /// with <c>μₜ = β₁(1 - ½·0.96^(tψ))</c> and <c>Πₜ = μ₁⋯μₜ</c> (kept in float32, as PyTorch does),
    /// <c>m = β₁m + (1-β₁)u</c>, <c>v = β₂v + (1-β₂)u²</c>, <c>d = √(v / (1-β₂ᵗ)) + ε</c>,
    /// <c>u' = (1-μₜ)/(1-Πₜ) · u/d + μₜ₊₁/(1-Πₜμₜ₊₁) · m/d</c>. Buffers: <c>"exp_avg"</c>, <c>"exp_avg_sq"</c>, and
    /// <c>"mu_product"</c> (one value per parameter).
    /// </summary>
    /// <param name="beta1">The first-moment decay <c>β₁</c>.</param>
    /// <param name="beta2">The second-moment decay <c>β₂</c>.</param>
    /// <param name="eps">The denominator's <c>ε</c>.</param>
    /// <param name="momentumDecay">The momentum decay <c>ψ</c>.</param>
    let scaleByNadam (beta1: float) (beta2: float) (eps: float) (momentumDecay: float) : GradientTransformation =
        Stages.ofOp (Ops.Nadam(Cell.Const beta1, Cell.Const beta2, Cell.Const eps, Cell.Const momentumDecay))

    /// The rectification of RAdam at step t: Some r when the variance is tractable (ρₜ &gt; 5), else None.
    let internal radamRectification (beta2: float) (t: float) = Ops.radamRectification beta2 t

    /// <summary>
    /// RAdam's scaling (Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond", ICLR 2020), as
    /// <c>torch.optim.RAdam</c>: <c>m = β₁m + (1-β₁)u</c>, <c>v = β₂v + (1-β₂)u²</c>, <c>m̂ = m / (1-β₁ᵗ)</c>;
    /// with <c>ρ∞ = 2/(1-β₂) - 1</c> and <c>ρₜ = ρ∞ - 2tβ₂ᵗ/(1-β₂ᵗ)</c>, when <c>ρₜ &gt; 5</c>,
    /// <c>u' = m̂ · r · √(1-β₂ᵗ) / (√v + ε)</c> with <c>r = √((ρₜ-4)(ρₜ-2)ρ∞ / ((ρ∞-4)(ρ∞-2)ρₜ))</c>, otherwise
    /// <c>u' = m̂</c>. Buffers: <c>"exp_avg"</c>, <c>"exp_avg_sq"</c>.
    /// </summary>
    /// <param name="beta1">The first-moment decay <c>β₁</c>.</param>
    /// <param name="beta2">The second-moment decay <c>β₂</c>.</param>
    /// <param name="eps">The denominator's <c>ε</c>.</param>
    let scaleByRadam (beta1: float) (beta2: float) (eps: float) : GradientTransformation =
        Stages.ofOp (Ops.Radam(Cell.Const beta1, Cell.Const beta2, Cell.Const eps))

    /// <summary>
    /// ASGD's decaying learning rate (Polyak &amp; Juditsky, "Acceleration of Stochastic Approximation by
    /// Averaging", 1992), as <c>torch.optim.ASGD</c>: <c>u' = -η·u - λη·p</c>, where <c>η</c> starts at <c>lr</c> and
    /// after step <c>t</c> becomes <c>lr / (1 + λ·lr·t)^α</c> (kept in float32, as PyTorch does). Like
    /// <c>scaleByLearningRate</c>, it carries the sign flip. At the end of a chain (before <c>averageIterates</c>) an
    /// optimizer applies the decay as PyTorch does, <c>p' = p·(1 - λη) - η·u</c>. Buffer: <c>"eta"</c> (one value per
    /// parameter).
    /// </summary>
    /// <param name="lr">The learning rate.</param>
    /// <param name="lambd">The decay term <c>λ</c>.</param>
    /// <param name="alpha">The decay power <c>α</c>.</param>
    let scaleByAsgdLearningRate (lr: float) (lambd: float) (alpha: float) : GradientTransformation =
        Stages.ofOp (Ops.AsgdRate(Cell.Const lr, Cell.Const lambd, Cell.Const alpha))

    /// <summary>
    /// Polyak–Ruppert averaging of the iterates, as <c>torch.optim.ASGD</c> keeps it: passes the updates through
    /// and tracks the average <c>x̄</c> of the new parameters <c>p' = p + u</c>: <c>x̄ = p'</c> while <c>μ = 1</c>, then
    /// <c>x̄ = x̄ + μ(p' - x̄)</c>, where after step <c>t</c>, <c>μ = 1 / max(1, t - t₀)</c>. Put it last in a chain, where
    /// the updates are final. Buffers: <c>"ax"</c> and <c>"mu"</c> (one value per parameter).
    /// </summary>
    /// <param name="t0">The step <c>t₀</c> after which averaging starts.</param>
    let averageIterates (t0: float) : GradientTransformation =
        Stages.ofOp (Ops.AverageIterates(Cell.Const t0))

    /// <summary>
    /// Rprop's step sizes (Riedmiller &amp; Braun, "A Direct Adaptive Method for Faster Backpropagation
    /// Learning: The RPROP Algorithm", 1993), as <c>torch.optim.Rprop</c>: per element, a step size <c>s</c>
    /// (starting at <c>lr</c>) grows by <c>η₊</c> while <c>u·u_prev &gt; 0</c> and shrinks by <c>η₋</c> when it is
    /// negative, clamped to <c>[s_min, s_max]</c>; after a sign change the element does not move and its
    /// gradient is forgotten. <c>u' = sign(u)·s</c>, to be followed by <c>scale -1</c>. Buffers: <c>"prev"</c>,
    /// <c>"step_size"</c>.
    /// </summary>
    /// <param name="lr">The initial step size.</param>
    /// <param name="etaMinus">The factor <c>η₋</c> for a sign change.</param>
    /// <param name="etaPlus">The factor <c>η₊</c> for a kept sign.</param>
    /// <param name="stepSizeMin">The smallest step size.</param>
    /// <param name="stepSizeMax">The largest step size.</param>
    let scaleByRprop (lr: float) (etaMinus: float) (etaPlus: float) (stepSizeMin: float) (stepSizeMax: float) : GradientTransformation =
        Stages.ofOp (Ops.Rprop(Cell.Const lr, Cell.Const etaMinus, Cell.Const etaPlus, Cell.Const stepSizeMin, Cell.Const stepSizeMax))

    /// <summary>
    /// Lion's update direction (Chen et al., "Symbolic Discovery of Optimization Algorithms", NeurIPS 2023):
    /// <c>u' = sign(β₁m + (1-β₁)u)</c>, then <c>m = β₂m + (1-β₂)u</c>. Buffer: <c>"exp_avg"</c>.
    /// </summary>
    /// <param name="beta1">The interpolation <c>β₁</c> that forms the direction.</param>
    /// <param name="beta2">The decay <c>β₂</c> of the momentum.</param>
    let scaleByLion (beta1: float) (beta2: float) : GradientTransformation =
        Stages.ofOp (Ops.Lion(Cell.Const beta1, Cell.Const beta2))

    /// <summary>Clips every element of the updates to <c>[-c, c]</c>, as <c>optax.clip</c> and PyTorch's
    /// <c>clip_grad_value_</c> (placed first in a chain).</summary>
    /// <param name="maxDelta">The bound <c>c</c>, 0 or more.</param>
    /// <exception cref="T:System.ArgumentException"><paramref name="maxDelta"/> is negative or NaN.</exception>
    let clipByValue (maxDelta: float) : GradientTransformation =
        if not (maxDelta >= 0.0) then invalidArg (nameof maxDelta) $"The clip value must be 0 or more, but was {maxDelta}."
        Stages.ofOp (Ops.ClipByValue(Cell.Const maxDelta))

    /// <summary>Replaces every NaN of the updates by 0, as <c>optax.zero_nans</c>.</summary>
    let zeroNans : GradientTransformation = Stages.ofOp (Ops.ZeroNans())

    /// <summary>
    /// Scales each parameter's update by the trust ratio <c>‖p‖ / ‖u‖</c> (1 when either norm is 0), as LAMB
    /// (You et al., "Large Batch Optimization for Deep Learning: Training BERT in 76 minutes", ICLR 2020) and
    /// <c>optax.scale_by_trust_ratio</c> do. The norms are computed in double.
    /// </summary>
    let scaleByTrustRatio : GradientTransformation =
        stateless "scaleByTrustRatio" (fun i u _ ps ->
            let norm (a: float32[]) = sqrt (Array.sumBy (fun (x: float32) -> float x * float x) a)
            let pn, un = norm ps.[i].Data, norm u
            let ratio = if pn > 0.0 && un > 0.0 then float32 (pn / un) else 1.0f
            u |> Array.map (fun x -> ratio * x))

    /// `torch.lerp(start, end, w)` on float32 exactly as PyTorch's CPU kernel computes it: one fused multiply-add,
    /// `start + w·(end - start)` for |w| &lt; 0.5, else `end - (end - start)·(1 - w)`.
    let internal lerp (start: float32) (stop: float32) (w: float32) =
        if MathF.Abs w < 0.5f then MathF.FusedMultiplyAdd(w, stop - start, start)
        else MathF.FusedMultiplyAdd(start - stop, 1.0f - w, stop)

    /// `t.norm(2).item()` as PyTorch computes it from a sum of squares: the root rounded to float32 (torch's norm
    /// is a float32 tensor), then read back as a double.
    let internal norm32 (sumOfSquares: float) = float (float32 (sqrt sumOfSquares))

    let private norm (a: float32[]) =
        let mutable s = 0.0
        for x in a do s <- s + float x * float x
        norm32 s

    /// The mean of a squared norm over k elements, as PyTorch's `vector_norm(g, dim).square_().div_(k)`, in float32.
    let internal meanSquare (sumOfSquares: float) (k: int) =
        let r = float32 (sqrt sumOfSquares)
        r * r / float32 k

    /// <summary>
    /// Adafactor's second-moment scaling (Shazeer &amp; Stern, "Adafactor: Adaptive Learning Rates with Sublinear
    /// Memory Cost", ICML 2018), as <c>torch.optim.Adafactor</c> (PyTorch 2.x) computes it. With
    /// <c>β̂₂ₜ = 1 - t^τ</c>, for a parameter of two or more dimensions (factored over its last two, <c>n</c> rows by
    /// <c>m</c> columns): <c>R = β̂₂ₜR + (1-β̂₂ₜ)·mean_cols(u²)</c>, <c>C = β̂₂ₜC + (1-β̂₂ₜ)·mean_rows(u²)</c>,
    /// <c>V̂ = R·C / max(mean(R), ε₁)</c>; for a vector or a scalar, <c>V̂ = β̂₂ₜV̂ + (1-β̂₂ₜ)·u²</c>; then
    /// <c>u' = u / max(√V̂, ε₁)</c>. Buffers: <c>"row_var"</c> and <c>"col_var"</c> (layouts <c>Reduced -1</c> and
    /// <c>Reduced -2</c>), or <c>"variance"</c>.
    /// </summary>
    /// <remarks>
    /// <c>"row_var"</c> and <c>"col_var"</c> are created (as zeros) by <c>Init</c>, where PyTorch creates them at the first
    /// step: their sizes carry the factorization, which an in-place step (given buffers, not shapes) needs; a parameter
    /// is factored exactly when it has them.
    /// <c>"variance"</c> is created at the first step. A parameter with no elements keeps its buffers (PyTorch fails on it).
    /// </remarks>
    /// <param name="beta2Decay">The decay rate <c>τ</c>, 0 or less.</param>
    /// <param name="eps1">The floor <c>ε₁</c> of <c>√V̂</c> (and of <c>mean(R)</c>); PyTorch's default is float32's machine epsilon.</param>
    let scaleByFactoredRms (beta2Decay: float) (eps1: float) : GradientTransformation =
        let e1 = float32 eps1
        let e1sq = float32 (eps1 * eps1)
        let rows, cols = BufferLayout.Reduced -1, BufferLayout.Reduced -2
        let zerosFor layout (ps: Tensor[]) =
            ps |> Array.map (fun p -> match BufferLayout.shapeOf layout p.Shape with ValueSome s -> Array.zeroCreate (Tensor.numel s) | ValueNone -> null)
        let init (ps: Tensor[]) =
            State.empty ps.Length
            |> State.declareWith rows "row_var" |> State.declareWith cols "col_var" |> State.declare "variance"
            |> State.setBuffer "row_var" (zerosFor rows ps) |> State.setBuffer "col_var" (zerosFor cols ps)
        perParameter $"scaleByFactoredRms({beta2Decay}, {eps1})" [ "row_var"; "col_var"; "variance" ] init (fun step u _ olds ->
            let n = u.Length
            let w = float32 (float (step + 1L) ** beta2Decay)
            if n = 0 then Array.empty, olds
            elif not (isNull olds.[0] || isNull olds.[1]) then
                // the factors Init created carry the factorization (an in-place step sees buffers, not shapes):
                // batch·r row factors and batch·m column factors of n = batch·r·m elements
                let row0, col0 = olds.[0], olds.[1]
                let batch = int (int64 row0.Length * int64 col0.Length / int64 n)
                let r, m = row0.Length / batch, col0.Length / batch
                let sumSq (xs: seq<int>) = xs |> Seq.sumBy (fun j -> float u.[j] * float u.[j])
                let row = Array.init (batch * r) (fun br -> lerp row0.[br] (meanSquare (sumSq (seq { br * m .. br * m + m - 1 })) m) w)
                let col =
                    Array.init (batch * m) (fun bc ->
                        let b, c = bc / m, bc % m
                        lerp col0.[bc] (meanSquare (sumSq (seq { for k in 0 .. r - 1 -> (b * r + k) * m + c })) r) w)
                let rowMean = Array.init batch (fun b -> MathF.Max(float32 (Seq.sumBy float row.[b * r .. b * r + r - 1]) / float32 r, e1))
                let out =
                    Array.init n (fun j ->
                        let br = j / m
                        let v = row.[br] * col.[(br / r) * m + j % m] / rowMean.[br / r]
                        1.0f / MathF.Sqrt(MathF.Max(v, e1sq)) * u.[j])
                out, [| row; col; olds.[2] |]
            else
                let v0 = orFill n 0.0f olds.[2]
                let v = Array.init n (fun j -> lerp v0.[j] (u.[j] * u.[j]) w)
                Array.init n (fun j -> 1.0f / MathF.Sqrt(MathF.Max(v.[j], e1sq)) * u.[j]), [| olds.[0]; olds.[1]; v |])

    /// The message of a parameter that is not a matrix, for Muon's blocks.
    let internal notAMatrix (index: int) (shape: int[]) =
        $"Muon orthogonalises matrices (2-D parameters), but parameter {index} has shape {Tensor.formatShape shape}; optimize it with another optimizer (Alias.muonWithAdamW does so for every parameter that is not 2-D)."

    /// <summary>
    /// Orthogonalises each parameter's update with the Newton–Schulz iteration of Muon (Jordan et al., "Muon: An optimizer
    /// for hidden layers in neural networks", 2024), as PyTorch 2.9's <c>_zeropower_via_newtonschulz</c> computes it but in
    /// float32: <c>X = u / max(‖u‖_F, ε)</c>, then <c>steps</c> times <c>A = X·Xᵀ</c>, <c>X = a·X + (b·A + c·A²)·X</c> (a tall
    /// matrix iterates on its transpose); <c>u' = X</c>. The quintic's coefficients push every singular value of <c>X</c>
    /// towards 1 (to within about [0.68, 1.13] with the defaults): <c>u' ≈ U·Vᵀ</c> for <c>u = U·S·Vᵀ</c>. The products
    /// run on Optim.Kernels' packed GEMM. Keeps no state.
    /// </summary>
    /// <param name="coefficients">The quintic's <c>(a, b, c)</c>; Muon's are (3.4445, -4.775, 2.0315).</param>
    /// <param name="steps">The number of steps, 1 or more.</param>
    /// <param name="eps">The floor of the norm, 0 or more.</param>
    /// <exception cref="T:System.ArgumentException">A coefficient is not finite, <paramref name="steps"/> is below 1, or
    /// <paramref name="eps"/> is negative or NaN; at <c>Init</c> or an update, a parameter is not 2-D (the message names it
    /// and its shape).</exception>
    let orthogonalizeByNewtonSchulz (coefficients: struct (float * float * float)) (steps: int) (eps: float) : GradientTransformation =
        let struct (a, b, c) = coefficients
        if not (Double.IsFinite a && Double.IsFinite b && Double.IsFinite c) then
            invalidArg (nameof coefficients) $"The coefficients must be finite, but are ({a}, {b}, {c})."
        if steps < 1 then invalidArg (nameof steps) $"The number of steps must be 1 or more, but was {steps}."
        if not (eps >= 0.0) then invalidArg (nameof eps) $"The norm's floor must be 0 or more, but was {eps}."
        let matrices (ps: Tensor[]) =
            ps |> Array.iteri (fun i p -> if p.Shape.Length <> 2 then invalidArg "parameters" (notAMatrix i p.Shape))
        let init (ps: Tensor[]) =
            matrices ps
            State.empty ps.Length
        Transform.create $"orthogonalizeByNewtonSchulz(({a}, {b}, {c}), {steps}, {eps})" init (fun updates state ps ->
            updates |> Array.iteri (fun i u -> if not (isNull u) && ps.[i].Shape.Length <> 2 then invalidArg "parameters" (notAMatrix i ps.[i].Shape))
            let out =
                updates |> Array.mapi (fun i u ->
                    if isNull u then null
                    else
                        let o = Array.zeroCreate u.Length
                        NewtonSchulz.Orthogonalize(ReadOnlySpan u, ps.[i].Shape.[0], ps.[i].Shape.[1], float32 a, float32 b, float32 c, steps, float32 eps, Span o)
                        o)
            out, state)

    /// <summary>
    /// Scales each parameter's update by its own negated learning rate, <c>u' = -(lr·r(shape))·u</c>, the factor computed in
    /// double and rounded once to float32, as PyTorch's <c>p.add_(u, alpha=-adjusted_lr)</c>: Muon's learning rate
    /// adjusted to the shape of the matrix (<c>MuonOptions.lrRatio</c>). Like <c>scaleByLearningRate</c>, it carries the sign
    /// flip. Keeps no state.
    /// </summary>
    /// <param name="lr">The learning rate.</param>
    /// <param name="ratio">The factor for a parameter of the given shape.</param>
    let scaleByLearningRateForShape (lr: float) (ratio: int[] -> float) : GradientTransformation =
        if isNull (box ratio) then nullArg (nameof ratio)
        stateless $"scaleByLearningRateForShape({lr})" (fun i u _ ps ->
            let s = float32 (-(lr * ratio ps.[i].Shape))
            u |> Array.map (fun x -> s * x))

    /// <summary>
    /// Clips each parameter's update to a root mean square of at most <c>d</c>, as <c>optax.clip_by_block_rms</c> and
    /// Adafactor's update clipping (Shazeer &amp; Stern, 2018, §6): <c>u' = u / max(1, RMS(u)/d)</c>.
    /// </summary>
    /// <param name="threshold">The largest RMS <c>d</c>.</param>
    let clipByBlockRms (threshold: float) : GradientTransformation =
        stateless $"clipByBlockRms({threshold})" (fun _ u _ _ ->
            if u.Length = 0 then u
            else
                let denom = max 1.0 (norm u / (sqrt (float u.Length) * threshold))
                let c = float32 (1.0 / denom)
                u |> Array.map (fun x -> c * x))

    /// <summary>
    /// Scales each parameter's update by the parameter's root mean square, floored at <c>ε₂</c>, as
    /// <c>optax.scale_by_param_block_rms</c> and Adafactor's relative step size (Shazeer &amp; Stern, 2018, §8):
    /// <c>u' = max(ε₂, RMS(p))·u</c>.
    /// </summary>
    /// <param name="minScale">The floor <c>ε₂</c>.</param>
    let scaleByParamBlockRms (minScale: float) : GradientTransformation =
        stateless $"scaleByParamBlockRms({minScale})" (fun i u _ ps ->
            let p = ps.[i].Data
            if p.Length = 0 then u
            else
                let c = float32 (max minScale (norm p / sqrt (float p.Length)))
                u |> Array.map (fun x -> c * x))
