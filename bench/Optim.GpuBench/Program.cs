// The fused device steps of Adam, AdamW and SGD with momentum on a CUDA GPU: 16M, 256M and 1B float32 parameters, as
// one tensor and as 1,000 tensors (one launch per step either way), timed over the gradients and parameters the device
// holds (Optim.Gpu.DeviceTiming), with the bandwidth they achieve against the H200's 4.8 TB/s.
// Usage: dotnet Optim.GpuBench.dll [--sizes 16M,256M,1B] [--steps 20] [--peak-gbs 4800] [--cpu-accelerator]
using Optim.CSharp;
using Optim.Gpu;

var argv = args.ToList();
string Arg(string name, string fallback) { int i = argv.IndexOf(name); return i >= 0 && i + 1 < argv.Count ? argv[i + 1] : fallback; }
long Size(string s) => s.EndsWith('B') ? long.Parse(s[..^1]) * 1_000_000_000 : s.EndsWith('M') ? long.Parse(s[..^1]) * 1_000_000 : s.EndsWith('K') ? long.Parse(s[..^1]) * 1000 : long.Parse(s);
var sizes = Arg("--sizes", "16M,256M,1B").Split(',').Select(Size).ToArray();
int steps = int.Parse(Arg("--steps", "20"));
double peak = double.Parse(Arg("--peak-gbs", "4800"), System.Globalization.CultureInfo.InvariantCulture);
using var device = argv.Contains("--cpu-accelerator") ? GpuDevice.CpuAccelerator() : GpuDevice.Cuda();
Console.WriteLine($"device: {device.Name}, memory {device.MemoryBytes / (1L << 30)} GiB; peak taken as {peak} GB/s; {steps} steps, median");
Console.WriteLine($"{"optimizer",-14} {"params",8} {"tensors",8} {"ms/step",10} {"B/param",8} {"GB/s",9} {"of peak",8}");
// bytes per parameter per step: Adam/AdamW read p, g, m, v and write p, m, v (28 B); SGD momentum reads p, g, b, writes p, b (20 B)
var kinds = new (string Name, int Bytes, Func<IEnumerable<Parameter>, Optimizer> Make)[]
{
    ("Adam", 28, ps => new Adam(ps, lr: 1e-3)),
    ("AdamW", 28, ps => new AdamW(ps, lr: 1e-3)),
    ("SGD momentum", 20, ps => new SGD(ps, lr: 0.01, momentum: 0.9)),
};
foreach (var n in sizes)
    foreach (int tensors in new[] { 1, 1000 })
        foreach (var (name, bytes, make) in kinds)
        {
            long per = n / tensors;
            var ps = Enumerable.Range(0, tensors).Select(_ => new Parameter(new float[per], (int)per)).ToArray();
            foreach (var p in ps) { p.Grad = new float[per]; Array.Fill(p.Grad, 1e-3f); }
            var o = make(ps);
            o.Device = device;
            var times = DeviceTiming.SecondsPerStep(o, steps);
            Array.Sort(times);
            double t = times[times.Length / 2];
            double gbs = (double)per * tensors * bytes / t / 1e9;
            Console.WriteLine($"{name,-14} {n / 1e6,7:F0}M {tensors,8} {t * 1e3,10:F3} {bytes,8} {gbs,9:F1} {gbs / peak,8:P1}");
            o.Device = Device.Cpu; // frees nothing by itself: drop the optimizer and collect before the next size
            o = null;
            GC.Collect();
        }
