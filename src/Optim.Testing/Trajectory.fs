namespace Optim.Testing

open System
open System.IO
open System.Reflection
open System.Text
open System.Text.Json
open Optim
open Optim.CSharp

/// <summary>
/// Replaying a trajectory that PyTorch recorded: a JSON file in the layout of the repository's golden fixtures
/// (<c>{"torch_version", "cases": [{"name", "optimizer", "defaults", "params", "groups", "steps", "final_state"}]}</c>),
/// written for any <c>torch.optim.Optimizer</c> by the recorder script this package ships
/// (<see cref="M:Optim.Testing.Trajectory.writeRecorder(System.String)"/>).
/// </summary>
[<RequireQualifiedAccess>]
module Trajectory =

    /// Group keys PyTorch uses to choose an implementation, not the update: never given to the .NET optimizer.
    let private implementationKeys = set [ "params"; "foreach"; "capturable"; "differentiable"; "fused"; "initial_lr"; "param_names" ]

    let private bad (path: string) (what: string) = raise (InvalidDataException $"The trajectory {path} is malformed: {what}.")

    let private prop (path: string) (where: string) (name: string) (e: JsonElement) =
        match e.TryGetProperty name with
        | true, v -> v
        | _ -> bad path $"{where} has no '{name}'"

    let private floats (e: JsonElement) = e.EnumerateArray() |> Seq.map (fun x -> x.GetSingle()) |> Array.ofSeq

    /// Sets a PyTorch group key on a group as a C# user would: numbers, booleans (1/0), pairs, strings; None is skipped.
    let private setKey (g: ParamGroup) (key: string) (v: JsonElement) =
        match v.ValueKind with
        | JsonValueKind.Number -> g.[key] <- v.GetDouble()
        | JsonValueKind.True -> g.[key] <- 1.0
        | JsonValueKind.False -> g.[key] <- 0.0
        | JsonValueKind.String -> g.SetText(key, v.GetString())
        | JsonValueKind.Array when v.GetArrayLength() = 2 && v.[0].ValueKind = JsonValueKind.Number && v.[1].ValueKind = JsonValueKind.Number ->
            g.SetPair(key, struct (v.[0].GetDouble(), v.[1].GetDouble()))
        | _ -> ()

    let private parameterOf (path: string) (def: JsonElement) =
        let shape = (prop path "a parameter" "shape" def).EnumerateArray() |> Seq.map (fun x -> x.GetInt32()) |> Array.ofSeq
        let data = floats (prop path "a parameter" "data" def)
        let p = Parameter(data, shape)
        match def.TryGetProperty "name" with
        | true, n when n.ValueKind = JsonValueKind.String -> p.Name <- n.GetString()
        | _ -> ()
        p

    /// Replays one case; None when it follows PyTorch, else where it diverged.
    let private replay (tol: Tolerance) (path: string) (make: ParamGroup[] -> CSharp.Optimizer) (c: JsonElement) : string option =
        let name = (prop path "a case" "name" c).GetString()
        let parameters = ResizeArray((prop path name "params" c).EnumerateArray() |> Seq.map (parameterOf path))
        // each group: its parameters and the keys set on it so far (constructor groups, then added ones)
        let layout = ResizeArray<Parameter[] * ResizeArray<string * JsonElement>>()
        for g in (prop path name "groups" c).EnumerateArray() do
            let ps = (prop path $"{name}'s group" "params" g).EnumerateArray() |> Seq.map (fun i -> parameters.[i.GetInt32()]) |> Array.ofSeq
            let keys = ResizeArray(g.EnumerateObject() |> Seq.filter (fun p -> not (implementationKeys.Contains p.Name)) |> Seq.map (fun p -> p.Name, p.Value.Clone()))
            layout.Add((ps, keys))
        let constructorGroups = layout.Count
        // a group takes the optimizer's defaults (the constructor's arguments) for the keys it does not set, as in PyTorch
        let defaults =
            match c.TryGetProperty "defaults" with
            | true, d when d.ValueKind = JsonValueKind.Object ->
                d.EnumerateObject() |> Seq.filter (fun p -> not (implementationKeys.Contains p.Name)) |> Seq.map (fun p -> p.Name, p.Value.Clone()) |> List.ofSeq
            | _ -> []
        let groupOf (k: int) =
            let ps, keys = layout.[k]
            let g = ParamGroup ps
            let given = keys |> Seq.map fst |> Set.ofSeq
            for key, v in defaults do if not (given.Contains key) then setKey g key v
            for key, v in keys do setKey g key v
            g
        let build () =
            match make (Array.init constructorGroups groupOf) with
            | null -> raise (InvalidOperationException "The factory returned null instead of an optimizer.")
            | o ->
                for k in constructorGroups .. layout.Count - 1 do o.AddParamGroup(groupOf k)
                o
        let opt = ref (build ())
        let steps = (prop path name "steps" c).EnumerateArray() |> Array.ofSeq
        let rec go (t: int) =
            if t = steps.Length then None
            else
                let s = steps.[t]
                match s.TryGetProperty "before" with
                | true, events ->
                    for e in events.EnumerateArray() do
                        match e.TryGetProperty "add_param_group", e.TryGetProperty "set" with
                        | (true, add), _ ->
                            let added = (prop path "add_param_group" "params" add).EnumerateArray() |> Seq.map (parameterOf path) |> Array.ofSeq
                            parameters.AddRange added
                            let keys =
                                match add.TryGetProperty "hyper" with
                                | true, h -> ResizeArray(h.EnumerateObject() |> Seq.filter (fun p -> not (implementationKeys.Contains p.Name)) |> Seq.map (fun p -> p.Name, p.Value.Clone()))
                                | _ -> ResizeArray()
                            layout.Add((added, keys))
                            opt.Value.AddParamGroup(groupOf (layout.Count - 1))
                        | _, (true, set) ->
                            let g = (prop path "set" "group" set).GetInt32()
                            let key = (prop path "set" "key" set).GetString()
                            let value = (prop path "set" "value" set).Clone()
                            setKey opt.Value.ParamGroups.[g] key value
                            (snd layout.[g]).Add((key, value))
                        | _ ->
                            let json = opt.Value.StateDict().ToJson()
                            opt.Value <- build ()
                            opt.Value.LoadStateDict(StateDict.FromJson json)
                | _ -> ()
                let grads = (prop path $"{name} step {t + 1}" "grads" s).EnumerateArray() |> Array.ofSeq
                if grads.Length <> parameters.Count then bad path $"{name} step {t + 1} has {grads.Length} gradients for {parameters.Count} parameters"
                for i in 0 .. parameters.Count - 1 do
                    parameters.[i].Grad <- (if grads.[i].ValueKind = JsonValueKind.Array then floats grads.[i] else null)
                    if grads.[i].ValueKind = JsonValueKind.Object then
                        parameters.[i].AccumulateSparseGrad(
                            ReadOnlySpan((prop path "a sparse gradient" "rows" grads.[i]).EnumerateArray() |> Seq.map (fun x -> x.GetInt32()) |> Array.ofSeq),
                            ReadOnlySpan(floats (prop path "a sparse gradient" "values" grads.[i])))
                opt.Value.Step() |> ignore
                let expected = (prop path $"{name} step {t + 1}" "params" s).EnumerateArray() |> Array.ofSeq
                let diverged =
                    Seq.init parameters.Count id |> Seq.tryPick (fun i ->
                        Compare.arrays tol $"Case '{name}', step {t + 1}, parameter {i} (shape {Tensor.formatShape parameters.[i].Shape}; PyTorch as expected)"
                            (floats expected.[i]) parameters.[i].Data)
                match diverged with
                | Some d -> Some d
                | None -> go (t + 1)
        match go 0 with
        | Some d -> Some d
        | None ->
            let ours = FacadeLaws.stateOf opt.Value
            match c.TryGetProperty "final_state" with
            | true, final ->
                final.EnumerateObject() |> Seq.tryPick (fun entry ->
                    let i = int entry.Name
                    match ours.TryFind i with
                    | None -> Some $"Case '{name}', at the end: parameter {i} has no state, PyTorch's has"
                    | Some(step, buffers) ->
                        entry.Value.EnumerateObject() |> Seq.tryPick (fun field ->
                            if field.Name = "step" then
                                if field.Value.GetDouble() = step then None
                                else Some $"Case '{name}', at the end: parameter {i} counts {Compare.num step} steps, PyTorch's {Compare.num (field.Value.GetDouble())}"
                            elif field.Value.ValueKind <> JsonValueKind.Array then None
                            else
                                match buffers.TryFind field.Name with
                                | None -> Some $"Case '{name}', at the end: parameter {i}'s state lacks PyTorch's buffer '{field.Name}'"
                                | Some b -> Compare.arrays tol $"Case '{name}', at the end, buffer '{field.Name}' of parameter {i} (PyTorch as expected)" (floats field.Value) b))
            | _ -> None

    /// <summary>
    /// <b>Matches the PyTorch trajectory.</b> Replays every case of a recorded trajectory through a facade optimizer:
    /// builds it over the case's param groups (each with PyTorch's keys set, those of its implementation left out),
    /// applies the recorded events (<c>add_param_group</c>, a key set between steps, a state-dict round trip through JSON
    /// into a new optimizer), sets each step's gradients (null where PyTorch had none), steps, and compares every
    /// parameter after every step and the final state (step counts and PyTorch's buffers, by name) within SPEC's tolerance
    /// by default.
    /// </summary>
    /// <param name="config">Its tolerance is used; the law runs each case once.</param>
    /// <param name="make">Builds the .NET optimizer over param groups; read the hyperparameters from the groups.</param>
    /// <param name="path">The trajectory's JSON file.</param>
    /// <returns>Passed with the number of cases, or failed at the first divergence.</returns>
    /// <exception cref="T:System.IO.FileNotFoundException">There is no such file.</exception>
    /// <exception cref="T:System.IO.InvalidDataException">The file is not a trajectory; the message names what is missing.</exception>
    let matchesTrajectory (config: LawConfig) (make: ParamGroup[] -> CSharp.Optimizer) (path: string) : LawResult =
        if isNull (box make) then nullArg (nameof make)
        if String.IsNullOrWhiteSpace path then invalidArg (nameof path) "The trajectory's path cannot be empty."
        if not (File.Exists path) then raise (FileNotFoundException($"No trajectory at {path}.", path))
        let tol = LawConfig.toleranceOr Tolerance.parity config
        use doc =
            try JsonDocument.Parse(File.ReadAllText path)
            with :? JsonException as e -> raise (InvalidDataException($"The trajectory {path} is not JSON: {e.Message}", e))
        let cases =
            match doc.RootElement.ValueKind, doc.RootElement.TryGetProperty "cases" with
            | JsonValueKind.Object, (true, cs) when cs.ValueKind = JsonValueKind.Array -> cs.EnumerateArray() |> Array.ofSeq
            | _ -> bad path "it has no 'cases' array"
        let law = "matches the PyTorch trajectory"
        let subject = Path.GetFileName path
        let failure (c: JsonElement) (d: string) =
            let name = match c.TryGetProperty "name" with | true, n -> n.GetString() | _ -> "?"
            let kind = match c.TryGetProperty "optimizer" with | true, n -> n.GetString() | _ -> "?"
            let defaults = match c.TryGetProperty "defaults" with | true, d -> d.GetRawText() | _ -> "{}"
            let shapes = match c.TryGetProperty "params" with | true, ps -> String.Join(", ", ps.EnumerateArray() |> Seq.map (fun p -> (p.GetProperty "shape").GetRawText())) | _ -> ""
            LawResult.Failed
                { Law = law; Subject = subject; Tests = 1; Shrinks = 0; Seed = 0UL; Divergence = d
                  Counterexample = $"  case '{name}' of {path}: PyTorch's {kind} with {defaults}{Environment.NewLine}  parameter shapes: {shapes}" }
        let rec each (i: int) =
            if i = cases.Length then LawResult.Passed(law, subject, cases.Length)
            else
                let c = cases.[i]
                let outcome =
                    try replay tol path make c
                    with
                    | :? InvalidDataException -> reraise ()
                    | e -> Some $"It threw {e.GetType().FullName}: {e.Message}"
                match outcome with
                | Some d -> failure c d
                | None -> each (i + 1)
        each 0

    /// <summary>The recorder script, <c>record_trajectory.py</c>: run it with PyTorch to record a trajectory of any
    /// <c>torch.optim.Optimizer</c> (<c>python3 record_trajectory.py --optimizer mymodule:MyOptim --kwargs '{"lr":0.1}'
    /// --steps 20 --out traj.json</c>).</summary>
    let recorderScript : string =
        use s = Assembly.GetExecutingAssembly().GetManifestResourceStream "record_trajectory.py"
        use r = new StreamReader(s, Encoding.UTF8)
        r.ReadToEnd()

    /// <summary>Writes the recorder script to a file (the package also copies it beside your build's output).</summary>
    /// <param name="path">The file to write, e.g. <c>record_trajectory.py</c>.</param>
    /// <exception cref="T:System.ArgumentException">The path is empty.</exception>
    let writeRecorder (path: string) : unit =
        if String.IsNullOrWhiteSpace path then invalidArg (nameof path) "The script's path cannot be empty."
        File.WriteAllText(path, recorderScript)
