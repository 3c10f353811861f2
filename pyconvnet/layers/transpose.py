"""Conv2DTranspose and SeparableConv2D (NHWC), composed from the conv2d kernels.

Conv2DTranspose is the gradient of a convolution w.r.t. its input: its forward
is `conv2d_backward_input`, its input gradient is `conv2d_forward` and its
kernel gradient `conv2d_backward_filter` with the roles of dy and x swapped.
Kernel layout (kh, kw, filters, in_channels), as Keras.
"""
from .. import _C
from .. import activations
from .. import autograd as ag
from .. import initializers
from .base import Layer, InputSpec
from .conv1d import (ActivityRegMixin, _lname, act_ser, data_format_arg, init_ser, no_constraints, ntuple,
                     out_length, padding_arg, reg_get, reg_ser)

__all__ = ["Conv2DTranspose", "Convolution2DTranspose", "Conv1DTranspose", "Convolution1DTranspose",
           "SeparableConv2D", "SeparableConvolution2D", "conv2d_transpose"]


def transpose_out_length(n, k, stride, padding, output_padding=None, dilation=1):
    """Keras's (TF's) output length of a transposed convolution."""
    if n is None:
        return None
    ke = (k - 1) * dilation + 1
    if padding == "valid":
        op = max(ke, stride) - ke if output_padding is None else output_padding
        return (n - 1) * stride + ke + op
    if output_padding is None:
        return n * stride
    return (n - 1) * stride + ke % 2 + output_padding


def transpose_pads(n, n_out, k, stride, padding, dilation=1):
    """(before, after) padding of the forward convolution n_out -> n that this
    transposed convolution inverts (TF: 'valid' none, 'same' centred with the
    extra pad after)."""
    if padding == "valid":
        return 0, 0
    ke = (k - 1) * dilation + 1
    total = max((n - 1) * stride + ke - n_out, 0)
    return total // 2, total - total // 2


def conv2d_transpose(x, w, out_shape, strides, pads, dilations):
    """y (N, Ho, Wo, F) = conv2d_transpose(x (N, H, W, C), w (kh, kw, F, C)):
    the input gradient of conv2d(y; w) with explicit pads [top, bottom, left,
    right]. Differentiable in x and w (recorded by the tape)."""
    x = ag.as_eager(x)
    w = ag.as_eager(w, x)
    xv, wv = x.value, w.value
    strides, dilations, pads = tuple(strides), tuple(dilations), [int(p) for p in pads]
    y = ag.EagerTensor(_C.conv2d_backward_input(xv, wv, list(out_shape), strides, pads, dilations, 1))
    if ag.recording():
        ws = list(wv.shape)

        def bw(g, needs):
            dx = _C.conv2d_forward(g, wv, None, strides, pads, dilations, 1, "none") if needs[0] else None
            dw = _C.conv2d_backward_filter(xv, g, ws, strides, pads, dilations, 1) if needs[1] else None
            return dx, dw
        ag._record([x, w], [y], bw)
    return y


