using FsCheck;
using FsCheck.Fluent;
using Optim.NN.Transforms;

namespace Optim.NN.Tests;

/// <summary>The loader on rank-4 (NCHW) inputs: whole images per sample, the order from the seed, the last batch, and transforms.</summary>
public class ImageBatchTests
{
    /// <summary>n images [c, h, w] whose k-th value is 1000·i + k, with target i, so a batch tells which samples it holds and whether they are whole.</summary>
    private static TensorDataset Images(int n, int c = 2, int h = 3, int w = 4)
    {
        int size = c * h * w;
        var x = new float[n * size];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < size; k++) x[i * size + k] = 1000f * i + k;
        return new TensorDataset(new Tensor(x, n, c, h, w), new Tensor(Enumerable.Range(0, n).Select(i => (float)i).ToArray(), n));
    }

    private static void HoldsWholeSamples(Tensor x, Tensor y, int c, int h, int w)
    {
        int size = c * h * w;
        Assert.Equal(new[] { y.Shape[0], c, h, w }, x.Shape);
        for (int i = 0; i < y.Shape[0]; i++)
            for (int k = 0; k < size; k++) Assert.Equal(1000f * y.Data[i] + k, x.Data[i * size + k]);
    }

    [Fact]
    public void EveryEpochOfImagesYieldsEveryWholeImageOnceInBatchesOfTheGivenSize()
    {
        var cases = from n in Gen.Choose(0, 40) from size in Gen.Choose(1, 13) from shuffle in Gen.Elements(false, true)
                    from dropLast in Gen.Elements(false, true) from seed in Gen.Choose(0, 1000) from c in Gen.Choose(1, 3)
                    select (n, size, shuffle, dropLast, seed, c);
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(100), Prop.ForAll(cases.ToArbitrary(), t =>
        {
            var loader = new DataLoader(Images(t.n, t.c), t.size, t.shuffle, t.seed, t.dropLast);
            var batches = loader.ToList();
            int full = t.n / t.size, rest = t.n % t.size;
            Assert.Equal(full + (rest > 0 && !t.dropLast ? 1 : 0), batches.Count);
            Assert.Equal(loader.Count, batches.Count);
            for (int b = 0; b < batches.Count; b++)
            {
                Assert.Equal(b < full ? t.size : rest, batches[b].Y.Shape[0]);
                HoldsWholeSamples(batches[b].X, batches[b].Y, t.c, 3, 4);
            }
            var seen = batches.SelectMany(b => b.Y.Data).Select(v => (int)v).ToArray();
            Assert.Equal(seen.Length, seen.Distinct().Count());
            Assert.Equal(t.dropLast ? full * t.size : t.n, seen.Length);
            if (!t.shuffle) Assert.Equal(Enumerable.Range(0, seen.Length), seen);
        }));
    }

    [Fact]
    public void ImagesAreShuffledInTheSameOrderAsRowsForTheSameSeed()
    {
        var rows = new TensorDataset(new Tensor(new float[50 * 3], 50, 3), new Tensor(Enumerable.Range(0, 50).Select(i => (float)i).ToArray(), 50));
        var flat = new DataLoader(rows, batchSize: 8, shuffle: true, seed: 5);
        var images = new DataLoader(Images(50), batchSize: 8, shuffle: true, seed: 5);
        for (int epoch = 0; epoch < 3; epoch++)
            Assert.Equal(flat.SelectMany(b => b.Y.Data), images.SelectMany(b => b.Y.Data));
        var first = new DataLoader(Images(50), batchSize: 8, shuffle: true, seed: 5).SelectMany(b => b.Y.Data).ToArray();
        Assert.NotEqual(Enumerable.Range(0, 50).Select(i => (float)i), first);
    }

    [Fact]
    public void TheLastBatchOfImagesIsSmallerUnlessDropped()
    {
        var keep = new DataLoader(Images(10), batchSize: 4).ToList();
        Assert.Equal(new[] { 4, 4, 2 }, keep.Select(b => b.X.Shape[0]));
        HoldsWholeSamples(keep[2].X, keep[2].Y, 2, 3, 4);
        Assert.Equal(new[] { 8f, 9f }, keep[2].Y.Data);
        var drop = new DataLoader(Images(10), batchSize: 4, dropLast: true);
        Assert.Equal(new[] { 4, 4 }, drop.Select(b => b.X.Shape[0]));
        Assert.Equal(2, drop.Count);
    }

    [Fact]
    public void RankThreeInputsAndRankTwoTargetsAreSlicedAlongTheFirstDimension()
    {
        var x = new Tensor(Enumerable.Range(0, 5 * 2 * 3).Select(i => (float)i).ToArray(), 5, 2, 3);
        var y = new Tensor(Enumerable.Range(0, 5 * 2).Select(i => (float)i).ToArray(), 5, 2);
        var batches = new DataLoader(new TensorDataset(x, y), batchSize: 3).ToList();
        Assert.Equal(new[] { 3, 2, 3 }, batches[0].X.Shape);
        Assert.Equal(new[] { 2, 2, 3 }, batches[1].X.Shape);
        Assert.Equal(new[] { 2, 2 }, batches[1].Y.Shape);
        Assert.Equal(Enumerable.Range(18, 12).Select(i => (float)i), batches[1].X.Data);
        Assert.Equal(new[] { 6f, 7f, 8f, 9f }, batches[1].Y.Data);
    }

    private static float[][] Inputs(DataLoader loader) => loader.Select(b => b.X.Data).ToArray();

    [Fact]
    public void ATransformIsAppliedToEverySampleAndRepeatsWithTheSeed()
    {
        var data = Images(30, c: 1, h: 4, w: 4);
        ITransform Augment() => new Compose(new RandomCrop(3, padding: 1), new RandomHorizontalFlip());
        var a = new DataLoader(data, batchSize: 7, shuffle: true, seed: 11, transform: Augment());
        var b = new DataLoader(data, batchSize: 7, shuffle: true, seed: 11, transform: Augment());
        var a1 = Inputs(a);
        var a2 = Inputs(a);
        Assert.Equal(a1, Inputs(b));
        Assert.Equal(a2, Inputs(b));
        Assert.NotEqual(a1.SelectMany(v => v), a2.SelectMany(v => v));
        Assert.NotEqual(a1.SelectMany(v => v), Inputs(new DataLoader(data, batchSize: 7, shuffle: true, seed: 12, transform: Augment())).SelectMany(v => v));
        Assert.All(a.ToList(), batch => Assert.Equal(new[] { batch.Y.Shape[0], 1, 3, 3 }, batch.X.Shape));
        Assert.Equal(data.Inputs.Data, Images(30, c: 1, h: 4, w: 4).Inputs.Data);
    }

    [Fact]
    public void ATransformDoesNotChangeTheOrderOfTheSamples()
    {
        var data = Images(40);
        var plain = new DataLoader(data, batchSize: 6, shuffle: true, seed: 2);
        var flipped = new DataLoader(data, batchSize: 6, shuffle: true, seed: 2, transform: new RandomHorizontalFlip(1.0));
        for (int epoch = 0; epoch < 2; epoch++)
        {
            var p = plain.ToList();
            var f = flipped.ToList();
            Assert.Equal(p.SelectMany(x => x.Y.Data), f.SelectMany(x => x.Y.Data));
            var flippedBack = f[0].X.Data.Chunk(4).SelectMany(row => row.Reverse());
            Assert.Equal(p[0].X.Data, flippedBack);
        }
    }

    [Fact]
    public void ATransformMakesNoAllocationPerSample()
    {
        var data = Images(2000, c: 3, h: 8, w: 8);
        var augment = new Compose(new RandomCrop(8, padding: 2), new RandomHorizontalFlip(), new Normalize([0.5, 0.4, 0.3], [0.2, 0.3, 0.4]));
        // the least of three epochs: a per-sample allocation shows in every one, while tiered compilation and a
        // collection started elsewhere move this thread's counter by a few kilobytes in some (7,504 B was seen)
        long Epoch(DataLoader loader)
        {
            foreach (var _ in loader) { }
            long least = long.MaxValue;
            for (int round = 0; round < 3; round++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                foreach (var _ in loader) { }
                least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
            }
            return least;
        }
        long plain = Epoch(new DataLoader(data, batchSize: 50, shuffle: true, seed: 0));
        long transformed = Epoch(new DataLoader(data, batchSize: 50, shuffle: true, seed: 0, transform: augment));
        Assert.True(Math.Abs(transformed - plain) < 4096, $"an epoch allocates {plain} bytes without the transform and {transformed} with it");
    }

    [Fact]
    public void TransformsThatDoNotFitTheSamplesAreRejectedWhenTheLoaderIsMade()
    {
        var gray = Images(4, c: 1, h: 4, w: 4);
        var e = Assert.ThrowsAny<ArgumentException>(() => new DataLoader(gray, transform: new Normalize([0.5, 0.5, 0.5], [0.2, 0.2, 0.2])));
        Assert.Equal("mean", e.ParamName);
        Assert.Contains("3 values", e.Message);
        Assert.Contains("1 channels", e.Message);
        e = Assert.ThrowsAny<ArgumentException>(() => new DataLoader(gray, transform: new RandomCrop(9, padding: 2)));
        Assert.Equal("size", e.ParamName);
        Assert.Contains("8×8", e.Message);
        var rows = new TensorDataset(new Tensor(new float[12], 4, 3), new Tensor(new float[4], 4));
        e = Assert.ThrowsAny<ArgumentException>(() => new DataLoader(rows, transform: new RandomHorizontalFlip()));
        Assert.Equal("shape", e.ParamName);
        Assert.Contains("[3]", e.Message);
        e = Assert.ThrowsAny<ArgumentException>(() => new DataLoader(Images(4), transform: new Compose(new RandomCrop(2), new Normalize([0.1, 0.2, 0.3], [1]))));
        Assert.Equal("mean", e.ParamName);
        Assert.Contains("[2, 2, 2]", e.Message);
    }
}
