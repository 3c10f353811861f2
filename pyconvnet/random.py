"""keras.random: seeded random tensors with Keras 3 seed semantics.

`seed` may be
  - an int: stateless -- the same int gives the same values on every call;
  - a `SeedGenerator`: its state advances on each call, so calls differ but a
    generator built with the same seed replays the same sequence;
  - None: a global SeedGenerator, created from Python's `random` on first use and
    reset by `keras.utils.set_random_seed(s)` (so a seeded program repeats).
The bits differ from Keras's (NumPy's Philox generator here), the distributions,
shapes, dtypes, ranges and determinism are the same. Results are EagerTensors
(float32 / int32 by default) on the host.
"""
import random as _pyrandom

import numpy as np

from . import _C
from . import autograd as ag
from . import utils

__all__ = ["set_seed", "SeedGenerator", "normal", "uniform", "truncated_normal", "randint", "shuffle", "dropout",
           "categorical", "gamma", "beta", "binomial"]


def set_seed(seed):
    """Same as pyconvnet.utils.set_random_seed(seed)."""
    utils.set_random_seed(seed)


class SeedGenerator:
    """Stateful seed source: `next()` returns the current (seed, counter) pair and
    advances it. seed=None draws the initial seed from Python's `random`."""

    def __init__(self, seed=None, name=None, **kwargs):
        kwargs.pop("backend", None)
        if kwargs:
            raise ValueError("Unrecognized keyword arguments: %s" % (kwargs,))
        self.name = name or utils.unique_name("seed_generator")
        self._initial_seed = seed
        if seed is None:
            seed = _pyrandom.randint(1, int(1e9))
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise ValueError("Argument `seed` must be an integer. Received: seed=%r" % (seed,))
        self.state = np.array([int(seed) & 0xFFFFFFFF, 0], dtype=np.int64)

    def next(self, ordered=True):
        cur = self.state.copy()
        if ordered:
            self.state = self.state + np.array([0, 1], dtype=np.int64)
        else:
            self.state = (self.state + 1) * 5387 % 933199
        return cur

    def get_config(self):
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return "<SeedGenerator name=%s seed=%r>" % (self.name, self._initial_seed)


def global_seed_generator():
    gen = utils._STATE.get("seed_generator")
    if gen is None:
        gen = SeedGenerator()
        utils._STATE["seed_generator"] = gen
    return gen


def draw_seed(seed):
    """(2,) int64 key for `seed` (int, SeedGenerator or None), as keras.random.draw_seed."""
    if isinstance(seed, SeedGenerator):
        return seed.next()
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.array([int(seed) & 0xFFFFFFFF, 0], dtype=np.int64)
    if seed is None:
        return global_seed_generator().next(ordered=False)
    raise ValueError("Argument `seed` must be either an integer or an instance of `SeedGenerator`. "
                     "Received: seed=%r (of type %s)" % (seed, type(seed)))


def _rng(seed):
    k = draw_seed(seed)
    return np.random.Generator(np.random.Philox(key=[int(k[0]), int(k[1])]))


def _shape(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(s) for s in shape)


def _float_dtype(dtype, op):
    from .backend import standardize_dtype, floatx
    d = standardize_dtype(dtype) if dtype is not None else floatx()
    if not (d.startswith("float") or d.startswith("bfloat")):
        raise ValueError("keras.random.%s only supports float dtypes. Received: dtype=%s" % (op, d))
    if d != "float32":
        raise NotImplementedError("keras.random.%s: pyconvnet tensors are float32; dtype=%s is not supported"
                                  % (op, d))
    return d


