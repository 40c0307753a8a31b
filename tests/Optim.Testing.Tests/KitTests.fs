/// The kit's own tests: every law passes on every built-in optimizer and scheduler and on composed entries, trajectories
/// PyTorch recorded replay, a failure prints a shrunk counterexample that its seed replays, bad input gets clear errors,
/// and the C# surface holds no F# type.
module Optim.Testing.Tests.KitTests

open System
open System.Diagnostics
open System.IO
open System.Reflection
open Expecto
open FsCheck.FSharp
open Optim
open Optim.CSharp
open Optim.Testing
open Optim.Testing.Tests

let private cfg = Kit.config 40

/// The exception `f` throws, of type 'e (a test failure otherwise).
let private throwsOf<'e when 'e :> exn> (f: unit -> unit) (what: string) : 'e =
    try
        f ()
        failtest $"{what}: nothing was thrown"
    with
    | :? 'e as e -> e
    | :? AssertException -> reraise ()
    | e -> failtest $"{what}: {e.GetType().Name} was thrown: {e.Message}"

let lawsOnBuiltIns =
    testList "every law holds for"
        [ testList "the core's built-in optimizers" (Kit.builtIns |> List.map (fun e -> e.Test cfg))
          LawTests.ofLaw "Adafactor's chain against its fused kernel, within float32 rounding" (fun () -> Kit.adafactorComposition cfg)
          LawTests.optimizer cfg (Some Fused.sgd) Kit.handSgd
          testList "composed entries" (Kit.composed |> List.map (fun e -> e.Test cfg))
          testList "the facade's optimizers" (Kit.facades |> List.map (fun f -> f (Kit.config 25)))
          testList "the schedulers" (Kit.schedulers |> List.map (fun (name, schedule, make) -> LawTests.scheduler (Kit.config 30) name schedule make)) ]

// ---------------------------------------------------------------------------------------------------------------------

let private golden (file: string) = Path.Combine(AppContext.BaseDirectory, "golden", file + ".json")

