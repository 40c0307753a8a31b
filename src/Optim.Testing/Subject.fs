namespace Optim.Testing

open System
open FsCheck
open FsCheck.FSharp
open Optim

/// <summary>
/// An F# optimizer under test: its name, a generator of its hyperparameters, and how to build it from them; optionally
/// its gradient transformation (for the accumulation law), how to switch its <c>maximize</c> option (for the maximize
/// law), and hyperparameters that suit a convex quadratic with the number of steps they need (for the convergence law).
/// </summary>
[<NoEquality; NoComparison>]
type Subject<'o> =
    { /// <summary>The name the laws' messages give it.</summary>
      Name: string
      /// <summary>Its hyperparameters, drawn per case.</summary>
      Options: Gen<'o>
      /// <summary>The optimizer of some hyperparameters.</summary>
      Build: 'o -> Optimizer
      /// <summary>The transformation the optimizer runs, where there is one.</summary>
      Transform: ('o -> GradientTransformation) option
      /// <summary>Sets its <c>maximize</c> option, where it has one.</summary>
      Maximize: ('o -> bool -> 'o) option
      /// <summary>Hyperparameters under which it converges on a convex quadratic, and the number of steps it takes.</summary>
      Tuned: ('o * int) option
      /// <summary>
      /// The parameters it takes, where not any shape (Muon: matrices): the laws draw them from this generator, and a
      /// shrunk case keeps each parameter's shape. None: <see cref="P:Optim.Testing.Generators.parameters"/>, which a
      /// shrunk case may cut to vectors.
      /// </summary>
      Parameters: Gen<Tensor[]> option }

/// <summary>Building <see cref="T:Optim.Testing.Subject`1"/> values.</summary>
[<RequireQualifiedAccess>]
module Subject =

    let private checkName (name: string) =
        if String.IsNullOrWhiteSpace name then invalidArg (nameof name) "A subject needs a name for the laws' messages."

    /// <summary>An optimizer built from generated hyperparameters.</summary>
    /// <param name="name">Its name.</param>
    /// <param name="options">Its hyperparameters' generator.</param>
    /// <param name="build">Builds it.</param>
    /// <exception cref="T:System.ArgumentException">The name is empty.</exception>
    /// <exception cref="T:System.ArgumentNullException">A function is null.</exception>
    let create (name: string) (options: Gen<'o>) (build: 'o -> Optimizer) : Subject<'o> =
        checkName name
        if isNull (box options) then nullArg (nameof options)
        if isNull (box build) then nullArg (nameof build)
        { Name = name; Options = options; Build = build; Transform = None; Maximize = None; Tuned = None; Parameters = None }

    /// <summary>A gradient transformation built from generated hyperparameters; the optimizer is <c>Optimizer.ofTransform</c> of it.</summary>
    /// <param name="name">Its name.</param>
    /// <param name="options">Its hyperparameters' generator.</param>
    /// <param name="transform">Builds it.</param>
    let ofTransform (name: string) (options: Gen<'o>) (transform: 'o -> GradientTransformation) : Subject<'o> =
        if isNull (box transform) then nullArg (nameof transform)
        { create name options (transform >> Optimizer.ofTransform) with Transform = Some transform }

    /// <summary>One optimizer with its hyperparameters fixed.</summary>
    /// <param name="name">Its name.</param>
    /// <param name="optimizer">The optimizer.</param>
    let ofOptimizer (name: string) (optimizer: Optimizer) : Subject<unit> =
        if isNull (box optimizer) then nullArg (nameof optimizer)
        create name (Gen.constant ()) (fun () -> optimizer)

    /// <summary>One gradient transformation with its hyperparameters fixed.</summary>
    /// <param name="name">Its name.</param>
    /// <param name="transform">The transformation.</param>
    let ofGradientTransformation (name: string) (transform: GradientTransformation) : Subject<unit> =
        if isNull (box transform) then nullArg (nameof transform)
        ofTransform name (Gen.constant ()) (fun () -> transform)

    /// <summary>The subject with a way to switch its <c>maximize</c> option.</summary>
    /// <param name="set">Sets the option.</param>
    /// <param name="subject">The subject.</param>
    let withMaximize (set: 'o -> bool -> 'o) (subject: Subject<'o>) = { subject with Maximize = Some set }

    /// <summary>The subject with the parameters it takes (see <c>Parameters</c>).</summary>
    /// <param name="parameters">Their generator.</param>
    /// <param name="subject">The subject.</param>
    let withParameters (parameters: Gen<Tensor[]>) (subject: Subject<'o>) =
        if isNull (box parameters) then nullArg (nameof parameters)
        { subject with Parameters = Some parameters }

    /// <summary>The subject with hyperparameters under which it converges on a convex quadratic in <paramref name="steps"/> steps.</summary>
    /// <param name="options">The hyperparameters.</param>
    /// <param name="steps">How many steps, 1 or more.</param>
    /// <param name="subject">The subject.</param>
    /// <exception cref="T:System.ArgumentOutOfRangeException">steps is less than 1.</exception>
    let withTuned (options: 'o) (steps: int) (subject: Subject<'o>) =
        if steps < 1 then raise (ArgumentOutOfRangeException(nameof steps, steps, "The convergence law needs 1 step or more."))
        { subject with Tuned = Some(options, steps) }

/// <summary>One case of a law: hyperparameters, parameters and a gradient set per step.</summary>
type Scenario<'o> =
    { /// <summary>The hyperparameters.</summary>
      Options: 'o
      /// <summary>The parameters at the start.</summary>
      Parameters: Tensor[]
      /// <summary>Per step, one gradient per parameter (null: none).</summary>
      Gradients: float32[][] list }

/// <summary>Generating, shrinking and printing <see cref="T:Optim.Testing.Scenario`1"/> values.</summary>
[<RequireQualifiedAccess>]
module Scenario =

    /// <summary>Cases whose parameters come from <paramref name="parameters"/>; see <see cref="M:Optim.Testing.Scenario.gen``1"/>.</summary>
    /// <param name="parameters">The parameters' generator.</param>
    /// <param name="options">The hyperparameters' generator.</param>
    /// <param name="allowNull">Whether some gradients may be missing.</param>
    /// <param name="minSteps">The fewest steps.</param>
    /// <param name="maxSteps">The most steps.</param>
    let genOver (parameters: Gen<Tensor[]>) (options: Gen<'o>) (allowNull: bool) (minSteps: int) (maxSteps: int) : Gen<Scenario<'o>> =
        gen {
            let! o = options
            let! ps = parameters
            let! steps = Gen.choose (minSteps, maxSteps)
            let! grads = Generators.gradSeq allowNull steps ps
            return { Options = o; Parameters = ps; Gradients = grads }
        }

    /// <summary>Cases of 1 to 4 parameters (<see cref="P:Optim.Testing.Generators.parameters"/>) and
    /// <paramref name="minSteps"/> to <paramref name="maxSteps"/> steps of gradients.</summary>
    /// <param name="options">The hyperparameters' generator.</param>
    /// <param name="allowNull">Whether some gradients may be missing.</param>
    /// <param name="minSteps">The fewest steps.</param>
    /// <param name="maxSteps">The most steps.</param>
    let gen (options: Gen<'o>) (allowNull: bool) (minSteps: int) (maxSteps: int) : Gen<Scenario<'o>> =
        genOver Generators.parameters options allowNull minSteps maxSteps

    let private round (digits: int) (a: float32[]) =
        if isNull a then null else a |> Array.map (fun x -> float32 (Math.Round(float x, digits)))

    /// <summary>
    /// Smaller cases: fewer steps, fewer parameters, parameters cut to half their elements (as vectors), missing
    /// gradients in place of present ones (when nulls are allowed), and values rounded.
    /// </summary>
    /// <param name="allowNull">Whether a gradient may become null.</param>
    /// <param name="minSteps">The fewest steps a case may keep.</param>
    /// <param name="minParams">The fewest parameters a case may keep.</param>
    /// <param name="s">The case.</param>
    let rec shrink (allowNull: bool) (minSteps: int) (minParams: int) (s: Scenario<'o>) : seq<Scenario<'o>> =
        shrinkKeeping false allowNull minSteps minParams s

    /// <summary><see cref="M:Optim.Testing.Scenario.shrink``1"/>, with the parameters' shapes kept when
    /// <paramref name="keepShapes"/> (for an optimizer that takes only some shapes): no parameter is cut.</summary>
    /// <param name="keepShapes">Whether each parameter keeps its shape.</param>
    /// <param name="allowNull">Whether a gradient may become null.</param>
    /// <param name="minSteps">The fewest steps a case may keep.</param>
    /// <param name="minParams">The fewest parameters a case may keep.</param>
    /// <param name="s">The case.</param>
    and shrinkKeeping (keepShapes: bool) (allowNull: bool) (minSteps: int) (minParams: int) (s: Scenario<'o>) : seq<Scenario<'o>> =
        let n = s.Parameters.Length
        let steps = s.Gradients.Length
        seq {
            if steps > minSteps then
                let half = max minSteps (steps / 2)
                if half < steps - 1 then yield { s with Gradients = List.take half s.Gradients }
                yield { s with Gradients = List.take (steps - 1) s.Gradients }
                for t in 0 .. steps - 2 do
                    yield { s with Gradients = s.Gradients |> List.removeAt t }
            if n > minParams then
                for i in 0 .. n - 1 do
                    yield { s with Parameters = Array.removeAt i s.Parameters; Gradients = s.Gradients |> List.map (Array.removeAt i) }
            for i in 0 .. n - 1 do
                let len = s.Parameters.[i].Data.Length
                if len > 1 && not keepShapes then
                    let keep = len / 2
                    let cut (a: float32[]) = if isNull a then null else Array.sub a 0 keep
                    yield
                        { s with
                            Parameters = s.Parameters |> Array.mapi (fun k p -> if k = i then Tensor.ofArray (Array.sub p.Data 0 keep) else p)
                            Gradients = s.Gradients |> List.map (Array.mapi (fun k g -> if k = i then cut g else g)) }
            if allowNull then
                for t in 0 .. steps - 1 do
                    for i in 0 .. n - 1 do
                        if not (isNull s.Gradients.[t].[i]) then
                            yield { s with Gradients = s.Gradients |> List.mapi (fun k g -> if k = t then Array.mapi (fun j a -> if j = i then null else a) g else g) }
            for digits in [ 0; 1; 2 ] do
                let ps = s.Parameters |> Array.map (fun p -> { p with Data = round digits p.Data })
                let gs = s.Gradients |> List.map (Array.map (round digits))
                if ps |> Array.exists2 (fun (a: Tensor) b -> a.Data <> b.Data) s.Parameters || gs <> s.Gradients then
                    yield { s with Parameters = ps; Gradients = gs }
        }

    /// <summary>The case printed: hyperparameters, the parameters' shapes and values, and the gradients of each step.</summary>
    /// <param name="s">The case.</param>
    let describe (s: Scenario<'o>) = Compare.describeCase (Compare.describeOptions s.Options) s.Parameters s.Gradients

    /// <summary>The cases as an FsCheck arbitrary: generated by <see cref="M:Optim.Testing.Scenario.gen``1"/>, shrunk by
    /// <see cref="M:Optim.Testing.Scenario.shrink``1"/>.</summary>
    /// <param name="options">The hyperparameters' generator.</param>
    /// <param name="allowNull">Whether some gradients may be missing.</param>
    /// <param name="minSteps">The fewest steps.</param>
    /// <param name="maxSteps">The most steps.</param>
    let arb (options: Gen<'o>) (allowNull: bool) (minSteps: int) (maxSteps: int) : Arbitrary<Scenario<'o>> =
        Arb.fromGenShrink (gen options allowNull minSteps maxSteps, shrink allowNull minSteps 1)

    /// <summary>The cases of a subject: its parameters (<c>Parameters</c>, shapes kept when shrunk) or any.</summary>
    /// <param name="subject">The optimizer under test.</param>
    /// <param name="allowNull">Whether some gradients may be missing.</param>
    /// <param name="minSteps">The fewest steps.</param>
    /// <param name="maxSteps">The most steps.</param>
    let arbFor (subject: Subject<'o>) (allowNull: bool) (minSteps: int) (maxSteps: int) : Arbitrary<Scenario<'o>> =
        match subject.Parameters with
        | None -> arb subject.Options allowNull minSteps maxSteps
        | Some ps -> Arb.fromGenShrink (genOver ps subject.Options allowNull minSteps maxSteps, shrinkKeeping true allowNull minSteps 1)

    /// <summary>The generator of <see cref="M:Optim.Testing.Scenario.arbFor``1"/>.</summary>
    /// <param name="subject">The optimizer under test.</param>
    /// <param name="allowNull">Whether some gradients may be missing.</param>
    /// <param name="minSteps">The fewest steps.</param>
    /// <param name="maxSteps">The most steps.</param>
    let genFor (subject: Subject<'o>) (allowNull: bool) (minSteps: int) (maxSteps: int) : Gen<Scenario<'o>> =
        genOver (defaultArg subject.Parameters Generators.parameters) subject.Options allowNull minSteps maxSteps

    /// <summary>The shrinker of <see cref="M:Optim.Testing.Scenario.arbFor``1"/>.</summary>
    /// <param name="subject">The optimizer under test.</param>
    /// <param name="minSteps">The fewest steps a case may keep.</param>
    /// <param name="minParams">The fewest parameters a case may keep.</param>
    let shrinkFor (subject: Subject<'o>) (minSteps: int) (minParams: int) : Scenario<'o> -> seq<Scenario<'o>> =
        shrinkKeeping subject.Parameters.IsSome true minSteps minParams
