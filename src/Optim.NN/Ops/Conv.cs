using Optim.NN.Autograd;
using Optim.NN.Kernels;

namespace Optim.NN.Ops;

/// <summary>The 2-D convolution (<c>F.conv2d</c> with one group and no dilation) and its gradients.</summary>
internal static class Conv
{
    /// <summary>Formats a height-width pair as PyTorch prints it.</summary>
    internal static string Pair((int H, int W) p) => $"({p.H}, {p.W})";

    /// <summary>Checks a stride: both extents at least 1.</summary>
    internal static void CheckStride((int H, int W) stride, string paramName)
    {
        if (stride.H <= 0 || stride.W <= 0)
            throw new ArgumentException($"{paramName} must be positive, but is {Pair(stride)}.", paramName);
    }

    /// <summary>Checks a padding: both extents 0 or more.</summary>
    internal static void CheckPadding((int H, int W) padding, string paramName)
    {
        if (padding.H < 0 || padding.W < 0)
            throw new ArgumentException($"{paramName} must be 0 or more, but is {Pair(padding)}.", paramName);
    }

    /// <summary>Checks that an input is <c>[C, H, W]</c> or <c>[N, C, H, W]</c> and reads it as a batch.</summary>
    internal static (int N, int C, int H, int W) Images(Tensor input, string op)
    {
        ArgumentNullException.ThrowIfNull(input);
        var s = input.ShapeArray;
        return s.Length switch
        {
            4 => (s[0], s[1], s[2], s[3]),
            3 => (1, s[0], s[1], s[2]),
            _ => throw new ArgumentException(
                $"{op} expects a 3-D [C, H, W] (unbatched) or 4-D [N, C, H, W] (batched) input, but the input has shape {Shapes.Format(s)}.",
                nameof(input)),
        };
    }

    /// <summary>The output's shape: <c>[N, outC, oH, oW]</c>, or <c>[outC, oH, oW]</c> for an unbatched input.</summary>
    internal static int[] OutputShape(Tensor input, in ConvShape s, int channels) =>
        input.Rank == 4 ? [s.N, channels, s.OutH, s.OutW] : [channels, s.OutH, s.OutW];

    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias, (int H, int W) stride, (int H, int W) padding)
    {
        var (n, c, h, w) = Images(input, "Conv2d");
        ArgumentNullException.ThrowIfNull(weight);
        var ws = weight.ShapeArray;
        if (ws.Length != 4)
            throw new ArgumentException(
                $"The weight must have shape [outChannels, inChannels, kH, kW], but it has shape {Shapes.Format(ws)}.", nameof(weight));
        if (ws[2] == 0 || ws[3] == 0)
            throw new ArgumentException($"The kernel must be at least 1×1, but the weight has shape {Shapes.Format(ws)}.", nameof(weight));
        CheckStride(stride, nameof(stride));
        CheckPadding(padding, nameof(padding));
        if (ws[1] != c)
            throw new ArgumentException(
                $"The weight of shape {Shapes.Format(ws)} expects an input of {ws[1]} channels, but the input has shape {Shapes.Format(input.ShapeArray)}, of {c} channels.",
                nameof(input));
        if (bias is not null && (bias.Rank != 1 || bias.ShapeArray[0] != ws[0]))
            throw new ArgumentException($"The bias must have shape [{ws[0]}], but it has shape {Shapes.Format(bias.ShapeArray)}.", nameof(bias));
        long paddedH = h + 2L * padding.H, paddedW = w + 2L * padding.W;
        if (paddedH < ws[2] || paddedW < ws[3])
            throw new ArgumentException(
                $"The padded input is {paddedH}×{paddedW} per channel (input shape {Shapes.Format(input.ShapeArray)}, padding {Pair(padding)}), smaller than the {ws[2]}×{ws[3]} kernel.",
                nameof(input));
        var s = new ConvShape(n, c, h, w, ws[0], ws[2], ws[3], stride.H, stride.W, padding.H, padding.W);
        var shape = OutputShape(input, s, s.OutC);
        var y = GC.AllocateUninitializedArray<float>(Shapes.Numel(shape, nameof(input)));
        ConvKernel.Forward(s, input.Data, weight.Data, bias?.Data, y);
        bool records = GradMode.Enabled && (input.RequiresGrad || weight.RequiresGrad || (bias?.RequiresGrad ?? false));
        return Tensor.Result(y, shape, records ? new ConvNode(input, weight, bias, s) : null);
    }

    private sealed class ConvNode(Tensor x, Tensor weight, Tensor? bias, ConvShape shape)
        : Node(bias is null ? [x, weight] : [x, weight, bias])
    {
        public override void Backward(float[] grad)
        {
            Tensor input = Inputs[0], w = Inputs[1];
            Tensor? b = Inputs.Length == 3 ? Inputs[2] : null;
            bool accX = false, accW = false, accB = false;
            var gx = input.RequiresGrad ? input.GradTarget(out accX) : null;
            var gw = w.RequiresGrad ? w.GradTarget(out accW) : null;
            var gb = b is { RequiresGrad: true } ? b.GradTarget(out accB) : null;
            ConvKernel.Backward(shape, input.Data, w.Data, grad, gx, accX, gw, accW, gb, accB);
        }
    }
}
