// The build script: a plain F# script over the dotnet CLI.
//   dotnet fsi build.fsx <target> [-- extra arguments for the demo]
// Targets: build, test, demo, ddp, bench, pack, golden, holdout (see README.md).
open System
open System.Diagnostics
open System.IO
open System.Text.RegularExpressions
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

/// Runs a command in the repository root, echoing its standard output line by line as it comes; returns its exit code
/// and its last line that is not blank (null when it printed none).
let runEchoing (file: string) (arguments: string list) =
    let psi = ProcessStartInfo(file, arguments, WorkingDirectory = root, UseShellExecute = false, RedirectStandardOutput = true)
    use p = new Process(StartInfo = psi)
    let last = ref null
    p.OutputDataReceived.Add(fun e ->
        if not (isNull e.Data) then
            Console.Out.WriteLine e.Data
            if not (String.IsNullOrWhiteSpace e.Data) then last.Value <- e.Data)
    p.Start() |> ignore
    p.BeginOutputReadLine()
    p.WaitForExit()
    p.ExitCode, last.Value

/// The built program of an F# test project that is a console program (an Expecto one): its dll, which runs as
/// `dotnet <dll>`. None for any other project, which runs under `dotnet test`.
let testProgram (project: string) =
    if not (project.EndsWith ".fsproj") then None
    else
        let psi =
            ProcessStartInfo("dotnet", [ "msbuild"; project; "-nologo"; "-p:Configuration=Release"; "-getProperty:OutputType"; "-getProperty:TargetPath" ],
                             WorkingDirectory = root, UseShellExecute = false, RedirectStandardOutput = true)
        use p = Process.Start psi
        let json = p.StandardOutput.ReadToEnd()
        p.WaitForExit()
        if p.ExitCode <> 0 then failwith $"Could not read the properties of {project}: {json}"
        use doc = System.Text.Json.JsonDocument.Parse json
        let property (name: string) = doc.RootElement.GetProperty("Properties").GetProperty(name).GetString()
        if property "OutputType" = "Exe" then Some(property "TargetPath") else None

/// Runs every test project, then prints one line summed over all of them: "N passed, N failed". A project is run once
/// more, and says so, when it stopped (non-zero exit) without a failed test: the Core tests' host crashed now and then
/// inside the JIT (see Optim.Core.Tests.fsproj, which now turns dynamic PGO off). A second crash, or any failed test,
/// still fails the total.
let test () =
    build ()
    let results = Path.Combine(root, "out", "test-results")
    if Directory.Exists results then Directory.Delete(results, true)
    let projects = Directory.GetFiles(Path.Combine(root, "tests"), "*.??proj", SearchOption.AllDirectories) |> Array.sort
    let counter (file: string) (name: string) =
        let counters = XDocument.Load(file).Descendants() |> Seq.find (fun e -> e.Name.LocalName = "Counters")
        int (counters.Attribute(XName.Get name).Value)
    // A test project under `dotnet test`: its counts from its trx file. One that wrote none counts as 1 failed, and so
    // does one that exited non-zero with no failed test.
    let testProject (name: string) (project: string) =
        let file = Path.Combine(results, $"{name}.trx")
        let once () =
            if File.Exists file then File.Delete file
            run "dotnet" [ "test"; project; "-c"; "Release"; "--no-build"; "-nologo"
                           "--logger"; $"trx;LogFileName={name}.trx"; "--results-directory"; results ]
        let code = once ()
        let code =
            if code <> 0 && (not (File.Exists file) || counter file "failed" = 0) then
                eprintfn "%s: the test host stopped without a failed test (exit code %d); running it once more" name code
                once ()
            else code
        if not (File.Exists file) then
            eprintfn "%s: the test host wrote no results (exit code %d); counted as 1 failed" name code
            0, 1
        else
            let passed, failed = counter file "passed", counter file "failed"
            if code <> 0 && failed = 0 then
                eprintfn "%s: exit code %d with no failed test; counted as 1 failed" name code
                passed, 1
            else passed, failed
    // An F# console test program (Expecto): `dotnet <dll>` from the repository root, whose last line is its own
    // "N passed, N failed". One that ends without that line (a crash, a kill) counts as 1 failed, and so does one that
    // exits non-zero with no failed test.
    let testProgramRun (name: string) (dll: string) =
        let once () =
            let code, last = runEchoing "dotnet" [ dll ]
            let m = if isNull last then Match.Empty else Regex.Match(last, @"^(\d+) passed, (\d+) failed$")
            code, (if m.Success then Some(int m.Groups.[1].Value, int m.Groups.[2].Value) else None)
        let code, counts = once ()
        let code, counts =
            if code <> 0 && (match counts with Some(_, failed) -> failed = 0 | None -> true) then
                eprintfn "%s: the test program stopped without a failed test (exit code %d); running it once more" name code
                once ()
            else code, counts
        match counts with
        | None ->
            eprintfn "%s: the test program ended (exit code %d) without its closing 'N passed, N failed' line; counted as 1 failed" name code
            0, 1
        | Some(passed, 0) when code <> 0 ->
            eprintfn "%s: exit code %d with no failed test; counted as 1 failed" name code
            passed, 1
        | Some counts -> counts
    let counts =
        projects |> Array.map (fun project ->
            let name = Path.GetFileNameWithoutExtension project
            match testProgram project with
            | Some dll -> testProgramRun name dll
            | None -> testProject name project)
    let passed, failed = Array.sumBy fst counts, Array.sumBy snd counts
    printfn "%d passed, %d failed" passed failed
    if failed > 0 then exit 1

