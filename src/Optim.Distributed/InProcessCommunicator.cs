using System.Numerics.Tensors;

namespace Optim.Distributed;

/// <summary>
/// A group of ranks inside one process, each rank a thread (for unit tests and single-machine runs). Sums are taken
/// in rank order, rank 0 + rank 1 + ... + rank N−1, element by element, so every rank gets the same bits and a run
/// repeats exactly. A rank that is disposed (or fails inside <see cref="Run"/>) breaks the group: every other rank's
/// pending or next collective throws <see cref="CommunicatorException"/> naming it, and a collective that some rank
/// does not reach within the timeout throws too, naming the missing ranks, so a broken group never hangs.
/// </summary>
/// <example><code>
/// var sums = InProcessCommunicator.Run(4, comm =&gt;
/// {
///     var x = new float[] { comm.Rank };
///     comm.AllReduce(x);
///     return x[0];            // 0 + 1 + 2 + 3 = 6 on every rank
/// });
/// </code></example>
public sealed class InProcessCommunicator : ICommunicator
{
    private readonly Group _group;
    private bool _disposed;

    private InProcessCommunicator(Group group, int rank) { _group = group; Rank = rank; }

    /// <inheritdoc/>
    public int Rank { get; }

    /// <inheritdoc/>
    public int Size => _group.Size;

