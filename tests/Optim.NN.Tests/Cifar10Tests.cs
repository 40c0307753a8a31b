namespace Optim.NN.Tests;

/// <summary>The CIFAR-10 reader on small generated files in its binary format, whole, truncated and corrupt.</summary>
public sealed class Cifar10Tests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("optim-nn-cifar-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly string[] TrainNames = ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];

    /// <summary>Records first..first+count: label (first + r) % 10, then pixel k of record i is (7i + 13k) mod 256.</summary>
    private static byte[] Records(int first, int count)
    {
        var bytes = new byte[count * 3073];
        for (int r = 0; r < count; r++)
        {
            int i = first + r;
            bytes[r * 3073] = (byte)(i % 10);
            for (int k = 0; k < 3072; k++) bytes[r * 3073 + 1 + k] = (byte)((7 * i + 13 * k) % 256);
        }
        return bytes;
    }

    private static readonly int[] TrainCounts = [3, 1, 2, 4, 2];

    /// <summary>Five training files of 3, 1, 2, 4 and 2 records (numbered 0 to 11 across them) and a test file of 3 (numbered 100 on).</summary>
    private Dictionary<string, byte[]> WriteAll()
    {
        var files = new Dictionary<string, byte[]>();
        int first = 0;
        for (int f = 0; f < 5; f++)
        {
            files[TrainNames[f]] = Records(first, TrainCounts[f]);
            first += TrainCounts[f];
        }
        files["test_batch.bin"] = Records(100, 3);
        foreach (var (name, bytes) in files) File.WriteAllBytes(Path.Combine(_dir, name), bytes);
        return files;
    }

    [Fact]
    public void RecordsAreReadAsRgbImagesOver255WithTheirLabelsTrainingFilesInOrder()
    {
        WriteAll();
        var data = Cifar10.Load(_dir);
        Assert.Equal(new[] { 12, 3, 32, 32 }, data.TrainImages.Shape);
        Assert.Equal(new[] { 3, 3, 32, 32 }, data.TestImages.Shape);
        Assert.Equal(Enumerable.Range(0, 12).Select(i => (byte)(i % 10)), data.TrainLabels);
        Assert.Equal(new byte[] { 0, 1, 2 }, data.TestLabels);
        foreach (var (images, first) in new[] { (data.TrainImages, 0), (data.TestImages, 100) })
            for (int n = 0; n < images.Shape[0]; n++)
                for (int c = 0; c < 3; c++)
                    for (int y = 0; y < 32; y += 5)
                        for (int x = 0; x < 32; x += 3)
                        {
                            int k = c * 1024 + y * 32 + x;
                            Assert.Equal((byte)((7 * (first + n) + 13 * k) % 256) / 255f, images.Data[((n * 3 + c) * 32 + y) * 32 + x]);
                        }
        Assert.Equal(12, data.Train.Count);
        Assert.Equal(Enumerable.Range(0, 12).Select(i => (float)(i % 10)), data.Train.Targets.Data);
        Assert.Same(data.TestImages, data.Test.Inputs);
        Assert.Equal("cat", Cifar10.Classes[3]);
        Assert.Equal(10, Cifar10.Classes.Count);
        var (bx, by) = new DataLoader(data.Train, batchSize: 5).First();
        Assert.Equal(new[] { 5, 3, 32, 32 }, bx.Shape);
        Assert.Equal(new[] { 0f, 1f, 2f, 3f, 4f }, by.Data);
    }

    [Fact]
    public void EveryPixelValueMapsToItsByteOver255()
    {
        WriteAll();
        var record = new byte[3073];
        record[0] = 9;
        for (int k = 0; k < 3072; k++) record[1 + k] = (byte)(k % 256);
        File.WriteAllBytes(Path.Combine(_dir, "test_batch.bin"), record);
        var data = Cifar10.Load(_dir);
        Assert.Equal(Enumerable.Range(0, 3072).Select(k => (byte)(k % 256) / 255f), data.TestImages.Data);
        Assert.Equal(1f, data.TestImages.Data[255]);
        Assert.Equal(0f, data.TestImages.Data[256]);
    }

    [Fact]
    public void EveryTruncationOfAFileIsRejectedWithTheFileAndTheOffsetOfItsBrokenRecord()
    {
        var files = WriteAll();
        var full = files["data_batch_3.bin"];
        Assert.Equal(2 * 3073, full.Length);
        var path = Path.Combine(_dir, "data_batch_3.bin");
        for (int length = 0; length < full.Length; length++)
        {
            File.WriteAllBytes(path, full[..length]);
            if (length == 3073)
            {
                Assert.Equal(11, Cifar10.Load(_dir).TrainLabels.Length);
                continue;
            }
            var e = Assert.Throws<InvalidDataException>(() => Cifar10.Load(_dir));
            Assert.Contains(path, e.Message);
            Assert.Contains(length == 0 ? "empty" : $"{length} bytes", e.Message);
            Assert.Contains($"byte offset {length / 3073 * 3073}", e.Message);
        }
    }

    [Fact]
    public void ALabelAbove9IsRejectedWithTheFileAndItsOffset()
    {
        var files = WriteAll();
        foreach (var label in new byte[] { 10, 255 })
        {
            var bytes = (byte[])files["data_batch_4.bin"].Clone();
            bytes[2 * 3073] = label;
            File.WriteAllBytes(Path.Combine(_dir, "data_batch_4.bin"), bytes);
            var e = Assert.Throws<InvalidDataException>(() => Cifar10.Load(_dir));
            Assert.Contains(Path.Combine(_dir, "data_batch_4.bin"), e.Message);
            Assert.Contains($"label {label}", e.Message);
            Assert.Contains("byte offset 6146", e.Message);
        }
        File.WriteAllBytes(Path.Combine(_dir, "data_batch_4.bin"), files["data_batch_4.bin"]);
        var test = (byte[])files["test_batch.bin"].Clone();
        test[0] = 11;
        File.WriteAllBytes(Path.Combine(_dir, "test_batch.bin"), test);
        var t = Assert.Throws<InvalidDataException>(() => Cifar10.Load(_dir));
        Assert.Contains("test_batch.bin", t.Message);
        Assert.Contains("byte offset 0", t.Message);
    }

    [Fact]
    public void EveryFilesLengthIsCheckedBeforeAnythingIsAllocatedOrRead()
    {
        var files = WriteAll();
        foreach (var name in TrainNames) File.WriteAllBytes(Path.Combine(_dir, name), Records(0, 200));
        var corrupt = Records(0, 200);
        corrupt[0] = 42;
        File.WriteAllBytes(Path.Combine(_dir, "data_batch_1.bin"), corrupt);
        File.WriteAllBytes(Path.Combine(_dir, "test_batch.bin"), files["test_batch.bin"][..^1]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => Cifar10.Load(_dir));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // the test file's length is reported, not the first training file's label, and the 1000 training images
        // (12 MB of float32) were never allocated
        Assert.Contains("test_batch.bin", e.Message);
        Assert.Contains("byte offset 6146", e.Message);
        Assert.True(allocated < 1_000_000, $"{allocated} bytes allocated");
    }

    [Fact]
    public void AMissingFileIsNamed()
    {
        WriteAll();
        File.Delete(Path.Combine(_dir, "data_batch_5.bin"));
        var e = Assert.Throws<FileNotFoundException>(() => Cifar10.Load(_dir));
        Assert.Equal(Path.Combine(_dir, "data_batch_5.bin"), e.FileName);
        Assert.Contains("data_batch_5.bin", e.Message);
        Assert.Throws<ArgumentNullException>(() => Cifar10.Load((string)null!));
    }

    /// <summary>A stream that can only be read forward, as a network or decompression stream.</summary>
    private sealed class ForwardOnly(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AnyStreamSourceIsReadByFileNameLikeTheDirectory(bool seekable)
    {
        var files = WriteAll();
        var opened = new List<string>();
        var streams = new List<MemoryStream>();
        var data = Cifar10.Load(name =>
        {
            opened.Add(name);
            var s = seekable ? new MemoryStream(files[name]) : new ForwardOnly(files[name]);
            streams.Add(s);
            return s;
        });
        Assert.Equal(files.Keys.Order(), opened.Order());
        Assert.All(streams, s => Assert.False(s.CanRead));
        var fromDisk = Cifar10.Load(_dir);
        Assert.Equal(fromDisk.TrainImages.Data, data.TrainImages.Data);
        Assert.Equal(fromDisk.TestLabels, data.TestLabels);
        var cut = Assert.Throws<InvalidDataException>(() => Cifar10.Load(name => new MemoryStream(name == "data_batch_2.bin" ? files[name][..100] : files[name])));
        Assert.Contains("'data_batch_2.bin'", cut.Message);
        Assert.Contains("byte offset 0", cut.Message);
        Assert.Throws<ArgumentNullException>(() => Cifar10.Load((Func<string, Stream>)null!));
    }
}
