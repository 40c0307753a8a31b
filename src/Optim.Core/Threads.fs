namespace Optim


open System
open System.Runtime.ExceptionServices
open System.Threading

/// A piece of work over [lo, hi) that may run on any thread.
[<AbstractClass; AllowNullLiteral>]
type internal RangeJob() =
    abstract Run: lo: int * hi: int -> unit

/// A per-thread scratch buffer of doubles, grown when a larger one is needed and reused after that.
[<Sealed>]
type internal Scratch() =
    [<ThreadStatic; DefaultValue>]
    static val mutable private doubles: float[]
    /// `n` zeroed doubles of the calling thread's buffer.
    static member Doubles(n: int) : Span<float> =
        if isNull Scratch.doubles || Scratch.doubles.Length < n then Scratch.doubles <- Array.zeroCreate (max n 256)
        let s = Span<float>(Scratch.doubles, 0, n)
        s.Clear()
        s

/// A large kernel as one job for both threads: its elements in chunks of `Size`, which each thread takes in turn from
/// a shared counter and runs with `Inner.Run(lo, hi)`. The first exception a chunk throws is kept for the caller and
/// stops the other chunks. One per thread, reused.
[<Sealed; AllowNullLiteral>]
type internal ChunkJob() =
    inherit RangeJob()
    [<ThreadStatic; DefaultValue>]
    static val mutable private current: ChunkJob
    static member Current : ChunkJob =
        if isNull ChunkJob.current then ChunkJob.current <- ChunkJob()
        ChunkJob.current
    [<DefaultValue>] val mutable Inner: RangeJob
    [<DefaultValue>] val mutable N: int
    [<DefaultValue>] val mutable Size: int
    [<DefaultValue>] val mutable Next: int
    [<DefaultValue>] val mutable Error: ExceptionDispatchInfo
    override j.Run(_, _) =
        let chunks = (j.N + j.Size - 1) / j.Size
        let mutable k = Interlocked.Increment(&j.Next) - 1
        while k < chunks do
            try j.Inner.Run(k * j.Size, min j.N ((k + 1) * j.Size))
            with e ->
                // kept for the caller (the worker thread must not die of it), and no more chunks start
                Interlocked.CompareExchange(&j.Error, ExceptionDispatchInfo.Capture e, null) |> ignore
                Volatile.Write(&j.Next, chunks)
            k <- Interlocked.Increment(&j.Next) - 1

/// Many parameters' steps as one job for both threads: each thread takes the next parameter index from a shared
/// counter and runs the step of the parameters smaller than `Limit` (the larger ones were run before, each split).
/// The first exception a step throws is kept for the caller and stops the other thread's loop. One per thread, reused.
[<Sealed; AllowNullLiteral>]
type internal EachJob() =
    inherit RangeJob()
    [<ThreadStatic; DefaultValue>]
    static val mutable private current: EachJob
    static member Current : EachJob =
        if isNull EachJob.current then EachJob.current <- EachJob()
        EachJob.current
    [<DefaultValue>] val mutable Sizes: int[]
    [<DefaultValue>] val mutable Limit: int
    [<DefaultValue>] val mutable Step: Action<int>
    [<DefaultValue>] val mutable Next: int
    [<DefaultValue>] val mutable Error: ExceptionDispatchInfo
    override j.Run(_, _) =
        let n = j.Sizes.Length
        let mutable i = Interlocked.Increment(&j.Next) - 1
        while i < n do
            if j.Sizes.[i] < j.Limit then
                try j.Step.Invoke i
                with e ->
                    Interlocked.CompareExchange(&j.Error, ExceptionDispatchInfo.Capture e, null) |> ignore
                    Volatile.Write(&j.Next, n)
            i <- Interlocked.Increment(&j.Next) - 1

