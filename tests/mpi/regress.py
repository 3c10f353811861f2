"""horovod-compatibility regressions on 2+ ranks (tests/test_distributed_regress.py).
Prints 'OK regress' on every rank."""
import warnings

import _common  # noqa: F401  (sys.path)
from _common import check, close, expect_raises, StubVar, StubSGD

import numpy as np

import pyconvnet.distributed as hvd



class _FakeTape:
    """A tape whose gradient shapes differ per rank: the tape wrapper must raise, not hang."""
    def __init__(self, r):
        self.r = r

    def gradient(self, target, sources, output_gradients=None):
        return [np.ones(2 + self.r, np.float32)]


hvd.init()
r, n = hvd.rank(), hvd.size()
check(n >= 2, "run with mpiexec -n 2")
x = np.arange(6, dtype=np.float32) * (r + 1)
tot = np.arange(6, dtype=np.float32) * sum(range(1, n + 1))

# horovod.keras: allreduce(value, name=None, average=None, prescale_factor, postscale_factor, op, compression)
close(hvd.allreduce(x, "by_name"), tot / n, 1e-7, 0, "allreduce(x, name) averages")
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    close(hvd.allreduce(x, average=False), tot, 0, 0, "average=False sums")
    close(hvd.allreduce(x, average=True), tot / n, 1e-7, 0, "average=True averages")
close(hvd.allreduce(x, op=hvd.Sum, prescale_factor=2.0, postscale_factor=0.5), tot, 1e-7, 0, "pre/post scale")
expect_raises(ValueError, lambda: hvd.allreduce(x, average=True, op=hvd.Sum), "supersedes")

# allgather_object: every rank's object in rank order
check(hvd.allgather_object({"rank": r}) == [{"rank": i} for i in range(n)], "allgather_object")

# alltoall: rank r sends (j + 1) rows to rank j; receives (r + 1) rows from every rank
splits = [j + 1 for j in range(n)]
rows = sum(splits)
send = np.repeat(np.arange(n, dtype=np.float32)[:, None], 1, 1)
send = np.concatenate([np.full((j + 1, 2), 100 * r + j, np.float32) for j in range(n)])
got, rsplits = hvd.alltoall(send, splits=splits)
want = np.concatenate([np.full((r + 1, 2), 100 * i + r, np.float32) for i in range(n)])
check(got.shape == want.shape and np.array_equal(got, want), "alltoall rows")
check(list(rsplits) == [r + 1] * n, "alltoall received splits")
even = hvd.alltoall(np.full((n, 3), r, np.float32))
check(np.array_equal(even, np.repeat(np.arange(n, dtype=np.float32)[:, None], 3, 1)), "alltoall even")

# backward_passes_per_step=2: iterations advance on every call (horovod), updates every 2nd
v = StubVar(np.zeros(3, np.float32), "w")
opt = hvd.DistributedOptimizer(StubSGD(0.1), backward_passes_per_step=2, average_aggregated_gradients=True)
for step in range(4):
    opt.apply_gradients([(np.full(3, float(r + 1), np.float32), v)])
check(opt.iterations == 4, "iterations counts every backward pass, got %r" % opt.iterations)
mean_g = sum(range(1, n + 1)) / n
close(v.numpy(), np.full(3, -0.1 * mean_g * 2), 1e-6, 1e-7, "two applied updates of the averaged gradient")

opt = hvd.DistributedOptimizer(StubSGD(0.1), gradient_predivide_factor=2.0)
v = StubVar(np.zeros(3, np.float32), "w")
opt.apply_gradients([(np.full(3, float(r + 1), np.float32), v)])
close(v.numpy(), np.full(3, -0.1 * mean_g), 1e-6, 1e-7, "gradient_predivide_factor keeps the average")

# DistributedGradientTape (horovod.tensorflow): gradients averaged over the ranks, None kept
import pyconvnet as pcn  # noqa: E402
w = pcn.Variable(np.ones(3, np.float32))
unused = pcn.Variable(np.ones(2, np.float32))
with pcn.GradientTape() as t:
    loss = pcn.ops.sum(w * float(r + 1))
dt = hvd.DistributedGradientTape(t)
gw, gu = dt.gradient(loss, [w, unused])
check(gu is None, "unconnected gradient stays None")
close(np.asarray(gw), np.full(3, mean_g), 1e-6, 0, "DistributedGradientTape averages")
with pcn.GradientTape() as t:
    loss = pcn.ops.sum(w * float(r + 1))
g = hvd.DistributedGradientTape(t, op=hvd.Sum, compression=hvd.Compression.fp16).gradient(loss, w)
close(np.asarray(g), np.full(3, sum(range(1, n + 1))), 1e-3, 0, "DistributedGradientTape Sum fp16")
m = expect_raises(hvd.DistributedError,
                  lambda: hvd.DistributedGradientTape(_FakeTape(r)).gradient(None, None), "gradient")

# broadcast_variables (horovod.tensorflow)
vs = [pcn.Variable(np.full((2, 2), r, np.float32)), pcn.Variable(np.full(3, 10 + r, np.float32))]
hvd.broadcast_variables(vs, root_rank=1)
check(np.array_equal(vs[0].numpy(), np.full((2, 2), 1)) and np.array_equal(vs[1].numpy(), np.full(3, 11)),
      "broadcast_variables from rank 1")

# grouped_allreduce / reducescatter (horovod >= 0.24)
ga = hvd.grouped_allreduce([x, np.array([r], np.int64)], op=hvd.Sum)
close(ga[0], tot, 0, 0, "grouped_allreduce[0]")
check(ga[1].tolist() == [sum(range(n))], "grouped_allreduce int")
rows = 2 * n + 1                                  # uneven: rank 0 gets one extra row
z = np.arange(rows * 2, dtype=np.float32).reshape(rows, 2) * (r + 1)
full = np.arange(rows * 2, dtype=np.float32).reshape(rows, 2) * sum(range(1, n + 1))
mine = hvd.reducescatter(z, op=hvd.Sum)
start = r * 2 + min(r, 1)
close(mine, full[start:start + 2 + (1 if r < 1 else 0)], 0, 0, "reducescatter rows of this rank")

print("OK regress", flush=True)
