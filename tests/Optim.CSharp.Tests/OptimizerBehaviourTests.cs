using System.Text.Json;
using Optim.CSharp;

namespace Optim.CSharp.Tests;

public class OptimizerBehaviourTests
{
    private static Parameter P(params float[] xs) => new(xs);

    [Fact]
    public void SgdWithLrOneOnAGradientOfOnesGivesWMinusOne()
    {
        var w = new Parameter([-0.0606f, -0.3197f, 1.4949f, -0.8007f], 2, 2) { Grad = [1, 1, 1, 1] };
        new SGD([w], lr: 1).Step();
        Assert.Equal(new[] { -1.0606f, -1.3197f, 1.4949f - 1f, -1.8007f }, w.Data);
    }

    [Fact]
    public void OnFourXSquaredFromTwoLrOneEighthReachesTheMinimumInOneStep()
    {
        var x = P(2f);
        var opt = new SGD([x], lr: 0.125);
        opt.ZeroGrad();
        x.AccumulateGrad([8 * x.Data[0]]);
        opt.Step();
        Assert.Equal(0f, x.Data[0]);
    }

    [Fact]
    public void ZeroGradSetsGradientsToNullByDefaultAndToZerosWhenAsked()
    {
        var a = P(1, 2);
        var opt = new SGD([a], lr: 0.1);
        a.Grad = [3, 4];
        var buffer = a.Grad;
        opt.ZeroGrad(setToNone: false);
        Assert.Same(buffer, a.Grad);
        Assert.Equal(new[] { 0f, 0f }, a.Grad);
        opt.ZeroGrad();
        Assert.Null(a.Grad);
    }

    [Fact]
    public void StepCallsTheClosureOnceAndReturnsItsLoss()
    {
        var a = P(1);
        var opt = new SGD([a], lr: 0.1);
        int calls = 0;
        var loss = opt.Step(() => { calls++; a.Grad = [2]; return 4.5f; });
        Assert.Equal(1, calls);
        Assert.Equal(4.5f, loss);
        Assert.Equal(1f - 0.1f * 2f, a.Data[0]);
        Assert.Null(opt.Step());
    }

    [Fact]
    public void AParameterWithoutAGradientOrWithRequiresGradFalseIsLeftAlone()
    {
        var a = P(1);
        var b = new Parameter([1f]) { Grad = [1], RequiresGrad = false };
        var opt = new Adam([a, b]);
        opt.Step();
        Assert.Equal(1f, a.Data[0]);
        Assert.Equal(1f, b.Data[0]);
        Assert.Equal("{}", JsonDocument.Parse(opt.StateDict().ToJson()).RootElement.GetProperty("state").GetRawText());
    }

    [Fact]
    public void AddParamGroupFillsMissingKeysWithTheOptimizersDefaults()
    {
        var opt = new SGD([P(1)], lr: 0.1, momentum: 0.9, weightDecay: 1e-4);
        var g = new ParamGroup([P(2)]) { Lr = 0.01 };
        opt.AddParamGroup(g);
        Assert.Equal(0.01, g.Lr);
        Assert.Equal(0.9, g["momentum"]);
        Assert.Equal(1e-4, g["weight_decay"]);
        Assert.Equal(0, g["nesterov"]);
        Assert.Equal(2, opt.ParamGroups.Count);
    }

    [Fact]
    public void AChangeToAGroupsLrTakesEffectAtTheNextStep()
    {
        var a = P(1);
        var opt = new SGD([a], lr: 0.1);
        a.Grad = [1];
        opt.Step();
        opt.ParamGroups[0].Lr = 0.5;
        opt.Step();
        Assert.Equal(1f - 0.1f - 0.5f, a.Data[0], 6);
    }

    [Fact]
    public void AccumulatedMicroBatchGradientsStepLikeTheirSum()
    {
        var a = P(1, -1);
        var b = P(1, -1);
        var optA = new SGD([a], lr: 0.1, momentum: 0.9);
        var optB = new SGD([b], lr: 0.1, momentum: 0.9);
        a.AccumulateGrad([0.5f, 1f]);
        a.AccumulateGrad([0.25f, -3f]);
        b.Grad = [0.75f, -2f];
        optA.Step();
        optB.Step();
        Assert.Equal(b.Data, a.Data);
    }

