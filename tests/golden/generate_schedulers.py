# Golden learning-rate sequences for the Optim .NET schedulers (PyTorch 1.13 reference).
#
# Run from the repository root with the Debian interpreter that ships torch 1.13
# (the pyenv `python3` on PATH has no torch):
#
#     /usr/bin/python3 tests/golden/generate_schedulers.py
#
# It writes schedulers.json next to itself.  Nothing is random: no tensor
# values matter, only param-group hyperparameters.
#
# File layout (one case per line):
#   {"torch_version": "<torch.__version__>", "cases": [CASE, ...]}
#
# CASE:
#   name        unique descriptive string
#   optimizer   "SGD" | "Adam"; built as OPT([{"params": [p_i], **groups[i]}], **optimizer_args)
#               with one 1-element parameter per group
#   optimizer_args  constructor keyword arguments of the optimizer
#   groups      per param group, the keys passed with it (lr, and for a
#               resumed scheduler initial_lr and the like)
#   scheduler   SPEC: {"type": <class name>, "args": {<PyTorch keyword args>}}
#               Named functions stand in for Python callables: lr_lambda is a
#               LAMBDAS name or a list of them (one per group), scale_fn a
#               SCALE_FNS name.  SequentialLR / ChainedScheduler take
#               "schedulers": [SPEC, ...]; the children are built first, in
#               order, on the same optimizer.  verbose=True cases print.
#   steps       how many times scheduler.step() is called
#   metrics     (ReduceLROnPlateau) the metric passed to each step
#   then        optional {"at": k, "scheduler": SPEC}: after k steps SPEC is
#               built and stepped from then on instead (SWALR after another)
#   skip_first_optimizer_step  optional; when true the first scheduler.step()
#               comes before any optimizer.step() (PyTorch warns); otherwise
#               optimizer.step() (no gradients: a no-op) precedes every
#               scheduler.step()
#   lrs         steps+1 rows: the groups' lr after construction, then after
#               each scheduler.step() (equal to get_last_lr())
#   momentum    (cyclic momentum on SGD) steps+1 rows of the groups' momentum
#   beta1       (cyclic momentum on Adam) steps+1 rows of the groups' betas[0]
#   messages    what verbose=True printed, line by line
#   order_warnings  how many "step() before optimizer.step()" warnings fired

import contextlib
import io
import json
import os
import warnings

import torch
from torch.optim import lr_scheduler as S
from torch.optim.swa_utils import SWALR

HERE = os.path.dirname(os.path.abspath(__file__))

