using Optim;

namespace Optim.CSharp;

/// <summary>
/// Cyclical learning rates (Smith, "Cyclical Learning Rates for Training Neural Networks", 2017), as
/// <c>torch.optim.lr_scheduler.CyclicLR</c>: each group's rate climbs from <c>baseLr</c> to <c>maxLr</c> over
/// <c>stepSizeUp</c> batches and back over <c>stepSizeDown</c>, <c>lr = baseLr + (maxLr − baseLr)·position·scale</c>,
/// the amplitude scaled by the mode (<c>"triangular"</c>: 1; <c>"triangular2"</c>: halved every cycle;
/// <c>"exp_range"</c>: <c>gamma^batch</c>) or by <c>scaleFn</c>. Step it after every batch. With
/// <c>cycleMomentum</c>, momentum (or, for optimizers with betas, the first beta, as PyTorch 2.x does) cycles the
/// other way between <c>maxMomentum</c> and <c>baseMomentum</c>. Pure counterparts: <c>Schedule.cyclic</c>,
/// <c>Schedule.cyclicMomentum</c>.
/// </summary>
/// <example><code>var scheduler = new CyclicLR(optimizer, baseLr: 0.01, maxLr: 0.1, stepSizeUp: 2000);</code></example>
public sealed class CyclicLR : LRScheduler
{
    private PerGroup _baseLr, _maxLr, _baseMomentum, _maxMomentum;
    private double _totalSize, _stepRatio, _gamma;
    private string _mode, _scaleMode;
    private readonly Func<double, double>? _scaleFn;
    private string? _momentumKey;
    private readonly List<double> _baseMomentums = new();

