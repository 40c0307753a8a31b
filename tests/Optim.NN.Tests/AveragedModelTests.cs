using FsCheck;
using FsCheck.Fluent;
using Optim.CSharp;

namespace Optim.NN.Tests;

/// <summary>AveragedModel and the averaging functions: the laws of the averages, independence from the model, the state dict, and bad input.</summary>
public class AveragedModelTests
{
    private static Sequential Mlp(int seed = 0, int hidden = 5)
    {
        var rng = new Random(seed);
        return new Sequential(new Linear(3, hidden, random: rng), new ReLU(), new Linear(hidden, 2, random: rng));
    }

    private static Sequential WithBatchNorm(int seed = 0)
    {
        var rng = new Random(seed);
        return new Sequential(new Linear(3, 4, random: rng), new BatchNorm1d(4), new ReLU(), new Linear(4, 2, random: rng));
    }

    private static List<float[]> Values(Module m) => m.StateDict().Values.Select(t => t.Data).ToList();

    private static void Randomize(Module model, Random rng)
    {
        foreach (var p in model.Parameters())
            for (int i = 0; i < p.Data.Length; i++) p.Data[i] = (float)(rng.NextDouble() * 4 - 2);
    }

    [Fact]
    public void TheDefaultAverageOfKModelsIsTheirMean()
    {
        var cases = from k in Gen.Choose(1, 12) from seed in Gen.Choose(0, 10_000) select (k, seed);
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(100), Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var rng = new Random(c.seed);
            var model = Mlp(c.seed);
            var swa = new AveragedModel(model);
            var sums = model.Parameters().Select(p => new double[p.Data.Length]).ToList();
            for (int i = 0; i < c.k; i++)
            {
                Randomize(model, rng);
                foreach (var (p, s) in model.Parameters().Zip(sums))
                    for (int j = 0; j < s.Length; j++) s[j] += p.Data[j];
                swa.UpdateParameters(model);
            }
            Assert.Equal(c.k, swa.NAveraged.Item());
            foreach (var (p, s) in swa.Parameters().Zip(sums))
                for (int j = 0; j < s.Length; j++)
                    Assert.True(Math.Abs(p.Data[j] - s[j] / c.k) <= 1e-5 + 1e-5 * Math.Abs(s[j] / c.k), $"{p.Name}[{j}]: {p.Data[j]}, mean {s[j] / c.k}");
        }));
    }

    public static TheoryData<string> Functions() => new("ema", "ema multi");

    [Theory]
    [MemberData(nameof(Functions))]
    public void AnEmaOfDecayZeroFollowsTheModelAndOfDecayOneKeepsTheFirstCopy(string kind)
    {
        AveragedModel Make(Module m, double decay) =>
            kind == "ema" ? new AveragedModel(m, avgFn: SwaUtils.GetEmaAvgFn(decay)) : new AveragedModel(m, multiAvgFn: SwaUtils.GetEmaMultiAvgFn(decay));
        var rng = new Random(4);
        var model = Mlp(1);
        var follows = Make(model, 0);
        var keeps = Make(model, 1);
        List<float[]>? first = null;
        for (int i = 0; i < 4; i++)
        {
            Randomize(model, rng);
            follows.UpdateParameters(model);
            keeps.UpdateParameters(model);
            first ??= Values(model);
            Assert.Equal(Values(model), Values(follows.Module));
            Assert.Equal(first, Values(keeps.Module));
        }
    }

    [Fact]
    public void TheCopyIsIndependentOfTheModelBeforeAndAfterUpdates()
    {
        var model = WithBatchNorm();
        var swa = new AveragedModel(model);
        var initial = Values(swa.Module);
        var optimizer = new SGD(model.Parameters(), lr: 0.1);
        var x = new Tensor(Enumerable.Range(0, 18).Select(i => MathF.Cos(i)).ToArray(), 6, 3);
        void Step()
        {
            optimizer.ZeroGrad();
            model.Forward(x).Pow(2).Sum().Backward();
            optimizer.Step();
        }
        Step();
        Assert.Equal(initial, Values(swa.Module));
        swa.UpdateParameters(model);
        Assert.Equal(Values(model), Values(swa.Module));
        var averaged = Values(swa.Module);
        Step();
        Step();
        Assert.Equal(averaged, Values(swa.Module));
        Assert.Empty(swa.Parameters().Select(p => p.Data).Intersect(model.Parameters().Select(p => p.Data), ReferenceEqualityComparer.Instance));
    }

    [Fact]
    public void BuffersAreCopiedFromTheModelAtEveryUpdateUnlessTheyAreAveraged()
    {
        var model = WithBatchNorm();
        var synced = new AveragedModel(model);
        var averaged = new AveragedModel(model, useBuffers: true);
        var bn = (BatchNorm1d)model[1];
        foreach (var (mean, count) in new[] { (1f, 2f), (3f, 7f) })
        {
            Array.Fill(bn.RunningMean!.Data, mean);
            bn.NumBatchesTracked!.Data[0] = count;
            synced.UpdateParameters(model);
            averaged.UpdateParameters(model);
        }
        var s = synced.StateDict();
        var a = averaged.StateDict();
        Assert.All(s["module.1.running_mean"].Data, v => Assert.Equal(3f, v));
        Assert.Equal(7f, s["module.1.num_batches_tracked"].Item());
        Assert.All(a["module.1.running_mean"].Data, v => Assert.Equal(2f, v));
        Assert.Equal(4f, a["module.1.num_batches_tracked"].Item());   // 2 + (7 − 2)/2 = 4.5, an int64 in PyTorch: 4
    }

    [Fact]
    public void TheStateDictHasPyTorchsKeysAndARoundTripResumesTheAverage()
    {
        var rng = new Random(8);
        var model = Mlp(2);
        var swa = new AveragedModel(model);
        for (int i = 0; i < 3; i++)
        {
            Randomize(model, rng);
            swa.UpdateParameters(model);
        }
        var state = swa.StateDict();
        Assert.Equal(["n_averaged", "module.0.weight", "module.0.bias", "module.2.weight", "module.2.bias"], state.Keys);
        Assert.Equal(3f, state["n_averaged"].Item());
        Assert.Empty(state["n_averaged"].Shape);

        var resumed = new AveragedModel(Mlp(9));
        resumed.LoadStateDict(state);
        Assert.Equal(3f, resumed.NAveraged.Item());
        Randomize(model, rng);
        swa.UpdateParameters(model);
        resumed.UpdateParameters(model);
        Assert.Equal(Values(swa), Values(resumed));
        Assert.Equal(4f, resumed.NAveraged.Item());
    }

    [Fact]
    public void ACheckpointWritesNAveragedAsPyTorchsInt64()
    {
        var swa = new AveragedModel(WithBatchNorm());
        swa.UpdateParameters(WithBatchNorm(1));
        var file = new CheckpointFile();
        file.SetModel(swa);
        Assert.Equal("int64", file.Model["n_averaged"].DType);
        Assert.Equal(1L, file.Model["n_averaged"].ToInt64()[0]);
        Assert.Equal("int64", file.Model["module.1.num_batches_tracked"].DType);
        var fresh = new AveragedModel(WithBatchNorm(2));
        file.LoadModel(fresh);
        Assert.Equal(Values(swa), Values(fresh));
    }

    [Fact]
    public void AModelThatCannotBeDeepCopiedIsBuiltWithAFactory()
    {
        var model = new Holder();
        Assert.Throws<NotSupportedException>(() => new AveragedModel(model));
        model.Eval();
        var swa = new AveragedModel(model, factory: () => new Holder());
        Assert.Equal(Values(model), Values(swa.Module));
        Assert.False(swa.Module.Training);
        Assert.Empty(swa.Parameters().Select(p => p.Data).Intersect(model.Parameters().Select(p => p.Data), ReferenceEqualityComparer.Instance));

        Assert.Equal("factory", Assert.Throws<ArgumentException>(() => new AveragedModel(model, factory: () => null!)).ParamName);
        Assert.Equal("factory", Assert.Throws<ArgumentException>(() => new AveragedModel(model, factory: () => model)).ParamName);
        var shared = Assert.Throws<ArgumentException>(() => new AveragedModel(model, factory: () => new Holder(model.Layers[0])));
        Assert.Equal("factory", shared.ParamName);
        Assert.Contains("'0'", shared.Message);
        var other = Assert.Throws<ArgumentException>(() => new AveragedModel(model, factory: () => Mlp()));
        Assert.Equal("factory", other.ParamName);
        Assert.Contains("0.weight", other.Message);
    }

    /// <summary>Keeps its layers in a list, which a deep copy does not follow.</summary>
    private sealed class Holder(Module? first = null) : Module
    {
        public List<Module> Layers { get; } = [first ?? new Linear(3, 2, random: new Random(5))];

        protected override IEnumerable<(string Name, Module Module)> RegisteredChildren() => [("0", Layers[0])];

        public override Tensor Forward(Tensor input) => Layers[0].Forward(input);
    }

    [Fact]
    public void BadArgumentsAreRejectedByName()
    {
        var model = Mlp();
        Assert.Equal("model", Assert.Throws<ArgumentNullException>(() => new AveragedModel(null!)).ParamName);
        Assert.Equal("multiAvgFn", Assert.Throws<ArgumentException>(() =>
            new AveragedModel(model, avgFn: SwaUtils.GetSwaAvgFn(), multiAvgFn: SwaUtils.GetSwaMultiAvgFn())).ParamName);
        Assert.Equal("model", Assert.Throws<ArgumentNullException>(() => new AveragedModel(model).UpdateParameters(null!)).ParamName);
        foreach (var decay in new[] { -0.1, 1.5, double.NaN, double.PositiveInfinity })
        {
            var e1 = Assert.Throws<ArgumentOutOfRangeException>(() => SwaUtils.GetEmaMultiAvgFn(decay));
            var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => SwaUtils.GetEmaAvgFn(decay));
            foreach (var e in new[] { e1, e2 })
            {
                Assert.Equal("decay", e.ParamName);
                Assert.Contains(decay.ToString(System.Globalization.CultureInfo.CurrentCulture), e.Message);
            }
        }
        SwaUtils.GetEmaMultiAvgFn(0);
        SwaUtils.GetEmaAvgFn(1);
    }

    [Fact]
    public void AModelOfAnotherStructureIsRefusedNamingTheParameterAndNothingChanges()
    {
        var swa = new AveragedModel(Mlp());
        swa.UpdateParameters(Mlp(1));
        var before = Values(swa);

        var wider = Assert.Throws<ArgumentException>(() => swa.UpdateParameters(Mlp(1, hidden: 6)));
        Assert.Equal("model", wider.ParamName);
        Assert.Contains("'0.weight'", wider.Message);
        Assert.Contains("[6, 3]", wider.Message);
        Assert.Contains("[5, 3]", wider.Message);

        var fewer = Assert.Throws<ArgumentException>(() => swa.UpdateParameters(new Sequential(new Linear(3, 5))));
        Assert.Contains("'2.weight'", fewer.Message);
        Assert.Contains("2 parameters", fewer.Message);

        var buffers = Assert.Throws<ArgumentException>(() => new AveragedModel(WithBatchNorm()).UpdateParameters(
            new Sequential(new Linear(3, 4), new BatchNorm1d(4, trackRunningStats: false), new ReLU(), new Linear(4, 2))));
        Assert.Contains("buffer", buffers.Message);
        Assert.Contains("'1.running_mean'", buffers.Message);

        Assert.Equal(before, Values(swa));
        Assert.Equal(1f, swa.NAveraged.Item());
    }

    [Fact]
    public void AnAveragingFunctionThatFailsOrReturnsAnotherShapeChangesNothing()
    {
        var model = Mlp(1);
        var wrong = new AveragedModel(Mlp(), avgFn: (a, x, n) => x.Rank == 1 ? Tensor.Zeros(7) : x);
        var empty = new AveragedModel(Mlp(), avgFn: (a, x, n) => null!);
        int calls = 0;
        var failing = new AveragedModel(Mlp(), multiAvgFn: (a, x, n) =>
        {
            Array.Fill(a[0].Data, 99f);
            if (++calls > 0) throw new InvalidDataException("half-way");
        });
        foreach (var swa in new[] { wrong, empty, failing })
        {
            swa.UpdateParameters(model);
            var before = Values(swa);
            Assert.ThrowsAny<Exception>(() => swa.UpdateParameters(Mlp(2)));
            Assert.Equal(before, Values(swa));
            Assert.Equal(1f, swa.NAveraged.Item());
        }
        var shape = Assert.Throws<InvalidOperationException>(() => wrong.UpdateParameters(model));
        Assert.Contains("'0.bias'", shape.Message);
        Assert.Contains("[7]", shape.Message);
        Assert.Contains("'0.weight'", Assert.Throws<InvalidOperationException>(() => empty.UpdateParameters(model)).Message);
        Assert.Equal("half-way", Assert.Throws<InvalidDataException>(() => failing.UpdateParameters(model)).Message);
    }

    [Fact]
    public void TheMultiTensorFunctionsRefuseListsThatDoNotPairUp()
    {
        var a = new[] { Tensor.Zeros(3), Tensor.Zeros(2) };
        foreach (var f in new[] { SwaUtils.GetEmaMultiAvgFn(), SwaUtils.GetSwaMultiAvgFn() })
        {
            Assert.Equal("current", Assert.Throws<ArgumentException>(() => f(a, [Tensor.Zeros(3)], 1)).ParamName);
            Assert.Equal("current", Assert.Throws<ArgumentException>(() => f(a, [Tensor.Zeros(3), Tensor.Zeros(4)], 1)).ParamName);
            Assert.All(a, t => Assert.All(t.Data, v => Assert.Equal(0f, v)));
        }
        foreach (var f in new[] { SwaUtils.GetEmaAvgFn(), SwaUtils.GetSwaAvgFn() })
            Assert.Equal("current", Assert.Throws<ArgumentException>(() => f(Tensor.Zeros(3), Tensor.Zeros(2, 3), 1)).ParamName);
    }

    [Fact]
    public void TheAveragedModelRunsItsCopyAndFollowsTrainAndEval()
    {
        var model = WithBatchNorm();
        var swa = new AveragedModel(model);
        swa.Eval();
        Assert.False(swa.Module.Training);
        Assert.True(model.Training);
        var x = new Tensor(Enumerable.Range(0, 6).Select(i => (float)i).ToArray(), 2, 3);
        model.Eval();
        using var _ = Tensor.NoGrad();
        Assert.Equal(model.Forward(x).Data, swa.Forward(x).Data);
    }
}
