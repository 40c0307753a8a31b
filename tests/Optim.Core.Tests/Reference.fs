/// The hand-fused optimizers of before compiled chains, over ReferenceKernels: the oracle of the bit-equality law.
/// Each is a pure Optimizer and a per-parameter in-place step, as `Fused.*` and `Fused.*InPlace` were.
[<RequireQualifiedAccess>]
module internal Optim.Tests.Reference

open System
open Optim

/// The product's per-parameter step scaffolding (state slots, checks, the pure and in-place drivers), reused: the
/// oracle is the kernels' arithmetic.
let slot = Fused.slot
let checkParam = Fused.checkParam
let pureStep (init: Tensor[] -> State) (step: ParamStep) = Fused.pureStep init step

/// The input value and the output array of a one-value-per-parameter buffer of parameter `index`
/// (`initial` before its first step). In place the output is the state's own array; pure, or on the
/// first step, it is a fresh one stored in `dst`. The caller writes the new value into it.
let scalarSlot (src: State) (dst: State) (name: string) (index: int) (initial: float32) : struct (float32 * float32[]) =
    let old = (State.buffer name src).[index]
    if obj.ReferenceEquals(src, dst) && not (isNull old) then struct (old.[0], old)
    else
        let out = Array.zeroCreate 1
        (State.buffer name dst).[index] <- out
        struct ((if isNull old then initial else old.[0]), out)

let sgdParam (o: SgdOptions) (src: State) (dst: State) (index: int) (p: ReadOnlySpan<float32>) (g: ReadOnlySpan<float32>) (pOut: Span<float32>) =
    let negLr = float32 -o.Lr
    let wd = float32 o.WeightDecay
    let mu = float32 o.Momentum
    let keep = float32 (1.0 - o.Dampening)
    if o.Momentum = 0.0 then
        ReferenceKernels.SgdRange(p, g, ReadOnlySpan.Empty, pOut, Span.Empty, negLr, wd, mu, keep, false, false, o.Nesterov, o.Maximize)
    else
        let struct (bIn, bOut, first) = slot src dst "momentum_buffer" index p.Length
        ReferenceKernels.SgdRange(p, g, ReadOnlySpan bIn, pOut, Span bOut, negLr, wd, mu, keep, true, first, o.Nesterov, o.Maximize)

let adamParam (o: AdamOptions) (decoupled: bool) (src: State) (dst: State) (index: int) (p: ReadOnlySpan<float32>) (g: ReadOnlySpan<float32>) (pOut: Span<float32>) =
    let n = p.Length
    let struct (mIn, mOut, _) = slot src dst "exp_avg" index n
    let struct (vIn, vOut, _) = slot src dst "exp_avg_sq" index n
    let struct (xIn, xOut, _) = if o.Amsgrad then slot src dst "max_exp_avg_sq" index n else struct (null, null, false)
    let t = float (src.Steps.[index] + 1L)
    let bc1 = 1.0 - Math.Pow(o.Beta1, t)
    let bc2 = 1.0 - Math.Pow(o.Beta2, t)
    let decay = if decoupled then float32 (1.0 - o.Lr * o.WeightDecay) else 1.0f
    let wd = if decoupled then 0.0f else float32 o.WeightDecay
    ReferenceKernels.AdamRange(
        p, g, ReadOnlySpan mIn, ReadOnlySpan vIn, ReadOnlySpan xIn, pOut, Span mOut, Span vOut, Span xOut,
        decay, wd, float32 o.Beta1, float32 (1.0 - o.Beta1), float32 o.Beta2, float32 (1.0 - o.Beta2),
        float32 (sqrt bc2), float32 o.Eps, float32 (-(o.Lr / bc1)), o.Amsgrad, o.Maximize)

