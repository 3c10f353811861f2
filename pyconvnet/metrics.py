"""keras.metrics: accuracy family, mae, mse. A metric is updated once per batch
from the batch's predictions: the kernels reduce (argmax, per-sample error) and
the result is read back at the batch boundary."""
import numpy as np

from . import _C
from . import autograd as ag

__all__ = ["Metric", "Mean", "Accuracy", "SparseCategoricalAccuracy", "CategoricalAccuracy", "BinaryAccuracy",
           "MeanAbsoluteError", "MeanSquaredError", "get", "resolve"]


class Metric:
    def __init__(self, name=None, dtype=None):
        self.name = name or type(self).__name__.lower()
        self.reset_state()

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def result(self):
        return self.total / self.count if self.count else 0.0

    def batch_sums(self, y_true, y_pred):
        """(sum, count) for a batch: y_true NumPy, y_pred EagerTensor."""
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        p = ag.as_eager(y_pred)
        s, c = self.batch_sums(np.asarray(y_true), p)
        self.total += s
        self.count += c

    def get_config(self):
        return {"name": self.name}


class Mean(Metric):
    def update_state(self, value, sample_weight=None):
        v = np.asarray(value, dtype=np.float64)
        self.total += float(v.sum())
        self.count += v.size


def _argmax(p):
    return np.asarray(_C.argmax(p.value, -1).numpy())


class SparseCategoricalAccuracy(Metric):
    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(name)

    def batch_sums(self, y_true, y_pred):
        pred = _argmax(y_pred).reshape(-1)
        t = y_true.reshape(-1)
        if t.size != pred.size:
            raise ValueError("%s: %d labels for %d predictions (y_pred shape %s)"
                             % (self.name, t.size, pred.size, y_pred.shape))
        return float(np.count_nonzero(pred == t.astype(np.int64))), pred.size


class CategoricalAccuracy(Metric):
    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(name)

    def batch_sums(self, y_true, y_pred):
        pred = _argmax(y_pred).reshape(-1)
        t = np.argmax(y_true.reshape(-1, y_true.shape[-1]), -1)
        return float(np.count_nonzero(pred == t)), pred.size


class BinaryAccuracy(Metric):
    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        self.threshold = threshold
        super().__init__(name)

    def batch_sums(self, y_true, y_pred):
        p = y_pred.numpy().reshape(-1) > self.threshold
        t = y_true.reshape(-1) > 0.5
        return float(np.count_nonzero(p == t)), p.size


class Accuracy(Metric):
    """Exact match of y_pred and y_true (keras.metrics.Accuracy)."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(name)

    def batch_sums(self, y_true, y_pred):
        p = y_pred.numpy().reshape(-1)
        t = y_true.reshape(-1)
        return float(np.count_nonzero(p == t)), p.size


class _Regression(Metric):
    _fw = None

    def batch_sums(self, y_true, y_pred):
        n = y_pred.shape[0]
        t = np.ascontiguousarray(y_true, dtype=np.float32)
        if t.size != int(np.prod(y_pred.shape)):
            raise ValueError("%s: y_true shape %s does not match y_pred shape %s" % (self.name, t.shape, y_pred.shape))
        p = y_pred.value.reshape([n, -1]) if y_pred.ndim != 2 else y_pred.value
        tt = _C.tensor(t.reshape(p.shape), device=p.device)
        per = getattr(_C, self._fw)(p, tt)
        s = _C.reduce("sum", per, [0], False)
        return float(np.asarray(s.numpy()).reshape(-1)[0]), n


class MeanAbsoluteError(_Regression):
    _fw = "mae_forward"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(name)


class MeanSquaredError(_Regression):
    _fw = "mse_forward"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(name)


_NAMES = {
    "sparse_categorical_accuracy": SparseCategoricalAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy, "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
}


def resolve(identifier, loss=None, y_true_shape=None, y_pred_shape=None):
    """A Metric for a compile() entry; 'accuracy'/'acc' picks sparse, categorical
    or binary accuracy from the loss (then from the shapes), as Keras does."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        if identifier in ("accuracy", "acc"):
            lname = getattr(loss, "name", "") or ""
            if "sparse_categorical" in lname:
                cls = SparseCategoricalAccuracy
            elif "categorical" in lname:
                cls = CategoricalAccuracy
            elif "binary" in lname:
                cls = BinaryAccuracy
            elif y_pred_shape is not None and y_pred_shape[-1] == 1:
                cls = BinaryAccuracy
            elif y_true_shape is not None and y_pred_shape is not None and (
                    len(y_true_shape) < len(y_pred_shape) or y_true_shape[-1] == 1):
                cls = SparseCategoricalAccuracy
            else:
                cls = CategoricalAccuracy
            return cls(name=identifier)
        cls = _NAMES.get(identifier)
        if cls is None:
            raise ValueError("Unknown metric function: '%s'. Known: accuracy, %s" % (identifier,
                                                                                   ", ".join(sorted(_NAMES))))
        return cls(name=identifier)
    raise ValueError("Could not interpret metric identifier: %r" % (identifier,))


get = resolve
