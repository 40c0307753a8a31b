namespace Optim

#nowarn "9" // Large kernels hand pinned pointers to a worker thread: spans cannot cross threads.

open System
open System.Numerics
open System.Runtime.ExceptionServices
open System.Runtime.InteropServices
open System.Threading
open Microsoft.FSharp.NativeInterop

/// Fused one-pass loops: each reads every input element once and writes every output element once.
/// One kernel, two modes: outputs may be fresh buffers (the pure API) or the inputs themselves (the
/// in-place API); an element is read before it is written, so aliasing inputs and outputs is safe.
/// Scalars arrive as float32, already computed in double by the caller, as PyTorch does.
type internal Kernels =

    /// SGD (torch.optim.SGD's per-element rule). `buf` is ignored when `firstStep`, when the momentum
    /// buffer is created from the direction.
    static member SgdRange
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, buf: ReadOnlySpan<float32>,
         pOut: Span<float32>, bufOut: Span<float32>,
         negLr: float32, wd: float32, mu: float32, keep: float32,
         hasMomentum: bool, firstStep: bool, nesterov: bool, maximize: bool) =
        let n = p.Length
        let mutable i = 0
        if Vector.IsHardwareAccelerated && n >= Vector<float32>.Count then
            let vp = MemoryMarshal.Cast<float32, Vector<float32>> p
            let vg = MemoryMarshal.Cast<float32, Vector<float32>> g
            let vpo = MemoryMarshal.Cast<float32, Vector<float32>> pOut
            let vNegLr = Vector<float32> negLr
            let vWd = Vector<float32> wd
            let vMu = Vector<float32> mu
            let vKeep = Vector<float32> keep
            if not hasMomentum then
                for k in 0 .. vp.Length - 1 do
                    let x = vp.[k]
                    let mutable d = if maximize then -vg.[k] else vg.[k]
                    if wd <> 0.0f then d <- d + vWd * x
                    vpo.[k] <- x + vNegLr * d
            else
                let vb = MemoryMarshal.Cast<float32, Vector<float32>> buf
                let vbo = MemoryMarshal.Cast<float32, Vector<float32>> bufOut
                for k in 0 .. vp.Length - 1 do
                    let x = vp.[k]
                    let mutable d = if maximize then -vg.[k] else vg.[k]
                    if wd <> 0.0f then d <- d + vWd * x
                    let b = if firstStep then d else vb.[k] * vMu + vKeep * d
                    vbo.[k] <- b
                    let dir = if nesterov then d + vMu * b else b
                    vpo.[k] <- x + vNegLr * dir
            i <- vp.Length * Vector<float32>.Count
        while i < n do
            let x = p.[i]
            let mutable d = if maximize then -g.[i] else g.[i]
            if wd <> 0.0f then d <- d + wd * x
            if hasMomentum then
                let b = if firstStep then d else buf.[i] * mu + keep * d
                bufOut.[i] <- b
                d <- if nesterov then d + mu * b else b
            pOut.[i] <- x + negLr * d
            i <- i + 1

    /// Adam and AdamW (torch.optim.Adam/AdamW's per-element rule). `decay` multiplies the parameter
    /// first (AdamW's 1 - lr·λ; 1 for Adam); `wd` is Adam's coupled L2 (0 for AdamW).
    static member AdamRange
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, m: ReadOnlySpan<float32>, v: ReadOnlySpan<float32>,
         vmax: ReadOnlySpan<float32>,
         pOut: Span<float32>, mOut: Span<float32>, vOut: Span<float32>, vmaxOut: Span<float32>,
         decay: float32, wd: float32, b1: float32, omb1: float32, b2: float32, omb2: float32,
         bc2Sqrt: float32, eps: float32, negStep: float32, amsgrad: bool, maximize: bool) =
        let n = p.Length
        let mutable i = 0
        if Vector.IsHardwareAccelerated && n >= Vector<float32>.Count then
            let vp = MemoryMarshal.Cast<float32, Vector<float32>> p
            let vg = MemoryMarshal.Cast<float32, Vector<float32>> g
            let vm = MemoryMarshal.Cast<float32, Vector<float32>> m
            let vv = MemoryMarshal.Cast<float32, Vector<float32>> v
            let vpo = MemoryMarshal.Cast<float32, Vector<float32>> pOut
            let vmo = MemoryMarshal.Cast<float32, Vector<float32>> mOut
            let vvo = MemoryMarshal.Cast<float32, Vector<float32>> vOut
            let vDecay = Vector<float32> decay
            let vWd = Vector<float32> wd
            let vB1 = Vector<float32> b1
            let vOmb1 = Vector<float32> omb1
            let vB2 = Vector<float32> b2
            let vOmb2 = Vector<float32> omb2
            let vBc2 = Vector<float32> bc2Sqrt
            let vEps = Vector<float32> eps
            let vNegStep = Vector<float32> negStep
            if not amsgrad then
                for k in 0 .. vp.Length - 1 do
                    let mutable x = vp.[k]
                    let mutable d = if maximize then -vg.[k] else vg.[k]
                    if wd <> 0.0f then d <- d + vWd * x
                    if decay <> 1.0f then x <- x * vDecay
                    let mk = vm.[k] * vB1 + vOmb1 * d
                    let vk = vv.[k] * vB2 + vOmb2 * d * d
                    vmo.[k] <- mk
                    vvo.[k] <- vk
                    vpo.[k] <- x + (vNegStep * mk) / (Vector.SquareRoot vk / vBc2 + vEps)
            else
                let vx = MemoryMarshal.Cast<float32, Vector<float32>> vmax
                let vxo = MemoryMarshal.Cast<float32, Vector<float32>> vmaxOut
                for k in 0 .. vp.Length - 1 do
                    let mutable x = vp.[k]
                    let mutable d = if maximize then -vg.[k] else vg.[k]
                    if wd <> 0.0f then d <- d + vWd * x
                    if decay <> 1.0f then x <- x * vDecay
                    let mk = vm.[k] * vB1 + vOmb1 * d
                    let vk = vv.[k] * vB2 + vOmb2 * d * d
                    let hk = Vector.Max(vx.[k], vk)
                    vmo.[k] <- mk
                    vvo.[k] <- vk
                    vxo.[k] <- hk
                    vpo.[k] <- x + (vNegStep * mk) / (Vector.SquareRoot hk / vBc2 + vEps)
            i <- vp.Length * Vector<float32>.Count
        while i < n do
            let mutable x = p.[i]
            let mutable d = if maximize then -g.[i] else g.[i]
            if wd <> 0.0f then d <- d + wd * x
            if decay <> 1.0f then x <- x * decay
            let mk = m.[i] * b1 + omb1 * d
            let vk = v.[i] * b2 + omb2 * d * d
            mOut.[i] <- mk
            vOut.[i] <- vk
            let h =
                if amsgrad then
                    let h = MathF.Max(vmax.[i], vk)
                    vmaxOut.[i] <- h
                    h
                else vk
            pOut.[i] <- x + (negStep * mk) / (MathF.Sqrt h / bc2Sqrt + eps)
            i <- i + 1

    /// Adagrad (torch.optim.Adagrad's dense rule): s += d², p += negClr·d / (√s + eps).
    static member AdagradRange
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, sum: ReadOnlySpan<float32>,
         pOut: Span<float32>, sumOut: Span<float32>,
         negClr: float32, wd: float32, eps: float32, maximize: bool) =
        let n = p.Length
        let mutable i = 0
        if Vector.IsHardwareAccelerated && n >= Vector<float32>.Count then
            let vp = MemoryMarshal.Cast<float32, Vector<float32>> p
            let vg = MemoryMarshal.Cast<float32, Vector<float32>> g
            let vs = MemoryMarshal.Cast<float32, Vector<float32>> sum
            let vpo = MemoryMarshal.Cast<float32, Vector<float32>> pOut
            let vso = MemoryMarshal.Cast<float32, Vector<float32>> sumOut
            let vNegClr = Vector<float32> negClr
            let vWd = Vector<float32> wd
            let vEps = Vector<float32> eps
            for k in 0 .. vp.Length - 1 do
                let x = vp.[k]
                let mutable d = if maximize then -vg.[k] else vg.[k]
                if wd <> 0.0f then d <- d + vWd * x
                let s = vs.[k] + d * d
                vso.[k] <- s
                vpo.[k] <- x + (vNegClr * d) / (Vector.SquareRoot s + vEps)
            i <- vp.Length * Vector<float32>.Count
        while i < n do
            let x = p.[i]
            let mutable d = if maximize then -g.[i] else g.[i]
            if wd <> 0.0f then d <- d + wd * x
            let s = sum.[i] + d * d
            sumOut.[i] <- s
            pOut.[i] <- x + (negClr * d) / (MathF.Sqrt s + eps)
            i <- i + 1

    /// RMSprop (torch.optim.RMSprop's rule): v = αv + (1-α)d²; centered ḡ = αḡ + (1-α)d and a = √(v - ḡ²) + eps,
    /// else a = √v + eps; with momentum b = μb + d/a and p += negLr·b, else p += negLr·d/a. `ga`/`buf` are
    /// ignored (and may be empty) unless `centered`/`hasMomentum`.
    static member RmspropRange
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, sq: ReadOnlySpan<float32>, ga: ReadOnlySpan<float32>, buf: ReadOnlySpan<float32>,
         pOut: Span<float32>, sqOut: Span<float32>, gaOut: Span<float32>, bufOut: Span<float32>,
         negLr: float32, wd: float32, alpha: float32, omAlpha: float32, eps: float32, mu: float32,
         centered: bool, hasMomentum: bool, maximize: bool) =
        let n = p.Length
        let mutable i = 0
        if Vector.IsHardwareAccelerated && n >= Vector<float32>.Count then
            let vp = MemoryMarshal.Cast<float32, Vector<float32>> p
            let vg = MemoryMarshal.Cast<float32, Vector<float32>> g
            let vsq = MemoryMarshal.Cast<float32, Vector<float32>> sq
            let vga = MemoryMarshal.Cast<float32, Vector<float32>> ga
            let vb = MemoryMarshal.Cast<float32, Vector<float32>> buf
            let vpo = MemoryMarshal.Cast<float32, Vector<float32>> pOut
            let vsqo = MemoryMarshal.Cast<float32, Vector<float32>> sqOut
            let vgao = MemoryMarshal.Cast<float32, Vector<float32>> gaOut
            let vbo = MemoryMarshal.Cast<float32, Vector<float32>> bufOut
            let vNegLr = Vector<float32> negLr
            let vWd = Vector<float32> wd
            let vAlpha = Vector<float32> alpha
            let vOmAlpha = Vector<float32> omAlpha
            let vEps = Vector<float32> eps
            let vMu = Vector<float32> mu
            for k in 0 .. vp.Length - 1 do
                let x = vp.[k]
                let mutable d = if maximize then -vg.[k] else vg.[k]
                if wd <> 0.0f then d <- d + vWd * x
                let v = vsq.[k] * vAlpha + vOmAlpha * d * d
                vsqo.[k] <- v
                let a =
                    if centered then
                        let m = vga.[k] * vAlpha + vOmAlpha * d
                        vgao.[k] <- m
                        Vector.SquareRoot(v - m * m) + vEps
                    else Vector.SquareRoot v + vEps
                if hasMomentum then
                    let b = vb.[k] * vMu + d / a
                    vbo.[k] <- b
                    vpo.[k] <- x + vNegLr * b
                else vpo.[k] <- x + (vNegLr * d) / a
            i <- vp.Length * Vector<float32>.Count
        while i < n do
            let x = p.[i]
            let mutable d = if maximize then -g.[i] else g.[i]
            if wd <> 0.0f then d <- d + wd * x
            let v = sq.[i] * alpha + omAlpha * d * d
            sqOut.[i] <- v
            let a =
                if centered then
                    let m = ga.[i] * alpha + omAlpha * d
                    gaOut.[i] <- m
                    MathF.Sqrt(v - m * m) + eps
                else MathF.Sqrt v + eps
            if hasMomentum then
                let b = buf.[i] * mu + d / a
                bufOut.[i] <- b
                pOut.[i] <- x + negLr * b
            else pOut.[i] <- x + (negLr * d) / a
            i <- i + 1

    /// Adadelta (torch.optim.Adadelta's rule): v = ρv + (1-ρ)d², δ = √(a + eps)/√(v + eps)·d,
    /// a = ρa + (1-ρ)δ², p += negLr·δ.
    static member AdadeltaRange
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, sq: ReadOnlySpan<float32>, acc: ReadOnlySpan<float32>,
         pOut: Span<float32>, sqOut: Span<float32>, accOut: Span<float32>,
         negLr: float32, wd: float32, rho: float32, omRho: float32, eps: float32, maximize: bool) =
        let n = p.Length
        let mutable i = 0
        if Vector.IsHardwareAccelerated && n >= Vector<float32>.Count then
            let vp = MemoryMarshal.Cast<float32, Vector<float32>> p
            let vg = MemoryMarshal.Cast<float32, Vector<float32>> g
            let vsq = MemoryMarshal.Cast<float32, Vector<float32>> sq
            let vacc = MemoryMarshal.Cast<float32, Vector<float32>> acc
            let vpo = MemoryMarshal.Cast<float32, Vector<float32>> pOut
            let vsqo = MemoryMarshal.Cast<float32, Vector<float32>> sqOut
            let vacco = MemoryMarshal.Cast<float32, Vector<float32>> accOut
            let vNegLr = Vector<float32> negLr
            let vWd = Vector<float32> wd
            let vRho = Vector<float32> rho
            let vOmRho = Vector<float32> omRho
            let vEps = Vector<float32> eps
            for k in 0 .. vp.Length - 1 do
                let x = vp.[k]
                let mutable d = if maximize then -vg.[k] else vg.[k]
                if wd <> 0.0f then d <- d + vWd * x
                let v = vsq.[k] * vRho + vOmRho * d * d
                vsqo.[k] <- v
                let a = vacc.[k]
                let delta = Vector.SquareRoot(a + vEps) / Vector.SquareRoot(v + vEps) * d
                vacco.[k] <- a * vRho + vOmRho * delta * delta
                vpo.[k] <- x + vNegLr * delta
            i <- vp.Length * Vector<float32>.Count
        while i < n do
            let x = p.[i]
            let mutable d = if maximize then -g.[i] else g.[i]
            if wd <> 0.0f then d <- d + wd * x
            let v = sq.[i] * rho + omRho * d * d
            sqOut.[i] <- v
            let a = acc.[i]
            let delta = MathF.Sqrt(a + eps) / MathF.Sqrt(v + eps) * d
            accOut.[i] <- a * rho + omRho * delta * delta
            pOut.[i] <- x + negLr * delta
            i <- i + 1

    /// Adamax (torch.optim.Adamax's rule): m = β₁m + (1-β₁)d, w = max(β₂w, |d| + eps), p += negClr·m / w.
    static member AdamaxRange
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, m: ReadOnlySpan<float32>, w: ReadOnlySpan<float32>,
         pOut: Span<float32>, mOut: Span<float32>, wOut: Span<float32>,
         negClr: float32, wd: float32, b1: float32, omb1: float32, b2: float32, eps: float32, maximize: bool) =
        let n = p.Length
        let mutable i = 0
        if Vector.IsHardwareAccelerated && n >= Vector<float32>.Count then
            let vp = MemoryMarshal.Cast<float32, Vector<float32>> p
            let vg = MemoryMarshal.Cast<float32, Vector<float32>> g
            let vm = MemoryMarshal.Cast<float32, Vector<float32>> m
            let vw = MemoryMarshal.Cast<float32, Vector<float32>> w
            let vpo = MemoryMarshal.Cast<float32, Vector<float32>> pOut
            let vmo = MemoryMarshal.Cast<float32, Vector<float32>> mOut
            let vwo = MemoryMarshal.Cast<float32, Vector<float32>> wOut
            let vNegClr = Vector<float32> negClr
            let vWd = Vector<float32> wd
            let vB1 = Vector<float32> b1
            let vOmb1 = Vector<float32> omb1
            let vB2 = Vector<float32> b2
            let vEps = Vector<float32> eps
            for k in 0 .. vp.Length - 1 do
                let x = vp.[k]
                let mutable d = if maximize then -vg.[k] else vg.[k]
                if wd <> 0.0f then d <- d + vWd * x
                let mk = vm.[k] * vB1 + vOmb1 * d
                let wk = Vector.Max(vw.[k] * vB2, Vector.Abs d + vEps)
                vmo.[k] <- mk
                vwo.[k] <- wk
                vpo.[k] <- x + (vNegClr * mk) / wk
            i <- vp.Length * Vector<float32>.Count
        while i < n do
            let x = p.[i]
            let mutable d = if maximize then -g.[i] else g.[i]
            if wd <> 0.0f then d <- d + wd * x
            let mk = m.[i] * b1 + omb1 * d
            let wk = MathF.Max(w.[i] * b2, MathF.Abs d + eps)
            mOut.[i] <- mk
            wOut.[i] <- wk
            pOut.[i] <- x + (negClr * mk) / wk
            i <- i + 1

    /// NAdam (torch.optim.NAdam's rule, with 2.x's decoupled decay): p·decay, m = β₁m + (1-β₁)d,
    /// v = β₂v + (1-β₂)d², p += (c1·d + c2·m) / (√(v·invBc2) + eps), where c1 and c2 carry -lr and the
    /// momentum schedule.
    static member NadamRange
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, m: ReadOnlySpan<float32>, v: ReadOnlySpan<float32>,
         pOut: Span<float32>, mOut: Span<float32>, vOut: Span<float32>,
         decay: float32, wd: float32, b1: float32, omb1: float32, b2: float32, omb2: float32,
         invBc2: float32, eps: float32, c1: float32, c2: float32, maximize: bool) =
        let n = p.Length
        let mutable i = 0
        if Vector.IsHardwareAccelerated && n >= Vector<float32>.Count then
            let vp = MemoryMarshal.Cast<float32, Vector<float32>> p
            let vg = MemoryMarshal.Cast<float32, Vector<float32>> g
            let vm = MemoryMarshal.Cast<float32, Vector<float32>> m
            let vv = MemoryMarshal.Cast<float32, Vector<float32>> v
            let vpo = MemoryMarshal.Cast<float32, Vector<float32>> pOut
            let vmo = MemoryMarshal.Cast<float32, Vector<float32>> mOut
            let vvo = MemoryMarshal.Cast<float32, Vector<float32>> vOut
            let vDecay = Vector<float32> decay
            let vWd = Vector<float32> wd
            let vB1 = Vector<float32> b1
            let vOmb1 = Vector<float32> omb1
            let vB2 = Vector<float32> b2
            let vOmb2 = Vector<float32> omb2
            let vInvBc2 = Vector<float32> invBc2
            let vEps = Vector<float32> eps
            let vC1 = Vector<float32> c1
            let vC2 = Vector<float32> c2
            for k in 0 .. vp.Length - 1 do
                let mutable x = vp.[k]
                let mutable d = if maximize then -vg.[k] else vg.[k]
                if wd <> 0.0f then d <- d + vWd * x
                if decay <> 1.0f then x <- x * vDecay
                let mk = vm.[k] * vB1 + vOmb1 * d
                let vk = vv.[k] * vB2 + vOmb2 * d * d
                vmo.[k] <- mk
                vvo.[k] <- vk
                vpo.[k] <- x + (vC1 * d + vC2 * mk) / (Vector.SquareRoot(vk * vInvBc2) + vEps)
            i <- vp.Length * Vector<float32>.Count
        while i < n do
            let mutable x = p.[i]
            let mutable d = if maximize then -g.[i] else g.[i]
            if wd <> 0.0f then d <- d + wd * x
            if decay <> 1.0f then x <- x * decay
            let mk = m.[i] * b1 + omb1 * d
            let vk = v.[i] * b2 + omb2 * d * d
            mOut.[i] <- mk
            vOut.[i] <- vk
            pOut.[i] <- x + (c1 * d + c2 * mk) / (MathF.Sqrt(vk * invBc2) + eps)
            i <- i + 1

    /// RAdam (torch.optim.RAdam's rule, with 2.x's decoupled decay): p·decay, m = β₁m + (1-β₁)d,
    /// v = β₂v + (1-β₂)d²; rectified p += negStep·m / (√v + eps), else p += negStep·m.
    static member RadamRange
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, m: ReadOnlySpan<float32>, v: ReadOnlySpan<float32>,
         pOut: Span<float32>, mOut: Span<float32>, vOut: Span<float32>,
         decay: float32, wd: float32, b1: float32, omb1: float32, b2: float32, omb2: float32,
         eps: float32, negStep: float32, rectified: bool, maximize: bool) =
        let n = p.Length
        let mutable i = 0
        if Vector.IsHardwareAccelerated && n >= Vector<float32>.Count then
            let vp = MemoryMarshal.Cast<float32, Vector<float32>> p
            let vg = MemoryMarshal.Cast<float32, Vector<float32>> g
            let vm = MemoryMarshal.Cast<float32, Vector<float32>> m
            let vv = MemoryMarshal.Cast<float32, Vector<float32>> v
            let vpo = MemoryMarshal.Cast<float32, Vector<float32>> pOut
            let vmo = MemoryMarshal.Cast<float32, Vector<float32>> mOut
            let vvo = MemoryMarshal.Cast<float32, Vector<float32>> vOut
            let vDecay = Vector<float32> decay
            let vWd = Vector<float32> wd
            let vB1 = Vector<float32> b1
            let vOmb1 = Vector<float32> omb1
            let vB2 = Vector<float32> b2
            let vOmb2 = Vector<float32> omb2
            let vEps = Vector<float32> eps
            let vNegStep = Vector<float32> negStep
            for k in 0 .. vp.Length - 1 do
                let mutable x = vp.[k]
                let mutable d = if maximize then -vg.[k] else vg.[k]
                if wd <> 0.0f then d <- d + vWd * x
                if decay <> 1.0f then x <- x * vDecay
                let mk = vm.[k] * vB1 + vOmb1 * d
                let vk = vv.[k] * vB2 + vOmb2 * d * d
                vmo.[k] <- mk
                vvo.[k] <- vk
                vpo.[k] <- if rectified then x + (vNegStep * mk) / (Vector.SquareRoot vk + vEps) else x + vNegStep * mk
            i <- vp.Length * Vector<float32>.Count
        while i < n do
            let mutable x = p.[i]
            let mutable d = if maximize then -g.[i] else g.[i]
            if wd <> 0.0f then d <- d + wd * x
            if decay <> 1.0f then x <- x * decay
            let mk = m.[i] * b1 + omb1 * d
            let vk = v.[i] * b2 + omb2 * d * d
            mOut.[i] <- mk
            vOut.[i] <- vk
            pOut.[i] <- if rectified then x + (negStep * mk) / (MathF.Sqrt vk + eps) else x + negStep * mk
            i <- i + 1

    /// ASGD (torch.optim.ASGD's rule): p' = p·decay + negEta·d with decay = 1 - λη; the average
    /// ax = p' while μ = 1 (`muIsOne`; `ax` is then not read), else ax + (p' - ax)·μ.
    static member AsgdRange
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, ax: ReadOnlySpan<float32>,
         pOut: Span<float32>, axOut: Span<float32>,
         decay: float32, negEta: float32, wd: float32, mu: float32, muIsOne: bool, maximize: bool) =
        let n = p.Length
        let mutable i = 0
        if Vector.IsHardwareAccelerated && n >= Vector<float32>.Count then
            let vp = MemoryMarshal.Cast<float32, Vector<float32>> p
            let vg = MemoryMarshal.Cast<float32, Vector<float32>> g
            let vax = MemoryMarshal.Cast<float32, Vector<float32>> ax
            let vpo = MemoryMarshal.Cast<float32, Vector<float32>> pOut
            let vaxo = MemoryMarshal.Cast<float32, Vector<float32>> axOut
            let vDecay = Vector<float32> decay
            let vNegEta = Vector<float32> negEta
            let vWd = Vector<float32> wd
            let vMu = Vector<float32> mu
            for k in 0 .. vp.Length - 1 do
                let x = vp.[k]
                let mutable d = if maximize then -vg.[k] else vg.[k]
                if wd <> 0.0f then d <- d + vWd * x
                let x' = x * vDecay + vNegEta * d
                vpo.[k] <- x'
                vaxo.[k] <- if muIsOne then x' else (let a = vax.[k] in a + (x' - a) * vMu)
            i <- vp.Length * Vector<float32>.Count
        while i < n do
            let x = p.[i]
            let mutable d = if maximize then -g.[i] else g.[i]
            if wd <> 0.0f then d <- d + wd * x
            let x' = x * decay + negEta * d
            pOut.[i] <- x'
            axOut.[i] <- if muIsOne then x' else (let a = ax.[i] in a + (x' - a) * mu)
            i <- i + 1

    /// Rprop (torch.optim.Rprop's rule): with q = d·prev, the step size s (`lr` on the first step) is
    /// multiplied by etaPlus (q &gt; 0), etaMinus (q &lt; 0) or 1 and clamped to [sMin, sMax]; where q &lt; 0 the
    /// gradient is zeroed; p -= sign(d)·s; prev = d.
    static member RpropRange
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, prev: ReadOnlySpan<float32>, stepSize: ReadOnlySpan<float32>,
         pOut: Span<float32>, prevOut: Span<float32>, stepSizeOut: Span<float32>,
         etaMinus: float32, etaPlus: float32, sMin: float32, sMax: float32, lr: float32, first: bool, maximize: bool) =
        let n = p.Length
        let mutable i = 0
        if Vector.IsHardwareAccelerated && n >= Vector<float32>.Count then
            let vp = MemoryMarshal.Cast<float32, Vector<float32>> p
            let vg = MemoryMarshal.Cast<float32, Vector<float32>> g
            let vprev = MemoryMarshal.Cast<float32, Vector<float32>> prev
            let vs = MemoryMarshal.Cast<float32, Vector<float32>> stepSize
            let vpo = MemoryMarshal.Cast<float32, Vector<float32>> pOut
            let vprevo = MemoryMarshal.Cast<float32, Vector<float32>> prevOut
            let vso = MemoryMarshal.Cast<float32, Vector<float32>> stepSizeOut
            let vEtaMinus = Vector<float32> etaMinus
            let vEtaPlus = Vector<float32> etaPlus
            let vLo = Vector<float32> sMin
            let vHi = Vector<float32> sMax
            let vLr = Vector<float32> lr
            for k in 0 .. vp.Length - 1 do
                let d = if maximize then -vg.[k] else vg.[k]
                let q = d * vprev.[k]
                let up = Vector.GreaterThan(q, Vector<float32>.Zero)
                let down = Vector.LessThan(q, Vector<float32>.Zero)
                let factor = Vector.ConditionalSelect(up, vEtaPlus, Vector.ConditionalSelect(down, vEtaMinus, Vector<float32>.One))
                let s = Vector.Min(Vector.Max((if first then vLr else vs.[k]) * factor, vLo), vHi)
                let kept = Vector.ConditionalSelect(down, Vector<float32>.Zero, d)
                let move =
                    Vector.ConditionalSelect(
                        Vector.GreaterThan(kept, Vector<float32>.Zero), s,
                        Vector.ConditionalSelect(Vector.LessThan(kept, Vector<float32>.Zero), -s, Vector<float32>.Zero))
                vso.[k] <- s
                vprevo.[k] <- kept
                vpo.[k] <- vp.[k] - move
            i <- vp.Length * Vector<float32>.Count
        while i < n do
            let d = if maximize then -g.[i] else g.[i]
            let q = d * prev.[i]
            let factor = if q > 0.0f then etaPlus elif q < 0.0f then etaMinus else 1.0f
            let s = MathF.Min(MathF.Max((if first then lr else stepSize.[i]) * factor, sMin), sMax)
            let kept = if q < 0.0f then 0.0f else d
            stepSizeOut.[i] <- s
            prevOut.[i] <- kept
            pOut.[i] <- p.[i] - (if kept > 0.0f then s elif kept < 0.0f then -s else 0.0f)
            i <- i + 1

    /// SparseAdam on one row (torch.optim.SparseAdam's rule): with Δm = (d - m)(1-β₁) and Δv = (d² - v)(1-β₂),
    /// m += Δm, v += Δv, p += negStep·(Δm + m_old) / (√(Δv + v_old) + eps).
    static member SparseAdamRow
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, m: ReadOnlySpan<float32>, v: ReadOnlySpan<float32>,
         pOut: Span<float32>, mOut: Span<float32>, vOut: Span<float32>,
         omb1: float32, omb2: float32, eps: float32, negStep: float32, maximize: bool) =
        let n = p.Length
        let mutable i = 0
        if Vector.IsHardwareAccelerated && n >= Vector<float32>.Count then
            let vp = MemoryMarshal.Cast<float32, Vector<float32>> p
            let vg = MemoryMarshal.Cast<float32, Vector<float32>> g
            let vm = MemoryMarshal.Cast<float32, Vector<float32>> m
            let vv = MemoryMarshal.Cast<float32, Vector<float32>> v
            let vpo = MemoryMarshal.Cast<float32, Vector<float32>> pOut
            let vmo = MemoryMarshal.Cast<float32, Vector<float32>> mOut
            let vvo = MemoryMarshal.Cast<float32, Vector<float32>> vOut
            let vOmb1 = Vector<float32> omb1
            let vOmb2 = Vector<float32> omb2
            let vEps = Vector<float32> eps
            let vNegStep = Vector<float32> negStep
            for k in 0 .. vp.Length - 1 do
                let d = if maximize then -vg.[k] else vg.[k]
                let m0 = vm.[k]
                let v0 = vv.[k]
                let dm = (d - m0) * vOmb1
                let dv = (d * d - v0) * vOmb2
                vmo.[k] <- m0 + dm
                vvo.[k] <- v0 + dv
                vpo.[k] <- vp.[k] + vNegStep * ((dm + m0) / (Vector.SquareRoot(dv + v0) + vEps))
            i <- vp.Length * Vector<float32>.Count
        while i < n do
            let d = if maximize then -g.[i] else g.[i]
            let m0 = m.[i]
            let v0 = v.[i]
            let dm = (d - m0) * omb1
            let dv = (d * d - v0) * omb2
            mOut.[i] <- m0 + dm
            vOut.[i] <- v0 + dv
            pOut.[i] <- p.[i] + negStep * ((dm + m0) / (MathF.Sqrt(dv + v0) + eps))
            i <- i + 1

    /// SGD over whole buffers: SgdRange, shared between two threads when large (see Split).
    static member Sgd
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, buf: ReadOnlySpan<float32>,
         pOut: Span<float32>, bufOut: Span<float32>,
         negLr: float32, wd: float32, mu: float32, keep: float32,
         hasMomentum: bool, firstStep: bool, nesterov: bool, maximize: bool) =
        if p.Length < Split.threshold then Kernels.SgdRange(p, g, buf, pOut, bufOut, negLr, wd, mu, keep, hasMomentum, firstStep, nesterov, maximize)
        else
            use pPin = fixed p
            use gPin = fixed g
            use bufPin = fixed buf
            use pOutPin = fixed pOut
            use bufOutPin = fixed bufOut
            Split.runKernel
                { SgdArgs.P = Split.addr pPin; G = Split.addr gPin; Buf = Split.addr bufPin; POut = Split.addr pOutPin; BufOut = Split.addr bufOutPin
                  NegLr = negLr; Wd = wd; Mu = mu; Keep = keep; HasMomentum = hasMomentum; FirstStep = firstStep; Nesterov = nesterov; Maximize = maximize }
                p.Length

    /// Adam and AdamW over whole buffers: AdamRange, shared between two threads when large (see Split).
    static member Adam
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, m: ReadOnlySpan<float32>, v: ReadOnlySpan<float32>,
         vmax: ReadOnlySpan<float32>,
         pOut: Span<float32>, mOut: Span<float32>, vOut: Span<float32>, vmaxOut: Span<float32>,
         decay: float32, wd: float32, b1: float32, omb1: float32, b2: float32, omb2: float32,
         bc2Sqrt: float32, eps: float32, negStep: float32, amsgrad: bool, maximize: bool) =
        if p.Length < Split.threshold then Kernels.AdamRange(p, g, m, v, vmax, pOut, mOut, vOut, vmaxOut, decay, wd, b1, omb1, b2, omb2, bc2Sqrt, eps, negStep, amsgrad, maximize)
        else
            use pPin = fixed p
            use gPin = fixed g
            use mPin = fixed m
            use vPin = fixed v
            use vmaxPin = fixed vmax
            use pOutPin = fixed pOut
            use mOutPin = fixed mOut
            use vOutPin = fixed vOut
            use vmaxOutPin = fixed vmaxOut
            Split.runKernel
                { AdamArgs.P = Split.addr pPin; G = Split.addr gPin; M = Split.addr mPin; V = Split.addr vPin; Vmax = Split.addr vmaxPin; POut = Split.addr pOutPin; MOut = Split.addr mOutPin; VOut = Split.addr vOutPin; VmaxOut = Split.addr vmaxOutPin
                  Decay = decay; Wd = wd; B1 = b1; Omb1 = omb1; B2 = b2; Omb2 = omb2; Bc2Sqrt = bc2Sqrt; Eps = eps; NegStep = negStep; Amsgrad = amsgrad; Maximize = maximize }
                p.Length

    /// Adagrad over whole buffers: AdagradRange, shared between two threads when large (see Split).
    static member Adagrad
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, sum: ReadOnlySpan<float32>,
         pOut: Span<float32>, sumOut: Span<float32>,
         negClr: float32, wd: float32, eps: float32, maximize: bool) =
        if p.Length < Split.threshold then Kernels.AdagradRange(p, g, sum, pOut, sumOut, negClr, wd, eps, maximize)
        else
            use pPin = fixed p
            use gPin = fixed g
            use sumPin = fixed sum
            use pOutPin = fixed pOut
            use sumOutPin = fixed sumOut
            Split.runKernel
                { AdagradArgs.P = Split.addr pPin; G = Split.addr gPin; Sum = Split.addr sumPin; POut = Split.addr pOutPin; SumOut = Split.addr sumOutPin
                  NegClr = negClr; Wd = wd; Eps = eps; Maximize = maximize }
                p.Length

    /// RMSprop over whole buffers: RmspropRange, shared between two threads when large (see Split).
    static member Rmsprop
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, sq: ReadOnlySpan<float32>, ga: ReadOnlySpan<float32>, buf: ReadOnlySpan<float32>,
         pOut: Span<float32>, sqOut: Span<float32>, gaOut: Span<float32>, bufOut: Span<float32>,
         negLr: float32, wd: float32, alpha: float32, omAlpha: float32, eps: float32, mu: float32,
         centered: bool, hasMomentum: bool, maximize: bool) =
        if p.Length < Split.threshold then Kernels.RmspropRange(p, g, sq, ga, buf, pOut, sqOut, gaOut, bufOut, negLr, wd, alpha, omAlpha, eps, mu, centered, hasMomentum, maximize)
        else
            use pPin = fixed p
            use gPin = fixed g
            use sqPin = fixed sq
            use gaPin = fixed ga
            use bufPin = fixed buf
            use pOutPin = fixed pOut
            use sqOutPin = fixed sqOut
            use gaOutPin = fixed gaOut
            use bufOutPin = fixed bufOut
            Split.runKernel
                { RmspropArgs.P = Split.addr pPin; G = Split.addr gPin; Sq = Split.addr sqPin; Ga = Split.addr gaPin; Buf = Split.addr bufPin; POut = Split.addr pOutPin; SqOut = Split.addr sqOutPin; GaOut = Split.addr gaOutPin; BufOut = Split.addr bufOutPin
                  NegLr = negLr; Wd = wd; Alpha = alpha; OmAlpha = omAlpha; Eps = eps; Mu = mu; Centered = centered; HasMomentum = hasMomentum; Maximize = maximize }
                p.Length

    /// Adadelta over whole buffers: AdadeltaRange, shared between two threads when large (see Split).
    static member Adadelta
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, sq: ReadOnlySpan<float32>, acc: ReadOnlySpan<float32>,
         pOut: Span<float32>, sqOut: Span<float32>, accOut: Span<float32>,
         negLr: float32, wd: float32, rho: float32, omRho: float32, eps: float32, maximize: bool) =
        if p.Length < Split.threshold then Kernels.AdadeltaRange(p, g, sq, acc, pOut, sqOut, accOut, negLr, wd, rho, omRho, eps, maximize)
        else
            use pPin = fixed p
            use gPin = fixed g
            use sqPin = fixed sq
            use accPin = fixed acc
            use pOutPin = fixed pOut
            use sqOutPin = fixed sqOut
            use accOutPin = fixed accOut
            Split.runKernel
                { AdadeltaArgs.P = Split.addr pPin; G = Split.addr gPin; Sq = Split.addr sqPin; Acc = Split.addr accPin; POut = Split.addr pOutPin; SqOut = Split.addr sqOutPin; AccOut = Split.addr accOutPin
                  NegLr = negLr; Wd = wd; Rho = rho; OmRho = omRho; Eps = eps; Maximize = maximize }
                p.Length

    /// Adamax over whole buffers: AdamaxRange, shared between two threads when large (see Split).
    static member Adamax
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, m: ReadOnlySpan<float32>, w: ReadOnlySpan<float32>,
         pOut: Span<float32>, mOut: Span<float32>, wOut: Span<float32>,
         negClr: float32, wd: float32, b1: float32, omb1: float32, b2: float32, eps: float32, maximize: bool) =
        if p.Length < Split.threshold then Kernels.AdamaxRange(p, g, m, w, pOut, mOut, wOut, negClr, wd, b1, omb1, b2, eps, maximize)
        else
            use pPin = fixed p
            use gPin = fixed g
            use mPin = fixed m
            use wPin = fixed w
            use pOutPin = fixed pOut
            use mOutPin = fixed mOut
            use wOutPin = fixed wOut
            Split.runKernel
                { AdamaxArgs.P = Split.addr pPin; G = Split.addr gPin; M = Split.addr mPin; W = Split.addr wPin; POut = Split.addr pOutPin; MOut = Split.addr mOutPin; WOut = Split.addr wOutPin
                  NegClr = negClr; Wd = wd; B1 = b1; Omb1 = omb1; B2 = b2; Eps = eps; Maximize = maximize }
                p.Length

    /// NAdam over whole buffers: NadamRange, shared between two threads when large (see Split).
    static member Nadam
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, m: ReadOnlySpan<float32>, v: ReadOnlySpan<float32>,
         pOut: Span<float32>, mOut: Span<float32>, vOut: Span<float32>,
         decay: float32, wd: float32, b1: float32, omb1: float32, b2: float32, omb2: float32,
         invBc2: float32, eps: float32, c1: float32, c2: float32, maximize: bool) =
        if p.Length < Split.threshold then Kernels.NadamRange(p, g, m, v, pOut, mOut, vOut, decay, wd, b1, omb1, b2, omb2, invBc2, eps, c1, c2, maximize)
        else
            use pPin = fixed p
            use gPin = fixed g
            use mPin = fixed m
            use vPin = fixed v
            use pOutPin = fixed pOut
            use mOutPin = fixed mOut
            use vOutPin = fixed vOut
            Split.runKernel
                { NadamArgs.P = Split.addr pPin; G = Split.addr gPin; M = Split.addr mPin; V = Split.addr vPin; POut = Split.addr pOutPin; MOut = Split.addr mOutPin; VOut = Split.addr vOutPin
                  Decay = decay; Wd = wd; B1 = b1; Omb1 = omb1; B2 = b2; Omb2 = omb2; InvBc2 = invBc2; Eps = eps; C1 = c1; C2 = c2; Maximize = maximize }
                p.Length

    /// RAdam over whole buffers: RadamRange, shared between two threads when large (see Split).
    static member Radam
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, m: ReadOnlySpan<float32>, v: ReadOnlySpan<float32>,
         pOut: Span<float32>, mOut: Span<float32>, vOut: Span<float32>,
         decay: float32, wd: float32, b1: float32, omb1: float32, b2: float32, omb2: float32,
         eps: float32, negStep: float32, rectified: bool, maximize: bool) =
        if p.Length < Split.threshold then Kernels.RadamRange(p, g, m, v, pOut, mOut, vOut, decay, wd, b1, omb1, b2, omb2, eps, negStep, rectified, maximize)
        else
            use pPin = fixed p
            use gPin = fixed g
            use mPin = fixed m
            use vPin = fixed v
            use pOutPin = fixed pOut
            use mOutPin = fixed mOut
            use vOutPin = fixed vOut
            Split.runKernel
                { RadamArgs.P = Split.addr pPin; G = Split.addr gPin; M = Split.addr mPin; V = Split.addr vPin; POut = Split.addr pOutPin; MOut = Split.addr mOutPin; VOut = Split.addr vOutPin
                  Decay = decay; Wd = wd; B1 = b1; Omb1 = omb1; B2 = b2; Omb2 = omb2; Eps = eps; NegStep = negStep; Rectified = rectified; Maximize = maximize }
                p.Length

    /// ASGD over whole buffers: AsgdRange, shared between two threads when large (see Split).
    static member Asgd
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, ax: ReadOnlySpan<float32>,
         pOut: Span<float32>, axOut: Span<float32>,
         decay: float32, negEta: float32, wd: float32, mu: float32, muIsOne: bool, maximize: bool) =
        if p.Length < Split.threshold then Kernels.AsgdRange(p, g, ax, pOut, axOut, decay, negEta, wd, mu, muIsOne, maximize)
        else
            use pPin = fixed p
            use gPin = fixed g
            use axPin = fixed ax
            use pOutPin = fixed pOut
            use axOutPin = fixed axOut
            Split.runKernel
                { AsgdArgs.P = Split.addr pPin; G = Split.addr gPin; Ax = Split.addr axPin; POut = Split.addr pOutPin; AxOut = Split.addr axOutPin
                  Decay = decay; NegEta = negEta; Wd = wd; Mu = mu; MuIsOne = muIsOne; Maximize = maximize }
                p.Length

    /// Rprop over whole buffers: RpropRange, shared between two threads when large (see Split).
    static member Rprop
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, prev: ReadOnlySpan<float32>, stepSize: ReadOnlySpan<float32>,
         pOut: Span<float32>, prevOut: Span<float32>, stepSizeOut: Span<float32>,
         etaMinus: float32, etaPlus: float32, sMin: float32, sMax: float32, lr: float32, first: bool, maximize: bool) =
        if p.Length < Split.threshold then Kernels.RpropRange(p, g, prev, stepSize, pOut, prevOut, stepSizeOut, etaMinus, etaPlus, sMin, sMax, lr, first, maximize)
        else
            use pPin = fixed p
            use gPin = fixed g
            use prevPin = fixed prev
            use stepSizePin = fixed stepSize
            use pOutPin = fixed pOut
            use prevOutPin = fixed prevOut
            use stepSizeOutPin = fixed stepSizeOut
            Split.runKernel
                { RpropArgs.P = Split.addr pPin; G = Split.addr gPin; Prev = Split.addr prevPin; StepSize = Split.addr stepSizePin; POut = Split.addr pOutPin; PrevOut = Split.addr prevOutPin; StepSizeOut = Split.addr stepSizeOutPin
                  EtaMinus = etaMinus; EtaPlus = etaPlus; SMin = sMin; SMax = sMax; Lr = lr; First = first; Maximize = maximize }
                p.Length

    /// Adafactor's scalar step for one parameter (torch.optim.Adafactor, 2.x), in double from the sums of squares
    /// of the parameter and of its update over n elements: -αₜ / max(1, RMS(u)/d), αₜ = max(ε₂, RMS(p))·ρₜ, the
    /// norms rounded to float32 as torch's are.
    static member AdafactorStepSize(sumP2: float, sumU2: float, n: int, rho: float, eps2: float, d: float) : float32 =
        let alpha = max eps2 (Blocks.norm32 sumP2 / sqrt (float n)) * rho
        let denom = max 1.0 (Blocks.norm32 sumU2 / (sqrt (float n) * d))
        float32 (-alpha / denom)

    /// Adafactor's first pass over an unfactored parameter (a vector or a scalar): v = lerp(v, d², w) and
    /// u = rsqrt(max(v, ε₁²))·d as torch computes them; writes v and returns Σp² and Σu², summed in double.
    static member AdafactorVectorSumsRange
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, v: ReadOnlySpan<float32>, vOut: Span<float32>,
         w: float32, eps1Sq: float32, maximize: bool) : struct (float * float) =
        let n = p.Length
        let small = MathF.Abs w < 0.5f
        let omw = 1.0f - w
        let mutable sumP = 0.0
        let mutable sumU = 0.0
        let mutable i = 0
        if Vector.IsHardwareAccelerated && n >= Vector<float32>.Count then
            let vp = MemoryMarshal.Cast<float32, Vector<float32>> p
            let vg = MemoryMarshal.Cast<float32, Vector<float32>> g
            let vv = MemoryMarshal.Cast<float32, Vector<float32>> v
            let vvo = MemoryMarshal.Cast<float32, Vector<float32>> vOut
            let vW = Vector<float32> w
            let vOmw = Vector<float32> omw
            let vEps = Vector<float32> eps1Sq
            let mutable accP = Vector<float>.Zero
            let mutable accU = Vector<float>.Zero
            for k in 0 .. vp.Length - 1 do
                let d = if maximize then -vg.[k] else vg.[k]
                let s = vv.[k]
                let e = d * d
                let s' = if small then Vector.FusedMultiplyAdd(vW, e - s, s) else Vector.FusedMultiplyAdd(s - e, vOmw, e)
                vvo.[k] <- s'
                let u = Vector<float32>.One / Vector.SquareRoot(Vector.Max(s', vEps)) * d
                let x = vp.[k]
                let xl, xh = Vector.WidenLower x, Vector.WidenUpper x
                let ul, uh = Vector.WidenLower u, Vector.WidenUpper u
                accP <- accP + xl * xl + xh * xh
                accU <- accU + ul * ul + uh * uh
            sumP <- Vector.Sum accP
            sumU <- Vector.Sum accU
            i <- vp.Length * Vector<float32>.Count
        while i < n do
            let d = if maximize then -g.[i] else g.[i]
            let s' = Blocks.lerp v.[i] (d * d) w
            vOut.[i] <- s'
            let u = 1.0f / MathF.Sqrt(MathF.Max(s', eps1Sq)) * d
            sumP <- sumP + float p.[i] * float p.[i]
            sumU <- sumU + float u * float u
            i <- i + 1
        struct (sumP, sumU)

    /// Adafactor's last pass over an unfactored parameter: p' = p·decay + step·u with u = rsqrt(max(v, ε₁²))·d, as
    /// torch's mul_ and add_(u, alpha=step) (one fused multiply-add) compute it.
    static member AdafactorVectorApplyRange
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, v: ReadOnlySpan<float32>, pOut: Span<float32>,
         decay: float32, step: float32, eps1Sq: float32, maximize: bool) =
        let n = p.Length
        let mutable i = 0
        if Vector.IsHardwareAccelerated && n >= Vector<float32>.Count then
            let vp = MemoryMarshal.Cast<float32, Vector<float32>> p
            let vg = MemoryMarshal.Cast<float32, Vector<float32>> g
            let vv = MemoryMarshal.Cast<float32, Vector<float32>> v
            let vpo = MemoryMarshal.Cast<float32, Vector<float32>> pOut
            let vDecay = Vector<float32> decay
            let vStep = Vector<float32> step
            let vEps = Vector<float32> eps1Sq
            for k in 0 .. vp.Length - 1 do
                let d = if maximize then -vg.[k] else vg.[k]
                let u = Vector<float32>.One / Vector.SquareRoot(Vector.Max(vv.[k], vEps)) * d
                vpo.[k] <- Vector.FusedMultiplyAdd(u, vStep, vp.[k] * vDecay)
            i <- vp.Length * Vector<float32>.Count
        while i < n do
            let d = if maximize then -g.[i] else g.[i]
            let u = 1.0f / MathF.Sqrt(MathF.Max(v.[i], eps1Sq)) * d
            pOut.[i] <- MathF.FusedMultiplyAdd(u, step, p.[i] * decay)
            i <- i + 1

    /// AdafactorVectorSumsRange over whole buffers, shared between two threads when large (see Split): the sums are
    /// those of the chunks, added in chunk order, whichever thread ran them.
    static member AdafactorVectorSums
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, v: ReadOnlySpan<float32>, vOut: Span<float32>,
         w: float32, eps1Sq: float32, maximize: bool) : struct (float * float) =
        if p.Length < Split.threshold then Kernels.AdafactorVectorSumsRange(p, g, v, vOut, w, eps1Sq, maximize)
        else
            use pPin = fixed p
            use gPin = fixed g
            use vPin = fixed v
            use vOutPin = fixed vOut
            let j = AdafactorSumsJob.Current
            j.Args <- { P = Split.addr pPin; G = Split.addr gPin; V = Split.addr vPin; VOut = Split.addr vOutPin; W = w; Eps1Sq = eps1Sq; Maximize = maximize }
            let chunks = (p.Length + Split.chunk - 1) / Split.chunk
            if isNull j.SumP || j.SumP.Length < chunks then
                j.SumP <- Array.zeroCreate chunks
                j.SumU <- Array.zeroCreate chunks
            Split.run j p.Length
            let mutable sumP = 0.0
            let mutable sumU = 0.0
            for k in 0 .. chunks - 1 do
                sumP <- sumP + j.SumP.[k]
                sumU <- sumU + j.SumU.[k]
            struct (sumP, sumU)

    /// AdafactorVectorApplyRange over whole buffers, shared between two threads when large (see Split).
    static member AdafactorVectorApply
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, v: ReadOnlySpan<float32>, pOut: Span<float32>,
         decay: float32, step: float32, eps1Sq: float32, maximize: bool) =
        if p.Length < Split.threshold then Kernels.AdafactorVectorApplyRange(p, g, v, pOut, decay, step, eps1Sq, maximize)
        else
            use pPin = fixed p
            use gPin = fixed g
            use vPin = fixed v
            use pOutPin = fixed pOut
            Split.runKernel
                { AdafactorApplyArgs.P = Split.addr pPin; G = Split.addr gPin; V = Split.addr vPin; POut = Split.addr pOutPin
                  Decay = decay; Step = step; Eps1Sq = eps1Sq; Maximize = maximize }
                p.Length

    /// Σg² and Σp² of one row, in double, adding each g² into its column's sum in `cols`.
    static member private FactoredRowSums(g: ReadOnlySpan<float32>, p: ReadOnlySpan<float32>, cols: Span<float>) : struct (float * float) =
        let n = g.Length
        let mutable sumG = 0.0
        let mutable sumP = 0.0
        let mutable i = 0
        if Vector.IsHardwareAccelerated && n >= Vector<float32>.Count then
            let vg = MemoryMarshal.Cast<float32, Vector<float32>> g
            let vp = MemoryMarshal.Cast<float32, Vector<float32>> p
            let vc = MemoryMarshal.Cast<float, Vector<float>> cols
            let mutable accG = Vector<float>.Zero
            let mutable accP = Vector<float>.Zero
            for k in 0 .. vg.Length - 1 do
                let gl, gh = Vector.WidenLower vg.[k], Vector.WidenUpper vg.[k]
                let pl, ph = Vector.WidenLower vp.[k], Vector.WidenUpper vp.[k]
                let ql, qh = gl * gl, gh * gh
                accG <- accG + ql + qh
                accP <- accP + pl * pl + ph * ph
                vc.[2 * k] <- vc.[2 * k] + ql
                vc.[2 * k + 1] <- vc.[2 * k + 1] + qh
            sumG <- Vector.Sum accG
            sumP <- Vector.Sum accP
            i <- vg.Length * Vector<float32>.Count
        while i < n do
            let q = float g.[i] * float g.[i]
            sumG <- sumG + q
            sumP <- sumP + float p.[i] * float p.[i]
            cols.[i] <- cols.[i] + q
            i <- i + 1
        struct (sumG, sumP)

    /// Σu² of one row of a factored parameter, in double: u = rsqrt(max(r·c / m, ε₁²))·d with r the row's factor,
    /// c the columns' factors and m the clamped mean of the rows' factors.
    static member private FactoredRowUpdateSum
        (g: ReadOnlySpan<float32>, col: ReadOnlySpan<float32>, r: float32, m: float32, eps1Sq: float32, maximize: bool) : float =
        let n = g.Length
        let mutable sum = 0.0
        let mutable i = 0
        if Vector.IsHardwareAccelerated && n >= Vector<float32>.Count then
            let vg = MemoryMarshal.Cast<float32, Vector<float32>> g
            let vc = MemoryMarshal.Cast<float32, Vector<float32>> col
            let vR, vM, vEps = Vector<float32> r, Vector<float32> m, Vector<float32> eps1Sq
            let mutable acc = Vector<float>.Zero
            for k in 0 .. vg.Length - 1 do
                let d = if maximize then -vg.[k] else vg.[k]
                let u = Vector<float32>.One / Vector.SquareRoot(Vector.Max(vR * vc.[k] / vM, vEps)) * d
                let ul, uh = Vector.WidenLower u, Vector.WidenUpper u
                acc <- acc + ul * ul + uh * uh
            sum <- Vector.Sum acc
            i <- vg.Length * Vector<float32>.Count
        while i < n do
            let d = if maximize then -g.[i] else g.[i]
            let u = 1.0f / MathF.Sqrt(MathF.Max(r * col.[i] / m, eps1Sq)) * d
            sum <- sum + float u * float u
            i <- i + 1
        sum

    /// p' = p·decay + step·u over one row of a factored parameter, u as in FactoredRowUpdateSum.
    static member private FactoredRowApply
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, col: ReadOnlySpan<float32>, pOut: Span<float32>,
         r: float32, m: float32, eps1Sq: float32, decay: float32, step: float32, maximize: bool) =
        let n = g.Length
        let mutable i = 0
        if Vector.IsHardwareAccelerated && n >= Vector<float32>.Count then
            let vp = MemoryMarshal.Cast<float32, Vector<float32>> p
            let vg = MemoryMarshal.Cast<float32, Vector<float32>> g
            let vc = MemoryMarshal.Cast<float32, Vector<float32>> col
            let vpo = MemoryMarshal.Cast<float32, Vector<float32>> pOut
            let vR, vM, vEps = Vector<float32> r, Vector<float32> m, Vector<float32> eps1Sq
            let vDecay, vStep = Vector<float32> decay, Vector<float32> step
            for k in 0 .. vg.Length - 1 do
                let d = if maximize then -vg.[k] else vg.[k]
                let u = Vector<float32>.One / Vector.SquareRoot(Vector.Max(vR * vc.[k] / vM, vEps)) * d
                vpo.[k] <- Vector.FusedMultiplyAdd(u, vStep, vp.[k] * vDecay)
            i <- vg.Length * Vector<float32>.Count
        while i < n do
            let d = if maximize then -g.[i] else g.[i]
            let u = 1.0f / MathF.Sqrt(MathF.Max(r * col.[i] / m, eps1Sq)) * d
            pOut.[i] <- MathF.FusedMultiplyAdd(u, step, p.[i] * decay)
            i <- i + 1

    /// Adafactor on a factored parameter (torch.optim.Adafactor, 2.x, two or more dimensions): `batch` matrices
    /// of `rows` × `cols`, row-major, with row factors `row` (batch·rows) and column factors `col` (batch·cols).
    /// Three passes, none of which can start before the previous one ends: Σp² and the squared gradient's row and
    /// column sums (the new factors follow); Σu² (the clipping follows); the update. Column sums and row means live in
    /// a per-thread scratch buffer, so nothing is allocated once it has grown to the largest parameter's columns.
    static member AdafactorFactored
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, row: ReadOnlySpan<float32>, col: ReadOnlySpan<float32>,
         pOut: Span<float32>, rowOut: Span<float32>, colOut: Span<float32>,
         batch: int, rows: int, cols: int, w: float32, eps1: float32, eps1Sq: float32,
         rho: float, eps2: float, d: float, decay: float32, maximize: bool) =
        let scratch = Scratch.Doubles(batch * cols + batch)
        let colSums = scratch.Slice(0, batch * cols)
        let means = scratch.Slice(batch * cols, batch)
        let mutable sumP = 0.0
        for b in 0 .. batch - 1 do
            let mutable rowTotal = 0.0
            for r in 0 .. rows - 1 do
                let br = b * rows + r
                let struct (sumG, rowP) = Kernels.FactoredRowSums(g.Slice(br * cols, cols), p.Slice(br * cols, cols), colSums.Slice(b * cols, cols))
                sumP <- sumP + rowP
                let f = Blocks.lerp row.[br] (Blocks.meanSquare sumG cols) w
                rowOut.[br] <- f
                rowTotal <- rowTotal + float f
            means.[b] <- float (MathF.Max(float32 rowTotal / float32 rows, eps1))
        for bc in 0 .. batch * cols - 1 do
            colOut.[bc] <- Blocks.lerp col.[bc] (Blocks.meanSquare colSums.[bc] rows) w
        let colNew = Span.op_Implicit colOut : ReadOnlySpan<float32>
        let mutable sumU = 0.0
        for b in 0 .. batch - 1 do
            for r in 0 .. rows - 1 do
                let br = b * rows + r
                sumU <- sumU + Kernels.FactoredRowUpdateSum(g.Slice(br * cols, cols), colNew.Slice(b * cols, cols), rowOut.[br], float32 means.[b], eps1Sq, maximize)
        let step = Kernels.AdafactorStepSize(sumP, sumU, p.Length, rho, eps2, d)
        for b in 0 .. batch - 1 do
            for r in 0 .. rows - 1 do
                let br = b * rows + r
                Kernels.FactoredRowApply(
                    p.Slice(br * cols, cols), g.Slice(br * cols, cols), colNew.Slice(b * cols, cols), pOut.Slice(br * cols, cols),
                    rowOut.[br], float32 means.[b], eps1Sq, decay, step, maximize)

