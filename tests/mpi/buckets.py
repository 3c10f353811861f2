"""DistributedOptimizer bucket logic: layout, one Allreduce per bucket per step
(counted with a wrapping communicator), reuse of buffers, fp16, accumulation,
overlap, and a variable mismatch across ranks. Prints 'OK buckets'."""
import _common  # noqa: F401
from _common import check, close, expect_raises, StubVar, StubSGD

import math
import time

import numpy as np
from mpi4py import MPI

import pyconvnet as pcn
import pyconvnet.distributed as hvd


class CountingComm:
    """Forwards to a real communicator; counts the buffer-form reductions and
    records the bytes each one moves."""

    def __init__(self, comm):
        self._c = comm
        self.calls = []

    def Allreduce(self, sendbuf, recvbuf, op=MPI.SUM):
        self.calls.append(("Allreduce", np.asarray(recvbuf).nbytes, sendbuf is MPI.IN_PLACE))
        return self._c.Allreduce(sendbuf, recvbuf, op=op)

    def Iallreduce(self, sendbuf, recvbuf, op=MPI.SUM):
        self.calls.append(("Iallreduce", np.asarray(recvbuf).nbytes, sendbuf is MPI.IN_PLACE))
        return self._c.Iallreduce(sendbuf, recvbuf, op=op)

    def allreduce(self, *a, **k):
        raise AssertionError("pickling allreduce used")

    def __getattr__(self, name):
        return getattr(self._c, name)


cc = CountingComm(MPI.COMM_WORLD.Dup())
hvd.init(comm=cc)
r, n = hvd.rank(), hvd.size()
rng = np.random.default_rng(7)  # same on every rank: the variables
shapes = [(3,), (5, 7), (1,), (300_000,), (16,), (2, 3, 4, 5), (700_000,), (9,), (33, 3), (250_000,)]
shapes += [(int(s),) for s in rng.integers(1, 200, 40)]
variables = [StubVar(rng.standard_normal(s), "v%d" % i) for i, s in enumerate(shapes)]
BUCKET = 2 ** 20   # 1 MiB buckets so the test stays small
opt = hvd.DistributedOptimizer(StubSGD(0.0), bucket_bytes=BUCKET, overlap=False)
check(isinstance(opt, StubSGD) and opt.learning_rate == 0.0, "subclass sharing the optimizer's state")
opt.learning_rate = 0.0
total_bytes = sum(4 * int(np.prod(s)) for s in shapes)


def grads_np(step, rank):
    g = np.random.default_rng(1000 * step + rank)
    return [g.standard_normal(s).astype(np.float32) for s in shapes]


def grads_for(step):
    return [pcn.from_numpy(a) for a in grads_np(step, r)]


def mean_of(steps, op="avg"):
    tot = [np.zeros(s, np.float64) for s in shapes]
    for st in steps:
        for k in range(n):
            for t, a in zip(tot, grads_np(st, k)):
                t += a
    return [t / n for t in tot] if op == "avg" else tot


received = []


class Spy(StubSGD):
    def apply_gradients(self, gv):
        gv = list(gv)
        received.append([np.array(g.numpy() if hasattr(g, "numpy") else g) for g, _ in gv])
        received_ptrs.append([g.data_ptr() if hasattr(g, "data_ptr") else g.ctypes.data for g, _ in gv])
        return super().apply_gradients(gv)


received_ptrs = []
spy = hvd.DistributedOptimizer(Spy(0.0), bucket_bytes=BUCKET, overlap=False)
cc.calls.clear()
for step in range(3):
    gs = grads_for(step)
    before = len(cc.calls)
    spy.apply_gradients(zip(gs, variables))
    calls = cc.calls[before:]
    buckets = spy.dist_buckets()
    nb = len(buckets)
    red = [c for c in calls if c[0] in ("Allreduce", "Iallreduce")]
    check(len(red) == nb, "step %d: %d large reductions for %d buckets" % (step, len(red), nb))
    check(all(c[2] for c in red), "all bucket reductions are in place (MPI.IN_PLACE)")
    check([c[1] for c in red] == [b[0] for b in buckets], "bucket bytes in order")
    if step > 0:
        check(len(calls) == nb, "after the first step: exactly one collective per bucket, got %s" % calls)
    for i, (a, b) in enumerate(zip(received[-1], mean_of([step]))):
        close(a, b, 1e-5, 1e-6, "averaged gradient %d" % i)