/// <summary>
/// One in-place SGD step of parameter <paramref name="index"/>: overwrites <paramref name="param"/> and its
/// state buffers, and counts the step. Allocates only the momentum buffer, on the parameter's first step.
/// </summary>
/// <param name="o">The options (validated here).</param>
/// <param name="state">The optimizer state, from <c>(Reference.sgd o).Init</c>; written in place.</param>
/// <param name="index">The parameter's index in the state.</param>
/// <param name="param">The parameter's buffer; written in place.</param>
/// <param name="grad">Its gradient, of the same length.</param>
/// <exception cref="T:System.ArgumentException">An option is invalid, the index is out of range, or the lengths differ.</exception>
let sgdInPlace (o: SgdOptions, state: State, index: int, param: Span<float32>, grad: ReadOnlySpan<float32>) : unit =
    SgdOptions.validate o |> ignore
    checkParam state index param.Length grad.Length
    sgdParam o state state index (Span.op_Implicit param) grad param
    state.Steps.[index] <- state.Steps.[index] + 1L

/// <summary>One in-place Adam step of parameter <paramref name="index"/>; see <c>sgdInPlace</c>.</summary>
/// <param name="o">The options (validated here).</param>
/// <param name="state">The optimizer state, from <c>(Reference.adam o).Init</c>; written in place.</param>
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
/// <param name="state">The optimizer state, from <c>(Reference.adamw o).Init</c>; written in place.</param>
/// <param name="index">The parameter's index in the state.</param>
/// <param name="param">The parameter's buffer; written in place.</param>
/// <param name="grad">Its gradient, of the same length.</param>
/// <exception cref="T:System.ArgumentException">An option is invalid, the index is out of range, or the lengths differ.</exception>
let adamwInPlace (o: AdamOptions, state: State, index: int, param: Span<float32>, grad: ReadOnlySpan<float32>) : unit =
    AdamOptions.validate o |> ignore
    checkParam state index param.Length grad.Length
    adamParam o true state state index (Span.op_Implicit param) grad param
    state.Steps.[index] <- state.Steps.[index] + 1L

/// <summary>SGD as one hand-fused kernel; equals <c>Alias.sgd o</c> and <c>torch.optim.SGD</c>.</summary>
/// <param name="o">The options.</param>
/// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
let sgd (o: SgdOptions) : Optimizer =
    let o = SgdOptions.validate o
    pureStep (Alias.sgd o).Init (Optim.ParamStep(fun src dst i p g pOut -> sgdParam o src dst i p g pOut))

/// <summary>Adam as one hand-fused kernel; equals <c>Alias.adam o</c> and <c>torch.optim.Adam</c>.</summary>
/// <param name="o">The options.</param>
/// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
let adam (o: AdamOptions) : Optimizer =
    let o = AdamOptions.validate o
    pureStep (Alias.adam o).Init (Optim.ParamStep(fun src dst i p g pOut -> adamParam o false src dst i p g pOut))

/// <summary>AdamW as one hand-fused kernel; equals <c>Alias.adamw o</c> and <c>torch.optim.AdamW</c>.</summary>
/// <param name="o">The options.</param>
/// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
let adamw (o: AdamOptions) : Optimizer =
    let o = AdamOptions.validate o
    pureStep (Alias.adamw o).Init (Optim.ParamStep(fun src dst i p g pOut -> adamParam o true src dst i p g pOut))

let adagradParam (o: AdagradOptions) (src: State) (dst: State) (index: int) (p: ReadOnlySpan<float32>) (g: ReadOnlySpan<float32>) (pOut: Span<float32>) =
    let struct (sIn, sOut, first) = slot src dst "sum" index p.Length
    // Init creates "sum" filled; a state without it (a checkpoint that holds none) starts it here the same way
    if first then Array.Fill(sIn, float32 o.InitialAccumulatorValue)
    let clr = o.Lr / (1.0 + float src.Steps.[index] * o.LrDecay)
    ReferenceKernels.AdagradRange(p, g, ReadOnlySpan sIn, pOut, Span sOut, float32 -clr, float32 o.WeightDecay, float32 o.Eps, o.Maximize)

