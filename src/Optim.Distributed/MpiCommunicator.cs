using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace Optim.Distributed;

/// <summary>
/// The ranks of an MPI job (<c>MPI_COMM_WORLD</c>) over OpenMPI's <c>libmpi.so.40</c>, called directly by P/Invoke;
/// start the program under <c>mpirun -np N dotnet App.dll</c>. Every rank gets the same bits of a sum. In a buffer
/// from <see cref="AllocateBuffer"/> on one machine the sum is in rank order (rank 0 + rank 1 + ...); in any other
/// buffer it is rank 0 + rank 1 on 2 ranks, and on more ranks in the order of the ring (from 65,536 elements) or of
/// OpenMPI's algorithm (below).
/// A rank that dies makes mpirun end the whole job; so does an unhandled exception on any rank (the communicator
/// calls <c>MPI_Abort</c> from the process's unhandled-exception handler), and an MPI error (OpenMPI's default
/// error handler).
/// One instance per process: <see cref="Dispose"/> calls <c>MPI_Finalize</c>, after which MPI cannot be used again.
/// MPI is initialised at <c>MPI_THREAD_SERIALIZED</c>: the collectives may be called from any thread, one at a time.
/// </summary>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    private const string Lib = "libmpi.so.40";
    private static readonly IntPtr InPlace = 1; // OpenMPI's MPI_IN_PLACE is (void*)1
    private static int s_created;
    private readonly IntPtr _comm, _float, _sum, _infoNull, _node;
    private readonly bool _oneMachine;
    private readonly List<SharedWindow> _windows = [];
    private bool _disposed;
    private float* _scratch; // the ring's receive buffer, kept between calls and touched once, so no call page-faults
    private long _scratchLength;

    /// <summary>Initialises MPI (unless something already did) and joins <c>MPI_COMM_WORLD</c>.</summary>
    /// <exception cref="DllNotFoundException">OpenMPI's libmpi.so.40 is not installed (Debian: <c>apt-get install openmpi-bin</c>).</exception>
    /// <exception cref="InvalidOperationException">An MpiCommunicator was already made in this process.</exception>
    /// <exception cref="CommunicatorException">An MPI call returned an error code.</exception>
    public MpiCommunicator()
    {
        if (Interlocked.Exchange(ref s_created, 1) != 0)
            throw new InvalidOperationException("MPI can be initialised once per process; an MpiCommunicator was already made.");
        var lib = NativeLibrary.Load(Lib);
        _comm = NativeLibrary.GetExport(lib, "ompi_mpi_comm_world");
        _float = NativeLibrary.GetExport(lib, "ompi_mpi_float");
        _sum = NativeLibrary.GetExport(lib, "ompi_mpi_op_sum");
        _infoNull = NativeLibrary.GetExport(lib, "ompi_mpi_info_null");
        int initialized;
        Check(MPI_Initialized(&initialized), "MPI_Initialized");
        if (initialized == 0)
        {
            // On one machine OpenMPI's shared-memory transport copies large messages faster through its own buffers
            // than by its default single copy (Linux's cross-memory attach) here: bench/distributed measured the ring
            // at 11.6 ms against 17.3 ms for 16M float32. A value the user set (mpirun -x or --mca) wins.
            if (Environment.GetEnvironmentVariable(SingleCopyVariable) is null) setenv(SingleCopyVariable, "none", 0);
            // MPI_THREAD_SERIALIZED: DistributedDataParallel all-reduces from a background thread while the backward
            // pass runs, never two collectives at once
            int provided;
            Check(MPI_Init_thread(IntPtr.Zero, IntPtr.Zero, ThreadSerialized, &provided), "MPI_Init_thread");
        }
        int level;
        Check(MPI_Query_thread(&level), "MPI_Query_thread");
        if (level < ThreadSerialized)
            throw new CommunicatorException($"MPI was initialised with thread level {level}; MpiCommunicator needs MPI_THREAD_SERIALIZED ({ThreadSerialized}) or more.");
        int rank, size;
        Check(MPI_Comm_rank(_comm, &rank), "MPI_Comm_rank");
        Check(MPI_Comm_size(_comm, &size), "MPI_Comm_size");
        Rank = rank;
        Size = size;
        IntPtr node;
        Check(MPI_Comm_split_type(_comm, 0 /* MPI_COMM_TYPE_SHARED */, rank, _infoNull, &node), "MPI_Comm_split_type");
        _node = node;
        int nodeSize;
        Check(MPI_Comm_size(_node, &nodeSize), "MPI_Comm_size");
        _oneMachine = nodeSize == size;
        // A .NET process that dies of an unhandled exception under OpenMPI can linger, leaving the other ranks
        // waiting in their next collective; MPI_Abort makes mpirun end every rank instead.
        AppDomain.CurrentDomain.UnhandledException += (_, e) =>
        {
            Console.Error.WriteLine($"Rank {Rank}: unhandled {e.ExceptionObject.GetType().Name}: {(e.ExceptionObject as Exception)?.Message}; aborting the MPI job.");
            Console.Error.Flush();
            if (!_disposed) MPI_Abort(_comm, 1);
        };
    }

    /// <summary>Whether this process was started by mpirun (OpenMPI sets <c>OMPI_COMM_WORLD_SIZE</c>).</summary>
    public static bool UnderMpirun => Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is not null;

    /// <summary>Whether OpenMPI's libmpi.so.40 can be loaded on this machine.</summary>
    public static bool IsAvailable
    {
        get
        {
            if (!NativeLibrary.TryLoad(Lib, out var h)) return false;
            NativeLibrary.Free(h);
            return true;
        }
    }

    /// <inheritdoc/>
    public int Rank { get; }

    /// <inheritdoc/>
    public int Size { get; }

    /// <inheritdoc/>
    public void AllReduce(float[] buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        AllReduce(buffer.AsSpan());
    }

    /// <summary>
    /// Buffers of at least this many elements are summed by this class's ring (a reduce-scatter, then an all-gather,
    /// between neighbours, with a receive buffer kept from call to call); shorter ones by OpenMPI's <c>MPI_Allreduce</c>,
    /// whose algorithms for short messages take fewer rounds. On this project's two-core machine the ring summed 16M
    /// float32 on 2 ranks in under half of OpenMPI's time (10.6 ms against 34.0 ms in one run of bench/distributed).
    /// </summary>
    internal const int RingThreshold = 1 << 16;

    /// <summary>The MCA parameter of OpenMPI's shared-memory transport that this class sets to "none" unless set.</summary>
    internal const string SingleCopyVariable = "OMPI_MCA_btl_vader_single_copy_mechanism";

    /// <summary>Whether every rank of the job runs on this machine (then <see cref="AllocateBuffer"/> gives shared memory).</summary>
    public bool OnOneMachine => _oneMachine;

    /// <inheritdoc/>
    /// <remarks>With every rank on one machine the buffer is an MPI shared-memory window
    /// (<c>MPI_Win_allocate_shared</c>), mapped into every rank; else a plain array.</remarks>
    public Memory<float> AllocateBuffer(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ThrowIfDisposed();
        if (!_oneMachine || Size == 1) return new float[length];
        var window = new SharedWindow(this, length);
        _windows.Add(window);
        return window.Memory;
    }

    /// <inheritdoc/>
    /// <remarks>A span inside a buffer from <see cref="AllocateBuffer"/> (the same offset and length on every rank) is
    /// summed in place through the shared memory: rank r adds up chunk r of every rank's buffer in rank order
    /// (rank 0 + rank 1 + ...), then copies every other chunk from its owner, so the sum is the in-process
    /// communicator's, bit for bit. Any other span from <see cref="RingThreshold"/> elements on, chunk c of the sum (the buffer in Size nearly equal
    /// chunks) is added up in ring order from rank c: ((x_c + x_c+1) + ...) + x_c−1, the same bits on every rank; on
    /// 2 ranks that is rank 0 + rank 1 for every element, as OpenMPI's is.</remarks>
    public void AllReduce(Span<float> buffer)
    {
        ThrowIfDisposed();
        fixed (float* p = buffer)
            if (Size > 1 && FindWindow(p, buffer.Length) is { } window) window.AllReduce(p, buffer.Length);
            else if (Size > 1 && buffer.Length >= RingThreshold) RingAllReduce(p, buffer.Length);
            else Check(MPI_Allreduce(InPlace, (IntPtr)p, buffer.Length, _float, _sum, _comm), "MPI_Allreduce");
    }

    /// <summary>OpenMPI's own <c>MPI_Allreduce</c>, in place, whatever the length (for the benchmark's comparison).</summary>
    internal void OpenMpiAllReduce(Span<float> buffer)
    {
        ThrowIfDisposed();
        fixed (float* p = buffer) Check(MPI_Allreduce(InPlace, (IntPtr)p, buffer.Length, _float, _sum, _comm), "MPI_Allreduce");
    }

    /// <summary>The ring whatever the length (for the benchmark's fit by message size).</summary>
    internal void RingAllReduceForBench(Span<float> buffer)
    {
        ThrowIfDisposed();
        fixed (float* p = buffer) RingAllReduce(p, buffer.Length);
    }

    /// <summary>
    /// Ring all-reduce: Size − 1 rounds of a reduce-scatter (send chunk rank − s to the right, receive chunk
    /// rank − s − 1 from the left into the scratch buffer, add it into the buffer), then Size − 1 rounds of an
    /// all-gather straight into the buffer. Each rank sends and receives 2(N − 1)/N of the buffer, the least any
    /// all-reduce can.
    /// </summary>
    private void RingAllReduce(float* buffer, int length)
    {
        int n = Size, right = (Rank + 1) % n, left = (Rank + n - 1) % n;
        long Start(int chunk) => (long)length * chunk / n;
        int Count(int chunk) => (int)(Start(chunk + 1) - Start(chunk));
        int Mod(int c) => ((c % n) + n) % n;
        EnsureScratch(Count(n - 1) + 1);
        for (int s = 0; s < n - 1; s++)
        {
            int send = Mod(Rank - s), receive = Mod(Rank - s - 1);
            Check(MPI_Sendrecv((IntPtr)(buffer + Start(send)), Count(send), _float, right, 0,
                               (IntPtr)_scratch, Count(receive), _float, left, 0, _comm, IntPtr.Zero), "MPI_Sendrecv");
            var own = new Span<float>(buffer + Start(receive), Count(receive));
            TensorPrimitives.Add(new ReadOnlySpan<float>(_scratch, own.Length), own, own);
        }
        for (int s = 0; s < n - 1; s++)
        {
            int send = Mod(Rank + 1 - s), receive = Mod(Rank - s);
            Check(MPI_Sendrecv((IntPtr)(buffer + Start(send)), Count(send), _float, right, 1,
                               (IntPtr)(buffer + Start(receive)), Count(receive), _float, left, 1, _comm, IntPtr.Zero), "MPI_Sendrecv");
        }
    }

    private SharedWindow? FindWindow(float* p, int length)
    {
        foreach (var w in _windows)
            if (p >= w.Mine && p + length <= w.Mine + w.Length) return w;
        return null;
    }

    /// <summary>An MPI shared-memory window of float32 on every rank, each rank's buffer mapped into every rank; a
    /// header before each buffer holds the offset and length of the rank's current all-reduce.</summary>
    private sealed class SharedWindow : MemoryManager<float>
    {
        private const int HeaderBytes = 64;
        private const int Block = 4096; // elements summed at a time, so that the running sum stays in the cache
        private readonly MpiCommunicator _owner;
        private readonly IntPtr _window;
        private readonly float*[] _bases; // every rank's buffer, as mapped here
        private readonly long*[] _headers;
        private readonly float* _block;

        public SharedWindow(MpiCommunicator owner, int length)
        {
            _owner = owner;
            Length = length;
            IntPtr window;
            void* mine;
            owner.Check(MPI_Win_allocate_shared(HeaderBytes + (long)length * sizeof(float), 1, owner._infoNull, owner._node, &mine, &window),
                "MPI_Win_allocate_shared");
            _window = window;
            owner.Check(MPI_Win_lock_all(1 /* MPI_MODE_NOCHECK */, _window), "MPI_Win_lock_all");
            _bases = new float*[owner.Size];
            _headers = new long*[owner.Size];
            for (int r = 0; r < owner.Size; r++)
            {
                long size;
                int unit;
                void* b;
                owner.Check(MPI_Win_shared_query(_window, r, &size, &unit, &b), "MPI_Win_shared_query");
                _headers[r] = (long*)b;
                _bases[r] = (float*)((byte*)b + HeaderBytes);
            }
            NativeMemory.Clear(mine, (nuint)(HeaderBytes + (long)length * sizeof(float)));
            _block = (float*)NativeMemory.AlignedAlloc(Block * sizeof(float), 64);
            Sync();
        }

        public int Length { get; }

        public float* Mine => _bases[_owner.Rank];

        public override Span<float> GetSpan() => new(Mine, Length);

        public override MemoryHandle Pin(int elementIndex = 0) => new(Mine + elementIndex);

        public override void Unpin() { }

        protected override void Dispose(bool disposing) { }

        /// <summary>Makes every rank's writes so far visible to every rank, then waits for them all.</summary>
        private void Sync()
        {
            _owner.Check(MPI_Win_sync(_window), "MPI_Win_sync");
            _owner.Check(MPI_Barrier(_owner._node), "MPI_Barrier");
            _owner.Check(MPI_Win_sync(_window), "MPI_Win_sync");
        }

        public void AllReduce(float* p, int length)
        {
            int n = _owner.Size, rank = _owner.Rank;
            long offset = p - Mine;
            _headers[rank][0] = offset;
            _headers[rank][1] = length;
            Sync();
            for (int r = 0; r < n; r++)
                if (_headers[r][0] != offset || _headers[r][1] != length)
                    throw new CommunicatorException(
                        $"Rank {rank}: AllReduce of a shared buffer at offset {offset}, {length} elements, but rank {r} passed offset {_headers[r][0]}, {_headers[r][1]} elements.");
            long Start(int chunk) => (long)length * chunk / n;
            // my chunk of the sum, in rank order: of two ranks straight into my buffer (an exact overlap, which
            // TensorPrimitives allows), of more a cache-sized block at a time
            if (n == 2)
            {
                int m = (int)(Start(rank + 1) - Start(rank));
                long at = Start(rank);
                TensorPrimitives.Add(new ReadOnlySpan<float>(_bases[0] + offset + at, m), new ReadOnlySpan<float>(_bases[1] + offset + at, m), new Span<float>(p + at, m));
            }
            else for (long at = Start(rank), end = Start(rank + 1); at < end; at += Block)
            {
                int m = (int)Math.Min(Block, end - at);
                var sum = new Span<float>(_block, m);
                TensorPrimitives.Add(new ReadOnlySpan<float>(_bases[0] + offset + at, m), new ReadOnlySpan<float>(_bases[1] + offset + at, m), sum);
                for (int r = 2; r < n; r++) TensorPrimitives.Add(sum, new ReadOnlySpan<float>(_bases[r] + offset + at, m), sum);
                sum.CopyTo(new Span<float>(p + at, m));
            }
            Sync();
            for (int c = 0; c < n; c++)
                if (c != rank)
                    new ReadOnlySpan<float>(_bases[c] + offset + Start(c), (int)(Start(c + 1) - Start(c))).CopyTo(new Span<float>(p + Start(c), (int)(Start(c + 1) - Start(c))));
            Sync(); // no rank may write its buffer again before every rank has copied from it
        }

        public void Free()
        {
            MPI_Win_unlock_all(_window);
            var w = _window;
            MPI_Win_free(&w);
            NativeMemory.AlignedFree(_block);
        }
    }

    private void EnsureScratch(long length)
    {
        if (length <= _scratchLength) return;
        NativeMemory.AlignedFree(_scratch);
        _scratch = (float*)NativeMemory.AlignedAlloc((nuint)(length * sizeof(float)), 64);
        NativeMemory.Clear(_scratch, (nuint)(length * sizeof(float)));
        _scratchLength = length;
    }

    /// <inheritdoc/>
    public void AllGather(ReadOnlySpan<float> send, Span<float> receive)
    {
        if (receive.Length != (long)send.Length * Size)
            throw new ArgumentException($"receive must hold Size × send.Length = {(long)send.Length * Size} elements, but holds {receive.Length}.", nameof(receive));
        ThrowIfDisposed();
        fixed (float* s = send) fixed (float* r = receive)
            Check(MPI_Allgather((IntPtr)s, send.Length, _float, (IntPtr)r, send.Length, _float, _comm), "MPI_Allgather");
    }

    /// <inheritdoc/>
    public void ReduceScatter(ReadOnlySpan<float> send, Span<float> receive)
    {
        if (send.Length != (long)receive.Length * Size)
            throw new ArgumentException($"send must hold Size × receive.Length = {(long)receive.Length * Size} elements, but holds {send.Length}.", nameof(send));
        ThrowIfDisposed();
        fixed (float* s = send) fixed (float* r = receive)
            Check(MPI_Reduce_scatter_block((IntPtr)s, (IntPtr)r, receive.Length, _float, _sum, _comm), "MPI_Reduce_scatter_block");
    }

    /// <inheritdoc/>
    public void Broadcast(Span<float> buffer, int root = 0)
    {
        if (root < 0 || root >= Size) throw new ArgumentOutOfRangeException(nameof(root), root, $"The root must be a rank, 0 to {Size - 1}.");
        ThrowIfDisposed();
        fixed (float* p = buffer) Check(MPI_Bcast((IntPtr)p, buffer.Length, _float, root, _comm), "MPI_Bcast");
    }

    /// <inheritdoc/>
    public void Barrier()
    {
        ThrowIfDisposed();
        Check(MPI_Barrier(_comm), "MPI_Barrier");
    }

    /// <summary>
    /// Ends every rank of the job (<c>MPI_Abort</c>): mpirun kills the others and exits with <paramref name="errorCode"/>.
    /// An unhandled exception on any rank does this by itself.
    /// </summary>
    /// <param name="errorCode">The job's exit code.</param>
    public void Abort(int errorCode = 1)
    {
        ThrowIfDisposed();
        MPI_Abort(_comm, errorCode);
    }

    /// <summary>Calls <c>MPI_Finalize</c> (every rank must); MPI cannot be used again in this process.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var w in _windows) w.Free();
        _windows.Clear();
        var node = _node;
        MPI_Comm_free(&node);
        MPI_Finalize();
        NativeMemory.AlignedFree(_scratch);
        _scratch = null;
        _scratchLength = 0;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private void Check(int code, string call)
    {
        if (code != 0) throw new CommunicatorException($"Rank {Rank}: {call} returned MPI error code {code}.");
    }

    private const int ThreadSerialized = 2; // OpenMPI's MPI_THREAD_SERIALIZED
    [DllImport(Lib)] private static extern int MPI_Init_thread(IntPtr argc, IntPtr argv, int required, int* provided);
    [DllImport(Lib)] private static extern int MPI_Query_thread(int* provided);
    [DllImport(Lib)] private static extern int MPI_Initialized(int* flag);
    [DllImport(Lib)] private static extern int MPI_Comm_rank(IntPtr comm, int* rank);
    [DllImport(Lib)] private static extern int MPI_Comm_size(IntPtr comm, int* size);
    [DllImport(Lib)] private static extern int MPI_Allreduce(IntPtr send, IntPtr recv, int count, IntPtr type, IntPtr op, IntPtr comm);
    [DllImport(Lib)] private static extern int MPI_Allgather(IntPtr send, int sendCount, IntPtr sendType, IntPtr recv, int recvCount, IntPtr recvType, IntPtr comm);
    [DllImport(Lib)] private static extern int MPI_Reduce_scatter_block(IntPtr send, IntPtr recv, int recvCount, IntPtr type, IntPtr op, IntPtr comm);
    [DllImport(Lib)] private static extern int MPI_Sendrecv(IntPtr send, int sendCount, IntPtr sendType, int dest, int sendTag,
        IntPtr recv, int recvCount, IntPtr recvType, int source, int recvTag, IntPtr comm, IntPtr status);
    [DllImport(Lib)] private static extern int MPI_Comm_split_type(IntPtr comm, int splitType, int key, IntPtr info, IntPtr* newComm);
    [DllImport(Lib)] private static extern int MPI_Comm_free(IntPtr* comm);
    [DllImport(Lib)] private static extern int MPI_Win_allocate_shared(long size, int dispUnit, IntPtr info, IntPtr comm, void* baseptr, IntPtr* win);
    [DllImport(Lib)] private static extern int MPI_Win_shared_query(IntPtr win, int rank, long* size, int* dispUnit, void* baseptr);
    [DllImport(Lib)] private static extern int MPI_Win_lock_all(int assertion, IntPtr win);
    [DllImport(Lib)] private static extern int MPI_Win_unlock_all(IntPtr win);
    [DllImport(Lib)] private static extern int MPI_Win_sync(IntPtr win);
    [DllImport(Lib)] private static extern int MPI_Win_free(IntPtr* win);
    [DllImport("libc", EntryPoint = "setenv")] private static extern int setenv(string name, string value, int overwrite);
    [DllImport(Lib)] private static extern int MPI_Bcast(IntPtr buffer, int count, IntPtr type, int root, IntPtr comm);
    [DllImport(Lib)] private static extern int MPI_Barrier(IntPtr comm);
    [DllImport(Lib)] private static extern int MPI_Finalize();
    [DllImport(Lib)] private static extern int MPI_Abort(IntPtr comm, int errorCode);
}
