# Golden fixtures for LBFGS (PyTorch 1.13 reference).
#
# Run from the repository root with the Debian interpreter that ships torch 1.13
# (the pyenv `python3` on PATH has no torch):
#
#     /usr/bin/python3 tests/golden/generate_lbfgs.py
#
# It writes lbfgs.json next to itself.  Output is deterministic.
#
# LBFGS evaluates a closure many times per step, so a case records the problem
# instead of gradients.  The closure computes the loss and the gradient of the
# parameters' concatenation x (row-major, in parameter order, as LBFGS flattens
# them) in float64, with the loops below, and rounds both to float32.  The
# replays compute the same float64 expressions in the same order, so their
# closures return bit-identical losses and gradients, and any deviation from
# these numbers is LBFGS's own.
#
# File layout (one case per line, compact JSON):
#   {"torch_version": "<torch.__version__>", "cases": [CASE, ...], "abs_sums": [SUM, ...]}
#
# CASE:
#   name        unique descriptive string
#   optimizer   "LBFGS"
#   problem     {"kind": "rosenbrock"}: f = sum_i 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2
#               {"kind": "wells"}: f = sum_i x[i]^4 - 4 x[i]^2 + x[i] + sum_i x[i] x[i+1] / 2
#               (non-convex: the line search meets cubics without a minimum)
#               {"kind": "quadratic", "a": [[...]], "b": [...]}: f = x.(A x)/2 - b.x,
#               A symmetric positive definite, both float64
#               "grad_none": [param indices] whose p.grad the closure leaves None
#               (the objective does not depend on them)
#   defaults    optimizer.defaults (the constructor arguments, max_eval resolved)
#   params      [{"name", "shape", "data"}] initial values
#   groups      the one param group: {"params": [indices], <hyperparameters>}
#   steps       [STEP], at least 25 per case
#   final_state optimizer.state_dict()["state"] after the last step: {"0": {...}}
#               with func_evals, n_iter, d, t, old_dirs, old_stps, ro, H_diag,
#               prev_flat_grad, prev_loss (tensors flattened, lists of tensors as
#               lists of lists, 0-dim tensors and Python numbers as numbers);
#               "al" (scratch of the two-loop recursion) is left out
#
# STEP:
#   before      (optional) EVENTs applied, in order, before this step:
#               {"set": {"group": 0, "key": k, "value": v}}: param_groups[0][k] = v
#               {"state_dict_roundtrip": true}: sd = deepcopy(opt.state_dict()),
#               a fresh LBFGS with the same constructor arguments loads sd and is
#               used from then on
#   loss        what step() returned (the first closure's loss), float32
#   evals       how many times step() called the closure
#   func_evals, n_iter   state["func_evals"], state["n_iter"] after the step
#   params      every parameter's values after the step
#
# SUM: {"n": n, "sum": s}: torch's float32 v.abs().sum() of the n-element vector
#   v[i] = float32((37 i mod 101 - 50) / 7 + i / 1000), computed in float64 then rounded: the step
#   length of LBFGS's first iteration is min(1, 1/|g|_1) * lr, and this sum is ATen's cascade, not sequential.
#
# Floats are float32 values converted with Tensor.tolist(), i.e. Python floats
# holding the exact float32 value; the problem's float64 data are exact too.

import copy
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import generate  # noqa: E402  (the shared helpers; it sets one thread and float32)
from generate import flat  # noqa: E402

NSTEPS = 25
STATE_KEYS = ["func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss"]


def rosenbrock(x):
    """Loss and gradient of the chained Rosenbrock function at x (Python floats), in float64."""
    n = len(x)
    f = 0.0
    g = [0.0] * n
    for i in range(n - 1):
        a = x[i + 1] - x[i] * x[i]
        b = 1.0 - x[i]
        f += 100.0 * a * a + b * b
        g[i] += -400.0 * x[i] * a - 2.0 * b
        g[i + 1] += 200.0 * a
    return f, g


