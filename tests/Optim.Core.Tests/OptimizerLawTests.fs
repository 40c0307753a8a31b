/// The laws every optimizer obeys, run over one table of optimizers with FsCheck-generated parameters,
/// gradients (some missing) and hyperparameters.
module Optim.Tests.OptimizerLawTests

open FsCheck
open FsCheck.FSharp
open Expecto
open Optim
open Optim.Tests

/// An optimizer under test: given `maximize`, its fused kernel and its chain of blocks (the chain twice for
/// optimizers that have no fused kernel, `Fused = false`); the parameters it takes (Muon: matrices); and, for the
/// convergence law, both built with hyperparameters that suit a convex quadratic, and how many steps they get.
[<NoComparison; NoEquality>]
type Entry = { Name: string; Fused: bool; Params: Gen<Tensor[]>; Make: Gen<bool -> Optimizer * Optimizer>; Tuned: Optimizer * Optimizer; Steps: int }

let private both (makeFused: 'o -> Optimizer) (makeChain: 'o -> GradientTransformation) (o: 'o) = makeFused o, Optimizer.ofTransform (makeChain o)

let private chainOnly (makeChain: 'o -> GradientTransformation) (o: 'o) =
    let chain = Optimizer.ofTransform (makeChain o)
    chain, chain

let private maybeMaximize mx = if mx then Blocks.maximize else Transform.identity

let optimizers : Entry list =
    [ { Name = "SGD"
        Fused = true
        Params = Gen.parameters
        Make = Gen.sgdOptions |> Gen.map (fun o mx -> both Reference.sgd Alias.sgd { o with Maximize = mx })
        Tuned = both Reference.sgd Alias.sgd { SgdOptions.create 0.1 with Momentum = 0.9 }
        Steps = 200 }
      { Name = "Adam"
        Fused = true
        Params = Gen.parameters
        Make = Gen.adamOptions |> Gen.map (fun o mx -> both Reference.adam Alias.adam { o with Maximize = mx })
        Tuned = both Reference.adam Alias.adam { AdamOptions.adam with Lr = 0.05 }
        Steps = 400 }
      { Name = "AdamW"
        Fused = true
        Params = Gen.parameters
        Make = Gen.adamOptions |> Gen.map (fun o mx -> both Reference.adamw Alias.adamw { o with Maximize = mx })
        Tuned = both Reference.adamw Alias.adamw { AdamOptions.adamw with Lr = 0.05; WeightDecay = 0.0 }
        Steps = 400 }
      { Name = "Adagrad"
        Fused = true
        Params = Gen.parameters
        Make = Gen.adagradOptions |> Gen.map (fun o mx -> both Reference.adagrad Alias.adagrad { o with Maximize = mx })
        Tuned = both Reference.adagrad Alias.adagrad { AdagradOptions.defaults with Lr = 0.5 }
        Steps = 400 }
      { Name = "RMSprop"
        Fused = true
        Params = Gen.parameters
        Make = Gen.rmspropOptions |> Gen.map (fun o mx -> both Reference.rmsprop Alias.rmsprop { o with Maximize = mx })
        Tuned = both Reference.rmsprop Alias.rmsprop { RmspropOptions.defaults with Lr = 0.01; Centered = true; Momentum = 0.5 }
        Steps = 400 }
      { Name = "Adadelta"
        Fused = true
        Params = Gen.parameters
        Make = Gen.adadeltaOptions |> Gen.map (fun o mx -> both Reference.adadelta Alias.adadelta { o with Maximize = mx })
        Tuned = both Reference.adadelta Alias.adadelta { AdadeltaOptions.defaults with Eps = 1e-2 }
        Steps = 400 }
      { Name = "Adamax"
        Fused = true
        Params = Gen.parameters
        Make = Gen.adamaxOptions |> Gen.map (fun o mx -> both Reference.adamax Alias.adamax { o with Maximize = mx })
        Tuned = both Reference.adamax Alias.adamax { AdamaxOptions.defaults with Lr = 0.05 }
        Steps = 400 }
      { Name = "NAdam"
        Fused = true
        Params = Gen.parameters
        Make = Gen.nadamOptions |> Gen.map (fun o mx -> both Reference.nadam Alias.nadam { o with Maximize = mx })
        Tuned = both Reference.nadam Alias.nadam { NadamOptions.defaults with Lr = 0.05 }
        Steps = 400 }
      { Name = "RAdam"
        Fused = true
        Params = Gen.parameters
        Make = Gen.radamOptions |> Gen.map (fun o mx -> both Reference.radam Alias.radam { o with Maximize = mx })
        Tuned = both Reference.radam Alias.radam { RadamOptions.defaults with Lr = 0.05 }
        Steps = 400 }
      { Name = "ASGD"
        Fused = true
        Params = Gen.parameters
        Make = Gen.asgdOptions |> Gen.map (fun o mx -> both Reference.asgd Alias.asgd { o with Maximize = mx })
        Tuned = both Reference.asgd Alias.asgd { AsgdOptions.defaults with Lr = 0.1 }
        Steps = 200 }
      { Name = "Rprop"
        Fused = true
        Params = Gen.parameters
        Make = Gen.rpropOptions |> Gen.map (fun o mx -> both Reference.rprop Alias.rprop { o with Maximize = mx })
        Tuned = both Reference.rprop Alias.rprop RpropOptions.defaults
        Steps = 200 }
      { Name = "Adafactor"
        Fused = true
        Params = Gen.parameters
        Make = Gen.adafactorOptions |> Gen.map (fun o mx -> both Fused.adafactor Alias.adafactor { o with Maximize = mx })
        Tuned = both Fused.adafactor Alias.adafactor { AdafactorOptions.defaults with Lr = 0.1 }
        Steps = 400 }
      // Lion's and LAMB's steps have a fixed length (lr per element; lr·‖p‖), so with a constant learning rate
      // they circle the minimum at that distance; they converge with a decaying one, as they are used
      { Name = "Lion"
        Fused = false
        Params = Gen.parameters
        Make = Gen.lionOptions |> Gen.map (fun o mx -> chainOnly Alias.lion { o with Maximize = mx })
        Tuned =
            chainOnly Transform.chain
                [ Blocks.scaleByLion 0.9 0.99; Blocks.scaleByLearningRateSchedule (fun t -> 0.2 / (1.0 + float t / 10.0)) ]
        Steps = 400 }
      { Name = "LAMB"
        Fused = false
        Params = Gen.parameters
        Make = Gen.lambOptions |> Gen.map (fun o mx -> chainOnly Alias.lamb { o with Maximize = mx })
        Tuned =
            chainOnly Transform.chain
                [ Blocks.scaleByAdam 0.9 0.999 1e-6 false
                  Blocks.scaleByTrustRatio
                  Blocks.scaleByLearningRateSchedule (fun t -> 0.1 / (1.0 + float t / 10.0)) ]
        Steps = 400 }
      // PyTorch's Muon has no maximize: the maximizing pair is its chain after Blocks.maximize, twice (the fused step
      // equals the chain bit for bit, which the minimizing pair checks). Its steps have a fixed spectral size (an
      // orthogonalised update times lr), so, as Lion's, it converges with a decaying learning rate
      { Name = "Muon"
        Fused = true
        Params = Gen.matrices
        Make =
            Gen.muonOptions |> Gen.map (fun o mx ->
                if mx then chainOnly Transform.chain [ Blocks.maximize; Alias.muon o ] else both Fused.muon Alias.muon o)
        Tuned =
            chainOnly Transform.chain
                [ Blocks.traceByLerp 0.9 true
                  Blocks.orthogonalizeByNewtonSchulz MuonOptions.defaults.NsCoefficients 5 1e-7
                  Blocks.scaleByLearningRateSchedule (fun t -> 0.5 / (1.0 + float t / 20.0)) ]
        Steps = 400 }
      // Composed entries: combinators inside chains, around optimizers and over parts of the parameters. None has a
      // hand-fused kernel; each runs every law.
      { Name = "clipByGlobalNorm then AdamW's blocks"
        Fused = false
        Params = Gen.parameters
        Make =
            gen {
                let! o = Gen.adamOptions
                let! maxNorm = Gen.elements [ 0.0; 0.1; 1.0; 10.0 ]
                return fun mx ->
                    chainOnly Transform.chain
                        [ maybeMaximize mx
                          Combinators.clipByGlobalNorm maxNorm
                          Blocks.scaleByAdam o.Beta1 o.Beta2 o.Eps o.Amsgrad
                          Blocks.scaleByLearningRate o.Lr
                          Blocks.decoupledWeightDecay o.Lr o.WeightDecay ]
            }
        Tuned =
            chainOnly Transform.chain
                [ Combinators.clipByGlobalNorm 1.0
                  Blocks.scaleByAdam 0.9 0.999 1e-8 false
                  Blocks.scaleByLearningRate 0.05
                  Blocks.decoupledWeightDecay 0.05 0.0 ]
        Steps = 400 }
      { Name = "applyIfFinite around Adam"
        Fused = false
        Params = Gen.parameters
        Make =
            gen {
                let! o = Gen.adamOptions
                let! errors = Gen.choose (0, 3)
                return fun mx -> chainOnly (Combinators.applyIfFinite errors) (Alias.adam { o with Maximize = mx })
            }
        Tuned = chainOnly (Combinators.applyIfFinite 2) (Alias.adam { AdamOptions.adam with Lr = 0.05 })
        Steps = 400 }
      // 600 calls are 200 steps of SGD with momentum on the means of three gradients; maximize comes first, as
      // PyTorch's negates the gradient before everything else, so that the accumulator holds -g in both runs
      { Name = "multiSteps 3 around SGD with momentum"
        Fused = false
        Params = Gen.parameters
        Make =
            Gen.sgdOptions |> Gen.map (fun o mx ->
                chainOnly Transform.chain [ maybeMaximize mx; Combinators.multiSteps 3 (Alias.sgd { o with Maximize = false }) ])
        Tuned = chainOnly (Combinators.multiSteps 3) (Alias.sgd { SgdOptions.create 0.1 with Momentum = 0.9 })
        Steps = 600 }
      // the even parameters get Adam's direction, the odd ones their gradient; both then the learning rate
      { Name = "masked Adam direction on even parameters, then the learning rate"
        Fused = false
        Params = Gen.parameters
        Make =
            Gen.adamOptions |> Gen.map (fun o mx ->
                chainOnly Transform.chain
                    [ maybeMaximize mx
                      Combinators.masked (fun i _ -> i % 2 = 0)
                          (Transform.chain [ Blocks.addWeightDecay o.WeightDecay; Blocks.scaleByAdam o.Beta1 o.Beta2 o.Eps o.Amsgrad ])
                      Blocks.scaleByLearningRate o.Lr ])
        Tuned =
            chainOnly Transform.chain
                [ Combinators.masked (fun i _ -> i % 2 = 0) (Blocks.scaleByAdam 0.9 0.999 1e-8 false); Blocks.scaleByLearningRate 0.05 ]
        Steps = 400 }
      { Name = "partition: AdamW on even parameters, SGD on odd ones"
        Fused = false
        Params = Gen.parameters
        Make =
            gen {
                let! a = Gen.adamOptions
                let! b = Gen.sgdOptions
                return fun mx ->
                    chainOnly (Combinators.partition (fun i _ -> if i % 2 = 0 then "adamw" else "sgd"))
                        [ "adamw", Alias.adamw { a with Maximize = mx }; "sgd", Alias.sgd { b with Maximize = mx } ]
            }
        Tuned =
            chainOnly (Combinators.partition (fun i _ -> if i % 2 = 0 then "adamw" else "sgd"))
                [ "adamw", Alias.adamw { AdamOptions.adamw with Lr = 0.05; WeightDecay = 0.0 }
                  "sgd", Alias.sgd { SgdOptions.create 0.1 with Momentum = 0.9 } ]
        Steps = 400 }
      // every parameter of two dimensions gets Muon, the others (vectors, 3-D tensors) AdamW
      { Name = "muonWithAdamW: Muon on the matrices, AdamW on the rest"
        Fused = false
        Params = Gen.parameters
        Make =
            gen {
                let! m = Gen.muonOptions
                let! a = Gen.adamOptions
                return fun mx -> chainOnly Transform.chain [ maybeMaximize mx; Alias.muonWithAdamW m { a with Maximize = false } ]
            }
        Tuned =
            chainOnly (Combinators.partition (fun _ shape -> if shape.Length = 2 then "muon" else "adamw"))
                [ "muon",
                  Transform.chain
                      [ Blocks.traceByLerp 0.9 true
                        Blocks.orthogonalizeByNewtonSchulz MuonOptions.defaults.NsCoefficients 5 1e-7
                        Blocks.scaleByLearningRateSchedule (fun t -> 0.5 / (1.0 + float t / 20.0)) ]
                  "adamw", Alias.adamw { AdamOptions.adamw with Lr = 0.05; WeightDecay = 0.0 } ]
        Steps = 400 }
      { Name = "lookahead around Adam"
        Fused = false
        Params = Gen.parameters
        Make =
            gen {
                let! o = Gen.adamOptions
                let! k = Gen.choose (1, 4)
                let! alpha = Gen.elements [ 0.0; 0.5; 0.8; 1.0 ]
                return fun mx -> chainOnly (Combinators.lookahead k alpha) (Alias.adam { o with Maximize = mx })
            }
        Tuned = chainOnly (Combinators.lookahead 5 0.5) (Alias.adam { AdamOptions.adam with Lr = 0.05 })
        Steps = 400 }
      { Name = "schedule-free AdamW"
        Fused = false
        Params = Gen.parameters
        Make = Gen.scheduleFreeAdamWOptions |> Gen.map (fun o mx -> chainOnly Transform.chain [ maybeMaximize mx; ScheduleFree.adamw o ])
        Tuned = chainOnly ScheduleFree.adamw { ScheduleFreeAdamWOptions.defaults with Lr = 0.05 }
        Steps = 400 }
      { Name = "schedule-free SGD"
        Fused = false
        Params = Gen.parameters
        Make = Gen.scheduleFreeSgdOptions |> Gen.map (fun o mx -> chainOnly Transform.chain [ maybeMaximize mx; ScheduleFree.sgd o ])
        Tuned = chainOnly ScheduleFree.sgd { ScheduleFreeSgdOptions.defaults with Lr = 0.2 }
        Steps = 400 }
      { Name = "EMA of the parameters at the end of Adam's chain"
        Fused = false
        Params = Gen.parameters
        Make =
            gen {
                let! o = Gen.adamOptions
                let! decay = Gen.elements [ 0.0; 0.5; 0.9; 0.999; 1.0 ]
                return fun mx -> chainOnly Transform.chain [ Alias.adam { o with Maximize = mx }; Combinators.ema decay ]
            }
        Tuned = chainOnly Transform.chain [ Alias.adam { AdamOptions.adam with Lr = 0.05 }; Combinators.ema 0.9 ]
        Steps = 400 } ]

/// The optimizers' names: each law runs once per name.
let names = optimizers |> List.map (fun e -> e.Name)

/// The optimizers whose fused kernel does its chain's arithmetic exactly: the chains of elementwise blocks (compiled to
/// one fused pass), and Muon's (its passes and products in the chain's order). Adafactor's sums its factored moments in
/// another order.
let elementwiseNames = optimizers |> List.filter (fun e -> e.Fused && e.Name <> "Adafactor") |> List.map (fun e -> e.Name)

let private entry name = optimizers |> List.find (fun e -> e.Name = name)

/// A case: an optimizer pair, parameters, and a few steps of gradients with some missing.
let private scenario (e: Entry) (allowNull: bool) =
    gen {
        let! make = e.Make
        let! mx = Gen.elements [ true; false ]
        let! ps = e.Params
        let! steps = Gen.choose (1, 6)
        let! grads = Gen.gradSeq allowNull steps ps
        return make mx, ps, grads
    }
    |> Arb.fromGen

let private runPure (o: Optimizer) (ps: Tensor[]) (grads: float32[][] list) =
    grads |> List.fold (fun (ps, s) g -> o.Step ps g s) (ps, o.Init ps)

let private statesEqual (a: State) (b: State) =
    a.Steps = b.Steps
    && a.Globals = b.Globals
    && Map.keys a.Buffers |> Seq.forall (fun k ->
        Array.forall2 (fun (x: float32[]) (y: float32[]) -> (isNull x && isNull y) || (not (isNull x) && not (isNull y) && x = y)) a.Buffers.[k] b.Buffers.[k])

let private statesClose (a: State) (b: State) =
    a.Steps = b.Steps
    && Map.keys a.Buffers |> Seq.forall (fun k ->
        Array.forall2 (fun (x: float32[]) (y: float32[]) -> (isNull x && isNull y) || (not (isNull x) && not (isNull y) && Gen.close 1e-6 1e-5 x y)) a.Buffers.[k] b.Buffers.[k])

/// A random convex quadratic f(x) = ½·Σ aᵢ(xᵢ - cᵢ)² with curvatures aᵢ in [0.5, 2], and a start 0.5 to 2 from
/// the centre in every coordinate, on the side of 0: no coordinate has to cross 0, which LAMB (whose steps are
/// proportional to ‖p‖) cannot do for a one-element parameter. Every start is at least 0.1 from 0, for the same reason: a
/// one-element parameter drawn next to 0 would make LAMB's steps too small to arrive.
let private quadratic (parameters: Gen<Tensor[]>) =
    gen {
        let! drawn = parameters
        let ps = drawn |> Array.map (fun p -> { p with Data = p.Data |> Array.map (fun x -> if x < 0.0f then x - 0.1f else x + 0.1f) })
        let coordinates (g: FsCheck.Gen<float32>) = ps |> Array.map (fun p -> Gen.arrayOfLength p.Data.Length g) |> Gen.sequenceToArray
        let! curvature = coordinates (Gen.choose (500, 2000) |> Gen.map (fun k -> float32 k / 1000.0f))
        let! offset = coordinates (Gen.choose (500, 2000) |> Gen.map (fun k -> float32 k / 1000.0f))
        let away (x: float32) (d: float32) = if x < 0.0f then x - d else x + d
        let centre = Array.map2 (fun (p: Tensor) (o: float32[]) -> Array.map2 away p.Data o) ps offset
        return ps, curvature, centre
    }
    |> Arb.fromGen

/// An entry as the verification kit's subjects: its fused optimizer and, where it has one of its own, its chain, each
/// built from the entry's drawn hyperparameters and maximize flag, over the entry's parameters, with its tuned form.
let private subjects (e: Entry) : Optim.Testing.Subject<struct ((bool -> Optimizer * Optimizer) * bool)> list =
    [ for pick, label in [ (fst, "fused"); (snd, "chain") ] do
        if e.Fused || label = "chain" then
            yield
                { Name = (if e.Fused then $"{e.Name} ({label})" else e.Name)
                  Options = gen { let! make = e.Make in let! mx = Gen.elements [ true; false ] in return struct (make, mx) }
                  Build = fun (struct (make, mx)) -> pick (make mx)
                  Transform = None
                  Maximize = Some(fun (struct (make, _)) mx -> struct (make, mx))
                  Tuned = Some(struct ((fun _ -> e.Tuned), false), e.Steps)
                  Parameters = Some e.Params } ]

/// One law of the kit over every subject of the table but those <paramref name="except"/> names, with
/// <paramref name="maxTests"/> cases each.
let private kitLawExcept (except: string -> bool) (name: string) (maxTests: int) (law: Optim.Testing.LawConfig -> Optim.Testing.Subject<_> -> Optim.Testing.LawResult) =
    let config = { Optim.Testing.LawConfig.defaults with MaxTests = maxTests }
    testList name
        [ for e in optimizers do
            if not (except e.Name) then
                for s in subjects e -> Optim.Testing.LawTests.ofLaw s.Name (fun () -> law config s) ]

let private kitLaw name maxTests law = kitLawExcept (fun _ -> false) name maxTests law

let tests =
    testList "OptimizerLawTests" [
        testList "the compiled chain of blocks gives the hand-fused kernel's numbers bit for bit, pure and in place" [
            for name in elementwiseNames ->
                Gen.property name 200 (
                    Prop.forAll (scenario (entry name) true) (fun ((fused, chain), ps, grads) ->
                        let pf, sf = runPure fused ps grads
                        let pc, sc = runPure chain ps grads
                        let buffers = ps |> Array.map (fun p -> Array.copy p.Data)
                        let si = grads |> List.fold (fun s g -> chain.StepInPlace buffers g s) (chain.Init ps)
                        Array.forall2 (fun (a: Tensor) (b: Tensor) -> a.Data = b.Data) pf pc && statesEqual sf sc
                        && Array.forall2 (fun (a: Tensor) (b: float32[]) -> a.Data = b) pf buffers && statesEqual sf si))
        ]

        testCase "on tensors large enough to be shared by both threads the compiled chains equal the hand-fused kernels bit for bit" <| fun () ->
            let rng = System.Random 7
            let n = (1 <<< 20) + 37
            let ps = [| Tensor.ofArray (Array.init n (fun _ -> float32 (rng.NextDouble() - 0.5))); Tensor.ofArray [| 0.5f; -1.0f; 2.0f |] |]
            let grads = List.init 3 (fun _ -> ps |> Array.map (fun p -> Array.init p.Data.Length (fun _ -> float32 (rng.NextDouble() - 0.5))))
            for fused, chain in
                [ both Reference.sgd Alias.sgd { SgdOptions.create 0.1 with Momentum = 0.9; Nesterov = true; WeightDecay = 0.01 }
                  both Reference.adamw Alias.adamw { AdamOptions.adamw with Amsgrad = true }
                  both Reference.asgd Alias.asgd { AsgdOptions.defaults with T0 = 1.0 }
                  both Reference.rmsprop Alias.rmsprop { RmspropOptions.defaults with Centered = true; Momentum = 0.5 } ] do
                let pf, sf = runPure fused ps grads
                let buffers = ps |> Array.map (fun p -> Array.copy p.Data)
                let si = grads |> List.fold (fun s g -> chain.StepInPlace buffers g s) (chain.Init ps)
                Assert.True(Array.forall2 (fun (a: Tensor) (b: float32[]) -> a.Data = b) pf buffers)
                Assert.True(statesEqual sf si)

        Gen.property "Adafactor's chain, whose factored moments are not elementwise, stays within float32 rounding of its fused kernel" 200 (
            Prop.forAll (scenario (entry "Adafactor") true) (fun ((fused, chain), ps, grads) ->
                let pf, sf = runPure fused ps grads
                let pc, sc = runPure chain ps grads
                Array.forall2 (fun (a: Tensor) (b: Tensor) -> Gen.close 1e-6 1e-5 a.Data b.Data) pf pc && statesClose sf sc))

        // the laws every optimizer obeys, as the verification kit (Optim.Testing) states and checks them: each entry's fused
        // optimizer and its chain, as two subjects, with shrunk counterexamples on failure
        kitLaw "the pure step and the in-place step give identical numbers" 200 Optim.Testing.Laws.pureEqualsInPlace
        kitLaw "the pure step never modifies its arguments" 100 Optim.Testing.Laws.pureStepIsPure
        kitLaw "a run resumed from a JSON checkpoint equals the uninterrupted run" 100 Optim.Testing.Laws.resume
        kitLaw "maximizing g gives the same steps as minimizing -g" 100 Optim.Testing.Laws.maximize
        // an accumulator (multiSteps) applies at its k-th call what the calls before it gathered, with or without a
        // gradient at that call: it does not obey this law, by design
        kitLawExcept (fun name -> name.StartsWith "multiSteps") "a parameter without a gradient keeps its value and its state" 100 Optim.Testing.Laws.nullGradient
        kitLaw "finite parameters and gradients give finite parameters and state" 100 Optim.Testing.Laws.finite
        kitLaw "every optimizer converges on a random convex quadratic" 20 Optim.Testing.Laws.converges

        Gen.property "changing the learning rate between steps keeps the state and needs no rebuild of it" 100 (
            let arb =
                gen {
                    let! o = Gen.adamOptions
                    let! ps = Gen.parameters
                    let! grads = Gen.gradSeq false 4 ps
                    let! lrs = Gen.listOfLength 4 (Gen.elements [ 1e-3; 1e-2; 0.1 ])
                    return o, ps, grads, lrs
                } |> Arb.fromGen
            Prop.forAll arb (fun (o, ps, grads, lrs) ->
                let steps (make: AdamOptions -> Optimizer) =
                    List.zip grads lrs |> List.fold (fun (ps, s) (g, lr) -> (make { o with Lr = lr }).Step ps g s) (ps, (make o).Init ps)
                let pf, sf = steps Reference.adam
                let pc, sc = steps (Alias.adam >> Optimizer.ofTransform)
                Array.forall2 (fun (a: Tensor) (b: Tensor) -> a.Data = b.Data) pf pc && statesEqual sf sc))
    ]
