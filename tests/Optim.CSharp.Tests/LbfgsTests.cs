using System.Text.Json;
using Optim.CSharp;

namespace Optim.CSharp.Tests;

/// <summary>
/// The fixtures' objectives (tests/golden/generate_lbfgs.py) over the concatenation of the parameters they use,
/// in float64 in the generator's order, rounded to float32: bit for bit the generator's losses and gradients.
/// </summary>
internal static class LbfgsProblems
{
    public static (double F, double[] G) Rosenbrock(double[] x)
    {
        int n = x.Length;
        double f = 0;
        var g = new double[n];
        for (int i = 0; i < n - 1; i++)
        {
            double a = x[i + 1] - x[i] * x[i];
            double b = 1.0 - x[i];
            f += 100.0 * a * a + b * b;
            g[i] += -400.0 * x[i] * a - 2.0 * b;
            g[i + 1] += 200.0 * a;
        }
        return (f, g);
    }

    public static (double F, double[] G) Wells(double[] x)
    {
        int n = x.Length;
        double f = 0;
        var g = new double[n];
        for (int i = 0; i < n; i++)
        {
            double x2 = x[i] * x[i];
            f += x2 * x2 - 4.0 * x2 + x[i];
            g[i] += 4.0 * x2 * x[i] - 8.0 * x[i] + 1.0;
        }
        for (int i = 0; i < n - 1; i++)
        {
            f += 0.5 * x[i] * x[i + 1];
            g[i] += 0.5 * x[i + 1];
            g[i + 1] += 0.5 * x[i];
        }
        return (f, g);
    }

    public static Func<double[], (double, double[])> Quadratic(double[][] a, double[] b) => x =>
    {
        int n = x.Length;
        double f = 0;
        var g = new double[n];
        for (int i = 0; i < n; i++)
        {
            double ax = 0;
            for (int j = 0; j < n; j++) ax += a[i][j] * x[j];
            g[i] = ax - b[i];
            f += x[i] * (0.5 * ax - b[i]);
        }
        return (f, g);
    };

    public static Func<double[], (double, double[])> Of(JsonElement problem) => problem.GetProperty("kind").GetString() switch
    {
        "rosenbrock" => Rosenbrock,
        "wells" => Wells,
        _ => Quadratic(
            problem.GetProperty("a").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray(),
            problem.GetProperty("b").EnumerateArray().Select(v => v.GetDouble()).ToArray()),
    };

    /// <summary>The closure PyTorch's tests use: zero the gradients, evaluate, accumulate the used parameters' gradients.</summary>
    public static Func<float> Closure(Func<Optimizer> optimizer, IReadOnlyList<Parameter> used, Func<double[], (double, double[])> objective) => () =>
    {
        optimizer().ZeroGrad();
        var x = used.SelectMany(p => p.Data.Select(v => (double)v)).ToArray();
        var (f, g) = objective(x);
        int offset = 0;
        foreach (var p in used)
        {
            p.AccumulateGrad(g.Skip(offset).Take(p.Numel).Select(v => (float)v).ToArray());
            offset += p.Numel;
        }
        return (float)f;
    };
}

public sealed class LbfgsGoldenTests
{
    public static IEnumerable<object[]> Cases => GoldenFixtures.Names("lbfgs");

    private static LBFGS Make(IEnumerable<Parameter> ps, JsonElement d) => new(ps,
        lr: d.GetProperty("lr").GetDouble(), maxIter: d.GetProperty("max_iter").GetInt32(), maxEval: d.GetProperty("max_eval").GetInt32(),
        toleranceGrad: d.GetProperty("tolerance_grad").GetDouble(), toleranceChange: d.GetProperty("tolerance_change").GetDouble(),
        historySize: d.GetProperty("history_size").GetInt32(),
        lineSearchFn: d.GetProperty("line_search_fn").ValueKind == JsonValueKind.Null ? null : d.GetProperty("line_search_fn").GetString());

