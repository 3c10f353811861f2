"""Gradient-sync overhead of DistributedOptimizer vs raw MPI.

    mpiexec -n 2 python bench/dist_sync.py [--iters 30] [--json out.json]
    python bench/dist_sync.py            (re-launches itself under mpiexec -n 2)

For a ResNet-34-like and a LeNet-5-like list of parameter shapes it times, per
step, (a) our sync: DistributedOptimizer.apply_gradients on a no-op wrapped
optimizer = pack the gradients into the fused buckets (Tensor.copy_), one
in-place Allreduce per bucket, Average scaling, views handed on; (b) the same
with gradients already in the buckets (gradient_buffers(): no packing copy);
(c) raw `comm.Allreduce(MPI.IN_PLACE, buf)` on preallocated buffers of the same
sizes and count. Interleaved, barrier before each, median over iterations.
overhead ratio = (a) / (c)  (goal <= 1.10).
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

import numpy as np  # noqa: E402


def resnet34_shapes():
    s = [(7, 7, 3, 64), (64,), (64,)]
    cin = 64
    for cout, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for b in range(blocks):
            st = stride if b == 0 else 1
            s += [(3, 3, cin, cout), (cout,), (cout,), (3, 3, cout, cout), (cout,), (cout,)]
            if st != 1 or cin != cout:
                s += [(1, 1, cin, cout), (cout,), (cout,)]
            cin = cout
    s += [(512, 1000), (1000,)]
    return s


def course_cnn_shapes():
    # tests/test_keras_snippets.py::course_cnn (the model bench/dist_scaling.py trains): 1.41 M parameters
    return [(7, 7, 1, 64), (64,), (3, 3, 64, 128), (128,), (3, 3, 128, 128), (128,), (3, 3, 128, 256), (256,),
            (3, 3, 256, 256), (256,), (2304, 128), (128,), (128, 64), (64,), (64, 10), (10,)]


def lenet5_shapes():
    return [(5, 5, 1, 6), (6,), (5, 5, 6, 16), (16,), (400, 120), (120,), (120, 84), (84,), (84, 10), (10,)]


class NoOp:
    def __init__(self):
        self.learning_rate = 0.0
        self.variables = []

    def apply_gradients(self, gv):
        return None


class Var:
    def __init__(self, shape, i):
        self.shape = shape
        self.name = "v%d" % i


def bench(shapes, iters, warmup=3):
    from mpi4py import MPI
    import pyconvnet as pcn
    import pyconvnet.distributed as hvd
    comm = hvd.comm()
    rng = np.random.default_rng(hvd.rank())
    vs = [Var(s, i) for i, s in enumerate(shapes)]
    grads = [pcn.from_numpy(rng.standard_normal(s).astype(np.float32)) for s in shapes]
    opt = hvd.DistributedOptimizer(NoOp(), overlap=False)
    opt.apply_gradients(zip(grads, vs))
    bsz = [nb for nb, _ in opt.dist_buckets()]
    raw = [_aligned(nb // 4) for nb in bsz]
    zbufs = opt.gradient_buffers(vs)
    popt = hvd.DistributedOptimizer(NoOp(), overlap=False, gradients_prescaled=True)
    popt.apply_gradients(zip(grads, vs))
    pbufs = popt.gradient_buffers(vs)
    for t in pbufs:  # a Sum of zeros stays finite (doubling values would overflow to inf)
        t.numpy()[...] = 0.0
    oopt = hvd.DistributedOptimizer(NoOp(), overlap=True)
    oopt.apply_gradients(zip(grads, vs))
    def ours():
        opt.apply_gradients(zip(grads, vs))

    def zero():
        opt.apply_gradients(zip(zbufs, vs))

    def pre():
        popt.apply_gradients(zip(pbufs, vs))

    def rawf():
        for b in raw:
            comm.Allreduce(MPI.IN_PLACE, b, op=MPI.SUM)

    def ovl():
        oopt.apply_gradients(zip(grads, vs))

    fns = [ours, zero, pre, rawf, ovl]
    times = [[] for _ in fns]
    order = np.random.default_rng(0)  # same order on every rank
    for it in range(warmup + iters):
        for k in order.permutation(len(fns)):
            comm.Barrier()
            t0 = time.perf_counter()
            fns[k]()
            dt = time.perf_counter() - t0
            if it >= warmup:
                times[k].append(dt)
    t_ours, t_zero, t_pre, t_raw, t_ovl = times
    # per-iteration ratios against the raw reduction measured in the same
    # iteration (robust to the drift of a shared machine); every rank's
    # median, then the max over ranks (a step waits for the slowest rank)
    tr = np.asarray(t_raw)
    vals = [np.median(t_raw), np.median(t_ours), np.median(t_zero), np.median(t_pre), np.median(t_ovl),
            np.median(np.asarray(t_ours) / tr), np.median(np.asarray(t_zero) / tr),
            np.median(np.asarray(t_pre) / tr), np.median(np.asarray(t_ovl) / tr)]
    m = _max(comm, np.array(vals))
    nbytes = sum(bsz)
    return {"params": int(sum(int(np.prod(s)) for s in shapes)), "bytes": nbytes, "buckets": len(bsz),
            "variables": len(shapes), "iters": iters, "raw_ms": m[0] * 1e3, "ours_ms": m[1] * 1e3,
            "zero_copy_ms": m[2] * 1e3, "zero_copy_prescaled_ms": m[3] * 1e3, "overlap_ms": m[4] * 1e3,
            "ratio": m[5], "ratio_zero_copy": m[6], "ratio_zero_copy_prescaled": m[7], "ratio_overlap": m[8],
            "raw_GBps": nbytes / m[0] / 1e9}


def _aligned(n):
    """float32 zeros starting on a 64-byte boundary (like our buckets), touched."""
    a = np.zeros(n + 16, np.float32)
    off = (-(a.ctypes.data // 4)) % 16
    b = a[off:off + n]
    b[...] = 0.0
    return b


def _max(comm, a):
    from mpi4py import MPI
    out = np.empty_like(a)
    comm.Allreduce(a, out, op=MPI.MAX)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--json", default=None)
    ap.add_argument("-n", type=int, default=2, help="ranks when re-launching under mpiexec")
    ap.add_argument("--models", default="resnet34,course_cnn,lenet5")
    args = ap.parse_args()
    if "PMI_RANK" not in os.environ and "OMPI_COMM_WORLD_RANK" not in os.environ and \
            "PMI_SIZE" not in os.environ:
        mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
        env = dict(os.environ, OMP_NUM_THREADS="1")
        return subprocess.call([mpiexec if os.path.exists(mpiexec) else "mpiexec", "-n", str(args.n),
                                sys.executable] + sys.argv, env=env)
    import pyconvnet.distributed as hvd
    hvd.init()
    rows = {}
    shape_sets = {"resnet34": resnet34_shapes, "course_cnn": course_cnn_shapes, "lenet5": lenet5_shapes}
    for name in args.models.split(","):
        shapes = shape_sets[name]()
        iters = {"resnet34": args.iters, "course_cnn": args.iters * 4}.get(name, args.iters * 20)
        rows[name] = bench(shapes, iters)
    if hvd.rank() == 0:
        import platform
        print("dist_sync: %d ranks, %s, %d cores, %s" % (hvd.size(), platform.node(), os.cpu_count(),
                                                          time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())))
        print("(ms: median per step over iterations; ratio: median of per-iteration ratios to the raw Allreduce "
              "of the same buckets, max over ranks)")
        print("| model | params | MB | buckets | raw Allreduce ms | ours (copy) ms | ratio | zero-copy ms | "
              "ratio | zero-copy+prescaled ms | ratio | copy+overlap ms | ratio | raw GB/s |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for k, r in rows.items():
            print("| %s | %d | %.2f | %d | %.3f | %.3f | **%.3f** | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.2f |"
                  % (k, r["params"], r["bytes"] / 2 ** 20, r["buckets"], r["raw_ms"], r["ours_ms"], r["ratio"],
                     r["zero_copy_ms"], r["ratio_zero_copy"], r["zero_copy_prescaled_ms"],
                     r["ratio_zero_copy_prescaled"], r["overlap_ms"], r["ratio_overlap"], r["raw_GBps"]))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"ranks": hvd.size(), "rows": rows}, f, indent=1)
    hvd.shutdown()


if __name__ == "__main__":
    sys.exit(main())
