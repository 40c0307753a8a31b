// Timings of Optim.Distributed under mpirun (bench/distributed/run.sh runs every mode):
//
//     mpirun --allow-run-as-root --oversubscribe -x TERM=dumb -np N dotnet Optim.DistributedBench.dll MODE
//
// allreduce: 16M float32 summed by MpiCommunicator.AllReduce in a buffer from AllocateBuffer (shared memory on one
//   machine) and in a float[] (its ring), and by OpenMPI's MPI_Allreduce, alternating, as bus bandwidth (bytes × 2(N−1)/N ÷ time), against this machine's copy bandwidth (one process copying a 64 MB
//   buffer into another, timed in the same run).
// sizes: the ring's and the shared-memory all-reduce's times at several message sizes, for the α-β fit in docs/distributed.md.
// zero: one ZeroRedundancyOptimizer(Adam) step against one unsharded Adam step plus an all-gather of the parameters,
//   alternating.
// ddp: a DistributedDataParallel training step with its all-reduces overlapped with the backward pass and without.
// Every figure is the median of the repetitions; rank 0 prints.
using System.Diagnostics;
using System.Globalization;
using Optim.CSharp;
using Optim.Distributed;

CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
string mode = args.Length > 0 ? args[0] : "allreduce";
using var comm = new MpiCommunicator();

static double Median(List<double> xs)
{
    var s = xs.Order().ToArray();
    return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
}

double Time(Action body)
{
    comm.Barrier();
    var w = Stopwatch.StartNew();
    body();
    double mine = w.Elapsed.TotalSeconds;
    var all = new float[comm.Size];
    comm.AllGather([(float)mine], all);
    return all.Max(); // a collective takes as long as its slowest rank
}

void Print(string line) { if (comm.Rank == 0) Console.WriteLine(line); }

