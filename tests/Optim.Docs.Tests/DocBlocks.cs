namespace Optim.Docs.Tests;

/// <summary>A fenced code block of a markdown file.</summary>
/// <param name="File">The markdown file, relative to the repository root.</param>
/// <param name="Line">The 1-based line of the block's first line of code.</param>
/// <param name="Language"><c>csharp</c> or <c>fsharp</c> (the fences <c>cs</c> and <c>fs</c> are the same).</param>
/// <param name="Fragment">The fence says <c>fragment</c>: the block is compiled where possible, not run.</param>
/// <param name="Code">The block's lines.</param>
public sealed record DocBlock(string File, int Line, string Language, bool Fragment, string Code)
{
    /// <summary>Where the block is, as a test case's name: <c>README.md:95</c>.</summary>
    public override string ToString() => $"{File}:{Line}";
}

/// <summary>The user-facing markdown of the repository and its C# and F# blocks.</summary>
public static class DocBlocks
{
    /// <summary>The repository root: the first directory above the test's own that holds Optim.sln.</summary>
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Optim.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Optim.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>README.md, the package READMEs (src/*/README.md) and docs/*.md, relative to the root.</summary>
    public static IEnumerable<string> Files() =>
        new[] { Path.Combine(Root, "README.md") }
            .Concat(Directory.GetDirectories(Path.Combine(Root, "src")).Select(d => Path.Combine(d, "README.md")).Where(File.Exists))
            .Concat(Directory.GetFiles(Path.Combine(Root, "docs"), "*.md"))
            .Select(f => Path.GetRelativePath(Root, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal);

    /// <summary>Every ```csharp, ```cs, ```fsharp and ```fs block of <see cref="Files"/>, in file order.</summary>
    public static IReadOnlyList<DocBlock> All { get; } = Files().SelectMany(Parse).ToList();

    /// <summary>The block named <paramref name="id"/> (its <see cref="DocBlock.ToString"/>).</summary>
    public static DocBlock Get(string id) => All.Single(b => b.ToString() == id);

    /// <summary>The C# and F# blocks of one markdown file.</summary>
    public static IEnumerable<DocBlock> Parse(string file)
    {
        var lines = File.ReadAllLines(Path.Combine(Root, file));
        for (int i = 0; i < lines.Length; i++)
        {
            var fence = lines[i].Trim();
            if (!fence.StartsWith("```") || fence == "```") continue;
            var words = fence[3..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            int open = i + 1, start = i + 1;
            int end = Array.FindIndex(lines, start, l => l.Trim() == "```");
            if (end < 0) throw new InvalidOperationException($"{file}:{open}: the block opened here is never closed.");
            i = end;
            string? language = words[0] switch { "csharp" or "cs" => "csharp", "fsharp" or "fs" => "fsharp", _ => null };
            if (language is null) continue;
            var unknown = words.Skip(1).Where(w => w != "fragment").ToList();
            if (unknown.Count > 0)
                throw new InvalidOperationException($"{file}:{open}: unknown fence word(s) {string.Join(", ", unknown)}; the only one is 'fragment'.");
            yield return new DocBlock(file, start + 1, language, words.Contains("fragment"), string.Join("\n", lines[start..end]) + "\n");
        }
    }
}
