# Golden-fixture generator for the Optim .NET library (PyTorch 1.13 reference).
#
# Run from the repository root with the Debian interpreter that ships torch 1.13
# (the pyenv `python3` on PATH has no torch):
#
#     /usr/bin/python3 tests/golden/generate.py
#
# It writes sgd.json, adam.json, adamw.json and seeds.json next to itself
# (tests/golden/).  Output is fully deterministic: every case reseeds the RNG
# with torch.manual_seed(<case seed>) and torch runs single-threaded.
#
# File layout (one case per line, compact JSON):
#   {"torch_version": "<torch.__version__>",
#    "cases": [CASE, CASE, ...]}
#
# CASE:
#   name          unique descriptive string
#   optimizer     "SGD" | "Adam" | "AdamW"
#   defaults      optimizer.defaults (the constructor arguments), same key
#                 filtering as groups; these are what add_param_group fills in
#                 for keys not given in "hyper"
#   params        [{"name","shape","data"}] initial values of the params of the
#                 constructor's groups; list index == PyTorch state_dict index
#   groups        one dict per constructor group: {"params": [indices], <every
#                 hyperparameter from optimizer.param_groups after construction
#                 except params/foreach/differentiable/capturable/fused>};
#                 betas as a 2-element list
#   steps         [STEP], 25 per case (seed cases may have fewer)
#   final_state   optimizer.state_dict()["state"] after the last step, keys =
#                 str(param index); tensors flattened; "step" as a float;
#                 None-valued entries are omitted and a param whose state is
#                 then empty (SGD momentum=0: {"momentum_buffer": None}) is
#                 omitted altogether.  Params that never received a gradient
#                 have no entry (as in PyTorch).
#
# STEP:
#   before   (optional) list of EVENTs applied, in order, before this step's
#            gradients are set
#   grads    one entry per param currently in the optimizer (the list grows
#            after add_param_group), flattened float32 values or null
#            (p.grad = None for this step)
#   params   every param's values after optimizer.step()
#
# EVENT:
#   {"add_param_group": {"params": [{"name","shape","data"}...],
#                        "hyper": {<only the keys explicitly passed>}}}
#       new params take the next indices; other keys come from the defaults
#       (= the constructor arguments).
#   {"set": {"group": g, "key": k, "value": v}}
#       optimizer.param_groups[g][k] = v   (betas given as a 2-element list)
#   {"state_dict_roundtrip": true}
#       sd = deepcopy(opt.state_dict()); a fresh optimizer of the same class
#       is built with the same constructor args (and the same add_param_group
#       calls replayed), sd is loaded into it and it is used from then on.
#
# Floats are float32 values converted with Tensor.tolist(), i.e. Python floats
# holding the exact float32 value (parse as double and cast to float, or parse
# as float directly -- both give the exact float32).

import copy
import json
import os

import torch

torch.set_num_threads(1)
torch.set_default_dtype(torch.float32)

HERE = os.path.dirname(os.path.abspath(__file__))
NSTEPS = 25

# Gradient magnitudes cycled through (exercises eps / bias correction).
SCALES = [1.0, 0.01, 10.0, 0.1, 3.0, 0.3, 0.03, 5.0, 0.5, 2.0, 0.05]

# Default parameter shapes (5, 12, 17 are non-multiples of 8 -> SIMD tails; 8 is exact).
SHAPES_SMALL = [[5], [3, 4], [2, 2, 2], [17]]
SHAPES_BIG = [[5], [3, 4], [2, 3, 2], [17], [6, 7]]   # [6,7] has 42 elements

# Params whose first gradients are None (state starts late): index -> first step with a grad.
LATE_START = {1: 3, 3: 5}

EXCLUDED_GROUP_KEYS = {"params", "foreach", "differentiable", "capturable", "fused"}

OPTIMIZERS = {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW}


def flat(t):
    return t.detach().reshape(-1).tolist()


def jsonable(v):
    if isinstance(v, tuple):
        return [jsonable(x) for x in v]
    if isinstance(v, list):
        return [jsonable(x) for x in v]
    if isinstance(v, torch.Tensor):
        return flat(v)
    return v