let private up (o: #CSharp.Optimizer) = o :> CSharp.Optimizer

let trajectories =
    let replay (file: string) (make: ParamGroup[] -> CSharp.Optimizer) =
        testCase $"PyTorch's {file}.json replays through the facade" (fun () ->
            match Trajectory.matchesTrajectory LawConfig.defaults make (golden file) with
            | LawResult.Passed(_, _, cases) -> Expect.isGreaterThan cases 0 "the file holds cases"
            | LawResult.Failed f -> failtest f.Message)
    testList "matchesTrajectory"
        [ replay "sgd" (fun gs -> up (SGD gs))
          replay "adam" (fun gs -> up (Adam gs))
          replay "adamw" (fun gs -> up (AdamW gs))
          replay "rmsprop" (fun gs -> up (RMSprop gs))
          replay "adagrad" (fun gs -> up (Adagrad gs))
          replay "nadam" (fun gs -> up (NAdam gs))
          replay "rprop" (fun gs -> up (Rprop gs))
          testCase "a port that is not the optimizer PyTorch recorded diverges, and the law says where" (fun () ->
              match Trajectory.matchesTrajectory LawConfig.defaults (fun gs -> up (AdamW gs)) (golden "adam") with
              | LawResult.Passed _ -> failtest "AdamW replayed Adam's trajectory"
              | LawResult.Failed f ->
                  Expect.stringContains f.Divergence "step" "the divergence names the step"
                  Expect.stringContains f.Divergence "expected" "the divergence gives the expected value"
                  Expect.stringContains f.Counterexample "case" "the counterexample names the case")
          testCase "the recorder script is shipped beside the output and written by writeRecorder" (fun () ->
              let beside = Path.Combine(AppContext.BaseDirectory, "record_trajectory.py")
              Expect.isTrue (File.Exists beside) "record_trajectory.py is copied to the output"
              let path = Path.Combine(Path.GetTempPath(), $"record-{Guid.NewGuid():N}.py")
              try
                  OptimizerLaws.WriteRecorder path
                  Expect.equal (File.ReadAllText path) (File.ReadAllText beside) "the embedded script is the shipped one"
                  Expect.stringContains (File.ReadAllText path) "--optimizer" "it is the recorder"
              finally File.Delete path) ]

// ---------------------------------------------------------------------------------------------------------------------
// A custom PyTorch optimizer, recorded with the shipped script, and its .NET port checked against the recording.

let private signMomentumPy = """import torch


class SignMomentum(torch.optim.Optimizer):
    def __init__(self, params, lr=0.01, momentum=0.9):
        super().__init__(params, dict(lr=lr, momentum=momentum))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p)
                buf = state["momentum_buffer"]
                buf.mul_(group["momentum"]).add_(p.grad)
                p.add_(torch.sign(buf), alpha=-group["lr"])
"""

/// The .NET port of SignMomentum, as a user writes it; `wrong` takes the sign of the gradient instead of the buffer.
type SignMomentum(groups: ParamGroup seq, lr: float, momentum: float, wrong: bool) =
    inherit CSharp.Optimizer(groups, OptimizerDefaults().Add("lr", lr).Add("momentum", momentum), "SignMomentum", [| "momentum_buffer" |])

    override this.StepParameter(group: ParamGroup, p: Parameter, grad: ReadOnlySpan<float32>) =
        let buf = this.GetState(p, "momentum_buffer")
        let mu, negLr = float32 group.["momentum"], float32 -group.Lr
        for i in 0 .. buf.Length - 1 do
            buf.[i] <- buf.[i] * mu + grad.[i]
            p.Data.[i] <- p.Data.[i] + negLr * float32 (MathF.Sign(if wrong then grad.[i] else buf.[i]))

let private torchMissing () =
    if not (File.Exists "/usr/bin/python3") then Some "/usr/bin/python3 is missing"
    else
        use p = Process.Start(ProcessStartInfo("/usr/bin/python3", [ "-c"; "import torch" ], RedirectStandardError = true, UseShellExecute = false))
        p.WaitForExit()
        if p.ExitCode = 0 then None else Some "PyTorch (import torch) is missing"

let recorded =
    testCase "a trajectory recorded for a custom PyTorch optimizer checks its .NET port, and catches a wrong one" (fun () ->
        match torchMissing () with
        | Some why when Environment.GetEnvironmentVariable "OPTIM_REQUIRE_TORCH" = "1" -> failtest $"{why}, and OPTIM_REQUIRE_TORCH=1"
        | Some why -> skiptest why
        | None ->
            let dir = Directory.CreateTempSubdirectory("optim-record-").FullName
            try
                File.WriteAllText(Path.Combine(dir, "signmomentum.py"), signMomentumPy)
                OptimizerLaws.WriteRecorder(Path.Combine(dir, "record_trajectory.py"))
                let psi =
                    ProcessStartInfo("/usr/bin/python3",
                                     [ "record_trajectory.py"; "--optimizer"; "signmomentum:SignMomentum"; "--kwargs"; """{"lr": 0.01, "momentum": 0.9}"""
                                       "--steps"; "20"; "--roundtrip-at"; "10"; "--out"; "traj.json" ],
                                     WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)
                use p = Process.Start psi
                let err = p.StandardError.ReadToEnd()
                p.WaitForExit()
                Expect.equal p.ExitCode 0 $"the recorder ran: {err}"
                let path = Path.Combine(dir, "traj.json")
                OptimizerLaws.For(fun ps -> up (SignMomentum([ ParamGroup ps ], 0.01, 0.9, false))).MatchesTrajectory path
                let wrong = OptimizerLaws.For(fun ps -> up (SignMomentum([ ParamGroup ps ], 0.01, 0.9, true))).CheckTrajectory path
                Expect.isFalse wrong.Passed "the wrong port diverges"
                Expect.stringContains wrong.Divergence "step" "and the outcome says where"
                // hyperparameters come from the recording: a port built with others still follows it
                OptimizerLaws.For(fun ps -> up (SignMomentum([ ParamGroup ps ], 0.5, 0.1, false))).MatchesTrajectory path
            finally Directory.Delete(dir, true))

// ---------------------------------------------------------------------------------------------------------------------

/// SGD that forgets the weight decay: every failure must print a readable, replayable counterexample.
let private noDecay = Subject.ofTransform "SGD without its weight decay" Generators.sgdOptions (fun o -> Alias.sgd { o with WeightDecay = 0.0 })

let failures =
    testList "a failed law"
        [ testCase "prints the shrunk case, the step where it diverged, expected and actual values, and the seed" (fun () ->
              match Laws.composition (Kit.config 100) Fused.sgd noDecay with
              | LawResult.Passed _ -> failtest "the law missed SGD without weight decay"
              | LawResult.Failed f ->
                  for part in [ "hyperparameters"; "shape"; "gradients"; "step 1" ] do
                      Expect.stringContains f.Counterexample part $"the counterexample shows {part}"
                  for part in [ "After step"; "parameter"; "element"; "expected"; "got" ] do
                      Expect.stringContains f.Divergence part $"the divergence shows {part}"
                  Expect.stringContains f.Message (string f.Seed) "the message gives the seed"
                  Expect.stringContains f.Message "composition equals the built-in" "the message names the law"
                  Expect.isGreaterThan f.Shrinks 0 "FsCheck shrank the case")
          testCase "shrinks to a small case: one parameter, one step" (fun () ->
              match Laws.composition (Kit.config 100) Fused.sgd noDecay with
              | LawResult.Failed f ->
                  Expect.stringContains f.Counterexample "parameters (1)" "one parameter is enough"
                  Expect.stringContains f.Counterexample "gradients (1 step(s))" "one step is enough"
              | LawResult.Passed _ -> failtest "the law missed SGD without weight decay")
          testCase "replays from its seed to the same counterexample" (fun () ->
              match Laws.composition (Kit.config 100) Fused.sgd noDecay with
              | LawResult.Failed f ->
                  match Laws.composition (LawConfig.withSeed f.Seed (Kit.config 100)) Fused.sgd noDecay with
                  | LawResult.Failed g ->
                      Expect.equal g.Counterexample f.Counterexample "the same counterexample"
                      Expect.equal g.Tests f.Tests "after the same number of cases"
                  | LawResult.Passed _ -> failtest "the replay passed"
              | LawResult.Passed _ -> failtest "the law missed SGD without weight decay")
          testCase "CheckAll throws LawFailedException naming the law and holding the counterexample" (fun () ->
              let laws = OptimizerLaws.For(fun ps -> up (SGD(ps, 0.1, weightDecay = 0.0))).SameAs(fun ps -> up (SGD(ps, 0.1, weightDecay = 0.1))).MaxTests 50
              let e = throwsOf<LawFailedException> (fun () -> laws.CheckAll()) "CheckAll throws"
              Expect.equal e.Law "equals its reference" "the law's name"
              Expect.stringContains e.Message "Counterexample (shrunk)" "the counterexample"
              let outcomes = laws.Results()
              Expect.equal (outcomes |> Seq.filter (fun o -> not o.Passed) |> Seq.map (fun o -> o.Law) |> List.ofSeq) [ "equals its reference" ] "only the reference law fails"
              Expect.isTrue (outcomes |> Seq.forall (fun o -> o.Tests > 0)) "every law ran cases") ]

// ---------------------------------------------------------------------------------------------------------------------

let private throwsArg<'e when 'e :> ArgumentException> (name: string) (f: unit -> unit) =
    let e = throwsOf<'e> f $"{typeof<'e>.Name} for {name}"
    Expect.equal e.ParamName name "the exception names the argument"

