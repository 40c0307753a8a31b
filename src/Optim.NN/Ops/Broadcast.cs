using System.Numerics.Tensors;

namespace Optim.NN.Ops;

/// <summary>An operand's strides over a broadcast's four iteration dimensions; 0 along a dimension it is stretched over.</summary>
internal readonly record struct Strides(int S0, int S1, int S2, int S3);

/// <summary>
/// An operand seen through a broadcast: element (i0, i1, i2, i3) of the iteration reads
/// <c>Data[i0·S0 + i1·S1 + i2·S2 + i3·S3]</c>. <see cref="Full"/>: the operand is the whole result, unbroadcast.
/// </summary>
internal readonly ref struct Operand(ReadOnlySpan<float> data, Strides strides, bool full)
{
    public readonly ReadOnlySpan<float> Data = data;
    public readonly Strides Strides = strides;
    public readonly bool Full = full;
}

/// <summary>The elementwise operations that broadcast (<see cref="Equal"/> gives 1 or 0 and has no gradient).</summary>
internal enum BinaryKind { Add, Subtract, Multiply, Divide, Equal }

/// <summary>
/// PyTorch's broadcasting for ranks up to 4: shapes are aligned on the right, and each pair of extents must be equal
/// or one of them 1 (stretched, stride 0). The result is walked as four dimensions <c>[N0, N1, N2, N3]</c>, made by
/// dropping extents of 1 and merging neighbours that both operands walk alike (so <c>[2,3,4,5] + [5]</c> is a
/// <c>[24, 5]</c> walk and <c>[2,3,4,5] + [3,1,1]</c> a <c>[2, 3, 20]</c> one), padded with 1 on the left: the last
/// dimension is one SIMD row, and a rank-2 broadcast is the row-by-row loop it always was.
/// </summary>
internal readonly struct Broadcast
{
    public readonly int[] Shape;
    public readonly int N0, N1, N2, N3;
    public readonly Strides AStrides, BStrides;
    public readonly bool AFull, BFull;

    private Broadcast(int[] shape, int[] n, Strides a, Strides b, bool aFull, bool bFull)
    {
        Shape = shape;
        (N0, N1, N2, N3) = (n[0], n[1], n[2], n[3]);
        (AStrides, BStrides, AFull, BFull) = (a, b, aFull, bFull);
    }

    /// <summary>The broadcast of two shapes.</summary>
    /// <exception cref="ArgumentException">The shapes do not broadcast; the message names both.</exception>
    public static Broadcast Of(Tensor a, Tensor b, string paramName)
    {
        int[] sa = a.ShapeArray, sb = b.ShapeArray;
        int rank = Math.Max(sa.Length, sb.Length);
        var shape = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int x = At(sa, i - rank + sa.Length), y = At(sb, i - rank + sb.Length);
            shape[i] = x == y ? x : x == 1 ? y : y == 1 ? x : -1;
            if (shape[i] < 0)
                throw new ArgumentException(
                    $"The shapes {Shapes.Format(sa)} and {Shapes.Format(sb)} do not broadcast: each pair of extents, aligned on the right, must be equal or one of them 1.",
                    paramName);
        }
        // the walk: result extents above 1, with each operand's stride there, neighbours merged where both allow
        Span<int> n = stackalloc int[Shapes.MaxRank];
        Span<int> ta = stackalloc int[Shapes.MaxRank], tb = stackalloc int[Shapes.MaxRank];
        int dims = 0;
        for (int i = 0; i < rank; i++)
        {
            if (shape[i] == 1) continue;
            int da = StrideOf(sa, i - rank + sa.Length), db = StrideOf(sb, i - rank + sb.Length);
            if (dims > 0 && ta[dims - 1] == da * shape[i] && tb[dims - 1] == db * shape[i])
            {
                n[dims - 1] *= shape[i];
                ta[dims - 1] = da;
                tb[dims - 1] = db;
                continue;
            }
            (n[dims], ta[dims], tb[dims]) = (shape[i], da, db);
            dims++;
        }
        var walk = new int[Shapes.MaxRank];
        var wa = new int[Shapes.MaxRank];
        var wb = new int[Shapes.MaxRank];
        Array.Fill(walk, 1);
        for (int k = 0; k < dims; k++)
        {
            int at = Shapes.MaxRank - dims + k;
            (walk[at], wa[at], wb[at]) = (n[k], ta[k], tb[k]);
        }
        int numel = Shapes.Numel(shape, paramName);
        return new Broadcast(shape, walk, new Strides(wa[0], wa[1], wa[2], wa[3]), new Strides(wb[0], wb[1], wb[2], wb[3]),
            a.Numel == numel, b.Numel == numel);
    }

    private static int At(int[] shape, int i) => i < 0 ? 1 : shape[i];

    /// <summary>The row-major stride of dimension <paramref name="i"/> of <paramref name="shape"/>, or 0 where the operand is stretched.</summary>
    private static int StrideOf(int[] shape, int i)
    {
        if (i < 0 || shape[i] == 1) return 0;
        int s = 1;
        for (int j = i + 1; j < shape.Length; j++) s *= shape[j];
        return s;
    }

    public int Numel => N0 * N1 * N2 * N3;

    public Operand A(Tensor a) => new(a.Data, AStrides, AFull);

    public Operand B(Tensor b) => new(b.Data, BStrides, BFull);

    /// <summary>A gradient of the result's shape, as an operand.</summary>
    public Operand Full(ReadOnlySpan<float> grad) => new(grad, new Strides(N1 * N2 * N3, N2 * N3, N3, 1), true);

    /// <summary><c>dst[i] = x[i] ∘ y[i]</c> over the result, row by row (the last walk dimension) with SIMD.</summary>
    public void Apply(BinaryKind kind, Operand x, Operand y, Span<float> dst)
    {
        int numel = Numel, cols = N3;
        if (x.Full && y.Full)
        {
            // one contiguous pass
            Row(kind, x.Data[..numel], y.Data[..numel], dst[..numel]);
            return;
        }
        Strides xs = x.Strides, ys = y.Strides;
        bool xRow = cols == 1 || xs.S3 != 0, yRow = cols == 1 || ys.S3 != 0;
        int row = 0;
        for (int i0 = 0; i0 < N0; i0++)
            for (int i1 = 0; i1 < N1; i1++)
                for (int i2 = 0; i2 < N2; i2++, row++)
                {
                    var d = dst.Slice(row * cols, cols);
                    int xo = i0 * xs.S0 + i1 * xs.S1 + i2 * xs.S2, yo = i0 * ys.S0 + i1 * ys.S1 + i2 * ys.S2;
                    if (xRow && yRow) Row(kind, x.Data.Slice(xo, cols), y.Data.Slice(yo, cols), d);
                    else if (xRow) RowScalar(kind, x.Data.Slice(xo, cols), y.Data[yo], d);
                    else if (yRow) ScalarRow(kind, x.Data[xo], y.Data.Slice(yo, cols), d);
                    else d.Fill(Scalar(kind, x.Data[xo], y.Data[yo]));
                }
    }

    private static void Row(BinaryKind kind, ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> d)
    {
        switch (kind)
        {
            case BinaryKind.Add: TensorPrimitives.Add(x, y, d); break;
            case BinaryKind.Subtract: TensorPrimitives.Subtract(x, y, d); break;
            case BinaryKind.Multiply: TensorPrimitives.Multiply(x, y, d); break;
            case BinaryKind.Divide: TensorPrimitives.Divide(x, y, d); break;
            default: for (int i = 0; i < d.Length; i++) d[i] = x[i] == y[i] ? 1f : 0f; break;
        }
    }

    private static void RowScalar(BinaryKind kind, ReadOnlySpan<float> x, float y, Span<float> d)
    {
        switch (kind)
        {
            case BinaryKind.Add: TensorPrimitives.Add(x, y, d); break;
            case BinaryKind.Subtract: TensorPrimitives.Subtract(x, y, d); break;
            case BinaryKind.Multiply: TensorPrimitives.Multiply(x, y, d); break;
            case BinaryKind.Divide: TensorPrimitives.Divide(x, y, d); break;
            default: for (int i = 0; i < d.Length; i++) d[i] = x[i] == y ? 1f : 0f; break;
        }
    }

    private static void ScalarRow(BinaryKind kind, float x, ReadOnlySpan<float> y, Span<float> d)
    {
        switch (kind)
        {
            case BinaryKind.Add: TensorPrimitives.Add(y, x, d); break;
            case BinaryKind.Subtract: TensorPrimitives.Subtract(x, y, d); break;
            case BinaryKind.Multiply: TensorPrimitives.Multiply(y, x, d); break;
            case BinaryKind.Divide: TensorPrimitives.Divide(x, y, d); break;
            default: for (int i = 0; i < d.Length; i++) d[i] = x == y[i] ? 1f : 0f; break;
        }
    }

    private static float Scalar(BinaryKind kind, float x, float y) => kind switch
    {
        BinaryKind.Add => x + y,
        BinaryKind.Subtract => x - y,
        BinaryKind.Multiply => x * y,
        BinaryKind.Divide => x / y,
        _ => x == y ? 1f : 0f,
    };

    /// <summary>
    /// Sums a gradient over the result's shape down to an operand's shape (the adjoint of broadcasting: a sum over
    /// every dimension the operand was stretched along), and adds it into the operand's pending gradient.
    /// <paramref name="grad"/> is handed on unchanged when the operand is full, and only read otherwise;
    /// <paramref name="negate"/> (for a stretched operand only) adds the negated sums.
    /// </summary>
    public void ReduceInto(Tensor operand, float[] grad, Strides s, bool full, bool negate = false)
    {
        if (full)
        {
            operand.AddGrad(grad);
            return;
        }
        var reduced = new float[operand.Numel];
        int cols = N3, row = 0;
        bool isRow = cols == 1 || s.S3 != 0;
        for (int i0 = 0; i0 < N0; i0++)
            for (int i1 = 0; i1 < N1; i1++)
                for (int i2 = 0; i2 < N2; i2++, row++)
                {
                    var g = grad.AsSpan(row * cols, cols);
                    int o = i0 * s.S0 + i1 * s.S1 + i2 * s.S2;
                    if (isRow)
                    {
                        var r = reduced.AsSpan(o, cols);
                        TensorPrimitives.Add(r, g, r);
                    }
                    else reduced[o] += TensorPrimitives.Sum(g);
                }
        if (negate) TensorPrimitives.Negate(reduced, reduced);
        operand.AddGrad(reduced);
    }
}
