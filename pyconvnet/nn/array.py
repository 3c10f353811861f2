"""tf.nn array ops: embedding_lookup, space_to_depth, depth_to_space.

Composed from the tape's ops (reshape, transpose, one_hot, matmul), so they are
differentiable when given EagerTensors; NumPy in -> NumPy out, Tensor -> Tensor.
"""
import operator

import numpy as np

from .. import _C
from .. import autograd as _ag
from ._eager import lift, lower, UnsupportedError

__all__ = ["embedding_lookup", "space_to_depth", "depth_to_space"]


def _ids(ids, op):
    v = ids.value if isinstance(ids, _ag.EagerTensor) else ids
    if isinstance(v, _C.Tensor):
        if v.dtype not in ("int32", "int64"):
            raise TypeError("%s: ids must be integers, got %s" % (op, v.dtype))
        return np.asarray(v.numpy() if v.device == "cpu" else v.to("cpu").numpy())
    a = np.asarray(v)
    if a.dtype.kind not in "iu":
        raise TypeError("%s: ids must be integers, got dtype %s" % (op, a.dtype))
    return a


def embedding_lookup(params, ids, max_norm=None, name=None):
    """tf.nn.embedding_lookup: rows of params (V, ...) picked by integer ids (any
    shape) -> ids.shape + params.shape[1:]. Out-of-range ids raise ValueError
    (TF on the CPU raises too). max_norm: each looked-up row with a larger
    L2 norm is scaled down to max_norm. A list of params shards is not supported.
    """
    op = "embedding_lookup"
    if isinstance(params, (list, tuple)):
        if len(params) != 1:
            raise UnsupportedError("%s: sharded params (a list of %d tensors) are not supported; pass one tensor"
                                   % (op, len(params)))
        params = params[0]
    p, kind = lift(params, op, "params")
    if len(p.shape) < 1:
        raise ValueError("%s: params must have rank >= 1, got a scalar" % op)
    idx = _ids(ids, op)
    V = p.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= V):
        bad = idx[(idx < 0) | (idx >= V)].reshape(-1)[0]
        raise ValueError("%s: id %d is out of range [0, %d)" % (op, int(bad), V))
    inner = list(p.shape[1:])
    D = int(np.prod(inner)) if inner else 1
    flat_ids = idx.reshape(-1)
    if kind == "eager":
        # differentiable gather: one_hot(ids) @ params  (N, V) @ (V, D)
        oh = _ag.EagerTensor(_C.tensor(np.ascontiguousarray(np.eye(V, dtype=np.float32)[flat_ids]) if V else
                                       np.zeros((flat_ids.size, 0), np.float32), device=p.value.device))
        rows = _ag.matmul(oh, _ag.reshape(p, [V, D]))
    else:
        host = np.asarray(p.value if p.value.device == "cpu" else p.value.to("cpu"))
        rows = _ag.EagerTensor(_C.tensor(np.ascontiguousarray(host.reshape(V, D)[flat_ids]), device=p.value.device))
    if max_norm is not None:
        mn = float(max_norm)
        norms = _ag.unary("sqrt", _ag.reduce("sum", _ag.unary("square", rows), [1], True))
        rows = _ag.multiply(rows, _ag.divide(mn, _ag.maximum(norms, mn)))
    return lower(_ag.reshape(rows, list(idx.shape) + inner), kind)


def _block(block_size, op):
    try:
        b = operator.index(block_size)
    except TypeError:
        raise TypeError("%s: block_size must be an int, got %r" % (op, block_size)) from None
    if b < 2:
        raise ValueError("%s: block_size must be >= 2, got %d" % (op, b))
    return b


def _check_nhwc(x, data_format, op):
    if data_format not in (None, "NHWC"):
        if data_format in ("NCHW", "NCHW_VECT_C"):
            raise UnsupportedError("%s: data_format=%r is not supported (NHWC only)" % (op, data_format))
        raise ValueError("%s: data_format must be 'NHWC', got %r" % (op, data_format))
    if len(x.shape) != 4:
        raise ValueError("%s: input must be 4-D (N, H, W, C), got shape %s" % (op, tuple(x.shape)))


def space_to_depth(input, block_size, data_format="NHWC", name=None):
    """tf.nn.space_to_depth: (N, H, W, C) -> (N, H/b, W/b, b*b*C); output channel
    (i*b + j)*C + c holds input[n, h*b + i, w*b + j, c]. H and W must divide by b."""
    op = "space_to_depth"
    b = _block(block_size, op)
    x, kind = lift(input, op, "input")
    _check_nhwc(x, data_format, op)
    n, h, w, c = x.shape
    if h % b or w % b:
        raise ValueError("%s: height %d and width %d must be divisible by block_size %d" % (op, h, w, b))
    y = _ag.reshape(x, [n, h // b, b, w // b, b, c])
    y = _ag.transpose(y, [0, 1, 3, 2, 4, 5])
    return lower(_ag.reshape(y, [n, h // b, w // b, b * b * c]), kind)


def depth_to_space(input, block_size, data_format="NHWC", name=None):
    """tf.nn.depth_to_space: (N, H, W, b*b*C) -> (N, H*b, W*b, C), the inverse of space_to_depth."""
    op = "depth_to_space"
    b = _block(block_size, op)
    x, kind = lift(input, op, "input")
    _check_nhwc(x, data_format, op)
    n, h, w, c = x.shape
    if c % (b * b):
        raise ValueError("%s: channels %d must be divisible by block_size**2 = %d" % (op, c, b * b))
    co = c // (b * b)
    y = _ag.reshape(x, [n, h, w, b, b, co])
    y = _ag.transpose(y, [0, 1, 3, 2, 4, 5])
    return lower(_ag.reshape(y, [n, h * b, w * b, co]), kind)
