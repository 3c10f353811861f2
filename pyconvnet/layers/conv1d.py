"""1-D convolution and pooling layers over (batch, steps, channels), run as the
2-D kernels on a (batch, 1, steps, channels) view: Conv1D (valid/same/causal,
strides, dilation, groups), DepthwiseConv1D, SeparableConv1D,
Max/AveragePooling1D, GlobalAverage/MaxPooling1D.

Shared helpers for the layers added alongside them (extra.py, transpose.py):
argument normalization with errors that name the layer, regularizer
(de)serialization, the activity-regularizer penalty, and a NotImplementedError
for weight constraints (pyconvnet has no constraint machinery yet).
"""
import numpy as np

from .. import _C
from .. import activations
from .. import autograd as ag
from .. import initializers
from .. import regularizers
from .base import Layer, InputSpec

__all__ = ["Conv1D", "Convolution1D", "DepthwiseConv1D", "SeparableConv1D", "SeparableConvolution1D",
           "MaxPooling1D", "MaxPool1D", "AveragePooling1D", "AvgPool1D",
           "GlobalAveragePooling1D", "GlobalMaxPooling1D", "GlobalAvgPool1D", "GlobalMaxPool1D"]


# --------------------------------------------------------------------------
# helpers shared by the new layer files
# --------------------------------------------------------------------------
def _lname(layer):
    return "%s '%s'" % (type(layer).__name__, layer.name)


def ntuple(v, n, what, layer, allow_zero=False):
    """An int or n ints -> tuple of n positive ints (ValueError naming the layer)."""
    try:
        if isinstance(v, bool):
            raise TypeError
        t = (int(v),) * n if not isinstance(v, (list, tuple)) else tuple(int(i) for i in v)
        if any(isinstance(i, bool) for i in (v if isinstance(v, (list, tuple)) else [v])):
            raise TypeError
    except (TypeError, ValueError):
        raise ValueError("%s: `%s` must be an int or a tuple of %d ints, got %r" % (_lname(layer), what, n, v)) \
            from None
    if len(t) != n or any(i < 0 or (i == 0 and not allow_zero) for i in t):
        raise ValueError("%s: `%s` must be %s int or a tuple of %d %s ints, got %r"
                         % (_lname(layer), what, "a positive" if not allow_zero else "a non-negative", n,
                            "positive" if not allow_zero else "non-negative", v))
    return t


def data_format_arg(df, layer):
    if df not in (None, "channels_last"):
        if df == "channels_first":
            raise NotImplementedError("%s: data_format='channels_first' is not supported (pyconvnet is "
                                      "channels-last)" % _lname(layer))
        raise ValueError("%s: data_format must be 'channels_last' or 'channels_first', got %r" % (_lname(layer), df))
    return "channels_last"


def padding_arg(p, layer, allowed=("valid", "same")):
    if not isinstance(p, str) or p.lower() not in allowed:
        raise ValueError("%s: padding must be one of %s, got %r" % (_lname(layer), ", ".join(map(repr, allowed)), p))
    return p.lower()


