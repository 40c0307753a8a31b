using Optim;

namespace Optim.CSharp;

/// <summary>
/// The hyperparameters an optimizer kind fills into groups that do not set them (strings: null is None), and, for a
/// subclass written outside the library, the elementwise state buffers it declares (null for the built-in kinds). A
/// built-in elementwise kind has its descriptor, which its groups' keys, its state and its chain follow.
/// </summary>
internal sealed record Defaults(string Kind, (string Key, double Value)[] Scalars, (string Key, (double, double) Value)[] Pairs, string[] Flags,
                                (string Key, string? Value)[]? Texts = null, string[]? StateNames = null, Transformation? Chain = null,
                                Descriptor? Descriptor = null, (string Key, (double, double, double) Value)[]? Triples = null);

/// <summary>
/// The base of every optimizer, as <c>torch.optim.Optimizer</c>: it owns param groups and per-parameter
/// state, and <see cref="Step"/> updates every parameter that has a gradient, in place, with one fused pass
/// over memory per parameter (on two threads) and no allocation once the state exists.
/// </summary>
/// <remarks>
/// The training loop of PyTorch carries over line for line:
/// <code>
/// optimizer.ZeroGrad();
/// // forward, then backward: p.AccumulateGrad(...) for every parameter
/// optimizer.Step();
/// </code>
/// An optimizer of your own subclasses it, as a <c>torch.optim.Optimizer</c> subclass: see the protected constructor
/// and <see cref="StepParameter"/>.
/// </remarks>
public abstract partial class Optimizer
{
    private readonly List<ParamGroup> _groups = new();
    private readonly List<Parameter> _all = new();
    private readonly Defaults _defaults;
    private State _state;
    // per parameter (in _all's order): its group's index and its element count, for the step loop
    private int[] _groupOf = [];
    private int[] _sizes = [];
    private readonly Action<int> _stepOne;
    private readonly Action<int> _stepChained;

    private protected Optimizer(IEnumerable<ParamGroup> groups, Defaults defaults)
    {
        ArgumentNullException.ThrowIfNull(groups);
        _defaults = defaults;
        _stepOne = StepOne;
        _stepChained = StepChained;
        _state = InitState([]);
        var list = groups.ToList();
        if (list.Count == 0) throw new ArgumentException("The optimizer got an empty parameter list.", nameof(groups));
        foreach (var g in list) AddParamGroup(g);
    }

    private protected static IEnumerable<ParamGroup> Single(IEnumerable<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var group = new ParamGroup(parameters);
        if (group.Params.Count == 0) throw new ArgumentException("The optimizer got an empty parameter list.", nameof(parameters));
        return [group];
    }

    /// <summary>The param groups, in the order they were added.</summary>
    public IReadOnlyList<ParamGroup> ParamGroups => _groups;

    /// <summary>How many times <see cref="Step"/> has run (learning-rate schedulers use it to warn about call order).</summary>
    internal int StepCount { get; private protected set; }

    /// <summary>
    /// Clears the gradients of every parameter: sets them to null (the default, as PyTorch 2.x), or fills
    /// them with zeros when <paramref name="setToNone"/> is false (a sparse gradient then keeps no rows).
    /// </summary>
    /// <param name="setToNone">Whether to drop the gradient arrays instead of zeroing them.</param>
    public void ZeroGrad(bool setToNone = true)
    {
        foreach (var p in _all) p.ZeroGrad(setToNone);
    }

