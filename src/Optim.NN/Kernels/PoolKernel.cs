using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Optim.Kernels;

namespace Optim.NN.Kernels;

/// <summary>The pooling kinds.</summary>
internal enum PoolKind { Max, Avg }

/// <summary>
/// Max and average pooling over the planes of NCHW images, forward and backward, in PyTorch 1.13's CPU loops: a
/// window is clipped to the input (max pooling pads with nothing; average pooling counts the padding, dividing every
/// window's sum by kH·kW). Max pooling's backward scans each window again, in the same order with the same test, to
/// find the input that won (PyTorch: the first maximum in scan order, or a NaN), so nothing is kept between the
/// passes. The planes are split over the two threads of <see cref="TwoThreads"/> when there are enough of them.
/// </summary>
internal sealed unsafe class PoolKernel : TwoPartJob
{
    /// <summary>Inputs of at least this many elements are split over two threads.</summary>
    internal const int ParallelThreshold = 1 << 16;

    [ThreadStatic] private static PoolKernel? _perThread;

    private ConvShape _s;
    private PoolKind _kind;
    private bool _backward, _overwrite;
    private float* _x, _y, _gy, _gx;
    private int _mid;

    /// <summary>Pools <paramref name="x"/> (<c>[N·C planes of H×W]</c>) into <paramref name="y"/>.</summary>
    public static void Forward(PoolKind kind, in ConvShape s, float[] x, float[] y)
    {
        fixed (float* px = x, py = y) Execute(kind, s, backward: false, px, py, null, null, overwrite: false);
    }

    /// <summary>Adds the gradient of the inputs, given the outputs' <paramref name="gy"/>, into <paramref name="gx"/> (zeroed first unless <paramref name="accumulate"/>).</summary>
    public static void Backward(PoolKind kind, in ConvShape s, float[] x, float[] gy, float[] gx, bool accumulate)
    {
        // 2×2 windows at stride 2 that tile the plane write every input's gradient once, zeros included: no clearing pass
        bool overwrite = !accumulate && kind == PoolKind.Max && Tiles2x2(s);
        if (!accumulate && !overwrite) Array.Clear(gx);
        fixed (float* px = x, pgy = gy, pgx = gx) Execute(kind, s, backward: true, px, null, pgy, pgx, overwrite);
    }

    /// <summary>2×2 windows at stride 2 without padding over a plane of even height and width: each input in exactly one window.</summary>
    private static bool Tiles2x2(in ConvShape s) =>
        s.KH == 2 && s.KW == 2 && s.SH == 2 && s.SW == 2 && s.PH == 0 && s.PW == 0 && s.H % 2 == 0 && s.W % 2 == 0;

    /// <summary>Whether the planes are split in two halves, one per thread.</summary>
    internal static bool Splits(in ConvShape s) =>
        s.N * s.C >= 2 && (long)s.N * s.C * s.H * s.W >= ParallelThreshold && TwoThreads.Available;

    private static void Execute(PoolKind kind, in ConvShape s, bool backward, float* x, float* y, float* gy, float* gx, bool overwrite)
    {
        var k = _perThread ??= new PoolKernel();
        k._s = s; k._kind = kind; k._backward = backward; k._overwrite = overwrite;
        k._x = x; k._y = y; k._gy = gy; k._gx = gx;
        int planes = s.N * s.C;
        try
        {
            if (Splits(s))
            {
                k._mid = planes / 2;
                TwoThreads.Run(k);
            }
            else k.Planes(0, planes);
        }
        finally
        {
            k._x = k._y = k._gy = k._gx = null;
        }
    }

    public override void Run(int part)
    {
        int planes = _s.N * _s.C;
        if (part == 0) Planes(0, _mid);
        else Planes(_mid, planes);
    }

    private void Planes(int from, int to)
    {
        for (int p = from; p < to; p++)
        {
            if (_kind == PoolKind.Max)
            {
                if (_backward) MaxBackward(p);
                else MaxForward(p);
            }
            else if (_backward) AvgBackward(p);
            else AvgForward(p);
        }
    }

    /// <summary>The window of output <c>(oh, ow)</c> clipped to the input: rows <c>[h0, h1)</c>, columns <c>[w0, w1)</c>.</summary>
    private void Window(int oh, int ow, out int h0, out int h1, out int w0, out int w1)
    {
        var s = _s;
        h0 = oh * s.SH - s.PH;
        w0 = ow * s.SW - s.PW;
        h1 = Math.Min(h0 + s.KH, s.H);
        w1 = Math.Min(w0 + s.KW, s.W);
        h0 = Math.Max(h0, 0);
        w0 = Math.Max(w0, 0);
    }

