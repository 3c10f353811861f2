"""Pooling (max/avg, spatial + depth windows, global) against the float64
reference, finite-difference gradients, TF "same" arithmetic, ties, NaN, and
bad inputs."""
import numpy as np
import pytest

import pyconvnet as pcn
import reference as ref
from gradcheck import assert_grad_close, numeric_grad, sample_indices
from conftest import SIMD_LEVELS
from tolerance import assert_close

C_ = pcn._C
T = pcn.tensor

# (x shape, ksize (kh,kw[,kc]), strides, padding)
CASES = [
    ((2, 6, 6, 4), (2, 2), (2, 2), "valid"),             # the classic 2x2/2
    ((1, 7, 5, 3), (3, 3), (2, 2), "same"),              # batch 1, odd, non-square input
    ((2, 8, 8, 5), (3, 3), (2, 2), "same"),              # "same", stride 2, even size
    ((3, 7, 9, 1), (3, 2), (1, 2), "same"),              # one channel, non-square window
    ((2, 9, 8, 3), (2, 2), (3, 3), "valid"),             # stride > window
    ((1, 5, 7, 2), (2, 3), (4, 1), "SAME"),              # stride > window, upper-case padding
    ((2, 6, 7, 3), (3, 3), (1, 1), [1, 0, 2, 1]),        # explicit asymmetric
    ((1, 4, 5, 2), (2, 2), (2, 2), [3, 2, 2, 4]),        # padding >= window: all-pad windows
    ((2, 5, 4, 9), (1, 1, 3), (1, 1, 3), "valid"),       # depth pooling (1,1,1,3) on C=9
    ((2, 4, 5, 9), (1, 1, 3), (1, 1, 2), "valid"),       # depth stride 2 (overlapping depth windows)
    ((1, 6, 5, 8), (2, 2, 2), (2, 1, 2), "same"),        # spatial + depth together
    ((2, 5, 5, 7), (3, 2, 3), (2, 2, 1), [1, 1, 0, 1]),  # spatial (overlapping in H) + overlapping depth
    ((1, 3, 3, 70), (2, 2), (1, 1), "valid"),            # C > 64: channel chunking in backward
    ((4, 3, 2, 3), (3, 2), (1, 1), "valid"),             # window == input
]


def _x(shape, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape).astype(np.float32)


