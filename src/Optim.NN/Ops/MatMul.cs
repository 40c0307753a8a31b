using Optim.NN.Autograd;
using Optim.Kernels;

namespace Optim.NN.Ops;

/// <summary>Matrix products (plain, and the fused affine map of <c>nn.Linear</c>) and transposition, with their gradients.</summary>
internal static class MatMul
{
    /// <summary><c>a[m,k]·b[k,n]</c>.</summary>
    /// <exception cref="ArgumentException">An operand is not 2-D, or the inner extents differ.</exception>
    public static Tensor Product(Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(b, "other");
        if (a.Rank != 2 || b.Rank != 2 || a.ShapeArray[1] != b.ShapeArray[0])
            throw new ArgumentException(
                $"MatMul multiplies [m, k] by [k, n], but the shapes are {Shapes.Format(a.ShapeArray)} and {Shapes.Format(b.ShapeArray)}.", "other");
        int m = a.ShapeArray[0], k = a.ShapeArray[1], n = b.ShapeArray[1];
        if ((long)m * n > Array.MaxLength)
            throw new ArgumentException(
                $"MatMul of {Shapes.Format(a.ShapeArray)} by {Shapes.Format(b.ShapeArray)} gives [{m}, {n}] = {(long)m * n} elements, more than a tensor holds.", "other");
        var y = GC.AllocateUninitializedArray<float>(m * n);
        Gemm.Multiply(m, n, k, a.Data, false, b.Data, false, y, accumulate: false);
        return Tensor.Result(y, [m, n], Tensor.Records(a, b) ? new ProductNode(a, b, m, k, n) : null);
    }

    private sealed class ProductNode(Tensor left, Tensor right, int m, int k, int n) : Node(left, right)
    {
        public override void Backward(float[] grad)
        {
            if (A.RequiresGrad)
            {
                // dA = G·Bᵀ
                var ga = A.GradTarget(out bool acc);
                Gemm.Multiply(m, k, n, grad, false, B.Data, true, ga, acc);
            }
            if (B.RequiresGrad)
            {
                // dB = Aᵀ·G
                var gb = B.GradTarget(out bool acc);
                Gemm.Multiply(k, n, m, A.Data, true, grad, false, gb, acc);
            }
        }
    }

    /// <summary>The transpose of a matrix (a copy), or the tensor itself for ranks 0 and 1, as PyTorch's <c>t()</c>.</summary>
    /// <exception cref="InvalidOperationException">The tensor has rank 3 or 4.</exception>
    public static Tensor Transpose(Tensor x)
    {
        if (x.Rank > 2)
            throw new InvalidOperationException(
                $"T() transposes a tensor of rank 2 or less (PyTorch's t()), but the shape is {Shapes.Format(x.ShapeArray)}; use Permute to reorder the dimensions of a tensor of rank {x.Rank}.");
        if (x.Rank < 2) return x;
        int m = x.ShapeArray[0], n = x.ShapeArray[1];
        var y = GC.AllocateUninitializedArray<float>(m * n);
        Transpose(x.Data, m, n, y);
        return Tensor.Result(y, [n, m], Tensor.Records(x) ? new TransposeNode(x, m, n) : null);
    }

    /// <summary><c>dst[j,i] = src[i,j]</c> for a <paramref name="m"/>×<paramref name="n"/> source, in cache-sized tiles.</summary>
    private static void Transpose(ReadOnlySpan<float> src, int m, int n, Span<float> dst)
    {
        const int tile = 32;
        for (int i0 = 0; i0 < m; i0 += tile)
            for (int j0 = 0; j0 < n; j0 += tile)
                for (int i = i0; i < Math.Min(i0 + tile, m); i++)
                    for (int j = j0; j < Math.Min(j0 + tile, n); j++)
                        dst[j * m + i] = src[i * n + j];
    }

