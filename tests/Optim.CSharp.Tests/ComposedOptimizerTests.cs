using Optim.CSharp;

namespace Optim.CSharp.Tests;

/// <summary>Transformations composed in C#, run by <see cref="ComposedOptimizer"/> in the facade's loop.</summary>
public sealed class ComposedOptimizerTests
{
    /// <summary>Two groups of parameters (a matrix and a vector of lengths that exercise the SIMD tails), a third parameter without gradient.</summary>
    private static Parameter[] Params(int seed)
    {
        var rng = new Random(seed);
        float R() => (float)(rng.NextDouble() - 0.5);
        return [new Parameter(Enumerable.Range(0, 37).Select(_ => R()).ToArray(), 37),
                new Parameter(Enumerable.Range(0, 12).Select(_ => R()).ToArray(), 3, 4),
                new Parameter(Enumerable.Range(0, 5).Select(_ => R()).ToArray(), 5)];
    }

    /// <summary>Runs <paramref name="steps"/> steps of a quadratic's gradient (with the last parameter's gradient missing
    /// every third step), the lr of the first group scheduled by StepLR.</summary>
    private static float[][] Run(Func<ParamGroup[], Optimizer> make, Parameter[] ps, int steps)
    {
        var groups = new[] { new ParamGroup([ps[0], ps[1]]), new ParamGroup([ps[2]]) { Lr = 0.02 } };
        var opt = make(groups);
        var scheduler = new StepLR(opt, stepSize: 3, gamma: 0.5);
        for (int t = 0; t < steps; t++)
        {
            opt.ZeroGrad();
            for (int i = 0; i < ps.Length; i++)
                if (!(i == 2 && t % 3 == 2)) ps[i].AccumulateGrad(ps[i].Data.Select((x, j) => 2 * x + 0.1f * j - 0.3f).ToArray());
            opt.Step();
            scheduler.Step();
        }
        return ps.Select(p => (float[])p.Data.Clone()).ToArray();
    }

    public static TheoryData<string> Named => ["sgd", "adam", "adamw"];

    private static Optimizer BuiltIn(string name, ParamGroup[] groups) => name switch
    {
        "sgd" => new SGD(groups, lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3),
        "adam" => new Adam(groups, lr: 0.01, weightDecay: 1e-3, amsgrad: true),
        _ => new AdamW(groups, lr: 0.01, betas: (0.8, 0.99)),
    };

    private static Transformation Composed(string name) => name switch
    {
        "sgd" => Transformation.SGD(lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3),
        "adam" => Transformation.Adam(lr: 0.01, weightDecay: 1e-3, amsgrad: true),
        _ => Transformation.AdamW(lr: 0.01, betas: (0.8, 0.99)),
    };

    [Theory, MemberData(nameof(Named))]
    public void AComposedNamedOptimizerEqualsTheBuiltInClassBitForBitWithGroupsAndAScheduler(string name)
    {
        var builtIn = Run(g => BuiltIn(name, g), Params(1), 12);
        var composed = Run(g => new ComposedOptimizer(g, Composed(name)), Params(1), 12);
        for (int i = 0; i < builtIn.Length; i++) Assert.Equal(builtIn[i], composed[i]);
    }

    [Fact]
    public void AChainOfBlocksEqualsTheBuiltInAdamWItSpellsOut()
    {
        var chain = Transformation.Chain(
            Transformation.ScaleByAdam(betas: (0.8, 0.99)),
            Transformation.ScaleByLearningRate(0.01),
            Transformation.DecoupledWeightDecay(weightDecay: 1e-2, lr: 0.01));
        var builtIn = Run(g => new AdamW(g, lr: 0.01, betas: (0.8, 0.99)), Params(2), 10);
        var composed = Run(g => new ComposedOptimizer(g, chain), Params(2), 10);
        for (int i = 0; i < builtIn.Length; i++) Assert.Equal(builtIn[i], composed[i]);
    }

