"""Loss ops with tf.nn names (all arithmetic in the extension's kernels).

Each takes NumPy arrays or Tensors and returns the same kind as `logits` /
`t`: a per-example loss (the input's shape without the class axis), or a scalar
for l2_loss / compute_average_loss. EagerTensor inputs go on the tape (as in
TF, the softmax / sigmoid cross-entropies are differentiable in both logits
and labels).
"""
import numbers

import numpy as np

from .. import _C
from .. import autograd as _ag
from ..ops import like_input
from ._eager import as_tensor
from ._eager import any_eager, lift, lower, const

__all__ = ["softmax_cross_entropy_with_logits", "sparse_softmax_cross_entropy_with_logits",
           "sigmoid_cross_entropy_with_logits", "weighted_cross_entropy_with_logits", "l2_loss", "log_poisson_loss",
           "compute_average_loss", "scale_regularization_loss"]


def _perm_last(nd, axis):
    return [i for i in range(nd) if i != axis] + [axis]


def _eager_softmax_xent(labels, logits, axis, op):
    z, _ = lift(logits, op, "logits")
    t = labels if isinstance(labels, _ag.EagerTensor) else const(labels, op, "labels", z.value)
    if tuple(z.shape) != tuple(t.shape):
        raise ValueError("%s: labels shape %s must equal logits shape %s" % (op, tuple(t.shape), tuple(z.shape)))
    nd = len(z.shape)
    if nd < 1:
        raise ValueError("%s: logits must have rank >= 1, got a scalar" % op)
    if not -nd <= axis < nd:
        raise ValueError("%s: axis %d is out of range for a %d-D input" % (op, axis, nd))
    axis %= nd
    if isinstance(labels, _ag.EagerTensor):  # labels get a gradient too: -sum(labels * log_softmax)
        return _ag.negative(_ag.reduce("sum", _ag.multiply(t, _ag.log_softmax(z, axis)), [axis]))
    if axis != nd - 1:
        z, t = _ag.transpose(z, _perm_last(nd, axis)), _ag.transpose(t, _perm_last(nd, axis))
    lead = list(z.shape[:-1])
    c = z.shape[-1]
    loss = _ag.softmax_cross_entropy(_ag.reshape(z, [-1, c]), _ag.reshape(t, [-1, c]).value)
    return _ag.reshape(loss, lead)


def _move_last(t, axis, op):
    nd = len(t.shape)
    if not -nd <= axis < nd:
        raise ValueError("%s: axis %d is out of range for a %d-D input" % (op, axis, nd))
    axis %= nd
    if axis == nd - 1:
        return t
    perm = [i for i in range(nd) if i != axis] + [axis]
    return _C.transpose(t, perm)


def softmax_cross_entropy_with_logits(labels, logits, axis=-1, name=None):
    """-sum(labels * log_softmax(logits), axis), fused and stable.

    labels, logits: same shape (..., C) (C along `axis`); labels are one-hot or
    soft probabilities. Returns the loss with the class axis removed.
    """
    op = "softmax_cross_entropy_with_logits"
    if labels is None or logits is None:
        raise ValueError("%s: both labels and logits must be given" % op)
    try:
        axis = int(axis)
    except (TypeError, ValueError):
        raise TypeError("%s: axis must be an int, got %r" % (op, axis)) from None
    if any_eager(labels, logits):
        return _eager_softmax_xent(labels, logits, axis, op)
    z, was_np = as_tensor(logits, op, "logits")
    t, _ = as_tensor(labels, op, "labels")
    if tuple(z.shape) != tuple(t.shape):
        raise ValueError("%s: labels shape %s must equal logits shape %s" % (op, tuple(t.shape), tuple(z.shape)))
    if len(z.shape) < 1:
        raise ValueError("%s: logits must have rank >= 1, got a scalar" % op)
    z = _move_last(z, int(axis), op)
    t = _move_last(t, int(axis), op)
    lead = tuple(z.shape[:-1])
    c = z.shape[-1]
    loss, _ = _C.softmax_cross_entropy_forward(z.reshape(-1, c) if len(z.shape) != 2 else z,
                                               t.reshape(-1, c) if len(t.shape) != 2 else t)
    return like_input(loss.reshape(lead) if lead != tuple(loss.shape) else loss, was_np)


