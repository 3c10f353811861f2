"""keras.activations: functions of EagerTensors (the tape records them), NumPy
arrays (returned as NumPy) or `_C.Tensor`s. All arithmetic is `_C`."""
import functools

import numpy as np

from . import _C
from . import autograd as ag

__all__ = ["relu", "relu6", "leaky_relu", "elu", "selu", "sigmoid", "hard_sigmoid", "tanh", "softplus",
           "softsign", "swish", "silu", "gelu", "exponential", "linear", "softmax", "log_softmax",
           "mish", "hard_silu", "hard_swish", "log_sigmoid", "celu", "glu", "sparse_plus", "squareplus",
           "hard_tanh", "tanh_shrink", "soft_shrink", "hard_shrink", "threshold", "sparse_sigmoid", "sparsemax",
           "get", "serialize", "deserialize"]


def _mask_gt(x, t):
    """Constant (untaped) float mask: 1 where x > t else 0 (exact at x == t)."""
    s = _C.unary("sign", _C.binary_scalar("sub", ag.as_eager(x).value, float(t)))
    return ag.EagerTensor(_C.activation_forward(s, "relu", None))


def _io(fn):
    """Accept NumPy / _C.Tensor / EagerTensor; return the caller's kind."""
    @functools.wraps(fn)
    def wrapper(x, *a, **k):
        if isinstance(x, ag.EagerTensor):
            return fn(x, *a, **k)
        if isinstance(x, _C.Tensor):
            return fn(ag.EagerTensor(x), *a, **k).value
        if hasattr(x, "_keras_history"):  # symbolic: wrap as a layer call
            from .layers.core import Activation
            return Activation(wrapper)(x)
        y = fn(ag.EagerTensor(_C.from_numpy(np.ascontiguousarray(x, dtype=np.float32))), *a, **k)
        return y.numpy()
    return wrapper


