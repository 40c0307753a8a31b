using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Optim.CSharp;

/// <summary>
/// Gradient clipping over parameters, as <c>torch.nn.utils.clip_grad_norm_</c> and <c>clip_grad_value_</c> (PyTorch
/// 1.13): call it between the backward pass and <see cref="Optimizer.Step"/>. Gradients are changed in place;
/// parameters without a gradient (<see cref="Parameter.Grad"/> null) are skipped.
/// </summary>
/// <example>
/// <code>
/// optimizer.ZeroGrad();
/// // forward, then backward: p.AccumulateGrad(...) for every parameter
/// double norm = ClipGrad.ClipGradNorm(model.Parameters(), maxNorm: 1.0);
/// optimizer.Step();
/// </code>
/// </example>
public static class ClipGrad
{
    /// <summary>
    /// Rescales the gradients so that their total norm (the norm of all of them concatenated into one vector) is at most
    /// <paramref name="maxNorm"/>, as <c>torch.nn.utils.clip_grad_norm_</c>: with <c>n</c> the norm of the per-parameter
    /// norms, every gradient is multiplied by <c>min(1, maxNorm / (n + 1e-6))</c>.
    /// </summary>
    /// <remarks>
    /// The arithmetic is PyTorch's, in float32, element for element: each norm is computed as PyTorch's CPU kernel computes
    /// it (for the 2-norm, eight float32 lanes of fused multiply-adds), the coefficient as PyTorch evaluates
    /// <c>max_norm / (total_norm + 1e-6)</c> on a float32 tensor (a reciprocal, then a product), clamped to 1, and the
    /// gradients are multiplied by it even when it is 1. A NaN or infinite gradient makes the total NaN or infinite; the
    /// gradients are then scaled by the resulting coefficient (NaN, or 0), as PyTorch does, unless
    /// <paramref name="errorIfNonfinite"/>. An empty gradient has norm 0 (PyTorch's infinity norm fails on one).
    /// </remarks>
    /// <param name="parameters">The parameters; each may appear once (one that appears twice is scaled twice, as in PyTorch).</param>
    /// <param name="maxNorm">The largest total norm allowed: 0 or more, and not NaN (infinity: no clipping).</param>
    /// <param name="normType">The order of the norm: more than 0 (2 is the Euclidean norm), or <see cref="double.PositiveInfinity"/>
    /// for the largest absolute value.</param>
    /// <param name="errorIfNonfinite">Throw, changing nothing, when the total norm is NaN or infinite.</param>
    /// <returns>The total norm of the gradients before clipping (a float32 value); 0 when no parameter has a gradient.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> or one of its items is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxNorm"/> is negative or NaN, or <paramref name="normType"/>
    /// is 0 or less or NaN.</exception>
    /// <exception cref="ArgumentException">A parameter has a sparse gradient (<see cref="Parameter.AccumulateSparseGrad"/>); nothing is changed.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="errorIfNonfinite"/> is set and the total norm is NaN or
    /// infinite; nothing is changed.</exception>
    /// <example>
    /// With gradients <c>[3, 4]</c> and <c>[12]</c> (total 2-norm 13), <c>ClipGradNorm(ps, 6.5)</c> returns 13 and leaves
    /// <c>[1.5, 2]</c> and <c>[6]</c>, within float32 rounding.
    /// </example>
    public static double ClipGradNorm(IEnumerable<Parameter> parameters, double maxNorm, double normType = 2.0, bool errorIfNonfinite = false)
    {
        if (double.IsNaN(maxNorm) || maxNorm < 0)
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, $"Invalid maxNorm value: {maxNorm}; it must be 0 or more.");
        if (double.IsNaN(normType) || normType <= 0)
            throw new ArgumentOutOfRangeException(nameof(normType), normType,
                $"Invalid normType value: {normType}; it must be more than 0, or double.PositiveInfinity.");
        var grads = Gradients(parameters);
        if (grads.Count == 0) return 0.0;

        var norms = new float[grads.Count];
        for (int k = 0; k < grads.Count; k++) norms[k] = Norm(grads[k], normType);
        // torch.norm(torch.stack(norms), p), or the max of the norms for p = inf
        float total = Norm(norms, normType);
        if (errorIfNonfinite && !float.IsFinite(total))
            throw new InvalidOperationException(
                $"The total norm of order {PythonFloat(normType)} for gradients from `parameters` is non-finite, so it cannot be clipped. " +
                "To disable this error and scale the gradients by the non-finite norm anyway, set `errorIfNonfinite: false`");