/// SgdRange's arguments over pinned memory, for either thread.
and [<Struct>] internal SgdArgs =
    { P: nativeint; G: nativeint; Buf: nativeint; POut: nativeint; BufOut: nativeint
      NegLr: float32; Wd: float32; Mu: float32; Keep: float32; HasMomentum: bool; FirstStep: bool; Nesterov: bool; Maximize: bool }
    interface IRangeKernel with
        member a.Run(lo, hi) =
            Kernels.SgdRange(
                Split.ro a.P lo hi, Split.ro a.G lo hi, Split.ro a.Buf lo hi, Split.span a.POut lo hi, Split.span a.BufOut lo hi,
                a.NegLr, a.Wd, a.Mu, a.Keep, a.HasMomentum, a.FirstStep, a.Nesterov, a.Maximize)

/// AdamRange's arguments over pinned memory, for either thread.
and [<Struct>] internal AdamArgs =
    { P: nativeint; G: nativeint; M: nativeint; V: nativeint; Vmax: nativeint; POut: nativeint; MOut: nativeint; VOut: nativeint; VmaxOut: nativeint
      Decay: float32; Wd: float32; B1: float32; Omb1: float32; B2: float32; Omb2: float32; Bc2Sqrt: float32; Eps: float32; NegStep: float32; Amsgrad: bool; Maximize: bool }
    interface IRangeKernel with
        member a.Run(lo, hi) =
            Kernels.AdamRange(
                Split.ro a.P lo hi, Split.ro a.G lo hi, Split.ro a.M lo hi, Split.ro a.V lo hi, Split.ro a.Vmax lo hi, Split.span a.POut lo hi, Split.span a.MOut lo hi, Split.span a.VOut lo hi, Split.span a.VmaxOut lo hi,
                a.Decay, a.Wd, a.B1, a.Omb1, a.B2, a.Omb2, a.Bc2Sqrt, a.Eps, a.NegStep, a.Amsgrad, a.Maximize)

