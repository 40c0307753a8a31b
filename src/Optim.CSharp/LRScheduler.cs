using System.Globalization;

namespace Optim.CSharp;

/// <summary>
/// The base of every learning-rate scheduler, as <c>torch.optim.lr_scheduler._LRScheduler</c> (PyTorch 1.13):
/// it owns an epoch counter and writes each param group's <c>"lr"</c> (and, for cyclic policies, its momentum
/// or first beta) when stepped.
/// </summary>
/// <remarks>
/// <para><b>Order.</b> As in PyTorch 1.1 and later, call <c>optimizer.Step()</c> first, then
/// <c>scheduler.Step()</c>, once per epoch (or per batch for CyclicLR and OneCycleLR). Building a scheduler
/// performs its first step: <see cref="LastEpoch"/> becomes 0 and every group gets the epoch-0 rate, so the
/// first <c>optimizer.Step()</c> already uses the schedule. A first <c>scheduler.Step()</c> with no
/// <c>optimizer.Step()</c> since the scheduler was built skips the schedule's first value; the scheduler then
/// writes PyTorch's warning to its log. An <c>optimizer.Step()</c> that updated nothing (no parameter had a
/// gradient) still counts as a step.</para>
/// <para><b>Chainable form.</b> StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR, PolynomialLR,
/// CosineAnnealingLR and MultiplicativeLR update the rate a group holds now (PyTorch's recursive formulas), so
/// that changes made by others — another scheduler in a <see cref="ChainedScheduler"/>, or your own code —
/// compose with theirs exactly as in PyTorch. The others compute the rate from the base rates
/// (<see cref="BaseLrs"/>, the groups' <c>"initial_lr"</c>).</para>
/// <para><b>Param groups added later.</b> PyTorch silently leaves such groups unscheduled, or fails with an index
/// error (pytorch#79888, #104361). Here a group added with <see cref="Optimizer.AddParamGroup"/> after the
/// scheduler was built joins at the scheduler's next <c>Step()</c>, as if the constructor had seen it: its base
/// rate is its <c>"initial_lr"</c>, set to its current <c>"lr"</c> when absent, and from that step on it gets the
/// policy's formula like every other group — chainable policies change its rate by the same factor as the
/// others', the rest set it from its base rate and the current epoch. Arguments given once (a single
/// <c>lrLambda</c>, <c>minLr</c>, <c>maxLr</c>, …) apply to it; an argument given per group cannot, and then
/// <c>Step()</c> throws <see cref="InvalidOperationException"/> and changes nothing.</para>
/// <para><b>Messages.</b> PyTorch's warnings go to the <c>log</c> writer given to the constructor (none: they
/// are dropped); with <c>verbose: true</c>, PyTorch's per-step messages ("Adjusting learning rate of group 0 to
/// 1.0000e-01.") go there too, or to <see cref="Console.Out"/> when no log was given.</para>
/// <para><b>Failures.</b> A <c>Step()</c> that throws leaves the scheduler and the optimizer as they were. A
/// computed rate that is negative or not finite (from a <c>lrLambda</c>, say) is an error. A cycled momentum is
/// written as computed, as PyTorch does, even past its bounds (OneCycleLR extrapolates after its last step); the
/// optimizer's next <c>Step()</c> rejects a value out of range.</para>
/// </remarks>
public abstract class LRScheduler
{
    private readonly TextWriter? _log;
    private readonly bool _verbose;
    private readonly List<double> _baseLrs = new();
    private double[] _lastLr;
    private int _optimizerStepsAtStart;
    private bool _epochWarned;

