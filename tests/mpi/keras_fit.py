"""Model.fit()/evaluate() on several ranks, on the real kernels (issue 6).

usage: mpiexec -n 2 python tests/mpi/keras_fit.py all      (a) (b) (d); prints 'OK keras_fit rank r'
       mpiexec -n 2 python tests/mpi/keras_fit.py raise    (c) a callback raises on rank 1 at batch 2

(a) Dense-ReLU-Dense and Conv2D+MaxPool+Dense trained with fit() on 2 ranks
    (per-rank batch B, plain SGD, DistributedOptimizer +
    BroadcastGlobalVariablesCallback, rank 1 starting from different weights)
    end with the weights of ONE process trained with batch 2B over the same
    order: per step the union of the ranks' batches, taken from the indices the
    sampler gave each rank (recorded around _fit.epoch_indices). 1e-5 relative;
    and every rank's weights are bit-identical (crc32 compared across ranks).
(b) evaluate() with an uneven test set (37 samples on 2 ranks): the shards
    cover every sample once, and loss/accuracy equal the single-process values.
(d) ModelCheckpoint writes on rank 0 only; a run stopped after epoch 1,
    saved with hvd.save_checkpoint, restored into a fresh model (other init)
    and resumed with fit(initial_epoch=1) ends where an uninterrupted run ends.
The single-process references run inside the same job with the distributed
hook switched off (pyconvnet.distributed_hook.get -> None).
"""
import _common  # noqa: F401
from _common import check

import contextlib
import os
import shutil
import sys
import tempfile
import zlib

import numpy as np

import pyconvnet as keras
import pyconvnet.distributed as hvd
from pyconvnet import distributed_hook
from pyconvnet.distributed import _fit

mode = sys.argv[1] if len(sys.argv) > 1 else "all"
hvd.init()
r, size = hvd.rank(), hvd.size()
comm = hvd.comm()
check(size == 2, "run on 2 ranks")


@contextlib.contextmanager
def single_process():
    """Train/evaluate as one process (the reference), inside the MPI job."""
    get, chief = distributed_hook.get, distributed_hook.is_chief
    distributed_hook.get, distributed_hook.is_chief = (lambda: None), (lambda: True)
    try:
        yield
    finally:
        distributed_hook.get, distributed_hook.is_chief = get, chief


def dense_model():
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                             keras.layers.Dense(3)])


def conv_model():
    return keras.Sequential([keras.Input((8, 7, 2)), keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
                             keras.layers.MaxPooling2D(2), keras.layers.Flatten(), keras.layers.Dense(3)])


def data(shape, n, seed):
    g = np.random.default_rng(seed)
    return g.standard_normal((n,) + shape).astype(np.float32), g.integers(0, 3, n).astype(np.int32)


def crcs(model):
    return [zlib.crc32(np.ascontiguousarray(w).tobytes()) for w in model.get_weights()]


def init_weights(make, seed):
    keras.utils.set_random_seed(seed)
    return make().get_weights()


def compiled(make, weights, opt):
    m = make()
    m.set_weights(weights)
    m.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
    return m


def rel(a, b):
    return float(np.linalg.norm(np.float64(a) - b) / max(np.linalg.norm(np.float64(b)), 1e-30))


