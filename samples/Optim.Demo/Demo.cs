using System.Globalization;
using System.Text.Json;
using Optim.NN;
using Spectre.Console;

namespace OptimDemo;

/// <summary>
/// The main job: the tutorials' examples and a real training run through Optim's C# facade and Optim.NN, with tables
/// on the console and plots (PNG and SVG; with <c>--json</c>, a summary too) on disk.
/// </summary>
internal static class Demo
{
    /// <summary>Runs the demo with checked <paramref name="options"/>, writing to <paramref name="console"/>.</summary>
    /// <returns>The exit code: 0.</returns>
    public static int Run(DemoOptions options, DemoConsole console)
    {
        var con = console.Out;
        var plots = new List<string>();
        void Plot(string name, Chart chart)
        {
            var (png, svg) = Charts.Save(chart, options.OutDir, name);
            plots.Add(png);
            plots.Add(svg);
        }

        con.Write(new FigletText("Optim").Color(Color.SteelBlue));

        var descent = SeedExamples.QuadraticDescent();
        SeedExamples.ShowDescent(con, descent);
        Plot("quadratic_descent", new Chart("SGD on y = 4x² from x = 2: the step size decides", "Iteration (optimizer step)",
            "Loss y = 4x² (log scale)",
            descent.Select(d => new Curve(d.Label + (d.Loss.Skip(1).Any(l => l == 0) ? " (loss 0 from iteration 1)" : ""),
                                          d.Loss.Select(l => (double)l).ToArray())).ToList(), LogY: true));
        SeedExamples.ParamGroupsAndStateDict(con);

        var regression = SeedExamples.LinearRegression();
        SeedExamples.ShowRegression(con, regression);

        con.Write(new Rule("[bold]Learning-rate schedulers (SGD lr 0.1, 200 epochs)[/]").LeftJustified());
        var tutorial = SchedulerCurves.Tutorial(new AnsiTextWriter(con));
        var lrTable = new Table().Border(TableBorder.Rounded).AddColumns("scheduler", "epoch 0", "epoch 49", "epoch 50", "epoch 199");
        foreach (var c in tutorial) lrTable.AddRow(Markup.Escape(c.Name), G(c.Values[0]), G(c.Values[49]), G(c.Values[50]), G(c.Values[^1]));
        con.Write(lrTable);
        foreach (var (name, chart) in SchedulerCurves.Charts(tutorial, SchedulerCurves.Others())) Plot(name, chart);

        var (train, test, source) = DemoData.Load(options.DataDir, options.Sample, options.TrainImages);
        con.Write(new Rule($"[bold]PyTorch's training loop on Fashion-MNIST: an MLP 784-128-10, {options.Epochs} epochs per optimizer[/]").LeftJustified());
        con.WriteLine($"Data: {source}.");
        var runs = Training.RunAll(console, train, test, Training.Recipes(options.Epochs), options.Epochs, seed: 0);
        var results = new Table().Border(TableBorder.Rounded).Title("[bold]Test accuracy, final loss and time per epoch[/]")
            .AddColumns("run", "setup")
            .AddColumn(new TableColumn("test accuracy").RightAligned())
            .AddColumn(new TableColumn("final loss").RightAligned())
            .AddColumn(new TableColumn("s / epoch").RightAligned());
        foreach (var r in runs)
            results.AddRow(Markup.Escape(r.Name), Markup.Escape(r.Setup), F(r.FinalAccuracy, "F4"), F(r.FinalLoss, "F4"), F(r.SecondsPerEpoch, "F2"));
        con.Write(results);
        con.WriteLine("s / epoch: the mean wall-clock time of an epoch's training, after a warm-up; evaluation excluded.");

        // Each run's batch losses averaged over 20 bins per epoch, so that runs with other batch sizes share the axis.
        const int Bins = 20;
        Plot("training_loss", new Chart("Training loss per optimizer (mean over each twentieth of an epoch)", "Epoch",
            "Cross-entropy loss (nats, log scale)", runs.Select(r => new Curve(r.Name, Binned(r.BatchLoss, Bins * options.Epochs))).ToList(),
            LogY: true, XStart: 0.5 / Bins, XPerPoint: 1.0 / Bins));
        Plot("training_accuracy", new Chart("Test accuracy after each epoch", "Epoch",
            $"Test accuracy (fraction of {test.Count:N0} images right)",
            runs.Select(r => new Curve(r.Name, r.EpochAccuracy)).ToList(), XStart: 1));
        var scheduled = runs.Single(r => r.Name.Contains("OneCycleLR"));
        Plot("training_lr_onecycle", new Chart($"{scheduled.Name}: the learning rate at each optimizer step", "Epoch",
            "Learning rate", [new Curve(scheduled.Name, scheduled.Lrs)], XPerPoint: (double)options.Epochs / scheduled.Lrs.Length));

        var (imgTrain, imgTest, channels, imgSource) = DemoData.LoadImages(options.DataDir, options.Sample, options.TrainImages);
        con.Write(new Rule("[bold]The CIFAR-10 tutorial's CNN: 3 convolutions and poolings, 2 linear layers[/]").LeftJustified());
        con.WriteLine($"Data: {imgSource}.");
        var lrRuns = CnnSection.LearningRates(imgTrain, channels, [0.01, 0.001]);
        CnnSection.ShowLearningRates(con, lrRuns, Math.Min(CnnSection.LrImages, imgTrain.Count));
        Plot("cnn_lr_loss_sum", new Chart("The tutorial's loop: SGD at two learning rates, one image per step", "Epoch",
            "Cross-entropy loss summed over the epoch", lrRuns.Select(r => new Curve($"lr {G(r.Lr)}", r.EpochLossSum)).ToList()));
        int cnnEpochs = Math.Min(options.Epochs, CnnEpochs);
        con.WriteLine($"The network trained with SGD with momentum and with Adam, {cnnEpochs} epoch{(cnnEpochs == 1 ? "" : "s")} each, batches of 64:");
        var cnnRuns = Training.RunAll(console, imgTrain, imgTest, CnnSection.Recipes(channels), cnnEpochs, seed: 0);
        var cnnTable = new Table().Border(TableBorder.Rounded).Title("[bold]The CNN: test accuracy, final loss and time per epoch[/]")
            .AddColumns("run", "setup")
            .AddColumn(new TableColumn("test accuracy").RightAligned())
            .AddColumn(new TableColumn("final loss").RightAligned())
            .AddColumn(new TableColumn("s / epoch").RightAligned());
        foreach (var r in cnnRuns)
            cnnTable.AddRow(Markup.Escape(r.Name), Markup.Escape(r.Setup), F(r.FinalAccuracy, "F4"), F(r.FinalLoss, "F4"), F(r.SecondsPerEpoch, "F2"));
        con.Write(cnnTable);
        Plot("cnn_training_loss", new Chart("The CNN's training loss (mean over each twentieth of an epoch)", "Epoch",
            "Cross-entropy loss (nats, log scale)", cnnRuns.Select(r => new Curve(r.Name, Binned(r.BatchLoss, Bins * cnnEpochs))).ToList(),
            LogY: true, XStart: 0.5 / Bins, XPerPoint: 1.0 / Bins));
        Plot("cnn_test_accuracy", new Chart("The CNN's test accuracy after each epoch", "Epoch",
            $"Test accuracy (fraction of {imgTest.Count:N0} images right)", cnnRuns.Select(r => new Curve(r.Name, r.EpochAccuracy)).ToList(), XStart: 1));

        con.Write(new Rule("[bold]Plots[/]").LeftJustified());
        foreach (var path in plots) con.WriteLine(path);
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
                accumulation_regression = new { weight = regression.Weight, bias = regression.Bias, epoch_loss = regression.EpochLoss },
                cnn = new
                {
                    data = imgSource,
                    epochs = cnnEpochs,
                    learning_rates = lrRuns.Select(r => new { lr = r.Lr, epoch_loss_sum = r.EpochLossSum }),
                    runs = cnnRuns.Select(r => new
                    {
                        name = r.Name, setup = r.Setup, test_accuracy = r.FinalAccuracy, final_loss = r.FinalLoss,
                        seconds_per_epoch = r.SecondsPerEpoch, epoch_loss = r.EpochLoss, epoch_accuracy = r.EpochAccuracy,
                        epoch_seconds = r.EpochSeconds,
                    }),
                },
                plots,
            };
            File.WriteAllText(json, JsonSerializer.Serialize(summary, new JsonSerializerOptions { WriteIndented = true }));
            con.WriteLine($"Summary: {Path.GetFullPath(json)}");
        }
        return 0;
    }

    /// <summary>The most epochs the CNN's runs train (fewer when <c>--epochs</c> asks for fewer), so that its section stays short.</summary>
    internal const int CnnEpochs = 2;

    private static string G(double x) => x.ToString("G4", CultureInfo.InvariantCulture);

    private static string F(double x, string format) => x.ToString(format, CultureInfo.InvariantCulture);

    private static double[] Binned(double[] values, int bins)
    {
        var result = new double[bins];
        for (int b = 0; b < bins; b++)
        {
            int lo = (int)((long)b * values.Length / bins), hi = (int)((long)(b + 1) * values.Length / bins);
            result[b] = hi > lo ? values[lo..hi].Average() : double.NaN;
        }
        return result;
    }

    /// <summary>Lines written to a <see cref="TextWriter"/> (ReduceLROnPlateau's verbose log) go to the demo's console.</summary>
    private sealed class AnsiTextWriter(IAnsiConsole console) : StringWriter(CultureInfo.InvariantCulture)
    {
        public override void WriteLine(string? value) => console.WriteLine(value ?? "");
    }
}

