using System.Reflection;

namespace Optim.CSharp.Tests;

/// <summary>
/// torch.optim.SGD written by hand as a subclass of <see cref="Optimizer"/>, with the per-element arithmetic of
/// torch.optim.SGD (and of the built-in <see cref="SGD"/>'s kernel): <c>d = ±g + λp</c>; <c>b = d</c> on the first
/// step, then <c>b = μb + (1 − τ)d</c>; <c>d = b</c> or <c>d + μb</c>; <c>p = p − lr·d</c>.
/// </summary>
public sealed class HandSgd : Optimizer
{
    public HandSgd(IEnumerable<Parameter> parameters, double lr, double momentum = 0, double dampening = 0,
                   double weightDecay = 0, bool nesterov = false, bool maximize = false)
        : base(parameters, Defaults(lr, momentum, dampening, weightDecay, nesterov, maximize), "HandSGD", "momentum_buffer") { }

    public HandSgd(IEnumerable<ParamGroup> groups, double lr, double momentum = 0, double dampening = 0,
                   double weightDecay = 0, bool nesterov = false, bool maximize = false)
        : base(groups, Defaults(lr, momentum, dampening, weightDecay, nesterov, maximize), "HandSGD", "momentum_buffer") { }

    private static OptimizerDefaults Defaults(double lr, double momentum, double dampening, double weightDecay, bool nesterov, bool maximize) =>
        new()
        {
            { "lr", lr }, { "momentum", momentum }, { "dampening", dampening }, { "weight_decay", weightDecay },
            { "nesterov", nesterov }, { "maximize", maximize },
        };

    protected override void ValidateGroup(ParamGroup group)
    {
        if (group["nesterov"] != 0 && (group["momentum"] <= 0 || group["dampening"] != 0))
            throw new ArgumentException("Nesterov momentum requires a momentum and zero dampening.", "nesterov");
    }

    protected override void StepParameter(ParamGroup group, Parameter p, ReadOnlySpan<float> grad)
    {
        float negLr = (float)-group.Lr, wd = (float)group["weight_decay"], mu = (float)group["momentum"];
        float keep = (float)(1 - group["dampening"]);
        bool nesterov = group["nesterov"] != 0, maximize = group["maximize"] != 0;
        bool first = !TryGetState(p, "momentum_buffer", out var buf);
        if (mu != 0) buf ??= GetState(p, "momentum_buffer");
        var x = p.Data;
        for (int i = 0; i < x.Length; i++)
        {
            float d = maximize ? -grad[i] : grad[i];
            if (wd != 0) d += wd * x[i];
            if (mu != 0)
            {
                buf![i] = first ? d : buf[i] * mu + keep * d;
                d = nesterov ? d + mu * buf[i] : buf[i];
            }
            x[i] += negLr * d;
        }
    }

    /// <summary>The protected step count, for the tests.</summary>
    public long StepOf(Parameter p) => GetStep(p);

    /// <summary>The protected state lookup, for the tests.</summary>
    public float[]? BufferOf(Parameter p, string name) => TryGetState(p, name, out var b) ? b : null;
}

/// <summary>
/// The LAMB subclass of docs/custom-optimizers.md (whose own copy Optim.Docs.Tests runs): LAMB (You et al., "Large Batch Optimization for Deep Learning: Training BERT in 76 minutes", 2020): Adam's
/// direction plus weight decay, u = m̂ / (√v̂ + ε) + λp, rescaled per parameter by the trust ratio ‖p‖ / ‖u‖.
/// </summary>
public sealed class Lamb : Optimizer
{
    public Lamb(IEnumerable<Parameter> parameters, double lr = 1e-3, (double, double)? betas = null,
                double eps = 1e-6, double weightDecay = 0)
        : base(parameters,
               new OptimizerDefaults { { "lr", lr }, { "betas", betas ?? (0.9, 0.999) }, { "eps", eps }, { "weight_decay", weightDecay } },
               kind: "Lamb", "exp_avg", "exp_avg_sq") { }

