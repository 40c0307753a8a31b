using System.Text;
using ILGPU;
using ILGPU.Runtime;
using Optim;
using Optim.CSharp;

namespace Optim.Gpu;

/// <summary>
/// One optimizer's engine on a <see cref="GpuDevice"/>. The parameters, the pass inputs and every state buffer of the
/// groups' fused passes lie in flat device buffers (parameter i at <c>_offsets[i]</c>), the state buffers resident
/// between steps; the host's arrays in the optimizer's core state are a mirror, written by <see cref="SyncToHost"/>.
/// A step, per group: the host prepares each stepping parameter's scalars with the core's own <c>Prepare</c>s (in
/// double, into one row per tensor), uploads the gradients and parameters, and launches one kernel over every stepping
/// tensor of the group; the kernel is the group's chain, compiled as a composition of the blocks' element structs.
/// </summary>
internal sealed class GpuBackend : DeviceBackend
{
    private readonly GpuDevice _device;
    private readonly Optimizer _optimizer;
    private long[] _offsets = [];
    private int[] _lengths = [];
    private DeviceBuffer? _p, _g, _u0, _u1;
    private readonly Dictionary<string, DeviceBuffer> _slots = [];
    // whether the device holds the state (else the host's arrays are the state), and whether it is newer than the host's
    private bool _resident, _dirty;
    private DeviceBuffer? _scalars;
    private float[] _rows = [];
    private long[] _startsHost = [], _basesHost = [];
    private MemoryBuffer1D<long, Stride1D.Dense>? _starts, _bases;

    public GpuBackend(GpuDevice device, Optimizer optimizer)
    {
        _device = device;
        _optimizer = optimizer;
    }

    public override void Reset()
    {
        _resident = false;
        _dirty = false;
    }

    public override void SyncToHost()
    {
        lock (_device.Gate) SyncToHostLocked();
    }

    private void SyncToHostLocked()
    {
        if (!_dirty) return;
        var state = _optimizer.HostState;
        foreach (var (name, buffer) in _slots)
        {
            if (!state.Buffers.TryGetValue(name, out var table)) continue;
            for (int i = 0; i < table.Length && i < _offsets.Length; i++)
                if (table[i] is { } host && host.Length == _lengths[i]) buffer.Download(host, _offsets[i]);
        }
        _dirty = false;
    }

    /// <summary>Lays the parameters out in flat device buffers (again, when parameters or buffer names changed), and
    /// uploads the host's state when the device does not hold it.</summary>
    private void EnsureLayout()
    {
        var ps = _optimizer.AllParameters;
        var chains = _optimizer.Chains;
        var state = _optimizer.HostState;
        var names = new HashSet<string>();
        bool passes = false;
        foreach (var c in chains)
        {
            if (c is null) continue;
            if (c.Plan.Names.Length > StepArgs.MaxSlots)
                throw new NotSupportedException(
                    $"A chain with {c.Plan.Names.Length} state buffers per parameter cannot run on {_device.Name} (at most {StepArgs.MaxSlots}).");
            foreach (var plan in c.DevicePasses ? c.Passes! : [c.Plan]) names.UnionWith(plan.Names);
            passes |= c.DevicePasses;
        }
        bool relayout = _p is null || _offsets.Length != ps.Count || !names.IsSubsetOf(_slots.Keys) || (passes && _u0 is null);
        for (int i = 0; !relayout && i < ps.Count; i++) relayout = _lengths[i] != ps[i].Numel;
        if (relayout)
        {
            SyncToHostLocked();
            Free();
            _offsets = new long[ps.Count];
            _lengths = new int[ps.Count];
            long total = 0;
            for (int i = 0; i < ps.Count; i++)
            {
                _offsets[i] = total;
                _lengths[i] = ps[i].Numel;
                total += ps[i].Numel;
            }
            _p = _device.Allocate(total);
            _g = _device.Allocate(total);
            foreach (var name in names) _slots[name] = _device.Allocate(total);
            if (passes) (_u0, _u1) = (_device.Allocate(total), _device.Allocate(total));
            _resident = false;
        }
        if (!_resident)
        {
            foreach (var (name, buffer) in _slots)
            {
                if (!state.Buffers.TryGetValue(name, out var table)) continue;
                for (int i = 0; i < table.Length; i++)
                    if (table[i] is { } host && host.Length == _lengths[i]) buffer.Upload(host, _offsets[i]);
            }
            _resident = true;
            _dirty = false;
        }
    }

