using System.Text.Json.Nodes;

namespace Optim.CSharp;

/// <summary>
/// An object whose method is a <see cref="LambdaLR"/> or <see cref="MultiplicativeLR"/> function and whose state is
/// saved with the scheduler, as PyTorch saves the <c>__dict__</c> of a callable object given as <c>lr_lambda</c>
/// (a plain function saves nothing). Give the scheduler the method (<c>new LambdaLR(optimizer, warmup.Factor)</c>):
/// its state dict then holds, under <c>"lr_lambdas"</c>, one entry per group, <see cref="StateDict"/> for this object
/// and null for plain functions; <see cref="LRScheduler.LoadStateDict"/> passes each entry to the loading scheduler's
/// object for that group.
/// </summary>
/// <example>
/// <code>
/// sealed class Warmup : IStatefulLrLambda
/// {
///     public int Epochs = 5;
///     public double Factor(int epoch) => Math.Min(1.0, (epoch + 1.0) / Epochs);
///     public JsonObject StateDict() => new() { ["epochs"] = Epochs };
///     public void LoadStateDict(JsonObject state) => Epochs = (int)state["epochs"]!;
/// }
/// var scheduler = new LambdaLR(optimizer, new Warmup().Factor);
/// </code>
/// </example>
public interface IStatefulLrLambda
{
    /// <summary>The object's state as JSON (numbers, strings, booleans, nulls, lists and objects), sharing nothing with it.</summary>
    /// <returns>The state.</returns>
    JsonObject StateDict();

    /// <summary>Replaces the object's state by one <see cref="StateDict"/> gave; throws (an <see cref="ArgumentException"/>, say) if it cannot.</summary>
    /// <param name="state">The state.</param>
    void LoadStateDict(JsonObject state);
}

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

    private IStatefulLrLambda? Stateful(int group) => this[group].Target as IStatefulLrLambda;

    /// <summary>PyTorch's <c>"lr_lambdas"</c>: per group, null for a plain function, the object's state for a stateful one.</summary>
    public JsonArray Save(int groups)
    {
        int count = _perGroup ? _functions.Length : groups;
        return new JsonArray(Enumerable.Range(0, count).Select(i => Stateful(i) is { } s ? (JsonNode?)SaveOne(s, i) : null).ToArray());
    }

    private static JsonObject SaveOne(IStatefulLrLambda s, int group) =>
        s.StateDict() is { } state ? (JsonObject)state.DeepClone()
        : throw new InvalidOperationException($"The lrLambda of param group {group} ({s.GetType().Name}) returned a null state.");

    /// <summary>
    /// Checks a saved <c>"lr_lambdas"</c> and returns the action that loads each entry into this scheduler's object for
    /// its group. If an object refuses its entry, the objects already loaded get their previous states back and the
    /// exception surfaces.
    /// </summary>
    /// <param name="state">The state dict.</param>
    /// <param name="kind">The scheduler's class name, for messages.</param>
    /// <param name="groups">The optimizer's number of param groups.</param>
    /// <param name="then">The rest of the load (validated already, cannot fail), applied once the functions loaded.</param>
    public Action Load(SchedulerStateDict state, string kind, int groups, Action then)
    {
        if (!state.TryStructured(SchedulerStateDict.LrLambdasKey, out var node)) return then;
        if (node is not JsonArray list)
            throw SchedulerStateDict.Bad($"'lr_lambdas' in the {kind} state dict must be a list with one entry per param group, but is {node?.ToJsonString() ?? "null"}.");
        int count = _perGroup ? _functions.Length : groups;
        if (list.Count > count)
            throw SchedulerStateDict.Bad($"'lr_lambdas' in the {kind} state dict has {list.Count} entries, but this scheduler has {count} functions.");
        var loads = new List<(IStatefulLrLambda Target, JsonObject State)>();
        for (int i = 0; i < list.Count; i++)
        {
            if (list[i] is null) continue;
            if (list[i] is not JsonObject entry)
                throw SchedulerStateDict.Bad($"'lr_lambdas[{i}]' in the {kind} state dict must be null or an object, but is {list[i]!.ToJsonString()}.");
            if (Stateful(i) is not { } target)
                throw SchedulerStateDict.Bad($"'lr_lambdas[{i}]' in the {kind} state dict holds a function's state, but this scheduler's function for param group {i} is not a method of an {nameof(IStatefulLrLambda)}.");
            loads.Add((target, entry));
        }
        return () =>
        {
            // the objects loaded so far, with their states before: put back, last first, if a later one refuses
            var loaded = new List<(IStatefulLrLambda Target, JsonObject Before)>();
            try
            {
                foreach (var (target, entry) in loads)
                {
                    var previous = target.StateDict();
                    target.LoadStateDict((JsonObject)entry.DeepClone());
                    loaded.Add((target, previous));
                }
            }
            catch
            {
                for (int i = loaded.Count - 1; i >= 0; i--) loaded[i].Target.LoadStateDict(loaded[i].Before);
                throw;
            }
            then();
        };
    }

    public string? Unschedulable(int group) =>
        _perGroup && group >= _functions.Length ? $"lrLambda was given per group ({_functions.Length} functions)" : null;
}

/// <summary>
/// Sets each group's learning rate to its initial rate times a function of the epoch, as
/// <c>torch.optim.lr_scheduler.LambdaLR</c>: <c>lr = initial_lr · λ(epoch)</c>, with one function for all groups
/// or one per group. Pure counterpart: <c>Schedule.lambda</c>.
/// </summary>
/// <example>
/// Two groups, one decaying tenfold every 20 epochs and one by 5% per epoch:
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

    private protected override SchedulerStateDict Save() => base.Save().Add(SchedulerStateDict.LrLambdasKey, _lambdas.Save(BaseLrs.Count));

    private protected override Action Load(SchedulerStateDict state) => _lambdas.Load(state, Kind, Optimizer.ParamGroups.Count, base.Load(state));
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

    private protected override SchedulerStateDict Save() => base.Save().Add(SchedulerStateDict.LrLambdasKey, _lambdas.Save(BaseLrs.Count));

    private protected override Action Load(SchedulerStateDict state) => _lambdas.Load(state, Kind, Optimizer.ParamGroups.Count, base.Load(state));
}
