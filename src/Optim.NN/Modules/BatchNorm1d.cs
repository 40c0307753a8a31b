using Optim.CSharp;

namespace Optim.NN;

/// <summary>
/// Batch normalisation of <c>[N, C]</c> or <c>[N, C, L]</c> per channel (<c>torch.nn.BatchNorm1d</c>):
/// <c>y = (x − E[x]) / √(Var[x] + eps) · weight + bias</c>, the statistics taken over <c>N</c> (and <c>L</c>).
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
/// var model = new Sequential(new Linear(8, 3), new BatchNorm1d(3), new ReLU());
/// model.Train();   // batch statistics, running statistics updated
/// model.Eval();    // running statistics
/// </code></example>
public sealed class BatchNorm1d : Module
{
    private readonly BatchNormCore _core;

    /// <summary>A batch-normalisation layer over <paramref name="numFeatures"/> channels, weight 1 and bias 0, running mean 0 and variance 1.</summary>
    /// <param name="numFeatures">The features <c>C</c> of the input <c>[N, C]</c> or <c>[N, C, L]</c>.</param>
    /// <param name="eps">Added to the variance, for stability.</param>
    /// <param name="momentum">The running statistics' update factor, or null for a cumulative average.</param>
    /// <param name="affine">Whether the layer has a learnt per-channel weight and bias.</param>
    /// <param name="trackRunningStats">Whether it keeps running statistics (and uses them in evaluation mode).</param>
    /// <exception cref="ArgumentException"><paramref name="numFeatures"/> is negative, <paramref name="eps"/> negative or not finite, or <paramref name="momentum"/> outside [0, 1].</exception>
    public BatchNorm1d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool trackRunningStats = true) =>
        _core = new BatchNormCore(numFeatures, eps, momentum, affine, trackRunningStats);

    /// <summary>The channels <c>C</c>.</summary>
    public int NumFeatures => _core.NumFeatures;

    /// <summary>Added to the variance.</summary>
    public double Eps => _core.Eps;

    /// <summary>The running statistics' update factor, or null for a cumulative average.</summary>
    public double? Momentum => _core.Momentum;

    /// <summary>Whether the layer has a learnt weight and bias.</summary>
    public bool Affine => _core.Weight is not null;

    /// <summary>Whether the layer keeps running statistics.</summary>
    public bool TrackRunningStats => _core.RunningMean is not null;

    /// <summary>The per-channel scale, shape <c>[C]</c>, initially ones; null without <see cref="Affine"/>.</summary>
    public Parameter? Weight => _core.Weight;

    /// <summary>The per-channel shift, shape <c>[C]</c>, initially zeros; null without <see cref="Affine"/>.</summary>
    public Parameter? Bias => _core.Bias;

    /// <summary>The running mean (the buffer <c>running_mean</c>, live), shape <c>[C]</c>; null without <see cref="TrackRunningStats"/>.</summary>
    public Tensor? RunningMean => _core.RunningMean;

    /// <summary>The running unbiased variance (the buffer <c>running_var</c>, live), shape <c>[C]</c>; null without <see cref="TrackRunningStats"/>.</summary>
    public Tensor? RunningVar => _core.RunningVar;

    /// <summary>The training batches seen (the buffer <c>num_batches_tracked</c>, live), rank 0; null without <see cref="TrackRunningStats"/>.</summary>
    public Tensor? NumBatchesTracked => _core.NumBatchesTracked;

    /// <summary>Resets the running statistics: mean 0, variance 1, no batches tracked (<c>reset_running_stats()</c>).</summary>
    public void ResetRunningStats() => _core.ResetRunningStats();

    /// <inheritdoc />
    /// <exception cref="ArgumentNullException"><paramref name="input"/> is null.</exception>
    /// <exception cref="ArgumentException">The input is not <c>[N, C]</c> or <c>[N, C, L]</c> with <c>C = </c><see cref="NumFeatures"/>, or, using batch
    /// statistics, holds one value per channel; nothing changes then.</exception>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank is not (2 or 3) || input.Shape[1] != NumFeatures)
            throw new ArgumentException(
                $"BatchNorm1d({NumFeatures}) expects an input [N, {NumFeatures}] or [N, {NumFeatures}, L], but the shape is {Shapes.Format(input.ShapeArray)}.", nameof(input));
        return _core.Forward(input, Training, nameof(BatchNorm1d));
    }

    /// <summary><c>weight</c> and <c>bias</c>, with <see cref="Affine"/>.</summary>
    protected override IEnumerable<(string Name, Parameter Parameter)> RegisteredParameters() => _core.Parameters();

    /// <summary><c>running_mean</c>, <c>running_var</c> and <c>num_batches_tracked</c>, with <see cref="TrackRunningStats"/>.</summary>
    protected override IEnumerable<(string Name, Tensor Buffer)> RegisteredBuffers() => _core.Buffers();
}
