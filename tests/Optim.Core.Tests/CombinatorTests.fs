/// The combinators' own laws (Combinators.fs): each against what it wraps, and against PyTorch's clip_grad_norm_ and
/// AveragedModel.
module Optim.Tests.CombinatorTests

open System
open System.IO
open System.Text.Json
open FsCheck
open FsCheck.FSharp
open Expecto
open Optim
open Optim.Tests

/// Runs a transformation over steps of gradients as Transform.update and applyUpdates do, from Init.
let private runFrom (t: GradientTransformation) (ps: Tensor[]) (s: State) (grads: float32[][] list) =
    grads |> List.fold (fun (ps, s) g -> let u, s' = Transform.update t g s ps in Transform.applyUpdates ps u, s') (ps, s)

let private run (t: GradientTransformation) (ps: Tensor[]) (grads: float32[][] list) = runFrom t ps (t.Init ps) grads

let private same (a: Tensor[]) (b: Tensor[]) = a.Length = b.Length && Array.forall2 (fun (x: Tensor) (y: Tensor) -> x.Data = y.Data) a b

let private tablesEqual (a: float32[][]) (b: float32[][]) =
    a.Length = b.Length && Array.forall2 (fun (x: float32[]) (y: float32[]) -> (isNull x && isNull y) || (not (isNull x) && not (isNull y) && x = y)) a b

/// The same steps, buffers (by name) and optimizer-wide values.
let private statesEqual (a: State) (b: State) =
    a.Steps = b.Steps && a.Globals = b.Globals
    && Set.ofSeq (Map.keys a.Buffers) = Set.ofSeq (Map.keys b.Buffers)
    && a.Buffers |> Map.forall (fun name t -> tablesEqual t b.Buffers.[name])

