using Optim.NN.Autograd;

namespace Optim.NN.Ops;

/// <summary>
/// Shape changes: views (<c>reshape</c>, <c>view</c>, <c>flatten</c>, <c>squeeze</c>, <c>unsqueeze</c>), which share the
/// input's values since every tensor here is contiguous, and <c>permute</c>, which copies.
/// </summary>
internal static class ShapeOps
{
    /// <summary>The same values under another shape, one <c>-1</c> inferred; the result shares <paramref name="x"/>'s buffer.</summary>
    /// <exception cref="ArgumentException">The shape has two <c>-1</c>s, an extent below <c>-1</c>, a rank above 4, or another element count.</exception>
    public static Tensor Reshape(Tensor x, int[] shape, string paramName)
    {
        ArgumentNullException.ThrowIfNull(shape, paramName);
        var s = (int[])shape.Clone();
        if (s.Length > Shapes.MaxRank)
            throw new ArgumentException($"Tensors have rank 0 to {Shapes.MaxRank}, but the shape is {Shapes.Format(s)}.", paramName);
        int inferred = -1;
        long known = 1;
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == -1)
            {
                if (inferred >= 0)
                    throw new ArgumentException($"Only one dimension can be inferred, but the shape {Shapes.Format(s)} has -1 at {inferred} and at {i}.", paramName);
                inferred = i;
            }
            else if (s[i] < 0)
                throw new ArgumentException($"Invalid extent {s[i]} at dimension {i} of the shape {Shapes.Format(s)}: extents are 0 or more, or -1 for one inferred.", paramName);
            else known *= s[i];
        }
        int n = x.Numel;
        if (inferred >= 0)
        {
            if (known == 0)
                throw new ArgumentException(
                    n == 0
                        ? $"Cannot reshape a tensor of 0 elements into the shape {Shapes.Format(s)}: the -1 could be any extent."
                        : $"The shape {Shapes.Format(s)} is invalid for a tensor of {n} elements (shape {Shapes.Format(x.ShapeArray)}).",
                    paramName);
            if (n % known != 0)
                throw new ArgumentException($"The shape {Shapes.Format(s)} is invalid for a tensor of {n} elements (shape {Shapes.Format(x.ShapeArray)}).", paramName);
            s[inferred] = (int)(n / known);
        }
        else if (known != n)
            throw new ArgumentException($"The shape {Shapes.Format(s)} is invalid for a tensor of {n} elements (shape {Shapes.Format(x.ShapeArray)}).", paramName);
        return As(x, s);
    }

    /// <summary><c>torch.flatten(x, startDim, endDim)</c>: the dimensions from start to end (both included) merged into one; a scalar becomes <c>[1]</c>.</summary>
    /// <exception cref="ArgumentException">A dimension is out of range, or <paramref name="startDim"/> comes after <paramref name="endDim"/>.</exception>
    public static Tensor Flatten(Tensor x, int startDim, int endDim)
    {
        int start = Wrap(x, startDim, Math.Max(x.Rank, 1), nameof(startDim));
        int end = Wrap(x, endDim, Math.Max(x.Rank, 1), nameof(endDim));
        if (start > end)
            throw new ArgumentException(
                $"startDim {startDim} comes after endDim {endDim} (dimensions {start} and {end} of the shape {Shapes.Format(x.ShapeArray)}).", nameof(startDim));
        if (x.Rank == 0) return As(x, [1]);
        var s = x.ShapeArray;
        int merged = 1;
        for (int i = start; i <= end; i++) merged *= s[i];
        return As(x, [.. s[..start], merged, .. s[(end + 1)..]]);
    }

    /// <summary><c>squeeze(dim)</c>: drops the dimension when its extent is 1, and otherwise keeps the shape, as PyTorch does.</summary>
    /// <exception cref="ArgumentException">The dimension is out of range.</exception>
    public static Tensor Squeeze(Tensor x, int dim)
    {
        int d = Wrap(x, dim, Math.Max(x.Rank, 1), nameof(dim));
        var s = x.ShapeArray;
        return As(x, x.Rank == 0 || s[d] != 1 ? s : [.. s[..d], .. s[(d + 1)..]]);
    }

    /// <summary><c>squeeze()</c>: drops every dimension of extent 1.</summary>
    public static Tensor Squeeze(Tensor x) => As(x, x.ShapeArray.Where(e => e != 1).ToArray());

    /// <summary><c>unsqueeze(dim)</c>: a dimension of extent 1 inserted before <paramref name="dim"/> (in <c>[-rank - 1, rank]</c>).</summary>
    /// <exception cref="ArgumentException">The dimension is out of range, or the tensor already has rank 4.</exception>
    public static Tensor Unsqueeze(Tensor x, int dim)
    {
        if (x.Rank == Shapes.MaxRank)
            throw new ArgumentException($"Tensors have rank 0 to {Shapes.MaxRank}, so a tensor of shape {Shapes.Format(x.ShapeArray)} cannot take another dimension.", nameof(dim));
        int d = Wrap(x, dim, x.Rank + 1, nameof(dim));
        var s = x.ShapeArray;
        return As(x, [.. s[..d], 1, .. s[d..]]);
    }

    /// <summary>A dimension in <c>[-count, count)</c> made non-negative.</summary>
    private static int Wrap(Tensor x, int dim, int count, string paramName)
    {
        if (dim < -count || dim >= count)
            throw new ArgumentException(
                $"Dimension {dim} is out of range for a tensor of shape {Shapes.Format(x.ShapeArray)} (expected a dimension in [{-count}, {count - 1}]).", paramName);
        return dim < 0 ? dim + count : dim;
    }

    /// <summary>A view of <paramref name="x"/>'s buffer under <paramref name="shape"/> (same element count); its gradient is the output's, reshaped.</summary>
    private static Tensor As(Tensor x, int[] shape) =>
        Tensor.Result(x.Data, shape, Tensor.Records(x) ? new ViewNode(x) : null);

    private sealed class ViewNode(Tensor input) : Node(input)
    {
        // row-major values are the same under either shape
        public override void Backward(float[] grad) => A.AddGrad(grad);
    }

    /// <summary><c>permute(dims)</c>: dimension <c>i</c> of the result is dimension <c>dims[i]</c> of <paramref name="x"/>, as a copy.</summary>
    /// <exception cref="ArgumentException"><paramref name="dims"/> is not a permutation of the tensor's dimensions.</exception>
    public static Tensor Permute(Tensor x, int[] dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        int rank = x.Rank;
        if (dims.Length != rank)
            throw new ArgumentException(
                $"Permute needs one entry per dimension: the tensor of shape {Shapes.Format(x.ShapeArray)} has {rank}, but dims {Shapes.Format(dims)} has {dims.Length}.",
                nameof(dims));
        var order = new int[rank];
        var seen = new bool[rank];
        for (int i = 0; i < rank; i++)
        {
            if (dims[i] < -rank || dims[i] >= rank)
                throw new ArgumentException(
                    $"Dimension {dims[i]} in dims {Shapes.Format(dims)} is out of range for a tensor of shape {Shapes.Format(x.ShapeArray)} (expected a dimension in [{-rank}, {rank - 1}]).",
                    nameof(dims));
            int d = dims[i] < 0 ? dims[i] + rank : dims[i];
            if (seen[d])
                throw new ArgumentException($"Dimension {d} appears twice in dims {Shapes.Format(dims)}: they must be a permutation of 0 to {rank - 1}.", nameof(dims));
            seen[d] = true;
            order[i] = d;
        }
        var shape = order.Select(d => x.ShapeArray[d]).ToArray();
        var y = GC.AllocateUninitializedArray<float>(x.Numel);
        Gather(x.Data, x.ShapeArray, order, y);
        return Tensor.Result(y, shape, Tensor.Records(x) ? new PermuteNode(x, order, shape) : null);
    }

    /// <summary>Writes <paramref name="src"/> (of shape <paramref name="srcShape"/>) permuted by <paramref name="order"/> into <paramref name="dst"/>, row-major.</summary>
    private static void Gather(ReadOnlySpan<float> src, int[] srcShape, int[] order, Span<float> dst)
    {
        int rank = srcShape.Length;
        Span<int> srcStride = stackalloc int[Shapes.MaxRank];
        for (int i = rank - 1, s = 1; i >= 0; s *= srcShape[i], i--) srcStride[i] = s;
        // the result's walk, padded to four dimensions on the left: extent and the source stride of each
        Span<int> n = stackalloc int[Shapes.MaxRank];
        Span<int> st = stackalloc int[Shapes.MaxRank];
        n.Fill(1);
        st.Clear();
        for (int i = 0; i < rank; i++)
        {
            n[Shapes.MaxRank - rank + i] = srcShape[order[i]];
            st[Shapes.MaxRank - rank + i] = srcStride[order[i]];
        }
        int k = 0;
        for (int i0 = 0; i0 < n[0]; i0++)
            for (int i1 = 0; i1 < n[1]; i1++)
                for (int i2 = 0; i2 < n[2]; i2++)
                {
                    int o = i0 * st[0] + i1 * st[1] + i2 * st[2];
                    for (int i3 = 0; i3 < n[3]; i3++) dst[k++] = src[o + i3 * st[3]];
                }
    }

    private sealed class PermuteNode(Tensor input, int[] order, int[] shape) : Node(input)
    {
        public override void Backward(float[] grad)
        {
            // the gradient is the output's, permuted back by the inverse order
            var inverse = new int[order.Length];
            for (int i = 0; i < order.Length; i++) inverse[order[i]] = i;
            var gx = GC.AllocateUninitializedArray<float>(grad.Length);
            Gather(grad, shape, inverse, gx);
            A.AddGrad(gx);
        }
    }
}
