/// Laws of the C# facade, checked from F# with FsCheck: accumulation, resumption through StateDict JSON,
/// and the facade equal to the pure core.
module Optim.Tests.FacadeLawTests

open FsCheck
open FsCheck.FSharp
open Expecto
open Optim
open Optim.CSharp
open Optim.Tests

let private makeSgd (o: SgdOptions) (ps: Parameter[]) : CSharp.Optimizer =
    SGD(ps, o.Lr, o.Momentum, o.Dampening, o.WeightDecay, o.Nesterov, o.Maximize)

let private makeAdam (o: AdamOptions) (ps: Parameter[]) : CSharp.Optimizer =
    Adam(ps, o.Lr, System.Nullable<struct (float * float)>(struct (o.Beta1, o.Beta2)), o.Eps, o.WeightDecay, o.Amsgrad, o.Maximize)

let private makeAdamW (o: AdamOptions) (ps: Parameter[]) : CSharp.Optimizer =
    AdamW(ps, o.Lr, System.Nullable<struct (float * float)>(struct (o.Beta1, o.Beta2)), o.Eps, o.WeightDecay, o.Amsgrad, o.Maximize)

let private makeAdafactor (o: AdafactorOptions) (ps: Parameter[]) : CSharp.Optimizer =
    let eps1 = match o.Eps1 with ValueSome e -> System.Nullable e | ValueNone -> System.Nullable()
    Adafactor(ps, o.Lr, o.Beta2Decay, System.Nullable<struct (System.Nullable<float> * float)>(struct (eps1, o.Eps2)), o.D, o.WeightDecay, o.Maximize)

let private makeMuon (o: MuonOptions) (ps: Parameter[]) : CSharp.Optimizer =
    let struct (a, b, c) = o.NsCoefficients
    let adjust = match o.AdjustLrFn with MuonLrAdjustment.MatchRmsAdamW -> "match_rms_adamw" | MuonLrAdjustment.Original -> null
    Muon(ps, o.Lr, o.WeightDecay, o.Momentum, o.Nesterov, System.Nullable<struct (float * float * float)>(struct (a, b, c)), o.Eps, o.NsSteps, adjust)

/// Per kind: the parameters it takes, and a generator of (facade factory, matching pure core optimizer).
let kinds : (string * Gen<Tensor[]> * Gen<(Parameter[] -> CSharp.Optimizer) * Optim.Optimizer>) list =
    [ "SGD", Gen.parameters, Gen.sgdOptions |> Gen.map (fun o -> makeSgd o, Reference.sgd o)
      "Adam", Gen.parameters, Gen.adamOptions |> Gen.map (fun o -> makeAdam o, Reference.adam o)
      "AdamW", Gen.parameters, Gen.adamOptions |> Gen.map (fun o -> makeAdamW o, Reference.adamw o)
      "Adafactor", Gen.parameters, Gen.adafactorOptions |> Gen.map (fun o -> makeAdafactor o, Fused.adafactor o)
      "Muon", Gen.matrices, Gen.muonOptions |> Gen.map (fun o -> makeMuon o, Fused.muon o) ]

/// The kinds' names: each law runs once per kind.
let private names = kinds |> List.map (fun (n, _, _) -> n)

let private kind name = kinds |> List.find (fun (n, _, _) -> n = name)

let private scenario name =
    gen {
        let _, parameters, makers = kind name
        let! make = makers
        let! ps = parameters
        let! grads = Gen.gradSeq true 4 ps
        return make, ps, grads
    } |> Arb.fromGen

let private parameters (ps: Tensor[]) = ps |> Array.map (fun t -> Parameter(Array.copy t.Data, t.Shape))

let private setGrads (ps: Parameter[]) (grads: float32[][]) =
    Array.iter2 (fun (p: Parameter) (g: float32[]) -> p.Grad <- (if isNull g then null else Array.copy g)) ps grads

let tests =
    testList "FacadeLawTests" [
        testList "the facade gives the same numbers as the pure core" [
            for name in names ->
                Gen.property name 100 (
                    Prop.forAll (scenario name) (fun ((make, core), ps, grads) ->
                        let fps = parameters ps
                        let opt = make fps
                        for g in grads do
                            setGrads fps g
                            opt.Step() |> ignore
                        let cps, _ = grads |> List.fold (fun (ps, s) g -> core.Step ps g s) (ps, core.Init ps)
                        Array.forall2 (fun (p: Parameter) (t: Tensor) -> p.Data = t.Data) fps cps))
        ]

        testList "k micro-batch gradients accumulated then one step equal one step on their sum" [
            for name in names ->
                Gen.property name 100 (
                    let arb =
                        gen {
                            let _, parameters, makers = kind name
                            let! make = makers
                            let! ps = parameters
                            let! k = Gen.choose (1, 5)
                            let! micro = Gen.gradSeq false k ps
                            return fst make, ps, micro
                        } |> Arb.fromGen
                    Prop.forAll arb (fun (make, ps, micro) ->
                        let a, b = parameters ps, parameters ps
                        let optA, optB = make a, make b
                        optA.ZeroGrad()
                        for g in micro do Array.iter2 (fun (p: Parameter) (x: float32[]) -> p.AccumulateGrad(System.ReadOnlySpan x)) a g
                        optA.Step() |> ignore
                        let sum = micro |> List.reduce (Array.map2 (Array.map2 (+)))
                        setGrads b sum
                        optB.Step() |> ignore
                        Array.forall2 (fun (x: Parameter) (y: Parameter) -> x.Data = y.Data) a b))
        ]

        testList "a facade optimizer resumed from StateDict JSON equals the uninterrupted one" [
            for name in names ->
                Gen.property name 100 (
                    Prop.forAll (scenario name) (fun ((make, _), ps, grads) ->
                        let a, b = parameters ps, parameters ps
                        let optA, optB = make a, make b
                        let k = List.length grads / 2
                        grads |> List.iteri (fun i g ->
                            if i < k then
                                setGrads a g
                                optA.Step() |> ignore
                                setGrads b g
                                optB.Step() |> ignore)
                        let resumed = make b
                        resumed.LoadStateDict(StateDict.FromJson(optB.StateDict().ToJson()))
                        grads |> List.iteri (fun i g ->
                            if i >= k then
                                setGrads a g
                                optA.Step() |> ignore
                                setGrads b g
                                resumed.Step() |> ignore)
                        Array.forall2 (fun (x: Parameter) (y: Parameter) -> x.Data = y.Data) a b
                        && optA.StateDict().ToJson() = resumed.StateDict().ToJson()))
        ]
    ]
