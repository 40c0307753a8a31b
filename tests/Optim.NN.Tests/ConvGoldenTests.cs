using System.Text.Json;

using static Optim.NN.Tests.Golden;

namespace Optim.NN.Tests;

/// <summary>Convolution and pooling, forward and gradients, against PyTorch 1.13's, from tests/golden/conv.json (generate_conv.py).</summary>
public class ConvGoldenTests
{
    private static readonly JsonElement Cases = Golden.Cases("conv.json");

    private static int[] Ints(JsonElement a) => a.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    private static Tensor Make(JsonElement t, bool requiresGrad = false) =>
        new(Data(t), Ints(t.GetProperty("shape"))) { RequiresGrad = requiresGrad };

    private static (int, int) Pair(JsonElement c, string key)
    {
        var p = Ints(c.GetProperty(key));
        return (p[0], p[1]);
    }

    public static IEnumerable<object[]> Named(string prefix) =>
        Cases.EnumerateObject().Select(c => c.Name).Where(n => n.StartsWith(prefix)).Select(n => new object[] { n });

    public static IEnumerable<object[]> ConvCases() => Named("conv_");

    public static IEnumerable<object[]> PoolCases() => Named("maxpool_").Concat(Named("avgpool_"));

    /// <summary>Runs a case's op on its inputs, then checks the output and the gradients of <c>sum(output * w)</c>.</summary>
    private static void Replay(string name, Func<JsonElement, Dictionary<string, Tensor>, Tensor> op)
    {
        var c = Cases.GetProperty(name);
        var inputs = c.GetProperty("inputs").EnumerateObject().ToDictionary(p => p.Name, p => Make(p.Value, requiresGrad: true));
        var output = op(c, inputs);
        Close(c.GetProperty("output"), output, name + " output");
        ConvTestOps.WeightedSum(output, Data(c.GetProperty("w"))).Backward();
        foreach (var g in c.GetProperty("grads").EnumerateObject())
            Close(Data(g.Value), inputs[g.Name].Grad!, $"{name} d/d{g.Name}");
    }

    [Theory]
    [MemberData(nameof(ConvCases))]
    public void EachConvolutionsOutputAndGradientsEqualPyTorchs(string name) =>
        Replay(name, (c, x) => Functional.Conv2d(x["x"], x["weight"], x.GetValueOrDefault("bias"), Pair(c, "stride"), Pair(c, "padding")));

    [Theory]
    [MemberData(nameof(PoolCases))]
    public void EachPoolingsOutputAndGradientsEqualPyTorchsTiesIncluded(string name) =>
        Replay(name, (c, x) => name.StartsWith("max")
            ? Functional.MaxPool2d(x["x"], Pair(c, "kernel"), Pair(c, "stride"), Pair(c, "padding"))
            : Functional.AvgPool2d(x["x"], Pair(c, "kernel"), Pair(c, "stride"), Pair(c, "padding")));

    [Fact]
    public void TheIntOverloadsAgreeWithThePairOnes()
    {
        var c = Cases.GetProperty("conv_k5_stride2_pad2");
        var x = Make(c.GetProperty("inputs").GetProperty("x"));
        var w = Make(c.GetProperty("inputs").GetProperty("weight"));
        var b = Make(c.GetProperty("inputs").GetProperty("bias"));
        Close(c.GetProperty("output"), Functional.Conv2d(x, w, b, stride: 2, padding: 2), "conv int overload");
        var p = Cases.GetProperty("maxpool_3_stride2_ties");
        Close(p.GetProperty("output"), Functional.MaxPool2d(Make(p.GetProperty("inputs").GetProperty("x")), 3, stride: 2), "max pool int overload");
        var a = Cases.GetProperty("avgpool_2");
        Close(a.GetProperty("output"), Functional.AvgPool2d(Make(a.GetProperty("inputs").GetProperty("x")), 2), "avg pool int overload");
    }

    /// <summary>generate_conv.py's pattern: ((i·7919 + salt·104729) mod 2001 − 1000) / 1000 · scale, in double, then rounded.</summary>
    private static float[] Pattern(int n, int salt, double scale)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)(((i * 7919.0 + salt * 104729.0) % 2001 - 1000) / 1000 * scale);
        return v;
    }

    [Theory]
    [InlineData("net_3ch")]
    [InlineData("net_1ch")]
    public void TheTargetNetworksLogitsLossAndGradientsEqualPyTorchs(string name)
    {
        var c = Cases.GetProperty(name);
        int channels = c.GetProperty("channels").GetInt32();
        var model = new Sequential(
            new Conv2d(channels, 32, 5, padding: 2), new MaxPool2d(2),
            new Conv2d(32, 32, 5, padding: 2), new MaxPool2d(2),
            new Conv2d(32, 64, 5, padding: 2), new MaxPool2d(2),
            new FlattenImages(), new Linear(1024, 64), new Linear(64, 10));
        var parameters = model.Parameters().ToArray();
        for (int i = 0; i < parameters.Length; i++)
        {
            var shape = parameters[i].Shape;
            double scale = shape.Length > 1 ? 1 / Math.Pow(shape[1] * (shape.Length == 4 ? shape[2] * shape[3] : 1), 0.5) : 0.1;
            Pattern(parameters[i].Data.Length, i + 1, scale).CopyTo(parameters[i].Data, 0);
        }
        var x = new Tensor(Pattern(2 * channels * 32 * 32, 0, 1.0), 2, channels, 32, 32) { RequiresGrad = true };
        var target = new Tensor(Ints(c.GetProperty("target")).Select(v => (float)v).ToArray());
        var logits = model.Forward(x);
        Close(c.GetProperty("logits"), logits, "logits");
        var loss = new CrossEntropyLoss().Forward(logits, target);
        Close([c.GetProperty("loss").GetSingle()], [loss.Item()], "loss");
        loss.Backward();
        Close(Data(c.GetProperty("grad_x")), x.Grad!, "d/dx");
        var grads = c.GetProperty("grads").EnumerateArray().ToArray();
        Assert.Equal(parameters.Length, grads.Length);
        for (int i = 0; i < parameters.Length; i++)
        {
            var g = grads[i];
            Assert.Equal(Ints(g.GetProperty("shape")), parameters[i].Shape);
            int stride = g.GetProperty("stride").GetInt32();
            var all = parameters[i].Grad!;
            var sample = Enumerable.Range(0, (all.Length + stride - 1) / stride).Select(j => all[j * stride]).ToArray();
            Close(Data(g), sample, $"d/dparameter {i} (every {stride}th)");
            double sum = all.Sum(v => (double)v), expected = g.GetProperty("sum").GetDouble();
            Assert.True(Math.Abs(sum - expected) <= 1e-4 + 1e-4 * Math.Abs(expected), $"sum of d/dparameter {i}: {sum}, PyTorch {expected}");
        }
    }
}
