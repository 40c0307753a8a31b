using System.Diagnostics;
using Optim.CSharp;
using Optim.NN;

namespace OptimDemo;

/// <summary>What one training run produced.</summary>
/// <param name="Name">The run's name.</param>
/// <param name="Setup">Its hyperparameters and batching, in words (batches are of 64 unless it says otherwise).</param>
/// <param name="EpochLoss">The mean training loss of each epoch.</param>
/// <param name="EpochAccuracy">The test accuracy after each epoch.</param>
/// <param name="EpochSeconds">The wall-clock time of each epoch's training (evaluation excluded).</param>
/// <param name="BatchLoss">The loss of every (micro-)batch, in order.</param>
/// <param name="Lrs">The learning rate of each optimizer step.</param>
internal sealed record RunResult(string Name, string Setup, double[] EpochLoss, double[] EpochAccuracy, double[] EpochSeconds,
                                 double[] BatchLoss, double[] Lrs)
{
    /// <summary>The test accuracy after the last epoch.</summary>
    public double FinalAccuracy => EpochAccuracy[^1];

    /// <summary>The last epoch's mean training loss.</summary>
    public double FinalLoss => EpochLoss[^1];

    /// <summary>The mean time of an epoch.</summary>
    public double SecondsPerEpoch => EpochSeconds.Average();
}

/// <summary>
/// The seeds' training loop — <c>optimizer.ZeroGrad(); loss = criterion(model(x), y); loss.Backward();
/// optimizer.Step()</c> — on Fashion-MNIST, an MLP 784-128-10, with several optimizers from the same start.
/// </summary>
internal static class Training
{
    /// <summary>One run's recipe: its name, its setup in words, and how to build its optimizer and optional scheduler.</summary>
    internal sealed record Recipe(
        string Name, string Setup, int BatchSize, int AccumulationSteps,
        Func<IEnumerable<Parameter>, Optimizer> MakeOptimizer,
        Func<Optimizer, int, LRScheduler?> MakeScheduler)
    {
        /// <summary>The model, from a generator; by default the MLP 784-128-10.</summary>
        public Func<Random, Module> MakeModel { get; init; } = Mlp;
    }

    /// <summary>The MLP 784-128-10 the Fashion-MNIST runs train.</summary>
    public static Module Mlp(Random rng) => new Sequential(new Linear(784, 128, random: rng), new ReLU(), new Linear(128, 10, random: rng));

    /// <summary>The runs the demo compares; the scheduler's length comes from <paramref name="epochs"/> and the loader.</summary>
    public static IReadOnlyList<Recipe> Recipes(int epochs) =>
    [
        new("SGD", "lr 0.1", 64, 1, ps => new SGD(ps, lr: 0.1), (_, _) => null),
        new("SGD, momentum", "lr 0.01, momentum 0.9", 64, 1, ps => new SGD(ps, lr: 0.01, momentum: 0.9), (_, _) => null),
        new("Adam", "lr 1e-3", 64, 1, ps => new Adam(ps, lr: 1e-3), (_, _) => null),
        new("AdamW", "lr 1e-3, weight decay 1e-2", 64, 1, ps => new AdamW(ps, lr: 1e-3, weightDecay: 1e-2), (_, _) => null),
        new("SGD + OneCycleLR", "Nesterov 0.9, max lr 0.1, per batch", 64, 1,
            ps => new SGD(ps, lr: 0.01, momentum: 0.9, nesterov: true),
            (o, stepsPerEpoch) => new OneCycleLR(o, 0.1, epochs: epochs, stepsPerEpoch: stepsPerEpoch)),
        new("Adam, accumulated", "lr 1e-3, 4 batches of 16 per step", 16, 4, ps => new Adam(ps, lr: 1e-3), (_, _) => null),
    ];

    /// <summary>Trains every recipe for <paramref name="epochs"/> epochs, showing each run's progress.</summary>
    public static IReadOnlyList<RunResult> RunAll(DemoConsole console, TensorDataset train, TensorDataset test, IReadOnlyList<Recipe> recipes,
                                                int epochs, int seed)
    {
        var results = new RunResult[recipes.Count];
        console.Progress(recipes.Select(r => r.Name).ToList(), (i, start) => results[i] = Run(train, test, recipes[i], epochs, seed, start,
                                                                               warmUpSeconds: i == 0 ? FirstWarmUpSeconds : 0));
        return results;
    }