def wells(x):
    """Loss and gradient of a non-convex quartic (a double well per element, coupled to its neighbour), in float64."""
    n = len(x)
    f = 0.0
    g = [0.0] * n
    for i in range(n):
        x2 = x[i] * x[i]
        f += x2 * x2 - 4.0 * x2 + x[i]
        g[i] += 4.0 * x2 * x[i] - 8.0 * x[i] + 1.0
    for i in range(n - 1):
        f += 0.5 * x[i] * x[i + 1]
        g[i] += 0.5 * x[i + 1]
        g[i + 1] += 0.5 * x[i]
    return f, g


def quadratic(a, b, x):
    """Loss and gradient of x.(A x)/2 - b.x at x (Python floats), in float64."""
    n = len(x)
    f = 0.0
    g = [0.0] * n
    for i in range(n):
        ax = 0.0
        for j in range(n):
            ax += a[i][j] * x[j]
        g[i] = ax - b[i]
        f += x[i] * (0.5 * ax - b[i])
    return f, g


def spd(n, seed):
    """A random symmetric positive definite matrix (condition ~1e2) and a vector, as float64 lists."""
    gen = torch.Generator().manual_seed(seed)
    m = torch.randn(n, n, generator=gen, dtype=torch.float64)
    a = m @ m.T / n + 0.05 * torch.eye(n, dtype=torch.float64)
    b = torch.randn(n, generator=gen, dtype=torch.float64)
    return a.tolist(), b.tolist()


class Case:
    def __init__(self, name, problem, start, ctor, events=None, nsteps=NSTEPS, grad_none=()):
        """
        problem:   {"kind": "rosenbrock"} or {"kind": "quadratic", "a": ..., "b": ...}
        start:     list of (shape, values, "zeros", or a seed for randn * 0.5)
        ctor:      LBFGS keyword arguments
        events:    {step_index: [("set", key, value) | ("roundtrip",)]}
        grad_none: indices of parameters the objective does not use (their grad stays None)
        """
        self.name, self.problem, self.start, self.ctor = name, problem, start, ctor
        self.events, self.nsteps, self.grad_none = events or {}, nsteps, tuple(grad_none)


def initial(shape, values):
    if values == "zeros":
        return torch.zeros(shape, dtype=torch.float32)
    if isinstance(values, int):
        gen = torch.Generator().manual_seed(values)
        return torch.randn(shape, generator=gen, dtype=torch.float32) * 0.5
    return torch.tensor(values, dtype=torch.float32).reshape(shape)


def state_json(opt):
    """The LBFGS state in the fixture's layout (see the header)."""
    out = {}
    for k, st in opt.state_dict()["state"].items():
        d = {}
        for key in STATE_KEYS:
            if key not in st or st[key] is None:
                continue
            v = st[key]
            if isinstance(v, list):
                d[key] = [x.item() if x.dim() == 0 else flat(x) for x in v] if key == "ro" else [flat(x) for x in v]
            elif isinstance(v, torch.Tensor):
                d[key] = v.item() if v.dim() == 0 else flat(v)
            else:
                d[key] = v
        out[str(k)] = d
    return out


