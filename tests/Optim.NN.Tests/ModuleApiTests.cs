using System.Text.Json;
using Optim.CSharp;

namespace Optim.NN.Tests;

/// <summary>The module API of torch.nn.Module: names, buffers, state dicts, train/eval, zero_grad, and names in optimizer checkpoints.</summary>
public class ModuleApiTests
{
    private static string[] Strings(JsonElement e) => e.EnumerateArray().Select(x => x.GetString()!).ToArray();

    /// <summary>generate_modules.py's names_sequential model.</summary>
    private static Sequential GoldenSequential(Random rng) => new(
        new Linear(4, 8, random: rng), new ReLU(), new BatchNorm2d(8),
        new Sequential(new Linear(8, 8, random: rng), new ReLU(), new BatchNorm1d(8, affine: false), new Dropout(0.1, rng)),
        new Linear(8, 2, bias: false, random: rng));

    /// <summary>generate_modules.py's Net: registered children by name.</summary>
    private sealed class Net : Module
    {
        private readonly Sequential _features;
        private readonly BatchNorm2d _norm = new(6, trackRunningStats: false);
        private readonly Linear _classifier;

        public Net(Random rng)
        {
            _features = new Sequential(new Linear(4, 6, random: rng), new BatchNorm1d(6), new ReLU(), new Dropout(0.5, rng), new Linear(6, 6, random: rng));
            _classifier = new Linear(6, 3, random: rng);
        }

        public Sequential Features => _features;

        protected override IEnumerable<(string Name, Module Module)> RegisteredChildren() =>
            [("features", _features), ("norm", _norm), ("classifier", _classifier)];

        public override Tensor Forward(Tensor input) => _classifier.Forward(_features.Forward(input));
    }

    /// <summary>A model written the older way: it overrides Parameters() and declares nothing.</summary>
    private sealed class OldStyle(Linear a, Linear b) : Module
    {
        public override Tensor Forward(Tensor input) => b.Forward(a.Forward(input).Relu());
        public override IEnumerable<Parameter> Parameters() => [.. a.Parameters(), .. b.Parameters()];
    }

    /// <summary>A leaf layer written the older way, as Linear was: named parameters from Parameters().</summary>
    private sealed class OldLeaf : Module
    {
        public Parameter Weight { get; } = new(new float[6], 2, 3) { Name = "weight" };
        public Parameter Bias { get; } = new(new float[2], 2) { Name = "bias" };
        public override Tensor Forward(Tensor input) => Functional.Linear(input, Tensor.FromParameter(Weight), Tensor.FromParameter(Bias));
        public override IEnumerable<Parameter> Parameters() => [Weight, Bias];
    }

    private static void SameKeysAsPyTorch(Module model, string caseName)
    {
        var c = BatchNormGoldenTests.Cases.GetProperty(caseName);
        Assert.Equal(Strings(c.GetProperty("named_parameters")), model.NamedParameters().Select(p => p.Name));
        Assert.Equal(Strings(c.GetProperty("named_buffers")), model.NamedBuffers().Select(b => b.Name));
        var state = model.StateDict();
        Assert.Equal(Strings(c.GetProperty("state_dict")), state.Keys);
        var shapes = c.GetProperty("state_dict_shapes").EnumerateArray().Select(s => s.EnumerateArray().Select(d => d.GetInt32()).ToArray()).ToArray();
        Assert.Equal(shapes, state.Values.Select(v => v.Shape.ToArray()));
        Assert.Equal("torch.int64", c.GetProperty("num_batches_tracked_dtype").GetString());
        Assert.All(state.Where(kv => kv.Key.EndsWith("num_batches_tracked")), kv => Assert.Equal(0, kv.Value.Rank));
    }

    [Fact]
    public void NamedParametersBuffersAndStateDictKeysOfASequentialAreTorchsInTorchsOrder() =>
        SameKeysAsPyTorch(GoldenSequential(new Random(0)), "names_sequential");