    [Fact]
    public void ThenIsChain()
    {
        var a = Transformation.ClipByValue(0.5).Then(Transformation.SGD(lr: 0.1, momentum: 0.5));
        var b = Transformation.Chain(Transformation.ClipByValue(0.5), Transformation.SGD(lr: 0.1, momentum: 0.5));
        Assert.Equal(b.Name, a.Name);
        Assert.Equal(Run(g => new ComposedOptimizer(g, b), Params(3), 6)[0], Run(g => new ComposedOptimizer(g, a), Params(3), 6)[0]);
    }

    [Fact]
    public void ClipByValueClipsTheGradientBeforeTheStep()
    {
        var p = new Parameter([1f, 1f, 1f]) { Grad = [-5f, 0.25f, 5f] };
        new ComposedOptimizer([p], Transformation.ClipByValue(0.5).Then(Transformation.ScaleByLearningRate(1.0))).Step();
        Assert.Equal(new[] { 1.5f, 0.75f, 0.5f }, p.Data);
    }

    [Fact]
    public void TheGroupsTakeTheTransformationsValuesAsDefaultsAndASchedulerChangesThemAtTheNextStep()
    {
        var p = new Parameter([1f]);
        var opt = new ComposedOptimizer([p], Transformation.Trace(momentum: 0.9).Then(Transformation.ScaleByLearningRate(0.1)));
        Assert.Equal(0.1, opt.ParamGroups[0].Lr);
        Assert.Equal(0.9, opt.ParamGroups[0]["momentum"]);
        opt.ParamGroups[0].Lr = 1.0;
        p.Grad = [1f];
        opt.Step();
        Assert.Equal(0f, p.Data[0]);
    }

    [Fact]
    public void TwoBlocksGivingOneKeyDifferentValuesAreRejected()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            Transformation.Chain(Transformation.ScaleByLearningRate(0.1), Transformation.DecoupledWeightDecay(0.01, lr: 0.2)));
        Assert.Contains("'lr'", e.Message);
    }

    [Fact]
    public void BadValuesAreRejectedByName()
    {
        Assert.Equal("lr", Assert.Throws<ArgumentOutOfRangeException>(() => Transformation.ScaleByLearningRate(-1)).ParamName);
        Assert.Equal("betas", Assert.Throws<ArgumentOutOfRangeException>(() => Transformation.ScaleByAdam(betas: (1.0, 0.9))).ParamName);
        Assert.Throws<ArgumentNullException>(() => Transformation.Chain(null!));
        Assert.Throws<ArgumentNullException>(() => new ComposedOptimizer([new Parameter([1f])], null!));
    }

    [Fact]
    public void AStateDictRoundTripResumesExactlyAndOneFromAnotherChainOrKindIsRejected()
    {
        var chain = Transformation.Chain(Transformation.ClipByValue(1.0), Transformation.Adam(lr: 0.05));
        var straight = Params(4);
        var straightOpt = new ComposedOptimizer(straight, chain);
        var resumedPs = Params(4);
        var first = new ComposedOptimizer(resumedPs, chain);
        void Step(Optimizer o, Parameter[] ps)
        {
            o.ZeroGrad();
            foreach (var p in ps) p.AccumulateGrad(p.Data.Select(x => 3 * x - 1).ToArray());
            o.Step();
        }
        for (int t = 0; t < 3; t++) { Step(straightOpt, straight); Step(first, resumedPs); }
        var json = first.StateDict().ToJson();
        var second = new ComposedOptimizer(resumedPs, chain);
        second.LoadStateDict(StateDict.FromJson(json));
        for (int t = 0; t < 3; t++) { Step(straightOpt, straight); Step(second, resumedPs); }
        for (int i = 0; i < straight.Length; i++) Assert.Equal(straight[i].Data, resumedPs[i].Data);

        var other = new ComposedOptimizer(Params(4), Transformation.Adam(lr: 0.05));
        var before = other.StateDict().ToJson();
        Assert.Throws<CheckpointException>(() => other.LoadStateDict(StateDict.FromJson(json)));
        Assert.Equal(before, other.StateDict().ToJson());
        var adam = new Adam(Params(4), lr: 0.05);
        Assert.Throws<CheckpointException>(() => adam.LoadStateDict(StateDict.FromJson(json)));
    }

    [Fact]
    public void AChainWithAStageThatIsNotElementwiseRunsItBeforeTheFusedPass()
    {
        // LAMB: the trust ratio needs each update's norm, so the chain runs it between two fused passes
        var lamb = Transformation.Chain(
            Transformation.ScaleByAdam(eps: 1e-6), Transformation.AddWeightDecay(0.01),
            Transformation.ScaleByTrustRatio(), Transformation.ScaleByLearningRate(0.02));
        var ps = Params(5);
        var opt = new ComposedOptimizer(ps, lamb);
        var core = Optim.OptimizerModule.ofTransform(Optim.Alias.lamb(new Optim.LambOptions(0.02, 0.9, 0.999, 1e-6, 0.01, false)));
        var tensors = Params(5).Select(p => new Optim.Tensor(p.Shape, p.Data)).ToArray();
        var state = core.Init.Invoke(tensors);
        for (int t = 0; t < 5; t++)
        {
            var grads = tensors.Select(x => x.Data.Select(v => 2 * v).ToArray()).ToArray();
            (tensors, state) = core.Step.Invoke(tensors).Invoke(grads).Invoke(state).ToValueTuple();
            opt.ZeroGrad();
            foreach (var p in ps) p.AccumulateGrad(p.Data.Select(v => 2 * v).ToArray());
            opt.Step();
        }
        for (int i = 0; i < ps.Length; i++) Assert.Equal(tensors[i].Data, ps[i].Data);
    }

    [Fact]
    public void AStepOfAComposedChainOfElementwiseBlocksAllocatesNothing()
    {
        var ps = Enumerable.Range(0, 20).Select(i => new Parameter(new float[1000 + i]) { Grad = new float[1000 + i] }).ToArray();
        var opt = new ComposedOptimizer(ps, Transformation.ClipByValue(1.0).Then(Transformation.AdamW()));
        for (int t = 0; t < 5; t++) opt.Step();
        // small parameters all step on this thread (the kernels share only steps of 2^20 elements or more)
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int t = 0; t < 10; t++) opt.Step();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}

