"""Float64 references: loss family (the spec; plain NumPy, Keras 3 semantics).

All forwards return the per-sample loss; the class / last axis is reduced.
"""
import numpy as np

EPS = 1e-7


def _dense(labels, C):
    labels = np.asarray(labels)
    if labels.dtype.kind in "iu":
        return np.eye(C)[labels]
    return labels.astype(np.float64)


def softmax_cross_entropy(logits, labels):
    z = np.asarray(logits, np.float64)
    t = _dense(labels, z.shape[-1])
    m = z.max(-1, keepdims=True)
    lse = m + np.log(np.exp(z - m).sum(-1, keepdims=True))
    return (t * (lse - z)).sum(-1)


def crossentropy_probs(probs, labels):
    p = np.asarray(probs, np.float64)
    t = _dense(labels, p.shape[-1])
    q = np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    return -(t * np.log(q)).sum(-1)


def binary_crossentropy(pred, target, from_logits):
    y = np.asarray(pred, np.float64)
    t = np.asarray(target, np.float64)
    if from_logits:
        e = np.maximum(y, 0) - y * t + np.log1p(np.exp(-np.abs(y)))
    else:
        q = np.clip(y, EPS, 1 - EPS)
        e = -(t * np.log(q) + (1 - t) * np.log(1 - q))
    return e.mean(-1)


def mse(pred, target):
    return ((np.asarray(pred, np.float64) - target) ** 2).mean(-1)


def mae(pred, target):
    return np.abs(np.asarray(pred, np.float64) - target).mean(-1)


def huber(pred, target, delta=1.0):
    e = np.abs(np.asarray(pred, np.float64) - target)
    return np.where(e <= delta, 0.5 * e * e, delta * e - 0.5 * delta * delta).mean(-1)
