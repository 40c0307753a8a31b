namespace Optim.CSharp;

/// <summary>
/// Decays each group's learning rate by <c>gamma</c> every <c>stepSize</c> epochs, as
/// <c>torch.optim.lr_scheduler.StepLR</c>: <c>lr = initial_lr · gamma^⌊epoch / stepSize⌋</c> when nothing else
/// changes the rate (chainable form: <c>lr ← lr · gamma</c> at each multiple of <c>stepSize</c>).
/// Pure counterpart: <c>Schedule.step</c>.
/// </summary>
/// <example>
/// <code>
/// var scheduler = new StepLR(optimizer, stepSize: 30, gamma: 0.1);   // 0.05 for epochs 0–29, 0.005 for 30–59, …
/// for (int epoch = 0; epoch &lt; 100; epoch++) { Train(); optimizer.Step(); scheduler.Step(); }
/// </code>
/// </example>
public sealed class StepLR : LRScheduler
{
    private int _stepSize;
    private double _gamma;

    /// <summary>Schedules <paramref name="optimizer"/> and sets the epoch-0 rates.</summary>
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="stepSize">The period of the decay, in epochs (1 or more).</param>
    /// <param name="gamma">The factor (0 or more).</param>
    /// <param name="lastEpoch">The epoch to resume after; -1 starts fresh (groups then need <c>"initial_lr"</c>).</param>
    /// <param name="verbose">Whether to write a message for every rate set.</param>
    /// <param name="log">Where warnings and messages go (see <see cref="LRScheduler"/>).</param>
    /// <exception cref="ArgumentNullException"><paramref name="optimizer"/> is null.</exception>
    /// <exception cref="ArgumentException">An argument is invalid (the message names it and the value); nothing was changed.</exception>
    public StepLR(Optimizer optimizer, int stepSize, double gamma = 0.1, int lastEpoch = -1, bool verbose = false, TextWriter? log = null)
        : base(optimizer, verbose, log)
    {
        _stepSize = SchedulerArgs.AtLeast(stepSize, 1, nameof(stepSize), "step_size");
        _gamma = SchedulerArgs.NonNegative(gamma, nameof(gamma), "gamma");
        Initialize(lastEpoch);
    }

    private protected override double[] ComputeLr() =>
        LastEpoch == 0 || LastEpoch % _stepSize != 0 ? CurrentLrs() : CurrentLrs().Select(lr => lr * _gamma).ToArray();

    private protected override double[] ClosedFormLr() =>
        BaseLrs.Select(b => b * Math.Pow(_gamma, LastEpoch / _stepSize)).ToArray();

    private protected override SchedulerStateDict Save() => base.Save().Add("step_size", _stepSize).Add("gamma", _gamma);

    private protected override Action Load(SchedulerStateDict state)
    {
        var apply = base.Load(state);
        int stepSize = state.Hyper("step_size", _stepSize, 1);
        double gamma = state.Hyper("gamma", _gamma, SchedulerArgs.IsNonNegative, "a finite number, 0 or more");
        return () =>
        {
            apply();
            (_stepSize, _gamma) = (stepSize, gamma);
        };
    }
}

/// <summary>
/// Decays each group's learning rate by <c>gamma</c> at every milestone, as
/// <c>torch.optim.lr_scheduler.MultiStepLR</c>: <c>lr = initial_lr · gamma^k</c>, <c>k</c> the number of milestones
/// reached (a repeated milestone counts as often as it is listed). Pure counterpart: <c>Schedule.multiStep</c>.
/// </summary>
/// <example><code>var scheduler = new MultiStepLR(optimizer, milestones: [50, 125, 160], gamma: 0.1);</code></example>
public sealed class MultiStepLR : LRScheduler
{
    private readonly Dictionary<int, int> _counts = new();
    private int[] _sorted;
    private double _gamma;

