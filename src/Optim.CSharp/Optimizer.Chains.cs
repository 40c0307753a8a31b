using Optim;

namespace Optim.CSharp;

/// <summary>
/// A param group's hyperparameters as a chain reads them: structural flags when the chain is built, and cells that
/// <see cref="Refresh"/> fills from the group before every step, so that a scheduler's change to <c>group.Lr</c> (or any
/// other key) takes effect at the next step without rebuilding the chain.
/// </summary>
internal sealed class GroupHypers : Hypers
{
    private readonly ParamGroup _group;
    // each cell, and whether its key holds a pair in the group (decided once, when the chain is built)
    private readonly List<(Cell Cell, bool Pair)> _cells = [];
    private readonly List<(string Key, bool Value)> _flags = [];

    public GroupHypers(ParamGroup group) => _group = group;

    public override bool Flag(string key)
    {
        bool value = _group[key] != 0;
        _flags.Add((key, value));
        return value;
    }

    public override Cell Cell(string key, int index)
    {
        bool pair = Hyper.IsPair(key) || !_group.ContainsKey(key) || IsPairValued(key);
        var cell = new Cell(key, Read(key, index, pair)) { Index = index };
        _cells.Add((cell, pair));
        return cell;
    }

    private double Read(string key, int index, bool pair)
    {
        if (!pair) return _group[key];
        var (a, b) = _group.GetPair(key);
        return index == 0 ? a : b;
    }

    private bool IsPairValued(string key)
    {
        try { _ = _group[key]; return false; }
        catch (KeyNotFoundException) { return true; }
    }

    /// <summary>Whether a flag the chain was built with has changed in the group (the chain must then be rebuilt).</summary>
    public bool FlagsChanged()
    {
        foreach (var (key, value) in _flags)
            if ((_group[key] != 0) != value) return true;
        return false;
    }

    /// <summary>Copies the group's current values into the chain's cells.</summary>
    public void Refresh()
    {
        foreach (var (cell, pair) in _cells) cell.Value = Read(cell.Key, cell.Index, pair);
    }
}

/// <summary>One param group's compiled chain: the stages before its last fused pass, the pass, and its binding to the state.</summary>
internal sealed class GroupChain
{
    public GroupChain(GroupHypers hypers, GradientTransformation chain)
    {
        Hypers = hypers;
        var stages = chain.Stages;
        var last = stages.IsEmpty ? null : stages[stages.Length - 1];
        if (last is Stage.Fused fused)
        {
            Plan = fused.Item;
            Upstream = stages.Take(stages.Length - 1).Select(StageTransformation).ToArray();
        }
        else
        {
            // a chain that ends in an opaque stage: its updates are added by a pass of no ops
            Plan = new Plan([]);
            Upstream = stages.Select(StageTransformation).ToArray();
        }
        Reduces = Plan.Ops.Any(op => op.Reduces);
        if (stages.All(st => st is Stage.Fused))
            Passes = stages.Select(st => ((Stage.Fused)st).Item).ToArray();
    }

    /// <summary>For a chain of elementwise blocks only: the plans of its passes, in order (the last is <see cref="Plan"/>); else null.</summary>
    public Plan[]? Passes { get; }

    /// <summary>For a device that runs every pass of the chain (see <see cref="DeviceBackend.RunsPasses"/>): the passes
    /// before the last, each bound in place to the state; else null.</summary>
    public Bound[]? PassBounds { get; set; }

    /// <summary>Whether the device runs every pass of this chain this step (its stages before the last then do not run on the host).</summary>
    public bool DevicePasses { get; set; }

    private static GradientTransformation StageTransformation(Stage s) =>
        s is Stage.Fused f ? Stages.ofPlan("", f.Item) : ((Stage.Opaque)s).Item;

    public GroupHypers Hypers { get; }
    public Plan Plan { get; }
    /// <summary>The stages that run before the fused pass, as written (they allocate); empty for a chain of elementwise blocks.</summary>
    public GradientTransformation[] Upstream { get; }
    public Bound? Bound { get; set; }
    /// <summary>Whether the fused pass starts with a reduction over the group's incoming updates (a global norm).</summary>
    public bool Reduces { get; }
    /// <summary>Per parameter of the optimizer, the pass's input for the reduction (null outside the group), reused.</summary>
    public float[]?[] Inputs { get; set; } = [];
}

public abstract partial class Optimizer
{
    private GroupChain?[] _chains = [];
    // per parameter, the updates the stages before a group's fused pass made of its gradient (only for such groups)
    private float[]?[] _upstream = [];

    /// <summary>
    /// The chain of blocks that steps a group, built over its hyperparameters: the built-in elementwise optimizers and
    /// <see cref="ComposedOptimizer"/> give one; null steps the group through <see cref="StepParam"/>.
    /// </summary>
    private protected virtual GradientTransformation? BuildChain(Hypers hypers) => _defaults.Descriptor?.Chain.Invoke(hypers);

