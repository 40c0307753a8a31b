/// Deliberately wrong optimizers, written as users write them: facade subclasses of Optimizer, ComposedOptimizers, core
/// gradient transformations and schedulers. Each is checked by the kit as a user runs it (OptimizerLaws.CheckAll, Laws.*,
/// SchedulerLaws); a mutant is caught when some law fails with a shrunk counterexample. The `NoBug` variants are the
/// controls: the same classes without the bug pass every law.
module Optim.Testing.Tests.Mutants

open System
open System.Collections.Generic
open FsCheck.FSharp
open Optim
open Optim.Testing

type CSharpOptimizer = Optim.CSharp.Optimizer
type Parameter = Optim.CSharp.Parameter
type ParamGroup = Optim.CSharp.ParamGroup
type OptimizerDefaults = Optim.CSharp.OptimizerDefaults

// ---------------------------------------------------------------------------------------------------------------------
// SGD written as a subclass of the facade's Optimizer, as docs/custom-optimizers.md shows, with one bug switched on.

type SgdBug =
    | NoBug
    | DampeningOnFirstStep
    | FirstBufferBeforeWeightDecay
    | NesterovOldBuffer
    | MaximizeNegatesUpdate
    | WeightDecayAfterUpdate
    | WritesGradient
    | SharedBuffer
    | GroupsIgnored
    | LastGroupsLr
    | ChunkBoundarySkipped

let private sgdDefaults (lr: float) momentum dampening (weightDecay: float) (nesterov: bool) =
    OptimizerDefaults()
        .Add("lr", lr).Add("momentum", (momentum: float)).Add("dampening", (dampening: float))
        .Add("weight_decay", weightDecay).Add("nesterov", nesterov).Add("maximize", false)

type HandSgd(groups: ParamGroup seq, lr, momentum, dampening, weightDecay, nesterov, bug: SgdBug) =
    inherit CSharpOptimizer(groups, sgdDefaults lr momentum dampening weightDecay nesterov, "HandSGD", [| "momentum_buffer" |])
    let shared = Dictionary<int, float32[]>()
    let mutable validatedLr = 0.0

    override _.ValidateGroup(group: ParamGroup) = validatedLr <- group.Lr

    override this.StepParameter(group: ParamGroup, p: Parameter, grad: ReadOnlySpan<float32>) =
        let g = if bug = GroupsIgnored then this.ParamGroups.[0] else group
        let lr = if bug = LastGroupsLr then validatedLr else g.Lr
        let negLr, wd, mu = float32 -lr, float32 g.["weight_decay"], float32 g.["momentum"]
        let keep = float32 (1.0 - g.["dampening"])
        let nesterov, maximize = g.["nesterov"] <> 0.0, g.["maximize"] <> 0.0
        let exists, existing = this.TryGetState(p, "momentum_buffer")
        let first = not exists
        let buf =
            if mu = 0.0f then null
            elif bug = SharedBuffer then
                // the parameter's own buffer exists (so a state dict holds one), but the step uses one per size
                let own = if exists then existing else this.GetState(p, "momentum_buffer")
                match shared.TryGetValue p.Numel with
                | true, b -> b
                | _ ->
                    shared.[p.Numel] <- own
                    own
            elif exists then existing
            else this.GetState(p, "momentum_buffer")
        let x = p.Data
        let n = x.Length
        let mutable start = 0
        while start < n do
            let stop = min n (start + 16)
            let last = if bug = ChunkBoundarySkipped && stop - start = 16 then stop - 1 else stop
            for i in start .. last - 1 do
                let gi = if maximize && bug <> MaximizeNegatesUpdate then -grad.[i] else grad.[i]
                let mutable d = gi
                if wd <> 0.0f && bug <> WeightDecayAfterUpdate then d <- d + wd * x.[i]
                if bug = WritesGradient then p.Grad.[i] <- d
                if mu <> 0.0f then
                    let old = buf.[i]
                    buf.[i] <-
                        if first then (if bug = DampeningOnFirstStep then keep * d elif bug = FirstBufferBeforeWeightDecay then gi else d)
                        else buf.[i] * mu + keep * d
                    d <- if nesterov then d + mu * (if bug = NesterovOldBuffer then old else buf.[i]) else buf.[i]
                if maximize && bug = MaximizeNegatesUpdate then d <- -d
                x.[i] <- x.[i] + negLr * d
                if bug = WeightDecayAfterUpdate then x.[i] <- x.[i] - float32 lr * wd * x.[i]
            start <- stop

