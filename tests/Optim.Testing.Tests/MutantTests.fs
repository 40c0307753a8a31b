/// The mutant catalogue run through the kit: every mutant must fail some law with a shrunk counterexample, and the
/// controls (the same code without the bug) must pass every law.
module Optim.Testing.Tests.MutantTests

open System
open Expecto
open Optim.Testing
open Optim.Testing.Tests

/// The catalogue's config: 50 cases a law, the seed fixed so that a run is repeatable.
let private config = { Kit.config 50 with Seed = Some 20261202UL }

/// Whether the kit caught a mutant: some law failed with a counterexample and a divergence.
let private caught (outcomes: (string * bool * string) list) =
    outcomes |> List.exists (fun (_, passed, detail) -> not passed && detail.Contains "parameters (" || (not passed && detail.Contains "epoch"))

/// HandSgd over a hyperparameter space, as a C# user draws its hyperparameters.
let private overSpace (bug: Mutants.SgdBug) =
    let space =
        HyperparameterSpace()
            .Add("momentum", 0.5, 0.9).Add("dampening", 0.0, 0.5).Add("weight_decay", 0.0, 0.01).AddFlag("nesterov")
            .Where(fun h -> not (h.Flag "nesterov") || h.["dampening"] = 0.0)
    let make (h: Hyperparameters) (groups: Optim.CSharp.ParamGroup seq) =
        Mutants.HandSgd(groups, 0.1, h.["momentum"], h.["dampening"], h.["weight_decay"], h.Flag "nesterov", bug) :> Optim.CSharp.Optimizer
    OptimizerLaws
        .For(space, fun ps h -> make h [ Optim.CSharp.ParamGroup ps ])
        .WithGroups(fun gs h -> make h gs)
        .SameAs(fun ps h -> Optim.CSharp.SGD(ps, 0.1, h.["momentum"], h.["dampening"], h.["weight_decay"], h.Flag "nesterov") :> Optim.CSharp.Optimizer)
        .Maximize()
        .MaxTests(50)
        .Seed(7UL)
        .Results()

let private spaces =
    testList "a hyperparameter space"
        [ testCase "drawn per case: the correct port passes every law" (fun () ->
              for o in overSpace Mutants.NoBug do
                  if not o.Passed then failtest o.Message)
          testCase "drawn per case: a bug that needs Nesterov is caught, and the draw is printed" (fun () ->
              let failed = overSpace Mutants.NesterovOldBuffer |> Seq.filter (fun o -> not o.Passed) |> List.ofSeq
              Expect.isNonEmpty failed "a law fails"
              Expect.stringContains failed.Head.Counterexample "nesterov = 1" "the counterexample shows the draw")
          testCase "bad keys and values are refused" (fun () ->
              let e = try HyperparameterSpace().Add("lr", [||]) |> ignore; null with :? ArgumentException as e -> e
              Expect.equal e.ParamName "values" "no values"
              let e = try HyperparameterSpace().Add("lr", 0.1).Add("lr", 0.2) |> ignore; null with :? ArgumentException as e -> e
              Expect.equal e.ParamName "key" "a key twice") ]

let private runs = lazy (Mutants.catalogue |> List.map (fun m -> m, m.Run config))

let tests =
    testList "the mutant catalogue"
        [ yield spaces
          for m in Mutants.catalogue do
              yield testCase $"{m.Name} ({m.Written}) is caught" (fun () ->
                  let outcomes = runs.Force() |> List.find (fun (x, _) -> obj.ReferenceEquals(x, m)) |> snd
                  if not (caught outcomes) then
                      failtest $"No law failed for '{m.Name}': %A{outcomes |> List.map (fun (law, passed, _) -> law, passed)}")
          for m in Mutants.controls do
              yield testCase $"{m.Name} ({m.Written}) passes every law" (fun () ->
                  for law, passed, detail in m.Run config do
                      if not passed then failtest $"'{law}' failed for {m.Name}:\n{detail}")
          yield testCase "the score: every mutant is caught" (fun () ->
              let all = runs.Force()
              let k = all |> List.filter (snd >> caught) |> List.length
              printfn "mutants caught: %d/%d" k all.Length
              for m, outcomes in all do
                  let failed = outcomes |> List.filter (fun (_, p, _) -> not p) |> List.map (fun (law, _, _) -> law) |> List.distinct
                  printfn "  %s: %s" m.Name (if failed.IsEmpty then "NOT CAUGHT" else String.Join("; ", failed))
              Expect.equal k all.Length "every mutant is caught"
              Expect.isGreaterThanOrEqual all.Length 20 "the catalogue holds at least 20 mutants") ]
