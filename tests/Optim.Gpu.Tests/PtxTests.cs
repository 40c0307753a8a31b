using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Optim.CSharp;
using T = Optim.CSharp.Transformation;

namespace Optim.Gpu.Tests;

/// <summary>
/// Without a GPU: the kernels the device path derives from the optimizers' chains compile to PTX for the H100/H200's
/// sm_90 with ILGPU's own PTX backend (no CUDA driver needed), so a CUDA machine gets kernels that its driver then JITs.
/// (ILGPU 1.5.3 targets sm_80 PTX for sm_90, which the driver compiles for the device.)
/// </summary>
public sealed class PtxTests
{
    [Fact]
    public void Every_kernel_the_optimizers_need_compiles_to_PTX_for_an_sm_90_device()
    {
        using var device = GpuDevice.CpuAccelerator();
        Parameter[] Ps() => [new Parameter([1f, 2f, 3f], 3), new Parameter([4f, -5f], 2)];
        var optimizers = new Func<Parameter[], Optimizer>[]
        {
            ps => new SGD(ps, lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01, maximize: true),
            ps => new Adam(ps, amsgrad: true, weightDecay: 0.1),
            ps => new AdamW(ps),
            ps => new Adagrad(ps),
            ps => new RMSprop(ps, momentum: 0.9, centered: true),
            ps => new Adadelta(ps),
            ps => new Adamax(ps),
            ps => new NAdam(ps),
            ps => new RAdam(ps),
            ps => new ASGD(ps, t0: 0),
            ps => new Rprop(ps),
            ps => new ComposedOptimizer(ps, T.Chain(T.ZeroNans(), T.ClipByValue(1), T.TraceByLerp(), T.ScaleByLearningRate(0.1))),
            ps => new ComposedOptimizer(ps, T.MultiSteps(T.Chain(T.ClipByGlobalNorm(1), T.Adam()), 2)),
        };
        foreach (var make in optimizers)
        {
            var ps = Ps();
            var o = make(ps);
            o.Device = device;
            for (int s = 0; s < 3; s++)
            {
                foreach (var p in ps) p.Grad = Enumerable.Repeat(0.5f, p.Numel).ToArray();
                o.Step();
            }
        }
        var types = device.ProgramTypes.ToArray();
        Assert.True(types.Length >= optimizers.Length, $"only {types.Length} kernels were compiled");

        using var context = Context.Create(b => b.Optimize(OptimizationLevel.O2));
        using var backend = new PTXBackend(context, CudaArchitecture.SM_90, CudaInstructionSet.ISA_85, null!);
        var run = typeof(StepKernel).GetMethod(nameof(StepKernel.Run))!;
        foreach (var type in types)
        {
            var entry = EntryPointDescription.FromImplicitlyGroupedKernel(run.MakeGenericMethod(type));
            var compiled = (PTXCompiledKernel)backend.Compile(entry, new KernelSpecialization());
            // ILGPU 1.5.3 writes `.target sm_80` for an sm_90 device (PTX is forward compatible: the driver JITs it for sm_90)
            var target = System.Text.RegularExpressions.Regex.Match(compiled.PTXAssembly, @"\.target sm_(\d+)");
            Assert.True(target.Success && int.Parse(target.Groups[1].Value) <= 90, compiled.PTXAssembly[..Math.Min(300, compiled.PTXAssembly.Length)]);
            Assert.Contains(".entry", compiled.PTXAssembly);
        }
    }
}
