namespace Optim.CSharp;

/// <summary>
/// Runs schedulers one after another, switching at milestones, as <c>torch.optim.lr_scheduler.SequentialLR</c>:
/// before the first milestone the first scheduler steps; at milestone <c>m</c> the next one restarts from its epoch 0
/// (by its closed form) and steps from there. Building it resets every group's rate to its <c>"initial_lr"</c> and
/// undoes the children's own initial steps, as PyTorch does. The common use is warmup:
/// <c>new SequentialLR(opt, [new LinearLR(opt, 0.1, totalIters: 5), new CosineAnnealingLR(opt, tMax: 95)], [5])</c>.
/// Pure counterpart: <c>Schedule.join</c> (for children with a closed form; MultiplicativeLR and SWALR continue from
/// the current rate instead).
/// </summary>
public sealed class SequentialLR : LRScheduler
{
    private readonly LRScheduler[] _schedulers;
    private int[] _milestones;

    /// <summary>Sequences <paramref name="schedulers"/>, which must all schedule <paramref name="optimizer"/>.</summary>
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="schedulers">The schedulers, built on <paramref name="optimizer"/> (not ReduceLROnPlateau, SequentialLR or ChainedScheduler).</param>
    /// <param name="milestones">The epochs at which the next scheduler takes over: one fewer than the schedulers, increasing, 1 or more.</param>
    /// <param name="lastEpoch">The epoch to resume after; -1 starts fresh.</param>
    /// <param name="log">Where warnings go (see <see cref="LRScheduler"/>); the children write their own messages.</param>
    /// <exception cref="ArgumentNullException">An argument or a scheduler is null.</exception>
    /// <exception cref="ArgumentException">A scheduler belongs to another optimizer or cannot be sequenced, or the milestones do not fit; nothing was changed.</exception>
    public SequentialLR(Optimizer optimizer, LRScheduler[] schedulers, int[] milestones, int lastEpoch = -1, TextWriter? log = null)
        : base(optimizer, false, log)
    {
        ArgumentNullException.ThrowIfNull(schedulers);
        ArgumentNullException.ThrowIfNull(milestones);
        if (schedulers.Length == 0) throw new ArgumentException("SequentialLR needs at least one scheduler.", nameof(schedulers));
        for (int i = 0; i < schedulers.Length; i++)
        {
            var s = schedulers[i] ?? throw new ArgumentNullException(nameof(schedulers), $"schedulers[{i}] is null.");
            if (s.Optimizer != optimizer)
                throw new ArgumentException($"Sequential Schedulers expects all schedulers to belong to the same optimizer, but got schedulers at index {i} to be different than the optimizer passed in.", nameof(schedulers));
            if (!s.CanBeSequenced)
                throw new ArgumentException($"schedulers[{i}] is a {s.GetType().Name}, which SequentialLR cannot step.", nameof(schedulers));
        }
        if (milestones.Length != schedulers.Length - 1)
            throw new ArgumentException($"Sequential Schedulers expects number of schedulers provided to be one more than the number of milestone points, but got number of schedulers {schedulers.Length} and the number of milestones to be equal to {milestones.Length}.", nameof(milestones));
        for (int i = 0; i < milestones.Length; i++)
            if (milestones[i] < 1 || i > 0 && milestones[i] <= milestones[i - 1])
                throw new ArgumentException($"The milestones must increase from 1 on, but got [{string.Join(", ", milestones)}].", nameof(milestones));
        SchedulerArgs.AtLeast(lastEpoch, -1, nameof(lastEpoch), "last_epoch");
        _schedulers = (LRScheduler[])schedulers.Clone();
        _milestones = (int[])milestones.Clone();

        var groups = optimizer.ParamGroups;
        var snapshots = groups.Select(g => g.Snapshot()).ToArray();
        var saved = _schedulers.Select(s => s.StateDict()).ToArray();
        try
        {
            foreach (var g in groups)
                if (g.ContainsKey("initial_lr")) g.SetComputed("lr", g["initial_lr"]);
            foreach (var s in _schedulers) s.RewindEpoch();
            _schedulers[0].InitialStep();
        }
        catch
        {
            for (int i = 0; i < groups.Count; i++) groups[i].Restore(snapshots[i]);
            for (int i = 0; i < _schedulers.Length; i++) _schedulers[i].LoadStateDict(saved[i]);
            throw;
        }
        LastEpoch = lastEpoch + 1;
        SetLastLr(_schedulers[0].GetLastLr());
    }

