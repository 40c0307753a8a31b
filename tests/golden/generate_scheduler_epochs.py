# Golden learning rates for scheduler.step(epoch), PyTorch 1.13's deprecated closed-form path (and
# CosineAnnealingWarmRestarts' fractional epochs, which are not deprecated).
#
#     /usr/bin/python3 tests/golden/generate_scheduler_epochs.py
#
# It writes scheduler_epochs.json next to itself.  Specs (optimizer, groups, scheduler) are those of
# generate_schedulers.py, whose builders it reuses.
#
# CASE (one per line), as in schedulers.json except:
#   epochs      one entry per step: null for scheduler.step(), a number for scheduler.step(epoch)
#               (ReduceLROnPlateau: step(metrics[k]) or step(metrics[k], epoch)).  Epochs may go back.
#               An integral epoch is written as an integer (PyTorch prints "%.5d" for it, "%.2f" for a float).
#   lrs         len(epochs)+1 rows: after construction, then after each step
#   last_epoch  len(epochs)+1 values of scheduler.last_epoch (null for ChainedScheduler, which has none in 1.13)
#   deprecation_warnings  how many times PyTorch warned EPOCH_DEPRECATION_WARNING (every call, with "always";
#               the steps above only, not resume's)
#   messages    what verbose=True printed
#   resume      optional: state-dict round trips.  After the steps above, a second optimizer over the same groups
#               and a scheduler built from resume["scheduler"] (the same kind, other arguments) load the first
#               ones' state dicts (optimizer first), then both take resume["epochs"] steps (metrics: resume["metrics"]).
#               resume["lrs"]: the second optimizer's rates after loading, then after each step (and, for
#               cyclic cases, resume["momentum"] the same rows of its momentum);
#               resume["same_as_saved"]: whether the first scheduler, stepped on, set the same rates (false where
#               PyTorch does not save a hyperparameter, as plain lr_lambda functions).

import contextlib
import io
import json
import os
import types
import warnings

import torch
from torch.optim import lr_scheduler as S

from generate_schedulers import SGD_M, TWO, make_scheduler, plateau_metrics, sch, write_cases

HERE = os.path.dirname(os.path.abspath(__file__))


def run(case):
    opt_cls = {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam}[case["optimizer"]]
    groups = [{"params": [torch.zeros(1, requires_grad=True)], **g} for g in case["groups"]]
    opt = opt_cls(groups, **case["optimizer_args"])
    out = io.StringIO()
    lrs, moms, epochs = [], [], []

    def record():
        lrs.append([g["lr"] for g in opt.param_groups])
        moms.append([g.get("momentum", 0.0) for g in opt.param_groups])
        epochs.append(getattr(sched, "last_epoch", None))   # ChainedScheduler has none in 1.13

    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out):
        warnings.simplefilter("always")
        sched = make_scheduler(opt, case["scheduler"])
        record()
        for k, epoch in enumerate(case["epochs"]):
            opt.step()
            if "metrics" in case:
                sched.step(case["metrics"][k], epoch)
            elif epoch is None:
                sched.step()   # SequentialLR and ChainedScheduler take no epoch
                assert sched.get_last_lr() == [g["lr"] for g in opt.param_groups]
            else:
                sched.step(epoch)
                assert sched.get_last_lr() == [g["lr"] for g in opt.param_groups]
            record()
        deprecations = sum(1 for w in caught if str(w.message) == S.EPOCH_DEPRECATION_WARNING)
        resume = case.get("resume")
        if resume is not None:
            opt2 = opt_cls([{"params": [torch.zeros(1, requires_grad=True)], **g} for g in case["groups"]],
                           **case["optimizer_args"])
            sched2 = make_scheduler(opt2, resume["scheduler"])
            opt2.load_state_dict(opt.state_dict())
            sched2.load_state_dict(sched.state_dict())
            rows, same = [[g["lr"] for g in opt2.param_groups]], True
            moms2 = [[g.get("momentum", 0.0) for g in opt2.param_groups]]
            for k, epoch in enumerate(resume["epochs"]):
                for o, s in ((opt, sched), (opt2, sched2)):
                    o.step()
                    if "metrics" in resume:
                        s.step(resume["metrics"][k], epoch)
                    elif epoch is None:
                        s.step()
                    else:
                        s.step(epoch)
                rows.append([g["lr"] for g in opt2.param_groups])
                moms2.append([g.get("momentum", 0.0) for g in opt2.param_groups])
                same = same and rows[-1] == [g["lr"] for g in opt.param_groups]
            resume = dict(resume, lrs=rows, same_as_saved=same)
            if hasattr(sched, "lr_lambdas"):
                # what PyTorch saved of the functions (null for a plain one, a callable object's __dict__), and what
                # the resumed scheduler's objects hold at the end
                resume["lr_lambdas"] = sched.state_dict()["lr_lambdas"]
                resume["lr_lambdas_after"] = [None if isinstance(f, types.FunctionType) else dict(f.__dict__)
                                              for f in sched2.lr_lambdas]
            if case.get("cycled"):
                resume["momentum"] = moms2

    result = dict(case)
    result["lrs"] = lrs
    result["last_epoch"] = epochs
    if result.pop("cycled", None):
        result["momentum"] = moms
    result["messages"] = out.getvalue().splitlines()
    result["deprecation_warnings"] = deprecations
    if resume is not None:
        result["resume"] = resume
    return result


