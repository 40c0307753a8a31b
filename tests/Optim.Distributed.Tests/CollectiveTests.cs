using System.Diagnostics;
using Optim.Distributed;

namespace Optim.Distributed.Tests;

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
