namespace Optim

open System
open System.Numerics
open System.Runtime.InteropServices

/// Fused one-pass loops: each reads every input element once and writes every output element once.
/// One kernel, two modes: outputs may be fresh buffers (the pure API) or the inputs themselves (the
/// in-place API); an element is read before it is written, so aliasing inputs and outputs is safe.
/// Scalars arrive as float32, already computed in double by the caller, as PyTorch does.
type internal Kernels =

    /// SGD (torch.optim.SGD's per-element rule). `buf` is ignored when `firstStep`, when the momentum
    /// buffer is created from the direction.
    static member Sgd
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
    static member Adam
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
