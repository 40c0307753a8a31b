using System.Text.Json.Nodes;

namespace Optim.CSharp.Tests;

/// <summary>
/// A lrLambda that is a method of an <see cref="IStatefulLrLambda"/> has its state saved and loaded with the scheduler,
/// as PyTorch saves a callable object's <c>__dict__</c> (PyTorch's numbers: SchedulerEpochGoldenTests); here, what a
/// load refuses, and that a refused or failed load changes nothing.
/// </summary>
public sealed class StatefulLrLambdaTests
{
    private sealed class Warmup(int epochs, bool refuse = false) : IStatefulLrLambda
    {
        public int Epochs = epochs;

        public double Factor(int epoch) => Math.Min(1.0, (epoch + 1.0) / Epochs);

        public JsonObject StateDict() => new() { ["epochs"] = Epochs };

        public void LoadStateDict(JsonObject state)
        {
            if (refuse) throw new ArgumentException("refused", nameof(state));
            Epochs = (int)state["epochs"]!;
        }
    }

    private static SGD Sgd(int groups = 2) =>
        new(Enumerable.Range(0, groups).Select(_ => new ParamGroup([new Parameter([1f])])).ToList(), lr: 0.1);

    [Fact]
    public void ThePlainFunctionsEntriesAreNullAndAnObjectsIsItsState()
    {
        var opt = Sgd();
        var warmup = new Warmup(10);
        var scheduler = new LambdaLR(opt, [e => 1.0, warmup.Factor]);
        var saved = JsonNode.Parse(scheduler.StateDict().ToJson())!["state"]!["lr_lambdas"]!.ToJsonString();
        Assert.Equal("""[null,{"epochs":10}]""", saved);
        // the state is a copy: changing the object afterwards does not change the saved state
        var sd = scheduler.StateDict();
        warmup.Epochs = 3;
        Assert.Contains("\"epochs\":10", sd.ToJson());
    }

    [Fact]
    public void AFunctionsStateDoesNotLoadIntoAPlainFunction()
    {
        var saved = new LambdaLR(Sgd(), [e => 1.0, new Warmup(10).Factor]).StateDict();
        var opt = Sgd();
        var scheduler = new LambdaLR(opt, [e => 1.0, e => 0.5]);
        var before = scheduler.StateDict().ToJson();
        var e = Assert.Throws<ArgumentException>(() => scheduler.LoadStateDict(saved));
        Assert.Contains("lr_lambdas[1]", e.Message);
        Assert.Contains(nameof(IStatefulLrLambda), e.Message);
        Assert.Equal(before, scheduler.StateDict().ToJson());
    }

    [Theory]
    [InlineData("""{"epochs":3}""", "must be a list")]
    [InlineData("""[null,null,null]""", "has 3 entries")]
    [InlineData("""[null,5]""", "must be null or an object")]
    public void AMalformedLrLambdasIsRefusedAndChangesNothing(string lambdas, string message)
    {
        var warmup = new Warmup(10);
        var scheduler = new LambdaLR(Sgd(), [e => 1.0, warmup.Factor]);
        var json = JsonNode.Parse(scheduler.StateDict().ToJson())!;
        json["state"]!["lr_lambdas"] = JsonNode.Parse(lambdas);
        json["state"]!["last_epoch"] = 4;
        var before = scheduler.StateDict().ToJson();
        var e = Assert.Throws<ArgumentException>(() => scheduler.LoadStateDict(SchedulerStateDict.FromJson(json.ToJsonString())));
        Assert.Contains(message, e.Message);
        Assert.Equal(before, scheduler.StateDict().ToJson());
        Assert.Equal(10, warmup.Epochs);
    }

    [Fact]
    public void AnObjectThatRefusesItsStateSurfacesItsExceptionAndTheOthersGetTheirStatesBack()
    {
        var saved = new MultiplicativeLR(Sgd(), [new Warmup(7).Factor, new Warmup(8).Factor]).StateDict();
        var first = new Warmup(2);
        var scheduler = new MultiplicativeLR(Sgd(), [first.Factor, new Warmup(3, refuse: true).Factor]);
        var before = scheduler.StateDict().ToJson();
        var e = Assert.Throws<ArgumentException>(() => scheduler.LoadStateDict(saved));
        Assert.Equal("refused", e.Message.Split(" (")[0]);
        Assert.Equal(2, first.Epochs);
        Assert.Equal(before, scheduler.StateDict().ToJson());
    }

    [Fact]
    public void OneObjectForAllGroupsIsSavedOncePerGroupAsPyTorchsListOfTheSameObject()
    {
        var scheduler = new LambdaLR(Sgd(3), new Warmup(4).Factor);
        Assert.Equal("""[{"epochs":4},{"epochs":4},{"epochs":4}]""",
            JsonNode.Parse(scheduler.StateDict().ToJson())!["state"]!["lr_lambdas"]!.ToJsonString());
        var loading = new Warmup(9);
        var other = new LambdaLR(Sgd(3), loading.Factor);
        other.LoadStateDict(scheduler.StateDict());
        Assert.Equal(4, loading.Epochs);
    }

    [Fact]
    public void AFunctionsStateSurvivesACheckpointFile()
    {
        var opt = Sgd();
        var scheduler = new LambdaLR(opt, [e => 1.0, new Warmup(6).Factor]);
        var path = Path.Combine(Path.GetTempPath(), $"optim-lambda-{Guid.NewGuid():N}.pt");
        try
        {
            new CheckpointFile { Optimizer = opt.StateDict(), Scheduler = scheduler.StateDict() }.Save(path);
            var loading = new Warmup(2);
            var other = new LambdaLR(Sgd(), [e => 1.0, loading.Factor]);
            other.LoadStateDict(CheckpointFile.Load(path).Scheduler!);
            Assert.Equal(6, loading.Epochs);
            Assert.Equal(scheduler.StateDict().ToJson(), other.StateDict().ToJson());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void AStateDictWithoutLrLambdasWrittenBeforeTheyWereSavedLoadsAndKeepsTheObjectsState()
    {
        var warmup = new Warmup(5);
        var scheduler = new LambdaLR(Sgd(), [e => 1.0, warmup.Factor]);
        var json = JsonNode.Parse(scheduler.StateDict().ToJson())!;
        json["state"]!.AsObject().Remove("lr_lambdas");
        scheduler.LoadStateDict(SchedulerStateDict.FromJson(json.ToJsonString()));
        Assert.Equal(5, warmup.Epochs);
    }
}
