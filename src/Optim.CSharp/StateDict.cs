using Optim;

namespace Optim.CSharp;

/// <summary>
/// A snapshot of an optimizer in PyTorch's <c>state_dict()</c> layout — <c>state</c> by parameter index,
/// <c>param_groups</c> with hyperparameters and parameter indices — plus the optimizer's kind and the
/// parameters' names and shapes, so that a load into the wrong optimizer fails clearly.
/// </summary>
public sealed class StateDict
{
    internal StateDict(Checkpoint checkpoint) => Checkpoint = checkpoint;

    /// <summary>An LBFGS snapshot: its groups, names and shapes, and its global state.</summary>
    internal StateDict(LbfgsCheckpoint lbfgs)
    {
        Checkpoint = lbfgs.Checkpoint;
        Lbfgs = lbfgs;
    }

    internal Checkpoint Checkpoint { get; }

    /// <summary>The whole snapshot of an LBFGS optimizer, or null for any other kind.</summary>
    internal LbfgsCheckpoint? Lbfgs { get; }

    /// <summary>The optimizer kind it was taken from (<c>"Adam"</c>, …).</summary>
    public string OptimizerKind => Checkpoint.Kind;

    /// <summary>The JSON text; floats round-trip exactly.</summary>
    public string ToJson() => Lbfgs is null ? CheckpointModule.toJson(Checkpoint) : LbfgsCheckpointModule.toJson(Lbfgs);

    /// <summary>Reads a state dict written by <see cref="ToJson"/>.</summary>
    /// <param name="json">The JSON text.</param>
    /// <exception cref="ArgumentNullException"><paramref name="json"/> is null.</exception>
    /// <exception cref="ArgumentException">The text is not JSON or not a state dict; the message says where.</exception>
    public static StateDict FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        var lbfgs = LbfgsCheckpointModule.tryOfJson(json);
        return lbfgs is null ? new StateDict(CheckpointModule.ofJson(json)) : new StateDict(lbfgs.Value);
    }

    /// <inheritdoc />
    public override string ToString() => ToJson();
}
