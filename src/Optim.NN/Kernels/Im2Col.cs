using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Optim.Kernels;

namespace Optim.NN.Kernels;

/// <summary>
/// The geometry of a 2-D convolution or pooling over NCHW images: <see cref="N"/> images of <see cref="C"/> channels
/// of <see cref="H"/>×<see cref="W"/>, a <see cref="KH"/>×<see cref="KW"/> window moved by the stride over the input
/// padded with zeros (or, for pooling, with nothing) on each side; for a convolution, <see cref="OutC"/> filters.
/// </summary>
internal readonly record struct ConvShape(int N, int C, int H, int W, int OutC, int KH, int KW, int SH, int SW, int PH, int PW)
{
    /// <summary>The output's height, <c>floor((H + 2·pH − kH) / sH) + 1</c>.</summary>
    public int OutH => (H + 2 * PH - KH) / SH + 1;

    /// <summary>The output's width, <c>floor((W + 2·pW − kW) / sW) + 1</c>.</summary>
    public int OutW => (W + 2 * PW - KW) / SW + 1;

    /// <summary>The output pixels of one channel of one image.</summary>
    public int Pixels => OutH * OutW;

    /// <summary>The rows of the column matrix: one per (channel, kernel row, kernel column), the weight's layout.</summary>
    public int Depth => C * KH * KW;

    /// <summary>A 1×1 kernel at stride 1 without padding: an image is its own column matrix.</summary>
    public bool Pointwise => KH == 1 && KW == 1 && SH == 1 && SW == 1 && PH == 0 && PW == 0;
}

/// <summary>
/// The column matrix of a convolution (im2col) and its adjoint (col2im): row <c>(c·kH + i)·kW + j</c> holds, for
/// every output pixel <c>(oh, ow)</c>, the input value under kernel tap <c>(i, j)</c> of channel <c>c</c>, that is
/// <c>x[c, oh·sH − pH + i, ow·sW − pW + j]</c>, or 0 in the padding. The convolution is then the product of the
/// weight <c>[outC, C·kH·kW]</c> with this matrix.
/// </summary>
internal static unsafe class Im2Col
{
    /// <summary>
    /// Writes the column matrix of one image <paramref name="x"/> (<c>[C, H, W]</c>) into the columns
    /// <c>[0, Pixels)</c> of <paramref name="cols"/>, whose rows are <paramref name="ld"/> floats apart.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Gather(in ConvShape s, float* x, float* cols, int ld)
    {
        int ho = s.OutH, wo = s.OutW, plane = s.H * s.W;
        for (int c = 0; c < s.C; c++)
            for (int i = 0; i < s.KH; i++)
                for (int j = 0; j < s.KW; j++)
                {
                    float* dst = cols + (long)((c * s.KH + i) * s.KW + j) * ld;
                    int offset = j - s.PW;
                    Columns(offset, s.SW, s.W, wo, out int lo, out int hi);
                    for (int oh = 0; oh < ho; oh++, dst += wo)
                    {
                        int ih = oh * s.SH - s.PH + i;
                        if ((uint)ih >= (uint)s.H || lo == hi)
                        {
                            for (int ow = 0; ow < wo; ow++) dst[ow] = 0f;
                            continue;
                        }
                        // src[ow·sW] is input column ow·sW − pW + j of row ih
                        float* src = x + (long)c * plane + (long)ih * s.W + offset;
                        for (int ow = 0; ow < lo; ow++) dst[ow] = 0f;
                        if (s.SW == 1) Copy(src + lo, dst + lo, hi - lo);
                        else for (int ow = lo; ow < hi; ow++) dst[ow] = src[ow * s.SW];
                        for (int ow = hi; ow < wo; ow++) dst[ow] = 0f;
                    }
                }
    }

    /// <summary>
    /// The adjoint of <see cref="Gather"/>: adds every entry of the column matrix (columns <c>[0, Pixels)</c> of
    /// <paramref name="cols"/>) into the input value it was read from, in <paramref name="x"/> (<c>[C, H, W]</c>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ScatterAdd(in ConvShape s, float* cols, int ld, float* x)
    {
        int ho = s.OutH, wo = s.OutW, plane = s.H * s.W;
        for (int c = 0; c < s.C; c++)
            for (int i = 0; i < s.KH; i++)
                for (int j = 0; j < s.KW; j++)
                {
                    float* src = cols + (long)((c * s.KH + i) * s.KW + j) * ld;
                    int offset = j - s.PW;
                    Columns(offset, s.SW, s.W, wo, out int lo, out int hi);
                    if (lo == hi) continue;
                    for (int oh = 0; oh < ho; oh++, src += wo)
                    {
                        int ih = oh * s.SH - s.PH + i;
                        if ((uint)ih >= (uint)s.H) continue;
                        float* dst = x + (long)c * plane + (long)ih * s.W + offset;
                        if (s.SW == 1) AddTo(src + lo, dst + lo, hi - lo);
                        else for (int ow = lo; ow < hi; ow++) dst[ow * s.SW] += src[ow];
                    }
                }
    }