    protected override void StepParameter(ParamGroup group, Parameter p, ReadOnlySpan<float> grad)
    {
        float[] m = GetState(p, "exp_avg"), v = GetState(p, "exp_avg_sq");   // zeros at first
        long t = GetStep(p);                                                 // 1 on the first step
        var (beta1, beta2) = group.Betas;
        float b1 = (float)beta1, b2 = (float)beta2, omb1 = (float)(1 - beta1), omb2 = (float)(1 - beta2);
        float corr1 = (float)(1 / (1 - Math.Pow(beta1, t))), sqrtBc2 = (float)Math.Sqrt(1 - Math.Pow(beta2, t));
        float eps = (float)group["eps"], wd = (float)group["weight_decay"];

        var u = new float[p.Numel];
        double pSquares = 0, uSquares = 0;
        for (int i = 0; i < u.Length; i++)
        {
            m[i] = m[i] * b1 + omb1 * grad[i];
            v[i] = v[i] * b2 + omb2 * grad[i] * grad[i];
            u[i] = corr1 * m[i] / (MathF.Sqrt(v[i]) / sqrtBc2 + eps) + wd * p.Data[i];
            pSquares += (double)p.Data[i] * p.Data[i];
            uSquares += (double)u[i] * u[i];
        }
        float ratio = pSquares > 0 && uSquares > 0 ? (float)(Math.Sqrt(pSquares) / Math.Sqrt(uSquares)) : 1f;
        float negLr = (float)-group.Lr;
        for (int i = 0; i < u.Length; i++) p.Data[i] += negLr * (ratio * u[i]);
    }
}

/// <summary>An optimizer that declares a buffer and a pair, to exercise the protected API's checks.</summary>
public sealed class Probe : Optimizer
{
    public Probe(IEnumerable<Parameter> parameters, params string[] stateNames)
        : base(parameters, new OptimizerDefaults { { "lr", 0.1 }, { "betas", (0.5, 0.25) } }, "Probe", stateNames) { }

    protected override void StepParameter(ParamGroup group, Parameter p, ReadOnlySpan<float> grad)
    {
        var acc = GetState(p, "acc");
        for (int i = 0; i < grad.Length; i++) acc[i] += grad[i];
    }

    public float[] State(Parameter p, string name) => GetState(p, name);
}

/// <summary>A subclass that forgets to write its step.</summary>
public sealed class NoStep : Optimizer
{
    public NoStep(IEnumerable<Parameter> parameters) : base(parameters, new OptimizerDefaults { { "lr", 0.1 } }, "NoStep") { }
}

public class SubclassingTests
{
    private static Parameter[] Params(int seed)
    {
        var rng = new Random(seed);
        int[][] shapes = [[5], [3, 4], [17], [2, 3, 2]];
        return shapes.Select((s, k) => new Parameter(
            Enumerable.Range(0, s.Aggregate(1, (a, b) => a * b)).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray(), s)
        { Name = $"p{k}" }).ToArray();
    }

    /// <summary>The same gradients for both sets of parameters: random, with parameter 1 getting none on every third step.</summary>
    private static void SetGrads(Random rng, int step, params Parameter[][] sets)
    {
        for (int k = 0; k < sets[0].Length; k++)
        {
            float[]? g = step % 3 == 1 && k == 1 ? null
                : Enumerable.Range(0, sets[0][k].Numel).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            foreach (var set in sets) set[k].Grad = g is null ? null : (float[])g.Clone();
        }
    }

    private static void AssertSameBits(Parameter[] expected, Parameter[] actual, string what)
    {
        for (int k = 0; k < expected.Length; k++)
            for (int i = 0; i < expected[k].Numel; i++)
                if (BitConverter.SingleToInt32Bits(expected[k].Data[i]) != BitConverter.SingleToInt32Bits(actual[k].Data[i]))
                    Assert.Fail($"{what}: parameter {k} element {i} is {actual[k].Data[i]}, the built-in SGD has {expected[k].Data[i]}");
    }

