# Golden fixtures for Muon (PyTorch 2.9's torch.optim.Muon).
#
# Run from the repository root with the Debian interpreter that ships torch 1.13
# (the pyenv `python3` on PATH has no torch):
#
#     /usr/bin/python3 tests/golden/generate_muon.py
#
# It writes muon.json next to itself, in the schema described at the top of
# generate.py (whose helpers it reuses).  "ns_coefficients" is a 3-element
# list; "adjust_lr_fn" is null (PyTorch's None), "original" or
# "match_rms_adamw".  Output is deterministic.
#
# THE REFERENCE IS PYTORCH 2.9.  Torch 1.13 has no Muon, so the class below
# re-implements 2.9's single-tensor algorithm (torch/optim/_muon.py,
# `_single_tensor_muon` and `_zeropower_via_newtonschulz`) with torch 1.13
# tensor ops, operation for operation in 2.9's order:
#
#   per parameter with a gradient, in group order:
#     buf    = state["momentum_buffer"]      (zeros at the first gradient)
#     buf.lerp_(grad, 1 - momentum)
#     update = grad.lerp(buf, momentum) if nesterov else buf
#     O      = NS(update):
#                X = copy of update; X = X.T if rows > cols
#                X.div_(X.norm().clamp(min=eps))
#                ns_steps times:  A = X @ X.T
#                                 B = torch.addmm(A, A, A, beta=b, alpha=c)
#                                 X = torch.addmm(X, B, X, beta=a)
#                X = X.T if rows > cols
#     ratio  = sqrt(max(1, rows/cols))   (adjust_lr_fn None or "original")
#              0.2 * sqrt(max(rows, cols))  ("match_rms_adamw")
#     param.mul_(1 - lr * weight_decay)
#     param.add_(O, alpha=-lr * ratio)
#
# with 2.9's checks: lr >= 0, momentum >= 0, weight_decay >= 0, adjust_lr_fn
# None / "original" / "match_rms_adamw", 2-D parameters in the constructor,
# ns_steps < 100 and a 2-D gradient at the step.  2.9's Muon keeps no "step":
# its state is "momentum_buffer" alone.
#
# ONE DELIBERATE DIFFERENCE: 2.9 runs the Newton-Schulz iteration in bfloat16
# (`ortho_grad = grad.bfloat16()`), on the GPUs it targets; Optim computes in
# float32, the dtype of its parameters and of every other optimizer here (a
# bfloat16 product on a CPU has no SIMD support in .NET and would only lose
# digits).  The trajectories below are therefore the float32 transcription.
# The "newton_schulz" section holds, for a few inputs, the iteration's output
# in float32 and in bfloat16 exactly as 2.9 computes it, so that the tests can
# check Optim's float32 result against both: the float32 one within the usual
# tolerance, the bfloat16 one within a loose relative bound.

import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import generate  # noqa: E402  (the shared schema and helpers)
from generate import Case, flat  # noqa: E402

EPS = 1e-7
DEFAULT_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
DEFAULT_NS_STEPS = 5


def zeropower_via_newtonschulz(grad, ns_coefficients, ns_steps, eps, dtype=torch.float32):
    """2.9's _zeropower_via_newtonschulz, in `dtype` (2.9 itself: bfloat16)."""
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if len(grad.shape) != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = ns_coefficients
    # grad.bfloat16() is a copy; in float32 a copy has to be asked for (the nesterov=False update is the buffer)
    ortho_grad = grad.to(dtype).clone()
    if grad.size(0) > grad.size(1):
        ortho_grad = ortho_grad.T
    ortho_grad.div_(ortho_grad.norm().clamp(min=eps))
    for _ in range(ns_steps):
        gram_matrix = ortho_grad @ ortho_grad.T
        gram_update = torch.addmm(gram_matrix, gram_matrix, gram_matrix, beta=b, alpha=c)
        ortho_grad = torch.addmm(ortho_grad, gram_update, ortho_grad, beta=a)
    if grad.size(0) > grad.size(1):
        ortho_grad = ortho_grad.T
    return ortho_grad