    // At stride 1 along the width, the column matrix is read from a copy of the image with its zero padding
    // written out ([C, H + 2·pH, W + 2·pW]) by PaddedColumns, and ScatterAdd adds into one: every row of the column
    // matrix is then a whole, unclipped run of the padded row, copied or added with full vectors and no bounds per
    // kernel tap (the clipped copies left 2 of every 16 floats of the target's second layer, and most of its
    // third's 8, to scalar loops).

    /// <summary>Whether <see cref="PaddedColumns"/> and <see cref="ScatterAddPadded"/> apply: stride 1 along the width.</summary>
    public static bool UsesPadded(in ConvShape s) => s.SW == 1;

    /// <summary>The floats of one padded image, <c>C·(H + 2·pH)·(W + 2·pW)</c>.</summary>
    public static long PaddedLength(in ConvShape s) => (long)s.C * (s.H + 2 * s.PH) * (s.W + 2 * s.PW);

    /// <summary>
    /// Copies image <paramref name="x"/> (<c>[C, H, W]</c>) into <paramref name="padded"/> with its zero border,
    /// or, when <paramref name="x"/> is null, zeroes <paramref name="padded"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pad(in ConvShape s, float* x, float* padded)
    {
        int hp = s.H + 2 * s.PH, wp = s.W + 2 * s.PW;
        new Span<float>(padded, (int)PaddedLength(s)).Clear();
        if (x == null) return;
        for (int c = 0; c < s.C; c++)
            for (int h = 0; h < s.H; h++)
                Copy(x + ((long)c * s.H + h) * s.W, padded + ((long)c * hp + h + s.PH) * wp + s.PW, s.W);
    }

    /// <summary>Copies the inside of <paramref name="padded"/> (the image without its border) into <paramref name="x"/> (<c>[C, H, W]</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Unpad(in ConvShape s, float* padded, float* x)
    {
        int hp = s.H + 2 * s.PH, wp = s.W + 2 * s.PW;
        for (int c = 0; c < s.C; c++)
            for (int h = 0; h < s.H; h++)
                Copy(padded + ((long)c * hp + h + s.PH) * wp + s.PW, x + ((long)c * s.H + h) * s.W, s.W);
    }

    /// <summary><see cref="ScatterAdd"/> into an image padded by <see cref="Pad"/>, at stride 1 along the width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ScatterAddPadded(in ConvShape s, float* cols, int ld, float* padded)
    {
        int ho = s.OutH, wo = s.OutW, hp = s.H + 2 * s.PH, wp = s.W + 2 * s.PW;
        for (int c = 0; c < s.C; c++)
            for (int i = 0; i < s.KH; i++)
                for (int j = 0; j < s.KW; j++)
                {
                    float* src = cols + (long)((c * s.KH + i) * s.KW + j) * ld;
                    float* dst = padded + ((long)c * hp + i) * wp + j;
                    for (int oh = 0; oh < ho; oh++, src += wo) AddTo(src, dst + (long)oh * s.SH * wp, wo);
                }
    }

    // The rows copied are short (an output row: 8 to 32 floats in the target network), so these inline loops beat
    // the library calls, whose fixed cost per call is that of the copy itself.

    /// <summary><c>dst[0..n) = src[0..n)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Copy(float* src, float* dst, int n)
    {
        int i = 0;
        for (; i <= n - 8; i += 8) Vector256.Store(Vector256.Load(src + i), dst + i);
        for (; i < n; i++) dst[i] = src[i];
    }

    /// <summary><c>dst[0..n) += src[0..n)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddTo(float* src, float* dst, int n)
    {
        int i = 0;
        for (; i <= n - 8; i += 8) Vector256.Store(Vector256.Load(dst + i) + Vector256.Load(src + i), dst + i);
        for (; i < n; i++) dst[i] += src[i];
    }

    /// <summary>The output columns <c>[lo, hi)</c> whose input column <c>ow·stride + offset</c> lies in <c>[0, width)</c>.</summary>
    private static void Columns(int offset, int stride, int width, int outW, out int lo, out int hi)
    {
        lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
        // the first ow with ow·stride + offset ≥ width
        int end = width - offset;
        hi = end <= 0 ? 0 : (end + stride - 1) / stride;
        lo = Math.Min(lo, outW);
        hi = Math.Clamp(hi, lo, outW);
    }
}