/// AdagradRange's arguments over pinned memory, for either thread.
and [<Struct>] internal AdagradArgs =
    { P: nativeint; G: nativeint; Sum: nativeint; POut: nativeint; SumOut: nativeint
      NegClr: float32; Wd: float32; Eps: float32; Maximize: bool }
    interface IRangeKernel with
        member a.Run(lo, hi) =
            Kernels.AdagradRange(
                Split.ro a.P lo hi, Split.ro a.G lo hi, Split.ro a.Sum lo hi, Split.span a.POut lo hi, Split.span a.SumOut lo hi,
                a.NegClr, a.Wd, a.Eps, a.Maximize)

/// RmspropRange's arguments over pinned memory, for either thread.
and [<Struct>] internal RmspropArgs =
    { P: nativeint; G: nativeint; Sq: nativeint; Ga: nativeint; Buf: nativeint; POut: nativeint; SqOut: nativeint; GaOut: nativeint; BufOut: nativeint
      NegLr: float32; Wd: float32; Alpha: float32; OmAlpha: float32; Eps: float32; Mu: float32; Centered: bool; HasMomentum: bool; Maximize: bool }
    interface IRangeKernel with
        member a.Run(lo, hi) =
            Kernels.RmspropRange(
                Split.ro a.P lo hi, Split.ro a.G lo hi, Split.ro a.Sq lo hi, Split.ro a.Ga lo hi, Split.ro a.Buf lo hi, Split.span a.POut lo hi, Split.span a.SqOut lo hi, Split.span a.GaOut lo hi, Split.span a.BufOut lo hi,
                a.NegLr, a.Wd, a.Alpha, a.OmAlpha, a.Eps, a.Mu, a.Centered, a.HasMomentum, a.Maximize)

