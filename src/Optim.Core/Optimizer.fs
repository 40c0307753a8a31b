namespace Optim

open System

/// <summary>
/// An optimizer: the whole <c>(params, grads, state) → (params', state')</c> transition, in two modes
/// that give the same numbers. <c>Step</c> is pure; <c>StepInPlace</c> writes the new values into the
/// caller's parameter and state buffers.
/// </summary>
/// <remarks>
/// A <c>null</c> gradient leaves its parameter and that parameter's state untouched. From C# this type is
/// <c>Optim.CoreOptimizer</c> (and its module <c>Optim.OptimizerModule</c>), so that it does not clash with the facade's
/// <c>Optim.CSharp.Optimizer</c>.
/// </remarks>
[<NoEquality; NoComparison; CompiledName("CoreOptimizer")>]
type Optimizer =
    { /// <summary>Declares the state for these parameters.</summary>
      Init: Tensor[] -> State
      /// <summary>Pure step: new parameters and a new state; the arguments are not modified.</summary>
      Step: Tensor[] -> float32[][] -> State -> Tensor[] * State
      /// <summary>
      /// In-place step: overwrites the parameter buffers (first argument) and returns the state to use next.
      /// Fused optimizers update the given state in place and return it, allocating nothing per step.
      /// </summary>
      StepInPlace: float32[][] -> float32[][] -> State -> State }

/// The in-place driver of a plan: the state it last ran on (bound once, reused while the caller keeps stepping the same
/// state), the parameters' sizes and the per-parameter step as a delegate, so that a step allocates nothing.
[<Sealed>]
type internal FusedRunner(plan: Plan) =
    let gate = obj ()
    let mutable bound : Bound = null
    let mutable ps : float32[][] = null
    let mutable gs : float32[][] = null
    let mutable sizes : int[] = [||]
    let mutable stepOne : Action<int> = null
    do
        stepOne <-
            Action<int>(fun i -> Fusion.StepInPlace(bound, i, ps.[i], gs.[i]))

    /// One in-place step of every parameter with a gradient, on the kernel threads.
    member _.Step(parameters: float32[][], grads: float32[][], state: State) =
        Threading.Monitor.Enter gate
        try
            if isNull bound || not (obj.ReferenceEquals(bound.Src, state)) then bound <- Bound(plan, state, state)
            bound.Refresh()
            bound.Reduce grads
            if bound.Runs then
                if sizes.Length <> parameters.Length then sizes <- Array.zeroCreate parameters.Length
                for i in 0 .. parameters.Length - 1 do sizes.[i] <- parameters.[i].Length
                ps <- parameters
                gs <- grads
                try Split.runEach sizes stepOne
                finally
                    ps <- null
                    gs <- null
        finally Threading.Monitor.Exit gate

