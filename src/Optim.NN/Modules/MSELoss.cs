namespace Optim.NN;

/// <summary>The mean squared error <c>mean((input − target)²)</c> (<c>torch.nn.MSELoss()</c>).</summary>
public sealed class MSELoss
{
    /// <summary>The loss, a scalar.</summary>
    /// <param name="input">The prediction.</param>
    /// <param name="target">The target, of the same shape.</param>
    /// <exception cref="ArgumentException">The shapes differ.</exception>
    public Tensor Forward(Tensor input, Tensor target) => Functional.MseLoss(input, target);
}