    public static TheoryData<double, double, double, bool, bool> SgdSettings => new()
    {
        { 0.0, 0.0, 0.0, false, false },
        { 0.9, 0.0, 0.0, false, false },
        { 0.9, 0.1, 1e-2, false, false },
        { 0.8, 0.0, 1e-3, true, false },
        { 0.5, 0.3, 0.0, false, true },
    };

    [Theory, MemberData(nameof(SgdSettings))]
    public void AHandWrittenSgdSubclassFollowsTheBuiltInSgdBitForBit(double momentum, double dampening, double weightDecay, bool nesterov, bool maximize)
    {
        var (a, b) = (Params(1), Params(1));
        a[3].RequiresGrad = b[3].RequiresGrad = false;
        var builtIn = new SGD([new ParamGroup(a[..2]), new ParamGroup(a[2..]) { Lr = 0.02 }], 0.05, momentum, dampening, weightDecay, nesterov, maximize);
        var hand = new HandSgd([new ParamGroup(b[..2]), new ParamGroup(b[2..]) { Lr = 0.02 }], 0.05, momentum, dampening, weightDecay, nesterov, maximize);
        var rng = new Random(7);
        for (int step = 0; step < 25; step++)
        {
            SetGrads(rng, step, a, b);
            builtIn.Step();
            hand.Step();
            AssertSameBits(a, b, $"step {step + 1}");
        }
        // the same state in the same JSON layout: only the kind differs
        Assert.Equal(builtIn.StateDict().ToJson().Replace("\"SGD\"", "\"HandSGD\""), hand.StateDict().ToJson());
    }

    [Fact]
    public void StepCountsOnlyTheParametersThatHaveAGradientAndRequireOne()
    {
        var ps = Params(2);
        ps[3].RequiresGrad = false;
        var opt = new HandSgd(ps, 0.1, momentum: 0.9);
        var rng = new Random(3);
        for (int step = 0; step < 4; step++)
        {
            SetGrads(rng, step, ps);
            opt.Step();
        }
        Assert.Equal([4L, 3L, 4L, 0L], ps.Select(opt.StepOf));
        Assert.Null(opt.BufferOf(ps[3], "momentum_buffer"));
        Assert.NotNull(opt.BufferOf(ps[0], "momentum_buffer"));
    }

    [Fact]
    public void ZeroGradClearsTheGradientsOfASubclass()
    {
        var ps = Params(3);
        var opt = new HandSgd(ps, 0.1);
        SetGrads(new Random(1), 0, ps);
        opt.ZeroGrad(setToNone: false);
        Assert.All(ps, p => Assert.All(p.Grad!, g => Assert.Equal(0f, g)));
        opt.ZeroGrad();
        Assert.All(ps, p => Assert.Null(p.Grad));
        var before = ps.Select(p => (float[])p.Data.Clone()).ToArray();
        opt.Step();
        Assert.Equal(before, ps.Select(p => p.Data));
    }

