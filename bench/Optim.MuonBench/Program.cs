// Times one Muon Optimizer.Step() of the C# facade on one rows×cols float32 matrix (the momentum, five Newton–Schulz
// steps on Optim.Kernels' GEMM, the update), and prints one JSON line: the median and the least step time, and the
// iteration's rate in GFLOP/s, counting its products only: per step, for an m×n input with m ≤ n, 4·m²·n + 2·m³
// (X·Xᵀ and B·X are 2·m²·n each, A·A is 2·m³).
//   dotnet run -c Release --project bench/Optim.MuonBench -- --rows 1024 --cols 1024 --repeats 5 --warmup 2
using System.Diagnostics;
using System.Text.Json;
using Optim.CSharp;

var opts = new Dictionary<string, string>();
for (int i = 0; i + 1 < args.Length; i += 2) opts[args[i].TrimStart('-')] = args[i + 1];
int rows = int.Parse(opts.GetValueOrDefault("rows", "1024"));
int cols = int.Parse(opts.GetValueOrDefault("cols", "1024"));
int repeats = int.Parse(opts.GetValueOrDefault("repeats", "5"));
int warmup = int.Parse(opts.GetValueOrDefault("warmup", "2"));
const int NsSteps = 5;

var rng = new Random(0);
var data = new float[rows * cols];
var grad = new float[rows * cols];
for (int i = 0; i < data.Length; i++) { data[i] = (float)(rng.NextDouble() - 0.5); grad[i] = (float)(rng.NextDouble() - 0.5) * 1e-2f; }
var p = new Parameter(data, rows, cols) { Grad = grad };
// torch.optim.Muon's defaults, as bench/muon_torch.py builds it
var opt = new Muon([p]);

static double Median(List<double> xs) { xs.Sort(); return xs.Count % 2 == 1 ? xs[xs.Count / 2] : (xs[xs.Count / 2 - 1] + xs[xs.Count / 2]) / 2; }

// the warm-up compiles the loops (they are compiled fully optimised from their first call) and grows the working
// matrices and the packing buffers once
for (int r = 0; r < warmup; r++) opt.Step();
var ms = new List<double>(repeats);
long allocated = 0;
for (int r = 0; r < repeats; r++)
{
    long before = GC.GetTotalAllocatedBytes(precise: true);
    long t0 = Stopwatch.GetTimestamp();
    opt.Step();
    long t1 = Stopwatch.GetTimestamp();
    allocated += GC.GetTotalAllocatedBytes(precise: true) - before;
    ms.Add(Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds);
}
long m = Math.Min(rows, cols), n = Math.Max(rows, cols);
double flops = NsSteps * (4.0 * m * m * n + 2.0 * m * m * m);
double median = Median(ms);
Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
{
    ["impl"] = "optim",
    ["rows"] = rows,
    ["cols"] = cols,
    ["repeats"] = repeats,
    ["warmup"] = warmup,
    ["median_ms"] = Math.Round(median, 1),
    ["min_ms"] = Math.Round(ms.Min(), 1),
    ["ns_gflop_per_step"] = Math.Round(flops / 1e9, 2),
    ["gflops"] = Math.Round(flops / (median * 1e6), 1),
    ["threads"] = Environment.ProcessorCount,
    ["alloc_bytes_per_step"] = allocated / repeats,
}));
return 0;