let badInput =
    let sgd = Subject.ofTransform "SGD" Generators.sgdOptions Alias.sgd
    testList "bad input to the kit"
        [ testCase "a null factory" (fun () -> throwsArg<ArgumentNullException> "make" (fun () -> OptimizerLaws.For(null) |> ignore))
          testCase "a null scheduler factory" (fun () -> throwsArg<ArgumentNullException> "make" (fun () -> SchedulerLaws.For(null) |> ignore))
          testCase "no cases" (fun () ->
              throwsArg<ArgumentOutOfRangeException> "maxTests" (fun () -> OptimizerLaws.For(fun ps -> up (SGD(ps, 0.1))).MaxTests 0 |> ignore)
              throwsArg<ArgumentOutOfRangeException> "MaxTests" (fun () -> Laws.finite { LawConfig.defaults with MaxTests = 0 } sgd |> ignore))
          testCase "a negative tolerance" (fun () ->
              throwsArg<ArgumentOutOfRangeException> "atol" (fun () -> OptimizerLaws.For(fun ps -> up (SGD(ps, 0.1))).Tolerance(-1.0, 0.0) |> ignore)
              throwsArg<ArgumentOutOfRangeException> "rtol" (fun () -> Tolerance.create 0.0 nan |> ignore))
          testCase "an empty maximize key or name" (fun () ->
              throwsArg<ArgumentException> "key" (fun () -> OptimizerLaws.For(fun ps -> up (SGD(ps, 0.1))).Maximize "" |> ignore)
              throwsArg<ArgumentException> "name" (fun () -> Subject.create "" Generators.sgdOptions Fused.sgd |> ignore))
          testCase "a law the subject lacks what for" (fun () ->
              throwsArg<ArgumentException> "subject" (fun () -> Laws.converges cfg (Subject.ofOptimizer "SGD" (Fused.sgd (SgdOptions.create 0.1))) |> ignore)
              throwsArg<ArgumentException> "subject" (fun () -> Laws.maximize cfg (Subject.ofOptimizer "SGD" (Fused.sgd (SgdOptions.create 0.1))) |> ignore)
              throwsArg<ArgumentException> "subject" (fun () -> Laws.multiSteps cfg (Subject.ofOptimizer "SGD" (Fused.sgd (SgdOptions.create 0.1))) |> ignore)
              throwsArg<ArgumentException> "subject" (fun () -> FacadeLaws.paramGroups cfg (FacadeSubject.ofFactory "SGD" (fun ps -> up (SGD(ps, 0.1)))) |> ignore)
              throwsArg<ArgumentException> "subject" (fun () -> FacadeLaws.sameAsReference cfg (FacadeSubject.ofFactory "SGD" (fun ps -> up (SGD(ps, 0.1)))) |> ignore))
          testCase "a field with no values" (fun () ->
              throwsArg<ArgumentException> "choices" (fun () -> Generators.field ([]: float list) (fun (o: SgdOptions) lr -> { o with Lr = lr }) |> ignore))
          testCase "a factory that returns null fails the laws with a message saying so" (fun () ->
              let outcomes = OptimizerLaws.For(fun _ -> null).Named("null factory").MaxTests(5).Results()
              Expect.isTrue (outcomes |> Seq.forall (fun o -> not o.Passed)) "every law fails"
              Expect.stringContains outcomes.[0].Divergence "returned null" "and says why")
          testCase "a trajectory that does not exist, or is not one" (fun () ->
              let laws = OptimizerLaws.For(fun ps -> up (SGD(ps, 0.1)))
              let missing = Path.Combine(Path.GetTempPath(), $"none-{Guid.NewGuid():N}.json")
              let e = throwsOf<FileNotFoundException> (fun () -> laws.CheckTrajectory missing |> ignore) "a missing file"
              Expect.equal e.FileName missing "names the file"
              let bad = Path.GetTempFileName()
              try
                  File.WriteAllText(bad, "{\"steps\": []}")
                  let e = throwsOf<InvalidDataException> (fun () -> laws.CheckTrajectory bad |> ignore) "a file without cases"
                  Expect.stringContains e.Message "cases" "names what is missing"
                  File.WriteAllText(bad, "not json")
                  throwsOf<InvalidDataException> (fun () -> laws.CheckTrajectory bad |> ignore) "a file that is not JSON" |> ignore
              finally File.Delete bad) ]

