using System.Numerics;

namespace Optim.NN;

/// <summary>
/// The averaging rules of <c>torch.optim.swa_utils</c>, in float32 and in PyTorch's order of operations, in place over
/// the averaged values: the one home of the math that <see cref="AveragedModel"/> and <see cref="SwaUtils"/>'s
/// functions run. Vector lanes compute exactly what the scalar loop does (no fused multiply-add).
/// </summary>
internal static class Averaging
{
    /// <summary>
    /// <c>avg ← avg + (x − avg) / divisor</c>, <c>divisor = n_averaged + 1</c> (<c>get_swa_avg_fn</c>, and
    /// <see cref="AveragedModel"/>'s default on the CPU).
    /// </summary>
    public static void Swa(Span<float> avg, ReadOnlySpan<float> x, float divisor)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var d = new Vector<float>(divisor);
            for (; i <= avg.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var a = new Vector<float>(avg[i..]);
                (a + (new Vector<float>(x[i..]) - a) / d).CopyTo(avg[i..]);
            }
        }
        for (; i < avg.Length; i++) avg[i] += (x[i] - avg[i]) / divisor;
    }

    /// <summary><c>avg ← decay·avg + (1 − decay)·x</c> (<c>get_ema_avg_fn</c>), both factors rounded to float32 first.</summary>
    public static void Ema(Span<float> avg, ReadOnlySpan<float> x, double decay)
    {
        float keep = (float)decay, take = (float)(1 - decay);
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var k = new Vector<float>(keep);
            var t = new Vector<float>(take);
            for (; i <= avg.Length - Vector<float>.Count; i += Vector<float>.Count)
                (k * new Vector<float>(avg[i..]) + t * new Vector<float>(x[i..])).CopyTo(avg[i..]);
        }
        for (; i < avg.Length; i++) avg[i] = keep * avg[i] + take * x[i];
    }

    /// <summary>
    /// <c>avg ← lerp(avg, x, w)</c> as <c>torch.lerp</c> computes it: <c>avg + w·(x − avg)</c> for <c>|w| &lt; 0.5</c>,
    /// else <c>x − (x − avg)·(1 − w)</c> (<c>get_ema_multi_avg_fn</c>, <c>get_swa_multi_avg_fn</c>).
    /// </summary>
    public static void Lerp(Span<float> avg, ReadOnlySpan<float> x, float w)
    {
        bool low = MathF.Abs(w) < 0.5f;
        float rest = 1f - w;
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var wv = new Vector<float>(w);
            var rv = new Vector<float>(rest);
            for (; i <= avg.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var a = new Vector<float>(avg[i..]);
                var e = new Vector<float>(x[i..]);
                (low ? a + wv * (e - a) : e - (e - a) * rv).CopyTo(avg[i..]);
            }
        }
        for (; i < avg.Length; i++) avg[i] = low ? avg[i] + w * (x[i] - avg[i]) : x[i] - (x[i] - avg[i]) * rest;
    }

    /// <summary>Rounds toward zero, as a copy into an int64 tensor does (a counter's average).</summary>
    public static void Truncate(Span<float> values)
    {
        for (int i = 0; i < values.Length; i++) values[i] = MathF.Truncate(values[i]);
    }
}
