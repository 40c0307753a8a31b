using Optim.Kernels;
using Optim.NN.Kernels;

namespace Optim.NN.Tests;

/// <summary>
/// A batch split in two halves of images over the two threads gives what each image gives alone (which is not split):
/// the same outputs and input gradients bit for bit, and weight and bias gradients equal to the sum of the
/// images' within float32 rounding; the same for pooling, split by planes. Sizes are large enough to split.
/// </summary>
public class ConvThreadingTests
{
    private static float[] Random(Random r, int n) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();

    private static (float[] Y, float[] Gx, float[] Gw, float[] Gb) Run(float[] x, int n, float[] w, float[] b, float[] gy,
                                                                     int c, int size, int outC, int k, int stride, int padding)
    {
        var tx = new Tensor((float[])x.Clone(), n, c, size, size) { RequiresGrad = true };
        var tw = new Tensor((float[])w.Clone(), outC, c, k, k) { RequiresGrad = true };
        var tb = new Tensor((float[])b.Clone(), outC) { RequiresGrad = true };
        var y = Functional.Conv2d(tx, tw, tb, stride, padding);
        Assert.Equal(gy.Length, y.Numel);
        ConvTestOps.WeightedSum(y, gy).Backward();
        return (y.Data, tx.Grad!, tw.Grad!, tb.Grad!);
    }

    [Theory]
    [InlineData(8, 16, 12, 16, 3, 1, 1)]    // several images per product
    [InlineData(6, 3, 32, 32, 5, 1, 2)]     // the target's first layer: one image per product
    [InlineData(7, 16, 23, 12, 3, 2, 0)]     // an odd batch, stride 2
    [InlineData(4, 64, 12, 32, 1, 1, 0)]    // 1×1: the images are their own column matrices
    public void ASplitBatchGivesWhatEachImageGivesAlone(int n, int c, int size, int outC, int k, int stride, int padding)
    {
        var r = new Random(n * 1000 + c);
        var x = Random(r, n * c * size * size);
        var w = Random(r, outC * c * k * k);
        var b = Random(r, outC);
        int o = (size + 2 * padding - k) / stride + 1, perImage = outC * o * o;
        var gy = Random(r, n * perImage);
        var shape = new ConvShape(n, c, size, size, outC, k, k, stride, stride, padding, padding);
        Assert.True(ConvKernel.Splits(shape) || !TwoThreads.Available);
        var batch = Run(x, n, w, b, gy, c, size, outC, k, stride, padding);
        var gw = new double[w.Length];
        var gb = new double[outC];
        int inImage = c * size * size;
        for (int i = 0; i < n; i++)
        {
            Assert.False(ConvKernel.Splits(shape with { N = 1 }));
            var one = Run(x[(i * inImage)..((i + 1) * inImage)], 1, w, b, gy[(i * perImage)..((i + 1) * perImage)], c, size, outC, k, stride, padding);
            Assert.Equal(one.Y, batch.Y[(i * perImage)..((i + 1) * perImage)]);
            Assert.Equal(one.Gx, batch.Gx[(i * inImage)..((i + 1) * inImage)]);
            for (int j = 0; j < gw.Length; j++) gw[j] += one.Gw[j];
            for (int j = 0; j < outC; j++) gb[j] += one.Gb[j];
        }
        for (int j = 0; j < gw.Length; j++)
            Assert.True(Math.Abs(batch.Gw[j] - gw[j]) <= 1e-4 + 1e-5 * Math.Abs(gw[j]) * n, $"dW[{j}]: {batch.Gw[j]}, per image {gw[j]}");
        for (int j = 0; j < outC; j++)
            Assert.True(Math.Abs(batch.Gb[j] - gb[j]) <= 1e-4 + 1e-5 * Math.Abs(gb[j]) * n, $"db[{j}]: {batch.Gb[j]}, per image {gb[j]}");
    }

