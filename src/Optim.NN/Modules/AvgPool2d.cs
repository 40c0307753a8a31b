namespace Optim.NN;

/// <summary>
/// The mean over each window of each channel, as a layer (<c>torch.nn.AvgPool2d</c>, no dilation or ceil mode); it has no parameters. The padding counts as zeros (PyTorch's default <c>count_include_pad=True</c>).
/// See <see cref="Functional.AvgPool2d(Tensor, int, int?, int)"/>.
/// </summary>
/// <example><code>var pool = new AvgPool2d(2);   // [N, C, 32, 32] → [N, C, 16, 16]</code></example>
public sealed class AvgPool2d : Pool2d
{
    /// <summary>A pooling layer.</summary>
    /// <param name="kernelSize">The window's height and width.</param>
    /// <param name="stride">The step of the window; null: <paramref name="kernelSize"/>, as in PyTorch.</param>
    /// <param name="padding">The padding on each side, at most half the window.</param>
    /// <exception cref="ArgumentException"><paramref name="kernelSize"/> or <paramref name="stride"/> is not positive, or
    /// <paramref name="padding"/> is negative or more than half the window.</exception>
    public AvgPool2d(int kernelSize, int? stride = null, int padding = 0) : base(kernelSize, stride, padding) { }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The input is not 3-D or 4-D, or smaller than the window once padded.</exception>
    public override Tensor Forward(Tensor input) => Functional.AvgPool2d(input, KernelSize, Stride, Padding);
}
