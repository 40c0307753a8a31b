namespace Optim.NN.Autograd;

/// <summary>
/// Reverse-mode differentiation of a scalar: visits the graph below it once, in reverse topological order, so that
/// a tensor's gradient is complete (the sum over every use) before it flows into its inputs. Intermediate gradients
/// are dropped as soon as they have flowed on; leaves receive theirs once, summed, as PyTorch's AccumulateGrad does.
/// </summary>
internal static class Engine
{
    private static int _generation;

    public static void Backward(Tensor root, bool retainGraph)
    {
        if (!root.RequiresGrad)
            throw new InvalidOperationException("The tensor does not require a gradient and has no graph to differentiate (PyTorch: element 0 of tensors does not require grad and does not have a grad_fn).");
        if (root.Numel != 1)
            throw new InvalidOperationException($"A gradient can be created implicitly only for a one-element output, but the tensor has shape {Shapes.Format(root.ShapeArray)}.");
        var order = TopologicalOrder(root);
        foreach (var t in order)
        {
            if (t.GradFn is { Released: true })
                throw new InvalidOperationException("Trying to backward through the graph a second time: its intermediate results were released by the first Backward(). Pass retainGraph: true to the first call to keep them.");
            t.GradFn?.CheckVersions();
        }
        root.Pending = [1f];
        for (int i = order.Count - 1; i >= 0; i--)
        {
            var t = order[i];
            var grad = t.Pending;
            t.Pending = null;
            if (t.GradFn is { } fn)
            {
                if (grad is not null) fn.Backward(grad);
                if (!retainGraph) fn.Release();
            }
            else if (grad is not null) t.DeliverGrad(grad);
        }
    }

    /// <summary>The tensors that require a gradient below <paramref name="root"/>, inputs before the outputs that use them.</summary>
    private static List<Tensor> TopologicalOrder(Tensor root)
    {
        int mark = Interlocked.Increment(ref _generation);
        var order = new List<Tensor>();
        var stack = new Stack<(Tensor Tensor, int Next)>();
        root.Visit = mark;
        stack.Push((root, 0));
        while (stack.Count > 0)
        {
            var (t, next) = stack.Pop();
            var inputs = t.GradFn?.Inputs;
            if (inputs is not null && next < inputs.Length)
            {
                stack.Push((t, next + 1));
                var input = inputs[next];
                if (input.RequiresGrad && input.Visit != mark)
                {
                    input.Visit = mark;
                    stack.Push((input, 0));
                }
            }
            else order.Add(t);
        }
        return order;
    }
}
