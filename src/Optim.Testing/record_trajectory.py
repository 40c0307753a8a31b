#!/usr/bin/env python3
"""Record a trajectory of a torch.optim.Optimizer, for Optim.Testing's matchesTrajectory / MatchesTrajectory.

    python3 record_trajectory.py --optimizer mymodule:MyOptim --kwargs '{"lr": 0.1}' --steps 20 --out traj.json

--optimizer names the class as module:Class (torch.optim:Adam for a built-in); the current directory is searched
first, so a module next to you imports. The script builds random parameters (one per --shapes entry, seeded), feeds
them gradients for --steps steps (of cycling magnitudes, all-zero now and then, and missing -- p.grad = None -- for some
parameters at some steps), and writes what PyTorch did: the parameters after every step and the optimizer's final state.

The file's layout is that of Optim's golden fixtures:
    {"torch_version": "...", "cases": [CASE]}
    CASE: {"name", "optimizer" (the class name), "defaults" (optimizer.defaults), "params": [{"name", "shape", "data"}],
           "groups": [{"params": [indices], <every key of the param group>}],
           "steps": [{"before": [EVENT] (optional), "grads": [flat list or null per parameter], "params": [flat list per parameter]}],
           "final_state": {"<index>": {"step": n, "<buffer>": flat list, ...}}}
    EVENT: {"state_dict_roundtrip": true}: state_dict() loaded into a new optimizer, used from then on (--roundtrip-at).
Floats are float32 values written exactly.
"""

import argparse
import copy
import importlib
import json
import os
import sys

import torch

EXCLUDED_GROUP_KEYS = {"params", "foreach", "differentiable", "capturable", "fused"}
SCALES = [1.0, 0.01, 10.0, 0.1, 3.0, 0.3, 0.03, 5.0, 0.5, 2.0, 0.05]


def flat(t):
    return t.detach().reshape(-1).tolist()


def jsonable(v):
    if isinstance(v, (tuple, list)):
        return [jsonable(x) for x in v]
    if isinstance(v, torch.Tensor):
        return flat(v) if v.dim() > 0 else v.item()
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    return None


def load_class(spec):
    if ":" not in spec:
        raise SystemExit("--optimizer must be module:Class, e.g. mymodule:MyOptim or torch.optim:Adam; got %r" % spec)
    module_name, class_name = spec.split(":", 1)
    sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    cls = getattr(module, class_name, None)
    if cls is None:
        raise SystemExit("module %s has no class %s" % (module_name, class_name))
    if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
        raise SystemExit("%s is not a torch.optim.Optimizer subclass" % spec)
    return cls


def grad_plan(step, index):
    """None: p.grad = None; 0.0: an all-zero gradient; otherwise a scale for randn."""
    if index == 1 and step < 2:
        return None                       # a parameter whose state starts late
    if step > 0 and (step * 5 + index) % 13 == 4:
        return None                       # a missing gradient mid-run
    if (step + 2 * index) % 11 == 7:
        return 0.0
    return SCALES[(step * 3 + index * 7) % len(SCALES)]


def state_of(optimizer, params):
    out = {}
    for i, p in enumerate(params):
        entries = optimizer.state.get(p)
        if not entries:
            continue
        record = {}
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                record[key] = value.item() if key == "step" else flat(value)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                record[key] = float(value)
        if record:
            out[str(i)] = record
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--optimizer", required=True, help="module:Class of a torch.optim.Optimizer subclass")
    parser.add_argument("--kwargs", default="{}", help="the constructor's keyword arguments, as JSON (lists become tuples)")
    parser.add_argument("--steps", type=int, default=20, help="how many steps (default 20)")
    parser.add_argument("--shapes", default="[[5], [3, 4], [17]]", help="the parameters' shapes, as JSON")
    parser.add_argument("--seed", type=int, default=0, help="the random seed (default 0)")
    parser.add_argument("--roundtrip-at", type=int, default=None,
                        help="before this step (1-based), round-trip the optimizer through state_dict() into a new one")
    parser.add_argument("--name", default=None, help="the case's name (default: the class and its arguments)")
    parser.add_argument("--out", required=True, help="the JSON file to write")
    args = parser.parse_args()

    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(args.seed)
    cls = load_class(args.optimizer)
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(args.kwargs).items()}
    shapes = json.loads(args.shapes)
    if args.steps < 1:
        raise SystemExit("--steps must be 1 or more")

    params = [torch.randn(shape, dtype=torch.float32).requires_grad_(True) for shape in shapes]
    infos = [{"name": "w%d" % i, "shape": list(shape), "data": flat(p)} for i, (shape, p) in enumerate(zip(shapes, params))]

    def make():
        return cls(params, **kwargs)

    optimizer = make()
    defaults = {k: jsonable(v) for k, v in optimizer.defaults.items() if k not in EXCLUDED_GROUP_KEYS}
    groups = []
    offset = 0
    for g in optimizer.param_groups:
        record = {"params": list(range(offset, offset + len(g["params"])))}
        offset += len(g["params"])
        for k, v in g.items():
            if k not in EXCLUDED_GROUP_KEYS:
                record[k] = jsonable(v)
        groups.append(record)

    steps = []
    for s in range(args.steps):
        step = {}
        if args.roundtrip_at is not None and s + 1 == args.roundtrip_at:
            saved = copy.deepcopy(optimizer.state_dict())
            optimizer = make()
            optimizer.load_state_dict(saved)
            step["before"] = [{"state_dict_roundtrip": True}]
        grads = []
        for i, p in enumerate(params):
            plan = grad_plan(s, i)
            if plan is None:
                p.grad = None
                grads.append(None)
            else:
                g = torch.randn(p.shape, dtype=torch.float32) * plan if plan != 0.0 else torch.zeros(p.shape, dtype=torch.float32)
                p.grad = g.clone()
                grads.append(flat(g))
        optimizer.step()
        step["grads"] = grads
        step["params"] = [flat(p) for p in params]
        steps.append(step)

    name = args.name or "%s(%s)" % (cls.__name__, ", ".join("%s=%s" % kv for kv in sorted(kwargs.items())))
    case = {"name": name, "optimizer": cls.__name__, "defaults": defaults, "params": infos, "groups": groups,
            "steps": steps, "final_state": state_of(optimizer, params)}
    with open(args.out, "w") as f:
        json.dump({"torch_version": torch.__version__, "cases": [case]}, f)
    print("wrote %d steps of %s to %s" % (args.steps, name, args.out))


if __name__ == "__main__":
    main()
