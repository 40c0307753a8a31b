/// Checkpoints: JSON round trips and the errors for documents that do not fit.
module Optim.Tests.CheckpointTests

open System
open FsCheck.FSharp
open Xunit
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

[<Fact>]
let ``a checkpoint survives a JSON round trip exactly`` () =
    let ps, s = trained ()
    let c = doc "Adam" ps s
    let back = Checkpoint.ofJson (Checkpoint.toJson c)
    Assert.Equal("Adam", back.Kind)
    Assert.Equal<int64[]>(s.Steps, back.State.Steps)
    Assert.Equal<float32[]>((State.buffer "exp_avg" s).[0], (State.buffer "exp_avg" back.State).[0])
    Assert.Null((State.buffer "exp_avg" back.State).[1])
    Assert.Equal<(string * HyperValue)[]>(c.Groups.[0].Hyper, back.Groups.[0].Hyper)
    Assert.Equal<string[]>(c.Names, back.Names)

[<Fact>]
let ``random states survive a JSON round trip bit for bit`` () =
    let arb =
        gen {
            let! ps = Gen.parameters
            let! grads = Gen.gradSeq true 3 ps
            return ps, grads
        } |> Arb.fromGen
    Gen.check 100 arb (fun (ps, grads) ->
        let _, s = grads |> List.fold (fun (ps, s) g -> adam.Step ps g s) (ps, adam.Init ps)
        let shapes = ps |> Array.map (fun p -> p.Shape)
        let names = [| for _ in ps -> null |]
        let back = Checkpoint.ofJson (Checkpoint.toJson { Kind = "Adam"; State = s; Groups = [||]; Names = names; Shapes = shapes })
        let restored = Checkpoint.conform "Adam" (adam.Init ps) shapes names [||] back
        restored.Steps = s.Steps
        && Map.forall (fun k (b: float32[][]) -> b = (State.buffer k restored)) s.Buffers)

let private fails (f: unit -> unit) (fragment: string) =
    let e = Assert.ThrowsAny<ArgumentException>(f)
    Assert.Contains(fragment, e.Message)

[<Fact>]
let ``malformed JSON is rejected with a clear message`` () =
    fails (fun () -> Checkpoint.ofJson "{ not json" |> ignore) "not valid JSON"
    fails (fun () -> Checkpoint.ofJson "[]" |> ignore) "must be an object"
    fails (fun () -> Checkpoint.ofJson """{"optimizer":"Adam","state":{},"param_groups":[],"param_names":[],"param_shapes":[[2]]}""" |> ignore) "param_names"
    fails (fun () -> Checkpoint.ofJson """{"optimizer":"Adam","state":{"5":{}},"param_groups":[],"param_names":[null],"param_shapes":[[2]]}""" |> ignore) "'5'"
    fails (fun () -> Checkpoint.ofJson """{"optimizer":"Adam","state":{"0":{"exp_avg":[1,2,3]}},"param_groups":[],"param_names":[null],"param_shapes":[[2]]}""" |> ignore) "shape [2]"

[<Fact>]
let ``a checkpoint that does not fit the optimizer is rejected, naming what differs`` () =
    let ps, s = trained ()
    let c = Checkpoint.ofJson (Checkpoint.toJson (doc "Adam" ps s))
    let shapes = ps |> Array.map (fun p -> p.Shape)
    let conform kind (shapes: int[][]) names sizes = Checkpoint.conform kind (adam.Init (shapes |> Array.map Tensor.zeros)) shapes names sizes c |> ignore
    fails (fun () -> conform "SGD" shapes [| "w"; null |] [| 2 |]) "from a Adam optimizer"
    fails (fun () -> conform "Adam" [| shapes.[0] |] [| "w" |] [| 1 |]) "holds 2 parameters"
    fails (fun () -> conform "Adam" [| [| 3; 2 |]; shapes.[1] |] [| "w"; null |] [| 2 |]) "shape [3, 2]"
    fails (fun () -> conform "Adam" shapes [| "v"; null |] [| 2 |]) "named 'v'"
    fails (fun () -> conform "Adam" shapes [| "w"; null |] [| 1; 1 |]) "param groups"

[<Fact>]
let ``a buffer of one value per parameter must be one value, and any other buffer one value per element`` () =
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

[<Fact>]
let ``a parameter the checkpoint holds no state for starts from the optimizer's fresh state`` () =
    let ps = [| Tensor.zeros [| 2 |]; Tensor.zeros [| 3 |] |]
    let o = Fused.adagrad { AdagradOptions.defaults with InitialAccumulatorValue = 0.25 }
    let json = """{"optimizer":"Adagrad","state":{"0":{"step":4,"sum":[1,2]}},"param_groups":[{"params":[0,1]}],"param_names":[null,null],"param_shapes":[[2],[3]]}"""
    let s = Checkpoint.conform "Adagrad" (o.Init ps) [| [| 2 |]; [| 3 |] |] [| null; null |] [| 2 |] (Checkpoint.ofJson json)
    Assert.Equal<int64[]>([| 4L; 0L |], s.Steps)
    Assert.Equal<float32[]>([| 1.0f; 2.0f |], (State.buffer "sum" s).[0])
    Assert.Equal<float32[]>([| 0.25f; 0.25f; 0.25f |], (State.buffer "sum" s).[1])
