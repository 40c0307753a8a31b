using Optim.CSharp;
using Optim.NN;

namespace Optim.Distributed;

/// <summary>
/// Data-parallel training of a module (<c>torch.nn.parallel.DistributedDataParallel</c>): every rank holds a replica,
/// runs it on its own shard of the batch, and after <c>loss.Backward()</c> calls <see cref="Synchronize"/>, which
/// replaces every gradient by its average over the ranks, so that one optimizer step per rank keeps the replicas
/// equal. At construction rank 0's parameters and buffers are copied to every rank, and the ranks check that they
/// hold the same parameters (count and shapes).
/// </summary>
/// <remarks>
/// <para>Unlike PyTorch, the averaging is not started from inside the backward pass (Optim.NN's autograd engine has
/// no gradient hooks): call <see cref="Synchronize"/> between <c>Backward()</c> and the optimizer's <c>Step()</c>.
/// The gradients travel in buckets of at most <c>bucketCapMB</c> megabytes, filled in reverse parameter order as
/// PyTorch's are, one all-reduce per bucket; a gradient is summed over the ranks, then divided by their number.</para>
/// <para>A parameter that requires a gradient but has none on some rank (unused there) counts as zeros; if it has
/// none on every rank it keeps none. Parameters that do not require a gradient are only broadcast.</para>
/// <para>Inside <see cref="NoSync"/>, <see cref="Synchronize"/> does nothing, so gradients accumulate locally; the
/// first <see cref="Synchronize"/> after the scope averages everything accumulated (<c>no_sync()</c>).</para>
/// </remarks>
/// <example><code>
/// var ddp = new DistributedDataParallel(model, comm);
/// var optimizer = new Adam(ddp.Parameters(), lr: 1e-3);
/// foreach (var (x, y) in shardOfThisRank)
/// {
///     optimizer.ZeroGrad();
///     criterion.Forward(ddp.Forward(x), y).Backward();
///     ddp.Synchronize();
///     optimizer.Step();
/// }
/// </code></example>
public sealed class DistributedDataParallel : Module
{
    private const int MaxDims = 8;
    private readonly ICommunicator _comm;
    private readonly (string Name, Parameter Parameter)[] _parameters;
    private readonly int[][] _buckets; // indices into the trainable parameters, in reverse order
    private readonly (string Name, Parameter Parameter)[] _trainable;
    private readonly Memory<float>[] _bucketBuffers; // from the communicator's AllocateBuffer: shared memory on one machine
    private readonly bool _broadcastBuffers;
    private int _noSync;

    /// <summary>Wraps <paramref name="module"/>: broadcasts rank 0's parameters and buffers into it and checks that
    /// every rank holds the same parameters. Every rank must call this together.</summary>
    /// <param name="module">This rank's replica; its parameters are overwritten by rank 0's.</param>
    /// <param name="communicator">The group of ranks.</param>
    /// <param name="bucketCapMB">The most megabytes of gradient per all-reduce (PyTorch's default: 25); above 0.</param>
    /// <param name="broadcastBuffers">Copy rank 0's buffers (BatchNorm's running statistics) to every rank before
    /// each forward pass in training mode, as PyTorch does by default.</param>
    /// <exception cref="ArgumentNullException"><paramref name="module"/> or <paramref name="communicator"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bucketCapMB"/> is not above 0.</exception>
    /// <exception cref="ArgumentException">The ranks disagree on the number of parameters or on a parameter's shape
    /// (the message names the rank and the parameter), or a parameter has more than 8 dimensions; every rank throws,
    /// and no parameter has then been changed.</exception>
    public DistributedDataParallel(Module module, ICommunicator communicator, double bucketCapMB = 25, bool broadcastBuffers = true)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(communicator);
        if (!(bucketCapMB > 0)) throw new ArgumentOutOfRangeException(nameof(bucketCapMB), bucketCapMB, "The bucket capacity must be above 0 MB.");
        Module = module;
        _comm = communicator;
        _broadcastBuffers = broadcastBuffers;
        _parameters = module.NamedParameters().ToArray();
        CheckSameParameters();
        foreach (var (_, p) in _parameters) _comm.Broadcast(p.Data, 0);
        foreach (var b in module.Buffers()) _comm.Broadcast(b.Data, 0);