class _ConvTranspose(ActivityRegMixin, Layer):
    """Transposed convolution of rank 1 or 2 (1-D runs as 2-D on (N, 1, T, C))."""
    _pcn_int_input = False
    _rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format_arg(data_format, self)
        if isinstance(filters, bool) or int(filters) <= 0:
            raise ValueError("%s: invalid value for argument `filters`; expected a strictly positive value, "
                             "received filters=%r" % (_lname(self), filters))
        self.filters = int(filters)
        r = self._rank
        self.kernel_size = ntuple(kernel_size, r, "kernel_size", self)
        self.strides = ntuple(strides, r, "strides", self)
        self.dilation_rate = ntuple(dilation_rate, r, "dilation_rate", self)
        self.padding = padding_arg(padding, self)
        self.output_padding = None if output_padding is None else \
            ntuple(output_padding, r, "output_padding", self, allow_zero=True)
        if self.output_padding is not None:
            for i, (op, s) in enumerate(zip(self.output_padding, self.strides)):
                if op >= s:
                    raise ValueError("%s: `output_padding` must be strictly less than `strides` for all dimensions; "
                                     "at dimension %d output_padding is %d but strides is %d"
                                     % (_lname(self), i, op, s))
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError("%s: `strides > 1` not supported in conjunction with `dilation_rate > 1`, received "
                             "strides=%s and dilation_rate=%s" % (_lname(self), self.strides, self.dilation_rate))
        no_constraints(self, kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = reg_get(kernel_regularizer)
        self.bias_regularizer = reg_get(bias_regularizer)
        self._pcn_set_activity(activity_regularizer)
        self.input_spec = InputSpec(ndim=self._rank + 2)

    def build(self, input_shape):
        c = input_shape[-1]
        if c is None:
            raise ValueError("%s: the channel dimension of the inputs must be defined" % _lname(self))
        self.kernel = self.add_weight(name="kernel", shape=self.kernel_size + (self.filters, c),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer)
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer) if self.use_bias else None
        self.input_spec = InputSpec(ndim=self._rank + 2, axes={-1: c})
        self.built = True

    def _out(self, i, n):
        op = None if self.output_padding is None else self.output_padding[i]
        return transpose_out_length(n, self.kernel_size[i], self.strides[i], self.padding, op, self.dilation_rate[i])

    def call(self, inputs):
        x = ag.as_eager(inputs)
        sp = x.shape[1:-1]
        outs = [self._out(i, a) for i, a in enumerate(sp)]
        pads = []
        for i, (a, b) in enumerate(zip(sp, outs)):
            lo, hi = transpose_pads(a, b, self.kernel_size[i], self.strides[i], self.padding, self.dilation_rate[i])
            if out_length(b + lo + hi, self.kernel_size[i], "valid", self.strides[i], self.dilation_rate[i]) != a:
                raise ValueError("%s: kernel_size=%s, strides=%s, padding=%r, output_padding=%s give no convolution "
                                 "whose transpose maps %d to %d steps" % (_lname(self), self.kernel_size,
                                                                          self.strides, self.padding,
                                                                          self.output_padding, a, b))
            pads += [lo, hi]
        n, c = x.shape[0], x.shape[-1]
        if self._rank == 1:  # (N, T, C) as (N, 1, T, C), kernel (k, F, C) as (1, k, F, C)
            y = conv2d_transpose(ag.reshape(x, [n, 1, sp[0], c]),
                                 ag.reshape(self.kernel, [1, self.kernel_size[0], self.filters, c]),
                                 (n, 1, outs[0], self.filters), (1,) + self.strides, [0, 0] + pads,
                                 (1,) + self.dilation_rate)
            y = ag.reshape(y, [n, outs[0], self.filters])
        else:
            y = conv2d_transpose(x, self.kernel, (n,) + tuple(outs) + (self.filters,), self.strides, pads,
                                 self.dilation_rate)
        if self.bias is not None:
            y = ag.bias_add(y, self.bias)
        return self._pcn_activity(self.activation(y))

    def compute_output_shape(self, input_shape):
        sp = input_shape[1:-1]
        return (input_shape[0],) + tuple(self._out(i, a) for i, a in enumerate(sp)) + (self.filters,)

    def get_config(self):
        c = super().get_config()
        c.update(filters=self.filters, kernel_size=self.kernel_size, strides=self.strides, padding=self.padding,
                 output_padding=self.output_padding, data_format=self.data_format, dilation_rate=self.dilation_rate,
                 activation=act_ser(self.activation), use_bias=self.use_bias,
                 kernel_initializer=init_ser(self.kernel_initializer),
                 bias_initializer=init_ser(self.bias_initializer),
                 kernel_regularizer=reg_ser(self.kernel_regularizer), bias_regularizer=reg_ser(self.bias_regularizer),
                 kernel_constraint=None, bias_constraint=None)
        return self._pcn_activity_config(c)


class Conv2DTranspose(_ConvTranspose):
    """Transposed 2-D convolution ("deconvolution") over NHWC inputs; kernel
    (kh, kw, filters, in_channels), bias (filters,). Output size per spatial axis:
    'valid' (n-1)*s + max(k, s), 'same' n*s (output_padding changes both, as Keras)."""
    _rank = 2


class Conv1DTranspose(_ConvTranspose):
    """Transposed 1-D convolution over (batch, steps, channels); kernel
    (k, filters, in_channels), bias (filters,); output lengths as Conv2DTranspose."""
    _rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, output_padding, data_format, dilation_rate,
                         **kwargs)


