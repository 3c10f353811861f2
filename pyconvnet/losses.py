"""keras.losses: classes, functions and names, with Keras 3's formulas,
squeeze rules, sample weighting and reductions.

A loss's `call(y_true, y_pred)` returns the per-element loss, shape
`y_pred.shape[:-1]` (the last axis reduced, as every Keras loss function does),
built from recorded ops (pyconvnet.autograd) so the training tape
differentiates it; the cross-entropies, mse, mae and huber use their fused
kernels. `__call__` weights and reduces it like Keras's
`reduce_weighted_values`. The training loop calls `per_sample(y_pred, y_true)`
(one value per sample, the mean over the other axes) and seeds the backward
with w_i / batch_divisor(M) (1/M for "sum_over_batch_size")."""
import math
import weakref

import numpy as np

from . import _C
from . import autograd as ag

__all__ = ["Loss", "LossFunctionWrapper", "SparseCategoricalCrossentropy", "CategoricalCrossentropy",
           "BinaryCrossentropy", "MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
           "MeanSquaredLogarithmicError", "Huber", "LogCosh", "KLDivergence", "Poisson", "Hinge", "SquaredHinge",
           "CategoricalHinge", "CosineSimilarity", "BinaryFocalCrossentropy", "CategoricalFocalCrossentropy",
           "binary_focal_crossentropy", "categorical_focal_crossentropy",
           "sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy",
           "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
           "mean_squared_logarithmic_error", "huber", "log_cosh", "kl_divergence", "poisson", "hinge",
           "squared_hinge", "categorical_hinge", "cosine_similarity", "mse", "mae", "mape", "msle", "kld",
           "logcosh", "get", "serialize", "deserialize"]

EPSILON = 1e-7  # keras.backend.epsilon()
_MASKS = weakref.WeakKeyDictionary()  # per-element loss -> its float validity mask (Keras's keras_mask)
_REDUCTIONS = ("sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight")


def _shape_err(loss, pred, target):
    return ValueError("%s: y_pred shape %s and y_true shape %s are incompatible" % (loss, tuple(pred.shape),
                                                                                   tuple(target.shape)))


def _eager(x, like=None, dtype=np.float32):
    """x as an EagerTensor (NumPy converted once, on `like`'s device)."""
    if isinstance(x, ag.EagerTensor):
        return x
    if isinstance(x, _C.Tensor):
        return ag.EagerTensor(x)
    dev = like.device if like is not None else "cpu"
    return ag.EagerTensor(_C.tensor(np.ascontiguousarray(np.asarray(x), dtype=dtype), device=dev))


def _size(t):
    return math.prod(t.shape)


def _float(t):
    return t if t.dtype == "float32" else ag.EagerTensor(_C.cast(t.value, "float32"))


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Keras's rule: when ranks differ by one and the longer one ends in 1, a rank-1
    partner is expanded, otherwise the longer one is squeezed."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = ag.reshape(x2, list(x2.shape) + [1])
        else:
            x1 = ag.reshape(x1, list(x1.shape[:-1]))
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = ag.reshape(x1, list(x1.shape) + [1])
        else:
            x2 = ag.reshape(x2, list(x2.shape[:-1]))
    return x1, x2


def _prep(name, y_true, y_pred):
    """(y_true float, y_pred) EagerTensors of the same shape, after Keras's squeeze rule."""
    p = ag.as_eager(y_pred)
    t = _float(_eager(y_true, p))
    t, p = squeeze_or_expand_to_same_rank(t, p)
    if tuple(t.shape) != tuple(p.shape):
        if _size(t) != _size(p):
            raise _shape_err(name, p, t)
        t = ag.reshape(t, list(p.shape))
    return t, p


def _last_axis(fn, p, t, *extra):
    """A fused per-row kernel (mean over the last axis) applied to any rank: shape p.shape[:-1]."""
    if p.ndim == 0:
        p, t = ag.reshape(p, [1, 1]), ag.reshape(t, [1, 1])
        return ag.reshape(fn(p, t.value, *extra), [])
    lead = list(p.shape[:-1])
    if p.ndim != 2:
        p = ag.reshape(p, [-1, p.shape[-1]])
        t = ag.reshape(t, [-1, t.shape[-1]])
    return ag.reshape(fn(p, t.value, *extra), lead)


