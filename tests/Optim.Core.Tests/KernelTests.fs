/// Steps share large tensors, and many small ones, between two threads; that must not change a single bit.
module Optim.Tests.KernelTests

open System
open FsCheck
open FsCheck.FSharp
open Expecto
open Optim
open Optim.Tests

/// Just over the split threshold, and not a multiple of the SIMD width, so both halves and the tail run.
let private n = Split.threshold + 37

let private big (seed: int) (scale: float32) =
    let rng = Random seed
    Array.init n (fun _ -> (float32 (rng.NextDouble()) - 0.5f) * scale)

/// The buffers a kernel reads and writes in place: p, g and three state buffers (the last two non-negative, as
/// second moments are).
let private buffers (seed: int) =
    [| big seed 2.0f; big (seed + 1) 1.0f; big (seed + 2) 0.1f; Array.map abs (big (seed + 3) 0.01f); Array.map abs (big (seed + 4) 0.01f) |]

let private ro (a: float32[]) = ReadOnlySpan a
let private rw (a: float32[]) = Span a

let private bits (a: float32[]) = a |> Array.map BitConverter.SingleToInt32Bits

/// 300 parameters of 5,000 elements (1.5M together: shared between the threads) and one of Split.threshold + 5 (split).
let private many () =
    Array.init 301 (fun k -> if k = 150 then big 7 2.0f else Array.init 5000 (fun j -> float32 (Math.Sin(float (k * 5000 + j)))))

let tests =
    testList "KernelTests" [
        Gen.property "Adafactor's sums over a large vector are the sums of its chunks in chunk order, and its second moment the chunks' own" 4 (
            let arb = Gen.zip (Gen.choose (0, 1000)) (Gen.elements [ true; false ]) |> Arb.fromGen
            Prop.forAll arb (fun (seed, maximize) ->
                let b = buffers seed
                for w in [ 1.0f; 0.574f; 0.3f ] do
                    let vShared, vChunks = Array.copy b.[3], Array.copy b.[3]
                    let struct (sp, su) = FusedKernels.AdafactorVectorSums(ro b.[0], ro b.[1], ro vShared, rw vShared, w, 1e-14f, maximize)
                    let mutable sumP, sumU = 0.0, 0.0
                    for lo in 0 .. Split.chunk .. n - 1 do
                        let len = min Split.chunk (n - lo)
                        let struct (p, u) =
                            FusedKernels.AdafactorVectorSumsRange(
                                ro(b.[0]).Slice(lo, len), ro(b.[1]).Slice(lo, len), ro(vChunks).Slice(lo, len), rw(vChunks).Slice(lo, len), w, 1e-14f, maximize)
                        sumP <- sumP + p
                        sumU <- sumU + u
                    Assert.Equal(sumP, sp)
                    Assert.Equal(sumU, su)
                    Assert.Equal<int[]>(bits vChunks, bits vShared)
                true))

        testCase "compiled chains on a tensor large enough to share between the threads equal their hand-fused kernels bit for bit" <| fun () ->
            let ps = [| Tensor.ofArray (big 1 2.0f) |]
            let grads = [ [| big 2 1.0f |]; [| big 3 1.0f |] ]
            for reference, chain in
                [ Reference.sgd { SgdOptions.create 0.1 with Momentum = 0.9; Nesterov = true }, Alias.sgd { SgdOptions.create 0.1 with Momentum = 0.9; Nesterov = true }
                  Reference.adam AdamOptions.adam, Alias.adam AdamOptions.adam
                  Reference.adamw AdamOptions.adamw, Alias.adamw AdamOptions.adamw
                  Reference.adagrad AdagradOptions.defaults, Alias.adagrad AdagradOptions.defaults
                  Reference.rmsprop { RmspropOptions.defaults with Centered = true; Momentum = 0.9 }, Alias.rmsprop { RmspropOptions.defaults with Centered = true; Momentum = 0.9 }
                  Reference.adadelta AdadeltaOptions.defaults, Alias.adadelta AdadeltaOptions.defaults
                  Reference.adamax AdamaxOptions.defaults, Alias.adamax AdamaxOptions.defaults
                  Reference.nadam NadamOptions.defaults, Alias.nadam NadamOptions.defaults
                  Reference.radam RadamOptions.defaults, Alias.radam RadamOptions.defaults
                  Reference.asgd { AsgdOptions.defaults with T0 = 1.0 }, Alias.asgd { AsgdOptions.defaults with T0 = 1.0 }
                  Reference.rprop RpropOptions.defaults, Alias.rprop RpropOptions.defaults ] do
                let c = Optimizer.ofTransform chain
                let pr, _ = grads |> List.fold (fun (ps, s) g -> reference.Step ps g s) (ps, reference.Init ps)
                let inPlace = Array.copy ps.[0].Data
                let mutable s = c.Init ps
                for g in grads do s <- c.StepInPlace [| inPlace |] g s
                let pc, _ = grads |> List.fold (fun (ps, s) g -> c.Step ps g s) (ps, c.Init ps)
                Assert.Equal<int[]>(bits pr.[0].Data, bits pc.[0].Data)
                Assert.Equal<int[]>(bits pr.[0].Data, bits inPlace)

        testCase "Adafactor on a tensor large enough to split equals its chain" <| fun () ->
            let ps = [| Tensor.ofArray (big 1 2.0f) |]
            let grads = [ [| big 2 1.0f |]; [| big 3 1.0f |] ]
            let o = { AdafactorOptions.defaults with WeightDecay = 0.1 }
            let fused, c = Fused.adafactor o, Optimizer.ofTransform (Alias.adafactor o)
            let pf, _ = grads |> List.fold (fun (ps, s) g -> fused.Step ps g s) (ps, fused.Init ps)
            let pc, _ = grads |> List.fold (fun (ps, s) g -> c.Step ps g s) (ps, c.Init ps)
            Assert.True(Gen.close 1e-6 1e-5 pf.[0].Data pc.[0].Data)

        testCase "many parameters' steps shared between two threads give the numbers of a loop over them" <| fun () ->
            let o = { AdamOptions.adam with Lr = 0.01; Amsgrad = true }
            let run (shared: bool) =
                let ps = many ()
                let gs = ps |> Array.map (Array.map (fun x -> 0.5f - x * x))
                let state = (Reference.adam o).Init(ps |> Array.map Tensor.ofArray)
                let step = Action<int>(fun i -> Reference.adamInPlace (o, state, i, Span ps.[i], ReadOnlySpan gs.[i]))
                for _ in 1 .. 3 do
                    if shared then Fused.forEachParameter (ps |> Array.map Array.length, step)
                    else for i in 0 .. ps.Length - 1 do step.Invoke i
                ps |> Array.map bits, (State.buffer "max_exp_avg_sq" state) |> Array.map bits, state.Steps
            Assert.Equal(run false, run true)

        testCase "an exception in one parameter's step reaches the caller once every started step has finished" <| fun () ->
            let sizes = Array.create 400 5000
            let finished = ref 0
            let step =
                Action<int>(fun i ->
                    if i = 123 then invalidOp "parameter 123 failed"
                    Threading.Thread.SpinWait 20000
                    Threading.Interlocked.Increment finished |> ignore)
            let e = Assert.Throws<InvalidOperationException>(fun () -> Fused.forEachParameter (sizes, step))
            Assert.Equal("parameter 123 failed", e.Message)
            let seen = finished.Value
            Threading.Thread.Sleep 50
            Assert.Equal(seen, finished.Value)
            Assert.True(seen < 399)
    ]
