using Optim.CSharp;

namespace Optim.CSharp.Tests;

/// <summary>The schedulers' bad input, call order, messages, failures, groups added later and state dicts.</summary>
public class SchedulerTests
{
    private static SGD Sgd(params double[] lrs) =>
        new((lrs.Length == 0 ? [0.1, 0.05] : lrs).Select(lr => new ParamGroup([new Parameter(new float[1])]) { Lr = lr }), lr: 0.1, momentum: 0.9);

    private static Adam AdamOptimizer() =>
        new(new[] { 0.001, 0.002 }.Select(lr => new ParamGroup([new Parameter(new float[1])]) { Lr = lr }));

    /// <summary>Everything the groups hold, to check that a failed operation changed nothing.</summary>
    private static string Groups(Optimizer o) =>
        string.Join(" | ", o.ParamGroups.Select(g => string.Join(", ", g.Keys.Select(k => k == "betas" ? $"betas={g.Betas}" : $"{k}={g[k]:R}"))));

    private static double[] Lrs(Optimizer o) => o.ParamGroups.Select(g => g.Lr).ToArray();

    /// <summary>Per constructor argument: a bad value, the argument's name, and text the message must show.</summary>
    /// <remarks>Make builds what the call needs (children of a composite), then returns the call that must fail.</remarks>
    private static readonly (string Case, Func<Optimizer, Func<object>> Make, string Param, string? Shows)[] BadArguments =
    [
        ("StepLR optimizer", _ => () => new StepLR(null!, 5), "optimizer", null),
        ("StepLR stepSize", o => () => new StepLR(o, 0), "stepSize", "0"),
        ("StepLR gamma", o => () => new StepLR(o, 5, -0.1), "gamma", "-0.1"),
        ("StepLR gamma NaN", o => () => new StepLR(o, 5, double.NaN), "gamma", "NaN"),
        ("StepLR lastEpoch", o => () => new StepLR(o, 5, lastEpoch: -2), "lastEpoch", "-2"),
        ("StepLR lastEpoch without initial_lr", o => () => new StepLR(o, 5, lastEpoch: 3), "lastEpoch", "initial_lr"),
        ("MultiStepLR milestones null", o => () => new MultiStepLR(o, null!), "milestones", null),
        ("MultiStepLR milestones", o => () => new MultiStepLR(o, [5, -1]), "milestones", "-1"),
        ("MultiStepLR gamma", o => () => new MultiStepLR(o, [5], double.PositiveInfinity), "gamma", "Infinity"),
        ("ConstantLR factor 0", o => () => new ConstantLR(o, 0), "factor", "0"),
        ("ConstantLR factor", o => () => new ConstantLR(o, 1.5), "factor", "1.5"),
        ("ConstantLR totalIters", o => () => new ConstantLR(o, totalIters: 0), "totalIters", "0"),
        ("LinearLR startFactor 0", o => () => new LinearLR(o, 0), "startFactor", "0"),
        ("LinearLR startFactor", o => () => new LinearLR(o, 1.1), "startFactor", "1.1"),
        ("LinearLR endFactor", o => () => new LinearLR(o, endFactor: -0.1), "endFactor", "-0.1"),
        ("LinearLR totalIters", o => () => new LinearLR(o, totalIters: 0), "totalIters", "0"),
        ("ExponentialLR gamma", o => () => new ExponentialLR(o, -1), "gamma", "-1"),
        ("PolynomialLR totalIters", o => () => new PolynomialLR(o, 0), "totalIters", "0"),
        ("PolynomialLR power", o => () => new PolynomialLR(o, power: -1), "power", "-1"),
        ("CosineAnnealingLR tMax", o => () => new CosineAnnealingLR(o, 0), "tMax", "0"),
        ("CosineAnnealingLR etaMin", o => () => new CosineAnnealingLR(o, 10, -0.01), "etaMin", "-0.01"),
        ("CosineAnnealingWarmRestarts t0", o => () => new CosineAnnealingWarmRestarts(o, 0), "t0", "0"),
        ("CosineAnnealingWarmRestarts tMult", o => () => new CosineAnnealingWarmRestarts(o, 10, 0), "tMult", "0"),
        ("CosineAnnealingWarmRestarts etaMin", o => () => new CosineAnnealingWarmRestarts(o, 10, etaMin: double.NaN), "etaMin", "NaN"),
        ("LambdaLR lrLambda null", o => () => new LambdaLR(o, (Func<int, double>)null!), "lrLambda", null),
        ("LambdaLR lrLambda count", o => () => new LambdaLR(o, [e => 1.0]), "lrLambda", "Expected 2 lr_lambdas, but got 1"),
        ("LambdaLR lrLambda item null", o => () => new LambdaLR(o, [e => 1.0, null!]), "lrLambda", "[1]"),
        ("MultiplicativeLR lrLambda null", o => () => new MultiplicativeLR(o, (Func<int, double>[])null!), "lrLambda", null),
        ("MultiplicativeLR lrLambda count", o => () => new MultiplicativeLR(o, [e => 1.0, e => 1.0, e => 1.0]), "lrLambda", "got 3"),
        ("SequentialLR schedulers null", o => () => new SequentialLR(o, null!, []), "schedulers", null),
        ("SequentialLR schedulers empty", o => () => new SequentialLR(o, [], []), "schedulers", null),
        ("SequentialLR schedulers of another optimizer", o => { var c = new StepLR(Sgd(), 5); return () => new SequentialLR(o, [c], []); }, "schedulers", "index 0"),
        ("SequentialLR schedulers with a plateau", o => { var c = new ReduceLROnPlateau(o); return () => new SequentialLR(o, [c], []); }, "schedulers", "ReduceLROnPlateau"),
        ("SequentialLR milestones null", o => { var c = new StepLR(o, 5); return () => new SequentialLR(o, [c], null!); }, "milestones", null),
        ("SequentialLR milestones count", o => { LRScheduler[] c = [new StepLR(o, 5), new StepLR(o, 5)]; return () => new SequentialLR(o, c, []); }, "milestones", "0"),
        ("SequentialLR milestones order", o => { LRScheduler[] c = [new StepLR(o, 5), new StepLR(o, 5), new StepLR(o, 5)]; return () => new SequentialLR(o, c, [5, 5]); }, "milestones", "[5, 5]"),
        ("SequentialLR milestones zero", o => { LRScheduler[] c = [new StepLR(o, 5), new StepLR(o, 5)]; return () => new SequentialLR(o, c, [0]); }, "milestones", "[0]"),
        ("SequentialLR lastEpoch", o => { var c = new StepLR(o, 5); return () => new SequentialLR(o, [c], [], lastEpoch: -3); }, "lastEpoch", "-3"),
        ("ChainedScheduler schedulers null", _ => () => new ChainedScheduler(null!), "schedulers", null),
        ("ChainedScheduler schedulers empty", _ => () => new ChainedScheduler([]), "schedulers", null),
        ("ChainedScheduler schedulers of two optimizers", o => { LRScheduler[] c = [new StepLR(o, 5), new StepLR(Sgd(), 5)]; return () => new ChainedScheduler(c); }, "schedulers", "index 0 and 1"),
        ("ChainedScheduler schedulers with a plateau", o => { var c = new ReduceLROnPlateau(o); return () => new ChainedScheduler([c]); }, "schedulers", "ReduceLROnPlateau"),
        ("ReduceLROnPlateau mode", o => () => new ReduceLROnPlateau(o, mode: "lowest"), "mode", "lowest"),
        ("ReduceLROnPlateau factor", o => () => new ReduceLROnPlateau(o, factor: 1.0), "factor", "1"),
        ("ReduceLROnPlateau factor negative", o => () => new ReduceLROnPlateau(o, factor: -0.1), "factor", "-0.1"),
        ("ReduceLROnPlateau patience", o => () => new ReduceLROnPlateau(o, patience: -1), "patience", "-1"),
        ("ReduceLROnPlateau threshold", o => () => new ReduceLROnPlateau(o, threshold: -1e-4), "threshold", "-0.0001"),
        ("ReduceLROnPlateau thresholdMode", o => () => new ReduceLROnPlateau(o, thresholdMode: "relative"), "thresholdMode", "relative"),
        ("ReduceLROnPlateau cooldown", o => () => new ReduceLROnPlateau(o, cooldown: -1), "cooldown", "-1"),
        ("ReduceLROnPlateau minLr", o => () => new ReduceLROnPlateau(o, minLr: -1e-3), "minLr", "-0.001"),
        ("ReduceLROnPlateau minLr count", o => () => new ReduceLROnPlateau(o, minLr: new[] { 0.0 }), "minLr", "got 1"),
        ("ReduceLROnPlateau eps", o => () => new ReduceLROnPlateau(o, eps: double.NaN), "eps", "NaN"),
        ("CyclicLR baseLr", o => () => new CyclicLR(o, -0.01, 0.1), "baseLr", "-0.01"),
        ("CyclicLR baseLr count", o => () => new CyclicLR(o, new[] { 0.01, 0.01, 0.01 }, 0.1), "baseLr", "got 3"),
        ("CyclicLR maxLr", o => () => new CyclicLR(o, 0.01, double.NaN), "maxLr", "NaN"),
        ("CyclicLR stepSizeUp", o => () => new CyclicLR(o, 0.01, 0.1, stepSizeUp: 0), "stepSizeUp", "0"),
        ("CyclicLR stepSizeDown", o => () => new CyclicLR(o, 0.01, 0.1, stepSizeDown: -1), "stepSizeDown", "-1"),
        ("CyclicLR mode", o => () => new CyclicLR(o, 0.01, 0.1, mode: "square"), "mode", "square"),
        ("CyclicLR gamma", o => () => new CyclicLR(o, 0.01, 0.1, mode: "exp_range", gamma: -0.9), "gamma", "-0.9"),
        ("CyclicLR scaleMode", o => () => new CyclicLR(o, 0.01, 0.1, scaleFn: x => 1, scaleMode: "epochs"), "scaleMode", "epochs"),
        ("CyclicLR baseMomentum", o => () => new CyclicLR(o, 0.01, 0.1, baseMomentum: -0.8), "baseMomentum", "-0.8"),
        ("CyclicLR maxMomentum", o => () => new CyclicLR(o, 0.01, 0.1, maxMomentum: new[] { 0.9 }), "maxMomentum", "got 1"),
        ("CyclicLR maxMomentum as a beta", _ => () => new CyclicLR(AdamOptimizer(), 0.01, 0.1, maxMomentum: 1.0), "maxMomentum", "1"),
        ("CyclicLR lastEpoch", o => () => new CyclicLR(o, 0.01, 0.1, lastEpoch: 4), "lastEpoch", "initial_lr"),
        ("OneCycleLR maxLr", o => () => new OneCycleLR(o, -0.1, totalSteps: 100), "maxLr", "-0.1"),
        ("OneCycleLR maxLr count", o => () => new OneCycleLR(o, new[] { 0.1 }, totalSteps: 100), "maxLr", "got 1"),
        ("OneCycleLR totalSteps", o => () => new OneCycleLR(o, 0.1, totalSteps: 0), "totalSteps", "0"),
        ("OneCycleLR no length", o => () => new OneCycleLR(o, 0.1), "totalSteps", "epochs"),
        ("OneCycleLR epochs", o => () => new OneCycleLR(o, 0.1, epochs: 0, stepsPerEpoch: 10), "epochs", "0"),
        ("OneCycleLR epochs missing", o => () => new OneCycleLR(o, 0.1, stepsPerEpoch: 10), "epochs", "0"),
        ("OneCycleLR stepsPerEpoch", o => () => new OneCycleLR(o, 0.1, epochs: 5, stepsPerEpoch: -1), "stepsPerEpoch", "-1"),
        ("OneCycleLR pctStart", o => () => new OneCycleLR(o, 0.1, totalSteps: 100, pctStart: 1.5), "pctStart", "1.5"),
        ("OneCycleLR pctStart empty phase", o => () => new OneCycleLR(o, 0.1, totalSteps: 10, pctStart: 0.1), "pctStart", "zero length"),
        ("OneCycleLR annealStrategy", o => () => new OneCycleLR(o, 0.1, totalSteps: 100, annealStrategy: "cosine"), "annealStrategy", "cosine"),
        ("OneCycleLR baseMomentum", o => () => new OneCycleLR(o, 0.1, totalSteps: 100, baseMomentum: double.NaN), "baseMomentum", "NaN"),
        ("OneCycleLR maxMomentum", o => () => new OneCycleLR(o, 0.1, totalSteps: 100, maxMomentum: -0.95), "maxMomentum", "-0.95"),
        ("OneCycleLR divFactor", o => () => new OneCycleLR(o, 0.1, totalSteps: 100, divFactor: 0), "divFactor", "0"),
        ("OneCycleLR finalDivFactor", o => () => new OneCycleLR(o, 0.1, totalSteps: 100, finalDivFactor: -1), "finalDivFactor", "-1"),
        ("OneCycleLR lastEpoch", o => () => new OneCycleLR(o, 0.1, totalSteps: 100, lastEpoch: 7), "lastEpoch", "is not specified"),
        ("SWALR swaLr", o => () => new SWALR(o, -0.05), "swaLr", "-0.05"),
        ("SWALR swaLr count", o => () => new SWALR(o, new[] { 0.05, 0.05, 0.05 }), "swaLr", "got 3"),
        ("SWALR annealEpochs", o => () => new SWALR(o, 0.05, annealEpochs: -1), "annealEpochs", "-1"),
        ("SWALR annealStrategy", o => () => new SWALR(o, 0.05, annealStrategy: "step"), "annealStrategy", "step"),
        ("SWALR lastEpoch", o => () => new SWALR(o, 0.05, lastEpoch: -5), "lastEpoch", "-5"),
    ];

