# Times one step of PyTorch 2.9's Muon as tests/golden/generate_muon.py transcribes it in torch 1.13 ops (float32, the
# single-tensor path; 1.13 has no Muon), on one rows x cols matrix, for comparison with bench/Optim.MuonBench.
#
# Run with the Debian interpreter that ships torch 1.13 (the pyenv `python3` on PATH has no torch):
#
#     /usr/bin/python3 bench/muon_torch.py --rows 1024 --cols 1024 --repeats 3 --warmup 1 --threads 2
#
# Prints ONE JSON line on stdout: {"impl":"torch-1.13-transcription", "rows", "cols", "median_ms", "min_ms",
# "repeats", "warmup", "threads"}.

import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden"))
import generate_muon  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--rows", type=int, default=1024)
ap.add_argument("--cols", type=int, default=1024)
ap.add_argument("--repeats", type=int, default=3)
ap.add_argument("--warmup", type=int, default=1)
ap.add_argument("--threads", type=int, default=2)
args = ap.parse_args()

torch.set_num_threads(args.threads)
torch.manual_seed(0)
p = torch.nn.Parameter(torch.rand(args.rows, args.cols) - 0.5)
p.grad = (torch.rand(args.rows, args.cols) - 0.5) * 1e-2
opt = generate_muon.Muon([p])
for _ in range(args.warmup):
    opt.step()
ms = []
for _ in range(args.repeats):
    t0 = time.perf_counter()
    opt.step()
    ms.append((time.perf_counter() - t0) * 1e3)
print(json.dumps({"impl": "torch-1.13-transcription", "rows": args.rows, "cols": args.cols,
                  "median_ms": round(statistics.median(ms), 1), "min_ms": round(min(ms), 1),
                  "repeats": args.repeats, "warmup": args.warmup, "threads": args.threads}))
