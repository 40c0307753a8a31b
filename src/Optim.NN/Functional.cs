namespace Optim.NN;

/// <summary>The functional forms of the layers and losses (PyTorch's <c>torch.nn.functional</c>).</summary>
public static class Functional
{
    /// <summary>
    /// The affine map <c>input·weightᵀ + bias</c> (<c>F.linear</c>), as one operation.
    /// </summary>
    /// <param name="input">Shape <c>[*, in]</c>: <c>[batch, in]</c>, <c>[in]</c>, or more leading dimensions (up to rank 4), as PyTorch's.</param>
    /// <param name="weight">Shape <c>[out, in]</c>.</param>
    /// <param name="bias">Shape <c>[out]</c>, or null for none.</param>
    /// <returns>Shape <c>[*, out]</c>: the input's, with the last extent <c>out</c>.</returns>
    /// <exception cref="ArgumentException">The shapes do not fit; the message gives them.</exception>
    public static Tensor Linear(Tensor input, Tensor weight, Tensor? bias = null) => Ops.MatMul.Linear(input, weight, bias);

    /// <summary>
    /// The cross-entropy loss of logits against class indices, averaged over the batch (<c>F.cross_entropy</c> with
    /// mean reduction): <c>mean_i(−log softmax(input_i)[target_i])</c>, log-softmax and loss fused and stable for
    /// any finite logits. No class weights, <c>ignore_index</c> or label smoothing.
    /// </summary>
    /// <param name="input">Logits, shape <c>[batch, classes]</c>.</param>
    /// <param name="target">Class indices, shape <c>[batch]</c>: whole numbers in <c>[0, classes)</c>, held as float32
    /// (the tensors of this library are float32 only; every index below 2²⁴ is exact).</param>
    /// <returns>A scalar.</returns>
    /// <exception cref="ArgumentException">The shapes do not fit, or a target is not a class index; the message gives it.</exception>
    public static Tensor CrossEntropy(Tensor input, Tensor target) => Ops.Softmax.CrossEntropy(input, target);

    /// <summary>The mean squared error <c>mean((input − target)²)</c> (<c>F.mse_loss</c>); both get gradients if they require them.</summary>
    /// <param name="input">The prediction.</param>
    /// <param name="target">The target, of the same shape.</param>
    /// <returns>A scalar.</returns>
    /// <exception cref="ArgumentException">The shapes differ.</exception>
    public static Tensor MseLoss(Tensor input, Tensor target) => Ops.Mse.Loss(input, target);
}