LAMBDAS = {
    "step20": lambda e: 0.1 ** (e // 20),             # seed 002: lambda1
    "exp95": lambda e: 0.95 ** e,                      # seed 002: lambda2
    "warmup10": lambda e: min(1.0, (e + 1) / 10),
    "const95": lambda e: 0.95,
    "halve_every10": lambda e: 0.5 if e % 10 == 0 else 1.0,
}

SCALE_FNS = {
    "inv_cycle": lambda x: 1.0 / x,
    "inv_iter": lambda x: 1.0 / (1.0 + 0.01 * x),
}

CLASSES = {
    "StepLR": S.StepLR, "MultiStepLR": S.MultiStepLR, "ConstantLR": S.ConstantLR, "LinearLR": S.LinearLR,
    "ExponentialLR": S.ExponentialLR, "PolynomialLR": S.PolynomialLR, "CosineAnnealingLR": S.CosineAnnealingLR,
    "CosineAnnealingWarmRestarts": S.CosineAnnealingWarmRestarts, "LambdaLR": S.LambdaLR,
    "MultiplicativeLR": S.MultiplicativeLR, "SequentialLR": S.SequentialLR, "ChainedScheduler": S.ChainedScheduler,
    "ReduceLROnPlateau": S.ReduceLROnPlateau, "CyclicLR": S.CyclicLR, "OneCycleLR": S.OneCycleLR, "SWALR": SWALR,
}

TWO = [{"lr": 0.1}, {"lr": 0.05}]
SGD_M = {"lr": 0.1, "momentum": 0.9}


class Warmup:
    """A callable object as lr_lambda: LambdaLR's state_dict saves its __dict__ (epochs, and calls, which it counts)."""

    def __init__(self, epochs):
        self.epochs = epochs
        self.calls = 0

    def __call__(self, e):
        self.calls += 1
        return min(1.0, (e + 1) / self.epochs)


class Shrinking:
    """A MultiplicativeLR factor that itself shrinks at every call: its state changes as training goes."""

    def __init__(self, factor, decay):
        self.factor = factor
        self.decay = decay

    def __call__(self, e):
        f = self.factor
        self.factor = self.factor * self.decay
        return f


# stateful lr_lambdas: a fresh object for every scheduler that names one
STATEFUL = {
    "warmup_object10": lambda: Warmup(10),
    "warmup_object3": lambda: Warmup(3),
    "shrinking": lambda: Shrinking(0.9, 0.98),
    "shrinking_other": lambda: Shrinking(0.5, 0.5),
}


def make_lambda(name):
    return STATEFUL[name]() if name in STATEFUL else LAMBDAS[name]


def make_scheduler(opt, spec):
    kind, args = spec["type"], dict(spec["args"])
    if "lr_lambda" in args:
        f = args["lr_lambda"]
        args["lr_lambda"] = [make_lambda(n) for n in f] if isinstance(f, list) else make_lambda(f)
    if "scale_fn" in args:
        args["scale_fn"] = SCALE_FNS[args["scale_fn"]]
    if kind == "ChainedScheduler":
        return S.ChainedScheduler([make_scheduler(opt, s) for s in args["schedulers"]])
    if kind == "SequentialLR":
        args["schedulers"] = [make_scheduler(opt, s) for s in args["schedulers"]]
    return CLASSES[kind](opt, **args)


def run(case):
    opt_cls = {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam}[case["optimizer"]]
    groups = [{"params": [torch.zeros(1, requires_grad=True)], **g} for g in case["groups"]]
    opt = opt_cls(groups, **case["optimizer_args"])
    use_beta1 = case["optimizer"] == "Adam"
    out = io.StringIO()
    lrs, moms, order_warnings = [], [], 0

    def record():
        lrs.append([g["lr"] for g in opt.param_groups])
        moms.append([g["betas"][0] if use_beta1 else g.get("momentum", 0.0) for g in opt.param_groups])

    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out):
        warnings.simplefilter("always")
        sched = make_scheduler(opt, case["scheduler"])
        record()
        for k in range(case["steps"]):
            then = case.get("then")
            if then is not None and k == then["at"]:
                sched = make_scheduler(opt, then["scheduler"])
            if not (k == 0 and case.get("skip_first_optimizer_step")):
                opt.step()
            if "metrics" in case:
                sched.step(case["metrics"][k])
            else:
                sched.step()
                assert sched.get_last_lr() == [g["lr"] for g in opt.param_groups]
            record()
        order_warnings = sum(1 for w in caught if str(w.message).startswith("Detected call of `lr_scheduler.step()`"))

    result = dict(case)
    result["lrs"] = lrs
    if case.get("cycled"):
        result["beta1" if use_beta1 else "momentum"] = moms
    result.pop("cycled", None)
    result["messages"] = out.getvalue().splitlines()
    result["order_warnings"] = order_warnings
    return result


def case(name, spec, steps=80, groups=TWO, optimizer="SGD", optimizer_args=SGD_M, **extra):
    c = {"name": name, "optimizer": optimizer, "optimizer_args": optimizer_args, "groups": groups,
         "scheduler": spec, "steps": steps}
    c.update(extra)
    return c


def sch(kind, **args):
    return {"type": kind, "args": args}


def plateau_metrics():
    """Per mode, a metric that improves, stalls (inside and outside the threshold), improves again and stalls."""
    m = []
    for t in range(90):
        if t < 10:
            v = 1.0 / (1 + t)                # improving
        elif t < 30:
            v = 0.1 - 1e-6 * (t % 3)         # stalls: changes far below a relative threshold
        elif t < 40:
            v = 0.05 - 0.002 * (t - 30)      # improves (by more than the abs threshold 0.001)
        elif t < 60:
            v = 0.03 + 0.0005 * (t % 4)      # noisy plateau
        else:
            v = 0.03 - 0.0008 * (t - 59)     # slow improvement: above rel thresholds, below abs 0.001
        m.append(v)
    return m


CASES = []
add = CASES.append

# Seed 002's curves: one group at lr 0.1 (its LambdaLR has two groups at 0.1), 200 epochs.
ONE = [{"lr": 0.1}]
add(case("seed002 StepLR(step_size=50, gamma=0.1)", sch("StepLR", step_size=50, gamma=0.1), 200, ONE))
add(case("seed002 MultiStepLR([50,125,160])", sch("MultiStepLR", milestones=[50, 125, 160], gamma=0.1), 200, ONE))
add(case("seed002 ExponentialLR(0.95)", sch("ExponentialLR", gamma=0.95), 200, ONE))
add(case("seed002 CosineAnnealingLR(T_max=50)", sch("CosineAnnealingLR", T_max=50, eta_min=0), 200, ONE))
add(case("seed002 ReduceLROnPlateau(patience=10, cooldown=10, min_lr=1e-4, verbose)",
         sch("ReduceLROnPlateau", mode="min", factor=0.1, patience=10, cooldown=10, min_lr=1e-4, verbose=True),
         200, ONE, metrics=[0.5] * 200))
