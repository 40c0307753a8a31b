namespace Optim.Testing

open System
open FsCheck
open FsCheck.FSharp
open Optim

/// <summary>
/// The laws every F# optimizer (<see cref="T:Optim.CoreOptimizer"/>) obeys, each an FsCheck property over generated
/// parameters, gradients (some missing, some at edge values) and hyperparameters. Each returns a
/// <see cref="T:Optim.Testing.LawResult"/>: passed with its number of cases, or failed with the counterexample shrunk and
/// printed (shapes, hyperparameters, gradients, the step where it diverged, expected and actual element, the seed).
/// </summary>
/// <remarks>Exact laws compare bit for bit unless the config sets a tolerance; the others use SPEC's.</remarks>
[<RequireQualifiedAccess>]
module Laws =

    let private shapes (ps: Tensor[]) = ps |> Array.map (fun p -> p.Shape)
    let private datas (ps: Tensor[]) = ps |> Array.map (fun p -> p.Data)
    let private negate (g: float32[][]) = g |> Array.map (fun a -> if isNull a then null else Array.map (fun x -> -x) a)

    /// Steps two optimizers side by side over a case, comparing parameters and state after every step.
    let private lockstep (tol: Tolerance) (expected: Optimizer) (actual: Optimizer) (ps: Tensor[]) (gradsE: float32[][] list) (gradsA: float32[][] list) =
        let rec go t (pe: Tensor[]) se (pa: Tensor[]) sa gsE gsA =
            match gsE, gsA with
            | ge :: restE, ga :: restA ->
                let pe', se' = expected.Step pe ge se
                let pa', sa' = actual.Step pa ga sa
                let where = $"After step {t}"
                match Compare.parameters tol where (shapes ps) (datas pe') (datas pa') |> Option.orElse (Compare.states tol where se' sa') with
                | Some d -> Some d
                | None -> go (t + 1) pe' se' pa' sa' restE restA
            | _ -> None
        go 1 ps (expected.Init ps) ps (actual.Init ps) gradsE gradsA

    /// <summary>
    /// <b>Composition equals the built-in.</b> The subject gives the numbers and the state (step counts, buffers by name)
    /// of <paramref name="builtIn"/> with the same hyperparameters, after every step: bit for bit by default, as a chain of
    /// Optim's blocks equals the kernel it compiles to. For a port written by hand, give the config SPEC's tolerance.
    /// Catches a wrong block, a wrong order of blocks, a wrong bias correction, a misplaced weight decay.
    /// </summary>
    /// <param name="config">How to run the law.</param>
    /// <param name="builtIn">The optimizer the subject claims to be (<c>Fused.adam</c>, <c>Builtins.adam.Build</c>, …).</param>
    /// <param name="subject">The optimizer under test.</param>
    let composition (config: LawConfig) (builtIn: 'o -> Optimizer) (subject: Subject<'o>) : LawResult =
        if isNull (box builtIn) then nullArg (nameof builtIn)
        let tol = LawConfig.toleranceOr Tolerance.exact config
        Runner.run config "composition equals the built-in" subject.Name (Scenario.arbFor subject true 1 6)
            (fun s -> lockstep tol (builtIn s.Options) (subject.Build s.Options) s.Parameters s.Gradients s.Gradients)
            Scenario.describe

    /// <summary>
    /// <b>Pure equals in place.</b> <c>Step</c> (pure) and <c>StepInPlace</c> on copies of the parameters give the same
    /// parameters and state after every step, bit for bit by default, and the in-place step leaves the gradients as they
    /// were. Catches an in-place path that writes the gradient, keeps hidden state, or computes differently.
    /// </summary>
    /// <param name="config">How to run the law.</param>
    /// <param name="subject">The optimizer under test.</param>
    let pureEqualsInPlace (config: LawConfig) (subject: Subject<'o>) : LawResult =
        let tol = LawConfig.toleranceOr Tolerance.exact config
        Runner.run config "pure equals in place" subject.Name (Scenario.arbFor subject true 1 6)
            (fun s ->
                let o = subject.Build s.Options
                let buffers = datas s.Parameters |> Array.map Array.copy
                let rec go t ps sp si gs =
                    match gs with
                    | [] -> None
                    | g :: rest ->
                        let ps', sp' = o.Step ps g sp
                        let before = Compare.copyGrads g
                        let si' = o.StepInPlace buffers g si
                        let where = $"After step {t}"
                        let touched =
                            Seq.init g.Length id |> Seq.tryPick (fun i ->
                                Compare.arrays Tolerance.exact $"{where}, the in-place step changed the gradient of parameter {i}" before.[i] g.[i])
                        match touched
                              |> Option.orElse (Compare.parameters tol $"{where} (pure as expected, in place as actual)" (shapes s.Parameters) (datas ps') buffers)
                              |> Option.orElse (Compare.states tol $"{where} (pure as expected, in place as actual)" sp' si') with
                        | Some d -> Some d
                        | None -> go (t + 1) ps' sp' si' rest
                go 1 s.Parameters (o.Init s.Parameters) (o.Init s.Parameters) (List.map Compare.copyGrads s.Gradients))
            Scenario.describe

    /// <summary>
    /// <b>The pure step is pure.</b> <c>Step</c> never modifies its arguments (parameters, gradients, state), and run twice
    /// on the same arguments it gives the same result. Catches a step that mutates its input state or keeps a counter of
    /// its own.
    /// </summary>
    /// <param name="config">How to run the law.</param>
    /// <param name="subject">The optimizer under test.</param>
    let pureStepIsPure (config: LawConfig) (subject: Subject<'o>) : LawResult =
        Runner.run config "the pure step never mutates its inputs" subject.Name (Scenario.arbFor subject true 1 6)
            (fun s ->
                let o = subject.Build s.Options
                let rec go t (ps: Tensor[]) state gs =
                    match gs with
                    | [] -> None
                    | g :: rest ->
                        let psCopy, gCopy, stateCopy = Array.map Tensor.copy ps, Compare.copyGrads g, State.copy state
                        let ps1, s1 = o.Step ps g state
                        let where = $"Step {t}"
                        let changed =
                            Compare.parameters Tolerance.exact $"{where} changed its input parameters" (shapes ps) (datas psCopy) (datas ps)
                            |> Option.orElse (Seq.init g.Length id |> Seq.tryPick (fun i -> Compare.arrays Tolerance.exact $"{where} changed its input gradient of parameter {i}" gCopy.[i] g.[i]))
                            |> Option.orElse (Compare.states Tolerance.exact $"{where} changed its input state" stateCopy state)
                        match changed with
                        | Some d -> Some d
                        | None ->
                            let ps2, s2 = o.Step psCopy gCopy stateCopy
                            let again = $"{where} run twice on the same inputs (first as expected, second as actual)"
                            match Compare.parameters Tolerance.exact again (shapes ps) (datas ps1) (datas ps2) |> Option.orElse (Compare.states Tolerance.exact again s1 s2) with
                            | Some d -> Some d
                            | None -> go (t + 1) ps1 s1 rest
                go 1 s.Parameters (o.Init s.Parameters) s.Gradients)
            Scenario.describe

    /// <summary>
    /// <b>Resumed equals uninterrupted.</b> A run saved halfway through to a JSON checkpoint (<c>Checkpoint.toJson</c>),
    /// read back into a new optimizer of the same hyperparameters (<c>Checkpoint.ofJson</c>, <c>Checkpoint.conform</c>) and
    /// continued gives the uninterrupted run's parameters and state, bit for bit by default. Catches state kept outside
    /// <see cref="T:Optim.State"/> (a step counter in a closure), and buffers the checkpoint does not carry.
    /// </summary>
    /// <param name="config">How to run the law.</param>
    /// <param name="subject">The optimizer under test.</param>
    let resume (config: LawConfig) (subject: Subject<'o>) : LawResult =
        let tol = LawConfig.toleranceOr Tolerance.exact config
        Runner.run config "resumed from a JSON checkpoint equals uninterrupted" subject.Name (Scenario.arbFor subject true 2 6)
            (fun s ->
                let k = s.Gradients.Length / 2
                let straight = subject.Build s.Options
                let ps = s.Parameters
                let run (o: Optimizer) (ps, st) gs = gs |> List.fold (fun (ps, st) g -> o.Step ps g st) (ps, st)
                let p1, s1 = run straight (ps, straight.Init ps) (List.take k s.Gradients)
                let names = Array.create ps.Length (null: string)
                let json = Checkpoint.toJson { Kind = subject.Name; State = s1; Groups = [||]; Names = names; Shapes = shapes ps }
                let resumed = subject.Build s.Options
                let s1' = Checkpoint.conform subject.Name (resumed.Init ps) (shapes ps) names [||] (Checkpoint.ofJson json)
                let rec go t pa sa pb sb gs =
                    match gs with
                    | [] -> None
                    | g :: rest ->
                        let pa', sa' = straight.Step pa g sa
                        let pb', sb' = resumed.Step pb g sb
                        let where = $"After step {t}, resumed after step {k} (uninterrupted as expected, resumed as actual)"
                        match Compare.parameters tol where (shapes ps) (datas pa') (datas pb') |> Option.orElse (Compare.states tol where sa' sb') with
                        | Some d -> Some d
                        | None -> go (t + 1) pa' sa' pb' sb' rest
                go (k + 1) p1 s1 p1 s1' (List.skip k s.Gradients))
            Scenario.describe

    /// The per-parameter mean of micro-batch gradients, as multiSteps takes it: summed in float32 in order from the
    /// first present one, a null adding nothing, divided by k; null where every micro-batch had none.
    let private mean (k: int) (micro: float32[][] list) =
        let n = (List.head micro).Length
        Array.init n (fun i ->
            let present = micro |> List.map (fun g -> g.[i]) |> List.filter (isNull >> not)
            match present with
            | [] -> null
            | first :: rest ->
                let sum = rest |> List.fold (fun (acc: float32[]) g -> Array.map2 (+) acc g) (Array.copy first)
                sum |> Array.map (fun x -> x / float32 k))

    /// <summary>
    /// <b>Accumulation equals one step on the mean</b>, for an accumulator of your own: <paramref name="accumulate"/>
    /// <c>k</c> around the subject's transformation, fed <c>k</c> micro-batches, equals one step of the subject on their
    /// mean (summed in order, a missing gradient adding nothing, divided by <c>k</c>), for <c>k</c> from 1 to 4, bit for
    /// bit by default (the one step as the compiled optimizer takes it, or as the transformation's updates added, as
    /// the accumulator runs around a chain of elementwise blocks or anything else); the calls between real steps move
    /// nothing. A call in which no parameter has a gradient is not a micro-batch, and is not made. <see cref="M:Optim.Testing.Laws.multiSteps``1"/> is
    /// this law for <c>Combinators.multiSteps</c>.
    /// </summary>
    /// <param name="config">How to run the law.</param>
    /// <param name="accumulate">Builds the accumulator of <c>k</c> micro-batches around a transformation.</param>
    /// <param name="subject">The optimizer under test; it needs <c>Transform</c>.</param>
    /// <exception cref="T:System.ArgumentException">The subject has no transformation.</exception>
    let accumulation (config: LawConfig) (accumulate: int -> GradientTransformation -> GradientTransformation) (subject: Subject<'o>) : LawResult =
        if isNull (box accumulate) then nullArg (nameof accumulate)
        let transform =
            match subject.Transform with
            | Some t -> t
            | None -> invalidArg (nameof subject) $"The accumulation law wraps a gradient transformation, but the subject '{subject.Name}' has none (build it with Subject.ofTransform)."
        let tol = LawConfig.toleranceOr Tolerance.exact config
        let arb =
            let g = gen { let! k = Gen.choose (1, 4) in let! s = Scenario.genFor subject true 1 9 in return k, s }
            Arb.fromGenShrink (g, fun (k, s) -> Scenario.shrinkFor subject 1 1 s |> Seq.map (fun s -> k, s))
        Runner.run config "k accumulated micro-batches equal one step on their mean" subject.Name arb
            (fun (k, s) ->
                let acc = Optimizer.ofTransform (accumulate k (transform s.Options))
                let inner = transform s.Options
                let one = Optimizer.ofTransform inner
                let ps = s.Parameters
                // an accumulator around a chain of elementwise blocks runs as the chain's own fused pass, and one around
                // anything else as written, adding its updates: its real step is one of the two, bit for bit
                let plain (p: Tensor[]) g st =
                    let u, st' = Transform.update inner g st p
                    Transform.applyUpdates p u, st'
                // a call in which no parameter has a gradient is no micro-batch (multiSteps ignores it)
                let chunks = s.Gradients |> List.filter (Array.exists (isNull >> not)) |> List.chunkBySize k
                let rec go t pa sa pb sb pc sc chunks =
                    match chunks with
                    | [] -> None
                    | micro :: rest ->
                        let pa', sa' = micro |> List.fold (fun (p, st) g -> acc.Step p g st) (pa, sa)
                        if micro.Length < k then
                            Compare.parameters Tolerance.exact $"After {micro.Length} of {k} micro-batches of real step {t}, which must move nothing"
                                (shapes ps) (datas pa) (datas pa')
                        else
                            let m = mean k micro
                            let pb', sb' = one.Step pb m sb
                            let pc', sc' = plain pc m sc
                            let where = $"After real step {t} (micro-batches {(t - 1) * k + 1} to {t * k}; k = {k}; one step on the mean as expected)"
                            let steps =
                                Seq.init ps.Length id |> Seq.tryPick (fun i ->
                                    if sa'.Steps.[i] <> sb'.Steps.[i] then Some $"{where}: parameter {i} counts {sa'.Steps.[i]} steps, expected {sb'.Steps.[i]}" else None)
                            let compiled = Compare.parameters tol where (shapes ps) (datas pb') (datas pa')
                            let written = Compare.parameters tol where (shapes ps) (datas pc') (datas pa')
                            match (if compiled.IsNone || written.IsNone then None else compiled) |> Option.orElse steps with
                            | Some d -> Some d
                            | None -> go (t + 1) pa' sa' pb' sb' pc' sc' rest
                go 1 ps (acc.Init ps) ps (one.Init ps) ps (inner.Init ps) chunks)
            (fun (k, s) -> $"  k = {k} micro-batches per step{Environment.NewLine}{Scenario.describe s}")

    /// <summary>
    /// <b><c>multiSteps</c> equals one step on the mean.</b> <c>Combinators.multiSteps k</c> around the subject's
    /// transformation, fed <c>k</c> micro-batches, equals one step on their mean, bit for bit by default.
    /// </summary>
    /// <param name="config">How to run the law.</param>
    /// <param name="subject">The optimizer under test; it needs <c>Transform</c>.</param>
    /// <exception cref="T:System.ArgumentException">The subject has no transformation.</exception>
    let multiSteps (config: LawConfig) (subject: Subject<'o>) : LawResult = accumulation config Combinators.multiSteps subject

    /// <summary>
    /// <b>A null gradient changes nothing.</b> At every step, a parameter whose gradient is null keeps its values, its step
    /// count and its buffers; a step where no parameter has a gradient changes nothing at all. Catches a state advanced
    /// (a momentum decayed, a step counted) for a parameter that got no gradient.
    /// </summary>
    /// <remarks>An accumulator (<c>Combinators.multiSteps</c>) moves a parameter at its real step by the gradients of the
    /// earlier micro-batches, whatever the last one held: it obeys the accumulation law instead.</remarks>
    /// <param name="config">How to run the law.</param>
    /// <param name="subject">The optimizer under test.</param>
    let nullGradient (config: LawConfig) (subject: Subject<'o>) : LawResult =
        Runner.run config "a null gradient changes nothing" subject.Name (Scenario.arbFor subject true 1 6)
            (fun s ->
                let o = subject.Build s.Options
                let none = Array.create s.Parameters.Length (null: float32[])
                let rec go t (ps: Tensor[]) state gs =
                    match gs with
                    | [] ->
                        let before = State.copy state
                        let ps', s' = o.Step ps none state
                        let where = $"A step after step {t - 1} in which no parameter has a gradient"
                        Compare.parameters Tolerance.exact where (shapes ps) (datas ps) (datas ps')
                        |> Option.orElse (Compare.states Tolerance.exact where before s')
                    | (g: float32[][]) :: rest ->
                        let before = State.copy state
                        let ps', s' = o.Step ps g state
                        let where = $"Step {t}"
                        let moved =
                            Seq.init g.Length id |> Seq.filter (fun i -> isNull g.[i]) |> Seq.tryPick (fun i ->
                                Compare.arrays Tolerance.exact $"{where}: parameter {i} has no gradient, and moved" ps.[i].Data ps'.[i].Data
                                |> Option.orElse (Compare.parameterState $"{where}: parameter {i} has no gradient, and its state changed" i before s'))
                        match moved with
                        | Some d -> Some d
                        | None -> go (t + 1) ps' s' rest
                go 1 s.Parameters (o.Init s.Parameters) s.Gradients)
            Scenario.describe

    /// <summary>
    /// <b>maximize(g) equals minimize(−g).</b> The subject with <c>maximize</c> on, fed <c>g</c>, gives the parameters and
    /// state of the subject with it off fed <c>−g</c>, bit for bit by default. Catches a maximize that negates the update
    /// instead of the gradient (they differ once weight decay or a step-size rule sees the sign).
    /// </summary>
    /// <param name="config">How to run the law.</param>
    /// <param name="subject">The optimizer under test; it needs <c>Maximize</c>.</param>
    /// <exception cref="T:System.ArgumentException">The subject has no maximize option.</exception>
    let maximize (config: LawConfig) (subject: Subject<'o>) : LawResult =
        let set =
            match subject.Maximize with
            | Some f -> f
            | None -> invalidArg (nameof subject) $"The maximize law switches the subject's maximize option, but '{subject.Name}' has none (add it with Subject.withMaximize)."
        let tol = LawConfig.toleranceOr Tolerance.exact config
        Runner.run config "maximize(g) equals minimize(-g)" subject.Name (Scenario.arbFor subject true 1 5)
            (fun s ->
                lockstep tol (subject.Build (set s.Options false)) (subject.Build (set s.Options true)) s.Parameters
                    (List.map negate s.Gradients) s.Gradients
                |> Option.map (fun d -> d + " (minimize(-g) as expected, maximize(g) as actual)"))
            Scenario.describe

    /// <summary>
    /// <b>Finite in, finite out.</b> From finite parameters and finite gradients (zeros, tiny and large ones included),
    /// every step gives finite parameters and finite state buffers. Catches a division by a zero second moment, an eps
    /// in the wrong place, a norm of a zero gradient.
    /// </summary>
    /// <param name="config">How to run the law.</param>
    /// <param name="subject">The optimizer under test.</param>
    let finite (config: LawConfig) (subject: Subject<'o>) : LawResult =
        Runner.run config "finite in, finite out" subject.Name (Scenario.arbFor subject true 1 6)
            (fun s ->
                let o = subject.Build s.Options
                let rec go t ps state gs =
                    match gs with
                    | [] -> None
                    | g :: rest ->
                        let ps', s' = o.Step ps g state
                        match Compare.finite $"After step {t}" (datas ps') (Some s') with
                        | Some d -> Some d
                        | None -> go (t + 1) ps' s' rest
                go 1 s.Parameters (o.Init s.Parameters) s.Gradients)
            Scenario.describe

    /// A random convex quadratic ½·Σ aᵢ(xᵢ - cᵢ)², curvatures in [0.5, 2], the start 0.5 to 2 from the centre and at
    /// least 0.1 from 0 in every coordinate, on the side of 0 (LAMB's steps, proportional to ‖p‖, cannot cross it).
    let private quadratic (parameters: Gen<Tensor[]>) =
        gen {
            let! drawn = parameters
            let ps = drawn |> Array.map (fun p -> { p with Data = p.Data |> Array.map (fun x -> if x < 0.0f then x - 0.1f else x + 0.1f) })
            let coordinates (g: Gen<float32>) = ps |> Array.map (fun p -> Gen.arrayOfLength p.Data.Length g) |> Gen.sequenceToArray
            let! curvature = coordinates (Gen.choose (500, 2000) |> Gen.map (fun k -> float32 k / 1000.0f))
            let! offset = coordinates (Gen.choose (500, 2000) |> Gen.map (fun k -> float32 k / 1000.0f))
            let away (x: float32) (d: float32) = if x < 0.0f then x - d else x + d
            let centre = Array.map2 (fun (p: Tensor) (o: float32[]) -> Array.map2 away p.Data o) ps offset
            return ps, curvature, centre
        }

    /// <summary>
    /// <b>Convergence on a random convex quadratic.</b> With its tuned hyperparameters and steps
    /// (<c>Subject.withTuned</c>), the subject brings <c>f(x) = ½·Σ aᵢ(xᵢ − cᵢ)²</c> (curvatures in [0.5, 2]) to at most
    /// <c>1e-2·f(x₀) + 1e-4</c>. It runs at most 20 cases whatever the config says: each is a whole training run.
    /// Catches a wrong sign and a step that does not descend.
    /// </summary>
    /// <param name="config">How to run the law.</param>
    /// <param name="subject">The optimizer under test; it needs <c>Tuned</c>.</param>
    /// <exception cref="T:System.ArgumentException">The subject has no tuned hyperparameters.</exception>
    let converges (config: LawConfig) (subject: Subject<'o>) : LawResult =
        let tuned, steps =
            match subject.Tuned with
            | Some t -> t
            | None -> invalidArg (nameof subject) $"The convergence law needs hyperparameters that suit a quadratic, but '{subject.Name}' has none (add them with Subject.withTuned)."
        let config = { config with MaxTests = min config.MaxTests 20 }
        let arb = Arb.fromGen (quadratic (defaultArg subject.Parameters Generators.parameters))
        let value (a: float32[][]) (c: float32[][]) (xs: Tensor[]) =
            xs |> Array.mapi (fun i x -> x.Data |> Array.mapi (fun j v -> 0.5 * float a.[i].[j] * (float v - float c.[i].[j]) ** 2.0) |> Array.sum) |> Array.sum
        Runner.run config "converges on a random convex quadratic" subject.Name arb
            (fun (ps, a, c) ->
                let grad (xs: Tensor[]) = xs |> Array.mapi (fun i x -> x.Data |> Array.mapi (fun j v -> a.[i].[j] * (v - c.[i].[j])))
                let f0 = value a c ps
                let final, _ = Optimizer.run (subject.Build tuned) grad steps ps
                let f = value a c final
                if f <= 1e-2 * f0 + 1e-4 then None
                else Some $"After {steps} steps with {Compare.describeOptions tuned}, f = {Compare.num f}, from f = {Compare.num f0} at the start; expected at most {Compare.num (1e-2 * f0 + 1e-4)}")
            (fun (ps, a, c) ->
                let lines = ps |> Array.mapi (fun i p -> $"    {i}: shape {Tensor.formatShape p.Shape}, start {Compare.floats p.Data}, curvature {Compare.floats a.[i]}, centre {Compare.floats c.[i]}")
                "  f(x) = ½·Σ a·(x - c)² over" + Environment.NewLine + String.Join(Environment.NewLine, lines))

    /// <summary>
    /// Every law that applies to the subject: composition (when <paramref name="builtIn"/> is given), pure equals in
    /// place, the pure step is pure, resume, <c>multiSteps</c> (with a transformation), null gradients, maximize (with a
    /// maximize option), finite in finite out, convergence (with tuned hyperparameters).
    /// </summary>
    /// <param name="config">How to run the laws.</param>
    /// <param name="builtIn">The built-in the subject claims to be, if any.</param>
    /// <param name="subject">The optimizer under test.</param>
    let all (config: LawConfig) (builtIn: ('o -> Optimizer) option) (subject: Subject<'o>) : LawResult list =
        [ match builtIn with Some b -> yield composition config b subject | None -> ()
          yield pureEqualsInPlace config subject
          yield pureStepIsPure config subject
          yield resume config subject
          if subject.Transform.IsSome then yield multiSteps config subject
          yield nullGradient config subject
          if subject.Maximize.IsSome then yield maximize config subject
          yield finite config subject
          if subject.Tuned.IsSome then yield converges config subject ]