def case(name, spec, epochs, groups=TWO, optimizer_args=SGD_M, **extra):
    c = {"name": name, "optimizer": "SGD", "optimizer_args": optimizer_args, "groups": groups,
         "scheduler": spec, "epochs": epochs}
    c.update(extra)
    return c


N = None
# Forward, a jump ahead, plain steps from there, back to an earlier epoch, and back to 0.
JUMPS = [N, N, 5, 6, N, N, 2, N, 12, N, N, 0, N, 20, 3, N]

CASES = []
add = CASES.append
add(case("StepLR(step_size=3, gamma=0.5)", sch("StepLR", step_size=3, gamma=0.5), JUMPS))
add(case("StepLR(step_size=3) verbose", sch("StepLR", step_size=3, verbose=True), [N, 4, N, 1]))
add(case("StepLR(step_size=5) resumed at last_epoch=9", sch("StepLR", step_size=5, gamma=0.5, last_epoch=9),
         [N, 12, N, 30, 7],
         groups=[{"lr": 0.1, "initial_lr": 0.2}, {"lr": 0.05, "initial_lr": 0.1}]))
add(case("MultiStepLR([2,5,5,8], gamma=0.5)", sch("MultiStepLR", milestones=[2, 5, 5, 8], gamma=0.5),
         JUMPS + [5, 4, 8, 7, N]))
add(case("ConstantLR(factor=0.5, total_iters=4)", sch("ConstantLR", factor=0.5, total_iters=4), JUMPS))
add(case("LinearLR(start_factor=0.25, total_iters=6)", sch("LinearLR", start_factor=0.25, total_iters=6), JUMPS))
add(case("LinearLR(1.0, 0.2, 8)", sch("LinearLR", start_factor=1.0, end_factor=0.2, total_iters=8), JUMPS))
add(case("ExponentialLR(0.9)", sch("ExponentialLR", gamma=0.9), JUMPS))
add(case("PolynomialLR(total_iters=6, power=2.0)", sch("PolynomialLR", total_iters=6, power=2.0), JUMPS))
add(case("CosineAnnealingLR(T_max=10, eta_min=0.001)", sch("CosineAnnealingLR", T_max=10, eta_min=0.001),
         JUMPS + [9, N, N, N, 15, N, N]))
add(case("LambdaLR(warmup10)", sch("LambdaLR", lr_lambda="warmup10"), JUMPS))
add(case("LambdaLR([step20, exp95])", sch("LambdaLR", lr_lambda=["step20", "exp95"]), JUMPS + [45, N, 19]))
add(case("MultiplicativeLR([const95, halve_every10])",
         sch("MultiplicativeLR", lr_lambda=["const95", "halve_every10"]), JUMPS + [10, 10, 0, 30]))
add(case("CyclicLR(triangular2, up 4, down 6)",
         sch("CyclicLR", base_lr=0.01, max_lr=[0.1, 0.05], step_size_up=4, step_size_down=6, mode="triangular2"),
         JUMPS + [33, N, 17], cycled=True))
add(case("OneCycleLR(max_lr=0.1, total_steps=30)", sch("OneCycleLR", max_lr=0.1, total_steps=30),
         JUMPS + [29, 30, 10, N], cycled=True))
add(case("SWALR(swa_lr=0.01, anneal_epochs=5) ignores the epoch", sch("SWALR", swa_lr=0.01, anneal_epochs=5),
         [N, 7, N, 0, 100, N, N, 3]))

# Warm restarts within epochs: scheduler.step(epoch + i / iters), as PyTorch's documentation does.
WITHIN = [e + i / 4 for e in range(9) for i in range(4)]
add(case("CosineAnnealingWarmRestarts(T_0=3) stepped per batch",
         sch("CosineAnnealingWarmRestarts", T_0=3, eta_min=0.001), WITHIN + [N, N, N, 1.5, N, 0.1, 7.75, N]))
