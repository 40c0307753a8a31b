/// LBFGS through the pure core: PyTorch 1.13's trajectories (tests/golden/lbfgs.json), the laws, and bad input.
module Optim.Tests.LbfgsTests

open System
open System.IO
open System.Text.Json
open FsCheck
open FsCheck.FSharp
open Xunit
open Optim
open Optim.Tests

/// The fixtures' objectives over the concatenation x of the parameters the objective uses, computed in float64
/// in the generator's order and rounded to float32, so the loss and gradient are bit for bit the generator's.
module Problems =

    let rosenbrock (x: float[]) =
        let n = x.Length
        let mutable f = 0.0
        let g = Array.zeroCreate<float> n
        for i in 0 .. n - 2 do
            let a = x.[i + 1] - x.[i] * x.[i]
            let b = 1.0 - x.[i]
            f <- f + (100.0 * a * a + b * b)
            g.[i] <- g.[i] + (-400.0 * x.[i] * a - 2.0 * b)
            g.[i + 1] <- g.[i + 1] + 200.0 * a
        f, g

    let wells (x: float[]) =
        let n = x.Length
        let mutable f = 0.0
        let g = Array.zeroCreate<float> n
        for i in 0 .. n - 1 do
            let x2 = x.[i] * x.[i]
            f <- f + (x2 * x2 - 4.0 * x2 + x.[i])
            g.[i] <- g.[i] + (4.0 * x2 * x.[i] - 8.0 * x.[i] + 1.0)
        for i in 0 .. n - 2 do
            f <- f + 0.5 * x.[i] * x.[i + 1]
            g.[i] <- g.[i] + 0.5 * x.[i + 1]
            g.[i + 1] <- g.[i + 1] + 0.5 * x.[i]
        f, g

    let quadratic (a: float[][]) (b: float[]) (x: float[]) =
        let n = x.Length
        let mutable f = 0.0
        let g = Array.zeroCreate<float> n
        for i in 0 .. n - 1 do
            let mutable ax = 0.0
            for j in 0 .. n - 1 do
                ax <- ax + a.[i].[j] * x.[j]
            g.[i] <- ax - b.[i]
            f <- f + x.[i] * (0.5 * ax - b.[i])
        f, g

    /// The evaluation function of an objective over the parameters not in `unused` (their gradient is null).
    let closure (objective: float[] -> float * float[]) (unused: Set<int>) : Tensor[] -> float32 * float32[][] =
        fun ps ->
            let used = ps |> Array.indexed |> Array.filter (fun (i, _) -> not (unused.Contains i))
            let x = used |> Array.collect (fun (_, p) -> p.Data |> Array.map float)
            let f, g = objective x
            let grads = Array.create ps.Length (null: float32[])
            let mutable offset = 0
            for i, p in used do
                grads.[i] <- Array.init p.Data.Length (fun k -> float32 g.[offset + k])
                offset <- offset + p.Data.Length
            float32 f, grads

/// lbfgs.json, read.
module Fixture =

    [<NoComparison; NoEquality>]
    type Event =
        | Set of key: string * value: JsonElement
        | Roundtrip

    [<NoComparison; NoEquality>]
    type Step = { Before: Event list; Loss: float32; Evals: int; FuncEvals: int64; NIter: int64; Params: float32[][] }

    [<NoComparison; NoEquality>]
    type Case =
        { Name: string
          Objective: float[] -> float * float[]
          Unused: Set<int>
          Group: JsonElement
          Params: Tensor[]
          Steps: Step[]
          FinalState: JsonElement }

    let private floats (e: JsonElement) = [| for x in e.EnumerateArray() -> x.GetSingle() |]

    let private case (e: JsonElement) =
        let problem = e.GetProperty "problem"
        let objective =
            match (problem.GetProperty "kind").GetString() with
            | "rosenbrock" -> Problems.rosenbrock
            | "wells" -> Problems.wells
            | _ ->
                let a = [| for row in (problem.GetProperty "a").EnumerateArray() -> [| for v in row.EnumerateArray() -> v.GetDouble() |] |]
                let b = [| for v in (problem.GetProperty "b").EnumerateArray() -> v.GetDouble() |]
                Problems.quadratic a b
        { Name = (e.GetProperty "name").GetString()
          Objective = objective
          Unused =
            match problem.TryGetProperty "grad_none" with
            | true, u -> set [ for i in u.EnumerateArray() -> i.GetInt32() ]
            | _ -> Set.empty
          Group = (e.GetProperty "groups").[0].Clone()
          Params =
            [| for p in (e.GetProperty "params").EnumerateArray() ->
                 Tensor.create [| for d in (p.GetProperty "shape").EnumerateArray() -> d.GetInt32() |] (floats (p.GetProperty "data")) |]
          Steps =
            [| for s in (e.GetProperty "steps").EnumerateArray() ->
                 { Before =
                     match s.TryGetProperty "before" with
                     | true, b ->
                         [ for ev in b.EnumerateArray() ->
                             match ev.TryGetProperty "set" with
                             | true, set -> Set((set.GetProperty "key").GetString(), (set.GetProperty "value").Clone())
                             | _ -> Roundtrip ]
                     | _ -> []
                   Loss = (s.GetProperty "loss").GetSingle()
                   Evals = (s.GetProperty "evals").GetInt32()
                   FuncEvals = (s.GetProperty "func_evals").GetInt64()
                   NIter = (s.GetProperty "n_iter").GetInt64()
                   Params = [| for p in (s.GetProperty "params").EnumerateArray() -> floats p |] } |]
          FinalState = (e.GetProperty "final_state").Clone() }

    let load (path: string) =
        use doc = JsonDocument.Parse(File.ReadAllText path)
        [| for c in (doc.RootElement.GetProperty "cases").EnumerateArray() -> case c |]

    let cases : Lazy<Case[]> = lazy (load (Path.Combine(AppContext.BaseDirectory, "golden", "lbfgs.json")))

    /// xunit's MemberData source: the case names.
    type Names =
        static member All : seq<obj[]> = cases.Force() |> Seq.map (fun c -> [| box c.Name |])

    /// The options a param group dict holds.
    let options (group: Map<string, JsonElement>) : LbfgsOptions =
        let num (k: string) = group.[k].GetDouble()
        { Lr = num "lr"
          MaxIter = int (num "max_iter")
          MaxEval = Some(int (num "max_eval"))
          ToleranceGrad = num "tolerance_grad"
          ToleranceChange = num "tolerance_change"
          HistorySize = int (num "history_size")
          LineSearch =
            match group.["line_search_fn"].ValueKind with
            | JsonValueKind.String when group.["line_search_fn"].GetString() = "strong_wolfe" -> LineSearch.StrongWolfe
            | JsonValueKind.Null -> LineSearch.None
            | _ -> failwith "unknown line_search_fn" }

    let group (c: Case) = c.Group.EnumerateObject() |> Seq.filter (fun p -> p.Name <> "params") |> Seq.map (fun p -> p.Name, p.Value) |> Map.ofSeq

