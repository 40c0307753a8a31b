using System.Text.Json;

using static Optim.NN.Tests.Golden;

namespace Optim.NN.Tests;

/// <summary>
/// Rank 3 and 4 tensor ops against PyTorch 1.13's forward values and gradients, from tests/golden/tensor4.json
/// (generate_tensor4.py): broadcasting, reductions, log-softmax, indexing, elementwise functions, Linear, and the
/// shape and selection ops.
/// </summary>
public class Tensor4GoldenTests
{
    private static readonly JsonElement Cases = Golden.Cases("tensor4.json");

    private static Func<Dictionary<string, Tensor>, Tensor> AB(Func<Tensor, Tensor, Tensor> f) => x => f(x["a"], x["b"]);

    private static Func<Dictionary<string, Tensor>, Tensor> A(Func<Tensor, Tensor> f) => x => f(x["a"]);

    /// <summary>The same operations as generate_tensor4.py's cases.</summary>
    private static readonly Dictionary<string, Func<Dictionary<string, Tensor>, Tensor>> OpCases = new()
    {
        ["add_4d_channels"] = AB((a, b) => a + b),
        ["mul_outer_4d"] = AB((a, b) => a * b),
        ["add_2d_over_4d"] = AB((a, b) => a + b),
        ["sub_3d_row"] = AB((a, b) => a - b),
        ["div_4d_by_channels"] = AB((a, b) => a / b),
        ["div_row_by_4d"] = AB((a, b) => a / b),
        ["mul_scalar_4d"] = AB((a, b) => a * b),
        ["sub_3d_crossed"] = AB((a, b) => a - b),
        ["add_same_4d"] = AB((a, b) => a + b),
        ["mul_3d_column"] = AB((a, b) => a * b),
        ["div_3d_by_4d_mixed"] = AB((a, b) => a / b),
        ["constants_4d"] = A(a => (2.5f - a) * 3f / 4f + 1.5f),
        ["sum_4d_dim0"] = A(a => a.Sum(0)),
        ["sum_4d_dim1"] = A(a => a.Sum(1)),
        ["sum_4d_dim2"] = A(a => a.Sum(2)),
        ["sum_4d_dim3"] = A(a => a.Sum(3)),
        ["mean_4d_dim0_keepdim"] = A(a => a.Mean(0, keepDim: true)),
        ["mean_4d_dim1_keepdim"] = A(a => a.Mean(1, keepDim: true)),
        ["mean_4d_dim2_keepdim"] = A(a => a.Mean(2, keepDim: true)),
        ["mean_4d_dim3_keepdim"] = A(a => a.Mean(3, keepDim: true)),
        ["sum_4d_dim_neg3_keepdim"] = A(a => a.Sum(-3, keepDim: true)),
        ["mean_3d_dim1"] = A(a => a.Mean(1)),
        ["sum_3d_dim_neg1"] = A(a => a.Sum(-1)),
        ["sum_4d_all"] = A(a => a.Sum()),
        ["mean_3d_all"] = A(a => a.Mean()),
        ["mean_spatial_4d"] = A(a => a.Mean(3).Mean(2)),
        ["log_softmax_3d"] = A(a => a.LogSoftmax(-1)),
        ["log_softmax_4d"] = A(a => a.LogSoftmax(3)),
        ["index_3d"] = A(a => a[1] * a[-1]),
        ["index_4d"] = A(a => a[2] + a[0]),
        ["slice_4d"] = A(a => a[1..3] * a[3..5]),
        ["index_twice_4d"] = A(a => a[1][2]),
        ["neg_4d"] = A(a => -a),
        ["exp_3d"] = A(a => a.Exp()),
        ["log_4d"] = A(a => a.Log()),
        ["relu_4d"] = A(a => a.Relu()),
        ["tanh_3d"] = A(a => a.Tanh()),
        ["sigmoid_4d"] = A(a => a.Sigmoid()),
        ["pow2_4d"] = A(a => a.Pow(2)),
        ["pow_fractional_3d"] = A(a => a.Pow(1.5f)),
        ["linear_3d"] = x => Functional.Linear(x["x"], x["w"], x["b"]),
        ["linear_4d_no_bias"] = x => Functional.Linear(x["x"], x["w"]),
        ["reshape_3d_inferred"] = A(a => a.Reshape(4, -1)),
        ["reshape_2d_to_4d"] = A(a => a.Reshape(-1, 2, 3, 2)),
        ["reshape_to_scalar"] = A(a => a.Reshape()),
        ["view_4d"] = A(a => a.View(6, 20) * a.View(6, 20)),
        ["flatten_all_4d"] = A(a => a.Flatten()),
        ["flatten_from_1"] = A(a => a.Flatten(1)),
        ["flatten_middle"] = A(a => a.Flatten(1, 2)),
        ["flatten_scalar"] = A(a => a.Flatten()),
        ["flatten_layer"] = A(a => new Flatten().Forward(a)),
        ["flatten_layer_negative_dims"] = A(a => new Flatten(-3, -2).Forward(a)),
        ["permute_4d_nhwc"] = A(a => a.Permute(0, 2, 3, 1)),
        ["permute_3d"] = A(a => a.Permute(2, 0, 1)),
        ["permute_negative_dims"] = A(a => a.Permute(-1, 0, 1) + a.Permute(2, 0, 1)),
        ["permute_2d"] = A(a => a.Permute(1, 0)),
        ["squeeze_dim"] = A(a => a.Squeeze(1)),
        ["squeeze_negative_dim"] = A(a => a.Squeeze(-1)),
        ["squeeze_not_one"] = A(a => a.Squeeze(0)),
        ["squeeze_all"] = A(a => a.Squeeze()),
        ["unsqueeze_front"] = A(a => a.Unsqueeze(0)),
        ["unsqueeze_end"] = A(a => a.Unsqueeze(-1)),
        ["unsqueeze_middle"] = A(a => a.Unsqueeze(2)),
        ["max_all_4d"] = A(a => a.Max()),
        ["max_all_ties"] = A(a => a.Max()),
        ["max_dim1_4d_values"] = A(a => a.Max(1).Values),
        ["max_dim1_4d_indices"] = A(a => a.Max(1).Indices),
        ["max_dim_neg1_keepdim_values"] = A(a => a.Max(-1, keepDim: true).Values),
        ["max_dim_neg1_keepdim_indices"] = A(a => a.Max(-1, keepDim: true).Indices),
        ["max_dim0_ties_values"] = A(a => a.Max(0).Values),
        ["max_dim0_ties_indices"] = A(a => a.Max(0).Indices),
        ["argmax_4d_dim1"] = A(a => a.ArgMax(1)),
        ["argmax_3d_keepdim"] = A(a => a.ArgMax(-1, keepDim: true)),
        ["argmax_ties"] = A(a => a.ArgMax(2)),
        ["argmax_flat"] = A(a => a.ArgMax()),
        ["eq_broadcast"] = AB((a, b) => a.Eq(b)),
        ["eq_4d_crossed"] = AB((a, b) => a.Eq(b)),
        ["eq_constant"] = A(a => a.Eq(1f)),
        ["accuracy"] = x => x["logits"].ArgMax(1).Eq(x["labels"]).Mean(),
        ["cnn_head"] = x => Functional.Linear(((x["x"] * x["scale"]).Relu().Reshape(2, 3, 2, 8).Mean(-1)).Flatten(1), x["w"], x["b"]).LogSoftmax(-1),
    };

