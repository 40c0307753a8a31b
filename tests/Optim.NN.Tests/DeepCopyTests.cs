using Optim.CSharp;

namespace Optim.NN.Tests;

/// <summary>Module.DeepCopy: every layer and a model of one's own copy whole, into new arrays, keeping what they share; what cannot be copied is refused by name.</summary>
public class DeepCopyTests
{
    private static Sequential EveryLayer()
    {
        var rng = new Random(3);
        return new Sequential(
            new Conv2d(2, 3, 3, stride: 1, padding: 1, random: rng), new BatchNorm2d(3, eps: 1e-3, momentum: 0.2), new ReLU(),
            new MaxPool2d(2), new AvgPool2d(2, stride: 1), new Dropout(0.25, new Random(5)), new Flatten(),
            new Linear(3, 4, random: rng), new BatchNorm1d(4, momentum: null, affine: false), new Linear(4, 2, bias: false, random: rng));
    }

    private static Tensor Input(int n = 3) => new(Enumerable.Range(0, n * 2 * 4 * 4).Select(i => MathF.Sin(i * 0.37f)).ToArray(), n, 2, 4, 4);

    /// <summary>Every parameter and buffer array of a module, by reference.</summary>
    private static IEnumerable<float[]> Arrays(Module m) =>
        m.NamedParameters().Select(p => p.Parameter.Data).Concat(m.NamedBuffers().Select(b => b.Buffer.Data));

    private static void Train(Module model, int steps)
    {
        var optimizer = new SGD(model.Parameters(), lr: 0.1, momentum: 0.9);
        model.Train();
        for (int i = 0; i < steps; i++)
        {
            optimizer.ZeroGrad();
            model.Forward(Input()).Pow(2).Sum().Backward();
            optimizer.Step();
        }
    }

    private static List<float[]> Values(Module m) => m.StateDict().Values.Select(t => t.Data).ToList();

    [Fact]
    public void EveryLayerIsCopiedWithItsHyperparametersModesAndValues()
    {
        var model = EveryLayer();
        Train(model, 2);
        model[5].Eval();
        var copy = Assert.IsType<Sequential>(model.DeepCopy());
        Assert.Equal(model.NamedModules().Select(m => (m.Name, m.Module.GetType(), m.Module.Training)),
                     copy.NamedModules().Select(m => (m.Name, m.Module.GetType(), m.Module.Training)));
        Assert.Equal(model.StateDict().Keys, copy.StateDict().Keys);
        Assert.Equal(Values(model), Values(copy));
        Assert.Equal(model.Parameters().Select(p => (p.Name, p.RequiresGrad)), copy.Parameters().Select(p => (p.Name, p.RequiresGrad)));
        Assert.All(copy.Parameters(), p => Assert.Null(p.Grad));
        var conv = (Conv2d)copy[0];
        Assert.Equal((2, 3, 3, 1, 1), (conv.InChannels, conv.OutChannels, conv.KernelSize, conv.Stride, conv.Padding));
        var bn = (BatchNorm2d)copy[1];
        Assert.Equal((3, 1e-3, (double?)0.2), (bn.NumFeatures, bn.Eps, bn.Momentum));
        Assert.Equal((2, 1), (((AvgPool2d)copy[4]).KernelSize, ((AvgPool2d)copy[4]).Stride));
        Assert.Equal(0.25, ((Dropout)copy[5]).P);
        var bn1 = (BatchNorm1d)copy[8];
        Assert.Equal(((double?)null, false), (bn1.Momentum, bn1.Affine));
        Assert.Null(((Linear)copy[9]).Bias);
        model.Eval();
        copy.Eval();
        using var _ = Tensor.NoGrad();
        Assert.Equal(model.Forward(Input()).Data, copy.Forward(Input()).Data);
    }

    [Fact]
    public void TrainingTheModelAfterwardsDoesNotMoveTheCopyNorTheOtherWayRound()
    {
        var model = EveryLayer();
        var copy = model.DeepCopy();
        Assert.Empty(Arrays(model).Intersect(Arrays(copy), ReferenceEqualityComparer.Instance));
        var before = Values(copy);
        Train(model, 3);
        Assert.Equal(before, Values(copy));
        var trained = Values(model);
        Assert.NotEqual(before, trained);
        Train(copy, 1);
        Assert.Equal(trained, Values(model));
        // the copy's layers compute with the copy's weights
        model.Eval();
        copy.Eval();
        using var _ = Tensor.NoGrad();
        Assert.NotEqual(model.Forward(Input()).Data, copy.Forward(Input()).Data);
    }

