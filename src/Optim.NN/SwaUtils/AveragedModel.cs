using Optim.CSharp;

namespace Optim.NN;

/// <summary>
/// A running average of a model's weights, for stochastic weight averaging (SWA) or an exponential moving average (EMA)
/// (<c>torch.optim.swa_utils.AveragedModel</c>, PyTorch 2.x): a module holding a deep copy of the model
/// (<see cref="Module"/>, the state dict's <c>module.*</c>) and the count of models averaged into it
/// (<see cref="NAveraged"/>, the buffer <c>n_averaged</c>); <see cref="Forward"/> runs the copy.
/// </summary>
/// <remarks>
/// <para><see cref="UpdateParameters"/> copies the model's parameters on its first call and averages them into the copy
/// on every later one: by default the equal-weight running average <c>avg ← avg + (x − avg)/(n + 1)</c>, computed as
/// PyTorch computes it on the CPU; with <c>avgFn</c>, a function of one tensor (<see cref="SwaUtils.GetEmaAvgFn"/>);
/// with <c>multiAvgFn</c>, a function of all tensors at once, in place (<see cref="SwaUtils.GetEmaMultiAvgFn"/>). With
/// <c>useBuffers</c> the buffers (batch norm's running statistics) are averaged with the parameters; without it they are
/// copied from the model at every update, as PyTorch 2.x does (1.13 left them as the copy made them).</para>
/// <para><c>n_averaged</c> is an int64 in PyTorch. Here it is a rank-0 float32 buffer, as every buffer is (and as
/// <see cref="BatchNorm.NumBatchesTracked"/> is), holding the count exactly up to 2^24 (16,777,216) updates;
/// <see cref="Module.StateDict"/> and <see cref="Module.LoadStateDict"/> carry it under PyTorch's key, and
/// <see cref="ModelCheckpoint.SetModel"/> writes it as an int64 scalar, so PyTorch loads the state dict as its own.
/// Batch norm's <c>num_batches_tracked</c> is averaged as the integer it is in PyTorch: rounded toward zero.</para>
/// <para>The averaging functions are not part of the state dict (as in PyTorch). PyTorch's <c>device</c> argument has no
/// counterpart: every tensor lives in memory.</para>
/// </remarks>
/// <example><code>
/// var swaModel = new AveragedModel(model);
/// // once per epoch after swaStart:
/// swaModel.UpdateParameters(model);
/// // at the end: batch-norm statistics for the averaged weights, then predictions
/// SwaUtils.UpdateBn(loader, swaModel);
/// var predictions = swaModel.Forward(testInput);
/// </code></example>
public sealed class AveragedModel : Module
{
    private readonly Tensor _nAveraged = Tensor.Scalar(0f);
    private readonly Func<Tensor, Tensor, long, Tensor>? _avgFn;
    private readonly Action<IReadOnlyList<Tensor>, IReadOnlyList<Tensor>, long>? _multiAvgFn;

    /// <summary>An average of <paramref name="model"/>'s weights, starting as a deep copy of it, with nothing averaged yet.</summary>
    /// <param name="model">The model to average; it is copied with <see cref="Module.DeepCopy"/> (or built with
    /// <paramref name="factory"/>), and later passed to <see cref="UpdateParameters"/>.</param>
    /// <param name="avgFn">The new average of one tensor from (the averaged tensor, the model's, the number of models
    /// averaged so far), as <see cref="SwaUtils.GetEmaAvgFn"/> makes it; its result is copied into the averaged tensor.
    /// Null, with no <paramref name="multiAvgFn"/>: the equal-weight running average.</param>
    /// <param name="multiAvgFn">Updates the averaged tensors in place from (the averaged tensors, the model's, the number of
    /// models averaged so far), as <see cref="SwaUtils.GetEmaMultiAvgFn"/> makes it: called once with the floating-point
    /// tensors and, with <paramref name="useBuffers"/> and batch-norm counters, once more with those, whose values are then
    /// rounded toward zero as in an int64 tensor.</param>
    /// <param name="useBuffers">Average the buffers with the parameters (<c>use_buffers</c>); otherwise copy them from the model at every update.</param>
    /// <param name="factory">Builds a fresh module of the model's structure, into which the model's state dict is loaded,
    /// instead of <see cref="Module.DeepCopy"/>: for a model of one's own that cannot be deep-copied. Null: deep copy.</param>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    /// <exception cref="ArgumentException">Both <paramref name="avgFn"/> and <paramref name="multiAvgFn"/> are given; or the
    /// factory returns null, the model itself, a module sharing a layer with it, or one whose state dict does not fit
    /// the model's (the message names the keys).</exception>
    /// <exception cref="NotSupportedException">Without a factory, the model cannot be deep-copied (see <see cref="Module.DeepCopy"/>); the message names the module that holds what the copy would share.</exception>
    public AveragedModel(Module model, Func<Tensor, Tensor, long, Tensor>? avgFn = null,
        Action<IReadOnlyList<Tensor>, IReadOnlyList<Tensor>, long>? multiAvgFn = null, bool useBuffers = false, Func<Module>? factory = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (avgFn is not null && multiAvgFn is not null)
            throw new ArgumentException("Only one of avgFn and multiAvgFn should be provided.", nameof(multiAvgFn));
        Module = factory is null ? model.DeepCopy() : ModuleCopier.Build(model, factory);
        _avgFn = avgFn;
        _multiAvgFn = multiAvgFn;
        UseBuffers = useBuffers;
    }