// ---------------------------------------------------------------------------------------------------------------------

let private mentioned (t: Type) : Type seq =
    let rec go (t: Type) : Type seq =
        if t.IsByRef || t.IsArray || t.IsPointer then go (t.GetElementType())
        elif t.IsGenericType then Seq.append [ t.GetGenericTypeDefinition() ] (t.GetGenericArguments() |> Seq.collect go)
        else Seq.singleton t
    go t

/// The types of every visible member's signature.
let private surface (t: Type) : (string * Type) seq =
    let all = BindingFlags.Public ||| BindingFlags.NonPublic ||| BindingFlags.Instance ||| BindingFlags.Static ||| BindingFlags.DeclaredOnly
    seq {
        if not (isNull t.BaseType) then yield $"{t} base", t.BaseType
        for i in t.GetInterfaces() do yield $"{t} interface", i
        for m in t.GetMembers all do
            let visible =
                match m with
                | :? MethodBase as mb -> mb.IsPublic || mb.IsFamily || mb.IsFamilyOrAssembly
                | :? PropertyInfo as p -> p.GetAccessors(true) |> Array.exists (fun a -> a.IsPublic || a.IsFamily || a.IsFamilyOrAssembly)
                | :? FieldInfo as f -> f.IsPublic || f.IsFamily || f.IsFamilyOrAssembly
                | _ -> false
            if visible then
                match m with
                | :? MethodBase as mb ->
                    for p in mb.GetParameters() do yield $"{t}.{m.Name}({p.Name})", p.ParameterType
                    match mb with :? MethodInfo as mi -> yield $"{t}.{m.Name} returns", mi.ReturnType | _ -> ()
                | :? PropertyInfo as p -> yield $"{t}.{p.Name}", p.PropertyType
                | :? FieldInfo as f -> yield $"{t}.{f.Name}", f.FieldType
                | _ -> ()
    }

