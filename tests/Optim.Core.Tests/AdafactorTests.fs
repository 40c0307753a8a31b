/// Adafactor's own behaviour in the core: which parameters are factored and how, PyTorch's eps1 = None, parameters
/// without elements, the shapes its state dict records, and allocation-free in-place steps.
module Optim.Tests.AdafactorTests

open System
open Expecto
open Optim

let private shapes = [| [||]; [| 5 |]; [| 3; 4 |]; [| 2; 3; 4 |]; [| 4; 1 |] |]
let private tensors () = shapes |> Array.mapi (fun k s -> Tensor.create s (Array.init (Tensor.numel s) (fun j -> float32 (Math.Sin(float (7 * k + j + 1))))))
let private grads (ps: Tensor[]) (t: int) = ps |> Array.map (fun p -> Array.init p.Data.Length (fun j -> float32 (Math.Cos(float (3 * t + j)))))

let private length (a: float32[]) = if isNull a then -1 else a.Length

let tests =
    testList "AdafactorTests" [
        testCase "Init creates the row and column factors of every parameter of two or more dimensions, over its last two" <| fun () ->
            let s = (Fused.adafactor AdafactorOptions.defaults).Init(tensors ())
            Assert.Equal<int[]>([| -1; -1; 3; 6; 4 |], (State.buffer "row_var" s) |> Array.map length)
            Assert.Equal<int[]>([| -1; -1; 4; 8; 1 |], (State.buffer "col_var" s) |> Array.map length)
            Assert.True((State.buffer "row_var" s).[2] |> Array.forall ((=) 0.0f))
            Assert.Equal<int[]>([| -1; -1; -1; -1; -1 |], (State.buffer "variance" s) |> Array.map length)
            Assert.Equal(BufferLayout.Reduced -1, State.layout "row_var" s)
            Assert.Equal(BufferLayout.Reduced -2, State.layout "col_var" s)

        testCase "a first step creates the second moment of the vectors and the scalar, in their shapes" <| fun () ->
            let o = Fused.adafactor AdafactorOptions.defaults
            let ps = tensors ()
            let _, s = o.Step ps (grads ps 0) (o.Init ps)
            Assert.Equal<int[]>([| 1; 5; -1; -1; -1 |], (State.buffer "variance" s) |> Array.map length)
            Assert.Equal<int64[]>([| 1L; 1L; 1L; 1L; 1L |], s.Steps)

        testCase "eps1 None is float32's machine epsilon, in the fused kernel and in the chain" <| fun () ->
            let ps = tensors ()
            for make in [ Fused.adafactor; Alias.adafactor >> Optimizer.ofTransform ] do
                let run (o: Optimizer) = [ 0 .. 4 ] |> List.fold (fun (ps, s) t -> o.Step ps (grads ps t) s) (ps, o.Init ps) |> fst
                let none = run (make { AdafactorOptions.defaults with Eps1 = ValueNone })
                let machine = run (make { AdafactorOptions.defaults with Eps1 = ValueSome(float (MathF.BitIncrement 1.0f - 1.0f)) })
                let larger = run (make { AdafactorOptions.defaults with Eps1 = ValueSome 0.5 })
                Assert.True(Array.forall2 (fun (a: Tensor) (b: Tensor) -> a.Data = b.Data) none machine)
                Assert.False(Array.forall2 (fun (a: Tensor) (b: Tensor) -> a.Data = b.Data) none larger)

        testCase "a parameter with no elements counts its step and changes nothing else" <| fun () ->
            let ps = [| Tensor.zeros [| 0 |]; Tensor.zeros [| 0; 3 |]; Tensor.zeros [| 3; 0 |] |]
            for o in [ Fused.adafactor AdafactorOptions.defaults; Optimizer.ofTransform (Alias.adafactor AdafactorOptions.defaults) ] do
                let s0 = o.Init ps
                let p1, s1 = o.Step ps (ps |> Array.map (fun _ -> [||])) s0
                Assert.Equal<int64[]>([| 1L; 1L; 1L |], s1.Steps)
                Assert.Equal<float32[]>([| 0.0f; 0.0f; 0.0f |], (State.buffer "col_var" s1).[1])
                Assert.Equal<float32[]>([| 0.0f; 0.0f; 0.0f |], (State.buffer "row_var" s1).[2])
                Assert.True(p1 |> Array.forall (fun p -> p.Data.Length = 0))

        testCase "its state dict records the shapes of the factors" <| fun () ->
            let o = Fused.adafactor AdafactorOptions.defaults
            let ps = tensors ()
            let _, s = o.Step ps (grads ps 0) (o.Init ps)
            let json = Checkpoint.toJson { Kind = "Adafactor"; State = s; Groups = [||]; Names = Array.create ps.Length null; Shapes = shapes }
            Assert.Contains("\"row_var\":{\"shape\":[2,3,1],", json)
            Assert.Contains("\"col_var\":{\"shape\":[2,1,4],", json)
            Assert.Contains("\"col_var\":{\"shape\":[1,1],", json)
            Assert.Contains("\"0\":{\"step\":1,\"variance\":[", json)

        testCase "an in-place step allocates nothing once the state exists, factored or not, large enough to split or not" <| fun () ->
            let o = AdafactorOptions.defaults
            let ps = Array.append (tensors ()) [| Tensor.zeros [| Split.threshold + 5 |]; Tensor.zeros [| 300; 200 |] |]
            let state = (Fused.adafactor o).Init ps
            let gs = grads ps 1
            let step () =
                for i in 0 .. ps.Length - 1 do
                    Fused.adafactorInPlace (o, state, i, Span ps.[i].Data, ReadOnlySpan gs.[i])
            step ()
            step ()
            // A large kernel runs here alone when another test holds the kernels' worker, and the first time a path runs on
            // this thread it creates its reusable job: a one-time allocation. One that came with every step would show in every
            // measurement, so some of five measured steps must allocate nothing.
            let measured =
                List.init 5 (fun _ ->
                    let before = GC.GetAllocatedBytesForCurrentThread()
                    step ()
                    GC.GetAllocatedBytesForCurrentThread() - before)
            Assert.Contains(0L, measured)
            Assert.Equal(7L, state.Steps.[0])
    ]
