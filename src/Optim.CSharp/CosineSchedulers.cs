namespace Optim.CSharp;

/// <summary>
/// Cosine annealing (Loshchilov &amp; Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", 2017) without
/// restarts, as <c>torch.optim.lr_scheduler.CosineAnnealingLR</c>:
/// <c>lr = etaMin + (initial_lr − etaMin) · (1 + cos(π · epoch / tMax)) / 2</c> when nothing else changes the rate.
/// It uses PyTorch's recursive form, <c>lr ← etaMin + (lr − etaMin) · (1 + cos(π·e/tMax)) / (1 + cos(π·(e−1)/tMax))</c>,
/// so that it composes with other schedulers; past <c>tMax</c> the rate rises again, as in PyTorch.
/// Pure counterpart: <c>Schedule.cosineAnnealing</c>.
/// </summary>
/// <example><code>var scheduler = new CosineAnnealingLR(optimizer, tMax: 50, etaMin: 0);</code></example>
public sealed class CosineAnnealingLR : LRScheduler
{
    private int _tMax;
    private double _etaMin;

    /// <summary>Schedules <paramref name="optimizer"/> and sets the epoch-0 rates.</summary>
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="tMax">Epochs from the initial rate down to <paramref name="etaMin"/> (PyTorch's <c>T_max</c>), 1 or more.</param>
    /// <param name="etaMin">The minimum rate, 0 or more.</param>
    /// <param name="lastEpoch">The epoch to resume after; -1 starts fresh (groups then need <c>"initial_lr"</c>).</param>
    /// <param name="verbose">Whether to write a message for every rate set.</param>
    /// <param name="log">Where warnings and messages go (see <see cref="LRScheduler"/>).</param>
    /// <exception cref="ArgumentNullException"><paramref name="optimizer"/> is null.</exception>
    /// <exception cref="ArgumentException">An argument is invalid (the message names it and the value); nothing was changed.</exception>
    public CosineAnnealingLR(Optimizer optimizer, int tMax, double etaMin = 0, int lastEpoch = -1, bool verbose = false, TextWriter? log = null)
        : base(optimizer, verbose, log)
    {
        _tMax = SchedulerArgs.AtLeast(tMax, 1, nameof(tMax), "T_max");
        _etaMin = SchedulerArgs.NonNegative(etaMin, nameof(etaMin), "eta_min");
        Initialize(lastEpoch);
    }

    private protected override double[] ComputeLr()
    {
        int e = LastEpoch;
        if (e == 0) return CurrentLrs();
        if (StepCount == 1 && e > 0)
            return BaseLrs.Select(b => _etaMin + (b - _etaMin) * (1 + Math.Cos(e * Math.PI / _tMax)) / 2).ToArray();
        // Where the previous rate sat at the minimum the ratio below is 0/0; PyTorch steps off the minimum additively.
        // C#'s % keeps the dividend's sign where Python's does not, but both are 0 for the same multiples.
        if ((e - 1 - _tMax) % (2 * _tMax) == 0)
            return CurrentLrs().Zip(BaseLrs, (lr, b) => lr + (b - _etaMin) * (1 - Math.Cos(Math.PI / _tMax)) / 2).ToArray();
        double ratio = (1 + Math.Cos(Math.PI * e / _tMax)) / (1 + Math.Cos(Math.PI * (e - 1) / _tMax));
        return CurrentLrs().Select(lr => ratio * (lr - _etaMin) + _etaMin).ToArray();
    }

    private protected override double[] ClosedFormLr() =>
        BaseLrs.Select(b => _etaMin + (b - _etaMin) * (1 + Math.Cos(Math.PI * LastEpoch / _tMax)) / 2).ToArray();

    private protected override SchedulerStateDict Save() => base.Save().Add("T_max", _tMax).Add("eta_min", _etaMin);

    private protected override Action Load(SchedulerStateDict state)
    {
        var apply = base.Load(state);
        int tMax = state.Hyper("T_max", _tMax, 1);
        double etaMin = state.Hyper("eta_min", _etaMin, SchedulerArgs.IsNonNegative, "a finite number, 0 or more");
        return () =>
        {
            apply();
            (_tMax, _etaMin) = (tMax, etaMin);
        };
    }
}

/// <summary>
/// Cosine annealing with warm restarts (Loshchilov &amp; Hutter, "SGDR", 2017), as
/// <c>torch.optim.lr_scheduler.CosineAnnealingWarmRestarts</c>: the rate falls from <c>initial_lr</c> towards
/// <c>etaMin</c> along a half cosine, <c>etaMin + (initial_lr − etaMin)·(1 + cos(π·tCur/tI))/2</c>, and jumps back
/// after <c>t0</c> epochs, each period <c>tMult</c> times longer than the last. Pure counterpart: <c>Schedule.cosineWarmRestarts</c>.
/// </summary>
/// <remarks>
/// The scheduler keeps PyTorch's <c>T_cur</c> (the position in the period, fractional after a fractional
/// <see cref="Step(double)"/>) and <c>T_i</c> (the period); every <see cref="LRScheduler.Step()"/> adds 1 to the position and
/// restarts at the period's end. Stepped from the start this is PyTorch's sequence, and a scheduler resumed with
/// <c>lastEpoch</c> places the restarts where an uninterrupted one has them (PyTorch 1.13 wraps the period at most
/// once on resuming). As in PyTorch, verbose messages name the epoch.
/// </remarks>
/// <example><code>var scheduler = new CosineAnnealingWarmRestarts(optimizer, t0: 10, tMult: 2);   // restarts at epochs 10, 30, 70, …</code></example>
public sealed class CosineAnnealingWarmRestarts : LRScheduler
{
    private int _t0, _tMult;
    private double _etaMin;
    private double _tCur, _printed;
    private long _tI;
    private (double, long) _before;

