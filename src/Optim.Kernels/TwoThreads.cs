using System.Runtime.ExceptionServices;

namespace Optim.Kernels;

/// <summary>Work in two independent halves, either of which may run on any thread.</summary>
internal abstract class TwoPartJob
{
    /// <summary>Runs half <paramref name="part"/> (0 or 1).</summary>
    public abstract void Run(int part);
}

/// <summary>
/// Runs the two halves of a job at once: half 1 on one persistent worker thread, half 0 on the caller, then
/// waits for both. Nothing is allocated per call. When the worker has not picked half 1 up by the time the caller
/// is done with half 0 (a busy machine did not schedule it), the caller takes half 1 back and runs it itself, so a
/// loaded machine costs at most the serial time. With one core, while another thread holds the worker, or from
/// inside a half (a job whose halves run jobs of their own, such as a convolution's products), both halves run on
/// the caller. The halves write disjoint outputs with the same code, so the result does not depend
/// on where they ran.
/// </summary>
internal static class TwoThreads
{
    private const int Idle = 0, Posted = 1, Taken = 2, Withdrawn = 3;

    private static readonly object Gate = new();
    private static readonly SemaphoreSlim Start = new(0);
    private static readonly SemaphoreSlim Done = new(0);
    private static TwoPartJob? _job;
    private static int _state;
    private static ExceptionDispatchInfo? _error;
    private static Thread? _worker;

    /// <summary>Whether a second thread may take half of the work.</summary>
    public static bool Available => Environment.ProcessorCount > 1;

    public static void Run(TwoPartJob job)
    {
        // the gate is reentrant: a half already running on the caller must not post over its own job
        if (!Available || Monitor.IsEntered(Gate) || !Monitor.TryEnter(Gate))
        {
            job.Run(0);
            job.Run(1);
            return;
        }
        try
        {
            _worker ??= StartWorker();
            _job = job;
            _error = null;
            Volatile.Write(ref _state, Posted);
            Start.Release();
            try { job.Run(0); }
            finally
            {
                if (Interlocked.CompareExchange(ref _state, Withdrawn, Posted) == Posted) job.Run(1);
                else Done.Wait();
                _job = null;
                Volatile.Write(ref _state, Idle);
            }
            _error?.Throw();
        }
        finally
        {
            Monitor.Exit(Gate);
        }
    }

    private static Thread StartWorker()
    {
        var t = new Thread(() =>
        {
            while (true)
            {
                Start.Wait();
                // a wake-up for a job the caller already withdrew finds nothing posted
                if (Interlocked.CompareExchange(ref _state, Taken, Posted) != Posted) continue;
                try { _job!.Run(1); }
                catch (Exception e) { _error = ExceptionDispatchInfo.Capture(e); }
                finally { Done.Release(); }
            }
        })
        { IsBackground = true, Name = "Optim.Kernels worker" };
        t.Start();
        return t;
    }
}
