using Optim.NN.Autograd;
using Optim.NN.Kernels;

namespace Optim.NN.Ops;

/// <summary>Max and average pooling (<c>F.max_pool2d</c>, <c>F.avg_pool2d</c>, no dilation or ceil mode) and their gradients.</summary>
internal static class Pool
{
    /// <summary>Checks a window: both extents at least 1.</summary>
    internal static void CheckKernel((int H, int W) kernelSize, string paramName)
    {
        if (kernelSize.H <= 0 || kernelSize.W <= 0)
            throw new ArgumentException($"{paramName} must be positive, but is {Conv.Pair(kernelSize)}.", paramName);
    }

    /// <summary>Checks a pooling's padding: 0 or more, and at most half the window (PyTorch's rule).</summary>
    internal static void CheckPadding((int H, int W) padding, (int H, int W) kernelSize, string paramName)
    {
        Conv.CheckPadding(padding, paramName);
        if (padding.H > kernelSize.H / 2 || padding.W > kernelSize.W / 2)
            throw new ArgumentException(
                $"{paramName} must be at most half the kernel size {Conv.Pair(kernelSize)}, but is {Conv.Pair(padding)}.", paramName);
    }

    public static Tensor Apply(PoolKind kind, Tensor input, (int H, int W) kernelSize, (int H, int W)? stride, (int H, int W) padding)
    {
        string op = kind == PoolKind.Max ? "MaxPool2d" : "AvgPool2d";
        var (n, c, h, w) = Conv.Images(input, op);
        CheckKernel(kernelSize, nameof(kernelSize));
        var st = stride ?? kernelSize;
        Conv.CheckStride(st, nameof(stride));
        CheckPadding(padding, kernelSize, nameof(padding));
        long paddedH = h + 2L * padding.H, paddedW = w + 2L * padding.W;
        if (paddedH < kernelSize.H || paddedW < kernelSize.W)
            throw new ArgumentException(
                $"The padded input is {paddedH}×{paddedW} per channel (input shape {Shapes.Format(input.ShapeArray)}, padding {Conv.Pair(padding)}), smaller than the {kernelSize.H}×{kernelSize.W} window.",
                nameof(input));
        var s = new ConvShape(n, c, h, w, c, kernelSize.H, kernelSize.W, st.H, st.W, padding.H, padding.W);
        var shape = Conv.OutputShape(input, s, c);
        var y = GC.AllocateUninitializedArray<float>(Shapes.Numel(shape, nameof(input)));
        PoolKernel.Forward(kind, s, input.Data, y);
        return Tensor.Result(y, shape, Tensor.Records(input) ? new PoolNode(kind, input, s) : null);
    }

    private sealed class PoolNode(PoolKind kind, Tensor input, ConvShape shape) : Node(input)
    {
        public override void Backward(float[] grad)
        {
            var gx = A.GradTarget(out bool acc);
            PoolKernel.Backward(kind, shape, A.Data, grad, gx, acc);
        }
    }
}
