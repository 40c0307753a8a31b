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
    private readonly int _tMax;
    private readonly double _etaMin;

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
}

/// <summary>
/// Cosine annealing with warm restarts (Loshchilov &amp; Hutter, "SGDR", 2017), as
/// <c>torch.optim.lr_scheduler.CosineAnnealingWarmRestarts</c>: the rate falls from <c>initial_lr</c> towards
/// <c>etaMin</c> along a half cosine, <c>etaMin + (initial_lr − etaMin)·(1 + cos(π·tCur/tI))/2</c>, and jumps back
/// after <c>t0</c> epochs, each period <c>tMult</c> times longer than the last. Pure counterpart: <c>Schedule.cosineWarmRestarts</c>.
/// </summary>
/// <remarks>
/// The period and the position in it follow from <see cref="LRScheduler.LastEpoch"/> by integer arithmetic; stepped
/// from the start this is PyTorch's sequence, and a scheduler resumed with <c>lastEpoch</c> places the restarts where an
/// uninterrupted one has them (PyTorch 1.13 wraps the period at most once on resuming). As in PyTorch, verbose
/// messages name the epoch.
/// </remarks>
/// <example><code>var scheduler = new CosineAnnealingWarmRestarts(optimizer, t0: 10, tMult: 2);   // restarts at epochs 10, 30, 70, …</code></example>
public sealed class CosineAnnealingWarmRestarts : LRScheduler
{
    private readonly int _t0, _tMult;
    private readonly double _etaMin;

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
        Initialize(lastEpoch);
    }

    // PyTorch's own step() bypasses the base's: it counts no step, so it never warns about the call order.
    private protected override void Advance(int? epoch) => LastEpoch = epoch ?? LastEpoch + 1;

    private protected override int? PrintedEpoch(int? epoch) => LastEpoch;

    private protected override double[] ComputeLr()
    {
        long tCur = _tMult == 1 ? LastEpoch % _t0 : LastEpoch, tI = _t0;
        while (tCur >= tI)
        {
            tCur -= tI;
            tI *= _tMult;
        }
        return BaseLrs.Select(b => _etaMin + (b - _etaMin) * (1 + Math.Cos(Math.PI * tCur / tI)) / 2).ToArray();
    }
}
