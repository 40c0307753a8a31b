// The MPI checks: run under mpirun, every rank runs the collective tests and a DDP law on MpiCommunicator.
//
//     mpirun --allow-run-as-root --oversubscribe -x TERM=dumb -np 2 dotnet Optim.Distributed.MpiCheck.dll [collectives|fault]
//
// collectives (the default): the collective tests of tests/Optim.Distributed.Tests/Collectives.cs, then two ranks of
// DistributedDataParallel + Adam on the halves of a batch against one process on the whole batch, and DDP with
// ZeRO-sharded Adam against DDP with plain Adam (bit for bit). Each rank prints
// "rank R: N passed, N failed" and exits 1 if any failed.
// fault: after a barrier, rank 1 throws; the job must end, non-zero, instead of hanging in the next all-reduce.
// fault kill: rank 1 kills its own process instead (SIGKILL).
// bench: the time of an all-reduce of 16M float32, as bus bandwidth, against a copy in one process.
using Optim.CSharp;
using Optim.Distributed;
using Optim.Distributed.Tests;
using Optim.NN;

string mode = args.Length > 0 ? args[0] : "collectives";
using var comm = new MpiCommunicator();
int passed = 0, failed = 0;

void Check(string name, Action body)
{
    try { body(); passed++; }
    catch (Exception e) { failed++; Console.Error.WriteLine($"rank {comm.Rank}: {name} failed: {e.Message}"); }
}

if (mode == "fault")
{
    comm.Barrier();
    if (comm.Rank == 1 && args.Length > 1 && args[1] == "kill") System.Diagnostics.Process.GetCurrentProcess().Kill();
    if (comm.Rank == 1) throw new InvalidOperationException("rank 1 fails on purpose");
    comm.AllReduce(new float[4]);
    Console.WriteLine($"rank {comm.Rank}: the all-reduce returned although rank 1 failed");
    return 0;
}

if (mode == "bench")
{
    // all-reduce of 16M float32 (64 MB): bus bandwidth = bytes × 2(N−1)/N ÷ time, against one process's copy bandwidth
    const int n = 16 << 20;
    var buffer = new float[n];
    var copy = new float[n];
    Array.Fill(buffer, 1f);
    comm.AllReduce(buffer); // warm-up
    double best = double.MaxValue, bestCopy = double.MaxValue;
    for (int i = 0; i < 10; i++)
    {
        comm.Barrier();
        var w = System.Diagnostics.Stopwatch.StartNew();
        comm.AllReduce(buffer);
        best = Math.Min(best, w.Elapsed.TotalSeconds);
    }
    for (int i = 0; i < 10; i++)
    {
        var w = System.Diagnostics.Stopwatch.StartNew();
        buffer.AsSpan().CopyTo(copy);
        bestCopy = Math.Min(bestCopy, w.Elapsed.TotalSeconds);
    }
    double bytes = n * 4.0, bus = bytes * 2 * (comm.Size - 1) / comm.Size / best / 1e9, memcpy = bytes / bestCopy / 1e9;
    if (comm.Rank == 0)
        Console.WriteLine($"allreduce 16M float32 on {comm.Size} ranks: {best * 1e3:F1} ms, bus bandwidth {bus:F2} GB/s; one process's copy: {memcpy:F2} GB/s ({bus / memcpy:P0})");
    return 0;
}

foreach (var (name, body) in Collectives.All) Check(name, () => body(comm));

Check("AllReduce in shared buffers at different offsets", () =>
{
    if (!comm.OnOneMachine) return;
    var buffer = comm.AllocateBuffer(10);
    try
    {
        comm.AllReduce(buffer.Span.Slice(comm.Rank == 0 ? 0 : 1, 5));
    }
    catch (CommunicatorException e) when (e.Message.Contains("passed offset"))
    {
        return;
    }
    throw new Exception("AllReduce of shared buffers at different offsets on different ranks did not fail.");
});

Check("DistributedDataParallel", () =>
{
    const int perRank = 3;
    int rows = perRank * comm.Size;
    var rng = new Random(11);
    var x = Enumerable.Range(0, rows * 4).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    var y = Enumerable.Range(0, rows * 2).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    Sequential Mlp(int seed) { var g = new Random(seed); return new Sequential(new Linear(4, 8, random: g), new ReLU(), new Linear(8, 2, random: g)); }

    var ddp = new DistributedDataParallel(Mlp(1 + comm.Rank), comm, bucketCapMB: 0.0001);
    var adam = new Adam(ddp.Parameters(), lr: 0.01);
    var single = Mlp(1);
    var reference = new Adam(single.Parameters(), lr: 0.01);
    for (int step = 0; step < 5; step++)
    {
        adam.ZeroGrad();
        var xs = new Tensor(x.AsSpan(comm.Rank * perRank * 4, perRank * 4).ToArray(), perRank, 4);
        var ys = new Tensor(y.AsSpan(comm.Rank * perRank * 2, perRank * 2).ToArray(), perRank, 2);
        new MSELoss().Forward(ddp.Forward(xs), ys).Backward();
        ddp.Synchronize();
        adam.Step();

        reference.ZeroGrad();
        new MSELoss().Forward(single.Forward(new Tensor(x, rows, 4)), new Tensor(y, rows, 2)).Backward();
        reference.Step();
    }
    var mine = ddp.Parameters().SelectMany(p => p.Data).ToArray();
    var all = new float[mine.Length * comm.Size];
    comm.AllGather(mine, all);
    for (int r = 1; r < comm.Size; r++)
        if (!all.AsSpan(r * mine.Length, mine.Length).SequenceEqual(mine.AsSpan()))
            throw new Exception($"rank {r}'s replica differs from rank 0's");
    var expected = single.Parameters().SelectMany(p => p.Data).ToArray();
    for (int i = 0; i < expected.Length; i++)
        if (Math.Abs(mine[i] - expected[i]) > 1e-5 + 1e-4 * Math.Abs(expected[i]))
            throw new Exception($"element {i} is {mine[i]}, one process has {expected[i]}");
});

Check("ZeroRedundancyOptimizer", () =>
{
    float[] Train(bool zero)
    {
        var g = new Random(5);
        var model = new Sequential(new Linear(4, 8, random: g), new ReLU(), new Linear(8, 2, random: g));
        var ddp = new DistributedDataParallel(model, comm);
        var z = zero ? new ZeroRedundancyOptimizer(ddp.Parameters(), ps => new Adam(ps, lr: 0.01), comm) : null;
        var plain = zero ? null : new Adam(ddp.Parameters(), lr: 0.01);
        for (int step = 0; step < 5; step++)
        {
            var rng = new Random(100 * step + comm.Rank);
            var xs = new Tensor(Enumerable.Range(0, 12).Select(_ => (float)rng.NextDouble()).ToArray(), 3, 4);
            var ys = new Tensor(Enumerable.Range(0, 6).Select(_ => (float)rng.NextDouble()).ToArray(), 3, 2);
            if (z is not null) z.ZeroGrad(); else plain!.ZeroGrad();
            new MSELoss().Forward(ddp.Forward(xs), ys).Backward();
            ddp.Synchronize();
            if (z is not null) z.Step(); else plain!.Step();
        }
        return ddp.Parameters().SelectMany(p => p.Data).ToArray();
    }
    if (!Train(zero: true).SequenceEqual(Train(zero: false))) throw new Exception("DDP + ZeRO Adam differs from DDP + Adam");
});

Console.WriteLine($"rank {comm.Rank} of {comm.Size}: {passed} passed, {failed} failed");
return failed == 0 ? 0 : 1;