    /// <summary>Schedules <paramref name="optimizer"/> and sets the epoch-0 rates.</summary>
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="milestones">The epochs at which to decay (0 or more, in any order).</param>
    /// <param name="gamma">The factor (0 or more).</param>
    /// <param name="lastEpoch">The epoch to resume after; -1 starts fresh (groups then need <c>"initial_lr"</c>).</param>
    /// <param name="verbose">Whether to write a message for every rate set.</param>
    /// <param name="log">Where warnings and messages go (see <see cref="LRScheduler"/>).</param>
    /// <exception cref="ArgumentNullException"><paramref name="optimizer"/> or <paramref name="milestones"/> is null.</exception>
    /// <exception cref="ArgumentException">An argument is invalid (the message names it and the value); nothing was changed.</exception>
    public MultiStepLR(Optimizer optimizer, IEnumerable<int> milestones, double gamma = 0.1, int lastEpoch = -1, bool verbose = false, TextWriter? log = null)
        : base(optimizer, verbose, log)
    {
        ArgumentNullException.ThrowIfNull(milestones);
        _sorted = milestones.Order().ToArray();
        foreach (var m in _sorted) SchedulerArgs.AtLeast(m, 0, nameof(milestones), "milestones");
        Count();
        _gamma = SchedulerArgs.NonNegative(gamma, nameof(gamma), "gamma");
        Initialize(lastEpoch);
    }

    private protected override double[] ComputeLr() =>
        _counts.TryGetValue(LastEpoch, out var k) ? CurrentLrs().Select(lr => lr * Math.Pow(_gamma, k)).ToArray() : CurrentLrs();

    private protected override double[] ClosedFormLr()
    {
        int reached = _sorted.Count(m => m <= LastEpoch);
        return BaseLrs.Select(b => b * Math.Pow(_gamma, reached)).ToArray();
    }

    private void Count()
    {
        _counts.Clear();
        foreach (var m in _sorted) _counts[m] = _counts.GetValueOrDefault(m) + 1;
    }

    // A repeated milestone is listed as often as it counts (PyTorch saves a Counter).
    private protected override SchedulerStateDict Save() => base.Save().Add("milestones", _sorted.Select(m => (double)m)).Add("gamma", _gamma);

    private protected override Action Load(SchedulerStateDict state)
    {
        var apply = base.Load(state);
        var sorted = _sorted;
        if (state.Has("milestones"))
        {
            var list = state.List("milestones");
            if (list.FirstOrDefault(m => !(m >= 0 && m <= int.MaxValue && m == Math.Floor(m)), 0) is var bad && !(bad >= 0 && bad <= int.MaxValue && bad == Math.Floor(bad)))
                throw SchedulerStateDict.Bad($"'milestones' in the MultiStepLR state dict must hold integers of at least 0, but holds {bad}.");
            sorted = list.Select(m => (int)m).Order().ToArray();
        }
        double gamma = state.Hyper("gamma", _gamma, SchedulerArgs.IsNonNegative, "a finite number, 0 or more");
        return () =>
        {
            apply();
            (_sorted, _gamma) = (sorted, gamma);
            Count();
        };
    }
}

/// <summary>
/// Multiplies each group's learning rate by a constant <c>factor</c> until epoch <c>totalIters</c>, as
/// <c>torch.optim.lr_scheduler.ConstantLR</c>: <c>lr = initial_lr · factor</c> for earlier epochs, <c>initial_lr</c>
/// from then on (chainable: <c>lr · factor</c> at epoch 0, <c>lr / factor</c> at <c>totalIters</c>). A simple
/// warmup. Pure counterpart: <c>Schedule.constantFactor</c>.
/// </summary>
/// <example><code>var scheduler = new ConstantLR(optimizer, factor: 0.5, totalIters: 4);   // 0.025 for epochs 0–3, then 0.05</code></example>
public sealed class ConstantLR : LRScheduler
{
    private double _factor;
    private int _totalIters;

