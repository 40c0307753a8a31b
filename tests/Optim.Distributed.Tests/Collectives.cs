using Optim.Distributed;

namespace Optim.Distributed.Tests;

/// <summary>The collectives' contract, on any communicator: each test is a body every rank runs.</summary>
public static class Collectives
{
    /// <summary>Rank r's distinct values, so that a wrong rank or offset shows.</summary>
    public static float[] Values(int rank, int n) => Enumerable.Range(0, n).Select(i => rank * 1000f + i + 0.25f).ToArray();

    public static void AllReduceSums(ICommunicator comm)
    {
        // 70,000 and 70,001 are past MpiCommunicator's ring threshold, split into chunks of equal and unequal lengths
        foreach (int n in new[] { 0, 1, 7, 1000, 70_000, 70_001 })
        {
            var x = Values(comm.Rank, n);
            comm.AllReduce(x);
            var all = Enumerable.Range(0, comm.Size).Select(r => Values(r, n)).ToArray();
            for (int i = 0; i < n; i++)
            {
                float expected = 0f;
                for (int r = 0; r < comm.Size; r++) expected += all[r][i];
                if (x[i] != expected) throw new Exception($"AllReduce: rank {comm.Rank} element {i} is {x[i]}, expected {expected}.");
            }
            var s = Values(comm.Rank, n + 2);
            comm.AllReduce(s.AsSpan(1, n));
            if (s[0] != Values(comm.Rank, n + 2)[0] || s[n + 1] != Values(comm.Rank, n + 2)[n + 1])
                throw new Exception("AllReduce(Span) wrote outside its span.");
        }
    }

    /// <summary>Rank r's values whose float32 sum depends on the order it is taken in.</summary>
    public static float[] Inexact(int rank, int n) => Enumerable.Range(0, n).Select(i => (float)(Math.Sin(rank * 7.1 + i) * Math.Pow(10, (i + rank) % 9))).ToArray();

    public static void AllReduceInAnAllocatedBufferSumsInRankOrder(ICommunicator comm)
    {
        foreach (int n in new[] { 0, 1, 7, 70_001 })
        {
            var buffer = comm.AllocateBuffer(n + 2);
            if (buffer.Length != n + 2 || buffer.Span.IndexOfAnyExcept(0f) >= 0) throw new Exception($"AllocateBuffer({n + 2}) is not {n + 2} zeros.");
            buffer.Span[0] = -1f;
            buffer.Span[n + 1] = -2f;
            Inexact(comm.Rank, n).CopyTo(buffer.Span[1..]);
            comm.AllReduce(buffer.Span.Slice(1, n));
            var all = Enumerable.Range(0, comm.Size).Select(r => Inexact(r, n)).ToArray();
            for (int i = 0; i < n; i++)
            {
                float expected = all[0][i];
                for (int r = 1; r < comm.Size; r++) expected += all[r][i];
                if (BitConverter.SingleToInt32Bits(buffer.Span[1 + i]) != BitConverter.SingleToInt32Bits(expected))
                    throw new Exception($"AllReduce in an allocated buffer: rank {comm.Rank} element {i} is {buffer.Span[1 + i]:R}, rank order gives {expected:R}.");
            }
            if (buffer.Span[0] != -1f || buffer.Span[n + 1] != -2f) throw new Exception("AllReduce in an allocated buffer wrote outside its span.");
        }
    }

    public static void AllGatherConcatenates(ICommunicator comm)
    {
        const int n = 5;
        var recv = new float[n * comm.Size];
        comm.AllGather(Values(comm.Rank, n), recv);
        for (int r = 0; r < comm.Size; r++)
            for (int i = 0; i < n; i++)
                if (recv[r * n + i] != Values(r, n)[i]) throw new Exception($"AllGather: block {r} element {i} is {recv[r * n + i]}.");
    }

    public static void ReduceScatterGivesEachRankItsBlock(ICommunicator comm)
    {
        const int n = 3;
        var send = Values(comm.Rank, n * comm.Size);
        var recv = new float[n];
        comm.ReduceScatter(send, recv);
        for (int i = 0; i < n; i++)
        {
            float expected = 0f;
            for (int r = 0; r < comm.Size; r++) expected += Values(r, n * comm.Size)[comm.Rank * n + i];
            if (recv[i] != expected) throw new Exception($"ReduceScatter: rank {comm.Rank} element {i} is {recv[i]}, expected {expected}.");
        }
    }

    public static void BroadcastCopiesTheRoot(ICommunicator comm)
    {
        for (int root = 0; root < comm.Size; root++)
        {
            var x = Values(comm.Rank, 4);
            comm.Broadcast(x, root);
            if (!x.SequenceEqual(Values(root, 4))) throw new Exception($"Broadcast from {root}: rank {comm.Rank} has [{string.Join(", ", x)}].");
        }
    }

    public static void BarrierReturns(ICommunicator comm)
    {
        for (int i = 0; i < 3; i++) comm.Barrier();
    }

    public static readonly (string Name, Action<ICommunicator> Body)[] All =
    [
        ("AllReduce", AllReduceSums), ("AllReduce in an allocated buffer", AllReduceInAnAllocatedBufferSumsInRankOrder), ("AllGather", AllGatherConcatenates), ("ReduceScatter", ReduceScatterGivesEachRankItsBlock),
        ("Broadcast", BroadcastCopiesTheRoot), ("Barrier", BarrierReturns),
    ];
}
