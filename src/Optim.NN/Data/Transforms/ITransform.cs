namespace Optim.NN.Transforms;

/// <summary>
/// A per-sample transform for <see cref="DataLoader"/> (as <c>torchvision.transforms</c>' tensor transforms): it maps
/// one sample (an image <c>[C, H, W]</c>, or whatever a dataset's first-dimension slice is) to a new one, drawing
/// any random choice from the generator it is given, and writes into a buffer the caller owns, so that making a
/// batch allocates nothing per sample.
/// </summary>
/// <remarks>
/// The loader asks for <see cref="OutputShape"/> once, when it is built (which is where a transform that does not
/// fit the samples is rejected), then calls <see cref="Apply"/> once per sample of every batch. A transform keeps
/// no per-sample state, so one instance can serve several loaders.
/// </remarks>
/// <example><code>
/// var augment = new Compose(new RandomCrop(32, padding: 4), new RandomHorizontalFlip(),
///                           new Normalize([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]));
/// var loader = new DataLoader(cifar.Train, batchSize: 128, shuffle: true, seed: 0, transform: augment);
/// </code></example>
public interface ITransform
{
    /// <summary>The shape of a transformed sample.</summary>
    /// <param name="shape">The shape of a sample before the transform (without the batch dimension).</param>
    /// <returns>A new array.</returns>
    /// <exception cref="ArgumentException">The transform does not fit samples of this shape (the message names the
    /// transform's argument that does not fit, and the shape).</exception>
    int[] OutputShape(ReadOnlySpan<int> shape);

    /// <summary>Transforms one sample.</summary>
    /// <param name="input">The sample, row-major, of shape <paramref name="shape"/>; it is not written.</param>
    /// <param name="shape">The sample's shape, one that <see cref="OutputShape"/> accepts.</param>
    /// <param name="output">Where the transformed sample goes: exactly as many elements as <see cref="OutputShape"/>
    /// gives, not overlapping <paramref name="input"/>.</param>
    /// <param name="random">The generator for the transform's random choices.</param>
    /// <exception cref="ArgumentException">The shape does not fit the transform, or a span's length does not fit the shapes.</exception>
    void Apply(ReadOnlySpan<float> input, ReadOnlySpan<int> shape, Span<float> output, Random random);
}
