"""tf.nn utilities that are not layers: top_k, in_top_k, zero_fraction.

The selections (sorting, ranking) run in NumPy on the host: they are
evaluation helpers, not part of a training step. top_k's values are
differentiable (a one-hot gather on the tape) when the input is an EagerTensor.
"""
import operator

import numpy as np

from .. import _C
from .. import autograd as _ag
from ._eager import as_tensor

__all__ = ["top_k", "in_top_k", "zero_fraction"]


def _host(x, op, arg):
    """x as a float32 NumPy array on the host, and whether the caller gave NumPy."""
    if isinstance(x, _ag.EagerTensor):
        x = x.value
    t, was_np = as_tensor(x, op, arg)
    return np.asarray(t if t.device == "cpu" else t.to("cpu")), was_np


def top_k(input, k=1, sorted=True, index_type="int32", name=None):
    """tf.nn.top_k / tf.math.top_k: the k largest entries along the last axis.

    input (..., n), k in [0, n] -> (values (..., k), indices (..., k) int32).
    Equal values keep their order (the lower index first), as TF. NaN ranks
    above every number. With sorted=False the values are still sorted (allowed).
    """
    op = "top_k"
    try:
        k = operator.index(k)
    except TypeError:
        raise TypeError("%s: k must be an int, got %r" % (op, k)) from None
    a, was_np = _host(input, op, "input")
    if a.ndim < 1:
        raise ValueError("%s: input must have rank >= 1, got a scalar" % op)
    n = a.shape[-1]
    if not 0 <= k <= n:
        raise ValueError("%s: k must be in [0, %d] (the last dimension), got %d" % (op, n, k))
    itype = np.dtype(index_type if isinstance(index_type, str) else getattr(index_type, "name", index_type))
    if itype not in (np.dtype(np.int32), np.dtype(np.int64), np.dtype(np.int16)):
        raise TypeError("%s: index_type must be int16, int32 or int64, got %r" % (op, index_type))
    key = np.where(np.isnan(a), np.inf, -a)  # NaN first, then descending
    key = np.where(np.isnan(a), -np.inf, key)
    idx = np.argsort(key, axis=-1, kind="stable")[..., :k]
    vals = np.take_along_axis(a, idx, axis=-1).astype(np.float32)
    idx = idx.astype(itype)
    if isinstance(input, _ag.EagerTensor):
        if k == 0 or a.size == 0:
            return _ag.EagerTensor(_C.from_numpy(np.ascontiguousarray(vals))), _C.from_numpy(np.ascontiguousarray(idx))
        lead = list(a.shape[:-1])
        onehot = (idx[..., :, None] == np.arange(n)).astype(np.float32)       # (..., k, n)
        sel = _ag.EagerTensor(_C.tensor(np.ascontiguousarray(onehot), device=input.value.device))
        xe = _ag.reshape(input, lead + [1, n])
        v = _ag.reduce("sum", _ag.multiply(xe, sel), [len(lead) + 1])
        return v, _C.from_numpy(np.ascontiguousarray(idx))
    if was_np:
        return vals, idx
    return _C.from_numpy(np.ascontiguousarray(vals)), _C.from_numpy(np.ascontiguousarray(idx))


def in_top_k(targets, predictions, k, name=None):
    """tf.nn.in_top_k (TF2 argument order): is targets[i] among the k largest predictions[i]?

    targets (N,) int; predictions (N, C) float -> (N,) bool. Ties at the
    boundary count as in (TF: fewer than k entries strictly greater); a
    non-finite prediction row or an out-of-range target gives False.
    """
    op = "in_top_k"
    p, _ = _host(predictions, op, "predictions")
    t = np.asarray(targets.value if isinstance(targets, _ag.EagerTensor) else targets)
    if t.dtype.kind not in "iu":
        raise TypeError("%s: targets must be integers, got dtype %s" % (op, t.dtype))
    if p.ndim != 2 or t.shape != (p.shape[0],):
        raise ValueError("%s: predictions must be (N, C) and targets (N,), got %s and %s" % (op, p.shape, t.shape))
    try:
        k = operator.index(k)
    except TypeError:
        raise TypeError("%s: k must be an int, got %r" % (op, k)) from None
    C = p.shape[1]
    ok = (t >= 0) & (t < C)
    tv = p[np.arange(p.shape[0]), np.clip(t, 0, max(C - 1, 0))] if C else np.zeros(p.shape[0], np.float32)
    greater = (p > tv[:, None]).sum(axis=1)
    finite = np.isfinite(p).all(axis=1)
    return ok & finite & (greater < k)


def zero_fraction(value, name=None):
    """tf.nn.zero_fraction: the fraction of entries equal to 0, a float32 scalar."""
    a, was_np = _host(value, "zero_fraction", "value")
    r = np.float32(np.count_nonzero(a == 0) / a.size) if a.size else np.float32(np.nan)
    return np.asarray(r, np.float32)