add(case("CosineAnnealingWarmRestarts(T_0=2, T_mult=2) stepped per batch",
         sch("CosineAnnealingWarmRestarts", T_0=2, T_mult=2), [e + i / 3 for e in range(16) for i in range(3)]))
add(case("CosineAnnealingWarmRestarts(T_0=3, T_mult=3, eta_min=0.001) at restarts, back and forth",
         sch("CosineAnnealingWarmRestarts", T_0=3, T_mult=3, eta_min=0.001),
         [N, N, 3, N, 12, 11.999, 39, 120, 363, N, N, 2.5, N, N, 0, N, 1091, 1093.5, 5.25, N, 364.75]))
add(case("CosineAnnealingWarmRestarts(T_0=4, T_mult=2) exact restarts",
         sch("CosineAnnealingWarmRestarts", T_0=4, T_mult=2), [4, 12, 28, 60, 124, 252, 508, 1020, 2044, 4092, 8188, N]))
add(case("CosineAnnealingWarmRestarts(T_0=10) resumed at last_epoch=5",
         sch("CosineAnnealingWarmRestarts", T_0=10, last_epoch=5), [N, 31.5, N, N, N, 9.5, N],
         groups=[{"lr": 0.1, "initial_lr": 0.2}, {"lr": 0.05, "initial_lr": 0.1}]))
add(case("CosineAnnealingWarmRestarts(T_0=2, T_mult=2) verbose",
         sch("CosineAnnealingWarmRestarts", T_0=2, T_mult=2, verbose=True), [N, 0.5, 3, N, 6.25, 1]))

M = plateau_metrics()[:30]
add(case("ReduceLROnPlateau(patience=2, verbose) with epochs",
         sch("ReduceLROnPlateau", factor=0.5, patience=2, verbose=True),
         [N, N, 7, N, N, 3, 3, 3, N, N, 100, N, N, N, 0, N, N, N, N, N, 50, N, N, N, N, N, N, N, N, N], metrics=M))


def resumed(name, saved, other, before, after, **extra):
    add(case(name, saved, before, resume={"scheduler": other, "epochs": after}, **extra))


PLAIN = [N] * 12
resumed("StepLR(3, 0.5) loaded into StepLR(10, 0.9)", sch("StepLR", step_size=3, gamma=0.5),
        sch("StepLR", step_size=10, gamma=0.9), [N] * 7, PLAIN + [4, N])
resumed("MultiStepLR([2,5,5,8], 0.5) loaded into MultiStepLR([30])", sch("MultiStepLR", milestones=[2, 5, 5, 8], gamma=0.5),
        sch("MultiStepLR", milestones=[30]), [N] * 3, PLAIN + [1, N, N])
resumed("ConstantLR(0.5, 6) loaded into ConstantLR(0.25, 2)", sch("ConstantLR", factor=0.5, total_iters=6),
        sch("ConstantLR", factor=0.25, total_iters=2), [N] * 3, PLAIN)
resumed("LinearLR(0.25, 1.0, 8) loaded into LinearLR(0.5, 0.5, 3)", sch("LinearLR", start_factor=0.25, total_iters=8),
        sch("LinearLR", start_factor=0.5, end_factor=0.5, total_iters=3), [N] * 4, PLAIN)
resumed("ExponentialLR(0.9) loaded into ExponentialLR(0.5)", sch("ExponentialLR", gamma=0.9),
        sch("ExponentialLR", gamma=0.5), [N] * 4, PLAIN + [2, N])
resumed("PolynomialLR(8, 2.0) loaded into PolynomialLR(3, 1.0)", sch("PolynomialLR", total_iters=8, power=2.0),
        sch("PolynomialLR", total_iters=3, power=1.0), [N] * 3, PLAIN)
resumed("CosineAnnealingLR(10, 0.001) loaded into CosineAnnealingLR(3)", sch("CosineAnnealingLR", T_max=10, eta_min=0.001),
        sch("CosineAnnealingLR", T_max=3), [N] * 4, PLAIN + [PLAIN[0]] * 10)
resumed("CosineAnnealingWarmRestarts(3, 2, 0.001) at 7.25 loaded into CosineAnnealingWarmRestarts(5)",
        sch("CosineAnnealingWarmRestarts", T_0=3, T_mult=2, eta_min=0.001), sch("CosineAnnealingWarmRestarts", T_0=5),
        [N, 2.5, 7.25], PLAIN + [PLAIN[0]] * 20 + [12.5, N, N])
