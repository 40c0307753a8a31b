using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Optim.Kernels;

namespace Optim.NN.Kernels;

/// <summary>
/// A 2-D convolution over a batch of NCHW images as im2col plus the packed <see cref="Gemm"/>, forward and backward.
/// Images are taken a few at a time, so that each product has at least <see cref="TargetColumns"/> columns
/// (<c>Y[outC, g·P] = W[outC, D]·cols[D, g·P]</c>, with D = C·kH·kW and P the output pixels of an image), and the
/// batch is split in two halves of images that run on the two threads of <see cref="TwoThreads"/>, each with its own
/// scratch and serial products. The backward pass recomputes the columns rather than keeping them: it forms
/// <c>dW = dY·colsᵀ</c> (as its transpose, summed over the batch, each half into its own buffer, the halves then added
/// in a fixed order),
/// <c>dX = col2im(Wᵀ·dY)</c> and <c>db = Σ dY</c>. At stride 1 along the width (the target network's layers) the
/// column matrix is never written: the images are copied with their zero border and <see cref="Gemm"/> packs its
/// panels straight from them (<see cref="PaddedColumns"/>). Scratch buffers live with the per-thread kernel object and only
/// grow, so that a call in steady state allocates nothing. A batch of one image is not split: its products are large
/// enough for <see cref="Gemm"/> to split them itself.
/// </summary>
internal sealed unsafe class ConvKernel : TwoPartJob
{
    /// <summary>
    /// The columns of one product the images are grouped to reach (fewer images when a half has fewer): 256 keeps a
    /// column matrix of the target's 800 rows in L2 (0.8 MB); 1024 measured slowest, 64 to 512 close to each other.
    /// </summary>
    internal const int TargetColumns = 256;

    [ThreadStatic] private static ConvKernel? _perThread;

    private readonly Scratch[] _scratch = [new(), new()];
    private ConvShape _s;
    private float* _x, _w, _b, _y, _gy, _gx, _gw, _gb;
    private bool _backward, _accX, _split, _padded;
    private int _mid, _group;

    /// <summary>Buffers of one half: column matrix, gathered output or output gradient, column gradient, partial sums, padded image.</summary>
    private sealed class Scratch
    {
        public float[]? Cols, Mat, DCols, DW, DB, Padded, PaddedGrad;
        public readonly PaddedColumns Columns = new();
    }

    /// <summary><c>y = conv(x, w) + b</c>: x is <c>[N, C, H, W]</c>, w <c>[outC, C, kH, kW]</c>, b <c>[outC]</c> or null, y <c>[N, outC, oH, oW]</c>.</summary>
    public static void Forward(in ConvShape s, float[] x, float[] w, float[]? b, float[] y)
    {
        var k = _perThread ??= new ConvKernel();
        fixed (float* px = x, pw = w, pb = b, py = y)
        {
            k.Set(s, backward: false);
            k._x = px; k._w = pw; k._b = pb; k._y = py;
            k.Execute();
        }
    }

    /// <summary>
    /// The gradients of the convolution given the output's gradient <paramref name="gy"/>: each of
    /// <paramref name="gx"/>, <paramref name="gw"/>, <paramref name="gb"/> that is not null is written, or added to
    /// when its <c>acc</c> flag is set.
    /// </summary>
    public static void Backward(in ConvShape s, float[] x, float[] w, float[] gy, float[]? gx, bool accX, float[]? gw, bool accW,
                                float[]? gb, bool accB)
    {
        var k = _perThread ??= new ConvKernel();
        fixed (float* px = x, pw = w, pgy = gy, pgx = gx, pgw = gw, pgb = gb)
        {
            k.Set(s, backward: true);
            k._x = px; k._w = pw; k._gy = pgy; k._gx = pgx; k._accX = accX;
            k._gw = pgw; k._gb = pgb;
            k.Execute();
            int outC = s.OutC, depth = s.Depth;
            if (pgw != null) CombineTransposed(k, new Span<float>(pgw, outC * depth), outC, depth, accW);
            if (pgb != null) Combine(k, sc => sc.DB!, new Span<float>(pgb, outC), accB);
        }
    }

