"""The call sequence Model.fit() will make (a reference for the Keras
integration), on a pcn.matmul linear model with stub variables/optimizer:
on_train_begin -> per epoch epoch_indices -> DistributedOptimizer steps ->
eval_indices + reduce_sums -> MetricAverageCallback -> chief-only checkpoint.
Then: an interrupted run resumed from its checkpoint (fresh model, different
init, restore_checkpoint) ends bit-identical to an uninterrupted run.
Prints 'OK fit_flow'."""
import _common  # noqa: F401
from _common import check, StubVar, StubModel, StubSGD

import os
import shutil
import tempfile

import numpy as np

import pyconvnet as pcn
import pyconvnet.distributed as hvd
from pyconvnet.distributed import _fit

hvd.init()
r, n = hvd.rank(), hvd.size()
N, D, O, B, SEED = 83, 6, 2, 5, 4
data = np.random.default_rng(1)
X = data.standard_normal((N, D)).astype(np.float32)
Y = (X @ data.standard_normal((D, O))).astype(np.float32)


def build(seed):
    g = np.random.default_rng(seed)
    w = [StubVar(g.standard_normal((D, O)) * 0.1, "dense/kernel"), StubVar(np.zeros(O), "dense/bias")]
    opt = hvd.DistributedOptimizer(StubSGD(0.02 * n, momentum=0.9))
    return StubModel(w, opt)


def fit(model, epochs, initial_epoch=0, ckdir=None):
    W, b = model.trainable_weights
    cbs = [hvd.callbacks.MetricAverageCallback(),
           hvd.callbacks.LearningRateWarmupCallback(0.02 * n, warmup_epochs=2, steps_per_epoch=(N // n) // B)]
    for cb in cbs:
        cb.set_model(model)
    if _fit.active():
        _fit.on_train_begin(model)
    for cb in cbs:
        cb.on_train_begin()
    history = []
    for ep in range(initial_epoch, epochs):
        for cb in cbs:
            cb.on_epoch_begin(ep)
        idx = _fit.epoch_indices(N, ep, True, SEED)
        loss = 0.0
        for t in range(len(idx) // B):
            for cb in cbs:
                cb.on_train_batch_begin(t)
            sl = idx[t * B:(t + 1) * B]
            pred = pcn.matmul(pcn.from_numpy(X[sl]), W.value).numpy() + b.numpy()
            res = np.ascontiguousarray((pred - Y[sl]) / np.float32(B))
            loss += float(0.5 * np.sum((pred - Y[sl]) ** 2) / B)
            gW = pcn.matmul(pcn.from_numpy(X[sl]), pcn.from_numpy(res), transpose_a=True)
            model.optimizer.apply_gradients([(gW, W), (pcn.from_numpy(res.sum(0).astype(np.float32)), b)])
            for cb in cbs:
                cb.on_train_batch_end(t)
        logs = {"loss": loss / (len(idx) // B)}
        e = _fit.eval_indices(N)   # exact shares, no duplicates
        pe = pcn.matmul(pcn.from_numpy(X[e]), W.value).numpy() + b.numpy()
        s = _fit.reduce_sums(np.array([float(np.sum((pe - Y[e]) ** 2)), float(len(e))]))
        logs["val_mse"] = s[0] / s[1]
        for cb in cbs:
            cb.on_epoch_end(ep, logs)
        history.append(logs)
        if ckdir is not None and _fit.is_chief():
            hvd.save_checkpoint(os.path.join(ckdir, "ckpt-%d.npz" % (ep + 1)), model, epoch=ep + 1,
                                step=(ep + 1) * (len(idx) // B))
    return history


ckdir = hvd.broadcast_object(tempfile.mkdtemp(prefix="pcn_fit_") if r == 0 else None, 0)
# A: 4 epochs straight
a = build(10 + r)
ha = fit(a, 4)
# B: 2 epochs with checkpoints, then a fresh process state resumes from the latest
b1 = build(10 + r)  # same start as A
fit(b1, 2, ckdir=ckdir)
hvd.barrier()
b2 = build(90 + r)
latest = hvd.broadcast_object(hvd.latest_checkpoint(ckdir) if r == 0 else None, 0)
check(latest.endswith("ckpt-2.npz"), "latest checkpoint")
ck = hvd.restore_checkpoint(latest, b2)
hb = fit(b2, 4, initial_epoch=ck["epoch"])
for va, vb in zip(a.weights + a.optimizer.variables, b2.weights + b2.optimizer.variables):
    check(np.array_equal(va.numpy(), vb.numpy()), "resumed run differs from the uninterrupted one: %s" % va.name)
check(abs(ha[-1]["val_mse"] - hb[-1]["val_mse"]) == 0.0, "same final validation metric")
check(ha[-1]["val_mse"] < ha[0]["val_mse"], "training makes progress")
allloss = hvd.allgather(np.array([ha[-1]["loss"]]))
check(np.all(allloss == allloss[0]), "MetricAverageCallback: every rank logs the same loss")
_fit.verify_model(a, "end")
hvd.barrier()
if r == 0:
    shutil.rmtree(ckdir)
    print("val_mse by epoch:", ["%.4f" % h["val_mse"] for h in ha])
print("OK fit_flow rank %d" % r, flush=True)
