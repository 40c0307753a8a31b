using Optim.CSharp;

namespace Optim.NN.Tests;

/// <summary>Linear's initialisation, parameter order, Sequential and the losses as modules.</summary>
public class ModuleTests
{
    [Theory]
    [InlineData(1, 3)]
    [InlineData(5, 7)]
    [InlineData(784, 128)]
    public void LinearDrawsWeightsAndBiasUniformlyWithinOneOverTheSquareRootOfFanIn(int inFeatures, int outFeatures)
    {
        var layer = new Linear(inFeatures, outFeatures, random: new Random(7));
        // kaiming_uniform(a=√5): gain √(2/6), std gain/√fan_in, bound √3·std = 1/√fan_in
        double bound = 1 / Math.Sqrt(inFeatures);
        Assert.Equal(new[] { outFeatures, inFeatures }, layer.Weight.Shape);
        Assert.Equal(new[] { outFeatures }, layer.Bias!.Shape);
        Assert.All(layer.Weight.Data, w => Assert.True(Math.Abs(w) <= (float)bound * (1 + 1e-6f), $"{w} outside ±{bound}"));
        Assert.All(layer.Bias.Data, b => Assert.True(Math.Abs(b) <= (float)bound, $"{b} outside ±{bound}"));
        if (layer.Weight.Numel >= 1000)
        {
            // uniform on [−bound, bound]: the extremes come close to the bound, the mean close to 0, the variance bound²/3
            var w = layer.Weight.Data.Select(v => (double)v).ToArray();
            Assert.True(w.Max() > 0.99 * bound && w.Min() < -0.99 * bound);
            Assert.True(Math.Abs(w.Average()) < 0.01 * bound);
            Assert.Equal(bound * bound / 3, w.Select(v => v * v).Average(), bound * bound * 0.02);
        }
    }

    [Fact]
    public void LinearIsDeterministicForASeedAndDrawsTheWeightBeforeTheBias()
    {
        var a = new Linear(6, 4, random: new Random(42));
        var b = new Linear(6, 4, random: new Random(42));
        Assert.Equal(a.Weight.Data, b.Weight.Data);
        Assert.Equal(a.Bias!.Data, b.Bias!.Data);
        var c = new Linear(6, 4, random: new Random(43));
        Assert.NotEqual(a.Weight.Data, c.Weight.Data);

        var r = new Random(42);
        double bound = 1 / Math.Sqrt(6);
        var firstWeights = Enumerable.Range(0, 24).Select(_ => (float)(-bound + 2 * bound * r.NextDouble())).ToArray();
        var firstBias = (float)(-bound + 2 * bound * r.NextDouble());
        Assert.Equal(firstWeights, a.Weight.Data);
        Assert.Equal(firstBias, a.Bias.Data[0]);
    }

    [Fact]
    public void ParametersComeInPyTorchsOrderWeightThenBiasLayerByLayer()
    {
        var l1 = new Linear(3, 4);
        var l2 = new Linear(4, 2, bias: false);
        var l3 = new Linear(2, 1);
        var model = new Sequential(l1, new ReLU(), l2, new Sequential(new ReLU(), l3));
        Assert.Equal(new[] { l1.Weight, l1.Bias!, l2.Weight, l3.Weight, l3.Bias! }, model.Parameters());
        Assert.Null(l2.Bias);
        Assert.Empty(new ReLU().Parameters());
        Assert.Same(l2, model[2]);
        Assert.Equal(4, model.Modules.Count);
        // the Sequential named them by their dotted names in it
        Assert.Equal("0.weight", l1.Weight.Name);
        Assert.Equal("0.bias", l1.Bias!.Name);
        Assert.Equal("3.1.weight", l3.Weight.Name);
        Assert.Equal("weight", new Linear(2, 2).Weight.Name);
    }

    [Fact]
    public void AnOptimizerOverAModelsParametersTrainsIt()
    {
        var rng = new Random(0);
        var model = new Sequential(new Linear(1, 8, random: rng), new ReLU(), new Linear(8, 1, random: rng));
        var optimizer = new Adam(model.Parameters(), lr: 1e-2);
        var criterion = new MSELoss();
        var x = new Tensor(Enumerable.Range(0, 32).Select(i => i / 16f - 1).ToArray(), 32, 1);
        var y = new Tensor(x.Data.Select(v => 2 * v * v).ToArray(), 32, 1);
        float first = 0, last = 0;
        for (int step = 0; step < 500; step++)
        {
            optimizer.ZeroGrad();
            var loss = criterion.Forward(model.Forward(x), y);
            loss.Backward();
            optimizer.Step();
            if (step == 0) first = loss.Item();
            last = loss.Item();
        }
        Assert.True(last < first / 20, $"loss went from {first} to {last}");
    }

    [Fact]
    public void LinearMapsVectorsAndBatchesAndChecksTheInputWidth()
    {
        var layer = new Linear(3, 2, random: new Random(1));
        var v = layer.Forward(new Tensor([1f, 2f, 3f]));
        Assert.Equal(new[] { 2 }, v.Shape);
        var batch = layer.Forward(new Tensor([1f, 2f, 3f, 1f, 2f, 3f], 2, 3));
        Assert.Equal(new[] { 2, 2 }, batch.Shape);
        Assert.Equal(v.Data, batch.Data[..2]);
        var e = Assert.Throws<ArgumentException>(() => layer.Forward(new Tensor(new float[8], 2, 4)));
        Assert.Equal("input", e.ParamName);
        Assert.Contains("[2, 4]", e.Message);
    }

    [Fact]
    public void BadLayerArgumentsAreRejectedByName()
    {
        Assert.Equal("inFeatures", Assert.Throws<ArgumentException>(() => new Linear(-1, 2)).ParamName);
        Assert.Equal("outFeatures", Assert.Throws<ArgumentException>(() => new Linear(2, -3)).ParamName);
        Assert.Throws<ArgumentNullException>(() => new Sequential(new ReLU(), null!));
    }
}
