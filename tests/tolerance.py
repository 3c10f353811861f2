"""Explicit, principled tolerances: |a - r| <= atol + rtol * |r| elementwise.
A failure reports the worst index and both values. NaN in `a` where `r` is
finite always fails (that is how a poisoned, unwritten output is caught)."""
import numpy as np

F32 = dict(rtol=1e-4, atol=1e-5)


def assert_close(actual, ref, rtol=1e-4, atol=1e-5, what="output"):
    a = np.asarray(actual, dtype=np.float64)
    r = np.asarray(ref, dtype=np.float64)
    assert a.shape == r.shape, "%s: shape %s != reference %s" % (what, a.shape, r.shape)
    if a.size == 0:
        return
    bad_nan = np.isnan(a) & ~np.isnan(r)
    if bad_nan.any():
        idx = np.unravel_index(np.argmax(bad_nan), a.shape)
        raise AssertionError("%s: NaN at %s (reference %r) - unwritten or invalid element" % (what, idx, r[idx]))
    err = np.abs(a - r)
    lim = atol + rtol * np.abs(r)
    excess = np.where(np.isnan(r), 0, err - lim)
    if (excess > 0).any():
        idx = np.unravel_index(np.argmax(excess), a.shape)
        raise AssertionError("%s: |a-r| > atol + rtol*|r| at %s: got %r, reference %r (err %.3g, allowed %.3g); "
                             "%d of %d elements out" % (what, idx, a[idx], r[idx], err[idx], lim[idx],
                                                        int((excess > 0).sum()), a.size))


def scaled_tol(ref, k, eps=np.finfo(np.float32).eps):
    """atol for a float32 sum of k terms of magnitude ~|ref|: a few ulps * sqrt(k)."""
    scale = float(np.max(np.abs(ref))) if np.size(ref) else 1.0
    return 8 * eps * np.sqrt(max(k, 1)) * max(scale, 1e-30)