def _mean_last(x):
    return ag.reduce("mean", x, [-1]) if x.ndim else x


def _sum_last(x):
    return ag.reduce("sum", x, [-1]) if x.ndim else x


def _normalize(x, axis):
    inv = ag.unary("rsqrt", ag.reduce("sum", ag.unary("square", x), [axis], keepdims=True))
    inv = ag.minimum(inv, 1.0 / EPSILON)
    return ag.multiply(x, inv)


def _hinge_labels(t):
    v = t.numpy()
    if np.all((v == 0) | (v == 1)):
        return ag.add(ag.multiply(t, 2.0), -1.0)
    return t


def _with_output_mask(mask, y_pred, v, name):
    """`mask` (a float validity mask of the per-element loss v, or None) combined with the
    Keras mask y_pred carries (`_keras_mask`, e.g. from Embedding(mask_zero=True) through a
    sequence-returning RNN), as Keras's Loss.__call__ combines in_mask & out_mask."""
    km = getattr(y_pred, "_keras_mask", None)
    if km is None:
        return mask
    m = np.asarray(km.numpy() if hasattr(km, "numpy") else km, dtype=np.float32)
    if m.shape != tuple(v.shape):
        if m.shape[:v.ndim] == tuple(v.shape) and all(d == 1 for d in m.shape[v.ndim:]):
            m = m.reshape(v.shape)
        else:
            raise ValueError("%s: the output's mask has shape %s but the per-element loss has shape %s"
                             % (name, m.shape, tuple(v.shape)))
    mt = _C.tensor(np.ascontiguousarray(m), device=v.value.device)
    return mt if mask is None else _C.binary("mul", mask, mt)


def _binary_mask(v, value):
    """1.0 where v != value else 0.0 (float32 `_C` ops, on v's device)."""
    d = _C.unary("sign", _C.unary("abs", _C.binary_scalar("sub", v, float(value))))
    return d


# --------------------------------------------------------------- functions
def mean_squared_error(y_true, y_pred):
    t, p = _prep("mean_squared_error", y_true, y_pred)
    return _last_axis(ag.mse, p, t)


def mean_absolute_error(y_true, y_pred):
    t, p = _prep("mean_absolute_error", y_true, y_pred)
    return _last_axis(ag.mae, p, t)


def mean_absolute_percentage_error(y_true, y_pred):
    t, p = _prep("mean_absolute_percentage_error", y_true, y_pred)
    diff = ag.unary("abs", ag.divide(ag.subtract(t, p), ag.maximum(ag.unary("abs", t), EPSILON)))
    return ag.multiply(_mean_last(diff), 100.0)


def mean_squared_logarithmic_error(y_true, y_pred):
    t, p = _prep("mean_squared_logarithmic_error", y_true, y_pred)
    a = ag.unary("log", ag.add(ag.maximum(p, EPSILON), 1.0))
    b = ag.unary("log", ag.add(ag.maximum(t, EPSILON), 1.0))
    return _mean_last(ag.unary("square", ag.subtract(a, b)))


def huber(y_true, y_pred, delta=1.0):
    t, p = _prep("huber", y_true, y_pred)
    return _last_axis(ag.huber, p, t, float(delta))


def log_cosh(y_true, y_pred):
    t, p = _prep("log_cosh", y_true, y_pred)
    x = ag.subtract(p, t)
    v = ag.add(ag.add(x, ag.activation(ag.multiply(x, -2.0), "softplus")), -math.log(2.0))
    return _mean_last(v)


def kl_divergence(y_true, y_pred):
    t, p = _prep("kl_divergence", y_true, y_pred)
    t = ag.clip(t, EPSILON, 1.0)
    p = ag.clip(p, EPSILON, 1.0)
    return _sum_last(ag.multiply(t, ag.unary("log", ag.divide(t, p))))


def poisson(y_true, y_pred):
    t, p = _prep("poisson", y_true, y_pred)
    return _mean_last(ag.subtract(p, ag.multiply(t, ag.unary("log", ag.add(p, EPSILON)))))


def hinge(y_true, y_pred):
    t, p = _prep("hinge", y_true, y_pred)
    t = _hinge_labels(t)
    return _mean_last(ag.maximum(ag.subtract(1.0, ag.multiply(t, p)), 0.0))