/// The hyperparameters a user checks an SGD port with: plain momentum with dampening and weight decay, and Nesterov.
let sgdConfigs = [ 0.9, 0.5, 0.01, false; 0.9, 0.0, 0.01, true ]

/// Checks a HandSgd as a C# user would: OptimizerLaws with groups, maximize and the built-in SGD as reference.
let checkSgd (config: LawConfig) (bug: SgdBug) : LawOutcome list =
    sgdConfigs |> List.collect (fun (mu, tau, wd, nesterov) ->
        OptimizerLaws
            .For(fun ps -> HandSgd([ ParamGroup ps ], 0.1, mu, tau, wd, nesterov, bug) :> CSharpOptimizer)
            .WithGroups(fun gs -> HandSgd(gs, 0.1, mu, tau, wd, nesterov, bug) :> CSharpOptimizer)
            .Maximize()
            .SameAs(fun ps -> CSharp.SGD(ps, 0.1, mu, tau, wd, nesterov) :> CSharpOptimizer)
            .MaxTests(config.MaxTests)
            .Seed(defaultArg config.Seed 1UL)
            .Results() |> List.ofSeq)

// ---------------------------------------------------------------------------------------------------------------------
// Adam and AdamW written as a subclass, with one bug switched on.

type AdamBug =
    | AdamNoBug
    | BiasCorrectionOffByOne
    | EpsInsideSqrt
    | AmsgradMaxAfterCorrection
    | CoupledWeightDecay
    | StepCounterShared
    | StepCountNotSaved
    | BufferNotSaved
    | StateOfAnotherParameter
    | EpsForgotten

let private adamDefaults (lr: float) (weightDecay: float) (amsgrad: bool) (decoupled: bool) =
    OptimizerDefaults()
        .Add("lr", lr).Add("betas", struct (0.9, 0.999)).Add("eps", 1e-8).Add("weight_decay", weightDecay)
        .Add("amsgrad", amsgrad).Add("maximize", false).Add("decoupled", decoupled)

type HandAdam(groups: ParamGroup seq, lr, weightDecay, amsgrad, decoupled, bug: AdamBug) =
    inherit CSharpOptimizer(groups, adamDefaults lr weightDecay amsgrad decoupled,
                            "HandAdam", (if bug = BufferNotSaved then [| "exp_avg"; "max_exp_avg_sq" |] else [| "exp_avg"; "exp_avg_sq"; "max_exp_avg_sq" |]))
    let mutable calls = 0L
    let steps = Dictionary<Parameter, int64>(HashIdentity.Reference)
    let hidden = Dictionary<Parameter, float32[]>(HashIdentity.Reference)

    override this.StepParameter(group: ParamGroup, p: Parameter, grad: ReadOnlySpan<float32>) =
        let all = this.ParamGroups |> Seq.collect (fun g -> g.Params) |> Array.ofSeq
        let owner = if bug = StateOfAnotherParameter then all.[all.Length - 1 - Array.IndexOf(all, p)] else p
        let m = this.GetState(owner, "exp_avg")
        let v =
            if bug = BufferNotSaved then
                match hidden.TryGetValue p with
                | true, b -> b
                | _ -> (let b = Array.zeroCreate p.Numel in hidden.[p] <- b; b)
            else this.GetState(owner, "exp_avg_sq")
        calls <- calls + 1L
        let t =
            match bug with
            | BiasCorrectionOffByOne -> this.GetStep p + 1L
            | StepCounterShared -> calls
            | StepCountNotSaved -> (let k = (match steps.TryGetValue p with | true, k -> k | _ -> 0L) + 1L in steps.[p] <- k; k)
            | _ -> this.GetStep p
        let struct (beta1, beta2) = group.Betas
        let b1, b2, omb1, omb2 = float32 beta1, float32 beta2, float32 (1.0 - beta1), float32 (1.0 - beta2)
        let bc1 = 1.0 - Math.Pow(beta1, float t)
        let bc2 = 1.0 - Math.Pow(beta2, float t)
        let sqrtBc2 = float32 (sqrt bc2)
        let eps = if bug = EpsForgotten then 0.0f else float32 group.["eps"]
        let wd = float32 group.["weight_decay"]
        let decoupled = group.["decoupled"] <> 0.0 && bug <> CoupledWeightDecay
        let amsgrad = group.["amsgrad"] <> 0.0
        let stepSize = float32 (group.Lr / bc1)
        let maxV = if amsgrad then this.GetState(owner, "max_exp_avg_sq") else null
        let x = p.Data
        for i in 0 .. x.Length - 1 do
            let mutable gi = grad.[i]
            if decoupled then x.[i] <- x.[i] * (1.0f - float32 group.Lr * wd)
            elif wd <> 0.0f then gi <- gi + wd * x.[i]
            m.[i] <- m.[i] * b1 + omb1 * gi
            v.[i] <- v.[i] * b2 + omb2 * gi * gi
            let second =
                if amsgrad then
                    if bug = AmsgradMaxAfterCorrection then
                        maxV.[i] <- max maxV.[i] (v.[i] / float32 bc2)
                        maxV.[i] * float32 bc2
                    else
                        maxV.[i] <- max maxV.[i] v.[i]
                        maxV.[i]
                else v.[i]
            let denom = if bug = EpsInsideSqrt then sqrt (second + eps) / sqrtBc2 else sqrt second / sqrtBc2 + eps
            x.[i] <- x.[i] - stepSize * m.[i] / denom

