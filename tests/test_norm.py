"""Batch normalization and LRN against the float64 references, finite
differences, the running-statistics update, the tf.nn wrappers, NaN and bad
inputs."""
import numpy as np
import pytest

import pyconvnet as pcn
import reference as ref
from gradcheck import assert_grad_close, numeric_grad, sample_indices
from tolerance import assert_close

C_ = pcn._C
T = pcn.tensor

BN_SHAPES = [(7, 5), (1, 3), (2, 5, 3, 7), (1, 1, 1, 1), (3, 4, 6, 1), (4, 9, 70), (16, 8, 8, 33)]


def _x(shape, seed, scale=1.0, shift=0.0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * scale + shift).astype(np.float32)


def _opt(v):
    return None if v is None else T(v)


@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("affine", [(True, True), (False, False), (True, False), (False, True)])
def test_batch_norm_train_infer_backward(simd, shape, affine):
    seed = sum(shape)
    x = _x(shape, seed, 2.0, 0.5)
    C = shape[-1]
    g = _x(C, seed + 1) if affine[0] else None
    b = _x(C, seed + 2) if affine[1] else None
    eps = 1e-3
    y, m, v = [t.numpy() for t in C_.batch_norm_forward_train(T(x), _opt(g), _opt(b), eps)]
    ry, rm, rv = ref.batch_norm_forward_train(x, g, b, eps)
    assert_close(m, rm, rtol=1e-5, atol=1e-6, what="mean")
    assert_close(v, rv, rtol=1e-5, atol=1e-6, what="var")
    assert_close(y, ry, rtol=1e-5, atol=1e-5, what="y")
    yi = C_.batch_norm_forward_infer(T(x), _opt(g), _opt(b), T(m), T(v), eps).numpy()
    assert_close(yi, ref.batch_norm_forward_infer(x, g, b, m, v, eps), rtol=1e-5, atol=1e-5, what="y infer")
    dy = _x(shape, seed + 3)
    dx, dg, db = [t.numpy() for t in C_.batch_norm_backward(T(dy), T(x), _opt(g), T(m), T(v), eps)]
    rdx, rdg, rdb = ref.batch_norm_backward(dy, x, g, m, v, eps)
    M = x.size // C
    assert_close(db, rdb, rtol=1e-5, atol=1e-5 * np.sqrt(M), what="dbeta")
    assert_close(dg, rdg, rtol=1e-5, atol=1e-5 * np.sqrt(M), what="dgamma")
    assert_close(dx, rdx, rtol=1e-4, atol=1e-5, what="dx")


@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 3, 2), (1, 2, 1, 4)])
def test_batch_norm_backward_finite_differences(shape):
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal(shape)
    C = shape[-1]
    g, b, eps = rng.standard_normal(C), rng.standard_normal(C), 1e-2
    dy = rng.standard_normal(shape)
    _, m, v = C_.batch_norm_forward_train(T(x.astype(np.float32)), T(g.astype(np.float32)),
                                          T(b.astype(np.float32)), eps)
    dx, dg, db = [t.numpy() for t in C_.batch_norm_backward(T(dy.astype(np.float32)), T(x.astype(np.float32)),
                                                            T(g.astype(np.float32)), m, v, eps)]
    f_x = lambda z: ref.batch_norm_forward_train(z, g, b, eps)[0]  # noqa: E731
    assert_grad_close(dx, numeric_grad(f_x, x, dy), what="batch_norm dx")
    f_g = lambda z: ref.batch_norm_forward_train(x, z, b, eps)[0]  # noqa: E731
    assert_grad_close(dg, numeric_grad(f_g, g, dy), what="batch_norm dgamma")
    f_b = lambda z: ref.batch_norm_forward_train(x, g, z, eps)[0]  # noqa: E731
    assert_grad_close(db, numeric_grad(f_b, b, dy), what="batch_norm dbeta")


def test_batch_norm_no_gamma_gradcheck_sampled():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, 5, 4, 6))
    dy = rng.standard_normal(x.shape)
    _, m, v = C_.batch_norm_forward_train(T(x.astype(np.float32)), None, None, 1e-3)
    dx = C_.batch_norm_backward(T(dy.astype(np.float32)), T(x.astype(np.float32)), None, m, v, 1e-3)[0].numpy()
    f = lambda z: ref.batch_norm_forward_train(z, None, None, 1e-3)[0]  # noqa: E731
    assert_grad_close(dx, numeric_grad(f, x, dy, indices=sample_indices(x.size, 60)), what="batch_norm dx")


