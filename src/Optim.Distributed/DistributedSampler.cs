using System.Collections;
using Optim.NN;

namespace Optim.Distributed;

/// <summary>
/// The indices of one rank's share of a dataset for each epoch (<c>torch.utils.data.distributed.DistributedSampler</c>),
/// to pass as a <see cref="DataLoader"/>'s sampler. As PyTorch's: with <c>shuffle</c>, an epoch's order is
/// <c>torch.randperm(n)</c> from a generator seeded <c>seed + epoch</c> (the same on every rank, and the same
/// indices as PyTorch's); it is padded to a multiple of the number of ranks by repeating its start (or, with
/// <c>dropLast</c>, cut to one), and rank r takes the indices at r, r + N, r + 2N, ... So the ranks' shares are
/// disjoint and of equal size, and together cover the dataset. Call <see cref="SetEpoch"/> at the start of every
/// epoch, or every epoch has the same order.
/// </summary>
/// <example><code>
/// var sampler = new DistributedSampler(train.Count, comm.Size, comm.Rank, shuffle: true, seed: 0);
/// var loader = new DataLoader(train, batchSize: 32, sampler: sampler);
/// for (int epoch = 0; epoch &lt; 3; epoch++)
/// {
///     sampler.SetEpoch(epoch);
///     foreach (var (x, y) in loader) { ... }
/// }
/// </code></example>
public sealed class DistributedSampler : IReadOnlyCollection<int>
{
    private readonly int _n;

    /// <summary>A sampler over <paramref name="datasetSize"/> samples for rank <paramref name="rank"/> of <paramref name="numReplicas"/>.</summary>
    /// <param name="datasetSize">The number of samples, 0 or more.</param>
    /// <param name="numReplicas">The number of ranks, 1 or more.</param>
    /// <param name="rank">This rank, 0 to <paramref name="numReplicas"/> − 1.</param>
    /// <param name="shuffle">A new order every epoch; otherwise 0, 1, 2, ...</param>
    /// <param name="seed">The shuffle's seed; the same on every rank.</param>
    /// <param name="dropLast">Drop the end of the order so that it divides evenly, instead of padding it.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range (named).</exception>
    public DistributedSampler(int datasetSize, int numReplicas, int rank, bool shuffle = true, long seed = 0, bool dropLast = false)
    {
        if (datasetSize < 0) throw new ArgumentOutOfRangeException(nameof(datasetSize), datasetSize, "The dataset size must be 0 or more.");
        if (numReplicas < 1) throw new ArgumentOutOfRangeException(nameof(numReplicas), numReplicas, "There must be 1 replica or more.");
        if (rank < 0 || rank >= numReplicas)
            throw new ArgumentOutOfRangeException(nameof(rank), rank, $"Invalid rank {rank}, rank should be in the interval [0, {numReplicas - 1}].");
        _n = datasetSize;
        NumReplicas = numReplicas;
        Rank = rank;
        Shuffle = shuffle;
        Seed = seed;
        DropLast = dropLast;
        Count = dropLast && datasetSize % numReplicas != 0
            ? (int)Math.Ceiling((datasetSize - numReplicas) / (double)numReplicas)
            : (datasetSize + numReplicas - 1) / numReplicas;
    }

    /// <summary>A sampler over <paramref name="dataset"/> for the communicator's rank among its ranks.</summary>
    /// <param name="dataset">The samples.</param>
    /// <param name="communicator">Gives the rank and the number of ranks.</param>
    /// <param name="shuffle">As in the other constructor.</param>
    /// <param name="seed">As in the other constructor.</param>
    /// <param name="dropLast">As in the other constructor.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public DistributedSampler(TensorDataset dataset, ICommunicator communicator, bool shuffle = true, long seed = 0, bool dropLast = false)
        : this((dataset ?? throw new ArgumentNullException(nameof(dataset))).Count,
               (communicator ?? throw new ArgumentNullException(nameof(communicator))).Size, communicator.Rank, shuffle, seed, dropLast) { }

    /// <summary>The number of ranks.</summary>
    public int NumReplicas { get; }

    /// <summary>This rank.</summary>
    public int Rank { get; }

    /// <summary>Whether each epoch has a new order.</summary>
    public bool Shuffle { get; }

    /// <summary>The shuffle's seed.</summary>
    public long Seed { get; }

    /// <summary>Whether the end of the order is dropped rather than padded.</summary>
    public bool DropLast { get; }

    /// <summary>The epoch whose order is drawn (<see cref="SetEpoch"/>).</summary>
    public int Epoch { get; private set; }

    /// <summary>This rank's number of indices per epoch (<c>len(sampler)</c>), the same on every rank.</summary>
    public int Count { get; }

    /// <summary>The number of indices of all ranks together: <see cref="Count"/> × <see cref="NumReplicas"/>.</summary>
    public int TotalSize => Count * NumReplicas;

    /// <summary>Sets the epoch, which seeds the next order with <c>seed + epoch</c> (<c>set_epoch</c>).</summary>
    /// <param name="epoch">The epoch.</param>
    public void SetEpoch(int epoch) => Epoch = epoch;

    /// <summary>This rank's indices for the current epoch.</summary>
    public IEnumerator<int> GetEnumerator()
    {
        var order = Shuffle ? RandPerm(_n, unchecked((ulong)(Seed + Epoch))) : Enumerable.Range(0, _n).ToArray();
        int total = TotalSize;
        for (int k = Rank; k < total; k += NumReplicas) yield return order[k % Math.Max(_n, 1)];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary><c>torch.randperm(n, generator=g)</c> on the CPU with <c>g.manual_seed(seed)</c> (PyTorch 1.13): a
    /// Fisher–Yates walk from the front, drawing 32-bit words of an MT19937 seeded with the low 32 bits of the seed.</summary>
    internal static int[] RandPerm(int n, ulong seed)
    {
        var r = new int[n];
        for (int i = 0; i < n; i++) r[i] = i;
        var mt = new MersenneTwister((uint)seed);
        for (int i = 0; i < n - 1; i++)
        {
            int z = (int)(mt.Next() % (uint)(n - i));
            (r[i], r[z + i]) = (r[z + i], r[i]);
        }
        return r;
    }

    /// <summary>MT19937, as <c>at::mt19937</c> (the reference generator with the reference seeding).</summary>
    private sealed class MersenneTwister
    {
        private readonly uint[] _s = new uint[624];
        private int _i = 624;

        public MersenneTwister(uint seed)
        {
            _s[0] = seed;
            for (uint i = 1; i < 624; i++) _s[i] = 1812433253u * (_s[i - 1] ^ (_s[i - 1] >> 30)) + i;
        }

        public uint Next()
        {
            if (_i >= 624)
            {
                for (int k = 0; k < 624; k++)
                {
                    uint y = (_s[k] & 0x80000000u) | (_s[(k + 1) % 624] & 0x7fffffffu);
                    _s[k] = _s[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1) != 0 ? 0x9908b0dfu : 0u);
                }
                _i = 0;
            }
            uint x = _s[_i++];
            x ^= x >> 11;
            x ^= (x << 7) & 0x9d2c5680u;
            x ^= (x << 15) & 0xefc60000u;
            x ^= x >> 18;
            return x;
        }
    }
}
