// Times compiled chains, their pure steps, the facade's classes and composed optimizers, in one process, the variants of
// one optimizer alternating step by step so that every median sees the same conditions of the machine, and prints one
// JSON line per (optimizer, tensors, variant):
//   dotnet run -c Release --project bench/Optim.CompositionBench -- --optimizer adam --numel 16000000 --tensors 1000
// Variants: "chain" (Optimizer.ofTransform of the Alias chain, in place; Fused.* are these chains), "chain-pure" (its pure step, fresh buffers), "facade" (the built-in C# class), "composed" (ComposedOptimizer
// of the same chain as a C# Transformation); for adamw also "user-chain" (clipByGlobalNorm → scaleByAdam →
// scaleByLearningRate → decoupledWeightDecay) and "norm-pass" (the read of every gradient that its norm needs), and for
// adam "multi-steps-4" (four calls of multiSteps 4 around Adam: three accumulations and one step), "apply-if-finite" and
// "norm-pass".
using System.Diagnostics;
using System.Text.Json;
using Optim;
using Optim.CSharp;

var opts = new Dictionary<string, string>();
for (int i = 0; i + 1 < args.Length; i += 2) opts[args[i].TrimStart('-')] = args[i + 1];
string name = opts.GetValueOrDefault("optimizer", "adam");
int numel = int.Parse(opts.GetValueOrDefault("numel", "16000000"));
int tensors = int.Parse(opts.GetValueOrDefault("tensors", "1"));
int repeats = int.Parse(opts.GetValueOrDefault("repeats", "15"));
string[] only = opts.TryGetValue("variants", out var v) ? v.Split(',') : [];

var rng = new Random(0);
int[] sizes = Enumerable.Range(0, tensors).Select(t => numel / tensors + (t < numel % tensors ? 1 : 0)).ToArray();
float[][] Fresh(float scale) => sizes.Select(n => { var a = new float[n]; for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() - 0.5) * scale; return a; }).ToArray();
var grads = Fresh(1e-2f);

// PyTorch's defaults, as bench/torch_step.py builds them (SGD: lr 0.01, momentum 0.9)
var sgd = SgdOptionsModule.create(0.01);
sgd = new SgdOptions(0.01, 0.9, sgd.Dampening, sgd.WeightDecay, sgd.Nesterov, sgd.Maximize);
(GradientTransformation Chain, Func<Parameter[], Optim.CSharp.Optimizer> Facade, Transformation Composed) kinds = name switch
{
    "sgd" => (Alias.sgd(sgd), ps => new SGD(ps, lr: 0.01, momentum: 0.9), Transformation.SGD(lr: 0.01, momentum: 0.9)),
    "sgd-wd" => (Alias.sgd(new SgdOptions(0.01, 0.9, 0.0, 5e-4, false, false)), ps => new SGD(ps, lr: 0.01, momentum: 0.9, weightDecay: 5e-4),
                 Transformation.SGD(lr: 0.01, momentum: 0.9, weightDecay: 5e-4)),
    "adam" => (Alias.adam(AdamOptionsModule.adam), ps => new Adam(ps), Transformation.Adam()),
    // coupled weight decay, read inside the moment op's loop
    "adam-wd" => (Alias.adam(new AdamOptions(1e-3, 0.9, 0.999, 1e-8, 1e-2, false, false)), ps => new Adam(ps, weightDecay: 1e-2), Transformation.Adam(weightDecay: 1e-2)),
    "adamw" => (Alias.adamw(AdamOptionsModule.adamw), ps => new AdamW(ps), Transformation.AdamW()),
    "rmsprop" => (Alias.rmsprop(RmspropOptionsModule.defaults), ps => new RMSprop(ps), null!),
    "adagrad" => (Alias.adagrad(AdagradOptionsModule.defaults), ps => new Adagrad(ps), null!),
    "nadam" => (Alias.nadam(NadamOptionsModule.defaults), ps => new NAdam(ps), null!),
    "radam" => (Alias.radam(RadamOptionsModule.defaults), ps => new RAdam(ps), null!),
    _ => throw new ArgumentException($"unknown optimizer {name}"),
};

