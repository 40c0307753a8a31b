namespace Optim.Testing

open System

/// <summary>
/// How close two float values must be: <c>|actual - expected| ≤ Atol + Rtol·|expected|</c>. Equal values (infinities
/// included) and two NaNs always agree; <see cref="P:Optim.Testing.Tolerance.exact"/> (both 0) asks for the same bits'
/// value.
/// </summary>
[<Struct>]
type Tolerance =
    { /// <summary>The absolute part, 0 or more.</summary>
      Atol: float
      /// <summary>The part relative to the expected value, 0 or more.</summary>
      Rtol: float }

/// <summary>The tolerances the laws use.</summary>
[<RequireQualifiedAccess>]
module Tolerance =

    /// <summary>Equality: the laws that are exact by design (a composition against the kernel it compiles to, pure
    /// against in place, resumed against uninterrupted) use it unless a config says otherwise.</summary>
    let exact : Tolerance = { Atol = 0.0; Rtol = 0.0 }

    /// <summary>SPEC's parity tolerance for parameters: <c>1e-5 + 1e-4·|x|</c>, as after the same gradients in PyTorch.</summary>
    let parity : Tolerance = { Atol = 1e-5; Rtol = 1e-4 }

    /// <summary>SPEC's tolerance for learning rates from schedulers: <c>1e-9 + 1e-7·|lr|</c>.</summary>
    let schedule : Tolerance = { Atol = 1e-9; Rtol = 1e-7 }

    /// <summary>A tolerance, checked.</summary>
    /// <param name="atol">The absolute part, finite and 0 or more.</param>
    /// <param name="rtol">The relative part, finite and 0 or more.</param>
    /// <exception cref="T:System.ArgumentOutOfRangeException">A part is negative, NaN or infinite.</exception>
    let create (atol: float) (rtol: float) : Tolerance =
        if not (atol >= 0.0 && Double.IsFinite atol) then
            raise (ArgumentOutOfRangeException(nameof atol, atol, "The absolute tolerance must be a finite number, 0 or more."))
        if not (rtol >= 0.0 && Double.IsFinite rtol) then
            raise (ArgumentOutOfRangeException(nameof rtol, rtol, "The relative tolerance must be a finite number, 0 or more."))
        { Atol = atol; Rtol = rtol }

    /// <summary>Whether <paramref name="actual"/> is within the tolerance of <paramref name="expected"/>.</summary>
    /// <param name="t">The tolerance.</param>
    /// <param name="expected">The value the law expects.</param>
    /// <param name="actual">The value the thing under test gave.</param>
    let within (t: Tolerance) (expected: float) (actual: float) =
        expected = actual
        || (Double.IsNaN expected && Double.IsNaN actual)
        || abs (actual - expected) <= t.Atol + t.Rtol * abs expected

    /// <summary>The tolerance as the laws print it, e.g. <c>1e-05 + 0.0001·|x|</c>, or <c>exact</c>.</summary>
    /// <param name="t">The tolerance.</param>
    let format (t: Tolerance) =
        if t.Atol = 0.0 && t.Rtol = 0.0 then "exact (bit for bit)" else $"%g{t.Atol} + %g{t.Rtol}·|x|"

/// <summary>How a law is run: how many cases FsCheck tries, the seed (to replay a failure), the largest size, and the
/// tolerance.</summary>
type LawConfig =
    { /// <summary>How many generated cases each law tries, 1 or more (FsCheck's <c>MaxTest</c>).</summary>
      MaxTests: int
      /// <summary>The seed of the run; a failure prints the seed it ran with, and this replays it. None: a fresh one.</summary>
      Seed: uint64 option
      /// <summary>The largest size FsCheck passes to the generators (its <c>EndSize</c>), 1 or more. The kit's generators
      /// draw their counts and lengths from fixed ranges; the size reaches generators of your own built with
      /// <c>Gen.sized</c>.</summary>
      Size: int
      /// <summary>The tolerance of every law; None: each law's own (exact where the law is exact by design, else SPEC's).</summary>
      Tolerance: Tolerance option }

