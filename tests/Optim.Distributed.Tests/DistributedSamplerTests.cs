using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;
using Optim.NN;

namespace Optim.Distributed.Tests;

/// <summary>The sampler: PyTorch's indices, and the partition laws.</summary>
public class DistributedSamplerTests
{
    [Fact]
    public void EveryRankGetsPyTorchsIndices()
    {
        var dir = Environment.GetEnvironmentVariable("OPTIM_GOLDEN_DIR") is { Length: > 0 } d && File.Exists(Path.Combine(d, "distributed_sampler.json"))
            ? d : Path.Combine(AppContext.BaseDirectory, "golden");
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "distributed_sampler.json")));
        int count = 0;
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            var sampler = new DistributedSampler(c.GetProperty("n").GetInt32(), c.GetProperty("num_replicas").GetInt32(), c.GetProperty("rank").GetInt32(),
                c.GetProperty("shuffle").GetBoolean(), c.GetProperty("seed").GetInt64(), c.GetProperty("drop_last").GetBoolean());
            sampler.SetEpoch(c.GetProperty("epoch").GetInt32());
            var expected = c.GetProperty("indices").EnumerateArray().Select(x => x.GetInt32()).ToArray();
            Assert.True(c.GetProperty("length").GetInt32() == sampler.Count, $"case {count}: {c.GetRawText()[..80]}: Count {sampler.Count}");
            Assert.True(expected.SequenceEqual(sampler), $"case {count}: {c.GetRawText()[..80]}: [{string.Join(", ", sampler.Take(20))}]");
            count++;
        }
        Assert.True(count > 1000, $"{count} cases");
    }

    [Fact]
    public void TheRanksSharesAreEqualInSizeDisjointBeyondThePaddingAndCoverTheDataset()
    {
        var cases = from n in Gen.Choose(0, 200) from replicas in Gen.Choose(1, 9) from shuffle in Gen.Elements(false, true)
                    from dropLast in Gen.Elements(false, true) from seed in Gen.Choose(-1000, 100000) from epoch in Gen.Choose(0, 50)
                    select (n, replicas, shuffle, dropLast, seed, epoch);
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(300), Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var shares = Enumerable.Range(0, c.replicas).Select(r =>
            {
                var s = new DistributedSampler(c.n, c.replicas, r, c.shuffle, c.seed, c.dropLast);
                s.SetEpoch(c.epoch);
                var list = s.ToList();
                Assert.Equal(s.Count, list.Count);
                return list;
            }).ToList();
            Assert.All(shares, s => Assert.Equal(shares[0].Count, s.Count));
            var all = shares.SelectMany(s => s).ToList();
            Assert.All(all, i => Assert.InRange(i, 0, c.n - 1));
            if (c.dropLast)
            {
                Assert.Equal(c.n / c.replicas * c.replicas, all.Count);
                Assert.Equal(all.Count, all.Distinct().Count()); // disjoint
            }
            else
            {
                Assert.Equal(Enumerable.Range(0, c.n), all.Distinct().OrderBy(i => i)); // covering
                Assert.True(all.Count - c.n < c.replicas, "padding below one index per rank");
                Assert.Equal(c.n == 0 ? 0 : (c.n + c.replicas - 1) / c.replicas * c.replicas, all.Count);
            }
            // rank r holds positions r, r + N, ... of the epoch's order: interleaved, the shares are that order
            var interleaved = Enumerable.Range(0, all.Count).Select(k => shares[k % c.replicas][k / c.replicas]).ToArray();
            if (!c.shuffle) Assert.Equal(Enumerable.Range(0, all.Count).Select(k => k % Math.Max(c.n, 1)), interleaved);
        }));
    }

    [Fact]
    public void EachEpochIsANewOrderTheSameOnEveryRankAndSetEpochRepeatsIt()
    {
        var s = new DistributedSampler(50, 1, 0, shuffle: true, seed: 7);
        var e0 = s.ToArray();
        s.SetEpoch(1);
        var e1 = s.ToArray();
        Assert.NotEqual(e0, e1);
        s.SetEpoch(0);
        Assert.Equal(e0, s.ToArray());
        Assert.Equal(e0, s.ToArray()); // enumerating again does not advance anything
    }

    [Fact]
    public void ADataLoaderOverTheSamplerYieldsThisRanksSamples()
    {
        var data = new TensorDataset(new Tensor(Enumerable.Range(0, 10).Select(i => (float)i).ToArray(), 10, 1),
                                     new Tensor(Enumerable.Range(0, 10).Select(i => (float)i).ToArray(), 10));
        var seen = InProcessCommunicator.Run(3, comm =>
        {
            var sampler = new DistributedSampler(data, comm, shuffle: true, seed: 3);
            var loader = new DataLoader(data, batchSize: 2, sampler: sampler);
            Assert.Equal(2, loader.Count);
            var ys = loader.SelectMany(b => b.Y.Data).Select(v => (int)v).ToArray();
            Assert.Equal(sampler.ToArray(), ys);
            return ys;
        });
        Assert.Equal(Enumerable.Range(0, 10), seen.SelectMany(s => s).Distinct().OrderBy(i => i));
        Assert.Equal(12, seen.Sum(s => s.Length)); // 10 padded to 12
    }

    [Fact]
    public void BadArgumentsNameTheArgument()
    {
        Assert.Equal("datasetSize", Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedSampler(-1, 1, 0)).ParamName);
        Assert.Equal("numReplicas", Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedSampler(5, 0, 0)).ParamName);
        Assert.Equal("rank", Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedSampler(5, 2, 2)).ParamName);
        Assert.Equal("rank", Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedSampler(5, 2, -1)).ParamName);
        Assert.Equal("dataset", Assert.Throws<ArgumentNullException>(() => new DistributedSampler(null!, InProcessCommunicator.Create(1)[0])).ParamName);
        Assert.Equal("communicator", Assert.Throws<ArgumentNullException>(() => new DistributedSampler(new TensorDataset(new Tensor(new float[2], 2, 1), new Tensor(new float[2], 2)), null!)).ParamName);
    }
}
