using Optim.Distributed;

namespace Optim.Distributed.Tests;

/// <summary>The collectives' contract, on any communicator: each test is a body every rank runs.</summary>
public static class Collectives
{
    /// <summary>Rank r's distinct values, so that a wrong rank or offset shows.</summary>
    public static float[] Values(int rank, int n) => Enumerable.Range(0, n).Select(i => rank * 1000f + i + 0.25f).ToArray();

    public static void AllReduceSums(ICommunicator comm)
    {
        foreach (int n in new[] { 0, 1, 7, 1000 })
        {
            var x = Values(comm.Rank, n);
            comm.AllReduce(x);
            for (int i = 0; i < n; i++)
            {
                float expected = 0f;
                for (int r = 0; r < comm.Size; r++) expected += Values(r, n)[i];
                if (x[i] != expected) throw new Exception($"AllReduce: rank {comm.Rank} element {i} is {x[i]}, expected {expected}.");
            }
            var s = Values(comm.Rank, n + 2);
            comm.AllReduce(s.AsSpan(1, n));
            if (s[0] != Values(comm.Rank, n + 2)[0] || s[n + 1] != Values(comm.Rank, n + 2)[n + 1])
                throw new Exception("AllReduce(Span) wrote outside its span.");
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
        ("AllReduce", AllReduceSums), ("AllGather", AllGatherConcatenates), ("ReduceScatter", ReduceScatterGivesEachRankItsBlock),
        ("Broadcast", BroadcastCopiesTheRoot), ("Barrier", BarrierReturns),
    ];
}
