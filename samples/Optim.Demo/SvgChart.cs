using System.Globalization;
using System.Text;

namespace OptimDemo;

/// <summary>One line of a chart: its legend name and its value at x = 0, 1, 2, …; a non-finite value leaves a gap.</summary>
/// <param name="Name">The legend entry.</param>
/// <param name="Values">The y value at each x.</param>
internal sealed record Curve(string Name, double[] Values);

/// <summary>
/// Line charts as self-contained SVG documents (no dependency, opens in any browser): the .NET counterpart of the
/// seeds' matplotlib plots of learning rates and losses.
/// </summary>
internal static class SvgChart
{
    private const double Width = 860, Height = 500, Left = 80, Right = 230, Top = 40, Bottom = 50;

    private static readonly string[] Palette =
        ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
         "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd"];

    /// <summary>Renders the curves on shared axes, x across and y up.</summary>
    /// <param name="title">The chart's title.</param>
    /// <param name="xLabel">The x axis label.</param>
    /// <param name="yLabel">The y axis label.</param>
    /// <param name="curves">The lines.</param>
    /// <param name="logY">Whether the y axis is logarithmic (non-positive values then leave gaps).</param>
    /// <param name="xPerPoint">The x distance between consecutive values (1: x is the index).</param>
    /// <returns>The SVG document.</returns>
    public static string Render(string title, string xLabel, string yLabel, IReadOnlyList<Curve> curves, bool logY = false, double xPerPoint = 1)
    {
        double Tr(double y) => logY ? (y > 0 ? Math.Log10(y) : double.NaN) : y;
        var ys = curves.SelectMany(c => c.Values).Select(Tr).Where(double.IsFinite).DefaultIfEmpty(0).ToArray();
        double lo = logY ? Math.Floor(ys.Min()) : Math.Min(0, ys.Min());
        double hi = logY ? Math.Ceiling(ys.Max()) : ys.Max();
        if (!(hi > lo)) hi = lo + 1;
        double yStep = logY ? 1 : NiceStep((hi - lo) / 5);
        if (!logY) { lo = Math.Floor(lo / yStep) * yStep; hi = Math.Ceiling(hi / yStep) * yStep; }
        int points = Math.Max(2, curves.Select(c => c.Values.Length).DefaultIfEmpty(0).Max());
        double xMax = (points - 1) * xPerPoint, xStep = NiceStep(xMax / 10.0);
        if (xPerPoint >= 1) xStep = Math.Max(1, xStep);
        double plotW = Width - Left - Right, plotH = Height - Top - Bottom;
        double X(double x) => Left + x / xMax * plotW;
        double Y(double y) => Top + (1 - (y - lo) / (hi - lo)) * plotH;

        var svg = new StringBuilder();
        svg.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{F(Width)}\" height=\"{F(Height)}\" viewBox=\"0 0 {F(Width)} {F(Height)}\" ")
           .AppendLine("font-family=\"sans-serif\" font-size=\"12\">")
           .AppendLine("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>")
           .AppendLine($"<text x=\"{F(Left + plotW / 2)}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{Escape(title)}</text>");
        for (double y = lo; y <= hi + 1e-9 * (hi - lo); y += yStep)
        {
            string label = logY ? Math.Pow(10, y).ToString("G3", CultureInfo.InvariantCulture) : y.ToString("G4", CultureInfo.InvariantCulture);
            svg.AppendLine($"<line x1=\"{F(Left)}\" y1=\"{F(Y(y))}\" x2=\"{F(Left + plotW)}\" y2=\"{F(Y(y))}\" stroke=\"#e0e0e0\"/>")
               .AppendLine($"<text x=\"{F(Left - 6)}\" y=\"{F(Y(y) + 4)}\" text-anchor=\"end\">{label}</text>");
        }
        for (double x = 0; x <= xMax * (1 + 1e-9); x += xStep)
            svg.AppendLine($"<line x1=\"{F(X(x))}\" y1=\"{F(Top)}\" x2=\"{F(X(x))}\" y2=\"{F(Top + plotH)}\" stroke=\"#f0f0f0\"/>")
               .AppendLine($"<text x=\"{F(X(x))}\" y=\"{F(Top + plotH + 18)}\" text-anchor=\"middle\">{x.ToString("G4", CultureInfo.InvariantCulture)}</text>");
        svg.AppendLine($"<rect x=\"{F(Left)}\" y=\"{F(Top)}\" width=\"{F(plotW)}\" height=\"{F(plotH)}\" fill=\"none\" stroke=\"black\"/>")
           .AppendLine($"<text x=\"{F(Left + plotW / 2)}\" y=\"{F(Height - 10)}\" text-anchor=\"middle\">{Escape(xLabel)}</text>")
           .AppendLine($"<text transform=\"translate(18 {F(Top + plotH / 2)}) rotate(-90)\" text-anchor=\"middle\">{Escape(yLabel)}</text>");

        for (int c = 0; c < curves.Count; c++)
        {
            var color = Palette[c % Palette.Length];
            // A non-finite value ends one polyline; the next finite value starts another.
            var run = new List<string>();
            void Flush()
            {
                if (run.Count > 0)
                    svg.AppendLine($"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.8\" points=\"{string.Join(" ", run)}\"/>");
                run.Clear();
            }
            var values = curves[c].Values;
            for (int i = 0; i < values.Length; i++)
            {
                double y = Tr(values[i]);
                if (double.IsFinite(y)) run.Add($"{F(X(i * xPerPoint))},{F(Y(y))}");
                else Flush();
            }
            Flush();
            double ly = Top + 10 + 20 * c;
            svg.AppendLine($"<line x1=\"{F(Left + plotW + 15)}\" y1=\"{F(ly)}\" x2=\"{F(Left + plotW + 40)}\" y2=\"{F(ly)}\" stroke=\"{color}\" stroke-width=\"2\"/>")
               .AppendLine($"<text x=\"{F(Left + plotW + 46)}\" y=\"{F(ly + 4)}\">{Escape(curves[c].Name)}</text>");
        }
        return svg.AppendLine("</svg>").ToString();
    }

    /// <summary>1, 2 or 5 times a power of ten, at least <paramref name="raw"/>: tick spacing people read easily.</summary>
    private static double NiceStep(double raw)
    {
        if (!(raw > 0)) return 1;
        double power = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        foreach (var m in new[] { 1.0, 2.0, 5.0 })
            if (m * power >= raw) return m * power;
        return 10 * power;
    }

    private static string F(double x) => Math.Round(x, 2).ToString("0.##", CultureInfo.InvariantCulture);

    private static string Escape(string s) =>
        s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&quot;");
}