def sparse_softmax_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """-log_softmax(logits)[label] per example, fused and stable.

    labels: int (...,) class indices in [0, C); logits (..., C). Out-of-range
    labels raise ValueError. Returns (...,).
    """
    op = "sparse_softmax_cross_entropy_with_logits"
    if labels is None or logits is None:
        raise ValueError("%s: both labels and logits must be given" % op)
    eager = any_eager(logits)
    if eager:
        ze, _ = lift(logits, op, "logits")
        z = ze.value
    else:
        z, was_np = as_tensor(logits, op, "logits")
    lab = labels.value if isinstance(labels, _ag.EagerTensor) else labels
    if not isinstance(lab, _C.Tensor):
        lab = np.asarray(lab)
        if lab.dtype.kind not in "iu":
            raise TypeError("%s: labels must be integers, got dtype %s" % (op, lab.dtype))
    lt, _ = as_tensor(lab, op, "labels", dtype=None)
    if lt.dtype == "float32":
        raise TypeError("%s: labels must be integers, got float32" % op)
    if len(z.shape) < 1 or tuple(lt.shape) != tuple(z.shape[:-1]):
        raise ValueError("%s: labels shape %s must equal logits shape without the last axis %s"
                         % (op, tuple(lt.shape), tuple(z.shape[:-1])))
    lead = tuple(z.shape[:-1])
    c = z.shape[-1]
    if eager:
        loss = _ag.softmax_cross_entropy(_ag.reshape(ze, [-1, c]), lt.reshape(-1) if len(lt.shape) != 1 else lt)
        return _ag.reshape(loss, list(lead))
    loss, _ = _C.softmax_cross_entropy_forward(z.reshape(-1, c) if len(z.shape) != 2 else z,
                                               lt.reshape(-1) if len(lt.shape) != 1 else lt)
    return like_input(loss.reshape(lead) if lead != tuple(loss.shape) else loss, was_np)


def _xent_args(labels, logits, op):
    if labels is None or logits is None:
        raise ValueError("%s: both labels and logits must be given" % op)
    z, kz = lift(logits, op, "logits")
    t = labels if isinstance(labels, _ag.EagerTensor) else const(labels, op, "labels", z.value)
    if tuple(z.shape) != tuple(t.shape):
        raise ValueError("%s: labels shape %s must equal logits shape %s" % (op, tuple(t.shape), tuple(z.shape)))
    return z, t, ("eager" if any_eager(labels, logits) else kz)


def _softplus_neg_abs(z):
    """log(1 + exp(-|z|)), the stable tail of the logistic losses."""
    return _ag.activation(_ag.negative(_ag.unary("abs", z)), "softplus")


def sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """Elementwise max(x, 0) - x*z + log(1 + exp(-|x|)) (x logits, z labels). Same shape as logits."""
    op = "sigmoid_cross_entropy_with_logits"
    if any_eager(labels, logits):
        z, t, kind = _xent_args(labels, logits, op)
        y = _ag.add(_ag.subtract(_ag.activation(z, "relu"), _ag.multiply(z, t)), _softplus_neg_abs(z))
        return lower(y, kind)
    if labels is None or logits is None:
        raise ValueError("%s: both labels and logits must be given" % op)
    z, was_np = as_tensor(logits, op, "logits")
    t, _ = as_tensor(labels, op, "labels")
    if tuple(z.shape) != tuple(t.shape):
        raise ValueError("%s: labels shape %s must equal logits shape %s" % (op, tuple(t.shape), tuple(z.shape)))
    shape = tuple(z.shape)
    # per-element loss: a trailing axis of size 1 makes the kernel's mean the identity
    loss = _C.binary_crossentropy_forward(z.reshape(shape + (1,)), t.reshape(shape + (1,)), True)
    return like_input(loss.reshape(shape) if shape != tuple(loss.shape) else loss, was_np)


def weighted_cross_entropy_with_logits(labels, logits, pos_weight, name=None):
    """tf.nn.weighted_cross_entropy_with_logits: the sigmoid cross-entropy with
    the positive term weighted by pos_weight (a scalar or broadcastable array):

        (1 - z) * x + (1 + (pos_weight - 1) * z) * (log(1 + exp(-|x|)) + max(-x, 0))

    labels z, logits x: same shape; returns that shape.
    """
    op = "weighted_cross_entropy_with_logits"
    z, t, kind = _xent_args(labels, logits, op)
    if isinstance(pos_weight, _ag.EagerTensor):
        pw = pos_weight
    elif isinstance(pos_weight, numbers.Real) and not isinstance(pos_weight, bool):
        pw = float(pos_weight)
    else:
        pw = const(pos_weight, op, "pos_weight", z.value)
    log_weight = _ag.add(_ag.multiply(_ag.subtract(pw, 1.0), t), 1.0)
    tail = _ag.add(_softplus_neg_abs(z), _ag.activation(_ag.negative(z), "relu"))
    y = _ag.add(_ag.multiply(_ag.subtract(1.0, t), z), _ag.multiply(log_weight, tail))
    return lower(y, kind)


