namespace Optim.NN.Tests;

/// <summary>
/// The rank 3 and 4 ops beyond their golden values: bad input (an ArgumentException naming the argument and showing
/// the value), views sharing their buffer, and PyTorch 1.13's NaN and tie rules for maxima.
/// </summary>
public class ShapeOpsTests
{
    private static ArgumentException Rejects(Action a, string paramName, params string[] inMessage)
    {
        var e = Assert.ThrowsAny<ArgumentException>(a);
        Assert.Equal(paramName, e.ParamName);
        foreach (var s in inMessage) Assert.Contains(s, e.Message);
        return e;
    }

    [Fact]
    public void AReshapeToAnotherElementCountIsRejectedWithTheShapeAndTheCount()
    {
        var x = Tensor.Zeros(2, 3);
        Rejects(() => x.Reshape(4, 2), "shape", "[4, 2]", "6");
        Rejects(() => x.View(7), "shape", "[7]", "6");
        Rejects(() => x.Reshape(-1, 4), "shape", "[-1, 4]", "6");
        Rejects(() => x.Reshape(), "shape", "[]", "6");
        Rejects(() => x.Reshape(0, -1), "shape", "[0, -1]");
        Rejects(() => Tensor.Zeros(0, 3).Reshape(0, -1), "shape", "0 elements", "[0, -1]");
        Rejects(() => x.Reshape(1, 1, 1, 2, 3), "shape", "rank 0 to 4");
        Assert.Throws<ArgumentNullException>(() => x.Reshape(null!));
    }

    [Fact]
    public void TwoInferredExtentsOrANegativeExtentAreRejected()
    {
        var x = Tensor.Zeros(2, 3);
        Rejects(() => x.Reshape(-1, -1), "shape", "Only one dimension can be inferred", "[-1, -1]");
        Rejects(() => x.View(2, -1, -1), "shape", "[2, -1, -1]");
        Rejects(() => x.Reshape(-2, -3), "shape", "-2", "[-2, -3]");
    }

    [Fact]
    public void APermutationThatIsNotOneIsRejected()
    {
        var x = Tensor.Zeros(2, 3, 4);
        Rejects(() => x.Permute(0, 1), "dims", "[0, 1]", "[2, 3, 4]");
        Rejects(() => x.Permute(0, 1, 1), "dims", "Dimension 1 appears twice", "[0, 1, 1]");
        Rejects(() => x.Permute(0, -3, 1), "dims", "Dimension 0 appears twice", "[0, -3, 1]");
        Rejects(() => x.Permute(0, 1, 3), "dims", "Dimension 3", "[-3, 2]");
        Rejects(() => x.Permute(0, 1, -4), "dims", "Dimension -4");
        Assert.Throws<ArgumentNullException>(() => x.Permute(null!));
    }

    [Fact]
    public void DimensionsOutOfRangeAreRejectedByEveryOpWithTheRangeThatHolds()
    {
        var x = Tensor.Zeros(2, 3, 4, 5);
        Rejects(() => x.Sum(4), "dim", "Dimension 4", "[2, 3, 4, 5]", "[-4, 3]");
        Rejects(() => x.Mean(-5, keepDim: true), "dim", "Dimension -5");
        Rejects(() => x.ArgMax(4), "dim", "Dimension 4");
        Rejects(() => x.Max(-5), "dim", "Dimension -5");
        Rejects(() => x.Squeeze(4), "dim", "Dimension 4");
        Rejects(() => Tensor.Zeros(2, 3, 4).Unsqueeze(4), "dim", "Dimension 4", "[-4, 3]");
        Rejects(() => Tensor.Zeros(2, 3, 4).Unsqueeze(-5), "dim", "Dimension -5");
        Rejects(() => x.Unsqueeze(0), "dim", "rank 0 to 4", "[2, 3, 4, 5]");
        Rejects(() => x.Flatten(4), "startDim", "Dimension 4");
        Rejects(() => x.Flatten(0, -5), "endDim", "Dimension -5");
        Rejects(() => x.Flatten(2, 1), "startDim", "startDim 2 comes after endDim 1");
        Rejects(() => new Flatten(3, 1).Forward(x), "startDim", "startDim 3");
        Rejects(() => x.LogSoftmax(1), "dim", "last");
        Rejects(() => Tensor.Scalar(1).ArgMax(0), "dim", "scalar");
    }

    [Fact]
    public void ReductionsOfMaximaNeedElements()
    {
        Rejects(() => Tensor.Zeros(0, 3).ArgMax(0), "dim", "extent 0");
        Rejects(() => Tensor.Zeros(3, 0).Max(1), "dim", "extent 0");
        Assert.Equal(new[] { 0 }, Tensor.Zeros(0, 3).ArgMax(1).Shape);
        Assert.Throws<InvalidOperationException>(() => Tensor.Zeros(0, 3).Max());
        Assert.Throws<InvalidOperationException>(() => Tensor.Zeros(0).ArgMax());
    }

    [Fact]
    public void TAndMatMulStayTwoDimensionalAsInPyTorch()
    {
        var e = Assert.Throws<InvalidOperationException>(() => Tensor.Zeros(2, 3, 4).T());
        Assert.Contains("[2, 3, 4]", e.Message);
        Rejects(() => Tensor.Zeros(2, 3, 4).MatMul(Tensor.Zeros(4, 2)), "other", "[2, 3, 4]");
    }

