using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace OptimDemo;

/// <summary>
/// The demo's console: colours and a live progress bar on a terminal; plain text (no escape codes, progress as lines)
/// when the output goes to a file or a pipe, or the terminal is <c>TERM=dumb</c>.
/// </summary>
internal sealed class DemoConsole
{
    private DemoConsole(IAnsiConsole console, bool plain) => (Out, Plain) = (console, plain);

    /// <summary>Where the demo writes.</summary>
    public IAnsiConsole Out { get; }

    /// <summary>Whether the output is plain text: no escape codes, progress as lines.</summary>
    public bool Plain { get; }

    /// <summary>A console on standard output, plain when it is redirected or <c>TERM</c> is <c>dumb</c>.</summary>
    public static DemoConsole ForStandardOutput() =>
        Create(Console.Out, Console.IsOutputRedirected || Environment.GetEnvironmentVariable("TERM") == "dumb");

    /// <summary>A console writing to <paramref name="writer"/>; plain: no escape codes, 120 columns.</summary>
    public static DemoConsole Create(TextWriter writer, bool plain)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = plain ? AnsiSupport.No : AnsiSupport.Detect,
            ColorSystem = plain ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
            Interactive = plain ? InteractionSupport.No : InteractionSupport.Detect,
            Out = new AnsiConsoleOutput(writer),
        });
        if (plain) console.Profile.Width = 120;
        return new DemoConsole(console, plain);
    }

    /// <summary>
    /// Runs <paramref name="work"/> once per name, in order, showing its progress: live bars on a terminal, else a
    /// line per tenth done, the last one at 100%. Each call gets its name's index and a function that, given the
    /// number of units the work will do, returns the action that counts one unit done.
    /// </summary>
    public void Progress(IReadOnlyList<string> names, Action<int, Func<int, Action>> work)
    {
        if (Plain)
        {
            for (int i = 0; i < names.Count; i++)
            {
                var line = new ProgressLines(Out, names[i]);
                work(i, line.Start);
                line.Finish();
            }
            return;
        }
        Out.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var tasks = names.Select(n => ctx.AddTask(Markup.Escape(n), autoStart: false)).ToArray();
                for (int i = 0; i < names.Count; i++)
                {
                    var task = tasks[i];
                    work(i, total =>
                    {
                        task.MaxValue = total;
                        task.StartTask();
                        return () => task.Increment(1);
                    });
                    task.Value = task.MaxValue;
                    task.StopTask();
                }
            });
    }

    /// <summary>One task's progress as plain lines: its name, the percentage done and the time so far, at each tenth.</summary>
    private sealed class ProgressLines(IAnsiConsole console, string name)
    {
        private readonly Stopwatch _clock = new();
        private int _total, _done, _printed = -1;

        public Action Start(int total)
        {
            _total = Math.Max(total, 1);
            _clock.Start();
            Print(0);
            return () => { if (++_done * 10 / _total > _printed) Print(_done * 10 / _total); };
        }

        public void Finish()
        {
            if (_printed < 10) Print(10);
        }

        private void Print(int tenths)
        {
            _printed = Math.Min(tenths, 10);
            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name}: {_printed * 10,3}% ({_clock.Elapsed.TotalSeconds:F1} s)"));
        }
    }
}
