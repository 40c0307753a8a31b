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
[<NoEquality; NoComparison>]
type GradientTransformation =
    { /// <summary>Declares the state for these parameters (buffers are created at each parameter's first update).</summary>
      Init: Tensor[] -> State
      /// <summary>Maps updates, state and current parameters to new updates and new state. Pure.</summary>
      Update: float32[][] -> State -> Tensor[] -> float32[][] * State }

/// <summary>Combinators and the update/apply entry points for <see cref="T:Optim.GradientTransformation"/>.</summary>
[<RequireQualifiedAccess>]
module Transform =

    /// <summary>The transformation that returns its updates unchanged and keeps no buffers.</summary>
    let identity : GradientTransformation =
        { Init = fun ps -> State.empty ps.Length
          Update = fun u s _ -> u, s }

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
            { Init = fun ps -> transforms |> List.map (fun t -> t.Init ps) |> List.reduce State.merge
              Update =
                fun updates state ps ->
                    transforms |> List.fold (fun (u, s) t -> t.Update u s ps) (updates, state) }

    /// <summary>
    /// One update: runs the transformation, then counts a step for every parameter that had a gradient.
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
        u, State.advance grads s

    /// <summary>Adds updates to parameters: <c>p' = p + u</c>. A null update leaves its parameter as it is (the same tensor).</summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="updates">Per parameter, its update or null.</param>
    /// <returns>New tensors for the parameters that had an update.</returns>
    let applyUpdates (parameters: Tensor[]) (updates: float32[][]) : Tensor[] =
        Array.map2 (fun (p: Tensor) (u: float32[]) ->
            if isNull u then p
            else { Shape = p.Shape; Data = Array.init p.Data.Length (fun j -> p.Data.[j] + u.[j]) }) parameters updates
