// Times forward and backward of each convolution and pooling layer of the CIFAR-10 tutorial's CNN at batch 64
// (Conv2d(3,32,5,p=2) → MaxPool2d(2) → Conv2d(32,32,5,p=2) → MaxPool2d(2) → Conv2d(32,64,5,p=2) → MaxPool2d(2) → ...)
// and prints one JSON line per layer: median milliseconds over the runs (wall clock, and processor time of both
// threads, which a busy machine disturbs less), and GFLOP/s for the convolutions (2 flops per multiply-add; the
// first layer's input needs no gradient, so its backward is dW and db only).
//   dotnet run -c Release --project bench/Optim.ConvBench -- [--runs 15] [--channels 3] [--batch 64]
// bench/conv_torch.py does the same with PyTorch.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Optim.NN;

int runs = 15, channels = 3, batch = 64;
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
    switch (args[i])
    {
        case "--runs": runs = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--channels": channels = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--batch": batch = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        default: throw new ArgumentException($"Unknown argument '{args[i]}'. Arguments: --runs N, --channels C, --batch B.");
    }
}

var rng = new Random(0);
Tensor Input(int c, int size, bool grad)
{
    var data = new float[batch * c * size * size];
    for (int i = 0; i < data.Length; i++) data[i] = (float)(rng.NextDouble() * 2 - 1);
    return new Tensor(data, batch, c, size, size) { RequiresGrad = grad };
}

var layers = new (string Name, Module Layer, int C, int Size, bool InputGrad)[]
{
    ("conv1", new Conv2d(channels, 32, 5, padding: 2, random: rng), channels, 32, false),
    ("pool1", new MaxPool2d(2), 32, 32, true),
    ("conv2", new Conv2d(32, 32, 5, padding: 2, random: rng), 32, 16, true),
    ("pool2", new MaxPool2d(2), 32, 16, true),
    ("conv3", new Conv2d(32, 64, 5, padding: 2, random: rng), 32, 8, true),
    ("pool3", new MaxPool2d(2), 64, 8, true),
};

double total = 0;
foreach (var (name, layer, c, size, inputGrad) in layers)
{
    var x = Input(c, size, inputGrad);
    var forward = new List<double>();
    var both = new List<double>();
    var cpu = new List<double>();
    var process = Process.GetCurrentProcess();
    for (int r = 0; r < runs + 3; r++)
    {
        if (layer is Conv2d conv) { conv.Weight.Grad = null; conv.Bias!.Grad = null; }
        x.Grad = null;
        process.Refresh();
        var cpu0 = process.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        var y = layer.Forward(x);
        double f = sw.Elapsed.TotalMilliseconds;
        var loss = y.Sum();
        sw.Restart();
        loss.Backward();
        double b = sw.Elapsed.TotalMilliseconds;
        process.Refresh();
        double used = (process.TotalProcessorTime - cpu0).TotalMilliseconds;
        if (r >= 3) { forward.Add(f); both.Add(f + b); cpu.Add(used); }
    }
    double Median(List<double> v) { v.Sort(); return v[v.Count / 2]; }
    double fMs = Median(forward), tMs = Median(both), cMs = Median(cpu);
    total += tMs;
    var row = new Dictionary<string, object> { ["layer"] = name, ["forward_ms"] = Math.Round(fMs, 2), ["forward_backward_ms"] = Math.Round(tMs, 2), ["cpu_ms"] = Math.Round(cMs, 1),
                                              ["min_forward_backward_ms"] = Math.Round(both.Min(), 2) };
    if (layer is Conv2d cv)
    {
        double macs = (double)batch * cv.OutChannels * cv.InChannels * 25 * size * size;
        double flops = 2 * macs * (inputGrad ? 3 : 2);
        row["gflops_forward"] = Math.Round(2 * macs / (fMs * 1e6), 1);
        row["gflops_forward_backward"] = Math.Round(flops / (tMs * 1e6), 1);
        row["gflops_per_cpu_second"] = Math.Round(flops / (cMs * 1e6), 1);
    }
    Console.WriteLine(JsonSerializer.Serialize(row));
}
Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object> { ["total_forward_backward_ms"] = Math.Round(total, 1), ["batch"] = batch, ["channels"] = channels }));