def l2_loss(t, name=None):
    """sum(t ** 2) / 2 as a scalar (0-D). t: any shape."""
    if isinstance(t, _ag.EagerTensor):
        return _ag.multiply(_ag.reduce("sum", _ag.unary("square", t), None, False), 0.5)
    x, was_np = as_tensor(t, "l2_loss", "t")
    s = _C.reduce("sum", _C.unary("square", x), None, False)
    return like_input(_C.binary_scalar("mul", s, 0.5, False), was_np)


def compute_average_loss(per_example_loss, sample_weight=None, global_batch_size=None):
    """tf.nn.compute_average_loss: sum(per_example_loss * sample_weight) / global_batch_size.

    per_example_loss: rank >= 1; sample_weight: None, a scalar or an array
    broadcastable to it; global_batch_size: a non-negative int, default the
    first dimension of per_example_loss (times the number of replicas, 1 here:
    no tf.distribute strategy). A zero batch size gives 0 (div_no_nan). Scalar.
    """
    op = "compute_average_loss"
    x, kind = lift(per_example_loss, op, "per_example_loss")
    if len(x.shape) < 1:
        raise ValueError("%s: Invalid value passed for `per_example_loss`. Expected a tensor with at least "
                         "rank 1, got a scalar" % op)
    if sample_weight is not None:
        if isinstance(sample_weight, _ag.EagerTensor):
            w = sample_weight
        elif isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight, bool):
            w = float(sample_weight)
        else:
            w = const(sample_weight, op, "sample_weight", x.value)
        if not isinstance(w, float):
            try:
                ok = np.broadcast_shapes(tuple(w.shape), tuple(x.shape)) == tuple(x.shape)
            except ValueError:
                ok = False
            if not ok:
                raise ValueError("%s: sample_weight shape %s is not broadcastable to per_example_loss shape %s"
                                 % (op, tuple(w.shape), tuple(x.shape)))
        x = _ag.multiply(x, w)
        kind = "eager" if isinstance(sample_weight, _ag.EagerTensor) else kind
    if global_batch_size is None:
        global_batch_size = x.shape[0]
    if isinstance(global_batch_size, (bool, np.bool_)) or not isinstance(global_batch_size, (numbers.Integral,)):
        if not (isinstance(global_batch_size, np.ndarray) and global_batch_size.ndim == 0
                and global_batch_size.dtype.kind in "iu"):
            raise TypeError("%s: global_batch_size must be an integer, got %r" % (op, global_batch_size))
    global_batch_size = int(global_batch_size)
    if global_batch_size < 0:
        raise ValueError("%s: global_batch_size must be non-negative, got %d" % (op, global_batch_size))
    total = _ag.reduce("sum", x, None, False)
    if global_batch_size == 0:
        return lower(_ag.multiply(total, 0.0), kind)
    return lower(_ag.multiply(total, 1.0 / global_batch_size), kind)


def scale_regularization_loss(regularization_loss):
    """tf.nn.scale_regularization_loss: sum(regularization_loss) / replicas (1 here). Scalar.

    regularization_loss: a scalar, an array, or a list of scalars (summed)."""
    op = "scale_regularization_loss"
    if isinstance(regularization_loss, (list, tuple)) and any_eager(regularization_loss):
        total = None
        for i, r in enumerate(regularization_loss):
            e = r if isinstance(r, _ag.EagerTensor) else const(r, op, "regularization_loss")
            e = _ag.reduce("sum", e, None, False)
            total = e if total is None else _ag.add(total, e)
        return total
    x, kind = lift(regularization_loss, op, "regularization_loss")
    return lower(_ag.reduce("sum", x, None, False), kind)


def log_poisson_loss(targets, log_input, compute_full_loss=False, name=None):
    """tf.nn.log_poisson_loss: exp(log_input) - log_input * targets, elementwise;
    with compute_full_loss the Stirling term targets*log(targets) - targets +
    0.5*log(2*pi*targets) is added where targets > 1 (0 for targets in [0, 1])."""
    op = "log_poisson_loss"
    c, t, kind = _xent_args(targets, log_input, op)
    y = _ag.subtract(_ag.unary("exp", c), _ag.multiply(c, t))
    if compute_full_loss:
        tv = np.asarray(t.value if t.value.device == "cpu" else t.value.to("cpu"))
        small = ((tv >= 0) & (tv <= 1)).astype(np.float32)          # TF: no Stirling term there
        m = _ag.EagerTensor(_C.tensor(np.ascontiguousarray(small), device=c.value.device))
        keep = _ag.subtract(1.0, m)
        ts = _ag.add(_ag.multiply(t, keep), m)                        # 1 where masked: log stays finite
        st = _ag.add(_ag.subtract(_ag.multiply(ts, _ag.unary("log", ts)), ts),
                     _ag.multiply(_ag.unary("log", _ag.multiply(ts, 2 * np.pi)), 0.5))
        y = _ag.add(y, _ag.multiply(st, keep))
    return lower(y, kind)
