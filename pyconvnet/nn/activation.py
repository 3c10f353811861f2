"""Activation ops with tf.nn names (all arithmetic in the extension's kernels).

Every function takes a NumPy array, a Tensor or an EagerTensor (any shape) and
returns the same kind, float32, with the input's shape. Definitions follow keras.activations
(Keras 3): selu constants, elu alpha=1, gelu exact (erf) unless approximate=True,
softplus and sigmoid stable for large |x|.
EagerTensor / Variable inputs (inside a GradientTape, a Keras layer or a
Lambda) go on the tape, so `tape.gradient` reaches them as in TensorFlow.
"""
import numpy as np

from .. import _C
from .. import autograd as _ag
from ..ops import like_input
from ._eager import as_tensor
from ._eager import lift, lower, const

__all__ = [
    "relu", "relu6", "leaky_relu", "elu", "selu", "sigmoid", "hard_sigmoid", "tanh", "softplus", "softsign",
    "silu", "swish", "gelu", "exponential", "softmax", "log_softmax", "dropout", "bias_add", "crelu",
]


def _act(x, name, op, alpha=None):
    if isinstance(x, _ag.EagerTensor):
        return _ag.activation(x, name, alpha)
    t, was_np = as_tensor(x, op, "features")
    return like_input(_C.activation_forward(t, name, alpha), was_np)


def relu(features, name=None):
    """max(features, 0). features: any shape."""
    return _act(features, "relu", "relu")


def relu6(features, name=None):
    """min(max(features, 0), 6). features: any shape."""
    return _act(features, "relu6", "relu6")


def leaky_relu(features, alpha=0.2, name=None):
    """features if features > 0 else alpha * features. features: any shape.

    On the tape the gradient at exactly 0 is alpha (TF and PyTorch: x > 0 ? 1 : alpha);
    the extension's activation_backward gives 1 there, so this op records its own node.
    """
    try:
        alpha = float(alpha)
    except (TypeError, ValueError):
        raise TypeError("leaky_relu: alpha must be a float, got %r" % (alpha,)) from None
    if not isinstance(features, _ag.EagerTensor):
        return _act(features, "leaky_relu", "leaky_relu", alpha)
    xv = features.value
    y = _ag.EagerTensor(_C.activation_forward(xv, "leaky_relu", alpha))
    if _ag.recording():
        def bw(g, needs):
            # slope = alpha + (1 - alpha) * [x > 0], with [x > 0] = round(sign(x) / 2 + 1/4)
            pos = _C.unary("round", _C.binary_scalar("add", _C.binary_scalar("mul", _C.unary("sign", xv), 0.5), 0.25))
            slope = _C.binary_scalar("add", _C.binary_scalar("mul", pos, 1.0 - alpha), alpha)
            return (_C.binary("mul", g, slope),)
        _ag._record([features], [y], bw)
    return y


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
    """tf.nn.silu: features * sigmoid(beta * features). features: any shape."""
    try:
        beta = float(beta)
    except (TypeError, ValueError):
        raise TypeError("silu: beta must be a float, got %r" % (beta,)) from None
    if beta == 1.0:
        return _act(features, "silu", "silu")
    x, kind = lift(features, "silu", "features")
    return lower(_ag.multiply(x, _ag.activation(_ag.multiply(x, beta), "sigmoid")), kind)


swish = silu


def crelu(features, axis=-1, name=None):
    """tf.nn.crelu: concat([relu(features), relu(-features)], axis); that axis doubles."""
    x, kind = lift(features, "crelu", "features")
    nd = len(x.shape)
    try:
        ax = int(axis)
    except (TypeError, ValueError):
        raise TypeError("crelu: axis must be an int, got %r" % (axis,)) from None
    if not -nd <= ax < nd:
        raise ValueError("crelu: axis %d out of range for a %d-D input" % (ax, nd))
    return lower(_ag.concat([_ag.activation(x, "relu"), _ag.activation(_ag.negative(x), "relu")], ax % nd), kind)


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
    if isinstance(logits, _ag.EagerTensor):
        return _ag.softmax(logits, _axis(axis, "softmax"))
    t, was_np = as_tensor(logits, "softmax", "logits")
    return like_input(_C.softmax_forward(t, _axis(axis, "softmax")), was_np)


def log_softmax(logits, axis=None, name=None):
    """logits - logsumexp(logits, axis), stable. logits: rank >= 1; axis default -1."""
    if isinstance(logits, _ag.EagerTensor):
        return _ag.log_softmax(logits, _axis(axis, "log_softmax"))
    t, was_np = as_tensor(logits, "log_softmax", "logits")
    return like_input(_C.log_softmax_forward(t, _axis(axis, "log_softmax")), was_np)


_seed_counter = [0]


