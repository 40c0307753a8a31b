#!/usr/bin/env python3
"""Trains the CIFAR-10 tutorial's network (the demo's CNN) on Fashion-MNIST padded to 32x32 with PyTorch 1.13, exactly as
bench/Optim.CnnBench does: batch 64, shuffled DataLoader, 1 input channel, SGD with momentum or Adam. Prints one line
of JSON: seconds per epoch (the training loop only) and test accuracy.

    /usr/bin/python3 bench/cnn_torch.py [--epochs 1] [--data DIR] [--seed 0] [--threads 2] [--optimizer sgd|adam]
                                        [--lr LR] [--train-limit N]
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
ap.add_argument("--epochs", type=int, default=1)
ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--batch-size", type=int, default=64)
ap.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
ap.add_argument("--lr", type=float, default=None)
ap.add_argument("--train-limit", type=int, default=0, help="use only the first N training images (0: all)")
args = ap.parse_args()
lr = args.lr if args.lr is not None else (0.01 if args.optimizer == "sgd" else 1e-3)

torch.set_num_threads(args.threads)
torch.manual_seed(args.seed)


def read_idx(name):
    return idx.read_idx(args.data, name)


def images(name):
    x = read_idx(name).astype(np.float32) / 255.0
    x = np.pad(x, ((0, 0), (2, 2), (2, 2)))          # 28x28 -> 32x32, zeros
    return torch.from_numpy(np.ascontiguousarray(x[:, None, :, :]))


t0 = time.perf_counter()
train_x, train_y = images("train-images-idx3-ubyte"), torch.from_numpy(read_idx("train-labels-idx1-ubyte").astype(np.int64))
if args.train_limit:
    train_x, train_y = train_x[:args.train_limit], train_y[:args.train_limit]
test_x, test_y = images("t10k-images-idx3-ubyte"), torch.from_numpy(read_idx("t10k-labels-idx1-ubyte").astype(np.int64))
load_seconds = time.perf_counter() - t0

model = nn.Sequential(
    nn.Conv2d(1, 32, 5, padding=2), nn.MaxPool2d(2),
    nn.Conv2d(32, 32, 5, padding=2), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 5, padding=2), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(1024, 64), nn.Linear(64, 10))
criterion = nn.CrossEntropyLoss()
optimizer = (torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9) if args.optimizer == "sgd"
             else torch.optim.Adam(model.parameters(), lr=lr))
loader = DataLoader(TensorDataset(train_x, train_y), batch_size=args.batch_size, shuffle=True,
                    generator=torch.Generator().manual_seed(args.seed))

epoch_seconds, epoch_loss, accuracy = [], [], []
for epoch in range(args.epochs):
    model.train()
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
    model.eval()
    with torch.no_grad():
        correct = sum((model(test_x[i:i + 1000]).argmax(1) == test_y[i:i + 1000]).sum().item()
                      for i in range(0, len(test_y), 1000))
    accuracy.append(correct / len(test_y))

print(json.dumps({
    "framework": f"PyTorch {torch.__version__}",
    "optimizer": args.optimizer, "lr": lr,
    "epochs": args.epochs, "batch_size": args.batch_size, "threads": torch.get_num_threads(),
    "train_images": len(train_y),
    "load_seconds": round(load_seconds, 3),
    "epoch_seconds": [round(s, 3) for s in epoch_seconds],
    "seconds_per_epoch": round(sum(epoch_seconds) / len(epoch_seconds), 3),
    "train_loss": [round(l, 4) for l in epoch_loss],
    "test_accuracy": [round(a, 4) for a in accuracy],
}))