    [Fact]
    public void GroupsOfASubclassTakeItsDefaultsAndAddParamGroupStartsTheNewParametersWithoutState()
    {
        var ps = Params(4);
        var opt = new HandSgd([new ParamGroup(ps[..2]) { ["momentum"] = 0.5 }], 0.1, momentum: 0.9, weightDecay: 1e-3);
        var g0 = opt.ParamGroups[0];
        Assert.Equal((0.1, 0.5, 0.0, 1e-3, 0.0, 0.0), (g0.Lr, g0["momentum"], g0["dampening"], g0["weight_decay"], g0["nesterov"], g0["maximize"]));
        SetGrads(new Random(5), 0, ps);
        opt.Step();

        var late = new ParamGroup(ps[2..]) { Lr = 0.01, ["nesterov"] = 1 };
        opt.AddParamGroup(late);
        Assert.Equal((0.01, 0.9, 0.0, 1.0), (late.Lr, late["momentum"], late["dampening"], late["nesterov"]));
        Assert.Equal(0L, opt.StepOf(ps[2]));
        Assert.Null(opt.BufferOf(ps[2], "momentum_buffer"));
        SetGrads(new Random(6), 0, ps);
        opt.Step();
        Assert.Equal([2L, 2L, 1L, 1L], ps.Select(opt.StepOf));

        // the subclass's ValidateGroup runs on the group with its defaults filled in; a failure leaves both as they were
        var bad = new ParamGroup([new Parameter([1f, 2f])]) { ["nesterov"] = 1, ["dampening"] = 0.5 };
        Assert.Throws<ArgumentException>(() => opt.AddParamGroup(bad));
        Assert.Equal(["nesterov", "dampening"], bad.Keys);
        Assert.Equal(2, opt.ParamGroups.Count);
    }

    [Fact]
    public void AnInvalidGroupMakesStepOfASubclassUpdateNothing()
    {
        var ps = Params(5);
        var opt = new HandSgd([new ParamGroup(ps[..2]), new ParamGroup(ps[2..])], 0.1, momentum: 0.9);
        opt.ParamGroups[1]["nesterov"] = 1;
        opt.ParamGroups[1]["dampening"] = 0.5;
        SetGrads(new Random(2), 0, ps);
        var before = ps.Select(p => (float[])p.Data.Clone()).ToArray();
        Assert.Throws<ArgumentException>(() => opt.Step());
        Assert.Equal(before, ps.Select(p => p.Data));
        Assert.All(ps, p => Assert.Equal(0L, opt.StepOf(p)));
    }

    [Fact]
    public void StepLRChangesTheLearningRateOfASubclassAsOfTheBuiltInSgd()
    {
        var (a, b) = (Params(6), Params(6));
        var builtIn = new SGD(a, 0.1, momentum: 0.9);
        var hand = new HandSgd(b, 0.1, momentum: 0.9);
        var (sa, sb) = (new StepLR(builtIn, stepSize: 3, gamma: 0.5), new StepLR(hand, stepSize: 3, gamma: 0.5));
        var rng = new Random(8);
        for (int step = 0; step < 10; step++)
        {
            SetGrads(rng, step, a, b);
            builtIn.Step();
            hand.Step();
            sa.Step();
            sb.Step();
            Assert.Equal(0.1 * Math.Pow(0.5, (step + 1) / 3), hand.ParamGroups[0].Lr, 1e-15);
            Assert.Equal(sa.GetLastLr(), sb.GetLastLr());
            AssertSameBits(a, b, $"step {step + 1}");
        }
    }

    [Fact]
    public void AStateDictJsonRoundTripOfASubclassResumesExactly()
    {
        var (a, b) = (Params(7), Params(7));
        HandSgd Make(Parameter[] ps) => new([new ParamGroup(ps[..2]), new ParamGroup(ps[2..]) { Lr = 0.03 }], 0.1, momentum: 0.9, dampening: 0.1);
        var straight = Make(a);
        var first = Make(b);
        var rng = new Random(9);
        for (int step = 0; step < 20; step++)
        {
            SetGrads(rng, step, a, b);
            straight.Step();
            first.Step();
            if (step == 9)
            {
                first.ParamGroups[1].Lr = 0.02;
                straight.ParamGroups[1].Lr = 0.02;
                var json = first.StateDict().ToJson();
                Assert.Contains("\"optimizer\":\"HandSGD\"", json);
                Assert.Contains("\"momentum_buffer\":[", json);
                Assert.Contains("\"nesterov\":false", json);
                first = Make(b);
                first.LoadStateDict(StateDict.FromJson(json));
                Assert.Equal(0.02, first.ParamGroups[1].Lr);
                Assert.Equal(json, first.StateDict().ToJson());
            }
        }
        AssertSameBits(a, b, "after the round trip");
    }

