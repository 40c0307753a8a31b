using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace OptimDemo;

/// <summary>The demo's settings, read from its command line and checked before any work starts.</summary>
/// <param name="OutDir">Where the plots go (created, and known to be writable).</param>
/// <param name="JsonFile">Where the summary goes, or null for none (its directory created, and known to be writable).</param>
/// <param name="DataDir">A directory holding the Fashion-MNIST files, CIFAR-10's, or both; or null for the default.</param>
/// <param name="Sample">Whether to train on the embedded sample even where the full set is installed.</param>
/// <param name="Epochs">How many epochs each run trains.</param>
/// <param name="TrainImages">How many of the training images to train on, or null for all of them.</param>
internal sealed record DemoOptions(string OutDir, string? JsonFile, string? DataDir, bool Sample, int Epochs, int? TrainImages);

/// <summary>What the command line asks for: a run, the help text, or nothing, because it is wrong.</summary>
internal abstract record DemoCommandLine
{
    private DemoCommandLine() { }

    /// <summary>Run the demo with these settings.</summary>
    /// <param name="Options">The checked settings.</param>
    public sealed record Run(DemoOptions Options) : DemoCommandLine;

    /// <summary>Print the help (to standard output) and exit 0.</summary>
    /// <param name="Text">The help text.</param>
    public sealed record Help(string Text) : DemoCommandLine;

    /// <summary>Print the message (one line, to standard error) and exit 2.</summary>
    /// <param name="Message">What is wrong, naming the option and its value.</param>
    public sealed record Invalid(string Message) : DemoCommandLine;

    /// <summary>The exit code for a command line that is wrong.</summary>
    public const int UsageError = 2;

    /// <summary>The four files <see cref="Optim.NN.FashionMnist.Load(string)"/> reads, each with or without <c>.gz</c>.</summary>
    public static IReadOnlyList<string> DataFiles { get; } =
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

    /// <summary>The smallest <c>--train-images</c>: every run then still takes a few optimizer steps per epoch.</summary>
    public const int MinTrainImages = 256;

    private static readonly string DefaultOut = Path.Combine("out", "demo");

    /// <summary>
    /// Parses <paramref name="args"/> and checks every value before any work starts: numbers in range, <c>--data</c> a
    /// directory holding the Fashion-MNIST files, <c>--sample</c> not with <c>--data</c>, and the <c>--out</c>
    /// directory and the <c>--json</c> file's directory writable (each created, and a file written there and
    /// deleted).
    /// </summary>
    public static DemoCommandLine Parse(IReadOnlyList<string> args)
    {
        var data = new Option<string>("--data")
        {
            Description = "A directory holding Fashion-MNIST: " + string.Join(", ", DataFiles) + " (each may end in .gz), " +
                          "or CIFAR-10's binary batches (data_batch_1.bin ... test_batch.bin), or both: the MLP trains on " +
                          "Fashion-MNIST, the CNN on CIFAR-10 when it is there, else on Fashion-MNIST padded to 32x32. " +
                          $"[default: {DemoData.Installed} when installed, else the sample embedded in the demo]",
            HelpName = "dir",
        };
        var sample = new Option<bool>("--sample")
        {
            Description = "Train on the sample embedded in the demo (the first 10,000 training and 2,000 test images), " +
                          "even where the full set is installed; not with --data. [default: off]",
            DefaultValueFactory = _ => false,
        };
        var epochs = new Option<int>("--epochs")
        {
            Description = "Epochs each optimizer trains for, a whole number from 1.",
            DefaultValueFactory = _ => 5,
            HelpName = "n",
        };
        var trainImages = new Option<int>("--train-images")
        {
            Description = $"Train on the first n training images only, for a quick look (at least {MinTrainImages}; " +
                          "the test images are all used). [default: all of them]",
            HelpName = "n",
        };
        var outDir = new Option<string>("--out")
        {
            Description = "The directory the plots are written to, as PNG and SVG; created if missing.",
            DefaultValueFactory = _ => DefaultOut,
            HelpName = "dir",
        };
        var json = new Option<string>("--json")
        {
            Description = "Also write a JSON summary of every run (accuracy, loss and time per epoch) to this file. " +
                          "[default: none]",
            HelpName = "file",
        };
        var root = new RootCommand(
            "Optim's demo: the tutorials' optimizer examples through the C# facade, then an MLP trained on Fashion-MNIST " +
            "with SGD, momentum, Adam, AdamW, OneCycleLR and gradient accumulation, then the CIFAR-10 tutorial's CNN " +
            "(its learning-rate comparison, SGD with momentum and Adam); tables on the console, plots on disk.")
        {
            data, sample, epochs, trainImages, outDir, json,
        };

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0) return new Invalid(OneLine(parsed.Errors[0].Message) + " See --help.");
        if (parsed.Action is not null)
        {
            // --help or --version: the parser's own text.
            var text = new StringWriter(CultureInfo.InvariantCulture);
            parsed.Invoke(new InvocationConfiguration { Output = text, Error = text });
            return new Help(text.ToString());
        }