def _distinct(shape, seed):
    """Values at least 0.05 apart: finite differences never cross a tie."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return (rng.permutation(n).astype(np.float64) * 0.05 - n * 0.025).reshape(shape)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_pool2d_forward_backward_match_reference(simd, mode, case):
    shape, k, s, pad = CASES[case]
    x = _x(shape, case)
    y = C_.pool2d_forward(T(x), mode, k, s, pad).numpy()
    r = ref.pool2d_forward(x, mode, k, s, pad)
    assert y.shape == ref.pool2d_out_shape(shape, k, s, pad)
    assert_close(y, r, rtol=1e-5, atol=1e-6, what="%s y" % mode)
    dy = _x(r.shape, 100 + case)
    dx = C_.pool2d_backward(T(dy), T(x), mode, k, s, pad).numpy()
    assert_close(dx, ref.pool2d_backward(dy, x, mode, k, s, pad), rtol=1e-5, atol=1e-5, what="%s dx" % mode)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("case", [1, 3, 4, 6, 7, 9, 11])
def test_pool2d_backward_finite_differences(mode, case):
    shape, k, s, pad = CASES[case]
    x = _distinct(shape, case)
    f = lambda z: ref.pool2d_forward(z, mode, k, s, pad)  # noqa: E731
    g = np.random.default_rng(case).standard_normal(f(x).shape)
    dx = C_.pool2d_backward(T(g.astype(np.float32)), T(x.astype(np.float32)), mode, k, s, pad).numpy()
    idx = sample_indices(x.size, k=60)
    assert_grad_close(dx, numeric_grad(f, x, g, eps=1e-4, indices=idx), what="%s_pool dx" % mode)


@pytest.mark.parametrize("H,W", [(5, 5), (6, 6), (7, 8), (8, 7), (1, 9), (10, 3)])
@pytest.mark.parametrize("k,s", [(1, 2), (2, 2), (3, 2), (3, 1), (4, 3), (2, 5)])
def test_same_padding_matches_tf_rule_via_torch(H, W, k, s):
    """TF 'same': out = ceil(in/s), pad_total = max((out-1)*s + k - in, 0), the
    extra element at the bottom/right; max pooling ignores the pad (-inf)."""
    torch = pytest.importorskip("torch")
    x = _x((2, H, W, 3), H * 100 + W * 10 + k)
    y = pcn.nn.max_pool(x, k, s, "SAME")
    oh, ow = -(-H // s), -(-W // s)
    assert y.shape == (2, oh, ow, 3)
    ph, pw = max((oh - 1) * s + k - H, 0), max((ow - 1) * s + k - W, 0)
    xt = torch.from_numpy(x).permute(0, 3, 1, 2)
    xt = torch.nn.functional.pad(xt, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), value=-float("inf"))
    yt = torch.nn.functional.max_pool2d(xt, k, s).permute(0, 2, 3, 1).numpy()
    np.testing.assert_array_equal(y, yt)


def test_avg_same_by_hand():
    """3x3 input 1..9, 2x2/2 'SAME': pad 0 top/left, 1 bottom/right; divide by the non-pad count."""
    x = np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3, 1)
    y = pcn.nn.avg_pool(x, 2, 2, "SAME")
    np.testing.assert_allclose(y[0, :, :, 0], [[3.0, 4.5], [7.5, 9.0]], rtol=1e-6)
    ym = pcn.nn.max_pool(x, 2, 2, "SAME")
    np.testing.assert_array_equal(ym[0, :, :, 0], [[5, 6], [8, 9]])


def test_depth_pooling_shape_and_values():
    x = _x((2, 3, 4, 9), 7)
    y = pcn.nn.max_pool(x, [1, 1, 1, 3], [1, 1, 1, 3], "VALID")
    assert y.shape == (2, 3, 4, 3)
    np.testing.assert_array_equal(y, x.reshape(2, 3, 4, 3, 3).max(axis=-1))
    y2 = pcn.nn.avg_pool(x, [1, 1, 1, 3], [1, 1, 1, 2], "VALID")
    assert y2.shape == (2, 3, 4, 4)  # (9 - 3) // 2 + 1
    assert_close(y2[..., 1], x[..., 2:5].mean(axis=-1), rtol=1e-6, atol=1e-6)


def test_ties_route_to_first_maximum():
    # All-equal 2x2 window: the whole gradient goes to the top-left element.
    x = np.ones((1, 2, 2, 1), np.float32)
    dx = C_.pool2d_backward(T(np.full((1, 1, 1, 1), 3.0, np.float32)), T(x), "max", (2, 2), (1, 1), "valid").numpy()
    np.testing.assert_array_equal(dx[0, :, :, 0], [[3, 0], [0, 0]])
    # Overlapping all-zero windows: each routes to its own first element and they accumulate.
    x = np.zeros((2, 5, 6, 3), np.float32)
    for k, s, pad in [((3, 3), (1, 1), "valid"), ((2, 3, 2), (1, 2, 1), "same"), ((3, 2), (2, 1), [1, 1, 1, 1])]:
        y = ref.pool2d_forward(x, "max", k, s, pad)
        dy = _x(y.shape, 3)
        dx = C_.pool2d_backward(T(dy), T(x), "max", k, s, pad).numpy()
        assert_close(dx, ref.pool2d_backward(dy, x, "max", k, s, pad), rtol=1e-6, atol=1e-6)
    # Ties between distinct positions inside a window of random integers.
    xi = np.random.default_rng(5).integers(0, 3, (2, 6, 6, 5)).astype(np.float32)
    dy = _x((2, 5, 5, 5), 9)
    assert_close(C_.pool2d_backward(T(dy), T(xi), "max", (2, 2), (1, 1), "valid").numpy(),
                 ref.pool2d_backward(dy, xi, "max", (2, 2), (1, 1), "valid"), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_all_padding_windows_give_zero_not_nan(mode):
    x = np.ones((1, 2, 2, 2), np.float32) * 4
    y = C_.pool2d_forward(T(x), mode, (2, 2), (2, 2), [2, 2, 2, 2]).numpy()
    assert y.shape == (1, 3, 3, 2)
    expect = np.zeros((3, 3, 2), np.float32)
    expect[1, 1] = 4
    np.testing.assert_array_equal(y[0], expect)
    dy = np.ones(y.shape, np.float32)
    dx = C_.pool2d_backward(T(dy), T(x), mode, (2, 2), (2, 2), [2, 2, 2, 2]).numpy()
    assert np.isfinite(dx).all()
    assert dx.sum() == pytest.approx(2.0)


def test_nan_propagates():
    """A NaN in a max window gives NaN (like TF / NumPy max); avg too. Max
    backward sends that window's gradient to the (first) NaN position."""
    x = _x((1, 6, 6, 2), 11)
    x[0, 2, 3, 1] = np.nan
    for mode in ("max", "avg"):
        y = pcn.nn.max_pool(x, 2, 2, "VALID") if mode == "max" else pcn.nn.avg_pool(x, 2, 2, "VALID")
        assert np.isnan(y[0, 1, 1, 1])
        assert np.isnan(y).sum() == 1
    dy = np.ones((1, 3, 3, 2), np.float32)
    dx = C_.pool2d_backward(T(dy), T(x), "max", (2, 2), (2, 2), "valid").numpy()
    assert dx[0, 2, 3, 1] == 1.0 and np.isfinite(dx).all()
    # A NaN that is not the first element of its window still wins.
    x2 = np.array([5.0, np.nan, 7.0, np.nan], np.float32).reshape(1, 2, 2, 1)
    assert np.isnan(pcn.nn.max_pool(x2, 2, 2, "VALID")).all()
    dx2 = C_.pool2d_backward(T(np.ones((1, 1, 1, 1), np.float32)), T(x2), "max", (2, 2), (2, 2), "valid").numpy()
    np.testing.assert_array_equal(dx2.reshape(-1), [0, 1, 0, 0])
    g = pcn.nn.global_max_pool(x)
    assert np.isnan(g[0, 1]) and np.isfinite(g[0, 0])


