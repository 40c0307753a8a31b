namespace Optim.Gpu;

// Each struct is one block of Optim.Core's Ops on one element: the expression of that block's scalar loop, in its order.
// S: the block's first scalar in the row; B: its first state slot; F: its structural switches (ElementwiseOp.Flags).
// The CPU's `x·1` and `1·x` are exact, so each op's output is the value the CPU kernel passes to its store.

/// <summary>scale, learning rate, schedule: `u = s·x` (a factor of 1 leaves x as it is, as the CPU kernel does).</summary>
internal struct ScaleElement : IElementOp
{
    public int S;
    public float Apply(ref Element e, float x, float p) { float s = e.S(S); return s != 1.0f ? s * x : x; }
}

/// <summary>addWeightDecay, or decoupledWeightDecay not deferred to the apply stage: `u = x + c·p`.</summary>
internal struct AddScaledParamElement : IElementOp
{
    public int S;
    public float Apply(ref Element e, float x, float p) { float c = e.S(S); return c != 0.0f ? x + c * p : x; }
}

/// <summary>A block whose kernel passes the updates through (applyIfFinite's gate).</summary>
internal struct PassElement : IElementOp
{
    public float Apply(ref Element e, float x, float p) => x;
}

/// <summary>trace: SGD's momentum (`b = x` at first, then `μb + (1-τ)x`; out `b`, or `x + μb` with Nesterov).</summary>
internal struct TraceElement : IElementOp
{
    public int S, B, F;
    public float Apply(ref Element e, float x, float p)
    {
        float mu = e.S(S), keep = e.S(S + 1);
        float b = e.S(S + 2) == 1.0f ? x : e.Read(B) * mu + keep * x;
        e.Write(B, b);
        return (F & 1) != 0 ? x + mu * b : b;
    }
}

/// <summary>traceByLerp: Muon's momentum, `b = lerp(b, x, 1-μ)`, out `lerp(x, b, μ)` with Nesterov, else `b`.</summary>
internal struct LerpTraceElement : IElementOp
{
    public int S, B, F;

    private static float Lerp(bool small, float w, float omw, float s, float t) =>
        small ? MathF.FusedMultiplyAdd(w, t - s, s) : MathF.FusedMultiplyAdd(s - t, omw, t);

    public float Apply(ref Element e, float x, float p)
    {
        float w = e.S(S), omw = e.S(S + 1), m = e.S(S + 2), omm = e.S(S + 3);
        float b = Lerp(MathF.Abs(w) < 0.5f, w, omw, e.Read(B), x);
        e.Write(B, b);
        return (F & 1) != 0 ? Lerp(MathF.Abs(m) < 0.5f, m, omm, x, b) : b;
    }
}

/// <summary>The moments Adam, NAdam and RAdam share (scalars β₁, 1-β₁, β₂, 1-β₂ from S; buffers m, v from B), written back.</summary>
internal static class Moments
{
    public static (float M, float V) Update(ref Element e, int s, int b, float x)
    {
        float m = e.Read(b) * e.S(s) + e.S(s + 1) * x;
        float v = e.Read(b + 1) * e.S(s + 2) + e.S(s + 3) * x * x;
        e.Write(b, m);
        e.Write(b + 1, v);
        return (m, v);
    }
}

/// <summary>scaleByAdam: the moments, AMSGrad's maximum, `(c·m) / (√v̂ / √(1-β₂ᵗ) + ε)`.</summary>
internal struct AdamElement : IElementOp
{
    public int S, B, F;
    public float Apply(ref Element e, float x, float p)
    {
        var (m, v) = Moments.Update(ref e, S, B, x);
        float h = v;
        if ((F & 1) != 0)
        {
            h = MathF.Max(e.Read(B + 2), v);
            e.Write(B + 2, h);
        }
        return (e.S(S + 6) * m) / (MathF.Sqrt(h) / e.S(S + 4) + e.S(S + 5));
    }
}

/// <summary>scaleByRss: Adagrad's sum of squares, `(c·x) / (√s + ε)`.</summary>
internal struct RssElement : IElementOp
{
    public int S, B;
    public float Apply(ref Element e, float x, float p)
    {
        float s = e.Read(B) + x * x;
        e.Write(B, s);
        return (e.S(S + 1) * x) / (MathF.Sqrt(s) + e.S(S));
    }
}

/// <summary>scaleByRms: RMSprop's mean square (centered: minus the squared mean), `(c·x) / (√v + ε)`.</summary>
internal struct RmsElement : IElementOp
{
    public int S, B, F;
    public float Apply(ref Element e, float x, float p)
    {
        float a = e.S(S), oma = e.S(S + 1), eps = e.S(S + 2);
        float v = e.Read(B) * a + oma * x * x;
        e.Write(B, v);
        float den;
        if ((F & 1) != 0)
        {
            float m = e.Read(B + 1) * a + oma * x;
            e.Write(B + 1, m);
            den = MathF.Sqrt(v - m * m) + eps;
        }
        else den = MathF.Sqrt(v) + eps;
        return (e.S(S + 3) * x) / den;
    }
}

/// <summary>scaleByAdadelta: `v = ρv + (1-ρ)x²`, `δ = √(a + ε)/√(v + ε)·x`, `a = ρa + (1-ρ)δ²`.</summary>
internal struct AdadeltaElement : IElementOp
{
    public int S, B;
    public float Apply(ref Element e, float x, float p)
    {
        float r = e.S(S), omr = e.S(S + 1), eps = e.S(S + 2);
        float v = e.Read(B) * r + omr * x * x;
        e.Write(B, v);
        float a = e.Read(B + 1);
        float delta = MathF.Sqrt(a + eps) / MathF.Sqrt(v + eps) * x;
        e.Write(B + 1, a * r + omr * delta * delta);
        return delta;
    }
}

