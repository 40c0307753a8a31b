// The demo's model, trained through the pure F# core: an MLP 784-128-10 on Fashion-MNIST with Adam, where the
// parameters and the optimizer state are values threaded through a fold over the batches. Optim.NN supplies the
// gradients; nothing is mutated between steps.
//   dotnet run -c Release --project samples/Optim.FSharpSample -- [DATA_DIR] [EPOCHS]
open System
open System.IO
open Optim
open Optim.NN

type NNTensor = Optim.NN.Tensor

/// The loss of the MLP with parameters `ps` (weight, bias, weight, bias) on a batch, and its gradients.
let lossAndGrads (ps: Optim.Tensor[]) (x: NNTensor) (y: NNTensor) : float32 * float32[][] =
    let leaves = ps |> Array.map (fun p -> NNTensor(p.Data, p.Shape, RequiresGrad = true))
    let hidden = Functional.Linear(x, leaves.[0], leaves.[1]).Relu()
    let loss = Functional.CrossEntropy(Functional.Linear(hidden, leaves.[2], leaves.[3]), y)
    loss.Backward()
    loss.Item(), leaves |> Array.map (fun l -> l.Grad)

/// The fraction of the test images whose largest logit is at their label.
let accuracy (ps: Optim.Tensor[]) (test: TensorDataset) =
    use _ = NNTensor.NoGrad()
    let t (p: Optim.Tensor) = NNTensor(p.Data, p.Shape)
    let logits = Functional.Linear(Functional.Linear(test.Inputs, t ps.[0], t ps.[1]).Relu(), t ps.[2], t ps.[3])
    let classes = logits.Shape.[1]
    let predicted i = Seq.maxBy (fun c -> logits.Data.[i * classes + c]) [ 0 .. classes - 1 ]
    let correct = Seq.sumBy (fun i -> if float32 (predicted i) = test.Targets.Data.[i] then 1 else 0) [ 0 .. test.Count - 1 ]
    float correct / float test.Count

[<EntryPoint>]
let main argv =
    let installed = "/usr/share/datasets/fashion-mnist"
    let dir =
        if argv.Length > 0 then argv.[0]
        elif File.Exists(Path.Combine(installed, "t10k-labels-idx1-ubyte.gz")) then installed
        else Path.Combine("data", "fashion-mnist-sample")
    let epochs = if argv.Length > 1 then int argv.[1] else 5
    let data = FashionMnist.Load dir
    printfn "Fashion-MNIST from %s: %d training and %d test images" dir data.TrainImages.Shape.[0] data.TestImages.Shape.[0]

    // The same start as the C# demo: PyTorch's initialisation of nn.Linear, from seed 0, copied into core tensors.
    let rng = Random 0
    let layers = [ Linear(784, 128, random = rng); Linear(128, 10, random = rng) ]
    let initial =
        [| for l in layers do
             for p in l.Parameters() -> Optim.Tensor.create p.Shape (Array.copy p.Data) |]
    let optimizer = Fused.adam { AdamOptions.adam with Lr = 1e-3 }
    let loader = DataLoader(data.Train, batchSize = 64, shuffle = true, seed = 0)

    // One epoch is a fold over the batches: (parameters, state) -> (parameters', state').
    let epoch (ps: Optim.Tensor[], state: State) =
        loader |> Seq.fold (fun (ps: Optim.Tensor[], state: State) struct (x, y) ->
            let _, grads = lossAndGrads ps x y
            optimizer.Step ps grads state) (ps, state)

    let final, state =
        Seq.fold (fun acc e ->
            let clock = Diagnostics.Stopwatch.StartNew()
            let ps, state = epoch acc
            printfn "epoch %d: test accuracy %.4f (%.2f s)" (e + 1) (accuracy ps data.Test) clock.Elapsed.TotalSeconds
            ps, state) (initial, optimizer.Init initial) [ 0 .. epochs - 1 ]
    printfn "steps taken: %d; the starting parameters are untouched: %b" state.Steps.[0]
        (Array.forall2 (fun (a: Optim.Tensor) (b: Optim.Tensor) -> not (obj.ReferenceEquals(a.Data, b.Data))) initial final)
    0
