"""Float64 references: elementwise family (the spec; plain NumPy).

Activations follow keras.activations (Keras 3): selu constants, elu alpha 1,
gelu exact (erf) by default, hard_sigmoid = relu6(x+3)/6, leaky_relu slope 0.2.
"""
import math

import numpy as np

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

_erf = np.vectorize(math.erf, otypes=[np.float64])
_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def sigmoid(x):
    x = np.asarray(x, np.float64)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def activation(x, name, alpha=None):
    x = np.asarray(x, np.float64)
    if name == "linear":
        return x.copy()
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "relu6":
        return np.minimum(np.maximum(x, 0.0), 6.0)
    if name == "leaky_relu":
        a = 0.2 if alpha is None else alpha
        return np.where(x >= 0, x, a * x)
    if name == "elu":
        a = 1.0 if alpha is None else alpha
        return np.where(x > 0, x, a * np.expm1(np.minimum(x, 0)))
    if name == "selu":
        return SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0)))
    if name == "sigmoid":
        return sigmoid(x)
    if name == "hard_sigmoid":
        return np.minimum(np.maximum(x + 3.0, 0.0), 6.0) / 6.0
    if name == "tanh":
        return np.tanh(x)
    if name == "softplus":
        return np.logaddexp(0.0, x)
    if name == "softsign":
        return x / (1.0 + np.abs(x))
    if name in ("swish", "silu"):
        return x * sigmoid(x)
    if name == "gelu":
        # 0.5 * x * (1 + erf(x / sqrt 2)), written with erfc so the left tail is exact in float64 too
        return 0.5 * x * _erfc(-x / np.sqrt(2.0))
    if name == "gelu_tanh":
        return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))
    if name == "exponential":
        return np.exp(x)
    raise ValueError(name)


def softmax(x, axis=-1):
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    x = np.asarray(x, np.float64)
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def binary(op, a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    with np.errstate(all="ignore"):
        return {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
                "maximum": np.maximum, "minimum": np.minimum, "pow": np.power}[op](a, b)


def unary(op, x):
    x = np.asarray(x, np.float64)
    f = {"neg": np.negative, "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "rsqrt": lambda v: 1 / np.sqrt(v),
         "square": np.square, "abs": np.abs, "sign": np.sign, "reciprocal": lambda v: 1 / v, "sin": np.sin,
         "cos": np.cos, "floor": np.floor, "round": np.round, "tanh": np.tanh, "sigmoid": sigmoid,
         "log1p": np.log1p, "expm1": np.expm1}[op]
    return f(x)


def reduce(op, x, axes=None, keepdims=False):
    x = np.asarray(x, np.float64)
    ax = None if axes is None else tuple(axes)
    return {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min, "prod": np.prod}[op](
        x, axis=ax, keepdims=keepdims)


def sum_to_shape(x, shape):
    x = np.asarray(x, np.float64)
    lead = x.ndim - len(shape)
    x = x.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, d in enumerate(shape) if d == 1 and x.shape[i] != 1)
    return x.sum(axis=axes, keepdims=True).reshape(shape)


def pad2d(x, top, bottom, left, right, value=0.0):
    return np.pad(np.asarray(x, np.float64), ((0, 0), (top, bottom), (left, right), (0, 0)),
                  constant_values=value)


def dropout(x, mask, rate):
    return np.asarray(x, np.float64) * mask / (1.0 - rate)
