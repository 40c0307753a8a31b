namespace Optim.NN.Tests;

/// <summary>Bad input raises an ArgumentException naming the argument and showing the shapes or values.</summary>
public class BadInputTests
{
    private static ArgumentException Rejects(Action a, string paramName, params string[] inMessage)
    {
        var e = Assert.ThrowsAny<ArgumentException>(a);
        Assert.Equal(paramName, e.ParamName);
        foreach (var s in inMessage) Assert.Contains(s, e.Message);
        return e;
    }

    [Fact]
    public void TensorsCheckTheirShape()
    {
        Rejects(() => _ = new Tensor(new float[5], 2, 3), "shape", "[2, 3]", "5");
        Rejects(() => _ = new Tensor(new float[32], 2, 2, 2, 2, 2), "shape", "rank 0 to 4");
        Rejects(() => _ = new Tensor(new float[0], -1), "shape", "[-1]");
        Rejects(() => Tensor.Zeros(1, 2, 3, 1, 1), "shape", "rank 0 to 4");
        Rejects(() => Tensor.FromParameter(new Optim.CSharp.Parameter(new float[16], 2, 2, 2, 1, 2)), "parameter", "rank 0 to 4");
        Assert.Throws<ArgumentNullException>(() => new Tensor((float[])null!));
    }

    [Fact]
    public void ShapesThatDoNotBroadcastAreRejected()
    {
        var a = Tensor.Zeros(2, 3);
        Rejects(() => _ = a + Tensor.Zeros(2), "right", "[2, 3]", "[2]");
        Rejects(() => _ = a * Tensor.Zeros(3, 3), "right", "[3, 3]");
        Rejects(() => _ = Tensor.Zeros(4) - Tensor.Zeros(3), "right");
    }

    [Fact]
    public void MatMulNeedsMatchingInnerExtents()
    {
        Rejects(() => Tensor.Zeros(2, 3).MatMul(Tensor.Zeros(2, 3)), "other", "[2, 3]");
        Rejects(() => Tensor.Zeros(3).MatMul(Tensor.Zeros(3, 2)), "other", "[3]");
    }

    [Fact]
    public void ReductionsAndLogSoftmaxCheckTheDimension()
    {
        Rejects(() => Tensor.Zeros(2, 3).Sum(2), "dim", "2", "[2, 3]");
        Rejects(() => Tensor.Zeros(2, 3).Mean(-3), "dim");
        Rejects(() => Tensor.Scalar(1).Sum(0), "dim");
        Rejects(() => Tensor.Zeros(2, 3).LogSoftmax(0), "dim", "last");
    }

    [Fact]
    public void LossesCheckShapesAndClassIndices()
    {
        var logits = Tensor.Zeros(2, 3);
        Rejects(() => Functional.CrossEntropy(Tensor.Zeros(3), new Tensor([0f])), "input", "[3]");
        Rejects(() => Functional.CrossEntropy(logits, new Tensor([0f, 1f, 2f])), "target", "[3]");
        Rejects(() => Functional.CrossEntropy(logits, new Tensor([0f, 3f])), "target", "Target 1 is 3", "[0, 3)");
        Rejects(() => Functional.CrossEntropy(logits, new Tensor([0.5f, 1f])), "target", "0.5");
        Rejects(() => Functional.CrossEntropy(logits, new Tensor([-1f, 1f])), "target", "-1");
        Rejects(() => new MSELoss().Forward(Tensor.Zeros(2, 3), Tensor.Zeros(3, 2)), "target", "[3, 2]", "[2, 3]");
    }

    [Fact]
    public void LinearChecksWeightAndBias()
    {
        var x = Tensor.Zeros(2, 3);
        Rejects(() => Functional.Linear(x, Tensor.Zeros(3)), "weight", "[3]");
        Rejects(() => Functional.Linear(x, Tensor.Zeros(4, 3), Tensor.Zeros(3)), "bias", "[4]");
        Rejects(() => Functional.Linear(x, Tensor.Zeros(4, 2)), "input", "[2, 3]");
    }

    [Fact]
    public void RowIndicesOutOfRangeAreRejectedAndSlicesClampAsInPython()
    {
        var x = Tensor.Zeros(4, 3);
        Rejects(() => _ = x[4], "index", "[4, 3]");
        Rejects(() => _ = x[-5], "index");
        Rejects(() => _ = Tensor.Scalar(1)[0], "index", "scalar");
        Rejects(() => _ = Tensor.Scalar(1)[0..1], "rows", "scalar");
        Assert.Equal(new[] { 3 }, x[-1].Shape);
        Assert.Equal(new[] { 2, 3 }, x[2..9].Shape);
        Assert.Equal(new[] { 0, 3 }, x[3..1].Shape);
        Assert.Equal(new[] { 1, 3 }, x[^1..].Shape);
    }

    [Fact]
    public void AFailedOperationRecordsNothing()
    {
        var a = new Tensor([1f, 2f]) { RequiresGrad = true };
        Assert.ThrowsAny<ArgumentException>(() => a + Tensor.Zeros(3));
        (a * 2f).Sum().Backward();
        Assert.Equal([2f, 2f], a.Grad!);
    }
}
