"""Shared plumbing for pyconvnet.nn: run a tf.nn function on the tape.

A tf.nn function called with an EagerTensor / Variable (inside a
GradientTape, a Keras layer or a Lambda) must record its ops so that
`tape.gradient` reaches its inputs, as TensorFlow's do. Functions composed
from several kernels are written once against `pyconvnet.autograd` ops:

    x, kind = lift(x, "l2_normalize", "x")   # EagerTensor + how to return
    y = _ag.multiply(x, ...)                  # records only if x needs a gradient
    return lower(y, kind)                     # NumPy in -> NumPy out, Tensor -> Tensor

A NumPy or Tensor input becomes an unwatched EagerTensor, so nothing is
recorded for it (no tape overhead beyond the wrapper object).
"""
import numpy as np

from .. import autograd as _ag
from ..ops import as_tensor as _ops_as_tensor


def as_tensor(x, op, arg="input", dtype=np.float32):
    """pyconvnet.ops.as_tensor, keeping a 0-D input 0-D (np.ascontiguousarray
    makes it (1,), so tf.nn.relu(2.0) came back with shape (1,) instead of ())."""
    t, was_np = _ops_as_tensor(x, op, arg, dtype)
    if was_np and tuple(t.shape) == (1,) and np.ndim(x) == 0:
        t = t.reshape([])
    return t, was_np

NUMPY, TENSOR, EAGER = "numpy", "tensor", "eager"


def any_eager(*xs):
    """True when any argument (or element of a list argument) is an EagerTensor."""
    for x in xs:
        if isinstance(x, _ag.EagerTensor):
            return True
        if isinstance(x, (list, tuple)) and any(isinstance(v, _ag.EagerTensor) for v in x):
            return True
    return False


def lift(x, op, arg, dtype="float32"):
    """(EagerTensor, kind) for a NumPy array / list / Tensor / EagerTensor."""
    if isinstance(x, _ag.EagerTensor):
        return x, EAGER
    t, was_np = as_tensor(x, op, arg) if dtype == "float32" else as_tensor(x, op, arg, dtype=None)
    return _ag.EagerTensor(t), (NUMPY if was_np else TENSOR)


def const(x, op, arg, like=None):
    """An EagerTensor that never needs a gradient (labels, masks, statistics given as data)."""
    if isinstance(x, _ag.EagerTensor):
        return x
    t, _ = as_tensor(x, op, arg)
    if like is not None and t.device != like.device:
        t = t.to(like.device)
    return _ag.EagerTensor(t)


def lower(y, kind):
    """The result in the caller's kind."""
    if kind == EAGER:
        return y
    v = y.value if isinstance(y, _ag.EagerTensor) else y
    if kind == NUMPY:
        import numpy as np
        return np.asarray(v)
    return v


def combine(*kinds):
    """Result kind for several inputs: eager wins, then the first input's kind."""
    return EAGER if EAGER in kinds else kinds[0]


class UnsupportedError(NotImplementedError, ValueError):
    """A valid tf.nn argument value that pyconvnet does not implement (NCHW,
    3-D pooling...). Caught by `except NotImplementedError` and, as the
    earlier releases raised ValueError for these, by `except ValueError`."""