    /// <summary>Schedules <paramref name="optimizer"/>: sets every group's rate to <paramref name="baseLr"/> (and momentum to <paramref name="baseMomentum"/>), then the epoch-0 values.</summary>
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="baseLr">The lower rate of the cycle, for all groups or per group (0 or more).</param>
    /// <param name="maxLr">The upper rate, for all groups or per group (0 or more).</param>
    /// <param name="stepSizeUp">Batches in the rising half of a cycle, 1 or more.</param>
    /// <param name="stepSizeDown">Batches in the falling half, 0 or more; null: as <paramref name="stepSizeUp"/>.</param>
    /// <param name="mode"><c>"triangular"</c>, <c>"triangular2"</c> or <c>"exp_range"</c>; ignored when <paramref name="scaleFn"/> is given.</param>
    /// <param name="gamma">The base of <c>"exp_range"</c>'s scaling (0 or more).</param>
    /// <param name="scaleFn">A custom amplitude scale in [0, 1], of the cycle number or of the batch count (see <paramref name="scaleMode"/>); null: <paramref name="mode"/>'s.</param>
    /// <param name="scaleMode"><c>"cycle"</c> or <c>"iterations"</c>: what <paramref name="scaleFn"/> is a function of.</param>
    /// <param name="cycleMomentum">Whether to cycle momentum (or the first beta) inversely to the rate.</param>
    /// <param name="baseMomentum">The lower momentum, at the rate's peak; null: 0.8.</param>
    /// <param name="maxMomentum">The upper momentum, at each cycle's start; null: 0.9.</param>
    /// <param name="lastEpoch">The batch to resume after; -1 starts fresh (groups then need <c>"initial_lr"</c>).</param>
    /// <param name="verbose">Whether to write a message for every rate set.</param>
    /// <param name="log">Where warnings and messages go (see <see cref="LRScheduler"/>).</param>
    /// <exception cref="ArgumentNullException"><paramref name="optimizer"/> is null.</exception>
    /// <exception cref="ArgumentException">
    /// An argument is invalid (the message names it and the value), a per-group array's length is not the number of
    /// groups, or <paramref name="cycleMomentum"/> is set for an optimizer with neither momentum nor betas; nothing was changed.
    /// </exception>
    public CyclicLR(Optimizer optimizer, PerGroup baseLr, PerGroup maxLr, int stepSizeUp = 2000, int? stepSizeDown = null,
                    string mode = "triangular", double gamma = 1.0, Func<double, double>? scaleFn = null, string scaleMode = "cycle",
                    bool cycleMomentum = true, PerGroup? baseMomentum = null, PerGroup? maxMomentum = null,
                    int lastEpoch = -1, bool verbose = false, TextWriter? log = null)
        : base(optimizer, verbose, log)
    {
        int groups = optimizer.ParamGroups.Count;
        _baseLr = baseLr.Check(nameof(baseLr), "base_lr", groups, SchedulerArgs.IsNonNegative, "a finite number, 0 or more");
        _maxLr = maxLr.Check(nameof(maxLr), "max_lr", groups, SchedulerArgs.IsNonNegative, "a finite number, 0 or more");
        double up = SchedulerArgs.AtLeast(stepSizeUp, 1, nameof(stepSizeUp), "step_size_up");
        double down = stepSizeDown is { } d ? SchedulerArgs.AtLeast(d, 0, nameof(stepSizeDown), "step_size_down") : up;
        _totalSize = up + down;
        _stepRatio = up / _totalSize;
        _mode = scaleFn is null ? SchedulerArgs.OneOf(mode, nameof(mode), "mode", "triangular", "triangular2", "exp_range") : mode;
        _gamma = SchedulerArgs.NonNegative(gamma, nameof(gamma), "gamma");
        _scaleFn = scaleFn;
        _scaleMode = scaleFn is null ? (_mode == "exp_range" ? "iterations" : "cycle")
            : SchedulerArgs.OneOf(scaleMode, nameof(scaleMode), "scale_mode", "cycle", "iterations");
        if (cycleMomentum)
        {
            _momentumKey = MomentumKey(optimizer)
                ?? throw new ArgumentException("The optimizer must support momentum (or betas) with cycleMomentum enabled.", nameof(cycleMomentum));
            _baseMomentum = CheckMomentum(baseMomentum ?? 0.8, nameof(baseMomentum), "base_momentum", groups, _momentumKey);
            _maxMomentum = CheckMomentum(maxMomentum ?? 0.9, nameof(maxMomentum), "max_momentum", groups, _momentumKey);
        }
        Initialize(lastEpoch, () =>
        {
            var gs = Optimizer.ParamGroups;
            for (int i = 0; i < gs.Count; i++)
            {
                if (lastEpoch == -1) gs[i].SetComputed("lr", _baseLr[i]);
                if (_momentumKey is { } key)
                {
                    if (lastEpoch == -1) gs[i].SetComputed(key, _baseMomentum[i]);
                    _baseMomentums.Add(ReadMomentum(gs[i], key));
                }
            }
        });
        ReplaceBaseLrs(Enumerable.Range(0, groups).Select(i => _baseLr[i]));
    }

    internal static PerGroup CheckMomentum(PerGroup value, string name, string key, int groups, string momentumKey) =>
        momentumKey == "betas"
            ? value.Check(name, key, groups, x => x >= 0 && x < 1, "in [0, 1) for an optimizer with betas")
            : value.Check(name, key, groups, SchedulerArgs.IsNonNegative, "a finite number, 0 or more");

    private (double Position, double Scale) Position()
    {
        double cycle = Math.Floor(1 + LastEpoch / _totalSize);
        double x = 1.0 + LastEpoch / _totalSize - cycle;
        double position = x <= _stepRatio ? x / _stepRatio : (x - 1) / (_stepRatio - 1);
        double at = _scaleMode == "cycle" ? cycle : LastEpoch;
        double scale = _scaleFn is { } f ? f(at)
            : _mode switch
            {
                "triangular" => 1.0,
                "triangular2" => 1 / Math.Pow(2.0, at - 1),
                _ => Math.Pow(_gamma, at),
            };
        return (position, scale);
    }

    private protected override double[] ComputeLr()
    {
        var (position, scale) = Position();
        return BaseLrs.Select((b, i) => b + (_maxLr[i] - b) * position * scale).ToArray();
    }

