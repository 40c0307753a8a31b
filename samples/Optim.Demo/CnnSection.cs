using System.Diagnostics;
using System.Globalization;
using Optim.CSharp;
using Optim.NN;
using Spectre.Console;

namespace OptimDemo;

/// <summary>
/// The CIFAR-10 tutorial's convolutional network, trained with PyTorch's loop through the facade: first the tutorial's
/// own experiment (plain SGD at lr 0.01 and 0.001, one image per step, the loss summed over each epoch), then the
/// network trained with SGD with momentum and with Adam.
/// </summary>
internal static class CnnSection
{
    /// <summary>The tutorial's network for 32×32 images of <paramref name="channels"/> channels; no activations, as it has none.</summary>
    public static Module Network(int channels, Random rng) => new Sequential(
        new Conv2d(channels, 32, 5, padding: 2, random: rng), new MaxPool2d(2),
        new Conv2d(32, 32, 5, padding: 2, random: rng), new MaxPool2d(2),
        new Conv2d(32, 64, 5, padding: 2, random: rng), new MaxPool2d(2),
        new Flatten(), new Linear(1024, 64, random: rng), new Linear(64, 10, random: rng));

    /// <summary>The tutorial's experiment at one learning rate: the loss summed over each epoch's images.</summary>
    internal sealed record LrRun(double Lr, double[] EpochLossSum, double Seconds);

    /// <summary>The images and epochs of the tutorial's experiment: it steps once per image, so it sees a few of them.</summary>
    public const int LrImages = 1000, LrEpochs = 3;

    /// <summary>
    /// The tutorial's loop, line for line: <c>optimizer.ZeroGrad(); loss = lossFn(model(imgs), targets);
    /// loss.Backward(); optimizer.Step(); runningLoss += loss</c>, batches of one image, SGD at each rate, every run
    /// from the same weights.
    /// </summary>
    public static IReadOnlyList<LrRun> LearningRates(TensorDataset train, int channels, double[] lrs, int images = LrImages, int epochs = LrEpochs)
    {
        var subset = images < train.Count ? new TensorDataset(train.Inputs[..images], train.Targets[..images]) : train;
        var runs = new List<LrRun>();
        foreach (double lr in lrs)
        {
            var model = Network(channels, new Random(0));
            var lossFn = new CrossEntropyLoss();
            var optimizer = new SGD(model.Parameters(), lr: lr);
            var sums = new double[epochs];
            var clock = Stopwatch.StartNew();
            for (int epoch = 0; epoch < epochs; epoch++)
            {
                double runningLoss = 0;
                foreach (var (imgs, targets) in new DataLoader(subset, batchSize: 1))
                {
                    optimizer.ZeroGrad();
                    var loss = lossFn.Forward(model.Forward(imgs), targets);
                    loss.Backward();
                    optimizer.Step();
                    runningLoss += loss.Item();
                }
                sums[epoch] = runningLoss;
            }
            runs.Add(new LrRun(lr, sums, clock.Elapsed.TotalSeconds));
        }
        return runs;
    }

    /// <summary>What the summed losses did, in words: fell every epoch, grew, or went up and down.</summary>
    public static string Trend(double[] sums)
    {
        if (sums.Any(s => !double.IsFinite(s))) return "diverged (the loss is no longer finite)";
        bool falls = sums.Zip(sums.Skip(1)).All(p => p.Second < p.First);
        bool grows = sums.Zip(sums.Skip(1)).All(p => p.Second > p.First);
        return falls ? "falls every epoch" : grows ? "grows every epoch" : "goes up and down";
    }

    /// <summary>The two training runs of the network.</summary>
    public static IReadOnlyList<Training.Recipe> Recipes(int channels) =>
    [
        new("CNN, SGD momentum", "lr 0.01, momentum 0.9", 64, 1, ps => new SGD(ps, lr: 0.01, momentum: 0.9), (_, _) => null)
            { MakeModel = rng => Network(channels, rng) },
        new("CNN, Adam", "lr 1e-3", 64, 1, ps => new Adam(ps, lr: 1e-3), (_, _) => null)
            { MakeModel = rng => Network(channels, rng) },
    ];

    /// <summary>Prints the tutorial's experiment as the tutorial prints it: one summed loss per epoch and rate.</summary>
    public static void ShowLearningRates(IAnsiConsole console, IReadOnlyList<LrRun> runs, int images)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .Title($"[bold]Loss summed per epoch ({images:N0} images, one per step)[/]");
        table.AddColumn(new TableColumn("epoch").RightAligned());
        foreach (var r in runs) table.AddColumn(new TableColumn($"lr {r.Lr.ToString("G", CultureInfo.InvariantCulture)}").RightAligned());
        for (int e = 0; e < runs[0].EpochLossSum.Length; e++)
            table.AddRow(new[] { e.ToString(CultureInfo.InvariantCulture) }
                .Concat(runs.Select(r => r.EpochLossSum[e].ToString("F1", CultureInfo.InvariantCulture))).ToArray());
        console.Write(table);
        foreach (var r in runs)
            console.WriteLine($"lr {r.Lr.ToString("G", CultureInfo.InvariantCulture)}: the summed loss {Trend(r.EpochLossSum)} " +
                              $"({r.Seconds.ToString("F1", CultureInfo.InvariantCulture)} s).");
        console.WriteLine("The tutorial saw its summed loss grow at lr 0.01 on CIFAR-10 and fall at 0.001; each dataset and " +
                          "start has its own rates that are too large, and the table shows where these two stand here.");
    }
}