def squared_hinge(y_true, y_pred):
    t, p = _prep("squared_hinge", y_true, y_pred)
    t = _hinge_labels(t)
    return _mean_last(ag.unary("square", ag.maximum(ag.subtract(1.0, ag.multiply(t, p)), 0.0)))


def categorical_hinge(y_true, y_pred):
    t, p = _prep("categorical_hinge", y_true, y_pred)
    pos = _sum_last(ag.multiply(t, p))
    neg = ag.reduce("max", ag.multiply(ag.subtract(1.0, t), p), [-1])
    return ag.maximum(ag.add(ag.subtract(neg, pos), 1.0), 0.0)


def cosine_similarity(y_true, y_pred, axis=-1):
    t, p = _prep("cosine_similarity", y_true, y_pred)
    return ag.negative(ag.reduce("sum", ag.multiply(_normalize(t, axis), _normalize(p, axis)), [axis]))


def _move_axis_last(x, axis):
    axis = axis % x.ndim
    if axis == x.ndim - 1:
        return x
    perm = [i for i in range(x.ndim) if i != axis] + [axis]
    return ag.transpose(x, perm)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """One-hot (or soft) y_true; shape y_pred.shape without `axis`."""
    if isinstance(axis, bool):
        raise ValueError("`axis` must be of type `int`. Received: axis=%r" % (axis,))
    t, p = _prep("categorical_crossentropy", y_true, y_pred)
    if tuple(t.shape) != tuple(p.shape):
        raise ValueError("categorical_crossentropy: expected one-hot y_true of shape %s (like y_pred), got %s; for "
                         "integer labels use sparse_categorical_crossentropy" % (tuple(p.shape), tuple(t.shape)))
    p, t = _move_axis_last(p, axis), _move_axis_last(t, axis)
    if label_smoothing:
        c = p.shape[-1]
        t = ag.add(ag.multiply(t, 1.0 - float(label_smoothing)), float(label_smoothing) / c)
    lead, c = list(p.shape[:-1]), p.shape[-1]
    p2 = ag.reshape(p, [-1, c]) if p.ndim != 2 else p
    t2 = ag.reshape(t, [-1, c]).value if t.ndim != 2 else t.value
    if from_logits:
        out = ag.softmax_cross_entropy(p2, t2)
    else:
        out = ag.crossentropy_probs(p2, t2)
    return ag.reshape(out, lead) if p.ndim != 2 else out


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Integer y_true of shape y_pred.shape[:-1] (or with a trailing 1)."""
    p = ag.as_eager(y_pred)
    t = _eager(y_true, p, np.int32)
    if axis not in (-1, p.ndim - 1):
        raise NotImplementedError("sparse_categorical_crossentropy: axis=%r (only the last axis) is not supported"
                                  % (axis,))
    c = p.shape[-1]
    lead = list(p.shape[:-1])
    m = math.prod(lead)
    if t.ndim == p.ndim and t.shape[-1] == 1:
        t = ag.reshape(t, list(t.shape[:-1]))
    if _size(t) != m:
        raise ValueError("sparse_categorical_crossentropy: y_true has %d labels (shape %s) but y_pred has %d rows "
                         "(shape %s); expected integer labels of shape %s"
                         % (_size(t), tuple(t.shape), m, tuple(p.shape), tuple(lead)))
    tv = t.value.reshape([m]) if tuple(t.shape) != (m,) else t.value
    mask = None
    if ignore_class is not None:
        tf = tv if tv.dtype == "float32" else _C.cast(tv, "float32")
        mask = _binary_mask(tf, ignore_class)  # 1 valid, 0 ignored
        tv = _C.binary("mul", tf, mask)
    if tv.dtype == "float32":
        tv = _C.cast(tv, "int32")
    p2 = ag.reshape(p, [m, c]) if p.ndim != 2 else p
    try:
        out = ag.softmax_cross_entropy(p2, tv) if from_logits else ag.crossentropy_probs(p2, tv)
    except ValueError as e:
        raise ValueError("sparse_categorical_crossentropy (%d classes): %s" % (c, e)) from None
    if mask is not None:
        out = ag.multiply(out, ag.EagerTensor(mask))
    out = ag.reshape(out, lead) if p.ndim != 2 else out
    if mask is not None:
        _MASKS[out] = mask.reshape(lead) if lead else mask
    return out


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    t, p = _prep("binary_crossentropy", y_true, y_pred)
    if label_smoothing:
        t = ag.add(ag.multiply(t, 1.0 - float(label_smoothing)), 0.5 * float(label_smoothing))
    p, t = _move_axis_last(p, axis), _move_axis_last(t, axis)
    return _last_axis(lambda a, b: ag.binary_crossentropy(a, b, from_logits), p, t)


def _bce_elementwise(p, t):
    """Keras's ops.binary_crossentropy(t, p) on probabilities, element by element (the fused
    kernel's per-row mean over a last axis of 1), any shape."""
    shape = list(p.shape)
    p1 = ag.reshape(p, [-1, 1])
    t1 = ag.reshape(t, [-1, 1])
    return ag.reshape(ag.binary_crossentropy(p1, t1.value, False), shape)


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
                              label_smoothing=0.0, axis=-1):
    t, p = _prep("binary_focal_crossentropy", y_true, y_pred)
    if label_smoothing:
        t = ag.add(ag.multiply(t, 1.0 - float(label_smoothing)), 0.5 * float(label_smoothing))
    if from_logits:
        p = ag.activation(p, "sigmoid")
    bce = _bce_elementwise(p, t)
    p_t = ag.add(ag.multiply(t, p), ag.multiply(ag.subtract(1.0, t), ag.subtract(1.0, p)))
    focal = ag.multiply(ag.power(ag.subtract(1.0, p_t), float(gamma)), bce)
    if apply_class_balancing:
        w = ag.add(ag.multiply(t, float(alpha)), ag.multiply(ag.subtract(1.0, t), 1.0 - float(alpha)))
        focal = ag.multiply(w, focal)
    return ag.reduce("mean", focal, [axis])


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                                   axis=-1):
    if isinstance(axis, bool):
        raise ValueError("`axis` must be of type `int`. Received: axis=%r" % (axis,))
    t, p = _prep("categorical_focal_crossentropy", y_true, y_pred)
    if label_smoothing:
        c = t.shape[axis]
        t = ag.add(ag.multiply(t, 1.0 - float(label_smoothing)), float(label_smoothing) / c)
    if from_logits:
        p = _move_axis_last(p, axis)
        p = ag.softmax(p, -1)
        t = _move_axis_last(t, axis)
        axis = -1
    out = ag.divide(p, ag.reduce("sum", p, [axis], keepdims=True))
    out = ag.clip(out, EPSILON, 1.0 - EPSILON)
    cce = ag.negative(ag.multiply(t, ag.unary("log", out)))
    w = ag.multiply(ag.power(ag.subtract(1.0, out), float(gamma)), float(alpha))
    return ag.reduce("sum", ag.multiply(w, cce), [axis])


