/// The tables the kit's own tests run through its laws: every built-in optimizer of the core (and composed entries), the
/// facade's classes over generated hyperparameters, and the schedulers with their closed forms.
module Optim.Testing.Tests.Kit

open System
open FsCheck.FSharp
open Optim
open Optim.CSharp
open Optim.Testing

/// A quick config for the kit's own runs: the suit runs on two cores.
let config (maxTests: int) = { LawConfig.defaults with MaxTests = maxTests }

let private pair (a: float) (b: float) = Nullable<struct (float * float)>(struct (a, b))

let private maybeMaximize mx = if mx then Blocks.maximize else Transform.identity

/// A core entry: a subject, and the built-in it is the composition of (for the composition law).
[<NoEquality; NoComparison>]
type CoreEntry = { Test: LawConfig -> Expecto.Test }

let private entry (builtIn: ('o -> Optim.Optimizer) option) (subject: Subject<'o>) =
    { Test = fun cfg -> LawTests.optimizer cfg builtIn subject }

/// The built-ins as their chains of blocks (what a user composes), each checked against the fused optimizer; Adafactor's
/// chain reduces over whole parameters, so its composition law runs within float32 rounding.
let builtIns : CoreEntry list =
    let composed (s: Subject<'o>) = { s with Build = s.Transform.Value >> Optimizer.ofTransform }
    [ entry (Some Fused.sgd) (composed Builtins.sgd)
      entry (Some Fused.adam) (composed Builtins.adam)
      entry (Some Fused.adamw) (composed Builtins.adamw)
      entry (Some Fused.adagrad) (composed Builtins.adagrad)
      entry (Some Fused.rmsprop) (composed Builtins.rmsprop)
      entry (Some Fused.adadelta) (composed Builtins.adadelta)
      entry (Some Fused.adamax) (composed Builtins.adamax)
      entry (Some Fused.nadam) (composed Builtins.nadam)
      entry (Some Fused.radam) (composed Builtins.radam)
      entry (Some Fused.asgd) (composed Builtins.asgd)
      entry (Some Fused.rprop) (composed Builtins.rprop)
      entry None Builtins.adafactor
      entry None Builtins.lion
      entry None Builtins.lamb
      entry (Some Fused.muon) (composed Builtins.muon)
      entry None Builtins.muonWithAdamW ]

/// Adafactor's chain against its fused kernel, within float32 rounding.
let adafactorComposition (cfg: LawConfig) =
    Laws.composition (LawConfig.withTolerance (Tolerance.create 1e-6 1e-5) cfg) Fused.adafactor
        { Builtins.adafactor with Build = Alias.adafactor >> Optimizer.ofTransform }

/// SGD written from blocks by hand, as docs/custom-optimizers.md composes: it must equal Fused.sgd bit for bit.
let handSgd : Subject<SgdOptions> =
    Subject.ofTransform "SGD composed by hand from blocks" Generators.sgdOptions (fun o ->
        Transform.chain
            [ maybeMaximize o.Maximize
              Blocks.addWeightDecay o.WeightDecay
              (if o.Momentum > 0.0 then Blocks.trace o.Momentum o.Dampening o.Nesterov else Transform.identity)
              Blocks.scaleByLearningRate o.Lr ])
    |> Subject.withMaximize (fun o m -> { o with Maximize = m })

/// Combinators inside chains, around optimizers and over parts of the parameters, as in the core's law table.
let composed : CoreEntry list =
    let chainOf name options build maximize tuned steps =
        let s = Subject.ofTransform name options build
        let s = match maximize with Some m -> Subject.withMaximize m s | None -> s
        entry None (match tuned with Some t -> Subject.withTuned t steps s | None -> s)
    [ chainOf "clipByGlobalNorm then AdamW's blocks"
          (gen { let! o = Generators.adamOptions in let! n = Gen.elements [ 0.0; 0.1; 1.0; 10.0 ] in return o, n })
          (fun ((o: AdamOptions), n) ->
              Transform.chain
                  [ maybeMaximize o.Maximize; Combinators.clipByGlobalNorm n; Blocks.scaleByAdam o.Beta1 o.Beta2 o.Eps o.Amsgrad
                    Blocks.scaleByLearningRate o.Lr; Blocks.decoupledWeightDecay o.Lr o.WeightDecay ])
          (Some(fun (o, n) m -> { o with Maximize = m }, n)) (Some({ AdamOptions.adamw with Lr = 0.05; WeightDecay = 0.0 }, 1.0)) 400
      chainOf "applyIfFinite around Adam"
          (gen { let! o = Generators.adamOptions in let! e = Gen.choose (0, 3) in return o, e })
          (fun ((o: AdamOptions), e) -> Combinators.applyIfFinite e (Alias.adam o))
          (Some(fun (o, e) m -> { o with Maximize = m }, e)) (Some({ AdamOptions.adam with Lr = 0.05 }, 2)) 400
      // an accumulator applies at its third call the gradients of the two before: every law but the null-gradient one
      // (and multiSteps, which does not nest: both would own "acc_grads")
      (let s =
          Subject.ofTransform "multiSteps 3 around SGD with momentum" Generators.sgdOptions
              (fun o -> Transform.chain [ maybeMaximize o.Maximize; Combinators.multiSteps 3 (Alias.sgd { o with Maximize = false }) ])
          |> Subject.withMaximize (fun o m -> { o with Maximize = m })
          |> Subject.withTuned { SgdOptions.create 0.1 with Momentum = 0.9 } 600
       { Test = fun cfg ->
           Expecto.Tests.testList s.Name
               [ LawTests.ofLaw "pure equals in place" (fun () -> Laws.pureEqualsInPlace cfg s)
                 LawTests.ofLaw "the pure step never mutates its inputs" (fun () -> Laws.pureStepIsPure cfg s)
                 LawTests.ofLaw "resumed from a JSON checkpoint equals uninterrupted" (fun () -> Laws.resume cfg s)
                 LawTests.ofLaw "maximize(g) equals minimize(-g)" (fun () -> Laws.maximize cfg s)
                 LawTests.ofLaw "finite in, finite out" (fun () -> Laws.finite cfg s)
                 LawTests.ofLaw "converges on a random convex quadratic" (fun () -> Laws.converges cfg s) ] })
      chainOf "masked Adam direction on even parameters, then the learning rate" Generators.adamOptions
          (fun o ->
              Transform.chain
                  [ maybeMaximize o.Maximize
                    Combinators.masked (fun i _ -> i % 2 = 0) (Transform.chain [ Blocks.addWeightDecay o.WeightDecay; Blocks.scaleByAdam o.Beta1 o.Beta2 o.Eps o.Amsgrad ])
                    Blocks.scaleByLearningRate o.Lr ])
          (Some(fun o m -> { o with Maximize = m })) None 0
      chainOf "partition: AdamW on even parameters, SGD on odd ones"
          (gen { let! a = Generators.adamOptions in let! b = Generators.sgdOptions in return a, b })
          (fun ((a: AdamOptions), (b: SgdOptions)) ->
              Combinators.partition (fun i _ -> if i % 2 = 0 then "adamw" else "sgd") [ "adamw", Alias.adamw a; "sgd", Alias.sgd b ])
          (Some(fun (a, b) m -> { a with Maximize = m }, { b with Maximize = m }))
          (Some({ AdamOptions.adamw with Lr = 0.05; WeightDecay = 0.0 }, { SgdOptions.create 0.1 with Momentum = 0.9 })) 400
      chainOf "lookahead around Adam"
          (gen { let! o = Generators.adamOptions in let! k = Gen.choose (1, 4) in let! a = Gen.elements [ 0.0; 0.5; 0.8; 1.0 ] in return o, k, a })
          (fun ((o: AdamOptions), k, a) -> Combinators.lookahead k a (Alias.adam o))
          (Some(fun (o, k, a) m -> { o with Maximize = m }, k, a)) (Some({ AdamOptions.adam with Lr = 0.05 }, 5, 0.5)) 400
      chainOf "schedule-free AdamW" Generators.scheduleFreeAdamWOptions ScheduleFree.adamw None
          (Some { ScheduleFreeAdamWOptions.defaults with Lr = 0.05 }) 400
      chainOf "schedule-free SGD" Generators.scheduleFreeSgdOptions ScheduleFree.sgd None
          (Some { ScheduleFreeSgdOptions.defaults with Lr = 0.2 }) 400
      chainOf "EMA of the parameters at the end of Adam's chain"
          (gen { let! o = Generators.adamOptions in let! d = Gen.elements [ 0.0; 0.5; 0.9; 0.999; 1.0 ] in return o, d })
          (fun ((o: AdamOptions), d) -> Transform.chain [ Alias.adam o; Combinators.ema d ])
          (Some(fun (o, d) m -> { o with Maximize = m }, d)) (Some({ AdamOptions.adam with Lr = 0.05 }, 0.9)) 400 ]

/// A facade class over generated hyperparameters, built over groups (and over parameters as one group), with its
/// maximize key.
let facadeOf (name: string) (options: FsCheck.Gen<'o>) (make: 'o -> ParamGroup[] -> CSharp.Optimizer) (maximize: bool) : FacadeSubject<'o> =
    let s = FacadeSubject.create name options (fun o ps -> make o [| ParamGroup ps |]) |> FacadeSubject.withGroups make
    if maximize then FacadeSubject.withMaximize "maximize" s else s

let sgdFacade =
    facadeOf "SGD" Generators.sgdOptions (fun o gs ->
        SGD(gs, lr = Nullable o.Lr, momentum = o.Momentum, dampening = o.Dampening, weightDecay = o.WeightDecay, nesterov = o.Nesterov, maximize = o.Maximize)) true
    |> FacadeSubject.withReference (fun o ps ->
        ComposedOptimizer(ps, Transformation.SGD(o.Lr, o.Momentum, o.Dampening, o.WeightDecay, o.Nesterov, o.Maximize)))

let adamFacade =
    facadeOf "Adam" Generators.adamOptions (fun o gs ->
        Adam(gs, lr = o.Lr, betas = pair o.Beta1 o.Beta2, eps = o.Eps, weightDecay = o.WeightDecay, amsgrad = o.Amsgrad, maximize = o.Maximize)) true
    |> FacadeSubject.withReference (fun o ps ->
        ComposedOptimizer(ps, Transformation.Adam(o.Lr, pair o.Beta1 o.Beta2, o.Eps, o.WeightDecay, o.Amsgrad, o.Maximize)))

let adamwFacade =
    facadeOf "AdamW" Generators.adamOptions (fun o gs ->
        AdamW(gs, lr = o.Lr, betas = pair o.Beta1 o.Beta2, eps = o.Eps, weightDecay = o.WeightDecay, amsgrad = o.Amsgrad, maximize = o.Maximize)) true
    |> FacadeSubject.withReference (fun o ps ->
        ComposedOptimizer(ps, Transformation.AdamW(o.Lr, pair o.Beta1 o.Beta2, o.Eps, o.WeightDecay, o.Amsgrad, o.Maximize)))

let facades : (LawConfig -> Expecto.Test) list =
    [ (fun c -> LawTests.facade c sgdFacade)
      (fun c -> LawTests.facade c adamFacade)
      (fun c -> LawTests.facade c adamwFacade)
      (fun c -> LawTests.facade c (facadeOf "Adagrad" Generators.adagradOptions (fun o gs ->
          Adagrad(gs, lr = o.Lr, lrDecay = o.LrDecay, weightDecay = o.WeightDecay, initialAccumulatorValue = o.InitialAccumulatorValue, eps = o.Eps, maximize = o.Maximize)) true))
      (fun c -> LawTests.facade c (facadeOf "RMSprop" Generators.rmspropOptions (fun o gs ->
          RMSprop(gs, lr = o.Lr, alpha = o.Alpha, eps = o.Eps, weightDecay = o.WeightDecay, momentum = o.Momentum, centered = o.Centered, maximize = o.Maximize)) true))
      (fun c -> LawTests.facade c (facadeOf "Adadelta" Generators.adadeltaOptions (fun o gs ->
          Adadelta(gs, lr = o.Lr, rho = o.Rho, eps = o.Eps, weightDecay = o.WeightDecay, maximize = o.Maximize)) true))
      (fun c -> LawTests.facade c (facadeOf "Adamax" Generators.adamaxOptions (fun o gs ->
          Adamax(gs, lr = o.Lr, betas = pair o.Beta1 o.Beta2, eps = o.Eps, weightDecay = o.WeightDecay, maximize = o.Maximize)) true))
      (fun c -> LawTests.facade c (facadeOf "NAdam" Generators.nadamOptions (fun o gs ->
          NAdam(gs, lr = o.Lr, betas = pair o.Beta1 o.Beta2, eps = o.Eps, weightDecay = o.WeightDecay, momentumDecay = o.MomentumDecay,
                decoupledWeightDecay = o.DecoupledWeightDecay, maximize = o.Maximize)) true))
      (fun c -> LawTests.facade c (facadeOf "RAdam" Generators.radamOptions (fun o gs ->
          RAdam(gs, lr = o.Lr, betas = pair o.Beta1 o.Beta2, eps = o.Eps, weightDecay = o.WeightDecay,
                decoupledWeightDecay = o.DecoupledWeightDecay, maximize = o.Maximize)) true))
      (fun c -> LawTests.facade c (facadeOf "ASGD" Generators.asgdOptions (fun o gs ->
          ASGD(gs, lr = o.Lr, lambd = o.Lambd, alpha = o.Alpha, t0 = o.T0, weightDecay = o.WeightDecay, maximize = o.Maximize)) true))
      (fun c -> LawTests.facade c (facadeOf "Rprop" Generators.rpropOptions (fun o gs ->
          Rprop(gs, lr = o.Lr, etas = pair o.EtaMinus o.EtaPlus, stepSizes = pair o.StepSizeMin o.StepSizeMax, maximize = o.Maximize)) true))
      (fun c -> LawTests.facade c (facadeOf "a LAMB ComposedOptimizer" (Gen.constant ()) (fun () gs ->
          ComposedOptimizer(gs, Transformation.Chain(Transformation.ScaleByAdam(pair 0.9 0.999, 1e-6), Transformation.AddWeightDecay 0.01,
                                                     Transformation.ScaleByTrustRatio(), Transformation.ScaleByLearningRate 0.05))) false)) ]

let private one (x: float) = PerGroup.op_Implicit x

/// The schedulers with their closed forms (None: resume laws only).
let schedulers : (string * (int -> float -> Schedule) option * (CSharp.Optimizer -> LRScheduler)) list =
    let oneCycle = { OneCycle.create 120L with PctStart = 0.3 }
    [ "StepLR(10, 0.5)", Some(fun _ b -> Schedule.step b 10L 0.5), (fun o -> StepLR(o, 10, 0.5))
      "MultiStepLR([5, 20, 40], 0.1)", Some(fun _ b -> Schedule.multiStep b [ 5L; 20L; 40L ] 0.1), (fun o -> MultiStepLR(o, [ 5; 20; 40 ], 0.1))
      "ExponentialLR(0.95)", Some(fun _ b -> Schedule.exponential b 0.95), (fun o -> ExponentialLR(o, 0.95))
      "CosineAnnealingLR(30, 0.001)", Some(fun _ b -> Schedule.cosineAnnealing b 30L 0.001), (fun o -> CosineAnnealingLR(o, 30, 0.001))
      "LinearLR(0.25, 1.0, 20)", Some(fun _ b -> Schedule.linear b 0.25 1.0 20L), (fun o -> LinearLR(o, 0.25, 1.0, 20))
      "ConstantLR(0.5, 10)", Some(fun _ b -> Schedule.constantFactor b 0.5 10L), (fun o -> ConstantLR(o, 0.5, 10))
      "PolynomialLR(40, 2.0)", Some(fun _ b -> Schedule.polynomial b 40L 2.0), (fun o -> PolynomialLR(o, 40, 2.0))
      "CosineAnnealingWarmRestarts(5, 2)", Some(fun _ b -> Schedule.cosineWarmRestarts b 5L 2L 0.0), (fun o -> CosineAnnealingWarmRestarts(o, 5, 2))
      "LambdaLR(0.95^epoch)", Some(fun _ b -> Schedule.lambda b (fun t -> 0.95 ** float t)), (fun o -> LambdaLR(o, Func<int, float>(fun e -> 0.95 ** float e)))
      "OneCycleLR(0.1, 120)", Some(fun _ _ -> Schedule.oneCycle oneCycle 0.1), (fun o -> OneCycleLR(o, one 0.1, Nullable 120))
      "CyclicLR(0.01, 0.1, 10)", Some(fun _ _ -> Schedule.cyclic (Cycle.create 10.0) 0.01 0.1), (fun o -> CyclicLR(o, one 0.01, one 0.1, 10))
      "ReduceLROnPlateau(patience 2)", None, (fun o -> ReduceLROnPlateau(o, patience = 2))
      "SequentialLR([LinearLR(0.5, 10), ExponentialLR(0.9)], [10])",
      Some(fun _ b -> Schedule.join [ Schedule.linear b 0.5 1.0 10L; Schedule.exponential b 0.9 ] [ 10L ]),
      (fun o -> SequentialLR(o, [| LinearLR(o, 0.5, totalIters = 10); ExponentialLR(o, 0.9) |], [| 10 |]))
      "ChainedScheduler([ConstantLR(0.5, 5), ExponentialLR(0.9)])",
      Some(fun _ b -> Schedule.product [ Schedule.constantFactor b 0.5 5L; Schedule.exponential 1.0 0.9 ]),
      (fun o -> ChainedScheduler([ ConstantLR(o, 0.5, 5) :> LRScheduler; ExponentialLR(o, 0.9) ])) ]