    private void Free()
    {
        _p?.Dispose();
        _g?.Dispose();
        foreach (var b in _slots.Values) b.Dispose();
        _slots.Clear();
        _u0?.Dispose();
        _u1?.Dispose();
        _p = _g = _u0 = _u1 = null;
    }

    /// <summary>One group's step: its passes (one, or every pass of a chain the device runs whole), each with its kernel.</summary>
    private sealed record Launch(int Group, List<int> Members, Optim.Bound[] Passes, IStepKernel[] Kernels);

    public override bool RunsPasses(GroupChain chain)
    {
        // every pass of a chain of elementwise blocks, when the passes before the last end in plain updates (no gate, no
        // op on the new parameter) and each reduction after the first pass can be taken from sums of squares
        if (chain.Passes is not { Length: > 1 } passes) return false;
        for (int k = 0; k < passes.Length; k++)
            foreach (var op in passes[k].Ops)
            {
                if (k < passes.Length - 1 && (op.ReadsNewParameter || op is Ops.FiniteGate || op is Ops.Accumulate)) return false;
                if (k > 0 && op.Reduces && !op.ReducesFromSquares) return false;
                if (passes[k].Names.Length > StepArgs.MaxSlots) return false;
            }
        return true;
    }

    public override void Step()
    {
        // one device runs one launch at a time (ILGPU's accelerators are not to be driven from two threads at once)
        lock (_device.Gate) StepLocked(transfer: true);
    }

    /// <summary>
    /// The step over what the device already holds, without the transfers of <see cref="Step"/> (no gradient or
    /// parameter upload, no parameter download): what a model whose tensors live on the device would pay. For the
    /// benchmark of the kernels alone; the host's parameters then lag behind the device's.
    /// </summary>
    public override void StepResident()
    {
        lock (_device.Gate) StepLocked(transfer: false);
    }

    private IStepKernel Compile(int g, Optim.Bound b, bool updates)
    {
        var (key, build) = Programs.For(b, updates);
        try { return _device.Kernel(key, build); }
        catch (System.Reflection.TargetInvocationException e) when (e.InnerException is not null)
        {
            throw new InvalidOperationException($"The device kernel of param group {g}'s chain could not be compiled for {_device.Name}: {e.InnerException.Message}", e.InnerException);
        }
    }

    private void StepLocked(bool transfer)
    {
        var ps = _optimizer.AllParameters;
        var chains = _optimizer.Chains;
        EnsureLayout();
        // every group's kernels are compiled, and its size checked, before anything changes
        var launches = new List<Launch>();
        for (int g = 0; g < chains.Length; g++)
        {
            var c = chains[g]!;
            var members = new List<int>();
            long elements = 0;
            for (int i = 0; i < ps.Count; i++)
                if (_optimizer.GroupOf(i) == g)
                {
                    members.Add(i);
                    elements += ps[i].Numel;
                }
            if (elements > int.MaxValue)
                throw new NotSupportedException(
                    $"Param group {g} holds {elements} elements, more than one launch covers ({int.MaxValue}): split it into groups.");
            var passes = c.DevicePasses ? [.. c.PassBounds!, c.Bound!] : new[] { c.Bound! };
            var kernels = passes.Select((b, k) => Compile(g, b, updates: k < passes.Length - 1)).ToArray();
            launches.Add(new Launch(g, members, passes, kernels));
        }
        bool ran = false;
        foreach (var launch in launches) ran |= Run(launch, transfer);
        if (ran) _dirty = true;
    }

