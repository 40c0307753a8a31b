namespace Optim.NN.Tests;

/// <summary>The Conv2d layer's initialisation, parameters and forward, and the pooling layers' defaults.</summary>
public class ConvModuleTests
{
    [Theory]
    [InlineData(3, 32, 5)]
    [InlineData(32, 64, 5)]
    [InlineData(1, 4, 1)]
    public void Conv2dDrawsWeightsAndBiasUniformlyWithinOneOverTheSquareRootOfFanIn(int inChannels, int outChannels, int k)
    {
        var layer = new Conv2d(inChannels, outChannels, k, random: new Random(7));
        // kaiming_uniform(a=√5) over fan_in = inChannels·k²: bound 1/√fan_in, and the bias the same
        double bound = 1 / Math.Sqrt(inChannels * k * k);
        Assert.Equal(new[] { outChannels, inChannels, k, k }, layer.Weight.Shape);
        Assert.Equal(new[] { outChannels }, layer.Bias!.Shape);
        Assert.All(layer.Weight.Data, w => Assert.True(Math.Abs(w) <= (float)bound * (1 + 1e-6f), $"{w} outside ±{bound}"));
        Assert.All(layer.Bias.Data, b => Assert.True(Math.Abs(b) <= (float)bound * (1 + 1e-6f), $"{b} outside ±{bound}"));
        if (layer.Weight.Data.Length >= 1000)
        {
            var w = layer.Weight.Data.Select(v => (double)v).ToArray();
            Assert.True(w.Max() > 0.99 * bound && w.Min() < -0.99 * bound);
            Assert.Equal(bound * bound / 3, w.Select(v => v * v).Average(), bound * bound * 0.02);
        }
    }

    [Fact]
    public void Conv2dDrawsTheWeightRowMajorThenTheBiasFromItsGenerator()
    {
        var layer = new Conv2d(2, 3, 3, random: new Random(42));
        var r = new Random(42);
        double bound = 1 / Math.Sqrt(2 * 9);
        var weights = Enumerable.Range(0, 3 * 2 * 9).Select(_ => (float)(-bound + 2 * bound * r.NextDouble())).ToArray();
        var bias = Enumerable.Range(0, 3).Select(_ => (float)(-bound + 2 * bound * r.NextDouble())).ToArray();
        Assert.Equal(weights, layer.Weight.Data);
        Assert.Equal(bias, layer.Bias!.Data);
    }

    [Fact]
    public void Conv2dHasPyTorchsParametersNamesAndArguments()
    {
        var layer = new Conv2d(3, 8, 5, stride: 2, padding: 1, random: new Random(0));
        Assert.Equal(new[] { "weight", "bias" }, layer.Parameters().Select(p => p.Name));
        Assert.Same(layer.Weight, layer.Parameters().First());
        Assert.Equal((3, 8, 5, 2, 1), (layer.InChannels, layer.OutChannels, layer.KernelSize, layer.Stride, layer.Padding));
        var noBias = new Conv2d(3, 8, 5, bias: false, random: new Random(0));
        Assert.Null(noBias.Bias);
        Assert.Single(noBias.Parameters());
    }

    [Fact]
    public void Conv2dsForwardIsTheFunctionalConvolutionWithItsParametersAndGradientsReachThem()
    {
        var layer = new Conv2d(3, 4, 3, stride: 2, padding: 1, random: new Random(1));
        var x = new Tensor(Enumerable.Range(0, 2 * 3 * 7 * 6).Select(i => (float)Math.Sin(i)).ToArray(), 2, 3, 7, 6);
        var y = layer.Forward(x);
        var expected = Functional.Conv2d(x, new Tensor(layer.Weight.Data, 4, 3, 3, 3), new Tensor(layer.Bias!.Data, 4), 2, 1);
        Assert.Equal(new[] { 2, 4, 4, 3 }, y.Shape);
        Assert.Equal(expected.Data, y.Data);
        y.Sum().Backward();
        Assert.NotNull(layer.Weight.Grad);
        Assert.NotNull(layer.Bias.Grad);
        Assert.Equal(2 * 4 * 3, layer.Bias.Grad![0]);   // d sum / d b[o] = the output pixels of channel o
        // an unbatched image gives the first image's output
        var one = layer.Forward(new Tensor(x.Data[..(3 * 7 * 6)], 3, 7, 6));
        Assert.Equal(new[] { 4, 4, 3 }, one.Shape);
        Assert.Equal(y.Data[..(4 * 4 * 3)], one.Data);
    }

