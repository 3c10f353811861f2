"""pyconvnet.nn: pooling ops with tf.nn names and semantics (NHWC).

max_pool / avg_pool (aliases max_pool2d / avg_pool2d) follow tf.nn.max_pool:
ksize and strides are an int, 1, 2 or 4 values (4 values over N,H,W,C; the
batch entry must be 1; a channel entry > 1 pools over depth, like
tf.nn.max_pool with ksize (1,1,1,k); spatial and depth windows may be
combined). The depth axis is never padded: its output size is
(C - kc) // sc + 1. padding is "VALID"/"SAME" (TensorFlow arithmetic, extra pad
at the bottom/right), 4 ints [top, bottom, left, right], or TF's explicit form
[[0,0],[top,bottom],[left,right],[0,0]]. Explicit pads may reach or exceed the
window: a window made only of padding outputs 0 and gets no gradient.

avg_pool divides by the number of non-padding elements in each window (TF).
max_pool treats padding as -inf; a NaN in a window gives NaN.
A rank-3 input (N,W,C) to max_pool / avg_pool is pooled in 1-D (as tf.nn
dispatches on the input's rank; max_pool1d / avg_pool1d); rank 5 (3-D
pooling) raises NotImplementedError. `pool(input, window_shape, pooling_type)`
is tf.nn.pool for 1-D and 2-D windows (dilation_rate 1 only).
EagerTensor inputs go on the tape.
"""
import operator

import numpy as np

from .. import _C
from .. import autograd as _ag
from ..ops import like_input
from ._eager import as_tensor
from ._eager import UnsupportedError

__all__ = ["max_pool", "avg_pool", "max_pool2d", "avg_pool2d", "max_pool1d", "avg_pool1d", "pool",
           "global_avg_pool", "global_max_pool"]


def _ints(v, op, arg):
    try:
        if isinstance(v, (list, tuple)) or hasattr(v, "__len__"):
            return [operator.index(a) for a in v]
        return [operator.index(v)]
    except TypeError:
        raise TypeError("%s: %s must be an int or a sequence of ints, got %r" % (op, arg, v)) from None


def _window_arg(v, op, arg):
    """ksize/strides in tf.nn form -> (h, w, c)."""
    a = _ints(v, op, arg)
    if len(a) == 1:
        return (a[0], a[0], 1)
    if len(a) == 2:
        return (a[0], a[1], 1)
    if len(a) == 4:
        if a[0] != 1:
            raise ValueError("%s: %s over (N,H,W,C) must have 1 for the batch entry, got %r" % (op, arg, a))
        return (a[1], a[2], a[3])
    raise ValueError("%s: %s must be an int or 1, 2 or 4 values, got %r" % (op, arg, a))


def _padding_arg(padding, op):
    if isinstance(padding, str):
        return padding
    if hasattr(padding, "tolist"):  # NumPy array of 4 ints or 4 pairs
        padding = padding.tolist()
    try:
        p = list(padding)
    except TypeError:
        raise TypeError("%s: padding must be 'VALID', 'SAME' or explicit ints, got %r" % (op, padding)) from None
    if len(p) == 4 and all(isinstance(q, (list, tuple)) for q in p):
        pairs = [_ints(q, op, "padding") for q in p]
        if any(len(q) != 2 for q in pairs):
            raise ValueError("%s: explicit padding must be 4 pairs over (N,H,W,C), got %r" % (op, padding))
        if pairs[0] != [0, 0] or pairs[3] != [0, 0]:
            raise ValueError("%s: explicit padding of the batch and channel axes must be 0, got %r" % (op, padding))
        return [pairs[1][0], pairs[1][1], pairs[2][0], pairs[2][1]]
    return _ints(p, op, "padding")


def _check_format(data_format, op, ok=(None, "NHWC")):
    if data_format in ok:
        return
    if data_format in ("NCHW", "NCW", "NCDHW", "NCHW_VECT_C", "channels_first"):
        raise UnsupportedError("%s: data_format=%r is not supported: pyconvnet pools channels-last "
                                  "(NHWC / NWC) tensors only" % (op, data_format))
    raise ValueError("%s: data_format must be %s, got %r" % (op, " or ".join(repr(f) for f in ok if f), data_format))