    private protected override (string Key, double[] Values)? ComputeMomentum()
    {
        if (_momentumKey is null) return null;
        var (position, scale) = Position();
        return (_momentumKey, _baseMomentums.Select((b, i) => _maxMomentum[i] - (_maxMomentum[i] - b) * position * scale).ToArray());
    }

    private protected override string? Unschedulable(int group) =>
        !_baseLr.Covers(group) ? "baseLr was given per group"
        : !_maxLr.Covers(group) ? "maxLr was given per group"
        : _momentumKey is not null && !_baseMomentum.Covers(group) ? "baseMomentum was given per group"
        : _momentumKey is not null && !_maxMomentum.Covers(group) ? "maxMomentum was given per group"
        : null;

    private protected override double Adopt(int group, ParamGroup g)
    {
        g.SetComputed("lr", _baseLr[group]);
        if (_momentumKey is { } key)
        {
            g.SetComputed(key, _baseMomentum[group]);
            _baseMomentums.Add(_baseMomentum[group]);
        }
        base.Adopt(group, g);
        return _baseLr[group];
    }

    private protected override void ForgetGroups(int count)
    {
        base.ForgetGroups(count);
        if (_baseMomentums.Count > count) _baseMomentums.RemoveRange(count, _baseMomentums.Count - count);
    }

    // PyTorch's keys, and base_lr (the argument, for groups added later; PyTorch's base_lrs are the base's). A scaleFn is
    // not saved: the loading scheduler keeps its own, and with one it keeps its mode, which then does not matter.
    private protected override SchedulerStateDict Save()
    {
        int groups = Optimizer.ParamGroups.Count;
        var state = base.Save()
            .Add("base_lr", _baseLr, groups).Add("max_lrs", _maxLr, groups)
            .Add("total_size", _totalSize).Add("step_ratio", _stepRatio)
            .Add("mode", _mode).Add("gamma", _gamma).Add("scale_mode", _scaleMode)
            .Add("cycle_momentum", _momentumKey is null ? 0 : 1);
        return _momentumKey is null ? state
            : state.Add("base_momentum", _baseMomentum, groups).Add("max_momentums", _maxMomentum, groups).Add("base_momentums", _baseMomentums);
    }

    private protected override Action Load(SchedulerStateDict state)
    {
        var apply = base.Load(state);
        int groups = Optimizer.ParamGroups.Count;
        const string Rate = "a finite number, 0 or more";
        var baseLr = state.Hyper("base_lr", _baseLr, groups, SchedulerArgs.IsNonNegative, Rate);
        var maxLr = state.Hyper("max_lrs", _maxLr, groups, SchedulerArgs.IsNonNegative, Rate);
        double totalSize = state.Hyper("total_size", _totalSize, x => x >= 1 && x <= int.MaxValue && x == Math.Floor(x), "an integer of at least 1");
        double stepRatio = state.Hyper("step_ratio", _stepRatio, x => x > 0 && x <= 1, "in (0, 1]");
        double gamma = state.Hyper("gamma", _gamma, SchedulerArgs.IsNonNegative, Rate);
        string mode = _mode, scaleMode = _scaleMode;
        if (_scaleFn is null)
        {
            mode = state.Hyper("mode", _mode, "triangular", "triangular2", "exp_range");
            scaleMode = mode == "exp_range" ? "iterations" : "cycle";
        }
        else scaleMode = state.Hyper("scale_mode", _scaleMode, "cycle", "iterations");
        bool cycle = state.Hyper("cycle_momentum", _momentumKey is null ? 0 : 1, 0, 1) == 1;
        string? key = cycle ? _momentumKey ?? MomentumKey(Optimizer) : null;
        if (cycle && key is null)
            throw SchedulerStateDict.Bad("'cycle_momentum' in the CyclicLR state dict is 1, but the optimizer has no momentum or betas.");
        PerGroup baseMomentum = _baseMomentum, maxMomentum = _maxMomentum;
        var momentums = new List<double>();
        if (key is not null)
        {
            string rule = key == "betas" ? "in [0, 1) for an optimizer with betas" : Rate;
            Func<double, bool> valid = key == "betas" ? x => x >= 0 && x < 1 : SchedulerArgs.IsNonNegative;
            if (_momentumKey is null && !(state.Has("base_momentum") && state.Has("max_momentums")))
                throw SchedulerStateDict.Bad("The CyclicLR state dict cycles momentum but has no 'base_momentum' and 'max_momentums'.");
            baseMomentum = state.Hyper("base_momentum", _baseMomentum, groups, valid, rule);
            maxMomentum = state.Hyper("max_momentums", _maxMomentum, groups, valid, rule);
            momentums.AddRange(state.List("base_momentums"));
            if (momentums.Count != state.List("base_lrs").Length || momentums.Any(m => !double.IsFinite(m)))
                throw SchedulerStateDict.Bad("The state dict's base_momentums do not match its base_lrs.");
        }
        return () =>
        {
            apply();
            (_baseLr, _maxLr, _totalSize, _stepRatio, _gamma, _mode, _scaleMode) = (baseLr, maxLr, totalSize, stepRatio, gamma, mode, scaleMode);
            (_momentumKey, _baseMomentum, _maxMomentum) = (key, baseMomentum, maxMomentum);
            _baseMomentums.Clear();
            _baseMomentums.AddRange(momentums);
        };
    }
}

