namespace Optim

open System

/// <summary>
/// A schedule: a value (a learning rate, a momentum, a beta, …) as a pure function of the step count, where
/// the count is the number of updates completed before this one (0 for the first update), as in Optax.
/// </summary>
/// <remarks>
/// A PyTorch scheduler stepped once per optimizer step gives update <c>t</c> the learning rate it holds at
/// <c>last_epoch = t</c>; the schedules below are those values in closed form, so <c>s t</c> is what the
/// facade's scheduler of the same name holds after <c>t</c> calls of <c>Step()</c>. Counts are 0 or more.
/// </remarks>
type Schedule = int64 -> float

/// <summary>How a value moves between two end points as a fraction <c>pct</c> goes from 0 to 1.</summary>
[<RequireQualifiedAccess>]
type Anneal =
    /// <summary>Half a cosine wave, PyTorch's <c>"cos"</c>: <c>end + (start − end)/2 · (1 + cos(π·pct))</c>.</summary>
    | Cos
    /// <summary>A straight line, PyTorch's <c>"linear"</c>: <c>(end − start)·pct + start</c>.</summary>
    | Linear

/// <summary>How the amplitude of a cyclic schedule is scaled (Smith, "Cyclical Learning Rates for Training Neural Networks", 2017).</summary>
[<RequireQualifiedAccess; NoEquality; NoComparison>]
type CycleScale =
    /// <summary>No scaling: every cycle spans the whole amplitude (<c>mode="triangular"</c>).</summary>
    | Triangular
    /// <summary>The amplitude halves every cycle: <c>1 / 2^(cycle − 1)</c> (<c>mode="triangular2"</c>).</summary>
    | Triangular2
    /// <summary>The amplitude decays per iteration: <c>gamma^t</c> (<c>mode="exp_range"</c>).</summary>
    | ExpRange of gamma: float
    /// <summary>A custom scale of the cycle number (1, 2, …) (<c>scale_fn</c> with <c>scale_mode="cycle"</c>).</summary>
    | ByCycle of scale: (float -> float)
    /// <summary>A custom scale of the iteration count <c>t</c> (<c>scale_fn</c> with <c>scale_mode="iterations"</c>).</summary>
    | ByIteration of scale: (float -> float)

/// <summary>The shape of a cyclic schedule: the half-cycle lengths and the amplitude scaling, as <c>torch.optim.lr_scheduler.CyclicLR</c>.</summary>
[<NoEquality; NoComparison>]
type Cycle =
    { /// <summary>Iterations in the rising half of a cycle (<c>step_size_up</c>), more than 0.</summary>
      StepSizeUp: float
      /// <summary>Iterations in the falling half (<c>step_size_down</c>), 0 or more.</summary>
      StepSizeDown: float
      /// <summary>The amplitude scaling.</summary>
      Scale: CycleScale }

/// <summary>The shape of a one-cycle schedule, as <c>torch.optim.lr_scheduler.OneCycleLR</c> (Smith &amp; Topin, "Super-Convergence", 2017).</summary>
type OneCycle =
    { /// <summary>Steps in the cycle (<c>total_steps</c>), 1 or more.</summary>
      TotalSteps: int64
      /// <summary>The fraction of the cycle spent rising (<c>pct_start</c>), in [0, 1].</summary>
      PctStart: float
      /// <summary>The interpolation within each phase (<c>anneal_strategy</c>).</summary>
      Anneal: Anneal
      /// <summary>Whether a third phase annihilates the rate (<c>three_phase</c>); otherwise the second phase falls to the minimum.</summary>
      ThreePhase: bool
      /// <summary>Initial rate = max / <c>DivFactor</c> (<c>div_factor</c>), more than 0.</summary>
      DivFactor: float
      /// <summary>Minimum rate = initial / <c>FinalDivFactor</c> (<c>final_div_factor</c>), more than 0.</summary>
      FinalDivFactor: float }

