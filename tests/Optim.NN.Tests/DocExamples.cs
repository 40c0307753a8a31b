using Optim.CSharp;
using Optim.NN;

namespace Optim.NN.Tests;

/// <summary>The C# examples of src/Optim.NN/README.md, compiled and run (the repository's doc test checks they are here, line for line).</summary>
public sealed class DocExamples : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("optim-nn-doc-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ThePackageReadmesTrainingLoopsRunAndLearn()
    {
        string directory = "/usr/share/datasets/fashion-mnist";
        directory = IdxFiles.TinyFashionMnist(_dir);   // the test trains on a small generated stand-in
        var data = FashionMnist.Load(directory);
        var rng = new Random(0);
        var model = new Sequential(new Linear(784, 128, random: rng), new ReLU(), new Linear(128, 10, random: rng));
        var criterion = new CrossEntropyLoss();
        var optimizer = new Adam(model.Parameters(), lr: 1e-3);
        var loader = new DataLoader(data.Train, batchSize: 64, shuffle: true, seed: 0);

        for (int epoch = 0; epoch < 5; epoch++)
        {
            foreach (var (x, y) in loader)
            {
                optimizer.ZeroGrad();
                var loss = criterion.Forward(model.Forward(x), y);
                loss.Backward();
                optimizer.Step();
            }
        }

        int accumulationSteps = 4, seen = 0;
        optimizer.ZeroGrad();
        foreach (var (x, y) in loader)
        {
            var loss = criterion.Forward(model.Forward(x), y);
            loss.Backward();
            if (++seen % accumulationSteps == 0)
            {
                optimizer.Step();
                optimizer.ZeroGrad();
            }
        }

        var w = new Tensor(new float[] { 1f, -2f }) { RequiresGrad = true };
        var y2 = (w * w).Sum();
        y2.Backward();               // w.Grad is [2, -4]
        using (Tensor.NoGrad())
        {
            var logits = model.Forward(data.TestImages);
            Assert.False(logits.RequiresGrad);
            int correct = Enumerable.Range(0, data.TestLabels.Length).Count(i =>
            {
                var row = logits.Data.AsSpan(i * 10, 10);
                return row.IndexOf(System.Numerics.Tensors.TensorPrimitives.Max(row)) == data.TestLabels[i];
            });
            Assert.True(correct >= 90, $"{correct} of 100 test images right");
        }
        Assert.Equal([2f, -4f], w.Grad!);
    }
}