    [Fact]
    public void AStateDictOfAnotherKindDoesNotLoadIntoASubclassAndChangesNothing()
    {
        var ps = Params(8);
        var opt = new HandSgd(ps, 0.1, momentum: 0.9);
        SetGrads(new Random(10), 0, ps);
        opt.Step();
        var before = opt.StateDict().ToJson();

        var other = Params(8);
        var sgd = new SGD(other, 0.5, momentum: 0.5);
        SetGrads(new Random(11), 0, other);
        sgd.Step();
        var e = Assert.ThrowsAny<ArgumentException>(() => opt.LoadStateDict(sgd.StateDict()));
        Assert.Contains("SGD", e.Message);
        var lamb = new Lamb(Params(8));
        Assert.ThrowsAny<ArgumentException>(() => opt.LoadStateDict(lamb.StateDict()));
        Assert.Equal(before, opt.StateDict().ToJson());

        // and a buffer this kind does not keep is refused too
        var foreign = before.Replace("\"momentum_buffer\"", "\"exp_avg\"");
        Assert.ThrowsAny<ArgumentException>(() => opt.LoadStateDict(StateDict.FromJson(foreign)));
        Assert.Equal(before, opt.StateDict().ToJson());
    }

    [Fact]
    public void TheDocumentedLambSubclassFollowsTheCoresLambWithinTolerance()
    {
        double lr = 0.01, wd = 0.02;
        var ps = Params(9);
        var opt = new Lamb(ps, lr: lr, weightDecay: wd);
        var core = OptimizerModule.ofTransform(Alias.lamb(new LambOptions(lr, 0.9, 0.999, 1e-6, wd, false)));
        var tensors = Params(9).Select(p => new CoreTensor(p.Shape, p.Data)).ToArray();
        var state = core.Init.Invoke(tensors);
        var rng = new Random(12);
        for (int step = 0; step < 25; step++)
        {
            SetGrads(rng, step, ps);
            var grads = ps.Select(p => p.Grad is null ? null : (float[])p.Grad.Clone()).ToArray();
            opt.Step();
            (tensors, state) = core.Step.Invoke(tensors).Invoke(grads!).Invoke(state);
            for (int k = 0; k < ps.Length; k++)
                GoldenFixtures.AssertClose($"step {step + 1} parameter {k}", tensors[k].Data, ps[k].Data);
        }
        using var mine = System.Text.Json.JsonDocument.Parse(opt.StateDict().ToJson());
        var s = mine.RootElement.GetProperty("state");
        for (int k = 0; k < ps.Length; k++)
        {
            Assert.Equal(state.Steps[k], s.GetProperty($"{k}").GetProperty("step").GetInt64());
            GoldenFixtures.AssertClose($"exp_avg {k}", StateModule.buffer("exp_avg", state)[k], GoldenFixtures.Floats(s.GetProperty($"{k}").GetProperty("exp_avg")));
        }
    }

    [Fact]
    public void ALambSubclassResumesExactlyFromItsStateDict()
    {
        var (a, b) = (Params(10), Params(10));
        var straight = new Lamb(a, lr: 0.01, weightDecay: 0.01);
        var resumed = new Lamb(b, lr: 0.01, weightDecay: 0.01);
        var rng = new Random(13);
        for (int step = 0; step < 12; step++)
        {
            SetGrads(rng, step, a, b);
            straight.Step();
            resumed.Step();
            if (step == 5)
            {
                var json = resumed.StateDict().ToJson();
                resumed = new Lamb(b, lr: 0.01, weightDecay: 0.01);
                resumed.LoadStateDict(StateDict.FromJson(json));
            }
        }
        AssertSameBits(a, b, "LAMB after the round trip");
    }

    [Fact]
    public void ASubclassWithoutAStepParameterFailsOnStepAsPyTorchsBaseStepDoes()
    {
        var p = new Parameter([1f]) { Grad = [1f] };
        var e = Assert.Throws<NotImplementedException>(() => new NoStep([p]).Step());
        Assert.Contains("NoStep must override StepParameter", e.Message);
    }

