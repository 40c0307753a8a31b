using Optim.CSharp;

namespace Optim.NN;

/// <summary>
/// The functions of <c>torch.optim.swa_utils</c> (PyTorch 2.x) for stochastic weight averaging and exponential moving
/// averages of a model's weights: the averaging functions that <see cref="AveragedModel"/> takes, and
/// <see cref="UpdateBn(IEnumerable{ValueTuple{Tensor, Tensor}}, Module)"/>, which recomputes batch-norm statistics for
/// averaged weights. The learning-rate schedule of SWA is <see cref="SWALR"/> (Optim.CSharp). Izmailov et al.,
/// <em>Averaging Weights Leads to Wider Optima and Better Generalization</em> (2018).
/// </summary>
/// <remarks>
/// Each function computes in float32, in PyTorch's order of operations. Tensors that stand for PyTorch's int64 ones
/// (batch norm's <c>num_batches_tracked</c>, averaged with <c>useBuffers</c>) come to a multi-tensor function in a call
/// of their own, as PyTorch groups tensors by dtype, and are averaged as PyTorch averages integers.
/// </remarks>
/// <example><code>
/// var ema = new AveragedModel(model, multiAvgFn: SwaUtils.GetEmaMultiAvgFn(0.999));
/// // after each optimizer.Step():
/// ema.UpdateParameters(model);
/// </code></example>
public static class SwaUtils
{
    /// <summary>
    /// The exponential moving average over all tensors at once, in place (<c>get_ema_multi_avg_fn(decay)</c>):
    /// <c>ema ← lerp(ema, current, 1 − decay)</c>, as <c>torch.lerp</c> computes it (<c>ema + w·(current − ema)</c> for a
    /// weight <c>w</c> below 0.5, else <c>current − (current − ema)·(1 − w)</c>). Counters (integer tensors) get
    /// <c>ema·decay + current·(1 − decay)</c> rounded toward zero, as PyTorch's integer branch stores it.
    /// </summary>
    /// <param name="decay">The weight of the average so far, in [0, 1].</param>
    /// <returns>A function for <see cref="AveragedModel"/>'s <c>multiAvgFn</c>: (averaged tensors, the model's tensors,
    /// models averaged so far); it throws <see cref="ArgumentException"/>, changing nothing, when the lists' lengths or
    /// the tensors' element counts differ.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="decay"/> is outside [0, 1] or NaN.</exception>
    public static Action<IReadOnlyList<Tensor>, IReadOnlyList<Tensor>, long> GetEmaMultiAvgFn(double decay = 0.999) =>
        new MultiAverage(CheckDecay(decay)).Apply;

    /// <summary>
    /// The equally weighted running average over all tensors at once, in place (<c>get_swa_multi_avg_fn()</c>):
    /// <c>avg ← lerp(avg, current, 1/(n + 1))</c>, the weight a float32. Counters (integer tensors) get
    /// <c>avg + (current − avg)/(n + 1)</c> rounded toward zero, where PyTorch's integer branch raises (its
    /// <c>addcdiv_</c> refuses integer division).
    /// </summary>
    /// <returns>A function for <see cref="AveragedModel"/>'s <c>multiAvgFn</c>, as <see cref="GetEmaMultiAvgFn"/>'s.</returns>
    public static Action<IReadOnlyList<Tensor>, IReadOnlyList<Tensor>, long> GetSwaMultiAvgFn() => new MultiAverage(null).Apply;

    /// <summary>
    /// The exponential moving average of one tensor (<c>get_ema_avg_fn(decay)</c>):
    /// <c>decay·ema + (1 − decay)·current</c>, a new tensor.
    /// </summary>
    /// <param name="decay">The weight of the average so far, in [0, 1].</param>
    /// <returns>A function for <see cref="AveragedModel"/>'s <c>avgFn</c>: (averaged tensor, the model's tensor, models
    /// averaged so far) → the new average; it throws <see cref="ArgumentException"/> when the shapes differ.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="decay"/> is outside [0, 1] or NaN.</exception>
    public static Func<Tensor, Tensor, long, Tensor> GetEmaAvgFn(double decay = 0.999)
    {
        CheckDecay(decay);
        return (averaged, current, _) => Average(averaged, current, avg => Averaging.Ema(avg, current.Data, decay));
    }

    /// <summary>
    /// The equally weighted running average of one tensor (<c>get_swa_avg_fn()</c>):
    /// <c>averaged + (current − averaged)/(n + 1)</c>, a new tensor; what <see cref="AveragedModel"/> computes without
    /// an averaging function.
    /// </summary>
    /// <returns>A function for <see cref="AveragedModel"/>'s <c>avgFn</c>, as <see cref="GetEmaAvgFn"/>'s.</returns>
    public static Func<Tensor, Tensor, long, Tensor> GetSwaAvgFn() =>
        (averaged, current, numAveraged) => Average(averaged, current, avg => Averaging.Swa(avg, current.Data, numAveraged + 1));

    /// <summary>
    /// Recomputes the running statistics of every batch norm in <paramref name="model"/> with one pass over the
    /// loader's inputs (<c>update_bn(loader, model)</c>), for weights that were averaged rather than trained. If the
    /// model has no <see cref="BatchNorm"/>, nothing happens. Otherwise each one's statistics are reset
    /// (<see cref="BatchNorm.ResetRunningStats"/>) and its <see cref="BatchNorm.Momentum"/> set to null, so that the pass
    /// gives the cumulative average over all batches; the model runs in training mode over the first element of each
    /// batch, without recording a graph; then the momenta are restored and <c>model.Train(wasTraining)</c> restores the
    /// mode (every module then has the model's former mode, as in PyTorch).
    /// </summary>
    /// <param name="loader">The batches, as <see cref="DataLoader"/> yields them; only the inputs are used.</param>
    /// <param name="model">The model: an <see cref="AveragedModel"/>, or any module.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The loader yields a null input.</exception>
    /// <remarks>If the loader or the model throws during the pass, the statistics, momenta and training modes are put back
    /// as they were before the call, and the exception propagates.</remarks>
    public static void UpdateBn(IEnumerable<(Tensor X, Tensor Y)> loader, Module model)
    {
        ArgumentNullException.ThrowIfNull(loader);
        UpdateBn(loader.Select(batch => batch.X), model);
    }