/// <summary>Defaults and validation for <see cref="T:Optim.Cycle"/>.</summary>
[<RequireQualifiedAccess>]
module Cycle =

    /// <summary>A triangular cycle rising and falling over <paramref name="stepSize"/> iterations each, as <c>CyclicLR</c>'s defaults.</summary>
    /// <param name="stepSize">Iterations per half cycle.</param>
    /// <returns>The cycle.</returns>
    /// <example><c>Cycle.create 2000.0</c> is <c>{ StepSizeUp = 2000.0; StepSizeDown = 2000.0; Scale = CycleScale.Triangular }</c>.</example>
    let create (stepSize: float) : Cycle = { StepSizeUp = stepSize; StepSizeDown = stepSize; Scale = CycleScale.Triangular }

    /// <summary>Checks a cycle and returns it.</summary>
    /// <param name="c">The cycle.</param>
    /// <returns><paramref name="c"/>.</returns>
    /// <exception cref="T:System.ArgumentOutOfRangeException">A step size is out of range or a gamma negative (the message names it and the value).</exception>
    /// <example><c>Cycle.validate (Cycle.create 0.0)</c> throws: <c>stepSizeUp</c> must be more than 0.</example>
    let validate (c: Cycle) : Cycle =
        if not (c.StepSizeUp > 0.0 && Double.IsFinite c.StepSizeUp) then
            raise (ArgumentOutOfRangeException("stepSizeUp", c.StepSizeUp, $"Invalid step_size_up value: {c.StepSizeUp}; it must be a finite number more than 0."))
        if not (c.StepSizeDown >= 0.0 && Double.IsFinite c.StepSizeDown) then
            raise (ArgumentOutOfRangeException("stepSizeDown", c.StepSizeDown, $"Invalid step_size_down value: {c.StepSizeDown}; it must be a finite number, 0 or more."))
        match c.Scale with
        | CycleScale.ExpRange g when not (g >= 0.0 && Double.IsFinite g) ->
            raise (ArgumentOutOfRangeException("gamma", g, $"Invalid gamma value: {g}; it must be a finite number, 0 or more."))
        | _ -> c

/// <summary>Defaults and validation for <see cref="T:Optim.OneCycle"/>.</summary>
[<RequireQualifiedAccess>]
module OneCycle =

    /// <summary>PyTorch's defaults over <paramref name="totalSteps"/> steps: <c>pct_start=0.3</c>, cosine, two phases, <c>div_factor=25</c>, <c>final_div_factor=1e4</c>.</summary>
    /// <param name="totalSteps">Steps in the cycle.</param>
    /// <returns>The shape.</returns>
    /// <example><c>OneCycle.create 100L</c> rises for 30 steps and falls for 70.</example>
    let create (totalSteps: int64) : OneCycle =
        { TotalSteps = totalSteps; PctStart = 0.3; Anneal = Anneal.Cos; ThreePhase = false; DivFactor = 25.0; FinalDivFactor = 1e4 }

    /// <summary>
    /// The phases as PyTorch lays them out: per phase, its last step (a float, as PyTorch computes it) and the
    /// indices of its start and end values in <c>[initial; max; min]</c> (lr) or <c>[max; base]</c> (momentum).
    /// </summary>
    let internal phases (o: OneCycle) : (float * int * int * int * int)[] =
        let t = float o.TotalSteps
        if o.ThreePhase then
            [| o.PctStart * t - 1.0, 0, 1, 0, 1
               2.0 * o.PctStart * t - 2.0, 1, 0, 1, 0
               t - 1.0, 0, 2, 0, 0 |]
        else
            [| o.PctStart * t - 1.0, 0, 1, 0, 1
               t - 1.0, 1, 2, 1, 0 |]

    /// <summary>Checks a one-cycle shape and returns it.</summary>
    /// <param name="o">The shape.</param>
    /// <returns><paramref name="o"/>.</returns>
    /// <exception cref="T:System.ArgumentOutOfRangeException">
    /// A value is out of range (the message names it and the value), or <c>pctStart</c> makes a phase of zero
    /// length, which PyTorch would divide by.
    /// </exception>
    /// <example><c>OneCycle.validate { OneCycle.create 10L with PctStart = 0.1 }</c> throws: the first phase would last 0 steps.</example>
    let validate (o: OneCycle) : OneCycle =
        let bad (name: string) (key: string) (value: obj) (rule: string) =
            raise (ArgumentOutOfRangeException(name, value, $"Invalid {key} value: {value}; it must be {rule}."))
        if o.TotalSteps < 1L then bad "totalSteps" "total_steps" o.TotalSteps "1 or more"
        if not (o.PctStart >= 0.0 && o.PctStart <= 1.0) then bad "pctStart" "pct_start" o.PctStart "in [0, 1]"
        if not (o.DivFactor > 0.0 && Double.IsFinite o.DivFactor) then bad "divFactor" "div_factor" o.DivFactor "a finite number more than 0"
        if not (o.FinalDivFactor > 0.0 && Double.IsFinite o.FinalDivFactor) then
            bad "finalDivFactor" "final_div_factor" o.FinalDivFactor "a finite number more than 0"
        let ends = phases o |> Array.map (fun (e, _, _, _, _) -> e)
        let starts = Array.append [| 0.0 |] ends.[.. ends.Length - 2]
        if Array.exists2 (fun s e -> e - s = 0.0) starts ends then
            bad "pctStart" "pct_start" o.PctStart $"such that no phase of the {o.TotalSteps}-step cycle has zero length"
        o

