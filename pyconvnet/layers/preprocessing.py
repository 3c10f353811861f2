"""Preprocessing layers as Keras 3:

- Normalization: feature-wise standardization with statistics from `adapt(data)`
  (or given as mean/variance): y = (x - mean) / max(sqrt(variance), 1e-7)
  (invert=True: x * max(...) + mean). adapt() is a one-off pass over the data and
  runs in NumPy (float64 accumulation for arrays, Keras's streaming merge for
  iterables of batches); the call runs on the kernels, differentiable in x.
- Resizing, CenterCrop: NHWC image resizing as (H, W) interpolation matrices on
  the GEMM (bilinear with half-pixel centres, nearest as torch 'nearest-exact' /
  TF2), centre crops as slices; batched (N, H, W, C) or one image (H, W, C).
- RandomFlip: in training, each image is flipped with probability 1/2 (one draw
  per image serves both axes in 'horizontal_and_vertical', as Keras).
- RandomContrast: in training, (x - mean_HW) * f + mean_HW per image, f drawn
  uniformly in [1 - lower, 1 + upper], clipped to value_range.
The random layers, called directly (outside a model), default to training=True
as in Keras.
"""
import functools

import numpy as np

from .. import _C
from .. import autograd as ag
from .. import utils
from .base import Layer
from .conv1d import _lname, data_format_arg
from .extra import _bilinear_matrix, _resize_axis

__all__ = ["Normalization", "Resizing", "CenterCrop", "RandomFlip", "RandomContrast"]

_EPS = 1e-7  # keras.backend.epsilon()


def _to_numpy(b):
    """A batch (array, tensor, or an (x, y[, w]) tuple whose x is used) as NumPy."""
    if isinstance(b, tuple):
        b = b[0]
    if isinstance(b, (ag.EagerTensor, _C.Tensor)):
        b = b.numpy()
    return np.asarray(b)