/// <summary>scaleByAdamax: `m = β₁m + (1-β₁)x`, `w = max(β₂w, |x| + ε)`, `(c·m) / w`.</summary>
internal struct AdamaxElement : IElementOp
{
    public int S, B;
    public float Apply(ref Element e, float x, float p)
    {
        float m = e.Read(B) * e.S(S) + e.S(S + 1) * x;
        float w = MathF.Max(e.Read(B + 1) * e.S(S + 2), MathF.Abs(x) + e.S(S + 3));
        e.Write(B, m);
        e.Write(B + 1, w);
        return (e.S(S + 4) * m) / w;
    }
}

/// <summary>scaleByNadam: Adam's moments, `(c₁·x + c₂·m) / (√(v / (1-β₂ᵗ)) + ε)`.</summary>
internal struct NadamElement : IElementOp
{
    public int S, B;
    public float Apply(ref Element e, float x, float p)
    {
        var (m, v) = Moments.Update(ref e, S, B, x);
        return (e.S(S + 6) * x + e.S(S + 7) * m) / (MathF.Sqrt(v * e.S(S + 4)) + e.S(S + 5));
    }
}

/// <summary>scaleByRadam: Adam's moments; rectified `(c·m) / (√v + ε)`, else `c·m`.</summary>
internal struct RadamElement : IElementOp
{
    public int S, B;
    public float Apply(ref Element e, float x, float p)
    {
        var (m, v) = Moments.Update(ref e, S, B, x);
        float step = e.S(S + 5);
        return e.S(S + 6) == 1.0f ? (step * m) / (MathF.Sqrt(v) + e.S(S + 4)) : step * m;
    }
}

/// <summary>scaleByAsgdLearningRate: `u = -η·x`, plus `-λη·p` when the decay is not deferred to the apply stage.</summary>
internal struct AsgdRateElement : IElementOp
{
    public int S;
    public float Apply(ref Element e, float x, float p)
    {
        float u = e.S(S) * x;
        float decay = e.S(S + 1);
        return decay != 0.0f ? u + decay * p : u;
    }
}

/// <summary>averageIterates: `x̄ = p'` while μ = 1, then `x̄ + (p' - x̄)·μ`; the updates pass through.</summary>
internal struct AverageIteratesElement : IElementOp
{
    public int S, B;
    public float Apply(ref Element e, float x, float p)
    {
        if (e.S(S + 1) == 1.0f) e.Write(B, p);
        else
        {
            float a = e.Read(B);
            e.Write(B, a + (p - a) * e.S(S));
        }
        return x;
    }
}

/// <summary>scaleByRprop: step sizes grown by η₊ while the sign holds, shrunk by η₋ when it flips; `sign(x)·s`.</summary>
internal struct RpropElement : IElementOp
{
    public int S, B;
    public float Apply(ref Element e, float x, float p)
    {
        float q = x * e.Read(B);
        float factor = q > 0.0f ? e.S(S + 1) : q < 0.0f ? e.S(S) : 1.0f;
        float s = MathF.Min(MathF.Max(e.Read(B + 1) * factor, e.S(S + 2)), e.S(S + 3));
        float kept = q < 0.0f ? 0.0f : x;
        e.Write(B + 1, s);
        e.Write(B, kept);
        return kept > 0.0f ? s : kept < 0.0f ? -s : 0.0f;
    }
}

/// <summary>scaleByLion: `sign(β₁m + (1-β₁)x)`, then `m = β₂m + (1-β₂)x`.</summary>
internal struct LionElement : IElementOp
{
    public int S, B;
    public float Apply(ref Element e, float x, float p)
    {
        float m = e.Read(B);
        float y = m * e.S(S) + e.S(S + 1) * x;
        e.Write(B, m * e.S(S + 2) + e.S(S + 3) * x);
        return y > 0.0f ? 1.0f : y < 0.0f ? -1.0f : 0.0f;
    }
}

/// <summary>clipByValue: `clamp(x, -c, c)`.</summary>
internal struct ClipByValueElement : IElementOp
{
    public int S;
    public float Apply(ref Element e, float x, float p)
    {
        float hi = e.S(S);
        return MathF.Min(MathF.Max(x, -hi), hi);
    }
}

/// <summary>zeroNans: a NaN becomes 0.</summary>
internal struct ZeroNansElement : IElementOp
{
    public float Apply(ref Element e, float x, float p) => float.IsNaN(x) ? 0.0f : x;
}

/// <summary>clipByGlobalNorm: `x·c`, with the coefficient the host reduced (1: unchanged).</summary>
internal struct ClipByGlobalNormElement : IElementOp
{
    public int S;
    public float Apply(ref Element e, float x, float p) { float c = e.S(S); return c == 1.0f ? x : x * c; }
}

/// <summary>multiSteps's accumulator: held, `acc = x` (mode 0) or `acc + x` (1); released, `x/k` (2), `(acc + x)/k` (3),
/// `acc/k` (4, no gradient at this call).</summary>
internal struct AccumulateElement : IElementOp
{
    public int S, B;
    public float Apply(ref Element e, float x, float p)
    {
        float mode = e.S(S), k = e.S(S + 1);
        if (mode == 0.0f) { e.Write(B, x); return x; }
        if (mode == 1.0f) { e.Write(B, e.Read(B) + x); return x; }
        float sum = mode == 2.0f ? x : mode == 3.0f ? e.Read(B) + x : e.Read(B);
        return sum / k;
    }
}
