using Optim.CSharp;

namespace Optim.CSharp.Tests;

/// <summary>Every bad input of SPEC §4 gets an exception naming the argument and the value, and changes nothing.</summary>
public class BadInputTests
{
    private static Parameter P(int n = 3) => new(new float[n]);

    private static void Rejects(Action make, string paramName, string? valueText = null)
    {
        var e = Assert.ThrowsAny<ArgumentException>(make);
        Assert.Equal(paramName, e.ParamName);
        if (valueText is not null) Assert.Contains(valueText, e.Message);
    }

    [Fact]
    public void InvalidHyperparametersAreRejectedAtConstruction()
    {
        Rejects(() => new SGD([P()], lr: -0.1), "lr", "-0.1");
        Rejects(() => new SGD([P()], lr: double.NaN), "lr", "NaN");
        Rejects(() => new SGD([P()], lr: 0.1, momentum: -0.5), "momentum", "-0.5");
        Rejects(() => new SGD([P()], lr: 0.1, weightDecay: -1), "weightDecay", "-1");
        Rejects(() => new SGD([P()], lr: 0.1, dampening: -1), "dampening", "-1");
        Rejects(() => new SGD([P()], lr: 0.1, nesterov: true), "nesterov");
        Rejects(() => new SGD([P()], lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true), "nesterov");
        Rejects(() => new Adam([P()], lr: -1e-3), "lr", "-0.001");
        Rejects(() => new Adam([P()], betas: (1.0, 0.999)), "betas", "1");
        Rejects(() => new Adam([P()], betas: (0.9, -0.1)), "betas", "-0.1");
        Rejects(() => new Adam([P()], eps: -1e-8), "eps", "-1E-08");
        Rejects(() => new AdamW([P()], weightDecay: -0.01), "weightDecay", "-0.01");
        Rejects(() => new AdamW([P()], betas: (0.9, 1.5)), "betas", "1.5");
    }

    [Fact]
    public void AnEmptyParameterListIsRejected() =>
        Assert.ThrowsAny<ArgumentException>(() => new SGD(Array.Empty<Parameter>(), lr: 0.1));

    [Fact]
    public void AGroupHyperparameterOutOfRangeIsRejectedWhenSet()
    {
        var g = new ParamGroup([P()]);
        Rejects(() => g.Lr = -1, "lr", "-1");
        Rejects(() => g["momentum"] = double.PositiveInfinity, "momentum", "Infinity");
        Rejects(() => g.Betas = (0.9, 1.0), "betas", "1");
        Assert.False(g.ContainsKey("lr"));
        Assert.False(g.ContainsKey("betas"));
    }

    [Fact]
    public void AGroupWithAnInvalidCombinationIsRejectedAndLeftUnchanged()
    {
        var opt = new SGD([P()], lr: 0.1);
        var g = new ParamGroup([P()]) { ["nesterov"] = 1 };
        Rejects(() => opt.AddParamGroup(g), "nesterov");
        Assert.Single(opt.ParamGroups);
        Assert.Equal(new[] { "nesterov" }, g.Keys);
    }

    [Fact]
    public void AnInvalidChangeToAGroupFailsTheNextStepBeforeAnyParameterMoves()
    {
        var a = new Parameter([1f]) { Grad = [1f] };
        var b = new Parameter([1f]) { Grad = [1f] };
        var opt = new SGD([new ParamGroup([a]), new ParamGroup([b])], lr: 0.1);
        opt.ParamGroups[1]["nesterov"] = 1;
        Rejects(() => opt.Step(), "nesterov");
        Assert.Equal(1f, a.Data[0]);
        Assert.Equal(1f, b.Data[0]);
    }

    [Fact]
    public void AGradientOfTheWrongLengthIsRejected()
    {
        var p = P(3);
        Rejects(() => p.Grad = new float[2], "value", "2 elements");
        Rejects(() => p.AccumulateGrad(new float[4]), "grad", "4 elements");
        Assert.Null(p.Grad);
        p.Grad = [1, 2, 3];
        Rejects(() => p.AccumulateGrad(new float[1]), "grad");
        Assert.Equal(new[] { 1f, 2f, 3f }, p.Grad);
    }