# ----------------------------------------------------------------- classes
class Loss:
    """Base class: subclasses implement call(y_true, y_pred) -> per-element loss."""
    target_dtype = np.float32

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in _REDUCTIONS:
            raise ValueError("Invalid value for argument `reduction`. Expected one of %s. Received: reduction=%r"
                             % (sorted(str(r) for r in _REDUCTIONS), reduction))
        self.name = name or _snake(type(self).__name__)
        self.reduction = reduction
        self.dtype = dtype or "float32"

    def call(self, y_true, y_pred):
        raise NotImplementedError("%s must implement call(y_true, y_pred)" % type(self).__name__)

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Keras order (y_true, y_pred); weighted and reduced per `reduction`. NumPy in -> NumPy out."""
        numpy_in = not isinstance(y_pred, (ag.EagerTensor, _C.Tensor))
        p = ag.as_eager(y_pred)
        t = y_true if isinstance(y_true, (ag.EagerTensor, _C.Tensor)) else \
            _eager(y_true, p, self.target_dtype if np.asarray(y_true).dtype.kind in "biu" else np.float32)
        v = ag.as_eager(self.call(t, p))
        mask = _with_output_mask(_MASKS.get(v), y_pred, v, self.name)
        w = None
        if sample_weight is not None:
            w = _float(_eager(sample_weight, v))
        if mask is not None:
            mw = ag.EagerTensor(mask)
            if self.reduction in ("mean", "sum_over_batch_size"):
                total = float(max(_size(v), 1))
                valid = _C.reduce("sum", mask, list(range(mask.ndim)), False) if mask.ndim else mask
                valid = float(np.asarray(valid.numpy()).reshape(-1)[0])
                mw = ag.multiply(mw, total / valid if valid else 0.0)
            if w is not None:
                mw, w = squeeze_or_expand_to_same_rank(mw, w)
                w = ag.multiply(w, mw)
            else:
                w = mw
        if w is not None:
            v, w = squeeze_or_expand_to_same_rank(v, w)
            v = ag.multiply(v, w)
        r = self.reduction
        if r not in (None, "none") and v.ndim and _size(v):
            s = ag.reduce("sum", v, None)
            if r in ("sum_over_batch_size", "mean", "mean_with_sample_weight"):
                if r == "mean_with_sample_weight" and w is not None:
                    den = float(np.asarray(_C.reduce("sum", w.value, list(range(w.ndim)), False).numpy()
                                           ).reshape(-1)[0]) if w.ndim else float(w.numpy())
                else:
                    den = float(_size(v))
                s = ag.multiply(s, 1.0 / den if den else 0.0)
            v = s
        if numpy_in:
            a = np.asarray(v.numpy())
            return float(a.reshape(-1)[0]) if a.ndim == 0 or r not in (None, "none") else np.array(a, copy=True)
        return v

    # ---- the training loop's view
    def per_sample(self, y_pred, y_true):
        """(N,) per-sample loss (the mean of call() over all but the batch axis), recorded by the
        tape. Sets `self._pcn_inner` (elements per sample) and `self._pcn_mask_scale`."""
        p = ag.as_eager(y_pred)
        t = y_true
        if p.ndim == 1:
            p = ag.reshape(p, [p.shape[0], 1])
            if isinstance(t, _C.Tensor) and t.ndim == 1:
                t = t.reshape([t.shape[0], 1])
        v = ag.as_eager(self.call(t, p))
        n = p.shape[0]
        if v.ndim == 0 or v.shape[0] != n:
            raise ValueError("%s: call() returned shape %s; expected one loss per sample (%d, ...)"
                             % (self.name, v.shape, n))
        inner = math.prod(v.shape[1:])
        self._pcn_inner = inner
        self._pcn_mask_scale = 1.0
        mask = _MASKS.get(v)
        out_mask = _with_output_mask(None, y_pred, v, self.name)
        if out_mask is not None:  # masked steps add nothing; the reduction divides by the valid count
            v = ag.multiply(v, ag.EagerTensor(out_mask))
            mask = out_mask if mask is None else _C.binary("mul", mask, out_mask)
        if mask is not None and self.reduction in ("mean", "sum_over_batch_size", "mean_with_sample_weight"):
            valid = float(np.asarray(_C.reduce("sum", mask, list(range(mask.ndim)), False).numpy()).reshape(-1)[0])
            self._pcn_mask_scale = (_size(v) / valid) if valid else 0.0
        if v.ndim > 1:
            v = ag.reduce("mean", v, list(range(1, v.ndim)))
        return v

    def batch_divisor(self, m, sample_weight_sum=None):
        """The divisor of sum(per_sample * w) over a batch of m samples that gives Keras's
        reduced loss (per_sample is the mean over the inner axes; "none" trains like
        "sum_over_batch_size", as Keras's compiled loss takes the mean of it)."""
        r = self.reduction
        inner = getattr(self, "_pcn_inner", 1)
        scale = getattr(self, "_pcn_mask_scale", 1.0)
        if r == "sum":
            return 1.0 / inner
        if r == "mean_with_sample_weight" and sample_weight_sum is not None:
            d = sample_weight_sum
        else:
            d = float(m)
        d = d / scale if scale else 0.0
        return d if d else float("inf")

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _snake(n):
    from .utils import to_snake_case
    return to_snake_case(n)


class LossFunctionWrapper(Loss):
    """A Loss from a function fn(y_true, y_pred, **kwargs) -> per-element loss."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        c = super().get_config()
        c.update(self._fn_kwargs)
        return c

    def __repr__(self):
        return "<LossFunctionWrapper(%s, kwargs=%s)>" % (getattr(self.fn, "__name__", self.fn), self._fn_kwargs)


def _wrapper(cls_name, fn, default_name, params=(), target_dtype=np.float32):
    """A LossFunctionWrapper subclass with Keras's constructor (params: (name, default) pairs)."""
    def __init__(self, *args, reduction="sum_over_batch_size", name=default_name, dtype=None, **kwargs):
        kw = dict(params)
        names = [k for k, _ in params]
        if len(args) > len(names):
            raise TypeError("%s takes at most %d positional arguments" % (cls_name, len(names)))
        for k, a in zip(names, args):
            kw[k] = a
        for k, a in kwargs.items():
            if k not in kw:
                raise TypeError("%s: unexpected keyword argument %r" % (cls_name, k))
            kw[k] = a
        LossFunctionWrapper.__init__(self, fn, reduction=reduction, name=name, dtype=dtype, **kw)
        for k, a in kw.items():
            setattr(self, k, a)
    return type(cls_name, (LossFunctionWrapper,), {"__init__": __init__, "target_dtype": target_dtype,
                                                    "__doc__": "keras.losses.%s (%s)" % (cls_name, fn.__name__)})


MeanSquaredError = _wrapper("MeanSquaredError", mean_squared_error, "mean_squared_error")
MeanAbsoluteError = _wrapper("MeanAbsoluteError", mean_absolute_error, "mean_absolute_error")
MeanAbsolutePercentageError = _wrapper("MeanAbsolutePercentageError", mean_absolute_percentage_error,
                                       "mean_absolute_percentage_error")
MeanSquaredLogarithmicError = _wrapper("MeanSquaredLogarithmicError", mean_squared_logarithmic_error,
                                       "mean_squared_logarithmic_error")
Huber = _wrapper("Huber", huber, "huber_loss", [("delta", 1.0)])
LogCosh = _wrapper("LogCosh", log_cosh, "log_cosh")
KLDivergence = _wrapper("KLDivergence", kl_divergence, "kl_divergence")
Poisson = _wrapper("Poisson", poisson, "poisson")
Hinge = _wrapper("Hinge", hinge, "hinge")
SquaredHinge = _wrapper("SquaredHinge", squared_hinge, "squared_hinge")
CategoricalHinge = _wrapper("CategoricalHinge", categorical_hinge, "categorical_hinge")
CosineSimilarity = _wrapper("CosineSimilarity", cosine_similarity, "cosine_similarity", [("axis", -1)])
CategoricalCrossentropy = _wrapper("CategoricalCrossentropy", categorical_crossentropy, "categorical_crossentropy",
                                   [("from_logits", False), ("label_smoothing", 0.0), ("axis", -1)])
BinaryCrossentropy = _wrapper("BinaryCrossentropy", binary_crossentropy, "binary_crossentropy",
                              [("from_logits", False), ("label_smoothing", 0.0), ("axis", -1)])
BinaryFocalCrossentropy = _wrapper("BinaryFocalCrossentropy", binary_focal_crossentropy, "binary_focal_crossentropy",
                                   [("apply_class_balancing", False), ("alpha", 0.25), ("gamma", 2.0),
                                    ("from_logits", False), ("label_smoothing", 0.0), ("axis", -1)])
CategoricalFocalCrossentropy = _wrapper("CategoricalFocalCrossentropy", categorical_focal_crossentropy,
                                        "categorical_focal_crossentropy",
                                        [("alpha", 0.25), ("gamma", 2.0), ("from_logits", False),
                                         ("label_smoothing", 0.0), ("axis", -1)])
SparseCategoricalCrossentropy = _wrapper("SparseCategoricalCrossentropy", sparse_categorical_crossentropy,
                                         "sparse_categorical_crossentropy",
                                         [("from_logits", False), ("ignore_class", None)], target_dtype=np.int32)


def _cfg_huber(self):  # Keras 3.15's Huber.get_config omits delta; we keep it so a reload keeps it
    c = Loss.get_config(self)
    c["delta"] = self.delta
    return c


Huber.get_config = _cfg_huber


def _cfg_drop(keys):
    def get_config(self):
        c = LossFunctionWrapper.get_config(self)
        for k in keys:
            c.pop(k, None)
        return c
    return get_config


for _c in (MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError, LogCosh,
           KLDivergence, Poisson, Hinge, SquaredHinge, CategoricalHinge):
    _c.get_config = _cfg_drop(())

mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kl_divergence
logcosh = log_cosh

_NAMES = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError, "MSE": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError, "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "MAPE": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError, "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "MSLE": MeanSquaredLogarithmicError,
    "huber": Huber, "huber_loss": Huber,
    "log_cosh": LogCosh, "logcosh": LogCosh,
    "kld": KLDivergence, "kl_divergence": KLDivergence, "KLD": KLDivergence,
    "poisson": Poisson, "hinge": Hinge, "squared_hinge": SquaredHinge, "categorical_hinge": CategoricalHinge,
    "cosine_similarity": CosineSimilarity,
    "binary_focal_crossentropy": BinaryFocalCrossentropy,
    "categorical_focal_crossentropy": CategoricalFocalCrossentropy,
}
_CLASSES = {c.__name__: c for c in set(_NAMES.values())}
_FN_TO_CLASS = {sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
                categorical_crossentropy: CategoricalCrossentropy, binary_crossentropy: BinaryCrossentropy,
                mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError, huber: Huber,
                mean_absolute_percentage_error: MeanAbsolutePercentageError,
                mean_squared_logarithmic_error: MeanSquaredLogarithmicError, log_cosh: LogCosh,
                kl_divergence: KLDivergence, poisson: Poisson, hinge: Hinge, squared_hinge: SquaredHinge,
                categorical_hinge: CategoricalHinge, cosine_similarity: CosineSimilarity,
                binary_focal_crossentropy: BinaryFocalCrossentropy,
                categorical_focal_crossentropy: CategoricalFocalCrossentropy}


