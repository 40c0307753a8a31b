using Optim.CSharp;

namespace Optim.NN;

/// <summary>
/// What <see cref="BatchNorm1d"/> and <see cref="BatchNorm2d"/> share (PyTorch's <c>_BatchNorm</c>): the arguments, the
/// affine parameters, the running statistics and the forward pass in either mode.
/// </summary>
internal sealed class BatchNormCore
{
    private readonly Tensor? _weight, _bias;

    public BatchNormCore(int numFeatures, double eps, double? momentum, bool affine, bool trackRunningStats)
    {
        if (numFeatures < 0) throw new ArgumentException($"numFeatures must be 0 or more, but is {numFeatures}.", nameof(numFeatures));
        if (!(eps >= 0) || double.IsInfinity(eps)) throw new ArgumentException($"eps must be finite and 0 or more, but is {eps}.", nameof(eps));
        CheckMomentum(momentum, nameof(momentum));
        NumFeatures = numFeatures;
        Eps = eps;
        Momentum = momentum;
        if (affine)
        {
            Weight = new Parameter(Enumerable.Repeat(1f, numFeatures).ToArray(), numFeatures) { Name = "weight" };
            Bias = new Parameter(new float[numFeatures], numFeatures) { Name = "bias" };
            _weight = Tensor.FromParameter(Weight);
            _bias = Tensor.FromParameter(Bias);
        }
        if (trackRunningStats)
        {
            RunningMean = new Tensor(new float[numFeatures], numFeatures);
            RunningVar = new Tensor(Enumerable.Repeat(1f, numFeatures).ToArray(), numFeatures);
            NumBatchesTracked = Tensor.Scalar(0f);
        }
    }

    public int NumFeatures { get; }
    public double Eps { get; }
    public double? Momentum { get; set; }
    public Parameter? Weight { get; }
    public Parameter? Bias { get; }
    public Tensor? RunningMean { get; }
    public Tensor? RunningVar { get; }
    public Tensor? NumBatchesTracked { get; }

    /// <summary>Rejects a momentum outside [0, 1] (null is a cumulative average).</summary>
    public static void CheckMomentum(double? momentum, string paramName)
    {
        if (momentum is { } mo && !(mo >= 0 && mo <= 1))
            throw new ArgumentException($"momentum must be in [0, 1] or null, but is {mo}.", paramName);
    }

    public IEnumerable<(string Name, Parameter Parameter)> Parameters() =>
        Weight is null ? [] : [("weight", Weight), ("bias", Bias!)];

    public IEnumerable<(string Name, Tensor Buffer)> Buffers() =>
        RunningMean is null ? [] : [("running_mean", RunningMean), ("running_var", RunningVar!), ("num_batches_tracked", NumBatchesTracked!)];

    public void ResetRunningStats()
    {
        if (RunningMean is null) return;
        Array.Clear(RunningMean.Data);
        Array.Fill(RunningVar!.Data, 1f);
        NumBatchesTracked!.Data[0] = 0f;
    }

    /// <summary>The forward pass of an input already checked to be <c>[N, NumFeatures, …]</c>.</summary>
    public Tensor Forward(Tensor input, bool training, string layer)
    {
        bool batchStats = training || RunningMean is null;
        if (batchStats)
        {
            long perChannel = input.Numel / Math.Max(NumFeatures, 1);
            if (NumFeatures > 0 && perChannel <= 1)
                throw new ArgumentException(
                    $"{layer} expects more than 1 value per channel when using batch statistics, but the input has shape {Shapes.Format(input.ShapeArray)}.", nameof(input));
        }
        double? factor = null;
        if (training && RunningMean is not null)
        {
            // num_batches_tracked counts in float32: exact up to 2^24 batches (see StateDict's remarks)
            var count = NumBatchesTracked!.Data;
            count[0] += 1f;
            factor = Momentum ?? 1.0 / count[0];
        }
        return Ops.BatchNorm.Apply(input, _weight, _bias, RunningMean?.Data, RunningVar?.Data, batchStats, factor, Eps);
    }
}
