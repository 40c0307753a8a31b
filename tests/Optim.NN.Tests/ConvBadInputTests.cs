namespace Optim.NN.Tests;

/// <summary>Convolution and pooling reject bad input with an ArgumentException naming the argument and showing the value.</summary>
public class ConvBadInputTests
{
    private static void Rejects(Action a, string paramName, params string[] inMessage)
    {
        var e = Assert.ThrowsAny<ArgumentException>(a);
        Assert.Equal(paramName, e.ParamName);
        foreach (var s in inMessage) Assert.Contains(s, e.Message);
    }

    private static readonly Tensor X = Tensor.Zeros(2, 3, 8, 8);
    private static readonly Tensor W = Tensor.Zeros(4, 3, 3, 3);

    [Fact]
    public void ConvolutionRejectsAnInputThatIsNotThreeOrFourDimensional()
    {
        Rejects(() => Functional.Conv2d(Tensor.Zeros(3, 8), W), "input", "[3, 8]", "[N, C, H, W]");
        Rejects(() => Functional.Conv2d(Tensor.Zeros(8), W), "input", "[8]");
        Rejects(() => Functional.Conv2d(Tensor.Scalar(1), W), "input", "[]");
    }

    [Fact]
    public void ConvolutionRejectsAWeightOfTheWrongRankOrAnEmptyKernel()
    {
        Rejects(() => Functional.Conv2d(X, Tensor.Zeros(4, 27)), "weight", "[4, 27]");
        Rejects(() => Functional.Conv2d(X, Tensor.Zeros(4, 3, 0, 3)), "weight", "[4, 3, 0, 3]", "1×1");
    }

    [Fact]
    public void ConvolutionRejectsAChannelMismatchNamingBothShapes()
    {
        Rejects(() => Functional.Conv2d(Tensor.Zeros(2, 1, 8, 8), W), "input", "[4, 3, 3, 3]", "3 channels", "[2, 1, 8, 8]", "1 channels");
        Rejects(() => Functional.Conv2d(Tensor.Zeros(2, 8, 8), W), "input", "[2, 8, 8]");
    }

    [Fact]
    public void ConvolutionRejectsABiasOfTheWrongShape()
    {
        Rejects(() => Functional.Conv2d(X, W, Tensor.Zeros(3)), "bias", "[4]", "[3]");
        Rejects(() => Functional.Conv2d(X, W, Tensor.Zeros(1, 4)), "bias", "[1, 4]");
    }

    [Fact]
    public void ConvolutionRejectsAKernelLargerThanThePaddedInput()
    {
        Rejects(() => Functional.Conv2d(Tensor.Zeros(1, 3, 2, 8), W), "input", "2×8", "3×3");
        Rejects(() => Functional.Conv2d(Tensor.Zeros(1, 3, 1, 1), Tensor.Zeros(4, 3, 5, 5), padding: 1), "input", "3×3", "5×5", "(1, 1)");
        // padding makes room: a 1×1 image with padding 1 fits a 3×3 kernel
        Assert.Equal([1, 4, 1, 1], Functional.Conv2d(Tensor.Zeros(1, 3, 1, 1), W, padding: 1).Shape);
    }

    [Fact]
    public void ConvolutionRejectsANonPositiveStrideAndANegativePadding()
    {
        Rejects(() => Functional.Conv2d(X, W, stride: 0), "stride", "(0, 0)");
        Rejects(() => Functional.Conv2d(X, W, null, (1, -2), (0, 0)), "stride", "(1, -2)");
        Rejects(() => Functional.Conv2d(X, W, padding: -1), "padding", "(-1, -1)");
        Rejects(() => Functional.Conv2d(X, W, null, (1, 1), (0, -3)), "padding", "(0, -3)");
    }

    [Fact]
    public void TheConvolutionLayerChecksItsArguments()
    {
        Rejects(() => _ = new Conv2d(-1, 4, 3), "inChannels", "-1");
        Rejects(() => _ = new Conv2d(3, -4, 3), "outChannels", "-4");
        Rejects(() => _ = new Conv2d(3, 4, 0), "kernelSize", "0");
        Rejects(() => _ = new Conv2d(3, 4, 3, stride: 0), "stride", "0");
        Rejects(() => _ = new Conv2d(3, 4, 3, padding: -1), "padding", "-1");
        Rejects(() => new Conv2d(3, 4, 3, random: new Random(0)).Forward(Tensor.Zeros(2, 2, 8, 8)), "input", "[2, 2, 8, 8]");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PoolingChecksTheInputWindowStrideAndPadding(bool max)
    {
        Tensor Pool(Tensor x, int k, int? s = null, int p = 0) => max ? Functional.MaxPool2d(x, k, s, p) : Functional.AvgPool2d(x, k, s, p);
        Rejects(() => Pool(Tensor.Zeros(8, 8), 2), "input", "[8, 8]");
        Rejects(() => Pool(X, 0), "kernelSize", "(0, 0)");
        Rejects(() => Pool(X, -2), "kernelSize", "(-2, -2)");
        Rejects(() => Pool(X, 2, 0), "stride", "(0, 0)");
        Rejects(() => Pool(X, 2, 2, -1), "padding", "(-1, -1)");
        Rejects(() => Pool(X, 3, 1, 2), "padding", "half", "(3, 3)", "(2, 2)");
        Rejects(() => Pool(Tensor.Zeros(1, 1, 2, 9), 3), "input", "2×9", "3×3");
        Rejects(() => _ = max ? Functional.MaxPool2d(X, (2, 0)) : Functional.AvgPool2d(X, (2, 0)), "kernelSize", "(2, 0)");
    }

    [Fact]
    public void ThePoolingLayersCheckTheirArguments()
    {
        Rejects(() => _ = new MaxPool2d(0), "kernelSize", "0");
        Rejects(() => _ = new AvgPool2d(2, stride: -1), "stride", "-1");
        Rejects(() => _ = new MaxPool2d(2, padding: 2), "padding", "(2, 2)");
        Rejects(() => _ = new AvgPool2d(3, padding: -1), "padding", "-1");
        Assert.Equal(2, new MaxPool2d(2).Stride);
        Assert.Equal(1, new AvgPool2d(3, stride: 1, padding: 1).Stride);
    }

    [Fact]
    public void AFailedCallRecordsNothingAndLeavesGradientsAlone()
    {
        var w = new Tensor(new float[4 * 3 * 3 * 3], 4, 3, 3, 3) { RequiresGrad = true };
        Assert.ThrowsAny<ArgumentException>(() => Functional.Conv2d(Tensor.Zeros(2, 1, 8, 8), w));
        Assert.Null(w.Grad);
        Assert.Throws<ArgumentNullException>(() => Functional.Conv2d(null!, w));
        Assert.Throws<ArgumentNullException>(() => Functional.Conv2d(X, null!));
        Assert.Throws<ArgumentNullException>(() => Functional.MaxPool2d(null!, 2));
    }
}
