"""keras.regularizers: L1, L2, L1L2 weight penalties, added to the training loss
(computed on the kernels, recorded by the tape like any op). Configs and
serialize() use Keras 3's format ({"module", "class_name", "config",
"registered_name"}), so a Keras-written layer config loads here and back."""
from . import autograd as ag

import numpy as np

from . import _C

__all__ = ["Regularizer", "L1", "L2", "L1L2", "OrthogonalRegularizer", "l1", "l2", "l1_l2", "orthogonal_regularizer",
           "get", "serialize", "deserialize"]


class Regularizer:
    def __call__(self, x):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class L1L2(Regularizer):
    """l1 * sum(|x|) + l2 * sum(x^2)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, x):
        out = None
        if self.l1:
            out = ag.multiply(ag.reduce("sum", ag.unary("abs", x), None), self.l1)
        if self.l2:
            t = ag.multiply(ag.reduce("sum", ag.unary("square", x), None), self.l2)
            out = t if out is None else ag.add(out, t)
        return out if out is not None else ag.multiply(ag.reduce("sum", x, None), 0.0)

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):  # Keras 3: {"l1": ...} only
        return {"l1": self.l1}


class L2(L1L2):
    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """factor * 0.5 * sum|offdiag(N N^T)| / (size (size-1) / 2) with N the rows ("rows") or columns
    ("columns") of a rank-2 weight, each scaled to unit norm (x / max(||x||, 1e-7)), as Keras 3."""

    def __init__(self, factor=0.01, mode="rows"):
        if mode not in ("rows", "columns"):
            raise ValueError('Invalid value for argument `mode`. Expected one of {"rows", "columns"}. '
                             "Received: mode=%r" % (mode,))
        if factor is None or float(factor) < 0:
            raise ValueError("Invalid value for argument factor: expected a non-negative float, got %r" % (factor,))
        self.factor, self.mode = float(factor), mode

    def __call__(self, x):
        x = ag.as_eager(x)
        if x.ndim != 2:
            raise ValueError("Inputs to OrthogonalRegularizer must have rank 2. Received: inputs.shape=%s"
                             % (tuple(x.shape),))
        rows = self.mode == "rows"
        n = ag.unary("sqrt", ag.reduce("sum", ag.unary("square", x), [1 if rows else 0], keepdims=True))
        xn = ag.divide(x, ag.maximum(n, 1e-7))
        xt = ag.transpose(xn, [1, 0])
        prod = ag.matmul(xn, xt) if rows else ag.matmul(xt, xn)
        size = x.shape[0] if rows else x.shape[1]
        off = ag.EagerTensor(_C.tensor(np.ascontiguousarray(1.0 - np.eye(size, dtype=np.float32)),
                                       device=x.value.device))
        total = ag.reduce("sum", ag.unary("abs", ag.multiply(prod, off)), None)
        pairs = size * (size - 1.0) / 2.0
        return ag.multiply(total, self.factor * 0.5 / pairs if pairs else 0.0)

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer
_CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2, "OrthogonalRegularizer": OrthogonalRegularizer, "l1": L1, "l2": L2,
            "l1_l2": L1L2, "orthogonal_regularizer": OrthogonalRegularizer}


def get(identifier):
    """A regularizer from None, an instance, a callable, a name ('l2', 'L1L2') or a config dict."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        c = _CLASSES.get(identifier) or _CLASSES.get(identifier.lower())
        if c is None:
            raise ValueError("Unknown regularizer: '%s'. Known: l1, l2, l1_l2" % identifier)
        return c()
    if callable(identifier):
        return identifier
    raise ValueError("Could not interpret regularizer identifier: %r" % (identifier,))


def serialize(reg):
    if reg is None:
        return None
    if isinstance(reg, Regularizer):
        return {"module": "keras.regularizers", "class_name": type(reg).__name__, "config": reg.get_config(),
                "registered_name": None}
    raise ValueError("regularizers.serialize: %r is not a Regularizer (a plain function cannot be saved)" % (reg,))


def deserialize(config, custom_objects=None):
    if isinstance(config, str):
        return get(config)
    name = config.get("class_name")
    cls = (custom_objects or {}).get(name) or _CLASSES.get(name)
    if cls is None:
        raise ValueError("Unknown regularizer class: %r" % (name,))
    return cls.from_config(config.get("config") or {})
