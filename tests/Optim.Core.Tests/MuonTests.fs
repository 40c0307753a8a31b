/// Muon's own behaviour in the core: the Newton–Schulz iteration against PyTorch 2.9's (in float32 and, loosely, in
/// bfloat16), its laws (singular values in the quintic's band, invariance to the input's scale), matrices only, its
/// options, and the partition with AdamW.
module Optim.Tests.MuonTests

open System
open System.Text.Json
open FsCheck
open FsCheck.FSharp
open Expecto
open Optim

let private ns (coefficients: struct (float * float * float)) (steps: int) (eps: float) (shape: int[]) (g: float32[]) =
    let struct (a, b, c) = coefficients
    let out = Array.zeroCreate g.Length
    NewtonSchulz.Orthogonalize(ReadOnlySpan g, shape.[0], shape.[1], float32 a, float32 b, float32 c, steps, float32 eps, Span out)
    out

let private nsDefault = ns MuonOptions.defaults.NsCoefficients MuonOptions.defaults.NsSteps MuonOptions.defaults.Eps

/// The iteration's outputs PyTorch computed (tests/golden/generate_muon.py, "newton_schulz").
let private pytorchOutputs () =
    use doc = JsonDocument.Parse(IO.File.ReadAllText(Golden.pathOf "muon"))
    let floats (e: JsonElement) = [| for x in e.EnumerateArray() -> x.GetSingle() |]
    [ for c in (doc.RootElement.GetProperty "newton_schulz").EnumerateArray() ->
        (c.GetProperty "name").GetString(), [| for d in (c.GetProperty "shape").EnumerateArray() -> d.GetInt32() |],
        floats (c.GetProperty "input"), floats (c.GetProperty "float32"), floats (c.GetProperty "bfloat16") ]

let private relativeFrobenius (a: float32[]) (b: float32[]) =
    let d = Array.fold2 (fun s (x: float32) (y: float32) -> s + (float x - float y) ** 2.0) 0.0 a b
    sqrt d / sqrt (Array.sumBy (fun (y: float32) -> float y * float y) b)

/// A random m×n matrix U·diag(s)·Vᵀ (U, V with orthonormal columns) whose singular values s lie in [0.1, 1]·scale:
/// every singular value is then at least 0.1/√12 of the Frobenius norm, which five steps bring into the band.
let private conditioned =
    gen {
        let! m = Gen.choose (1, 12)
        let! n = Gen.choose (1, 12)
        let! seed = Gen.choose (0, Int32.MaxValue)
        let! exponent = Gen.choose (-6, 6)
        let rng = Random seed
        let gaussian () = sqrt (-2.0 * log (1.0 - rng.NextDouble())) * cos (2.0 * Math.PI * rng.NextDouble())
        let orthonormal rows cols =
            let q = Array2D.init rows cols (fun _ _ -> gaussian ())
            for j in 0 .. cols - 1 do
                for k in 0 .. j - 1 do
                    let dot = Seq.sum (seq { for i in 0 .. rows - 1 -> q.[i, j] * q.[i, k] })
                    for i in 0 .. rows - 1 do q.[i, j] <- q.[i, j] - dot * q.[i, k]
                let norm = sqrt (Seq.sum (seq { for i in 0 .. rows - 1 -> q.[i, j] * q.[i, j] }))
                for i in 0 .. rows - 1 do q.[i, j] <- q.[i, j] / norm
            q
        let r = min m n
        let u, v = orthonormal m r, orthonormal n r
        let s = Array.init r (fun _ -> 0.1 + 0.9 * rng.NextDouble())
        let scale = 2.0 ** float exponent
        let g = Array.init (m * n) (fun k -> float32 (scale * Seq.sum (seq { for t in 0 .. r - 1 -> u.[k / n, t] * s.[t] * v.[k % n, t] })))
        return [| m; n |], g
    }
    |> Arb.fromGen

