"""Elementwise family against the float64 references in reference_elementwise.py:
activations (+ backward by finite differences), softmax, broadcasting binary ops,
reductions, data movement, dropout, casts and label helpers, bad inputs."""
import itertools

import numpy as np
import pytest

import pyconvnet as pcn
import reference_elementwise as ref
from gradcheck import assert_grad_close, numeric_grad, sample_indices
from tolerance import assert_close, scaled_tol

C = pcn._C
T = pcn.tensor
A = np.asarray

ACTS = ["linear", "relu", "relu6", "leaky_relu", "elu", "selu", "sigmoid", "hard_sigmoid", "tanh", "softplus",
        "softsign", "swish", "silu", "gelu", "gelu_tanh", "exponential"]
KINKS = {"relu": [0.0], "relu6": [0.0, 6.0], "leaky_relu": [0.0], "elu": [0.0], "selu": [0.0],
         "hard_sigmoid": [-3.0, 3.0]}


def rnd(shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def away_from_kinks(x, name, gap=0.05):
    x = x.astype(np.float64)
    for k in KINKS.get(name, []):
        near = np.abs(x - k) < gap
        x[near] = k + np.where(x[near] >= k, gap, -gap) * 2
    return x.astype(np.float32)


# ---------------------------------------------------------------- activations
@pytest.mark.parametrize("name", ACTS)
@pytest.mark.parametrize("shape", [(1,), (7,), (3, 5), (2, 3, 4, 5), (70001,)])
def test_activation_forward(simd, name, shape):
    x = rnd(shape, 1, 4.0)
    if name == "exponential":
        x = np.clip(x, -20, 20)
    y = C.activation_forward(T(x), name)
    assert_close(y, ref.activation(x, name), rtol=2e-6, atol=2e-6, what=name)


@pytest.mark.parametrize("name,alpha", [("leaky_relu", 0.01), ("leaky_relu", 0.3), ("elu", 0.5), ("elu", 2.0)])
def test_activation_alpha(name, alpha):
    x = rnd((4, 9), 2, 3.0)
    assert_close(C.activation_forward(T(x), name, alpha), ref.activation(x, name, alpha), rtol=2e-6, atol=2e-6)
    dy = rnd((4, 9), 3)
    x = away_from_kinks(x, name)
    y = C.activation_forward(T(x), name, alpha)
    dx = C.activation_backward(T(dy), T(x), y, name, alpha)
    num = numeric_grad(lambda v: ref.activation(v, name, alpha), x, dy)
    assert_grad_close(dx, num, what=name)


def test_activation_defaults_match_keras():
    x = np.array([-2.0, -0.5, 0.5, 2.0], np.float32)
    assert_close(C.activation_forward(T(x), "leaky_relu"), np.where(x > 0, x, 0.2 * x), rtol=1e-6, atol=1e-7)
    assert_close(C.activation_forward(T(x), "elu"), np.where(x > 0, x, np.expm1(x)), rtol=1e-6, atol=1e-7)
    # gelu is the exact (erf) form by default, as keras.activations.gelu(approximate=False)
    assert_close(C.activation_forward(T(x), "gelu"), ref.activation(x, "gelu"), rtol=1e-6, atol=1e-7)
    assert np.abs(A(C.activation_forward(T(x), "gelu")) - ref.activation(x, "gelu_tanh")).max() > 1e-5
    assert_close(C.activation_forward(T(x), "hard_sigmoid"), np.clip(x / 6 + 0.5, 0, 1), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ACTS)
def test_activation_backward_gradcheck(simd, name):
    x = away_from_kinks(rnd((3, 7), 4, 2.5), name)
    dy = rnd((3, 7), 5)
    y = C.activation_forward(T(x), name)
    dx = C.activation_backward(T(dy), T(x), y, name)
    num = numeric_grad(lambda v: ref.activation(v, name), x, dy)
    assert_grad_close(dx, num, rtol=1e-3, atol=1e-5, what=name)
    # x alone also works (y recomputed where needed)
    dx2 = C.activation_backward(T(dy), T(x), None, name)
    assert_close(dx2, A(dx), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "exponential", "relu", "linear"])
def test_activation_backward_from_y_only(name):
    x = away_from_kinks(rnd((5, 6), 6), name)
    dy = rnd((5, 6), 7)
    y = C.activation_forward(T(x), name)
    dx = C.activation_backward(T(dy), None, y, name)
    assert_close(dx, A(C.activation_backward(T(dy), T(x), y, name)), rtol=1e-6, atol=1e-7)


