namespace Optim

open System

/// A per-parameter fused step: reads parameter `index` from `src`, writes it into `dst`. When `src` and
/// `dst` are the same state and `p`/`pOut` the same memory, the step is in place.
type internal ParamStep =
    delegate of src: State * dst: State * index: int * p: ReadOnlySpan<float32> * g: ReadOnlySpan<float32> * pOut: Span<float32> -> unit

/// <summary>
/// Named optimizers as fused kernels: one pass over memory per parameter, SIMD, the same numbers as their
/// chains in <see cref="T:Optim.Alias"/> and as PyTorch. Each exists as a pure <see cref="T:Optim.Optimizer"/>
/// and as a per-parameter in-place step (<c>*InPlace</c>) that allocates nothing once the parameter's buffers exist.
/// The state is the chain's: <c>(Fused.adam o).Init = (Alias.adam o).Init</c>.
/// </summary>
[<RequireQualifiedAccess>]
module Fused =

    /// The input and output arrays of one state buffer of parameter `index`. In place, both are the state's
    /// array (created as zeros on the parameter's first step). Pure, the output is a fresh array stored in
    /// `dst`, and the input is the old array, or that fresh zeroed array on the first step.
    let private slot (src: State) (dst: State) (name: string) (index: int) (n: int) : struct (float32[] * float32[] * bool) =
        let old = (State.buffer name src).[index]
        let first = isNull old
        if obj.ReferenceEquals(src, dst) then
            let a = if first then (let a = Array.zeroCreate n in (State.buffer name dst).[index] <- a; a) else old
            struct (a, a, first)
        else
            let out = Array.zeroCreate n
            (State.buffer name dst).[index] <- out
            struct ((if first then out else old), out, first)

    let private checkParam (state: State) (index: int) (paramLength: int) (gradLength: int) =
        if index < 0 || index >= state.Steps.Length then
            raise (ArgumentOutOfRangeException("index", index, $"The state covers {state.Steps.Length} parameters."))
        if gradLength <> paramLength then
            invalidArg "grad" $"Gradient {index} has {gradLength} elements, but its parameter has {paramLength}."

    let private pureStep (init: Tensor[] -> State) (step: ParamStep) : Optimizer =
        let stepAll (ps: Tensor[]) (grads: float32[][]) (state: State) =
            if grads.Length <> ps.Length then
                invalidArg "grads" $"Expected {ps.Length} gradients (one per parameter), got {grads.Length}."
            if state.Steps.Length <> ps.Length then
                invalidArg "state" $"The state covers {state.Steps.Length} parameters, but {ps.Length} were given."
            grads |> Array.iteri (fun i g -> if not (isNull g) then checkParam state i ps.[i].Data.Length g.Length)
            let dst = { Steps = Array.copy state.Steps; Buffers = state.Buffers |> Map.map (fun _ b -> Array.copy b) }
            let out =
                ps |> Array.mapi (fun i p ->
                    let g = grads.[i]
                    if isNull g then p
                    else
                        let pOut = Array.zeroCreate p.Data.Length
                        step.Invoke(state, dst, i, ReadOnlySpan p.Data, ReadOnlySpan g, Span pOut)
                        dst.Steps.[i] <- dst.Steps.[i] + 1L
                        { Shape = p.Shape; Data = pOut })
            out, dst
        { Init = init
          Step = stepAll
          StepInPlace =
            fun ps grads state ->
                if grads.Length <> ps.Length || state.Steps.Length <> ps.Length then
                    invalidArg "grads" $"Expected {state.Steps.Length} parameters and gradients, got {ps.Length} and {grads.Length}."
                for i in 0 .. ps.Length - 1 do
                    let g = grads.[i]
                    if not (isNull g) then
                        checkParam state i ps.[i].Length g.Length
                        step.Invoke(state, state, i, ReadOnlySpan ps.[i], ReadOnlySpan g, Span ps.[i])
                        state.Steps.[i] <- state.Steps.[i] + 1L
                state }

    let private sgdParam (o: SgdOptions) (src: State) (dst: State) (index: int) (p: ReadOnlySpan<float32>) (g: ReadOnlySpan<float32>) (pOut: Span<float32>) =
        let negLr = float32 -o.Lr
        let wd = float32 o.WeightDecay
        let mu = float32 o.Momentum
        let keep = float32 (1.0 - o.Dampening)
        if o.Momentum = 0.0 then
            Kernels.Sgd(p, g, ReadOnlySpan.Empty, pOut, Span.Empty, negLr, wd, mu, keep, false, false, o.Nesterov, o.Maximize)
        else
            let struct (bIn, bOut, first) = slot src dst "momentum_buffer" index p.Length
            Kernels.Sgd(p, g, ReadOnlySpan bIn, pOut, Span bOut, negLr, wd, mu, keep, true, first, o.Nesterov, o.Maximize)

    let private adamParam (o: AdamOptions) (decoupled: bool) (src: State) (dst: State) (index: int) (p: ReadOnlySpan<float32>) (g: ReadOnlySpan<float32>) (pOut: Span<float32>) =
        let n = p.Length
        let struct (mIn, mOut, _) = slot src dst "exp_avg" index n
        let struct (vIn, vOut, _) = slot src dst "exp_avg_sq" index n
        let struct (xIn, xOut, _) = if o.Amsgrad then slot src dst "max_exp_avg_sq" index n else struct (null, null, false)
        let t = float (src.Steps.[index] + 1L)
        let bc1 = 1.0 - Math.Pow(o.Beta1, t)
        let bc2 = 1.0 - Math.Pow(o.Beta2, t)
        let decay = if decoupled then float32 (1.0 - o.Lr * o.WeightDecay) else 1.0f
        let wd = if decoupled then 0.0f else float32 o.WeightDecay
        Kernels.Adam(
            p, g, ReadOnlySpan mIn, ReadOnlySpan vIn, ReadOnlySpan xIn, pOut, Span mOut, Span vOut, Span xOut,
            decay, wd, float32 o.Beta1, float32 (1.0 - o.Beta1), float32 o.Beta2, float32 (1.0 - o.Beta2),
            float32 (sqrt bc2), float32 o.Eps, float32 (-(o.Lr / bc1)), o.Amsgrad, o.Maximize)

    /// <summary>
    /// One in-place SGD step of parameter <paramref name="index"/>: overwrites <paramref name="param"/> and its
    /// state buffers, and counts the step. Allocates only the momentum buffer, on the parameter's first step.
    /// </summary>
    /// <param name="o">The options (validated here).</param>
    /// <param name="state">The optimizer state, from <c>(Fused.sgd o).Init</c>; written in place.</param>
    /// <param name="index">The parameter's index in the state.</param>
    /// <param name="param">The parameter's buffer; written in place.</param>
    /// <param name="grad">Its gradient, of the same length.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid, the index is out of range, or the lengths differ.</exception>
    let sgdInPlace (o: SgdOptions, state: State, index: int, param: Span<float32>, grad: ReadOnlySpan<float32>) : unit =
        SgdOptions.validate o |> ignore
        checkParam state index param.Length grad.Length
        sgdParam o state state index (Span.op_Implicit param) grad param
        state.Steps.[index] <- state.Steps.[index] + 1L

    /// <summary>One in-place Adam step of parameter <paramref name="index"/>; see <see cref="M:Optim.Fused.sgdInPlace(Optim.SgdOptions,Optim.State,System.Int32,System.Span{System.Single},System.ReadOnlySpan{System.Single})"/>.</summary>
    /// <param name="o">The options (validated here).</param>
    /// <param name="state">The optimizer state, from <c>(Fused.adam o).Init</c>; written in place.</param>
    /// <param name="index">The parameter's index in the state.</param>
    /// <param name="param">The parameter's buffer; written in place.</param>
    /// <param name="grad">Its gradient, of the same length.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid, the index is out of range, or the lengths differ.</exception>
    let adamInPlace (o: AdamOptions, state: State, index: int, param: Span<float32>, grad: ReadOnlySpan<float32>) : unit =
        AdamOptions.validate o |> ignore
        checkParam state index param.Length grad.Length
        adamParam o false state state index (Span.op_Implicit param) grad param
        state.Steps.[index] <- state.Steps.[index] + 1L

    /// <summary>One in-place AdamW step of parameter <paramref name="index"/>; see <c>adamInPlace</c>.</summary>
    /// <param name="o">The options (validated here).</param>
    /// <param name="state">The optimizer state, from <c>(Fused.adamw o).Init</c>; written in place.</param>
    /// <param name="index">The parameter's index in the state.</param>
    /// <param name="param">The parameter's buffer; written in place.</param>
    /// <param name="grad">Its gradient, of the same length.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid, the index is out of range, or the lengths differ.</exception>
    let adamwInPlace (o: AdamOptions, state: State, index: int, param: Span<float32>, grad: ReadOnlySpan<float32>) : unit =
        AdamOptions.validate o |> ignore
        checkParam state index param.Length grad.Length
        adamParam o true state state index (Span.op_Implicit param) grad param
        state.Steps.[index] <- state.Steps.[index] + 1L

    /// <summary>SGD as one fused kernel; equals <c>Alias.sgd o</c> and <c>torch.optim.SGD</c>.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let sgd (o: SgdOptions) : Optimizer =
        let o = SgdOptions.validate o
        pureStep (Alias.sgd o).Init (ParamStep(fun src dst i p g pOut -> sgdParam o src dst i p g pOut))

    /// <summary>Adam as one fused kernel; equals <c>Alias.adam o</c> and <c>torch.optim.Adam</c>.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let adam (o: AdamOptions) : Optimizer =
        let o = AdamOptions.validate o
        pureStep (Alias.adam o).Init (ParamStep(fun src dst i p g pOut -> adamParam o false src dst i p g pOut))

    /// <summary>AdamW as one fused kernel; equals <c>Alias.adamw o</c> and <c>torch.optim.AdamW</c>.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let adamw (o: AdamOptions) : Optimizer =
        let o = AdamOptions.validate o
        pureStep (Alias.adamw o).Init (ParamStep(fun src dst i p g pOut -> adamParam o true src dst i p g pOut))
