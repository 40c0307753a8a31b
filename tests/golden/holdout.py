# Holdout fixtures: fresh PyTorch 1.13 trajectories that are not in the repository.
#
#     /usr/bin/python3 tests/golden/holdout.py --out DIR [--seed N] [--cases K]
#
# It writes, into DIR, files with the same names and schema as the committed
# fixtures (sgd.json, adam.json, ..., schedulers.json), but every case is drawn
# at random from --seed: hyperparameters and flags, parameter shapes, param
# groups, steps where gradients are missing or zero, hyperparameter changes,
# add_param_group and state_dict round trips mid-run.  The test suites replay
# whatever fixture directory OPTIM_GOLDEN_DIR names, so
#
#     dotnet fsi build.fsx holdout [-- --seed N]
#
# generates a holdout set into out/holdout and runs the golden replay tests on
# it: the check that Optim matches PyTorch on trajectories it was never tuned on.
# Each file keeps the committed cases and adds the drawn ones; files the
# holdout does not draw (seeds.json, nn.json) are copied from tests/golden, so
# the suites find every file and case they read.  Adafactor and Muon, which
# PyTorch 1.13 lacks, are drawn through generate_adafactor.py's transcription
# of 2.x and generate_muon.py's of 2.9 (Muon's parameters are matrices).

import argparse
import json
import math
import os
import random
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import generate  # noqa: E402
import generate_optimizers  # noqa: E402,F401  (registers the other optimizer classes)
import generate_adafactor  # noqa: E402,F401  (registers the transcription of PyTorch 2.x's Adafactor)
import generate_muon  # noqa: E402,F401  (registers the transcription of PyTorch 2.9's Muon)
import generate_lbfgs as gl  # noqa: E402
import generate_schedulers as gs  # noqa: E402
from generate import Case, build  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--out", required=True)
ap.add_argument("--seed", type=int, default=None, help="default: drawn from the clock, and printed")
ap.add_argument("--cases", type=int, default=12, help="cases per optimizer")
args = ap.parse_args()
seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**9)
print("holdout seed %d" % seed)
R = random.Random(seed)


def logu(lo, hi):
    return math.exp(R.uniform(math.log(lo), math.log(hi)))


def maybe(p, value, otherwise=0.0):
    return value if R.random() < p else otherwise


def shapes(kind=None):
    out = []
    for _ in range(R.randint(1, 4)):
        rank = 2 if kind == "Muon" else R.randint(0 if kind == "Adafactor" else 1, 3)
        out.append([R.randint(1, 9) for _ in range(rank)])
    return out


def betas():
    return [round(R.uniform(0.5, 0.95), 4), round(1 - logu(1e-4, 0.1), 6)]


def sgd_hyper():
    momentum = maybe(0.7, R.uniform(0.1, 0.99))
    nesterov = momentum > 0 and R.random() < 0.5
    return dict(lr=logu(1e-3, 0.3), momentum=momentum, dampening=0.0 if nesterov else maybe(0.5, R.uniform(0, 0.6)),
                weight_decay=maybe(0.5, logu(1e-4, 0.1)), nesterov=nesterov, maximize=R.random() < 0.3)


