namespace Optim.Testing

open System
open System.Collections.Generic
open System.IO
open System.Text.Json
open FsCheck
open FsCheck.FSharp
open Optim
open Optim.CSharp

/// <summary>
/// A facade optimizer under test (a built-in class, a <c>ComposedOptimizer</c>, your own <c>Optimizer</c> subclass): its
/// name, a generator of its hyperparameters and how to build it over parameters; optionally over param groups (for the
/// param-group law), the group key of its maximize option, and the optimizer it claims to equal (the reference law).
/// </summary>
[<NoEquality; NoComparison>]
type FacadeSubject<'o> =
    { /// <summary>The name the laws' messages give it.</summary>
      Name: string
      /// <summary>Its hyperparameters, drawn per case (<c>Gen.constant ()</c> for a factory with fixed ones).</summary>
      Options: Gen<'o>
      /// <summary>Builds it over parameters (one param group).</summary>
      Make: 'o -> Parameter[] -> CSharp.Optimizer
      /// <summary>Builds it over param groups, where it takes them.</summary>
      MakeGroups: ('o -> ParamGroup[] -> CSharp.Optimizer) option
      /// <summary>The group key of its maximize option (PyTorch's is <c>"maximize"</c>), where it has one.</summary>
      MaximizeKey: string option
      /// <summary>The optimizer it claims to equal, built over the same parameters.</summary>
      Reference: ('o -> Parameter[] -> CSharp.Optimizer) option }

/// <summary>Building <see cref="T:Optim.Testing.FacadeSubject`1"/> values.</summary>
[<RequireQualifiedAccess>]
module FacadeSubject =

    /// <summary>An optimizer built from generated hyperparameters.</summary>
    /// <param name="name">Its name.</param>
    /// <param name="options">Its hyperparameters' generator.</param>
    /// <param name="make">Builds it over parameters.</param>
    /// <exception cref="T:System.ArgumentException">The name is empty.</exception>
    /// <exception cref="T:System.ArgumentNullException">A function is null.</exception>
    let create (name: string) (options: Gen<'o>) (make: 'o -> Parameter[] -> CSharp.Optimizer) : FacadeSubject<'o> =
        if String.IsNullOrWhiteSpace name then invalidArg (nameof name) "A subject needs a name for the laws' messages."
        if isNull (box options) then nullArg (nameof options)
        if isNull (box make) then nullArg (nameof make)
        { Name = name; Options = options; Make = make; MakeGroups = None; MaximizeKey = None; Reference = None }

    /// <summary>An optimizer with fixed hyperparameters, from a factory over parameters.</summary>
    /// <param name="name">Its name.</param>
    /// <param name="make">Builds it over parameters.</param>
    let ofFactory (name: string) (make: Parameter[] -> CSharp.Optimizer) : FacadeSubject<unit> =
        if isNull (box make) then nullArg (nameof make)
        create name (Gen.constant ()) (fun () ps -> make ps)

    /// <summary>The subject with a factory over param groups, for the param-group law.</summary>
    /// <param name="makeGroups">Builds it over param groups.</param>
    /// <param name="subject">The subject.</param>
    let withGroups (makeGroups: 'o -> ParamGroup[] -> CSharp.Optimizer) (subject: FacadeSubject<'o>) =
        if isNull (box makeGroups) then nullArg (nameof makeGroups)
        { subject with MakeGroups = Some makeGroups }

    /// <summary>The subject with the group key of its maximize option, for the maximize law.</summary>
    /// <param name="key">The key (PyTorch's is <c>"maximize"</c>).</param>
    /// <param name="subject">The subject.</param>
    let withMaximize (key: string) (subject: FacadeSubject<'o>) =
        if String.IsNullOrWhiteSpace key then invalidArg (nameof key) "The maximize key cannot be empty."
        { subject with MaximizeKey = Some key }

    /// <summary>The subject with the optimizer it claims to equal, for the reference law.</summary>
    /// <param name="reference">Builds the reference over parameters, with the same hyperparameters.</param>
    /// <param name="subject">The subject.</param>
    let withReference (reference: 'o -> Parameter[] -> CSharp.Optimizer) (subject: FacadeSubject<'o>) =
        if isNull (box reference) then nullArg (nameof reference)
        { subject with Reference = Some reference }

/// The per-parameter state of a facade optimizer, read from its state dict's JSON: step count and buffers by name.
type internal FacadeState = Map<int, float * Map<string, float32[]>>

/// <summary>
/// The laws every facade optimizer obeys (<see cref="T:Optim.CSharp.Optimizer"/>: the built-in classes, a
/// <c>ComposedOptimizer</c>, a subclass of your own), as FsCheck properties over generated parameters and gradients.
/// Each returns a <see cref="T:Optim.Testing.LawResult"/> with the counterexample shrunk. C# uses them through
/// <see cref="T:Optim.Testing.OptimizerLaws"/>.
/// </summary>
[<RequireQualifiedAccess>]
module FacadeLaws =

    let private tensorShapes (ps: Tensor[]) = ps |> Array.map (fun p -> p.Shape)

    /// Fresh facade parameters over copies of a case's values.
    let internal parametersOf (ps: Tensor[]) = ps |> Array.mapi (fun i t -> Parameter(Array.copy t.Data, t.Shape, Name = $"p{i}"))

    let internal setGrads (ps: Parameter[]) (grads: float32[][]) =
        Array.iter2 (fun (p: Parameter) (g: float32[]) -> p.Grad <- (if isNull g then null else Array.copy g)) ps grads

    let private datas (ps: Parameter[]) = ps |> Array.map (fun p -> p.Data)

    let private readFloat (e: JsonElement) =
        match e.ValueKind with
        | JsonValueKind.String ->
            match e.GetString() with
            | "NaN" -> nan
            | "Infinity" -> infinity
            | "-Infinity" -> -infinity
            | s -> invalidArg "state" $"Not a number: '{s}'."
        | _ -> e.GetDouble()

    /// The per-parameter state of an optimizer's state dict JSON.
    let internal stateOfJson (json: string) : FacadeState =
        use doc = JsonDocument.Parse json
        doc.RootElement.GetProperty("state").EnumerateObject()
        |> Seq.map (fun entry ->
            let mutable step = nan
            let buffers =
                entry.Value.EnumerateObject()
                |> Seq.choose (fun f ->
                    if f.Name = "step" then
                        step <- readFloat f.Value
                        None
                    else
                        let data = if f.Value.ValueKind = JsonValueKind.Object then f.Value.GetProperty "data" else f.Value
                        if data.ValueKind = JsonValueKind.Array then Some(f.Name, data.EnumerateArray() |> Seq.map (readFloat >> float32) |> Array.ofSeq)
                        else None)
                |> Map.ofSeq
            int entry.Name, (step, buffers))
        |> Map.ofSeq

    let internal stateOf (o: CSharp.Optimizer) = stateOfJson (o.StateDict().ToJson())

    /// Where two facade states differ, by parameter index: missing or extra entries, step counts, buffers.
    let internal compareStates (tol: Tolerance) (where: string) (expected: FacadeState) (actual: FacadeState) : string option =
        let extra =
            actual |> Seq.tryPick (fun (KeyValue(i, _)) ->
                if expected.ContainsKey i then None else Some $"{where}: parameter {i} has state, where none was expected")
        let entries =
            expected |> Seq.tryPick (fun (KeyValue(i, (step, buffers))) ->
                match actual.TryFind i with
                | None -> Some $"{where}: parameter {i} has no state, where some was expected"
                | Some(step', buffers') ->
                    if not (Tolerance.within Tolerance.exact step step') then
                        Some $"{where}: the step count of parameter {i} is {Compare.num step'}, expected {Compare.num step}"
                    else
                        buffers |> Seq.tryPick (fun (KeyValue(name, b)) ->
                            match buffers'.TryFind name with
                            | None -> Some $"{where}: parameter {i}'s state lacks the buffer '{name}'"
                            | Some b' -> Compare.arrays tol $"{where}, buffer '{name}' of parameter {i}" b b'))
        extra |> Option.orElse entries

    /// The hyperparameters of an optimizer's groups, printed.
    let internal describeGroups (o: CSharp.Optimizer) =
        let value (g: ParamGroup) (key: string) =
            try Compare.num g.[key]
            with _ ->
                try (let struct (a, b) = g.GetPair key in $"({Compare.num a}, {Compare.num b})")
                with _ -> (try (match g.GetText key with null -> "None" | t -> $"'{t}'") with _ -> "?")
        o.ParamGroups
        |> Seq.mapi (fun i g ->
            let keys = g.Keys |> Seq.map (fun k -> $"{k} = {value g k}")
            $"group {i}: " + String.Join(", ", keys))
        |> fun lines -> String.Join("; ", lines)

    let private describeWith (subject: FacadeSubject<'o>) (s: Scenario<'o>) =
        let groups = try describeGroups (subject.Make s.Options (parametersOf s.Parameters)) with e -> $"(the factory threw {e.GetType().Name}: {e.Message})"
        let options = Compare.describeOptions s.Options
        let hyper = if String.IsNullOrWhiteSpace options then groups else options + " — " + groups
        Compare.describeCase hyper s.Parameters s.Gradients

    let private make (subject: FacadeSubject<'o>) (o: 'o) (ps: Parameter[]) =
        match subject.Make o ps with
        | null -> raise (InvalidOperationException $"The factory of '{subject.Name}' returned null instead of an optimizer.")
        | opt -> opt

    let private stepAll (opt: CSharp.Optimizer) (ps: Parameter[]) (g: float32[][]) =
        setGrads ps g
        opt.Step() |> ignore

    let private run (config: LawConfig) (law: string) (subject: FacadeSubject<'o>) allowNull minSteps maxSteps check =
        Runner.run config law subject.Name (Scenario.arb subject.Options allowNull minSteps maxSteps) check (describeWith subject)

    /// <summary>
    /// <b>Equals its reference.</b> Over the same parameters and gradients, the subject's parameters after every step and
    /// its state dict's state (step counts and buffers, by parameter index and PyTorch's names) at the end are those of
    /// the optimizer it claims to be, within SPEC's tolerance by default. Catches any difference in the update rule, a
    /// state buffer kept for the wrong parameter, a state dict that lacks a buffer.
    /// </summary>
    /// <param name="config">How to run the law.</param>
    /// <param name="subject">The optimizer under test; it needs <c>Reference</c>.</param>
    /// <exception cref="T:System.ArgumentException">The subject has no reference.</exception>
    let sameAsReference (config: LawConfig) (subject: FacadeSubject<'o>) : LawResult =
        let reference =
            match subject.Reference with
            | Some r -> r
            | None -> invalidArg (nameof subject) $"The reference law compares '{subject.Name}' with the optimizer it claims to be, but none was given (FacadeSubject.withReference)."
        let tol = LawConfig.toleranceOr Tolerance.parity config
        run config "equals its reference" subject true 1 6 (fun s ->
            let pa, pb = parametersOf s.Parameters, parametersOf s.Parameters
            let expected, actual = reference s.Options pa, make subject s.Options pb
            let rec go t gs =
                match gs with
                | [] -> compareStates tol $"After step {t - 1}, in the state dicts (the reference's as expected)" (stateOf expected) (stateOf actual)
                | g :: rest ->
                    stepAll expected pa g
                    stepAll actual pb g
                    match Compare.parameters tol $"After step {t} (the reference as expected)" (tensorShapes s.Parameters) (datas pa) (datas pb) with
                    | Some d -> Some d
                    | None -> go (t + 1) rest
            go 1 s.Gradients)

    /// <summary>
    /// <b>k accumulated micro-batches equal one step on their sum.</b> Gradients of <c>k</c> micro-batches (1 to 5) added
    /// with <c>AccumulateGrad</c>, then one <c>Step()</c>, give the parameters of one step on the gradients' sum, bit for
    /// bit by default.
    /// </summary>
    /// <param name="config">How to run the law.</param>
    /// <param name="subject">The optimizer under test.</param>
    let accumulation (config: LawConfig) (subject: FacadeSubject<'o>) : LawResult =
        let tol = LawConfig.toleranceOr Tolerance.exact config
        run config "k accumulated micro-batches equal one step on their sum" subject false 1 5 (fun s ->
            let a, b = parametersOf s.Parameters, parametersOf s.Parameters
            let optA, optB = make subject s.Options a, make subject s.Options b
            optA.ZeroGrad()
            for g in s.Gradients do Array.iter2 (fun (p: Parameter) (x: float32[]) -> p.AccumulateGrad(ReadOnlySpan x)) a g
            optA.Step() |> ignore
            let sum = s.Gradients |> List.reduce (Array.map2 (Array.map2 (+)))
            stepAll optB b sum
            Compare.parameters tol $"After one step on {s.Gradients.Length} accumulated micro-batches (one step on their sum as expected)"
                (tensorShapes s.Parameters) (datas b) (datas a))

    /// Runs half a case, moves the optimizer through `save`/`load` into a new one, and compares the rest with the
    /// uninterrupted run.
    let private resumeWith (config: LawConfig) (law: string) (roundTrip: CSharp.Optimizer -> CSharp.Optimizer -> unit) (subject: FacadeSubject<'o>) : LawResult =
        let tol = LawConfig.toleranceOr Tolerance.exact config
        run config law subject true 2 6 (fun s ->
            let a, b = parametersOf s.Parameters, parametersOf s.Parameters
            let optA, optB = make subject s.Options a, make subject s.Options b
            let k = s.Gradients.Length / 2
            for g in List.take k s.Gradients do
                stepAll optA a g
                stepAll optB b g
            let resumed = make subject s.Options b
            roundTrip optB resumed
            let rec go t gs =
                match gs with
                | [] -> compareStates tol $"At the end, in the state dicts (uninterrupted as expected, resumed after step {k} as actual)" (stateOf optA) (stateOf resumed)
                | g :: rest ->
                    stepAll optA a g
                    stepAll resumed b g
                    match Compare.parameters tol $"After step {t}, resumed after step {k} (uninterrupted as expected)" (tensorShapes s.Parameters) (datas a) (datas b) with
                    | Some d -> Some d
                    | None -> go (t + 1) rest
            go (k + 1) (List.skip k s.Gradients))

    /// <summary>
    /// <b>Resumed from JSON equals uninterrupted.</b> An optimizer saved halfway with <c>StateDict().ToJson()</c> and loaded
    /// into a new one (<c>LoadStateDict(StateDict.FromJson(json))</c>) continues as the uninterrupted one, bit for bit by
    /// default. Catches state kept outside the state dict: a step counter or a buffer in a field of a subclass.
    /// </summary>
    /// <param name="config">How to run the law.</param>
    /// <param name="subject">The optimizer under test.</param>
    let resumeJson (config: LawConfig) (subject: FacadeSubject<'o>) : LawResult =
        resumeWith config "resumed from a JSON state dict equals uninterrupted"
            (fun saved fresh -> fresh.LoadStateDict(StateDict.FromJson(saved.StateDict().ToJson()))) subject

    /// <summary>
    /// <b>Resumed from a checkpoint file equals uninterrupted.</b> As <see cref="M:Optim.Testing.FacadeLaws.resumeJson``1"/>,
    /// through a <c>CheckpointFile</c> saved to a temporary file (PyTorch's <c>.pt</c> format) and loaded back.
    /// </summary>
    /// <param name="config">How to run the law.</param>
    /// <param name="subject">The optimizer under test.</param>
    let resumeFile (config: LawConfig) (subject: FacadeSubject<'o>) : LawResult =
        resumeWith config "resumed from a checkpoint file equals uninterrupted"
            (fun saved fresh ->
                let dir = Directory.CreateTempSubdirectory("optim-testing-").FullName
                try
                    let path = Path.Combine(dir, "checkpoint.pt")
                    CheckpointFile(Optimizer = saved.StateDict()).Save path
                    fresh.LoadStateDict((CheckpointFile.Load path).OptimizerStateFor fresh)
                finally Directory.Delete(dir, true)) subject

    /// <summary>
    /// <b>A null gradient changes nothing.</b> At every step, a parameter whose gradient is null keeps its values and its
    /// state (step count and buffers). Catches a state advanced, or created, for a parameter without a gradient.
    /// </summary>
    /// <param name="config">How to run the law.</param>
    /// <param name="subject">The optimizer under test.</param>
    let nullGradient (config: LawConfig) (subject: FacadeSubject<'o>) : LawResult =
        run config "a null gradient changes nothing" subject true 1 6 (fun s ->
            let ps = parametersOf s.Parameters
            let opt = make subject s.Options ps
            let rec go t gs =
                match gs with
                | [] -> None
                | (g: float32[][]) :: rest ->
                    let values = ps |> Array.map (fun p -> Array.copy p.Data)
                    let before = stateOf opt
                    stepAll opt ps g
                    let after = stateOf opt
                    let bad =
                        Seq.init g.Length id |> Seq.filter (fun i -> isNull g.[i]) |> Seq.tryPick (fun i ->
                            let where = $"Step {t}: parameter {i} has no gradient"
                            Compare.arrays Tolerance.exact $"{where}, and moved" values.[i] ps.[i].Data
                            |> Option.orElse (
                                let pick (m: FacadeState) = match m.TryFind i with Some e -> Map.ofList [ i, e ] | None -> Map.empty
                                compareStates Tolerance.exact $"{where}, and its state changed (before as expected)" (pick before) (pick after)))
                    match bad with
                    | Some d -> Some d
                    | None -> go (t + 1) rest
            go 1 s.Gradients)

    /// <summary>
    /// <b>maximize(g) equals minimize(−g).</b> The subject with its maximize key set to 1 in every group, fed <c>g</c>, gives
    /// the parameters and state of the subject with the key at 0 fed <c>−g</c>, bit for bit by default. Catches a maximize
    /// that negates the update instead of the gradient.
    /// </summary>
    /// <param name="config">How to run the law.</param>
    /// <param name="subject">The optimizer under test; it needs <c>MaximizeKey</c>.</param>
    /// <exception cref="T:System.ArgumentException">The subject has no maximize key.</exception>
    let maximize (config: LawConfig) (subject: FacadeSubject<'o>) : LawResult =
        let key =
            match subject.MaximizeKey with
            | Some k -> k
            | None -> invalidArg (nameof subject) $"The maximize law sets the maximize key of '{subject.Name}', but none was given (FacadeSubject.withMaximize)."
        let tol = LawConfig.toleranceOr Tolerance.exact config
        run config "maximize(g) equals minimize(-g)" subject true 1 5 (fun s ->
            let a, b = parametersOf s.Parameters, parametersOf s.Parameters
            let up, down = make subject s.Options a, make subject s.Options b
            for g in up.ParamGroups do g.[key] <- 1.0
            for g in down.ParamGroups do g.[key] <- 0.0
            let rec go t gs =
                match gs with
                | [] -> compareStates tol "At the end, in the state dicts (minimize(-g) as expected)" (stateOf down) (stateOf up)
                | (g: float32[][]) :: rest ->
                    stepAll up a g
                    stepAll down b (g |> Array.map (fun x -> if isNull x then null else Array.map (fun v -> -v) x))
                    match Compare.parameters tol $"After step {t} (minimize(-g) as expected, maximize(g) as actual)" (tensorShapes s.Parameters) (datas b) (datas a) with
                    | Some d -> Some d
                    | None -> go (t + 1) rest
            go 1 s.Gradients)

    /// <summary>
    /// <b>Finite in, finite out.</b> From finite parameters and gradients (zeros, tiny and large ones included), every step
    /// gives finite parameters and a state dict of finite buffers.
    /// </summary>
    /// <param name="config">How to run the law.</param>
    /// <param name="subject">The optimizer under test.</param>
    let finite (config: LawConfig) (subject: FacadeSubject<'o>) : LawResult =
        run config "finite in, finite out" subject true 1 6 (fun s ->
            let ps = parametersOf s.Parameters
            let opt = make subject s.Options ps
            let rec go t gs =
                match gs with
                | [] -> None
                | g :: rest ->
                    stepAll opt ps g
                    let buffers =
                        stateOf opt |> Seq.tryPick (fun (KeyValue(i, (_, bs))) ->
                            bs |> Seq.tryPick (fun (KeyValue(name, b)) ->
                                b |> Array.tryFindIndex (Single.IsFinite >> not)
                                |> Option.map (fun j -> $"After step {t}, in the state dict, buffer '{name}' of parameter {i}, element {j} is {b.[j]}")))
                    match Compare.finite $"After step {t}" (datas ps) None |> Option.orElse buffers with
                    | Some d -> Some d
                    | None -> go (t + 1) rest
            go 1 s.Gradients)

    /// <summary>
    /// <b>A step leaves the gradients as they were.</b> <c>Step()</c> reads <c>Grad</c> and never writes it (PyTorch's
    /// optimizers do not modify <c>p.grad</c>). Catches weight decay or maximize computed in the gradient's buffer.
    /// </summary>
    /// <param name="config">How to run the law.</param>
    /// <param name="subject">The optimizer under test.</param>
    let gradientsUntouched (config: LawConfig) (subject: FacadeSubject<'o>) : LawResult =
        run config "a step leaves the gradients as they were" subject true 1 4 (fun s ->
            let ps = parametersOf s.Parameters
            let opt = make subject s.Options ps
            s.Gradients |> List.indexed |> List.tryPick (fun (t, g) ->
                setGrads ps g
                opt.Step() |> ignore
                Seq.init g.Length id |> Seq.tryPick (fun i ->
                    Compare.arrays Tolerance.exact $"Step {t + 1} wrote into the gradient of parameter {i}" g.[i] ps.[i].Grad)))

    /// <summary>
    /// <b>Param groups equal separate optimizers.</b> One optimizer over two param groups (the second with half the first's
    /// learning rate) gives each parameter the values and state of a separate optimizer over its group alone, bit for bit
    /// by default. Catches a group's hyperparameters ignored, one group's learning rate used for all, state indexed across
    /// groups.
    /// </summary>
    /// <param name="config">How to run the law.</param>
    /// <param name="subject">The optimizer under test; it needs <c>MakeGroups</c>.</param>
    /// <exception cref="T:System.ArgumentException">The subject has no factory over param groups.</exception>
    let paramGroups (config: LawConfig) (subject: FacadeSubject<'o>) : LawResult =
        let makeGroups =
            match subject.MakeGroups with
            | Some m -> m
            | None -> invalidArg (nameof subject) $"The param-group law builds '{subject.Name}' over param groups, but no factory for them was given (FacadeSubject.withGroups)."
        let tol = LawConfig.toleranceOr Tolerance.exact config
        let arb =
            Arb.fromGenShrink (
                Scenario.gen subject.Options true 1 5 |> Gen.filter (fun s -> s.Parameters.Length >= 2),
                Scenario.shrink true 1 2)
        Runner.run config "param groups equal separate optimizers" subject.Name arb
            (fun s ->
                let n = s.Parameters.Length
                let split = n / 2
                let all = parametersOf s.Parameters
                let alone = parametersOf s.Parameters
                let firstLr = (makeGroups s.Options [| ParamGroup(all.[.. split - 1]) |]).ParamGroups.[0].Lr
                let secondLr = if firstLr = 0.0 then 0.01 else firstLr / 2.0
                let group (ps: Parameter[]) (second: bool) =
                    let g = ParamGroup ps
                    if second then g.Lr <- secondLr
                    g
                let all = parametersOf s.Parameters
                let together = makeGroups s.Options [| group all.[.. split - 1] false; group all.[split ..] true |]
                let first = makeGroups s.Options [| group alone.[.. split - 1] false |]
                let second = makeGroups s.Options [| group alone.[split ..] true |]
                let rec go t gs =
                    match gs with
                    | [] ->
                        let shift (m: FacadeState) = m |> Seq.map (fun (KeyValue(i, e)) -> i + split, e) |> Map.ofSeq
                        let separate = Map.fold (fun acc k v -> Map.add k v acc) (stateOf first) (shift (stateOf second))
                        compareStates tol "At the end, in the state dicts (separate optimizers as expected)" separate (stateOf together)
                    | (g: float32[][]) :: rest ->
                        stepAll together all g
                        setGrads alone.[.. split - 1] g.[.. split - 1]
                        setGrads alone.[split ..] g.[split ..]
                        first.Step() |> ignore
                        second.Step() |> ignore
                        match Compare.parameters tol $"After step {t} (group 0: parameters 0 to {split - 1}; group 1, lr {Compare.num secondLr}: the rest; separate optimizers as expected)"
                                (tensorShapes s.Parameters) (datas alone) (datas all) with
                        | Some d -> Some d
                        | None -> go (t + 1) rest
                go 1 s.Gradients)
            (describeWith subject)

    /// <summary>
    /// Every law that applies: the reference law (with a reference), accumulation, resume from JSON and from a file,
    /// null gradients, maximize (with a key), finite in finite out, gradients untouched, param groups (with a factory
    /// over groups).
    /// </summary>
    /// <param name="config">How to run the laws.</param>
    /// <param name="subject">The optimizer under test.</param>
    let all (config: LawConfig) (subject: FacadeSubject<'o>) : LawResult list =
        [ if subject.Reference.IsSome then yield sameAsReference config subject
          yield accumulation config subject
          yield resumeJson config subject
          yield resumeFile config subject
          yield nullGradient config subject
          if subject.MaximizeKey.IsSome then yield maximize config subject
          yield finite config subject
          yield gradientsUntouched config subject
          if subject.MakeGroups.IsSome then yield paramGroups config subject ]