def test_exp_sigmoid_tanh_full_range(simd):
    # the vectorized exp/tanh: ~1 ulp over the whole float range, exact limits
    x = np.concatenate([np.linspace(-110, 90, 20001), np.linspace(-1, 1, 2001), [-np.inf, np.inf, 0.0, -0.0],
                        np.float32([88.72, 88.73, -87.3, -103.0, -104.0])]).astype(np.float32)
    with np.errstate(over="ignore"):
        r = np.exp(x.astype(np.float64))
    y = A(C.activation_forward(T(x), "exponential"))
    tiny = r < np.finfo(np.float32).tiny
    big = r > np.finfo(np.float32).max
    assert np.isinf(y[big]).all() and not np.isinf(y[~big]).any()
    ok = ~tiny & ~big
    assert_close(y[ok], r[ok], rtol=3e-7, atol=0, what="exp")
    assert (np.abs(y[tiny]) <= 2e-38).all()
    assert_close(A(C.activation_forward(T(x), "tanh")), np.tanh(x.astype(np.float64)), rtol=4e-7, atol=1e-38)
    assert_close(A(C.activation_forward(T(x), "sigmoid")), ref.sigmoid(x), rtol=6e-7, atol=1e-38)
    g = np.concatenate([np.linspace(-8, 8, 16001), [-1e-30, 1e-20, 30, -30, np.inf, -np.inf]]).astype(np.float32)
    with np.errstate(invalid="ignore"):
        rg = ref.activation(g, "gelu")
    rg[np.isinf(g)] = np.where(g[np.isinf(g)] > 0, np.inf, np.nan)
    yg = A(C.activation_forward(T(g), "gelu"))
    fin = np.isfinite(g)
    # relative accuracy even in the left tail (float32 z*z rounding grows it to ~2e-5 at x = -12)
    core = fin & (g > -6)
    assert_close(yg[core], rg[core], rtol=4e-6, atol=1e-37, what="gelu")
    assert_close(yg[fin], rg[fin], rtol=2e-5, atol=1e-37, what="gelu tail")
    assert yg[g == np.inf] == np.inf
    sp = np.concatenate([np.linspace(-100, 100, 20001), [-1e4, 1e4, np.inf, -np.inf]]).astype(np.float32)
    ysp = A(C.activation_forward(T(sp), "softplus"))
    assert_close(ysp, ref.activation(sp, "softplus"), rtol=4e-7, atol=1e-38, what="softplus")
    small = np.concatenate([np.linspace(-2, 2, 4001), [-1e-6, -1e-20, 1e-30]]).astype(np.float32)
    assert_close(A(C.activation_forward(T(small), "elu")), ref.activation(small, "elu"), rtol=4e-7, atol=1e-38)
    assert_close(A(C.activation_forward(T(small), "selu")), ref.activation(small, "selu"), rtol=4e-7, atol=1e-38)


def test_activation_backward_missing_x_raises():
    y = T(np.ones((2, 2), np.float32))
    with pytest.raises(ValueError, match="activation_backward"):
        C.activation_backward(T(np.ones((2, 2), np.float32)), None, y, "gelu")


def test_activation_extremes_stay_finite(simd):
    x = np.array([-1e4, -100, -30, 0, 30, 100, 1e4], np.float32)
    for name in ["sigmoid", "softplus", "tanh", "swish", "softsign", "gelu", "elu", "selu", "hard_sigmoid"]:
        y = A(C.activation_forward(T(x), name))
        assert np.isfinite(y).all(), name
        assert_close(y, ref.activation(x, name), rtol=1e-6, atol=1e-30, what=name)
        dx = A(C.activation_backward(T(np.ones_like(x)), T(x), None, name))
        assert np.isfinite(dx).all(), name


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "gelu", "softplus", "elu", "relu6", "hard_sigmoid"])
def test_activation_nan_propagates(simd, name):
    x = np.array([1.0, np.nan, -1.0], np.float32)
    y = A(C.activation_forward(T(x), name))
    assert np.isnan(y[1]) and np.isfinite(y[[0, 2]]).all()


