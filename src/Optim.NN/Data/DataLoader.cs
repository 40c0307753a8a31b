using System.Collections;

namespace Optim.NN;

/// <summary>
/// Mini-batches over a <see cref="TensorDataset"/> (<c>torch.utils.data.DataLoader</c>): each enumeration is one
/// epoch that yields every sample exactly once, as <c>(x, y)</c> batches of <c>batchSize</c> rows (the last one
/// smaller unless <c>dropLast</c>). With <c>shuffle</c>, every epoch draws a new order from a generator seeded once,
/// so the sequence of epochs is the same for the same seed.
/// </summary>
/// <example><code>foreach (var (x, y) in new DataLoader(train, batchSize: 64, shuffle: true, seed: 0)) { ... }</code></example>
public sealed class DataLoader : IEnumerable<(Tensor X, Tensor Y)>
{
    private readonly TensorDataset _dataset;
    private readonly Random? _random;
    private readonly int _batchSize;
    private readonly bool _dropLast;

    /// <summary>A loader over a dataset.</summary>
    /// <param name="dataset">The samples.</param>
    /// <param name="batchSize">Samples per batch, 1 or more.</param>
    /// <param name="shuffle">Visit the samples in a new random order every epoch; otherwise in order.</param>
    /// <param name="seed">The seed of the shuffling generator; null: a random seed.</param>
    /// <param name="dropLast">Drop the last batch of an epoch when it is smaller than <paramref name="batchSize"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="dataset"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="batchSize"/> is below 1.</exception>
    public DataLoader(TensorDataset dataset, int batchSize = 1, bool shuffle = false, int? seed = null, bool dropLast = false)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (batchSize < 1) throw new ArgumentException($"batchSize must be 1 or more, but is {batchSize}.", nameof(batchSize));
        _dataset = dataset;
        _batchSize = batchSize;
        _dropLast = dropLast;
        if (shuffle) _random = seed is { } s ? new Random(s) : new Random();
    }

    /// <summary>The number of batches per epoch (<c>len(loader)</c>).</summary>
    public int Count => _dropLast ? _dataset.Count / _batchSize : (_dataset.Count + _batchSize - 1) / _batchSize;

    /// <summary>One epoch of batches. Each batch is a fresh copy of its samples' rows.</summary>
    public IEnumerator<(Tensor X, Tensor Y)> GetEnumerator()
    {
        int n = _dataset.Count;
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
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
            yield return (Gather(_dataset.Inputs, rows), Gather(_dataset.Targets, rows));
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The given rows of a tensor, as a new tensor.</summary>
    private static Tensor Gather(Tensor source, int[] rows)
    {
        int width = source.Rank == 2 ? source.Shape[1] : 1;
        var data = GC.AllocateUninitializedArray<float>(rows.Length * width);
        for (int i = 0; i < rows.Length; i++)
            source.Data.AsSpan(rows[i] * width, width).CopyTo(data.AsSpan(i * width, width));
        return source.Rank == 2 ? new Tensor(data, rows.Length, width) : new Tensor(data, rows.Length);
    }
}
