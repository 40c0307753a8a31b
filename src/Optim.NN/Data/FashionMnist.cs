namespace Optim.NN;

/// <summary>
/// The Fashion-MNIST data set (Xiao, Rasul &amp; Vollgraf, 2017): 60,000 training and 10,000 test images of 28×28
/// grey pixels in 10 classes, read from the four IDX files of its distribution: as rows of 784 pixels for an MLP, or,
/// through <see cref="AsImages"/>, as images <c>[N, 1, 28, 28]</c> (or zero-padded, <c>[N, 1, 32, 32]</c>) for a CNN.
/// </summary>
/// <example><code>
/// var flat = FashionMnist.Load("data/fashion-mnist-sample");                        // TrainImages [10000, 784]
/// var images = FashionMnist.Load("data/fashion-mnist-sample").AsImages();           // [10000, 1, 28, 28]
/// var padded = FashionMnist.Load("data/fashion-mnist-sample").AsImages(padding: 2); // [10000, 1, 32, 32]
/// </code></example>
public sealed class FashionMnist
{
    /// <summary>The class names, by label.</summary>
    public static IReadOnlyList<string> Classes { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>The rows and columns of an image of each split.</summary>
    private readonly (int Rows, int Columns) _trainSize, _testSize;

    private FashionMnist(Tensor trainImages, byte[] trainLabels, Tensor testImages, byte[] testLabels,
        (int Rows, int Columns) trainSize, (int Rows, int Columns) testSize)
    {
        TrainImages = trainImages;
        TrainLabels = trainLabels;
        TestImages = testImages;
        TestLabels = testLabels;
        _trainSize = trainSize;
        _testSize = testSize;
    }

    /// <summary>
    /// Reads <c>train-images-idx3-ubyte</c>, <c>train-labels-idx1-ubyte</c>, <c>t10k-images-idx3-ubyte</c> and
    /// <c>t10k-labels-idx1-ubyte</c> from a directory, each with or without a <c>.gz</c> suffix. Works for MNIST too.
    /// </summary>
    /// <param name="directory">The directory.</param>
    /// <exception cref="FileNotFoundException">A file is missing.</exception>
    /// <exception cref="InvalidDataException">A file is not valid IDX, a label file does not hold one label per image,
    /// or a label is above 9 (the message names the file and the label's byte offset in the uncompressed file).</exception>
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
    /// <exception cref="InvalidDataException">A file is not valid IDX, a label file does not hold one label per image,
    /// or a label is above 9 (the message names the file and the label's byte offset in the uncompressed file).</exception>
    public static FashionMnist Load(Func<string, Stream> open)
    {
        ArgumentNullException.ThrowIfNull(open);
        (Tensor Images, int Rows, int Columns) Images(string name) { using var s = open(name); return Idx.ReadImageFile(s, name); }
        byte[] Labels(string name)
        {
            byte[] labels;
            using (var s = open(name)) labels = Idx.ReadLabels(s, name);
            for (int i = 0; i < labels.Length; i++)
                if (labels[i] >= Classes.Count)
                    throw new InvalidDataException(
                        $"'{name}' has label {labels[i]} at byte offset {Idx.LabelsHeaderSize + i} (label {i}); Fashion-MNIST's labels are 0 to {Classes.Count - 1}.");
            return labels;
        }
        var train = Images("train-images-idx3-ubyte");
        var trainLabels = Labels("train-labels-idx1-ubyte");
        var test = Images("t10k-images-idx3-ubyte");
        var testLabels = Labels("t10k-labels-idx1-ubyte");
        Check(train.Images, trainLabels, "training");
        Check(test.Images, testLabels, "test");
        return new FashionMnist(train.Images, trainLabels, test.Images, testLabels, (train.Rows, train.Columns), (test.Rows, test.Columns));
    }

    /// <summary>
    /// The same data with the images as NCHW images for a convolutional network: <c>[N, 1, 28, 28]</c>, or with
    /// <paramref name="padding"/> zeros on each side <c>[N, 1, 28 + 2·padding, 28 + 2·padding]</c> (<c>padding: 2</c>
    /// gives the 32×32 images of LeNet-5 and of networks built for CIFAR-10), as
    /// <c>transforms.Pad(padding)</c> then <c>transforms.ToTensor()</c> make them.
    /// </summary>
    /// <param name="padding">The zero rows and columns added on each side, 0 or more.</param>
    /// <returns>A new <see cref="FashionMnist"/> with the same labels (shared). Without padding its images share this
    /// one's buffers (no copy); with padding they are a new copy.</returns>
    /// <exception cref="ArgumentException"><paramref name="padding"/> is negative, or the padded images would not fit in an array.</exception>
    /// <example><code>
    /// var data = FashionMnist.Load("data/fashion-mnist-sample").AsImages(padding: 2);
    /// Console.WriteLine(string.Join(", ", data.TrainImages.Shape));   // 10000, 1, 32, 32
    /// </code></example>
    public FashionMnist AsImages(int padding = 0)
    {
        if (padding < 0) throw new ArgumentException($"padding must be 0 or more, but is {padding}.", nameof(padding));
        var (train, trainSize) = Pad(TrainImages, _trainSize, padding);
        var (test, testSize) = Pad(TestImages, _testSize, padding);
        return new FashionMnist(train, TrainLabels, test, TestLabels, trainSize, testSize);
    }

    private static (Tensor Images, (int Rows, int Columns) Size) Pad(Tensor images, (int Rows, int Columns) size, int padding)
    {
        int n = images.Shape[0], h = size.Rows, w = size.Columns;
        if (padding == 0) return (new Tensor(images.Data, n, 1, h, w), size);
        long ph = h + 2L * padding, pw = w + 2L * padding;
        if (ph > int.MaxValue || pw > int.MaxValue || n * ph * pw > Array.MaxLength)
            throw new ArgumentException($"padding {padding} makes {n} images of {ph}×{pw} pixels, more than an array holds.", nameof(padding));
        int rows = (int)ph, columns = (int)pw;
        var data = new float[n * rows * columns];
        for (int i = 0; i < n; i++)
            for (int y = 0; y < h; y++)
                images.Data.AsSpan((i * h + y) * w, w).CopyTo(data.AsSpan((i * rows + y + padding) * columns + padding, w));
        return (new Tensor(data, n, 1, rows, columns), (rows, columns));
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

    /// <summary>The training images, shape <c>[60000, 784]</c> (after <see cref="AsImages"/>: <c>[60000, 1, H, W]</c>), pixel/255 in [0, 1].</summary>
    public Tensor TrainImages { get; }

    /// <summary>The training labels, 0 to 9.</summary>
    public byte[] TrainLabels { get; }

    /// <summary>The test images, shape <c>[10000, 784]</c> (after <see cref="AsImages"/>: <c>[10000, 1, H, W]</c>), pixel/255 in [0, 1].</summary>
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
