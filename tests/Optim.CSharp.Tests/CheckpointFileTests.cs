using System.Text;
using System.Text.Json;

namespace Optim.CSharp.Tests;

/// <summary>
/// CheckpointFile: Optim's own checkpoints round-trip; files PyTorch 1.13 wrote (tests/golden/pt, from
/// tests/golden/generate_pt.py) load with their exact content, and an optimizer state dict saved after 10 steps
/// continues on PyTorch's trajectory; the pickle reader rejects what is not on its allow-list, naming it.
/// </summary>
public sealed class CheckpointFileTests
{
    private static string GoldenFile(string name) => Path.Combine(AppContext.BaseDirectory, "golden", "pt", name);

    private static JsonElement Case(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(GoldenFixtures.PathOf("pt")));
        return doc.RootElement.GetProperty("cases").GetProperty(name).Clone();
    }

    private static int[] Shape(JsonElement t) => t.GetProperty("shape").EnumerateArray().Select(x => x.GetInt32()).ToArray();

    /// <summary>Whether <paramref name="actual"/> is the fixture's tensor: same dtype, shape and values.</summary>
    private static void AssertTensor(JsonElement expected, TensorData actual, string name)
    {
        Assert.Equal(expected.GetProperty("dtype").GetString(), actual.DType);
        Assert.Equal(Shape(expected), actual.Shape);
        var data = expected.GetProperty("data");
        if (actual.DType == "int64") Assert.Equal(data.EnumerateArray().Select(x => x.GetInt64()), actual.ToInt64());
        else Assert.True(data.EnumerateArray().Select(x => x.GetDouble()).SequenceEqual(actual.ToFloat64()), $"{name}'s values differ");
    }

    /// <summary>An Adam over w [3, 4] and b [3] stepped three times with fixed gradients, and a StepLR over it.</summary>
    internal static (Adam Optimizer, StepLR Scheduler, Parameter W, Parameter B) Trained()
    {
        var w = new Parameter(Enumerable.Range(0, 12).Select(i => 0.1f * i - 0.5f).ToArray(), 3, 4) { Name = "w" };
        var b = new Parameter([0.25f, -0.5f, 1f], 3) { Name = "b" };
        var adam = new Adam([w, b], lr: 0.01, betas: (0.8, 0.99), weightDecay: 0.1);
        var scheduler = new StepLR(adam, stepSize: 2, gamma: 0.5);
        for (int s = 0; s < 3; s++)
        {
            w.Grad = Enumerable.Range(0, 12).Select(i => MathF.Sin(i + s)).ToArray();
            b.Grad = [s, -s, 0.5f];
            adam.Step();
            scheduler.Step();
        }
        return (adam, scheduler, w, b);
    }

    internal static CheckpointFile Sample()
    {
        var (adam, scheduler, w, b) = Trained();
        var c = new CheckpointFile { Optimizer = adam.StateDict(), Scheduler = scheduler.StateDict() };
        c.Model["w"] = new TensorData(w.Data, w.Shape);
        c.Model["b"] = new TensorData(b.Data, b.Shape);
        c.Model["bn.num_batches_tracked"] = TensorData.Scalar(3L);
        c.Set("epoch", 3);
        c.Set("seed", 1234567890123L);
        c.Set("loss", 0.125);
        c.Set("run", "resnet-α");
        c.Set("shuffled", true);
        return c;
    }

    /// <summary>Whether two checkpoints hold the same content: weights bit for bit, state dicts' JSON, entries.</summary>
    internal static bool SameContent(CheckpointFile a, CheckpointFile b, out string why)
    {
        why = "";
        if (!a.Model.Keys.SequenceEqual(b.Model.Keys)) { why = "model keys"; return false; }
        foreach (var (k, v) in a.Model) if (!v.ContentEquals(b.Model[k])) { why = $"model weight {k}"; return false; }
        if (a.Optimizer?.ToJson() != b.Optimizer?.ToJson()) { why = "optimizer"; return false; }
        if (a.Scheduler?.ToJson() != b.Scheduler?.ToJson()) { why = "scheduler"; return false; }
        if (a.HasOptimizer != b.HasOptimizer) { why = "has optimizer"; return false; }
        var ea = a.Entries; var eb = b.Entries;
        if (!ea.Keys.SequenceEqual(eb.Keys) || ea.Any(kv => !kv.Value.Equals(eb[kv.Key]))) { why = "entries"; return false; }
        return true;
    }

    [Fact]
    public void ACheckpointRoundTripsItsModelOptimizerSchedulerAndEntries()
    {
        var path = Path.Combine(Path.GetTempPath(), $"optim-roundtrip-{Guid.NewGuid():N}.pt");
        try
        {
            var saved = Sample();
            saved.Save(path);
            var loaded = CheckpointFile.Load(path);
            Assert.True(SameContent(saved, loaded, out var why), why);
            Assert.Equal(3, loaded.GetInt64("epoch"));
            Assert.Equal(3.0, loaded.GetDouble("epoch"));
            Assert.Equal(1234567890123L, loaded.GetInt64("seed"));
            Assert.Equal("resnet-α", loaded.GetString("run"));
            Assert.True(loaded.GetBoolean("shuffled"));
            Assert.Equal(["epoch", "seed", "loss", "run", "shuffled"], loaded.Entries.Keys);
            Assert.Equal("int64", loaded.Model["bn.num_batches_tracked"].DType);
            Assert.Empty(loaded.Model["bn.num_batches_tracked"].Shape);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void AnOptimizerAndSchedulerResumedFromAFileContinueExactlyAsTheOriginals()
    {
        var path = Path.Combine(Path.GetTempPath(), $"optim-resume-{Guid.NewGuid():N}.pt");
        try
        {
            var (adam, scheduler, w, b) = Trained();
            var c = new CheckpointFile { Optimizer = adam.StateDict(), Scheduler = scheduler.StateDict() };
            c.Model["w"] = new TensorData(w.Data, w.Shape);
            c.Model["b"] = new TensorData(b.Data, b.Shape);
            c.Save(path);

            var loaded = CheckpointFile.Load(path);
            var w2 = new Parameter(loaded.Model["w"].ToFloat32(), loaded.Model["w"].Shape) { Name = "w" };
            var b2 = new Parameter(loaded.Model["b"].ToFloat32(), loaded.Model["b"].Shape) { Name = "b" };
            var adam2 = new Adam([w2, b2]);
            var scheduler2 = new StepLR(adam2, stepSize: 7);
            adam2.LoadStateDict(loaded.OptimizerStateFor(adam2));
            scheduler2.LoadStateDict(loaded.Scheduler!);
            for (int s = 0; s < 4; s++)
            {
                foreach (var (p, q) in new[] { (w, w2), (b, b2) })
                {
                    var g = p.Data.Select((x, i) => MathF.Cos(x * 3 + i + s)).ToArray();
                    p.Grad = g;
                    q.Grad = (float[])g.Clone();
                }
                adam.Step(); scheduler.Step();
                adam2.Step(); scheduler2.Step();
                Assert.Equal(w.Data, w2.Data);
                Assert.Equal(b.Data, b2.Data);
                Assert.Equal(scheduler.GetLastLr(), scheduler2.GetLastLr());
            }
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void AModelStateDictThatPyTorchSavedLoadsWithItsNamesShapesAndValues()
    {
        var loaded = CheckpointFile.Load(GoldenFile("model.pt"));
        var expected = Case("model").GetProperty("tensors");
        Assert.Equal(expected.EnumerateObject().Select(p => p.Name), loaded.Model.Keys);
        foreach (var p in expected.EnumerateObject()) AssertTensor(p.Value, loaded.Model[p.Name], p.Name);
        Assert.False(loaded.HasOptimizer);
        Assert.Empty(loaded.Entries);
    }

    [Fact]
    public void ViewsOffsetsStridesParametersAndEntriesThatPyTorchSavedAreReadFaithfully()
    {
        var loaded = CheckpointFile.Load(GoldenFile("views.pt"));
        var expected = Case("views");
        foreach (var p in expected.GetProperty("tensors").EnumerateObject()) AssertTensor(p.Value, loaded.Model[p.Name], p.Name);
        Assert.Equal(3, loaded.GetInt64("epoch"));
        Assert.Equal(0.125, loaded.GetDouble("loss"));
        Assert.Equal("run-1", loaded.GetString("name"));
        Assert.True(loaded.GetBoolean("resumed"));
    }

    public static TheoryData<string> Trajectories => new() { "adam", "sgd", "sgd_older", "adam_older", "rmsprop_older", "nadam" };

    /// <summary>
    /// The loading optimizer of each trajectory: as the saving one, or, for a state dict of an older PyTorch that lacks
    /// keys added since (the generator removed them; 1.13's NAdam has no <c>maximize</c> or
    /// <c>decoupled_weight_decay</c>), one built with other values of those keys, which the load replaces by PyTorch's
    /// <c>__setstate__</c> defaults.
    /// </summary>
    private static Optimizer Loader(string name, Parameter[] ps) => name switch
    {
        "adam" => new Adam(ps, lr: 0.01),
        "sgd" => new SGD(ps, lr: 0.05, momentum: 0.9),
        "sgd_older" => new SGD(ps, lr: 0.05, momentum: 0.9, nesterov: true, maximize: true),
        "adam_older" => new Adam(ps, lr: 0.01, amsgrad: true, maximize: true),
        "rmsprop_older" => new RMSprop(ps, lr: 0.01, momentum: 0.9, centered: true),
        "nadam" => new NAdam(ps, lr: 0.01, maximize: true, decoupledWeightDecay: true),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    [Theory]
    [MemberData(nameof(Trajectories))]
    public void AnOptimizerPyTorchSavedAfterTenStepsContinuesOnPyTorchsTrajectory(string name)
    {
        var golden = Case(name);
        var at10 = golden.GetProperty("params_at_10");
        var w = new Parameter(GoldenFixtures.Floats(at10.GetProperty("w").GetProperty("data")), 3, 4);
        var b = new Parameter(GoldenFixtures.Floats(at10.GetProperty("b").GetProperty("data")), 3);
        var optimizer = Loader(name, [w, b]);
        var file = CheckpointFile.Load(GoldenFile(name + ".pt"));
        Assert.Null(file.Optimizer);
        optimizer.LoadStateDict(file.OptimizerStateFor(optimizer));
        if (golden.TryGetProperty("groups_after_load", out var groups))
            foreach (var (key, value) in groups[0].EnumerateObject().Select(p => (p.Name, p.Value)))
                if (value.ValueKind is JsonValueKind.True or JsonValueKind.False && optimizer.ParamGroups[0].ContainsKey(key))
                    Assert.True(optimizer.ParamGroups[0][key] == (value.GetBoolean() ? 1 : 0), $"{name}: '{key}' after the load is {optimizer.ParamGroups[0][key]}, PyTorch's {value}");
                else if (value.ValueKind == JsonValueKind.Number)
                    Assert.Equal(value.GetDouble(), optimizer.ParamGroups[0][key]);
        int step = 10;
        foreach (var s in golden.GetProperty("steps").EnumerateArray())
        {
            step++;
            w.Grad = GoldenFixtures.Floats(s.GetProperty("grads").GetProperty("w").GetProperty("data"));
            b.Grad = GoldenFixtures.Floats(s.GetProperty("grads").GetProperty("b").GetProperty("data"));
            optimizer.Step();
            foreach (var (p, key) in new[] { (w, "w"), (b, "b") })
            {
                var expected = GoldenFixtures.Floats(s.GetProperty("params").GetProperty(key).GetProperty("data"));
                for (int i = 0; i < expected.Length; i++)
                    Assert.True(Math.Abs(p.Data[i] - expected[i]) <= 1e-5 + 1e-4 * Math.Abs(expected[i]),
                        $"{name} step {step}, {key}[{i}]: {p.Data[i]} vs PyTorch's {expected[i]}");
            }
        }
    }

    [Fact]
    public void PyTorchsOptimizerStateIsReadAsTheLoadingOptimizersKindAndAMismatchChangesNothing()
    {
        var file = CheckpointFile.Load(GoldenFile("adam.pt"));
        Assert.True(file.HasOptimizer);
        var sd = file.OptimizerStateFor(new Adam([new Parameter(new float[12], 3, 4), new Parameter(new float[3])]));
        Assert.Equal("Adam", sd.OptimizerKind);
        Assert.Contains("\"step\":10", sd.ToJson());

        var w = new Parameter(new float[12], 4, 3);
        var b = new Parameter(new float[3]);
        var adam = new Adam([w, b], lr: 0.5);
        var before = adam.StateDict().ToJson();
        Assert.Contains("shape [3, 4]", Assert.Throws<CheckpointFileException>(() => adam.LoadStateDict(file.OptimizerStateFor(adam))).Message);
        Assert.Equal(before, adam.StateDict().ToJson());

        // PyTorch's file names no kind: read for an SGD, Adam's buffers do not fit it
        var sgd = new SGD([new Parameter(new float[12], 3, 4), new Parameter(new float[3])], lr: 0.1, momentum: 0.5);
        var sgdBefore = sgd.StateDict().ToJson();
        Assert.Contains("exp_avg", Assert.ThrowsAny<ArgumentException>(() => sgd.LoadStateDict(file.OptimizerStateFor(sgd))).Message);
        Assert.Equal(sgdBefore, sgd.StateDict().ToJson());

        var model = CheckpointFile.Load(GoldenFile("model.pt"));
        var e = Assert.Throws<CheckpointFileException>(() => model.OptimizerStateFor(adam));
        Assert.Contains("no optimizer state", e.Message);
    }

    [Fact]
    public void AFileSavedFromAPyTorchFileKeepsItsOptimizerState()
    {
        var file = CheckpointFile.Load(GoldenFile("sgd.pt"));
        var again = CheckpointFile.FromBytes(file.ToBytes());
        var sgd = new SGD([new Parameter(new float[12], 3, 4), new Parameter(new float[3])], lr: 0.05, momentum: 0.9);
        Assert.Equal(file.OptimizerStateFor(sgd).ToJson(), again.OptimizerStateFor(sgd).ToJson());
    }

    [Fact]
    public void ReservedEntryKeysAndLbfgsStateDictsAreRejectedWithAClearError()
    {
        var c = new CheckpointFile();
        Assert.Contains("reserved", Assert.Throws<ArgumentException>(() => c.Set("optimizer", 1)).Message);
        Assert.Throws<ArgumentException>(() => c.Set("", 1));
        var x = new Parameter([1f, 2f]);
        c.Optimizer = new LBFGS([x]).StateDict();
        Assert.Contains("LBFGS", Assert.Throws<NotSupportedException>(() => c.ToBytes()).Message);
        Assert.Throws<KeyNotFoundException>(() => c.GetInt64("epoch"));
        c.Set("epoch", "three");
        Assert.Throws<InvalidCastException>(() => c.GetInt64("epoch"));
    }

    // ---------------------------------------------------------------- hand-made pickles

    private static byte[] Zip(byte[] pickle, params (string Name, byte[] Data)[] more)
    {
        var entries = new List<(string, TorchZip.Bytes)> { ("archive/data.pkl", () => pickle) };
        entries.AddRange(more.Select(m => (m.Name, (TorchZip.Bytes)(() => m.Data))));
        entries.Add(("archive/version", () => "3\n"u8));
        var s = new MemoryStream();
        TorchZip.Write(s, entries);
        return s.ToArray();
    }

    private static byte[] Bytes(params object[] parts) =>
        parts.SelectMany(p => p switch
        {
            string s => Encoding.Latin1.GetBytes(s),
            byte b => [b],
            int i => BitConverter.GetBytes(i),
            byte[] a => a,
            _ => throw new ArgumentException(),
        }).ToArray();

    private static string Reject(byte[] file) => Assert.Throws<CheckpointFileException>(() => CheckpointFile.FromBytes(file)).Message;

    [Fact]
    public void AGlobalOutsideTheAllowListIsRejectedNamingItAndItsOffset()
    {
        // pickle.dumps of os.system("ls"): a file that would run a command when unpickled by pickle.load
        var message = Reject(Zip(Bytes("\x80\x02", "cposix\nsystem\n", "X", 2, "ls", (byte)0x85, "R.")));
        Assert.Contains("posix.system", message);
        Assert.Contains("offset 2", message);
        Assert.Contains("not allowed", message);
    }

    [Fact]
    public void AnOpcodeOutsideTheAllowListIsRejectedNamingItAndItsOffset()
    {
        var message = Reject(Zip(Bytes("\x80\x02}(X", 1, "a", "I1\nu.")));
        Assert.Contains("opcode 0x49 ('I')", message);
        Assert.Contains("offset 10", message);
        Assert.Contains("(INST) is not", Reject(Zip(Bytes("\x80\x02i__main__\nX\n."))).Replace("0x69 ('i')", "(INST)"));
    }

    private static byte[] TensorPickle(byte[] size, byte[] stride, int numel, byte[]? offset = null) => Bytes(
        "\x80\x02}X", 1, "t", "ctorch._utils\n_rebuild_tensor_v2\n", "((X", 7, "storage", "ctorch\nFloatStorage\n",
        "X", 1, "0", "X", 3, "cpu", "J", numel, "tQ", offset ?? Bytes("K\x00"), size, stride,
        (byte)0x89, "ccollections\nOrderedDict\n)RtRs.");

    [Fact]
    public void ATensorThatReachesPastItsStorageIsRejectedBeforeAllocating()
    {
        var storage = ("archive/data/0", new byte[16]);
        // four floats read as [2, 2]: accepted
        var ok = CheckpointFile.FromBytes(Zip(TensorPickle(Bytes("K\x02K\x02", (byte)0x86), Bytes("K\x02K\x01", (byte)0x86), 4), storage));
        Assert.Equal([2, 2], ok.Model["t"].Shape);
        // [5000, 5000] over four floats
        Assert.Contains("reaches element 24999999 of storage '0', which has 4", Reject(Zip(TensorPickle(Bytes("J", 5000, "J", 5000, (byte)0x86), Bytes("J", 5000, "K\x01", (byte)0x86), 4), storage)));
        // 2³¹ - 1 squared: more elements than an array holds, whatever the strides
        Assert.Contains("more elements than an array", Reject(Zip(TensorPickle(Bytes("J", int.MaxValue, "J", int.MaxValue, (byte)0x86), Bytes("K\x00K\x00", (byte)0x86), 4), storage)));
        // a storage offset past its storage
        Assert.Contains("offset 9", Reject(Zip(TensorPickle(Bytes("K\x01", (byte)0x85), Bytes("K\x01", (byte)0x85), 4, Bytes("K\x09")), storage)));
        // a declared storage of 5 floats whose entry holds 16 bytes
        Assert.Contains("holds 16 bytes", Reject(Zip(TensorPickle(Bytes("K\x01", (byte)0x85), Bytes("K\x01", (byte)0x85), 5), storage)));
        // a stride-0 view that multiplies a 4-byte storage into gigabytes is refused before allocating
        Assert.Contains("refused before allocating", Reject(Zip(TensorPickle(Bytes("J", 1 << 30, (byte)0x85), Bytes("K\x00", (byte)0x85), 1), ("archive/data/0", new byte[4]))));
    }

    [Fact]
    public void SelfContainingExponentiallySharedOrTooDeepValuesAreRejected()
    {
        // a list that holds itself
        Assert.Contains("holds itself", Reject(Zip(Bytes("\x80\x02}X", 1, "x", "]q\0h\0as."))));
        // forty levels of tuples of the one before, twice: 2⁴⁰ values from 200 bytes ("billion laughs")
        var laughs = string.Concat(Enumerable.Range(0, 40).Select(i => $"h{(char)i}\x86q{(char)(i + 1)}"));
        Assert.Contains("refused", Reject(Zip(Bytes("\x80\x02}X", 1, "x", "X", 1, "aq\0", laughs, "s."))));
        // lists nested 100 deep
        Assert.Contains("deeper than 64", Reject(Zip(Bytes("\x80\x02}X", 1, "x", new string(']', 100), new string('a', 99), "s."))));
        // a dict key that appears twice
        Assert.Contains("appears twice", Reject(Zip(Bytes("\x80\x02}(X", 1, "a", "K\x01X", 1, "a", "K\x02u."))));
    }

    [Fact]
    public void TruncatedCorruptOrOversizedZipsAreRejectedNamingTheEntryOrOffset()
    {
        var good = Sample().ToBytes();
        Assert.Contains("end record", Reject(good[..(good.Length / 2)]));
        var flipped = (byte[])good.Clone();
        flipped[200] ^= 0x40;
        Assert.Contains("CRC", Reject(flipped));
        Assert.Contains("fewer than a zip's end record", Reject(new byte[10]));
        // the first central-directory entry's sizes, claiming 2 GB
        var oversized = (byte[])good.Clone();
        int cd = BitConverter.ToInt32(good, good.Length - 6);
        BitConverter.GetBytes(0x7FFFFFF0).CopyTo(oversized, cd + 20);
        BitConverter.GetBytes(0x7FFFFFF0).CopyTo(oversized, cd + 24);
        Assert.Contains("past the data region", Reject(oversized));
    }
}