/// <summary>
/// Schedules as values: every <c>torch.optim.lr_scheduler</c> policy in closed form, and combinators. A
/// schedule is a plain function, so the same ones serve for learning rates, momentum and betas.
/// </summary>
/// <remarks>Arguments are checked when a schedule is built: a bad one raises <see cref="T:System.ArgumentOutOfRangeException"/> naming it.</remarks>
[<RequireQualifiedAccess>]
module Schedule =

    let private bad (name: string) (value: obj) (rule: string) =
        raise (ArgumentOutOfRangeException(name, value, $"Invalid {name} value: {value}; it must be {rule}."))

    let private finite name (x: float) = if not (Double.IsFinite x) then bad name x "a finite number"
    let private nonNegative name (x: float) = if not (x >= 0.0 && Double.IsFinite x) then bad name x "a finite number, 0 or more"
    let private atLeastOne name (n: int64) = if n < 1L then bad name n "1 or more"

    /// <summary>The same value at every step.</summary>
    /// <param name="value">The value.</param>
    /// <returns>A schedule that ignores the step count.</returns>
    /// <example><c>Schedule.constant 0.1 42L</c> is <c>0.1</c>.</example>
    let constant (value: float) : Schedule = fun _ -> value

    /// <summary>Decays by <c>gamma</c> every <c>stepSize</c> steps: <c>init·gamma^⌊t/stepSize⌋</c>, as <c>StepLR</c>.</summary>
    /// <param name="init">The value at step 0 (the base learning rate).</param>
    /// <param name="stepSize">The period, 1 or more.</param>
    /// <param name="gamma">The factor, 0 or more.</param>
    /// <returns>The schedule.</returns>
    /// <exception cref="T:System.ArgumentOutOfRangeException">An argument is out of range.</exception>
    /// <example><c>Schedule.step 0.1 30L 0.5 75L</c> is <c>0.025</c> (two decays).</example>
    let step (init: float) (stepSize: int64) (gamma: float) : Schedule =
        finite (nameof init) init
        atLeastOne (nameof stepSize) stepSize
        nonNegative (nameof gamma) gamma
        fun t -> init * gamma ** float (t / stepSize)

    /// <summary>
    /// Decays by <c>gamma</c> at each milestone: <c>init·gamma^k</c>, <c>k</c> the number of milestones at or
    /// before <c>t</c>, counting a repeated milestone as often as it appears, as <c>MultiStepLR</c>.
    /// </summary>
    /// <param name="init">The value at step 0.</param>
    /// <param name="milestones">The steps at which to decay, 0 or more, in any order.</param>
    /// <param name="gamma">The factor, 0 or more.</param>
    /// <returns>The schedule.</returns>
    /// <exception cref="T:System.ArgumentOutOfRangeException">An argument is out of range.</exception>
    /// <example><c>Schedule.multiStep 0.1 [ 50L; 125L; 160L ] 0.1 130L</c> is <c>0.001</c>.</example>
    let multiStep (init: float) (milestones: int64 list) (gamma: float) : Schedule =
        finite (nameof init) init
        nonNegative (nameof gamma) gamma
        for m in milestones do if m < 0L then bad (nameof milestones) m "0 or more"
        let sorted = List.sort milestones |> Array.ofList
        fun t ->
            let k = sorted |> Array.sumBy (fun m -> if m <= t then 1 else 0)
            init * gamma ** float k

    /// <summary>Decays by <c>gamma</c> every step: <c>init·gamma^t</c>, as <c>ExponentialLR</c>.</summary>
    /// <param name="init">The value at step 0.</param>
    /// <param name="gamma">The factor, 0 or more.</param>
    /// <returns>The schedule.</returns>
    /// <exception cref="T:System.ArgumentOutOfRangeException">An argument is out of range.</exception>
    /// <example><c>Schedule.exponential 0.1 0.95 2L</c> is <c>0.09025</c>.</example>
    let exponential (init: float) (gamma: float) : Schedule =
        finite (nameof init) init
        nonNegative (nameof gamma) gamma
        fun t -> init * gamma ** float t

    /// <summary>
    /// Cosine annealing (Loshchilov &amp; Hutter, "SGDR", 2017) without restarts, as <c>CosineAnnealingLR</c>:
    /// <c>etaMin + (init − etaMin)·(1 + cos(π·t/tMax))/2</c>. Past <c>tMax</c> it rises again, as PyTorch's does.
    /// </summary>
    /// <param name="init">The value at step 0 (η_max).</param>
    /// <param name="tMax">Steps from the maximum to the minimum, 1 or more.</param>
    /// <param name="etaMin">The minimum.</param>
    /// <returns>The schedule.</returns>
    /// <exception cref="T:System.ArgumentOutOfRangeException">An argument is out of range.</exception>
    /// <example><c>Schedule.cosineAnnealing 0.1 50L 0.0 25L</c> is <c>0.05</c> (up to rounding).</example>
    let cosineAnnealing (init: float) (tMax: int64) (etaMin: float) : Schedule =
        finite (nameof init) init
        atLeastOne (nameof tMax) tMax
        finite (nameof etaMin) etaMin
        fun t -> etaMin + (init - etaMin) * (1.0 + cos (Math.PI * float t / float tMax)) / 2.0

    /// <summary>
    /// Cosine annealing with warm restarts (SGDR), as <c>CosineAnnealingWarmRestarts</c>: the first period
    /// lasts <c>t0</c> steps and each next one <c>tMult</c> times longer; within a period,
    /// <c>etaMin + (init − etaMin)·(1 + cos(π·tCur/tI))/2</c>. Periods are counted in integers, so restarts fall
    /// exactly where PyTorch's stepped scheduler puts them.
    /// </summary>
    /// <param name="init">The value at each restart (η_max).</param>
    /// <param name="t0">The first period, 1 or more.</param>
    /// <param name="tMult">The period's growth factor, 1 or more.</param>
    /// <param name="etaMin">The minimum.</param>
    /// <returns>The schedule.</returns>
    /// <exception cref="T:System.ArgumentOutOfRangeException">An argument is out of range.</exception>
    /// <example><c>Schedule.cosineWarmRestarts 0.1 10L 2L 0.0 10L</c> is <c>0.1</c> (the first restart).</example>
    let cosineWarmRestarts (init: float) (t0: int64) (tMult: int64) (etaMin: float) : Schedule =
        finite (nameof init) init
        atLeastOne (nameof t0) t0
        atLeastOne (nameof tMult) tMult
        finite (nameof etaMin) etaMin
        fun t ->
            let mutable tCur = if tMult = 1L then t % t0 else t
            let mutable tI = t0
            while tCur >= tI do
                tCur <- tCur - tI
                tI <- tI * tMult
            etaMin + (init - etaMin) * (1.0 + cos (Math.PI * float tCur / float tI)) / 2.0

    /// <summary>
    /// Scales <c>init</c> by a factor moving linearly from <c>startFactor</c> to <c>endFactor</c> over
    /// <c>totalIters</c> steps, then holding: <c>init·(start + (end − start)·min(t, total)/total)</c>, as <c>LinearLR</c>.
    /// </summary>
    /// <param name="init">The base value.</param>
    /// <param name="startFactor">The factor at step 0, in (0, 1].</param>
    /// <param name="endFactor">The factor from step <c>totalIters</c> on, in [0, 1].</param>
    /// <param name="totalIters">The ramp's length, 1 or more.</param>
    /// <returns>The schedule.</returns>
    /// <exception cref="T:System.ArgumentOutOfRangeException">An argument is out of range.</exception>
    /// <example><c>Schedule.linear 0.05 0.5 1.0 4L 1L</c> is <c>0.03125</c>.</example>
    let linear (init: float) (startFactor: float) (endFactor: float) (totalIters: int64) : Schedule =
        finite (nameof init) init
        if not (startFactor > 0.0 && startFactor <= 1.0) then bad (nameof startFactor) startFactor "in (0, 1]"
        if not (endFactor >= 0.0 && endFactor <= 1.0) then bad (nameof endFactor) endFactor "in [0, 1]"
        atLeastOne (nameof totalIters) totalIters
        fun t -> init * (startFactor + (endFactor - startFactor) * float (min totalIters t) / float totalIters)

    /// <summary>
    /// Scales <c>init</c> by <c>factor</c> for the first <c>totalIters</c> steps, then not at all, as <c>ConstantLR</c>.
    /// </summary>
    /// <param name="init">The base value.</param>
    /// <param name="factor">The factor, in (0, 1].</param>
    /// <param name="totalIters">How many steps it applies, 1 or more.</param>
    /// <returns>The schedule.</returns>
    /// <exception cref="T:System.ArgumentOutOfRangeException">An argument is out of range.</exception>
    /// <example><c>Schedule.constantFactor 0.05 0.5 4L 3L</c> is <c>0.025</c>; at step 4 it is <c>0.05</c>.</example>
    let constantFactor (init: float) (factor: float) (totalIters: int64) : Schedule =
        finite (nameof init) init
        if not (factor > 0.0 && factor <= 1.0) then bad (nameof factor) factor "in (0, 1]"
        atLeastOne (nameof totalIters) totalIters
        fun t -> init * (factor + (if t >= totalIters then 1.0 - factor else 0.0))

    /// <summary>
    /// Polynomial decay to 0 over <c>totalIters</c> steps: <c>init·(1 − min(t, total)/total)^power</c>, as <c>PolynomialLR</c>.
    /// </summary>
    /// <param name="init">The value at step 0.</param>
    /// <param name="totalIters">The decay's length, 1 or more.</param>
    /// <param name="power">The exponent, 0 or more.</param>
    /// <returns>The schedule.</returns>
    /// <exception cref="T:System.ArgumentOutOfRangeException">An argument is out of range.</exception>
    /// <example><c>Schedule.polynomial 0.001 4L 1.0 1L</c> is <c>0.00075</c>.</example>
    let polynomial (init: float) (totalIters: int64) (power: float) : Schedule =
        finite (nameof init) init
        atLeastOne (nameof totalIters) totalIters
        nonNegative (nameof power) power
        fun t -> init * (1.0 - float (min totalIters t) / float totalIters) ** power

    /// <summary>A base value times a function of the step: <c>init·f(t)</c>, as <c>LambdaLR</c>.</summary>
    /// <param name="init">The base value.</param>
    /// <param name="f">The factor as a function of the step.</param>
    /// <returns>The schedule.</returns>
    /// <example><c>Schedule.lambda 0.1 (fun t -> 0.1 ** float (t / 20L)) 45L</c> is <c>0.001</c> (up to rounding).</example>
    let lambda (init: float) (f: int64 -> float) : Schedule =
        finite (nameof init) init
        fun t -> init * f t

    /// <summary>
    /// A base value multiplied, at every step after the first, by a function of that step:
    /// <c>init·f(1)·f(2)·…·f(t)</c>, as <c>MultiplicativeLR</c>. Evaluating step <c>t</c> calls <c>f</c> t times.
    /// </summary>
    /// <param name="init">The value at step 0.</param>
    /// <param name="f">The factor applied on reaching a step.</param>
    /// <returns>The schedule.</returns>
    /// <example><c>Schedule.multiplicative 0.1 (fun _ -> 0.95) 2L</c> is <c>0.09025</c>.</example>
    let multiplicative (init: float) (f: int64 -> float) : Schedule =
        finite (nameof init) init
        fun t ->
            let mutable v = init
            for k in 1L .. t do v <- v * f k
            v

    /// <summary>The position within a cycle, PyTorch's <c>scale_factor</c> (0 at a cycle's start, 1 at its peak), and the scale's argument.</summary>
    let private cyclePosition (c: Cycle) (t: int64) =
        let total = c.StepSizeUp + c.StepSizeDown
        let ratio = c.StepSizeUp / total
        let cycle = floor (1.0 + float t / total)
        let x = 1.0 + float t / total - cycle
        let position = if x <= ratio then x / ratio else (x - 1.0) / (ratio - 1.0)
        let scale =
            match c.Scale with
            | CycleScale.Triangular -> 1.0
            | CycleScale.Triangular2 -> 1.0 / (2.0 ** (cycle - 1.0))
            | CycleScale.ExpRange gamma -> gamma ** float t
            | CycleScale.ByCycle f -> f cycle
            | CycleScale.ByIteration f -> f (float t)
        position, scale

    /// <summary>
    /// A cyclical learning rate (Smith, 2017), as <c>CyclicLR</c>: from <c>baseLr</c> up to <c>maxLr</c> over
    /// <c>StepSizeUp</c> steps and back over <c>StepSizeDown</c>, the amplitude scaled by the cycle's policy:
    /// <c>baseLr + (maxLr − baseLr)·position·scale</c>.
    /// </summary>
    /// <param name="cycle">The cycle's shape.</param>
    /// <param name="baseLr">The lower bound, where every cycle starts.</param>
    /// <param name="maxLr">The upper bound (reached only when the scale is 1).</param>
    /// <returns>The schedule.</returns>
    /// <exception cref="T:System.ArgumentOutOfRangeException">The cycle or a bound is invalid.</exception>
    /// <example><c>Schedule.cyclic (Cycle.create 10.0) 0.01 0.1 5L</c> is <c>0.055</c> (halfway up).</example>
    let cyclic (cycle: Cycle) (baseLr: float) (maxLr: float) : Schedule =
        Cycle.validate cycle |> ignore
        finite (nameof baseLr) baseLr
        finite (nameof maxLr) maxLr
        fun t ->
            let position, scale = cyclePosition cycle t
            baseLr + (maxLr - baseLr) * position * scale

    /// <summary>
    /// The momentum that <c>CyclicLR</c> cycles inversely to the learning rate:
    /// <c>maxMomentum − (maxMomentum − baseMomentum)·position·scale</c> — <c>maxMomentum</c> where the rate is lowest.
    /// </summary>
    /// <param name="cycle">The cycle's shape (the same as the learning rate's).</param>
    /// <param name="baseMomentum">The lower bound, at the rate's peak.</param>
    /// <param name="maxMomentum">The upper bound, at each cycle's start.</param>
    /// <returns>The schedule.</returns>
    /// <exception cref="T:System.ArgumentOutOfRangeException">The cycle or a bound is invalid.</exception>
    /// <example><c>Schedule.cyclicMomentum (Cycle.create 10.0) 0.8 0.9 10L</c> is <c>0.8</c> (at the peak).</example>
    let cyclicMomentum (cycle: Cycle) (baseMomentum: float) (maxMomentum: float) : Schedule =
        Cycle.validate cycle |> ignore
        finite (nameof baseMomentum) baseMomentum
        finite (nameof maxMomentum) maxMomentum
        fun t ->
            let position, scale = cyclePosition cycle t
            maxMomentum - (maxMomentum - baseMomentum) * position * scale

    let private annealWith (a: Anneal) (start: float) (finish: float) (pct: float) =
        match a with
        | Anneal.Cos -> finish + (start - finish) / 2.0 * (cos (Math.PI * pct) + 1.0)
        | Anneal.Linear -> (finish - start) * pct + start

    /// <summary>PyTorch's phase walk: the phase holding step t and the fraction of it done.</summary>
    let private phased (o: OneCycle) (values: float[]) (pick: int * int * int * int -> int * int) : Schedule =
        let phases = OneCycle.phases o
        let ends = phases |> Array.map (fun (e, _, _, _, _) -> e)
        fun t ->
            let step = float t
            let mutable i = 0
            while i < ends.Length - 1 && step > ends.[i] do i <- i + 1
            let start = if i = 0 then 0.0 else ends.[i - 1]
            let e, a, b, c, d = phases.[i]
            let s, f = pick (a, b, c, d)
            annealWith o.Anneal values.[s] values.[f] ((step - start) / (e - start))

    /// <summary>
    /// The one-cycle learning rate (Smith &amp; Topin, "Super-Convergence", 2017), as <c>OneCycleLR</c>: from
    /// <c>maxLr/DivFactor</c> up to <c>maxLr</c> over the first <c>PctStart</c> of the cycle, then down to
    /// <c>maxLr/DivFactor/FinalDivFactor</c> (with <c>ThreePhase</c>: back to the start, then down to the minimum).
    /// At <c>t = TotalSteps</c> (PyTorch's last step) it extrapolates the last phase, as PyTorch does, but not below 0
    /// (the facade's <c>OneCycleLR</c> does the same, so that the rate stays valid).
    /// </summary>
    /// <param name="o">The cycle's shape.</param>
    /// <param name="maxLr">The peak.</param>
    /// <returns>The schedule.</returns>
    /// <exception cref="T:System.ArgumentOutOfRangeException">The shape or the peak is invalid.</exception>
    /// <example><c>Schedule.oneCycle (OneCycle.create 100L) 0.1 0L</c> is <c>0.004</c> (up to rounding).</example>
    let oneCycle (o: OneCycle) (maxLr: float) : Schedule =
        OneCycle.validate o |> ignore
        finite (nameof maxLr) maxLr
        let initial = maxLr / o.DivFactor
        let lr = phased o [| initial; maxLr; initial / o.FinalDivFactor |] (fun (a, b, _, _) -> a, b)
        fun t -> max 0.0 (lr t)

    /// <summary>
    /// The momentum <c>OneCycleLR</c> cycles inversely to the learning rate: from <c>maxMomentum</c> down to
    /// <c>baseMomentum</c> while the rate rises, then back up.
    /// </summary>
    /// <param name="o">The cycle's shape (the same as the learning rate's).</param>
    /// <param name="baseMomentum">The momentum at the rate's peak.</param>
    /// <param name="maxMomentum">The momentum at the start and the end.</param>
    /// <returns>The schedule.</returns>
    /// <exception cref="T:System.ArgumentOutOfRangeException">The shape or a bound is invalid.</exception>
    /// <example><c>Schedule.oneCycleMomentum (OneCycle.create 100L) 0.85 0.95 29L</c> is <c>0.85</c> (at the peak).</example>
    let oneCycleMomentum (o: OneCycle) (baseMomentum: float) (maxMomentum: float) : Schedule =
        OneCycle.validate o |> ignore
        finite (nameof baseMomentum) baseMomentum
        finite (nameof maxMomentum) maxMomentum
        phased o [| maxMomentum; baseMomentum |] (fun (_, _, c, d) -> c, d)

    /// <summary>
    /// The stochastic-weight-averaging rate (Izmailov et al., "Averaging Weights Leads to Wider Optima", 2018),
    /// as <c>torch.optim.swa_utils.SWALR</c>: from <c>init</c> to <c>swaLr</c> over <c>annealEpochs</c> steps,
    /// <c>swaLr·α + init·(1 − α)</c> with <c>α = anneal(min(1, t/annealEpochs))</c> (cosine: <c>(1 − cos(π·x))/2</c>),
    /// then <c>swaLr</c>. With <c>annealEpochs = 0</c> it is <c>swaLr</c> from step 0.
    /// </summary>
    /// <param name="init">The rate when averaging starts.</param>
    /// <param name="swaLr">The rate it settles at.</param>
    /// <param name="annealEpochs">The transition's length, 0 or more.</param>
    /// <param name="anneal">The transition's shape.</param>
    /// <returns>The schedule.</returns>
    /// <exception cref="T:System.ArgumentOutOfRangeException">An argument is out of range.</exception>
    /// <example><c>Schedule.swa 0.1 0.01 10L Anneal.Linear 5L</c> is <c>0.055</c>.</example>
    let swa (init: float) (swaLr: float) (annealEpochs: int64) (anneal: Anneal) : Schedule =
        finite (nameof init) init
        finite (nameof swaLr) swaLr
        if annealEpochs < 0L then bad (nameof annealEpochs) annealEpochs "0 or more"
        let f x = match anneal with Anneal.Cos -> (1.0 - cos (Math.PI * x)) / 2.0 | Anneal.Linear -> x
        fun t ->
            let step = if annealEpochs = 0L then max 1L t else t
            let alpha = f (max 0.0 (min 1.0 (float step / float (max 1L annealEpochs))))
            if alpha = 1.0 then swaLr else swaLr * alpha + init * (1.0 - alpha)

    /// <summary>
    /// Joins schedules at milestones, as <c>SequentialLR</c>: before the first milestone the first schedule runs,
    /// from the <c>k</c>-th milestone <c>m</c> on the <c>(k+1)</c>-th runs from its own step 0, at <c>t − m</c>.
    /// </summary>
    /// <remarks>
    /// This is PyTorch's SequentialLR for children with a closed form (every scheduler except
    /// <c>MultiplicativeLR</c> and <c>SWALR</c>, which PyTorch continues from the current rate instead of restarting).
    /// </remarks>
    /// <param name="schedules">The schedules, one more than the milestones.</param>
    /// <param name="milestones">The steps at which the next schedule takes over, increasing.</param>
    /// <returns>The joined schedule; <c>join [ s ] []</c> is <c>s</c>.</returns>
    /// <exception cref="T:System.ArgumentException">The counts do not fit, or the milestones are not increasing.</exception>
    /// <example><c>Schedule.join [ Schedule.constant 0.01; Schedule.exponential 0.1 0.9 ] [ 5L ] 7L</c> is <c>0.081</c>.</example>
    let join (schedules: Schedule list) (milestones: int64 list) : Schedule =
        if List.length schedules <> List.length milestones + 1 then
            invalidArg (nameof milestones) $"Expected one milestone fewer than schedules, but got {List.length schedules} schedules and {List.length milestones} milestones."
        if milestones |> List.pairwise |> List.exists (fun (a, b) -> b <= a) then
            invalidArg (nameof milestones) $"The milestones must increase, but got %A{milestones}."
        let ss = Array.ofList schedules
        let ms = Array.ofList milestones
        fun t ->
            let mutable k = 0
            while k < ms.Length && ms.[k] <= t do k <- k + 1
            if k = 0 then ss.[0] t else ss.[k] (t - ms.[k - 1])

    /// <summary>
    /// Multiplies schedules, as <c>ChainedScheduler</c> does with multiplicative schedulers: give the base rate to
    /// one and 1 to the others, e.g. <c>product [ Schedule.constantFactor 0.1 0.1 2L; Schedule.exponential 1.0 0.9 ]</c>.
    /// </summary>
    /// <param name="schedules">The factors.</param>
    /// <returns>Their product; <c>product [ s ]</c> is <c>s</c> and <c>product []</c> is 1.</returns>
    /// <example><c>Schedule.product [ Schedule.constant 0.1; Schedule.exponential 1.0 0.5 ] 2L</c> is <c>0.025</c>.</example>
    let product (schedules: Schedule list) : Schedule =
        match schedules with
        | [ s ] -> s
        | _ -> fun t -> schedules |> List.fold (fun acc s -> acc * s t) 1.0

    /// <summary>
    /// Linear warmup before a schedule, the <c>SequentialLR([LinearLR(startFactor, 1, w), S], [w])</c> idiom:
    /// for <c>t &lt; w</c>, <c>s(0)·(startFactor + (1 − startFactor)·t/w)</c>; then <c>s(t − w)</c>.
    /// </summary>
    /// <param name="startFactor">The fraction of <c>s(0)</c> at step 0, in (0, 1].</param>
    /// <param name="warmupSteps">The warmup's length, 1 or more.</param>
    /// <param name="schedule">The schedule after warmup.</param>
    /// <returns>The schedule with warmup.</returns>
    /// <exception cref="T:System.ArgumentOutOfRangeException">An argument is out of range.</exception>
    /// <example><c>Schedule.linearWarmup 0.1 5L (Schedule.constant 0.1) 0L</c> is <c>0.01</c> (up to rounding); from step 5 on it is <c>0.1</c>.</example>
    let linearWarmup (startFactor: float) (warmupSteps: int64) (schedule: Schedule) : Schedule =
        atLeastOne (nameof warmupSteps) warmupSteps
        join [ linear (schedule 0L) startFactor 1.0 warmupSteps; schedule ] [ warmupSteps ]

    /// <summary>
    /// Linear warmup to <c>peak</c>, then cosine decay to <c>etaMin</c> over <c>decaySteps</c>:
    /// <c>linearWarmup startFactor warmupSteps (cosineAnnealing peak decaySteps etaMin)</c>. Past the decay it
    /// rises again, as <see cref="M:Optim.ScheduleModule.cosineAnnealing(System.Double,System.Int64,System.Double)"/>;
    /// join a constant at <c>warmupSteps + decaySteps</c> to hold the minimum.
    /// </summary>
    /// <param name="peak">The rate after warmup.</param>
    /// <param name="startFactor">The fraction of <c>peak</c> at step 0, in (0, 1].</param>
    /// <param name="warmupSteps">The warmup's length, 1 or more.</param>
    /// <param name="decaySteps">The decay's length, 1 or more.</param>
    /// <param name="etaMin">The minimum.</param>
    /// <returns>The schedule.</returns>
    /// <exception cref="T:System.ArgumentOutOfRangeException">An argument is out of range.</exception>
    /// <example><c>Schedule.warmupCosine 0.1 0.01 10L 90L 0.0 100L</c> is <c>0.0</c> (up to rounding).</example>
    let warmupCosine (peak: float) (startFactor: float) (warmupSteps: int64) (decaySteps: int64) (etaMin: float) : Schedule =
        linearWarmup startFactor warmupSteps (cosineAnnealing peak decaySteps etaMin)