HYPER = {
    "SGD": lambda: sgd_hyper(),
    "Adam": lambda: dict(lr=logu(1e-4, 0.1), betas=betas(), eps=logu(1e-10, 1e-4),
                         weight_decay=maybe(0.5, logu(1e-4, 0.1)), amsgrad=R.random() < 0.5, maximize=R.random() < 0.3),
    "AdamW": lambda: dict(lr=logu(1e-4, 0.1), betas=betas(), eps=logu(1e-10, 1e-4),
                          weight_decay=logu(1e-4, 0.5), amsgrad=R.random() < 0.5, maximize=R.random() < 0.3),
    "Adagrad": lambda: dict(lr=logu(1e-3, 0.3), lr_decay=maybe(0.5, logu(1e-3, 0.3)),
                            weight_decay=maybe(0.5, logu(1e-4, 0.1)),
                            initial_accumulator_value=maybe(0.5, R.uniform(0, 1)), eps=logu(1e-12, 1e-4),
                            maximize=R.random() < 0.3),
    "RMSprop": lambda: dict(lr=logu(1e-4, 0.05), alpha=R.uniform(0.8, 0.999), eps=logu(1e-10, 1e-4),
                            weight_decay=maybe(0.5, logu(1e-4, 0.1)), momentum=maybe(0.5, R.uniform(0.1, 0.95)),
                            centered=R.random() < 0.5, maximize=R.random() < 0.3),
    "Adadelta": lambda: dict(lr=logu(0.1, 2.0), rho=R.uniform(0.5, 0.99), eps=logu(1e-8, 1e-3),
                             weight_decay=maybe(0.5, logu(1e-4, 0.1)), maximize=R.random() < 0.3),
    "Adamax": lambda: dict(lr=logu(1e-4, 0.1), betas=betas(), eps=logu(1e-10, 1e-4),
                           weight_decay=maybe(0.5, logu(1e-4, 0.1)), maximize=R.random() < 0.3),
    "NAdam": lambda: dict(lr=logu(1e-4, 0.1), betas=betas(), eps=logu(1e-10, 1e-4),
                          weight_decay=maybe(0.5, logu(1e-4, 0.1)), momentum_decay=logu(1e-3, 1e-2),
                          decoupled_weight_decay=R.random() < 0.5, maximize=R.random() < 0.3),
    "RAdam": lambda: dict(lr=logu(1e-4, 0.1), betas=betas(), eps=logu(1e-10, 1e-4),
                          weight_decay=maybe(0.5, logu(1e-4, 0.1)),
                          decoupled_weight_decay=R.random() < 0.5, maximize=R.random() < 0.3),
    "ASGD": lambda: dict(lr=logu(1e-3, 0.1), lambd=logu(1e-5, 1e-2), alpha=R.uniform(0.5, 1.0),
                         t0=float(R.choice([0, 3, 10, 1e6])), weight_decay=maybe(0.5, logu(1e-4, 0.1)),
                         maximize=R.random() < 0.3),
    "Rprop": lambda: dict(lr=logu(1e-3, 0.1), etas=[R.uniform(0.2, 0.9), R.uniform(1.05, 1.5)],
                          step_sizes=[logu(1e-7, 1e-4), R.uniform(0.5, 50)], maximize=R.random() < 0.3),
    "SparseAdam": lambda: dict(lr=logu(1e-4, 0.1), betas=betas(), eps=logu(1e-10, 1e-4), maximize=R.random() < 0.3),
    "Adafactor": lambda: dict(lr=logu(1e-3, 0.1), beta2_decay=-R.uniform(0.3, 1.0),
                              eps=[R.choice([None, logu(1e-6, 1e-2)]), logu(1e-4, 1e-2)], d=R.uniform(1.0, 2.0),
                              weight_decay=maybe(0.5, logu(1e-4, 0.1)), maximize=R.random() < 0.3),
    "Muon": lambda: dict(lr=logu(1e-3, 0.1), weight_decay=maybe(0.7, logu(1e-3, 0.3)),
                         momentum=maybe(0.8, R.uniform(0.5, 0.99)), nesterov=R.random() < 0.6,
                         ns_coefficients=R.choice([[3.4445, -4.775, 2.0315], [2.0, -1.5, 0.5], [3.0, -3.2, 1.2]]),
                         eps=R.choice([1e-7, logu(1e-7, 1e-2)]), ns_steps=R.randint(1, 8),
                         adjust_lr_fn=R.choice([None, "original", "match_rms_adamw"])),
}

