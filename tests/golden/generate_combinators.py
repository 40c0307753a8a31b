# Golden fixtures for the combinators (PyTorch 1.13 reference): clip_grad_norm_ and AveragedModel's EMA.
#
# Run from the repository root with the Debian interpreter that ships torch 1.13:
#
#     /usr/bin/python3 tests/golden/generate_combinators.py [--out DIR]
#
# It writes combinators.json next to itself (or into DIR; the tests read the directory OPTIM_GOLDEN_DIR names when
# it is set, else the committed copy).  Output is deterministic: each case seeds its own generator and torch runs
# single-threaded.  Floats are float32 values as Python floats (exact), as in generate.py.
#
#   {"torch_version": ..., "clip": [CLIP, ...], "ema": [EMA, ...]}
#
# CLIP (torch.nn.utils.clip_grad_norm_(params, max_norm), norm_type 2):
#   name, max_norm,
#   shapes      one per parameter
#   grads       per parameter its gradient, flattened, or null (p.grad is None: clip_grad_norm_ skips it)
#   total_norm  the returned total norm, a float32 (a huge case makes it "Infinity")
#   clipped     per parameter the gradient after clipping, or null
#
# EMA (torch.optim.swa_utils.AveragedModel(model, avg_fn=ema) with PyTorch 2.x's get_ema_avg_fn(decay):
#      ema = decay * ema + (1 - decay) * p):
#   name, decay,
#   params      [{"shape", "data"}] the model's initial parameters
#   steps       [{"updates": [...], "params": [...], "averaged": [...]}]: per parameter the change added to it
#               (p.add_(u), float32), its value after, and the averaged model's parameter after
#               update_parameters(model) is called, as a training loop calls it after each optimizer.step()

import argparse
import json
import os

import torch
from torch.optim.swa_utils import AveragedModel

torch.set_num_threads(1)
torch.set_default_dtype(torch.float32)

HERE = os.path.dirname(os.path.abspath(__file__))


def flat(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


def number(x):
    x = float(x)
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def clip_case(name, seed, shapes, scales, max_norm, missing=()):
    g = torch.Generator().manual_seed(seed)
    params = [torch.zeros(s, requires_grad=True) for s in shapes]
    grads = []
    for i, (p, scale) in enumerate(zip(params, scales)):
        if i in missing:
            p.grad = None
            grads.append(None)
        else:
            p.grad = torch.randn(p.shape, generator=g) * scale
            grads.append(flat(p.grad))
    total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return {"name": name, "max_norm": max_norm, "shapes": [list(s) for s in shapes], "grads": grads,
            "total_norm": number(total), "clipped": [None if p.grad is None else flat(p.grad) for p in params]}


def clip_cases():
    shapes = [[5], [3, 4], [], [2, 3, 2], [17], [0]]
    ones = [1.0] * len(shapes)
    out = []
    for max_norm in [0.1, 1.0, 5.0, 100.0]:
        out.append(clip_case("mixed shapes max_norm %g" % max_norm, 1, shapes, ones, max_norm))
    out.append(clip_case("some without grad", 2, shapes, [3.0, 0.5, 2.0, 1.0, 0.1, 1.0], 2.0, missing=(1, 4)))
    out.append(clip_case("only one with grad", 3, shapes, ones, 0.5, missing=(0, 1, 2, 3, 5)))
    out.append(clip_case("mixed scales", 4, [[7], [4, 4], [1]], [1e-3, 10.0, 1e3], 10.0))
    out.append(clip_case("norm just above max", 5, [[8]], [1.0], 2.5))
    out.append(clip_case("max_norm zero", 6, [[3], [2, 2]], [1.0, 1.0], 0.0))
    out.append(clip_case("tiny values whose squares underflow", 7, [[6], [3]], [1e-25, 1e-30], 1.0))
    out.append(clip_case("large values within range", 8, [[5], [3]], [1e15, 1e17], 1.0))
    out.append(clip_case("huge values: the squares overflow", 9, [[5], [3]], [1e20, 1.0], 1.0))
    out.append(clip_case("huge norms: each finite, their squares overflow", 10, [[2]] * 10, [5e18] * 10, 1.0))
    return out


def ema_case(name, seed, shapes, decay, steps, missing_first=False):
    g = torch.Generator().manual_seed(seed)
    model = torch.nn.ParameterList([torch.nn.Parameter(torch.randn(s, generator=g)) for s in shapes])
    avg = AveragedModel(model, avg_fn=lambda e, p, n: decay * e + (1 - decay) * p)
    info = [{"shape": list(s), "data": flat(p)} for s, p in zip(shapes, model)]
    out = []
    for k in range(steps):
        scale = [1.0, 0.1, 0.01, 3.0][k % 4]
        updates = []
        with torch.no_grad():
            for p in model:
                u = torch.randn(p.shape, generator=g) * scale
                p.add_(u)
                updates.append(flat(u))
        avg.update_parameters(model)
        out.append({"updates": updates, "params": [flat(p) for p in model],
                    "averaged": [flat(p) for p in avg.module]})
    return {"name": name, "decay": decay, "params": info, "steps": out}


def ema_cases():
    shapes = [[5], [3, 4], [], [2, 3, 2], [17]]
    return [ema_case("decay %g" % d, 20 + i, shapes, d, 12) for i, d in enumerate([0.9, 0.99, 0.5, 0.999, 0.0, 1.0])]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=HERE)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    doc = {"torch_version": torch.__version__, "clip": clip_cases(), "ema": ema_cases()}
    path = os.path.join(args.out, "combinators.json")
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    print("%-16s %3d clip cases %3d ema cases %8d bytes" % ("combinators.json", len(doc["clip"]), len(doc["ema"]), os.path.getsize(path)))


if __name__ == "__main__":
    main()
