using System.Reflection;
using System.Text.Json;
using Optim;
using Optim.CSharp;

namespace Optim.CSharp.Tests;

/// <summary>
/// Every built-in elementwise class against its core descriptor: the same keys, defaults and rules as PyTorch's class,
/// in its constructor, its groups, its state dicts and its group indexer.
/// </summary>
public sealed class DescriptorTests
{
    /// <summary>
    /// torch.optim's keys and defaults, in PyTorch's order, from PyTorch 1.13's documentation (NAdam's and RAdam's
    /// <c>decoupled_weight_decay</c> and <c>maximize</c> from 2.x's); null: PyTorch requires the argument.
    /// </summary>
    private static readonly Dictionary<string, (string Key, object? Value)[]> Torch = new()
    {
        ["SGD"] = [("lr", null), ("momentum", 0.0), ("dampening", 0.0), ("weight_decay", 0.0), ("nesterov", false), ("maximize", false)],
        ["Adam"] = [("lr", 1e-3), ("betas", (0.9, 0.999)), ("eps", 1e-8), ("weight_decay", 0.0), ("amsgrad", false), ("maximize", false)],
        ["AdamW"] = [("lr", 1e-3), ("betas", (0.9, 0.999)), ("eps", 1e-8), ("weight_decay", 1e-2), ("amsgrad", false), ("maximize", false)],
        ["Adagrad"] = [("lr", 1e-2), ("lr_decay", 0.0), ("weight_decay", 0.0), ("initial_accumulator_value", 0.0), ("eps", 1e-10), ("maximize", false)],
        ["RMSprop"] = [("lr", 1e-2), ("alpha", 0.99), ("eps", 1e-8), ("weight_decay", 0.0), ("momentum", 0.0), ("centered", false), ("maximize", false)],
        ["Adadelta"] = [("lr", 1.0), ("rho", 0.9), ("eps", 1e-6), ("weight_decay", 0.0), ("maximize", false)],
        ["Adamax"] = [("lr", 2e-3), ("betas", (0.9, 0.999)), ("eps", 1e-8), ("weight_decay", 0.0), ("maximize", false)],
        ["NAdam"] = [("lr", 2e-3), ("betas", (0.9, 0.999)), ("eps", 1e-8), ("weight_decay", 0.0), ("momentum_decay", 4e-3),
                     ("decoupled_weight_decay", false), ("maximize", false)],
        ["RAdam"] = [("lr", 1e-3), ("betas", (0.9, 0.999)), ("eps", 1e-8), ("weight_decay", 0.0), ("decoupled_weight_decay", false), ("maximize", false)],
        ["ASGD"] = [("lr", 1e-2), ("lambd", 1e-4), ("alpha", 0.75), ("t0", 1e6), ("weight_decay", 0.0), ("maximize", false)],
        ["Rprop"] = [("lr", 1e-2), ("etas", (0.5, 1.2)), ("step_sizes", (1e-6, 50.0)), ("maximize", false)],
    };

    /// <summary>SGD's learning rate, which PyTorch requires.</summary>
    private const double SgdLr = 0.1;

    private static readonly double[] Negative = [-1, double.NaN, double.PositiveInfinity];

    /// <summary>Bad values by key (each pair with the element the message must show), where every optimizer that has the key agrees.</summary>
    private static readonly Dictionary<string, object[]> Bad = new()
    {
        ["lr"] = [.. Negative.Cast<object>()],
        ["momentum"] = [.. Negative.Cast<object>()],
        ["dampening"] = [.. Negative.Cast<object>()],
        ["weight_decay"] = [.. Negative.Cast<object>()],
        ["eps"] = [.. Negative.Cast<object>()],
        ["lr_decay"] = [.. Negative.Cast<object>()],
        ["initial_accumulator_value"] = [.. Negative.Cast<object>()],
        ["alpha"] = [.. Negative.Cast<object>()],
        ["lambd"] = [.. Negative.Cast<object>()],
        ["t0"] = [.. Negative.Cast<object>()],
        ["momentum_decay"] = [.. Negative.Cast<object>()],
        ["rho"] = [1.5, -0.1, double.NaN],
        ["betas"] = [((1.0, 0.999), 1.0), ((-0.1, 0.999), -0.1), ((0.9, 1.0), 1.0), ((0.9, double.NaN), double.NaN)],
        ["etas"] = [((0.0, 1.2), 0.0), ((1.0, 1.2), 1.0), ((0.5, 1.0), 1.0), ((0.5, double.PositiveInfinity), double.PositiveInfinity)],
        ["step_sizes"] = [((-1e-6, 50.0), -1e-6), ((1e-6, double.NaN), double.NaN), ((1.0, 0.5), 0.5)],
    };

