namespace Optim.NN.Tests;

/// <summary>
/// BatchNorm's gradient check in both modes (float32 backward against central differences of a float64 forward), its
/// buffers and its bad input.
/// </summary>
public class BatchNormTests
{
    /// <summary>The float64 forward of sum(batch_norm(x) · w), with the batch's statistics or the given running ones.</summary>
    private static double Loss(double[] x, int[] shape, double[] weight, double[] bias, double[]? mean, double[]? variance, double eps, double[] w)
    {
        int n = shape[0], c = shape[1], inner = x.Length / (n * c);
        double total = 0;
        for (int ch = 0; ch < c; ch++)
        {
            var values = new List<int>();
            for (int i = 0; i < n; i++)
                for (int k = 0; k < inner; k++) values.Add((i * c + ch) * inner + k);
            double mu = mean?[ch] ?? values.Average(j => x[j]);
            double v = variance?[ch] ?? values.Average(j => (x[j] - mu) * (x[j] - mu));
            foreach (var j in values) total += ((x[j] - mu) / Math.Sqrt(v + eps) * weight[ch] + bias[ch]) * w[j];
        }
        return total;
    }

    public static IEnumerable<object[]> Shapes() =>
    [
        [new[] { 2, 3, 2, 2 }, true], [new[] { 3, 2, 1, 3 }, true], [new[] { 4, 3 }, true], [new[] { 2, 2, 3 }, true],
        [new[] { 2, 3, 2, 2 }, false], [new[] { 1, 2, 1, 1 }, false], [new[] { 4, 3 }, false],
    ];

    [Theory]
    [MemberData(nameof(Shapes))]
    public void TheGradientsOfInputWeightAndBiasEqualCentralDifferencesInBothModes(int[] shape, bool training)
    {
        var rng = new Random(shape.Sum() * 10 + (training ? 1 : 0));
        int c = shape[1], numel = shape.Aggregate(1, (a, b) => a * b);
        float[] Draw(int count, double scale, double shift) => Enumerable.Range(0, count).Select(_ => (float)(shift + scale * (rng.NextDouble() * 2 - 1))).ToArray();
        var xs = Draw(numel, 2, 0.3);
        var w = Draw(numel, 1, 0);
        Module layer = shape.Length == 4 ? new BatchNorm2d(c, eps: 1e-3) : new BatchNorm1d(c, eps: 1e-3);
        var ps = layer.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        var bs = layer.NamedBuffers().ToDictionary(b => b.Name, b => b.Buffer);
        Draw(c, 0.5, 1).CopyTo(ps["weight"].Data, 0);
        Draw(c, 0.5, 0).CopyTo(ps["bias"].Data, 0);
        Draw(c, 0.5, 0).CopyTo(bs["running_mean"].Data, 0);
        Draw(c, 0.4, 1).CopyTo(bs["running_var"].Data, 0);
        double[] D(float[] a) => a.Select(v => (double)v).ToArray();
        var weight = D(ps["weight"].Data);
        var bias = D(ps["bias"].Data);
        double[]? mean = training ? null : D(bs["running_mean"].Data);
        double[]? variance = training ? null : D(bs["running_var"].Data);
        var wd = D(w);

        layer.Train(training);
        var x = new Tensor(xs.ToArray(), shape) { RequiresGrad = true };
        WeightedSum.Of(layer.Forward(x), w).Backward();

        const double h = 1e-4;
        void Check(double[] values, float[] grad, string what)
        {
            for (int i = 0; i < values.Length; i++)
            {
                double keep = values[i];
                values[i] = keep + h;
                double up = Loss(what == "input" ? values : D(xs), shape, what == "weight" ? values : weight, what == "bias" ? values : bias, mean, variance, 1e-3, wd);
                values[i] = keep - h;
                double down = Loss(what == "input" ? values : D(xs), shape, what == "weight" ? values : weight, what == "bias" ? values : bias, mean, variance, 1e-3, wd);
                values[i] = keep;
                double expected = (up - down) / (2 * h);
                Assert.True(Math.Abs(grad[i] - expected) <= 1e-4 + 1e-3 * Math.Abs(expected), $"{what}[{i}]: {grad[i]}, finite differences {expected}");
            }
        }
        Check(D(xs), x.Grad!, "input");
        Check(weight.ToArray(), ps["weight"].Grad!, "weight");
        Check(bias.ToArray(), ps["bias"].Grad!, "bias");
    }