    public static IEnumerable<object[]> BadArgumentCases => BadArguments.Select(b => new object[] { b.Case });

    [Theory]
    [MemberData(nameof(BadArgumentCases))]
    public void EveryConstructorArgumentOutOfRangeIsRejectedNamingItAndChangesNothing(string label)
    {
        var (_, make, param, shows) = BadArguments.Single(b => b.Case == label);
        var optimizer = Sgd();
        var call = make(optimizer);
        var before = Groups(optimizer);
        var e = Assert.ThrowsAny<ArgumentException>(() => call());
        Assert.Equal(param, e.ParamName);
        if (shows is not null) Assert.Contains(shows, e.Message);
        Assert.Equal(before, Groups(optimizer));
    }

    [Fact]
    public void EveryPyTorchSchedulerAndSWALRIsInTheFacadeUnderItsName()
    {
        var names = typeof(LRScheduler).Assembly.GetExportedTypes().Where(t => t.IsSubclassOf(typeof(LRScheduler))).Select(t => t.Name);
        Assert.Equal(
            new[] { "ChainedScheduler", "ConstantLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "CyclicLR", "ExponentialLR", "LambdaLR",
                    "LinearLR", "MultiStepLR", "MultiplicativeLR", "OneCycleLR", "PolynomialLR", "ReduceLROnPlateau", "SWALR", "SequentialLR", "StepLR" },
            names.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void SchedulerStepBeforeAnyOptimizerStepWritesPyTorchsWarningOnceAndOnlyToTheLog()
    {
        var log = new StringWriter();
        var optimizer = Sgd();
        var scheduler = new StepLR(optimizer, 2, log: log);
        scheduler.Step();
        scheduler.Step();
        var lines = log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("UserWarning: Detected call of LRScheduler.Step() before Optimizer.Step().", lines[0]);
    }

    [Fact]
    public void StepWithAnEpochWritesPyTorchsDeprecationWarningOncePerSchedulerAndOnlyToTheLog()
    {
        var log = new StringWriter();
        var optimizer = Sgd();
        var first = new StepLR(optimizer, 2, log: log);
        optimizer.Step();
        first.Step(3);
        first.Step(5);
        first.Step();
        var plateau = new ReduceLROnPlateau(optimizer, log: log);
        plateau.Step(1.0, 4);
        plateau.Step(1.0, 5);
        var warm = new CosineAnnealingWarmRestarts(optimizer, 4, log: log);
        warm.Step(2.5);
        warm.Step(3);
        var lines = log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);   // one per StepLR and ReduceLROnPlateau; warm restarts' epochs are not deprecated
        Assert.All(lines, l => Assert.StartsWith("UserWarning: The epoch parameter in `scheduler.step()` was not necessary", l));
        Assert.Equal(5, plateau.LastEpoch);
        Assert.Equal(3, warm.LastEpoch);
    }

    [Fact]
    public void AnEpochThatIsNegativeOrNotFiniteIsRejectedNamingItAndChangesNothing()
    {
        var optimizer = Sgd();
        var step = new StepLR(optimizer, 2);
        var warm = new CosineAnnealingWarmRestarts(optimizer, 3, 2);
        var plateau = new ReduceLROnPlateau(optimizer);
        warm.Step(4.5);
        var before = Groups(optimizer);
        var state = warm.StateDict().ToJson();
        foreach (var bad in new Action[]
                 {
                     () => step.Step(-1), () => warm.Step(-0.5), () => warm.Step(double.NaN), () => warm.Step(double.PositiveInfinity),
                     () => warm.Step(3e9), () => warm.Step(-2), () => plateau.Step(1.0, -1),
                 })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(bad);
            Assert.Equal("epoch", e.ParamName);
        }
        Assert.Equal(before, Groups(optimizer));
        Assert.Equal(state, warm.StateDict().ToJson());
        Assert.Equal((0, 4, 0), (step.LastEpoch, warm.LastEpoch, plateau.LastEpoch));
    }