    [Fact]
    public void ShapesOfRank3And4ThatDoNotBroadcastAreRejectedWithBothShapes()
    {
        Rejects(() => _ = Tensor.Zeros(2, 3, 4, 5) + Tensor.Zeros(2, 1, 1), "right", "[2, 3, 4, 5]", "[2, 1, 1]");
        Rejects(() => _ = Tensor.Zeros(4, 5) * Tensor.Zeros(2, 3, 5, 4), "right", "[4, 5]");
        Rejects(() => Tensor.Zeros(2, 3).Eq(Tensor.Zeros(2, 2, 2)), "other", "[2, 2, 2]");
    }

    [Fact]
    public void ViewsShareTheBufferAndPermuteCopies()
    {
        var x = new Tensor(Enumerable.Range(0, 24).Select(i => (float)i).ToArray(), 2, 3, 4);
        Assert.Same(x.Data, x.Reshape(6, 4).Data);
        Assert.Same(x.Data, x.View(-1).Data);
        Assert.Same(x.Data, x.Flatten(1).Data);
        Assert.Same(x.Data, x.Unsqueeze(1).Squeeze(1).Data);
        var p = x.Permute(2, 0, 1);
        Assert.NotSame(x.Data, p.Data);
        Assert.Equal(new[] { 4, 2, 3 }, p.Shape);
        // p[k, i, j] = x[i, j, k]
        Assert.Equal(x.Data[1 * 12 + 2 * 4 + 3], p.Data[3 * 6 + 1 * 3 + 2]);
    }

    [Fact]
    public void AViewOfALeafSendsItsGradientToTheLeaf()
    {
        var x = new Tensor([1f, 2f, 3f, 4f, 5f, 6f], 1, 2, 3) { RequiresGrad = true };
        var y = x.View(3, 2);
        Assert.False(y.IsLeaf);
        (y * y).Sum().Backward();
        Assert.Equal([2f, 4f, 6f, 8f, 10f, 12f], x.Grad!);
    }

    [Fact]
    public void MaximaTreatNaNAsTheLargestAsPyTorchDoes()
    {
        // PyTorch 1.13: tensor([1., nan, 3.]).max() is nan, argmax() is 1, and max().backward() gives [0, 1, 0]
        var x = new Tensor([1f, float.NaN, 3f, float.NaN]) { RequiresGrad = true };
        Assert.True(float.IsNaN(x.Max().Item()));
        Assert.Equal(1f, x.ArgMax().Item());
        Assert.Equal(1f, x.ArgMax(0).Item());
        var (values, indices) = new Tensor([1f, float.NaN, 3f, float.NaN], 1, 4).Max(1);
        Assert.True(float.IsNaN(values.Item()));
        Assert.Equal(1f, indices.Item());
        var y = new Tensor([1f, float.NaN, 3f]) { RequiresGrad = true };
        y.Max().Backward();
        Assert.Equal([0f, 1f, 0f], y.Grad!);
    }

    [Fact]
    public void TiedMaximaShareMaxsGradientButMaxAlongADimensionPicksTheFirst()
    {
        // PyTorch 1.13: tensor([1., 3., 3., 2.]).max().backward() gives [0, .5, .5, 0]; max(1) of [[1, 3, 3, 2]] is index 1
        var x = new Tensor([1f, 3f, 3f, 2f]) { RequiresGrad = true };
        x.Max().Backward();
        Assert.Equal([0f, 0.5f, 0.5f, 0f], x.Grad!);
        var m = new Tensor([1f, 3f, 3f, 2f], 1, 4) { RequiresGrad = true };
        var (values, indices) = m.Max(1);
        Assert.Equal(1f, indices.Item());
        Assert.False(indices.RequiresGrad);
        values.Sum().Backward();
        Assert.Equal([0f, 1f, 0f, 0f], m.Grad!);
    }

    [Fact]
    public void ComparisonsAndIndicesRecordNoGradient()
    {
        var a = new Tensor([1f, 2f, 3f], 1, 3) { RequiresGrad = true };
        var eq = a.Eq(new Tensor([1f, 0f, 3f]));
        Assert.Equal([1f, 0f, 1f], eq.Data);
        Assert.False(eq.RequiresGrad);
        Assert.True(eq.IsLeaf);
        Assert.False(a.ArgMax(1).RequiresGrad);
        Assert.Equal([0f, 0f, 0f], new Tensor([float.NaN, 1f, 2f]).Eq(float.NaN).Data);
    }

    [Fact]
    public void AccuracyOfLogitsAgainstLabelsIsOneLine()
    {
        // rows 0 and 2 are right: 2 of 3
        var logits = new Tensor([0.1f, 2f, -1f, 3f, 0f, 1f, -2f, -1f, 0.5f], 3, 3);
        var labels = new Tensor([1f, 2f, 2f]);
        float accuracy = logits.ArgMax(1).Eq(labels).Mean().Item();
        Assert.Equal(2f / 3f, accuracy);
    }

    [Fact]
    public void TheFlattenLayerHasPyTorchsDefaultsAndNoParameters()
    {
        var flatten = new Flatten();
        Assert.Equal((1, -1), (flatten.StartDim, flatten.EndDim));
        Assert.Empty(flatten.Parameters());
        Assert.Equal(new[] { 2, 48 }, flatten.Forward(Tensor.Zeros(2, 3, 4, 4)).Shape);
        var model = new Sequential(new Flatten(), new Linear(12, 2, random: new Random(0)));
        Assert.Equal(new[] { 5, 2 }, model.Forward(Tensor.Zeros(5, 3, 2, 2)).Shape);
    }
}
