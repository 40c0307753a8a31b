namespace Optim.NN;

/// <summary>
/// Dropout (<c>torch.nn.Dropout</c>): in training mode each element is zeroed with probability <see cref="P"/> and the
/// others are scaled by <c>1/(1 − p)</c>, so the expected output is the input; in evaluation mode it is the identity.
/// Any rank. Srivastava et al., <em>Dropout: A Simple Way to Prevent Neural Networks from Overfitting</em> (2014).
/// </summary>
/// <remarks>The mask is drawn from the layer's <see cref="Random"/>, one draw per element in row-major order, so a seeded
/// generator gives the same masks on every run (not PyTorch's masks: its generator is another one). The gradient is the
/// mask times the scale.</remarks>
/// <example><code>var model = new Sequential(new Linear(784, 128, random: rng), new ReLU(), new Dropout(0.2, rng), new Linear(128, 10, random: rng));</code></example>
public sealed class Dropout : Module
{
    private readonly Random _random;

    /// <summary>A dropout layer.</summary>
    /// <param name="p">The probability of zeroing an element, in [0, 1].</param>
    /// <param name="random">The generator of the masks. Null: <see cref="System.Random.Shared"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="p"/> is outside [0, 1] (PyTorch: dropout probability has to be between 0 and 1).</exception>
    public Dropout(double p = 0.5, Random? random = null)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentException($"The dropout probability p must be in [0, 1], but is {p}.", nameof(p));
        P = p;
        _random = random ?? System.Random.Shared;
    }

    /// <summary>The probability of zeroing an element.</summary>
    public double P { get; }

    /// <inheritdoc />
    /// <returns>In training mode a new tensor, <c>input · mask / (1 − p)</c>; in evaluation mode the input itself, as PyTorch.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="input"/> is null.</exception>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return Training ? Ops.Dropout.Apply(input, P, _random) : input;
    }
}