    [Fact]
    public void TheStateDictMirrorsPyTorchsLayoutWithNamesAndShapes()
    {
        var w = new Parameter([1, 2, 3, 4, 5, 6], 2, 3) { Name = "w", Grad = [1, 1, 1, 1, 1, 1] };
        var b = new Parameter([0, 0]) { Name = "b" };
        var opt = new Adam([new ParamGroup([w]), new ParamGroup([b]) { Lr = 0.1 }], amsgrad: true);
        opt.Step();
        var root = JsonDocument.Parse(opt.StateDict().ToJson()).RootElement;
        Assert.Equal("Adam", root.GetProperty("optimizer").GetString());
        var s0 = root.GetProperty("state").GetProperty("0");
        Assert.Equal(1, s0.GetProperty("step").GetInt32());
        Assert.Equal(6, s0.GetProperty("exp_avg").GetArrayLength());
        Assert.Equal(6, s0.GetProperty("max_exp_avg_sq").GetArrayLength());
        Assert.False(root.GetProperty("state").TryGetProperty("1", out _));
        var groups = root.GetProperty("param_groups");
        Assert.Equal(0.1, groups[1].GetProperty("lr").GetDouble());
        Assert.Equal(0.999, groups[0].GetProperty("betas")[1].GetDouble());
        Assert.True(groups[0].GetProperty("amsgrad").GetBoolean());
        Assert.Equal(1, groups[1].GetProperty("params")[0].GetInt32());
        Assert.Equal("w", root.GetProperty("param_names")[0].GetString());
        Assert.Equal(3, root.GetProperty("param_shapes")[0][1].GetInt32());
    }

    [Fact]
    public void AnOptimizerResumedFromAStateDictContinuesExactlyAsTheOriginal()
    {
        var rng = new Random(7);
        float[] Rand(int n) => Enumerable.Range(0, n).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var a = new Parameter(Rand(10));
        var b = new Parameter((float[])a.Data.Clone());
        var optA = new AdamW([a], lr: 0.01, amsgrad: true);
        var optB = new AdamW([b], lr: 0.01, amsgrad: true);
        var grads = Enumerable.Range(0, 6).Select(_ => Rand(10)).ToArray();
        for (int i = 0; i < 3; i++) { a.Grad = grads[i]; b.Grad = grads[i]; optA.Step(); optB.Step(); }
        var resumed = new AdamW([b], lr: 0.5);
        resumed.LoadStateDict(StateDict.FromJson(optB.StateDict().ToJson()));
        Assert.Equal(0.01, resumed.ParamGroups[0].Lr);
        for (int i = 3; i < 6; i++) { a.Grad = grads[i]; b.Grad = grads[i]; optA.Step(); resumed.Step(); }
        Assert.Equal(a.Data, b.Data);
        Assert.Equal(optA.StateDict().ToJson(), resumed.StateDict().ToJson());
    }

    [Theory]
    [InlineData("SGD")]
    [InlineData("Adam")]
    [InlineData("AdamW")]
    public void TheInPlaceStepAllocatesNothingOnceTheStateExists(string kind)
    {
        // Small tensors, and one large enough for the kernel to be split across two threads.
        var ps = Enumerable.Range(0, 8).Select(i => new Parameter(new float[1000 + i]) { Grad = new float[1000 + i] })
            .Append(new Parameter(new float[(1 << 20) + 5]) { Grad = new float[(1 << 20) + 5] }).ToArray();
        Optimizer opt = kind switch
        {
            "SGD" => new SGD(ps, lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-4),
            "Adam" => new Adam(ps, amsgrad: true, weightDecay: 0.1),
            _ => new AdamW(ps),
        };
        Allocation.AssertStepAllocatesNothing(() => opt.Step());
    }
}