def test_batch_norm_statistics_accurate_over_large_batches():
    # 2M rows, large mean: a float32 running sum would be off by ~1e-3 relative.
    x = _x((2_000_000, 2), 5, 0.1, 1000.0)
    _, m, v = C_.batch_norm_forward_train(T(x), None, None, 0.0)
    xd = x.astype(np.float64)
    assert_close(m.numpy(), xd.mean(0), rtol=1e-7, atol=0)
    assert_close(v.numpy(), xd.var(0), rtol=1e-5, atol=0)


def test_batch_norm_update_running():
    rng = np.random.default_rng(3)
    rm0, rv0 = rng.standard_normal(6).astype(np.float32), rng.random(6).astype(np.float32)
    bm, bv = rng.standard_normal(6).astype(np.float32), rng.random(6).astype(np.float32)
    rm, rv = T(rm0), T(rv0)
    out = C_.batch_norm_update_running_(rm, rv, T(bm), T(bv), 0.9)
    assert out is None
    assert_close(rm.numpy(), ref.batch_norm_update_running(rm0, bm, 0.9), rtol=1e-6, atol=1e-7)
    assert_close(rv.numpy(), ref.batch_norm_update_running(rv0, bv, 0.9), rtol=1e-6, atol=1e-7)
    # Keras 3 semantics end to end: moving variance tracks the biased batch variance.
    x = _x((10, 4), 1)
    _, m, v = C_.batch_norm_forward_train(T(x), None, None, 1e-3)
    rm, rv = T(np.zeros(4, np.float32)), T(np.ones(4, np.float32))
    C_.batch_norm_update_running_(rm, rv, m, v, 0.99)
    assert_close(rv.numpy(), 0.99 + 0.01 * x.astype(np.float64).var(0), rtol=1e-6, atol=1e-7)


def test_batch_norm_nan_stays_in_its_channel():
    x = _x((4, 3, 3, 3), 2)
    x[1, 2, 0, 1] = np.nan
    y, m, v = [t.numpy() for t in C_.batch_norm_forward_train(T(x), None, None, 1e-3)]
    assert np.isnan(m[1]) and np.isnan(v[1]) and np.isnan(y[..., 1]).all()
    assert np.isfinite(y[..., [0, 2]]).all()
    dx, dg, db = C_.batch_norm_backward(T(np.ones_like(x)), T(x), None, T(m), T(v), 1e-3)
    assert np.isfinite(dx.numpy()[..., 0]).all() and np.isnan(dx.numpy()[..., 1]).all()


