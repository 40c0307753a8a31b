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
    public void Optimizers_other_than_SparseAdam_SGD_and_Adagrad_reject_a_sparse_gradient_and_change_nothing()
    {
        var a = Embedding();
        var b = Embedding();
        var opt = new Adam([a, b]);
        a.Grad = Enumerable.Repeat(1f, 8).ToArray();
        b.AccumulateSparseGrad([0, 3], [1f, 2f, 3f, 4f]);
        var e = Assert.Throws<InvalidOperationException>(() => opt.Step());
        Assert.Contains("Adam does not support sparse gradients", e.Message);
        Assert.Equal(Embedding().Data, a.Data);
    }

    public static TheoryData<string> SparseDense => new() { "SGD", "Adagrad" };

    private static Optimizer WithWeightDecay(string kind, Parameter[] ps) =>
        kind == "SGD" ? new SGD(ps, lr: 0.1, momentum: 0.9, weightDecay: 0.01) : new Adagrad(ps, weightDecay: 0.01);

    [Theory]
    [MemberData(nameof(SparseDense))]
    public void Weight_decay_with_a_sparse_gradient_is_refused_as_PyTorch_refuses_it_and_nothing_moves(string kind)
    {
        var a = Embedding();
        var b = Embedding();
        var opt = WithWeightDecay(kind, [a, b]);
        a.Grad = Enumerable.Repeat(1f, 8).ToArray();
        b.AccumulateSparseGrad([0, 3], [1f, 2f, 3f, 4f]);
        var before = opt.StateDict().ToJson();
        var e = Assert.Throws<InvalidOperationException>(() => opt.Step());
        Assert.Contains("not compatible with sparse gradients", e.Message);
        Assert.Contains("emb", e.Message);
        Assert.Equal(Embedding().Data, a.Data);
        Assert.Equal(Embedding().Data, b.Data);
        Assert.Equal(before, opt.StateDict().ToJson());
    }

    [Fact]
    public void Adagrad_moves_only_the_touched_rows_and_their_sums_even_where_eps_0_would_divide_0_by_0()
    {
        var p = Embedding();
        var opt = new Adagrad([p], lr: 0.5, eps: 0);
        p.AccumulateSparseGrad([2, 0, 2], [1f, 2f, 3f, 4f, 1f, 1f]);
        opt.Step();
        // rows 0 (3, 4) and 2 (summed: 2, 3) move by lr·g/√(g²) = lr·sign(g); rows 1 and 3, with a sum of 0, keep their values
        Assert.Equal(new[] { -0.5f, 0.5f, 2f, 3f, 3.5f, 4.5f, 6f, 7f }, p.Data);
        var sum = System.Text.Json.JsonDocument.Parse(opt.StateDict().ToJson()).RootElement.GetProperty("state").GetProperty("0").GetProperty("sum");
        Assert.Equal(new[] { 9f, 16f, 0f, 0f, 4f, 9f, 0f, 0f }, sum.EnumerateArray().Select(x => x.GetSingle()));
    }

    [Theory]
    [MemberData(nameof(SparseDense))]
    public void A_sparse_gradient_without_rows_counts_a_step_and_moves_nothing(string kind)
    {
        var p = Embedding();
        Optimizer opt = kind == "SGD" ? new SGD([p], lr: 0.1, momentum: 0.9) : new Adagrad([p]);
        p.AccumulateSparseGrad([], []);
        opt.Step();
        Assert.Equal(Embedding().Data, p.Data);
        Assert.Contains("\"step\":1", opt.StateDict().ToJson());
    }

    [Fact]
    public void SGD_with_momentum_moves_rows_a_sparse_gradient_no_longer_touches_by_their_buffer()
    {
        var p = Embedding();
        var opt = new SGD([p], lr: 1, momentum: 0.5);
        p.AccumulateSparseGrad([1], [1f, 2f]);
        opt.Step();
        p.ZeroGrad(setToNone: true);
        p.AccumulateSparseGrad([3], [1f, 1f]);
        opt.Step();
        // row 1: 2 − 1 − 0.5·1 and 3 − 2 − 0.5·2; row 3: 6 − 1, 7 − 1; rows 0 and 2 as they were
        Assert.Equal(new[] { 0f, 1f, 0.5f, 0f, 4f, 5f, 5f, 6f }, p.Data);
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