def test_nn_activation_wrappers():
    x = rnd((3, 4), 8)
    assert isinstance(pcn.nn.relu(x), np.ndarray)
    assert isinstance(pcn.nn.relu(T(x)), pcn.Tensor)
    assert_close(pcn.nn.leaky_relu(x, alpha=0.1), ref.activation(x, "leaky_relu", 0.1), rtol=1e-6, atol=1e-7)
    assert_close(pcn.nn.gelu(x, approximate=True), ref.activation(x, "gelu_tanh"), rtol=1e-5, atol=1e-6)
    assert_close(pcn.nn.silu(x), ref.activation(x, "silu"), rtol=1e-5, atol=1e-6)
    assert_close(pcn.nn.softmax(x, axis=0), ref.softmax(x, 0), rtol=1e-5, atol=1e-7)
    assert_close(pcn.nn.log_softmax(x), ref.log_softmax(x), rtol=1e-5, atol=1e-6)
    b = rnd((4,), 9)
    assert_close(pcn.nn.bias_add(x, b), x.astype(np.float64) + b, rtol=1e-6, atol=1e-7)
    for f in (pcn.nn.relu6, pcn.nn.elu, pcn.nn.selu, pcn.nn.sigmoid, pcn.nn.tanh, pcn.nn.softplus,
              pcn.nn.softsign, pcn.nn.swish, pcn.nn.exponential, pcn.nn.hard_sigmoid):
        assert f(x).shape == x.shape
    with pytest.raises(TypeError, match="relu"):
        pcn.nn.relu(np.array(["a"]))


# ---------------------------------------------------------------- softmax
@pytest.mark.parametrize("shape,axis", [((5,), 0), ((3, 7), -1), ((3, 7), 0), ((2, 3, 4), 1), ((2, 3, 4), -3),
                                        ((1, 1), -1), ((4, 1000), -1)])
def test_softmax_forward_backward(simd, shape, axis):
    x = rnd(shape, 10, 3.0)
    y = C.softmax_forward(T(x), axis)
    assert_close(y, ref.softmax(x, axis), rtol=1e-5, atol=1e-7)
    ly = C.log_softmax_forward(T(x), axis)
    assert_close(ly, ref.log_softmax(x, axis), rtol=1e-5, atol=2e-6)
    dy = rnd(shape, 11)
    idx = sample_indices(x.size, 30)
    dx = C.softmax_backward(T(dy), y, axis)
    assert_grad_close(dx, numeric_grad(lambda v: ref.softmax(v, axis), x, dy, indices=idx), what="softmax")
    dlx = C.log_softmax_backward(T(dy), ly, axis)
    assert_grad_close(dlx, numeric_grad(lambda v: ref.log_softmax(v, axis), x, dy, indices=idx),
                      what="log_softmax")


def test_softmax_extreme_logits(simd):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [3e38, 0, -3e38]], np.float32)
    y = A(C.softmax_forward(T(x), -1))
    assert np.isfinite(y).all()
    assert_close(y[:2], ref.softmax(x[:2].astype(np.float64)), rtol=1e-6, atol=1e-30)
    ly = A(C.log_softmax_forward(T(x[:2]), -1))
    assert np.isfinite(ly).all()
    assert_close(ly, ref.log_softmax(x[:2]), rtol=1e-6, atol=1e-3)


def test_softmax_bad_axis():
    with pytest.raises(ValueError, match="softmax_forward"):
        C.softmax_forward(T(np.ones((2, 3), np.float32)), 2)
    with pytest.raises(TypeError, match="softmax_forward"):
        C.softmax_forward(pcn.tensor(np.ones((2, 3), np.int32)), -1)


# ---------------------------------------------------------------- binary
BCAST = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)), ((1,), (5, 6)),
         ((2, 1, 4, 1, 3), (4, 5, 3)), ((1, 1, 1), (1,)), ((2, 3, 4, 5, 6, 7), (1, 3, 1, 5, 1, 7)),
         ((4, 5, 6, 7), (4, 1, 6, 1)), ((256, 300), (300,)), ((0, 3), (3,)), ((6,), (1,))]


@pytest.mark.parametrize("sa,sb", BCAST)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum", "minimum", "pow"])
def test_binary_broadcast(op, sa, sb):
    a = rnd(sa, 12)
    b = rnd(sb, 13)
    if op == "pow":
        a = np.abs(a) + 0.5
    if op == "div":
        b = np.where(np.abs(b) < 0.1, 0.5, b).astype(np.float32)
    r = ref.binary(op, a, b)
    assert_close(C.binary(op, T(a), T(b)), r, rtol=3e-6, atol=1e-6, what=op)
    assert_close(C.binary(op, T(b), T(a)), ref.binary(op, b, a), rtol=3e-6, atol=1e-6, what=op + " swapped")


def test_binary_noncontiguous_inputs():
    base = rnd((6, 8), 14)
    a = pcn.from_numpy(base[:, ::2])  # strided view, read in place
    b = rnd((6, 1), 15)
    assert_close(C.binary("mul", a, T(b)), base[:, ::2].astype(np.float64) * b, rtol=1e-6, atol=0)
    tr = pcn.from_numpy(base.T)
    assert_close(C.binary("add", tr, T(np.zeros((8, 6), np.float32))), base.T, rtol=0, atol=0)
    assert_close(C.reduce("sum", tr, [0]), base.astype(np.float64).sum(1), rtol=1e-5, atol=1e-5)
    assert_close(C.activation_forward(tr, "relu"), np.maximum(base.T, 0), rtol=0, atol=0)