    [Theory, MemberData(nameof(Cases))]
    public void LbfgsThroughTheFacadeFollowsPyTorchStepByStep(string name)
    {
        var c = GoldenFixtures.Cases("lbfgs").Single(x => x.GetProperty("name").GetString() == name);
        var problem = c.GetProperty("problem");
        var unused = problem.TryGetProperty("grad_none", out var u) ? u.EnumerateArray().Select(i => i.GetInt32()).ToHashSet() : [];
        var ps = c.GetProperty("params").EnumerateArray().Select(GoldenFixtures.MakeParameter).ToList();
        var defaults = c.GetProperty("defaults");
        var opt = Make(ps, defaults);
        int calls = 0;
        var closure = LbfgsProblems.Closure(() => opt, ps.Where((_, i) => !unused.Contains(i)).ToList(), LbfgsProblems.Of(problem));
        int stepNo = 0;
        foreach (var step in c.GetProperty("steps").EnumerateArray())
        {
            stepNo++;
            if (step.TryGetProperty("before", out var events))
                foreach (var e in events.EnumerateArray())
                {
                    if (e.TryGetProperty("set", out var set))
                        opt.ParamGroups[0][set.GetProperty("key").GetString()!] = set.GetProperty("value").GetDouble();
                    else
                    {
                        var json = opt.StateDict().ToJson();
                        var fresh = Make(ps, defaults);
                        fresh.LoadStateDict(StateDict.FromJson(json));
                        opt = fresh;
                    }
                }
            calls = 0;
            float? loss = opt.Step(() => { calls++; return closure(); });
            string where = $"{name}: step {stepNo}";
            GoldenFixtures.AssertClose($"{where}: the loss", [step.GetProperty("loss").GetSingle()], [loss!.Value]);
            Assert.Equal(step.GetProperty("evals").GetInt32(), calls);
            var expected = step.GetProperty("params").EnumerateArray().ToArray();
            for (int i = 0; i < ps.Count; i++)
                GoldenFixtures.AssertClose($"{where}: parameter {i}", GoldenFixtures.Floats(expected[i]), ps[i].Data);
            using var sd = JsonDocument.Parse(opt.StateDict().ToJson());
            var s0 = sd.RootElement.GetProperty("state").GetProperty("0");
            Assert.Equal(step.GetProperty("func_evals").GetInt64(), s0.GetProperty("func_evals").GetInt64());
            Assert.Equal(step.GetProperty("n_iter").GetInt64(), s0.GetProperty("n_iter").GetInt64());
        }
        using var mine = JsonDocument.Parse(opt.StateDict().ToJson());
        var ours = mine.RootElement.GetProperty("state").GetProperty("0");
        foreach (var field in c.GetProperty("final_state").GetProperty("0").EnumerateObject())
        {
            var o = ours.GetProperty(field.Name);
            switch (field.Value.ValueKind)
            {
                case JsonValueKind.Number:
                    GoldenFixtures.AssertClose($"{name}: state {field.Name}", [field.Value.GetSingle()], [o.GetSingle()]);
                    break;
                case JsonValueKind.Array when field.Value.GetArrayLength() > 0 && field.Value[0].ValueKind == JsonValueKind.Array:
                    Assert.Equal(field.Value.GetArrayLength(), o.GetArrayLength());
                    for (int k = 0; k < field.Value.GetArrayLength(); k++)
                        GoldenFixtures.AssertClose($"{name}: state {field.Name}[{k}]", GoldenFixtures.Floats(field.Value[k]), GoldenFixtures.Floats(o[k]));
                    break;
                default:
                    GoldenFixtures.AssertClose($"{name}: state {field.Name}", GoldenFixtures.Floats(field.Value), GoldenFixtures.Floats(o));
                    break;
            }
        }
    }
}

/// <summary>The LBFGS facade: closures, the one group, group keys, state dicts, and every bad input.</summary>
public sealed class LbfgsFacadeTests
{
    private static Parameter[] Params() => [new Parameter([-1.5f, 2f, 0.5f], 3) { Name = "a" }, new Parameter([1f, -1f, 0.25f, 2f], 2, 2) { Name = "b" }];

    private static Func<float> Closure(Optimizer opt, IReadOnlyList<Parameter> ps) => LbfgsProblems.Closure(() => opt, ps, LbfgsProblems.Rosenbrock);

    private static float[][] Data(IEnumerable<Parameter> ps) => ps.Select(p => (float[])p.Data.Clone()).ToArray();

