namespace Optim.NN;

/// <summary>
/// The Fashion-MNIST data set (Xiao, Rasul &amp; Vollgraf, 2017): 60,000 training and 10,000 test images of 28×28
/// grey pixels in 10 classes, read from the four IDX files of its distribution.
/// </summary>
public sealed class FashionMnist
{
    /// <summary>The class names, by label.</summary>
    public static IReadOnlyList<string> Classes { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    private FashionMnist(Tensor trainImages, byte[] trainLabels, Tensor testImages, byte[] testLabels)
    {
        TrainImages = trainImages;
        TrainLabels = trainLabels;
        TestImages = testImages;
        TestLabels = testLabels;
    }

    /// <summary>
    /// Reads <c>train-images-idx3-ubyte</c>, <c>train-labels-idx1-ubyte</c>, <c>t10k-images-idx3-ubyte</c> and
    /// <c>t10k-labels-idx1-ubyte</c> from a directory, each with or without a <c>.gz</c> suffix. Works for MNIST too.
    /// </summary>
    /// <param name="directory">The directory.</param>
    /// <exception cref="FileNotFoundException">A file is missing.</exception>
    /// <exception cref="InvalidDataException">A file is not valid IDX, or a label file does not hold one label per image.</exception>
    public static FashionMnist Load(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        return Load(name => File.OpenRead(Find(directory, name)));
    }

    /// <summary>
    /// Reads the four files from wherever <paramref name="open"/> finds them (embedded resources, an archive, …):
    /// it gets each file's name without suffix (<c>train-images-idx3-ubyte</c>, <c>train-labels-idx1-ubyte</c>,
    /// <c>t10k-images-idx3-ubyte</c>, <c>t10k-labels-idx1-ubyte</c>) and returns its bytes, gzip-compressed or plain.
    /// </summary>
    /// <param name="open">Opens a file by name; the stream is disposed after reading.</param>
    /// <exception cref="InvalidDataException">A file is not valid IDX, or a label file does not hold one label per image.</exception>
    public static FashionMnist Load(Func<string, Stream> open)
    {
        ArgumentNullException.ThrowIfNull(open);
        Tensor Images(string name) { using var s = open(name); return Idx.ReadImages(s, name); }
        byte[] Labels(string name) { using var s = open(name); return Idx.ReadLabels(s, name); }
        var trainImages = Images("train-images-idx3-ubyte");
        var trainLabels = Labels("train-labels-idx1-ubyte");
        var testImages = Images("t10k-images-idx3-ubyte");
        var testLabels = Labels("t10k-labels-idx1-ubyte");
        Check(trainImages, trainLabels, "training");
        Check(testImages, testLabels, "test");
        return new FashionMnist(trainImages, trainLabels, testImages, testLabels);
    }

    private static string Find(string directory, string name)
    {
        foreach (var candidate in new[] { name + ".gz", name })
        {
            var path = Path.Combine(directory, candidate);
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException($"Neither {name}.gz nor {name} is in '{directory}'.", Path.Combine(directory, name + ".gz"));
    }

    private static void Check(Tensor images, byte[] labels, string split)
    {
        if (images.Shape[0] != labels.Length)
            throw new InvalidDataException($"The {split} set has {images.Shape[0]} images but {labels.Length} labels.");
    }

    /// <summary>The training images, shape <c>[60000, 784]</c>, pixel/255 in [0, 1].</summary>
    public Tensor TrainImages { get; }

    /// <summary>The training labels, 0 to 9.</summary>
    public byte[] TrainLabels { get; }

    /// <summary>The test images, shape <c>[10000, 784]</c>, pixel/255 in [0, 1].</summary>
    public Tensor TestImages { get; }

    /// <summary>The test labels, 0 to 9.</summary>
    public byte[] TestLabels { get; }

    /// <summary>The training set as images and class indices, for a <see cref="DataLoader"/>.</summary>
    public TensorDataset Train => new(TrainImages, LabelsTensor(TrainLabels));

    /// <summary>The test set as images and class indices, for a <see cref="DataLoader"/>.</summary>
    public TensorDataset Test => new(TestImages, LabelsTensor(TestLabels));

    /// <summary>Labels as class indices held in float32, the form <see cref="CrossEntropyLoss"/> takes.</summary>
    /// <param name="labels">The labels.</param>
    public static Tensor LabelsTensor(byte[] labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var values = new float[labels.Length];
        for (int i = 0; i < labels.Length; i++) values[i] = labels[i];
        return new Tensor(values, labels.Length);
    }
}