def out_length(n, k, padding, stride, dilation=1):
    """Keras/TF output length of a conv or pool window over n steps."""
    if n is None:
        return None
    ke = (k - 1) * dilation + 1
    if padding in ("same", "causal"):
        return -(-n // stride)
    return (n - ke) // stride + 1 if n >= ke else 0


def same_pads(n, k, stride, dilation=1):
    """TF 'same' padding (before, after) for n steps."""
    ke = (k - 1) * dilation + 1
    out = -(-n // stride)
    total = max((out - 1) * stride + ke - n, 0)
    return total // 2, total - total // 2


def no_constraints(layer, **kw):
    """This layer does not take weight constraints yet: refuse them instead of ignoring them."""
    for k, v in kw.items():
        if v is not None:
            raise NotImplementedError("%s: %s=%r is not supported by this layer (Dense, Conv2D, DepthwiseConv2D, "
                                      "BatchNormalization, Embedding and add_weight(constraint=) take constraints)"
                                      % (_lname(layer), k, v))


def reg_get(r):
    """A regularizer from None, an instance, a name or a Keras config dict."""
    if isinstance(r, dict):
        cfg = r.get("config", {}) or {}
        name = {"L1": "l1", "L2": "l2", "L1L2": "l1_l2"}.get(r.get("class_name"), None)
        if name is None:  # another class: whatever pyconvnet.regularizers can rebuild
            return regularizers.get(r)
        if name == "l1":
            return regularizers.L1(l1=cfg.get("l1", 0.01))
        if name == "l2":
            return regularizers.L2(l2=cfg.get("l2", 0.01))
        return regularizers.L1L2(l1=cfg.get("l1", 0.0), l2=cfg.get("l2", 0.0))
    return regularizers.get(r)


def reg_ser(r):
    if r is None:
        return None
    if isinstance(r, regularizers.Regularizer):
        cfg = dict(r.get_config())
        if type(r) is regularizers.L1:      # Keras: L1 {"l1"}, L2 {"l2"}, L1L2 {"l1", "l2"}
            cfg = {"l1": cfg.get("l1")}
        elif type(r) is regularizers.L2:
            cfg = {"l2": cfg.get("l2")}
        return {"module": "keras.regularizers", "class_name": type(r).__name__, "config": cfg,
                "registered_name": None}
    raise ValueError("cannot serialize regularizer %r (a plain function cannot be saved)" % (r,))


def init_ser(init):
    try:
        return initializers.serialize(init)
    except ValueError:
        return None


def act_ser(fn):
    return activations.serialize(fn)


class ActivityRegMixin:
    """Keras's activity_regularizer: after each call the layer's penalty is
    regularizer(output) / batch_size (Keras 3); it joins the training loss through
    the layer's (weight, regularizer) list, which fit evaluates after the forward."""

    def _pcn_set_activity(self, activity_regularizer):
        self.activity_regularizer = reg_get(activity_regularizer)
        self._pcn_act_penalty = None
        if self.activity_regularizer is not None:
            self._pcn_regularizers = getattr(self, "_pcn_regularizers", [])
            self._pcn_regularizers.append((None, self._pcn_activity_penalty))

    def _pcn_activity_penalty(self, _unused):
        p = self._pcn_act_penalty
        if p is None:
            return ag.EagerTensor(ag._val(0.0))
        return p

    def _pcn_activity(self, y):
        if self.activity_regularizer is not None and isinstance(y, ag.EagerTensor):
            pen = self.activity_regularizer(y)
            if y.ndim > 0 and y.shape[0] > 0:
                pen = ag.multiply(pen, 1.0 / y.shape[0])
            self._pcn_act_penalty = pen
        return y

    def _pcn_activity_config(self, c):
        c["activity_regularizer"] = reg_ser(self.activity_regularizer)
        return c


def _to4(x):
    """(N, T, C) -> (N, 1, T, C) view for the 2-D kernels."""
    x = ag.as_eager(x)
    n, t, c = x.shape
    return ag.reshape(x, [n, 1, t, c])


def _from4(y):
    n, _, t, c = y.shape
    return ag.reshape(y, [n, t, c])


# --------------------------------------------------------------------------
# Conv1D
# --------------------------------------------------------------------------
class Conv1D(ActivityRegMixin, Layer):
    """1-D convolution over (batch, steps, channels); kernel (kernel_size,
    in/groups, filters), bias (filters,). padding 'valid', 'same' (TF arithmetic:
    the extra pad goes at the end) or 'causal' (dilation*(k-1) zeros in front, so
    output[t] sees inputs <= t). Runs as a 2-D convolution on (N, 1, T, C)."""
    _pcn_int_input = False

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, lora_rank=None,
                 lora_alpha=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format_arg(data_format, self)
        if isinstance(filters, bool) or int(filters) <= 0:
            raise ValueError("%s: invalid value for argument `filters`; expected a strictly positive value, "
                             "received filters=%r" % (_lname(self), filters))
        self.filters = int(filters)
        self.kernel_size = ntuple(kernel_size, 1, "kernel_size", self)
        self.strides = ntuple(strides, 1, "strides", self)
        self.dilation_rate = ntuple(dilation_rate, 1, "dilation_rate", self)
        self.padding = padding_arg(padding, self, ("valid", "same", "causal"))
        self.groups = int(groups)
        if self.groups <= 0:
            raise ValueError("%s: the number of groups must be a positive integer, received groups=%r"
                             % (_lname(self), groups))
        if self.filters % self.groups:
            raise ValueError("%s: the number of filters (%d) must be evenly divisible by the number of groups (%d)"
                             % (_lname(self), self.filters, self.groups))
        if self.strides[0] > 1 and self.dilation_rate[0] > 1:
            raise ValueError("%s: `strides > 1` not supported in conjunction with `dilation_rate > 1`, received "
                             "strides=%s and dilation_rate=%s" % (_lname(self), self.strides, self.dilation_rate))
        if lora_rank:
            raise NotImplementedError("%s: lora_rank is not supported" % _lname(self))
        no_constraints(self, kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = reg_get(kernel_regularizer)
        self.bias_regularizer = reg_get(bias_regularizer)
        self._pcn_set_activity(activity_regularizer)
        self.input_spec = InputSpec(ndim=3)

    def build(self, input_shape):
        c = input_shape[-1]
        if c is None:
            raise ValueError("%s: the channel dimension of the inputs must be defined, got shape %s"
                             % (_lname(self), input_shape))
        if c % self.groups:
            raise ValueError("%s: the number of input channels (%d) must be evenly divisible by the number of "
                             "groups (%d); full input shape %s" % (_lname(self), c, self.groups, input_shape))
        self.kernel = self.add_weight(name="kernel", shape=self.kernel_size + (c // self.groups, self.filters),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer)
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer) if self.use_bias else None
        self.input_spec = InputSpec(ndim=3, axes={-1: c})
        self.built = True

    def _pads(self, t):
        k, s, d = self.kernel_size[0], self.strides[0], self.dilation_rate[0]
        if self.padding == "causal":
            return d * (k - 1), 0
        if self.padding == "same":
            return same_pads(t, k, s, d)
        return 0, 0

    def call(self, inputs):
        x = ag.as_eager(inputs)
        n, t, c = x.shape
        k = self.kernel_size[0]
        if self.padding == "valid" and t < (k - 1) * self.dilation_rate[0] + 1:
            raise ValueError("%s: the input has %d steps, fewer than the dilated kernel size %d with "
                             "padding='valid'" % (_lname(self), t, (k - 1) * self.dilation_rate[0] + 1))
        lo, hi = self._pads(t)
        w = ag.reshape(self.kernel, [1, k, self.kernel.shape[1], self.filters])
        fuse = self.activation is activations.relu
        y = ag.conv2d(_to4(x), w, self.bias, (1, self.strides[0]), [0, 0, lo, hi], (1, self.dilation_rate[0]),
                      self.groups, "relu" if fuse else "none")
        y = _from4(y)
        return self._pcn_activity(y if fuse else self.activation(y))

    def compute_output_shape(self, input_shape):
        n, t, _ = input_shape
        return (n, out_length(t, self.kernel_size[0], self.padding, self.strides[0], self.dilation_rate[0]),
                self.filters)

    def get_config(self):
        c = super().get_config()
        c.update(filters=self.filters, kernel_size=self.kernel_size, strides=self.strides, padding=self.padding,
                 data_format=self.data_format, dilation_rate=self.dilation_rate, groups=self.groups,
                 activation=act_ser(self.activation), use_bias=self.use_bias,
                 kernel_initializer=init_ser(self.kernel_initializer),
                 bias_initializer=init_ser(self.bias_initializer),
                 kernel_regularizer=reg_ser(self.kernel_regularizer), bias_regularizer=reg_ser(self.bias_regularizer),
                 kernel_constraint=None, bias_constraint=None)
        return self._pcn_activity_config(c)


Convolution1D = Conv1D


class _Depthwise1D(ActivityRegMixin, Layer):
    """Shared by DepthwiseConv1D and SeparableConv1D: a per-channel (grouped) 1-D
    convolution with depth_multiplier outputs per channel, output channel
    c*depth_multiplier + m (TF order)."""
    _pcn_int_input = False
    _separable = False

    def _init_common(self, kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier, activation,
                     use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer, bias_regularizer,
                     activity_regularizer):
        self.data_format = data_format_arg(data_format, self)
        self.kernel_size = ntuple(kernel_size, 1, "kernel_size", self)
        self.strides = ntuple(strides, 1, "strides", self)
        self.dilation_rate = ntuple(dilation_rate, 1, "dilation_rate", self)
        self.padding = padding_arg(padding, self)
        if isinstance(depth_multiplier, bool) or int(depth_multiplier) <= 0:
            raise ValueError("%s: depth_multiplier must be a positive integer, got %r"
                             % (_lname(self), depth_multiplier))
        self.depth_multiplier = int(depth_multiplier)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.depthwise_regularizer = reg_get(depthwise_regularizer)
        self.bias_regularizer = reg_get(bias_regularizer)
        self._pcn_set_activity(activity_regularizer)
        self.input_spec = InputSpec(ndim=3)

    def _depthwise(self, x, kernel):
        n, t, c = x.shape
        k = self.kernel_size[0]
        if self.padding == "valid" and t < (k - 1) * self.dilation_rate[0] + 1:
            raise ValueError("%s: the input has %d steps, fewer than the dilated kernel size %d with "
                             "padding='valid'" % (_lname(self), t, (k - 1) * self.dilation_rate[0] + 1))
        lo, hi = same_pads(t, k, self.strides[0], self.dilation_rate[0]) if self.padding == "same" else (0, 0)
        w = ag.reshape(kernel, [1, k, 1, c * self.depth_multiplier])
        return ag.conv2d(_to4(x), w, None, (1, self.strides[0]), [0, 0, lo, hi], (1, self.dilation_rate[0]), c,
                         "none")

    def _out_len(self, t):
        return out_length(t, self.kernel_size[0], self.padding, self.strides[0], self.dilation_rate[0])

    def _config(self, c):
        c.update(depth_multiplier=self.depth_multiplier, kernel_size=self.kernel_size, strides=self.strides,
                 padding=self.padding, data_format=self.data_format, dilation_rate=self.dilation_rate,
                 activation=act_ser(self.activation), use_bias=self.use_bias,
                 depthwise_initializer=init_ser(self.depthwise_initializer),
                 bias_initializer=init_ser(self.bias_initializer),
                 depthwise_regularizer=reg_ser(self.depthwise_regularizer),
                 bias_regularizer=reg_ser(self.bias_regularizer), depthwise_constraint=None, bias_constraint=None)
        return self._pcn_activity_config(c)


class DepthwiseConv1D(_Depthwise1D):
    """Per-channel 1-D convolution; kernel (k, in, depth_multiplier) (named
    "kernel", as Keras 3), bias (in*depth_multiplier,)."""

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        no_constraints(self, depthwise_constraint=depthwise_constraint, bias_constraint=bias_constraint)
        self._init_common(kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier, activation,
                          use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer,
                          bias_regularizer, activity_regularizer)

    def build(self, input_shape):
        c = input_shape[-1]
        if c is None:
            raise ValueError("%s: the channel dimension of the inputs must be defined" % _lname(self))
        self.kernel = self.add_weight(name="kernel", shape=self.kernel_size + (c, self.depth_multiplier),
                                      initializer=self.depthwise_initializer, regularizer=self.depthwise_regularizer)
        self.bias = self.add_weight(name="bias", shape=(c * self.depth_multiplier,),
                                    initializer=self.bias_initializer, regularizer=self.bias_regularizer) \
            if self.use_bias else None
        self.input_spec = InputSpec(ndim=3, axes={-1: c})
        self.built = True

    def call(self, inputs):
        y = _from4(self._depthwise(ag.as_eager(inputs), self.kernel))
        if self.bias is not None:
            y = ag.bias_add(y, self.bias)
        return self._pcn_activity(self.activation(y))

    def compute_output_shape(self, input_shape):
        n, t, c = input_shape
        return (n, self._out_len(t), None if c is None else c * self.depth_multiplier)

    def get_config(self):
        return self._config(super().get_config())


class SeparableConv1D(_Depthwise1D):
    """Depthwise 1-D convolution (depthwise_kernel (k, in, depth_multiplier)) then a
    pointwise one (pointwise_kernel (1, in*depth_multiplier, filters)) plus bias
    (filters,). Weights in Keras order: depthwise, pointwise, bias."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        no_constraints(self, depthwise_constraint=depthwise_constraint, pointwise_constraint=pointwise_constraint,
                       bias_constraint=bias_constraint)
        if isinstance(filters, bool) or int(filters) <= 0:
            raise ValueError("%s: invalid value for argument `filters`; expected a strictly positive value, "
                             "received filters=%r" % (_lname(self), filters))
        self.filters = int(filters)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.pointwise_regularizer = reg_get(pointwise_regularizer)
        self._init_common(kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier, activation,
                          use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer,
                          bias_regularizer, activity_regularizer)

    def build(self, input_shape):
        c = input_shape[-1]
        if c is None:
            raise ValueError("%s: the channel dimension of the inputs must be defined" % _lname(self))
        dm = self.depth_multiplier
        self.depthwise_kernel = self.add_weight(name="depthwise_kernel", shape=self.kernel_size + (c, dm),
                                                initializer=self.depthwise_initializer,
                                                regularizer=self.depthwise_regularizer)
        self.pointwise_kernel = self.add_weight(name="pointwise_kernel", shape=(1, c * dm, self.filters),
                                                initializer=self.pointwise_initializer,
                                                regularizer=self.pointwise_regularizer)
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer) if self.use_bias else None
        self.input_spec = InputSpec(ndim=3, axes={-1: c})
        self.built = True

    def call(self, inputs):
        y = self._depthwise(ag.as_eager(inputs), self.depthwise_kernel)
        pw = ag.reshape(self.pointwise_kernel, [1] + list(self.pointwise_kernel.shape))
        fuse = self.activation is activations.relu
        y = _from4(ag.conv2d(y, pw, self.bias, (1, 1), "valid", (1, 1), 1, "relu" if fuse else "none"))
        return self._pcn_activity(y if fuse else self.activation(y))

    def compute_output_shape(self, input_shape):
        n, t, _ = input_shape
        return (n, self._out_len(t), self.filters)

    def get_config(self):
        c = self._config(super().get_config())
        c.update(filters=self.filters, pointwise_initializer=init_ser(self.pointwise_initializer),
                 pointwise_regularizer=reg_ser(self.pointwise_regularizer), pointwise_constraint=None)
        return c


SeparableConvolution1D = SeparableConv1D


# --------------------------------------------------------------------------
# pooling
# --------------------------------------------------------------------------
class _Pool1D(Layer):
    _pcn_int_input = False
    _mode = "max"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format_arg(data_format, self)
        self.pool_size = ntuple(pool_size, 1, "pool_size", self)
        self.strides = ntuple(strides if strides is not None else self.pool_size, 1, "strides", self)
        self.padding = padding_arg(padding, self)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        x = ag.as_eager(inputs)
        if self.padding == "valid" and x.shape[1] < self.pool_size[0]:
            raise ValueError("%s: the input has %d steps, fewer than pool_size %d with padding='valid'"
                             % (_lname(self), x.shape[1], self.pool_size[0]))
        y = ag.pool2d(_to4(x), self._mode, (1, self.pool_size[0], 1), (1, self.strides[0], 1), self.padding)
        return _from4(y)

    def compute_output_shape(self, input_shape):
        n, t, c = input_shape
        return (n, out_length(t, self.pool_size[0], self.padding, self.strides[0]), c)

    def get_config(self):
        c = super().get_config()
        c.update(pool_size=self.pool_size, padding=self.padding, strides=self.strides, data_format=self.data_format)
        return c


class MaxPooling1D(_Pool1D):
    """Max over windows of pool_size steps (default 2), strides default pool_size."""
    _mode = "max"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling1D(_Pool1D):
    """Mean over windows of pool_size steps; with padding='same' a window at the
    edge averages only its real (non-pad) steps, as TensorFlow."""
    _mode = "avg"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


MaxPool1D = MaxPooling1D
AvgPool1D = AveragePooling1D


class _GlobalPool1D(Layer):
    _pcn_int_input = False
    _mode = "avg"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format_arg(data_format, self)
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs, mask=None):
        if mask is None:  # Keras's implicit mask (a Masking layer's output)
            mask = getattr(inputs, "_keras_mask", None)
        x = ag.as_eager(inputs)
        n, t, c = x.shape
        if t == 0:
            raise ValueError("%s: the input has 0 steps" % _lname(self))
        if mask is not None and self._mode == "avg":
            # Keras: the mean over the unmasked steps, sum(x * m) / sum(m) (NaN for an all-masked row)
            m = mask.numpy() if isinstance(mask, (ag.EagerTensor, _C.Tensor)) else np.asarray(mask)
            if m.shape != (n, t):
                raise ValueError("%s: mask must have shape (batch, steps) = %s, got %s" % (_lname(self), (n, t),
                                                                                          m.shape))
            m = (m != 0).astype(np.float32)
            cnt = m.sum(1, keepdims=True)
            with np.errstate(divide="ignore", invalid="ignore"):
                w = (m / cnt)[:, :, None]
            wt = ag.EagerTensor(_C.tensor(np.ascontiguousarray(w), device=x.device))
            return ag.reduce("sum", ag.multiply(x, wt), [1], self.keepdims)
        y = ag.global_pool(_to4(x), self._mode)  # GlobalMaxPooling1D ignores a mask, as Keras
        if self.keepdims:
            y = ag.reshape(y, [n, 1, c])
        return y

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, input_shape[2]) if self.keepdims else (input_shape[0], input_shape[2])

    def get_config(self):
        c = super().get_config()
        c.update(data_format=self.data_format, keepdims=self.keepdims)
        return c


class GlobalAveragePooling1D(_GlobalPool1D):
    """Mean over the steps axis: (N, T, C) -> (N, C) (or (N, 1, C) with keepdims)."""
    _mode = "avg"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.supports_masking = True  # it consumes the mask (mean over the unmasked steps)

    def compute_mask(self, inputs, mask=None):
        return None


class GlobalMaxPooling1D(_GlobalPool1D):
    """Max over the steps axis: (N, T, C) -> (N, C) (or (N, 1, C) with keepdims)."""
    _mode = "max"


GlobalAvgPool1D = GlobalAveragePooling1D
GlobalMaxPool1D = GlobalMaxPooling1D