def _numpy_out(fn):
    """Function form: NumPy in -> NumPy out; tensors in -> EagerTensor (recorded)."""
    import functools

    @functools.wraps(fn)
    def f(y_true, y_pred, **kw):
        numpy_in = not isinstance(y_pred, (ag.EagerTensor, _C.Tensor))
        v = fn(y_true, y_pred, **kw)
        if numpy_in:
            return np.array(v.numpy(), copy=True)
        return v
    return f


_WRAPPED = {f: _numpy_out(f) for f in _FN_TO_CLASS}
for _n, _f in list(globals().items()):
    if callable(_f) and not isinstance(_f, type) and _f in _WRAPPED:
        globals()[_n] = _WRAPPED[_f]
_FN_TO_CLASS = {_WRAPPED[f]: c for f, c in _FN_TO_CLASS.items()}
del _n, _f


_FN_NAMES = {"mse": mse, "mean_squared_error": mse, "mae": mae, "mean_absolute_error": mae, "mape": mape,
             "mean_absolute_percentage_error": mape, "msle": msle, "mean_squared_logarithmic_error": msle,
             "kld": kld, "kl_divergence": kld, "huber": huber, "log_cosh": log_cosh, "poisson": poisson,
             "hinge": hinge, "squared_hinge": squared_hinge, "categorical_hinge": categorical_hinge,
             "cosine_similarity": cosine_similarity, "binary_crossentropy": binary_crossentropy,
             "categorical_crossentropy": categorical_crossentropy,
             "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
             "binary_focal_crossentropy": binary_focal_crossentropy,
             "categorical_focal_crossentropy": categorical_focal_crossentropy}