    [Fact]
    public void SchedulersWhoseStepTakesNoEpochInPyTorchRejectOneAndChangeNothing()
    {
        var optimizer = Sgd();
        var sequential = new SequentialLR(optimizer, [new ConstantLR(optimizer, 0.5, 2), new ExponentialLR(optimizer, 0.9)], [2]);
        var chained = new ChainedScheduler([new ExponentialLR(optimizer, 0.9)]);
        var plateau = new ReduceLROnPlateau(optimizer);
        var before = Groups(optimizer);
        foreach (var s in new LRScheduler[] { sequential, chained, plateau })
            Assert.Throws<InvalidOperationException>(() => s.Step(3));
        Assert.Equal(before, Groups(optimizer));
        Assert.Equal((0, 0, 0), (sequential.LastEpoch, chained.LastEpoch, plateau.LastEpoch));
    }

    [Fact]
    public void AStepToAnEpochPastOneCycleLRsEndThrowsAndChangesNothing()
    {
        var optimizer = Sgd();
        var scheduler = new OneCycleLR(optimizer, 0.1, totalSteps: 10);
        scheduler.Step(4);
        var before = Groups(optimizer);
        Assert.Throws<InvalidOperationException>(() => scheduler.Step(11));
        Assert.Equal(before, Groups(optimizer));
        Assert.Equal(4, scheduler.LastEpoch);
    }

