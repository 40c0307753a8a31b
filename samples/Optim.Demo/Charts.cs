using System.Globalization;
using ScottPlot;
using SkiaSharp;

namespace OptimDemo;

/// <summary>One line of a chart: its legend name and its value at each x; a non-finite value leaves a gap.</summary>
/// <param name="Name">The legend entry.</param>
/// <param name="Values">The y value at each x.</param>
internal sealed record Curve(string Name, double[] Values);

/// <summary>A line chart: what it shows and how its axes read.</summary>
/// <param name="Title">The chart's title.</param>
/// <param name="XLabel">The x axis label, with its unit.</param>
/// <param name="YLabel">The y axis label, with its unit.</param>
/// <param name="Curves">The lines, at most <see cref="Charts.MaxCurves"/> of them.</param>
/// <param name="LogY">Whether the y axis is logarithmic (values that are not positive then leave gaps).</param>
/// <param name="XStart">The x of each curve's first value.</param>
/// <param name="XPerPoint">The x distance between consecutive values.</param>
internal sealed record Chart(string Title, string XLabel, string YLabel, IReadOnlyList<Curve> Curves, bool LogY = false,
                             double XStart = 0, double XPerPoint = 1);

/// <summary>
/// Line charts drawn with ScottPlot, written as PNG and SVG. The y axis fits the data (a log axis, in decades, for
/// losses and decaying rates); each curve of a chart has its own colour, dash pattern and width, drawn thinner on top of
/// the ones before, so that curves that coincide stay visible.
/// </summary>
internal static class Charts
{
    /// <summary>The most curves one chart holds: more cannot be told apart.</summary>
    public const int MaxCurves = 6;

    /// <summary>The size of the written images, in pixels.</summary>
    public const int Width = 1100, Height = 560;

    /// <summary>Curves with at most this many points get a marker at each one.</summary>
    private const int MarkedPoints = 40;

