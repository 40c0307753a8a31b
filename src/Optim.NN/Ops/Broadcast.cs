using System.Numerics.Tensors;

namespace Optim.NN.Ops;

/// <summary>An operand seen through a broadcast: element (i, j) of the result reads <c>Data[i·RowStride + j·ColStride]</c>.</summary>
internal readonly ref struct Operand(ReadOnlySpan<float> data, int rowStride, int colStride)
{
    public readonly ReadOnlySpan<float> Data = data;
    public readonly int RowStride = rowStride, ColStride = colStride;

    /// <summary>A full, unbroadcast operand of <paramref name="cols"/> columns.</summary>
    public static Operand Full(ReadOnlySpan<float> data, int cols) => new(data, cols, 1);
}

/// <summary>The elementwise operations that broadcast.</summary>
internal enum BinaryKind { Add, Subtract, Multiply, Divide }

/// <summary>
/// PyTorch's broadcasting for ranks up to 2: shapes are aligned on the right, and each pair of extents must be equal
/// or one of them 1 (stretched). Seen as matrices, an operand broadcast along a dimension has stride 0 there.
/// </summary>
internal readonly struct Broadcast
{
    public readonly int[] Shape;
    public readonly int Rows, Cols;
    public readonly int ARowStride, AColStride, BRowStride, BColStride;

    private Broadcast(int[] shape, int rows, int cols, int ars, int acs, int brs, int bcs)
    {
        Shape = shape; Rows = rows; Cols = cols;
        ARowStride = ars; AColStride = acs; BRowStride = brs; BColStride = bcs;
    }

    /// <summary>The broadcast of two shapes.</summary>
    /// <exception cref="ArgumentException">The shapes do not broadcast; the message names both.</exception>
    public static Broadcast Of(Tensor a, Tensor b, string paramName)
    {
        var (ar, ac) = AsMatrix(a.ShapeArray);
        var (br, bc) = AsMatrix(b.ShapeArray);
        int rows = Extent(ar, br), cols = Extent(ac, bc);
        if (rows < 0 || cols < 0)
            throw new ArgumentException(
                $"The shapes {Shapes.Format(a.ShapeArray)} and {Shapes.Format(b.ShapeArray)} do not broadcast: each pair of extents, aligned on the right, must be equal or one of them 1.",
                paramName);
        int rank = Math.Max(a.Rank, b.Rank);
        int[] shape = rank switch { 2 => [rows, cols], 1 => [cols], _ => [] };
        return new Broadcast(shape, rows, cols, ar == 1 ? 0 : ac, ac == 1 ? 0 : 1, br == 1 ? 0 : bc, bc == 1 ? 0 : 1);
    }

    private static (int Rows, int Cols) AsMatrix(int[] shape) => shape.Length switch
    {
        2 => (shape[0], shape[1]),
        1 => (1, shape[0]),
        _ => (1, 1),
    };

    private static int Extent(int x, int y) => x == y ? x : x == 1 ? y : y == 1 ? x : -1;

    public int Numel => Rows * Cols;

    public Operand A(Tensor a) => new(a.Data, ARowStride, AColStride);

    public Operand B(Tensor b) => new(b.Data, BRowStride, BColStride);

    /// <summary>Whether an operand with these strides is the whole result, unbroadcast.</summary>
    public bool IsFull(int rowStride, int colStride) => (Rows == 1 || rowStride == Cols) && (Cols == 1 || colStride == 1);

    /// <summary><c>dst[i,j] = x[i,j] ∘ y[i,j]</c> over a result of <paramref name="rows"/>×<paramref name="cols"/>, row by row with SIMD.</summary>
    public static void Apply(BinaryKind kind, Operand x, Operand y, Span<float> dst, int rows, int cols)
    {
        bool xFull = (rows == 1 || x.RowStride == cols) && (cols == 1 || x.ColStride == 1);
        bool yFull = (rows == 1 || y.RowStride == cols) && (cols == 1 || y.ColStride == 1);
        if (xFull && yFull)
        {
            // one contiguous pass
            Row(kind, x.Data[..(rows * cols)], y.Data[..(rows * cols)], dst[..(rows * cols)]);
            return;
        }
        for (int i = 0; i < rows; i++)
        {
            var d = dst.Slice(i * cols, cols);
            int xo = i * x.RowStride, yo = i * y.RowStride;
            bool xRow = cols == 1 || x.ColStride != 0, yRow = cols == 1 || y.ColStride != 0;
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
            default: TensorPrimitives.Divide(x, y, d); break;
        }
    }

    private static void RowScalar(BinaryKind kind, ReadOnlySpan<float> x, float y, Span<float> d)
    {
        switch (kind)
        {
            case BinaryKind.Add: TensorPrimitives.Add(x, y, d); break;
            case BinaryKind.Subtract: TensorPrimitives.Subtract(x, y, d); break;
            case BinaryKind.Multiply: TensorPrimitives.Multiply(x, y, d); break;
            default: TensorPrimitives.Divide(x, y, d); break;
        }
    }

    private static void ScalarRow(BinaryKind kind, float x, ReadOnlySpan<float> y, Span<float> d)
    {
        switch (kind)
        {
            case BinaryKind.Add: TensorPrimitives.Add(y, x, d); break;
            case BinaryKind.Subtract: TensorPrimitives.Subtract(x, y, d); break;
            case BinaryKind.Multiply: TensorPrimitives.Multiply(y, x, d); break;
            default: TensorPrimitives.Divide(x, y, d); break;
        }
    }

    private static float Scalar(BinaryKind kind, float x, float y) => kind switch
    {
        BinaryKind.Add => x + y,
        BinaryKind.Subtract => x - y,
        BinaryKind.Multiply => x * y,
        _ => x / y,
    };

    /// <summary>
    /// Sums a gradient over the result's shape down to an operand's shape (the adjoint of broadcasting), and adds it
    /// into the operand's pending gradient. <paramref name="grad"/> is handed on unchanged when the operand is full.
    /// </summary>
    public void ReduceInto(Tensor operand, float[] grad, int rowStride, int colStride)
    {
        if (IsFull(rowStride, colStride))
        {
            operand.AddGrad(grad);
            return;
        }
        var reduced = new float[operand.Numel];
        for (int i = 0; i < Rows; i++)
        {
            var g = grad.AsSpan(i * Cols, Cols);
            int o = i * rowStride;
            if (Cols == 1 || colStride != 0)
            {
                var r = reduced.AsSpan(o, Cols);
                TensorPrimitives.Add(r, g, r);
            }
            else reduced[o] += TensorPrimitives.Sum(g);
        }
        operand.AddGrad(reduced);
    }
}
