using System.Text.Json;
using Optim.CSharp;
using T = Optim.CSharp.Transformation;

namespace Optim.Gpu.Tests;

/// <summary>
/// The verification table of the device path: every elementwise optimizer of the facade and a set of composed chains
/// step on ILGPU's CPU accelerator and on the CPU side by side, over two param groups of three tensors (one launch
/// per group), with gradients missing at some steps; the parameters after every step and the final state dicts agree
/// within SPEC's tolerance.
/// </summary>
public sealed class DeviceTableTests
{
    private static IEnumerable<ParamGroup> Groups(Parameter[] ps) =>
        [new ParamGroup([ps[0], ps[1]]), new ParamGroup([ps[2]]) { Lr = 0.003 }];

    /// <summary>Each entry: a name, how to build it over param groups, and whether its gradients hold a NaN at one step.</summary>
    private static readonly (string Name, Func<IEnumerable<ParamGroup>, Optimizer> Make, bool NaNs)[] Table =
    [
        ("SGD", g => new SGD(g, lr: 0.05), false),
        ("SGD momentum dampening wd", g => new SGD(g, lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01), false),
        ("SGD nesterov maximize", g => new SGD(g, lr: 0.05, momentum: 0.9, nesterov: true, maximize: true), false),
        ("Adam", g => new Adam(g, lr: 0.01), false),
        ("Adam amsgrad wd maximize", g => new Adam(g, lr: 0.01, weightDecay: 0.1, amsgrad: true, maximize: true), false),
        ("AdamW", g => new AdamW(g, lr: 0.01), false),
        ("AdamW amsgrad", g => new AdamW(g, lr: 0.01, weightDecay: 0.1, amsgrad: true), false),
        ("Adagrad", g => new Adagrad(g, lr: 0.05, lrDecay: 0.1, weightDecay: 0.01, initialAccumulatorValue: 0.1), false),
        ("RMSprop", g => new RMSprop(g, lr: 0.01), false),
        ("RMSprop centered momentum wd", g => new RMSprop(g, lr: 0.01, momentum: 0.9, centered: true, weightDecay: 0.01), false),
        ("Adadelta", g => new Adadelta(g, weightDecay: 0.01), false),
        ("Adamax", g => new Adamax(g, weightDecay: 0.01), false),
        ("NAdam", g => new NAdam(g, weightDecay: 0.01), false),
        ("NAdam decoupled", g => new NAdam(g, weightDecay: 0.01, decoupledWeightDecay: true), false),
        ("RAdam", g => new RAdam(g, weightDecay: 0.01), false),
        ("RAdam decoupled", g => new RAdam(g, weightDecay: 0.01, decoupledWeightDecay: true), false),
        ("ASGD", g => new ASGD(g, t0: 3, weightDecay: 0.01), false),
        ("Rprop", g => new Rprop(g, maximize: true), false),
        ("chain: maximize, weight decay, Nesterov trace, lr",
            g => new ComposedOptimizer(g, T.Chain(T.Maximize(), T.AddWeightDecay(0.01), T.Trace(0.9, nesterov: true), T.ScaleByLearningRate(0.1))), false),
        ("chain: global-norm clip, Adam, lr",
            g => new ComposedOptimizer(g, T.Chain(T.ClipByGlobalNorm(0.5), T.ScaleByAdam(), T.ScaleByLearningRate(0.01))), false),
        ("chain: zero NaNs, clip by value, AMSGrad Adam, decoupled decay, lr",
            g => new ComposedOptimizer(g, T.Chain(T.ZeroNans(), T.ClipByValue(0.5), T.ScaleByAdam(amsgrad: true), T.DecoupledWeightDecay(0.01, 0.01), T.ScaleByLearningRate(0.01))), true),
        ("chain: Adam, then a global-norm clip (two passes), lr",
            g => new ComposedOptimizer(g, T.Chain(T.ScaleByAdam(), T.ClipByGlobalNorm(0.1), T.ScaleByLearningRate(0.01))), false),
        ("chain: Muon's lerp momentum, lr", g => new ComposedOptimizer(g, T.Chain(T.TraceByLerp(0.95), T.ScaleByLearningRate(0.02))), false),
        ("applyIfFinite over Adam", g => new ComposedOptimizer(g, T.ApplyIfFinite(T.Adam(lr: 0.01), maxConsecutiveErrors: 1)), true),
        ("multiSteps(3) over SGD momentum", g => new ComposedOptimizer(g, T.MultiSteps(T.SGD(lr: 0.05, momentum: 0.9), 3)), false),
        ("chain: AdamW, EMA of the parameters", g => new ComposedOptimizer(g, T.Chain(T.AdamW(lr: 0.01), T.Ema(0.9))), false),
        ("chain: trust ratio, lr (a reduction per tensor)", g => new ComposedOptimizer(g, T.Chain(T.ScaleByAdam(), T.ScaleByTrustRatio(), T.ScaleByLearningRate(0.01))), false),
    ];

