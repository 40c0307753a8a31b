namespace Optim.Testing

open System
open System.Collections.Generic
open System.Runtime.InteropServices
open FsCheck.FSharp
open Optim.CSharp

/// <summary>The outcome of one law, for C#: whether it held, on how many cases, and the failure's details.</summary>
[<Sealed>]
type LawOutcome internal (result: LawResult) =
    /// <summary>The law's name, e.g. <c>"resumed from a JSON state dict equals uninterrupted"</c>.</summary>
    member _.Law = result.Law
    /// <summary>Whether the law held on every case.</summary>
    member _.Passed = result.IsPassed
    /// <summary>How many cases ran (the failing one included).</summary>
    member _.Tests = match result with LawResult.Passed(_, _, n) -> n | LawResult.Failed f -> f.Tests
    /// <summary>One line for a law that held; for one that failed, the law's name, the divergence, the shrunk
    /// counterexample and the seed that replays it.</summary>
    member _.Message = result.Message
    /// <summary>The shrunk counterexample, printed; null when the law held.</summary>
    member _.Counterexample = match result with LawResult.Failed f -> f.Counterexample | _ -> null
    /// <summary>Where the shrunk counterexample diverged (step, parameter, element, expected and actual); null when the law held.</summary>
    member _.Divergence = match result with LawResult.Failed f -> f.Divergence | _ -> null
    /// <summary>The seed of the run that failed (give it to <c>Seed(...)</c> to replay); 0 when the law held.</summary>
    member _.Seed = match result with LawResult.Failed f -> f.Seed | _ -> 0UL
    /// <inheritdoc />
    override _.ToString() = result.Message

/// The settings the C# builders share.
type internal FluentSettings =
    { Name: string option; Tolerance: Tolerance option; Seed: uint64 option; MaxTests: int }

    member s.Config = { LawConfig.defaults with MaxTests = s.MaxTests; Seed = s.Seed; Tolerance = s.Tolerance }

module internal FluentSettings =
    let defaults = { Name = None; Tolerance = None; Seed = None; MaxTests = 100 }

    let maxTests (n: int) (s: FluentSettings) =
        if n < 1 then raise (ArgumentOutOfRangeException("maxTests", n, "A law needs at least one case: maxTests must be 1 or more."))
        { s with MaxTests = n }

    let name (name: string) (s: FluentSettings) =
        if String.IsNullOrWhiteSpace name then invalidArg (nameof name) "The name cannot be empty."
        { s with Name = Some name }

    let outcomes (results: LawResult list) : IReadOnlyList<LawOutcome> =
        results |> List.map LawOutcome |> Array.ofList :> IReadOnlyList<LawOutcome>

/// <summary>One draw of a <see cref="T:Optim.Testing.HyperparameterSpace"/>: a value per key, read with the indexer.</summary>
[<Sealed>]
type Hyperparameters internal (values: (string * float) list) =
    let table = dict values

    /// <summary>The value drawn for a key.</summary>
    /// <param name="key">The key, as the space named it.</param>
    /// <exception cref="T:System.Collections.Generic.KeyNotFoundException">The space has no such key.</exception>
    member _.Item
        with get (key: string) : float =
            match table.TryGetValue key with
            | true, v -> v
            | _ ->
                let known = String.Join(", ", values |> List.map fst)
                raise (KeyNotFoundException $"The hyperparameter space has no key '{key}' (it has: {known}).")

    /// <summary>The value drawn for a flag (a key of <c>AddFlag</c>): whether it is not 0.</summary>
    /// <param name="key">The key.</param>
    /// <exception cref="T:System.Collections.Generic.KeyNotFoundException">The space has no such key.</exception>
    member this.Flag(key: string) : bool = this.[key] <> 0.0

    /// <summary>The keys, in the order the space added them.</summary>
    member _.Keys : IReadOnlyList<string> = values |> List.map fst |> Array.ofList :> IReadOnlyList<string>

    /// <summary>The draw as the counterexamples print it, e.g. <c>lr = 0.1, nesterov = 1</c>.</summary>
    override _.ToString() = String.Join(", ", values |> List.map (fun (k, v) -> $"{k} = {Compare.num v}"))

