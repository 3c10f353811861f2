#!/usr/bin/env python3
"""Build the MNIST subset shipped in pyconvnet/datasets/data/mnist_subset/.

    python scripts/make_mnist_subset.py [--src DIR] [--out DIR]

Takes, from the official MNIST IDX files in --src (checked against their
published MD5s), the first 500 training and the first 100 test images of each
digit, keeping their original order (so the choice is deterministic and
class-balanced: 5000 train + 1000 test images). Writes four gzipped IDX files
(gzip mtime 0, so the output is byte-for-byte reproducible) and MD5SUMS with
the MD5 of each decompressed file, which load_subset() verifies.
"""
import argparse
import gzip
import hashlib
import os
import struct
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from pyconvnet.datasets import mnist  # noqa: E402

PER_CLASS = {"train": 500, "t10k": 100}


def idx_bytes(a):
    assert a.dtype == np.uint8
    return struct.pack(">BBBB", 0, 0, 0x08, a.ndim) + b"".join(struct.pack(">I", d) for d in a.shape) + a.tobytes()


def first_per_class(y, k):
    idx = np.concatenate([np.flatnonzero(y == c)[:k] for c in range(10)])
    idx.sort()
    assert all((y[idx] == c).sum() == k for c in range(10))
    return idx


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--src", default="/work/shared/data/mnist", help="directory with the four official MNIST files")
    p.add_argument("--out", default=mnist.SUBSET_DIR)
    a = p.parse_args()
    (xtr, ytr), (xte, yte) = mnist.load_data(a.src, download=False, verify=True)
    os.makedirs(a.out, exist_ok=True)
    sums = []
    for split, x, y in (("train", xtr, ytr), ("t10k", xte, yte)):
        idx = first_per_class(y, PER_CLASS[split])
        for kind, arr in (("images-idx3-ubyte", x[idx]), ("labels-idx1-ubyte", y[idx])):
            name = "%s-%s" % (split, kind)
            raw = idx_bytes(np.ascontiguousarray(arr))
            path = os.path.join(a.out, name + ".gz")
            with open(path + ".tmp", "wb") as f:
                with gzip.GzipFile(filename="", mode="wb", fileobj=f, compresslevel=9, mtime=0) as g:
                    g.write(raw)
            os.replace(path + ".tmp", path)
            sums.append("%s  %s\n" % (hashlib.md5(raw).hexdigest(), name))
            print("%s: %s %s, %d bytes" % (path, arr.dtype, arr.shape, os.path.getsize(path)))
    with open(os.path.join(a.out, "MD5SUMS"), "w") as f:
        f.writelines(sums)


if __name__ == "__main__":
    main()
