// The main job: the seeds' examples and a real training run through Optim's C# facade and Optim.NN, with tables on
// the console and SVG plots (and, with --json, a summary) on disk.
//   dotnet run -c Release --project samples/Optim.Demo -- [--data DIR] [--epochs N] [--out DIR] [--json FILE]
using System.Globalization;
using System.Text.Json;
using Optim.NN;
using OptimDemo;
using Spectre.Console;

var options = DemoOptions.Parse(args);
if (options is null) return 2;
Directory.CreateDirectory(options.OutDir);
var plots = new List<string>();
void Save(string file, string svg)
{
    string path = Path.Combine(options.OutDir, file);
    File.WriteAllText(path, svg);
    plots.Add(Path.GetFullPath(path));
}

AnsiConsole.Write(new FigletText("Optim").Color(Color.SteelBlue));

// Seed 002: SGD on y = 4x², and the optimizer's param groups and state dict.
var descent = SeedExamples.QuadraticDescent();
SeedExamples.ShowDescent(descent);
Save("seed002_quadratic_descent.svg", SvgChart.Render("Seed 002: SGD on y = 4x² from x = 2", "Iteration", "Loss",
    descent.Select(d => new Curve(d.Label, d.Loss.Select(l => (double)l).ToArray())).ToList()));
SeedExamples.ParamGroupsAndStateDict();

// Seed 003: gradient accumulation on a linear regression.
var regression = SeedExamples.LinearRegression();
SeedExamples.ShowRegression(regression);

// Seed 002: the learning-rate schedulers, and the rest of PyTorch's set.
AnsiConsole.Write(new Rule("[bold]Seed 002: learning-rate schedulers (SGD lr 0.1, 200 epochs)[/]").LeftJustified());
var seedCurves = SchedulerCurves.Seed002(Console.Out);
Save("seed002_lr_schedulers.svg", SvgChart.Render("Seed 002: learning rate against epoch", "Epoch", "Learning rate", seedCurves));
Save("lr_schedulers_more.svg", SvgChart.Render("The rest of torch.optim.lr_scheduler, and SWALR", "Epoch", "Learning rate",
    SchedulerCurves.Others()));
var lrTable = new Table().Border(TableBorder.Rounded).AddColumns("scheduler", "epoch 0", "epoch 49", "epoch 50", "epoch 199");
foreach (var c in seedCurves) lrTable.AddRow(Markup.Escape(c.Name), G(c.Values[0]), G(c.Values[49]), G(c.Values[50]), G(c.Values[^1]));
AnsiConsole.Write(lrTable);

// The seeds' training loop on Fashion-MNIST.
var (data, source) = DemoData.Load(options.DataDir, options.Sample);
AnsiConsole.Write(new Rule($"[bold]Seeds 001/003: the training loop on Fashion-MNIST, MLP 784-128-10, {options.Epochs} epochs[/]").LeftJustified());
AnsiConsole.WriteLine($"Data: {source}.");
var recipes = Training.Recipes(options.Epochs);
var runs = Training.RunAll(data, recipes, options.Epochs, seed: 0);
var results = new Table().Border(TableBorder.Rounded).Title("[bold]Test accuracy, final loss and time per epoch[/]")
    .AddColumns("run", "setup")
    .AddColumn(new TableColumn("test accuracy").RightAligned())
    .AddColumn(new TableColumn("final loss").RightAligned())
    .AddColumn(new TableColumn("s / epoch").RightAligned());
foreach (var r in runs)
    results.AddRow(Markup.Escape(r.Name), Markup.Escape(r.Setup), r.FinalAccuracy.ToString("F4", CultureInfo.InvariantCulture),
                   r.FinalLoss.ToString("F4", CultureInfo.InvariantCulture), r.SecondsPerEpoch.ToString("F2", CultureInfo.InvariantCulture));
AnsiConsole.Write(results);

// Loss curves: each run's batch losses averaged over 20 bins per epoch, so runs with other batch sizes share the axis.
const int Bins = 20;
Save("training_loss.svg", SvgChart.Render("Training loss per optimizer (mean over 1/20 epoch)", "Epoch", "Cross-entropy loss",
    runs.Select(r => new Curve(r.Name, Binned(r.BatchLoss, Bins * options.Epochs))).ToList(), xPerPoint: 1.0 / Bins));
Save("training_accuracy.svg", SvgChart.Render("Test accuracy after each epoch", "Epoch", "Accuracy",
    runs.Select(r => new Curve(r.Name, [double.NaN, .. r.EpochAccuracy])).ToList()));
