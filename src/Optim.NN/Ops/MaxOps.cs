using Optim.NN.Autograd;

namespace Optim.NN.Ops;

/// <summary>
/// Maxima and their indices (<c>max()</c>, <c>max(dim)</c>, <c>argmax</c>), as PyTorch 1.13 computes them: NaN counts
/// as larger than every number (a NaN anywhere is the maximum), and among equal maxima the first index wins.
/// </summary>
internal static class MaxOps
{
    /// <summary>Whether <paramref name="v"/> beats the maximum so far: larger, or the first NaN.</summary>
    private static bool Beats(float v, float best) => v > best || (float.IsNaN(v) && !float.IsNaN(best));

    /// <summary>The index of the first maximum of <c>data[offset + k·stride]</c> for <c>k</c> in <c>[0, count)</c>, count ≥ 1.</summary>
    private static int ArgMax(ReadOnlySpan<float> data, int offset, int count, int stride)
    {
        int at = 0;
        float best = data[offset];
        for (int k = 1; k < count; k++)
        {
            float v = data[offset + k * stride];
            if (Beats(v, best)) (best, at) = (v, k);
        }
        return at;
    }

    /// <summary>The largest element, as a scalar; its gradient is shared evenly by every element equal to it (PyTorch's <c>evenly_distribute_backward</c>).</summary>
    /// <exception cref="InvalidOperationException">The tensor has no elements.</exception>
    public static Tensor Max(Tensor x)
    {
        if (x.Numel == 0)
            throw new InvalidOperationException($"Max() of a tensor with no elements (shape {Shapes.Format(x.ShapeArray)}) has no value; give a dimension, Max(dim), for a reduction along one.");
        float max = x.Data[ArgMax(x.Data, 0, x.Numel, 1)];
        return Tensor.Result([max], [], Tensor.Records(x) ? new MaxNode(x, max) : null);
    }

    private sealed class MaxNode(Tensor input, float max) : Node(input)
    {
        public override void Backward(float[] grad)
        {
            var x = A.Data;
            bool nan = float.IsNaN(max);
            int ties = 0;
            foreach (var v in x) if (v == max || (nan && float.IsNaN(v))) ties++;
            float share = grad[0] / ties;
            var gx = new float[x.Length];
            for (int i = 0; i < x.Length; i++) if (x[i] == max || (nan && float.IsNaN(x[i]))) gx[i] = share;
            A.AddGrad(gx);
        }
    }

    /// <summary>The index of the largest element of the flattened tensor, as a float32 scalar.</summary>
    /// <exception cref="InvalidOperationException">The tensor has no elements.</exception>
    public static Tensor ArgMax(Tensor x)
    {
        if (x.Numel == 0)
            throw new InvalidOperationException($"ArgMax() of a tensor with no elements (shape {Shapes.Format(x.ShapeArray)}) has no index; give a dimension, ArgMax(dim), for a reduction along one.");
        return Tensor.Result([ArgMax(x.Data, 0, x.Numel, 1)], [], null);
    }

    /// <summary>The maxima along <paramref name="dim"/> and their indices (first among equals), the indices as float32.</summary>
    /// <exception cref="ArgumentException">The dimension is out of range, or its extent is 0.</exception>
    public static (float[] Values, float[] Indices, int[] Shape, int Outer, int Count, int Inner) Along(Tensor x, int dim, bool keepDim, string paramName)
    {
        int d = Reduction.Dim(x, dim, paramName);
        var (outer, count, inner) = Reduction.Split(x.ShapeArray, d);
        if (count == 0)
            throw new ArgumentException($"Dimension {dim} of the shape {Shapes.Format(x.ShapeArray)} has extent 0: there is no maximum along it.", paramName);
        var values = new float[outer * inner];
        var indices = new float[outer * inner];
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < inner; j++)
            {
                int at = ArgMax(x.Data, o * count * inner + j, count, inner);
                values[o * inner + j] = x.Data[(o * count + at) * inner + j];
                indices[o * inner + j] = at;
            }
        return (values, indices, Reduction.Reduced(x.ShapeArray, d, keepDim), outer, count, inner);
    }

    /// <summary><c>torch.max(x, dim, keepdim)</c>: the values record their gradient, which goes to the index chosen in each slice.</summary>
    /// <exception cref="ArgumentException">The dimension is out of range, or its extent is 0.</exception>
    public static (Tensor Values, Tensor Indices) MaxAlong(Tensor x, int dim, bool keepDim)
    {
        var (values, indices, shape, outer, count, inner) = Along(x, dim, keepDim, nameof(dim));
        var node = Tensor.Records(x) ? new MaxAlongNode(x, indices, outer, count, inner) : null;
        return (Tensor.Result(values, shape, node), Tensor.Result(indices, (int[])shape.Clone(), null));
    }

    private sealed class MaxAlongNode(Tensor input, float[] indices, int outer, int count, int inner) : Node(input)
    {
        public override void Backward(float[] grad)
        {
            var gx = new float[outer * count * inner];
            for (int o = 0; o < outer; o++)
                for (int j = 0; j < inner; j++)
                {
                    int r = o * inner + j;
                    gx[(o * count + (int)indices[r]) * inner + j] = grad[r];
                }
            A.AddGrad(gx);
        }
    }
}
