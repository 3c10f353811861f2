"""The hooks Model.fit()/evaluate() call when training on several ranks.

fit() checks active() and then calls: on_train_begin(model) once,
epoch_indices(n, epoch, shuffle, seed) every epoch, reduce_sums(...) for
metrics/evaluation, eval_indices(n) for evaluate(), and is_chief() to decide
who prints progress bars and writes checkpoints.
"""
import numpy as np

from . import core
from .core import DistributedError, _state, collective
from .sampler import DistributedSampler, eval_shard

__all__ = ["active", "epoch_indices", "on_train_begin", "eval_indices", "reduce_sums", "is_chief",
           "broadcast_model", "verify_model"]


def active():
    """True when init() was called and there is more than one rank."""
    return core.is_initialized() and _state.size > 1


def is_chief():
    """True on rank 0 (or when not distributed): print progress bars, write checkpoints."""
    return not core.is_initialized() or _state.rank == 0


def _check_same_n(n, what):
    core._check_agree(what, np.array([n], np.int64), "a dataset of size")


def epoch_indices(n, epoch, shuffle=True, seed=0):
    """This rank's training indices for `epoch` (np.int64 array).

    A permutation seeded by (seed, epoch), identical on every rank, with the
    uneven tail dropped and dealt rank::size: every rank gets n // size
    indices, so every rank runs the same number of steps. The ranks first
    check that they all passed the same n (a DistributedError names the rank
    that did not, instead of a hang at the end of the epoch).
    """
    if active():
        _check_same_n(int(n), "fit (epoch_indices)")
    if seed is None:
        # no seed given: draw one from rank 0's global NumPy RNG (so np.random.seed()
        # still controls the order)
        seed = int(np.random.randint(0, 2 ** 31 - 1))
    if active():
        # fit() draws its seed from each process's own generator, which differs across
        # ranks unless every rank seeded it alike: rank 0's seed is the one used, so the
        # ranks' shards always partition one permutation (no sample seen twice per epoch)
        seed = int(core.broadcast(np.array([seed], np.int64), 0)[0])
    s = DistributedSampler(n, _state.rank if active() else 0, _state.size if active() else 1,
                           shuffle=bool(shuffle), seed=seed, drop_last=True)
    s.set_epoch(epoch)
    return s.indices()


def eval_indices(n):
    """This rank's exact contiguous share of range(n) for evaluate/predict
    (no padding, no duplicates; shares may differ by one)."""
    if not active():
        return np.arange(int(n), dtype=np.int64)
    _check_same_n(int(n), "evaluate (eval_indices)")
    a, b = eval_shard(n, _state.rank, _state.size)
    return np.arange(a, b, dtype=np.int64)


def reduce_sums(x):
    """Elementwise sum over ranks of a float64 array (e.g. [loss_sum, correct, count])."""
    a = np.array(x, dtype=np.float64, copy=True).reshape(-1) if np.ndim(x) else np.array([x], np.float64)
    if active():
        core._check_agree("reduce_sums", np.array([a.size], np.int64), "an array of size")
        with collective("reduce_sums", a.nbytes):
            _state.comm.Allreduce(_state.IN_PLACE, a, op=_state.MPI.SUM)
    return a.reshape(np.shape(x)) if np.ndim(x) else a


def _variables(model):
    ws = list(getattr(model, "weights", []))
    opt = getattr(model, "optimizer", None)
    ovs = list(getattr(opt, "variables", []) or []) if opt is not None else []
    if callable(getattr(opt, "variables", None)) and not ovs:
        try:
            ovs = list(opt.variables())
        except TypeError:
            ovs = []
    return ws, ovs


def _arr(v):
    a = v.numpy() if hasattr(v, "numpy") else np.asarray(v)
    return np.ascontiguousarray(np.asarray(a))


def _names(vs, prefix):
    return [str(getattr(v, "name", None) or getattr(v, "path", None) or "%s[%d]" % (prefix, i))
            for i, v in enumerate(vs)]


