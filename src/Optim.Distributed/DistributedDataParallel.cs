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
/// <para>The gradients travel in buckets of at most <c>bucketCapMB</c> megabytes, filled in reverse parameter order
/// as PyTorch's are, one all-reduce per bucket; a gradient is summed over the ranks, then divided by their number.
/// As in PyTorch, a bucket's all-reduce starts from inside the backward pass, on a background thread, as soon as the
/// last of its gradients is ready (a post-accumulate-grad hook, <see cref="Tensor.RegisterPostAccumulateGradHook"/>),
/// while the earlier layers' gradients are still being computed; buckets start in order, so that every rank runs
/// the same collectives in the same order. Unlike PyTorch, the averaged gradients are written back by an explicit
/// <see cref="Synchronize"/> between <c>Backward()</c> and the optimizer's <c>Step()</c>: it starts the buckets not
/// yet started, waits for them all, and writes the averages into the gradients. With <c>overlap: false</c> all of
/// this happens inside <see cref="Synchronize"/>; the results are the same bits either way.</para>
/// <para>A parameter whose gradient grows again after its bucket started (two <c>Backward()</c> calls before one
/// <see cref="Synchronize"/>, or a parameter used through two tensors) makes that <see cref="Synchronize"/> average
/// every bucket again from the gradients as they are then, on every rank, so the result is still the average of
/// everything accumulated.</para>
/// <para>Wrapping a module again (a second DistributedDataParallel over the same parameters) moves the overlap to the
/// newest wrapper; an older one still averages everything in its own <see cref="Synchronize"/>.</para>
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
    // each bucket's gradients, then one flag per parameter (1 where this rank has a gradient), in a buffer from the
    // communicator's AllocateBuffer (shared memory on one machine)
    private readonly Memory<float>[] _bucketBuffers;
    private readonly int[] _bucketOf; // each trainable parameter's bucket
    private readonly int[] _pending;  // per bucket: its parameters whose gradient is not ready yet in this iteration
    private readonly bool[] _ready;   // per trainable parameter: its gradient arrived in this iteration
    private readonly bool _broadcastBuffers;
    private readonly bool _overlap;
    private int _noSync;
    private int _launched; // buckets started in this iteration, always a prefix: 0 .. _launched − 1
    private bool _regrown; // a gradient grew after its bucket started
    private Worker? _worker;
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Parameter, DistributedDataParallel> s_owners = new();

    /// <summary>Wraps <paramref name="module"/>: broadcasts rank 0's parameters and buffers into it and checks that
    /// every rank holds the same parameters. Every rank must call this together.</summary>
    /// <param name="module">This rank's replica; its parameters are overwritten by rank 0's.</param>
    /// <param name="communicator">The group of ranks.</param>
    /// <param name="bucketCapMB">The most megabytes of gradient per all-reduce (PyTorch's default: 25); above 0.</param>
    /// <param name="broadcastBuffers">Copy rank 0's buffers (BatchNorm's running statistics) to every rank before
    /// each forward pass in training mode, as PyTorch does by default.</param>
    /// <param name="overlap">Start each bucket's all-reduce from inside the backward pass, on a background thread,
    /// as soon as its gradients are ready (the communicator's collectives are then called from that thread, one at a
    /// time); false: all of them inside <see cref="Synchronize"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="module"/> or <paramref name="communicator"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bucketCapMB"/> is not above 0.</exception>
    /// <exception cref="ArgumentException">The ranks disagree on the number of parameters or on a parameter's shape
    /// (the message names the rank and the parameter), or a parameter has more than 8 dimensions; every rank throws,
    /// and no parameter has then been changed.</exception>
    public DistributedDataParallel(Module module, ICommunicator communicator, double bucketCapMB = 25, bool broadcastBuffers = true,
        bool overlap = true)
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
        _bucketBuffers = _buckets.Select(b => _comm.AllocateBuffer(checked((int)(b.Sum(i => (long)_trainable[i].Parameter.Data.Length) + b.Length)))).ToArray();
        _bucketOf = new int[_trainable.Length];
        for (int b = 0; b < _buckets.Length; b++) foreach (int i in _buckets[b]) _bucketOf[i] = b;
        _pending = _buckets.Select(b => b.Length).ToArray();
        _ready = new bool[_trainable.Length];
        _overlap = overlap && _comm.Size > 1;
        if (_overlap)
            for (int i = 0; i < _trainable.Length; i++)
            {
                int index = i;
                var p = _trainable[i].Parameter;
                // a module wrapped again answers to its newest wrapper only: an older one's hooks would start
                // all-reduces that nothing waits for, on a second thread
                s_owners.AddOrUpdate(p, this);
                Tensor.RegisterPostAccumulateGradHook(p, _ =>
                {
                    if (s_owners.TryGetValue(p, out var owner) && ReferenceEquals(owner, this)) GradientReady(index);
                });
            }
    }

    /// <summary>The buckets started so far in this iteration (for the tests: from inside a hook, during Backward).</summary>
    internal int LaunchedBuckets => _launched;

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
    /// Averages every gradient over the ranks, bucket by bucket (<c>allreduce</c>, then ÷ Size): starts the buckets that
    /// the backward pass has not started, waits for every bucket, and writes the averages into the gradients. Call it
    /// on every rank after <c>Backward()</c> and before the optimizer's step. Inside <see cref="NoSync"/> it does nothing.
    /// </summary>
    /// <exception cref="CommunicatorException">A collective failed (another rank failed or disagreed).</exception>
    public void Synchronize()
    {
        if (_noSync > 0 || _trainable.Length == 0) return;
        try
        {
            while (_launched < _buckets.Length) Launch(_launched++);
            _worker?.Finish();
            if (_overlap)
            {
                // every rank has run the same bucket all-reduces; if a gradient grew after its bucket started on any
                // rank, every rank averages every bucket again from the gradients as they are now
                var regrown = new[] { _regrown ? 1f : 0f };
                _comm.AllReduce(regrown);
                if (regrown[0] > 0)
                    for (int b = 0; b < _buckets.Length; b++)
                    {
                        Pack(b);
                        _comm.AllReduce(_bucketBuffers[b].Span);
                    }
            }
            for (int b = 0; b < _buckets.Length; b++) Unpack(b);
        }
        finally
        {
            _worker = null;
            _launched = 0;
            _regrown = false;
            Array.Clear(_ready);
            for (int b = 0; b < _buckets.Length; b++) _pending[b] = _buckets[b].Length;
        }
    }

    /// <summary>The hook: trainable parameter <paramref name="i"/>'s gradient has been accumulated.</summary>
    private void GradientReady(int i)
    {
        if (_noSync > 0) return;
        if (_ready[i])
        {
            _regrown = true;
            return;
        }
        _ready[i] = true;
        --_pending[_bucketOf[i]];
        while (_launched < _buckets.Length && _pending[_launched] == 0) Launch(_launched++);
    }

    /// <summary>Copies bucket <paramref name="b"/>'s gradients into its buffer and all-reduces it: on the worker thread
    /// when overlapping, else here.</summary>
    private void Launch(int b)
    {
        Pack(b);
        if (_comm.Size == 1) return;
        if (!_overlap) _comm.AllReduce(_bucketBuffers[b].Span);
        else (_worker ??= new Worker(this)).Add(b);
    }

    /// <summary>Bucket <paramref name="b"/>'s gradients (zeros where this rank has none), then a 1 or 0 per parameter
    /// for whether it has one.</summary>
    private void Pack(int b)
    {
        var buffer = _bucketBuffers[b].Span;
        int offset = 0, bucket = _buckets[b].Length;
        for (int k = 0; k < bucket; k++)
        {
            var p = _trainable[_buckets[b][k]].Parameter;
            var span = buffer.Slice(offset, p.Data.Length);
            if (p.Grad is { } g) g.CopyTo(span); else span.Clear();
            offset += p.Data.Length;
        }
        for (int k = 0; k < bucket; k++) buffer[offset + k] = _trainable[_buckets[b][k]].Parameter.Grad is null ? 0f : 1f;
    }

    /// <summary>Writes bucket <paramref name="b"/>'s sums ÷ Size into the gradients of the parameters that have one on
    /// some rank; one that has none on every rank keeps none.</summary>
    private void Unpack(int b)
    {
        var buffer = _bucketBuffers[b].Span;
        float size = _comm.Size;
        int flags = buffer.Length - _buckets[b].Length, offset = 0;
        for (int k = 0; k < _buckets[b].Length; k++)
        {
            var p = _trainable[_buckets[b][k]].Parameter;
            int n = p.Data.Length;
            if (buffer[flags + k] > 0)
            {
                var g = p.Grad ?? new float[n];
                var src = buffer.Slice(offset, n);
                for (int e = 0; e < n; e++) g[e] = src[e] / size;
                if (p.Grad is null) p.Grad = g;
            }
            offset += n;
        }
    }

    /// <summary>A thread that all-reduces the buckets handed to it, in order, until <see cref="Finish"/>.</summary>
    private sealed class Worker
    {
        private readonly System.Collections.Concurrent.BlockingCollection<int> _queue = new();
        private readonly Thread _thread;
        private Exception? _error;

        public Worker(DistributedDataParallel owner)
        {
            _thread = new Thread(() =>
            {
                foreach (int b in _queue.GetConsumingEnumerable())
                {
                    if (_error is not null) continue;
                    try { owner._comm.AllReduce(owner._bucketBuffers[b].Span); }
                    catch (Exception e) { _error = e; }
                }
            }) { IsBackground = true, Name = "DistributedDataParallel all-reduce" };
            _thread.Start();
        }

        public void Add(int bucket) => _queue.Add(bucket);

        /// <summary>Waits for every bucket handed over; rethrows the first failure.</summary>
        public void Finish()
        {
            _queue.CompleteAdding();
            _thread.Join();
            if (_error is not null) throw _error is CommunicatorException c ? new CommunicatorException(c.Message, c) : _error;
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
