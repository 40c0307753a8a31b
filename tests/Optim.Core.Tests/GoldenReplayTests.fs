/// Replays PyTorch 1.13's trajectories through the pure core, both as chains of blocks and as fused kernels.
module Optim.Tests.GoldenReplayTests

open System.Collections.Generic
open System.Text.Json
open Expecto
open Optim
open Optim.Tests.Golden

let private pick (fused: bool) (makeFused: 'o -> Optimizer) (makeChain: 'o -> GradientTransformation) (o: 'o) =
    if fused then makeFused o else Optimizer.ofTransform (makeChain o)

/// The core optimizer for a fixture's optimizer name and hyperparameters, fused or as its chain.
let optimizerFor (kind: string) (fused: bool) (get: string -> JsonElement) : Optimizer =
    let f (k: string) = (get k).GetDouble()
    let b (k: string) = (get k).GetBoolean()
    let pair (k: string) = let v = get k in v.[0].GetDouble(), v.[1].GetDouble()
    match kind with
    | "SGD" ->
        let o = { Lr = f "lr"; Momentum = f "momentum"; Dampening = f "dampening"; WeightDecay = f "weight_decay"; Nesterov = b "nesterov"; Maximize = b "maximize" }
        if fused then Reference.sgd o else Optimizer.ofTransform (Alias.sgd o)
    | "Adam" | "AdamW" ->
        let betas = get "betas"
        let o : AdamOptions =
            { Lr = f "lr"; Beta1 = betas.[0].GetDouble(); Beta2 = betas.[1].GetDouble(); Eps = f "eps"
              WeightDecay = f "weight_decay"; Amsgrad = b "amsgrad"; Maximize = b "maximize" }
        match kind, fused with
        | "Adam", true -> Reference.adam o
        | "Adam", false -> Optimizer.ofTransform (Alias.adam o)
        | _, true -> Reference.adamw o
        | _ -> Optimizer.ofTransform (Alias.adamw o)
    | "Adagrad" ->
        pick fused Reference.adagrad Alias.adagrad
            { Lr = f "lr"; LrDecay = f "lr_decay"; WeightDecay = f "weight_decay"
              InitialAccumulatorValue = f "initial_accumulator_value"; Eps = f "eps"; Maximize = b "maximize" }
    | "RMSprop" ->
        pick fused Reference.rmsprop Alias.rmsprop
            { Lr = f "lr"; Alpha = f "alpha"; Eps = f "eps"; WeightDecay = f "weight_decay"; Momentum = f "momentum"
              Centered = b "centered"; Maximize = b "maximize" }
    | "Adadelta" ->
        pick fused Reference.adadelta Alias.adadelta
            { Lr = f "lr"; Rho = f "rho"; Eps = f "eps"; WeightDecay = f "weight_decay"; Maximize = b "maximize" }
    | "Adamax" ->
        let b1, b2 = pair "betas"
        pick fused Reference.adamax Alias.adamax
            { Lr = f "lr"; Beta1 = b1; Beta2 = b2; Eps = f "eps"; WeightDecay = f "weight_decay"; Maximize = b "maximize" }
    | "NAdam" ->
        let b1, b2 = pair "betas"
        pick fused Reference.nadam Alias.nadam
            { Lr = f "lr"; Beta1 = b1; Beta2 = b2; Eps = f "eps"; WeightDecay = f "weight_decay"; MomentumDecay = f "momentum_decay"
              DecoupledWeightDecay = b "decoupled_weight_decay"; Maximize = b "maximize" }
    | "RAdam" ->
        let b1, b2 = pair "betas"
        pick fused Reference.radam Alias.radam
            { Lr = f "lr"; Beta1 = b1; Beta2 = b2; Eps = f "eps"; WeightDecay = f "weight_decay"
              DecoupledWeightDecay = b "decoupled_weight_decay"; Maximize = b "maximize" }
    | "ASGD" ->
        pick fused Reference.asgd Alias.asgd
            { Lr = f "lr"; Lambd = f "lambd"; Alpha = f "alpha"; T0 = f "t0"; WeightDecay = f "weight_decay"; Maximize = b "maximize" }
    | "Rprop" ->
        let etaMinus, etaPlus = pair "etas"
        let lo, hi = pair "step_sizes"
        pick fused Reference.rprop Alias.rprop
            { Lr = f "lr"; EtaMinus = etaMinus; EtaPlus = etaPlus; StepSizeMin = lo; StepSizeMax = hi; Maximize = b "maximize" }
    | "Adafactor" ->
        let eps = get "eps"
        pick fused Fused.adafactor Alias.adafactor
            { Lr = f "lr"; Beta2Decay = f "beta2_decay"
              Eps1 = (if eps.[0].ValueKind = JsonValueKind.Null then ValueNone else ValueSome(eps.[0].GetDouble()))
              Eps2 = eps.[1].GetDouble(); D = f "d"; WeightDecay = f "weight_decay"; Maximize = b "maximize" }
    | "Muon" ->
        let c = get "ns_coefficients"
        let adjust = get "adjust_lr_fn"
        pick fused Fused.muon Alias.muon
            { Lr = f "lr"; WeightDecay = f "weight_decay"; Momentum = f "momentum"; Nesterov = b "nesterov"
              NsCoefficients = struct (c.[0].GetDouble(), c.[1].GetDouble(), c.[2].GetDouble()); Eps = f "eps"
              NsSteps = (get "ns_steps").GetInt32()
              AdjustLrFn =
                match (if adjust.ValueKind = JsonValueKind.Null then "original" else adjust.GetString()) with
                | "original" -> MuonLrAdjustment.Original
                | "match_rms_adamw" -> MuonLrAdjustment.MatchRmsAdamW
                | other -> failwith $"Unknown adjust_lr_fn {other}" }
    | other -> failwith $"No core optimizer for fixture kind {other}"

[<NoComparison; NoEquality>]
type private Group = { Overrides: Dictionary<string, JsonElement>; Base: JsonElement; Indices: int[]; mutable State: State }

let private within (case: string) (step: int) (what: string) (expected: float32[]) (actual: float32[]) =
    if not (Gen.close 1e-5 1e-4 actual expected) then
        let worst = Array.map2 (fun (a: float32) (e: float32) -> abs (a - e)) actual expected |> Array.max
        Assert.Fail $"{case}: {what} differs from PyTorch after step {step} (max abs diff {worst})"

/// Replays a case; returns the final parameters and each parameter's (group state, local index).
let replay (case: Case) (fused: bool) =
    let ps = ResizeArray<Tensor>(case.Params |> Array.map (fun p -> Tensor.create p.Shape p.Data))
    let shapes = ResizeArray<int[]>(case.Params |> Array.map (fun p -> p.Shape))
    let groups = ResizeArray<Group>()
    let getter (g: Group) key = match g.Overrides.TryGetValue key with | true, v -> v | _ -> hyper case g.Base key
    let optimizer (g: Group) = optimizerFor case.Optimizer fused (getter g)
    let addGroup (json: JsonElement) (indices: int[]) =
        let g = { Overrides = Dictionary(); Base = json; Indices = indices; State = State.empty 0 }
        g.State <- (optimizer g).Init(indices |> Array.map (fun i -> ps.[i]))
        groups.Add g
    for gj in case.Groups do addGroup gj [| for i in gj.GetProperty("params").EnumerateArray() -> i.GetInt32() |]
    case.Steps |> Array.iteri (fun k step ->
        for e in step.Before do
            match e with
            | AddGroup (defs, hyperJson) ->
                let first = ps.Count
                for d in defs do
                    ps.Add(Tensor.create d.Shape d.Data)
                    shapes.Add d.Shape
                addGroup hyperJson (Array.init defs.Length (fun j -> first + j))
            | Set (gi, key, value) -> groups.[gi].Overrides.[key] <- value
            | Roundtrip ->
                for g in groups do
                    let gShapes = g.Indices |> Array.map (fun i -> shapes.[i])
                    let json =
                        Checkpoint.toJson { Kind = case.Optimizer; State = g.State; Groups = [||]; Names = Array.create g.Indices.Length null; Shapes = gShapes }
                    let template = (optimizer g).Init(g.Indices |> Array.map (fun i -> ps.[i]))
                    g.State <- Checkpoint.conform case.Optimizer template gShapes (Array.create g.Indices.Length null) [||] (Checkpoint.ofJson json)
        for g in groups do
            let local = g.Indices |> Array.map (fun i -> ps.[i])
            let grads = g.Indices |> Array.map (fun i -> step.Grads.[i])
            let newPs, s = (optimizer g).Step local grads g.State
            g.State <- s
            g.Indices |> Array.iteri (fun j i -> ps.[i] <- newPs.[j])
        for i in 0 .. ps.Count - 1 do within case.Name (k + 1) $"parameter {i}" step.Params.[i] ps.[i].Data)
    ps, groups |> Seq.collect (fun g -> g.Indices |> Seq.mapi (fun j i -> i, (g.State, j))) |> Map.ofSeq

let private checkFinalState (case: Case) (states: Map<int, State * int>) =
    for entry in case.FinalState.EnumerateObject() do
        let s, j = states.[int entry.Name]
        for field in entry.Value.EnumerateObject() do
            if field.Name = "step" then Assert.Equal(int64 (field.Value.GetDouble()), s.Steps.[j])
            else
                let expected = [| for x in field.Value.EnumerateArray() -> x.GetSingle() |]
                within case.Name case.Steps.Length $"state {entry.Name}.{field.Name}" expected (State.buffer field.Name s).[j]

let private run (file: string) (name: string) (fused: bool) =
    let case = load file |> Array.find (fun c -> c.Name = name)
    let _, states = replay case fused
    checkFinalState case states

/// One test per case of a fixture file, each replaying its case.
let private replays (law: string) (file: string) (fused: bool) =
    testList law [ for name in caseNames file -> testCase name (fun () -> run file name fused) ]

let tests =
    testList "GoldenReplayTests" [
        replays "fused SGD follows PyTorch's trajectory" "sgd" true
        replays "SGD as a chain of blocks follows PyTorch's trajectory" "sgd" false
        replays "fused Adam follows PyTorch's trajectory" "adam" true
        replays "Adam as a chain of blocks follows PyTorch's trajectory" "adam" false
        replays "fused AdamW follows PyTorch's trajectory" "adamw" true
        replays "AdamW as a chain of blocks follows PyTorch's trajectory" "adamw" false
        replays "the seeds' examples follow PyTorch" "seeds" true
        replays "fused Adagrad follows PyTorch's trajectory" "adagrad" true
        replays "Adagrad as a chain of blocks follows PyTorch's trajectory" "adagrad" false
        replays "fused RMSprop follows PyTorch's trajectory" "rmsprop" true
        replays "RMSprop as a chain of blocks follows PyTorch's trajectory" "rmsprop" false
        replays "fused Adadelta follows PyTorch's trajectory" "adadelta" true
        replays "Adadelta as a chain of blocks follows PyTorch's trajectory" "adadelta" false
        replays "fused Adamax follows PyTorch's trajectory" "adamax" true
        replays "Adamax as a chain of blocks follows PyTorch's trajectory" "adamax" false
        replays "fused NAdam follows PyTorch's trajectory" "nadam" true
        replays "NAdam as a chain of blocks follows PyTorch's trajectory" "nadam" false
        replays "fused RAdam follows PyTorch's trajectory" "radam" true
        replays "RAdam as a chain of blocks follows PyTorch's trajectory" "radam" false
        replays "fused ASGD follows PyTorch's trajectory" "asgd" true
        replays "ASGD as a chain of blocks follows PyTorch's trajectory" "asgd" false
        replays "fused Rprop follows PyTorch's trajectory" "rprop" true
        replays "Rprop as a chain of blocks follows PyTorch's trajectory" "rprop" false
        replays "fused Adafactor follows PyTorch 2.x's trajectory" "adafactor" true
        replays "Adafactor as a chain of blocks follows PyTorch 2.x's trajectory" "adafactor" false
        replays "fused Muon follows PyTorch 2.9's trajectory" "muon" true
        replays "Muon as a chain of blocks follows PyTorch 2.9's trajectory" "muon" false
    ]
