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
    public void AParamGroupAddedLaterGetsItsOwnChainWithTheDefaultsAndEqualsTheBuiltInClass()
    {
        Parameter[] Two() => [new Parameter([1f, -2f, 0.5f]), new Parameter([3f, 0.25f])];
        var a = Two();
        var b = Two();
        var composed = new ComposedOptimizer([a[0]], Transformation.Adam(lr: 0.01));
        var builtIn = new Adam([b[0]], lr: 0.01);
        composed.AddParamGroup(new ParamGroup([a[1]]) { Lr = 0.1 });
        builtIn.AddParamGroup(new ParamGroup([b[1]]) { Lr = 0.1 });
        Assert.Equal(1e-8, composed.ParamGroups[1]["eps"]);
        for (int t = 0; t < 6; t++)
            foreach (var (ps, opt) in new[] { (a, (Optimizer)composed), (b, builtIn) })
            {
                opt.ZeroGrad();
                foreach (var p in ps) p.AccumulateGrad(p.Data.Select(x => 2 * x).ToArray());
                opt.Step();
            }
        Assert.Equal(b[0].Data, a[0].Data);
        Assert.Equal(b[1].Data, a[1].Data);
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
        var tensors = Params(5).Select(p => new Optim.CoreTensor(p.Shape, p.Data)).ToArray();
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
        // small parameters all step on this thread (the kernels share only steps of 2^20 elements or more)
        Allocation.AssertStepAllocatesNothing(() => opt.Step());
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
        Allocation.AssertStepAllocatesNothing(() => opt.Step());
    }
}

/// <summary>Gates around a fused pass (multiSteps, applyIfFinite) step in place without allocating.</summary>
public sealed class ComposedGateAllocationTests
{
    private static Parameter[] Params() =>
        Enumerable.Range(0, 20).Select(i => new Parameter(new float[1000 + i]) { Grad = Enumerable.Repeat(0.5f, 1000 + i).ToArray() }).ToArray();

    [Fact]
    public void MultiStepsAroundAdamAllocatesNothingWhenItAccumulatesOrSteps()
    {
        var ps = Params();
        var opt = new ComposedOptimizer(ps, Transformation.MultiSteps(Transformation.Adam(), everyK: 4));
        // 300 calls to warm up and 12 measured, each held or stepping: 78 Adam steps on the mean of four equal gradients,
        // which is that gradient
        Allocation.AssertStepAllocatesNothing(() => opt.Step(), count: 12, warmup: 300);
        var reference = Params();
        var adam = new Adam(reference);
        for (int t = 0; t < 78; t++) adam.Step();
        for (int i = 0; i < ps.Length; i++) Assert.Equal(reference[i].Data, ps[i].Data);
    }

    [Fact]
    public void ApplyIfFiniteAroundAdamAllocatesNothing()
    {
        var ps = Params();
        var opt = new ComposedOptimizer(ps, Transformation.ApplyIfFinite(Transformation.Adam(), maxConsecutiveErrors: 3));
        Allocation.AssertStepAllocatesNothing(() => opt.Step());
    }
}

/// <summary>The combinators, composed in C# and run by <see cref="ComposedOptimizer"/>.</summary>
public sealed class ComposedCombinatorTests
{
    private static Parameter[] Params() => [new Parameter([0.5f, -1f, 2f, 0.25f, 3f]), new Parameter([1f, -1f], 2)];

    private static float[] Grad(Parameter p, int t) => p.Data.Select((x, j) => 2 * x + 0.1f * j - 0.05f * t).ToArray();

    [Fact]
    public void MultiStepsTakesOneAdamStepOnTheMeanOfFourMicroBatches()
    {
        var ps = Params();
        var accumulated = new ComposedOptimizer(ps, Transformation.MultiSteps(Transformation.Adam(lr: 0.1), everyK: 4));
        var reference = Params();
        var adam = new Adam(reference, lr: 0.1);
        var start = ps.Select(p => (float[])p.Data.Clone()).ToArray();
        var sums = reference.Select(p => (float[]?)null).ToArray();
        for (int t = 0; t < 4; t++)
        {
            accumulated.ZeroGrad();
            for (int i = 0; i < ps.Length; i++)
            {
                var g = ps[i].Data.Select((x, j) => 2 * start[i][j] + 0.1f * j - 0.05f * t).ToArray();
                ps[i].AccumulateGrad(g);
                sums[i] = sums[i] is null ? g : sums[i]!.Zip(g, (a, b) => a + b).ToArray();
            }
            accumulated.Step();
            if (t < 3) for (int i = 0; i < ps.Length; i++) Assert.Equal(start[i], ps[i].Data);
        }
        for (int i = 0; i < reference.Length; i++) reference[i].Grad = sums[i]!.Select(x => x / 4f).ToArray();
        adam.Step();
        for (int i = 0; i < ps.Length; i++) Assert.Equal(reference[i].Data, ps[i].Data);
    }