def pyhyper(h):
    """Hyper dict as passed to PyTorch (betas lists -> tuples)."""
    return {k: (tuple(v) if k == "betas" else v) for k, v in h.items()}


def grad_plan(step, idx, late):
    """None -> p.grad = None; 0.0 -> all-zero gradient; otherwise a scale for randn."""
    if step < late.get(idx, 0):
        return None
    if step > 0 and (step * 5 + idx) % 13 == 4:
        return None                         # occasional None mid-run
    if (step + 2 * idx) % 11 == 7:
        return 0.0                          # all-zero gradient
    return SCALES[(step * 3 + idx * 7) % len(SCALES)]


class Case:
    def __init__(self, name, opt, groups, ctor, seed, events=None, nsteps=NSTEPS,
                 late=None, never=()):
        """
        groups: list of (shapes, group_hyper) for the constructor.
        ctor:   constructor keyword args (defaults).
        events: {step_index: [("add", shapes, hyper) | ("set", g, key, value) | ("roundtrip",)]}
        never:  param indices that never get a gradient.
        """
        self.name, self.opt, self.groups, self.ctor = name, opt, groups, ctor
        self.seed, self.events, self.nsteps = seed, events or {}, nsteps
        self.late = LATE_START if late is None else late
        self.never = set(never)


def build(case):
    torch.manual_seed(case.seed)
    cls = OPTIMIZERS[case.opt]
    params, pinfo, ctor_groups, json_groups = [], [], [], []
    for shapes, ghyper in case.groups:
        idxs = []
        for shape in shapes:
            p = torch.randn(shape, dtype=torch.float32).requires_grad_(True)
            idxs.append(len(params))
            pinfo.append({"name": "w%d" % len(params), "shape": list(shape), "data": flat(p)})
            params.append(p)
        ctor_groups.append({"params": [params[i] for i in idxs], **pyhyper(ghyper)})
        json_groups.append(idxs)

    def make(added):
        o = cls([dict(g) for g in ctor_groups], **pyhyper(case.ctor))
        for gparams, hyper in added:
            o.add_param_group({"params": gparams, **pyhyper(hyper)})
        return o

    added = []
    opt = make(added)
    defaults = defaults_of(opt)
    groups_out = []
    for idxs, g in zip(json_groups, opt.param_groups):
        d = {"params": idxs}
        for k, v in g.items():
            if k not in EXCLUDED_GROUP_KEYS:
                d[k] = jsonable(v)
        groups_out.append(d)

    steps = []
    for s in range(case.nsteps):
        step = {}
        evs = []
        for ev in case.events.get(s, []):
            kind = ev[0]
            if kind == "add":
                _, shapes, hyper = ev
                newp, newinfo = [], []
                for shape in shapes:
                    p = torch.randn(shape, dtype=torch.float32).requires_grad_(True)
                    newinfo.append({"name": "w%d" % len(params), "shape": list(shape), "data": flat(p)})
                    params.append(p)
                    newp.append(p)
                opt.add_param_group({"params": newp, **pyhyper(hyper)})
                added.append((newp, hyper))
                evs.append({"add_param_group": {"params": newinfo, "hyper": jsonable(hyper)}})
            elif kind == "set":
                _, g, key, value = ev
                opt.param_groups[g][key] = tuple(value) if key == "betas" else value
                evs.append({"set": {"group": g, "key": key, "value": jsonable(value)}})
            elif kind == "roundtrip":
                sd = copy.deepcopy(opt.state_dict())
                opt = make(added)
                opt.load_state_dict(sd)
                evs.append({"state_dict_roundtrip": True})
            else:
                raise ValueError(kind)
        if evs:
            step["before"] = evs
        grads = []
        for i, p in enumerate(params):
            plan = None if i in case.never else grad_plan(s, i, case.late)
            if plan is None:
                p.grad = None
                grads.append(None)
            else:
                g = torch.randn(p.shape, dtype=torch.float32) * plan if plan != 0.0 \
                    else torch.zeros(p.shape, dtype=torch.float32)
                p.grad = g
                grads.append(flat(g))
        opt.step()
        step["grads"] = grads
        step["params"] = [flat(p) for p in params]
        steps.append(step)

    return {
        "name": case.name,
        "optimizer": case.opt,
        "defaults": defaults,
        "params": pinfo,
        "groups": groups_out,
        "steps": steps,
        "final_state": final_state(opt),
    }