    internal override bool CanBeSequenced => false;

    /// <summary>Advances one epoch: steps the scheduler whose turn it is (restarting it at its milestone).</summary>
    /// <exception cref="InvalidOperationException">That scheduler failed; nothing was changed.</exception>
    public override void Step()
    {
        int epoch = LastEpoch + 1;
        int idx = _milestones.Count(m => m <= epoch);
        var scheduler = _schedulers[idx];
        if (idx > 0 && _milestones[idx - 1] == epoch) scheduler.StepAt(0);
        else scheduler.Step();
        LastEpoch = epoch;
        SetLastLr(scheduler.GetLastLr());
    }

    /// <summary>Not available: PyTorch's <c>SequentialLR.step()</c> takes no epoch.</summary>
    /// <param name="epoch">Ignored.</param>
    /// <exception cref="InvalidOperationException">Always; call <see cref="Step()"/>.</exception>
    public override void Step(int epoch) =>
        throw new InvalidOperationException($"SequentialLR.Step() takes no epoch (got {epoch}), as in PyTorch; call Step().");

    private protected override SchedulerStateDict Save() =>
        SchedulerStateDict.Create(Kind, _schedulers.Select(s => s.StateDict()).ToArray())
            .Add("last_epoch", LastEpoch)
            .Add("last_lr", GetLastLr())
            .Add("_milestones", _milestones.Select(m => (double)m));

    private protected override Action Load(SchedulerStateDict state)
    {
        var milestones = _milestones;
        if (state.Has("_milestones"))
        {
            var list = state.List("_milestones");
            if (list.Length != _schedulers.Length - 1)
                throw SchedulerStateDict.Bad($"'_milestones' in the SequentialLR state dict has {list.Length} values, but this SequentialLR has {_schedulers.Length} schedulers.");
            for (int i = 0; i < list.Length; i++)
                if (!(list[i] >= 1 && list[i] <= int.MaxValue && list[i] == Math.Floor(list[i])) || i > 0 && list[i] <= list[i - 1])
                    throw SchedulerStateDict.Bad($"'_milestones' in the SequentialLR state dict must be integers increasing from 1 on, but are [{string.Join(", ", list)}].");
            milestones = list.Select(m => (int)m).ToArray();
        }
        return LoadComposite(state, _schedulers, (epoch, lastLr) =>
        {
            LastEpoch = epoch;
            SetLastLr(lastLr);
            _milestones = milestones;
        });
    }

    /// <summary>Validates a composite's state and all its children's before applying any of it.</summary>
    internal static Action LoadComposite(SchedulerStateDict state, LRScheduler[] children, Action<int, double[]> apply)
    {
        int lastEpoch = state.Integer("last_epoch", -1);
        var lastLr = state.List("last_lr");
        if (state.Children.Count != children.Length)
            throw SchedulerStateDict.Bad($"The state dict holds {state.Children.Count} schedulers, but this one has {children.Length}.");
        var applies = new Action[children.Length];
        for (int i = 0; i < children.Length; i++)
        {
            applies[i] = children[i].PrepareLoad(state.Children[i]);
        }
        return () =>
        {
            foreach (var a in applies) a();
            apply(lastEpoch, lastLr);
        };
    }
}