    /// <summary>The gradient of the weight or bias: the halves' partial sums, in order, written or added.</summary>
    private static void Combine(ConvKernel k, Func<Scratch, float[]> partial, Span<float> target, bool accumulate)
    {
        var p0 = partial(k._scratch[0]).AsSpan(0, target.Length);
        if (accumulate) TensorPrimitives.Add(target, p0, target);
        else p0.CopyTo(target);
        if (k._split) TensorPrimitives.Add(target, partial(k._scratch[1]).AsSpan(0, target.Length), target);
    }

    /// <summary>The weight's gradient <c>[outC, D]</c> from the halves' transposed partial sums <c>[D, outC]</c>, written or added.</summary>
    private static void CombineTransposed(ConvKernel k, Span<float> target, int outC, int depth, bool accumulate)
    {
        var p0 = k._scratch[0].DW!;
        var p1 = k._split ? k._scratch[1].DW! : null;
        for (int o = 0; o < outC; o++)
            for (int d = 0; d < depth; d++)
            {
                float v = p0[d * outC + o];
                if (p1 is not null) v += p1[d * outC + o];
                target[o * depth + d] = accumulate ? target[o * depth + d] + v : v;
            }
    }

    private void Set(in ConvShape s, bool backward)
    {
        _s = s;
        _backward = backward;
        _x = _w = _b = _y = _gy = _gx = _gw = _gb = null;
        int pixels = s.Pixels;
        _split = Splits(s);
        _mid = _split ? s.N / 2 : s.N;
        int half = _split ? s.N - _mid : s.N;
        _group = Math.Clamp((TargetColumns + pixels - 1) / Math.Max(pixels, 1), 1, Math.Max(half, 1));
        long columns = (long)_group * pixels;
        if (s.Depth * columns > Array.MaxLength || s.OutC * columns > Array.MaxLength) _group = 1;
        columns = (long)_group * pixels;
        _padded = Im2Col.UsesPadded(s) && !(s.Pointwise && _group == 1);
        for (int part = 0; part < (_split ? 2 : 1); part++)
        {
            var sc = _scratch[part];
            // the one-image, 1×1 case reads and writes the images in place and needs no column matrix
            bool needCols = !(s.Pointwise && _group == 1);
            if (needCols && !_padded) Ensure(ref sc.Cols, s.Depth * columns);
            // a group's images padded side by side; the backward pass scatters into one padded image at a time
            if (_padded) Ensure(ref sc.Padded, _group * Im2Col.PaddedLength(s));
            if (_padded && backward) Ensure(ref sc.PaddedGrad, Im2Col.PaddedLength(s));
            if (_group > 1) Ensure(ref sc.Mat, s.OutC * columns);
            if (backward)
            {
                if (needCols) Ensure(ref sc.DCols, s.Depth * columns);
                Ensure(ref sc.DW, s.OutC * s.Depth);
                Ensure(ref sc.DB, s.OutC);
            }
        }
    }

    /// <summary>Whether a batch is split in two halves of images, one per thread: two images or more, and enough work.</summary>
    internal static bool Splits(in ConvShape s) =>
        s.N >= 2 && TwoThreads.Available && (long)s.OutC * s.Depth * s.N * s.Pixels >= Gemm.ParallelThreshold;

    /// <summary>A pinned scratch buffer of at least <paramref name="length"/> floats; it only grows.</summary>
    private static void Ensure(ref float[]? buffer, long length)
    {
        if (buffer is null || buffer.Length < length) buffer = GC.AllocateUninitializedArray<float>((int)Math.Max(length, 1024), pinned: true);
    }

