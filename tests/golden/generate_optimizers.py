# Golden fixtures for the optimizers beyond SGD/Adam/AdamW (PyTorch 1.13 reference).
#
# Run from the repository root with the Debian interpreter that ships torch 1.13
# (the pyenv `python3` on PATH has no torch):
#
#     /usr/bin/python3 tests/golden/generate_optimizers.py
#
# It writes adagrad.json, rmsprop.json, adadelta.json, adamax.json, nadam.json,
# radam.json, asgd.json, rprop.json, sparse_adam.json, sparse_sgd.json and
# sparse_adagrad.json next to itself, in the
# schema described at the top of generate.py (whose helpers it reuses).  Pairs
# other than betas ("etas", "step_sizes") are 2-element lists too.  Output is
# deterministic.
#
# The sparse_*.json files (SparseAdam; SGD and Adagrad on sparse gradients) differ
# in one place: a gradient is either null
# or a sparse gradient {"rows": [r0, r1, ...], "values": [...]}, the rows (along
# the first dimension, repeats allowed: PyTorch sums them) and their values,
# row-major, len(values) = len(rows) * (numel / shape[0]).  Every sparse
# gradient has at least one row (1.13 fails on an empty one).  SGD's momentum
# buffer over sparse gradients is a sparse tensor in PyTorch; final_state holds
# it dense (zeros in the rows it does not hold), as the facade keeps it.
#
# Where the library follows PyTorch 2.x or fills a gap of 1.13, the reference
# is 1.13 with the 2.x rule applied around it, exactly as 2.x applies it:
#   * NAdam and RAdam `maximize` (2.x): the gradient is negated before
#     everything else;
#   * NAdam and RAdam `decoupled_weight_decay` (2.x): the parameter is
#     multiplied by 1 - lr*weight_decay before the update, and the gradient
#     gets no weight_decay*p term;
#   * Adagrad's add_param_group: 1.13 (and 2.x) create Adagrad's state only in
#     the constructor, so a group added later fails on its first step
#     (KeyError 'sum'); here the added parameters get their state the way the
#     constructor creates it, from the group's initial_accumulator_value, which
#     is what Optim does.

import copy
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import generate  # noqa: E402  (the shared schema and helpers)
from generate import Case, SHAPES_BIG, SHAPES_SMALL, build, write  # noqa: E402


class Adagrad(torch.optim.Adagrad):
    """torch.optim.Adagrad whose add_param_group creates the new parameters' state (see the header)."""

    def add_param_group(self, param_group):
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        # for the constructor's own groups, the constructor overwrites this with its argument's value
        for p in group["params"]:
            self.state[p]["step"] = torch.tensor(0.0)
            self.state[p]["sum"] = torch.full_like(p, group["initial_accumulator_value"],
                                                   memory_format=torch.preserve_format)


