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
"""
import operator

from .. import _C
from .. import autograd as _ag
from ..ops import as_tensor, like_input

__all__ = ["max_pool", "avg_pool", "max_pool2d", "avg_pool2d", "global_avg_pool", "global_max_pool"]


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


def _pool(mode, op, input, ksize, strides, padding, data_format):
    if data_format not in (None, "NHWC"):
        raise ValueError("%s: only data_format='NHWC' is supported, got %r" % (op, data_format))
    x, was_np = as_tensor(input, op, "input")
    k = _window_arg(ksize, op, "ksize")
    s = _window_arg(strides, op, "strides")
    y = _C.pool2d_forward(x, mode, k, s, _padding_arg(padding, op))
    return like_input(y, was_np)


@_ag.routes_eager(_ag.tfnn_max_pool)  # EagerTensors (Keras layers, Lambda) go on the tape
def max_pool(input, ksize, strides, padding, data_format="NHWC", name=None):
    """tf.nn.max_pool: input (N,H,W,C) -> (N,OH,OW,OC). See the module docstring."""
    return _pool("max", "max_pool", input, ksize, strides, padding, data_format)


@_ag.routes_eager(_ag.tfnn_avg_pool)
def avg_pool(input, ksize, strides, padding, data_format="NHWC", name=None):
    """tf.nn.avg_pool: input (N,H,W,C) -> (N,OH,OW,OC); divides by the non-padding count."""
    return _pool("avg", "avg_pool", input, ksize, strides, padding, data_format)


max_pool2d = max_pool
avg_pool2d = avg_pool


@_ag.routes_eager(_ag.tfnn_global_avg_pool)
def global_avg_pool(x):
    """Mean over H and W: x (N,H,W,C) -> (N,C) (Keras GlobalAveragePooling2D)."""
    t, was_np = as_tensor(x, "global_avg_pool", "x")
    return like_input(_C.global_pool_forward(t, "avg"), was_np)


@_ag.routes_eager(_ag.tfnn_global_max_pool)
def global_max_pool(x):
    """Max over H and W: x (N,H,W,C) -> (N,C) (Keras GlobalMaxPooling2D)."""
    t, was_np = as_tensor(x, "global_max_pool", "x")
    return like_input(_C.global_pool_forward(t, "max"), was_np)