def _pool(mode, op, input, ksize, strides, padding, data_format):
    _check_format(data_format, op)
    x, was_np = as_tensor(input, op, "input")
    k = _window_arg(ksize, op, "ksize")
    s = _window_arg(strides, op, "strides")
    y = _C.pool2d_forward(x, mode, k, s, _padding_arg(padding, op))
    return like_input(y, was_np)


@_ag.routes_eager(_ag.tfnn_max_pool)  # EagerTensors (Keras layers, Lambda) go on the tape
def max_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):
    """tf.nn.max_pool2d: input (N,H,W,C) -> (N,OH,OW,OC). See the module docstring."""
    return _pool("max", "max_pool2d", input, ksize, strides, padding, data_format)


@_ag.routes_eager(_ag.tfnn_avg_pool)
def avg_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):
    """tf.nn.avg_pool2d: input (N,H,W,C) -> (N,OH,OW,OC); divides by the non-padding count."""
    return _pool("avg", "avg_pool2d", input, ksize, strides, padding, data_format)


def _rank(x):
    if isinstance(x, (_C.Tensor, _ag.EagerTensor)):
        return len(x.shape)
    return np.ndim(x)


def _reshape(x, shape):
    """Reshape keeping the caller's kind (EagerTensor on the tape, Tensor, NumPy)."""
    if isinstance(x, _ag.EagerTensor):
        return _ag.reshape(x, shape)
    if isinstance(x, _C.Tensor):
        return (x if x.is_contiguous() else x.contiguous()).reshape(list(shape))
    return np.reshape(x, shape)


def _window1d(v, op, arg):
    """tf.nn 1-D ksize/strides (int, [k] or [1, k, 1]) -> [1, k] for the 2-D kernels."""
    a = _ints(v, op, arg)
    if len(a) == 1:
        return [1, a[0]]
    if len(a) == 3:
        if a[0] != 1 or a[2] != 1:
            raise ValueError("%s: %s over (N,W,C) must be [1, k, 1], got %r" % (op, arg, a))
        return [1, a[1]]
    raise ValueError("%s: %s must be an int or 1 or 3 values for a 1-D pool, got %r" % (op, arg, a))


def _pool1d(fn2d, op, input, ksize, strides, padding, data_format):
    _check_format(data_format, op, (None, "NWC"))
    if _rank(input) != 3:
        raise ValueError("%s: input must be 3-D (N, W, C), got rank %d" % (op, _rank(input)))
    if not isinstance(padding, str):
        raise ValueError("%s: padding must be 'VALID' or 'SAME' for a 1-D pool, got %r" % (op, padding))
    x = input if isinstance(input, (_C.Tensor, _ag.EagerTensor)) else as_tensor(input, op, "input")[0]
    was_np = not isinstance(input, (_C.Tensor, _ag.EagerTensor))
    n, w, c = x.shape
    y = fn2d(_reshape(x, [n, 1, w, c]), _window1d(ksize, op, "ksize"), _window1d(strides, op, "strides"), padding)
    y = _reshape(y, [y.shape[0], y.shape[2], y.shape[3]])
    return like_input(y, was_np) if was_np else y


def max_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):
    """tf.nn.max_pool1d: input (N,W,C) -> (N,OW,C); ksize/strides an int, [k] or [1,k,1]."""
    return _pool1d(max_pool2d, "max_pool1d", input, ksize, strides, padding, data_format)


def avg_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):
    """tf.nn.avg_pool1d: input (N,W,C) -> (N,OW,C); divides by the non-padding count."""
    return _pool1d(avg_pool2d, "avg_pool1d", input, ksize, strides, padding, data_format)


def _by_rank(op, fn1d, fn2d, input, ksize, strides, padding, data_format):
    r = _rank(input)
    if r == 3:
        return fn1d(input, ksize, strides, padding, None if data_format == "NHWC" else data_format)
    if r == 5:
        raise UnsupportedError("%s: 3-D pooling (a rank-5 input) is not supported" % op)
    if r != 4:
        raise ValueError("%s: input must be 3-D (N,W,C) or 4-D (N,H,W,C), got rank %d" % (op, r))
    return fn2d(input, ksize, strides, padding, data_format)


