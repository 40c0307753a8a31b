using System.Runtime.CompilerServices;

namespace Optim.NN.Tests;

/// <summary>Fashion-MNIST as NCHW images for a CNN (28×28, and zero-padded to 32×32), and its labels checked at load.</summary>
public sealed class FashionMnistImageTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("optim-nn-fashion-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string SampleData([CallerFilePath] string path = "") =>
        Path.Combine(Path.GetDirectoryName(path)!, "..", "..", "data", "fashion-mnist-sample");

    private static readonly byte[] Pixels = Enumerable.Range(0, 2 * 3 * 2).Select(i => (byte)(i * 23 + 1)).ToArray();

    /// <summary>Two 3×2 training images and one test image, labels given.</summary>
    private void Write(byte[] trainLabels, byte[] testLabels)
    {
        IdxFiles.Write(_dir, "train-images-idx3-ubyte", IdxFiles.Idx(0x803, [2, 3, 2], Pixels), gzip: false);
        IdxFiles.Write(_dir, "train-labels-idx1-ubyte.gz", IdxFiles.Idx(0x801, [trainLabels.Length], trainLabels), gzip: true);
        IdxFiles.Write(_dir, "t10k-images-idx3-ubyte", IdxFiles.Idx(0x803, [1, 3, 2], Pixels[6..]), gzip: false);
        IdxFiles.Write(_dir, "t10k-labels-idx1-ubyte", IdxFiles.Idx(0x801, [testLabels.Length], testLabels), gzip: false);
    }

    [Fact]
    public void AsImagesGivesOneChannelImagesOfTheFilesRowsAndColumnsSharingTheBuffer()
    {
        Write([3, 9], [0]);
        var flat = FashionMnist.Load(_dir);
        var images = flat.AsImages();
        Assert.Equal(new[] { 2, 1, 3, 2 }, images.TrainImages.Shape);
        Assert.Equal(new[] { 1, 1, 3, 2 }, images.TestImages.Shape);
        Assert.Same(flat.TrainImages.Data, images.TrainImages.Data);
        Assert.Equal(flat.TrainLabels, images.TrainLabels);
        Assert.Equal(new[] { 2, 1, 3, 2 }, images.Train.Inputs.Shape);
        Assert.Equal(new[] { 3f, 9f }, images.Train.Targets.Data);
        Assert.Equal(new[] { 2, 6 }, flat.TrainImages.Shape);
    }

    [Fact]
    public void PaddingAddsZerosOnEachSideAroundTheImage()
    {
        Write([3, 9], [0]);
        var padded = FashionMnist.Load(_dir).AsImages(padding: 2);
        Assert.Equal(new[] { 2, 1, 7, 6 }, padded.TrainImages.Shape);
        Assert.Equal(new[] { 1, 1, 7, 6 }, padded.TestImages.Shape);
        for (int n = 0; n < 2; n++)
            for (int y = 0; y < 7; y++)
                for (int x = 0; x < 6; x++)
                {
                    bool inside = y is >= 2 and < 5 && x is >= 2 and < 4;
                    float expected = inside ? Pixels[n * 6 + (y - 2) * 2 + (x - 2)] / 255f : 0f;
                    Assert.Equal(expected, padded.TrainImages.Data[(n * 7 + y) * 6 + x]);
                }
        Assert.Equal(Pixels[6] / 255f, padded.TestImages.Data[2 * 6 + 2]);
        var twice = padded.AsImages(padding: 1);
        Assert.Equal(new[] { 2, 1, 9, 8 }, twice.TrainImages.Shape);
        Assert.Equal(Pixels[0] / 255f, twice.TrainImages.Data[3 * 8 + 3]);
        var e = Assert.Throws<ArgumentException>(() => padded.AsImages(padding: -1));
        Assert.Equal("padding", e.ParamName);
        Assert.Contains("-1", e.Message);
    }

    [Fact]
    public void TheSampleLoadsAs28By28ImagesAndPaddedAs32By32WithZerosAround()
    {
        var data = FashionMnist.Load(SampleData());
        var images = data.AsImages();
        Assert.Equal(new[] { 10000, 1, 28, 28 }, images.TrainImages.Shape);
        Assert.Equal(new[] { 2000, 1, 28, 28 }, images.TestImages.Shape);
        var padded = data.AsImages(padding: 2);
        Assert.Equal(new[] { 10000, 1, 32, 32 }, padded.TrainImages.Shape);
        Assert.Equal(new[] { 2000, 1, 32, 32 }, padded.TestImages.Shape);
        foreach (var (source, target, n) in new[] { (data.TrainImages, padded.TrainImages, 10000), (data.TestImages, padded.TestImages, 2000) })
            for (int i = 0; i < n; i++)
                for (int y = 0; y < 32; y++)
                    for (int x = 0; x < 32; x++)
                    {
                        bool inside = y is >= 2 and < 30 && x is >= 2 and < 30;
                        float expected = inside ? source.Data[i * 784 + (y - 2) * 28 + (x - 2)] : 0f;
                        if (expected != target.Data[(i * 32 + y) * 32 + x]) Assert.Fail($"image {i} ({y}, {x}): {target.Data[(i * 32 + y) * 32 + x]}, not {expected}");
                    }
        var (bx, _) = new DataLoader(padded.Train, batchSize: 64, shuffle: true, seed: 0).First();
        Assert.Equal(new[] { 64, 1, 32, 32 }, bx.Shape);
    }

    [Fact]
    public void ALabelAbove9IsRejectedAtLoadWithTheFileAndTheByteOffset()
    {
        Write([3, 10], [0]);
        var e = Assert.Throws<InvalidDataException>(() => FashionMnist.Load(_dir));
        Assert.Contains("train-labels-idx1-ubyte", e.Message);
        Assert.Contains("label 10", e.Message);
        Assert.Contains("byte offset 9", e.Message);
        Write([3, 9], [255]);
        e = Assert.Throws<InvalidDataException>(() => FashionMnist.Load(_dir));
        Assert.Contains("t10k-labels-idx1-ubyte", e.Message);
        Assert.Contains("label 255", e.Message);
        Assert.Contains("byte offset 8", e.Message);
        Write([9, 0], [9]);
        Assert.Equal(new byte[] { 9, 0 }, FashionMnist.Load(_dir).TrainLabels);
    }
}