    private static void Rejects(Action act, string paramName, string? valueText = null)
    {
        var e = Assert.ThrowsAny<ArgumentException>(act);
        Assert.Equal(paramName, e.ParamName);
        if (valueText is not null) Assert.Contains(valueText, e.Message);
    }

    [Fact]
    public void TheConstructorHasPyTorchsDefaultsAsGroupKeys()
    {
        var opt = new LBFGS(Params());
        var g = opt.ParamGroups[0];
        Assert.Equal(new[] { "lr", "max_iter", "max_eval", "tolerance_grad", "tolerance_change", "history_size", "line_search_fn" }, g.Keys);
        Assert.Equal((1.0, 20.0, 25.0, 1e-7, 1e-9, 100.0), (g.Lr, g["max_iter"], g["max_eval"], g["tolerance_grad"], g["tolerance_change"], g["history_size"]));
        Assert.Null(g.GetText("line_search_fn"));
        Assert.Equal(8.0, new LBFGS(Params(), maxIter: 7).ParamGroups[0]["max_eval"]);
        Assert.Equal("strong_wolfe", new LBFGS(Params(), lineSearchFn: "strong_wolfe").ParamGroups[0].GetText("line_search_fn"));
        Assert.Contains("LBFGS", typeof(Optimizer).Assembly.GetExportedTypes().Select(t => t.Name));
    }

    public static IEnumerable<object[]> Invalid() =>
        new (string Name, string Value, Action Build)[]
        {
            ("lr", "-1", () => new LBFGS(Params(), lr: -1)),
            ("lr", "NaN", () => new LBFGS(Params(), lr: double.NaN)),
            ("maxIter", "0", () => new LBFGS(Params(), maxIter: 0)),
            ("maxEval", "0", () => new LBFGS(Params(), maxEval: 0)),
            ("toleranceGrad", "-1", () => new LBFGS(Params(), toleranceGrad: -1)),
            ("toleranceChange", "Infinity", () => new LBFGS(Params(), toleranceChange: double.PositiveInfinity)),
            ("historySize", "-2", () => new LBFGS(Params(), historySize: -2)),
            ("lineSearchFn", "'backtracking'", () => new LBFGS(Params(), lineSearchFn: "backtracking")),
            ("lineSearchFn", "'Strong_Wolfe'", () => new LBFGS([new ParamGroup(Params())], lineSearchFn: "Strong_Wolfe")),
        }.Select(c => new object[] { c.Name, c.Value, c.Build });

    [Theory, MemberData(nameof(Invalid))]
    public void AnInvalidHyperparameterIsRejectedAtConstructionNamingTheArgumentAndValue(string name, string value, Action build) =>
        Rejects(build, name, value);

    [Fact]
    public void AStepNeedsAClosureAndMovesNothingWithout()
    {
        var ps = Params();
        var opt = new LBFGS(ps);
        var before = Data(ps);
        Rejects(() => opt.Step(), "closure");
        Rejects(() => opt.Step(null), "closure");
        Assert.Equal(before, Data(ps));
        Assert.Equal("{}", JsonDocument.Parse(opt.StateDict().ToJson()).RootElement.GetProperty("state").GetRawText());
    }

    [Fact]
    public void OnlyOneParamGroupIsAllowed()
    {
        var ps = Params();
        Rejects(() => new LBFGS([new ParamGroup([ps[0]]), new ParamGroup([ps[1]])]), "groups", "2");
        var opt = new LBFGS([new ParamGroup([ps[0]])]);
        var extra = new ParamGroup([ps[1]]) { Lr = 0.5 };
        var e = Assert.ThrowsAny<ArgumentException>(() => opt.AddParamGroup(extra));
        Assert.Equal("group", e.ParamName);
        Assert.Contains("parameter groups", e.Message);
        Assert.Single(opt.ParamGroups);
        Assert.Equal(new[] { "lr" }, extra.Keys);
    }