def _out(a):
    from .keras_ops import _ct
    return ag.EagerTensor(_ct(a))


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """float32 tensor of `shape` drawn from N(mean, stddev^2)."""
    _float_dtype(dtype, "normal")
    return _out(_rng(seed).normal(float(mean), float(stddev), _shape(shape)).astype(np.float32))


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """float32 tensor of `shape` uniform on [minval, maxval)."""
    _float_dtype(dtype, "uniform")
    a = _rng(seed).uniform(float(minval), float(maxval), _shape(shape)).astype(np.float32)
    if float(maxval) > float(minval):
        a = np.minimum(a, np.nextafter(np.float32(maxval), np.float32(minval)))  # float32 rounding may hit maxval
    return _out(a)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """N(mean, stddev^2) re-drawn until within two standard deviations of the mean."""
    _float_dtype(dtype, "truncated_normal")
    rng = _rng(seed)
    n = int(np.prod(_shape(shape)))
    z = rng.standard_normal(n)
    bad = np.abs(z) > 2.0
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2.0
    return _out((float(mean) + float(stddev) * z).reshape(_shape(shape)).astype(np.float32))


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers uniform on [minval, maxval) (int32 by default)."""
    from .backend import standardize_dtype
    d = standardize_dtype(dtype)
    if d not in ("int32", "int64", "uint8"):
        raise NotImplementedError("keras.random.randint: pyconvnet integer tensors are int32, int64 or uint8; got "
                                  "dtype=%s" % d)
    return _out(_rng(seed).integers(int(minval), int(maxval), _shape(shape)).astype(d))


def shuffle(x, axis=0, seed=None):
    """x permuted along `axis` (a tensor in -> a tensor out; NumPy in -> NumPy out)."""
    from .keras_ops import _np, take
    a = np.asarray(_np(x))
    perm = _rng(seed).permutation(a.shape[int(axis)])
    return take(x, perm, axis=int(axis))


def dropout(inputs, rate, noise_shape=None, seed=None):
    """inputs * mask / (1 - rate), mask ~ Bernoulli(1 - rate) broadcast from
    noise_shape; differentiable on the tape."""
    from .keras_ops import _e, _is_tensor, _tensor_like
    rate = float(rate)
    if not 0.0 <= rate < 1.0:
        raise ValueError("keras.random.dropout: rate must be in [0, 1), got %r" % rate)
    x = _e(inputs)
    ns = x.shape if noise_shape is None else tuple(x.shape[i] if s is None else int(s)
                                                   for i, s in enumerate(noise_shape))
    keep = (_rng(seed).uniform(size=ns) >= rate).astype(np.float32) / np.float32(1.0 - rate)
    m = np.array(np.broadcast_to(keep, x.shape), dtype=np.float32, order="C")
    y = ag.multiply(x, ag.EagerTensor(_tensor_like(m, x)))
    return y if _is_tensor(inputs) else y.numpy()


def categorical(logits, num_samples, dtype="int32", seed=None):
    """(batch, num_samples) class indices drawn from softmax(logits) per row."""
    from .keras_ops import _np
    lg = np.asarray(_np(logits), dtype=np.float64)
    if lg.ndim != 2:
        raise ValueError("keras.random.categorical: `logits` should be a 2-D tensor with shape "
                         "[batch_size, num_classes]. Received: logits=%s" % (lg.shape,))
    rng = _rng(seed)
    p = np.exp(lg - lg.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    c = np.cumsum(p, axis=1)
    u = rng.uniform(size=(lg.shape[0], int(num_samples)))
    out = np.stack([np.minimum(np.searchsorted(c[i], u[i], side="right"), lg.shape[1] - 1)
                    for i in range(lg.shape[0])]) if lg.shape[0] else np.zeros((0, int(num_samples)))
    return randint_dtype(out, dtype)


def randint_dtype(a, dtype):
    from .backend import standardize_dtype
    d = standardize_dtype(dtype)
    if d not in ("int32", "int64", "uint8", "float32"):
        raise NotImplementedError("keras.random: dtype %s is not supported by pyconvnet tensors" % d)
    return _out(np.asarray(a).astype(d))


def gamma(shape, alpha, dtype=None, seed=None):
    _float_dtype(dtype, "gamma")
    return _out(_rng(seed).gamma(float(alpha), 1.0, _shape(shape)).astype(np.float32))


def beta(shape, alpha, beta, dtype=None, seed=None):
    _float_dtype(dtype, "beta")
    return _out(_rng(seed).beta(float(alpha), float(beta), _shape(shape)).astype(np.float32))


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    _float_dtype(dtype, "binomial")
    return _out(_rng(seed).binomial(np.asarray(counts, np.int64), np.asarray(probabilities, np.float64),
                                    _shape(shape)).astype(np.float32))
