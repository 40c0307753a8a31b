using OptimDemo;
using ScottPlot;

namespace Optim.Demo.Tests;

/// <summary>The demo's charts: both formats written, axes that fit the data, log axes for losses, curves told apart.</summary>
public sealed class ChartsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("optim-demo-charts-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly Chart Accuracy = new("Test accuracy after each epoch", "Epoch", "Test accuracy",
        [new Curve("SGD", [0.81, 0.84, 0.85]), new Curve("Adam", [0.83, 0.86, 0.88])], XStart: 1);

    private static readonly Chart Loss = new("Training loss", "Epoch", "Cross-entropy loss (log scale)",
        [new Curve("SGD", [2.3, 0.9, 0.45, 0.31]), new Curve("SGD again", [2.3, 0.9, 0.45, 0.31])], LogY: true);

    [Fact]
    public void Save_writes_a_png_and_an_svg()
    {
        var (png, svg) = Charts.Save(Accuracy, _dir, "accuracy");
        var bytes = File.ReadAllBytes(png);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], bytes[..4]);
        // The PNG header's width and height, big-endian at bytes 16 and 20.
        Assert.Equal(Charts.Width, (bytes[16] << 24) | (bytes[17] << 16) | (bytes[18] << 8) | bytes[19]);
        Assert.Equal(Charts.Height, (bytes[20] << 24) | (bytes[21] << 16) | (bytes[22] << 8) | bytes[23]);
        Assert.True(bytes.Length > 10_000, "a PNG with text and lines, not a blank image");
        string xml = File.ReadAllText(svg);
        Assert.StartsWith("<?xml", xml);
        Assert.Contains("<svg", xml);
        Assert.Contains("Test accuracy after each epoch".Split(' ')[0], xml);
    }

    [Fact]
    public void The_accuracy_axis_fits_the_data_not_zero_to_one()
    {
        var (lo, hi) = Charts.YRange(Accuracy);
        Assert.InRange(lo, 0.79, 0.81);
        Assert.InRange(hi, 0.88, 0.90);
        using var plot = Charts.Build(Accuracy);
        var limits = plot.Axes.GetLimits();
        Assert.Equal(lo, limits.Bottom, 9);
        Assert.Equal(hi, limits.Top, 9);
    }

    [Fact]
    public void The_loss_axis_is_logarithmic()
    {
        using var plot = Charts.Build(Loss);
        var limits = plot.Axes.GetLimits();
        // The axis's coordinates are decades: log10 of 0.31 and of 2.3, with a margin.
        Assert.InRange(limits.Bottom, Math.Log10(0.31) - 0.2, Math.Log10(0.31));
        Assert.InRange(limits.Top, Math.Log10(2.3), Math.Log10(2.3) + 0.2);
        var scatters = plot.GetPlottables<ScottPlot.Plottables.Scatter>().ToList();
        Assert.Equal(Math.Log10(2.3), scatters[0].Data.GetScatterPoints()[0].Y, 12);
        plot.RenderInMemory(Charts.Width, Charts.Height);
        var ticks = plot.Axes.Left.TickGenerator.Ticks.Where(t => t.IsMajor).Select(t => t.Label).ToList();
        Assert.Contains("1", ticks);
        Assert.Contains("0.5", ticks);
    }

    [Fact]
    public void Curves_that_coincide_are_drawn_in_different_styles_in_both_formats()
    {
        using var plot = Charts.Build(Loss);
        var (a, b) = (plot.GetPlottables<ScottPlot.Plottables.Scatter>().First(), plot.GetPlottables<ScottPlot.Plottables.Scatter>().Last());
        Assert.NotEqual(a.LinePattern.Name, b.LinePattern.Name);
        Assert.NotEqual(a.Color, b.Color);
        Assert.True(a.LineWidth > b.LineWidth, "the later curve is drawn thinner, on top");
        Assert.Contains("stroke-dasharray", File.ReadAllText(Charts.Save(Loss, _dir, "loss").Svg));
    }

    [Fact]
    public void Values_that_are_not_positive_leave_a_gap_on_a_log_axis()
    {
        using var plot = Charts.Build(Loss with { Curves = [new Curve("lr=0.125", [16, 0, 0, 0]), new Curve("lr=0.01", [16, 13, 11, 9])] });
        Assert.Single(plot.GetPlottables<ScottPlot.Plottables.Scatter>().First().Data.GetScatterPoints());
    }

    [Fact]
    public void A_chart_holds_at_most_six_curves()
    {
        var seven = Enumerable.Range(0, 7).Select(i => new Curve($"c{i}", [i, i + 1.0])).ToList();
        Assert.Throws<ArgumentException>(() => Charts.Build(Accuracy with { Curves = seven }));
    }
}
