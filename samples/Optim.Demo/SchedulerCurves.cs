using Optim.CSharp;

namespace OptimDemo;

/// <summary>
/// The learning-rate tutorial's experiments: SGD(lr = 0.1, momentum = 0.9) on one weight, 200 epochs of 10 iterations,
/// the rate recorded at the start of each epoch, for each scheduler the tutorial shows, and for the rest of PyTorch's set.
/// </summary>
internal static class SchedulerCurves
{
    private const double Lr = 0.1;
    private const int Epochs = 200, Iterations = 10;

    /// <summary>The curves of the schedulers the tutorial walks through (LambdaLR gives one curve per group).</summary>
    /// <param name="log">Where ReduceLROnPlateau's verbose messages go.</param>
    public static IReadOnlyList<Curve> Tutorial(TextWriter log) =>
    [
        Run("StepLR(50, 0.1)", o => new StepLR(o, stepSize: 50, gamma: 0.1)),
        Run("MultiStepLR([50,125,160]) (= StepLR to epoch 99)", o => new MultiStepLR(o, [50, 125, 160], gamma: 0.1)),
        Run("ExponentialLR(0.95)", o => new ExponentialLR(o, gamma: 0.95)),
        Run("CosineAnnealingLR(50)", o => new CosineAnnealingLR(o, tMax: 50, etaMin: 0)),
        Plateau(log),
        .. LambdaPerGroup(),
    ];

    /// <summary>The curves of the other schedulers of <c>torch.optim.lr_scheduler</c>, and SWALR.</summary>
    public static IReadOnlyList<Curve> Others() =>
    [
        Run("ConstantLR(0.5, 40)", o => new ConstantLR(o, factor: 0.5, totalIters: 40)),
        Run("LinearLR(0.1→1, 50)", o => new LinearLR(o, startFactor: 0.1, endFactor: 1.0, totalIters: 50)),
        Run("PolynomialLR(200, 2)", o => new PolynomialLR(o, totalIters: 200, power: 2.0)),
        Run("MultiplicativeLR(0.98)", o => new MultiplicativeLR(o, _ => 0.98)),
        Run("WarmRestarts(20, 2)", o => new CosineAnnealingWarmRestarts(o, t0: 20, tMult: 2, etaMin: 0.005)),
        Run("CyclicLR(0.01–0.1, 25)", o => new CyclicLR(o, 0.01, 0.1, stepSizeUp: 25, mode: "triangular2")),
        Run("OneCycleLR(0.1, 200)", o => new OneCycleLR(o, 0.1, totalSteps: Epochs)),
        Run("Sequential(Linear→Cosine)", o => new SequentialLR(o,
            [new LinearLR(o, startFactor: 0.1, totalIters: 20), new CosineAnnealingLR(o, tMax: 180)], [20])),
        Run("Chained(Step×Exp)", o => new ChainedScheduler([new StepLR(o, stepSize: 60, gamma: 0.5), new ExponentialLR(o, gamma: 0.99)])),
        Run("SWALR(0.02, 30, cos)", o => new SWALR(o, 0.02, annealEpochs: 30, annealStrategy: "cos")),
    ];

    /// <summary>One scheduler over the tutorial's loop: the rate at the start of each epoch.</summary>
    private static Curve Run(string name, Func<Optimizer, LRScheduler> make)
    {
        var (optimizer, weight) = NewOptimizer();
        var scheduler = make(optimizer);
        var lrs = new double[Epochs];
        for (int epoch = 0; epoch < Epochs; epoch++)
        {
            lrs[epoch] = scheduler.GetLastLr()[0];
            Train(optimizer, weight);
            scheduler.Step();
        }
        return new Curve(name, lrs);
    }

    /// <summary>The tutorial's ReduceLROnPlateau with a loss stuck at 0.5: the rate falls at epochs 12, 33 and 54, to min_lr.</summary>
    private static Curve Plateau(TextWriter log)
    {
        var (optimizer, weight) = NewOptimizer();
        var scheduler = new ReduceLROnPlateau(optimizer, mode: "min", factor: 0.1, patience: 10, cooldown: 10, minLr: 1e-4,
                                              verbose: true, log: log);
        var lrs = new double[Epochs];
        for (int epoch = 0; epoch < Epochs; epoch++)
        {
            lrs[epoch] = optimizer.ParamGroups[0].Lr;
            Train(optimizer, weight);
            scheduler.Step(0.5);
        }
        return new Curve("ReduceLROnPlateau", lrs);
    }