    [Fact]
    public void EvaluationModeLeavesTheRunningStatisticsAndTrainingModeCountsBatches()
    {
        var layer = new BatchNorm2d(2);
        var x = new Tensor(Enumerable.Range(0, 16).Select(i => i * 0.25f).ToArray(), 2, 2, 2, 2);
        layer.Eval();
        layer.Forward(x);
        Assert.Equal([0f, 0f], layer.RunningMean!.Data);
        Assert.Equal([1f, 1f], layer.RunningVar!.Data);
        Assert.Equal(0f, layer.NumBatchesTracked!.Item());
        layer.Train();
        using (Tensor.NoGrad()) layer.Forward(x);
        layer.Forward(x);
        Assert.Equal(2f, layer.NumBatchesTracked.Item());
        Assert.NotEqual(0f, layer.RunningMean.Data[0]);
        layer.ResetRunningStats();
        Assert.Equal([0f, 0f], layer.RunningMean.Data);
        Assert.Equal([1f, 1f], layer.RunningVar.Data);
        Assert.Equal(0f, layer.NumBatchesTracked.Item());
    }

    [Fact]
    public void WithoutAffineOrRunningStatisticsTheLayerHasNoParametersOrBuffers()
    {
        var layer = new BatchNorm2d(3, affine: false, trackRunningStats: false);
        Assert.Empty(layer.Parameters());
        Assert.Empty(layer.NamedBuffers());
        Assert.Null(layer.Weight);
        Assert.Null(layer.RunningMean);
        Assert.False(layer.Affine);
        Assert.False(layer.TrackRunningStats);
    }

    [Fact]
    public void BadInputIsRejectedByNameAndChangesNothing()
    {
        var layer = new BatchNorm2d(3);
        var e = Assert.Throws<ArgumentException>(() => layer.Forward(new Tensor(new float[12], 4, 3)));
        Assert.Equal("input", e.ParamName);
        Assert.Contains("[4, 3]", e.Message);
        e = Assert.Throws<ArgumentException>(() => layer.Forward(Tensor.Zeros(2, 4, 2, 2)));
        Assert.Contains("[2, 4, 2, 2]", e.Message);
        // one value per channel: no batch statistics in training; the running ones still serve in evaluation
        e = Assert.Throws<ArgumentException>(() => layer.Forward(Tensor.Zeros(1, 3, 1, 1)));
        Assert.Contains("more than 1 value per channel", e.Message);
        Assert.Equal(0f, layer.NumBatchesTracked!.Item());
        layer.Eval();
        Assert.Equal(new float[3], layer.Forward(Tensor.Zeros(1, 3, 1, 1)).Data);
        Assert.Throws<ArgumentException>(() => new BatchNorm1d(2).Forward(Tensor.Zeros(2, 2, 2, 2)));
        Assert.Throws<ArgumentNullException>(() => layer.Forward(null!));

        Assert.Equal("numFeatures", Assert.Throws<ArgumentException>(() => new BatchNorm2d(-1)).ParamName);
        Assert.Equal("eps", Assert.Throws<ArgumentException>(() => new BatchNorm2d(2, eps: -1e-5)).ParamName);
        Assert.Equal("momentum", Assert.Throws<ArgumentException>(() => new BatchNorm2d(2, momentum: 1.5)).ParamName);
        Assert.Equal("momentum", Assert.Throws<ArgumentException>(() => new BatchNorm1d(2, momentum: double.NaN)).ParamName);
    }
}
