"""keras.ops for custom layers, losses and metrics (`import pyconvnet as keras; keras.ops.add`):
about 320 of Keras 3.15's 341 names, with its argument names, defaults and dtype rules.

Each op takes EagerTensors (recorded by the tape), `_C.Tensor`s, NumPy or Python
numbers, and KerasTensors (it then builds a Lambda layer over all of them).
NumPy/scalars in -> NumPy out (float64 computed as float32, pyconvnet's floatx);
tensors in -> EagerTensor out. Integer/boolean inputs keep Keras's integer results;
pyconvnet's boolean tensors are uint8 0/1. Float ops run in `_C` where a kernel
exists; the rest compose tape ops or compute in NumPy with an explicit backward
(see the "Breadth" section below). Ops without a gradient say so: integer
results carry none; cholesky/qr/svd/... raise NotImplementedError on backward.
"""
import builtins as _bi
import functools

import numpy as np

from . import _C
from . import autograd as ag

__all__ = ["add", "subtract", "multiply", "divide", "true_divide", "negative", "maximum", "minimum", "power",
           "matmul", "dot", "mean", "sum", "max", "min", "relu", "sigmoid", "tanh", "softmax", "log_softmax",
           "exp", "log", "sqrt", "square", "abs", "reshape", "transpose", "concatenate", "expand_dims", "squeeze",
           "clip", "convert_to_tensor", "convert_to_numpy", "zeros", "ones", "zeros_like", "ones_like", "shape",
           "cast", "elu", "selu", "gelu", "softplus", "leaky_relu", "relu6", "silu", "swish", "argmax", "flatten"]


def _ct(a):
    """`_C.tensor` of a NumPy array (copied when read-only or not contiguous; 0-d stays 0-d)."""
    a = np.asarray(a)
    if not a.flags.writeable or not a.flags.c_contiguous:
        a = np.array(a, order="C", copy=True)
    return _C.tensor(a)


def _is_tensor(x):
    return isinstance(x, (ag.EagerTensor, _C.Tensor))


def _ret(fn):
    @functools.wraps(fn)
    def w(*args, **kwargs):
        flat = list(args) + list(kwargs.values())
        flat = [i for a in flat for i in (a if isinstance(a, (list, tuple)) else [a])]
        from .layers.base import KerasTensor
        if _bi.any(isinstance(a, KerasTensor) for a in flat):
            return _lambda_call(w, args, kwargs)
        numpy_out = not _bi.any(_is_tensor(a) for a in flat)
        args = [ag.EagerTensor(a) if isinstance(a, _C.Tensor) else a for a in args]
        y = fn(*args, **kwargs)
        if numpy_out and isinstance(y, ag.EagerTensor):
            return y.numpy()
        return y
    return w


def _e(x):
    """A float32 EagerTensor of x (integer/uint8 tensors are cast: float ops on them give floatx, as Keras)."""
    if isinstance(x, _C.Tensor):
        x = ag.EagerTensor(x)
    if isinstance(x, ag.EagerTensor):
        return x if x.dtype == "float32" else ag.cast(x, "float32")
    return ag.EagerTensor(_C.from_numpy(np.array(x, dtype=np.float32, order="C")))  # 0-d stays 0-d


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
def mean(x, axis=None, keepdims=False): return ag.reduce("mean", _e(x), axis, keepdims)
@_ret
def sum(x, axis=None, keepdims=False): return ag.reduce("sum", _e(x), axis, keepdims)
@_ret
def max(x, axis=None, keepdims=False, initial=None):
    y = ag.reduce("max", _e(x), axis, keepdims)
    return y if initial is None else ag.maximum(y, float(initial))
@_ret
def min(x, axis=None, keepdims=False, initial=None):
    y = ag.reduce("min", _e(x), axis, keepdims)
    return y if initial is None else ag.minimum(y, float(initial))
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
    """keras.ops.gelu: approximate=True (the default) is the tanh form
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); False is the exact erf form (kernel)."""
    x = _e(x)
    if not approximate:
        return ag.activation(x, "gelu")
    inner = ag.multiply(ag.add(x, ag.multiply(ag.multiply(ag.multiply(x, x), x), 0.044715)), float(np.sqrt(2 / np.pi)))
    return ag.multiply(ag.multiply(x, 0.5), ag.add(ag.activation(inner, "tanh"), 1.0))
@_ret
def softplus(x): return ag.activation(_e(x), "softplus")
@_ret
def leaky_relu(x, negative_slope=0.2): return ag.activation(_e(x), "leaky_relu", negative_slope)
@_ret
def silu(x): return ag.activation(_e(x), "swish")


swish = silu


@_ret
def softmax(x, axis=-1):
    """Softmax over `axis` (an int, or a tuple of axes normalized jointly, as Keras)."""
    if isinstance(axis, (list, tuple)):
        return ag.unary("exp", log_softmax(_e(x), axis))
    return ag.softmax(_e(x), axis)
@_ret
def log_softmax(x, axis=-1):
    if isinstance(axis, (list, tuple)):
        x = _e(x)
        return ag.subtract(x, _e(logsumexp(x, axis=tuple(axis), keepdims=True)))
    return ag.log_softmax(_e(x), axis)
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
    if isinstance(newshape, (int, np.integer)):
        newshape = (int(newshape),)
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
def clip(x, x_min, x_max):
    """Elementwise clip; bounds may be scalars or (broadcasting) arrays/tensors."""
    if np.ndim(_np(x_min)) == 0 and np.ndim(_np(x_max)) == 0:
        return ag.clip(_e(x), float(np.asarray(_np(x_min))), float(np.asarray(_np(x_max))))
    return ag.minimum(ag.maximum(_e(x), _e(x_min)), _e(x_max))


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """An EagerTensor of x: floats -> float32, Python ints -> int32, bool -> uint8 (0/1);
    `dtype` converts (float32/int32/int64/uint8/bool)."""
    if dtype is not None and _is_tensor(x):
        return cast(x, dtype)
    if isinstance(x, ag.EagerTensor):
        return x
    if isinstance(x, _C.Tensor):
        return ag.EagerTensor(x)
    a = np.asarray(x)
    if dtype is not None:
        from .backend import standardize_dtype
        dtype = standardize_dtype(dtype)
        if dtype not in ("float32", "int32", "int64", "uint8", "bool"):
            raise TypeError("keras.ops.convert_to_tensor: pyconvnet tensors hold float32, int32, int64, uint8 or "
                            "bool; got dtype=%s" % dtype)
        a = a.astype(np.bool_ if dtype == "bool" else dtype)
    elif a.dtype.kind == "i" and a.dtype.itemsize > 4 and not isinstance(x, np.ndarray):
        a = a.astype(np.int32)  # Python ints -> int32 (Keras)
    a = _keras_dtype(a)
    if a.dtype.name not in ("float32", "int32", "int64", "uint8"):
        raise TypeError("keras.ops.convert_to_tensor: pyconvnet tensors hold float32, int32, int64, uint8 or bool; "
                        "got %s" % a.dtype)
    return ag.EagerTensor(_ct((a)))


def convert_to_numpy(x):
    if isinstance(x, (ag.EagerTensor, _C.Tensor)):
        return np.array(x.numpy(), copy=True)
    return np.asarray(x)


def _shape_arg(shape):
    return [int(shape)] if isinstance(shape, (int, np.integer)) else [int(s) for s in shape]


def zeros(shape, dtype=None, device="cpu"):
    dtype = _floatx_dtype(dtype)
    if dtype not in ("float32", "int32", "int64", "uint8"):
        return _made(np.zeros(_shape_arg(shape)), dtype)
    return ag.EagerTensor(_C.zeros(*_shape_arg(shape), dtype=dtype, device=device))


def ones(shape, dtype=None, device="cpu"):
    dtype = _floatx_dtype(dtype)
    t = _C.empty(*_shape_arg(shape), device=device)
    _C.fill_(t, 1.0)  # float32 only: other dtypes by a cast
    if dtype not in ("float32", "int32", "int64", "uint8"):
        return _made(np.ones(_shape_arg(shape)), dtype)
    return ag.EagerTensor(t if dtype == "float32" else _C.cast(t, dtype))


def _like(x, dtype):
    """shape, dtype and device of a *_like result: x's (a tensor keeps its device)."""
    if _is_tensor(x):
        return tuple(x.shape), dtype or x.dtype, x.device
    a = np.asarray(x)
    return a.shape, dtype or (a.dtype.name if a.dtype.kind in "iub" else "float32"), "cpu"


def zeros_like(x, dtype=None):
    return zeros(*_like(x, dtype))


def ones_like(x, dtype=None):
    return ones(*_like(x, dtype))


def shape(x):
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def cast(x, dtype):
    from .backend import standardize_dtype
    dtype = standardize_dtype(dtype)
    if _is_tensor(x):
        if dtype == "bool":  # pyconvnet's boolean tensors are uint8 0/1
            return ag.EagerTensor(_ct((_np(x) != 0).astype(np.uint8)))
        if dtype not in ("float32", "int32", "int64", "uint8"):
            raise TypeError("keras.ops.cast: pyconvnet tensors hold float32, int32, int64, uint8 or bool; got %r"
                            % dtype)
        return ag.cast(_e(x), dtype)
    from .layers.base import KerasTensor
    if isinstance(x, KerasTensor):
        return _lambda_call(cast, (x, dtype), {})
    return np.asarray(x).astype(dtype)





# ==========================================================================
# Breadth: more of keras.ops (Keras 3.15 names, arguments and defaults).
#
# Three implementation kinds, chosen per op:
#  - composition of the differentiable ops above (activations, losses,
#    logsumexp, std/var, norm, moments, batch_normalization ...): gradients
#    come from the tape for free, arithmetic runs in `_C`;
#  - `_ew`: an elementwise op whose forward is a `_C` unary when one exists
#    (NumPy otherwise) and whose backward multiplies by a NumPy derivative;
#  - `_gather`: any op whose output elements are copies of input elements
#    (flip, roll, tile, repeat, broadcast_to, pad, take, take_along_axis,
#    stack, split, slice, sort/top_k values ...). The op is applied once to
#    the array of flat input positions; the forward gathers with it and the
#    backward scatter-adds with it (np.bincount), so one tested mechanism gives
#    every such op its exact gradient.
#  - `_nograd`: integer/boolean results (comparisons, argmax, argsort ...) and
#    creation ops, computed in NumPy; on tape tensors they return tensors
#    without a gradient.
# NumPy fallbacks work on host (cpu) tensors only.
# ==========================================================================

def _flat_args(args, kwargs):
    flat = list(args) + list(kwargs.values())
    return [i for a in flat for i in (a if isinstance(a, (list, tuple)) else [a])]


def _symbolic(flat):
    from .layers.base import KerasTensor
    return _bi.any(isinstance(a, KerasTensor) for a in flat)


class _Slot:
    """Placeholder for the i-th KerasTensor argument of a symbolic keras.ops call."""
    __slots__ = ("i",)

    def __init__(self, i):
        self.i = i


def _lambda_call(w, args, kwargs):
    """keras.ops on KerasTensors: a Lambda layer over every KerasTensor argument
    (anywhere in args/kwargs, also inside lists), so ops.add(a, b) on two Inputs
    connects both (it recursed forever when only args[0] was wired)."""
    from .layers.base import KerasTensor
    from .layers.core import Lambda
    kts = []

    def mark(a):
        if isinstance(a, KerasTensor):
            kts.append(a)
            return _Slot(len(kts) - 1)
        if isinstance(a, (list, tuple)):
            return type(a)(mark(i) for i in a)
        return a

    def fill(a, ts):
        if isinstance(a, _Slot):
            return ts[a.i]
        if isinstance(a, (list, tuple)):
            return type(a)(fill(i, ts) for i in a)
        return a
    margs = [mark(a) for a in args]
    mkw = {k: mark(v) for k, v in kwargs.items()}
    if len(kts) == 1:
        return Lambda(lambda t: w(*fill(margs, [t]), **fill(mkw, [t])))(kts[0])
    return Lambda(lambda ts: w(*fill(margs, ts), **fill(mkw, ts)))(list(kts))


def _np(a):
    """NumPy view of a tensor argument (host tensors), else the argument itself."""
    if isinstance(a, ag.EagerTensor):
        a = a.value
    if isinstance(a, _C.Tensor):
        if a.device != "cpu":
            a = a.to("cpu")
        a = a.numpy()
        return a.astype(bool) if False else a
    return a


def _keras_dtype(a):
    """NumPy result -> the dtype a tensor holds: bool->uint8, float->float32,
    other ints -> int32/int64 (kept when supported)."""
    a = np.asarray(a)
    if a.dtype == np.bool_:
        return a.astype(np.uint8)
    if a.dtype.kind == "f":
        return a.astype(np.float32)
    if a.dtype.kind in "iu" and a.dtype not in (np.int32, np.int64, np.uint8):
        return a.astype(np.int64 if a.dtype.itemsize > 4 else np.int32)
    return a


def _np_result(a):
    """NumPy result for NumPy callers: float64 -> float32 (floatx), bool kept."""
    a = np.asarray(a)
    if a.dtype == np.float64 or a.dtype == np.float16:
        return a.astype(np.float32)
    return a


def _wrap(y, tensors_in):
    if isinstance(y, (list, tuple)):
        return type(y)(_wrap(i, tensors_in) for i in y)
    if isinstance(y, ag.EagerTensor):
        return y if tensors_in else y.numpy()
    if not tensors_in:
        return _np_result(y)
    return ag.EagerTensor(_ct((_keras_dtype(y))))


def _nograd(fn):
    """A NumPy-computed op without gradient: tensors in -> tensors out (no tape
    node), NumPy in -> NumPy out, KerasTensor in -> a Lambda layer."""
    @functools.wraps(fn)
    def w(*args, **kwargs):
        flat = _flat_args(args, kwargs)
        if _symbolic(flat):
            return _lambda_call(w, args, kwargs)
        tin = _bi.any(_is_tensor(a) for a in flat)
        a2 = [[_np(i) for i in a] if isinstance(a, (list, tuple)) else _np(a) for a in args]
        k2 = {k: _np(v) for k, v in kwargs.items()}
        return _wrap(fn(*a2, **k2), tin)
    return w


def _diff(fn):
    """Like `_ret` (tensors/NumPy/KerasTensor routing) for ops built from tape ops;
    results that are tuples are unwrapped element by element."""
    @functools.wraps(fn)
    def w(*args, **kwargs):
        flat = _flat_args(args, kwargs)
        if _symbolic(flat):
            return _lambda_call(w, args, kwargs)
        tin = _bi.any(_is_tensor(a) for a in flat)
        args = [ag.EagerTensor(a) if isinstance(a, _C.Tensor) else a for a in args]
        return _wrap(fn(*args, **kwargs), tin)
    return w


def _ek(x):
    """EagerTensor keeping integer dtypes (bool -> uint8, float64 -> float32)."""
    if isinstance(x, ag.EagerTensor):
        return x
    if isinstance(x, _C.Tensor):
        return ag.EagerTensor(x)
    return ag.EagerTensor(_ct((_keras_dtype(x))))


def _rec(inputs, outputs, bw):
    """ag._record for one output, with the incoming gradient reshaped to that output's
    shape (a 0-d target's output_gradients arrive as shape (1,) from autograd._val)."""
    shape = list(outputs[0].shape)

    def bw2(g, needs):
        if list(g.shape) != shape and int(np.prod(g.shape)) == int(np.prod(shape)):
            g = (g if g.is_contiguous() else g.contiguous()).reshape(shape)
        return bw(g, needs)
    ag._record(inputs, outputs, bw2)


