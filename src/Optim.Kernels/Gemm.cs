using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Optim.Kernels;

/// <summary>
/// Single-precision matrix product <c>C (+)= op(A)·op(B)</c> on row-major buffers, where <c>op(X)</c> is X or Xᵀ,
/// as a blocked, packed kernel in the manner of BLIS/GotoBLAS: B is packed in kc×NR panels (kept in L1), A in
/// 6×kc panels (kept in L2), and a 6×NR register-blocked micro-kernel does 12 FMAs per step of k: on 16 floats
/// each with AVX-512 (NR = 32), else on 8 (AVX2, NR = 16).
/// Transposed operands are read by the packing routines, so no transposed copy of an operand is ever made.
/// Large products are split in two halves (of rows or of columns) that run on two threads. The loops are compiled
/// fully optimised from their first call (no tier-0 warm-up).
/// </summary>
/// <remarks>
/// Each element of C is the sum over k in the same order wherever it lies and whichever thread computes it, so a
/// product does not depend on the split: the same operands give the same floats, and <c>A·Aᵀ</c> is exactly symmetric.
/// Nothing is allocated per call once the calling thread's packing buffers exist.
/// </remarks>
/// <example>
/// <code>
/// var a = new float[] { 1, 2, 3, 4, 5, 6 };       // [2, 3]
/// var gram = new float[4];                         // [2, 2] = A·Aᵀ
/// Gemm.Multiply(2, 2, 3, a, false, a, true, gram, false);   // gram is { 14, 32, 32, 77 }
/// </code>
/// </example>
public static unsafe class Gemm
{
    internal const int MR = 6;

    /// <summary>The micro-kernel's columns: 32 (two 16-wide registers per row) with AVX-512, else 16 (two 8-wide).</summary>
    private static readonly int NR = Avx512F.IsSupported ? 32 : 16;
    private const int KcMax = 256, Mc = 16 * MR, NcMax = 1024;

    /// <summary>Products of at least this many multiply-adds are split over two threads (below, waking the worker costs more than it saves).</summary>
    internal const long ParallelThreshold = 1L << 20;

    [ThreadStatic] private static float[]? _packA;
    [ThreadStatic] private static float[]? _packB;
    [ThreadStatic] private static Job? _job;

