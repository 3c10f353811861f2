"""K steps of SGD (momentum 0.9) on a linear regression: forward and weight
gradient with pcn.matmul (our GEMM kernel); the update is a NumPy SGD on the
stub optimizer because main has no _C.sgd_update_ yet. size ranks with
per-rank batch B must equal one process with batch size*B over the same data
order (to 1e-5 relative), and the ranks must hold bit-identical parameters
after every step. Prints 'OK sgd_equivalence'."""
import _common  # noqa: F401
from _common import check, StubVar, StubModel, StubSGD

import numpy as np

import pyconvnet as pcn
import pyconvnet.distributed as hvd
from pyconvnet.distributed import _fit

hvd.init()
r, n = hvd.rank(), hvd.size()
N, D, O, B, EPOCHS, SEED = 61, 7, 3, 4, 3, 11
data = np.random.default_rng(0)
X = data.standard_normal((N, D)).astype(np.float32)
Y = (X @ data.standard_normal((D, O)) + 0.1 * data.standard_normal((N, O))).astype(np.float32)


def grads(W, b, xb, yb):
    """Mean-squared-error/2 gradients for one batch, GEMMs on pcn kernels."""
    pred = pcn.matmul(pcn.from_numpy(xb), W.value).numpy() + b.numpy()
    res = np.ascontiguousarray((pred - yb) / np.float32(len(xb)))
    gW = pcn.matmul(pcn.from_numpy(xb), pcn.from_numpy(res), transpose_a=True)
    gb = pcn.from_numpy(res.sum(axis=0).astype(np.float32))
    return [gW, gb]


def make(seed):
    g = np.random.default_rng(seed)
    return StubVar(g.standard_normal((D, O)) * 0.1, "dense/kernel"), StubVar(np.zeros(O), "dense/bias")


# distributed run: each rank starts from different values; on_train_begin makes rank 0's authoritative
W, b = make(100 + r)
opt = hvd.DistributedOptimizer(StubSGD(0.05, momentum=0.9))
model = StubModel([W, b], opt)
_fit.on_train_begin(model)
# serial reference in this process: rank 0's initial values, batch n*B in the same data order
Ws, bs = make(100)
sopt = StubSGD(0.05, momentum=0.9)
steps = 0
for ep in range(EPOCHS):
    idx = _fit.epoch_indices(N, ep, True, SEED)
    shards = []
    for k in range(n):
        s = hvd.DistributedSampler(N, k, n, shuffle=True, seed=SEED)
        s.set_epoch(ep)
        shards.append(s.indices())
    check(np.array_equal(shards[r], idx), "sampler and epoch_indices agree")
    for t in range(len(idx) // B):
        sl = idx[t * B:(t + 1) * B]
        opt.apply_gradients(zip(grads(W, b, X[sl], Y[sl]), [W, b]))
        big = np.concatenate([sh[t * B:(t + 1) * B] for sh in shards])
        sopt.apply_gradients(zip(grads(Ws, bs, X[big], Y[big]), [Ws, bs]))
        steps += 1
        # bit-identical across ranks after every step
        mine = np.concatenate([W.numpy().ravel(), b.numpy().ravel()] +
                              [v.numpy().ravel() for v in opt.variables]).view(np.uint32)
        allv = hvd.allgather(mine[None, :])
        check((allv == allv[0]).all(), "step %d: ranks differ bitwise" % steps)
        for got, ref in ((W.numpy(), Ws.numpy()), (b.numpy(), bs.numpy())):
            rel = np.max(np.abs(got - ref)) / max(1e-30, np.max(np.abs(ref)))
            check(rel < 1e-5, "step %d: distributed vs single-process relative error %g" % (steps, rel))
check(steps == EPOCHS * ((N // n) // B), "steps")
_fit.verify_model(model, "end of training")
hvd.shutdown()
if r == 0:
    print("steps %d, final |W - W_serial| = %g" % (steps, float(np.max(np.abs(W.numpy() - Ws.numpy())))))
print("OK sgd_equivalence rank %d" % r, flush=True)
