"""Activation ops with tf.nn names (all arithmetic in the extension's kernels).

Every function takes a NumPy array or a Tensor (any shape) and returns the same
kind, float32, with the input's shape. Definitions follow keras.activations
(Keras 3): selu constants, elu alpha=1, gelu exact (erf) unless approximate=True,
softplus and sigmoid stable for large |x|.
"""
import numpy as np

from .. import _C
from ..ops import as_tensor, like_input

__all__ = [
    "relu", "relu6", "leaky_relu", "elu", "selu", "sigmoid", "hard_sigmoid", "tanh", "softplus", "softsign",
    "silu", "swish", "gelu", "exponential", "softmax", "log_softmax", "dropout", "bias_add",
]


def _act(x, name, op, alpha=None):
    t, was_np = as_tensor(x, op, "features")
    return like_input(_C.activation_forward(t, name, alpha), was_np)


def relu(features, name=None):
    """max(features, 0). features: any shape."""
    return _act(features, "relu", "relu")


def relu6(features, name=None):
    """min(max(features, 0), 6). features: any shape."""
    return _act(features, "relu6", "relu6")


def leaky_relu(features, alpha=0.2, name=None):
    """features if features >= 0 else alpha * features. features: any shape."""
    return _act(features, "leaky_relu", "leaky_relu", float(alpha))


def elu(features, name=None):
    """features if > 0 else exp(features) - 1 (alpha = 1). features: any shape."""
    return _act(features, "elu", "elu", 1.0)


def selu(features, name=None):
    """scale * elu(features, alpha) with Keras' selu constants. features: any shape."""
    return _act(features, "selu", "selu")


def sigmoid(x, name=None):
    """1 / (1 + exp(-x)), stable for large |x|. x: any shape."""
    return _act(x, "sigmoid", "sigmoid")


def hard_sigmoid(x, name=None):
    """relu6(x + 3) / 6 (Keras 3). x: any shape."""
    return _act(x, "hard_sigmoid", "hard_sigmoid")


def tanh(x, name=None):
    """Hyperbolic tangent. x: any shape."""
    return _act(x, "tanh", "tanh")


def softplus(features, name=None):
    """log(1 + exp(features)), computed stably. features: any shape."""
    return _act(features, "softplus", "softplus")


def softsign(features, name=None):
    """features / (1 + |features|). features: any shape."""
    return _act(features, "softsign", "softsign")


def silu(features, beta=1.0, name=None):
    """features * sigmoid(features) (beta must be 1). features: any shape."""
    if float(beta) != 1.0:
        raise ValueError("silu: only beta=1.0 is supported, got %r" % (beta,))
    return _act(features, "silu", "silu")


swish = silu


def gelu(features, approximate=False, name=None):
    """0.5*x*(1 + erf(x/sqrt(2))), or the tanh form when approximate=True. features: any shape."""
    return _act(features, "gelu_tanh" if approximate else "gelu", "gelu")


def exponential(x, name=None):
    """exp(x). x: any shape."""
    return _act(x, "exponential", "exponential")


def _axis(axis, op):
    if axis is None:
        return -1
    try:
        return int(axis)
    except (TypeError, ValueError):
        raise TypeError("%s: axis must be an int, got %r" % (op, axis)) from None


def softmax(logits, axis=None, name=None):
    """exp(logits) / sum(exp(logits), axis), stable (max subtracted). logits: rank >= 1; axis default -1."""
    t, was_np = as_tensor(logits, "softmax", "logits")
    return like_input(_C.softmax_forward(t, _axis(axis, "softmax")), was_np)


def log_softmax(logits, axis=None, name=None):
    """logits - logsumexp(logits, axis), stable. logits: rank >= 1; axis default -1."""
    t, was_np = as_tensor(logits, "log_softmax", "logits")
    return like_input(_C.log_softmax_forward(t, _axis(axis, "log_softmax")), was_np)


_seed_counter = [0]


def dropout(x, rate, noise_shape=None, seed=None, name=None):
    """tf.nn.dropout: zero each element with probability `rate`, scale the rest by 1/(1-rate).

    x: any shape; rate in [0, 1). The mask depends only on (seed, element index),
    so a given seed gives the same mask on any thread count. seed=None draws a
    fresh seed per call. noise_shape is not supported (ValueError unless None or
    equal to x's shape).
    """
    t, was_np = as_tensor(x, "dropout", "x")
    if noise_shape is not None and tuple(int(d) for d in noise_shape) != tuple(t.shape):
        raise ValueError("dropout: noise_shape %r is not supported (only None or the input shape %r)"
                         % (tuple(noise_shape), tuple(t.shape)))
    try:
        rate = float(rate)
    except (TypeError, ValueError):
        raise TypeError("dropout: rate must be a float, got %r" % (rate,)) from None
    if not 0.0 <= rate < 1.0:
        raise ValueError("dropout: rate must be in [0, 1), got %r" % (rate,))
    if seed is None:
        _seed_counter[0] += 1
        seed = (int.from_bytes(np.random.bytes(8), "little") ^ _seed_counter[0]) & (2**64 - 1)
    y, _ = _C.dropout_forward(t, rate, int(seed) & (2**64 - 1))
    return like_input(y, was_np)


def bias_add(value, bias, data_format=None, name=None):
    """value + bias over the last axis. value (..., C); bias (C,). NHWC only."""
    if data_format not in (None, "NHWC", "NWC", "N...C", "channels_last"):
        raise ValueError("bias_add: only channels-last data_format is supported, got %r" % (data_format,))
    t, was_np = as_tensor(value, "bias_add", "value")
    b, _ = as_tensor(bias, "bias_add", "bias")
    return like_input(_C.bias_add(t, b), was_np)