# ----------------------------------------------------------------------------- (c)
if mode == "raise":
    class Boom(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if r == 1 and batch == 2:
                raise RuntimeError("injected failure in a callback on rank 1")

    x, y = data((6,), 4000, 0)
    m = compiled(dense_model, init_weights(dense_model, 1), hvd.DistributedOptimizer(keras.optimizers.SGD(0.01)))
    m.fit(x, y, batch_size=4, epochs=1000, verbose=0,
          callbacks=[hvd.callbacks.BroadcastGlobalVariablesCallback(0), Boom()])
    print("UNREACHABLE rank %d finished" % r, flush=True)
    sys.exit(0)


# ----------------------------------------------------------------------------- (a)
def equivalence(make, shape, n, B, epochs, lr, prescaled=False):
    x, y = data(shape, n, 3)
    w0 = init_weights(make, 11)
    # rank 1 starts elsewhere: the broadcast must make rank 0's weights everyone's
    start = w0 if r == 0 else init_weights(make, 99)
    seen = []
    orig = _fit.epoch_indices

    def recording(*a, **k):
        idx = orig(*a, **k)
        seen.append(np.asarray(idx).copy())
        return idx

    _fit.epoch_indices = recording
    try:
        m = compiled(make, start, hvd.DistributedOptimizer(keras.optimizers.SGD(lr), gradients_prescaled=prescaled))
        m.fit(x, y, batch_size=B, epochs=epochs, shuffle=True, verbose=0,
              callbacks=[hvd.callbacks.BroadcastGlobalVariablesCallback(0)])
    finally:
        _fit.epoch_indices = orig
    check(len(seen) == epochs, "epoch_indices called %d times for %d epochs" % (len(seen), epochs))
    # every rank holds the very same bits
    table = comm.allgather(crcs(m))
    check(all(t == table[0] for t in table), "rank weights differ after training: %s" % (table,))
    # the sampler's per-rank orders -> the single-process batches of 2B
    orders = comm.allgather(seen)
    steps = 0
    ref = compiled(make, w0, keras.optimizers.SGD(lr))
    with single_process():
        for e in range(epochs):
            per = [orders[q][e] for q in range(size)]
            allidx = np.concatenate(per)
            check(len(np.unique(allidx)) == len(allidx) == (n // size) * size,
                  "epoch %d: the ranks' shards overlap or miss samples" % e)
            nb = -(-len(per[0]) // B)
            union = np.concatenate([np.concatenate([p[s * B:(s + 1) * B] for p in per]) for s in range(nb)])
            # batch boundaries line up with the per-rank ones as long as every rank's
            # last batch has the same size (it does: every rank gets n // size indices)
            ref.fit(x[union], y[union], batch_size=size * B, epochs=1, shuffle=False, verbose=0)
            steps += nb
    worst = max(rel(a, b) for a, b in zip(m.get_weights(), ref.get_weights()))
    moved = rel(np.concatenate([a.ravel() for a in m.get_weights()]), np.concatenate([b.ravel() for b in w0]))
    check(worst <= 1e-5, "%s: 2 ranks x batch %d vs 1 process x batch %d: rel err %.3g"
          % (make.__name__, B, size * B, worst))
    check(moved > 1e-3, "%s: the weights hardly moved (%.3g): the test proves nothing" % (make.__name__, moved))
    if r == 0:
        print("(a) %s%s: %d steps, 2 ranks x %d == 1 x %d: max rel err %.2e (weights moved %.2e), "
              "ranks bit-identical" % (make.__name__, " (gradients_prescaled: fit scales its loss seed)"
                                       if prescaled else "", steps, B, size * B, worst, moved), flush=True)
    return m, x, y


m, _, _ = equivalence(dense_model, (6,), 75, 8, 2, 0.2)      # 37 per rank: 4 batches of 8 + one of 5
mc, _, _ = equivalence(conv_model, (8, 7, 2), 42, 4, 2, 0.1)  # 21 per rank: 5 of 4 + one of 1
equivalence(dense_model, (6,), 75, 8, 1, 0.2, prescaled=True)

# ----------------------------------------------------------------------------- (b)
xt, yt = data((8, 7, 2), 37, 5)
shares = comm.allgather(_fit.eval_indices(37).tolist())
check(sorted(shares[0] + shares[1]) == list(range(37)) and len(shares[0]) == 19 and len(shares[1]) == 18,
      "eval shards %s" % (shares,))
dist = mc.evaluate(xt, yt, batch_size=8, verbose=0, return_dict=True)
with single_process():
    one = mc.evaluate(xt, yt, batch_size=8, verbose=0, return_dict=True)
allv = comm.allgather(dist)
check(allv[0] == allv[1], "ranks report different metrics %s" % (allv,))
check(dist["accuracy"] == one["accuracy"], "accuracy %r vs single-process %r" % (dist, one))
# the loss sums are float32 per batch; the shard boundaries regroup them: equal to rounding
check(abs(dist["loss"] - one["loss"]) <= 1e-6 * abs(one["loss"]), "loss %r vs single-process %r" % (dist, one))
if r == 0:
    print("(b) evaluate on 37 = 19 + 18 samples: %s == single process %s" % (dist, one), flush=True)

# ----------------------------------------------------------------------------- (d)
tmp = comm.bcast(tempfile.mkdtemp(prefix="pcn_kfit_") if r == 0 else None, root=0)
x, y = data((6,), 60, 7)
w0 = init_weights(dense_model, 21)
SEED, E = 1234, 3


def opt():
    return hvd.DistributedOptimizer(keras.optimizers.SGD(0.05, momentum=0.9))


full = compiled(dense_model, w0, opt())
keras.utils.set_random_seed(SEED)  # fit() draws its shuffling seed from here (rank 0's is used)
full.fit(x, y, batch_size=6, epochs=E, verbose=0, callbacks=[
    hvd.callbacks.BroadcastGlobalVariablesCallback(0),
    keras.callbacks.ModelCheckpoint(os.path.join(tmp, "rank%d-{epoch}.weights.h5" % r), save_weights_only=True,
                                    monitor="loss")])
comm.Barrier()
files = sorted(os.listdir(tmp))
check(files == ["rank0-%d.weights.h5" % e for e in range(1, E + 1)], "checkpoint files %s" % files)

part = compiled(dense_model, w0, opt())
keras.utils.set_random_seed(SEED)
part.fit(x, y, batch_size=6, epochs=1, verbose=0, callbacks=[hvd.callbacks.BroadcastGlobalVariablesCallback(0)])
ck = hvd.save_checkpoint(os.path.join(tmp, "ckpt-1.npz"), part, epoch=1)
check((ck is not None) == (r == 0), "save_checkpoint wrote on rank %d" % r)
del part
# a fresh process would start from other weights and an empty optimizer
resumed = compiled(dense_model, init_weights(dense_model, 77 + r), opt())
got = hvd.restore_checkpoint(hvd.latest_checkpoint(tmp) if r == 0 else None, resumed)
check(got is not None and got["epoch"] == 1, "restore returned %r" % (got,))
check(len(resumed.optimizer.variables) == len(resumed.trainable_weights), "momenta not restored")
keras.utils.set_random_seed(SEED)
resumed.fit(x, y, batch_size=6, epochs=E, initial_epoch=got["epoch"], verbose=0,
            callbacks=[hvd.callbacks.BroadcastGlobalVariablesCallback(0)])
worst = max(rel(a, b) for a, b in zip(resumed.get_weights(), full.get_weights()))
check(worst <= 1e-6, "resumed run differs from the uninterrupted one: rel err %.3g" % worst)
table = comm.allgather(crcs(resumed))
check(table[0] == table[1], "ranks differ after the resumed run")
comm.Barrier()
if r == 0:
    print("(d) ModelCheckpoint files %s (rank 0 only); resumed at epoch 1 -> rel err %.2e vs uninterrupted"
          % (files, worst), flush=True)
    shutil.rmtree(tmp, ignore_errors=True)
print("OK keras_fit rank %d" % r, flush=True)