/// AdadeltaRange's arguments over pinned memory, for either thread.
and [<Struct>] internal AdadeltaArgs =
    { P: nativeint; G: nativeint; Sq: nativeint; Acc: nativeint; POut: nativeint; SqOut: nativeint; AccOut: nativeint
      NegLr: float32; Wd: float32; Rho: float32; OmRho: float32; Eps: float32; Maximize: bool }
    interface IRangeKernel with
        member a.Run(lo, hi) =
            Kernels.AdadeltaRange(
                Split.ro a.P lo hi, Split.ro a.G lo hi, Split.ro a.Sq lo hi, Split.ro a.Acc lo hi, Split.span a.POut lo hi, Split.span a.SqOut lo hi, Split.span a.AccOut lo hi,
                a.NegLr, a.Wd, a.Rho, a.OmRho, a.Eps, a.Maximize)

/// AdamaxRange's arguments over pinned memory, for either thread.
and [<Struct>] internal AdamaxArgs =
    { P: nativeint; G: nativeint; M: nativeint; W: nativeint; POut: nativeint; MOut: nativeint; WOut: nativeint
      NegClr: float32; Wd: float32; B1: float32; Omb1: float32; B2: float32; Eps: float32; Maximize: bool }
    interface IRangeKernel with
        member a.Run(lo, hi) =
            Kernels.AdamaxRange(
                Split.ro a.P lo hi, Split.ro a.G lo hi, Split.ro a.M lo hi, Split.ro a.W lo hi, Split.span a.POut lo hi, Split.span a.MOut lo hi, Split.span a.WOut lo hi,
                a.NegClr, a.Wd, a.B1, a.Omb1, a.B2, a.Eps, a.Maximize)

