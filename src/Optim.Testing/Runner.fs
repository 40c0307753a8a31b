namespace Optim.Testing

open System
open FsCheck
open FsCheck.FSharp

/// Runs a law as an FsCheck property and turns FsCheck's result into a LawResult with the shrunk case described.
module internal Runner =

    /// Captures the result FsCheck reports, and prints nothing.
    type private Capture() =
        member val Result : TestResult option = None with get, set
        interface IRunner with
            member _.OnStartFixture _ = ()
            member _.OnArguments(_, _, _) = ()
            member _.OnShrink(_, _) = ()
            member r.OnFinished(_, result) = r.Result <- Some result

    /// Runs the check, turning an exception into a failure that names it.
    let private safely (check: 'c -> string option) (case: 'c) : string option =
        try check case
        with e ->
            let e = match e with :? Reflection.TargetInvocationException as t when not (isNull t.InnerException) -> t.InnerException | e -> e
            Some $"It threw {e.GetType().FullName}: {e.Message}"

    /// The seed a run uses: the config's, or a fresh one (printed on failure, so that it can be replayed).
    let private seedOf (config: LawConfig) = match config.Seed with Some s -> s | None -> uint64 (Random.Shared.NextInt64())

    /// Runs a law: `check` returns None where the case holds, else what went wrong. `describe` prints a case.
    let run (config: LawConfig) (law: string) (subject: string) (arb: Arbitrary<'c>) (check: 'c -> string option) (describe: 'c -> string) : LawResult =
        let config = LawConfig.validate config
        let seed = seedOf config
        let capture = Capture()
        let fsConfig =
            Config.Quick
                .WithMaxTest(config.MaxTests)
                .WithEndSize(config.Size)
                .WithReplay(Some { Rnd = Rnd(seed); Size = None })
                .WithRunner(capture)
                .WithQuietOnSuccess(true)
        let property = Prop.forAll arb (fun case -> (safely check case).IsNone)
        Check.One(fsConfig, property)
        let failure tests shrinks (case: 'c option) (outcome: string option) =
            let divergence =
                match case with
                | Some c ->
                    match safely check c with
                    | Some d -> d
                    | None -> "The case held when it was run again: the thing under test does not give the same result for the same input." + (outcome |> Option.map (fun o -> " " + o) |> Option.defaultValue "")
                | None -> defaultArg outcome "FsCheck gave up on the law."
            LawResult.Failed
                { Law = law; Subject = subject; Tests = tests; Shrinks = shrinks
                  Counterexample = (match case with Some c -> (try describe c with e -> $"(the case could not be printed: {e.Message})") | None -> "(none)")
                  Divergence = divergence; Seed = seed }
        match capture.Result with
        | Some(TestResult.Passed(data, _)) -> LawResult.Passed(law, subject, data.NumberOfTests)
        | Some(TestResult.Failed(data, _, shrunk, outcome, _, _, _)) ->
            let case = shrunk |> List.tryHead |> Option.map unbox<'c>
            let outcome = match outcome with Outcome.Failed e when not (isNull e) -> Some e.Message | _ -> None
            failure data.NumberOfTests data.NumberOfShrinks case outcome
        | Some(TestResult.Exhausted data) -> failure data.NumberOfTests 0 None (Some "FsCheck discarded too many cases.")
        | None -> failure 0 0 None (Some "FsCheck reported no result.")
