using FsCheck;
using FsCheck.Fluent;

namespace Optim.NN.Tests;

/// <summary>A random convolution, optionally followed by a pooling, with its geometry.</summary>
public sealed record ConvCase(int N, int C, int H, int W, int OutC, int KH, int KW, int SH, int SW, int PH, int PW, bool Bias,
                              int Pool, int PoolK, int PoolS, int PoolP, bool Unbatched, int Seed)
{
    public override string ToString() =>
        $"x[{N},{C},{H},{W}]{(Unbatched ? " unbatched" : "")} conv w[{OutC},{C},{KH},{KW}] s({SH},{SW}) p({PH},{PW}){(Bias ? " bias" : "")}" +
        (Pool == 0 ? "" : $" then {(Pool == 1 ? "max" : "avg")} pool k{PoolK} s{PoolS} p{PoolP}") + $" (seed {Seed})";
}

/// <summary>
/// The gradient check for convolution and pooling: on random geometries (kernel sizes, strides, paddings, channel
/// counts, batches, rectangular images, unbatched inputs, a pooling after the convolution), the gradients that
/// <see cref="Tensor.Backward"/> computes in float32 for <c>sum(op(x) * w)</c> equal central finite differences of
/// the float64 reference (<see cref="ConvReference"/>), for the input, the weight and the bias.
/// </summary>
public class ConvGradCheckTests
{
    private static Gen<ConvCase> Cases =>
        from n in Gen.Choose(1, 3)
        from c in Gen.Choose(1, 3)
        from h in Gen.Choose(1, 7)
        from w in Gen.Choose(1, 7)
        from outC in Gen.Choose(1, 3)
        from ph in Gen.Choose(0, 2)
        from pw in Gen.Choose(0, 2)
        from kh in Gen.Choose(1, Math.Min(5, h + 2 * ph))
        from kw in Gen.Choose(1, Math.Min(5, w + 2 * pw))
        from sh in Gen.Choose(1, 3)
        from sw in Gen.Choose(1, 3)
        from bias in Gen.Elements(true, false)
        from pool in Gen.Choose(0, 2)
        from poolK in Gen.Choose(1, 3)
        from poolS in Gen.Choose(1, 3)
        from poolP in Gen.Choose(0, poolK / 2)
        from unbatched in Gen.Elements(false, n == 1)
        from seed in Gen.Choose(0, int.MaxValue)
        let oh = (h + 2 * ph - kh) / sh + 1
        let ow = (w + 2 * pw - kw) / sw + 1
        select new ConvCase(n, c, h, w, outC, kh, kw, sh, sw, ph, pw, bias,
                            pool != 0 && oh + 2 * poolP >= poolK && ow + 2 * poolP >= poolK ? pool : 0, poolK, poolS, poolP, unbatched, seed);

    /// <summary>
    /// Distinct values a hundredth apart or more, shuffled, so that no two inputs of a max-pooling window (which are
    /// convolution outputs, or the values themselves) are close enough for a finite difference to cross a tie.
    /// </summary>
    private static double[] Values(Random r, int count, double scale)
    {
        var v = Enumerable.Range(0, count).Select(i => (i - count / 2.0) * 0.01 * scale / Math.Max(1, count / 200.0)).ToArray();
        r.Shuffle(v);
        return v.Select(x => (double)(float)x).ToArray();
    }

    private static double Loss(ConvCase k, double[] x, double[] weight, double[]? bias, double[] w)
    {
        var y = ConvReference.Conv2d(x, k.N, k.C, k.H, k.W, weight, k.OutC, k.KH, k.KW, bias, k.SH, k.SW, k.PH, k.PW, out int oh, out int ow);
        if (k.Pool != 0) y = ConvReference.Pool(k.Pool == 1, y, k.N, k.OutC, oh, ow, k.PoolK, k.PoolK, k.PoolS, k.PoolS, k.PoolP, k.PoolP, out _, out _);
        double s = 0;
        for (int i = 0; i < y.Length; i++) s += y[i] * w[i];
        return s;
    }

    /// <summary>The smallest gap between two values of one max-pooling window's candidates, or infinity without max pooling.</summary>
    private static double TieGap(ConvCase k, double[] x, double[] weight, double[]? bias)
    {
        if (k.Pool != 1) return double.PositiveInfinity;
        var y = ConvReference.Conv2d(x, k.N, k.C, k.H, k.W, weight, k.OutC, k.KH, k.KW, bias, k.SH, k.SW, k.PH, k.PW, out int oh, out int ow);
        var sorted = y.Order().ToArray();
        double gap = double.PositiveInfinity;
        for (int i = 1; i < sorted.Length; i++) gap = Math.Min(gap, sorted[i] - sorted[i - 1]);
        return gap;
    }

