namespace Optim.CSharp;

/// <summary>The per-group functions of <see cref="LambdaLR"/> and <see cref="MultiplicativeLR"/>: one for all groups, or one each.</summary>
internal sealed class GroupFunctions
{
    private readonly Func<int, double>[] _functions;
    private readonly bool _perGroup;

    public GroupFunctions(Func<int, double> function)
    {
        ArgumentNullException.ThrowIfNull(function, "lrLambda");
        _functions = [function];
    }

    public GroupFunctions(Func<int, double>[] functions, int groups)
    {
        ArgumentNullException.ThrowIfNull(functions, "lrLambda");
        if (functions.Length != groups)
            throw new ArgumentException($"Expected {groups} lr_lambdas, but got {functions.Length}.", "lrLambda");
        if (Array.IndexOf(functions, null) is var i && i >= 0)
            throw new ArgumentNullException("lrLambda", $"lrLambda[{i}] is null.");
        _functions = (Func<int, double>[])functions.Clone();
        _perGroup = true;
    }

    public Func<int, double> this[int group] => _perGroup ? _functions[group] : _functions[0];

    public string? Unschedulable(int group) =>
        _perGroup && group >= _functions.Length ? $"lrLambda was given per group ({_functions.Length} functions)" : null;
}

/// <summary>
/// Sets each group's learning rate to its initial rate times a function of the epoch, as
/// <c>torch.optim.lr_scheduler.LambdaLR</c>: <c>lr = initial_lr · λ(epoch)</c>, with one function for all groups
/// or one per group. Pure counterpart: <c>Schedule.lambda</c>.
/// </summary>
/// <example>
/// Seed 002's two groups, one decaying tenfold every 20 epochs and one by 5% per epoch:
/// <code>
/// var scheduler = new LambdaLR(optimizer, [epoch => Math.Pow(0.1, epoch / 20), epoch => Math.Pow(0.95, epoch)]);
/// </code>
/// </example>
public sealed class LambdaLR : LRScheduler
{
    private readonly GroupFunctions _lambdas;

    /// <summary>Schedules every group of <paramref name="optimizer"/> with one function and sets the epoch-0 rates.</summary>
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="lrLambda">The factor as a function of the epoch.</param>
    /// <param name="lastEpoch">The epoch to resume after; -1 starts fresh (groups then need <c>"initial_lr"</c>).</param>
    /// <param name="verbose">Whether to write a message for every rate set.</param>
    /// <param name="log">Where warnings and messages go (see <see cref="LRScheduler"/>).</param>
    /// <exception cref="ArgumentNullException"><paramref name="optimizer"/> or <paramref name="lrLambda"/> is null.</exception>
    /// <exception cref="ArgumentException">An argument is invalid; nothing was changed.</exception>
    /// <exception cref="InvalidOperationException">The function gave a rate that is not finite; nothing was changed.</exception>
    public LambdaLR(Optimizer optimizer, Func<int, double> lrLambda, int lastEpoch = -1, bool verbose = false, TextWriter? log = null)
        : base(optimizer, verbose, log)
    {
        _lambdas = new GroupFunctions(lrLambda);
        Initialize(lastEpoch);
    }

    /// <summary>Schedules each group of <paramref name="optimizer"/> with its own function and sets the epoch-0 rates.</summary>
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="lrLambda">One factor function per group, in group order.</param>
    /// <param name="lastEpoch">The epoch to resume after; -1 starts fresh (groups then need <c>"initial_lr"</c>).</param>
    /// <param name="verbose">Whether to write a message for every rate set.</param>
    /// <param name="log">Where warnings and messages go (see <see cref="LRScheduler"/>).</param>
    /// <exception cref="ArgumentNullException"><paramref name="optimizer"/>, <paramref name="lrLambda"/> or one of its functions is null.</exception>
    /// <exception cref="ArgumentException">The array's length is not the number of groups, or another argument is invalid; nothing was changed.</exception>
    /// <exception cref="InvalidOperationException">A function gave a rate that is not finite; nothing was changed.</exception>
    public LambdaLR(Optimizer optimizer, Func<int, double>[] lrLambda, int lastEpoch = -1, bool verbose = false, TextWriter? log = null)
        : base(optimizer, verbose, log)
    {
        _lambdas = new GroupFunctions(lrLambda, optimizer.ParamGroups.Count);
        Initialize(lastEpoch);
    }

    private protected override string? Unschedulable(int group) => _lambdas.Unschedulable(group);

    private protected override double[] ComputeLr() => BaseLrs.Select((b, i) => b * _lambdas[i](LastEpoch)).ToArray();
}

/// <summary>
/// Multiplies each group's learning rate, every epoch after the first, by a function of the epoch, as
/// <c>torch.optim.lr_scheduler.MultiplicativeLR</c>: <c>lr ← lr · λ(epoch)</c>, so that
/// <c>lr = initial_lr · λ(1)·λ(2)·…·λ(epoch)</c> when nothing else changes the rate. Pure counterpart:
/// <c>Schedule.multiplicative</c>.
/// </summary>
/// <example><code>var scheduler = new MultiplicativeLR(optimizer, epoch => 0.95);</code></example>
public sealed class MultiplicativeLR : LRScheduler
{
    private readonly GroupFunctions _lambdas;

    /// <summary>Schedules every group of <paramref name="optimizer"/> with one function and sets the epoch-0 rates.</summary>
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="lrLambda">The factor applied on reaching an epoch.</param>
    /// <param name="lastEpoch">The epoch to resume after; -1 starts fresh (groups then need <c>"initial_lr"</c>).</param>
    /// <param name="verbose">Whether to write a message for every rate set.</param>
    /// <param name="log">Where warnings and messages go (see <see cref="LRScheduler"/>).</param>
    /// <exception cref="ArgumentNullException"><paramref name="optimizer"/> or <paramref name="lrLambda"/> is null.</exception>
    /// <exception cref="ArgumentException">An argument is invalid; nothing was changed.</exception>
    public MultiplicativeLR(Optimizer optimizer, Func<int, double> lrLambda, int lastEpoch = -1, bool verbose = false, TextWriter? log = null)
        : base(optimizer, verbose, log)
    {
        _lambdas = new GroupFunctions(lrLambda);
        Initialize(lastEpoch);
    }

    /// <summary>Schedules each group of <paramref name="optimizer"/> with its own function and sets the epoch-0 rates.</summary>
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="lrLambda">One factor function per group, in group order.</param>
    /// <param name="lastEpoch">The epoch to resume after; -1 starts fresh (groups then need <c>"initial_lr"</c>).</param>
    /// <param name="verbose">Whether to write a message for every rate set.</param>
    /// <param name="log">Where warnings and messages go (see <see cref="LRScheduler"/>).</param>
    /// <exception cref="ArgumentNullException"><paramref name="optimizer"/>, <paramref name="lrLambda"/> or one of its functions is null.</exception>
    /// <exception cref="ArgumentException">The array's length is not the number of groups, or another argument is invalid; nothing was changed.</exception>
    public MultiplicativeLR(Optimizer optimizer, Func<int, double>[] lrLambda, int lastEpoch = -1, bool verbose = false, TextWriter? log = null)
        : base(optimizer, verbose, log)
    {
        _lambdas = new GroupFunctions(lrLambda, optimizer.ParamGroups.Count);
        Initialize(lastEpoch);
    }

    private protected override string? Unschedulable(int group) => _lambdas.Unschedulable(group);

    private protected override double[] ComputeLr() =>
        LastEpoch > 0 ? CurrentLrs().Select((lr, i) => lr * _lambdas[i](LastEpoch)).ToArray() : CurrentLrs();
}
