using Optim.NN.Autograd;

namespace Optim.NN.Ops;

/// <summary>Rows taken along the first dimension (<c>x[i]</c>, <c>x[a:b]</c>), copied, with the gradient scattered back.</summary>
internal static class Index
{
    /// <summary>Rows [start, start + count) along the first dimension of a tensor of rank 1 to 4; <paramref name="squeeze"/> drops that dimension (one row only).</summary>
    public static Tensor Rows(Tensor x, int start, int count, bool squeeze, string paramName)
    {
        if (x.Rank == 0) throw new ArgumentException("A scalar cannot be indexed.", paramName);
        int n = x.ShapeArray[0];
        if (start < 0 || count < 0 || start > n - count)
            throw new ArgumentOutOfRangeException(paramName,
                $"Rows {start} to {start + count} are out of range for a tensor of shape {Shapes.Format(x.ShapeArray)}.");
        // a row is everything below the first dimension
        var rest = x.ShapeArray[1..];
        int width = 1;
        foreach (var e in rest) width *= e;
        var y = x.Data.AsSpan(start * width, count * width).ToArray();
        int[] shape = squeeze ? rest : [count, .. rest];
        return Tensor.Result(y, shape, Tensor.Records(x) ? new RowsNode(x, start * width) : null);
    }

    private sealed class RowsNode(Tensor input, int offset) : Node(input)
    {
        public override void Backward(float[] grad)
        {
            var gx = new float[A.Numel];
            grad.AsSpan().CopyTo(gx.AsSpan(offset));
            A.AddGrad(gx);
        }
    }
}
