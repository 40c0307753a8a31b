namespace Optim.CSharp.Tests;

/// <summary>How the tests check that a step allocates nothing.</summary>
internal static class Allocation
{
    /// <summary>
    /// Warms <paramref name="step"/> up past tiered compilation (whose bookkeeping allocates on the calling thread when a
    /// method's call count is reached), then runs it <paramref name="count"/> times, measuring each call on this thread,
    /// and asserts that all but at most one allocated nothing. A step that allocates does so on every call; a garbage
    /// collection that another test's thread starts in the middle of a call can move this thread's counter by a few bytes
    /// to a few kilobytes once (its allocation context is retired), which is not the step's.
    /// </summary>
    public static void AssertStepAllocatesNothing(Action step, int count = 10, int warmup = 300)
    {
        for (int i = 0; i < warmup; i++) step();
        var bytes = new long[count];
        for (int i = 0; i < count; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            step();
            bytes[i] = GC.GetAllocatedBytesForCurrentThread() - before;
        }
        int allocating = bytes.Count(b => b != 0);
        Assert.True(allocating <= 1, $"{allocating} of {count} steps allocated: {string.Join(", ", bytes)} bytes.");
    }
}
