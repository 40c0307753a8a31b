/// Laws of the schedules and schedulers, checked with FsCheck over one table of generated schedulers: the pure
/// schedule equals the facade's sequence, a scheduler resumed from its StateDict equals an uninterrupted one, a
/// combinator with one child equals the child, param groups added later follow the documented rule, and
/// reduce-on-plateau in the core equals the facade's.
module Optim.Tests.ScheduleTests

open System
open FsCheck
open FsCheck.FSharp
open Expecto
open Optim
open Optim.CSharp
open Optim.Tests

/// How a group added after the scheduler was built is scheduled (see LRScheduler's remarks).
type Adoption =
    /// Its rate keeps the ratio to the first group's that it had when added (chainable multiplicative policies).
    | Proportional
    /// Its rate is the pure schedule of its base rate (closed-form policies).
    | ClosedForm
    /// The policy has an argument per group, so Step throws.
    | Refused
    /// Not covered by a law here (composites, cosine with a floor, plateau, SWALR).
    | Other

/// A scheduler under test: its facade factory and, where it has one, its pure schedule per group.
[<NoComparison; NoEquality>]
type Entry =
    { Desc: string
      Make: CSharp.Optimizer -> LRScheduler
      /// Per group index and base rate, the closed form of the rate.
      Pure: (int -> float -> Schedule) option
      /// Per group index, the closed form of the cycled momentum.
      Momentum: (int -> Schedule) option
      Adam: bool
      Steps: int
      /// The metric for each step (ReduceLROnPlateau), else empty.
      Metrics: float[]
      Adoption: Adoption }
    override e.ToString() = e.Desc

let private baseLrs = [| 0.1; 0.05 |]

let private optimizer (adam: bool) (lrs: float[]) : CSharp.Optimizer =
    let groups = lrs |> Array.map (fun lr -> ParamGroup([ Parameter(Array.zeroCreate 1) ], Lr = lr))
    if adam then Adam(groups, 0.001) else SGD(groups, 0.1, momentum = 0.9)

let private drive (e: Entry) (s: LRScheduler) (k: int) =
    match s with
    | :? ReduceLROnPlateau as p -> p.Step(e.Metrics.[k])
    | _ -> s.Step()

let private lrs (o: CSharp.Optimizer) = o.ParamGroups |> Seq.map (fun g -> g.Lr) |> Array.ofSeq

let private momenta (o: CSharp.Optimizer) =
    o.ParamGroups |> Seq.map (fun g -> if g.ContainsKey "betas" then (let struct (b1, _) = g.Betas in b1) else g.["momentum"]) |> Array.ofSeq

let private close (a: float) (b: float) = abs (a - b) <= 1e-9 + 1e-7 * abs b

let private one (x: float) = PerGroup.op_Implicit x
let private each (xs: float[]) = PerGroup.op_Implicit xs
let private opt (x: PerGroup) = Nullable x

let private named : (string * (int -> float)) list =
    [ "step20", (fun e -> 0.1 ** float (e / 20)); "exp95", (fun e -> 0.95 ** float e)
      "warmup10", (fun e -> min 1.0 (float (e + 1) / 10.0)); "halve_every10", (fun e -> if e % 10 = 0 then 0.5 else 1.0) ]

let private entry desc make closed adoption =
    { Desc = desc; Make = make; Pure = closed; Momentum = None; Adam = false; Steps = 60; Metrics = [||]; Adoption = adoption }

let private stepLR =
    gen {
        let! size = Gen.choose (1, 15)
        let! gamma = Gen.elements [ 0.1; 0.5; 0.9; 1.0 ]
        return entry $"StepLR({size}, {gamma})" (fun o -> StepLR(o, size, gamma)) (Some(fun _ b -> Schedule.step b (int64 size) gamma)) Proportional
    }

let private multiStepLR =
    gen {
        let! ms = Gen.listOf (Gen.choose (0, 60)) |> Gen.map (List.truncate 4)
        let! gamma = Gen.elements [ 0.1; 0.5; 0.9 ]
        return entry $"MultiStepLR(%A{ms}, {gamma})" (fun o -> MultiStepLR(o, ms, gamma))
                     (Some(fun _ b -> Schedule.multiStep b (List.map int64 ms) gamma)) Proportional
    }