let private within (what: string) (expected: float32[]) (actual: float32[]) =
    if not (Gen.close 1e-5 1e-4 actual expected) then
        let worst = Array.map2 (fun (a: float32) (e: float32) -> abs (a - e)) actual expected |> Array.max
        Assert.Fail $"{what} differs from PyTorch (max abs diff {worst}): expected %A{expected}, got %A{actual}"

/// A round trip of the state through the JSON of a checkpoint.
let private roundtrip (ps: Tensor[]) (options: LbfgsOptions) (s: LbfgsState) =
    let checkpoint =
        { Kind = LbfgsCheckpoint.Kind
          State = State.empty ps.Length
          Groups =
            [| { Hyper =
                   [| "lr", Number options.Lr; "max_iter", Number(float options.MaxIter)
                      "max_eval", Number(float (LbfgsOptions.maxEval options))
                      "tolerance_grad", Number options.ToleranceGrad; "tolerance_change", Number options.ToleranceChange
                      "history_size", Number(float options.HistorySize)
                      "line_search_fn", (match options.LineSearch with LineSearch.StrongWolfe -> Text "strong_wolfe" | LineSearch.None -> Absent) |]
                 Params = Array.init ps.Length id } |]
          Names = Array.create ps.Length null
          Shapes = ps |> Array.map (fun p -> p.Shape) }
    (LbfgsCheckpoint.ofJson (LbfgsCheckpoint.toJson { Checkpoint = checkpoint; Lbfgs = s })).Lbfgs

/// Replays a fixture case through Lbfgs.step; checks every step and the final state.
let replay (c: Fixture.Case) =
    let mutable ps = c.Params
    let mutable group = Fixture.group c
    let mutable state = LbfgsState.initial
    let mutable calls = 0
    let evaluate = Problems.closure c.Objective c.Unused
    let counted ps' =
        calls <- calls + 1
        evaluate ps'
    c.Steps |> Array.iteri (fun k step ->
        for e in step.Before do
            match e with
            | Fixture.Set(key, value) -> group <- group.Add(key, value)
            | Fixture.Roundtrip -> state <- roundtrip ps (Fixture.options group) state
        calls <- 0
        let ps', state', loss = Lbfgs.step (Fixture.options group) counted ps state
        let where = $"{c.Name}, step {k + 1}"
        within $"{where}: the loss" [| step.Loss |] [| loss |]
        Assert.True((step.Evals, step.FuncEvals, step.NIter) = (calls, state'.FuncEvals, state'.NIter),
                    $"{where}: PyTorch made {step.Evals} evaluations (func_evals {step.FuncEvals}, n_iter {step.NIter}); we made {calls} ({state'.FuncEvals}, {state'.NIter})")
        ps' |> Array.iteri (fun i p -> within $"{where}: parameter {i}" step.Params.[i] p.Data)
        ps <- ps'
        state <- state')
    let expected = c.FinalState.GetProperty "0"
    let m = state.Memory.Value
    let vector (key: string) = [| for x in (expected.GetProperty key).EnumerateArray() -> x.GetSingle() |]
    let vectors (key: string) = [| for v in (expected.GetProperty key).EnumerateArray() -> [| for x in v.EnumerateArray() -> x.GetSingle() |] |]
    within $"{c.Name}: d" (vector "d") m.D
    within $"{c.Name}: prev_flat_grad" (vector "prev_flat_grad") m.PrevFlatGrad
    within $"{c.Name}: ro" (vector "ro") m.Ro
    within $"{c.Name}: t, H_diag, prev_loss"
        [| (expected.GetProperty "t").GetSingle(); (expected.GetProperty "H_diag").GetSingle(); (expected.GetProperty "prev_loss").GetSingle() |]
        [| float32 m.T; m.HDiag; float32 m.PrevLoss |]
    let dirs, stps = vectors "old_dirs", vectors "old_stps"
    Assert.Equal(dirs.Length, m.OldDirs.Length)
    Array.iteri2 (fun i e a -> within $"{c.Name}: old_dirs[{i}]" e a) dirs m.OldDirs
    Array.iteri2 (fun i e a -> within $"{c.Name}: old_stps[{i}]" e a) stps m.OldStps

[<Theory; MemberData("All", MemberType = typeof<Fixture.Names>)>]
let ``LBFGS through the pure core follows PyTorch step by step`` (name: string) =
    replay (Fixture.cases.Force() |> Array.find (fun c -> c.Name = name))