match target with
| "build" -> build ()
| "test" -> test ()
| "demo" ->
    runOrFail "dotnet" ([ "run"; "-c"; "Release"; "--project"; "samples/Optim.Demo"; "--" ] @ List.ofArray extra)
| "ddp" ->
    // The demo's MLP data-parallel on 2 ranks under OpenMPI's mpirun (samples/Optim.Distributed.Demo), against one process.
    let mpirun =
        (Environment.GetEnvironmentVariable "PATH" |> string).Split ':'
        |> Array.map (fun d -> Path.Combine(d, "mpirun")) |> Array.tryFind File.Exists
    match mpirun with
    | None ->
        eprintfn "ddp needs OpenMPI's mpirun (Debian: apt-get install -y openmpi-bin)."
        exit 2
    | Some mpirun ->
        runOrFail "dotnet" [ "build"; "samples/Optim.Distributed.Demo"; "-c"; "Release"; "-nologo"; "-v"; "q" ]
        let dll = Path.Combine("samples", "Optim.Distributed.Demo", "bin", "Release", "net10.0", "Optim.Distributed.Demo.dll")
        runOrFail mpirun ([ "--allow-run-as-root"; "--oversubscribe"; "-x"; "TERM=dumb"; "-np"; "2"; "dotnet"; dll ] @ List.ofArray extra)
| "bench" ->
    // `bench -- --composition [options]`: composed optimizers against the hand-fused kernels (bench/composition.py)
    if Array.contains "--composition" extra then
        runOrFail "/usr/bin/python3" ([ "bench/composition.py" ] @ (extra |> Array.filter (fun a -> a <> "--composition") |> List.ofArray))
    else runOrFail "/usr/bin/python3" ([ "bench/compare.py" ] @ List.ofArray extra)
| "pack" ->
    for project in [ "src/Optim.Kernels"; "src/Optim.Core"; "src/Optim.CSharp"; "src/Optim.NN"; "src/Optim.Testing"; "src/Optim.Distributed"; "src/Optim.Gpu" ] do
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
    eprintfn "Unknown target '%s'. Targets: build, test, demo, ddp, bench, pack, golden, holdout." other
    exit 2