def _host(t):
    v = t.value
    return (v if v.device == "cpu" else v.to("cpu")).numpy()


def _tensor_like(a, like):
    t = _ct((a))
    dev = like.value.device if isinstance(like, ag.EagerTensor) else "cpu"
    return t if dev == "cpu" else t.to(dev)


def _ew(x, fwd, deriv, c_op=None):
    """Elementwise y = fwd(x); backward g * deriv(x, y) (NumPy float64, then float32)."""
    x = _e(x)
    if c_op is not None:
        yv = _C.unary(c_op, x.value)
    else:
        with np.errstate(all="ignore"):
            yv = _tensor_like(np.asarray(fwd(_host(x).astype(np.float64)), dtype=np.float32), x)
    y = ag.EagerTensor(yv)
    if deriv is not None and ag.recording():
        def bw(g, needs):
            with np.errstate(all="ignore"):
                d = deriv(_host(x).astype(np.float64), _host(y).astype(np.float64))
            return (_C.binary("mul", g, _tensor_like(np.asarray(d, dtype=np.float32), x)),)
        _rec([x], [y], bw)
    return y


def _gather(xs, index_fn, fill=0.0):
    """y = index_fn(*positions) gathered from xs (see the header). index_fn gets one
    int64 array of flat positions per input (shaped like it) and returns an int64
    array whose -1 entries become `fill`. Differentiable for float inputs."""
    xs = [_ek(x) for x in xs]
    shapes = [x.shape for x in xs]
    sizes = [int(np.prod(s)) for s in shapes]
    offs = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    pos = [np.arange(offs[i], offs[i + 1], dtype=np.int64).reshape(s) for i, s in enumerate(shapes)]
    oi = np.asarray(index_fn(*pos))
    oi = oi.astype(np.int64) if oi.dtype != np.int64 else oi
    vals = np.concatenate([_host(x).reshape(-1) for x in xs]) if xs else np.zeros(0, np.float32)
    valid = oi >= 0
    y = np.where(valid, vals[np.where(valid, oi, 0)] if vals.size else 0, fill).astype(vals.dtype)
    out = ag.EagerTensor(_tensor_like(np.asarray(y), xs[0]))
    if ag.recording() and vals.dtype == np.float32:
        total = int(offs[-1])

        def bw(g, needs):
            gn = np.asarray(g.numpy() if g.device == "cpu" else g.to("cpu").numpy(), dtype=np.float64)
            acc = np.bincount(oi[valid], weights=gn[valid], minlength=total)
            return [_tensor_like(acc[offs[i]:offs[i + 1]].reshape(shapes[i]).astype(np.float32), xs[i])
                    if n else None for i, n in enumerate(needs)]
        _rec(xs, [out], bw)
    return out


def _axes(axis, nd):
    if axis is None:
        return None
    ax = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    return tuple(int(a) % nd for a in ax) if nd else tuple()


# ------------------------------------------------------------ elementwise math
def _zero_grad(x, y):
    return np.zeros_like(x)


@_ret
def absolute(x): return ag.unary("abs", _e(x))
@_ret
def sign(x): return _ew(x, np.sign, _zero_grad, "sign")
@_ret
def log1p(x): return _ew(x, np.log1p, lambda x, y: 1.0 / (1.0 + x), "log1p")
@_ret
def expm1(x): return _ew(x, np.expm1, lambda x, y: y + 1.0, "expm1")
@_ret
def log2(x): return _ew(x, np.log2, lambda x, y: 1.0 / (x * np.log(2.0)))
@_ret
def log10(x): return _ew(x, np.log10, lambda x, y: 1.0 / (x * np.log(10.0)))
@_ret
def rsqrt(x): return ag.unary("rsqrt", _e(x))
@_ret
def reciprocal(x): return ag.unary("reciprocal", _e(x))
@_ret
def sin(x): return ag.unary("sin", _e(x))
@_ret
def cos(x): return ag.unary("cos", _e(x))
@_ret
def tan(x): return _ew(x, np.tan, lambda x, y: 1.0 + y * y)
@_ret
def arctan(x): return _ew(x, np.arctan, lambda x, y: 1.0 / (1.0 + x * x))
@_ret
def arcsin(x): return _ew(x, np.arcsin, lambda x, y: 1.0 / np.sqrt(1.0 - x * x))
@_ret
def arccos(x): return _ew(x, np.arccos, lambda x, y: -1.0 / np.sqrt(1.0 - x * x))
@_ret
def sinh(x): return _ew(x, np.sinh, lambda x, y: np.cosh(x))
@_ret
def cosh(x): return _ew(x, np.cosh, lambda x, y: np.sinh(x))
@_ret
def arcsinh(x): return _ew(x, np.arcsinh, lambda x, y: 1.0 / np.sqrt(x * x + 1.0))
@_ret
def arccosh(x): return _ew(x, np.arccosh, lambda x, y: 1.0 / np.sqrt(x * x - 1.0))
@_ret
def arctanh(x): return _ew(x, np.arctanh, lambda x, y: 1.0 / (1.0 - x * x))
@_ret
def erf(x):
    from math import erf as _erf
    f = np.vectorize(_erf, otypes=[np.float64])
    return _ew(x, f, lambda x, y: 2.0 / np.sqrt(np.pi) * np.exp(-x * x))


def _int_safe(fn):
    """floor/ceil/round/trunc keep an integer input as it is (Keras)."""
    @functools.wraps(fn)
    def w(x, *a, **k):
        if not _is_tensor(x) and np.asarray(x).dtype.kind in "iub" and not _symbolic([x]):
            return np.asarray(x)
        if isinstance(x, (ag.EagerTensor, _C.Tensor)) and x.dtype != "float32":
            return x if isinstance(x, ag.EagerTensor) else ag.EagerTensor(x)
        return fn(x, *a, **k)
    return w


@_int_safe
@_ret
def floor(x): return _ew(x, np.floor, _zero_grad, "floor")
@_int_safe
@_ret
def ceil(x): return _ew(x, np.ceil, _zero_grad)
@_int_safe
@_ret
def trunc(x): return _ew(x, np.trunc, _zero_grad)
@_int_safe
@_ret
def round(x, decimals=0):
    # half to even, like np.round / torch.round (the _C kernel rounds half away from zero)
    s = 10.0 ** int(decimals)
    return _ew(x, lambda v: np.round(v * s) / s, _zero_grad)


@_ret
def mod(x1, x2):
    """x1 - x2 * floor(x1 / x2) (NumPy/Python sign convention); d/dx1 = 1, d/dx2 = -floor(x1/x2)."""
    like = x1 if isinstance(x1, ag.EagerTensor) else x2
    with np.errstate(all="ignore"):
        q = np.floor(np.asarray(_np(x1), np.float64) / np.asarray(_np(x2), np.float64)).astype(np.float32)
    return ag.subtract(x1, ag.multiply(x2, ag.EagerTensor(_tensor_like(np.asarray(q), like))))


@_nograd
def floor_divide(x1, x2): return np.floor_divide(x1, x2)


# ------------------------------------------------------------ reductions
@_ret
def amax(x, axis=None, keepdims=False): return ag.reduce("max", _e(x), axis, keepdims)
@_ret
def amin(x, axis=None, keepdims=False): return ag.reduce("min", _e(x), axis, keepdims)


@_ret
def prod(x, axis=None, keepdims=False, dtype=None):
    x = _e(x)
    nd = x.ndim
    axes = _axes(axis, nd)
    axes = tuple(range(nd)) if axes is None else axes
    y = ag.EagerTensor(_C.reduce("prod", x.value, list(axes), bool(keepdims)))
    if ag.recording():
        def bw(g, needs):
            xn = _host(x).astype(np.float64)
            rest = [a for a in range(nd) if a not in axes]
            xt = np.transpose(xn, rest + list(axes))
            m = xt.reshape(int(np.prod([xn.shape[a] for a in rest])), -1)
            # product of all the others, exact with zeros: exclusive prefix * suffix
            left = np.cumprod(np.concatenate([np.ones((m.shape[0], 1)), m[:, :-1]], 1), 1)
            right = np.cumprod(np.concatenate([np.ones((m.shape[0], 1)), m[:, ::-1][:, :-1]], 1), 1)[:, ::-1]
            others = (left * right).reshape(xt.shape)
            inv = np.argsort(rest + list(axes))
            others = np.transpose(others, inv)
            gk = np.asarray(g.numpy(), np.float64).reshape([1 if a in axes else s for a, s in enumerate(xn.shape)])
            return (_tensor_like((gk * others).astype(np.float32), x),)
        _rec([x], [y], bw)
    return y


@_diff
def var(x, axis=None, keepdims=False):
    return _var(x, axis, keepdims)


def _var(x, axis, keepdims):
    x = _e(x)
    axes = _axes(axis, x.ndim)
    m = ag.reduce("mean", x, axes, True)
    d = ag.subtract(x, m)
    return ag.reduce("mean", ag.multiply(d, d), axes, keepdims)


@_diff
def std(x, axis=None, keepdims=False):
    return ag.unary("sqrt", _var(x, axis, keepdims))


@_diff
def logsumexp(x, axis=None, keepdims=False):
    x = _e(x)
    axes = _axes(axis, x.ndim)
    m = ag.EagerTensor(_C.reduce("max", x.value, list(axes) if axes is not None else list(range(x.ndim)), True))
    m = ag.EagerTensor(_tensor_like(np.where(np.isfinite(m.numpy()), m.numpy(), 0).astype(np.float32), x))
    s = ag.reduce("sum", ag.unary("exp", ag.subtract(x, m)), axes, True)
    y = ag.add(ag.unary("log", s), m)
    if not keepdims:
        keep = axes if axes is not None else tuple(range(x.ndim))
        y = ag.reshape(y, [n for a, n in enumerate(x.shape) if a not in keep])
    return y


@_diff
def average(x, axis=None, weights=None):
    x = _e(x)
    if weights is None:
        return ag.reduce("mean", x, axis, False)
    w = _e(weights)
    if w.ndim == 1 and x.ndim > 1 and axis is not None:
        ax = int(axis) % x.ndim
        w = ag.reshape(w, [x.shape[a] if a == ax else 1 for a in range(x.ndim)])
    num = ag.reduce("sum", ag.multiply(x, w), axis, False)
    den = ag.reduce("sum", ag.add(ag.multiply(ones_like(x), w), 0.0), axis, False)
    return ag.divide(num, den)


@_diff
def cumsum(x, axis=None, dtype=None):
    x = _ek(x)
    if axis is None:
        x = _gather([x], lambda p: p.reshape(-1))
        axis = 0
    ax = int(axis) % x.ndim
    xs = x.shape
    y = ag.EagerTensor(_tensor_like(np.cumsum(_host(x), axis=ax, dtype=_host(x).dtype), x))
    if ag.recording() and x.dtype == "float32":
        def bw(g, needs):
            gn = np.asarray(g.numpy(), np.float64)
            r = np.flip(np.cumsum(np.flip(gn, ax), axis=ax), ax)
            return (_tensor_like(np.asarray(r, dtype=np.float32), x),)
        _rec([x], [y], bw)
    return y


@_diff
def cumprod(x, axis=None, dtype=None):
    x = _ek(x)
    if axis is None:
        x = _gather([x], lambda p: p.reshape(-1))
        axis = 0
    ax = int(axis) % x.ndim
    y = ag.EagerTensor(_tensor_like(np.cumprod(_host(x), axis=ax, dtype=_host(x).dtype), x))
    if ag.recording() and x.dtype == "float32":
        def bw(g, needs):
            xn = np.moveaxis(_host(x).astype(np.float64), ax, -1)
            gn = np.moveaxis(np.asarray(g.numpy(), np.float64), ax, -1)
            n = xn.shape[-1]
            out = np.zeros_like(xn)
            for i in range(n):  # exact with zeros: d y_j / d x_i = prod_{k<=j, k!=i} x_k
                xi = xn.copy()
                xi[..., i] = 1.0
                p = np.cumprod(xi, axis=-1)
                out[..., i] = np.sum(gn[..., i:] * p[..., i:], axis=-1)
            return (_tensor_like(np.asarray(np.moveaxis(out, -1, ax), dtype=np.float32), x),)
        _rec([x], [y], bw)
    return y


@_nograd
def argmax(x, axis=None, keepdims=False):
    """int32 index of the first maximum (Keras: axis=None flattens)."""
    return np.argmax(x, axis=axis, keepdims=keepdims).astype(np.int32)


@_nograd
def argmin(x, axis=None, keepdims=False):
    return np.argmin(x, axis=axis, keepdims=keepdims).astype(np.int32)


@_nograd
def argsort(x, axis=-1):
    return np.argsort(x, axis=axis, kind="stable").astype(np.int32)


@_nograd
def all(x, axis=None, keepdims=False): return np.all(x, axis=axis, keepdims=keepdims)
@_nograd
def any(x, axis=None, keepdims=False): return np.any(x, axis=axis, keepdims=keepdims)
@_nograd
def count_nonzero(x, axis=None): return np.count_nonzero(x, axis=axis).astype(np.int32)


@_nograd
def median(x, axis=None, keepdims=False): return np.median(np.asarray(x, np.float32), axis=axis, keepdims=keepdims)


@_nograd
def quantile(x, q, axis=None, method="linear", keepdims=False):
    return np.quantile(np.asarray(x, np.float32), q, axis=axis, method=method, keepdims=keepdims)


# ------------------------------------------------------------ comparison / logic
@_nograd
def equal(x1, x2): return np.equal(x1, x2)
@_nograd
def not_equal(x1, x2): return np.not_equal(x1, x2)
@_nograd
def greater(x1, x2): return np.greater(x1, x2)
@_nograd
def greater_equal(x1, x2): return np.greater_equal(x1, x2)
@_nograd
def less(x1, x2): return np.less(x1, x2)
@_nograd
def less_equal(x1, x2): return np.less_equal(x1, x2)
@_nograd
def logical_and(x1, x2): return np.logical_and(x1, x2)
@_nograd
def logical_or(x1, x2): return np.logical_or(x1, x2)
@_nograd
def logical_xor(x1, x2): return np.logical_xor(x1, x2)
@_nograd
def logical_not(x): return np.logical_not(x)
@_nograd
def isnan(x): return np.isnan(x)
@_nograd
def isinf(x): return np.isinf(x)
@_nograd
def isfinite(x): return np.isfinite(x)
@_nograd
def signbit(x): return np.signbit(x)


@_nograd
def isclose(x1, x2, rtol=1e-05, atol=1e-08, equal_nan=False):
    return np.isclose(x1, x2, rtol=rtol, atol=atol, equal_nan=equal_nan)


