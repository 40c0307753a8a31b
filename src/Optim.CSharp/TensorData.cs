namespace Optim.CSharp;

/// <summary>
/// A tensor's values and shape as a checkpoint file holds them: <c>float32</c> (weights, buffers), <c>float64</c>, or
/// <c>int64</c> (as PyTorch's <c>num_batches_tracked</c>), contiguous, in row-major order. It is a plain value for
/// moving weights in and out of files; it shares no memory with what it was built from.
/// </summary>
/// <example>
/// <code>
/// var w = new TensorData(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);   // a 2×3 float32 tensor
/// var n = new TensorData(new long[] { 10 });                         // a 1-element int64 tensor of shape [1]
/// var s = TensorData.Scalar(0.5f);                                   // a 0-dimensional tensor, shape []
/// </code>
/// </example>
public sealed class TensorData
{
    /// <summary>The most dimensions a tensor may have (PyTorch allows 64 too).</summary>
    public const int MaxRank = 64;

    private readonly Array _data;
    private readonly int[] _shape;

    /// <summary>A float32 tensor; its values are copied.</summary>
    /// <param name="data">The values, row-major.</param>
    /// <param name="shape">The shape; omitted: <c>[data.Length]</c>. Use <see cref="Scalar(float)"/> for shape <c>[]</c>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> or <paramref name="shape"/> is null.</exception>
    /// <exception cref="ArgumentException">A dimension is negative, or the shape's element count is not <c>data.Length</c>.</exception>
    public TensorData(float[] data, params int[] shape) : this(Copy(data), shape, "float32", vector: true) { }

    /// <summary>A float64 tensor; its values are copied.</summary>
    /// <param name="data">The values, row-major.</param>
    /// <param name="shape">The shape; omitted: <c>[data.Length]</c>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> or <paramref name="shape"/> is null.</exception>
    /// <exception cref="ArgumentException">A dimension is negative, or the shape's element count is not <c>data.Length</c>.</exception>
    public TensorData(double[] data, params int[] shape) : this(Copy(data), shape, "float64", vector: true) { }

    /// <summary>An int64 tensor; its values are copied.</summary>
    /// <param name="data">The values, row-major.</param>
    /// <param name="shape">The shape; omitted: <c>[data.Length]</c>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> or <paramref name="shape"/> is null.</exception>
    /// <exception cref="ArgumentException">A dimension is negative, or the shape's element count is not <c>data.Length</c>.</exception>
    public TensorData(long[] data, params int[] shape) : this(Copy(data), shape, "int64", vector: true) { }

    // vector: an empty shape means [data.Length] (the public constructors' params default)
    private TensorData(Array data, int[] shape, string dtype, bool vector)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Length == 0 && vector) shape = [data.Length];
        if (shape.Length > MaxRank) throw new ArgumentException($"A tensor has at most {MaxRank} dimensions, but the shape has {shape.Length}.", nameof(shape));
        long numel = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"The shape [{string.Join(", ", shape)}] has a negative dimension.", nameof(shape));
            // capped past int.MaxValue, which no array reaches, so the product cannot overflow
            numel = Math.Min(numel * d, (long)int.MaxValue + 1);
        }
        if (numel != data.Length)
            throw new ArgumentException($"The shape [{string.Join(", ", shape)}] holds {numel} elements, but the data has {data.Length}.", nameof(shape));
        _data = data;
        _shape = (int[])shape.Clone();
        DType = dtype;
    }

    /// <summary>A 0-dimensional float32 tensor (shape <c>[]</c>), as PyTorch's <c>torch.tensor(x)</c>.</summary>
    /// <param name="value">Its value.</param>
    public static TensorData Scalar(float value) => Wrap(new[] { value }, [], "float32");

    /// <summary>A 0-dimensional float64 tensor (shape <c>[]</c>).</summary>
    /// <param name="value">Its value.</param>
    public static TensorData Scalar(double value) => Wrap(new[] { value }, [], "float64");

    /// <summary>A 0-dimensional int64 tensor (shape <c>[]</c>).</summary>
    /// <param name="value">Its value.</param>
    public static TensorData Scalar(long value) => Wrap(new[] { value }, [], "int64");

    /// <summary>Wraps an array the caller gives up (no copy); a shape of <c>[]</c> stays 0-dimensional.</summary>
    internal static TensorData Wrap(Array data, int[] shape, string dtype) => new(data, shape, dtype, vector: false);

    /// <summary>The element type, by PyTorch's name without <c>torch.</c>: <c>"float32"</c>, <c>"float64"</c> or <c>"int64"</c>.</summary>
    public string DType { get; }

    /// <summary>The shape (a copy); <c>[]</c> for a 0-dimensional tensor.</summary>
    public int[] Shape => (int[])_shape.Clone();

    /// <summary>The number of elements.</summary>
    public int Numel => _data.Length;

    /// <summary>The values as float32 (a copy; float64 and int64 values are rounded to the nearest float32).</summary>
    public float[] ToFloat32() => _data switch
    {
        float[] f => (float[])f.Clone(),
        double[] d => Array.ConvertAll(d, x => (float)x),
        long[] l => Array.ConvertAll(l, x => (float)x),
        _ => throw new InvalidOperationException(),
    };

    /// <summary>The values as float64 (a copy; exact for float32, rounded for int64 beyond 2⁵³).</summary>
    public double[] ToFloat64() => _data switch
    {
        float[] f => Array.ConvertAll(f, x => (double)x),
        double[] d => (double[])d.Clone(),
        long[] l => Array.ConvertAll(l, x => (double)x),
        _ => throw new InvalidOperationException(),
    };

    /// <summary>The values of an int64 tensor (a copy).</summary>
    /// <exception cref="InvalidOperationException">The tensor is not int64.</exception>
    public long[] ToInt64() => _data is long[] l
        ? (long[])l.Clone()
        : throw new InvalidOperationException($"This tensor is {DType}, not int64; read it with ToFloat32 or ToFloat64.");

    /// <summary>The live array, for the file writer.</summary>
    internal Array Raw => _data;

    /// <summary>Whether <paramref name="other"/> has the same type, shape and bit-identical values.</summary>
    /// <param name="other">The tensor to compare with.</param>
    public bool ContentEquals(TensorData? other)
    {
        if (other is null || other.DType != DType || !other._shape.AsSpan().SequenceEqual(_shape)) return false;
        return _data switch
        {
            float[] f => Bits(f).SequenceEqual(Bits((float[])other._data)),
            double[] d => Bits(d).SequenceEqual(Bits((double[])other._data)),
            long[] l => l.AsSpan().SequenceEqual((long[])other._data),
            _ => false,
        };
    }

    private static ReadOnlySpan<byte> Bits<T>(T[] a) where T : struct => System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan());

    /// <inheritdoc />
    public override string ToString() => $"TensorData({DType}, [{string.Join(", ", _shape)}])";

    private static T[] Copy<T>(T[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return (T[])data.Clone();
    }
}
