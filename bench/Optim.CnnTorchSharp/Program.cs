// Trains the CIFAR-10 tutorial's network on Fashion-MNIST padded to 32x32 with TorchSharp-cpu (LibTorch), exactly as
// bench/Optim.CnnBench and bench/cnn_torch.py do, and prints one line of JSON. Benchmark only: run through
// ../shared/anchors/torchsharp/dotnet-ts (see its README); bench/cnn_compare.py does.
//   dotnet-ts Optim.CnnTorchSharp.dll [--epochs 1] [--data DIR] [--seed 0] [--threads 2] [--optimizer sgd|adam] [--lr LR] [--train-limit N]
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

int epochs = 1, seed = 0, threads = 2, batchSize = 64, trainLimit = 0;
string data = "/usr/share/datasets/fashion-mnist", opt = "sgd";
double? lrArg = null;
for (int i = 0; i < args.Length; i++)
{
    string Next() => args[++i];
    switch (args[i])
    {
        case "--epochs": epochs = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--data": data = Next(); break;
        case "--seed": seed = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--threads": threads = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--batch-size": batchSize = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--optimizer": opt = Next(); break;
        case "--lr": lrArg = double.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--train-limit": trainLimit = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        default: throw new ArgumentException($"Unknown argument '{args[i]}'.");
    }
}
double lr = lrArg ?? (opt == "sgd" ? 0.01 : 1e-3);
torch.set_num_threads(threads);
torch.manual_seed(seed);

byte[] ReadIdx(string name, out int[] dims)
{
    string path = Path.Combine(data, name + ".gz");
    byte[] raw;
    if (File.Exists(path))
    {
        using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var ms = new MemoryStream();
        gz.CopyTo(ms);
        raw = ms.ToArray();
    }
    else raw = File.ReadAllBytes(Path.Combine(data, name));
    int rank = raw[3];
    dims = new int[rank];
    for (int d = 0; d < rank; d++)
        dims[d] = (raw[4 + 4 * d] << 24) | (raw[5 + 4 * d] << 16) | (raw[6 + 4 * d] << 8) | raw[7 + 4 * d];
    return raw[(4 + 4 * rank)..];
}

Tensor Images(string name, int limit)
{
    var bytes = ReadIdx(name, out var dims);
    int n = limit > 0 ? Math.Min(limit, dims[0]) : dims[0];
    var x = new float[n * 32 * 32];
    for (int s = 0; s < n; s++)
        for (int r = 0; r < 28; r++)
            for (int c = 0; c < 28; c++)
                x[s * 1024 + (r + 2) * 32 + c + 2] = bytes[s * 784 + r * 28 + c] / 255f;
    return torch.tensor(x, new long[] { n, 1, 32, 32 });
}

Tensor Labels(string name, int limit)
{
    var bytes = ReadIdx(name, out var dims);
    int n = limit > 0 ? Math.Min(limit, dims[0]) : dims[0];
    return torch.tensor(bytes[..n].Select(b => (long)b).ToArray(), new long[] { n });
}

var load = Stopwatch.StartNew();
var trainX = Images("train-images-idx3-ubyte", trainLimit);
var trainY = Labels("train-labels-idx1-ubyte", trainLimit);
var testX = Images("t10k-images-idx3-ubyte", 0);
var testY = Labels("t10k-labels-idx1-ubyte", 0);
double loadSeconds = load.Elapsed.TotalSeconds;

var model = nn.Sequential(
    nn.Conv2d(1, 32, 5, padding: 2), nn.MaxPool2d(2),
    nn.Conv2d(32, 32, 5, padding: 2), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 5, padding: 2), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(1024, 64), nn.Linear(64, 10));
var criterion = nn.CrossEntropyLoss();
torch.optim.Optimizer optimizer = opt == "sgd"
    ? torch.optim.SGD(model.parameters(), lr, momentum: 0.9)
    : torch.optim.Adam(model.parameters(), lr);
long count = trainY.shape[0];
var generator = new torch.Generator((ulong)seed);

var epochSeconds = new List<double>();
var epochLoss = new List<double>();
var accuracy = new List<double>();
for (int epoch = 0; epoch < epochs; epoch++)
{
    model.train();
    var sw = Stopwatch.StartNew();
    double total = 0;
    int batches = 0;
    var order = torch.randperm(count, generator: generator);
    for (long start = 0; start < count; start += batchSize)
    {
        using var scope = torch.NewDisposeScope();
        var idx = order.narrow(0, start, Math.Min(batchSize, count - start));
        var x = trainX.index_select(0, idx);
        var y = trainY.index_select(0, idx);
        optimizer.zero_grad();
        var loss = criterion.forward(model.forward(x), y);
        loss.backward();
        optimizer.step();
        total += loss.item<float>();
        batches++;
    }
    epochSeconds.Add(sw.Elapsed.TotalSeconds);
    epochLoss.Add(total / batches);
    model.eval();
    long correct = 0;
    using (torch.no_grad())
        for (long s = 0; s < testY.shape[0]; s += 1000)
        {
            using var scope = torch.NewDisposeScope();
            long len = Math.Min(1000, testY.shape[0] - s);
            var pred = model.forward(testX.narrow(0, s, len)).argmax(1);
            correct += pred.eq(testY.narrow(0, s, len)).sum().item<long>();
        }
    accuracy.Add(correct / (double)testY.shape[0]);
}

Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
{
    ["framework"] = "TorchSharp-cpu 0.107.0",
    ["optimizer"] = opt, ["lr"] = lr,
    ["epochs"] = epochs, ["batch_size"] = batchSize, ["threads"] = threads,
    ["train_images"] = count,
    ["load_seconds"] = Math.Round(loadSeconds, 3),
    ["epoch_seconds"] = epochSeconds.Select(s => Math.Round(s, 3)).ToArray(),
    ["seconds_per_epoch"] = Math.Round(epochSeconds.Average(), 3),
    ["train_loss"] = epochLoss.Select(l => Math.Round(l, 4)).ToArray(),
    ["test_accuracy"] = accuracy.Select(a => Math.Round(a, 4)).ToArray(),
}));
