namespace Optim.CSharp;

/// <summary>
/// What a state dict written by an older PyTorch (or an older Optim) may lack: the hyperparameters later versions added,
/// which each optimizer's <c>__setstate__</c> fills with <c>group.setdefault(key, value)</c> when such a state dict is
/// loaded. <c>foreach</c>, <c>capturable</c>, <c>differentiable</c> and <c>fused</c> choose PyTorch's kernels, not
/// the numbers; the facade keeps none of them, so they need no default.
/// </summary>
internal static class OlderStateDicts
{
    private static readonly (string Key, double Value)[] Maximize = [("maximize", 0)];

    private static readonly Dictionary<string, (string Key, double Value)[]> Keys = new()
    {
        // torch/optim/*.py, __setstate__ of PyTorch 1.13 (and 2.x for decoupled_weight_decay)
        ["SGD"] = [("nesterov", 0), ("maximize", 0)],
        ["Adam"] = [("amsgrad", 0), ("maximize", 0)],
        ["AdamW"] = [("amsgrad", 0), ("maximize", 0)],
        ["RMSprop"] = [("momentum", 0), ("centered", 0), ("maximize", 0)],
        ["NAdam"] = [("maximize", 0), ("decoupled_weight_decay", 0)],
        ["RAdam"] = [("maximize", 0), ("decoupled_weight_decay", 0)],
        ["Adagrad"] = Maximize,
        ["Adadelta"] = Maximize,
        ["Adamax"] = Maximize,
        ["ASGD"] = Maximize,
        ["Rprop"] = Maximize,
        ["SparseAdam"] = Maximize,
        ["Adafactor"] = Maximize,
    };

    /// <summary>The keys, with their values, that a loaded group of <paramref name="kind"/> takes when it lacks them.</summary>
    public static (string Key, double Value)[] SetDefaults(string kind) => Keys.TryGetValue(kind, out var keys) ? keys : [];
}
