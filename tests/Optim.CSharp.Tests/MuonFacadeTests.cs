using System.Text.Json;
using Optim.CSharp;

namespace Optim.CSharp.Tests;

/// <summary>
/// Muon through the facade: PyTorch 2.9's defaults and keys (the triple ns_coefficients, the string adjust_lr_fn),
/// matrices only, bad values named with their values and failing before anything moves, state dicts in JSON and
/// .pt files, and allocation-free steps on matrices whose products split over two threads.
/// </summary>
public sealed class MuonFacadeTests
{
    private static Parameter[] Matrices() =>
    [
        new Parameter(Enumerable.Range(0, 12).Select(i => (float)Math.Sin(i + 1)).ToArray(), 3, 4) { Name = "w0" },
        new Parameter(Enumerable.Range(0, 35).Select(i => (float)Math.Cos(i + 1)).ToArray(), 7, 5) { Name = "w1" },
        new Parameter([0.5f, -1.5f, 2f], 1, 3) { Name = "w2" },
    ];

    private static void Gradients(Parameter[] ps, int step)
    {
        foreach (var (p, k) in ps.Select((p, k) => (p, k)))
            p.Grad = Enumerable.Range(0, p.Numel).Select(i => (float)Math.Sin(3 * step + 5 * k + i)).ToArray();
    }

    [Fact]
    public void The_defaults_are_PyTorch_2_9s_under_its_keys()
    {
        var g = new ParamGroup(Matrices());
        _ = new Muon([g]);
        Assert.Equal(1e-3, g.Lr);
        Assert.Equal(0.1, g["weight_decay"]);
        Assert.Equal(0.95, g["momentum"]);
        Assert.Equal(1.0, g["nesterov"]);
        Assert.Equal(1e-7, g["eps"]);
        Assert.Equal(5.0, g["ns_steps"]);
        Assert.Equal((3.4445, -4.775, 2.0315), g.GetTriple("ns_coefficients"));
        Assert.Null(g.GetText("adjust_lr_fn"));
        Assert.Equal(["lr", "weight_decay", "momentum", "nesterov", "eps", "ns_steps", "ns_coefficients", "adjust_lr_fn"], g.Keys);
    }

    [Fact]
    public void The_triple_and_the_string_are_read_and_set_in_their_own_forms_and_checked()
    {
        var g = new ParamGroup(Matrices());
        _ = new Muon([g], nsCoefficients: (2.0, -1.5, 0.5), adjustLrFn: "match_rms_adamw");
        Assert.Equal((2.0, -1.5, 0.5), g.GetTriple("ns_coefficients"));
        Assert.Equal("match_rms_adamw", g.GetText("adjust_lr_fn"));
        Assert.Throws<KeyNotFoundException>(() => g["ns_coefficients"]);
        Assert.Throws<ArgumentException>(() => g["ns_coefficients"] = 1);
        Assert.Throws<ArgumentException>(() => g.SetPair("ns_coefficients", (1, 2)));
        Assert.Throws<KeyNotFoundException>(() => g["adjust_lr_fn"]);
        Assert.Equal("ns_coefficients", Assert.Throws<ArgumentOutOfRangeException>(() => g.SetTriple("ns_coefficients", (1, double.PositiveInfinity, 0))).ParamName);
        var e = Assert.Throws<ArgumentException>(() => g.SetText("adjust_lr_fn", "rms"));
        Assert.Equal("adjust_lr_fn", e.ParamName);
        Assert.Contains("'rms'", e.Message);
        Assert.Equal("ns_steps", Assert.Throws<ArgumentOutOfRangeException>(() => g["ns_steps"] = 2.5).ParamName);
        Assert.Equal("ns_steps", Assert.Throws<ArgumentOutOfRangeException>(() => g["ns_steps"] = 100).ParamName);
        // nothing of the rejected values was kept
        Assert.Equal((2.0, -1.5, 0.5), g.GetTriple("ns_coefficients"));
        Assert.Equal("match_rms_adamw", g.GetText("adjust_lr_fn"));
        Assert.Equal(5.0, g["ns_steps"]);
        g.SetText("adjust_lr_fn", null);
        g.SetTriple("ns_coefficients", (1.5, -0.5, 0));
        Assert.Null(g.GetText("adjust_lr_fn"));
    }

