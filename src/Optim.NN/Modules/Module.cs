using Optim.CSharp;

namespace Optim.NN;

/// <summary>
/// A layer or model (<c>torch.nn.Module</c>): a function of one tensor with trainable parameters. Derive from it to
/// write a model, and return its parameters from <see cref="Parameters"/> in a fixed order.
/// </summary>
public abstract class Module
{
    /// <summary>Computes the output (<c>module(x)</c>), recording the graph when gradients are on.</summary>
    /// <param name="input">The input.</param>
    public abstract Tensor Forward(Tensor input);

    /// <summary>
    /// The trainable parameters, in PyTorch's order (for <see cref="Linear"/>: weight, then bias; for
    /// <see cref="Sequential"/>: layer by layer), to hand to an optimizer:
    /// <c>new Adam(model.Parameters(), lr: 1e-3)</c>. The base module has none.
    /// </summary>
    public virtual IEnumerable<Parameter> Parameters() => [];
}