@pytest.mark.parametrize("shape", [(2, 5, 7, 3), (1, 1, 1, 1), (3, 4, 4, 70), (1, 9, 2, 1)])
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_global_pool(simd, shape, mode):
    x = _x(shape, sum(shape))
    y = C_.global_pool_forward(T(x), mode).numpy()
    assert_close(y, ref.global_pool_forward(x, mode), rtol=1e-6, atol=1e-6)
    dy = _x(y.shape, 1)
    dx = C_.global_pool_backward(T(dy), T(x), mode).numpy()
    assert_close(dx, ref.global_pool_backward(dy, x, mode), rtol=1e-6, atol=1e-7)
    xd = _distinct(shape, 2)
    f = lambda z: ref.global_pool_forward(z, mode)  # noqa: E731
    g = np.random.default_rng(0).standard_normal(y.shape)
    dxg = C_.global_pool_backward(T(g.astype(np.float32)), T(xd.astype(np.float32)), mode).numpy()
    assert_grad_close(dxg, numeric_grad(f, xd, g, eps=1e-4, indices=sample_indices(xd.size, 50)),
                      what="global_%s_pool dx" % mode)
    fn = pcn.nn.global_max_pool if mode == "max" else pcn.nn.global_avg_pool
    assert_close(fn(x), ref.global_pool_forward(x, mode), rtol=1e-6, atol=1e-6)


