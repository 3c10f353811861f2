"""keras.losses: classes and names. Each loss computes a per-sample vector on
the kernels (recorded by the tape); the training step seeds its backward with
1/M, i.e. the Keras "sum_over_batch_size" reduction."""
import numpy as np

from . import _C
from . import autograd as ag

__all__ = ["Loss", "SparseCategoricalCrossentropy", "CategoricalCrossentropy", "BinaryCrossentropy",
           "MeanSquaredError", "MeanAbsoluteError", "Huber", "sparse_categorical_crossentropy",
           "categorical_crossentropy", "binary_crossentropy", "mean_squared_error", "mean_absolute_error", "mse",
           "mae", "huber", "get", "serialize", "deserialize"]


def _shape_err(loss, pred, target):
    return ValueError("%s: y_pred shape %s and y_true shape %s are incompatible" % (loss, tuple(pred.shape),
                                                                                   tuple(target.shape)))


class Loss:
    target_dtype = np.float32

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in ("sum_over_batch_size", "auto", None, "none", "sum"):
            raise ValueError("%s: unknown reduction %r" % (type(self).__name__, reduction))
        self.name = name or _snake(type(self).__name__)
        self.reduction = reduction

    def per_sample(self, y_pred, y_true):
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Keras order (y_true, y_pred); reduced per `reduction`. NumPy in -> NumPy out."""
        numpy_in = not isinstance(y_pred, (ag.EagerTensor, _C.Tensor))
        p = ag.as_eager(y_pred)
        t = y_true.value if isinstance(y_true, ag.EagerTensor) else y_true
        if not isinstance(t, _C.Tensor):
            t = _C.tensor(np.ascontiguousarray(np.asarray(t), dtype=self.target_dtype), device=p.device)
        v = self.per_sample(p, t)
        if self.reduction in ("none", None):
            return v.numpy() if numpy_in else v
        r = ag.reduce("sum" if self.reduction == "sum" else "mean", v, None)
        return float(np.asarray(r.numpy()).reshape(-1)[0]) if numpy_in else r

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _snake(n):
    from .utils import to_snake_case
    return to_snake_case(n)


def _as_int_labels(t, what):
    if t.dtype == "float32":
        return _C.cast(t, "int32")
    return t


class SparseCategoricalCrossentropy(Loss):
    target_dtype = np.int32

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", **kw):
        super().__init__(name=name, reduction=reduction, **kw)
        if ignore_class is not None:
            raise NotImplementedError("SparseCategoricalCrossentropy: ignore_class is not supported")
        self.from_logits = bool(from_logits)

    def per_sample(self, y_pred, y_true):
        c = y_pred.shape[-1]
        m = int(np.prod(y_pred.shape[:-1]))
        t = _as_int_labels(y_true, self.name)
        if t.size != m:
            raise ValueError("%s: y_true has %d labels (shape %s) but y_pred has %d rows (shape %s); expected "
                             "integer labels of shape %s" % (self.name, t.size, tuple(t.shape), m,
                                                             tuple(y_pred.shape), tuple(y_pred.shape[:-1])))
        t = t.reshape([m]) if tuple(t.shape) != (m,) else t
        p = ag.reshape(y_pred, [m, c]) if y_pred.ndim != 2 else y_pred
        try:
            if self.from_logits:
                return ag.softmax_cross_entropy(p, t)
            return ag.crossentropy_probs(p, t)
        except ValueError as e:
            raise ValueError("%s (%d classes): %s" % (self.name, c, e)) from None

    def get_config(self):
        c = super().get_config()
        c["from_logits"] = self.from_logits
        return c


class CategoricalCrossentropy(Loss):
    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="categorical_crossentropy", **kw):
        super().__init__(name=name, reduction=reduction, **kw)
        if label_smoothing:
            raise NotImplementedError("CategoricalCrossentropy: label_smoothing is not supported")
        self.from_logits = bool(from_logits)

    def per_sample(self, y_pred, y_true):
        if tuple(y_true.shape) != tuple(y_pred.shape):
            raise ValueError("%s: expected one-hot y_true of shape %s (like y_pred), got %s; for integer labels use "
                             "sparse_categorical_crossentropy" % (self.name, tuple(y_pred.shape), tuple(y_true.shape)))
        c = y_pred.shape[-1]
        p = ag.reshape(y_pred, [-1, c]) if y_pred.ndim != 2 else y_pred
        t = y_true.reshape([-1, c]) if y_true.ndim != 2 else y_true
        if t.dtype != "float32":
            t = _C.cast(t, "float32")
        if self.from_logits:
            return ag.softmax_cross_entropy(p, t)
        return ag.crossentropy_probs(p, t)

    def get_config(self):
        c = super().get_config()
        c["from_logits"] = self.from_logits
        return c


def _match(loss, y_pred, y_true):
    """Reshape pred and target to (N, -1) with equal sizes."""
    n = y_pred.shape[0]
    if y_true.size != int(np.prod(y_pred.shape)):
        raise _shape_err(loss, y_pred, y_true)
    p = ag.reshape(y_pred, [n, -1]) if y_pred.ndim != 2 else y_pred
    t = y_true.reshape(list(p.shape)) if tuple(y_true.shape) != p.shape else y_true
    if t.dtype != "float32":
        t = _C.cast(t, "float32")
    return p, t


class BinaryCrossentropy(Loss):
    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_crossentropy", **kw):
        super().__init__(name=name, reduction=reduction, **kw)
        if label_smoothing:
            raise NotImplementedError("BinaryCrossentropy: label_smoothing is not supported")
        self.from_logits = bool(from_logits)

    def per_sample(self, y_pred, y_true):
        p, t = _match(self.name, y_pred, y_true)
        return ag.binary_crossentropy(p, t, self.from_logits)

    def get_config(self):
        c = super().get_config()
        c["from_logits"] = self.from_logits
        return c


class MeanSquaredError(Loss):
    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", **kw):
        super().__init__(name=name, reduction=reduction, **kw)

    def per_sample(self, y_pred, y_true):
        return ag.mse(*_match(self.name, y_pred, y_true))


class MeanAbsoluteError(Loss):
    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", **kw):
        super().__init__(name=name, reduction=reduction, **kw)

    def per_sample(self, y_pred, y_true):
        return ag.mae(*_match(self.name, y_pred, y_true))


class Huber(Loss):
    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", **kw):
        super().__init__(name=name, reduction=reduction, **kw)
        self.delta = float(delta)

    def per_sample(self, y_pred, y_true):
        return ag.huber(*_match(self.name, y_pred, y_true), self.delta)

    def get_config(self):
        c = super().get_config()
        c["delta"] = self.delta
        return c


def _fn(cls):
    def f(y_true, y_pred, **kw):
        return cls(reduction="none", **kw)(y_true, y_pred)
    f.__name__ = cls().name
    return f


sparse_categorical_crossentropy = _fn(SparseCategoricalCrossentropy)
categorical_crossentropy = _fn(CategoricalCrossentropy)
binary_crossentropy = _fn(BinaryCrossentropy)
mean_squared_error = mse = _fn(MeanSquaredError)
mean_absolute_error = mae = _fn(MeanAbsoluteError)
huber = _fn(Huber)

_NAMES = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "huber": Huber, "huber_loss": Huber,
}
_CLASSES = {c.__name__: c for c in set(_NAMES.values())}
_FN_TO_CLASS = {sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
                categorical_crossentropy: CategoricalCrossentropy, binary_crossentropy: BinaryCrossentropy,
                mse: MeanSquaredError, mae: MeanAbsoluteError, huber: Huber}


class _FnLoss(Loss):
    """A user function (y_true, y_pred) -> per-sample EagerTensor, built from ops."""

    def __init__(self, fn):
        super().__init__(name=getattr(fn, "__name__", "loss"))
        self.fn = fn

    def per_sample(self, y_pred, y_true):
        v = self.fn(ag.EagerTensor(y_true), y_pred)
        return v if v.ndim >= 1 else ag.reshape(v, [1])


def get(identifier):
    """A Loss instance from a name, class, instance or function (y_true, y_pred)."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        cls = _NAMES.get(identifier) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError("Unknown loss function: '%s'. Known: %s" % (identifier, ", ".join(sorted(_NAMES))))
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if identifier in _FN_TO_CLASS:
        return _FN_TO_CLASS[identifier]()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return _FnLoss(identifier)
    raise ValueError("Could not interpret loss identifier: %r" % (identifier,))


def serialize(loss):
    if isinstance(loss, _FnLoss):
        return loss.name
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config, custom_objects=None):
    if isinstance(config, str):
        if custom_objects and config in custom_objects:
            return get(custom_objects[config])
        return get(config)
    cls = _CLASSES.get(config.get("class_name")) or (custom_objects or {}).get(config.get("class_name"))
    if cls is None:
        raise ValueError("Unknown loss class: %r" % (config.get("class_name"),))
    return cls.from_config(config.get("config", {}))
