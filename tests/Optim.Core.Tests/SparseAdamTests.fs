/// SparseAdam: PyTorch's trajectories with sparse gradients, and the laws of lazy, row-wise updates.
module Optim.Tests.SparseAdamTests

open System
open System.Collections.Generic
open System.Text.Json
open FsCheck
open FsCheck.FSharp
open Expecto
open Optim
open Optim.Tests
open Optim.Tests.Golden

let private optionsFor (get: string -> JsonElement) : SparseAdamOptions =
    let betas = get "betas"
    { Lr = (get "lr").GetDouble(); Beta1 = betas.[0].GetDouble(); Beta2 = betas.[1].GetDouble()
      Eps = (get "eps").GetDouble(); Maximize = (get "maximize").GetBoolean() }

[<NoComparison; NoEquality>]
type private Group = { Overrides: Dictionary<string, JsonElement>; Base: JsonElement; Indices: int[]; mutable State: State }

/// Replays a sparse_adam.json case through the pure step or the in-place step.
let private replay (case: Case) (inPlace: bool) =
    let ps = ResizeArray<Tensor>(case.Params |> Array.map (fun p -> Tensor.create p.Shape (Array.copy p.Data)))
    let groups = ResizeArray<Group>()
    let optimizer (g: Group) =
        Fused.sparseAdam (optionsFor (fun key -> match g.Overrides.TryGetValue key with | true, v -> v | _ -> hyper case g.Base key))
    let addGroup (json: JsonElement) (indices: int[]) =
        let g = { Overrides = Dictionary(); Base = json; Indices = indices; State = State.empty 0 }
        g.State <- (optimizer g).Init(indices |> Array.map (fun i -> ps.[i]))
        groups.Add g
    for gj in case.Groups do addGroup gj [| for i in gj.GetProperty("params").EnumerateArray() -> i.GetInt32() |]
    case.Steps |> Array.iteri (fun k step ->
        for e in step.Before do
            match e with
            | AddGroup (defs, hyperJson) ->
                let first = ps.Count
                for d in defs do ps.Add(Tensor.create d.Shape (Array.copy d.Data))
                addGroup hyperJson (Array.init defs.Length (fun j -> first + j))
            | Set (gi, key, value) -> groups.[gi].Overrides.[key] <- value
            | Roundtrip ->
                for g in groups do
                    let shapes = g.Indices |> Array.map (fun i -> ps.[i].Shape)
                    let names = Array.create g.Indices.Length null
                    let json = Checkpoint.toJson { Kind = "SparseAdam"; State = g.State; Groups = [||]; Names = names; Shapes = shapes }
                    let template = (optimizer g).Init(g.Indices |> Array.map (fun i -> ps.[i]))
                    g.State <- Checkpoint.conform "SparseAdam" template shapes names [||] (Checkpoint.ofJson json)
        for g in groups do
            let local = g.Indices |> Array.map (fun i -> ps.[i])
            let grads = g.Indices |> Array.map (fun i -> step.Sparse.[i])
            if inPlace then g.State <- (optimizer g).StepInPlace local grads g.State
            else
                let next, s = (optimizer g).Step local grads g.State
                g.State <- s
                g.Indices |> Array.iteri (fun j i -> ps.[i] <- next.[j])
        for i in 0 .. ps.Count - 1 do
            if not (Gen.close 1e-5 1e-4 ps.[i].Data step.Params.[i]) then
                Assert.Fail $"{case.Name}: parameter {i} differs from PyTorch after step {k + 1}")
    let states = groups |> Seq.collect (fun g -> g.Indices |> Seq.mapi (fun j i -> i, (g.State, j))) |> Map.ofSeq
    for entry in case.FinalState.EnumerateObject() do
        let s, j = states.[int entry.Name]
        for field in entry.Value.EnumerateObject() do
            if field.Name = "step" then Assert.Equal(int64 (field.Value.GetDouble()), s.Steps.[j])
            else
                let expected = [| for x in field.Value.EnumerateArray() -> x.GetSingle() |]
                Assert.True(Gen.close 1e-5 1e-4 (State.buffer field.Name s).[j] expected, $"{case.Name}: state {entry.Name}.{field.Name}")

let private case name = load "sparse_adam" |> Array.find (fun c -> c.Name = name)

let private options =
    gen {
        let! lr = Gen.elements [ 1e-3; 1e-2; 0.1 ]
        let! b1 = Gen.elements [ 0.0; 0.8; 0.9 ]
        let! b2 = Gen.elements [ 0.9; 0.99; 0.999 ]
        let! eps = Gen.elements [ 1e-8; 1e-6; 1e-3 ]
        let! maximize = Gen.elements [ true; false ]
        return { Lr = lr; Beta1 = b1; Beta2 = b2; Eps = eps; Maximize = maximize }
    }

