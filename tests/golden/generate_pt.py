# Golden-fixture generator for Optim's .pt checkpoint files, PyTorch 1.13 reference.
#
# Run from the repository root with the Debian interpreter that ships torch 1.13
# (the pyenv `python3` on PATH has no torch):
#
#     /usr/bin/python3 tests/golden/generate_pt.py
#
# It writes pt.json next to itself and the .pt files torch.save writes into pt/. Output is deterministic:
# torch.manual_seed(0), single-threaded.
#
# Files in pt/:
#   adam.pt, sgd.pt   torch.save(optimizer.state_dict()) after 10 steps of Adam(lr=0.01) and
#                     SGD(lr=0.05, momentum=0.9) on a fixed least-squares problem over w [3, 4] and b [3].
#   model.pt          torch.save(model.state_dict()) of Sequential(Linear(4, 3), BatchNorm1d(3)) after one
#                     forward pass in training mode (so num_batches_tracked is 1, an int64 tensor).
#   views.pt          a dict of tensors that share or view storages: an offset slice, a transpose (non-contiguous
#                     strides), an expanded tensor (stride 0), a Parameter (_rebuild_parameter), a float64 and an
#                     int64 tensor and a 0-dimensional one, plus an int, a float, a string, a bool.
#
# Layout of pt.json: {"torch_version": str, "cases": {NAME: CASE}}. Tensors are {"shape": [...], "dtype": str,
# "data": [flat row-major values]}.
#   adam, sgd   "params_at_10": {w, b} after the 10 saved steps; "steps": the next 10 steps, each with "grads"
#               {w, b} (computed at the params before that step) and "params" {w, b} after it.
#   model       "tensors": {name: tensor} of model.state_dict(), in order.
#   views       "tensors": {name: tensor} as torch.load reads them back; "entries": {name: value}.

import json
import os

import torch
import torch.nn as nn

torch.set_num_threads(1)
torch.set_default_dtype(torch.float32)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "pt")


def t(x):
    x = x.detach()
    dtype = {torch.float32: "float32", torch.float64: "float64", torch.int64: "int64"}[x.dtype]
    return {"shape": list(x.shape), "dtype": dtype, "data": x.reshape(-1).tolist()}


def problem():
    torch.manual_seed(0)
    x = torch.randn(8, 4)
    y = torch.randn(8, 3)
    w = torch.randn(3, 4).requires_grad_()
    b = torch.randn(3).requires_grad_()
    return x, y, w, b


def grads(x, y, w, b):
    w.grad = None
    b.grad = None
    loss = ((x @ w.t() + b - y) ** 2).mean()
    loss.backward()


def trajectory(name, make, strip=(), load_into=None):
    """10 steps, the state dict saved, then 10 more. With strip, the saved groups lack those keys (as a state dict of an
    older PyTorch does), and the 10 more steps are taken by a fresh load_into optimizer that loaded it, whose
    __setstate__ fills them with its defaults, whatever load_into was built with."""
    x, y, w, b = problem()
    opt = make([w, b])
    for _ in range(10):
        opt.zero_grad()
        grads(x, y, w, b)
        opt.step()
    sd = opt.state_dict()
    for g in sd["param_groups"]:
        for key in strip:
            g.pop(key, None)
    torch.save(sd, os.path.join(OUT, name + ".pt"))
    if load_into is not None:
        opt = load_into([w, b])
        opt.load_state_dict(torch.load(os.path.join(OUT, name + ".pt")))
    case = {"params_at_10": {"w": t(w), "b": t(b)}, "steps": []}
    if load_into is not None:
        case["groups_after_load"] = [{k: v for k, v in g.items() if k != "params"} for g in opt.state_dict()["param_groups"]]
    for _ in range(10):
        opt.zero_grad()
        grads(x, y, w, b)
        g = {"w": t(w.grad), "b": t(b.grad)}
        opt.step()
        case["steps"].append({"grads": g, "params": {"w": t(w), "b": t(b)}})
    return case


def model_case():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    model.train()
    model(torch.randn(5, 4))
    torch.save(model.state_dict(), os.path.join(OUT, "model.pt"))
    return {"tensors": {k: t(v) for k, v in model.state_dict().items()}}


def views_case():
    base = torch.arange(10.0)
    values = {
        "offset": base[3:7],
        "transposed": torch.arange(6.0).reshape(2, 3).t(),
        "expanded": torch.tensor([1.0, 2.0]).expand(3, 2),
        "param": nn.Parameter(torch.tensor([0.5, -0.25])),
        "double": torch.tensor([1.0 / 3.0, 2.0], dtype=torch.float64),
        "long": torch.tensor([[1, -2], [3, 2**40]], dtype=torch.int64),
        "scalar": torch.tensor(2.5),
        "same_storage": base[:2],
    }
    entries = {"epoch": 3, "loss": 0.125, "name": "run-1", "resumed": True}
    torch.save({**values, **entries}, os.path.join(OUT, "views.pt"))
    return {"tensors": {k: t(v) for k, v in values.items()}, "entries": entries}


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = {
        "adam": trajectory("adam", lambda ps: torch.optim.Adam(ps, lr=0.01)),
        "sgd": trajectory("sgd", lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9)),
        # state dicts of an older PyTorch, which lack keys added since: loaded into optimizers built with other values
        "sgd_older": trajectory("sgd_older", lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
                                strip=("nesterov", "maximize", "foreach", "differentiable"),
                                load_into=lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, maximize=True)),
        "adam_older": trajectory("adam_older", lambda ps: torch.optim.Adam(ps, lr=0.01),
                                 strip=("amsgrad", "maximize", "foreach", "capturable", "differentiable", "fused"),
                                 load_into=lambda ps: torch.optim.Adam(ps, lr=0.01, amsgrad=True, maximize=True)),
        "rmsprop_older": trajectory("rmsprop_older", lambda ps: torch.optim.RMSprop(ps, lr=0.01),
                                    strip=("momentum", "centered", "maximize", "foreach", "differentiable"),
                                    load_into=lambda ps: torch.optim.RMSprop(ps, lr=0.01, momentum=0.9, centered=True)),
        # PyTorch 1.13's NAdam has neither maximize nor decoupled_weight_decay (2.x's): its state dict lacks them
        "nadam": trajectory("nadam", lambda ps: torch.optim.NAdam(ps, lr=0.01)),
        "model": model_case(),
        "views": views_case(),
    }
    with open(os.path.join(HERE, "pt.json"), "w") as f:
        json.dump({"torch_version": torch.__version__, "cases": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