    /// <summary>The core state (live), with the device's state copied into it first when the optimizer runs on one.</summary>
    private protected State CoreState
    {
        get
        {
            _backend?.SyncToHost();
            return _state;
        }
    }

    private Device _device = Device.Cpu;
    private DeviceBackend? _backend;

    /// <summary>
    /// Where the optimizer keeps its state and runs its step: <see cref="CSharp.Device.Cpu"/> unless set. Choose it at
    /// construction, with an object initializer (<c>new Adam(ps) { Device = gpu }</c>); set between steps, it moves the
    /// state to the new device (as <c>optimizer.to(device)</c> would).
    /// </summary>
    /// <exception cref="NotSupportedException">The optimizer's step is not a chain of blocks a device can run (LBFGS,
    /// Adafactor, Muon, a subclass with its own <c>StepParameter</c>); it stays where it was.</exception>
    /// <exception cref="InvalidOperationException">A <see cref="Step"/> is running.</exception>
    public Device Device
    {
        get => _device;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            if (ReferenceEquals(value, _device)) return;
            if (Volatile.Read(ref _stepping) != 0)
                throw new InvalidOperationException("The optimizer's Device cannot change while it steps.");
            if (!ReferenceEquals(value, Device.Cpu) && !Chained)
                throw new NotSupportedException(
                    $"{_defaults.Kind} cannot run on {value.Name}: only an optimizer whose step is a chain of blocks (the " +
                    "built-in elementwise optimizers and ComposedOptimizer) runs on a device.");
            var backend = value.CreateBackend(this);
            // the state comes home from the old device; the new one uploads it at its first step
            _backend?.SyncToHost();
            _backend = backend;
            _device = value;
        }
    }

    /// <summary>
    /// A step on the device over the gradients and parameters it already holds (no hooks, no transfers): what the
    /// kernels cost, for a benchmark. The host's parameters do not follow.
    /// </summary>
    /// <exception cref="InvalidOperationException">The optimizer is on the CPU.</exception>
    internal void StepResidentOnDevice()
    {
        if (_backend is null) throw new InvalidOperationException("The optimizer is on the CPU: there is no device step to time.");
        PrepareChains();
        _backend.StepResident();
        StepCount++;
    }

    /// <summary>Every parameter, in the order of the groups (for a device's engine).</summary>
    internal IReadOnlyList<Parameter> AllParameters => _all;

    /// <summary>Per param group, its compiled chain as the last <see cref="PrepareChains"/> left it (for a device's engine).</summary>
    internal GroupChain?[] Chains => _chains;

    /// <summary>The param group of parameter <paramref name="index"/>.</summary>
    internal int GroupOf(int index) => _groupOf[index];

    /// <summary>The host's core state, as it is (a device's engine keeps it in step).</summary>
    internal State HostState => _state;

    /// <summary>The incoming updates of parameter <paramref name="index"/> for its group's fused pass: the updates of the
    /// stages before the pass run on the host, or its gradient (also when the device runs every pass).</summary>
    internal float[]? PassInput(int index) =>
        _chains[_groupOf[index]] is { Upstream.Length: > 0, DevicePasses: false } ? _upstream[index] : _all[index].Grad;

    /// <summary>The parameters as core tensors over their live buffers, in the order of the groups.</summary>
    private protected CoreTensor[] CoreTensors() => _all.Select(p => new CoreTensor(p.Shape, p.Data)).ToArray();

    /// <summary>The transformation of a <see cref="ComposedOptimizer"/> (null for the other kinds).</summary>
    private protected Transformation? ChainOf => _defaults.Chain;

    /// <summary>Whether this optimizer steps its groups through the chains <see cref="BuildChain"/> gives.</summary>
    private protected virtual bool Chained => _defaults.Descriptor is not null;

    /// <summary>Builds (or rebuilds, when a structural flag changed) every group's chain, refreshes its cells, runs the
    /// stages before its fused pass, and binds the pass to the current state.</summary>
    private void PrepareChains()
    {
        if (_chains.Length != _groups.Count) Array.Resize(ref _chains, _groups.Count);
        // sized here, before the parameters' passes run on the kernel threads (groups only grow)
        if (_scattered.Length != _all.Count) Array.Resize(ref _scattered, _all.Count);
        bool upstream = false;
        for (int g = 0; g < _groups.Count; g++)
        {
            var c = _chains[g];
            if (c is null || c.Hypers.FlagsChanged())
            {
                var hypers = new GroupHypers(_groups[g]);
                var chain = BuildChain(hypers) ?? throw new InvalidOperationException($"{_defaults.Kind} gave no chain for param group {g}.");
                _chains[g] = c = new GroupChain(hypers, chain);
            }
            c.Hypers.Refresh();
            c.DevicePasses = _backend is not null && c.Upstream.Length > 0 && _backend.RunsPasses(c);
            upstream |= c.Upstream.Length > 0 && !c.DevicePasses;
        }
        if (upstream) RunUpstream();
        int offset = 0;
        for (int g = 0; g < _groups.Count; g++)
        {
            var c = _chains[g]!;
            if (c.Bound is null || !ReferenceEquals(c.Bound.Src, _state)) c.Bound = new Bound(c.Plan, _state, _state);
            c.Bound.Refresh();
            int count = _groups[g].Params.Count;
            if (c.DevicePasses)
            {
                // the device runs every pass, and the reductions that start them, where the updates lie
                var passes = c.Passes!;
                if (c.PassBounds is null || c.PassBounds.Length != passes.Length - 1 || !ReferenceEquals(c.PassBounds[0].Src, _state))
                    c.PassBounds = passes.Take(passes.Length - 1).Select(plan => new Bound(plan, _state, _state)).ToArray();
                foreach (var b in c.PassBounds) b.Refresh();
            }
            else if (c.Reduces)
            {
                if (c.Inputs.Length != _all.Count) c.Inputs = new float[]?[_all.Count];
                Array.Clear(c.Inputs);
                for (int i = offset; i < offset + count; i++)
                    if (_all[i].RequiresGrad) c.Inputs[i] = c.Upstream.Length > 0 ? _upstream[i] : _all[i].Grad;
                c.Bound.Reduce(c.Inputs);
            }
            offset += count;
        }
    }

    /// <summary>The stages before the fused passes, group by group, over the whole state: a group's stages see the other
    /// groups' parameters as having no gradient.</summary>
    private void RunUpstream()
    {
        if (_upstream.Length != _all.Count) _upstream = new float[]?[_all.Count];
        Array.Clear(_upstream);
        var tensors = _all.Select(p => new CoreTensor(p.Shape, p.Data)).ToArray();
        var state = _state;
        int offset = 0;
        for (int g = 0; g < _groups.Count; g++)
        {
            var c = _chains[g]!;
            int count = _groups[g].Params.Count;
            if (c.Upstream.Length > 0 && !c.DevicePasses)
            {
                var u = new float[]?[_all.Count];
                for (int i = offset; i < offset + count; i++)
                    if (_all[i].RequiresGrad) u[i] = _all[i].Grad;
                foreach (var t in c.Upstream)
                {
                    var r = t.Update.Invoke(u).Invoke(state).Invoke(tensors);
                    u = r.Item1;
                    state = r.Item2;
                }
                for (int i = offset; i < offset + count; i++) _upstream[i] = u[i];
            }
            offset += count;
        }
        _state = state;
    }

    /// <summary>Steps parameter <paramref name="index"/> through its group's fused pass; may run on the kernels' worker thread.</summary>
    private void StepChained(int index)
    {
        var p = _all[index];
        if (!p.RequiresGrad) return;
        var c = _chains[_groupOf[index]]!;
        if (p.Grad is null && p.HasSparseGrad)
        {
            StepSparseChained(c, index, p);
            return;
        }
        var g = c.Upstream.Length > 0 ? _upstream[index] : p.Grad;
        // a gate may have rejected the group's step (applyIfFinite), or hold it (multiSteps: the parameter does not move
        // and counts no step), or release for this parameter what it held even though it has no gradient now
        Fusion.StepInPlace(c.Bound!, index, p.Data, g);
    }

    // per parameter, the dense array a sparse gradient is scattered into for the fused pass (allocated on its first one)
    private float[]?[] _scattered = [];

    /// <summary>
    /// A sparse gradient through the group's fused pass (SGD's and Adagrad's; see <see cref="SparseRowsOnly"/>): its rows
    /// (repeats summed) are scattered into a dense array, and the pass runs over those rows only, or over the whole
    /// parameter with zeros elsewhere.
    /// </summary>
    private void StepSparseChained(GroupChain c, int index, Parameter p)
    {
        var sparse = p.CoalescedSparseGrad();
        int width = Math.Max(1, p.SparseRowWidth);
        var dense = _scattered[index] ??= new float[p.Numel];
        bool rowsOnly = SparseRowsOnly(_groups[_groupOf[index]]);
        if (!rowsOnly) Array.Clear(dense);
        for (int k = 0; k < sparse.Rows.Length; k++)
            sparse.Values.AsSpan(k * width, width).CopyTo(dense.AsSpan(sparse.Rows[k] * width, width));
        if (rowsOnly) Fusion.StepRowsInPlace(c.Bound!, index, p.Data, dense, sparse.Rows, width);
        else Fusion.StepInPlace(c.Bound!, index, p.Data, dense);
    }

    /// <summary>
    /// How a sparse gradient steps a group: true, only its rows change, with their buffers (Adagrad's rule, and SGD's
    /// without momentum); false, the whole parameter steps on the gradient with zeros in the other rows (SGD with
    /// momentum, whose buffer decays in every row, as PyTorch's sparse buffer does in the rows it holds).
    /// </summary>
    private protected virtual bool SparseRowsOnly(ParamGroup group) => true;

    /// <summary>Why a group cannot step on a sparse gradient (PyTorch's message), or null when it can; checked before any parameter moves.</summary>
    private protected virtual string? SparseIncompatibility(ParamGroup group) => null;
}