add(case("seed002 LambdaLR([step20, exp95])", sch("LambdaLR", lr_lambda=["step20", "exp95"]), 200,
         [{"lr": 0.1}, {"lr": 0.1}]))

add(case("StepLR(step_size=7)", sch("StepLR", step_size=7)))
add(case("StepLR(step_size=10, gamma=0.5)", sch("StepLR", step_size=10, gamma=0.5)))
add(case("StepLR(step_size=1, gamma=0.97)", sch("StepLR", step_size=1, gamma=0.97)))
add(case("StepLR(step_size=5) resumed at last_epoch=9",
         sch("StepLR", step_size=5, gamma=0.5, last_epoch=9),
         groups=[{"lr": 0.1, "initial_lr": 0.2}, {"lr": 0.05, "initial_lr": 0.1}]))
add(case("StepLR verbose", sch("StepLR", step_size=3, gamma=0.5, verbose=True), 8))
add(case("StepLR with scheduler.step() before optimizer.step()", sch("StepLR", step_size=3), 8,
         skip_first_optimizer_step=True))
add(case("MultiStepLR([10,25,25,40], gamma=0.5) with a repeated milestone",
         sch("MultiStepLR", milestones=[10, 25, 25, 40], gamma=0.5)))
add(case("MultiStepLR([30,5,60]) unsorted", sch("MultiStepLR", milestones=[30, 5, 60])))
add(case("ConstantLR()", sch("ConstantLR")))
add(case("ConstantLR(factor=0.5, total_iters=10)", sch("ConstantLR", factor=0.5, total_iters=10)))
add(case("ConstantLR(factor=1.0)", sch("ConstantLR", factor=1.0, total_iters=3)))
add(case("LinearLR()", sch("LinearLR")))
add(case("LinearLR(start_factor=0.25, total_iters=20)", sch("LinearLR", start_factor=0.25, total_iters=20)))
add(case("LinearLR(start_factor=1.0, end_factor=0.1, total_iters=30)",
         sch("LinearLR", start_factor=1.0, end_factor=0.1, total_iters=30)))
add(case("LinearLR(start_factor=0.5, end_factor=0.0, total_iters=10) decays to zero",
         sch("LinearLR", start_factor=0.5, end_factor=0.0, total_iters=10)))
add(case("ExponentialLR(0.9)", sch("ExponentialLR", gamma=0.9)))
add(case("ExponentialLR(1.02)", sch("ExponentialLR", gamma=1.02)))
add(case("PolynomialLR()", sch("PolynomialLR")))
add(case("PolynomialLR(total_iters=40, power=2.0)", sch("PolynomialLR", total_iters=40, power=2.0)))
add(case("PolynomialLR(total_iters=30, power=0.5)", sch("PolynomialLR", total_iters=30, power=0.5)))
add(case("CosineAnnealingLR(T_max=20)", sch("CosineAnnealingLR", T_max=20)))
add(case("CosineAnnealingLR(T_max=25, eta_min=0.001)", sch("CosineAnnealingLR", T_max=25, eta_min=0.001)))
add(case("CosineAnnealingLR(T_max=3, eta_min=0.01)", sch("CosineAnnealingLR", T_max=3, eta_min=0.01)))
add(case("CosineAnnealingLR(T_max=30) resumed at last_epoch=10",
         sch("CosineAnnealingLR", T_max=30, eta_min=0.001, last_epoch=10),
         groups=[{"lr": 0.1, "initial_lr": 0.2}, {"lr": 0.05, "initial_lr": 0.1}]))
add(case("CosineAnnealingWarmRestarts(T_0=10)", sch("CosineAnnealingWarmRestarts", T_0=10)))
add(case("CosineAnnealingWarmRestarts(T_0=5, T_mult=2, eta_min=0.001)",
         sch("CosineAnnealingWarmRestarts", T_0=5, T_mult=2, eta_min=0.001)))
add(case("CosineAnnealingWarmRestarts(T_0=3, T_mult=3) verbose",
         sch("CosineAnnealingWarmRestarts", T_0=3, T_mult=3, verbose=True), 60))
