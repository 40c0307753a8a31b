using System.Text.Json;
using Optim.CSharp;

namespace Optim.CSharp.Tests;

/// <summary>
/// Reads tests/golden/schedulers.json (written by generate_schedulers.py) and builds the facade's optimizers and
/// schedulers from its specs. Every argument of a spec must be consumed, so a spec the builder ignores fails.
/// </summary>
internal static class SchedulerGolden
{
    private static readonly Lazy<Dictionary<string, JsonElement>> Cases = new(() =>
    {
        var path = GoldenFixtures.PathOf("schedulers");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.GetProperty("cases").EnumerateArray()
            .ToDictionary(c => c.GetProperty("name").GetString()!, c => c.Clone());
    });

    public static IEnumerable<object[]> Names => Cases.Value.Keys.Select(n => new object[] { n });

    public static JsonElement Case(string name) => Cases.Value[name];

    /// <summary>The named stand-ins for Python lambdas, as the generator defines them.</summary>
    public static readonly Dictionary<string, Func<int, double>> Lambdas = new()
    {
        ["step20"] = e => Math.Pow(0.1, e / 20),
        ["exp95"] = e => Math.Pow(0.95, e),
        ["warmup10"] = e => Math.Min(1.0, (e + 1) / 10.0),
        ["const95"] = _ => 0.95,
        ["halve_every10"] = e => e % 10 == 0 ? 0.5 : 1.0,
    };

    /// <summary>A Python lr_lambda by name: a fresh stateful object's method for the generator's callable objects.</summary>
    public static Func<int, double> Lambda(string name) => name switch
    {
        "warmup_object10" => new Warmup(10).Factor,
        "warmup_object3" => new Warmup(3).Factor,
        "shrinking" => new Shrinking(0.9, 0.98).Factor,
        "shrinking_other" => new Shrinking(0.5, 0.5).Factor,
        _ => Lambdas[name],
    };

    /// <summary>The generator's Warmup: a callable object that counts its calls.</summary>
    private sealed class Warmup(int epochs) : IStatefulLrLambda
    {
        private int _epochs = epochs, _calls;

        public double Factor(int epoch)
        {
            _calls++;
            return Math.Min(1.0, (epoch + 1.0) / _epochs);
        }

        public System.Text.Json.Nodes.JsonObject StateDict() => new() { ["epochs"] = _epochs, ["calls"] = _calls };

        public void LoadStateDict(System.Text.Json.Nodes.JsonObject state) =>
            (_epochs, _calls) = ((int)state["epochs"]!, (int)state["calls"]!);
    }

    /// <summary>The generator's Shrinking: a MultiplicativeLR factor that shrinks at every call.</summary>
    private sealed class Shrinking(double factor, double decay) : IStatefulLrLambda
    {
        private double _factor = factor, _decay = decay;

        public double Factor(int epoch)
        {
            double f = _factor;
            _factor *= _decay;
            return f;
        }

        public System.Text.Json.Nodes.JsonObject StateDict() => new() { ["factor"] = _factor, ["decay"] = _decay };

        public void LoadStateDict(System.Text.Json.Nodes.JsonObject state) =>
            (_factor, _decay) = ((double)state["factor"]!, (double)state["decay"]!);
    }

    public static readonly Dictionary<string, Func<double, double>> ScaleFns = new()
    {
        ["inv_cycle"] = x => 1.0 / x,
        ["inv_iter"] = x => 1.0 / (1.0 + 0.01 * x),
    };

    public static Optimizer Optimizer(JsonElement c, string? kind = null)
    {
        var groups = c.GetProperty("groups").EnumerateArray().Select(g =>
        {
            var group = new ParamGroup([new Parameter(new float[1])]);
            foreach (var p in g.EnumerateObject()) group[p.Name] = p.Value.GetDouble();
            return group;
        }).ToArray();
        var args = c.GetProperty("optimizer_args");
        double lr = args.GetProperty("lr").GetDouble();
        return (kind ?? c.GetProperty("optimizer").GetString()) switch
        {
            "SGD" => new SGD(groups, lr, momentum: args.TryGetProperty("momentum", out var m) ? m.GetDouble() : 0),
            "Adam" => new Adam(groups, lr),
            var k => throw new NotSupportedException(k),
        };
    }

    /// <summary>The arguments of one spec; remembers which were read.</summary>
    private sealed class Args(JsonElement args)
    {
        private readonly HashSet<string> _read = new();

        public bool Has(string key) => args.TryGetProperty(key, out _);

        public JsonElement Get(string key)
        {
            _read.Add(key);
            return args.GetProperty(key);
        }

        public int Int(string key, int fallback) => Has(key) ? Get(key).GetInt32() : fallback;
        public int? IntOrNull(string key) => Has(key) ? Get(key).GetInt32() : null;
        public double Double(string key, double fallback) => Has(key) ? Get(key).GetDouble() : fallback;
        public bool Bool(string key, bool fallback) => Has(key) ? Get(key).GetBoolean() : fallback;
        public string String(string key, string fallback) => Has(key) ? Get(key).GetString()! : fallback;

        public PerGroup PerGroup(string key, double fallback) => Has(key) ? ToPerGroup(Get(key)) : fallback;
        public PerGroup? PerGroupOrNull(string key) => Has(key) ? ToPerGroup(Get(key)) : (PerGroup?)null;

        private static PerGroup ToPerGroup(JsonElement e) =>
            e.ValueKind == JsonValueKind.Array ? e.EnumerateArray().Select(x => x.GetDouble()).ToArray() : e.GetDouble();

