#!/usr/bin/env python3
"""Times one Muon step of Optim (bench/Optim.MuonBench) and of the PyTorch 1.13 transcription of PyTorch 2.9's Muon
(bench/muon_torch.py) on the same square matrices, in one run, and prints a markdown table: the step times, the
Newton-Schulz iteration's rate in GFLOP/s (its products only: 5 steps of 4·m²·n + 2·m³ for an m×n input, m ≤ n) and
that rate against the two cores' AVX2 peak (2 cores × 32 float32 FLOP per cycle × 2.6 GHz = 166 GFLOP/s, as
docs/performance.md states it for the GEMM) and their AVX-512 peak (332 GFLOP/s), which the GEMM's 6×32 micro-kernel
uses where the processor has it.

Run from the repository root with Debian's interpreter (it has torch):
    /usr/bin/python3 bench/muon_compare.py [--sizes 1024 4096]
A 4096×4096 step of the transcription takes minutes (Debian's PyTorch multiplies with the reference BLAS), so it is
timed once; every other timing is a median (the counts are in the table).
"""
import argparse
import json
import subprocess
import sys

PEAK = 166.0
PEAK_512 = 332.0

ap = argparse.ArgumentParser()
ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096])
ap.add_argument("--threads", type=int, default=2, help="PyTorch intra-op threads")
args = ap.parse_args()

subprocess.run(["dotnet", "build", "bench/Optim.MuonBench", "-c", "Release", "-v", "q", "-nologo"], check=True,
               stdout=subprocess.DEVNULL)
dll = "bench/Optim.MuonBench/bin/Release/net10.0/Optim.MuonBench.dll"


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


rows = []
for size in args.sizes:
    big = size >= 4096
    shape = ["--rows", str(size), "--cols", str(size)]
    ours = run(["dotnet", dll] + shape + ["--repeats", "3" if big else "7", "--warmup", "1" if big else "2"])
    print(f"# {size}: optim {ours['median_ms']} ms", file=sys.stderr)
    torch = run([sys.executable, "bench/muon_torch.py"] + shape + ["--repeats", "1" if big else "3", "--warmup", "0" if big else "1",
                                                                  "--threads", str(args.threads)])
    print(f"# {size}: torch {torch['median_ms']} ms", file=sys.stderr)
    rows.append((size, ours, torch))

print(f"One Muon step (torch.optim.Muon's defaults, Nesterov, 5 Newton-Schulz steps) on one float32 matrix; Optim on "
      f"its two threads, PyTorch {args.threads} threads; GFLOP/s counts the iteration's products only; peak {PEAK:.0f} GFLOP/s "
      f"(AVX2), {PEAK_512:.0f} (AVX-512)\n")
print("| matrix | GFLOP per step | Optim s (median of) | Optim GFLOP/s | of AVX2 peak | of AVX-512 peak | PyTorch 1.13 s (median of) | PyTorch GFLOP/s | PyTorch / Optim | Optim bytes allocated per step |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for size, ours, torch in rows:
    gflop = ours["ns_gflop_per_step"]
    theirs = torch["median_ms"] / 1e3
    print(f"| {size}×{size} | {gflop:.1f} | {ours['median_ms'] / 1e3:.3f} ({ours['repeats']}) | {ours['gflops']:.1f} | "
          f"{100 * ours['gflops'] / PEAK:.0f}% | {100 * ours['gflops'] / PEAK_512:.0f}% | {theirs:.2f} ({torch['repeats']}) | {gflop / theirs:.1f} | "
          f"{theirs / (ours['median_ms'] / 1e3):.1f} | {ours['alloc_bytes_per_step']} |")