let rmspropParam (o: RmspropOptions) (src: State) (dst: State) (index: int) (p: ReadOnlySpan<float32>) (g: ReadOnlySpan<float32>) (pOut: Span<float32>) =
    let n = p.Length
    let hasMomentum = o.Momentum > 0.0
    let struct (vIn, vOut, _) = slot src dst "square_avg" index n
    let struct (mIn, mOut, _) = if o.Centered then slot src dst "grad_avg" index n else struct (null, null, false)
    let struct (bIn, bOut, _) = if hasMomentum then slot src dst "momentum_buffer" index n else struct (null, null, false)
    ReferenceKernels.RmspropRange(
        p, g, ReadOnlySpan vIn, ReadOnlySpan mIn, ReadOnlySpan bIn, pOut, Span vOut, Span mOut, Span bOut,
        float32 -o.Lr, float32 o.WeightDecay, float32 o.Alpha, float32 (1.0 - o.Alpha), float32 o.Eps, float32 o.Momentum,
        o.Centered, hasMomentum, o.Maximize)

let adadeltaParam (o: AdadeltaOptions) (src: State) (dst: State) (index: int) (p: ReadOnlySpan<float32>) (g: ReadOnlySpan<float32>) (pOut: Span<float32>) =
    let n = p.Length
    let struct (vIn, vOut, _) = slot src dst "square_avg" index n
    let struct (aIn, aOut, _) = slot src dst "acc_delta" index n
    ReferenceKernels.AdadeltaRange(
        p, g, ReadOnlySpan vIn, ReadOnlySpan aIn, pOut, Span vOut, Span aOut,
        float32 -o.Lr, float32 o.WeightDecay, float32 o.Rho, float32 (1.0 - o.Rho), float32 o.Eps, o.Maximize)

let adamaxParam (o: AdamaxOptions) (src: State) (dst: State) (index: int) (p: ReadOnlySpan<float32>) (g: ReadOnlySpan<float32>) (pOut: Span<float32>) =
    let n = p.Length
    let struct (mIn, mOut, _) = slot src dst "exp_avg" index n
    let struct (wIn, wOut, _) = slot src dst "exp_inf" index n
    let bc1 = 1.0 - Math.Pow(o.Beta1, float (src.Steps.[index] + 1L))
    ReferenceKernels.AdamaxRange(
        p, g, ReadOnlySpan mIn, ReadOnlySpan wIn, pOut, Span mOut, Span wOut,
        float32 (-(o.Lr / bc1)), float32 o.WeightDecay, float32 o.Beta1, float32 (1.0 - o.Beta1), float32 o.Beta2,
        float32 o.Eps, o.Maximize)

let nadamParam (o: NadamOptions) (src: State) (dst: State) (index: int) (p: ReadOnlySpan<float32>) (g: ReadOnlySpan<float32>) (pOut: Span<float32>) =
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
    ReferenceKernels.NadamRange(
        p, g, ReadOnlySpan mIn, ReadOnlySpan vIn, pOut, Span mOut, Span vOut,
        decay, wd, float32 o.Beta1, float32 (1.0 - o.Beta1), float32 o.Beta2, float32 (1.0 - o.Beta2),
        float32 (1.0 / (1.0 - Math.Pow(o.Beta2, t))), float32 o.Eps,
        float32 (-o.Lr * (1.0 - mu) / (1.0 - float product)), float32 (-o.Lr * muNext / (1.0 - float productNext)), o.Maximize)