def adjust_lr(lr, adjust_lr_fn, param_shape):
    """2.9's _adjust_lr."""
    A, B = param_shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        adjusted_ratio = math.sqrt(max(1, A / B))
    elif adjust_lr_fn == "match_rms_adamw":
        adjusted_ratio = 0.2 * math.sqrt(max(A, B))
    else:
        adjusted_ratio = 1.0
    return lr * adjusted_ratio


class Muon(torch.optim.Optimizer):
    """torch.optim.Muon of PyTorch 2.9, single-tensor path, in torch 1.13 ops and float32 (see the header)."""

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=DEFAULT_COEFFICIENTS, eps=EPS, ns_steps=DEFAULT_NS_STEPS, adjust_lr_fn=None):
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ["original", "match_rms_adamw"]:
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        defaults = {"lr": lr, "weight_decay": weight_decay, "momentum": momentum, "nesterov": nesterov,
                    "ns_coefficients": ns_coefficients, "eps": eps, "ns_steps": ns_steps, "adjust_lr_fn": adjust_lr_fn}
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError(f"Muon only supports 2D parameters whereas we found a parameter with size: {p.size()}")

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, weight_decay, momentum = group["lr"], group["weight_decay"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p.grad, memory_format=torch.preserve_format)
                muon_step(p, p.grad, state["momentum_buffer"], group, lr, weight_decay, momentum)
        return loss


def muon_step(param, grad, buf, group, lr, weight_decay, momentum):
    """One parameter's update, in 2.9's order of operations (see the header)."""
    if grad.ndim != 2:
        raise ValueError("Param gradient must be a 2D matrix")
    buf.lerp_(grad, 1 - momentum)
    update = grad.lerp(buf, momentum) if group["nesterov"] else buf
    update = zeropower_via_newtonschulz(update, group["ns_coefficients"], group["ns_steps"], group["eps"])
    adjusted_lr = adjust_lr(lr, group["adjust_lr_fn"], param.shape)
    param.mul_(1 - lr * weight_decay)
    param.add_(update, alpha=-adjusted_lr)


generate.OPTIMIZERS["Muon"] = Muon

# square, wide, tall, a single row and a single column: every case runs the transposed and the direct iteration
SHAPES = [[4, 4], [3, 7], [9, 5], [1, 6], [6, 1]]
# and a larger matrix, in the cases of each update rule
SHAPES_16 = SHAPES + [[16, 16]]


def muon_cases():
    out = []
    seed = 14000
    for name, ctor in [
        ("muon_defaults", dict()),
        ("muon_lr0.05", dict(lr=0.05)),
        ("muon_lr0.05_no_nesterov", dict(lr=0.05, nesterov=False)),
        ("muon_lr0.05_original", dict(lr=0.05, adjust_lr_fn="original")),
        ("muon_lr0.05_match_rms_adamw", dict(lr=0.05, adjust_lr_fn="match_rms_adamw")),
        ("muon_lr0.05_wd0", dict(lr=0.05, weight_decay=0.0)),
        ("muon_lr0.02_wd0.5_momentum0.5", dict(lr=0.02, weight_decay=0.5, momentum=0.5)),
        ("muon_lr0.05_momentum0", dict(lr=0.05, momentum=0.0)),
        ("muon_lr0.05_momentum0_no_nesterov", dict(lr=0.05, momentum=0.0, nesterov=False)),
        ("muon_cubic_coefficients_steps3", dict(lr=0.05, ns_coefficients=(1.5, -0.5, 0.0), ns_steps=3)),
        ("muon_coefficients2_steps1", dict(lr=0.05, ns_coefficients=(2.0, -1.5, 0.5), ns_steps=1)),
        ("muon_steps10_match_rms_adamw", dict(lr=0.05, ns_steps=10, adjust_lr_fn="match_rms_adamw")),
        # an eps above the norms of the small gradients: the clamp is taken at those steps
        ("muon_eps0.5", dict(lr=0.05, eps=0.5)),
        ("muon_all_options", dict(lr=0.03, weight_decay=0.2, momentum=0.8, nesterov=False,
                                  ns_coefficients=(3.0, -3.2, 1.2), eps=1e-3, ns_steps=4,
                                  adjust_lr_fn="match_rms_adamw")),
    ]:
        seed += 1
        shapes = SHAPES_16 if name in ("muon_defaults", "muon_lr0.05", "muon_lr0.05_no_nesterov",
                                       "muon_lr0.05_match_rms_adamw") else SHAPES
        out.append(Case(name, "Muon", [(shapes, {})], ctor, seed))
    out += [
        Case("muon_two_groups_never_grad", "Muon",
             [([[4, 4], [3, 7], [5, 2]], {}),
              ([[9, 5], [1, 6], [8, 8]], {"lr": 0.02, "nesterov": False, "adjust_lr_fn": "match_rms_adamw",
                                          "ns_steps": 3, "weight_decay": 0.0})],
             dict(lr=0.05), 14101, never=(2,)),
        Case("muon_add_param_group_step10", "Muon", [(SHAPES, {})],
             dict(lr=0.05), 14102,
             events={10: [("add", [[2, 5], [7, 3]], {"lr": 0.02, "adjust_lr_fn": "match_rms_adamw",
                                                     "ns_coefficients": (2.0, -1.5, 0.5)})]}),
        Case("muon_set_midrun_roundtrip12", "Muon", [(SHAPES, {})],
             dict(lr=0.05), 14103,
             events={8: [("set", 0, "lr", 0.02)], 12: [("roundtrip",)],
                     16: [("set", 0, "nesterov", False), ("set", 0, "ns_coefficients", [2.0, -1.5, 0.5]),
                          ("set", 0, "ns_steps", 3)],
                     20: [("set", 0, "adjust_lr_fn", "match_rms_adamw"), ("set", 0, "momentum", 0.8),
                          ("set", 0, "eps", 1e-3), ("set", 0, "weight_decay", 0.3)]}),
    ]
    return out


