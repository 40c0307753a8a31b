using System.Text.Json;
using Optim.CSharp;
using Xunit;

namespace Optim.CSharp.Tests;

/// <summary>
/// Replays PyTorch's trajectories for Adagrad, RMSprop, Adadelta, Adamax, NAdam, RAdam, ASGD, Rprop and
/// SparseAdam, and SGD and Adagrad on sparse gradients (tests/golden/generate_optimizers.py), PyTorch 2.x's for
/// Adafactor (generate_adafactor.py) and PyTorch 2.9's for Muon (generate_muon.py), through
/// the C# facade: constructor defaults, param groups,
/// add_param_group, hyperparameter changes mid-run, state-dict round trips through JSON, missing and zero
/// gradients; then compares the final state dict with PyTorch's.
/// </summary>
public sealed class AllOptimizersGoldenTests
{
    private static readonly string[] Files = ["adagrad", "rmsprop", "adadelta", "adamax", "nadam", "radam", "asgd", "rprop", "sparse_adam", "sparse_sgd", "sparse_adagrad", "adafactor", "muon"];

    /// <summary>The fixtures a device does not run: sparse gradients, and the optimizers whose step is not a chain of blocks.</summary>
    private static readonly string[] OffDevice = ["sparse_adam", "sparse_sgd", "sparse_adagrad", "adafactor", "muon"];

    public static IEnumerable<object[]> Cases() =>
        Files.Where(f => GoldenFixtures.Device is null || !OffDevice.Contains(f)).SelectMany(file => Load(file).RootElement.GetProperty("cases").EnumerateArray()
            .Select(c => new object[] { file, c.GetProperty("name").GetString()! }));

    private static JsonDocument Load(string file) =>
        JsonDocument.Parse(File.ReadAllText(GoldenFixtures.PathOf(file)));

    private static double D(JsonElement e, string key) => e.GetProperty(key).GetDouble();
    private static bool B(JsonElement e, string key) => e.GetProperty(key).GetBoolean();
    private static (double, double) P(JsonElement e, string key) =>
        (e.GetProperty(key)[0].GetDouble(), e.GetProperty(key)[1].GetDouble());

    /// <summary>A pair whose first element may be PyTorch's None (Adafactor's eps), as the constructor takes it.</summary>
    private static (double?, double) OptionalFirst(JsonElement pair) =>
        (pair[0].ValueKind == JsonValueKind.Null ? null : pair[0].GetDouble(), pair[1].GetDouble());

    /// <summary>float32's machine epsilon, torch.finfo(torch.float32).eps: what a group holds for Adafactor's eps[0] = None.</summary>
    private static readonly double Float32Eps = MathF.BitIncrement(1f) - 1f;

