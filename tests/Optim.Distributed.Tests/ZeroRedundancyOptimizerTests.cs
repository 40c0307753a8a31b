using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;
using Optim.CSharp;
using Optim.NN;

namespace Optim.Distributed.Tests;

/// <summary>ZeRO-1: sharded optimizer state, the unsharded optimizer's numbers.</summary>
public class ZeroRedundancyOptimizerTests
{
    private static Sequential Model(int seed)
    {
        var rng = new Random(seed);
        return new Sequential(new Linear(5, 7, random: rng), new ReLU(), new Linear(7, 4, random: rng), new ReLU(), new Linear(4, 2, random: rng));
    }

    private static Optim.CSharp.Optimizer Make(string name, IEnumerable<Parameter> ps) => name switch
    {
        "SGD" => new SGD(ps, lr: 0.05, momentum: 0.9),
        "Adam" => new Adam(ps, lr: 0.01),
        "AdamW" => new AdamW(ps, lr: 0.01, weightDecay: 0.1),
        _ => throw new ArgumentException(name),
    };

    /// <summary>Every rank's parameters after <paramref name="steps"/> steps of DDP on its shard, with ZeRO or without.</summary>
    private static float[][] Train(int ranks, int steps, int seed, string optimizer, bool zero) => InProcessCommunicator.Run(ranks, comm =>
    {
        var ddp = new DistributedDataParallel(Model(seed + comm.Rank), comm);
        var z = zero ? new ZeroRedundancyOptimizer(ddp.Parameters(), ps => Make(optimizer, ps), comm) : null;
        var plain = zero ? null : Make(optimizer, ddp.Parameters());
        for (int s = 0; s < steps; s++)
        {
            var rng = new Random(seed * 101 + s * 7 + comm.Rank);
            var x = new Tensor(Enumerable.Range(0, 3 * 5).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray(), 3, 5);
            var y = new Tensor(Enumerable.Range(0, 3 * 2).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray(), 3, 2);
            if (z is not null) z.ZeroGrad(); else plain!.ZeroGrad();
            new MSELoss().Forward(ddp.Forward(x), y).Backward();
            ddp.Synchronize();
            if (z is not null) z.Step(); else plain!.Step();
        }
        return ddp.Parameters().SelectMany(p => p.Data).ToArray();
    }, TimeSpan.FromSeconds(30));

