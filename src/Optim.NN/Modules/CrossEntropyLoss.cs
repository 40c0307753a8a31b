namespace Optim.NN;

/// <summary>
/// The cross-entropy loss of logits against class indices, mean over the batch (<c>torch.nn.CrossEntropyLoss()</c>);
/// see <see cref="Functional.CrossEntropy"/>.
/// </summary>
public sealed class CrossEntropyLoss
{
    /// <summary>The loss, a scalar.</summary>
    /// <param name="input">Logits, shape <c>[batch, classes]</c>.</param>
    /// <param name="target">Class indices, shape <c>[batch]</c>, as whole numbers held in float32 (what <see cref="DataLoader"/> yields for labels).</param>
    /// <exception cref="ArgumentException">The shapes do not fit, or a target is not a class index.</exception>
    public Tensor Forward(Tensor input, Tensor target) => Functional.CrossEntropy(input, target);
}