def test_binary_errors_show_both_shapes():
    with pytest.raises(ValueError, match=r"binary.*\(3, 4\).*\(5,\)"):
        C.binary("add", T(np.ones((3, 4), np.float32)), T(np.ones((5,), np.float32)))
    with pytest.raises(ValueError, match="binary"):
        C.binary("frobnicate", T(np.ones(2, np.float32)), T(np.ones(2, np.float32)))
    with pytest.raises(TypeError, match="binary"):
        C.binary("add", T(np.ones(2, np.int32)), T(np.ones(2, np.float32)))
    # 7 alternating broadcast dims cannot be merged below 6
    sa = (2, 1, 2, 1, 2, 1, 2)
    sb = (1, 2, 1, 2, 1, 2, 1)
    with pytest.raises(ValueError, match="binary"):
        C.binary("add", T(np.ones(sa, np.float32)), T(np.ones(sb, np.float32)))


def test_binary_nan_propagates():
    a = np.array([1.0, np.nan, 3.0], np.float32)
    b = np.array([np.nan, 0.0, 1.0], np.float32)
    for op in ["add", "maximum", "minimum", "mul"]:
        c = A(C.binary(op, T(a), T(b)))
        assert np.isnan(c[:2]).all() and np.isfinite(c[2]), op


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum", "minimum", "pow"])
@pytest.mark.parametrize("reverse", [False, True])
def test_binary_scalar(op, reverse):
    x = np.abs(rnd((4, 5), 17)) + 0.25
    s = 1.7
    r = ref.binary(op, s, x) if reverse else ref.binary(op, x, s)
    assert_close(C.binary_scalar(op, T(x), s, reverse), r, rtol=3e-6, atol=1e-6)


UNARY = ["neg", "exp", "log", "sqrt", "rsqrt", "square", "abs", "sign", "reciprocal", "sin", "cos", "floor",
         "round", "tanh", "sigmoid", "log1p", "expm1"]


@pytest.mark.parametrize("op", UNARY)
def test_unary(op):
    x = rnd((5, 7), 18, 2.0)
    if op in ("log", "sqrt", "rsqrt", "log1p"):
        x = np.abs(x) + 0.1
    if op == "round":
        x = np.concatenate([x.ravel(), [0.5, 1.5, 2.5, -0.5, -2.5]]).astype(np.float32)
    assert_close(C.unary(op, T(x)), ref.unary(op, x), rtol=2e-6, atol=1e-6, what=op)


def test_unary_unknown():
    with pytest.raises(ValueError, match="unary"):
        C.unary("cosh2", T(np.ones(2, np.float32)))


# ---------------------------------------------------------------- reduce
RSHAPES = [(7,), (3, 5), (2, 3, 4), (2, 3, 4, 5), (1, 6, 1, 2), (33, 65)]


@pytest.mark.parametrize("shape", RSHAPES)
@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "prod"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduce_axes_combos(shape, op, keepdims):
    x = rnd(shape, 19)
    if op == "prod":
        x = (np.sign(x) * (0.9 + 0.2 * np.abs(x) / (1 + np.abs(x)))).astype(np.float32)
    nd = len(shape)
    combos = [None] + [list(c) for k in range(1, nd + 1) for c in itertools.combinations(range(nd), k)]
    for axes in combos:
        r = ref.reduce(op, x, axes, keepdims)
        k = x.size if axes is None else int(np.prod([shape[a] for a in axes]))
        y = C.reduce(op, T(x), axes, keepdims)
        assert_close(y, r, rtol=1e-5, atol=scaled_tol(np.abs(x).max(), k), what="%s %s" % (op, axes))
        if axes:
            neg = [a - nd for a in axes]
            assert_close(C.reduce(op, T(x), neg, keepdims), r, rtol=1e-5, atol=scaled_tol(np.abs(x).max(), k))


def test_reduce_int_axis_and_cast_numpy_dtype():
    x = rnd((3, 4), 41)
    assert_close(C.reduce("sum", T(x), 1), x.astype(np.float64).sum(1), rtol=1e-6, atol=1e-6)
    assert_close(C.reduce("mean", T(x), -2, True), x.astype(np.float64).mean(0, keepdims=True), rtol=1e-6,
                 atol=1e-7)
    with pytest.raises(TypeError, match="reduce"):
        C.reduce("sum", T(x), "rows")
    assert C.cast(T(x), np.int64).dtype == "int64"
    assert C.cast(T(x), np.dtype("uint8")).dtype == "uint8"


