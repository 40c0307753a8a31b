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

    /// <summary>The sum (or mean) along <paramref name="dim"/> (negative counts from the end), of a tensor of rank 1 to 4.</summary>
    /// <exception cref="ArgumentException">The dimension is out of range.</exception>
    public static Tensor Along(Tensor x, int dim, bool keepDim, bool mean)
    {
        dim = Dim(x, dim, nameof(dim));
        var (outer, count, inner) = Split(x.ShapeArray, dim);
        var y = new float[outer * inner];
        for (int o = 0; o < outer; o++)
        {
            var dst = y.AsSpan(o * inner, inner);
            var src = x.Data.AsSpan(o * count * inner, count * inner);
            if (inner == 1) dst[0] = TensorPrimitives.Sum(src);
            else
                for (int k = 0; k < count; k++) TensorPrimitives.Add(dst, src.Slice(k * inner, inner), dst);
        }
        if (mean) TensorPrimitives.Divide(y, count, y);
        return Tensor.Result(y, Reduced(x.ShapeArray, dim, keepDim), Tensor.Records(x) ? new AlongNode(x, outer, count, inner, mean) : null);
    }

    /// <summary>A dimension of <paramref name="x"/> made non-negative (negative counts from the end), as PyTorch wraps it.</summary>
    /// <exception cref="ArgumentException">The dimension is out of range, or the tensor is a scalar.</exception>
    public static int Dim(Tensor x, int dim, string paramName)
    {
        int rank = x.Rank;
        if (rank == 0 || dim < -rank || dim >= rank)
            throw new ArgumentException(
                rank == 0
                    ? $"Dimension {dim} is out of range for a tensor of shape {Shapes.Format(x.ShapeArray)}: a scalar has no dimension to reduce."
                    : $"Dimension {dim} is out of range for a tensor of shape {Shapes.Format(x.ShapeArray)} (expected a dimension in [{-rank}, {rank - 1}]).",
                paramName);
        return dim < 0 ? dim + rank : dim;
    }

    /// <summary>The shape seen as <c>[outer, shape[dim], inner]</c>: the extents before, at and after <paramref name="dim"/>.</summary>
    public static (int Outer, int Count, int Inner) Split(int[] shape, int dim)
    {
        int outer = 1, inner = 1;
        for (int i = 0; i < dim; i++) outer *= shape[i];
        for (int i = dim + 1; i < shape.Length; i++) inner *= shape[i];
        return (outer, shape[dim], inner);
    }

    /// <summary>The shape without <paramref name="dim"/>, or with extent 1 there when <paramref name="keepDim"/>.</summary>
    public static int[] Reduced(int[] shape, int dim, bool keepDim)
    {
        if (keepDim)
        {
            var kept = (int[])shape.Clone();
            kept[dim] = 1;
            return kept;
        }
        return [.. shape[..dim], .. shape[(dim + 1)..]];
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

    /// <summary>Spreads the reduced gradient back along the reduced dimension (divided by its length for a mean).</summary>
    private sealed class AlongNode(Tensor input, int outer, int count, int inner, bool mean) : Node(input)
    {
        public override void Backward(float[] grad)
        {
            if (mean) TensorPrimitives.Divide(grad, count, grad);
            var gx = GC.AllocateUninitializedArray<float>(outer * count * inner);
            for (int o = 0; o < outer; o++)
            {
                var g = grad.AsSpan(o * inner, inner);
                for (int k = 0; k < count; k++)
                {
                    var dst = gx.AsSpan((o * count + k) * inner, inner);
                    if (inner == 1) dst[0] = g[0];
                    else g.CopyTo(dst);
                }
            }
            A.AddGrad(gx);
        }
    }
}
