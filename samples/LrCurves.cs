using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace Optim.Samples;

/// <summary>
/// Draws learning-rate curves (the rate against the epoch, one line per scheduler) as a self-contained SVG
/// document, the .NET counterpart of seed 002's matplotlib plots.
/// </summary>
/// <example>
/// <code>
/// var lrs = new List&lt;double&gt;();
/// var scheduler = new StepLR(optimizer, stepSize: 50, gamma: 0.1);
/// for (int epoch = 0; epoch &lt; 200; epoch++) { lrs.Add(scheduler.GetLastLr()[0]); optimizer.Step(); scheduler.Step(); }
/// File.WriteAllText("lr.svg", LrCurves.RenderSvg([("StepLR", lrs.ToArray())]));
/// </code>
/// </example>
public static class LrCurves
{
    private const double Width = 800, Height = 480, Left = 80, Right = 190, Top = 30, Bottom = 50;

    private static readonly string[] Palette =
        ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

    /// <summary>Renders the curves on shared axes: epochs (the array index) across, learning rate up, from 0.</summary>
    /// <param name="curves">Per curve, its legend name and its rate at each epoch; non-finite rates leave a gap.</param>
    /// <returns>The SVG document.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="curves"/>, a name or a rate array is null.</exception>
    public static string RenderSvg(IReadOnlyList<(string Name, double[] Lrs)> curves)
    {
        ArgumentNullException.ThrowIfNull(curves);
        foreach (var (name, lrs) in curves)
        {
            ArgumentNullException.ThrowIfNull(name, nameof(curves));
            ArgumentNullException.ThrowIfNull(lrs, nameof(curves));
        }
        int epochs = Math.Max(2, curves.Select(c => c.Lrs.Length).DefaultIfEmpty(0).Max());
        double top = curves.SelectMany(c => c.Lrs).Where(double.IsFinite).DefaultIfEmpty(1).Max();
        if (!(top > 0)) top = 1;
        double yStep = NiceStep(top / 5), yMax = Math.Ceiling(top / yStep) * yStep;
        double xStep = Math.Max(1, NiceStep((epochs - 1) / 10.0)), xMax = epochs - 1;
        double plotW = Width - Left - Right, plotH = Height - Top - Bottom;
        double X(double epoch) => Left + epoch / xMax * plotW;
        double Y(double lr) => Top + (1 - lr / yMax) * plotH;

        var svg = new StringBuilder();
        svg.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{F(Width)}\" height=\"{F(Height)}\" viewBox=\"0 0 {F(Width)} {F(Height)}\" ")
           .AppendLine("font-family=\"sans-serif\" font-size=\"12\">")
           .AppendLine("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
        for (double y = 0; y <= yMax * (1 + 1e-9); y += yStep)
        {
            svg.AppendLine($"<line x1=\"{F(Left)}\" y1=\"{F(Y(y))}\" x2=\"{F(Left + plotW)}\" y2=\"{F(Y(y))}\" stroke=\"#e0e0e0\"/>")
               .AppendLine($"<text x=\"{F(Left - 6)}\" y=\"{F(Y(y) + 4)}\" text-anchor=\"end\">{y.ToString("G4", CultureInfo.InvariantCulture)}</text>");
        }
        for (double x = 0; x <= xMax; x += xStep)
        {
            svg.AppendLine($"<line x1=\"{F(X(x))}\" y1=\"{F(Top)}\" x2=\"{F(X(x))}\" y2=\"{F(Top + plotH)}\" stroke=\"#f0f0f0\"/>")
               .AppendLine($"<text x=\"{F(X(x))}\" y=\"{F(Top + plotH + 18)}\" text-anchor=\"middle\">{F(x)}</text>");
        }
        svg.AppendLine($"<rect x=\"{F(Left)}\" y=\"{F(Top)}\" width=\"{F(plotW)}\" height=\"{F(plotH)}\" fill=\"none\" stroke=\"black\"/>")
           .AppendLine($"<text x=\"{F(Left + plotW / 2)}\" y=\"{F(Height - 10)}\" text-anchor=\"middle\">Epoch</text>")
           .AppendLine($"<text transform=\"translate(18 {F(Top + plotH / 2)}) rotate(-90)\" text-anchor=\"middle\">Learning rate</text>");

        for (int c = 0; c < curves.Count; c++)
        {
            var (name, lrs) = curves[c];
            var color = Palette[c % Palette.Length];
            // A non-finite rate ends one polyline; the next finite rate starts another.
            var run = new List<string>();
            void Flush()
            {
                if (run.Count > 0)
                    svg.AppendLine($"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.8\" points=\"{string.Join(" ", run)}\"/>");
                run.Clear();
            }
            for (int e = 0; e < lrs.Length; e++)
            {
                if (double.IsFinite(lrs[e])) run.Add($"{F(X(e))},{F(Y(lrs[e]))}");
                else Flush();
            }
            Flush();
            double ly = Top + 10 + 20 * c;
            svg.AppendLine($"<line x1=\"{F(Left + plotW + 15)}\" y1=\"{F(ly)}\" x2=\"{F(Left + plotW + 40)}\" y2=\"{F(ly)}\" stroke=\"{color}\" stroke-width=\"2\"/>")
               .AppendLine($"<text x=\"{F(Left + plotW + 46)}\" y=\"{F(ly + 4)}\">{Escape(name)}</text>");
        }
        return svg.AppendLine("</svg>").ToString();
    }

    /// <summary>1, 2 or 5 times a power of ten, at least <paramref name="raw"/>: tick spacing people read easily.</summary>
    private static double NiceStep(double raw)
    {
        if (!(raw > 0)) return 1;
        double power = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        foreach (var m in new[] { 1.0, 2.0, 5.0, 10.0 })
            if (m * power >= raw) return m * power;
        return 10 * power;
    }

    private static string F(double x) => Math.Round(x, 2).ToString("0.##", CultureInfo.InvariantCulture);

    private static string Escape(string s) =>
        s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&quot;");
}