    [Fact]
    public void DdpWithZeroEqualsDdpWithTheUnshardedOptimizerBitForBit()
    {
        var cases = from ranks in Gen.Choose(1, 4) from steps in Gen.Choose(1, 4) from seed in Gen.Choose(0, 10000)
                    from opt in Gen.Elements("SGD", "Adam", "AdamW") select (ranks, steps, seed, opt);
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(40), Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var sharded = Train(c.ranks, c.steps, c.seed, c.opt, zero: true);
            var unsharded = Train(c.ranks, c.steps, c.seed, c.opt, zero: false);
            foreach (var r in sharded) Assert.Equal(unsharded[0], r);
        }));
    }

    [Fact]
    public void ASchedulerOverEachRanksLocalOptimizerEqualsItOverTheUnshardedOne()
    {
        float[][] Train(bool zero) => InProcessCommunicator.Run(3, comm =>
        {
            var ddp = new DistributedDataParallel(Model(4), comm);
            var z = zero ? new ZeroRedundancyOptimizer(ddp.Parameters(), ps => new AdamW(ps, lr: 0.02), comm) : null;
            var opt = z?.LocalOptimizer ?? new AdamW(ddp.Parameters(), lr: 0.02);
            var sched = new CosineAnnealingLR(opt, tMax: 4);
            for (int s = 0; s < 6; s++)
            {
                var rng = new Random(s * 3 + comm.Rank);
                var x = new Tensor(Enumerable.Range(0, 10).Select(_ => (float)rng.NextDouble()).ToArray(), 2, 5);
                var y = new Tensor(Enumerable.Range(0, 4).Select(_ => (float)rng.NextDouble()).ToArray(), 2, 2);
                if (z is not null) z.ZeroGrad(); else opt.ZeroGrad();
                new MSELoss().Forward(ddp.Forward(x), y).Backward();
                ddp.Synchronize();
                if (z is not null) z.Step(); else opt.Step();
                sched.Step();
            }
            return ddp.Parameters().SelectMany(p => p.Data).ToArray();
        });
        var sharded = Train(zero: true);
        var unsharded = Train(zero: false);
        Assert.All(sharded, r => Assert.Equal(unsharded[0], r));
        Assert.NotEqual(unsharded[0], Model(4).Parameters().SelectMany(p => p.Data).ToArray());
    }

    /// <summary>The numbers under "state" in an optimizer's state dict: its state's elements.</summary>
    private static int StateElements(Optim.CSharp.Optimizer o)
    {
        using var doc = JsonDocument.Parse(o.StateDict().ToJson());
        static int Count(JsonElement e) => e.ValueKind switch
        {
            JsonValueKind.Number => 1,
            JsonValueKind.Array => e.EnumerateArray().Sum(Count),
            JsonValueKind.Object => e.EnumerateObject().Sum(p => Count(p.Value)),
            _ => 0,
        };
        return Count(doc.RootElement.GetProperty("state"));
    }

    [Fact]
    public void EachRankHoldsAboutOneNthOfTheState()
    {
        // 8 equal matrices and their biases over 4 ranks: each rank owns 2 of each, a quarter of the state
        var results = InProcessCommunicator.Run(4, comm =>
        {
            var model = new Sequential(Enumerable.Range(0, 8).Select(i => (Module)new Linear(16, 16, random: new Random(i))).ToArray());
            var zero = new ZeroRedundancyOptimizer(model.Parameters(), ps => new Adam(ps), comm);
            foreach (var p in model.Parameters()) p.Grad = Enumerable.Repeat(0.5f, p.Data.Length).ToArray();
            zero.Step();
            var unsharded = new Adam(model.Parameters());
            foreach (var p in model.Parameters()) p.Grad = Enumerable.Repeat(0.5f, p.Data.Length).ToArray();
            unsharded.Step();
            return (Mine: StateElements(zero.LocalOptimizer), All: StateElements(unsharded));
        });
        int total = results[0].All;
        Assert.True(total > 8 * 2 * 272, $"unsharded state {total}"); // exp_avg and exp_avg_sq of 8 × 272 elements
        Assert.Equal(total, results.Sum(r => r.Mine));
        Assert.All(results, r => Assert.Equal(total / 4, r.Mine));
    }

    [Fact]
    public void ThePartitionIsPyTorchsLargestFirstToTheLeastLoadedRank()
    {
        // sizes 10, 3, 8, 8, 1 over 2 ranks: 10 → 0, 8 → 1, 8 → 1 (8 < 10), 3 → 0 (10 < 16), 1 → 0 (13 < 16)
        Assert.Equal(new[] { 0, 0, 1, 1, 0 }, ZeroRedundancyOptimizer.Partition([10, 3, 8, 8, 1], 2));
        var rng = new Random(3);
        for (int t = 0; t < 50; t++)
        {
            var sizes = Enumerable.Range(0, rng.Next(4, 30)).Select(_ => (long)rng.Next(1, 1000)).ToArray();
            int ranks = rng.Next(1, 4);
            var owners = ZeroRedundancyOptimizer.Partition(sizes, ranks);
            var load = Enumerable.Range(0, ranks).Select(r => sizes.Where((_, i) => owners[i] == r).Sum()).ToArray();
            Assert.True(load.Max() - load.Min() <= sizes.Max(), $"loads [{string.Join(", ", load)}]");
        }
    }

    [Fact]
    public void RanksWhoseOptimizersOrParametersDifferFailAtConstructionNamingTheRankAndWhat()
    {
        Parameter[] Params(int last) => [new Parameter(new float[6], 2, 3), new Parameter(new float[2], 2), new Parameter(new float[last], last)];
        var lr = Assert.Throws<AggregateException>(() => InProcessCommunicator.Run(3, comm =>
            new ZeroRedundancyOptimizer(Params(4), ps => new Adam(ps, lr: comm.Rank == 2 ? 0.01 : 0.001), comm)));
        var kind = Assert.Throws<AggregateException>(() => InProcessCommunicator.Run(2, comm =>
            new ZeroRedundancyOptimizer(Params(4), ps => comm.Rank == 0 ? new Adam(ps) : new AdamW(ps), comm)));
        var shape = Assert.Throws<AggregateException>(() => InProcessCommunicator.Run(2, comm =>
            new ZeroRedundancyOptimizer(Params(4 + comm.Rank), ps => new SGD(ps, lr: 0.1), comm)));
        foreach (var (e, ranks, param, says) in new[]
                 {
                     (lr, 3, "optimizerFactory", "rank 2 has lr = 0.01, rank 0 has 0.001"),
                     (kind, 2, "optimizerFactory", "rank 1 has optimizer ="),
                     (shape, 2, "parameters", "rank 1 has shapes = [\"[2, 3]\",\"[2]\",\"[5]\"], rank 0 has [\"[2, 3]\",\"[2]\",\"[4]\"]"),
                 })
        {
            // every rank throws, and says the same
            Assert.Equal(ranks, e.InnerExceptions.Count);
            Assert.All(e.InnerExceptions, x =>
            {
                var a = Assert.IsType<ArgumentException>(x);
                Assert.Equal(param, a.ParamName);
                Assert.Contains(says, a.Message);
            });
        }
    }

    [Fact]
    public void StepSendsEveryParameterInOneAllGather()
    {
        var calls = InProcessCommunicator.Run(3, comm =>
        {
            var counting = new Counting(comm);
            var model = new Sequential(new Linear(5, 4, random: new Random(1)), new ReLU(), new Linear(4, 3, random: new Random(2)));
            var zero = new ZeroRedundancyOptimizer(model.Parameters(), ps => new SGD(ps, lr: 0.1), counting);
            foreach (var p in model.Parameters()) p.Grad = Enumerable.Repeat(1f, p.Data.Length).ToArray();
            counting.Calls.Clear();
            zero.Step();
            return string.Join(",", counting.Calls);
        });
        Assert.All(calls, c => Assert.Equal("AllGather", c));
    }

    /// <summary>A communicator that records which collectives are called.</summary>
    private sealed class Counting(ICommunicator inner) : ICommunicator
    {
        public List<string> Calls { get; } = [];
        public int Rank => inner.Rank;
        public int Size => inner.Size;
        public void AllReduce(float[] buffer) { Calls.Add("AllReduce"); inner.AllReduce(buffer); }
        public void AllReduce(Span<float> buffer) { Calls.Add("AllReduce"); inner.AllReduce(buffer); }
        public void AllGather(ReadOnlySpan<float> send, Span<float> receive) { Calls.Add("AllGather"); inner.AllGather(send, receive); }
        public void ReduceScatter(ReadOnlySpan<float> send, Span<float> receive) { Calls.Add("ReduceScatter"); inner.ReduceScatter(send, receive); }
        public void Broadcast(Span<float> buffer, int root = 0) { Calls.Add("Broadcast"); inner.Broadcast(buffer, root); }
        public void Barrier() { Calls.Add("Barrier"); inner.Barrier(); }
        public void Dispose() => inner.Dispose();
    }

    [Fact]
    public void BadArgumentsNameTheArgument()
    {
        var comms = InProcessCommunicator.Create(3);
        var two = new[] { new Parameter([1f]), new Parameter([2f]) };
        Assert.Equal("parameters", Assert.Throws<ArgumentException>(() => new ZeroRedundancyOptimizer(two, ps => new SGD(ps, lr: 0.1), comms[0])).ParamName);
        Assert.Equal("parameters", Assert.Throws<ArgumentException>(() => new ZeroRedundancyOptimizer([two[0], two[0], two[1]], ps => new SGD(ps, lr: 0.1), comms[0])).ParamName);
        Assert.Equal("optimizerFactory", Assert.Throws<ArgumentNullException>(() => new ZeroRedundancyOptimizer(two, null!, comms[0])).ParamName);
        Assert.Equal("communicator", Assert.Throws<ArgumentNullException>(() => new ZeroRedundancyOptimizer(two, ps => new SGD(ps, lr: 0.1), null!)).ParamName);
    }
}

