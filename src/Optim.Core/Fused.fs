namespace Optim

open System

/// A per-parameter fused step: reads parameter `index` from `src`, writes it into `dst`. When `src` and
/// `dst` are the same state and `p`/`pOut` the same memory, the step is in place.
type internal ParamStep =
    delegate of src: State * dst: State * index: int * p: ReadOnlySpan<float32> * g: ReadOnlySpan<float32> * pOut: Span<float32> -> unit

/// <summary>
/// Named optimizers, each one pass over memory per parameter. The elementwise ones (SGD, Adam, AdamW, Adagrad,
/// RMSprop, Adadelta, Adamax, NAdam, RAdam, ASGD, Rprop) are their compiled chains of blocks,
/// <c>Optimizer.ofTransform (Alias.* o)</c>: each optimizer's math is written once, as its blocks. Adafactor's factored
/// second moment, SparseAdam's rows and Muon's orthogonalised matrices are kernels of their own (Muon's calls its blocks'
/// own arithmetic), as a pure <see cref="T:Optim.CoreOptimizer"/> and as a per-parameter in-place step (<c>*InPlace</c>)
/// that allocates nothing once the parameter's buffers exist.
/// The state is the chain's: <c>(Fused.adam o).Init = (Alias.adam o).Init</c>.
/// </summary>
[<RequireQualifiedAccess>]
module Fused =

    /// The input and output arrays of one state buffer of parameter `index`. In place, both are the state's
    /// array (created as zeros on the parameter's first step). Pure, the output is a fresh array stored in
    /// `dst`, and the input is the old array, or that fresh zeroed array on the first step.
    let internal slot (src: State) (dst: State) (name: string) (index: int) (n: int) : struct (float32[] * float32[] * bool) =
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
    let internal checkParam (state: State) (index: int) (paramLength: int) (gradLength: int) =
        if index < 0 || index >= state.Steps.Length then
            raise (ArgumentOutOfRangeException("index", index, $"The state covers {state.Steps.Length} parameters."))
        if gradLength <> paramLength then
            invalidArg "grad" $"Gradient {index} has {gradLength} elements, but its parameter has {paramLength}."

    let internal pureStep (init: Tensor[] -> State) (step: ParamStep) : Optimizer =
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

    /// <summary>SGD as its compiled chain, <c>Optimizer.ofTransform (Alias.sgd o)</c>: one fused pass per parameter; equals <c>torch.optim.SGD</c>.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let sgd (o: SgdOptions) : Optimizer = Optimizer.ofTransform (Alias.sgd o)

    /// <summary>Adam as its compiled chain, <c>Optimizer.ofTransform (Alias.adam o)</c>: one fused pass per parameter; equals <c>torch.optim.Adam</c>.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let adam (o: AdamOptions) : Optimizer = Optimizer.ofTransform (Alias.adam o)

    /// <summary>AdamW as its compiled chain, <c>Optimizer.ofTransform (Alias.adamw o)</c>: one fused pass per parameter; equals <c>torch.optim.AdamW</c>.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let adamw (o: AdamOptions) : Optimizer = Optimizer.ofTransform (Alias.adamw o)

    /// <summary>Adagrad as its compiled chain, <c>Optimizer.ofTransform (Alias.adagrad o)</c>: one fused pass per parameter; equals <c>torch.optim.Adagrad</c>.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let adagrad (o: AdagradOptions) : Optimizer = Optimizer.ofTransform (Alias.adagrad o)

    /// <summary>RMSprop as its compiled chain, <c>Optimizer.ofTransform (Alias.rmsprop o)</c>: one fused pass per parameter; equals <c>torch.optim.RMSprop</c>.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let rmsprop (o: RmspropOptions) : Optimizer = Optimizer.ofTransform (Alias.rmsprop o)

    /// <summary>Adadelta as its compiled chain, <c>Optimizer.ofTransform (Alias.adadelta o)</c>: one fused pass per parameter; equals <c>torch.optim.Adadelta</c>.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let adadelta (o: AdadeltaOptions) : Optimizer = Optimizer.ofTransform (Alias.adadelta o)

    /// <summary>Adamax as its compiled chain, <c>Optimizer.ofTransform (Alias.adamax o)</c>: one fused pass per parameter; equals <c>torch.optim.Adamax</c>.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let adamax (o: AdamaxOptions) : Optimizer = Optimizer.ofTransform (Alias.adamax o)

    /// <summary>NAdam as its compiled chain, <c>Optimizer.ofTransform (Alias.nadam o)</c>: one fused pass per parameter; equals <c>torch.optim.NAdam</c>.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let nadam (o: NadamOptions) : Optimizer = Optimizer.ofTransform (Alias.nadam o)

    /// <summary>RAdam as its compiled chain, <c>Optimizer.ofTransform (Alias.radam o)</c>: one fused pass per parameter; equals <c>torch.optim.RAdam</c>.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let radam (o: RadamOptions) : Optimizer = Optimizer.ofTransform (Alias.radam o)

    /// <summary>ASGD as its compiled chain, <c>Optimizer.ofTransform (Alias.asgd o)</c>: one fused pass per parameter; equals <c>torch.optim.ASGD</c>.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let asgd (o: AsgdOptions) : Optimizer = Optimizer.ofTransform (Alias.asgd o)

    /// <summary>Rprop as its compiled chain, <c>Optimizer.ofTransform (Alias.rprop o)</c>: one fused pass per parameter; equals <c>torch.optim.Rprop</c>.</summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid.</exception>
    let rprop (o: RpropOptions) : Optimizer = Optimizer.ofTransform (Alias.rprop o)

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
                FusedKernels.AdafactorFactored(
                    p, g, ReadOnlySpan rIn, ReadOnlySpan cIn, pOut, Span rOut, Span cOut,
                    batch, rows.Length / batch, cols.Length / batch, w, float32 eps1, eps1Sq, rho, o.Eps2, o.D, decay, o.Maximize)
            else
                let struct (vIn, vOut, _) = slot src dst "variance" index n
                let struct (sumP, sumU) = FusedKernels.AdafactorVectorSums(p, g, ReadOnlySpan vIn, Span vOut, w, eps1Sq, o.Maximize)
                let step = FusedKernels.AdafactorStepSize(sumP, sumU, n, rho, o.Eps2, o.D)
                FusedKernels.AdafactorVectorApply(p, g, ReadOnlySpan vOut, pOut, decay, step, eps1Sq, o.Maximize)

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
            FusedKernels.SparseAdamRow(
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

    /// The rows and columns of parameter `index`, which must be a matrix: from its shape, else the state's record of it.
    let private matrixOf (index: int) (shape: int[]) (length: int) =
        if isNull shape then
            invalidArg "state" $"The state records no shape for parameter {index} (Muon needs it to see the matrix in a flat buffer): make the state with Init."
        if shape.Length <> 2 then invalidArg "parameters" (Blocks.notAMatrix index shape)
        if shape.[0] * shape.[1] <> length then
            invalidArg "parameters" $"Parameter {index} has {length} elements, but the state records its shape as {Tensor.formatShape shape}."
        struct (shape.[0], shape.[1])

    /// One parameter's Muon step, its chain's blocks in one pass each: the momentum (`Ops.lerpMomentum`, the op of
    /// `Blocks.traceByLerp`), the iteration into a per-thread buffer, the scale by the adjusted learning rate, and the
    /// apply stage with the decoupled decay, each the chain's own arithmetic.
    let private muonParam (o: MuonOptions) (src: State) (dst: State) (index: int) (rows: int) (cols: int) (p: ReadOnlySpan<float32>) (g: ReadOnlySpan<float32>) (pOut: Span<float32>) =
        let n = p.Length
        let struct (bIn, bOut, _) = slot src dst "momentum_buffer" index n
        let u = Span<float32>(NewtonSchulz.Scratch n, 0, n)
        Ops.lerpMomentum (ReadOnlySpan bIn) g (Span bOut) u o.Momentum o.Nesterov
        let struct (a, b, c) = o.NsCoefficients
        let input = if o.Nesterov then Span.op_Implicit u else ReadOnlySpan bOut
        NewtonSchulz.Orthogonalize(input, rows, cols, float32 a, float32 b, float32 c, o.NsSteps, float32 o.Eps, u)
        let s = float32 (-(o.Lr * MuonOptions.lrRatio o.AdjustLrFn rows cols))
        for j in 0 .. n - 1 do u.[j] <- s * u.[j]
        let decay = if o.WeightDecay <> 0.0 then float32 (1.0 - o.Lr * o.WeightDecay) else 1.0f
        ApplyStage.Apply(p, Span.op_Implicit u, decay, 1.0f, pOut)

    /// <summary>
    /// One in-place Muon step of parameter <paramref name="index"/>, a matrix whose shape the state recorded when
    /// <c>Init</c> made it; see <c>sgdInPlace</c>. Allocates nothing once its momentum buffer and the calling thread's
    /// working matrices exist.
    /// </summary>
    /// <param name="o">The options (validated here).</param>
    /// <param name="state">The optimizer state, from <c>(Fused.muon o).Init</c>; written in place.</param>
    /// <param name="index">The parameter's index in the state.</param>
    /// <param name="param">The parameter's buffer, row-major; written in place.</param>
    /// <param name="grad">Its gradient, of the same length.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid, the index is out of range, the lengths differ, or
    /// the parameter is not a matrix (or the state records no shape for it); nothing is changed.</exception>
    let muonInPlace (o: MuonOptions, state: State, index: int, param: Span<float32>, grad: ReadOnlySpan<float32>) : unit =
        MuonOptions.validate o |> ignore
        checkParam state index param.Length grad.Length
        let struct (rows, cols) = matrixOf index state.Shapes.[index] param.Length
        muonParam o state state index rows cols (Span.op_Implicit param) grad param
        state.Steps.[index] <- state.Steps.[index] + 1L

    /// <summary>
    /// Muon as fused passes; equals <c>Alias.muon o</c> bit for bit and PyTorch 2.9's <c>torch.optim.Muon</c> (with its
    /// iteration in float32). Per parameter: one pass for the momentum, the Newton–Schulz products on the packed GEMM,
    /// one pass for the scale and one for the update. Every parameter that has a gradient is checked to be a matrix before
    /// any moves. The in-place step reads the shapes the state recorded at <c>Init</c>.
    /// </summary>
    /// <param name="o">The options.</param>
    /// <exception cref="T:System.ArgumentException">An option is invalid; at <c>Init</c> or a step, a parameter is not 2-D.</exception>
    let muon (o: MuonOptions) : Optimizer =
        let o = MuonOptions.validate o
        let checkAll (shapes: int -> int[]) (lengths: int[]) (grads: float32[][]) (state: State) =
            if grads.Length <> lengths.Length then
                invalidArg "grads" $"Expected {lengths.Length} gradients (one per parameter), got {grads.Length}."
            if state.Steps.Length <> lengths.Length then
                invalidArg "state" $"The state covers {state.Steps.Length} parameters, but {lengths.Length} were given."
            Array.init lengths.Length (fun i ->
                let g = grads.[i]
                if isNull g then struct (0, 0)
                else
                    checkParam state i lengths.[i] g.Length
                    matrixOf i (shapes i) lengths.[i])
        { Init = (Alias.muon o).Init
          Step =
            fun ps grads state ->
                let dims = checkAll (fun i -> ps.[i].Shape) (ps |> Array.map (fun p -> p.Data.Length)) grads state
                let dst = { state with Steps = Array.copy state.Steps; Buffers = state.Buffers |> Map.map (fun _ b -> Array.copy b) }
                let out =
                    ps |> Array.mapi (fun i p ->
                        let g = grads.[i]
                        if isNull g then p
                        else
                            let pOut = Array.zeroCreate p.Data.Length
                            let struct (rows, cols) = dims.[i]
                            muonParam o state dst i rows cols (ReadOnlySpan p.Data) (ReadOnlySpan g) (Span pOut)
                            dst.Steps.[i] <- dst.Steps.[i] + 1L
                            { Shape = p.Shape; Data = pOut })
                out, dst
          StepInPlace =
            fun ps grads state ->
                let dims = checkAll (fun i -> state.Shapes.[i]) (ps |> Array.map (fun p -> p.Length)) grads state
                for i in 0 .. ps.Length - 1 do
                    if not (isNull grads.[i]) then
                        let struct (rows, cols) = dims.[i]
                        muonParam o state state i rows cols (ReadOnlySpan ps.[i]) (ReadOnlySpan grads.[i]) (Span ps.[i])
                        state.Steps.[i] <- state.Steps.[i] + 1L
                state }