def test_reduce_large_columns_and_rows():
    x = rnd((4096, 64), 20)
    assert_close(C.reduce("sum", T(x), [0]), x.astype(np.float64).sum(0), rtol=1e-5, atol=scaled_tol(x, 4096))
    assert_close(C.reduce("mean", T(x), [1]), x.astype(np.float64).mean(1), rtol=1e-5, atol=1e-6)
    assert_close(C.reduce("max", T(x), None), x.max(), rtol=0, atol=0)


@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "prod"])
@pytest.mark.parametrize("shape", [(3, 100003), (40001, 3), (5003, 20)])
def test_reduce_blocked_paths_and_thread_determinism(op, shape):
    x = rnd(shape, 42)
    if op == "prod":
        x = (1 + 1e-4 * x).astype(np.float32)
    prev = pcn.get_num_threads()
    try:
        outs = []
        for nt in (1, 2):
            pcn.set_num_threads(nt)
            outs.append([A(C.reduce(op, T(x), ax)) for ax in (None, [1], [0])])
    finally:
        pcn.set_num_threads(prev)
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)
    for got, ax in zip(outs[0], (None, [1], [0])):
        r = ref.reduce(op, x, ax)
        assert_close(got, r, rtol=1e-5, atol=1e-6, what="%s %s" % (op, ax))


def test_reduce_errors_and_nan():
    x = T(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="reduce"):
        C.reduce("sum", x, [2])
    with pytest.raises(ValueError, match="reduce"):
        C.reduce("sum", x, [1, -1])
    with pytest.raises(ValueError, match="reduce"):
        C.reduce("median", x, None)
    with pytest.raises(ValueError, match="reduce"):
        C.reduce("max", T(np.ones((0, 3), np.float32)), [0])
    assert_close(C.reduce("sum", T(np.ones((0, 3), np.float32)), [0]), np.zeros(3), rtol=0, atol=0)
    v = np.array([[1.0, np.nan, 3.0], [1.0, 2.0, 3.0]], np.float32)
    m = A(C.reduce("max", T(v), [1]))
    assert np.isnan(m[0]) and m[1] == 3.0


@pytest.mark.parametrize("xs,ts", [((4, 3), (3,)), ((4, 3), (1, 3)), ((4, 3), (4, 1)), ((2, 3, 4), (3, 1)),
                                   ((2, 3, 4), (1,)), ((2, 3, 4), (2, 3, 4)), ((5, 1, 6), (1, 1, 6)),
                                   ((2, 3, 4, 5), (3, 1, 5))])
def test_sum_to_shape(xs, ts):
    x = rnd(xs, 21)
    y = C.sum_to_shape(T(x), list(ts))
    assert tuple(y.shape) == ts
    assert_close(y, ref.sum_to_shape(x, ts), rtol=1e-5, atol=1e-5)


def test_sum_to_shape_bad():
    with pytest.raises(ValueError, match="sum_to_shape"):
        C.sum_to_shape(T(np.ones((4, 3), np.float32)), [2, 3])
    with pytest.raises(ValueError, match="sum_to_shape"):
        C.sum_to_shape(T(np.ones((3,), np.float32)), [1, 3])


# ---------------------------------------------------------------- data movement
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64, np.uint8])
def test_transpose_all_perms(dtype):
    x = (rnd((2, 3, 4, 5), 22) * 10).astype(dtype)
    for perm in itertools.permutations(range(4)):
        y = C.transpose(T(x), list(perm))
        assert y.dtype == np.dtype(dtype).name
        np.testing.assert_array_equal(A(y), x.transpose(perm))
    np.testing.assert_array_equal(A(C.transpose(T(x[0, 0]), [1, 0])), x[0, 0].T)
    with pytest.raises(ValueError, match="transpose"):
        C.transpose(T(x), [0, 1, 1, 2])
    with pytest.raises(ValueError, match="transpose"):
        C.transpose(T(x), [0, 1])


@pytest.mark.parametrize("dtype", [np.float32, np.uint8, np.int64])
def test_transpose_tiled_paths(dtype):
    # dims >= 8 take the tiled path; odd sizes leave partial tiles
    x = (rnd((3, 37, 45, 9), 39) * 50).astype(dtype)
    for perm in itertools.permutations(range(4)):
        np.testing.assert_array_equal(A(C.transpose(T(x), list(perm))), x.transpose(perm))
    big = (rnd((70, 1029), 40) * 50).astype(dtype)
    np.testing.assert_array_equal(A(C.transpose(T(big), [1, 0])), big.T)
    # a strided (non-contiguous) source
    v = pcn.from_numpy(big[:, ::3])
    np.testing.assert_array_equal(A(C.transpose(v, [1, 0])), big[:, ::3].T)


