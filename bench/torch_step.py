# Times one PyTorch 1.13 optimizer step on CPU, for comparison with the .NET bench.
#
# Run with the Debian interpreter that ships torch 1.13 (the pyenv `python3`
# on PATH has no torch):
#
#     /usr/bin/python3 bench/torch_step.py --optimizer adam --numel 16000000 \
#         --tensors 1000 --repeats 20 --warmup 3 --threads 2
#
# Builds `tensors` float32 params whose sizes sum to `numel` (split as evenly as
# possible), sets random gradients once, runs `warmup` untimed steps, then times
# `repeats` steps with time.perf_counter and prints ONE JSON line on stdout:
#   {"impl":"torch-1.13","optimizer":..,"numel":..,"tensors":..,"threads":..,
#    "median_ms":..,"min_ms":..,"mean_ms":..,"repeats":..,"warmup":..,"foreach":..}
# Progress / diagnostics go to stderr only.
#
# Adafactor is PyTorch 2.x's; torch 1.13 has none, so for `--optimizer adafactor`
# nothing is timed: the line has "median_ms": null and a "note" saying why.
# (tests/golden/generate_adafactor.py re-implements 2.x's algorithm in 1.13
# ops for the fixtures, but its speed would not be PyTorch's.)

import argparse
import json
import statistics
import sys
import time

import torch

# name -> (class, constructor kwargs)
OPTIMIZERS = {
    "sgd": (torch.optim.SGD, dict(lr=0.01, momentum=0.9)),
    "sgd-wd": (torch.optim.SGD, dict(lr=0.01, momentum=0.9, weight_decay=5e-4)),
    "adam": (torch.optim.Adam, {}),
    "adam-wd": (torch.optim.Adam, dict(weight_decay=1e-2)),
    "adamw": (torch.optim.AdamW, {}),
    "adagrad": (torch.optim.Adagrad, {}),
    "rmsprop": (torch.optim.RMSprop, {}),
    "adadelta": (torch.optim.Adadelta, {}),
    "adamax": (torch.optim.Adamax, {}),
    "nadam": (torch.optim.NAdam, {}),
    "radam": (torch.optim.RAdam, {}),
    "rprop": (torch.optim.Rprop, {}),
    "asgd": (torch.optim.ASGD, {}),
}

# Optimizers the bench knows that this torch lacks.
NOT_IN_TORCH = {"adafactor": "torch.optim.Adafactor is PyTorch 2.x; torch %s has none" % torch.__version__}


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description="Time torch.optim <optimizer>.step() on CPU.")
    ap.add_argument("--optimizer", default="adam", choices=sorted(list(OPTIMIZERS) + list(NOT_IN_TORCH)))
    ap.add_argument("--numel", type=int, default=16_000_000, help="total parameter elements")
    ap.add_argument("--tensors", type=int, default=1, help="number of parameter tensors")
    ap.add_argument("--repeats", type=int, default=10, help="timed steps")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps before timing")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    ap.add_argument("--foreach", choices=["none", "true", "false"], default="none",
                    help="pass foreach=True/False to the optimizer (default: not passed; "
                         "1.13 then uses the single-tensor loop)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    if a.numel < 1 or a.tensors < 1 or a.tensors > a.numel:
        ap.error("need 1 <= tensors <= numel")
    if a.repeats < 1 or a.warmup < 0 or a.threads < 1:
        ap.error("need repeats >= 1, warmup >= 0, threads >= 1")
    return a


def sizes(numel, tensors):
    base, rem = divmod(numel, tensors)
    return [base + 1 if i < rem else base for i in range(tensors)]


def main(argv=None):
    a = parse_args(argv)
    if a.optimizer in NOT_IN_TORCH:
        print(json.dumps({"impl": "torch-" + ".".join(torch.__version__.split(".")[:2]), "optimizer": a.optimizer,
                          "numel": a.numel, "tensors": a.tensors, "threads": a.threads, "median_ms": None,
                          "min_ms": None, "mean_ms": None, "note": NOT_IN_TORCH[a.optimizer]}), flush=True)
        return
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    params = []
    for n in sizes(a.numel, a.tensors):
        p = torch.nn.Parameter(torch.randn(n, dtype=torch.float32))
        p.grad = torch.randn(n, dtype=torch.float32)
        params.append(p)

    cls, kwargs = OPTIMIZERS[a.optimizer]
    kwargs = dict(kwargs)
    if a.foreach != "none":
        kwargs["foreach"] = a.foreach == "true"
    opt = cls(params, **kwargs)

    for _ in range(a.warmup):
        opt.step()

    times = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        opt.step()
        times.append((time.perf_counter() - t0) * 1e3)

    out = {
        "impl": "torch-" + ".".join(torch.__version__.split(".")[:2]),
        "optimizer": a.optimizer,
        "numel": a.numel,
        "tensors": a.tensors,
        "threads": a.threads,
        "median_ms": round(statistics.median(times), 4),
        "min_ms": round(min(times), 4),
        "mean_ms": round(statistics.fmean(times), 4),
        "repeats": a.repeats,
        "warmup": a.warmup,
        "foreach": None if a.foreach == "none" else a.foreach == "true",
    }
    print("torch %s, %d intra-op threads" % (torch.__version__, torch.get_num_threads()), file=sys.stderr)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
