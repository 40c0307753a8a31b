namespace Optim

open System
open System.Numerics
open System.Runtime.InteropServices
open Optim.Kernels

/// The Newton–Schulz iteration of Muon (PyTorch 2.9's `_zeropower_via_newtonschulz`), in float32, with its products on
/// Optim.Kernels' packed GEMM. Its working matrices are per-thread buffers, grown when a larger matrix comes and kept,
/// so that a step allocates nothing once they exist.
[<Sealed; AbstractClass>]
type internal NewtonSchulz =

    [<ThreadStatic; DefaultValue>]
    static val mutable private x: float32[]
    [<ThreadStatic; DefaultValue>]
    static val mutable private gram: float32[]
    [<ThreadStatic; DefaultValue>]
    static val mutable private poly: float32[]
    [<ThreadStatic; DefaultValue>]
    static val mutable private input: float32[]

    static member private Fits(buffer: float32[], n: int) = not (isNull buffer) && buffer.Length >= n
    static member private Fresh(n: int) = GC.AllocateUninitializedArray<float32>(max n 64, false)

    static member private X(n: int) =
        if not (NewtonSchulz.Fits(NewtonSchulz.x, n)) then NewtonSchulz.x <- NewtonSchulz.Fresh n
        NewtonSchulz.x

    static member private Gram(n: int) =
        if not (NewtonSchulz.Fits(NewtonSchulz.gram, n)) then NewtonSchulz.gram <- NewtonSchulz.Fresh n
        NewtonSchulz.gram

    static member private Poly(n: int) =
        if not (NewtonSchulz.Fits(NewtonSchulz.poly, n)) then NewtonSchulz.poly <- NewtonSchulz.Fresh n
        NewtonSchulz.poly

    /// A per-thread buffer of at least `n` floats for a caller's own intermediate (the fused step's update); the
    /// iteration's own buffers are others.
    static member Scratch(n: int) : float32[] =
        if not (NewtonSchulz.Fits(NewtonSchulz.input, n)) then NewtonSchulz.input <- NewtonSchulz.Fresh n
        NewtonSchulz.input

    /// `out = a·x + out`, elementwise (`torch.addmm(x, B, x, beta=a)`: the product is already in `out`).
    static member private AddScaled(a: float32, x: ReadOnlySpan<float32>, out: Span<float32>) =
        let mutable i = 0
        if Vector.IsHardwareAccelerated then
            let vx = MemoryMarshal.Cast<float32, Vector<float32>> x
            let vo = MemoryMarshal.Cast<float32, Vector<float32>> out
            let va = Vector<float32> a
            for k in 0 .. vx.Length - 1 do vo.[k] <- va * vx.[k] + vo.[k]
            i <- vx.Length * Vector<float32>.Count
        while i < x.Length do
            out.[i] <- a * x.[i] + out.[i]
            i <- i + 1

    /// `out = b·g + c·out`, elementwise (`torch.addmm(G, G, G, beta=b, alpha=c)`: `G·G` is already in `out`).
    static member private Combine(b: float32, g: ReadOnlySpan<float32>, c: float32, out: Span<float32>) =
        let mutable i = 0
        if Vector.IsHardwareAccelerated then
            let vg = MemoryMarshal.Cast<float32, Vector<float32>> g
            let vo = MemoryMarshal.Cast<float32, Vector<float32>> out
            let vb = Vector<float32> b
            let vc = Vector<float32> c
            for k in 0 .. vg.Length - 1 do vo.[k] <- vb * vg.[k] + vc * vo.[k]
            i <- vg.Length * Vector<float32>.Count
        while i < g.Length do
            out.[i] <- b * g.[i] + c * out.[i]
            i <- i + 1

    /// `out = x / d`, elementwise (`div_` by a 0-dimensional tensor).
    static member private Divide(x: ReadOnlySpan<float32>, d: float32, out: Span<float32>) =
        let mutable i = 0
        if Vector.IsHardwareAccelerated then
            let vx = MemoryMarshal.Cast<float32, Vector<float32>> x
            let vo = MemoryMarshal.Cast<float32, Vector<float32>> out
            let vd = Vector<float32> d
            for k in 0 .. vx.Length - 1 do vo.[k] <- vx.[k] / vd
            i <- vx.Length * Vector<float32>.Count
        while i < x.Length do
            out.[i] <- x.[i] / d
            i <- i + 1

    /// <summary>
    /// <c>out = NS(g)</c> for a <c>rows × cols</c> matrix <c>g</c> (row-major): <c>X = g / max(‖g‖_F, ε)</c>, then
    /// <c>steps</c> times <c>A = X·Xᵀ</c>, <c>B = b·A + c·A·A</c>, <c>X = a·X + B·X</c>, on the wide orientation of the
    /// matrix (PyTorch transposes a tall one, iterates, and transposes back; here a tall one iterates as
    /// <c>A = XᵀX</c>, <c>X = a·X + X·B</c>, the same products transposed, which needs no transposed copy). The norm is
    /// summed in double and rounded to float32, as torch's is a float32 tensor. <c>out</c> may be <c>g</c> itself.
    /// </summary>
    static member Orthogonalize(g: ReadOnlySpan<float32>, rows: int, cols: int, a: float32, b: float32, c: float32, steps: int, eps: float32, out: Span<float32>) =
        let n = rows * cols
        if n > 0 then
            let mutable sum = 0.0
            for v in g do sum <- sum + float v * float v
            let norm = MathF.Max(float32 (sqrt sum), eps)
            let tall = rows > cols
            let r = if tall then cols else rows
            let x2 = NewtonSchulz.X n
            let gram = NewtonSchulz.Gram(r * r)
            let poly = NewtonSchulz.Poly(r * r)
            let gramS = Span<float32>(gram, 0, r * r)
            let polyS = Span<float32>(poly, 0, r * r)
            NewtonSchulz.Divide(g, norm, out)
            // the iterate alternates between `out` and the scratch, and ends in `out`
            let mutable cur = out
            let mutable next = Span<float32>(x2, 0, n)
            for _ in 1 .. steps do
                if tall then Gemm.Multiply(r, r, rows, Span.op_Implicit cur, true, Span.op_Implicit cur, false, gramS, false)
                else Gemm.Multiply(r, r, cols, Span.op_Implicit cur, false, Span.op_Implicit cur, true, gramS, false)
                Gemm.Multiply(r, r, r, Span.op_Implicit gramS, false, Span.op_Implicit gramS, false, polyS, false)
                NewtonSchulz.Combine(b, Span.op_Implicit gramS, c, polyS)
                if tall then Gemm.Multiply(rows, cols, cols, Span.op_Implicit cur, false, Span.op_Implicit polyS, false, next, false)
                else Gemm.Multiply(rows, cols, rows, Span.op_Implicit polyS, false, Span.op_Implicit cur, false, next, false)
                NewtonSchulz.AddScaled(a, Span.op_Implicit cur, next)
                let t = cur
                cur <- next
                next <- t
            if steps % 2 = 1 then cur.CopyTo out