def test_global_max_ties_first():
    x = np.zeros((1, 2, 3, 2), np.float32)
    dx = C_.global_pool_backward(T(np.array([[2.0, 3.0]], np.float32)), T(x), "max").numpy()
    assert dx[0, 0, 0, 0] == 2 and dx[0, 0, 0, 1] == 3 and dx.sum() == 5


def test_larger_parallel_shape_matches_reference():
    # Big enough to take the OpenMP paths (and the (n, channel-block) backward split).
    x = _x((3, 17, 15, 40), 21)
    for mode in ("max", "avg"):
        for k, s, pad in [((3, 3), (2, 2), "same"), ((3, 3), (1, 1), "valid"), ((2, 2, 3), (1, 1, 2), "same")]:
            y = C_.pool2d_forward(T(x), mode, k, s, pad).numpy()
            assert_close(y, ref.pool2d_forward(x, mode, k, s, pad), rtol=1e-5, atol=1e-6)
            dy = _x(y.shape, 22)
            assert_close(C_.pool2d_backward(T(dy), T(x), mode, k, s, pad).numpy(),
                         ref.pool2d_backward(dy, x, mode, k, s, pad), rtol=1e-5, atol=1e-5)


def test_python_api_forms_and_kinds():
    x = _x((2, 6, 6, 4), 3)
    r = ref.pool2d_forward(x, "max", (2, 2), (2, 2), "valid")
    for ks, st in [(2, 2), ([2], [2]), ((2, 2), (2, 2)), ([1, 2, 2, 1], [1, 2, 2, 1])]:
        assert_close(pcn.nn.max_pool(x, ks, st, "VALID"), r, rtol=0, atol=0)
    assert_close(pcn.nn.max_pool2d(x, 2, 2, "valid"), r, rtol=0, atol=0)
    out = pcn.nn.avg_pool2d(T(x), 3, 1, [[0, 0], [1, 1], [1, 1], [0, 0]])
    assert isinstance(out, pcn.Tensor)
    assert_close(out.numpy(), ref.pool2d_forward(x, "avg", (3, 3), (1, 1), [1, 1, 1, 1]), rtol=1e-5, atol=1e-6)
    assert isinstance(pcn.nn.max_pool(x, 2, 2, "VALID"), np.ndarray)
    assert_close(pcn.nn.max_pool(x, np.array([2, 2]), 2, np.array([[0, 0], [1, 1], [0, 1], [0, 0]])),
                 ref.pool2d_forward(x, "max", (2, 2), (2, 2), [1, 1, 0, 1]), rtol=0, atol=0)
    # float64 and non-contiguous inputs are converted once
    xd = np.random.default_rng(0).standard_normal((2, 8, 6, 4))[:, ::2]
    assert_close(pcn.nn.avg_pool(xd, 2, 1, "SAME"), ref.pool2d_forward(xd.astype(np.float32), "avg", (2, 2), (1, 1),
                                                                     "same"), rtol=1e-5, atol=1e-6)
    # empty batch
    assert pcn.nn.max_pool(np.zeros((0, 4, 4, 2), np.float32), 2, 2, "VALID").shape == (0, 2, 2, 2)


