using System.Numerics;
using System.Runtime.InteropServices;

namespace Optim.CSharp;

/// <summary>
/// A trainable tensor, as <c>torch.nn.Parameter</c>: a live float32 buffer that <see cref="Optimizer.Step"/>
/// updates in place, its shape, and its accumulated gradient.
/// </summary>
public sealed class Parameter
{
    private float[]? _grad;

    /// <summary>Wraps a buffer as a parameter. The buffer is not copied: it is the live value.</summary>
    /// <param name="data">The values, row-major.</param>
    /// <param name="shape">The dimensions; omitted, <c>[data.Length]</c>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> is null.</exception>
    /// <exception cref="ArgumentException">The shape's element count is not <c>data.Length</c>, or an extent is negative.</exception>
    public Parameter(float[] data, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        shape = shape is null || shape.Length == 0 ? [data.Length] : (int[])shape.Clone();
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"Every extent must be 0 or more, but the shape is [{string.Join(", ", shape)}].", nameof(shape));
            n *= d;
        }
        if (n != data.Length)
            throw new ArgumentException($"The shape [{string.Join(", ", shape)}] holds {n} elements, but data has {data.Length}.", nameof(shape));
        Data = data;
        Shape = shape;
    }

    /// <summary>The live values, updated in place by <see cref="Optimizer.Step"/>.</summary>
    public float[] Data { get; }

    /// <summary>The dimensions.</summary>
    public int[] Shape { get; }

    /// <summary>The number of elements.</summary>
    public int Numel => Data.Length;

    /// <summary>
    /// The accumulated gradient, or null when the parameter has none (PyTorch's <c>p.grad is None</c>): then
    /// <see cref="Optimizer.Step"/> leaves the parameter and its state untouched.
    /// </summary>
    /// <exception cref="ArgumentException">On set: the array's length is not <see cref="Numel"/>.</exception>
    public float[]? Grad
    {
        get => _grad;
        set
        {
            if (value is not null && value.Length != Data.Length)
                throw new ArgumentException(
                    $"A gradient of {value.Length} elements does not fit parameter{NameSuffix} of shape [{string.Join(", ", Shape)}] ({Data.Length} elements).",
                    nameof(value));
            _grad = value;
        }
    }

    /// <summary>An optional name, recorded in <see cref="StateDict"/> so that a mis-mapped load fails clearly.</summary>
    public string? Name { get; set; }

    /// <summary>Whether optimizers update this parameter (default true). When false, <see cref="Optimizer.Step"/> skips it.</summary>
    public bool RequiresGrad { get; set; } = true;

    /// <summary>
    /// Adds a gradient into <see cref="Grad"/> (creating it when null), as every <c>backward()</c> does in
    /// PyTorch: gradients accumulate until <see cref="Optimizer.ZeroGrad"/>.
    /// </summary>
    /// <param name="grad">The gradient to add, of length <see cref="Numel"/>.</param>
    /// <exception cref="ArgumentException">The length is not <see cref="Numel"/>; <see cref="Grad"/> is then unchanged.</exception>
    public void AccumulateGrad(ReadOnlySpan<float> grad)
    {
        if (grad.Length != Data.Length)
            throw new ArgumentException(
                $"A gradient of {grad.Length} elements does not fit parameter{NameSuffix} of shape [{string.Join(", ", Shape)}] ({Data.Length} elements).",
                nameof(grad));
        if (_grad is null)
        {
            _grad = grad.ToArray();
            return;
        }
        var acc = _grad.AsSpan();
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var va = MemoryMarshal.Cast<float, Vector<float>>(acc);
            var vg = MemoryMarshal.Cast<float, Vector<float>>(grad);
            for (int k = 0; k < va.Length; k++) va[k] += vg[k];
            i = va.Length * Vector<float>.Count;
        }
        for (; i < acc.Length; i++) acc[i] += grad[i];
    }

    private string NameSuffix => Name is null ? "" : $" '{Name}'";

    /// <inheritdoc />
    public override string ToString() => $"Parameter{NameSuffix}[{string.Join(", ", Shape)}]";
}
