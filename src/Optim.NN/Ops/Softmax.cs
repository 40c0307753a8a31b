using System.Numerics.Tensors;
using Optim.NN.Autograd;

namespace Optim.NN.Ops;

/// <summary>
/// Log-softmax over the last dimension, and the cross-entropy loss fused with it (PyTorch's
/// <c>nn.CrossEntropyLoss</c> = <c>log_softmax</c> + <c>nll_loss</c>), both stable for any finite logits: the row
/// maximum is subtracted before exponentiating.
/// </summary>
internal static class Softmax
{
    /// <summary>One row's maximum and <c>Σ exp(x − max)</c>, leaving <c>exp(x − max)</c> in <paramref name="exps"/>.</summary>
    private static (float Max, float Sum) RowStats(ReadOnlySpan<float> row, Span<float> exps)
    {
        float max = TensorPrimitives.Max(row);
        TensorPrimitives.Subtract(row, max, exps);
        TensorPrimitives.Exp(exps, exps);
        return (max, TensorPrimitives.Sum(exps));
    }

    /// <summary><c>y = x − max − log Σ exp(x − max)</c> along the last dimension of a tensor of rank 1 to 4.</summary>
    /// <exception cref="ArgumentException">The tensor is a scalar, or <paramref name="dim"/> is not its last dimension.</exception>
    public static Tensor LogSoftmax(Tensor x, int dim)
    {
        int rank = x.Rank;
        if (rank == 0 || (dim != -1 && dim != rank - 1))
            throw new ArgumentException(
                $"LogSoftmax runs along the last dimension (-1 or {rank - 1}) of a tensor of rank 1 to 4, but got dim {dim} for shape {Shapes.Format(x.ShapeArray)}.",
                nameof(dim));
        int cols = x.ShapeArray[^1], rows = cols == 0 ? 0 : x.Numel / cols;
        var y = GC.AllocateUninitializedArray<float>(x.Numel);
        for (int i = 0; i < rows; i++)
        {
            var row = x.Data.AsSpan(i * cols, cols);
            var dst = y.AsSpan(i * cols, cols);
            var (max, sum) = RowStats(row, dst);
            float logSum = MathF.Log(sum);
            // (x − max) − log Σ, in PyTorch's order
            TensorPrimitives.Subtract(row, max, dst);
            TensorPrimitives.Subtract(dst, logSum, dst);
        }
        return Tensor.Result(y, x.ShapeArray, Tensor.Records(x) ? new LogSoftmaxNode(x, y, rows, cols) : null);
    }

    private sealed class LogSoftmaxNode(Tensor input, float[] y, int rows, int cols) : Node(input)
    {
        public override void Backward(float[] grad)
        {
            // dx = g − softmax · Σ g, row by row
            var p = new float[cols];
            for (int i = 0; i < rows; i++)
            {
                var g = grad.AsSpan(i * cols, cols);
                float sum = TensorPrimitives.Sum(g);
                TensorPrimitives.Exp(y.AsSpan(i * cols, cols), p);
                TensorPrimitives.MultiplyAdd(p, -sum, g, g);
            }
            A.AddGrad(grad);
        }
    }

    /// <summary>
    /// The mean over the batch of <c>−log softmax(x)[target]</c>, for logits <c>[batch, classes]</c> and class indices
    /// <c>[batch]</c> (whole numbers in <c>[0, classes)</c>, held as float32).
    /// </summary>
    /// <exception cref="ArgumentException">The shapes do not fit, or a target is not a class index.</exception>
    public static Tensor CrossEntropy(Tensor logits, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(target);
        if (logits.Rank != 2)
            throw new ArgumentException($"The input must be logits of shape [batch, classes], but it has shape {Shapes.Format(logits.ShapeArray)}.", "input");
        int n = logits.ShapeArray[0], c = logits.ShapeArray[1];
        if (target.Rank != 1 || target.ShapeArray[0] != n)
            throw new ArgumentException(
                $"The target must be {n} class indices, shape [{n}], for input of shape {Shapes.Format(logits.ShapeArray)}, but it has shape {Shapes.Format(target.ShapeArray)}.",
                nameof(target));
        var classes = new int[n];
        for (int i = 0; i < n; i++)
        {
            float t = target.Data[i];
            if (!(t >= 0 && t < c) || t != MathF.Floor(t))
                throw new ArgumentException($"Target {i} is {t}, which is not a class index in [0, {c}).", nameof(target));
            classes[i] = (int)t;
        }
        // keep the softmax for the backward pass
        var softmax = GC.AllocateUninitializedArray<float>(n * c);
        double total = 0;
        for (int i = 0; i < n; i++)
        {
            var row = logits.Data.AsSpan(i * c, c);
            var p = softmax.AsSpan(i * c, c);
            var (max, sum) = RowStats(row, p);
            total -= (row[classes[i]] - max) - MathF.Log(sum);
            TensorPrimitives.Divide(p, sum, p);
        }
        float loss = (float)(total / n);
        return Tensor.Result([loss], [], Tensor.Records(logits) ? new CrossEntropyNode(logits, softmax, classes, c) : null);
    }

    private sealed class CrossEntropyNode(Tensor logits, float[] softmax, int[] classes, int c) : Node(logits)
    {
        public override void Backward(float[] grad)
        {
            // d/dx = (softmax − onehot(target)) · g / batch
            int n = classes.Length;
            float scale = grad[0] / n;
            var gx = GC.AllocateUninitializedArray<float>(n * c);
            TensorPrimitives.Multiply(softmax, scale, gx);
            for (int i = 0; i < n; i++) gx[i * c + classes[i]] -= scale;
            A.AddGrad(gx);
        }
    }
}
