namespace Optim.NN.Autograd;

/// <summary>
/// The backward function of one operation (PyTorch's <c>grad_fn</c>): it knows its inputs and turns the gradient of
/// its output into contributions to the gradients of the inputs that require one.
/// </summary>
internal abstract class Node
{
    protected Node(params Tensor[] inputs) => Inputs = inputs;

    /// <summary>The operation's tensor inputs, in order (the engine follows those that require a gradient).</summary>
    public Tensor[] Inputs { get; }

    /// <summary>The first input.</summary>
    protected Tensor A => Inputs[0];

    /// <summary>The second input.</summary>
    protected Tensor B => Inputs[1];

    /// <summary>Set once a backward pass without <c>retainGraph</c> has gone through this node.</summary>
    public bool Released { get; private set; }

    /// <summary>
    /// Adds this operation's contribution to the pending gradient of every input that requires one, given the
    /// gradient of the output. The array is the callee's: it may hand it on to one input unchanged.
    /// </summary>
    public abstract void Backward(float[] grad);

    /// <summary>Marks the node used, as PyTorch frees a graph's saved tensors after <c>backward()</c>.</summary>
    public void Release() => Released = true;
}