    [Fact]
    public void WarmRestartsSteppedToAFractionalEpochResumeFromTheirStateDictWhereTheyWere()
    {
        var a = Sgd();
        var warm = new CosineAnnealingWarmRestarts(a, 3, 2, 0.001);
        warm.Step(7.25);
        var json = warm.StateDict().ToJson();
        var b = Sgd();
        var resumed = new CosineAnnealingWarmRestarts(b, 3, 2, 0.001);
        resumed.LoadStateDict(SchedulerStateDict.FromJson(json));
        for (int k = 0; k < 12; k++)
        {
            warm.Step();
            resumed.Step();
            Assert.Equal(Lrs(a), Lrs(b));
        }
    }

    [Fact]
    public void AnOptimizerStepThatUpdatedNothingStillCountsForTheCallOrder()
    {
        var log = new StringWriter();
        var optimizer = Sgd();
        var scheduler = new ExponentialLR(optimizer, 0.9, log: log);
        optimizer.Step();   // no parameter has a gradient: nothing is updated, as when a step is skipped
        scheduler.Step();
        Assert.Equal("", log.ToString());
    }

    [Fact]
    public void VerboseMessagesGoToTheLogAndNothingIsWrittenWithoutVerbose()
    {
        var quiet = new StringWriter();
        var optimizer = Sgd();
        var scheduler = new StepLR(optimizer, 1, 0.5, log: quiet);
        optimizer.Step();
        scheduler.Step();
        Assert.Equal("", quiet.ToString());

        var loud = new StringWriter();
        var verbose = new StepLR(Sgd(), 1, 0.5, verbose: true, log: loud);
        Assert.Equal($"Adjusting learning rate of group 0 to 1.0000e-01.{Environment.NewLine}Adjusting learning rate of group 1 to 5.0000e-02.{Environment.NewLine}",
                     loud.ToString());
        Assert.Equal(0, verbose.LastEpoch);
    }

