"""Fashion-MNIST's IDX files (gzip or plain) as numpy arrays, for the PyTorch sides of the benchmarks."""
import gzip
import os

import numpy as np


def read_idx(directory, name):
    """The array in directory/name(.gz): uint8, shaped as its header declares."""
    path = os.path.join(directory, name + ".gz")
    if not os.path.exists(path):
        path = os.path.join(directory, name)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    rank = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * d: 8 + 4 * d], "big") for d in range(rank)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)