    [Theory]
    [InlineData("lr", "-0.5")]
    [InlineData("weightDecay", "-0.01")]
    [InlineData("momentum", "1")]
    [InlineData("eps", "-1E-07")]
    [InlineData("nsSteps", "0")]
    [InlineData("nsSteps", "100")]
    [InlineData("nsCoefficients", "NaN")]
    [InlineData("adjustLrFn", "'match_rms'")]
    public void A_bad_hyperparameter_is_rejected_naming_the_argument_and_the_value(string name, string value)
    {
        Action build = (name, value) switch
        {
            ("lr", _) => () => new Muon(Matrices(), lr: -0.5),
            ("weightDecay", _) => () => new Muon(Matrices(), weightDecay: -0.01),
            ("momentum", _) => () => new Muon(Matrices(), momentum: 1.0),
            ("eps", _) => () => new Muon(Matrices(), eps: -1e-7),
            ("nsSteps", "0") => () => new Muon(Matrices(), nsSteps: 0),
            ("nsSteps", _) => () => new Muon(Matrices(), nsSteps: 100),
            ("nsCoefficients", _) => () => new Muon(Matrices(), nsCoefficients: (3.4445, double.NaN, 2.0315)),
            _ => () => new Muon(Matrices(), adjustLrFn: "match_rms"),
        };
        var e = Assert.ThrowsAny<ArgumentException>(build);
        Assert.Equal(name, e.ParamName);
        Assert.Contains(value, e.Message);
    }

    [Fact]
    public void A_parameter_that_is_not_a_matrix_is_rejected_at_construction_and_by_AddParamGroup_naming_it_and_its_shape()
    {
        var bias = new Parameter([1f, 2f, 3f]) { Name = "bias" };
        var e = Assert.Throws<ArgumentException>(() => new Muon([Matrices()[0], bias]));
        Assert.Contains("parameter 1 of the group", e.Message);
        Assert.Contains("[3]", e.Message);
        Assert.Contains("bias", e.Message);
        var cube = new Parameter(new float[8], 2, 2, 2);
        Assert.Contains("[2, 2, 2]", Assert.Throws<ArgumentException>(() => new Muon([cube])).Message);

        var ps = Matrices();
        var opt = new Muon(ps, lr: 0.05);
        Gradients(ps, 0);
        opt.Step();
        var before = opt.StateDict().ToJson();
        var group = new ParamGroup([new Parameter(new float[6], 2, 3), bias]) { Lr = 0.1 };
        var added = Assert.Throws<ArgumentException>(() => opt.AddParamGroup(group));
        Assert.Equal("group", added.ParamName);
        Assert.Contains("parameter 1 of the group", added.Message);
        Assert.Single(opt.ParamGroups);
        Assert.Equal(["lr"], group.Keys);
        Assert.Equal(before, opt.StateDict().ToJson());
    }

    [Fact]
    public void A_bad_group_value_fails_the_next_step_before_any_parameter_moves()
    {
        var ps = Matrices();
        var opt = new Muon([new ParamGroup(ps.Take(1)), new ParamGroup(ps.Skip(1))], lr: 0.05);
        Gradients(ps, 0);
        var before = ps.Select(p => (float[])p.Data.Clone()).ToArray();
        // momentum 1 passes the check every torch.optim optimizer's "momentum" gets (0 or more), but not Muon's
        opt.ParamGroups[1]["momentum"] = 1.0;
        var e = Assert.ThrowsAny<ArgumentException>(() => opt.Step());
        Assert.Equal("momentum", e.ParamName);
        for (int i = 0; i < ps.Length; i++) Assert.Equal(before[i], ps[i].Data);
        opt.ParamGroups[1]["momentum"] = 0.9;
        opt.Step();
        Assert.NotEqual(before[0], ps[0].Data);
    }

