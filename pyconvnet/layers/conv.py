"""Convolution layers: Conv2D (groups, dilation), DepthwiseConv2D. NHWC, HWIO."""
from .. import activations
from .. import autograd as ag
from .. import initializers
from .base import Layer, InputSpec
from .core import _act_config, _init_config

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


def _padding(p, layer):
    if not isinstance(p, str) or p.lower() not in ("valid", "same"):
        raise ValueError("%s '%s': padding must be 'valid' or 'same', got %r" % (type(layer).__name__, layer.name, p))
    return p.lower()


class Conv2D(Layer):
    """2-D convolution over NHWC inputs; kernel (kh, kw, in/groups, filters)."""
    _pcn_int_input = False

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise NotImplementedError("Conv2D '%s': only data_format='channels_last' (NHWC) is supported" % self.name)
        if int(filters) <= 0:
            raise ValueError("Conv2D '%s': filters must be positive, got %r" % (self.name, filters))
        self.filters = int(filters)
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
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.input_spec = InputSpec(ndim=4)

    def build(self, input_shape):
        c = input_shape[-1]
        if c is None:
            raise ValueError("Conv2D '%s': the channel dimension of the inputs must be defined" % self.name)
        if c % self.groups:
            raise ValueError("Conv2D '%s': input channels (%d) must be divisible by groups (%d)"
                             % (self.name, c, self.groups))
        self.kernel = self.add_weight(name="kernel", shape=self.kernel_size + (c // self.groups, self.filters),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer)
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer) if self.use_bias else None
        self.input_spec = InputSpec(ndim=4, axes={-1: c})
        self.built = True

    def call(self, inputs):
        fuse = self.activation is activations.relu
        y = ag.conv2d(inputs, self.kernel, self.bias, self.strides, self.padding, self.dilation_rate, self.groups,
                      "relu" if fuse else "none")
        return y if fuse else self.activation(y)

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        return (n, conv_output_length(h, self.kernel_size[0], self.padding, self.strides[0], self.dilation_rate[0]),
                conv_output_length(w, self.kernel_size[1], self.padding, self.strides[1], self.dilation_rate[1]),
                self.filters)

    def get_config(self):
        c = super().get_config()
        c.update(filters=self.filters, kernel_size=list(self.kernel_size), strides=list(self.strides),
                 padding=self.padding, dilation_rate=list(self.dilation_rate), groups=self.groups,
                 activation=_act_config(self.activation), use_bias=self.use_bias,
                 kernel_initializer=_init_config(self.kernel_initializer),
                 bias_initializer=_init_config(self.bias_initializer))
        return c


Convolution2D = Conv2D


class DepthwiseConv2D(Layer):
    """Per-channel convolution; depthwise_kernel (kh, kw, in, depth_multiplier),
    output channel c*depth_multiplier + m (TF order). Runs as a grouped conv."""
    _pcn_int_input = False

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise NotImplementedError("DepthwiseConv2D '%s': only channels_last is supported" % self.name)
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
        self.input_spec = InputSpec(ndim=4)

    def build(self, input_shape):
        c = input_shape[-1]
        self._pcn_c = c
        self.depthwise_kernel = self.add_weight(name="kernel",  # Keras 3 names it "kernel"
                                                shape=self.kernel_size + (c, self.depth_multiplier),
                                                initializer=self.depthwise_initializer)
        self.bias = self.add_weight(name="bias", shape=(c * self.depth_multiplier,),
                                    initializer=self.bias_initializer) if self.use_bias else None
        self.kernel = self.depthwise_kernel
        self.input_spec = InputSpec(ndim=4, axes={-1: c})
        self.built = True

    def call(self, inputs):
        kh, kw = self.kernel_size
        c = self._pcn_c
        w = ag.reshape(self.depthwise_kernel, [kh, kw, 1, c * self.depth_multiplier])
        fuse = self.activation is activations.relu
        y = ag.conv2d(inputs, w, self.bias, self.strides, self.padding, self.dilation_rate, c,
                      "relu" if fuse else "none")
        return y if fuse else self.activation(y)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (n, conv_output_length(h, self.kernel_size[0], self.padding, self.strides[0], self.dilation_rate[0]),
                conv_output_length(w, self.kernel_size[1], self.padding, self.strides[1], self.dilation_rate[1]),
                c * self.depth_multiplier)

    def get_config(self):
        c = super().get_config()
        c.update(kernel_size=list(self.kernel_size), strides=list(self.strides), padding=self.padding,
                 depth_multiplier=self.depth_multiplier, dilation_rate=list(self.dilation_rate),
                 activation=_act_config(self.activation), use_bias=self.use_bias,
                 depthwise_initializer=_init_config(self.depthwise_initializer),
                 bias_initializer=_init_config(self.bias_initializer))
        return c