switch (mode)
{
    case "allreduce":
    {
        const int n = 16 << 20;
        const int reps = 15;
        var buffer = new float[n];
        var shared = comm.AllocateBuffer(n);
        var copy = new float[n];
        Array.Fill(buffer, 1f);
        shared.Span.Fill(1f);
        Array.Fill(copy, 0f);
        var variants = new (string Name, Action Run, List<double> Times)[]
        {
            ($"MpiCommunicator.AllReduce, a buffer from AllocateBuffer ({(comm.OnOneMachine ? "shared memory" : "an array")})", () => comm.AllReduce(shared.Span), []),
            ("MpiCommunicator.AllReduce, a float[] (its ring)", () => comm.AllReduce(buffer), []),
            ("OpenMPI's MPI_Allreduce, in place", () => comm.OpenMpiAllReduce(buffer), []),
        };
        foreach (var v in variants) v.Run();
        var copies = new List<double>();
        for (int i = 0; i < reps; i++)
        {
            foreach (var v in variants) v.Times.Add(Time(v.Run));
            comm.Barrier();
            // one process's copy, while the other ranks wait in the barrier
            if (comm.Rank == 0)
            {
                var w = Stopwatch.StartNew();
                buffer.AsSpan().CopyTo(copy);
                copies.Add(w.Elapsed.TotalSeconds);
            }
            comm.Barrier();
        }
        double bytes = n * 4.0, traffic = bytes * 2 * (comm.Size - 1) / comm.Size;
        double memcpy = comm.Rank == 0 ? bytes / Median(copies) / 1e9 : 0;
        Print($"one process's copy of 16M float32 (64 MB): {bytes / memcpy / 1e6:F2} ms, {memcpy:F2} GB/s");
        foreach (var (name, _, times) in variants)
        {
            double t = Median(times), bus = traffic / t / 1e9;
            Print($"allreduce 16M float32 on {comm.Size} ranks, {name}: {t * 1e3:F1} ms, bus bandwidth {bus:F2} GB/s, {bus / memcpy:P0} of the copy's");
        }
        break;
    }
    case "sizes":
    {
        var shared = comm.AllocateBuffer(1 << 24);
        foreach (int n in new[] { 1 << 10, 1 << 14, 1 << 16, 1 << 18, 1 << 20, 1 << 22, 1 << 24 })
        {
            var buffer = new float[n];
            int reps = n >= 1 << 22 ? 9 : 31;
            foreach (var (name, run) in new (string, Action)[]
                     {
                         ("ring", () => comm.RingAllReduceForBench(buffer)),
                         ("shared", () => comm.AllReduce(shared.Span[..n])),
                     })
            {
                run();
                var times = new List<double>();
                for (int i = 0; i < reps; i++) times.Add(Time(run));
                Print($"{name} allreduce on {comm.Size} ranks: {n} float32 ({n * 4} bytes): {Median(times) * 1e6:F1} us");
            }
        }
        break;
    }
    case "zero":
    {
        // a model's worth of parameters: 4 matrices of 1024 × 1024 and their biases (about 4.2M float32)
        var rng = new Random(1);
        Parameter[] Model() => Enumerable.Range(0, 8).Select(i => i % 2 == 0
            ? new Parameter(Enumerable.Range(0, 1024 * 1024).Select(_ => (float)rng.NextDouble()).ToArray(), 1024, 1024)
            : new Parameter(Enumerable.Range(0, 1024).Select(_ => (float)rng.NextDouble()).ToArray(), 1024)).ToArray();
        var sharded = Model();
        var plain = Model();
        foreach (var p in sharded.Concat(plain)) p.Grad = p.Data.Select(v => v * 1e-3f).ToArray();
        var zero = new ZeroRedundancyOptimizer(sharded, ps => new Adam(ps, lr: 1e-3), comm);
        var adam = new Adam(plain, lr: 1e-3);
        long total = plain.Sum(p => (long)p.Data.Length);
        int shard = (int)((total + comm.Size - 1) / comm.Size);
        var send = new float[shard];
        var gathered = new float[shard * comm.Size];
        var (zeroTimes, stepTimes, gatherTimes) = (new List<double>(), new List<double>(), new List<double>());
        for (int i = 0; i < 3; i++) { zero.Step(); adam.Step(); comm.AllGather(send, gathered); }
        for (int i = 0; i < 15; i++)
        {
            zeroTimes.Add(Time(zero.Step));
            stepTimes.Add(Time(() => adam.Step()));
            gatherTimes.Add(Time(() => comm.AllGather(send, gathered)));
        }
        double z = Median(zeroTimes), s = Median(stepTimes), g = Median(gatherTimes);
        Print($"ZeRO Adam step on {comm.Size} ranks, {total} float32 parameters in {plain.Length} tensors: {z * 1e3:F1} ms; " +
              $"unsharded Adam step {s * 1e3:F1} ms + all-gather of the parameters {g * 1e3:F1} ms = {(s + g) * 1e3:F1} ms " +
              $"(ZeRO at {z / (s + g):P0} of it)");
        break;
    }
    case "ddp":
    {
        // an MLP 784-1024-1024-10 (1.9M parameters), 32 images per rank: a step with the bucket all-reduces started
        // from inside the backward pass against one with all of them in Synchronize, alternating
        Optim.NN.Sequential Mlp() { var g = new Random(2); return new Optim.NN.Sequential(new Optim.NN.Linear(784, 1024, random: g), new Optim.NN.ReLU(), new Optim.NN.Linear(1024, 1024, random: g), new Optim.NN.ReLU(), new Optim.NN.Linear(1024, 10, random: g)); }
        var rng = new Random(comm.Rank);
        var x = new Optim.NN.Tensor(Enumerable.Range(0, 32 * 784).Select(_ => (float)rng.NextDouble()).ToArray(), 32, 784);
        var y = new Optim.NN.Tensor(Enumerable.Range(0, 32).Select(i => (float)(i % 10)).ToArray(), 32);
        var runs = new[] { true, false }.Select(overlap =>
        {
            var ddp = new DistributedDataParallel(Mlp(), comm, bucketCapMB: 1, overlap: overlap);
            var sgd = new SGD(ddp.Parameters(), lr: 0.01);
            Action step = () =>
            {
                sgd.ZeroGrad();
                new Optim.NN.CrossEntropyLoss().Forward(ddp.Forward(x), y).Backward();
                ddp.Synchronize();
                sgd.Step();
            };
            return (Overlap: overlap, Step: step, Buckets: ddp.Buckets.Count, Times: new List<double>());
        }).ToArray();
        for (int i = 0; i < 5; i++) foreach (var r in runs) r.Step();
        for (int i = 0; i < 21; i++) foreach (var r in runs) r.Times.Add(Time(r.Step));
        foreach (var r in runs)
            Print($"DDP step on {comm.Size} ranks, MLP 784-1024-1024-10, {r.Buckets} buckets of at most 1 MB, " +
                  $"{(r.Overlap ? "all-reduces started during Backward" : "all-reduces in Synchronize")}: {Median(r.Times) * 1e3:F1} ms");
        break;
    }
    default:
        Console.Error.WriteLine($"Unknown mode '{mode}': allreduce, sizes, zero or ddp.");
        return 2;
}
return 0;
