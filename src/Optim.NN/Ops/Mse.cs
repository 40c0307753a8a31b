using System.Numerics.Tensors;
using Optim.NN.Autograd;

namespace Optim.NN.Ops;

/// <summary>The mean squared error, <c>mean((input − target)²)</c>, as PyTorch's <c>nn.MSELoss</c>.</summary>
internal static class Mse
{
    /// <exception cref="ArgumentException">The shapes differ.</exception>
    public static Tensor Loss(Tensor input, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        if (!input.ShapeArray.AsSpan().SequenceEqual(target.ShapeArray))
            throw new ArgumentException(
                $"The target's shape {Shapes.Format(target.ShapeArray)} must equal the input's {Shapes.Format(input.ShapeArray)}.", nameof(target));
        int n = input.Numel;
        var diff = GC.AllocateUninitializedArray<float>(n);
        TensorPrimitives.Subtract(input.Data, target.Data, diff);
        double total = 0;
        foreach (var d in diff) total += d * d;
        float loss = (float)(total / n);
        return Tensor.Result([loss], [], Tensor.Records(input, target) ? new MseNode(input, target, diff) : null);
    }

    private sealed class MseNode(Tensor input, Tensor target, float[] diff) : Node(input, target)
    {
        public override void Backward(float[] grad)
        {
            // PyTorch's mse_loss_backward: (2 / numel) · (input − target) · grad
            float scale = (float)(2.0 / diff.Length) * grad[0];
            if (B.RequiresGrad)
            {
                var gt = new float[diff.Length];
                TensorPrimitives.Multiply(diff, -scale, gt);
                B.AddGrad(gt);
            }
            if (A.RequiresGrad)
            {
                var gi = GC.AllocateUninitializedArray<float>(diff.Length);
                TensorPrimitives.Multiply(diff, scale, gi);
                A.AddGrad(gi);
            }
        }
    }
}