    /// <summary>Runs a group's passes: each pass's input is the gradient (the first) or the updates of the pass before;
    /// the reductions that start the later passes are taken on the device. Returns whether anything ran.</summary>
    private bool Run(Launch launch, bool transfer)
    {
        var ps = _optimizer.AllParameters;
        int n = launch.Passes.Length;
        // the group's parameters that take part in the pass, in order
        var present = launch.Members.Where(i => ps[i].RequiresGrad).ToList();
        bool ran = false;
        for (int k = 0; k < n; k++)
        {
            var b = launch.Passes[k];
            bool first = k == 0, last = k == n - 1;
            if (n > 1 && b.Plan.Ops.Any(op => op.Reduces))
            {
                if (first) b.Reduce([.. ps.Select((p, i) => _optimizer.GroupOf(i) == launch.Group && p.RequiresGrad ? p.Grad : null)]);
                else
                {
                    var (sums, has) = Squares(present, Pass(k - 1));
                    b.ReduceWith(op => b.Plan.Ops[op].ReduceFromSquares(sums, has));
                }
            }
            if (!b.Runs) return ran;
            var tensors = present.Where(i => b.Steps(i, first ? _optimizer.PassInput(i) : ps[i].Data)).ToList();
            if (tensors.Count == 0) return ran;
            RunPass(b, launch.Kernels[k], tensors, transfer, first, first ? _g!.View : Pass(k - 1), last ? default : Pass(k), last);
            present = tensors;
            ran = true;
        }
        return ran;
    }

    /// <summary>The device buffer of pass k's updates (two, in turn).</summary>
    private ArrayView<float> Pass(int k) => (k % 2 == 0 ? _u0! : _u1!).View;

    /// <summary>Per tensor of <paramref name="tensors"/> (all of the optimizer's parameters are indexed), Σ float64(x·x)
    /// of its updates in <paramref name="input"/>, and whether it has any.</summary>
    private (double[] Sums, bool[] Present) Squares(List<int> tensors, ArrayView<float> input)
    {
        var ps = _optimizer.AllParameters;
        var sums = new double[ps.Count];
        var has = new bool[ps.Count];
        int t = tensors.Count;
        if (t == 0) return (sums, has);
        Table(tensors, 0);
        if (_sums is null || _sums.Length < t)
        {
            _sums?.Dispose();
            _sums = _device.Accelerator.Allocate1D<double>(Math.Max(t, 16));
            _sumsHost = new double[_sums.Length];
        }
        var view = _sums.View.SubView(0, t);
        view.MemSetToZero();
        _squares ??= _device.Accelerator.LoadAutoGroupedStreamKernel<Index1D, SquaresArgs>(SquaresKernel.Run);
        _squares((int)_startsHost[t], new SquaresArgs { In = input, Starts = _starts!.View, Bases = _bases!.View, Sums = view, Tensors = t });
        _device.Accelerator.Synchronize();
        view.CopyToCPU(ref _sumsHost[0], t);
        var partial = _sumsHost;
        for (int j = 0; j < t; j++)
        {
            sums[tensors[j]] = partial[j];
            has[tensors[j]] = true;
        }
        return (sums, has);
    }

    private Action<Index1D, SquaresArgs>? _squares;
    // the per-tensor sums of a reduction, on the device and on the host: reused from step to step
    private MemoryBuffer1D<double, Stride1D.Dense>? _sums;
    private double[] _sumsHost = [];

    /// <summary>Writes the launch table's ranges for <paramref name="tensors"/> on the host and the device.</summary>
    private void Table(List<int> tensors, int stride)
    {
        var ps = _optimizer.AllParameters;
        int t = tensors.Count;
        if (_rows.Length < t * stride) _rows = new float[t * stride];
        if (_startsHost.Length < t + 1) (_startsHost, _basesHost) = (new long[t + 1], new long[t + 1]);
        _startsHost[0] = 0;
        for (int j = 0; j < t; j++)
        {
            _startsHost[j + 1] = _startsHost[j] + ps[tensors[j]].Numel;
            _basesHost[j] = _offsets[tensors[j]];
        }
        if (_starts is null || _starts.Length < t + 1)
        {
            _starts?.Dispose();
            _bases?.Dispose();
            _starts = _device.Accelerator.Allocate1D<long>(Math.Max(t + 1, 16));
            _bases = _device.Accelerator.Allocate1D<long>(Math.Max(t + 1, 16));
        }
        _starts.View.SubView(0, t + 1).CopyFromCPU(ref _startsHost[0], t + 1);
        _bases!.View.SubView(0, t).CopyFromCPU(ref _basesHost[0], t);
    }

