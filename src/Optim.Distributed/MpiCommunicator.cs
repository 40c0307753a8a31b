using System.Runtime.InteropServices;

namespace Optim.Distributed;

/// <summary>
/// The ranks of an MPI job (<c>MPI_COMM_WORLD</c>) over OpenMPI's <c>libmpi.so.40</c>, called directly by P/Invoke;
/// start the program under <c>mpirun -np N dotnet App.dll</c>. Sums are OpenMPI's: for 2 ranks they are the same
/// bits on both ranks and equal rank 0 + rank 1; for more ranks OpenMPI picks the reduction order by message size.
/// A rank that dies makes mpirun end the whole job; so does an unhandled exception on any rank (the communicator
/// calls <c>MPI_Abort</c> from the process's unhandled-exception handler), and an MPI error (OpenMPI's default
/// error handler).
/// One instance per process: <see cref="Dispose"/> calls <c>MPI_Finalize</c>, after which MPI cannot be used again.
/// </summary>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    private const string Lib = "libmpi.so.40";
    private static readonly IntPtr InPlace = 1; // OpenMPI's MPI_IN_PLACE is (void*)1
    private static int s_created;
    private readonly IntPtr _comm, _float, _sum;
    private bool _disposed;

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
        int initialized;
        Check(MPI_Initialized(&initialized), "MPI_Initialized");
        if (initialized == 0) Check(MPI_Init(IntPtr.Zero, IntPtr.Zero), "MPI_Init");
        int rank, size;
        Check(MPI_Comm_rank(_comm, &rank), "MPI_Comm_rank");
        Check(MPI_Comm_size(_comm, &size), "MPI_Comm_size");
        Rank = rank;
        Size = size;
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

    /// <inheritdoc/>
    public void AllReduce(Span<float> buffer)
    {
        ThrowIfDisposed();
        fixed (float* p = buffer) Check(MPI_Allreduce(InPlace, (IntPtr)p, buffer.Length, _float, _sum, _comm), "MPI_Allreduce");
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
        MPI_Finalize();
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private void Check(int code, string call)
    {
        if (code != 0) throw new CommunicatorException($"Rank {Rank}: {call} returned MPI error code {code}.");
    }

    [DllImport(Lib)] private static extern int MPI_Init(IntPtr argc, IntPtr argv);
    [DllImport(Lib)] private static extern int MPI_Initialized(int* flag);
    [DllImport(Lib)] private static extern int MPI_Comm_rank(IntPtr comm, int* rank);
    [DllImport(Lib)] private static extern int MPI_Comm_size(IntPtr comm, int* size);
    [DllImport(Lib)] private static extern int MPI_Allreduce(IntPtr send, IntPtr recv, int count, IntPtr type, IntPtr op, IntPtr comm);
    [DllImport(Lib)] private static extern int MPI_Allgather(IntPtr send, int sendCount, IntPtr sendType, IntPtr recv, int recvCount, IntPtr recvType, IntPtr comm);
    [DllImport(Lib)] private static extern int MPI_Reduce_scatter_block(IntPtr send, IntPtr recv, int recvCount, IntPtr type, IntPtr op, IntPtr comm);
    [DllImport(Lib)] private static extern int MPI_Bcast(IntPtr buffer, int count, IntPtr type, int root, IntPtr comm);
    [DllImport(Lib)] private static extern int MPI_Barrier(IntPtr comm);
    [DllImport(Lib)] private static extern int MPI_Finalize();
    [DllImport(Lib)] private static extern int MPI_Abort(IntPtr comm, int errorCode);
}