    /// <summary>
    /// One run: a fresh model from <paramref name="seed"/> (every run starts from the same weights), shuffled batches
    /// from the same seed, the recipe's optimizer, and with more than one accumulation step the seeds' loop:
    /// <c>loss.Backward()</c> on each micro-batch and <c>Step()</c> every <c>accumulationSteps</c> of them.
    /// <paramref name="start"/> gets the number of batches and returns what counts one done.
    /// </summary>
    private static RunResult Run(TensorDataset train, TensorDataset test, Recipe recipe, int epochs, int seed, Func<int, Action> start,
                                 double warmUpSeconds)
    {
        WarmUp(train, recipe, warmUpSeconds);
        var model = recipe.MakeModel(new Random(seed));
        var criterion = new CrossEntropyLoss();
        var optimizer = recipe.MakeOptimizer(model.Parameters());
        var loader = new DataLoader(train, batchSize: recipe.BatchSize, shuffle: true, seed: seed);
        int stepsPerEpoch = loader.Count / recipe.AccumulationSteps;
        var scheduler = recipe.MakeScheduler(optimizer, stepsPerEpoch);
        var (losses, accuracies, seconds) = (new double[epochs], new double[epochs], new double[epochs]);
        var (batchLoss, lrs) = (new List<double>(), new List<double>());
        var tick = start(epochs * loader.Count);
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            model.Train();
            var clock = Stopwatch.StartNew();
            double sum = 0;
            int batches = 0, micro = 0;
            // The seeds' loop. With k accumulation steps the gradients of k micro-batches add up in Parameter.Grad
            // before each Step(); the loss is divided by k so that they add up to the gradient of their mean, as one
            // batch k times the size would give. With k = 1 it is the plain zero_grad / backward / step loop.
            optimizer.ZeroGrad();
            foreach (var (x, y) in loader)
            {
                var loss = criterion.Forward(model.Forward(x), y);
                batchLoss.Add(loss.Item());
                sum += batchLoss[^1];
                batches++;
                (loss / recipe.AccumulationSteps).Backward();
                if (++micro % recipe.AccumulationSteps == 0)
                {
                    lrs.Add(optimizer.ParamGroups[0].Lr);
                    optimizer.Step();
                    optimizer.ZeroGrad();
                    scheduler?.Step();
                }
                tick();
            }
            seconds[epoch] = clock.Elapsed.TotalSeconds;
            losses[epoch] = sum / batches;
            accuracies[epoch] = Accuracy(model, test);
        }
        return new RunResult(recipe.Name, recipe.Setup, losses, accuracies, seconds, batchLoss.ToArray(), lrs.ToArray());
    }

    /// <summary>
    /// Trains a throwaway copy of the recipe's model and optimizer (its own generator, an unshuffled loader) for
    /// <see cref="WarmUpSteps"/> optimizer steps and at least <paramref name="seconds"/>, so that the runtime has
    /// compiled, and recompiled optimized, the forward, backward and step code before the timed epochs. The first run
    /// warms up longer (<see cref="FirstWarmUpSeconds"/>): the runtime's tiered, profile-guided recompilation of the
    /// code all runs share goes on for about a second of training, and without it whichever run came first (plain SGD)
    /// looked slower in every epoch than the same run placed later. The runs' results do not change: each starts from
    /// its own seed.
    /// </summary>
    private static void WarmUp(TensorDataset train, Recipe recipe, double seconds)
    {
        var model = recipe.MakeModel(new Random(12345));
        var criterion = new CrossEntropyLoss();
        var optimizer = recipe.MakeOptimizer(model.Parameters());
        var scheduler = recipe.MakeScheduler(optimizer, WarmUpSteps);
        var clock = Stopwatch.StartNew();
        int micro = 0, steps = 0;
        while (steps < WarmUpSteps || clock.Elapsed.TotalSeconds < seconds)
            foreach (var (x, y) in new DataLoader(train, batchSize: recipe.BatchSize))
            {
                (criterion.Forward(model.Forward(x), y) / recipe.AccumulationSteps).Backward();
                if (++micro % recipe.AccumulationSteps != 0) continue;
                optimizer.Step();
                optimizer.ZeroGrad();
                // The scheduler's schedule has WarmUpSteps steps; after them the warm-up goes on at its last rate.
                if (++steps < WarmUpSteps) scheduler?.Step();
                if (steps >= WarmUpSteps && clock.Elapsed.TotalSeconds >= seconds) break;
            }
    }

    /// <summary>The optimizer steps of a warm-up: past the 30 calls after which the runtime recompiles a method optimized.</summary>
    private const int WarmUpSteps = 40;

    /// <summary>The first run's warm-up, in seconds of training.</summary>
    private const double FirstWarmUpSeconds = 1.5;

    /// <summary>The fraction of test images whose largest logit is at their label, evaluated without recording a graph.</summary>
    public static double Accuracy(Module model, TensorDataset test)
    {
        model.Eval();
        using var _ = Tensor.NoGrad();
        double correct = 0;
        foreach (var (x, y) in new DataLoader(test, batchSize: 1000))
            correct += model.Forward(x).ArgMax(1).Eq(y).Sum().Item();
        return correct / test.Count;
    }
}
