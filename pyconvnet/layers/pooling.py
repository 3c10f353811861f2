"""Pooling layers (NHWC): Max/Average 2-D pooling and global pooling."""
from .. import _C
from .. import autograd as ag
from .base import Layer, InputSpec
from .core import _AnyActivity
from .conv import (normalize_tuple, conv_output_length, _padding, _data_format, _nchw_to_nhwc, _nhwc_to_nchw,
                   _shape_to_last, _shape_to_first)

__all__ = ["MaxPooling2D", "MaxPool2D", "AveragePooling2D", "AvgPool2D", "GlobalAveragePooling2D",
           "GlobalMaxPooling2D", "GlobalAvgPool2D", "GlobalMaxPool2D"]


class _Pool2D(_AnyActivity, Layer):
    _pcn_int_input = False
    _mode = "max"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.data_format = _data_format(data_format, self)  # channels_first runs through NHWC transposes
        self.pool_size = normalize_tuple(pool_size, 2, "pool_size", self)
        self.strides = normalize_tuple(strides if strides is not None else self.pool_size, 2, "strides", self)
        self.padding = _padding(padding, self)
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        cf = self.data_format == "channels_first"
        x = _nchw_to_nhwc(inputs) if cf else inputs
        y = ag.pool2d(x, self._mode, self.pool_size + (1,), self.strides + (1,), self.padding)
        return _nhwc_to_nchw(y) if cf else y

    def compute_output_shape(self, input_shape):
        cf = self.data_format == "channels_first"
        n, h, w, c = _shape_to_last(input_shape) if cf else input_shape
        out = (n, conv_output_length(h, self.pool_size[0], self.padding, self.strides[0]),
               conv_output_length(w, self.pool_size[1], self.padding, self.strides[1]), c)
        return _shape_to_first(out) if cf else out

    def get_config(self):
        c = super().get_config()
        c.update(pool_size=list(self.pool_size), padding=self.padding, strides=list(self.strides),
                 data_format=self.data_format)
        return c


class MaxPooling2D(_Pool2D):
    _mode = "max"


class AveragePooling2D(_Pool2D):
    _mode = "avg"


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D


def _global_max_split_ties(x):
    """Global max over H, W (NHWC -> (N, C)) whose gradient is shared equally by tied maxima, as Keras's
    (ops.max; TensorFlow's reduce_max gradient too). The kernel's backward gives it all to the first one.
    Forward: the kernel's exact max; gradient: through sum(x * w) with w = [x == max] / count."""
    x = ag.as_eager(x)
    n, _, _, c = x.shape
    y = _C.global_pool_forward(x.value, "max")
    d = _C.unary("abs", _C.binary("sub", x.value, y.reshape([n, 1, 1, c])))
    mask = _C.binary_scalar("sub", _C.unary("sign", d), 1.0, True)  # 1 where x == max, else 0
    w = ag.EagerTensor(_C.binary("div", mask, _C.reduce("sum", mask, [1, 2], True)))
    z = ag.reduce("sum", ag.multiply(x, w), [1, 2])
    return ag.add(z, ag.EagerTensor(_C.binary("sub", y, z.value)))  # + constant: value exactly the max


class _GlobalPool2D(_AnyActivity, Layer):
    _pcn_int_input = False
    _mode = "avg"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format, self)
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        cf = self.data_format == "channels_first"
        x = _nchw_to_nhwc(inputs) if cf else inputs
        if self._mode == "max" and ag.recording():
            y = _global_max_split_ties(x)
        else:
            y = ag.global_pool(x, self._mode)
        if self.keepdims:
            y = ag.reshape(y, [y.shape[0], y.shape[1], 1, 1] if cf else [y.shape[0], 1, 1, y.shape[1]])
        return y

    def compute_output_shape(self, input_shape):
        c = input_shape[1] if self.data_format == "channels_first" else input_shape[3]
        if not self.keepdims:
            return (input_shape[0], c)
        return (input_shape[0], c, 1, 1) if self.data_format == "channels_first" else (input_shape[0], 1, 1, c)

    def get_config(self):
        c = super().get_config()
        c.update(data_format=self.data_format, keepdims=self.keepdims)
        return c


class GlobalAveragePooling2D(_GlobalPool2D):
    _mode = "avg"


class GlobalMaxPooling2D(_GlobalPool2D):
    _mode = "max"


GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D
