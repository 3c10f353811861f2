"""Float64 references: norm family (the spec).

Batch norm normalizes over every axis but the last (channels-last); the batch
variance is biased (divide by the count), as Keras 3 uses it both to normalize
and to update the moving variance. LRN is tf.nn.local_response_normalization.
"""
import numpy as np

__all__ = ["batch_norm_forward_train", "batch_norm_forward_infer", "batch_norm_backward",
           "batch_norm_update_running", "lrn_forward", "lrn_backward"]


def _axes(x):
    return tuple(range(x.ndim - 1))


def batch_norm_forward_infer(x, gamma, beta, mean, var, eps):
    x = np.asarray(x, np.float64)
    y = (x - np.asarray(mean, np.float64)) / np.sqrt(np.asarray(var, np.float64) + eps)
    if gamma is not None:
        y = y * np.asarray(gamma, np.float64)
    if beta is not None:
        y = y + np.asarray(beta, np.float64)
    return y


def batch_norm_forward_train(x, gamma, beta, eps):
    """(y, mean, var) with biased batch variance."""
    x = np.asarray(x, np.float64)
    mean = x.mean(axis=_axes(x))
    var = ((x - mean) ** 2).mean(axis=_axes(x))
    return batch_norm_forward_infer(x, gamma, beta, mean, var, eps), mean, var


def batch_norm_backward(dy, x, gamma, mean, var, eps):
    """(dx, dgamma, dbeta) of the training-mode forward (batch statistics)."""
    x = np.asarray(x, np.float64)
    dy = np.asarray(dy, np.float64)
    ax = _axes(x)
    m = x.size // x.shape[-1]
    istd = 1.0 / np.sqrt(np.asarray(var, np.float64) + eps)
    xhat = (x - np.asarray(mean, np.float64)) * istd
    g = np.ones(x.shape[-1]) if gamma is None else np.asarray(gamma, np.float64)
    dbeta = dy.sum(axis=ax)
    dgamma = (dy * xhat).sum(axis=ax)
    dx = g * istd / m * (m * dy - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta


def batch_norm_update_running(running, batch, momentum):
    return np.asarray(running, np.float64) * momentum + np.asarray(batch, np.float64) * (1.0 - momentum)


def lrn_forward(x, depth_radius=5, bias=1.0, alpha=1.0, beta=0.5):
    """sqr_sum[a,b,c,d] = sum(x[a,b,c,d-r:d+r+1]**2); y = x / (bias + alpha*sqr_sum)**beta."""
    x = np.asarray(x, np.float64)
    C = x.shape[-1]
    y = np.empty_like(x)
    for d in range(C):
        lo, hi = max(0, d - depth_radius), min(C, d + depth_radius + 1)
        s = (x[..., lo:hi] ** 2).sum(axis=-1)
        y[..., d] = x[..., d] / (bias + alpha * s) ** beta
    return y


def lrn_backward(dy, x, depth_radius=5, bias=1.0, alpha=1.0, beta=0.5):
    """Chain rule written out per (output d, input j) pair: plain loops."""
    x = np.asarray(x, np.float64)
    dy = np.asarray(dy, np.float64)
    C = x.shape[-1]
    n = np.empty_like(x)
    for d in range(C):
        lo, hi = max(0, d - depth_radius), min(C, d + depth_radius + 1)
        n[..., d] = bias + alpha * (x[..., lo:hi] ** 2).sum(axis=-1)
    dx = dy * n ** (-beta)
    for d in range(C):
        lo, hi = max(0, d - depth_radius), min(C, d + depth_radius + 1)
        common = dy[..., d] * x[..., d] * (-beta) * n[..., d] ** (-beta - 1) * alpha * 2
        for j in range(lo, hi):
            dx[..., j] += common * x[..., j]
    return dx
