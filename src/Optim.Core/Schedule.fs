namespace Optim

/// <summary>
/// A schedule: a value (a learning rate, a momentum, …) as a pure function of the step count, where the
/// count is the number of updates completed before this one (0 for the first update), as in Optax.
/// </summary>
type Schedule = int64 -> float

/// <summary>Schedules as values.</summary>
[<RequireQualifiedAccess>]
module Schedule =

    /// <summary>The same value at every step.</summary>
    /// <param name="value">The value.</param>
    /// <returns>A schedule that ignores the step count.</returns>
    /// <example><c>Schedule.constant 0.1 42L</c> is <c>0.1</c>.</example>
    let constant (value: float) : Schedule = fun _ -> value