    [Fact]
    public void AParameterWhoseShapeDoesNotMatchItsDataIsRejected() =>
        Rejects(() => new Parameter(new float[5], 2, 3), "shape", "[2, 3]");

    [Fact]
    public void AParameterInTwoGroupsIsRejected()
    {
        var shared = P();
        Rejects(() => new SGD([new ParamGroup([shared]), new ParamGroup([shared])], lr: 0.1), "group", "more than one");
        var opt = new Adam([shared]);
        Rejects(() => opt.AddParamGroup(new ParamGroup([P(), shared])), "group");
        Assert.Single(opt.ParamGroups);
        Rejects(() => new ParamGroup([shared, shared]), "parameters", "twice");
    }

    private static (Optimizer Opt, Parameter[] Ps) Trained(Func<Parameter[], Optimizer> make, params int[] sizes)
    {
        var ps = sizes.Select(n => new Parameter(Enumerable.Range(0, n).Select(i => (float)i).ToArray()) { Grad = Enumerable.Repeat(0.5f, n).ToArray() }).ToArray();
        var opt = make(ps);
        opt.Step();
        return (opt, ps);
    }

    private static void LoadFailsAndChangesNothing(Optimizer target, StateDict state, string fragment)
    {
        var before = target.StateDict().ToJson();
        var e = Assert.ThrowsAny<ArgumentException>(() => target.LoadStateDict(state));
        Assert.Contains(fragment, e.Message);
        Assert.Equal(before, target.StateDict().ToJson());
    }

    [Fact]
    public void AStateDictFromAnotherOptimizerKindIsRejected()
    {
        var (adam, _) = Trained(ps => new Adam(ps), 3);
        var (sgd, _) = Trained(ps => new SGD(ps, lr: 0.1, momentum: 0.9), 3);
        LoadFailsAndChangesNothing(sgd, adam.StateDict(), "Adam");
        var (adamw, _) = Trained(ps => new AdamW(ps), 3);
        LoadFailsAndChangesNothing(adamw, adam.StateDict(), "AdamW");
    }

    [Fact]
    public void AStateDictWithAnotherParameterCountIsRejected()
    {
        var (two, _) = Trained(ps => new Adam(ps), 3, 4);
        var (one, _) = Trained(ps => new Adam(ps), 3);
        LoadFailsAndChangesNothing(one, two.StateDict(), "2 parameters");
    }

    [Fact]
    public void AStateDictWithOtherShapesOrNamesIsRejected()
    {
        var (src, _) = Trained(ps => new Adam(ps), 3, 4);
        var (reordered, _) = Trained(ps => new Adam(ps), 4, 3);
        LoadFailsAndChangesNothing(reordered, src.StateDict(), "shape");
        var (named, nps) = Trained(ps => new Adam(ps), 3, 4);
        var (other, ops) = Trained(ps => new Adam(ps), 3, 4);
        nps[0].Name = "encoder.weight";
        ops[0].Name = "decoder.weight";
        LoadFailsAndChangesNothing(other, named.StateDict(), "decoder.weight");
    }

    [Fact]
    public void AStateDictWithAnInvalidHyperparameterIsRejectedAndChangesNothing()
    {
        var (opt, _) = Trained(ps => new Adam(ps), 3);
        var json = opt.StateDict().ToJson().Replace("\"eps\":1E-08", "\"eps\":-1");
        Assert.Contains("\"eps\":-1", json);
        LoadFailsAndChangesNothing(opt, StateDict.FromJson(json), "eps");
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("[]")]
    [InlineData("{\"optimizer\":\"Adam\"}")]
    [InlineData("{\"optimizer\":\"Adam\",\"state\":{\"0\":{\"step\":-1}},\"param_groups\":[],\"param_names\":[null],\"param_shapes\":[[3]]}")]
    [InlineData("{\"optimizer\":\"Adam\",\"state\":{\"0\":{\"exp_avg\":[1,2]}},\"param_groups\":[],\"param_names\":[null],\"param_shapes\":[[3]]}")]
    public void MalformedJsonIsRejectedWithAClearMessage(string json)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => StateDict.FromJson(json));
        Assert.StartsWith("Malformed state dict", e.Message);
    }
}