    /// <summary>
    /// Performs one optimization step: every parameter with a gradient and <see cref="Parameter.RequiresGrad"/>
    /// is updated in place; parameters without a gradient keep their values and their state.
    /// </summary>
    /// <param name="closure">Optional: re-evaluates the model and returns the loss; called once, before the update.</param>
    /// <returns>The closure's loss, or null without a closure.</returns>
    /// <exception cref="ArgumentException">A group's hyperparameters are invalid; nothing is updated.</exception>
    /// <exception cref="InvalidOperationException">A parameter has a kind of gradient this optimizer does not take: a sparse one
    /// (<see cref="Parameter.AccumulateSparseGrad"/>) for any but <see cref="SparseAdam"/>, a dense one for <see cref="SparseAdam"/>;
    /// nothing is updated. Or another <see cref="Step"/> of this optimizer is running (an optimizer is not thread-safe);
    /// this call changes nothing.</exception>
    /// <exception cref="ArgumentNullException"><see cref="LBFGS"/> got no closure; nothing is updated.</exception>
    /// <remarks>
    /// <para>The step hooks run around it, as PyTorch 2.x's do: the global pre-hooks
    /// (<see cref="RegisterOptimizerStepPreHook"/>), this optimizer's (<see cref="RegisterStepPreHook"/>), the step (the
    /// closure, then the update), this optimizer's post-hooks (<see cref="RegisterStepPostHook"/>), then the global ones
    /// (<see cref="RegisterOptimizerStepPostHook"/>). A hook that throws stops the rest, and its exception reaches the
    /// caller: from a pre-hook, before anything of the step has happened (no parameter, state or step count changes);
    /// from a post-hook, after the whole step has been applied (its loss is then not returned).</para>
    /// <para>Every optimizer runs its hooks, built-in, composed or a subclass: <see cref="Step"/> is not virtual, as PyTorch
    /// wraps the <c>step</c> of every subclass with the hooks.</para>
    /// </remarks>
    public float? Step(Func<float>? closure = null)
    {
        if (Interlocked.Exchange(ref _stepping, 1) != 0)
            throw new InvalidOperationException(
                "Step() was called while another Step() of this optimizer was running (on another thread, or from its " +
                "closure or a hook). An optimizer is not thread-safe: step it from one thread at a time.");
        try
        {
            RunHooks(s_stepPreHooks.Items);
            RunHooks(_stepPreHooks.Items);
            var loss = StepCore(closure);
            // every parameter the step took part in was written in place
            foreach (var p in _all)
                if (p.RequiresGrad && (p.Grad is not null || p.HasSparseGrad)) p.MarkModified();
            RunHooks(_stepPostHooks.Items);
            RunHooks(s_stepPostHooks.Items);
            return loss;
        }
        finally { Volatile.Write(ref _stepping, 0); }
    }

    /// <summary>1 while a <see cref="Step"/> runs: a second one at the same time would lose updates, so it throws.</summary>
    private int _stepping;

    /// <summary>The step itself, between the step hooks: the closure, then the update of every parameter with a gradient. LBFGS overrides it.</summary>
    private protected virtual float? StepCore(Func<float>? closure)
    {
        float? loss = closure is null ? null : closure();
        for (int g = 0; g < _groups.Count; g++) Prepare(g, _groups[g]);
        for (int i = 0; i < _all.Count; i++)
        {
            var p = _all[i];
            if (!p.RequiresGrad) continue;
            if (p.HasSparseGrad && !AcceptsSparseGradients)
                throw new InvalidOperationException($"{_defaults.Kind} does not support sparse gradients, but {p} has one.");
            if (p.HasSparseGrad && SparseIncompatibility(_groups[_groupOf[i]]) is { } why)
                throw new InvalidOperationException($"{p} has a sparse gradient, but {why}.");
            if (p.HasSparseGrad && _backend is not null)
                throw new InvalidOperationException($"{p} has a sparse gradient, which {_defaults.Kind} does not take on {_device.Name}: step sparse gradients on the CPU.");
            if (p.Grad is not null && !AcceptsDenseGradients)
                throw new InvalidOperationException($"{_defaults.Kind} does not support dense gradients, but {p} has one; please consider Adam instead.");
        }
        // the parameters' steps are independent: the core runs them on its two kernel threads; a subclass's own
        // StepParameter runs on the caller's thread, in order, as PyTorch's step() does
        if (Chained)
        {
            PrepareChains();
            if (_backend is not null) _backend.Step();
            else Fused.forEachParameter(_sizes, _stepChained);
        }
        else if (IsSubclass) for (int i = 0; i < _all.Count; i++) _stepOne(i);
        else Fused.forEachParameter(_sizes, _stepOne);
        StepCount++;
        return loss;
    }