    /// <summary>Schedules <paramref name="optimizer"/> and sets the epoch-0 rates.</summary>
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="factor">The factor, in (0, 1] (PyTorch accepts 0, then divides by it at <paramref name="totalIters"/>).</param>
    /// <param name="totalIters">The epochs it applies for, 1 or more (PyTorch accepts 0, then keeps the factor forever, unlike its own closed form).</param>
    /// <param name="lastEpoch">The epoch to resume after; -1 starts fresh (groups then need <c>"initial_lr"</c>).</param>
    /// <param name="verbose">Whether to write a message for every rate set.</param>
    /// <param name="log">Where warnings and messages go (see <see cref="LRScheduler"/>).</param>
    /// <exception cref="ArgumentNullException"><paramref name="optimizer"/> is null.</exception>
    /// <exception cref="ArgumentException">An argument is invalid (the message names it and the value); nothing was changed.</exception>
    public ConstantLR(Optimizer optimizer, double factor = 1.0 / 3, int totalIters = 5, int lastEpoch = -1, bool verbose = false, TextWriter? log = null)
        : base(optimizer, verbose, log)
    {
        _factor = SchedulerArgs.InRange(factor, 0, true, 1, nameof(factor), "factor");
        _totalIters = SchedulerArgs.AtLeast(totalIters, 1, nameof(totalIters), "total_iters");
        Initialize(lastEpoch);
    }

    private protected override double[] ComputeLr()
    {
        if (LastEpoch == 0) return CurrentLrs().Select(lr => lr * _factor).ToArray();
        if (LastEpoch != _totalIters) return CurrentLrs();
        return CurrentLrs().Select(lr => lr * (1.0 / _factor)).ToArray();
    }

    private protected override double[] ClosedFormLr() =>
        BaseLrs.Select(b => b * (_factor + (LastEpoch >= _totalIters ? 1 - _factor : 0.0))).ToArray();

    private protected override SchedulerStateDict Save() => base.Save().Add("factor", _factor).Add("total_iters", _totalIters);

    private protected override Action Load(SchedulerStateDict state)
    {
        var apply = base.Load(state);
        double factor = state.Hyper("factor", _factor, x => x > 0 && x <= 1, "in (0, 1]");
        int totalIters = state.Hyper("total_iters", _totalIters, 1);
        return () =>
        {
            apply();
            (_factor, _totalIters) = (factor, totalIters);
        };
    }
}

/// <summary>
/// Scales each group's learning rate by a factor moving linearly from <c>startFactor</c> to <c>endFactor</c> over
/// <c>totalIters</c> epochs, as <c>torch.optim.lr_scheduler.LinearLR</c>:
/// <c>lr = initial_lr · (start + (end − start) · min(epoch, totalIters) / totalIters)</c>. Linear warmup (or decay).
/// Decaying to an <c>endFactor</c> of 0 ends at exactly 0, where PyTorch's recursion leaves a rounding residue
/// below zero (−3e-18) that the optimizer would reject. Pure counterpart: <c>Schedule.linear</c>.
/// </summary>
/// <example><code>var scheduler = new LinearLR(optimizer, startFactor: 0.5, totalIters: 4);   // 0.025, 0.03125, 0.0375, 0.04375, then 0.05</code></example>
public sealed class LinearLR : LRScheduler
{
    private double _start, _end;
    private int _totalIters;

