namespace Optim.NN.Tests;

/// <summary>Dropout: identity in evaluation, the kept fraction and scale in training, the gradient, bad arguments.</summary>
public class DropoutTests
{
    [Fact]
    public void InEvaluationModeDropoutReturnsItsInput()
    {
        var layer = new Dropout(0.5, new Random(0));
        var x = new Tensor([1f, -2f, 3f], 3) { RequiresGrad = true };
        Assert.Same(layer, layer.Eval());
        Assert.Same(x, layer.Forward(x));
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.2)]
    [InlineData(0.9)]
    public void InTrainingModeDropoutZeroesTheFractionPAndScalesTheRestByOneOverOneMinusP(double p)
    {
        const int n = 1_000_000;
        var layer = new Dropout(p, new Random(12345));
        var y = layer.Forward(new Tensor(Enumerable.Repeat(1f, n).ToArray(), 1000, 1000));
        float scale = (float)(1 / (1 - p));
        int zeros = y.Data.Count(v => v == 0f);
        Assert.All(y.Data, v => Assert.True(v == 0f || v == scale, $"{v} is neither 0 nor {scale}"));
        // the zero count is Binomial(n, p): its standard deviation is at most 500, the bound 10 of them
        Assert.InRange(zeros / (double)n, p - 0.005, p + 0.005);
        Assert.InRange(y.Data.Average(v => (double)v), 1 - 0.005 * scale, 1 + 0.005 * scale);
        Assert.Equal(new[] { 1000, 1000 }, y.Shape);
    }

    [Fact]
    public void TheGradientIsTheMaskTimesTheScale()
    {
        var rng = new Random(3);
        var x = new Tensor(Enumerable.Range(0, 2 * 3 * 4 * 5).Select(_ => (float)rng.NextDouble() + 0.5f).ToArray(), 2, 3, 4, 5) { RequiresGrad = true };
        var w = Enumerable.Range(0, x.Numel).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var y = new Dropout(0.4, new Random(9)).Forward(x);
        Assert.Equal(x.Shape, y.Shape);
        WeightedSum.Of(y, w).Backward();
        float scale = (float)(1 / 0.6);
        for (int i = 0; i < x.Numel; i++)
        {
            float mask = y.Data[i] == 0f ? 0f : scale;
            Assert.Equal(x.Data[i] * mask, y.Data[i]);
            Assert.Equal(w[i] * mask, x.Grad![i]);
        }
        Assert.Contains(0f, y.Data);
        Assert.Contains(y.Data, v => v != 0f);
    }

    [Fact]
    public void TheSameSeedDrawsTheSameMasksAtAnyRank()
    {
        foreach (var shape in new[] { Array.Empty<int>(), [7], [3, 4, 5] })
        {
            var data = Enumerable.Repeat(2f, shape.Aggregate(1, (a, b) => a * b)).ToArray();
            Tensor Make() => shape.Length == 0 ? Tensor.Scalar(2f) : new Tensor(data.ToArray(), shape);
            var a = new Dropout(0.5, new Random(5)).Forward(Make());
            var b = new Dropout(0.5, new Random(5)).Forward(Make());
            Assert.Equal(a.Data, b.Data);
            Assert.Equal(shape, a.Shape);
        }
    }

    [Fact]
    public void ProbabilitiesZeroAndOneKeepOrDropEverything()
    {
        var x = new Tensor([1f, 2f, 3f]);
        Assert.Equal([1f, 2f, 3f], new Dropout(0).Forward(x).Data);
        Assert.Equal([0f, 0f, 0f], new Dropout(1).Forward(x).Data);
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void AProbabilityOutsideZeroToOneIsRejected(double p)
    {
        var e = Assert.Throws<ArgumentException>(() => new Dropout(p));
        Assert.Equal("p", e.ParamName);
        Assert.Contains(p.ToString(), e.Message);
    }
}