    [Fact]
    public void AModelThatRegistersNamedChildrenGetsTorchsDottedNames() => SameKeysAsPyTorch(new Net(new Random(0)), "names_nested_module");

    [Fact]
    public void ParametersFollowNamedParametersAndNamedModulesWalkDepthFirst()
    {
        var model = new Net(new Random(0));
        Assert.Equal(model.NamedParameters().Select(p => p.Parameter), model.Parameters());
        Assert.Equal(["", "features", "features.0", "features.1", "features.2", "features.3", "features.4", "norm", "classifier"],
            model.NamedModules().Select(m => m.Name));
        Assert.Equal(["features", "norm", "classifier"], model.NamedChildren().Select(c => c.Name));
        Assert.Same(model.Features, model.Children().First());
    }

    [Fact]
    public void ASequentialNamesEveryParameterBelowItByItsDottedName()
    {
        var l1 = new Linear(3, 3);
        var l2 = new Linear(3, 3);
        Assert.Equal("weight", l1.Weight.Name);
        var inner = new Sequential(l1, new ReLU(), l2);
        Assert.Equal(["0.weight", "0.bias", "2.weight", "2.bias"], inner.Parameters().Select(p => p.Name));
        var outer = new Sequential(new BatchNorm1d(3), inner);
        Assert.Equal(["0.weight", "0.bias", "1.0.weight", "1.0.bias", "1.2.weight", "1.2.bias"], outer.Parameters().Select(p => p.Name));
        Assert.Equal(outer.NamedParameters().Select(p => p.Name), outer.Parameters().Select(p => p.Name));
    }

    [Fact]
    public void AnOlderStyleModuleIsNamedByItsParametersNamesOrByPosition()
    {
        var leaf = new OldLeaf();
        Assert.Equal(["weight", "bias"], leaf.NamedParameters().Select(p => p.Name));
        var model = new Sequential(new ReLU(), leaf);
        Assert.Equal(["1.weight", "1.bias"], model.NamedParameters().Select(p => p.Name));
        Assert.Equal("1.weight", leaf.Weight.Name);
        // the names are stable once the Sequential renamed the parameters
        Assert.Equal(["weight", "bias"], leaf.NamedParameters().Select(p => p.Name));

        // two Linears' parameters are all named weight or bias: positions then
        var old = new OldStyle(new Linear(2, 3), new Linear(3, 1));
        Assert.Equal(["0", "1", "2", "3"], old.NamedParameters().Select(p => p.Name));
        Assert.Equal(old.Parameters(), old.NamedParameters().Select(p => p.Parameter));
        var wrapped = new Sequential(old);
        Assert.Equal(["0.0", "0.1", "0.2", "0.3"], wrapped.StateDict().Keys);
        Assert.Equal(["0", "1", "2", "3"], old.NamedParameters().Select(p => p.Name));
    }

    [Fact]
    public void AParameterHeldTwiceIsOneParameterButTwoStateDictKeys()
    {
        var shared = new Linear(2, 2);
        var model = new Sequential(shared, new ReLU(), shared);
        Assert.Equal(["0.weight", "0.bias"], model.NamedParameters().Select(p => p.Name));
        Assert.Equal(["0.weight", "0.bias", "2.weight", "2.bias"], model.StateDict().Keys);
    }

    [Fact]
    public void TrainAndEvalRecurseIntoEveryRegisteredChildAndReturnTheModule()
    {
        var model = new Net(new Random(0));
        Assert.All(model.NamedModules(), m => Assert.True(m.Module.Training, m.Name));
        Assert.Same(model, model.Eval());
        Assert.All(model.NamedModules(), m => Assert.False(m.Module.Training, m.Name));
        Assert.Same(model, model.Train());
        Assert.All(model.NamedModules(), m => Assert.True(m.Module.Training, m.Name));
        model.Train(false);
        Assert.False(model.Features[3].Training);
        model.Features.Train();
        Assert.True(model.Features[3].Training);
        Assert.False(model.Training);
    }

