using System.Diagnostics;
using OptimDemo;

namespace Optim.Demo.Tests;

/// <summary>The demo's command line: help, and every bad value refused before any work, with one line and exit code 2.</summary>
public sealed class CommandLineTests : IDisposable
{
    private static readonly string[] Options = ["--data", "--sample", "--epochs", "--train-images", "--out", "--json"];

    private readonly string _dir = Directory.CreateTempSubdirectory("optim-demo-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string RegularFile()
    {
        string path = Path.Combine(_dir, "a-file");
        File.WriteAllText(path, "not a directory");
        return path;
    }

    private static string Refused(params string[] args)
    {
        var result = DemoCommandLine.Parse(args);
        var invalid = Assert.IsType<DemoCommandLine.Invalid>(result);
        Assert.DoesNotContain('\n', invalid.Message);
        Assert.DoesNotContain("   at ", invalid.Message);
        Assert.DoesNotContain("Exception", invalid.Message);
        return invalid.Message;
    }

    [Fact]
    public void Help_lists_every_option_with_its_default()
    {
        var help = Assert.IsType<DemoCommandLine.Help>(DemoCommandLine.Parse(["--help"]));
        var lines = help.Text.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        foreach (var option in Options)
        {
            // The option's entry: its line and the wrapped lines after it, up to the next option.
            int start = lines.FindIndex(l => l.TrimStart().StartsWith(option + " ", StringComparison.Ordinal));
            Assert.True(start >= 0, $"{option} is in the help");
            var entry = string.Join(" ", lines.Skip(start).TakeWhile((l, i) => i == 0 || !l.TrimStart().StartsWith('-')));
            Assert.Contains("[default: ", entry);
        }
        Assert.Contains("[default: 5]", help.Text);
        Assert.Contains("[default: " + Path.Combine("out", "demo") + "]", help.Text);
    }

    [Theory]
    [InlineData("-3")]
    [InlineData("0")]
    public void An_epoch_count_below_one_is_refused_naming_the_option_and_value(string value)
    {
        string message = Refused("--epochs", value);
        Assert.Contains("--epochs", message);
        Assert.Contains($"'{value}'", message);
    }

    [Fact]
    public void An_epoch_count_that_is_not_a_number_is_refused_naming_the_option_and_value()
    {
        string message = Refused("--epochs", "abc");
        Assert.Contains("--epochs", message);
        Assert.Contains("'abc'", message);
    }

    [Fact]
    public void Too_few_training_images_are_refused() =>
        Assert.Contains("--train-images '10'", Refused("--train-images", "10"));

    [Fact]
    public void An_unknown_option_is_refused_by_name() => Assert.Contains("'--epoch'", Refused("--epoch", "3"));

    [Fact]
    public void A_data_directory_that_does_not_exist_is_refused() =>
        Assert.Contains("--data '/nonexistent'", Refused("--data", "/nonexistent"));

    [Fact]
    public void A_data_directory_without_the_fashion_mnist_files_is_refused_naming_a_missing_file()
    {
        File.WriteAllText(Path.Combine(_dir, "train-images-idx3-ubyte.gz"), "");
        string message = Refused("--data", _dir);
        Assert.Contains($"--data '{_dir}'", message);
        Assert.Contains("t10k-labels-idx1-ubyte", message);
        Assert.DoesNotContain("no train-images-idx3-ubyte", message);
    }

    [Fact]
    public void A_data_directory_with_the_four_files_is_accepted()
    {
        foreach (var f in DemoCommandLine.DataFiles) File.WriteAllText(Path.Combine(_dir, f + ".gz"), "");
        var run = Assert.IsType<DemoCommandLine.Run>(DemoCommandLine.Parse(["--data", _dir, "--out", Path.Combine(_dir, "out")]));
        Assert.Equal(_dir, run.Options.DataDir);
    }

    [Fact]
    public void Sample_and_data_together_are_refused()
    {
        string message = Refused("--sample", "--data", _dir);
        Assert.Contains("--sample", message);
        Assert.Contains($"--data '{_dir}'", message);
    }

    [Fact]
    public void An_out_directory_under_a_regular_file_is_refused()
    {
        string bad = Path.Combine(RegularFile(), "plots");
        string message = Refused("--out", bad);
        Assert.Contains($"--out '{bad}'", message);
        Assert.Contains("is a file", message);
    }

    [Fact]
    public void A_json_file_under_a_regular_file_is_refused()
    {
        string bad = Path.Combine(RegularFile(), "summary.json");
        string message = Refused("--json", bad, "--out", Path.Combine(_dir, "out"));
        Assert.Contains($"--json '{bad}'", message);
    }

    [Fact]
    public void A_json_path_that_is_a_directory_is_refused() =>
        Assert.Contains("is a directory", Refused("--json", _dir, "--out", Path.Combine(_dir, "out")));

    [Fact]
    public void Good_values_are_read_and_the_out_and_json_directories_are_created()
    {
        string output = Path.Combine(_dir, "new", "plots"), json = Path.Combine(_dir, "other", "summary.json");
        var run = Assert.IsType<DemoCommandLine.Run>(DemoCommandLine.Parse(
            ["--sample", "--epochs", "3", "--train-images", "512", "--out", output, "--json", json]));
        Assert.Equal(new DemoOptions(output, json, null, true, 3, 512), run.Options);
        Assert.True(Directory.Exists(output));
        Assert.True(Directory.Exists(Path.GetDirectoryName(json)));
        Assert.Empty(Directory.GetFiles(output));
    }

    [Fact]
    public void The_defaults_are_five_epochs_into_out_demo() =>
        Assert.Equal(new DemoOptions(Path.Combine("out", "demo"), null, null, false, 5, null),
                     Assert.IsType<DemoCommandLine.Run>(DemoCommandLine.Parse([])).Options);

    private static (int Code, string Out, string Err) RunDemo(params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "Optim.Demo.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output, err.Result);
    }

    [Fact]
    public void The_built_demo_prints_its_help_and_exits_0()
    {
        var (code, output, err) = RunDemo("--help");
        Assert.Equal(0, code);
        Assert.Empty(err);
        foreach (var option in Options) Assert.Contains(option, output);
    }

    [Fact]
    public void The_built_demo_refuses_a_bad_value_with_one_line_on_stderr_and_exit_code_2()
    {
        var (code, output, err) = RunDemo("--epochs", "-3");
        Assert.Equal(2, code);
        Assert.Empty(output);
        Assert.Equal("--epochs '-3': must be a whole number from 1.", err.TrimEnd());
    }
}
