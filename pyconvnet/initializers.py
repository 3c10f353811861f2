"""Keras 3 initializers. Values are drawn with NumPy at weight-creation time
(not in any training step) from pyconvnet.utils' seeded generator, then copied
once onto the weight's device."""
import math

import numpy as np

from . import utils

__all__ = ["Initializer", "Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform", "TruncatedNormal",
           "GlorotUniform", "GlorotNormal", "HeNormal", "HeUniform", "LecunNormal", "LecunUniform",
           "VarianceScaling", "Orthogonal", "Identity", "IdentityInitializer", "OrthogonalInitializer", "zeros", "ones",
           "constant", "random_normal", "random_uniform", "truncated_normal", "variance_scaling", "glorot_uniform",
           "glorot_normal", "he_normal", "he_uniform", "lecun_normal", "lecun_uniform", "orthogonal", "identity",
           "get", "serialize", "deserialize"]


def _fans(shape, input_axes=None, output_axes=None):
    if input_axes is not None and output_axes is not None:  # Keras 3.15 compute_fans
        return int(np.prod([shape[a] for a in input_axes])), int(np.prod([shape[a] for a in output_axes]))
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    rf = int(np.prod(shape[:-2]))
    return shape[-2] * rf, shape[-1] * rf


class Initializer:
    def __call__(self, shape, dtype=None):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Zeros(Initializer):
    def __call__(self, shape, dtype=None):
        return np.zeros(shape, np.float32)


class Ones(Initializer):
    def __call__(self, shape, dtype=None):
        return np.ones(shape, np.float32)


class Constant(Initializer):
    """value * ones(shape); value may be a scalar or an array broadcastable to the shape (as in Keras)."""

    def __init__(self, value=0.0):
        self.value = float(value) if np.ndim(value) == 0 else np.asarray(value, np.float32).tolist()

    def __call__(self, shape, dtype=None):
        return np.ascontiguousarray(np.broadcast_to(np.asarray(self.value, np.float32), tuple(shape)))

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def _rng(self):
        return np.random.default_rng(self.seed) if self.seed is not None else utils.get_rng()

    def __call__(self, shape, dtype=None):
        return self._rng().normal(self.mean, self.stddev, shape).astype(np.float32)

    def get_config(self):
        return {"seed": self.seed, "mean": self.mean, "stddev": self.stddev}


class RandomUniform(RandomNormal):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def __call__(self, shape, dtype=None):
        return self._rng().uniform(self.minval, self.maxval, shape).astype(np.float32)

    def get_config(self):
        return {"seed": self.seed, "minval": self.minval, "maxval": self.maxval}


