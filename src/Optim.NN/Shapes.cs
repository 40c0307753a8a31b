namespace Optim.NN;

/// <summary>Shape helpers for messages and checks.</summary>
internal static class Shapes
{
    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    /// <summary>The element count of a shape of rank 0 to 2, validated.</summary>
    public static int Numel(int[] shape, string paramName)
    {
        if (shape.Length > 2)
            throw new ArgumentException($"Tensors have rank 0, 1 or 2, but the shape is {Format(shape)}.", paramName);
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
