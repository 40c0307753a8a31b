using System.Text.Json;
using Optim.CSharp;

using static Optim.NN.Tests.Golden;

namespace Optim.NN.Tests;

/// <summary>Forward values and gradients against PyTorch 1.13's, from tests/golden/nn.json (generate_nn.py).</summary>
public class GoldenTests
{
    private static readonly JsonElement Cases = Golden.Cases("nn.json");

    /// <summary>The same operations as generate_nn.py's op cases.</summary>
    private static readonly Dictionary<string, Func<Dictionary<string, Tensor>, Tensor>> OpCases = new()
    {
        ["ops_add_same"] = x => x["a"] + x["b"],
        ["ops_add_row"] = x => x["a"] + x["b"],
        ["ops_add_row2d"] = x => x["a"] + x["b"],
        ["ops_sub_column"] = x => x["a"] - x["b"],
        ["ops_mul_scalar_tensor"] = x => x["a"] * x["b"],
        ["ops_mul_row"] = x => x["a"] * x["b"],
        ["ops_div_row"] = x => x["a"] / x["b"],
        ["ops_div_same"] = x => x["a"] / x["b"],
        ["ops_scalar_constants"] = x => (2.5f - x["a"]) * 3f / 4f + 1.5f,
        ["ops_rdiv_constant"] = x => 2f / x["a"],
        ["ops_neg"] = x => -x["a"],
        ["ops_matmul"] = x => x["a"].MatMul(x["b"]),
        ["ops_matmul_odd"] = x => x["a"].MatMul(x["b"]),
        ["ops_transpose"] = x => x["a"].T(),
        ["ops_sum"] = x => x["a"].Sum(),
        ["ops_sum_dim0"] = x => x["a"].Sum(0),
        ["ops_sum_dim1_keepdim"] = x => x["a"].Sum(1, keepDim: true),
        ["ops_mean"] = x => x["a"].Mean(),
        ["ops_mean_dim_neg1"] = x => x["a"].Mean(-1),
        ["ops_mean_dim0_keepdim"] = x => x["a"].Mean(0, keepDim: true),
        ["ops_exp"] = x => x["a"].Exp(),
        ["ops_log"] = x => x["a"].Log(),
        ["ops_relu"] = x => x["a"].Relu(),
        ["ops_tanh"] = x => x["a"].Tanh(),
        ["ops_sigmoid"] = x => x["a"].Sigmoid(),
        ["ops_pow2"] = x => x["a"].Pow(2),
        ["ops_pow_fractional"] = x => x["a"].Pow(1.5f),
        ["ops_log_softmax"] = x => x["a"].LogSoftmax(-1),
        ["ops_linear"] = x => Functional.Linear(x["x"], x["w"], x["b"]),
        ["ops_linear_vector"] = x => Functional.Linear(x["x"], x["w"], x["b"]),
        ["ops_index_row"] = x => x["a"][2] * x["a"][-1],
        ["ops_index_element"] = x => x["a"][1] * x["a"][3],
        ["ops_slice_rows"] = x => x["a"][1..3] + x["a"][3..5],
        ["ops_shared_subexpression"] = x =>
        {
            var ab = x["a"] * x["b"];
            return ab.Tanh() * ab + x["a"].Exp() * x["a"];
        },
    };

    public static IEnumerable<object[]> OpNames() => OpCases.Keys.Select(k => new object[] { k });

    [Fact]
    public void EveryOpCaseOfTheFixtureHasACSharpCounterpart()
    {
        var fixture = Cases.EnumerateObject().Select(c => c.Name).Where(n => n.StartsWith("ops_")).OrderBy(n => n);
        Assert.Equal(fixture, OpCases.Keys.OrderBy(n => n));
    }

    [Theory]
    [MemberData(nameof(OpNames))]
    public void EachOpsForwardAndGradientsEqualPyTorchs(string name)
    {
        var c = Cases.GetProperty(name);
        var inputs = c.GetProperty("inputs").EnumerateObject().ToDictionary(p => p.Name, p => Make(p.Value, requiresGrad: true));
        var output = OpCases[name](inputs);
        Close(c.GetProperty("output"), output, name + " output");
        (output * Make(c.GetProperty("weight"))).Sum().Backward();
        foreach (var g in c.GetProperty("grads").EnumerateObject())
            Close(Data(g.Value), inputs[g.Name].Grad!, $"{name} d/d{g.Name}");
    }