    [Fact]
    public void StepReturnsTheFirstLossAndLeavesTheResultInTheParameters()
    {
        var ps = Params();
        var opt = new LBFGS(ps, maxIter: 50, lineSearchFn: "strong_wolfe");
        var closure = Closure(opt, ps);
        float first = closure();
        float? loss = opt.Step(closure);
        Assert.Equal(first, loss);
        for (int k = 0; k < 10; k++) Assert.True(opt.Step(closure) <= first);
        // a stationary point of the 7-D Rosenbrock function (from this start, its local minimum near x₀ = −1)
        var (f, g) = LbfgsProblems.Rosenbrock(ps.SelectMany(p => p.Data.Select(v => (double)v)).ToArray());
        Assert.True(g.Max(Math.Abs) < 1e-3, $"max |g| = {g.Max(Math.Abs)}");
        Assert.True(f < first);
    }

    [Fact]
    public void GroupKeysAreReadAndWrittenByPyTorchKeyAndTakeEffectAtTheNextStep()
    {
        var ps = Params();
        var opt = new LBFGS(ps);
        var g = opt.ParamGroups[0];
        g["max_iter"] = 3;
        g["max_eval"] = 2;
        int calls = 0;
        var closure = Closure(opt, ps);
        opt.Step(() => { calls++; return closure(); });
        Assert.Equal(2, calls);
        g.SetText("line_search_fn", "strong_wolfe");
        g["max_eval"] = 100;
        calls = 0;
        opt.Step(() => { calls++; return closure(); });
        Assert.True(calls > 3, $"the line search makes more than one evaluation per iteration, got {calls}");
        Rejects(() => g["max_iter"] = 2.5, "max_iter", "2.5");
        Rejects(() => g["history_size"] = 0, "history_size", "0");
        Rejects(() => g["tolerance_grad"] = -1e-3, "tolerance_grad", "-0.001");
        Rejects(() => g.SetText("line_search_fn", "wolfe"), "line_search_fn", "'wolfe'");
        Rejects(() => g["line_search_fn"] = 1, "key");
        Assert.Throws<KeyNotFoundException>(() => g["line_search_fn"]);
        Rejects(() => g.SetText("lr", "x"), "key");
        Assert.Equal((3.0, 100.0, "strong_wolfe"), (g["max_iter"], g["max_eval"], g.GetText("line_search_fn")));
    }

    [Fact]
    public void AStateDictRoundTripResumesToTheSameNumbers()
    {
        foreach (var ls in new[] { null, "strong_wolfe" })
        {
            var a = Params();
            var b = Params();
            var optA = new LBFGS(a, maxIter: 4, historySize: 3, lineSearchFn: ls);
            var optB = new LBFGS(b, maxIter: 4, historySize: 3, lineSearchFn: ls);
            for (int k = 0; k < 3; k++)
            {
                optA.Step(Closure(optA, a));
                optB.Step(Closure(optB, b));
            }
            var json = optB.StateDict().ToJson();
            optB = new LBFGS(b, maxIter: 1, lineSearchFn: null);
            optB.LoadStateDict(StateDict.FromJson(json));
            Assert.Equal((4.0, 3.0, ls), (optB.ParamGroups[0]["max_iter"], optB.ParamGroups[0]["history_size"], optB.ParamGroups[0].GetText("line_search_fn")));
            for (int k = 0; k < 4; k++)
            {
                Assert.Equal(optA.Step(Closure(optA, a)), optB.Step(Closure(optB, b)));
                Assert.Equal(Data(a), Data(b));
            }
            Assert.Equal(optA.StateDict().ToJson(), optB.StateDict().ToJson());
        }
    }

    [Fact]
    public void TheStateDictFilesTheGlobalStateUnderTheFirstParameter()
    {
        var ps = Params();
        var opt = new LBFGS(ps, maxIter: 2, maxEval: 20, lineSearchFn: "strong_wolfe");
        opt.Step(Closure(opt, ps));
        using var doc = JsonDocument.Parse(opt.StateDict().ToJson());
        var root = doc.RootElement;
        Assert.Equal("LBFGS", root.GetProperty("optimizer").GetString());
        var state = root.GetProperty("state");
        Assert.Equal(new[] { "0" }, state.EnumerateObject().Select(p => p.Name));
        Assert.Equal(new[] { "func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss" },
                     state.GetProperty("0").EnumerateObject().Select(p => p.Name));
        Assert.Equal(7, state.GetProperty("0").GetProperty("d").GetArrayLength());
        Assert.Equal(2, state.GetProperty("0").GetProperty("n_iter").GetInt32());
        Assert.Equal("strong_wolfe", root.GetProperty("param_groups")[0].GetProperty("line_search_fn").GetString());
        Assert.Equal(new[] { 0, 1 }, root.GetProperty("param_groups")[0].GetProperty("params").EnumerateArray().Select(x => x.GetInt32()));
    }

