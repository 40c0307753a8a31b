namespace Optim

/// <summary>
/// An optimizer: the whole <c>(params, grads, state) → (params', state')</c> transition, in two modes
/// that give the same numbers. <c>Step</c> is pure; <c>StepInPlace</c> writes the new values into the
/// caller's parameter and state buffers.
/// </summary>
/// <remarks>A <c>null</c> gradient leaves its parameter and that parameter's state untouched.</remarks>
[<NoEquality; NoComparison>]
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

/// <summary>Building <see cref="T:Optim.Optimizer"/> values.</summary>
[<RequireQualifiedAccess>]
module Optimizer =

    /// <summary>
    /// The optimizer a gradient transformation defines: <c>p' = p + u</c>. Its in-place mode runs the pure
    /// update and copies the result into the caller's buffers (it allocates; the fused optimizers in
    /// <see cref="T:Optim.Fused"/> do not).
    /// </summary>
    /// <param name="transform">The transformation.</param>
    let ofTransform (transform: GradientTransformation) : Optimizer =
        let step ps grads state =
            let u, s = Transform.update transform grads state ps
            Transform.applyUpdates ps u, s
        { Init = transform.Init
          Step = step
          StepInPlace =
            fun ps grads state ->
                let tensors = ps |> Array.map Tensor.ofArray
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
/// An optimizer of sparse gradients (SparseAdam): like <see cref="T:Optim.Optimizer"/>, with one
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
