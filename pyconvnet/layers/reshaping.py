"""Reshaping layers: Flatten, Reshape, ZeroPadding2D."""
import numpy as np

from .. import autograd as ag
from .base import Layer, InputSpec
from .core import _AnyActivity
from .conv import _data_format, _nchw_to_nhwc, _nhwc_to_nchw

__all__ = ["Flatten", "Reshape", "ZeroPadding2D"]


class Flatten(_AnyActivity, Layer):
    """(batch, ...) -> (batch, prod(...)); channels_first inputs are moved to channels-last order first
    (as Keras does, so a Dense after it sees the same feature order either way)."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format, self)

    def call(self, inputs):
        x = ag.as_eager(inputs)
        if self.data_format == "channels_first" and x.ndim > 2:
            x = ag.transpose(x, [0] + list(range(2, x.ndim)) + [1])
        return ag.reshape(x, [x.shape[0], -1]) if x.ndim != 2 else x

    def get_config(self):
        c = super().get_config()
        c["data_format"] = self.data_format
        return c

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if any(d is None for d in rest) else int(np.prod(rest)))


class Reshape(_AnyActivity, Layer):
    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        if sum(1 for d in self.target_shape if d == -1) > 1:
            raise ValueError("Reshape '%s': at most one -1 in target_shape %s" % (self.name, self.target_shape))

    def _resolve(self, in_shape):
        n = int(np.prod([d for d in in_shape]))
        known = int(np.prod([d for d in self.target_shape if d != -1]))
        if -1 in self.target_shape:
            if known == 0 or n % known:
                raise ValueError("Reshape '%s': cannot reshape input of shape %s to %s"
                                 % (self.name, in_shape, self.target_shape))
            return tuple(n // known if d == -1 else d for d in self.target_shape)
        if known != n:
            raise ValueError("Reshape '%s': total size of input shape %s (%d) != target shape %s (%d)"
                             % (self.name, in_shape, n, self.target_shape, known))
        return self.target_shape

    def call(self, inputs):
        x = ag.as_eager(inputs)
        return ag.reshape(x, [x.shape[0]] + list(self._resolve(x.shape[1:])))

    def compute_output_shape(self, input_shape):
        if any(d is None for d in input_shape[1:]):  # the -1 dimension is unknown (None), as in Keras
            return (input_shape[0],) + tuple(None if d == -1 else d for d in self.target_shape)
        return (input_shape[0],) + self._resolve(input_shape[1:])

    def get_config(self):
        c = super().get_config()
        c["target_shape"] = list(self.target_shape)
        return c


class ZeroPadding2D(_AnyActivity, Layer):
    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format, self)
        try:
            if isinstance(padding, int):
                p = ((padding, padding), (padding, padding))
            elif len(padding) == 2 and all(isinstance(v, int) for v in padding):
                p = ((padding[0], padding[0]), (padding[1], padding[1]))
            else:
                p = tuple(tuple(int(a) for a in v) for v in padding)
        except TypeError:  # e.g. (1, 2, 3): Keras raises ValueError
            p = ()
        if len(p) != 2 or any(len(v) != 2 or min(v) < 0 for v in p):
            raise ValueError("ZeroPadding2D '%s': padding must be an int, 2 ints or 2 pairs of non-negative ints, "
                             "got %r" % (self.name, padding))
        self.padding = p
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        (t, b), (l, r) = self.padding
        if self.data_format == "channels_first":
            return _nhwc_to_nchw(ag.pad2d(_nchw_to_nhwc(inputs), t, b, l, r))
        return ag.pad2d(inputs, t, b, l, r)

    def compute_output_shape(self, input_shape):
        (t, b), (l, r) = self.padding
        if self.data_format == "channels_first":
            n, c, h, w = input_shape
            return (n, c, None if h is None else h + t + b, None if w is None else w + l + r)
        n, h, w, c = input_shape
        return (n, None if h is None else h + t + b, None if w is None else w + l + r, c)

    def get_config(self):
        c = super().get_config()
        c["padding"] = [list(v) for v in self.padding]
        c["data_format"] = self.data_format
        return c