/// <summary>
/// The hyperparameters the laws draw for C#: each key with the values to choose from, and conditions a draw must meet
/// (<c>Where</c>). Give it to <see cref="M:Optim.Testing.OptimizerLaws.For(Optim.Testing.HyperparameterSpace,System.Func{System.Collections.Generic.IReadOnlyList{Optim.CSharp.Parameter},Optim.Testing.Hyperparameters,Optim.CSharp.Optimizer})"/>.
/// Immutable: each method returns a new space.
/// </summary>
/// <example>
/// <code>
/// var space = new HyperparameterSpace()
///     .Add("lr", 0.01, 0.1).Add("momentum", 0, 0.9).AddFlag("nesterov")
///     .Where(h => !h.Flag("nesterov") || h["momentum"] > 0);
/// </code>
/// </example>
[<Sealed>]
type HyperparameterSpace private (keys: (string * float list) list, conditions: Func<Hyperparameters, bool> list) =

    /// <summary>An empty space: one draw, with no keys.</summary>
    new() = HyperparameterSpace([], [])

    /// <summary>The space with a key whose value is drawn from <paramref name="values"/>.</summary>
    /// <param name="key">The key.</param>
    /// <param name="values">The values to choose from, at least one.</param>
    /// <exception cref="T:System.ArgumentException">The key is empty or already added, or there are no values.</exception>
    member _.Add(key: string, [<ParamArray>] values: float[]) : HyperparameterSpace =
        if String.IsNullOrWhiteSpace key then invalidArg (nameof key) "A hyperparameter needs a key."
        if keys |> List.exists (fun (k, _) -> k = key) then invalidArg (nameof key) $"The key '{key}' is already in the space."
        if isNull values || values.Length = 0 then invalidArg (nameof values) $"The key '{key}' needs at least one value to choose from."
        HyperparameterSpace(keys @ [ key, List.ofArray values ], conditions)

    /// <summary>The space with a flag, drawn as 0 or 1 (read it with <c>Flag</c>).</summary>
    /// <param name="key">The key.</param>
    /// <exception cref="T:System.ArgumentException">The key is empty or already added.</exception>
    member this.AddFlag(key: string) : HyperparameterSpace = this.Add(key, 0.0, 1.0)

    /// <summary>The space whose draws also meet <paramref name="condition"/> (the others are drawn again).</summary>
    /// <param name="condition">Whether a draw is valid.</param>
    /// <exception cref="T:System.ArgumentNullException"><paramref name="condition"/> is null.</exception>
    member _.Where(condition: Func<Hyperparameters, bool>) : HyperparameterSpace =
        if isNull condition then nullArg (nameof condition)
        HyperparameterSpace(keys, conditions @ [ condition ])

    /// The generator of draws.
    member internal _.Gen : FsCheck.Gen<Hyperparameters> =
        keys
        |> List.map (fun (k, vs) -> Gen.elements vs |> Gen.map (fun v -> k, v))
        |> Gen.sequenceToList
        |> Gen.map Hyperparameters
        |> Gen.filter (fun h -> conditions |> List.forall (fun c -> c.Invoke h))