def defaults_of(opt):
    return {k: jsonable(v) for k, v in opt.defaults.items() if k not in EXCLUDED_GROUP_KEYS}


def final_state(opt):
    out = {}
    for k, st in opt.state_dict()["state"].items():
        d = {}
        for key, v in st.items():
            if v is None:
                continue
            if key == "step":
                d[key] = float(v.item() if isinstance(v, torch.Tensor) else v)
            elif isinstance(v, torch.Tensor):
                d[key] = flat(v)
            else:
                d[key] = v
        if d:
            out[str(k)] = d
    return out


def fmt(x):
    return ("%g" % x)


# --------------------------------------------------------------------------- SGD
def sgd_cases():
    cases = []
    seed = 1000
    for momentum in (0.0, 0.9):
        for dampening in ((0.0,) if momentum == 0 else (0.0, 0.5)):
            for nesterov in ((False,) if momentum == 0 or dampening != 0 else (False, True)):
                for wd in (0.0, 0.01):
                    for maximize in (False, True):
                        name = "sgd_momentum%s_dampening%s%s_wd%s%s" % (
                            fmt(momentum), fmt(dampening), "_nesterov" if nesterov else "",
                            fmt(wd), "_maximize" if maximize else "")
                        ctor = dict(lr=0.05, momentum=momentum, dampening=dampening,
                                    weight_decay=wd, nesterov=nesterov, maximize=maximize)
                        seed += 1
                        cases.append(Case(name, "SGD", [(SHAPES_SMALL, {})], ctor, seed))
    cases.append(Case(
        "sgd_two_groups_lr0.05_m0.9_lr0.1_m0.5", "SGD",
        [([[5], [3, 4]], {}),
         ([[2, 3, 2], [17], [6, 7]], {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.01})],
        dict(lr=0.05, momentum=0.9), 1101))
    cases.append(Case(
        "sgd_add_param_group_step10_lr0.02", "SGD", [(SHAPES_SMALL, {})],
        dict(lr=0.05, momentum=0.9, weight_decay=0.01), 1102,
        events={10: [("add", [[4], [9], [6, 7]], {"lr": 0.02})]}))
    cases.append(Case(
        "sgd_set_lr_momentum_wd_midrun_nesterov", "SGD", [(SHAPES_BIG, {})],
        dict(lr=0.05, momentum=0.9, nesterov=True), 1103,
        events={8: [("set", 0, "lr", 0.01)],
                16: [("set", 0, "momentum", 0.5), ("set", 0, "weight_decay", 0.001)],
                20: [("set", 0, "lr", 0.1)]}))
    cases.append(Case(
        "sgd_roundtrip_step12_momentum0.9_dampening0.5", "SGD", [(SHAPES_BIG, {})],
        dict(lr=0.05, momentum=0.9, dampening=0.5, weight_decay=0.01), 1104,
        events={12: [("roundtrip",)]}))
    cases.append(Case(
        "sgd_roundtrip_step12_momentum0", "SGD", [(SHAPES_SMALL, {})],
        dict(lr=0.05), 1105, events={12: [("roundtrip",)]}))
    cases.append(Case(
        "sgd_add_group5_two_groups_roundtrip12_set_lr15", "SGD",
        [([[5], [17]], {}), ([[3, 4]], {"lr": 0.1, "nesterov": True})],
        dict(lr=0.05, momentum=0.9), 1106,
        events={5: [("add", [[2, 3, 2]], {"lr": 0.02, "momentum": 0.0})],
                12: [("roundtrip",)],
                15: [("set", 2, "lr", 0.04)]}))
    return cases


