/// The F# options against their descriptors: the same defaults, and every bad value rejected by `validate`, naming the
/// argument and the value.
module Optim.Tests.DescriptorTests

open System
open Expecto
open Optim

type private Get = string -> int -> float

let private on (g: Get) key = g key 0 <> 0.0

/// Per descriptor: its options built from values by key, `validate` over them, and the options' defaults.
let private case (d: Descriptor) (build: Get -> 'o) (validate: 'o -> 'o) (defaults: 'o) =
    d, (fun g -> box (build g)), (fun g -> validate (build g) |> ignore), box defaults

let private cases =
    let adam (g: Get) : AdamOptions =
        { Lr = g "lr" 0; Beta1 = g "betas" 0; Beta2 = g "betas" 1; Eps = g "eps" 0; WeightDecay = g "weight_decay" 0
          Amsgrad = on g "amsgrad"; Maximize = on g "maximize" }
    [ case Descriptors.sgd
          (fun g -> { Lr = g "lr" 0; Momentum = g "momentum" 0; Dampening = g "dampening" 0; WeightDecay = g "weight_decay" 0
                      Nesterov = on g "nesterov"; Maximize = on g "maximize" } : SgdOptions)
          SgdOptions.validate (SgdOptions.create 0.0)
      case Descriptors.adam adam AdamOptions.validate AdamOptions.adam
      case Descriptors.adamw adam AdamOptions.validate AdamOptions.adamw
      case Descriptors.adagrad
          (fun g -> { Lr = g "lr" 0; LrDecay = g "lr_decay" 0; WeightDecay = g "weight_decay" 0
                      InitialAccumulatorValue = g "initial_accumulator_value" 0; Eps = g "eps" 0; Maximize = on g "maximize" } : AdagradOptions)
          AdagradOptions.validate AdagradOptions.defaults
      case Descriptors.rmsprop
          (fun g -> { Lr = g "lr" 0; Alpha = g "alpha" 0; Eps = g "eps" 0; WeightDecay = g "weight_decay" 0; Momentum = g "momentum" 0
                      Centered = on g "centered"; Maximize = on g "maximize" } : RmspropOptions)
          RmspropOptions.validate RmspropOptions.defaults
      case Descriptors.adadelta
          (fun g -> { Lr = g "lr" 0; Rho = g "rho" 0; Eps = g "eps" 0; WeightDecay = g "weight_decay" 0; Maximize = on g "maximize" } : AdadeltaOptions)
          AdadeltaOptions.validate AdadeltaOptions.defaults
      case Descriptors.adamax
          (fun g -> { Lr = g "lr" 0; Beta1 = g "betas" 0; Beta2 = g "betas" 1; Eps = g "eps" 0; WeightDecay = g "weight_decay" 0
                      Maximize = on g "maximize" } : AdamaxOptions)
          AdamaxOptions.validate AdamaxOptions.defaults
      case Descriptors.nadam
          (fun g -> { Lr = g "lr" 0; Beta1 = g "betas" 0; Beta2 = g "betas" 1; Eps = g "eps" 0; WeightDecay = g "weight_decay" 0
                      MomentumDecay = g "momentum_decay" 0; DecoupledWeightDecay = on g "decoupled_weight_decay"; Maximize = on g "maximize" } : NadamOptions)
          NadamOptions.validate NadamOptions.defaults
      case Descriptors.radam
          (fun g -> { Lr = g "lr" 0; Beta1 = g "betas" 0; Beta2 = g "betas" 1; Eps = g "eps" 0; WeightDecay = g "weight_decay" 0
                      DecoupledWeightDecay = on g "decoupled_weight_decay"; Maximize = on g "maximize" } : RadamOptions)
          RadamOptions.validate RadamOptions.defaults
      case Descriptors.asgd
          (fun g -> { Lr = g "lr" 0; Lambd = g "lambd" 0; Alpha = g "alpha" 0; T0 = g "t0" 0; WeightDecay = g "weight_decay" 0
                      Maximize = on g "maximize" } : AsgdOptions)
          AsgdOptions.validate AsgdOptions.defaults
      case Descriptors.rprop
          (fun g -> { Lr = g "lr" 0; EtaMinus = g "etas" 0; EtaPlus = g "etas" 1; StepSizeMin = g "step_sizes" 0
                      StepSizeMax = g "step_sizes" 1; Maximize = on g "maximize" } : RpropOptions)
          RpropOptions.validate RpropOptions.defaults
      case Descriptors.lion
          (fun g -> { Lr = g "lr" 0; Beta1 = g "betas" 0; Beta2 = g "betas" 1; WeightDecay = g "weight_decay" 0
                      Maximize = on g "maximize" } : LionOptions)
          LionOptions.validate LionOptions.defaults
      case Descriptors.lamb
          (fun g -> { Lr = g "lr" 0; Beta1 = g "betas" 0; Beta2 = g "betas" 1; Eps = g "eps" 0; WeightDecay = g "weight_decay" 0
                      Maximize = on g "maximize" } : LambOptions)
          LambOptions.validate LambOptions.defaults ]