    [Fact]
    public void The_state_dict_holds_PyTorchs_keys_and_a_round_trip_continues_the_trajectory()
    {
        var a = Matrices();
        var b = Matrices();
        var oa = new Muon(a, lr: 0.05, nsSteps: 4, adjustLrFn: "match_rms_adamw");
        var ob = new Muon(b, lr: 0.05, nsSteps: 4, adjustLrFn: "match_rms_adamw");
        for (int step = 0; step < 6; step++)
        {
            if (step == 3)
            {
                var json = oa.StateDict().ToJson();
                using var doc = JsonDocument.Parse(json);
                Assert.Equal("Muon", doc.RootElement.GetProperty("optimizer").GetString());
                var group = doc.RootElement.GetProperty("param_groups")[0];
                Assert.Equal("[3.4445,-4.775,2.0315]", group.GetProperty("ns_coefficients").GetRawText());
                Assert.Equal("4", group.GetProperty("ns_steps").GetRawText());
                Assert.Equal("\"match_rms_adamw\"", group.GetProperty("adjust_lr_fn").GetRawText());
                Assert.True(group.GetProperty("nesterov").GetBoolean());
                var state = doc.RootElement.GetProperty("state").GetProperty("1");
                Assert.Equal(["step", "momentum_buffer"], state.EnumerateObject().Select(f => f.Name));
                Assert.Equal(35, state.GetProperty("momentum_buffer").GetArrayLength());
                ob = new Muon(b, lr: 0.05);
                ob.LoadStateDict(StateDict.FromJson(json));
                Assert.Equal("match_rms_adamw", ob.ParamGroups[0].GetText("adjust_lr_fn"));
                Assert.Equal(4.0, ob.ParamGroups[0]["ns_steps"]);
            }
            Gradients(a, step);
            Gradients(b, step);
            oa.Step();
            ob.Step();
        }
        for (int i = 0; i < a.Length; i++) Assert.Equal(a[i].Data, b[i].Data);
        Assert.Equal(oa.StateDict().ToJson(), ob.StateDict().ToJson());
    }

    [Fact]
    public void A_state_dict_whose_ns_coefficients_is_not_a_triple_or_whose_adjust_lr_fn_is_unknown_is_rejected_and_changes_nothing()
    {
        var ps = Matrices();
        var opt = new Muon(ps);
        Gradients(ps, 0);
        opt.Step();
        var good = opt.StateDict().ToJson();
        foreach (var bad in new[]
                 {
                     good.Replace("\"ns_coefficients\":[3.4445,-4.775,2.0315]", "\"ns_coefficients\":[3.4445,-4.775]"),
                     good.Replace("\"ns_coefficients\":[3.4445,-4.775,2.0315]", "\"ns_coefficients\":3.4445"),
                     good.Replace("\"adjust_lr_fn\":null", "\"adjust_lr_fn\":\"rms\""),
                     good.Replace("\"ns_steps\":5", "\"ns_steps\":500"),
                 })
        {
            Assert.NotEqual(good, bad);
            Assert.ThrowsAny<ArgumentException>(() => opt.LoadStateDict(StateDict.FromJson(bad)));
            Assert.Equal(good, opt.StateDict().ToJson());
        }
    }