/// A sparse gradient of a parameter: 0 to 2·rows random rows (repeats likely), or null.
let private sparseFor (p: Tensor) =
    gen {
        let n = p.Shape.[0]
        let width = SparseGradient.rowWidth p.Shape
        let! missing = Gen.frequency [ 1, Gen.constant true; 4, Gen.constant false ]
        let! k = Gen.choose (0, 2 * n)
        let! rows = Gen.arrayOfLength k (Gen.choose (0, n - 1))
        let! values = Gen.arrayOfLength (k * width) (Gen.choose (-1000, 1000) |> Gen.map (fun v -> float32 v / 100.0f))
        return if missing then Unchecked.defaultof<SparseGradient> else { Rows = rows; Values = values }
    }

let private scenario =
    gen {
        let! o = options
        let! ps = Gen.parameters
        let! steps = Gen.choose (1, 5)
        let! grads = Gen.listOfLength steps (ps |> Array.map sparseFor |> Gen.sequenceToArray)
        return o, ps, grads
    } |> Arb.fromGen

let private runPure (o: SparseOptimizer) (ps: Tensor[]) grads = grads |> List.fold (fun (ps, s) g -> o.Step ps g s) (ps, o.Init ps)

let private same (a: State) (b: State) =
    a.Steps = b.Steps && a.Buffers |> Map.forall (fun k v -> Array.forall2 (fun (x: float32[]) y -> x = y) v b.Buffers.[k])