    [Fact]
    public void ASplitBatchMatchesTheFloat64ReferenceLoop()
    {
        var r = new Random(5);
        int n = 6, c = 8, size = 14, outC = 16, k = 3;
        var x = Random(r, n * c * size * size);
        var w = Random(r, outC * c * k * k);
        var b = Random(r, outC);
        Assert.True(ConvKernel.Splits(new ConvShape(n, c, size, size, outC, k, k, 1, 1, 1, 1)) || !TwoThreads.Available);
        var y = Functional.Conv2d(new Tensor(x, n, c, size, size), new Tensor(w, outC, c, k, k), new Tensor(b, outC), 1, 1);
        var expected = ConvReference.Conv2d(x.Select(v => (double)v).ToArray(), n, c, size, size, w.Select(v => (double)v).ToArray(),
                                            outC, k, k, b.Select(v => (double)v).ToArray(), 1, 1, 1, 1, out _, out _);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(y.Data[i] - expected[i]) <= 1e-5 + 1e-5 * Math.Abs(expected[i]) * 10, $"y[{i}]: {y.Data[i]}, reference {expected[i]}");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ASplitPoolingGivesWhatEachImageGivesAlone(bool max)
    {
        var r = new Random(max ? 1 : 2);
        int n = 4, c = 32, size = 32, inImage = c * size * size;
        // whole numbers in [0, 3): ties in most windows
        var x = Enumerable.Range(0, n * inImage).Select(_ => (float)r.Next(3)).ToArray();
        Assert.True(PoolKernel.Splits(new ConvShape(n, c, size, size, c, 3, 3, 2, 2, 1, 1)) || !TwoThreads.Available);
        (float[] Y, float[] Gx) Run(float[] v, int images)
        {
            var t = new Tensor((float[])v.Clone(), images, c, size, size) { RequiresGrad = true };
            var y = max ? Functional.MaxPool2d(t, 3, 2, 1) : Functional.AvgPool2d(t, 3, 2, 1);
            ConvTestOps.WeightedSum(y, Enumerable.Range(0, y.Numel).Select(i => (float)(i % 7 - 3)).ToArray()).Backward();
            return (y.Data, t.Grad!);
        }
        var batch = Run(x, n);
        int perImage = batch.Y.Length / n;
        for (int i = 0; i < n; i++)
        {
            var one = Run(x[(i * inImage)..((i + 1) * inImage)], 1);
            Assert.Equal(one.Y, batch.Y[(i * perImage)..((i + 1) * perImage)]);
        }
        // the gradient's weights repeat with the output index, so compare the whole batch with a plain loop instead
        var expected = new float[x.Length];
        int o = (size + 2 * 1 - 3) / 2 + 1;
        for (int plane = 0; plane < n * c; plane++)
            for (int i = 0; i < o; i++)
                for (int j = 0; j < o; j++)
                {
                    float g = ((plane * o + i) * o + j) % 7 - 3;
                    int best = -1;
                    float m = float.NegativeInfinity;
                    for (int a = 0; a < 3; a++)
                        for (int bb = 0; bb < 3; bb++)
                        {
                            int ih = 2 * i - 1 + a, iw = 2 * j - 1 + bb;
                            if (ih < 0 || ih >= size || iw < 0 || iw >= size) continue;
                            int idx = (plane * size + ih) * size + iw;
                            if (max) { if (x[idx] > m) { m = x[idx]; best = idx; } }
                            else expected[idx] += g / 9;
                        }
                    if (max) expected[best] += g;
                }
        for (int i = 0; i < x.Length; i++)
            Assert.True(Math.Abs(batch.Gx[i] - expected[i]) <= 1e-5, $"dx[{i}]: {batch.Gx[i]}, plain loop {expected[i]}");
    }

    private sealed class Nested : TwoPartJob
    {
        public readonly int[] Inner = new int[2];
        public readonly int[] Outer = new int[2];

        private sealed class Leaf(Nested owner) : TwoPartJob
        {
            public override void Run(int part) => Interlocked.Increment(ref owner.Inner[part]);
        }

        public override void Run(int part)
        {
            // a half that runs a two-part job of its own, as a convolution's half runs its products
            TwoThreads.Run(new Leaf(this));
            Interlocked.Increment(ref Outer[part]);
        }
    }

    [Fact]
    public void AJobRunFromInsideAHalfRunsEachOfItsHalvesOnce()
    {
        for (int i = 0; i < 2000; i++)
        {
            var job = new Nested();
            TwoThreads.Run(job);
            Assert.Equal([1, 1], job.Outer);
            Assert.Equal([2, 2], job.Inner);
        }
    }
}