def _truncated(rng, shape, stddev):
    out = rng.normal(0.0, 1.0, shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.normal(0.0, 1.0, int(bad.sum()))
        bad = np.abs(out) > 2
    return out * stddev


class TruncatedNormal(RandomNormal):
    def __call__(self, shape, dtype=None):
        return (self.mean + _truncated(self._rng(), shape, self.stddev)).astype(np.float32)


class VarianceScaling(RandomNormal):
    """Keras 3: truncated_normal (2 stddev cut, stddev sqrt(scale)/0.8796...), untruncated_normal or
    uniform (limit sqrt(3*scale)), scale divided by max(1, fan); "normal" means truncated_normal."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None, input_axes=None,
                 output_axes=None):
        if scale <= 0.0:
            raise ValueError("Argument `scale` must be positive float. Received: scale=%r" % (scale,))
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError("VarianceScaling: mode must be fan_in, fan_out or fan_avg, got %r" % (mode,))
        distribution = str(distribution).lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError("VarianceScaling: unknown distribution %r" % (distribution,))
        self.scale, self.mode, self.distribution, self.seed = float(scale), mode, distribution, seed
        self.input_axes, self.output_axes = input_axes, output_axes

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = _fans(tuple(shape), self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, n)
        rng = self._rng()
        if self.distribution == "truncated_normal":
            std = math.sqrt(scale) / 0.87962566103423978
            return _truncated(rng, shape, std).astype(np.float32)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, math.sqrt(scale), shape).astype(np.float32)
        lim = math.sqrt(3.0 * scale)
        return rng.uniform(-lim, lim, shape).astype(np.float32)

    def get_config(self):
        return {"seed": self.seed, "scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "input_axes": self.input_axes, "output_axes": self.output_axes}


def _vs(name, scale, mode, dist):
    def __init__(self, seed=None, input_axes=None, output_axes=None):
        VarianceScaling.__init__(self, scale, mode, dist, seed, input_axes, output_axes)

    def get_config(self):
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}
    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config})


GlorotUniform = _vs("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _vs("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeNormal = _vs("HeNormal", 2.0, "fan_in", "truncated_normal")
HeUniform = _vs("HeUniform", 2.0, "fan_in", "uniform")
LecunNormal = _vs("LecunNormal", 1.0, "fan_in", "truncated_normal")
LecunUniform = _vs("LecunUniform", 1.0, "fan_in", "uniform")


class Orthogonal(RandomNormal):
    def __init__(self, gain=1.0, seed=None):
        self.gain, self.seed = float(gain), seed

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        if len(shape) < 2:
            raise ValueError("Orthogonal: needs a shape of rank >= 2, got %s" % (shape,))
        rows, cols = int(np.prod(shape[:-1])), shape[-1]
        a = self._rng().normal(0.0, 1.0, (max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q.reshape(shape)).astype(np.float32)

    def get_config(self):
        return {"seed": self.seed, "gain": self.gain}


class Identity(Initializer):
    def __init__(self, gain=1.0):
        self.gain = float(gain)

    def __call__(self, shape, dtype=None):
        if len(shape) != 2:
            raise ValueError("Identity: needs a 2-D shape, got %s" % (tuple(shape),))
        return (self.gain * np.eye(*shape)).astype(np.float32)

    def get_config(self):
        return {"gain": self.gain}


_ALIASES = {
    "zeros": Zeros, "zero": Zeros, "ones": Ones, "one": Ones, "constant": Constant,
    "random_normal": RandomNormal, "normal": RandomNormal, "random_uniform": RandomUniform,
    "uniform": RandomUniform, "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "he_normal": HeNormal,
    "he_uniform": HeUniform, "lecun_normal": LecunNormal, "lecun_uniform": LecunUniform,
    "orthogonal": Orthogonal, "identity": Identity,
}
_CLASSES = {c.__name__: c for c in set(_ALIASES.values())}
_CLASSES.update(IdentityInitializer=Identity, OrthogonalInitializer=Orthogonal)
IdentityInitializer, OrthogonalInitializer = Identity, Orthogonal
# keras.initializers.he_normal(...) etc.: the lower-case names are the classes too
(zeros, ones, constant, random_normal, random_uniform, truncated_normal, variance_scaling, glorot_uniform,
 glorot_normal, he_normal, he_uniform, lecun_normal, lecun_uniform, orthogonal, identity) = (
    Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling, GlorotUniform,
    GlorotNormal, HeNormal, HeUniform, LecunNormal, LecunUniform, Orthogonal, Identity)


def get(identifier):
    """An initializer from a name ('he_normal'), a config dict, an instance or a callable."""
    if identifier is None:
        return None
    if isinstance(identifier, Initializer) or callable(identifier) and not isinstance(identifier, type):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        key = identifier if identifier in _CLASSES else identifier.lower()
        cls = _CLASSES.get(key) or _ALIASES.get(key)
        if cls is None:
            raise ValueError("Unknown initializer: '%s'. Known: %s" % (identifier, ", ".join(sorted(_ALIASES))))
        return cls()
    raise ValueError("Could not interpret initializer identifier: %r" % (identifier,))


def serialize(init):
    """Keras 3's format: {"module", "class_name", "config", "registered_name"}."""
    if isinstance(init, Initializer):
        return {"module": "keras.initializers", "class_name": type(init).__name__, "config": init.get_config(),
                "registered_name": None}
    raise ValueError("initializers.serialize: %r is not an Initializer (a plain function cannot be saved)" % (init,))


def deserialize(config, custom_objects=None):
    if isinstance(config, str):
        return get(config)
    cls = (custom_objects or {}).get(config.get("class_name")) or _CLASSES.get(config.get("class_name"))
    if cls is None:
        raise ValueError("Unknown initializer class: %r" % (config.get("class_name"),))
    return cls.from_config(config.get("config", {}))