    [Fact]
    public void PoolingLayersDefaultTheStrideToTheKernelSizeAndAgreeWithTheFunctionalForms()
    {
        var x = new Tensor(Enumerable.Range(0, 2 * 3 * 8 * 8).Select(i => (float)Math.Cos(i * 0.7)).ToArray(), 2, 3, 8, 8);
        var max = new MaxPool2d(2);
        var avg = new AvgPool2d(3, stride: 2, padding: 1);
        Assert.Equal((2, 2, 0), (max.KernelSize, max.Stride, max.Padding));
        Assert.Empty(max.Parameters());
        Assert.Equal(new[] { 2, 3, 4, 4 }, max.Forward(x).Shape);
        Assert.Equal(Functional.MaxPool2d(x, 2, 2).Data, max.Forward(x).Data);
        Assert.Equal(new[] { 2, 3, 4, 4 }, avg.Forward(x).Shape);
        Assert.Equal(Functional.AvgPool2d(x, (3, 3), (2, 2), (1, 1)).Data, avg.Forward(x).Data);
    }

    [Fact]
    public void MaxPoolingPropagatesNaNAndRoutesTheGradientToTheLastNaNOrTheFirstMaximumAsPyTorchDoes()
    {
        // PyTorch 1.13: F.max_pool2d(x, 2) and F.max_pool2d(x, 3, 1, 1) on this x, then sum().backward()
        float nan = float.NaN;
        float[] x = [1, nan, 3, 0, 2, nan, -1, 5, 0, 0, 0, 0, 0, 0, 0, 0];
        var t = new Tensor((float[])x.Clone(), 1, 1, 4, 4) { RequiresGrad = true };
        var y = Functional.MaxPool2d(t, 2);
        Assert.Equal([nan, 5, 0, 0], y.Data);
        y.Sum().Backward();
        Assert.Equal([0, 0, 0, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0], t.Grad!);
        var u = new Tensor((float[])x.Clone(), 1, 1, 4, 4) { RequiresGrad = true };
        var z = Functional.MaxPool2d(u, 3, 1, 1);
        Assert.Equal([nan, nan, nan, 5, nan, nan, nan, 5, nan, nan, nan, 5, 0, 0, 0, 0], z.Data);
        z.Sum().Backward();
        Assert.Equal([0, 0, 0, 0, 0, 9, 0, 3, 2, 1, 1, 0, 0, 0, 0, 0], u.Grad!);
    }

    [Fact]
    public void MaxPoolingOverWidePlanesFollowsTheSameRuleInEveryLaneOfTheVectorPath()
    {
        // 2×2 windows at stride 2 over planes 40 wide (20 windows a row: two vectors of 8, then 4 alone), values
        // from {-1, 0, 1, NaN} so that ties and NaNs fall everywhere; the reference is PyTorch's rule, written out:
        // the first maximum in row-major order, or the last NaN, gets the gradient
        var rng = new Random(7);
        float[] pick = [-1, 0, 1, float.NaN];
        const int n = 2, c = 3, h = 6, w = 40;
        var x = new float[n * c * h * w];
        for (int i = 0; i < x.Length; i++) x[i] = pick[rng.Next(4)];
        var gy = new float[n * c * (h / 2) * (w / 2)];
        for (int i = 0; i < gy.Length; i++) gy[i] = rng.Next(1, 100);
        var expectedY = new float[gy.Length];
        var expectedGx = new float[x.Length];
        for (int p = 0; p < n * c; p++)
            for (int oh = 0; oh < h / 2; oh++)
                for (int ow = 0; ow < w / 2; ow++)
                {
                    int best = -1;
                    float max = float.NegativeInfinity;
                    for (int dh = 0; dh < 2; dh++)
                        for (int dw = 0; dw < 2; dw++)
                        {
                            int at = p * h * w + (2 * oh + dh) * w + 2 * ow + dw;
                            if (best < 0 || x[at] > max || float.IsNaN(x[at])) { best = at; max = x[at]; }
                        }
                    int o = p * (h / 2) * (w / 2) + oh * (w / 2) + ow;
                    expectedY[o] = max;
                    expectedGx[best] = gy[o];
                }
        var t = new Tensor(x, n, c, h, w) { RequiresGrad = true };
        var y = Functional.MaxPool2d(t, 2);
        Assert.Equal(expectedY, y.Data);
        (y * new Tensor(gy, n, c, h / 2, w / 2)).Sum().Backward();
        Assert.Equal(expectedGx, t.Grad!);
    }
}