    [Fact]
    public void A_pt_checkpoint_round_trip_keeps_the_triple_the_whole_step_count_and_None()
    {
        var a = Matrices();
        var opt = new Muon(a, lr: 0.05);
        Gradients(a, 0);
        opt.Step();
        var path = Path.Combine(Path.GetTempPath(), $"optim-muon-{Guid.NewGuid():N}.pt");
        try
        {
            new CheckpointFile { Optimizer = opt.StateDict() }.Save(path);
            var loaded = CheckpointFile.Load(path);
            var b = Matrices();
            var fresh = new Muon(b, lr: 0.05);
            fresh.LoadStateDict(loaded.OptimizerStateFor(fresh));
            Assert.Equal(opt.StateDict().ToJson(), fresh.StateDict().ToJson());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void A_step_allocates_nothing_once_the_state_exists_on_matrices_large_enough_to_split_their_products()
    {
        var ps = Matrices().Append(new Parameter(Enumerable.Range(0, 256 * 300).Select(i => (float)Math.Sin(i)).ToArray(), 256, 300)).ToArray();
        var opt = new Muon(ps, lr: 0.01);
        Gradients(ps, 1);
        opt.Step();
        opt.Step();
        // the first steps grow the per-thread working matrices and the product's packing buffers once, on whichever of
        // the two threads steps a parameter; an allocation that came with every step would show in every measurement
        var measured = Enumerable.Range(0, 5).Select(_ =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            opt.Step();
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }).ToArray();
        Assert.Contains(0L, measured);
    }

    [Fact]
    public void Muon_composed_from_its_blocks_gives_the_Muon_class_numbers_bit_for_bit()
    {
        var a = Matrices();
        var b = Matrices();
        var muon = new Muon(a, lr: 0.05, weightDecay: 0.2, momentum: 0.9, adjustLrFn: "match_rms_adamw");
        var blocks = Transformation.Chain(
            Transformation.TraceByLerp(momentum: 0.9),
            Transformation.OrthogonalizeByNewtonSchulz(),
            Transformation.ScaleByLearningRateForShape(0.05, shape => 0.2 * Math.Sqrt(Math.Max(shape[0], shape[1]))),
            Transformation.DecoupledWeightDecay(weightDecay: 0.2, lr: 0.05));
        var composed = new ComposedOptimizer(b, blocks);
        for (int step = 0; step < 5; step++)
        {
            Gradients(a, step);
            Gradients(b, step);
            muon.Step();
            composed.Step();
        }
        for (int i = 0; i < a.Length; i++) Assert.Equal(a[i].Data, b[i].Data);
    }

    [Fact]
    public void MuonWithAdamW_steps_the_matrices_as_Muon_and_the_vectors_as_AdamW()
    {
        Parameter[] Model() =>
        [
            new Parameter(Enumerable.Range(0, 20).Select(i => (float)Math.Sin(i)).ToArray(), 4, 5) { Name = "0.weight" },
            new Parameter([0.1f, -0.2f, 0.3f, 0.05f], 4) { Name = "0.bias" },
            new Parameter(Enumerable.Range(0, 8).Select(i => (float)Math.Cos(i)).ToArray(), 2, 4) { Name = "1.weight" },
            new Parameter([0.5f, -0.5f], 2) { Name = "1.bias" },
        ];
        var together = Model();
        var apart = Model();
        var one = new ComposedOptimizer(together,
            Transformation.MuonWithAdamW(Transformation.Muon(lr: 0.02), Transformation.AdamW(lr: 3e-3)));
        var muon = new Muon(apart.Where(p => p.Shape.Length == 2), lr: 0.02);
        var adamw = new AdamW(apart.Where(p => p.Shape.Length != 2), lr: 3e-3);
        for (int step = 0; step < 5; step++)
        {
            Gradients(together, step);
            Gradients(apart, step);
            one.Step();
            muon.Step();
            adamw.Step();
        }
        // a partition's update is p·(1 − lr·λ) + u − p, which p + update rounds once more than an optimizer's own step
        for (int i = 0; i < together.Length; i++)
            GoldenFixtures.AssertClose(together[i].Name!, apart[i].Data, together[i].Data);
        Assert.NotEqual(Model()[0].Data, together[0].Data);
    }
}
