using System.Text.Json;
using Optim.CSharp;

using static Optim.NN.Tests.Golden;

namespace Optim.NN.Tests;

/// <summary>BatchNorm1d/2d against PyTorch 1.13, from tests/golden/modules.json (generate_modules.py).</summary>
public class BatchNormGoldenTests
{
    internal static readonly JsonElement Cases = Golden.Cases("modules.json");

    /// <summary>The spec's parity tolerance: 1e-5 + 1e-4·|expected| per element.</summary>
    private static void Close(JsonElement expected, ReadOnlySpan<float> actual, string what)
    {
        var e = Data(expected);
        Assert.True(e.Length == actual.Length, $"{what}: {actual.Length} elements, PyTorch has {e.Length}");
        for (int i = 0; i < e.Length; i++)
            Assert.True(float.IsFinite(actual[i]) && Math.Abs(actual[i] - e[i]) <= 1e-5 + 1e-4 * Math.Abs(e[i]),
                $"{what}[{i}]: {actual[i]}, PyTorch {e[i]}");
    }

    public static IEnumerable<object[]> BatchNormCases() =>
        Cases.EnumerateObject().Where(c => c.Name.StartsWith("bn", StringComparison.Ordinal)).Select(c => new object[] { c.Name });

    private static Module Build(JsonElement c)
    {
        var args = c.GetProperty("args");
        int features = args.GetProperty("num_features").GetInt32();
        double eps = args.TryGetProperty("eps", out var e) ? e.GetDouble() : 1e-5;
        double? momentum = !args.TryGetProperty("momentum", out var m) ? 0.1 : m.ValueKind == JsonValueKind.Null ? null : m.GetDouble();
        bool affine = !args.TryGetProperty("affine", out var a) || a.GetBoolean();
        bool track = !args.TryGetProperty("track_running_stats", out var t) || t.GetBoolean();
        return c.GetProperty("layer").GetString() == "BatchNorm2d"
            ? new BatchNorm2d(features, eps, momentum, affine, track)
            : new BatchNorm1d(features, eps, momentum, affine, track);
    }

    [Theory]
    [MemberData(nameof(BatchNormCases))]
    public void BatchNormGivesPyTorchsOutputGradientsAndRunningStatisticsAtEveryStep(string name)
    {
        var c = Cases.GetProperty(name);
        var layer = Build(c);
        var parameters = layer.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        var buffers = layer.NamedBuffers().ToDictionary(b => b.Name, b => b.Buffer);
        if (c.TryGetProperty("weight", out var w0))
        {
            Data(w0).CopyTo(parameters["weight"].Data, 0);
            Data(c.GetProperty("bias")).CopyTo(parameters["bias"].Data, 0);
        }
        else Assert.Empty(parameters);
        if (c.TryGetProperty("running_mean", out var rm0))
        {
            Data(rm0).CopyTo(buffers["running_mean"].Data, 0);
            Data(c.GetProperty("running_var")).CopyTo(buffers["running_var"].Data, 0);
        }
        else Assert.Empty(buffers);
        int step = 0;
        foreach (var s in c.GetProperty("steps").EnumerateArray())
        {
            string at = $"{name} step {step++}";
            layer.Train(s.GetProperty("mode").GetString() == "train");
            layer.ZeroGrad();
            var input = s.GetProperty("input");
            var x = new Tensor(Data(input), Shape(input)) { RequiresGrad = true };
            var y = layer.Forward(x);
            Assert.Equal(Shape(s.GetProperty("output")), y.Shape.ToArray());
            Close(s.GetProperty("output"), y.Data, at + " output");
            WeightedSum.Of(y, Data(s.GetProperty("w"))).Backward();
            Close(s.GetProperty("grad_input"), x.Grad!, at + " d/dinput");
            if (s.TryGetProperty("grad_weight", out var gw))
            {
                Close(gw, parameters["weight"].Grad!, at + " d/dweight");
                Close(s.GetProperty("grad_bias"), parameters["bias"].Grad!, at + " d/dbias");
            }
            if (s.TryGetProperty("running_mean", out var rm))
            {
                Close(rm, buffers["running_mean"].Data, at + " running_mean");
                Close(s.GetProperty("running_var"), buffers["running_var"].Data, at + " running_var");
                Assert.Equal(s.GetProperty("num_batches_tracked").GetInt32(), buffers["num_batches_tracked"].Item());
            }
        }
    }

    [Fact]
    public void EveryBatchNormCaseOfTheFixtureRuns() =>
        Assert.True(BatchNormCases().Count() >= 12, "modules.json holds fewer BatchNorm cases than generate_modules.py writes");
}
