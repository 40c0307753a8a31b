# Golden-fixture generator for Optim.NN's module API and stateful layers (BatchNorm, the names of parameters and
# state dict keys), PyTorch 1.13 reference.
#
# Run from the repository root with the Debian interpreter that ships torch 1.13
# (the pyenv `python3` on PATH has no torch):
#
#     /usr/bin/python3 tests/golden/generate_modules.py
#
# It writes modules.json next to itself. Output is deterministic: every case seeds torch.manual_seed(<seed>),
# and torch runs single-threaded.
#
# Layout: {"torch_version": str, "cases": {NAME: CASE}}. Tensors are {"shape": [...], "data": [flat float32 values]}.
#
#   bn_<...>        one BatchNorm layer ("layer": "BatchNorm1d" | "BatchNorm2d", "args": its constructor's keyword
#                   arguments, momentum null for None), weight and bias set to "weight"/"bias" (when affine), running
#                   statistics set to "running_mean"/"running_var" (when tracked), then "steps": per step, in "mode"
#                   "train" or "eval": "input", "w", the output "output", the gradients of sum(output * w) ("grad_input",
#                   "grad_weight", "grad_bias" when affine), and the buffers after the step ("running_mean",
#                   "running_var", "num_batches_tracked" when tracked).
#   names_<...>     a model's key lists: "named_parameters", "named_buffers", "state_dict" (keys), "state_dict_shapes",
#                   and "num_batches_tracked_dtype" of a BatchNorm in it. The C# test builds the same model.

import json
import os

import torch
import torch.nn as nn

torch.set_num_threads(1)
torch.set_default_dtype(torch.float32)

HERE = os.path.dirname(os.path.abspath(__file__))


def t(x):
    x = x.detach()
    return {"shape": list(x.shape), "data": x.reshape(-1).float().tolist()}


def bn_case(seed, layer, args, steps, custom_stats=False):
    """steps: a list of (mode, input shape); weight and bias random when affine; running statistics random when custom_stats."""
    torch.manual_seed(seed)
    cls = {"BatchNorm1d": nn.BatchNorm1d, "BatchNorm2d": nn.BatchNorm2d}[layer]
    m = cls(**args)
    case = {"layer": layer, "args": args}
    with torch.no_grad():
        if m.affine:
            m.weight.copy_(torch.randn(m.num_features) * 0.5 + 1)
            m.bias.copy_(torch.randn(m.num_features) * 0.5)
            case["weight"] = t(m.weight)
            case["bias"] = t(m.bias)
        if m.track_running_stats and custom_stats:
            m.running_mean.copy_(torch.randn(m.num_features) * 0.3)
            m.running_var.copy_(torch.rand(m.num_features) + 0.5)
        if m.track_running_stats:
            case["running_mean"] = t(m.running_mean)
            case["running_var"] = t(m.running_var)
    out_steps = []
    for mode, shape in steps:
        m.train(mode == "train")
        x = (torch.randn(shape) * 1.5 + 0.3).requires_grad_(True)
        if m.affine:
            m.weight.grad = None
            m.bias.grad = None
        y = m(x)
        w = torch.randn(y.shape)
        (y * w).sum().backward()
        s = {"mode": mode, "input": t(x), "w": t(w), "output": t(y), "grad_input": t(x.grad)}
        if m.affine:
            s["grad_weight"] = t(m.weight.grad)
            s["grad_bias"] = t(m.bias.grad)
        if m.track_running_stats:
            s["running_mean"] = t(m.running_mean)
            s["running_var"] = t(m.running_var)
            s["num_batches_tracked"] = int(m.num_batches_tracked.item())
        out_steps.append(s)
    case["steps"] = out_steps
    return case


cases = {}
cases["bn2d_train_2x3x4x5"] = bn_case(1, "BatchNorm2d", {"num_features": 3}, [("train", (2, 3, 4, 5))])
cases["bn2d_train_4x2x3x3_eps"] = bn_case(2, "BatchNorm2d", {"num_features": 2, "eps": 1e-3}, [("train", (4, 2, 3, 3))])
cases["bn2d_train_1x4x2x3"] = bn_case(3, "BatchNorm2d", {"num_features": 4}, [("train", (1, 4, 2, 3))])
cases["bn2d_train_5x1x1x2"] = bn_case(4, "BatchNorm2d", {"num_features": 1}, [("train", (5, 1, 1, 2))])
cases["bn2d_eval_2x3x4x5"] = bn_case(5, "BatchNorm2d", {"num_features": 3}, [("eval", (2, 3, 4, 5))], custom_stats=True)
cases["bn2d_eval_1x2x3x1"] = bn_case(6, "BatchNorm2d", {"num_features": 2}, [("eval", (1, 2, 3, 1))], custom_stats=True)
cases["bn2d_momentum_3_steps_then_eval"] = bn_case(
    7, "BatchNorm2d", {"num_features": 3, "momentum": 0.1},
    [("train", (2, 3, 2, 2)), ("train", (3, 3, 2, 2)), ("train", (2, 3, 3, 2)), ("eval", (2, 3, 2, 2))])
cases["bn2d_cumulative_3_steps_then_eval"] = bn_case(
    8, "BatchNorm2d", {"num_features": 3, "momentum": None},
    [("train", (2, 3, 2, 2)), ("train", (3, 3, 2, 2)), ("train", (2, 3, 3, 2)), ("eval", (2, 3, 2, 2))])
cases["bn2d_not_affine"] = bn_case(9, "BatchNorm2d", {"num_features": 2, "affine": False},
                                   [("train", (3, 2, 2, 2)), ("eval", (2, 2, 2, 2))])
cases["bn2d_untracked_eval_uses_batch_stats"] = bn_case(
    10, "BatchNorm2d", {"num_features": 2, "track_running_stats": False}, [("train", (3, 2, 2, 2)), ("eval", (2, 2, 3, 2))])
cases["bn1d_train_eval_2d"] = bn_case(11, "BatchNorm1d", {"num_features": 4}, [("train", (6, 4)), ("train", (5, 4)), ("eval", (3, 4))])
cases["bn1d_train_eval_3d"] = bn_case(12, "BatchNorm1d", {"num_features": 3, "momentum": None},
                                      [("train", (2, 3, 5)), ("train", (4, 3, 2)), ("eval", (2, 3, 4))])


def names_case(model):
    sd = model.state_dict()
    bn = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats][0]
    return {
        "named_parameters": [n for n, _ in model.named_parameters()],
        "named_buffers": [n for n, _ in model.named_buffers()],
        "state_dict": list(sd.keys()),
        "state_dict_shapes": [list(v.shape) for v in sd.values()],
        "num_batches_tracked_dtype": str(bn.num_batches_tracked.dtype),
    }


torch.manual_seed(20)
cases["names_sequential"] = names_case(nn.Sequential(
    nn.Linear(4, 8), nn.ReLU(), nn.BatchNorm2d(8),
    nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.BatchNorm1d(8, affine=False), nn.Dropout(0.1)),
    nn.Linear(8, 2, bias=False)))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Dropout(0.5), nn.Linear(6, 6))
        self.norm = nn.BatchNorm2d(6, track_running_stats=False)
        self.classifier = nn.Linear(6, 3)

    def forward(self, x):
        return self.classifier(self.features(x))


torch.manual_seed(21)
cases["names_nested_module"] = names_case(Net())

with open(os.path.join(HERE, "modules.json"), "w") as f:
    json.dump({"torch_version": torch.__version__, "cases": cases}, f, separators=(",", ":"))
    f.write("\n")
print(f"modules.json: {len(cases)} cases")