    private static bool GradientsMatch(ConvCase k)
    {
        var r = new Random(k.Seed);
        double[] x = Values(r, k.N * k.C * k.H * k.W, 1), weight = Values(r, k.OutC * k.C * k.KH * k.KW, 1);
        double[]? bias = k.Bias ? Values(r, k.OutC, 1) : null;
        // the tie check: close outputs feeding max pooling are skipped (a kink), as the graph check skips ReLU kinks
        if (TieGap(k, x, weight, bias) < 1e-4) return false;
        int[] xShape = k.Unbatched ? [k.C, k.H, k.W] : [k.N, k.C, k.H, k.W];
        var tx = new Tensor(x.Select(v => (float)v).ToArray(), xShape) { RequiresGrad = true };
        var tw = new Tensor(weight.Select(v => (float)v).ToArray(), k.OutC, k.C, k.KH, k.KW) { RequiresGrad = true };
        var tb = bias is null ? null : new Tensor(bias.Select(v => (float)v).ToArray(), k.OutC) { RequiresGrad = true };
        var y = Functional.Conv2d(tx, tw, tb, (k.SH, k.SW), (k.PH, k.PW));
        if (k.Pool == 1) y = Functional.MaxPool2d(y, k.PoolK, k.PoolS, k.PoolP);
        if (k.Pool == 2) y = Functional.AvgPool2d(y, k.PoolK, k.PoolS, k.PoolP);
        var w = Enumerable.Range(0, y.Numel).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
        var wd = w.Select(v => (double)v).ToArray();
        var loss = ConvTestOps.WeightedSum(y, w);
        double f0 = Loss(k, x, weight, bias, wd);
        Assert.True(Math.Abs(loss.Item() - f0) <= 1e-4 + 1e-4 * Math.Abs(f0), $"forward: {loss.Item()} vs reference {f0}");
        loss.Backward();
        const double h = 1e-6;
        void Check(string name, double[] theta, float[]? grad)
        {
            for (int i = 0; i < theta.Length; i++)
            {
                double keep = theta[i];
                theta[i] = keep + h;
                double up = Loss(k, x, weight, bias, wd);
                theta[i] = keep - h;
                double down = Loss(k, x, weight, bias, wd);
                theta[i] = keep;
                double fd = (up - down) / (2 * h), ad = grad?[i] ?? 0;
                Assert.True(Math.Abs(ad - fd) <= 1e-4 + 1e-4 * Math.Abs(fd), $"d/d{name}[{i}]: autodiff {ad}, finite differences {fd}");
            }
        }
        Check("x", x, tx.Grad);
        Check("weight", weight, tw.Grad);
        if (bias is not null) Check("bias", bias, tb!.Grad);
        return true;
    }

    [Fact]
    public void ConvolutionAndPoolingGradientsEqualFiniteDifferencesOfAFloat64ReferenceOnRandomGeometries()
    {
        int checkedCases = 0;
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(400).WithMaxRejected(2000),
            Prop.ForAll(Cases.ToArbitrary(), k =>
            {
                bool usable = GradientsMatch(k);
                if (usable) checkedCases++;
                return Prop.When(usable, () => { });
            }));
        Assert.True(checkedCases >= 400);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void PoolingAloneHasTheGradientOfItsReference(int kind)
    {
        // pooling straight on the input: distinct values, no ties, overlapping and padded windows
        var r = new Random(kind);
        int n = 2, c = 3, h = 7, w = 6;
        var x = Values(r, n * c * h * w, 1);
        var tx = new Tensor(x.Select(v => (float)v).ToArray(), n, c, h, w) { RequiresGrad = true };
        var y = kind == 1 ? Functional.MaxPool2d(tx, (3, 2), (2, 1), (1, 1)) : Functional.AvgPool2d(tx, (3, 2), (2, 1), (1, 1));
        var wts = Enumerable.Range(0, y.Numel).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
        ConvTestOps.WeightedSum(y, wts).Backward();
        double Loss(double[] v)
        {
            var ref_ = ConvReference.Pool(kind == 1, v, n, c, h, w, 3, 2, 2, 1, 1, 1, out _, out _);
            return ref_.Select((e, i) => e * wts[i]).Sum();
        }
        for (int i = 0; i < x.Length; i++)
        {
            double keep = x[i];
            x[i] = keep + 1e-6;
            double up = Loss(x);
            x[i] = keep - 1e-6;
            double down = Loss(x);
            x[i] = keep;
            double fd = (up - down) / 2e-6;
            Assert.True(Math.Abs(tx.Grad![i] - fd) <= 1e-4 + 1e-4 * Math.Abs(fd), $"d/dx[{i}]: autodiff {tx.Grad[i]}, finite differences {fd}");
        }
    }
}