let radamParam (o: RadamOptions) (src: State) (dst: State) (index: int) (p: ReadOnlySpan<float32>) (g: ReadOnlySpan<float32>) (pOut: Span<float32>) =
    let n = p.Length
    let struct (mIn, mOut, _) = slot src dst "exp_avg" index n
    let struct (vIn, vOut, _) = slot src dst "exp_avg_sq" index n
    let t = float (src.Steps.[index] + 1L)
    let bc1 = 1.0 - Math.Pow(o.Beta1, t)
    let rect = Blocks.radamRectification o.Beta2 t
    let negStep = if rect.IsSome then -(o.Lr * sqrt (1.0 - Math.Pow(o.Beta2, t)) * rect.Value / bc1) else -(o.Lr / bc1)
    let decay = if o.DecoupledWeightDecay then float32 (1.0 - o.Lr * o.WeightDecay) else 1.0f
    let wd = if o.DecoupledWeightDecay then 0.0f else float32 o.WeightDecay
    ReferenceKernels.RadamRange(
        p, g, ReadOnlySpan mIn, ReadOnlySpan vIn, pOut, Span mOut, Span vOut,
        decay, wd, float32 o.Beta1, float32 (1.0 - o.Beta1), float32 o.Beta2, float32 (1.0 - o.Beta2),
        float32 o.Eps, float32 negStep, rect.IsSome, o.Maximize)

let asgdParam (o: AsgdOptions) (src: State) (dst: State) (index: int) (p: ReadOnlySpan<float32>) (g: ReadOnlySpan<float32>) (pOut: Span<float32>) =
    let struct (eta, etaOut) = scalarSlot src dst "eta" index (float32 o.Lr)
    let struct (mu, muOut) = scalarSlot src dst "mu" index 1.0f
    let struct (axIn, axOut, _) = slot src dst "ax" index p.Length
    ReferenceKernels.AsgdRange(
        p, g, ReadOnlySpan axIn, pOut, Span axOut,
        float32 (1.0 - o.Lambd * float eta), -eta, float32 o.WeightDecay, mu, (mu = 1.0f), o.Maximize)
    let t = float (src.Steps.[index] + 1L)
    etaOut.[0] <- float32 (o.Lr / Math.Pow(1.0 + o.Lambd * o.Lr * t, o.Alpha))
    muOut.[0] <- float32 (1.0 / Math.Max(1.0, t - o.T0))

let rpropParam (o: RpropOptions) (src: State) (dst: State) (index: int) (p: ReadOnlySpan<float32>) (g: ReadOnlySpan<float32>) (pOut: Span<float32>) =
    let n = p.Length
    let struct (prevIn, prevOut, _) = slot src dst "prev" index n
    let struct (sIn, sOut, first) = slot src dst "step_size" index n
    ReferenceKernels.RpropRange(
        p, g, ReadOnlySpan prevIn, ReadOnlySpan sIn, pOut, Span prevOut, Span sOut,
        float32 o.EtaMinus, float32 o.EtaPlus, float32 o.StepSizeMin, float32 o.StepSizeMax, float32 o.Lr, first, o.Maximize)

/// <summary>One in-place Adagrad step of parameter <paramref name="index"/>; see <c>sgdInPlace</c>.</summary>
/// <param name="o">The options (validated here).</param>
/// <param name="state">The optimizer state, from <c>(Reference.adagrad o).Init</c>; written in place.</param>
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
/// <param name="state">The optimizer state, from <c>(Reference.rmsprop o).Init</c>; written in place.</param>
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
/// <param name="state">The optimizer state, from <c>(Reference.adadelta o).Init</c>; written in place.</param>
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
/// <param name="state">The optimizer state, from <c>(Reference.adamax o).Init</c>; written in place.</param>
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
/// <param name="state">The optimizer state, from <c>(Reference.nadam o).Init</c>; written in place.</param>
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
/// <param name="state">The optimizer state, from <c>(Reference.radam o).Init</c>; written in place.</param>
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
/// <param name="state">The optimizer state, from <c>(Reference.asgd o).Init</c>; written in place.</param>
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
/// <param name="state">The optimizer state, from <c>(Reference.rprop o).Init</c>; written in place.</param>
/// <param name="index">The parameter's index in the state.</param>
/// <param name="param">The parameter's buffer; written in place.</param>
/// <param name="grad">Its gradient, of the same length.</param>
/// <exception cref="T:System.ArgumentException">An option is invalid, the index is out of range, or the lengths differ.</exception>
let rpropInPlace (o: RpropOptions, state: State, index: int, param: Span<float32>, grad: ReadOnlySpan<float32>) : unit =
    RpropOptions.validate o |> ignore
    checkParam state index param.Length grad.Length
    rpropParam o state state index (Span.op_Implicit param) grad param
    state.Steps.[index] <- state.Steps.[index] + 1L