/// The hyperparameters a user checks an Adam port with: Adam with weight decay, with AMSGrad, and AdamW.
let adamConfigs = [ 0.01, false, false; 0.01, true, false; 0.01, false, true ]

/// Checks a HandAdam as a C# user would, against the built-in Adam or AdamW.
let checkAdam (config: LawConfig) (bug: AdamBug) : LawOutcome list =
    adamConfigs |> List.collect (fun (wd, amsgrad, decoupled) ->
        let reference (ps: IReadOnlyList<Parameter>) : CSharpOptimizer =
            if decoupled then CSharp.AdamW(ps, 0.01, weightDecay = wd, amsgrad = amsgrad)
            else CSharp.Adam(ps, 0.01, weightDecay = wd, amsgrad = amsgrad)
        OptimizerLaws
            .For(fun ps -> HandAdam([ ParamGroup ps ], 0.01, wd, amsgrad, decoupled, bug) :> CSharpOptimizer)
            .WithGroups(fun gs -> HandAdam(gs, 0.01, wd, amsgrad, decoupled, bug) :> CSharpOptimizer)
            .SameAs(Func<_, _> reference)
            .MaxTests(config.MaxTests)
            .Seed(defaultArg config.Seed 1UL)
            .Results() |> List.ofSeq)

// ---------------------------------------------------------------------------------------------------------------------
// ComposedOptimizers: chains of the facade's blocks that claim to be a built-in.

open Optim.CSharp

let private composedCheck (config: LawConfig) (make: IReadOnlyList<Parameter> -> Transformation) (reference: IReadOnlyList<Parameter> -> CSharpOptimizer) =
    OptimizerLaws
        .For(fun ps -> ComposedOptimizer(ps, make ps) :> CSharpOptimizer)
        .SameAs(Func<_, _> reference)
        .MaxTests(config.MaxTests)
        .Seed(defaultArg config.Seed 1UL)
        .Results() |> List.ofSeq

/// AdamW claimed, with the weight decay added to the gradient (coupled) instead of decoupled.
let composedCoupledAdamW (config: LawConfig) =
    composedCheck config
        (fun _ -> Transformation.Chain(Transformation.AddWeightDecay 0.01, Transformation.ScaleByAdam(), Transformation.ScaleByLearningRate 0.01))
        (fun ps -> AdamW(ps, 0.01, weightDecay = 0.01))

/// SGD with momentum and weight decay claimed, with the decay added after the momentum instead of before.
let composedDecayAfterMomentum (config: LawConfig) =
    composedCheck config
        (fun _ -> Transformation.Chain(Transformation.Trace 0.9, Transformation.AddWeightDecay 0.01, Transformation.ScaleByLearningRate 0.1))
        (fun ps -> SGD(ps, 0.1, momentum = 0.9, weightDecay = 0.01))

/// Adam on gradients clipped to [-1, 1] claimed, with Adam's direction clipped instead of the gradient.
let composedClipAfterAdam (config: LawConfig) =
    composedCheck config
        (fun _ -> Transformation.Chain(Transformation.ScaleByAdam(), Transformation.ClipByValue 1.0, Transformation.ScaleByLearningRate 0.01))
        (fun ps -> ComposedOptimizer(ps, Transformation.ClipByValue(1.0).Then(Transformation.Adam(lr = 0.01))))