    /// <summary>The averaged copy of the model (<c>swa_model.module</c>), live.</summary>
    public Module Module { get; }

    /// <summary>
    /// The number of models averaged so far (the buffer <c>n_averaged</c>, live), rank 0: 0 until the first
    /// <see cref="UpdateParameters"/>. Read it with <c>NAveraged.Item()</c>.
    /// </summary>
    public Tensor NAveraged => _nAveraged;

    /// <summary>Whether the buffers are averaged with the parameters (<c>use_buffers</c>).</summary>
    public bool UseBuffers { get; }

    /// <summary>Runs the averaged copy (<c>swa_model(x)</c>).</summary>
    /// <param name="input">The input.</param>
    public override Tensor Forward(Tensor input) => Module.Forward(input);

    /// <summary>
    /// Averages <paramref name="model"/>'s current weights into the copy (<c>update_parameters(model)</c>): the first
    /// call copies them; each later one applies the averaging function with the number of models averaged so far; the
    /// buffers are averaged too with <see cref="UseBuffers"/>, otherwise copied. Then <see cref="NAveraged"/> grows by
    /// one. Nothing records a graph.
    /// </summary>
    /// <param name="model">The model being trained, of the averaged copy's structure: parameters (and buffers) paired in
    /// order, as PyTorch pairs them.</param>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    /// <exception cref="ArgumentException">The model's parameters or buffers differ from the copy's in number or shape; the
    /// message names the first that differs. Nothing changes.</exception>
    /// <exception cref="InvalidOperationException"><c>avgFn</c> returned null or a tensor of another shape (the message names
    /// the parameter); nothing changes. An exception an averaging function throws propagates; the averaged values are
    /// then as they were before the call.</exception>
    public void UpdateParameters(Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var parameters = Pair(Module.NamedParameters().Select(p => (p.Name, p.Parameter.Data, p.Parameter.Shape)),
                              model.NamedParameters().Select(p => (p.Name, p.Parameter.Data, p.Parameter.Shape)), "parameter");
        var buffers = Pair(Module.NamedBuffers().Select(b => (b.Name, b.Buffer.Data, b.Buffer.ShapeArray)),
                           model.NamedBuffers().Select(b => (b.Name, b.Buffer.Data, b.Buffer.ShapeArray)), "buffer");
        var counters = new HashSet<float[]>(Module.NamedModules().SelectMany(m => m.Module.IntegerBuffers()).Select(b => b.Data),
                                            ReferenceEqualityComparer.Instance);
        var averaged = UseBuffers ? parameters.Concat(buffers).ToList() : parameters;
        long n = (long)_nAveraged.Data[0];
        using (Tensor.NoGrad())
        {
            if (n == 0)
                foreach (var p in averaged) p.Current.AsSpan().CopyTo(p.Averaged);
            else if (_multiAvgFn is not null) CallMulti(averaged, counters, n);
            else if (_avgFn is not null) CallPerTensor(averaged, counters, n);
            else
                foreach (var p in averaged)
                {
                    Averaging.Swa(p.Averaged, p.Current, n + 1);
                    if (counters.Contains(p.Averaged)) Averaging.Truncate(p.Averaged);
                }
        }
        if (!UseBuffers)
            foreach (var b in buffers) b.Current.AsSpan().CopyTo(b.Averaged);
        foreach (var (_, p) in Module.NamedParameters()) p.MarkModified();
        _nAveraged.Data[0] += 1f;
    }