    /// <summary>Schedules <paramref name="optimizer"/> and sets the epoch-0 rates.</summary>
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="t0">The first period in epochs (PyTorch's <c>T_0</c>), 1 or more.</param>
    /// <param name="tMult">The growth of each next period (<c>T_mult</c>), 1 or more.</param>
    /// <param name="etaMin">The minimum rate, 0 or more.</param>
    /// <param name="lastEpoch">The epoch to resume after; -1 starts fresh (groups then need <c>"initial_lr"</c>).</param>
    /// <param name="verbose">Whether to write a message for every rate set.</param>
    /// <param name="log">Where warnings and messages go (see <see cref="LRScheduler"/>).</param>
    /// <exception cref="ArgumentNullException"><paramref name="optimizer"/> is null.</exception>
    /// <exception cref="ArgumentException">An argument is invalid (the message names it and the value); nothing was changed.</exception>
    public CosineAnnealingWarmRestarts(Optimizer optimizer, int t0, int tMult = 1, double etaMin = 0, int lastEpoch = -1,
                                       bool verbose = false, TextWriter? log = null)
        : base(optimizer, verbose, log)
    {
        _t0 = SchedulerArgs.AtLeast(t0, 1, nameof(t0), "T_0");
        _tMult = SchedulerArgs.AtLeast(tMult, 1, nameof(tMult), "T_mult");
        _etaMin = SchedulerArgs.NonNegative(etaMin, nameof(etaMin), "eta_min");
        (_tCur, _tI) = Position(Math.Max(0, lastEpoch));
        Initialize(lastEpoch);
    }

    /// <summary>
    /// Sets every group's rate for a possibly fractional <paramref name="epoch"/>, as PyTorch's
    /// <c>CosineAnnealingWarmRestarts.step(epoch)</c>: call <c>scheduler.Step(epoch + i / (double)iters)</c> after batch
    /// <c>i</c> of <c>iters</c> to anneal within epochs. The position in the period follows from
    /// <paramref name="epoch"/> alone (with <c>tMult</c> &gt; 1, the period is <c>t0·tMult^n</c>,
    /// <c>n = ⌊log_tMult(epoch/t0·(tMult − 1) + 1)⌋</c>), <see cref="LRScheduler.LastEpoch"/> becomes
    /// <c>⌊epoch⌋</c>, and a later <see cref="LRScheduler.Step()"/> goes on one epoch from there. Epochs may go back. Unlike the
    /// other schedulers' <c>Step(epoch)</c>, this is not deprecated in PyTorch and writes no warning. Verbose messages
    /// show a fractional epoch as <c>"%.2f"</c> (<c>"Epoch 2.50: …"</c>) and an integral one as <c>"%.5d"</c>.
    /// </summary>
    /// <param name="epoch">The epoch, finite and 0 or more.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epoch"/> is negative, NaN, infinite or past <see cref="int.MaxValue"/> (PyTorch raises <c>ValueError</c>); nothing was changed.</exception>
    public void Step(double epoch)
    {
        CheckEpoch(epoch, nameof(epoch));
        StepAt(epoch);
    }

    /// <summary>The same as <see cref="Step(double)"/>: PyTorch's warm restarts take an epoch without deprecation.</summary>
    /// <param name="epoch">The epoch, 0 or more.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epoch"/> is negative; nothing was changed.</exception>
    public override void Step(int epoch) => Step((double)epoch);

    // The period and the position in it where an uninterrupted run from epoch 0 has them after `epoch` steps.
    private (double TCur, long TI) Position(int epoch)
    {
        long tCur = _tMult == 1 ? epoch % _t0 : epoch, tI = _t0;
        while (tCur >= tI)
        {
            tCur -= tI;
            tI *= _tMult;
        }
        return (tCur, tI);
    }

    // PyTorch's own step() bypasses the base's: it counts no step, so it never warns about the call order. Its
    // arithmetic is copied as it is (Python's math.log(x, b) is log(x)/log(b)), so that the same epoch gives the same rate.
    private protected override void Advance(double? epoch)
    {
        _before = (_tCur, _tI);
        if (epoch is null && LastEpoch < 0) epoch = 0;
        double e;
        if (epoch is null)
        {
            e = LastEpoch + 1;
            _tCur += 1;
            if (_tCur >= _tI)
            {
                _tCur -= _tI;
                _tI *= _tMult;
            }
        }
        else
        {
            e = epoch.Value;
            if (e < _t0)
            {
                _tI = _t0;
                _tCur = e;
            }
            else if (_tMult == 1) _tCur = e % _t0;
            else
            {
                int n = (int)(Math.Log(e / _t0 * (_tMult - 1) + 1) / Math.Log(_tMult));
                long power = 1;
                for (int k = 0; k < n; k++) power = checked(power * _tMult);
                _tCur = e - (double)checked(_t0 * (power - 1)) / (_tMult - 1);
                _tI = checked(_t0 * power);
            }
        }
        _printed = e;
        LastEpoch = (int)Math.Floor(e);
    }

    private protected override void AbandonAdvance() => (_tCur, _tI) = _before;

    private protected override string? PrintedEpoch(double? epoch) => FormatEpoch(_printed);

    private protected override double[] ComputeLr() =>
        BaseLrs.Select(b => _etaMin + (b - _etaMin) * (1 + Math.Cos(Math.PI * _tCur / _tI)) / 2).ToArray();

    private protected override SchedulerStateDict Save() =>
        base.Save().Add("T_0", _t0).Add("T_mult", _tMult).Add("eta_min", _etaMin).Add("T_cur", _tCur).Add("T_i", _tI);

    // State dicts written before T_cur and T_i were saved hold only the epoch; the position then follows from it.
    private protected override Action Load(SchedulerStateDict state)
    {
        var apply = base.Load(state);
        int t0 = state.Hyper("T_0", _t0, 1), tMult = state.Hyper("T_mult", _tMult, 1);
        double etaMin = state.Hyper("eta_min", _etaMin, SchedulerArgs.IsNonNegative, "a finite number, 0 or more");
        double tCur;
        long tI;
        if (state.Has("T_cur") || state.Has("T_i"))
        {
            tCur = state.Number("T_cur");
            tI = state.Integer("T_i", 1);
            if (!(tCur >= 0 && double.IsFinite(tCur)))
                throw SchedulerStateDict.Bad($"'T_cur' in the {Kind} state dict must be a finite number, 0 or more, but is {tCur}.");
        }
        else (tCur, tI) = Position(Math.Max(0, state.Integer("last_epoch", -1)));
        return () =>
        {
            apply();
            (_t0, _tMult, _etaMin, _tCur, _tI) = (t0, tMult, etaMin, tCur, tI);
        };
    }
}
