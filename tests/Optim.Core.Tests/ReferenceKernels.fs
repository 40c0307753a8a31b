/// The hand-fused kernels the elementwise optimizers were written as before they became compiled chains: one
/// SIMD loop and scalar tail per optimizer, matching PyTorch 1.13. Kept here only as the oracle of the
/// bit-equality law (every compiled chain equals its hand-fused kernel bit for bit); the product no longer has them.
namespace Optim.Tests

open System
open System.Numerics
open System.Runtime.InteropServices
open Optim

/// Fused one-pass loops over whole spans, on one thread.
type internal ReferenceKernels =

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

