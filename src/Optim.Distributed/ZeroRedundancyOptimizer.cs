using Optim.CSharp;

namespace Optim.Distributed;

/// <summary>
/// An optimizer whose state is sharded over the ranks (<c>torch.distributed.optim.ZeroRedundancyOptimizer</c>, ZeRO
/// stage 1): each rank owns about 1/N of the parameters, balanced by size as PyTorch balances them (largest first,
/// each to the rank that owns the fewest elements so far), and keeps the optimizer state of those only.
/// <see cref="Step"/> steps the owned shard with the rank's own optimizer, then sends every parameter from its owner
/// to every rank, so that all replicas hold the same values. The gradients must already be the same on every rank
/// (averaged by <see cref="DistributedDataParallel.Synchronize"/>).
/// </summary>
/// <remarks>
/// <para>For an elementwise optimizer (SGD, Adam, AdamW, ...) the result is the unsharded optimizer's, bit for bit: the
/// owner computes each parameter's update from the same gradient and state as the unsharded optimizer would.</para>
/// <para>Not yet here: PyTorch's <c>consolidate_state_dict</c> and a checkpoint that loads on another number of ranks.
/// A scheduler is made over <see cref="LocalOptimizer"/> on every rank (each rank's has the same hyperparameters).</para>
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
    /// parameter is listed twice, or the factory returned null.</exception>
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
    /// every rank. Every rank must call it together.</summary>
    public void Step()
    {
        LocalOptimizer.Step();
        for (int i = 0; i < _parameters.Length; i++) _comm.Broadcast(_parameters[i].Data, _owners[i]);
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