    [Fact]
    public void StateDictIsACopyAndLoadStateDictCopiesIntoTheLiveBuffers()
    {
        var rng = new Random(1);
        var source = GoldenSequential(rng);
        // running statistics that are not the initial ones
        var x = new Tensor(Enumerable.Range(0, 6 * 8).Select(_ => (float)rng.NextDouble()).ToArray(), 6, 8);
        var bn = new Sequential(new BatchNorm1d(8));
        bn.Forward(x);
        var state = bn.StateDict();
        Assert.Equal(1, state["0.num_batches_tracked"].Item());
        state["0.running_mean"].Data[0] += 1;
        Assert.NotEqual(state["0.running_mean"].Data[0], ((BatchNorm1d)bn[0]).RunningMean!.Data[0]);
        Assert.False(state["0.weight"].RequiresGrad);

        var target = GoldenSequential(new Random(2));
        var liveArrays = target.StateDict().Keys.Zip(target.Parameters().Select(p => p.Data)).ToList();
        var weight = ((Linear)target[0]).Weight;
        var array = weight.Data;
        var optimizer = new SGD(target.Parameters(), lr: 0.1);
        target.LoadStateDict(source.StateDict());
        Assert.Same(array, weight.Data);
        Assert.Equal(source.StateDict().Values.Select(v => v.Data), target.StateDict().Values.Select(v => v.Data));
        var input = new Tensor(Enumerable.Range(0, 4 * 4).Select(i => i / 7f).ToArray(), 4, 4);
        source.Eval();
        target.Eval();
        Assert.Equal(((Linear)source[0]).Forward(input).Data, ((Linear)target[0]).Forward(input).Data);

        // the optimizer keeps stepping the loaded arrays
        weight.Grad = Enumerable.Repeat(1f, weight.Numel).ToArray();
        var before = weight.Data.ToArray();
        optimizer.Step();
        Assert.Equal(before.Select(v => v - 0.1f), weight.Data);
    }

    private static List<int[]> Bits(Module m) =>
        m.StateDict().Values.Select(v => v.Data.Select(BitConverter.SingleToInt32Bits).ToArray()).ToList();

    [Fact]
    public void LoadStateDictRejectsMissingUnexpectedAndMisshapenKeysByNameAndChangesNothing()
    {
        var model = GoldenSequential(new Random(3));
        var other = GoldenSequential(new Random(4)).StateDict();
        var before = Bits(model);

        var missing = new OrderedDictionary<string, Tensor>(other);
        missing.Remove("3.0.bias");
        missing.Remove("2.running_var");
        var e = Assert.Throws<ArgumentException>(() => model.LoadStateDict(missing));
        Assert.Equal("stateDict", e.ParamName);
        Assert.Contains("Missing key(s) in state_dict: \"2.running_var\", \"3.0.bias\"", e.Message);
        Assert.Equal(before, Bits(model));

        var unexpected = new OrderedDictionary<string, Tensor>(other) { ["5.weight"] = Tensor.Zeros(2) };
        e = Assert.Throws<ArgumentException>(() => model.LoadStateDict(unexpected));
        Assert.Contains("Unexpected key(s) in state_dict: \"5.weight\"", e.Message);
        Assert.Equal(before, Bits(model));

        var misshapen = new OrderedDictionary<string, Tensor>(other) { ["4.weight"] = Tensor.Zeros(8, 2) };
        e = Assert.Throws<ArgumentException>(() => model.LoadStateDict(misshapen, strict: false));
        Assert.Contains("size mismatch for 4.weight: copying a param with shape [8, 2] from checkpoint, the shape in current model is [2, 8]", e.Message);
        Assert.Equal(before, Bits(model));

        var scalar = new OrderedDictionary<string, Tensor>(other) { ["2.num_batches_tracked"] = Tensor.Zeros(1) };
        e = Assert.Throws<ArgumentException>(() => model.LoadStateDict(scalar));
        Assert.Contains("2.num_batches_tracked", e.Message);
        Assert.Equal(before, Bits(model));
        Assert.Throws<ArgumentNullException>(() => model.LoadStateDict(null!));
    }

