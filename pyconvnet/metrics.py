"""keras.metrics: stateful metrics with Keras 3's names, formulas and sample
weighting. A metric is updated once per batch from the batch's predictions
(read back at the batch boundary; the accuracy family reduces with the argmax
kernel first); its state is a few float64 sums, so distributed evaluation
adds the states of all ranks (`state_vector` / `set_state_vector`)."""
import warnings

import numpy as np

from . import _C
from . import autograd as ag

__all__ = ["Metric", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy",
           "MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError",
           "RootMeanSquaredError", "CosineSimilarity", "LogCoshError", "Poisson", "KLDivergence", "Hinge",
           "SquaredHinge", "CategoricalHinge", "BinaryCrossentropy", "CategoricalCrossentropy",
           "SparseCategoricalCrossentropy", "Precision", "Recall", "AUC", "TruePositives", "FalsePositives",
           "TrueNegatives", "FalseNegatives", "FBetaScore", "F1Score", "R2Score", "IoU", "MeanIoU", "BinaryIoU",
           "OneHotIoU", "OneHotMeanIoU", "PearsonCorrelation", "ConcordanceCorrelation", "pearson_correlation",
           "concordance_correlation", "get", "resolve", "serialize",
           "deserialize"]


def _np(x):
    if isinstance(x, ag.EagerTensor):
        x = x.value
    if isinstance(x, _C.Tensor):
        return np.array(x.numpy(), copy=True)
    return np.asarray(x)


