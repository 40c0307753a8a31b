#!/usr/bin/env python3
"""Writes data/fashion-mnist-sample/: the first 10,000 training and first 2,000 test images of Fashion-MNIST,
with their labels, in the original IDX .gz format (gzip level 9, no timestamp, so the bytes are reproducible).

    python3 data/make_fashion_mnist_sample.py [SOURCE_DIR]

SOURCE_DIR holds the four full-set files; default /usr/share/datasets/fashion-mnist (Debian's
dataset-fashion-mnist). The sample is what the demo embeds when the full set is not installed.
"""
import gzip
import os
import struct
import sys

SRC = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fashion-mnist-sample")
COUNTS = {"train": 10000, "t10k": 2000}


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", compresslevel=9, mtime=0, filename="") as g:
            g.write(data)


os.makedirs(OUT, exist_ok=True)
for split, n in COUNTS.items():
    images = gzip.open(os.path.join(SRC, split + "-images-idx3-ubyte.gz")).read()
    labels = gzip.open(os.path.join(SRC, split + "-labels-idx1-ubyte.gz")).read()
    magic, count, rows, cols = struct.unpack(">IIII", images[:16])
    assert magic == 2051 and count >= n, (magic, count)
    assert struct.unpack(">II", labels[:8]) == (2049, count)
    write(split + "-images-idx3-ubyte.gz", struct.pack(">IIII", 2051, n, rows, cols) + images[16:16 + n * rows * cols])
    write(split + "-labels-idx1-ubyte.gz", struct.pack(">II", 2049, n) + labels[8:8 + n])
    print("%s: %d of %d images" % (split, n, count))
