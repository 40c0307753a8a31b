using Optim.CSharp;

namespace Optim.NN;

/// <summary>
/// Batch normalisation of images <c>[N, C, H, W]</c> per channel (<c>torch.nn.BatchNorm2d</c>):
/// <c>y = (x − E[x]) / √(Var[x] + eps) · weight + bias</c>, the statistics taken over <c>N</c>, <c>H</c> and <c>W</c>.
/// </summary>
/// <remarks>
/// <para>In training mode (<see cref="Module.Train"/>) it normalises with the batch's mean and biased variance, and updates
/// the running statistics: <c>running = (1 − momentum)·running + momentum·batch</c>, with the batch's <em>unbiased</em>
/// variance for <c>running_var</c>; a null momentum makes them the cumulative average (factor <c>1/num_batches_tracked</c>).
/// In evaluation mode (<see cref="Module.Eval"/>) it normalises with the running statistics. Without
/// <c>trackRunningStats</c> it keeps none and uses the batch's in both modes. Forward and backward are one operation; the
/// backward in training mode runs through the batch statistics. Ioffe and Szegedy, <em>Batch Normalization</em> (2015).</para>
/// <para><c>num_batches_tracked</c> is a rank-0 float32 buffer, which counts exactly up to 2^24 (16,777,216) batches and then
/// stays there (PyTorch keeps an int64); only a null momentum reads it, as a factor below 6e-8 by then.</para>
/// </remarks>
/// <example><code>
/// var model = new Sequential(new BatchNorm2d(3), new ReLU());
/// model.Train();   // batch statistics, running statistics updated
/// model.Eval();    // running statistics
/// </code></example>
public sealed class BatchNorm2d : BatchNorm
{
    /// <summary>A batch-normalisation layer over <paramref name="numFeatures"/> channels, weight 1 and bias 0, running mean 0 and variance 1.</summary>
    /// <param name="numFeatures">The channels <c>C</c> of the input <c>[N, C, H, W]</c>.</param>
    /// <param name="eps">Added to the variance, for stability.</param>
    /// <param name="momentum">The running statistics' update factor, or null for a cumulative average.</param>
    /// <param name="affine">Whether the layer has a learnt per-channel weight and bias.</param>
    /// <param name="trackRunningStats">Whether it keeps running statistics (and uses them in evaluation mode).</param>
    /// <exception cref="ArgumentException"><paramref name="numFeatures"/> is negative, <paramref name="eps"/> negative or not finite, or <paramref name="momentum"/> outside [0, 1].</exception>
    public BatchNorm2d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool trackRunningStats = true)
        : base(numFeatures, eps, momentum, affine, trackRunningStats) { }

    private protected override bool Accepts(IReadOnlyList<int> shape) => shape.Count == 4;

    private protected override string Expected => $"[N, {NumFeatures}, H, W]";
}
