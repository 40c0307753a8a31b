namespace Optim.NN.Tests;

/// <summary>The IDX reader on small generated files, gzip and plain, and on bad ones.</summary>
public sealed class IdxTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("optim-nn-idx-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] Idx(int magic, int[] dims, byte[] data) => IdxFiles.Idx(magic, dims, data);

    private string Write(string name, byte[] bytes, bool gzip) => IdxFiles.Write(_dir, name, bytes, gzip);

    private static readonly byte[] Pixels = Enumerable.Range(0, 2 * 3 * 2).Select(i => (byte)(i * 23)).ToArray();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ImagesAreReadAsRowsOfPixelsOver255AndLabelsAsBytes(bool gzip)
    {
        var images = Optim.NN.Idx.ReadImages(Write("images", Idx(0x803, [2, 3, 2], Pixels), gzip));
        Assert.Equal(new[] { 2, 6 }, images.Shape);
        Assert.Equal(Pixels.Select(p => p / 255f), images.Data);
        Assert.Equal(1f, Optim.NN.Idx.ReadImages(Write("white", Idx(0x803, [1, 1, 1], [255]), gzip)).Data[0]);
        var labels = Optim.NN.Idx.ReadLabels(Write("labels", Idx(0x801, [3], [7, 0, 9]), gzip));
        Assert.Equal(new byte[] { 7, 0, 9 }, labels);
    }

    [Fact]
    public void AWrongMagicNumberIsReportedWithBothValues()
    {
        var path = Write("labels-as-images", Idx(0x801, [3], [1, 2, 3]), gzip: true);
        var e = Assert.Throws<InvalidDataException>(() => Optim.NN.Idx.ReadImages(path));
        Assert.Contains("0x00000801", e.Message);
        Assert.Contains("0x00000803", e.Message);
        Assert.Throws<InvalidDataException>(() => Optim.NN.Idx.ReadLabels(Write("text", "hello world"u8.ToArray(), gzip: false)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ATruncatedFileIsReportedWithTheDeclaredAndActualSizes(bool gzip)
    {
        var full = Idx(0x803, [2, 3, 2], Pixels);
        var e = Assert.Throws<InvalidDataException>(() => Optim.NN.Idx.ReadImages(Write("cut", full[..^5], gzip)));
        Assert.Contains("truncated", e.Message);
        Assert.Contains("12 bytes", e.Message);
        Assert.Contains("only 7", e.Message);
        var header = Assert.Throws<InvalidDataException>(() => Optim.NN.Idx.ReadImages(Write("cut-header", full[..10], gzip)));
        Assert.Contains("header", header.Message);
        Assert.Throws<InvalidDataException>(() => Optim.NN.Idx.ReadLabels(Write("empty", [], gzip)));
    }

    [Fact]
    public void TrailingBytesAreAnError()
    {
        var e = Assert.Throws<InvalidDataException>(() => Optim.NN.Idx.ReadLabels(Write("long", [.. Idx(0x801, [2], [1, 2]), 3], gzip: false)));
        Assert.Contains("longer", e.Message);
    }

    [Fact]
    public void FashionMnistLoadsTheFourFilesWithOrWithoutGzAndChecksTheirCounts()
    {
        Write("train-images-idx3-ubyte.gz", Idx(0x803, [2, 3, 2], Pixels), gzip: true);
        Write("train-labels-idx1-ubyte", Idx(0x801, [2], [4, 1]), gzip: false);
        Write("t10k-images-idx3-ubyte", Idx(0x803, [1, 3, 2], Pixels[..6]), gzip: false);
        Write("t10k-labels-idx1-ubyte.gz", Idx(0x801, [1], [9]), gzip: true);
        var data = FashionMnist.Load(_dir);
        Assert.Equal(new[] { 2, 6 }, data.TrainImages.Shape);
        Assert.Equal(new byte[] { 4, 1 }, data.TrainLabels);
        Assert.Equal(new[] { 4f, 1f }, data.Train.Targets.Data);
        Assert.Equal(1, data.Test.Count);
        Assert.Equal("Ankle boot", FashionMnist.Classes[data.TestLabels[0]]);

        Write("t10k-labels-idx1-ubyte.gz", Idx(0x801, [2], [9, 9]), gzip: true);
        Assert.Contains("1 images but 2 labels", Assert.Throws<InvalidDataException>(() => FashionMnist.Load(_dir)).Message);
        File.Delete(Path.Combine(_dir, "t10k-labels-idx1-ubyte.gz"));
        Assert.Throws<FileNotFoundException>(() => FashionMnist.Load(_dir));
    }

    /// <summary>A stream that can only be read forward, as a network or decompression stream.</summary>
    private sealed class ForwardOnly(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void StreamsAreReadLikeFilesAndLeftOpen(bool gzip, bool seekable)
    {
        byte[] Bytes(byte[] idx)
        {
            if (!gzip) return idx;
            using var m = new MemoryStream();
            using (var z = new System.IO.Compression.GZipStream(m, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true)) z.Write(idx);
            return m.ToArray();
        }
        Stream Open(byte[] idx) => seekable ? new MemoryStream(Bytes(idx)) : new ForwardOnly(Bytes(idx));
        using var images = Open(Idx(0x803, [2, 3, 2], Pixels));
        Assert.Equal(Pixels.Select(p => p / 255f), Optim.NN.Idx.ReadImages(images).Data);
        Assert.True(images.CanRead);
        using var labels = Open(Idx(0x801, [3], [7, 0, 9]));
        Assert.Equal(new byte[] { 7, 0, 9 }, Optim.NN.Idx.ReadLabels(labels, "labels.gz"));
        var e = Assert.Throws<InvalidDataException>(() => Optim.NN.Idx.ReadLabels(Open(Idx(0x803, [1, 1, 1], [0])), "resource 'x'"));
        Assert.Contains("resource 'x'", e.Message);
    }

    [Fact]
    public void FashionMnistLoadsFromAnyStreamSourceByFileName()
    {
        var files = new Dictionary<string, byte[]>
        {
            ["train-images-idx3-ubyte"] = Idx(0x803, [2, 3, 2], Pixels),
            ["train-labels-idx1-ubyte"] = Idx(0x801, [2], [4, 1]),
            ["t10k-images-idx3-ubyte"] = Idx(0x803, [1, 3, 2], Pixels[..6]),
            ["t10k-labels-idx1-ubyte"] = Idx(0x801, [1], [9]),
        };
        var opened = new List<string>();
        var data = FashionMnist.Load(name => { opened.Add(name); return new MemoryStream(files[name]); });
        Assert.Equal(files.Keys.Order(), opened.Order());
        Assert.Equal(new byte[] { 4, 1 }, data.TrainLabels);
        Assert.Equal(new[] { 1, 6 }, data.TestImages.Shape);
        Assert.Throws<ArgumentNullException>(() => FashionMnist.Load((Func<string, Stream>)null!));
    }

    [Fact]
    public void TheRealFashionMnistFilesLoadWhenPresent()
    {
        const string dir = "/usr/share/datasets/fashion-mnist";
        if (!File.Exists(Path.Combine(dir, "t10k-labels-idx1-ubyte.gz"))) return;
        var data = FashionMnist.Load(dir);
        Assert.Equal(new[] { 60000, 784 }, data.TrainImages.Shape);
        Assert.Equal(new[] { 10000, 784 }, data.TestImages.Shape);
        Assert.All(Enumerable.Range(0, 10), c => Assert.Equal(1000, data.TestLabels.Count(l => l == c)));
    }
}