    /// <summary>Schedules <paramref name="optimizer"/> and sets the epoch-0 rates.</summary>
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="startFactor">The factor at epoch 0, in (0, 1] (as PyTorch 2.x requires; 1.13 accepts 0, then divides by zero).</param>
    /// <param name="endFactor">The factor from epoch <paramref name="totalIters"/> on, in [0, 1].</param>
    /// <param name="totalIters">The ramp's length in epochs, 1 or more.</param>
    /// <param name="lastEpoch">The epoch to resume after; -1 starts fresh (groups then need <c>"initial_lr"</c>).</param>
    /// <param name="verbose">Whether to write a message for every rate set.</param>
    /// <param name="log">Where warnings and messages go (see <see cref="LRScheduler"/>).</param>
    /// <exception cref="ArgumentNullException"><paramref name="optimizer"/> is null.</exception>
    /// <exception cref="ArgumentException">An argument is invalid (the message names it and the value); nothing was changed.</exception>
    public LinearLR(Optimizer optimizer, double startFactor = 1.0 / 3, double endFactor = 1.0, int totalIters = 5,
                    int lastEpoch = -1, bool verbose = false, TextWriter? log = null)
        : base(optimizer, verbose, log)
    {
        _start = SchedulerArgs.InRange(startFactor, 0, true, 1, nameof(startFactor), "start_factor");
        _end = SchedulerArgs.InRange(endFactor, 0, false, 1, nameof(endFactor), "end_factor");
        _totalIters = SchedulerArgs.AtLeast(totalIters, 1, nameof(totalIters), "total_iters");
        Initialize(lastEpoch);
    }

    private protected override double[] ComputeLr()
    {
        if (LastEpoch == 0) return CurrentLrs().Select(lr => lr * _start).ToArray();
        if (LastEpoch > _totalIters) return CurrentLrs();
        // The factor is 0 or more exactly; rounding makes it about -3e-17 where it reaches an endFactor of 0, which PyTorch
        // writes as a negative rate (-3e-18) and which the optimizer would reject.
        double factor = Math.Max(0.0, 1.0 + (_end - _start) / (_totalIters * _start + (LastEpoch - 1) * (_end - _start)));
        return CurrentLrs().Select(lr => lr * factor).ToArray();
    }

    private protected override double[] ClosedFormLr() =>
        BaseLrs.Select(b => b * (_start + (_end - _start) * Math.Min(_totalIters, LastEpoch) / _totalIters)).ToArray();

    private protected override SchedulerStateDict Save() => base.Save().Add("start_factor", _start).Add("end_factor", _end).Add("total_iters", _totalIters);

    private protected override Action Load(SchedulerStateDict state)
    {
        var apply = base.Load(state);
        double start = state.Hyper("start_factor", _start, x => x > 0 && x <= 1, "in (0, 1]");
        double end = state.Hyper("end_factor", _end, x => x >= 0 && x <= 1, "in [0, 1]");
        int totalIters = state.Hyper("total_iters", _totalIters, 1);
        return () =>
        {
            apply();
            (_start, _end, _totalIters) = (start, end, totalIters);
        };
    }
}

/// <summary>
/// Decays each group's learning rate by <c>gamma</c> every epoch, as <c>torch.optim.lr_scheduler.ExponentialLR</c>:
/// <c>lr = initial_lr · gamma^epoch</c>. Pure counterpart: <c>Schedule.exponential</c>.
/// </summary>
/// <example><code>var scheduler = new ExponentialLR(optimizer, gamma: 0.95);</code></example>
public sealed class ExponentialLR : LRScheduler
{
    private double _gamma;

    /// <summary>Schedules <paramref name="optimizer"/> and sets the epoch-0 rates.</summary>
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="gamma">The factor per epoch (0 or more).</param>
    /// <param name="lastEpoch">The epoch to resume after; -1 starts fresh (groups then need <c>"initial_lr"</c>).</param>
    /// <param name="verbose">Whether to write a message for every rate set.</param>
    /// <param name="log">Where warnings and messages go (see <see cref="LRScheduler"/>).</param>
    /// <exception cref="ArgumentNullException"><paramref name="optimizer"/> is null.</exception>
    /// <exception cref="ArgumentException">An argument is invalid (the message names it and the value); nothing was changed.</exception>
    public ExponentialLR(Optimizer optimizer, double gamma, int lastEpoch = -1, bool verbose = false, TextWriter? log = null)
        : base(optimizer, verbose, log)
    {
        _gamma = SchedulerArgs.NonNegative(gamma, nameof(gamma), "gamma");
        Initialize(lastEpoch);
    }

