using System.Text.Json;
using Optim.NN.Transforms;

using static Optim.NN.Tests.Golden;

namespace Optim.NN.Tests;

/// <summary>
/// The transforms against PyTorch's numbers (tests/golden/transforms.json, generate_transforms.py) and their
/// properties: crops are windows of the padded image, flips mirror, probabilities hold, bad arguments are named.
/// </summary>
public class TransformTests
{
    private static readonly JsonElement Fixture = Load();

    private static JsonElement Load()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "golden", "transforms.json")));
        return doc.RootElement.Clone();
    }

    private static double[] Doubles(JsonElement a) => a.EnumerateArray().Select(x => x.GetDouble()).ToArray();

    /// <summary>The spec's parity tolerance: 1e-5 + 1e-4·|expected| per element.</summary>
    private static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {actual.Length} elements, PyTorch has {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-5 + 1e-4 * Math.Abs(expected[i]), $"{what}[{i}]: {actual[i]}, PyTorch {expected[i]}");
    }

    private static float[] Run(ITransform transform, float[] input, int[] shape, Random random)
    {
        var output = new float[transform.OutputShape(shape).Aggregate(1, (a, b) => a * b)];
        transform.Apply(input, shape, output, random);
        return output;
    }

    [Fact]
    public void NormalizeGivesPyTorchsNumbers()
    {
        Assert.Equal(5, Fixture.GetProperty("normalize").GetArrayLength());
        foreach (var c in Fixture.GetProperty("normalize").EnumerateArray())
        {
            var normalize = new Normalize(Doubles(c.GetProperty("mean")), Doubles(c.GetProperty("std")));
            var input = c.GetProperty("input");
            Assert.Equal(Shape(input), normalize.OutputShape(Shape(input)));
            Close(Data(c.GetProperty("output")), Run(normalize, Data(input), Shape(input), new Random(0)), $"Normalize {Shapes.Format(Shape(input))}");
        }
    }

    [Fact]
    public void EveryWindowOfTheZeroPaddedImageIsPyTorchs()
    {
        foreach (var c in Fixture.GetProperty("crop").EnumerateArray())
        {
            var size = c.GetProperty("size").EnumerateArray().Select(x => x.GetInt32()).ToArray();
            var crop = new RandomCrop((size[0], size[1]), padding: c.GetProperty("padding").GetInt32());
            var input = c.GetProperty("input");
            var shape = Shape(input);
            foreach (var window in c.GetProperty("windows").EnumerateArray())
            {
                var expected = window.GetProperty("output");
                Assert.Equal(Shape(expected), crop.OutputShape(shape));
                var output = new float[Data(expected).Length];
                crop.Crop(Data(input), shape, output, window.GetProperty("top").GetInt32(), window.GetProperty("left").GetInt32());
                Assert.Equal(Data(expected), output);
            }
        }
    }

    [Fact]
    public void AFlipWithProbabilityOneIsPyTorchsHflip()
    {
        foreach (var c in Fixture.GetProperty("flip").EnumerateArray())
        {
            var input = c.GetProperty("input");
            Assert.Equal(Data(c.GetProperty("output")), Run(new RandomHorizontalFlip(1), Data(input), Shape(input), new Random(0)));
        }
    }

    /// <summary>The image zero-padded by p on each side, as a reference built apart from RandomCrop.</summary>
    private static float[,,] Padded(float[] x, int c, int h, int w, int p)
    {
        var padded = new float[c, h + 2 * p, w + 2 * p];
        for (int k = 0; k < c; k++)
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++) padded[k, i + p, j + p] = x[(k * h + i) * w + j];
        return padded;
    }

    [Theory]
    [InlineData(3, 5, 6, 4, 2)]
    [InlineData(1, 4, 4, 4, 0)]
    [InlineData(2, 3, 3, 5, 1)]
    [InlineData(1, 8, 5, 5, 4)]
    public void EveryRandomCropIsAWindowOfThePaddedImageAndEveryWindowIsDrawn(int c, int h, int w, int size, int padding)
    {
        var random = new Random(1);
        var x = Enumerable.Range(0, c * h * w).Select(_ => (float)random.NextDouble() + 0.5f).ToArray();
        var padded = Padded(x, c, h, w, padding);
        var crop = new RandomCrop(size, padding);
        int[] shape = [c, h, w];
        Assert.Equal(new[] { c, size, size }, crop.OutputShape(shape));
        int tops = h + 2 * padding - size + 1, lefts = w + 2 * padding - size + 1, draws = 100 * tops * lefts;
        var counts = new int[tops, lefts];
        for (int n = 0; n < draws; n++)
        {
            var y = Run(crop, x, shape, random);
            bool Matches(int top, int left)
            {
                for (int k = 0; k < c; k++)
                    for (int i = 0; i < size; i++)
                        for (int j = 0; j < size; j++)
                            if (y[(k * size + i) * size + j] != padded[k, top + i, left + j]) return false;
                return true;
            }
            var found = (from top in Enumerable.Range(0, tops) from left in Enumerable.Range(0, lefts) where Matches(top, left) select (top, left)).ToList();
            Assert.True(found.Count == 1, $"crop {n} matches {found.Count} windows");
            counts[found[0].top, found[0].left]++;
        }
        // each place is drawn with probability 1/(tops·lefts): 100 expected, with a standard deviation of about 10
        foreach (var count in counts) Assert.InRange(count, 50, 150);
    }

    [Fact]
    public void ACropOfTheWholeUnpaddedImageIsTheImage()
    {
        var x = Enumerable.Range(0, 2 * 3 * 4).Select(i => (float)i).ToArray();
        Assert.Equal(x, Run(new RandomCrop((3, 4)), x, [2, 3, 4], new Random(0)));
        Assert.Equal(x[..12], Run(new RandomCrop((3, 4)), x[..12], [3, 4], new Random(0)));
    }

    [Fact]
    public void FlippingTwiceIsTheIdentityAndNeverFlippingCopies()
    {
        var random = new Random(3);
        var x = Enumerable.Range(0, 3 * 4 * 5).Select(_ => (float)random.NextDouble()).ToArray();
        int[] shape = [3, 4, 5];
        var always = new RandomHorizontalFlip(p: 1);
        var once = Run(always, x, shape, random);
        Assert.NotEqual(x, once);
        Assert.Equal(x[4], once[0]);
        Assert.Equal(x, Run(always, once, shape, random));
        var never = new RandomHorizontalFlip(p: 0);
        for (int i = 0; i < 100; i++) Assert.Equal(x, Run(never, x, shape, random));
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.3)]
    [InlineData(0.9)]
    public void TheFractionFlippedIsAboutP(double p)
    {
        var flip = new RandomHorizontalFlip(p);
        var random = new Random(7);
        float[] x = [1, 2];
        const int n = 10000;
        int flipped = Enumerable.Range(0, n).Count(_ => Run(flip, x, [1, 1, 2], random)[0] == 2);
        // four standard deviations of a binomial fraction: at most 0.02 for n = 10,000
        Assert.InRange(flipped / (double)n, p - 4 * Math.Sqrt(p * (1 - p) / n), p + 4 * Math.Sqrt(p * (1 - p) / n));
    }

    [Fact]
    public void ComposeAppliesItsTransformsInOrderAndChangesShapesAlongTheWay()
    {
        var x = Enumerable.Range(0, 2 * 4 * 4).Select(i => (float)i).ToArray();
        int[] shape = [2, 4, 4];
        var compose = new Compose(new RandomCrop(2), new RandomHorizontalFlip(1), new Normalize([1.0, 2.0], [2.0, 4.0]));
        Assert.Equal(new[] { 2, 2, 2 }, compose.OutputShape(shape));
        var y = Run(compose, x, shape, new Random(5));
        // the same random draws, one transform at a time
        var random = new Random(5);
        var cropped = Run(new RandomCrop(2), x, shape, random);
        var flipped = Run(new RandomHorizontalFlip(1), cropped, [2, 2, 2], random);
        var expected = Run(new Normalize([1.0, 2.0], [2.0, 4.0]), flipped, [2, 2, 2], random);
        Assert.Equal(expected, y);
        Assert.Equal(x, Run(new Compose(), x, shape, new Random(0)));
        Assert.Equal(cropped, Run(new Compose(new RandomCrop(2)), x, shape, new Random(5)));
        Assert.Equal(3, compose.Transforms.Count);
    }

    private static ArgumentException Rejects(Action a, string paramName, params string[] inMessage)
    {
        var e = Assert.ThrowsAny<ArgumentException>(a);
        Assert.Equal(paramName, e.ParamName);
        foreach (var s in inMessage) Assert.Contains(s, e.Message);
        return e;
    }

    [Fact]
    public void BadArgumentsAreRejectedByNameWithTheirValue()
    {
        Rejects(() => new Normalize([0.5], [0.0]), "std", "0");
        Rejects(() => new Normalize([0.5], [-0.25]), "std", "-0.25");
        Rejects(() => new Normalize([0.5, 0.5], [0.2, 1e-50]), "std", "std[1]", "1E-50");
        Rejects(() => new Normalize([0.5], [double.NaN]), "std", "NaN");
        Rejects(() => new Normalize([double.PositiveInfinity], [1]), "mean", "mean[0]");
        Rejects(() => new Normalize([], [1]), "mean", "empty");
        Rejects(() => new Normalize([0.1, 0.2], [1, 2, 3]), "std", "2 values", "std 3");
        Assert.Throws<ArgumentNullException>(() => new Normalize(null!, [1]));
        Rejects(() => new Normalize([0.1, 0.2], [1]).OutputShape([3, 2, 2]), "mean", "2 values", "3 channels");
        Rejects(() => new Normalize([0.1], [1, 2]).OutputShape([3, 2, 2]), "std", "2 values", "3 channels");
        Rejects(() => new Normalize([0.1], [1]).OutputShape([4, 4]), "shape", "[4, 4]");
        Rejects(() => new RandomCrop(0), "size", "0");
        Rejects(() => new RandomCrop((3, -1)), "size", "(3, -1)");
        Rejects(() => new RandomCrop(3, padding: -2), "padding", "-2");
        Rejects(() => new RandomCrop(7, padding: 1).OutputShape([1, 4, 5]), "size", "(7, 7)", "6×7", "[1, 4, 5]");
        Rejects(() => new RandomCrop(2).OutputShape([5]), "shape", "[5]");
        Rejects(() => new RandomHorizontalFlip(1.5), "p", "1.5");
        Rejects(() => new RandomHorizontalFlip(-0.1), "p", "-0.1");
        Rejects(() => new RandomHorizontalFlip(double.NaN), "p", "NaN");
        Rejects(() => new Compose(new RandomHorizontalFlip(), null!), "transforms", "transforms[1]");
        Rejects(() => new RandomHorizontalFlip().Apply(new float[5], [2, 3], new float[6], new Random(0)), "input", "5");
        Rejects(() => new RandomCrop(2).Apply(new float[6], [2, 3], new float[3], new Random(0)), "output", "3");
    }
}