/// <summary>
/// The laws every facade optimizer obeys, for C#: a fluent builder over a factory of the optimizer under test (a built-in
/// class, a <c>ComposedOptimizer</c>, a subclass of <c>Optimizer</c> of your own), usable from any test framework.
/// <c>CheckAll()</c> throws a <see cref="T:Optim.Testing.LawFailedException"/> whose message holds the failed law and its
/// shrunk counterexample; <c>Results()</c> returns each law's outcome.
/// </summary>
/// <example>
/// <code>
/// OptimizerLaws.For(ps => new MyAdam(ps, lr: 0.01))
///     .WithGroups(groups => new MyAdam(groups, lr: 0.01))
///     .Maximize()
///     .SameAs(ps => new Adam(ps, lr: 0.01))
///     .CheckAll();
/// </code>
/// </example>
[<Sealed>]
type OptimizerLaws private (space: HyperparameterSpace, make: Func<IReadOnlyList<Parameter>, Hyperparameters, Optimizer>,
                            groups: Func<IReadOnlyList<ParamGroup>, Hyperparameters, Optimizer>, maximizeKey: string,
                            reference: Func<IReadOnlyList<Parameter>, Hyperparameters, Optimizer>, settings: FluentSettings) =

    let name () =
        match settings.Name with
        | Some n -> n
        | None ->
            try (make.Invoke([| Parameter([| 0.0f |]) |], Gen.sample 1 space.Gen |> Array.head)).GetType().Name
            with _ -> "the optimizer"

    let copy (groups', key', reference', settings') = OptimizerLaws(space, make, groups', key', reference', settings')

    static let ignoring (f: Func<'a, Optimizer>) = Func<'a, Hyperparameters, Optimizer>(fun a _ -> f.Invoke a)

    let subject () : FacadeSubject<Hyperparameters> =
        { Name = name ()
          Options = space.Gen
          Make = (fun h ps -> make.Invoke(ps, h))
          MakeGroups = (if isNull groups then None else Some(fun h gs -> groups.Invoke(gs, h)))
          MaximizeKey = (if isNull maximizeKey then None else Some maximizeKey)
          Reference = (if isNull reference then None else Some(fun h ps -> reference.Invoke(ps, h))) }

    /// <summary>The laws of the optimizers <paramref name="make"/> builds over parameters (one param group).</summary>
    /// <param name="make">Builds the optimizer under test over the parameters it is given, with fixed hyperparameters.</param>
    /// <exception cref="T:System.ArgumentNullException"><paramref name="make"/> is null.</exception>
    static member For(make: Func<IReadOnlyList<Parameter>, Optimizer>) : OptimizerLaws =
        if isNull make then nullArg (nameof make)
        OptimizerLaws(HyperparameterSpace(), ignoring make, null, null, null, FluentSettings.defaults)

    /// <summary>The laws of the optimizers <paramref name="make"/> builds over parameters with hyperparameters drawn from
    /// <paramref name="space"/>, a draw per case (printed with a counterexample). The factories given to
    /// <c>WithGroups</c> and <c>SameAs</c> may take the draw too.</summary>
    /// <param name="space">The hyperparameters to draw.</param>
    /// <param name="make">Builds the optimizer under test over parameters, with a draw.</param>
    /// <exception cref="T:System.ArgumentNullException">An argument is null.</exception>
    static member For(space: HyperparameterSpace, make: Func<IReadOnlyList<Parameter>, Hyperparameters, Optimizer>) : OptimizerLaws =
        if isNull (box space) then nullArg (nameof space)
        if isNull make then nullArg (nameof make)
        OptimizerLaws(space, make, null, null, null, FluentSettings.defaults)

    /// <summary>Adds the param-group law: the optimizer over two groups (the second with half the first's learning rate)
    /// equals separate optimizers over each. <paramref name="make"/> builds it over param groups, with the same defaults.</summary>
    /// <param name="make">Builds the optimizer under test over param groups.</param>
    /// <exception cref="T:System.ArgumentNullException"><paramref name="make"/> is null.</exception>
    member _.WithGroups(make: Func<IReadOnlyList<ParamGroup>, Optimizer>) : OptimizerLaws =
        if isNull make then nullArg (nameof make)
        copy (ignoring make, maximizeKey, reference, settings)

    /// <summary>Adds the param-group law, with a factory over param groups that takes the drawn hyperparameters.</summary>
    /// <param name="make">Builds the optimizer under test over param groups, with a draw.</param>
    /// <exception cref="T:System.ArgumentNullException"><paramref name="make"/> is null.</exception>
    member _.WithGroups(make: Func<IReadOnlyList<ParamGroup>, Hyperparameters, Optimizer>) : OptimizerLaws =
        if isNull make then nullArg (nameof make)
        copy (make, maximizeKey, reference, settings)

    /// <summary>Adds the maximize law, for an optimizer with a maximize key: with the key at 1, <c>g</c> gives what it
    /// gives at 0 fed <c>−g</c>.</summary>
    /// <param name="key">The group key (PyTorch's <c>"maximize"</c> by default).</param>
    /// <exception cref="T:System.ArgumentException"><paramref name="key"/> is empty.</exception>
    member _.Maximize([<Optional; DefaultParameterValue("maximize")>] key: string) : OptimizerLaws =
        if String.IsNullOrWhiteSpace key then invalidArg (nameof key) "The maximize key cannot be empty."
        copy (groups, key, reference, settings)

    /// <summary>Adds the reference law: the optimizer under test gives the parameters and state of
    /// <paramref name="reference"/> (a built-in it claims to be) over the same parameters and gradients, within the
    /// tolerance (SPEC's by default).</summary>
    /// <param name="reference">Builds the reference over parameters, with the same hyperparameters.</param>
    /// <exception cref="T:System.ArgumentNullException"><paramref name="reference"/> is null.</exception>
    member _.SameAs(reference: Func<IReadOnlyList<Parameter>, Optimizer>) : OptimizerLaws =
        if isNull reference then nullArg (nameof reference)
        copy (groups, maximizeKey, ignoring reference, settings)

    /// <summary>Adds the reference law, with a reference that takes the drawn hyperparameters.</summary>
    /// <param name="reference">Builds the reference over parameters, with a draw.</param>
    /// <exception cref="T:System.ArgumentNullException"><paramref name="reference"/> is null.</exception>
    member _.SameAs(reference: Func<IReadOnlyList<Parameter>, Hyperparameters, Optimizer>) : OptimizerLaws =
        if isNull reference then nullArg (nameof reference)
        copy (groups, maximizeKey, reference, settings)

    /// <summary>One tolerance for every law, <c>|actual − expected| ≤ atol + rtol·|expected|</c>, instead of each law's own
    /// (bit for bit where the law is exact, SPEC's for the reference law).</summary>
    /// <param name="atol">The absolute part, 0 or more.</param>
    /// <param name="rtol">The relative part, 0 or more.</param>
    /// <exception cref="T:System.ArgumentOutOfRangeException">A part is negative or not finite.</exception>
    member _.Tolerance(atol: float, rtol: float) : OptimizerLaws =
        copy (groups, maximizeKey, reference, { settings with Tolerance = Some(Tolerance.create atol rtol) })

    /// <summary>Runs with this seed: a failure prints the seed it ran with, and this replays it.</summary>
    /// <param name="seed">The seed.</param>
    member _.Seed(seed: uint64) : OptimizerLaws = copy (groups, maximizeKey, reference, { settings with Seed = Some seed })

    /// <summary>How many generated cases each law tries (100 by default).</summary>
    /// <param name="maxTests">1 or more.</param>
    /// <exception cref="T:System.ArgumentOutOfRangeException"><paramref name="maxTests"/> is less than 1.</exception>
    member _.MaxTests(maxTests: int) : OptimizerLaws = copy (groups, maximizeKey, reference, FluentSettings.maxTests maxTests settings)

    /// <summary>The name the messages give the optimizer (by default its class's).</summary>
    /// <param name="name">The name.</param>
    /// <exception cref="T:System.ArgumentException"><paramref name="name"/> is empty.</exception>
    member _.Named(name: string) : OptimizerLaws = copy (groups, maximizeKey, reference, FluentSettings.name name settings)

    /// <summary>Runs every law that applies and returns each one's outcome: the reference law (with <c>SameAs</c>),
    /// accumulation, resume from JSON and from a checkpoint file, null gradients, maximize (with <c>Maximize</c>), finite in
    /// finite out, gradients untouched, param groups (with <c>WithGroups</c>).</summary>
    /// <returns>One outcome per law, in that order.</returns>
    member _.Results() : IReadOnlyList<LawOutcome> = FacadeLaws.all settings.Config (subject ()) |> FluentSettings.outcomes

    /// <summary>Runs every law that applies, and throws if any fails.</summary>
    /// <exception cref="T:Optim.Testing.LawFailedException">A law failed; the message holds each failed law's name, the
    /// divergence and the shrunk counterexample.</exception>
    member _.CheckAll() : unit = FacadeLaws.all settings.Config (subject ()) |> LawResult.allOrThrow

    /// <summary>Replays a trajectory PyTorch recorded (<c>record_trajectory.py</c>) through the optimizer, and returns
    /// the outcome. The factory over param groups (<c>WithGroups</c>) builds it when given, with PyTorch's keys set on the
    /// groups; else the factory over parameters does, and PyTorch's keys that its group holds are then set on it.</summary>
    /// <param name="path">The trajectory's JSON file.</param>
    /// <returns>Passed with the number of cases, or failed where it diverged.</returns>
    /// <exception cref="T:System.IO.FileNotFoundException">There is no such file.</exception>
    /// <exception cref="T:System.IO.InvalidDataException">The file is not a trajectory.</exception>
    member _.CheckTrajectory(path: string) : LawOutcome =
        let drawn = Gen.sample 1 space.Gen |> Array.head
        let build (gs: ParamGroup[]) : Optimizer =
            if not (isNull groups) then groups.Invoke(gs, drawn)
            elif gs.Length <> 1 then
                raise (InvalidOperationException $"The trajectory's case starts with {gs.Length} param groups; give a factory over param groups with WithGroups(...).")
            else
                let o = make.Invoke(gs.[0].Params, drawn)
                let target = o.ParamGroups.[0]
                for key in gs.[0].Keys do
                    if target.ContainsKey key then
                        let source = gs.[0]
                        try target.[key] <- source.[key]
                        with :? KeyNotFoundException ->
                            try target.SetPair(key, source.GetPair key)
                            with :? KeyNotFoundException -> target.SetText(key, source.GetText key)
                o
        LawOutcome(Trajectory.matchesTrajectory settings.Config build path)

    /// <summary>Replays a trajectory PyTorch recorded, as <c>CheckTrajectory</c>, and throws where it diverged.</summary>
    /// <param name="path">The trajectory's JSON file.</param>
    /// <exception cref="T:Optim.Testing.LawFailedException">The optimizer did not follow PyTorch's trajectory.</exception>
    /// <exception cref="T:System.IO.FileNotFoundException">There is no such file.</exception>
    member this.MatchesTrajectory(path: string) : unit =
        let outcome = this.CheckTrajectory path
        if not outcome.Passed then raise (LawFailedException(outcome.Law, outcome.Message))

    /// <summary>Writes the PyTorch recorder script, <c>record_trajectory.py</c>, to a file.</summary>
    /// <param name="path">The file to write.</param>
    static member WriteRecorder(path: string) : unit = Trajectory.writeRecorder path

/// <summary>
/// The laws of a learning-rate scheduler, for C#: its closed form equals its sequence (with <c>Schedule</c>), and a
/// scheduler resumed from its state dict (JSON, and a checkpoint file) continues as an uninterrupted one.
/// </summary>
/// <example>
/// <code>
/// SchedulerLaws.For(o => new StepLR(o, stepSize: 10, gamma: 0.5))
///     .Schedule((group, baseLr, epoch) => baseLr * Math.Pow(0.5, epoch / 10))
///     .CheckAll();
/// </code>
/// </example>
[<Sealed>]
type SchedulerLaws private (make: Func<Optimizer, LRScheduler>, schedule: Func<int, float, int, float>, settings: FluentSettings) =

    let name () =
        match settings.Name with
        | Some n -> n
        | None -> try (make.Invoke(SGD([ Parameter([| 0.0f |]) ], 0.1, momentum = 0.9))).GetType().Name with _ -> "the scheduler"

    let run () =
        let closed = if isNull schedule then None else Some(fun (i: int) (b: float) (t: int64) -> schedule.Invoke(i, b, int t))
        ScheduleLaws.all settings.Config (name ()) closed (fun o -> make.Invoke o)

    /// <summary>The laws of the schedulers <paramref name="make"/> builds over an optimizer.</summary>
    /// <param name="make">Builds the scheduler under test over the optimizer it is given.</param>
    /// <exception cref="T:System.ArgumentNullException"><paramref name="make"/> is null.</exception>
    static member For(make: Func<Optimizer, LRScheduler>) : SchedulerLaws =
        if isNull make then nullArg (nameof make)
        SchedulerLaws(make, null, FluentSettings.defaults)

    /// <summary>Adds the schedule law: after construction (epoch 0) and every step, group <c>i</c>'s learning rate is
    /// <c>schedule(i, baseLr, epoch)</c>, within SPEC's scheduler tolerance by default.</summary>
    /// <param name="schedule">The closed form: group index, base learning rate, epoch → learning rate.</param>
    /// <exception cref="T:System.ArgumentNullException"><paramref name="schedule"/> is null.</exception>
    member _.Schedule(schedule: Func<int, float, int, float>) : SchedulerLaws =
        if isNull schedule then nullArg (nameof schedule)
        SchedulerLaws(make, schedule, settings)

    /// <summary>One tolerance for every law instead of each law's own.</summary>
    /// <param name="atol">The absolute part, 0 or more.</param>
    /// <param name="rtol">The relative part, 0 or more.</param>
    /// <exception cref="T:System.ArgumentOutOfRangeException">A part is negative or not finite.</exception>
    member _.Tolerance(atol: float, rtol: float) : SchedulerLaws =
        SchedulerLaws(make, schedule, { settings with Tolerance = Some(Tolerance.create atol rtol) })

    /// <summary>Runs with this seed (a failure prints the seed it ran with).</summary>
    /// <param name="seed">The seed.</param>
    member _.Seed(seed: uint64) : SchedulerLaws = SchedulerLaws(make, schedule, { settings with Seed = Some seed })

    /// <summary>How many generated cases each law tries (100 by default).</summary>
    /// <param name="maxTests">1 or more.</param>
    /// <exception cref="T:System.ArgumentOutOfRangeException"><paramref name="maxTests"/> is less than 1.</exception>
    member _.MaxTests(maxTests: int) : SchedulerLaws = SchedulerLaws(make, schedule, FluentSettings.maxTests maxTests settings)

    /// <summary>The name the messages give the scheduler (by default its class's).</summary>
    /// <param name="name">The name.</param>
    /// <exception cref="T:System.ArgumentException"><paramref name="name"/> is empty.</exception>
    member _.Named(name: string) : SchedulerLaws = SchedulerLaws(make, schedule, FluentSettings.name name settings)

    /// <summary>Runs every law that applies and returns each one's outcome.</summary>
    /// <returns>One outcome per law.</returns>
    member _.Results() : IReadOnlyList<LawOutcome> = run () |> FluentSettings.outcomes

    /// <summary>Runs every law that applies, and throws if any fails.</summary>
    /// <exception cref="T:Optim.Testing.LawFailedException">A law failed; the message holds it and its shrunk counterexample.</exception>
    member _.CheckAll() : unit = run () |> LawResult.allOrThrow
