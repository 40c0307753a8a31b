using Optim.CSharp;

namespace Optim.NN;

/// <summary>
/// What <see cref="BatchNorm1d"/> and <see cref="BatchNorm2d"/> share (PyTorch's <c>_BatchNorm</c>): the per-channel
/// weight and bias, the running statistics and their update, and the forward and backward pass, one fused operation.
/// They differ only in the input shapes they take.
/// </summary>
public abstract class BatchNorm : Module
{
    private readonly BatchNormCore _core;

    private protected BatchNorm(int numFeatures, double eps, double? momentum, bool affine, bool trackRunningStats) =>
        _core = new BatchNormCore(numFeatures, eps, momentum, affine, trackRunningStats);

    /// <summary>The channels (features) <c>C</c>.</summary>
    public int NumFeatures => _core.NumFeatures;

    /// <summary>Added to the variance.</summary>
    public double Eps => _core.Eps;

    /// <summary>
    /// The running statistics' update factor (<c>module.momentum</c>): <c>running = (1 − momentum)·running +
    /// momentum·batch</c> at each batch in training mode; null makes them the cumulative average of the batches since
    /// <see cref="ResetRunningStats"/> (factor <c>1/num_batches_tracked</c>), as <see cref="SwaUtils.UpdateBn(IEnumerable{ValueTuple{Tensor, Tensor}}, Module)"/>
    /// sets it for its pass. It can be changed at any time, as in PyTorch.
    /// </summary>
    /// <exception cref="ArgumentException">On set: the value is outside [0, 1] (or NaN); the momentum is unchanged.</exception>
    public double? Momentum
    {
        get => _core.Momentum;
        set
        {
            BatchNormCore.CheckMomentum(value, nameof(value));
            _core.Momentum = value;
        }
    }

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

    /// <summary>
    /// Resets the running statistics: mean 0, variance 1, no batches tracked (<c>reset_running_stats()</c>); nothing
    /// without <see cref="TrackRunningStats"/>. The weight and bias are kept.
    /// </summary>
    public void ResetRunningStats() => _core.ResetRunningStats();

    /// <summary>Whether <paramref name="shape"/> is one this layer normalises.</summary>
    private protected abstract bool Accepts(IReadOnlyList<int> shape);

    /// <summary>The input shapes it takes, in words, for messages (<c>[N, C, H, W]</c>).</summary>
    private protected abstract string Expected { get; }

    /// <inheritdoc />
    /// <exception cref="ArgumentNullException"><paramref name="input"/> is null.</exception>
    /// <exception cref="ArgumentException">The input's shape is not one the layer takes, with <c>C = </c><see cref="NumFeatures"/>, or,
    /// using batch statistics, it holds one value per channel; nothing changes then.</exception>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank < 2 || input.Shape[1] != NumFeatures || !Accepts(input.Shape))
            throw new ArgumentException(
                $"{GetType().Name}({NumFeatures}) expects an input {Expected}, but the shape is {Shapes.Format(input.ShapeArray)}.", nameof(input));
        return _core.Forward(input, Training, GetType().Name);
    }

    /// <summary><c>weight</c> and <c>bias</c>, with <see cref="Affine"/>.</summary>
    protected override IEnumerable<(string Name, Parameter Parameter)> RegisteredParameters() => _core.Parameters();

    internal override IEnumerable<Tensor> IntegerBuffers() => NumBatchesTracked is { } n ? [n] : [];

    /// <summary><c>running_mean</c>, <c>running_var</c> and <c>num_batches_tracked</c>, with <see cref="TrackRunningStats"/>.</summary>
    protected override IEnumerable<(string Name, Tensor Buffer)> RegisteredBuffers() => _core.Buffers();
}