    /// <summary>
    /// Recomputes the running statistics of every batch norm in <paramref name="model"/> with one pass over the inputs
    /// (<c>update_bn(loader, model)</c> with a loader of bare tensors); see
    /// <see cref="UpdateBn(IEnumerable{ValueTuple{Tensor, Tensor}}, Module)"/>.
    /// </summary>
    /// <param name="loader">The input batches.</param>
    /// <param name="model">The model.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The loader yields a null input.</exception>
    public static void UpdateBn(IEnumerable<Tensor> loader, Module model)
    {
        ArgumentNullException.ThrowIfNull(loader);
        ArgumentNullException.ThrowIfNull(model);
        var modules = model.NamedModules().Select(m => m.Module).ToList();
        var norms = modules.OfType<BatchNorm>().ToList();
        if (norms.Count == 0) return;
        var modes = modules.Select(m => m.Training).ToArray();
        var momenta = norms.Select(bn => bn.Momentum).ToArray();
        var stats = norms.Select(bn => bn.Buffers().Select(b => (float[])b.Data.Clone()).ToArray()).ToArray();
        bool wasTraining = model.Training;
        try
        {
            foreach (var bn in norms) bn.ResetRunningStats();
            model.Train();
            foreach (var bn in norms) bn.Momentum = null;
            using (Tensor.NoGrad())
                foreach (var input in loader)
                {
                    if (input is null) throw new ArgumentException("The loader yielded a null input.", nameof(loader));
                    model.Forward(input);
                }
        }
        catch
        {
            for (int i = 0; i < norms.Count; i++)
            {
                norms[i].Momentum = momenta[i];
                int j = 0;
                foreach (var b in norms[i].Buffers()) stats[i][j++].CopyTo(b.Data, 0);
            }
            // parents first, so that each module's own call comes after its parent's
            for (int i = 0; i < modules.Count; i++) modules[i].Train(modes[i]);
            throw;
        }
        for (int i = 0; i < norms.Count; i++) norms[i].Momentum = momenta[i];
        model.Train(wasTraining);
    }

    private static double CheckDecay(double decay) =>
        decay is >= 0 and <= 1 ? decay
        : throw new ArgumentOutOfRangeException(nameof(decay), decay, $"Invalid decay value {decay} provided. Please provide a value in [0, 1].");

    /// <summary>A new tensor holding <paramref name="averaged"/>'s values after <paramref name="rule"/> ran over them.</summary>
    private static Tensor Average(Tensor averaged, Tensor current, Action<float[]> rule)
    {
        ArgumentNullException.ThrowIfNull(averaged);
        ArgumentNullException.ThrowIfNull(current);
        if (!averaged.Shape.SequenceEqual(current.Shape))
            throw new ArgumentException(
                $"The current tensor's shape {Shapes.Format(current.ShapeArray)} differs from the averaged one's, {Shapes.Format(averaged.ShapeArray)}.", nameof(current));
        var values = (float[])averaged.Data.Clone();
        rule(values);
        return Tensor.Wrap(values, (int[])averaged.ShapeArray.Clone());
    }

    /// <summary>The multi-tensor functions of <see cref="GetEmaMultiAvgFn"/> (a decay) and <see cref="GetSwaMultiAvgFn"/> (none).</summary>
    internal sealed class MultiAverage(double? decay)
    {
        public void Apply(IReadOnlyList<Tensor> averaged, IReadOnlyList<Tensor> current, long numAveraged)
        {
            ArgumentNullException.ThrowIfNull(averaged);
            ArgumentNullException.ThrowIfNull(current);
            if (averaged.Count != current.Count)
                throw new ArgumentException($"There are {averaged.Count} averaged tensors but {current.Count} current ones.", nameof(current));
            for (int i = 0; i < averaged.Count; i++)
            {
                if (averaged[i] is null) throw new ArgumentException($"Averaged tensor {i} is null.", nameof(averaged));
                if (current[i] is null) throw new ArgumentException($"Current tensor {i} is null.", nameof(current));
                if (averaged[i].Numel != current[i].Numel)
                    throw new ArgumentException(
                        $"Current tensor {i} has shape {Shapes.Format(current[i].ShapeArray)}, the averaged one {Shapes.Format(averaged[i].ShapeArray)}.", nameof(current));
            }
            if (averaged.Count == 0) return;
            // PyTorch branches on the first tensor's dtype: the tensors of one call are of one dtype
            bool integral = averaged[0].IsIntegral;
            for (int i = 0; i < averaged.Count; i++)
            {
                var avg = averaged[i].Data.AsSpan();
                var x = current[i].Data;
                if (!integral) Averaging.Lerp(avg, x, decay is { } d ? (float)(1 - d) : 1f / (numAveraged + 1));
                else
                {
                    if (decay is { } d2) Averaging.Ema(avg, x, d2);
                    else Averaging.Swa(avg, x, numAveraged + 1);
                    Averaging.Truncate(avg);
                }
            }
        }
    }
}
