using System.Text.Json;
using Optim.CSharp;

namespace Optim.CSharp.Tests;

/// <summary>Reads the PyTorch trajectories in tests/golden and replays them through the facade.</summary>
public static class GoldenFixtures
{
    /// <summary>
    /// A fixture file's path: in the directory OPTIM_GOLDEN_DIR names when it is set (a holdout set written by
    /// tests/golden/holdout.py), else among the committed fixtures copied beside the tests.
    /// </summary>
    public static string PathOf(string file)
    {
        var dir = Environment.GetEnvironmentVariable("OPTIM_GOLDEN_DIR");
        return Path.Combine(string.IsNullOrEmpty(dir) ? Path.Combine(AppContext.BaseDirectory, "golden") : dir, file + ".json");
    }

    public static JsonElement[] Cases(string file)
    {
        var path = PathOf(file);
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.GetProperty("cases").EnumerateArray().Select(c => c.Clone()).ToArray();
    }

    public static IEnumerable<object[]> Names(string file) => Cases(file).Select(c => new object[] { c.GetProperty("name").GetString()! });

    public static float[] Floats(JsonElement e) => e.EnumerateArray().Select(x => x.GetSingle()).ToArray();

    public static Parameter MakeParameter(JsonElement def) =>
        new(Floats(def.GetProperty("data")), def.GetProperty("shape").EnumerateArray().Select(x => x.GetInt32()).ToArray())
        {
            Name = def.TryGetProperty("name", out var n) ? n.GetString() : null,
        };

