namespace Optim.NN;

/// <summary>
/// What <see cref="MaxPool2d"/> and <see cref="AvgPool2d"/> share: a square window, its stride and padding, checked when
/// the layer is made (PyTorch's <c>_MaxPoolNd</c> and <c>_AvgPoolNd</c>). Pooling layers have no parameters.
/// </summary>
public abstract class Pool2d : Module
{
    /// <summary>A pooling layer.</summary>
    /// <param name="kernelSize">The window's height and width.</param>
    /// <param name="stride">The step of the window; null: <paramref name="kernelSize"/>, as in PyTorch.</param>
    /// <param name="padding">The padding on each side, at most half the window.</param>
    /// <exception cref="ArgumentException"><paramref name="kernelSize"/> or <paramref name="stride"/> is not positive, or
    /// <paramref name="padding"/> is negative or more than half the window.</exception>
    private protected Pool2d(int kernelSize, int? stride, int padding)
    {
        Ops.Pool.CheckKernel((kernelSize, kernelSize), nameof(kernelSize));
        if (stride is { } s) Ops.Conv.CheckStride((s, s), nameof(stride));
        Ops.Pool.CheckPadding((padding, padding), (kernelSize, kernelSize), nameof(padding));
        KernelSize = kernelSize;
        Stride = stride ?? kernelSize;
        Padding = padding;
    }

    /// <summary>The window's height and width.</summary>
    public int KernelSize { get; }

    /// <summary>The step of the window.</summary>
    public int Stride { get; }

    /// <summary>The padding on each side.</summary>
    public int Padding { get; }

}