/// <summary>Building <see cref="T:Optim.Testing.LawConfig"/> values.</summary>
[<RequireQualifiedAccess>]
module LawConfig =

    /// <summary>100 cases, a fresh seed, size 100, each law's own tolerance.</summary>
    let defaults : LawConfig = { MaxTests = 100; Seed = None; Size = 100; Tolerance = None }

    /// <summary>Checks a config's values.</summary>
    /// <param name="config">The config.</param>
    /// <exception cref="T:System.ArgumentOutOfRangeException">MaxTests or Size is less than 1.</exception>
    let validate (config: LawConfig) : LawConfig =
        if config.MaxTests < 1 then
            raise (ArgumentOutOfRangeException("MaxTests", config.MaxTests, "A law needs at least one case: MaxTests must be 1 or more."))
        if config.Size < 1 then raise (ArgumentOutOfRangeException("Size", config.Size, "The size must be 1 or more."))
        config

    /// <summary>The config with another number of cases.</summary>
    /// <param name="maxTests">How many cases, 1 or more.</param>
    /// <param name="config">The config.</param>
    let withMaxTests (maxTests: int) (config: LawConfig) = validate { config with MaxTests = maxTests }

    /// <summary>The config that replays the run of a seed a failure printed.</summary>
    /// <param name="seed">The seed.</param>
    /// <param name="config">The config.</param>
    let withSeed (seed: uint64) (config: LawConfig) = { config with Seed = Some seed }

    /// <summary>The config with one tolerance for every law.</summary>
    /// <param name="tolerance">The tolerance.</param>
    /// <param name="config">The config.</param>
    let withTolerance (tolerance: Tolerance) (config: LawConfig) = { config with Tolerance = Some tolerance }

    /// <summary>The tolerance a law uses: the config's, else the law's own.</summary>
    /// <param name="own">The law's own tolerance.</param>
    /// <param name="config">The config.</param>
    let toleranceOr (own: Tolerance) (config: LawConfig) = defaultArg config.Tolerance own

/// <summary>A failed law: what failed, on which case (shrunk), and how to replay it.</summary>
type LawFailure =
    { /// <summary>The law's name, e.g. <c>"pure equals in place"</c>.</summary>
      Law: string
      /// <summary>The name of the thing under test.</summary>
      Subject: string
      /// <summary>How many cases ran, the failing one included.</summary>
      Tests: int
      /// <summary>How many times FsCheck shrank the failing case.</summary>
      Shrinks: int
      /// <summary>The shrunk case, printed: shapes, hyperparameters, initial values, gradients per step.</summary>
      Counterexample: string
      /// <summary>What went wrong on the shrunk case: the step where it diverged, the parameter and element, expected
      /// and actual values (or the exception it threw).</summary>
      Divergence: string
      /// <summary>The run's seed: <c>LawConfig.withSeed</c> replays it.</summary>
      Seed: uint64 }

    /// <summary>The failure as one readable message.</summary>
    member f.Message =
        let shrinks = if f.Shrinks = 1 then "1 shrink" else $"{f.Shrinks} shrinks"
        $"Law '{f.Law}' failed for {f.Subject} after {f.Tests} case(s) ({shrinks}); replay with seed {f.Seed}.{Environment.NewLine}"
        + $"{f.Divergence}{Environment.NewLine}Counterexample (shrunk):{Environment.NewLine}{f.Counterexample}"

/// <summary>The outcome of one law.</summary>
[<RequireQualifiedAccess>]
type LawResult =
    /// <summary>Every case held.</summary>
    | Passed of law: string * subject: string * tests: int
    /// <summary>A case failed; the failure holds it shrunk.</summary>
    | Failed of LawFailure

    /// <summary>The law's name.</summary>
    member r.Law = match r with Passed(law, _, _) -> law | Failed f -> f.Law

    /// <summary>A line for a passed law, the whole failure message for a failed one.</summary>
    member r.Message =
        match r with
        | Passed(law, subject, tests) -> $"Law '{law}' held for {subject} on {tests} case(s)."
        | Failed f -> f.Message

    /// <inheritdoc />
    override r.ToString() = r.Message

/// <summary>The exception a law that failed throws (<c>LawResult.orThrow</c>, C#'s <c>CheckAll()</c>): its message holds the
/// law's name and the shrunk counterexample.</summary>
type LawFailedException
    /// <summary>The failure of a law.</summary>
    /// <param name="law">The law's name.</param>
    /// <param name="message">The failure: the law, the divergence, the shrunk counterexample and the seed.</param>
    (law: string, message: string) =
    inherit Exception(message)

    /// <summary>The name of the law that failed (the first, when several did).</summary>
    member _.Law = law

/// <summary>Functions over <see cref="T:Optim.Testing.LawResult"/>.</summary>
[<RequireQualifiedAccess>]
module LawResult =

    /// <summary>Throws for a failed law; returns a passed one's number of cases.</summary>
    /// <param name="result">The result.</param>
    /// <exception cref="T:Optim.Testing.LawFailedException">The law failed.</exception>
    let orThrow (result: LawResult) : int =
        match result with
        | LawResult.Passed(_, _, tests) -> tests
        | LawResult.Failed f -> raise (LawFailedException(f.Law, f.Message))

    /// <summary>Throws if any law failed, with every failure in the message.</summary>
    /// <param name="results">The results.</param>
    /// <exception cref="T:Optim.Testing.LawFailedException">A law failed.</exception>
    let allOrThrow (results: LawResult seq) : unit =
        let failed = results |> Seq.choose (function LawResult.Failed f -> Some f | _ -> None) |> List.ofSeq
        match failed with
        | [] -> ()
        | first :: _ ->
            let text = String.Join(Environment.NewLine + Environment.NewLine, failed |> List.map (fun f -> f.Message))
            raise (LawFailedException(first.Law, text))