    [Fact]
    public void AnMlpWithCrossEntropyGivesPyTorchsLogitsLossAndGradients()
    {
        var c = Cases.GetProperty("mlp_cross_entropy");
        var ps = c.GetProperty("params").EnumerateArray().ToArray();
        var model = new Sequential(new Linear(5, 6), new ReLU(), new Linear(6, 3));
        var parameters = model.Parameters().ToArray();
        for (int i = 0; i < 4; i++) Data(ps[i]).CopyTo(parameters[i].Data, 0);
        var x = Make(c.GetProperty("x"), requiresGrad: true);
        var logits = model.Forward(x);
        Close(c.GetProperty("logits"), logits, "logits");
        var loss = new CrossEntropyLoss().Forward(logits, Make(c.GetProperty("target")));
        Close([c.GetProperty("loss").GetSingle()], [loss.Item()], "loss");
        loss.Backward();
        var grads = c.GetProperty("grads").EnumerateArray().ToArray();
        string[] names = ["w1", "b1", "w2", "b2"];
        for (int i = 0; i < 4; i++) Close(Data(grads[i]), parameters[i].Grad!, "d/d" + names[i]);
        Close(Data(grads[4]), x.Grad!, "d/dx");
    }

    [Fact]
    public void MseGivesPyTorchsLossAndGradientsForBothSides()
    {
        var c = Cases.GetProperty("mse");
        var input = Make(c.GetProperty("input"), requiresGrad: true);
        var target = Make(c.GetProperty("target"), requiresGrad: true);
        var loss = new MSELoss().Forward(input, target);
        Close([c.GetProperty("loss").GetSingle()], [loss.Item()], "loss");
        loss.Backward();
        var grads = c.GetProperty("grads").EnumerateArray().ToArray();
        Close(Data(grads[0]), input.Grad!, "d/dinput");
        Close(Data(grads[1]), target.Grad!, "d/dtarget");
    }

    [Fact]
    public void CrossEntropyOfLogitsOfPlusOrMinus1000StaysFiniteAndEqualsPyTorchs()
    {
        var c = Cases.GetProperty("cross_entropy_extreme");
        var logits = Make(c.GetProperty("logits"), requiresGrad: true);
        var loss = Functional.CrossEntropy(logits, Make(c.GetProperty("target")));
        Assert.True(float.IsFinite(loss.Item()));
        Close([c.GetProperty("loss").GetSingle()], [loss.Item()], "loss");
        loss.Backward();
        Close(Data(c.GetProperty("grad")), logits.Grad!, "d/dlogits");
    }

    [Fact]
    public void LogSoftmaxOfLogitsOfPlusOrMinus1000StaysFiniteAndEqualsPyTorchs()
    {
        var c = Cases.GetProperty("log_softmax_extreme");
        var logits = Make(c.GetProperty("logits"), requiresGrad: true);
        var output = logits.LogSoftmax(1);
        Close(c.GetProperty("output"), output, "log_softmax");
        (output * Make(c.GetProperty("weight"))).Sum().Backward();
        Close(Data(c.GetProperty("grad")), logits.Grad!, "d/dlogits");
    }