def _noise_shape(noise_shape, shape, op):
    """TF's noise_shape (None entries take x's size) -> a tuple broadcastable to shape."""
    if noise_shape is None:
        return tuple(shape)
    try:
        ns = [None if d is None else int(d) for d in (noise_shape.tolist() if hasattr(noise_shape, "tolist")
                                                     else noise_shape)]
    except (TypeError, ValueError):
        raise TypeError("%s: noise_shape must be a list of ints, got %r" % (op, noise_shape)) from None
    if len(ns) != len(shape):
        raise ValueError("%s: noise_shape %r must have the input's rank %d (input shape %r)"
                         % (op, tuple(noise_shape), len(shape), tuple(shape)))
    ns = [s if d is None else d for d, s in zip(ns, shape)]
    for d, s in zip(ns, shape):
        if d not in (1, s):
            raise ValueError("%s: noise_shape %r is not broadcastable to the input shape %r"
                             % (op, tuple(noise_shape), tuple(shape)))
    return tuple(ns)


def dropout(x, rate, noise_shape=None, seed=None, name=None):
    """tf.nn.dropout: zero each element with probability `rate`, scale the rest by 1/(1-rate).

    x: any shape; rate in [0, 1). noise_shape: the shape of the keep/drop mask,
    broadcast to x (a 1 entry shares one decision along that axis; None entries
    take x's size). The mask depends only on (seed, element index), so a given
    seed gives the same mask on any thread count (not TF's random stream).
    seed=None draws a fresh seed per call. EagerTensor inputs go on the tape.
    """
    xe, kind = lift(x, "dropout", "x")
    shape = tuple(xe.shape)
    ns = _noise_shape(noise_shape, shape, "dropout")
    if isinstance(rate, (bool, np.bool_)):
        raise TypeError("dropout: rate must be a float, got %r" % (rate,))
    try:
        rate = float(rate)
    except (TypeError, ValueError):
        raise TypeError("dropout: rate must be a float, got %r" % (rate,)) from None
    if not 0.0 <= rate < 1.0:
        raise ValueError("dropout: rate must be a scalar tensor or a float in the range [0, 1), got %r" % (rate,))
    if seed is None:
        _seed_counter[0] += 1
        seed = (int.from_bytes(np.random.bytes(8), "little") ^ _seed_counter[0]) & (2**64 - 1)
    seed = int(seed) & (2**64 - 1)
    if ns == shape:
        return lower(_ag.dropout(xe, rate, seed), kind)
    ones = _C.empty(*ns, device=xe.device) if ns else _C.from_numpy(np.ones((), np.float32))
    _C.fill_(ones, 1.0)
    mask, _ = _C.dropout_forward(ones, rate, seed)          # 0 or 1/(1-rate), shape ns
    return lower(_ag.multiply(xe, _ag.EagerTensor(mask)), kind)


_CHANNELS_LAST = (None, "NHWC", "NWC", "NDHWC", "N...C", "channels_last")
_CHANNELS_FIRST = ("NCHW", "NCW", "NCDHW", "NC...", "channels_first")


def bias_add(value, bias, data_format=None, name=None):
    """tf.nn.bias_add: value + bias over the channel axis.

    value (..., C) for channels-last data_format (None, "NHWC", "NWC", "N...C"),
    or (N, C, ...) for "NCHW" / "NCW" / "NC..."; bias (C,).
    """
    if data_format not in _CHANNELS_LAST + _CHANNELS_FIRST:
        raise ValueError("bias_add: data_format must be channels-last (NHWC, N...C) or channels-first "
                         "(NCHW, NC...), got %r" % (data_format,))
    if data_format in _CHANNELS_FIRST:
        v, kind = lift(value, "bias_add", "value")
        b = bias if isinstance(bias, _ag.EagerTensor) else const(bias, "bias_add", "bias", v.value)
        if len(b.shape) != 1 or len(v.shape) < 2 or v.shape[1] != b.shape[0]:
            raise ValueError("bias_add: bias must be 1-D with the size of value's channel axis 1, got bias %s "
                             "and value %s" % (tuple(b.shape), tuple(v.shape)))
        bb = _ag.reshape(b, [b.shape[0]] + [1] * (len(v.shape) - 2))
        return lower(_ag.add(v, bb), kind)
    if isinstance(value, _ag.EagerTensor) or isinstance(bias, _ag.EagerTensor):
        v, _ = lift(value, "bias_add", "value")
        b = bias if isinstance(bias, _ag.EagerTensor) else const(bias, "bias_add", "bias", v.value)
        _check_bias(v.shape, b.shape)
        return _ag.bias_add(v, b)
    t, was_np = as_tensor(value, "bias_add", "value")
    b, _ = as_tensor(bias, "bias_add", "bias")
    _check_bias(t.shape, b.shape)
    return like_input(_C.bias_add(t, b), was_np)


def _check_bias(vs, bs):
    if len(bs) != 1:
        raise ValueError("bias_add: bias must be 1-D, got shape %s" % (tuple(bs),))
    if len(vs) < 2:
        raise ValueError("bias_add: value must have rank >= 2, got shape %s" % (tuple(vs),))
    if vs[-1] != bs[0]:
        raise ValueError("bias_add: bias size %d must equal the last dimension of value %s"
                         % (bs[0], tuple(vs)))