/// <summary>
/// The one-cycle policy (Smith &amp; Topin, "Super-Convergence: Very Fast Training of Neural Networks Using Large
/// Learning Rates", 2017), as <c>torch.optim.lr_scheduler.OneCycleLR</c>: each group's rate rises from
/// <c>maxLr/divFactor</c> to <c>maxLr</c> over the first <c>pctStart</c> of <c>totalSteps</c> batches, then falls to
/// <c>maxLr/divFactor/finalDivFactor</c> (with <c>threePhase</c>: back to the start first, as in the paper), along
/// a cosine or a line. Momentum (or the first beta) moves the other way between <c>maxMomentum</c> and
/// <c>baseMomentum</c>. Step it after every batch, <c>totalSteps</c> times; one more step throws, as in PyTorch.
/// The last step extrapolates the final phase, as PyTorch does, except that the rate does not go below 0 (PyTorch's
/// <c>"linear"</c> extrapolation does, by about <c>maxLr/(0.7·totalSteps)</c>).
/// The groups keep the policy's values under <c>"initial_lr"</c>, <c>"max_lr"</c>, <c>"min_lr"</c>,
/// <c>"max_momentum"</c> and <c>"base_momentum"</c>, which it reads every step. Pure counterparts:
/// <c>Schedule.oneCycle</c>, <c>Schedule.oneCycleMomentum</c>.
/// </summary>
/// <example><code>var scheduler = new OneCycleLR(optimizer, maxLr: 0.01, epochs: 10, stepsPerEpoch: batchesPerEpoch);</code></example>
public sealed class OneCycleLR : LRScheduler
{
    private readonly record struct Phase(double EndStep, string StartLr, string EndLr, string StartMomentum, string EndMomentum);

    private PerGroup _maxLr, _baseMomentum, _maxMomentum;
    private int _totalSteps;
    private Phase[] _phases;
    private bool _cosine, _threePhase;
    private double _pctStart, _divFactor, _finalDivFactor;
    private string? _momentumKey;