    /// <summary>Two optimizers over equal parameters, one of them then exposed to <paramref name="spoil"/>: they must still agree.</summary>
    private static void Unchanged(Action<LBFGS, Parameter[]> spoil)
    {
        var a = Params();
        var b = Params();
        var optA = new LBFGS(a, maxIter: 3);
        var optB = new LBFGS(b, maxIter: 3);
        optA.Step(Closure(optA, a));
        optB.Step(Closure(optB, b));
        spoil(optB, b);
        Assert.Equal(Data(a), Data(b));
        Assert.Equal(optA.StateDict().ToJson(), optB.StateDict().ToJson());
        optA.Step(Closure(optA, a));
        optB.Step(Closure(optB, b));
        Assert.Equal(Data(a), Data(b));
    }

    [Fact]
    public void AStateDictThatDoesNotFitIsRejectedAndTheOptimizerIsUnchanged()
    {
        var other = new Parameter[] { new([1f, 2f, 3f], 3) { Name = "a" }, new([1f, 2f, 3f, 4f], 4) { Name = "b" } };
        var reshaped = new LBFGS(other, maxIter: 2);
        reshaped.Step(LbfgsProblems.Closure(() => reshaped, other, LbfgsProblems.Rosenbrock));
        var single = new Parameter[] { new([1f, 2f, 3f, 4f, 5f, 6f, 7f], 7) };
        var fewer = new LBFGS(single, maxIter: 2);
        fewer.Step(LbfgsProblems.Closure(() => fewer, single, LbfgsProblems.Rosenbrock));
        var adam = new Adam(Params());
        Unchanged((opt, _) => Rejects(() => opt.LoadStateDict(adam.StateDict()), "state", "Adam"));
        Unchanged((opt, _) => Rejects(() => opt.LoadStateDict(StateDict.FromJson(reshaped.StateDict().ToJson())), "state", "shape"));
        Unchanged((opt, _) => Rejects(() => opt.LoadStateDict(StateDict.FromJson(fewer.StateDict().ToJson())), "state", "1 parameters"));
        Unchanged((opt, _) =>
        {
            var json = opt.StateDict().ToJson().Replace("\"history_size\":100", "\"history_size\":0");
            // a state dict's bad value is the state dict's fault: a CheckpointException (argument "state") naming the key and value
            var e = Assert.Throws<CheckpointException>(() => opt.LoadStateDict(StateDict.FromJson(json)));
            Assert.Contains("history_size", e.Message);
            Assert.Contains("0", e.Message);
        });
        Unchanged((opt, _) =>
        {
            var json = opt.StateDict().ToJson().Replace("\"line_search_fn\":null", "\"line_search_fn\":\"bfgs\"");
            var e = Assert.Throws<CheckpointException>(() => opt.LoadStateDict(StateDict.FromJson(json)));
            Assert.Contains("line_search_fn", e.Message);
            Assert.Contains("'bfgs'", e.Message);
        });
        Unchanged((opt, _) =>
        {
            var json = opt.StateDict().ToJson().Replace("\"d\":[", "\"d\":[0,");
            Rejects(() => StateDict.FromJson(json), "state", "state[0].d has 8 elements");
        });
        Unchanged((opt, _) => Rejects(() => adam.LoadStateDict(opt.StateDict()), "state", "from a LBFGS optimizer"));
    }

    [Fact]
    public void AClosureThatThrowsLeavesTheParametersAndTheStateAsBefore()
    {
        Unchanged((opt, ps) =>
        {
            int calls = 0;
            var closure = Closure(opt, ps);
            var e = Assert.Throws<InvalidOperationException>(() => opt.Step(() => ++calls < 3 ? closure() : throw new InvalidOperationException("model failed")));
            Assert.Equal("model failed", e.Message);
        });
        Unchanged((opt, ps) =>
        {
            int calls = 0;
            Rejects(() => opt.Step(() => { calls++; ps[0].Grad = new float[4]; return 0f; }), "value", "4 elements");
            Assert.Equal(1, calls);
        });
    }

