namespace Optim.NN.Tests;

/// <summary>SwaUtils.UpdateBn and what it needs of BatchNorm: a settable momentum, the restored modes, the cumulative statistics, failure without trace.</summary>
public class UpdateBnTests
{
    private static Sequential Model(double? momentum = 0.1)
    {
        var rng = new Random(6);
        return new Sequential(new Linear(3, 4, random: rng), new BatchNorm1d(4, momentum: momentum), new ReLU(),
                              new Sequential(new Linear(4, 4, random: rng), new BatchNorm1d(4, momentum: 0.5)), new Linear(4, 2, random: rng));
    }

    private static List<Tensor> Batches(params int[] sizes)
    {
        int k = 0;
        return sizes.Select(n => new Tensor(Enumerable.Range(0, n * 3).Select(_ => MathF.Sin(1.7f * k++) * 2 + 0.5f).ToArray(), n, 3)).ToList();
    }

    private static List<float[]> Values(Module m) => m.StateDict().Values.Select(t => t.Data).ToList();

    [Fact]
    public void TheStatisticsAreTheCumulativeAverageOverTheBatchesAndMomentaAndModeComeBack()
    {
        var model = Model();
        var bn = (BatchNorm1d)model[1];
        Array.Fill(bn.RunningMean!.Data, 5f);
        bn.NumBatchesTracked!.Data[0] = 40;
        model.Eval();
        var batches = Batches(4, 5, 3);
        SwaUtils.UpdateBn(batches.Select(x => (x, Tensor.Zeros(x.Shape[0]))), model);
        Assert.False(model.Training);
        Assert.All(model.NamedModules(), m => Assert.False(m.Module.Training));
        Assert.Equal((double?)0.1, bn.Momentum);
        Assert.Equal((double?)0.5, ((BatchNorm1d)((Sequential)model[3])[1]).Momentum);
        Assert.Equal(3f, bn.NumBatchesTracked.Item());
        // the first layer's statistics: the mean over the three batches of each batch's mean (and unbiased variance)
        using var _ = Tensor.NoGrad();
        var first = (Linear)model[0];
        for (int c = 0; c < 4; c++)
        {
            double mean = 0, variance = 0;
            foreach (var x in batches)
            {
                var h = first.Forward(x);
                int n = x.Shape[0];
                double m = Enumerable.Range(0, n).Average(i => h.Data[i * 4 + c]);
                mean += m / batches.Count;
                variance += Enumerable.Range(0, n).Sum(i => Math.Pow(h.Data[i * 4 + c] - m, 2)) / (n - 1) / batches.Count;
            }
            Assert.Equal(mean, bn.RunningMean.Data[c], 4);
            Assert.Equal(variance, bn.RunningVar!.Data[c], 4);
        }
    }

    [Fact]
    public void TheModelEndsInTheModeItHadAsPyTorchsModelTrainWasTrainingSetsIt()
    {
        var model = Model();
        model.Train();
        model[1].Eval();
        SwaUtils.UpdateBn(Batches(3, 3), model);
        Assert.All(model.NamedModules(), m => Assert.True(m.Module.Training));
    }

    [Fact]
    public void AModelWithoutBatchNormIsLeftAsItWasAndTheLoaderIsNotRead()
    {
        var model = new Sequential(new Linear(3, 2), new ReLU());
        model.Eval();
        var before = Values(model);
        SwaUtils.UpdateBn(Unreadable(), model);
        Assert.Equal(before, Values(model));
        Assert.False(model.Training);

        static IEnumerable<Tensor> Unreadable()
        {
            throw new InvalidOperationException("the loader was read");
#pragma warning disable CS0162 // an iterator: the body runs only when enumerated
            yield break;
#pragma warning restore CS0162
        }
    }

    [Fact]
    public void APassThatFailsPutsBackTheStatisticsMomentaAndModes()
    {
        var model = Model();
        var x = new Tensor(Enumerable.Range(0, 12).Select(i => (float)i).ToArray(), 4, 3);
        model.Forward(x);
        model.Eval();
        model[3].Train();
        var before = Values(model);
        var bad = new Tensor(new float[10], 2, 5);
        var e = Assert.Throws<ArgumentException>(() => SwaUtils.UpdateBn(new[] { x, bad }, model));
        Assert.Equal("input", e.ParamName);
        Assert.Equal(before, Values(model));
        Assert.Equal([false, false, false, false, true, true, true, false],
                     model.NamedModules().Select(m => m.Module.Training));
        Assert.Equal((double?)0.1, ((BatchNorm1d)model[1]).Momentum);
        var nullInput = Assert.Throws<ArgumentException>(() => SwaUtils.UpdateBn(new Tensor[] { x, null! }, model));
        Assert.Equal("loader", nullInput.ParamName);
        Assert.Equal(before, Values(model));
    }

    [Fact]
    public void NullArgumentsAreRejectedByName()
    {
        Assert.Equal("loader", Assert.Throws<ArgumentNullException>(() => SwaUtils.UpdateBn((IEnumerable<Tensor>)null!, Model())).ParamName);
        Assert.Equal("loader", Assert.Throws<ArgumentNullException>(() => SwaUtils.UpdateBn((IEnumerable<(Tensor, Tensor)>)null!, Model())).ParamName);
        Assert.Equal("model", Assert.Throws<ArgumentNullException>(() => SwaUtils.UpdateBn(Batches(2), null!)).ParamName);
    }

    [Fact]
    public void MomentumCanBeSetWithinZeroAndOneOrToNull()
    {
        var bn = new BatchNorm2d(2);
        foreach (var m in new double?[] { 0, 0.3, 1, null })
        {
            bn.Momentum = m;
            Assert.Equal(m, bn.Momentum);
        }
        bn.Momentum = 0.2;
        foreach (var m in new[] { -0.1, 1.01, double.NaN })
        {
            var e = Assert.Throws<ArgumentException>(() => bn.Momentum = m);
            Assert.Equal("value", e.ParamName);
            Assert.Contains(m.ToString(System.Globalization.CultureInfo.CurrentCulture), e.Message);
            Assert.Equal((double?)0.2, bn.Momentum);
        }
    }

    [Fact]
    public void ResettingTheRunningStatisticsKeepsTheWeights()
    {
        var bn = new BatchNorm1d(3);
        bn.Forward(new Tensor(new float[] { 1, 2, 3, 4, 6, 9 }, 2, 3));
        bn.Weight!.Data[0] = 2f;
        bn.ResetRunningStats();
        Assert.All(bn.RunningMean!.Data, v => Assert.Equal(0f, v));
        Assert.All(bn.RunningVar!.Data, v => Assert.Equal(1f, v));
        Assert.Equal(0f, bn.NumBatchesTracked!.Item());
        Assert.Equal(2f, bn.Weight.Data[0]);
    }
}
