/// Checkpoints: JSON round trips and the errors for documents that do not fit.
module Optim.Tests.CheckpointTests

open System
open FsCheck.FSharp
open Expecto
open Optim
open Optim.Tests

let private adam = Fused.adam AdamOptions.adam

let private trained () =
    let ps = [| Tensor.create [| 2; 3 |] (Array.init 6 float32); Tensor.ofArray [| 1.0f; nanf; infinityf |] |]
    let s = adam.Init ps
    let _, s = adam.Step ps [| Array.create 6 0.5f; null |] s
    ps, s

let private doc kind (ps: Tensor[]) s =
    { Kind = kind; State = s; Groups = [| { Hyper = [| "lr", Number 1e-3; "betas", Pair(0.9, 0.999); "amsgrad", Flag false; "fn", Text "x"; "m", Absent |]; Params = [| 0; 1 |] } |]
      Names = [| "w"; null |]; Shapes = ps |> Array.map (fun p -> p.Shape) }

let private fails (f: unit -> unit) (fragment: string) =
    let e = Assert.ThrowsAny<ArgumentException>(f)
    Assert.Contains(fragment, e.Message)

/// A state over a 2×3 matrix and a vector whose matrix has factored buffers: "rows" of shape [2, 1] and "cols" of [1, 3].
let private factored () =
    let s =
        State.empty 2
        |> State.declareWith (BufferLayout.Reduced -1) "rows" |> State.declareWith (BufferLayout.Reduced -2) "cols" |> State.declare "v"
        |> State.setBuffer "rows" [| [| 1.0f; 2.0f |]; null |]
        |> State.setBuffer "cols" [| [| 3.0f; 4.0f; 5.0f |]; null |]
        |> State.setBuffer "v" [| null; [| 6.0f; 7.0f |] |]
    { s with Steps = [| 1L; 1L |] }

let private factoredShapes = [| [| 2; 3 |]; [| 2 |] |]

let private factoredJson (rows: string) (cols: string) =
    $"""{{"optimizer":"F","state":{{"0":{{"step":1,"rows":{rows},"cols":{cols}}},"1":{{"step":1,"v":[6,7]}}}},"param_groups":[{{"params":[0,1]}}],"param_names":[null,null],"param_shapes":[[2,3],[2]]}}"""

