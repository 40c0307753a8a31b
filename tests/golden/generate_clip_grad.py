# Golden fixtures for gradient clipping: torch.nn.utils.clip_grad_norm_ and clip_grad_value_ (PyTorch 1.13).
#
# Run from the repository root with the Debian interpreter that ships torch 1.13
# (the pyenv `python3` on PATH has no torch):
#
#     /usr/bin/python3 tests/golden/generate_clip_grad.py
#
# It writes clip_grad.json next to itself. Output is deterministic: every case seeds torch.manual_seed(<seed>),
# and torch runs single-threaded.
#
# Layout: {"torch_version": str, "cases": [CASE, ...]}, one case per line. CASE:
#   name          unique descriptive string
#   function      "clip_grad_norm_" | "clip_grad_value_"
#   max_norm, norm_type, error_if_nonfinite   (clip_grad_norm_) its arguments; norm_type may be "Infinity"
#   clip_value    (clip_grad_value_) its argument
#   params        [{"shape": [...], "grad": [flat float32 values] or null (p.grad is None)}], in the order passed
#   grads         every parameter's gradient after the call (null where it had none)
#   total_norm    (clip_grad_norm_) the returned total norm, a float32 value; absent when the call raised
#   error         (clip_grad_norm_ with error_if_nonfinite) PyTorch's message when it raised, else absent; the
#                 gradients are then unchanged
#
# Floats are the exact float32 values as Python floats; NaN and infinities, which JSON lacks, are the strings
# "NaN", "Infinity" and "-Infinity".

import json
import math
import os

import torch

torch.set_num_threads(1)
torch.set_default_dtype(torch.float32)

HERE = os.path.dirname(os.path.abspath(__file__))

# 5, 12, 17, 42 and 257 elements leave tails of every length after PyTorch's eight-lane blocks; [1] takes the
# one-element path (its norm is |x|), [1000] many blocks.
SHAPES = [[5], [3, 4], [17], [6, 7], [2, 3, 2], [1]]


def num(x):
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def flat(t):
    return [num(x) for x in t.detach().reshape(-1).tolist()]


def make_params(seed, shapes, no_grad=(), scale=1.0, poke=None):
    """Parameters with random gradients (None at the indices in no_grad); poke(k, grad) may edit gradient k."""
    torch.manual_seed(seed)
    params = []
    for k, shape in enumerate(shapes):
        p = torch.nn.Parameter(torch.randn(shape))
        if k not in no_grad:
            g = torch.randn(shape) * scale * (1 + k)
            if poke is not None:
                poke(k, g)
            p.grad = g
        params.append(p)
    return params


def describe(params):
    return [{"shape": list(p.shape), "grad": None if p.grad is None else flat(p.grad)} for p in params]


def total_of(params, norm_type):
    """The total norm clip_grad_norm_ would compute, from a copy (to place max_norm below or above it)."""
    copies = [torch.nn.Parameter(p.detach().clone()) for p in params]
    for c, p in zip(copies, params):
        c.grad = None if p.grad is None else p.grad.clone()
    return float(torch.nn.utils.clip_grad_norm_(copies, float("inf"), norm_type))


def norm_case(name, seed, shapes, norm_type=2.0, max_norm=None, factor=None, error_if_nonfinite=False, **kw):
    params = make_params(seed, shapes, **kw)
    if max_norm is None:
        max_norm = factor * total_of(params, norm_type)
    case = {"name": name, "function": "clip_grad_norm_", "max_norm": max_norm, "norm_type": num(norm_type),
            "error_if_nonfinite": error_if_nonfinite, "params": describe(params)}
    try:
        total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type, error_if_nonfinite)
        case["total_norm"] = num(float(total))
    except RuntimeError as e:
        case["error"] = str(e)
    case["grads"] = [None if p.grad is None else flat(p.grad) for p in params]
    return case


def value_case(name, seed, shapes, clip_value, **kw):
    params = make_params(seed, shapes, **kw)
    case = {"name": name, "function": "clip_grad_value_", "clip_value": clip_value, "params": describe(params)}
    torch.nn.utils.clip_grad_value_(params, clip_value)
    case["grads"] = [None if p.grad is None else flat(p.grad) for p in params]
    return case


def poke_at(k0, index, value):
    def poke(k, g):
        if k == k0:
            g.view(-1)[index] = value
    return poke


