"""Collectives, sampler, _fit hooks and callbacks on 2+ ranks. Prints 'OK collectives' on every rank."""
import _common  # noqa: F401  (sys.path)
from _common import check, close, expect_raises, StubVar, StubModel, StubSGD

import numpy as np

import pyconvnet as pcn
import pyconvnet.distributed as hvd
from pyconvnet.distributed import _fit

hvd.init()
r, n = hvd.rank(), hvd.size()
check(n >= 2, "run with mpiexec -n 2")
check(hvd.local_size() == n and hvd.local_rank() == r, "one host: local == global")
check(hvd.cross_size() == 1 and hvd.cross_rank() == 0 and hvd.mpi_enabled() and hvd.mpi_built(), "one host")

# ---- allreduce
x = np.arange(12, dtype=np.float32).reshape(3, 4) * (r + 1)
ssum = np.arange(12, dtype=np.float32).reshape(3, 4) * sum(range(1, n + 1))
close(hvd.allreduce(x, op=hvd.Sum), ssum, 0, 0, "allreduce Sum f32")
close(hvd.allreduce(x), ssum / n, 1e-7, 0, "allreduce Average f32")
close(hvd.allreduce(x.astype(np.float64), op=hvd.Average), ssum / n, 1e-12, 0, "allreduce Average f64")
check(np.array_equal(hvd.allreduce(np.array([r, 1], np.int64), op=hvd.Sum), [sum(range(n)), n]), "int sum")
t = hvd.allreduce(pcn.from_numpy(x), op=hvd.Sum)
check(isinstance(t, pcn.Tensor), "Tensor in -> Tensor out")
close(t.numpy(), ssum, 0, 0, "allreduce Tensor")
check(hvd.allreduce(float(r + 1), op=hvd.Sum) == n * (n + 1) / 2, "scalar allreduce")
close(hvd.allreduce(np.array([r], np.float32), op=hvd.Max), [n - 1], 0, 0, "Max")
rng = np.random.default_rng(r)
y = rng.standard_normal(1000).astype(np.float32)
exact = hvd.allreduce(y, op=hvd.Sum)
close(hvd.allreduce(y, op=hvd.Sum, compression=hvd.Compression.fp16), exact, 2e-3, 4e-3, "fp16 compression")
check(np.array_equal(x, np.arange(12, dtype=np.float32).reshape(3, 4) * (r + 1)), "input untouched")
expect_raises(NotImplementedError, lambda: hvd.allreduce(x, op=hvd.Adasum), "Adasum")

# ---- broadcast / allgather / broadcast_object
for root in range(n):
    b = hvd.broadcast(np.full((2, 3), r, np.float32), root_rank=root)
    check(np.array_equal(b, np.full((2, 3), root, np.float32)), "broadcast root %d" % root)
bt = hvd.broadcast(pcn.from_numpy(np.full(5, r, np.int32)), 1)
check(isinstance(bt, pcn.Tensor) and bt.numpy().tolist() == [1] * 5, "broadcast Tensor")
g = hvd.allgather(np.full((r + 1, 2), r, np.float32))
want = np.concatenate([np.full((k + 1, 2), k, np.float32) for k in range(n)])
check(np.array_equal(g, want), "allgather uneven first dim: %s" % g)
check(hvd.allgather(r).tolist() == list(range(n)), "allgather scalar")
obj = hvd.broadcast_object({"rank": r, "s": "x" * r}, root_rank=1)
check(obj == {"rank": 1, "s": "x"}, "broadcast_object")
expect_raises(ValueError, lambda: hvd.broadcast(x, root_rank=n), "root_rank")

# ---- mismatches raise the same error on every rank (and the job goes on: no hang)
m = expect_raises(hvd.DistributedError, lambda: hvd.allreduce(np.zeros(3 + (r == 1), np.float32)),
                  "rank 1", "(4,) float32", "rank 0", "(3,) float32")
