# The PyTorch side of bench/Optim.ConvBench: forward and backward of each convolution and pooling layer of the
# CIFAR-10 tutorial's CNN at batch 64 on 2 threads, median milliseconds over the runs, one JSON line per layer; then
# one full training step of the network (forward, cross-entropy, backward) for the epoch estimate. Also the fastest
# run, since the machine may be shared.
#   /usr/bin/python3 bench/conv_torch.py [--runs 15] [--channels 3] [--batch 64]
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn

p = argparse.ArgumentParser()
p.add_argument("--runs", type=int, default=15)
p.add_argument("--channels", type=int, default=3)
p.add_argument("--batch", type=int, default=64)
a = p.parse_args()
torch.set_num_threads(2)
torch.manual_seed(0)
b, ch = a.batch, a.channels

layers = [
    ("conv1", nn.Conv2d(ch, 32, 5, padding=2), ch, 32, False),
    ("pool1", nn.MaxPool2d(2), 32, 32, True),
    ("conv2", nn.Conv2d(32, 32, 5, padding=2), 32, 16, True),
    ("pool2", nn.MaxPool2d(2), 32, 16, True),
    ("conv3", nn.Conv2d(32, 64, 5, padding=2), 32, 8, True),
    ("pool3", nn.MaxPool2d(2), 64, 8, True),
]
total = 0.0
for name, layer, c, size, grad in layers:
    x = (torch.rand(b, c, size, size) * 2 - 1).requires_grad_(grad)
    fw, both = [], []
    for r in range(a.runs + 3):
        layer.zero_grad(set_to_none=True)
        x.grad = None
        t0 = time.perf_counter()
        y = layer(x)
        t1 = time.perf_counter()
        y.sum().backward()
        t2 = time.perf_counter()
        if r >= 3:
            fw.append((t1 - t0) * 1e3)
            both.append((t2 - t0) * 1e3)
    f, t = statistics.median(fw), statistics.median(both)
    total += t
    row = {"layer": name, "forward_ms": round(f, 2), "forward_backward_ms": round(t, 2), "min_forward_backward_ms": round(min(both), 2)}
    if isinstance(layer, nn.Conv2d):
        macs = b * layer.out_channels * layer.in_channels * 25 * size * size
        row["gflops_forward"] = round(2 * macs / (f * 1e6), 1)
        row["gflops_forward_backward"] = round(2 * macs * (3 if grad else 2) / (t * 1e6), 1)
    print(json.dumps(row))

model = nn.Sequential(
    nn.Conv2d(ch, 32, 5, padding=2), nn.MaxPool2d(2), nn.Conv2d(32, 32, 5, padding=2), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 5, padding=2), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1024, 64), nn.Linear(64, 10))
x = torch.rand(b, ch, 32, 32)
y = torch.randint(0, 10, (b,))
steps = []
for r in range(a.runs + 3):
    model.zero_grad(set_to_none=True)
    t0 = time.perf_counter()
    nn.CrossEntropyLoss()(model(x), y).backward()
    if r >= 3:
        steps.append((time.perf_counter() - t0) * 1e3)
print(json.dumps({"total_forward_backward_ms": round(total, 1), "network_step_ms": round(statistics.median(steps), 1),
                  "min_network_step_ms": round(min(steps), 1),
                  "batch": b, "channels": ch}))
