using System.Runtime.CompilerServices;
using Optim.CSharp.Tests;

namespace Optim.Gpu.Tests;

/// <summary>The device every test here steps on: ILGPU's CPU accelerator, one for the whole run.</summary>
internal static class DeviceSetup
{
    private static readonly Lazy<GpuDevice> s_device = new(GpuDevice.CpuAccelerator);

    /// <summary>The shared CPU accelerator.</summary>
    public static GpuDevice Device => s_device.Value;

    /// <summary>Before any test is discovered: the facade's replays build their optimizers on the device.</summary>
    [ModuleInitializer]
    internal static void Init() => GoldenFixtures.Device = Device;
}

/// <summary>A test that needs a CUDA GPU: skipped, saying so, where there is none.</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    /// <summary>Skips the test unless ILGPU finds a CUDA GPU.</summary>
    public CudaFactAttribute()
    {
        if (!GpuDevice.CudaAvailable) Skip = "needs a CUDA GPU: none here";
    }
}