/// <summary>
/// Steps several schedulers together, so that their effects multiply, as
/// <c>torch.optim.lr_scheduler.ChainedScheduler</c>: every <see cref="Step()"/> steps each child in order, and the
/// chainable ones scale the rate the previous one left. For example a constant warmup factor over an exponential
/// decay: <c>new ChainedScheduler([new ConstantLR(opt, 0.1, totalIters: 2), new ExponentialLR(opt, 0.9)])</c>.
/// <see cref="LRScheduler.LastEpoch"/> counts the chain's steps. Pure counterpart: <c>Schedule.product</c> (for
/// multiplicative children).
/// </summary>
public sealed class ChainedScheduler : LRScheduler
{
    private readonly LRScheduler[] _schedulers;

    /// <summary>Chains <paramref name="schedulers"/>, which must all schedule the same optimizer.</summary>
    /// <param name="schedulers">The schedulers (not ReduceLROnPlateau, which needs a metric).</param>
    /// <param name="log">Where warnings go (see <see cref="LRScheduler"/>); the children write their own messages.</param>
    /// <exception cref="ArgumentNullException"><paramref name="schedulers"/> or one of them is null.</exception>
    /// <exception cref="ArgumentException">There are none, they schedule different optimizers, or one is a ReduceLROnPlateau.</exception>
    public ChainedScheduler(IEnumerable<LRScheduler> schedulers, TextWriter? log = null)
        : this(Validated(schedulers), log) { }

    private ChainedScheduler(LRScheduler[] schedulers, TextWriter? log) : base(schedulers[0].Optimizer, false, log)
    {
        _schedulers = schedulers;
    }

    private static LRScheduler[] Validated(IEnumerable<LRScheduler> schedulers)
    {
        ArgumentNullException.ThrowIfNull(schedulers);
        var list = schedulers.ToArray();
        if (list.Length == 0) throw new ArgumentException("ChainedScheduler needs at least one scheduler.", nameof(schedulers));
        for (int i = 0; i < list.Length; i++)
        {
            if (list[i] is null) throw new ArgumentNullException(nameof(schedulers), $"schedulers[{i}] is null.");
            if (list[i].Optimizer != list[0].Optimizer)
                throw new ArgumentException($"ChainedScheduler expects all schedulers to belong to the same optimizer, but got schedulers at index 0 and {i} to be different.", nameof(schedulers));
            if (list[i] is ReduceLROnPlateau)
                throw new ArgumentException($"schedulers[{i}] is a ReduceLROnPlateau, which needs a metric; step it on its own.", nameof(schedulers));
        }
        return list;
    }

    internal override bool CanBeSequenced => false;

    /// <summary>Steps every child once, in order.</summary>
    /// <exception cref="InvalidOperationException">A child failed; the children and the optimizer's groups are as before.</exception>
    public override void Step()
    {
        var groups = Optimizer.ParamGroups;
        var snapshots = groups.Select(g => g.Snapshot()).ToArray();
        var saved = _schedulers.Select(s => s.StateDict()).ToArray();
        try
        {
            foreach (var s in _schedulers) s.Step();
        }
        catch
        {
            for (int i = 0; i < snapshots.Length; i++) groups[i].Restore(snapshots[i]);
            for (int i = 0; i < _schedulers.Length; i++) _schedulers[i].LoadStateDict(saved[i]);
            throw;
        }
        LastEpoch++;
        SetLastLr(CurrentLrs());
    }

    /// <summary>Not available: PyTorch's <c>ChainedScheduler.step()</c> takes no epoch.</summary>
    /// <param name="epoch">Ignored.</param>
    /// <exception cref="InvalidOperationException">Always; call <see cref="Step()"/>.</exception>
    public override void Step(int epoch) =>
        throw new InvalidOperationException($"ChainedScheduler.Step() takes no epoch (got {epoch}), as in PyTorch; call Step().");

    private protected override SchedulerStateDict Save() =>
        SchedulerStateDict.Create(Kind, _schedulers.Select(s => s.StateDict()).ToArray())
            .Add("last_epoch", LastEpoch)
            .Add("last_lr", GetLastLr());

    private protected override Action Load(SchedulerStateDict state) =>
        SequentialLR.LoadComposite(state, _schedulers, (epoch, lastLr) =>
        {
            LastEpoch = epoch;
            SetLastLr(lastLr);
        });
}
