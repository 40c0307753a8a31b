using System.Text.Json;

using static Optim.NN.Tests.Golden;

namespace Optim.NN.Tests;

/// <summary>
/// AveragedModel, the averaging functions and UpdateBn against PyTorch 2.x's swa_utils (transcribed in torch 1.13 ops),
/// from tests/golden/swa.json (generate_swa.py).
/// </summary>
public class SwaGoldenTests
{
    private static readonly JsonElement Fixture = Cases("swa.json");

    public static IEnumerable<object[]> Named(string prefix) =>
        Fixture.EnumerateObject().Where(c => c.Name.StartsWith(prefix, StringComparison.Ordinal)).Select(c => new object[] { c.Name });

    public static IEnumerable<object[]> AveragingCases() => Named("avg_");

    public static IEnumerable<object[]> UpdateBnCases() => Named("bn_");

    /// <summary>The fixture's architectures (generate_swa.py's build()), with the constructor arguments PyTorch's have.</summary>
    internal static Module Build(string name) => name switch
    {
        "mlp" => new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 3)),
        "cnn" => new Sequential(new Conv2d(2, 4, 3, padding: 1), new BatchNorm2d(4), new ReLU(), new MaxPool2d(2), new Flatten(), new Linear(16, 3)),
        "cnn_bn1d" => new Sequential(new Conv2d(2, 4, 3, padding: 1), new BatchNorm2d(4, momentum: 0.3), new ReLU(), new MaxPool2d(2), new Flatten(),
                                     new BatchNorm1d(16, momentum: null), new Linear(16, 3)),
        "mlp_bn1d" => new Sequential(new Linear(5, 6), new BatchNorm1d(6), new ReLU(), new Linear(6, 3)),
        "swa_cnn" => new AveragedModel(Build("cnn")),
        _ => throw new ArgumentException(name),
    };

    private static Dictionary<string, Tensor> State(JsonElement state) =>
        state.EnumerateObject().ToDictionary(kv => kv.Name, kv => Make(kv.Value), StringComparer.Ordinal);

    private static bool IsCounter(string key) => key.EndsWith("num_batches_tracked", StringComparison.Ordinal) || key == "n_averaged";

    /// <summary>The module's state dict against PyTorch's: the same keys in the same order, values within tolerance, counters exactly.</summary>
    private static void SameState(JsonElement expected, Module module, string what)
    {
        var actual = module.StateDict();
        Assert.Equal(expected.EnumerateObject().Select(kv => kv.Name), actual.Keys);
        foreach (var kv in expected.EnumerateObject())
        {
            if (IsCounter(kv.Name)) Assert.True(Data(kv.Value)[0] == actual[kv.Name].Item(), $"{what} {kv.Name}: {actual[kv.Name].Item()}, PyTorch {Data(kv.Value)[0]}");
            else Close(kv.Value, actual[kv.Name], $"{what} {kv.Name}");
        }
    }

    [Theory]
    [MemberData(nameof(AveragingCases))]
    public void AveragedModelGivesPyTorchsAverageAfterEveryUpdate(string name)
    {
        var c = Fixture.GetProperty(name);
        var model = Build(c.GetProperty("model").GetString()!);
        model.LoadStateDict(State(c.GetProperty("initial")));
        double decay = c.TryGetProperty("decay", out var d) ? d.GetDouble() : double.NaN;
        var averaging = c.GetProperty("averaging").GetString();
        var swa = averaging switch
        {
            "default" => new AveragedModel(model, useBuffers: c.GetProperty("use_buffers").GetBoolean()),
            "swa_avg_fn" => new AveragedModel(model, avgFn: SwaUtils.GetSwaAvgFn(), useBuffers: c.GetProperty("use_buffers").GetBoolean()),
            "ema_avg_fn" => new AveragedModel(model, avgFn: SwaUtils.GetEmaAvgFn(decay), useBuffers: c.GetProperty("use_buffers").GetBoolean()),
            "ema_multi_avg_fn" => new AveragedModel(model, multiAvgFn: SwaUtils.GetEmaMultiAvgFn(decay), useBuffers: c.GetProperty("use_buffers").GetBoolean()),
            "swa_multi_avg_fn" => new AveragedModel(model, multiAvgFn: SwaUtils.GetSwaMultiAvgFn(), useBuffers: c.GetProperty("use_buffers").GetBoolean()),
            _ => throw new ArgumentException(averaging),
        };
        int step = 0;
        foreach (var s in c.GetProperty("steps").EnumerateArray())
        {
            model.LoadStateDict(State(s.GetProperty("model")));
            swa.UpdateParameters(model);
            SameState(s.GetProperty("averaged"), swa, $"{name} update {step++}");
        }
        Assert.Equal(8, step);
        swa.Eval();
        using var _ = Tensor.NoGrad();
        Close(c.GetProperty("probe_output"), swa.Forward(Make(c.GetProperty("probe_input"))), $"{name} output");
    }

    [Theory]
    [MemberData(nameof(UpdateBnCases))]
    public void UpdateBnGivesPyTorchsRunningStatisticsAndOutputs(string name)
    {
        var c = Fixture.GetProperty(name);
        var model = Build(c.GetProperty("model").GetString()!);
        model.LoadStateDict(State(c.GetProperty("state")));
        bool training = c.GetProperty("training").GetBoolean();
        model.Train(training);
        var momenta = c.GetProperty("momenta").EnumerateArray().Select(m => m.ValueKind == JsonValueKind.Null ? (double?)null : m.GetDouble()).ToList();
        var norms = model.NamedModules().Select(m => m.Module).OfType<BatchNorm>().ToList();
        Assert.Equal(momenta, norms.Select(bn => bn.Momentum));
        var batches = c.GetProperty("batches").EnumerateArray().Select(b => Make(b)).ToList();
        if (c.GetProperty("tuples").GetBoolean()) SwaUtils.UpdateBn(batches.Select(x => (x, Tensor.Zeros(x.Shape[0]))), model);
        else SwaUtils.UpdateBn(batches, model);
        SameState(c.GetProperty("after"), model, name);
        Assert.Equal(training, model.Training);
        Assert.Equal(momenta, norms.Select(bn => bn.Momentum));
        model.Eval();
        using var _ = Tensor.NoGrad();
        Close(c.GetProperty("probe_output"), model.Forward(Make(c.GetProperty("probe_input"))), $"{name} output");
    }

    [Fact]
    public void EveryCaseOfTheFixtureRuns()
    {
        Assert.Equal(14, AveragingCases().Count());
        Assert.Equal(4, UpdateBnCases().Count());
    }
}
