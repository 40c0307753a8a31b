using System.Buffers;

namespace Optim.NN.Transforms;

/// <summary>
/// Applies transforms one after the other (<c>torchvision.transforms.Compose</c>); with none, it copies the sample.
/// The intermediate samples live in pooled buffers, so composing allocates nothing per sample.
/// </summary>
/// <example><code>
/// var augment = new Compose(new RandomCrop(32, padding: 4), new RandomHorizontalFlip(),
///                           new Normalize([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]));
/// </code></example>
public sealed class Compose : ITransform
{
    private readonly ITransform[] _transforms;

    /// <summary>The shapes after each transform, for the last input shape seen (samples of a dataset share one).</summary>
    private sealed record Plan(int[] Input, int InputSize, int[][] After, int[] Sizes, int Scratch);

    private Plan? _plan;

    /// <summary>A composition, applied first to last.</summary>
    /// <param name="transforms">The transforms, none of them null.</param>
    /// <exception cref="ArgumentNullException"><paramref name="transforms"/> is null.</exception>
    /// <exception cref="ArgumentException">A transform is null.</exception>
    public Compose(params ITransform[] transforms)
    {
        ArgumentNullException.ThrowIfNull(transforms);
        int missing = Array.IndexOf(transforms, null);
        if (missing >= 0) throw new ArgumentException($"transforms[{missing}] is null.", nameof(transforms));
        _transforms = (ITransform[])transforms.Clone();
    }

    /// <summary>The transforms, in the order they apply.</summary>
    public IReadOnlyList<ITransform> Transforms => _transforms;

    /// <inheritdoc />
    /// <exception cref="ArgumentException">A transform does not fit the shape its predecessor gives.</exception>
    public int[] OutputShape(ReadOnlySpan<int> shape) => PlanFor(shape).After is { Length: > 0 } after ? (int[])after[^1].Clone() : shape.ToArray();

    /// <inheritdoc />
    public void Apply(ReadOnlySpan<float> input, ReadOnlySpan<int> shape, Span<float> output, Random random)
    {
        var plan = PlanFor(shape);
        int n = _transforms.Length;
        if (n == 0)
        {
            ImageShape.CheckLengths(input.Length, plan.InputSize, output.Length, plan.InputSize);
            input.CopyTo(output);
            return;
        }
        if (n == 1) { _transforms[0].Apply(input, shape, output, random); return; }
        // intermediates alternate between two scratch buffers, the last transform writes the output
        var a = ArrayPool<float>.Shared.Rent(plan.Scratch);
        var b = n > 2 ? ArrayPool<float>.Shared.Rent(plan.Scratch) : null;
        try
        {
            ReadOnlySpan<float> current = input;
            for (int k = 0; k < n; k++)
            {
                ReadOnlySpan<int> before = k == 0 ? shape : plan.After[k - 1];
                Span<float> target = k == n - 1 ? output : (k % 2 == 0 ? a : b!).AsSpan(0, plan.Sizes[k]);
                _transforms[k].Apply(current, before, target, random);
                current = target;
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(a);
            if (b is not null) ArrayPool<float>.Shared.Return(b);
        }
    }

    private Plan PlanFor(ReadOnlySpan<int> shape)
    {
        var plan = _plan;
        if (plan is not null && shape.SequenceEqual(plan.Input)) return plan;
        var after = new int[_transforms.Length][];
        var sizes = new int[_transforms.Length];
        int scratch = 0;
        ReadOnlySpan<int> current = shape;
        for (int k = 0; k < _transforms.Length; k++)
        {
            after[k] = _transforms[k].OutputShape(current);
            sizes[k] = Size(after[k]);
            if (k < _transforms.Length - 1) scratch = Math.Max(scratch, sizes[k]);
            current = after[k];
        }
        // a reference write is atomic: a loader on another thread sees the old plan or this one, both complete
        _plan = plan = new Plan(shape.ToArray(), Size(shape), after, sizes, scratch);
        return plan;
    }

    private static int Size(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (var d in shape) n *= d;
        if (n > Array.MaxLength) throw new ArgumentException($"A sample of shape {Shapes.Format(shape)} holds too many elements.", nameof(shape));
        return (int)n;
    }
}