        int n = parsed.GetValue(epochs);
        if (n < 1) return Bad(epochs, parsed, "must be a whole number from 1");
        int? images = parsed.GetResult(trainImages) is null ? null : parsed.GetValue(trainImages);
        if (images < MinTrainImages) return Bad(trainImages, parsed, $"must be at least {MinTrainImages}");
        string? dataDir = parsed.GetValue(data);
        bool useSample = parsed.GetValue(sample);
        if (useSample && dataDir is not null)
            return new Invalid($"--sample and --data '{dataDir}' exclude each other: --sample trains on the embedded sample, " +
                               "--data on the set in a directory. Give one of them.");
        if (dataDir is not null && DataProblem(dataDir) is { } problem) return new Invalid($"--data '{dataDir}': {problem}.");
        string output = parsed.GetValue(outDir) ?? DefaultOut;
        if (WriteProblem(output) is { } outProblem) return new Invalid($"--out '{output}': {outProblem}.");
        string? jsonFile = parsed.GetValue(json);
        if (jsonFile is not null)
        {
            if (Directory.Exists(jsonFile)) return new Invalid($"--json '{jsonFile}': is a directory, not a file.");
            string dir = Path.GetDirectoryName(Path.GetFullPath(jsonFile))!;
            if (WriteProblem(dir) is { } jsonProblem) return new Invalid($"--json '{jsonFile}': {jsonProblem}.");
        }
        return new Run(new DemoOptions(output, jsonFile, dataDir, useSample, n, images));
    }

    private static Invalid Bad(Option option, ParseResult parsed, string rule)
    {
        string value = string.Join(" ", parsed.GetResult(option)?.Tokens.Select(t => t.Value) ?? []);
        return new Invalid($"{option.Name} '{value}': {rule}.");
    }

    /// <summary>CIFAR-10's binary batches, which <see cref="Optim.NN.Cifar10.Load(string)"/> reads.</summary>
    public static IReadOnlyList<string> CifarFiles { get; } =
        ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"];

    /// <summary>Whether <paramref name="dir"/> holds Fashion-MNIST's four files.</summary>
    public static bool HoldsFashionMnist(string dir) => MissingFashionMnist(dir).Count == 0;

    /// <summary>Whether <paramref name="dir"/> holds CIFAR-10's six binary batches.</summary>
    public static bool HoldsCifar10(string dir) => CifarFiles.All(f => File.Exists(Path.Combine(dir, f)));

    private static List<string> MissingFashionMnist(string dir) =>
        DataFiles.Where(f => !File.Exists(Path.Combine(dir, f + ".gz")) && !File.Exists(Path.Combine(dir, f))).ToList();

    /// <summary>Why <paramref name="dir"/> holds neither the Fashion-MNIST files nor CIFAR-10's, or null when it holds either.</summary>
    private static string? DataProblem(string dir)
    {
        if (File.Exists(dir)) return "is a file, not a directory";
        if (!Directory.Exists(dir)) return "no such directory";
        var missing = MissingFashionMnist(dir);
        return missing.Count == 0 || HoldsCifar10(dir) ? null
            : $"holds no {string.Join(", no ", missing)} (each may end in .gz), nor CIFAR-10's {string.Join(", ", CifarFiles)}";
    }

    /// <summary>
    /// Why files cannot be written into <paramref name="dir"/>, or null when they can: it is created if missing, and a
    /// probe file is written there and deleted, so a bad path fails now rather than after the training.
    /// </summary>
    private static string? WriteProblem(string dir)
    {
        for (var up = Path.GetFullPath(dir); !string.IsNullOrEmpty(up); up = Path.GetDirectoryName(up))
            if (File.Exists(up)) return $"'{up}' is a file, not a directory";
        try
        {
            Directory.CreateDirectory(dir);
            string probe = Path.Combine(dir, $".optim-demo-probe-{Environment.ProcessId}-{Guid.NewGuid():N}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return "cannot write there (" + OneLine(e.Message) + ")";
        }
    }

    private static string OneLine(string s) => string.Join(" ", s.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries)).Trim();
}
