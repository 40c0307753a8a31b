using System.Collections.Concurrent;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using Optim.CSharp;

namespace Optim.Gpu;

/// <summary>
/// An accelerator that optimizers can keep their state on and step with fused kernels, through ILGPU: a CUDA GPU
/// (<see cref="Cuda"/>), or ILGPU's CPU accelerator (<see cref="CpuAccelerator"/>), which runs the same kernels on the
/// CPU, slowly, for tests on machines without a GPU. Give it to an optimizer at construction:
/// <code>
/// using var gpu = GpuDevice.CudaAvailable ? GpuDevice.Cuda() : GpuDevice.CpuAccelerator();
/// var adam = new Adam(model.Parameters(), lr: 1e-3) { Device = gpu };
/// </code>
/// One device may serve several optimizers; dispose of it after them.
/// </summary>
public sealed class GpuDevice : Optim.CSharp.Device, IDisposable
{
    private readonly Context _context;
    private readonly ConcurrentDictionary<string, IStepKernel> _kernels = new();
    private bool _disposed;

    private GpuDevice(Context context, Accelerator accelerator, string name)
    {
        _context = context;
        Accelerator = accelerator;
        Name = name;
    }

    /// <summary>Whether this machine has a CUDA GPU that ILGPU can use (a driver, and at least one device).</summary>
    public static bool CudaAvailable
    {
        get
        {
            try
            {
                using var context = Context.Create(b => b.Cuda());
                return context.GetCudaDevices().Count > 0;
            }
            catch (Exception) { return false; }
        }
    }

    /// <summary>The CUDA GPU <paramref name="index"/>.</summary>
    /// <param name="index">Which GPU, from 0.</param>
    /// <returns>The device.</returns>
    /// <exception cref="InvalidOperationException">There is no CUDA GPU at that index (see <see cref="CudaAvailable"/>).</exception>
    public static GpuDevice Cuda(int index = 0)
    {
        Context? context = null;
        try
        {
            context = Context.Create(b => b.Cuda().Optimize(OptimizationLevel.O2));
            int count = context.GetCudaDevices().Count;
            if (index < 0 || index >= count)
                throw new InvalidOperationException($"There is no CUDA GPU {index} (index = {index}): this machine has {count}.");
            var accelerator = context.CreateCudaAccelerator(index);
            return new GpuDevice(context, accelerator, $"cuda:{index} ({accelerator.Name})");
        }
        catch (Exception e) when (e is not InvalidOperationException)
        {
            context?.Dispose();
            throw new InvalidOperationException($"No CUDA GPU can be used here (index = {index}): {e.Message}", e);
        }
        catch
        {
            context?.Dispose();
            throw;
        }
    }

    /// <summary>ILGPU's CPU accelerator: the device kernels, run on the CPU (slow; for tests and machines without a GPU).</summary>
    /// <returns>The device.</returns>
    public static GpuDevice CpuAccelerator()
    {
        var context = Context.Create(b => b.CPU().Optimize(OptimizationLevel.O1));
        return new GpuDevice(context, context.CreateCPUAccelerator(0), "ilgpu-cpu");
    }

    /// <inheritdoc/>
    public override string Name { get; }

    /// <summary>Whether this is a CUDA GPU (not the CPU accelerator).</summary>
    public bool IsCuda => Accelerator.AcceleratorType == AcceleratorType.Cuda;

    /// <summary>The device's memory in bytes.</summary>
    public long MemoryBytes => Accelerator.MemorySize;

    internal Accelerator Accelerator { get; }

    /// <summary>Held while an optimizer uses the accelerator: its launches and copies, one optimizer at a time.</summary>
    internal object Gate { get; } = new();

    /// <summary>A new buffer of <paramref name="length"/> float32 values on this device, filled with zeros.</summary>
    /// <param name="length">How many values.</param>
    /// <returns>The buffer.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is negative.</exception>
    public DeviceBuffer Allocate(long length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), length, "A buffer's length cannot be negative.");
        return new DeviceBuffer(this, length);
    }

    /// <summary>Waits until every kernel and copy queued on the device has finished.</summary>
    public void Synchronize() => Accelerator.Synchronize();

    internal override DeviceBackend CreateBackend(Optimizer optimizer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new GpuBackend(this, optimizer);
    }

    /// <summary>The kernel of a program, loaded (compiled) the first time its key is asked for.</summary>
    internal IStepKernel Kernel(string key, Func<(Type Type, object Value)> build) =>
        _kernels.GetOrAdd(key, _ =>
        {
            var (type, value) = build();
            return (IStepKernel)Activator.CreateInstance(typeof(StepKernel<>).MakeGenericType(type), Accelerator, value)!;
        });

    /// <summary>The program types of the kernels compiled so far.</summary>
    internal IEnumerable<Type> ProgramTypes => _kernels.Values.Select(k => k.ProgramType);

    /// <summary>How many distinct kernels this device has compiled (one per chain structure).</summary>
    public int CompiledKernels => _kernels.Count;

    /// <summary>Frees the accelerator; the optimizers that use it can no longer step.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Accelerator.Dispose();
        _context.Dispose();
    }
}

/// <summary>A buffer of float32 values in a device's memory, with upload and download.</summary>
public sealed class DeviceBuffer : IDisposable
{
    internal DeviceBuffer(GpuDevice device, long length)
    {
        Device = device;
        Length = length;
        Memory = device.Accelerator.Allocate1D<float>(Math.Max(1, length));
        Memory.MemSetToZero();
    }

    internal MemoryBuffer1D<float, Stride1D.Dense> Memory { get; }

    internal ArrayView<float> View => Memory.View;

    /// <summary>The device it lives on.</summary>
    public GpuDevice Device { get; }

    /// <summary>How many values it holds.</summary>
    public long Length { get; }

    /// <summary>Copies <paramref name="source"/> into the buffer from element <paramref name="offset"/>.</summary>
    /// <param name="source">The values.</param>
    /// <param name="offset">Where they go.</param>
    /// <exception cref="ArgumentOutOfRangeException">They do not fit.</exception>
    public void Upload(ReadOnlySpan<float> source, long offset = 0)
    {
        Check(offset, source.Length);
        if (source.Length == 0) return;
        Memory.View.SubView(offset, source.Length).CopyFromCPU(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(source), source.Length);
    }

    /// <summary>Copies the buffer's values from element <paramref name="offset"/> into <paramref name="destination"/>.</summary>
    /// <param name="destination">Where they go.</param>
    /// <param name="offset">The first value.</param>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the buffer.</exception>
    public void Download(Span<float> destination, long offset = 0)
    {
        Check(offset, destination.Length);
        if (destination.Length == 0) return;
        Memory.View.SubView(offset, destination.Length).CopyToCPU(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(destination), destination.Length);
    }

    /// <summary>The whole buffer, downloaded.</summary>
    /// <returns>Its values.</returns>
    public float[] ToArray()
    {
        var a = new float[Length];
        Download(a);
        return a;
    }

    private void Check(long offset, long count)
    {
        if (offset < 0 || offset > Length - count)
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"{count} values from offset {offset} do not fit a buffer of {Length}.");
    }

    /// <summary>Frees the device memory.</summary>
    public void Dispose() => Memory.Dispose();
}
