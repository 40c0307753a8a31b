using System.Diagnostics;
using System.Reflection;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Optim.Docs.Tests;

/// <summary>What a block printed, and how it ended.</summary>
public sealed record BlockRun(int ExitCode, string Output, string Errors);

/// <summary>
/// Compiles and runs doc blocks as a reader would: a C# block as the Program.cs of a new console project (top-level
/// statements, the console template's implicit usings, nullable on) referencing the Optim packages (Optim.Testing with
/// FsCheck and Expecto included); an F# block as a script (<c>dotnet fsi</c>) referencing Optim.Core, Optim.CSharp,
/// Optim.Testing, FsCheck and Expecto. Each runs in a process of its own, in a working directory that
/// holds the repository's <c>data/fashion-mnist-sample</c> (and tests/golden/pt's files under <c>pytorch/</c>), with a time limit.
/// </summary>
public sealed class BlockRunner : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    /// <summary>The console template's implicit usings (<c>dotnet new console</c>, ImplicitUsings enabled).</summary>
    private const string ImplicitUsings = """
        global using global::System;
        global using global::System.Collections.Generic;
        global using global::System.IO;
        global using global::System.Linq;
        global using global::System.Net.Http;
        global using global::System.Threading;
        global using global::System.Threading.Tasks;
        """;

    private readonly string _temp = Directory.CreateTempSubdirectory("optim-docs-").FullName;
    private readonly Lazy<(string Bin, MetadataReference[] References)> _csharp;

    /// <summary>The blocks' working directory: it holds <c>data/fashion-mnist-sample</c>, as the repository root does.</summary>
    public string WorkingDirectory { get; }

    /// <summary>Makes the working directory and copies the data sample into it.</summary>
    public BlockRunner()
    {
        WorkingDirectory = Path.Combine(_temp, "work");
        var sample = Path.Combine(DocBlocks.Root, "data", "fashion-mnist-sample");
        var copy = Directory.CreateDirectory(Path.Combine(WorkingDirectory, "data", "fashion-mnist-sample")).FullName;
        foreach (var f in Directory.GetFiles(sample, "*.gz")) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        // docs/checkpoints.md reads files PyTorch wrote (tests/golden/generate_pt.py) from pytorch/
        var pytorch = Directory.CreateDirectory(Path.Combine(WorkingDirectory, "pytorch")).FullName;
        foreach (var f in Directory.GetFiles(Path.Combine(DocBlocks.Root, "tests", "golden", "pt"), "*.pt")) File.Copy(f, Path.Combine(pytorch, Path.GetFileName(f)));
        _csharp = new(PrepareCSharp);
    }

    /// <summary>Deletes the temporary directory.</summary>
    public void Dispose()
    {
        try { Directory.Delete(_temp, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>
    /// The Optim assemblies and what they depend on outside the shared framework, as package references to Optim.NN,
    /// Optim.Distributed and Optim.Testing bring them (Optim.Testing brings FsCheck and Expecto).
    /// </summary>
    private static IEnumerable<Assembly> Packages()
    {
        var seen = new Dictionary<string, Assembly>();
        var pending = new Stack<Assembly>([typeof(Optim.NN.Tensor).Assembly, typeof(Optim.Testing.OptimizerLaws).Assembly, typeof(Optim.Distributed.ICommunicator).Assembly, typeof(Optim.Gpu.GpuDevice).Assembly]);
        string framework = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        while (pending.Count > 0)
        {
            var a = pending.Pop();
            if (seen.ContainsKey(a.GetName().Name!) || Path.GetDirectoryName(a.Location) == framework) continue;
            seen[a.GetName().Name!] = a;
            foreach (var r in a.GetReferencedAssemblies()) pending.Push(Assembly.Load(r));
        }
        return seen.Values;
    }

    private (string, MetadataReference[]) PrepareCSharp()
    {
        var bin = Directory.CreateDirectory(Path.Combine(_temp, "csharp")).FullName;
        var packages = Packages().ToList();
        foreach (var a in packages) File.Copy(a.Location, Path.Combine(bin, Path.GetFileName(a.Location)));
        string framework = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => Path.GetDirectoryName(p) == framework)
            .Concat(packages.Select(a => a.Location))
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToArray();
        return (bin, references);
    }

    /// <summary>A block's compiler errors and warnings, each with its place in the markdown file.</summary>
    public IReadOnlyList<string> CompileCSharp(DocBlock block, out string? assembly)
    {
        var (bin, references) = _csharp.Value;
        var parse = new CSharpParseOptions(LanguageVersion.Latest);
        var tree = CSharpSyntaxTree.ParseText(block.Code, parse, path: block.File, encoding: Encoding.UTF8);
        string name = Name(block);
        var compilation = CSharpCompilation.Create(name,
            [tree, CSharpSyntaxTree.ParseText(ImplicitUsings, parse, path: "GlobalUsings.g.cs")], references,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable,
                                         warningLevel: 9999, optimizationLevel: OptimizationLevel.Release));
        assembly = Path.Combine(bin, name + ".dll");
        var result = compilation.Emit(assembly);
        var problems = result.Diagnostics
            .Where(d => d.Severity >= DiagnosticSeverity.Warning && !d.IsSuppressed)
            .Select(d =>
            {
                var at = d.Location.GetLineSpan().StartLinePosition;
                return $"{block.File}:{block.Line + at.Line}:{at.Character + 1}: {d.Severity.ToString().ToLowerInvariant()} {d.Id}: {d.GetMessage()}";
            })
            .ToList();
        if (!result.Success || problems.Count > 0) { assembly = null; return problems; }
        File.WriteAllText(Path.ChangeExtension(assembly, ".runtimeconfig.json"),
            "{\"runtimeOptions\":{\"tfm\":\"net10.0\",\"framework\":{\"name\":\"Microsoft.NETCore.App\",\"version\":\"" + Environment.Version + "\"}}}");
        return problems;
    }

    /// <summary>Runs a compiled C# block.</summary>
    public BlockRun RunCSharp(string assembly) => Run(Dotnet(), [assembly]);

    /// <summary>
    /// Runs an F# block as a script that references Optim.Core, Optim.CSharp, Optim.Testing, FsCheck and Expecto; its
    /// errors name the markdown file's lines.
    /// </summary>
    public BlockRun RunFSharp(DocBlock block)
    {
        var dir = Directory.CreateDirectory(Path.Combine(_temp, "fsharp")).FullName;
        var script = Path.Combine(dir, Name(block) + ".fsx");
        string[] references =
        [
            typeof(Optim.TensorModule).Assembly.Location, typeof(Optim.CSharp.Optimizer).Assembly.Location,
            typeof(Optim.Testing.OptimizerLaws).Assembly.Location, typeof(FsCheck.Config).Assembly.Location,
            typeof(Expecto.Test).Assembly.Location,
        ];
        var header = string.Concat(references.Select(r => $"#r \"{r}\"\n"));
        File.WriteAllText(script, $"{header}# {block.Line} \"{Path.Combine(DocBlocks.Root, block.File)}\"\n{block.Code}");
        return Run(Dotnet(), ["fsi", "--warnaserror+", script]);
    }

    private static string Name(DocBlock block) =>
        "DocBlock_" + new string(block.ToString().Select(c => char.IsLetterOrDigit(c) ? c : '_').ToArray());

    private static string Dotnet() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    private BlockRun Run(string file, string[] arguments)
    {
        var psi = new ProcessStartInfo(file, arguments)
        {
            WorkingDirectory = WorkingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var errors = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(Limit))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            return new BlockRun(-1, output.Result, $"still running after {Limit.TotalSeconds} s; stopped\n" + errors.Result);
        }
        return new BlockRun(p.ExitCode, output.Result, errors.Result);
    }
}
