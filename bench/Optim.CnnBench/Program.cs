// Trains the CIFAR-10 tutorial's network (the demo's CNN) on Fashion-MNIST padded to 32x32 with Optim.NN, exactly as
// bench/cnn_torch.py does with PyTorch, and prints one line of JSON: seconds per epoch (the training loop only:
// batches, forward, backward, step) and test accuracy after each epoch.
//   dotnet bench/Optim.CnnBench/bin/Release/net10.0/Optim.CnnBench.dll [--epochs 1] [--data DIR] [--seed 0]
//       [--optimizer sgd|adam] [--lr LR] [--batch-size 64] [--train-limit N]
// Also `--gemm`: times the packed GEMM on 512x512x512 and prints GFLOP/s.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Optim.CSharp;
using Optim.NN;

int epochs = 1, seed = 0, batchSize = 64, trainLimit = 0;
double? lrArg = null;
string data = "/usr/share/datasets/fashion-mnist", opt = "sgd";
bool gemm = false;
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
    switch (args[i])
    {
        case "--epochs": epochs = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--data": data = Next(); break;
        case "--seed": seed = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--batch-size": batchSize = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--optimizer": opt = Next(); break;
        case "--lr": lrArg = double.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--train-limit": trainLimit = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--threads": Next(); break;   // always the caller and one worker
        case "--gemm": gemm = true; break;
        default: throw new ArgumentException($"Unknown argument '{args[i]}'.");
    }
}

if (gemm)
{
    const int n = 512;
    var rng0 = new Random(seed);
    var a = new Tensor(Enumerable.Range(0, n * n).Select(_ => (float)rng0.NextDouble()).ToArray(), n, n);
    var b = new Tensor(Enumerable.Range(0, n * n).Select(_ => (float)rng0.NextDouble()).ToArray(), n, n);
    for (int w = 0; w < 20; w++) a.MatMul(b);
    var times = new List<double>();
    for (int r = 0; r < 30; r++)
    {
        var sw = Stopwatch.StartNew();
        a.MatMul(b);
        times.Add(sw.Elapsed.TotalSeconds);
    }
    times.Sort();
    double median = times[times.Count / 2];
    Console.WriteLine(JsonSerializer.Serialize(new { gemm = "512x512x512", seconds = Math.Round(median, 6), gflops = Math.Round(2.0 * n * n * n / median / 1e9, 1) }));
    return;
}

double lr = lrArg ?? (opt == "sgd" ? 0.01 : 1e-3);
var load = Stopwatch.StartNew();
var fashion = FashionMnist.Load(data).AsImages(padding: 2);
var train = fashion.Train;
if (trainLimit > 0 && trainLimit < train.Count)
    train = new TensorDataset(fashion.TrainImages[..trainLimit], FashionMnist.LabelsTensor(fashion.TrainLabels[..trainLimit]));
double loadSeconds = load.Elapsed.TotalSeconds;

var rng = new Random(seed);
var model = new Sequential(
    new Conv2d(1, 32, 5, padding: 2, random: rng), new MaxPool2d(2),
    new Conv2d(32, 32, 5, padding: 2, random: rng), new MaxPool2d(2),
    new Conv2d(32, 64, 5, padding: 2, random: rng), new MaxPool2d(2),
    new Flatten(), new Linear(1024, 64, random: rng), new Linear(64, 10, random: rng));
var criterion = new CrossEntropyLoss();
Optimizer optimizer = opt == "sgd" ? new SGD(model.Parameters(), lr: lr, momentum: 0.9) : new Adam(model.Parameters(), lr: lr);
var loader = new DataLoader(train, batchSize: batchSize, shuffle: true, seed: seed);

var epochSeconds = new List<double>();
var epochLoss = new List<double>();
var accuracy = new List<double>();
for (int epoch = 0; epoch < epochs; epoch++)
{
    model.Train();
    var sw = Stopwatch.StartNew();
    double total = 0;
    int batches = 0;
    foreach (var (x, y) in loader)
    {
        optimizer.ZeroGrad();
        var loss = criterion.Forward(model.Forward(x), y);
        loss.Backward();
        optimizer.Step();
        total += loss.Item();
        batches++;
    }
    epochSeconds.Add(sw.Elapsed.TotalSeconds);
    epochLoss.Add(total / batches);
    model.Eval();
    double correct = 0;
    using (Tensor.NoGrad())
        foreach (var (x, y) in new DataLoader(fashion.Test, batchSize: 1000))
            correct += model.Forward(x).ArgMax(1).Eq(y).Sum().Item();
    accuracy.Add(correct / fashion.TestLabels.Length);
}

Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
{
    ["framework"] = "Optim.NN",
    ["optimizer"] = opt, ["lr"] = lr,
    ["epochs"] = epochs, ["batch_size"] = batchSize, ["threads"] = 2,
    ["train_images"] = train.Count,
    ["load_seconds"] = Math.Round(loadSeconds, 3),
    ["epoch_seconds"] = epochSeconds.Select(s => Math.Round(s, 3)).ToArray(),
    ["seconds_per_epoch"] = Math.Round(epochSeconds.Average(), 3),
    ["train_loss"] = epochLoss.Select(l => Math.Round(l, 4)).ToArray(),
    ["test_accuracy"] = accuracy.Select(a => Math.Round(a, 4)).ToArray(),
}));
