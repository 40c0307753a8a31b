using Optim.CSharp;

namespace Optim.Gpu.Tests;

/// <summary>Bad input to the device API fails naming the argument and the value, and changes nothing.</summary>
public sealed class BadInputTests
{
    [Fact]
    public void A_null_device_is_refused_and_the_optimizer_stays_where_it_was()
    {
        var adam = new Adam([new Parameter([1f, 2f], 2)]);
        var e = Assert.Throws<ArgumentNullException>(() => adam.Device = null!);
        Assert.Equal("value", e.ParamName);
        Assert.Same(Device.Cpu, adam.Device);
    }

    [Fact]
    public void A_negative_buffer_length_is_refused_naming_it()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => DeviceSetup.Device.Allocate(-3));
        Assert.Equal("length", e.ParamName);
        Assert.Equal(-3L, e.ActualValue);
    }

    [Fact]
    public void An_upload_or_download_outside_the_buffer_is_refused_and_leaves_it_as_it_was()
    {
        using var buffer = DeviceSetup.Device.Allocate(4);
        buffer.Upload([1f, 2f, 3f, 4f]);
        var up = Assert.Throws<ArgumentOutOfRangeException>(() => buffer.Upload([9f, 9f], offset: 3));
        Assert.Equal("offset", up.ParamName);
        Assert.Equal(3L, up.ActualValue);
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.Upload([9f], offset: -1));
        var down = Assert.Throws<ArgumentOutOfRangeException>(() => buffer.Download(new float[5]));
        Assert.Equal("offset", down.ParamName);
        Assert.Equal([1f, 2f, 3f, 4f], buffer.ToArray());
        var part = new float[2];
        buffer.Download(part, offset: 2);
        Assert.Equal([3f, 4f], part);
    }

    [Fact]
    public void Timing_needs_a_positive_step_count_and_an_optimizer_on_a_device()
    {
        var p = new Parameter([1f, 2f], 2) { Grad = [0.1f, 0.2f] };
        var onCpu = new SGD([p], lr: 0.1);
        var notOnDevice = Assert.Throws<InvalidOperationException>(() => DeviceTiming.SecondsPerStep(onCpu, 3));
        Assert.Contains("cpu", notOnDevice.Message);
        var onDevice = new SGD([p], lr: 0.1) { Device = DeviceSetup.Device };
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => DeviceTiming.SecondsPerStep(onDevice, 0));
        Assert.Equal("steps", e.ParamName);
        Assert.Equal(0, e.ActualValue);
        Assert.Equal([1f, 2f], p.Data);
        Assert.Equal(3, DeviceTiming.SecondsPerStep(onDevice, 3).Length);
    }
}