resumed("LambdaLR(warmup10) loaded into LambdaLR(exp95) keeps its own function",
        sch("LambdaLR", lr_lambda="warmup10"), sch("LambdaLR", lr_lambda="exp95"), [N] * 4, PLAIN)
resumed("LambdaLR(Warmup(10) object) loaded into LambdaLR(Warmup(3) object) takes its state",
        sch("LambdaLR", lr_lambda="warmup_object10"), sch("LambdaLR", lr_lambda="warmup_object3"), [N] * 4, PLAIN)
resumed("LambdaLR([step20, Warmup(10) object]) loaded into LambdaLR([exp95, Warmup(3) object])",
        sch("LambdaLR", lr_lambda=["step20", "warmup_object10"]), sch("LambdaLR", lr_lambda=["exp95", "warmup_object3"]),
        [N] * 5, PLAIN)
resumed("MultiplicativeLR(Shrinking(0.9, 0.98) object) loaded into MultiplicativeLR(Shrinking(0.5, 0.5) object)",
        sch("MultiplicativeLR", lr_lambda="shrinking"), sch("MultiplicativeLR", lr_lambda="shrinking_other"), [N] * 6, PLAIN)
resumed("SWALR(0.01, 5, linear) loaded into SWALR(0.05, 10, cos)",
        sch("SWALR", swa_lr=0.01, anneal_epochs=5, anneal_strategy="linear"), sch("SWALR", swa_lr=0.05), [N] * 2, PLAIN)
resumed("SequentialLR([LinearLR(0.1, 5), ExponentialLR(0.9)], [5]) loaded into ([LinearLR(0.5, 2), ExponentialLR(0.5)], [2])",
        sch("SequentialLR", schedulers=[sch("LinearLR", start_factor=0.1, total_iters=5), sch("ExponentialLR", gamma=0.9)],
            milestones=[5]),
        sch("SequentialLR", schedulers=[sch("LinearLR", start_factor=0.5, total_iters=2), sch("ExponentialLR", gamma=0.5)],
            milestones=[2]), [N] * 3, PLAIN)
resumed("ChainedScheduler([ConstantLR(0.1, 4), ExponentialLR(0.9)]) loaded into ([ConstantLR(0.5, 1), ExponentialLR(0.5)])",
        sch("ChainedScheduler", schedulers=[sch("ConstantLR", factor=0.1, total_iters=4), sch("ExponentialLR", gamma=0.9)]),
        sch("ChainedScheduler", schedulers=[sch("ConstantLR", factor=0.5, total_iters=1), sch("ExponentialLR", gamma=0.5)]),
        [N] * 2, PLAIN)
resumed("CyclicLR(triangular2, up 4, down 6) loaded into CyclicLR(exp_range, up 10, other momenta)",
        sch("CyclicLR", base_lr=0.01, max_lr=[0.1, 0.05], step_size_up=4, step_size_down=6, mode="triangular2"),
        sch("CyclicLR", base_lr=0.02, max_lr=0.2, step_size_up=10, mode="exp_range", gamma=0.9,
            base_momentum=0.7, max_momentum=0.95), [N] * 5, [N] * 30, cycled=True)
resumed("CyclicLR(cycle_momentum=False) loaded into CyclicLR()",
        sch("CyclicLR", base_lr=[0.01, 0.02], max_lr=0.1, step_size_up=3, cycle_momentum=False),
        sch("CyclicLR", base_lr=0.05, max_lr=0.5, step_size_up=7), [N] * 4, [N] * 20, cycled=True)
resumed("OneCycleLR(0.1, 30) loaded into OneCycleLR(0.5, 100, three_phase, linear)",
        sch("OneCycleLR", max_lr=0.1, total_steps=30),
        sch("OneCycleLR", max_lr=0.5, total_steps=100, three_phase=True, anneal_strategy="linear"),
        [N] * 10, [N] * 20, cycled=True)
PM = plateau_metrics()
add(case("ReduceLROnPlateau(max, abs, patience=2, cooldown=1, min_lr per group) loaded into ReduceLROnPlateau()",
         sch("ReduceLROnPlateau", mode="max", factor=0.5, patience=2, threshold=0.001, threshold_mode="abs", cooldown=1,
             min_lr=[2e-3, 4e-3]),
         [N] * 12, metrics=[2.0 - x for x in PM[:12]],
         resume={"scheduler": sch("ReduceLROnPlateau"), "epochs": [N] * 60, "metrics": [2.0 - x for x in PM[12:72]]}))


def main():
    write_cases([run(c) for c in CASES], "scheduler_epochs.json")


if __name__ == "__main__":
    main()
