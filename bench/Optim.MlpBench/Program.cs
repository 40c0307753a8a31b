// Trains the MLP 784-128-10 on Fashion-MNIST with Adam (lr 1e-3, batch 64) and prints one line of JSON:
// seconds per epoch (the training loop only: batches, forward, backward, step) and test accuracy.
//   dotnet run -c Release --project bench/Optim.MlpBench -- [--epochs 5] [--data DIR] [--seed 0]
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Optim.CSharp;
using Optim.NN;

int epochs = 5, seed = 0, batchSize = 64;
double lr = 1e-3;
string data = "/usr/share/datasets/fashion-mnist";
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
    switch (args[i])
    {
        case "--epochs": epochs = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--data": data = Next(); break;
        case "--seed": seed = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--batch-size": batchSize = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--lr": lr = double.Parse(Next(), CultureInfo.InvariantCulture); break;
        default: throw new ArgumentException($"Unknown argument '{args[i]}'. Arguments: --epochs N, --data DIR, --seed S, --batch-size B, --lr LR.");
    }
}

var load = Stopwatch.StartNew();
var fashion = FashionMnist.Load(data);
double loadSeconds = load.Elapsed.TotalSeconds;

var rng = new Random(seed);
var model = new Sequential(new Linear(784, 128, random: rng), new ReLU(), new Linear(128, 10, random: rng));
var criterion = new CrossEntropyLoss();
var optimizer = new Adam(model.Parameters(), lr: lr);
var loader = new DataLoader(fashion.Train, batchSize: batchSize, shuffle: true, seed: seed);

var epochSeconds = new List<double>();
var epochLoss = new List<double>();
for (int epoch = 0; epoch < epochs; epoch++)
{
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
}

int correct = 0;
using (Tensor.NoGrad())
{
    var logits = model.Forward(fashion.TestImages);
    int classes = logits.Shape[1];
    for (int i = 0; i < fashion.TestLabels.Length; i++)
    {
        var row = logits.Data.AsSpan(i * classes, classes);
        int best = 0;
        for (int c = 1; c < classes; c++) if (row[c] > row[best]) best = c;
        if (best == fashion.TestLabels[i]) correct++;
    }
}

var result = new Dictionary<string, object>
{
    ["framework"] = "Optim.NN",
    ["epochs"] = epochs,
    ["batch_size"] = batchSize,
    ["threads"] = Environment.ProcessorCount > 1 ? 2 : 1,
    ["load_seconds"] = Math.Round(loadSeconds, 3),
    ["epoch_seconds"] = epochSeconds.Select(s => Math.Round(s, 3)).ToArray(),
    ["seconds_per_epoch"] = Math.Round(epochSeconds.Average(), 3),
    ["train_loss"] = epochLoss.Select(l => Math.Round(l, 4)).ToArray(),
    ["test_accuracy"] = Math.Round((double)correct / fashion.TestLabels.Length, 4),
};
Console.WriteLine(JsonSerializer.Serialize(result));