    private protected override double[] ComputeLr() =>
        LastEpoch == 0 ? CurrentLrs() : CurrentLrs().Select(lr => lr * _gamma).ToArray();

    private protected override double[] ClosedFormLr() => BaseLrs.Select(b => b * Math.Pow(_gamma, LastEpoch)).ToArray();

    private protected override SchedulerStateDict Save() => base.Save().Add("gamma", _gamma);

    private protected override Action Load(SchedulerStateDict state)
    {
        var apply = base.Load(state);
        double gamma = state.Hyper("gamma", _gamma, SchedulerArgs.IsNonNegative, "a finite number, 0 or more");
        return () =>
        {
            apply();
            _gamma = gamma;
        };
    }
}

/// <summary>
/// Decays each group's learning rate to 0 over <c>totalIters</c> epochs along a polynomial, as
/// <c>torch.optim.lr_scheduler.PolynomialLR</c>: <c>lr = initial_lr · (1 − min(epoch, totalIters) / totalIters)^power</c>.
/// Pure counterpart: <c>Schedule.polynomial</c>.
/// </summary>
/// <example><code>var scheduler = new PolynomialLR(optimizer, totalIters: 4, power: 1.0);   // 0.001, 0.00075, 0.0005, 0.00025, then 0</code></example>
public sealed class PolynomialLR : LRScheduler
{
    private int _totalIters;
    private double _power;

    /// <summary>Schedules <paramref name="optimizer"/> and sets the epoch-0 rates.</summary>
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="totalIters">The decay's length in epochs, 1 or more.</param>
    /// <param name="power">The polynomial's power, 0 or more.</param>
    /// <param name="lastEpoch">The epoch to resume after; -1 starts fresh (groups then need <c>"initial_lr"</c>).</param>
    /// <param name="verbose">Whether to write a message for every rate set.</param>
    /// <param name="log">Where warnings and messages go (see <see cref="LRScheduler"/>).</param>
    /// <exception cref="ArgumentNullException"><paramref name="optimizer"/> is null.</exception>
    /// <exception cref="ArgumentException">An argument is invalid (the message names it and the value); nothing was changed.</exception>
    public PolynomialLR(Optimizer optimizer, int totalIters = 5, double power = 1.0, int lastEpoch = -1, bool verbose = false, TextWriter? log = null)
        : base(optimizer, verbose, log)
    {
        _totalIters = SchedulerArgs.AtLeast(totalIters, 1, nameof(totalIters), "total_iters");
        _power = SchedulerArgs.NonNegative(power, nameof(power), "power");
        Initialize(lastEpoch);
    }

    private protected override double[] ComputeLr()
    {
        if (LastEpoch == 0 || LastEpoch > _totalIters) return CurrentLrs();
        double decay = Math.Pow((1.0 - (double)LastEpoch / _totalIters) / (1.0 - (double)(LastEpoch - 1) / _totalIters), _power);
        return CurrentLrs().Select(lr => lr * decay).ToArray();
    }

    private protected override double[] ClosedFormLr() =>
        BaseLrs.Select(b => b * Math.Pow(1.0 - (double)Math.Min(_totalIters, LastEpoch) / _totalIters, _power)).ToArray();

    private protected override SchedulerStateDict Save() => base.Save().Add("total_iters", _totalIters).Add("power", _power);

    private protected override Action Load(SchedulerStateDict state)
    {
        var apply = base.Load(state);
        int totalIters = state.Hyper("total_iters", _totalIters, 1);
        double power = state.Hyper("power", _power, SchedulerArgs.IsNonNegative, "a finite number, 0 or more");
        return () =>
        {
            apply();
            (_totalIters, _power) = (totalIters, power);
        };
    }
}
