// Times Optimizer.Step() of the C# facade (the in-place fused path) on N float32 params split into T tensors,
// and the copy bandwidth of this machine in the same process, and prints one JSON line per run. The copy runs on two
// threads, as a step on a large tensor does (the caller and one persistent worker, each on its half), so the floor
// is what two cores' memory bandwidth allows.
//   dotnet run -c Release --project bench/Optim.Bench -- --optimizer adam --numel 16000000 --tensors 1000
using System.Diagnostics;
using System.Text.Json;
using Optim.CSharp;

var opts = new Dictionary<string, string>();
for (int i = 0; i + 1 < args.Length; i += 2) opts[args[i].TrimStart('-')] = args[i + 1];
string name = opts.GetValueOrDefault("optimizer", "adam");
int numel = int.Parse(opts.GetValueOrDefault("numel", "16000000"));
int tensors = int.Parse(opts.GetValueOrDefault("tensors", "1"));
int repeats = int.Parse(opts.GetValueOrDefault("repeats", "20"));
int warmup = int.Parse(opts.GetValueOrDefault("warmup", "3"));

// Bytes a one-pass step must move per parameter: every buffer it reads and every buffer it writes, 4 bytes each.
var bytesPerParam = new Dictionary<string, int>
{
    ["sgd"] = 20,      // read p, g, momentum_buffer; write p, momentum_buffer
    ["adam"] = 28,     // read p, g, exp_avg, exp_avg_sq; write p, exp_avg, exp_avg_sq
    ["adamw"] = 28,
    ["adagrad"] = 20,  // read p, g, sum; write p, sum
    ["rmsprop"] = 20,  // read p, g, square_avg; write p, square_avg
    ["adadelta"] = 28, // read p, g, square_avg, acc_delta; write p, square_avg, acc_delta
    ["adamax"] = 28,   // read p, g, exp_avg, exp_inf; write p, exp_avg, exp_inf
    ["nadam"] = 28,    // read p, g, exp_avg, exp_avg_sq; write p, exp_avg, exp_avg_sq
    ["radam"] = 28,
    ["rprop"] = 28,    // read p, g, prev, step_size; write p, prev, step_size
    ["asgd"] = 20,     // read p, g, ax; write p, ax
    // Adafactor cannot be one pass: its step size needs RMS(p) before any element moves, and its clipping needs
    // RMS(update) over the whole update. On a vector (the bench's 1-D tensors) the least it must move is two passes:
    // read p, g, variance and write variance (16 B: Σp², the new variance, Σu²), then read p, g, variance and write
    // p (16 B: u is recomputed from g and the variance, as storing it would cost a buffer). On a matrix it is three
    // passes over p and g (read p, g; read g; read p, g and write p: 24 B), the row and column factors being tiny.
    ["adafactor"] = 32,
};
if (!bytesPerParam.ContainsKey(name)) { Console.Error.WriteLine($"unknown optimizer {name}"); return 2; }

var rng = new Random(0);
var ps = new Parameter[tensors];
for (int t = 0; t < tensors; t++)
{
    int n = numel / tensors + (t < numel % tensors ? 1 : 0);
    var data = new float[n];
    var grad = new float[n];
    for (int i = 0; i < n; i++) { data[i] = (float)(rng.NextDouble() - 0.5); grad[i] = (float)(rng.NextDouble() - 0.5) * 1e-2f; }
    ps[t] = new Parameter(data) { Grad = grad };
}
// PyTorch's defaults (SGD: lr 0.01, momentum 0.9), as bench/torch_step.py builds them.
Optimizer opt = name switch
{
    "sgd" => new SGD(ps, lr: 0.01, momentum: 0.9),
    "adam" => new Adam(ps),
    "adamw" => new AdamW(ps),
    "adagrad" => new Adagrad(ps),
    "rmsprop" => new RMSprop(ps),
    "adadelta" => new Adadelta(ps),
    "adamax" => new Adamax(ps),
    "nadam" => new NAdam(ps),
    "radam" => new RAdam(ps),
    "rprop" => new Rprop(ps),
    "adafactor" => new Adafactor(ps),
    _ => new ASGD(ps),
};

static double Median(List<double> xs) { xs.Sort(); return xs.Count % 2 == 1 ? xs[xs.Count / 2] : (xs[xs.Count / 2 - 1] + xs[xs.Count / 2]) / 2; }

// Copy bandwidth: a copy of numel floats reads and writes 8 bytes per element. It is split as the kernels split a
// large tensor: the upper half (from a multiple of 64 elements near the middle) on a persistent helper thread, the
// lower half here, each with Span.CopyTo; the time is from the start signal to both halves done.
var src = new float[numel];
var dst = new float[numel];
rng.NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(src.AsSpan()));
int mid = (numel / 2) & ~63;
using var copyStart = new SemaphoreSlim(0);
using var copyDone = new SemaphoreSlim(0);
var helper = new Thread(() =>
{
    while (true)
    {
        copyStart.Wait();
        src.AsSpan(mid).CopyTo(dst.AsSpan(mid));
        copyDone.Release();
    }
}) { IsBackground = true };
helper.Start();
double Copy()
{
    long t0 = Stopwatch.GetTimestamp();
    copyStart.Release();
    src.AsSpan(0, mid).CopyTo(dst.AsSpan(0, mid));
    copyDone.Wait();
    return Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
}

// Copies and steps alternate, so that both medians see the same conditions of the machine. The warm-up lasts at least
// two seconds: the JIT compiles a method at its final tier only after it ran 30 times and a quiet 100 ms (tiered
// compilation), and timing earlier mixes slow and fast steps.
var warm = Stopwatch.StartNew();
for (int r = 0; r < warmup || warm.Elapsed.TotalSeconds < 2; r++)
{
    Copy();
    opt.Step();
}
var copyMs = new List<double>(repeats);
var stepMs = new List<double>(repeats);
long allocated = 0;
for (int r = 0; r < repeats; r++)
{
    copyMs.Add(Copy());
    // every thread's allocations: a step runs on the kernels' worker thread too
    long before = GC.GetTotalAllocatedBytes(precise: true);
    long t0 = Stopwatch.GetTimestamp();
    opt.Step();
    long t1 = Stopwatch.GetTimestamp();
    allocated += GC.GetTotalAllocatedBytes(precise: true) - before;
    stepMs.Add(Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds);
}
double copyGBs = 8.0 * numel / (Median(copyMs) * 1e6);
double median = Median(stepMs);
double floorMs = (double)bytesPerParam[name] * numel / (copyGBs * 1e6);
Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
{
    ["impl"] = "optim",
    ["optimizer"] = name,
    ["numel"] = numel,
    ["tensors"] = tensors,
    ["median_ms"] = Math.Round(median, 3),
    ["min_ms"] = Math.Round(stepMs.Min(), 3),
    ["copy_GBps"] = Math.Round(copyGBs, 2),
    ["copy_method"] = "Span.CopyTo on two threads (the caller and one persistent helper thread, each on one half), alternating with the steps",
    ["bytes_per_param"] = bytesPerParam[name],
    ["floor_ms"] = Math.Round(floorMs, 3),
    ["over_floor"] = Math.Round(median / floorMs, 3),
    ["alloc_bytes_per_step"] = allocated / repeats,
}));
return 0;
