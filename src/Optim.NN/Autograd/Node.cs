namespace Optim.NN.Autograd;

/// <summary>
/// The backward function of one operation (PyTorch's <c>grad_fn</c>): it knows its inputs and turns the gradient of
/// its output into contributions to the gradients of the inputs that require one.
/// </summary>
internal abstract class Node
{
    protected Node(params Tensor[] inputs)
    {
        Inputs = inputs;
        // the versions of the inputs over a Parameter, which an optimizer step changes in place
        for (int i = 0; i < inputs.Length; i++)
            if (inputs[i].Parameter is not null)
            {
                _versions ??= new int[inputs.Length];
                _versions[i] = inputs[i].Parameter!.Version;
            }
    }

    private readonly int[]? _versions;

    /// <summary>
    /// Fails when an input over a <see cref="Optim.CSharp.Parameter"/> was changed in place (an optimizer step) after
    /// this operation saved it: its backward would use the new values (PyTorch: "modified by an inplace operation").
    /// </summary>
    public void CheckVersions()
    {
        if (_versions is null) return;
        for (int i = 0; i < Inputs.Length; i++)
            if (Inputs[i].Parameter is { } p && p.Version != _versions[i])
                throw new InvalidOperationException(
                    $"One of the variables needed for gradient computation has been modified by an inplace operation: the parameter " +
                    $"{(p.Name is { } n ? $"'{n}' " : "")}of shape {Shapes.Format(p.Shape)} is at version {p.Version}; expected version " +
                    $"{_versions[i]} instead. An optimizer step (or MarkModified) changed it after the forward pass; run the forward pass again.");
    }

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