def build(case):
    params, pinfo = [], []
    for shape, values in case.start:
        p = initial(shape, values).requires_grad_(True)
        pinfo.append({"name": "w%d" % len(params), "shape": list(shape), "data": flat(p)})
        params.append(p)
    used = [p for i, p in enumerate(params) if i not in case.grad_none]
    kind = case.problem["kind"]
    calls = [0]

    def closure():
        calls[0] += 1
        opt.zero_grad()
        x = [v for p in used for v in flat(p)]
        if kind == "rosenbrock":
            f, g = rosenbrock(x)
        elif kind == "wells":
            f, g = wells(x)
        else:
            f, g = quadratic(case.problem["a"], case.problem["b"], x)
        offset = 0
        for p in used:
            n = p.numel()
            p.grad = torch.tensor(g[offset:offset + n], dtype=torch.float32).reshape(p.shape)
            offset += n
        return torch.tensor(f, dtype=torch.float32)

    def make():
        return torch.optim.LBFGS(params, **case.ctor)

    opt = make()
    group = {"params": list(range(len(params)))}
    group.update({k: v for k, v in opt.param_groups[0].items() if k not in generate.EXCLUDED_GROUP_KEYS})
    steps = []
    for s in range(case.nsteps):
        step = {}
        evs = []
        for ev in case.events.get(s, []):
            if ev[0] == "set":
                opt.param_groups[0][ev[1]] = ev[2]
                evs.append({"set": {"group": 0, "key": ev[1], "value": ev[2]}})
            else:
                sd = copy.deepcopy(opt.state_dict())
                opt = make()
                opt.load_state_dict(sd)
                evs.append({"state_dict_roundtrip": True})
        if evs:
            step["before"] = evs
        calls[0] = 0
        loss = opt.step(closure)
        st = opt.state[params[0]]
        step["loss"] = loss.item()
        step["evals"] = calls[0]
        step["func_evals"] = st["func_evals"]
        step["n_iter"] = st["n_iter"]
        step["params"] = [flat(p) for p in params]
        steps.append(step)
    problem = dict(case.problem)
    if case.grad_none:
        problem["grad_none"] = list(case.grad_none)
    return {"name": case.name, "optimizer": "LBFGS", "problem": problem, "defaults": generate.defaults_of(opt),
            "params": pinfo, "groups": [group], "steps": steps, "final_state": state_json(opt)}


ROSEN = {"kind": "rosenbrock"}
ROSEN2D = [([2], [-1.5, 2.0])]
ROSEN10D = [([2, 3], 51), ([4], 52)]          # 10 elements in two parameters of different shapes
QUAD12 = dict(kind="quadratic", **dict(zip(("a", "b"), spd(12, 61))))
QUAD12_START = [([3, 2], 62), ([5], 63), ([1], 64)]
WELLS = {"kind": "wells"}
WELLS8_START = [([8], 81)]
QUAD40 = dict(kind="quadratic", **dict(zip(("a", "b"), spd(40, 71))))
QUAD40_START = [([5, 4], 72), ([20], 73)]      # 40 elements: the vectorised sums of 1/|g|_1