def allclose(x1, x2, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(np.allclose(_np(x1), _np(x2), rtol=rtol, atol=atol, equal_nan=equal_nan))


def where(condition, x1=None, x2=None):
    """Elementwise condition ? x1 : x2 (NumPy broadcasting); gradients flow to x1
    where the condition holds and to x2 elsewhere. With one argument: the tuple of
    index arrays of the true elements (like np.nonzero)."""
    if (x1 is None) != (x2 is None):
        raise ValueError("keras.ops.where: x1 and x2 must be given together, or neither")
    if x1 is None:
        return nonzero(condition)
    return _where(condition, x1, x2)


@_diff
def _where(condition, x1, x2):
    c = np.asarray(_np(condition)).astype(bool)
    all_int = builtins_all(np.asarray(_np(a)).dtype.kind in "iub" for a in (x1, x2))
    if all_int:
        return np.where(c, _np(x1), _np(x2))
    a, b = _e(x1), _e(x2)
    shape = np.broadcast_shapes(c.shape, a.shape, b.shape)
    cb = np.broadcast_to(c, shape)

    def idx(pa, pb):
        return np.where(cb, np.broadcast_to(pa, shape), np.broadcast_to(pb, shape))
    return _gather([a, b], idx)


def builtins_all(it):
    return _bi.all(it)


@_nograd
def nonzero(x):
    return tuple(i.astype(np.int32) for i in np.nonzero(x))


# ------------------------------------------------------------ creation
def _floatx_dtype(dtype, default="float32"):
    if dtype is None:
        return default
    from .backend import standardize_dtype
    return standardize_dtype(dtype)


def _made(a, dtype):
    """A creation op's result: an EagerTensor of `dtype` (bool -> uint8)."""
    a = np.asarray(a)
    dt = _floatx_dtype(dtype, None)
    if dt is not None:
        a = a.astype(np.bool_ if dt == "bool" else dt)
    return ag.EagerTensor(_ct((_keras_dtype(a))))


def arange(start, stop=None, step=None, dtype=None):
    if stop is None:
        start, stop = 0, start
    if step is None:
        step = 1
    if dtype is None:
        dtype = "int32" if builtins_all(isinstance(v, (int, np.integer)) for v in (start, stop, step)) else "float32"
    return _made(np.arange(start, stop, step), dtype)


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    r = np.linspace(_np(start), _np(stop), int(num), endpoint=endpoint, retstep=retstep, axis=axis)
    if retstep:
        return _made(r[0], dtype or "float32"), r[1]
    return _made(r, dtype or "float32")


def eye(N, M=None, k=0, dtype=None):
    return _made(np.eye(int(N), None if M is None else int(M), int(k)), dtype or "float32")


def identity(n, dtype=None):
    return eye(n, dtype=dtype)


def full(shape, fill_value, dtype=None):
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    fv = _np(fill_value)
    return _made(np.full(shape, fv), dtype or "float32")  # Keras: dtype None -> floatx, even for an int fill


def full_like(x, fill_value, dtype=None):
    shp, dt, _ = _like(x, dtype)
    if dtype is None and not _is_tensor(x):
        dt = _np_result(np.asarray(x)).dtype.name
    return full(shp, fill_value, dt)


def empty(shape, dtype=None):
    return zeros(shape, dtype)


@_nograd
def tri(N, M=None, k=0, dtype=None):
    return np.tri(N, M, k, dtype=np.float32 if dtype is None else dtype)


@_nograd
def meshgrid(*x, indexing="xy"):
    return tuple(np.meshgrid(*x, indexing=indexing))


# ------------------------------------------------------------ gather family
@_diff
def stack(x, axis=0):
    return _gather(list(x), lambda *ps: np.stack(ps, axis=axis))


@_diff
def unstack(x, num=None, axis=0):
    x = _ek(x)
    ax = int(axis) % x.ndim
    return [_gather([x], lambda p, i=i: np.take(p, i, axis=ax)) for i in range(x.shape[ax])]


@_diff
def split(x, indices_or_sections, axis=0):
    x = _ek(x)
    ax = int(axis) % x.ndim
    pieces = np.array_split(np.arange(x.shape[ax]), indices_or_sections) \
        if isinstance(indices_or_sections, (int, np.integer)) else \
        np.split(np.arange(x.shape[ax]), list(indices_or_sections))
    if isinstance(indices_or_sections, (int, np.integer)) and x.shape[ax] % int(indices_or_sections):
        raise ValueError("keras.ops.split: axis %d of size %d is not divisible into %d equal sections"
                         % (ax, x.shape[ax], indices_or_sections))
    return [_gather([x], lambda p, ix=ix: np.take(p, ix, axis=ax)) for ix in pieces]


@_diff
def tile(x, repeats):
    return _gather([x], lambda p: np.tile(p, repeats))


@_diff
def repeat(x, repeats, axis=None):
    return _gather([x], lambda p: np.repeat(p, _np(repeats), axis=axis))


@_diff
def broadcast_to(x, shape):
    return _gather([x], lambda p: np.broadcast_to(p, tuple(int(s) for s in shape)).copy())


@_diff
def flip(x, axis=None):
    return _gather([x], lambda p: np.flip(p, axis=axis))


@_diff
def roll(x, shift, axis=None):
    return _gather([x], lambda p: np.roll(p, shift, axis=axis))


@_diff
def moveaxis(x, source, destination):
    return _gather([x], lambda p: np.moveaxis(p, source, destination))


@_diff
def swapaxes(x, axis1, axis2):
    return _gather([x], lambda p: np.swapaxes(p, axis1, axis2))


@_diff
def ravel(x):
    return _gather([x], lambda p: p.reshape(-1))


@_diff
def diagonal(x, offset=0, axis1=0, axis2=1):
    return _gather([x], lambda p: np.diagonal(p, offset, axis1, axis2).copy())


@_diff
def diag(x, k=0):
    def f(p):
        if p.ndim == 1:
            n = p.shape[0] + _bi.abs(k)
            out = np.full((n, n), -1, np.int64)
            i = np.arange(p.shape[0])
            out[i + _bi.max(-k, 0), i + _bi.max(k, 0)] = p
            return out
        return np.diag(p, k).copy()
    return _gather([x], f)


@_diff
def triu(x, k=0):
    def f(p):
        m = np.triu(np.ones(p.shape[-2:], bool), k)
        return np.where(m, p, -1)
    return _gather([x], f)


@_diff
def tril(x, k=0):
    def f(p):
        m = np.tril(np.ones(p.shape[-2:], bool), k)
        return np.where(m, p, -1)
    return _gather([x], f)


@_diff
def append(x1, x2, axis=None):
    return _gather([x1, x2], lambda a, b: np.append(a, b, axis=axis))


@_diff
def pad(x, pad_width, mode="constant", constant_values=None):
    if mode not in ("constant", "reflect", "symmetric", "edge", "wrap"):
        raise ValueError("keras.ops.pad: mode must be one of constant, reflect, symmetric, edge, wrap; got %r"
                         % (mode,))
    if constant_values is not None and mode != "constant":
        raise ValueError("keras.ops.pad: constant_values is only used with mode='constant', got mode=%r" % (mode,))
    pw = np.asarray(pad_width, dtype=np.int64)
    if mode == "constant":
        fill = 0.0 if constant_values is None else float(constant_values)
        return _gather([x], lambda p: np.pad(p, pw, mode="constant", constant_values=-1), fill)
    return _gather([x], lambda p: np.pad(p, pw, mode=mode))


def _norm_indices(ind, n):
    ind = np.asarray(ind)
    if ind.dtype.kind not in "iu":
        ind = ind.astype(np.int64)
    return np.where(ind < 0, ind + n, ind)


@_diff
def take(x, indices, axis=None):
    ind = np.asarray(_np(indices))

    def f(p):
        n = p.size if axis is None else p.shape[int(axis)]
        return np.take(p, _norm_indices(ind, n), axis=axis)
    return _gather([x], f)


@_diff
def take_along_axis(x, indices, axis=None):
    ind = np.asarray(_np(indices))

    def f(p):
        if axis is None:
            return np.take_along_axis(p.reshape(-1), _norm_indices(ind, p.size).reshape(-1), 0)
        ax = int(axis) % p.ndim
        i = _norm_indices(ind, p.shape[ax])
        shp = list(np.broadcast_shapes(p.shape[:ax] + (1,) + p.shape[ax + 1:], i.shape[:ax] + (1,) + i.shape[ax + 1:]))
        pb = np.broadcast_to(p, shp[:ax] + [p.shape[ax]] + shp[ax + 1:])
        ib = np.broadcast_to(i, shp[:ax] + [i.shape[ax]] + shp[ax + 1:])
        return np.take_along_axis(pb, ib, ax)
    return _gather([x], f)


@_diff
def slice(inputs, start_indices, shape):
    st = [int(s) for s in np.asarray(_np(start_indices)).reshape(-1)]
    sh = [int(s) for s in np.asarray(_np(shape)).reshape(-1)]
    return _gather([inputs], lambda p: p[tuple(_bi.slice(s, s + n) for s, n in zip(st, sh))].copy())


@_diff
def slice_update(inputs, start_indices, updates):
    st = [int(s) for s in np.asarray(_np(start_indices)).reshape(-1)]

    def f(p, u):
        out = p.copy()
        out[tuple(_bi.slice(s, s + n) for s, n in zip(st, u.shape))] = u
        return out
    return _gather([inputs, updates], f)


@_diff
def sort(x, axis=-1):
    order = np.argsort(_np(x) if _is_tensor(x) else np.asarray(x), axis=axis, kind="stable")
    return _gather([x], lambda p: np.take_along_axis(p, order, axis=axis))


def top_k(x, k, sorted=True):
    """(values, indices) of the k largest entries along the last axis; values are
    differentiable (a gather), ties keep the lower index first (like torch.topk)."""
    return _top_k(x, int(k))


@_diff
def _top_k(x, k):
    xn = np.asarray(_np(x))
    if k > xn.shape[-1]:
        raise ValueError("keras.ops.top_k: k=%d is larger than the last dimension %d" % (k, xn.shape[-1]))
    order = np.argsort(-xn.astype(np.float64), axis=-1, kind="stable")[..., :k]
    vals = _gather([x], lambda p: np.take_along_axis(p, order, axis=-1))
    return vals, order.astype(np.int32)


@_nograd
def in_top_k(targets, predictions, k):
    p = np.asarray(predictions, np.float64)
    t = np.asarray(targets).astype(np.int64)
    tv = p[np.arange(p.shape[0]), t]
    return np.sum(p > tv[:, None], axis=-1) < k


# ------------------------------------------------------------ one-hot family
@_nograd
def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    if sparse:
        raise NotImplementedError("keras.ops.one_hot: sparse=True is not supported by pyconvnet")
    x = np.asarray(x).astype(np.int64)
    n = int(num_classes)
    out = (x[..., None] == np.arange(n)).astype(_floatx_dtype(dtype))  # out of range -> all zeros
    if axis != -1:
        out = np.moveaxis(out, -1, axis)
    return out


@_nograd
def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    if sparse:
        raise NotImplementedError("keras.ops.multi_hot: sparse=True is not supported by pyconvnet")
    num_classes = kwargs.pop("num_tokens", num_classes)
    x = np.asarray(inputs).astype(np.int64)
    oh = (x[..., None] == np.arange(int(num_classes)))
    out = oh.any(axis=-2 if x.ndim > 1 else 0).astype(_floatx_dtype(dtype))
    if axis != -1 and out.ndim > 1:
        out = np.moveaxis(out, -1, axis)
    return out


@_nograd
def bincount(x, weights=None, minlength=0, sparse=False):
    x = np.asarray(x).astype(np.int64)
    if x.ndim == 2:
        n = _bi.max(int(minlength), int(x.max()) + 1 if x.size else 0)
        return np.stack([np.bincount(r, None if weights is None else np.asarray(weights)[i], minlength=n)
                         for i, r in enumerate(x)])
    return np.bincount(x, weights, minlength=int(minlength))


@_nograd
def digitize(x, bins): return np.digitize(x, bins).astype(np.int32)


@_nograd
def searchsorted(sorted_sequence, values, side="left"):
    return np.searchsorted(sorted_sequence, values, side=side).astype(np.int32)


@_nograd
def unique(x, sorted=True, return_index=False, return_inverse=False, return_counts=False, axis=None, size=None,
           fill_value=None):
    return np.unique(x, return_index=return_index, return_inverse=return_inverse, return_counts=return_counts,
                     axis=axis)


@_nograd
def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    return np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)


# ------------------------------------------------------------ activations
@_ret
def hard_sigmoid(x):
    # keras.ops.hard_sigmoid: relu6(x + 3) / 6
    return ag.multiply(ag.activation(ag.add(_e(x), 3.0), "relu6"), 1.0 / 6.0)


@_ret
def hard_silu(x):
    x = _e(x)
    return ag.multiply(x, hard_sigmoid(x))


hard_swish = hard_silu


@_ret
def log_sigmoid(x):
    return ag.negative(ag.activation(ag.negative(_e(x)), "softplus"))


@_ret
def softsign(x): return ag.activation(_e(x), "softsign")


@_ret
def mish(x):
    x = _e(x)
    return ag.multiply(x, ag.activation(ag.activation(x, "softplus"), "tanh"))


@_ret
def celu(x, alpha=1.0):
    # maximum(x, 0) + alpha * expm1(minimum(x, 0) / alpha)
    x = _e(x)
    a = float(alpha)
    neg = _ew(ag.multiply(ag.minimum(x, 0.0), 1.0 / a), np.expm1, lambda v, y: y + 1.0, "expm1")
    return ag.add(ag.maximum(x, 0.0), ag.multiply(neg, a))


