using System.Diagnostics;
using System.Text.Json;
using Xunit.Abstractions;

namespace Optim.CSharp.Tests;

/// <summary>
/// Files Optim writes are read by PyTorch 1.13 (Debian's python3-torch at /usr/bin/python3): a checkpoint of weights
/// and integers by <c>torch.load(path, weights_only=True)</c>; a whole one uses only the opcodes and globals that
/// 1.13's weights_only unpickler takes, plus BINFLOAT, the Python float, which 1.13's lacks (pytorch#94670: it cannot
/// read PyTorch's own optimizer state dicts; later versions read floats), so there it is read by
/// <c>torch.load(path)</c>, and its optimizer part loads into a torch.optim.Adam that then steps as the facade does.
/// Where /usr/bin/python3 or torch is missing the test says so and passes, unless OPTIM_REQUIRE_TORCH=1.
/// </summary>
public sealed class CheckpointTorchTests(ITestOutputHelper log)
{
    private const string Python = "/usr/bin/python3";

    private const string Script = """
        import json, pickletools, sys, zipfile, torch
        import torch._weights_only_unpickler as wou
        pkl = zipfile.ZipFile(sys.argv[1]).read("archive/data.pkl")
        ops = {op.name for op, arg, pos in pickletools.genops(pkl)}
        globs = {arg.replace(" ", ".") for op, arg, pos in pickletools.genops(pkl) if op.name == "GLOBAL"}
        allowed_ops = {n for n in dir(wou) if n.isupper() and isinstance(getattr(wou, n), bytes)}
        try:
            torch.load(sys.argv[1], weights_only=True)
            weights_only = "read"
        except Exception as e:
            weights_only = str(e).split("WeightsUnpickler error: ")[-1]
        d = torch.load(sys.argv[1])
        tensor = lambda v: {"dtype": str(v.dtype), "shape": list(v.shape), "data": v.reshape(-1).tolist()}
        state = d["optimizer"]["state"]
        out = {
            "ops_outside_1_13_weights_only": sorted(ops - allowed_ops),
            "globals_outside_1_13_weights_only": sorted(globs - set(wou._get_allowed_globals())),
            "weights_only": weights_only,
            "keys": list(d.keys()),
            "model_type": type(d["model"]).__name__,
            "model": {k: tensor(v) for k, v in d["model"].items()},
            "state_keys": sorted(state.keys()),
            "state_fields": {str(k): sorted(v.keys()) for k, v in state.items()},
            "step": {str(k): [type(v["step"]).__name__, str(v["step"].dtype), float(v["step"])] for k, v in state.items()},
            "exp_avg_sq": tensor(state[0]["exp_avg_sq"]),
            "param_groups": [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in d["optimizer"]["param_groups"]],
            "betas_type": type(d["optimizer"]["param_groups"][0]["betas"]).__name__,
            "entries": {k: d[k] for k in ["epoch", "seed", "loss", "run", "shuffled"]},
            "scheduler": d["scheduler"],
        }
        w = torch.nn.Parameter(d["model"]["w"].clone())
        b = torch.nn.Parameter(d["model"]["b"].clone())
        opt = torch.optim.Adam([w, b])
        opt.load_state_dict(d["optimizer"])
        grads = json.loads(sys.argv[2])
        w.grad = torch.tensor(grads["w"]).reshape(3, 4)
        b.grad = torch.tensor(grads["b"])
        opt.step()
        out["after"] = {"w": w.detach().reshape(-1).tolist(), "b": b.detach().reshape(-1).tolist()}
        print(json.dumps(out))
        """;

    /// <summary>Runs the script on the file; null (and a logged reason) where torch is not available.</summary>
    private string? RunTorch(params string[] args) => RunTorchScript(Script, args);

    private string? RunTorchScript(string script, params string[] args)
    {
        string? missing = !File.Exists(Python) ? $"{Python} does not exist" : null;
        if (missing is null)
        {
            var probe = Run(["-c", "import torch"]);
            if (probe.Code != 0) missing = $"{Python} cannot import torch: {probe.Errors.Trim()}";
        }
        if (missing is not null)
        {
            Assert.False(Environment.GetEnvironmentVariable("OPTIM_REQUIRE_TORCH") == "1", missing);
            log.WriteLine($"SKIPPED: {missing}; install python3-torch to run this check.");
            return null;
        }
        var run = Run(["-c", script, .. args]);
        Assert.True(run.Code == 0, $"python failed ({run.Code}):\n{run.Errors}");
        return run.Output;
    }