    [Fact]
    public void TheSeedsGradientAccumulationLoopWithAdamFollowsPyTorchsTrajectory()
    {
        var c = Cases.GetProperty("mlp_adam_accumulate");
        var model = new Sequential(new Linear(6, 8), new ReLU(), new Linear(8, 4));
        var parameters = model.Parameters().ToArray();
        var initial = c.GetProperty("params").EnumerateArray().ToArray();
        for (int i = 0; i < 4; i++) Data(initial[i]).CopyTo(parameters[i].Data, 0);
        var batches = c.GetProperty("batches").EnumerateArray()
            .Select(b => (X: Make(b.GetProperty("x")), Y: Make(b.GetProperty("target")))).ToArray();
        var criterion = new CrossEntropyLoss();
        var optimizer = new Adam(model.Parameters(), lr: 1e-2);
        var steps = c.GetProperty("steps").EnumerateArray().ToArray();
        var losses = c.GetProperty("losses").EnumerateArray().Select(l => l.GetSingle()).ToArray();
        int micro = 0;
        for (int step = 0; step < steps.Length; step++)
        {
            optimizer.ZeroGrad();
            foreach (var (x, y) in batches)
            {
                var loss = criterion.Forward(model.Forward(x), y);
                loss.Backward();
                Close([losses[micro]], [loss.Item()], $"loss {micro}");
                micro++;
            }
            optimizer.Step();
            var expected = steps[step].EnumerateArray().ToArray();
            for (int i = 0; i < 4; i++) Close(Data(expected[i]), parameters[i].Data, $"step {step} param {i}");
        }
    }

    private static Linear LinearFrom(JsonElement initial)
    {
        var model = new Linear(1, 1);
        var ps = initial.EnumerateArray().ToArray();
        Data(ps[0]).CopyTo(model.Weight.Data, 0);
        Data(ps[1]).CopyTo(model.Bias!.Data, 0);
        return model;
    }

    private static void Final(JsonElement c, Linear model, List<float> losses)
    {
        var expected = c.GetProperty("params").EnumerateArray().ToArray();
        Close(Data(expected[0]), model.Weight.Data, "weight");
        Close(Data(expected[1]), model.Bias!.Data, "bias");
        Close(c.GetProperty("losses").EnumerateArray().Select(l => l.GetSingle()).ToArray(), losses.ToArray(), "losses");
    }

    [Fact]
    public void TheSeedsPerSampleSgdLoopRunsLineForLineWithPyTorchsNumbers()
    {
        var c = Cases.GetProperty("seed_per_sample_sgd");
        var model = LinearFrom(c.GetProperty("initial"));
        var optimizer = new SGD(model.Parameters(), lr: 0.01);
        var x = new Tensor(new float[,] { { 1.0f }, { 2.0f }, { 3.0f } });
        var y = new Tensor(new float[,] { { 2.0f }, { 3.0f }, { 4.0f } });
        var losses = new List<float>();
        for (int epoch = 0; epoch < 5; epoch++)
        {
            for (int i = 0; i < x.Shape[0]; i++)
            {
                optimizer.ZeroGrad();
                var output = model.Forward(x[i]);
                var loss = (output - y[i]).Pow(2);
                loss.Backward();
                optimizer.Step();
                losses.Add(loss.Item());
            }
        }
        Final(c, model, losses);
    }

    [Fact]
    public void TheSeedsAccumulatedMseLoopOverSlicesRunsLineForLineWithPyTorchsNumbers()
    {
        var c = Cases.GetProperty("seed_accumulated_mse");
        var xTrain = new Tensor(new float[,] { { 1.0f }, { 2.0f }, { 3.0f }, { 4.0f }, { 5.0f } });
        var yTrain = new Tensor(new float[,] { { 2.0f }, { 4.0f }, { 6.0f }, { 8.0f }, { 10.0f } });
        var model = LinearFrom(c.GetProperty("initial"));
        var criterion = new MSELoss();
        var optimizer = new SGD(model.Parameters(), lr: 0.01);
        int batchSize = 2, accumulationSteps = 2;
        var losses = new List<float>();
        for (int epoch = 0; epoch < 5; epoch++)
        {
            optimizer.ZeroGrad();
            for (int i = 0; i < xTrain.Shape[0]; i += batchSize)
            {
                var xBatch = xTrain[i..(i + batchSize)];
                var yBatch = yTrain[i..(i + batchSize)];
                var outputs = model.Forward(xBatch);
                var loss = criterion.Forward(outputs, yBatch);
                loss.Backward();
                if ((i / batchSize + 1) % accumulationSteps == 0)
                {
                    optimizer.Step();
                    optimizer.ZeroGrad();
                }
                losses.Add(loss.Item());
            }
        }
        Final(c, model, losses);
    }
}
