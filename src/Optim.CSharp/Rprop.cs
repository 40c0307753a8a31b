using Optim;

namespace Optim.CSharp;

/// <summary>
/// Resilient backpropagation, as <c>torch.optim.Rprop</c> (Riedmiller &amp; Braun, "A Direct Adaptive Method for
/// Faster Backpropagation Learning: The RPROP Algorithm", 1993). Per element, a step size <c>s</c> (starting at
/// <c>lr</c>) is multiplied by <c>η₊</c> when <c>g·g_prev &gt; 0</c>, by <c>η₋</c> when it is negative, and clamped to
/// <c>[s_min, s_max]</c>; after a sign change the element does not move and its gradient is forgotten
/// (<c>g = 0</c>); <c>p = p − sign(g)·s</c>, <c>g_prev = g</c>. State: <c>"step"</c>, <c>"prev"</c>, <c>"step_size"</c>.
/// </summary>
public sealed class Rprop : Optimizer
{
    /// <summary>Rprop over one group of parameters.</summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="lr">The initial step size.</param>
    /// <param name="etas">The factors (η₋, η₊) with 0 &lt; η₋ &lt; 1 &lt; η₊; null: (0.5, 1.2).</param>
    /// <param name="stepSizes">The smallest and largest step sizes; null: (1e-6, 50).</param>
    /// <param name="maximize">Maximise the objective.</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), or there are no parameters.</exception>
    public Rprop(IEnumerable<Parameter> parameters, double lr = 1e-2, (double, double)? etas = null, (double, double)? stepSizes = null, bool maximize = false)
        : this(Single(parameters), lr, etas, stepSizes, maximize) { }

    /// <summary>Rprop over param groups; keys a group does not set take these values.</summary>
    /// <param name="groups">The param groups.</param>
    /// <param name="lr">The initial step size.</param>
    /// <param name="etas">The factors (η₋, η₊) with 0 &lt; η₋ &lt; 1 &lt; η₊; null: (0.5, 1.2).</param>
    /// <param name="stepSizes">The smallest and largest step sizes; null: (1e-6, 50).</param>
    /// <param name="maximize">Maximise the objective.</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), or there are no groups.</exception>
    public Rprop(IEnumerable<ParamGroup> groups, double lr = 1e-2, (double, double)? etas = null, (double, double)? stepSizes = null, bool maximize = false)
        : base(groups, Described.Defaults(Descriptors.rprop, lr, etas, stepSizes, maximize)) { }
}