        // max_norm / (total_norm + 1e-6) on a float32 tensor is reciprocal(total_norm + 1e-6) * max_norm
        float coef = MathF.Min(1f / (total + 1e-6f) * (float)maxNorm, 1f);
        foreach (var g in grads)
            for (int i = 0; i < g.Length; i++) g[i] *= coef;
        return total;
    }

    /// <summary>
    /// Clamps every gradient element into <c>[-clipValue, clipValue]</c>, as <c>torch.nn.utils.clip_grad_value_</c>
    /// (a NaN element stays NaN).
    /// </summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="clipValue">The bound: 0 or more, and not NaN.</param>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> or one of its items is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="clipValue"/> is negative or NaN.</exception>
    /// <exception cref="ArgumentException">A parameter has a sparse gradient; nothing is changed.</exception>
    /// <example><c>ClipGradValue(ps, 0.5)</c> turns a gradient <c>[0.2, -3, 0.7]</c> into <c>[0.2, -0.5, 0.5]</c>.</example>
    public static void ClipGradValue(IEnumerable<Parameter> parameters, double clipValue)
    {
        if (double.IsNaN(clipValue) || clipValue < 0)
            throw new ArgumentOutOfRangeException(nameof(clipValue), clipValue, $"Invalid clipValue value: {clipValue}; it must be 0 or more.");
        float c = (float)clipValue;
        foreach (var g in Gradients(parameters))
            for (int i = 0; i < g.Length; i++) g[i] = Math.Clamp(g[i], -c, c);
    }

    /// <summary>The dense gradients of the parameters that have one, checked before anything changes.</summary>
    private static List<float[]> Gradients(IEnumerable<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var grads = new List<float[]>();
        foreach (var p in parameters)
        {
            if (p is null) throw new ArgumentNullException(nameof(parameters), "The parameters cannot include null.");
            if (p.HasSparseGrad)
                throw new ArgumentException($"{p} has a sparse gradient; gradient clipping takes dense gradients only.", nameof(parameters));
            if (p.Grad is { } g) grads.Add(g);
        }
        return grads;
    }

    /// <summary>The p-norm of a float32 vector as PyTorch 1.13's CPU kernels compute <c>torch.norm(x, p)</c> (or <c>x.abs().max()</c> for p = inf).</summary>
    private static float Norm(ReadOnlySpan<float> x, double p)
    {
        if (x.Length == 0) return 0f;
        // a tensor of one element: |x| (linalg_vector_norm's shortcut)
        if (x.Length == 1) return MathF.Abs(x[0]);
        if (double.IsPositiveInfinity(p))
        {
            float max = 0f;
            foreach (var v in x)
            {
                float a = MathF.Abs(v);
                if (float.IsNaN(a)) return a;
                if (a > max) max = a;
            }
            return max;
        }
        if (p == 2) return Norm2(x);
        float sum = 0f;
        if (p == 1)
        {
            foreach (var v in x) sum += MathF.Abs(v);
            return sum;
        }
        float pf = (float)p;
        foreach (var v in x) sum += MathF.Pow(MathF.Abs(v), pf);
        return MathF.Pow(sum, 1f / pf);
    }

    /// <summary>
    /// The 2-norm as PyTorch 1.13's vectorised CPU kernel (its AVX2 build, Debian's) computes it: over whole blocks of
    /// eight, eight float32 lanes of fused multiply-adds; the lanes summed in order; then the rest in order, the first
    /// four squares rounded before they are added (the compiler vectorises them), the others fused; the square root in float32.
    /// </summary>
    /// <param name="x">The vector.</param>
    /// <param name="useFma">Whether to run the blocks on the processor's FMA unit (else one lane at a time); both give the same bits.</param>
    internal static float Norm2(ReadOnlySpan<float> x, bool useFma = true)
    {
        int n = x.Length, d = 0;
        Span<float> lanes = stackalloc float[8];
        lanes.Clear();
        if (useFma && Fma.IsSupported)
        {
            var acc = Vector256<float>.Zero;
            ref float start = ref MemoryMarshal.GetReference(x);
            for (; d + 8 <= n; d += 8)
            {
                var v = Vector256.LoadUnsafe(ref start, (nuint)d);
                acc = Fma.MultiplyAdd(v, v, acc);
            }
            acc.CopyTo(lanes);
        }
        else
        {
            for (; d + 8 <= n; d += 8)
                for (int j = 0; j < 8; j++) lanes[j] = MathF.FusedMultiplyAdd(x[d + j], x[d + j], lanes[j]);
        }
        float s = lanes[0];
        for (int j = 1; j < 8; j++) s += lanes[j];
        if (n - d >= 4)
        {
            for (int end = d + 4; d < end; d++) s += x[d] * x[d];
        }
        for (; d < n; d++) s = MathF.FusedMultiplyAdd(x[d], x[d], s);
        return MathF.Sqrt(s);
    }

    /// <summary>A norm order as Python prints a float (<c>2.0</c>, <c>inf</c>), for PyTorch's message.</summary>
    private static string PythonFloat(double x) =>
        double.IsPositiveInfinity(x) ? "inf"
        : x == Math.Floor(x) && Math.Abs(x) < 1e16 ? x.ToString("0.0", CultureInfo.InvariantCulture)
        : x.ToString("R", CultureInfo.InvariantCulture);
}
