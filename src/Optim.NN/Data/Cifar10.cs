using System.Numerics.Tensors;

namespace Optim.NN;

/// <summary>
/// The CIFAR-10 data set (Krizhevsky, 2009): 50,000 training and 10,000 test colour images of 32×32 pixels in 10
/// classes, read from the binary version of its distribution (<c>cifar-10-binary.tar.gz</c>, unpacked:
/// <c>cifar-10-batches-bin</c>).
/// </summary>
/// <remarks>
/// Each file is a sequence of 3,073-byte records: one label byte (0 to 9), then 1,024 red, 1,024 green and 1,024 blue
/// bytes, each a row-major 32×32 plane — an image <c>[3, 32, 32]</c> as it lies in an NCHW tensor. The reader takes
/// as many records as the files hold and checks every file's length before it allocates anything.
/// </remarks>
/// <example><code>
/// var cifar = Cifar10.Load("data/cifar-10-batches-bin");
/// var loader = new DataLoader(cifar.Train, batchSize: 128, shuffle: true, seed: 0,
///     transform: new Compose(new RandomCrop(32, padding: 4), new RandomHorizontalFlip()));
/// </code></example>
public sealed class Cifar10
{
    /// <summary>The bytes of one record: a label, then the three 32×32 planes.</summary>
    private const int RecordSize = 1 + PixelsPerImage;

    private const int PixelsPerImage = 3 * 32 * 32;

