using Optim.NN.Autograd;

namespace Optim.NN.Ops;

/// <summary>
/// Batch normalisation over <c>[N, C, …]</c> as one operation per channel (PyTorch's <c>batch_norm_cpu</c>): statistics,
/// the affine map and, in training mode, the update of the running statistics in one pass each, and one backward node.
/// Per-channel sums are taken in double, as PyTorch's CPU kernel does.
/// </summary>
internal static class BatchNorm
{
    /// <summary>
    /// <c>(x − mean)/√(var + eps)·weight + bias</c> per channel, with the batch's mean and biased variance over every
    /// axis but the channel's when <paramref name="useBatchStats"/>, else with the running ones.
    /// </summary>
    /// <param name="x">The input, <c>[N, C, …]</c>, already checked.</param>
    /// <param name="weight">Per-channel scale, or null for 1.</param>
    /// <param name="bias">Per-channel shift, or null for 0.</param>
    /// <param name="runningMean">The running mean, updated in place with the batch statistics; read when not <paramref name="useBatchStats"/>.</param>
    /// <param name="runningVar">The running (unbiased) variance, likewise.</param>
    /// <param name="useBatchStats">Normalise with the batch's statistics (training, or no running statistics).</param>
    /// <param name="factor">The running statistics' update factor (the momentum, or 1/count for a cumulative average); null: no update.</param>
    /// <param name="eps">Added to the variance.</param>
    public static Tensor Apply(Tensor x, Tensor? weight, Tensor? bias, float[]? runningMean, float[]? runningVar,
                               bool useBatchStats, double? factor, double eps)
    {
        var shape = x.ShapeArray;
        int n = shape[0], c = shape[1];
        int inner = 1;
        for (int d = 2; d < shape.Length; d++) inner *= shape[d];
        long m = (long)n * inner;
        var xs = x.Data;
        var mean = new double[c];
        var invstd = new double[c];
        for (int ch = 0; ch < c; ch++)
        {
            if (useBatchStats)
            {
                double sum = 0;
                for (int i = 0; i < n; i++)
                {
                    var row = xs.AsSpan((i * c + ch) * inner, inner);
                    foreach (var v in row) sum += v;
                }
                double mu = sum / m, sq = 0;
                for (int i = 0; i < n; i++)
                {
                    var row = xs.AsSpan((i * c + ch) * inner, inner);
                    foreach (var v in row) sq += (v - mu) * (v - mu);
                }
                mean[ch] = mu;
                invstd[ch] = 1 / Math.Sqrt(sq / m + eps);
                if (factor is { } f && runningMean is not null && runningVar is not null)
                {
                    // PyTorch's update: the batch's unbiased variance goes into the running variance
                    runningMean[ch] = (float)(f * mu + (1 - f) * runningMean[ch]);
                    runningVar[ch] = (float)(f * (sq / (m - 1)) + (1 - f) * runningVar[ch]);
                }
            }
            else
            {
                mean[ch] = runningMean![ch];
                invstd[ch] = 1 / Math.Sqrt(runningVar![ch] + eps);
            }
        }
        var y = GC.AllocateUninitializedArray<float>(xs.Length);
        for (int ch = 0; ch < c; ch++)
        {
            // y = x·α + β with α = invstd·w, β = b − mean·α, as PyTorch's transform
            double w = weight is null ? 1 : weight.Data[ch], b = bias is null ? 0 : bias.Data[ch];
            float alpha = (float)(invstd[ch] * w), beta = (float)(b - mean[ch] * invstd[ch] * w);
            for (int i = 0; i < n; i++)
            {
                int o = (i * c + ch) * inner;
                for (int k = o; k < o + inner; k++) y[k] = xs[k] * alpha + beta;
            }
        }
        bool records = GradMode.Enabled && (x.RequiresGrad || (weight?.RequiresGrad ?? false) || (bias?.RequiresGrad ?? false));
        return Tensor.Result(y, (int[])shape.Clone(), records ? new BatchNormNode(x, weight, bias, mean, invstd, useBatchStats, n, c, inner) : null);
    }

    private sealed class BatchNormNode : Node
    {
        private readonly Tensor? _weight, _bias;
        private readonly double[] _mean, _invstd;
        private readonly bool _batchStats;
        private readonly int _n, _c, _inner;

        public BatchNormNode(Tensor x, Tensor? weight, Tensor? bias, double[] mean, double[] invstd, bool batchStats, int n, int c, int inner)
            : base([x, .. weight is null ? Array.Empty<Tensor>() : [weight], .. bias is null ? Array.Empty<Tensor>() : [bias]])
        {
            (_weight, _bias, _mean, _invstd, _batchStats, _n, _c, _inner) = (weight, bias, mean, invstd, batchStats, n, c, inner);
        }

        public override void Backward(float[] grad)
        {
            var x = A;
            var xs = x.Data;
            int n = _n, c = _c, inner = _inner;
            long m = (long)n * inner;
            var gw = _weight is { RequiresGrad: true } ? new float[c] : null;
            var gb = _bias is { RequiresGrad: true } ? new float[c] : null;
            float[]? gx = null;
            bool acc = false;
            if (x.RequiresGrad) gx = x.GradTarget(out acc);
            for (int ch = 0; ch < c; ch++)
            {
                double mu = _mean[ch], inv = _invstd[ch];
                double sum = 0, dot = 0;
                for (int i = 0; i < n; i++)
                {
                    int o = (i * c + ch) * inner;
                    for (int k = o; k < o + inner; k++)
                    {
                        sum += grad[k];
                        dot += (xs[k] - mu) * grad[k];
                    }
                }
                if (gw is not null) gw[ch] = (float)(dot * inv);
                if (gb is not null) gb[ch] = (float)sum;
                if (gx is null) continue;
                double w = _weight is null ? 1 : _weight.Data[ch];
                if (_batchStats)
                {
                    // the full backward through the batch's mean and variance (PyTorch's batch_norm_backward_cpu):
                    // dx = (dy − mean(dy) − (x − μ)·invstd²·mean((x − μ)·dy))·invstd·w
                    double k = dot * inv * inv / m, gradMean = sum / m, scale = inv * w;
                    for (int i = 0; i < n; i++)
                    {
                        int o = (i * c + ch) * inner;
                        for (int e = o; e < o + inner; e++)
                        {
                            float v = (float)((grad[e] - gradMean - (xs[e] - mu) * k) * scale);
                            gx[e] = acc ? gx[e] + v : v;
                        }
                    }
                }
                else
                {
                    float scale = (float)(inv * w);
                    for (int i = 0; i < n; i++)
                    {
                        int o = (i * c + ch) * inner;
                        for (int e = o; e < o + inner; e++) gx[e] = acc ? gx[e] + grad[e] * scale : grad[e] * scale;
                    }
                }
            }
            if (gw is not null) _weight!.AddGrad(gw);
            if (gb is not null) _bias!.AddGrad(gb);
        }
    }
}
