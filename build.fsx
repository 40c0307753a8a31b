// The build script: a plain F# script over the dotnet CLI.
//   dotnet fsi build.fsx <target> [-- extra arguments for the demo]
// Targets: build, test, demo, bench, pack, golden, holdout (see README.md).
open System
open System.Diagnostics
open System.IO
open System.Xml.Linq

let root = __SOURCE_DIRECTORY__
let args = fsi.CommandLineArgs |> Array.skip 1
let target = if args.Length = 0 then "test" else args.[0]
// Everything after the target (dotnet fsi may or may not pass a "--" separator through) goes to the demo or script.
let extra = args |> Array.skip (min 1 args.Length) |> Array.filter (fun a -> a <> "--")

/// Runs a command in the repository root, streaming its output; returns its exit code.
let run (file: string) (arguments: string list) =
    let psi = ProcessStartInfo(file, arguments, WorkingDirectory = root, UseShellExecute = false)
    use p = Process.Start psi
    p.WaitForExit()
    p.ExitCode

let runOrFail file arguments =
    let code = run file arguments
    if code <> 0 then
        eprintfn "'%s %s' failed with exit code %d" file (String.Join(" ", arguments)) code
        exit code

let build () = runOrFail "dotnet" [ "build"; "Optim.sln"; "-c"; "Release"; "-nologo"; "-v"; "q" ]

/// Runs every test project, then prints one line summed over all of them: "N passed, N failed".
let test () =
    build ()
    let results = Path.Combine(root, "out", "test-results")
    if Directory.Exists results then Directory.Delete(results, true)
    let projects = Directory.GetFiles(Path.Combine(root, "tests"), "*.??proj", SearchOption.AllDirectories) |> Array.sort
    let counter (file: string) (name: string) =
        let counters = XDocument.Load(file).Descendants() |> Seq.find (fun e -> e.Name.LocalName = "Counters")
        int (counters.Attribute(XName.Get name).Value)
    let codes =
        projects |> Array.map (fun project ->
            let name = Path.GetFileNameWithoutExtension project
            let once () =
                run "dotnet" [ "test"; project; "-c"; "Release"; "--no-build"; "-nologo"
                               "--logger"; $"trx;LogFileName={name}.trx"; "--results-directory"; results ]
            let code = once ()
            let file = Path.Combine(results, $"{name}.trx")
            // The Core tests' host crashed now and then inside the JIT (see Optim.Core.Tests.fsproj, which now turns
            // dynamic PGO off). A run that failed no test but did not finish is run once more, and says so; a second
            // crash, or any failed test, still fails the total.
            if code <> 0 && (not (File.Exists file) || counter file "failed" = 0) then
                eprintfn "%s: the test host stopped without a failed test (exit code %d); running it once more" name code
                once ()
            else code)
    let code = codes |> Array.fold max 0
    let trx = if Directory.Exists results then Directory.GetFiles(results, "*.trx") else [||]
    let count (name: string) = trx |> Array.sumBy (fun f -> counter f name)
    let passed, failed = count "passed", count "failed"
    // A test project that crashed writes no result file; count it as a failure so the total cannot look green.
    let missing = max 0 (projects.Length - trx.Length)
    let failed = failed + missing + (if code <> 0 && failed + missing = 0 then 1 else 0)
    printfn "%d passed, %d failed" passed failed
    if failed > 0 then exit 1

match target with
| "build" -> build ()
| "test" -> test ()
| "demo" ->
    runOrFail "dotnet" ([ "run"; "-c"; "Release"; "--project"; "samples/Optim.Demo"; "--" ] @ List.ofArray extra)
| "bench" ->
    // `bench -- --composition [options]`: composed optimizers against the hand-fused kernels (bench/composition.py)
    if Array.contains "--composition" extra then
        runOrFail "/usr/bin/python3" ([ "bench/composition.py" ] @ (extra |> Array.filter (fun a -> a <> "--composition") |> List.ofArray))
    else runOrFail "/usr/bin/python3" ([ "bench/compare.py" ] @ List.ofArray extra)
| "pack" ->
    for project in [ "src/Optim.Core"; "src/Optim.CSharp"; "src/Optim.NN"; "src/Optim.Testing" ] do
        runOrFail "dotnet" [ "pack"; project; "-c"; "Release"; "-nologo"; "-v"; "q"; "-o"; "out/packages" ]
    printfn "Packages in out/packages"
| "golden" ->
    for script in Directory.GetFiles(Path.Combine(root, "tests", "golden"), "generate*.py") |> Array.sort do
        runOrFail "/usr/bin/python3" [ Path.GetRelativePath(root, script) ]
| "holdout" ->
    // Fresh PyTorch trajectories that are not in the repository, replayed by the same golden tests.
    let dir = Path.Combine(root, "out", "holdout")
    runOrFail "/usr/bin/python3" ([ "tests/golden/holdout.py"; "--out"; dir ] @ List.ofArray extra)
    Environment.SetEnvironmentVariable("OPTIM_GOLDEN_DIR", dir)
    test ()
| other ->
    eprintfn "Unknown target '%s'. Targets: build, test, demo, bench, pack, golden, holdout." other
    exit 2
