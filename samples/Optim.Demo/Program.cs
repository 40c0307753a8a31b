// The main job: the seeds' examples through Optim's C# facade, with tables on the console and SVG plots on disk.
//   dotnet run -c Release --project samples/Optim.Demo -- [--out DIR]
using System.Globalization;
using OptimDemo;
using Spectre.Console;

var options = DemoOptions.Parse(args);
if (options is null) return 2;
Directory.CreateDirectory(options.OutDir);
string Save(string file, string svg)
{
    string path = Path.Combine(options.OutDir, file);
    File.WriteAllText(path, svg);
    return path;
}

AnsiConsole.Write(new FigletText("Optim").Color(Color.SteelBlue));

var descent = SeedExamples.QuadraticDescent();
SeedExamples.ShowDescent(descent);
var descentSvg = Save("seed002_quadratic_descent.svg", SvgChart.Render(
    "Seed 002: SGD on y = 4x² from x = 2", "Iteration", "Loss",
    descent.Select(d => new Curve(d.Label, d.Loss.Select(l => (double)l).ToArray())).ToList()));

SeedExamples.ShowRegression(SeedExamples.LinearRegression());
SeedExamples.ParamGroupsAndStateDict();

AnsiConsole.Write(new Rule("[bold]Seed 002: learning-rate schedulers (SGD lr 0.1, 200 epochs)[/]").LeftJustified());
var seedCurves = SchedulerCurves.Seed002(Console.Out);
var lrSvg = Save("seed002_lr_schedulers.svg", SvgChart.Render(
    "Seed 002: learning rate against epoch", "Epoch", "Learning rate", seedCurves));
var moreSvg = Save("lr_schedulers_more.svg", SvgChart.Render(
    "The rest of torch.optim.lr_scheduler, and SWALR", "Epoch", "Learning rate", SchedulerCurves.Others()));
var lrTable = new Table().Border(TableBorder.Rounded).AddColumns("scheduler", "epoch 0", "epoch 49", "epoch 50", "epoch 199");
foreach (var c in seedCurves)
    lrTable.AddRow(Markup.Escape(c.Name), G(c.Values[0]), G(c.Values[49]), G(c.Values[50]), G(c.Values[^1]));
AnsiConsole.Write(lrTable);

AnsiConsole.Write(new Rule("[bold]Plots[/]").LeftJustified());
foreach (var path in new[] { descentSvg, lrSvg, moreSvg }) AnsiConsole.WriteLine(Path.GetFullPath(path));
return 0;

static string G(double x) => x.ToString("G4", CultureInfo.InvariantCulture);

/// <summary>The demo's command line.</summary>
internal sealed record DemoOptions(string OutDir)
{
    /// <summary>Parses <c>--out DIR</c>; prints usage and returns null on anything else.</summary>
    public static DemoOptions? Parse(string[] args)
    {
        string outDir = Path.Combine("out", "demo");
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--out" when i + 1 < args.Length: outDir = args[++i]; break;
                default:
                    Console.Error.WriteLine($"Unknown argument '{args[i]}'. Usage: Optim.Demo [--out DIR]");
                    return null;
            }
        }
        return new DemoOptions(outDir);
    }
}