class Normalization(Layer):
    """Standardizes each position of the kept `axis` (default -1, per feature)
    with a mean and variance computed by adapt() over all other axes. Weights
    (when not given mean/variance): mean, variance, count (non-trainable)."""
    _pcn_int_input = False

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            axis = (int(axis),)
        else:
            axis = tuple(int(a) for a in axis)
        self.axis = axis
        self.input_mean, self.input_variance = mean, variance
        self.invert = bool(invert)
        self.supports_masking = True
        self._build_input_shape = None
        if (mean is not None) != (variance is not None):
            raise ValueError("%s: when setting values directly, both `mean` and `variance` must be set. Received: "
                             "mean=%r and variance=%r" % (_lname(self), mean, variance))
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError("%s: `mean` and `variance` must have the same shape, received %s and %s"
                                 % (_lname(self), np.shape(mean), np.shape(variance)))
            if len(np.shape(mean)) > len(self.axis):
                raise ValueError("%s: the rank of `mean` must be less than or equal to the number of axes (%d), "
                                 "received mean shape %s for axis %s" % (_lname(self), len(self.axis),
                                                                          np.shape(mean), self.axis))

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        nd = len(input_shape)
        self._build_input_shape = input_shape
        if any(a < -nd or a >= nd for a in self.axis):
            raise ValueError("%s: all `axis` values must be in the range [-ndim, ndim); received inputs with "
                             "ndim=%d, while axis=%s" % (_lname(self), nd, self.axis))
        self._keep_axis = tuple(sorted(a % nd for a in self.axis))
        for d in self._keep_axis:
            if input_shape[d] is None:
                raise ValueError("%s: all `axis` values to be kept must have a known shape; received axis=%s, "
                                 "inputs.shape=%s" % (_lname(self), self.axis, input_shape))
        self._reduce_axis = tuple(d for d in range(nd) if d not in self._keep_axis)
        self._broadcast_shape = [input_shape[d] if d in self._keep_axis else 1 for d in range(nd)]
        self._mv_shape = tuple(input_shape[d] for d in self._keep_axis)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(name="mean", shape=self._mv_shape, initializer="zeros",
                                              trainable=False)
            self.adapt_variance = self.add_weight(name="variance", shape=self._mv_shape, initializer="ones",
                                                  trainable=False)
            # a scalar (), as Keras's, which adapt never updates
            self.count = self.add_weight(name="count", shape=(), initializer="zeros", trainable=False)
        else:
            mean = np.asarray(self.input_mean, np.float32)
            var = np.asarray(self.input_variance, np.float32)
            if mean.ndim:
                exp = [1] * nd
                for i in range(1, mean.ndim + 1):
                    exp[self._keep_axis[-i]] = mean.shape[-i]
                mean, var = mean.reshape(exp), var.reshape(exp)
            self._const = (np.array(np.broadcast_to(mean, self._broadcast_shape), np.float32, order="C"),
                           np.array(np.broadcast_to(var, self._broadcast_shape), np.float32, order="C"))
        self.built = True

    def adapt(self, data, batch_size=None, steps=None):
        """Compute the mean and variance of `data` (an array/tensor, or an iterable
        of batches: list, generator, PyDataset) over all axes but `axis`."""
        if self.input_mean is not None:
            raise ValueError("%s: adapt() cannot be used when mean and variance were given" % _lname(self))
        if isinstance(data, (np.ndarray, ag.EagerTensor, _C.Tensor)):
            arr = _to_numpy(data)
            batches = None
            shape = arr.shape
        elif hasattr(data, "__getitem__") and hasattr(data, "__len__") and hasattr(data, "on_epoch_end"):
            batches = (data[i] for i in range(len(data)))  # a PyDataset
        elif hasattr(data, "__iter__"):
            batches = iter(data)
        else:
            raise TypeError("%s: adapt() got unsupported data of type %s; pass an array, a tensor or an iterable "
                            "of batches" % (_lname(self), type(data).__name__))
        if batches is not None:
            first = next(batches, None)
            if first is None:
                raise ValueError("%s: adapt() received an empty iterable (no batches)" % _lname(self))
            first = _to_numpy(first)
            shape = first.shape
        if not self.built:
            self.build(shape)
        else:
            for d in self._keep_axis:
                if shape[d] != self._build_input_shape[d]:
                    raise ValueError("%s: the layer was built with input_shape=%s, but adapt() is being called with "
                                     "data with an incompatible shape, data.shape=%s"
                                     % (_lname(self), self._build_input_shape, shape))
        if batches is None:
            a = arr.astype(np.float64)
            mean, var = a.mean(axis=self._reduce_axis), a.var(axis=self._reduce_axis)
        else:
            mean = np.zeros(self._mv_shape)
            var = np.zeros(self._mv_shape)
            total = 0
            b = first
            while b is not None:
                b = b.astype(np.float64)
                for d in self._keep_axis:
                    if b.shape[d] != self._build_input_shape[d]:
                        raise ValueError("%s: adapt() yielded a batch with incompatible shape; expected %s, got %s"
                                         % (_lname(self), self._build_input_shape, b.shape))
                bm, bv = b.mean(axis=self._reduce_axis), b.var(axis=self._reduce_axis)
                cnt = int(np.prod([b.shape[d] for d in self._reduce_axis])) if self._reduce_axis else 1
                total += cnt
                w = cnt / total
                nm = mean * (1 - w) + bm * w
                var = (var + (mean - nm) ** 2) * (1 - w) + (bv + (bm - nm) ** 2) * w
                mean = nm
                nxt = next(batches, None)
                b = None if nxt is None else _to_numpy(nxt)
        self.adapt_mean.assign(np.asarray(mean, np.float32).reshape(self.adapt_mean.shape))
        self.adapt_variance.assign(np.asarray(var, np.float32).reshape(self.adapt_variance.shape))

    def _stats(self, device):
        if self.input_mean is not None:
            m, v = self._const
            return (ag.EagerTensor(_C.tensor(m, device=device)), ag.EagerTensor(_C.tensor(v, device=device)))
        return (ag.EagerTensor(self.adapt_mean.value.reshape(self._broadcast_shape)),
                ag.EagerTensor(self.adapt_variance.value.reshape(self._broadcast_shape)))

    def call(self, inputs):
        x = ag.as_eager(inputs)
        mean, var = self._stats(x.device)
        den = ag.EagerTensor(_C.binary_scalar("maximum", _C.unary("sqrt", var.value), _EPS))
        if self.invert:
            return ag.add(ag.multiply(x, den), mean)
        return ag.divide(ag.subtract(x, mean), den)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        c = super().get_config()
        c.update(axis=self.axis, invert=self.invert, mean=np.array(self.input_mean).tolist(),
                 variance=np.array(self.input_variance).tolist())
        return c


@functools.lru_cache(maxsize=64)
def _nearest_matrix(n_in, n_out):
    """(n_out, n_in) 0/1 rows: source floor((o + 0.5) * n_in / n_out), clamped. Cached, read-only."""
    a = np.zeros((n_out, n_in), np.float64)
    scale = n_in / n_out
    for o in range(n_out):
        a[o, min(int(np.floor((o + 0.5) * scale)), n_in - 1)] = 1.0
    a.flags.writeable = False
    return a


