namespace Optim.NN;

/// <summary>
/// Merges the dimensions from <see cref="StartDim"/> to <see cref="EndDim"/> into one, as a layer
/// (<c>torch.nn.Flatten</c>): by default every dimension but the batch, so that <c>[N, C, H, W]</c> images become
/// <c>[N, C·H·W]</c> rows for a <see cref="Linear"/> layer. It has no parameters.
/// </summary>
public sealed class Flatten : Module
{
    /// <summary>A flattening layer (PyTorch's defaults: from dimension 1 to the last).</summary>
    /// <param name="startDim">The first dimension merged; negative counts from the end.</param>
    /// <param name="endDim">The last dimension merged; negative counts from the end.</param>
    public Flatten(int startDim = 1, int endDim = -1) => (StartDim, EndDim) = (startDim, endDim);

    /// <summary>The first dimension merged.</summary>
    public int StartDim { get; }

    /// <summary>The last dimension merged.</summary>
    public int EndDim { get; }

    /// <inheritdoc />
    /// <exception cref="ArgumentNullException"><paramref name="input"/> is null.</exception>
    /// <exception cref="ArgumentException">A dimension is out of range for the input, or <see cref="StartDim"/> comes after <see cref="EndDim"/>.</exception>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.Flatten(StartDim, EndDim);
    }
}
