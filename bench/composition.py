#!/usr/bin/env python3
"""The composition benchmark: compiled chains in place and pure, the facade's classes, composed optimizers, gates
(multiSteps, applyIfFinite) and PyTorch 1.13, on the same shapes, in one run; prints the tables of docs/performance.md.

Run from the repository root with Debian's interpreter (it has torch):
    /usr/bin/python3 bench/composition.py [--numel 16000000] [--tensors 1 1000] [--optimizers sgd adam ...]
`dotnet fsi build.fsx bench -- --composition` does the same. The .NET variants of one optimizer alternate step by step in
one process (bench/Optim.CompositionBench); PyTorch runs in its own process (bench/torch_step.py) right after.
"""
import argparse
import json
import subprocess
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--numel", type=int, default=16_000_000)
ap.add_argument("--tensors", type=int, nargs="+", default=[1, 1000])
ap.add_argument("--optimizers", nargs="+", default=["sgd", "sgd-wd", "adam", "adam-wd", "adamw", "rmsprop", "adagrad", "nadam", "radam"])
ap.add_argument("--repeats", type=int, default=15)
ap.add_argument("--threads", type=int, default=2, help="PyTorch intra-op threads")
args = ap.parse_args()

subprocess.run(["dotnet", "build", "bench/Optim.CompositionBench", "-c", "Release", "-v", "q", "-nologo"], check=True,
               stdout=subprocess.DEVNULL)
dll = "bench/Optim.CompositionBench/bin/Release/net10.0/Optim.CompositionBench.dll"


def lines(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [json.loads(l) for l in out.strip().splitlines() if l.startswith("{")]


def ms(x):
    return "n/a" if x is None else f"{x:.1f}"


rows, extra = [], []
for opt in args.optimizers:
    for t in args.tensors:
        common = ["--optimizer", opt, "--numel", str(args.numel), "--tensors", str(t), "--repeats", str(args.repeats)]
        ours = {d["variant"]: d for d in lines(["dotnet", dll] + common)}
        torch = lines([sys.executable, "bench/torch_step.py"] + common + ["--threads", str(args.threads)])[-1]
        rows.append((opt, t, ours, torch))
        print(f"# {opt} x{t}: " + ", ".join(f"{k} {v['median_ms']} ms" for k, v in ours.items()) +
              f", torch {torch['median_ms']} ms", file=sys.stderr)

print(f"{args.numel:,} float32 parameters as 1 tensor and as 1,000; median of {args.repeats} steps; the .NET variants "
      f"of one optimizer alternate step by step in one process; PyTorch 1.13 on {args.threads} threads.\n")
print("| optimizer | tensors | compiled chain ms | chain B/step | pure step ms | pure / in place | facade class ms | "
      "composed ms | composed / class | PyTorch ms | PyTorch / chain |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
gates = []
for opt, t, o, torch in rows:
    c, p, cls = o["chain"]["median_ms"], o["chain-pure"]["median_ms"], o["facade"]["median_ms"]
    comp = o.get("composed", {}).get("median_ms")
    tm = torch["median_ms"]
    print(f"| {opt} | {t} | {ms(c)} | {o['chain']['alloc_bytes_per_step']} | {ms(p)} | {p / c:.2f} | "
          f"{ms(cls)} | {ms(comp)} | {'n/a' if comp is None else f'{comp / cls:.2f}'} | {ms(tm)} | "
          f"{'n/a' if tm is None else f'{tm / c:.2f}'} |")
    if "multi-steps-4" in o:
        gates.append((t, o))
    if "user-chain" in o:
        extra.append((opt, t, o))
if extra:
    print("\nA user chain, `clipByGlobalNorm → scaleByAdam → scaleByLearningRate → decoupledWeightDecay`, as a "
          "`ComposedOptimizer`, against a read of every gradient (Σx², two threads: the least a norm costs) plus the "
          "built-in AdamW of the same run:\n")
    print("| tensors | norm pass ms | AdamW ms | norm pass + AdamW ms | user chain ms | user chain / (norm + AdamW) | user chain B/step |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for opt, t, o in extra:
        n, a, u = o["norm-pass"]["median_ms"], o["facade"]["median_ms"], o["user-chain"]["median_ms"]
        print(f"| {t} | {ms(n)} | {ms(a)} | {ms(n + a)} | {ms(u)} | {u / (n + a):.2f} | {o['user-chain']['alloc_bytes_per_step']} |")
if gates:
    print("\nGates around Adam, in place: `multiSteps 4` (four calls: three accumulations and one step on the mean) and "
          "`applyIfFinite`, against Adam's compiled chain and a read of every gradient (one extra pass) of the same run:\n")
    print("| tensors | Adam ms | one pass ms | multiSteps 4: four calls ms | an accumulating call ms | the stepping call ms | "
          "stepping call − Adam ms | four calls B | applyIfFinite ms | applyIfFinite − Adam ms | applyIfFinite B/step |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for t, o in gates:
        a, n = o["chain"]["median_ms"], o["norm-pass"]["median_ms"]
        m, f = o["multi-steps-4"]["median_ms"], o["apply-if-finite"]["median_ms"]
        acc, st = o["multi-steps-4-accumulate"]["median_ms"], o["multi-steps-4-step"]["median_ms"]
        print(f"| {t} | {ms(a)} | {ms(n)} | {ms(m)} | {ms(acc)} | {ms(st)} | {ms(st - a)} | "
              f"{o['multi-steps-4']['alloc_bytes_per_step']} | {ms(f)} | {ms(f - a)} | {o['apply-if-finite']['alloc_bytes_per_step']} |")
