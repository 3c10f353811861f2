"""pyconvnet.nn: normalization ops with tf.nn names and semantics.

batch_normalization applies given statistics (inference formula);
moments computes the batch mean and biased variance (the batch-norm kernel);
local_response_normalization / lrn is tf.nn.local_response_normalization;
l2_normalize is tf.nn.l2_normalize. EagerTensor inputs go on the tape.
"""
import numbers
import operator

import numpy as np

from .. import _C
from .. import autograd as _ag
from ..ops import like_input
from ._eager import as_tensor
from ._eager import any_eager, lift, lower, const

__all__ = ["batch_normalization", "moments", "local_response_normalization", "lrn", "l2_normalize",
           "sufficient_statistics", "normalize_moments", "weighted_moments"]


def _is_per_channel(v, C):
    if v is None:
        return True
    if isinstance(v, _ag.EagerTensor):
        return False
    shape = tuple(v.shape) if isinstance(v, _C.Tensor) else np.shape(v)
    n = int(np.prod(shape)) if shape else 1
    return n == 1 or (n == C and len(shape) >= 1 and shape[-1] == C)


def _bn_composed(x, mean, variance, offset, scale, eps, op):
    """TF's formula with broadcasting: x * inv + (offset - mean * inv), inv = rsqrt(var + eps) * scale."""
    xe, kind = lift(x, op, "x")

    def arg(v, name):
        if v is None or isinstance(v, _ag.EagerTensor):
            return v
        if isinstance(v, numbers.Real) and not isinstance(v, bool):
            return float(v)
        return const(v, op, name, xe.value)
    m, v, o, s = arg(mean, "mean"), arg(variance, "variance"), arg(offset, "offset"), arg(scale, "scale")
    for t, name in ((m, "mean"), (v, "variance"), (o, "offset"), (s, "scale")):
        if t is not None and not isinstance(t, float):
            try:
                np.broadcast_shapes(tuple(t.shape), tuple(xe.shape))
            except ValueError:
                raise ValueError("%s: %s shape %s does not broadcast against x shape %s"
                                 % (op, name, tuple(t.shape), tuple(xe.shape))) from None
    if isinstance(v, float):
        inv = _ag.EagerTensor(_C.tensor(np.array([1.0 / np.sqrt(v + eps)], np.float32), device=xe.value.device))
    else:
        inv = _ag.unary("rsqrt", _ag.add(v, eps))
    if s is not None:
        inv = _ag.multiply(inv, s)
    shift = _ag.negative(_ag.multiply(m, inv)) if o is None else _ag.subtract(o, _ag.multiply(m, inv))
    y = _ag.add(_ag.multiply(xe, inv), shift)
    if tuple(y.shape) != tuple(xe.shape):
        raise ValueError("%s: the statistics broadcast x %s to %s; they must broadcast to x's shape"
                         % (op, tuple(xe.shape), tuple(y.shape)))
    eager = kind == "eager" or any_eager(mean, variance, offset, scale)
    return lower(y, "eager" if eager else kind)


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
    x: any shape; mean, variance, offset, scale: arrays broadcastable to x (one
    value per channel, the (1, 1, 1, C) statistics of moments(keepdims=True),
    per-instance (N, 1, 1, C), scalars...); offset or scale may be None.
    Per-channel statistics run the fused inference kernel; other shapes and
    EagerTensors (the tape) use the broadcasting composition.
    Returns the caller's kind (NumPy, Tensor or EagerTensor).
    """
    op = "batch_normalization"
    try:
        variance_epsilon = float(variance_epsilon)
    except (TypeError, ValueError):
        raise TypeError("%s: variance_epsilon must be a float, got %r" % (op, variance_epsilon)) from None
    xshape = tuple(x.shape) if isinstance(x, (_C.Tensor, _ag.EagerTensor)) else np.shape(x)
    C = xshape[-1] if len(xshape) >= 1 else 1
    if isinstance(x, _ag.EagerTensor) or len(xshape) < 2 or \
            not all(_is_per_channel(v, C) for v in (mean, variance, offset, scale)) or \
            mean is None or variance is None:
        if mean is None or variance is None:
            raise ValueError("%s: mean and variance must be given" % op)
        return _bn_composed(x, mean, variance, offset, scale, variance_epsilon, op)
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
    if isinstance(x, _ag.EagerTensor):
        return _moments_eager(x, axes, keepdims, op)
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
    if not red:  # TF: the mean is x itself and the variance 0
        zero = _C.zeros(*shape, device=t.device) if shape else _C.from_numpy(np.zeros((), np.float32))
        return like_input(t if not was_np else _C.from_numpy(np.array(np.asarray(t))), was_np), \
            like_input(zero, was_np)
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


def _moments_eager(x, axes, keepdims, op):
    nd = len(x.shape)
    try:
        ax = [operator.index(a) for a in (axes if hasattr(axes, "__len__") else [axes])]
    except TypeError:
        raise TypeError("%s: axes must be ints, got %r" % (op, axes)) from None
    for a in ax:
        if not -nd <= a < nd:
            raise ValueError("%s: axis %d out of range for rank %d" % (op, a, nd))
    red = sorted(set(a % nd for a in ax))
    if not red:  # TF: the mean is x itself and the variance 0
        return x, _ag.EagerTensor(_C.zeros(*x.shape, device=x.value.device))
    mean = _ag.reduce("mean", x, red, True)
    # TF: the variance's gradient does not flow through the mean (stop_gradient; it sums to 0 anyway)
    var = _ag.reduce("mean", _ag.unary("square", _ag.subtract(x, _ag.EagerTensor(mean.value))), red, True)
    if not keepdims:
        out = [s for a, s in enumerate(x.shape) if a not in red]
        mean, var = _ag.reshape(mean, out), _ag.reshape(var, out)
    return mean, var


def l2_normalize(x, axis=None, epsilon=1e-12, name=None, dim=None):
    """tf.nn.l2_normalize: x * rsqrt(max(sum(x**2, axis, keepdims=True), epsilon)).

    x: any shape; axis: None (all axes), an int or a list of ints (dim is the
    deprecated alias). Returns x's shape.
    """
    op = "l2_normalize"
    if dim is not None:
        if axis is not None:
            raise ValueError("%s: cannot specify both 'axis' and 'dim'" % op)
        axis = dim
    xe, kind = lift(x, op, "x")
    nd = len(xe.shape)
    if axis is None:
        red = list(range(nd))
    else:
        try:
            red = [operator.index(a) for a in (axis if hasattr(axis, "__len__") else [axis])]
        except TypeError:
            raise TypeError("%s: axis must be an int or a list of ints, got %r" % (op, axis)) from None
        for a in red:
            if not -nd <= a < nd:
                raise ValueError("%s: axis %d out of range for rank %d" % (op, a, nd))
        red = sorted(set(a % nd for a in red))
    if nd == 0 or not red:
        ss = _ag.unary("square", xe)
    else:
        ss = _ag.reduce("sum", _ag.unary("square", xe), red, True)
    inv = _ag.unary("rsqrt", _ag.maximum(ss, float(epsilon)))
    return lower(_ag.multiply(xe, inv), kind)


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
    if len(t.shape) != 4:
        raise ValueError("%s (local_response_normalization): input must be 4-D (N,H,W,C), got shape %s"
                         % (op, tuple(t.shape)))
    return like_input(_C.lrn_forward(t, r, float(bias), float(alpha), float(beta)), was_np)


lrn = local_response_normalization


def _axes(axes, nd, op):
    try:
        ax = [operator.index(a) for a in (axes if hasattr(axes, "__len__") else [axes])]
    except TypeError:
        raise TypeError("%s: axes must be ints, got %r" % (op, axes)) from None
    for a in ax:
        if not -nd <= a < nd:
            raise ValueError("%s: axis %d out of range for rank %d" % (op, a, nd))
    return sorted(set(a % nd for a in ax))


def _squeeze(t, nd_shape, red):
    return _ag.reshape(t, [s for a, s in enumerate(nd_shape) if a not in red])


def sufficient_statistics(x, axes, shift=None, keepdims=False, name=None):
    """tf.nn.sufficient_statistics: (count, sum(x - shift), sum((x - shift)**2), shift)
    over `axes`; count is a float32 scalar (the number of reduced elements)."""
    op = "sufficient_statistics"
    xe, kind = lift(x, op, "x")
    shape = tuple(xe.shape)
    red = _axes(axes, len(shape), op)
    count = float(np.prod([shape[a] for a in red])) if red else 1.0
    y = xe
    if shift is not None:
        sh = shift if isinstance(shift, _ag.EagerTensor) else (
            float(shift) if isinstance(shift, numbers.Real) else const(shift, op, "shift", xe.value))
        y = _ag.subtract(xe, sh)
    if red:
        m_ss = _ag.reduce("sum", y, red, bool(keepdims))
        v_ss = _ag.reduce("sum", _ag.unary("square", y), red, bool(keepdims))
    else:
        m_ss, v_ss = y, _ag.unary("square", y)
    cnt = _C.from_numpy(np.array(count, np.float32))
    eager = kind == "eager" or isinstance(shift, _ag.EagerTensor)
    k = "eager" if eager else kind
    cnt_out = _ag.EagerTensor(cnt) if k == "eager" else (np.asarray(cnt) if k == "numpy" else cnt)
    return cnt_out, lower(m_ss, k), lower(v_ss, k), shift


def normalize_moments(counts, mean_ss, variance_ss, shift, name=None):
    """tf.nn.normalize_moments: mean = mean_ss / counts (+ shift); variance =
    variance_ss / counts - (mean_ss / counts)**2."""
    op = "normalize_moments"
    m, kind = lift(mean_ss, op, "mean_ss")
    v = variance_ss if isinstance(variance_ss, _ag.EagerTensor) else const(variance_ss, op, "variance_ss", m.value)
    c = counts if isinstance(counts, _ag.EagerTensor) else const(counts, op, "counts", m.value)
    div = _ag.divide(1.0, c)
    shifted = _ag.multiply(m, div)
    mean = shifted
    if shift is not None:
        sh = shift if isinstance(shift, _ag.EagerTensor) else const(shift, op, "shift", m.value)
        mean = _ag.add(shifted, sh)
    var = _ag.subtract(_ag.multiply(v, div), _ag.unary("square", shifted))
    k = "eager" if kind == "eager" or any_eager(counts, variance_ss, shift) else kind
    return lower(mean, k), lower(var, k)


def weighted_moments(x, axes, frequency_weights, keepdims=False, name=None):
    """tf.nn.weighted_moments: the frequency-weighted mean and (biased) variance
    of x over `axes`; frequency_weights broadcasts against x. A zero total weight
    gives inf/NaN as in TF."""
    op = "weighted_moments"
    xe, kind = lift(x, op, "x")
    shape = tuple(xe.shape)
    red = _axes(axes, len(shape), op)
    fw = frequency_weights if isinstance(frequency_weights, _ag.EagerTensor) else (
        float(frequency_weights) if isinstance(frequency_weights, numbers.Real)
        else const(frequency_weights, op, "frequency_weights", xe.value))
    if not isinstance(fw, float):
        try:
            np.broadcast_shapes(tuple(fw.shape), shape)
        except ValueError:
            raise ValueError("%s: frequency_weights shape %s does not broadcast against x shape %s"
                             % (op, tuple(fw.shape), shape)) from None
    zeros = _ag.EagerTensor(_C.zeros(*shape, device=xe.value.device))
    wsum_in = _ag.multiply(xe, fw)
    bw = _ag.add(zeros, fw)
    if red:
        wsum = _ag.reduce("sum", wsum_in, red, True)
        sw = _ag.reduce("sum", bw, red, True)
    else:
        wsum, sw = wsum_in, bw
    div = _ag.divide(1.0, sw)
    mean = _ag.multiply(wsum, div)
    dist = _ag.multiply(_ag.unary("square", _ag.subtract(xe, mean)), fw)
    dist = _ag.reduce("sum", dist, red, True) if red else dist
    var = _ag.multiply(dist, div)
    if not keepdims and red:
        mean, var = _squeeze(mean, shape, red), _squeeze(var, shape, red)
    k = "eager" if kind == "eager" or isinstance(frequency_weights, _ag.EagerTensor) else kind
    return lower(mean, k), lower(var, k)
