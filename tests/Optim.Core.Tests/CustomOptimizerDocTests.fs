/// docs/custom-optimizers.md: its F# snippet is this file's `Snippet` module, verbatim, and it works.
module Optim.Tests.CustomOptimizerDocTests

open System
open System.IO
open Xunit

module Snippet =
    // snippet:start
    open System
    open Optim

    // Lion, composed the way Alias.lion composes it: a direction block, the learning rate (the one sign
    // flip: updates are added to parameters), then decoupled weight decay.
    let lion (lr: float) (beta1: float, beta2: float) (weightDecay: float) =
        Transform.chain
            [ Blocks.scaleByLion beta1 beta2
              Blocks.scaleByLearningRate lr
              Blocks.decoupledWeightDecay lr weightDecay ]

    // A block of your own is a pair of pure functions, made a transformation by Transform.create. This one
    // keeps no state and rounds every update to a multiple of q; a null update (no gradient) passes through.
    let quantize (q: float32) : GradientTransformation =
        Transform.create "quantize"
            (fun ps -> State.empty ps.Length)
            (fun updates state _ ->
                let round (u: float32[]) = if isNull u then null else Array.map (fun x -> q * MathF.Round(x / q)) u
                Array.map round updates, state)

    // Compose it like any built-in block, then run it on f(x) = Σ x², whose gradient is 2x.
    let clippedLion = Transform.chain [ Blocks.clipByValue 1.0; lion 0.05 (0.9, 0.99) 0.01; quantize 1e-4f ]
    let optimizer = Optimizer.ofTransform clippedLion
    let start = [| Tensor.ofArray [| 1.0f; -2.0f; 3.0f |] |]
    let gradient (ps: Tensor[]) = ps |> Array.map (fun p -> p.Data |> Array.map (fun x -> 2.0f * x))
    let final, state = Optimizer.run optimizer gradient 200 start
    // snippet:end

/// The lines between the markers of a file, with `indent` leading spaces removed.
let internal between (lines: string[]) (indent: int) =
    let a = Array.findIndex (fun (l: string) -> l.Trim() = "// snippet:start") lines
    let b = Array.findIndex (fun (l: string) -> l.Trim() = "// snippet:end") lines
    lines.[a + 1 .. b - 1] |> Array.map (fun l -> if l.Length >= indent then l.Substring indent else l.TrimStart())

/// The lines of the first fenced block of a language in a markdown file.
let internal fenced (markdown: string[]) (language: string) =
    let a = Array.findIndex (fun (l: string) -> l.Trim() = "```" + language) markdown
    let length = Array.findIndex (fun (l: string) -> l.Trim() = "```") markdown.[a + 1 ..]
    markdown.[a + 1 .. a + length]

let private doc () = File.ReadAllLines(Path.Combine(__SOURCE_DIRECTORY__, "..", "..", "docs", "custom-optimizers.md"))

[<Fact>]
let ``the documentation's F# snippet is the code this test compiles and runs`` () =
    let code = between (File.ReadAllLines(Path.Combine(__SOURCE_DIRECTORY__, __SOURCE_FILE__))) 4
    Assert.Equal<string[]>(code, fenced (doc ()) "fsharp")

[<Fact>]
let ``the documented clipped Lion minimises the quadratic and keeps its momentum state`` () =
    let f (ps: Optim.Tensor[]) = ps |> Array.sumBy (fun p -> p.Data |> Array.sumBy (fun x -> x * x))
    Assert.True(f Snippet.final < 0.01f * f Snippet.start, $"f = {f Snippet.final}")
    Assert.Equal(200L, Snippet.state.Steps.[0])
    Assert.NotNull((Optim.State.buffer "exp_avg" Snippet.state).[0])

[<Fact>]
let ``the documented quantizing block rounds and passes missing gradients through`` () =
    let ps = [| Optim.Tensor.ofArray [| 0.0f; 0.0f; 0.0f |]; Optim.Tensor.ofArray [| 0.0f |] |]
    let block = Snippet.quantize 0.5f
    let u, _ = Optim.Transform.update block [| [| -3.2f; 0.7f; 2.0f |]; null |] (block.Init ps) ps
    Assert.Equal<float32[]>([| -3.0f; 0.5f; 2.0f |], u.[0])
    Assert.Null(u.[1])