add(case("LambdaLR(warmup10)", sch("LambdaLR", lr_lambda="warmup10")))
add(case("LambdaLR([step20, exp95])", sch("LambdaLR", lr_lambda=["step20", "exp95"])))
add(case("MultiplicativeLR(const95)", sch("MultiplicativeLR", lr_lambda="const95")))
add(case("MultiplicativeLR([const95, halve_every10])",
         sch("MultiplicativeLR", lr_lambda=["const95", "halve_every10"])))

add(case("SequentialLR([LinearLR(0.1, 5), ExponentialLR(0.9)], [5])",
         sch("SequentialLR", schedulers=[sch("LinearLR", start_factor=0.1, total_iters=5),
                                         sch("ExponentialLR", gamma=0.9)], milestones=[5])))
add(case("SequentialLR([ConstantLR(0.1, 2), ExponentialLR(0.9)], [2])",
         sch("SequentialLR", schedulers=[sch("ConstantLR", factor=0.1, total_iters=2),
                                         sch("ExponentialLR", gamma=0.9)], milestones=[2])))
add(case("SequentialLR([LinearLR(0.2, 10), CosineAnnealingLR(30), StepLR(10, 0.5)], [10, 40])",
         sch("SequentialLR", schedulers=[sch("LinearLR", start_factor=0.2, total_iters=10),
                                         sch("CosineAnnealingLR", T_max=30),
                                         sch("StepLR", step_size=10, gamma=0.5)], milestones=[10, 40])))
add(case("SequentialLR([StepLR(5), MultiplicativeLR(const95)], [20])",
         sch("SequentialLR", schedulers=[sch("StepLR", step_size=5, gamma=0.5),
                                         sch("MultiplicativeLR", lr_lambda="const95")], milestones=[20])))
add(case("SequentialLR([LinearLR(0.5, 5), CosineAnnealingWarmRestarts(10)], [5])",
         sch("SequentialLR", schedulers=[sch("LinearLR", start_factor=0.5, total_iters=5),
                                         sch("CosineAnnealingWarmRestarts", T_0=10)], milestones=[5])))
add(case("SequentialLR([ExponentialLR(0.9)], [])",
         sch("SequentialLR", schedulers=[sch("ExponentialLR", gamma=0.9)], milestones=[])))
add(case("ChainedScheduler([ConstantLR(0.1, 2), ExponentialLR(0.9)])",
         sch("ChainedScheduler", schedulers=[sch("ConstantLR", factor=0.1, total_iters=2),
                                             sch("ExponentialLR", gamma=0.9)])))
add(case("ChainedScheduler([LinearLR(0.5, 10), StepLR(15, 0.5), CosineAnnealingLR(40)])",
         sch("ChainedScheduler", schedulers=[sch("LinearLR", start_factor=0.5, total_iters=10),
                                             sch("StepLR", step_size=15, gamma=0.5),
                                             sch("CosineAnnealingLR", T_max=40)])))
add(case("ChainedScheduler([StepLR(10)])", sch("ChainedScheduler", schedulers=[sch("StepLR", step_size=10)])))

M = plateau_metrics()
MAX_M = [2.0 - x for x in M]   # the mirror image, positive (a relative threshold scales |best|)
for mode, metrics in (("min", M), ("max", MAX_M)):
    add(case("ReduceLROnPlateau(%s, rel, patience=3, cooldown=2, min_lr=1e-3)" % mode,
             sch("ReduceLROnPlateau", mode=mode, factor=0.5, patience=3, cooldown=2, min_lr=1e-3),
             90, metrics=metrics))
    add(case("ReduceLROnPlateau(%s, abs 0.001, patience=2, cooldown=4, min_lr per group)" % mode,
             sch("ReduceLROnPlateau", mode=mode, factor=0.3, patience=2, threshold=0.001, threshold_mode="abs",
                 cooldown=4, min_lr=[2e-3, 4e-3]),
             90, metrics=metrics))
    add(case("ReduceLROnPlateau(%s, rel 0.05, patience=0, verbose)" % mode,
             sch("ReduceLROnPlateau", mode=mode, factor=0.7, patience=0, threshold=0.05, verbose=True),
             90, metrics=metrics))
    add(case("ReduceLROnPlateau(%s, abs 0, eps=1e-3)" % mode,
             sch("ReduceLROnPlateau", mode=mode, factor=0.9, patience=1, threshold=0.0, threshold_mode="abs",
                 eps=1e-3),
             90, metrics=metrics))

