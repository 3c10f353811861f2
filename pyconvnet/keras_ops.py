"""keras.ops basics for custom layers (`import pyconvnet as keras; keras.ops.add`).

Each op takes EagerTensors (recorded by the tape), `_C.Tensor`s or NumPy; with
only NumPy/scalars in, it returns NumPy. All arithmetic runs in `_C`.
"""
import functools

import numpy as np

from . import _C
from . import autograd as ag

__all__ = ["add", "subtract", "multiply", "divide", "true_divide", "negative", "maximum", "minimum", "power",
           "matmul", "dot", "mean", "sum", "max", "min", "relu", "sigmoid", "tanh", "softmax", "log_softmax",
           "exp", "log", "sqrt", "square", "abs", "reshape", "transpose", "concatenate", "expand_dims", "squeeze",
           "clip", "convert_to_tensor", "convert_to_numpy", "zeros", "ones", "zeros_like", "ones_like", "shape",
           "cast", "elu", "selu", "gelu", "softplus", "leaky_relu", "relu6", "silu", "swish", "argmax", "flatten"]


def _is_tensor(x):
    return isinstance(x, (ag.EagerTensor, _C.Tensor))


def _ret(fn):
    @functools.wraps(fn)
    def w(*args, **kwargs):
        flat = list(args) + list(kwargs.values())
        flat = [i for a in flat for i in (a if isinstance(a, (list, tuple)) else [a])]
        from .layers.base import KerasTensor
        if any(isinstance(a, KerasTensor) for a in flat):
            from .layers.core import Lambda
            return Lambda(lambda t: w(t, *args[1:], **kwargs))(args[0])
        numpy_out = not any(_is_tensor(a) for a in flat)
        args = [ag.EagerTensor(a) if isinstance(a, _C.Tensor) else a for a in args]
        y = fn(*args, **kwargs)
        if numpy_out and isinstance(y, ag.EagerTensor):
            return y.numpy()
        return y
    return w


def _e(x):
    if isinstance(x, ag.EagerTensor):
        return x
    if isinstance(x, _C.Tensor):
        return ag.EagerTensor(x)
    return ag.EagerTensor(_C.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))


@_ret
def add(x1, x2): return ag.add(x1, x2)
@_ret
def subtract(x1, x2): return ag.subtract(x1, x2)
@_ret
def multiply(x1, x2): return ag.multiply(x1, x2)
@_ret
def divide(x1, x2): return ag.divide(x1, x2)


true_divide = divide


@_ret
def negative(x): return ag.negative(_e(x))
@_ret
def maximum(x1, x2): return ag.maximum(x1, x2)
@_ret
def minimum(x1, x2): return ag.minimum(x1, x2)
@_ret
def power(x1, x2): return ag.power(x1, x2)
@_ret
def matmul(x1, x2): return ag.matmul(x1, x2)


dot = matmul


@_ret
def mean(x, axis=None, keepdims=False): return ag.reduce("mean", _e(x), axis, keepdims)
@_ret
def sum(x, axis=None, keepdims=False): return ag.reduce("sum", _e(x), axis, keepdims)
@_ret
def max(x, axis=None, keepdims=False): return ag.reduce("max", _e(x), axis, keepdims)
@_ret
def min(x, axis=None, keepdims=False): return ag.reduce("min", _e(x), axis, keepdims)
@_ret
def relu(x): return ag.activation(_e(x), "relu")
@_ret
def relu6(x): return ag.activation(_e(x), "relu6")
@_ret
def sigmoid(x): return ag.activation(_e(x), "sigmoid")
@_ret
def tanh(x): return ag.activation(_e(x), "tanh")
@_ret
def elu(x, alpha=1.0): return ag.activation(_e(x), "elu", alpha)
@_ret
def selu(x): return ag.activation(_e(x), "selu")
@_ret
def gelu(x, approximate=True):
    # keras.ops.gelu defaults to approximate=True; the kernel is exact (erf)
    if approximate:
        raise NotImplementedError("keras.ops.gelu: approximate=True is not supported; pass approximate=False")
    return ag.activation(_e(x), "gelu")