/// The correct chains of the three, as controls.
let composedControls (config: LawConfig) =
    [ composedCheck config
          (fun _ -> Transformation.Chain(Transformation.ScaleByAdam(), Transformation.ScaleByLearningRate 0.01, Transformation.DecoupledWeightDecay(0.01, 0.01)))
          (fun ps -> AdamW(ps, 0.01, weightDecay = 0.01))
      composedCheck config
          (fun _ -> Transformation.Chain(Transformation.AddWeightDecay 0.01, Transformation.Trace 0.9, Transformation.ScaleByLearningRate 0.1))
          (fun ps -> SGD(ps, 0.1, momentum = 0.9, weightDecay = 0.01)) ]
    |> List.concat

// ---------------------------------------------------------------------------------------------------------------------
// Core gradient transformations, checked with Laws.*.

let private adamOnly = Generators.adamOptions |> Gen.map (fun o -> { o with WeightDecay = 0.0; Amsgrad = false; Maximize = false })

/// Adam written as a block of its own (Transform.create), as docs/custom-optimizers.md shows a block; `offByOne` reads the
/// step count one step ahead.
let handAdamBlock (offByOne: bool) (o: AdamOptions) : GradientTransformation =
    Transform.create "handAdam"
        (fun ps -> State.empty ps.Length |> State.declare "exp_avg" |> State.declare "exp_avg_sq")
        (fun updates state _ ->
            let ms, vs = State.buffer "exp_avg" state, State.buffer "exp_avg_sq" state
            let ms', vs' = Array.copy ms, Array.copy vs
            let out =
                updates |> Array.mapi (fun i g ->
                    if isNull g then null
                    else
                        let t = float (state.Steps.[i] + (if offByOne then 2L else 1L))
                        let m = if isNull ms.[i] then Array.zeroCreate g.Length else ms.[i]
                        let v = if isNull vs.[i] then Array.zeroCreate g.Length else vs.[i]
                        let m' = Array.map2 (fun a x -> a * float32 o.Beta1 + float32 (1.0 - o.Beta1) * x) m g
                        let v' = Array.map2 (fun a x -> a * float32 o.Beta2 + float32 (1.0 - o.Beta2) * x * x) v g
                        ms'.[i] <- m'
                        vs'.[i] <- v'
                        let bc1, sqrtBc2 = 1.0 - o.Beta1 ** t, float32 (sqrt (1.0 - o.Beta2 ** t))
                        Array.map2 (fun a b -> float32 (-(o.Lr / bc1)) * a / (sqrt b / sqrtBc2 + float32 o.Eps)) m' v')
            out, state |> State.setBuffer "exp_avg" ms' |> State.setBuffer "exp_avg_sq" vs')