    /// <summary>Steps parameter <paramref name="index"/> (in the order of the groups) if it has a gradient; may run on the kernels' worker thread.</summary>
    private void StepOne(int index)
    {
        var p = _all[index];
        if (!p.RequiresGrad) return;
        if (p.Grad is { } grad) StepParam(_groupOf[index], _state, index, p.Data, grad);
        else if (p.HasSparseGrad) StepSparseParam(_groupOf[index], _state, index, p);
    }

    /// <summary>
    /// Adds a param group, as <c>add_param_group</c>: keys the group does not set take this optimizer's
    /// defaults. Its parameters start with no state.
    /// </summary>
    /// <param name="group">The group.</param>
    /// <exception cref="ArgumentException">A parameter is already in a group of this optimizer, or a hyperparameter is invalid; the optimizer and the group are unchanged.</exception>
    public void AddParamGroup(ParamGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        CheckNewGroup(group);
        if (_groups.Contains(group)) throw new ArgumentException("This parameter group was already added.", nameof(group));
        for (int k = 0; k < group.Params.Count; k++)
        {
            var p = group.Params[k];
            if (_all.Contains(p))
                throw new ArgumentException($"{p} appears in more than one parameter group.", nameof(group));
            if (_all.FirstOrDefault(q => ReferenceEquals(q.Data, p.Data)) is { } other)
                throw new ArgumentException($"{p} and {other} are one buffer (the same float[]): a step would update it twice.", nameof(group));
        }
        // a device's state comes home first: the new group's layout is built on the next step
        _backend?.SyncToHost();
        var before = group.Snapshot();
        var owner = group.Descriptor;
        group.Descriptor = _defaults.Descriptor;
        try
        {
            foreach (var (key, value) in _defaults.Scalars)
                if (!group.ContainsKey(key)) group[key] = value;
            foreach (var (key, value) in _defaults.Pairs)
                if (!group.ContainsKey(key)) group.SetPair(key, value);
            foreach (var (key, value) in _defaults.Triples ?? [])
                if (!group.ContainsKey(key)) group.SetTriple(key, value);
            foreach (var (key, value) in _defaults.Texts ?? [])
                if (!group.ContainsKey(key)) group.SetText(key, value);
            // a required hyperparameter the constructor was not given (SGD's lr) must be set by every group, as in PyTorch
            if (_defaults.Descriptor?.Specs.FirstOrDefault(s => s.Default.Length == 0 && !group.ContainsKey(s.Key)) is { } missing)
                throw new ArgumentException(
                    $"Param group {_groups.Count} does not set '{missing.Key}', which {_defaults.Kind} requires: give it to the constructor or set it in every group.",
                    missing.Name);
            Validate(group);
        }
        catch
        {
            group.Restore(before);
            group.Descriptor = owner;
            throw;
        }
        _state = StateModule.append(_state, InitGroupState(group, Tensors(group)));
        _groups.Add(group);
        _all.AddRange(group.Params);
        _groupOf = [.. _groupOf, .. Enumerable.Repeat(_groups.Count - 1, group.Params.Count)];
        _sizes = [.. _sizes, .. group.Params.Select(p => p.Numel)];
        _backend?.Reset();
    }

    /// <summary>
    /// A snapshot of the optimizer, in PyTorch's <c>state_dict()</c> layout, with the parameters' names and
    /// shapes. It shares no memory with the optimizer. A param group whose parameters all have a
    /// <see cref="Parameter.Name"/> records them under <c>param_names</c>, as PyTorch 2.x does for an optimizer given
    /// named parameters; without names the JSON has no such key in its groups.
    /// </summary>
    /// <remarks>The hooks run around it, as PyTorch 2.x's do: <see cref="RegisterStateDictPreHook"/>'s before it is built,
    /// then <see cref="RegisterStateDictPostHook"/>'s, each of which may replace it.</remarks>
    /// <returns>The state dict (or what the post-hooks replaced it with).</returns>
    public StateDict StateDict()
    {
        RunHooks(_stateDictPreHooks.Items);
        return RunStateDictHooks(_stateDictPostHooks.Items, BuildStateDict());
    }