BAD = [
    (lambda: pcn.nn.max_pool(np.ones((4, 4), np.float32), 2, 2, "VALID"), ValueError, "max_pool"),  # rank 3 is a 1-D pool (TF)
    (lambda: pcn.nn.avg_pool(np.ones((1, 4, 4, 2, 1), np.float32), 2, 2, "VALID"), ValueError, "avg_pool"),
    (lambda: pcn.nn.max_pool(np.ones((1, 4, 4, 2), np.float32), 0, 1, "VALID"), ValueError, "max_pool"),
    (lambda: pcn.nn.max_pool(np.ones((1, 4, 4, 2), np.float32), 2, 0, "VALID"), ValueError, "max_pool"),
    (lambda: pcn.nn.avg_pool(np.ones((1, 4, 4, 2), np.float32), -1, 1, "SAME"), ValueError, "avg_pool"),
    (lambda: pcn.nn.max_pool(np.ones((1, 3, 4, 2), np.float32), 4, 1, "VALID"), ValueError, "max_pool"),
    (lambda: pcn.nn.avg_pool(np.ones((1, 3, 4, 2), np.float32), (2, 6), 1, "VALID"), ValueError, "avg_pool"),
    (lambda: pcn.nn.max_pool(np.ones((1, 4, 4, 2), np.float32), [1, 1, 1, 3], [1, 1, 1, 3], "VALID"), ValueError,
     "max_pool"),
    (lambda: pcn.nn.max_pool(np.ones((1, 4, 4, 2), np.float32), [2, 2, 2, 1], 1, "VALID"), ValueError, "max_pool"),
    (lambda: pcn.nn.max_pool(np.ones((1, 4, 4, 2), np.float32), [2, 2, 2], 1, "VALID"), ValueError, "max_pool"),
    (lambda: pcn.nn.max_pool(np.ones((1, 4, 4, 2), np.float32), 2, 1, "FULL"), ValueError, "max_pool"),
    (lambda: pcn.nn.max_pool(np.ones((1, 4, 4, 2), np.float32), 2, 1, [1, -1, 0, 0]), ValueError, "max_pool"),
    (lambda: pcn.nn.max_pool(np.ones((1, 4, 4, 2), np.float32), 2, 1, [1, 1, 0]), ValueError, "max_pool"),
    (lambda: pcn.nn.max_pool(np.ones((1, 4, 4, 2), np.float32), 2, 1, [[1, 0], [0, 0], [0, 0], [0, 0]]),
     ValueError, "max_pool"),
    (lambda: pcn.nn.max_pool(np.ones((1, 1, 1, 1), np.float32), 1, 1, [2 ** 39] * 4), ValueError, "max_pool"),
    (lambda: pcn.nn.max_pool(np.ones((1, 1, 1, 1), np.float32), 1, 1, [2 ** 62] * 4), ValueError, "max_pool"),
    (lambda: pcn.nn.avg_pool(np.ones((1, 1, 1, 1), np.float32), 2 ** 62, 1, "SAME"), ValueError, "avg_pool"),
    (lambda: pcn.nn.max_pool(np.ones((1, 0, 4, 2), np.float32), 1, 1, "VALID"), ValueError, "max_pool"),
    (lambda: pcn.nn.avg_pool(np.ones((1, 4, 4, 0), np.float32), 1, 1, "SAME"), ValueError, "avg_pool"),
    (lambda: pcn.nn.max_pool(np.ones((1, 4, 4, 2), np.float32), 2, 2, "VALID", data_format="NCHW"), ValueError,
     "max_pool"),
    (lambda: pcn.nn.max_pool(np.array([[[["a"]]]]), 1, 1, "VALID"), TypeError, "max_pool"),
    (lambda: pcn.nn.max_pool(np.ones((1, 4, 4, 2)), 2.5, 1, "VALID"), TypeError, "max_pool"),
    (lambda: C_.pool2d_forward(T(np.ones((1, 4, 4, 2), np.int32)), "max", (2, 2), (2, 2), "valid"), TypeError,
     "max_pool"),
    (lambda: C_.pool2d_backward(T(np.ones((1, 2, 2, 2), np.int32)), T(np.ones((1, 4, 4, 2), np.float32)), "avg",
                                (2, 2), (2, 2), "valid"), TypeError, "avg_pool"),
    (lambda: C_.pool2d_backward(T(np.ones((1, 3, 2, 2), np.float32)), T(np.ones((1, 4, 4, 2), np.float32)), "max",
                                (2, 2), (2, 2), "valid"), ValueError, "max_pool"),
    (lambda: C_.pool2d_forward(T(np.ones((1, 4, 4, 2), np.float32)), "min", (2, 2), (2, 2), "valid"), ValueError,
     "pool2d"),
    (lambda: pcn.nn.global_avg_pool(np.ones((4, 4, 2), np.float32)), ValueError, "global_avg_pool"),
    (lambda: pcn.nn.global_max_pool(np.ones((1, 0, 4, 2), np.float32)), ValueError, "global_max_pool"),
    (lambda: C_.global_pool_forward(T(np.ones((1, 4, 4, 2), np.int64)), "max"), TypeError, "global_max_pool"),
    (lambda: C_.global_pool_backward(T(np.ones((1, 3), np.float32)), T(np.ones((1, 4, 4, 2), np.float32)), "avg"),
     ValueError, "global_avg_pool"),
]


