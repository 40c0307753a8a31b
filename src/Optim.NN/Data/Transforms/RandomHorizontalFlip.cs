namespace Optim.NN.Transforms;

/// <summary>
/// Mirrors an image <c>[C, H, W]</c> (or <c>[H, W]</c>) left to right with probability <c>p</c>, otherwise copies it
/// (<c>torchvision.transforms.RandomHorizontalFlip(p)</c>): it draws one uniform number per sample and flips when
/// that is below <c>p</c>, so <c>p = 0</c> never flips and <c>p = 1</c> always does.
/// </summary>
/// <example><code>var flip = new RandomHorizontalFlip();   // p = 0.5</code></example>
public sealed class RandomHorizontalFlip : ITransform
{
    /// <summary>A random horizontal flip.</summary>
    /// <param name="p">The probability of flipping a sample, in [0, 1].</param>
    /// <exception cref="ArgumentException"><paramref name="p"/> is outside [0, 1] or NaN.</exception>
    public RandomHorizontalFlip(double p = 0.5)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentException($"p must be in [0, 1], but is {p}.", nameof(p));
        P = p;
    }

    /// <summary>The probability of flipping a sample.</summary>
    public double P { get; }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The sample is not an image.</exception>
    public int[] OutputShape(ReadOnlySpan<int> shape)
    {
        ImageShape.Planes(shape, nameof(RandomHorizontalFlip));
        return shape.ToArray();
    }

    /// <inheritdoc />
    public void Apply(ReadOnlySpan<float> input, ReadOnlySpan<int> shape, Span<float> output, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var (planes, height, width) = ImageShape.Planes(shape, nameof(RandomHorizontalFlip));
        ImageShape.CheckLengths(input.Length, planes * height * width, output.Length, planes * height * width);
        input.CopyTo(output);
        if (random.NextDouble() < P)
            for (int row = 0; row < planes * height; row++) output.Slice(row * width, width).Reverse();
    }
}