    [Fact]
    public void ASubclassRefusesASparseGradient()
    {
        var p = new Parameter(new float[6], 3, 2);
        p.AccumulateSparseGrad([1], [1f, 2f]);
        Assert.Throws<InvalidOperationException>(() => new HandSgd([p], 0.1).Step());
    }

    [Fact]
    public void StateLookupsNameTheMissingBufferOrParameter()
    {
        var p = new Parameter([1f, 2f]);
        var opt = new Probe([p], "acc");
        Assert.Equal(new float[2], opt.State(p, "acc"));
        var e = Assert.Throws<ArgumentException>(() => opt.State(p, "exp_avg"));
        Assert.Contains("'exp_avg'", e.Message);
        Assert.Contains("acc", e.Message);
        Assert.Throws<ArgumentException>(() => opt.State(new Parameter([0f]), "acc"));
        p.Grad = [1f, 3f];
        opt.Step();
        opt.Step();
        Assert.Equal([2f, 6f], opt.State(p, "acc"));
        Assert.Equal((0.5, 0.25), opt.ParamGroups[0].Betas);
    }

    [Fact]
    public void BadStateNamesAndKindsAreRefusedAtConstruction()
    {
        var p = new Parameter([1f]);
        Assert.Throws<ArgumentException>(() => new Probe([p], "acc", "acc"));
        Assert.Throws<ArgumentException>(() => new Probe([p], "step"));
        Assert.Throws<ArgumentException>(() => new Probe([p], ""));
        Assert.Throws<ArgumentException>(() => new Probe([]));
    }

    [Fact]
    public void OptimizerDefaultsCheckKeysAndValuesAsParamGroupsDo()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new OptimizerDefaults { { "lr", -1.0 } });
        Assert.Equal("lr", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new OptimizerDefaults { { "betas", (0.9, 1.0) } });
        Assert.Throws<ArgumentException>(() => new OptimizerDefaults { { "betas", 0.9 } });
        Assert.Throws<ArgumentException>(() => new OptimizerDefaults { { "lr", 0.1 }, { "lr", 0.2 } });
        Assert.Throws<ArgumentException>(() => new OptimizerDefaults { { "params", 1.0 } });
        Assert.Throws<ArgumentException>(() => new OptimizerDefaults { { "line_search_fn", 1.0 } });
        var d = new OptimizerDefaults { { "lr", 0.1 }, { "betas", (0.9, 0.99) }, { "maximize", true } };
        Assert.Equal(["lr", "betas", "maximize"], d.Keys);
        Assert.True(d.ContainsKey("maximize"));
    }

    [Fact]
    public void OptimizerCanBeSubclassedOutsideTheLibrary()
    {
        // nothing abstract or required is hidden from another assembly (this one sees internals, a user's does not)
        const BindingFlags all = BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;
        var abstracts = typeof(Optimizer).GetMethods(all).Where(m => m.IsAbstract && !(m.IsPublic || m.IsFamily)).Select(m => m.Name).ToList();
        Assert.Empty(abstracts);
        var ctors = typeof(Optimizer).GetConstructors(all).Where(c => c.IsFamily).ToList();
        Assert.Equal(2, ctors.Count);
        Assert.All(ctors, c => Assert.All(c.GetParameters(), p => Assert.True(IsPublic(p.ParameterType), $"{p.ParameterType}")));
        foreach (var name in new[] { "StepParameter", "ValidateGroup", "GetState", "TryGetState", "GetStep" })
            Assert.True(typeof(Optimizer).GetMethod(name, all)!.IsFamily, name);
    }

    private static bool IsPublic(Type t) =>
        t.IsArray ? IsPublic(t.GetElementType()!) : t.IsPublic && (!t.IsGenericType || t.GetGenericArguments().All(IsPublic));
}
