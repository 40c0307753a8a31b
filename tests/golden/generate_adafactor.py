# Golden fixtures for Adafactor (PyTorch 2.x's torch.optim.Adafactor).
#
# Run from the repository root with the Debian interpreter that ships torch 1.13
# (the pyenv `python3` on PATH has no torch):
#
#     /usr/bin/python3 tests/golden/generate_adafactor.py
#
# It writes adafactor.json next to itself, in the schema described at the top
# of generate.py (whose helpers it reuses).  "eps" is a 2-element list whose
# first element may be null (PyTorch's None: torch.finfo(float32).eps).
# Output is deterministic.
#
# THE REFERENCE IS PYTORCH 2.x.  Torch 1.13 has no Adafactor, so the class
# below re-implements 2.x's single-tensor algorithm (the `foreach=None`
# default; torch/optim/_adafactor.py, `_single_tensor_adafactor`) with torch
# 1.13 tensor ops, operation for operation in 2.x's order, on float32 tensors:
#
#   per parameter with a gradient, in group order:
#     G     = -grad if maximize else grad
#     step  = step + 1               (a float32 0-d tensor, read back as a float)
#     w     = step ** beta2_decay    (python float: 1 - beta2_t)
#     rho   = min(lr, 1 / step ** 0.5)
#     alpha = max(eps2, p.norm(2).item() / numel ** 0.5) * rho   (p before decay)
#     p.mul_(1 - lr * weight_decay)                     (only if weight_decay != 0)
#     dim >= 2:  row_var.lerp_(vector_norm(G, dim=-1, keepdim).square_().div_(G.size(-1)), w)
#                col_var.lerp_(vector_norm(G, dim=-2, keepdim).square_().div_(G.size(-2)), w)
#                V = (row_var @ col_var).div_(row_var.mean(dim=-2, keepdim).clamp_(min=eps1))
#     else:      variance.lerp_(G * G, w); V = variance.clone()
#     U     = V.clamp_(min=eps1 * eps1).rsqrt_().mul_(G)
#     denom = max(1.0, U.norm(2).item() / (numel ** 0.5 * d))
#     p.add_(U, alpha=-alpha / denom)
#
# with eps1 = torch.finfo(p.dtype).eps when the group's eps[0] is None, and the
# constructor's checks of 2.x (lr >= 0, beta2_decay <= 0, eps[0] >= 0 when
# set, eps[1] >= 0, d >= 1, weight_decay >= 0).  State per parameter, created
# at its first gradient: "step", and "row_var" (shape [..., R, 1]) and
# "col_var" ([..., 1, C]) for parameters of two or more dimensions, else
# "variance" (the parameter's shape).  In the fixtures' final_state these
# tensors are flattened, as every buffer is; Optim's state dict records their
# shapes.

import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import generate  # noqa: E402  (the shared schema and helpers)
from generate import Case, write  # noqa: E402