    /// <summary>A model of one's own, written as Module's documentation shows, with a weight tied between two places and a method delegate.</summary>
    private sealed class Net : Module
    {
        private readonly Sequential _features;
        private readonly Linear _classifier;
        private readonly Linear _tied;
        private readonly Tensor _scale = new(new float[] { 2f }, 1);
        private readonly Func<Tensor, Tensor> _head;

        public Net()
        {
            var rng = new Random(7);
            _features = new Sequential(new Linear(3, 4, random: rng), new ReLU());
            _classifier = new Linear(4, 4, random: rng);
            _tied = _classifier;
            _head = Head;
        }

        public Linear Classifier => _classifier;
        public Linear Tied => _tied;
        public float[] Scale => _scale.Data;

        private Tensor Head(Tensor x) => _tied.Forward(x) * _scale;

        protected override IEnumerable<(string Name, Module Module)> RegisteredChildren() =>
            [("features", _features), ("classifier", _classifier), ("tied", _tied)];

        protected override IEnumerable<(string Name, Tensor Buffer)> RegisteredBuffers() => [("scale", _scale)];

        public override Tensor Forward(Tensor input) => _head(_features.Forward(input));
    }

    [Fact]
    public void AModelOfOnesOwnIsCopiedWholeKeepingItsTiedWeightsAndBindingItsDelegatesToTheCopy()
    {
        var model = new Net();
        var copy = Assert.IsType<Net>(model.DeepCopy());
        Assert.Same(copy.Classifier, copy.Tied);
        Assert.NotSame(model.Classifier, copy.Classifier);
        Assert.Equal(["features.0.weight", "features.0.bias", "classifier.weight", "classifier.bias"], copy.NamedParameters().Select(p => p.Name));
        Assert.Equal(model.StateDict().Keys, copy.StateDict().Keys);
        var x = new Tensor(new float[] { 0.5f, -1f, 2f }, 1, 3);
        float[] before;
        using (Tensor.NoGrad()) before = copy.Forward(x).Data;
        Array.Fill(model.Classifier.Weight.Data, 0f);
        model.Scale[0] = 100f;
        using (Tensor.NoGrad()) Assert.Equal(before, copy.Forward(x).Data);
        Assert.Equal(2f, copy.Scale[0]);
    }

    /// <summary>Layers kept in a list: the copier does not follow collections.</summary>
    private sealed class Listed : Module
    {
        private readonly List<Module> _layers = [new Linear(2, 2, random: new Random(1)), new ReLU()];

        protected override IEnumerable<(string Name, Module Module)> RegisteredChildren() =>
            _layers.Select((m, i) => (i.ToString(System.Globalization.CultureInfo.InvariantCulture), m));

        public override Tensor Forward(Tensor input) => _layers.Aggregate(input, (x, m) => m.Forward(x));
    }

    [Fact]
    public void AModelThatKeepsLayersWhereTheCopyCannotFollowIsRefusedNamingItAndTheWayOut()
    {
        var model = new Sequential(new Linear(2, 2), new Listed());
        var e = Assert.Throws<NotSupportedException>(() => model.DeepCopy());
        Assert.Contains("Listed at '1'", e.Message);
        Assert.Contains("'1.0'", e.Message);
        Assert.Contains("factory", e.Message);
    }

    [Fact]
    public void AnAveragedModelIsCopiedWithItsCountAndKeepsAveragingOnItsOwn()
    {
        var model = new Sequential(new Linear(2, 3, random: new Random(4)), new BatchNorm1d(3));
        var ema = new AveragedModel(model, multiAvgFn: SwaUtils.GetEmaMultiAvgFn(0.5), useBuffers: true);
        ema.UpdateParameters(model);
        var copy = Assert.IsType<AveragedModel>(ema.DeepCopy());
        Assert.Equal(1f, copy.NAveraged.Item());
        Assert.True(copy.UseBuffers);
        Array.Fill(((Linear)model[0]).Weight.Data, 1f);
        copy.UpdateParameters(model);
        Assert.Equal(1f, ema.NAveraged.Item());
        Assert.Equal(2f, copy.NAveraged.Item());
        var before = Values(ema.Module)[0];
        var after = Values(copy.Module)[0];
        for (int i = 0; i < before.Length; i++) Assert.Equal(0.5f * before[i] + 0.5f, after[i], 6);
    }

    [Fact]
    public void ATensorOverAParameterStaysOverTheCopysParameter()
    {
        var linear = new Linear(3, 2, random: new Random(2));
        var copy = (Linear)linear.DeepCopy();
        copy.Weight.Data[0] = 42f;
        using var _ = Tensor.NoGrad();
        var y = copy.Forward(new Tensor(new float[] { 1f, 0f, 0f }, 1, 3));
        Assert.Equal(42f + copy.Bias!.Data[0], y.Data[0]);
        Assert.NotEqual(42f, linear.Weight.Data[0]);
    }
}
