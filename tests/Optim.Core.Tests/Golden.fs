/// Reads the PyTorch golden trajectories in tests/golden (written by tests/golden/generate.py).
module Optim.Tests.Golden

open System.IO
open System.Text.Json

/// A parameter as the fixtures describe it.
type ParamDef = { Name: string; Shape: int[]; Data: float32[] }

/// Something that happens before a step's gradients are set.
[<NoComparison; NoEquality>]
type Event =
    | AddGroup of ParamDef[] * JsonElement
    | Set of group: int * key: string * value: JsonElement
    | Roundtrip

/// One step: events, the gradients (null: none, or sparse), the sparse gradients (null: none, or dense;
/// sparse_adam.json) and the parameters PyTorch produced.
[<NoComparison; NoEquality>]
type Step = { Before: Event list; Grads: float32[][]; Sparse: Optim.SparseGradient[]; Params: float32[][] }

/// One trajectory.
[<NoComparison; NoEquality>]
type Case =
    { Name: string
      Optimizer: string
      Defaults: JsonElement
      Params: ParamDef[]
      Groups: JsonElement[]
      Steps: Step[]
      FinalState: JsonElement }

let private floats (e: JsonElement) = [| for x in e.EnumerateArray() -> x.GetSingle() |]

let private paramDef (e: JsonElement) =
    { Name = (match e.TryGetProperty "name" with | true, n -> n.GetString() | _ -> null)
      Shape = [| for x in (e.GetProperty "shape").EnumerateArray() -> x.GetInt32() |]
      Data = floats (e.GetProperty "data") }

let private event (e: JsonElement) =
    match e.TryGetProperty "add_param_group", e.TryGetProperty "set" with
    | (true, a), _ -> AddGroup([| for p in (a.GetProperty "params").EnumerateArray() -> paramDef p |], (a.GetProperty "hyper").Clone())
    | _, (true, s) -> Set((s.GetProperty "group").GetInt32(), (s.GetProperty "key").GetString(), (s.GetProperty "value").Clone())
    | _ -> Roundtrip

let private case (e: JsonElement) =
    { Name = (e.GetProperty "name").GetString()
      Optimizer = (e.GetProperty "optimizer").GetString()
      Defaults = (e.GetProperty "defaults").Clone()
      Params = [| for p in (e.GetProperty "params").EnumerateArray() -> paramDef p |]
      Groups = [| for g in (e.GetProperty "groups").EnumerateArray() -> g.Clone() |]
      Steps =
        [| for s in (e.GetProperty "steps").EnumerateArray() ->
             { Before = (match s.TryGetProperty "before" with | true, b -> [ for x in b.EnumerateArray() -> event x ] | _ -> [])
               Grads = [| for g in (s.GetProperty "grads").EnumerateArray() -> if g.ValueKind = JsonValueKind.Array then floats g else null |]
               Sparse =
                 [| for g in (s.GetProperty "grads").EnumerateArray() ->
                      if g.ValueKind = JsonValueKind.Object then
                          { Optim.SparseGradient.Rows = [| for r in (g.GetProperty "rows").EnumerateArray() -> r.GetInt32() |]
                            Optim.SparseGradient.Values = floats (g.GetProperty "values") }
                      else Unchecked.defaultof<_> |]
               Params = [| for p in (s.GetProperty "params").EnumerateArray() -> floats p |] } |]
      FinalState = (e.GetProperty "final_state").Clone() }

/// A fixture file's path: in the directory OPTIM_GOLDEN_DIR names when it is set (a holdout set written by
/// tests/golden/holdout.py), else among the committed fixtures copied beside the tests.
let pathOf (file: string) =
    match System.Environment.GetEnvironmentVariable "OPTIM_GOLDEN_DIR" with
    | null | "" -> Path.Combine(System.AppContext.BaseDirectory, "golden", file + ".json")
    | dir -> Path.Combine(dir, file + ".json")

/// The cases of one fixture file (e.g. "sgd").
let load (file: string) : Case[] =
    let path = pathOf file
    use doc = JsonDocument.Parse(File.ReadAllText path)
    [| for c in (doc.RootElement.GetProperty "cases").EnumerateArray() -> case c |]

/// A hyperparameter looked up in a group dict, then in the case's defaults.
let hyper (case: Case) (group: JsonElement) (key: string) : JsonElement =
    match group.TryGetProperty key with
    | true, v -> v
    | _ -> case.Defaults.GetProperty key

/// The case names of a fixture file, one test each.
let caseNames (file: string) : string list = load file |> Seq.map (fun c -> c.Name) |> List.ofSeq