    private static readonly string[] Colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];

    private static readonly LinePattern[] Patterns =
        [LinePattern.Solid, LinePattern.Dashed, LinePattern.Dotted, LinePattern.DenselyDashed, LinePattern.Solid, LinePattern.Dashed];

    private static readonly float[] Widths = [3.5f, 3f, 2.5f, 2f, 1.5f, 1.25f];

    private static readonly MarkerShape[] Markers =
        [MarkerShape.FilledCircle, MarkerShape.FilledSquare, MarkerShape.FilledTriangleUp, MarkerShape.FilledDiamond,
         MarkerShape.OpenCircle, MarkerShape.Cross];

    private static readonly Lazy<string> SansFont = new(() =>
    {
        var installed = new HashSet<string>(SKFontManager.Default.GetFontFamilies(), StringComparer.OrdinalIgnoreCase);
        return new[] { "DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial", "Helvetica" }.FirstOrDefault(installed.Contains)
               ?? "sans-serif";
    });

    /// <summary>Draws <paramref name="chart"/>.</summary>
    /// <exception cref="ArgumentException">The chart has no curve, or more than <see cref="MaxCurves"/>.</exception>
    public static Plot Build(Chart chart) => Build(chart, dashes: true);

    private static Plot Build(Chart chart, bool dashes)
    {
        if (chart.Curves.Count is 0 or > MaxCurves)
            throw new ArgumentException($"A chart holds 1 to {MaxCurves} curves; '{chart.Title}' has {chart.Curves.Count}.", nameof(chart));
        var plot = new Plot();
        for (int c = 0; c < chart.Curves.Count; c++)
        {
            var curve = chart.Curves[c];
            bool marked = curve.Values.Length <= MarkedPoints;
            bool first = true;
            foreach (var (xs, ys) in Segments(curve.Values, chart))
            {
                var line = plot.Add.Scatter(xs, ys);
                line.Color = Color.FromHex(Colors[c]);
                line.LinePattern = dashes ? Patterns[c] : LinePattern.Solid;
                line.LineWidth = Widths[c];
                line.MarkerShape = marked ? Markers[c] : MarkerShape.None;
                line.MarkerSize = marked ? 9 - c : 0;
                if (first) line.LegendText = curve.Name;
                first = false;
            }
        }
        var (lo, hi) = YRange(chart);
        var (left, right) = XRange(chart);
        plot.Axes.SetLimits(left, right, lo, hi);
        if (chart.LogY) plot.Axes.Left.TickGenerator = LogTicks(lo, hi);
        plot.Title(chart.Title);
        plot.XLabel(chart.XLabel);
        plot.YLabel(chart.YLabel);
        plot.Font.Set(SansFont.Value);
        if (chart.XPerPoint >= 1 && chart.XStart == Math.Floor(chart.XStart))
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        // Beside the data, where it hides no curve.
        plot.ShowLegend(Edge.Right);
        return plot;
    }

    /// <summary>Draws <paramref name="chart"/> and writes it to <c>name.png</c> and <c>name.svg</c> in <paramref name="dir"/>.</summary>
    /// <returns>The two files' full paths.</returns>
    public static (string Png, string Svg) Save(Chart chart, string dir, string name)
    {
        string png = Path.GetFullPath(Path.Combine(dir, name + ".png")), svg = Path.GetFullPath(Path.Combine(dir, name + ".svg"));
        using (var plot = Build(chart)) plot.SavePng(png, Width, Height);
        // Skia's SVG canvas drops a line drawn with a dash effect altogether, so the SVG is drawn with solid lines and
        // each curve's dashes are added as SVG's own stroke-dasharray, found by the curve's colour and width.
        using (var solid = Build(chart, dashes: false)) File.WriteAllText(svg, Dashed(solid.GetSvgXml(Width, Height), chart.Curves.Count));
        return (png, svg);
    }

    private static string Dashed(string svg, int curves)
    {
        for (int c = 0; c < curves; c++)
        {
            if (Patterns[c].Intervals is not { Length: > 0 } intervals) continue;
            string stroke = $"stroke=\"{Colors[c].ToUpperInvariant()}\" stroke-width=\"{Widths[c].ToString(CultureInfo.InvariantCulture)}\"";
            svg = svg.Replace(stroke, stroke + $" stroke-dasharray=\"{string.Join(" ", intervals.Select(i => i.ToString(CultureInfo.InvariantCulture)))}\"");
        }
        return svg;
    }

    /// <summary>
    /// The y axis's limits: the data's range with a margin of a tenth of it on each side, in decades (log10 of the
    /// values) on a log axis. Curves between 0.81 and 0.88 fill the plot instead of sitting in a strip of a 0–1 axis.
    /// </summary>
    public static (double Lo, double Hi) YRange(Chart chart)
    {
        var ys = chart.Curves.SelectMany(c => c.Values).Select(v => Y(v, chart.LogY)).Where(double.IsFinite).ToArray();
        if (ys.Length == 0) return (0, 1);
        double lo = ys.Min(), hi = ys.Max();
        double pad = hi > lo ? 0.1 * (hi - lo) : Math.Max(0.05 * Math.Abs(hi), chart.LogY ? 0.1 : 1e-3);
        return (lo - pad, hi + pad);
    }

    private static (double Left, double Right) XRange(Chart chart)
    {
        int points = chart.Curves.Max(c => c.Values.Length);
        double left = chart.XStart, right = chart.XStart + (points - 1) * chart.XPerPoint;
        double pad = right > left ? 0.02 * (right - left) : 0.5;
        return (left - pad, right + pad);
    }

    private static double Y(double value, bool log) => log ? (value > 0 ? Math.Log10(value) : double.NaN) : value;

    /// <summary>The runs of finite values of a curve, each as its x and (on a log axis, log10) y coordinates.</summary>
    private static IEnumerable<(double[] Xs, double[] Ys)> Segments(double[] values, Chart chart)
    {
        var (xs, ys) = (new List<double>(), new List<double>());
        for (int i = 0; i <= values.Length; i++)
        {
            double y = i < values.Length ? Y(values[i], chart.LogY) : double.NaN;
            if (double.IsFinite(y))
            {
                xs.Add(chart.XStart + i * chart.XPerPoint);
                ys.Add(y);
            }
            else if (xs.Count > 0)
            {
                yield return (xs.ToArray(), ys.ToArray());
                (xs, ys) = (new List<double>(), new List<double>());
            }
        }
    }

    /// <summary>
    /// Ticks of a log axis whose coordinates are log10 of the values: a labelled tick at each power of ten, also at 2
    /// and 5 times it when the axis spans less than two decades, and unlabelled ones at the other multiples.
    /// </summary>
    private static ScottPlot.TickGenerators.NumericManual LogTicks(double lo, double hi)
    {
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        bool fine = hi - lo < 2;
        for (int decade = (int)Math.Floor(lo); decade <= (int)Math.Ceiling(hi); decade++)
            for (int k = 1; k < 10; k++)
            {
                double at = decade + Math.Log10(k);
                if (at < lo || at > hi) continue;
                if (k == 1 || (fine && k is 2 or 5))
                    ticks.AddMajor(at, decade is >= -3 and <= 3
                        ? (k * Math.Pow(10, decade)).ToString("0.###", CultureInfo.InvariantCulture)
                        : string.Create(CultureInfo.InvariantCulture, $"{k}e{decade}"));
                else ticks.AddMinor(at);
            }
        return ticks;
    }
}