Convolution2DTranspose = Conv2DTranspose
Convolution1DTranspose = Conv1DTranspose


class SeparableConv2D(ActivityRegMixin, Layer):
    """Depthwise conv (depthwise_kernel (kh, kw, in, depth_multiplier); strides,
    padding, dilation) then a 1x1 conv (pointwise_kernel (1, 1, in*dm, filters))
    plus bias (filters,). Weights in Keras order: depthwise, pointwise, bias."""
    _pcn_int_input = False

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format_arg(data_format, self)
        if isinstance(filters, bool) or int(filters) <= 0:
            raise ValueError("%s: invalid value for argument `filters`; expected a strictly positive value, "
                             "received filters=%r" % (_lname(self), filters))
        self.filters = int(filters)
        self.kernel_size = ntuple(kernel_size, 2, "kernel_size", self)
        self.strides = ntuple(strides, 2, "strides", self)
        self.dilation_rate = ntuple(dilation_rate, 2, "dilation_rate", self)
        self.padding = padding_arg(padding, self)
        if isinstance(depth_multiplier, bool) or int(depth_multiplier) <= 0:
            raise ValueError("%s: depth_multiplier must be a positive integer, got %r"
                             % (_lname(self), depth_multiplier))
        self.depth_multiplier = int(depth_multiplier)  # Keras accepts strides > 1 with dilation > 1 here
        no_constraints(self, depthwise_constraint=depthwise_constraint, pointwise_constraint=pointwise_constraint,
                       bias_constraint=bias_constraint)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.depthwise_regularizer = reg_get(depthwise_regularizer)
        self.pointwise_regularizer = reg_get(pointwise_regularizer)
        self.bias_regularizer = reg_get(bias_regularizer)
        self._pcn_set_activity(activity_regularizer)
        self.input_spec = InputSpec(ndim=4)

    def build(self, input_shape):
        c = input_shape[-1]
        if c is None:
            raise ValueError("%s: the channel dimension of the inputs must be defined" % _lname(self))
        dm = self.depth_multiplier
        self.depthwise_kernel = self.add_weight(name="depthwise_kernel", shape=self.kernel_size + (c, dm),
                                                initializer=self.depthwise_initializer,
                                                regularizer=self.depthwise_regularizer)
        self.pointwise_kernel = self.add_weight(name="pointwise_kernel", shape=(1, 1, c * dm, self.filters),
                                                initializer=self.pointwise_initializer,
                                                regularizer=self.pointwise_regularizer)
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer) if self.use_bias else None
        self._pcn_c = c
        self.input_spec = InputSpec(ndim=4, axes={-1: c})
        self.built = True

    def call(self, inputs):
        kh, kw = self.kernel_size
        c, dm = self._pcn_c, self.depth_multiplier
        dw = ag.reshape(self.depthwise_kernel, [kh, kw, 1, c * dm])
        y = ag.conv2d(inputs, dw, None, self.strides, self.padding, self.dilation_rate, c, "none")
        fuse = self.activation is activations.relu
        y = ag.conv2d(y, self.pointwise_kernel, self.bias, (1, 1), "valid", (1, 1), 1, "relu" if fuse else "none")
        return self._pcn_activity(y if fuse else self.activation(y))

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        return (n, out_length(h, self.kernel_size[0], self.padding, self.strides[0], self.dilation_rate[0]),
                out_length(w, self.kernel_size[1], self.padding, self.strides[1], self.dilation_rate[1]),
                self.filters)

    def get_config(self):
        c = super().get_config()
        c.update(depth_multiplier=self.depth_multiplier, filters=self.filters, kernel_size=self.kernel_size,
                 strides=self.strides, padding=self.padding, data_format=self.data_format,
                 dilation_rate=self.dilation_rate, activation=act_ser(self.activation), use_bias=self.use_bias,
                 depthwise_initializer=init_ser(self.depthwise_initializer),
                 pointwise_initializer=init_ser(self.pointwise_initializer),
                 bias_initializer=init_ser(self.bias_initializer),
                 depthwise_regularizer=reg_ser(self.depthwise_regularizer),
                 pointwise_regularizer=reg_ser(self.pointwise_regularizer),
                 bias_regularizer=reg_ser(self.bias_regularizer), depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None)
        return self._pcn_activity_config(c)


SeparableConvolution2D = SeparableConv2D
