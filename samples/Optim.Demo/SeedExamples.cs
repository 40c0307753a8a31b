using System.Globalization;
using Optim.CSharp;
using Optim.NN;
using Spectre.Console;

namespace OptimDemo;

/// <summary>The seeds' small examples, run through the C# facade the way the blog posts run them in PyTorch.</summary>
internal static class SeedExamples
{
    /// <summary>One run of seed 002's descent on y = 4x² = (2x)² from x = 2: x and the loss before each step, and x after the last.</summary>
    internal sealed record Descent(string Label, float[] X, float[] Loss, float FinalX);

    /// <summary>
    /// Seed 002: <c>y = torch.pow(2*x, 2)</c> from <c>x = 2</c>, 20 iterations of SGD, at several learning rates and
    /// with momentum. With lr = 0.125 the first step lands on the minimum; lr = 0.2 overshoots and oscillates;
    /// 0.01 crawls, 0.03 is faster, and momentum 0.9 at 0.01 gets near the minimum first, then rebounds.
    /// </summary>
    public static IReadOnlyList<Descent> QuadraticDescent(int iterations = 20)
    {
        var configs = new (double Lr, double Momentum)[] { (0.2, 0), (0.125, 0), (0.01, 0), (0.03, 0), (0.01, 0.9) };
        var runs = new List<Descent>();
        foreach (var (lr, momentum) in configs)
        {
            var x = new Parameter([2f]) { Name = "x" };
            var optimizer = new SGD([x], lr: lr, momentum: momentum);
            var xs = new float[iterations];
            var losses = new float[iterations];
            for (int i = 0; i < iterations; i++)
            {
                optimizer.ZeroGrad();
                var y = (2f * Tensor.FromParameter(x)).Pow(2);   // y = torch.pow(2*x, 2)
                y.Backward();                                     // x.Grad = dy/dx = 8x
                xs[i] = x.Data[0];
                losses[i] = y.Item();
                optimizer.Step();
            }
            string label = "lr=" + Num(lr) + (momentum > 0 ? $", momentum={Num(momentum)}" : "");
            runs.Add(new Descent(label, xs, losses, x.Data[0]));
        }
        return runs;
    }

