using System.Text.Json.Nodes;

namespace Optim.CSharp.Tests;

/// <summary>
/// A state dict written before a key existed (by an older PyTorch, or an earlier Optim) loads with PyTorch's
/// <c>__setstate__</c> default for it, whatever the loading optimizer was built with (PyTorch's trajectories after such
/// a load: CheckpointFileTests); keys with no such default are still required.
/// </summary>
public sealed class OlderStateDictTests
{
    private static StateDict Without(Optimizer opt, params string[] keys)
    {
        var json = JsonNode.Parse(opt.StateDict().ToJson())!;
        foreach (var g in json["param_groups"]!.AsArray())
            foreach (var key in keys) g!.AsObject().Remove(key);
        return StateDict.FromJson(json.ToJsonString());
    }

    private static Parameter[] Ps() => [new Parameter([1f, 2f]) { Grad = [0.5f, -1f] }];

    public static TheoryData<string, string> Added => new()
    {
        { "SGD", "nesterov" }, { "SGD", "maximize" }, { "Adam", "amsgrad" }, { "Adam", "maximize" }, { "AdamW", "amsgrad" },
        { "RMSprop", "momentum" }, { "RMSprop", "centered" }, { "NAdam", "decoupled_weight_decay" }, { "RAdam", "decoupled_weight_decay" },
        { "Adagrad", "maximize" }, { "Rprop", "maximize" },
    };

    private static Optimizer Build(string kind, Parameter[] ps, bool nonDefault) => kind switch
    {
        "SGD" => new SGD(ps, lr: 0.1, momentum: 0.9, nesterov: nonDefault, maximize: nonDefault),
        "Adam" => new Adam(ps, amsgrad: nonDefault, maximize: nonDefault),
        "AdamW" => new AdamW(ps, amsgrad: nonDefault, maximize: nonDefault),
        "RMSprop" => new RMSprop(ps, momentum: nonDefault ? 0.9 : 0, centered: nonDefault),
        "NAdam" => new NAdam(ps, decoupledWeightDecay: nonDefault),
        "RAdam" => new RAdam(ps, decoupledWeightDecay: nonDefault),
        "Adagrad" => new Adagrad(ps, maximize: nonDefault),
        "Rprop" => new Rprop(ps, maximize: nonDefault),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    [Theory]
    [MemberData(nameof(Added))]
    public void AKeyAddedSinceTakesPyTorchsSetstateDefaultNotTheLoadingOptimizers(string kind, string key)
    {
        var saved = Build(kind, Ps(), nonDefault: false);
        saved.Step();
        var loading = Build(kind, Ps(), nonDefault: true);
        Assert.NotEqual(0, loading.ParamGroups[0][key]);
        loading.LoadStateDict(Without(saved, key));
        Assert.Equal(0, loading.ParamGroups[0][key]);
        // the same state and the same group (the filled key after the others, as PyTorch's setdefault puts it)
        var (a, b) = (JsonNode.Parse(saved.StateDict().ToJson())!, JsonNode.Parse(loading.StateDict().ToJson())!);
        Assert.Equal(a["state"]!.ToJsonString(), b["state"]!.ToJsonString());
        var (ga, gb) = (a["param_groups"]![0]!.AsObject(), b["param_groups"]![0]!.AsObject());
        Assert.Equal(ga.Select(kv => kv.Key).Order(), gb.Select(kv => kv.Key).Order());
        foreach (var (k, v) in ga) Assert.Equal(v!.ToJsonString(), gb[k]!.ToJsonString());
    }

    [Fact]
    public void AKeyWithoutSuchADefaultIsStillRequired()
    {
        var saved = new Adam(Ps());
        var loading = new Adam(Ps());
        var before = loading.StateDict().ToJson();
        Assert.Throws<CheckpointException>(() => loading.LoadStateDict(Without(saved, "betas")));
        Assert.Throws<CheckpointException>(() => new SGD(Ps(), lr: 0.1).LoadStateDict(Without(new SGD(Ps(), lr: 0.1), "lr")));
        Assert.Equal(before, loading.StateDict().ToJson());
    }

    [Fact]
    public void ABooleanUnderAKeyTheOptimizerDoesNotTakeIsRefused()
    {
        var json = JsonNode.Parse(new Adam(Ps()).StateDict().ToJson())!;
        json["param_groups"]![0]!["maximise"] = true;
        var loading = new Adam(Ps());
        var e = Assert.Throws<CheckpointException>(() => loading.LoadStateDict(StateDict.FromJson(json.ToJsonString())));
        Assert.Contains("'maximise'", e.Message);
    }
}