def with_2x_flags(base):
    """`base` (NAdam or RAdam of 1.13) with PyTorch 2.x's maximize and decoupled_weight_decay (see the header)."""

    class Optimizer2x(base):
        def __init__(self, params, decoupled_weight_decay=False, maximize=False, **kwargs):
            super().__init__(params, **kwargs)
            self.defaults.update(decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
            for group in self.param_groups:
                group.setdefault("decoupled_weight_decay", decoupled_weight_decay)
                group.setdefault("maximize", maximize)

        @torch.no_grad()
        def step(self, closure=None):
            saved = []
            for group in self.param_groups:
                saved.append(group["weight_decay"])
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    if group["maximize"]:
                        p.grad.neg_()
                    if group["decoupled_weight_decay"] and group["weight_decay"] != 0:
                        p.mul_(1 - group["lr"] * group["weight_decay"])
                if group["decoupled_weight_decay"]:
                    group["weight_decay"] = 0
            try:
                return super().step(closure)
            finally:
                for group, wd in zip(self.param_groups, saved):
                    group["weight_decay"] = wd
                    if group["maximize"]:
                        for p in group["params"]:
                            if p.grad is not None:
                                p.grad.neg_()

    Optimizer2x.__name__ = base.__name__
    return Optimizer2x


generate.OPTIMIZERS.update({
    "Adagrad": Adagrad,
    "RMSprop": torch.optim.RMSprop,
    "Adadelta": torch.optim.Adadelta,
    "Adamax": torch.optim.Adamax,
    "NAdam": with_2x_flags(torch.optim.NAdam),
    "RAdam": with_2x_flags(torch.optim.RAdam),
    "ASGD": torch.optim.ASGD,
    "Rprop": torch.optim.Rprop,
})


def cases_for(kind, seed, flag_sets, extra):
    """One case per (name, ctor) in flag_sets over SHAPES_SMALL, then the `extra` cases."""
    out = []
    for name, ctor in flag_sets:
        seed += 1
        out.append(Case(name, kind, [(SHAPES_SMALL, {})], ctor, seed))
    return out + extra


def adagrad_cases():
    return cases_for("Adagrad", 4000, [
        ("adagrad_lr0.05", dict(lr=0.05)),
        ("adagrad_lr_decay0.1", dict(lr=0.05, lr_decay=0.1)),
        ("adagrad_wd0.1", dict(lr=0.05, weight_decay=0.1)),
        ("adagrad_initial_accumulator0.5_eps1e-3", dict(lr=0.05, initial_accumulator_value=0.5, eps=1e-3)),
        ("adagrad_maximize", dict(lr=0.05, maximize=True)),
        ("adagrad_all_flags", dict(lr=0.05, lr_decay=0.05, weight_decay=0.05, initial_accumulator_value=0.1,
                                   eps=1e-6, maximize=True)),
    ], [
        Case("adagrad_two_groups_never_grad", "Adagrad",
             [([[5], [3, 4], [8]], {}), ([[2, 3, 2], [17], [6, 7]], {"lr": 0.1, "lr_decay": 0.1, "weight_decay": 0.01})],
             dict(lr=0.05, initial_accumulator_value=0.2), 4101, never=(2,)),
        Case("adagrad_add_param_group_step10", "Adagrad", [(SHAPES_SMALL, {})],
             dict(lr=0.05, initial_accumulator_value=0.1), 4102,
             events={10: [("add", [[4], [9]], {"lr": 0.02, "initial_accumulator_value": 0.3})]}),
        Case("adagrad_set_lr_midrun_roundtrip12", "Adagrad", [(SHAPES_BIG, {})],
             dict(lr=0.05, lr_decay=0.02), 4103,
             events={8: [("set", 0, "lr", 0.02)], 12: [("roundtrip",)], 16: [("set", 0, "lr_decay", 0.0)]}),
    ])


def rmsprop_cases():
    flags = []
    for centered in (False, True):
        for momentum in (0.0, 0.9):
            flags.append(("rmsprop_%s_momentum%s" % ("centered" if centered else "plain", generate.fmt(momentum)),
                          dict(lr=0.01, centered=centered, momentum=momentum)))
    flags += [
        ("rmsprop_wd0.1_maximize", dict(lr=0.01, weight_decay=0.1, maximize=True)),
        ("rmsprop_alpha0.9_eps1e-3_centered_momentum0.5_wd0.01_maximize",
         dict(lr=0.01, alpha=0.9, eps=1e-3, centered=True, momentum=0.5, weight_decay=0.01, maximize=True)),
    ]
    return cases_for("RMSprop", 5000, flags, [
        Case("rmsprop_two_groups", "RMSprop",
             [([[5], [3, 4]], {}), ([[2, 3, 2], [17], [6, 7]], {"lr": 3e-3, "centered": True, "momentum": 0.9})],
             dict(lr=0.01), 5101),
        Case("rmsprop_add_param_group_step10", "RMSprop", [(SHAPES_SMALL, {})],
             dict(lr=0.01, momentum=0.5), 5102,
             events={10: [("add", [[4], [9]], {"lr": 0.02, "centered": True})]}),
        Case("rmsprop_set_midrun_roundtrip12", "RMSprop", [(SHAPES_BIG, {})],
             dict(lr=0.01, momentum=0.9, centered=True), 5103,
             events={8: [("set", 0, "lr", 3e-3)], 12: [("roundtrip",)],
                     16: [("set", 0, "momentum", 0.5), ("set", 0, "alpha", 0.9)]}),
    ])


def adadelta_cases():
    return cases_for("Adadelta", 6000, [
        ("adadelta_defaults", dict()),
        ("adadelta_rho0.5_eps1e-3", dict(rho=0.5, eps=1e-3)),
        ("adadelta_lr0.5_wd0.1", dict(lr=0.5, weight_decay=0.1)),
        ("adadelta_maximize", dict(maximize=True)),
        ("adadelta_all_flags", dict(lr=2.0, rho=0.8, eps=1e-4, weight_decay=0.05, maximize=True)),
    ], [
        Case("adadelta_two_groups", "Adadelta",
             [([[5], [3, 4]], {}), ([[2, 3, 2], [17], [6, 7]], {"lr": 0.5, "rho": 0.95, "weight_decay": 0.01})],
             dict(), 6101),
        Case("adadelta_add_param_group_step10", "Adadelta", [(SHAPES_SMALL, {})],
             dict(eps=1e-4), 6102, events={10: [("add", [[4], [9]], {"lr": 0.5})]}),
        Case("adadelta_set_midrun_roundtrip12", "Adadelta", [(SHAPES_BIG, {})],
             dict(), 6103, events={8: [("set", 0, "rho", 0.7)], 12: [("roundtrip",)], 16: [("set", 0, "lr", 0.5)]}),
    ])


def adamax_cases():
    return cases_for("Adamax", 7000, [
        ("adamax_lr0.02", dict(lr=0.02)),
        ("adamax_betas0.8_0.99_eps1e-3", dict(lr=0.02, betas=[0.8, 0.99], eps=1e-3)),
        ("adamax_wd0.1", dict(lr=0.02, weight_decay=0.1)),
        ("adamax_maximize", dict(lr=0.02, maximize=True)),
        ("adamax_all_flags", dict(lr=0.02, betas=[0.5, 0.9], eps=1e-4, weight_decay=0.05, maximize=True)),
    ], [
        Case("adamax_two_groups", "Adamax",
             [([[5], [3, 4]], {}), ([[2, 3, 2], [17], [6, 7]], {"lr": 0.05, "betas": [0.8, 0.99], "weight_decay": 0.01})],
             dict(lr=0.02), 7101),
        Case("adamax_add_param_group_step10", "Adamax", [(SHAPES_SMALL, {})],
             dict(lr=0.02), 7102, events={10: [("add", [[4], [9]], {"lr": 0.05, "betas": [0.7, 0.9]})]}),
        Case("adamax_set_midrun_roundtrip12", "Adamax", [(SHAPES_BIG, {})],
             dict(lr=0.02), 7103,
             events={8: [("set", 0, "betas", [0.85, 0.995])], 12: [("roundtrip",)], 16: [("set", 0, "lr", 0.01)]}),
    ])


def nadam_cases():
    return cases_for("NAdam", 8000, [
        ("nadam_lr0.01", dict(lr=0.01)),
        ("nadam_momentum_decay0.05_betas0.8_0.99_eps1e-3", dict(lr=0.01, momentum_decay=0.05, betas=[0.8, 0.99], eps=1e-3)),
        ("nadam_wd0.1", dict(lr=0.01, weight_decay=0.1)),
        ("nadam_wd0.1_decoupled", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
        ("nadam_maximize", dict(lr=0.01, maximize=True)),
        ("nadam_all_flags", dict(lr=0.01, betas=[0.5, 0.9], eps=1e-4, weight_decay=0.05, momentum_decay=0.01,
                                 decoupled_weight_decay=True, maximize=True)),
    ], [
        Case("nadam_two_groups", "NAdam",
             [([[5], [3, 4]], {}), ([[2, 3, 2], [17], [6, 7]],
                                    {"lr": 0.02, "weight_decay": 0.1, "decoupled_weight_decay": True})],
             dict(lr=0.01, weight_decay=0.01), 8101),
        Case("nadam_add_param_group_step10", "NAdam", [(SHAPES_SMALL, {})],
             dict(lr=0.01), 8102, events={10: [("add", [[4], [9]], {"lr": 0.02, "maximize": True})]}),
        Case("nadam_set_midrun_roundtrip12", "NAdam", [(SHAPES_BIG, {})],
             dict(lr=0.01, weight_decay=0.05), 8103,
             events={8: [("set", 0, "betas", [0.85, 0.995])], 12: [("roundtrip",)],
                     16: [("set", 0, "lr", 0.02), ("set", 0, "decoupled_weight_decay", True)]}),
    ])


def radam_cases():
    return cases_for("RAdam", 9000, [
        ("radam_lr0.01", dict(lr=0.01)),
        ("radam_betas0.8_0.9_eps1e-3", dict(lr=0.01, betas=[0.8, 0.9], eps=1e-3)),
        ("radam_wd0.1", dict(lr=0.01, weight_decay=0.1)),
        ("radam_wd0.1_decoupled", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
        ("radam_maximize", dict(lr=0.01, maximize=True)),
        ("radam_all_flags", dict(lr=0.01, betas=[0.5, 0.9], eps=1e-4, weight_decay=0.05,
                                 decoupled_weight_decay=True, maximize=True)),
    ], [
        Case("radam_two_groups", "RAdam",
             [([[5], [3, 4]], {}), ([[2, 3, 2], [17], [6, 7]],
                                    {"lr": 0.02, "betas": [0.8, 0.9], "weight_decay": 0.1, "decoupled_weight_decay": True})],
             dict(lr=0.01), 9101),
        Case("radam_add_param_group_step10", "RAdam", [(SHAPES_SMALL, {})],
             dict(lr=0.01, betas=[0.9, 0.95]), 9102, events={10: [("add", [[4], [9]], {"lr": 0.02, "maximize": True})]}),
        Case("radam_set_midrun_roundtrip12", "RAdam", [(SHAPES_BIG, {})],
             dict(lr=0.01, betas=[0.9, 0.95]), 9103,
             events={8: [("set", 0, "betas", [0.8, 0.9])], 12: [("roundtrip",)], 16: [("set", 0, "lr", 0.02)]}),
    ])


def asgd_cases():
    return cases_for("ASGD", 10000, [
        ("asgd_lr0.05", dict(lr=0.05)),
        ("asgd_lambd0.05_alpha0.5_t0_5", dict(lr=0.05, lambd=0.05, alpha=0.5, t0=5)),
        ("asgd_wd0.1_t0_10", dict(lr=0.05, weight_decay=0.1, t0=10)),
        ("asgd_maximize_t0_3", dict(lr=0.05, maximize=True, t0=3)),
        ("asgd_all_flags", dict(lr=0.05, lambd=0.01, alpha=1.0, t0=2, weight_decay=0.05, maximize=True)),
    ], [
        Case("asgd_two_groups", "ASGD",
             [([[5], [3, 4]], {}), ([[2, 3, 2], [17], [6, 7]], {"lr": 0.1, "t0": 4, "lambd": 0.01})],
             dict(lr=0.05, t0=8), 10101),
        Case("asgd_add_param_group_step10", "ASGD", [(SHAPES_SMALL, {})],
             dict(lr=0.05, t0=5), 10102, events={10: [("add", [[4], [9]], {"lr": 0.02, "t0": 2})]}),
        Case("asgd_set_lr_midrun_roundtrip12", "ASGD", [(SHAPES_BIG, {})],
             dict(lr=0.05, lambd=0.01, t0=6), 10103,
             events={8: [("set", 0, "lr", 0.02)], 12: [("roundtrip",)], 16: [("set", 0, "t0", 20)]}),
    ])


def rprop_cases():
    return cases_for("Rprop", 11000, [
        ("rprop_defaults", dict()),
        ("rprop_etas0.3_1.5", dict(etas=[0.3, 1.5])),
        ("rprop_step_sizes1e-3_0.02", dict(step_sizes=[1e-3, 0.02])),
        ("rprop_maximize", dict(maximize=True)),
        ("rprop_all_flags", dict(lr=0.05, etas=[0.4, 1.3], step_sizes=[1e-2, 0.1], maximize=True)),
    ], [
        Case("rprop_two_groups", "Rprop",
             [([[5], [3, 4]], {}), ([[2, 3, 2], [17], [6, 7]], {"lr": 0.02, "etas": [0.3, 1.5]})],
             dict(), 11101),
        Case("rprop_add_param_group_step10", "Rprop", [(SHAPES_SMALL, {})],
             dict(), 11102, events={10: [("add", [[4], [9]], {"lr": 0.03, "step_sizes": [1e-4, 0.05]})]}),
        Case("rprop_set_midrun_roundtrip12", "Rprop", [(SHAPES_BIG, {})],
             dict(lr=0.02), 11103,
             events={8: [("set", 0, "etas", [0.4, 1.3])], 12: [("roundtrip",)],
                     16: [("set", 0, "step_sizes", [1e-3, 0.03])]}),
    ])


def sparse_grad(p, plan, gen_rows):
    """A sparse COO gradient of `p` over random rows (with repeats) scaled by `plan`, and its JSON form."""
    n = p.shape[0]
    rows = torch.randint(0, n, (gen_rows,))
    width = p[0].numel() if p.dim() > 1 else 1
    values = torch.randn((gen_rows,) + tuple(p.shape[1:]), dtype=torch.float32) * plan
    g = torch.sparse_coo_tensor(rows.unsqueeze(0), values, p.shape)
    assert values.numel() == gen_rows * width
    return g, {"rows": rows.tolist(), "values": generate.flat(values)}


def build_sparse(case):
    """generate.build for SparseAdam: the same schema, with sparse gradients (see the header)."""
    torch.manual_seed(case.seed)
    cls = getattr(torch.optim, case.opt)
    params, pinfo, ctor_groups, json_groups = [], [], [], []
    for shapes, ghyper in case.groups:
        idxs = []
        for shape in shapes:
            p = torch.randn(shape, dtype=torch.float32).requires_grad_(True)
            idxs.append(len(params))
            pinfo.append({"name": "w%d" % len(params), "shape": list(shape), "data": generate.flat(p)})
            params.append(p)
        ctor_groups.append({"params": [params[i] for i in idxs], **generate.pyhyper(ghyper)})
        json_groups.append(idxs)

    def make(added):
        o = cls([dict(g) for g in ctor_groups], **generate.pyhyper(case.ctor))
        for gparams, hyper in added:
            o.add_param_group({"params": gparams, **generate.pyhyper(hyper)})
        return o

    added = []
    opt = make(added)
    groups_out = []
    for idxs, g in zip(json_groups, opt.param_groups):
        d = {"params": idxs}
        d.update({k: generate.jsonable(v) for k, v in g.items() if k not in generate.EXCLUDED_GROUP_KEYS})
        groups_out.append(d)
    steps = []
    for s in range(case.nsteps):
        step = {}
        evs = []
        for ev in case.events.get(s, []):
            if ev[0] == "add":
                newp, newinfo = [], []
                for shape in ev[1]:
                    p = torch.randn(shape, dtype=torch.float32).requires_grad_(True)
                    newinfo.append({"name": "w%d" % len(params), "shape": list(shape), "data": generate.flat(p)})
                    params.append(p)
                    newp.append(p)
                opt.add_param_group({"params": newp, **generate.pyhyper(ev[2])})
                added.append((newp, ev[2]))
                evs.append({"add_param_group": {"params": newinfo, "hyper": generate.jsonable(ev[2])}})
            elif ev[0] == "set":
                _, g, key, value = ev
                opt.param_groups[g][key] = tuple(value) if key == "betas" else value
                evs.append({"set": {"group": g, "key": key, "value": generate.jsonable(value)}})
            else:
                sd = copy.deepcopy(opt.state_dict())
                opt = make(added)
                opt.load_state_dict(sd)
                evs.append({"state_dict_roundtrip": True})
        if evs:
            step["before"] = evs
        grads = []
        for i, p in enumerate(params):
            plan = None if i in case.never else generate.grad_plan(s, i, case.late)
            if plan is None:
                p.grad = None
                grads.append(None)
            else:
                # a zero plan (generate.py's all-zero gradient) becomes rows with zero values
                g, js = sparse_grad(p, plan, 1 + (s + i) % (2 * p.shape[0]))
                p.grad = g
                grads.append(js)
        opt.step()
        step["grads"] = grads
        step["params"] = [generate.flat(p) for p in params]
        steps.append(step)
    return {"name": case.name, "optimizer": case.opt, "defaults": generate.defaults_of(opt), "params": pinfo,
            "groups": groups_out, "steps": steps, "final_state": generate.final_state(densified(opt))}


def densified(opt):
    """The optimizer with its sparse state buffers (SGD's momentum over sparse gradients) made dense, for final_state."""
    for st in opt.state.values():
        for key, v in list(st.items()):
            if isinstance(v, torch.Tensor) and v.is_sparse:
                st[key] = v.to_dense()
    return opt


SPARSE_SHAPES = [[10, 4], [7, 3], [17], [5, 1]]


def sparse_adam_cases():
    out = []
    seed = 12000
    for name, ctor in [
        ("sparse_adam_lr0.01", dict(lr=0.01)),
        ("sparse_adam_betas0.8_0.99_eps1e-4", dict(lr=0.01, betas=[0.8, 0.99], eps=1e-4)),
        ("sparse_adam_maximize", dict(lr=0.01, maximize=True)),
    ]:
        seed += 1
        out.append(Case(name, "SparseAdam", [(SPARSE_SHAPES, {})], ctor, seed))
    out += [
        Case("sparse_adam_two_groups", "SparseAdam",
             [([[10, 4], [5, 1]], {}), ([[7, 3], [17]], {"lr": 0.02, "betas": [0.8, 0.9]})],
             dict(lr=0.01), 12101),
        Case("sparse_adam_add_param_group_step10", "SparseAdam", [(SPARSE_SHAPES, {})],
             dict(lr=0.01), 12102, events={10: [("add", [[6, 2], [9]], {"lr": 0.03, "maximize": True})]}),
        Case("sparse_adam_set_midrun_roundtrip12", "SparseAdam", [(SPARSE_SHAPES, {})],
             dict(lr=0.01), 12103,
             events={8: [("set", 0, "betas", [0.85, 0.995])], 12: [("roundtrip",)], 16: [("set", 0, "lr", 0.02)]}),
    ]
    return out


def sparse_sgd_cases():
    """SGD on sparse gradients, as PyTorch 1.13 takes them (no weight decay: PyTorch refuses it with them)."""
    out = []
    seed = 12200
    for name, ctor in [
        ("sparse_sgd_lr0.05", dict(lr=0.05)),
        ("sparse_sgd_momentum0.9", dict(lr=0.05, momentum=0.9)),
        ("sparse_sgd_momentum0.9_dampening0.3", dict(lr=0.05, momentum=0.9, dampening=0.3)),
        ("sparse_sgd_nesterov", dict(lr=0.05, momentum=0.8, nesterov=True)),
        ("sparse_sgd_maximize_momentum", dict(lr=0.05, momentum=0.5, maximize=True)),
    ]:
        seed += 1
        out.append(Case(name, "SGD", [(SPARSE_SHAPES, {})], ctor, seed))
    out += [
        Case("sparse_sgd_two_groups", "SGD",
             [([[10, 4], [5, 1]], {}), ([[7, 3], [17]], {"lr": 0.02, "momentum": 0.9})],
             dict(lr=0.05), 12301),
        Case("sparse_sgd_add_param_group_step10", "SGD", [(SPARSE_SHAPES, {})],
             dict(lr=0.05, momentum=0.9), 12302, events={10: [("add", [[6, 2], [9]], {"lr": 0.03, "nesterov": True})]}),
        Case("sparse_sgd_set_midrun_roundtrip12", "SGD", [(SPARSE_SHAPES, {})],
             dict(lr=0.05, momentum=0.9), 12303,
             events={8: [("set", 0, "momentum", 0.5)], 12: [("roundtrip",)], 16: [("set", 0, "lr", 0.02)]}),
    ]
    return out


def sparse_adagrad_cases():
    """Adagrad on sparse gradients, as PyTorch 1.13 takes them (no weight decay: PyTorch refuses it with them)."""
    out = []
    seed = 12400
    for name, ctor in [
        ("sparse_adagrad_lr0.1", dict(lr=0.1)),
        ("sparse_adagrad_lr_decay0.05", dict(lr=0.1, lr_decay=0.05)),
        ("sparse_adagrad_initial_accumulator0.5_eps1e-3", dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-3)),
        ("sparse_adagrad_maximize", dict(lr=0.1, maximize=True)),
    ]:
        seed += 1
        out.append(Case(name, "Adagrad", [(SPARSE_SHAPES, {})], ctor, seed))
    out += [
        Case("sparse_adagrad_two_groups", "Adagrad",
             [([[10, 4], [5, 1]], {}), ([[7, 3], [17]], {"lr": 0.02, "lr_decay": 0.1})],
             dict(lr=0.1), 12501),
        Case("sparse_adagrad_set_midrun_roundtrip12", "Adagrad", [(SPARSE_SHAPES, {})],
             dict(lr=0.1), 12503,
             events={8: [("set", 0, "lr_decay", 0.01)], 12: [("roundtrip",)], 16: [("set", 0, "lr", 0.05)]}),
    ]
    return out


def main():
    write("adagrad.json", [build(c) for c in adagrad_cases()])
    write("rmsprop.json", [build(c) for c in rmsprop_cases()])
    write("adadelta.json", [build(c) for c in adadelta_cases()])
    write("adamax.json", [build(c) for c in adamax_cases()])
    write("nadam.json", [build(c) for c in nadam_cases()])
    write("radam.json", [build(c) for c in radam_cases()])
    write("asgd.json", [build(c) for c in asgd_cases()])
    write("rprop.json", [build(c) for c in rprop_cases()])
    write("sparse_adam.json", [build_sparse(c) for c in sparse_adam_cases()])
    write("sparse_sgd.json", [build_sparse(c) for c in sparse_sgd_cases()])
    write("sparse_adagrad.json", [build_sparse(c) for c in sparse_adagrad_cases()])


if __name__ == "__main__":
    main()
