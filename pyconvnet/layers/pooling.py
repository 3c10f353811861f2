"""Pooling layers (NHWC): Max/Average 2-D pooling and global pooling."""
from .. import autograd as ag
from .base import Layer, InputSpec
from .conv import normalize_tuple, conv_output_length, _padding

__all__ = ["MaxPooling2D", "MaxPool2D", "AveragePooling2D", "AvgPool2D", "GlobalAveragePooling2D",
           "GlobalMaxPooling2D", "GlobalAvgPool2D", "GlobalMaxPool2D"]


class _Pool2D(Layer):
    _pcn_int_input = False
    _mode = "max"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise NotImplementedError("%s '%s': only channels_last is supported" % (type(self).__name__, self.name))
        self.pool_size = normalize_tuple(pool_size, 2, "pool_size", self)
        self.strides = normalize_tuple(strides if strides is not None else self.pool_size, 2, "strides", self)
        self.padding = _padding(padding, self)
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        return ag.pool2d(inputs, self._mode, self.pool_size + (1,), self.strides + (1,), self.padding)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (n, conv_output_length(h, self.pool_size[0], self.padding, self.strides[0]),
                conv_output_length(w, self.pool_size[1], self.padding, self.strides[1]), c)

    def get_config(self):
        c = super().get_config()
        c.update(pool_size=list(self.pool_size), strides=list(self.strides), padding=self.padding)
        return c


class MaxPooling2D(_Pool2D):
    _mode = "max"


class AveragePooling2D(_Pool2D):
    _mode = "avg"


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D


class _GlobalPool2D(Layer):
    _pcn_int_input = False
    _mode = "avg"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise NotImplementedError("%s '%s': only channels_last is supported" % (type(self).__name__, self.name))
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        y = ag.global_pool(inputs, self._mode)
        if self.keepdims:
            y = ag.reshape(y, [y.shape[0], 1, 1, y.shape[1]])
        return y

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, 1, input_shape[3]) if self.keepdims else (input_shape[0], input_shape[3])

    def get_config(self):
        c = super().get_config()
        c["keepdims"] = self.keepdims
        return c


class GlobalAveragePooling2D(_GlobalPool2D):
    _mode = "avg"


class GlobalMaxPooling2D(_GlobalPool2D):
    _mode = "max"


GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D
