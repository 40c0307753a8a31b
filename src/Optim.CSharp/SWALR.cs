namespace Optim.CSharp;

/// <summary>
/// Anneals each group's learning rate to a fixed value for stochastic weight averaging (Izmailov et al.,
/// "Averaging Weights Leads to Wider Optima and Better Generalization", 2018), as
/// <c>torch.optim.swa_utils.SWALR</c>: over <c>annealEpochs</c> steps the rate moves from the one the group holds
/// when SWALR is built to <c>swaLr</c>, <c>lr = swaLr·α + lr₀·(1 − α)</c> with <c>α = (1 − cos(π·t))/2</c>
/// (<c>"cos"</c>) or <c>α = t</c> (<c>"linear"</c>), <c>t = min(1, step/annealEpochs)</c>; then it stays at
/// <c>swaLr</c>. Typically built late in training, after another scheduler has run. The groups keep
/// <c>"swa_lr"</c>. Pure counterpart: <c>Schedule.swa</c>.
/// </summary>
/// <example>
/// <code>
/// var scheduler = new CosineAnnealingLR(optimizer, tMax: 100);
/// SWALR? swa = null;
/// for (int epoch = 0; epoch &lt; 300; epoch++)
/// {
///     Train(); optimizer.Step();
///     if (epoch &gt;= 160) (swa ??= new SWALR(optimizer, swaLr: 0.05)).Step(); else scheduler.Step();
/// }
/// </code>
/// </example>
public sealed class SWALR : LRScheduler
{
    private PerGroup _swaLr;
    private int _annealEpochs;
    private bool _cosine;

    /// <summary>Schedules <paramref name="optimizer"/>: records <c>"swa_lr"</c> in every group and takes the first (rate-keeping) step.</summary>
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="swaLr">The rate to settle at, for all groups or per group (0 or more).</param>
    /// <param name="annealEpochs">Steps of the transition, 0 or more (0: <paramref name="swaLr"/> from the first step).</param>
    /// <param name="annealStrategy"><c>"cos"</c> or <c>"linear"</c>.</param>
    /// <param name="lastEpoch">The epoch to resume after; -1 starts fresh (groups then need <c>"initial_lr"</c>).</param>
    /// <param name="log">Where warnings go (see <see cref="LRScheduler"/>); PyTorch's SWALR has no verbose mode.</param>
    /// <exception cref="ArgumentNullException"><paramref name="optimizer"/> is null.</exception>
    /// <exception cref="ArgumentException">An argument is invalid (the message names it and the value), or a per-group array's length is not the number of groups; nothing was changed.</exception>
    public SWALR(Optimizer optimizer, PerGroup swaLr, int annealEpochs = 10, string annealStrategy = "cos", int lastEpoch = -1, TextWriter? log = null)
        : base(optimizer, false, log)
    {
        _swaLr = swaLr.Check(nameof(swaLr), "swa_lr", optimizer.ParamGroups.Count, SchedulerArgs.IsNonNegative, "a finite number, 0 or more");
        _cosine = SchedulerArgs.OneOf(annealStrategy, nameof(annealStrategy), "anneal_strategy", "cos", "linear") == "cos";
        _annealEpochs = SchedulerArgs.AtLeast(annealEpochs, 0, nameof(annealEpochs), "anneal_epochs");
        Initialize(lastEpoch, () =>
        {
            var gs = Optimizer.ParamGroups;
            for (int i = 0; i < gs.Count; i++) gs[i].SetComputed("swa_lr", _swaLr[i]);
        });
    }

    private double Alpha(double t) => _cosine ? (1 - Math.Cos(Math.PI * t)) / 2 : t;

    // PyTorch counts SWALR's progress by its own steps, not by last_epoch, and recovers the starting rate from the
    // current one: prev = (lr − α_prev·swa) / (1 − α_prev), so the rate follows the closed form without storing lr₀.
    private protected override double[] ComputeLr()
    {
        int step = StepCount - 1;
        if (_annealEpochs == 0) step = Math.Max(1, step);
        double prevAlpha = Alpha(Math.Max(0, Math.Min(1, (step - 1) / (double)Math.Max(1, _annealEpochs))));
        double alpha = Alpha(Math.Max(0, Math.Min(1, step / (double)Math.Max(1, _annealEpochs))));
        return Optimizer.ParamGroups.Select(g =>
        {
            double swa = g["swa_lr"];
            double prev = prevAlpha == 1 ? swa : (g.Lr - prevAlpha * swa) / (1 - prevAlpha);
            return swa * alpha + prev * (1 - alpha);
        }).ToArray();
    }

    private protected override string? Unschedulable(int group) => _swaLr.Covers(group) ? null : "swaLr was given per group";

    private protected override double Adopt(int group, ParamGroup g)
    {
        g.SetComputed("swa_lr", _swaLr[group]);
        return base.Adopt(group, g);
    }

    // PyTorch keeps swa_lr in the groups (saved with the optimizer) and anneal_func as a method; the facade saves
    // swaLr too, so that a group added later gets the saved value.
    private protected override SchedulerStateDict Save() =>
        base.Save()
            .Add("swa_lrs", _swaLr, Optimizer.ParamGroups.Count)
            .Add("anneal_epochs", _annealEpochs)
            .Add("anneal_strategy", _cosine ? "cos" : "linear");

    private protected override Action Load(SchedulerStateDict state)
    {
        var apply = base.Load(state);
        var swaLr = state.Hyper("swa_lrs", _swaLr, Optimizer.ParamGroups.Count, SchedulerArgs.IsNonNegative, "a finite number, 0 or more");
        int annealEpochs = state.Hyper("anneal_epochs", _annealEpochs, 0);
        bool cosine = state.Hyper("anneal_strategy", _cosine ? "cos" : "linear", "cos", "linear") == "cos";
        return () =>
        {
            apply();
            (_swaLr, _annealEpochs, _cosine) = (swaLr, annealEpochs, cosine);
        };
    }
}