def test_slice_axis():
    x = rnd((4, 5, 6), 23)
    np.testing.assert_array_equal(A(C.slice_axis(T(x), 1, 1, 4)), x[:, 1:4])
    np.testing.assert_array_equal(A(C.slice_axis(T(x), -1, 0, 6)), x)
    np.testing.assert_array_equal(A(C.slice_axis(T(x), 0, -2, 4)), x[-2:4])
    assert tuple(C.slice_axis(T(x), 2, 3, 3).shape) == (4, 5, 0)
    for bad in [(1, 4, 2), (1, 0, 6), (3, 0, 1)]:
        with pytest.raises(ValueError, match="slice_axis"):
            C.slice_axis(T(x), *bad)


@pytest.mark.parametrize("axis", [0, 1, 2, 3, -1])
def test_concat(axis):
    parts = []
    for i, c in enumerate([3, 1, 5]):
        s = [2, 4, 3, 6]
        s[axis] = c
        parts.append(rnd(tuple(s), 24 + i))
    y = C.concat([T(p) for p in parts], axis)
    np.testing.assert_array_equal(A(y), np.concatenate(parts, axis))


def test_concat_int_and_errors():
    a = np.arange(6, dtype=np.int64).reshape(2, 3)
    np.testing.assert_array_equal(A(C.concat([T(a), T(a)], 0)), np.concatenate([a, a], 0))
    with pytest.raises(TypeError, match="concat"):
        C.concat([T(a), T(a.astype(np.float32))], 0)
    with pytest.raises(ValueError, match="concat"):
        C.concat([T(a), T(np.ones((3, 3), np.int64))], 1)
    with pytest.raises(ValueError, match="concat"):
        C.concat([], 0)


@pytest.mark.parametrize("pads", [(0, 0, 0, 0), (1, 1, 1, 1), (0, 2, 1, 0), (3, 0, 0, 4)])
def test_pad2d_and_backward(pads):
    x = rnd((2, 3, 4, 2), 27)
    y = C.pad2d(T(x), *pads, 0.5)
    assert_close(y, ref.pad2d(x, *pads, 0.5), rtol=0, atol=0)
    dy = rnd(tuple(y.shape), 28)
    dx = C.pad2d_backward(T(dy), *pads)
    num = numeric_grad(lambda v: ref.pad2d(v, *pads), x, dy)
    assert_grad_close(dx, num, what="pad2d_backward")
    with pytest.raises(ValueError, match="pad2d"):
        C.pad2d(T(x), -1, 0, 0, 0)
    with pytest.raises(ValueError, match="pad2d"):
        C.pad2d(T(x[0]), 1, 1, 1, 1)
    with pytest.raises(ValueError, match="pad2d_backward"):
        C.pad2d_backward(T(x), 2, 2, 0, 0)


# ---------------------------------------------------------------- dropout
def test_dropout_reproducible_across_threads():
    x = rnd((257, 301), 29)
    prev = pcn.get_num_threads()
    try:
        pcn.set_num_threads(1)
        y1, m1 = C.dropout_forward(T(x), 0.3, 1234)
        pcn.set_num_threads(2)
        y2, m2 = C.dropout_forward(T(x), 0.3, 1234)
    finally:
        pcn.set_num_threads(prev)
    np.testing.assert_array_equal(A(m1), A(m2))
    np.testing.assert_array_equal(A(y1), A(y2))
    _, m3 = C.dropout_forward(T(x), 0.3, 1235)
    assert (A(m3) != A(m1)).any()
    # the mask depends on the element index only, not on the shape
    _, m4 = C.dropout_forward(T(x.reshape(-1)), 0.3, 1234)
    np.testing.assert_array_equal(A(m4), A(m1).reshape(-1))


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.5, 0.9])
def test_dropout_rate_and_values(rate):
    n = 200000
    x = rnd((n,), 30)
    y, m = C.dropout_forward(T(x), rate, 7)
    m = A(m)
    assert m.dtype == np.uint8 and set(np.unique(m)) <= {0, 1}
    keep = m.mean()
    sd = np.sqrt(rate * (1 - rate) / n)
    assert abs(keep - (1 - rate)) <= 5 * sd + 1e-12
    assert_close(y, ref.dropout(x, m, rate), rtol=1e-6, atol=0)
    dy = rnd((n,), 31)
    assert_close(C.dropout_backward(T(dy), T(m), rate), ref.dropout(dy, m, rate), rtol=1e-6, atol=0)
    if rate == 0.0:
        np.testing.assert_array_equal(A(y), x)


