/// The sign convention, the combinators, the blocks, and the seeds' worked examples through the core.
module Optim.Tests.TransformTests

open System
open Expecto
open Optim

let private t (xs: float32 list) = Tensor.ofArray (Array.ofList xs)

let tests =
    testList "TransformTests" [
        testCase "updates are added to parameters and the learning-rate block carries the one sign flip" <| fun () ->
            let ps = [| t [ 1.0f; 2.0f ] |]
            let tr = Blocks.scaleByLearningRate 0.5
            let u, _ = Transform.update tr [| [| 2.0f; -4.0f |] |] (tr.Init ps) ps
            Assert.Equal<float32[]>([| -1.0f; 2.0f |], u.[0])
            Assert.Equal<float32[]>([| 0.0f; 4.0f |], (Transform.applyUpdates ps u).[0].Data)

        testCase "an empty chain is the identity" <| fun () ->
            let ps = [| t [ 1.0f ] |]
            let c = Transform.chain []
            let u, _ = Transform.update c [| [| 3.0f |] |] (c.Init ps) ps
            Assert.Equal<float32[]>([| 3.0f |], u.[0])

        testCase "a chain of one block is that block" <| fun () ->
            let ps = [| t [ 1.0f; -1.0f ] |]
            let block = Blocks.scaleByAdam 0.9 0.999 1e-8 false
            let g = [| [| 0.3f; -0.7f |] |]
            let u1, s1 = Transform.update block g (block.Init ps) ps
            let c = Transform.chain [ block ]
            let u2, s2 = Transform.update c g (c.Init ps) ps
            Assert.Equal<float32[]>(u1.[0], u2.[0])
            Assert.Equal<float32[]>((State.buffer "exp_avg" s1).[0], (State.buffer "exp_avg" s2).[0])

        testCase "two blocks of a chain that claim the same buffer name each keep their own, the later one renamed with its position" <| fun () ->
            let c = Transform.chain [ Blocks.trace 0.9 0.0 false; Blocks.trace 0.5 0.0 false ]
            let ps = [| t [ 1.0f ] |]
            let s0 = c.Init ps
            Assert.Equal<string list>([ "momentum_buffer"; "momentum_buffer@1" ], s0.Buffers |> Map.keys |> List.ofSeq)
            let u1, s1 = Transform.update c [| [| 1.0f |] |] s0 ps
            let u2, s2 = Transform.update c [| [| 1.0f |] |] s1 ps
            // first trace: b = 1, then 0.9 + 1; the second traces the first's output: 1, then 0.5 + 1.9
            Assert.Equal<float32[]>([| 1.0f |], u1.[0])
            Assert.Equal<float32[]>([| 1.9f |], (State.buffer "momentum_buffer" s2).[0])
            Assert.Equal<float32[]>([| 0.5f * 1.0f + 1.9f |], u2.[0])
            Assert.Equal<float32[]>([| 0.5f * 1.0f + 1.9f |], (State.buffer "momentum_buffer@1" s2).[0])

        testCase "update rejects a gradient whose length is not its parameter's" <| fun () ->
            let ps = [| t [ 1.0f; 2.0f ] |]
            let tr = Alias.sgd (SgdOptions.create 0.1)
            let e = Assert.ThrowsAny<ArgumentException>(fun () -> Transform.update tr [| [| 1.0f |] |] (tr.Init ps) ps |> ignore)
            Assert.Equal("grads", e.ParamName)

        testCase "seed 002: SGD with lr 1 on a gradient of ones gives w - 1" <| fun () ->
            let w = Tensor.create [| 2; 2 |] [| -0.0606f; -0.3197f; 1.4949f; -0.8007f |]
            let o = Fused.sgd (SgdOptions.create 1.0)
            let w', _ = o.Step [| w |] [| Array.create 4 1.0f |] (o.Init [| w |])
            Assert.Equal<float32[]>(w.Data |> Array.map (fun x -> x - 1.0f), w'.[0].Data)

        testCase "seed 002: on y = 4x² from x = 2, lr 0.125 reaches the minimum in one step" <| fun () ->
            let x = t [ 2.0f ]
            let grad (p: Tensor[]) = [| p.[0].Data |> Array.map (fun x -> 8.0f * x) |]
            for o in [ Fused.sgd (SgdOptions.create 0.125); Optimizer.ofTransform (Alias.sgd (SgdOptions.create 0.125)) ] do
                let ps, _ = Optimizer.run o grad 1 [| x |]
                Assert.Equal(0.0f, ps.[0].Data.[0])

        testCase "the learning-rate block follows its schedule by each parameter's step count" <| fun () ->
            let tr = Blocks.scaleByLearningRateSchedule (fun step -> float (step + 1L))
            let ps = [| t [ 0.0f ] |]
            let g = [| [| 1.0f |] |]
            let u1, s1 = Transform.update tr g (tr.Init ps) ps
            let u2, _ = Transform.update tr g s1 ps
            Assert.Equal<float32[]>([| -1.0f |], u1.[0])
            Assert.Equal<float32[]>([| -2.0f |], u2.[0])

        testCase "invalid hyperparameters are rejected with the argument's name and value" <| fun () ->
            let cases : (string * (unit -> obj)) list =
                [ "lr", (fun () -> box (Alias.sgd (SgdOptions.create -0.1)))
                  "momentum", (fun () -> box (Fused.sgd { SgdOptions.create 0.1 with Momentum = -1.0 }))
                  "weightDecay", (fun () -> box (Alias.sgd { SgdOptions.create 0.1 with WeightDecay = nan }))
                  "nesterov", (fun () -> box (Alias.sgd { SgdOptions.create 0.1 with Nesterov = true }))
                  "betas", (fun () -> box (Alias.adam { AdamOptions.adam with Beta1 = 1.0 }))
                  "betas", (fun () -> box (Fused.adamw { AdamOptions.adamw with Beta2 = -0.1 }))
                  "eps", (fun () -> box (Alias.adam { AdamOptions.adam with Eps = -1e-8 }))
                  "lr", (fun () -> box (Fused.adam { AdamOptions.adam with Lr = infinity })) ]
            for name, make in cases do
                let e = Assert.ThrowsAny<ArgumentException>(fun () -> make () |> ignore)
                Assert.Equal(name, e.ParamName)

        testCase "the in-place step rejects a gradient of the wrong length and leaves the parameter as it was" <| fun () ->
            let o = SgdOptions.create 0.1
            let p = [| 1.0f; 2.0f |]
            let opt = Fused.sgd o
            let s = opt.Init [| Tensor.ofArray p |]
            Assert.ThrowsAny<ArgumentException>(fun () -> opt.StepInPlace [| p |] [| [| 1.0f |] |] s |> ignore) |> ignore
            Assert.Equal<float32[]>([| 1.0f; 2.0f |], p)
            Assert.Equal(0L, s.Steps.[0])

        testCase "a parameter of no elements counts its step in place as in the pure step" <| fun () ->
            let o = Optimizer.ofTransform (Alias.adam AdamOptions.adam)
            let ps = [| Tensor.zeros [| 0 |]; Tensor.ofArray [| 1.0f; 2.0f |] |]
            let grads = [| [||]; [| 0.5f; 0.5f |] |]
            let _, stepped = o.Step ps grads (o.Init ps)
            let live = ps |> Array.map (fun p -> Array.copy p.Data)
            let inPlace = o.StepInPlace live grads (o.Init ps)
            Assert.Equal<int64[]>([| 1L; 1L |], stepped.Steps)
            Assert.Equal<int64[]>([| 1L; 1L |], inPlace.Steps)
    ]
