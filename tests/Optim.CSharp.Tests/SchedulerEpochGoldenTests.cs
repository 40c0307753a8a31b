using System.Text.Json;
using Optim.CSharp;
using Xunit;
using static Optim.CSharp.Tests.SchedulerGolden;

namespace Optim.CSharp.Tests;

/// <summary>
/// Replays every PyTorch sequence of <c>scheduler.step(epoch)</c> in scheduler_epochs.json (written by
/// generate_scheduler_epochs.py) through the facade's <c>Step(epoch)</c>, and its state-dict round trips into
/// schedulers built with other arguments, within 1e-9 + 1e-7·|lr|.
/// </summary>
public class SchedulerEpochGoldenTests
{
    private const string Deprecation = "UserWarning: The epoch parameter in `scheduler.step()` was not necessary";

    public static IEnumerable<object[]> CaseNames => GoldenFixtures.Names("scheduler_epochs");

    private static JsonElement Case(string name) =>
        GoldenFixtures.Cases("scheduler_epochs").Single(c => c.GetProperty("name").GetString() == name);

    private static void AssertRow(string what, int k, double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Close(actual[i], expected[i]), $"{what} of group {i} after {k} steps: expected {expected[i]:R}, got {actual[i]:R}");
    }

    private static void StepOnce(LRScheduler scheduler, JsonElement epoch, double? metric)
    {
        bool given = epoch.ValueKind != JsonValueKind.Null;
        switch (scheduler)
        {
            case ReduceLROnPlateau plateau when given: plateau.Step(metric!.Value, epoch.GetInt32()); break;
            case ReduceLROnPlateau plateau: plateau.Step(metric!.Value); break;
            case CosineAnnealingWarmRestarts warm when given: warm.Step(epoch.GetDouble()); break;
            case var s when given: s.Step(epoch.GetInt32()); break;
            case var s: s.Step(); break;
        }
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void StepWithAnEpochReproducesPyTorchsRatesMomentaEpochsAndMessages(string name)
    {
        var c = Case(name);
        var opt = Optimizer(c);
        var log = new StringWriter();
        var scheduler = Scheduler(opt, c.GetProperty("scheduler"), log);
        var lrs = c.GetProperty("lrs");
        var lastEpochs = c.GetProperty("last_epoch");
        JsonElement? momentum = c.TryGetProperty("momentum", out var m) ? m : null;
        double[]? metrics = c.TryGetProperty("metrics", out var ms) ? ms.EnumerateArray().Select(x => x.GetDouble()).ToArray() : null;
        // Documented deviation: OneCycleLR's rate past its last step stops at 0 where PyTorch extrapolates below it.
        bool floorAtZero = scheduler is OneCycleLR;
        double[] Expected(int k) => Row(lrs, k).Select(x => floorAtZero ? Math.Max(0, x) : x).ToArray();
        AssertRow("lr", 0, Expected(0), opt.ParamGroups.Select(g => g.Lr).ToArray());
        var epochs = c.GetProperty("epochs").EnumerateArray().ToArray();
        for (int k = 0; k < epochs.Length; k++)
        {
            opt.Step();
            StepOnce(scheduler, epochs[k], metrics?[k]);
            var groupLrs = opt.ParamGroups.Select(g => g.Lr).ToArray();
            Assert.Equal(groupLrs, scheduler.GetLastLr());
            AssertRow("lr", k + 1, Expected(k + 1), groupLrs);
            if (lastEpochs[k + 1].ValueKind != JsonValueKind.Null) Assert.Equal(lastEpochs[k + 1].GetInt32(), scheduler.LastEpoch);
            if (momentum is { } mo) AssertRow("momentum", k + 1, Row(mo, k + 1), opt.ParamGroups.Select(g => g["momentum"]).ToArray());
        }
        var lines = log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
        Assert.Equal(c.GetProperty("messages").EnumerateArray().Select(x => x.GetString()!), lines.Where(l => !l.StartsWith("UserWarning: ")));
        // PyTorch warns at every call here (the generator records with "always"); the facade warns once per scheduler.
        Assert.Equal(Math.Min(1, c.GetProperty("deprecation_warnings").GetInt32()), lines.Count(l => l.StartsWith(Deprecation)));
    
        if (c.TryGetProperty("resume", out var resume)) Resume(c, resume, opt, scheduler);
    }

    /// <summary>Loads the optimizer's and the scheduler's state (through JSON) into ones built with other arguments, then steps both on.</summary>
    private static void Resume(JsonElement c, JsonElement resume, Optimizer saved, LRScheduler savedScheduler)
    {
        var opt = Optimizer(c);
        var scheduler = Scheduler(opt, resume.GetProperty("scheduler"), TextWriter.Null);
        opt.LoadStateDict(StateDict.FromJson(saved.StateDict().ToJson()));
        scheduler.LoadStateDict(SchedulerStateDict.FromJson(savedScheduler.StateDict().ToJson()));
        var lrs = resume.GetProperty("lrs");
        bool same = resume.GetProperty("same_as_saved").GetBoolean();
        double[]? metrics = resume.TryGetProperty("metrics", out var ms) ? ms.EnumerateArray().Select(x => x.GetDouble()).ToArray() : null;
        AssertRow("resumed lr", 0, Row(lrs, 0), opt.ParamGroups.Select(g => g.Lr).ToArray());
        var epochs = resume.GetProperty("epochs").EnumerateArray().ToArray();
        for (int k = 0; k < epochs.Length; k++)
        {
            foreach (var (o, s) in new[] { (saved, savedScheduler), (opt, scheduler) })
            {
                o.Step();
                StepOnce(s, epochs[k], metrics?[k]);
            }
            var groupLrs = opt.ParamGroups.Select(g => g.Lr).ToArray();
            AssertRow("resumed lr", k + 1, Row(lrs, k + 1), groupLrs);
            if (resume.TryGetProperty("momentum", out var mo))
                AssertRow("resumed momentum", k + 1, Row(mo, k + 1), opt.ParamGroups.Select(g => g["momentum"]).ToArray());
            if (same) Assert.Equal(saved.ParamGroups.Select(g => g.Lr), groupLrs);
        }
        if (same) Assert.Equal(savedScheduler.StateDict().ToJson(), scheduler.StateDict().ToJson());
        // the functions' states: what PyTorch saved (null for a plain function, a callable object's __dict__), and
        // what the loading scheduler's objects hold at the end
        if (resume.TryGetProperty("lr_lambdas", out var savedLambdas))
        {
            AssertSameJson(savedLambdas, LrLambdas(savedScheduler));
            AssertSameJson(resume.GetProperty("lr_lambdas_after"), LrLambdas(scheduler));
        }
    }

    private static JsonElement LrLambdas(LRScheduler s) =>
        JsonDocument.Parse(s.StateDict().ToJson()).RootElement.GetProperty("state").GetProperty("lr_lambdas").Clone();

    private static void AssertSameJson(JsonElement expected, JsonElement actual)
    {
        Assert.Equal(expected.ValueKind is JsonValueKind.Number ? JsonValueKind.Number : expected.ValueKind, actual.ValueKind);
        switch (expected.ValueKind)
        {
            case JsonValueKind.Array:
                Assert.Equal(expected.GetArrayLength(), actual.GetArrayLength());
                foreach (var (e, a) in expected.EnumerateArray().Zip(actual.EnumerateArray())) AssertSameJson(e, a);
                break;
            case JsonValueKind.Object:
                Assert.Equal(expected.EnumerateObject().Select(p => p.Name).Order(), actual.EnumerateObject().Select(p => p.Name).Order());
                foreach (var p in expected.EnumerateObject()) AssertSameJson(p.Value, actual.GetProperty(p.Name));
                break;
            case JsonValueKind.Number: Assert.Equal(expected.GetDouble(), actual.GetDouble()); break;
            default: Assert.Equal(expected.GetRawText(), actual.GetRawText()); break;
        }
    }
}