/// <summary>Building <see cref="T:Optim.CoreOptimizer"/> values.</summary>
[<RequireQualifiedAccess>]
module Optimizer =

    let private checkCounts (count: int) (grads: float32[][]) (state: State) =
        if grads.Length <> count then
            invalidArg "grads" $"Expected {count} gradients (one per parameter), got {grads.Length}."
        if state.Steps.Length <> count then
            invalidArg "state" $"The state covers {state.Steps.Length} parameters, but {count} were given."

    let private checkLength (i: int) (length: int) (g: float32[]) =
        if not (isNull g) && g.Length <> length then
            invalidArg "grads" $"Gradient {i} has {g.Length} elements, but its parameter has {length}."

    /// The pure step of a plan fed with incoming updates: new parameters into fresh buffers, and a new state.
    let private applyPlan (plan: Plan) (ps: Tensor[]) (updates: float32[][]) (state: State) =
        let dst = Stages.fresh state
        let bound = Bound(plan, state, dst)
        bound.Refresh()
        bound.Reduce updates
        let outs = Fusion.Pure(bound, ps |> Array.map (fun p -> p.Data), updates, Mode.Apply, true)
        ps |> Array.mapi (fun i p -> if isNull outs.[i] then p else { Shape = p.Shape; Data = outs.[i] }), dst

    /// <summary>
    /// The optimizer a gradient transformation defines: <c>p' = p + u</c>, with the parameter decay of decoupled weight
    /// decay applied as PyTorch applies it (<c>p' = p·(1 - lr·λ) + u</c>). A chain of elementwise blocks runs as one
    /// fused pass over memory per parameter, on two threads: its pure step writes fresh buffers and allocates nothing
    /// else, its in-place step writes the caller's buffers and allocates nothing once the state exists, and the two give
    /// the same numbers bit for bit. Blocks that are not elementwise (reductions, your own <c>Transform.create</c>) run
    /// as written between the fused passes; their steps allocate. In place, they are given the parameters in the shapes
    /// the state recorded at <c>Init</c> (<c>State.Shapes</c>), as the pure step gives them.
    /// </summary>
    /// <param name="transform">The transformation.</param>
    /// <example><c>let adam = Optimizer.ofTransform (Alias.adam AdamOptions.adam)</c></example>
    let ofTransform (transform: GradientTransformation) : Optimizer =
        let stages = transform.Stages
        match List.tryLast stages with
        | Some(Fused plan) ->
            let before = stages |> List.take (stages.Length - 1) |> List.map (function Fused p -> Stages.ofPlan "" p | Opaque t -> t)
            let runner = FusedRunner plan
            let upstream grads state ps = before |> List.fold (fun (u, s) (t: GradientTransformation) -> t.Update u s ps) (grads, state)
            { Init = transform.Init
              Step =
                fun ps grads state ->
                    checkCounts ps.Length grads state
                    for i in 0 .. ps.Length - 1 do checkLength i ps.[i].Data.Length grads.[i]
                    let u, s = upstream grads state ps
                    applyPlan plan ps u s
              StepInPlace =
                fun ps grads state ->
                    checkCounts ps.Length grads state
                    for i in 0 .. ps.Length - 1 do checkLength i ps.[i].Length grads.[i]
                    if before.IsEmpty then
                        runner.Step(ps, grads, state)
                        state
                    else
                        let tensors = ps |> Array.mapi (State.tensorOf state)
                        let u, s = upstream grads state tensors
                        runner.Step(ps, u, s)
                        s }
        | _ ->
            let step ps grads state =
                let u, s = Transform.update transform grads state ps
                Transform.applyUpdates ps u, s
            { Init = transform.Init
              Step = step
              StepInPlace =
                fun ps grads state ->
                    let tensors = ps |> Array.mapi (State.tensorOf state)
                    let newPs, s = step tensors grads state
                    for i in 0 .. ps.Length - 1 do
                        if not (obj.ReferenceEquals(newPs.[i], tensors.[i])) then
                            newPs.[i].Data.CopyTo(ps.[i], 0)
                    s }

    /// <summary>Runs <paramref name="steps"/> pure steps with gradients from <paramref name="gradFn"/>, returning the final parameters and state.</summary>
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="gradFn">Computes the gradients of the current parameters.</param>
    /// <param name="steps">How many steps.</param>
    /// <param name="parameters">The starting parameters.</param>
    let run (optimizer: Optimizer) (gradFn: Tensor[] -> float32[][]) (steps: int) (parameters: Tensor[]) =
        let mutable ps = parameters
        let mutable s = optimizer.Init parameters
        for _ in 1 .. steps do
            let p', s' = optimizer.Step ps (gradFn ps) s
            ps <- p'
            s <- s'
        ps, s

/// <summary>
/// An optimizer of sparse gradients (SparseAdam): like <see cref="T:Optim.CoreOptimizer"/>, with one
/// <see cref="T:Optim.SparseGradient"/> (or null) per parameter instead of a dense gradient.
/// </summary>
[<NoEquality; NoComparison>]
type SparseOptimizer =
    { /// <summary>Declares the state for these parameters.</summary>
      Init: Tensor[] -> State
      /// <summary>Pure step: new parameters and a new state; the arguments are not modified.</summary>
      Step: Tensor[] -> SparseGradient[] -> State -> Tensor[] * State
      /// <summary>In-place step: overwrites the parameters' data and the given state, and returns the state.</summary>
      StepInPlace: Tensor[] -> SparseGradient[] -> State -> State }