let private constantLR =
    gen {
        let! factor = Gen.elements [ 0.1; 1.0 / 3.0; 0.5; 1.0 ]
        let! total = Gen.choose (1, 20)
        return entry $"ConstantLR({factor}, {total})" (fun o -> ConstantLR(o, factor, total))
                     (Some(fun _ b -> Schedule.constantFactor b factor (int64 total))) Proportional
    }

let private linearLR =
    gen {
        let! start = Gen.elements [ 0.1; 1.0 / 3.0; 0.5; 1.0 ]
        let! finish = Gen.elements [ 0.0; 0.5; 1.0 ]
        let! total = Gen.choose (1, 30)
        return entry $"LinearLR({start}, {finish}, {total})" (fun o -> LinearLR(o, start, finish, total))
                     (Some(fun _ b -> Schedule.linear b start finish (int64 total))) Proportional
    }

let private exponentialLR =
    gen {
        let! gamma = Gen.elements [ 0.8; 0.95; 1.0; 1.05 ]
        return entry $"ExponentialLR({gamma})" (fun o -> ExponentialLR(o, gamma)) (Some(fun _ b -> Schedule.exponential b gamma)) Proportional
    }

let private polynomialLR =
    gen {
        let! total = Gen.choose (1, 40)
        let! power = Gen.elements [ 0.5; 1.0; 2.0; 3.0 ]
        return entry $"PolynomialLR({total}, {power})" (fun o -> PolynomialLR(o, total, power))
                     (Some(fun _ b -> Schedule.polynomial b (int64 total) power)) Proportional
    }

let private cosineLR =
    gen {
        let! tMax = Gen.choose (1, 90)
        let! etaMin = Gen.elements [ 0.0; 0.001 ]
        // Past T_max the recursion adds a term of the base rate, so proportionality holds only before it.
        let adoption = if etaMin = 0.0 && tMax >= 60 then Proportional else Other
        return entry $"CosineAnnealingLR({tMax}, {etaMin})" (fun o -> CosineAnnealingLR(o, tMax, etaMin))
                     (Some(fun _ b -> Schedule.cosineAnnealing b (int64 tMax) etaMin)) adoption
    }

let private warmRestarts =
    gen {
        let! t0 = Gen.choose (1, 10)
        let! tMult = Gen.choose (1, 3)
        let! etaMin = Gen.elements [ 0.0; 0.001 ]
        return entry $"CosineAnnealingWarmRestarts({t0}, {tMult}, {etaMin})" (fun o -> CosineAnnealingWarmRestarts(o, t0, tMult, etaMin))
                     (Some(fun _ b -> Schedule.cosineWarmRestarts b (int64 t0) (int64 tMult) etaMin)) ClosedForm
    }

let private lambdas (multiplicative: bool) =
    gen {
        let! perGroup = Gen.elements [ true; false ]
        let! fs = Gen.listOfLength 2 (Gen.elements named) |> Gen.map Array.ofList
        let f i = snd fs.[if perGroup then i else 0]
        let funcs = fs |> Array.map (fun (_, g) -> Func<int, float>(g))
        let name = if multiplicative then "MultiplicativeLR" else "LambdaLR"
        let desc = $"{name}(%A{(if perGroup then Array.map fst fs else [| fst fs.[0] |])})"
        let make (o: CSharp.Optimizer) : LRScheduler =
            match multiplicative, perGroup with
            | false, true -> LambdaLR(o, funcs)
            | false, false -> LambdaLR(o, funcs.[0])
            | true, true -> MultiplicativeLR(o, funcs)
            | true, false -> MultiplicativeLR(o, funcs.[0])
        let closed i b = if multiplicative then Schedule.multiplicative b (fun t -> f i (int t)) else Schedule.lambda b (fun t -> f i (int t))
        let adoption = if perGroup then Refused elif multiplicative then Proportional else ClosedForm
        return entry desc make (Some closed) adoption
    }

