using System.Numerics.Tensors;

namespace Optim.NN.Transforms;

/// <summary>
/// Normalises an image <c>[C, H, W]</c> per channel, <c>output[c] = (input[c] − mean[c]) / std[c]</c>
/// (<c>torchvision.transforms.Normalize</c>): float32 subtraction then float32 division, by the mean and standard
/// deviation rounded to float32, as PyTorch computes it. As in PyTorch, a mean or std of one value applies to
/// every channel.
/// </summary>
/// <example><code>var normalize = new Normalize([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]);   // CIFAR-10's statistics</code></example>
public sealed class Normalize : ITransform
{
    private readonly float[] _mean, _std;

    /// <summary>A normalisation by the given channel statistics.</summary>
    /// <param name="mean">The mean of each channel, or one mean for all; finite, also in float32.</param>
    /// <param name="std">The standard deviation of each channel, or one for all; positive and finite, also in float32.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A list is empty, a mean is not finite, a standard deviation is 0 (also
    /// after rounding to float32), negative or not finite, or the two lists have different lengths of more than one.</exception>
    public Normalize(double[] mean, double[] std)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(std);
        if (mean.Length == 0) throw new ArgumentException("mean needs one value per channel (or one for all), but is empty.", nameof(mean));
        if (std.Length == 0) throw new ArgumentException("std needs one value per channel (or one for all), but is empty.", nameof(std));
        for (int c = 0; c < mean.Length; c++)
            if (!float.IsFinite((float)mean[c])) throw new ArgumentException($"mean[{c}] must be finite (also in float32), but is {mean[c]}.", nameof(mean));
        for (int c = 0; c < std.Length; c++)
            if (!float.IsFinite((float)std[c]) || !((float)std[c] > 0))
                throw new ArgumentException($"std[{c}] must be positive and finite (also in float32), but is {std[c]}.", nameof(std));
        if (mean.Length > 1 && std.Length > 1 && mean.Length != std.Length)
            throw new ArgumentException($"mean has {mean.Length} values but std {std.Length}; both need one per channel (or one for all).", nameof(std));
        Mean = (double[])mean.Clone();
        Std = (double[])std.Clone();
        _mean = Array.ConvertAll(mean, m => (float)m);
        _std = Array.ConvertAll(std, s => (float)s);
    }

    /// <summary>The channel means (a copy of the constructor's).</summary>
    public IReadOnlyList<double> Mean { get; }

    /// <summary>The channel standard deviations (a copy of the constructor's).</summary>
    public IReadOnlyList<double> Std { get; }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The sample is not an image <c>[C, H, W]</c>, or C is not the number of
    /// means or standard deviations (unless that is 1).</exception>
    public int[] OutputShape(ReadOnlySpan<int> shape)
    {
        Channels(shape);
        return shape.ToArray();
    }

    /// <inheritdoc />
    public void Apply(ReadOnlySpan<float> input, ReadOnlySpan<int> shape, Span<float> output, Random random)
    {
        int channels = Channels(shape), plane = shape[1] * shape[2];
        ImageShape.CheckLengths(input.Length, channels * plane, output.Length, channels * plane);
        for (int c = 0; c < channels; c++)
        {
            var o = output.Slice(c * plane, plane);
            TensorPrimitives.Subtract(input.Slice(c * plane, plane), _mean[_mean.Length == 1 ? 0 : c], o);
            TensorPrimitives.Divide(o, _std[_std.Length == 1 ? 0 : c], o);
        }
    }

    private int Channels(ReadOnlySpan<int> shape)
    {
        if (shape.Length != 3)
            throw new ArgumentException($"Normalize transforms images [C, H, W], but a sample has shape {Shapes.Format(shape)}.", nameof(shape));
        int channels = shape[0];
        if (_mean.Length != 1 && _mean.Length != channels)
            throw new ArgumentException($"mean has {_mean.Length} values, but the images (shape {Shapes.Format(shape)}) have {channels} channels.", "mean");
        if (_std.Length != 1 && _std.Length != channels)
            throw new ArgumentException($"std has {_std.Length} values, but the images (shape {Shapes.Format(shape)}) have {channels} channels.", "std");
        return channels;
    }
}
