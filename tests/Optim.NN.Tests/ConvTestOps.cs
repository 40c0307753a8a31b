namespace Optim.NN.Tests;

/// <summary>The convolution tests' two helpers: the weighted-sum loss (<see cref="Tests.WeightedSum"/>) and <c>flatten(1)</c>.</summary>
internal static class ConvTestOps
{
    /// <summary><c>sum(x * w)</c> as a scalar, for a constant <paramref name="w"/> of x's size; its gradient is <c>w</c>.</summary>
    public static Tensor WeightedSum(Tensor x, float[] w) => Tests.WeightedSum.Of(x, w);

    /// <summary><c>x.flatten(1)</c>: <c>[N, ...]</c> as <c>[N, rest]</c>, sharing the values.</summary>
    public static Tensor Flatten(Tensor x) => x.Flatten(1);
}

/// <summary>nn.Flatten() as a layer, for the tests' networks.</summary>
internal sealed class FlattenImages : Module
{
    public override Tensor Forward(Tensor input) => ConvTestOps.Flatten(input);
}