    [Fact]
    public void ANonStrictLoadReportsMissingAndUnexpectedKeysAndLoadsTheRest()
    {
        var model = new Sequential(new Linear(2, 2), new ReLU(), new Linear(2, 1));
        var state = new OrderedDictionary<string, Tensor>
        {
            ["0.weight"] = new Tensor([1f, 2f, 3f, 4f], 2, 2),
            ["9.bias"] = Tensor.Zeros(1),
        };
        var (missingKeys, unexpectedKeys) = model.LoadStateDict(state, strict: false);
        Assert.Equal(["0.bias", "2.weight", "2.bias"], missingKeys);
        Assert.Equal(["9.bias"], unexpectedKeys);
        Assert.Equal([1f, 2f, 3f, 4f], ((Linear)model[0]).Weight.Data);
        var strictResult = model.LoadStateDict(model.StateDict());
        Assert.Empty(strictResult.MissingKeys);
        Assert.Empty(strictResult.UnexpectedKeys);
    }

    [Fact]
    public void ZeroGradDropsOrZeroesEveryParametersGradient()
    {
        var model = new Sequential(new Linear(2, 2), new BatchNorm1d(2));
        foreach (var p in model.Parameters()) p.Grad = Enumerable.Repeat(3f, p.Numel).ToArray();
        model.ZeroGrad(setToNone: false);
        Assert.All(model.Parameters(), p => Assert.All(p.Grad!, g => Assert.Equal(0f, g)));
        model.ZeroGrad();
        Assert.All(model.Parameters(), p => Assert.Null(p.Grad));
    }

    [Fact]
    public void BadRegistrationsAreReportedWithTheName()
    {
        var e = Assert.Throws<InvalidOperationException>(() => new Dotted().NamedParameters().ToList());
        Assert.Contains("'a.b'", e.Message);
    }

    private sealed class Dotted : Module
    {
        public override Tensor Forward(Tensor input) => input;
        protected override IEnumerable<(string Name, Module Module)> RegisteredChildren() => [("a.b", new ReLU())];
    }

    private static Sequential TwoEqualLayers(Random rng) => new(new Linear(3, 3, random: rng), new ReLU(), new Linear(3, 3, random: rng));

    private static void TakeSteps(Optimizer optimizer, IEnumerable<Parameter> parameters)
    {
        for (int s = 0; s < 2; s++)
        {
            foreach (var p in parameters) p.Grad = Enumerable.Range(0, p.Numel).Select(i => (i + s) / 10f).ToArray();
            optimizer.Step();
        }
    }

    [Fact]
    public void AnOptimizersStateDictRecordsEachGroupsParameterNamesUnderTorchsKey()
    {
        var model = TwoEqualLayers(new Random(0));
        var optimizer = new Adam(model.Parameters());
        TakeSteps(optimizer, model.Parameters());
        using var doc = JsonDocument.Parse(optimizer.StateDict().ToJson());
        var group = doc.RootElement.GetProperty("param_groups")[0];
        Assert.Equal(["0.weight", "0.bias", "2.weight", "2.bias"], Strings(group.GetProperty("param_names")));
        // first in the group, as PyTorch 2.x packs it
        Assert.Equal("param_names", group.EnumerateObject().First().Name);
        var fresh = new Adam(TwoEqualLayers(new Random(1)).Parameters());
        fresh.LoadStateDict(StateDict.FromJson(optimizer.StateDict().ToJson()));
        Assert.Equal(optimizer.StateDict().ToJson(), fresh.StateDict().ToJson());
    }

