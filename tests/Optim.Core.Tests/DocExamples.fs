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
