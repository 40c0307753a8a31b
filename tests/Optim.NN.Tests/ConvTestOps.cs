using Optim.NN.Autograd;

namespace Optim.NN.Tests;

/// <summary>
/// Two tiny ops for the convolution tests, written here so that they depend on nothing but the autograd engine (the
/// library's elementwise ops and reshapes of rank-4 tensors come with the rank-4 tensor work).
/// </summary>
internal static class ConvTestOps
{
    /// <summary><c>sum(x * w)</c> as a scalar, for a constant <paramref name="w"/> of x's size; its gradient is <c>w</c>.</summary>
    public static Tensor WeightedSum(Tensor x, float[] w)
    {
        Assert.Equal(x.Numel, w.Length);
        double s = 0;
        for (int i = 0; i < w.Length; i++) s += (double)x.Data[i] * w[i];
        return Tensor.Result([(float)s], [], Tensor.Records(x) ? new WeightedSumNode(x, w) : null);
    }

    /// <summary><c>x.flatten(1)</c>: <c>[N, ...]</c> as <c>[N, rest]</c>, sharing the values.</summary>
    public static Tensor Flatten(Tensor x)
    {
        int n = x.Shape[0];
        return Tensor.Result(x.Data, [n, n == 0 ? 0 : x.Numel / n], Tensor.Records(x) ? new PassNode(x) : null);
    }

    private sealed class WeightedSumNode(Tensor x, float[] w) : Node(x)
    {
        public override void Backward(float[] grad)
        {
            var g = new float[w.Length];
            for (int i = 0; i < g.Length; i++) g[i] = w[i] * grad[0];
            A.AddGrad(g);
        }
    }

    private sealed class PassNode(Tensor x) : Node(x)
    {
        public override void Backward(float[] grad) => A.AddGrad(grad);
    }
}

/// <summary>nn.Flatten() as a layer, for the tests' networks.</summary>
internal sealed class FlattenImages : Module
{
    public override Tensor Forward(Tensor input) => ConvTestOps.Flatten(input);
}
