namespace Optim.Testing

open System
open System.IO
open FsCheck
open FsCheck.FSharp
open Optim
open Optim.CSharp

/// <summary>One case of a scheduler law: the groups' base learning rates, the optimizer kind, the number of steps, the
/// metric of each step (for <c>ReduceLROnPlateau</c>) and the step after which a resumed run is saved.</summary>
type SchedulerCase =
    { /// <summary>One base learning rate per param group.</summary>
      BaseLrs: float[]
      /// <summary>Adam (betas) rather than SGD with momentum 0.9.</summary>
      Adam: bool
      /// <summary>How many scheduler steps.</summary>
      Steps: int
      /// <summary>The metric passed to each step of a <c>ReduceLROnPlateau</c>.</summary>
      Metrics: float[]
      /// <summary>The step after which the resume laws save the run.</summary>
      Split: int }

/// <summary>
/// The laws of learning-rate schedulers: a pure schedule equals the facade scheduler's sequence, and a scheduler resumed
/// from its state dict (JSON or a checkpoint file) continues as an uninterrupted one. Each runs the scheduler over a fresh
/// SGD (momentum 0.9) or Adam with one to three param groups, and returns a <see cref="T:Optim.Testing.LawResult"/>.
/// C# uses them through <see cref="T:Optim.Testing.SchedulerLaws"/>.
/// </summary>
[<RequireQualifiedAccess>]
module ScheduleLaws =

    let private caseGen =
        gen {
            let! groups = Gen.choose (1, 3)
            let! lrs = Gen.arrayOfLength groups (Gen.elements [ 0.1; 0.05; 1.0; 0.003 ])
            let! adam = Gen.elements [ true; false ]
            let! steps = Gen.choose (1, 100)
            let! deltas = Gen.arrayOfLength steps (Gen.elements [ -0.01; -1e-5; 0.0; 0.0; 1e-5; 0.02 ])
            let! split = Gen.choose (0, steps)
            return { BaseLrs = lrs; Adam = adam; Steps = steps; Metrics = deltas |> Array.scan (+) 1.0 |> Array.tail; Split = split }
        }

    let private shrinkCase (c: SchedulerCase) =
        seq {
            if c.Steps > 1 then
                for steps in [ c.Steps / 2; c.Steps - 1 ] do
                    if steps >= 1 && steps < c.Steps then
                        yield { c with Steps = steps; Metrics = Array.take steps c.Metrics; Split = min c.Split steps }
            if c.BaseLrs.Length > 1 then yield { c with BaseLrs = Array.take (c.BaseLrs.Length - 1) c.BaseLrs }
            if c.Split > 0 then yield { c with Split = c.Split - 1 }
        }

    let private arb = Arb.fromGenShrink (caseGen, shrinkCase)

    let private describe (c: SchedulerCase) =
        let kind = if c.Adam then "Adam (lr 0.001)" else "SGD (lr 0.1, momentum 0.9)"
        let lrs = String.Join(", ", c.BaseLrs |> Array.map Compare.num)
        $"  optimizer: {kind} over {c.BaseLrs.Length} param group(s) of base learning rates [{lrs}]{Environment.NewLine}  {c.Steps} step(s); resumed after step {c.Split}"

    let internal optimizerOf (c: SchedulerCase) : CSharp.Optimizer =
        let groups = c.BaseLrs |> Array.map (fun lr -> ParamGroup([ Parameter(Array.zeroCreate 1) ], Lr = lr))
        if c.Adam then Adam(groups, 0.001) else SGD(groups, 0.1, momentum = 0.9)

    let private build (make: CSharp.Optimizer -> LRScheduler) (o: CSharp.Optimizer) =
        match make o with
        | null -> raise (InvalidOperationException "The scheduler factory returned null instead of a scheduler.")
        | s -> s

    let private drive (c: SchedulerCase) (o: CSharp.Optimizer) (s: LRScheduler) (k: int) =
        o.Step() |> ignore
        match s with
        | :? ReduceLROnPlateau as p -> p.Step(c.Metrics.[k])
        | _ -> s.Step()

    let private lrs (o: CSharp.Optimizer) = o.ParamGroups |> Seq.map (fun g -> g.Lr) |> Array.ofSeq

    let private momenta (o: CSharp.Optimizer) =
        o.ParamGroups |> Seq.map (fun g -> if g.ContainsKey "betas" then (let struct (b1, _) = g.Betas in b1) else g.["momentum"]) |> Array.ofSeq

    /// <summary>
    /// <b>The pure schedule equals the facade's sequence.</b> After construction (epoch 0) and after every step, each
    /// group's learning rate is <paramref name="schedule"/> of its index and base rate at that epoch, within SPEC's
    /// scheduler tolerance (<c>1e-9 + 1e-7·|lr|</c>) by default.
    /// </summary>
    /// <param name="config">How to run the law.</param>
    /// <param name="name">The scheduler's name, for the messages.</param>
    /// <param name="schedule">Per group index and base learning rate, the closed form of its rate.</param>
    /// <param name="make">Builds the scheduler over an optimizer.</param>
    let matchesSchedule (config: LawConfig) (name: string) (schedule: int -> float -> Schedule) (make: CSharp.Optimizer -> LRScheduler) : LawResult =
        if isNull (box schedule) then nullArg (nameof schedule)
        if isNull (box make) then nullArg (nameof make)
        let tol = LawConfig.toleranceOr Tolerance.schedule config
        Runner.run config "the pure schedule equals the scheduler's sequence" name arb
            (fun c ->
                let o = optimizerOf c
                let s = build make o
                let at (t: int) =
                    lrs o |> Array.indexed |> Array.tryPick (fun (i, lr) ->
                        let expected = schedule i c.BaseLrs.[i] (int64 t)
                        if Tolerance.within tol expected lr then None
                        else Some $"At epoch {t}, group {i}'s learning rate is {Compare.num lr}, the schedule's is {Compare.num expected} (difference {Compare.num (abs (lr - expected))}; tolerance {Tolerance.format tol})")
                let rec go t =
                    match at t with
                    | Some d -> Some d
                    | None when t = c.Steps -> None
                    | None ->
                        drive c o s t
                        go (t + 1)
                go 0)
            describe

    let private resumeWith (config: LawConfig) (law: string) (name: string) (roundTrip: CSharp.Optimizer * LRScheduler -> CSharp.Optimizer * LRScheduler -> unit) (make: CSharp.Optimizer -> LRScheduler) =
        if isNull (box make) then nullArg (nameof make)
        let tol = LawConfig.toleranceOr Tolerance.exact config
        Runner.run config law name arb
            (fun c ->
                let o = optimizerOf c
                let s = build make o
                let whole = [| yield lrs o, momenta o
                               for k in 0 .. c.Steps - 1 do
                                   drive c o s k
                                   yield lrs o, momenta o |]
                let o1 = optimizerOf c
                let s1 = build make o1
                for k in 0 .. c.Split - 1 do drive c o1 s1 k
                let o2 = optimizerOf c
                let s2 = build make o2
                roundTrip (o1, s1) (o2, s2)
                let rec go k =
                    if k = c.Steps then None
                    else
                        drive c o2 s2 k
                        let lr, m = lrs o2, momenta o2
                        let elr, em = whole.[k + 1]
                        let differs (what: string) (e: float[]) (a: float[]) =
                            Array.zip e a |> Array.indexed |> Array.tryPick (fun (i, (x, y)) ->
                                if Tolerance.within tol x y then None
                                else Some $"At epoch {k + 1}, resumed after epoch {c.Split}: group {i}'s {what} is {Compare.num y}, the uninterrupted scheduler's is {Compare.num x}")
                        match differs "learning rate" elr lr |> Option.orElse (differs "momentum" em m) with
                        | Some d -> Some d
                        | None -> go (k + 1)
                go c.Split)
            describe

    /// <summary>
    /// <b>A scheduler resumed from JSON equals one uninterrupted.</b> The optimizer and the scheduler saved after a random
    /// step (<c>StateDict().ToJson()</c> of both) and loaded into new ones continue with the uninterrupted run's learning
    /// rates and momenta, exactly by default. Catches state kept outside the state dict, such as a counter in a
    /// <c>lrLambda</c>'s closure.
    /// </summary>
    /// <param name="config">How to run the law.</param>
    /// <param name="name">The scheduler's name, for the messages.</param>
    /// <param name="make">Builds the scheduler over an optimizer.</param>
    let resumeJson (config: LawConfig) (name: string) (make: CSharp.Optimizer -> LRScheduler) : LawResult =
        resumeWith config "a scheduler resumed from JSON equals one uninterrupted" name
            (fun (o1, s1) (o2, s2) ->
                o2.LoadStateDict(StateDict.FromJson(o1.StateDict().ToJson()))
                s2.LoadStateDict(SchedulerStateDict.FromJson(s1.StateDict().ToJson()))) make

    /// <summary>
    /// <b>A scheduler resumed from a checkpoint file equals one uninterrupted.</b> As
    /// <see cref="M:Optim.Testing.ScheduleLaws.resumeJson"/>, through a <c>CheckpointFile</c> holding both state dicts,
    /// saved to a temporary file and loaded back.
    /// </summary>
    /// <param name="config">How to run the law.</param>
    /// <param name="name">The scheduler's name, for the messages.</param>
    /// <param name="make">Builds the scheduler over an optimizer.</param>
    let resumeFile (config: LawConfig) (name: string) (make: CSharp.Optimizer -> LRScheduler) : LawResult =
        resumeWith config "a scheduler resumed from a checkpoint file equals one uninterrupted" name
            (fun (o1, s1) (o2, s2) ->
                let dir = Directory.CreateTempSubdirectory("optim-testing-").FullName
                try
                    let path = Path.Combine(dir, "checkpoint.pt")
                    CheckpointFile(Optimizer = o1.StateDict(), Scheduler = s1.StateDict()).Save path
                    let loaded = CheckpointFile.Load path
                    o2.LoadStateDict(loaded.OptimizerStateFor o2)
                    s2.LoadStateDict(loaded.Scheduler)
                finally Directory.Delete(dir, true)) make

    /// <summary>Every scheduler law: the schedule (when one is given) and both resumes.</summary>
    /// <param name="config">How to run the laws.</param>
    /// <param name="name">The scheduler's name.</param>
    /// <param name="schedule">Its closed form per group index and base rate, if it has one.</param>
    /// <param name="make">Builds the scheduler over an optimizer.</param>
    let all (config: LawConfig) (name: string) (schedule: (int -> float -> Schedule) option) (make: CSharp.Optimizer -> LRScheduler) : LawResult list =
        [ match schedule with Some f -> yield matchesSchedule config name f make | None -> ()
          yield resumeJson config name make
          yield resumeFile config name make ]
