using Optim.NN.Autograd;

namespace Optim.NN.Ops;

/// <summary>Dropout's training-mode operation: <c>x · mask / (1 − p)</c> with a fresh Bernoulli(1 − p) mask.</summary>
internal static class Dropout
{
    /// <summary>Zeroes each element with probability <paramref name="p"/> (drawn from <paramref name="random"/>, in element order) and scales the rest by 1/(1 − p).</summary>
    public static Tensor Apply(Tensor x, double p, Random random)
    {
        // PyTorch: noise = bernoulli(1 − p) / (1 − p), the output x·noise; p = 1 drops everything
        float scale = p == 1 ? 0f : (float)(1 / (1 - p));
        var noise = GC.AllocateUninitializedArray<float>(x.Numel);
        for (int i = 0; i < noise.Length; i++) noise[i] = random.NextDouble() < p ? 0f : scale;
        var y = GC.AllocateUninitializedArray<float>(x.Numel);
        System.Numerics.Tensors.TensorPrimitives.Multiply(x.Data, noise, y);
        return Tensor.Result(y, (int[])x.ShapeArray.Clone(), Tensor.Records(x) ? new DropoutNode(x, noise) : null);
    }

    private sealed class DropoutNode(Tensor input, float[] noise) : Node(input)
    {
        public override void Backward(float[] grad)
        {
            // the gradient is the mask times the scale: the output's gradient is ours, scaled in place
            System.Numerics.Tensors.TensorPrimitives.Multiply(grad, noise, grad);
            A.AddGrad(grad);
        }
    }
}