    /// <summary>The tutorial's LambdaLR over two groups: <c>0.1 ** (epoch // 20)</c> and <c>0.95 ** epoch</c>.</summary>
    private static Curve[] LambdaPerGroup()
    {
        var w1 = new Parameter(new float[6 * 3 * 5 * 5], 6, 3, 5, 5);
        var w2 = new Parameter(Enumerable.Repeat(1f, 25).ToArray(), 5, 5);
        var optimizer = new SGD([new ParamGroup([w1]), new ParamGroup([w2])], lr: Lr);
        var scheduler = new LambdaLR(optimizer, [e => Math.Pow(0.1, e / 20), e => Math.Pow(0.95, e)]);
        var lrs = new[] { new double[Epochs], new double[Epochs] };
        for (int epoch = 0; epoch < Epochs; epoch++)
        {
            var last = scheduler.GetLastLr();
            lrs[0][epoch] = last[0];
            lrs[1][epoch] = last[1];
            for (int i = 0; i < Iterations; i++) { optimizer.Step(); optimizer.ZeroGrad(); }
            scheduler.Step();
        }
        return [new Curve("LambdaLR group 0: 0.1^(epoch // 20)", lrs[0]),
                new Curve("LambdaLR group 1: 0.95^epoch (= ExponentialLR)", lrs[1])];
    }

    /// <summary>
    /// The curves in charts of at most <see cref="OptimDemo.Charts.MaxCurves"/>, each with its file name: step decays
    /// and exponential decays on log axes (where 0.1× steps are equal and exponentials are straight), warm-up and
    /// annealing, and cycles and restarts on linear ones. Schedules that coincide (ExponentialLR and LambdaLR's
    /// 0.95^epoch, StepLR and MultiStepLR up to epoch 99) share a chart, drawn in different styles.
    /// </summary>
    /// <param name="tutorial">The curves of <see cref="Tutorial"/>.</param>
    /// <param name="others">The curves of <see cref="Others"/>.</param>
    public static IReadOnlyList<(string Name, Chart Chart)> Charts(IReadOnlyList<Curve> tutorial, IReadOnlyList<Curve> others)
    {
        var all = tutorial.Concat(others).ToDictionary(c => c.Name.Split('(', ':')[0].Trim());
        Chart Make(string title, bool log, params string[] names) =>
            new(title, "Epoch", log ? "Learning rate (log scale)" : "Learning rate", names.Select(n => all[n]).ToList(), LogY: log);
        return
        [
            ("lr_step_decays", Make("Step decays: the rate falls tenfold at milestones, or on a plateau", true,
                "StepLR", "MultiStepLR", "LambdaLR group 0", "ReduceLROnPlateau")),
            ("lr_exponential_decays", Make("Exponential decays: a constant factor every epoch", true,
                "ExponentialLR", "LambdaLR group 1", "MultiplicativeLR")),
            ("lr_warmup_annealing", Make("Warm-up and annealing", false,
                "ConstantLR", "LinearLR", "CosineAnnealingLR", "PolynomialLR", "Sequential", "OneCycleLR")),
            ("lr_cycles_restarts", Make("Cycles, restarts, a chain of two, and SWA's rate", false,
                "WarmRestarts", "CyclicLR", "Chained", "SWALR")),
        ];
    }

    private static (Optimizer, Parameter) NewOptimizer()
    {
        var weight = new Parameter([1f]) { Name = "weights" };
        return (new SGD([weight], lr: Lr, momentum: 0.9), weight);
    }

    /// <summary>One epoch of the tutorial's inner loop: loss = (w − 0)², backward, step, zero_grad.</summary>
    private static void Train(Optimizer optimizer, Parameter weight)
    {
        for (int i = 0; i < Iterations; i++)
        {
            weight.AccumulateGrad([2 * weight.Data[0]]);
            optimizer.Step();
            optimizer.ZeroGrad();
        }
    }
}
