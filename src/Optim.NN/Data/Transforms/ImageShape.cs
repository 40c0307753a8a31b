namespace Optim.NN.Transforms;

/// <summary>Reads a sample's shape as images: <c>[..., H, W]</c>, planes of H rows of W values.</summary>
internal static class ImageShape
{
    /// <summary>The planes, rows and columns of a sample of rank 2 (<c>[H, W]</c>) or 3 (<c>[C, H, W]</c>).</summary>
    public static (int Planes, int Height, int Width) Planes(ReadOnlySpan<int> shape, string transform)
    {
        if (shape.Length is < 2 or > 3)
            throw new ArgumentException(
                $"{transform} transforms images [C, H, W] or [H, W], but a sample has shape {Shapes.Format(shape)}.", nameof(shape));
        return (shape.Length == 3 ? shape[0] : 1, shape[^2], shape[^1]);
    }

    /// <summary>Checks the spans' lengths against the shapes (each is that shape's element count).</summary>
    public static void CheckLengths(int input, int inputCount, int output, int outputCount)
    {
        if (input != inputCount)
            throw new ArgumentException($"The input holds {input} values, but its shape {inputCount}.", nameof(input));
        if (output != outputCount)
            throw new ArgumentException($"The output holds {output} values, but the transformed shape {outputCount}.", nameof(output));
    }
}