@pytest.mark.parametrize("i", range(len(BAD)))
def test_bad_inputs_raise_naming_the_op(i):
    fn, exc, name = BAD[i]
    with pytest.raises(exc, match=name):
        fn()


def test_random_bad_calls_survive():
    """A few hundred random (often invalid) calls: each returns the reference
    shape or raises ValueError/TypeError naming the op; the process survives."""
    rng = np.random.default_rng(1234)
    ok = bad = 0
    def spoil(v, p=0.15):
        v = list(v)
        if rng.random() < p:
            v[int(rng.integers(len(v)))] = int(rng.choice([-2, -1, 0, 2 ** 45]))
        return tuple(v)

    for it in range(300):
        shape = spoil(rng.integers(1, 7, size=int(rng.choice([3, 4, 4, 4, 4, 5]))))
        mode = str(rng.choice(["max", "avg", "max", "avg", "sum"]))
        k = spoil(rng.integers(1, 4, size=int(rng.choice([1, 2, 3, 3]))))
        s = spoil(rng.integers(1, 4, size=int(rng.choice([2, 3, 4]))))
        pad = rng.choice(["valid", "same", "SAME", "bogus", "explicit"])
        pad = list(spoil(rng.integers(0, 4, size=int(rng.choice([4, 4, 3]))))) if pad == "explicit" else str(pad)
        try:
            x = np.ones([d if 0 <= d < 100 else 0 for d in shape], np.float32)
            # from_numpy: pcn.tensor() of some zero-size arrays trips a Tensor.copy_from bug (reported)
            y = C_.pool2d_forward(pcn.from_numpy(x), mode, k, s, pad)
            dx = C_.pool2d_backward(pcn.from_numpy(np.ones(y.shape, np.float32)), pcn.from_numpy(x), mode, k, s, pad)
            assert tuple(y.shape) == ref.pool2d_out_shape(x.shape, k, s, pad)
            assert tuple(dx.shape) == x.shape and np.isfinite(dx.numpy()).all()
            ok += 1
        except (ValueError, TypeError) as e:
            assert "pool" in str(e), str(e)
            bad += 1
    assert ok > 10 and bad > 100