def test_dropout_bad():
    x = T(np.ones(4, np.float32))
    for r in [1.0, -0.1, 1.5, float("nan")]:
        with pytest.raises(ValueError, match="dropout_forward"):
            C.dropout_forward(x, r, 0)
    with pytest.raises(TypeError, match="dropout_backward"):
        C.dropout_backward(x, T(np.ones(4, np.float32)), 0.5)
    with pytest.raises(ValueError, match="dropout"):
        pcn.nn.dropout(np.ones((2, 3), np.float32), 0.5, noise_shape=(2, 2))
    with pytest.raises(ValueError, match="dropout"):
        pcn.nn.dropout(np.ones((2, 3), np.float32), 1.0)
    y = pcn.nn.dropout(np.ones((20, 30), np.float32), 0.5, seed=3)
    np.testing.assert_array_equal(y, pcn.nn.dropout(np.ones((20, 30), np.float32), 0.5, seed=3))
    assert set(np.unique(y)) <= {0.0, 2.0}


# ---------------------------------------------------------------- in-place, cast, index
def test_fill_axpy_scale():
    t = pcn.empty(3, 4)
    C.fill_(t, 2.5)
    np.testing.assert_array_equal(A(t), np.full((3, 4), 2.5, np.float32))
    x = rnd((3, 4), 32)
    C.axpy_(t, T(x), -0.5)
    assert_close(A(t), 2.5 - 0.5 * x.astype(np.float64), rtol=1e-6, atol=1e-7)
    C.scale_(t, 3.0)
    assert_close(A(t), 3 * (2.5 - 0.5 * x.astype(np.float64)), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="axpy_"):
        C.axpy_(t, T(np.ones((4, 3), np.float32)), 1.0)
    with pytest.raises(TypeError, match="fill_"):
        C.fill_(T(np.ones(3, np.int32)), 1.0)


@pytest.mark.parametrize("src,dst", list(itertools.product(["float32", "int32", "int64", "uint8"], repeat=2)))
def test_cast(src, dst):
    x = np.array([0, 1, 2, 7, 100, 255], dtype=src)
    y = C.cast(T(x), dst)
    assert y.dtype == dst
    np.testing.assert_array_equal(A(y), x.astype(dst))


def test_cast_float_truncates_and_nan_is_zero():
    x = np.array([1.7, -1.7, np.nan, 3e10], np.float32)
    np.testing.assert_array_equal(A(C.cast(T(x), "int32"))[:2], [1, -1])
    assert A(C.cast(T(x), "int32"))[2] == 0 and A(C.cast(T(x), "int32"))[3] == 0
    with pytest.raises(TypeError, match="dtype"):
        C.cast(T(x), "complex64")


def test_where_clip_one_hot_argmax():
    a, b = rnd((4, 5), 33), rnd((4, 5), 34)
    c = (a > 0).astype(np.uint8)
    np.testing.assert_array_equal(A(C.where(T(c), T(a), T(b))), np.where(c, a, b))
    np.testing.assert_array_equal(A(C.where(T(c.astype(np.float32)), T(a), T(b))), np.where(c, a, b))
    np.testing.assert_array_equal(A(C.clip(T(a), -0.5, 0.25)), np.clip(a, -0.5, 0.25))
    with pytest.raises(ValueError, match="clip"):
        C.clip(T(a), 1.0, 0.0)
    lab = np.array([0, 3, 2, 5, -1], np.int64)
    oh = A(C.one_hot(T(lab), 4))
    np.testing.assert_array_equal(oh, np.array([np.eye(4)[i] if 0 <= i < 4 else np.zeros(4) for i in lab]))
    np.testing.assert_array_equal(A(C.one_hot(T(lab[:3].astype(np.int32).reshape(3, 1)), 4)).shape, (3, 1, 4))
    with pytest.raises(TypeError, match="one_hot"):
        C.one_hot(T(np.ones(3, np.float32)), 4)
    x = np.array([[1, 3, 3, 0], [5, 5, 5, 5], [-1, -2, -3, -0.5]], np.float32)
    am = C.argmax(T(x), -1)
    assert am.dtype == "int64"
    np.testing.assert_array_equal(A(am), np.argmax(x, -1))
    y = rnd((3, 4, 5), 35)
    for ax in range(3):
        np.testing.assert_array_equal(A(C.argmax(T(y), ax)), np.argmax(y, ax))
    assert C.accuracy_count(T(x), T(np.array([1, 0, 3]))) == 3
    assert C.accuracy_count(T(x), T(np.eye(4, dtype=np.float32)[[2, 1, 3]])) == 1


