using System.Collections;
using Optim.NN.Transforms;

namespace Optim.NN;

/// <summary>
/// Mini-batches over a <see cref="TensorDataset"/> (<c>torch.utils.data.DataLoader</c>): each enumeration is one
/// epoch that yields every sample exactly once, as <c>(x, y)</c> batches of <c>batchSize</c> samples stacked along a
/// new first dimension (of inputs <c>[N, C, H, W]</c>, batches <c>[batchSize, C, H, W]</c>; the last one smaller
/// unless <c>dropLast</c>). With <c>shuffle</c>, every epoch draws a new order from a generator seeded once, so the
/// sequence of epochs is the same for the same seed. A <c>transform</c> (augmentation, normalisation) is applied to
/// each input sample as its batch is made.
/// </summary>
/// <example><code>
/// foreach (var (x, y) in new DataLoader(train, batchSize: 64, shuffle: true, seed: 0)) { ... }
///
/// var augment = new Compose(new RandomCrop(32, padding: 4), new RandomHorizontalFlip());
/// foreach (var (x, y) in new DataLoader(cifar.Train, batchSize: 128, shuffle: true, seed: 0, transform: augment)) { ... }
/// </code></example>
public sealed class DataLoader : IEnumerable<(Tensor X, Tensor Y)>
{
    private readonly TensorDataset _dataset;
    private readonly Random? _random;
    private readonly int _batchSize;
    private readonly bool _dropLast;
    private readonly ITransform? _transform;
    private readonly Random? _transformRandom;
    private readonly int[] _sampleShape, _transformedShape;
    private readonly IReadOnlyCollection<int>? _sampler;

    /// <summary>A loader over a dataset.</summary>
    /// <param name="dataset">The samples.</param>
    /// <param name="batchSize">Samples per batch, 1 or more.</param>
    /// <param name="shuffle">Visit the samples in a new random order every epoch; otherwise in order.</param>
    /// <param name="seed">The seed of the shuffling generator and of the transform's; null: random seeds.</param>
    /// <param name="dropLast">Drop the last batch of an epoch when it is smaller than <paramref name="batchSize"/>.</param>
    /// <param name="transform">Applied to every input sample (the targets are kept as they are) each time its batch
    /// is made, in the order of the batch; null: none. Its random choices come from a generator of its own, seeded
    /// from <paramref name="seed"/> and drawn on from epoch to epoch as the shuffling's is, so the same seed repeats
    /// both the order and the augmentation of every epoch, and a transform does not change the order.</param>
    /// <param name="sampler">The indices of the samples to visit, in order, enumerated afresh every epoch (PyTorch's
    /// <c>sampler</c>, such as Optim.Distributed's <c>DistributedSampler</c>); null: every sample, in order or
    /// shuffled. Not with <paramref name="shuffle"/>: the sampler decides the order.</param>
    /// <exception cref="ArgumentNullException"><paramref name="dataset"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="batchSize"/> is below 1, or the transform does not fit the
    /// dataset's samples (from its <see cref="ITransform.OutputShape"/>, naming the transform's argument), or makes
    /// samples of rank above 3, or <paramref name="sampler"/> is given with <paramref name="shuffle"/> (PyTorch: sampler
    /// option is mutually exclusive with shuffle).</exception>
    public DataLoader(TensorDataset dataset, int batchSize = 1, bool shuffle = false, int? seed = null, bool dropLast = false,
        ITransform? transform = null, IReadOnlyCollection<int>? sampler = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (batchSize < 1) throw new ArgumentException($"batchSize must be 1 or more, but is {batchSize}.", nameof(batchSize));
        if (sampler is not null && shuffle)
            throw new ArgumentException("A sampler is mutually exclusive with shuffle: the sampler decides the order.", nameof(sampler));
        _sampler = sampler;
        _sampleShape = dataset.Inputs.ShapeArray[1..];
        _transformedShape = _sampleShape;
        if (transform is not null)
        {
            _transformedShape = transform.OutputShape(_sampleShape);
            if (_transformedShape.Length >= Shapes.MaxRank)
                throw new ArgumentException(
                    $"The transform makes samples of shape {Shapes.Format(_transformedShape)}, but a batch of them would have rank above {Shapes.MaxRank}.",
                    nameof(transform));
            Shapes.Numel([1, .. _transformedShape], nameof(transform));
            // a stream apart from the shuffling's, so that the order is the same with or without a transform
            _transformRandom = seed is { } t ? new Random(unchecked(t ^ (int)0x9E3779B9)) : new Random();
        }
        _dataset = dataset;
        _batchSize = batchSize;
        _dropLast = dropLast;
        _transform = transform;
        if (shuffle) _random = seed is { } s ? new Random(s) : new Random();
    }