    [Fact]
    public void AnOptimizerCheckpointDoesNotLoadIntoSwappedLayersOfTheSameShape()
    {
        var model = TwoEqualLayers(new Random(0));
        var optimizer = new Adam(model.Parameters());
        TakeSteps(optimizer, model.Parameters());
        var saved = optimizer.StateDict();

        // the same layers, handed to the optimizer in the other order: equal shapes, other names
        var other = TwoEqualLayers(new Random(1));
        var swapped = other.NamedParameters().OrderByDescending(p => p.Name[0]).Select(p => p.Parameter).ToList();
        var loader = new Adam(swapped);
        TakeSteps(loader, swapped);
        var before = loader.StateDict().ToJson();
        foreach (var state in new[] { saved, StateDict.FromJson(saved.ToJson()) })
        {
            var e = Assert.ThrowsAny<ArgumentException>(() => loader.LoadStateDict(state));
            Assert.Contains("'2.weight'", e.Message);
            Assert.Contains("'0.weight'", e.Message);
            Assert.Equal(before, loader.StateDict().ToJson());
        }
    }

    /// <summary>The text with its first occurrence of <paramref name="old"/> (the group's names, before the list of all names) replaced.</summary>
    private static string ReplaceFirst(string text, string old, string replacement)
    {
        int at = text.IndexOf(old, StringComparison.Ordinal);
        Assert.True(at >= 0);
        return text[..at] + replacement + text[(at + old.Length)..];
    }

    [Fact]
    public void AGroupsParamNamesThatContradictTheListOfNamesAreMalformed()
    {
        var model = TwoEqualLayers(new Random(0));
        var json = new SGD(model.Parameters(), lr: 0.1).StateDict().ToJson();
        var contradicting = ReplaceFirst(json, "\"param_names\":[\"0.weight\",", "\"param_names\":[\"2.weight\",");
        Assert.NotEqual(json, contradicting);
        var e = Assert.ThrowsAny<ArgumentException>(() => StateDict.FromJson(contradicting));
        Assert.Contains("param_groups[0].param_names[0] is '2.weight', but param_names[0] is '0.weight'", e.Message);
        var shortList = ReplaceFirst(json, "\"param_names\":[\"0.weight\",", "\"param_names\":[");
        Assert.Contains("3 param_names for 4 params", Assert.ThrowsAny<ArgumentException>(() => StateDict.FromJson(shortList)).Message);

        // a group's names fill in a list of names that is silent (a state dict converted from PyTorch's layout)
        var silent = json.Replace("\"param_names\":[\"0.weight\",\"0.bias\",\"2.weight\",\"2.bias\"],\"param_shapes\"", "\"param_names\":[null,null,null,null],\"param_shapes\"");
        Assert.NotEqual(json, silent);
        Assert.Equal(json, StateDict.FromJson(silent).ToJson());
    }

    [Fact]
    public void WithoutNamesTheOptimizersJsonIsAsBeforeAndALoadGoesByPosition()
    {
        var a = new Parameter([1f, 2f]);
        var optimizer = new SGD([a], lr: 0.5, momentum: 0.9);
        a.Grad = [1f, 1f];
        optimizer.Step();
        // the text the optimizer wrote before groups recorded names (Optim.CSharp at cee451e, the same code)
        Assert.Equal(
            "{\"optimizer\":\"SGD\",\"state\":{\"0\":{\"step\":1,\"momentum_buffer\":[1,1]}},\"param_groups\":[{\"lr\":0.5,\"momentum\":0.9,\"dampening\":0,\"weight_decay\":0,\"nesterov\":false,\"maximize\":false,\"params\":[0]}],\"param_names\":[null],\"param_shapes\":[[2]]}",
            optimizer.StateDict().ToJson());

        // a group with one unnamed parameter records no param_names; names elsewhere still guard the load
        var named = new Parameter([0f]) { Name = "w" };
        var mixed = new SGD([named, new Parameter([0f])], lr: 0.1);
        using var doc = JsonDocument.Parse(mixed.StateDict().ToJson());
        Assert.False(doc.RootElement.GetProperty("param_groups")[0].TryGetProperty("param_names", out _));
        var unnamed = new SGD([new Parameter([0f]), new Parameter([0f])], lr: 0.1);
        unnamed.LoadStateDict(mixed.StateDict());
    }
}
