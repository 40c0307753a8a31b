using Optim.CSharp;

namespace Optim.CSharp.Tests;

/// <summary>PyTorch 2.x's optimizer hooks (<c>register_step_pre_hook</c>, …, <c>register_load_state_dict_post_hook</c>) on every kind of optimizer.</summary>
public class OptimizerHooksTests
{
    private static Parameter[] Params() => [new([1f, -2f, 3f]) { Name = "w" }, new([0.5f, 4f]) { Name = "b" }];

    private static void Grads(Optimizer o)
    {
        foreach (var p in o.ParamGroups.SelectMany(g => g.Params)) p.Grad = p.Data.Select(x => 2 * x).ToArray();
    }

    private static float[] Data(Optimizer o) => o.ParamGroups.SelectMany(g => g.Params).SelectMany(p => p.Data).ToArray();

    /// <summary>A built-in class, a composed optimizer, a subclass, and LBFGS (which overrides the whole step).</summary>
    public static TheoryData<string> Kinds() => new("Adam", "Composed", "Subclass", "LBFGS");

    private static Optimizer Make(string kind, Parameter[] ps) => kind switch
    {
        "Adam" => new Adam(ps, lr: 0.1),
        "Composed" => new ComposedOptimizer(ps, Transformation.ClipByValue(1.0).Then(Transformation.Adam(lr: 0.1))),
        "Subclass" => new HandSgd(ps, lr: 0.1, momentum: 0.9),
        "LBFGS" => new LBFGS(ps),
        _ => throw new ArgumentException(kind, nameof(kind)),
    };

    private static float Closure(Optimizer o)
    {
        o.ZeroGrad();
        Grads(o);
        return Data(o).Sum(x => x * x);
    }

