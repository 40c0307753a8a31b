using System.Diagnostics;
using Optim.CSharp;
using Optim.NN;
using Xunit.Abstractions;

namespace Optim.Gpu.Tests;

/// <summary>
/// The demo's MLP (784-128-10) trained on Fashion-MNIST with PyTorch's loop, its optimizer state on the device (ILGPU's
/// CPU accelerator here), against the same run on the CPU: the same loss curve and the same test accuracy.
/// </summary>
public sealed class MlpOnDeviceTests(ITestOutputHelper output)
{
    private static string Root()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (Directory.Exists(Path.Combine(dir.FullName, "data", "fashion-mnist-sample"))) return dir.FullName;
        throw new DirectoryNotFoundException("The repository's data/fashion-mnist-sample was not found above " + AppContext.BaseDirectory);
    }

    private static TensorDataset Take(TensorDataset d, int n) =>
        new(new Tensor(d.Inputs.Data.AsSpan(0, n * 784).ToArray(), n, 784), new Tensor(d.Targets.Data.AsSpan(0, n).ToArray(), n));

    private static (double Accuracy, double[] Losses, double Seconds) Train(TensorDataset train, TensorDataset test, Func<IEnumerable<Parameter>, Optimizer> make, Device device)
    {
        var rng = new Random(0);
        var model = new Sequential(new Linear(784, 128, random: rng), new ReLU(), new Linear(128, 10, random: rng));
        var optimizer = make(model.Parameters());
        optimizer.Device = device;
        var criterion = new CrossEntropyLoss();
        var losses = new List<double>();
        var clock = Stopwatch.StartNew();
        model.Train();
        foreach (var (x, y) in new DataLoader(train, batchSize: 64, shuffle: true, seed: 0))
        {
            optimizer.ZeroGrad();
            var loss = criterion.Forward(model.Forward(x), y);
            losses.Add(loss.Item());
            loss.Backward();
            optimizer.Step();
        }
        var seconds = clock.Elapsed.TotalSeconds;
        model.Eval();
        using var _ = Tensor.NoGrad();
        var correct = model.Forward(test.Inputs).ArgMax(1).Eq(test.Targets).Sum().Item();
        return (correct / test.Count, losses.ToArray(), seconds);
    }

    [Theory]
    [InlineData("Adam")]
    [InlineData("SGD, momentum")]
    public void The_demos_MLP_trains_with_its_optimizer_state_on_the_device_as_on_the_CPU(string which)
    {
        var data = FashionMnist.Load(Path.Combine(Root(), "data", "fashion-mnist-sample"));
        var train = Take(data.Train, 3200);
        var test = Take(data.Test, 1000);
        Func<IEnumerable<Parameter>, Optimizer> make = which == "Adam"
            ? ps => new Adam(ps, lr: 1e-3)
            : ps => new SGD(ps, lr: 0.01, momentum: 0.9);
        var cpu = Train(train, test, make, Device.Cpu);
        var dev = Train(train, test, make, DeviceSetup.Device);
        output.WriteLine($"{which}: CPU accuracy {cpu.Accuracy:P1} in {cpu.Seconds:F2} s, device accuracy {dev.Accuracy:P1} in {dev.Seconds:F2} s");
        Assert.True(cpu.Accuracy > 0.6, $"the CPU run learned too little: {cpu.Accuracy}");
        // within noise: one test image in a thousand either way (the device's step is the CPU's, so equal here)
        Assert.True(Math.Abs(cpu.Accuracy - dev.Accuracy) <= 0.001, $"CPU {cpu.Accuracy}, device {dev.Accuracy}");
        Assert.Equal(cpu.Losses.Length, dev.Losses.Length);
        for (int i = 0; i < cpu.Losses.Length; i++)
            Assert.True(Math.Abs(cpu.Losses[i] - dev.Losses[i]) <= 1e-4 + 1e-3 * Math.Abs(cpu.Losses[i]), $"batch {i}: CPU loss {cpu.Losses[i]}, device {dev.Losses[i]}");
    }
}
