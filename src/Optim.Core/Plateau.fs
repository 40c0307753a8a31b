namespace Optim

open System

/// <summary>Which way a monitored metric should go.</summary>
[<RequireQualifiedAccess>]
type PlateauMode =
    /// <summary>Lower is better (a loss): PyTorch's <c>mode="min"</c>.</summary>
    | Min
    /// <summary>Higher is better (an accuracy): <c>mode="max"</c>.</summary>
    | Max

/// <summary>How much better a metric must be to count as an improvement.</summary>
[<RequireQualifiedAccess>]
type ThresholdMode =
    /// <summary>Relative: better than <c>best·(1 ∓ threshold)</c> (<c>threshold_mode="rel"</c>).</summary>
    | Rel
    /// <summary>Absolute: better than <c>best ∓ threshold</c> (<c>threshold_mode="abs"</c>).</summary>
    | Abs

/// <summary>The options of reduce-on-plateau, with <c>torch.optim.lr_scheduler.ReduceLROnPlateau</c>'s names and meaning.</summary>
type PlateauOptions =
    { /// <summary>Whether the metric should fall or rise (<c>mode</c>, default min).</summary>
      Mode: PlateauMode
      /// <summary>The reduction: <c>lr' = lr·factor</c> (<c>factor</c>, default 0.1), in [0, 1).</summary>
      Factor: float
      /// <summary>Bad epochs tolerated before a reduction (<c>patience</c>, default 10).</summary>
      Patience: int
      /// <summary>The improvement that counts (<c>threshold</c>, default 1e-4).</summary>
      Threshold: float
      /// <summary>Relative or absolute threshold (<c>threshold_mode</c>, default rel).</summary>
      ThresholdMode: ThresholdMode
      /// <summary>Epochs after a reduction during which bad epochs are not counted (<c>cooldown</c>, default 0).</summary>
      Cooldown: int
      /// <summary>The floor for the learning rate (<c>min_lr</c>, default 0).</summary>
      MinLr: float
      /// <summary>A reduction smaller than this is skipped (<c>eps</c>, default 1e-8).</summary>
      Eps: float }

/// <summary>
/// The state of reduce-on-plateau: the learning rate and PyTorch's counters. Immutable; each metric gives a new one.
/// </summary>
type PlateauState =
    { /// <summary>The current learning rate.</summary>
      Lr: float
      /// <summary>The best metric so far (<c>best</c>; ±∞ before the first).</summary>
      Best: float
      /// <summary>Consecutive epochs without improvement (<c>num_bad_epochs</c>).</summary>
      NumBadEpochs: int
      /// <summary>Epochs of cooldown left (<c>cooldown_counter</c>).</summary>
      CooldownCounter: int
      /// <summary>Metrics seen so far (<c>last_epoch</c>).</summary>
      LastEpoch: int64 }