/// The eigenvalues of a symmetric matrix (cyclic Jacobi rotations, in double).
let private eigenvalues (a: float[,]) =
    let n = Array2D.length1 a
    let a = Array2D.copy a
    for _ in 1 .. 100 do
        for p in 0 .. n - 2 do
            for q in p + 1 .. n - 1 do
                if abs a.[p, q] > 1e-300 then
                    let theta = (a.[q, q] - a.[p, p]) / (2.0 * a.[p, q])
                    let t = float (sign theta |> fun s -> if s = 0 then 1 else s) / (abs theta + sqrt (theta * theta + 1.0))
                    let c = 1.0 / sqrt (t * t + 1.0)
                    let s = t * c
                    for k in 0 .. n - 1 do
                        let akp, akq = a.[k, p], a.[k, q]
                        a.[k, p] <- c * akp - s * akq
                        a.[k, q] <- s * akp + c * akq
                    for k in 0 .. n - 1 do
                        let apk, aqk = a.[p, k], a.[q, k]
                        a.[p, k] <- c * apk - s * aqk
                        a.[q, k] <- s * apk + c * aqk
    Array.init n (fun i -> a.[i, i])

/// The squared singular values of an m×n matrix: the eigenvalues of its min(m, n)-square Gram matrix.
let private squaredSingularValues (shape: int[]) (x: float32[]) =
    let m, n = shape.[0], shape.[1]
    let r = min m n
    let at i k = if m <= n then float x.[i * n + k] else float x.[k * n + i]
    let depth = max m n
    eigenvalues (Array2D.init r r (fun i j -> Seq.sum (seq { for k in 0 .. depth - 1 -> at i k * at j k })))

let private matrices () =
    [| Tensor.create [| 3; 5 |] (Array.init 15 (fun j -> float32 (sin (float j + 1.0))))
       Tensor.create [| 4; 2 |] (Array.init 8 (fun j -> float32 (cos (float j + 2.0)))) |]

let private gradsOf (ps: Tensor[]) (t: int) = ps |> Array.map (fun p -> Array.init p.Data.Length (fun j -> float32 (sin (float (7 * t + 3 * j)))))