    private static Parameter[] Params() => [new Parameter([1f, -2f, 3f], 3), new Parameter([0.5f, 0.25f], 2)];

    public static IEnumerable<object[]> Kinds() => Descriptors.torch.Select(d => new object[] { d.Kind });

    private static Descriptor Of(string kind) => Descriptors.torch.Single(d => d.Kind == kind);

    private static ConstructorInfo Constructor(string kind) =>
        typeof(Optimizer).Assembly.GetType("Optim.CSharp." + kind)!.GetConstructors()
            .Single(c => c.GetParameters()[0].ParameterType == typeof(IEnumerable<Parameter>));

    /// <summary>The class over <see cref="Params"/>, each argument at its C# default unless given by camelCase name.</summary>
    private static Optimizer Build(string kind, params (string Name, object Value)[] arguments)
    {
        var ctor = Constructor(kind);
        var args = ctor.GetParameters().Select((p, i) =>
            i == 0 ? Params()
            : arguments.Any(a => a.Name == p.Name) ? arguments.Single(a => a.Name == p.Name).Value
            : p.HasDefaultValue ? p.DefaultValue
            : SgdLr).ToArray();
        try { return (Optimizer)ctor.Invoke(args); }
        catch (TargetInvocationException e) when (e.InnerException is not null) { throw e.InnerException; }
    }

    private static object? DefaultOf(HyperSpec s) => s.Default.Length == 0 ? null : s.Kind switch
    {
        HyperKind.Pair => (s.Default[0], s.Default[1]),
        HyperKind.Flag => s.Default[0] != 0,
        _ => s.Default[0],
    };

