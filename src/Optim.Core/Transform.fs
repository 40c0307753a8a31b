namespace Optim

/// <summary>
/// A gradient transformation, as in Optax: a pair of pure functions. <c>Init</c> declares the state a
/// transformation needs for some parameters; <c>Update</c> maps incoming updates (at first, the gradients)
/// to outgoing updates and a new state.
/// </summary>
/// <remarks>
/// <para><b>Sign convention.</b> Updates are <i>added</i> to parameters: <c>p' = p + u</c>
/// (<see cref="M:Optim.Transform.applyUpdates"/>). Gradients point uphill, so the learning-rate block
/// negates: <c>Blocks.scaleByLearningRate lr</c> maps <c>g</c> to <c>-lr·g</c>. This is the only place the
/// sign flips.</para>
/// <para>A <c>null</c> entry in the updates means "this parameter got no gradient": every block passes it
/// through untouched and leaves that parameter's state as it was, as PyTorch does for <c>p.grad is None</c>.</para>
/// <para>Blocks read the step count of parameter <c>i</c> as <c>state.Steps.[i]</c>, the number of updates
/// completed before this one; <see cref="M:Optim.Transform.update"/> advances it once per update.</para>
/// </remarks>
[<Sealed; NoEquality; NoComparison>]
type GradientTransformation internal (name: string, init: Tensor[] -> State, update: float32[][] -> State -> Tensor[] -> float32[][] * State, stages: Stage list voption) =
    /// <summary>Declares the state for these parameters (buffers are created at each parameter's first update), and
    /// records their shapes in it (<c>State.Shapes</c>).</summary>
    member _.Init : Tensor[] -> State = fun ps -> State.withShapes ps (init ps)
    /// <summary>Maps updates, state and current parameters to new updates and new state. Pure.</summary>
    member _.Update = update
    /// <summary>A short description of the transformation, e.g. <c>chain(scaleByAdam(0.9, 0.999, 1E-08), scale(-0.001))</c>.</summary>
    member _.Name = name
    /// The runs of elementwise ops (fused) and opaque transformations it is made of, in order.
    member internal this.Stages = match stages with ValueSome s -> s | ValueNone -> [ Opaque this ]
    /// <inheritdoc />
    override _.ToString() = name

/// One stage of a transformation: a run of elementwise ops that executes as one fused pass, or a transformation known
/// only by its functions.
and [<NoEquality; NoComparison>] internal Stage =
    | Fused of Plan
    | Opaque of GradientTransformation

/// Running plans as pure transformations.
module internal Stages =

    /// A copy of a state whose per-name tables may be written without touching the original's.
    let fresh (state: State) : State =
        { state with
            Steps = Array.copy state.Steps
            Buffers = state.Buffers |> Map.map (fun _ b -> Array.copy b)
            Globals = state.Globals |> Map.map (fun _ v -> Array.copy v) }

    /// The updates a plan makes of incoming updates, into fresh buffers; the state is not modified.
    let runUpdates (plan: Plan) (updates: float32[][]) (state: State) (ps: Tensor[]) : float32[][] * State =
        let dst = fresh state
        let bound = Bound(plan, state, dst)
        bound.Refresh()
        bound.Reduce updates
        Fusion.Pure(bound, ps |> Array.map (fun p -> p.Data), updates, Mode.Updates, false), dst

    /// The transformation of a run of elementwise ops.
    let ofPlan (name: string) (plan: Plan) : GradientTransformation =
        GradientTransformation(name, plan.Init, runUpdates plan, ValueSome [ Fused plan ])

    /// The transformation of one elementwise op.
    let ofOp (op: ElementwiseOp) : GradientTransformation = ofPlan op.Name (Plan [| op |])