    /// <summary>The number of batches per epoch (<c>len(loader)</c>).</summary>
    public int Count => _dropLast ? Samples / _batchSize : (Samples + _batchSize - 1) / _batchSize;

    /// <summary>The samples per epoch: the dataset's, or the sampler's count.</summary>
    private int Samples => _sampler?.Count ?? _dataset.Count;

    /// <summary>One epoch of batches. Each batch is a fresh copy of its samples (transformed, with a transform).</summary>
    /// <exception cref="InvalidOperationException">The sampler gave an index outside the dataset, or not as many
    /// indices as its count.</exception>
    public IEnumerator<(Tensor X, Tensor Y)> GetEnumerator()
    {
        int n = Samples;
        var order = _sampler is null ? new int[n] : _sampler.ToArray();
        if (_sampler is null) for (int i = 0; i < n; i++) order[i] = i;
        else
        {
            if (order.Length != n)
                throw new InvalidOperationException($"The sampler's count is {n}, but it gave {order.Length} indices.");
            foreach (var i in order)
                if (i < 0 || i >= _dataset.Count)
                    throw new InvalidOperationException($"The sampler gave index {i}, outside the dataset's {_dataset.Count} samples.");
        }
        if (_random is { } r)
            // Fisher–Yates
            for (int i = n - 1; i > 0; i--)
            {
                int j = r.Next(i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }
        int batches = Count;
        for (int b = 0; b < batches; b++)
        {
            int start = b * _batchSize, size = Math.Min(_batchSize, n - start);
            var rows = order.AsSpan(start, size).ToArray();
            var x = _transform is null ? Gather(_dataset.Inputs, rows) : Transformed(rows);
            yield return (x, Gather(_dataset.Targets, rows));
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The given samples (first-dimension slices) of a tensor, stacked as a new tensor.</summary>
    private static Tensor Gather(Tensor source, int[] rows)
    {
        var shape = source.ShapeArray;
        int width = 1;
        for (int d = 1; d < shape.Length; d++) width *= shape[d];
        var data = GC.AllocateUninitializedArray<float>(rows.Length * width);
        for (int i = 0; i < rows.Length; i++)
            source.Data.AsSpan(rows[i] * width, width).CopyTo(data.AsSpan(i * width, width));
        var batchShape = (int[])shape.Clone();
        batchShape[0] = rows.Length;
        return new Tensor(data, batchShape);
    }

    /// <summary>The given input samples, each transformed into its place in the batch.</summary>
    private Tensor Transformed(int[] rows)
    {
        int width = 1, outWidth = 1;
        foreach (var d in _sampleShape) width *= d;
        foreach (var d in _transformedShape) outWidth *= d;
        var data = GC.AllocateUninitializedArray<float>(rows.Length * outWidth);
        var source = _dataset.Inputs.Data;
        for (int i = 0; i < rows.Length; i++)
            _transform!.Apply(source.AsSpan(rows[i] * width, width), _sampleShape, data.AsSpan(i * outWidth, outWidth), _transformRandom!);
        return new Tensor(data, [rows.Length, .. _transformedShape]);
    }
}