    /// <summary>Prints the descent runs as one table: the loss at each iteration, one column per run, and the final x.</summary>
    public static void ShowDescent(IAnsiConsole console, IReadOnlyList<Descent> runs)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .Title("[bold]SGD on y = 4x² from x = 2: the step size decides (loss before each step)[/]");
        table.AddColumn(new TableColumn("iter").RightAligned());
        foreach (var r in runs) table.AddColumn(new TableColumn(Markup.Escape(r.Label)).RightAligned());
        for (int i = 0; i < runs[0].Loss.Length; i++)
            table.AddRow(new[] { i.ToString(CultureInfo.InvariantCulture) }.Concat(runs.Select(r => G(r.Loss[i]))).ToArray());
        table.AddRow(new[] { "final x" }.Concat(runs.Select(r => G(r.FinalX))).ToArray());
        console.Write(table);
    }

    /// <summary>The per-epoch report of seed 003's linear regression.</summary>
    internal sealed record Regression(float[] EpochLoss, int Steps, float Weight, float Bias);

    /// <summary>
    /// Seed 003, line for line: fit y = 2x on x = 1…5 with <c>nn.Linear(1, 1)</c>, MSE, SGD lr = 0.01, mini-batches of
    /// 2 and gradients accumulated over 2 of them before each step (<c>accumulation_steps = 2</c>). As in the seed, the
    /// gradient is zeroed at the start of each epoch, so the last, unpaired batch's gradient never reaches a step.
    /// </summary>
    public static Regression LinearRegression(int epochs = 5, int batchSize = 2, int accumulationSteps = 2)
    {
        var xTrain = new Tensor(new float[,] { { 1 }, { 2 }, { 3 }, { 4 }, { 5 } });
        var yTrain = new Tensor(new float[,] { { 2 }, { 4 }, { 6 }, { 8 }, { 10 } });
        var model = new Linear(1, 1, random: new Random(0));
        var criterion = new MSELoss();
        var optimizer = new SGD(model.Parameters(), lr: 0.01);
        var epochLoss = new float[epochs];
        int steps = 0;
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            optimizer.ZeroGrad();
            Tensor? loss = null;
            for (int i = 0; i < xTrain.Shape[0]; i += batchSize)
            {
                var xBatch = xTrain[i..(i + batchSize)];
                var yBatch = yTrain[i..(i + batchSize)];
                var outputs = model.Forward(xBatch);
                loss = criterion.Forward(outputs, yBatch);
                loss.Backward();                                  // gradients add up in Parameter.Grad
                if ((i / batchSize + 1) % accumulationSteps == 0)
                {
                    optimizer.Step();
                    optimizer.ZeroGrad();
                    steps++;
                }
            }
            epochLoss[epoch] = loss!.Item();
        }
        return new Regression(epochLoss, steps, model.Weight.Data[0], model.Bias!.Data[0]);
    }

    /// <summary>Prints the regression as the seed does: the last batch's loss per epoch, then the parameters.</summary>
    public static void ShowRegression(IAnsiConsole console, Regression r)
    {
        console.Write(new Rule("[bold]Gradient accumulation: linear regression on y = 2x, batches of 2, a step every 2 batches[/]").LeftJustified());
        for (int e = 0; e < r.EpochLoss.Length; e++)
            console.WriteLine($"Epoch [{e + 1}/{r.EpochLoss.Length}], Loss: {r.EpochLoss[e].ToString("F4", CultureInfo.InvariantCulture)}");
        console.WriteLine($"Final Parameters: W: {r.Weight.ToString("F4", CultureInfo.InvariantCulture)}, b: {r.Bias.ToString("F4", CultureInfo.InvariantCulture)} ({r.Steps} optimizer steps)");
    }

    /// <summary>
    /// Seed 002's tour of the optimizer's attributes: param groups, <c>add_param_group</c> with its own lr, and
    /// <c>state_dict</c> / <c>load_state_dict</c>.
    /// </summary>
    public static void ParamGroupsAndStateDict(IAnsiConsole console)
    {
        console.Write(new Rule("[bold]The optimizer's param groups, add_param_group and its state_dict[/]").LeftJustified());
        var rng = new Random(0);
        float[] Randn(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var weight = new Parameter(Randn(4), 2, 2) { Name = "weight" };
        var optimizer = new SGD([weight], lr: 0.1, momentum: 0.9);
        weight.AccumulateGrad([1f, 1f, 1f, 1f]);
        optimizer.Step();
        var w2 = new Parameter(Randn(9), 3, 3) { Name = "w2" };
        optimizer.AddParamGroup(new ParamGroup([w2]) { Lr = 0.0001 });
        for (int g = 0; g < optimizer.ParamGroups.Count; g++)
        {
            var group = optimizer.ParamGroups[g];
            console.WriteLine($"group {g}: params [{string.Join(", ", group.Params.Select(p => p.Name))}], lr {Num(group.Lr)}, momentum {Num(group["momentum"])}");
        }
        string json = optimizer.StateDict().ToJson();
        var resumed = new SGD([new ParamGroup([new Parameter(new float[4], 2, 2) { Name = "weight" }])], lr: 0.1, momentum: 0.9);
        resumed.AddParamGroup(new ParamGroup([new Parameter(new float[9], 3, 3) { Name = "w2" }]));
        resumed.LoadStateDict(StateDict.FromJson(json));
        console.WriteLine($"state_dict: {json.Length} characters of JSON; loaded into a fresh SGD, group 1 lr = {Num(resumed.ParamGroups[1].Lr)}");
    }

    private static string Num(double x) => x.ToString(CultureInfo.InvariantCulture);

    private static string G(float x) => x.ToString("G5", CultureInfo.InvariantCulture);
}