var scheduled = runs.Single(r => r.Name.Contains("OneCycleLR"));
Save("training_lr_schedule.svg", SvgChart.Render($"{scheduled.Name}: learning rate at each step", "Epoch", "Learning rate",
    [new Curve(scheduled.Name, scheduled.Lrs)], xPerPoint: (double)options.Epochs / scheduled.Lrs.Length));

AnsiConsole.Write(new Rule("[bold]Plots[/]").LeftJustified());
foreach (var path in plots) AnsiConsole.WriteLine(path);
if (options.JsonFile is { } json)
{
    var summary = new
    {
        data = source,
        epochs = options.Epochs,
        runs = runs.Select(r => new
        {
            name = r.Name, setup = r.Setup, test_accuracy = r.FinalAccuracy, final_loss = r.FinalLoss,
            seconds_per_epoch = r.SecondsPerEpoch, epoch_loss = r.EpochLoss, epoch_accuracy = r.EpochAccuracy,
            epoch_seconds = r.EpochSeconds,
        }),
        seed003_regression = new { weight = regression.Weight, bias = regression.Bias, epoch_loss = regression.EpochLoss },
        plots,
    };
    File.WriteAllText(json, JsonSerializer.Serialize(summary, new JsonSerializerOptions { WriteIndented = true }));
    AnsiConsole.WriteLine($"Summary: {Path.GetFullPath(json)}");
}
return 0;

static string G(double x) => x.ToString("G4", CultureInfo.InvariantCulture);

static double[] Binned(double[] values, int bins)
{
    var result = new double[bins];
    for (int b = 0; b < bins; b++)
    {
        int lo = (int)((long)b * values.Length / bins), hi = (int)((long)(b + 1) * values.Length / bins);
        result[b] = hi > lo ? values[lo..hi].Average() : double.NaN;
    }
    return result;
}

/// <summary>The demo's command line.</summary>
internal sealed record DemoOptions(string OutDir, string? JsonFile, string? DataDir, bool Sample, int Epochs)
{
    private const string Usage = "Usage: Optim.Demo [--data DIR | --sample] [--epochs N] [--out DIR] [--json FILE]";

    /// <summary>Parses the arguments; prints the usage and returns null on anything it does not know.</summary>
    public static DemoOptions? Parse(string[] args)
    {
        var o = new DemoOptions(Path.Combine("out", "demo"), null, null, false, 5);
        for (int i = 0; i < args.Length; i++)
        {
            string? next = i + 1 < args.Length ? args[i + 1] : null;
            switch (args[i])
            {
                case "--out" when next is not null: o = o with { OutDir = next }; i++; break;
                case "--json" when next is not null: o = o with { JsonFile = next }; i++; break;
                case "--data" when next is not null: o = o with { DataDir = next }; i++; break;
                case "--sample": o = o with { Sample = true }; break;
                case "--epochs" when int.TryParse(next, out int n) && n > 0: o = o with { Epochs = n }; i++; break;
                default:
                    Console.Error.WriteLine($"Unknown or incomplete argument '{args[i]}'. {Usage}");
                    return null;
            }
        }
        return o;
    }
}

/// <summary>Where the demo's Fashion-MNIST comes from.</summary>
internal static class DemoData
{
    /// <summary>Debian's <c>dataset-fashion-mnist</c> puts the full set here.</summary>
    public const string Installed = "/usr/share/datasets/fashion-mnist";

    /// <summary>
    /// The set in <paramref name="dir"/> when given, else the full set from <see cref="Installed"/> when present (and no
    /// <paramref name="sample"/> was asked for), else the sample embedded in the demo (the first 10,000 training and
    /// 2,000 test images); and a line saying which.
    /// </summary>
    public static (FashionMnist Data, string Source) Load(string? dir, bool sample)
    {
        var (data, what) =
            dir is not null ? (FashionMnist.Load(dir), $"{dir}")
            : !sample && File.Exists(Path.Combine(Installed, "t10k-labels-idx1-ubyte.gz")) ? (FashionMnist.Load(Installed), $"the full set in {Installed}")
            : (FashionMnist.Load(name => typeof(DemoData).Assembly.GetManifestResourceStream("fashion-mnist/" + name)
                                         ?? throw new FileNotFoundException($"The demo has no embedded resource '{name}'.")),
               "the embedded sample (data/fashion-mnist-sample)");
        return (data, string.Create(CultureInfo.InvariantCulture,
            $"{what}, {data.TrainImages.Shape[0]:N0} training and {data.TestImages.Shape[0]:N0} test images"));
    }
}