/// <summary>Where the demo's Fashion-MNIST comes from.</summary>
internal static class DemoData
{
    /// <summary>Debian's <c>dataset-fashion-mnist</c> puts the full set here.</summary>
    public const string Installed = "/usr/share/datasets/fashion-mnist";

    /// <summary>
    /// The set in <paramref name="dir"/> when it holds Fashion-MNIST, else the full set from <see cref="Installed"/> when present (and no
    /// <paramref name="sample"/> was asked for), else the sample embedded in the demo (the first 10,000 training and
    /// 2,000 test images); its first <paramref name="trainImages"/> training images when given; and a line saying which.
    /// </summary>
    public static (TensorDataset Train, TensorDataset Test, string Source) Load(string? dir, bool sample, int? trainImages = null)
    {
        var (data, what) = Open(dir, sample);
        return Limit(data.Train, data.Test, what, trainImages);
    }

    /// <summary>
    /// The images for the CNN: CIFAR-10 when <paramref name="dir"/> holds its batches, else the Fashion-MNIST set
    /// <see cref="Load"/> picks, as one-channel images zero-padded to 32×32; their channel count; and a line saying which.
    /// </summary>
    public static (TensorDataset Train, TensorDataset Test, int Channels, string Source) LoadImages(string? dir, bool sample, int? trainImages = null)
    {
        if (dir is not null && DemoCommandLine.HoldsCifar10(dir))
        {
            var cifar = Cifar10.Load(dir);
            var (ctrain, ctest, csource) = Limit(cifar.Train, cifar.Test, $"CIFAR-10 in {dir}", trainImages);
            return (ctrain, ctest, 3, csource);
        }
        var (data, what) = Open(dir, sample);
        var images = data.AsImages(padding: 2);
        var (train, test, source) = Limit(images.Train, images.Test, $"Fashion-MNIST padded to 32×32 (1 channel; CIFAR-10 is not on this machine), {what}", trainImages);
        return (train, test, 1, source);
    }

