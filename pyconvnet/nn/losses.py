"""Loss ops with tf.nn names (all arithmetic in the extension's kernels).

Each takes NumPy arrays or Tensors and returns the same kind as `logits` /
`t`: a per-example loss (the input's shape without the class axis), or a scalar
for l2_loss.
"""
import numpy as np

from .. import _C
from ..ops import as_tensor, like_input

__all__ = ["softmax_cross_entropy_with_logits", "sparse_softmax_cross_entropy_with_logits",
           "sigmoid_cross_entropy_with_logits", "l2_loss"]


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
    z, was_np = as_tensor(logits, op, "logits")
    lab = labels
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
    loss, _ = _C.softmax_cross_entropy_forward(z.reshape(-1, c) if len(z.shape) != 2 else z,
                                               lt.reshape(-1) if len(lt.shape) != 1 else lt)
    return like_input(loss.reshape(lead) if lead != tuple(loss.shape) else loss, was_np)


def sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """Elementwise max(x, 0) - x*z + log(1 + exp(-|x|)) (x logits, z labels). Same shape as logits."""
    op = "sigmoid_cross_entropy_with_logits"
    z, was_np = as_tensor(logits, op, "logits")
    t, _ = as_tensor(labels, op, "labels")
    if tuple(z.shape) != tuple(t.shape):
        raise ValueError("%s: labels shape %s must equal logits shape %s" % (op, tuple(t.shape), tuple(z.shape)))
    shape = tuple(z.shape)
    # per-element loss: a trailing axis of size 1 makes the kernel's mean the identity
    loss = _C.binary_crossentropy_forward(z.reshape(shape + (1,)), t.reshape(shape + (1,)), True)
    return like_input(loss.reshape(shape) if shape != tuple(loss.shape) else loss, was_np)


def l2_loss(t, name=None):
    """sum(t ** 2) / 2 as a scalar (0-D). t: any shape."""
    x, was_np = as_tensor(t, "l2_loss", "t")
    s = _C.reduce("sum", _C.unary("square", x), None, False)
    return like_input(_C.binary_scalar("mul", s, 0.5, False), was_np)