def cases():
    inf = float("inf")
    out = []
    for p_name, p in [("2", 2.0), ("1", 1.0), ("inf", inf), ("3", 3.0), ("1.5", 1.5)]:
        out.append(norm_case("norm %s clipped (max norm below the total)" % p_name, 10, SHAPES, p, factor=0.3, no_grad=(1,)))
        out.append(norm_case("norm %s not clipped (max norm above the total)" % p_name, 11, SHAPES, p, factor=4.0, no_grad=(4,)))
    out.append(norm_case("norm 2 over large gradients", 12, [[1000], [257], [16, 16]], 2.0, factor=0.5, scale=30.0))
    out.append(norm_case("norm 1 over large gradients", 13, [[1000], [257]], 1.0, factor=0.5))
    out.append(norm_case("norm 2 of tiny gradients", 14, SHAPES, 2.0, max_norm=1.0, scale=1e-5))
    out.append(norm_case("norm 2 of one parameter", 15, [[6, 7]], 2.0, factor=0.25))
    out.append(norm_case("norm 2 of a one-element parameter", 16, [[1]], 2.0, factor=0.5))
    out.append(norm_case("norm inf of one parameter", 17, [[17]], inf, factor=0.5))
    out.append(norm_case("max norm 0 zeroes every gradient", 18, SHAPES, 2.0, max_norm=0.0))
    out.append(norm_case("max norm equal to the total", 19, SHAPES, 2.0, factor=1.0))
    out.append(norm_case("no parameter has a gradient", 20, [[3], [4]], 2.0, max_norm=1.0, no_grad=(0, 1)))
    out.append(norm_case("an infinite gradient makes the total infinite", 21, SHAPES, 2.0, max_norm=1.0,
                         poke=poke_at(2, 3, inf)))
    out.append(norm_case("a NaN gradient makes the total NaN", 22, SHAPES, 2.0, max_norm=1.0,
                         poke=poke_at(3, 10, float("nan"))))
    out.append(norm_case("a NaN gradient under norm inf", 23, SHAPES, inf, max_norm=1.0,
                         poke=poke_at(0, 1, float("nan"))))
    out.append(norm_case("an infinite gradient under norm 1", 24, SHAPES, 1.0, max_norm=1.0,
                         poke=poke_at(1, 0, -inf)))
    out.append(norm_case("squares that overflow float32 give an infinite 2-norm", 25, [[5], [9]], 2.0, max_norm=1.0,
                         scale=1e20))
    out.append(norm_case("error_if_nonfinite with an infinite gradient raises", 26, SHAPES, 2.0, max_norm=1.0,
                         error_if_nonfinite=True, poke=poke_at(2, 0, inf)))
    out.append(norm_case("error_if_nonfinite with a NaN gradient raises", 27, SHAPES, inf, max_norm=1.0,
                         error_if_nonfinite=True, poke=poke_at(5, 0, float("nan"))))
    out.append(norm_case("error_if_nonfinite with finite gradients clips", 28, SHAPES, 2.0, factor=0.5,
                         error_if_nonfinite=True))
    out.append(value_case("clip value 0.5", 30, SHAPES, 0.5, no_grad=(2,)))
    out.append(value_case("clip value 3 leaves most gradients", 31, SHAPES, 3.0))
    out.append(value_case("clip value 0 zeroes every gradient", 32, SHAPES, 0.0))
    out.append(value_case("clip value keeps NaN and clips infinities", 33, SHAPES, 0.25,
                          poke=lambda k, g: g.view(-1).__setitem__(0, [float("nan"), inf, -inf][k % 3])))
    return out


def main():
    cs = cases()
    names = [c["name"] for c in cs]
    assert len(names) == len(set(names)), "duplicate case names"
    path = os.path.join(HERE, "clip_grad.json")
    with open(path, "w") as f:
        f.write('{"torch_version":%s,"cases":[\n' % json.dumps(torch.__version__))
        f.write(",\n".join(json.dumps(c, separators=(",", ":"), allow_nan=False) for c in cs))
        f.write("\n]}\n")
    with open(path) as f:
        json.load(f)
    print("%-14s %3d cases %8d bytes" % ("clip_grad.json", len(cs), os.path.getsize(path)))


if __name__ == "__main__":
    main()