/// <summary>ZeRO checkpoints: consolidated on one rank, loaded on any number of ranks or in one plain optimizer.</summary>
public class ZeroCheckpointTests
{
    private const int Rows = 12; // divisible by 1, 2, 3 and 4 ranks

    private static Sequential Model()
    {
        var rng = new Random(9);
        return new Sequential(new Linear(5, 7, random: rng), new ReLU(), new Linear(7, 4, random: rng), new ReLU(), new Linear(4, 2, random: rng));
    }

    /// <summary>One DDP step on this rank's rows of step <paramref name="step"/>'s global batch.</summary>
    private static void Backward(DistributedDataParallel ddp, ICommunicator comm, int step)
    {
        var rng = new Random(1000 + step);
        var x = Enumerable.Range(0, Rows * 5).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var y = Enumerable.Range(0, Rows * 2).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        int per = Rows / comm.Size, start = comm.Rank * per;
        new MSELoss().Forward(ddp.Forward(new Tensor(x[(start * 5)..((start + per) * 5)], per, 5)), new Tensor(y[(start * 2)..((start + per) * 2)], per, 2)).Backward();
        ddp.Synchronize();
    }

    private static void Load(Module m, float[] values)
    {
        int o = 0;
        foreach (var p in m.Parameters()) { values.AsSpan(o, p.Data.Length).CopyTo(p.Data); o += p.Data.Length; }
    }