    /// <summary>Sets a fixture hyperparameter on a group: numbers, booleans (1/0) and pairs.</summary>
    public static void Set(ParamGroup g, string key, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Array when key == "betas":
                g.Betas = (value[0].GetDouble(), value[1].GetDouble());
                break;
            case JsonValueKind.True:
            case JsonValueKind.False:
                g[key] = value.GetBoolean() ? 1 : 0;
                break;
            default:
                g[key] = value.GetDouble();
                break;
        }
    }

    public static ParamGroup MakeGroup(IEnumerable<Parameter> ps, JsonElement hyper, params string[] skip)
    {
        var g = new ParamGroup(ps);
        foreach (var p in hyper.EnumerateObject())
            if (p.Name != "params" && !skip.Contains(p.Name)) Set(g, p.Name, p.Value);
        return g;
    }

    /// <summary>
    /// The device the replays build their optimizers on: null for the CPU. Optim.Gpu's tests compile these replays
    /// into their own assembly and set it to ILGPU's CPU accelerator, so that the same trajectories check the device path.
    /// </summary>
    public static Device? Device { get; set; }

    /// <summary>An optimizer as a replay builds it: on <see cref="Device"/> when one is set.</summary>
    public static Optimizer OnDevice(Optimizer o)
    {
        if (Device is { } device) o.Device = device;
        return o;
    }

    /// <summary>The facade optimizer a fixture names, with the fixture's constructor defaults (on <see cref="Device"/>).</summary>
    public static Optimizer Make(string kind, IEnumerable<ParamGroup> groups, JsonElement d) => OnDevice(MakeOnCpu(kind, groups, d));

    private static Optimizer MakeOnCpu(string kind, IEnumerable<ParamGroup> groups, JsonElement d)
    {
        double D(string k) => d.GetProperty(k).GetDouble();
        bool B(string k) => d.GetProperty(k).GetBoolean();
        (double, double) Pair(string k) => (d.GetProperty(k)[0].GetDouble(), d.GetProperty(k)[1].GetDouble());
        return kind switch
        {
            "SGD" => new SGD(groups, D("lr"), D("momentum"), D("dampening"), D("weight_decay"), B("nesterov"), B("maximize")),
            "Adam" => new Adam(groups, D("lr"), Pair("betas"), D("eps"), D("weight_decay"), B("amsgrad"), B("maximize")),
            "AdamW" => new AdamW(groups, D("lr"), Pair("betas"), D("eps"), D("weight_decay"), B("amsgrad"), B("maximize")),
            _ => throw new NotSupportedException(kind),
        };
    }

    public static void AssertClose(string what, float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            if (!(Math.Abs(a - e) <= 1e-5 + 1e-4 * Math.Abs(e)))
                Assert.Fail($"{what}: element {i} is {a}, PyTorch has {e}");
        }
    }

    /// <summary>
    /// Replays a fixture case through the facade: add_param_group, hyperparameter changes and a StateDict JSON
    /// round trip into a fresh optimizer happen where PyTorch's did. Returns the final optimizer.
    /// </summary>
    public static Optimizer Replay(string file, string name)
    {
        var c = Cases(file).Single(x => x.GetProperty("name").GetString() == name);
        var kind = c.GetProperty("optimizer").GetString()!;
        var defaults = c.GetProperty("defaults");
        var ps = c.GetProperty("params").EnumerateArray().Select(MakeParameter).ToList();
        var groupDefs = new List<(int[] Indices, JsonElement Hyper)>();
        foreach (var g in c.GetProperty("groups").EnumerateArray())
            groupDefs.Add((g.GetProperty("params").EnumerateArray().Select(x => x.GetInt32()).ToArray(), g));
        Optimizer Build(int count)
        {
            var opt = Make(kind, groupDefs.Take(count).Select(gd => MakeGroup(gd.Indices.Select(i => ps[i]), gd.Hyper)), defaults);
            return opt;
        }
        int initialGroups = groupDefs.Count;
        var opt = Build(initialGroups);
        int stepNo = 0;
        foreach (var step in c.GetProperty("steps").EnumerateArray())
        {
            stepNo++;
            if (step.TryGetProperty("before", out var events))
                foreach (var e in events.EnumerateArray())
                {
                    if (e.TryGetProperty("add_param_group", out var add))
                    {
                        int first = ps.Count;
                        var added = add.GetProperty("params").EnumerateArray().Select(MakeParameter).ToList();
                        ps.AddRange(added);
                        var hyper = add.GetProperty("hyper");
                        groupDefs.Add((Enumerable.Range(first, added.Count).ToArray(), hyper));
                        opt.AddParamGroup(MakeGroup(added, hyper));
                    }
                    else if (e.TryGetProperty("set", out var set))
                        Set(opt.ParamGroups[set.GetProperty("group").GetInt32()], set.GetProperty("key").GetString()!, set.GetProperty("value"));
                    else
                    {
                        var json = opt.StateDict().ToJson();
                        var fresh = Build(initialGroups);
                        foreach (var gd in groupDefs.Skip(initialGroups))
                            fresh.AddParamGroup(MakeGroup(gd.Indices.Select(i => ps[i]), gd.Hyper));
                        fresh.LoadStateDict(StateDict.FromJson(json));
                        opt = fresh;
                    }
                }
            var grads = step.GetProperty("grads").EnumerateArray().ToArray();
            for (int i = 0; i < ps.Count; i++)
                ps[i].Grad = grads[i].ValueKind == JsonValueKind.Null ? null : Floats(grads[i]);
            opt.Step();
            var expected = step.GetProperty("params").EnumerateArray().ToArray();
            for (int i = 0; i < ps.Count; i++)
                AssertClose($"{name}: parameter {i} after step {stepNo}", Floats(expected[i]), ps[i].Data);
        }
        using var mine = JsonDocument.Parse(opt.StateDict().ToJson());
        var state = mine.RootElement.GetProperty("state");
        foreach (var entry in c.GetProperty("final_state").EnumerateObject())
            foreach (var field in entry.Value.EnumerateObject())
            {
                var ours = state.GetProperty(entry.Name).GetProperty(field.Name);
                if (field.Name == "step") Assert.Equal(field.Value.GetDouble(), ours.GetDouble());
                else AssertClose($"{name}: state {entry.Name}.{field.Name}", Floats(field.Value), Floats(ours));
            }
        return opt;
    }
}

public class GoldenReplayTests
{
    public static IEnumerable<object[]> Sgd => GoldenFixtures.Names("sgd");
    public static IEnumerable<object[]> Adam => GoldenFixtures.Names("adam");
    public static IEnumerable<object[]> AdamW => GoldenFixtures.Names("adamw");
    public static IEnumerable<object[]> Seeds => GoldenFixtures.Names("seeds");

    [Theory, MemberData(nameof(Sgd))]
    public void SgdThroughTheFacadeFollowsPyTorch(string name) => GoldenFixtures.Replay("sgd", name);

    [Theory, MemberData(nameof(Adam))]
    public void AdamThroughTheFacadeFollowsPyTorch(string name) => GoldenFixtures.Replay("adam", name);

    [Theory, MemberData(nameof(AdamW))]
    public void AdamWThroughTheFacadeFollowsPyTorch(string name) => GoldenFixtures.Replay("adamw", name);

    [Theory, MemberData(nameof(Seeds))]
    public void TheSeedsExamplesThroughTheFacadeFollowPyTorch(string name) => GoldenFixtures.Replay("seeds", name);
}
