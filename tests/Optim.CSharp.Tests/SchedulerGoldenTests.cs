using System.Text.Json;
using Optim.CSharp;
using Xunit;
using static Optim.CSharp.Tests.SchedulerGolden;

namespace Optim.CSharp.Tests;

/// <summary>Replays every PyTorch sequence in schedulers.json through the facade, within 1e-9 + 1e-7·|lr|.</summary>
public class SchedulerGoldenTests
{
    public static IEnumerable<object[]> CaseNames => Names;

    private static void AssertRow(string what, int k, double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Close(actual[i], expected[i]),
                $"{what} of group {i} after {k} steps: expected {expected[i]:R}, got {actual[i]:R}");
    }

    private static double[] Momentum(Optimizer opt, string key) =>
        opt.ParamGroups.Select(g => key == "beta1" ? g.Betas.Item1 : g["momentum"]).ToArray();

    /// <summary>Runs a case as the generator did and returns the log.</summary>
    private static string Replay(JsonElement c, Optimizer opt, string? momentumKey, JsonElement? momentumRows)
    {
        var log = new StringWriter();
        var scheduler = Scheduler(opt, c.GetProperty("scheduler"), log);
        var lrs = c.GetProperty("lrs");
        // Documented deviation: OneCycleLR's rate after its last step stops at 0 where PyTorch extrapolates below it.
        bool floorAtZero = c.GetProperty("scheduler").GetProperty("type").GetString() == "OneCycleLR";
        double[] Expected(int k) => Row(lrs, k).Select(x => floorAtZero ? Math.Max(0, x) : x).ToArray();
        AssertRow("lr", 0, Expected(0), opt.ParamGroups.Select(g => g.Lr).ToArray());
        int steps = c.GetProperty("steps").GetInt32();
        bool skipFirst = c.TryGetProperty("skip_first_optimizer_step", out var skip) && skip.GetBoolean();
        JsonElement? then = c.TryGetProperty("then", out var t) ? t : null;
        double[]? metrics = c.TryGetProperty("metrics", out var m) ? m.EnumerateArray().Select(x => x.GetDouble()).ToArray() : null;
        for (int k = 0; k < steps; k++)
        {
            if (then is { } th && k == th.GetProperty("at").GetInt32()) scheduler = Scheduler(opt, th.GetProperty("scheduler"), log);
            if (!(k == 0 && skipFirst)) opt.Step();
            if (metrics is not null) ((ReduceLROnPlateau)scheduler).Step(metrics[k]);
            else scheduler.Step();
            var groupLrs = opt.ParamGroups.Select(g => g.Lr).ToArray();
            Assert.Equal(groupLrs, scheduler.GetLastLr());
            AssertRow("lr", k + 1, Expected(k + 1), groupLrs);
            if (momentumKey is not null) AssertRow(momentumKey, k + 1, Row(momentumRows!.Value, k + 1), Momentum(opt, momentumKey));
        }
        return log.ToString();
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void TheFacadeReproducesPyTorchsLearningRatesMomentaAndMessages(string name)
    {
        var c = Case(name);
        string? key = c.TryGetProperty("momentum", out _) ? "momentum" : c.TryGetProperty("beta1", out _) ? "beta1" : null;
        var opt = Optimizer(c);
        var log = Replay(c, opt, key, key is null ? null : c.GetProperty(key));
        var lines = log.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
        var warnings = lines.Where(l => l.StartsWith("UserWarning: ")).ToArray();
        var expected = c.GetProperty("messages").EnumerateArray().Select(x => x.GetString()!).ToArray();
        var messages = lines.Where(l => !l.StartsWith("UserWarning: ")).ToArray();
        for (int i = 0; i < Math.Min(expected.Length, messages.Length); i++) Assert.Equal(expected[i], messages[i]);
        Assert.Equal(expected.Length, messages.Length);
        Assert.Equal(c.GetProperty("order_warnings").GetInt32(), warnings.Count(w => w.Contains("before Optimizer.Step()")));
    }

    [Theory]
    [InlineData("CyclicLR(triangular)")]
    [InlineData("CyclicLR(triangular2, up 8, down 12)")]
    [InlineData("CyclicLR(scale_fn=inv_iter, scale_mode=iterations)")]
    public void CyclicLRCyclesTheFirstBetaOfAdamAsItCyclesSGDsMomentum(string name)
    {
        // PyTorch 1.13's CyclicLR refuses optimizers without momentum; 2.x writes betas[0] with the same formula,
        // so the SGD sequence is the expected one for Adam's first beta.
        var c = Case(name);
        var opt = Optimizer(c, "Adam");
        Replay(c, opt, "beta1", c.GetProperty("momentum"));
        Assert.All(opt.ParamGroups, g => Assert.Equal(0.999, g.Betas.Item2));
    }
}