    private StateDict BuildStateDict()
    {
        _backend?.SyncToHost();
        var records = _groups.Select((g, gi) => new GroupRecord(
            g.Keys.Select(k => Tuple.Create(k, ToValue(g, k))).ToArray(),
            Enumerable.Range(Offset(gi), g.Params.Count).ToArray())).ToArray();
        return MakeStateDict(new Checkpoint(
            _defaults.Kind, StateModule.copy(_state), records,
            _all.Select(p => p.Name!).ToArray(), _all.Select(p => (int[])p.Shape.Clone()).ToArray()));
    }

    /// <summary>
    /// Restores state and hyperparameters from a <see cref="CSharp.StateDict"/> taken from an optimizer of the
    /// same kind over parameters of the same count, shapes, names and grouping.
    /// </summary>
    /// <param name="state">The state dict.</param>
    /// <exception cref="ArgumentException">It does not fit (another kind, count, shape, name or group layout, an unknown buffer, an invalid hyperparameter); the optimizer is exactly as before.
    /// A parameter whose <see cref="Parameter.Name"/> differs from the name the state dict recorded at its index is a misfit: an
    /// optimizer's state saved for <c>0.weight</c> does not load into <c>2.weight</c> of the same shape. A parameter without a
    /// name, here or in the state dict, loads by position and shape alone.</exception>
    /// <remarks>The hooks run around it, as PyTorch 2.x's do: <see cref="RegisterLoadStateDictPreHook"/>'s first, each of
    /// which may replace the state dict to load (one that throws leaves the optimizer exactly as before), then the load, then
    /// <see cref="RegisterLoadStateDictPostHook"/>'s, after the whole state dict has been loaded.</remarks>
    public void LoadStateDict(StateDict state)
    {
        ArgumentNullException.ThrowIfNull(state);
        Load(RunStateDictHooks(_loadStateDictPreHooks.Items, state));
        RunHooks(_loadStateDictPostHooks.Items);
    }

    private void Load(StateDict state)
    {
        var c = state.Checkpoint;
        var template = InitState([]);
        foreach (var g in _groups) template = StateModule.append(template, InitGroupState(g, Tensors(g)));
        var newState = CheckpointModule.conform(
            _defaults.Kind, template,
            _all.Select(p => p.Shape).ToArray(), _all.Select(p => p.Name!).ToArray(),
            _groups.Select(g => g.Params.Count).ToArray(), c);
        var commitOwnState = LoadOwnState(state);
        var restored = new List<HyperSnapshot>();
        try
        {
            for (int gi = 0; gi < _groups.Count; gi++)
            {
                var snapshot = new HyperSnapshot([], [], [], [], []);
                foreach (var (key, value) in c.Groups[gi].Hyper)
                {
                    snapshot.Order.Add(key);
                    var (isPair, isFlag) = KnownForm(_defaults.Descriptor, _groups[gi], key);
                    if (isFlag == true && value is HyperValue.Number)
                        throw new CheckpointException($"Param group {gi} of the state dict holds a number for '{key}', where a boolean belongs.");
                    if (isFlag == false && value is HyperValue.Flag)
                        throw new CheckpointException($"Param group {gi} of the state dict holds a boolean for '{key}', where a number belongs.");
                    // a group keeps a key it does not know as a number: a boolean would come back as one, not as itself
                    if (isFlag is null && _defaults.Descriptor is not null && value is HyperValue.Flag)
                        throw new CheckpointException($"Param group {gi} of the state dict holds the boolean '{key}', which {_defaults.Kind} does not take.");
                    if (isPair == true && value is not HyperValue.Pair)
                        throw new CheckpointException($"Param group {gi} of the state dict holds '{key}' as one value, where a pair belongs.");
                    if (isPair == false && value is HyperValue.Pair)
                        throw new CheckpointException($"Param group {gi} of the state dict holds '{key}' as a pair, where one value belongs.");
                    if (value is HyperValue.Number n) { Hyper.CheckScalar(_defaults.Descriptor, key, n.Item); snapshot.Scalars.Add((key, n.Item)); }
                    else if (value is HyperValue.Flag f) snapshot.Scalars.Add((key, f.Item ? 1.0 : 0.0));
                    else if (value is HyperValue.Pair pair && IsPair(key))
                    {
                        Hyper.CheckPair(_defaults.Descriptor, key, (pair.Item1, pair.Item2));
                        snapshot.Pairs.Add((key, (pair.Item1, pair.Item2)));
                    }
                    else if (value is HyperValue.Triple triple && Hyper.IsTriple(key))
                    {
                        Hyper.CheckTriple(key, (triple.Item1, triple.Item2, triple.Item3));
                        snapshot.Triples!.Add((key, (triple.Item1, triple.Item2, triple.Item3)));
                    }
                    else if ((value is HyperValue.Text || value.IsAbsent) && Hyper.IsText(key))
                    {
                        var text = value is HyperValue.Text t ? t.Item : null;
                        Hyper.CheckText(key, text);
                        snapshot.Texts!.Add((key, text));
                    }
                    else throw new CheckpointException($"Param group {gi} of the state dict holds '{key}' of a kind this optimizer does not take.");
                }
                // keys a later PyTorch added: a state dict written before them (by PyTorch or an earlier Optim) lacks them,
                // and they take the values PyTorch's __setstate__ gives them
                foreach (var (key, value) in OlderStateDicts.SetDefaults(_defaults.Kind))
                    if (!snapshot.Order.Contains(key))
                    {
                        snapshot.Order.Add(key);
                        snapshot.Scalars.Add((key, value));
                    }
                var probe = new ParamGroup([]);
                probe.Restore(snapshot);
                try { Validate(probe); }
                catch (KeyNotFoundException e)
                {
                    throw new CheckpointException($"Param group {gi} of the state dict lacks a hyperparameter in the form this optimizer takes: {e.Message}");
                }
                restored.Add(snapshot);
            }
        }
        catch (ArgumentException e) when (e is not CheckpointException)
        {
            // a saved hyperparameter outside its rule: the state dict is what is wrong
            throw new CheckpointException($"The state dict holds an invalid hyperparameter: {e.Message}");
        }
        CheckComplete(restored, c);
        for (int gi = 0; gi < _groups.Count; gi++) _groups[gi].Restore(restored[gi]);
        _state = newState;
        _backend?.Reset();
        commitOwnState?.Invoke();
    }

