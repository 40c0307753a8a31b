using System.Text.Json;
using Optim.CSharp;

namespace Optim.NN.Tests;

/// <summary>Model weights through checkpoint files: PyTorch's saved weights give PyTorch's outputs here, and a round trip keeps every value.</summary>
public sealed class ModelCheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("optim-model-ckpt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Sequential SmallCnn() => new(
        new Conv2d(1, 4, 3, padding: 1, random: new Random(9)), new BatchNorm2d(4), new ReLU(), new MaxPool2d(2), new Flatten(),
        new Linear(64, 3, random: new Random(9)));

    private static JsonElement Golden()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "golden", "model_weights.json")));
        return doc.RootElement.Clone();
    }

    private static Tensor Make(JsonElement t) =>
        new(t.GetProperty("data").EnumerateArray().Select(x => x.GetSingle()).ToArray(),
            t.GetProperty("shape").EnumerateArray().Select(x => x.GetInt32()).ToArray());

    [Fact]
    public void Weights_saved_by_PyTorch_give_PyTorchs_outputs_in_the_same_model_here()
    {
        var golden = Golden();
        var model = SmallCnn();
        var file = CheckpointFile.Load(Path.Combine(AppContext.BaseDirectory, "golden", "pt", "cnn_model.pt"));
        Assert.Equal(golden.GetProperty("keys").EnumerateArray().Select(k => k.GetString()), file.Model.Keys);
        Assert.Equal(file.Model.Keys, model.StateDict().Keys);
        file.LoadModel(model);
        model.Eval();
        using var _ = Tensor.NoGrad();
        var y = model.Forward(Make(golden.GetProperty("input")));
        var expected = Make(golden.GetProperty("output"));
        Assert.Equal(expected.Shape, y.Shape);
        for (int i = 0; i < y.Numel; i++)
            Assert.True(Math.Abs(y.Data[i] - expected.Data[i]) <= 1e-5 + 1e-4 * Math.Abs(expected.Data[i]), $"output[{i}]: {y.Data[i]}, PyTorch {expected.Data[i]}");
    }

    [Fact]
    public void A_model_saved_with_its_optimizer_and_loaded_into_a_fresh_one_holds_every_value_and_counter()
    {
        var model = SmallCnn();
        var optimizer = new Adam(model.Parameters(), lr: 1e-2);
        var x = new Tensor(Enumerable.Range(0, 2 * 64).Select(i => (float)Math.Sin(i)).ToArray(), 2, 1, 8, 8);
        for (int step = 0; step < 2; step++)
        {
            optimizer.ZeroGrad();
            model.Forward(x).Pow(2).Sum().Backward();
            optimizer.Step();
        }
        string path = Path.Combine(_dir, "ckpt.pt");
        var file = new CheckpointFile { Optimizer = optimizer.StateDict() };
        file.SetModel(model);
        file.Set("epoch", 7L);
        file.Save(path);
        Assert.Equal("int64", file.Model["1.num_batches_tracked"].DType);

        var loaded = CheckpointFile.Load(path);
        var fresh = SmallCnn();
        var freshOptimizer = new Adam(fresh.Parameters(), lr: 1e-2);
        loaded.LoadModel(fresh);
        freshOptimizer.LoadStateDict(loaded.OptimizerStateFor(freshOptimizer));
        foreach (var ((ka, a), (kb, b)) in model.StateDict().Zip(fresh.StateDict()))
        {
            Assert.Equal(ka, kb);
            Assert.Equal(a.Data, b.Data);
        }
        Assert.Equal(optimizer.StateDict().ToJson(), freshOptimizer.StateDict().ToJson());
        Assert.Equal(7L, loaded.GetInt64("epoch"));
    }

    [Fact]
    public void Weights_of_another_shape_are_refused_and_the_model_is_unchanged()
    {
        var file = new CheckpointFile();
        file.SetModel(SmallCnn());
        var other = new Sequential(new Conv2d(1, 4, 3, padding: 1, random: new Random(1)), new BatchNorm2d(4), new ReLU(), new MaxPool2d(2),
                                   new Flatten(), new Linear(64, 5, random: new Random(1)));
        var before = other.StateDict().Select(kv => kv.Value.Data.ToArray()).ToList();
        var e = Assert.Throws<ArgumentException>(() => file.LoadModel(other));
        Assert.Contains("5.weight", e.Message);
        Assert.Equal(before, other.StateDict().Select(kv => kv.Value.Data.ToArray()).ToList());
    }
}
