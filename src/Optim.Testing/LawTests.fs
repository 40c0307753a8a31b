namespace Optim.Testing

open Expecto
open Optim

/// <summary>
/// The Expecto adapter: the laws as Expecto tests, one <c>Test</c> list per optimizer or scheduler, each law a test case
/// that fails with the law's message (the shrunk counterexample and the seed).
/// </summary>
/// <example>
/// <code>
/// [&lt;Tests&gt;]
/// let laws = LawTests.optimizer LawConfig.defaults (Some Builtins.adam.Build) mySubject
/// </code>
/// </example>
[<RequireQualifiedAccess>]
module LawTests =

    /// <summary>A test case that runs a law and fails with its message when it fails.</summary>
    /// <param name="name">The test's name.</param>
    /// <param name="law">Runs the law.</param>
    let ofLaw (name: string) (law: unit -> LawResult) : Test =
        testCase name (fun () ->
            match law () with
            | LawResult.Passed _ -> ()
            | LawResult.Failed f -> failtest f.Message)

    /// <summary>
    /// The laws of an F# optimizer as a test list named after it: those of <see cref="M:Optim.Testing.Laws.all``1"/>, one
    /// test case each.
    /// </summary>
    /// <param name="config">How to run the laws.</param>
    /// <param name="builtIn">The built-in it claims to be (for the composition law), if any.</param>
    /// <param name="subject">The optimizer under test.</param>
    let optimizer (config: LawConfig) (builtIn: ('o -> Optimizer) option) (subject: Subject<'o>) : Test =
        testList subject.Name
            [ match builtIn with
              | Some b -> yield ofLaw "composition equals the built-in" (fun () -> Laws.composition config b subject)
              | None -> ()
              yield ofLaw "pure equals in place" (fun () -> Laws.pureEqualsInPlace config subject)
              yield ofLaw "the pure step never mutates its inputs" (fun () -> Laws.pureStepIsPure config subject)
              yield ofLaw "resumed from a JSON checkpoint equals uninterrupted" (fun () -> Laws.resume config subject)
              if subject.Transform.IsSome then
                  yield ofLaw "multiSteps equals one step on the mean" (fun () -> Laws.multiSteps config subject)
              yield ofLaw "a null gradient changes nothing" (fun () -> Laws.nullGradient config subject)
              if subject.Maximize.IsSome then
                  yield ofLaw "maximize(g) equals minimize(-g)" (fun () -> Laws.maximize config subject)
              yield ofLaw "finite in, finite out" (fun () -> Laws.finite config subject)
              if subject.Tuned.IsSome then
                  yield ofLaw "converges on a random convex quadratic" (fun () -> Laws.converges config subject) ]

    /// <summary>The laws of a facade optimizer as a test list named after it: those of
    /// <see cref="M:Optim.Testing.FacadeLaws.all``1"/>, one test case each.</summary>
    /// <param name="config">How to run the laws.</param>
    /// <param name="subject">The optimizer under test.</param>
    let facade (config: LawConfig) (subject: FacadeSubject<'o>) : Test =
        testList subject.Name
            [ if subject.Reference.IsSome then
                  yield ofLaw "equals its reference" (fun () -> FacadeLaws.sameAsReference config subject)
              yield ofLaw "k accumulated micro-batches equal one step on their sum" (fun () -> FacadeLaws.accumulation config subject)
              yield ofLaw "resumed from a JSON state dict equals uninterrupted" (fun () -> FacadeLaws.resumeJson config subject)
              yield ofLaw "resumed from a checkpoint file equals uninterrupted" (fun () -> FacadeLaws.resumeFile config subject)
              yield ofLaw "a null gradient changes nothing" (fun () -> FacadeLaws.nullGradient config subject)
              if subject.MaximizeKey.IsSome then
                  yield ofLaw "maximize(g) equals minimize(-g)" (fun () -> FacadeLaws.maximize config subject)
              yield ofLaw "finite in, finite out" (fun () -> FacadeLaws.finite config subject)
              yield ofLaw "a step leaves the gradients as they were" (fun () -> FacadeLaws.gradientsUntouched config subject)
              if subject.MakeGroups.IsSome then
                  yield ofLaw "param groups equal separate optimizers" (fun () -> FacadeLaws.paramGroups config subject) ]

    /// <summary>The laws of a scheduler as a test list: its schedule (when given) and both resumes.</summary>
    /// <param name="config">How to run the laws.</param>
    /// <param name="name">The scheduler's name.</param>
    /// <param name="schedule">Its closed form per group index and base rate, if it has one.</param>
    /// <param name="make">Builds it over an optimizer.</param>
    let scheduler (config: LawConfig) (name: string) (schedule: (int -> float -> Schedule) option) (make: CSharp.Optimizer -> CSharp.LRScheduler) : Test =
        testList name
            [ match schedule with
              | Some f -> yield ofLaw "the pure schedule equals the scheduler's sequence" (fun () -> ScheduleLaws.matchesSchedule config name f make)
              | None -> ()
              yield ofLaw "a scheduler resumed from JSON equals one uninterrupted" (fun () -> ScheduleLaws.resumeJson config name make)
              yield ofLaw "a scheduler resumed from a checkpoint file equals one uninterrupted" (fun () -> ScheduleLaws.resumeFile config name make) ]

    /// <summary>A test case that replays a PyTorch trajectory (<see cref="M:Optim.Testing.Trajectory.matchesTrajectory"/>).</summary>
    /// <param name="config">Its tolerance is used.</param>
    /// <param name="make">Builds the .NET optimizer over param groups.</param>
    /// <param name="path">The trajectory's JSON file.</param>
    let trajectory (config: LawConfig) (make: CSharp.ParamGroup[] -> CSharp.Optimizer) (path: string) : Test =
        ofLaw $"matches the PyTorch trajectory {System.IO.Path.GetFileName path}" (fun () -> Trajectory.matchesTrajectory config make path)