    /// <summary>One pass over <paramref name="tensors"/>: the host prepares each tensor's scalars with the core's own
    /// <c>Prepare</c>s, uploads what the pass needs, and launches its kernel; after the last pass, the new parameters come
    /// back and the steps are counted.</summary>
    private void RunPass(Optim.Bound b, IStepKernel kernel, List<int> tensors, bool transfer, bool first,
                         ArrayView<float> input, ArrayView<float> output, bool last)
    {
        var ps = _optimizer.AllParameters;
        var plan = b.Plan;
        int stride = plan.ScalarCount + 3;
        int t = tensors.Count;
        Table(tensors, stride);
        var rows = _rows;
        var f = Frame.Current;
        try
        {
            for (int j = 0; j < t; j++)
            {
                int i = tensors[j];
                var p = ps[i];
                var gradient = first ? _optimizer.PassInput(i) : p.Data;
                // the slots this step creates (a parameter's first update) start on the device as the host fills them
                ulong fresh = 0;
                for (int s = 0; s < plan.Names.Length; s++)
                    if (b.SrcTables[s][i] is null) fresh |= 1UL << s;
                float decay = Fusion.PrepareParam(b, i, p.Numel, gradient is not null, f);
                Array.Copy(f.Scalars, 0, rows, j * stride, plan.ScalarCount);
                rows[j * stride + plan.ScalarCount] = decay;
                rows[j * stride + plan.ScalarCount + 1] = b.ApplyScale >= 0 ? f.Scalars[plan.ScalarBase[b.ApplyScale]] : 1.0f;
                rows[j * stride + plan.ScalarCount + 2] = b.InputDecayOp >= 0 ? plan.Ops[b.InputDecayOp].InputFactor() : 0.0f;
                for (int s = 0; s < plan.Names.Length; s++)
                    if ((fresh & (1UL << s)) != 0 && b.SrcTables[s][i] is { } created) _slots[plan.Names[s]].Upload(created, _offsets[i]);
                if (transfer && first && gradient is not null) _g!.Upload(gradient, _offsets[i]);
                if (transfer && first) _p!.Upload(p.Data, _offsets[i]);
            }
        }
        finally { f.Clear(); }
        var args = Arguments(plan, t, stride, b);
        args.G = input;
        args.Out = output;
        args.Updates = last ? 0 : 1;
        kernel.Launch(_device.Accelerator.DefaultStream, (int)_startsHost[t], args);
        _device.Accelerator.Synchronize();
        if (!last || b.Holds) return;
        foreach (int i in tensors)
        {
            if (transfer) _p!.Download(ps[i].Data, _offsets[i]);
            b.Src.Steps[i] += 1;
        }
    }

    private StepArgs Arguments(Plan plan, int t, int stride, Bound b)
    {
        if (_scalars is null || _scalars.Length < t * stride)
        {
            _scalars?.Dispose();
            _scalars = _device.Allocate(Math.Max(t * stride, 64));
        }
        _scalars.Upload(_rows.AsSpan(0, t * stride));
        ArrayView<float> Slot(int k) => k < plan.Names.Length ? _slots[plan.Names[k]].View : default;
        return new StepArgs
        {
            P = _p!.View, G = _g!.View,
            B0 = Slot(0), B1 = Slot(1), B2 = Slot(2), B3 = Slot(3), B4 = Slot(4), B5 = Slot(5), B6 = Slot(6), B7 = Slot(7),
            Starts = _starts!.View, Bases = _bases!.View, Scalars = _scalars.View,
            Stride = stride, Extra = plan.ScalarCount, Tensors = t,
            Negate = b.InputNegate ? 1 : 0, Holds = b.Holds ? 1 : 0,
        };
    }
}