# Shapes for the AVX-512 spatial fast path (kc == 1): channel counts around the
# 16-lane vectors and 64-channel blocks, windows overlapping in both axes, many
# output rows covering one input row (the argmax ring), and windows beyond the
# fast path's limits (kh*kw > 254, or >= 16 covering rows: generic code).
FAST_CASES = [
    ((2, 9, 8, 16), (3, 3), (2, 2), "same"),
    ((1, 7, 9, 48), (3, 3), (2, 2), [2, 1, 0, 3]),
    ((2, 6, 7, 80), (2, 3), (1, 2), "valid"),
    ((1, 5, 6, 17), (3, 2), (2, 3), "same"),
    ((1, 8, 5, 33), (2, 2), (3, 2), [0, 2, 1, 1]),
    ((1, 20, 4, 5), (15, 1), (1, 1), "same"),      # 15 output rows cover one input row
    ((1, 20, 4, 5), (16, 1), (1, 1), "valid"),     # 16: generic path
    ((1, 17, 17, 3), (16, 16), (1, 1), "valid"),   # 256 positions: generic path
]


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("case", range(len(FAST_CASES)))
def test_fast_path_shapes_match_reference(simd, mode, case):
    shape, k, s, pad = FAST_CASES[case]
    x = _x(shape, 40 + case)
    if case % 2:  # integer values: many ties
        x = np.round(x)
    y = C_.pool2d_forward(T(x), mode, k, s, pad).numpy()
    assert_close(y, ref.pool2d_forward(x, mode, k, s, pad), rtol=1e-5, atol=1e-6, what="%s y" % mode)
    dy = _x(y.shape, 80 + case)
    dx = C_.pool2d_backward(T(dy), T(x), mode, k, s, pad).numpy()
    assert_close(dx, ref.pool2d_backward(dy, x, mode, k, s, pad), rtol=1e-5, atol=1e-5, what="%s dx" % mode)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("case", [0, 1, 3, 5])
def test_fast_path_finite_differences(mode, case):
    shape, k, s, pad = FAST_CASES[case]
    x = _distinct(shape, case)
    f = lambda z: ref.pool2d_forward(z, mode, k, s, pad)  # noqa: E731
    g = np.random.default_rng(case).standard_normal(f(x).shape)
    dx = C_.pool2d_backward(T(g.astype(np.float32)), T(x.astype(np.float32)), mode, k, s, pad).numpy()
    assert_grad_close(dx, numeric_grad(f, x, g, eps=1e-4, indices=sample_indices(x.size, k=40)),
                      what="%s_pool dx" % mode)


def test_large_outputs_match_generic_path():
    """Outputs over 16 MiB take the streaming-store path and the thread split
    of N*H rows crosses images: compare every SIMD level with the base code
    (itself checked against the reference above), NaN included."""
    x = _x((5, 56, 60, 256), 90)
    x[1, 3, 7, 5] = np.nan
    x[4, 55, 59, 255] = np.nan
    cases = [("max", (2, 2), (2, 2), "valid"), ("avg", (3, 3), (2, 2), "same"), ("max", (3, 3), (2, 2), "same")]
    prev = C_.simd_level()
    try:
        for mode, k, s, pad in cases:
            C_.force_simd_level("base")
            y0 = C_.pool2d_forward(T(x), mode, k, s, pad).numpy()
            dy = _x(y0.shape, 91)
            dx0 = C_.pool2d_backward(T(dy), T(x), mode, k, s, pad).numpy()
            g0 = C_.global_pool_forward(T(x), mode).numpy()
            gd0 = C_.global_pool_backward(T(dy[:, 0, 0, :].copy()), T(x), mode).numpy()
            for lvl in SIMD_LEVELS[1:]:
                C_.force_simd_level(lvl)
                y = C_.pool2d_forward(T(x), mode, k, s, pad).numpy()
                dx = C_.pool2d_backward(T(dy), T(x), mode, k, s, pad).numpy()
                np.testing.assert_array_equal(np.isnan(y), np.isnan(y0))
                assert_close(y, y0, rtol=1e-6, atol=1e-6, what="%s y %s" % (mode, lvl))
                assert_close(dx, dx0, rtol=1e-6, atol=1e-6, what="%s dx %s" % (mode, lvl))
                assert_close(C_.global_pool_forward(T(x), mode).numpy(), g0, rtol=1e-6, atol=1e-6)
                assert_close(C_.global_pool_backward(T(dy[:, 0, 0, :].copy()), T(x), mode).numpy(), gd0,
                             rtol=1e-6, atol=1e-7)
    finally:
        C_.force_simd_level(prev)