    [Fact]
    public void OneCycleLRThrowsOnTheStepAfterItsLastAndChangesNothing()
    {
        var optimizer = Sgd();
        var scheduler = new OneCycleLR(optimizer, 0.1, totalSteps: 10, annealStrategy: "linear");
        for (int k = 0; k < 10; k++) scheduler.Step();
        Assert.All(Lrs(optimizer), lr => Assert.True(lr >= 0));   // PyTorch extrapolates below 0 here
        var before = Groups(optimizer);
        var e = Assert.Throws<InvalidOperationException>(() => scheduler.Step());
        Assert.Equal("Tried to step 12 times. The specified number of total steps is 10.", e.Message);
        Assert.Equal(before, Groups(optimizer));
        Assert.Equal(10, scheduler.LastEpoch);
    }

    [Fact]
    public void ReduceLROnPlateauNeedsTheMetric()
    {
        var scheduler = new ReduceLROnPlateau(Sgd());
        Assert.Throws<InvalidOperationException>(() => scheduler.Step());
        Assert.Empty(scheduler.BaseLrs);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(-1.0)]
    public void AStepWhosePolicyGivesAnInvalidRateThrowsAndChangesNothing(double bad)
    {
        var optimizer = Sgd();
        var scheduler = new LambdaLR(optimizer, e => e < 3 ? 1.0 : bad);
        scheduler.Step();
        scheduler.Step();
        var before = Groups(optimizer);
        var last = scheduler.GetLastLr();
        Assert.Throws<InvalidOperationException>(() => scheduler.Step());
        Assert.Equal(before, Groups(optimizer));
        Assert.Equal(last, scheduler.GetLastLr());
        Assert.Equal(2, scheduler.LastEpoch);
    }