/// NadamRange's arguments over pinned memory, for either thread.
and [<Struct>] internal NadamArgs =
    { P: nativeint; G: nativeint; M: nativeint; V: nativeint; POut: nativeint; MOut: nativeint; VOut: nativeint
      Decay: float32; Wd: float32; B1: float32; Omb1: float32; B2: float32; Omb2: float32; InvBc2: float32; Eps: float32; C1: float32; C2: float32; Maximize: bool }
    interface IRangeKernel with
        member a.Run(lo, hi) =
            Kernels.NadamRange(
                Split.ro a.P lo hi, Split.ro a.G lo hi, Split.ro a.M lo hi, Split.ro a.V lo hi, Split.span a.POut lo hi, Split.span a.MOut lo hi, Split.span a.VOut lo hi,
                a.Decay, a.Wd, a.B1, a.Omb1, a.B2, a.Omb2, a.InvBc2, a.Eps, a.C1, a.C2, a.Maximize)

/// RadamRange's arguments over pinned memory, for either thread.
and [<Struct>] internal RadamArgs =
    { P: nativeint; G: nativeint; M: nativeint; V: nativeint; POut: nativeint; MOut: nativeint; VOut: nativeint
      Decay: float32; Wd: float32; B1: float32; Omb1: float32; B2: float32; Omb2: float32; Eps: float32; NegStep: float32; Rectified: bool; Maximize: bool }
    interface IRangeKernel with
        member a.Run(lo, hi) =
            Kernels.RadamRange(
                Split.ro a.P lo hi, Split.ro a.G lo hi, Split.ro a.M lo hi, Split.ro a.V lo hi, Split.span a.POut lo hi, Split.span a.MOut lo hi, Split.span a.VOut lo hi,
                a.Decay, a.Wd, a.B1, a.Omb1, a.B2, a.Omb2, a.Eps, a.NegStep, a.Rectified, a.Maximize)