    public static TheoryData<string> Names() => [.. Table.Select(t => t.Name)];

    private static Parameter[] Params(int seed)
    {
        var r = new Random(seed);
        float[] Data(int n) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
        return [new Parameter(Data(5), 5) { Name = "a" }, new Parameter(Data(37), 37) { Name = "b" }, new Parameter(Data(300), 10, 30) { Name = "c" }];
    }

    /// <summary>The gradients of step <paramref name="step"/>: the same on both sides; tensor 1 has none at steps 3 and 7,
    /// tensor 0 none at step 5; with <paramref name="nans"/>, tensor 2 holds a NaN at step 4.</summary>
    private static float[]?[] Grads(int step, bool nans)
    {
        var r = new Random(1000 + step);
        float[] G(int n) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
        var g = new float[]?[] { G(5), G(37), G(300) };
        if (step is 3 or 7) g[1] = null;
        if (step == 5) g[0] = null;
        if (nans && step == 4) g[2]![17] = float.NaN;
        return g;
    }

    private static void AssertClose(string what, float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            bool same = (double.IsNaN(e) && double.IsNaN(a)) || Math.Abs(a - e) <= 1e-5 + 1e-4 * Math.Abs(e);
            if (!same) Assert.Fail($"{what}[{i}]: CPU {e}, device {a}");
        }
    }

    /// <summary>Two JSON trees alike: the same keys and shapes, numbers within SPEC's tolerance.</summary>
    private static void AssertSameJson(string path, JsonElement cpu, JsonElement device)
    {
        Assert.Equal(cpu.ValueKind, device.ValueKind);
        switch (cpu.ValueKind)
        {
            case JsonValueKind.Object:
                Assert.Equal(cpu.EnumerateObject().Select(p => p.Name).Order(), device.EnumerateObject().Select(p => p.Name).Order());
                foreach (var p in cpu.EnumerateObject()) AssertSameJson($"{path}.{p.Name}", p.Value, device.GetProperty(p.Name));
                break;
            case JsonValueKind.Array:
                Assert.Equal(cpu.GetArrayLength(), device.GetArrayLength());
                for (int i = 0; i < cpu.GetArrayLength(); i++) AssertSameJson($"{path}[{i}]", cpu[i], device[i]);
                break;
            case JsonValueKind.Number:
                AssertClose(path, [cpu.GetSingle()], [device.GetSingle()]);
                break;
            default:
                Assert.Equal(cpu.ToString(), device.ToString());
                break;
        }
    }

    /// <summary>The same optimizer over the same parameters twice: on the CPU, and on the device.</summary>
    private static (Parameter[] CpuParams, Parameter[] DevParams, Optimizer Cpu, Optimizer Dev) Side_by_side(
        Func<IEnumerable<ParamGroup>, Optimizer> make, int seed)
    {
        var cpuParams = Params(seed);
        var devParams = Params(seed);
        var dev = make(Groups(devParams));
        dev.Device = DeviceSetup.Device;
        return (cpuParams, devParams, make(Groups(cpuParams)), dev);
    }

    /// <summary>Gives both sides step <paramref name="step"/>'s gradients (see <see cref="Grads"/>), each its own copy.</summary>
    private static void Feed(int step, bool nans, Parameter[] a, Parameter[] b)
    {
        var grads = Grads(step, nans);
        for (int i = 0; i < grads.Length; i++)
        {
            a[i].Grad = grads[i] is { } g ? (float[])g.Clone() : null;
            b[i].Grad = grads[i] is { } h ? (float[])h.Clone() : null;
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void The_device_step_equals_the_CPU_step(string name)
    {
        var entry = Table.Single(t => t.Name == name);
        var (cpuParams, devParams, cpu, dev) = Side_by_side(entry.Make, 7);
        for (int step = 1; step <= 12; step++)
        {
            Feed(step, entry.NaNs, cpuParams, devParams);
            cpu.Step();
            dev.Step();
            for (int i = 0; i < 3; i++) AssertClose($"{name}: step {step}, tensor {i}", cpuParams[i].Data, devParams[i].Data);
        }
        using var a = JsonDocument.Parse(cpu.StateDict().ToJson());
        using var b = JsonDocument.Parse(dev.StateDict().ToJson());
        AssertSameJson("state_dict", a.RootElement, b.RootElement);
    }

    [Theory]
    [InlineData("Adam")]
    [InlineData("SGD momentum dampening wd")]
    [InlineData("RMSprop centered momentum wd")]
    public void On_the_CPU_accelerator_the_device_step_is_the_CPU_step_bit_for_bit(string name)
    {
        var entry = Table.Single(t => t.Name == name);
        var (cpuParams, devParams, cpu, dev) = Side_by_side(entry.Make, 3);
        for (int step = 1; step <= 8; step++)
        {
            Feed(step, false, cpuParams, devParams);
            cpu.Step();
            dev.Step();
        }
        for (int i = 0; i < 3; i++) Assert.Equal(cpuParams[i].Data, devParams[i].Data);
        Assert.Equal(cpu.StateDict().ToJson(), dev.StateDict().ToJson());
    }

    [Fact]
    public void A_chain_with_a_reduction_after_its_first_pass_runs_every_pass_on_the_device()
    {
        using var device = GpuDevice.CpuAccelerator();
        var (cpuParams, devParams) = (Params(4), Params(4));
        Optimizer Make(Parameter[] ps) => new ComposedOptimizer(Groups(ps), T.Chain(T.ScaleByAdam(), T.ClipByGlobalNorm(0.1), T.ScaleByLearningRate(0.01)));
        var cpu = Make(cpuParams);
        var dev = Make(devParams);
        dev.Device = device;
        for (int step = 1; step <= 6; step++)
        {
            Feed(step, false, cpuParams, devParams);
            cpu.Step();
            dev.Step();
            for (int i = 0; i < 3; i++) AssertClose($"step {step}, tensor {i}", cpuParams[i].Data, devParams[i].Data);
        }
        // Adam's pass ends in updates on the device (a StoreStage), which the clip's pass reads after a device reduction
        Assert.Contains(device.ProgramTypes, t => t.ToString().Contains(nameof(StoreStage)));
        Assert.Contains(device.ProgramTypes, t => t.ToString().Contains(nameof(ClipByGlobalNormElement)));
    }

    [Fact]
    public void The_state_moves_with_the_device_and_a_checkpoint_loads_on_either()
    {
        var cpuParams = Params(11);
        var devParams = Params(11);
        var cpu = new Adam(Groups(cpuParams), lr: 0.01, amsgrad: true);
        var dev = new Adam(Groups(devParams), lr: 0.01, amsgrad: true);
        for (int step = 1; step <= 9; step++)
        {
            // CPU for 3 steps, the device for 3, back to the CPU, then a checkpoint taken on the CPU loaded on the device
            if (step == 4) dev.Device = DeviceSetup.Device;
            if (step == 7) dev.Device = Device.Cpu;
            if (step == 8)
            {
                var json = dev.StateDict().ToJson();
                dev = new Adam(Groups(devParams), lr: 0.01, amsgrad: true) { Device = DeviceSetup.Device };
                dev.LoadStateDict(StateDict.FromJson(json));
            }
            Feed(step, false, cpuParams, devParams);
            cpu.Step();
            dev.Step();
            for (int i = 0; i < 3; i++) AssertClose($"step {step}, tensor {i}", cpuParams[i].Data, devParams[i].Data);
        }
        Assert.Equal(cpu.StateDict().ToJson(), dev.StateDict().ToJson());
    }

    [Fact]
    public void An_optimizer_whose_step_is_not_a_chain_of_blocks_refuses_a_device_naming_it()
    {
        var ps = Params(1);
        var lbfgs = new LBFGS(ps);
        var e = Assert.Throws<NotSupportedException>(() => lbfgs.Device = DeviceSetup.Device);
        Assert.Contains("LBFGS", e.Message);
        Assert.Contains(DeviceSetup.Device.Name, e.Message);
        Assert.Same(Device.Cpu, lbfgs.Device);
    }

    [Fact]
    public void A_sparse_gradient_on_a_device_fails_before_anything_changes()
    {
        var ps = Params(2);
        var sgd = new SGD(ps, lr: 0.1) { Device = DeviceSetup.Device };
        var before = ps.Select(p => (float[])p.Data.Clone()).ToArray();
        ps[0].Grad = [1, 1, 1, 1, 1];
        ps[1].AccumulateSparseGrad([0], [1f]);
        var e = Assert.Throws<InvalidOperationException>(() => sgd.Step());
        Assert.Contains("sparse", e.Message);
        for (int i = 0; i < ps.Length; i++) Assert.Equal(before[i], ps[i].Data);
    }
}
