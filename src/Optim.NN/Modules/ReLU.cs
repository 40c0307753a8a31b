namespace Optim.NN;

/// <summary>The rectifier <c>max(x, 0)</c> as a layer (<c>torch.nn.ReLU</c>); it has no parameters.</summary>
public sealed class ReLU : Module
{
    /// <inheritdoc />
    /// <exception cref="ArgumentNullException"><paramref name="input"/> is null.</exception>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.Relu();
    }
}