def _squeeze_or_expand(x1, x2, expand_rank_1=True):
    """keras.losses.loss.squeeze_or_expand_to_same_rank on NumPy arrays."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def _samplewise(values, sample_weight):
    """keras.metrics.reduction_metrics.reduce_to_samplewise_values with mean."""
    values = np.asarray(values, np.float64)
    if sample_weight is not None:
        sw = np.asarray(sample_weight, np.float64)
        values, sw = _squeeze_or_expand(values, sw)
        if values.ndim > sw.ndim:
            values = values.mean(axis=tuple(range(sw.ndim, values.ndim)))
        sw = np.broadcast_to(sw, values.shape)
        values = values * sw
        if sw.ndim > 1:
            sw = sw.mean(axis=tuple(range(1, sw.ndim)))
        sample_weight = sw
    if values.ndim > 1:
        values = values.mean(axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class _MetricVariable:
    """A metric's state variable (add_variable/add_weight): float64 NumPy storage with the
    Keras variable verbs (assign, assign_add, assign_sub, numpy) and NumPy arithmetic."""

    def __init__(self, shape=(), initializer="zeros", dtype=None, name=None):
        self.shape = tuple(int(d) for d in shape) if shape else ()
        self.name, self.dtype, self._init = name, dtype or "float32", initializer
        self._v = self._initial()

    def _initial(self):
        init = self._init
        if init is None or (isinstance(init, str) and init.lower() == "zeros"):
            return np.zeros(self.shape)
        if isinstance(init, str) and init.lower() == "ones":
            return np.ones(self.shape)
        if isinstance(init, (int, float)):
            return np.full(self.shape, float(init))
        if isinstance(init, str) or isinstance(init, dict):
            from . import initializers
            init = initializers.get(init)
        return np.array(np.broadcast_to(np.asarray(_np(init(self.shape)), np.float64), self.shape))

    def reset(self):
        self._v = self._initial()

    def assign(self, value):
        self._v = np.array(np.broadcast_to(np.asarray(_np(value), np.float64), self.shape))
        return self

    def assign_add(self, value):
        return self.assign(self._v + np.asarray(_np(value), np.float64))

    def assign_sub(self, value):
        return self.assign(self._v - np.asarray(_np(value), np.float64))

    @property
    def value(self):
        return self._v.copy()

    def numpy(self):
        return self._v.astype(self.dtype)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self._v, dtype=dtype)

    def __float__(self):
        return float(self._v)

    def __int__(self):
        return int(self._v)

    def __getitem__(self, i):
        return self._v[i]

    def __repr__(self):
        return "<MetricVariable %s shape=%s value=%s>" % (self.name, self.shape, self._v)


def _vop(name):
    def f(self, other):
        return getattr(self._v, name)(np.asarray(_np(other), np.float64) if not np.isscalar(other) else other)
    f.__name__ = name
    return f


for _op in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__", "__rtruediv__",
            "__pow__", "__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__"):
    setattr(_MetricVariable, _op, _vop(_op))
_MetricVariable.__neg__ = lambda self: -self._v
_MetricVariable.__hash__ = object.__hash__


class Metric:
    """Base class: update_state(y_true, y_pred, sample_weight=None), result(), reset_state().
    Built-in metrics keep their state in the float64 attributes named by `_state_names`;
    a user subclass (Keras style) creates variables with add_variable/add_weight, which
    the default reset_state() sets back to their initial values. All state is summable
    (state_vector/set_state_vector add the states of distributed ranks)."""
    _state_names = ()
    _direction = None  # "up"/"down": what EarlyStopping & co. optimise in mode "auto"

    def __init__(self, name=None, dtype=None):
        self.name = name or _snake(type(self).__name__)
        self.dtype = dtype or "float32"
        self._metric_variables = []
        if type(self).reset_state.__module__ == __name__:  # a user's override may need its variables first
            self.reset_state()

    def add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation="sum", name=None):
        v = _MetricVariable(shape, initializer, dtype, name)
        self.__dict__.setdefault("_metric_variables", []).append(v)
        return v

    def add_weight(self, name=None, shape=(), initializer="zeros", dtype=None, aggregation="sum"):
        return self.add_variable(shape=shape, initializer=initializer, dtype=dtype, aggregation=aggregation, name=name)

    def reset_state(self):
        for n in self._state_names:
            setattr(self, n, 0.0)
        for v in self.__dict__.get("_metric_variables", []):
            v.reset()

    def reset_states(self):
        self.reset_state()

    def update_state(self, *args, **kwargs):
        raise NotImplementedError

    def result(self):
        return float(self.total / self.count) if self.count else 0.0

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def state_vector(self):
        parts = [np.atleast_1d(np.asarray(getattr(self, n), np.float64)).reshape(-1) for n in self._state_names]
        parts += [np.asarray(v._v, np.float64).reshape(-1) for v in self.__dict__.get("_metric_variables", [])]
        return np.concatenate(parts) if parts else np.zeros(0)

    def set_state_vector(self, vec):
        i = 0
        for n in self._state_names:
            cur = np.atleast_1d(np.asarray(getattr(self, n), np.float64))
            v = np.asarray(vec[i:i + cur.size], np.float64)
            setattr(self, n, float(v[0]) if np.ndim(getattr(self, n)) == 0 else v.reshape(cur.shape))
            i += cur.size
        for mv in self.__dict__.get("_metric_variables", []):
            k = int(np.prod(mv.shape)) if mv.shape else 1
            mv.assign(np.asarray(vec[i:i + k]).reshape(mv.shape))
            i += k

    @property
    def variables(self):
        return [getattr(self, n) for n in self._state_names] + list(self.__dict__.get("_metric_variables", []))

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return "<%s name=%s>" % (type(self).__name__, self.name)


def _snake(n):
    from .utils import to_snake_case
    return to_snake_case(n)


class Mean(Metric):
    """The (weighted) mean of the values given to update_state(values, sample_weight=None)."""
    _state_names = ("total", "count")

    def update_state(self, values, sample_weight=None):
        v = _np(values)
        if sample_weight is None and v.ndim == 1:  # the per-batch common case, without the copies
            self.total += float(v.sum(dtype=np.float64))
            self.count += float(v.shape[0])
            return
        v, sw = _samplewise(v, None if sample_weight is None else _np(sample_weight))
        self.total += float(np.sum(v))
        self.count += float(v.shape[0] if v.ndim else 1) if sw is None else float(np.sum(sw))


class Sum(Metric):
    _state_names = ("total",)

    def update_state(self, values, sample_weight=None):
        v, _ = _samplewise(_np(values), None if sample_weight is None else _np(sample_weight))
        self.total += float(np.sum(v))

    def result(self):
        return float(self.total)


class MeanMetricWrapper(Mean):
    """Mean of fn(y_true, y_pred, **kwargs) per sample (keras.metrics.MeanMetricWrapper)."""
    _direction = "down"

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        self._fn, self._fn_kwargs = fn, kwargs
        super().__init__(name=name or getattr(fn, "__name__", "mean_metric_wrapper"), dtype=dtype)

    def _values(self, y_true, y_pred):
        v = self._fn(y_true, y_pred, **self._fn_kwargs)
        return _np(v)

    def update_state(self, y_true, y_pred, sample_weight=None):
        mask = getattr(y_pred, "_keras_mask", None)
        if mask is not None:  # Keras: the output's mask weights the values (apply_mask, reduction "sum")
            m = np.asarray(mask, np.float32)
            if sample_weight is None:
                sample_weight = m
            else:
                sw = np.asarray(_np(sample_weight), np.float32)
                sw = sw.reshape(sw.shape + (1,) * max(0, m.ndim - sw.ndim))
                sample_weight = sw * m
        Mean.update_state(self, self._values(y_true, y_pred), sample_weight)

    _hidden_config = ()  # constructor arguments Keras leaves out of get_config

    def get_config(self):
        c = super().get_config()
        c.update({k: v for k, v in self._fn_kwargs.items() if k not in self._hidden_config})
        return c


# ------------------------------------------------------------- functions
def _argmax(p):
    if isinstance(p, ag.EagerTensor):
        p = p.value
    if isinstance(p, _C.Tensor):
        return np.asarray(_C.argmax(p, -1).numpy())
    return np.argmax(np.asarray(p), -1)


def accuracy(y_true, y_pred):
    t, p = _squeeze_or_expand(_np(y_true), _np(y_pred))
    return (t == p).astype(np.float32)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    t, p = _squeeze_or_expand(_np(y_true).astype(np.float64), _np(y_pred))
    p = (p > threshold).astype(np.float64)
    return np.mean(t == p, axis=-1).astype(np.float32)


def categorical_accuracy(y_true, y_pred):
    t = np.argmax(_np(y_true), -1)
    return (t == _argmax(y_pred)).astype(np.float32)


def sparse_categorical_accuracy(y_true, y_pred):
    t = _np(y_true)
    pshape = tuple(y_pred.shape)
    if t.ndim == len(pshape) and t.shape[-1] == 1:
        t = t[..., 0]
    pred = _argmax(y_pred)
    if t.size != pred.size:
        raise ValueError("sparse_categorical_accuracy: %d labels for %d predictions (y_pred shape %s)"
                         % (t.size, pred.size, pshape))
    return (pred.reshape(t.shape) == t.astype(np.int64)).astype(np.float32)


def _in_top_k(targets, p, k):
    """TF's in_top_k: the target's score is among the k largest (ties count as in)."""
    p = p.reshape(-1, p.shape[-1])
    targets = targets.reshape(-1).astype(np.int64)
    score = p[np.arange(p.shape[0]), targets]
    return (np.sum(p > score[:, None], axis=-1) < k).astype(np.float32)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    p = _np(y_pred)
    return _in_top_k(np.argmax(_np(y_true), -1), p, k).reshape(p.shape[:-1])


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    t, p = _np(y_true), _np(y_pred)
    if from_sorted_ids:
        t = t.reshape(-1, 1) if t.ndim == 1 else t
        return np.any(p[..., :k] == t, axis=-1).astype(np.float32)
    if t.ndim == p.ndim and t.shape[-1] == 1:
        t = t[..., 0]
    return _in_top_k(t, p, k).reshape(p.shape[:-1])


def _loss_fn(name):
    def f(y_true, y_pred, **kw):
        from . import losses
        return getattr(losses, name)(_np(y_true).astype(np.float32) if "sparse" not in name else _np(y_true),
                                     _np(y_pred).astype(np.float32), **kw)
    f.__name__ = name
    return f


# --------------------------------------------------------------- classes
def _mean_metric(cls_name, fn, default_name, params=(), direction="down"):
    def __init__(self, *args, name=default_name, dtype=None, **kwargs):
        kw = dict(params)
        for k, a in zip([k for k, _ in params], args):
            kw[k] = a
        for k, a in kwargs.items():
            if k not in kw:
                raise TypeError("%s: unexpected keyword argument %r" % (cls_name, k))
            kw[k] = a
        for k, a in kw.items():
            setattr(self, k, a)
        MeanMetricWrapper.__init__(self, fn, name=name, dtype=dtype, **kw)
    return type(cls_name, (MeanMetricWrapper,), {"__init__": __init__, "_direction": direction,
                                                 "__doc__": "keras.metrics.%s" % cls_name})


Accuracy = _mean_metric("Accuracy", accuracy, "accuracy", direction="up")
BinaryAccuracy = _mean_metric("BinaryAccuracy", binary_accuracy, "binary_accuracy", [("threshold", 0.5)], direction="up")
CategoricalAccuracy = _mean_metric("CategoricalAccuracy", categorical_accuracy, "categorical_accuracy", direction="up")
SparseCategoricalAccuracy = _mean_metric("SparseCategoricalAccuracy", sparse_categorical_accuracy,
                                         "sparse_categorical_accuracy", direction="up")
TopKCategoricalAccuracy = _mean_metric("TopKCategoricalAccuracy", top_k_categorical_accuracy,
                                       "top_k_categorical_accuracy", [("k", 5)], direction="up")
SparseTopKCategoricalAccuracy = _mean_metric("SparseTopKCategoricalAccuracy", sparse_top_k_categorical_accuracy,
                                             "sparse_top_k_categorical_accuracy", [("k", 5),
                                                                                   ("from_sorted_ids", False)], direction="up")
MeanSquaredError = _mean_metric("MeanSquaredError", _loss_fn("mean_squared_error"), "mean_squared_error")
MeanAbsoluteError = _mean_metric("MeanAbsoluteError", _loss_fn("mean_absolute_error"), "mean_absolute_error")
MeanAbsolutePercentageError = _mean_metric("MeanAbsolutePercentageError", _loss_fn("mean_absolute_percentage_error"),
                                           "mean_absolute_percentage_error")
MeanSquaredLogarithmicError = _mean_metric("MeanSquaredLogarithmicError",
                                           _loss_fn("mean_squared_logarithmic_error"),
                                           "mean_squared_logarithmic_error")
CosineSimilarity = _mean_metric("CosineSimilarity", lambda t, p, axis=-1: -_loss_fn("cosine_similarity")(t, p, axis=axis),
                                "cosine_similarity", [("axis", -1)], direction="up")
LogCoshError = _mean_metric("LogCoshError", _loss_fn("log_cosh"), "logcosh")
Poisson = _mean_metric("Poisson", _loss_fn("poisson"), "poisson")
KLDivergence = _mean_metric("KLDivergence", _loss_fn("kl_divergence"), "kl_divergence")
Hinge = _mean_metric("Hinge", _loss_fn("hinge"), "hinge")
SquaredHinge = _mean_metric("SquaredHinge", _loss_fn("squared_hinge"), "squared_hinge")
CategoricalHinge = _mean_metric("CategoricalHinge", _loss_fn("categorical_hinge"), "categorical_hinge")
BinaryCrossentropy = _mean_metric("BinaryCrossentropy", _loss_fn("binary_crossentropy"), "binary_crossentropy",
                                  [("from_logits", False), ("label_smoothing", 0)])
CategoricalCrossentropy = _mean_metric("CategoricalCrossentropy", _loss_fn("categorical_crossentropy"),
                                       "categorical_crossentropy",
                                       [("from_logits", False), ("label_smoothing", 0), ("axis", -1)])
SparseCategoricalCrossentropy = _mean_metric("SparseCategoricalCrossentropy",
                                             _loss_fn("sparse_categorical_crossentropy"),
                                             "sparse_categorical_crossentropy", [("from_logits", False),
                                                                                 ("ignore_class", None),
                                                                                 ("axis", -1)])


SparseTopKCategoricalAccuracy._hidden_config = ("from_sorted_ids",)
CosineSimilarity._hidden_config = ("axis",)


def pearson_correlation(y_true, y_pred, axis=-1):
    t, p = _squeeze_or_expand(_np(y_true).astype(np.float64), _np(y_pred).astype(np.float64))
    tn = t - t.mean(axis=axis, keepdims=True)
    pn = p - p.mean(axis=axis, keepdims=True)
    tn = tn / tn.std(axis=axis, keepdims=True)
    pn = pn / pn.std(axis=axis, keepdims=True)
    return np.mean(tn * pn, axis=axis)


def concordance_correlation(y_true, y_pred, axis=-1):
    t, p = _squeeze_or_expand(_np(y_true).astype(np.float64), _np(y_pred).astype(np.float64))
    tm, pm = t.mean(axis=axis, keepdims=True), p.mean(axis=axis, keepdims=True)
    tv, pv = (t - tm).var(axis=axis, keepdims=True), (p - pm).var(axis=axis, keepdims=True)
    covar = (t - pm) * (p - pm)  # sic: Keras 3.15 centres y_true on y_pred's mean here
    norm = tv + pv + np.square(tm - pm)
    return np.mean(2 * covar / (norm + 1e-7), axis=axis)


PearsonCorrelation = _mean_metric("PearsonCorrelation", pearson_correlation, "pearson_correlation", [("axis", -1)],
                                  direction="up")
ConcordanceCorrelation = _mean_metric("ConcordanceCorrelation", concordance_correlation, "concordance_correlation",
                                      [("axis", -1)], direction="up")


class RootMeanSquaredError(Mean):
    _direction = "down"
    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p = _squeeze_or_expand(_np(y_true).astype(np.float64), _np(y_pred).astype(np.float64))
        Mean.update_state(self, np.square(p - t), sample_weight)

    def result(self):
        return float(np.sqrt(self.total / self.count)) if self.count else 0.0


# ------------------------------------------------------- confusion matrix
def _confusion(y_true, y_pred, thresholds, sample_weight, class_id=None, top_k=None):
    """Weighted (tp, fp, tn, fn) per threshold: prediction > threshold is positive."""
    t = _np(y_true).astype(np.float64)
    p = _np(y_pred).astype(np.float64)
    t, p = _squeeze_or_expand(t, p)
    if t.shape != p.shape:
        t = t.reshape(p.shape)
    if top_k is not None:
        kth = -np.sort(-p, axis=-1)[..., top_k - 1:top_k]
        p = np.where(p >= kth, p, -np.inf)
    if class_id is not None:
        t, p = t[..., class_id], p[..., class_id]
    if sample_weight is None:
        w = np.ones_like(p)
    else:
        w = np.asarray(_np(sample_weight), np.float64)
        if w.ndim == 1 and p.ndim > 1:
            w = w.reshape((-1,) + (1,) * (p.ndim - 1))
        w = np.broadcast_to(w, p.shape)
    t, p, w = t.reshape(-1) > 0.5, p.reshape(-1), w.reshape(-1)
    th = np.asarray(thresholds, np.float64)[:, None]
    pos = p[None, :] > th
    tp = np.sum(w * (pos & t), axis=1)
    fp = np.sum(w * (pos & ~t), axis=1)
    fn = np.sum(w * (~pos & t), axis=1)
    tn = np.sum(w * (~pos & ~t), axis=1)
    return tp, fp, tn, fn


class _Confusion(Metric):
    _state_names = ("true_positives", "false_positives", "true_negatives", "false_negatives")

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        self.init_thresholds = thresholds
        default = 0.5 if top_k is None else -np.inf
        th = default if thresholds is None else thresholds
        self.thresholds = [float(x) for x in (th if isinstance(th, (list, tuple, np.ndarray)) else [th])]
        self.top_k, self.class_id = top_k, class_id
        if name is None:  # Keras 3 auto-names these: auc, auc_1, ... (one counter with layers)
            from .utils import to_snake_case, unique_name
            name = unique_name(to_snake_case(type(self).__name__))
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        for n in self._state_names:
            setattr(self, n, np.zeros(len(self.thresholds)))

    def update_state(self, y_true, y_pred, sample_weight=None):
        tp, fp, tn, fn = _confusion(y_true, y_pred, self.thresholds, sample_weight, self.class_id, self.top_k)
        self.true_positives = self.true_positives + tp
        self.false_positives = self.false_positives + fp
        self.true_negatives = self.true_negatives + tn
        self.false_negatives = self.false_negatives + fn

    def _out(self, r):
        r = np.asarray(r, np.float64)
        return float(r[0]) if r.size == 1 else r

    def get_config(self):
        c = super().get_config()
        c.update(thresholds=self.init_thresholds, top_k=self.top_k, class_id=self.class_id)
        return c


def _div(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.where(b != 0, a / np.where(b != 0, b, 1), 0.0)


class Precision(_Confusion):
    _direction = "up"
    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(thresholds, top_k, class_id, name, dtype)

    def result(self):
        return self._out(_div(self.true_positives, self.true_positives + self.false_positives))


class Recall(_Confusion):
    _direction = "up"
    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(thresholds, top_k, class_id, name, dtype)

    def result(self):
        return self._out(_div(self.true_positives, self.true_positives + self.false_negatives))


def _count_metric(cls_name, attr, default_name):
    def __init__(self, thresholds=None, name=None, dtype=None):
        _Confusion.__init__(self, thresholds, None, None, name, dtype)

    def result(self):
        return self._out(getattr(self, attr))

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "thresholds": self.init_thresholds}
    return type(cls_name, (_Confusion,), {"__init__": __init__, "result": result, "get_config": get_config})


TruePositives = _count_metric("TruePositives", "true_positives", "true_positives")
FalsePositives = _count_metric("FalsePositives", "false_positives", "false_positives")
TrueNegatives = _count_metric("TrueNegatives", "true_negatives", "true_negatives")
FalseNegatives = _count_metric("FalseNegatives", "false_negatives", "false_negatives")


class AUC(_Confusion):
    """Area under the ROC or PR curve from num_thresholds buckets (keras.metrics.AUC)."""
    _direction = "up"

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None, dtype=None,
                 thresholds=None, multi_label=False, num_labels=None, label_weights=None, from_logits=False):
        if label_weights is not None and not multi_label:
            raise NotImplementedError("AUC: label_weights without multi_label=True is not supported")
        curve, summation_method = str(curve).upper(), str(summation_method).lower()
        if curve not in ("ROC", "PR"):
            raise ValueError('Invalid AUC curve value: "%s". Expected values are ["ROC", "PR"]' % curve)
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError('Invalid AUC summation method value: "%s".' % summation_method)
        if thresholds is not None:
            num_thresholds = len(thresholds) + 2
            inner = sorted(float(x) for x in thresholds)
        else:
            if num_thresholds <= 1:
                raise ValueError("Argument `num_thresholds` must be an integer > 1. Received: num_thresholds=%r"
                                 % (num_thresholds,))
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self.num_thresholds, self.curve, self.summation_method = num_thresholds, curve, summation_method
        self.from_logits, self.multi_label = from_logits, multi_label
        self.num_labels = num_labels if multi_label else None
        self.label_weights = None if label_weights is None else list(np.asarray(label_weights, np.float64))
        self._init_th = thresholds
        eps = 1e-7
        _Confusion.__init__(self, [0.0 - eps] + inner + [1.0 + eps], None, None, name, dtype)

    def reset_state(self):
        labels = getattr(self, "num_labels", None) if getattr(self, "multi_label", False) else None
        for n in self._state_names:
            setattr(self, n, np.zeros((len(self.thresholds),) + ((labels,) if labels else ())))

    def update_state(self, y_true, y_pred, sample_weight=None):
        p = _np(y_pred).astype(np.float64)
        if self.from_logits:
            p = 1.0 / (1.0 + np.exp(-p))
        if not self.multi_label:
            return super().update_state(y_true, p, sample_weight)
        # multi_label: one curve per label (the last axis), each over all the other axes
        t = _np(y_true).astype(np.float64)
        t, p = _squeeze_or_expand(t, p)
        L = p.shape[-1]
        if self.num_labels is None:
            self.num_labels = L
        if self.true_positives.ndim == 1:
            self.reset_state()
        t2, p2 = t.reshape(-1, L), p.reshape(-1, L)
        w = None
        if sample_weight is not None:
            w = np.asarray(_np(sample_weight), np.float64)
            w = np.broadcast_to(w.reshape(w.shape + (1,) * (p.ndim - w.ndim)), p.shape).reshape(-1, L)
        for j in range(L):
            tp, fp, tn, fn = _confusion(t2[:, j], p2[:, j], self.thresholds, None if w is None else w[:, j])
            self.true_positives[:, j] += tp
            self.false_positives[:, j] += fp
            self.true_negatives[:, j] += tn
            self.false_negatives[:, j] += fn

    def result(self):
        tp, fp, tn, fn = self.true_positives, self.false_positives, self.true_negatives, self.false_negatives
        n = self.num_thresholds
        if self.curve == "PR" and self.summation_method == "interpolation":
            dtp = tp[:n - 1] - tp[1:]
            p = tp + fp
            dp = p[:n - 1] - p[1:]
            slope = _div(dtp, np.maximum(dp, 0))
            intercept = tp[1:] - slope * p[1:]
            ratio = np.where((p[:n - 1] > 0) & (p[1:] > 0), _div(p[:n - 1], np.maximum(p[1:], 0)), 1.0)
            inc = _div(slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0))
            by_label = np.sum(inc, axis=0)
        else:
            recall = _div(tp, tp + fn)
            if self.curve == "ROC":
                x, y = _div(fp, fp + tn), recall
            else:
                x, y = recall, _div(tp, tp + fp)
            if self.summation_method == "interpolation":
                h = (y[:n - 1] + y[1:]) / 2.0
            elif self.summation_method == "minoring":
                h = np.minimum(y[:n - 1], y[1:])
            else:
                h = np.maximum(y[:n - 1], y[1:])
            by_label = np.sum((x[:n - 1] - x[1:]) * h, axis=0)
        if np.ndim(by_label) == 0:
            return float(by_label)
        if self.label_weights is None:
            return float(np.mean(by_label))
        lw = np.asarray(self.label_weights, np.float64)
        return float(_div(np.sum(by_label * lw), np.sum(lw)))

    def get_config(self):
        c = {"name": self.name, "dtype": self.dtype, "num_thresholds": self.num_thresholds, "curve": self.curve,
             "summation_method": self.summation_method, "multi_label": self.multi_label,
             "num_labels": self.num_labels, "label_weights": self.label_weights, "from_logits": self.from_logits}
        if self._init_th is not None:
            c["thresholds"] = self._init_th
        return c


class FBetaScore(Metric):
    """F-beta per class (average None), or micro/macro/weighted-averaged; predictions are the
    row's maxima (threshold None) or > threshold. Inputs (batch, classes), Keras's formulas."""
    _direction = "up"

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError("Invalid `average` argument value. Expected one of: {None, 'micro', 'macro', "
                             "'weighted'}. Received: average=%r" % (average,))
        if not isinstance(beta, float):
            raise ValueError("Invalid `beta` argument value. It should be a Python float. Received: beta=%r of type "
                             "'%s'" % (beta, type(beta)))
        if beta <= 0.0:
            raise ValueError("Invalid `beta` argument value. It should be > 0. Received: beta=%r" % (beta,))
        if threshold is not None and (not isinstance(threshold, float) or not 0.0 < threshold <= 1.0):
            raise ValueError("Invalid `threshold` argument value. It should be a Python float with 0 < threshold <= "
                             "1. Received: threshold=%r" % (threshold,))
        self.average, self.beta, self.threshold = average, beta, threshold
        self.axis = None if average == "micro" else 0
        super().__init__(name=name, dtype=dtype)
        self._built = False

    def reset_state(self):
        if getattr(self, "_built", False):
            Metric.reset_state(self)

    def update_state(self, y_true, y_pred, sample_weight=None):
        t = _np(y_true).astype(np.float64)
        p = _np(y_pred).astype(np.float64)
        if p.ndim != 2 or t.ndim != 2:
            raise ValueError("FBetaScore expects 2D inputs with shape (batch_size, output_dim). Received input "
                             "shapes: y_pred.shape=%s and y_true.shape=%s." % (p.shape, t.shape))
        if not self._built:
            shape = () if self.average == "micro" else (p.shape[-1],)
            self.true_positives = self.add_variable(shape, name="true_positives")
            self.false_positives = self.add_variable(shape, name="false_positives")
            self.false_negatives = self.add_variable(shape, name="false_negatives")
            self.intermediate_weights = self.add_variable(shape, name="intermediate_weights")
            self._built = True
        if self.threshold is None:
            p = ((p >= p.max(-1, keepdims=True)) & (np.abs(p) > 1e-9)).astype(np.float64)
        else:
            p = (p > self.threshold).astype(np.float64)
        w = None if sample_weight is None else np.asarray(_np(sample_weight), np.float64).reshape(-1, 1)

        def wsum(v):
            return np.sum(v * w if w is not None else v, axis=self.axis)
        self.true_positives.assign_add(wsum(p * t))
        self.false_positives.assign_add(wsum(p * (1 - t)))
        self.false_negatives.assign_add(wsum((1 - p) * t))
        self.intermediate_weights.assign_add(wsum(t))

    def result(self):
        if not self._built:
            return 0.0
        e = 1e-7
        tp, fp, fn = self.true_positives.value, self.false_positives.value, self.false_negatives.value
        precision = tp / (tp + fp + e)
        recall = tp / (tp + fn + e)
        f = precision * recall / (self.beta ** 2 * precision + recall + e) * (1 + self.beta ** 2)
        if self.average == "weighted":
            iw = self.intermediate_weights.value
            f = np.sum(f * iw / (np.sum(iw) + e))
        elif self.average is not None:
            f = np.mean(f)
        return float(f) if np.ndim(f) == 0 else f

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "beta": self.beta, "average": self.average,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        c = super().get_config()
        del c["beta"]
        return c


class R2Score(Metric):
    """Coefficient of determination per output, averaged (uniform or variance-weighted)."""
    _direction = "up"

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None):
        if class_aggregation not in (None, "uniform_average", "variance_weighted_average"):
            raise ValueError("Invalid value for argument `class_aggregation`. Expected one of (None, "
                             "'uniform_average', 'variance_weighted_average'). Received: class_aggregation=%r"
                             % (class_aggregation,))
        if num_regressors < 0:
            raise ValueError("Invalid value for argument `num_regressors`. Expected a value >= 0. Received: "
                             "num_regressors=%r" % (num_regressors,))
        self.class_aggregation, self.num_regressors = class_aggregation, num_regressors
        self._built = False
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        if getattr(self, "_built", False):
            Metric.reset_state(self)

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p = _squeeze_or_expand(_np(y_true).astype(np.float64), _np(y_pred).astype(np.float64))
        if t.ndim != 2 or p.ndim != 2:
            raise ValueError("R2Score expects 2D inputs with shape (batch_size, output_dim). Received input shapes: "
                             "y_pred.shape=%s and y_true.shape=%s." % (p.shape, t.shape))
        if not self._built:
            k = (t.shape[-1],)
            self.squared_sum = self.add_variable(k, name="squared_sum")
            self.sum = self.add_variable(k, name="sum")
            self.total_mse = self.add_variable(k, name="residual")
            self.count = self.add_variable(k, name="count")
            self.num_samples = self.add_variable((), name="num_samples")
            self._built = True
        w = np.float64(1.0) if sample_weight is None else np.asarray(_np(sample_weight), np.float64)
        if np.ndim(w) == 1:
            w = w[:, None]
        w = np.broadcast_to(w, t.shape)
        self.sum.assign_add(np.sum(t * w, 0))
        self.squared_sum.assign_add(np.sum(t * t * w, 0))
        self.total_mse.assign_add(np.sum((t - p) ** 2 * w, 0))
        self.count.assign_add(np.sum(w, 0))
        self.num_samples.assign_add(t.size)

    def result(self):
        if not self._built:
            return 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = self.sum.value / self.count.value
            total = self.squared_sum.value - self.sum.value * mean
            raw = 1 - self.total_mse.value / total
        raw = np.where(np.isinf(raw), 0.0, raw)
        if self.class_aggregation == "uniform_average":
            r2 = np.mean(raw)
        elif self.class_aggregation == "variance_weighted_average":
            r2 = np.sum(total * raw) / np.sum(total)
        else:
            r2 = raw
        n = float(self.num_samples.value)
        if self.num_regressors != 0:
            if self.num_regressors > n - 1:
                warnings.warn("More independent predictors than datapoints in adjusted R2 score. Falling back to "
                              "standard R2 score.", stacklevel=2)
            elif self.num_regressors == n - 1:
                warnings.warn("Division by zero in Adjusted R2 score. Falling back to standard R2 score.",
                              stacklevel=2)
            else:
                r2 = 1.0 - (1.0 - r2) * (n - 1.0) / (n - self.num_regressors - 1.0)
        return float(r2) if np.ndim(r2) == 0 else r2

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}


class _IoUBase(Metric):
    """Confusion-matrix IoU family (Keras's dtype "int32" default: labels, predictions and
    sample weights are cast to int as Keras does)."""
    _direction = "up"

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        if name is None:
            from .utils import to_snake_case, unique_name
            name = unique_name(to_snake_case(type(self).__name__))
        self.num_classes, self.ignore_class = int(num_classes), ignore_class
        self.sparse_y_true, self.sparse_y_pred, self.axis = sparse_y_true, sparse_y_pred, axis
        super().__init__(name=name, dtype=dtype or "int32")
        self.total_cm = self.add_variable((self.num_classes, self.num_classes), name="total_confusion_matrix")

    def reset_state(self):
        Metric.reset_state(self)

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p = _np(y_true), _np(y_pred)
        if not self.sparse_y_true:
            t = np.argmax(t, axis=self.axis)
        if not self.sparse_y_pred:
            p = np.argmax(p, axis=self.axis)
        as_int = "int" in str(self.dtype)
        cast = (lambda a: np.asarray(a).astype(np.int64)) if as_int else (lambda a: np.asarray(a, np.float64))
        t, p = cast(t).reshape(-1), cast(p).reshape(-1)
        w = np.ones(t.shape, np.float64) if sample_weight is None else \
            np.broadcast_to(cast(_np(sample_weight)).reshape(-1), t.shape).astype(np.float64)
        k = self.num_classes
        ok = (t >= 0) & (t < k) & (p >= 0) & (p < k)
        if self.ignore_class is not None:
            ok &= t != self.ignore_class
        t, p, w = np.where(ok, t, 0).astype(np.int64), np.where(ok, p, 0).astype(np.int64), np.where(ok, w, 0)
        cm = np.zeros((k, k))
        np.add.at(cm, (t, p), w)
        self.total_cm.assign_add(cm)

    def result(self):
        cm = self.total_cm.value
        tp = np.diag(cm)
        den = cm.sum(0) + cm.sum(1) - tp
        ids = np.asarray(self.target_class_ids, np.int64)
        tp, den = tp[ids], den[ids]
        valid = den > 1e-9
        iou = np.where(valid, tp / (den + 1e-7), 0.0)
        return float(np.sum(iou) / (np.sum(valid) + 1e-7))

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class IoU(_IoUBase):
    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        if max(target_class_ids) >= num_classes:
            raise ValueError("Target class id %d is out of range, which is [0, %d)."
                             % (max(target_class_ids), num_classes))
        self.target_class_ids = list(target_class_ids)
        super().__init__(num_classes, name, dtype, ignore_class, sparse_y_true, sparse_y_pred, axis)

    def get_config(self):
        c = super().get_config()
        c["target_class_ids"] = self.target_class_ids
        return c


class MeanIoU(IoU):
    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True, sparse_y_pred=True,
                 axis=-1):
        super().__init__(num_classes, list(range(num_classes)), name, dtype, ignore_class, sparse_y_true,
                         sparse_y_pred, axis)

    def get_config(self):
        c = super().get_config()
        del c["target_class_ids"]
        return c


class BinaryIoU(IoU):
    """IoU of y_true in {0, 1} and y_pred >= threshold."""

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(2, target_class_ids, name=name, dtype=dtype)
        self.threshold = threshold

    def update_state(self, y_true, y_pred, sample_weight=None):
        p = (_np(y_pred).astype(np.float32) >= self.threshold).astype(np.int64)
        super().update_state(y_true, p, sample_weight)

    def get_config(self):
        return {"target_class_ids": self.target_class_ids, "threshold": self.threshold, "name": self.name,
                "dtype": self.dtype}


class OneHotIoU(IoU):
    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_pred=False,
                 axis=-1):
        super().__init__(num_classes, target_class_ids, name, dtype, ignore_class, False, sparse_y_pred, axis)

    def get_config(self):
        c = super().get_config()
        del c["sparse_y_true"]
        return c


class OneHotMeanIoU(MeanIoU):
    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, name, dtype, ignore_class, False, sparse_y_pred, axis)

    def get_config(self):
        c = super().get_config()
        del c["sparse_y_true"]
        return c


# -------------------------------------------------------------- lookup
_NAMES = {
    "accuracy": Accuracy, "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mape": MeanAbsolutePercentageError, "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError, "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "cosine_similarity": CosineSimilarity, "logcosh": LogCoshError, "log_cosh": LogCoshError,
    "poisson": Poisson, "kld": KLDivergence, "kl_divergence": KLDivergence, "hinge": Hinge,
    "squared_hinge": SquaredHinge, "categorical_hinge": CategoricalHinge,
    "binary_crossentropy": BinaryCrossentropy, "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "auc": AUC, "precision": Precision, "recall": Recall, "root_mean_squared_error": RootMeanSquaredError,
}
_NAMES.update({"f1_score": F1Score, "fbeta_score": FBetaScore, "r2_score": R2Score,
               "pearson_correlation": PearsonCorrelation, "concordance_correlation": ConcordanceCorrelation})
_CLASSES = {c.__name__: c for c in list(_NAMES.values()) + [Mean, Sum, TruePositives, FalsePositives,
                                                             TrueNegatives, FalseNegatives, IoU, MeanIoU, BinaryIoU,
                                                             OneHotIoU, OneHotMeanIoU]}


def resolve(identifier, loss=None, y_true_shape=None, y_pred_shape=None):
    """A Metric for a compile() entry, named as Keras names it (the string given, else
    the metric's name). 'accuracy'/'acc' picks binary, sparse categorical or categorical
    accuracy from the shapes of y_true and y_pred as Keras 3 does (from the loss while
    the shapes are not known yet)."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            if y_true_shape is not None and y_pred_shape is not None:
                is_binary = y_pred_shape[-1] == 1
                is_sparse = len(y_true_shape) < len(y_pred_shape) or (
                    len(y_true_shape) and y_true_shape[-1] == 1 and y_pred_shape[-1] > 1)
                cls = BinaryAccuracy if is_binary else SparseCategoricalAccuracy if is_sparse else CategoricalAccuracy
            else:
                lname = getattr(loss, "name", None) or getattr(loss, "__name__", "") or ""
                if "sparse_categorical" in lname:
                    cls = SparseCategoricalAccuracy
                elif "categorical" in lname:
                    cls = CategoricalAccuracy
                elif "binary" in lname:
                    cls = BinaryAccuracy
                else:
                    cls = CategoricalAccuracy
            return cls(name=identifier)
        cls = _NAMES.get(identifier) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError("Unknown metric function: '%s'. Known: %s" % (identifier, ", ".join(sorted(_NAMES))))
        m = cls()
        m.name = identifier  # Keras names a string-given metric by the string itself
        return m
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", None))
    raise ValueError("Could not interpret metric identifier: %r" % (identifier,))


def get(identifier):
    """As keras.metrics.get: a name, class, config dict or instance -> a Metric instance."""
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        return Accuracy(name=identifier)
    if isinstance(identifier, str) and identifier in _CLASSES:
        return _CLASSES[identifier]()
    return resolve(identifier)


def serialize(metric):
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


def deserialize(config, custom_objects=None):
    cls = _CLASSES.get(config.get("class_name")) or (custom_objects or {}).get(config.get("class_name"))
    if cls is None:
        raise ValueError("Unknown metric class: %r" % (config.get("class_name"),))
    return cls.from_config(config.get("config", {}))