        public void AssertAllRead()
        {
            var unread = args.EnumerateObject().Select(p => p.Name).Where(n => !_read.Contains(n)).ToArray();
            if (unread.Length > 0) throw new InvalidOperationException("The builder ignores: " + string.Join(", ", unread));
        }
    }

    public static LRScheduler Scheduler(Optimizer opt, JsonElement spec, TextWriter log)
    {
        var a = new Args(spec.GetProperty("args"));
        int lastEpoch = a.Int("last_epoch", -1);
        bool verbose = a.Bool("verbose", false);
        LRScheduler s = spec.GetProperty("type").GetString() switch
        {
            "StepLR" => new StepLR(opt, a.Int("step_size", 0), a.Double("gamma", 0.1), lastEpoch, verbose, log),
            "MultiStepLR" => new MultiStepLR(opt, a.Get("milestones").EnumerateArray().Select(x => x.GetInt32()),
                                             a.Double("gamma", 0.1), lastEpoch, verbose, log),
            "ConstantLR" => new ConstantLR(opt, a.Double("factor", 1.0 / 3), a.Int("total_iters", 5), lastEpoch, verbose, log),
            "LinearLR" => new LinearLR(opt, a.Double("start_factor", 1.0 / 3), a.Double("end_factor", 1.0), a.Int("total_iters", 5),
                                       lastEpoch, verbose, log),
            "ExponentialLR" => new ExponentialLR(opt, a.Double("gamma", 0), lastEpoch, verbose, log),
            "PolynomialLR" => new PolynomialLR(opt, a.Int("total_iters", 5), a.Double("power", 1.0), lastEpoch, verbose, log),
            "CosineAnnealingLR" => new CosineAnnealingLR(opt, a.Int("T_max", 0), a.Double("eta_min", 0), lastEpoch, verbose, log),
            "CosineAnnealingWarmRestarts" => new CosineAnnealingWarmRestarts(opt, a.Int("T_0", 0), a.Int("T_mult", 1),
                                                                              a.Double("eta_min", 0), lastEpoch, verbose, log),
            "LambdaLR" => a.Get("lr_lambda") is { ValueKind: JsonValueKind.Array } fs
                ? new LambdaLR(opt, fs.EnumerateArray().Select(f => Lambda(f.GetString()!)).ToArray(), lastEpoch, verbose, log)
                : new LambdaLR(opt, Lambda(a.Get("lr_lambda").GetString()!), lastEpoch, verbose, log),
            "MultiplicativeLR" => a.Get("lr_lambda") is { ValueKind: JsonValueKind.Array } fs
                ? new MultiplicativeLR(opt, fs.EnumerateArray().Select(f => Lambda(f.GetString()!)).ToArray(), lastEpoch, verbose, log)
                : new MultiplicativeLR(opt, Lambda(a.Get("lr_lambda").GetString()!), lastEpoch, verbose, log),
            "SequentialLR" => new SequentialLR(opt, a.Get("schedulers").EnumerateArray().Select(c => Scheduler(opt, c, log)).ToArray(),
                                               a.Get("milestones").EnumerateArray().Select(x => x.GetInt32()).ToArray(), lastEpoch, log),
            "ChainedScheduler" => new ChainedScheduler(a.Get("schedulers").EnumerateArray().Select(c => Scheduler(opt, c, log)).ToArray(), log),
            "ReduceLROnPlateau" => new ReduceLROnPlateau(opt, a.String("mode", "min"), a.Double("factor", 0.1), a.Int("patience", 10),
                                                         a.Double("threshold", 1e-4), a.String("threshold_mode", "rel"), a.Int("cooldown", 0),
                                                         a.PerGroupOrNull("min_lr"), a.Double("eps", 1e-8), verbose, log),
            "CyclicLR" => new CyclicLR(opt, a.PerGroup("base_lr", 0), a.PerGroup("max_lr", 0), a.Int("step_size_up", 2000),
                                       a.IntOrNull("step_size_down"), a.String("mode", "triangular"), a.Double("gamma", 1.0),
                                       a.Has("scale_fn") ? ScaleFns[a.Get("scale_fn").GetString()!] : null, a.String("scale_mode", "cycle"),
                                       a.Bool("cycle_momentum", true), a.PerGroupOrNull("base_momentum"), a.PerGroupOrNull("max_momentum"),
                                       lastEpoch, verbose, log),
            "OneCycleLR" => new OneCycleLR(opt, a.PerGroup("max_lr", 0), a.IntOrNull("total_steps"), a.IntOrNull("epochs"),
                                           a.IntOrNull("steps_per_epoch"), a.Double("pct_start", 0.3), a.String("anneal_strategy", "cos"),
                                           a.Bool("cycle_momentum", true), a.PerGroupOrNull("base_momentum"), a.PerGroupOrNull("max_momentum"),
                                           a.Double("div_factor", 25), a.Double("final_div_factor", 1e4), a.Bool("three_phase", false),
                                           lastEpoch, verbose, log),
            "SWALR" => new SWALR(opt, a.PerGroup("swa_lr", 0), a.Int("anneal_epochs", 10), a.String("anneal_strategy", "cos"), lastEpoch, log),
            var t => throw new NotSupportedException(t),
        };
        a.AssertAllRead();
        return s;
    }

    public static bool Close(double actual, double expected) => Math.Abs(actual - expected) <= 1e-9 + 1e-7 * Math.Abs(expected);

    public static double[] Row(JsonElement rows, int k) => rows[k].EnumerateArray().Select(x => x.GetDouble()).ToArray();
}