let private cyclicLR =
    gen {
        let! perGroup = Gen.elements [ true; false ]
        let lows, highs = (if perGroup then [| 0.01; 0.005 |] else [| 0.01; 0.01 |]), (if perGroup then [| 0.1; 0.2 |] else [| 0.1; 0.1 |])
        let! up = Gen.choose (1, 15)
        let! down = Gen.choose (0, 15) |> Gen.optionOf
        let! adam = Gen.elements [ true; false ]
        let! cycleMomentum = Gen.elements [ true; false ]
        let! scale, mode, scaleFn, scaleMode =
            Gen.elements
                [ CycleScale.Triangular, "triangular", None, "cycle"
                  CycleScale.Triangular2, "triangular2", None, "cycle"
                  CycleScale.ExpRange 0.97, "exp_range", None, "cycle"
                  CycleScale.ByCycle(fun x -> 1.0 / x), "triangular", Some(fun (x: float) -> 1.0 / x), "cycle"
                  CycleScale.ByIteration(fun x -> 1.0 / (1.0 + 0.01 * x)), "triangular", Some(fun (x: float) -> 1.0 / (1.0 + 0.01 * x)), "iterations" ]
        let cycle = { StepSizeUp = float up; StepSizeDown = float (defaultArg down up); Scale = scale }
        let make (o: CSharp.Optimizer) : LRScheduler =
            CyclicLR(o, (if perGroup then each lows else one 0.01), (if perGroup then each highs else one 0.1), up,
                     Option.toNullable down, mode, 0.97, (scaleFn |> Option.map (fun f -> Func<float, float>(f)) |> Option.toObj),
                     scaleMode, cycleMomentum, opt (each [| 0.8; 0.85 |]), opt (one 0.9))
        return
            { entry $"CyclicLR({mode}/{scaleMode}, up {up}, down {down}, perGroup {perGroup}, adam {adam}, momentum {cycleMomentum})" make
                    (Some(fun i _ -> Schedule.cyclic cycle lows.[i] highs.[i]))
                    // baseMomentum is given per group, so with momentum cycling a later group cannot be scheduled
                    (if cycleMomentum || perGroup then Refused else ClosedForm) with
                Adam = adam
                Momentum = if cycleMomentum then Some(fun i -> Schedule.cyclicMomentum cycle [| 0.8; 0.85 |].[i] 0.9) else None }
    }

let private oneCycleLR =
    gen {
        let! total = Gen.choose (10, 80)
        let! pct = Gen.elements [ 0.1; 0.25; 0.3; 0.45 ]
        let! anneal = Gen.elements [ Anneal.Cos; Anneal.Linear ]
        let! three = Gen.elements [ true; false ]
        let! div = Gen.elements [ 10.0; 25.0 ]
        let! finalDiv = Gen.elements [ 100.0; 1e4 ]
        let! perGroup = Gen.elements [ true; false ]
        let! adam = Gen.elements [ true; false ]
        let shape = { TotalSteps = int64 total; PctStart = pct; Anneal = anneal; ThreePhase = three; DivFactor = div; FinalDivFactor = finalDiv }
        let ok = try OneCycle.validate shape |> ignore; true with :? ArgumentException -> false
        let peaks = if perGroup then [| 0.1; 0.05 |] else [| 0.1; 0.1 |]
        let strategy = if anneal = Anneal.Cos then "cos" else "linear"
        let make (o: CSharp.Optimizer) : LRScheduler =
            OneCycleLR(o, (if perGroup then each peaks else one 0.1), total, pctStart = pct, annealStrategy = strategy,
                       divFactor = div, finalDivFactor = finalDiv, threePhase = three)
        return
            if not ok then None
            else
                Some
                    { entry $"OneCycleLR({total}, {pct}, {strategy}, three {three}, {div}, {finalDiv}, perGroup {perGroup}, adam {adam})" make
                            (Some(fun i _ -> Schedule.oneCycle shape peaks.[i])) (if perGroup then Refused else ClosedForm) with
                        Adam = adam
                        Steps = total
                        Momentum = Some(fun _ -> Schedule.oneCycleMomentum shape 0.85 0.95) }
    }
    |> Gen.filter Option.isSome
    |> Gen.map Option.get

let private swalr =
    gen {
        let! swaLr = Gen.elements [ 0.01; 0.05 ]
        let! epochs = Gen.choose (0, 10)
        let! anneal = Gen.elements [ Anneal.Cos; Anneal.Linear ]
        let strategy = if anneal = Anneal.Cos then "cos" else "linear"
        return entry $"SWALR({swaLr}, {epochs}, {strategy})" (fun o -> SWALR(o, one swaLr, epochs, strategy))
                     (Some(fun _ b -> Schedule.swa b swaLr (int64 epochs) anneal)) Other
    }

