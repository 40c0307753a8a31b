using System.Text.Json;

namespace Optim.CSharp.Tests;

/// <summary>Replays tests/golden/clip_grad.json (torch.nn.utils.clip_grad_norm_ and clip_grad_value_ of PyTorch 1.13).</summary>
public class ClipGradTests
{
    public static IEnumerable<object[]> Cases => GoldenFixtures.Names("clip_grad");

    private static JsonElement Case(string name) => GoldenFixtures.Cases("clip_grad").Single(c => c.GetProperty("name").GetString() == name);

    /// <summary>A fixture float: a number, or "NaN", "Infinity", "-Infinity".</summary>
    private static double Number(JsonElement e) => e.ValueKind == JsonValueKind.String
        ? e.GetString() switch { "NaN" => double.NaN, "Infinity" => double.PositiveInfinity, "-Infinity" => double.NegativeInfinity, var s => throw new FormatException(s) }
        : e.GetDouble();

    private static float[]? Floats(JsonElement e) =>
        e.ValueKind == JsonValueKind.Null ? null : e.EnumerateArray().Select(x => (float)Number(x)).ToArray();

    private static Parameter[] Params(JsonElement c) =>
        c.GetProperty("params").EnumerateArray().Select(d =>
        {
            int[] shape = d.GetProperty("shape").EnumerateArray().Select(x => x.GetInt32()).ToArray();
            return new Parameter(new float[shape.Aggregate(1, (a, b) => a * b)], shape) { Grad = Floats(d.GetProperty("grad")) };
        }).ToArray();

    private static bool Close(double expected, double actual) =>
        double.IsNaN(expected) ? double.IsNaN(actual)
        : double.IsInfinity(expected) ? expected == actual
        : Math.Abs(actual - expected) <= 1e-5 + 1e-4 * Math.Abs(expected);

    /// <summary>Runs a case; returns the expected and actual values of every gradient element and of the total norm.</summary>
    private static List<(string What, double Expected, double Actual)> Run(JsonElement c)
    {
        var ps = Params(c);
        var results = new List<(string, double, double)>();
        if (c.GetProperty("function").GetString() == "clip_grad_value_")
            ClipGrad.ClipGradValue(ps, c.GetProperty("clip_value").GetDouble());
        else
        {
            double maxNorm = c.GetProperty("max_norm").GetDouble(), normType = Number(c.GetProperty("norm_type"));
            bool error = c.GetProperty("error_if_nonfinite").GetBoolean();
            if (c.TryGetProperty("error", out var message))
            {
                var e = Assert.Throws<InvalidOperationException>(() => ClipGrad.ClipGradNorm(ps, maxNorm, normType, error));
                Assert.Equal(message.GetString()!.Replace("`error_if_nonfinite=False`", "`errorIfNonfinite: false`"), e.Message);
            }
            else
            {
                double total = ClipGrad.ClipGradNorm(ps, maxNorm, normType, error);
                results.Add(("total norm", Number(c.GetProperty("total_norm")), total));
            }
        }
        var expected = c.GetProperty("grads").EnumerateArray().Select(Floats).ToArray();
        for (int k = 0; k < ps.Length; k++)
        {
            if (expected[k] is null)
            {
                Assert.Null(ps[k].Grad);
                continue;
            }
            for (int i = 0; i < expected[k]!.Length; i++) results.Add(($"gradient {k} element {i}", expected[k]![i], ps[k].Grad![i]));
        }
        return results;
    }

    [Theory, MemberData(nameof(Cases))]
    public void ClippingFollowsPyTorchWithinTolerance(string name)
    {
        foreach (var (what, expected, actual) in Run(Case(name)))
            Assert.True(Close(expected, actual), $"{name}: {what} is {actual}, PyTorch has {expected}");
    }

    [Theory, MemberData(nameof(Cases))]
    public void ClippingByTheOneTwoAndInfinityNormsAndByValueEqualsPyTorchBitForBit(string name)
    {
        var c = Case(name);
        // other orders go through powf, which may round differently from one C library to another
        if (c.TryGetProperty("norm_type", out var p) && Number(p) is not (1.0 or 2.0 or double.PositiveInfinity)) return;
        foreach (var (what, expected, actual) in Run(c))
            Assert.True(expected.Equals(actual) || (expected == 0 && actual == 0), $"{name}: {what} is {actual:R}, PyTorch has {expected:R}");
    }