/// Bad values of a key (a pair's with the element the message must show); Lion's first beta may be 1.
let private bad (d: Descriptor) (key: string) : (float[] * float) list =
    let negative = [ for v in [ -1.0; nan; infinity ] -> [| v |], v ]
    match key with
    | "lr" | "momentum" | "dampening" | "weight_decay" | "eps" | "lr_decay" | "initial_accumulator_value" | "alpha" | "lambd"
    | "t0" | "momentum_decay" -> negative
    | "rho" -> [ for v in [ 1.5; -0.1; nan ] -> [| v |], v ]
    | "betas" ->
        [ (if d.Kind = "Lion" then [| 1.5; 0.99 |], 1.5 else [| 1.0; 0.999 |], 1.0)
          [| -0.1; 0.999 |], -0.1
          [| 0.9; 1.0 |], 1.0
          [| 0.9; nan |], nan ]
    | "etas" -> [ [| 0.0; 1.2 |], 0.0; [| 1.0; 1.2 |], 1.0; [| 0.5; 1.0 |], 1.0; [| 0.5; infinity |], infinity ]
    | "step_sizes" -> [ [| -1e-6; 50.0 |], -1e-6; [| 1e-6; nan |], nan; [| 1.0; 0.5 |], 0.5 ]
    | _ -> []

let private defaults (d: Descriptor) : Get = fun key index -> (d.Fixed []).Get(key, index)

let tests =
    testList "DescriptorTests" [
        testCase "every descriptor has its options, and the options' defaults are the descriptor's" <| fun () ->
            let described = cases |> List.map (fun (d, _, _, _) -> d.Kind)
            Assert.Equal<string list>([ for d in Descriptors.torch -> d.Kind ] @ [ "Lion"; "Lamb" ], described)
            for d, build, _, expected in cases do
                Assert.Equal(expected, build (defaults d))

        testCase "every bad value of every rule is rejected by the options' validate, naming the argument and the value" <| fun () ->
            for d, _, validate, _ in cases do
                for rule in d.Rules do
                    if rule.Keys.Length = 1 then Assert.NotEmpty(bad d rule.Keys.[0])
                for spec in d.Specs do
                    for values, shown in bad d spec.Key do
                        let get key index = if key = spec.Key then values.[index] else defaults d key index
                        let e = Assert.ThrowsAny<ArgumentException>(fun () -> validate get)
                        Assert.Equal(spec.Name, e.ParamName)
                        Assert.Contains(string shown, e.Message)
                // the defaults pass (SGD's learning rate, which has none, is 0 here)
                validate (defaults d)

        testCase "SGD's options reject Nesterov momentum without momentum or with dampening, naming nesterov" <| fun () ->
            let _, _, validate, _ = cases.Head
            for momentum, dampening in [ 0.0, 0.0; 0.9, 0.1 ] do
                let get key index =
                    match key with
                    | "nesterov" -> 1.0
                    | "momentum" -> momentum
                    | "dampening" -> dampening
                    | _ -> defaults Descriptors.sgd key index
                Assert.Equal("nesterov", Assert.ThrowsAny<ArgumentException>(fun () -> validate get).ParamName)
    ]
