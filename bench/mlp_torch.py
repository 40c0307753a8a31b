#!/usr/bin/env python3
"""Trains the MLP 784-128-10 on Fashion-MNIST with PyTorch 1.13 exactly as bench/Optim.MlpBench does (Adam lr 1e-3,
batch 64, shuffled DataLoader, the IDX gz files read with gzip and numpy) and prints one line of JSON: seconds per
epoch (the training loop only) and test accuracy.

    /usr/bin/python3 bench/mlp_torch.py [--epochs 5] [--data DIR] [--seed 0] [--threads 2]
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

import idx  # bench/idx.py, next to this script

ap = argparse.ArgumentParser()
ap.add_argument("--epochs", type=int, default=5)
ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--batch-size", type=int, default=64)
ap.add_argument("--lr", type=float, default=1e-3)
args = ap.parse_args()

torch.set_num_threads(args.threads)
torch.manual_seed(args.seed)


def read_idx(name):
    return idx.read_idx(args.data, name)


t0 = time.perf_counter()
train_x = torch.from_numpy(read_idx("train-images-idx3-ubyte").reshape(-1, 784).astype(np.float32) / 255.0)
train_y = torch.from_numpy(read_idx("train-labels-idx1-ubyte").astype(np.int64))
test_x = torch.from_numpy(read_idx("t10k-images-idx3-ubyte").reshape(-1, 784).astype(np.float32) / 255.0)
test_y = torch.from_numpy(read_idx("t10k-labels-idx1-ubyte").astype(np.int64))
load_seconds = time.perf_counter() - t0

model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
loader = DataLoader(TensorDataset(train_x, train_y), batch_size=args.batch_size, shuffle=True,
                    generator=torch.Generator().manual_seed(args.seed))

epoch_seconds, epoch_loss = [], []
for epoch in range(args.epochs):
    start = time.perf_counter()
    total, batches = 0.0, 0
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item()
        batches += 1
    epoch_seconds.append(time.perf_counter() - start)
    epoch_loss.append(total / batches)

with torch.no_grad():
    accuracy = (model(test_x).argmax(1) == test_y).float().mean().item()

print(json.dumps({
    "framework": f"PyTorch {torch.__version__}",
    "epochs": args.epochs,
    "batch_size": args.batch_size,
    "threads": torch.get_num_threads(),
    "load_seconds": round(load_seconds, 3),
    "epoch_seconds": [round(s, 3) for s in epoch_seconds],
    "seconds_per_epoch": round(sum(epoch_seconds) / len(epoch_seconds), 3),
    "train_loss": [round(l, 4) for l in epoch_loss],
    "test_accuracy": round(accuracy, 4),
}))