    [Fact]
    public void TheTwoNormGivesTheSameBitsWithAndWithoutTheFmaUnit()
    {
        var rng = new Random(4);
        for (int n = 0; n < 300; n++)
        {
            var x = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 6 - 3)).ToArray();
            Assert.Equal(ClipGrad.Norm2(x, useFma: true), ClipGrad.Norm2(x, useFma: false));
        }
    }

    [Fact]
    public void TheDocumentedExamplesHold()
    {
        Parameter[] ps = [new([0f, 0f]) { Grad = [3f, 4f] }, new([0f]) { Grad = [12f] }, new([0f])];
        Assert.Equal(13.0, ClipGrad.ClipGradNorm(ps, 6.5));
        Assert.Equal([1.5f, 2f], ps[0].Grad!, (a, b) => Math.Abs(a - b) < 1e-6);
        Assert.Equal([6f], ps[1].Grad!, (a, b) => Math.Abs(a - b) < 1e-6);
        Assert.Null(ps[2].Grad);

        var q = new Parameter([0f, 0f, 0f]) { Grad = [0.2f, -3f, 0.7f] };
        ClipGrad.ClipGradValue([q], 0.5);
        Assert.Equal([0.2f, -0.5f, 0.5f], q.Grad);
    }

    [Fact]
    public void NoGradientGivesATotalNormOfZeroAndChangesNothing()
    {
        var p = new Parameter([1f, 2f]);
        Assert.Equal(0.0, ClipGrad.ClipGradNorm([p], 1.0));
        Assert.Equal(0.0, ClipGrad.ClipGradNorm([], 1.0));
        ClipGrad.ClipGradValue([p], 1.0);
        Assert.Null(p.Grad);
    }

    [Fact]
    public void AnInfiniteMaxNormLeavesTheGradientsAsTheyAre()
    {
        var p = new Parameter(new float[3]) { Grad = [1e30f, -2f, 3f] };
        Assert.Equal(1e30f, (float)ClipGrad.ClipGradNorm([p], double.PositiveInfinity, double.PositiveInfinity));
        Assert.Equal([1e30f, -2f, 3f], p.Grad);
    }

    public static TheoryData<double, double, string> BadNormArguments => new()
    {
        { -1.0, 2.0, "maxNorm" },
        { double.NaN, 2.0, "maxNorm" },
        { 1.0, 0.0, "normType" },
        { 1.0, -2.0, "normType" },
        { 1.0, double.NaN, "normType" },
        { 1.0, double.NegativeInfinity, "normType" },
    };

    [Theory, MemberData(nameof(BadNormArguments))]
    public void BadNormArgumentsAreRefusedByNameAndChangeNothing(double maxNorm, double normType, string argument)
    {
        var p = new Parameter(new float[2]) { Grad = [3f, 4f] };
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ClipGrad.ClipGradNorm([p], maxNorm, normType));
        Assert.Equal(argument, e.ParamName);
        Assert.Contains(argument, e.Message);
        Assert.Equal([3f, 4f], p.Grad);
    }

    [Theory]
    [InlineData(-0.5)]
    [InlineData(double.NaN)]
    public void ABadClipValueIsRefusedByName(double clipValue)
    {
        var p = new Parameter(new float[2]) { Grad = [3f, -4f] };
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ClipGrad.ClipGradValue([p], clipValue));
        Assert.Equal("clipValue", e.ParamName);
        Assert.Equal([3f, -4f], p.Grad);
    }

    [Fact]
    public void NullsAndSparseGradientsAreRefusedBeforeAnythingChanges()
    {
        Assert.Throws<ArgumentNullException>(() => ClipGrad.ClipGradNorm(null!, 1.0));
        Assert.Throws<ArgumentNullException>(() => ClipGrad.ClipGradValue(null!, 1.0));
        var dense = new Parameter(new float[2]) { Grad = [3f, 4f] };
        Assert.Throws<ArgumentNullException>(() => ClipGrad.ClipGradNorm([dense, null!], 1.0));
        var sparse = new Parameter(new float[4], 2, 2);
        sparse.AccumulateSparseGrad([1], [5f, 6f]);
        Assert.Throws<ArgumentException>(() => ClipGrad.ClipGradNorm([dense, sparse], 1.0));
        Assert.Throws<ArgumentException>(() => ClipGrad.ClipGradValue([dense, sparse], 1.0));
        Assert.Equal([3f, 4f], dense.Grad);
    }
}
