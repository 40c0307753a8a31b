using Optim.CSharp;

namespace Optim.NN;

/// <summary>
/// A 2-D convolution layer over NCHW images (<c>torch.nn.Conv2d</c> with one group and no dilation), with PyTorch's
/// initialisation: every weight and bias uniform in <c>±1/√fanIn</c>, <c>fanIn = inChannels·kernelSize²</c> (the bound
/// of <c>kaiming_uniform_(a=√5)</c>). See <see cref="Functional.Conv2d(Tensor, Tensor, Tensor?, int, int)"/>.
/// </summary>
/// <example><code>var conv = new Conv2d(3, 32, 5, padding: 2, random: rng);   // [N, 3, 32, 32] → [N, 32, 32, 32]</code></example>
public sealed class Conv2d : Module
{
    private readonly Tensor _weight;
    private readonly Tensor? _bias;

    /// <summary>A convolution layer with freshly initialised parameters.</summary>
    /// <param name="inChannels">The channels of each input image.</param>
    /// <param name="outChannels">The channels of each output image (the number of filters).</param>
    /// <param name="kernelSize">The height and width of each filter.</param>
    /// <param name="stride">The step of the filter over the input.</param>
    /// <param name="padding">Zeros added on each side of the input.</param>
    /// <param name="bias">Whether the layer adds a learnt bias per output channel.</param>
    /// <param name="random">The generator for the initial values, drawn weight first (row-major) then bias, as
    /// PyTorch does; share one seeded generator across layers for a reproducible model. Null: <see cref="Random.Shared"/>.</param>
    /// <exception cref="ArgumentException">A channel count is negative, <paramref name="kernelSize"/> or
    /// <paramref name="stride"/> is not positive, or <paramref name="padding"/> is negative.</exception>
    public Conv2d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, bool bias = true, Random? random = null)
    {
        if (inChannels < 0) throw new ArgumentException($"inChannels must be 0 or more, but is {inChannels}.", nameof(inChannels));
        if (outChannels < 0) throw new ArgumentException($"outChannels must be 0 or more, but is {outChannels}.", nameof(outChannels));
        if (kernelSize <= 0) throw new ArgumentException($"kernelSize must be positive, but is {kernelSize}.", nameof(kernelSize));
        if (stride <= 0) throw new ArgumentException($"stride must be positive, but is {stride}.", nameof(stride));
        if (padding < 0) throw new ArgumentException($"padding must be 0 or more, but is {padding}.", nameof(padding));
        long count = (long)outChannels * inChannels * kernelSize * kernelSize;
        if (count > Array.MaxLength)
            throw new ArgumentException($"A weight of [{outChannels}, {inChannels}, {kernelSize}, {kernelSize}] holds too many elements.", nameof(kernelSize));
        random ??= Random.Shared;
        InChannels = inChannels;
        OutChannels = outChannels;
        KernelSize = kernelSize;
        Stride = stride;
        Padding = padding;
        int fanIn = inChannels * kernelSize * kernelSize;
        Weight = new Parameter(Init.KaimingUniform(random, (int)count, fanIn), outChannels, inChannels, kernelSize, kernelSize) { Name = "weight" };
        _weight = Tensor.FromParameter(Weight);
        if (bias)
        {
            Bias = new Parameter(Init.Uniform(random, outChannels, Init.BiasBound(fanIn)), outChannels) { Name = "bias" };
            _bias = Tensor.FromParameter(Bias);
        }
    }

    /// <summary>The channels of each input image.</summary>
    public int InChannels { get; }

    /// <summary>The channels of each output image.</summary>
    public int OutChannels { get; }

    /// <summary>The height and width of each filter.</summary>
    public int KernelSize { get; }

    /// <summary>The step of the filter over the input.</summary>
    public int Stride { get; }

    /// <summary>The zeros added on each side of the input.</summary>
    public int Padding { get; }

    /// <summary>The filters, shape <c>[outChannels, inChannels, kernelSize, kernelSize]</c>.</summary>
    public Parameter Weight { get; }

    /// <summary>The bias, shape <c>[outChannels]</c>, or null for a layer without one.</summary>
    public Parameter? Bias { get; }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The input is not <c>[N, inChannels, H, W]</c> or <c>[inChannels, H, W]</c>,
    /// or smaller than the kernel once padded.</exception>
    public override Tensor Forward(Tensor input) => Functional.Conv2d(input, _weight, _bias, Stride, Padding);

    /// <summary>The weight, then the bias if any.</summary>
    public override IEnumerable<Parameter> Parameters() => Bias is null ? [Weight] : [Weight, Bias];
}