    /// <summary>The facade optimizer of a fixture's kind, built with the fixture's constructor arguments.</summary>
    private static Optimizer Make(string kind, IEnumerable<ParamGroup> groups, JsonElement d) => kind switch
    {
        "SGD" => new SGD(groups, lr: D(d, "lr"), momentum: D(d, "momentum"), dampening: D(d, "dampening"), weightDecay: D(d, "weight_decay"),
            nesterov: B(d, "nesterov"), maximize: B(d, "maximize")),
        "Adagrad" => new Adagrad(groups, lr: D(d, "lr"), lrDecay: D(d, "lr_decay"), weightDecay: D(d, "weight_decay"),
            initialAccumulatorValue: D(d, "initial_accumulator_value"), eps: D(d, "eps"), maximize: B(d, "maximize")),
        "RMSprop" => new RMSprop(groups, lr: D(d, "lr"), alpha: D(d, "alpha"), eps: D(d, "eps"), weightDecay: D(d, "weight_decay"),
            momentum: D(d, "momentum"), centered: B(d, "centered"), maximize: B(d, "maximize")),
        "Adadelta" => new Adadelta(groups, lr: D(d, "lr"), rho: D(d, "rho"), eps: D(d, "eps"), weightDecay: D(d, "weight_decay"),
            maximize: B(d, "maximize")),
        "Adamax" => new Adamax(groups, lr: D(d, "lr"), betas: P(d, "betas"), eps: D(d, "eps"), weightDecay: D(d, "weight_decay"),
            maximize: B(d, "maximize")),
        "NAdam" => new NAdam(groups, lr: D(d, "lr"), betas: P(d, "betas"), eps: D(d, "eps"), weightDecay: D(d, "weight_decay"),
            momentumDecay: D(d, "momentum_decay"), decoupledWeightDecay: B(d, "decoupled_weight_decay"), maximize: B(d, "maximize")),
        "RAdam" => new RAdam(groups, lr: D(d, "lr"), betas: P(d, "betas"), eps: D(d, "eps"), weightDecay: D(d, "weight_decay"),
            decoupledWeightDecay: B(d, "decoupled_weight_decay"), maximize: B(d, "maximize")),
        "ASGD" => new ASGD(groups, lr: D(d, "lr"), lambd: D(d, "lambd"), alpha: D(d, "alpha"), t0: D(d, "t0"),
            weightDecay: D(d, "weight_decay"), maximize: B(d, "maximize")),
        "Rprop" => new Rprop(groups, lr: D(d, "lr"), etas: P(d, "etas"), stepSizes: P(d, "step_sizes"), maximize: B(d, "maximize")),
        "SparseAdam" => new SparseAdam(groups, lr: D(d, "lr"), betas: P(d, "betas"), eps: D(d, "eps"), maximize: B(d, "maximize")),
        "Adafactor" => new Adafactor(groups, lr: D(d, "lr"), beta2Decay: D(d, "beta2_decay"), eps: OptionalFirst(d.GetProperty("eps")), d: D(d, "d"),
            weightDecay: D(d, "weight_decay"), maximize: B(d, "maximize")),
        "Muon" => new Muon(groups, lr: D(d, "lr"), weightDecay: D(d, "weight_decay"), momentum: D(d, "momentum"), nesterov: B(d, "nesterov"),
            nsCoefficients: Triple(d.GetProperty("ns_coefficients")), eps: D(d, "eps"), nsSteps: d.GetProperty("ns_steps").GetInt32(),
            adjustLrFn: Text(d.GetProperty("adjust_lr_fn"))),
        _ => throw new ArgumentException($"No facade optimizer for fixture kind {kind}", nameof(kind)),
    };

    private static (double, double, double) Triple(JsonElement e) => (e[0].GetDouble(), e[1].GetDouble(), e[2].GetDouble());

    /// <summary>A string, or PyTorch's None as null (Muon's adjust_lr_fn).</summary>
    private static string? Text(JsonElement e) => e.ValueKind == JsonValueKind.Null ? null : e.GetString();

    /// <summary>Sets a PyTorch group key (scalar, flag, pair, triple or string) as a C# user would.</summary>
    private static void Set(ParamGroup g, string key, JsonElement v)
    {
        switch (v.ValueKind)
        {
            case JsonValueKind.Array when v.GetArrayLength() == 3: g.SetTriple(key, Triple(v)); break;
            case JsonValueKind.String or JsonValueKind.Null: g.SetText(key, Text(v)); break;
            case JsonValueKind.Array: g.SetPair(key, (OptionalFirst(v).Item1 ?? Float32Eps, v[1].GetDouble())); break;
            case JsonValueKind.True: g[key] = 1; break;
            case JsonValueKind.False: g[key] = 0; break;
            default: g[key] = v.GetDouble(); break;
        }
    }

    private static Parameter NewParameter(JsonElement def) =>
        new(def.GetProperty("data").EnumerateArray().Select(x => x.GetSingle()).ToArray(),
            def.GetProperty("shape").EnumerateArray().Select(x => x.GetInt32()).ToArray())
        { Name = def.GetProperty("name").GetString() };

