"""Layers composed from the differentiable ops of pyconvnet.autograd (no kernels
of their own): LayerNormalization, GroupNormalization, UnitNormalization,
UpSampling1D/2D, Cropping1D/2D, ZeroPadding1D, Permute, RepeatVector,
SpatialDropout1D/2D, GaussianNoise, GaussianDropout, ActivityRegularization,
PReLU, Masking. Shapes are channels-last, as Keras.
"""
import functools
import math

import numpy as np

from .. import _C
from .. import autograd as ag
from .. import initializers
from .. import regularizers
from .. import utils
from .base import Layer, InputSpec
from .conv1d import (ActivityRegMixin, _lname, data_format_arg, init_ser, no_constraints, ntuple, reg_get,
                     reg_ser)

__all__ = ["LayerNormalization", "UpSampling1D", "UpSampling2D", "Cropping1D", "Cropping2D", "ZeroPadding1D",
           "Permute", "RepeatVector", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout",
           "ActivityRegularization", "PReLU", "Masking", "GroupNormalization", "UnitNormalization", "AlphaDropout"]


def _repeat(x, axis, r):
    """np.repeat(x, r, axis) as a broadcast add of zeros (differentiable: the
    gradient sums each group of r copies back)."""
    if r == 1:
        return x
    s = list(x.shape)
    x5 = ag.reshape(x, s[:axis + 1] + [1] + s[axis + 1:])
    zs = [1] * (axis + 1) + [r] + [1] * (len(s) - axis - 1)
    z = ag.EagerTensor(_C.zeros(*zs, device=x.device))
    y = ag.add(x5, z)
    return ag.reshape(y, s[:axis] + [s[axis] * r] + s[axis + 1:])


@functools.lru_cache(maxsize=64)
def _bilinear_matrix(n_in, n_out):
    """(n_out, n_in) half-pixel-centre linear interpolation weights (TF2
    resize / torch interpolate align_corners=False, antialias off). Cached, read-only."""
    a = np.zeros((n_out, n_in), np.float64)
    scale = n_in / n_out
    for o in range(n_out):
        src = max((o + 0.5) * scale - 0.5, 0.0)
        i0 = min(int(math.floor(src)), n_in - 1)
        i1 = min(i0 + 1, n_in - 1)
        lam = src - i0
        a[o, i0] += 1.0 - lam
        a[o, i1] += lam
    a.flags.writeable = False
    return a


def _resize_axis(x, axis, mat):
    """Apply mat (n_out, n_in) along `axis` of x: move the axis last, GEMM, move back."""
    nd = x.ndim
    perm = [i for i in range(nd) if i != axis] + [axis]
    inv = [0] * nd
    for i, p in enumerate(perm):
        inv[p] = i
    xt = ag.transpose(x, perm) if axis != nd - 1 else x
    lead = list(xt.shape[:-1])
    m = ag.EagerTensor(_C.tensor(np.ascontiguousarray(mat.T, dtype=np.float32), device=x.device))
    y = ag.matmul(ag.reshape(xt, [-1, xt.shape[-1]]), m)
    y = ag.reshape(y, lead + [mat.shape[0]])
    return ag.transpose(y, inv) if axis != nd - 1 else y


