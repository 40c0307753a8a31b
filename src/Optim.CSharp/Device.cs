namespace Optim.CSharp;

/// <summary>
/// Where an optimizer keeps its state and runs its step: the CPU (<see cref="Cpu"/>, the default), or an accelerator
/// that a device package provides (<c>Optim.Gpu</c>'s <c>GpuDevice</c>: CUDA, or ILGPU's CPU accelerator). Chosen at
/// construction, with an object initializer:
/// <code>
/// var adam = new Adam(model.Parameters(), lr: 1e-3) { Device = gpu };
/// </code>
/// On a device, <see cref="Optimizer.Step"/> launches the kernels derived from the optimizer's chain of elementwise
/// blocks; the parameters and gradients stay where the model keeps them (the CPU's arrays), and
/// <see cref="Optimizer.StateDict"/> downloads the state, giving the same JSON as on the CPU.
/// </summary>
public abstract class Device
{
    private protected Device() { }

    /// <summary>The CPU: the optimizer steps with the core's fused SIMD passes, over its own arrays.</summary>
    public static Device Cpu { get; } = new CpuDevice();

    /// <summary>A short description of the device, e.g. <c>cpu</c> or <c>cuda:0 (NVIDIA H200)</c>.</summary>
    public abstract string Name { get; }

    /// <summary>The device's engine for one optimizer, or null for the CPU.</summary>
    internal abstract DeviceBackend? CreateBackend(Optimizer optimizer);

    /// <summary>The device's <see cref="Name"/>.</summary>
    /// <returns>The name.</returns>
    public override string ToString() => Name;

    private sealed class CpuDevice : Device
    {
        public override string Name => "cpu";
        internal override DeviceBackend? CreateBackend(Optimizer optimizer) => null;
    }
}

/// <summary>
/// One optimizer's engine on a device: it holds the state buffers of the optimizer's fused passes on the device (the
/// host's arrays in <see cref="Optimizer"/>'s core state are then a mirror, brought up to date by
/// <see cref="SyncToHost"/>), and steps every group.
/// </summary>
internal abstract class DeviceBackend
{
    /// <summary>Steps every param group through its fused pass on the device (after the optimizer prepared its chains).</summary>
    public abstract void Step();

    /// <summary>Whether the device runs every pass of this group's chain, the stages before its last pass included,
    /// with the reductions that start them (else those stages run on the host, and the device runs the last pass).</summary>
    public virtual bool RunsPasses(GroupChain chain) => false;

    /// <summary>The step over the gradients and parameters the device already holds, without transfers (for benchmarks).</summary>
    public virtual void StepResident() => Step();

    /// <summary>Copies the device's state into the host's arrays, if a step has changed it since the last copy.</summary>
    public abstract void SyncToHost();

    /// <summary>Forgets the device's copy of the state: the host's arrays are the state; the next step uploads them.</summary>
    public abstract void Reset();
}
