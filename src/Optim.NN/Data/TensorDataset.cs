namespace Optim.NN;

/// <summary>
/// Samples as rows of two tensors (<c>torch.utils.data.TensorDataset</c>): sample <c>i</c> is row <c>i</c> of
/// <see cref="Inputs"/> and of <see cref="Targets"/>, their slice at index <c>i</c> of the first dimension (of inputs
/// <c>[N, C, H, W]</c>, the image <c>[C, H, W]</c>). For classification the targets are class indices, one per
/// sample, held as float32.
/// </summary>
public sealed class TensorDataset
{
    /// <summary>A dataset over inputs and targets with one row per sample.</summary>
    /// <param name="inputs">Rank 1 to 4, samples first: <c>[samples]</c>, <c>[samples, features]</c>, … <c>[samples, C, H, W]</c>.</param>
    /// <param name="targets">Rank 1 to 4, samples first: <c>[samples]</c> (class indices, or one value per sample), <c>[samples, outputs]</c>, ….</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A tensor is a scalar, or the sample counts differ.</exception>
    public TensorDataset(Tensor inputs, Tensor targets)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(targets);
        if (inputs.Rank == 0) throw new ArgumentException("The inputs must have one row per sample, but they are a scalar.", nameof(inputs));
        if (targets.Rank == 0) throw new ArgumentException("The targets must have one row per sample, but they are a scalar.", nameof(targets));
        if (inputs.Shape[0] != targets.Shape[0])
            throw new ArgumentException(
                $"The inputs hold {inputs.Shape[0]} samples (shape {Shapes.Format(inputs.ShapeArray)}) but the targets {targets.Shape[0]} (shape {Shapes.Format(targets.ShapeArray)}).",
                nameof(targets));
        Inputs = inputs;
        Targets = targets;
    }

    /// <summary>The inputs, one row per sample.</summary>
    public Tensor Inputs { get; }

    /// <summary>The targets, one row per sample.</summary>
    public Tensor Targets { get; }

    /// <summary>The number of samples.</summary>
    public int Count => Inputs.Shape[0];
}
