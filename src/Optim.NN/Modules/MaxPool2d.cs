namespace Optim.NN;

/// <summary>
/// The maximum over each window of each channel, as a layer (<c>torch.nn.MaxPool2d</c>, no dilation or ceil mode); it has no parameters. The gradient goes to the first maximum of each window.
/// See <see cref="Functional.MaxPool2d(Tensor, int, int?, int)"/>.
/// </summary>
/// <example><code>var pool = new MaxPool2d(2);   // [N, C, 32, 32] → [N, C, 16, 16]</code></example>
public sealed class MaxPool2d : Pool2d
{
    /// <summary>A pooling layer.</summary>
    /// <param name="kernelSize">The window's height and width.</param>
    /// <param name="stride">The step of the window; null: <paramref name="kernelSize"/>, as in PyTorch.</param>
    /// <param name="padding">The padding on each side, at most half the window.</param>
    /// <exception cref="ArgumentException"><paramref name="kernelSize"/> or <paramref name="stride"/> is not positive, or
    /// <paramref name="padding"/> is negative or more than half the window.</exception>
    public MaxPool2d(int kernelSize, int? stride = null, int padding = 0) : base(kernelSize, stride, padding) { }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The input is not 3-D or 4-D, or smaller than the window once padded.</exception>
    public override Tensor Forward(Tensor input) => Functional.MaxPool2d(input, KernelSize, Stride, Padding);
}