@_io
def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras 3's composition, step for step (so values and the gradients at the kinks agree):
    y = where(x > threshold, x, 0) (or relu(x); relu6(x) when max_value == 6 and no threshold),
    then clip(y, 0, max_value), then y - negative_slope * relu(threshold - x)."""
    negative_slope = float(negative_slope)
    if negative_slope and max_value is None and threshold == 0:
        return ag.activation(x, "leaky_relu", negative_slope)
    clip_max = max_value is not None
    if threshold != 0:
        y = ag.multiply(x, _mask_gt(x, threshold))
    elif clip_max and float(max_value) == 6.0:
        y = ag.activation(x, "relu6")
        clip_max = False
    else:
        y = ag.activation(x, "relu")
    if clip_max:
        y = ag.clip(y, 0.0, float(max_value))
    if negative_slope:
        neg = ag.activation(ag.subtract(float(threshold), x) if threshold else ag.negative(x), "relu")
        y = ag.subtract(y, ag.multiply(neg, negative_slope))
    return y


@_io
def relu6(x):
    return ag.activation(x, "relu6")


@_io
def leaky_relu(x, negative_slope=0.2):
    return ag.activation(x, "leaky_relu", float(negative_slope))


@_io
def elu(x, alpha=1.0):
    return ag.activation(x, "elu", float(alpha))


@_io
def selu(x):
    return ag.activation(x, "selu")


@_io
def sigmoid(x):
    return ag.activation(x, "sigmoid")


@_io
def hard_sigmoid(x):
    return ag.activation(x, "hard_sigmoid")


@_io
def tanh(x):
    return ag.activation(x, "tanh")


@_io
def softplus(x):
    return ag.activation(x, "softplus")


@_io
def softsign(x):
    return ag.activation(x, "softsign")


@_io
def swish(x):
    return ag.activation(x, "swish")


silu = swish


@_io
def gelu(x, approximate=False):
    """Exact erf GELU, or the tanh approximation 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))."""
    return ag.activation(x, "gelu_tanh" if approximate else "gelu")


@_io
def exponential(x):
    return ag.activation(x, "exponential")


def linear(x):
    return x


@_io
def mish(x):
    """x * tanh(softplus(x))."""
    return ag.multiply(x, ag.activation(ag.activation(x, "softplus"), "tanh"))


@_io
def hard_silu(x):
    """x * hard_sigmoid(x) = x * relu6(x + 3) / 6."""
    return ag.multiply(x, ag.activation(x, "hard_sigmoid"))


hard_swish = hard_silu


@_io
def log_sigmoid(x):
    """-softplus(-x)."""
    return ag.negative(ag.activation(ag.negative(x), "softplus"))


@_io
def celu(x, alpha=1.0):
    """x for x > 0, alpha * (exp(x / alpha) - 1) otherwise (= alpha * elu(x / alpha))."""
    return ag.multiply(ag.activation(ag.multiply(x, 1.0 / float(alpha)), "elu", 1.0), float(alpha))


@_io
def glu(x, axis=-1):
    """a * sigmoid(b) where a, b are the halves of x along `axis`."""
    n = x.shape[axis]
    if n % 2:
        raise ValueError("axis size must be divisible by 2. Received: inputs.shape=%s with axis=%d"
                         % (tuple(x.shape), axis))
    a = ag.slice_axis(x, axis, 0, n // 2)
    b = ag.slice_axis(x, axis, n // 2, n)
    return ag.multiply(a, ag.activation(b, "sigmoid"))


@_io
def sparse_plus(x):
    """0 for x <= -1, (x + 1)^2 / 4 for -1 < x < 1, x for x >= 1."""
    c = ag.clip(x, -1.0, 1.0)
    return ag.add(ag.multiply(ag.unary("square", ag.add(c, 1.0)), 0.25), ag.activation(ag.subtract(x, 1.0), "relu"))


@_io
def squareplus(x, b=4):
    """(x + sqrt(x^2 + b)) / 2."""
    return ag.multiply(ag.add(x, ag.unary("sqrt", ag.add(ag.unary("square", x), float(b)))), 0.5)


@_io
def hard_tanh(x):
    """clip(x, -1, 1)."""
    return ag.clip(x, -1.0, 1.0)


@_io
def tanh_shrink(x):
    """x - tanh(x)."""
    return ag.subtract(x, ag.activation(x, "tanh"))


@_io
def soft_shrink(x, threshold=0.5):
    """x - clip(x, -threshold, threshold)."""
    return ag.subtract(x, ag.clip(x, -float(threshold), float(threshold)))


@_io
def hard_shrink(x, threshold=0.5):
    """x where |x| > threshold else 0."""
    return ag.multiply(x, _mask_gt(ag.unary("abs", x), threshold))


@_io
def threshold(x, threshold, default_value):
    """x where x > threshold else default_value."""
    m = _mask_gt(x, threshold)
    return ag.add(ag.multiply(x, m), ag.multiply(ag.subtract(1.0, m), float(default_value)))


@_io
def sparse_sigmoid(x):
    """0 for x <= -1, (x + 1) / 2 for -1 < x < 1, 1 for x >= 1 (gradient 0 at +-1, as Keras)."""
    with ag.no_grad():
        inside = _mask_gt(ag.subtract(1.0, ag.unary("abs", x)), 0.0)  # |x| < 1
        above = ag.EagerTensor(_C.binary_scalar("sub", _mask_gt(ag.subtract(1.0, x), 0.0).value, 1.0, True))  # x >= 1
    return ag.add(ag.multiply(ag.multiply(x, inside), 0.5), ag.add(ag.multiply(inside, 0.5), above))


def sparsemax(x, axis=-1):
    raise NotImplementedError("activations.sparsemax is not implemented in pyconvnet")


@_io
def softmax(x, axis=-1):
    """exp(x) / sum(exp(x), axis); `axis` an int or a tuple of axes (Keras: all of them at once)."""
    if isinstance(axis, (list, tuple)):
        if len(axis) == 1:
            return ag.softmax(x, axis[0])
        axes = [int(a) % x.ndim for a in axis]
        m = ag.EagerTensor(_C.reduce("max", x.value, axes, True))  # a constant shift (no gradient needed)
        e = ag.unary("exp", ag.subtract(x, m))
        return ag.divide(e, ag.reduce("sum", e, axes, keepdims=True))
    return ag.softmax(x, axis)


@_io
def log_softmax(x, axis=-1):
    return ag.log_softmax(x, axis)


_BY_NAME = {f.__name__: f for f in (relu, relu6, leaky_relu, elu, selu, sigmoid, hard_sigmoid, tanh, softplus,
                                     softsign, gelu, exponential, linear, softmax, log_softmax, mish, hard_silu,
                                     log_sigmoid, celu, glu, sparse_plus, squareplus, hard_tanh, tanh_shrink,
                                     soft_shrink, hard_shrink, threshold, sparse_sigmoid, sparsemax)}
_BY_NAME["silu"] = swish
# Keras 3 aliases (serialize() writes the canonical name: silu, hard_silu)
_ALIAS = {"swish": swish, "hard_swish": hard_silu}


def get(identifier):
    """An activation function by name ('relu'), None (linear) or a callable."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        f = _BY_NAME.get(identifier) or _ALIAS.get(identifier)
        if f is None:  # a @keras.saving.register_keras_serializable() function / custom_object_scope entry
            from .saving_api import resolve
            f = resolve(identifier, identifier if ">" in identifier else None)
        if f is None:
            raise ValueError("Unknown activation function: '%s'. Known: %s"
                             % (identifier, ", ".join(sorted(_BY_NAME))))
        return f
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise ValueError("Could not interpret activation identifier: %r" % (identifier,))


def serialize(fn):
    """The Keras 3 name of a built-in activation ('silu' for swish, 'hard_silu' for hard_swish)."""
    for k, f in _BY_NAME.items():
        if f is fn:
            return k
    from .saving_api import GLOBAL_CUSTOM_NAMES, serialize_keras_object
    if fn in GLOBAL_CUSTOM_NAMES:  # registered: Keras's function dict, with its "package>name"
        return serialize_keras_object(fn)
    raise ValueError("activations.serialize: %r is not a built-in activation; pass custom_objects when loading "
                     "or use a named activation" % (fn,))


def deserialize(name, custom_objects=None):
    if isinstance(name, dict):
        from .saving_api import resolve
        f = resolve(name.get("config"), name.get("registered_name"), custom_objects)
        if f is not None:
            return f
        name = name.get("config", name.get("class_name"))
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    return get(name)


def kernel_name(fn):
    """The `_C.activation_forward` name for a built-in activation, else None."""
    for k, f in _BY_NAME.items():
        if f is fn and k in _KERNEL_NAMES:
            return "swish" if k == "silu" else k
    return None


_KERNEL_NAMES = {"relu", "relu6", "leaky_relu", "elu", "selu", "sigmoid", "hard_sigmoid", "tanh", "softplus",
                 "softsign", "silu", "gelu", "exponential"}