let private sequentialLR =
    gen {
        let! warm = Gen.choose (1, 20)
        let! start = Gen.elements [ 0.1; 0.5 ]
        let! gamma = Gen.elements [ 0.9; 0.95 ]
        let make (o: CSharp.Optimizer) : LRScheduler =
            SequentialLR(o, [| LinearLR(o, start, totalIters = warm); ExponentialLR(o, gamma) |], [| warm |])
        let closed _ b = Schedule.join [ Schedule.linear b start 1.0 (int64 warm); Schedule.exponential b gamma ] [ int64 warm ]
        return entry $"SequentialLR([LinearLR({start}, {warm}), ExponentialLR({gamma})], [{warm}])" make (Some closed) Other
    }

let private chainedScheduler =
    gen {
        let! factor = Gen.elements [ 0.1; 0.5 ]
        let! total = Gen.choose (1, 10)
        let! gamma = Gen.elements [ 0.9; 0.95 ]
        let make (o: CSharp.Optimizer) : LRScheduler = ChainedScheduler([ ConstantLR(o, factor, total) :> LRScheduler; ExponentialLR(o, gamma) ])
        let closed _ b = Schedule.product [ Schedule.constantFactor b factor (int64 total); Schedule.exponential 1.0 gamma ]
        return entry $"ChainedScheduler([ConstantLR({factor}, {total}), ExponentialLR({gamma})])" make (Some closed) Other
    }

/// Plateau options covering both modes, both threshold modes, cooldown, floors and eps.
let private plateauOptions =
    gen {
        let! mode = Gen.elements [ PlateauMode.Min; PlateauMode.Max ]
        let! thresholdMode = Gen.elements [ ThresholdMode.Rel; ThresholdMode.Abs ]
        let! factor = Gen.elements [ 0.1; 0.5; 0.9 ]
        let! patience = Gen.choose (0, 4)
        let! threshold = Gen.elements [ 0.0; 1e-4; 0.01 ]
        let! cooldown = Gen.choose (0, 3)
        let! minLr = Gen.elements [ 0.0; 1e-3; 0.02 ]
        let! eps = Gen.elements [ 1e-8; 1e-3 ]
        return { Mode = mode; Factor = factor; Patience = patience; Threshold = threshold; ThresholdMode = thresholdMode
                 Cooldown = cooldown; MinLr = minLr; Eps = eps }
    }

/// A metric that wanders: improving, stalling (within and beyond the thresholds), worsening.
let private metrics n =
    Gen.elements [ -0.01; -1e-5; 0.0; 0.0; 1e-5; 0.02 ] |> Gen.arrayOfLength n
    |> Gen.map (fun deltas -> deltas |> Array.scan (+) 1.0 |> Array.tail)

let private plateauMake (o: PlateauOptions) (minLr: PerGroup) (opt: CSharp.Optimizer) : LRScheduler =
    ReduceLROnPlateau(opt, (if o.Mode = PlateauMode.Min then "min" else "max"), o.Factor, o.Patience, o.Threshold,
                      (if o.ThresholdMode = ThresholdMode.Rel then "rel" else "abs"), o.Cooldown, Nullable minLr, o.Eps)

let private reduceLROnPlateau =
    gen {
        let! o = plateauOptions
        let! ms = metrics 60
        let! perGroup = Gen.elements [ true; false ]
        let minLr = if perGroup then each [| o.MinLr; o.MinLr / 2.0 |] else one o.MinLr
        return { entry $"ReduceLROnPlateau(%A{o}, perGroup {perGroup})" (plateauMake o minLr) None Other with
                   Metrics = ms
                   Adoption = if perGroup then Refused else Other }
    }

let private table =
    [ stepLR; multiStepLR; constantLR; linearLR; exponentialLR; polynomialLR; cosineLR; warmRestarts; lambdas false
      lambdas true; cyclicLR; oneCycleLR; swalr; sequentialLR; chainedScheduler; reduceLROnPlateau ]

let private anyEntry = Gen.oneof table

/// Runs a scheduler over a fresh optimizer: the rates (and momenta) after construction and after each step.
let private run (e: Entry) (steps: int) =
    let o = optimizer e.Adam baseLrs
    let s = e.Make o
    let rows = ResizeArray [ lrs o, momenta o ]
    for k in 0 .. steps - 1 do
        drive e s k
        rows.Add((lrs o, momenta o))
    rows.ToArray()