/// AsgdRange's arguments over pinned memory, for either thread.
and [<Struct>] internal AsgdArgs =
    { P: nativeint; G: nativeint; Ax: nativeint; POut: nativeint; AxOut: nativeint
      Decay: float32; NegEta: float32; Wd: float32; Mu: float32; MuIsOne: bool; Maximize: bool }
    interface IRangeKernel with
        member a.Run(lo, hi) =
            Kernels.AsgdRange(
                Split.ro a.P lo hi, Split.ro a.G lo hi, Split.ro a.Ax lo hi, Split.span a.POut lo hi, Split.span a.AxOut lo hi,
                a.Decay, a.NegEta, a.Wd, a.Mu, a.MuIsOne, a.Maximize)

/// RpropRange's arguments over pinned memory, for either thread.
and [<Struct>] internal RpropArgs =
    { P: nativeint; G: nativeint; Prev: nativeint; StepSize: nativeint; POut: nativeint; PrevOut: nativeint; StepSizeOut: nativeint
      EtaMinus: float32; EtaPlus: float32; SMin: float32; SMax: float32; Lr: float32; First: bool; Maximize: bool }
    interface IRangeKernel with
        member a.Run(lo, hi) =
            Kernels.RpropRange(
                Split.ro a.P lo hi, Split.ro a.G lo hi, Split.ro a.Prev lo hi, Split.ro a.StepSize lo hi, Split.span a.POut lo hi, Split.span a.PrevOut lo hi, Split.span a.StepSizeOut lo hi,
                a.EtaMinus, a.EtaPlus, a.SMin, a.SMax, a.Lr, a.First, a.Maximize)

