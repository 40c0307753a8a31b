#!/usr/bin/env python3
"""Times Optim's in-place Optimizer.Step() against PyTorch 1.13's optimizer.step() on the same shapes, in
one run, and prints a markdown table with the memory-bandwidth floor and the ratios.

Run from the repository root with Debian's interpreter (it has torch):
    /usr/bin/python3 bench/compare.py [--numel 16000000] [--tensors 1 1000] [--optimizers sgd adam ...]
By default it covers every elementwise optimizer (Adafactor included; PyTorch 1.13 has none, so its PyTorch
columns read n/a).
It builds bench/Optim.Bench in Release first. `dotnet fsi build.fsx bench` does the same.
"""
import argparse
import json
import subprocess
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--numel", type=int, default=16_000_000)
ap.add_argument("--tensors", type=int, nargs="+", default=[1, 1000])
ap.add_argument("--optimizers", nargs="+",
                default=["sgd", "adam", "adamw", "adagrad", "rmsprop", "adadelta", "adamax", "nadam", "radam", "asgd",
                         "rprop", "adafactor"])
ap.add_argument("--repeats", type=int, default=20)
ap.add_argument("--threads", type=int, default=2, help="PyTorch intra-op threads")
args = ap.parse_args()

subprocess.run(["dotnet", "build", "bench/Optim.Bench", "-c", "Release", "-v", "q", "-nologo"], check=True,
               stdout=subprocess.DEVNULL)
dll = "bench/Optim.Bench/bin/Release/net10.0/Optim.Bench.dll"


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


rows = []
for opt in args.optimizers:
    for t in args.tensors:
        common = ["--optimizer", opt, "--numel", str(args.numel), "--tensors", str(t), "--repeats", str(args.repeats)]
        ours = run(["dotnet", dll] + common)
        torch = run([sys.executable, "bench/torch_step.py"] + common + ["--threads", str(args.threads)])
        rows.append((opt, t, ours, torch))
        print(f"# {opt} x{t}: optim {ours['median_ms']} ms, torch {torch['median_ms']} ms", file=sys.stderr)

print(f"numel = {args.numel:,} float32 params; median of {args.repeats} steps; PyTorch {args.threads} threads; Optim "
      "shares a step between the caller and one worker thread (a tensor of 2^20 elements or more in chunks, smaller "
      "ones whole)")
print(f"floor = bytes the kernel must move / copy bandwidth; copy: {rows[0][2]['copy_method']}, in the same process\n")
print("| optimizer | tensors | copy GB/s | floor ms | Optim ms | Optim / floor | PyTorch 1.13 ms | PyTorch / Optim | Optim bytes allocated per step |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for opt, t, ours, torch in rows:
    theirs = "n/a" if torch["median_ms"] is None else f"{torch['median_ms']:.1f}"
    ratio = "n/a" if torch["median_ms"] is None else f"{torch['median_ms'] / ours['median_ms']:.2f}"
    print(f"| {opt} | {t} | {ours['copy_GBps']:.1f} | {ours['floor_ms']:.1f} | {ours['median_ms']:.1f} | "
          f"{ours['over_floor']:.2f} | {theirs} | {ratio} | {ours['alloc_bytes_per_step']} |")