expect_raises(hvd.DistributedError, lambda: hvd.broadcast(np.zeros((2, 2), np.float32 if r == 0 else np.float64),
                                                          0), "float64", "rank 1")
expect_raises(hvd.DistributedError, lambda: hvd.allgather(np.zeros((2, 2 + r), np.float32)), "rank 1")
close(hvd.allreduce(np.ones(2, np.float32), op=hvd.Sum), [n, n], 0, 0, "collectives still work after errors")

# ---- sampler and fit hooks; uneven sizes
for N in (101, 8, 1, 0):
    for ep in (0, 1):
        idx = _fit.epoch_indices(N, ep, shuffle=True, seed=3)
        check(len(idx) == N // n, "epoch_indices len")
        allidx = hvd.allgather(idx)
        check(len(np.unique(allidx)) == len(allidx), "disjoint shards")
        s = hvd.DistributedSampler(N, rank=0, size=1, shuffle=True, seed=3)
        s.set_epoch(ep)
        perm = s.permutation()
        check(np.array_equal(np.sort(allidx), np.sort(perm[:(N // n) * n])), "shards = permutation minus tail")
    e = _fit.eval_indices(N)
    alle = hvd.allgather(e)
    check(np.array_equal(alle, np.arange(N)), "eval_indices exact contiguous cover for N=%d" % N)
np.random.seed(100 + r)  # different global RNG per rank: seed=None must still give disjoint shards
u = hvd.allgather(_fit.epoch_indices(50, 0, True, None))
check(len(np.unique(u)) == len(u) == 50, "seed=None: one shared permutation")
p0 = _fit.epoch_indices(50, 0, True, 1)
p1 = _fit.epoch_indices(50, 1, True, 1)
check(not np.array_equal(p0, p1), "epochs reshuffle")
check(np.array_equal(_fit.epoch_indices(10, 0, False, 0), np.arange(r, (10 // n) * n, n)), "no shuffle: rank::size")
expect_raises(hvd.DistributedError, lambda: _fit.epoch_indices(100 + r, 0, True, 0), "rank 1", "dataset")
# a training loop over an uneven dataset finishes on every rank (same number of steps)
steps = 0
for ep in range(2):
    idx = _fit.epoch_indices(37, ep, True, 0)
    for s0 in range(0, len(idx) - 3, 4):
        hvd.allreduce(np.ones(4, np.float32))
        steps += 1
check(steps == 2 * ((37 // n) // 4), "uneven dataset steps")
# evaluate with unequal shares: reduce_sums
e = _fit.eval_indices(37)
sums = _fit.reduce_sums(np.array([float(np.sum(e)), float(len(e))]))
check(sums.tolist() == [float(sum(range(37))), 37.0], "reduce_sums over unequal shares")
check(_fit.is_chief() == (r == 0) and _fit.active(), "is_chief/active")

# ---- on_train_begin: broadcast + checksum
rs = np.random.default_rng(100 + r)
w = [StubVar(rs.standard_normal((3, 4)), "dense/kernel"), StubVar(rs.standard_normal(4), "dense/bias")]
bn = [StubVar(rs.standard_normal(4), "bn/moving_mean")]
opt = StubSGD(0.1, momentum=0.9)
opt.build(w)
opt.variables[0].assign(rs.standard_normal((3, 4)))
model = StubModel(w, opt, bn)
_fit.on_train_begin(model)
for v in model.weights + opt.variables:
    check(np.array_equal(hvd.broadcast(v.numpy(), 0), v.numpy()), "on_train_begin: %s equal" % v.name)
# a rank whose model differs after the broadcast -> named error
if r == 1:
    model.weights[1].numpy()[0] += 1
expect_raises(hvd.DistributedError, lambda: _fit.verify_model(model, "test"), "rank 1", "#1", "dense/bias")
# mismatched model structure -> named error
bad = StubModel([StubVar(np.zeros((3, 4 + r)), "dense/kernel")])
expect_raises(hvd.DistributedError, lambda: _fit.on_train_begin(bad), "rank 1", "#0", "dense/kernel",
              "(3, 5) float32", "(3, 4) float32")

# ---- callbacks
cb = hvd.callbacks.MetricAverageCallback()
logs = {"loss": float(r), "accuracy": 0.5 + r, "name": "x"}
cb.on_epoch_end(0, logs)
close([logs["loss"], logs["accuracy"]], [(n - 1) / 2, 0.5 + (n - 1) / 2], 1e-12, 0, "MetricAverageCallback")
m2 = StubModel([StubVar(np.full(3, r), "w")], StubSGD(0.1))
bc = hvd.callbacks.BroadcastGlobalVariablesCallback(0)
bc.set_model(m2)
bc.on_train_begin()
bc.on_batch_end(0)
check(np.array_equal(m2.weights[0].numpy(), np.zeros(3)), "BroadcastGlobalVariablesCallback")
# warmup: lr ramps from initial/size to initial over warmup_epochs (horovod formula)
m3 = StubModel([StubVar(np.zeros(1), "w")], StubSGD(0.0, momentum=0.9))
wu = hvd.callbacks.LearningRateWarmupCallback(initial_lr=0.8, warmup_epochs=2, steps_per_epoch=4,
                                              momentum_correction=False)
wu.set_model(m3)
wu.on_train_begin()
lrs = []
for ep in range(3):
    wu.on_epoch_begin(ep)
    for b in range(4):
        wu.on_batch_begin(b)
        lrs.append(m3.optimizer.learning_rate)
        wu.on_batch_end(b)
    wu.on_epoch_end(ep, {})
want = [0.8 / n * ((ep + b / 4 + 0.25) * (n - 1) / 2 + 1) for ep in range(2) for b in range(4)]
close(lrs[:8], want, 1e-12, 0, "warmup lr ramp")
check(abs(lrs[7] - 0.8) < 1e-12 and lrs[8:] == [lrs[7]] * 4, "warmup ends at initial_lr and stays")
check(abs(lrs[0] - 0.8 / n * (1 + 0.125 * (n - 1))) < 1e-12, "warmup starts near initial_lr/size")

# ---- checkpoint: rank 0 writes, every rank resumes from rank 0's file (broadcast)
import os  # noqa: E402
import tempfile  # noqa: E402
d = hvd.broadcast_object(tempfile.mkdtemp(prefix="pcn_ck_") if r == 0 else None, 0)
path = os.path.join(d, "ckpt-3.npz")
src = StubModel([StubVar(np.full((2, 2), 7.0 + r), "k")], StubSGD(0.1, momentum=0.9))
src.optimizer.build(src.weights)
src.optimizer.variables[0].assign(np.full((2, 2), 3.0 + r))
s0 = hvd.DistributedSampler(40, seed=5)
s0.set_epoch(3)
written = hvd.save_checkpoint(path, src, epoch=3, step=30, sampler=s0)
check((written is not None) == (r == 0), "only rank 0 writes")
hvd.barrier()
dst = StubModel([StubVar(np.zeros((2, 2)), "k")], StubSGD(0.1, momentum=0.9))
s1 = hvd.DistributedSampler(40, seed=0)
c = hvd.restore_checkpoint(path, dst, sampler=s1)
check(c["epoch"] == 3 and c["step"] == 30 and s1.epoch == 3 and s1.seed == 5, "resume metadata")
check(np.array_equal(dst.weights[0].numpy(), np.full((2, 2), 7.0)), "weights from rank 0's file")
check(np.array_equal(dst.optimizer.variables[0].numpy(), np.full((2, 2), 3.0)), "optimizer state restored")
check(hvd.restore_checkpoint(os.path.join(d, "none.npz"), dst) is None, "missing checkpoint -> None")
hvd.barrier()
if r == 0:
    import shutil
    shutil.rmtree(d)

hvd.shutdown()
print("OK collectives rank %d" % r, flush=True)