add(case("CyclicLR(triangular)", sch("CyclicLR", base_lr=[0.01, 0.005], max_lr=[0.1, 0.05], step_size_up=10),
         cycled=True))
add(case("CyclicLR(triangular2, up 8, down 12)",
         sch("CyclicLR", base_lr=0.01, max_lr=0.1, step_size_up=8, step_size_down=12, mode="triangular2",
             base_momentum=[0.8, 0.85], max_momentum=[0.9, 0.95]), cycled=True))
add(case("CyclicLR(exp_range, gamma=0.97)",
         sch("CyclicLR", base_lr=0.01, max_lr=[0.1, 0.2], step_size_up=10, mode="exp_range", gamma=0.97),
         cycled=True))
add(case("CyclicLR(scale_fn=inv_cycle)",
         sch("CyclicLR", base_lr=0.01, max_lr=0.1, step_size_up=6, scale_fn="inv_cycle"), cycled=True))
add(case("CyclicLR(scale_fn=inv_iter, scale_mode=iterations)",
         sch("CyclicLR", base_lr=0.01, max_lr=0.1, step_size_up=7, step_size_down=3, scale_fn="inv_iter",
             scale_mode="iterations"), cycled=True))
add(case("CyclicLR(cycle_momentum=False)",
         sch("CyclicLR", base_lr=0.01, max_lr=0.1, step_size_up=5, cycle_momentum=False), cycled=True))
add(case("CyclicLR(triangular) on SGD created without momentum",
         sch("CyclicLR", base_lr=0.01, max_lr=0.1, step_size_up=5), optimizer_args={"lr": 0.1}, cycled=True))

add(case("OneCycleLR(max_lr=0.1, total_steps=80)", sch("OneCycleLR", max_lr=0.1, total_steps=80), cycled=True))
add(case("OneCycleLR(linear)", sch("OneCycleLR", max_lr=[0.1, 0.05], total_steps=80, anneal_strategy="linear"),
         cycled=True))
add(case("OneCycleLR(three_phase)", sch("OneCycleLR", max_lr=[0.1, 0.05], total_steps=80, three_phase=True),
         cycled=True))
add(case("OneCycleLR(three_phase, linear, pct_start=0.25)",
         sch("OneCycleLR", max_lr=0.1, total_steps=80, three_phase=True, anneal_strategy="linear", pct_start=0.25),
         cycled=True))
add(case("OneCycleLR(epochs=8, steps_per_epoch=10, div_factor=10, final_div_factor=100)",
         sch("OneCycleLR", max_lr=0.2, epochs=8, steps_per_epoch=10, div_factor=10.0, final_div_factor=100.0,
             base_momentum=[0.8, 0.85], max_momentum=[0.9, 0.95]), cycled=True))
add(case("OneCycleLR(cycle_momentum=False)", sch("OneCycleLR", max_lr=0.1, total_steps=80, cycle_momentum=False),
         cycled=True))
add(case("OneCycleLR on Adam cycles betas[0]", sch("OneCycleLR", max_lr=[0.01, 0.005], total_steps=80),
         optimizer="Adam", optimizer_args={"lr": 0.001}, groups=[{"lr": 0.001}, {"lr": 0.002}], cycled=True))

add(case("SWALR(swa_lr=0.01)", sch("SWALR", swa_lr=0.01)))
add(case("SWALR(swa_lr=[0.01, 0.02], anneal_epochs=5, linear)",
         sch("SWALR", swa_lr=[0.01, 0.02], anneal_epochs=5, anneal_strategy="linear")))
add(case("SWALR(anneal_epochs=0)", sch("SWALR", swa_lr=0.03, anneal_epochs=0)))
add(case("CosineAnnealingLR(40) then SWALR(0.02) at 25",
         sch("CosineAnnealingLR", T_max=40), then={"at": 25, "scheduler": sch("SWALR", swa_lr=0.02, anneal_epochs=8)}))


def write_cases(cases, file_name):
    """Writes recorded cases (unique names) as a fixture next to this script, one case per line."""
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    path = os.path.join(HERE, file_name)
    with open(path, "w") as f:
        f.write('{"torch_version": %s, "cases": [\n' % json.dumps(torch.__version__))
        f.write(",\n".join(json.dumps(c, separators=(",", ":")) for c in cases))
        f.write("\n]}\n")
    print("wrote %d cases to %s" % (len(cases), path))


def main():
    write_cases([run(c) for c in CASES], "schedulers.json")


if __name__ == "__main__":
    main()