    private static void Within(string what, IReadOnlyList<float> expected, IReadOnlyList<float> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            double e = expected[i], a = actual[i];
            if (!(Math.Abs(a - e) <= 1e-5 + 1e-4 * Math.Abs(e)))
                Assert.Fail($"{what}[{i}]: PyTorch {e}, facade {a}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_facade_follows_PyTorchs_trajectory_and_ends_with_its_state(string file, string name)
    {
        using var doc = Load(file);
        var c = doc.RootElement.GetProperty("cases").EnumerateArray().Single(x => x.GetProperty("name").GetString() == name);
        var kind = c.GetProperty("optimizer").GetString()!;
        var defaults = c.GetProperty("defaults");
        var parameters = c.GetProperty("params").EnumerateArray().Select(NewParameter).ToList();

        // what it takes to rebuild the optimizer for a state-dict round trip: each group's params and keys
        var layout = new List<(List<Parameter> Params, List<(string Key, JsonElement Value)> Keys)>();
        foreach (var g in c.GetProperty("groups").EnumerateArray())
            layout.Add((g.GetProperty("params").EnumerateArray().Select(i => parameters[i.GetInt32()]).ToList(),
                        g.EnumerateObject().Where(p => p.Name != "params").Select(p => (p.Name, p.Value)).ToList()));
        int constructorGroups = layout.Count;

        ParamGroup GroupOf(int k)
        {
            var group = new ParamGroup(layout[k].Params);
            foreach (var (key, value) in layout[k].Keys) Set(group, key, value);
            return group;
        }
        Optimizer Build()
        {
            var o = GoldenFixtures.OnDevice(Make(kind, Enumerable.Range(0, constructorGroups).Select(GroupOf).ToList(), defaults));
            for (int k = constructorGroups; k < layout.Count; k++) o.AddParamGroup(GroupOf(k));
            return o;
        }

        var opt = Build();
        int step = 0;
        foreach (var s in c.GetProperty("steps").EnumerateArray())
        {
            step++;
            if (s.TryGetProperty("before", out var events))
                foreach (var e in events.EnumerateArray())
                {
                    if (e.TryGetProperty("add_param_group", out var add))
                    {
                        var added = add.GetProperty("params").EnumerateArray().Select(NewParameter).ToList();
                        parameters.AddRange(added);
                        layout.Add((added, add.GetProperty("hyper").EnumerateObject().Select(p => (p.Name, p.Value)).ToList()));
                        opt.AddParamGroup(GroupOf(layout.Count - 1));
                    }
                    else if (e.TryGetProperty("set", out var set))
                    {
                        int g = set.GetProperty("group").GetInt32();
                        var key = set.GetProperty("key").GetString()!;
                        Set(opt.ParamGroups[g], key, set.GetProperty("value"));
                        layout[g].Keys.Add((key, set.GetProperty("value")));
                    }
                    else
                    {
                        var json = opt.StateDict().ToJson();
                        opt = Build();
                        opt.LoadStateDict(StateDict.FromJson(json));
                    }
                }
            var grads = s.GetProperty("grads").EnumerateArray().ToList();
            for (int i = 0; i < parameters.Count; i++)
            {
                parameters[i].Grad = grads[i].ValueKind == JsonValueKind.Array ? grads[i].EnumerateArray().Select(x => x.GetSingle()).ToArray() : null;
                if (grads[i].ValueKind == JsonValueKind.Object)
                    parameters[i].AccumulateSparseGrad(
                        grads[i].GetProperty("rows").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
                        grads[i].GetProperty("values").EnumerateArray().Select(x => x.GetSingle()).ToArray());
            }
            opt.Step();
            var expected = s.GetProperty("params").EnumerateArray().ToList();
            for (int i = 0; i < parameters.Count; i++)
                Within($"{name} step {step} parameter {i}", expected[i].EnumerateArray().Select(x => x.GetSingle()).ToArray(), parameters[i].Data);
        }

        using var ours = JsonDocument.Parse(opt.StateDict().ToJson());
        var state = ours.RootElement.GetProperty("state");
        foreach (var entry in c.GetProperty("final_state").EnumerateObject())
        {
            Assert.True(state.TryGetProperty(entry.Name, out var mine), $"{name}: no state for parameter {entry.Name}");
            foreach (var field in entry.Value.EnumerateObject())
            {
                var actual = mine.GetProperty(field.Name);
                // a buffer of another shape than its parameter's (Adafactor's factors) is written with its shape
                if (actual.ValueKind == JsonValueKind.Object) actual = actual.GetProperty("data");
                if (field.Name == "step") Assert.Equal(field.Value.GetDouble(), actual.GetDouble());
                else Within($"{name} state {entry.Name}.{field.Name}",
                    field.Value.EnumerateArray().Select(x => x.GetSingle()).ToArray(),
                    actual.EnumerateArray().Select(x => x.GetSingle()).ToArray());
            }
        }
    }
}