    /// <summary>The module (<c>module</c>).</summary>
    protected override IEnumerable<(string Name, Module Module)> RegisteredChildren() => [("module", Module)];

    /// <summary><c>n_averaged</c>.</summary>
    protected override IEnumerable<(string Name, Tensor Buffer)> RegisteredBuffers() => [("n_averaged", _nAveraged)];

    internal override IEnumerable<Tensor> IntegerBuffers() => [_nAveraged];

    /// <summary>An averaged array and the model's array it follows, under the model's name.</summary>
    private readonly record struct Pairing(string Name, float[] Averaged, float[] Current, int[] Shape);

    /// <summary>The copy's values paired with the model's in order, checked to agree in number and shape.</summary>
    private static List<Pairing> Pair(IEnumerable<(string Name, float[] Data, int[] Shape)> mine,
        IEnumerable<(string Name, float[] Data, int[] Shape)> theirs, string what)
    {
        var a = mine.ToList();
        var m = theirs.ToList();
        for (int i = 0; i < Math.Max(a.Count, m.Count); i++)
        {
            if (i >= m.Count)
                throw new ArgumentException(
                    $"The model has {m.Count} {what}s, the averaged model {a.Count}: it lacks one for the averaged '{a[i].Name}'.", "model");
            if (i >= a.Count)
                throw new ArgumentException(
                    $"The model has {m.Count} {what}s, the averaged model {a.Count}: the model's '{m[i].Name}' has no counterpart.", "model");
            if (!a[i].Shape.AsSpan().SequenceEqual(m[i].Shape))
                throw new ArgumentException(
                    $"The model's {what} '{m[i].Name}' has shape {Shapes.Format(m[i].Shape)}, but the averaged model's '{a[i].Name}' has {Shapes.Format(a[i].Shape)}.", "model");
        }
        return a.Select((x, i) => new Pairing(m[i].Name, x.Data, m[i].Data, x.Shape)).ToList();
    }

    /// <summary>The averaged values as they are, to put back if a function of the user's throws.</summary>
    private static float[][] Snapshot(List<Pairing> pairs) => pairs.Select(p => (float[])p.Averaged.Clone()).ToArray();

    private static void Restore(List<Pairing> pairs, float[][] saved)
    {
        for (int i = 0; i < pairs.Count; i++) saved[i].CopyTo(pairs[i].Averaged, 0);
    }

    private void CallMulti(List<Pairing> pairs, HashSet<float[]> counters, long n)
    {
        // the built-in functions check before they write; a function of the user's may fail half-way
        var saved = _multiAvgFn!.Target is SwaUtils.MultiAverage ? null : Snapshot(pairs);
        try
        {
            foreach (bool integral in new[] { false, true })
            {
                var group = pairs.Where(p => counters.Contains(p.Averaged) == integral).ToList();
                if (group.Count == 0) continue;
                _multiAvgFn(group.Select(p => Tensor.Wrap(p.Averaged, (int[])p.Shape.Clone(), integral)).ToList(),
                            group.Select(p => Tensor.Wrap(p.Current, (int[])p.Shape.Clone(), integral)).ToList(), n);
                if (integral)
                    foreach (var p in group) Averaging.Truncate(p.Averaged);
            }
        }
        catch when (saved is not null)
        {
            Restore(pairs, saved);
            throw;
        }
    }

    private void CallPerTensor(List<Pairing> pairs, HashSet<float[]> counters, long n)
    {
        // every result first, then the copies: a function that fails or returns a wrong shape changes nothing
        var results = new Tensor[pairs.Count];
        for (int i = 0; i < pairs.Count; i++)
        {
            var p = pairs[i];
            bool integral = counters.Contains(p.Averaged);
            var r = _avgFn!(Tensor.Wrap(p.Averaged, (int[])p.Shape.Clone(), integral), Tensor.Wrap(p.Current, (int[])p.Shape.Clone(), integral), n);
            if (r is null) throw new InvalidOperationException($"avgFn returned null for '{p.Name}'.");
            if (!r.Shape.SequenceEqual(p.Shape))
                throw new InvalidOperationException(
                    $"avgFn returned a tensor of shape {Shapes.Format(r.ShapeArray)} for '{p.Name}', of shape {Shapes.Format(p.Shape)}.");
            results[i] = r;
        }
        for (int i = 0; i < pairs.Count; i++)
        {
            results[i].Data.AsSpan().CopyTo(pairs[i].Averaged);
            if (counters.Contains(pairs[i].Averaged)) Averaging.Truncate(pairs[i].Averaged);
        }
    }
}