    private static float? StepOnce(string kind, Optimizer o)
    {
        if (kind == "LBFGS") return o.Step(() => Closure(o));
        Grads(o);
        return o.Step(kind == "Adam" ? () => 7f : null);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Step_hooks_run_before_and_after_the_whole_step_in_registration_order_with_the_optimizer(string kind)
    {
        var ps = Params();
        var o = Make(kind, ps);
        var before = Data(o);
        var log = new List<string>();
        float[]? seenBefore = null, seenAfter = null;
        o.RegisterStepPreHook(x => { Assert.Same(o, x); seenBefore = Data(x); log.Add("pre 1"); });
        o.RegisterStepPreHook(x => { Assert.Same(o, x); log.Add("pre 2"); });
        o.RegisterStepPostHook(x => { Assert.Same(o, x); seenAfter = Data(x); log.Add("post 1"); });
        o.RegisterStepPostHook(x => { Assert.Same(o, x); log.Add("post 2"); });

        var loss = StepOnce(kind, o);

        Assert.Equal(["pre 1", "pre 2", "post 1", "post 2"], log);
        Assert.Equal(before, seenBefore);
        Assert.Equal(Data(o), seenAfter);
        Assert.NotEqual(before, Data(o));
        if (kind == "Adam") Assert.Equal(7f, loss);
    }

    [Fact]
    public void Pre_hooks_run_before_the_closure()
    {
        var o = new Adam(Params(), lr: 0.1);
        var log = new List<string>();
        o.RegisterStepPreHook(_ => log.Add("pre"));
        o.RegisterStepPostHook(_ => log.Add("post"));
        Grads(o);
        o.Step(() => { log.Add("closure"); return 1f; });
        Assert.Equal(["pre", "closure", "post"], log);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void A_removed_hook_no_longer_runs_and_removing_it_twice_is_harmless(string kind)
    {
        var o = Make(kind, Params());
        int pre = 0, post = 0, other = 0;
        var a = o.RegisterStepPreHook(_ => pre++);
        var b = o.RegisterStepPostHook(_ => post++);
        o.RegisterStepPostHook(_ => other++);
        StepOnce(kind, o);
        a.Remove();
        b.Dispose();
        a.Remove();
        b.Remove();
        StepOnce(kind, o);
        Assert.Equal((1, 1, 2), (pre, post, other));
    }

    [Fact]
    public void A_handle_in_a_using_scope_removes_its_hook_at_the_end_of_the_scope()
    {
        var o = new SGD(Params(), lr: 0.1);
        int calls = 0;
        using (o.RegisterStepPostHook(_ => calls++)) o.Step();
        o.Step();
        Assert.Equal(1, calls);
    }

    [Fact]
    public void A_hook_registered_twice_runs_twice_and_each_handle_removes_one()
    {
        var o = new SGD(Params(), lr: 0.1);
        int calls = 0;
        Action<Optimizer> hook = _ => calls++;
        var first = o.RegisterStepPreHook(hook);
        o.RegisterStepPreHook(hook);
        o.Step();
        first.Remove();
        o.Step();
        Assert.Equal(3, calls);
    }

    [Fact]
    public void A_hook_that_removes_itself_while_the_hooks_run_lets_the_others_of_that_step_run()
    {
        var o = new SGD(Params(), lr: 0.1);
        var log = new List<string>();
        RemovableHandle? self = null;
        self = o.RegisterStepPreHook(_ => { log.Add("once"); self!.Remove(); });
        o.RegisterStepPreHook(_ => log.Add("always"));
        o.Step();
        o.Step();
        Assert.Equal(["once", "always", "always"], log);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void A_throwing_step_pre_hook_surfaces_and_nothing_of_the_step_happens(string kind)
    {
        var o = Make(kind, Params());
        StepOnce(kind, o);
        var data = Data(o);
        var json = o.StateDict().ToJson();
        int steps = o.StepCount, later = 0, closures = 0;
        o.RegisterStepPreHook(_ => throw new InvalidOperationException("no"));
        o.RegisterStepPreHook(_ => later++);
        o.RegisterStepPostHook(_ => later++);
        Grads(o);
        var e = Assert.Throws<InvalidOperationException>(() => o.Step(() => { closures++; return Closure(o); }));
        Assert.Equal("no", e.Message);
        Assert.Equal(data, Data(o));
        Assert.Equal(json, o.StateDict().ToJson());
        Assert.Equal((steps, 0, 0), (o.StepCount, later, closures));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void A_throwing_step_post_hook_surfaces_after_the_whole_step(string kind)
    {
        var o = Make(kind, Params());
        var reference = Make(kind, Params());
        int later = 0;
        o.RegisterStepPostHook(_ => throw new InvalidOperationException("after"));
        o.RegisterStepPostHook(_ => later++);
        Assert.Throws<InvalidOperationException>(() => StepOnce(kind, o));
        StepOnce(kind, reference);
        Assert.Equal(Data(reference), Data(o));
        Assert.Equal(reference.StepCount, o.StepCount);
        Assert.Equal(reference.StateDict().ToJson(), o.StateDict().ToJson());
        Assert.Equal(0, later);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void State_dict_hooks_run_around_the_build_and_a_post_hook_replaces_the_dict(string kind)
    {
        var o = Make(kind, Params());
        StepOnce(kind, o);
        var other = Make(kind, Params());
        var replacement = other.StateDict();
        var log = new List<string>();
        // a pre-hook runs before the dict is built: what it changes is in the dict
        o.RegisterStateDictPreHook(x => { Assert.Same(o, x); log.Add("pre"); x.ParamGroups[0].Lr = 0.25; });
        o.RegisterStateDictPostHook((x, sd) => { Assert.Same(o, x); Assert.Contains("0.25", sd.ToJson()); log.Add("post keeps"); return null; });
        o.RegisterStateDictPostHook((_, _) => { log.Add("post replaces"); return replacement; });
        o.RegisterStateDictPostHook((_, sd) => { Assert.Same(replacement, sd); log.Add("post sees the replacement"); return null; });

        var result = o.StateDict();

        Assert.Same(replacement, result);
        Assert.Equal(["pre", "post keeps", "post replaces", "post sees the replacement"], log);
    }

    [Fact]
    public void State_dict_hooks_registered_with_prepend_run_before_the_others()
    {
        var o = new Adam(Params());
        var log = new List<string>();
        o.RegisterStateDictPreHook(_ => log.Add("pre 1"));
        o.RegisterStateDictPreHook(_ => log.Add("pre 0"), prepend: true);
        o.RegisterStateDictPostHook((_, _) => { log.Add("post 1"); return null; });
        o.RegisterStateDictPostHook((_, _) => { log.Add("post 0"); return null; }, prepend: true);
        o.RegisterLoadStateDictPreHook((_, _) => { log.Add("load pre 1"); return null; });
        o.RegisterLoadStateDictPreHook((_, _) => { log.Add("load pre 0"); return null; }, prepend: true);
        o.RegisterLoadStateDictPostHook(_ => log.Add("load post 1"));
        o.RegisterLoadStateDictPostHook(_ => log.Add("load post 0"), prepend: true);
        o.LoadStateDict(o.StateDict());
        Assert.Equal(["pre 0", "pre 1", "post 0", "post 1", "load pre 0", "load pre 1", "load post 0", "load post 1"], log);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Load_state_dict_pre_hooks_may_replace_the_dict_and_post_hooks_see_the_loaded_optimizer(string kind)
    {
        var o = Make(kind, Params());
        var source = Make(kind, Params());
        source.ParamGroups[0].Lr = 0.5;
        StepOnce(kind, source);
        var given = Make(kind, Params()).StateDict();
        var wanted = source.StateDict();
        var log = new List<string>();
        o.RegisterLoadStateDictPreHook((x, sd) => { Assert.Same(o, x); Assert.Same(given, sd); log.Add("pre replaces"); return wanted; });
        o.RegisterLoadStateDictPreHook((_, sd) => { Assert.Same(wanted, sd); log.Add("pre keeps"); return null; });
        o.RegisterLoadStateDictPostHook(x => { Assert.Same(o, x); Assert.Equal(0.5, x.ParamGroups[0].Lr); log.Add("post"); });

        o.LoadStateDict(given);

        Assert.Equal(["pre replaces", "pre keeps", "post"], log);
        Assert.Equal(wanted.ToJson(), o.StateDict().ToJson());
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void A_throwing_load_state_dict_pre_hook_leaves_the_optimizer_exactly_as_it_was(string kind)
    {
        var o = Make(kind, Params());
        StepOnce(kind, o);
        var json = o.StateDict().ToJson();
        var data = Data(o);
        var lr = o.ParamGroups[0].Lr;
        var source = Make(kind, Params());
        source.ParamGroups[0].Lr = 0.5;
        StepOnce(kind, source);
        StepOnce(kind, source);
        int posts = 0;
        o.RegisterLoadStateDictPreHook((_, _) => throw new InvalidOperationException("refused"));
        o.RegisterLoadStateDictPostHook(_ => posts++);
        Assert.Throws<InvalidOperationException>(() => o.LoadStateDict(source.StateDict()));
        Assert.Equal(json, o.StateDict().ToJson());
        Assert.Equal(data, Data(o));
        Assert.Equal((lr, 0), (o.ParamGroups[0].Lr, posts));
    }

    [Fact]
    public void A_replacement_that_does_not_fit_is_refused_as_a_state_dict_given_directly_and_changes_nothing()
    {
        var o = new Adam(Params());
        var json = o.StateDict().ToJson();
        int posts = 0;
        o.RegisterLoadStateDictPreHook((_, _) => new SGD(Params(), lr: 0.1).StateDict());
        o.RegisterLoadStateDictPostHook(_ => posts++);
        Assert.ThrowsAny<ArgumentException>(() => o.LoadStateDict(o.StateDict()));
        Assert.Equal(json, o.StateDict().ToJson());
        Assert.Equal(0, posts);
    }

    [Fact]
    public void A_throwing_load_state_dict_post_hook_surfaces_after_the_whole_load()
    {
        var o = new Adam(Params());
        var source = new Adam(Params(), lr: 0.5);
        StepOnce("Adam", source);
        o.RegisterLoadStateDictPostHook(_ => throw new InvalidOperationException("after"));
        Assert.Throws<InvalidOperationException>(() => o.LoadStateDict(source.StateDict()));
        Assert.Equal(source.StateDict().ToJson(), o.StateDict().ToJson());
    }

    [Fact]
    public void A_throwing_state_dict_hook_surfaces_and_changes_nothing()
    {
        var o = new Adam(Params());
        var json = o.StateDict().ToJson();
        using (o.RegisterStateDictPostHook((_, _) => throw new InvalidOperationException("post")))
            Assert.Throws<InvalidOperationException>(() => o.StateDict());
        using (o.RegisterStateDictPreHook(_ => throw new InvalidOperationException("pre")))
            Assert.Throws<InvalidOperationException>(() => o.StateDict());
        Assert.Equal(json, o.StateDict().ToJson());
    }

    [Fact]
    public void A_null_hook_is_rejected_with_its_name()
    {
        var o = new Adam(Params());
        Assert.Equal("hook", Assert.Throws<ArgumentNullException>(() => o.RegisterStepPreHook(null!)).ParamName);
        Assert.Equal("hook", Assert.Throws<ArgumentNullException>(() => o.RegisterStepPostHook(null!)).ParamName);
        Assert.Equal("hook", Assert.Throws<ArgumentNullException>(() => o.RegisterStateDictPreHook(null!)).ParamName);
        Assert.Equal("hook", Assert.Throws<ArgumentNullException>(() => o.RegisterStateDictPostHook(null!)).ParamName);
        Assert.Equal("hook", Assert.Throws<ArgumentNullException>(() => o.RegisterLoadStateDictPreHook(null!)).ParamName);
        Assert.Equal("hook", Assert.Throws<ArgumentNullException>(() => o.RegisterLoadStateDictPostHook(null!)).ParamName);
        Assert.Equal("hook", Assert.Throws<ArgumentNullException>(() => Optimizer.RegisterOptimizerStepPreHook(null!)).ParamName);
        Assert.Equal("hook", Assert.Throws<ArgumentNullException>(() => Optimizer.RegisterOptimizerStepPostHook(null!)).ParamName);
    }

    [Fact]
    public void Global_step_hooks_run_for_every_optimizer_pre_before_its_own_and_post_after_its_own()
    {
        var adam = new Adam(Params());
        var sgd = new HandSgd(Params(), lr: 0.1);
        var log = new List<string>();
        // other tests step their optimizers meanwhile: the global hooks record only these two (and allocate nothing for the others)
        void Record(Optimizer o, string what)
        {
            if (ReferenceEquals(o, adam) || ReferenceEquals(o, sgd)) lock (log) log.Add($"{o.GetType().Name} {what}");
        }
        using (Optimizer.RegisterOptimizerStepPreHook(o => Record(o, "global pre")))
        using (Optimizer.RegisterOptimizerStepPostHook(o => Record(o, "global post")))
        {
            adam.RegisterStepPreHook(o => Record(o, "pre"));
            adam.RegisterStepPostHook(o => Record(o, "post"));
            adam.Step();
            sgd.Step();
        }
        adam.Step();
        sgd.Step();
        Assert.Equal(["Adam global pre", "Adam pre", "Adam post", "Adam global post", "HandSgd global pre", "HandSgd global post", "Adam pre", "Adam post"], log);
    }

    [Theory]
    [InlineData("Adam")]
    [InlineData("Composed")]
    public void A_step_allocates_nothing_after_hooks_were_registered_and_removed_and_with_a_hook_that_allocates_nothing(string kind)
    {
        var ps = Enumerable.Range(0, 20).Select(i => new Parameter(new float[1000 + i])).ToArray();
        var o = Make(kind, ps);
        foreach (var p in ps) p.Grad = Enumerable.Range(0, p.Numel).Select(i => (float)Math.Sin(i + 1)).ToArray();
        o.RegisterStepPreHook(_ => { }).Remove();
        o.RegisterStepPostHook(_ => { }).Remove();
        Allocation.AssertStepAllocatesNothing(() => o.Step());
        int calls = 0;
        o.RegisterStepPreHook(_ => calls++);
        o.RegisterStepPostHook(_ => calls++);
        Allocation.AssertStepAllocatesNothing(() => o.Step());
        Assert.True(calls > 0);
    }
}