/// <summary>
/// The column matrix of a group of images (<see cref="Im2Col"/>'s layout: row <c>(c·kH + i)·kW + j</c>, the images'
/// pixels side by side as columns) read from their zero-bordered copies (<see cref="Im2Col.Pad"/>, at stride 1 along
/// the width) rather than written out: <see cref="Gemm"/> packs its panels straight from the images. Entry
/// <c>(d, column)</c> is the padded image's float at <c>Offsets[d]</c> past the column's output pixel's corner, so
/// a run of a panel's columns along one output row is a contiguous run of a padded row. One per scratch, reused.
/// </summary>
internal sealed unsafe class PaddedColumns : PackedOperand
{
    private ConvShape _s;
    private float* _padded;
    private long _stride;
    private int[] _offsets = [];

    /// <summary>Points at the padded images of shape <paramref name="s"/> from <paramref name="padded"/> on, <see cref="Im2Col.PaddedLength"/> floats apart.</summary>
    public void Set(in ConvShape s, float* padded)
    {
        _s = s;
        _padded = padded;
        _stride = Im2Col.PaddedLength(s);
        int depth = s.Depth, hp = s.H + 2 * s.PH, wp = s.W + 2 * s.PW;
        if (_offsets.Length < depth) _offsets = new int[depth];
        for (int c = 0; c < s.C; c++)
            for (int i = 0; i < s.KH; i++)
                for (int j = 0; j < s.KW; j++) _offsets[(c * s.KH + i) * s.KW + j] = (c * hp + i) * wp + j;
    }

    /// <summary>Stops pointing at the images.</summary>
    public void Clear() => _padded = null;

    /// <summary>
    /// Packs rows <c>[ic, ic+mc)</c> × columns <c>[pc, pc+kc)</c> into panels of <see cref="Gemm.MR"/> rows, each
    /// stored column-major and zero-padded: the layout of <see cref="Gemm"/>'s packed A. Eight columns of six rows
    /// at a time are transposed in registers; each transposed vector is stored whole and its last two lanes are
    /// overwritten by the next column's (Gemm's buffer has slack for the very last).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void PackA(float* dst, int ic, int mc, int pc, int kc)
    {
        const int MR = Gemm.MR;
        var s = _s;
        int pixels = s.Pixels, wo = s.OutW, rowStep = s.SH * (s.W + 2 * s.PW);
        fixed (int* offsets = _offsets)
            for (int ir = 0; ir < mc; ir += MR, dst += MR * kc)
            {
                int rows = Math.Min(MR, mc - ir);
                int* off = offsets + ic + ir;
                // the panel's columns in runs along one output row of one image
                for (int p = 0; p < kc;)
                {
                    int column = pc + p, image = column / pixels, q = column - image * pixels, oh = q / wo, ow = q - oh * wo;
                    int run = Math.Min(wo - ow, kc - p);
                    float* src = _padded + image * _stride + (long)oh * rowStep + ow;
                    float* d = dst + p * MR;
                    int t = 0;
                    if (rows == MR && Avx.IsSupported)
                        for (; t + 8 <= run; t += 8)
                        {
                            var z = Vector256<float>.Zero;
                            Gemm.Transpose8(Vector256.Load(src + off[0] + t), Vector256.Load(src + off[1] + t), Vector256.Load(src + off[2] + t),
                                            Vector256.Load(src + off[3] + t), Vector256.Load(src + off[4] + t), Vector256.Load(src + off[5] + t),
                                            z, z, d + t * MR, MR);
                        }
                    for (; t < run; t++)
                        for (int r = 0; r < MR; r++) d[t * MR + r] = r < rows ? src[off[r] + t] : 0f;
                    p += run;
                }
            }
    }

    /// <summary>
    /// Packs depth <c>[pc, pc+kc)</c> × columns <c>[jc, jc+nc)</c> into panels of <paramref name="nr"/> columns,
    /// each stored depth-major and zero-padded: the layout of <see cref="Gemm"/>'s packed B.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void PackB(float* dst, int pc, int kc, int jc, int nc, int nr)
    {
        var s = _s;
        int pixels = s.Pixels, wo = s.OutW, rowStep = s.SH * (s.W + 2 * s.PW);
        fixed (int* offsets = _offsets)
            for (int jr = 0; jr < nc; jr += nr, dst += nr * kc)
            {
                int width = Math.Min(nr, nc - jr);
                // the panel's columns in runs along one output row of one image
                for (int col = 0; col < width;)
                {
                    int column = jc + jr + col, image = column / pixels, q = column - image * pixels, oh = q / wo, ow = q - oh * wo;
                    int run = Math.Min(wo - ow, width - col);
                    float* src = _padded + image * _stride + (long)oh * rowStep + ow;
                    for (int p = 0; p < kc; p++) Im2Col.Copy(src + offsets[pc + p], dst + p * nr + col, run);
                    col += run;
                }
                if (width < nr)
                    for (int p = 0; p < kc; p++)
                        for (int c = width; c < nr; c++) dst[p * nr + c] = 0f;
            }
    }
}