    [Fact]
    public void ApplyIfFiniteSkipsAStepWithANaNAndChangesNothing()
    {
        var ps = Params();
        var opt = new ComposedOptimizer(ps, Transformation.ApplyIfFinite(Transformation.Adam(lr: 0.1), maxConsecutiveErrors: 2));
        foreach (var p in ps) p.Grad = Grad(p, 0);
        opt.Step();
        var before = opt.StateDict().ToJson();
        var data = ps.Select(p => (float[])p.Data.Clone()).ToArray();
        ps[1].Grad = [float.NaN, 1f];
        opt.Step();
        for (int i = 0; i < ps.Length; i++) Assert.Equal(data[i], ps[i].Data);
        var after = System.Text.Json.Nodes.JsonNode.Parse(opt.StateDict().ToJson())!.AsObject();
        Assert.Equal(1.0, (double)after["global"]!["apply_if_finite.notfinite_count"]!);
        // everything but the counters is as it was: Adam's moments and step counts untouched
        var was = System.Text.Json.Nodes.JsonNode.Parse(before)!.AsObject();
        Assert.Equal(was["state"]!.ToJsonString(), after["state"]!.ToJsonString());
    }

    [Fact]
    public void PartitionEqualsSeparateOptimizersOnTheSubsets()
    {
        var ps = Params();
        var opt = new ComposedOptimizer(ps, Transformation.Partition((i, _) => i == 0 ? "body" : "head",
            ("body", Transformation.SGD(lr: 0.1, momentum: 0.9)), ("head", Transformation.Adam(lr: 0.05))));
        var body = Params()[0];
        var head = Params()[1];
        var sgd = new SGD([body], lr: 0.1, momentum: 0.9);
        var adam = new Adam([head], lr: 0.05);
        for (int t = 0; t < 5; t++)
        {
            foreach (var p in ps) p.Grad = Grad(p, t);
            body.Grad = Grad(body, t);
            head.Grad = Grad(head, t);
            opt.Step();
            sgd.Step();
            adam.Step();
        }
        Assert.Equal(body.Data, ps[0].Data);
        Assert.Equal(head.Data, ps[1].Data);
    }

    [Fact]
    public void EmaParametersStartAtTheParametersAndThenAverageThem()
    {
        var ps = Params();
        var opt = new ComposedOptimizer(ps, Transformation.SGD(lr: 0.1).Then(Transformation.Ema(0.5)));
        foreach (var p in ps) p.Grad = Grad(p, 0);
        opt.Step();
        var first = ps.Select(p => (float[])p.Data.Clone()).ToArray();
        Assert.Equal(first[0], opt.EmaParameters()[0]);
        foreach (var p in ps) p.Grad = Grad(p, 1);
        opt.Step();
        var ema = opt.EmaParameters();
        for (int j = 0; j < first[0].Length; j++)
            Assert.Equal(first[0][j] + (ps[0].Data[j] - first[0][j]) * 0.5f, ema[0][j], 6);
        Assert.Throws<InvalidOperationException>(() => new ComposedOptimizer(Params(), Transformation.Adam()).EmaParameters());
    }

    [Fact]
    public void ScheduleFreeAdamWConvergesOnAQuadraticAndReadsOutItsEvaluationWeights()
    {
        var ps = Params();
        var opt = new ComposedOptimizer(ps, Transformation.ScheduleFreeAdamW(lr: 0.05));
        for (int t = 0; t < 400; t++)
        {
            opt.ZeroGrad();
            foreach (var p in ps) p.AccumulateGrad(p.Data.Select(x => 2 * (x - 1)).ToArray());
            opt.Step();
        }
        var x = opt.ScheduleFreeParameters();
        Assert.All(x.SelectMany(a => a), v => Assert.True(Math.Abs(v - 1) < 0.05, $"{v}"));
        Assert.Throws<InvalidOperationException>(() => new ComposedOptimizer(Params(), Transformation.Adam()).ScheduleFreeParameters());
    }

    [Fact]
    public void LookaheadWithAlphaOneEqualsItsInnerOptimizer()
    {
        var a = Params();
        var b = Params();
        var look = new ComposedOptimizer(a, Transformation.Lookahead(Transformation.SGD(lr: 0.1, momentum: 0.5), syncPeriod: 3, alpha: 1.0));
        var plain = new ComposedOptimizer(b, Transformation.SGD(lr: 0.1, momentum: 0.5));
        for (int t = 0; t < 7; t++)
        {
            foreach (var p in a) p.Grad = Grad(p, t);
            foreach (var p in b) p.Grad = Grad(p, t);
            look.Step();
            plain.Step();
        }
        for (int i = 0; i < a.Length; i++)
            for (int j = 0; j < a[i].Numel; j++) Assert.Equal(b[i].Data[j], a[i].Data[j], 5);
    }

    [Fact]
    public void CombinatorsRejectBadArgumentsByName()
    {
        Assert.Equal("everyK", Assert.Throws<ArgumentOutOfRangeException>(() => Transformation.MultiSteps(Transformation.Adam(), 0)).ParamName);
        Assert.Equal("maxConsecutiveErrors", Assert.Throws<ArgumentOutOfRangeException>(() => Transformation.ApplyIfFinite(Transformation.Adam(), -1)).ParamName);
        Assert.Equal("decay", Assert.Throws<ArgumentOutOfRangeException>(() => Transformation.Ema(1.5)).ParamName);
        Assert.Throws<ArgumentException>(() => Transformation.Partition((_, _) => "a", ("a", Transformation.Adam()), ("a", Transformation.SGD(0.1))));
    }
}