/// An F# type: FSharp.Core's, FsCheck's or Expecto's, or a record or union of this kit.
let private isFSharp (t: Type) =
    let assembly = t.Assembly.GetName().Name
    assembly = "FSharp.Core" || assembly = "FsCheck" || assembly = "Expecto" || assembly = "Optim.Core"
    || Microsoft.FSharp.Reflection.FSharpType.IsRecord(t, BindingFlags.Public ||| BindingFlags.NonPublic)
    || Microsoft.FSharp.Reflection.FSharpType.IsUnion(t, BindingFlags.Public ||| BindingFlags.NonPublic)

let publicSurface =
    testList "the C# surface"
        [ testCase "holds no F# type in any public signature" (fun () ->
              let classes =
                  [ typeof<OptimizerLaws>; typeof<SchedulerLaws>; typeof<LawOutcome>; typeof<LawFailedException>
                    typeof<HyperparameterSpace>; typeof<Hyperparameters> ]
              let offending =
                  classes |> Seq.collect surface |> Seq.collect (fun (where, t) -> mentioned t |> Seq.map (fun m -> where, m))
                  |> Seq.filter (snd >> isFSharp) |> Seq.map (fun (w, t) -> $"{w}: {t}") |> Seq.distinct |> List.ofSeq
              Expect.isEmpty offending "F# types in the C# surface")
          testCase "the check would catch an F# type" (fun () ->
              Expect.isTrue (mentioned typeof<Func<int list, LawResult>> |> Seq.exists isFSharp) "FSharpList and LawResult are F# types") ]

// ---------------------------------------------------------------------------------------------------------------------

let generators =
    testList "the generators"
        [ testCase "options builds a user's options from its fields, each drawn from its values" (fun () ->
              let gen =
                  Generators.options (SgdOptions.create 1.0)
                      [ Generators.field [ 0.1; 0.2 ] (fun o lr -> { o with Lr = lr })
                        Generators.field [ true ] (fun o n -> { o with Nesterov = n; Momentum = 0.9 }) ]
              let drawn = Gen.sample 50 gen
              Expect.isTrue (drawn |> Array.forall (fun o -> (o.Lr = 0.1 || o.Lr = 0.2) && o.Nesterov && o.Momentum = 0.9)) "every field is set"
              Expect.equal (drawn |> Array.map (fun o -> o.Lr) |> Array.distinct |> Array.sort) [| 0.1; 0.2 |] "both values are drawn")
          testCase "parameter sets have 1 to 4 parameters of several shapes, some sharing one shape" (fun () ->
              let sets = Gen.sample 300 Generators.parameters
              Expect.isTrue (sets |> Array.forall (fun ps -> ps.Length >= 1 && ps.Length <= 4)) "1 to 4 parameters"
              Expect.isTrue (sets |> Array.exists (fun ps -> ps |> Array.exists (fun p -> p.Shape.Length = 2))) "matrices"
              Expect.isTrue (sets |> Array.exists (fun ps -> ps |> Array.exists (fun p -> p.Data.Length > 64))) "long vectors"
              Expect.isTrue (sets |> Array.exists (fun ps -> ps.Length > 1 && ps |> Array.forall (fun p -> p.Shape = ps.[0].Shape))) "one shape shared")
          testCase "gradients are sometimes missing and sometimes at edge values" (fun () ->
              let ps = [| Tensor.ofArray (Array.zeroCreate 20) |]
              let grads = Gen.sample 400 (Generators.gradsFor true ps) |> Array.map (fun g -> g.[0])
              Expect.isTrue (grads |> Array.exists isNull) "missing"
              Expect.isTrue (grads |> Array.exists (fun g -> not (isNull g) && Array.forall ((=) 0.0f) g)) "all zeros"
              Expect.isTrue (grads |> Array.exists (fun g -> not (isNull g) && Array.exists (fun x -> x <> 0.0f && abs x < 1e-5f) g)) "tiny") ]

let tests = testList "the kit" [ lawsOnBuiltIns; trajectories; recorded; failures; badInput; publicSurface; generators ]