nb = len(spy.dist_buckets())
lo = math.ceil(total_bytes / BUCKET)
check(lo <= nb <= lo + 2, "bucket count %d vs ceil(bytes/bucket)=%d" % (nb, lo))
# reverse variable order: the first bucket holds the last variables
order = [i for _, slots in spy.dist_buckets() for i in slots]
check(order == list(range(len(shapes)))[::-1], "buckets packed in reverse variable order")
check(all(b[0] <= BUCKET or len(b[1]) == 1 for b in spy.dist_buckets()), "bucket size cap")
# buffers are reused: the wrapped optimizer sees the same memory every step (no per-step allocation)
check(received_ptrs[0] == received_ptrs[1] == received_ptrs[2], "same gradient buffers every step")

# zero-copy: gradients written into gradient_buffers() are reduced without packing
bufs = spy.gradient_buffers(variables)
for b, s, i in zip(bufs, shapes, range(len(shapes))):
    b.numpy()[...] = float(r + i)
spy.apply_gradients(zip(bufs, variables))
close(received[-1][5], np.full(shapes[5], (n - 1) / 2 + 5), 0, 0, "zero-copy gradient buffers")

# Sum and fp16 compression
sopt = hvd.DistributedOptimizer(Spy(0.0), op=hvd.Sum, compression=hvd.Compression.fp16, bucket_bytes=BUCKET)
gs = grads_for(5)
sopt.apply_gradients(zip(gs, variables))
for a, b in zip(received[-1], mean_of([5], "sum")):
    close(a, b, 2e-3, 8e-3, "fp16 Sum")

# backward_passes_per_step=2: no collective and no update on the first call
acc = hvd.DistributedOptimizer(Spy(0.0), backward_passes_per_step=2, bucket_bytes=BUCKET)
nrecv = len(received)
acc.apply_gradients(zip(grads_for(6), variables))  # first call builds the layout (fingerprint) only
c0 = len(cc.calls)
check(acc.apply_gradients(zip(grads_for(7), variables)) is not None or True, "")
check(len(received) == nrecv + 1, "one update per 2 backward passes")
c1 = len(cc.calls)
acc.apply_gradients(zip(grads_for(6), variables))
check(len(cc.calls) == c1 and len(received) == nrecv + 1, "accumulating call: no collective, no update")
acc.apply_gradients(zip(grads_for(7), variables))
check(len(cc.calls) - c1 == len(acc.dist_buckets()), "one collective per bucket on the k-th call")
for a, b in zip(received[-1], mean_of([6, 7])):
    close(a, b, 1e-5, 1e-5, "accumulated (summed) gradients, averaged over ranks")
del c0

# overlap=True (Iallreduce per bucket as soon as packed) gives the same numbers
ov = hvd.DistributedOptimizer(Spy(0.0), bucket_bytes=BUCKET, overlap=True)
before = len(cc.calls)
ov.apply_gradients(zip(grads_for(1), variables))
ov_calls = [c for c in cc.calls[before:] if c[0] == "Iallreduce"]
check(len(ov_calls) == len(ov.dist_buckets()), "overlap: one Iallreduce per bucket")
for a, b in zip(received[-1], mean_of([1])):
    close(a, b, 1e-5, 1e-6, "overlap result")
# overlap + fp16, and NumPy gradients (returned as NumPy views)
ovh = hvd.DistributedOptimizer(Spy(0.0), bucket_bytes=BUCKET, overlap=True, compression=hvd.Compression.fp16)
ovh.apply_gradients(zip([g.numpy() for g in grads_for(2)], variables))
for a, b in zip(received[-1], mean_of([2])):
    close(a, b, 2e-3, 4e-3, "overlap + fp16 with NumPy gradients")
auto = hvd.DistributedOptimizer(Spy(0.0), overlap="auto")
import os  # noqa: E402
check(auto._overlap() == (n < (os.cpu_count() or 1)), "overlap auto = off when ranks >= cores")

# a rank with a different model: clear error on every rank, no hang
mvars = [StubVar(np.zeros(s), "layer%d/kernel" % i) for i, s in enumerate([(4, 4), (8,), (3, 2 + r)])]
bad = hvd.DistributedOptimizer(StubSGD(0.1))
t0 = time.time()
msg = expect_raises(hvd.DistributedError,
                    lambda: bad.apply_gradients([(pcn.zeros(*v.shape), v) for v in mvars]),
                    "rank 1", "#2", "layer2/kernel", "(3, 3) float32", "(3, 2) float32")
check(time.time() - t0 < 5, "mismatch detected quickly")
fewer = mvars[:2] if r == 1 else mvars
bad2 = hvd.DistributedOptimizer(StubSGD(0.1))
expect_raises(hvd.DistributedError, lambda: bad2.apply_gradients([(pcn.zeros(*v.shape), v) for v in fewer]),
              "rank 1 has 2 variables, rank 0 has 3", "missing")
if r == 0:
    print("mismatch message:", msg)
check(all(name != "allreduce" for name, *_ in cc.calls), "")
hvd.shutdown()
print("OK buckets rank %d" % r, flush=True)
