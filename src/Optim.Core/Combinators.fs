namespace Optim

open System

/// <summary>
/// Transformations built around other transformations, in the style of Optax's wrappers: clipping by the global norm,
/// skipping non-finite steps, gradient accumulation, masks and partitions of the parameters, an exponential moving
/// average of the parameters, and Lookahead. Each is a <see cref="T:Optim.GradientTransformation"/> and composes with
/// <c>Transform.chain</c>.
/// </summary>
/// <remarks>
/// <para>A combinator that holds an update back (<c>multiSteps</c> between its k-th calls, <c>applyIfFinite</c> on a
/// rejected step) returns <c>null</c> for every parameter, so that <see cref="M:Optim.Transform.update"/> counts no step
/// and the parameters stay as they are; the inner transformation then reads, at its next real step, the step counts it
/// would have read on its own.</para>
/// <para>A call in which no parameter has a gradient (every incoming update is <c>null</c>) changes nothing, counters
/// included: it is not a step, not a micro-batch and not a finite or non-finite step.</para>
/// <para>Optimizer-wide counters live in <see cref="P:Optim.State.Globals"/> under the names given with each
/// combinator, and travel through checkpoints.</para>
/// </remarks>
[<RequireQualifiedAccess>]
module Combinators =

    let private allNull (updates: float32[][]) = updates |> Array.forall isNull

    let private pick (indices: int[]) (xs: 'a[]) = indices |> Array.map (fun i -> xs.[i])

    let private scatter (indices: int[]) (values: 'a[]) (into: 'a[]) =
        for j in 0 .. indices.Length - 1 do into.[indices.[j]] <- values.[j]

    /// <summary>
    /// Scales all updates by one coefficient so that their global 2-norm is at most <c>maxNorm</c>, exactly as PyTorch
    /// 1.13's <c>torch.nn.utils.clip_grad_norm_(parameters, max_norm)</c> (and <c>optax.clip_by_global_norm</c>, up to
    /// the <c>1e-6</c>): with <c>nᵢ = ‖uᵢ‖</c> over the parameters that have an update and <c>N = ‖(n₁, n₂, …)‖</c>,
    /// <c>c = min(1, maxNorm / (N + 10⁻⁶))</c> and <c>u'ᵢ = c·uᵢ</c>.
    /// </summary>
    /// <remarks>
    /// Every quantity is a float32 as in PyTorch: each <c>nᵢ</c> and <c>N</c> rounded to float32 (the squares added in
    /// double, where PyTorch adds them in float32: a few units in the last place), squares that overflow
    /// making <c>N</c> infinite (so <c>c = 0</c>), <c>c</c> computed as PyTorch's <c>max_norm / t</c> is,
    /// <c>t.reciprocal() * max_norm</c>, and a NaN coefficient left NaN by the clamp. Updates whose norm is within the
    /// bound are returned as they are (PyTorch multiplies them by 1). Put it first in a chain, where the updates are the
    /// gradients: there it costs one read of them, shared between the kernel threads, before the chain's fused pass. It
    /// keeps no state.
    /// </remarks>
    /// <param name="maxNorm">The largest global norm, 0 or more.</param>
    /// <exception cref="T:System.ArgumentException"><paramref name="maxNorm"/> is negative or NaN.</exception>
    /// <example><c>Transform.chain [ Combinators.clipByGlobalNorm 1.0; Alias.adam AdamOptions.adam ]</c></example>
    let clipByGlobalNorm (maxNorm: float) : GradientTransformation =
        if not (maxNorm >= 0.0) then invalidArg (nameof maxNorm) $"The largest norm must be 0 or more, but was {maxNorm}."
        // an op with a reduction: first in a chain it is one read of the gradients before the fused pass
        Stages.ofOp (Ops.ClipByGlobalNorm(Cell.Const maxNorm))

    /// <summary>The name, in <see cref="P:Optim.State.Globals"/>, of <c>applyIfFinite</c>'s count of consecutive non-finite steps.</summary>
    [<Literal>]
    let NotFiniteCount = "apply_if_finite.notfinite_count" // = Ops.FiniteGate.NotFiniteCount

    /// <summary>The name, in <see cref="P:Optim.State.Globals"/>, of <c>applyIfFinite</c>'s count of all non-finite steps.</summary>
    [<Literal>]
    let TotalNotFinite = "apply_if_finite.total_notfinite"

    /// <summary>The name, in <see cref="P:Optim.State.Globals"/>, of <c>applyIfFinite</c>'s flag (1 or 0): whether the last step was finite.</summary>
    [<Literal>]
    let LastFinite = "apply_if_finite.last_finite"

    /// <summary>
    /// Runs <paramref name="inner"/> only on steps whose updates are all finite, as <c>optax.apply_if_finite</c>: a step
    /// where some incoming update holds a NaN or an infinity is rejected, its updates are <c>null</c> for every
    /// parameter (no parameter moves, no step is counted) and the inner state is left as it was. After
    /// <paramref name="maxConsecutiveErrors"/> consecutive rejected steps, the next non-finite step is applied anyway
    /// (Optax's <c>notfinite_count &gt; max_consecutive_errors</c>), and so are those that follow it until a finite step
    /// resets the count.
    /// </summary>
    /// <remarks>
    /// Counters, in <see cref="P:Optim.State.Globals"/>: <c>"apply_if_finite.notfinite_count"</c> (consecutive
    /// non-finite steps, 0 after a finite one), <c>"apply_if_finite.total_notfinite"</c> (all non-finite steps, applied
    /// or not) and <c>"apply_if_finite.last_finite"</c> (1 or 0). Wrap the whole optimizer: blocks before it in a chain
    /// would already have changed their state.
    /// </remarks>
    /// <param name="maxConsecutiveErrors">How many consecutive non-finite steps are rejected before one is applied; 0 or more.</param>
    /// <param name="inner">The transformation to protect.</param>
    /// <exception cref="T:System.ArgumentException"><paramref name="maxConsecutiveErrors"/> is negative.</exception>
    /// <example><c>Combinators.applyIfFinite 5 (Alias.adam AdamOptions.adam)</c></example>
    let applyIfFinite (maxConsecutiveErrors: int) (inner: GradientTransformation) : GradientTransformation =
        if maxConsecutiveErrors < 0 then
            invalidArg (nameof maxConsecutiveErrors) $"The number of consecutive errors must be 0 or more, but was {maxConsecutiveErrors}."
        if isNull (box inner) then nullArg (nameof inner)
        match inner.Stages with
        | [ Fused plan ] ->
            // around a chain of elementwise blocks: a gate before its fused pass (one read of the gradients)
            Stages.ofPlan $"applyIfFinite({maxConsecutiveErrors}, {inner.Name})" (Plan(Array.append [| Ops.FiniteGate maxConsecutiveErrors :> ElementwiseOp |] plan.Ops))
        | _ ->
            let init (ps: Tensor[]) =
                inner.Init ps
                |> State.declareGlobal NotFiniteCount 0.0
                |> State.declareGlobal TotalNotFinite 0.0
                |> State.declareGlobal LastFinite 1.0
            let update (updates: float32[][]) (state: State) (ps: Tensor[]) =
                if allNull updates then updates, state
                else
                    let finite = updates |> Array.forall (fun u -> isNull u || Array.forall Single.IsFinite u)
                    let count = if finite then 0.0 else State.globalValue NotFiniteCount state + 1.0
                    let total = State.globalValue TotalNotFinite state + (if finite then 0.0 else 1.0)
                    let out, s =
                        if finite || count > float maxConsecutiveErrors then inner.Update updates state ps
                        else Array.zeroCreate updates.Length, state
                    out,
                    s
                    |> State.setGlobal NotFiniteCount count
                    |> State.setGlobal TotalNotFinite total
                    |> State.setGlobal LastFinite (if finite then 1.0 else 0.0)
            Transform.create $"applyIfFinite({maxConsecutiveErrors}, {inner.Name})" init update

    /// <summary>The name, in <see cref="P:Optim.State.Globals"/>, of <c>multiSteps</c>'s count of micro-batches accumulated since its last real step.</summary>
    [<Literal>]
    let MiniStep = "multi_steps.mini_step"

    /// <summary>The name of <c>multiSteps</c>'s per-parameter buffer: the sum of the gradients accumulated since its last real step.</summary>
    [<Literal>]
    let AccumulatedGradients = "acc_grads"

    /// <summary>The name of <c>multiSteps</c>'s one-value-per-parameter buffer (around a chain of elementwise blocks): how many gradients <c>"acc_grads"</c> holds since the last real step.</summary>
    [<Literal>]
    let AccumulatedCount = "acc_count"

    /// <summary>
    /// Gradient accumulation inside the optimizer, as <c>optax.MultiSteps</c>: every call adds its updates (one
    /// micro-batch's gradients) into a per-parameter accumulator, and every <paramref name="k"/>-th call runs one step of
    /// <paramref name="inner"/> on their mean; the other calls return <c>null</c> updates, so no parameter moves and no
    /// step is counted. The inner transformation sees one step per <paramref name="k"/> calls: its step counts are the
    /// number of real steps.
    /// </summary>
    /// <remarks>
    /// <para><b>The mean</b>, per element: <c>(((g₁ + g₂) + g₃) + … + g_k) / k</c>, the sum taken in float32 in call
    /// order starting from the first gradient as it is, then one float32 division by <c>float32 k</c>. <c>k</c> calls
    /// equal one inner step on that mean, bit for bit.</para>
    /// <para><b>Missing gradients.</b> A <c>null</c> gradient in a micro-batch adds nothing (Optax counts it as zero:
    /// the same thing); the sum is still divided by <c>k</c>. A parameter with no gradient in any of the <c>k</c>
    /// micro-batches gets a <c>null</c> update at the real step: it does not move and counts no step. A call in which no
    /// parameter has a gradient is not a micro-batch: it changes nothing.</para>
    /// <para><b>Cost.</b> Around a chain of elementwise blocks (every built-in elementwise optimizer, and chains of them
    /// without a reduction) it is a gate at the head of the chain's fused pass: a call that accumulates reads the
    /// gradient and the accumulator and writes the accumulator, and the k-th call is the inner step plus one read of the
    /// accumulator; in place it allocates nothing. Around anything else it runs as written, and allocates.</para>
    /// <para>State: <c>"multi_steps.mini_step"</c> in <see cref="P:Optim.State.Globals"/>, and per parameter the buffer
    /// <c>"acc_grads"</c>. Around a chain of elementwise blocks, the one-value-per-parameter buffer <c>"acc_count"</c>
    /// counts the gradients in <c>"acc_grads"</c> since the last real step (0 after it; the buffer's values are then
    /// spent, and kept for reuse); around anything else <c>"acc_grads"</c> is created by a parameter's first gradient
    /// after a real step and cleared by the real step.</para>
    /// </remarks>
    /// <param name="k">The number of micro-batches per real step, 1 or more (1: every call is a step of <paramref name="inner"/>).</param>
    /// <param name="inner">The transformation that takes the real steps.</param>
    /// <exception cref="T:System.ArgumentException"><paramref name="k"/> is less than 1.</exception>
    /// <example><c>Combinators.multiSteps 4 (Alias.sgd { SgdOptions.create 0.1 with Momentum = 0.9 })</c></example>
    let multiSteps (k: int) (inner: GradientTransformation) : GradientTransformation =
        if k < 1 then invalidArg (nameof k) $"The number of micro-batches per step must be 1 or more, but was {k}."
        if isNull (box inner) then nullArg (nameof inner)
        match inner.Stages with
        | [ Fused plan ] when not (plan.Ops |> Array.exists (fun op -> op.Reduces)) ->
            // around a chain of elementwise blocks: a gate before its fused pass, which holds k-1 calls in k
            Stages.ofPlan $"multiSteps({k}, {inner.Name})" (Plan(Array.append [| Ops.Accumulate k :> ElementwiseOp |] plan.Ops))
        | _ ->
            let k32 = float32 k
            let init (ps: Tensor[]) = inner.Init ps |> State.declare AccumulatedGradients |> State.declareGlobal MiniStep 0.0
            let update (updates: float32[][]) (state: State) (ps: Tensor[]) =
                if allNull updates then updates, state
                else
                    let acc = Array.copy (State.buffer AccumulatedGradients state)
                    updates |> Array.iteri (fun i u ->
                        if not (isNull u) then
                            let a = acc.[i]
                            acc.[i] <- if isNull a then Array.copy u else Array.init u.Length (fun j -> a.[j] + u.[j]))
                    let mini = State.globalValue MiniStep state + 1.0
                    if mini < float k then
                        Array.zeroCreate updates.Length, state |> State.setBuffer AccumulatedGradients acc |> State.setGlobal MiniStep mini
                    else
                        let mean = acc |> Array.map (fun a -> if isNull a then null else Array.map (fun x -> x / k32) a)
                        let out, s = inner.Update mean state ps
                        out, s |> State.setBuffer AccumulatedGradients (Array.zeroCreate updates.Length) |> State.setGlobal MiniStep 0.0
            Transform.create $"multiSteps({k}, {inner.Name})" init update

    /// The state of the parameters at `indices`: their step counts and their entries of every buffer.
    let private restrict (indices: int[]) (state: State) : State =
        { state with Steps = pick indices state.Steps; Buffers = state.Buffers |> Map.map (fun _ t -> pick indices t) }

    /// `state` with the entries at `indices` of the buffers that `sub` (a result of a transformation run on `restrict
    /// indices`, whose tables were `before`) replaced, and `sub`'s optimizer-wide values.
    let private embed (indices: int[]) (before: State) (sub: State) (state: State) : State =
        let buffers =
            state.Buffers |> Map.map (fun name table ->
                match sub.Buffers.TryFind name with
                | Some t when not (obj.ReferenceEquals(t, before.Buffers.[name])) ->
                    let table = Array.copy table
                    scatter indices t table
                    table
                | _ -> table)
        { state with Buffers = buffers; Globals = sub.Globals }

    let private selection (select: int -> int[] -> bool) (ps: Tensor[]) =
        [| for i in 0 .. ps.Length - 1 do if select i ps.[i].Shape then yield i |]

    /// <summary>
    /// Runs <paramref name="inner"/> on the parameters <paramref name="select"/> chooses, as <c>optax.masked</c>: their
    /// updates become the inner transformation's, the others pass through unchanged and their state is untouched. The
    /// inner transformation sees only the selected parameters (their updates, values, step counts and buffers), as if it
    /// were built for them alone.
    /// </summary>
    /// <remarks>
    /// The selection is evaluated at <c>Init</c> and at every update, on each parameter's index and shape, and must give
    /// the same answer each time. The inner transformation's buffers hold <c>null</c> for the parameters left out; its
    /// buffer names and optimizer-wide values are the state's, so they must not clash with those of the blocks around it.
    /// </remarks>
    /// <param name="select">Whether parameter <c>i</c> of the given shape goes to <paramref name="inner"/>.</param>
    /// <param name="inner">The transformation for the selected parameters.</param>
    /// <example>Weight decay for the matrices only:
    /// <c>Transform.chain [ Combinators.masked (fun _ shape -> shape.Length &gt;= 2) (Blocks.addWeightDecay 1e-2); Blocks.scaleByAdam 0.9 0.999 1e-8 false; Blocks.scaleByLearningRate 1e-3 ]</c></example>
    let masked (select: int -> int[] -> bool) (inner: GradientTransformation) : GradientTransformation =
        if isNull (box select) then nullArg (nameof select)
        if isNull (box inner) then nullArg (nameof inner)
        let init (ps: Tensor[]) =
            let indices = selection select ps
            let sub = inner.Init(pick indices ps)
            { sub with
                Steps = Array.zeroCreate ps.Length
                Buffers = sub.Buffers |> Map.map (fun _ t -> let table = Array.zeroCreate ps.Length in scatter indices t table; table) }
        let update (updates: float32[][]) (state: State) (ps: Tensor[]) =
            let indices = selection select ps
            let before = restrict indices state
            let u, after = inner.Update (pick indices updates) before (pick indices ps)
            let out = Array.copy updates
            scatter indices u out
            out, embed indices before after state
        Transform.create $"masked({inner.Name})" init update

    /// One label's transformation and where its buffers and optimizer-wide values lie in the partition's state.
    [<NoComparison; NoEquality>]
    type private Part =
        { Label: string
          Transform: GradientTransformation
          /// (its name, the partition's name) of each buffer it declares, with the buffer's layout
          Buffers: (string * string * BufferLayout)[]
          /// (its name, the partition's name) of each optimizer-wide value it declares
          Globals: (string * string)[] }

    /// <summary>
    /// Gives each parameter its own transformation by label, as <c>optax.multi_transform</c>: parameter <c>i</c> goes to
    /// the transformation of <c>labelOf i shape</c>. Each transformation sees only its parameters (their updates,
    /// values, step counts and buffers), so the partition equals separate transformations on the subsets, bit for bit.
    /// </summary>
    /// <remarks>
    /// <para>It equals separate optimizers (<c>Optimizer.ofTransform</c>) on the subsets bit for bit too, but for a
    /// label whose chain ends in decoupled weight decay: an optimizer applies that as <c>p·(1 - lr·λ) + u</c>, PyTorch's
    /// order, while a transformation's update is that minus <c>p</c>, which <c>p + u</c> rounds once more.</para>
    /// <para><b>State.</b> The parameters of two labels are disjoint, so a buffer name that several labels declare with
    /// the same layout (two Adams' <c>"exp_avg"</c>) is one buffer of the partition, each label holding the entries of its
    /// parameters, as in PyTorch's state dict. A buffer name declared with different layouts is kept apart as
    /// <c>name@label</c> for each label that declares it, and so is an optimizer-wide value that several labels declare
    /// (each keeps its own counter).</para>
    /// <para>Each transformation's declarations are read from its <c>Init</c> on no parameters when the partition is
    /// built, and must not depend on the parameters (as none of the library's do). Labels are evaluated at <c>Init</c>
    /// and at every update, and must give the same answer each time.</para>
    /// </remarks>
    /// <param name="labelOf">The label of parameter <c>i</c> of the given shape.</param>
    /// <param name="transforms">Each label and its transformation.</param>
    /// <exception cref="T:System.ArgumentException"><paramref name="transforms"/> names a label twice, or the partition's
    /// names clash; at <c>Init</c> and updates, a parameter's label names no transformation, or a transformation declares
    /// other names for the parameters than for none.</exception>
    /// <example><c>Combinators.partition (fun _ shape -> if shape.Length &gt;= 2 then "matrix" else "vector") [ "matrix", Alias.adamw AdamOptions.adamw; "vector", Alias.adam AdamOptions.adam ]</c></example>
    let partition (labelOf: int -> int[] -> string) (transforms: (string * GradientTransformation) list) : GradientTransformation =
        if isNull (box labelOf) then nullArg (nameof labelOf)
        match transforms |> List.countBy fst |> List.tryFind (fun (_, n) -> n > 1) with
        | Some(label, _) -> invalidArg (nameof transforms) $"The label '{label}' is given two transformations."
        | None -> ()
        for label, t in transforms do
            if isNull label then invalidArg (nameof transforms) "A label is null."
            if isNull (box t) then invalidArg (nameof transforms) $"The transformation of label '{label}' is null."
        let probes = transforms |> List.map (fun (label, t) -> label, t, t.Init [||])
        let bufferDecls =
            probes |> List.collect (fun (label, _, s) -> [ for KeyValue(name, _) in s.Buffers -> name, (label, State.layout name s) ])
        let globalDecls = probes |> List.collect (fun (label, _, s) -> [ for KeyValue(name, _) in s.Globals -> name, label ])
        let bufferName name label =
            let layouts = bufferDecls |> List.filter (fun (n, _) -> n = name) |> List.map (fun (_, (_, l)) -> l) |> List.distinct
            if layouts.Length = 1 then name else $"{name}@{label}"
        let globalName name label =
            if (globalDecls |> List.filter (fun (n, _) -> n = name)).Length = 1 then name else $"{name}@{label}"
        let parts =
            probes |> List.map (fun (label, t, s) ->
                { Label = label
                  Transform = t
                  Buffers = [| for KeyValue(name, _) in s.Buffers -> name, bufferName name label, State.layout name s |]
                  Globals = [| for KeyValue(name, _) in s.Globals -> name, globalName name label |] })
        // outer names: a shared buffer appears once per label that declares it; anything else must be unique
        let outerBuffers = parts |> List.collect (fun p -> [ for _, o, l in p.Buffers -> o, l ]) |> List.distinct
        match outerBuffers |> List.countBy fst |> List.tryFind (fun (_, n) -> n > 1) with
        | Some(name, _) -> invalidArg (nameof transforms) $"The partition's buffer name '{name}' would hold two different buffers."
        | None -> ()
        match parts |> List.collect (fun p -> [ for _, o in p.Globals -> o ]) |> List.countBy id |> List.tryFind (fun (_, n) -> n > 1) with
        | Some(name, _) -> invalidArg (nameof transforms) $"The partition's optimizer-wide value '{name}' would hold two different values."
        | None -> ()
        let known = String.Join(", ", transforms |> List.map (fun (l, _) -> $"'{l}'"))
        let groups (ps: Tensor[]) =
            let labels =
                ps |> Array.mapi (fun i p ->
                    let label = labelOf i p.Shape
                    if not (parts |> List.exists (fun part -> part.Label = label)) then
                        invalidArg (nameof labelOf) $"Parameter {i} is labelled '{label}', which names no transformation (the labels are {known})."
                    label)
            parts |> List.map (fun part -> part, [| for i in 0 .. ps.Length - 1 do if labels.[i] = part.Label then yield i |])
        let init (ps: Tensor[]) =
            let mutable state = State.empty ps.Length
            for name, layout in outerBuffers do state <- State.declareWith layout name state
            for part, indices in groups ps do
                let sub = part.Transform.Init(pick indices ps)
                let declared = sub.Buffers |> Map.keys |> Set.ofSeq
                if declared <> (part.Buffers |> Array.map (fun (n, _, _) -> n) |> Set.ofArray)
                   || (sub.Globals |> Map.keys |> Set.ofSeq) <> (part.Globals |> Array.map fst |> Set.ofArray) then
                    invalidArg (nameof transforms) $"The transformation of label '{part.Label}' declares other buffers or optimizer-wide values for its parameters than for none."
                for inner, outer, _ in part.Buffers do scatter indices sub.Buffers.[inner] state.Buffers.[outer]
                for inner, outer in part.Globals do state <- State.declareGlobal outer sub.Globals.[inner].[0] state
            state
        let update (updates: float32[][]) (state: State) (ps: Tensor[]) =
            let out = Array.zeroCreate updates.Length
            let written = Collections.Generic.Dictionary<string, float32[][]>()
            let mutable globals = state.Globals
            for part, indices in groups ps do
                let sub =
                    { Steps = pick indices state.Steps
                      Buffers = part.Buffers |> Array.map (fun (inner, outer, _) -> inner, pick indices state.Buffers.[outer]) |> Map.ofArray
                      Layouts = part.Buffers |> Array.choose (fun (inner, _, l) -> if l = BufferLayout.Elementwise then None else Some(inner, l)) |> Map.ofArray
                      Globals = part.Globals |> Array.map (fun (inner, outer) -> inner, state.Globals.[outer]) |> Map.ofArray
                      Shapes = pick indices state.Shapes }
                let u, after = part.Transform.Update (pick indices updates) sub (pick indices ps)
                scatter indices u out
                for inner, outer, _ in part.Buffers do
                    let t = after.Buffers.[inner]
                    if not (obj.ReferenceEquals(t, sub.Buffers.[inner])) then
                        let table =
                            match written.TryGetValue outer with
                            | true, table -> table
                            | _ ->
                                let table = Array.copy state.Buffers.[outer]
                                written.[outer] <- table
                                table
                        scatter indices t table
                for inner, outer in part.Globals do globals <- globals.Add(outer, after.Globals.[inner])
            let buffers = written |> Seq.fold (fun (m: Map<string, float32[][]>) kv -> m.Add(kv.Key, kv.Value)) state.Buffers
            out, { state with Buffers = buffers; Globals = globals }
        let name = "partition(" + String.Join(", ", transforms |> List.map (fun (l, t) -> $"{l}: {t.Name}")) + ")"
        Transform.create name init update

    /// <summary>The name of <c>ema</c>'s per-parameter buffer: the averaged parameter.</summary>
    [<Literal>]
    let EmaBuffer = "ema"

    /// <summary>
    /// Keeps an exponential moving average of the parameters, exactly as PyTorch's
    /// <c>torch.optim.swa_utils.AveragedModel(model, avg_fn=ema)</c> with PyTorch 2.x's <c>get_ema_avg_fn(decay)</c>
    /// (<c>ema = decay·ema + (1 - decay)·p</c>) updates its parameters when <c>update_parameters(model)</c> follows each
    /// <c>optimizer.step()</c>: at a parameter's first update the average is a copy of the new parameter
    /// <c>p' = p + u</c>, then <c>ema = f32(decay)·ema + f32(1 - decay)·p'</c> in float32. The updates pass through
    /// unchanged. Read the average with <see cref="M:Optim.Combinators.emaParameters(Optim.State,Optim.Tensor[])"/>.
    /// </summary>
    /// <remarks>
    /// Put it last in a chain: it must see the updates that are added to the parameters. AveragedModel averages every
    /// parameter at every call; here, as everywhere in the library, a parameter without an update keeps its state, so its
    /// average waits for its next update (the same numbers whenever every parameter has a gradient at every step).
    /// Buffer: <c>"ema"</c>.
    /// </remarks>
    /// <param name="decay">The decay, in [0, 1] (0: the average is the last parameter).</param>
    /// <exception cref="T:System.ArgumentException"><paramref name="decay"/> is outside [0, 1] or NaN.</exception>
    /// <example><c>Transform.chain [ Alias.adam AdamOptions.adam; Combinators.ema 0.999 ]</c></example>
    let ema (decay: float) : GradientTransformation =
        if not (decay >= 0.0 && decay <= 1.0) then invalidArg (nameof decay) $"The decay must be in [0, 1], but was {decay}."
        let d, c = float32 decay, float32 (1.0 - decay)
        Transform.create $"ema({decay})" (fun ps -> State.empty ps.Length |> State.declare EmaBuffer) (fun updates state ps ->
            if allNull updates then updates, state
            else
                let table = Array.copy (State.buffer EmaBuffer state)
                updates |> Array.iteri (fun i u ->
                    if not (isNull u) then
                        let p = ps.[i].Data
                        let avg = table.[i]
                        table.[i] <-
                            if isNull avg then Array.init p.Length (fun j -> p.[j] + u.[j])
                            else Array.init p.Length (fun j -> d * avg.[j] + c * (p.[j] + u.[j])))
                updates, State.setBuffer EmaBuffer table state)

    /// <summary>
    /// The averaged parameters an <see cref="M:Optim.Combinators.ema(System.Double)"/> in the transformation keeps: the
    /// average of each parameter that has had an update, and the parameter itself for one that has not (it still has its
    /// initial value, which is what AveragedModel's copy of the model holds before its first update).
    /// </summary>
    /// <param name="state">The optimizer's state.</param>
    /// <param name="parameters">The current parameters.</param>
    /// <returns>New tensors (no array is shared with the state or the parameters).</returns>
    /// <exception cref="T:System.Collections.Generic.KeyNotFoundException">The state has no <c>"ema"</c> buffer.</exception>
    /// <exception cref="T:System.ArgumentException">The state covers another number of parameters.</exception>
    /// <example><c>let averaged = Combinators.emaParameters state parameters</c></example>
    let emaParameters (state: State) (parameters: Tensor[]) : Tensor[] =
        if isNull (box parameters) then nullArg (nameof parameters)
        let table = State.buffer EmaBuffer state
        if table.Length <> parameters.Length then
            invalidArg (nameof parameters) $"The state covers {table.Length} parameters, but {parameters.Length} were given."
        Array.map2 (fun (p: Tensor) (a: float32[]) -> { Shape = Array.copy p.Shape; Data = Array.copy (if isNull a then p.Data else a) }) parameters table

    /// <summary>The name of <c>lookahead</c>'s per-parameter buffer: the slow weights.</summary>
    [<Literal>]
    let SlowBuffer = "slow_param"

    /// <summary>
    /// Lookahead (Zhang, Lucas, Hinton &amp; Ba, "Lookahead Optimizer: k steps forward, 1 step back", NeurIPS 2019): the
    /// parameters are the fast weights and follow <paramref name="inner"/>; every <paramref name="syncPeriod"/> steps
    /// the slow weights <c>φ</c> move towards them, <c>φ = φ + α(θ - φ)</c>, and the fast weights are reset to <c>φ</c>.
    /// The slow weights start as the parameter before its first update (the paper's <c>φ₀ = θ₀</c>).
    /// </summary>
    /// <remarks>
    /// <para>Each parameter counts its own steps (its step count, as every block reads it): its update number
    /// <c>t = k·syncPeriod</c> is a synchronisation. There the fast weights are <c>θ = p + u</c> (<c>u</c> the inner
    /// update), the slow ones become <c>φ' = lerp(φ, θ, α)</c> in float32 as <c>torch.lerp</c> computes it (so that
    /// <c>α = 1</c> gives <c>θ</c> exactly), and the update is <c>φ' - p</c>: the parameter lands on <c>φ'</c> up to the
    /// one float32 rounding of <c>p + (φ' - p)</c>. Other steps pass the inner updates through unchanged. The inner state
    /// is kept across synchronisations, as in the paper's experiments. Buffer: <c>"slow_param"</c>.</para>
    /// </remarks>
    /// <param name="syncPeriod">The number of fast steps <c>k</c> between synchronisations, 1 or more.</param>
    /// <param name="alpha">The slow step size <c>α</c>, in [0, 1].</param>
    /// <param name="inner">The fast optimizer.</param>
    /// <exception cref="T:System.ArgumentException"><paramref name="syncPeriod"/> is less than 1, or <paramref name="alpha"/> is outside [0, 1].</exception>
    /// <example><c>Combinators.lookahead 5 0.5 (Alias.adam AdamOptions.adam)</c></example>
    let lookahead (syncPeriod: int) (alpha: float) (inner: GradientTransformation) : GradientTransformation =
        if syncPeriod < 1 then invalidArg (nameof syncPeriod) $"The synchronisation period must be 1 or more, but was {syncPeriod}."
        if not (alpha >= 0.0 && alpha <= 1.0) then invalidArg (nameof alpha) $"The slow step size must be in [0, 1], but was {alpha}."
        if isNull (box inner) then nullArg (nameof inner)
        let a = float32 alpha
        let init (ps: Tensor[]) = inner.Init ps |> State.declare SlowBuffer
        let update (updates: float32[][]) (state: State) (ps: Tensor[]) =
            let u, s = inner.Update updates state ps
            if allNull u then u, s
            else
                let table = Array.copy (State.buffer SlowBuffer s)
                let out =
                    u |> Array.mapi (fun i ui ->
                        if isNull ui then null
                        else
                            let p = ps.[i].Data
                            let slow = if isNull table.[i] then Array.copy p else table.[i]
                            if (state.Steps.[i] + 1L) % int64 syncPeriod = 0L then
                                let slow' = Array.init p.Length (fun j -> Blocks.lerp slow.[j] (p.[j] + ui.[j]) a)
                                table.[i] <- slow'
                                Array.init p.Length (fun j -> slow'.[j] - p.[j])
                            else
                                table.[i] <- slow
                                ui)
                out, State.setBuffer SlowBuffer table s
        Transform.create $"lookahead({syncPeriod}, {alpha}, {inner.Name})" init update

/// <summary>Hyperparameters of schedule-free SGD, with the names and defaults of the reference implementation's
/// <c>schedulefree.SGDScheduleFree</c>. A struct.</summary>
[<Struct>]
type ScheduleFreeSgdOptions =
    { /// <summary>Learning rate (<c>lr</c>, default 1.0).</summary>
      Lr: float
      /// <summary>The interpolation <c>β</c> between the average and the base sequence (<c>momentum</c>, default 0.9), in (0, 1).</summary>
      Momentum: float
      /// <summary>L2 penalty added to the gradient at <c>y</c> (<c>weight_decay</c>, default 0).</summary>
      WeightDecay: float
      /// <summary>Steps of linear learning-rate warmup (<c>warmup_steps</c>, default 0).</summary>
      WarmupSteps: int
      /// <summary>Power of the polynomial weighting of the average (<c>r</c>, default 0).</summary>
      R: float
      /// <summary>Power of the largest learning rate so far in the averaging weights (<c>weight_lr_power</c>, default 2).</summary>
      WeightLrPower: float }

/// <summary>Defaults and validation for <see cref="T:Optim.ScheduleFreeSgdOptions"/>.</summary>
[<RequireQualifiedAccess>]
module ScheduleFreeSgdOptions =

    /// <summary>The reference implementation's defaults: lr 1, momentum 0.9, no weight decay or warmup, r 0, weight_lr_power 2.</summary>
    let defaults : ScheduleFreeSgdOptions =
        { Lr = 1.0; Momentum = 0.9; WeightDecay = 0.0; WarmupSteps = 0; R = 0.0; WeightLrPower = 2.0 }

    /// <summary>Checks the options as <c>SGDScheduleFree</c> does (and the ranges it assumes), and returns them.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentException">A value is out of range; the message names it and the value.</exception>
    let validate (o: ScheduleFreeSgdOptions) =
        if not (o.Lr >= 0.0 && Double.IsFinite o.Lr) then invalidArg "lr" $"Invalid lr value: {o.Lr}; it must be a finite number, 0 or more."
        if not (o.Momentum > 0.0 && o.Momentum < 1.0) then invalidArg "momentum" $"Invalid momentum value: {o.Momentum}; it must be in (0, 1)."
        if not (o.WeightDecay >= 0.0 && Double.IsFinite o.WeightDecay) then
            invalidArg "weightDecay" $"Invalid weight_decay value: {o.WeightDecay}; it must be a finite number, 0 or more."
        if o.WarmupSteps < 0 then invalidArg "warmupSteps" $"Invalid warmup_steps value: {o.WarmupSteps}; it must be 0 or more."
        if not (Double.IsFinite o.R) then invalidArg "r" $"Invalid r value: {o.R}; it must be finite."
        if not (o.WeightLrPower >= 0.0 && Double.IsFinite o.WeightLrPower) then
            invalidArg "weightLrPower" $"Invalid weight_lr_power value: {o.WeightLrPower}; it must be a finite number, 0 or more."
        o

/// <summary>Hyperparameters of schedule-free AdamW, with the names and defaults of the reference implementation's
/// <c>schedulefree.AdamWScheduleFree</c>. A struct.</summary>
[<Struct>]
type ScheduleFreeAdamWOptions =
    { /// <summary>Learning rate (<c>lr</c>, default 0.0025).</summary>
      Lr: float
      /// <summary>The interpolation <c>β₁</c> between the average and the base sequence (<c>betas[0]</c>, default 0.9), in (0, 1).</summary>
      Beta1: float
      /// <summary>Second-moment decay (<c>betas[1]</c>, default 0.999), in [0, 1).</summary>
      Beta2: float
      /// <summary>Denominator term (<c>eps</c>, default 1e-8).</summary>
      Eps: float
      /// <summary>Weight decay added to the normalised gradient at <c>y</c> (<c>weight_decay</c>, default 0).</summary>
      WeightDecay: float
      /// <summary>Steps of linear learning-rate warmup (<c>warmup_steps</c>, default 0).</summary>
      WarmupSteps: int
      /// <summary>Power of the polynomial weighting of the average (<c>r</c>, default 0).</summary>
      R: float
      /// <summary>Power of the largest learning rate so far in the averaging weights (<c>weight_lr_power</c>, default 2).</summary>
      WeightLrPower: float }

/// <summary>Defaults and validation for <see cref="T:Optim.ScheduleFreeAdamWOptions"/>.</summary>
[<RequireQualifiedAccess>]
module ScheduleFreeAdamWOptions =

    /// <summary>The reference implementation's defaults: lr 0.0025, betas (0.9, 0.999), eps 1e-8, no weight decay or warmup, r 0, weight_lr_power 2.</summary>
    let defaults : ScheduleFreeAdamWOptions =
        { Lr = 0.0025; Beta1 = 0.9; Beta2 = 0.999; Eps = 1e-8; WeightDecay = 0.0; WarmupSteps = 0; R = 0.0; WeightLrPower = 2.0 }

    /// <summary>Checks the options (the ranges <c>AdamWScheduleFree</c> assumes), and returns them.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentException">A value is out of range; the message names it and the value.</exception>
    let validate (o: ScheduleFreeAdamWOptions) =
        if not (o.Lr >= 0.0 && Double.IsFinite o.Lr) then invalidArg "lr" $"Invalid lr value: {o.Lr}; it must be a finite number, 0 or more."
        if not (o.Beta1 > 0.0 && o.Beta1 < 1.0) then invalidArg "beta1" $"Invalid betas[0] value: {o.Beta1}; it must be in (0, 1)."
        if not (o.Beta2 >= 0.0 && o.Beta2 < 1.0) then invalidArg "beta2" $"Invalid betas[1] value: {o.Beta2}; it must be in [0, 1)."
        if not (o.Eps >= 0.0 && Double.IsFinite o.Eps) then invalidArg "eps" $"Invalid eps value: {o.Eps}; it must be a finite number, 0 or more."
        if not (o.WeightDecay >= 0.0 && Double.IsFinite o.WeightDecay) then
            invalidArg "weightDecay" $"Invalid weight_decay value: {o.WeightDecay}; it must be a finite number, 0 or more."
        if o.WarmupSteps < 0 then invalidArg "warmupSteps" $"Invalid warmup_steps value: {o.WarmupSteps}; it must be 0 or more."
        if not (Double.IsFinite o.R) then invalidArg "r" $"Invalid r value: {o.R}; it must be finite."
        if not (o.WeightLrPower >= 0.0 && Double.IsFinite o.WeightLrPower) then
            invalidArg "weightLrPower" $"Invalid weight_lr_power value: {o.WeightLrPower}; it must be a finite number, 0 or more."
        o

/// <summary>
/// Schedule-free optimizers (Defazio, Yang, Mehta, Mishchenko, Khaled &amp; Cutkosky, "The Road Less Scheduled",
/// NeurIPS 2024), as the reference implementation <c>schedulefree</c>'s <c>SGDScheduleFree</c> and
/// <c>AdamWScheduleFree</c> compute them in train mode. Three sequences: the base iterates <c>z</c>, their weighted
/// average <c>x</c> (the weights to evaluate), and the interpolation <c>y = (1-β)z + βx</c> where gradients are taken;
/// the parameters hold <c>y</c>, the state holds <c>z</c>, and <see cref="M:Optim.ScheduleFree.evalParameters(System.Double,Optim.State,Optim.Tensor[])"/>
/// recovers <c>x</c>.
/// </summary>
/// <remarks>
/// <para>At step <c>k</c> (0 first), in double, as the reference: <c>sched = (k+1)/warmup_steps</c> while
/// <c>k &lt; warmup_steps</c>, else 1; <c>lr = lr₀·sched</c>; <c>lr_max = max(lr, lr_max)</c> (from -1);
/// <c>w = (k+1)^r · lr_max^weight_lr_power</c>; <c>W = W + w</c>; <c>c = w/W</c> (0 when <c>W = 0</c>). Then per
/// element in float32, with <c>d</c> the direction (below): <c>y' = lerp(y, z, c) + lr·(β(1-c) - 1)·d</c>,
/// <c>z' = z - lr·d</c>; the update is <c>y' - y</c>, so the parameter is <c>y'</c> up to the one float32 rounding of
/// <c>y + (y' - y)</c>. <c>z</c> starts as the parameter at its first gradient.</para>
/// <para><c>k</c>, <c>W</c> and <c>lr_max</c> are optimizer-wide (<c>"schedule_free.k"</c>,
/// <c>"schedule_free.weight_sum"</c>, <c>"schedule_free.lr_max"</c> in <see cref="P:Optim.State.Globals"/>), as the
/// reference keeps them per param group: they advance at every step in which some parameter has a gradient. A call in
/// which none has one changes nothing (the reference would still advance <c>k</c>).</para>
/// </remarks>
[<RequireQualifiedAccess>]
module ScheduleFree =

    /// <summary>The name, in <see cref="P:Optim.State.Globals"/>, of the number of steps taken (the reference's <c>k</c>).</summary>
    [<Literal>]
    let StepCount = "schedule_free.k"

    /// <summary>The name, in <see cref="P:Optim.State.Globals"/>, of the sum of the averaging weights (<c>weight_sum</c>).</summary>
    [<Literal>]
    let WeightSum = "schedule_free.weight_sum"

    /// <summary>The name, in <see cref="P:Optim.State.Globals"/>, of the largest learning rate so far (<c>lr_max</c>).</summary>
    [<Literal>]
    let LrMax = "schedule_free.lr_max"

    let private declare (buffers: string list) (ps: Tensor[]) =
        buffers |> List.fold (fun s name -> State.declare name s) (State.empty ps.Length)
        |> State.declareGlobal StepCount 0.0
        |> State.declareGlobal WeightSum 0.0
        |> State.declareGlobal LrMax (-1.0)

    /// One step of the sequences: the step's scalars from the globals, then `direction i g y extra` (the per-parameter
    /// direction d and the new values of the extra buffers) and the y/z updates for every parameter that has a gradient.
    let private step (name: string) (lr0: float) (beta: float) (warmup: int) (r: float) (power: float) (extras: string list)
                     (direction: float -> int -> float32[] -> float32[] -> float32[][] -> float32[] * float32[][]) =
        let init = declare ("z" :: extras)
        let update (updates: float32[][]) (state: State) (ps: Tensor[]) =
            if updates |> Array.forall isNull then updates, state
            else
                let k = State.globalValue StepCount state
                let sched = if k < float warmup then (k + 1.0) / float warmup else 1.0
                let lr = lr0 * sched
                let lrMax = max lr (State.globalValue LrMax state)
                let weight = (k + 1.0) ** r * lrMax ** power
                let weightSum = State.globalValue WeightSum state + weight
                let ckp1 = if weightSum = 0.0 then 0.0 else weight / weightSum
                let c = float32 ckp1
                let yStep = float32 (lr * (beta * (1.0 - ckp1) - 1.0))
                let zStep = float32 (-lr)
                let zs = Array.copy (State.buffer "z" state)
                let tables = extras |> List.map (fun n -> Array.copy (State.buffer n state)) |> Array.ofList
                let out =
                    updates |> Array.mapi (fun i g ->
                        if isNull g then null
                        else
                            let y = ps.[i].Data
                            let z = if isNull zs.[i] then y else zs.[i]
                            let d, news = direction (k + 1.0) i g y (tables |> Array.map (fun t -> t.[i]))
                            tables |> Array.iteri (fun j t -> t.[i] <- news.[j])
                            zs.[i] <- Array.init y.Length (fun j -> z.[j] + zStep * d.[j])
                            Array.init y.Length (fun j -> (Blocks.lerp y.[j] z.[j] c + yStep * d.[j]) - y.[j]))
                let s = state |> State.setBuffer "z" zs
                let s = List.fold2 (fun s n t -> State.setBuffer n t s) s extras (List.ofArray tables)
                out, s |> State.setGlobal StepCount (k + 1.0) |> State.setGlobal WeightSum weightSum |> State.setGlobal LrMax lrMax
        Transform.create name init update

    /// <summary>
    /// Schedule-free SGD, as <c>schedulefree.SGDScheduleFree</c>: the direction is the gradient plus the L2 term at
    /// <c>y</c>, <c>d = g + λy</c>, and <c>β</c> is the momentum. Buffer: <c>"z"</c>; optimizer-wide values as the module
    /// says. Updates are added: the transformation includes the learning rate (put <c>Blocks.maximize</c> before it to
    /// ascend).
    /// </summary>
    /// <param name="o">The options (validated).</param>
    /// <exception cref="T:System.ArgumentException">An option is out of range.</exception>
    /// <example><c>ScheduleFree.sgd { ScheduleFreeSgdOptions.defaults with Lr = 0.5; WarmupSteps = 100 }</c></example>
    let sgd (o: ScheduleFreeSgdOptions) : GradientTransformation =
        let o = ScheduleFreeSgdOptions.validate o
        let wd = float32 o.WeightDecay
        step $"scheduleFreeSgd({o.Lr}, {o.Momentum})" o.Lr o.Momentum o.WarmupSteps o.R o.WeightLrPower [] (fun _ _ g y _ ->
            (if o.WeightDecay <> 0.0 then Array.init g.Length (fun j -> g.[j] + wd * y.[j]) else g), [||])

    /// <summary>
    /// Schedule-free AdamW, as <c>schedulefree.AdamWScheduleFree</c> (its current form, with the bias correction in the
    /// denominator): <c>v = β₂v + (1-β₂)g²</c>, <c>d = g / (√(v / (1-β₂^(k+1))) + ε) + λy</c>, in float32; the
    /// interpolation is <c>β₁</c>. Buffers: <c>"z"</c> and <c>"exp_avg_sq"</c>; optimizer-wide values as the module says.
    /// </summary>
    /// <param name="o">The options (validated).</param>
    /// <exception cref="T:System.ArgumentException">An option is out of range.</exception>
    /// <example><c>ScheduleFree.adamw { ScheduleFreeAdamWOptions.defaults with WarmupSteps = 1000 }</c></example>
    let adamw (o: ScheduleFreeAdamWOptions) : GradientTransformation =
        let o = ScheduleFreeAdamWOptions.validate o
        let b2, c2, eps, wd = float32 o.Beta2, float32 (1.0 - o.Beta2), float32 o.Eps, float32 o.WeightDecay
        step $"scheduleFreeAdamW({o.Lr}, {o.Beta1}, {o.Beta2}, {o.Eps})" o.Lr o.Beta1 o.WarmupSteps o.R o.WeightLrPower [ "exp_avg_sq" ]
            (fun t _ g y olds ->
                let bc2 = float32 (1.0 - o.Beta2 ** t)
                let v0 = olds.[0]
                let v = Array.init g.Length (fun j -> (if isNull v0 then 0.0f else v0.[j] * b2) + c2 * g.[j] * g.[j])
                let d =
                    Array.init g.Length (fun j ->
                        let n = g.[j] / (MathF.Sqrt(v.[j] / bc2) + eps)
                        if o.WeightDecay <> 0.0 then n + wd * y.[j] else n)
                d, [| v |])

    /// <summary>
    /// The weights to evaluate, <c>x</c>, recovered from the parameters <c>y</c> and the state's <c>z</c> as the
    /// reference's <c>eval()</c> does: <c>x = lerp(y, z, 1 - 1/β)</c> in float32. A parameter that has had no gradient
    /// yet is its own <c>x</c>.
    /// </summary>
    /// <param name="beta">The interpolation of the optimizer: <c>Momentum</c> of schedule-free SGD, <c>Beta1</c> of schedule-free AdamW.</param>
    /// <param name="state">The optimizer's state.</param>
    /// <param name="parameters">The current parameters (<c>y</c>).</param>
    /// <returns>New tensors.</returns>
    /// <exception cref="T:System.ArgumentException"><paramref name="beta"/> is outside (0, 1), or the state covers another number of parameters.</exception>
    /// <exception cref="T:System.Collections.Generic.KeyNotFoundException">The state has no <c>"z"</c> buffer.</exception>
    /// <example><c>let x = ScheduleFree.evalParameters 0.9 state parameters</c></example>
    let evalParameters (beta: float) (state: State) (parameters: Tensor[]) : Tensor[] =
        if not (beta > 0.0 && beta < 1.0) then invalidArg (nameof beta) $"The interpolation must be in (0, 1), but was {beta}."
        if isNull (box parameters) then nullArg (nameof parameters)
        let zs = State.buffer "z" state
        if zs.Length <> parameters.Length then
            invalidArg (nameof parameters) $"The state covers {zs.Length} parameters, but {parameters.Length} were given."
        let w = float32 (1.0 - 1.0 / beta)
        Array.map2 (fun (p: Tensor) (z: float32[]) ->
            { Shape = Array.copy p.Shape
              Data = if isNull z then Array.copy p.Data else Array.init p.Data.Length (fun j -> Blocks.lerp p.Data.[j] z.[j] w) }) parameters zs