/// <summary>ClipByGlobalNorm in a composed chain: one read of the gradients before the fused pass.</summary>
public sealed class ComposedClipTests
{
    [Fact]
    public void ClipByGlobalNormThenAdamWEqualsClipGradNormThenTheBuiltInAdamWWithinPyTorchsTolerance()
    {
        var rng = new Random(11);
        Parameter[] Make() => [new Parameter(Enumerable.Range(0, 300).Select(_ => (float)rng.NextDouble()).ToArray()),
                               new Parameter(Enumerable.Range(0, 7).Select(_ => (float)rng.NextDouble()).ToArray())];
        var a = Make();
        var b = a.Select(p => new Parameter((float[])p.Data.Clone())).ToArray();
        var composed = new ComposedOptimizer(a, Transformation.ClipByGlobalNorm(0.5).Then(Transformation.AdamW(lr: 0.01)));
        var builtIn = new AdamW(b, lr: 0.01);
        for (int t = 0; t < 20; t++)
        {
            foreach (var (ps, opt) in new[] { (a, (Optimizer)composed), (b, builtIn) })
            {
                opt.ZeroGrad();
                foreach (var p in ps) p.AccumulateGrad(p.Data.Select(x => 4 * x - 1).ToArray());
                if (opt == builtIn) ClipGrad.ClipGradNorm(b, 0.5);
                opt.Step();
            }
        }
        for (int i = 0; i < a.Length; i++)
            for (int j = 0; j < a[i].Numel; j++)
                Assert.True(Math.Abs(a[i].Data[j] - b[i].Data[j]) <= 1e-5 + 1e-4 * Math.Abs(b[i].Data[j]), $"{a[i].Data[j]} vs {b[i].Data[j]}");
    }

    [Fact]
    public void AStepOfClipByGlobalNormAndAdamWAllocatesNothing()
    {
        var ps = Enumerable.Range(0, 20).Select(i => new Parameter(new float[1000 + i]) { Grad = Enumerable.Repeat(1f, 1000 + i).ToArray() }).ToArray();
        var opt = new ComposedOptimizer(ps, Transformation.ClipByGlobalNorm(1.0).Then(Transformation.AdamW()));
        for (int t = 0; t < 5; t++) opt.Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int t = 0; t < 10; t++) opt.Step();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