    [Fact]
    public void AParameterWithoutAGradientCountsAsZerosAndStaysPut()
    {
        var ps = Params();
        var frozen = new Parameter([5f, 6f]) { Name = "frozen" };
        var skipped = new Parameter([7f]) { RequiresGrad = false };
        var opt = new LBFGS(ps.Append(frozen).Append(skipped), lineSearchFn: "strong_wolfe");
        var closure = LbfgsProblems.Closure(() => opt, ps, LbfgsProblems.Rosenbrock);
        for (int k = 0; k < 3; k++) opt.Step(() => { float l = closure(); skipped.Grad = [100f]; return l; });
        Assert.Equal(new[] { 5f, 6f }, frozen.Data);
        Assert.Equal(new[] { 7f }, skipped.Data);
        // the same with gradients of zeros for both
        var twin = Params();
        var zeros = new Parameter([5f, 6f]);
        var one = new Parameter([7f]);
        var opt2 = new LBFGS(twin.Append(zeros).Append(one), lineSearchFn: "strong_wolfe");
        var closure2 = LbfgsProblems.Closure(() => opt2, twin, LbfgsProblems.Rosenbrock);
        for (int k = 0; k < 3; k++) opt2.Step(() => { float l = closure2(); zeros.Grad = new float[2]; one.Grad = [0f]; return l; });
        Assert.Equal(Data(twin), Data(ps));
        Assert.NotEqual(Data(Params()), Data(ps));
    }

    [Fact]
    public void ASparseGradientIsMadeDense()
    {
        var dense = new[] { new Parameter([1f, 2f, 3f, 4f], 2, 2) };
        var sparse = new[] { new Parameter([1f, 2f, 3f, 4f], 2, 2) };
        var optD = new LBFGS(dense, maxIter: 3);
        var optS = new LBFGS(sparse, maxIter: 3);
        float Loss(Parameter p) => p.Data.Sum(v => (v - 0.5f) * (v - 0.5f));
        for (int k = 0; k < 3; k++)
        {
            optD.Step(() => { optD.ZeroGrad(); dense[0].AccumulateGrad(dense[0].Data.Select(v => 2 * (v - 0.5f)).ToArray()); return Loss(dense[0]); });
            optS.Step(() =>
            {
                optS.ZeroGrad();
                var g = sparse[0].Data.Select(v => 2 * (v - 0.5f)).ToArray();
                sparse[0].AccumulateSparseGrad([1, 0], [g[2], g[3], g[0], g[1]]);
                return Loss(sparse[0]);
            });
            Assert.Equal(dense[0].Data, sparse[0].Data);
        }
    }

    [Fact]
    public void ThePackageReadmesLbfgsExampleRuns()
    {
        var x = new Parameter(new float[] { -1.5f, 2f });
        var lbfgs = new LBFGS(new[] { x }, lineSearchFn: "strong_wolfe");
        for (int step = 0; step < 5; step++)
            lbfgs.Step(() =>
            {
                lbfgs.ZeroGrad();
                float a = x.Data[1] - x.Data[0] * x.Data[0], b = 1 - x.Data[0];
                x.AccumulateGrad(new[] { -400 * x.Data[0] * a - 2 * b, 200 * a });   // backward of Rosenbrock's function
                return 100 * a * a + b * b;
            });
        Assert.All(x.Data, v => Assert.Equal(1f, v, 1e-3f));
    }

    [Fact]
    public void ASchedulerDrivesTheLearningRateOfLbfgs()
    {
        var ps = Params();
        var opt = new LBFGS(ps, lr: 0.8);
        var log = new StringWriter();
        var scheduler = new StepLR(opt, stepSize: 1, gamma: 0.5, log: log);
        opt.Step(Closure(opt, ps));
        scheduler.Step();
        Assert.Equal(0.4, opt.ParamGroups[0].Lr, 12);
        Assert.Equal("", log.ToString());
    }
}