/// AdafactorVectorApplyRange's arguments over pinned memory, for either thread.
and [<Struct>] internal AdafactorApplyArgs =
    { P: nativeint; G: nativeint; V: nativeint; POut: nativeint
      Decay: float32; Step: float32; Eps1Sq: float32; Maximize: bool }
    interface IRangeKernel with
        member a.Run(lo, hi) =
            Kernels.AdafactorVectorApplyRange(
                Split.ro a.P lo hi, Split.ro a.G lo hi, Split.ro a.V lo hi, Split.span a.POut lo hi, a.Decay, a.Step, a.Eps1Sq, a.Maximize)

/// AdafactorVectorSumsRange's arguments over pinned memory.
and [<Struct>] internal AdafactorSumsArgs =
    { P: nativeint; G: nativeint; V: nativeint; VOut: nativeint; W: float32; Eps1Sq: float32; Maximize: bool }

/// AdafactorVectorSumsRange as a job for either thread, run chunk by chunk (see Split.run): chunk k's sums land in
/// SumP.[k] and SumU.[k], which the caller adds in chunk order. One per thread, reused.
and [<Sealed; AllowNullLiteral>] internal AdafactorSumsJob() =
    inherit RangeJob()
    [<ThreadStatic; DefaultValue>]
    static val mutable private current: AdafactorSumsJob
    static member Current : AdafactorSumsJob =
        if isNull AdafactorSumsJob.current then AdafactorSumsJob.current <- AdafactorSumsJob()
        AdafactorSumsJob.current
    [<DefaultValue>] val mutable Args: AdafactorSumsArgs
    [<DefaultValue>] val mutable SumP: float[]
    [<DefaultValue>] val mutable SumU: float[]
    override j.Run(lo, hi) =
        let a = j.Args
        let struct (sumP, sumU) =
            Kernels.AdafactorVectorSumsRange(Split.ro a.P lo hi, Split.ro a.G lo hi, Split.ro a.V lo hi, Split.span a.VOut lo hi, a.W, a.Eps1Sq, a.Maximize)
        j.SumP.[lo / Split.chunk] <- sumP
        j.SumU.[lo / Split.chunk] <- sumU
