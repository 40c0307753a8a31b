using System.Globalization;
using Optim;

namespace Optim.CSharp;

/// <summary>
/// Reduces every group's learning rate when a metric stops improving, as
/// <c>torch.optim.lr_scheduler.ReduceLROnPlateau</c>: after more than <c>patience</c> epochs without an improvement
/// beyond <c>threshold</c>, <c>lr ← max(lr·factor, minLr)</c> (skipped when that changes it by <c>eps</c> or less),
/// then <c>cooldown</c> epochs pass before bad epochs count again. Call <see cref="Step(double)"/> with the
/// metric (a validation loss, say) once per epoch. The decision is the core's <c>Plateau.observe</c>, an
/// explicit state transition.
/// </summary>
/// <remarks>
/// It does not set rates when built, and <see cref="LRScheduler.BaseLrs"/> is empty. A group added after it was
/// built is reduced with the others from the next reduction on; with a per-group <c>minLr</c> it cannot be (its
/// floor is unknown), and <see cref="Step(double)"/> throws <see cref="InvalidOperationException"/>, as PyTorch 2.6
/// does. With <c>verbose</c>, each reduction writes PyTorch's message, e.g.
/// "Epoch 00012: reducing learning rate of group 0 to 1.0000e-02."
/// </remarks>
/// <example>
/// Patience 10, cooldown 10, a floor of 1e-4; with a constant loss the rate falls at epochs 12, 33 and 54:
/// <code>
/// var scheduler = new ReduceLROnPlateau(optimizer, mode: "min", factor: 0.1, patience: 10, cooldown: 10, minLr: 1e-4, verbose: true, log: Console.Out);
/// for (int epoch = 0; epoch &lt; 200; epoch++) { Train(); optimizer.Step(); scheduler.Step(Validate()); }
/// </code>
/// </example>
public sealed class ReduceLROnPlateau : LRScheduler
{
    private PlateauOptions _options;
    private PerGroup _minLr;
    private PlateauState _state;

    /// <summary>Watches a metric for <paramref name="optimizer"/>'s groups; builds no rates until the first <see cref="Step(double)"/>.</summary>
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="mode"><c>"min"</c>: reduce when the metric stops falling; <c>"max"</c>: when it stops rising.</param>
    /// <param name="factor">The reduction, <c>lr·factor</c>, in [0, 1).</param>
    /// <param name="patience">Epochs without improvement tolerated before reducing (0 or more).</param>
    /// <param name="threshold">The improvement that counts (0 or more).</param>
    /// <param name="thresholdMode"><c>"rel"</c>: better than <c>best·(1 ∓ threshold)</c>; <c>"abs"</c>: than <c>best ∓ threshold</c>.</param>
    /// <param name="cooldown">Epochs after a reduction during which bad epochs are not counted (0 or more).</param>
    /// <param name="minLr">The floor, for all groups or per group (0 or more); null: 0.</param>
    /// <param name="eps">Reductions smaller than this are skipped (0 or more).</param>
    /// <param name="verbose">Whether to write a message for every reduction.</param>
    /// <param name="log">Where messages go (see <see cref="LRScheduler"/>).</param>
    /// <exception cref="ArgumentNullException"><paramref name="optimizer"/> is null.</exception>
    /// <exception cref="ArgumentException">An argument is invalid (the message names it and the value), or a per-group array's length is not the number of groups.</exception>
    public ReduceLROnPlateau(Optimizer optimizer, string mode = "min", double factor = 0.1, int patience = 10, double threshold = 1e-4,
                             string thresholdMode = "rel", int cooldown = 0, PerGroup? minLr = null, double eps = 1e-8,
                             bool verbose = false, TextWriter? log = null)
        : base(optimizer, verbose, log)
    {
        var m = SchedulerArgs.OneOf(mode, nameof(mode), "mode", "min", "max") == "min" ? PlateauMode.Min : PlateauMode.Max;
        var tm = SchedulerArgs.OneOf(thresholdMode, nameof(thresholdMode), "threshold_mode", "rel", "abs") == "rel" ? ThresholdMode.Rel : ThresholdMode.Abs;
        _options = Plateau.validate(new PlateauOptions(m, factor, patience, threshold, tm, cooldown, 0.0, eps));
        _minLr = (minLr ?? 0.0).Check(nameof(minLr), "min_lr", optimizer.ParamGroups.Count, SchedulerArgs.IsNonNegative, "a finite number, 0 or more");
        _state = Plateau.init(_options, 0.0);
    }

    internal override bool CanBeSequenced => false;

    /// <summary>Not available: this scheduler needs the metric.</summary>
    /// <exception cref="InvalidOperationException">Always; call <see cref="Step(double)"/>.</exception>
    public override void Step() =>
        throw new InvalidOperationException("ReduceLROnPlateau needs the monitored metric: call Step(metric).");

    /// <summary>Not available: this scheduler needs the metric.</summary>
    /// <param name="epoch">Ignored.</param>
    /// <exception cref="InvalidOperationException">Always; call <see cref="Step(double, int)"/>.</exception>
    public override void Step(int epoch) =>
        throw new InvalidOperationException($"ReduceLROnPlateau needs the monitored metric: call Step(metric, {epoch}).");