# The keys that may differ between groups, or change mid-run (scalars only; betas too where the kind has them).
GROUP_KEYS = {"SGD": ["lr", "momentum", "weight_decay"], "Adam": ["lr", "eps", "weight_decay", "betas"],
              "AdamW": ["lr", "weight_decay", "betas"], "Adagrad": ["lr", "lr_decay", "weight_decay"],
              "RMSprop": ["lr", "alpha", "weight_decay"], "Adadelta": ["lr", "rho"], "Adamax": ["lr", "betas"],
              "NAdam": ["lr", "betas"], "RAdam": ["lr", "betas"], "ASGD": ["lr"], "Rprop": ["lr"],
              "SparseAdam": ["lr", "betas"], "Adafactor": ["lr", "weight_decay", "d"],
              "Muon": ["lr", "weight_decay", "momentum"]}

FILES = {"SGD": "sgd.json", "Adam": "adam.json", "AdamW": "adamw.json", "Adagrad": "adagrad.json",
         "RMSprop": "rmsprop.json", "Adadelta": "adadelta.json", "Adamax": "adamax.json", "NAdam": "nadam.json",
         "RAdam": "radam.json", "ASGD": "asgd.json", "Rprop": "rprop.json", "SparseAdam": "sparse_adam.json",
         "Adafactor": "adafactor.json", "Muon": "muon.json"}


def group_value(kind, key, ctor):
    """A value for `key` in a group other than the first: near the constructor's, valid for the kind."""
    if key == "betas":
        return betas()
    base = ctor.get(key, 0.0)
    if key in ("alpha", "rho"):
        return R.uniform(0.6, 0.99)
    if key == "d":
        return R.uniform(1.0, 2.0)
    if key == "momentum":
        return R.uniform(0.1, 0.95) if base > 0 else 0.0
    if base == 0.0:
        return logu(1e-4, 0.05)
    return base * R.uniform(0.3, 3.0)


def random_case(kind, k):
    ctor = HYPER[kind]()
    if kind == "SGD" and ctor["nesterov"]:
        keys = ["lr", "weight_decay"]       # a group's momentum must stay > 0 with nesterov
    else:
        keys = GROUP_KEYS[kind]
    groups = [(shapes(kind), {})]
    if R.random() < 0.5:
        groups.append((shapes(kind), {key: group_value(kind, key, ctor) for key in R.sample(keys, R.randint(1, len(keys)))}))
    nparams = sum(len(s) for s, _ in groups)
    events = {}
    for _ in range(R.randint(0, 3)):
        step = R.randint(1, 24)
        what = R.random()
        if what < 0.4:
            key = R.choice(keys)
            events.setdefault(step, []).append(("set", R.randrange(len(groups)), key, group_value(kind, key, ctor)))
        elif what < 0.7:
            events.setdefault(step, []).append(("roundtrip",))
        elif not any(e[0] == "add" for es in events.values() for e in es):
            key = R.choice(keys)
            events.setdefault(step, []).append(("add", shapes(kind), {key: group_value(kind, key, ctor)}))
    late = {i: R.randint(1, 6) for i in range(nparams) if R.random() < 0.25}
    never = tuple(i for i in range(nparams) if R.random() < 0.08)
    return Case("holdout_%s_%d_seed%d" % (kind.lower(), k, seed), kind, groups, ctor, R.randrange(1, 10**6),
                events=events, nsteps=R.randint(25, 32), late=late, never=never)


