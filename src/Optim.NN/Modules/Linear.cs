using Optim.CSharp;

namespace Optim.NN;

/// <summary>
/// The affine layer <c>y = x·Wᵀ + b</c> (<c>torch.nn.Linear</c>), with PyTorch's initialisation: every weight and
/// bias uniform in <c>±1/√inFeatures</c> (the bound of <c>kaiming_uniform_(a=√5)</c>).
/// </summary>
public sealed class Linear : Module
{
    private readonly Tensor _weight;
    private readonly Tensor? _bias;

    /// <summary>A linear layer with freshly initialised parameters.</summary>
    /// <param name="inFeatures">The size of each input row.</param>
    /// <param name="outFeatures">The size of each output row.</param>
    /// <param name="bias">Whether the layer adds a learnt bias.</param>
    /// <param name="random">The generator for the initial values, drawn weight first (row-major) then bias, as
    /// PyTorch does; share one seeded generator across layers for a reproducible model. Null: <see cref="Random.Shared"/>.</param>
    /// <exception cref="ArgumentException">A feature count is negative.</exception>
    public Linear(int inFeatures, int outFeatures, bool bias = true, Random? random = null)
    {
        if (inFeatures < 0) throw new ArgumentException($"inFeatures must be 0 or more, but is {inFeatures}.", nameof(inFeatures));
        if (outFeatures < 0) throw new ArgumentException($"outFeatures must be 0 or more, but is {outFeatures}.", nameof(outFeatures));
        random ??= Random.Shared;
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = new Parameter(Init.KaimingUniform(random, outFeatures * inFeatures, inFeatures), outFeatures, inFeatures) { Name = "weight" };
        _weight = Tensor.FromParameter(Weight);
        if (bias)
        {
            Bias = new Parameter(Init.Uniform(random, outFeatures, Init.BiasBound(inFeatures)), outFeatures) { Name = "bias" };
            _bias = Tensor.FromParameter(Bias);
        }
    }

    /// <summary>The size of each input row.</summary>
    public int InFeatures { get; }

    /// <summary>The size of each output row.</summary>
    public int OutFeatures { get; }

    /// <summary>The weight, shape <c>[outFeatures, inFeatures]</c>.</summary>
    public Parameter Weight { get; }

    /// <summary>The bias, shape <c>[outFeatures]</c>, or null for a layer without one.</summary>
    public Parameter? Bias { get; }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The input's last extent is not <see cref="InFeatures"/>.</exception>
    public override Tensor Forward(Tensor input) => Functional.Linear(input, _weight, _bias);

    /// <summary><c>weight</c>, then <c>bias</c> if any.</summary>
    protected override IEnumerable<(string Name, Parameter Parameter)> RegisteredParameters() =>
        Bias is null ? [("weight", Weight)] : [("weight", Weight), ("bias", Bias)];
}
