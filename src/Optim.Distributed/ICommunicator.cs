namespace Optim.Distributed;

/// <summary>
/// A group of <see cref="Size"/> ranks that run collectives together (<c>torch.distributed</c>'s process group).
/// Every rank must call the same collectives in the same order with buffers of the same length; the sums are
/// float32 and taken in rank order (rank 0 + rank 1 + ...) where the implementation allows it.
/// </summary>
public interface ICommunicator : IDisposable
{
    /// <summary>This rank's index, 0 to <see cref="Size"/> − 1.</summary>
    int Rank { get; }

    /// <summary>The number of ranks in the group.</summary>
    int Size { get; }

    /// <summary>Replaces <paramref name="buffer"/> on every rank by the element-wise sum of every rank's buffer.</summary>
    /// <param name="buffer">This rank's values; on return, the sum. Same length on every rank.</param>
    void AllReduce(float[] buffer);

    /// <inheritdoc cref="AllReduce(float[])"/>
    void AllReduce(Span<float> buffer);

    /// <summary>Concatenates every rank's <paramref name="send"/> in rank order into <paramref name="receive"/> on every rank.</summary>
    /// <param name="send">This rank's block; the same length on every rank.</param>
    /// <param name="receive">Size × send.Length elements: rank r's block at r × send.Length.</param>
    /// <exception cref="ArgumentException"><paramref name="receive"/> is not Size × send.Length long.</exception>
    void AllGather(ReadOnlySpan<float> send, Span<float> receive);

    /// <summary>Sums every rank's <paramref name="send"/> element-wise and gives rank r block r of the sum.</summary>
    /// <param name="send">Size × receive.Length elements.</param>
    /// <param name="receive">This rank's block of the sum.</param>
    /// <exception cref="ArgumentException"><paramref name="send"/> is not Size × receive.Length long.</exception>
    void ReduceScatter(ReadOnlySpan<float> send, Span<float> receive);

    /// <summary>Copies rank <paramref name="root"/>'s <paramref name="buffer"/> into every rank's.</summary>
    /// <param name="buffer">The values on the root; overwritten on the others. Same length on every rank.</param>
    /// <param name="root">The rank whose values are sent.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="root"/> is not a rank.</exception>
    void Broadcast(Span<float> buffer, int root = 0);

    /// <summary>Returns once every rank has called it.</summary>
    void Barrier();

    /// <summary>
    /// A zeroed buffer of <paramref name="length"/> float32 for this communicator's collectives to work in (as a
    /// registered buffer is for NCCL): an <see cref="MpiCommunicator"/> whose ranks share one machine gives shared
    /// memory, which its <see cref="AllReduce(Span{float})"/> sums in place, reading the other ranks' buffers directly
    /// instead of sending them; other communicators give a plain array. Every rank must call it together, with the same
    /// length; the buffer lives as long as the communicator. <see cref="DistributedDataParallel"/> keeps its gradient
    /// buckets in such buffers.
    /// </summary>
    /// <param name="length">The number of elements, 0 or more.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is negative.</exception>
    Memory<float> AllocateBuffer(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return new float[length];
    }
}

/// <summary>A collective could not complete: another rank failed, was disposed, disagreed, or did not arrive in time.</summary>
public sealed class CommunicatorException : Exception
{
    /// <summary>A failure with its message.</summary>
    /// <param name="message">What went wrong, naming the rank.</param>
    /// <param name="inner">The exception that caused it, or null.</param>
    public CommunicatorException(string message, Exception? inner = null) : base(message, inner) { }
}
