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

    /// The input value and the output array of a one-value-per-parameter buffer of parameter `index`
    /// (`initial` before its first step). In place the output is the state's own array; pure, or on the
    /// first step, it is a fresh one stored in `dst`. The caller writes the new value into it.
    let private scalarSlot (src: State) (dst: State) (name: string) (index: int) (initial: float32) : struct (float32 * float32[]) =
        let old = (State.buffer name src).[index]
        if obj.ReferenceEquals(src, dst) && not (isNull old) then struct (old.[0], old)
        else
            let out = Array.zeroCreate 1
            (State.buffer name dst).[index] <- out
            struct ((if isNull old then initial else old.[0]), out)

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
            let dst = { state with Steps = Array.copy state.Steps; Buffers = state.Buffers |> Map.map (fun _ b -> Array.copy b) }
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
    /// Runs the in-place steps of many parameters (<c>step.Invoke i</c> for every parameter index <c>i</c>, typically one
    /// <c>Fused.*InPlace</c> call) on the two threads the kernels use: each parameter of 2²⁰ elements or more on the
    /// calling thread, its kernel split across both; the smaller ones shared between the calling thread and the kernels'
    /// worker thread, which take them in turn. A parameter's numbers do not depend on the thread that steps it, so they
    /// are those of a loop over the indices. Allocates nothing.
    /// </summary>
    /// <remarks>Steps of different parameters run at the same time: each must write only its own parameter and state
    /// entries (the <c>Fused.*InPlace</c> steps of distinct indices of one state do).</remarks>
    /// <param name="sizes">Per parameter index, its number of elements.</param>
    /// <param name="step">One parameter's step; it may run on the worker thread.</param>
    /// <exception cref="T:System.Exception">The first exception a step threw, rethrown here once every started step has
    /// finished; the other thread starts no more steps after it.</exception>
    /// <example><c>Fused.forEachParameter([| p0.Length; p1.Length |], Action&lt;int&gt;(fun i -> Fused.adamInPlace(o, state, i, Span ps.[i], ReadOnlySpan gs.[i])))</c></example>
    let forEachParameter (sizes: int[], step: Action<int>) : unit =
        if isNull sizes then nullArg (nameof sizes)
        if isNull step then nullArg (nameof step)
        Split.runEach sizes step

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

    let private adagradParam (o: AdagradOptions) (src: State) (dst: State) (index: int) (p: ReadOnlySpan<float32>) (g: ReadOnlySpan<float32>) (pOut: Span<float32>) =
        let struct (sIn, sOut, first) = slot src dst "sum" index p.Length
        // Init creates "sum" filled; a state without it (a checkpoint that holds none) starts it here the same way
        if first then Array.Fill(sIn, float32 o.InitialAccumulatorValue)
        let clr = o.Lr / (1.0 + float src.Steps.[index] * o.LrDecay)
        Kernels.Adagrad(p, g, ReadOnlySpan sIn, pOut, Span sOut, float32 -clr, float32 o.WeightDecay, float32 o.Eps, o.Maximize)

    let private rmspropParam (o: RmspropOptions) (src: State) (dst: State) (index: int) (p: ReadOnlySpan<float32>) (g: ReadOnlySpan<float32>) (pOut: Span<float32>) =
        let n = p.Length
        let hasMomentum = o.Momentum > 0.0
        let struct (vIn, vOut, _) = slot src dst "square_avg" index n
        let struct (mIn, mOut, _) = if o.Centered then slot src dst "grad_avg" index n else struct (null, null, false)
        let struct (bIn, bOut, _) = if hasMomentum then slot src dst "momentum_buffer" index n else struct (null, null, false)
        Kernels.Rmsprop(
            p, g, ReadOnlySpan vIn, ReadOnlySpan mIn, ReadOnlySpan bIn, pOut, Span vOut, Span mOut, Span bOut,
            float32 -o.Lr, float32 o.WeightDecay, float32 o.Alpha, float32 (1.0 - o.Alpha), float32 o.Eps, float32 o.Momentum,
            o.Centered, hasMomentum, o.Maximize)

    let private adadeltaParam (o: AdadeltaOptions) (src: State) (dst: State) (index: int) (p: ReadOnlySpan<float32>) (g: ReadOnlySpan<float32>) (pOut: Span<float32>) =
        let n = p.Length
        let struct (vIn, vOut, _) = slot src dst "square_avg" index n
        let struct (aIn, aOut, _) = slot src dst "acc_delta" index n
        Kernels.Adadelta(
            p, g, ReadOnlySpan vIn, ReadOnlySpan aIn, pOut, Span vOut, Span aOut,
            float32 -o.Lr, float32 o.WeightDecay, float32 o.Rho, float32 (1.0 - o.Rho), float32 o.Eps, o.Maximize)

    let private adamaxParam (o: AdamaxOptions) (src: State) (dst: State) (index: int) (p: ReadOnlySpan<float32>) (g: ReadOnlySpan<float32>) (pOut: Span<float32>) =
        let n = p.Length
        let struct (mIn, mOut, _) = slot src dst "exp_avg" index n
        let struct (wIn, wOut, _) = slot src dst "exp_inf" index n
        let bc1 = 1.0 - Math.Pow(o.Beta1, float (src.Steps.[index] + 1L))
        Kernels.Adamax(
            p, g, ReadOnlySpan mIn, ReadOnlySpan wIn, pOut, Span mOut, Span wOut,
            float32 (-(o.Lr / bc1)), float32 o.WeightDecay, float32 o.Beta1, float32 (1.0 - o.Beta1), float32 o.Beta2,
            float32 o.Eps, o.Maximize)

    let private nadamParam (o: NadamOptions) (src: State) (dst: State) (index: int) (p: ReadOnlySpan<float32>) (g: ReadOnlySpan<float32>) (pOut: Span<float32>) =
        let n = p.Length
        let struct (mIn, mOut, _) = slot src dst "exp_avg" index n
        let struct (vIn, vOut, _) = slot src dst "exp_avg_sq" index n
        let struct (product0, productOut) = scalarSlot src dst "mu_product" index 1.0f
        let t = float (src.Steps.[index] + 1L)
        let mu = Blocks.nadamMu o.Beta1 o.MomentumDecay t
        let muNext = Blocks.nadamMu o.Beta1 o.MomentumDecay (t + 1.0)
        // PyTorch keeps the product in a float32 tensor
        let product = product0 * float32 mu
        let productNext = product * float32 mu * float32 muNext
        productOut.[0] <- product
        let decay = if o.DecoupledWeightDecay then float32 (1.0 - o.Lr * o.WeightDecay) else 1.0f
        let wd = if o.DecoupledWeightDecay then 0.0f else float32 o.WeightDecay
        Kernels.Nadam(
            p, g, ReadOnlySpan mIn, ReadOnlySpan vIn, pOut, Span mOut, Span vOut,
            decay, wd, float32 o.Beta1, float32 (1.0 - o.Beta1), float32 o.Beta2, float32 (1.0 - o.Beta2),
            float32 (1.0 / (1.0 - Math.Pow(o.Beta2, t))), float32 o.Eps,
            float32 (-o.Lr * (1.0 - mu) / (1.0 - float product)), float32 (-o.Lr * muNext / (1.0 - float productNext)), o.Maximize)

    let private radamParam (o: RadamOptions) (src: State) (dst: State) (index: int) (p: ReadOnlySpan<float32>) (g: ReadOnlySpan<float32>) (pOut: Span<float32>) =
        let n = p.Length
        let struct (mIn, mOut, _) = slot src dst "exp_avg" index n
        let struct (vIn, vOut, _) = slot src dst "exp_avg_sq" index n
        let t = float (src.Steps.[index] + 1L)
        let bc1 = 1.0 - Math.Pow(o.Beta1, t)
        let rect = Blocks.radamRectification o.Beta2 t
        let negStep = if rect.IsSome then -(o.Lr * sqrt (1.0 - Math.Pow(o.Beta2, t)) * rect.Value / bc1) else -(o.Lr / bc1)
        let decay = if o.DecoupledWeightDecay then float32 (1.0 - o.Lr * o.WeightDecay) else 1.0f
        let wd = if o.DecoupledWeightDecay then 0.0f else float32 o.WeightDecay
        Kernels.Radam(
            p, g, ReadOnlySpan mIn, ReadOnlySpan vIn, pOut, Span mOut, Span vOut,
            decay, wd, float32 o.Beta1, float32 (1.0 - o.Beta1), float32 o.Beta2, float32 (1.0 - o.Beta2),
            float32 o.Eps, float32 negStep, rect.IsSome, o.Maximize)

    let private asgdParam (o: AsgdOptions) (src: State) (dst: State) (index: int) (p: ReadOnlySpan<float32>) (g: ReadOnlySpan<float32>) (pOut: Span<float32>) =
        let struct (eta, etaOut) = scalarSlot src dst "eta" index (float32 o.Lr)
        let struct (mu, muOut) = scalarSlot src dst "mu" index 1.0f
        let struct (axIn, axOut, _) = slot src dst "ax" index p.Length
        Kernels.Asgd(
            p, g, ReadOnlySpan axIn, pOut, Span axOut,
            float32 (1.0 - o.Lambd * float eta), -eta, float32 o.WeightDecay, mu, (mu = 1.0f), o.Maximize)
        let t = float (src.Steps.[index] + 1L)
        etaOut.[0] <- float32 (o.Lr / Math.Pow(1.0 + o.Lambd * o.Lr * t, o.Alpha))
        muOut.[0] <- float32 (1.0 / Math.Max(1.0, t - o.T0))

    let private rpropParam (o: RpropOptions) (src: State) (dst: State) (index: int) (p: ReadOnlySpan<float32>) (g: ReadOnlySpan<float32>) (pOut: Span<float32>) =
        let n = p.Length
        let struct (prevIn, prevOut, _) = slot src dst "prev" index n
        let struct (sIn, sOut, first) = slot src dst "step_size" index n
        Kernels.Rprop(
            p, g, ReadOnlySpan prevIn, ReadOnlySpan sIn, pOut, Span prevOut, Span sOut,
            float32 o.EtaMinus, float32 o.EtaPlus, float32 o.StepSizeMin, float32 o.StepSizeMax, float32 o.Lr, first, o.Maximize)

    /// <summary>One in-place Adagrad step of parameter <paramref name="index"/>; see <c>sgdInPlace</c>.</summary>
    /// <param name="o">The options (validated here).</param>
    /// <param name="state">The optimizer state, from <c>(Fused.adagrad o).Init</c>; written in place.</param>
    /// <param name="index">The parameter's index in the state.</param>
    /// <param name="param">The parameter's buffer; written in place.</param>
    /// <param name="grad">Its gradient, of the same length.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid, the index is out of range, or the lengths differ.</exception>
    let adagradInPlace (o: AdagradOptions, state: State, index: int, param: Span<float32>, grad: ReadOnlySpan<float32>) : unit =
        AdagradOptions.validate o |> ignore
        checkParam state index param.Length grad.Length
        adagradParam o state state index (Span.op_Implicit param) grad param
        state.Steps.[index] <- state.Steps.[index] + 1L

    /// <summary>One in-place RMSprop step of parameter <paramref name="index"/>; see <c>sgdInPlace</c>.</summary>
    /// <param name="o">The options (validated here).</param>
    /// <param name="state">The optimizer state, from <c>(Fused.rmsprop o).Init</c>; written in place.</param>
    /// <param name="index">The parameter's index in the state.</param>
    /// <param name="param">The parameter's buffer; written in place.</param>
    /// <param name="grad">Its gradient, of the same length.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid, the index is out of range, or the lengths differ.</exception>
    let rmspropInPlace (o: RmspropOptions, state: State, index: int, param: Span<float32>, grad: ReadOnlySpan<float32>) : unit =
        RmspropOptions.validate o |> ignore
        checkParam state index param.Length grad.Length
        rmspropParam o state state index (Span.op_Implicit param) grad param
        state.Steps.[index] <- state.Steps.[index] + 1L

    /// <summary>One in-place Adadelta step of parameter <paramref name="index"/>; see <c>sgdInPlace</c>.</summary>
    /// <param name="o">The options (validated here).</param>
    /// <param name="state">The optimizer state, from <c>(Fused.adadelta o).Init</c>; written in place.</param>
    /// <param name="index">The parameter's index in the state.</param>
    /// <param name="param">The parameter's buffer; written in place.</param>
    /// <param name="grad">Its gradient, of the same length.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid, the index is out of range, or the lengths differ.</exception>
    let adadeltaInPlace (o: AdadeltaOptions, state: State, index: int, param: Span<float32>, grad: ReadOnlySpan<float32>) : unit =
        AdadeltaOptions.validate o |> ignore
        checkParam state index param.Length grad.Length
        adadeltaParam o state state index (Span.op_Implicit param) grad param
        state.Steps.[index] <- state.Steps.[index] + 1L

    /// <summary>One in-place Adamax step of parameter <paramref name="index"/>; see <c>sgdInPlace</c>.</summary>
    /// <param name="o">The options (validated here).</param>
    /// <param name="state">The optimizer state, from <c>(Fused.adamax o).Init</c>; written in place.</param>
    /// <param name="index">The parameter's index in the state.</param>
    /// <param name="param">The parameter's buffer; written in place.</param>
    /// <param name="grad">Its gradient, of the same length.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid, the index is out of range, or the lengths differ.</exception>
    let adamaxInPlace (o: AdamaxOptions, state: State, index: int, param: Span<float32>, grad: ReadOnlySpan<float32>) : unit =
        AdamaxOptions.validate o |> ignore
        checkParam state index param.Length grad.Length
        adamaxParam o state state index (Span.op_Implicit param) grad param
        state.Steps.[index] <- state.Steps.[index] + 1L

    /// <summary>One in-place NAdam step of parameter <paramref name="index"/>; see <c>sgdInPlace</c>.</summary>
    /// <param name="o">The options (validated here).</param>
    /// <param name="state">The optimizer state, from <c>(Fused.nadam o).Init</c>; written in place.</param>
    /// <param name="index">The parameter's index in the state.</param>
    /// <param name="param">The parameter's buffer; written in place.</param>
    /// <param name="grad">Its gradient, of the same length.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid, the index is out of range, or the lengths differ.</exception>
    let nadamInPlace (o: NadamOptions, state: State, index: int, param: Span<float32>, grad: ReadOnlySpan<float32>) : unit =
        NadamOptions.validate o |> ignore
        checkParam state index param.Length grad.Length
        nadamParam o state state index (Span.op_Implicit param) grad param
        state.Steps.[index] <- state.Steps.[index] + 1L

    /// <summary>One in-place RAdam step of parameter <paramref name="index"/>; see <c>sgdInPlace</c>.</summary>
    /// <param name="o">The options (validated here).</param>
    /// <param name="state">The optimizer state, from <c>(Fused.radam o).Init</c>; written in place.</param>
    /// <param name="index">The parameter's index in the state.</param>
    /// <param name="param">The parameter's buffer; written in place.</param>
    /// <param name="grad">Its gradient, of the same length.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid, the index is out of range, or the lengths differ.</exception>
    let radamInPlace (o: RadamOptions, state: State, index: int, param: Span<float32>, grad: ReadOnlySpan<float32>) : unit =
        RadamOptions.validate o |> ignore
        checkParam state index param.Length grad.Length
        radamParam o state state index (Span.op_Implicit param) grad param
        state.Steps.[index] <- state.Steps.[index] + 1L

    /// <summary>One in-place ASGD step of parameter <paramref name="index"/>; see <c>sgdInPlace</c>.</summary>
    /// <param name="o">The options (validated here).</param>
    /// <param name="state">The optimizer state, from <c>(Fused.asgd o).Init</c>; written in place.</param>
    /// <param name="index">The parameter's index in the state.</param>
    /// <param name="param">The parameter's buffer; written in place.</param>
    /// <param name="grad">Its gradient, of the same length.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid, the index is out of range, or the lengths differ.</exception>
    let asgdInPlace (o: AsgdOptions, state: State, index: int, param: Span<float32>, grad: ReadOnlySpan<float32>) : unit =
        AsgdOptions.validate o |> ignore
        checkParam state index param.Length grad.Length
        asgdParam o state state index (Span.op_Implicit param) grad param
        state.Steps.[index] <- state.Steps.[index] + 1L

    /// <summary>One in-place Rprop step of parameter <paramref name="index"/>; see <c>sgdInPlace</c>.</summary>
    /// <param name="o">The options (validated here).</param>
    /// <param name="state">The optimizer state, from <c>(Fused.rprop o).Init</c>; written in place.</param>
    /// <param name="index">The parameter's index in the state.</param>
    /// <param name="param">The parameter's buffer; written in place.</param>
    /// <param name="grad">Its gradient, of the same length.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid, the index is out of range, or the lengths differ.</exception>
    let rpropInPlace (o: RpropOptions, state: State, index: int, param: Span<float32>, grad: ReadOnlySpan<float32>) : unit =
        RpropOptions.validate o |> ignore
        checkParam state index param.Length grad.Length
        rpropParam o state state index (Span.op_Implicit param) grad param
        state.Steps.[index] <- state.Steps.[index] + 1L

    /// <summary>Adagrad as one fused kernel; equals <c>Alias.adagrad o</c> and <c>torch.optim.Adagrad</c>.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let adagrad (o: AdagradOptions) : Optimizer =
        let o = AdagradOptions.validate o
        pureStep (Alias.adagrad o).Init (ParamStep(fun src dst i p g pOut -> adagradParam o src dst i p g pOut))

    /// <summary>RMSprop as one fused kernel; equals <c>Alias.rmsprop o</c> and <c>torch.optim.RMSprop</c>.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let rmsprop (o: RmspropOptions) : Optimizer =
        let o = RmspropOptions.validate o
        pureStep (Alias.rmsprop o).Init (ParamStep(fun src dst i p g pOut -> rmspropParam o src dst i p g pOut))

    /// <summary>Adadelta as one fused kernel; equals <c>Alias.adadelta o</c> and <c>torch.optim.Adadelta</c>.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let adadelta (o: AdadeltaOptions) : Optimizer =
        let o = AdadeltaOptions.validate o
        pureStep (Alias.adadelta o).Init (ParamStep(fun src dst i p g pOut -> adadeltaParam o src dst i p g pOut))

    /// <summary>Adamax as one fused kernel; equals <c>Alias.adamax o</c> and <c>torch.optim.Adamax</c>.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let adamax (o: AdamaxOptions) : Optimizer =
        let o = AdamaxOptions.validate o
        pureStep (Alias.adamax o).Init (ParamStep(fun src dst i p g pOut -> adamaxParam o src dst i p g pOut))

    /// <summary>NAdam as one fused kernel; equals <c>Alias.nadam o</c> and <c>torch.optim.NAdam</c>.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let nadam (o: NadamOptions) : Optimizer =
        let o = NadamOptions.validate o
        pureStep (Alias.nadam o).Init (ParamStep(fun src dst i p g pOut -> nadamParam o src dst i p g pOut))

    /// <summary>RAdam as one fused kernel; equals <c>Alias.radam o</c> and <c>torch.optim.RAdam</c>.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let radam (o: RadamOptions) : Optimizer =
        let o = RadamOptions.validate o
        pureStep (Alias.radam o).Init (ParamStep(fun src dst i p g pOut -> radamParam o src dst i p g pOut))

    /// <summary>ASGD as one fused kernel; equals <c>Alias.asgd o</c> and <c>torch.optim.ASGD</c>.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let asgd (o: AsgdOptions) : Optimizer =
        let o = AsgdOptions.validate o
        pureStep (Alias.asgd o).Init (ParamStep(fun src dst i p g pOut -> asgdParam o src dst i p g pOut))

    /// <summary>Rprop as one fused kernel; equals <c>Alias.rprop o</c> and <c>torch.optim.Rprop</c>.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let rprop (o: RpropOptions) : Optimizer =
        let o = RpropOptions.validate o
        pureStep (Alias.rprop o).Init (ParamStep(fun src dst i p g pOut -> rpropParam o src dst i p g pOut))

    let private adafactorParam (o: AdafactorOptions) (src: State) (dst: State) (index: int) (p: ReadOnlySpan<float32>) (g: ReadOnlySpan<float32>) (pOut: Span<float32>) =
        let n = p.Length
        let t = float (src.Steps.[index] + 1L)
        let w = float32 (Math.Pow(t, o.Beta2Decay))
        let rho = min o.Lr (1.0 / sqrt t)
        let eps1 = AdafactorOptions.eps1 o
        let eps1Sq = float32 (eps1 * eps1)
        let decay = if o.WeightDecay <> 0.0 then float32 (1.0 - o.Lr * o.WeightDecay) else 1.0f
        let rows = (State.buffer "row_var" src).[index]
        let cols = (State.buffer "col_var" src).[index]
        // an empty parameter only counts its step (PyTorch fails on it: its RMS divides by 0)
        if n > 0 then
            if not (isNull rows || isNull cols) then
                // Init created the factors, so their sizes carry the factorization: batch·r rows and batch·c columns of n = batch·r·c
                let struct (rIn, rOut, _) = slot src dst "row_var" index rows.Length
                let struct (cIn, cOut, _) = slot src dst "col_var" index cols.Length
                let batch = int (int64 rows.Length * int64 cols.Length / int64 n)
                Kernels.AdafactorFactored(
                    p, g, ReadOnlySpan rIn, ReadOnlySpan cIn, pOut, Span rOut, Span cOut,
                    batch, rows.Length / batch, cols.Length / batch, w, float32 eps1, eps1Sq, rho, o.Eps2, o.D, decay, o.Maximize)
            else
                let struct (vIn, vOut, _) = slot src dst "variance" index n
                let struct (sumP, sumU) = Kernels.AdafactorVectorSums(p, g, ReadOnlySpan vIn, Span vOut, w, eps1Sq, o.Maximize)
                let step = Kernels.AdafactorStepSize(sumP, sumU, n, rho, o.Eps2, o.D)
                Kernels.AdafactorVectorApply(p, g, ReadOnlySpan vOut, pOut, decay, step, eps1Sq, o.Maximize)

    /// <summary>
    /// One in-place Adafactor step of parameter <paramref name="index"/>; see <c>sgdInPlace</c>. Whether the parameter
    /// is factored, and how, comes from the state: <c>Init</c> creates <c>"row_var"</c> and <c>"col_var"</c> for the
    /// parameters of two or more dimensions.
    /// </summary>
    /// <param name="o">The options (validated here).</param>
    /// <param name="state">The optimizer state, from <c>(Fused.adafactor o).Init</c>; written in place.</param>
    /// <param name="index">The parameter's index in the state.</param>
    /// <param name="param">The parameter's buffer, row-major; written in place.</param>
    /// <param name="grad">Its gradient, of the same length.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid, the index is out of range, or the lengths differ.</exception>
    let adafactorInPlace (o: AdafactorOptions, state: State, index: int, param: Span<float32>, grad: ReadOnlySpan<float32>) : unit =
        AdafactorOptions.validate o |> ignore
        checkParam state index param.Length grad.Length
        adafactorParam o state state index (Span.op_Implicit param) grad param
        state.Steps.[index] <- state.Steps.[index] + 1L

    /// <summary>
    /// Adafactor as fused kernels; equals <c>Alias.adafactor o</c> and PyTorch 2.x's <c>torch.optim.Adafactor</c>. Its
    /// relative step size and update clipping need the RMS of the whole parameter and of its whole update before any
    /// element moves, so it takes two passes over a vector (sums and the second moment, then the update) and three over
    /// a factored parameter; each is one SIMD loop, and a large vector's passes are split across two threads.
    /// </summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let adafactor (o: AdafactorOptions) : Optimizer =
        let o = AdafactorOptions.validate o
        pureStep (Alias.adafactor o).Init (ParamStep(fun src dst i p g pOut -> adafactorParam o src dst i p g pOut))

    /// Like `slot`, for a buffer updated row by row: a pure output starts as a copy of the input, so that the
    /// rows a step does not touch keep their values.
    let private copySlot (src: State) (dst: State) (name: string) (index: int) (n: int) : struct (float32[] * float32[]) =
        let old = (State.buffer name src).[index]
        if obj.ReferenceEquals(src, dst) then
            let a = if isNull old then (let a = Array.zeroCreate n in (State.buffer name dst).[index] <- a; a) else old
            struct (a, a)
        else
            let out = if isNull old then Array.zeroCreate n else Array.copy old
            (State.buffer name dst).[index] <- out
            struct ((if isNull old then out else old), out)

    /// SparseAdam on the given rows (distinct) of parameter `index`; rows not given keep their values and moments.
    let private sparseAdamParam
        (o: SparseAdamOptions) (src: State) (dst: State) (index: int) (p: ReadOnlySpan<float32>) (width: int)
        (rows: ReadOnlySpan<int>) (values: ReadOnlySpan<float32>) (pOut: Span<float32>) =
        let struct (mIn, mOut) = copySlot src dst "exp_avg" index p.Length
        let struct (vIn, vOut) = copySlot src dst "exp_avg_sq" index p.Length
        let t = float (src.Steps.[index] + 1L)
        let negStep = float32 (-(o.Lr * sqrt (1.0 - Math.Pow(o.Beta2, t)) / (1.0 - Math.Pow(o.Beta1, t))))
        let omb1 = float32 (1.0 - o.Beta1)
        let omb2 = float32 (1.0 - o.Beta2)
        for k in 0 .. rows.Length - 1 do
            let at = rows.[k] * width
            Kernels.SparseAdamRow(
                p.Slice(at, width), values.Slice(k * width, width), ReadOnlySpan(mIn, at, width), ReadOnlySpan(vIn, at, width),
                pOut.Slice(at, width), Span(mOut, at, width), Span(vOut, at, width), omb1, omb2, float32 o.Eps, negStep, o.Maximize)

    let private sparseInit (ps: Tensor[]) = State.empty ps.Length |> State.declare "exp_avg" |> State.declare "exp_avg_sq"

    let private checkSparse (ps: Tensor[]) (grads: SparseGradient[]) (state: State) =
        if grads.Length <> ps.Length then
            invalidArg "grads" $"Expected {ps.Length} gradients (one per parameter), got {grads.Length}."
        if state.Steps.Length <> ps.Length then
            invalidArg "state" $"The state covers {state.Steps.Length} parameters, but {ps.Length} were given."
        Array.iteri2 (fun i (p: Tensor) (g: SparseGradient) ->
            if not (isNull (box g)) then
                try SparseGradient.validate p.Shape g
                with :? ArgumentException as e -> invalidArg "grads" $"Gradient {i}: {e.Message}") ps grads

    /// <summary>
    /// One in-place SparseAdam step of parameter <paramref name="index"/>: only the given rows of the parameter
    /// and of its moments change. Allocates only the moment buffers, on the parameter's first step.
    /// </summary>
    /// <param name="o">The options (validated here).</param>
    /// <param name="state">The optimizer state, from <c>(Fused.sparseAdam o).Init</c>; written in place.</param>
    /// <param name="index">The parameter's index in the state.</param>
    /// <param name="param">The parameter's buffer, row-major; written in place.</param>
    /// <param name="rowWidth">The elements per row (<c>SparseGradient.rowWidth shape</c>), 1 or more.</param>
    /// <param name="rows">The rows, strictly increasing (as <c>SparseGradient.coalesce</c> returns them).</param>
    /// <param name="values">The rows' gradient, row-major: <c>rows.Length × rowWidth</c> elements.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid, the index is out of range, the row width does not
    /// divide the parameter, the lengths do not match, or a row is out of range, repeated or out of order; nothing is changed.</exception>
    let sparseAdamInPlace
        (o: SparseAdamOptions, state: State, index: int, param: Span<float32>, rowWidth: int, rows: ReadOnlySpan<int>, values: ReadOnlySpan<float32>) : unit =
        SparseAdamOptions.validate o |> ignore
        if index < 0 || index >= state.Steps.Length then
            raise (ArgumentOutOfRangeException("index", index, $"The state covers {state.Steps.Length} parameters."))
        if rowWidth < 1 || param.Length % rowWidth <> 0 then
            raise (ArgumentOutOfRangeException("rowWidth", rowWidth, $"A row width must be 1 or more and divide the parameter's {param.Length} elements."))
        if values.Length <> rows.Length * rowWidth then
            invalidArg "values" $"{rows.Length} rows of {rowWidth} elements need {rows.Length * rowWidth} values, but {values.Length} were given."
        if not (SparseGradient.isCoalesced rows) then
            invalidArg "rows" "The rows must be strictly increasing (each once); coalesce them with SparseGradient.coalesce."
        if rows.Length > 0 && (rows.[0] < 0 || rows.[rows.Length - 1] >= param.Length / rowWidth) then
            invalidArg "rows" $"The rows must lie in [0, {param.Length / rowWidth}), but run from {rows.[0]} to {rows.[rows.Length - 1]}."
        sparseAdamParam o state state index (Span.op_Implicit param) rowWidth rows values param
        state.Steps.[index] <- state.Steps.[index] + 1L

    /// <summary>
    /// SparseAdam, as <c>torch.optim.SparseAdam</c>: Adam's moments and step (Kingma &amp; Ba, 2015) applied
    /// lazily, to the rows a sparse gradient touches (repeated rows summed first); the other rows keep their
    /// values and moments, and every parameter with a gradient counts a step. An empty gradient (no rows)
    /// counts a step and moves nothing. It has no chain of blocks: dense blocks would decay the untouched rows.
    /// </summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid; at a step, a gradient does not fit its parameter.</exception>
    let sparseAdam (o: SparseAdamOptions) : SparseOptimizer =
        let o = SparseAdamOptions.validate o
        { Init = sparseInit
          Step =
            fun ps grads state ->
                checkSparse ps grads state
                let dst = { state with Steps = Array.copy state.Steps; Buffers = state.Buffers |> Map.map (fun _ b -> Array.copy b) }
                let out =
                    ps |> Array.mapi (fun i p ->
                        let g = grads.[i]
                        if isNull (box g) then p
                        else
                            let width = SparseGradient.rowWidth p.Shape
                            let g = SparseGradient.coalesce width g
                            let pOut = Array.copy p.Data
                            sparseAdamParam o state dst i (ReadOnlySpan p.Data) width (ReadOnlySpan g.Rows) (ReadOnlySpan g.Values) (Span pOut)
                            dst.Steps.[i] <- dst.Steps.[i] + 1L
                            { Shape = p.Shape; Data = pOut })
                out, dst
          StepInPlace =
            fun ps grads state ->
                checkSparse ps grads state
                for i in 0 .. ps.Length - 1 do
                    let g = grads.[i]
                    if not (isNull (box g)) then
                        let width = SparseGradient.rowWidth ps.[i].Shape
                        let g = SparseGradient.coalesce width g
                        sparseAdamParam o state state i (ReadOnlySpan ps.[i].Data) width (ReadOnlySpan g.Rows) (ReadOnlySpan g.Values) (Span ps.[i].Data)
                        state.Steps.[i] <- state.Steps.[i] + 1L
                state }