    /// <summary>Steps [from, to) on <paramref name="ranks"/> ranks, from the given parameters and checkpoint (or fresh);
    /// returns the parameters and rank 0's whole checkpoint (consolidated with ZeRO).</summary>
    private static (float[] Params, string State) Run(int ranks, bool zero, int from, int to, float[]? start, string? state)
    {
        var results = InProcessCommunicator.Run(ranks, comm =>
        {
            var model = Model();
            if (start is not null) Load(model, start);
            var ddp = new DistributedDataParallel(model, comm);
            Func<IEnumerable<Parameter>, Optim.CSharp.Optimizer> adam = ps => new Adam(ps, lr: 0.01);
            var z = zero ? new ZeroRedundancyOptimizer(ddp.Parameters(), adam, comm) : null;
            var plain = zero ? null : adam(ddp.Parameters());
            if (state is not null)
                if (z is not null) z.LoadStateDict(StateDict.FromJson(state)); else plain!.LoadStateDict(StateDict.FromJson(state));
            for (int s = from; s < to; s++)
            {
                if (z is not null) z.ZeroGrad(); else plain!.ZeroGrad();
                Backward(ddp, comm, s);
                if (z is not null) z.Step(); else plain!.Step();
            }
            string json;
            if (z is not null) { z.ConsolidateStateDict(to: 0); json = comm.Rank == 0 ? z.StateDict().ToJson() : ""; }
            else json = plain!.StateDict().ToJson();
            return (ddp.Parameters().SelectMany(p => p.Data).ToArray(), json);
        });
        return results[0];
    }

    public static TheoryData<int, int> Sizes() => new() { { 2, 3 }, { 4, 1 }, { 3, 2 }, { 1, 4 }, { 2, 2 } };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void ACheckpointSavedOnNRanksContinuesOnMRanksAsTheUnshardedOneDoes(int n, int m)
    {
        var (zeroParams, zeroState) = Run(n, zero: true, 0, 3, null, null);
        var (plainParams, plainState) = Run(n, zero: false, 0, 3, null, null);
        Assert.Equal(plainParams, zeroParams);
        Assert.Equal(plainState, zeroState); // the consolidated checkpoint is the unsharded optimizer's, to the byte

        var (continued, _) = Run(m, zero: true, 3, 6, zeroParams, zeroState);
        var (reference, _) = Run(m, zero: false, 3, 6, plainParams, plainState);
        Assert.Equal(reference, continued);
        var (plainFromZero, _) = Run(m, zero: false, 3, 6, zeroParams, zeroState); // a plain optimizer loads it too
        Assert.Equal(reference, plainFromZero);
    }

    [Fact]
    public void StateDictNeedsAConsolidationOnThisRankAndLoadRefusesAnotherModel()
    {
        var e = Assert.Throws<AggregateException>(() => InProcessCommunicator.Run(2, comm =>
        {
            var ps = new[] { new Parameter([1f, 2f]), new Parameter([3f]) };
            var z = new ZeroRedundancyOptimizer(ps, p => new Adam(p), comm);
            z.ConsolidateStateDict(to: 1);
            if (comm.Rank == 1)
            {
                Assert.Equal("Adam", z.StateDict().OptimizerKind);
                var other = new Adam(new[] { new Parameter([1f]) }).StateDict();
                Assert.Equal("state", Assert.Throws<ArgumentException>(() => z.LoadStateDict(other)).ParamName);
                return 0;
            }
            Assert.Equal("to", Assert.Throws<ArgumentOutOfRangeException>(() => z.ConsolidateStateDict(to: 2)).ParamName);
            return z.StateDict().ToJson().Length;
        }));
        var only = Assert.Single(e.InnerExceptions);
        Assert.Contains("Rank 0 holds no consolidated state", Assert.IsType<InvalidOperationException>(only).Message);
    }
}