    /// <summary>
    /// <c>C[m,n] = op(A)[m,k]·op(B)[k,n]</c>, or <c>C += …</c> when <paramref name="accumulate"/>. A is stored
    /// <c>[m,k]</c>, or <c>[k,m]</c> when <paramref name="transA"/>; B is stored <c>[k,n]</c>, or <c>[n,k]</c> when
    /// <paramref name="transB"/>; all row-major. Only the first <c>m·n</c> elements of C are written.
    /// </summary>
    /// <param name="m">The rows of C and of op(A), 0 or more.</param>
    /// <param name="n">The columns of C and of op(B), 0 or more.</param>
    /// <param name="k">The inner extent, 0 or more (0: C is cleared, or left as it is when accumulating).</param>
    /// <param name="a">A's elements, at least <c>m·k</c>.</param>
    /// <param name="transA">Whether A is stored transposed, <c>[k,m]</c>.</param>
    /// <param name="b">B's elements, at least <c>k·n</c>.</param>
    /// <param name="transB">Whether B is stored transposed, <c>[n,k]</c>.</param>
    /// <param name="c">C's elements, at least <c>m·n</c>; it must not overlap A or B.</param>
    /// <param name="accumulate">Whether to add the product to C instead of overwriting it.</param>
    /// <exception cref="ArgumentOutOfRangeException">An extent is negative.</exception>
    /// <exception cref="ArgumentException">A buffer is too small for the extents, or C overlaps A or B.</exception>
    public static void Multiply(int m, int n, int k, ReadOnlySpan<float> a, bool transA, ReadOnlySpan<float> b, bool transB,
                                Span<float> c, bool accumulate)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        if (a.Length < (long)m * k)
            throw new ArgumentException($"A has {a.Length} elements, but a [{m},{k}]·[{k},{n}] product needs {(long)m * k}.", nameof(a));
        if (b.Length < (long)k * n)
            throw new ArgumentException($"B has {b.Length} elements, but a [{m},{k}]·[{k},{n}] product needs {(long)k * n}.", nameof(b));
        if (c.Length < (long)m * n)
            throw new ArgumentException($"C has {c.Length} elements, but a [{m},{k}]·[{k},{n}] product needs {(long)m * n}.", nameof(c));
        if (m == 0 || n == 0) return;
        var output = c[..(m * n)];
        if (((ReadOnlySpan<float>)output).Overlaps(a[..(int)((long)m * k)]) || ((ReadOnlySpan<float>)output).Overlaps(b[..(int)((long)k * n)]))
            throw new ArgumentException("C overlaps A or B: the product would read elements it has already written.", nameof(c));
        if (k == 0)
        {
            if (!accumulate) output.Clear();
            return;
        }
        fixed (float* pa = a, pb = b, pc = c)
        {
            var job = _job ??= new Job();
            job.Set(pa, pb, pc, m, n, k, transA, transB, accumulate);
            Execute(job);
        }
    }

    /// <summary>
    /// <c>C[m,n] (+)= A[m,k]·B[k,n]</c> where B is never written out: its panels are packed straight from where
    /// <paramref name="b"/> reads them (a convolution's column matrix, from its padded images), which saves writing the
    /// matrix and reading it back. A is stored <c>[m,k]</c>; C must not overlap A.
    /// </summary>
    internal static void Multiply(int m, int n, int k, ReadOnlySpan<float> a, PackedOperand b, Span<float> c, bool accumulate)
    {
        if (a.Length < (long)m * k || c.Length < (long)m * n)
            throw new ArgumentException($"Buffers too small for a [{m},{k}]·[{k},{n}] product.");
        if (m == 0 || n == 0 || k == 0) throw new ArgumentException("A column matrix product has no empty extent.");
        fixed (float* pa = a, pc = c)
        {
            var job = _job ??= new Job();
            job.Set(pa, null, pc, m, n, k, false, false, accumulate);
            job.ColumnsB = b;
            Execute(job);
        }
    }

    /// <summary>
    /// <c>C[m,n] (+)= A[m,k]·op(B)[k,n]</c> where A is never written out, its panels packed straight from where
    /// <paramref name="a"/> reads them (a convolution's column matrix, from its padded images). B is stored
    /// <c>[k,n]</c>, or <c>[n,k]</c> when <paramref name="transB"/>; C must not overlap B.
    /// </summary>
    internal static void Multiply(int m, int n, int k, PackedOperand a, ReadOnlySpan<float> b, bool transB, Span<float> c, bool accumulate)
    {
        if (b.Length < (long)k * n || c.Length < (long)m * n)
            throw new ArgumentException($"Buffers too small for a [{m},{k}]·[{k},{n}] product.");
        if (m == 0 || n == 0 || k == 0) throw new ArgumentException("A column matrix product has no empty extent.");
        fixed (float* pb = b, pc = c)
        {
            var job = _job ??= new Job();
            job.Set(null, pb, pc, m, n, k, false, transB, accumulate);
            job.ColumnsA = a;
            Execute(job);
        }
    }

    /// <summary>Runs a product set up in <paramref name="job"/>, in two halves when it is large enough, then clears the job.</summary>
    private static void Execute(Job job)
    {
        try
        {
            int m = job.M, n = job.N;
            if ((long)m * n * job.K >= ParallelThreshold && TwoThreads.Available)
            {
                int tilesM = (m + MR - 1) / MR, tilesN = (n + NR - 1) / NR;
                job.SplitRows = tilesM > tilesN;
                job.Mid = job.SplitRows ? tilesM / 2 * MR : tilesN / 2 * NR;
                TwoThreads.Run(job);
            }
            else Block(job, 0, m, 0, n);
        }
        finally
        {
            job.Set(null, null, null, 0, 0, 0, false, false, false);
        }
    }

    /// <summary>The arguments of one product, reused per calling thread so that a call allocates nothing.</summary>
    private sealed class Job : TwoPartJob
    {
        public float* A, B, C;
        public int M, N, K, Mid;
        public bool TransA, TransB, Accumulate, SplitRows;
        /// <summary>When set, B is this operand, packed from where it reads (and <see cref="B"/> is unused).</summary>
        public PackedOperand? ColumnsB;
        /// <summary>When set, A is this operand, packed from where it reads (and <see cref="A"/> is unused).</summary>
        public PackedOperand? ColumnsA;

        public void Set(float* a, float* b, float* c, int m, int n, int k, bool transA, bool transB, bool accumulate)
        {
            A = a; B = b; C = c; M = m; N = n; K = k; TransA = transA; TransB = transB; Accumulate = accumulate;
            ColumnsA = ColumnsB = null;
        }

        public override void Run(int part)
        {
            if (SplitRows) Block(this, part == 0 ? 0 : Mid, part == 0 ? Mid : M, 0, N);
            else Block(this, 0, M, part == 0 ? 0 : Mid, part == 0 ? Mid : N);
        }
    }

    /// <summary>Computes the block of C in rows [i0, i1) and columns [j0, j1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block(Job job, int i0, int i1, int j0, int j1)
    {
        int k = job.K, n = job.N;
        // kc: equal blocks of at most KcMax, so that a k of 784 runs as 4×196 rather than 3×256 + 16
        int kBlocks = (k + KcMax - 1) / KcMax, kc = (k + kBlocks - 1) / kBlocks;
        int ncMax = Math.Min(NcMax, (j1 - j0 + NR - 1) / NR * NR);
        float* ap = Buffer(ref _packA, Mc * kc + 8);   // slack for PackA's whole-vector stores
        float* bp = Buffer(ref _packB, ncMax * kc);
        float* tile = stackalloc float[MR * NR];
        for (int jc = j0; jc < j1; jc += NcMax)
        {
            int nc = Math.Min(NcMax, j1 - jc);
            for (int pc = 0; pc < k; pc += kc)
            {
                int kcur = Math.Min(kc, k - pc);
                bool acc = job.Accumulate || pc > 0;
                PackB(job, bp, pc, kcur, jc, nc);
                for (int ic = i0; ic < i1; ic += Mc)
                {
                    int mc = Math.Min(Mc, i1 - ic);
                    PackA(job, ap, ic, mc, pc, kcur);
                    for (int jr = 0; jr < nc; jr += NR)
                    {
                        int nr = Math.Min(NR, nc - jr);
                        float* bpanel = bp + jr * kcur;
                        for (int ir = 0; ir < mc; ir += MR)
                        {
                            int mr = Math.Min(MR, mc - ir);
                            float* cptr = job.C + (long)(ic + ir) * n + jc + jr;
                            if (mr == MR && nr == NR) Micro(kcur, ap + ir * kcur, bpanel, cptr, n, acc);
                            else
                            {
                                Micro(kcur, ap + ir * kcur, bpanel, tile, NR, false);
                                for (int r = 0; r < mr; r++)
                                {
                                    float* dst = cptr + (long)r * n;
                                    float* src = tile + r * NR;
                                    // whole vectors where the tile is NR wide (the last rows of 32 or 64 output
                                    // channels, every panel of the product)
                                    int j = 0;
                                    if (acc) for (; j + 8 <= nr; j += 8) Vector256.Store(Vector256.Load(dst + j) + Vector256.Load(src + j), dst + j);
                                    else for (; j + 8 <= nr; j += 8) Vector256.Store(Vector256.Load(src + j), dst + j);
                                    if (acc) for (; j < nr; j++) dst[j] += src[j];
                                    else for (; j < nr; j++) dst[j] = src[j];
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>A pinned per-thread buffer of at least <paramref name="length"/> floats.</summary>
    private static float* Buffer(ref float[]? buffer, int length)
    {
        if (buffer is null || buffer.Length < length) buffer = GC.AllocateUninitializedArray<float>(Math.Max(length, 4096), pinned: true);
        return (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
    }

    /// <summary>Packs rows [ic, ic+mc) × depth [pc, pc+kc) of op(A) into panels of MR rows, each stored p-major, zero-padded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA(Job job, float* dst, int ic, int mc, int pc, int kc)
    {
        if (job.ColumnsA is { } columns)
        {
            columns.PackA(dst, ic, mc, pc, kc);
            return;
        }
        int m = job.M, k = job.K;
        for (int ir = 0; ir < mc; ir += MR, dst += MR * kc)
        {
            int mr = Math.Min(MR, mc - ir);
            if (job.TransA)
            {
                // A is stored [k, m]: the MR values of one depth are contiguous
                float* src = job.A + (long)pc * m + ic + ir;
                if (mr == MR && ic + ir + 8 <= m)
                    // one 8-wide copy per depth, whose last two lanes the next depth's overwrites (the buffer has
                    // slack for the very last); the 8 floats read lie in the same row of A (a convolution's Wᵀ
                    // is packed so for every image)
                    for (int p = 0; p < kc; p++, src += m) Vector256.Store(Vector256.Load(src), dst + p * MR);
                else
                    for (int p = 0; p < kc; p++, src += m)
                    {
                        int r = 0;
                        for (; r < mr; r++) dst[p * MR + r] = src[r];
                        for (; r < MR; r++) dst[p * MR + r] = 0f;
                    }
            }
            else
            {
                float* src = job.A + (long)(ic + ir) * k + pc;
                int p0 = 0;
                if (mr == MR && Avx.IsSupported)
                    // 8 depths of the 6 rows at a time: an 8×8 transpose of the rows (and two zero rows), each
                    // transposed vector stored whole; its last two lanes are overwritten by the next store (the
                    // buffer has slack for the very last)
                    for (; p0 + 8 <= kc; p0 += 8)
                    {
                        var z = Vector256<float>.Zero;
                        Transpose8(Vector256.Load(src + p0), Vector256.Load(src + k + p0), Vector256.Load(src + 2 * k + p0),
                                   Vector256.Load(src + 3 * k + p0), Vector256.Load(src + 4 * k + p0), Vector256.Load(src + 5 * k + p0), z, z,
                                   dst + p0 * MR, MR);
                    }
                for (int r = 0; r < MR; r++)
                {
                    if (r < mr)
                    {
                        float* row = src + (long)r * k;
                        for (int p = p0; p < kc; p++) dst[p * MR + r] = row[p];
                    }
                    else for (int p = p0; p < kc; p++) dst[p * MR + r] = 0f;
                }
            }
        }
    }

    /// <summary>Packs depth [pc, pc+kc) × columns [jc, jc+nc) of op(B) into panels of NR columns, each stored p-major, zero-padded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackB(Job job, float* dst, int pc, int kc, int jc, int nc)
    {
        if (job.ColumnsB is { } columns)
        {
            columns.PackB(dst, pc, kc, jc, nc, NR);
            return;
        }
        int n = job.N, k = job.K;
        for (int jr = 0; jr < nc; jr += NR, dst += NR * kc)
        {
            int nr = Math.Min(NR, nc - jr);
            if (job.TransB)
            {
                // B is stored [n, k]: each column is a contiguous row of storage
                float* src = job.B + (long)(jc + jr) * k + pc;
                int p0 = 0;
                if (nr == NR && Avx.IsSupported)
                    // 8 depths × 8 columns at a time, transposed in registers
                    for (; p0 + 8 <= kc; p0 += 8)
                        for (int h = 0; h < NR; h += 8)
                        {
                            float* s0 = src + (long)h * k + p0;
                            Transpose8(Vector256.Load(s0), Vector256.Load(s0 + k), Vector256.Load(s0 + 2 * k), Vector256.Load(s0 + 3 * k),
                                       Vector256.Load(s0 + 4 * k), Vector256.Load(s0 + 5 * k), Vector256.Load(s0 + 6 * k), Vector256.Load(s0 + 7 * k),
                                       dst + p0 * NR + h, NR);
                        }
                for (int c = 0; c < NR; c++)
                {
                    if (c < nr)
                    {
                        float* col = src + (long)c * k;
                        for (int p = p0; p < kc; p++) dst[p * NR + c] = col[p];
                    }
                    else for (int p = p0; p < kc; p++) dst[p * NR + c] = 0f;
                }
            }
            else
            {
                float* src = job.B + (long)pc * n + jc + jr;
                if (nr == NR)
                    for (int p = 0; p < kc; p++, src += n)
                        for (int h = 0; h < NR; h += 8) Vector256.Store(Vector256.Load(src + h), dst + p * NR + h);
                else
                    for (int p = 0; p < kc; p++, src += n)
                    {
                        int c = 0;
                        for (; c < nr; c++) dst[p * NR + c] = src[c];
                        for (; c < NR; c++) dst[p * NR + c] = 0f;
                    }
            }
        }
    }

    /// <summary>Transposes the 8×8 block of rows r0..r7 and stores row <c>i</c> of the transpose at <c>dst + i·stride</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8(Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
                                   Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7,
                                   float* dst, int stride)
    {
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dst + stride, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 2 * stride, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dst + 3 * stride, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 4 * stride, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dst + 5 * stride, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 6 * stride, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dst + 7 * stride, Avx.Permute2x128(u3, u7, 0x31));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> MulAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) =>
        Fma.IsSupported ? Fma.MultiplyAdd(a, b, c) : a * b + c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Micro(int kc, float* a, float* b, float* c, int ldc, bool accumulate)
    {
        if (NR == 32) Kernel512(kc, a, b, c, ldc, accumulate);
        else Kernel(kc, a, b, c, ldc, accumulate);
    }

    /// <summary>The 6×32 micro-kernel of AVX-512: C[6,32] (+)= Apanel[6,kc]·Bpanel[kc,32], twelve 16-wide accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel512(int kc, float* a, float* b, float* c, int ldc, bool accumulate)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++, a += MR, b += 32)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var x = Vector512.Create(a[0]);
            c00 = Avx512F.FusedMultiplyAdd(x, b0, c00); c01 = Avx512F.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a[1]);
            c10 = Avx512F.FusedMultiplyAdd(x, b0, c10); c11 = Avx512F.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a[2]);
            c20 = Avx512F.FusedMultiplyAdd(x, b0, c20); c21 = Avx512F.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a[3]);
            c30 = Avx512F.FusedMultiplyAdd(x, b0, c30); c31 = Avx512F.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a[4]);
            c40 = Avx512F.FusedMultiplyAdd(x, b0, c40); c41 = Avx512F.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a[5]);
            c50 = Avx512F.FusedMultiplyAdd(x, b0, c50); c51 = Avx512F.FusedMultiplyAdd(x, b1, c51);
        }
        Store(c, c00, c01, accumulate); c += ldc;
        Store(c, c10, c11, accumulate); c += ldc;
        Store(c, c20, c21, accumulate); c += ldc;
        Store(c, c30, c31, accumulate); c += ldc;
        Store(c, c40, c41, accumulate); c += ldc;
        Store(c, c50, c51, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, Vector512<float> lo, Vector512<float> hi, bool accumulate)
    {
        if (accumulate)
        {
            lo += Vector512.Load(c);
            hi += Vector512.Load(c + 16);
        }
        Vector512.Store(lo, c);
        Vector512.Store(hi, c + 16);
    }

    /// <summary>The 6×16 micro-kernel: C[6,16] (+)= Apanel[6,kc]·Bpanel[kc,16], twelve 8-wide accumulators in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel(int kc, float* a, float* b, float* c, int ldc, bool accumulate)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++, a += MR, b += NR)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var x = Vector256.Create(a[0]);
            c00 = MulAdd(x, b0, c00); c01 = MulAdd(x, b1, c01);
            x = Vector256.Create(a[1]);
            c10 = MulAdd(x, b0, c10); c11 = MulAdd(x, b1, c11);
            x = Vector256.Create(a[2]);
            c20 = MulAdd(x, b0, c20); c21 = MulAdd(x, b1, c21);
            x = Vector256.Create(a[3]);
            c30 = MulAdd(x, b0, c30); c31 = MulAdd(x, b1, c31);
            x = Vector256.Create(a[4]);
            c40 = MulAdd(x, b0, c40); c41 = MulAdd(x, b1, c41);
            x = Vector256.Create(a[5]);
            c50 = MulAdd(x, b0, c50); c51 = MulAdd(x, b1, c51);
        }
        Store(c, c00, c01, accumulate); c += ldc;
        Store(c, c10, c11, accumulate); c += ldc;
        Store(c, c20, c21, accumulate); c += ldc;
        Store(c, c30, c31, accumulate); c += ldc;
        Store(c, c40, c41, accumulate); c += ldc;
        Store(c, c50, c51, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, Vector256<float> lo, Vector256<float> hi, bool accumulate)
    {
        if (accumulate)
        {
            lo += Vector256.Load(c);
            hi += Vector256.Load(c + 8);
        }
        Vector256.Store(lo, c);
        Vector256.Store(hi, c + 8);
    }
}