    private protected LRScheduler(Optimizer optimizer, bool verbose, TextWriter? log)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        Optimizer = optimizer;
        _verbose = verbose;
        _log = log;
        _lastLr = CurrentLrs();
    }

    /// <summary>The optimizer whose param groups this scheduler sets.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>
    /// The index of the last epoch (PyTorch's <c>last_epoch</c>): 0 after construction, then one more per
    /// <see cref="Step()"/>. For OneCycleLR and CyclicLR, stepped per batch, it counts batches.
    /// </summary>
    public int LastEpoch { get; private protected set; }

    /// <summary>
    /// The base learning rate of each scheduled group (PyTorch's <c>base_lrs</c>): its <c>"initial_lr"</c>, or CyclicLR's
    /// <c>baseLr</c>. Empty for SequentialLR and ChainedScheduler, whose children hold theirs, and for ReduceLROnPlateau.
    /// </summary>
    public IReadOnlyList<double> BaseLrs => _baseLrs;

    /// <summary>How many times the epoch mechanics stepped (PyTorch's <c>_step_count</c>; SWALR's policy reads it).</summary>
    private protected int StepCount { get; set; }

    internal string Kind => GetType().Name;

    /// <summary>The learning rate of every param group as this scheduler last set it (PyTorch's <c>get_last_lr()</c>).</summary>
    /// <returns>A new array, one rate per group.</returns>
    public double[] GetLastLr() => (double[])_lastLr.Clone();

    /// <summary>Advances one epoch and sets every group's learning rate (and momentum, for cyclic policies) for it.</summary>
    /// <exception cref="InvalidOperationException">A group added after the scheduler was built cannot be scheduled, or the policy failed; nothing was changed.</exception>
    public virtual void Step() => StepAt(null);

    /// <summary>
    /// Sets every group's learning rate for <paramref name="epoch"/>, as PyTorch's deprecated <c>scheduler.step(epoch)</c>:
    /// <see cref="LastEpoch"/> becomes <paramref name="epoch"/> and the rate is the policy's closed form where it has one
    /// (StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR, PolynomialLR, CosineAnnealingLR), else its usual
    /// formula at that epoch (MultiplicativeLR then multiplies the current rate by <c>λ(epoch)</c>, SWALR ignores the
    /// epoch and counts its steps, as in PyTorch). Epochs may go back or skip ahead; a later <see cref="Step()"/>
    /// continues from <paramref name="epoch"/> by the chainable formula.
    /// </summary>
    /// <remarks>
    /// The first call writes PyTorch's deprecation warning (<c>"UserWarning: The epoch parameter in
    /// `scheduler.step()` was not necessary and is being deprecated …"</c>) to the scheduler's <c>log</c>; later calls on
    /// the same scheduler do not repeat it (Python prints it once per call site). CosineAnnealingWarmRestarts takes
    /// fractional epochs and does not warn, as in PyTorch; SequentialLR and ChainedScheduler take no epoch.
    /// </remarks>
    /// <param name="epoch">The epoch, 0 or more (PyTorch also takes negative ones and extrapolates; see docs/parity.md).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epoch"/> is negative; nothing was changed.</exception>
    /// <exception cref="InvalidOperationException">This scheduler takes no epoch, a group added after it was built cannot be scheduled, or the policy failed; nothing was changed.</exception>
    public virtual void Step(int epoch)
    {
        CheckEpoch(epoch, nameof(epoch));
        StepAt(epoch, deprecated: true);
    }

    /// <summary>Rejects an epoch that is negative or not finite (PyTorch's <c>math.floor</c> fails on NaN and infinities).</summary>
    private protected static void CheckEpoch(double epoch, string name)
    {
        if (!(epoch >= 0 && epoch <= int.MaxValue))
            throw new ArgumentOutOfRangeException(name, epoch, $"Expected a non-negative finite epoch of at most {int.MaxValue}, but got {epoch}; nothing was changed.");
    }

    private const string EpochDeprecationWarning =
        "The epoch parameter in `scheduler.step()` was not necessary and is being deprecated where possible. " +
        "Please use `scheduler.step()` to step the scheduler. During the deprecation, if epoch is different from None, " +
        "the closed form is used instead of the new chainable form, where available. Please open an issue if you are " +
        "unable to replicate your use case: https://github.com/pytorch/pytorch/issues/new/choose.";

    /// <summary>Writes PyTorch's <c>step(epoch)</c> deprecation warning, the first time only.</summary>
    private protected void WarnEpochDeprecated()
    {
        if (_epochWarned) return;
        _epochWarned = true;
        Warn(EpochDeprecationWarning);
    }

    /// <summary>
    /// A snapshot of the scheduler, sharing nothing with it: its progress and its hyperparameters under PyTorch's names
    /// (functions such as <c>lrLambda</c> excepted, as PyTorch does not save them).
    /// </summary>
    /// <returns>The state dict.</returns>
    public SchedulerStateDict StateDict() => Save();

    /// <summary>
    /// Restores a scheduler saved by <see cref="StateDict"/> from one of the same kind over the same groups: its progress and
    /// its hyperparameters, so that this scheduler, whatever arguments it was built with, continues exactly as the saved
    /// one (load the optimizer's state first, as in PyTorch: chainable policies continue from the groups' rates). A
    /// hyperparameter the state dict lacks (one written before they were saved) keeps this scheduler's value. Each loaded
    /// value must pass the constructor's rule.
    /// </summary>
    /// <param name="state">The state dict.</param>
    /// <exception cref="ArgumentNullException"><paramref name="state"/> is null.</exception>
    /// <exception cref="ArgumentException">It is from another kind of scheduler, schedules more groups than the optimizer has, or holds an invalid value (the message names the key and the value); the scheduler is unchanged.</exception>
    public void LoadStateDict(SchedulerStateDict state)
    {
        ArgumentNullException.ThrowIfNull(state);
        PrepareLoad(state)();
    }

    /// <summary>Checks the kind and validates the whole state dict; returns the action that applies it.</summary>
    internal Action PrepareLoad(SchedulerStateDict state)
    {
        if (state.Kind != Kind) throw SchedulerStateDict.Bad($"This state dict is from a {state.Kind}, not a {Kind}.");
        var apply = Load(state);
        // a key that the load did not read and that this scheduler does not save is not one of its keys (a misspelt
        // one, or another kind's): refused rather than silently dropped
        var own = Save();
        if (state.Unread.FirstOrDefault(k => !own.Has(k)) is { } unknown)
            throw SchedulerStateDict.Bad($"The {Kind} state dict holds '{unknown}', which a {Kind} does not keep.");
        return apply;
    }

    /// <summary>Replaces the base rates (CyclicLR's come from its <c>baseLr</c> argument, not from <c>"initial_lr"</c>).</summary>
    private protected void ReplaceBaseLrs(IEnumerable<double> baseLrs)
    {
        var list = baseLrs.ToList();
        _baseLrs.Clear();
        _baseLrs.AddRange(list);
    }

    private protected double[] CurrentLrs() => Optimizer.ParamGroups.Select(g => g.Lr).ToArray();

    private protected void SetLastLr(double[] lrs) => _lastLr = lrs;

    private protected void Warn(string message) => _log?.WriteLine("UserWarning: " + message);

    private protected void Print(string message)
    {
        if (_verbose) (_log ?? Console.Out).WriteLine(message);
    }

    /// <summary>A rate as Python's <c>'{:.4e}'</c> writes it ("E4" rounds the exact binary value, as Python does; custom formats do not).</summary>
    private protected static string Sci(double x)
    {
        var s = x.ToString("E4", CultureInfo.InvariantCulture);
        int e = s.IndexOf('E');
        if (e < 0) return s;
        int exponent = int.Parse(s.AsSpan(e + 1), CultureInfo.InvariantCulture);
        return $"{s[..e]}e{(exponent < 0 ? '-' : '+')}{Math.Abs(exponent):D2}";
    }

    /// <summary>
    /// PyTorch's <c>_LRScheduler.__init__</c>: records base rates (setting <c>"initial_lr"</c> when starting
    /// fresh) and performs the initial step. <paramref name="prepare"/> runs first, for policies that set group
    /// keys; if anything throws, every group is restored.
    /// </summary>
    private protected void Initialize(int lastEpoch, Action? prepare = null)
    {
        if (lastEpoch < -1)
            throw new ArgumentOutOfRangeException(nameof(lastEpoch), lastEpoch, $"Invalid last_epoch value: {lastEpoch}; it must be -1 (start) or an epoch index.");
        var groups = Optimizer.ParamGroups;
        if (lastEpoch != -1)
            for (int i = 0; i < groups.Count; i++)
                if (!groups[i].ContainsKey("initial_lr"))
                    throw new ArgumentException($"param 'initial_lr' is not specified in param_groups[{i}] when resuming an optimizer (lastEpoch = {lastEpoch}).", nameof(lastEpoch));
        var snapshots = groups.Select(g => g.Snapshot()).ToArray();
        try
        {
            prepare?.Invoke();
            if (lastEpoch == -1)
                foreach (var g in groups)
                    if (!g.ContainsKey("initial_lr")) g.SetComputed("initial_lr", g.Lr);
            _baseLrs.Clear();
            _baseLrs.AddRange(groups.Select(g => g["initial_lr"]));
            LastEpoch = lastEpoch;
            InitialStep();
        }
        catch
        {
            for (int i = 0; i < groups.Count; i++) groups[i].Restore(snapshots[i]);
            throw;
        }
    }

    /// <summary>PyTorch's <c>_initial_step</c>: resets the step counters and steps once.</summary>
    internal void InitialStep()
    {
        _optimizerStepsAtStart = Optimizer.StepCount;
        StepCount = 0;
        StepAt(null);
    }

    /// <summary>SequentialLR's "undo" of the initial step its children took when they were built.</summary>
    internal void RewindEpoch() => LastEpoch--;

    internal virtual bool CanBeSequenced => true;

    /// <summary>
    /// PyTorch's <c>step(epoch)</c>: with no epoch, the next epoch by the chainable formula; with one (SequentialLR
    /// passes 0 at a milestone), that epoch by the closed form where the policy has one. <paramref name="deprecated"/>:
    /// the user passed the epoch, and PyTorch's deprecation warning is due (SequentialLR's internal call stays silent).
    /// </summary>
    internal void StepAt(double? epoch, bool deprecated = false)
    {
        if (StepCount == 1 && Optimizer.StepCount - _optimizerStepsAtStart < 1)
            Warn("Detected call of LRScheduler.Step() before Optimizer.Step(). Call them in the opposite order: " +
                 "optimizer.Step() before scheduler.Step(). Failure to do this will result in skipping the first value " +
                 "of the learning rate schedule.");
        if (deprecated) WarnEpochDeprecated();
        var groups = Optimizer.ParamGroups;
        int known = _baseLrs.Count;
        for (int i = known; i < groups.Count; i++)
            if (Unschedulable(i) is { } why)
                throw new InvalidOperationException($"Param group {i} was added to the optimizer after this {Kind} was created, but {why}; nothing was changed.");
        var snapshots = groups.Skip(known).Select(g => g.Snapshot()).ToArray();
        int savedEpoch = LastEpoch, savedCount = StepCount;
        double[] lrs;
        (string Key, double[] Values)? momentum;
        try
        {
            for (int i = known; i < groups.Count; i++) _baseLrs.Add(Adopt(i, groups[i]));
            Advance(epoch);
            lrs = epoch is null ? ComputeLr() : ClosedFormLr() ?? ComputeLr();
            momentum = ComputeMomentum();
            for (int i = 0; i < lrs.Length; i++)
                if (!(lrs[i] >= 0 && double.IsFinite(lrs[i])) || momentum is { } m && !double.IsFinite(m.Values[i]))
                    throw new InvalidOperationException(
                        $"{Kind} computed a learning rate of {lrs[i]}{(momentum is { } mm ? $" and a {mm.Key} of {mm.Values[i]}" : "")} " +
                        $"for param group {i} at epoch {LastEpoch}; a rate must be finite and 0 or more; nothing was changed.");
        }
        catch
        {
            for (int i = 0; i < snapshots.Length; i++) groups[known + i].Restore(snapshots[i]);
            ForgetGroups(known);
            AbandonAdvance();
            LastEpoch = savedEpoch;
            StepCount = savedCount;
            throw;
        }
        var printed = PrintedEpoch(epoch);
        for (int i = 0; i < groups.Count; i++)
        {
            groups[i].SetComputed("lr", lrs[i]);
            if (momentum is { } m) groups[i].SetComputed(m.Key, m.Values[i]);
            Print(printed is { } e
                ? $"Epoch {e}: adjusting learning rate of group {i} to {Sci(lrs[i])}."
                : $"Adjusting learning rate of group {i} to {Sci(lrs[i])}.");
        }
        _lastLr = CurrentLrs();
    }

    /// <summary>The rate for every group at <see cref="LastEpoch"/>, PyTorch's <c>get_lr()</c>; the default keeps the current rates.</summary>
    private protected virtual double[] ComputeLr() => CurrentLrs();

    /// <summary>The momentum (key and values) a cyclic policy sets with the rates, or null.</summary>
    private protected virtual (string Key, double[] Values)? ComputeMomentum() => null;

    /// <summary>PyTorch's <c>_get_closed_form_lr()</c>, used when an epoch is given; null where the policy has none.</summary>
    private protected virtual double[]? ClosedFormLr() => null;

    /// <summary>Moves the counters to the next epoch (or to <paramref name="epoch"/>, an integer here).</summary>
    private protected virtual void Advance(double? epoch)
    {
        StepCount++;
        LastEpoch = epoch is { } e ? (int)e : LastEpoch + 1;
    }

    /// <summary>Undoes what an override of <see cref="Advance"/> changed beyond the counters, when the step fails.</summary>
    private protected virtual void AbandonAdvance() { }

    /// <summary>The epoch that verbose messages show (PyTorch prints one only when an epoch was passed), formatted.</summary>
    private protected virtual string? PrintedEpoch(double? epoch) => epoch is { } e ? FormatEpoch(e) : null;

    /// <summary>An epoch as PyTorch's <c>print_lr</c> writes it: <c>"%.5d"</c> for an integer, <c>"%.2f"</c> for a fraction.</summary>
    private protected static string FormatEpoch(double epoch) =>
        epoch == Math.Floor(epoch)
            ? ((long)epoch).ToString("D5", CultureInfo.InvariantCulture)
            : epoch.ToString("F2", CultureInfo.InvariantCulture);

    /// <summary>Why group <paramref name="group"/> cannot be scheduled (an argument given per group has no value for it), or null.</summary>
    private protected virtual string? Unschedulable(int group) => null;

    /// <summary>Takes a group on as the constructor would have; returns its base rate.</summary>
    private protected virtual double Adopt(int group, ParamGroup g)
    {
        if (!g.ContainsKey("initial_lr")) g.SetComputed("initial_lr", g.Lr);
        return g["initial_lr"];
    }

    /// <summary>Drops what <see cref="Adopt"/> recorded for groups from <paramref name="count"/> on.</summary>
    private protected virtual void ForgetGroups(int count) => _baseLrs.RemoveRange(count, _baseLrs.Count - count);

    private protected virtual SchedulerStateDict Save() =>
        SchedulerStateDict.Create(Kind)
            .Add("last_epoch", LastEpoch)
            .Add("step_count", StepCount)
            .Add("base_lrs", _baseLrs)
            .Add("last_lr", _lastLr);

    /// <summary>Validates a state dict completely and returns the action that applies it (which cannot fail).</summary>
    private protected virtual Action Load(SchedulerStateDict state)
    {
        int lastEpoch = state.Integer("last_epoch", -1);
        int stepCount = state.Integer("step_count", 0);
        var baseLrs = state.List("base_lrs");
        var lastLr = state.List("last_lr");
        int groups = Optimizer.ParamGroups.Count;
        if (baseLrs.Length > groups || lastLr.Length > groups)
            throw SchedulerStateDict.Bad($"The state dict schedules {Math.Max(baseLrs.Length, lastLr.Length)} param groups, but the optimizer has {groups}.");
        if (baseLrs.Length != lastLr.Length)
            throw SchedulerStateDict.Bad($"The state dict holds {baseLrs.Length} base_lrs but {lastLr.Length} last_lr; there is one of each per scheduled param group.");
        if (baseLrs.Concat(lastLr).FirstOrDefault(x => !(double.IsFinite(x) && x >= 0), 0.0) is var x && !(double.IsFinite(x) && x >= 0))
            throw SchedulerStateDict.Bad($"The state dict holds a learning rate of {x}; learning rates are finite and 0 or more.");
        for (int i = 0; i < baseLrs.Length; i++)
            if (Unschedulable(i) is { } why) throw SchedulerStateDict.Bad($"The state dict schedules param group {i}, but {why}.");
        return () =>
        {
            LastEpoch = lastEpoch;
            StepCount = stepCount;
            _baseLrs.Clear();
            _baseLrs.AddRange(baseLrs);
            _lastLr = lastLr;
        };
    }

    /// <summary>Where a cyclic policy writes momentum: the first of <c>"betas"</c> for optimizers with betas, else <c>"momentum"</c>; null if neither.</summary>
    private protected static string? MomentumKey(Optimizer optimizer) =>
        optimizer.ParamGroups[0].ContainsKey("betas") ? "betas"
        : optimizer.ParamGroups[0].ContainsKey("momentum") ? "momentum"
        : null;

    /// <summary>A group's current momentum under <paramref name="key"/>.</summary>
    private protected static double ReadMomentum(ParamGroup g, string key) => key == "betas" ? g.Betas.Item1 : g[key];
}