    /// <summary>Makes a group of <paramref name="size"/> communicators, one per rank, to be used from one thread each.</summary>
    /// <param name="size">The number of ranks, 1 or more.</param>
    /// <param name="timeout">How long a collective waits for the other ranks before it fails; null: 60 seconds.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is below 1, or the timeout is not positive.</exception>
    public static InProcessCommunicator[] Create(int size, TimeSpan? timeout = null)
    {
        if (size < 1) throw new ArgumentOutOfRangeException(nameof(size), size, "A group needs 1 rank or more.");
        var t = timeout ?? TimeSpan.FromSeconds(60);
        if (t <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeout), t, "The timeout must be positive.");
        var group = new Group(size, t);
        var comms = new InProcessCommunicator[size];
        for (int r = 0; r < size; r++) comms[r] = new InProcessCommunicator(group, r);
        return comms;
    }

    /// <summary>
    /// Runs <paramref name="body"/> on <paramref name="size"/> threads, one per rank, and returns each rank's result
    /// in rank order. A rank whose body throws leaves the group at once (the others' collectives then fail);
    /// every communicator is disposed at the end.
    /// </summary>
    /// <typeparam name="T">What each rank returns.</typeparam>
    /// <param name="size">The number of ranks, 1 or more.</param>
    /// <param name="body">One rank's work, given its communicator.</param>
    /// <param name="timeout">As in <see cref="Create"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="body"/> is null.</exception>
    /// <exception cref="AggregateException">Some rank threw: the exceptions of the ranks that threw, the first failure first.</exception>
    public static T[] Run<T>(int size, Func<ICommunicator, T> body, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        var comms = Create(size, timeout);
        var results = new T[size];
        var errors = new (long Order, Exception Error)?[size];
        long order = 0;
        var threads = new Thread[size];
        for (int r = 0; r < size; r++)
        {
            int rank = r;
            threads[r] = new Thread(() =>
            {
                try { results[rank] = body(comms[rank]); }
                catch (Exception e)
                {
                    errors[rank] = (Interlocked.Increment(ref order), e);
                    comms[rank]._group.Fail(rank, e);
                }
                finally { comms[rank].Dispose(); }
            }, 16 << 20) { IsBackground = true, Name = $"rank {rank}" };
            threads[r].Start();
        }
        foreach (var t in threads) t.Join();
        var thrown = errors.Where(e => e is not null).Select(e => e!.Value).OrderBy(e => e.Order).Select(e => e.Error).ToList();
        if (thrown.Count > 0) throw new AggregateException($"{thrown.Count} of {size} ranks failed; the first: {thrown[0].Message}", thrown);
        return results;
    }

    /// <inheritdoc/>
    public void AllReduce(float[] buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        AllReduce(buffer.AsSpan());
    }

    /// <inheritdoc/>
    public void AllReduce(Span<float> buffer)
    {
        var g = Enter();
        g.Deposit(Rank, Op.AllReduce, buffer, 0);
        g.Arrive(Rank);
        g.Check(Rank);
        g.Sum(0, buffer.Length, buffer);
        g.Arrive(Rank);
    }

    /// <inheritdoc/>
    public void AllGather(ReadOnlySpan<float> send, Span<float> receive)
    {
        if (receive.Length != (long)send.Length * Size)
            throw new ArgumentException($"receive must hold Size × send.Length = {(long)send.Length * Size} elements, but holds {receive.Length}.", nameof(receive));
        var g = Enter();
        g.Deposit(Rank, Op.AllGather, send, 0);
        g.Arrive(Rank);
        g.Check(Rank);
        for (int r = 0; r < Size; r++) g.Slot(r, 0, send.Length).CopyTo(receive.Slice(r * send.Length, send.Length));
        g.Arrive(Rank);
    }

    /// <inheritdoc/>
    public void ReduceScatter(ReadOnlySpan<float> send, Span<float> receive)
    {
        if (send.Length != (long)receive.Length * Size)
            throw new ArgumentException($"send must hold Size × receive.Length = {(long)receive.Length * Size} elements, but holds {send.Length}.", nameof(send));
        var g = Enter();
        g.Deposit(Rank, Op.ReduceScatter, send, 0);
        g.Arrive(Rank);
        g.Check(Rank);
        g.Sum(Rank * receive.Length, receive.Length, receive);
        g.Arrive(Rank);
    }

    /// <inheritdoc/>
    public void Broadcast(Span<float> buffer, int root = 0)
    {
        if (root < 0 || root >= Size) throw new ArgumentOutOfRangeException(nameof(root), root, $"The root must be a rank, 0 to {Size - 1}.");
        var g = Enter();
        g.Deposit(Rank, Op.Broadcast, Rank == root ? buffer : ReadOnlySpan<float>.Empty, root, buffer.Length);
        g.Arrive(Rank);
        g.Check(Rank);
        if (Rank != root) g.Slot(root, 0, buffer.Length).CopyTo(buffer);
        g.Arrive(Rank);
    }

    /// <inheritdoc/>
    public void Barrier()
    {
        var g = Enter();
        g.Deposit(Rank, Op.Barrier, ReadOnlySpan<float>.Empty, 0);
        g.Arrive(Rank);
        g.Check(Rank);
        g.Arrive(Rank);
    }

    /// <summary>Leaves the group; the other ranks' pending and later collectives fail, naming this rank.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _group.Leave(Rank);
    }

    private Group Enter()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _group;
    }

    private enum Op { AllReduce, AllGather, ReduceScatter, Broadcast, Barrier }

    /// <summary>The shared rendezvous: one slot per rank and a generation-counted barrier that can be broken.</summary>
    private sealed class Group(int size, TimeSpan timeout)
    {
        private readonly object _lock = new();
        private readonly float[][] _slots = Enumerable.Range(0, size).Select(_ => Array.Empty<float>()).ToArray();
        private readonly Op[] _ops = new Op[size];
        private readonly int[] _lengths = new int[size];
        private readonly int[] _roots = new int[size];
        private readonly bool[] _arrived = new bool[size];
        private int _count;
        private long _generation;
        private string? _fault;
        private Exception? _cause;

        public int Size { get; } = size;

        public void Deposit(int rank, Op op, ReadOnlySpan<float> values, int root, int length = -1)
        {
            if (_slots[rank].Length < values.Length) _slots[rank] = new float[values.Length];
            values.CopyTo(_slots[rank]);
            _ops[rank] = op;
            _lengths[rank] = length < 0 ? values.Length : length;
            _roots[rank] = root;
        }

        public ReadOnlySpan<float> Slot(int rank, int start, int length) => _slots[rank].AsSpan(start, length);

        /// <summary>dest = slot0[start..] + slot1[start..] + ..., in rank order.</summary>
        public void Sum(int start, int length, Span<float> dest)
        {
            Slot(0, start, length).CopyTo(dest);
            for (int r = 1; r < Size; r++) TensorPrimitives.Add(dest, Slot(r, start, length), dest);
        }

        /// <summary>After the first arrival: every rank called the same collective with the same lengths.</summary>
        public void Check(int rank)
        {
            for (int r = 1; r < Size; r++)
                if (_ops[r] != _ops[0] || _lengths[r] != _lengths[0] || _roots[r] != _roots[0])
                {
                    var message = $"The ranks disagree on a collective: rank 0 called {_ops[0]} with {_lengths[0]} elements (root {_roots[0]}), rank {r} called {_ops[r]} with {_lengths[r]} elements (root {_roots[r]}).";
                    Break(message, null);
                    throw new CommunicatorException($"Rank {rank}: {message}");
                }
        }

        public void Arrive(int rank)
        {
            lock (_lock)
            {
                ThrowIfFaulted(rank);
                long generation = _generation;
                _arrived[rank] = true;
                if (++_count == Size)
                {
                    _count = 0;
                    Array.Clear(_arrived);
                    _generation++;
                    Monitor.PulseAll(_lock);
                    return;
                }
                var deadline = DateTime.UtcNow + timeout;
                while (_generation == generation)
                {
                    ThrowIfFaulted(rank);
                    var left = deadline - DateTime.UtcNow;
                    if (left <= TimeSpan.Zero)
                    {
                        var missing = Enumerable.Range(0, Size).Where(r => !_arrived[r]);
                        var message = $"Ranks {string.Join(", ", missing)} did not reach the collective within {timeout.TotalSeconds:0.###} s.";
                        _fault = message;
                        Monitor.PulseAll(_lock);
                        throw new CommunicatorException($"Rank {rank}: {message}");
                    }
                    Monitor.Wait(_lock, left);
                }
            }
        }

        public void Fail(int rank, Exception cause) => Break($"Rank {rank} failed: {cause.Message}", cause);

        public void Leave(int rank) => Break($"Rank {rank} left the group (its communicator was disposed).", null);

        private void Break(string message, Exception? cause)
        {
            lock (_lock)
            {
                if (_fault is null) { _fault = message; _cause = cause; }
                Monitor.PulseAll(_lock);
            }
        }

        private void ThrowIfFaulted(int rank)
        {
            if (_fault is not null) throw new CommunicatorException($"Rank {rank}: the group is broken. {_fault}", _cause);
        }
    }
}