@_ret
def softplus(x): return ag.activation(_e(x), "softplus")
@_ret
def leaky_relu(x, negative_slope=0.2): return ag.activation(_e(x), "leaky_relu", negative_slope)
@_ret
def silu(x): return ag.activation(_e(x), "swish")


swish = silu


@_ret
def softmax(x, axis=-1): return ag.softmax(_e(x), axis)
@_ret
def log_softmax(x, axis=-1): return ag.log_softmax(_e(x), axis)
@_ret
def exp(x): return ag.unary("exp", _e(x))
@_ret
def log(x): return ag.unary("log", _e(x))
@_ret
def sqrt(x): return ag.unary("sqrt", _e(x))
@_ret
def square(x): return ag.unary("square", _e(x))
@_ret
def abs(x): return ag.unary("abs", _e(x))


def _resolve_shape(shape, n):
    shape = [int(s) for s in shape]
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1]))
        shape = [n // known if s == -1 else s for s in shape]
    return shape


@_ret
def reshape(x, newshape):
    x = _e(x)
    return ag.reshape(x, _resolve_shape(newshape, int(np.prod(x.shape))))
@_ret
def flatten(x):
    x = _e(x)
    return ag.reshape(x, [int(np.prod(x.shape))])
@_ret
def transpose(x, axes=None):
    x = _e(x)
    return ag.transpose(x, list(axes) if axes is not None else list(range(x.ndim))[::-1])
@_ret
def concatenate(xs, axis=0): return ag.concat([_e(x) for x in xs], axis)
@_ret
def expand_dims(x, axis):
    x = _e(x)
    s = list(x.shape)
    axis = axis if axis >= 0 else len(s) + 1 + axis
    return ag.reshape(x, s[:axis] + [1] + s[axis:])
@_ret
def squeeze(x, axis=None):
    x = _e(x)
    s = list(x.shape)
    if axis is None:
        return ag.reshape(x, [d for d in s if d != 1])
    axis = axis % len(s)
    if s[axis] != 1:
        raise ValueError("squeeze: axis %d has size %d, not 1" % (axis, s[axis]))
    return ag.reshape(x, s[:axis] + s[axis + 1:])
@_ret
def clip(x, x_min, x_max): return ag.clip(_e(x), x_min, x_max)


def convert_to_tensor(x, dtype=None):
    if isinstance(x, ag.EagerTensor):
        return x
    if isinstance(x, _C.Tensor):
        return ag.EagerTensor(x)
    a = np.asarray(x)
    dt = dtype or ("float32" if a.dtype.kind in "fb" else ("int64" if a.dtype.itemsize > 4 else "int32"))
    return ag.EagerTensor(_C.tensor(np.ascontiguousarray(a, dtype=dt)))


def convert_to_numpy(x):
    if isinstance(x, (ag.EagerTensor, _C.Tensor)):
        return np.array(x.numpy(), copy=True)
    return np.asarray(x)


def zeros(shape, dtype="float32", device="cpu"):
    return ag.EagerTensor(_C.zeros(*[int(s) for s in shape], dtype=str(np.dtype(dtype)), device=device))


def ones(shape, dtype="float32", device="cpu"):
    t = _C.empty(*[int(s) for s in shape], device=device)
    _C.fill_(t, 1.0)  # float32 only: other dtypes by a cast
    dtype = str(np.dtype(dtype))
    return ag.EagerTensor(t if dtype == "float32" else _C.cast(t, dtype))


def _like(x, dtype):
    """shape, dtype and device of a *_like result: x's (a tensor keeps its device)."""
    if _is_tensor(x):
        return tuple(x.shape), dtype or x.dtype, x.device
    return np.shape(x), dtype or "float32", "cpu"


def zeros_like(x, dtype=None):
    return zeros(*_like(x, dtype))


def ones_like(x, dtype=None):
    return ones(*_like(x, dtype))


def shape(x):
    return tuple(x.shape)


def cast(x, dtype):
    if _is_tensor(x):
        return ag.cast(_e(x), str(np.dtype(dtype)))
    return np.asarray(x).astype(dtype)


def argmax(x, axis=-1):
    if _is_tensor(x):
        return ag.EagerTensor(_C.argmax(_e(x).value, axis))
    return np.argmax(x, axis)
