using System.Text;
using System.Text.Json.Nodes;
using Optim.CSharp;

namespace Optim.Distributed;

/// <summary>
/// An optimizer whose state is sharded over the ranks (<c>torch.distributed.optim.ZeroRedundancyOptimizer</c>, ZeRO
/// stage 1): each rank owns about 1/N of the parameters, balanced by size as PyTorch balances them (largest first,
/// each to the rank that owns the fewest elements so far), and keeps the optimizer state of those only.
/// <see cref="Step"/> steps the owned shard with the rank's own optimizer, then sends every parameter from its owner
/// to every rank in one all-gather, so that all replicas hold the same values. The gradients must already be the same on every rank
/// (averaged by <see cref="DistributedDataParallel.Synchronize"/>).
/// </summary>
/// <remarks>
/// <para>For an elementwise optimizer (SGD, Adam, AdamW, ...) the result is the unsharded optimizer's, bit for bit: the
/// owner computes each parameter's update from the same gradient and state as the unsharded optimizer would.</para>
/// <para><see cref="ConsolidateStateDict"/> gathers the shards on one rank, whose <see cref="StateDict"/> is then the
/// unsharded optimizer's checkpoint, in PyTorch's layout with the parameters in the order given here: it loads into
/// a <see cref="ZeroRedundancyOptimizer"/> on any number of ranks (<see cref="LoadStateDict"/>) or into a plain
/// optimizer in one process. Only the state of parameters (as elementwise optimizers keep) is sharded; the
/// hyperparameters of the local optimizer's single group are taken from rank <c>to</c>.</para>
/// <para>A scheduler is made over <see cref="LocalOptimizer"/> on every rank (each rank's has the same hyperparameters).</para>
/// </remarks>
/// <example><code>
/// var zero = new ZeroRedundancyOptimizer(ddp.Parameters(), ps =&gt; new Adam(ps, lr: 1e-3), comm);
/// zero.ZeroGrad();
/// loss.Backward();
/// ddp.Synchronize();
/// zero.Step();
/// </code></example>
public sealed class ZeroRedundancyOptimizer
{
    private readonly ICommunicator _comm;
    private readonly Parameter[] _parameters;
    private readonly int[] _owners;