    /// <summary>The training files, in the order their images are concatenated.</summary>
    private static readonly string[] TrainFiles =
        ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];

    private const string TestFile = "test_batch.bin";

    /// <summary>The class names, by label (as in <c>batches.meta.txt</c>).</summary>
    public static IReadOnlyList<string> Classes { get; } =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    private Cifar10(Tensor trainImages, byte[] trainLabels, Tensor testImages, byte[] testLabels)
    {
        TrainImages = trainImages;
        TrainLabels = trainLabels;
        TestImages = testImages;
        TestLabels = testLabels;
    }

    /// <summary>Reads <c>data_batch_1.bin</c> … <c>data_batch_5.bin</c> and <c>test_batch.bin</c> from a directory.</summary>
    /// <param name="directory">The directory (<c>cifar-10-batches-bin</c> of the distribution).</param>
    /// <exception cref="ArgumentNullException"><paramref name="directory"/> is null.</exception>
    /// <exception cref="FileNotFoundException">A file is missing (the first missing one is named); nothing was read.</exception>
    /// <exception cref="InvalidDataException">A file is empty, its length is not a whole number of 3,073-byte
    /// records, or a record's label is above 9; the message names the file and the byte offset.</exception>
    public static Cifar10 Load(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        foreach (var name in TrainFiles.Append(TestFile))
        {
            var path = Path.Combine(directory, name);
            if (!File.Exists(path)) throw new FileNotFoundException($"'{path}' is missing: CIFAR-10 needs {string.Join(", ", TrainFiles)} and {TestFile}.", path);
        }
        return Load(name => File.OpenRead(Path.Combine(directory, name)), name => Path.Combine(directory, name));
    }

    /// <summary>
    /// Reads the six files from wherever <paramref name="open"/> finds them (embedded resources, an archive, …): it
    /// gets each file's name (<c>data_batch_1.bin</c> … <c>data_batch_5.bin</c>, <c>test_batch.bin</c>) and returns
    /// its bytes. All six are opened, and their lengths checked, before any is read; each is disposed at the end.
    /// </summary>
    /// <param name="open">Opens a file by name. A stream that cannot seek is first read into memory to learn its length.</param>
    /// <exception cref="ArgumentNullException"><paramref name="open"/> is null, or returned null.</exception>
    /// <exception cref="InvalidDataException">A file is empty, its length is not a whole number of 3,073-byte
    /// records, or a record's label is above 9; the message names the file and the byte offset.</exception>
    public static Cifar10 Load(Func<string, Stream> open)
    {
        ArgumentNullException.ThrowIfNull(open);
        return Load(open, name => name);
    }

    private static Cifar10 Load(Func<string, Stream> open, Func<string, string> describe)
    {
        var names = TrainFiles.Append(TestFile).ToArray();
        var streams = new List<Stream>(names.Length);
        try
        {
            var records = new long[names.Length];
            for (int f = 0; f < names.Length; f++)
            {
                var stream = open(names[f]) ?? throw new ArgumentNullException(nameof(open), $"open returned null for '{names[f]}'.");
                if (!stream.CanSeek)
                {
                    var copy = new MemoryStream();
                    using (stream) stream.CopyTo(copy);
                    copy.Position = 0;
                    stream = copy;
                }
                streams.Add(stream);
                records[f] = Records(stream.Length - stream.Position, describe(names[f]));
            }
            long train = records[..^1].Sum();
            if (train * PixelsPerImage > Array.MaxLength)
                throw new InvalidDataException($"The training files hold {train} records, more images than an array holds.");
            var trainImages = GC.AllocateUninitializedArray<float>((int)train * PixelsPerImage);
            var trainLabels = new byte[train];
            int at = 0;
            for (int f = 0; f < names.Length - 1; f++)
            {
                Read(streams[f], describe(names[f]), (int)records[f], trainImages.AsSpan(at * PixelsPerImage), trainLabels.AsSpan(at));
                at += (int)records[f];
            }
            int test = (int)records[^1];
            var testImages = GC.AllocateUninitializedArray<float>(test * PixelsPerImage);
            var testLabels = new byte[test];
            Read(streams[^1], describe(names[^1]), test, testImages, testLabels);
            return new Cifar10(new Tensor(trainImages, (int)train, 3, 32, 32), trainLabels, new Tensor(testImages, test, 3, 32, 32), testLabels);
        }
        finally
        {
            foreach (var s in streams) s.Dispose();
        }
    }

    /// <summary>The number of records in a file of this length, or the reason it has none or a broken one.</summary>
    private static long Records(long length, string name)
    {
        if (length == 0)
            throw new InvalidDataException($"'{name}' is empty: a CIFAR-10 file holds 3073-byte records, and its first is missing at byte offset 0.");
        if (length % RecordSize != 0)
            throw new InvalidDataException(
                $"'{name}' is {length} bytes long, not a whole number of 3073-byte records: the record at byte offset {length / RecordSize * RecordSize} is truncated after {length % RecordSize} bytes.");
        return length / RecordSize;
    }

    private static void Read(Stream stream, string name, int records, Span<float> images, Span<byte> labels)
    {
        const int chunk = 256;
        var buffer = new byte[chunk * RecordSize];
        for (int first = 0; first < records; first += chunk)
        {
            int count = Math.Min(chunk, records - first);
            int got = Idx.ReadFully(stream, buffer.AsSpan(0, count * RecordSize));
            if (got < count * RecordSize)
                throw new InvalidDataException(
                    $"'{name}' ended at byte offset {(long)first * RecordSize + got} while being read, inside the record at byte offset {((long)first * RecordSize + got) / RecordSize * RecordSize} (it changed after its length was checked).");
            for (int r = 0; r < count; r++)
            {
                var record = buffer.AsSpan(r * RecordSize, RecordSize);
                if (record[0] > 9)
                    throw new InvalidDataException(
                        $"'{name}' has label {record[0]} at byte offset {(long)(first + r) * RecordSize} (record {first + r}); CIFAR-10's labels are 0 to 9.");
                labels[first + r] = record[0];
                var pixels = images.Slice((first + r) * PixelsPerImage, PixelsPerImage);
                TensorPrimitives.ConvertChecked<byte, float>(record[1..], pixels);
                // a division, as torchvision's ToTensor (and the IDX reader) compute pixel/255
                TensorPrimitives.Divide(pixels, 255f, pixels);
            }
        }
    }

    /// <summary>The training images, shape <c>[50000, 3, 32, 32]</c> (NCHW, RGB), pixel/255 in [0, 1].</summary>
    public Tensor TrainImages { get; }

    /// <summary>The training labels, 0 to 9 (<see cref="Classes"/>).</summary>
    public byte[] TrainLabels { get; }

    /// <summary>The test images, shape <c>[10000, 3, 32, 32]</c> (NCHW, RGB), pixel/255 in [0, 1].</summary>
    public Tensor TestImages { get; }

    /// <summary>The test labels, 0 to 9 (<see cref="Classes"/>).</summary>
    public byte[] TestLabels { get; }

    /// <summary>The training set as images and class indices, for a <see cref="DataLoader"/>.</summary>
    public TensorDataset Train => new(TrainImages, FashionMnist.LabelsTensor(TrainLabels));

    /// <summary>The test set as images and class indices, for a <see cref="DataLoader"/>.</summary>
    public TensorDataset Test => new(TestImages, FashionMnist.LabelsTensor(TestLabels));
}