class _FnLoss(Loss):
    """A user function (y_true, y_pred) -> per-sample EagerTensor, built from ops."""

    def __init__(self, fn):
        super().__init__(name=getattr(fn, "__name__", "loss"))
        self.fn = fn

    def call(self, y_true, y_pred):
        t = y_true if isinstance(y_true, ag.EagerTensor) else ag.EagerTensor(y_true) \
            if isinstance(y_true, _C.Tensor) else y_true
        v = ag.as_eager(self.fn(t, y_pred))
        return v if v.ndim >= 1 else ag.reshape(v, [1])

    def per_sample(self, y_pred, y_true):
        v = ag.as_eager(self.fn(ag.EagerTensor(y_true) if isinstance(y_true, _C.Tensor) else y_true, y_pred))
        self._pcn_inner, self._pcn_mask_scale = 1, 1.0
        if v.ndim == 0:
            return ag.reshape(v, [1])
        if v.ndim > 1:
            v = ag.reduce("mean", v, list(range(1, v.ndim)))
        return v


def get(identifier):
    """As keras.losses.get: a function name ("mse") gives the function, a class name
    ("MeanSquaredError") an instance, a dict a deserialized instance."""
    if isinstance(identifier, str) and identifier in _FN_NAMES:
        return _FN_NAMES[identifier]
    return _resolve(identifier)


def _resolve(identifier):
    """A Loss instance from a name, class, instance or function (y_true, y_pred) (compile's view)."""
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