var variants = new List<(string Name, Action Step)>();
void Core(string variant, Optim.CoreOptimizer o, bool pure)
{
    var ps = Fresh(1f);
    var tensorsOf = ps.Select(p => new CoreTensor([p.Length], p)).ToArray();
    var state = o.Init.Invoke(tensorsOf);
    if (pure)
    {
        var current = tensorsOf;
        variants.Add((variant, () => { var r = Microsoft.FSharp.Core.FSharpFunc<CoreTensor[], float[][]>.InvokeFast(o.Step, current, grads, state); current = r.Item1; state = r.Item2; }));
    }
    else variants.Add((variant, () => state = Microsoft.FSharp.Core.FSharpFunc<float[][], float[][]>.InvokeFast(o.StepInPlace, ps, grads, state)));
}
void Facade(string variant, Func<Parameter[], Optim.CSharp.Optimizer> make)
{
    var ps = Fresh(1f).Select((d, i) => new Parameter(d) { Grad = grads[i] }).ToArray();
    var o = make(ps);
    variants.Add((variant, () => o.Step()));
}
Core("chain", Optim.OptimizerModule.ofTransform(kinds.Chain), false);
Core("chain-pure", Optim.OptimizerModule.ofTransform(kinds.Chain), true);
Facade("facade", kinds.Facade);
if (kinds.Composed is not null) Facade("composed", ps => new ComposedOptimizer(ps, kinds.Composed));
Extra.Add(name, variants, Core, grads, sizes);
if (only.Length > 0) variants.RemoveAll(x => !only.Contains(x.Name));

static double Median(List<double> xs) { xs.Sort(); return xs.Count % 2 == 1 ? xs[xs.Count / 2] : (xs[xs.Count / 2 - 1] + xs[xs.Count / 2]) / 2; }

// warm up at least two seconds, so that every kernel runs at its final JIT tier when timed
var warm = Stopwatch.StartNew();
while (warm.Elapsed.TotalSeconds < 2 + 0.5 * variants.Count) foreach (var x in variants) x.Step();
Extra.Accumulating.Clear();
Extra.Stepping.Clear();
var times = variants.Select(_ => new List<double>()).ToArray();
var allocated = new long[variants.Count];
for (int r = 0; r < repeats; r++)
    for (int k = 0; k < variants.Count; k++)
    {
        // the pure step allocates its outputs: collect before timing, so that no variant pays another's garbage
        if (variants[k].Name.EndsWith("-pure") || r == 0) GC.Collect();
        long before = GC.GetTotalAllocatedBytes(precise: true);
        long t0 = Stopwatch.GetTimestamp();
        variants[k].Step();
        long t1 = Stopwatch.GetTimestamp();
        // the first round follows a full collection, after which the runtime allocates a few hundred bytes of its own
        // on some thread (the counter covers every thread): that round's allocations are not counted
        if (r > 0) allocated[k] += GC.GetTotalAllocatedBytes(precise: true) - before;
        times[k].Add(Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds);
    }
for (int k = 0; k < variants.Count; k++)
    Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["optimizer"] = name,
        ["numel"] = numel,
        ["tensors"] = tensors,
        ["variant"] = variants[k].Name,
        ["median_ms"] = Math.Round(Median(times[k]), 3),
        ["min_ms"] = Math.Round(times[k].Min(), 3),
        ["alloc_bytes_per_step"] = repeats > 1 ? allocated[k] / (repeats - 1) : 0,
    }));
foreach (var (variant, calls) in new[] { ("multi-steps-4-accumulate", Extra.Accumulating), ("multi-steps-4-step", Extra.Stepping) })
    if (calls.Count > 0)
        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["optimizer"] = name, ["numel"] = numel, ["tensors"] = tensors, ["variant"] = variant,
            ["median_ms"] = Math.Round(Median(calls), 3), ["min_ms"] = Math.Round(calls.Min(), 3),
        }));
