using Optim;

namespace Optim.CSharp;

/// <summary>
/// Stochastic gradient descent with momentum, as <c>torch.optim.SGD</c> (PyTorch 1.13). Per parameter:
/// <c>d = ±g + λ·p</c>; with momentum <c>b = d</c> on the first step, then <c>b = μ·b + (1 − τ)·d</c>, and
/// <c>d = b</c>, or <c>d + μ·b</c> with Nesterov (Sutskever et al., 2013); finally <c>p = p − lr·d</c>.
/// State: <c>"momentum_buffer"</c>.
/// </summary>
/// <remarks>
/// A sparse gradient (<see cref="Parameter.AccumulateSparseGrad"/>, as <c>nn.Embedding(sparse=True)</c>'s) is taken as
/// PyTorch 1.13 takes it: without momentum only its rows move; with momentum the buffer, which PyTorch keeps sparse,
/// is kept dense with zeros in the rows no gradient has touched (the same numbers). Weight decay with a sparse
/// gradient is refused, as PyTorch refuses it.
/// </remarks>
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

    private protected override bool AcceptsSparseGradients => true;

    // without momentum only the gradient's rows move; with it, the buffer decays everywhere (PyTorch's sparse buffer
    // does in the rows it holds, and is zero in the others) and the parameter moves by it
    private protected override bool SparseRowsOnly(ParamGroup group) => group["momentum"] == 0;

    // PyTorch 1.13: d_p.add(param, alpha=weight_decay) on a sparse d_p fails with "add(sparse, dense) is not supported"
    private protected override string? SparseIncompatibility(ParamGroup group) =>
        group["weight_decay"] != 0 ? $"SGD's weightDecay ({group["weight_decay"]}) is not compatible with sparse gradients, as in PyTorch" : null;
}
