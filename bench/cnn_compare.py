#!/usr/bin/env python3
"""Times one training epoch of the CIFAR-10 tutorial's CNN (the demo's) on Fashion-MNIST padded to 32x32,
batch 64, 2 threads, with Optim.NN, PyTorch 1.13 (oneDNN convolutions) and TorchSharp-cpu 0.107 (LibTorch 2.10),
in one run: the three alternate, round after round, and the table reports each one's median seconds per epoch.

Run from the repository root with Debian's interpreter (it has torch):
    /usr/bin/python3 bench/cnn_compare.py [--rounds 1] [--epochs 1] [--optimizer sgd|adam] [--data DIR]
                                          [--train-limit N] [--no-torchsharp]
It builds bench/Optim.CnnBench in Release, and bench/Optim.CnnTorchSharp (benchmark only) into out/cnn-ts, which it
runs through ../shared/anchors/torchsharp/dotnet-ts.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--rounds", type=int, default=1)
ap.add_argument("--epochs", type=int, default=1)
ap.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--train-limit", type=int, default=0)
ap.add_argument("--no-torchsharp", action="store_true")
args = ap.parse_args()

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOTNET_TS = os.path.join(ROOT, "..", "shared", "anchors", "torchsharp", "dotnet-ts")
os.chdir(ROOT)


def build(project, *extra):
    subprocess.run(["dotnet", "build", project, "-c", "Release", "-v", "q", "-nologo", *extra], check=True,
                   stdout=subprocess.DEVNULL)


build("bench/Optim.CnnBench")
use_ts = not args.no_torchsharp and os.path.exists(DOTNET_TS)
if use_ts:
    build("bench/Optim.CnnTorchSharp", "-o", "out/cnn-ts")

common = ["--epochs", str(args.epochs), "--data", args.data, "--seed", str(args.seed), "--optimizer", args.optimizer,
          "--train-limit", str(args.train_limit)]
runners = {
    "Optim.NN": ["dotnet", "bench/Optim.CnnBench/bin/Release/net10.0/Optim.CnnBench.dll"] + common,
    "PyTorch": [sys.executable, "bench/cnn_torch.py", "--threads", "2"] + common,
}
if use_ts:
    runners["TorchSharp"] = [DOTNET_TS, "out/cnn-ts/Optim.CnnTorchSharp.dll", "--threads", "2"] + common


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


results = {name: [] for name in runners}
for r in range(args.rounds):
    for name, cmd in runners.items():
        res = run(cmd)
        print(f"# round {r + 1} {name}: {json.dumps(res)}", file=sys.stderr)
        results[name].append(res)

median = {name: statistics.median(s for res in rs for s in res["epoch_seconds"]) for name, rs in results.items()}
frameworks = {name: rs[0]["framework"] for name, rs in results.items()}
images = results["Optim.NN"][0]["train_images"]
print(f"The CIFAR-10 tutorial's CNN on Fashion-MNIST padded to 32x32 ({images:,} training images per epoch), "
      f"{args.optimizer} (lr {results['Optim.NN'][0]['lr']}), batch 64, 2 threads each; "
      f"median s/epoch over {args.rounds} round(s) of {args.epochs} epoch(s), the frameworks alternating\n")
print("| framework | s/epoch | vs Optim.NN | test accuracy after the last epoch |")
print("|---|---:|---:|---:|")
for name in runners:
    acc = results[name][-1]["test_accuracy"][-1]
    print(f"| {frameworks[name]} | {median[name]:.2f} | {median[name] / median['Optim.NN']:.2f}x | {acc:.4f} |")