    /// <summary>Partitions <paramref name="parameters"/> over the ranks and makes this rank's optimizer over its share.
    /// Every rank must call it with the same parameters (in order and shape).</summary>
    /// <param name="parameters">Every parameter of the model, in the same order on every rank.</param>
    /// <param name="optimizerFactory">Makes an optimizer over the parameters it is given (this rank's share), such as
    /// <c>ps =&gt; new Adam(ps, lr: 1e-3)</c>.</param>
    /// <param name="communicator">The group of ranks.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">There are fewer parameters than ranks (some rank would own none), a
    /// parameter is listed twice, or the factory returned null; or the ranks' optimizers differ in kind or
    /// hyperparameters, or their parameters in shape (every rank throws, naming the first rank that differs and
    /// what).</exception>
    public ZeroRedundancyOptimizer(IEnumerable<Parameter> parameters, Func<IEnumerable<Parameter>, Optim.CSharp.Optimizer> optimizerFactory,
        ICommunicator communicator)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(optimizerFactory);
        ArgumentNullException.ThrowIfNull(communicator);
        _parameters = parameters.ToArray();
        if (_parameters.Distinct(ReferenceEqualityComparer.Instance).Count() != _parameters.Length)
            throw new ArgumentException("A parameter is listed more than once.", nameof(parameters));
        if (_parameters.Length < communicator.Size)
            throw new ArgumentException(
                $"{_parameters.Length} parameters cannot be shared by {communicator.Size} ranks: every rank must own one or more.", nameof(parameters));
        _comm = communicator;
        _owners = Partition(_parameters.Select(p => (long)p.Data.Length).ToArray(), communicator.Size);
        var owned = _parameters.Where((_, i) => _owners[i] == communicator.Rank).ToArray();
        LocalOptimizer = optimizerFactory(owned)
            ?? throw new ArgumentException("The optimizer factory returned null.", nameof(optimizerFactory));
        CheckRanksAgree();
        long[] load = new long[communicator.Size];
        for (int i = 0; i < _parameters.Length; i++) load[_owners[i]] += _parameters[i].Data.Length;
        _shard = checked((int)load.Max());
        _send = new float[_shard];
        _gathered = new float[(long)_shard * communicator.Size];
    }

    private readonly int _shard; // the most elements any rank owns: each rank's block of the all-gather
    private readonly float[] _send, _gathered;

    /// <summary>
    /// The ranks compare their local optimizers' kind and hyperparameters (the group's, with <c>params</c> left out)
    /// and every parameter's shape with rank 0's; on a difference every rank throws, naming the first rank that differs
    /// and what.
    /// </summary>
    private void CheckRanksAgree()
    {
        var local = JsonNode.Parse(LocalOptimizer.StateDict().ToJson())!.AsObject();
        var groups = local["param_groups"]!.AsArray();
        var mine = new JsonObject { ["optimizer"] = local["optimizer"]?.DeepClone() };
        for (int g = 0; g < groups.Count; g++)
            foreach (var (name, value) in groups[g]!.AsObject())
                if (name is not ("params" or "param_names")) mine[groups.Count == 1 ? name : $"{name} (group {g})"] = value?.DeepClone();
        mine["shapes"] = new JsonArray(_parameters.Select(p => (JsonNode?)$"[{string.Join(", ", p.Shape)}]").ToArray());
        string text = mine.ToJsonString();
        if (_comm.Size == 1) return;
        var first = ShareText(_comm.Rank == 0 ? text : null, 0);
        var differs = new float[_comm.Size];
        differs[_comm.Rank] = first.ToJsonString() == text ? 0f : 1f;
        _comm.AllReduce(differs);
        int rank = Array.FindIndex(differs, d => d > 0);
        if (rank < 0) return;
        var theirs = ShareText(_comm.Rank == rank ? text : null, rank);
        string key = theirs.Select(kv => kv.Key).Concat(first.Select(kv => kv.Key))
            .First(k => theirs[k]?.ToJsonString() != first[k]?.ToJsonString());
        throw new ArgumentException(
            $"The ranks' optimizers differ: rank {rank} has {key} = {theirs[key]?.ToJsonString() ?? "none"}, rank 0 has {first[key]?.ToJsonString() ?? "none"}. " +
            "Every rank must build the same optimizer over the same parameters.", key == "shapes" ? "parameters" : "optimizerFactory");
    }

    /// <summary>This rank's optimizer, over its share of the parameters only; its state is this rank's shard.</summary>
    public Optim.CSharp.Optimizer LocalOptimizer { get; }

    /// <summary>Each parameter's owning rank, in the order the parameters were given.</summary>
    public IReadOnlyList<int> Owners => _owners;

    /// <summary>The parameters this rank owns, in the order they were given.</summary>
    public IReadOnlyList<Parameter> OwnedParameters => _parameters.Where((_, i) => _owners[i] == _comm.Rank).ToArray();

    /// <summary>Clears the gradient of every parameter, owned or not (<c>zero_grad</c>).</summary>
    /// <param name="setToNone">Set them to null rather than zeros, as PyTorch does by default.</param>
    public void ZeroGrad(bool setToNone = true)
    {
        foreach (var p in _parameters)
            if (setToNone) p.Grad = null;
            else if (p.Grad is { } g) Array.Clear(g);
    }

    /// <summary>Steps this rank's share with <see cref="LocalOptimizer"/>, then copies every parameter from its owner to
    /// every rank in one all-gather (each rank's owned parameters packed into one block). Every rank must call it
    /// together.</summary>
    public void Step()
    {
        LocalOptimizer.Step();
        if (_comm.Size == 1) return;
        int at = 0;
        for (int i = 0; i < _parameters.Length; i++)
            if (_owners[i] == _comm.Rank)
            {
                _parameters[i].Data.CopyTo(_send, at);
                at += _parameters[i].Data.Length;
            }
        _comm.AllGather(_send, _gathered);
        var next = new int[_comm.Size];
        for (int i = 0; i < _parameters.Length; i++)
        {
            int owner = _owners[i], n = _parameters[i].Data.Length;
            if (owner != _comm.Rank) _gathered.AsSpan(owner * _shard + next[owner], n).CopyTo(_parameters[i].Data);
            next[owner] += n;
        }
    }

    private JsonObject? _consolidated;

    /// <summary>
    /// Gathers every rank's shard of the state on rank <paramref name="to"/> (<c>consolidate_state_dict(to)</c>), for
    /// <see cref="StateDict"/> there. Every rank must call it together.
    /// </summary>
    /// <param name="to">The rank that will hold the whole checkpoint.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="to"/> is not a rank.</exception>
    /// <exception cref="InvalidOperationException">The local optimizer has more than one parameter group.</exception>
    public void ConsolidateStateDict(int to = 0)
    {
        if (to < 0 || to >= _comm.Size) throw new ArgumentOutOfRangeException(nameof(to), to, $"The rank must be 0 to {_comm.Size - 1}.");
        var local = JsonNode.Parse(LocalOptimizer.StateDict().ToJson())!.AsObject();
        if (local["param_groups"]!.AsArray().Count != 1)
            throw new InvalidOperationException("ZeroRedundancyOptimizer consolidates a local optimizer of one parameter group only.");
        var shards = new JsonObject?[_comm.Size];
        for (int r = 0; r < _comm.Size; r++) shards[r] = ShareText(r == _comm.Rank ? local.ToJsonString() : null, r);
        _consolidated = null;
        if (_comm.Rank != to) return;
        var state = new JsonObject();
        var names = new JsonArray();
        var shapes = new JsonArray();
        var groupNames = shards[to]!["param_groups"]![0]!["param_names"] is null ? null : new JsonArray();
        var next = new int[_comm.Size];
        for (int i = 0; i < _parameters.Length; i++)
        {
            var shard = shards[_owners[i]]!;
            int k = next[_owners[i]]++;
            if (shard["state"]!.AsObject()[k.ToString()] is { } s) state[i.ToString()] = s.DeepClone();
            names.Add(shard["param_names"]![k]?.DeepClone());
            shapes.Add(shard["param_shapes"]![k]!.DeepClone());
            groupNames?.Add(shard["param_groups"]![0]!["param_names"]?[k]?.DeepClone());
        }
        var group = shards[to]!["param_groups"]![0]!.DeepClone().AsObject();
        group["params"] = new JsonArray(Enumerable.Range(0, _parameters.Length).Select(i => (JsonNode?)i).ToArray());
        if (groupNames is not null) group["param_names"] = groupNames;
        _consolidated = new JsonObject
        {
            ["optimizer"] = local["optimizer"]!.DeepClone(),
            ["state"] = state,
            ["param_groups"] = new JsonArray(group),
            ["param_names"] = names,
            ["param_shapes"] = shapes,
        };
    }

    /// <summary>The whole checkpoint, on the rank that <see cref="ConsolidateStateDict"/> consolidated it on.</summary>
    /// <exception cref="InvalidOperationException">This rank holds no consolidated checkpoint.</exception>
    public StateDict StateDict() => _consolidated is { } c
        ? Optim.CSharp.StateDict.FromJson(c.ToJsonString())
        : throw new InvalidOperationException($"Rank {_comm.Rank} holds no consolidated state: call ConsolidateStateDict(to: {_comm.Rank}) on every rank first.");

    /// <summary>
    /// Loads a whole checkpoint (from <see cref="StateDict"/>, saved on any number of ranks, or a plain optimizer's
    /// over the same parameters in the same order): each rank keeps its share. It needs no communication.
    /// </summary>
    /// <param name="state">The checkpoint.</param>
    /// <exception cref="ArgumentNullException"><paramref name="state"/> is null.</exception>
    /// <exception cref="ArgumentException">The checkpoint is not of one group over as many parameters as here;
    /// nothing is then changed. The local optimizer's own checks (kind, shapes) also apply.</exception>
    public void LoadStateDict(StateDict state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var full = JsonNode.Parse(state.ToJson())!.AsObject();
        var groups = full["param_groups"]!.AsArray();
        int count = full["param_shapes"]!.AsArray().Count;
        if (groups.Count != 1 || count != _parameters.Length)
            throw new ArgumentException(
                $"The checkpoint has {groups.Count} parameter groups over {count} parameters; this optimizer has one over {_parameters.Length}.", nameof(state));
        var owned = Enumerable.Range(0, _parameters.Length).Where(i => _owners[i] == _comm.Rank).ToArray();
        var localState = new JsonObject();
        for (int k = 0; k < owned.Length; k++)
            if (full["state"]!.AsObject()[owned[k].ToString()] is { } s) localState[k.ToString()] = s.DeepClone();
        var group = groups[0]!.DeepClone().AsObject();
        group["params"] = new JsonArray(Enumerable.Range(0, owned.Length).Select(k => (JsonNode?)k).ToArray());
        if (group["param_names"] is JsonArray groupNames)
            group["param_names"] = new JsonArray(owned.Select(i => groupNames[i]?.DeepClone()).ToArray());
        var local = new JsonObject
        {
            ["optimizer"] = full["optimizer"]!.DeepClone(),
            ["state"] = localState,
            ["param_groups"] = new JsonArray(group),
            ["param_names"] = new JsonArray(owned.Select(i => full["param_names"]![i]?.DeepClone()).ToArray()),
            ["param_shapes"] = new JsonArray(owned.Select(i => full["param_shapes"]![i]!.DeepClone()).ToArray()),
        };
        LocalOptimizer.LoadStateDict(Optim.CSharp.StateDict.FromJson(local.ToJsonString()));
    }

    /// <summary>Rank <paramref name="root"/>'s text on every rank: its UTF-8 bytes, one per float (exact).</summary>
    private JsonObject ShareText(string? text, int root)
    {
        var bytes = text is null ? [] : Encoding.UTF8.GetBytes(text);
        var length = new float[] { bytes.Length >> 16, bytes.Length & 0xffff }; // each half exact in a float
        _comm.Broadcast(length, root);
        int n = ((int)length[0] << 16) | (int)length[1];
        var buffer = new float[n];
        if (text is not null) for (int i = 0; i < n; i++) buffer[i] = bytes[i];
        _comm.Broadcast(buffer, root);
        var received = new byte[n];
        for (int i = 0; i < n; i++) received[i] = (byte)buffer[i];
        return JsonNode.Parse(received)!.AsObject();
    }

    /// <summary>PyTorch's partition: by size, largest first (ties in order), each to the rank owning the fewest
    /// elements so far (ties to the lowest rank).</summary>
    internal static int[] Partition(long[] sizes, int ranks)
    {
        var owners = new int[sizes.Length];
        var load = new long[ranks];
        foreach (int i in Enumerable.Range(0, sizes.Length).OrderByDescending(i => sizes[i]))
        {
            int best = 0;
            for (int r = 1; r < ranks; r++) if (load[r] < load[best]) best = r;
            owners[i] = best;
            load[best] += sizes[i];
        }
        return owners;
    }
}
