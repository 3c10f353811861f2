"""keras.constraints: projections applied to a weight after each optimizer step
(Keras 3 formulas, epsilon 1e-7). Each constraint maps a weight (Variable,
EagerTensor, `_C.Tensor` or NumPy array) to its projected value; arithmetic runs
on the `_C` kernels.

When they run: Keras applies `variable.constraint` right after the optimizer
updates the variable. pyconvnet's layers hold (weight, constraint) pairs and
apply the pending projection in place (a) at the start of the next call after a
training call that may have been followed by an update, and (b) in
`layer.get_weights()`. The forward of every step therefore sees exactly the
weights Keras would (initial weights are not projected, as in Keras).
"""
import numpy as np

from . import _C
from . import autograd as ag

__all__ = ["Constraint", "MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm", "max_norm", "non_neg", "unit_norm",
           "min_max_norm", "get", "serialize", "deserialize"]

_EPS = 1e-7  # keras.backend.epsilon()


def _value(w):
    if isinstance(w, ag.EagerTensor):
        return w.value
    if isinstance(w, _C.Tensor):
        return w
    return _C.tensor(np.ascontiguousarray(np.asarray(w, dtype=np.float32)))


def _like(w, t):
    """Return `t` (_C.Tensor) in the caller's kind."""
    if isinstance(w, (ag.EagerTensor, _C.Tensor)):
        return ag.EagerTensor(t) if isinstance(w, ag.EagerTensor) else t
    return np.array(t.numpy(), copy=True)


def _axes(axis, nd):
    ax = axis if isinstance(axis, (list, tuple)) else [axis]
    return sorted(int(a) % nd for a in ax)


def _norms(v, axis):
    """sqrt(sum(w^2, axis, keepdims=True))."""
    return _C.unary("sqrt", _C.reduce("sum", _C.unary("square", v), _axes(axis, v.ndim), True))


class Constraint:
    def __call__(self, w):
        return w

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MaxNorm(Constraint):
    """w * clip(norm, 0, max_value) / (eps + norm), norms along `axis`."""

    def __init__(self, max_value=2, axis=0):
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        v = _value(w)
        n = _norms(v, self.axis)
        desired = _C.clip(n, 0.0, float(self.max_value))
        return _like(w, _C.binary("mul", v, _C.binary("div", desired, _C.binary_scalar("add", n, _EPS))))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """maximum(w, 0)."""

    def __call__(self, w):
        v = _value(w)
        return _like(w, _C.binary_scalar("maximum", v, 0.0))


class UnitNorm(Constraint):
    """w / (eps + norm), norms along `axis`."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        v = _value(w)
        return _like(w, _C.binary("div", v, _C.binary_scalar("add", _norms(v, self.axis), _EPS)))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """w * (rate*clip(norm, min, max) + (1-rate)*norm) / (eps + norm)."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        v = _value(w)
        n = _norms(v, self.axis)
        desired = _C.binary("add", _C.binary_scalar("mul", _C.clip(n, float(self.min_value), float(self.max_value)),
                                                    float(self.rate)),
                            _C.binary_scalar("mul", n, 1.0 - float(self.rate)))
        return _like(w, _C.binary("mul", v, _C.binary("div", desired, _C.binary_scalar("add", n, _EPS))))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm

_ALIASES = {"max_norm": MaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm, "min_max_norm": MinMaxNorm}
_CLASSES = {c.__name__: c for c in (Constraint, MaxNorm, NonNeg, UnitNorm, MinMaxNorm)}


def get(identifier):
    """A constraint from None, an instance, a callable, a name ('non_neg', 'NonNeg') or a config dict."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _CLASSES.get(identifier) or _ALIASES.get(identifier)
        if cls is None:
            raise ValueError("Could not interpret constraint identifier: %s" % identifier)
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, Constraint):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError("Could not interpret constraint identifier: %r" % (identifier,))


def serialize(c):
    if c is None:
        return None
    if isinstance(c, Constraint):
        return {"module": "keras.constraints", "class_name": type(c).__name__, "config": c.get_config(),
                "registered_name": None}
    raise ValueError("constraints.serialize: %r is not a Constraint (a plain function cannot be saved)" % (c,))


def deserialize(config, custom_objects=None):
    if isinstance(config, str):
        return get(config)
    name = config.get("class_name")
    cls = (custom_objects or {}).get(name) or _CLASSES.get(name) or _ALIASES.get(name)
    if cls is None:
        raise ValueError("Unknown constraint class: %r" % (name,))
    return cls.from_config(config.get("config") or {})
