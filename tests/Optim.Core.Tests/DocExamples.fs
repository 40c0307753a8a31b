/// The F# examples of README.md and src/Optim.Core/README.md, compiled and run. DocExamplesTests (C#)
/// checks that every fsharp block of the docs appears here or in another compiled test, line for line.
module Optim.Tests.DocExamples

open Xunit
open Optim

[<Fact>]
let ``the README's F# quick start runs and minimises`` () =
    // Minimise Σx² with Adam, through the pure API: parameters and state are threaded through each step.
    let parameters = [| Tensor.create [| 2 |] [| 1.0f; -2.0f |] |]
    let grad (ps: Tensor[]) = [| ps.[0].Data |> Array.map (fun x -> 2.0f * x) |]
    let optimizer = Fused.adam { AdamOptions.adam with Lr = 0.1 }
    let final, state = Optimizer.run optimizer grad 200 parameters

    // The same optimizer as a chain of blocks (same state layout, same numbers), and your own variant:
    let adam = Alias.adam { AdamOptions.adam with Lr = 0.1 }
    let myAdamW =
        Transform.chain
            [ Blocks.scaleByAdam 0.9 0.999 1e-8 false
              Blocks.scaleByLearningRate 1e-3
              Blocks.decoupledWeightDecay 1e-3 1e-2 ]
    let updates, state1 = Transform.update myAdamW (grad parameters) (myAdamW.Init parameters) parameters
    let stepped = Transform.applyUpdates parameters updates

    Assert.True(final.[0].Data |> Array.forall (fun x -> abs x < 0.05f))
    Assert.Equal(200L, state.Steps.[0])
    let chained, _ = Optimizer.run (Optimizer.ofTransform adam) grad 200 parameters
    Assert.True(Array.forall2 (fun (a: float32) b -> abs (a - b) < 1e-5f) final.[0].Data chained.[0].Data)
    Assert.Equal(1L, state1.Steps.[0])
    Assert.True(abs stepped.[0].Data.[0] < 1.0f)

[<Fact>]
let ``the Optim.Core package README's example runs`` () =
    let parameters = [| Tensor.create [| 2 |] [| 1.0f; -2.0f |] |]
    let grad (ps: Tensor[]) = [| ps.[0].Data |> Array.map (fun x -> 2.0f * x) |]   // ∇ Σx²
    let final, state = Optimizer.run (Fused.adam { AdamOptions.adam with Lr = 0.1 }) grad 200 parameters
    Assert.True(final.[0].Data |> Array.forall (fun x -> abs x < 0.05f))
    Assert.Equal(200L, state.Steps.[0])

[<Fact>]
let ``docs/schedulers.md's F# example schedules, steps and reduces on a plateau`` () =
    // StepLR as a value (lr 0.1, divided by 10 every 50 epochs), and warmup followed by cosine decay, built from combinators.
    let stepLr = Schedule.step 0.1 50L 0.1
    let warmupThenCosine = Schedule.join [ Schedule.linear 0.1 0.1 1.0 10L; Schedule.cosineAnnealing 0.1 90L 0.0 ] [ 10L ]

    // A schedule drives the learning-rate block of a chain: updates are -lr(t)·g.
    let sgdWithSchedule = Transform.chain [ Blocks.trace 0.9 0.0 false; Blocks.scaleByLearningRateSchedule warmupThenCosine ]

    // Or rebuild a fused optimizer's options each step: hyperparameters are not state, so the state carries over.
    let parameters = [| Tensor.create [| 2 |] [| 1.0f; -2.0f |] |]
    let grad (ps: Tensor[]) = [| ps.[0].Data |> Array.map (fun x -> 2.0f * x) |]
    let mutable ps = parameters
    let mutable state = (Fused.sgd (SgdOptions.create 0.1)).Init parameters
    for t in 0L .. 99L do
        let optimizer = Fused.sgd { SgdOptions.create (warmupThenCosine t) with Momentum = 0.9 }
        let next, s = optimizer.Step ps (grad ps) state
        ps <- next
        state <- s

    // Reduce-on-plateau: an explicit transition from (state, metric) to (lr, state).
    let plateau = { Plateau.defaults with Patience = 10; Cooldown = 10; MinLr = 1e-4 }
    let lr, plateauState = Plateau.step plateau (Plateau.init plateau 0.1, 0.5)

    Assert.Equal(0.001, stepLr 100L, 12)
    Assert.Equal(0.01, warmupThenCosine 0L, 12)
    Assert.Equal(0.1, warmupThenCosine 10L, 12)
    // The chain's first update at step 0 is -lr(0)·g = -0.01·g (the momentum buffer starts at g).
    let u, _ = Transform.update sgdWithSchedule (grad parameters) (sgdWithSchedule.Init parameters) parameters
    Assert.Equal(-0.02f, u.[0].[0], 6)
    Assert.True(ps.[0].Data |> Array.forall (fun x -> abs x < 0.05f), sprintf "%A" ps.[0].Data)
    Assert.Equal(100L, state.Steps.[0])
    Assert.Equal(0.1, lr)
    Assert.Equal(1L, plateauState.LastEpoch)