def lbfgs_case(k):
    kind = R.choice(["rosenbrock", "wells", "quadratic"])
    n = R.randint(2, 12) if kind != "quadratic" else R.randint(3, 30)
    cut = sorted(R.sample(range(1, n), R.randint(0, min(2, n - 1))))
    sizes = [b - a for a, b in zip([0] + cut, cut + [n])]
    if kind == "quadratic":
        a, b = gl.spd(n, R.randrange(1, 10**6))
        problem = {"kind": kind, "a": a, "b": b}
        start = [([m], R.randrange(1, 10**6)) for m in sizes]
    else:
        problem = {"kind": kind}
        start = [([m], [round(R.uniform(-1.5, 1.5), 3) for _ in range(m)]) for m in sizes]
    wolfe = R.random() < 0.5
    ctor = dict(lr=logu(0.05, 1.5) if wolfe else logu(1e-3, 0.2), max_iter=R.randint(1, 20),
                history_size=R.randint(1, 20), line_search_fn="strong_wolfe" if wolfe else None)
    if R.random() < 0.3:
        ctor["max_eval"] = R.randint(1, 30)
    if R.random() < 0.3:
        ctor["tolerance_grad"] = logu(1e-9, 1e-3)
    if R.random() < 0.3:
        ctor["tolerance_change"] = logu(1e-12, 1e-4)
    events = {}
    for _ in range(R.randint(0, 2)):
        step = R.randint(1, 24)
        events.setdefault(step, []).append(("roundtrip",) if R.random() < 0.5 else ("set", "lr", ctor["lr"] * R.uniform(0.5, 1.5)))
    return gl.Case("holdout_lbfgs_%d_%s_seed%d" % (k, kind, seed), problem, start, ctor, events=events)


def scheduler_case(k):
    lrs = [round(logu(1e-3, 0.5), 6) for _ in range(2)]
    groups = [{"lr": lrs[0]}, {"lr": lrs[1]}]
    steps = R.randint(60, 150)
    pick = R.choice(sorted(gs.CLASSES))
    sch, extra = gs.sch, {}

    def simple():
        kind = R.choice(["StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR", "PolynomialLR",
                         "CosineAnnealingLR"])
        return simple_of(kind)

    def simple_of(kind):
        if kind == "StepLR":
            return sch(kind, step_size=R.randint(1, 30), gamma=R.uniform(0.1, 0.95))
        if kind == "MultiStepLR":
            return sch(kind, milestones=sorted(R.sample(range(1, steps), R.randint(1, 5))), gamma=R.uniform(0.1, 0.95))
        if kind == "ConstantLR":
            return sch(kind, factor=R.uniform(0.05, 1.0), total_iters=R.randint(1, 40))
        if kind == "LinearLR":
            return sch(kind, start_factor=R.uniform(0.05, 1.0), end_factor=R.uniform(0.05, 1.0), total_iters=R.randint(1, 60))
        if kind == "ExponentialLR":
            return sch(kind, gamma=R.uniform(0.9, 0.999))
        if kind == "PolynomialLR":
            return sch(kind, total_iters=R.randint(1, steps), power=R.uniform(0.3, 3.0))
        return sch("CosineAnnealingLR", T_max=R.randint(1, 60), eta_min=maybe(0.5, logu(1e-5, 1e-3)))

    if pick in ("StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR", "PolynomialLR", "CosineAnnealingLR"):
        spec = simple_of(pick)
    elif pick == "CosineAnnealingWarmRestarts":
        spec = sch(pick, T_0=R.randint(1, 30), T_mult=R.randint(1, 3), eta_min=maybe(0.5, logu(1e-5, 1e-3)))
    elif pick in ("LambdaLR", "MultiplicativeLR"):
        names = sorted(gs.LAMBDAS)
        spec = sch(pick, lr_lambda=[R.choice(names), R.choice(names)] if R.random() < 0.5 else R.choice(names))
    elif pick == "SequentialLR":
        n = R.randint(2, 3)
        spec = sch(pick, schedulers=[simple() for _ in range(n)],
                   milestones=sorted(R.sample(range(1, steps), n - 1)))
    elif pick == "ChainedScheduler":
        spec = sch(pick, schedulers=[simple() for _ in range(R.randint(1, 3))])
    elif pick == "ReduceLROnPlateau":
        mode = R.choice(["min", "max"])
        spec = sch(pick, mode=mode, factor=R.uniform(0.1, 0.9), patience=R.randint(0, 8),
                   threshold=R.choice([0.0, 1e-4, 1e-2, 0.05]), threshold_mode=R.choice(["rel", "abs"]),
                   cooldown=R.randint(0, 5), min_lr=R.choice([0.0, 1e-3, [1e-3, 2e-3]]), eps=R.choice([1e-8, 1e-3]))
        walk, v = [], 1.0
        for _ in range(steps):
            v += R.gauss(-0.01 if mode == "min" else 0.01, 0.02) if R.random() < 0.5 else 0.0
            walk.append(v)
        extra["metrics"] = walk
    elif pick == "CyclicLR":
        spec = sch(pick, base_lr=[lrs[0] / 10, lrs[1] / 10], max_lr=R.choice([lrs, lrs[0]]),
                   step_size_up=R.randint(1, 20), **({"step_size_down": R.randint(1, 20)} if R.random() < 0.5 else {}),
                   mode=R.choice(["triangular", "triangular2", "exp_range"]), gamma=R.uniform(0.9, 1.0),
                   base_momentum=R.uniform(0.7, 0.85), max_momentum=R.uniform(0.86, 0.99))
        extra["cycled"] = True
    elif pick == "OneCycleLR":
        spec = sch(pick, max_lr=R.choice([lrs, lrs[0]]), total_steps=steps + R.randint(0, 20),
                   pct_start=R.uniform(0.1, 0.6), anneal_strategy=R.choice(["cos", "linear"]),
                   div_factor=R.uniform(5, 50), final_div_factor=R.choice([100.0, 1e4]), three_phase=R.random() < 0.4)
        extra["cycled"] = True
    else:  # SWALR
        spec = sch(pick, swa_lr=R.choice([logu(1e-3, 0.1), [logu(1e-3, 0.1), logu(1e-3, 0.1)]]),
                   anneal_epochs=R.randint(0, 20), anneal_strategy=R.choice(["cos", "linear"]))
    return gs.case("holdout %d %s seed%d" % (k, pick, seed), spec, steps, groups, **extra)