let tests =
    testList "CheckpointTests" [
        testCase "a checkpoint survives a JSON round trip exactly" <| fun () ->
            let ps, s = trained ()
            let c = doc "Adam" ps s
            let back = Checkpoint.ofJson (Checkpoint.toJson c)
            Assert.Equal("Adam", back.Kind)
            Assert.Equal<int64[]>(s.Steps, back.State.Steps)
            Assert.Equal<float32[]>((State.buffer "exp_avg" s).[0], (State.buffer "exp_avg" back.State).[0])
            Assert.Null((State.buffer "exp_avg" back.State).[1])
            Assert.Equal<(string * HyperValue)[]>(c.Groups.[0].Hyper, back.Groups.[0].Hyper)
            Assert.Equal<string[]>(c.Names, back.Names)

        Gen.property "random states survive a JSON round trip bit for bit" 100 (
            let arb =
                gen {
                    let! ps = Gen.parameters
                    let! grads = Gen.gradSeq true 3 ps
                    return ps, grads
                } |> Arb.fromGen
            Prop.forAll arb (fun (ps, grads) ->
                let _, s = grads |> List.fold (fun (ps, s) g -> adam.Step ps g s) (ps, adam.Init ps)
                let shapes = ps |> Array.map (fun p -> p.Shape)
                let names = [| for _ in ps -> null |]
                let back = Checkpoint.ofJson (Checkpoint.toJson { Kind = "Adam"; State = s; Groups = [||]; Names = names; Shapes = shapes })
                let restored = Checkpoint.conform "Adam" (adam.Init ps) shapes names [||] back
                restored.Steps = s.Steps
                && Map.forall (fun k (b: float32[][]) -> b = (State.buffer k restored)) s.Buffers))

        testCase "malformed JSON is rejected with a clear message" <| fun () ->
            fails (fun () -> Checkpoint.ofJson "{ not json" |> ignore) "not valid JSON"
            fails (fun () -> Checkpoint.ofJson "[]" |> ignore) "must be an object"
            fails (fun () -> Checkpoint.ofJson """{"optimizer":"Adam","state":{},"param_groups":[],"param_names":[],"param_shapes":[[2]]}""" |> ignore) "param_names"
            fails (fun () -> Checkpoint.ofJson """{"optimizer":"Adam","state":{"5":{}},"param_groups":[],"param_names":[null],"param_shapes":[[2]]}""" |> ignore) "'5'"
            fails (fun () -> Checkpoint.ofJson """{"optimizer":"Adam","state":{"0":{"step":1,"exp_avg":[1,2,3]}},"param_groups":[],"param_names":[null],"param_shapes":[[2]]}""" |> ignore) "shape [2]"
            fails (fun () -> Checkpoint.ofJson """{"optimizer":"Adam","state":{"0":{"exp_avg":[1,2]}},"param_groups":[],"param_names":[null],"param_shapes":[[2]]}""" |> ignore) "has no 'step'"

        testCase "a checkpoint that does not fit the optimizer is rejected, naming what differs" <| fun () ->
            let ps, s = trained ()
            let c = Checkpoint.ofJson (Checkpoint.toJson (doc "Adam" ps s))
            let shapes = ps |> Array.map (fun p -> p.Shape)
            let conform kind (shapes: int[][]) names sizes = Checkpoint.conform kind (adam.Init (shapes |> Array.map Tensor.zeros)) shapes names sizes c |> ignore
            fails (fun () -> conform "SGD" shapes [| "w"; null |] [| 2 |]) "from a Adam optimizer"
            fails (fun () -> conform "Adam" [| shapes.[0] |] [| "w" |] [| 1 |]) "holds 2 parameters"
            fails (fun () -> conform "Adam" [| [| 3; 2 |]; shapes.[1] |] [| "w"; null |] [| 2 |]) "shape [3, 2]"
            fails (fun () -> conform "Adam" shapes [| "v"; null |] [| 2 |]) "named 'v'"
            fails (fun () -> conform "Adam" shapes [| "w"; null |] [| 1; 1 |]) "param groups"

        testCase "a buffer of one value per parameter must be one value, and any other buffer one value per element" <| fun () ->
            let shapes = [| [| 3 |] |]
            let names = [| null |]
            let load kind (template: State) (json: string) = Checkpoint.conform kind template shapes names [| 1 |] (Checkpoint.ofJson json) |> ignore
            let doc kind (buffers: string) =
                $"""{{"optimizer":"{kind}","state":{{"0":{{"step":1,{buffers}}}}},"param_groups":[{{"params":[0]}}],"param_names":[null],"param_shapes":[[3]]}}"""
            let asgd = (Fused.asgd AsgdOptions.defaults).Init [| Tensor.zeros [| 3 |] |]
            load "ASGD" asgd (doc "ASGD" "\"eta\":[0.01],\"mu\":[1],\"ax\":[1,2,3]")
            fails (fun () -> load "ASGD" asgd (doc "ASGD" "\"eta\":[0.01,0.01,0.01],\"mu\":[1],\"ax\":[1,2,3]")) "one value per parameter"
            fails (fun () -> load "ASGD" asgd (doc "ASGD" "\"eta\":[0.01],\"mu\":[1],\"ax\":[1]")) "one value per element"
            let nadam = (Fused.nadam NadamOptions.defaults).Init [| Tensor.zeros [| 3 |] |]
            fails (fun () -> load "NAdam" nadam (doc "NAdam" "\"exp_avg\":[1],\"exp_avg_sq\":[1,2,3],\"mu_product\":[0.9]")) "'exp_avg'"

        testCase "a parameter the checkpoint holds no state for starts from the optimizer's fresh state" <| fun () ->
            let ps = [| Tensor.zeros [| 2 |]; Tensor.zeros [| 3 |] |]
            let o = Fused.adagrad { AdagradOptions.defaults with InitialAccumulatorValue = 0.25 }
            let json = """{"optimizer":"Adagrad","state":{"0":{"step":4,"sum":[1,2]}},"param_groups":[{"params":[0,1]}],"param_names":[null,null],"param_shapes":[[2],[3]]}"""
            let s = Checkpoint.conform "Adagrad" (o.Init ps) [| [| 2 |]; [| 3 |] |] [| null; null |] [| 2 |] (Checkpoint.ofJson json)
            Assert.Equal<int64[]>([| 4L; 0L |], s.Steps)
            Assert.Equal<float32[]>([| 1.0f; 2.0f |], (State.buffer "sum" s).[0])
            Assert.Equal<float32[]>([| 0.25f; 0.25f; 0.25f |], (State.buffer "sum" s).[1])

        testCase "a reduced buffer's shape follows its parameter's, and parameters of fewer than two dimensions have none" <| fun () ->
            Assert.Equal<int[]>([| 2; 1; 4 |], (BufferLayout.shapeOf (BufferLayout.Reduced -2) [| 2; 3; 4 |] |> ValueOption.get))
            Assert.Equal<int[]>([| 2; 3; 1 |], (BufferLayout.shapeOf (BufferLayout.Reduced -1) [| 2; 3; 4 |] |> ValueOption.get))
            Assert.Equal<int[]>([||], (BufferLayout.shapeOf BufferLayout.Scalar [| 2; 3 |] |> ValueOption.get))
            Assert.Equal<int[]>([| 2; 3 |], (BufferLayout.shapeOf BufferLayout.Elementwise [| 2; 3 |] |> ValueOption.get))
            Assert.True(BufferLayout.shapeOf (BufferLayout.Reduced -1) [| 5 |] |> ValueOption.isNone)
            Assert.True(BufferLayout.shapeOf (BufferLayout.Reduced -3) [| 2; 3 |] |> ValueOption.isNone)

        testCase "a buffer of another shape than its parameter's is written with its shape and read back exactly" <| fun () ->
            let s = factored ()
            let json = Checkpoint.toJson { Kind = "F"; State = s; Groups = [||]; Names = [| null; null |]; Shapes = factoredShapes }
            Assert.Contains("\"rows\":{\"shape\":[2,1],\"data\":[1,2]}", json)
            Assert.Contains("\"cols\":{\"shape\":[1,3],\"data\":[3,4,5]}", json)
            Assert.Contains("\"v\":[6,7]", json)
            let back = Checkpoint.conform "F" (State.copy s) factoredShapes [| null; null |] [||] (Checkpoint.ofJson json)
            Assert.Equal<float32[]>([| 3.0f; 4.0f; 5.0f |], (State.buffer "cols" back).[0])
            Assert.Equal(BufferLayout.Reduced -2, State.layout "cols" back)

        testCase "a reduced buffer with another shape, another size or no shape is rejected, naming it" <| fun () ->
            let template = factored ()
            let load json = Checkpoint.conform "F" template factoredShapes [| null; null |] [| 2 |] (Checkpoint.ofJson json) |> ignore
            load (factoredJson """{"shape":[2,1],"data":[1,2]}""" """{"shape":[1,3],"data":[3,4,5]}""")
            // the shapes swapped: each buffer records a shape, but not the one this optimizer keeps there
            fails (fun () -> load (factoredJson """{"shape":[1,3],"data":[1,2,3]}""" """{"shape":[2,1],"data":[3,4]}""")) "'cols' of parameter 0 has 2 elements"
            fails (fun () -> load (factoredJson """{"shape":[2,1],"data":[1,2,3]}""" """{"shape":[1,3],"data":[3,4,5]}""")) "its shape is [2, 1]"
            fails (fun () -> load (factoredJson """{"shape":[2,3,1],"data":[1,2,3,4,5,6]}""" """{"shape":[1,3],"data":[3,4,5]}""")) "not parameter 0's shape [2, 3]"
            fails (fun () -> load (factoredJson """{"shape":[1,1],"data":[1]}""" """{"shape":[1,3],"data":[3,4,5]}""")) "not parameter 0's shape [2, 3]"
            fails (fun () -> load (factoredJson "[1,2]" """{"shape":[1,3],"data":[3,4,5]}""")) "state[0].rows has 2 elements"
            fails (fun () -> load (factoredJson """{"data":[1,2]}""" """{"shape":[1,3],"data":[3,4,5]}""")) "has no 'shape'"

        testCase "a square parameter's reduced buffers with each other's shapes are rejected by shape" <| fun () ->
            let shapes = [| [| 2; 2 |] |]
            let template =
                State.empty 1 |> State.declareWith (BufferLayout.Reduced -1) "rows" |> State.declareWith (BufferLayout.Reduced -2) "cols"
            let json (rows: string) (cols: string) =
                $"""{{"optimizer":"F","state":{{"0":{{"step":1,"rows":{rows},"cols":{cols}}}}},"param_groups":[{{"params":[0]}}],"param_names":[null],"param_shapes":[[2,2]]}}"""
            let load j = Checkpoint.conform "F" template shapes [| null |] [| 1 |] (Checkpoint.ofJson j) |> ignore
            load (json """{"shape":[2,1],"data":[1,2]}""" """{"shape":[1,2],"data":[3,4]}""")
            fails (fun () -> load (json """{"shape":[1,2],"data":[1,2]}""" """{"shape":[2,1],"data":[3,4]}""")) "'cols' of parameter 0 has shape [2, 1], but a F optimizer keeps shape [1, 2] there"
            // a reduced buffer for a parameter that cannot have one
            let vector = State.empty 1 |> State.declareWith (BufferLayout.Reduced -1) "rows"
            fails (fun () ->
                Checkpoint.conform "F" vector [| [| 2 |] |] [| null |] [| 1 |]
                    (Checkpoint.ofJson """{"optimizer":"F","state":{"0":{"step":1,"rows":[1]}},"param_groups":[{"params":[0]}],"param_names":[null],"param_shapes":[[2]]}""")
                |> ignore) "keeps none for a parameter of shape [2]"
    ]