class Adafactor(torch.optim.Optimizer):
    """torch.optim.Adafactor of PyTorch 2.x, single-tensor path, in torch 1.13 ops (see the header)."""

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                 foreach=None, maximize=False):
        if not 0.0 <= lr:
            raise ValueError("Learning rate should be >= 0 but is: %s" % lr)
        if not 0.0 >= beta2_decay:
            raise ValueError("beta2_decay should be <= 0 but is: %s" % beta2_decay)
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError("epsilon1 should be >= 0 but is: %s" % eps[0])
        if not 0.0 <= eps[1]:
            raise ValueError("epsilon2 should be >= 0 but is: %s" % eps[1])
        if not 1.0 <= d:
            raise ValueError("Clipping threshold d should be >= 1 but is: %s" % d)
        if not 0.0 <= weight_decay:
            raise ValueError("weight_decay should be >= 0 but is: %s" % weight_decay)
        super().__init__(params, dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            eps1, eps2 = group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = torch.tensor(0.0, dtype=torch.float32)
                    if p.grad.dim() > 1:
                        row_shape = list(p.grad.shape)
                        row_shape[-1] = 1
                        state["row_var"] = p.grad.new_zeros(row_shape)
                        col_shape = list(p.grad.shape)
                        col_shape[-2] = 1
                        state["col_var"] = p.grad.new_zeros(col_shape)
                    else:
                        state["variance"] = torch.zeros_like(p.grad, memory_format=torch.preserve_format)
                if eps1 is None:
                    eps1 = torch.finfo(p.dtype).eps
                adafactor_step(p, state, group, eps1, eps2)
        return loss


def adafactor_step(p, state, group, eps1, eps2):
    """One parameter's update, in 2.x's order of operations (see the header)."""
    lr, d, weight_decay = group["lr"], group["d"], group["weight_decay"]
    grad = -p.grad if group["maximize"] else p.grad
    step_t = state["step"]
    step_t += 1
    step_float = step_t.item()

    one_minus_beta2_t = step_float ** group["beta2_decay"]
    rho_t = min(lr, 1 / (step_float ** 0.5))
    alpha = max(eps2, p.norm(2).item() / (p.numel() ** 0.5)) * rho_t

    if weight_decay != 0:
        p.mul_(1 - lr * weight_decay)

    if grad.dim() > 1:
        row_var, col_var = state["row_var"], state["col_var"]
        row_mean = torch.linalg.vector_norm(grad, dim=-1, keepdim=True).square_().div_(grad.size(-1))
        row_var.lerp_(row_mean, one_minus_beta2_t)
        col_mean = torch.linalg.vector_norm(grad, dim=-2, keepdim=True).square_().div_(grad.size(-2))
        col_var.lerp_(col_mean, one_minus_beta2_t)
        var_estimate = row_var @ col_var
        var_estimate.div_(row_var.mean(dim=-2, keepdim=True).clamp_(min=eps1))
    else:
        variance = state["variance"]
        variance.lerp_(grad * grad, one_minus_beta2_t)
        var_estimate = variance.clone()

    update = var_estimate.clamp_(min=eps1 * eps1).rsqrt_()
    update.mul_(grad)
    denom = max(1.0, update.norm(2).item() / ((update.numel() ** 0.5) * d))
    p.add_(update, alpha=-alpha / denom)


generate.OPTIMIZERS["Adafactor"] = Adafactor

# a scalar, vectors (odd sizes exercise the SIMD tails), matrices and a 3-D parameter factored over its last two dims
SHAPES = [[], [5], [3, 4], [2, 3, 2], [17], [6, 7]]


def adafactor_cases():
    out = []
    seed = 13000
    for name, ctor in [
        ("adafactor_defaults", dict()),
        ("adafactor_lr0.05", dict(lr=0.05)),
        ("adafactor_beta2_decay-0.5", dict(lr=0.05, beta2_decay=-0.5)),
        ("adafactor_eps1e-3_1e-2", dict(lr=0.05, eps=(1e-3, 1e-2))),
        ("adafactor_eps1e-6_0", dict(lr=0.05, eps=(1e-6, 0.0))),
        ("adafactor_d1.2", dict(lr=0.05, d=1.2)),
        ("adafactor_wd0.1", dict(lr=0.05, weight_decay=0.1)),
        ("adafactor_maximize", dict(lr=0.05, maximize=True)),
        ("adafactor_all_flags", dict(lr=0.05, beta2_decay=-0.6, eps=(1e-4, 1e-2), d=1.5, weight_decay=0.05,
                                     maximize=True)),
    ]:
        seed += 1
        out.append(Case(name, "Adafactor", [(SHAPES, {})], ctor, seed))
    out += [
        Case("adafactor_two_groups_never_grad", "Adafactor",
             [([[5], [3, 4], [4, 2]], {}),
              ([[2, 3, 2], [], [6, 7]], {"lr": 0.05, "weight_decay": 0.1, "eps": (1e-3, 1e-3)})],
             dict(lr=0.02), 13101, never=(2,)),
        Case("adafactor_add_param_group_step10", "Adafactor", [(SHAPES, {})],
             dict(lr=0.02), 13102, events={10: [("add", [[4], [3, 5], [1, 6]], {"lr": 0.05, "d": 2.0})]}),
        Case("adafactor_set_midrun_roundtrip12", "Adafactor", [(SHAPES, {})],
             dict(lr=0.05, weight_decay=0.01), 13103,
             events={8: [("set", 0, "lr", 0.02)], 12: [("roundtrip",)],
                     16: [("set", 0, "beta2_decay", -0.5), ("set", 0, "eps", [1e-5, 1e-2])],
                     20: [("set", 0, "eps", [None, 1e-3]), ("set", 0, "maximize", True)]}),
    ]
    return out


def main():
    write("adafactor.json", [generate.build(c) for c in adafactor_cases()])


if __name__ == "__main__":
    main()
