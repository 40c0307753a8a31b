using System.Text.Json;

namespace Optim.NN.Tests;

/// <summary>
/// Reading the golden fixtures PyTorch wrote (tests/golden/*.json): tensors are <c>{"shape": [...], "data": [...]}</c>,
/// compared within the spec's parity tolerance. The golden test classes import it with <c>using static</c>.
/// </summary>
internal static class Golden
{
    /// <summary>The <c>"cases"</c> of a fixture copied next to the tests (<c>golden/{file}</c>).</summary>
    public static JsonElement Cases(string file)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "golden", file)));
        return doc.RootElement.GetProperty("cases").Clone();
    }

    /// <summary>A tensor's values.</summary>
    public static float[] Data(JsonElement t) => t.GetProperty("data").EnumerateArray().Select(x => x.GetSingle()).ToArray();

    /// <summary>A tensor's shape.</summary>
    public static int[] Shape(JsonElement t) => t.GetProperty("shape").EnumerateArray().Select(x => x.GetInt32()).ToArray();

    /// <summary>A leaf tensor holding a fixture's tensor (a scalar for an empty shape).</summary>
    public static Tensor Make(JsonElement t, bool requiresGrad = false)
    {
        var shape = Shape(t);
        var x = shape.Length == 0 ? Tensor.Scalar(Data(t)[0]) : new Tensor(Data(t), shape);
        x.RequiresGrad = requiresGrad;
        return x;
    }

    /// <summary>The spec's parity tolerance: 1e-5 + 1e-4·|expected| per element.</summary>
    public static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {actual.Length} elements, PyTorch has {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
            Assert.True(float.IsFinite(actual[i]) && Math.Abs(actual[i] - expected[i]) <= 1e-5 + 1e-4 * Math.Abs(expected[i]),
                $"{what}[{i}]: {actual[i]}, PyTorch {expected[i]}");
    }

    /// <summary>A result's shape and values against a fixture's tensor.</summary>
    public static void Close(JsonElement expected, Tensor actual, string what)
    {
        Assert.Equal(Shape(expected), actual.Shape.ToArray());
        Close(Data(expected), actual.Data, what);
    }
}