        _trainable = _parameters.Where(p => p.Parameter.RequiresGrad).ToArray();
        long cap = Math.Max(1, (long)(bucketCapMB * 1024 * 1024 / sizeof(float)));
        var buckets = new List<int[]>();
        var current = new List<int>();
        long filled = 0;
        for (int i = _trainable.Length - 1; i >= 0; i--)
        {
            int n = _trainable[i].Parameter.Data.Length;
            if (current.Count > 0 && filled + n > cap) { buckets.Add([.. current]); current.Clear(); filled = 0; }
            current.Add(i);
            filled += n;
        }
        if (current.Count > 0) buckets.Add([.. current]);
        _buckets = [.. buckets];
        _bucketBuffers = _buckets.Select(b => _comm.AllocateBuffer(checked((int)b.Sum(i => (long)_trainable[i].Parameter.Data.Length)))).ToArray();
    }

    /// <summary>The wrapped module (<c>ddp.module</c>).</summary>
    public Module Module { get; }

    /// <summary>The gradient buckets: each one's parameter names, in the order they are all-reduced.</summary>
    public IReadOnlyList<IReadOnlyList<string>> Buckets => _buckets.Select(b => (IReadOnlyList<string>)b.Select(i => _trainable[i].Name).ToArray()).ToArray();

    /// <inheritdoc/>
    protected override IEnumerable<(string Name, Module Module)> RegisteredChildren() => [("module", Module)];

    /// <summary>The wrapped module's forward pass (after broadcasting rank 0's buffers, in training mode, when asked to).</summary>
    /// <param name="input">This rank's shard of the batch.</param>
    public override Tensor Forward(Tensor input)
    {
        if (_broadcastBuffers && Training && _noSync == 0)
            foreach (var b in Module.Buffers()) _comm.Broadcast(b.Data, 0);
        return Module.Forward(input);
    }

    /// <summary>
    /// Averages every gradient over the ranks, bucket by bucket (<c>allreduce</c>, then ÷ Size). Call it on every
    /// rank after <c>Backward()</c> and before the optimizer's step. Inside <see cref="NoSync"/> it does nothing.
    /// </summary>
    public void Synchronize()
    {
        if (_noSync > 0 || _trainable.Length == 0) return;
        // which parameters have a gradient on some rank (one small all-reduce), so that one unused everywhere keeps none
        var has = new float[_trainable.Length];
        for (int i = 0; i < has.Length; i++) has[i] = _trainable[i].Parameter.Grad is null ? 0f : 1f;
        if (_comm.Size > 1) _comm.AllReduce(has);
        float size = _comm.Size;
        for (int b = 0; b < _buckets.Length; b++)
        {
            var buffer = _bucketBuffers[b].Span;
            int offset = 0;
            foreach (int i in _buckets[b])
            {
                var p = _trainable[i].Parameter;
                var span = buffer.Slice(offset, p.Data.Length);
                if (p.Grad is { } g) g.CopyTo(span); else span.Clear();
                offset += p.Data.Length;
            }
            if (_comm.Size > 1) _comm.AllReduce(buffer);
            offset = 0;
            foreach (int i in _buckets[b])
            {
                var p = _trainable[i].Parameter;
                int n = p.Data.Length;
                if (has[i] > 0)
                {
                    var g = p.Grad ?? new float[n];
                    var src = buffer.Slice(offset, n);
                    for (int k = 0; k < n; k++) g[k] = src[k] / size;
                    if (p.Grad is null) p.Grad = g;
                }
                offset += n;
            }
        }
    }

    /// <summary>The same as <see cref="Synchronize"/> (PyTorch does it inside <c>backward()</c>).</summary>
    public void AllReduceGradients() => Synchronize();

    /// <summary>
    /// Until the returned scope is disposed, <see cref="Synchronize"/> does nothing, so gradients accumulate on each
    /// rank (<c>with ddp.no_sync():</c>); the first <see cref="Synchronize"/> after it averages the accumulated sum.
    /// Scopes nest.
    /// </summary>
    public IDisposable NoSync()
    {
        _noSync++;
        return new Scope(this);
    }

    private sealed class Scope(DistributedDataParallel owner) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            owner._noSync--;
        }
    }

    /// <summary>Every rank gets every rank's parameter count, then every shape; all of them throw on a disagreement.</summary>
    private void CheckSameParameters()
    {
        int size = _comm.Size, rank = _comm.Rank, count = _parameters.Length;
        foreach (var (name, p) in _parameters)
            if (p.Shape.Length > MaxDims)
                throw new ArgumentException($"Parameter '{name}' has {p.Shape.Length} dimensions; DistributedDataParallel handles at most {MaxDims}.", "module");
        var counts = new float[size];
        _comm.AllGather([count], counts);
        for (int r = 1; r < size; r++)
            if (counts[r] != counts[0])
            {
                int fewer = (int)Math.Min(counts[r], counts[0]);
                string first = fewer < count ? $" (parameter {fewer}, '{_parameters[fewer].Name}' on rank {rank}, is where they part)" : "";
                throw new ArgumentException(
                    $"The ranks hold different parameters: rank {r} has {counts[r]} parameters, rank 0 has {counts[0]}{first}.", "module");
            }
        const int width = MaxDims + 1;
        var mine = new float[count * width];
        for (int i = 0; i < count; i++)
        {
            var shape = _parameters[i].Parameter.Shape;
            mine[i * width] = shape.Length;
            for (int d = 0; d < shape.Length; d++) mine[i * width + 1 + d] = shape[d];
        }
        var all = new float[mine.Length * size];
        _comm.AllGather(mine, all);
        for (int r = 1; r < size; r++)
            for (int i = 0; i < count; i++)
            {
                var a = all.AsSpan(i * width, width);
                var b = all.AsSpan((r * count + i) * width, width);
                if (!a.SequenceEqual(b))
                    throw new ArgumentException(
                        $"The ranks hold different parameters: parameter {i} ('{_parameters[i].Name}' on rank {rank}) has shape {Format(b)} on rank {r} but {Format(a)} on rank 0.", "module");
            }
    }

    private static string Format(ReadOnlySpan<float> descriptor) =>
        "[" + string.Join(", ", descriptor.Slice(1, (int)descriptor[0]).ToArray().Select(d => ((long)d).ToString())) + "]";
}