    [Fact]
    public void ANegativeRateFromPyTorchsChainableCosineIsRejectedWhereItArisesAndChangesNothing()
    {
        // PyTorch 1.13: ChainedScheduler([StepLR(1, 0.1), CosineAnnealingLR(T_max=2, eta_min=0.05)]) on lr 0.1 sets
        // 0.03, 0.05, 0.03, then -0.044 (past T_max the chainable cosine scales lr − eta_min up while lr < eta_min),
        // and PyTorch's SGD would then climb the gradient. Optim stops at that step instead (docs/schedulers.md).
        var optimizer = new SGD([new Parameter([1f])], lr: 0.1);
        var scheduler = new ChainedScheduler([new StepLR(optimizer, 1, 0.1), new CosineAnnealingLR(optimizer, tMax: 2, etaMin: 0.05)]);
        double[] pytorch = [0.030000000000000002, 0.05, 0.03];
        foreach (var expected in pytorch)
        {
            optimizer.Step();
            scheduler.Step();
            Assert.Equal(expected, optimizer.ParamGroups[0].Lr, 1e-15);
        }
        optimizer.Step();
        var e = Assert.Throws<InvalidOperationException>(() => scheduler.Step());
        Assert.Contains("CosineAnnealingLR computed a learning rate of -0.044", e.Message);
        Assert.Contains("param group 0", e.Message);
        Assert.Equal(0.03, optimizer.ParamGroups[0].Lr, 1e-15);
    }

    [Fact]
    public void AGroupAddedLaterGetsItsInitialLrAndJoinsTheScheduleAtTheNextStep()
    {
        var optimizer = Sgd();
        var scheduler = new StepLR(optimizer, 3, 0.5);
        for (int k = 0; k < 4; k++) scheduler.Step();
        var late = new ParamGroup([new Parameter(new float[1])]) { Lr = 0.2 };
        optimizer.AddParamGroup(late);
        Assert.False(late.ContainsKey("initial_lr"));
        scheduler.Step();   // epoch 5
        Assert.Equal(0.2, late["initial_lr"]);
        Assert.Equal(new[] { 0.1, 0.05, 0.2 }, scheduler.BaseLrs);
        scheduler.Step();   // epoch 6: every group halves
        Assert.Equal(0.1, late.Lr, 15);
        Assert.Equal(0.025, optimizer.ParamGroups[0].Lr, 15);
    }

    [Fact]
    public void AnArgumentGivenPerGroupCannotScheduleAGroupAddedLater()
    {
        var optimizer = Sgd();
        var scheduler = new LambdaLR(optimizer, [e => 1.0, e => 0.5]);
        optimizer.AddParamGroup(new ParamGroup([new Parameter(new float[1])]) { Lr = 0.2 });
        var before = Groups(optimizer);
        var e = Assert.Throws<InvalidOperationException>(() => scheduler.Step());
        Assert.Contains("Param group 2", e.Message);
        Assert.Contains("lrLambda", e.Message);
        Assert.Equal(before, Groups(optimizer));
        Assert.Equal(0, scheduler.LastEpoch);
    }

    [Fact]
    public void CycledMomentumGoesToMomentumForSGDAndToTheFirstBetaForAdam()
    {
        var sgd = Sgd();
        new OneCycleLR(sgd, 0.1, totalSteps: 20, baseMomentum: 0.8, maxMomentum: 0.9);
        Assert.All(sgd.ParamGroups, g => Assert.Equal(0.9, g["momentum"]));
        var adam = AdamOptimizer();
        new OneCycleLR(adam, 0.01, totalSteps: 20, baseMomentum: 0.8, maxMomentum: 0.9);
        Assert.All(adam.ParamGroups, g => Assert.Equal((0.9, 0.999), g.Betas));
        Assert.All(adam.ParamGroups, g => Assert.False(g.ContainsKey("momentum")));
    }

