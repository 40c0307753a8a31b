using Optim.CSharp;
using Xunit;

namespace Optim.CSharp.Tests;

/// <summary>
/// The facade of Adagrad, RMSprop, Adadelta, Adamax, NAdam, RAdam, ASGD, Rprop, Adafactor and Muon: validation of every
/// hyperparameter, pair-valued group keys, state-dict round trips, and allocation-free steps.
/// </summary>
public sealed class AllOptimizersFacadeTests
{
    /// <summary>Two parameters of 5 and 37 elements: vectors, or, for an optimizer of matrices (Muon), a 1×5 and a 37×1.</summary>
    private static Parameter[] Params(bool matrices = false) => matrices
        ? [new Parameter([1f, -2f, 3f, 0.5f, -0.25f], 1, 5), new Parameter(new float[37], 37, 1)]
        : [new Parameter([1f, -2f, 3f, 0.5f, -0.25f], 5), new Parameter(new float[37], 37)];

    /// <summary>Every optimizer kind with every flag that changes which buffers it keeps turned on, and whether it takes matrices only.</summary>
    public static IEnumerable<object[]> Kinds() =>
        new (Func<IEnumerable<Parameter>, Optimizer> Make, bool Matrices)[]
        {
            (ps => new Adagrad(ps, lrDecay: 0.1, weightDecay: 0.01, initialAccumulatorValue: 0.1), false),
            (ps => new RMSprop(ps, momentum: 0.9, centered: true, weightDecay: 0.01), false),
            (ps => new Adadelta(ps, weightDecay: 0.01), false),
            (ps => new Adamax(ps, weightDecay: 0.01), false),
            (ps => new NAdam(ps, weightDecay: 0.01, decoupledWeightDecay: true), false),
            (ps => new RAdam(ps, weightDecay: 0.01), false),
            (ps => new ASGD(ps, t0: 1, weightDecay: 0.01), false),
            (ps => new Rprop(ps, maximize: true), false),
            (ps => new Adafactor(ps, weightDecay: 0.01, maximize: true), false),
            (ps => new Muon(ps, lr: 0.02, nesterov: false, adjustLrFn: "match_rms_adamw"), true),
        }.Select(k => new object[] { k.Make, k.Matrices });

    public static IEnumerable<object[]> Invalid() =>
        new (string Name, Action Build)[]
        {
            ("lr", () => new Adagrad(Params(), lr: -1)),
            ("lrDecay", () => new Adagrad(Params(), lrDecay: -0.1)),
            ("weightDecay", () => new Adagrad(Params(), weightDecay: double.NaN)),
            ("initialAccumulatorValue", () => new Adagrad(Params(), initialAccumulatorValue: -1)),
            ("eps", () => new Adagrad(Params(), eps: -1)),
            ("alpha", () => new RMSprop(Params(), alpha: -0.5)),
            ("momentum", () => new RMSprop(Params(), momentum: -0.9)),
            ("eps", () => new RMSprop(Params(), eps: double.PositiveInfinity)),
            ("rho", () => new Adadelta(Params(), rho: 1.5)),
            ("lr", () => new Adadelta(Params(), lr: -1)),
            ("betas", () => new Adamax(Params(), betas: (1.0, 0.999))),
            ("betas", () => new Adamax(Params(), betas: (0.9, -0.1))),
            ("momentumDecay", () => new NAdam(Params(), momentumDecay: -1)),
            ("betas", () => new NAdam(Params(), betas: (0.9, 1.0))),
            ("weightDecay", () => new RAdam(Params(), weightDecay: -1, decoupledWeightDecay: true)),
            ("eps", () => new RAdam(Params(), eps: -1e-8)),
            ("lambd", () => new ASGD(Params(), lambd: -1e-4)),
            ("alpha", () => new ASGD(Params(), alpha: double.NaN)),
            ("t0", () => new ASGD(Params(), t0: -1)),
            ("etas", () => new Rprop(Params(), etas: (1.0, 1.2))),
            ("etas", () => new Rprop(Params(), etas: (0.5, 1.0))),
            ("stepSizes", () => new Rprop(Params(), stepSizes: (-1e-6, 50))),
            ("stepSizes", () => new Rprop(Params(), stepSizes: (1, 0.5))),
            ("lr", () => new Adafactor(Params(), lr: -1e-2)),
            ("beta2Decay", () => new Adafactor(Params(), beta2Decay: 0.8)),
            ("eps", () => new Adafactor(Params(), eps: (-1e-30, 1e-3))),
            ("eps", () => new Adafactor(Params(), eps: (null, -1e-3))),
            ("d", () => new Adafactor(Params(), d: 0.5)),
            ("weightDecay", () => new Adafactor(Params(), weightDecay: -0.1)),
            ("lr", () => new Muon(Params(true), lr: -1e-3)),
            ("weightDecay", () => new Muon(Params(true), weightDecay: -0.1)),
            ("momentum", () => new Muon(Params(true), momentum: 1.0)),
            ("momentum", () => new Muon(Params(true), momentum: -0.5)),
            ("eps", () => new Muon(Params(true), eps: -1e-7)),
            ("nsSteps", () => new Muon(Params(true), nsSteps: 0)),
            ("nsSteps", () => new Muon(Params(true), nsSteps: 100)),
            ("nsCoefficients", () => new Muon(Params(true), nsCoefficients: (3.4445, double.NaN, 2.0315))),
            ("adjustLrFn", () => new Muon(Params(true), adjustLrFn: "rms")),
        }.Select(c => new object[] { c.Name, c.Build });

