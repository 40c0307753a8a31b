using FsCheck;
using FsCheck.Fluent;
using Optim.Kernels;

namespace Optim.NN.Tests;

/// <summary>The blocked matmul kernel against a naive triple loop in double, on random shapes (odd sizes included).</summary>
public class GemmTests
{
    /// <summary>The reference: C = op(A)·op(B) (+ C0), summed in double.</summary>
    private static double[] Naive(int m, int n, int k, float[] a, bool ta, float[] b, bool tb, float[]? c0)
    {
        var c = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = c0?[i * n + j] ?? 0;
                for (int p = 0; p < k; p++)
                    s += (double)(ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
                c[i * n + j] = s;
            }
        return c;
    }

    private static float[] RandomFloats(Random r, int n)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(r.NextDouble() * 2 - 1);
        return x;
    }

    private static void Verify(int m, int n, int k, bool ta, bool tb, bool accumulate, int seed)
    {
        var r = new Random(seed);
        var a = RandomFloats(r, m * k);
        var b = RandomFloats(r, k * n);
        var c = RandomFloats(r, m * n);
        var c0 = (float[])c.Clone();
        Gemm.Multiply(m, n, k, a, ta, b, tb, c, accumulate);
        var expected = Naive(m, n, k, a, ta, b, tb, accumulate ? c0 : null);
        for (int i = 0; i < m * n; i++)
        {
            // float32 products summed over k: the error grows like √k·ulp of the terms, all below 1 here
            double tol = 1e-5 * Math.Sqrt(k + 1) * 4;
            Assert.True(Math.Abs(c[i] - expected[i]) <= tol,
                $"[{m},{k}]x[{k},{n}] ta={ta} tb={tb} acc={accumulate}: C[{i / n},{i % n}] = {c[i]}, expected {expected[i]}");
        }
    }

    [Fact]
    public void TheKernelMatchesANaiveProductOnRandomShapesTranspositionsAndAccumulation()
    {
        var cases = from m in Gen.Choose(0, 40)
                    from n in Gen.Choose(0, 40)
                    from k in Gen.Choose(0, 40)
                    from ta in Gen.Elements(false, true)
                    from tb in Gen.Elements(false, true)
                    from acc in Gen.Elements(false, true)
                    from seed in Gen.Choose(0, int.MaxValue)
                    select (m, n, k, ta, tb, acc, seed);
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(300),
            Prop.ForAll(cases.ToArbitrary(), x => Verify(x.m, x.n, x.k, x.ta, x.tb, x.acc, x.seed)));
    }

    [Theory]
    [InlineData(64, 128, 784, false, true)]    // the MLP's first layer forward: x·W1ᵀ
    [InlineData(128, 784, 64, true, false)]    // its weight gradient: Gᵀ·x
    [InlineData(64, 784, 128, false, false)]   // its input gradient: G·W1
    [InlineData(301, 97, 600, false, false)]   // several k blocks and row blocks, odd edges
    [InlineData(97, 1100, 33, true, true)]     // more than one column block
    public void LargeProductsSplitOverTwoThreadsMatchTheNaiveProduct(int m, int n, int k, bool ta, bool tb)
    {
        Assert.True((long)m * n * k >= Gemm.ParallelThreshold || m * n * k < 1);
        Verify(m, n, k, ta, tb, accumulate: false, seed: m + n + k);
        Verify(m, n, k, ta, tb, accumulate: true, seed: m * n * k);
    }

    [Fact]
    public void TheKernelAgreesWithItselfWhetherOrNotTheProductIsSplit()
    {
        // the halves compute disjoint blocks with the same code, so splitting changes no bit
        int m = 130, n = 150, k = 120;
        var r = new Random(5);
        var a = RandomFloats(r, m * k);
        var b = RandomFloats(r, k * n);
        var whole = new float[m * n];
        Gemm.Multiply(m, n, k, a, false, b, false, whole, false);
        var rows = new float[m * n];
        // the same product as two calls below the threshold, on the top and bottom rows
        int top = 66;
        Gemm.Multiply(top, n, k, a, false, b, false, rows, false);
        Gemm.Multiply(m - top, n, k, a.AsSpan(top * k), false, b, false, rows.AsSpan(top * n), false);
        Assert.Equal(whole, rows);
    }

    [Fact]
    public void BadExtentsBuffersTooSmallAndAnOutputOverlappingAnInputAreRejectedNamingTheArgument()
    {
        var a = new float[6];
        var b = new float[6];
        var c = new float[4];
        Assert.Equal("m", Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply(-1, 2, 3, a, false, b, false, c, false)).ParamName);
        Assert.Equal("k", Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply(2, 2, -3, a, false, b, false, c, false)).ParamName);
        Assert.Equal("a", Assert.Throws<ArgumentException>(() => Gemm.Multiply(2, 2, 4, a, false, new float[8], false, c, false)).ParamName);
        Assert.Equal("b", Assert.Throws<ArgumentException>(() => Gemm.Multiply(2, 2, 3, a, false, new float[5], false, c, false)).ParamName);
        Assert.Equal("c", Assert.Throws<ArgumentException>(() => Gemm.Multiply(2, 2, 3, a, false, b, false, new float[3], false)).ParamName);
        var shared = new float[10];
        Assert.Equal("c", Assert.Throws<ArgumentException>(() =>
            Gemm.Multiply(2, 2, 3, shared.AsSpan(0, 6), false, b, false, shared.AsSpan(4, 4), false)).ParamName);
        // nothing was written by the rejected calls
        Assert.All(c, x => Assert.Equal(0f, x));
        Assert.All(shared, x => Assert.Equal(0f, x));
    }
}
