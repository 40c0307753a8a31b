using System.Diagnostics;
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

public class InProcessCollectiveTests
{
    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (var (name, _) in Collectives.All) foreach (int n in new[] { 1, 2, 3, 4 }) data.Add(name, n);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TheCollectiveHoldsAtEverySize(string collective, int ranks)
    {
        var body = Collectives.All.Single(c => c.Name == collective).Body;
        var ranksSeen = InProcessCommunicator.Run(ranks, comm => { body(comm); return (comm.Rank, comm.Size); });
        Assert.Equal(Enumerable.Range(0, ranks).Select(r => (r, ranks)), ranksSeen);
    }

    [Fact]
    public void SumsAreInRankOrderAndTheSameBitsOnEveryRank()
    {
        // 1e8 + 1 + (-1e8) is 0 in rank order (1e8 + 1 rounds to 1e8), and 1 in any order that adds the big ones first
        float[] contributions = [1e8f, 1f, -1e8f];
        var results = InProcessCommunicator.Run(3, comm => { var x = new[] { contributions[comm.Rank] }; comm.AllReduce(x); return x[0]; });
        Assert.All(results, r => Assert.Equal(0f, r));
    }

    [Fact]
    public void ARankThatThrowsFailsTheOthersWithinTheTimeout()
    {
        var watch = Stopwatch.StartNew();
        var e = Assert.Throws<AggregateException>(() => InProcessCommunicator.Run(4, comm =>
        {
            comm.Barrier();
            if (comm.Rank == 2) throw new InvalidOperationException("rank 2 ran out of data");
            var x = new float[8];
            comm.AllReduce(x);
            return 0;
        }, TimeSpan.FromSeconds(30)));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
        Assert.Equal(4, e.InnerExceptions.Count);
        Assert.IsType<InvalidOperationException>(e.InnerExceptions[0]);
        foreach (var other in e.InnerExceptions.Skip(1))
        {
            var c = Assert.IsType<CommunicatorException>(other);
            Assert.Contains("Rank 2 failed: rank 2 ran out of data", c.Message);
        }
    }

    [Fact]
    public void ARankThatNeverArrivesFailsTheOthersAtTheTimeout()
    {
        var comms = InProcessCommunicator.Create(3, TimeSpan.FromMilliseconds(300));
        var watch = Stopwatch.StartNew();
        var errors = new Exception?[2];
        var threads = Enumerable.Range(0, 2).Select(r => new Thread(() =>
        {
            try { comms[r].Barrier(); } catch (Exception e) { errors[r] = e; }
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) Assert.True(t.Join(TimeSpan.FromSeconds(10)));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5));
        Assert.Contains(errors, e => e is CommunicatorException c && c.Message.Contains("Ranks 2 did not reach"));
        Assert.All(errors, e => Assert.IsType<CommunicatorException>(e));
    }

    [Fact]
    public void ADisposedRankFailsAPendingCollective()
    {
        var comms = InProcessCommunicator.Create(2, TimeSpan.FromSeconds(30));
        Exception? error = null;
        var t = new Thread(() => { try { comms[0].AllReduce(new float[3]); } catch (Exception e) { error = e; } });
        t.Start();
        Thread.Sleep(50);
        comms[1].Dispose();
        Assert.True(t.Join(TimeSpan.FromSeconds(5)));
        Assert.Contains("Rank 1 left the group", Assert.IsType<CommunicatorException>(error).Message);
        Assert.Throws<CommunicatorException>(() => comms[0].Barrier());
        Assert.Throws<ObjectDisposedException>(() => comms[1].Barrier());
    }

    [Fact]
    public void RanksThatDisagreeOnALengthFailNamingIt()
    {
        var e = Assert.Throws<AggregateException>(() => InProcessCommunicator.Run(2, comm => { comm.AllReduce(new float[comm.Rank + 1]); return 0; }));
        Assert.All(e.InnerExceptions, x => Assert.Contains("rank 1 called AllReduce with 2 elements", x.Message));
    }

    [Fact]
    public void BadArgumentsNameTheArgument()
    {
        var comms = InProcessCommunicator.Create(2);
        Assert.Equal("size", Assert.Throws<ArgumentOutOfRangeException>(() => InProcessCommunicator.Create(0)).ParamName);
        Assert.Equal("root", Assert.Throws<ArgumentOutOfRangeException>(() => comms[0].Broadcast(new float[1], 2)).ParamName);
        Assert.Equal("receive", Assert.Throws<ArgumentException>(() => comms[0].AllGather(new float[2], new float[3])).ParamName);
        Assert.Equal("send", Assert.Throws<ArgumentException>(() => comms[0].ReduceScatter(new float[3], new float[2])).ParamName);
        Assert.Equal("buffer", Assert.Throws<ArgumentNullException>(() => comms[0].AllReduce((float[])null!)).ParamName);
    }
}