    [Theory]
    [MemberData(nameof(Invalid))]
    public void An_invalid_hyperparameter_is_rejected_at_construction_naming_the_argument(string name, Action build)
    {
        var e = Assert.ThrowsAny<ArgumentException>(build);
        Assert.Equal(name, e.ParamName);
    }

    [Fact]
    public void Pair_keys_are_read_and_set_as_pairs_and_checked()
    {
        var g = new ParamGroup(Params());
        var opt = new Rprop([g], etas: (0.4, 1.3));
        Assert.Equal((0.4, 1.3), g.GetPair("etas"));
        Assert.Equal((1e-6, 50.0), g.GetPair("step_sizes"));
        Assert.True(g.ContainsKey("etas"));
        Assert.Throws<KeyNotFoundException>(() => g["etas"]);
        Assert.Throws<ArgumentException>(() => g["step_sizes"] = 1);
        Assert.Throws<KeyNotFoundException>(() => g.Betas);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => g.SetPair("etas", (0.5, 0.9)));
        Assert.Equal("etas", e.ParamName);
        Assert.Equal((0.4, 1.3), g.GetPair("etas"));
        g.SetPair("step_sizes", (1e-3, 1.0));
        Assert.Equal(["lr", "maximize", "etas", "step_sizes"], g.Keys);
        Assert.Same(opt.ParamGroups[0], g);
    }

    [Fact]
    public void Betas_is_the_pair_named_betas()
    {
        var g = new ParamGroup(Params());
        _ = new NAdam([g]);
        Assert.Equal((0.9, 0.999), g.Betas);
        g.SetPair("betas", (0.8, 0.99));
        Assert.Equal((0.8, 0.99), g.Betas);
        Assert.Throws<ArgumentOutOfRangeException>(() => g.Betas = (0.8, 1.0));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void A_state_dict_round_trip_through_JSON_continues_the_same_trajectory(Func<IEnumerable<Parameter>, Optimizer> make, bool matrices)
    {
        var a = Params(matrices);
        var b = Params(matrices);
        var oa = make(a);
        var ob = make(b);
        var rng = new Random(7);
        float[][] Grads() => a.Select(p => Enumerable.Range(0, p.Numel).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray()).ToArray();
        for (int step = 0; step < 6; step++)
        {
            if (step == 3)
            {
                oa.ParamGroups[0].Lr = oa.ParamGroups[0].Lr / 2;
                ob = make(b);
                ob.LoadStateDict(StateDict.FromJson(oa.StateDict().ToJson()));
                Assert.Equal(oa.ParamGroups[0].Lr, ob.ParamGroups[0].Lr);
            }
            var g = Grads();
            for (int i = 0; i < a.Length; i++) { a[i].Grad = g[i]; b[i].Grad = (float[])g[i].Clone(); }
            oa.Step();
            ob.Step();
        }
        for (int i = 0; i < a.Length; i++) Assert.Equal(a[i].Data, b[i].Data);
        Assert.Equal(oa.StateDict().ToJson(), ob.StateDict().ToJson());
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Many_parameters_stepped_on_two_threads_get_the_numbers_each_gets_alone(Func<IEnumerable<Parameter>, Optimizer> make, bool matrices)
    {
        // 1.2M elements together, so one optimizer shares them between its two threads; alone, each runs on one
        int[] shape = matrices ? [40, 100] : [4000];
        Parameter[] Many() => Enumerable.Range(0, 300).Select(k => new Parameter(Enumerable.Range(0, 4000).Select(i => (float)Math.Sin(k * 4000 + i)).ToArray(), shape)).ToArray();
        var together = Many();
        var alone = Many();
        var shared = make(together);
        var single = alone.Select(p => make([p])).ToArray();
        for (int step = 0; step < 3; step++)
        {
            foreach (var ps in new[] { together, alone })
                foreach (var p in ps) p.Grad = p.Data.Select((x, i) => (float)Math.Cos(x * 3 + i + step)).ToArray();
            shared.Step();
            foreach (var o in single) o.Step();
        }
        for (int k = 0; k < together.Length; k++) Assert.Equal(alone[k].Data, together[k].Data);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void A_step_allocates_nothing_once_the_state_exists(Func<IEnumerable<Parameter>, Optimizer> make, bool matrices)
    {
        var ps = Params(matrices);
        var opt = make(ps);
        foreach (var p in ps) p.Grad = Enumerable.Range(0, p.Numel).Select(i => (float)Math.Sin(i + 1)).ToArray();
        Allocation.AssertStepAllocatesNothing(() => opt.Step());
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void A_parameter_without_a_gradient_keeps_its_value_and_gets_no_state(Func<IEnumerable<Parameter>, Optimizer> make, bool matrices)
    {
        var ps = Params(matrices);
        var opt = make(ps);
        var before = (float[])ps[1].Data.Clone();
        ps[0].Grad = [0.5f, -0.5f, 1f, 0f, 2f];
        opt.Step();
        opt.Step();
        Assert.Equal(before, ps[1].Data);
        var json = opt.StateDict().ToJson();
        Assert.Contains("\"0\":{\"step\":2", json);
        // Adagrad creates its state with the group, as PyTorch does; the others only at a first gradient
        Assert.Equal(opt is Adagrad, json.Contains("\"1\":{\"step\":0"));
    }

    [Fact]
    public void A_state_dict_with_a_malformed_per_parameter_scalar_is_rejected_and_the_optimizer_is_unchanged()
    {
        var ps = Params();
        var opt = new ASGD(ps, t0: 1);
        foreach (var p in ps) p.Grad = new float[p.Numel];
        opt.Step();
        var good = opt.StateDict().ToJson();
        // parameter 0 has 5 elements, so the document is well formed, but "mu" holds one value per parameter
        int at = good.IndexOf("\"mu\":[1]", StringComparison.Ordinal);
        var bad = good[..at] + "\"mu\":[1,1,1,1,1]" + good[(at + "\"mu\":[1]".Length)..];
        Assert.NotEqual(good, bad);
        var e = Assert.ThrowsAny<ArgumentException>(() => opt.LoadStateDict(StateDict.FromJson(bad)));
        Assert.Contains("'mu'", e.Message);
        Assert.Equal(good, opt.StateDict().ToJson());
    }
}