    private sealed class TransposeNode(Tensor input, int m, int n) : Node(input)
    {
        public override void Backward(float[] grad)
        {
            var gx = GC.AllocateUninitializedArray<float>(m * n);
            Transpose(grad, n, m, gx);
            A.AddGrad(gx);
        }
    }

    /// <summary>
    /// <c>x·Wᵀ + b</c> for <c>x</c> of shape <c>[*, in]</c> (rank 1 to 4: every row of the last dimension is mapped),
    /// <c>W</c> of shape <c>[out, in]</c> and <c>b</c> of shape <c>[out]</c>, as one operation: the bias fills the output
    /// and the product accumulates onto it.
    /// </summary>
    /// <exception cref="ArgumentException">The shapes do not fit.</exception>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias)
    {
        ArgumentNullException.ThrowIfNull(x, "input");
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Rank != 2)
            throw new ArgumentException($"The weight must have shape [out, in], but it has shape {Shapes.Format(weight.ShapeArray)}.", nameof(weight));
        int outF = weight.ShapeArray[0], inF = weight.ShapeArray[1];
        if (x.Rank == 0 || x.ShapeArray[^1] != inF)
            throw new ArgumentException(
                $"The input's last extent must be the weight's {inF} input features, but the input has shape {Shapes.Format(x.ShapeArray)} and the weight {Shapes.Format(weight.ShapeArray)}.",
                "input");
        if (bias is not null && (bias.Rank != 1 || bias.ShapeArray[0] != outF))
            throw new ArgumentException($"The bias must have shape [{outF}], but it has shape {Shapes.Format(bias.ShapeArray)}.", nameof(bias));
        int m = 1;
        for (int i = 0; i < x.Rank - 1; i++) m *= x.ShapeArray[i];
        if ((long)m * outF > Array.MaxLength)
            throw new ArgumentException(
                $"Linear of {Shapes.Format(x.ShapeArray)} by {Shapes.Format(weight.ShapeArray)} gives {(long)m * outF} elements, more than a tensor holds.", nameof(weight));
        var y = GC.AllocateUninitializedArray<float>(m * outF);
        if (bias is not null)
            for (int i = 0; i < m; i++) bias.Data.AsSpan().CopyTo(y.AsSpan(i * outF, outF));
        Gemm.Multiply(m, outF, inF, x.Data, false, weight.Data, true, y, accumulate: bias is not null);
        int[] shape = [.. x.ShapeArray[..^1], outF];
        bool records = Autograd.GradMode.Enabled && (x.RequiresGrad || weight.RequiresGrad || (bias?.RequiresGrad ?? false));
        return Tensor.Result(y, shape, records ? new LinearNode(x, weight, bias, m, inF, outF) : null);
    }

    private sealed class LinearNode : Node
    {
        private readonly int _m, _in, _out;

        public LinearNode(Tensor x, Tensor weight, Tensor? bias, int m, int inF, int outF)
            : base(bias is null ? [x, weight] : [x, weight, bias]) => (_m, _in, _out) = (m, inF, outF);

        public override void Backward(float[] grad)
        {
            Tensor x = Inputs[0], w = Inputs[1];
            if (x.RequiresGrad)
            {
                // dx = G·W
                var gx = x.GradTarget(out bool acc);
                Gemm.Multiply(_m, _in, _out, grad, false, w.Data, false, gx, acc);
            }
            if (w.RequiresGrad)
            {
                // dW = Gᵀ·x
                var gw = w.GradTarget(out bool acc);
                Gemm.Multiply(_out, _in, _m, grad, true, x.Data, false, gw, acc);
            }
            if (Inputs.Length == 3 && Inputs[2].RequiresGrad)
            {
                // db = the column sums of G
                var gb = new float[_out];
                for (int i = 0; i < _m; i++)
                    System.Numerics.Tensors.TensorPrimitives.Add(gb, grad.AsSpan(i * _out, _out), gb);
                Inputs[2].AddGrad(gb);
            }
        }
    }
}