let tests =
    testList "MuonTests" [
        testCase "the Newton-Schulz iteration gives PyTorch's float32 outputs on square, wide, tall, thin and low-rank matrices" <| fun () ->
            for name, shape, input, expected, _ in pytorchOutputs () do
                let actual = nsDefault shape input
                if not (Gen.close 1e-5 1e-4 actual expected) then
                    let worst = Array.map2 (fun (a: float32) (e: float32) -> abs (a - e)) actual expected |> Array.max
                    Assert.Fail $"{name}: the iteration differs from PyTorch's float32 one (max abs diff {worst})"

        // PyTorch 2.9 iterates in bfloat16 (8 significant bits, unit roundoff u = 2⁻⁸ ≈ 0.0039). Each of the five steps rounds
        // three products to bfloat16, and the quintic's slope (up to a = 3.4445 for small singular values) carries earlier
        // errors on, so the two results differ by a few tens of u: 0.014 to 0.075 in relative Frobenius norm on these inputs. The
        // bound 0.1 (≈ 26u) holds them; one Newton–Schulz step more or fewer moves the result by 0.34 or more, and so would any
        // error of substance. A rank-deficient input is left out: bfloat16's rounding gives its zero singular values noise of
        // order u, which the iteration blows up into the band (0.63 on the rank-2 case), so there the two differ by design.
        testCase "the float32 iteration stays within a relative 0.1 of PyTorch's bfloat16 one on full-rank matrices" <| fun () ->
            let outputs = pytorchOutputs ()
            for name, shape, input, _, bf16 in outputs do
                if not (name.StartsWith "rank") then
                    let d = relativeFrobenius (nsDefault shape input) bf16
                    Assert.True(d <= 0.1, $"{name}: relative Frobenius distance {d} from PyTorch's bfloat16 iteration")
            // the bound discriminates: one step fewer is far outside it
            for name, shape, input, _, bf16 in outputs do
                if not (name.StartsWith "rank") then
                    let fewer = ns MuonOptions.defaults.NsCoefficients (MuonOptions.defaults.NsSteps - 1) MuonOptions.defaults.Eps shape input
                    Assert.True(relativeFrobenius fewer bf16 > 0.3, $"{name}: four steps are as close to five as the bound allows")

        Gen.property "the iteration's output has every singular value in the quintic's band [0.68, 1.135] for well-conditioned inputs" 200 (
            // with Muon's coefficients, five steps map every normalised singular value in [0.01, 1] into [0.6818, 1.1344]
            Prop.forAll conditioned (fun (shape, g) ->
                squaredSingularValues shape (nsDefault shape g) |> Array.forall (fun s2 -> s2 >= 0.68 * 0.68 && s2 <= 1.135 * 1.135)))

        testCase "the band is not met without the iteration: the normalised input's singular values fall below it" <| fun () ->
            // the law above can fail: the input itself, normalised (no step), has singular values below 0.68
            let shape, g = [| 8; 8 |], Array.init 64 (fun k -> float32 (if k % 9 = 0 then 1.0 else 0.1 * sin (float k)))
            let norm = sqrt (Array.sumBy (fun (x: float32) -> float x * float x) g)
            let normalised = g |> Array.map (fun x -> float32 (float x / norm))
            Assert.False(squaredSingularValues shape normalised |> Array.forall (fun s2 -> s2 >= 0.68 * 0.68))
            Assert.True(squaredSingularValues shape (nsDefault shape g) |> Array.forall (fun s2 -> s2 >= 0.68 * 0.68 && s2 <= 1.135 * 1.135))

        Gen.property "scaling the input by a power of two leaves the output unchanged bit for bit, and by any positive factor to float32 rounding" 200 (
            let arb =
                gen {
                    let! shape, g = Arb.toGen conditioned
                    // the scaled norm stays above eps (1e-7), where the floor would make the output depend on the scale
                    let! power = Gen.choose (-8, 8)
                    let! factor = Gen.choose (1, 1000) |> Gen.map (fun k -> float k / 37.0)
                    return shape, g, power, factor
                } |> Arb.fromGen
            Prop.forAll arb (fun (shape, g, power, factor) ->
                let o = nsDefault shape g
                let scaled k = nsDefault shape (g |> Array.map (fun x -> float32 (k * float x)))
                scaled (2.0 ** float power) = o && Gen.close 1e-5 1e-4 (scaled factor) o))

        Gen.property "negating the input negates the output exactly: the quintic is odd" 100 (
            Prop.forAll conditioned (fun (shape, g) -> nsDefault shape (Array.map (fun x -> -x) g) = Array.map (fun x -> -x) (nsDefault shape g)))

        testCase "a zero gradient's momentum orthogonalises to zero: the norm's floor eps keeps it finite" <| fun () ->
            Assert.True(nsDefault [| 3; 5 |] (Array.zeroCreate 15) |> Array.forall ((=) 0.0f))

        testCase "Init rejects a parameter that is not a matrix, naming its index and shape" <| fun () ->
            let ps = [| Tensor.zeros [| 2; 3 |]; Tensor.zeros [| 5 |]; Tensor.zeros [| 2; 2; 2 |] |]
            for init in [ (Alias.muon MuonOptions.defaults).Init; (Fused.muon MuonOptions.defaults).Init ] do
                let e = Assert.Throws<ArgumentException>(fun () -> init ps |> ignore)
                Assert.Equal("parameters", e.ParamName)
                Assert.Contains("parameter 1 has shape [5]", e.Message)

        testCase "an in-place step that meets a parameter that is not a matrix changes nothing, whatever its place" <| fun () ->
            let o = Fused.muon { MuonOptions.defaults with Lr = 0.1 }
            let ps = matrices ()
            let s0 = o.Init ps
            let _, s1 = o.Step ps (gradsOf ps 0) s0
            // the state saw matrices; the second buffer is now said to be a vector
            let broken = { State.copy s1 with Shapes = [| [| 3; 5 |]; [| 8 |] |] }
            let buffers = ps |> Array.map (fun p -> Array.copy p.Data)
            let before = State.copy broken
            let e = Assert.Throws<ArgumentException>(fun () -> o.StepInPlace buffers (gradsOf ps 1) broken |> ignore)
            Assert.Contains("parameter 1 has shape [8]", e.Message)
            Assert.True(Array.forall2 (fun (a: float32[]) (p: Tensor) -> a = p.Data) buffers ps)
            Assert.Equal<int64[]>(before.Steps, broken.Steps)
            Assert.Equal<float32[]>((State.buffer "momentum_buffer" before).[0], (State.buffer "momentum_buffer" broken).[0])

        testCase "the in-place step reads the shapes Init recorded: a 3x5 and a 5x3 of the same gradient step differently" <| fun () ->
            let g = Array.init 15 (fun j -> float32 (sin (float j)))
            let stepAs (shape: int[]) =
                let o = Fused.muon { MuonOptions.defaults with Lr = 0.1 }
                let p = Tensor.create shape (Array.zeroCreate 15)
                let buffer = Array.zeroCreate 15
                o.StepInPlace [| buffer |] [| g |] (o.Init [| p |]) |> ignore
                buffer
            Assert.NotEqual<float32[]>(stepAs [| 3; 5 |], stepAs [| 5; 3 |])

        testCase "the options are checked, each error naming its argument and value" <| fun () ->
            let d = MuonOptions.defaults
            for o, name in
                [ { d with Lr = -1e-3 }, "lr"; { d with WeightDecay = -0.1 }, "weightDecay"; { d with Momentum = 1.0 }, "momentum"
                  { d with Momentum = -0.5 }, "momentum"; { d with Eps = -1e-7 }, "eps"; { d with NsSteps = 0 }, "nsSteps"
                  { d with NsSteps = 100 }, "nsSteps"; { d with NsCoefficients = struct (nan, 1.0, 1.0) }, "nsCoefficients"
                  { d with Lr = nan }, "lr" ] do
                let e = Assert.ThrowsAny<ArgumentException>(fun () -> MuonOptions.validate o |> ignore)
                Assert.Equal(name, e.ParamName)
                for make in [ (fun o -> Alias.muon o |> ignore); (fun o -> Fused.muon o |> ignore) ] do
                    Assert.Equal(name, Assert.ThrowsAny<ArgumentException>(fun () -> make o).ParamName)
            MuonOptions.validate { d with NsSteps = 99; Momentum = 0.0; Eps = 0.0; Lr = 0.0; WeightDecay = 0.0 } |> ignore

        testCase "the learning rate's adjustments are PyTorch's: the square root of max(1, A/B), or 0.2 times the square root of max(A, B)" <| fun () ->
            Assert.Equal(1.0, MuonOptions.lrRatio MuonLrAdjustment.Original 3 7)
            Assert.Equal(2.0, MuonOptions.lrRatio MuonLrAdjustment.Original 16 4)
            Assert.Equal(sqrt 1.8, MuonOptions.lrRatio MuonLrAdjustment.Original 9 5)
            Assert.Equal(0.2 * sqrt 7.0, MuonOptions.lrRatio MuonLrAdjustment.MatchRmsAdamW 3 7)
            Assert.Equal(0.2 * 4.0, MuonOptions.lrRatio MuonLrAdjustment.MatchRmsAdamW 16 4)

        testCase "Muon's state is the momentum buffer alone, created at a parameter's first gradient" <| fun () ->
            let o = Fused.muon MuonOptions.defaults
            let ps = matrices ()
            let s0 = o.Init ps
            Assert.Equal<string list>([ "momentum_buffer" ], s0.Buffers |> Map.keys |> List.ofSeq)
            Assert.True((State.buffer "momentum_buffer" s0) |> Array.forall isNull)
            let _, s1 = o.Step ps [| (gradsOf ps 0).[0]; null |] s0
            Assert.Equal(15, (State.buffer "momentum_buffer" s1).[0].Length)
            Assert.Null((State.buffer "momentum_buffer" s1).[1])

        testCase "muonWithAdamW steps the matrices with Muon and every other parameter with AdamW" <| fun () ->
            let mo, ao = { MuonOptions.defaults with Lr = 0.05 }, { AdamOptions.adamw with Lr = 0.01 }
            let ps = [| Tensor.create [| 3; 4 |] (Array.init 12 (fun j -> float32 (sin (float j)))); Tensor.create [| 4 |] [| 0.5f; -1.0f; 2.0f; 0.1f |]
                        Tensor.create [| 2; 3 |] (Array.init 6 (fun j -> float32 (cos (float j)))); Tensor.create [| 2; 1; 2 |] [| 1.0f; 2.0f; 3.0f; 4.0f |] |]
            let both = Optimizer.ofTransform (Alias.muonWithAdamW mo ao)
            let muon, adamw = Optimizer.ofTransform (Alias.muon mo), Optimizer.ofTransform (Alias.adamw ao)
            let run (o: Optimizer) (ps: Tensor[]) = [ 0 .. 5 ] |> List.fold (fun (ps, s) t -> o.Step ps (gradsOf ps t) s) (ps, o.Init ps) |> fst
            let together = run both ps
            let matrices, others = run muon [| ps.[0]; ps.[2] |], run adamw [| ps.[1]; ps.[3] |]
            for mine, alone in [ together.[0], matrices.[0]; together.[2], matrices.[1]; together.[1], others.[0]; together.[3], others.[1] ] do
                Assert.True(Gen.close 1e-6 1e-5 mine.Data alone.Data)
            let s = both.Init ps
            Assert.True(s.Buffers.ContainsKey "momentum_buffer" && s.Buffers.ContainsKey "exp_avg")
    ]
