using Optim.CSharp;

namespace Optim.CSharp.Tests;

/// <summary>The C# example of docs/schedulers.md, compiled and run.</summary>
public class SchedulerDocExamples
{
    [Fact]
    public void TheSchedulersDocsCSharpExampleRuns()
    {
        var w = new Parameter(new float[] { 1f }) { Name = "weights" };
        var optimizer = new SGD(new[] { w }, lr: 0.1, momentum: 0.9);
        var scheduler = new StepLR(optimizer, stepSize: 50, gamma: 0.1);
        for (int epoch = 0; epoch < 200; epoch++)
        {
            for (int i = 0; i < 10; i++)
            {
                optimizer.ZeroGrad();
                w.AccumulateGrad(new[] { 2 * w.Data[0] });   // backward of (w - 0)²
                optimizer.Step();
            }
            scheduler.Step();                               // after optimizer.Step(), once per epoch
        }
        double last = scheduler.GetLastLr()[0];              // 0.1 · 0.1⁴ = 1e-5 after 200 epochs

        // Warmup then cosine, as PyTorch composes them; a plateau scheduler reports to a TextWriter of your choice.
        var warm = new SequentialLR(optimizer,
            new LRScheduler[] { new LinearLR(optimizer, startFactor: 0.1, totalIters: 10), new CosineAnnealingLR(optimizer, tMax: 90) },
            milestones: new[] { 10 });
        var plateau = new ReduceLROnPlateau(new SGD(new[] { new Parameter(new float[1]) }, lr: 0.1),
                                            patience: 10, cooldown: 10, minLr: 1e-4, verbose: true, log: Console.Out);
        plateau.Step(0.5);                                  // one epoch's validation loss

        // Checkpoints: a scheduler's state is JSON too.
        string json = scheduler.StateDict().ToJson();
        scheduler.LoadStateDict(SchedulerStateDict.FromJson(json));

        Assert.Equal(1e-5, last, 12);
        Assert.True(Math.Abs(w.Data[0]) < 1e-3f);
        Assert.Equal(0, warm.LastEpoch);
        Assert.Equal(json, scheduler.StateDict().ToJson());
        Assert.Equal(1, plateau.LastEpoch);
    }
}
