using Optim.CSharp;
using Xunit;

namespace Optim.CSharp.Tests;

/// <summary>Sparse gradients: accumulating them, and which optimizers take them.</summary>
public sealed class SparseGradientTests
{
    private static Parameter Embedding() => new(Enumerable.Range(0, 8).Select(i => (float)i).ToArray(), 4, 2) { Name = "emb" };

    [Fact]
    public void SparseAdam_rejects_a_dense_gradient_as_PyTorch_does_and_changes_nothing()
    {
        var a = Embedding();
        var b = Embedding();
        var opt = new SparseAdam([a, b], lr: 0.1);
        a.AccumulateSparseGrad([1], [1f, 1f]);
        b.Grad = new float[8];
        var e = Assert.Throws<InvalidOperationException>(() => opt.Step());
        Assert.Contains("does not support dense gradients", e.Message);
        Assert.Contains("emb", e.Message);
        Assert.Equal(Embedding().Data, a.Data);
        Assert.DoesNotContain("\"0\":", opt.StateDict().ToJson());
    }

    [Fact]
    public void Optimizers_other_than_SparseAdam_reject_a_sparse_gradient_and_change_nothing()
    {
        var a = Embedding();
        var b = Embedding();
        var opt = new Adagrad([a, b]);
        a.Grad = Enumerable.Repeat(1f, 8).ToArray();
        b.AccumulateSparseGrad([0, 3], [1f, 2f, 3f, 4f]);
        var e = Assert.Throws<InvalidOperationException>(() => opt.Step());
        Assert.Contains("Adagrad does not support sparse gradients", e.Message);
        Assert.Equal(Embedding().Data, a.Data);
    }

    [Fact]
    public void SparseAdam_moves_only_the_touched_rows_and_sums_repeated_ones()
    {
        var a = Embedding();
        var b = Embedding();
        var oa = new SparseAdam([a], lr: 0.1);
        var ob = new SparseAdam([b], lr: 0.1);
        a.AccumulateSparseGrad([2, 0, 2], [1f, -1f, 0.5f, 0.5f, 2f, 1f]);
        b.AccumulateSparseGrad([0], [0.5f, 0.5f]);
        b.AccumulateSparseGrad([2], [3f, 0f]);
        oa.Step();
        ob.Step();
        Assert.Equal(a.Data, b.Data);
        Assert.Equal([2f, 3f, 6f, 7f], new[] { a.Data[2], a.Data[3], a.Data[6], a.Data[7] });
        Assert.NotEqual(0f, a.Data[0]);
        Assert.NotEqual(4f, a.Data[4]);
    }

    [Fact]
    public void A_sparse_gradient_that_does_not_fit_is_rejected_and_the_gradient_is_unchanged()
    {
        var p = Embedding();
        p.AccumulateSparseGrad([1], [1f, 2f]);
        Assert.Equal("rows", Assert.Throws<ArgumentOutOfRangeException>(() => p.AccumulateSparseGrad([4], [1f, 2f])).ParamName);
        Assert.Equal("rows", Assert.Throws<ArgumentOutOfRangeException>(() => p.AccumulateSparseGrad([-1], [1f, 2f])).ParamName);
        Assert.Equal("values", Assert.Throws<ArgumentException>(() => p.AccumulateSparseGrad([0, 1], [1f, 2f])).ParamName);
        var opt = new SparseAdam([p], lr: 0.1);
        opt.Step();
        var q = Embedding();
        q.AccumulateSparseGrad([1], [1f, 2f]);
        new SparseAdam([q], lr: 0.1).Step();
        Assert.Equal(q.Data, p.Data);
    }

    [Fact]
    public void Dense_and_sparse_gradients_add_up_to_a_dense_gradient_as_in_PyTorch()
    {
        var p = Embedding();
        p.AccumulateSparseGrad([1, 1], [1f, 2f, 3f, 4f]);
        Assert.True(p.HasSparseGrad);
        Assert.Null(p.Grad);
        p.AccumulateGrad(Enumerable.Repeat(1f, 8).ToArray());
        Assert.False(p.HasSparseGrad);
        Assert.Equal([1f, 1f, 5f, 7f, 1f, 1f, 1f, 1f], p.Grad!);
        p.AccumulateSparseGrad([3], [10f, 20f]);
        Assert.Equal([1f, 1f, 5f, 7f, 1f, 1f, 11f, 21f], p.Grad!);
    }

    [Fact]
    public void ZeroGrad_drops_a_sparse_gradient_or_leaves_it_without_rows()
    {
        var p = Embedding();
        var opt = new SparseAdam([p], lr: 0.1);
        p.AccumulateSparseGrad([1], [1f, 2f]);
        opt.ZeroGrad(setToNone: false);
        Assert.True(p.HasSparseGrad);
        opt.Step();
        Assert.Equal(Embedding().Data, p.Data);
        Assert.Contains("\"step\":1", opt.StateDict().ToJson());
        opt.ZeroGrad();
        Assert.False(p.HasSparseGrad);
    }
}
