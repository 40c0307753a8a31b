/// The fused kernels split large tensors across two threads; the split must not change a single bit.
module Optim.Tests.KernelTests

open System
open FsCheck
open FsCheck.FSharp
open Xunit
open Optim
open Optim.Tests

/// Just over the split threshold, and not a multiple of the SIMD width, so both halves and the tail run.
let private n = Split.threshold + 37

let private big (seed: int) (scale: float32) =
    let rng = Random seed
    Array.init n (fun _ -> (float32 (rng.NextDouble()) - 0.5f) * scale)

let private inputs = Gen.choose (0, 1000) |> Gen.map (fun seed -> big seed 2.0f, big (seed + 1) 1.0f, big (seed + 2) 0.1f, Array.map abs (big (seed + 3) 0.01f))

[<Fact>]
let ``a split SGD kernel gives exactly the numbers of one unsplit pass`` () =
    let arb = Gen.zip Gen.sgdOptions inputs |> Arb.fromGen
    Gen.check 5 arb (fun (o, (p, g, b, _)) ->
        let run split =
            let pOut, bOut = Array.zeroCreate n, Array.zeroCreate n
            let args = (float32 -o.Lr, float32 o.WeightDecay, float32 o.Momentum, float32 (1.0 - o.Dampening))
            let negLr, wd, mu, keep = args
            if split then
                Kernels.Sgd(ReadOnlySpan p, ReadOnlySpan g, ReadOnlySpan b, Span pOut, Span bOut, negLr, wd, mu, keep, true, false, o.Nesterov, o.Maximize)
            else
                Kernels.SgdRange(ReadOnlySpan p, ReadOnlySpan g, ReadOnlySpan b, Span pOut, Span bOut, negLr, wd, mu, keep, true, false, o.Nesterov, o.Maximize)
            pOut, bOut
        run true = run false)

[<Fact>]
let ``a split Adam kernel gives exactly the numbers of one unsplit pass, in place too`` () =
    let arb = Gen.zip Gen.adamOptions inputs |> Arb.fromGen
    Gen.check 5 arb (fun (o, (p, g, m, v)) ->
        let run split =
            let p', m', v', x' = Array.copy p, Array.copy m, Array.copy v, Array.copy v
            let f32 = float32
            if split then
                Kernels.Adam(ReadOnlySpan p', ReadOnlySpan g, ReadOnlySpan m', ReadOnlySpan v', ReadOnlySpan x', Span p', Span m', Span v', Span x',
                             0.999f, f32 o.WeightDecay, f32 o.Beta1, f32 (1.0 - o.Beta1), f32 o.Beta2, f32 (1.0 - o.Beta2), 0.5f, f32 o.Eps, f32 -o.Lr, o.Amsgrad, o.Maximize)
            else
                Kernels.AdamRange(ReadOnlySpan p', ReadOnlySpan g, ReadOnlySpan m', ReadOnlySpan v', ReadOnlySpan x', Span p', Span m', Span v', Span x',
                                  0.999f, f32 o.WeightDecay, f32 o.Beta1, f32 (1.0 - o.Beta1), f32 o.Beta2, f32 (1.0 - o.Beta2), 0.5f, f32 o.Eps, f32 -o.Lr, o.Amsgrad, o.Maximize)
            p', m', v', x'
        run true = run false)

[<Fact>]
let ``fused optimizers on a tensor large enough to split still equal their chains`` () =
    let ps = [| Tensor.ofArray (big 1 2.0f) |]
    let grads = [ [| big 2 1.0f |]; [| big 3 1.0f |] ]
    for fused, chain in
        [ Fused.sgd { SgdOptions.create 0.1 with Momentum = 0.9; Nesterov = true }, Alias.sgd { SgdOptions.create 0.1 with Momentum = 0.9; Nesterov = true }
          Fused.adam AdamOptions.adam, Alias.adam AdamOptions.adam
          Fused.adamw AdamOptions.adamw, Alias.adamw AdamOptions.adamw ] do
        let c = Optimizer.ofTransform chain
        let pf, _ = grads |> List.fold (fun (ps, s) g -> fused.Step ps g s) (ps, fused.Init ps)
        let pc, _ = grads |> List.fold (fun (ps, s) g -> c.Step ps g s) (ps, c.Init ps)
        Assert.True(Gen.close 1e-6 1e-5 pf.[0].Data pc.[0].Data)
