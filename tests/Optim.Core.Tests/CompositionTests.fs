/// Lion and LAMB, optimizers beyond torch.optim built only from blocks, checked against their papers' equations.
module Optim.Tests.CompositionTests

open FsCheck.FSharp
open Optim
open Optim.Tests
open Expecto

let private oneStep (t: GradientTransformation) (ps: Tensor[]) (grads: float32[][]) =
    let o = Optimizer.ofTransform t
    fst (o.Step ps grads (o.Init ps))

let private arb (options: FsCheck.Gen<'o>) =
    gen {
        let! o = options
        let! ps = Gen.parameters
        let! grads = Gen.gradSeq false 4 ps
        return o, ps, grads
    } |> Arb.fromGen

let tests =
    testList "CompositionTests" [
        Gen.property "Lion with beta1 = 0 is sign descent with decoupled weight decay at every step" 100 (
            Prop.forAll (arb Gen.lionOptions) (fun (o, ps, grads) ->
                let o = { o with Beta1 = 0.0; Maximize = false }
                let lion = Optimizer.ofTransform (Alias.lion o)
                let final, _ = grads |> List.fold (fun (ps, s) g -> lion.Step ps g s) (ps, lion.Init ps)
                let expected =
                    grads |> List.fold (fun (ps: float[][]) g ->
                        Array.map2 (fun (p: float[]) (g: float32[]) ->
                            Array.map2 (fun p (g: float32) -> p - o.Lr * float (sign g) - o.Lr * o.WeightDecay * p) p g) ps g)
                        (ps |> Array.map (fun p -> Array.map float p.Data))
                Array.forall2 (fun (a: Tensor) (e: float[]) -> Gen.close 1e-5 1e-5 a.Data (Array.map float32 e)) final expected))

        Gen.property "Lion's first step moves each element by lr against the gradient's sign" 100 (
            Prop.forAll (arb Gen.lionOptions) (fun (o, ps, grads) ->
                let o = { o with Beta1 = min o.Beta1 0.9; WeightDecay = 0.0; Maximize = false }
                let g = List.head grads
                let next = oneStep (Alias.lion o) ps g
                Array.forall id (Array.init ps.Length (fun i ->
                    let expected = Array.map2 (fun (x: float32) (gj: float32) -> float32 (float x - o.Lr * float (sign gj))) ps.[i].Data g.[i]
                    Gen.close 1e-6 1e-5 next.[i].Data expected))))

        Gen.property "LAMB's first step is the Adam direction plus weight decay, rescaled to length lr times the parameter's norm" 100 (
            Prop.forAll (arb Gen.lambOptions) (fun (o, ps, grads) ->
                let o = { o with Maximize = false }
                let g = List.head grads
                let next = oneStep (Alias.lamb o) ps g
                Array.forall id (Array.init ps.Length (fun i ->
                    let p = ps.[i].Data |> Array.map float
                    let u = Array.map2 (fun (gj: float32) pj -> float gj / (abs (float gj) + o.Eps) + o.WeightDecay * pj) g.[i] p
                    let norm (a: float[]) = sqrt (Array.sumBy (fun x -> x * x) a)
                    let ratio = if norm p > 0.0 && norm u > 0.0 then norm p / norm u else 1.0
                    let expected = Array.map2 (fun pj uj -> float32 (pj - o.Lr * ratio * uj)) p u
                    Gen.close 1e-5 1e-4 next.[i].Data expected))))
    ]
