using Optim;

namespace Optim.CSharp;

/// <summary>
/// Stochastic gradient descent with momentum, as <c>torch.optim.SGD</c> (PyTorch 1.13). Per parameter:
/// <c>d = ±g + λ·p</c>; with momentum <c>b = d</c> on the first step, then <c>b = μ·b + (1 − τ)·d</c>, and
/// <c>d = b</c>, or <c>d + μ·b</c> with Nesterov (Sutskever et al., 2013); finally <c>p = p − lr·d</c>.
/// State: <c>"momentum_buffer"</c>.
/// </summary>
public sealed class SGD : Optimizer
{
    /// <summary>SGD over one group of parameters.</summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="lr">Learning rate (required).</param>
    /// <param name="momentum">Momentum factor.</param>
    /// <param name="dampening">Dampening for momentum.</param>
    /// <param name="weightDecay">L2 penalty.</param>
    /// <param name="nesterov">Nesterov momentum (needs momentum &gt; 0 and dampening 0).</param>
    /// <param name="maximize">Maximise the objective.</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), or there are no parameters.</exception>
    public SGD(IEnumerable<Parameter> parameters, double lr, double momentum = 0, double dampening = 0,
               double weightDecay = 0, bool nesterov = false, bool maximize = false)
        : this(Single(parameters), lr, momentum, dampening, weightDecay, nesterov, maximize) { }

    /// <summary>SGD over param groups; keys a group does not set take these values.</summary>
    /// <param name="groups">The param groups.</param>
    /// <param name="lr">Learning rate: required unless every group sets its own <c>"lr"</c> (as PyTorch's <c>required</c>),
    /// groups added later included.</param>
    /// <param name="momentum">Momentum factor.</param>
    /// <param name="dampening">Dampening for momentum.</param>
    /// <param name="weightDecay">L2 penalty.</param>
    /// <param name="nesterov">Nesterov momentum (needs momentum &gt; 0 and dampening 0).</param>
    /// <param name="maximize">Maximise the objective.</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), there are no
    /// groups, or <paramref name="lr"/> is left out and a group does not set it.</exception>
    public SGD(IEnumerable<ParamGroup> groups, double? lr = null, double momentum = 0, double dampening = 0,
               double weightDecay = 0, bool nesterov = false, bool maximize = false)
        : base(groups, Described.Defaults(Descriptors.sgd, lr, momentum, dampening, weightDecay, nesterov, maximize)) { }
}