    public static IEnumerable<object[]> OpNames() => OpCases.Keys.Select(k => new object[] { k });

    [Fact]
    public void EveryCaseOfTheFixtureHasACSharpCounterpart()
    {
        Assert.Equal(Cases.EnumerateObject().Select(c => c.Name).OrderBy(n => n), OpCases.Keys.OrderBy(n => n));
    }

    [Theory]
    [MemberData(nameof(OpNames))]
    public void EachOpsForwardAndGradientsOnRank3And4TensorsEqualPyTorchs(string name)
    {
        var c = Cases.GetProperty(name);
        var inputs = c.GetProperty("inputs").EnumerateObject().ToDictionary(p => p.Name, p => Make(p.Value, requiresGrad: true));
        var output = OpCases[name](inputs);
        var expected = c.GetProperty("output");
        Assert.Equal(Shape(expected), output.Shape.ToArray());
        Close(Data(expected), output.Data, name + " output");
        // PyTorch's integer and bool results (indices, comparisons) record no gradient; ours neither
        Assert.Equal(c.TryGetProperty("weight", out var weight), output.RequiresGrad);
        if (!output.RequiresGrad) return;
        (output * Make(weight)).Sum().Backward();
        var grads = c.GetProperty("grads").EnumerateObject().ToDictionary(g => g.Name, g => g.Value);
        foreach (var (inputName, input) in inputs)
        {
            // an input the output does not depend on (a tied maximum's losers aside, which get zeros) has no gradient
            if (grads.TryGetValue(inputName, out var g)) Close(Data(g), input.Grad!, $"{name} d/d{inputName}");
            else Assert.Null(input.Grad);
        }
    }

    [Fact]
    public void AccuracyIsOneLine()
    {
        var c = Cases.GetProperty("accuracy");
        var logits = Make(c.GetProperty("inputs").GetProperty("logits"));
        var labels = Make(c.GetProperty("inputs").GetProperty("labels"));
        float accuracy = logits.ArgMax(1).Eq(labels).Mean().Item();
        Assert.Equal(Data(c.GetProperty("output"))[0], accuracy);
    }
}