    /// <summary>Schedules <paramref name="optimizer"/>: records the cycle's values in every group and sets the step-0 rates.</summary>
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="maxLr">The peak rate, for all groups or per group (0 or more).</param>
    /// <param name="totalSteps">Batches in the cycle (1 or more); null: <paramref name="epochs"/> × <paramref name="stepsPerEpoch"/>.</param>
    /// <param name="epochs">Epochs in the cycle, used with <paramref name="stepsPerEpoch"/> when <paramref name="totalSteps"/> is null.</param>
    /// <param name="stepsPerEpoch">Batches per epoch.</param>
    /// <param name="pctStart">The fraction of the cycle spent rising, in [0, 1].</param>
    /// <param name="annealStrategy"><c>"cos"</c> or <c>"linear"</c>.</param>
    /// <param name="cycleMomentum">Whether to cycle momentum (or the first beta) inversely to the rate.</param>
    /// <param name="baseMomentum">The momentum at the rate's peak; null: 0.85.</param>
    /// <param name="maxMomentum">The momentum at the start and the end; null: 0.95.</param>
    /// <param name="divFactor">Initial rate = <paramref name="maxLr"/> / <paramref name="divFactor"/> (more than 0).</param>
    /// <param name="finalDivFactor">Minimum rate = initial rate / <paramref name="finalDivFactor"/> (more than 0).</param>
    /// <param name="threePhase">Whether to fall back to the initial rate before annihilating it (the paper's schedule).</param>
    /// <param name="lastEpoch">The batch to resume after; -1 starts fresh (groups then need the keys above).</param>
    /// <param name="verbose">Whether to write a message for every rate set.</param>
    /// <param name="log">Where warnings and messages go (see <see cref="LRScheduler"/>).</param>
    /// <exception cref="ArgumentNullException"><paramref name="optimizer"/> is null.</exception>
    /// <exception cref="ArgumentException">
    /// An argument is invalid (the message names it and the value), the cycle's length is not given, a phase would
    /// last zero steps, a per-group array's length is not the number of groups, or <paramref name="cycleMomentum"/>
    /// is set for an optimizer with neither momentum nor betas; nothing was changed.
    /// </exception>
    public OneCycleLR(Optimizer optimizer, PerGroup maxLr, int? totalSteps = null, int? epochs = null, int? stepsPerEpoch = null,
                      double pctStart = 0.3, string annealStrategy = "cos", bool cycleMomentum = true,
                      PerGroup? baseMomentum = null, PerGroup? maxMomentum = null, double divFactor = 25, double finalDivFactor = 1e4,
                      bool threePhase = false, int lastEpoch = -1, bool verbose = false, TextWriter? log = null)
        : base(optimizer, verbose, log)
    {
        int groups = optimizer.ParamGroups.Count;
        if (totalSteps is { } total)
            _totalSteps = SchedulerArgs.AtLeast(total, 1, nameof(totalSteps), "total_steps");
        else if (epochs is null && stepsPerEpoch is null)
            throw new ArgumentException("You must define either totalSteps OR (epochs AND stepsPerEpoch).", nameof(totalSteps));
        else
        {
            int e = SchedulerArgs.AtLeast(epochs ?? 0, 1, nameof(epochs), "epochs");
            int s = SchedulerArgs.AtLeast(stepsPerEpoch ?? 0, 1, nameof(stepsPerEpoch), "steps_per_epoch");
            long product = (long)e * s;
            if (product >= int.MaxValue)
                throw new ArgumentOutOfRangeException(nameof(stepsPerEpoch), s,
                    $"epochs × stepsPerEpoch = {e} × {s} = {product} steps, more than a schedule counts (at most {int.MaxValue - 1}).");
            _totalSteps = (int)product;
        }
        _cosine = SchedulerArgs.OneOf(annealStrategy, nameof(annealStrategy), "anneal_strategy", "cos", "linear") == "cos";
        var shape = OneCycleModule.validate(new OneCycle(_totalSteps, pctStart, _cosine ? Anneal.Cos : Anneal.Linear, threePhase, divFactor, finalDivFactor));
        _divFactor = shape.DivFactor;
        _finalDivFactor = shape.FinalDivFactor;
        (_pctStart, _threePhase) = (pctStart, threePhase);
        _phases = Phases(_totalSteps, pctStart, threePhase);
        _maxLr = maxLr.Check(nameof(maxLr), "max_lr", groups, SchedulerArgs.IsNonNegative, "a finite number, 0 or more");
        if (cycleMomentum)
        {
            _momentumKey = MomentumKey(optimizer)
                ?? throw new ArgumentException("The optimizer must support momentum (or betas) with cycleMomentum enabled.", nameof(cycleMomentum));
            _baseMomentum = CyclicLR.CheckMomentum(baseMomentum ?? 0.85, nameof(baseMomentum), "base_momentum", groups, _momentumKey);
            _maxMomentum = CyclicLR.CheckMomentum(maxMomentum ?? 0.95, nameof(maxMomentum), "max_momentum", groups, _momentumKey);
        }
        if (lastEpoch != -1)
        {
            string[] keys = _momentumKey is null ? ["max_lr", "min_lr"] : ["max_lr", "min_lr", "max_momentum", "base_momentum"];
            for (int i = 0; i < groups; i++)
                if (keys.FirstOrDefault(k => !optimizer.ParamGroups[i].ContainsKey(k)) is { } missing)
                    throw new ArgumentException($"param '{missing}' is not specified in param_groups[{i}] when resuming (lastEpoch = {lastEpoch}).", nameof(lastEpoch));
        }
        Initialize(lastEpoch, () =>
        {
            if (lastEpoch != -1) return;
            var gs = Optimizer.ParamGroups;
            for (int i = 0; i < gs.Count; i++) Record(i, gs[i]);
        });
    }

