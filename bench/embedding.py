"""Embedding forward+backward (vocab 10000, dim 128, batch 32 x 200 steps): pyconvnet's
row-gather kernels vs the one_hot @ table formulation they replaced vs torch.nn.Embedding,
same process, alternating, median of 7.

    PYTHONPATH=. python bench/embedding.py [--threads 2]
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import pyconvnet as pcn  # noqa: E402
from pyconvnet import _C, autograd as ag  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--vocab", type=int, default=10000)
    ap.add_argument("--dim", type=int, default=128)
    a = ap.parse_args()
    pcn.set_num_threads(a.threads)
    rng = np.random.default_rng(0)
    ids = rng.integers(0, a.vocab, (32, 200)).astype(np.int64)
    table = rng.normal(size=(a.vocab, a.dim)).astype(np.float32)
    dy = rng.normal(size=(32, 200, a.dim)).astype(np.float32)
    v = ag.Variable(_C.from_numpy(table))

    def gather():
        with ag.GradientTape() as tape:
            y = ag.embedding(ids, v)
        tape.gradient([y], [v], output_gradients=[_C.from_numpy(dy)])

    def one_hot():
        with ag.GradientTape() as tape:
            y = ag.matmul(ag.one_hot(ag.reshape(ag.as_eager(ids), [-1]), a.vocab), v)
        tape.gradient([y], [v], output_gradients=[_C.from_numpy(dy.reshape(-1, a.dim))])
    fns = {"gather": gather, "one_hot@table": one_hot}
    try:
        import torch
        torch.set_num_threads(a.threads)
        emb = torch.nn.Embedding(a.vocab, a.dim)
        tid, tdy = torch.from_numpy(ids), torch.from_numpy(dy)

        def torch_step():
            emb.zero_grad()
            emb(tid).backward(tdy)
        fns["torch"] = torch_step
    except ImportError:
        pass
    times = {k: [] for k in fns}
    for f in fns.values():
        f()
    for _ in range(7):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    for k, ts in times.items():
        print("%-14s %8.2f ms" % (k, 1e3 * np.median(ts)))


if __name__ == "__main__":
    main()