# --------------------------------------------------------------------------- Adam
def adam_cases():
    cases = []
    seed = 2000
    for amsgrad in (False, True):
        for wd in (0.0, 0.1):
            for maximize in (False, True):
                name = "adam_amsgrad%s_wd%s%s" % (str(amsgrad).lower(), fmt(wd),
                                                  "_maximize" if maximize else "")
                seed += 1
                cases.append(Case(name, "Adam", [(SHAPES_SMALL, {})],
                                  dict(lr=1e-2, weight_decay=wd, amsgrad=amsgrad, maximize=maximize),
                                  seed))
    cases.append(Case("adam_betas0.8_0.99_eps1e-6", "Adam", [(SHAPES_BIG, {})],
                      dict(lr=1e-2, betas=[0.8, 0.99], eps=1e-6), 2101))
    cases.append(Case("adam_betas0.8_0.99_eps1e-6_amsgrad_wd0.1_maximize", "Adam", [(SHAPES_SMALL, {})],
                      dict(lr=1e-2, betas=[0.8, 0.99], eps=1e-6, amsgrad=True, weight_decay=0.1,
                           maximize=True), 2102))
    cases.append(Case(
        "adam_two_groups_lr0.01_lr0.003_amsgrad_never_grad", "Adam",
        [([[5], [3, 4], [8]], {}),
         ([[2, 3, 2], [17], [6, 7]], {"lr": 3e-3, "betas": [0.8, 0.99], "amsgrad": True})],
        dict(lr=1e-2), 2103, never=(2,)))
    cases.append(Case(
        "adam_add_param_group_step10_lr0.02_amsgrad", "Adam", [(SHAPES_SMALL, {})],
        dict(lr=1e-2, weight_decay=0.1), 2104,
        events={10: [("add", [[4], [9], [6, 7]], {"lr": 0.02, "amsgrad": True})]}))
    cases.append(Case(
        "adam_set_lr_betas_midrun", "Adam", [(SHAPES_BIG, {})],
        dict(lr=1e-2), 2105,
        events={8: [("set", 0, "lr", 3e-3)],
                15: [("set", 0, "betas", [0.85, 0.995]), ("set", 0, "weight_decay", 0.05)],
                20: [("set", 0, "lr", 2e-2)]}))
    cases.append(Case(
        "adam_roundtrip_step12_amsgrad_wd0.1", "Adam", [(SHAPES_BIG, {})],
        dict(lr=1e-2, weight_decay=0.1, amsgrad=True), 2106,
        events={12: [("roundtrip",)]}))
    cases.append(Case(
        "adam_add_group5_roundtrip12", "Adam", [(SHAPES_SMALL, {})],
        dict(lr=1e-2), 2107,
        events={5: [("add", [[9]], {"lr": 0.02, "betas": [0.8, 0.99]})],
                12: [("roundtrip",)]}))
    return cases


# --------------------------------------------------------------------------- AdamW
def adamw_cases():
    cases = []
    seed = 3000
    for amsgrad in (False, True):
        for wd in (0.0, 1e-2, 0.1):
            for maximize in (False, True):
                name = "adamw_amsgrad%s_wd%s%s" % (str(amsgrad).lower(), fmt(wd),
                                                   "_maximize" if maximize else "")
                seed += 1
                cases.append(Case(name, "AdamW", [(SHAPES_SMALL, {})],
                                  dict(lr=1e-2, weight_decay=wd, amsgrad=amsgrad, maximize=maximize),
                                  seed))
    cases.append(Case("adamw_betas0.8_0.99_eps1e-6_wd0.1", "AdamW", [(SHAPES_BIG, {})],
                      dict(lr=1e-2, betas=[0.8, 0.99], eps=1e-6, weight_decay=0.1), 3101))
    cases.append(Case(
        "adamw_two_groups_lr0.01_lr0.003_wd", "AdamW",
        [([[5], [3, 4]], {}),
         ([[2, 3, 2], [17], [6, 7]], {"lr": 3e-3, "weight_decay": 0.1, "amsgrad": True})],
        dict(lr=1e-2), 3102))
    cases.append(Case(
        "adamw_add_param_group_step10_lr0.02", "AdamW", [(SHAPES_SMALL, {})],
        dict(lr=1e-2, weight_decay=0.1), 3103,
        events={10: [("add", [[4], [9], [6, 7]], {"lr": 0.02})]}))
    cases.append(Case(
        "adamw_set_lr_betas_wd_midrun", "AdamW", [(SHAPES_SMALL, {})],
        dict(lr=1e-2), 3104,
        events={8: [("set", 0, "lr", 3e-3)],
                15: [("set", 0, "betas", [0.85, 0.995]), ("set", 0, "weight_decay", 0.1)]}))
    cases.append(Case(
        "adamw_roundtrip_step12_amsgrad_wd0.1", "AdamW", [(SHAPES_BIG, {})],
        dict(lr=1e-2, weight_decay=0.1, amsgrad=True), 3105,
        events={12: [("roundtrip",)]}))
    cases.append(Case(
        "adamw_add_group5_roundtrip12", "AdamW", [(SHAPES_SMALL, {})],
        dict(lr=1e-2), 3106,
        events={5: [("add", [[9]], {"lr": 0.02, "weight_decay": 0.0})],
                12: [("roundtrip",)]}))
    return cases


