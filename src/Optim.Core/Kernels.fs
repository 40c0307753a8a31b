namespace Optim

open System
open System.Numerics
open System.Runtime.InteropServices

/// Fused one-pass loops: each reads every input element once and writes every output element once.
/// One kernel, two modes: outputs may be fresh buffers (the pure API) or the inputs themselves (the
/// in-place API); an element is read before it is written, so aliasing inputs and outputs is safe.
/// Scalars arrive as float32, already computed in double by the caller, as PyTorch does.
type internal FusedKernels =

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

    /// AdafactorVectorSumsRange over whole buffers: a large one in chunks of `Split.chunk` elements, their sums added
    /// in chunk order (as when the chunks were shared between two threads), on the calling thread. No pointer crosses
    /// to another thread: these kernels were the only code that did, and the Core tests' rare runtime crash is
    /// suspected of heap corruption.
    static member AdafactorVectorSums
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, v: ReadOnlySpan<float32>, vOut: Span<float32>,
         w: float32, eps1Sq: float32, maximize: bool) : struct (float * float) =
        let n = p.Length
        if n < Split.threshold then FusedKernels.AdafactorVectorSumsRange(p, g, v, vOut, w, eps1Sq, maximize)
        else
            let mutable sumP = 0.0
            let mutable sumU = 0.0
            let mutable lo = 0
            while lo < n do
                let len = min Split.chunk (n - lo)
                let struct (a, b) =
                    FusedKernels.AdafactorVectorSumsRange(p.Slice(lo, len), g.Slice(lo, len), v.Slice(lo, len), vOut.Slice(lo, len), w, eps1Sq, maximize)
                sumP <- sumP + a
                sumU <- sumU + b
                lo <- lo + len
            struct (sumP, sumU)

    /// AdafactorVectorApplyRange over whole buffers, on the calling thread.
    static member AdafactorVectorApply
        (p: ReadOnlySpan<float32>, g: ReadOnlySpan<float32>, v: ReadOnlySpan<float32>, pOut: Span<float32>,
         decay: float32, step: float32, eps1Sq: float32, maximize: bool) =
        FusedKernels.AdafactorVectorApplyRange(p, g, v, pOut, decay, step, eps1Sq, maximize)

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
                let struct (sumG, rowP) = FusedKernels.FactoredRowSums(g.Slice(br * cols, cols), p.Slice(br * cols, cols), colSums.Slice(b * cols, cols))
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
                sumU <- sumU + FusedKernels.FactoredRowUpdateSum(g.Slice(br * cols, cols), colNew.Slice(b * cols, cols), rowOut.[br], float32 means.[b], eps1Sq, maximize)
        let step = FusedKernels.AdafactorStepSize(sumP, sumU, p.Length, rho, eps2, d)
        for b in 0 .. batch - 1 do
            for r in 0 .. rows - 1 do
                let br = b * rows + r
                FusedKernels.FactoredRowApply(
                    p.Slice(br * cols, cols), g.Slice(br * cols, cols), colNew.Slice(b * cols, cols), pOut.Slice(br * cols, cols),
                    rowOut.[br], float32 means.[b], eps1Sq, decay, step, maximize)
