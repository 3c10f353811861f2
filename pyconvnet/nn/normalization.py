"""pyconvnet.nn: normalization ops with tf.nn names and semantics.

batch_normalization applies given statistics (inference formula);
moments computes the batch mean and biased variance (the batch-norm kernel);
local_response_normalization / lrn is tf.nn.local_response_normalization.
"""
import operator

import numpy as np

from .. import _C
from .. import autograd as _ag
from ..ops import as_tensor, like_input

__all__ = ["batch_normalization", "moments", "local_response_normalization", "lrn"]


def _per_channel(v, C, op, arg):
    """A statistic broadcastable along the last axis only -> Tensor (C,)."""
    if v is None:
        return None
    t, _ = as_tensor(v, op, arg)
    shape = tuple(t.shape)
    if int(np.prod(shape)) == 1 and C != 1:  # a scalar statistic broadcasts over the channels
        if t.device != "cpu":
            raise ValueError("%s: %s must have %d values on %s, got shape %s" % (op, arg, C, t.device, shape))
        return _C.from_numpy(np.full(C, float(np.asarray(t).reshape(-1)[0]), np.float32))
    if int(np.prod(shape)) != C or (len(shape) > 0 and shape[-1] != C) or len(shape) == 0:
        raise ValueError("%s: %s must hold one value per channel (shape (%d,) or (1, ..., %d)), got shape %s"
                         % (op, arg, C, C, shape))
    return t.reshape(C) if len(shape) != 1 else t


def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """tf.nn.batch_normalization over the last (channel) axis.

    y = (x - mean) * scale / sqrt(variance + variance_epsilon) + offset.
    x (..., C), rank >= 2; mean, variance, offset, scale: C values (offset or
    scale may be None). Returns the caller's kind (NumPy or Tensor).
    """
    op = "batch_normalization"
    t, was_np = as_tensor(x, op, "x")
    if len(t.shape) < 2:
        raise ValueError("%s (batch_norm): x must have rank >= 2, got shape %s" % (op, tuple(t.shape)))
    C = t.shape[-1]
    y = _C.batch_norm_forward_infer(t, _per_channel(scale, C, op, "scale"), _per_channel(offset, C, op, "offset"),
                                    _per_channel(mean, C, op, "mean"), _per_channel(variance, C, op, "variance"),
                                    float(variance_epsilon))
    return like_input(y, was_np)


def moments(x, axes, shift=None, keepdims=False, name=None):
    """tf.nn.moments: (mean, variance) of x over `axes`; the variance is biased.

    Reduced axes are moved to the front (one copy when they are not already the
    leading axes), then the batch-norm statistics kernel reduces the rows.
    Returns NumPy arrays if x was NumPy, else Tensors.
    """
    op = "moments"
    t, was_np = as_tensor(x, op, "x")
    shape = tuple(t.shape)
    nd = len(shape)
    try:
        ax = [operator.index(a) for a in (axes if hasattr(axes, "__len__") else [axes])]
    except TypeError:
        raise TypeError("%s: axes must be ints, got %r" % (op, axes)) from None
    norm = []
    for a in ax:
        if not -nd <= a < nd:
            raise ValueError("%s: axis %d out of range for rank %d" % (op, a, nd))
        norm.append(a % nd)
    red = sorted(set(norm))
    if not red:
        raise ValueError("%s: axes must name at least one axis" % op)
    keep = [a for a in range(nd) if a not in red]
    R = int(np.prod([shape[a] for a in red]))
    K = int(np.prod([shape[a] for a in keep])) if keep else 1
    if R == 0 or K == 0:
        raise ValueError("%s: cannot take moments of an empty reduction (shape %s, axes %r)" % (op, shape, axes))
    if red == list(range(len(red))):
        flat = t.reshape(R, K)
    else:
        if t.device != "cpu":
            raise ValueError("%s: non-leading reduction axes are supported on the CPU only" % op)
        flat = _C.from_numpy(np.ascontiguousarray(np.transpose(np.asarray(t), red + keep)).reshape(R, K))
    _, mean, var = _C.batch_norm_forward_train(flat, None, None, 0.0)
    out_shape = [1 if a in red else shape[a] for a in range(nd)] if keepdims else [shape[a] for a in keep]
    mean, var = mean.reshape(*out_shape), var.reshape(*out_shape)
    return like_input(mean, was_np), like_input(var, was_np)


@_ag.routes_eager(_ag.tfnn_lrn)  # EagerTensors go on the tape
def local_response_normalization(input, depth_radius=5, bias=1, alpha=1, beta=0.5, name=None):
    """tf.nn.local_response_normalization over the channel axis of input (N,H,W,C).

    sqr_sum[a,b,c,d] = sum(input[a,b,c,d-depth_radius:d+depth_radius+1] ** 2)
    output = input / (bias + alpha * sqr_sum) ** beta
    """
    op = "lrn"
    try:
        r = operator.index(depth_radius)
    except TypeError:
        raise TypeError("%s: depth_radius must be an int, got %r" % (op, depth_radius)) from None
    t, was_np = as_tensor(input, op, "input")
    return like_input(_C.lrn_forward(t, r, float(bias), float(alpha), float(beta)), was_np)


lrn = local_response_normalization