# --------------------------------------------------------------------------
# normalization
# --------------------------------------------------------------------------
class LayerNormalization(Layer):
    """Normalizes each sample over `axis` (default the last):
    y = (x - mean) / sqrt(var + epsilon) * gamma + beta, biased variance
    (Keras 3). gamma/beta have the shape of the normalized axes. Weights: gamma,
    beta (each only when scale/center)."""
    _pcn_int_input = False

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        rms_scaling = kwargs.pop("rms_scaling", False)
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            self.axis = [int(a) for a in axis]
        elif isinstance(axis, int) and not isinstance(axis, bool):
            self.axis = axis
        else:
            raise TypeError("LayerNormalization '%s': expected an int or a list/tuple of ints for the argument "
                            "'axis', but received: %r" % (self.name, axis))
        self.epsilon = float(epsilon)
        if not self.epsilon >= 0:
            raise ValueError("%s: epsilon must be >= 0, got %r" % (_lname(self), epsilon))
        self.center, self.scale, self.rms_scaling = bool(center), bool(scale), bool(rms_scaling)
        no_constraints(self, beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = reg_get(beta_regularizer)
        self.gamma_regularizer = reg_get(gamma_regularizer)
        self.supports_masking = True

    def _axes(self, ndim):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        for a in axes:
            if a >= ndim or a < -ndim:
                raise ValueError("%s: axis %d is out of bounds for inputs of rank %d (axis=%r)"
                                 % (_lname(self), a, ndim, self.axis))
        out = sorted(set(a % ndim for a in axes))
        if 0 in out:
            # Keras allows it, but the statistics would mix samples of a batch
            pass
        return out

    def build(self, input_shape):
        nd = len(input_shape)
        axes = self._axes(nd)
        if isinstance(self.axis, list):
            self.axis = sorted(self.axis)
        else:
            self.axis = [self.axis]
        shape = tuple(input_shape[a] for a in axes)
        if any(d is None for d in shape):
            raise ValueError("%s: the normalized axes %s of the input shape %s must be defined"
                             % (_lname(self), self.axis, input_shape))
        self.gamma = self.add_weight(name="gamma", shape=shape, initializer=self.gamma_initializer,
                                     regularizer=self.gamma_regularizer) \
            if (self.scale or self.rms_scaling) else None
        self.beta = self.add_weight(name="beta", shape=shape, initializer=self.beta_initializer,
                                    regularizer=self.beta_regularizer) \
            if (self.center and not self.rms_scaling) else None
        self._pcn_ndim = nd
        self.built = True

    def call(self, inputs):
        x = ag.as_eager(inputs)
        nd = x.ndim
        if nd != getattr(self, "_pcn_ndim", nd):
            raise ValueError("%s: built for inputs of rank %d, got shape %s" % (_lname(self), self._pcn_ndim,
                                                                                 x.shape))
        axes = self._axes(nd)
        bshape = [x.shape[a] if a in axes else 1 for a in range(nd)]
        mean = ag.reduce("mean", x, axes, True)
        xc = ag.subtract(x, mean)
        var = ag.reduce("mean", ag.unary("square", xc), axes, True)
        inv = ag.unary("rsqrt", ag.add(var, self.epsilon))
        if self.rms_scaling:  # Keras's deprecated flag: x * rsqrt(var + eps) * gamma (no centering)
            y = ag.multiply(x, inv)
        else:
            y = ag.multiply(xc, inv)
        if self.gamma is not None:
            y = ag.multiply(y, ag.reshape(self.gamma, bshape))
        if self.beta is not None:
            y = ag.add(y, ag.reshape(self.beta, bshape))
        return y

    def compute_output_shape(self, input_shape):
        self._axes(len(input_shape))
        return input_shape

    def get_config(self):
        c = super().get_config()
        c.update(axis=self.axis, epsilon=self.epsilon, center=self.center, scale=self.scale,
                 rms_scaling=self.rms_scaling, beta_initializer=init_ser(self.beta_initializer),
                 gamma_initializer=init_ser(self.gamma_initializer), beta_regularizer=reg_ser(self.beta_regularizer),
                 gamma_regularizer=reg_ser(self.gamma_regularizer), beta_constraint=None, gamma_constraint=None)
        return c


class GroupNormalization(Layer):
    """Splits the channels of `axis` into `groups` and normalizes each sample's
    group over its channels and all non-batch axes:
    y = (x - mean) / sqrt(var + epsilon) * gamma + beta (biased variance);
    gamma, beta (C,). groups=-1 means one group per channel."""
    _pcn_int_input = False

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        no_constraints(self, beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or (groups <= 0 and groups != -1):
            raise ValueError("%s: groups must be a positive integer or -1, got %r" % (_lname(self), groups))
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ValueError("%s: axis must be an int, got %r" % (_lname(self), axis))
        self.groups, self.axis = int(groups), int(axis)
        self.epsilon = float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = reg_get(beta_regularizer)
        self.gamma_regularizer = reg_get(gamma_regularizer)
        self.supports_masking = True

    def build(self, input_shape):
        nd = len(input_shape)
        if not -nd <= self.axis < nd:
            raise ValueError("%s: axis %d is out of range for inputs of rank %d" % (_lname(self), self.axis, nd))
        dim = input_shape[self.axis]
        if dim is None:
            raise ValueError("%s: axis %d of the input should have a defined dimension, got shape %s"
                             % (_lname(self), self.axis, input_shape))
        if self.groups == -1:
            self.groups = dim
        if dim < self.groups:
            raise ValueError("%s: number of groups (%d) cannot be more than the number of channels (%d)"
                             % (_lname(self), self.groups, dim))
        if dim % self.groups:
            raise ValueError("%s: number of groups (%d) must be a divisor of the number of channels (%d)"
                             % (_lname(self), self.groups, dim))
        self.gamma = self.add_weight(name="gamma", shape=(dim,), initializer=self.gamma_initializer,
                                     regularizer=self.gamma_regularizer) if self.scale else None
        self.beta = self.add_weight(name="beta", shape=(dim,), initializer=self.beta_initializer,
                                    regularizer=self.beta_regularizer) if self.center else None
        self.input_spec = InputSpec(ndim=nd, axes={self.axis: dim})
        self.built = True

    def call(self, inputs):
        x = ag.as_eager(inputs)
        shape = list(x.shape)
        nd = len(shape)
        a = self.axis % nd
        g = self.groups
        gshape = shape[:a] + [g, shape[a] // g] + shape[a + 1:]
        xg = ag.reshape(x, gshape)
        red = [i for i in range(1, nd + 1) if i != a]
        mean = ag.reduce("mean", xg, red, True)
        xc = ag.subtract(xg, mean)
        var = ag.reduce("mean", ag.unary("square", xc), red, True)
        y = ag.multiply(xc, ag.unary("rsqrt", ag.add(var, self.epsilon)))
        bshape = [1] * (nd + 1)
        bshape[a], bshape[a + 1] = g, shape[a] // g
        if self.gamma is not None:
            y = ag.multiply(y, ag.reshape(self.gamma, bshape))
        if self.beta is not None:
            y = ag.add(y, ag.reshape(self.beta, bshape))
        return ag.reshape(y, shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        c = super().get_config()
        c.update(groups=self.groups, axis=self.axis, epsilon=self.epsilon, center=self.center, scale=self.scale,
                 beta_initializer=init_ser(self.beta_initializer), gamma_initializer=init_ser(self.gamma_initializer),
                 beta_regularizer=reg_ser(self.beta_regularizer), gamma_regularizer=reg_ser(self.gamma_regularizer),
                 beta_constraint=None, gamma_constraint=None)
        return c


class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm over `axis`: x * min(rsqrt(sum x^2), 1e12)."""
    _pcn_int_input = False

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            self.axis = [int(a) for a in axis]
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            self.axis = int(axis)
        else:
            raise TypeError("%s: invalid value for `axis` argument: expected an int or a list/tuple of ints, "
                            "received axis=%r" % (_lname(self), axis))
        self.supports_masking = True

    def _axes(self, nd):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        for a in axes:
            if a >= nd or a < -nd:
                raise ValueError("%s: axis %d is out of bounds for inputs of rank %d" % (_lname(self), a, nd))
        return sorted(set(a % nd for a in axes))

    def call(self, inputs):
        x = ag.as_eager(inputs)
        ss = ag.reduce("sum", ag.unary("square", x), self._axes(x.ndim), True)
        return ag.multiply(x, ag.minimum(ag.unary("rsqrt", ss), 1e12))

    def compute_output_shape(self, input_shape):
        self._axes(len(input_shape))
        return input_shape

    def get_config(self):
        c = super().get_config()
        c["axis"] = self.axis
        return c


# --------------------------------------------------------------------------
# resizing / reshaping
# --------------------------------------------------------------------------
def _int_arg(v, what, layer):
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
        raise TypeError("%s: expected an integer value for `%s`, got %s" % (_lname(layer), what, type(v)))
    if v <= 0:
        raise ValueError("%s: argument `%s` should be a positive integer, received %s=%r"
                         % (_lname(layer), what, what, v))
    return int(v)


class UpSampling1D(Layer):
    """Repeats each step `size` times: (N, T, C) -> (N, T*size, C)."""
    _pcn_int_input = False

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        self.size = _int_arg(size, "size", self)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        return _repeat(ag.as_eager(inputs), 1, self.size)

    def compute_output_shape(self, input_shape):
        n, t, c = input_shape
        return (n, None if t is None else t * self.size, c)

    def get_config(self):
        c = super().get_config()
        c["size"] = self.size
        return c


class UpSampling2D(Layer):
    """(N, H, W, C) -> (N, H*sh, W*sw, C); interpolation 'nearest' (repeat) or
    'bilinear' (half-pixel centres, as tf.image.resize / Keras ops.image.resize)."""
    _pcn_int_input = False

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format_arg(data_format, self)
        self.size = ntuple(size, 2, "size", self)
        if not isinstance(interpolation, str):
            raise ValueError("%s: interpolation must be a string, got %r" % (_lname(self), interpolation))
        self.interpolation = interpolation.lower()
        if self.interpolation in ("bicubic", "lanczos3", "lanczos5", "area"):
            raise NotImplementedError("%s: interpolation=%r is not supported (use 'nearest' or 'bilinear')"
                                      % (_lname(self), interpolation))
        if self.interpolation not in ("nearest", "bilinear"):
            raise ValueError("%s: invalid interpolation %r; expected 'nearest' or 'bilinear'"
                             % (_lname(self), interpolation))
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        x = ag.as_eager(inputs)
        sh, sw = self.size
        if self.interpolation == "nearest":
            return _repeat(_repeat(x, 1, sh), 2, sw)
        _, h, w, _ = x.shape
        if sh > 1:
            x = _resize_axis(x, 1, _bilinear_matrix(h, h * sh))
        if sw > 1:
            x = _resize_axis(x, 2, _bilinear_matrix(w, w * sw))
        return x

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (n, None if h is None else h * self.size[0], None if w is None else w * self.size[1], c)

    def get_config(self):
        c = super().get_config()
        c.update(size=self.size, data_format=self.data_format, interpolation=self.interpolation)
        return c


class Cropping1D(Layer):
    """Removes cropping=(start, end) steps: (N, T, C) -> (N, T-start-end, C)."""
    _pcn_int_input = False

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = ntuple(cropping, 2, "cropping", self, allow_zero=True)
        self.input_spec = InputSpec(ndim=3)

    def _check(self, t):
        if t is not None and sum(self.cropping) >= t:
            raise ValueError("%s: `cropping` parameter of `Cropping1D` layer must be smaller than the input length. "
                             "Received: input length %d, cropping=%s" % (_lname(self), t, self.cropping))

    def call(self, inputs):
        x = ag.as_eager(inputs)
        t = x.shape[1]
        self._check(t)
        a, b = self.cropping
        return ag.slice_axis(x, 1, a, t - b) if (a or b) else x

    def compute_output_shape(self, input_shape):
        n, t, c = input_shape
        self._check(t)
        return (n, None if t is None else t - sum(self.cropping), c)

    def get_config(self):
        c = super().get_config()
        c["cropping"] = self.cropping
        return c


class Cropping2D(Layer):
    """Removes rows/columns at the edges: cropping an int, (sym_h, sym_w) or
    ((top, bottom), (left, right))."""
    _pcn_int_input = False

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format_arg(data_format, self)
        if isinstance(cropping, (int, np.integer)) and not isinstance(cropping, bool):
            if cropping < 0:
                raise ValueError("%s: `cropping` cannot be negative, received cropping=%r" % (_lname(self), cropping))
            self.cropping = ((int(cropping),) * 2, (int(cropping),) * 2)
        elif hasattr(cropping, "__len__"):
            if len(cropping) != 2:
                raise ValueError("%s: `cropping` should have two elements, received cropping=%r"
                                 % (_lname(self), cropping))
            self.cropping = (ntuple(cropping[0], 2, "1st entry of cropping", self, allow_zero=True),
                             ntuple(cropping[1], 2, "2nd entry of cropping", self, allow_zero=True))
        else:
            raise ValueError("%s: `cropping` should be either an int, a tuple of 2 ints (symmetric_height_crop, "
                             "symmetric_width_crop), or a tuple of 2 tuples of 2 ints ((top_crop, bottom_crop), "
                             "(left_crop, right_crop)), received cropping=%r" % (_lname(self), cropping))
        self.input_spec = InputSpec(ndim=4)

    def _check(self, h, w):
        if (h is not None and sum(self.cropping[0]) >= h) or (w is not None and sum(self.cropping[1]) >= w):
            raise ValueError("%s: values in `cropping` argument should be smaller than the corresponding spatial "
                             "dimension of the input. Received: input (H, W)=(%s, %s), cropping=%s"
                             % (_lname(self), h, w, self.cropping))

    def call(self, inputs):
        x = ag.as_eager(inputs)
        _, h, w, _ = x.shape
        self._check(h, w)
        (t, b), (l, r) = self.cropping
        if t or b:
            x = ag.slice_axis(x, 1, t, h - b)
        if l or r:
            x = ag.slice_axis(x, 2, l, w - r)
        return x

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        self._check(h, w)
        return (n, None if h is None else h - sum(self.cropping[0]), None if w is None else w - sum(self.cropping[1]),
                c)

    def get_config(self):
        c = super().get_config()
        c.update(cropping=self.cropping, data_format=self.data_format)
        return c


class ZeroPadding1D(Layer):
    """Adds padding=(start, end) zero steps: (N, T, C) -> (N, T+start+end, C)."""
    _pcn_int_input = False

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format_arg(data_format, self)
        self.padding = ntuple(padding, 2, "padding", self, allow_zero=True)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        x = ag.as_eager(inputs)
        n, t, c = x.shape
        a, b = self.padding
        if not (a or b):
            return x
        y = ag.pad2d(ag.reshape(x, [n, 1, t, c]), 0, 0, a, b)
        return ag.reshape(y, [n, t + a + b, c])

    def compute_output_shape(self, input_shape):
        n, t, c = input_shape
        return (n, None if t is None else t + sum(self.padding), c)

    def get_config(self):
        c = super().get_config()
        c.update(padding=self.padding, data_format=self.data_format)
        return c


class Permute(Layer):
    """Permutes the non-batch axes: dims is a permutation of 1..rank-1."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        try:
            self.dims = tuple(int(d) for d in dims)
        except (TypeError, ValueError):
            raise ValueError("%s: invalid permutation argument `dims` %r" % (_lname(self), dims)) from None
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError("%s: invalid permutation argument `dims` for Permute Layer. The set of indices in "
                             "`dims` must be consecutive and start from 1. Received dims=%r" % (_lname(self), dims))
        self.input_spec = InputSpec(ndim=len(self.dims) + 1)

    def call(self, inputs):
        x = ag.as_eager(inputs)
        if self.dims == tuple(range(1, len(self.dims) + 1)):
            return x
        return ag.transpose(x, (0,) + self.dims)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def get_config(self):
        c = super().get_config()
        c["dims"] = self.dims
        return c


class RepeatVector(Layer):
    """(N, F) -> (N, n, F): the input repeated n times along a new axis 1."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = _int_arg(n, "n", self)
        self.input_spec = InputSpec(ndim=2)

    def call(self, inputs):
        x = ag.as_eager(inputs)
        n, f = x.shape
        return _repeat(ag.reshape(x, [n, 1, f]), 1, self.n)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        c = super().get_config()
        c["n"] = self.n
        return c


# --------------------------------------------------------------------------
# noise / dropout
# --------------------------------------------------------------------------
def _rate_arg(rate, what, layer):
    try:
        r = float(rate)
    except (TypeError, ValueError):
        r = float("nan")
    if not 0 <= r <= 1:
        raise ValueError("%s: invalid value received for argument `%s`. Expected a float value between 0 and 1. "
                         "Received: %s=%r" % (_lname(layer), what, what, rate))
    return r


class _Seeded(Layer):
    def _pcn_init_seed(self, seed):
        self.seed = seed
        self._pcn_rng = np.random.default_rng(seed) if seed is not None else None

    def _pcn_next_seed(self):
        return int(self._pcn_rng.integers(0, 2 ** 31 - 1)) if self._pcn_rng is not None else utils.next_seed()

    def compute_output_shape(self, input_shape):
        return input_shape


class _SpatialDropout(_Seeded):
    _ndim = 3

    def __init__(self, rate, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.rate = _rate_arg(rate, "rate", self)
        self._pcn_init_seed(seed)
        self.input_spec = InputSpec(ndim=self._ndim)

    def call(self, inputs, training=None):
        x = ag.as_eager(inputs)
        if not training or self.rate == 0:
            return x
        if self.rate >= 1:
            return ag.multiply(x, 0.0)
        s = x.shape
        ns = [s[0]] + [1] * (len(s) - 2) + [s[-1]]   # one draw per (sample, channel)
        ones = _C.empty(*ns, device=x.device)
        _C.fill_(ones, 1.0)
        keep, _ = _C.dropout_forward(ones, float(self.rate), self._pcn_next_seed())
        return ag.multiply(x, ag.EagerTensor(keep))

    def get_config(self):
        return {"rate": self.rate, "seed": self.seed, "name": self.name, "dtype": "float32"}


class SpatialDropout1D(_SpatialDropout):
    """Dropout of whole channels of (N, T, C) in training: one keep/drop draw per
    (sample, channel), kept channels scaled by 1/(1-rate)."""
    _ndim = 3


class SpatialDropout2D(_SpatialDropout):
    """Dropout of whole feature maps of (N, H, W, C) in training: one draw per
    (sample, channel), kept maps scaled by 1/(1-rate)."""
    _ndim = 4

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, seed=seed, name=name, dtype=dtype, **kwargs)
        self.data_format = data_format_arg(data_format, self)

    def get_config(self):
        c = super().get_config()
        c["data_format"] = self.data_format
        return c


def _normal(layer, shape, mean, stddev, device):
    # the noise is drawn on the host (pyconvnet has no normal-RNG kernel); one copy per call
    rng = layer._pcn_rng if layer._pcn_rng is not None else np.random.default_rng(utils.next_seed())
    a = rng.standard_normal(shape, dtype=np.float32)
    if stddev != 1.0:
        a *= np.float32(stddev)
    if mean != 0.0:
        a += np.float32(mean)
    return ag.EagerTensor(_C.tensor(a, device=device))


class GaussianNoise(_Seeded):
    """Adds N(0, stddev^2) noise in training; identity in inference."""

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.stddev = _rate_arg(stddev, "stddev", self)
        self._pcn_init_seed(seed)
        self.supports_masking = True

    def call(self, inputs, training=False):
        x = ag.as_eager(inputs)
        if training and self.stddev > 0:
            return ag.add(x, _normal(self, x.shape, 0.0, self.stddev, x.device))
        return x

    def get_config(self):
        c = super().get_config()
        c.update(stddev=self.stddev, seed=self.seed)
        return c


class GaussianDropout(_Seeded):
    """Multiplies by N(1, rate/(1-rate)) noise in training; identity in inference."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _rate_arg(rate, "rate", self)
        self._pcn_init_seed(seed)
        self.supports_masking = True

    def call(self, inputs, training=False):
        x = ag.as_eager(inputs)
        if training and self.rate > 0:
            if self.rate >= 1:  # Keras divides by zero here; the limit keeps nothing
                return ag.multiply(x, 0.0)
            sd = math.sqrt(self.rate / (1.0 - self.rate))
            return ag.multiply(x, _normal(self, x.shape, 1.0, sd, x.device))
        return x

    def get_config(self):
        c = super().get_config()
        c.update(rate=self.rate, seed=self.seed)
        return c


class AlphaDropout(_Seeded):
    """Dropout for SELU networks (keeps mean and variance): in training, dropped
    units are set to alpha' = -scale*alpha of SELU, then y = a*x + b with
    a = ((1-rate)(1+rate*alpha'^2))^-1/2, b = -a*alpha'*rate; identity in
    inference. noise_shape: None entries take the input's size (broadcast draws)."""
    _ALPHA_P = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _rate_arg(rate, "rate", self)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self._pcn_init_seed(seed)
        self.supports_masking = True

    def call(self, inputs, training=False):
        x = ag.as_eager(inputs)
        if not training or self.rate <= 0:
            return x
        shape = x.shape if self.noise_shape is None else tuple(
            x.shape[i] if v is None else int(v) for i, v in enumerate(self.noise_shape))
        if len(shape) != x.ndim:
            raise ValueError("%s: noise_shape %s does not match inputs of rank %d" % (_lname(self), self.noise_shape,
                                                                                   x.ndim))
        rng = self._pcn_rng if self._pcn_rng is not None else np.random.default_rng(utils.next_seed())
        kept = (rng.uniform(size=shape) >= self.rate).astype(np.float32)
        ap = self._ALPHA_P
        a = ((1 - self.rate) * (1 + self.rate * ap ** 2)) ** -0.5
        b = -a * ap * self.rate
        k = ag.EagerTensor(_C.tensor(kept * np.float32(a), device=x.device))            # a * kept
        c = ag.EagerTensor(_C.tensor((ap * (1 - kept) * a + b).astype(np.float32), device=x.device))
        return ag.add(ag.multiply(x, k), c)  # a * (x*kept + alpha'*(1-kept)) + b

    def get_config(self):
        c = super().get_config()
        c.update(rate=self.rate, seed=self.seed, noise_shape=self.noise_shape)
        return c


class ActivityRegularization(ActivityRegMixin, Layer):
    """Identity that adds (l1*sum|x| + l2*sum x^2) / batch_size to the training
    loss (Keras 3's activity regularizer normalization)."""

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        kwargs.pop("activity_regularizer", None)
        super().__init__(**kwargs)
        self.l1, self.l2 = float(l1), float(l2)
        if self.l1 < 0 or self.l2 < 0:
            raise ValueError("%s: l1 and l2 must be >= 0, got l1=%r, l2=%r" % (_lname(self), l1, l2))
        self._pcn_set_activity(regularizers.L1L2(l1=self.l1, l2=self.l2))
        self.supports_masking = True

    def call(self, inputs):
        return self._pcn_activity(ag.as_eager(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        c = super().get_config()
        c.update(l1=self.l1, l2=self.l2)
        return c


class PReLU(Layer):
    """y = relu(x) - alpha * relu(-x) with a learned alpha of shape input_shape[1:]
    (size 1 along `shared_axes`), as Keras."""
    _pcn_int_input = False

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None, shared_axes=None,
                 **kwargs):
        super().__init__(**kwargs)
        no_constraints(self, alpha_constraint=alpha_constraint)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = reg_get(alpha_regularizer)
        if shared_axes is None:
            self.shared_axes = None
        elif not isinstance(shared_axes, (list, tuple)):
            self.shared_axes = [int(shared_axes)]
        else:
            self.shared_axes = [int(a) for a in shared_axes]
        self.supports_masking = True

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for i in self.shared_axes or []:
            if not 1 <= i < len(input_shape):
                raise ValueError("%s: shared_axes entry %d is not an axis of inputs of rank %d (valid: 1..%d)"
                                 % (_lname(self), i, len(input_shape), len(input_shape) - 1))
            shape[i - 1] = 1
        if any(d is None for d in shape):
            raise ValueError("%s: the non-shared axes of the input shape %s must be defined"
                             % (_lname(self), input_shape))
        self.alpha = self.add_weight(name="alpha", shape=tuple(shape), initializer=self.alpha_initializer,
                                     regularizer=self.alpha_regularizer)
        axes = {i: input_shape[i] for i in range(1, len(input_shape)) if i not in (self.shared_axes or [])}
        self.input_spec = InputSpec(ndim=len(input_shape), axes=axes)
        self.built = True

    def call(self, inputs):
        x = ag.as_eager(inputs)
        pos = ag.activation(x, "relu")
        neg = ag.activation(ag.negative(x), "relu")
        return ag.subtract(pos, ag.multiply(self.alpha, neg))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        c = super().get_config()
        c.update(alpha_initializer=init_ser(self.alpha_initializer), alpha_regularizer=reg_ser(self.alpha_regularizer),
                 alpha_constraint=None, shared_axes=self.shared_axes)
        return c


class MaskedTensor(ag.EagerTensor):
    """An EagerTensor carrying Keras's implicit mask `_keras_mask` (NumPy bool,
    inputs.shape[:-1]): what Masking returns, read by the next layer (RNN
    layers, GlobalAveragePooling1D) when no mask= is passed."""
    __slots__ = ("_keras_mask",)


def with_mask(y, mask):
    """y as a MaskedTensor (an identity node on the tape) carrying `mask`."""
    z = MaskedTensor(y.value)
    z._keras_mask = mask
    ag._record([y], [z], lambda g, n: (g,))
    return z


class Masking(Layer):
    """Marks the time steps whose features all equal mask_value as masked:
    outputs inputs * mask (masked steps zeroed) with the boolean mask (batch,
    time) attached for the layer that consumes it (SimpleRNN/LSTM/GRU/RNN,
    GlobalAveragePooling1D), as Keras. The mask reaches that next layer only:
    pyconvnet does not carry it through other layers or into the loss."""
    _pcn_int_input = False

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)
        self.supports_masking = True

    def call(self, inputs):
        x = ag.as_eager(inputs)
        d = _C.unary("sign", _C.unary("abs", _C.binary_scalar("sub", x.value, self.mask_value)))
        keep = _C.reduce("max", d, [x.ndim - 1], True)   # 1 where any feature differs, else 0
        y = ag.multiply(x, ag.EagerTensor(keep))
        return with_mask(y, np.asarray(keep.numpy())[..., 0] > 0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        c = super().get_config()
        c["mask_value"] = self.mask_value
        return c
