#!/usr/bin/env python3
"""Trains the MLP 784-128-10 on Fashion-MNIST (Adam lr 1e-3, batch 64) with Optim.NN and with PyTorch 1.13 in one
run, one after the other on the same machine, and prints a markdown table of seconds per epoch and test accuracy.

Run from the repository root with Debian's interpreter (it has torch):
    /usr/bin/python3 bench/mlp_compare.py [--epochs 5] [--data DIR] [--seed 0]
It builds bench/Optim.MlpBench in Release first. Both use two threads (PyTorch: torch.set_num_threads(2); Optim.NN:
the caller and one worker thread for large matrix products).
"""
import argparse
import json
import subprocess
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--epochs", type=int, default=5)
ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
ap.add_argument("--seed", type=int, default=0)
args = ap.parse_args()

subprocess.run(["dotnet", "build", "bench/Optim.MlpBench", "-c", "Release", "-v", "q", "-nologo"], check=True,
               stdout=subprocess.DEVNULL)
common = ["--epochs", str(args.epochs), "--data", args.data, "--seed", str(args.seed)]


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


ours = run(["dotnet", "bench/Optim.MlpBench/bin/Release/net10.0/Optim.MlpBench.dll"] + common)
print(f"# Optim.NN: {ours}", file=sys.stderr)
torch = run([sys.executable, "bench/mlp_torch.py"] + common + ["--threads", "2"])
print(f"# PyTorch: {torch}", file=sys.stderr)

print(f"MLP 784-128-10 on Fashion-MNIST (60,000 training images), Adam lr 1e-3, batch 64, {args.epochs} epochs, "
      "2 threads each; s/epoch: mean over the epochs of the training loop (batching, forward, backward, step)\n")
print(f"| epochs | Optim.NN s/epoch | {torch['framework']} s/epoch | PyTorch / Optim.NN | Optim.NN test accuracy | PyTorch test accuracy |")
print("|---:|---:|---:|---:|---:|---:|")
print(f"| {args.epochs} | {ours['seconds_per_epoch']:.2f} | {torch['seconds_per_epoch']:.2f} | "
      f"{torch['seconds_per_epoch'] / ours['seconds_per_epoch']:.2f} | {ours['test_accuracy']:.4f} | {torch['test_accuracy']:.4f} |")
print(f"\nPer epoch (s): Optim.NN {', '.join(f'{x:.2f}' for x in ours['epoch_seconds'])}; "
      f"PyTorch {', '.join(f'{x:.2f}' for x in torch['epoch_seconds'])}")
