using FsCheck;
using FsCheck.Fluent;
using Optim.CSharp;

namespace Optim.NN.Tests;

/// <summary>How Backward() delivers gradients: accumulation, shared uses, parameters, graph release, grad mode.</summary>
public class AutogradTests
{
    private static Gen<float[]> Floats(int n) => Gen.ArrayOf(Gen.Choose(-2000, 2000).Select(i => i / 1000f), n);

    /// <summary>A small model's loss for a batch: the same computation twice must add up.</summary>
    private static Tensor Loss(Sequential model, Tensor x, Tensor y) => new CrossEntropyLoss().Forward(model.Forward(x), y);

    [Fact]
    public void TwoBackwardPassesWithoutZeroGradAccumulateTheSumOfTheirGradients()
    {
        var cases = from x1 in Floats(12) from x2 in Floats(12) from seed in Gen.Choose(0, 1000) select (x1, x2, seed);
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(100), Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var model = new Sequential(new Linear(4, 5, random: new Random(c.seed)), new ReLU(), new Linear(5, 3, random: new Random(c.seed + 1)));
            var ps = model.Parameters().ToArray();
            var y = new Tensor([0f, 2f, 1f]);
            var xa = new Tensor(c.x1, 3, 4);
            var xb = new Tensor(c.x2, 3, 4);

            Loss(model, xa, y).Backward();
            var ga = ps.Select(p => (float[])p.Grad!.Clone()).ToArray();
            foreach (var p in ps) p.Grad = null;
            Loss(model, xb, y).Backward();
            var gb = ps.Select(p => (float[])p.Grad!.Clone()).ToArray();

            // the seeds' accumulation: no ZeroGrad between the two backward passes
            foreach (var p in ps) p.Grad = null;
            Loss(model, xa, y).Backward();
            Loss(model, xb, y).Backward();
            for (int i = 0; i < ps.Length; i++)
                for (int j = 0; j < ps[i].Numel; j++)
                    Assert.Equal(ga[i][j] + gb[i][j], ps[i].Grad![j]);
        }));
    }

    [Fact]
    public void ALeafUsedSeveralTimesGetsTheSumOfItsContributions()
    {
        var x = new Tensor([3f]) { RequiresGrad = true };
        var y = x * x + x * 2f + x;   // dy/dx = 2x + 3
        y.Sum().Backward();
        Assert.Equal(9f, x.Grad![0]);

        var s = Tensor.Scalar(1.5f);
        s.RequiresGrad = true;
        var shared = s.Exp();
        (shared * shared + shared).Backward();   // d/ds (e²ˢ + eˢ) = 2e²ˢ + eˢ
        Assert.Equal(2 * Math.Exp(3) + Math.Exp(1.5), s.Grad![0], 4);
    }

    [Fact]
    public void BackwardAccumulatesIntoAParametersGradThroughAccumulateGrad()
    {
        var w = new Parameter([1f, 2f, 3f]) { Name = "w" };
        var t = Tensor.FromParameter(w);
        Assert.True(t.RequiresGrad);
        (t * t).Sum().Backward();
        Assert.Equal([2f, 4f, 6f], w.Grad!);
        Assert.Same(w.Grad, t.Grad);
        (t * 3f).Sum().Backward();
        Assert.Equal([5f, 7f, 9f], w.Grad!);

        var optimizer = new SGD([w], lr: 0.1);
        optimizer.Step();
        Assert.Equal([0.5f, 1.3f, 2.1f], t.Data);   // the tensor is the parameter's live buffer
        optimizer.ZeroGrad();
        Assert.Null(t.Grad);
    }

    [Fact]
    public void AParameterThatDoesNotRequireAGradientGetsNone()
    {
        var frozen = new Parameter([1f, 2f]) { RequiresGrad = false };
        var live = new Parameter([3f, 4f]);
        (Tensor.FromParameter(frozen) * Tensor.FromParameter(live)).Sum().Backward();
        Assert.Null(frozen.Grad);
        Assert.Equal([1f, 2f], live.Grad!);
    }

    [Fact]
    public void IntermediateResultsKeepNoGradient()
    {
        var x = new Tensor([1f, 2f]) { RequiresGrad = true };
        var h = x.Exp();
        h.Sum().Backward();
        Assert.False(h.IsLeaf);
        Assert.Null(h.Grad);
        Assert.Null(h.Pending);
        Assert.NotNull(x.Grad);
    }

    [Fact]
    public void ASecondBackwardThroughTheSameGraphThrowsUnlessTheGraphWasRetained()
    {
        var x = new Tensor([2f]) { RequiresGrad = true };
        var y = (x * x).Sum();
        y.Backward(retainGraph: true);
        y.Backward();
        Assert.Equal(8f, x.Grad![0]);
        var e = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.Contains("second time", e.Message);
        Assert.Equal(8f, x.Grad![0]);
    }

    [Fact]
    public void BackwardNeedsAOneElementTensorThatRequiresAGradient()
    {
        var x = new Tensor([1f, 2f]) { RequiresGrad = true };
        var e = Assert.Throws<InvalidOperationException>(() => (x * 2f).Backward());
        Assert.Contains("[2]", e.Message);
        Assert.Null(x.Grad);
        Assert.Throws<InvalidOperationException>(() => new Tensor([1f]).Backward());
    }

    [Fact]
    public void NoGradRecordsNothingAndNests()
    {
        var x = new Tensor([1f]) { RequiresGrad = true };
        using (Tensor.NoGrad())
        {
            using (Tensor.NoGrad()) Assert.False((x * 2f).RequiresGrad);
            var y = x * 2f;
            Assert.False(y.RequiresGrad);
            Assert.True(y.IsLeaf);
        }
        Assert.True((x * 2f).RequiresGrad);
    }

    [Fact]
    public void DetachSharesTheValuesButCutsTheGraph()
    {
        var x = new Tensor([1f, 2f]) { RequiresGrad = true };
        var d = (x * 3f).Detach();
        Assert.False(d.RequiresGrad);
        (x * d).Sum().Backward();
        Assert.Equal([3f, 6f], x.Grad!);
    }

    [Fact]
    public void OnlyLeavesChangeRequiresGradOrGrad()
    {
        var x = new Tensor([1f]) { RequiresGrad = true };
        var y = x * 2f;
        Assert.Throws<InvalidOperationException>(() => y.RequiresGrad = false);
        Assert.Throws<InvalidOperationException>(() => y.Grad = [1f]);
        var e = Assert.Throws<ArgumentException>(() => x.Grad = [1f, 2f]);
        Assert.Equal("value", e.ParamName);
    }

    [Fact]
    public void LongChainsDoNotOverflowTheStack()
    {
        var x = new Tensor([1f]) { RequiresGrad = true };
        var y = x;
        for (int i = 0; i < 100_000; i++) y = y + 1f;
        y.Sum().Backward();
        Assert.Equal(1f, x.Grad![0]);
    }
}