/// Shares the work of a step between the calling thread and one persistent worker thread, so that it uses both
/// cores' memory bandwidth: a large kernel's elements in fixed chunks (`run`), and the parameters too small for that
/// one by one (`runEach`), which both threads take in turn. The caller starts at once and offers the work to the
/// worker; a worker still waking up (a sleeping core can take milliseconds, in a virtual machine) joins late or not
/// at all, and the caller then withdraws the offer instead of waiting for it. Nothing is allocated per call: the
/// worker is started once, and jobs are reused per thread. Results do not depend on the sharing: an elementwise kernel
/// computes every element by the same expression, a reduction adds its chunks' partial results in chunk order, and a
/// parameter's step does not depend on which thread runs it.
module internal Split =

    /// Kernels on at least this many elements are shared (4 MiB of float32; below, waking the worker costs more than it saves).
    let threshold = 1 <<< 20

    /// The chunk of a shared kernel, in elements: a multiple of 64, so that every chunk starts on a cache-line and SIMD
    /// boundary, and small enough that the thread that finishes first waits little for the other.
    let chunk = 1 <<< 16

    let private gate = obj ()
    let private wake = new SemaphoreSlim(0)
    let private finished = new SemaphoreSlim(0)
    let mutable private job : RangeJob = null
    // the hand-over: 0 nothing on offer, 1 `job` on offer, 2 the worker runs it
    let mutable private state = 0

    /// How long the worker spins for the next offer before it sleeps: the kernels of one step follow each other closely.
    let private spinTicks = Diagnostics.Stopwatch.Frequency / 20_000L

    let private worker =
        lazy
            (let t =
                Thread(
                    (fun () ->
                        while true do
                            let until = Diagnostics.Stopwatch.GetTimestamp() + spinTicks
                            while Volatile.Read(&state) <> 1 && Diagnostics.Stopwatch.GetTimestamp() < until do
                                Thread.SpinWait 20
                            // a wake-up may be stale (its offer was taken while spinning, or withdrawn): look again
                            if Volatile.Read(&state) <> 1 then wake.Wait()
                            if Interlocked.CompareExchange(&state, 2, 1) = 1 then
                                try job.Run(0, 0)
                                finally
                                    Volatile.Write(&state, 0)
                                    finished.Release() |> ignore),
                    IsBackground = true,
                    Name = "Optim kernel worker")
             t.Start()
             t)

    /// Runs the puller `j` (a job that takes its work from a shared counter) here, and on the worker if it joins in
    /// time; returns when all of it has run. Without the worker (one core, or another thread holds it) it all runs here.
    let private share (j: RangeJob) =
        if Environment.ProcessorCount < 2 || not (Monitor.TryEnter gate) then j.Run(0, 0)
        else
            try
                worker.Force() |> ignore
                job <- j
                Volatile.Write(&state, 1)
                wake.Release() |> ignore
                j.Run(0, 0)
                // withdraw the offer if the worker never took it; else wait for it to finish its last piece
                if Interlocked.CompareExchange(&state, 0, 1) <> 1 then finished.Wait()
                job <- null
            finally
                Monitor.Exit gate

    /// Runs `j` over [0, n): below the threshold in one piece here; above, in chunks of `chunk` elements that this
    /// thread and the worker take in turn.
    let run (j: RangeJob) (n: int) =
        if n < threshold then j.Run(0, n)
        else
            let c = ChunkJob.Current
            c.Inner <- j
            c.N <- n
            c.Size <- chunk
            c.Next <- 0
            c.Error <- null
            share c
            c.Inner <- null
            let error = c.Error
            c.Error <- null
            if not (isNull error) then error.Throw()

    /// Runs `step i` for every parameter index i (`sizes.[i]` its element count): the parameters of `threshold`
    /// elements or more one after another here, each kernel shared by `run`; then the smaller ones, which this thread
    /// and the worker take in turn when they hold `threshold` elements together (else all here). Returns when every
    /// step has finished; the first exception a step threw is then rethrown here.
    let runEach (sizes: int[]) (step: Action<int>) =
        let mutable small = 0L
        let mutable anySmall = false
        for i in 0 .. sizes.Length - 1 do
            if sizes.[i] >= threshold then step.Invoke i
            else
                small <- small + int64 sizes.[i]
                anySmall <- true
        // a parameter of no elements still steps (its step is counted)
        if anySmall then
            if small < int64 threshold then
                for i in 0 .. sizes.Length - 1 do
                    if sizes.[i] < threshold then step.Invoke i
            else
                let j = EachJob.Current
                j.Sizes <- sizes
                j.Limit <- threshold
                j.Step <- step
                j.Next <- 0
                j.Error <- null
                share j
                let error = j.Error
                j.Sizes <- null
                j.Step <- null
                j.Error <- null
                if not (isNull error) then error.Throw()
