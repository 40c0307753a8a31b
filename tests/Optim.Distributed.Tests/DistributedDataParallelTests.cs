using FsCheck;
using FsCheck.Fluent;
using Optim.CSharp;
using Optim.NN;

namespace Optim.Distributed.Tests;

/// <summary>DDP: N ranks on the shards of a batch train as one process on the whole batch.</summary>
public class DistributedDataParallelTests
{
    private const int In = 4, Hidden = 6, Out = 3;

    private static Sequential Model(int seed)
    {
        var rng = new Random(seed);
        return new Sequential(new Linear(In, Hidden, random: rng), new ReLU(), new Linear(Hidden, Out, random: rng));
    }

    private static Optim.CSharp.Optimizer MakeOptimizer(string name, IEnumerable<Parameter> ps) => name switch
    {
        "SGD" => new SGD(ps, lr: 0.05, momentum: 0.9),
        "Adam" => new Adam(ps, lr: 0.01),
        _ => throw new ArgumentException(name),
    };

    private static (float[] X, float[] Y) Batch(int seed, int step, int rows)
    {
        var rng = new Random(seed * 31 + step);
        return (Enumerable.Range(0, rows * In).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray(),
                Enumerable.Range(0, rows * Out).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray());
    }

    private static Tensor Rows(float[] data, int width, int start, int count) => new(data.AsSpan(start * width, count * width).ToArray(), count, width);

    private static float[] Flat(Module m) => m.Parameters().SelectMany(p => p.Data).ToArray();

    /// <summary>Backward of the mean-squared error of <paramref name="model"/> on rows [start, start + count) of the batch.</summary>
    private static void Backward(Module model, (float[] X, float[] Y) batch, int start, int count) =>
        new MSELoss().Forward(model.Forward(Rows(batch.X, In, start, count)), Rows(batch.Y, Out, start, count)).Backward();

    public record Case(int Ranks, int PerRank, int Steps, int Seed, string Optimizer, double BucketCapMB);

    private static readonly Gen<Case> Cases =
        from ranks in Gen.Choose(1, 4) from perRank in Gen.Choose(1, 4) from steps in Gen.Choose(1, 3) from seed in Gen.Choose(0, 10000)
        from opt in Gen.Elements("SGD", "Adam") from cap in Gen.Elements(25.0, 0.0001)
        select new Case(ranks, perRank, steps, seed, opt, cap);

    /// <summary>Each rank starts from a different initialisation (rank 0's is broadcast), trains on its shard.</summary>
    private static float[][] TrainDistributed(Case c) => InProcessCommunicator.Run(c.Ranks, comm =>
    {
        var ddp = new DistributedDataParallel(Model(c.Seed + 7919 * comm.Rank), comm, c.BucketCapMB);
        var opt = MakeOptimizer(c.Optimizer, ddp.Parameters());
        for (int s = 0; s < c.Steps; s++)
        {
            opt.ZeroGrad();
            Backward(ddp, Batch(c.Seed, s, c.Ranks * c.PerRank), comm.Rank * c.PerRank, c.PerRank);
            ddp.Synchronize();
            opt.Step();
        }
        return Flat(ddp);
    }, TimeSpan.FromSeconds(30));