    /// <summary>A state dict's JSON with one entry of its state replaced.</summary>
    private static SchedulerStateDict With(LRScheduler scheduler, string key, System.Text.Json.Nodes.JsonNode? value)
    {
        var root = System.Text.Json.Nodes.JsonNode.Parse(scheduler.StateDict().ToJson())!;
        root["state"]![key] = value;
        return SchedulerStateDict.FromJson(root.ToJsonString());
    }

    public static TheoryData<string, string, string> BadHyperparameters => new()
    {
        { "StepLR", "step_size", "0" }, { "StepLR", "gamma", "-0.5" }, { "StepLR", "gamma", "\"Infinity\"" }, { "StepLR", "step_size", "2.5" },
        { "MultiStepLR", "milestones", "[3, -1]" }, { "ConstantLR", "factor", "0" }, { "LinearLR", "end_factor", "1.5" },
        { "PolynomialLR", "total_iters", "0" }, { "CosineAnnealingLR", "T_max", "0" }, { "CosineAnnealingWarmRestarts", "T_mult", "0" },
        { "CosineAnnealingWarmRestarts", "T_cur", "\"NaN\"" }, { "ReduceLROnPlateau", "mode", "\"sideways\"" },
        { "ReduceLROnPlateau", "factor", "1" }, { "ReduceLROnPlateau", "min_lrs", "[0.1]" }, { "SWALR", "anneal_strategy", "\"cosine\"" },
        { "SWALR", "swa_lrs", "-1" }, { "SequentialLR", "_milestones", "[0]" }, { "CyclicLR", "mode", "\"sine\"" },
        { "CyclicLR", "step_ratio", "0" }, { "CyclicLR", "max_lrs", "[0.1, \"NaN\"]" }, { "CyclicLR", "base_momentum", "-1" },
        { "OneCycleLR", "total_steps", "0" }, { "OneCycleLR", "pct_start", "1.5" }, { "OneCycleLR", "pct_start", "0.1" },
        { "OneCycleLR", "anneal_strategy", "\"cosine\"" }, { "OneCycleLR", "cycle_momentum", "0.5" },
    };

    private static LRScheduler Build(string kind, Optimizer o) => kind switch
    {
        "StepLR" => new StepLR(o, 3),
        "MultiStepLR" => new MultiStepLR(o, [2, 4]),
        "ConstantLR" => new ConstantLR(o),
        "LinearLR" => new LinearLR(o),
        "PolynomialLR" => new PolynomialLR(o),
        "CosineAnnealingLR" => new CosineAnnealingLR(o, 10),
        "CosineAnnealingWarmRestarts" => new CosineAnnealingWarmRestarts(o, 3, 2),
        "ReduceLROnPlateau" => new ReduceLROnPlateau(o),
        "SWALR" => new SWALR(o, 0.01),
        "CyclicLR" => new CyclicLR(o, 0.01, 0.1, stepSizeUp: 4),
        "OneCycleLR" => new OneCycleLR(o, 0.1, totalSteps: 10),
        "SequentialLR" => new SequentialLR(o, [new ConstantLR(o), new ExponentialLR(o, 0.9)], [3]),
        _ => throw new NotSupportedException(kind),
    };

    [Theory]
    [MemberData(nameof(BadHyperparameters))]
    public void ALoadedHyperparameterThatTheConstructorWouldRejectIsRejectedNamingItAndChangesNothing(string kind, string key, string json)
    {
        var optimizer = Sgd();
        var scheduler = Build(kind, optimizer);
        var bad = With(scheduler, key, System.Text.Json.Nodes.JsonNode.Parse(json));
        if (scheduler is ReduceLROnPlateau plateau) plateau.Step(1.0); else scheduler.Step();
        var before = scheduler.StateDict().ToJson();
        var groups = Groups(optimizer);
        var e = Assert.Throws<ArgumentException>(() => scheduler.LoadStateDict(bad));
        Assert.Equal("state", e.ParamName);
        Assert.Contains(key, e.Message);
        Assert.Equal(before, scheduler.StateDict().ToJson());
        Assert.Equal(groups, Groups(optimizer));
    }