    /// <summary>
    /// The form of a key, where it is known: whether it is a pair, and whether it is a boolean. From the optimizer's
    /// descriptor; for an optimizer without one, whether it is a pair from the loading group (which holds flags as
    /// scalars, so whether it is a boolean is not known there).
    /// </summary>
    private static (bool? IsPair, bool? IsFlag) KnownForm(Optim.Descriptor? owner, ParamGroup group, string key)
    {
        if (owner is not null)
            return owner.TryFind(key) is { IsSome: true } own
                ? (own.Value.Kind == HyperKind.Pair, own.Value.Kind == HyperKind.Flag)
                : (null, null);
        var current = group.Snapshot();
        if (current.Pairs.Any(kv => kv.Key == key)) return (true, false);
        if (current.Scalars.Any(kv => kv.Key == key)) return (false, null);
        return (null, null);
    }

    /// <summary>Fails on a parameter whose saved state lacks a buffer its group keeps under the saved hyperparameters.</summary>
    private void CheckComplete(List<HyperSnapshot> groups, Checkpoint c)
    {
        var kept = new string[_all.Count][];
        int index = 0;
        for (int gi = 0; gi < _groups.Count; gi++)
            foreach (var p in _groups[gi].Params) kept[index++] = KeptBuffers(groups[gi], p.Shape)!;
        CheckpointModule.checkComplete(_defaults.Kind, kept, c);
    }

    /// <summary>
    /// The buffers a parameter of this shape has once it has state, under a group's hyperparameters, or null where the
    /// optimizer cannot say (a subclass's, a composed chain's): then a load requires none. Described optimizers read their
    /// descriptor's chain.
    /// </summary>
    private protected virtual string[]? KeptBuffers(HyperSnapshot group, int[] shape)
    {
        if (_defaults.Descriptor is not { } descriptor) return null;
        var values = Microsoft.FSharp.Collections.ListModule.OfSeq(
            group.Scalars.Select(kv => Tuple.Create(kv.Key, new[] { kv.Value }))
                .Concat(group.Pairs.Select(kv => Tuple.Create(kv.Key, new[] { kv.Value.Item1, kv.Value.Item2 }))));
        return descriptor.KeptBuffers(values, shape);
    }

