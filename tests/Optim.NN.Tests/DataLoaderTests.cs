using FsCheck;
using FsCheck.Fluent;

namespace Optim.NN.Tests;

/// <summary>Batches: every sample once per epoch, deterministic shuffling by seed, batch sizes, rows kept together.</summary>
public class DataLoaderTests
{
    /// <summary>Sample i has input row [i, 10i] and target i, so a batch tells which samples it holds.</summary>
    private static TensorDataset Numbered(int n) =>
        new(new Tensor(Enumerable.Range(0, n).SelectMany(i => new[] { (float)i, 10f * i }).ToArray(), n, 2),
            new Tensor(Enumerable.Range(0, n).Select(i => (float)i).ToArray(), n));

    private static int[][] Epoch(DataLoader loader) => loader.Select(b => b.Y.Data.Select(v => (int)v).ToArray()).ToArray();

    [Fact]
    public void EveryEpochYieldsEverySampleExactlyOnceInBatchesOfTheGivenSize()
    {
        var cases = from n in Gen.Choose(0, 60) from size in Gen.Choose(1, 17) from shuffle in Gen.Elements(false, true)
                    from dropLast in Gen.Elements(false, true) from seed in Gen.Choose(0, 1000)
                    select (n, size, shuffle, dropLast, seed);
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(200), Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var loader = new DataLoader(Numbered(c.n), c.size, c.shuffle, c.seed, c.dropLast);
            for (int epoch = 0; epoch < 2; epoch++)
            {
                var batches = loader.ToList();
                Assert.Equal(loader.Count, batches.Count);
                int full = c.n / c.size, rest = c.n % c.size;
                Assert.Equal(full + (rest > 0 && !c.dropLast ? 1 : 0), batches.Count);
                for (int b = 0; b < batches.Count; b++)
                {
                    var (x, y) = batches[b];
                    int expected = b < full ? c.size : rest;
                    Assert.Equal(new[] { expected, 2 }, x.Shape);
                    Assert.Equal(new[] { expected }, y.Shape);
                    for (int i = 0; i < expected; i++)
                        Assert.Equal(new[] { y.Data[i], 10 * y.Data[i] }, x.Data[(2 * i)..(2 * i + 2)]);
                }
                var seen = batches.SelectMany(b => b.Y.Data).Select(v => (int)v).OrderBy(v => v).ToArray();
                if (c.dropLast) Assert.Equal(full * c.size, seen.Distinct().Count());
                else Assert.Equal(Enumerable.Range(0, c.n), seen);
                if (!c.shuffle) Assert.Equal(Enumerable.Range(0, seen.Length), batches.SelectMany(b => b.Y.Data).Select(v => (int)v));
            }
        }));
    }

    [Fact]
    public void ShufflingIsDeterministicForASeedAndNewEveryEpoch()
    {
        var a = new DataLoader(Numbered(100), batchSize: 10, shuffle: true, seed: 3);
        var b = new DataLoader(Numbered(100), batchSize: 10, shuffle: true, seed: 3);
        var c = new DataLoader(Numbered(100), batchSize: 10, shuffle: true, seed: 4);
        var a1 = Epoch(a);
        var a2 = Epoch(a);
        Assert.Equal(a1, Epoch(b));
        Assert.Equal(a2, Epoch(b));
        Assert.NotEqual(a1, a2);
        Assert.NotEqual(a1, Epoch(c));
        Assert.NotEqual(Enumerable.Range(0, 100), a1.SelectMany(x => x));
    }

    [Fact]
    public void TheLastBatchIsSmallerUnlessDropped()
    {
        var keep = new DataLoader(Numbered(10), batchSize: 4);
        Assert.Equal(new[] { 4, 4, 2 }, keep.Select(b => b.X.Shape[0]));
        Assert.Equal(3, keep.Count);
        var drop = new DataLoader(Numbered(10), batchSize: 4, dropLast: true);
        Assert.Equal(new[] { 4, 4 }, drop.Select(b => b.X.Shape[0]));
        Assert.Equal(2, drop.Count);
    }

    [Fact]
    public void BatchesAreCopiesThatRequireNoGradient()
    {
        var data = Numbered(4);
        var (x, _) = new DataLoader(data, batchSize: 4).First();
        x.Data[0] = 99;
        Assert.Equal(0f, data.Inputs.Data[0]);
        Assert.False(x.RequiresGrad);
    }

    [Fact]
    public void BadArgumentsAreRejectedByName()
    {
        Assert.Equal("batchSize", Assert.Throws<ArgumentException>(() => new DataLoader(Numbered(3), batchSize: 0)).ParamName);
        var e = Assert.Throws<ArgumentException>(() => new TensorDataset(new Tensor(new float[6], 3, 2), new Tensor(new float[4], 4)));
        Assert.Equal("targets", e.ParamName);
        Assert.Contains("3 samples", e.Message);
        Assert.Equal("inputs", Assert.Throws<ArgumentException>(() => new TensorDataset(Tensor.Scalar(1), new Tensor([1f]))).ParamName);
    }

    [Fact]
    public void ASamplerGivesTheOrderAndTheCountAndIsEnumeratedEveryEpoch()
    {
        var sampler = new List<int> { 4, 0, 4, 2, 1 };
        var loader = new DataLoader(Numbered(6), batchSize: 2, sampler: sampler);
        Assert.Equal(3, loader.Count);
        Assert.Equal(new[] { new[] { 4, 0 }, new[] { 4, 2 }, new[] { 1 } }, Epoch(loader));
        sampler[0] = 5;
        Assert.Equal(new[] { 5, 0 }, Epoch(loader)[0]);
        Assert.Equal(2, new DataLoader(Numbered(6), batchSize: 2, dropLast: true, sampler: sampler).Count);
    }

    [Fact]
    public void ASamplerWithShuffleOrOutsideTheDatasetIsRefused()
    {
        Assert.Equal("sampler", Assert.Throws<ArgumentException>(() => new DataLoader(Numbered(3), shuffle: true, sampler: new[] { 0 })).ParamName);
        var e = Assert.Throws<InvalidOperationException>(() => Epoch(new DataLoader(Numbered(3), sampler: new[] { 0, 3 })));
        Assert.Contains("index 3", e.Message);
    }
}