/// Every argument of every schedule builder, out of range: it throws ArgumentOutOfRangeException naming it.
let private badCoreArguments : (string * (unit -> obj)) list =
    let cyc = Cycle.create 10.0
    let shape = OneCycle.create 100L
    [ "init", (fun () -> box (Schedule.step nan 10L 0.1))
      "stepSize", (fun () -> box (Schedule.step 0.1 0L 0.1))
      "gamma", (fun () -> box (Schedule.step 0.1 10L -0.5))
      "milestones", (fun () -> box (Schedule.multiStep 0.1 [ 5L; -1L ] 0.1))
      "gamma", (fun () -> box (Schedule.multiStep 0.1 [ 5L ] infinity))
      "gamma", (fun () -> box (Schedule.exponential 0.1 -1.0))
      "tMax", (fun () -> box (Schedule.cosineAnnealing 0.1 0L 0.0))
      "etaMin", (fun () -> box (Schedule.cosineAnnealing 0.1 10L nan))
      "t0", (fun () -> box (Schedule.cosineWarmRestarts 0.1 0L 1L 0.0))
      "tMult", (fun () -> box (Schedule.cosineWarmRestarts 0.1 10L 0L 0.0))
      "etaMin", (fun () -> box (Schedule.cosineWarmRestarts 0.1 10L 1L infinity))
      "startFactor", (fun () -> box (Schedule.linear 0.1 0.0 1.0 5L))
      "endFactor", (fun () -> box (Schedule.linear 0.1 0.5 1.5 5L))
      "totalIters", (fun () -> box (Schedule.linear 0.1 0.5 1.0 0L))
      "factor", (fun () -> box (Schedule.constantFactor 0.1 0.0 5L))
      "totalIters", (fun () -> box (Schedule.constantFactor 0.1 0.5 0L))
      "totalIters", (fun () -> box (Schedule.polynomial 0.1 0L 1.0))
      "power", (fun () -> box (Schedule.polynomial 0.1 5L -1.0))
      "init", (fun () -> box (Schedule.lambda infinity (fun _ -> 1.0)))
      "init", (fun () -> box (Schedule.multiplicative nan (fun _ -> 1.0)))
      "stepSizeUp", (fun () -> box (Schedule.cyclic { cyc with StepSizeUp = 0.0 } 0.01 0.1))
      "stepSizeDown", (fun () -> box (Schedule.cyclic { cyc with StepSizeDown = -1.0 } 0.01 0.1))
      "gamma", (fun () -> box (Schedule.cyclic { cyc with Scale = CycleScale.ExpRange -0.5 } 0.01 0.1))
      "baseLr", (fun () -> box (Schedule.cyclic cyc nan 0.1))
      "maxLr", (fun () -> box (Schedule.cyclic cyc 0.01 infinity))
      "baseMomentum", (fun () -> box (Schedule.cyclicMomentum cyc nan 0.9))
      "maxMomentum", (fun () -> box (Schedule.cyclicMomentum cyc 0.8 nan))
      "totalSteps", (fun () -> box (Schedule.oneCycle { shape with TotalSteps = 0L } 0.1))
      "pctStart", (fun () -> box (Schedule.oneCycle { shape with PctStart = 1.5 } 0.1))
      "pctStart", (fun () -> box (Schedule.oneCycle { shape with TotalSteps = 10L; PctStart = 0.1 } 0.1))
      "divFactor", (fun () -> box (Schedule.oneCycle { shape with DivFactor = 0.0 } 0.1))
      "finalDivFactor", (fun () -> box (Schedule.oneCycle { shape with FinalDivFactor = -1.0 } 0.1))
      "maxLr", (fun () -> box (Schedule.oneCycle shape nan))
      "baseMomentum", (fun () -> box (Schedule.oneCycleMomentum shape nan 0.95))
      "maxMomentum", (fun () -> box (Schedule.oneCycleMomentum shape 0.85 infinity))
      "swaLr", (fun () -> box (Schedule.swa 0.1 nan 10L Anneal.Cos))
      "annealEpochs", (fun () -> box (Schedule.swa 0.1 0.01 -1L Anneal.Cos))
      "startFactor", (fun () -> box (Schedule.linearWarmup 0.0 5L (Schedule.constant 0.1)))
      "warmupSteps", (fun () -> box (Schedule.linearWarmup 0.5 0L (Schedule.constant 0.1)))
      "factor", (fun () -> box (Plateau.init { Plateau.defaults with Factor = 1.0 } 0.1))
      "patience", (fun () -> box (Plateau.init { Plateau.defaults with Patience = -1 } 0.1))
      "threshold", (fun () -> box (Plateau.init { Plateau.defaults with Threshold = -1e-4 } 0.1))
      "cooldown", (fun () -> box (Plateau.init { Plateau.defaults with Cooldown = -1 } 0.1))
      "minLr", (fun () -> box (Plateau.init { Plateau.defaults with MinLr = -1.0 } 0.1))
      "eps", (fun () -> box (Plateau.init { Plateau.defaults with Eps = nan } 0.1)) ]

