using System.Text.Json.Nodes;

namespace Optim.CSharp.Tests;

/// <summary>
/// A state dict that is incomplete or inconsistent is rejected, naming what is wrong, and the optimizer or scheduler
/// is left exactly as it was: a load never fills in what the text does not say.
/// </summary>
public class StrictLoadTests
{
    /// <summary>A 2×3 matrix and a vector of 2, or for an optimizer of matrices only (Muon) a 1×2 matrix, stepped.</summary>
    private static (Optimizer Opt, Parameter[] Ps) Stepped(Func<Parameter[], Optimizer> make, int steps = 3, bool matrices = false)
    {
        var ps = new[] { new Parameter([1f, -2f, 3f, 0.5f, 2f, -1f], 2, 3), matrices ? new Parameter([0.25f, -0.75f], 1, 2) : new Parameter([0.25f, -0.75f]) };
        var opt = make(ps);
        for (int t = 0; t < steps; t++)
        {
            foreach (var p in ps) p.Grad = p.Data.Select((x, i) => (float)Math.Sin(x + i + t)).ToArray();
            opt.Step();
        }
        return (opt, ps);
    }

    /// <summary>Loads the mutated JSON into the optimizer and checks it is rejected with the message and changes nothing.</summary>
    private static void Rejected(Optimizer opt, Parameter[] ps, string json, string messagePart)
    {
        string before = opt.StateDict().ToJson();
        var values = ps.Select(p => p.Data.ToArray()).ToArray();
        var e = Assert.ThrowsAny<ArgumentException>(() => opt.LoadStateDict(StateDict.FromJson(json)));
        Assert.IsType<CheckpointException>(e);
        Assert.Contains(messagePart, e.Message);
        Assert.Equal(before, opt.StateDict().ToJson());
        for (int i = 0; i < ps.Length; i++) Assert.Equal(values[i], ps[i].Data);
    }

    private static string Mutate(Optimizer opt, Action<JsonObject> change)
    {
        var root = JsonNode.Parse(opt.StateDict().ToJson())!.AsObject();
        change(root);
        return root.ToJsonString();
    }

    private static JsonObject State(JsonObject root, int i) => root["state"]![i.ToString()]!.AsObject();

    private static JsonObject Group(JsonObject root, int i) => root["param_groups"]![i]!.AsObject();

    [Theory]
    [InlineData("1e19")]
    [InlineData("9223372036854775807")]
    [InlineData("9007199254740993")]
    [InlineData("-1")]
    [InlineData("2.5")]
    [InlineData("\"Infinity\"")]
    [InlineData("\"NaN\"")]
    [InlineData("true")]
    public void A_step_outside_0_to_2_to_the_53_is_rejected(string step)
    {
        var (opt, ps) = Stepped(p => new Adam(p));
        string json = Mutate(opt, r => State(r, 0)["step"] = JsonNode.Parse(step));
        Rejected(opt, ps, json, "state[0].step");
    }

    [Fact]
    public void A_step_of_2_to_the_53_loads()
    {
        var (opt, _) = Stepped(p => new Adam(p));
        opt.LoadStateDict(StateDict.FromJson(Mutate(opt, r => State(r, 0)["step"] = 9007199254740992.0)));
        Assert.Contains("\"step\":9007199254740992", opt.StateDict().ToJson());
    }

    [Theory]
    [InlineData("Adam", "exp_avg")]
    [InlineData("Adam", "exp_avg_sq")]
    [InlineData("Adam", "step")]
    [InlineData("AdamAmsgrad", "max_exp_avg_sq")]
    [InlineData("RMSprop", "square_avg")]
    [InlineData("Adagrad", "sum")]
    [InlineData("Rprop", "prev")]
    [InlineData("Adafactor", "row_var")]
    [InlineData("Adafactor", "col_var")]
    [InlineData("Muon", "momentum_buffer")]
    public void A_state_entry_that_lacks_a_buffer_or_its_step_is_rejected(string kind, string key)
    {
        var (opt, ps) = Stepped(p => kind switch
        {
            "Adam" => new Adam(p),
            "AdamAmsgrad" => new Adam(p, amsgrad: true),
            "SGD" => new SGD(p, lr: 0.1, momentum: 0.9),
            "RMSprop" => new RMSprop(p),
            "Adagrad" => new Adagrad(p),
            "Rprop" => new Rprop(p),
            "Muon" => new Muon(p),
            _ => new Adafactor(p),
        }, matrices: kind == "Muon");
        string json = Mutate(opt, r => State(r, 0).Remove(key));
        Rejected(opt, ps, json, key == "step" ? "has no 'step'" : $"lacks '{key}'");
    }

    [Fact]
    public void SGD_without_momentum_keeps_no_momentum_buffer_and_its_state_loads()
    {
        var (opt, ps) = Stepped(p => new SGD(p, lr: 0.1));
        string json = opt.StateDict().ToJson();
        opt.LoadStateDict(StateDict.FromJson(json));
        Assert.Equal(json, opt.StateDict().ToJson());
    }

