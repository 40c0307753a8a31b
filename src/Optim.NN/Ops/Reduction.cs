using System.Numerics.Tensors;
using Optim.NN.Autograd;

namespace Optim.NN.Ops;

/// <summary>Sums and means, of all elements or along one dimension, and their gradients.</summary>
internal static class Reduction
{
    /// <summary>The sum (or mean) of all elements, as a scalar.</summary>
    public static Tensor All(Tensor x, bool mean)
    {
        float s = TensorPrimitives.Sum(x.Data);
        if (mean) s /= x.Numel;
        return Tensor.Result([s], [], Tensor.Records(x) ? new AllNode(x, mean) : null);
    }

    /// <summary>The sum (or mean) along <paramref name="dim"/> (negative counts from the end).</summary>
    /// <exception cref="ArgumentException">The dimension is out of range.</exception>
    public static Tensor Along(Tensor x, int dim, bool keepDim, bool mean)
    {
        int rank = x.Rank;
        if (rank == 0 || dim < -rank || dim >= rank)
            throw new ArgumentException($"Dimension {dim} is out of range for a tensor of shape {Shapes.Format(x.ShapeArray)}.", nameof(dim));
        if (dim < 0) dim += rank;
        // seen as a matrix [rows, cols], reduce over rows (dim 0 of a matrix) or over cols
        int rows = rank == 2 ? x.ShapeArray[0] : 1, cols = x.ShapeArray[^1];
        bool overRows = rank == 2 && dim == 0;
        int[] shape = (rank, overRows, keepDim) switch
        {
            (1, _, true) => [1],
            (1, _, false) => [],
            (_, true, true) => [1, cols],
            (_, true, false) => [cols],
            (_, false, true) => [rows, 1],
            _ => [rows],
        };
        int count = overRows ? rows : cols;
        var y = new float[overRows ? cols : rows];
        if (overRows)
            for (int i = 0; i < rows; i++) TensorPrimitives.Add(y, x.Data.AsSpan(i * cols, cols), y);
        else
            for (int i = 0; i < rows; i++) y[i] = TensorPrimitives.Sum(x.Data.AsSpan(i * cols, cols));
        if (mean) TensorPrimitives.Divide(y, count, y);
        return Tensor.Result(y, shape, Tensor.Records(x) ? new AlongNode(x, rows, cols, overRows, mean ? count : 0) : null);
    }

    private sealed class AllNode(Tensor input, bool mean) : Node(input)
    {
        public override void Backward(float[] grad)
        {
            float g = mean ? grad[0] / A.Numel : grad[0];
            var gx = GC.AllocateUninitializedArray<float>(A.Numel);
            gx.AsSpan().Fill(g);
            A.AddGrad(gx);
        }
    }

    /// <summary>Spreads the reduced gradient back along the reduced dimension (divided by its length for a mean, when <paramref name="divisor"/> is not 0).</summary>
    private sealed class AlongNode(Tensor input, int rows, int cols, bool overRows, int divisor) : Node(input)
    {
        public override void Backward(float[] grad)
        {
            if (divisor != 0) TensorPrimitives.Divide(grad, divisor, grad);
            var gx = GC.AllocateUninitializedArray<float>(rows * cols);
            for (int i = 0; i < rows; i++)
            {
                var row = gx.AsSpan(i * cols, cols);
                if (overRows) grad.AsSpan().CopyTo(row);
                else row.Fill(grad[i]);
            }
            A.AddGrad(gx);
        }
    }
}
