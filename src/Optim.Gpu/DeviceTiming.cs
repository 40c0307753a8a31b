using System.Diagnostics;
using Optim.CSharp;

namespace Optim.Gpu;

/// <summary>Times an optimizer's step on its device, for benchmarks.</summary>
public static class DeviceTiming
{
    /// <summary>
    /// The wall-clock seconds of each of <paramref name="steps"/> device steps over the gradients and parameters the
    /// device already holds (after one ordinary <see cref="Optimizer.Step"/> has uploaded them): the kernels and the
    /// host's per-step preparation, without the transfers a model on the CPU pays. The host's parameters do not follow
    /// these steps.
    /// </summary>
    /// <param name="optimizer">An optimizer on a <see cref="GpuDevice"/>, whose parameters have gradients.</param>
    /// <param name="steps">How many steps to time, each on its own.</param>
    /// <returns>The seconds of each step.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="steps"/> is not positive.</exception>
    /// <exception cref="InvalidOperationException">The optimizer is not on a device.</exception>
    public static double[] SecondsPerStep(Optimizer optimizer, int steps)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        if (steps <= 0) throw new ArgumentOutOfRangeException(nameof(steps), steps, "At least one step must be timed.");
        if (optimizer.Device is not GpuDevice device)
            throw new InvalidOperationException($"The optimizer is on {optimizer.Device.Name}, not on a GpuDevice.");
        optimizer.Step();
        var times = new double[steps];
        for (int s = 0; s < steps; s++)
        {
            var clock = Stopwatch.StartNew();
            optimizer.StepResidentOnDevice();
            device.Synchronize();
            times[s] = clock.Elapsed.TotalSeconds;
        }
        return times;
    }
}