    /// <summary>What the constructor writes into a group: the cycle's rates and momenta, and the starting momentum.</summary>
    private static Phase[] Phases(double t, double pctStart, bool threePhase) =>
        threePhase
            ? [new(pctStart * t - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
               new(2 * pctStart * t - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
               new(t - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
            : [new(pctStart * t - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
               new(t - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")];

    private void Record(int i, ParamGroup g)
    {
        g.SetComputed("initial_lr", _maxLr[i] / _divFactor);
        g.SetComputed("max_lr", _maxLr[i]);
        g.SetComputed("min_lr", g["initial_lr"] / _finalDivFactor);
        if (_momentumKey is { } key)
        {
            g.SetComputed(key, _maxMomentum[i]);
            g.SetComputed("max_momentum", _maxMomentum[i]);
            g.SetComputed("base_momentum", _baseMomentum[i]);
        }
    }

    private double Interpolate(double start, double end, double pct) =>
        _cosine ? end + (start - end) / 2.0 * (Math.Cos(Math.PI * pct) + 1) : (end - start) * pct + start;

    private double[] Compute(Func<Phase, (string Start, string End)> keys)
    {
        int step = LastEpoch;
        if (step > _totalSteps)
            throw new InvalidOperationException($"Tried to step {step + 1} times. The specified number of total steps is {_totalSteps}.");
        return Optimizer.ParamGroups.Select(g =>
        {
            double start = 0;
            for (int i = 0; ; i++)
            {
                var phase = _phases[i];
                if (step <= phase.EndStep || i == _phases.Length - 1)
                {
                    var (from, to) = keys(phase);
                    return Interpolate(g[from], g[to], (step - start) / (phase.EndStep - start));
                }
                start = phase.EndStep;
            }
        }).ToArray();
    }

    // After the last step PyTorch extrapolates the final phase, below zero with "linear"; a negative rate would make the
    // optimizer's next Step and a saved StateDict invalid, so the rate stops at 0 there.
    private protected override double[] ComputeLr() => Compute(p => (p.StartLr, p.EndLr)).Select(lr => Math.Max(0.0, lr)).ToArray();

    private protected override (string Key, double[] Values)? ComputeMomentum() =>
        _momentumKey is { } key ? (key, Compute(p => (p.StartMomentum, p.EndMomentum))) : null;

    private protected override string? Unschedulable(int group) =>
        !_maxLr.Covers(group) ? "maxLr was given per group"
        : _momentumKey is not null && !_baseMomentum.Covers(group) ? "baseMomentum was given per group"
        : _momentumKey is not null && !_maxMomentum.Covers(group) ? "maxMomentum was given per group"
        : null;

    private protected override double Adopt(int group, ParamGroup g)
    {
        Record(group, g);
        return g["initial_lr"];
    }

    // PyTorch keeps the per-group rates and momenta in the groups (the optimizer's state dict carries them) and the
    // phases in _schedule_phases; the facade saves the arguments the phases and later groups come from.
    private protected override SchedulerStateDict Save()
    {
        int groups = Optimizer.ParamGroups.Count;
        var state = base.Save()
            .Add("total_steps", _totalSteps).Add("pct_start", _pctStart).Add("three_phase", _threePhase ? 1 : 0)
            .Add("anneal_strategy", _cosine ? "cos" : "linear").Add("max_lr", _maxLr, groups)
            .Add("div_factor", _divFactor).Add("final_div_factor", _finalDivFactor)
            .Add("cycle_momentum", _momentumKey is null ? 0 : 1);
        return _momentumKey is null ? state : state.Add("base_momentum", _baseMomentum, groups).Add("max_momentum", _maxMomentum, groups);
    }

    private protected override Action Load(SchedulerStateDict state)
    {
        var apply = base.Load(state);
        int groups = Optimizer.ParamGroups.Count;
        int totalSteps = state.Hyper("total_steps", _totalSteps, 1);
        double pctStart = state.Hyper("pct_start", _pctStart, x => x >= 0 && x <= 1, "in [0, 1]");
        bool threePhase = state.Hyper("three_phase", _threePhase ? 1 : 0, 0, 1) == 1;
        bool cosine = state.Hyper("anneal_strategy", _cosine ? "cos" : "linear", "cos", "linear") == "cos";
        var maxLr = state.Hyper("max_lr", _maxLr, groups, SchedulerArgs.IsNonNegative, "a finite number, 0 or more");
        double divFactor = state.Hyper("div_factor", _divFactor, x => x > 0 && double.IsFinite(x), "a finite number more than 0");
        double finalDivFactor = state.Hyper("final_div_factor", _finalDivFactor, x => x > 0 && double.IsFinite(x), "a finite number more than 0");
        try
        {
            OneCycleModule.validate(new OneCycle(totalSteps, pctStart, cosine ? Anneal.Cos : Anneal.Linear, threePhase, divFactor, finalDivFactor));
        }
        catch (ArgumentException e)
        {
            throw SchedulerStateDict.Bad($"The OneCycleLR state dict's total_steps {totalSteps}, pct_start {pctStart} and three_phase {threePhase} do not fit: {e.Message}");
        }
        if (state.Has("last_epoch") && state.Number("last_epoch") > totalSteps)
            throw SchedulerStateDict.Bad($"The OneCycleLR state dict is at step {state.Number("last_epoch")}, past its total_steps {totalSteps}.");
        if (state.Has("last_epoch") && state.Number("last_epoch") > totalSteps)
            throw SchedulerStateDict.Bad($"The OneCycleLR state dict is at step {state.Number("last_epoch")}, past its total_steps {totalSteps}.");
        bool cycle = state.Hyper("cycle_momentum", _momentumKey is null ? 0 : 1, 0, 1) == 1;
        string? key = cycle ? _momentumKey ?? MomentumKey(Optimizer) : null;
        if (cycle && key is null)
            throw SchedulerStateDict.Bad("'cycle_momentum' in the OneCycleLR state dict is 1, but the optimizer has no momentum or betas.");
        PerGroup baseMomentum = _baseMomentum, maxMomentum = _maxMomentum;
        if (key is not null)
        {
            if (_momentumKey is null && !(state.Has("base_momentum") && state.Has("max_momentum")))
                throw SchedulerStateDict.Bad("The OneCycleLR state dict cycles momentum but has no 'base_momentum' and 'max_momentum'.");
            string rule = key == "betas" ? "in [0, 1) for an optimizer with betas" : "a finite number, 0 or more";
            Func<double, bool> valid = key == "betas" ? x => x >= 0 && x < 1 : SchedulerArgs.IsNonNegative;
            baseMomentum = state.Hyper("base_momentum", _baseMomentum, groups, valid, rule);
            maxMomentum = state.Hyper("max_momentum", _maxMomentum, groups, valid, rule);
        }
        return () =>
        {
            apply();
            (_totalSteps, _pctStart, _threePhase, _cosine, _maxLr, _divFactor, _finalDivFactor) =
                (totalSteps, pctStart, threePhase, cosine, maxLr, divFactor, finalDivFactor);
            _phases = Phases(totalSteps, pctStart, threePhase);
            (_momentumKey, _baseMomentum, _maxMomentum) = (key, baseMomentum, maxMomentum);
        };
    }
}
