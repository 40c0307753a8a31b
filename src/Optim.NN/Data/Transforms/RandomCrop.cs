namespace Optim.NN.Transforms;

/// <summary>
/// Pads an image <c>[C, H, W]</c> (or <c>[H, W]</c>) with <c>padding</c> zeros on each side, then cuts out a
/// <c>size</c> window at a uniformly random place (<c>torchvision.transforms.RandomCrop(size, padding)</c> with
/// <c>fill=0</c>, <c>padding_mode="constant"</c>): the top row drawn from <c>0 … H + 2·padding − height</c>, then the
/// left column from <c>0 … W + 2·padding − width</c>.
/// </summary>
/// <example><code>var crop = new RandomCrop(32, padding: 4);   // CIFAR-10's usual augmentation</code></example>
public sealed class RandomCrop : ITransform
{
    /// <summary>A square random crop.</summary>
    /// <param name="size">The side of the window, 1 or more.</param>
    /// <param name="padding">The zeros added on each side before cropping, 0 or more.</param>
    /// <exception cref="ArgumentException"><paramref name="size"/> is below 1 or <paramref name="padding"/> is negative.</exception>
    public RandomCrop(int size, int padding = 0) : this((size, size), padding, nameof(size))
    {
    }

    /// <summary>A random crop of a height and width.</summary>
    /// <param name="size">The window's height and width, each 1 or more.</param>
    /// <param name="padding">The zeros added on each side before cropping, 0 or more.</param>
    /// <exception cref="ArgumentException">An extent of <paramref name="size"/> is below 1 or <paramref name="padding"/> is negative.</exception>
    public RandomCrop((int Height, int Width) size, int padding = 0) : this(size, padding, nameof(size))
    {
    }

    private RandomCrop((int Height, int Width) size, int padding, string sizeName)
    {
        if (size.Height < 1 || size.Width < 1)
            throw new ArgumentException($"size must be 1 or more, but is {(size.Height == size.Width ? size.Height : size)}.", sizeName);
        if (padding < 0) throw new ArgumentException($"padding must be 0 or more, but is {padding}.", nameof(padding));
        Size = size;
        Padding = padding;
    }

    /// <summary>The window's height and width.</summary>
    public (int Height, int Width) Size { get; }

    /// <summary>The zeros added on each side before cropping.</summary>
    public int Padding { get; }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The sample is not an image, or the window is larger than the padded image.</exception>
    public int[] OutputShape(ReadOnlySpan<int> shape)
    {
        Fit(shape);
        var result = shape.ToArray();
        result[^2] = Size.Height;
        result[^1] = Size.Width;
        return result;
    }

    /// <inheritdoc />
    public void Apply(ReadOnlySpan<float> input, ReadOnlySpan<int> shape, Span<float> output, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var (_, height, width) = Fit(shape);
        int top = random.Next(height + 2 * Padding - Size.Height + 1);
        int left = random.Next(width + 2 * Padding - Size.Width + 1);
        Crop(input, shape, output, top, left);
    }

    /// <summary>The window whose top-left corner is at (<paramref name="top"/>, <paramref name="left"/>) of the padded image.</summary>
    internal void Crop(ReadOnlySpan<float> input, ReadOnlySpan<int> shape, Span<float> output, int top, int left)
    {
        var (planes, height, width) = Fit(shape);
        var (h, w) = Size;
        ImageShape.CheckLengths(input.Length, planes * height * width, output.Length, planes * h * w);
        // the window's columns left..left+w of the padded image are source columns left-p .. left-p+w: zeros, then
        // the part inside the image, then zeros
        int first = left - Padding;
        int lead = Math.Clamp(-first, 0, w), inside = Math.Clamp(Math.Min(width, first + w) - Math.Max(first, 0), 0, w - lead);
        for (int c = 0; c < planes; c++)
            for (int y = 0; y < h; y++)
            {
                var row = output.Slice((c * h + y) * w, w);
                int source = top - Padding + y;
                if (source < 0 || source >= height || inside == 0) { row.Clear(); continue; }
                row[..lead].Clear();
                input.Slice((c * height + source) * width + Math.Max(first, 0), inside).CopyTo(row[lead..]);
                row[(lead + inside)..].Clear();
            }
    }

    private (int Planes, int Height, int Width) Fit(ReadOnlySpan<int> shape)
    {
        var image = ImageShape.Planes(shape, nameof(RandomCrop));
        long height = image.Height + 2L * Padding, width = image.Width + 2L * Padding;
        if (height > int.MaxValue || width > int.MaxValue)
            throw new ArgumentException($"padding {Padding} makes the padded image larger than an array holds.", "padding");
        if (Size.Height > height || Size.Width > width)
            throw new ArgumentException(
                $"RandomCrop's size {Size} is larger than the padded image {height}×{width} (samples of shape {Shapes.Format(shape)}, padding {Padding}).",
                "size");
        return image;
    }
}