    /// <summary>The index in the plane of a window's maximum, and the maximum, by PyTorch's test (first maximum, or the last NaN).</summary>
    private static int ArgMax(float* plane, int width, int h0, int h1, int w0, int w1, out float max)
    {
        int arg = h0 * width + w0;
        max = float.NegativeInfinity;
        for (int ih = h0; ih < h1; ih++)
        {
            float* row = plane + ih * width;
            for (int iw = w0; iw < w1; iw++)
            {
                float v = row[iw];
                if (v > max || float.IsNaN(v))
                {
                    max = v;
                    arg = ih * width + iw;
                }
            }
        }
        return arg;
    }

    /// <summary>
    /// The scan of <see cref="ArgMax"/> over eight 2×2 windows side by side, whose rows are the 16 floats at
    /// <paramref name="r0"/> and at <paramref name="r1"/>: each window's maximum and the place that won (0, 1: first
    /// row; 2, 3: second), by the same test in the same order. The windows come in the lane order
    /// <c>[0 1 4 5 | 2 3 6 7]</c>, which the in-lane shuffle that separates even from odd columns leaves.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Max2x2(float* r0, float* r1, out Vector256<float> max, out Vector256<int> arg)
    {
        Vector256<float> a0 = Vector256.Load(r0), a1 = Vector256.Load(r0 + 8), b0 = Vector256.Load(r1), b1 = Vector256.Load(r1 + 8);
        max = Avx.Shuffle(a0, a1, 0x88);   // even columns of the first row
        arg = Vector256<int>.Zero;
        Take(ref max, ref arg, Avx.Shuffle(a0, a1, 0xDD), 1);
        Take(ref max, ref arg, Avx.Shuffle(b0, b1, 0x88), 2);
        Take(ref max, ref arg, Avx.Shuffle(b0, b1, 0xDD), 3);
    }

    /// <summary>Where <c>v &gt; max || IsNaN(v)</c>, takes <paramref name="v"/> as the maximum and <paramref name="place"/> as its place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Take(ref Vector256<float> max, ref Vector256<int> arg, Vector256<float> v, int place)
    {
        var wins = Avx.CompareGreaterThan(v, max) | Avx.CompareUnordered(v, v);
        max = Vector256.ConditionalSelect(wins, v, max);
        arg = Vector256.ConditionalSelect(wins.AsInt32(), Vector256.Create(place), arg);
    }