    [Fact]
    public void A_parameter_without_any_state_entry_loads_as_one_that_never_had_a_gradient()
    {
        var (opt, _) = Stepped(p => new Adam(p));
        opt.LoadStateDict(StateDict.FromJson(Mutate(opt, r => r["state"]!.AsObject().Remove("1"))));
        Assert.DoesNotContain("\"1\":", opt.StateDict().ToJson());
    }

    [Theory]
    [InlineData("lr", "true", "a boolean for 'lr'")]
    [InlineData("weight_decay", "false", "a boolean for 'weight_decay'")]
    [InlineData("amsgrad", "1", "a number for 'amsgrad'")]
    [InlineData("maximize", "0", "a number for 'maximize'")]
    [InlineData("betas", "0.5", "'betas' as one value")]
    [InlineData("eps", "[1e-8, 1e-8]", "'eps' as a pair")]
    public void A_hyperparameter_of_the_wrong_kind_is_rejected(string key, string value, string messagePart)
    {
        var (opt, ps) = Stepped(p => new Adam(p));
        Rejected(opt, ps, Mutate(opt, r => Group(r, 0)[key] = JsonNode.Parse(value)), messagePart);
    }

    [Theory]
    [InlineData("\"betas\": [0.9, 0.999]", "\"betas\": [0.9, 0.999], \"betas\": 0.5", "param_groups[0].betas")]
    [InlineData("\"optimizer\": \"Adam\"", "\"optimizer\": \"Adam\", \"optimizer\": \"Adam\"", "'optimizer' appears twice")]
    [InlineData("\"step\": 3", "\"step\": 3, \"step\": 3", "state.0.step")]
    public void A_key_given_twice_is_rejected_wherever_it_is(string original, string doubled, string messagePart)
    {
        var (opt, ps) = Stepped(p => new Adam(p));
        string json = JsonNode.Parse(opt.StateDict().ToJson())!.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = false })
            .Replace(original.Replace(" ", ""), doubled.Replace(" ", ""));
        Assert.Contains(doubled.Replace(" ", ""), json);
        Rejected(opt, ps, json, messagePart.Contains("twice") ? messagePart : messagePart.Replace("[0]", "[0]"));
    }

    [Theory]
    [InlineData("exp_avg_sq")]
    [InlineData("max_exp_avg_sq")]
    public void A_negative_running_square_is_rejected(string key)
    {
        var (opt, ps) = Stepped(p => new Adam(p, amsgrad: true));
        string json = Mutate(opt, r => State(r, 1)[key]![0] = -1e-3);
        Rejected(opt, ps, json, $"state[1].{key}[0]");
    }

    [Theory]
    [InlineData("[50000, 50000]")]
    [InlineData("[2147483647, 2147483647, 2147483647]")]
    [InlineData("[-1, 6]")]
    public void A_shape_whose_size_no_array_can_hold_is_rejected_before_anything_is_allocated(string shape)
    {
        var (opt, _) = Stepped(p => new Adam(p));
        string json = Mutate(opt, r => r["param_shapes"]![0] = JsonNode.Parse(shape));
        var e = Assert.Throws<CheckpointException>(() => StateDict.FromJson(json));
        Assert.Contains("param_shapes[0]", e.Message);
    }

    private static (StepLR Scheduler, SGD Opt) Scheduled()
    {
        var opt = new SGD([new Parameter([1f, 2f])], lr: 0.1);
        var s = new StepLR(opt, stepSize: 2, gamma: 0.5);
        for (int i = 0; i < 3; i++) { opt.Step(); s.Step(); }
        return (s, opt);
    }

    [Theory]
    [InlineData("last_epoch", "2147483647", "last_epoch")]
    [InlineData("last_epoch", "-2", "last_epoch")]
    [InlineData("step_count", "2147483647", "step_count")]
    [InlineData("base_lrs", "[-0.1]", "-0.1")]
    [InlineData("last_lr", "[]", "0 last_lr")]
    [InlineData("base_lrs", "[]", "0 base_lrs")]
    [InlineData("last_lr", "[\"Infinity\"]", "learning rate of")]
    public void A_scheduler_state_dict_with_an_out_of_range_counter_or_rate_is_rejected_and_changes_nothing(string key, string value, string messagePart)
    {
        var (s, opt) = Scheduled();
        var root = JsonNode.Parse(s.StateDict().ToJson())!.AsObject();
        root["state"]![key] = JsonNode.Parse(value);
        string before = s.StateDict().ToJson();
        double lr = opt.ParamGroups[0].Lr;
        var e = Assert.ThrowsAny<ArgumentException>(() => s.LoadStateDict(SchedulerStateDict.FromJson(root.ToJsonString())));
        Assert.Contains(messagePart, e.Message);
        Assert.Equal(before, s.StateDict().ToJson());
        Assert.Equal(lr, opt.ParamGroups[0].Lr);
    }

    [Fact]
    public void A_scheduler_state_dict_that_gives_a_key_twice_is_rejected()
    {
        var (s, _) = Scheduled();
        string json = s.StateDict().ToJson().Replace("\"last_epoch\":", "\"last_epoch\":1,\"last_epoch\":");
        var e = Assert.ThrowsAny<ArgumentException>(() => SchedulerStateDict.FromJson(json));
        Assert.Contains("last_epoch", e.Message);
    }
}