let tests =
    testList "SparseAdamTests" [
        testList "pure SparseAdam follows PyTorch's trajectory on sparse gradients" [
            for name in Golden.caseNames "sparse_adam" ->
                testCase name <| fun () ->
                    replay (case name) false
        ]

        testList "in-place SparseAdam follows PyTorch's trajectory on sparse gradients" [
            for name in Golden.caseNames "sparse_adam" ->
                testCase name <| fun () ->
                    replay (case name) true
        ]

        Gen.property "the pure step and the in-place step give identical numbers" 200 (
            Prop.forAll scenario (fun (o, ps, grads) ->
                let opt = Fused.sparseAdam o
                let p1, s1 = runPure opt ps grads
                let copies = ps |> Array.map Tensor.copy
                let s2 = grads |> List.fold (fun s g -> opt.StepInPlace copies g s) (opt.Init copies)
                Array.forall2 (fun (a: Tensor) (b: Tensor) -> a.Data = b.Data) p1 copies && same s1 s2))

        Gen.property "repeated rows act as one row carrying their sum" 200 (
            Prop.forAll scenario (fun (o, ps, grads) ->
                let opt = Fused.sparseAdam o
                let coalesced = grads |> List.map (Array.mapi (fun i (g: SparseGradient) ->
                    if isNull (box g) then g else SparseGradient.coalesce (SparseGradient.rowWidth ps.[i].Shape) g))
                let p1, s1 = runPure opt ps grads
                let p2, s2 = runPure opt ps coalesced
                Array.forall2 (fun (a: Tensor) (b: Tensor) -> a.Data = b.Data) p1 p2 && same s1 s2))

        Gen.property "rows without a gradient keep their values and their moments" 200 (
            Prop.forAll scenario (fun (o, ps, grads) ->
                let opt = Fused.sparseAdam o
                let p1, s1 = runPure opt ps grads
                let g = List.last grads
                let p2, s2 = opt.Step p1 g s1
                Array.forall id (Array.init ps.Length (fun i ->
                    let width = SparseGradient.rowWidth ps.[i].Shape
                    let touched = if isNull (box g.[i]) then Set.empty else Set.ofArray g.[i].Rows
                    Array.forall id (Array.init ps.[i].Shape.[0] (fun r ->
                        touched.Contains r
                        || (let slice (a: float32[]) = if isNull a then null else a.[r * width .. (r + 1) * width - 1]
                            slice p1.[i].Data = slice p2.[i].Data
                            && slice (State.buffer "exp_avg" s1).[i] = slice (State.buffer "exp_avg" s2).[i]
                            && slice (State.buffer "exp_avg_sq" s1).[i] = slice (State.buffer "exp_avg_sq" s2).[i])))))))

        Gen.property "a run resumed from a JSON checkpoint equals the uninterrupted run" 100 (
            Prop.forAll scenario (fun (o, ps, grads) ->
                let opt = Fused.sparseAdam o
                let k = List.length grads / 2
                let p1, s1 = runPure opt ps (List.take k grads)
                let shapes = ps |> Array.map (fun p -> p.Shape)
                let names = Array.create ps.Length null
                let json = Checkpoint.toJson { Kind = "SparseAdam"; State = s1; Groups = [||]; Names = names; Shapes = shapes }
                let s1' = Checkpoint.conform "SparseAdam" (opt.Init ps) shapes names [||] (Checkpoint.ofJson json)
                let resumed = List.skip k grads |> List.fold (fun (ps, s) g -> opt.Step ps g s) (p1, s1')
                let straight = runPure opt ps grads
                Array.forall2 (fun (a: Tensor) (b: Tensor) -> a.Data = b.Data) (fst resumed) (fst straight) && same (snd resumed) (snd straight)))

        Gen.property "maximizing g gives the same steps as minimizing -g" 100 (
            Prop.forAll scenario (fun (o, ps, grads) ->
                let negated = grads |> List.map (Array.map (fun (g: SparseGradient) ->
                    if isNull (box g) then g else { g with Values = Array.map (fun x -> -x) g.Values }))
                let pa, sa = runPure (Fused.sparseAdam { o with Maximize = true }) ps grads
                let pb, sb = runPure (Fused.sparseAdam { o with Maximize = false }) ps negated
                Array.forall2 (fun (a: Tensor) (b: Tensor) -> a.Data = b.Data) pa pb && same sa sb))

        testCase "a gradient that does not fit its parameter is rejected before anything changes" <| fun () ->
            let ps = [| Tensor.create [| 3; 2 |] (Array.init 6 float32); Tensor.ofArray [| 1.0f; 2.0f |] |]
            let opt = Fused.sparseAdam SparseAdamOptions.defaults
            let s = opt.Init ps
            let good = { Rows = [| 0 |]; Values = [| 1.0f; 1.0f |] }
            for bad in [ { Rows = [| 3 |]; Values = [| 1.0f; 1.0f |] }; { Rows = [| -1 |]; Values = [| 1.0f; 1.0f |] }; { Rows = [| 0 |]; Values = [||] } ] do
                let e = Assert.ThrowsAny<ArgumentException>(fun () -> opt.StepInPlace ps [| good; bad |] s |> ignore)
                Assert.Equal("grads", e.ParamName)
                Assert.Contains("Gradient 1", e.Message)
            Assert.Equal<float32[]>(Array.init 6 float32, ps.[0].Data)
            Assert.Equal<int64[]>([| 0L; 0L |], s.Steps)

        testCase "the in-place row step takes coalesced rows only, and checks every length" <| fun () ->
            let o = SparseAdamOptions.defaults
            let s = (Fused.sparseAdam o).Init [| Tensor.zeros [| 4; 2 |] |]
            let p = Array.zeroCreate<float32> 8
            let call (rows: int[]) (values: float32[]) (width: int) = fun () -> Fused.sparseAdamInPlace (o, s, 0, Span p, width, ReadOnlySpan rows, ReadOnlySpan values)
            Assert.Equal("rows", Assert.ThrowsAny<ArgumentException>(call [| 2; 1 |] (Array.zeroCreate 4) 2).ParamName)
            Assert.Equal("rows", Assert.ThrowsAny<ArgumentException>(call [| 1; 1 |] (Array.zeroCreate 4) 2).ParamName)
            Assert.Equal("rows", Assert.ThrowsAny<ArgumentException>(call [| 4 |] (Array.zeroCreate 2) 2).ParamName)
            Assert.Equal("values", Assert.ThrowsAny<ArgumentException>(call [| 1 |] (Array.zeroCreate 3) 2).ParamName)
            Assert.Equal("rowWidth", Assert.ThrowsAny<ArgumentException>(call [| 1 |] (Array.zeroCreate 3) 3).ParamName)
            Assert.Equal(0L, s.Steps.[0])
            Assert.Equal("lr", Assert.ThrowsAny<ArgumentException>(fun () -> Fused.sparseAdam { o with Lr = 0.0 } |> ignore).ParamName)
            Assert.Equal("eps", Assert.ThrowsAny<ArgumentException>(fun () -> Fused.sparseAdam { o with Eps = 0.0 } |> ignore).ParamName)
            Assert.Equal("betas", Assert.ThrowsAny<ArgumentException>(fun () -> Fused.sparseAdam { o with Beta2 = 1.0 } |> ignore).ParamName)
    ]