    // compiled fully optimised from the first call: unoptimised, the vector helpers are calls, not instructions
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void MaxForward(int p)
    {
        var s = _s;
        int ho = s.OutH, wo = s.OutW;
        float* x = _x + (long)p * s.H * s.W, y = _y + (long)p * ho * wo;
        if (s.KH == 2 && s.KW == 2 && s.SH == 2 && s.SW == 2 && s.PH == 0 && s.PW == 0)
        {
            // the common 2×2 window at stride 2: the same test, unrolled, 8 windows at a time where vectors allow
            for (int oh = 0; oh < ho; oh++)
            {
                float* r0 = x + 2 * oh * s.W, r1 = r0 + s.W;
                int ow = 0;
                if (Avx2.IsSupported)
                    for (; ow + 8 <= wo; ow += 8)
                    {
                        Max2x2(r0 + 2 * ow, r1 + 2 * ow, out var m, out _);
                        // m is in the lane order [0 1 4 5 | 2 3 6 7] of the windows (see Max2x2)
                        Vector256.Store(Avx2.Permute4x64(m.AsDouble(), 0xD8).AsSingle(), y + oh * wo + ow);
                    }
                for (; ow < wo; ow++)
                {
                    float m = r0[2 * ow];
                    float v = r0[2 * ow + 1];
                    if (v > m || float.IsNaN(v)) m = v;
                    v = r1[2 * ow];
                    if (v > m || float.IsNaN(v)) m = v;
                    v = r1[2 * ow + 1];
                    if (v > m || float.IsNaN(v)) m = v;
                    y[oh * wo + ow] = m;
                }
            }
            return;
        }
        for (int oh = 0; oh < ho; oh++)
            for (int ow = 0; ow < wo; ow++)
            {
                Window(oh, ow, out int h0, out int h1, out int w0, out int w1);
                ArgMax(x, s.W, h0, h1, w0, w1, out float max);
                y[oh * wo + ow] = max;
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void MaxBackward(int p)
    {
        var s = _s;
        int ho = s.OutH, wo = s.OutW;
        long plane = (long)s.H * s.W;
        float* x = _x + p * plane, gx = _gx + p * plane, gy = _gy + (long)p * ho * wo;
        if (_overwrite)
        {
            for (int oh = 0; oh < ho; oh++)
            {
                float* r0 = x + 2 * oh * s.W, r1 = r0 + s.W, g0 = gx + 2 * oh * s.W, g1 = g0 + s.W;
                int ow = 0;
                if (Avx2.IsSupported)
                    for (; ow + 8 <= wo; ow += 8)
                    {
                        int c = 2 * ow;
                        Max2x2(r0 + c, r1 + c, out _, out var arg);
                        // the 8 gradients in Max2x2's lane order [0 1 4 5 | 2 3 6 7]
                        var g = Avx2.Permute4x64(Vector256.Load(gy + oh * wo + ow).AsDouble(), 0xD8).AsSingle();
                        var z = Vector256<int>.Zero;
                        var e0 = Vector256.ConditionalSelect(Vector256.Equals(arg, z).AsSingle(), g, default);
                        var o0 = Vector256.ConditionalSelect(Vector256.Equals(arg, Vector256.Create(1)).AsSingle(), g, default);
                        var e1 = Vector256.ConditionalSelect(Vector256.Equals(arg, Vector256.Create(2)).AsSingle(), g, default);
                        var o1 = Vector256.ConditionalSelect(Vector256.Equals(arg, Vector256.Create(3)).AsSingle(), g, default);
                        // interleaving the even and odd columns back undoes the lane order: inputs c..c+7, then c+8..c+15
                        Vector256.Store(Avx.UnpackLow(e0, o0), g0 + c);
                        Vector256.Store(Avx.UnpackHigh(e0, o0), g0 + c + 8);
                        Vector256.Store(Avx.UnpackLow(e1, o1), g1 + c);
                        Vector256.Store(Avx.UnpackHigh(e1, o1), g1 + c + 8);
                    }
                for (; ow < wo; ow++)
                {
                    // ArgMax's scan of the window, unrolled: the first maximum in row-major order, or the last NaN
                    int c = 2 * ow, arg = 0;
                    float m = r0[c], v = r0[c + 1];
                    if (v > m || float.IsNaN(v)) { m = v; arg = 1; }
                    v = r1[c];
                    if (v > m || float.IsNaN(v)) { m = v; arg = 2; }
                    v = r1[c + 1];
                    if (v > m || float.IsNaN(v)) arg = 3;
                    float g = gy[oh * wo + ow];
                    g0[c] = arg == 0 ? g : 0f;
                    g0[c + 1] = arg == 1 ? g : 0f;
                    g1[c] = arg == 2 ? g : 0f;
                    g1[c + 1] = arg == 3 ? g : 0f;
                }
            }
            return;
        }
        for (int oh = 0; oh < ho; oh++)
            for (int ow = 0; ow < wo; ow++)
            {
                Window(oh, ow, out int h0, out int h1, out int w0, out int w1);
                gx[ArgMax(x, s.W, h0, h1, w0, w1, out _)] += gy[oh * wo + ow];
            }
    }

    private void AvgForward(int p)
    {
        var s = _s;
        int ho = s.OutH, wo = s.OutW;
        float* x = _x + (long)p * s.H * s.W, y = _y + (long)p * ho * wo;
        float count = s.KH * s.KW;
        for (int oh = 0; oh < ho; oh++)
            for (int ow = 0; ow < wo; ow++)
            {
                Window(oh, ow, out int h0, out int h1, out int w0, out int w1);
                float sum = 0f;
                for (int ih = h0; ih < h1; ih++)
                {
                    float* row = x + ih * s.W;
                    for (int iw = w0; iw < w1; iw++) sum += row[iw];
                }
                y[oh * wo + ow] = sum / count;
            }
    }

    private void AvgBackward(int p)
    {
        var s = _s;
        int ho = s.OutH, wo = s.OutW;
        long plane = (long)s.H * s.W;
        float* gx = _gx + p * plane, gy = _gy + (long)p * ho * wo;
        float count = s.KH * s.KW;
        for (int oh = 0; oh < ho; oh++)
            for (int ow = 0; ow < wo; ow++)
            {
                Window(oh, ow, out int h0, out int h1, out int w0, out int w1);
                float g = gy[oh * wo + ow] / count;
                for (int ih = h0; ih < h1; ih++)
                {
                    float* row = gx + ih * s.W;
                    for (int iw = w0; iw < w1; iw++) row[iw] += g;
                }
            }
    }
}