def lbfgs_cases():
    out = []
    for ls in (None, "strong_wolfe"):
        tag = "strong_wolfe" if ls else "fixed_step"
        lsarg = dict(line_search_fn=ls)
        out += [
            Case("rosenbrock2d_%s_defaults" % tag, ROSEN, ROSEN2D, dict(**lsarg)),
            Case("rosenbrock2d_%s_lr0.5_max_iter5_roundtrip8" % tag, ROSEN, ROSEN2D, dict(lr=0.5, max_iter=5, **lsarg),
                 events={8: [("roundtrip",)]}),
            Case("rosenbrock10d_two_params_%s_max_iter4" % tag, ROSEN, ROSEN10D, dict(max_iter=4, **lsarg),
                 events={6: [("roundtrip",)], 15: [("roundtrip",)]}),
            Case("rosenbrock10d_two_params_%s_history2_wraps" % tag, ROSEN, ROSEN10D,
                 dict(max_iter=6, history_size=2, **lsarg), events={11: [("roundtrip",)]}),
            Case("rosenbrock10d_two_params_%s_max_eval7" % tag, ROSEN, ROSEN10D, dict(max_iter=20, max_eval=7, **lsarg)),
            Case("rosenbrock10d_two_params_%s_max_iter1" % tag, ROSEN, ROSEN10D, dict(max_iter=1, lr=0.8, **lsarg),
                 events={12: [("roundtrip",)]}),
            Case("quadratic12_three_params_%s_defaults" % tag, QUAD12, QUAD12_START, dict(**lsarg)),
            Case("quadratic12_three_params_%s_max_iter3_history3" % tag, QUAD12, QUAD12_START,
                 dict(max_iter=3, history_size=3, **lsarg), events={9: [("roundtrip",)]}),
            Case("quadratic12_%s_tolerance_grad1e-3" % tag, QUAD12, QUAD12_START,
                 dict(max_iter=4, tolerance_grad=1e-3, **lsarg)),
            Case("quadratic12_%s_tolerance_change1e-4" % tag, QUAD12, QUAD12_START,
                 dict(max_iter=5, tolerance_change=1e-4, **lsarg)),
            Case("quadratic40_two_params_%s_lr0.3_max_iter3_set_lr_max_iter" % tag, QUAD40, QUAD40_START,
                 dict(lr=0.3, max_iter=3, **lsarg),
                 events={7: [("set", "lr", 1.0)], 13: [("roundtrip",)], 14: [("set", "max_iter", 6)],
                         20: [("set", "tolerance_change", 1e-6), ("set", "max_eval", 4)]}),
            Case("quadratic12_grad_none_param_%s_max_iter2" % tag, QUAD12, QUAD12_START + [([2, 2], 65)],
                 dict(max_iter=2, **lsarg), grad_none=(1,), events={10: [("roundtrip",)]}),
        ]
    out += [
        Case("wells8_strong_wolfe_defaults", WELLS, WELLS8_START, dict(line_search_fn="strong_wolfe")),
        Case("wells8_strong_wolfe_lr10_max_iter3_roundtrip5", WELLS, WELLS8_START,
             dict(lr=10.0, max_iter=3, line_search_fn="strong_wolfe"), events={5: [("roundtrip",)]}),
        Case("wells8_fixed_step_lr0.05_max_iter4", WELLS, WELLS8_START, dict(lr=0.05, max_iter=4)),
        Case("rosenbrock2d_strong_wolfe_lr100_max_iter4", ROSEN, ROSEN2D, dict(lr=100.0, max_iter=4, line_search_fn="strong_wolfe")),
        # the zoom interpolates next to the bracket's end twice in a row and moves the trial point inside
        Case("rosenbrock2d_from_-1.2_1_strong_wolfe_lr1e4_max_iter10", ROSEN, [([2], [-1.2, 1.0])],
             dict(lr=1e4, max_iter=10, line_search_fn="strong_wolfe")),
        # from x = 0, steps from 1e-30 up are all distinct in float32 and all decrease the loss: the
        # bracketing phase runs out of its 25 evaluations
        Case("quadratic12_from_zero_strong_wolfe_lr1e-30_line_search_exhausts", QUAD12, [([12], "zeros")],
             dict(lr=1e-30, max_iter=3, line_search_fn="strong_wolfe"), events={3: [("roundtrip",)]}),
    ]
    return out


SUM_SIZES = list(range(1, 41)) + [63, 64, 65, 511, 512, 513, 1000, 2047, 2048, 5000, 16384, 20000, 32768, 100000]


def abs_sums():
    """torch's float32 v.abs().sum() (the 1/|g|_1 of the first step) of v[i] = (37 i mod 101 - 50) / 7 + i / 1000."""
    out = []
    for n in SUM_SIZES:
        v = torch.tensor([((i * 37) % 101 - 50) / 7.0 + i * 1e-3 for i in range(n)], dtype=torch.float32)
        out.append({"n": n, "sum": v.abs().sum().item()})
    return out


def main():
    # generate.write's layout, with the sums as a second key
    cases = [build(c) for c in lbfgs_cases()]
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    path = os.path.join(HERE, "lbfgs.json")
    with open(path, "w") as f:
        f.write('{"torch_version":%s,"cases":[\n' % json.dumps(torch.__version__))
        f.write(",\n".join(json.dumps(c, separators=(",", ":"), allow_nan=False) for c in cases))
        f.write('\n],"abs_sums":%s}\n' % json.dumps(abs_sums(), separators=(",", ":")))
    with open(path) as f:
        json.load(f)
    print("%-12s %3d cases %8d bytes" % ("lbfgs.json", len(cases), os.path.getsize(path)))


if __name__ == "__main__":
    main()