let private pick (indices: int[]) (xs: 'a[]) = indices |> Array.map (fun i -> xs.[i])

let private withNaN (g: float32[][]) =
    let i = g |> Array.findIndex (fun x -> not (isNull x))
    g |> Array.mapi (fun k x -> if k = i then (let y = Array.copy x in y.[y.Length / 2] <- nanf; y) else x)

/// Parameters and steps of gradients (some missing when `allowNull`), at least one gradient per step.
let private case (allowNull: bool) (steps: int) =
    gen {
        let! ps = Gen.parameters
        let! grads = Gen.gradSeq allowNull steps ps
        // a step in which no parameter has a gradient is not a step: keep one gradient in each
        let grads = grads |> List.map (fun g -> if Array.forall isNull g then Array.init ps.Length (fun i -> if i = 0 then Array.zeroCreate ps.[0].Data.Length else g.[i]) else g)
        return ps, grads
    }

// ---------------------------------------------------------------------------------------------- golden data

let private fixture () = JsonDocument.Parse(File.ReadAllText(Golden.pathOf "combinators"))

let private floats (e: JsonElement) = [| for x in e.EnumerateArray() -> x.GetSingle() |]

let private single (e: JsonElement) =
    match e.ValueKind with
    | JsonValueKind.String ->
        match e.GetString() with
        | "Infinity" -> Single.PositiveInfinity
        | "-Infinity" -> Single.NegativeInfinity
        | _ -> Single.NaN
    | _ -> e.GetSingle()

// ---------------------------------------------------------------------------------------------- clipByGlobalNorm

let private clipCase =
    gen {
        let! ps, grads = case true 1
        let! maxNorm = Gen.elements [ 0.0; 1e-3; 0.1; 1.0; 10.0; 100.0 ]
        return ps, List.head grads, maxNorm
    } |> Arb.fromGen

let private norm (us: float32[][]) = sqrt (us |> Array.sumBy (fun u -> if isNull u then 0.0 else Array.sumBy (fun (x: float32) -> float x * float x) u))

// ---------------------------------------------------------------------------------------------- applyIfFinite

let private finiteCase =
    gen {
        let! o = Gen.adamOptions
        let! errors = Gen.choose (0, 3)
        let! ps, grads = case true 4
        return { o with Maximize = false }, errors, ps, grads
    } |> Arb.fromGen

// ---------------------------------------------------------------------------------------------- multiSteps

/// The mean multiSteps documents: the gradients summed in float32 in call order from the first as it is, divided by k.
let private meanOf (k: int) (chunk: float32[][] list) =
    let n = (List.head chunk).Length
    Array.init n (fun i ->
        match chunk |> List.map (fun g -> g.[i]) |> List.filter (isNull >> not) with
        | [] -> null
        | first :: rest ->
            let sum = rest |> List.fold (fun (acc: float32[]) g -> Array.map2 (+) acc g) first
            sum |> Array.map (fun x -> x / float32 k))

let private multiCase =
    gen {
        let! k = Gen.choose (1, 4)
        let! real = Gen.choose (1, 3)
        let! ps, grads = case true (k * real)
        let! inner =
            Gen.oneof
                [ Gen.sgdOptions |> Gen.map (fun o -> $"SGD %A{o}", Alias.sgd o)
                  Gen.adamOptions |> Gen.map (fun o -> $"Adam %A{o}", Alias.adam o) ]
        return k, inner, ps, grads
    } |> Arb.fromGen

/// multiSteps as written (opaque): a stage no chain can fuse goes first, so the combinator falls back to its own update.
let private asWritten (k: int) (inner: GradientTransformation) =
    Combinators.multiSteps k (Transform.chain [ Transform.create "opaque identity" (fun ps -> State.empty ps.Length) (fun u s _ -> u, s); inner ])

// ---------------------------------------------------------------------------------------------- masked

let private maskCase =
    gen {
        let! o = Gen.adamOptions
        let! ps, grads = case true 4
        let! mask = Gen.arrayOfLength ps.Length (Gen.elements [ true; false ])
        return { o with Maximize = false }, mask, ps, grads
    } |> Arb.fromGen

// ---------------------------------------------------------------------------------------------- partition

let private partitionCase =
    gen {
        let! a = Gen.adamOptions
        let! b = Gen.adamOptions
        let! c = Gen.sgdOptions
        let! ps, grads = case true 4
        let! labels = Gen.arrayOfLength ps.Length (Gen.elements [ "x"; "y"; "z" ])
        let! amsgrad = Gen.elements [ true; false ]
        return [ "x", Alias.adamw { a with Amsgrad = amsgrad }; "y", Alias.adam { b with Amsgrad = amsgrad }; "z", Alias.sgd c ], labels, ps, grads
    } |> Arb.fromGen

/// A transformation that declares "exp_avg" with another layout than Adam's, and keeps its own optimizer-wide count.
let private counting =
    Transform.create "counting" (fun ps -> State.empty ps.Length |> State.declareScalar "exp_avg" |> State.declareGlobal "calls" 0.0) (fun u s _ ->
        let table = State.buffer "exp_avg" s |> Array.mapi (fun i old -> if isNull u.[i] then old else [| (if isNull old then 0.0f else old.[0]) + 1.0f |])
        u, s |> State.setBuffer "exp_avg" table |> State.setGlobal "calls" (State.globalValue "calls" s + 1.0))

// ---------------------------------------------------------------------------------------------- ema

// ---------------------------------------------------------------------------------------------- lookahead

let private lookaheadCase =
    gen {
        let! o = Gen.adamOptions
        let! k = Gen.choose (1, 4)
        let! alpha = Gen.elements [ 0.0; 0.3; 0.5; 1.0 ]
        let! ps, grads = case false 8
        return Alias.adam { o with Maximize = false }, k, alpha, ps, grads
    } |> Arb.fromGen

// ---------------------------------------------------------------------------------------------- schedule-free

let private sfCase =
    gen {
        let! ps, grads = case false 6
        let! transform =
            Gen.oneof
                [ Gen.scheduleFreeSgdOptions |> Gen.map (fun o -> o.Momentum, ScheduleFree.sgd o)
                  Gen.scheduleFreeAdamWOptions |> Gen.map (fun o -> o.Beta1, ScheduleFree.adamw o) ]
        return transform, ps, grads
    } |> Arb.fromGen

let tests =
    testList "CombinatorTests" [
        // ---------------------------------------------------------------------------------------------- golden data
        testCase "clipByGlobalNorm gives torch.nn.utils.clip_grad_norm_'s gradients and total norm" <| fun () ->
            use doc = fixture ()
            let cases = [ for c in (doc.RootElement.GetProperty "clip").EnumerateArray() -> c ]
            Assert.NotEmpty cases
            for c in cases do
                let name = (c.GetProperty "name").GetString()
                let shapes = [| for s in (c.GetProperty "shapes").EnumerateArray() -> [| for d in s.EnumerateArray() -> d.GetInt32() |] |]
                let grads = [| for g in (c.GetProperty "grads").EnumerateArray() -> if g.ValueKind = JsonValueKind.Null then null else floats g |]
                let expected = [| for g in (c.GetProperty "clipped").EnumerateArray() -> if g.ValueKind = JsonValueKind.Null then null else floats g |]
                let ps = shapes |> Array.map Tensor.zeros
                let clip = Combinators.clipByGlobalNorm ((c.GetProperty "max_norm").GetDouble())
                let u, _ = Transform.update clip grads (clip.Init ps) ps
                for i in 0 .. ps.Length - 1 do
                    if isNull expected.[i] then Assert.True(isNull u.[i], $"{name}: parameter {i} has no gradient")
                    else Assert.True(Gen.close 1e-5 1e-4 u.[i] expected.[i], $"{name}: parameter {i}: %A{u.[i]} vs %A{expected.[i]}")
                let total = Ops.torchNorm (grads |> Array.filter (isNull >> not) |> Array.map Ops.torchNorm)
                let t = single (c.GetProperty "total_norm")
                Assert.True(Gen.close 1e-5 1e-5 [| total |] [| t |] || (Single.IsPositiveInfinity total && Single.IsPositiveInfinity t), $"{name}: total norm {total} vs {t}")

        testCase "ema keeps torch.optim.swa_utils.AveragedModel's exponential moving average" <| fun () ->
            use doc = fixture ()
            let cases = [ for c in (doc.RootElement.GetProperty "ema").EnumerateArray() -> c ]
            Assert.NotEmpty cases
            for c in cases do
                let name = (c.GetProperty "name").GetString()
                let ema = Combinators.ema ((c.GetProperty "decay").GetDouble())
                let ps0 =
                    [| for p in (c.GetProperty "params").EnumerateArray() ->
                         Tensor.create [| for d in (p.GetProperty "shape").EnumerateArray() -> d.GetInt32() |] (floats (p.GetProperty "data")) |]
                let mutable ps = ps0
                let mutable s = ema.Init ps0
                for k, step in Seq.indexed ((c.GetProperty "steps").EnumerateArray()) do
                    let updates = [| for u in (step.GetProperty "updates").EnumerateArray() -> floats u |]
                    let u, s' = Transform.update ema updates s ps
                    Assert.True(Array.forall2 (fun (a: float32[]) b -> a = b) u updates, "ema passes its updates through")
                    ps <- Transform.applyUpdates ps u
                    s <- s'
                    let expectedParams = [| for p in (step.GetProperty "params").EnumerateArray() -> floats p |]
                    Assert.True(Array.forall2 (fun (p: Tensor) e -> p.Data = e) ps expectedParams, $"{name} step {k}: the parameters are p + u")
                    let averaged = Combinators.emaParameters s ps
                    for i, e in Seq.indexed ((step.GetProperty "averaged").EnumerateArray()) do
                        Assert.True(Gen.close 1e-5 1e-4 averaged.[i].Data (floats e), $"{name} step {k} parameter {i}: %A{averaged.[i].Data} vs %A{floats e}")

        // ---------------------------------------------------------------------------------------------- clipByGlobalNorm
        Gen.property "clipByGlobalNorm never makes an element larger, so never raises the norm" 300 (
            Prop.forAll clipCase (fun (ps, g, maxNorm) ->
                let clip = Combinators.clipByGlobalNorm maxNorm
                let u, _ = Transform.update clip g (clip.Init ps) ps
                Array.forall2 (fun (a: float32[]) (b: float32[]) -> (isNull a && isNull b) || Array.forall2 (fun (x: float32) y -> abs x <= abs y) a b) u g
                && norm u <= norm g))

        Gen.property "clipByGlobalNorm leaves updates within the bound exactly as they are" 300 (
            Prop.forAll clipCase (fun (ps, g, maxNorm) ->
                let clip = Combinators.clipByGlobalNorm maxNorm
                let u, _ = Transform.update clip g (clip.Init ps) ps
                norm g * (1.0 + 1e-3) + 1e-6 > maxNorm || Array.forall2 (fun (a: float32[]) (b: float32[]) -> (isNull a && isNull b) || a = b) u g))

        Gen.property "clipByGlobalNorm brings a larger norm down to the bound" 300 (
            Prop.forAll clipCase (fun (ps, g, maxNorm) ->
                let clip = Combinators.clipByGlobalNorm maxNorm
                let u, _ = Transform.update clip g (clip.Init ps) ps
                let n = norm g
                n <= maxNorm || abs (norm u - maxNorm * n / (n + 1e-6)) <= 1e-5 * maxNorm + 1e-30))

        testCase "clipByGlobalNorm rejects a negative or NaN bound, naming it" <| fun () ->
            for bad in [ -1.0; nan ] do
                let e = Assert.ThrowsAny<ArgumentException>(fun () -> Combinators.clipByGlobalNorm bad |> ignore)
                Assert.Equal("maxNorm", e.ParamName)
                Assert.Contains(string bad, e.Message)

        // ---------------------------------------------------------------------------------------------- applyIfFinite
        Gen.property "applyIfFinite over finite steps is its inner transformation, bit for bit" 100 (
            Prop.forAll finiteCase (fun (o, errors, ps, grads) ->
                let pa, sa = run (Combinators.applyIfFinite errors (Alias.adam o)) ps grads
                let pb, sb = run (Alias.adam o) ps grads
                same pa pb && sa.Steps = sb.Steps && sb.Buffers |> Map.forall (fun name t -> tablesEqual t sa.Buffers.[name])
                && State.globalValue Combinators.NotFiniteCount sa = 0.0 && State.globalValue Combinators.TotalNotFinite sa = 0.0))

        Gen.property "a non-finite step changes no parameter and no state but the counters, step counts included" 100 (
            Prop.forAll finiteCase (fun (o, errors, ps, grads) ->
                let t = Combinators.applyIfFinite (max errors 1) (Alias.adam o)
                let p1, s1 = run t ps grads
                let bad = withNaN (List.head grads)
                let u, s2 = Transform.update t bad s1 p1
                Array.forall isNull u && same (Transform.applyUpdates p1 u) p1
                && s2.Steps = s1.Steps && s1.Buffers |> Map.forall (fun name t -> tablesEqual t s2.Buffers.[name])
                && State.globalValue Combinators.NotFiniteCount s2 = 1.0 && State.globalValue Combinators.TotalNotFinite s2 = 1.0
                && State.globalValue Combinators.LastFinite s2 = 0.0))

        Gen.property "after maxConsecutiveErrors rejected steps applyIfFinite applies the next one, and a finite step resets the count" 100 (
            Prop.forAll finiteCase (fun (o, errors, ps, grads) ->
                let t = Combinators.applyIfFinite errors (Alias.adam o)
                let bad = withNaN (List.head grads)
                let rejected, s =
                    List.replicate errors bad |> List.fold (fun (ok, (ps, s)) g ->
                        let u, s' = Transform.update t g s ps
                        ok && Array.forall isNull u, (Transform.applyUpdates ps u, s')) (true, (ps, t.Init ps))
                let ps1, s1 = s
                let u, s2 = Transform.update t bad s1 ps1
                let applied = Array.forall2 (fun (a: float32[]) (g: float32[]) -> isNull a = isNull g) u bad
                let counted = s2.Steps = Array.map (fun (g: float32[]) -> if isNull g then 0L else 1L) bad
                let _, s3 = Transform.update t (List.head grads) s2 (Transform.applyUpdates ps1 u)
                rejected && applied && counted
                && State.globalValue Combinators.NotFiniteCount s2 = float (errors + 1)
                && State.globalValue Combinators.TotalNotFinite s3 = float (errors + 1)
                && State.globalValue Combinators.NotFiniteCount s3 = 0.0 && State.globalValue Combinators.LastFinite s3 = 1.0))

        Gen.property "applyIfFinite around a chain of elementwise blocks (a gate before the fused pass) equals the same combinator around an opaque inner, bit for bit, in place too" 100 (
            Prop.forAll finiteCase (fun (o, errors, ps, grads) ->
                let inner = Alias.adam o
                // at least one rejection allowed, so that the NaN steps are rejected (an applied NaN would compare unequal to itself)
                let errors = max errors 1
                let fused = Combinators.applyIfFinite errors inner
                let opaque = Combinators.applyIfFinite errors (Transform.create "adam" inner.Init inner.Update)
                // every other step holds a NaN
                let grads = grads |> List.mapi (fun k g -> if k % 2 = 1 then withNaN g else g)
                let pf, sf = run fused ps grads
                let po, so = run opaque ps grads
                let o = Optimizer.ofTransform fused
                let buffers = ps |> Array.map (fun p -> Array.copy p.Data)
                let si = grads |> List.fold (fun s g -> o.StepInPlace buffers g s) (o.Init ps)
                same pf po && statesEqual sf so && Array.forall2 (fun (a: Tensor) (b: float32[]) -> a.Data = b) pf buffers && statesEqual sf si))

        Gen.property "applyIfFinite's counters travel through a JSON checkpoint" 100 (
            Prop.forAll finiteCase (fun (o, _, ps, grads) ->
                let t = Combinators.applyIfFinite 3 (Alias.adam o)
                let bad = withNaN (List.head grads)
                let before = [ List.head grads; bad; bad ]
                let p1, s1 = run t ps before
                let shapes = ps |> Array.map (fun p -> p.Shape)
                let names = Array.create ps.Length null
                let json = Checkpoint.toJson { Kind = "x"; State = s1; Groups = [||]; Names = names; Shapes = shapes }
                let s1' = Checkpoint.conform "x" (t.Init ps) shapes names [||] (Checkpoint.ofJson json)
                let after = bad :: grads
                let resumed = runFrom t p1 s1' after
                let straight = run t ps (before @ after)
                State.globalValue Combinators.NotFiniteCount s1' = 2.0 && same (fst resumed) (fst straight) && statesEqual (snd resumed) (snd straight)))

        // ---------------------------------------------------------------------------------------------- multiSteps
        Gen.property "k calls of multiSteps equal one inner step on the mean of their gradients, bit for bit" 200 (
            Prop.forAll multiCase (fun (k, (_, inner), ps, grads) ->
                let pa, sa = run (Combinators.multiSteps k inner) ps grads
                let means = grads |> List.chunkBySize k |> List.map (meanOf k)
                let pb, sb = run inner ps means
                same pa pb && sa.Steps = sb.Steps
                && sb.Buffers |> Map.forall (fun name t -> tablesEqual t sa.Buffers.[name])
                && State.globalValue Combinators.MiniStep sa = 0.0
                // after a real step nothing is held: the counts are 0 (the fused gate) or the buffer is cleared (as written)
                && (if sa.Buffers.ContainsKey Combinators.AccumulatedCount then
                        State.buffer Combinators.AccumulatedCount sa |> Array.forall (fun c -> isNull c || c.[0] = 0.0f)
                    else State.buffer Combinators.AccumulatedGradients sa |> Array.forall isNull)))

        Gen.property "between its real steps multiSteps moves no parameter and counts no step" 200 (
            Prop.forAll multiCase (fun (k, (_, inner), ps, grads) ->
                let t = Combinators.multiSteps k inner
                let _, ok =
                    grads |> List.indexed |> List.fold (fun ((ps, s), ok) (call, g) ->
                        let u, s' = Transform.update t g s ps
                        let ps' = Transform.applyUpdates ps u
                        let real = (call + 1) % k = 0
                        let ok = ok && (real || (Array.forall isNull u && same ps ps' && s'.Steps = s.Steps))
                        (ps', s'), ok) ((ps, t.Init ps), true)
                ok))

        Gen.property "multiSteps as a fused gate equals multiSteps as written, bit for bit, pure and in place" 200 (
            Prop.forAll multiCase (fun (k, (_, inner), ps, grads) ->
                let fused = Combinators.multiSteps k inner
                let pf, sf = run fused ps grads
                let pw, sw = run (asWritten k inner) ps grads
                // in place, through the compiled optimizer
                let o = Optimizer.ofTransform fused
                let live = ps |> Array.map (fun p -> Array.copy p.Data)
                let mutable s = o.Init ps
                for g in grads do s <- o.StepInPlace live g s
                let inner' = sw.Buffers |> Map.filter (fun name _ -> name <> Combinators.AccumulatedGradients)
                same pf pw && sf.Steps = sw.Steps && s.Steps = sw.Steps
                && Array.forall2 (fun (a: float32[]) (p: Tensor) -> a = p.Data) live pw
                && inner' |> Map.forall (fun name t -> tablesEqual t sf.Buffers.[name] && tablesEqual t s.Buffers.[name])))

        Gen.property "multiSteps 1 is its inner transformation, bit for bit" 100 (
            Prop.forAll multiCase (fun (_, (_, inner), ps, grads) ->
                let pa, sa = run (Combinators.multiSteps 1 inner) ps grads
                let pb, sb = run inner ps grads
                same pa pb && sa.Steps = sb.Steps && sb.Buffers |> Map.forall (fun name t -> tablesEqual t sa.Buffers.[name])))

        testCase "multiSteps rejects fewer than one micro-batch, naming the argument" <| fun () ->
            let e = Assert.ThrowsAny<ArgumentException>(fun () -> Combinators.multiSteps 0 Transform.identity |> ignore)
            Assert.Equal("k", e.ParamName)
            Assert.Contains("0", e.Message)

        // ---------------------------------------------------------------------------------------------- masked
        Gen.property "masked runs its inner transformation on the selected parameters as if they were alone" 200 (
            Prop.forAll maskCase (fun (o, mask, ps, grads) ->
                let inner = Alias.adam o
                let pa, sa = run (Combinators.masked (fun i _ -> mask.[i]) inner) ps grads
                let on = [| for i in 0 .. ps.Length - 1 do if mask.[i] then yield i |]
                let pb, sb = run inner (pick on ps) (grads |> List.map (pick on))
                same (pick on pa) pb && pick on sa.Steps = sb.Steps
                && sb.Buffers |> Map.forall (fun name t -> tablesEqual t (pick on sa.Buffers.[name]))))

        Gen.property "masked passes the other parameters' updates through and leaves their state untouched" 200 (
            Prop.forAll maskCase (fun (o, mask, ps, grads) ->
                let pa, sa = run (Combinators.masked (fun i _ -> mask.[i]) (Alias.adam o)) ps grads
                let off = [| for i in 0 .. ps.Length - 1 do if not mask.[i] then yield i |]
                // with every update passed through, the parameters are p + g₁ + g₂ + ..., as the identity makes them
                let pb, _ = run Transform.identity (pick off ps) (grads |> List.map (pick off))
                same (pick off pa) pb
                && sa.Buffers |> Map.forall (fun _ t -> pick off t |> Array.forall isNull)))

        // ---------------------------------------------------------------------------------------------- partition
        Gen.property "partition equals separate transformations on the subsets, bit for bit, two Adams sharing their buffers" 200 (
            Prop.forAll partitionCase (fun (transforms, labels, ps, grads) ->
                let t = Combinators.partition (fun i _ -> labels.[i]) transforms
                let pa, sa = run t ps grads
                // the two Adams' "exp_avg" (and the others) are one buffer each, as in PyTorch's state dict
                let names = Set.ofSeq (Map.keys sa.Buffers)
                names |> Set.forall (fun n -> not (n.Contains "@"))
                && transforms |> List.forall (fun (label, inner) ->
                    let on = [| for i in 0 .. ps.Length - 1 do if labels.[i] = label then yield i |]
                    let pb, sb = run inner (pick on ps) (grads |> List.map (pick on))
                    same (pick on pa) pb && pick on sa.Steps = sb.Steps
                    && sb.Buffers |> Map.forall (fun name table -> tablesEqual table (pick on sa.Buffers.[name])))))

        Gen.property "partition equals separate optimizers on the subsets: bit for bit, and within rounding for a chain ending in decoupled weight decay" 200 (
            // a chain that ends in decoupled weight decay (AdamW, label "x") applies it, as an optimizer, as p·(1 - lr·λ) + u
            // (PyTorch's order); as a transformation inside a partition its update is that minus p, which p + u rounds once more
            Prop.forAll partitionCase (fun (transforms, labels, ps, grads) ->
                let steps (o: Optimizer) ps grads = grads |> List.fold (fun (ps, s) g -> o.Step ps g s) (ps, o.Init ps)
                let pa, sa = steps (Optimizer.ofTransform (Combinators.partition (fun i _ -> labels.[i]) transforms)) ps grads
                transforms |> List.forall (fun (label, inner) ->
                    let on = [| for i in 0 .. ps.Length - 1 do if labels.[i] = label then yield i |]
                    let pb, sb = steps (Optimizer.ofTransform inner) (pick on ps) (grads |> List.map (pick on))
                    pick on sa.Steps = sb.Steps
                    && if label = "x" then Array.forall2 (fun (a: Tensor) (b: Tensor) -> Gen.close 1e-6 1e-5 a.Data b.Data) (pick on pa) pb
                       else same (pick on pa) pb && sb.Buffers |> Map.forall (fun name table -> tablesEqual table (pick on sa.Buffers.[name])))))

        Gen.property "partition keeps apart a buffer name declared with two layouts and an optimizer-wide value declared twice, through checkpoints" 100 (
            let arb =
                gen {
                    let! o = Gen.adamOptions
                    let! ps, grads = case false 4
                    return { o with Maximize = false; Amsgrad = false }, ps, grads
                } |> Arb.fromGen
            Prop.forAll arb (fun (o, ps, grads) ->
                let transforms = [ "adam", Combinators.applyIfFinite 1 (Alias.adam o); "count", Combinators.applyIfFinite 1 counting ]
                let t = Combinators.partition (fun i _ -> if i % 2 = 0 then "adam" else "count") transforms
                let s0 = t.Init ps
                let expected =
                    set [ "exp_avg@adam"; "exp_avg@count"; "exp_avg_sq" ]
                let globals = set [ for name in [ Combinators.NotFiniteCount; Combinators.TotalNotFinite; Combinators.LastFinite ] do
                                        for label in [ "adam"; "count" ] -> $"{name}@{label}" ] |> Set.add "calls"
                let k = grads.Length / 2
                let p1, s1 = run t ps (List.take k grads)
                let shapes = ps |> Array.map (fun p -> p.Shape)
                let names = Array.create ps.Length null
                let json = Checkpoint.toJson { Kind = "x"; State = s1; Groups = [||]; Names = names; Shapes = shapes }
                let s1' = Checkpoint.conform "x" s0 shapes names [||] (Checkpoint.ofJson json)
                let resumed = runFrom t p1 s1' (List.skip k grads)
                let straight = run t ps grads
                Set.ofSeq (Map.keys s0.Buffers) = expected && Set.ofSeq (Map.keys s0.Globals) = globals
                && State.layout "exp_avg@count" s0 = BufferLayout.Scalar
                && State.globalValue "calls" (snd straight) = float (if ps.Length > 1 then grads.Length else 0)
                && same (fst resumed) (fst straight) && statesEqual (snd resumed) (snd straight)))

        testCase "partition rejects a label that names no transformation, and a label given twice" <| fun () ->
            let t = Combinators.partition (fun i _ -> if i = 0 then "a" else "b") [ "a", Transform.identity ]
            let e = Assert.ThrowsAny<ArgumentException>(fun () -> t.Init [| Tensor.zeros [| 1 |]; Tensor.zeros [| 2 |] |] |> ignore)
            Assert.Equal("labelOf", e.ParamName)
            Assert.Contains("'b'", e.Message)
            let e = Assert.ThrowsAny<ArgumentException>(fun () -> Combinators.partition (fun _ _ -> "a") [ "a", Transform.identity; "a", Transform.identity ] |> ignore)
            Assert.Equal("transforms", e.ParamName)

        // ---------------------------------------------------------------------------------------------- ema
        Gen.property "ema copies the new parameter at its first update, and reads out a parameter never updated as itself" 100 (
            Prop.forAll (case true 1 |> Arb.fromGen) (fun (ps, grads) ->
                let g = List.head grads
                let t = Combinators.ema 0.9
                let u, s = Transform.update t g (t.Init ps) ps
                let ps' = Transform.applyUpdates ps u
                let averaged = Combinators.emaParameters s ps'
                same averaged ps' && not (Array.exists2 (fun (a: Tensor) (p: Tensor) -> obj.ReferenceEquals(a.Data, p.Data)) averaged ps')))

        Gen.property "ema with decay 0 is the last parameter, and with decay 1 the first" 100 (
            Prop.forAll (case false 4 |> Arb.fromGen) (fun (ps, grads) ->
                let ema0 = Transform.chain [ Blocks.scaleByLearningRate 0.1; Combinators.ema 0.0 ]
                let ema1 = Transform.chain [ Blocks.scaleByLearningRate 0.1; Combinators.ema 1.0 ]
                let p0, s0 = run ema0 ps grads
                let _, s1 = run ema1 ps grads
                let first, _ = run ema1 ps [ List.head grads ]
                same (Combinators.emaParameters s0 p0) p0 && same (Combinators.emaParameters s1 p0) first))

        // ---------------------------------------------------------------------------------------------- lookahead
        Gen.property "lookahead before its first synchronisation is its inner transformation, bit for bit" 100 (
            Prop.forAll lookaheadCase (fun (inner, _, alpha, ps, grads) ->
                let pa, sa = run (Combinators.lookahead (grads.Length + 1) alpha inner) ps grads
                let pb, sb = run inner ps grads
                same pa pb && sa.Steps = sb.Steps && sb.Buffers |> Map.forall (fun name t -> tablesEqual t sa.Buffers.[name])
                && tablesEqual (State.buffer Combinators.SlowBuffer sa) (ps |> Array.map (fun p -> p.Data))))

        Gen.property "at a synchronisation the slow weights become lerp(slow, fast, alpha) and the parameters land on them" 100 (
            Prop.forAll lookaheadCase (fun (inner, k, alpha, ps, grads) ->
                let steps = List.truncate k grads
                let pa, sa = run (Combinators.lookahead k alpha inner) ps steps
                // the fast weights of the first k steps are the inner transformation's own
                let fast, _ = run inner ps steps
                let a = float32 alpha
                let slow = Array.map2 (fun (p: Tensor) (f: Tensor) -> Array.map2 (fun x y -> Blocks.lerp x y a) p.Data f.Data) ps fast
                tablesEqual (State.buffer Combinators.SlowBuffer sa) slow
                && Array.forall2 (fun (p: Tensor) s -> Gen.close 1e-6 1e-6 p.Data s) pa slow))

        Gen.property "lookahead with alpha 1 follows its inner transformation, up to the rounding of each reset" 100 (
            Prop.forAll lookaheadCase (fun (inner, k, _, ps, grads) ->
                let pa, sa = run (Combinators.lookahead k 1.0 inner) ps grads
                let pb, sb = run inner ps grads
                sa.Steps = sb.Steps && Array.forall2 (fun (a: Tensor) (b: Tensor) -> Gen.close 1e-5 1e-5 a.Data b.Data) pa pb))

        Gen.property "lookahead with alpha 0 returns to the starting parameters at every synchronisation" 100 (
            Prop.forAll lookaheadCase (fun (inner, k, _, ps, grads) ->
                let pa, _ = run (Combinators.lookahead k 0.0 inner) ps (List.truncate (k * (grads.Length / k)) grads)
                Array.forall2 (fun (a: Tensor) (b: Tensor) -> Gen.close 1e-6 1e-6 a.Data b.Data) pa ps))

        testCase "lookahead rejects a period below 1 and a step size outside 0 to 1" <| fun () ->
            let e = Assert.ThrowsAny<ArgumentException>(fun () -> Combinators.lookahead 0 0.5 Transform.identity |> ignore)
            Assert.Equal("syncPeriod", e.ParamName)
            let e = Assert.ThrowsAny<ArgumentException>(fun () -> Combinators.lookahead 2 1.5 Transform.identity |> ignore)
            Assert.Equal("alpha", e.ParamName)
            Assert.Contains("1.5", e.Message)

        // ---------------------------------------------------------------------------------------------- schedule-free
        Gen.property "after its first step schedule-free's parameter is z, and so is its evaluation point" 100 (
            Prop.forAll sfCase (fun ((beta, t), ps, grads) ->
                let p1, s1 = run t ps [ List.head grads ]
                let z = State.buffer "z" s1
                Array.forall2 (fun (p: Tensor) z -> Gen.close 1e-6 1e-6 p.Data z) p1 z
                && Array.forall2 (fun (x: Tensor) z -> Gen.close 1e-5 1e-5 x.Data z) (ScheduleFree.evalParameters beta s1 p1) z))

        Gen.property "schedule-free's parameter is the interpolation y = (1 - beta)·z + beta·x of its base sequence and its average" 100 (
            Prop.forAll sfCase (fun ((beta, t), ps, grads) ->
                let p, s = run t ps grads
                let x = ScheduleFree.evalParameters beta s p
                let z = State.buffer "z" s
                Array.forall id (Array.init p.Length (fun i ->
                    let y = Array.init p.[i].Data.Length (fun j -> float32 ((1.0 - beta) * float z.[i].[j] + beta * float x.[i].Data.[j]))
                    Gen.close 1e-4 1e-4 p.[i].Data y))))

        Gen.property "without warmup or weighting the evaluation point of schedule-free SGD is the plain average of the z iterates" 100 (
            let arb =
                gen {
                    let! ps, grads = case false 6
                    let! lr = Gen.elements [ 1e-2; 0.1; 0.5 ]
                    let! momentum = Gen.elements [ 0.5; 0.9 ]
                    return { ScheduleFreeSgdOptions.defaults with Lr = lr; Momentum = momentum; WeightLrPower = 0.0 }, ps, grads
                } |> Arb.fromGen
            Prop.forAll arb (fun (o, ps, grads) ->
                let t = ScheduleFree.sgd o
                let zs, final =
                    grads |> List.fold (fun (zs, (ps, s)) g ->
                        let u, s' = Transform.update t g s ps
                        (State.buffer "z" s' |> Array.map (Array.map float)) :: zs, (Transform.applyUpdates ps u, s')) ([], (ps, t.Init ps))
                let mean = Array.init ps.Length (fun i -> Array.init ps.[i].Data.Length (fun j -> (zs |> List.averageBy (fun z -> z.[i].[j])) |> float32))
                let x = ScheduleFree.evalParameters o.Momentum (snd final) (fst final)
                Array.forall2 (fun (a: Tensor) b -> Gen.close 1e-4 1e-4 a.Data b) x mean))

        Gen.property "schedule-free SGD's base sequence steps by the warmed-up learning rate, z' = z - lr·(k+1)/warmup·g" 100 (
            let arb =
                gen {
                    let! ps, grads = case false 6
                    let! warmup = Gen.choose (0, 8)
                    return { ScheduleFreeSgdOptions.defaults with Lr = 0.3; WarmupSteps = warmup }, ps, grads
                } |> Arb.fromGen
            Prop.forAll arb (fun (o, ps, grads) ->
                let _, s = run (ScheduleFree.sgd o) ps grads
                let expected =
                    grads |> List.indexed |> List.fold (fun (z: float32[][]) (k, g) ->
                        let lr = if k < o.WarmupSteps then o.Lr * (float (k + 1) / float o.WarmupSteps) else o.Lr
                        Array.map2 (fun (z: float32[]) (g: float32[]) -> Array.map2 (fun x d -> x + float32 (-lr) * d) z g) z g) (ps |> Array.map (fun p -> p.Data))
                tablesEqual (State.buffer "z" s) expected
                && State.globalValue ScheduleFree.StepCount s = float grads.Length))

        testCase "schedule-free options out of range are rejected by name, with the value" <| fun () ->
            let e = Assert.ThrowsAny<ArgumentException>(fun () -> ScheduleFree.sgd { ScheduleFreeSgdOptions.defaults with Momentum = 0.0 } |> ignore)
            Assert.Equal("momentum", e.ParamName)
            let e = Assert.ThrowsAny<ArgumentException>(fun () -> ScheduleFree.adamw { ScheduleFreeAdamWOptions.defaults with Beta1 = 1.0 } |> ignore)
            Assert.Equal("beta1", e.ParamName)
            let e = Assert.ThrowsAny<ArgumentException>(fun () -> ScheduleFree.adamw { ScheduleFreeAdamWOptions.defaults with Lr = -0.5 } |> ignore)
            Assert.Equal("lr", e.ParamName)
            Assert.Contains("-0.5", e.Message)
    ]