# --------------------------------------------------------------------------- seeds
def seed_cases():
    out = []

    # (a) weight = randn(2,2) with seed 0, grad = ones, SGD lr=1, one step.
    torch.manual_seed(0)
    w = torch.randn(2, 2).requires_grad_(True)
    info = [{"name": "weight", "shape": [2, 2], "data": flat(w)}]
    opt = torch.optim.SGD([w], lr=1)
    groups = [dict({"params": [0]}, **{k: jsonable(v) for k, v in opt.param_groups[0].items()
                                       if k not in EXCLUDED_GROUP_KEYS})]
    w.grad = torch.ones(2, 2)
    opt.step()
    out.append({"name": "seed_sgd_lr1_ones", "optimizer": "SGD", "defaults": defaults_of(opt),
                "params": info, "groups": groups,
                "steps": [{"grads": [flat(w.grad)], "params": [flat(w)]}],
                "final_state": final_state(opt)})

    # (b) minimise y = 4 x^2 from x = 2, grad = 8x (autograd) at the current x.
    for lr, momentum in ((0.2, 0.0), (0.125, 0.0), (0.01, 0.0), (0.03, 0.0), (0.01, 0.9)):
        x = torch.tensor([2.0], requires_grad=True)
        info = [{"name": "x", "shape": [1], "data": flat(x)}]
        opt = torch.optim.SGD([x], lr=lr, momentum=momentum)
        groups = [dict({"params": [0]}, **{k: jsonable(v) for k, v in opt.param_groups[0].items()
                                           if k not in EXCLUDED_GROUP_KEYS})]
        steps = []
        for _ in range(NSTEPS):
            opt.zero_grad()
            y = 4 * x ** 2
            y.sum().backward()
            g = flat(x.grad)
            opt.step()
            steps.append({"grads": [g], "params": [flat(x)]})
        name = "seed_quadratic_lr%s" % fmt(lr) + ("_momentum%s" % fmt(momentum) if momentum else "")
        out.append({"name": name, "optimizer": "SGD", "defaults": defaults_of(opt),
                    "params": info, "groups": groups,
                    "steps": steps, "final_state": final_state(opt)})
    return out


def write(fname, cases):
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    path = os.path.join(HERE, fname)
    with open(path, "w") as f:
        f.write('{"torch_version":%s,"cases":[\n' % json.dumps(torch.__version__))
        f.write(",\n".join(json.dumps(c, separators=(",", ":"), allow_nan=False) for c in cases))
        f.write("\n]}\n")
    # sanity: it must load back
    with open(path) as f:
        json.load(f)
    print("%-12s %3d cases %8d bytes" % (fname, len(cases), os.path.getsize(path)))


def main():
    write("sgd.json", [build(c) for c in sgd_cases()])
    write("adam.json", [build(c) for c in adam_cases()])
    write("adamw.json", [build(c) for c in adamw_cases()])
    write("seeds.json", seed_cases())


if __name__ == "__main__":
    main()