/// <summary>Adagrad as one hand-fused kernel; equals <c>Alias.adagrad o</c> and <c>torch.optim.Adagrad</c>.</summary>
/// <param name="o">The options.</param>
/// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
let adagrad (o: AdagradOptions) : Optimizer =
    let o = AdagradOptions.validate o
    pureStep (Alias.adagrad o).Init (Optim.ParamStep(fun src dst i p g pOut -> adagradParam o src dst i p g pOut))

/// <summary>RMSprop as one hand-fused kernel; equals <c>Alias.rmsprop o</c> and <c>torch.optim.RMSprop</c>.</summary>
/// <param name="o">The options.</param>
/// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
let rmsprop (o: RmspropOptions) : Optimizer =
    let o = RmspropOptions.validate o
    pureStep (Alias.rmsprop o).Init (Optim.ParamStep(fun src dst i p g pOut -> rmspropParam o src dst i p g pOut))

/// <summary>Adadelta as one hand-fused kernel; equals <c>Alias.adadelta o</c> and <c>torch.optim.Adadelta</c>.</summary>
/// <param name="o">The options.</param>
/// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
let adadelta (o: AdadeltaOptions) : Optimizer =
    let o = AdadeltaOptions.validate o
    pureStep (Alias.adadelta o).Init (Optim.ParamStep(fun src dst i p g pOut -> adadeltaParam o src dst i p g pOut))

/// <summary>Adamax as one hand-fused kernel; equals <c>Alias.adamax o</c> and <c>torch.optim.Adamax</c>.</summary>
/// <param name="o">The options.</param>
/// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
let adamax (o: AdamaxOptions) : Optimizer =
    let o = AdamaxOptions.validate o
    pureStep (Alias.adamax o).Init (Optim.ParamStep(fun src dst i p g pOut -> adamaxParam o src dst i p g pOut))

/// <summary>NAdam as one hand-fused kernel; equals <c>Alias.nadam o</c> and <c>torch.optim.NAdam</c>.</summary>
/// <param name="o">The options.</param>
/// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
let nadam (o: NadamOptions) : Optimizer =
    let o = NadamOptions.validate o
    pureStep (Alias.nadam o).Init (Optim.ParamStep(fun src dst i p g pOut -> nadamParam o src dst i p g pOut))

/// <summary>RAdam as one hand-fused kernel; equals <c>Alias.radam o</c> and <c>torch.optim.RAdam</c>.</summary>
/// <param name="o">The options.</param>
/// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
let radam (o: RadamOptions) : Optimizer =
    let o = RadamOptions.validate o
    pureStep (Alias.radam o).Init (Optim.ParamStep(fun src dst i p g pOut -> radamParam o src dst i p g pOut))

/// <summary>ASGD as one hand-fused kernel; equals <c>Alias.asgd o</c> and <c>torch.optim.ASGD</c>.</summary>
/// <param name="o">The options.</param>
/// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
let asgd (o: AsgdOptions) : Optimizer =
    let o = AsgdOptions.validate o
    pureStep (Alias.asgd o).Init (Optim.ParamStep(fun src dst i p g pOut -> asgdParam o src dst i p g pOut))

/// <summary>Rprop as one hand-fused kernel; equals <c>Alias.rprop o</c> and <c>torch.optim.Rprop</c>.</summary>
/// <param name="o">The options.</param>
/// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
let rprop (o: RpropOptions) : Optimizer =
    let o = RpropOptions.validate o
    pureStep (Alias.rprop o).Init (Optim.ParamStep(fun src dst i p g pOut -> rpropParam o src dst i p g pOut))