let tests =
    testList "ScheduleTests" [
        Gen.property "every closed-form scheduler's rates and momenta equal its pure schedule" 300 (
            let closedForm = anyEntry |> Gen.filter (fun e -> e.Pure.IsSome) |> Arb.fromGen
            Prop.forAll closedForm (fun e ->
                let rows = run e e.Steps
                let closed = e.Pure.Value
                rows |> Array.mapi (fun t (lr, m) ->
                    (lr |> Array.mapi (fun i x -> close x (closed i baseLrs.[i] (int64 t))) |> Array.forall id)
                    && (match e.Momentum with
                        | Some mom -> m |> Array.mapi (fun i x -> close x (mom i (int64 t))) |> Array.forall id
                        | None -> true))
                |> Array.forall id))

        Gen.property "a scheduler resumed from its StateDict JSON continues exactly as an uninterrupted one" 300 (
            let arb = gen { let! e = anyEntry
                            let! k = Gen.choose (0, e.Steps)
                            return e, k } |> Arb.fromGen
            Prop.forAll arb (fun (e, k) ->
                let whole = run e e.Steps
                let o = optimizer e.Adam baseLrs
                let s = e.Make o
                for j in 0 .. k - 1 do drive e s j
                let optimizerJson, schedulerJson = o.StateDict().ToJson(), s.StateDict().ToJson()
                let o2 = optimizer e.Adam baseLrs
                let s2 = e.Make o2
                o2.LoadStateDict(CSharp.StateDict.FromJson optimizerJson)
                s2.LoadStateDict(SchedulerStateDict.FromJson schedulerJson)
                let resumed =
                    [| for j in k .. e.Steps - 1 do
                         drive e s2 j
                         yield lrs o2, momenta o2 |]
                resumed = whole.[k + 1 ..] && s2.GetLastLr() = fst whole.[e.Steps]))

        Gen.property "SequentialLR and ChainedScheduler with one child equal that child" 200 (
            let single = anyEntry |> Gen.filter (fun e -> e.Metrics.Length = 0 && not (e.Desc.StartsWith "Sequential" || e.Desc.StartsWith "Chained"))
            Prop.forAll (Arb.fromGen single) (fun e ->
                let alone = run e e.Steps
                let wrapped (wrap: CSharp.Optimizer -> LRScheduler -> LRScheduler) =
                    let o = optimizer e.Adam baseLrs
                    let s = wrap o (e.Make o)
                    [| yield lrs o, momenta o
                       for _ in 1 .. e.Steps do
                           s.Step()
                           yield lrs o, momenta o |]
                wrapped (fun o s -> SequentialLR(o, [| s |], [||])) = alone
                && wrapped (fun _ s -> ChainedScheduler([ s ])) = alone))

        Gen.property "join and product with one schedule equal that schedule" 200 (
            let arb = gen { let! e = anyEntry |> Gen.filter (fun e -> e.Pure.IsSome)
                            let! t = Gen.choose (0, 200)
                            return e, int64 t } |> Arb.fromGen
            Prop.forAll arb (fun (e, t) ->
                let s = e.Pure.Value 0 0.1
                let v = s t
                let same (x: float) = x = v || (Double.IsNaN x && Double.IsNaN v)
                same (Schedule.join [ s ] [] t) && same (Schedule.product [ s ] t)))

        Gen.property "a param group added later is scheduled as the documented rule says" 300 (
            let arb = gen { let! e = anyEntry |> Gen.filter (fun e -> e.Adoption <> Other)
                            let! k = Gen.choose (0, e.Steps - 1)
                            let! lr = Gen.elements [ 0.02; 0.3 ]
                            return e, k, lr } |> Arb.fromGen
            Prop.forAll arb (fun (e, k, x) ->
                let o = optimizer e.Adam baseLrs
                let s = e.Make o
                for j in 0 .. k - 1 do drive e s j
                o.AddParamGroup(ParamGroup([ Parameter(Array.zeroCreate 1) ], Lr = x))
                let before, epoch = lrs o, s.LastEpoch
                match e.Adoption with
                | Refused ->
                    let threw = try drive e s k; false with :? InvalidOperationException -> true
                    threw && lrs o = before && s.LastEpoch = epoch
                | Proportional ->
                    let old0 = before.[0]
                    [ for j in k .. e.Steps - 1 do
                        drive e s j
                        let now = lrs o
                        yield old0 = 0.0 || close (now.[2] * old0) (x * now.[0]) ]
                    |> List.forall id
                | ClosedForm ->
                    [ for j in k .. e.Steps - 1 do
                        drive e s j
                        yield close (lrs o).[2] (e.Pure.Value 0 x (int64 (j + 1))) ]
                    |> List.forall id
                | Other -> true))

        Gen.property "ReduceLROnPlateau reduces a group added later from the next reduction on" 200 (
            let arb = gen { let! o = plateauOptions
                            let! ms = metrics 60
                            let! k = Gen.choose (0, 59)
                            return o, ms, k } |> Arb.fromGen
            Prop.forAll arb (fun (o, ms, k) ->
                let opt = optimizer false baseLrs
                let s = plateauMake o (one o.MinLr) opt :?> ReduceLROnPlateau
                let mutable state = Plateau.init o 0.0
                let mutable expected = 0.3
                let mutable ok = true
                for j in 0 .. 59 do
                    if j = k then opt.AddParamGroup(ParamGroup([ Parameter(Array.zeroCreate 1) ], Lr = 0.3))
                    s.Step ms.[j]
                    let cut, next = Plateau.observe o (state, ms.[j])
                    state <- next
                    if j >= k then
                        if cut then expected <- Plateau.reduce o.Factor o.MinLr o.Eps expected
                        ok <- ok && (lrs opt).[2] = expected
                ok))

        Gen.property "Plateau.step in the core equals the facade's ReduceLROnPlateau" 200 (
            let arb = gen { let! o = plateauOptions
                            let! ms = metrics 80
                            return o, ms } |> Arb.fromGen
            Prop.forAll arb (fun (o, ms) ->
                let opt = optimizer false [| 0.1 |]
                let s = plateauMake o (one o.MinLr) opt :?> ReduceLROnPlateau
                let closed = ms |> Array.scan (fun (_, st) m -> Plateau.step o (st, m)) (0.1, Plateau.init o 0.1) |> Array.tail |> Array.map fst
                let facade = ms |> Array.map (fun m -> s.Step m; (lrs opt).[0])
                closed = facade && s.LastEpoch = ms.Length))

        testList "a schedule built with an out-of-range argument throws naming the argument" [
            for index, (name, build) in List.indexed badCoreArguments ->
                testCase $"case {index}: {name}" <| fun () ->
                    let e = Assert.Throws<ArgumentOutOfRangeException>(fun () -> build () |> ignore)
                    Assert.Equal(name, e.ParamName)
        ]

        testCase "join checks that the milestones fit and increase" <| fun () ->
            let s = Schedule.constant 0.1
            Assert.Equal("milestones", (Assert.Throws<ArgumentException>(fun () -> Schedule.join [ s; s ] [] |> ignore)).ParamName)
            Assert.Equal("milestones", (Assert.Throws<ArgumentException>(fun () -> Schedule.join [ s; s; s ] [ 5L; 5L ] |> ignore)).ParamName)

        testCase "seed 002's plateau reduces at epochs 12, 33 and 54 through the pure transition" <| fun () ->
            let o = { Plateau.defaults with Patience = 10; Cooldown = 10; MinLr = 1e-4 }
            let lrs = Array.init 200 id |> Array.scan (fun (_, s) _ -> Plateau.step o (s, 0.5)) (0.1, Plateau.init o 0.1) |> Array.map fst
            let cuts = [ for t in 1 .. 200 do if lrs.[t] <> lrs.[t - 1] then yield t ]
            Assert.Equal<int list>([ 12; 33; 54 ], cuts)
    ]