/// SGD's momentum written as a block, with one bug: "mutates" writes into the state it was given, "nullDecays" decays the
/// momentum of a parameter without a gradient, "shared" keeps one buffer per parameter size, "closure" counts its calls
/// in a closure and warms the momentum up with that count.
let momentumBlock (bug: string) (mu: float) : GradientTransformation =
    let mu32 = float32 mu
    let calls = ref 0
    let shared = Dictionary<int, float32[]>()
    Transform.create $"momentum({bug})"
        (fun ps -> State.empty ps.Length |> State.declare "momentum_buffer")
        (fun updates state _ ->
            calls.Value <- calls.Value + 1
            let bs = State.buffer "momentum_buffer" state
            let bs' = if bug = "mutates" then bs else Array.copy bs
            let warm = if bug = "closure" then float32 (min 1.0 (float calls.Value / 3.0)) else 1.0f
            let out =
                updates |> Array.mapi (fun i g ->
                    if isNull g then
                        if bug = "nullDecays" && not (isNull bs.[i]) then bs'.[i] <- Array.map (fun b -> b * mu32) bs.[i]
                        null
                    else
                        let b =
                            if isNull bs.[i] then Array.copy g
                            elif bug = "mutates" then
                                for j in 0 .. g.Length - 1 do bs.[i].[j] <- bs.[i].[j] * mu32 + g.[j]
                                bs.[i]
                            else Array.map2 (fun b x -> b * mu32 + x) bs.[i] g
                        let b =
                            if bug = "shared" then
                                match shared.TryGetValue g.Length with
                                | true, s when not (obj.ReferenceEquals(s, b)) ->
                                    Array.blit b 0 s 0 b.Length
                                    s
                                | true, s -> s
                                | _ -> (shared.[g.Length] <- b; b)
                            else b
                        bs'.[i] <- b
                        Array.map (fun x -> warm * x) b)
            out, State.setBuffer "momentum_buffer" bs' state)

let private momentumOptions =
    Generators.sgdOptions |> Gen.map (fun o -> { o with Momentum = (if o.Momentum = 0.0 then 0.9 else o.Momentum); Dampening = 0.0; Nesterov = false; Maximize = false })

/// SGD with momentum from a momentum block of one's own, claiming to be the built-in SGD.
let momentumSgd (bug: string) : Subject<SgdOptions> =
    Subject.ofTransform $"SGD over a momentum block ({bug})" momentumOptions (fun o ->
        Transform.chain [ Blocks.addWeightDecay o.WeightDecay; momentumBlock bug o.Momentum; Blocks.scaleByLearningRate o.Lr ])

/// A learning rate of a schedule, as a block of one's own; `late` reads the schedule at the previous step.
let scheduleBlock (late: bool) (schedule: int64 -> float) : GradientTransformation =
    Transform.create "mySchedule" (fun ps -> State.empty ps.Length) (fun updates state _ ->
        let out =
            updates |> Array.mapi (fun i u ->
                if isNull u then null
                else
                    let t = if late then max 0L (state.Steps.[i] - 1L) else state.Steps.[i]
                    let scale = float32 (-(schedule t))
                    Array.map (fun x -> scale * x) u)
        out, state)

let private decaying (o: AdamOptions) (t: int64) = o.Lr * 0.8 ** float t

/// Adam's direction with an exponentially decaying learning rate, from one's own schedule block, against the same chain
/// with Optim's scaleByLearningRateSchedule.
let scheduledAdam (late: bool) : Subject<AdamOptions> =
    Subject.ofTransform $"Adam with a schedule block (late {late})" adamOnly (fun o ->
        Transform.chain [ Blocks.scaleByAdam o.Beta1 o.Beta2 o.Eps false; scheduleBlock late (decaying o) ])

let scheduledAdamBuiltIn (o: AdamOptions) =
    Optim.Optimizer.ofTransform (Transform.chain [ Blocks.scaleByAdam o.Beta1 o.Beta2 o.Eps false; Blocks.scaleByLearningRateSchedule (decaying o) ])

/// SGD with weight decay whose in-place step computes the decayed gradient in the gradient's own buffer.
let inPlaceSgd (writesGradient: bool) : Subject<SgdOptions> =
    let options = Generators.sgdOptions |> Gen.map (fun o -> { o with Momentum = 0.0; Dampening = 0.0; Nesterov = false; Maximize = false; WeightDecay = 0.1 })
    Subject.create $"hand-written SGD (writes the gradient {writesGradient})" options (fun o ->
        let lr, wd = float32 o.Lr, float32 o.WeightDecay
        let direction (p: float32[]) (g: float32[]) =
            if writesGradient then
                for j in 0 .. g.Length - 1 do g.[j] <- g.[j] + wd * p.[j]
                g
            else Array.map2 (fun x gj -> gj + wd * x) p g
        { Init = fun ps -> State.empty ps.Length
          Step =
            fun ps grads state ->
                let ps' = Array.map2 (fun (p: Tensor) (g: float32[]) -> if isNull g then p else { p with Data = Array.map2 (fun x d -> x - lr * d) p.Data (Array.map2 (fun x gj -> gj + wd * x) p.Data g) }) ps grads
                ps', State.advance grads state
          StepInPlace =
            fun ps grads state ->
                Array.iter2 (fun (p: float32[]) (g: float32[]) ->
                    if not (isNull g) then
                        let d = direction p g
                        for j in 0 .. p.Length - 1 do p.[j] <- p.[j] - lr * d.[j]) ps grads
                State.advance grads state })

/// A gradient accumulator of one's own; `sums` forgets to divide by k.
let myAccumulate (sums: bool) (k: int) (inner: GradientTransformation) : GradientTransformation =
    Transform.create $"myAccumulate({k})"
        (fun ps -> inner.Init ps |> State.declare "my_acc" |> State.declareGlobal "my.mini" 0.0)
        (fun updates state ps ->
            if updates |> Array.forall isNull then updates, state
            else
                let acc = Array.copy (State.buffer "my_acc" state)
                updates |> Array.iteri (fun i u ->
                    if not (isNull u) then acc.[i] <- (if isNull acc.[i] then Array.copy u else Array.map2 (+) acc.[i] u))
                let mini = State.globalValue "my.mini" state + 1.0
                if mini < float k then Array.zeroCreate updates.Length, state |> State.setBuffer "my_acc" acc |> State.setGlobal "my.mini" mini
                else
                    let mean = acc |> Array.map (fun a -> if isNull a || sums then a else Array.map (fun x -> x / float32 k) a)
                    let out, s = inner.Update mean state ps
                    out, s |> State.setBuffer "my_acc" (Array.zeroCreate updates.Length) |> State.setGlobal "my.mini" 0.0)

/// SGD composed from blocks with maximize placed after the weight decay (negating λp too), claiming to be SGD.
let maximizeAfterDecay : Subject<SgdOptions> =
    Subject.ofTransform "SGD with maximize after the weight decay" Generators.sgdOptions (fun o ->
        Transform.chain
            [ Blocks.addWeightDecay o.WeightDecay
              (if o.Maximize then Blocks.maximize else Transform.identity)
              (if o.Momentum > 0.0 then Blocks.trace o.Momentum o.Dampening o.Nesterov else Transform.identity)
              Blocks.scaleByLearningRate o.Lr ])
    |> Subject.withMaximize (fun o m -> { o with Maximize = m })

// ---------------------------------------------------------------------------------------------------------------------
// The catalogue.

/// A mutant: what it is, how it is written, and the kit's run over it as a user runs it (each law's outcome).
[<NoEquality; NoComparison>]
type Mutant = { Name: string; Written: string; Run: LawConfig -> (string * bool * string) list }

let private ofOutcomes (outcomes: LawOutcome list) =
    outcomes |> List.map (fun o -> o.Law, o.Passed, (if o.Passed then "" else o.Counterexample + "\n" + o.Divergence))

let private ofResults (results: LawResult list) =
    results |> List.map (fun r ->
        match r with
        | LawResult.Passed(law, _, _) -> law, true, ""
        | LawResult.Failed f -> f.Law, false, f.Counterexample + "\n" + f.Divergence)

let private parity (cfg: LawConfig) = LawConfig.withTolerance Tolerance.parity cfg

let catalogue : Mutant list =
    let sgd name bug = { Name = name; Written = "a facade subclass of Optimizer (SGD)"; Run = fun c -> checkSgd c bug |> ofOutcomes }
    let adam name bug = { Name = name; Written = "a facade subclass of Optimizer (Adam/AdamW)"; Run = fun c -> checkAdam c bug |> ofOutcomes }
    let composed name run = { Name = name; Written = "a ComposedOptimizer"; Run = fun c -> run c |> ofOutcomes }
    let core name run = { Name = name; Written = "a core GradientTransformation"; Run = fun c -> run c |> ofResults }
    [ sgd "dampening applied on the first step" DampeningOnFirstStep
      sgd "momentum buffer not initialised to the first gradient (taken before weight decay)" FirstBufferBeforeWeightDecay
      sgd "Nesterov using the old buffer" NesterovOldBuffer
      sgd "maximize negating the update instead of the gradient" MaximizeNegatesUpdate
      sgd "weight decay applied after the update" WeightDecayAfterUpdate
      sgd "the step writing the gradient" WritesGradient
      sgd "a state buffer shared between parameters of one size" SharedBuffer
      sgd "group hyperparameters ignored for the second group" GroupsIgnored
      sgd "a param group's lr used for all groups" LastGroupsLr
      sgd "a chunk boundary skipped" ChunkBoundarySkipped
      adam "bias correction off by one step" BiasCorrectionOffByOne
      adam "eps inside the square root" EpsInsideSqrt
      adam "AMSGrad's max taken after bias correction" AmsgradMaxAfterCorrection
      adam "weight decay coupled where it should be decoupled" CoupledWeightDecay
      adam "step counter shared across parameters" StepCounterShared
      adam "a resume that drops the step count" StepCountNotSaved
      adam "a checkpoint dropping a buffer" BufferNotSaved
      adam "state keys swapped between parameters" StateOfAnotherParameter
      adam "finite in producing NaN on zero gradients (eps forgotten)" EpsForgotten
      composed "AdamW composed with coupled weight decay" composedCoupledAdamW
      composed "SGD composed with the weight decay after the momentum" composedDecayAfterMomentum
      composed "Adam's direction clipped instead of the gradient" composedClipAfterAdam
      core "a hand-written Adam block with bias correction off by one" (fun c -> [ Laws.composition (parity c) Fused.adam (Subject.ofTransform "hand-written Adam" adamOnly (handAdamBlock true)) ])
      core "a pure step mutating its input state" (fun c -> [ Laws.pureStepIsPure c (momentumSgd "mutates") ])
      core "the state advanced on a null gradient" (fun c -> [ Laws.nullGradient c (momentumSgd "nullDecays") ])
      core "a block counting its calls in a closure" (fun c -> [ Laws.pureStepIsPure c (momentumSgd "closure"); Laws.resume c (momentumSgd "closure") ])
      core "a momentum buffer shared between parameters of one size" (fun c -> [ Laws.composition (parity c) Fused.sgd (momentumSgd "shared") ])
      core "an lr schedule read one step late" (fun c -> [ Laws.composition (parity c) scheduledAdamBuiltIn (scheduledAdam true) ])
      core "an in-place step writing the gradient" (fun c -> [ Laws.pureEqualsInPlace c (inPlaceSgd true) ])
      core "an accumulator that sums the micro-batches instead of averaging" (fun c -> [ Laws.accumulation c (myAccumulate true) Builtins.sgd ])
      core "maximize placed after the weight decay" (fun c -> [ Laws.composition c Fused.sgd maximizeAfterDecay; Laws.maximize c maximizeAfterDecay ])
      { Name = "a step-decay schedule ported without the floor"
        Written = "a pure schedule claimed for StepLR"
        Run = fun c ->
            SchedulerLaws.For(fun o -> StepLR(o, 10, 0.5) :> LRScheduler)
                .Schedule(fun _ baseLr epoch -> baseLr * Math.Pow(0.5, float epoch / 10.0))
                .MaxTests(c.MaxTests).Seed(defaultArg c.Seed 1UL).Results() |> List.ofSeq |> ofOutcomes }
      { Name = "an lrLambda that counts its calls in a closure"
        Written = "a LambdaLR over a closure"
        Run = fun c ->
            SchedulerLaws.For(fun o ->
                    let calls = ref 0
                    LambdaLR(o, Func<int, float>(fun _ -> calls.Value <- calls.Value + 1; 0.9 ** float calls.Value)) :> LRScheduler)
                .MaxTests(c.MaxTests).Seed(defaultArg c.Seed 1UL).Results() |> List.ofSeq |> ofOutcomes } ]

/// The controls: the same code without the bug passes every law.
let controls : Mutant list =
    [ { Name = "HandSgd without a bug"; Written = "a facade subclass of Optimizer (SGD)"; Run = fun c -> checkSgd c NoBug |> ofOutcomes }
      { Name = "HandAdam without a bug"; Written = "a facade subclass of Optimizer (Adam/AdamW)"; Run = fun c -> checkAdam c AdamNoBug |> ofOutcomes }
      { Name = "the correct chains of AdamW and SGD"; Written = "a ComposedOptimizer"; Run = fun c -> composedControls c |> ofOutcomes }
      { Name = "the correct blocks"; Written = "core GradientTransformations"
        Run = fun c ->
            [ Laws.composition (parity c) Fused.adam (Subject.ofTransform "hand-written Adam" adamOnly (handAdamBlock false))
              Laws.composition (parity c) Fused.sgd (momentumSgd "none")
              Laws.pureStepIsPure c (momentumSgd "none")
              Laws.nullGradient c (momentumSgd "none")
              Laws.resume c (momentumSgd "none")
              Laws.composition (parity c) scheduledAdamBuiltIn (scheduledAdam false)
              Laws.pureEqualsInPlace c (inPlaceSgd false)
              Laws.accumulation c (myAccumulate false) Builtins.sgd ] |> ofResults }
      { Name = "a step-decay schedule with the floor"; Written = "a pure schedule claimed for StepLR"
        Run = fun c ->
            SchedulerLaws.For(fun o -> StepLR(o, 10, 0.5) :> LRScheduler)
                .Schedule(fun _ baseLr epoch -> baseLr * Math.Pow(0.5, float (epoch / 10)))
                .MaxTests(c.MaxTests).Seed(defaultArg c.Seed 1UL).Results() |> List.ofSeq |> ofOutcomes } ]