    private static (int Code, string Output, string Errors) Run(string[] args)
    {
        var psi = new ProcessStartInfo(Python, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.Environment["OMP_NUM_THREADS"] = "1";
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var errors = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(120))) { p.Kill(); throw new TimeoutException("python ran over 120 s"); }
        p.WaitForExit();
        return (p.ExitCode, output.Result, errors.Result);
    }

    private static void Close(double expected, double actual, string what) =>
        Assert.True(Math.Abs(actual - expected) <= 1e-5 + 1e-4 * Math.Abs(expected), $"{what}: {actual} vs {expected}");

    private const string WeightsOnlyScript = """
        import json, sys, torch
        d = torch.load(sys.argv[1], weights_only=True)
        print(json.dumps({
            "keys": list(d.keys()),
            "model": {k: [str(v.dtype), list(v.shape), v.reshape(-1).tolist()] for k, v in d["model"].items()},
            "epoch": d["epoch"], "run": d["run"], "shuffled": d["shuffled"],
        }))
        """;

    [Fact]
    public void ACheckpointOfWeightsAndIntegersIsReadByTorch113LoadWithWeightsOnly()
    {
        var c = new CheckpointFile();
        c.Model["w"] = new TensorData([1.5f, -2f, 3.25f, 0f, 1e-30f, -7f], 2, 3);
        c.Model["n"] = TensorData.Scalar(7L);
        c.Set("epoch", 12);
        c.Set("run", "a");
        c.Set("shuffled", false);
        var path = Path.Combine(Path.GetTempPath(), $"optim-weights-{Guid.NewGuid():N}.pt");
        try
        {
            c.Save(path);
            var output = RunTorchScript(WeightsOnlyScript, path);
            if (output is null) return;
            Assert.Equal("""{"keys": ["model", "epoch", "run", "shuffled"], "model": {"w": ["torch.float32", [2, 3], [1.5, -2.0, 3.25, 0.0, 1.0000000031710769e-30, -7.0]], "n": ["torch.int64", [], [7]]}, "epoch": 12, "run": "a", "shuffled": false}""",
                output.Trim());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void ACheckpointOptimWritesIsReadByTorchLoadAndItsOptimizerStepsInPyTorchAsInOptim()
    {
        var (adam, scheduler, w, b) = CheckpointFileTests.Trained();
        var c = new CheckpointFile { Optimizer = adam.StateDict(), Scheduler = scheduler.StateDict() };
        c.Model["w"] = new TensorData(w.Data, w.Shape);
        c.Model["b"] = new TensorData(b.Data, b.Shape);
        c.Set("epoch", 3);
        c.Set("seed", 1234567890123L);
        c.Set("loss", 0.125);
        c.Set("run", "resnet-α");
        c.Set("shuffled", true);
        var path = Path.Combine(Path.GetTempPath(), $"optim-torch-{Guid.NewGuid():N}.pt");
        try
        {
            c.Save(path);
            var gw = Enumerable.Range(0, 12).Select(i => 0.5f - 0.1f * i).ToArray();
            var gb = new[] { 1f, -2f, 0.25f };
            var output = RunTorch(path, JsonSerializer.Serialize(new { w = gw, b = gb }));
            if (output is null) return;
            using var doc = JsonDocument.Parse(output);
            var r = doc.RootElement;
            Assert.Equal("[\"BINFLOAT\"]", r.GetProperty("ops_outside_1_13_weights_only").GetRawText());
            Assert.Equal("[]", r.GetProperty("globals_outside_1_13_weights_only").GetRawText());
            Assert.Equal("Unsupported operand 71", r.GetProperty("weights_only").GetString());
            Assert.Equal(["model", "optimizer", "scheduler", "epoch", "seed", "loss", "run", "shuffled", "optim_metadata"],
                r.GetProperty("keys").EnumerateArray().Select(k => k.GetString()));
            Assert.Equal("OrderedDict", r.GetProperty("model_type").GetString());
            Assert.Equal(w.Data.Select(x => (double)x), r.GetProperty("model").GetProperty("w").GetProperty("data").EnumerateArray().Select(x => x.GetDouble()));
            Assert.Equal("torch.float32", r.GetProperty("model").GetProperty("w").GetProperty("dtype").GetString());
            Assert.Equal([3, 4], r.GetProperty("model").GetProperty("w").GetProperty("shape").EnumerateArray().Select(x => x.GetInt32()));
            Assert.Equal([0, 1], r.GetProperty("state_keys").EnumerateArray().Select(x => x.GetInt32()));
            Assert.Equal(["exp_avg", "exp_avg_sq", "step"], r.GetProperty("state_fields").GetProperty("0").EnumerateArray().Select(x => x.GetString()));
            // as PyTorch 1.13's Adam keeps it: a 0-dimensional float32 tensor
            Assert.Equal("[\"Tensor\", \"torch.float32\", 3.0]", r.GetProperty("step").GetProperty("0").GetRawText());
            using (var ours = JsonDocument.Parse(adam.StateDict().ToJson()))
                Assert.Equal(ours.RootElement.GetProperty("state").GetProperty("0").GetProperty("exp_avg_sq").EnumerateArray().Select(x => x.GetSingle()),
                    r.GetProperty("exp_avg_sq").GetProperty("data").EnumerateArray().Select(x => (float)x.GetDouble()));
            var group = r.GetProperty("param_groups")[0];
            Assert.Equal(0.005, group.GetProperty("lr").GetDouble()); // StepLR halved it after 2 of the 3 steps
            Assert.Equal("[0.8, 0.99]", group.GetProperty("betas").GetRawText());
            Assert.Equal("tuple", r.GetProperty("betas_type").GetString());
            Assert.Equal(0.1, group.GetProperty("weight_decay").GetDouble());
            Assert.Equal("[0, 1]", group.GetProperty("params").GetRawText());
            Assert.Equal("""{"epoch": 3, "seed": 1234567890123, "loss": 0.125, "run": "resnet-\u03b1", "shuffled": true}""", r.GetProperty("entries").GetRawText());
            var sched = r.GetProperty("scheduler");
            Assert.Equal(3, sched.GetProperty("last_epoch").GetInt32());
            Assert.Equal("StepLR", sched.GetProperty("_optim_kind").GetString());
            Assert.Equal("[0.01]", sched.GetProperty("base_lrs").GetRawText());
            Assert.Equal(2, sched.GetProperty("step_size").GetInt32());

            w.Grad = gw;
            b.Grad = gb;
            adam.Step();
            var after = r.GetProperty("after");
            for (int i = 0; i < 12; i++) Close(after.GetProperty("w")[i].GetDouble(), w.Data[i], $"w[{i}] after a step in PyTorch");
            for (int i = 0; i < 3; i++) Close(after.GetProperty("b")[i].GetDouble(), b.Data[i], $"b[{i}] after a step in PyTorch");
        }
        finally { File.Delete(path); }
    }

    /// <summary>Loads an Optim .pt of a Muon state into PyTorch 2.9's Muon as tests/golden/generate_muon.py transcribes
    /// it (1.13 has none), steps it once, and prints the group's value types and the parameters after the step.</summary>
    private const string MuonScript = """
        import json, sys, torch
        sys.path.insert(0, sys.argv[2])
        import generate_muon
        d = torch.load(sys.argv[1])
        group = d["optimizer"]["param_groups"][0]
        params = [torch.nn.Parameter(torch.tensor(v["data"]).reshape(v["shape"])) for v in json.loads(sys.argv[3])]
        opt = generate_muon.Muon(params)
        opt.load_state_dict(d["optimizer"])
        for p, g in zip(params, json.loads(sys.argv[4])):
            p.grad = torch.tensor(g).reshape(p.shape)
        opt.step()
        print(json.dumps({
            "types": {k: type(group[k]).__name__ for k in ["ns_steps", "ns_coefficients", "adjust_lr_fn", "nesterov", "lr"]},
            "ns_coefficients": list(group["ns_coefficients"]),
            "state_fields": sorted(d["optimizer"]["state"][0].keys()),
            "after": [p.detach().reshape(-1).tolist() for p in params],
        }))
        """;

    /// <summary>tests/golden, found above the test's directory (the generators are not copied beside the tests).</summary>
    private static string? GoldenSources()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "tests", "golden", "generate_muon.py"))) return Path.Combine(dir.FullName, "tests", "golden");
        return null;
    }

    [Fact]
    public void AMuonCheckpointLoadsIntoPyTorchsMuonWithAnIntegerStepCountATripleAndNoneAndStepsAsOptimDoes()
    {
        Parameter[] Model() =>
        [
            new Parameter(Enumerable.Range(0, 12).Select(i => (float)Math.Sin(i + 1)).ToArray(), 3, 4),
            new Parameter(Enumerable.Range(0, 10).Select(i => (float)Math.Cos(i + 1)).ToArray(), 5, 2),
        ];
        float[][] Grads(int step) => Model().Select(p => Enumerable.Range(0, p.Numel).Select(i => (float)Math.Sin(7 * step + i)).ToArray()).ToArray();
        var ps = Model();
        var opt = new Muon(ps, lr: 0.05, nsCoefficients: (3.0, -3.2, 1.2), nsSteps: 4);
        for (int step = 0; step < 3; step++)
        {
            var g = Grads(step);
            for (int i = 0; i < ps.Length; i++) ps[i].Grad = g[i];
            opt.Step();
        }
        var golden = GoldenSources();
        var path = Path.Combine(Path.GetTempPath(), $"optim-muon-{Guid.NewGuid():N}.pt");
        try
        {
            new CheckpointFile { Optimizer = opt.StateDict() }.Save(path);
            if (golden is null) { log.WriteLine("SKIPPED: tests/golden/generate_muon.py is not above the test's directory."); return; }
            var next = Grads(3);
            var output = RunTorchScript(MuonScript, path, golden,
                JsonSerializer.Serialize(ps.Select(p => new { data = p.Data, shape = p.Shape })), JsonSerializer.Serialize(next));
            if (output is null) return;
            using var doc = JsonDocument.Parse(output);
            var r = doc.RootElement;
            Assert.Equal("""{"ns_steps": "int", "ns_coefficients": "tuple", "adjust_lr_fn": "NoneType", "nesterov": "bool", "lr": "float"}""",
                r.GetProperty("types").GetRawText());
            Assert.Equal("[3.0, -3.2, 1.2]", r.GetProperty("ns_coefficients").GetRawText());
            Assert.Contains("momentum_buffer", r.GetProperty("state_fields").EnumerateArray().Select(x => x.GetString()));
            for (int i = 0; i < ps.Length; i++) ps[i].Grad = next[i];
            opt.Step();
            for (int i = 0; i < ps.Length; i++)
                for (int j = 0; j < ps[i].Numel; j++)
                    Close(r.GetProperty("after")[i][j].GetDouble(), ps[i].Data[j], $"parameter {i}[{j}] after a step in PyTorch");
        }
        finally { File.Delete(path); }
    }

    /// <summary>Steps PyTorch 2.9's Muon as transcribed (whose state is the momentum buffer alone, no step) twice, saves its
    /// state dict with torch.save, steps once more, and prints the parameters after the second and the third step.</summary>
    private const string MuonSaveScript = """
        import json, sys, torch
        sys.path.insert(0, sys.argv[2])
        import generate_muon
        params = [torch.nn.Parameter(torch.tensor(v["data"]).reshape(v["shape"])) for v in json.loads(sys.argv[3])]
        grads = json.loads(sys.argv[4])
        opt = generate_muon.Muon(params, lr=0.05, adjust_lr_fn="match_rms_adamw")
        out = {}
        for step in range(3):
            if step == 2:
                torch.save({"optimizer": opt.state_dict()}, sys.argv[1])
                out["saved"] = [p.detach().reshape(-1).tolist() for p in params]
            for p, g in zip(params, grads[step]):
                p.grad = torch.tensor(g).reshape(p.shape)
            opt.step()
        out["after"] = [p.detach().reshape(-1).tolist() for p in params]
        print(json.dumps(out))
        """;

    [Fact]
    public void A_Muon_state_dict_PyTorch_saves_without_a_step_loads_and_continues_PyTorchs_trajectory()
    {
        int[][] shapes = [[3, 4], [5, 2]];
        float[][][] grads = Enumerable.Range(0, 3)
            .Select(step => shapes.Select(s => Enumerable.Range(0, s[0] * s[1]).Select(i => (float)Math.Sin(5 * step + i)).ToArray()).ToArray()).ToArray();
        var start = shapes.Select((s, k) => Enumerable.Range(0, s[0] * s[1]).Select(i => (float)Math.Cos(k + i)).ToArray()).ToArray();
        var golden = GoldenSources();
        if (golden is null) { log.WriteLine("SKIPPED: tests/golden/generate_muon.py is not above the test's directory."); return; }
        var path = Path.Combine(Path.GetTempPath(), $"torch-muon-{Guid.NewGuid():N}.pt");
        try
        {
            var output = RunTorchScript(MuonSaveScript, path, golden,
                JsonSerializer.Serialize(start.Select((d, k) => new { data = d, shape = shapes[k] })), JsonSerializer.Serialize(grads));
            if (output is null) return;
            using var doc = JsonDocument.Parse(output);
            var r = doc.RootElement;
            var ps = shapes.Select((s, k) => new Parameter(r.GetProperty("saved")[k].EnumerateArray().Select(x => x.GetSingle()).ToArray(), s)).ToArray();
            var opt = new Muon(ps, lr: 0.05, adjustLrFn: "match_rms_adamw");
            opt.LoadStateDict(CheckpointFile.Load(path).OptimizerStateFor(opt));
            Assert.Equal("match_rms_adamw", opt.ParamGroups[0].GetText("adjust_lr_fn"));
            for (int i = 0; i < ps.Length; i++) ps[i].Grad = grads[2][i];
            opt.Step();
            for (int i = 0; i < ps.Length; i++)
                for (int j = 0; j < ps[i].Numel; j++)
                    Close(r.GetProperty("after")[i][j].GetDouble(), ps[i].Data[j], $"parameter {i}[{j}] after the step that follows the load");
        }
        finally { File.Delete(path); }
    }
}