return 0;

/// <summary>The variants of one optimizer beyond the common ones.</summary>
static partial class Extra
{
    public static void Add(string name, List<(string Name, Action Step)> variants, Action<string, Optim.CoreOptimizer, bool> core, float[][] grads, int[] sizes)
    {
        if (name == "adam")
        {
            // four calls of multiSteps 4 around Adam (three accumulations, one step on the mean), and applyIfFinite
            var multi = Optim.OptimizerModule.ofTransform(Combinators.multiSteps(4, Alias.adam(AdamOptionsModule.adam)));
            core("multi-steps-4", multi, false);
            var last = variants[^1];
            // each call timed on its own too: the three that accumulate, and the fourth, which steps
            variants[^1] = (last.Name, () =>
            {
                for (int call = 0; call < 4; call++)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    last.Step();
                    (call < 3 ? Accumulating : Stepping).Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                }
            });
            core("apply-if-finite", Optim.OptimizerModule.ofTransform(Combinators.applyIfFinite(0, Alias.adam(AdamOptionsModule.adam))), false);
            // what one extra pass costs: a read of every gradient
            variants.Add(("norm-pass", () => NormPass(grads)));
        }
        if (name != "adamw") return;
        // a user chain: clipByGlobalNorm (one read of every gradient, then a coefficient) before a fused AdamW
        var rng = new Random(1);
        var ps = sizes.Select((n, i) => new Parameter(Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray()) { Grad = grads[i] }).ToArray();
        var user = new ComposedOptimizer(ps, Transformation.Chain(
            Transformation.ClipByGlobalNorm(1e9), Transformation.ScaleByAdam(), Transformation.ScaleByLearningRate(1e-3),
            Transformation.DecoupledWeightDecay(1e-2, lr: 1e-3)));
        variants.Add(("user-chain", () => user.Step()));
        // the least a norm costs: Σx² over every gradient, parameters shared between two threads as the kernels share them
        variants.Add(("norm-pass", () => NormPass(grads)));
    }

    /// <summary>multiSteps 4's calls, timed one by one: those that accumulate, and those that step.</summary>
    public static readonly List<double> Accumulating = new(), Stepping = new();

    // the second half of every gradient is summed on this persistent thread, so that the pass allocates nothing (a
    // Parallel.For would, on pool threads, and the allocation counter covers every thread)
    private static float[][] _normGrads = [];
    private static double _normOther;
    private static readonly SemaphoreSlim _normGo = new(0), _normDone = new(0);
    private static readonly Thread _normWorker = StartNormWorker();

    private static Thread StartNormWorker()
    {
        var t = new Thread(() => { while (true) { _normGo.Wait(); _normOther = SumSquares(_normGrads, 1); _normDone.Release(); } }) { IsBackground = true };
        t.Start();
        return t;
    }

    private static double SumSquares(float[][] grads, int half)
    {
        double total = 0;
        for (int i = 0; i < grads.Length; i++)
        {
            var g = grads[i];
            int mid = g.Length / 2;
            int lo = half == 0 ? 0 : mid, hi = half == 0 ? mid : g.Length;
            var v = System.Runtime.InteropServices.MemoryMarshal.Cast<float, System.Numerics.Vector<float>>(g.AsSpan(lo, hi - lo));
            System.Numerics.Vector<float> a = default, b = default;
            for (int k = 0; k + 1 < v.Length; k += 2) { a += v[k] * v[k]; b += v[k + 1] * v[k + 1]; }
            total += System.Numerics.Vector.Sum(a) + System.Numerics.Vector.Sum(b);
        }
        return total;
    }

    private static double NormPass(float[][] grads)
    {
        _normGrads = grads;
        _normGo.Release();
        double mine = SumSquares(grads, 0);
        _normDone.Wait();
        return mine + _normOther;
    }
}