    [Fact]
    public void NRanksOnTheShardsEqualOneProcessOnTheWholeBatch()
    {
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(60), Prop.ForAll(Cases.ToArbitrary(), c =>
        {
            var ranks = TrainDistributed(c);
            foreach (var r in ranks) Assert.Equal(ranks[0], r); // replicas stay bit-identical

            // one process, the whole batch (a different summation order inside the matmuls): SPEC's tolerance
            var single = Model(c.Seed);
            var opt = MakeOptimizer(c.Optimizer, single.Parameters());
            for (int s = 0; s < c.Steps; s++)
            {
                opt.ZeroGrad();
                Backward(single, Batch(c.Seed, s, c.Ranks * c.PerRank), 0, c.Ranks * c.PerRank);
                opt.Step();
            }
            var expected = Flat(single);
            for (int i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(ranks[0][i] - expected[i]) <= 1e-5 + 1e-4 * Math.Abs(expected[i]),
                    $"{c}: parameter element {i} is {ranks[0][i]}, one process has {expected[i]}");
            if (c.Ranks == 1) Assert.Equal(expected, ranks[0]);
        }));
    }

    [Fact]
    public void TheAveragedGradientIsTheRankOrderSumOverSizeBitForBitWhateverTheBuckets()
    {
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(60), Prop.ForAll(Cases.ToArbitrary(), c =>
        {
            var ranks = TrainDistributed(c);
            // the reference: one process computes each shard's gradient, sums them in rank order, divides by N
            var model = Model(c.Seed);
            var ps = model.Parameters().ToArray();
            var opt = MakeOptimizer(c.Optimizer, ps);
            for (int s = 0; s < c.Steps; s++)
            {
                var batch = Batch(c.Seed, s, c.Ranks * c.PerRank);
                float[][]? sum = null;
                for (int r = 0; r < c.Ranks; r++)
                {
                    opt.ZeroGrad();
                    Backward(model, batch, r * c.PerRank, c.PerRank);
                    if (sum is null) sum = ps.Select(p => (float[])p.Grad!.Clone()).ToArray();
                    else for (int j = 0; j < ps.Length; j++) for (int k = 0; k < sum[j].Length; k++) sum[j][k] += ps[j].Grad![k];
                }
                for (int j = 0; j < ps.Length; j++) ps[j].Grad = sum![j].Select(v => v / c.Ranks).ToArray();
                opt.Step();
            }
            Assert.Equal(Flat(model), ranks[0]);
        }));
    }

    [Fact]
    public void NoSyncAccumulatesLocallyAndTheNextSynchronizeAveragesTheSum()
    {
        const int ranks = 3, perRank = 2, seed = 5;
        var batch = Batch(seed, 0, 2 * ranks * perRank);
        var results = InProcessCommunicator.Run(ranks, comm =>
        {
            var ddp = new DistributedDataParallel(Model(seed), comm);
            var local = new float[0];
            using (ddp.NoSync())
            {
                Backward(ddp, batch, comm.Rank * perRank, perRank); // first micro-batch
                ddp.Synchronize();                                    // does nothing here
                local = ddp.Parameters().First().Grad!.ToArray();
            }
            Backward(ddp, batch, (ranks + comm.Rank) * perRank, perRank); // second micro-batch, accumulated
            ddp.Synchronize();
            return (local, grads: ddp.Parameters().Select(p => p.Grad!.ToArray()).ToArray());
        });

        var model = Model(seed);
        var ps = model.Parameters().ToArray();
        float[][]? sum = null;
        var firstLocal = new List<float[]>();
        for (int r = 0; r < ranks; r++)
        {
            model.ZeroGrad();
            Backward(model, batch, r * perRank, perRank);
            firstLocal.Add(ps[0].Grad!.ToArray());
            Backward(model, batch, (ranks + r) * perRank, perRank);
            if (sum is null) sum = ps.Select(p => (float[])p.Grad!.Clone()).ToArray();
            else for (int j = 0; j < ps.Length; j++) for (int k = 0; k < sum[j].Length; k++) sum[j][k] += ps[j].Grad![k];
        }
        for (int r = 0; r < ranks; r++)
        {
            Assert.Equal(firstLocal[r], results[r].local);
            for (int j = 0; j < ps.Length; j++) Assert.Equal(sum![j].Select(v => v / ranks).ToArray(), results[r].grads[j]);
        }
        Assert.NotEqual(results[0].local, results[1].local);
    }

    [Fact]
    public void ParametersAreBroadcastFromRankZeroAndBucketsFollowTheCap()
    {
        var results = InProcessCommunicator.Run(3, comm =>
        {
            var ddp = new DistributedDataParallel(Model(100 + comm.Rank), comm, bucketCapMB: (Hidden * In + Hidden) * 4 / (1024.0 * 1024));
            return (Flat(ddp), ddp.Buckets, ddp.NamedParameters().Select(p => p.Name).ToArray());
        });
        var rankZero = Flat(Model(100));
        Assert.All(results, r => Assert.Equal(rankZero, r.Item1));
        Assert.Equal(new[] { "module.0.weight", "module.0.bias", "module.2.weight", "module.2.bias" }, results[0].Item3);
        // reverse order; a bucket holds up to 30 elements: [2.bias, 2.weight] (3 + 18), then [0.bias] (6) with 0.weight (24) over the cap
        Assert.Equal(new[] { new[] { "2.bias", "2.weight", "0.bias" }, new[] { "0.weight" } }, results[0].Buckets.Select(b => b.ToArray()).ToArray());
    }

    [Fact]
    public void AParameterUnusedOnEveryRankKeepsNoGradientAndOneUnusedOnSomeCountsAsZeros()
    {
        var results = InProcessCommunicator.Run(2, comm =>
        {
            var a = new Parameter([1f, 2f]); var b = new Parameter([3f]);
            var ddp = new DistributedDataParallel(new Holder(a, b), comm);
            if (comm.Rank == 0) a.Grad = [2f, 4f];
            ddp.Synchronize();
            return (a.Grad, b.Grad);
        });
        Assert.All(results, r => { Assert.Equal(new[] { 1f, 2f }, r.Item1); Assert.Null(r.Item2); });
    }

    [Fact]
    public void BucketsStartFromInsideTheBackwardPassLastLayersFirst()
    {
        foreach (bool overlap in new[] { true, false })
        {
            var seen = InProcessCommunicator.Run(2, comm =>
            {
                var model = Model(1);
                var ddp = new DistributedDataParallel(model, comm, bucketCapMB: 0.00001, overlap: overlap); // a bucket per parameter
                var first = (Linear)((Sequential)ddp.Module).Children().First();
                int launched = -1;
                using var h = Tensor.RegisterPostAccumulateGradHook(first.Weight, _ => launched = ddp.LaunchedBuckets);
                Backward(ddp, Batch(3, 0, 4), comm.Rank * 2, 2);
                ddp.Synchronize();
                return (launched, ddp.LaunchedBuckets, ddp.Buckets.Count);
            });
            foreach (var (launched, after, buckets) in seen)
            {
                Assert.Equal(4, buckets);
                // when the first layer's weight gets its gradient, the last layer's two buckets have already started
                if (overlap) Assert.True(launched >= 2, $"{launched} buckets had started");
                else Assert.Equal(0, launched);
                Assert.Equal(0, after);
            }
        }
    }

    [Fact]
    public void OverlappedAllReducesGiveTheSameBitsAsSynchronizeAloneEvenWhenAGradientGrowsAfterItsBucketStarted()
    {
        var cases = from ranks in Gen.Choose(2, 4) from seed in Gen.Choose(0, 10000) from cap in Gen.Elements(25.0, 0.0001)
                    from twice in Gen.Elements(false, true) select (ranks, seed, cap, twice);
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(20), Prop.ForAll(cases.ToArbitrary(), c =>
        {
            float[][] Train(bool overlap) => InProcessCommunicator.Run(c.ranks, comm =>
            {
                var ddp = new DistributedDataParallel(Model(c.seed), comm, c.cap, overlap: overlap);
                var opt = new Adam(ddp.Parameters(), lr: 0.01);
                for (int s = 0; s < 3; s++)
                {
                    opt.ZeroGrad();
                    var batch = Batch(c.seed, s, 2 * c.ranks);
                    Backward(ddp, batch, comm.Rank * 2, 1);
                    // a second backward before Synchronize, on rank 0 only: its gradients grow after their buckets started
                    if (c.twice && comm.Rank == 0) Backward(ddp, batch, comm.Rank * 2 + 1, 1);
                    ddp.Synchronize();
                    opt.Step();
                }
                return Flat(ddp);
            }, TimeSpan.FromSeconds(30));
            var overlapped = Train(true);
            var plain = Train(false);
            for (int r = 0; r < c.ranks; r++) Assert.Equal(plain[r], overlapped[r]);
        }));
    }

    [Fact]
    public void AModuleWrappedAgainStartsBucketsForItsNewestWrapperOnly()
    {
        var seen = InProcessCommunicator.Run(2, comm =>
        {
            var model = Model(1);
            var older = new DistributedDataParallel(model, comm, bucketCapMB: 0.00001);
            var newer = new DistributedDataParallel(model, comm, bucketCapMB: 0.00001);
            Backward(newer, Batch(3, 0, 4), comm.Rank * 2, 2);
            var launched = (Older: older.LaunchedBuckets, Newer: newer.LaunchedBuckets);
            newer.Synchronize();
            return launched;
        });
        Assert.All(seen, s => Assert.Equal((0, 4), s));
    }

    private sealed class Holder(Parameter a, Parameter b) : Module
    {
        public override Tensor Forward(Tensor input) => input;
        protected override IEnumerable<(string Name, Parameter Parameter)> RegisteredParameters() => [("a", a), ("b", b)];
    }

    [Fact]
    public void RanksWithDifferentShapesFailAtConstructionNamingTheRankAndTheParameterAndChangeNothing()
    {
        var before = new float[3][];
        var e = Assert.Throws<AggregateException>(() => InProcessCommunicator.Run(3, comm =>
        {
            var rng = new Random(comm.Rank);
            var model = new Sequential(new Linear(In, comm.Rank == 2 ? Hidden + 1 : Hidden, random: rng), new ReLU(), new Linear(Hidden, Out, random: rng));
            before[comm.Rank] = Flat(model);
            try { return new DistributedDataParallel(model, comm); }
            finally { Assert.Equal(before[comm.Rank], Flat(model)); }
        }));
        Assert.Equal(3, e.InnerExceptions.Count);
        foreach (var x in e.InnerExceptions)
        {
            var a = Assert.IsType<ArgumentException>(x);
            Assert.Equal("module", a.ParamName);
            Assert.Contains("parameter 0 ('0.weight' on rank", a.Message);
            Assert.Contains("has shape [7, 4] on rank 2 but [6, 4] on rank 0", a.Message);
        }
    }

    [Fact]
    public void RanksWithDifferentParameterCountsFailAtConstructionNamingTheRank()
    {
        var e = Assert.Throws<AggregateException>(() => InProcessCommunicator.Run(2, comm =>
            new DistributedDataParallel(new Sequential(new Linear(In, Out, bias: comm.Rank == 0)), comm)));
        Assert.All(e.InnerExceptions, x => Assert.Contains("rank 1 has 1 parameters, rank 0 has 2", Assert.IsType<ArgumentException>(x).Message));
        Assert.Contains("'0.bias' on rank 0", e.InnerExceptions.Single(x => x.Message.Contains("where they part")).Message);
    }

    [Fact]
    public void BadArgumentsNameTheArgument()
    {
        var comm = InProcessCommunicator.Create(1)[0];
        Assert.Equal("module", Assert.Throws<ArgumentNullException>(() => new DistributedDataParallel(null!, comm)).ParamName);
        Assert.Equal("communicator", Assert.Throws<ArgumentNullException>(() => new DistributedDataParallel(Model(0), null!)).ParamName);
        Assert.Equal("bucketCapMB", Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedDataParallel(Model(0), comm, 0)).ParamName);
    }
}