    /// <summary>Fashion-MNIST from <paramref name="dir"/> when it holds it, else installed, else embedded; and where from.</summary>
    private static (FashionMnist Data, string What) Open(string? dir, bool sample) =>
        dir is not null && DemoCommandLine.HoldsFashionMnist(dir) ? (FashionMnist.Load(dir), $"{dir}")
        : !sample && File.Exists(Path.Combine(Installed, "t10k-labels-idx1-ubyte.gz")) ? (FashionMnist.Load(Installed), $"the full set in {Installed}")
        : (FashionMnist.Load(name => typeof(DemoData).Assembly.GetManifestResourceStream("fashion-mnist/" + name)
                                     ?? throw new FileNotFoundException($"The demo has no embedded resource '{name}'.")),
           "the embedded sample (data/fashion-mnist-sample)");

    private static (TensorDataset Train, TensorDataset Test, string Source) Limit(TensorDataset train, TensorDataset test, string what, int? trainImages)
    {
        string images = string.Create(CultureInfo.InvariantCulture, $"{train.Count:N0} training images");
        if (trainImages < train.Count)
        {
            images = string.Create(CultureInfo.InvariantCulture, $"the first {trainImages:N0} of its {train.Count:N0} training images");
            train = new TensorDataset(train.Inputs[..trainImages.Value], train.Targets[..trainImages.Value]);
        }
        return (train, test, string.Create(CultureInfo.InvariantCulture, $"{what}, {images} and {test.Count:N0} test images"));
    }
}
