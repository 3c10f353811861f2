"""Float64 finite-difference gradient checks.

numeric_grad(f, x) returns d(sum(f(x) * g_out))/dx by central differences, where
f maps a float64 array to a float64 array. The kernels are float32, so checks
compare the kernel's backward (float32) against finite differences of the
float64 reference forward — that verifies the backward formula and its
implementation independently of the forward kernel's rounding.
"""
import numpy as np


def numeric_grad(f, x, g_out, eps=1e-6, indices=None):
    """Central differences of L(x) = sum(f(x) * g_out) w.r.t. x (float64).

    indices: None for every element (tiny shapes), or an iterable of flat
    indices to sample on larger shapes. Returns a dense array (unsampled = NaN).
    """
    x = np.array(x, dtype=np.float64)
    g = np.full(x.shape, np.nan)
    flat = x.reshape(-1)
    gflat = g.reshape(-1)
    idx = range(flat.size) if indices is None else indices
    for i in idx:
        old = flat[i]
        flat[i] = old + eps
        lp = np.sum(f(x) * g_out)
        flat[i] = old - eps
        lm = np.sum(f(x) * g_out)
        flat[i] = old
        gflat[i] = (lp - lm) / (2 * eps)
    return g


def sample_indices(n, k=40, rng=None):
    rng = rng or np.random.default_rng(0)
    return np.unique(rng.integers(0, n, size=min(k, n))) if n > k else np.arange(n)


def assert_grad_close(analytic, numeric, rtol=2e-3, atol=2e-4, what="grad"):
    a = np.asarray(analytic, dtype=np.float64).reshape(-1)
    n = np.asarray(numeric, dtype=np.float64).reshape(-1)
    m = ~np.isnan(n)
    assert m.any(), "%s: no sampled indices" % what
    err = np.abs(a[m] - n[m])
    lim = atol + rtol * np.abs(n[m])
    if (err > lim).any():
        j = int(np.argmax(err - lim))
        i = np.flatnonzero(m)[j]
        raise AssertionError("%s: analytic %r vs numeric %r at flat index %d (err %.3g > %.3g)"
                             % (what, a[i], n[i], i, err[j], lim[j]))
