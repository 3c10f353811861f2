"""keras.layers.Normalization: feature-wise standardization with statistics from
`adapt(data)` (or given as mean/variance), as Keras 3:
y = (x - mean) / max(sqrt(variance), 1e-7) (invert=True: x * max(...) + mean).
adapt() is a one-off pass over the data and runs in NumPy (float64 accumulation
for arrays, Keras's streaming merge for iterables of batches); the call runs on
the kernels and is differentiable w.r.t. the input."""
import numpy as np

from .. import _C
from .. import autograd as ag
from .base import Layer
from .conv1d import _lname

__all__ = ["Normalization"]

_EPS = 1e-7  # keras.backend.epsilon()


def _to_numpy(b):
    if isinstance(b, (tuple, list)) and b and not np.isscalar(b[0]) and np.ndim(b[0]) > 0 and len(b) in (1, 2, 3) \
            and not isinstance(b, list):
        b = b[0]  # (x, y) / (x, y, w) batches: adapt uses x
    if isinstance(b, ag.EagerTensor):
        b = b.numpy()
    elif isinstance(b, _C.Tensor):
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
            # Keras's count is a scalar (), never updated by adapt. Here it is (1,): Layer.add_weight and
            # set_weights pass weights through np.ascontiguousarray, which makes 0-d arrays 1-d (base.py)
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
            first = None
        elif hasattr(data, "__iter__"):
            batches = iter(data)
        else:
            raise TypeError("%s: adapt() got unsupported data of type %s; pass an array, a tensor or an iterable "
                            "of batches" % (_lname(self), type(data).__name__))
        if batches is not None:
            first = next(batches, None)
            if first is None:
                raise ValueError("%s: adapt() received an empty iterable (no batches)" % _lname(self))
            first = _to_numpy(first[0] if isinstance(first, tuple) else first)
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
                b = None if nxt is None else _to_numpy(nxt[0] if isinstance(nxt, tuple) else nxt)
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