    [Fact]
    public void AStateDictWithoutHyperparametersLoadsItsCountersAndKeepsTheSchedulersOwn()
    {
        var optimizer = Sgd();
        var step = new StepLR(optimizer, 3, 0.5);
        for (int k = 0; k < 4; k++) step.Step();
        var old = SchedulerStateDict.FromJson("""{"scheduler": "StepLR", "state": {"last_epoch": 4, "step_count": 5, "base_lrs": [0.1, 0.05], "last_lr": [0.05, 0.025]}}""");
        var other = new StepLR(Sgd(), 5, 0.1);
        other.LoadStateDict(old);
        Assert.Equal(4, other.LastEpoch);
        Assert.Contains("\"step_size\":5", other.StateDict().ToJson());
        var warm = new CosineAnnealingWarmRestarts(Sgd(), 3, 2);
        warm.LoadStateDict(SchedulerStateDict.FromJson("""{"scheduler": "CosineAnnealingWarmRestarts", "state": {"last_epoch": 10, "step_count": 0, "base_lrs": [0.1, 0.05], "last_lr": [0.1, 0.05]}}"""));
        Assert.Contains("\"T_cur\":1,\"T_i\":12", warm.StateDict().ToJson());   // epoch 10: restarts at 3 and 9, then 1 of 12
    }

    [Fact]
    public void AStateDictCarriesTheHyperparametersUnderPyTorchsNames()
    {
        var optimizer = Sgd();
        var json = new ReduceLROnPlateau(optimizer, mode: "max", thresholdMode: "abs", minLr: new[] { 0.1, 0.2 }).StateDict().ToJson();
        foreach (var part in new[] { "\"mode\":\"max\"", "\"threshold_mode\":\"abs\"", "\"min_lrs\":[0.1,0.2]", "\"factor\":0.1", "\"patience\":10", "\"cooldown\":0", "\"eps\":1E-08" })
            Assert.Contains(part, json);
        Assert.Equal(json, SchedulerStateDict.FromJson(json).ToJson());
    }

    [Fact]
    public void AStateDictLoadsOnlyIntoTheSameKindOverGroupsThatFitAndRejectsBadJson()
    {
        var optimizer = Sgd();
        var step = new StepLR(optimizer, 3);
        step.Step();
        var state = step.StateDict();
        var other = new ExponentialLR(Sgd(), 0.9);
        Assert.Equal("state", Assert.Throws<ArgumentException>(() => other.LoadStateDict(state)).ParamName);
        var fewerGroups = new StepLR(Sgd(0.1), 3);
        Assert.Contains("2 param groups", Assert.Throws<ArgumentException>(() => fewerGroups.LoadStateDict(state)).Message);
        Assert.Equal(0, fewerGroups.LastEpoch);
        Assert.Equal("json", Assert.Throws<ArgumentException>(() => SchedulerStateDict.FromJson("{ not json")).ParamName);
        Assert.Equal("json", Assert.Throws<ArgumentException>(() => SchedulerStateDict.FromJson("[1, 2]")).ParamName);
        Assert.Throws<ArgumentNullException>(() => SchedulerStateDict.FromJson(null!));
        var missing = SchedulerStateDict.FromJson("""{"scheduler": "StepLR", "state": {"last_epoch": 1}}""");
        Assert.Throws<ArgumentException>(() => step.LoadStateDict(missing));
        Assert.Equal(1, step.LastEpoch);
    }

    [Fact]
    public void AStateDictRoundTripsThroughJsonIncludingAnInfiniteBestMetric()
    {
        var scheduler = new ReduceLROnPlateau(Sgd(), patience: 0);
        var json = scheduler.StateDict().ToJson();
        Assert.Contains("\"Infinity\"", json);
        var copy = new ReduceLROnPlateau(Sgd(), patience: 0);
        copy.LoadStateDict(SchedulerStateDict.FromJson(json));
        Assert.Equal(json, copy.StateDict().ToJson());
        Assert.Equal("ReduceLROnPlateau", SchedulerStateDict.FromJson(json).Kind);
    }

    [Fact]
    public void ACompositeStateDictIsCheckedWholeBeforeAnyChildChanges()
    {
        var optimizer = Sgd();
        var sequential = new SequentialLR(optimizer, [new LinearLR(optimizer, 0.5, totalIters: 3), new ExponentialLR(optimizer, 0.9)], [3]);
        for (int k = 0; k < 5; k++) sequential.Step();
        var saved = sequential.StateDict().ToJson();
        var optimizer2 = Sgd();
        var wrong = new SequentialLR(optimizer2, [new LinearLR(optimizer2, 0.5, totalIters: 3), new StepLR(optimizer2, 2)], [3]);
        var before = wrong.StateDict().ToJson();
        Assert.Throws<ArgumentException>(() => wrong.LoadStateDict(SchedulerStateDict.FromJson(saved)));
        Assert.Equal(before, wrong.StateDict().ToJson());
    }
}