    [Fact]
    public void The_descriptors_are_torch_optims_classes_with_PyTorchs_keys_and_defaults_in_PyTorchs_order()
    {
        Assert.Equal(Torch.Keys.Order(), Descriptors.torch.Select(d => d.Kind).Order());
        foreach (var d in Descriptors.torch)
        {
            Assert.Equal(Torch[d.Kind].Select(t => t.Key), d.Specs.Select(s => s.Key));
            foreach (var (spec, (_, value)) in d.Specs.Zip(Torch[d.Kind]))
            {
                Assert.Equal(value, DefaultOf(spec));
                var kind = value switch { bool => HyperKind.Flag, ValueTuple<double, double> => HyperKind.Pair, _ => HyperKind.Scalar };
                Assert.Equal(kind, spec.Kind);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Both_constructors_take_the_descriptors_arguments_in_its_order_with_its_defaults(string kind)
    {
        var d = Of(kind);
        var ctors = typeof(Optimizer).Assembly.GetType("Optim.CSharp." + kind)!.GetConstructors();
        Assert.Equal(2, ctors.Length);
        foreach (var ctor in ctors)
        {
            var ps = ctor.GetParameters().Skip(1).ToArray();
            Assert.Equal(d.Specs.Select(s => s.Name), ps.Select(p => p.Name));
            foreach (var (spec, p) in d.Specs.Zip(ps))
            {
                // a required one has no default where the parameters come as one list, and null (each group sets its
                // own, as PyTorch's lr=required) where they come as groups
                if (spec.Default.Length == 0)
                {
                    if (ps[0].Member is ConstructorInfo c && c.GetParameters()[0].ParameterType == typeof(IEnumerable<ParamGroup>))
                        Assert.True(p.HasDefaultValue && p.DefaultValue is null && p.ParameterType == typeof(double?), $"{kind}'s '{p.Name}' over groups");
                    else Assert.False(p.HasDefaultValue);
                }
                // a pair's C# default is null, which stands for the descriptor's
                else Assert.Equal(spec.Kind == HyperKind.Pair ? null : DefaultOf(spec), p.DefaultValue);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void A_class_built_with_no_arguments_has_PyTorchs_keys_and_defaults_in_its_group_and_its_state_dict(string kind)
    {
        var opt = Build(kind);
        var g = opt.ParamGroups[0];
        var expected = Torch[kind].Select(t => (t.Key, Value: t.Value ?? SgdLr)).ToArray();
        Assert.Equal(expected.Select(t => t.Key).Order(), g.Keys.Order());
        using var json = JsonDocument.Parse(opt.StateDict().ToJson());
        var saved = json.RootElement.GetProperty("param_groups")[0];
        Assert.Equal(expected.Select(t => t.Key).Append("params").Order(), saved.EnumerateObject().Select(p => p.Name).Order());
        foreach (var (key, value) in expected)
        {
            var s = saved.GetProperty(key);
            switch (value)
            {
                case bool b:
                    Assert.Equal(b ? 1.0 : 0.0, g[key]);
                    Assert.Equal(b, s.GetBoolean());
                    break;
                case ValueTuple<double, double> pair:
                    Assert.Equal(pair, g.GetPair(key));
                    Assert.Equal([pair.Item1, pair.Item2], s.EnumerateArray().Select(e => e.GetDouble()));
                    break;
                default:
                    Assert.Equal((double)value, g[key]);
                    Assert.Equal((double)value, s.GetDouble());
                    break;
            }
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Every_bad_value_of_every_rule_is_rejected_by_the_constructor_and_the_group_indexer_naming_it_and_changing_nothing(string kind)
    {
        var d = Of(kind);
        // every rule of one key has bad values here
        foreach (var rule in d.Rules.Where(r => r.Keys.Length == 1)) Assert.True(Bad.ContainsKey(rule.Keys[0]), rule.Keys[0]);
        foreach (var spec in d.Specs.Where(s => Bad.ContainsKey(s.Key)))
        {
            foreach (var bad in Bad[spec.Key])
            {
                var (value, shown) = bad is ValueTuple<ValueTuple<double, double>, double> p ? ((object)p.Item1, p.Item2) : (bad, (double)bad);
                var e = Assert.ThrowsAny<ArgumentException>(() => Build(kind, (spec.Name, value)));
                Assert.Equal(spec.Name, e.ParamName);
                Assert.Contains(shown.ToString(), e.Message);

                var opt = Build(kind);
                var g = opt.ParamGroups[0];
                var before = opt.StateDict().ToJson();
                Action set = value is ValueTuple<double, double> pair ? () => g.SetPair(spec.Key, pair) : () => g[spec.Key] = (double)value;
                e = Assert.ThrowsAny<ArgumentException>(set);
                Assert.Equal(spec.Key, e.ParamName);
                Assert.Contains(shown.ToString(), e.Message);
                Assert.Equal(before, opt.StateDict().ToJson());

                // a group not yet added follows the same rule, and is left without the key
                var fresh = new ParamGroup(Params());
                set = value is ValueTuple<double, double> q ? () => fresh.SetPair(spec.Key, q) : () => fresh[spec.Key] = (double)value;
                Assert.Equal(spec.Key, Assert.ThrowsAny<ArgumentException>(set).ParamName);
                Assert.False(fresh.ContainsKey(spec.Key));
            }
        }
    }

    [Fact]
    public void SGDs_Nesterov_condition_reads_three_keys_and_is_checked_by_the_constructor_when_a_group_is_added_and_before_a_step()
    {
        Assert.Single(Of("SGD").Rules, r => r.Keys.Length > 1);
        Assert.Equal("nesterov", Assert.ThrowsAny<ArgumentException>(() => Build("SGD", ("nesterov", true))).ParamName);
        Assert.Equal("nesterov", Assert.ThrowsAny<ArgumentException>(() => Build("SGD", ("nesterov", true), ("momentum", 0.9), ("dampening", 0.5))).ParamName);
        var opt = Build("SGD", ("nesterov", true), ("momentum", 0.9));
        var g = new ParamGroup([new Parameter([1f])]) { ["momentum"] = 0 };
        Assert.Equal("nesterov", Assert.ThrowsAny<ArgumentException>(() => opt.AddParamGroup(g)).ParamName);
        Assert.Equal(["momentum"], g.Keys);
        // set one key at a time, a group may pass through such a state; the step refuses it and moves nothing
        var p = opt.ParamGroups[0].Params[0];
        p.Grad = [1f, 1f, 1f];
        var before = p.Data.ToArray();
        opt.ParamGroups[0]["momentum"] = 0;
        Assert.Equal("nesterov", Assert.ThrowsAny<ArgumentException>(() => opt.Step()).ParamName);
        Assert.Equal(before, p.Data);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void The_descriptors_buffers_are_exactly_the_state_keys_after_one_step_with_every_buffer_in_use(string kind)
    {
        var d = Of(kind);
        var arguments = d.EveryBuffer.Select(o =>
        {
            var spec = d.Specs.Single(s => s.Key == o.Item1);
            return (spec.Name, spec.Kind == HyperKind.Flag ? (object)(o.Item2[0] != 0) : o.Item2[0]);
        }).ToArray();
        var opt = Build(kind, arguments);
        foreach (var p in opt.ParamGroups[0].Params) p.Grad = Enumerable.Repeat(0.5f, p.Numel).ToArray();
        opt.Step();
        using var json = JsonDocument.Parse(opt.StateDict().ToJson());
        foreach (var state in json.RootElement.GetProperty("state").EnumerateObject())
            Assert.Equal(d.Buffers.Order(), state.Value.EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(opt.ParamGroups[0].Params.Count, json.RootElement.GetProperty("state").EnumerateObject().Count());
    }
}