/// <summary>
/// Reduce-on-plateau as an explicit state transition <c>(state, metric) → (lr, state)</c>: when a metric has not
/// improved for more than <c>Patience</c> epochs the rate is multiplied by <c>Factor</c> (not below <c>MinLr</c>),
/// then <c>Cooldown</c> epochs pass before bad epochs count again — exactly PyTorch's <c>ReduceLROnPlateau.step</c>.
/// </summary>
[<RequireQualifiedAccess>]
module Plateau =

    /// <summary>PyTorch's defaults: min mode, factor 0.1, patience 10, threshold 1e-4 relative, no cooldown, min_lr 0, eps 1e-8.</summary>
    /// <example><c>{ Plateau.defaults with Patience = 2 }</c></example>
    let defaults : PlateauOptions =
        { Mode = PlateauMode.Min; Factor = 0.1; Patience = 10; Threshold = 1e-4; ThresholdMode = ThresholdMode.Rel
          Cooldown = 0; MinLr = 0.0; Eps = 1e-8 }

    /// <summary>Checks the options and returns them.</summary>
    /// <param name="o">The options.</param>
    /// <returns><paramref name="o"/>.</returns>
    /// <exception cref="T:System.ArgumentOutOfRangeException">A value is out of range (the message names it, PyTorch's key and the value).</exception>
    /// <example><c>Plateau.validate { Plateau.defaults with Factor = 1.0 }</c> throws: <c>factor</c> must be in [0, 1).</example>
    let validate (o: PlateauOptions) : PlateauOptions =
        let bad (name: string) (key: string) (value: obj) (rule: string) =
            raise (ArgumentOutOfRangeException(name, value, $"Invalid {key} value: {value}; it must be {rule}."))
        if not (o.Factor >= 0.0 && o.Factor < 1.0) then bad "factor" "factor" o.Factor "in [0, 1)"
        if o.Patience < 0 then bad "patience" "patience" o.Patience "0 or more"
        if not (o.Threshold >= 0.0 && Double.IsFinite o.Threshold) then bad "threshold" "threshold" o.Threshold "a finite number, 0 or more"
        if o.Cooldown < 0 then bad "cooldown" "cooldown" o.Cooldown "0 or more"
        if not (o.MinLr >= 0.0 && Double.IsFinite o.MinLr) then bad "minLr" "min_lr" o.MinLr "a finite number, 0 or more"
        if not (o.Eps >= 0.0 && Double.IsFinite o.Eps) then bad "eps" "eps" o.Eps "a finite number, 0 or more"
        o

    /// <summary>The state before the first metric: the given rate, the worst possible best, no counters.</summary>
    /// <param name="o">The options.</param>
    /// <param name="lr">The starting learning rate.</param>
    /// <returns>The state.</returns>
    /// <exception cref="T:System.ArgumentOutOfRangeException">The options are invalid.</exception>
    /// <example><c>(Plateau.init Plateau.defaults 0.1).Best</c> is <c>infinity</c>.</example>
    let init (o: PlateauOptions) (lr: float) : PlateauState =
        validate o |> ignore
        { Lr = lr
          Best = (match o.Mode with PlateauMode.Min -> infinity | PlateauMode.Max -> -infinity)
          NumBadEpochs = 0; CooldownCounter = 0; LastEpoch = 0L }

    /// <summary>Whether <paramref name="metric"/> improves on <paramref name="best"/> by more than the threshold (PyTorch's <c>is_better</c>).</summary>
    /// <param name="o">The options.</param>
    /// <param name="metric">The new metric.</param>
    /// <param name="best">The best so far.</param>
    /// <returns>True when it is an improvement; NaN never is.</returns>
    /// <example><c>Plateau.isBetter Plateau.defaults 0.99 1.0</c> is <c>true</c>; <c>0.99995</c> is not (relative 1e-4).</example>
    let isBetter (o: PlateauOptions) (metric: float) (best: float) : bool =
        match o.Mode, o.ThresholdMode with
        | PlateauMode.Min, ThresholdMode.Rel -> metric < best * (1.0 - o.Threshold)
        | PlateauMode.Min, ThresholdMode.Abs -> metric < best - o.Threshold
        | PlateauMode.Max, ThresholdMode.Rel -> metric > best * (o.Threshold + 1.0)
        | PlateauMode.Max, ThresholdMode.Abs -> metric > best + o.Threshold

    /// <summary>
    /// Takes one metric and decides whether to reduce, updating the counters but not the rate; the facade uses
    /// it to reduce every param group with its own floor.
    /// </summary>
    /// <param name="o">The options.</param>
    /// <param name="state">The state.</param>
    /// <param name="metric">The new metric.</param>
    /// <returns>Whether to reduce now, and the new state (its <c>Lr</c> unchanged).</returns>
    /// <example><c>Plateau.observe { Plateau.defaults with Patience = 0 } (s, 2.0)</c> after a best of 1.0 returns <c>true</c>.</example>
    let observe (o: PlateauOptions) (state: PlateauState, metric: float) : bool * PlateauState =
        let best, bad =
            if isBetter o metric state.Best then metric, 0 else state.Best, state.NumBadEpochs + 1
        let cooldown, bad = if state.CooldownCounter > 0 then state.CooldownCounter - 1, 0 else state.CooldownCounter, bad
        let reduce = bad > o.Patience
        reduce,
        { state with
            Best = best
            NumBadEpochs = (if reduce then 0 else bad)
            CooldownCounter = (if reduce then o.Cooldown else cooldown)
            LastEpoch = state.LastEpoch + 1L }

    /// <summary>One reduction of one rate: <c>max(lr·factor, minLr)</c>, unless that changes it by <c>eps</c> or less.</summary>
    /// <param name="factor">The factor.</param>
    /// <param name="minLr">The floor.</param>
    /// <param name="eps">The smallest change applied.</param>
    /// <param name="lr">The rate.</param>
    /// <returns>The reduced rate, or <paramref name="lr"/>.</returns>
    /// <example><c>Plateau.reduce 0.1 1e-4 1e-8 1e-3</c> is <c>1e-4</c>; <c>Plateau.reduce 0.1 1e-4 1e-8 1e-4</c> is <c>1e-4</c> (at the floor).</example>
    let reduce (factor: float) (minLr: float) (eps: float) (lr: float) : float =
        let reduced = max (lr * factor) minLr
        if lr - reduced > eps then reduced else lr

    /// <summary>
    /// The transition <c>(state, metric) → (lr, state)</c>: takes one metric (a validation loss, say), and returns
    /// the learning rate for the next epoch with the new state.
    /// </summary>
    /// <param name="o">The options.</param>
    /// <param name="state">The state.</param>
    /// <param name="metric">The new metric (a validation loss, say).</param>
    /// <returns>The learning rate and the new state.</returns>
    /// <example>
    /// With the options (<c>Patience = 10; Cooldown = 10; MinLr = 1e-4</c>) and a constant loss from
    /// <c>Plateau.init o 0.1</c>, the rate falls to <c>0.01</c> at the 12th metric, <c>0.001</c> at the 33rd and
    /// <c>1e-4</c> at the 54th.
    /// </example>
    let step (o: PlateauOptions) (state: PlateauState, metric: float) : float * PlateauState =
        let cut, next = observe o (state, metric)
        let lr = if cut then reduce o.Factor o.MinLr o.Eps state.Lr else state.Lr
        lr, { next with Lr = lr }