def newton_schulz_cases():
    """The iteration alone, in float32 and in bfloat16 as 2.9 computes it, on inputs of several shapes and ranks."""
    torch.manual_seed(14500)
    out = []
    for name, shape, make in [
        ("square16", [16, 16], lambda s: torch.randn(s)),
        ("wide3x7", [3, 7], lambda s: torch.randn(s)),
        ("tall9x5", [9, 5], lambda s: torch.randn(s)),
        ("row1x6", [1, 6], lambda s: torch.randn(s)),
        ("column6x1", [6, 1], lambda s: torch.randn(s)),
        ("wide20x32", [20, 32], lambda s: torch.randn(s) * 1e-3),
        ("tall48x24", [48, 24], lambda s: torch.randn(s) * 10.0),
        ("square64", [64, 64], lambda s: torch.randn(s)),
        ("rank2_12x10", [12, 10], lambda s: torch.randn(s[0], 2) @ torch.randn(2, s[1])),
    ]:
        g = make(shape).to(torch.float32).contiguous()
        f32 = zeropower_via_newtonschulz(g, DEFAULT_COEFFICIENTS, DEFAULT_NS_STEPS, EPS, torch.float32)
        bf16 = zeropower_via_newtonschulz(g, DEFAULT_COEFFICIENTS, DEFAULT_NS_STEPS, EPS, torch.bfloat16)
        out.append({"name": name, "shape": shape, "coefficients": list(DEFAULT_COEFFICIENTS),
                    "steps": DEFAULT_NS_STEPS, "eps": EPS, "input": flat(g), "float32": flat(f32),
                    "bfloat16": flat(bf16.to(torch.float32))})
    return out


def main():
    cases = [generate.build(c) for c in muon_cases()]
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    path = os.path.join(HERE, "muon.json")
    line = lambda c: json.dumps(c, separators=(",", ":"), allow_nan=False)
    with open(path, "w") as f:
        f.write('{"torch_version":%s,"cases":[\n' % json.dumps(torch.__version__))
        f.write(",\n".join(line(c) for c in cases))
        f.write('\n],"newton_schulz":[\n')
        f.write(",\n".join(line(c) for c in newton_schulz_cases()))
        f.write("\n]}\n")
    with open(path) as f:
        json.load(f)
    print("%-12s %3d cases %8d bytes" % ("muon.json", len(cases), os.path.getsize(path)))


if __name__ == "__main__":
    main()
