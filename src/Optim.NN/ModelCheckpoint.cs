using Optim.CSharp;

namespace Optim.NN;

/// <summary>
/// A model's weights in a <see cref="CheckpointFile"/>: its <see cref="Module.StateDict"/> into the file's
/// <see cref="CheckpointFile.Model"/>, and back into a model, so that one file holds the model, the optimizer, the
/// scheduler and the loop's position, in PyTorch's <c>.pt</c> format (<c>torch.load(path)["model"]</c> is the model's
/// <c>state_dict()</c>, and what <c>torch.save(model.state_dict(), path)</c> wrote loads with <see cref="LoadModel"/>).
/// </summary>
/// <example><code>
/// var file = new CheckpointFile { Optimizer = optimizer.StateDict() };
/// file.SetModel(model);
/// file.Save("checkpoint.pt");
/// CheckpointFile.Load("checkpoint.pt").LoadModel(model);
/// </code></example>
public static class ModelCheckpoint
{
    /// <summary>
    /// Puts the model's state dict (parameters and buffers by dotted name, copied) into the file's
    /// <see cref="CheckpointFile.Model"/>, replacing what it held. A <c>num_batches_tracked</c> (batch norm's) or an
    /// <c>n_averaged</c> (<see cref="AveragedModel"/>'s) is written as an int64 scalar, as PyTorch keeps it.
    /// </summary>
    /// <param name="file">The checkpoint.</param>
    /// <param name="model">The model.</param>
    /// <returns>The checkpoint.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static CheckpointFile SetModel(this CheckpointFile file, Module model)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(model);
        var state = model.StateDict();
        file.Model.Clear();
        foreach (var (name, t) in state)
            file.Model.Add(name, IsCounter(name) && t.Numel == 1 && t.Data[0] == Math.Floor(t.Data[0])
                ? TensorData.Scalar((long)t.Data[0])
                : new TensorData(t.Data, t.Shape.ToArray()));
        return file;
    }

    /// <summary>
    /// Loads the file's model weights into <paramref name="model"/> (<c>model.load_state_dict(...)</c>), converting
    /// float64 and int64 tensors to float32. Names and shapes are checked first, as <see cref="Module.LoadStateDict"/>
    /// checks them; a failed load changes nothing.
    /// </summary>
    /// <param name="file">The checkpoint.</param>
    /// <param name="model">The model.</param>
    /// <param name="strict">Whether every key of the model must be in the file and no other (PyTorch's <c>strict</c>).</param>
    /// <returns>The model's keys the file lacks and the file's keys the model lacks (both empty in a strict load).</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A key is missing or unexpected (strict), or a shape differs; nothing is loaded.</exception>
    public static (IReadOnlyList<string> MissingKeys, IReadOnlyList<string> UnexpectedKeys) LoadModel(this CheckpointFile file, Module model, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(model);
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, data) in file.Model)
        {
            var shape = data.Shape;
            var values = data.ToFloat32();
            state[name] = shape.Length == 0 ? Tensor.Scalar(values[0]) : new Tensor(values, shape);
        }
        return model.LoadStateDict(state, strict);
    }

    /// <summary>PyTorch's int64 buffers: BatchNorm's <c>num_batches_tracked</c> and AveragedModel's <c>n_averaged</c>.</summary>
    private static bool IsCounter(string name) =>
        name.Split('.')[^1] is "num_batches_tracked" or "n_averaged";
}