    /// <summary>Takes one epoch's metric and reduces the rates if it has plateaued.</summary>
    /// <param name="metric">The monitored value; NaN never counts as an improvement.</param>
    /// <exception cref="InvalidOperationException">A group was added after this scheduler was built and <c>minLr</c> was given per group; nothing was changed.</exception>
    public void Step(double metric) => Observe(metric, null);

    /// <summary>
    /// Takes a metric for <paramref name="epoch"/>, as PyTorch's deprecated <c>step(metrics, epoch)</c>: the decision is
    /// <see cref="Step(double)"/>'s (the epoch does not enter it), <see cref="LRScheduler.LastEpoch"/> becomes
    /// <paramref name="epoch"/>, and verbose messages name it. The first call writes PyTorch's deprecation warning to
    /// the <c>log</c>, once per scheduler.
    /// </summary>
    /// <param name="metric">The monitored value; NaN never counts as an improvement.</param>
    /// <param name="epoch">The epoch, 0 or more (PyTorch also takes negative ones).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epoch"/> is negative; nothing was changed.</exception>
    /// <exception cref="InvalidOperationException">A group was added after this scheduler was built and <c>minLr</c> was given per group; nothing was changed.</exception>
    public void Step(double metric, int epoch)
    {
        CheckEpoch(epoch, nameof(epoch));
        Observe(metric, epoch);
    }

    private void Observe(double metric, int? epoch)
    {
        var groups = Optimizer.ParamGroups;
        for (int i = 0; i < groups.Count; i++)
            if (!_minLr.Covers(i))
                throw new InvalidOperationException(
                    $"Param group {i} was added to the optimizer after this ReduceLROnPlateau was created, but minLr was given per group; nothing was changed.");
        if (epoch is not null) WarnEpochDeprecated();
        var (reduce, next) = Plateau.observe(_options, _state, metric);
        _state = epoch is { } e ? new PlateauState(next.Lr, next.Best, next.NumBadEpochs, next.CooldownCounter, e) : next;
        LastEpoch = (int)_state.LastEpoch;
        if (reduce)
            for (int i = 0; i < groups.Count; i++)
            {
                double old = groups[i].Lr;
                double lr = Plateau.reduce(_options.Factor, _minLr[i], _options.Eps, old);
                if (lr == old) continue;
                groups[i].SetComputed("lr", lr);
                Print($"Epoch {LastEpoch.ToString("D5", CultureInfo.InvariantCulture)}: reducing learning rate of group {i} to {Sci(lr)}.");
            }
        SetLastLr(CurrentLrs());
    }

    private protected override SchedulerStateDict Save() =>
        SchedulerStateDict.Create(Kind)
            .Add("last_epoch", LastEpoch)
            .Add("best", _state.Best)
            .Add("num_bad_epochs", _state.NumBadEpochs)
            .Add("cooldown_counter", _state.CooldownCounter)
            .Add("last_lr", GetLastLr())
            .Add("mode", _options.Mode == PlateauMode.Min ? "min" : "max")
            .Add("factor", _options.Factor)
            .Add("patience", _options.Patience)
            .Add("threshold", _options.Threshold)
            .Add("threshold_mode", _options.ThresholdMode == ThresholdMode.Rel ? "rel" : "abs")
            .Add("cooldown", _options.Cooldown)
            .Add("min_lrs", _minLr, Optimizer.ParamGroups.Count)
            .Add("eps", _options.Eps);

    private protected override Action Load(SchedulerStateDict state)
    {
        int lastEpoch = state.Integer("last_epoch", 0);
        double best = state.Number("best");
        int bad = state.Integer("num_bad_epochs", 0), cooldown = state.Integer("cooldown_counter", 0);
        var lastLr = state.List("last_lr");
        if (double.IsNaN(best)) throw SchedulerStateDict.Bad("The state dict's best metric is NaN.");
        var o = _options;
        var options = new PlateauOptions(
            state.Hyper("mode", o.Mode == PlateauMode.Min ? "min" : "max", "min", "max") == "min" ? PlateauMode.Min : PlateauMode.Max,
            state.Hyper("factor", o.Factor, x => x >= 0 && x < 1, "in [0, 1)"),
            state.Hyper("patience", o.Patience, 0),
            state.Hyper("threshold", o.Threshold, SchedulerArgs.IsNonNegative, "a finite number, 0 or more"),
            state.Hyper("threshold_mode", o.ThresholdMode == ThresholdMode.Rel ? "rel" : "abs", "rel", "abs") == "rel" ? ThresholdMode.Rel : ThresholdMode.Abs,
            state.Hyper("cooldown", o.Cooldown, 0),
            0.0,
            state.Hyper("eps", o.Eps, SchedulerArgs.IsNonNegative, "a finite number, 0 or more"));
        var minLr = state.Hyper("min_lrs", _minLr, Optimizer.ParamGroups.Count, SchedulerArgs.IsNonNegative, "a finite number, 0 or more");
        if (lastLr.Length > Optimizer.ParamGroups.Count)
            throw SchedulerStateDict.Bad($"The state dict covers {lastLr.Length} param groups, but the optimizer has {Optimizer.ParamGroups.Count}.");
        return () =>
        {
            (_options, _minLr) = (options, minLr);
            _state = new PlateauState(0.0, best, bad, cooldown, lastEpoch);
            LastEpoch = lastEpoch;
            SetLastLr(lastLr);
        };
    }
}
