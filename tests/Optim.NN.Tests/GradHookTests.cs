using Optim.CSharp;
using Optim.NN;

namespace Optim.NN.Tests;

public class GradHookTests
{
    private static (Sequential Model, Linear First, Linear Last, Tensor X, Tensor Y) Mlp()
    {
        var g = new Random(3);
        var first = new Linear(3, 4, random: g);
        var last = new Linear(4, 2, random: g);
        var x = new Tensor(Enumerable.Range(0, 6).Select(i => (float)Math.Sin(i)).ToArray(), 2, 3);
        var y = new Tensor([0.5f, -1f, 2f, 0f], 2, 2);
        return (new Sequential(first, new ReLU(), last), first, last, x, y);
    }

    [Fact]
    public void AHookRunsOnceItsParametersGradientIsCompleteLastLayerFirst()
    {
        var (model, first, last, x, y) = Mlp();
        var seen = new List<(string Name, float[]? Grad)>();
        var names = new Dictionary<Parameter, string> { [first.Weight] = "first.weight", [first.Bias!] = "first.bias", [last.Weight] = "last.weight", [last.Bias!] = "last.bias" };
        var handles = names.Keys.Select(p => Tensor.RegisterPostAccumulateGradHook(p, q => seen.Add((names[q], q.Grad?.ToArray())))).ToList();
        new MSELoss().Forward(model.Forward(x), y).Backward();
        Assert.Equal(4, seen.Count);
        // the last layer's gradients are ready before the first layer's: they come earlier in the backward pass
        Assert.True(seen.FindIndex(s => s.Name == "last.weight") < seen.FindIndex(s => s.Name == "first.weight"));
        Assert.True(seen.FindIndex(s => s.Name == "last.bias") < seen.FindIndex(s => s.Name == "first.bias"));
        foreach (var (name, grad) in seen)
            Assert.Equal(names.Single(kv => kv.Value == name).Key.Grad, grad);
        handles.ForEach(h => h.Dispose());
    }

    [Fact]
    public void AHookSeesTheAccumulatedSumAndDisposingItRemovesIt()
    {
        var (model, first, _, x, y) = Mlp();
        var sums = new List<float[]>();
        var other = 0;
        var handle = Tensor.RegisterPostAccumulateGradHook(first.Weight, p => sums.Add(p.Grad!.ToArray()));
        using var second = Tensor.RegisterPostAccumulateGradHook(first.Weight, _ => other++);
        new MSELoss().Forward(model.Forward(x), y).Backward();
        new MSELoss().Forward(model.Forward(x), y).Backward();
        Assert.Equal(2, sums.Count);
        for (int i = 0; i < sums[0].Length; i++) Assert.Equal(sums[0][i] + sums[0][i], sums[1][i]);
        handle.Dispose();
        handle.Dispose();
        new MSELoss().Forward(model.Forward(x), y).Backward();
        Assert.Equal(2, sums.Count);
        Assert.Equal(3, other);
    }

    [Fact]
    public void AHookThatThrowsEndsTheBackwardPass()
    {
        var (model, _, last, x, y) = Mlp();
        using var h = Tensor.RegisterPostAccumulateGradHook(last.Bias!, _ => throw new InvalidOperationException("from the hook"));
        var e = Assert.Throws<InvalidOperationException>(() => new MSELoss().Forward(model.Forward(x), y).Backward());
        Assert.Equal("from the hook", e.Message);
    }

    [Fact]
    public void NullArgumentsAreNamed()
    {
        var p = new Parameter([1f], 1);
        Assert.Equal("parameter", Assert.Throws<ArgumentNullException>(() => Tensor.RegisterPostAccumulateGradHook(null!, _ => { })).ParamName);
        Assert.Equal("hook", Assert.Throws<ArgumentNullException>(() => Tensor.RegisterPostAccumulateGradHook(p, null!)).ParamName);
    }
}