def max_pool(input, ksize, strides, padding, data_format=None, name=None):
    """tf.nn.max_pool: input (N,H,W,C) -> (N,OH,OW,OC), or (N,W,C) -> (N,OW,C).
    See the module docstring."""
    return _by_rank("max_pool", max_pool1d, max_pool2d, input, ksize, strides, padding, data_format)


def avg_pool(input, ksize, strides, padding, data_format=None, name=None):
    """tf.nn.avg_pool: input (N,H,W,C) -> (N,OH,OW,OC), or (N,W,C) -> (N,OW,C);
    divides by the non-padding count."""
    return _by_rank("avg_pool", avg_pool1d, avg_pool2d, input, ksize, strides, padding, data_format)


def pool(input, window_shape, pooling_type, strides=None, padding="VALID", data_format=None,
         dilations=None, name=None):
    """tf.nn.pool for 1-D and 2-D windows: input (N,W,C) or (N,H,W,C).

    window_shape: one int per spatial axis; pooling_type "MAX" or "AVG";
    strides: None (all 1) or one int per spatial axis; padding "VALID"/"SAME".
    dilations other than 1 raise NotImplementedError.
    """
    op = "pool"
    ws = _ints(window_shape, op, "window_shape")
    nsp = len(ws)
    if nsp not in (1, 2, 3):
        raise ValueError("%s: window_shape must have 1 to 3 entries, got %r" % (op, window_shape))
    if _rank(input) != nsp + 2:
        raise ValueError("%s: input rank %d must be len(window_shape) + 2 = %d" % (op, _rank(input), nsp + 2))
    if nsp == 3:
        raise UnsupportedError("%s: 3-D pooling is not supported" % op)
    st = [1] * nsp if strides is None else _ints(strides, op, "strides")
    if len(st) != nsp:
        raise ValueError("%s: strides must have %d entries (one per spatial axis), got %r" % (op, nsp, strides))
    if dilations is not None:
        d = _ints(dilations, op, "dilations")
        if len(d) != nsp:
            raise ValueError("%s: dilations must have %d entries, got %r" % (op, nsp, dilations))
        if any(v != 1 for v in d):
            if any(v != 1 for v in st):
                raise ValueError("%s: strides > 1 not supported in conjunction with dilation_rate > 1" % op)
            raise NotImplementedError("%s: dilations > 1 are not supported, got %r" % (op, dilations))
    kind = str(pooling_type).upper()
    if kind not in ("MAX", "AVG"):
        raise ValueError("%s: pooling_type must be 'MAX' or 'AVG', got %r" % (op, pooling_type))
    if not isinstance(padding, str) or padding.upper() not in ("VALID", "SAME"):
        raise ValueError("%s: padding must be 'VALID' or 'SAME', got %r" % (op, padding))
    if nsp == 1:
        fn = max_pool1d if kind == "MAX" else avg_pool1d
        return fn(input, ws, st, padding, None if data_format in (None, "NWC") else data_format)
    fn = max_pool2d if kind == "MAX" else avg_pool2d
    return fn(input, ws, st, padding, data_format)


@_ag.routes_eager(_ag.tfnn_global_avg_pool)  # not in tf.nn: the Keras GlobalAveragePooling2D op
def global_avg_pool(x):
    """Mean over H and W: x (N,H,W,C) -> (N,C) (Keras GlobalAveragePooling2D)."""
    t, was_np = as_tensor(x, "global_avg_pool", "x")
    return like_input(_C.global_pool_forward(t, "avg"), was_np)


@_ag.routes_eager(_ag.tfnn_global_max_pool)
def global_max_pool(x):
    """Max over H and W: x (N,H,W,C) -> (N,C) (Keras GlobalMaxPooling2D)."""
    t, was_np = as_tensor(x, "global_max_pool", "x")
    return like_input(_C.global_pool_forward(t, "max"), was_np)
