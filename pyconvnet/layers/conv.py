"""Convolution layers: Conv2D (groups, dilation), DepthwiseConv2D. NHWC, HWIO."""
from .. import activations
from .. import autograd as ag
from .. import constraints
from .. import initializers
from .. import regularizers
from .base import Layer, InputSpec
from .core import _act_config, _init_config, _reg_config, _con_config, _positive_int, _WeightExtras

__all__ = ["Conv2D", "Convolution2D", "DepthwiseConv2D", "conv_output_length", "normalize_tuple"]


def normalize_tuple(v, n, what, layer):
    if isinstance(v, int):
        v = (v,) * n
    v = tuple(int(i) for i in v)
    if len(v) != n or any(i <= 0 for i in v):
        raise ValueError("%s '%s': %s must be a positive int or a tuple of %d positive ints, got %r"
                         % (type(layer).__name__, layer.name, what, n, v))
    return v


def conv_output_length(n, k, padding, stride, dilation=1):
    if n is None:
        return None
    ke = (k - 1) * dilation + 1
    if padding == "same":
        return -(-n // stride)
    return max(0, (n - ke) // stride + 1) if n >= ke else 0


def _data_format(df, layer):
    """Keras's standardize_data_format: None -> channels_last (this package's image_data_format)."""
    if df is None:
        return "channels_last"
    d = str(df).lower()
    if d not in ("channels_last", "channels_first"):
        raise ValueError("The `data_format` argument must be one of {'channels_first', 'channels_last'}. "
                         "Received: data_format=%r (%s '%s')" % (df, type(layer).__name__, layer.name))
    return d


def _nchw_to_nhwc(x):
    return ag.transpose(x, [0, 2, 3, 1])


def _nhwc_to_nchw(y):
    return ag.transpose(y, [0, 3, 1, 2])


def _shape_to_last(s):
    return (s[0], s[2], s[3], s[1])


def _shape_to_first(s):
    return (s[0], s[3], s[1], s[2])


def _padding(p, layer):
    if not isinstance(p, str) or p.lower() not in ("valid", "same"):
        raise ValueError("%s '%s': padding must be 'valid' or 'same', got %r" % (type(layer).__name__, layer.name, p))
    return p.lower()


class Conv2D(_WeightExtras, Layer):
    """2-D convolution over NHWC inputs; kernel (kh, kw, in/groups, filters)."""
    _pcn_int_input = False

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format, self)  # channels_first runs through NHWC transposes
        self.filters = _positive_int(filters, "filters", self)
        self.kernel_size = normalize_tuple(kernel_size, 2, "kernel_size", self)
        self.strides = normalize_tuple(strides, 2, "strides", self)
        self.dilation_rate = normalize_tuple(dilation_rate, 2, "dilation_rate", self)
        self.padding = _padding(padding, self)
        self.groups = int(groups)
        if self.groups <= 0 or self.filters % self.groups:
            raise ValueError("Conv2D '%s': filters (%d) must be divisible by groups (%d)"
                             % (self.name, self.filters, self.groups))
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError("Conv2D '%s': strides > 1 not supported in conjunction with dilation_rate > 1"
                             % self.name)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self._pcn_init_extras(activity_regularizer)
        self.input_spec = InputSpec(ndim=4)

    def build(self, input_shape):
        c = input_shape[1] if self.data_format == "channels_first" else input_shape[-1]
        if c is None:
            raise ValueError("Conv2D '%s': the channel dimension of the inputs must be defined" % self.name)
        if c % self.groups:
            raise ValueError("Conv2D '%s': input channels (%d) must be divisible by groups (%d)"
                             % (self.name, c, self.groups))
        self.kernel = self.add_weight(name="kernel", shape=self.kernel_size + (c // self.groups, self.filters),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer)
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer) if self.use_bias else None
        self._pcn_constrain(self.kernel, self.kernel_constraint)
        self._pcn_constrain(self.bias, self.bias_constraint)
        self.input_spec = InputSpec(ndim=4, axes={1 if self.data_format == "channels_first" else -1: c})
        self.built = True

    def call(self, inputs, training=None):
        self._pcn_before_call(training)
        cf = self.data_format == "channels_first"
        x = _nchw_to_nhwc(inputs) if cf else inputs
        fuse = self.activation is activations.relu
        y = ag.conv2d(x, self.kernel, self.bias, self.strides, self.padding, self.dilation_rate, self.groups,
                      "relu" if fuse else "none")
        y = y if fuse else self.activation(y)
        return self._pcn_after_call(_nhwc_to_nchw(y) if cf else y)

    def compute_output_shape(self, input_shape):
        cf = self.data_format == "channels_first"
        n, h, w, _ = _shape_to_last(input_shape) if cf else input_shape
        out = (n, conv_output_length(h, self.kernel_size[0], self.padding, self.strides[0], self.dilation_rate[0]),
               conv_output_length(w, self.kernel_size[1], self.padding, self.strides[1], self.dilation_rate[1]),
               self.filters)
        return _shape_to_first(out) if cf else out

    def get_config(self):
        c = super().get_config()
        c.update(filters=self.filters, kernel_size=list(self.kernel_size), strides=list(self.strides),
                 padding=self.padding, data_format=self.data_format, dilation_rate=list(self.dilation_rate),
                 groups=self.groups, activation=_act_config(self.activation), use_bias=self.use_bias,
                 kernel_initializer=_init_config(self.kernel_initializer),
                 bias_initializer=_init_config(self.bias_initializer),
                 kernel_regularizer=_reg_config(self.kernel_regularizer),
                 bias_regularizer=_reg_config(self.bias_regularizer),
                 activity_regularizer=_reg_config(self.activity_regularizer),
                 kernel_constraint=_con_config(self.kernel_constraint),
                 bias_constraint=_con_config(self.bias_constraint))
        return c


Convolution2D = Conv2D


class DepthwiseConv2D(_WeightExtras, Layer):
    """Per-channel convolution; depthwise_kernel (kh, kw, in, depth_multiplier),
    output channel c*depth_multiplier + m (TF order). Runs as a grouped conv."""
    _pcn_int_input = False

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format, self)  # channels_first runs through NHWC transposes
        self.kernel_size = normalize_tuple(kernel_size, 2, "kernel_size", self)
        self.strides = normalize_tuple(strides, 2, "strides", self)
        self.dilation_rate = normalize_tuple(dilation_rate, 2, "dilation_rate", self)
        self.padding = _padding(padding, self)
        self.depth_multiplier = int(depth_multiplier)
        if self.depth_multiplier <= 0:
            raise ValueError("DepthwiseConv2D '%s': depth_multiplier must be positive" % self.name)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.depthwise_constraint = constraints.get(depthwise_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self._pcn_init_extras(activity_regularizer)
        self.input_spec = InputSpec(ndim=4)

    def build(self, input_shape):
        c = input_shape[1] if self.data_format == "channels_first" else input_shape[-1]
        if c is None:
            raise ValueError("DepthwiseConv2D '%s': the channel dimension of the inputs must be defined" % self.name)
        self._pcn_c = c
        self.depthwise_kernel = self.add_weight(name="kernel",  # Keras 3 names it "kernel"
                                                shape=self.kernel_size + (c, self.depth_multiplier),
                                                initializer=self.depthwise_initializer,
                                                regularizer=self.depthwise_regularizer)
        self.bias = self.add_weight(name="bias", shape=(c * self.depth_multiplier,),
                                    initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer) if self.use_bias else None
        self._pcn_constrain(self.depthwise_kernel, self.depthwise_constraint)
        self._pcn_constrain(self.bias, self.bias_constraint)
        self.kernel = self.depthwise_kernel
        self.input_spec = InputSpec(ndim=4, axes={1 if self.data_format == "channels_first" else -1: c})
        self.built = True

    def call(self, inputs, training=None):
        self._pcn_before_call(training)
        kh, kw = self.kernel_size
        c = self._pcn_c
        w = ag.reshape(self.depthwise_kernel, [kh, kw, 1, c * self.depth_multiplier])
        fuse = self.activation is activations.relu
        cf = self.data_format == "channels_first"
        x = _nchw_to_nhwc(inputs) if cf else inputs
        y = ag.conv2d(x, w, self.bias, self.strides, self.padding, self.dilation_rate, c,
                      "relu" if fuse else "none")
        y = y if fuse else self.activation(y)
        return self._pcn_after_call(_nhwc_to_nchw(y) if cf else y)

    def compute_output_shape(self, input_shape):
        cf = self.data_format == "channels_first"
        n, h, w, c = _shape_to_last(input_shape) if cf else input_shape
        out = (n, conv_output_length(h, self.kernel_size[0], self.padding, self.strides[0], self.dilation_rate[0]),
               conv_output_length(w, self.kernel_size[1], self.padding, self.strides[1], self.dilation_rate[1]),
               None if c is None else c * self.depth_multiplier)
        return _shape_to_first(out) if cf else out

    def get_config(self):
        c = super().get_config()
        c.update(kernel_size=list(self.kernel_size), strides=list(self.strides), padding=self.padding,
                 depth_multiplier=self.depth_multiplier, data_format=self.data_format,
                 dilation_rate=list(self.dilation_rate), activation=_act_config(self.activation),
                 use_bias=self.use_bias, depthwise_initializer=_init_config(self.depthwise_initializer),
                 bias_initializer=_init_config(self.bias_initializer),
                 depthwise_regularizer=_reg_config(self.depthwise_regularizer),
                 bias_regularizer=_reg_config(self.bias_regularizer),
                 activity_regularizer=_reg_config(self.activity_regularizer),
                 depthwise_constraint=_con_config(self.depthwise_constraint),
                 bias_constraint=_con_config(self.bias_constraint))
        return c
