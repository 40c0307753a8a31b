using System.Runtime.CompilerServices;
using Optim.CSharp;
using Optim.NN;

namespace Optim.NN.Tests;

/// <summary>
/// A composed optimizer in the seeds' training loop: clip by global norm, Adam, decoupled weight decay, composed in C#,
/// train the demo's MLP (784-128-10) on the Fashion-MNIST sample under OneCycleLR, with a checkpoint round trip.
/// </summary>
public sealed class ComposedTrainingTests
{
    private static string SampleData([CallerFilePath] string path = "") =>
        Path.Combine(Path.GetDirectoryName(path)!, "..", "..", "data", "fashion-mnist-sample");

    private static readonly Lazy<FashionMnist> Data = new(() => FashionMnist.Load(SampleData()));

    private const int Steps = 120;

    private static Transformation Chain() => Transformation.Chain(
        Transformation.ClipByGlobalNorm(1.0),
        Transformation.ScaleByAdam(betas: (0.9, 0.999)),
        Transformation.ScaleByLearningRate(1e-3),
        Transformation.DecoupledWeightDecay(weightDecay: 1e-2, lr: 1e-3));

    private static Sequential Model() { var rng = new Random(0); return new Sequential(new Linear(784, 128, random: rng), new ReLU(), new Linear(128, 10, random: rng)); }

    /// <summary>Trains <paramref name="steps"/> batches; returns each batch's loss.</summary>
    private static List<float> Train(Sequential model, Optim.CSharp.Optimizer optimizer, LRScheduler scheduler, IEnumerator<(Tensor X, Tensor Y)> batches, int steps)
    {
        var criterion = new CrossEntropyLoss();
        var losses = new List<float>();
        for (int s = 0; s < steps; s++)
        {
            if (!batches.MoveNext()) throw new InvalidOperationException("the sample ran out of batches");
            var (x, y) = batches.Current;
            optimizer.ZeroGrad();
            var loss = criterion.Forward(model.Forward(x), y);
            loss.Backward();
            optimizer.Step();
            scheduler.Step();
            losses.Add(loss.Item());
        }
        return losses;
    }

    private static double Accuracy(Sequential model)
    {
        using var _ = Tensor.NoGrad();
        var data = Data.Value;
        var logits = model.Forward(data.TestImages);
        int classes = logits.Shape[1], correct = 0;
        for (int i = 0; i < logits.Shape[0]; i++)
        {
            int best = 0;
            for (int c = 1; c < classes; c++) if (logits.Data[i * classes + c] > logits.Data[i * classes + best]) best = c;
            if (best == data.TestLabels[i]) correct++;
        }
        return (double)correct / data.TestLabels.Length;
    }

    [Fact]
    public void TheComposedChainTrainsTheMlpUnderOneCycleLRAndACheckpointedRunEqualsTheUninterruptedOne()
    {
        var straight = Model();
        var opt = new ComposedOptimizer(straight.Parameters(), Chain());
        var sched = new OneCycleLR(opt, maxLr: 0.01, totalSteps: Steps);
        var losses = Train(straight, opt, sched, new DataLoader(Data.Value.Train, batchSize: 64, shuffle: true, seed: 0).GetEnumerator(), Steps);
        Assert.True(losses.Skip(Steps - 20).Average() < 0.6 * losses.Take(20).Average(), $"loss {losses.Take(20).Average()} -> {losses.Skip(Steps - 20).Average()}");
        Assert.True(Accuracy(straight) > 0.65, $"accuracy {Accuracy(straight)}");

        // the same run, stopped halfway: the optimizer's and the scheduler's state dicts to JSON, a fresh optimizer and
        // scheduler over the same parameters resumed from them
        var model = Model();
        var batches = new DataLoader(Data.Value.Train, batchSize: 64, shuffle: true, seed: 0).GetEnumerator();
        var first = new ComposedOptimizer(model.Parameters(), Chain());
        var firstSched = new OneCycleLR(first, maxLr: 0.01, totalSteps: Steps);
        Train(model, first, firstSched, batches, Steps / 2);
        string optimizerJson = first.StateDict().ToJson(), schedulerJson = firstSched.StateDict().ToJson();
        var second = new ComposedOptimizer(model.Parameters(), Chain());
        var secondSched = new OneCycleLR(second, maxLr: 0.01, totalSteps: Steps);
        second.LoadStateDict(StateDict.FromJson(optimizerJson));
        secondSched.LoadStateDict(SchedulerStateDict.FromJson(schedulerJson));
        Train(model, second, secondSched, batches, Steps - Steps / 2);

        var a = straight.Parameters().ToArray();
        var b = model.Parameters().ToArray();
        for (int i = 0; i < a.Length; i++) Assert.Equal(a[i].Data, b[i].Data);
    }
}