# ------------------------------------------------------------------ tf.nn wrappers
def test_batch_normalization_wrapper():
    x = _x((2, 3, 4, 5), 4)
    m, v = x.mean((0, 1, 2)), x.var((0, 1, 2))
    off, sc = _x(5, 5), _x(5, 6)
    r = ref.batch_norm_forward_infer(x, sc, off, m, v, 1e-3)
    assert_close(pcn.nn.batch_normalization(x, m, v, off, sc, 1e-3), r, rtol=1e-5, atol=1e-5)
    # keepdims-shaped statistics (as moments(..., keepdims=True) returns) and None offset/scale
    r2 = ref.batch_norm_forward_infer(x, None, None, m, v, 1e-3)
    y2 = pcn.nn.batch_normalization(T(x), m.reshape(1, 1, 1, 5), v.reshape(1, 1, 1, 5), None, None, 1e-3)
    assert isinstance(y2, pcn.Tensor)
    assert_close(y2.numpy(), r2, rtol=1e-5, atol=1e-5)
    # scalar statistics broadcast over the channels, as in tf.nn
    r3 = ref.batch_norm_forward_infer(x, np.full(5, 2.0), None, np.full(5, 0.5), np.full(5, 3.0), 1e-3)
    assert_close(pcn.nn.batch_normalization(x, 0.5, np.float32(3.0), None, 2.0, 1e-3), r3, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("axes,keepdims", [([0, 1, 2], False), ([0], False), ([1, 2], True), ([-1], False),
                                           ([0, 2], True), (1, False), ([0, 1, 2, 3], False)])
def test_moments(axes, keepdims):
    x = _x((3, 4, 5, 6), 8, 3.0, 2.0)
    m, v = pcn.nn.moments(x, axes, keepdims=keepdims)
    ax = tuple(axes) if isinstance(axes, list) else axes
    xd = x.astype(np.float64)
    assert_close(m, xd.mean(ax, keepdims=keepdims), rtol=1e-5, atol=1e-6)
    assert_close(v, xd.var(ax, keepdims=keepdims), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ LRN
def _lrn_direct(x, r, bias, alpha, beta):
    """TF's documented formula, vectorized: zero-pad the squares along C, sliding-window sum."""
    x = np.asarray(x, np.float64)
    sq = np.pad(x ** 2, [(0, 0)] * (x.ndim - 1) + [(r, r)])
    win = np.lib.stride_tricks.sliding_window_view(sq, 2 * r + 1, axis=-1).sum(-1)
    return x / (bias + alpha * win) ** beta


LRN_CASES = [((2, 3, 4, 7), 5, 1.0, 1.0, 0.5), ((1, 2, 2, 1), 5, 1.0, 1.0, 0.5), ((2, 2, 3, 16), 2, 2.0, 1e-4, 0.75),
             ((1, 3, 3, 12), 0, 1.5, 0.5, 1.0), ((2, 1, 2, 80), 40, 1.0, 0.01, 0.6), ((3, 2, 2, 9), 100, 0.5, 0.2, 0.3)]


@pytest.mark.parametrize("case", range(len(LRN_CASES)))
def test_lrn_matches_reference_and_formula(simd, case):
    shape, r, bias, alpha, beta = LRN_CASES[case]
    x = _x(shape, case)
    y = C_.lrn_forward(T(x), r, bias, alpha, beta).numpy()
    ry = ref.lrn_forward(x, r, bias, alpha, beta)
    assert_close(y, ry, rtol=1e-5, atol=1e-6)
    assert_close(ry, _lrn_direct(x, r, bias, alpha, beta), rtol=1e-12, atol=1e-12, what="reference vs formula")
    dy = _x(shape, case + 50)
    dx = C_.lrn_backward(T(dy), T(x), r, bias, alpha, beta).numpy()
    assert_close(dx, ref.lrn_backward(dy, x, r, bias, alpha, beta), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", range(len(LRN_CASES)))
def test_lrn_backward_finite_differences(case):
    shape, r, bias, alpha, beta = LRN_CASES[case]
    rng = np.random.default_rng(case)
    x = rng.standard_normal(shape)
    dy = rng.standard_normal(shape)
    dx = C_.lrn_backward(T(dy.astype(np.float32)), T(x.astype(np.float32)), r, bias, alpha, beta).numpy()
    f = lambda z: ref.lrn_forward(z, r, bias, alpha, beta)  # noqa: E731
    assert_grad_close(dx, numeric_grad(f, x, dy, indices=sample_indices(x.size, 60)), what="lrn dx")


def test_lrn_wrapper_defaults_and_alias():
    x = _x((2, 3, 3, 11), 12)
    r = ref.lrn_forward(x)  # depth_radius=5, bias=1, alpha=1, beta=0.5
    assert_close(pcn.nn.local_response_normalization(x), r, rtol=1e-5, atol=1e-6)
    assert_close(pcn.nn.lrn(T(x), 2, 1.0, 1e-3, 0.75).numpy(), ref.lrn_forward(x, 2, 1.0, 1e-3, 0.75),
                 rtol=1e-5, atol=1e-6)


def test_lrn_nan_stays_within_radius():
    x = _x((1, 2, 2, 12), 13)
    x[0, 1, 0, 6] = np.nan
    y = pcn.nn.lrn(x, depth_radius=2)
    bad = np.isnan(y)
    assert bad[0, 1, 0, 4:9].all() and bad.sum() == 5


# ------------------------------------------------------------------ bad inputs
f32 = lambda *s: pcn.from_numpy(np.ones(s, np.float32))  # noqa: E731  (pcn.tensor trips on some empty shapes)

BAD = [
    (lambda: C_.batch_norm_forward_train(f32(5), None, None, 1e-3), ValueError, "batch_norm"),
    (lambda: C_.batch_norm_forward_train(f32(0, 3), None, None, 1e-3), ValueError, "batch_norm"),
    (lambda: C_.batch_norm_forward_train(f32(4, 0), None, None, 1e-3), ValueError, "batch_norm"),
    (lambda: C_.batch_norm_forward_train(f32(4, 3), f32(4), None, 1e-3), ValueError, "batch_norm"),
    (lambda: C_.batch_norm_forward_train(f32(4, 3), None, f32(3, 1), 1e-3), ValueError, "batch_norm"),
    (lambda: C_.batch_norm_forward_train(f32(4, 3), None, None, -1e-3), ValueError, "batch_norm"),
    (lambda: C_.batch_norm_forward_train(f32(4, 3), None, None, float("nan")), ValueError, "batch_norm"),
    (lambda: C_.batch_norm_forward_train(T(np.ones((4, 3), np.int32)), None, None, 1e-3), TypeError, "batch_norm"),
    (lambda: C_.batch_norm_forward_train(f32(4, 3), T(np.ones(3, np.int64)), None, 1e-3), TypeError, "batch_norm"),
    (lambda: C_.batch_norm_forward_infer(f32(2, 2, 2, 3), None, None, f32(3), f32(2), 1e-3), ValueError,
     "batch_norm"),
    (lambda: C_.batch_norm_forward_infer(f32(2, 2, 2, 3), None, None, f32(4), f32(3), 1e-3), ValueError,
     "batch_norm"),
    (lambda: C_.batch_norm_backward(f32(4, 4), f32(4, 3), None, f32(3), f32(3), 1e-3), ValueError, "batch_norm"),
    (lambda: C_.batch_norm_backward(f32(4, 3), f32(4, 3), f32(2), f32(3), f32(3), 1e-3), ValueError, "batch_norm"),
    (lambda: C_.batch_norm_backward(T(np.ones((4, 3), np.uint8)), f32(4, 3), None, f32(3), f32(3), 1e-3), TypeError,
     "batch_norm"),
    (lambda: C_.batch_norm_update_running_(f32(3), f32(4), f32(3), f32(3), 0.9), ValueError, "batch_norm"),
    (lambda: C_.batch_norm_update_running_(f32(3), f32(3), f32(3), f32(3), float("inf")), ValueError, "batch_norm"),
    (lambda: C_.batch_norm_update_running_(f32(3, 1), f32(3), f32(3), f32(3), 0.9), ValueError, "batch_norm"),
    (lambda: pcn.nn.batch_normalization(np.ones((2, 3)), np.ones(4), np.ones(3), None, None, 1e-3), ValueError,
     "batch_norm"),
    (lambda: pcn.nn.batch_normalization(np.array([["a"]]), np.ones(1), np.ones(1), None, None, 1e-3), TypeError,
     "batch_norm"),
    (lambda: pcn.nn.moments(np.ones((2, 3)), [2]), ValueError, "moments"),
    (lambda: pcn.nn.moments(np.ones((0, 3)), [0]), ValueError, "moments"),
    (lambda: C_.lrn_forward(f32(2, 3, 4), 5, 1.0, 1.0, 0.5), ValueError, "lrn"),
    (lambda: C_.lrn_forward(f32(1, 2, 2, 3), -1, 1.0, 1.0, 0.5), ValueError, "lrn"),
    (lambda: C_.lrn_forward(f32(1, 2, 2, 0), 2, 1.0, 1.0, 0.5), ValueError, "lrn"),
    (lambda: C_.lrn_forward(f32(1, 2, 2, 3), 2, float("nan"), 1.0, 0.5), ValueError, "lrn"),
    (lambda: C_.lrn_forward(T(np.ones((1, 2, 2, 3), np.int32)), 2, 1.0, 1.0, 0.5), TypeError, "lrn"),
    (lambda: C_.lrn_backward(f32(1, 2, 2, 4), f32(1, 2, 2, 3), 2, 1.0, 1.0, 0.5), ValueError, "lrn"),
    (lambda: C_.lrn_backward(T(np.ones((1, 2, 2, 3), np.int64)), f32(1, 2, 2, 3), 2, 1.0, 1.0, 0.5), TypeError,
     "lrn"),
    (lambda: pcn.nn.lrn(np.ones((1, 2, 2, 3)), depth_radius=2.5), TypeError, "lrn"),
    (lambda: pcn.nn.lrn(np.array([[[["x"]]]])), TypeError, "lrn"),
]


@pytest.mark.parametrize("i", range(len(BAD)))
def test_bad_inputs_raise_naming_the_op(i):
    fn, exc, name = BAD[i]
    with pytest.raises(exc, match=name):
        fn()


def test_random_bad_calls_survive():
    rng = np.random.default_rng(77)
    ok = bad = 0
    for it in range(300):
        nd = int(rng.integers(1, 6))
        shape = [int(v) for v in rng.integers(0, 5, size=nd)]
        C = shape[-1]
        cvec = lambda: pcn.from_numpy(np.ones(int(rng.choice([C, C, C, C + 1, max(C - 1, 0)])), np.float32))  # noqa
        x = pcn.from_numpy(np.ones(shape, np.float32))
        which = int(rng.integers(4))
        try:
            if which == 0:
                out = C_.batch_norm_forward_train(x, cvec() if rng.random() < .5 else None, None,
                                                  float(rng.choice([1e-3, 0.0, -1.0])))[0]
            elif which == 1:
                out = C_.batch_norm_forward_infer(x, None, cvec(), cvec(), cvec(), 1e-3)
            elif which == 2:
                out = C_.batch_norm_backward(x, x, cvec(), cvec(), cvec(), 1e-3)[0]
            else:
                out = C_.lrn_forward(x, int(rng.integers(-1, 4)), 1.0, 1.0, 0.5)
            assert tuple(out.shape) == tuple(shape)
            ok += 1
        except (ValueError, TypeError) as e:
            assert "batch_norm" in str(e) or "lrn" in str(e), str(e)
            bad += 1
    assert ok > 10 and bad > 50