def test_bias_add():
    x = rnd((2, 3, 4, 5), 36)
    b = rnd((5,), 37)
    assert_close(C.bias_add(T(x), T(b)), x.astype(np.float64) + b, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="bias_add"):
        C.bias_add(T(x), T(np.ones(4, np.float32)))
    with pytest.raises(ValueError, match="bias_add"):
        C.bias_add(T(x), T(np.ones((1, 5), np.float32)))


# ---------------------------------------------------------------- robustness
def test_random_bad_calls_survive():
    rng = np.random.default_rng(38)
    shapes = [(), (0,), (1,), (3,), (2, 3), (3, 2), (1, 2, 3, 4)]
    dtypes = [np.float32, np.int32, np.int64, np.uint8]
    calls = [
        lambda a, b, i: C.binary(["add", "pow", "bad"][i % 3], a, b),
        lambda a, b, i: C.reduce("sum", a, [i % 5 - 2], bool(i % 2)),
        lambda a, b, i: C.softmax_forward(a, i % 5 - 2),
        lambda a, b, i: C.transpose(a, [i % 3, (i + 1) % 3]),
        lambda a, b, i: C.slice_axis(a, i % 3 - 1, i % 4 - 1, i % 5),
        lambda a, b, i: C.concat([a, b], i % 3 - 1),
        lambda a, b, i: C.pad2d(a, i % 3 - 1, 1, 0, 1),
        lambda a, b, i: C.activation_backward(a, b, None, ["gelu", "relu", "nope"][i % 3]),
        lambda a, b, i: C.sum_to_shape(a, list(b.shape)),
        lambda a, b, i: C.dropout_backward(a, b, 0.5),
        lambda a, b, i: C.one_hot(a, i % 4 - 1),
        lambda a, b, i: C.argmax(a, i % 3 - 1),
        lambda a, b, i: C.axpy_(a, b, 1.0),
        lambda a, b, i: C.where(a, b, b),
        lambda a, b, i: C.bias_add(a, b),
    ]
    n_err = 0
    for i in range(400):
        sa, sb = shapes[rng.integers(len(shapes))], shapes[rng.integers(len(shapes))]
        a = pcn.tensor(np.ones(sa, dtype=dtypes[rng.integers(4)]))
        b = pcn.tensor(np.ones(sb, dtype=dtypes[rng.integers(4)]))
        try:
            calls[i % len(calls)](a, b, i)
        except (ValueError, TypeError) as e:
            assert str(e)
            n_err += 1
    assert n_err > 100


def test_huge_shape_rejected():
    # sizes whose element count overflows the allocation limit: clear ValueError, no giant allocation
    with pytest.raises(ValueError, match="one_hot"):
        C.one_hot(T(np.zeros(2, np.int64)), 1 << 62)
    with pytest.raises(ValueError, match="pad2d"):
        C.pad2d(T(np.ones((1, 1, 1, 1), np.float32)), 1 << 31, 0, 1 << 31, 0)
    # zero-stride views: tiny memory, huge logical shapes
    buf = np.ones(1, np.float32)
    a = pcn.from_numpy(np.lib.stride_tricks.as_strided(buf, shape=(1 << 21, 1), strides=(0, 0), writeable=True))
    b = pcn.from_numpy(np.lib.stride_tricks.as_strided(buf, shape=(1, 1 << 20), strides=(0, 0), writeable=True))
    with pytest.raises(ValueError, match="binary"):
        C.binary("add", a, b)
    assert float(A(C.reduce("sum", a))) == float(1 << 21)  # reads the one element 2^21 times


def test_scalar_and_empty_edges():
    # decided: 0-d tensors act as scalars; empty tensors give empty results (no kernel call)
    s = T(np.array(2.0, np.float32))
    x = rnd((2, 3), 43)
    assert_close(C.binary("mul", s, T(x)), 2.0 * x.astype(np.float64), rtol=0, atol=0)
    assert tuple(C.reduce("sum", s).shape) == () and float(A(C.reduce("sum", s))) == 2.0
    assert float(A(C.activation_forward(s, "relu"))) == 2.0
    e = T(np.zeros((0, 3), np.float32))
    for out in (C.activation_forward(e, "gelu"), C.binary("add", e, T(x[0])), C.softmax_forward(e, -1),
                C.unary("exp", e), C.dropout_forward(e, 0.5, 1)[0], C.reduce("sum", e, [1])):
        assert A(out).size == 0
    assert_close(C.reduce("sum", e, [0]), np.zeros(3), rtol=0, atol=0)
    assert np.isnan(A(C.reduce("mean", e, [0]))).all()
