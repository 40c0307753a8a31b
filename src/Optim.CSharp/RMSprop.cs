using Optim;

namespace Optim.CSharp;

/// <summary>
/// RMSprop, as <c>torch.optim.RMSprop</c> (Hinton, "Neural Networks for Machine Learning", Lecture 6e, 2012;
/// centered: Graves, "Generating Sequences With Recurrent Neural Networks", 2013). Per parameter:
/// <c>g = ±g + λ·p</c>, <c>v = α·v + (1−α)·g²</c>, <c>a = √v + ε</c>, or centered <c>ḡ = α·ḡ + (1−α)·g</c> and
/// <c>a = √(v − ḡ²) + ε</c>; with momentum <c>b = μ·b + g/a</c> and <c>p = p − lr·b</c>, otherwise <c>p = p − lr·g/a</c>.
/// State: <c>"square_avg"</c>, <c>"momentum_buffer"</c> (momentum &gt; 0), <c>"grad_avg"</c> (centered).
/// </summary>
public sealed class RMSprop : Optimizer
{
    /// <summary>RMSprop over one group of parameters.</summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="alpha">Smoothing constant.</param>
    /// <param name="eps">Denominator term.</param>
    /// <param name="weightDecay">L2 penalty.</param>
    /// <param name="momentum">Momentum factor.</param>
    /// <param name="centered">Normalise by the estimated variance of the gradient.</param>
    /// <param name="maximize">Maximise the objective.</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), or there are no parameters.</exception>
    public RMSprop(IEnumerable<Parameter> parameters, double lr = 1e-2, double alpha = 0.99, double eps = 1e-8, double weightDecay = 0, double momentum = 0, bool centered = false, bool maximize = false)
        : this(Single(parameters), lr, alpha, eps, weightDecay, momentum, centered, maximize) { }

    /// <summary>RMSprop over param groups; keys a group does not set take these values.</summary>
    /// <param name="groups">The param groups.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="alpha">Smoothing constant.</param>
    /// <param name="eps">Denominator term.</param>
    /// <param name="weightDecay">L2 penalty.</param>
    /// <param name="momentum">Momentum factor.</param>
    /// <param name="centered">Normalise by the estimated variance of the gradient.</param>
    /// <param name="maximize">Maximise the objective.</param>
    /// <exception cref="ArgumentException">A hyperparameter is invalid (the message names it and the value), or there are no groups.</exception>
    public RMSprop(IEnumerable<ParamGroup> groups, double lr = 1e-2, double alpha = 0.99, double eps = 1e-8, double weightDecay = 0, double momentum = 0, bool centered = false, bool maximize = false)
        : base(groups, Described.Defaults(Descriptors.rmsprop, lr, alpha, eps, weightDecay, momentum, centered, maximize)) { }
}