@_ret
def glu(x, axis=-1):
    x = _e(x)
    ax = int(axis) % x.ndim
    n = x.shape[ax]
    if n % 2:
        raise ValueError("keras.ops.glu: axis %d must have an even size, got %d" % (axis, n))
    a = ag.slice_axis(x, ax, 0, n // 2)
    b = ag.slice_axis(x, ax, n // 2, n)
    return ag.multiply(a, ag.activation(b, "sigmoid"))


@_ret
def sparse_plus(x):
    # 0 for x <= -1, (x+1)^2/4 for |x| < 1, x for x >= 1
    return _ew(x, lambda v: np.where(v <= -1, 0.0, np.where(v >= 1, v, 0.25 * (v + 1) ** 2)),
               lambda v, y: np.where(v <= -1, 0.0, np.where(v >= 1, 1.0, 0.5 * (v + 1))))


@_ret
def squareplus(x, b=4):
    x = _e(x)
    return ag.multiply(ag.add(x, ag.unary("sqrt", ag.add(ag.multiply(x, x), float(b)))), 0.5)


@_ret
def exponential(x): return ag.unary("exp", _e(x))


# ------------------------------------------------------------ losses (per element / per sample)
def _eps():
    from .backend import epsilon
    return epsilon()


@_diff
def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    t, o = _e(target), _e(output)
    if t.shape != o.shape:
        raise ValueError("Arguments `target` and `output` must have the same shape. Received: target.shape=%s, "
                         "output.shape=%s" % (t.shape, o.shape))
    if o.ndim < 1:
        raise ValueError("Arguments `target` and `output` must be at least rank 1.")
    if from_logits:
        ax = int(axis) % o.ndim
        if ax != o.ndim - 1:
            perm = [a for a in range(o.ndim) if a != ax] + [ax]
            o, t = ag.transpose(o, perm), ag.transpose(t, perm)
        logp = ag.log_softmax(o, -1)
        ax = -1
    else:
        o = ag.divide(o, ag.reduce("sum", o, axis, True))
        e = _eps()
        logp = ag.unary("log", ag.clip(o, e, 1.0 - e))
        ax = axis
    return ag.negative(ag.reduce("sum", ag.multiply(t, logp), ax, False))


@_diff
def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    o = _e(output)
    tn = np.asarray(_np(target)).astype(np.int64)
    ax = int(axis) % o.ndim
    if tn.ndim == o.ndim and tn.shape[ax] == 1:
        tn = np.squeeze(tn, ax)
    want = list(o.shape[:ax]) + list(o.shape[ax + 1:])
    if list(tn.shape) != want:
        raise ValueError("Arguments `target` and `output` must have the same shape up until the last dimension: "
                         "target.shape=%s, output.shape=%s" % (tn.shape, o.shape))
    oh = np.moveaxis((tn[..., None] == np.arange(o.shape[ax])).astype(np.float32), -1, ax)
    return categorical_crossentropy(ag.EagerTensor(_tensor_like(np.asarray(oh), o)), o, from_logits, ax)


@_diff
def binary_crossentropy(target, output, from_logits=False):
    t, o = _e(target), _e(output)
    if t.shape != o.shape:
        raise ValueError("Arguments `target` and `output` must have the same shape. Received: target.shape=%s, "
                         "output.shape=%s" % (t.shape, o.shape))
    if from_logits:
        # max(o, 0) - o * t + log1p(exp(-|o|))  (stable)
        sp = ag.activation(ag.negative(ag.unary("abs", o)), "softplus")
        return ag.add(ag.subtract(ag.maximum(o, 0.0), ag.multiply(o, t)), sp)
    e = _eps()
    o = ag.clip(o, e, 1.0 - e)
    # torch's binary_cross_entropy clamps log at -100
    lo = ag.maximum(ag.unary("log", o), -100.0)
    l1 = ag.maximum(ag.unary("log", ag.subtract(1.0, o)), -100.0)
    return ag.negative(ag.add(ag.multiply(t, lo), ag.multiply(ag.subtract(1.0, t), l1)))


# ------------------------------------------------------------ nn: conv / pool / norms
def _tuple_n(v, n, what):
    if isinstance(v, (int, np.integer)):
        return (int(v),) * n
    v = tuple(int(i) for i in v)
    if len(v) != n:
        raise ValueError("keras.ops: %s must be an int or %d ints, got %s" % (what, n, v))
    return v


def _cl(data_format, op):
    if data_format not in (None, "channels_last"):
        raise ValueError("keras.ops.%s: only data_format='channels_last' is supported, got %r" % (op, data_format))


def _pad_mode(padding, op):
    p = str(padding).lower()
    if p not in ("valid", "same"):
        raise ValueError("keras.ops.%s: padding must be 'valid' or 'same', got %r" % (op, padding))
    return p


def _spatial(x, k_ndim_extra, op):
    """(x4, undo) viewing a 1-D (N,W,C) input as (N,1,W,C); 2-D passes through."""
    nd = x.ndim - 2
    if nd == 1:
        n, w, c = x.shape
        return ag.reshape(x, [n, 1, w, c]), 1
    if nd == 2:
        return x, 2
    raise NotImplementedError("keras.ops.%s: only 1-D and 2-D inputs are supported (got rank %d)" % (op, x.ndim))


@_ret
def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-D convolution, channels_last: inputs (N, [H,] W, C), kernel ([kh,] kw, C/groups, F); groups inferred."""
    _cl(data_format, "conv")
    x, w = _e(inputs), _e(kernel)
    x4, nd = _spatial(x, 0, "conv")
    s, d = _tuple_n(strides, nd, "strides"), _tuple_n(dilation_rate, nd, "dilation_rate")
    if nd == 1:
        w = ag.reshape(w, [1] + list(w.shape))
        s, d = (1,) + s, (1,) + d
    cin = x4.shape[-1]
    if cin % w.shape[2]:
        raise ValueError("keras.ops.conv: input channels %d not divisible by the kernel's %d" % (cin, w.shape[2]))
    y = ag.conv2d(x4, w, None, s, _pad_mode(padding, "conv"), d, cin // w.shape[2])
    if nd == 1:
        y = ag.reshape(y, [y.shape[0], y.shape[2], y.shape[3]])
    return y


@_ret
def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """kernel ([kh,] kw, C, M) -> output channels C*M."""
    _cl(data_format, "depthwise_conv")
    x, w = _e(inputs), _e(kernel)
    x4, nd = _spatial(x, 0, "depthwise_conv")
    s, d = _tuple_n(strides, nd, "strides"), _tuple_n(dilation_rate, nd, "dilation_rate")
    if nd == 1:
        w = ag.reshape(w, [1] + list(w.shape))
        s, d = (1,) + s, (1,) + d
    kh, kw, c, m = w.shape
    y = ag.conv2d(x4, ag.reshape(w, [kh, kw, 1, c * m]), None, s, _pad_mode(padding, "depthwise_conv"), d, c)
    if nd == 1:
        y = ag.reshape(y, [y.shape[0], y.shape[2], y.shape[3]])
    return y


@_ret
def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    y = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv(y, pointwise_kernel, 1, "valid", data_format, 1)


def _pool(mode, inputs, pool_size, strides, padding, data_format, op):
    _cl(data_format, op)
    x = _e(inputs)
    x4, nd = _spatial(x, 0, op)
    k = _tuple_n(pool_size, nd, "pool_size")
    s = k if strides is None else _tuple_n(strides, nd, "strides")
    if nd == 1:
        k, s = (1,) + k, (1,) + s
    y = ag.pool2d(x4, mode, k + (1,), s + (1,), _pad_mode(padding, op))
    if nd == 1:
        y = ag.reshape(y, [y.shape[0], y.shape[2], y.shape[3]])
    return y


@_ret
def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    return _pool("max", inputs, pool_size, strides, padding, data_format, "max_pool")


@_ret
def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    return _pool("avg", inputs, pool_size, strides, padding, data_format, "average_pool")


@_diff
def moments(x, axes, keepdims=False, synchronized=False):
    """(mean, variance) over `axes` (biased variance, like Keras)."""
    x = _e(x)
    axes = _axes(axes, x.ndim)
    m = ag.reduce("mean", x, axes, True)
    d = ag.subtract(x, m)
    v = ag.reduce("mean", ag.multiply(d, d), axes, keepdims)
    if not keepdims:
        m = ag.reshape(m, [n for a, n in enumerate(x.shape) if a not in axes])
    return m, v


@_ret
def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """(x - mean) * rsqrt(variance + epsilon) * scale + offset, with the 1-D statistics on `axis`."""
    x = _e(x)
    ax = int(axis) % x.ndim
    shp = [x.shape[a] if a == ax else 1 for a in range(x.ndim)]

    def b(t):
        t = _e(t)
        return ag.reshape(t, shp) if t.ndim == 1 else t
    inv = ag.unary("rsqrt", ag.add(b(variance), float(epsilon)))
    if scale is not None:
        inv = ag.multiply(inv, b(scale))
    y = ag.multiply(ag.subtract(x, b(mean)), inv)
    if offset is not None:
        y = ag.add(y, b(offset))
    return y


@_ret
def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    """(x - mean) * rsqrt(var + epsilon) * gamma + beta over `axis` (int or list);
    epsilon defaults to backend.epsilon() as in Keras; rms_scaling=True (Keras's
    deprecated flag) drops the centering: x * rsqrt(var + epsilon) * gamma."""
    rms_scaling = kwargs.pop("rms_scaling", False)
    if kwargs:
        raise TypeError("keras.ops.layer_normalization: unexpected arguments %s" % sorted(kwargs))
    x = _e(x)
    eps = _eps() if epsilon is None else float(epsilon)
    axes = sorted(int(a) % x.ndim for a in ([axis] if isinstance(axis, (int, np.integer)) else axis))
    shp = [x.shape[a] if a in axes else 1 for a in range(x.ndim)]

    def b(t):
        t = _e(t)
        return ag.reshape(t, shp) if t.ndim != x.ndim else t
    m, v = moments(x, axes, keepdims=True)
    inv = ag.unary("rsqrt", ag.add(v, eps))
    y = ag.multiply(x, inv) if rms_scaling else ag.multiply(ag.subtract(x, m), inv)
    if gamma is not None:
        y = ag.multiply(y, b(gamma))
    if beta is not None and not rms_scaling:
        y = ag.add(y, b(beta))
    return y


@_ret
def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    x = _e(x)
    eps = _eps() if epsilon is None else float(epsilon)
    ms = ag.reduce("mean", ag.multiply(x, x), axis, True)
    y = ag.multiply(x, ag.unary("rsqrt", ag.add(ms, eps)))
    if scale is not None:
        y = ag.multiply(y, _e(scale))
    return y


@_ret
def norm(x, ord=None, axis=None, keepdims=False):
    """Vector norms (ord None/2, 1, inf, -inf, p) over one axis, Frobenius ('fro' or
    None) over two axes or a whole matrix; matrix 2-norms are not supported."""
    x = _e(x)
    nd = x.ndim
    axes = _axes(axis, nd)
    if axes is None:
        axes = tuple(range(nd))  # ord None: the 2-norm of all elements; else a vector or matrix norm
        if ord is not None and nd not in (1, 2):
            raise ValueError("keras.ops.norm: ord=%r needs axis for a rank-%d input" % (ord, nd))
    ax = list(axes)
    if len(ax) == 2 and ord not in (None, "fro"):
        if ord in (1, -1, np.inf, -np.inf):
            inner, outer = (ax[0], ax[1]) if ord in (1, -1) else (ax[1], ax[0])
            s = ag.reduce("sum", ag.unary("abs", x), [inner], True)
            y = ag.reduce("max" if ord in (1, np.inf) else "min", s, [outer], True)
        else:
            raise NotImplementedError("keras.ops.norm: matrix ord=%r is not supported" % (ord,))
    elif ord is None or ord == 2 or ord == "fro":
        if ord == "fro" and len(ax) != 2:
            raise ValueError("keras.ops.norm: ord='fro' needs a 2-D input or two axes")
        y = ag.unary("sqrt", ag.reduce("sum", ag.multiply(x, x), ax, True))
    elif ord == 1:
        y = ag.reduce("sum", ag.unary("abs", x), ax, True)
    elif ord == np.inf:
        y = ag.reduce("max", ag.unary("abs", x), ax, True)
    elif ord == -np.inf:
        y = ag.reduce("min", ag.unary("abs", x), ax, True)
    elif ord == 0:
        y = ag.EagerTensor(_tensor_like(np.sum(_host(x) != 0, axis=tuple(ax), keepdims=True).astype(np.float32), x))
    else:
        p = float(ord)
        y = ag.power(ag.reduce("sum", ag.power(ag.unary("abs", x), p), ax, True), 1.0 / p)
    if not keepdims:
        y = ag.reshape(y, [n for a, n in enumerate(x.shape) if a not in ax])
    return y


@_ret
def normalize(x, axis=-1, order=2, epsilon=None):
    """x / max(norm(x), epsilon) (order 2: x * min(rsqrt(sum x^2), 1/epsilon))."""
    if not isinstance(order, int) or not order >= 1:
        raise ValueError("Argument `order` must be an int >= 1. Received: order=%r" % (order,))
    x = _e(x)
    if x.ndim == 0:
        x = ag.reshape(x, [1])
    eps = _eps() if epsilon is None else float(epsilon)
    if order == 2:
        inv = ag.unary("rsqrt", ag.reduce("sum", ag.multiply(x, x), axis, True))
        return ag.multiply(x, ag.minimum(inv, 1.0 / eps))
    return ag.divide(x, ag.maximum(norm(x, order, axis, True), eps))


@_ret
def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None):
    """query (B, T, N, H), key/value (B, S, N, H) -> (B, T, N, H) (Keras layout)."""
    if flash_attention or attn_logits_soft_cap is not None:
        raise NotImplementedError("keras.ops.dot_product_attention: flash_attention / attn_logits_soft_cap are not "
                                  "supported by pyconvnet")
    q, k, v = _e(query), _e(key), _e(value)
    b, t, n, h = q.shape
    s = k.shape[1]
    sc = 1.0 / np.sqrt(h) if scale is None else float(scale)
    qh = ag.reshape(ag.transpose(q, [0, 2, 1, 3]), [b * n, t, h])
    kh = ag.reshape(ag.transpose(k, [0, 2, 3, 1]), [b * n, h, s])
    vh = ag.reshape(ag.transpose(v, [0, 2, 1, 3]), [b * n, s, h])
    logits = ag.reshape(ag.multiply(ag.matmul(qh, kh), sc), [b, n, t, s])
    if bias is not None:
        logits = ag.add(logits, _e(bias))
    m = None
    if mask is not None:
        m = np.broadcast_to(np.asarray(_np(mask)).astype(bool), (b, n, t, s))
    if is_causal:
        c = np.broadcast_to(np.tril(np.ones((t, s), bool)), (b, n, t, s))
        m = c if m is None else (m & c)
    if m is not None:
        big = np.float32(np.finfo(np.float32).min / 2)
        add_m = ag.EagerTensor(_tensor_like(np.asarray(np.where(m, 0.0, big).astype(np.float32)), q))
        logits = ag.add(logits, add_m)
    p = ag.reshape(ag.softmax(logits, -1), [b * n, t, s])
    o = ag.reshape(ag.matmul(p, vh), [b, n, t, h])
    return ag.transpose(o, [0, 2, 1, 3])


# ------------------------------------------------------------ linear algebra
@_ret
def outer(x1, x2):
    a, b = _e(x1), _e(x2)
    na, nb = int(np.prod(a.shape)), int(np.prod(b.shape))
    return ag.matmul(ag.reshape(a, [na, 1]), ag.reshape(b, [1, nb]))


@_ret
def vdot(x1, x2):
    a, b = _e(x1), _e(x2)
    return ag.reduce("sum", ag.multiply(ag.reshape(a, [int(np.prod(a.shape))]), ag.reshape(b, [int(np.prod(b.shape))])),
                     None, False)


@_ret
def tensordot(x1, x2, axes=2):
    a, b = _e(x1), _e(x2)
    if isinstance(axes, (int, np.integer)):
        ax_a = list(range(a.ndim - int(axes), a.ndim))
        ax_b = list(range(int(axes)))
    else:
        ax_a, ax_b = [[int(i) % t.ndim for i in (v if isinstance(v, (list, tuple)) else [v])]
                      for v, t in zip(axes, (a, b))]
    fa = [i for i in range(a.ndim) if i not in ax_a]
    fb = [i for i in range(b.ndim) if i not in ax_b]
    k = int(np.prod([a.shape[i] for i in ax_a]))
    am = ag.reshape(ag.transpose(a, fa + ax_a), [-1, k])
    bm = ag.reshape(ag.transpose(b, ax_b + fb), [k, -1])
    y = ag.matmul(am, bm)
    return ag.reshape(y, [a.shape[i] for i in fa] + [b.shape[i] for i in fb])


def einsum(subscripts, *operands, **kwargs):
    """One- or two-operand einsum without ellipsis (differentiable): operands are
    transposed/reshaped to one batched matmul; other forms raise NotImplementedError."""
    return _einsum(subscripts, *operands)


@_diff
def _einsum(subscripts, *operands):
    s = subscripts.replace(" ", "")
    if "..." in s:
        raise NotImplementedError("keras.ops.einsum: ellipsis ('...') is not supported by pyconvnet")
    if "->" in s:
        ins, out = s.split("->")
    else:
        ins = s
        letters = ins.replace(",", "")
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    ins = ins.split(",")
    if len(ins) != len(operands) or len(ins) > 2:
        raise NotImplementedError("keras.ops.einsum: only one or two operands are supported, got %r" % subscripts)
    ops_ = [_e(o) for o in operands]
    for sub, o in zip(ins, ops_):
        if len(sub) != o.ndim or len(set(sub)) != len(sub):
            raise NotImplementedError("keras.ops.einsum: %r: repeated indices / rank mismatch not supported"
                                      % subscripts)
    dims = {}
    for sub, o in zip(ins, ops_):
        for c, n in zip(sub, o.shape):
            dims[c] = n
    if len(ins) == 1:
        a, sa = ops_[0], ins[0]
        summed = [sa.index(c) for c in sa if c not in out]
        if summed:
            a = ag.reduce("sum", a, summed, False)
            sa = "".join(c for c in sa if c in out)
        return ag.transpose(a, [sa.index(c) for c in out]) if sa != out else a
    (a, b), (sa, sb) = ops_, ins
    # pre-sum letters that live in one operand only and not in the output
    for which in (0, 1):
        t, st, so = (a, sa, sb) if which == 0 else (b, sb, sa)
        lone = [st.index(c) for c in st if c not in so and c not in out]
        if lone:
            t = ag.reduce("sum", t, lone, False)
            st = "".join(c for c in st if c in so or c in out)
        if which == 0:
            a, sa = t, st
        else:
            b, sb = t, st
    batch = [c for c in sa if c in sb and c in out]
    contr = [c for c in sa if c in sb and c not in out]
    fa = [c for c in sa if c not in sb]
    fb = [c for c in sb if c not in sa]
    nb = int(np.prod([dims[c] for c in batch])) if batch else 1
    am = ag.reshape(ag.transpose(a, [sa.index(c) for c in batch + fa + contr]),
                    [nb, int(np.prod([dims[c] for c in fa])) if fa else 1,
                     int(np.prod([dims[c] for c in contr])) if contr else 1])
    bm = ag.reshape(ag.transpose(b, [sb.index(c) for c in batch + contr + fb]),
                    [nb, int(np.prod([dims[c] for c in contr])) if contr else 1,
                     int(np.prod([dims[c] for c in fb])) if fb else 1])
    y = ag.matmul(am, bm)
    res = batch + fa + fb
    y = ag.reshape(y, [dims[c] for c in res])
    if "".join(res) != out:
        y = ag.transpose(y, [res.index(c) for c in out]) if y.ndim else y
    return y


# ------------------------------------------------------------ core
def stop_gradient(variable):
    """The same values, cut from the tape (a new EagerTensor sharing the buffer)."""
    if isinstance(variable, ag.EagerTensor):
        return ag.EagerTensor(variable.value)
    if isinstance(variable, _C.Tensor):
        return ag.EagerTensor(variable)
    from .layers.base import KerasTensor
    if isinstance(variable, KerasTensor):
        return _lambda_call(stop_gradient, (variable,), {})
    return np.asarray(variable)


def dtype(x):
    """The standardized dtype name of x ('float32', 'int32', ...; pyconvnet's uint8 masks say 'uint8')."""
    from .backend import standardize_dtype
    return standardize_dtype(x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype)


def size(x):
    return int(np.prod(shape(x)))


def ndim(x):
    return len(shape(x))


def is_tensor(x):
    """True for pyconvnet tensors (EagerTensor / Variable / _C.Tensor), not NumPy arrays (like Keras)."""
    return _is_tensor(x)


# ------------------------------------------------------------ matmul / dot (N-D, NumPy semantics)
@_ret
def matmul(x1, x2):
    """NumPy matmul semantics: 1-D operands are promoted and the added axis dropped,
    leading (batch) axes broadcast; differentiable (one batched GEMM)."""
    a, b = _e(x1), _e(x2)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("keras.ops.matmul: operands must be at least 1-D, got shapes %s and %s" % (a.shape, b.shape))
    va, vb = a.ndim == 1, b.ndim == 1
    if va:
        a = ag.reshape(a, [1, a.shape[0]])
    if vb:
        b = ag.reshape(b, [b.shape[0], 1])
    m, k = a.shape[-2:]
    k2, n = b.shape[-2:]
    if k != k2:
        raise ValueError("keras.ops.matmul: inner dimensions differ: %s @ %s" % (a.shape, b.shape))
    if a.ndim == 2 and b.ndim == 2:
        y = ag.matmul(a, b)
    elif b.ndim == 2:  # (..., M, K) @ (K, N): one GEMM over all rows
        lead = list(a.shape[:-1])
        y = ag.reshape(ag.matmul(ag.reshape(a, [int(np.prod(lead)), k]), b), lead + [n])
    else:
        batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
        if a.shape[:-2] != batch:
            a = broadcast_to(a, batch + (m, k))
        if b.shape[:-2] != batch:
            b = broadcast_to(b, batch + (k, n))
        nb = int(np.prod(batch))
        y = ag.matmul(ag.reshape(a, [nb, m, k]), ag.reshape(b, [nb, k, n]))
        y = ag.reshape(y, list(batch) + [m, n])
    if va:
        y = ag.reshape(y, list(y.shape[:-2]) + [y.shape[-1]])
    if vb:
        y = ag.reshape(y, list(y.shape[:-1]))
    return y


@_ret
def dot(x1, x2):
    """np.dot: scalars multiply; otherwise a sum over the last axis of x1 and the
    second-to-last of x2 (the last if x2 is 1-D)."""
    a, b = _e(x1), _e(x2)
    if a.ndim == 0 or b.ndim == 0:
        return ag.multiply(a, b)
    return tensordot(a, b, axes=([a.ndim - 1], [0 if b.ndim == 1 else b.ndim - 2]))


# ------------------------------------------------------------ integer inputs (Keras dtype rules)
def _kind(a):
    """'f'/'i'/'b' for arrays and tensors, 'wf'/'wi' for Python numbers (weak), None otherwise."""
    if isinstance(a, bool):
        return None
    if isinstance(a, int):
        return "wi"
    if isinstance(a, float):
        return "wf"
    if isinstance(a, (ag.EagerTensor, _C.Tensor)):
        return "f" if a.dtype == "float32" else ("b" if False else "i")
    if isinstance(a, (np.ndarray, np.generic)):
        k = a.dtype.kind
        return "f" if k in "fc" else ("b" if k == "b" else "i")
    return None


def _tofloat(a):
    if isinstance(a, (list, tuple)):
        return type(a)(_tofloat(i) for i in a)
    if isinstance(a, (ag.EagerTensor, _C.Tensor)) and a.dtype != "float32":
        return ag.cast(_ek(a), "float32")
    if isinstance(a, (np.ndarray, np.generic)) and a.dtype.kind in "iub":
        return np.asarray(a, dtype=np.float32)
    return a


def _tofloat_arr(a):
    """_tofloat for an array argument that may be a (nested) Python list of numbers."""
    if isinstance(a, (list, tuple)):
        if _bi.any(_is_tensor(i) or isinstance(i, np.ndarray) for i in _flatten(a)):
            return type(a)(_tofloat_arr(i) for i in a)
        arr = np.asarray(a)
        return arr.astype(np.float32) if arr.dtype.kind in "iub" else arr
    return _tofloat(a)


_BINARY = {"add", "subtract", "multiply", "divide", "maximum", "minimum", "power", "matmul", "dot", "mod"}


def _int_aware(fn, np_fn):
    """Integer/bool inputs (and weak Python ints) keep an integer result computed
    exactly (NumPy; int64 narrowed to int32 unless an input was int64, as Keras);
    a mix with floats promotes the integers to float32 and takes `fn` (the tape)."""
    @functools.wraps(fn)
    def w(*args, **kwargs):
        flat = _flat_args(args, kwargs)
        if _symbolic(flat):
            return fn(*args, **kwargs)
        ks = [_kind(a) for a in flat]
        if _bi.any(k in ("i", "b", "wi") for k in ks) and not _bi.any(k in ("f", "wf") for k in ks):
            tin = _bi.any(_is_tensor(a) for a in flat)
            a2 = [[_np(i) for i in a] if isinstance(a, (list, tuple)) else _np(a) for a in args]
            y = np.asarray(np_fn(*a2, **{k: _np(v) for k, v in kwargs.items()}))
            had64 = _bi.any(np.asarray(_np(a)).dtype == np.int64 for a in flat if _kind(a) == "i")
            if y.dtype in (np.int64, np.uint64) and not had64:
                y = y.astype(np.int32)
            return _wrap(y, tin)
        if _bi.any(k in ("i", "b", "wi") for k in ks):
            na = 2 if fn.__name__ in _BINARY else 1  # which leading arguments are arrays (not shapes/axes)
            args = [_tofloat_arr(a) if j < na else _tofloat(a) for j, a in enumerate(args)]
            kwargs = {k: _tofloat(v) for k, v in kwargs.items()}
        return fn(*args, **kwargs)
    return w


def _np_max(x, axis=None, keepdims=False, initial=None):
    return np.max(x, axis=_axes(axis, np.ndim(x)), keepdims=keepdims, **({} if initial is None else {"initial": initial}))


def _np_min(x, axis=None, keepdims=False, initial=None):
    return np.min(x, axis=_axes(axis, np.ndim(x)), keepdims=keepdims, **({} if initial is None else {"initial": initial}))


_INT_RULES = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.true_divide,
    "maximum": np.maximum, "minimum": np.minimum, "power": np.power, "matmul": np.matmul, "dot": np.dot,
    "negative": np.negative, "abs": np.abs, "absolute": np.abs, "square": np.square, "sign": np.sign,
    "mod": np.mod, "relu": lambda x: np.maximum(x, 0), "relu6": lambda x: np.clip(x, 0, 6),
    "sum": lambda x, axis=None, keepdims=False: np.sum(x, axis=_axes(axis, np.ndim(x)), keepdims=keepdims),
    "prod": lambda x, axis=None, keepdims=False, dtype=None: np.prod(x, axis=_axes(axis, np.ndim(x)),
                                                                      keepdims=keepdims),
    "max": _np_max, "min": _np_min, "amax": _np_max, "amin": _np_min,
    "clip": lambda x, x_min, x_max: np.clip(x, x_min, x_max),
    "reshape": lambda x, newshape: np.reshape(x, newshape),
    "transpose": lambda x, axes=None: np.transpose(x, axes),
    "concatenate": lambda xs, axis=0: np.concatenate(xs, axis=axis),
    "expand_dims": lambda x, axis: np.expand_dims(x, axis),
    "squeeze": lambda x, axis=None: np.squeeze(x, axis),
    "flatten": np.ravel,
}
for _n, _f in _INT_RULES.items():
    globals()[_n] = _int_aware(globals()[_n], _f)
true_divide = divide
del _n, _f


@_ret
def _expand_dims_tuple(x, axis):
    x = _e(x)
    nd = x.ndim + len(axis)
    axs = sorted(int(a) % nd for a in axis)
    s = list(x.shape)
    for a in axs:
        s.insert(a, 1)
    return ag.reshape(x, s)


@_ret
def _squeeze_tuple(x, axis):
    x = _e(x)
    axs = {int(a) % x.ndim for a in axis}
    for a in axs:
        if x.shape[a] != 1:
            raise ValueError("squeeze: axis %d has size %d, not 1" % (a, x.shape[a]))
    return ag.reshape(x, [n for i, n in enumerate(x.shape) if i not in axs])


_expand_dims_int = expand_dims
_squeeze_int = squeeze


def expand_dims(x, axis):
    """Insert size-1 axes at `axis` (an int or a tuple of ints, positions in the result)."""
    if isinstance(axis, (list, tuple)):
        if _kind(x) in ("i", "b"):
            return _wrap(np.expand_dims(_np(x), tuple(axis)), _is_tensor(x))
        return _expand_dims_tuple(x, tuple(axis))
    return _expand_dims_int(x, axis)


def squeeze(x, axis=None):
    """Drop size-1 axes (all, one int, or a tuple of ints)."""
    if isinstance(axis, (list, tuple)):
        if _kind(x) in ("i", "b"):
            return _wrap(np.squeeze(_np(x), tuple(axis)), _is_tensor(x))
        return _squeeze_tuple(x, tuple(axis))
    return _squeeze_int(x, axis)


# ------------------------------------------------------------ max / min: ties share the gradient
def _extreme(op, x, axis, keepdims):
    """reduce max/min whose gradient is split evenly among tied extremes (TF's
    reduce_max and torch.amax, hence Keras); ag.reduce gives each tie the whole."""
    x = _e(x)
    nd = x.ndim
    axes = _axes(axis, nd)
    axes = tuple(range(nd)) if axes is None else axes
    y = ag.EagerTensor(_C.reduce(op, x.value, list(axes), bool(keepdims)))
    if ag.recording():
        def bw(g, needs):
            xn = _host(x)
            kshape = [1 if a in axes else s for a, s in enumerate(xn.shape)]
            m = (xn == _host(y).reshape(kshape)).astype(np.float64)
            cnt = m.sum(axis=axes, keepdims=True)
            gk = np.asarray(g.numpy() if g.device == "cpu" else g.to("cpu").numpy(), np.float64).reshape(kshape)
            return (_tensor_like((m * gk / np.maximum(cnt, 1)).astype(np.float32), x),)
        _rec([x], [y], bw)
    return y


@_ret
def _max_f(x, axis=None, keepdims=False, initial=None):
    y = _extreme("max", x, axis, keepdims)
    return y if initial is None else ag.maximum(y, float(initial))


@_ret
def _min_f(x, axis=None, keepdims=False, initial=None):
    y = _extreme("min", x, axis, keepdims)
    return y if initial is None else ag.minimum(y, float(initial))


@_ret
def _amax_f(x, axis=None, keepdims=False):
    return _extreme("max", x, axis, keepdims)


@_ret
def _amin_f(x, axis=None, keepdims=False):
    return _extreme("min", x, axis, keepdims)


max = _int_aware(_max_f, _np_max)
min = _int_aware(_min_f, _np_min)
amax = _int_aware(_amax_f, _np_max)
amin = _int_aware(_amin_f, _np_min)
for _f, _n in ((max, "max"), (min, "min"), (amax, "amax"), (amin, "amin")):
    _f.__name__ = _f.__qualname__ = _n
del _f, _n


# ------------------------------------------------------------ control flow (eager, so the tape sees every op)
def _truth(p):
    return bool(np.asarray(_np(p)).reshape(-1)[0]) if np.size(_np(p)) == 1 else bool(np.all(_np(p)))


def _as_t(a):
    """Loop state as Keras converts it, except integers: float arrays -> EagerTensor,
    Python numbers and integer arrays stay as they are (EagerTensor operators
    are float32-only, so `i + 1` on an int32 tensor would fail)."""
    if isinstance(a, (ag.EagerTensor, _C.Tensor, int, float, bool)) or a is None:
        return a
    if isinstance(a, (np.ndarray, np.generic)) and a.dtype.kind in "iub":
        return a
    if isinstance(a, (list, tuple)):
        return type(a)(_as_t(i) for i in a)
    if isinstance(a, dict):
        return {k: _as_t(v) for k, v in a.items()}
    return convert_to_tensor(a)


def cond(pred, true_fn, false_fn):
    """true_fn() if pred else false_fn() (eager)."""
    return true_fn() if _truth(pred) else false_fn()


def switch(index, branches, *operands):
    """branches[clip(index, 0, len-1)](*operands)."""
    i = int(np.asarray(_np(index)).reshape(-1)[0])
    return branches[_bi.min(_bi.max(i, 0), len(branches) - 1)](*operands)


def fori_loop(lower, upper, body_fun, init_val):
    """val = body_fun(i, val) for i in range(lower, upper)."""
    val = init_val
    for i in range(int(lower), int(upper)):
        val = body_fun(i, val)
    return val


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """Keras semantics: cond(*vars)/body(*vars) on a tuple/list of loop variables
    (or one variable); at most maximum_iterations steps."""
    is_tuple = isinstance(loop_vars, (tuple, list))
    lv = tuple(loop_vars) if is_tuple else (loop_vars,)
    lv = tuple(_as_t(v) for v in lv)
    it = 0
    while _truth(cond(*lv)) and (maximum_iterations is None or it < maximum_iterations):
        lv = body(*lv)
        lv = tuple(lv) if isinstance(lv, (list, tuple)) else (lv,)
        it += 1
    return lv if is_tuple else lv[0]


def _flatten(t):
    if isinstance(t, (list, tuple)):
        return [i for e in t for i in _flatten(e)]
    if isinstance(t, dict):
        return [i for k in sorted(t) for i in _flatten(t[k])]
    return [t]


def _pack(struct, flat):
    it = iter(flat)

    def rec(s):
        if isinstance(s, (list, tuple)):
            return type(s)(rec(e) for e in s)
        if isinstance(s, dict):
            return {k: rec(s[k]) for k in sorted(s)}
        return next(it)
    return rec(struct)


def _index0(x, i):
    x = x if isinstance(x, ag.EagerTensor) else _ek(x)
    return ag.getitem(x, i) if x.dtype == "float32" else _wrap(_np(x)[i], True)


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """jax.lax.scan: carry, y = f(carry, x) over the leading axis of xs (any nesting);
    returns (carry, ys stacked so ys[i] belongs to xs[i]). Differentiable through the tape."""
    if not callable(f):
        raise TypeError("`f` should be a callable. Received: f=%r" % (f,))
    if xs is None and length is None:
        raise ValueError("Got no `xs` to scan over and `length` not provided.")
    xs_flat = [] if xs is None else [_ek(x) for x in _flatten(xs)]
    n = int(length) if length is not None else xs_flat[0].shape[0]
    carry = _as_t(init)
    ys = []
    order = range(n - 1, -1, -1) if reverse else range(n)
    for i in order:
        sl = [_index0(x, i) for x in xs_flat]
        packed = _pack(xs, sl) if xs is not None and isinstance(xs, (list, tuple, dict)) else (sl[0] if sl else None)
        carry, y = f(carry, packed)
        ys.append(y)
    if reverse:
        ys = ys[::-1]
    if not ys or ys[0] is None:
        return carry, None
    ys_flat = [_flatten(y) for y in ys]
    stacked = [stack([yf[j] for yf in ys_flat], axis=0) for j in range(len(ys_flat[0]))]
    stacked = [s if isinstance(s, ag.EagerTensor) else _ek(s) for s in stacked]
    return carry, (_pack(ys[0], stacked) if isinstance(ys[0], (list, tuple, dict)) else stacked[0])


def map(f, xs):
    """stack([f(x) for x in xs]) over the leading axis (any nesting of xs and of f's result)."""
    _, ys = scan(lambda c, x: ((), f(x)), (), xs)
    return ys


def vectorized_map(function, elements):
    """Same as map (eager loop)."""
    return map(function, elements)


def associative_scan(f, elems, reverse=False, axis=0):
    """Inclusive scan of an associative f along `axis` (sequential, eager)."""
    flat = [_ek(e) for e in _flatten(elems)]
    ax = int(axis) % flat[0].ndim
    n = flat[0].shape[ax]
    idx = range(n - 1, -1, -1) if reverse else range(n)
    out, acc = [None] * n, None
    for i in idx:
        cur = _pack(elems, [ag.slice_axis(e, ax, i, i + 1) for e in flat]) \
            if isinstance(elems, (list, tuple, dict)) else ag.slice_axis(flat[0], ax, i, i + 1)
        acc = cur if acc is None else f(acc, cur)
        out[i] = acc
    res = [concatenate([_flatten(o)[j] for o in out], axis=ax) for j in range(len(flat))]
    return _pack(elems, res) if isinstance(elems, (list, tuple, dict)) else res[0]


# ------------------------------------------------------------ more numpy-style composites
@_diff
def hstack(xs):
    xs = [_ek(x) for x in xs]
    return concatenate(xs, axis=0 if xs[0].ndim == 1 else 1)


@_diff
def vstack(xs):
    xs = [_ek(x) for x in xs]
    return concatenate([ag.reshape(x, [1, x.shape[0]]) if x.ndim == 1 else x for x in xs], axis=0)


@_ret
def trace(x, offset=0, axis1=0, axis2=1):
    return ag.reduce("sum", _e(diagonal(_e(x), offset, axis1, axis2)), [-1], False)


@_ret
def logaddexp(x1, x2):
    a, b = _e(x1), _e(x2)
    m = ag.maximum(a, b)
    d = ag.unary("abs", ag.subtract(a, b))
    return ag.add(m, log1p(ag.unary("exp", ag.negative(d))))


@_ret
def hypot(x1, x2):
    a, b = _e(x1), _e(x2)
    return ag.unary("sqrt", ag.add(ag.multiply(a, a), ag.multiply(b, b)))


@_ret
def exp2(x): return ag.unary("exp", ag.multiply(_e(x), float(np.log(2.0))))
@_ret
def deg2rad(x): return ag.multiply(_e(x), float(np.pi / 180.0))
@_ret
def rad2deg(x): return ag.multiply(_e(x), float(180.0 / np.pi))


def copy(x):
    return _wrap(np.array(_np(x), copy=True), _is_tensor(x))


@_diff
def segment_sum(data, segment_ids, num_segments=None, sorted=False):
    """out[s] = sum of data rows whose segment id is s (ids outside [0, num_segments) dropped)."""
    ids = np.asarray(_np(segment_ids)).astype(np.int64).reshape(-1)
    n = int(num_segments) if num_segments is not None else (int(ids.max()) + 1 if ids.size else 0)
    d = _e(data)
    rest = list(d.shape[1:])
    flat = _host(d).reshape(d.shape[0], -1).astype(np.float64)
    ok = (ids >= 0) & (ids < n)
    out = np.zeros((n, flat.shape[1]))
    np.add.at(out, ids[ok], flat[ok])
    y = ag.EagerTensor(_tensor_like(out.reshape([n] + rest).astype(np.float32), d))
    if ag.recording():
        def bw(g, needs):
            gn = np.asarray(g.numpy(), np.float64).reshape(n, -1)
            gd = np.zeros_like(flat)
            gd[ok] = gn[ids[ok]]
            return (_tensor_like(gd.reshape(d.shape).astype(np.float32), d),)
        _rec([d], [y], bw)
    return y


@_nograd
def segment_max(data, segment_ids, num_segments=None, sorted=False):
    ids = np.asarray(segment_ids).astype(np.int64).reshape(-1)
    n = int(num_segments) if num_segments is not None else (int(ids.max()) + 1 if ids.size else 0)
    data = np.asarray(data)
    out = np.full((n,) + data.shape[1:], -np.inf if data.dtype.kind == "f" else np.iinfo(data.dtype).min,
                  dtype=data.dtype)
    ok = (ids >= 0) & (ids < n)
    np.maximum.at(out, ids[ok], data[ok])
    return out


# ------------------------------------------------------------ linear algebra with gradients
def _linalg_op(xs, fwd, grads):
    """Forward fwd(*float64 arrays) in NumPy; backward grads(g, y, *xs) -> one array per input."""
    xs = [_e(x) for x in xs]
    xn = [_host(x).astype(np.float64) for x in xs]
    yn = np.asarray(fwd(*xn))
    y = ag.EagerTensor(_tensor_like(yn.astype(np.float32), xs[0]))
    if ag.recording():
        def bw(g, needs):
            gs = grads(np.asarray(g.numpy(), np.float64), yn, *xn)
            return [_tensor_like(np.asarray(gi, np.float32), xs[0]) if n else None for gi, n in zip(gs, needs)]
        _rec(xs, [y], bw)
    return y


def _mT(a):
    return np.swapaxes(a, -1, -2)


@_ret
def inv(x):
    """Matrix inverse over the last two axes; d = -inv^T g inv^T."""
    return _linalg_op([x], np.linalg.inv, lambda g, y, a: [-_mT(y) @ g @ _mT(y)])


@_ret
def det(x):
    """Determinant over the last two axes; d = g * det * inv^T."""
    return _linalg_op([x], np.linalg.det,
                      lambda g, y, a: [(g * y)[..., None, None] * _mT(np.linalg.inv(a))])


@_ret
def solve(a, b):
    """x with a @ x = b; da = -solve(a^T, g) x^T, db = solve(a^T, g)."""
    def grads(g, y, av, bv):
        if bv.ndim == av.ndim - 1:  # b a vector (per batch): x = a^-1 b
            gb = np.linalg.solve(_mT(av), g[..., None])[..., 0]
            return [-(gb[..., :, None] * y[..., None, :]), gb]
        gb = np.linalg.solve(_mT(av), g)
        return [-(gb @ _mT(y)), gb]
    return _linalg_op([a, b], np.linalg.solve, grads)


# ------------------------------------------------------------ custom_gradient
def custom_gradient(f):
    """Decorator: f(*args) returns (output, grad_fn); on the tape the output's
    gradient is grad_fn(upstream) -- one tensor, or a tuple with one entry per
    tensor argument (the TF/JAX calling form, which Keras's documented
    `def grad(*args, upstream=None)` pattern also accepts)."""
    @functools.wraps(f)
    def w(*args, **kwargs):
        targs = [a for a in args if isinstance(a, (ag.EagerTensor, _C.Tensor))]
        with ag.no_grad():
            y, grad_fn = f(*[ag.EagerTensor(a) if isinstance(a, _C.Tensor) else a for a in args], **kwargs)
        y = _e(y) if not isinstance(y, ag.EagerTensor) else ag.EagerTensor(y.value)
        ins = [_e(a) if isinstance(a, _C.Tensor) else a for a in targs]
        if ins and ag.recording():
            def bw(g, needs):
                r = grad_fn(ag.EagerTensor(g))
                r = list(r) if isinstance(r, (list, tuple)) else [r]
                if len(r) != len(ins):
                    raise ValueError("custom_gradient: grad_fn returned %d gradients for %d tensor arguments"
                                     % (len(r), len(ins)))
                return [None if gi is None else (gi.value if isinstance(gi, ag.EagerTensor) else _e(gi).value)
                        for gi in r]
            _rec(ins, [y], bw)
        return y
    return w


# ------------------------------------------------------------ more elementwise / reductions
@_ret
def arctan2(x1, x2):
    a, b = _e(x1), _e(x2)
    y = ag.EagerTensor(_tensor_like(np.arctan2(_host(a), _host(b)).astype(np.float32), a))
    if ag.recording():
        def bw(g, needs):
            an, bn = _host(a).astype(np.float64), _host(b).astype(np.float64)
            den = an * an + bn * bn
            gn = np.asarray(g.numpy(), np.float64)
            ga = _unb(gn * bn / den, an.shape)
            gb = _unb(-gn * an / den, bn.shape)
            return [_tensor_like(ga.astype(np.float32), a), _tensor_like(gb.astype(np.float32), b)]
        _rec([a, b], [y], bw)
    return y


def _unb(g, shape):
    """Sum a broadcast gradient back to `shape`."""
    while g.ndim > len(shape):
        g = g.sum(0)
    for i, n in enumerate(shape):
        if n == 1 and g.shape[i] != 1:
            g = g.sum(i, keepdims=True)
    return g


@_ret
def cbrt(x): return _ew(x, np.cbrt, lambda v, y: 1.0 / (3.0 * y * y))
@_ret
def erfinv(x):
    from math import erf as _erf
    def f(v):  # Newton on erf(y) = v, from a good start
        y = np.clip(v, -0.999999, 0.999999)
        a = 0.147
        ln = np.log(1 - y * y)
        t = 2 / (np.pi * a) + ln / 2
        y0 = np.sign(y) * np.sqrt(np.sqrt(t * t - ln / a) - t)
        e = np.vectorize(_erf)
        for _ in range(4):
            y0 = y0 - (e(y0) - v) / (2 / np.sqrt(np.pi) * np.exp(-y0 * y0))
        return np.where(np.abs(v) >= 1, np.sign(v) * np.inf, y0)
    return _ew(x, f, lambda v, y: np.sqrt(np.pi) / 2 * np.exp(y * y))
@_ret
def sinc(x): return _ew(x, np.sinc, lambda v, y: np.where(v == 0, 0.0, (np.cos(np.pi * v) - y) / np.where(v == 0, 1, v)))
@_ret
def fabs(x): return ag.unary("abs", _e(x))
@_ret
def hard_tanh(x): return ag.clip(_e(x), -1.0, 1.0)
@_ret
def hard_shrink(x, threshold=0.5):
    t = float(threshold)
    return _ew(x, lambda v: np.where(np.abs(v) > t, v, 0.0), lambda v, y: (np.abs(v) > t).astype(np.float64))
@_ret
def soft_shrink(x, threshold=0.5):
    t = float(threshold)
    return _ew(x, lambda v: np.where(v > t, v - t, np.where(v < -t, v + t, 0.0)),
               lambda v, y: (np.abs(v) > t).astype(np.float64))
@_ret
def tanh_shrink(x):
    x = _e(x)
    return ag.subtract(x, ag.activation(x, "tanh"))
@_ret
def threshold(x, threshold, default_value):
    t, d = float(threshold), float(default_value)
    return _ew(x, lambda v: np.where(v > t, v, d), lambda v, y: (v > t).astype(np.float64))
@_ret
def sparse_sigmoid(x):
    return _ew(x, lambda v: np.clip(0.5 * (v + 1), 0, 1), lambda v, y: ((v > -1) & (v < 1)) * 0.5)


@_ret
def sparsemax(x, axis=-1):
    """Keras 3.15's sparsemax, formula for formula (all its backends): with z sorted
    descending, c its cumsum and support z_r > (c_r - 1)/r, k = |support|,
    tau = (sum of c over the support - 1) / k, out = max(x - tau, 0).
    (This tau is Keras's; it equals the paper's only when k == 1.)"""
    x = _e(x)
    ax = int(axis) % x.ndim
    xn = np.moveaxis(_host(x).astype(np.float64), ax, -1)
    order = np.argsort(-xn, axis=-1, kind="stable")
    zs = np.take_along_axis(xn, order, -1)
    r = np.arange(1, xn.shape[-1] + 1)
    cs = np.cumsum(zs, axis=-1)
    support = zs - (cs - 1) / r > 0
    k = support.sum(-1, keepdims=True)
    tau = (np.where(support, cs, 0.0).sum(-1, keepdims=True) - 1) / k
    p = np.maximum(xn - tau, 0)
    y = ag.EagerTensor(_tensor_like(np.ascontiguousarray(np.moveaxis(p, -1, ax)).astype(np.float32), x))
    if ag.recording():
        def bw(g, needs):
            gn = np.moveaxis(np.asarray(g.numpy(), np.float64), ax, -1)
            act = (xn - tau > 0).astype(np.float64)
            # d tau / d z_(m) = (number of supported cumsums containing z_(m)) / k
            cnt = np.where(support, np.maximum(k - np.arange(xn.shape[-1]), 0), 0).astype(np.float64)
            # the support is a prefix of the sorted order; count only prefix members
            dtau_sorted = cnt / k
            dtau = np.zeros_like(xn)
            np.put_along_axis(dtau, order, dtau_sorted, -1)
            s_g = (gn * act).sum(-1, keepdims=True)
            gx = gn * act - s_g * dtau
            return (_tensor_like(np.ascontiguousarray(np.moveaxis(gx, -1, ax)).astype(np.float32), x),)
        _rec([x], [y], bw)
    return y


@_ret
def divide_no_nan(x1, x2):
    """x1 / x2, 0 where x2 == 0 (no gradient through the zero entries)."""
    a, b = _e(x1), _e(x2)
    zero = np.asarray(_host(b)) == 0
    safe = ag.add(b, ag.EagerTensor(_tensor_like(zero.astype(np.float32), b)))
    q = ag.divide(a, safe)
    m = ag.EagerTensor(_tensor_like((~np.broadcast_to(zero, q.shape)).astype(np.float32), q))
    return ag.multiply(q, m)


@_ret
def logaddexp2(x1, x2):
    ln2 = float(np.log(2.0))
    return ag.multiply(logaddexp(ag.multiply(_e(x1), ln2), ag.multiply(_e(x2), ln2)), 1.0 / ln2)


@_ret
def heaviside(x1, x2):
    return _gather([ag.EagerTensor(_tensor_like(np.array([0.0, 1.0], np.float32), x1 if _is_tensor(x1) else x2)),
                    _e(x2)], lambda c, p: np.where(_np(x1) < 0, c[0], np.where(_np(x1) > 0, c[1],
                                                                            np.broadcast_to(p, np.shape(_np(x1))))))


@_diff
def diff(a, n=1, axis=-1):
    y = _e(a)
    ax = int(axis) % y.ndim
    for _ in range(int(n)):
        m = y.shape[ax]
        y = ag.subtract(ag.slice_axis(y, ax, 1, m), ag.slice_axis(y, ax, 0, m - 1))
    return y


def _nan_reduce(op, np_op):
    def f(x, axis=None, keepdims=False):
        """%s ignoring NaNs (NaN entries get no gradient)."""
        def body(x):
            xe = _e(x)
            nan = np.isnan(_host(xe))
            fill = {"sum": 0.0, "mean": 0.0, "prod": 1.0, "max": -np.inf, "min": np.inf}[op]
            clean = _gather([xe, _e(np.float32(fill))], lambda p, c: np.where(nan, c, p)) if nan.any() else xe
            if op == "mean":
                cnt = np.sum(~nan, axis=_axes(axis, xe.ndim), keepdims=keepdims).astype(np.float32)
                s = ag.reduce("sum", clean, axis, keepdims)
                return ag.divide(s, ag.EagerTensor(_tensor_like(np.asarray(cnt), xe)))
            if op == "prod":
                return prod(clean, axis=axis, keepdims=keepdims)
            if op in ("max", "min"):
                return _extreme(op, clean, axis, keepdims)
            return ag.reduce(op, clean, axis, keepdims)
        return _ret(body)(x)
    f.__name__ = "nan" + op
    f.__doc__ = f.__doc__ % ("np.nan" + op)
    return f


nansum = _nan_reduce("sum", np.nansum)
nanmean = _nan_reduce("mean", np.nanmean)
nanprod = _nan_reduce("prod", np.nanprod)
nanmax = _nan_reduce("max", np.nanmax)
nanmin = _nan_reduce("min", np.nanmin)
for _f in (nansum, nanmean, nanprod, nanmax, nanmin):
    _f.__module__ = __name__
del _f


@_nograd
def nanargmax(x, axis=None, keepdims=False): return np.nanargmax(x, axis=axis, keepdims=keepdims).astype(np.int32)
@_nograd
def nanargmin(x, axis=None, keepdims=False): return np.nanargmin(x, axis=axis, keepdims=keepdims).astype(np.int32)
@_nograd
def nanmedian(x, axis=None, keepdims=False): return np.nanmedian(np.asarray(x, np.float32), axis=axis, keepdims=keepdims)
@_nograd
def nanstd(x, axis=None, keepdims=False): return np.nanstd(np.asarray(x, np.float32), axis=axis, keepdims=keepdims)
@_nograd
def nanvar(x, axis=None, keepdims=False): return np.nanvar(np.asarray(x, np.float32), axis=axis, keepdims=keepdims)
@_nograd
def nancumsum(x, axis=None, dtype=None): return np.nancumsum(x, axis=axis)
@_nograd
def nancumprod(x, axis=None, dtype=None): return np.nancumprod(x, axis=axis)
@_nograd
def percentile(x, q, axis=None, method="linear", keepdims=False):
    return np.percentile(np.asarray(x, np.float32), q, axis=axis, method=method, keepdims=keepdims)
@_nograd
def nanquantile(x, q, axis=None, method="linear", keepdims=False):
    return np.nanquantile(np.asarray(x, np.float32), q, axis=axis, method=method, keepdims=keepdims)
@_nograd
def nanpercentile(x, q, axis=None, method="linear", keepdims=False):
    return np.nanpercentile(np.asarray(x, np.float32), q, axis=axis, method=method, keepdims=keepdims)
@_nograd
def isin(x1, x2, assume_unique=False, invert=False):
    return np.isin(x1, x2, assume_unique=assume_unique, invert=invert)
@_nograd
def isneginf(x): return np.isneginf(x)
@_nograd
def isposinf(x): return np.isposinf(x)
@_nograd
def isreal(x): return np.isreal(x)
@_nograd
def argpartition(x, kth, axis=-1): return np.argpartition(x, kth, axis=axis).astype(np.int32)
@_nograd
def unravel_index(indices, shape): return tuple(i.astype(np.int32) for i in np.unravel_index(indices, shape))
@_nograd
def gcd(x1, x2): return np.gcd(x1, x2)
@_nograd
def lcm(x1, x2): return np.lcm(x1, x2)
@_nograd
def histogram(x, bins=10, range=None):
    h, e = np.histogram(x, bins=bins, range=range)
    return h.astype(np.int32), e.astype(np.float32)


@_ret
def ptp(x, axis=None, keepdims=False):
    return ag.subtract(_extreme("max", x, axis, keepdims), _extreme("min", x, axis, keepdims))


@_ret
def fmod(x1, x2):
    """C-style remainder (sign of x1): x1 - x2 * trunc(x1 / x2)."""
    like = x1 if isinstance(x1, ag.EagerTensor) else x2
    with np.errstate(all="ignore"):
        q = np.trunc(np.asarray(_np(x1), np.float64) / np.asarray(_np(x2), np.float64)).astype(np.float32)
    return ag.subtract(x1, ag.multiply(x2, ag.EagerTensor(_tensor_like(q, like))))


def select(condlist, choicelist, default=0):
    """np.select: the first true condition's choice per element (differentiable in the choices)."""
    out = default
    for c, v in reversed(list(zip(condlist, choicelist))):
        out = where(c, v, out)
    return out


def empty_like(x, dtype=None):
    return zeros_like(x, dtype)


def array(x, dtype=None):
    return convert_to_tensor(x, dtype=dtype)


@_diff
def fliplr(x): return flip(x, axis=1)
@_diff
def flipud(x): return flip(x, axis=0)
@_diff
def rot90(array, k=1, axes=(0, 1)):
    return _gather([array], lambda p: np.rot90(p, k, axes).copy())


@_diff
def array_split(x, indices_or_sections, axis=0):
    x = _ek(x)
    ax = int(axis) % x.ndim
    return [_gather([x], lambda p, ix=ix: np.take(p, ix, axis=ax))
            for ix in np.array_split(np.arange(x.shape[ax]), indices_or_sections)]


def hsplit(x, indices_or_sections):
    return split(x, indices_or_sections, axis=1 if np.ndim(_np(x)) > 1 else 0)


def vsplit(x, indices_or_sections):
    return split(x, indices_or_sections, axis=0)


def dsplit(x, indices_or_sections):
    return split(x, indices_or_sections, axis=2)


@_diff
def dstack(xs):
    xs = [_ek(x) for x in xs]
    xs = [ag.reshape(x, [1, x.shape[0], 1]) if x.ndim == 1 else (ag.reshape(x, list(x.shape) + [1]) if x.ndim == 2
                                                                 else x) for x in xs]
    return concatenate(xs, axis=2)


def get_item(x, key):
    return x[key] if isinstance(x, ag.EagerTensor) else _wrap(np.asarray(_np(x))[key], _is_tensor(x))


@_ret
def inner(x1, x2):
    a, b = _e(x1), _e(x2)
    if a.ndim == 0 or b.ndim == 0:
        return ag.multiply(a, b)
    return tensordot(a, b, axes=([a.ndim - 1], [b.ndim - 1]))


@_ret
def kron(x1, x2):
    a, b = _e(x1), _e(x2)
    nd = _bi.max(a.ndim, b.ndim)
    a = ag.reshape(a, [1] * (nd - a.ndim) + list(a.shape))
    b = ag.reshape(b, [1] * (nd - b.ndim) + list(b.shape))
    sa = []
    sb = []
    for i in range(nd):
        sa += [a.shape[i], 1]
        sb += [1, b.shape[i]]
    y = ag.multiply(ag.reshape(a, sa), ag.reshape(b, sb))
    return ag.reshape(y, [a.shape[i] * b.shape[i] for i in range(nd)])


@_ret
def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None):
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = moveaxis(_e(x1), axisa, -1), moveaxis(_e(x2), axisb, -1)
    if a.shape[-1] != 3 or b.shape[-1] != 3:
        raise NotImplementedError("keras.ops.cross: only 3-vectors are supported by pyconvnet")
    c = [ag.slice_axis(a, -1, i, i + 1) for i in range(3)]
    d = [ag.slice_axis(b, -1, i, i + 1) for i in range(3)]
    out = concatenate([ag.subtract(ag.multiply(c[1], d[2]), ag.multiply(c[2], d[1])),
                       ag.subtract(ag.multiply(c[2], d[0]), ag.multiply(c[0], d[2])),
                       ag.subtract(ag.multiply(c[0], d[1]), ag.multiply(c[1], d[0]))], axis=-1)
    return moveaxis(out, -1, axisc)


def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    return _made(np.logspace(start, stop, int(num), endpoint=endpoint, base=base, axis=axis), dtype or "float32")


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    return _made(np.geomspace(start, stop, int(num), endpoint=endpoint, axis=axis), dtype or "float32")


@_diff
def scatter(indices, values, shape):
    """zeros(shape) with values added at indices (duplicates add), differentiable in values."""
    ind = np.asarray(_np(indices)).astype(np.int64)
    shape = tuple(int(s) for s in shape)
    v = _ek(values)
    k = ind.shape[-1]
    tail = shape[k:]

    def f(p):
        out = np.full(shape, -1, np.int64)
        pr = p.reshape((-1,) + tail)
        for j, idx in enumerate(ind.reshape(-1, k)):
            out[tuple(idx)] = pr[j]  # placeholder, duplicates handled below
        return out
    if len({tuple(i) for i in ind.reshape(-1, k)}) == ind.reshape(-1, k).shape[0]:
        return _gather([v], f)
    # duplicates: a sum, i.e. a linear map built with segment_sum over flat positions
    flat_pos = np.ravel_multi_index(ind.reshape(-1, k).T, shape[:k])
    s = segment_sum(ag.reshape(_e(v), [flat_pos.shape[0]] + list(tail)), flat_pos, num_segments=int(np.prod(shape[:k])))
    return ag.reshape(s, list(shape))


@_diff
def scatter_update(inputs, indices, updates):
    """inputs with the entries at indices replaced by updates (differentiable in both)."""
    ind = np.asarray(_np(indices)).astype(np.int64)

    def f(p, u):
        out = p.copy()
        k = ind.shape[-1]
        ur = u.reshape((ind.reshape(-1, k).shape[0],) + p.shape[k:])
        for j, idx in enumerate(ind.reshape(-1, k)):
            out[tuple(idx)] = ur[j]
        return out
    return _gather([inputs, updates], f)


# ------------------------------------------------------------ more linear algebra
@_diff
def slogdet(x):
    """(sign, log|det|) over the last two axes; log|det| is differentiable."""
    return _slogdet(x)


def _slogdet(x):
    x = _e(x)
    sign, logabs = np.linalg.slogdet(_host(x).astype(np.float64))
    s = ag.EagerTensor(_tensor_like(np.asarray(sign, np.float32), x))
    la = _linalg_op([x], lambda a: np.linalg.slogdet(a)[1], lambda g, y, a: [g[..., None, None] * _mT(np.linalg.inv(a))])
    return s, la


def logdet(x):
    """log(det(x)) for positive-definite x (differentiable)."""
    return _logdet(x)


@_ret
def _logdet(x):
    return _linalg_op([x], lambda a: np.log(np.linalg.det(a)), lambda g, y, a: [g[..., None, None] * _mT(np.linalg.inv(a))])


def _forward_only(name, fn):
    """A NumPy linear-algebra op whose gradient is not implemented: on the tape its
    backward raises NotImplementedError naming it (never a silent None)."""
    def w(*args, **kwargs):
        flat = _flat_args(args, kwargs)
        if _symbolic(flat):
            return _lambda_call(w, args, kwargs)
        tin = _bi.any(_is_tensor(a) for a in flat)
        out = fn(*[np.asarray(_np(a), np.float64) if isinstance(a, (ag.EagerTensor, _C.Tensor, np.ndarray, list))
                   else a for a in args], **kwargs)
        outs = out if isinstance(out, tuple) else (out,)
        res = tuple(_wrap(np.asarray(o), tin) for o in outs)
        ins = [a for a in args if isinstance(a, ag.EagerTensor)]
        if tin and ins and ag.recording():
            def bw(g, needs):
                raise NotImplementedError("keras.ops.%s: the gradient is not implemented by pyconvnet" % name)
            for r in res:
                if isinstance(r, ag.EagerTensor) and r.dtype == "float32":
                    _rec(ins, [r], bw)
        return res if isinstance(out, tuple) else res[0]
    w.__name__ = w.__qualname__ = name
    w.__doc__ = "keras.ops.%s (NumPy; forward only -- its gradient raises NotImplementedError)" % name
    return w


cholesky = _forward_only("cholesky", lambda x, upper=False: np.linalg.cholesky(x) if not upper
                         else _mT(np.linalg.cholesky(x)))
qr = _forward_only("qr", lambda x, mode="reduced": tuple(np.linalg.qr(x, mode=mode)))
svd = _forward_only("svd", lambda x, full_matrices=True, compute_uv=True:
                    tuple(np.linalg.svd(x, full_matrices=full_matrices, compute_uv=True)) if compute_uv
                    else np.linalg.svd(x, compute_uv=False))
eigh = _forward_only("eigh", lambda x: tuple(np.linalg.eigh(x)))
pinv = _forward_only("pinv", lambda x, rcond=1e-15: np.linalg.pinv(x, rcond=rcond))
matrix_rank = _forward_only("matrix_rank", lambda x, tol=None: np.linalg.matrix_rank(x, tol=tol).astype(np.int32))
lstsq = _forward_only("lstsq", lambda a, b, rcond=None: np.linalg.lstsq(a, b, rcond=rcond)[0])
solve_triangular = _forward_only("solve_triangular", lambda a, b, lower=False:
                                 np.linalg.solve(np.tril(a) if lower else np.triu(a), b))  # only that triangle
cholesky_inverse = _forward_only("cholesky_inverse", lambda x, upper=False:
                                 np.linalg.inv((_mT(x) @ x) if upper else (x @ _mT(x))))
for _f in (cholesky, qr, svd, eigh, pinv, matrix_rank, lstsq, solve_triangular, cholesky_inverse):
    _f.__module__ = __name__
del _f


# ------------------------------------------------------------ rearrangements, windows, bitwise, misc
@_diff
def depth_to_space(x, block_size, data_format="channels_last"):
    """(N, H, W, C*r*r) -> (N, H*r, W*r, C), TF's DCR order (channels_last only)."""
    _cl(data_format, "depth_to_space")
    r = int(block_size)

    def f(p):
        n, h, w, c = p.shape
        if c % (r * r):
            raise ValueError("keras.ops.depth_to_space: channels %d not divisible by block_size**2 = %d" % (c, r * r))
        return p.reshape(n, h, w, r, r, c // (r * r)).transpose(0, 1, 3, 2, 4, 5).reshape(n, h * r, w * r, c // (r * r))
    return _gather([x], f)


@_diff
def space_to_depth(x, block_size, data_format="channels_last"):
    """(N, H*r, W*r, C) -> (N, H, W, C*r*r), the inverse of depth_to_space."""
    _cl(data_format, "space_to_depth")
    r = int(block_size)

    def f(p):
        n, h, w, c = p.shape
        if h % r or w % r:
            raise ValueError("keras.ops.space_to_depth: height %d and width %d must be divisible by block_size %d"
                             % (h, w, r))
        return p.reshape(n, h // r, r, w // r, r, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, h // r, w // r, r * r * c)
    return _gather([x], f)


@_diff
def extract_sequences(x, sequence_length, sequence_stride):
    """(..., L) -> (..., num, sequence_length) windows over the last axis."""
    L_, s = int(sequence_length), int(sequence_stride)

    def f(p):
        n = 1 + (p.shape[-1] - L_) // s
        idx = np.arange(n)[:, None] * s + np.arange(L_)[None, :]
        return p[..., idx]
    return _gather([x], f)


@_diff
def diagflat(x, k=0):
    return diag(ravel(x), k=k)


@_ret
def psnr(x1, x2, max_val):
    """20 log10(max_val) - 10 log10(mean((x1 - x2)^2)) over all elements."""
    a, b = _e(x1), _e(x2)
    if a.shape != b.shape:
        raise ValueError("keras.ops.psnr: x1 and x2 must have the same shape, got %s and %s" % (a.shape, b.shape))
    d = ag.subtract(a, b)
    mse = ag.reduce("mean", ag.multiply(d, d), None, False)
    return ag.subtract(20.0 * float(np.log10(float(max_val))), ag.multiply(ag.unary("log", mse), 10.0 / np.log(10.0)))


@_ret
def cdist(x, y):
    """Euclidean distances: (..., N, D), (..., M, D) -> (..., N, M)."""
    a, b = _e(x), _e(y)
    aa = ag.reshape(a, list(a.shape[:-1]) + [1, a.shape[-1]])
    bb = ag.reshape(b, list(b.shape[:-2]) + [1] + list(b.shape[-2:]))
    d = ag.subtract(aa, bb)
    return ag.unary("sqrt", ag.reduce("sum", ag.multiply(d, d), [-1], False))


@_ret
def trapezoid(y, x=None, dx=1.0, axis=-1):
    y = _e(y)
    ax = int(axis) % y.ndim
    n = y.shape[ax]
    s = ag.add(ag.slice_axis(y, ax, 1, n), ag.slice_axis(y, ax, 0, n - 1))
    if x is None:
        return ag.multiply(ag.reduce("sum", s, [ax], False), 0.5 * float(dx))
    xe = _e(x)
    xa = ax if xe.ndim == y.ndim else 0
    m = xe.shape[xa]
    dxs = ag.subtract(ag.slice_axis(xe, xa, 1, m), ag.slice_axis(xe, xa, 0, m - 1))
    if xe.ndim == 1 and y.ndim > 1:
        dxs = ag.reshape(dxs, [n - 1 if a == ax else 1 for a in range(y.ndim)])
    return ag.multiply(ag.reduce("sum", ag.multiply(s, dxs), [ax], False), 0.5)


@_nograd
def vander(x, N=None, increasing=False): return np.vander(np.asarray(x), N, increasing)
@_nograd
def corrcoef(x): return np.corrcoef(np.asarray(x, np.float64))
@_nograd
def correlate(x1, x2, mode="valid"): return np.correlate(np.asarray(x1, np.float64), np.asarray(x2, np.float64), mode)
@_nograd
def segment_min(data, segment_ids, num_segments=None, sorted=False):
    return -np.asarray(segment_max(-np.asarray(data), segment_ids, num_segments))
@_nograd
def segment_prod(data, segment_ids, num_segments=None, sorted=False):
    ids = np.asarray(segment_ids).astype(np.int64).reshape(-1)
    n = int(num_segments) if num_segments is not None else (int(ids.max()) + 1 if ids.size else 0)
    data = np.asarray(data)
    out = np.ones((n,) + data.shape[1:], dtype=data.dtype)
    ok = (ids >= 0) & (ids < n)
    np.multiply.at(out, ids[ok], data[ok])
    return out
@_nograd
def bitwise_and(x, y): return np.bitwise_and(x, y)
@_nograd
def bitwise_or(x, y): return np.bitwise_or(x, y)
@_nograd
def bitwise_xor(x, y): return np.bitwise_xor(x, y)
@_nograd
def bitwise_invert(x): return np.invert(x)
@_nograd
def bitwise_not(x): return np.invert(x)
@_nograd
def bitwise_left_shift(x, y): return np.left_shift(x, y)
@_nograd
def bitwise_right_shift(x, y): return np.right_shift(x, y)
@_nograd
def left_shift(x, y): return np.left_shift(x, y)
@_nograd
def right_shift(x, y): return np.right_shift(x, y)
@_nograd
def nextafter(x1, x2): return np.nextafter(np.asarray(x1, np.float32), np.asarray(x2, np.float32))
@_nograd
def i0(x): return np.i0(np.asarray(x, np.float64))


@_ret
def ldexp(x1, x2):
    return ag.multiply(_e(x1), ag.EagerTensor(_tensor_like(np.exp2(np.asarray(_np(x2), np.float64)).astype(np.float32),
                                                           x1 if _is_tensor(x1) else x2)))


def _window(fn):
    def w(x):
        return _made(fn(int(x)), "float32")
    w.__name__ = w.__qualname__ = fn.__name__
    return w


bartlett = _window(np.bartlett)
blackman = _window(np.blackman)
hamming = _window(np.hamming)
hanning = _window(np.hanning)


def kaiser(x, beta):
    return _made(np.kaiser(int(x), float(beta)), "float32")


def saturate_cast(x, dtype):
    """cast with values clipped to the target dtype's range first (no wrap-around)."""
    from .backend import standardize_dtype
    d = standardize_dtype(dtype)
    if d in ("int32", "int64", "uint8", "int8", "int16", "uint16", "uint32"):
        info = np.iinfo(d)
        lo, hi = float(info.min), float(info.max)
        if _kind(x) == "f":
            x = clip(x, lo, hi)
    return cast(x, d)


def real(x):
    return x


def imag(x):
    return zeros_like(x)


def conj(x):
    return x


conjugate = conj


@_nograd
def angle(x): return np.angle(np.asarray(x, np.float32)).astype(np.float32)


# ------------------------------------------------------------ conv_transpose, adaptive pooling, erfc, fmax/fmin
def _deconv_length(n, k, padding, output_padding, stride, dilation):
    """keras.src.utils.conv_utils' deconv output length (TF arithmetic)."""
    k = k + (k - 1) * (dilation - 1)
    if output_padding is None:
        return n * stride + _bi.max(k - stride, 0) if padding == "valid" else n * stride
    pad = k // 2 if padding == "same" else 0
    return (n - 1) * stride + k - 2 * pad + output_padding


@_ret
def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, data_format=None,
                   dilation_rate=1):
    """Transposed convolution, channels_last: inputs (N, [H,] W, C), kernel ([kh,] kw, out, C).
    It is the input-gradient of the forward convolution (TF's conv2d_transpose),
    with Keras's output length; differentiable in inputs and kernel."""
    _cl(data_format, "conv_transpose")
    op = "conv_transpose"
    x, w = _e(inputs), _e(kernel)
    x4, nd = _spatial(x, 0, op)
    s, d = _tuple_n(strides, nd, "strides"), _tuple_n(dilation_rate, nd, "dilation_rate")
    opad = None if output_padding is None else _tuple_n(output_padding, nd, "output_padding")
    pad = _pad_mode(padding, op)
    if nd == 1:
        w = ag.reshape(w, [1] + list(w.shape))
        s, d = (1,) + s, (1,) + d
        opad = None if opad is None else (0,) + opad
    kh, kw, cout, cin = w.shape
    if x4.shape[-1] != cin:
        raise ValueError("keras.ops.conv_transpose: kernel expects %d input channels, got %d" % (cin, x4.shape[-1]))
    if opad is not None and _bi.any(o >= st for o, st in zip(opad, s)):
        raise ValueError("keras.ops.conv_transpose: output_padding %s must be smaller than strides %s" % (opad, s))
    n, h, wd, _ = x4.shape
    oh = _deconv_length(h, kh, pad, None if opad is None else opad[0], s[0], d[0]) if nd == 2 else 1
    ow = _deconv_length(wd, kw, pad, None if opad is None else opad[1], s[1], d[1])
    out_shape = [n, oh, ow, cout]
    xv, wv = x4.value, w.value
    y = ag.EagerTensor(_C.conv2d_backward_input(xv, wv, out_shape, s, pad, d, 1))
    if ag.recording():
        def bw(g, needs):
            gx = _C.conv2d_forward(g, wv, None, s, pad, d, 1, "none") if needs[0] else None
            gw = _C.conv2d_backward_filter(xv, g, list(wv.shape), s, pad, d, 1) if needs[1] else None
            return gx, gw
        _rec([x4, w], [y], bw)
    if nd == 1:
        y = ag.reshape(y, [n, ow, cout])
    return y


def _adaptive_bins(n, out):
    starts = [(i * n) // out for i in range(out)]
    ends = [-((-(i + 1) * n) // out) for i in range(out)]  # ceil
    return starts, ends


def _adaptive(mode, inputs, output_size, data_format, op):
    _cl(data_format, op)
    x = _e(inputs)
    nd = x.ndim - 2
    if nd not in (1, 2):
        raise NotImplementedError("keras.ops.%s: only 1-D and 2-D inputs are supported (got rank %d)" % (op, x.ndim))
    osz = _tuple_n(output_size, nd, "output_size")
    sizes = x.shape[1:1 + nd]
    bins = [_adaptive_bins(n, o) for n, o in zip(sizes, osz)]
    if mode == "avg":  # linear: one averaging matrix per spatial axis
        y = x
        for ax, ((st, en), n) in enumerate(zip(bins, sizes)):
            m = np.zeros((len(st), n), np.float32)
            for i, (a, b) in enumerate(zip(st, en)):
                m[i, a:b] = 1.0 / (b - a)
            mt = ag.EagerTensor(_tensor_like(m, x))
            y = moveaxis(tensordot(mt, y, axes=([1], [ax + 1])), 0, ax + 1)
        return y
    # max: gather every window (padded by repeating its first element) and reduce
    kmax = [_bi.max(b - a for a, b in zip(st, en)) for st, en in bins]

    def idx(st, en, km):
        out = np.zeros((len(st), km), np.int64)
        for i, (a, b) in enumerate(zip(st, en)):
            r = np.arange(a, b)
            out[i] = np.concatenate([r, np.full(km - len(r), a)])
        return out
    if nd == 1:
        i0 = idx(*bins[0], kmax[0])
        g = _gather([x], lambda p: p[:, i0, :])  # (N, O, K, C)
        return _extreme("max", g, 2, False)
    ih, iw = idx(*bins[0], kmax[0]), idx(*bins[1], kmax[1])
    g = _gather([x], lambda p: p[:, ih[:, None, :, None], iw[None, :, None, :], :])  # (N, OH, OW, KH, KW, C)
    return _extreme("max", g, (3, 4), False)


@_ret
def adaptive_average_pool(inputs, output_size, data_format=None):
    """Average over output_size bins per spatial axis (bin i covers [floor(i*n/o), ceil((i+1)*n/o)))."""
    return _adaptive("avg", inputs, output_size, data_format, "adaptive_average_pool")


@_ret
def adaptive_max_pool(inputs, output_size, data_format=None):
    """Max over the same bins as adaptive_average_pool."""
    return _adaptive("max", inputs, output_size, data_format, "adaptive_max_pool")


@_ret
def erfc(x):
    return ag.subtract(1.0, _e(erf(_e(x))))


@_diff
def fmax(x1, x2):
    """Elementwise maximum ignoring NaN (np.fmax); the gradient goes to the chosen input."""
    a, b = _e(x1), _e(x2)
    an, bn = _host(a), _host(b)
    pick_a = np.broadcast_to((an >= bn) | np.isnan(bn), np.broadcast_shapes(an.shape, bn.shape))
    shp = pick_a.shape
    return _gather([a, b], lambda p, q: np.where(pick_a, np.broadcast_to(p, shp), np.broadcast_to(q, shp)))


@_diff
def fmin(x1, x2):
    """Elementwise minimum ignoring NaN (np.fmin)."""
    a, b = _e(x1), _e(x2)
    an, bn = _host(a), _host(b)
    pick_a = np.broadcast_to((an <= bn) | np.isnan(bn), np.broadcast_shapes(an.shape, bn.shape))
    shp = pick_a.shape
    return _gather([a, b], lambda p, q: np.where(pick_a, np.broadcast_to(p, shp), np.broadcast_to(q, shp)))


# ------------------------------------------------------------ keras.ops.nn / .math / .linalg / .core / .numpy
def _namespace(name, names):
    import types
    m = types.ModuleType("pyconvnet.keras_ops." + name, "keras.ops.%s (the same functions as keras.ops)" % name)
    for n in names:
        setattr(m, n, globals()[n])
    m.__all__ = sorted(names)
    return m


_NN = ["conv_transpose", "adaptive_average_pool", "adaptive_max_pool", "depth_to_space", "space_to_depth", "psnr", "relu", "relu6", "sigmoid", "softplus", "softsign", "silu", "swish", "log_sigmoid", "leaky_relu",
       "hard_sigmoid", "hard_silu", "hard_swish", "elu", "selu", "gelu", "celu", "glu", "softmax", "log_softmax",
       "sparse_plus", "squareplus", "max_pool", "average_pool", "conv", "depthwise_conv", "separable_conv", "one_hot",
       "multi_hot", "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy", "moments",
       "batch_normalization", "normalize", "dot_product_attention", "rms_normalization", "layer_normalization"]
_MATH = ["segment_sum", "segment_max", "top_k", "in_top_k", "logsumexp", "erf", "rsqrt"]
_LINALG = ["inv", "det", "solve", "norm", "slogdet", "logdet", "cholesky", "qr", "svd", "eigh", "pinv",
           "matrix_rank", "lstsq", "solve_triangular"]
_CORE = ["cond", "scan", "map", "while_loop", "fori_loop", "switch", "stop_gradient", "convert_to_tensor",
         "convert_to_numpy", "cast", "shape", "is_tensor", "slice", "slice_update", "associative_scan",
         "vectorized_map", "dtype", "unstack"]
nn = _namespace("nn", _NN)  # Keras 3.15 exposes keras.ops.nn / .numpy / .linalg (not .math / .core)
linalg = _namespace("linalg", _LINALG)
numpy = _namespace("numpy", [n for n, v in list(globals().items())
                             if not n.startswith("_") and callable(v) and getattr(v, "__module__", None) == __name__
                             and n not in set(_NN) | set(_MATH) | set(_LINALG) | set(_CORE) | {"builtins_all"}])


__all__ = sorted(set(__all__) | {
    n for n, v in list(globals().items())
    if not n.startswith("_") and callable(v) and getattr(v, "__module__", None) == __name__
    and n not in ("builtins_all",)} | {"nn", "linalg", "numpy"})
