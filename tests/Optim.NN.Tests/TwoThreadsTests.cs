using Optim.Kernels;

namespace Optim.NN.Tests;

/// <summary>The two-thread runner runs each half exactly once, whoever ends up running it.</summary>
public class TwoThreadsTests
{
    private sealed class Counting : TwoPartJob
    {
        public readonly int[] Runs = new int[2];

        public override void Run(int part)
        {
            // half 0 is sometimes instant, sometimes slow, so the worker both takes half 1 and misses it
            if (part == 0 && Runs.GetHashCode() % 3 == 0) Thread.SpinWait(2000);
            Interlocked.Increment(ref Runs[part]);
        }
    }

    [Fact]
    public void EachHalfRunsExactlyOnceWhetherTheWorkerTakesItOrTheCallerTakesItBack()
    {
        for (int i = 0; i < 5000; i++)
        {
            var job = new Counting();
            TwoThreads.Run(job);
            Assert.Equal([1, 1], job.Runs);
        }
    }

    [Fact]
    public void AnExceptionInTheWorkersHalfReachesTheCaller()
    {
        var e = Assert.ThrowsAny<Exception>(() =>
        {
            for (int i = 0; i < 200; i++) TwoThreads.Run(new Throwing());
        });
        Assert.Contains("half 1", e.Message);
    }

    private sealed class Throwing : TwoPartJob
    {
        public override void Run(int part)
        {
            if (part == 1) throw new InvalidOperationException("half 1");
        }
    }
}
