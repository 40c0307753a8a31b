namespace Optim

open System
open System.Numerics
open System.Runtime.InteropServices

/// The elementwise blocks' arithmetic: each rule's element expression is one inline function, used by the SIMD loop
/// and by its scalar tail alike, so the two cannot drift apart. Scalars arrive as float32, computed in double by
/// `Prepare`, as PyTorch computes them. The order of every operation is PyTorch's (and the reference kernels'), so
/// that a chain of these ops gives PyTorch 1.13's numbers to the last bit its CPU kernels give.
module internal Ops =

    let inline private vec (s: Span<float32>) = MemoryMarshal.Cast<float32, Vector<float32>> s
    let inline private vro (s: ReadOnlySpan<float32>) = MemoryMarshal.Cast<float32, Vector<float32>> s
    let inline private simd () = Vector.IsHardwareAccelerated
    let inline private lanes () = Vector<float32>.Count
    let inline private sqrtV (x: Vector<float32>) = Vector.SquareRoot x
    let inline private sqrtS (x: float32) = MathF.Sqrt x
    let inline private maxV (a: Vector<float32>) (b: Vector<float32>) = Vector.Max(a, b)
    let inline private maxS (a: float32) (b: float32) = MathF.Max(a, b)

    /// Stores an op's outgoing update of lanes k: into the chunk's updates, or, when the op is the last of a pass, as the
    /// new parameter `p·decay + s·x` (the apply stage's arithmetic, bit for bit: `p·1` and `1·x` are exact).
    let inline private putV (apply: bool) (vu: Span<Vector<float32>>) (vp: ReadOnlySpan<Vector<float32>>) (vpo: Span<Vector<float32>>) (vd: Vector<float32>) (vs: Vector<float32>) (k: int) (x: Vector<float32>) =
        if apply then vpo.[k] <- vp.[k] * vd + vs * x else vu.[k] <- x

    /// `putV` for one element of the scalar tail.
    let inline private putS (apply: bool) (u: Span<float32>) (p: ReadOnlySpan<float32>) (po: Span<float32>) (d: float32) (s: float32) (i: int) (x: float32) =
        if apply then po.[i] <- p.[i] * d + s * x else u.[i] <- x

    /// An op's input of lanes k when it <c>TakesInput</c>: the gradient, negated by an absorbed maximize (`-1·g`, as the
    /// scale by -1 computes it), plus an absorbed coupled weight decay (`x + λ·p`, as addWeightDecay computes it).
    let inline private inV (vsrc: ReadOnlySpan<Vector<float32>>) (vp: ReadOnlySpan<Vector<float32>>) (neg: bool) (hasWd: bool) (vwd: Vector<float32>) (k: int) =
        let x = if neg then Vector<float32>(-1.0f) * vsrc.[k] else vsrc.[k]
        if hasWd then x + vwd * vp.[k] else x

    /// `inV` for one element of the scalar tail.
    let inline private inS (src: ReadOnlySpan<float32>) (p: ReadOnlySpan<float32>) (neg: bool) (hasWd: bool) (wd: float32) (i: int) =
        let x = if neg then -1.0f * src.[i] else src.[i]
        if hasWd then x + wd * p.[i] else x

    /// The momentum schedule of NAdam: μₜ = β₁(1 - ½·0.96^(t·ψ)).
    let nadamMu (beta1: float) (momentumDecay: float) (t: float) = beta1 * (1.0 - 0.5 * (0.96 ** (t * momentumDecay)))

    /// The rectification of RAdam at step t: Some r when the variance is tractable (ρₜ &gt; 5), else None.
    let radamRectification (beta2: float) (t: float) =
        let rhoInf = 2.0 / (1.0 - beta2) - 1.0
        let rhoT = rhoInf - 2.0 * t * (beta2 ** t) / (1.0 - beta2 ** t)
        if rhoT > 5.0 then ValueSome(sqrt ((rhoT - 4.0) * (rhoT - 2.0) * rhoInf / ((rhoInf - 4.0) * (rhoInf - 2.0) * rhoT)))
        else ValueNone

    /// `u = src + c·p` over a chunk (coupled weight decay; a decoupled decay the apply stage does not take).
    let private addScaledParam (chunk: byref<Chunk>) (c: float32) =
        let src = chunk.Src
        let u = chunk.U
        let p = chunk.P
        let apply = chunk.Applies
        let pA = chunk.P
        let poA = chunk.POut
        let dA = chunk.Decay
        let sA = chunk.Scale
        let mutable i = 0
        if simd () then
            let vsrc = vro src
            let vu = vec u
            let vp = vro p
            let vpA = vro pA
            let vpoA = vec poA
            let vdA = Vector<float32> dA
            let vsA = Vector<float32> sA
            let vc = Vector<float32> c
            for k in 0 .. vu.Length - 1 do putV apply vu vpA vpoA vdA vsA k (vsrc.[k] + vc * vp.[k])
            i <- vu.Length * lanes ()
        while i < u.Length do
            putS apply u pA poA dA sA i (src.[i] + c * p.[i])
            i <- i + 1

    /// Coupled weight decay `u + λ·p` (PyTorch's `d_p = d_p.add(p, alpha=λ)`); inactive when λ is 0.
    [<Sealed>]
    type AddWeightDecay(wd: Cell) =
        inherit ElementwiseOp("addWeightDecay", [||], [||], 1)
        override _.Cells = [ wd ]
        override _.IsActive() = wd.Value <> 0.0
        override _.InputRole = InputRole.CoupledDecay
        override _.InputFactor() = float32 wd.Value
        override _.Prepare(prep) =
            prep.Scalars.[0] <- float32 wd.Value
            1.0f
        override _.Run(c) = addScaledParam &c c.Scalars.[0]

    /// Decoupled weight decay: the parameter shrinks by `1 - lr·λ` before the update is added (PyTorch's AdamW
    /// `p.mul_(1 - lr·λ)`), which the apply stage does when nothing but ops on the new parameter follow; elsewhere
    /// in a chain it adds `-lr·λ·p` to the updates.
    [<Sealed>]
    type DecoupledWeightDecay(lr: Cell, wd: Cell) =
        inherit ElementwiseOp("decoupledWeightDecay", [||], [||], 1)
        override _.Cells = [ lr; wd ]
        override _.IsActive() = wd.Value <> 0.0
        override _.Prepare(prep) =
            if prep.DeferDecay then
                prep.Scalars.[0] <- 0.0f
                float32 (1.0 - lr.Value * wd.Value)
            else
                prep.Scalars.[0] <- float32 (-(lr.Value * wd.Value))
                1.0f
        override _.Run(c) =
            let s = c.Scalars.[0]
            if s <> 0.0f then addScaledParam &c s
            elif c.Applies then ApplyStage.Apply(c.P, c.Src, c.Decay, c.Scale, c.POut)
            elif not c.Aliased then c.Src.CopyTo c.U

    let inline private traceStep (b0: ^T) (u: ^T) (mu: ^T) (keep: ^T) (first: bool) (nesterov: bool) =
        let b = if first then u else b0 * mu + keep * u
        struct (b, (if nesterov then u + mu * b else b))

    /// SGD's momentum (`b = u` at first, then `μb + (1-τ)u`; out `b`, or `u + μb` with Nesterov), or, `fromZero`,
    /// RMSprop's (`b = μb + u` from a zero buffer). Inactive when μ is 0: no buffer is created.
    [<Sealed>]
    type Trace(momentum: Cell, dampening: Cell, nesterov: bool, fromZero: bool) =
        inherit ElementwiseOp((if fromZero then "traceFromZeros" else "trace"), [| BufferDecl.Lazy("momentum_buffer", 0.0f) |], [||], 3)
        /// Bit 0: Nesterov; bit 1: from zeros (RMSprop's momentum).
        override _.Flags = (if nesterov then 1 else 0) ||| (if fromZero then 2 else 0)
        override _.TakesInput = true
        override _.Cells = [ momentum; dampening ]
        override _.IsActive() = momentum.Value <> 0.0
        override _.Prepare(prep) =
            prep.Scalars.[0] <- float32 momentum.Value
            prep.Scalars.[1] <- float32 (1.0 - dampening.Value)
            prep.Scalars.[2] <- if prep.First && not fromZero then 1.0f else 0.0f
            1.0f
        override _.Run(c) =
            let u = c.U
            let src = c.Src
            let neg = c.Negate
            let wdIn = c.InDecay
            let hasWd = wdIn <> 0.0f
            let apply = c.Applies
            let pA = c.P
            let poA = c.POut
            let dA = c.Decay
            let sA = c.Scale
            let b0 = c.In 0
            let bo = c.Out 0
            let mu = c.Scalars.[0]
            let keep = c.Scalars.[1]
            let first = c.Scalars.[2] = 1.0f
            let mutable i = 0
            if simd () then
                let vu = vec u
                let vsrc = vro src
                let vwdIn = Vector<float32> wdIn
                let vpA = vro pA
                let vpoA = vec poA
                let vdA = Vector<float32> dA
                let vsA = Vector<float32> sA
                let vb = vro b0
                let vbo = vec bo
                let vmu = Vector<float32> mu
                let vkeep = Vector<float32> keep
                for k in 0 .. vu.Length - 1 do
                    let struct (b, o) = traceStep vb.[k] (inV vsrc vpA neg hasWd vwdIn k) vmu vkeep first nesterov
                    vbo.[k] <- b
                    putV apply vu vpA vpoA vdA vsA k (o)
                i <- vu.Length * lanes ()
            while i < u.Length do
                let struct (b, o) = traceStep b0.[i] (inS src pA neg hasWd wdIn i) mu keep first nesterov
                bo.[i] <- b
                putS apply u pA poA dA sA i (o)
                i <- i + 1

    /// `torch.lerp(s, e, w)` on float32 as PyTorch's CPU kernel computes it (see `Blocks.lerp`): `s + w·(e - s)` for
    /// |w| &lt; 0.5, else `e - (e - s)·(1 - w)`, each one fused multiply-add; `small` is |w| &lt; 0.5, `omw` is `1 - w`.
    let inline private lerpV (small: bool) (w: Vector<float32>) (omw: Vector<float32>) (s: Vector<float32>) (e: Vector<float32>) =
        if small then Vector.FusedMultiplyAdd(w, e - s, s) else Vector.FusedMultiplyAdd(s - e, omw, e)

    /// `lerpV` for one element of the scalar tail.
    let inline private lerpS (small: bool) (w: float32) (omw: float32) (s: float32) (e: float32) =
        if small then MathF.FusedMultiplyAdd(w, e - s, s) else MathF.FusedMultiplyAdd(s - e, omw, e)

    /// The weights of Muon's momentum for μ: the buffer's `1 - μ` and Nesterov's `μ`, as float32, each with its `1 - w`.
    let muonWeights (momentum: float) =
        let w, m = float32 (1.0 - momentum), float32 momentum
        struct (w, 1.0f - w, m, 1.0f - m)

    /// Muon's momentum over spans (torch.optim.Muon, 2.9): `b = lerp(b, g, 1 - μ)`, and the update `lerp(g, b, μ)` with
    /// Nesterov, else `b`; `bOut` may be `b0`, `uOut` may be `g`. The elementwise op `LerpTrace` runs the same
    /// expressions; the fused Muon step calls this.
    let lerpMomentum (b0: ReadOnlySpan<float32>) (g: ReadOnlySpan<float32>) (bOut: Span<float32>) (uOut: Span<float32>) (momentum: float) (nesterov: bool) =
        let struct (w, omw, m, omm) = muonWeights momentum
        let smallW, smallM = MathF.Abs w < 0.5f, MathF.Abs m < 0.5f
        let mutable i = 0
        if simd () then
            let vb = vro b0
            let vg = vro g
            let vbo = vec bOut
            let vuo = vec uOut
            let vw, vomw, vm, vomm = Vector<float32> w, Vector<float32> omw, Vector<float32> m, Vector<float32> omm
            for k in 0 .. vb.Length - 1 do
                let x = vg.[k]
                let b = lerpV smallW vw vomw vb.[k] x
                vbo.[k] <- b
                if nesterov then vuo.[k] <- lerpV smallM vm vomm x b
            i <- vb.Length * lanes ()
        while i < b0.Length do
            let x = g.[i]
            let b = lerpS smallW w omw b0.[i] x
            bOut.[i] <- b
            if nesterov then uOut.[i] <- lerpS smallM m omm x b
            i <- i + 1

    /// Muon's momentum as an elementwise block (see `lerpMomentum`): the buffer starts at zeros, as PyTorch's
    /// `torch.zeros_like` at a parameter's first gradient; it is kept whatever μ (μ = 0 keeps the last gradient).
    [<Sealed>]
    type LerpTrace(momentum: Cell, nesterov: bool) =
        inherit ElementwiseOp("traceByLerp", [| BufferDecl.Lazy("momentum_buffer", 0.0f) |], [||], 4)
        /// Bit 0: Nesterov.
        override _.Flags = if nesterov then 1 else 0
        override _.Cells = [ momentum ]
        override _.Prepare(prep) =
            let struct (w, omw, m, omm) = muonWeights momentum.Value
            prep.Scalars.[0] <- w
            prep.Scalars.[1] <- omw
            prep.Scalars.[2] <- m
            prep.Scalars.[3] <- omm
            1.0f
        override _.Run(c) =
            let u = c.U
            let src = c.Src
            let apply = c.Applies
            let pA = c.P
            let poA = c.POut
            let dA = c.Decay
            let sA = c.Scale
            let b0 = c.In 0
            let bo = c.Out 0
            let w, omw, m, omm = c.Scalars.[0], c.Scalars.[1], c.Scalars.[2], c.Scalars.[3]
            let smallW, smallM = MathF.Abs w < 0.5f, MathF.Abs m < 0.5f
            let mutable i = 0
            if simd () then
                let vu = vec u
                let vsrc = vro src
                let vpA = vro pA
                let vpoA = vec poA
                let vdA = Vector<float32> dA
                let vsA = Vector<float32> sA
                let vb = vro b0
                let vbo = vec bo
                let vw, vomw, vm, vomm = Vector<float32> w, Vector<float32> omw, Vector<float32> m, Vector<float32> omm
                for k in 0 .. vu.Length - 1 do
                    let x = vsrc.[k]
                    let b = lerpV smallW vw vomw vb.[k] x
                    vbo.[k] <- b
                    putV apply vu vpA vpoA vdA vsA k (if nesterov then lerpV smallM vm vomm x b else b)
                i <- vu.Length * lanes ()
            while i < u.Length do
                let x = src.[i]
                let b = lerpS smallW w omw b0.[i] x
                bo.[i] <- b
                putS apply u pA poA dA sA i (if nesterov then lerpS smallM m omm x b else b)
                i <- i + 1

    let inline private moments (m0: ^T) (v0: ^T) (d: ^T) (b1: ^T) (omb1: ^T) (b2: ^T) (omb2: ^T) =
        struct (m0 * b1 + omb1 * d, v0 * b2 + omb2 * d * d)

    /// Adam's moments and bias correction, AMSGrad optional: `u' = (c·m) / (√v̂ / √(1-β₂ᵗ) + ε)` with `c` the folded
    /// scale over `1-β₁ᵗ` (PyTorch's `-(lr / bc1)`).
    [<Sealed>]
    type Adam(beta1: Cell, beta2: Cell, eps: Cell, amsgrad: bool) =
        inherit ElementwiseOp(
            "scaleByAdam",
            [| yield BufferDecl.Lazy("exp_avg", 0.0f); yield BufferDecl.Lazy("exp_avg_sq", 0.0f)
               if amsgrad then yield BufferDecl.Lazy("max_exp_avg_sq", 0.0f) |], [||], 7)
        /// Bit 0: AMSGrad.
        override _.Flags = if amsgrad then 1 else 0
        override _.TakesInput = true
        override _.Cells = [ beta1; beta2; eps ]
        override _.Folds = true
        override _.Prepare(prep) =
            let t = float (prep.Step + 1L)
            let s = prep.Scalars
            s.[0] <- float32 beta1.Value
            s.[1] <- float32 (1.0 - beta1.Value)
            s.[2] <- float32 beta2.Value
            s.[3] <- float32 (1.0 - beta2.Value)
            s.[4] <- float32 (sqrt (1.0 - Math.Pow(beta2.Value, t)))
            s.[5] <- float32 eps.Value
            s.[6] <- float32 (prep.Scale / (1.0 - Math.Pow(beta1.Value, t)))
            1.0f
        override _.Run(c) =
            let u = c.U
            let src = c.Src
            let neg = c.Negate
            let wdIn = c.InDecay
            let hasWd = wdIn <> 0.0f
            let apply = c.Applies
            let pA = c.P
            let poA = c.POut
            let dA = c.Decay
            let sA = c.Scale
            let m0 = c.In 0
            let v0 = c.In 1
            let mo = c.Out 0
            let vo = c.Out 1
            let s = c.Scalars
            let b1 = s.[0]
            let omb1 = s.[1]
            let b2 = s.[2]
            let omb2 = s.[3]
            let bc2 = s.[4]
            let e = s.[5]
            let step = s.[6]
            let x0 = (if amsgrad then c.In 2 else ReadOnlySpan.Empty)
            let xo = (if amsgrad then c.Out 2 else Span.Empty)
            let mutable i = 0
            if simd () then
                let vu = vec u
                let vsrc = vro src
                let vwdIn = Vector<float32> wdIn
                let vpA = vro pA
                let vpoA = vec poA
                let vdA = Vector<float32> dA
                let vsA = Vector<float32> sA
                let vm = vro m0
                let vv = vro v0
                let vmo = vec mo
                let vvo = vec vo
                let vx = vro x0
                let vxo = vec xo
                let vb1 = Vector<float32> b1
                let vomb1 = Vector<float32> omb1
                let vb2 = Vector<float32> b2
                let vomb2 = Vector<float32> omb2
                let vbc2 = Vector<float32> bc2
                let ve = Vector<float32> e
                let vstep = Vector<float32> step
                for k in 0 .. vu.Length - 1 do
                    let struct (m, v) = moments vm.[k] vv.[k] (inV vsrc vpA neg hasWd vwdIn k) vb1 vomb1 vb2 vomb2
                    vmo.[k] <- m
                    vvo.[k] <- v
                    let h = if amsgrad then (let h = maxV vx.[k] v in vxo.[k] <- h; h) else v
                    putV apply vu vpA vpoA vdA vsA k ((vstep * m) / (sqrtV h / vbc2 + ve))
                i <- vu.Length * lanes ()
            while i < u.Length do
                let struct (m, v) = moments m0.[i] v0.[i] (inS src pA neg hasWd wdIn i) b1 omb1 b2 omb2
                mo.[i] <- m
                vo.[i] <- v
                let h = if amsgrad then (let h = maxS x0.[i] v in xo.[i] <- h; h) else v
                putS apply u pA poA dA sA i ((step * m) / (sqrtS h / bc2 + e))
                i <- i + 1

    /// Adagrad's sum of squares: `s = s + u²`, `u' = (c·u) / (√s + ε)`, `c` the folded scale (PyTorch's `-clr`).
    [<Sealed>]
    type Rss(initial: Cell, eps: Cell) =
        inherit ElementwiseOp("scaleByRss", [| { Name = "sum"; Initial = 0.0f; AtInit = true; InitialCell = initial } |], [||], 2)
        override _.TakesInput = true
        override _.Cells = [ initial; eps ]
        override _.Folds = true
        override _.Prepare(prep) =
            prep.Scalars.[0] <- float32 eps.Value
            prep.Scalars.[1] <- float32 prep.Scale
            1.0f
        override _.Run(c) =
            let u = c.U
            let src = c.Src
            let neg = c.Negate
            let wdIn = c.InDecay
            let hasWd = wdIn <> 0.0f
            let apply = c.Applies
            let pA = c.P
            let poA = c.POut
            let dA = c.Decay
            let sA = c.Scale
            let s0 = c.In 0
            let so = c.Out 0
            let e = c.Scalars.[0]
            let sc = c.Scalars.[1]
            let mutable i = 0
            if simd () then
                let vu = vec u
                let vsrc = vro src
                let vwdIn = Vector<float32> wdIn
                let vpA = vro pA
                let vpoA = vec poA
                let vdA = Vector<float32> dA
                let vsA = Vector<float32> sA
                let vs = vro s0
                let vso = vec so
                let ve = Vector<float32> e
                let vc = Vector<float32> sc
                for k in 0 .. vu.Length - 1 do
                    let d = (inV vsrc vpA neg hasWd vwdIn k)
                    let s = vs.[k] + d * d
                    vso.[k] <- s
                    putV apply vu vpA vpoA vdA vsA k ((vc * d) / (sqrtV s + ve))
                i <- vu.Length * lanes ()
            while i < u.Length do
                let d = (inS src pA neg hasWd wdIn i)
                let s = s0.[i] + d * d
                so.[i] <- s
                putS apply u pA poA dA sA i ((sc * d) / (sqrtS s + e))
                i <- i + 1

    /// RMSprop's running mean square (centered: minus the squared running mean): `u' = (c·u) / (√v + ε)`.
    [<Sealed>]
    type Rms(alpha: Cell, eps: Cell, centered: bool) =
        inherit ElementwiseOp(
            "scaleByRms",
            [| yield BufferDecl.Lazy("square_avg", 0.0f)
               if centered then yield BufferDecl.Lazy("grad_avg", 0.0f) |], [||], 4)
        /// Bit 0: centered.
        override _.Flags = if centered then 1 else 0
        override _.TakesInput = true
        override _.Cells = [ alpha; eps ]
        override _.Folds = true
        override _.Prepare(prep) =
            prep.Scalars.[0] <- float32 alpha.Value
            prep.Scalars.[1] <- float32 (1.0 - alpha.Value)
            prep.Scalars.[2] <- float32 eps.Value
            prep.Scalars.[3] <- float32 prep.Scale
            1.0f
        override _.Run(c) =
            let u = c.U
            let src = c.Src
            let neg = c.Negate
            let wdIn = c.InDecay
            let hasWd = wdIn <> 0.0f
            let apply = c.Applies
            let pA = c.P
            let poA = c.POut
            let dA = c.Decay
            let sA = c.Scale
            let v0 = c.In 0
            let vo = c.Out 0
            let g0 = (if centered then c.In 1 else ReadOnlySpan.Empty)
            let go = (if centered then c.Out 1 else Span.Empty)
            let a = c.Scalars.[0]
            let oma = c.Scalars.[1]
            let e = c.Scalars.[2]
            let sc = c.Scalars.[3]
            let mutable i = 0
            if simd () then
                let vu = vec u
                let vsrc = vro src
                let vwdIn = Vector<float32> wdIn
                let vpA = vro pA
                let vpoA = vec poA
                let vdA = Vector<float32> dA
                let vsA = Vector<float32> sA
                let vv = vro v0
                let vvo = vec vo
                let vg = vro g0
                let vgo = vec go
                let va = Vector<float32> a
                let voma = Vector<float32> oma
                let ve = Vector<float32> e
                let vc = Vector<float32> sc
                for k in 0 .. vu.Length - 1 do
                    let d = (inV vsrc vpA neg hasWd vwdIn k)
                    let v = vv.[k] * va + voma * d * d
                    vvo.[k] <- v
                    let den =
                        if centered then
                            let m = vg.[k] * va + voma * d
                            vgo.[k] <- m
                            sqrtV (v - m * m) + ve
                        else sqrtV v + ve
                    putV apply vu vpA vpoA vdA vsA k ((vc * d) / den)
                i <- vu.Length * lanes ()
            while i < u.Length do
                let d = (inS src pA neg hasWd wdIn i)
                let v = v0.[i] * a + oma * d * d
                vo.[i] <- v
                let den =
                    if centered then
                        let m = g0.[i] * a + oma * d
                        go.[i] <- m
                        sqrtS (v - m * m) + e
                    else sqrtS v + e
                putS apply u pA poA dA sA i ((sc * d) / den)
                i <- i + 1

    /// Adadelta: `v = ρv + (1-ρ)u²`, `u' = √(a + ε)/√(v + ε)·u`, `a = ρa + (1-ρ)u'²`.
    [<Sealed>]
    type Adadelta(rho: Cell, eps: Cell) =
        inherit ElementwiseOp("scaleByAdadelta", [| BufferDecl.Lazy("square_avg", 0.0f); BufferDecl.Lazy("acc_delta", 0.0f) |], [||], 3)
        override _.TakesInput = true
        override _.Cells = [ rho; eps ]
        override _.Prepare(prep) =
            prep.Scalars.[0] <- float32 rho.Value
            prep.Scalars.[1] <- float32 (1.0 - rho.Value)
            prep.Scalars.[2] <- float32 eps.Value
            1.0f
        override _.Run(c) =
            let u = c.U
            let src = c.Src
            let neg = c.Negate
            let wdIn = c.InDecay
            let hasWd = wdIn <> 0.0f
            let apply = c.Applies
            let pA = c.P
            let poA = c.POut
            let dA = c.Decay
            let sA = c.Scale
            let v0 = c.In 0
            let a0 = c.In 1
            let vo = c.Out 0
            let ao = c.Out 1
            let r = c.Scalars.[0]
            let omr = c.Scalars.[1]
            let e = c.Scalars.[2]
            let mutable i = 0
            if simd () then
                let vu = vec u
                let vsrc = vro src
                let vwdIn = Vector<float32> wdIn
                let vpA = vro pA
                let vpoA = vec poA
                let vdA = Vector<float32> dA
                let vsA = Vector<float32> sA
                let vv = vro v0
                let va = vro a0
                let vvo = vec vo
                let vao = vec ao
                let vr = Vector<float32> r
                let vomr = Vector<float32> omr
                let ve = Vector<float32> e
                for k in 0 .. vu.Length - 1 do
                    let d = (inV vsrc vpA neg hasWd vwdIn k)
                    let v = vv.[k] * vr + vomr * d * d
                    vvo.[k] <- v
                    let a = va.[k]
                    let delta = sqrtV (a + ve) / sqrtV (v + ve) * d
                    vao.[k] <- a * vr + vomr * delta * delta
                    putV apply vu vpA vpoA vdA vsA k (delta)
                i <- vu.Length * lanes ()
            while i < u.Length do
                let d = (inS src pA neg hasWd wdIn i)
                let v = v0.[i] * r + omr * d * d
                vo.[i] <- v
                let a = a0.[i]
                let delta = sqrtS (a + e) / sqrtS (v + e) * d
                ao.[i] <- a * r + omr * delta * delta
                putS apply u pA poA dA sA i (delta)
                i <- i + 1

    /// Adamax: `m = β₁m + (1-β₁)u`, `w = max(β₂w, |u| + ε)`, `u' = (c·m) / w`, `c` the folded scale over `1-β₁ᵗ`.
    [<Sealed>]
    type Adamax(beta1: Cell, beta2: Cell, eps: Cell) =
        inherit ElementwiseOp("scaleByAdamax", [| BufferDecl.Lazy("exp_avg", 0.0f); BufferDecl.Lazy("exp_inf", 0.0f) |], [||], 5)
        override _.TakesInput = true
        override _.Cells = [ beta1; beta2; eps ]
        override _.Folds = true
        override _.Prepare(prep) =
            let t = float (prep.Step + 1L)
            prep.Scalars.[0] <- float32 beta1.Value
            prep.Scalars.[1] <- float32 (1.0 - beta1.Value)
            prep.Scalars.[2] <- float32 beta2.Value
            prep.Scalars.[3] <- float32 eps.Value
            prep.Scalars.[4] <- float32 (prep.Scale / (1.0 - Math.Pow(beta1.Value, t)))
            1.0f
        override _.Run(c) =
            let u = c.U
            let src = c.Src
            let neg = c.Negate
            let wdIn = c.InDecay
            let hasWd = wdIn <> 0.0f
            let apply = c.Applies
            let pA = c.P
            let poA = c.POut
            let dA = c.Decay
            let sA = c.Scale
            let m0 = c.In 0
            let w0 = c.In 1
            let mo = c.Out 0
            let wo = c.Out 1
            let b1 = c.Scalars.[0]
            let omb1 = c.Scalars.[1]
            let b2 = c.Scalars.[2]
            let e = c.Scalars.[3]
            let sc = c.Scalars.[4]
            let mutable i = 0
            if simd () then
                let vu = vec u
                let vsrc = vro src
                let vwdIn = Vector<float32> wdIn
                let vpA = vro pA
                let vpoA = vec poA
                let vdA = Vector<float32> dA
                let vsA = Vector<float32> sA
                let vm = vro m0
                let vw = vro w0
                let vmo = vec mo
                let vwo = vec wo
                let vb1 = Vector<float32> b1
                let vomb1 = Vector<float32> omb1
                let vb2 = Vector<float32> b2
                let ve = Vector<float32> e
                let vc = Vector<float32> sc
                for k in 0 .. vu.Length - 1 do
                    let d = (inV vsrc vpA neg hasWd vwdIn k)
                    let m = vm.[k] * vb1 + vomb1 * d
                    let w = maxV (vw.[k] * vb2) (Vector.Abs d + ve)
                    vmo.[k] <- m
                    vwo.[k] <- w
                    putV apply vu vpA vpoA vdA vsA k ((vc * m) / w)
                i <- vu.Length * lanes ()
            while i < u.Length do
                let d = (inS src pA neg hasWd wdIn i)
                let m = m0.[i] * b1 + omb1 * d
                let w = maxS (w0.[i] * b2) (MathF.Abs d + e)
                mo.[i] <- m
                wo.[i] <- w
                putS apply u pA poA dA sA i ((sc * m) / w)
                i <- i + 1

    /// NAdam: Adam's moments, `u' = (c₁·u + c₂·m) / (√(v / (1-β₂ᵗ)) + ε)` with the momentum schedule in `c₁`, `c₂`
    /// (and the folded scale), and the product of the μ kept in float32 in `"mu_product"`, as PyTorch keeps it.
    [<Sealed>]
    type Nadam(beta1: Cell, beta2: Cell, eps: Cell, momentumDecay: Cell) =
        inherit ElementwiseOp(
            "scaleByNadam", [| BufferDecl.Lazy("exp_avg", 0.0f); BufferDecl.Lazy("exp_avg_sq", 0.0f) |],
            [| BufferDecl.Lazy("mu_product", 1.0f) |], 8)
        override _.TakesInput = true
        override _.Cells = [ beta1; beta2; eps; momentumDecay ]
        override _.Folds = true
        override _.Prepare(prep) =
            let t = float (prep.Step + 1L)
            let mu = nadamMu beta1.Value momentumDecay.Value t
            let muNext = nadamMu beta1.Value momentumDecay.Value (t + 1.0)
            let product = prep.ScalarIn.[0] * float32 mu
            let productNext = product * float32 mu * float32 muNext
            prep.ScalarOut.[0] <- product
            let s = prep.Scalars
            s.[0] <- float32 beta1.Value
            s.[1] <- float32 (1.0 - beta1.Value)
            s.[2] <- float32 beta2.Value
            s.[3] <- float32 (1.0 - beta2.Value)
            s.[4] <- float32 (1.0 / (1.0 - Math.Pow(beta2.Value, t)))
            s.[5] <- float32 eps.Value
            s.[6] <- float32 (prep.Scale * (1.0 - mu) / (1.0 - float product))
            s.[7] <- float32 (prep.Scale * muNext / (1.0 - float productNext))
            1.0f
        override _.Run(c) =
            let u = c.U
            let src = c.Src
            let neg = c.Negate
            let wdIn = c.InDecay
            let hasWd = wdIn <> 0.0f
            let apply = c.Applies
            let pA = c.P
            let poA = c.POut
            let dA = c.Decay
            let sA = c.Scale
            let m0 = c.In 0
            let v0 = c.In 1
            let mo = c.Out 0
            let vo = c.Out 1
            let s = c.Scalars
            let b1 = s.[0]
            let omb1 = s.[1]
            let b2 = s.[2]
            let omb2 = s.[3]
            let ib2 = s.[4]
            let e = s.[5]
            let c1 = s.[6]
            let c2 = s.[7]
            let mutable i = 0
            if simd () then
                let vu = vec u
                let vsrc = vro src
                let vwdIn = Vector<float32> wdIn
                let vpA = vro pA
                let vpoA = vec poA
                let vdA = Vector<float32> dA
                let vsA = Vector<float32> sA
                let vm = vro m0
                let vv = vro v0
                let vmo = vec mo
                let vvo = vec vo
                let vb1 = Vector<float32> b1
                let vomb1 = Vector<float32> omb1
                let vb2 = Vector<float32> b2
                let vomb2 = Vector<float32> omb2
                let vib2 = Vector<float32> ib2
                let ve = Vector<float32> e
                let vc1 = Vector<float32> c1
                let vc2 = Vector<float32> c2
                for k in 0 .. vu.Length - 1 do
                    let d = (inV vsrc vpA neg hasWd vwdIn k)
                    let struct (m, v) = moments vm.[k] vv.[k] d vb1 vomb1 vb2 vomb2
                    vmo.[k] <- m
                    vvo.[k] <- v
                    putV apply vu vpA vpoA vdA vsA k ((vc1 * d + vc2 * m) / (sqrtV (v * vib2) + ve))
                i <- vu.Length * lanes ()
            while i < u.Length do
                let d = (inS src pA neg hasWd wdIn i)
                let struct (m, v) = moments m0.[i] v0.[i] d b1 omb1 b2 omb2
                mo.[i] <- m
                vo.[i] <- v
                putS apply u pA poA dA sA i ((c1 * d + c2 * m) / (sqrtS (v * ib2) + e))
                i <- i + 1

    /// RAdam: Adam's moments; rectified, `u' = (c·m) / (√v + ε)`, else `u' = c·m`, with the rectification and the
    /// folded scale in `c`.
    [<Sealed>]
    type Radam(beta1: Cell, beta2: Cell, eps: Cell) =
        inherit ElementwiseOp("scaleByRadam", [| BufferDecl.Lazy("exp_avg", 0.0f); BufferDecl.Lazy("exp_avg_sq", 0.0f) |], [||], 7)
        override _.TakesInput = true
        override _.Cells = [ beta1; beta2; eps ]
        override _.Folds = true
        override _.Prepare(prep) =
            let t = float (prep.Step + 1L)
            let bc1 = 1.0 - Math.Pow(beta1.Value, t)
            let rect = radamRectification beta2.Value t
            let s = prep.Scalars
            s.[0] <- float32 beta1.Value
            s.[1] <- float32 (1.0 - beta1.Value)
            s.[2] <- float32 beta2.Value
            s.[3] <- float32 (1.0 - beta2.Value)
            s.[4] <- float32 eps.Value
            s.[5] <-
                match rect with
                | ValueSome r -> float32 (prep.Scale * sqrt (1.0 - Math.Pow(beta2.Value, t)) * r / bc1)
                | ValueNone -> float32 (prep.Scale / bc1)
            s.[6] <- if rect.IsSome then 1.0f else 0.0f
            1.0f
        override _.Run(c) =
            let u = c.U
            let src = c.Src
            let neg = c.Negate
            let wdIn = c.InDecay
            let hasWd = wdIn <> 0.0f
            let apply = c.Applies
            let pA = c.P
            let poA = c.POut
            let dA = c.Decay
            let sA = c.Scale
            let m0 = c.In 0
            let v0 = c.In 1
            let mo = c.Out 0
            let vo = c.Out 1
            let s = c.Scalars
            let b1 = s.[0]
            let omb1 = s.[1]
            let b2 = s.[2]
            let omb2 = s.[3]
            let e = s.[4]
            let step = s.[5]
            let rectified = s.[6] = 1.0f
            let mutable i = 0
            if simd () then
                let vu = vec u
                let vsrc = vro src
                let vwdIn = Vector<float32> wdIn
                let vpA = vro pA
                let vpoA = vec poA
                let vdA = Vector<float32> dA
                let vsA = Vector<float32> sA
                let vm = vro m0
                let vv = vro v0
                let vmo = vec mo
                let vvo = vec vo
                let vb1 = Vector<float32> b1
                let vomb1 = Vector<float32> omb1
                let vb2 = Vector<float32> b2
                let vomb2 = Vector<float32> omb2
                let ve = Vector<float32> e
                let vstep = Vector<float32> step
                for k in 0 .. vu.Length - 1 do
                    let struct (m, v) = moments vm.[k] vv.[k] (inV vsrc vpA neg hasWd vwdIn k) vb1 vomb1 vb2 vomb2
                    vmo.[k] <- m
                    vvo.[k] <- v
                    putV apply vu vpA vpoA vdA vsA k (if rectified then (vstep * m) / (sqrtV v + ve) else vstep * m)
                i <- vu.Length * lanes ()
            while i < u.Length do
                let struct (m, v) = moments m0.[i] v0.[i] (inS src pA neg hasWd wdIn i) b1 omb1 b2 omb2
                mo.[i] <- m
                vo.[i] <- v
                putS apply u pA poA dA sA i (if rectified then (step * m) / (sqrtS v + e) else step * m)
                i <- i + 1

    /// ASGD's decaying rate: `u' = -η·u`, with the parameter shrinking by `1 - λη` (PyTorch's
    /// `p.mul_(1 - λ·η)`), deferred to the apply stage where it can be; `η` starts at `lr` and after step `t` becomes
    /// `lr / (1 + λ·lr·t)^α`, kept in float32 in `"eta"`.
    [<Sealed>]
    type AsgdRate(lr: Cell, lambd: Cell, alpha: Cell) =
        inherit ElementwiseOp("scaleByAsgdLearningRate", [||], [| { Name = "eta"; Initial = 0.0f; AtInit = false; InitialCell = lr } |], 2)
        override _.TakesInput = true
        override _.Cells = [ lr; lambd; alpha ]
        override _.Prepare(prep) =
            let eta = prep.ScalarIn.[0]
            let t = float (prep.Step + 1L)
            prep.ScalarOut.[0] <- float32 (lr.Value / Math.Pow(1.0 + lambd.Value * lr.Value * t, alpha.Value))
            prep.Scalars.[0] <- -eta
            if prep.DeferDecay then
                prep.Scalars.[1] <- 0.0f
                float32 (1.0 - lambd.Value * float eta)
            else
                prep.Scalars.[1] <- float32 (-(lambd.Value * float eta))
                1.0f
        override _.Run(c) =
            let u = c.U
            let src = c.Src
            let neg = c.Negate
            let wdIn = c.InDecay
            let hasWd = wdIn <> 0.0f
            let apply = c.Applies
            let pA = c.P
            let poA = c.POut
            let dA = c.Decay
            let sA = c.Scale
            let s = c.Scalars.[0]
            let decay = c.Scalars.[1]
            let mutable i = 0
            if simd () then
                let vu = vec u
                let vsrc = vro src
                let vwdIn = Vector<float32> wdIn
                let vpA = vro pA
                let vpoA = vec poA
                let vdA = Vector<float32> dA
                let vsA = Vector<float32> sA
                let vs = Vector<float32> s
                for k in 0 .. vu.Length - 1 do putV apply vu vpA vpoA vdA vsA k (vs * (inV vsrc vpA neg hasWd vwdIn k))
                i <- vu.Length * lanes ()
            while i < u.Length do
                putS apply u pA poA dA sA i (s * (inS src pA neg hasWd wdIn i))
                i <- i + 1
            if decay <> 0.0f then
                // a decay that is not deferred comes before other ops, so this op is not the last of its pass
                let mutable again = Chunk(Span.op_Implicit u, u, true, c.P, c.Scalars, Span.Empty, 1.0f, 1.0f, null, null, 0, 0)
                addScaledParam &again decay

    /// Polyak–Ruppert averaging of the new parameters, as ASGD keeps it: `x̄ = p'` while `μ = 1`, then
    /// `x̄ + (p' - x̄)·μ`, with `μ = 1 / max(1, t - t₀)` after step `t` (`"mu"`).
    [<Sealed>]
    type AverageIterates(t0: Cell) =
        inherit ElementwiseOp("averageIterates", [| BufferDecl.Lazy("ax", 0.0f) |], [| BufferDecl.Lazy("mu", 1.0f) |], 2)
        override _.Cells = [ t0 ]
        override _.ReadsNewParameter = true
        override _.Prepare(prep) =
            let mu = prep.ScalarIn.[0]
            prep.ScalarOut.[0] <- float32 (1.0 / Math.Max(1.0, float (prep.Step + 1L) - t0.Value))
            prep.Scalars.[0] <- mu
            prep.Scalars.[1] <- if mu = 1.0f then 1.0f else 0.0f
            1.0f
        override _.Run(c) =
            let p = c.P
            let a0 = c.In 0
            let ao = c.Out 0
            let mu = c.Scalars.[0]
            let one = c.Scalars.[1] = 1.0f
            if one then p.CopyTo ao
            else
                let mutable i = 0
                if simd () then
                    let vp = vro p
                    let va = vro a0
                    let vao = vec ao
                    let vmu = Vector<float32> mu
                    for k in 0 .. vp.Length - 1 do
                        let a = va.[k]
                        vao.[k] <- a + (vp.[k] - a) * vmu
                    i <- vp.Length * lanes ()
                while i < p.Length do
                    let a = a0.[i]
                    ao.[i] <- a + (p.[i] - a) * mu
                    i <- i + 1

    /// Rprop's step sizes: grown by η₊ while the sign holds, shrunk by η₋ when it flips (that element then does not
    /// move and forgets its gradient), clamped to [s_min, s_max]; `u' = sign(u)·s`.
    [<Sealed>]
    type Rprop(lr: Cell, etaMinus: Cell, etaPlus: Cell, stepSizeMin: Cell, stepSizeMax: Cell) =
        inherit ElementwiseOp(
            "scaleByRprop",
            [| BufferDecl.Lazy("prev", 0.0f); { Name = "step_size"; Initial = 0.0f; AtInit = false; InitialCell = lr } |], [||], 4)
        override _.TakesInput = true
        override _.Cells = [ lr; etaMinus; etaPlus; stepSizeMin; stepSizeMax ]
        override _.Prepare(prep) =
            prep.Scalars.[0] <- float32 etaMinus.Value
            prep.Scalars.[1] <- float32 etaPlus.Value
            prep.Scalars.[2] <- float32 stepSizeMin.Value
            prep.Scalars.[3] <- float32 stepSizeMax.Value
            1.0f
        override _.Run(c) =
            let u = c.U
            let src = c.Src
            let neg = c.Negate
            let wdIn = c.InDecay
            let hasWd = wdIn <> 0.0f
            let apply = c.Applies
            let pA = c.P
            let poA = c.POut
            let dA = c.Decay
            let sA = c.Scale
            let prev0 = c.In 0
            let s0 = c.In 1
            let prevo = c.Out 0
            let so = c.Out 1
            let em = c.Scalars.[0]
            let ep = c.Scalars.[1]
            let lo = c.Scalars.[2]
            let hi = c.Scalars.[3]
            let mutable i = 0
            if simd () then
                let vu = vec u
                let vsrc = vro src
                let vwdIn = Vector<float32> wdIn
                let vpA = vro pA
                let vpoA = vec poA
                let vdA = Vector<float32> dA
                let vsA = Vector<float32> sA
                let vprev = vro prev0
                let vs = vro s0
                let vprevo = vec prevo
                let vso = vec so
                let vem = Vector<float32> em
                let vep = Vector<float32> ep
                let vlo = Vector<float32> lo
                let vhi = Vector<float32> hi
                for k in 0 .. vu.Length - 1 do
                    let d = (inV vsrc vpA neg hasWd vwdIn k)
                    let q = d * vprev.[k]
                    let up = Vector.GreaterThan(q, Vector<float32>.Zero)
                    let down = Vector.LessThan(q, Vector<float32>.Zero)
                    let factor = Vector.ConditionalSelect(up, vep, Vector.ConditionalSelect(down, vem, Vector<float32>.One))
                    let s = Vector.Min(Vector.Max(vs.[k] * factor, vlo), vhi)
                    let kept = Vector.ConditionalSelect(down, Vector<float32>.Zero, d)
                    vso.[k] <- s
                    vprevo.[k] <- kept
                    let move =
                        Vector.ConditionalSelect(
                            Vector.GreaterThan(kept, Vector<float32>.Zero), s,
                            Vector.ConditionalSelect(Vector.LessThan(kept, Vector<float32>.Zero), -s, Vector<float32>.Zero))
                    putV apply vu vpA vpoA vdA vsA k move
                i <- vu.Length * lanes ()
            while i < u.Length do
                let d = (inS src pA neg hasWd wdIn i)
                let q = d * prev0.[i]
                let factor = if q > 0.0f then ep elif q < 0.0f then em else 1.0f
                let s = MathF.Min(MathF.Max(s0.[i] * factor, lo), hi)
                let kept = if q < 0.0f then 0.0f else d
                so.[i] <- s
                prevo.[i] <- kept
                putS apply u pA poA dA sA i (if kept > 0.0f then s elif kept < 0.0f then -s else 0.0f)
                i <- i + 1

    /// Lion's direction: `u' = sign(β₁m + (1-β₁)u)`, then `m = β₂m + (1-β₂)u`.
    [<Sealed>]
    type Lion(beta1: Cell, beta2: Cell) =
        inherit ElementwiseOp("scaleByLion", [| BufferDecl.Lazy("exp_avg", 0.0f) |], [||], 4)
        override _.Cells = [ beta1; beta2 ]
        override _.Prepare(prep) =
            prep.Scalars.[0] <- float32 beta1.Value
            prep.Scalars.[1] <- float32 (1.0 - beta1.Value)
            prep.Scalars.[2] <- float32 beta2.Value
            prep.Scalars.[3] <- float32 (1.0 - beta2.Value)
            1.0f
        override _.Run(c) =
            let u = c.U
            let src = c.Src
            let apply = c.Applies
            let pA = c.P
            let poA = c.POut
            let dA = c.Decay
            let sA = c.Scale
            let m0 = c.In 0
            let mo = c.Out 0
            let b1 = c.Scalars.[0]
            let omb1 = c.Scalars.[1]
            let b2 = c.Scalars.[2]
            let omb2 = c.Scalars.[3]
            let mutable i = 0
            if simd () then
                let vu = vec u
                let vsrc = vro src
                let vpA = vro pA
                let vpoA = vec poA
                let vdA = Vector<float32> dA
                let vsA = Vector<float32> sA
                let vm = vro m0
                let vmo = vec mo
                let vb1 = Vector<float32> b1
                let vomb1 = Vector<float32> omb1
                let vb2 = Vector<float32> b2
                let vomb2 = Vector<float32> omb2
                for k in 0 .. vu.Length - 1 do
                    let d = vsrc.[k]
                    let m = vm.[k]
                    let x = m * vb1 + vomb1 * d
                    vmo.[k] <- m * vb2 + vomb2 * d
                    let sign =
                        Vector.ConditionalSelect(
                            Vector.GreaterThan(x, Vector<float32>.Zero), Vector<float32>.One,
                            Vector.ConditionalSelect(Vector.LessThan(x, Vector<float32>.Zero), -Vector<float32>.One, Vector<float32>.Zero))
                    putV apply vu vpA vpoA vdA vsA k sign
                i <- vu.Length * lanes ()
            while i < u.Length do
                let d = src.[i]
                let m = m0.[i]
                let x = m * b1 + omb1 * d
                mo.[i] <- m * b2 + omb2 * d
                putS apply u pA poA dA sA i (if x > 0.0f then 1.0f elif x < 0.0f then -1.0f else 0.0f)
                i <- i + 1

    /// `u' = clamp(u, -c, c)`.
    [<Sealed>]
    type ClipByValue(clip: Cell) =
        inherit ElementwiseOp("clipByValue", [||], [||], 1)
        override _.Cells = [ clip ]
        override _.Prepare(prep) =
            prep.Scalars.[0] <- float32 clip.Value
            1.0f
        override _.Run(c) =
            let u = c.U
            let src = c.Src
            let apply = c.Applies
            let pA = c.P
            let poA = c.POut
            let dA = c.Decay
            let sA = c.Scale
            let hi = c.Scalars.[0]
            let lo = -hi
            let mutable i = 0
            if simd () then
                let vu = vec u
                let vsrc = vro src
                let vpA = vro pA
                let vpoA = vec poA
                let vdA = Vector<float32> dA
                let vsA = Vector<float32> sA
                let vlo = Vector<float32> lo
                let vhi = Vector<float32> hi
                for k in 0 .. vu.Length - 1 do putV apply vu vpA vpoA vdA vsA k (Vector.Min(Vector.Max(vsrc.[k], vlo), vhi))
                i <- vu.Length * lanes ()
            while i < u.Length do
                putS apply u pA poA dA sA i (MathF.Min(MathF.Max(src.[i], lo), hi))
                i <- i + 1

    /// Replaces every NaN in the updates by 0 (`optax.zero_nans`).
    [<Sealed>]
    type ZeroNans() =
        inherit ElementwiseOp("zeroNans", [||], [||], 0)
        override _.Prepare(_) = 1.0f
        override _.Run(c) =
            let u = c.U
            let src = c.Src
            let apply = c.Applies
            let pA = c.P
            let poA = c.POut
            let dA = c.Decay
            let sA = c.Scale
            let mutable i = 0
            if simd () then
                let vu = vec u
                let vsrc = vro src
                let vpA = vro pA
                let vpoA = vec poA
                let vdA = Vector<float32> dA
                let vsA = Vector<float32> sA
                for k in 0 .. vu.Length - 1 do
                    let x = vsrc.[k]
                    putV apply vu vpA vpoA vdA vsA k (Vector.ConditionalSelect(Vector.Equals(x, x), x, Vector<float32>.Zero))
                i <- vu.Length * lanes ()
            while i < u.Length do
                putS apply u pA poA dA sA i (if Single.IsNaN src.[i] then 0.0f else src.[i])
                i <- i + 1

    /// The partial sums of squares of one buffer, per chunk of `Split.chunk` elements: the squares in float32, added
    /// in double in a fixed order (per SIMD lane over the chunk, then the lanes in order, then the chunk's tail). As a
    /// job, either kernel thread may compute any chunk's; one per thread, reused.
    [<Sealed; AllowNullLiteral>]
    type SquaresJob() =
        inherit RangeJob()
        [<ThreadStatic; DefaultValue>]
        static val mutable private current: SquaresJob
        static member Current : SquaresJob =
            if isNull SquaresJob.current then SquaresJob.current <- SquaresJob()
            SquaresJob.current
        member val Data : float32[] = null with get, set
        member val Partials : float[] = Array.zeroCreate 64 with get, set
        /// Σ float(x·x) over a span, in the fixed order described above.
        static member Sum(xs: ReadOnlySpan<float32>) =
            let mutable s = 0.0
            let mutable i = 0
            if simd () then
                let v = vro xs
                let mutable lo = Vector<float>.Zero
                let mutable hi = Vector<float>.Zero
                for k in 0 .. v.Length - 1 do
                    let x = v.[k]
                    let mutable a = Vector<float>.Zero
                    let mutable b = Vector<float>.Zero
                    Vector.Widen(x * x, &a, &b)
                    lo <- lo + a
                    hi <- hi + b
                for l in 0 .. Vector<float>.Count - 1 do s <- s + lo.[l]
                for l in 0 .. Vector<float>.Count - 1 do s <- s + hi.[l]
                i <- v.Length * lanes ()
            while i < xs.Length do
                let x = xs.[i]
                s <- s + float (x * x)
                i <- i + 1
            s
        override j.Run(lo, hi) =
            let mutable c = lo / Split.chunk
            while c * Split.chunk < hi do
                let a = max lo (c * Split.chunk)
                let b = min hi ((c + 1) * Split.chunk)
                j.Partials.[c] <- SquaresJob.Sum(ReadOnlySpan<float32>(j.Data, a, b - a))
                c <- c + 1

    /// `torch.norm(t)` (the 2-norm) of a float32 buffer, as PyTorch 1.13 computes it on the CPU up to the order of its
    /// sum: the squares in float32 (so they underflow and overflow where PyTorch's do), added in double per chunk of
    /// 2¹⁶ elements (see `SquaresJob`) and the chunks in order, the sum rounded to float32 and its float32 square root.
    /// Large buffers are shared between the kernel threads; the result does not depend on it.
    let torchNorm (xs: float32[]) : float32 =
        let j = SquaresJob.Current
        let chunks = (xs.Length + Split.chunk - 1) / Split.chunk
        if j.Partials.Length < chunks then j.Partials <- Array.zeroCreate chunks
        j.Data <- xs
        try Split.run j xs.Length
        finally j.Data <- null
        let mutable s = 0.0
        for c in 0 .. chunks - 1 do s <- s + j.Partials.[c]
        MathF.Sqrt(float32 s)

    let private normsOf (inputs: float32[][]) (norms: float32[]) =
        let mutable s = 0.0
        let mutable any = false
        for i in 0 .. inputs.Length - 1 do
            if not (isNull inputs.[i]) then
                any <- true
                let n = norms.[i]
                s <- s + float (n * n)
        if any then ValueSome(MathF.Sqrt(float32 s)) else ValueNone

    /// The coefficient of `torch.nn.utils.clip_grad_norm_` for a global norm `N = √(Σ nᵢ²)` of the buffers' norms
    /// (squares in float32, the sum in double in order, rounded to float32): `c = min(1, (1 / (N + 10⁻⁶))·maxNorm)` in
    /// float32, as PyTorch evaluates `max_norm / t`; a NaN coefficient stays NaN.
    let clipCoefficient (maxNorm: float32) (total: float32) =
        let c = (1.0f / (total + 1e-6f)) * maxNorm
        if c > 1.0f then 1.0f else c

    /// The coefficient `clipCoefficient maxNorm N` of the global norm of some updates (1 when all are null), computed
    /// with the norms of the parameters shared between the kernel threads.
    let globalClip (maxNorm: float32) (inputs: float32[][]) (norms: float32[]) (sizes: int[]) (step: Action<int>) =
        for i in 0 .. inputs.Length - 1 do sizes.[i] <- if isNull inputs.[i] then 0 else inputs.[i].Length
        Split.runEach sizes step
        match normsOf inputs norms with
        | ValueSome total -> float (clipCoefficient maxNorm total)
        // no parameter has an update: no pass runs, the coefficient is not used
        | ValueNone -> 1.0

    /// `clip_grad_norm_`: all updates scaled by one coefficient so that their global 2-norm is at most `maxNorm`. It
    /// reduces over every parameter's incoming updates, so it starts its pass.
    [<Sealed>]
    type ClipByGlobalNorm(maxNorm: Cell) =
        inherit ElementwiseOp("clipByGlobalNorm", [||], [||], 1)
        let gate = obj ()
        let mutable inputs : float32[][] = [||]
        let mutable norms : float32[] = [||]
        let mutable sizes : int[] = [||]
        let step = Action<int>(fun i -> let u = inputs.[i] in if not (isNull u) then norms.[i] <- torchNorm u)
        override _.Cells = [ maxNorm ]
        override _.Reduces = true
        override _.Reduce(updates) =
            lock gate (fun () ->
                if norms.Length <> updates.Length then
                    norms <- Array.zeroCreate updates.Length
                    sizes <- Array.zeroCreate updates.Length
                inputs <- updates
                try globalClip (float32 maxNorm.Value) updates norms sizes step
                finally inputs <- [||])
        override _.ReducesFromSquares = true
        override _.ReduceFromSquares(sums, present) =
            // each norm as torchNorm rounds it, then the global norm as normsOf takes it
            let mutable s = 0.0
            let mutable any = false
            for i in 0 .. sums.Length - 1 do
                if present.[i] then
                    any <- true
                    let n = MathF.Sqrt(float32 sums.[i])
                    s <- s + float (n * n)
            if any then float (clipCoefficient (float32 maxNorm.Value) (MathF.Sqrt(float32 s))) else 1.0
        override _.Prepare(prep) =
            prep.Scalars.[0] <- float32 prep.Reduced
            1.0f
        override _.Run(c) =
            let coef = c.Scalars.[0]
            let u = c.U
            let src = c.Src
            let apply = c.Applies
            let pA = c.P
            let poA = c.POut
            let dA = c.Decay
            let sA = c.Scale
            let mutable i = 0
            if simd () then
                let vu = vec u
                let vsrc = vro src
                let vpA = vro pA
                let vpoA = vec poA
                let vdA = Vector<float32> dA
                let vsA = Vector<float32> sA
                let vc = Vector<float32> coef
                if coef = 1.0f then
                    for k in 0 .. vu.Length - 1 do putV apply vu vpA vpoA vdA vsA k vsrc.[k]
                else
                    for k in 0 .. vu.Length - 1 do putV apply vu vpA vpoA vdA vsA k (vsrc.[k] * vc)
                i <- vu.Length * lanes ()
            while i < u.Length do
                putS apply u pA poA dA sA i (if coef = 1.0f then src.[i] else src.[i] * coef)
                i <- i + 1

    /// Whether every element of one buffer is finite, per chunk of `Split.chunk` elements (`Σ x·0` is NaN exactly when
    /// some x is NaN or infinite). As a job, either kernel thread may check any chunk; one per thread, reused.
    [<Sealed; AllowNullLiteral>]
    type FiniteJob() =
        inherit RangeJob()
        [<ThreadStatic; DefaultValue>]
        static val mutable private current: FiniteJob
        static member Current : FiniteJob =
            if isNull FiniteJob.current then FiniteJob.current <- FiniteJob()
            FiniteJob.current
        member val Data : float32[] = null with get, set
        [<DefaultValue>] val mutable Bad: int
        override j.Run(lo, hi) =
            let xs = ReadOnlySpan<float32>(j.Data, lo, hi - lo)
            let mutable i = 0
            let mutable acc = 0.0f
            if simd () then
                let v = vro xs
                let mutable a = Vector<float32>.Zero
                for k in 0 .. v.Length - 1 do a <- a + v.[k] * Vector<float32>.Zero
                acc <- Vector.Sum a
                i <- v.Length * lanes ()
            while i < xs.Length do
                acc <- acc + xs.[i] * 0.0f
                i <- i + 1
            if not (Single.IsFinite acc) then Threading.Interlocked.Exchange(&j.Bad, 1) |> ignore

    /// Whether every element of a buffer is finite; large buffers are shared between the kernel threads.
    let allFinite (xs: float32[]) =
        let j = FiniteJob.Current
        j.Data <- xs
        j.Bad <- 0
        try Split.run j xs.Length
        finally j.Data <- null
        j.Bad = 0

    /// `optax.apply_if_finite`'s gate, first in its pass: a step whose incoming updates hold a NaN or an infinity does not
    /// run (no parameter moves, no state changes, no step is counted), unless `maxConsecutiveErrors` consecutive steps were
    /// already rejected. Its counters are optimizer-wide values; its kernel passes the updates through.
    [<Sealed>]
    type FiniteGate(maxConsecutiveErrors: int) =
        inherit ElementwiseOp("applyIfFinite", [||], [||], 0)
        static member NotFiniteCount = "apply_if_finite.notfinite_count"
        static member TotalNotFinite = "apply_if_finite.total_notfinite"
        static member LastFinite = "apply_if_finite.last_finite"
        override _.Globals = [ FiniteGate.NotFiniteCount, 0.0; FiniteGate.TotalNotFinite, 0.0; FiniteGate.LastFinite, 1.0 ]
        override _.Reduces = true
        // 1: every update finite; 0: some is not; NaN: no parameter has an update (nothing runs, nothing is counted)
        override _.Reduce(inputs) =
            let mutable any = false
            let mutable finite = true
            for u in inputs do
                if not (isNull u) then
                    any <- true
                    if finite && not (allFinite u) then finite <- false
            if not any then nan elif finite then 1.0 else 0.0
        override _.Decide(reduced, src, dst) =
            if Double.IsNaN reduced then Verdict.Run
            else
                let finite = reduced = 1.0
                let count = if finite then 0.0 else State.globalValue FiniteGate.NotFiniteCount src + 1.0
                let total = State.globalValue FiniteGate.TotalNotFinite src + (if finite then 0.0 else 1.0)
                dst.Globals.[FiniteGate.NotFiniteCount].[0] <- count
                dst.Globals.[FiniteGate.TotalNotFinite].[0] <- total
                dst.Globals.[FiniteGate.LastFinite].[0] <- if finite then 1.0 else 0.0
                if finite || count > float maxConsecutiveErrors then Verdict.Run else Verdict.Skip
        override _.PassesThrough = true
        override _.Prepare(_) = 1.0f
        override _.Run(c) =
            if c.Applies then ApplyStage.Apply(c.P, c.Src, c.Decay, c.Scale, c.POut)
            elif not c.Aliased then c.Src.CopyTo c.U

    /// multiSteps's accumulator: a gate that holds k-1 calls in k, adding each call's gradients into `acc_grads`, and
    /// lets the k-th through with their mean, `(((g₁ + g₂) + …) + g_k) / k` in float32, the sum starting from the first
    /// gradient as it is. Per parameter, `acc_count` counts the gradients accumulated since the last real step: a
    /// parameter that had some but has none at the k-th call steps on `acc / k`; one that had none does not step.
    [<Sealed>]
    type Accumulate(k: int) =
        inherit ElementwiseOp($"multiSteps({k})", [| BufferDecl.Lazy("acc_grads", 0.0f) |], [| BufferDecl.Lazy("acc_count", 0.0f) |], 2)
        static member MiniStep = "multi_steps.mini_step"
        override _.Globals = [ Accumulate.MiniStep, 0.0 ]
        override _.Reduces = true
        override _.StepsWithoutGradient = true
        // 1 when some parameter has a gradient; NaN when none has (the call is not a micro-batch: nothing changes)
        override _.Reduce(inputs) =
            let mutable any = false
            for u in inputs do
                if not (isNull u) then any <- true
            if any then 1.0 else nan
        override _.Decide(reduced, src, dst) =
            if Double.IsNaN reduced then Verdict.Skip
            else
                let mini = State.globalValue Accumulate.MiniStep src + 1.0
                let real = mini >= float k
                dst.Globals.[Accumulate.MiniStep].[0] <- if real then 0.0 else mini
                if real then Verdict.Run else Verdict.Hold
        // modes: held, 0: acc = g (the first gradient since the last real step), 1: acc = acc + g;
        // released, 2: u = g / k, 3: u = (acc + g) / k, 4: u = acc / k (no gradient at this call)
        override _.Prepare(prep) =
            let count = prep.ScalarIn.[0]
            if prep.Holds then
                prep.Scalars.[0] <- (if count = 0.0f then 0.0f else 1.0f)
                prep.ScalarOut.[0] <- count + 1.0f
            else
                prep.Scalars.[0] <- (if not prep.HasGradient then 4.0f elif count = 0.0f then 2.0f else 3.0f)
                prep.ScalarOut.[0] <- 0.0f
            prep.Scalars.[1] <- float32 k
            1.0f
        override _.Run(c) =
            let mode = int c.Scalars.[0]
            let kk = c.Scalars.[1]
            let accIn = c.In 0
            let accOut = c.Out 0
            let src = c.Src
            match mode with
            | 0 -> src.CopyTo accOut
            | 1 ->
                let mutable i = 0
                if simd () then
                    let va = vro accIn
                    let vs = vro src
                    let vo = vec accOut
                    for j in 0 .. vo.Length - 1 do vo.[j] <- va.[j] + vs.[j]
                    i <- vo.Length * lanes ()
                while i < accOut.Length do
                    accOut.[i] <- accIn.[i] + src.[i]
                    i <- i + 1
            | _ ->
                let u = c.U
                let apply = c.Applies
                let pA = c.P
                let poA = c.POut
                let dA = c.Decay
                let sA = c.Scale
                let mutable i = 0
                if simd () then
                    let vu = vec u
                    let va = vro accIn
                    let vs = vro src
                    let vpA = vro pA
                    let vpoA = vec poA
                    let vdA = Vector<float32> dA
                    let vsA = Vector<float32> sA
                    let vk = Vector<float32> kk
                    for j in 0 .. vu.Length - 1 do
                        let sum = if mode = 2 then vs.[j] elif mode = 3 then va.[j] + vs.[j] else va.[j]
                        putV apply vu vpA vpoA vdA vsA j (sum / vk)
                    i <- vu.Length * lanes ()
                while i < u.Length do
                    let sum = if mode = 2 then src.[i] elif mode = 3 then accIn.[i] + src.[i] else accIn.[i]
                    putS apply u pA poA dA sA i (sum / kk)
                    i <- i + 1
                // pure, the fresh buffer keeps the old values (in place it is the same memory): the count says they are spent
                if not (accIn.Overlaps(Span.op_Implicit accOut : ReadOnlySpan<float32>)) then
                    accIn.CopyTo accOut
