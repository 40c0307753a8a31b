using Optim.NN.Autograd;

namespace Optim.NN.Tests;

/// <summary>
/// <c>sum(y · w)</c> for a constant <c>w</c> of y's shape, at any rank, as one test-local operation: the loss whose
/// gradient is <c>w</c>, so that a layer's backward is checked on its own (the golden cases' <c>sum(out * w)</c>).
/// </summary>
internal static class WeightedSum
{
    public static Tensor Of(Tensor y, float[] w)
    {
        Assert.Equal(y.Numel, w.Length);
        double s = 0;
        for (int i = 0; i < w.Length; i++) s += (double)y.Data[i] * w[i];
        return Tensor.Result([(float)s], [], Tensor.Records(y) ? new Node(y, w) : null);
    }

    private sealed class Node(Tensor y, float[] w) : Autograd.Node(y)
    {
        public override void Backward(float[] grad)
        {
            var g = new float[w.Length];
            for (int i = 0; i < g.Length; i++) g[i] = grad[0] * w[i];
            A.AddGrad(g);
        }
    }
}