/// <summary>Combinators and the update/apply entry points for <see cref="T:Optim.GradientTransformation"/>.</summary>
[<RequireQualifiedAccess>]
module Transform =

    /// <summary>The transformation that returns its updates unchanged and keeps no buffers.</summary>
    let identity : GradientTransformation =
        GradientTransformation("identity", (fun ps -> State.empty ps.Length), (fun u s _ -> u, s), ValueSome [])

    /// <summary>
    /// Runs transformations one after another: the updates of each feed the next. The blocks share one
    /// state table, each owning the buffer names it declares.
    /// </summary>
    /// <param name="transforms">The transformations, first applied first.</param>
    /// <returns>Their composition; <c>chain []</c> is <see cref="P:Optim.Transform.identity"/>.</returns>
    /// <exception cref="T:System.ArgumentException">At init, when two blocks declare the same buffer name.</exception>
    /// <example><c>Transform.chain [ Blocks.scaleByAdam 0.9 0.999 1e-8 false; Blocks.scaleByLearningRate 1e-3 ]</c></example>
    let chain (transforms: GradientTransformation list) : GradientTransformation =
        match transforms with
        | [] -> identity
        | [ t ] -> t
        | _ ->
            // adjacent runs of elementwise ops become one run, so that they execute as one pass
            let stages =
                transforms |> List.collect (fun t -> t.Stages) |> List.fold (fun acc stage ->
                    match stage, acc with
                    | Fused b, Fused a :: rest when not (b.Ops.Length > 0 && b.Ops.[0].Reduces) -> Fused(Plan(Array.append a.Ops b.Ops)) :: rest
                    | _ -> stage :: acc) [] |> List.rev
            let name = "chain(" + System.String.Join(", ", transforms |> List.map (fun t -> t.Name)) + ")"
            match stages with
            | [ Fused plan ] -> Stages.ofPlan name plan
            | _ ->
                let parts = stages |> List.map (function Fused plan -> Stages.ofPlan "" plan | Opaque t -> t)
                GradientTransformation(
                    name,
                    (fun ps -> parts |> List.map (fun t -> t.Init ps) |> List.reduce State.merge),
                    (fun updates state ps -> parts |> List.fold (fun (u, s) t -> t.Update u s ps) (updates, state)),
                    ValueSome stages)

    /// <summary>
    /// A transformation from its two functions, as Optax's <c>GradientTransformation(init, update)</c>. It runs as
    /// written: a chain runs it between the fused passes of the elementwise blocks around it.
    /// </summary>
    /// <param name="name">A short description, shown by <c>Name</c> and in a chain's name.</param>
    /// <param name="init">Declares the state for some parameters.</param>
    /// <param name="update">Maps updates, state and parameters to new updates and state; must not mutate its inputs.</param>
    /// <example><c>Transform.create "clip" (fun ps -> State.empty ps.Length) (fun u s _ -> Array.map (Array.map (max -1.0f >> min 1.0f)) u, s)</c></example>
    let create (name: string) (init: Tensor[] -> State) (update: float32[][] -> State -> Tensor[] -> float32[][] * State) : GradientTransformation =
        if isNull (box init) then nullArg (nameof init)
        if isNull (box update) then nullArg (nameof update)
        GradientTransformation(name, init, update, ValueNone)

    /// <summary>
    /// One update: runs the transformation, then counts a step for every parameter that got an update out of it (a
    /// non-null one: a parameter with no gradient, or one whose update a combinator held back, keeps its count).
    /// This is how a transformation is meant to be driven.
    /// </summary>
    /// <param name="transform">The transformation.</param>
    /// <param name="grads">Per parameter, its gradient, or null for none.</param>
    /// <param name="state">The state from <c>Init</c> or the previous update.</param>
    /// <param name="parameters">The current parameters.</param>
    /// <returns>The updates to add to the parameters, and the new state.</returns>
    /// <exception cref="T:System.ArgumentException">The counts of gradients, parameters and state differ, or a gradient's length is not its parameter's.</exception>
    let update (transform: GradientTransformation) (grads: float32[][]) (state: State) (parameters: Tensor[]) =
        if grads.Length <> parameters.Length then
            invalidArg (nameof grads) $"Expected {parameters.Length} gradients (one per parameter), got {grads.Length}."
        if state.Steps.Length <> parameters.Length then
            invalidArg (nameof state) $"The state covers {state.Steps.Length} parameters, but {parameters.Length} were given."
        for i in 0 .. grads.Length - 1 do
            let g = grads.[i]
            if not (isNull g) && g.Length <> parameters.[i].Data.Length then
                invalidArg (nameof grads) $"Gradient {i} has {g.Length} elements, but its parameter has shape {Tensor.formatShape parameters.[i].Shape}."
        let u, s = transform.Update grads state parameters
        u, State.advance u s

    /// <summary>Adds updates to parameters: <c>p' = p + u</c>. A null update leaves its parameter as it is (the same tensor).</summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="updates">Per parameter, its update or null.</param>
    /// <returns>New tensors for the parameters that had an update.</returns>
    let applyUpdates (parameters: Tensor[]) (updates: float32[][]) : Tensor[] =
        Array.map2 (fun (p: Tensor) (u: float32[]) ->
            if isNull u then p
            else { Shape = p.Shape; Data = Array.init p.Data.Length (fun j -> p.Data.[j] + u.[j]) }) parameters updates