    private static float* Ptr(float[] pinned) => (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinned));

    private void Execute()
    {
        try
        {
            if (_split) TwoThreads.Run(this);
            else Run(0);
        }
        finally
        {
            _x = _w = _b = _y = _gy = _gx = _gw = _gb = null;
        }
    }

    public override void Run(int part)
    {
        int from = part == 0 ? 0 : _mid, to = part == 0 ? _mid : _s.N;
        if (_backward) BackwardImages(_scratch[part], from, to);
        else ForwardImages(_scratch[part], from, to);
    }

    private void ForwardImages(Scratch sc, int from, int to)
    {
        var s = _s;
        int pixels = s.Pixels, depth = s.Depth, outC = s.OutC;
        long inImage = (long)s.C * s.H * s.W, outImage = (long)outC * pixels;
        for (int n0 = from; n0 < to; n0 += _group)
        {
            int g = Math.Min(_group, to - n0), ld = g * pixels;
            var w = new ReadOnlySpan<float>(_w, outC * depth);
            if (g == 1)
            {
                // straight into the image's output, onto the bias
                float* y = _y + n0 * outImage;
                if (_b != null)
                    for (int o = 0; o < outC; o++) new Span<float>(y + (long)o * pixels, pixels).Fill(_b[o]);
                Product(sc, n0, g, w, new Span<float>(y, (int)outImage), accumulate: _b != null);
                continue;
            }
            float* mat = Ptr(sc.Mat!);
            Product(sc, n0, g, w, new Span<float>(mat, outC * ld), accumulate: false);
            for (int i = 0; i < g; i++)
                for (int o = 0; o < outC; o++)
                {
                    var src = new ReadOnlySpan<float>(mat + (long)o * ld + i * pixels, pixels);
                    var dst = new Span<float>(_y + (n0 + i) * outImage + (long)o * pixels, pixels);
                    if (_b != null) TensorPrimitives.Add(src, _b[o], dst);
                    else src.CopyTo(dst);
                }
        }
    }

    /// <summary>
    /// <c>y (+)= W·cols</c> for images <c>[n0, n0 + g)</c>: at stride 1 along the width the column matrix is never
    /// written, its panels packed straight from the padded images (writing 0.8 MB per image of the target's second
    /// layer and reading it back cost as much as packing it); otherwise it is gathered first.
    /// </summary>
    private void Product(Scratch sc, int n0, int g, ReadOnlySpan<float> w, Span<float> y, bool accumulate)
    {
        var s = _s;
        int ld = g * s.Pixels;
        if (_padded)
        {
            PadGroup(sc, n0, g);
            try { Gemm.Multiply(s.OutC, ld, s.Depth, w, sc.Columns, y, accumulate); }
            finally { sc.Columns.Clear(); }
            return;
        }
        float* cols = ColumnMatrix(sc, n0, g);
        Gemm.Multiply(s.OutC, ld, s.Depth, w, false, new ReadOnlySpan<float>(cols, s.Depth * ld), false, y, accumulate);
    }

    /// <summary>Pads images <c>[n0, n0 + g)</c> side by side into the scratch and points its <see cref="PaddedColumns"/> at them.</summary>
    private void PadGroup(Scratch sc, int n0, int g)
    {
        var s = _s;
        long inImage = (long)s.C * s.H * s.W, paddedLength = Im2Col.PaddedLength(s);
        float* padded = Ptr(sc.Padded!);
        for (int i = 0; i < g; i++) Im2Col.Pad(s, _x + (n0 + i) * inImage, padded + i * paddedLength);
        sc.Columns.Set(s, padded);
    }

    /// <summary>The column matrix of images <c>[n0, n0 + g)</c>, side by side (the image itself for one 1×1 image).</summary>
    private float* ColumnMatrix(Scratch sc, int n0, int g)
    {
        var s = _s;
        long inImage = (long)s.C * s.H * s.W;
        if (s.Pointwise && g == 1) return _x + n0 * inImage;
        float* cols = Ptr(sc.Cols!);
        int ld = g * s.Pixels;
        for (int i = 0; i < g; i++) Im2Col.Gather(s, _x + (n0 + i) * inImage, cols + i * s.Pixels, ld);
        return cols;
    }

    private void BackwardImages(Scratch sc, int from, int to)
    {
        var s = _s;
        int pixels = s.Pixels, depth = s.Depth, outC = s.OutC;
        long inImage = (long)s.C * s.H * s.W, outImage = (long)outC * pixels;
        float* dw = Ptr(sc.DW!), db = Ptr(sc.DB!);
        new Span<float>(db, outC).Clear();
        bool firstW = true;
        // the padded scatter writes each image's gradient whole (below); the others add into a cleared one
        if (_gx != null && !_accX && !_padded) new Span<float>(_gx + from * inImage, (int)((to - from) * inImage)).Clear();
        for (int n0 = from; n0 < to; n0 += _group)
        {
            int g = Math.Min(_group, to - n0), ld = g * pixels;
            // dY of the group as one [outC, g·P] matrix
            float* dy = g == 1 ? _gy + n0 * outImage : Ptr(sc.Mat!);
            if (g > 1)
                for (int i = 0; i < g; i++)
                    for (int o = 0; o < outC; o++)
                        new ReadOnlySpan<float>(_gy + (n0 + i) * outImage + (long)o * pixels, pixels)
                            .CopyTo(new Span<float>(dy + (long)o * ld + i * pixels, pixels));
            var dySpan = new ReadOnlySpan<float>(dy, outC * ld);
            if (_gb != null)
                for (int o = 0; o < outC; o++) db[o] += TensorPrimitives.Sum(dySpan.Slice(o * ld, ld));
            if (_gw != null)
            {
                // dWᵀ[D, outC] (+)= cols[D, g·P]·dYᵀ, dY stored [outC, g·P]: with outC as the product's columns (one
                // or two whole register panels) this runs about 1.4 times as fast as dW = dY·colsᵀ, whose 32 rows
                // leave a partial tile of 6; at stride 1 along the width the columns are packed from the padded
                // images, as in the forward pass
                var dwSpan = new Span<float>(dw, outC * depth);
                if (_padded)
                {
                    PadGroup(sc, n0, g);
                    try { Gemm.Multiply(depth, outC, ld, sc.Columns, dySpan, true, dwSpan, accumulate: !firstW); }
                    finally { sc.Columns.Clear(); }
                }
                else
                {
                    float* cols = ColumnMatrix(sc, n0, g);
                    Gemm.Multiply(depth, outC, ld, new ReadOnlySpan<float>(cols, depth * ld), false, dySpan, true, dwSpan, accumulate: !firstW);
                }
                firstW = false;
            }
            if (_gx != null)
            {
                var w = new ReadOnlySpan<float>(_w, outC * depth);
                if (s.Pointwise && g == 1)
                {
                    // the image's gradient is Wᵀ·dY itself
                    Gemm.Multiply(depth, pixels, outC, w, true, dySpan, false, new Span<float>(_gx + n0 * inImage, (int)inImage), accumulate: true);
                    continue;
                }
                float* dcols = Ptr(sc.DCols!);
                // dcols[D, g·P] = Wᵀ·dY, W stored [outC, D]
                Gemm.Multiply(depth, ld, outC, w, true, dySpan, false, new Span<float>(dcols, depth * ld), accumulate: false);
                for (int i = 0; i < g; i++)
                {
                    float* gx = _gx + (n0 + i) * inImage;
                    if (_padded)
                    {
                        // the sums start from the gradient so far (or 0) and add in ScatterAdd's order: the same floats
                        float* padded = Ptr(sc.PaddedGrad!);
                        Im2Col.Pad(s, _accX ? gx : null, padded);
                        Im2Col.ScatterAddPadded(s, dcols + i * pixels, ld, padded);
                        Im2Col.Unpad(s, padded, gx);
                    }
                    else Im2Col.ScatterAdd(s, dcols + i * pixels, ld, gx);
                }
            }
        }
        if (firstW) new Span<float>(dw, outC * depth).Clear();
    }
}