def _aspect_crop(h, w, th, tw):
    """Keras's largest centred crop of (h, w) with the aspect ratio of (th, tw)."""
    ch = max(min(h, int(float(w * th) / tw)), 1)
    cw = max(min(w, int(float(h * tw) / th)), 1)
    return int(float(h - ch) / 2), ch, int(float(w - cw) / 2), cw


def _crop(x, top, h, left, w):
    if (top, h) != (0, x.shape[1]):
        x = ag.slice_axis(x, 1, top, top + h)
    if (left, w) != (0, x.shape[2]):
        x = ag.slice_axis(x, 2, left, left + w)
    return x


def _resize(x, th, tw, interpolation):
    mk = _bilinear_matrix if interpolation == "bilinear" else _nearest_matrix
    _, h, w, _ = x.shape
    if h != th:
        x = _resize_axis(x, 1, mk(h, th))
    if w != tw:
        x = _resize_axis(x, 2, mk(w, tw))
    return x


class _ImageLayer(Layer):
    _pcn_int_input = False

    def _batched(self, inputs, fn):
        x = ag.as_eager(inputs)
        if x.ndim == 3:
            y = fn(ag.reshape(x, [1] + list(x.shape)))
            return ag.reshape(y, list(y.shape[1:]))
        if x.ndim != 4:
            raise ValueError("%s: expected images (batch, height, width, channels) or (height, width, channels), "
                             "got shape %s" % (_lname(self), x.shape))
        return fn(x)

    def _hw_args(self, height, width):
        for what, v in (("height", height), ("width", width)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError("%s: `%s` must be a positive integer, got %r" % (_lname(self), what, v))
        return int(height), int(width)


class Resizing(_ImageLayer):
    """Resizes images to (height, width): interpolation 'bilinear' (default) or
    'nearest'; crop_to_aspect_ratio takes Keras's centred crop first."""

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, antialias=False, data_format=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format_arg(data_format, self)
        self.height, self.width = self._hw_args(height, width)
        if interpolation not in ("bilinear", "nearest"):
            if interpolation in ("bicubic", "lanczos3", "lanczos5", "area"):
                raise NotImplementedError("%s: interpolation=%r is not supported (use 'bilinear' or 'nearest')"
                                          % (_lname(self), interpolation))
            raise ValueError("%s: invalid interpolation %r" % (_lname(self), interpolation))
        if pad_to_aspect_ratio:
            raise NotImplementedError("%s: pad_to_aspect_ratio=True is not supported" % _lname(self))
        if antialias:
            raise NotImplementedError("%s: antialias=True is not supported" % _lname(self))
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError("%s: only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be True"
                             % _lname(self))
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = False
        self.fill_mode, self.fill_value, self.antialias = fill_mode, float(fill_value), False

    def call(self, inputs):
        def fn(x):
            if self.crop_to_aspect_ratio:
                x = _crop(x, *_aspect_crop(x.shape[1], x.shape[2], self.height, self.width))
            return _resize(x, self.height, self.width, self.interpolation)
        return self._batched(inputs, fn)

    def compute_output_shape(self, input_shape):
        s = list(input_shape)
        s[-3], s[-2] = self.height, self.width
        return tuple(s)

    def get_config(self):
        c = super().get_config()
        c.update(data_format=self.data_format, height=self.height, width=self.width,
                 interpolation=self.interpolation, crop_to_aspect_ratio=self.crop_to_aspect_ratio,
                 pad_to_aspect_ratio=False, fill_mode=self.fill_mode, fill_value=self.fill_value, antialias=False)
        return c


class CenterCrop(_ImageLayer):
    """The centred (height, width) crop; an image smaller than that on either axis
    is cropped to the target aspect ratio and resized (bilinear), as Keras."""

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format_arg(data_format, self)
        self.height, self.width = self._hw_args(height, width)

    def call(self, inputs):
        def fn(x):
            h, w = x.shape[1], x.shape[2]
            if h >= self.height and w >= self.width:
                return _crop(x, (h - self.height) // 2, self.height, (w - self.width) // 2, self.width)
            x = _crop(x, *_aspect_crop(h, w, self.height, self.width))
            return _resize(x, self.height, self.width, "bilinear")
        return self._batched(inputs, fn)

    def compute_output_shape(self, input_shape):
        s = list(input_shape)
        s[-3], s[-2] = self.height, self.width
        return tuple(s)

    def get_config(self):
        c = super().get_config()
        c.update(data_format=self.data_format, height=self.height, width=self.width)
        return c


class _RandomImageLayer(_ImageLayer):
    def __call__(self, *args, **kwargs):
        # Keras 3: a direct eager call outside any model or fit/predict defaults to training=True
        # for the random preprocessing layers (a model call passes its own training flag down)
        from . import base
        if "training" not in kwargs and len(base._TRAINING) == 1 and args and \
                not any(isinstance(t, base.KerasTensor) for t in base._flatten(args[0])):
            kwargs["training"] = True
        return super().__call__(*args, **kwargs)

    def _rng(self):
        return self._pcn_rng if self._pcn_rng is not None else np.random.default_rng(utils.next_seed())


class RandomContrast(_RandomImageLayer):
    """Contrast jitter in training: each image's channels are spread around their
    mean over (H, W) by a factor drawn uniformly in [1 - lower, 1 + upper], then
    clipped to value_range. factor: a number f (Keras 3.15 reads it as (0, f)) or
    (lower, upper), within [0, 1]."""

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format_arg(data_format, self)
        err = ("%s: the `factor` argument should be a number (or a list of two numbers) in the range [0, 1], "
               "received factor=%r" % (_lname(self), factor))
        if isinstance(factor, (tuple, list)):
            if len(factor) != 2 or factor[0] > 1 or factor[1] < 0:
                raise ValueError(err)
            lower, upper = sorted(factor)
        elif isinstance(factor, (int, float)) and not isinstance(factor, bool):
            if not 0 <= factor <= 1:
                raise ValueError(err)
            lower, upper = max(-abs(factor), 0), abs(factor)
        else:
            raise ValueError(err)
        self.factor = (lower, upper)
        if len(value_range) != 2:
            raise ValueError("%s: value_range must be (min, max), got %r" % (_lname(self), value_range))
        self.value_range = tuple(value_range)
        self.seed = seed
        self._pcn_rng = np.random.default_rng(seed) if seed is not None else None

    def call(self, inputs, training=True):
        if not training:
            return ag.as_eager(inputs)

        def fn(x):
            n = x.shape[0]
            f = self._rng().uniform(1.0 - self.factor[0], 1.0 + self.factor[1], size=(n, 1, 1, 1))
            ft = ag.EagerTensor(_C.tensor(f.astype(np.float32), device=x.device))
            mean = ag.reduce("mean", ag.reduce("mean", x, [1], True), [2], True)
            y = ag.add(ag.multiply(ag.subtract(x, mean), ft), mean)
            return ag.clip(y, float(self.value_range[0]), float(self.value_range[1]))
        return self._batched(inputs, fn)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        c = super().get_config()
        c.update(data_format=self.data_format, factor=self.factor, value_range=self.value_range, seed=self.seed)
        return c


class RandomFlip(_RandomImageLayer):
    """In training, flips each image left-right ('horizontal'), up-down
    ('vertical') or both ('horizontal_and_vertical', default) with probability
    1/2; identity in inference."""

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format_arg(data_format, self)
        if mode not in ("horizontal", "vertical", "horizontal_and_vertical"):
            raise ValueError("%s: RandomFlip layer %s received an unknown mode argument %r; mode must be one of "
                             "'horizontal', 'vertical', 'horizontal_and_vertical'" % (_lname(self), self.name, mode))
        self.mode = mode
        self.seed = seed
        self._pcn_rng = np.random.default_rng(seed) if seed is not None else None

    def call(self, inputs, training=True):
        if not training:
            return ag.as_eager(inputs)

        def fn(x):
            n = x.shape[0]
            rng = self._rng()
            flips = (rng.uniform(size=(n, 1, 1, 1)) <= 0.5).astype(np.float32)
            m = ag.EagerTensor(_C.tensor(flips, device=x.device))
            keep = ag.EagerTensor(_C.tensor(1.0 - flips, device=x.device))
            y = x
            for ax, on in ((2, self.mode in ("horizontal", "horizontal_and_vertical")),
                           (1, self.mode in ("vertical", "horizontal_and_vertical"))):
                if on and x.shape[ax] > 1:
                    rev = np.eye(x.shape[ax])[::-1]
                    # exact select: y*1 + f*0 or y*0 + f*1 (the reversal GEMM is exact too)
                    y = ag.add(ag.multiply(y, keep), ag.multiply(_resize_axis(y, ax, rev), m))
            return y
        return self._batched(inputs, fn)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        c = super().get_config()
        c.update(data_format=self.data_format, seed=self.seed, mode=self.mode)
        return c
