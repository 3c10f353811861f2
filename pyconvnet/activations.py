"""keras.activations: functions of EagerTensors (the tape records them), NumPy
arrays (returned as NumPy) or `_C.Tensor`s. All arithmetic is `_C`."""
import functools

import numpy as np

from . import _C
from . import autograd as ag

__all__ = ["relu", "relu6", "leaky_relu", "elu", "selu", "sigmoid", "hard_sigmoid", "tanh", "softplus",
           "softsign", "swish", "silu", "gelu", "exponential", "linear", "softmax", "log_softmax",
           "get", "serialize", "deserialize"]


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
    if threshold != 0.0:
        raise NotImplementedError("activations.relu: threshold != 0 is not supported")
    if max_value is not None:
        if negative_slope == 0.0 and float(max_value) == 6.0:
            return ag.activation(x, "relu6")
        y = ag.activation(x, "leaky_relu", negative_slope) if negative_slope else ag.activation(x, "relu")
        return ag.minimum(y, float(max_value))
    if negative_slope:
        return ag.activation(x, "leaky_relu", float(negative_slope))
    return ag.activation(x, "relu")


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
    if approximate:
        raise NotImplementedError("activations.gelu: approximate=True is not supported (the kernel is exact erf gelu)")
    return ag.activation(x, "gelu")


@_io
def exponential(x):
    return ag.activation(x, "exponential")


def linear(x):
    return x


@_io
def softmax(x, axis=-1):
    return ag.softmax(x, axis)


@_io
def log_softmax(x, axis=-1):
    return ag.log_softmax(x, axis)


_BY_NAME = {f.__name__: f for f in (relu, relu6, leaky_relu, elu, selu, sigmoid, hard_sigmoid, tanh, softplus,
                                     softsign, swish, gelu, exponential, linear, softmax, log_softmax)}
_BY_NAME["silu"] = swish


def get(identifier):
    """An activation function by name ('relu'), None (linear) or a callable."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        f = _BY_NAME.get(identifier.lower())
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
    name = getattr(fn, "__name__", None)
    if name in _BY_NAME and _BY_NAME[name] is fn:
        return name
    if fn is swish:
        return "swish"
    raise ValueError("activations.serialize: %r is not a built-in activation; pass custom_objects when loading "
                     "or use a named activation" % (fn,))


def deserialize(name, custom_objects=None):
    if isinstance(name, dict):
        name = name.get("config", name.get("class_name"))
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    return get(name)


def kernel_name(fn):
    """The `_C.activation_forward` name for a built-in activation, else None."""
    for k, f in _BY_NAME.items():
        if f is fn and k not in ("softmax", "log_softmax", "linear"):
            return k
    return None