def committed(fname):
    with open(os.path.join(HERE, fname)) as f:
        return json.load(f)["cases"]


# Each file holds the committed cases followed by the holdout's: tests that look up a committed case by name
# still find it, and every replay test also runs over the new ones.
os.makedirs(args.out, exist_ok=True)
for name in os.listdir(HERE):
    if name.endswith(".json"):
        shutil.copy(os.path.join(HERE, name), os.path.join(args.out, name))
generate.HERE = args.out
for kind, fname in FILES.items():
    make = generate_optimizers.build_sparse if kind == "SparseAdam" else build
    generate.write(fname, committed(fname) + [make(random_case(kind, k)) for k in range(args.cases)])
# muon.json also holds the Newton-Schulz iteration's own outputs, which the tests read beside the trajectories
with open(os.path.join(HERE, "muon.json")) as f:
    newton_schulz = json.load(f)["newton_schulz"]
with open(os.path.join(args.out, "muon.json")) as f:
    muon = json.load(f)
muon["newton_schulz"] = newton_schulz
with open(os.path.join(args.out, "muon.json"), "w") as f:
    json.dump(muon, f, separators=(",", ":"), allow_nan=False)
with open(os.path.join(HERE, "lbfgs.json")) as f:
    lbfgs = json.load(f)
lbfgs["cases"] += [gl.build(lbfgs_case(k)) for k in range(args.cases)]
with open(os.path.join(args.out, "lbfgs.json"), "w") as f:
    json.dump(lbfgs, f, separators=(",", ":"), allow_nan=False)
print("lbfgs.json %d cases (%d drawn)" % (len(lbfgs["cases"]), args.cases))
cases = committed("schedulers.json") + [gs.run(scheduler_case(k)) for k in range(args.cases * 6)]
with open(os.path.join(args.out, "schedulers.json"), "w") as f:
    f.write('{"torch_version": %s, "cases": [\n' % json.dumps(generate.torch.__version__))
    f.write(",\n".join(json.dumps(c, separators=(",", ":")) for c in cases))
    f.write("\n]}\n")
print("schedulers.json %d cases (%d drawn)" % (len(cases), args.cases * 6))