/// <summary>The device program of a bound plan: the structure of this step's pass (which ops run, in which role) as a
/// generic composition of the blocks' element structs, and a key that names that structure.</summary>
internal static class Programs
{
    public static (string Key, Func<(Type, object)> Build) For(Bound b, bool updates = false)
    {
        var plan = b.Plan;
        var ops = plan.Ops;
        var pre = new List<(ElementwiseOp Op, int K, int Role)>();
        var tail = new List<(ElementwiseOp Op, int K, int Role)>();
        if (b.Holds)
        {
            for (int k = 0; k < b.HoldEnd; k++)
                if (b.Active[k] && !b.Absorbed[k]) pre.Add((ops[k], k, k == b.InputOp ? Role.Input : Role.Pre));
        }
        else
        {
            // a pass that gives updates runs its last scale op itself; one that applies folds it into the apply
            for (int k = 0; k < b.TailStart; k++)
                if (b.Active[k] && !b.Absorbed[k] && (updates || k != b.ApplyScale))
                    pre.Add((ops[k], k, ops[k].ReadsNewParameter ? Role.NewParameter : k == b.InputOp ? Role.Input : Role.Pre));
            for (int k = b.TailStart; k < ops.Length; k++)
                if (b.Active[k] && !b.Absorbed[k]) tail.Add((ops[k], k, Role.Tail));
        }
        var key = new StringBuilder(b.Holds ? "held" : updates ? "updates" : "apply");
        foreach (var (op, k, role) in pre.Concat(tail))
            key.Append('|').Append(op.GetType().Name).Append(':').Append(plan.ScalarBase[k]).Append(':')
               .Append(plan.BufBase[k]).Append(':').Append(op.Flags).Append(':').Append(role)
               .Append(k >= b.TailStart && !b.Holds ? "t" : "");
        bool apply = !b.Holds && !updates;
        return (key.ToString(), () =>
        {
            Type type = updates ? typeof(StoreStage) : typeof(End);
            object value = updates ? new StoreStage() : new End();
            for (int s = tail.Count - 1; s >= 0; s--) (type, value) = Wrap(tail[s], plan, type, value);
            if (apply)
            {
                var t = typeof(ApplyStage<>).MakeGenericType(type);
                var v = Activator.CreateInstance(t)!;
                t.GetField("Next")!.SetValue(v, value);
                (type, value) = (t, v);
            }
            for (int s = pre.Count - 1; s >= 0; s--) (type, value) = Wrap(pre[s], plan, type, value);
            return (type, value);
        });
    }

    private static (Type, object) Wrap((ElementwiseOp Op, int K, int Role) stage, Plan plan, Type nextType, object next)
    {
        var (opType, op) = Element(stage.Op, plan.ScalarBase[stage.K], plan.BufBase[stage.K]);
        var t = typeof(Stage<,>).MakeGenericType(opType, nextType);
        var v = Activator.CreateInstance(t)!;
        t.GetField("Op")!.SetValue(v, op);
        t.GetField("Role")!.SetValue(v, stage.Role);
        t.GetField("Next")!.SetValue(v, next);
        return (t, v);
    }

    /// <summary>The element struct of a block, with its scalar base, state slot base and switches.</summary>
    public static (Type, object) Element(ElementwiseOp op, int s, int b)
    {
        int f = op.Flags;
        return op switch
        {
            Ops.AddWeightDecay or Ops.DecoupledWeightDecay => Of(new AddScaledParamElement { S = s }),
            Ops.Trace => Of(new TraceElement { S = s, B = b, F = f }),
            Ops.LerpTrace => Of(new LerpTraceElement { S = s, B = b, F = f }),
            Ops.Adam => Of(new AdamElement { S = s, B = b, F = f }),
            Ops.Rss => Of(new RssElement { S = s, B = b }),
            Ops.Rms => Of(new RmsElement { S = s, B = b, F = f }),
            Ops.Adadelta => Of(new AdadeltaElement { S = s, B = b }),
            Ops.Adamax => Of(new AdamaxElement { S = s, B = b }),
            Ops.Nadam => Of(new NadamElement { S = s, B = b }),
            Ops.Radam => Of(new RadamElement { S = s, B = b }),
            Ops.AsgdRate => Of(new AsgdRateElement { S = s }),
            Ops.AverageIterates => Of(new AverageIteratesElement { S = s, B = b }),
            Ops.Rprop => Of(new RpropElement { S = s, B = b }),
            Ops.Lion => Of(new LionElement { S = s, B = b }),
            Ops.ClipByValue => Of(new ClipByValueElement { S = s }),
            Ops.ZeroNans => Of(new ZeroNansElement()),
            Ops.ClipByGlobalNorm => Of(new ClipByGlobalNormElement { S = s }),
            Ops.FiniteGate => Of(new PassElement()),
            Ops.Accumulate => Of(new AccumulateElement { S = s, B = b }),
            ScaleOp => Of(new ScaleElement { S = s }),
            _ => throw new NotSupportedException($"The block {op.Name} has no device kernel."),
        };
    }

    private static (Type, object) Of<T>(T op) where T : struct, IElementOp => (typeof(T), op);
}
