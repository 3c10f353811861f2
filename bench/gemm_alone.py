"""SGEMM GFLOP/s of ONE library per process (ours or NumPy/OpenBLAS), a tight loop of calls:
the fair 2-thread comparison on a small machine, where the other library's idle spinning
threads (OpenBLAS spins ~70 ms after each call) or a freshly woken worker on a busy core
distort in-process alternation (bench/run.py's GEMM rows).

    PYTHONPATH=. python bench/gemm_alone.py ours  --threads 2
    OPENBLAS_NUM_THREADS=2 python bench/gemm_alone.py numpy
Run them alternately a few times and compare:
    for i in 1 2 3; do PYTHONPATH=. python bench/gemm_alone.py ours --threads 2;
                       OPENBLAS_NUM_THREADS=2 python bench/gemm_alone.py numpy; done | sort -k2,3 -s
"""
import argparse
import os
import sys
import time

import numpy as np

SHAPES = [(256, 256, 256, "NN"), (512, 512, 512, "NN"), (1024, 1024, 1024, "NN"), (2048, 2048, 2048, "NN"),
          (1024, 1024, 1024, "NT"), (1024, 1024, 1024, "TN"), (64, 4096, 1024, "NN"), (6400, 4096, 1024, "NN")]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("lib", choices=["ours", "numpy"])
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=1.0, help="per shape")
    a = ap.parse_args()
    if a.lib == "ours":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
        import pyconvnet as pcn
        from pyconvnet import _C
        if a.threads:
            pcn.set_num_threads(a.threads)
    r = np.random.default_rng(0)
    for M, N, K, tr in SHAPES:
        A = r.random((K, M) if tr[0] == "T" else (M, K), dtype=np.float32)
        B = r.random((N, K) if tr[1] == "T" else (K, N), dtype=np.float32)
        C = np.empty((M, N), np.float32)
        if a.lib == "ours":
            tA, tB, tC = _C.from_numpy(A), _C.from_numpy(B), _C.from_numpy(C)
            f = lambda: _C.gemm_into(tC, tA, tB, tr[0] == "T", tr[1] == "T", 1.0, 0.0)
        else:
            An = A.T if tr[0] == "T" else A
            Bn = B.T if tr[1] == "T" else B
            f = lambda: np.matmul(An, Bn, out=C)
        for _ in range(3):
            f()
        ts, t_end = [], time.perf_counter() + a.seconds
        while time.perf_counter() < t_end or len(ts) < 5:
            t = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t)
        print("%s %s %dx%dx%d %.1f GFLOP/s" % (a.lib, tr, M, N, K, 2.0 * M * N * K / np.median(ts) / 1e9), flush=True)


if __name__ == "__main__":
    main()