def broadcast_variables(variables, root_rank=0, what="model.weights"):
    """Broadcast variables (objects with .numpy()/.assign()) from root_rank in place."""
    if not active() or not variables:
        return
    arrays = [_arr(v) for v in variables]
    specs = [(a.shape, a.dtype) for a in arrays]
    core._check_fingerprint("broadcast " + what, core._fingerprint(specs), specs, _names(variables, what))
    for v, a in zip(variables, arrays):
        buf = a.copy()  # never Bcast into a variable's own storage; assign() below is the one write
        with collective("broadcast", buf.nbytes):
            _state.comm.Bcast(buf, root=root_rank)
        if _state.rank != root_rank:
            v.assign(buf)


def broadcast_model(model, root_rank=0):
    """Broadcast weights (incl. BatchNorm statistics) and optimizer variables from root_rank."""
    ws, ovs = _variables(model)
    broadcast_variables(ws, root_rank, "model.weights")
    broadcast_variables(ovs, root_rank, "optimizer.variables")
    return len(ovs)


def _checksums(arrays):
    out = np.zeros(len(arrays), np.int64)
    for i, a in enumerate(arrays):
        out[i] = zlib_crc(a)
    return out


def zlib_crc(a):
    import zlib
    return zlib.crc32(memoryview(np.ascontiguousarray(a)).cast("B"))


def verify_model(model, what="on_train_begin"):
    """Prove every rank holds identical parameters: crc32 of every variable,
    compared across ranks; a DistributedError names the first rank and the first
    variable that differ from rank 0."""
    if not active():
        return
    ws, ovs = _variables(model)
    vs = ws + ovs
    names = _names(ws, "weight") + _names(ovs, "optimizer")
    arrays = [_arr(v) for v in vs]
    specs = [(a.shape, a.dtype) for a in arrays]
    core._check_fingerprint("fit (%s)" % what, core._fingerprint(specs), specs, names)
    mine = _checksums(arrays)
    table = np.empty((_state.size, mine.size), np.int64)
    with collective("checksum", mine.nbytes):
        _state.comm.Allgather(mine, table)
    bad = np.argwhere(table != table[0])
    if bad.size:
        r, i = int(bad[0][0]), int(bad[0][1])
        raise DistributedError(
            "fit (%s): after the broadcast from rank 0, rank %d holds different values of variable #%d '%s' "
            "(crc32 %08x, rank 0 has %08x; this rank is %d). Does the model assign its variables in a way "
            "broadcast cannot see?" % (what, r, i, names[i], table[r, i] & 0xFFFFFFFF, table[0, i] & 0xFFFFFFFF,
                                       _state.rank))


def on_train_begin(model):
    """Broadcast weights, BatchNorm statistics and optimizer state from rank 0,
    then verify (checksum) that every rank holds identical values.

    If the optimizer has no variables yet (built lazily by its first step), the
    DistributedOptimizer broadcasts and verifies them right after its first
    apply_gradients (horovod's BroadcastGlobalVariablesCallback does the same
    at the end of the first batch).
    """
    if not active():
        return
    broadcast_model(model, 0)
    verify_model(model, "on_train_begin")


def broadcast_and_verify(variables, what, root_rank=0):
    """Broadcast a list of variables from root_rank, then checksum-compare them."""
    if not active() or not variables:
        return
    broadcast_variables(variables, root_rank, what)
    arrays = [_arr(v) for v in variables]
    names = _names(variables, what)
    mine = _checksums(arrays)
    table = np.empty((_state.size, mine.size), np.int64)
    with collective("checksum", mine.nbytes):
        _state.comm.Allgather(mine, table)
    bad = np.argwhere(table != table[0])
    if bad.size:
        r, i = int(bad[0][0]), int(bad[0][1])
        raise DistributedError("%s: after the broadcast, rank %d holds different values of variable #%d '%s' "
                               "(this rank is %d)" % (what, r, i, names[i], _state.rank))