    private int Offset(int group)
    {
        int o = 0;
        for (int g = 0; g < group; g++) o += _groups[g].Params.Count;
        return o;
    }

    private HyperValue ToValue(ParamGroup g, string key)
    {
        if (IsPair(key)) { var (a, b) = g.GetPair(key); return HyperValue.NewPair(a, b); }
        if (Hyper.IsTriple(key)) { var (a, b, c) = g.GetTriple(key); return HyperValue.NewTriple(a, b, c); }
        if (Hyper.IsText(key)) return g.GetText(key) is { } text ? HyperValue.NewText(text) : HyperValue.Absent;
        return Array.IndexOf(_defaults.Flags, key) >= 0 ? HyperValue.NewFlag(g[key] != 0) : HyperValue.NewNumber(g[key]);
    }

    /// <summary>Whether a key is a pair for this optimizer: a pair everywhere (<c>"betas"</c>, …) or one of its own (Adafactor's <c>"eps"</c>).</summary>
    private bool IsPair(string key) => Hyper.IsPair(key) || Array.Exists(_defaults.Pairs, p => p.Key == key);

    private static CoreTensor[] Tensors(ParamGroup group) => group.Params.Select(p => new CoreTensor(p.Shape, p.Data)).ToArray();

    /// <summary>The core state for new parameters, declaring every buffer this kind may keep.</summary>
    private protected virtual State InitState(CoreTensor[] parameters) =>
        _defaults.Descriptor is { } d ? d.Init(parameters) : SubclassInitState(parameters);

    /// <summary>
    /// The core state for the parameters of a group being added (or reloaded). Optimizers whose state starts
    /// from a group's hyperparameters (Adagrad's <c>initial_accumulator_value</c>) override it.
    /// </summary>
    private protected virtual State InitGroupState(ParamGroup group, CoreTensor[] parameters) => InitState(parameters);

    /// <summary>Reads and validates a group's hyperparameters, throwing on invalid ones (by the descriptor, if the kind has one).</summary>
    private protected virtual void Validate(ParamGroup group)
    {
        if (_defaults.Descriptor is { } d) d.Validate(group.ValuesFor(d));
        else SubclassValidate(group);
    }

    /// <summary>Reads and validates group <paramref name="index"/>'s options into a per-group cache, before a step.</summary>
    private protected virtual void Prepare(int index, ParamGroup group) => Validate(group);

    /// <summary>Steps one parameter in place with its group's prepared options.</summary>
    private protected virtual void StepParam(int group, State state, int index, Span<float> param, ReadOnlySpan<float> grad) =>
        SubclassStep(group, state, index, grad);

    /// <summary>Whether the optimizer takes dense gradients (<see cref="Parameter.Grad"/>); all but SparseAdam do.</summary>
    private protected virtual bool AcceptsDenseGradients => true;

    /// <summary>Whether the optimizer takes sparse gradients (<see cref="Parameter.AccumulateSparseGrad"/>): SparseAdam, and SGD and Adagrad, as in PyTorch 1.13.</summary>
    private protected virtual bool AcceptsSparseGradients => false;

    /// <summary>Steps one parameter with a sparse gradient in place; called only when <see cref="AcceptsSparseGradients"/>.</summary>
    private protected virtual void StepSparseParam(int group, State state, int index, Parameter param) =>
        throw new NotSupportedException($"{_defaults.Kind} does not support sparse gradients.");

    private protected static bool Flag(ParamGroup g, string key) => g[key] != 0;

    /// <summary>Checks that a group may be added, before anything changes; LBFGS takes only one.</summary>
    private protected virtual void CheckNewGroup(ParamGroup group) { }

    /// <summary>Wraps a snapshot of groups and per-parameter state; an optimizer with state of its own (LBFGS) adds it.</summary>
    private protected virtual StateDict MakeStateDict(Checkpoint checkpoint) => new(checkpoint);

    /// <summary>
    /// Checks the state an optimizer keeps apart from the per-parameter table (LBFGS's global state) in a state dict that
    /// already fits, changing nothing, and returns what applies it once everything else is checked (null: nothing to apply).
    /// </summary>
    private protected virtual Action? LoadOwnState(StateDict state) => null;
}
