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

    internal Checkpoint Checkpoint { get; }

    /// <summary>The optimizer kind it was taken from (<c>"Adam"</c>, …).</summary>
    public string OptimizerKind => Checkpoint.Kind;

    /// <summary>The JSON text; floats round-trip exactly.</summary>
    public string ToJson() => CheckpointModule.toJson(Checkpoint);

    /// <summary>Reads a state dict written by <see cref="ToJson"/>.</summary>
    /// <param name="json">The JSON text.</param>
    /// <exception cref="ArgumentNullException"><paramref name="json"/> is null.</exception>
    /// <exception cref="ArgumentException">The text is not JSON or not a state dict; the message says where.</exception>
    public static StateDict FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        return new StateDict(CheckpointModule.ofJson(json));
    }

    /// <inheritdoc />
    public override string ToString() => ToJson();
}
