"""Fits the alpha-beta model of a ring all-reduce to bench/distributed's timings and predicts a 1B-parameter model's
step and memory per rank.

    python3 bench/distributed/fit.py out/distributed-bench.txt

T(N, n) = 2(N-1) alpha + 2(N-1)/N n beta, n in bytes: alpha and beta by least squares in relative error over every
message size on 2 and 4 ranks together, for each all-reduce the benchmark times (the ring over MPI_Sendrecv, and the shared-memory one).
"""
import re
import sys

rows = []
for line in open(sys.argv[1]):
    m = re.match(r"(ring|shared) allreduce on (\d+) ranks: (\d+) float32 \((\d+) bytes\): ([\d.]+) us", line)
    if m:
        rows.append((m[1], int(m[2]), int(m[4]), float(m[5]) * 1e-6))


def fit(points):
    # least squares for t = a x1 + b x2 (no intercept) in relative error (each equation divided by its t), so that the
    # 4 KB timings decide alpha as much as the 64 MB ones decide beta: the 2x2 normal equations
    points = [(x1 / t, x2 / t, 1.0) for x1, x2, t in points]
    s11 = sum(x1 * x1 for x1, _, _ in points)
    s12 = sum(x1 * x2 for x1, x2, _ in points)
    s22 = sum(x2 * x2 for _, x2, _ in points)
    t1 = sum(x1 * t for x1, _, t in points)
    t2 = sum(x2 * t for _, x2, t in points)
    det = s11 * s22 - s12 * s12
    return (t1 * s22 - t2 * s12) / det, (s11 * t2 - s12 * t1) / det


def model(alpha, beta, n_ranks, n_bytes):
    return 2 * (n_ranks - 1) * alpha + 2 * (n_ranks - 1) / n_ranks * n_bytes * beta


fits = {}
for algo in ("ring", "shared"):
    pts = [(2 * (N - 1), 2 * (N - 1) / N * n, t) for a, N, n, t in rows if a == algo]
    if len(pts) < 2:
        continue
    alpha, beta = fit(pts)
    fits[algo] = (alpha, beta)
    print(f"{algo}: alpha = {alpha * 1e6:.2f} us, beta = {beta * 1e12:.1f} ps/byte ({1 / beta / 1e9:.2f} GB/s)")
    print("| ranks | bytes | measured | model | model / measured |")
    print("|---:|---:|---:|---:|---:|")
    for a, N, n, t in rows:
        if a == algo:
            m = model(alpha, beta, N, n)
            print(f"| {N} | {n:,} | {t * 1e6:,.1f} us | {m * 1e6:,.1f} us | {m / t:.2f} |")
    print()

# A 1B-parameter model, fp32 gradients all-reduced once per step, not overlapped with the backward pass.
params = 1e9
grad_bytes = 4 * params
compute = 1.0  # assumed: forward + backward of one rank's micro-batch, in seconds
link = {"100 Gb/s link (assumed)": (5e-6, 8 / 100e9)}
if "shared" in fits:
    link = {"this machine's shared memory (fitted)": fits["shared"], **link}
print(f"1B parameters, fp32: gradient all-reduce of {grad_bytes / 1e9:.0f} GB per step; compute {compute:.1f} s per step (assumed)")
print("| ranks | " + " | ".join(f"all-reduce, {k} | step" for k in link) + " | per rank, no ZeRO | per rank, ZeRO-1 |")
print("|---:|" + "---:|---:|" * len(link) + "---:|---:|")
for N in (8, 16, 32, 64, 128, 256, 512, 1024):
    cells = []
    for alpha, beta in link.values():
        t = model(alpha, beta, N, grad_bytes)
        cells += [f"{t:.2f} s", f"{compute + t:.2f} s"]
    plain = params * (4 + 4 + 8) / 1e9
    zero = params * (4 + 4 + 8 / N) / 1e9
    print(f"| {N} | " + " | ".join(cells) + f" | {plain:.1f} GB | {zero:.2f} GB |")
