namespace Optim.NN;

/// <summary>Shape helpers for messages and checks.</summary>
internal static class Shapes
{
    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    /// <summary>The highest rank a tensor may have (NCHW images).</summary>
    public const int MaxRank = 4;

    /// <summary>The element count of a shape of rank 0 to <see cref="MaxRank"/>, validated.</summary>
    public static int Numel(int[] shape, string paramName)
    {
        if (shape.Length > MaxRank)
            throw new ArgumentException($"Tensors have rank 0 to {MaxRank}, but the shape is {Format(shape)}.", paramName);
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"Every extent must be 0 or more, but the shape is {Format(shape)}.", paramName);
            n *= d;
        }
        if (n > Array.MaxLength) throw new ArgumentException($"The shape {Format(shape)} holds too many elements.", paramName);
        return (int)n;
    }
}
