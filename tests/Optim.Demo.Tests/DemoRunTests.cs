using System.Text.Json;
using OptimDemo;

namespace Optim.Demo.Tests;

/// <summary>The whole demo, in process, on a few hundred images of the embedded sample for one epoch.</summary>
public sealed class DemoRunTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("optim-demo-run-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Plain_output_has_no_escape_codes_and_each_run_ends_at_100_percent()
    {
        string output = Path.Combine(_dir, "plots"), json = Path.Combine(_dir, "summary.json");
        var run = Assert.IsType<DemoCommandLine.Run>(DemoCommandLine.Parse(
            ["--sample", "--epochs", "1", "--train-images", "256", "--out", output, "--json", json]));
        var text = new StringWriter();

        Assert.Equal(0, OptimDemo.Demo.Run(run.Options, DemoConsole.Create(text, plain: true)));

        string printed = text.ToString();
        Assert.DoesNotContain('\u001b', printed);
        var lines = printed.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        foreach (var recipe in Training.Recipes(1))
        {
            var progress = lines.Where(l => l.StartsWith(recipe.Name + ": ", StringComparison.Ordinal)).ToList();
            Assert.NotEmpty(progress);
            Assert.StartsWith(recipe.Name + ": 100%", progress[^1]);
        }
        Assert.Contains("the first 256 of its 10,000 training images", string.Join(" ", printed.Split((char[])[' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries)));

        using var summary = JsonDocument.Parse(File.ReadAllText(json));
        var plots = summary.RootElement.GetProperty("plots").EnumerateArray().Select(p => p.GetString()!).ToList();
        Assert.Equal(22, plots.Count);
        Assert.All(plots, p => Assert.True(new FileInfo(p).Length > 1000, p));
        Assert.Equal(6, summary.RootElement.GetProperty("runs").GetArrayLength());
        // the CNN's section: the tutorial's two learning rates, then its two training runs, each to 100%
        var cnn = summary.RootElement.GetProperty("cnn");
        Assert.Equal(2, cnn.GetProperty("learning_rates").GetArrayLength());
        Assert.Equal(2, cnn.GetProperty("runs").GetArrayLength());
        Assert.Contains("Fashion-MNIST padded to 32×32", cnn.GetProperty("data").GetString());
        foreach (var recipe in CnnSection.Recipes(1))
            Assert.StartsWith(recipe.Name + ": 100%", lines.Last(l => l.StartsWith(recipe.Name + ": ", StringComparison.Ordinal)));
        // the table's title wraps to the table's width: compare with the words joined
        Assert.Contains("Loss summed per epoch (256 images, one per step)",
            string.Join(" ", printed.Split((char[])[' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries)));
    }
}