/// <summary>Every built-in optimizer's own state dict, with its defaults and with every option that keeps more state, loads back unchanged.</summary>
public class CompleteStateLoadsTests
{
    public static TheoryData<string> Kinds() =>
        ["SGD", "SGDm", "Adam", "AdamAmsgrad", "AdamW", "Adagrad", "RMSprop", "RMSpropCentered", "Adadelta", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop", "Adafactor", "Muon"];

    private static Optimizer Make(string kind, Parameter[] p) => kind switch
    {
        "SGD" => new SGD(p, lr: 0.1),
        "SGDm" => new SGD(p, lr: 0.1, momentum: 0.9, nesterov: true),
        "Adam" => new Adam(p),
        "AdamAmsgrad" => new Adam(p, amsgrad: true),
        "AdamW" => new AdamW(p),
        "Adagrad" => new Adagrad(p),
        "RMSprop" => new RMSprop(p),
        "RMSpropCentered" => new RMSprop(p, momentum: 0.5, centered: true),
        "Adadelta" => new Adadelta(p),
        "Adamax" => new Adamax(p),
        "NAdam" => new NAdam(p),
        "RAdam" => new RAdam(p),
        "ASGD" => new ASGD(p),
        "Rprop" => new Rprop(p),
        "Muon" => new Muon(p, nsCoefficients: (2, -1.5, 0.5), adjustLrFn: "original"),
        _ => new Adafactor(p),
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Its_own_state_dict_loads_back_unchanged(string kind)
    {
        // Muon takes matrices only: its second parameter is a 1×2 matrix
        var ps = new[] { new Parameter([1f, -2f, 3f, 0.5f, 2f, -1f], 2, 3), kind == "Muon" ? new Parameter([0.25f, -0.75f], 1, 2) : new Parameter([0.25f, -0.75f]) };
        var opt = Make(kind, ps);
        for (int t = 0; t < 3; t++)
        {
            foreach (var p in ps) p.Grad = p.Data.Select((x, i) => (float)Math.Sin(x + i + t)).ToArray();
            opt.Step();
        }
        string json = opt.StateDict().ToJson();
        var fresh = Make(kind, ps.Select(p => new Parameter(p.Data.ToArray(), p.Shape)).ToArray());
        try { fresh.LoadStateDict(StateDict.FromJson(json)); }
        catch (ArgumentException e) { Assert.Fail($"{kind}: {e.Message}"); }
        Assert.Equal(json, fresh.StateDict().ToJson());
    }
}

/// <summary>Faults a user can make with an optimizer that would silently lose or double updates: each one throws.</summary>
public class MisuseTests
{
    [Fact]
    public void A_step_called_while_another_runs_throws_and_changes_nothing()
    {
        var p = new Parameter([1f, 2f]) { Grad = [1f, 1f] };
        var opt = new SGD([p], lr: 0.1);
        InvalidOperationException? inner = null;
        float[]? seen = null;
        var handle = opt.RegisterStepPostHook(o =>
        {
            seen = p.Data.ToArray();
            inner = Assert.Throws<InvalidOperationException>(() => o.Step());
        });
        opt.Step();
        Assert.NotNull(inner);
        Assert.Contains("not thread-safe", inner!.Message);
        Assert.Equal(seen, p.Data);   // the refused call moved nothing
        handle.Remove();
        opt.Step();                   // and the guard is released after the step
        Assert.Equal(0.8f, p.Data[0], 1e-6f);
        Assert.Equal(1.8f, p.Data[1], 1e-6f);
    }

    [Fact]
    public void Steps_from_two_threads_at_once_are_refused_rather_than_lost()
    {
        var p = new Parameter(new float[1 << 16]);
        var opt = new SGD([p], lr: 1e-3);
        int done = 0, refused = 0;
        var threads = Enumerable.Range(0, 2).Select(_ => new Thread(() =>
        {
            for (int i = 0; i < 2000; i++)
            {
                p.Grad ??= Enumerable.Repeat(1f, p.Data.Length).ToArray();
                try { opt.Step(); Interlocked.Increment(ref done); }
                catch (InvalidOperationException) { Interlocked.Increment(ref refused); }
            }
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        Assert.Equal(4000, done + refused);
        // every step that was not refused was applied: no update is lost
        Assert.Equal(-1e-3f * done, p.Data[0], 1e-3f * done * 1e-4f + 1e-6f);
    }

    [Fact]
    public void Two_parameters_over_one_buffer_are_rejected_in_a_group_and_across_groups()
    {
        var data = new float[4];
        var a = new Parameter(data);
        var b = new Parameter(data, 2, 2);
        var e = Assert.Throws<ArgumentException>(() => new SGD([a, b], lr: 0.1));
        Assert.Contains("one buffer", e.Message);
        var opt = new SGD([a], lr: 0.1);
        var e2 = Assert.Throws<ArgumentException>(() => opt.AddParamGroup(new ParamGroup([b])));
        Assert.Equal("group", e2.ParamName);
        Assert.Single(opt.ParamGroups);
    }
}
