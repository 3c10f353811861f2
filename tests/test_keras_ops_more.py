"""keras.ops breadth (pyconvnet/keras_ops.py), keras.random and keras.backend, in CI
(no keras needed): every op against a float64 NumPy reference, every differentiable
op's tape gradient against central differences of that reference, the
NumPy-in/NumPy-out, tensor-in/tensor-out and KerasTensor -> Lambda routing, seeds."""
import math

import numpy as np
import pytest

import pyconvnet as keras
import reference_conv as RC
import reference_pool as RP
from gradcheck import assert_grad_close, numeric_grad
from pyconvnet.autograd import EagerTensor, GradientTape
from tolerance import assert_close

ops = keras.ops
RNG = np.random.default_rng(1234)


def f32(a):
    """float64 values exactly representable in float32 (what the kernels see)."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def et(a):
    return EagerTensor(keras.tensor(np.ascontiguousarray(a, dtype=np.float32)))


def check(op, ref, xs, rtol=1e-4, atol=1e-5, grad=True, grtol=2e-3, gatol=2e-4, eps=1e-6):
    """op(*EagerTensors) vs ref(*float64): forward, then the tape's gradient of
    sum(y * g) w.r.t. every input vs central differences of ref."""
    xs = [f32(x) for x in xs]
    ts = [et(x) for x in xs]
    with GradientTape() as tape:
        for t in ts:
            tape.watch(t)
        y = op(*ts)
    yr = np.asarray(ref(*xs), dtype=np.float64)
    assert isinstance(y, EagerTensor), type(y)
    assert_close(np.asarray(y), yr, rtol=rtol, atol=atol)
    # NumPy in -> NumPy out, same values
    yn = op(*[x.astype(np.float32) for x in xs])
    assert isinstance(yn, np.ndarray), type(yn)
    assert_close(yn, yr, rtol=rtol, atol=atol)
    if not grad:
        return
    g = RNG.normal(size=yr.shape)
    grads = tape.gradient(y, ts, output_gradients=g.astype(np.float32))
    for i, x in enumerate(xs):
        def f(xi, i=i):
            return np.asarray(ref(*(xs[:i] + [xi] + xs[i + 1:])), dtype=np.float64)
        num = numeric_grad(f, x, g, eps=eps)
        assert grads[i] is not None, "input %d got no gradient" % i
        assert tuple(grads[i].shape) == x.shape, "input %d: gradient shape %s != %s" % (i, grads[i].shape, x.shape)
        assert_grad_close(np.asarray(grads[i]), num, rtol=grtol, atol=gatol, what="grad of input %d" % i)


# ----------------------------------------------------------------- elementwise
def _u(lo, hi, shape=(3, 4)):
    return RNG.uniform(lo, hi, size=shape)


def _awayfromint(shape=(3, 4)):
    return np.floor(RNG.uniform(-5, 5, size=shape)) + RNG.uniform(0.1, 0.4, size=shape)


def _np_erf(x):
    return np.vectorize(math.erf)(x)


UNARY = [
    ("absolute", np.abs, lambda: _u(0.1, 2) * RNG.choice([-1, 1], size=(3, 4))),
    ("negative", np.negative, lambda: _u(-2, 2)),
    ("exp", np.exp, lambda: _u(-2, 2)),
    ("log", np.log, lambda: _u(0.2, 3)),
    ("log1p", np.log1p, lambda: _u(-0.5, 3)),
    ("expm1", np.expm1, lambda: _u(-2, 2)),
    ("log2", np.log2, lambda: _u(0.2, 3)),
    ("log10", np.log10, lambda: _u(0.2, 3)),
    ("sqrt", np.sqrt, lambda: _u(0.2, 3)),
    ("rsqrt", lambda x: 1 / np.sqrt(x), lambda: _u(0.2, 3)),
    ("reciprocal", lambda x: 1 / x, lambda: _u(0.5, 3)),
    ("square", np.square, lambda: _u(-2, 2)),
    ("sin", np.sin, lambda: _u(-3, 3)),
    ("cos", np.cos, lambda: _u(-3, 3)),
    ("tan", np.tan, lambda: _u(-1.2, 1.2)),
    ("tanh", np.tanh, lambda: _u(-2, 2)),
    ("arctan", np.arctan, lambda: _u(-3, 3)),
    ("arcsin", np.arcsin, lambda: _u(-0.9, 0.9)),
    ("arccos", np.arccos, lambda: _u(-0.9, 0.9)),
    ("sinh", np.sinh, lambda: _u(-2, 2)),
    ("cosh", np.cosh, lambda: _u(-2, 2)),
    ("arcsinh", np.arcsinh, lambda: _u(-3, 3)),
    ("arccosh", np.arccosh, lambda: _u(1.2, 3)),
    ("arctanh", np.arctanh, lambda: _u(-0.9, 0.9)),
    ("erf", _np_erf, lambda: _u(-2, 2)),
    ("sigmoid", lambda x: 1 / (1 + np.exp(-x)), lambda: _u(-4, 4)),
    ("softsign", lambda x: x / (1 + np.abs(x)), lambda: _u(0.1, 3) * RNG.choice([-1, 1], size=(3, 4))),
    ("hard_sigmoid", lambda x: np.clip(x + 3, 0, 6) / 6, lambda: _awayfromint() * 1.3),
    ("hard_silu", lambda x: x * np.clip(x + 3, 0, 6) / 6, lambda: _awayfromint() * 1.3),
    ("log_sigmoid", lambda x: -np.logaddexp(0, -x), lambda: _u(-4, 4)),
    ("mish", lambda x: x * np.tanh(np.logaddexp(0, x)), lambda: _u(-3, 3)),
    ("squareplus", lambda x: (x + np.sqrt(x * x + 4)) / 2, lambda: _u(-3, 3)),
    ("sparse_plus", lambda x: np.where(x <= -1, 0, np.where(x >= 1, x, (x + 1) ** 2 / 4)),
     lambda: _awayfromint() / 2.3),
    ("gelu", lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))), lambda: _u(-3, 3)),
    ("celu", lambda x: np.maximum(x, 0) + np.expm1(np.minimum(x, 0)), lambda: _u(0.1, 2) * RNG.choice([-1, 1], size=(3, 4))),
]


@pytest.mark.parametrize("name,ref,gen", UNARY, ids=[u[0] for u in UNARY])
def test_unary_forward_and_gradient(name, ref, gen):
    check(getattr(ops, name), ref, [gen()])


@pytest.mark.parametrize("name,ref", [("floor", np.floor), ("ceil", np.ceil), ("trunc", np.trunc),
                                      ("sign", np.sign), ("round", np.round)])
def test_piecewise_constant_ops_have_zero_gradient(name, ref):
    x = _awayfromint() + np.array([0, 0.5, 1.5, -2.5])  # round: half to even, like NumPy / torch
    x[0, :] = [0.5, 1.5, 2.5, -0.5]
    xt = et(x)
    with GradientTape() as tape:
        tape.watch(xt)
        y = getattr(ops, name)(xt)
        s = ops.sum(y)
    assert_close(np.asarray(y), ref(f32(x)), rtol=0, atol=0)
    g = tape.gradient(s, xt)
    assert_close(np.asarray(g), np.zeros(x.shape), rtol=0, atol=0)


def test_integer_rounding_keeps_ints_and_round_decimals():
    assert ops.floor(np.array([1, 2], np.int32)).dtype == np.int32
    assert_close(ops.round(np.array([1.234, -5.678], np.float32), decimals=2), [1.23, -5.68], rtol=0, atol=1e-6)


def test_binary_math():
    a, b = _u(-3, 3), _u(0.5, 2) * RNG.choice([-1, 1], size=(3, 4))
    check(ops.mod, np.mod, [a, b], grad=False)
    # mod gradient w.r.t. both inputs away from the discontinuities
    a2 = np.array([[2.3, -2.3, 5.3]]); b2 = np.array([[1.1, 1.1, -1.7]])
    check(ops.mod, np.mod, [a2, b2])
    assert ops.floor_divide(np.array([7, -7]), 2).tolist() == [3, -4]


# ----------------------------------------------------------------- reductions
REDUCE = [
    ("var", lambda x, a, k: np.var(x, axis=a, keepdims=k)),
    ("std", lambda x, a, k: np.std(x, axis=a, keepdims=k)),
    ("logsumexp", lambda x, a, k: np.log(np.sum(np.exp(x), axis=a, keepdims=k))),
    ("amax", lambda x, a, k: np.max(x, axis=a, keepdims=k)),
    ("amin", lambda x, a, k: np.min(x, axis=a, keepdims=k)),
    ("prod", lambda x, a, k: np.prod(x, axis=a, keepdims=k)),
    ("mean", lambda x, a, k: np.mean(x, axis=a, keepdims=k)),
    ("sum", lambda x, a, k: np.sum(x, axis=a, keepdims=k)),
]


@pytest.mark.parametrize("axis", [None, 1, (0, 2), -1])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name,ref", REDUCE, ids=[r[0] for r in REDUCE])
def test_reductions(name, ref, axis, keepdims):
    x = RNG.uniform(0.5, 1.5, size=(2, 3, 4)) * RNG.choice([-1, 1], size=(2, 3, 4))
    check(lambda t: getattr(ops, name)(t, axis=axis, keepdims=keepdims), lambda v: ref(v, axis, keepdims), [x],
          grtol=3e-3)


def test_prod_gradient_exact_with_zeros():
    x = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 4.0], [1.5, -2.0, 0.5]])
    check(lambda t: ops.prod(t, axis=1), lambda v: np.prod(v, axis=1), [x])


def test_cumsum_cumprod_with_zeros():
    x = RNG.uniform(-2, 2, size=(3, 4))
    x[1, 2] = 0.0
    x[2, 0] = 0.0
    for axis in (None, 0, 1, -1):
        check(lambda t: ops.cumsum(t, axis=axis), lambda v: np.cumsum(v, axis=axis), [x])
        check(lambda t: ops.cumprod(t, axis=axis), lambda v: np.cumprod(v, axis=axis), [x])


def test_max_min_initial_and_average():
    x = _u(-2, 2)
    assert_close(ops.max(x, axis=1, initial=1.0), np.max(f32(x), axis=1, initial=1.0))
    assert_close(ops.min(x, axis=0, initial=-0.5), np.min(f32(x), axis=0, initial=-0.5))
    w = _u(0.5, 2, (4,))
    check(lambda t, wt: ops.average(t, axis=1, weights=wt), lambda v, wv: np.average(v, axis=1, weights=wv), [x, w])
    check(lambda t: ops.average(t), lambda v: np.average(v), [x])


def test_norm_and_normalize():
    x = _u(0.2, 2) * RNG.choice([-1, 1], size=(3, 4))
    cases = [(None, None), (None, 1), (1, 0), (2, 1), (np.inf, 1), (-np.inf, 1), (3, 1), ("fro", None),
             (1, (0, 1)), (np.inf, (0, 1))]
    for ord_, axis in cases:
        check(lambda t: ops.norm(t, ord=ord_, axis=axis), lambda v: np.linalg.norm(v, ord=ord_, axis=axis), [x],
              grtol=3e-3)
    check(lambda t: ops.norm(t, axis=1, keepdims=True), lambda v: np.linalg.norm(v, axis=1, keepdims=True), [x])
    # normalize: x / max(||x||, eps) (order 2 via rsqrt), along axis
    for order, axis in [(2, -1), (2, 0), (1, -1), (3, 0)]:
        check(lambda t: ops.normalize(t, axis=axis, order=order),
              lambda v: v / np.maximum(np.linalg.norm(v, ord=order, axis=axis, keepdims=True), 1e-7), [x])
    z = np.zeros((2, 3), np.float32)
    assert_close(ops.normalize(z), np.zeros((2, 3)), rtol=0, atol=0)  # no NaN for a zero row
    with pytest.raises(ValueError, match="order"):
        ops.normalize(x, order=0)


def test_moments_and_batch_normalization():
    x = _u(-2, 2, (4, 3, 5))
    m, v = ops.moments(x, axes=[0, 1])
    assert_close(m, np.mean(f32(x), axis=(0, 1)))
    assert_close(v, np.var(f32(x), axis=(0, 1)), rtol=1e-4, atol=1e-5)
    mk, vk = ops.moments(et(x), axes=[0, 1], keepdims=True)
    assert isinstance(mk, EagerTensor) and mk.shape == (1, 1, 5)
    mean, var = _u(-1, 1, (5,)), _u(0.5, 2, (5,))
    off, sc = _u(-1, 1, (5,)), _u(0.5, 2, (5,))

    def ref(xv, mv, vv, ov, sv):
        return (xv - mv) / np.sqrt(vv + 1e-3) * sv + ov
    check(lambda a, b, c, d, e: ops.batch_normalization(a, b, c, axis=-1, offset=d, scale=e), ref,
          [x, mean, var, off, sc])


def test_logsumexp_large_values_stay_finite():
    x = np.array([[1000.0, 1000.0], [-1000.0, -1001.0]], np.float32)
    assert_close(ops.logsumexp(x, axis=1), [1000 + np.log(2), -1000 + np.log1p(np.exp(-1))], rtol=1e-6)


# ----------------------------------------------------------------- gather family (exact gradients)
GATHER = [
    ("flip", lambda t: ops.flip(t, axis=1), lambda v: np.flip(v, 1), (3, 4)),
    ("flip_all", lambda t: ops.flip(t), lambda v: np.flip(v), (3, 4)),
    ("roll", lambda t: ops.roll(t, 2, axis=1), lambda v: np.roll(v, 2, axis=1), (3, 4)),
    ("roll_flat", lambda t: ops.roll(t, -3), lambda v: np.roll(v, -3), (3, 4)),
    ("tile", lambda t: ops.tile(t, [2, 1, 3]), lambda v: np.tile(v, [2, 1, 3]), (2, 3)),
    ("repeat", lambda t: ops.repeat(t, 2, axis=0), lambda v: np.repeat(v, 2, axis=0), (3, 4)),
    ("repeat_list", lambda t: ops.repeat(t, [1, 0, 3, 2], axis=1), lambda v: np.repeat(v, [1, 0, 3, 2], axis=1), (3, 4)),
    ("repeat_flat", lambda t: ops.repeat(t, 2), lambda v: np.repeat(v, 2), (3, 4)),
    ("broadcast_to", lambda t: ops.broadcast_to(t, (2, 3, 4)), lambda v: np.broadcast_to(v, (2, 3, 4)), (3, 1)),
    ("pad_const", lambda t: ops.pad(t, [[1, 2], [0, 3]], constant_values=1.5),
     lambda v: np.pad(v, [[1, 2], [0, 3]], constant_values=1.5), (3, 4)),
    ("pad_reflect", lambda t: ops.pad(t, [[1, 2], [2, 1]], mode="reflect"),
     lambda v: np.pad(v, [[1, 2], [2, 1]], mode="reflect"), (3, 4)),
    ("pad_symmetric", lambda t: ops.pad(t, [[1, 1], [2, 0]], mode="symmetric"),
     lambda v: np.pad(v, [[1, 1], [2, 0]], mode="symmetric"), (3, 4)),
    ("pad_edge", lambda t: ops.pad(t, [[0, 2], [1, 1]], mode="edge"),
     lambda v: np.pad(v, [[0, 2], [1, 1]], mode="edge"), (3, 4)),
    ("take", lambda t: ops.take(t, np.array([[2, 0], [2, -1]]), axis=1),
     lambda v: np.take(v, [[2, 0], [2, 3]], axis=1), (3, 4)),
    ("take_flat", lambda t: ops.take(t, [5, 5, 0]), lambda v: np.take(v, [5, 5, 0]), (3, 4)),
    ("take_along_axis", lambda t: ops.take_along_axis(t, np.array([[0, 3, 3], [1, 1, 0], [2, 0, 1]]), axis=1),
     lambda v: np.take_along_axis(v, np.array([[0, 3, 3], [1, 1, 0], [2, 0, 1]]), axis=1), (3, 4)),
    ("moveaxis", lambda t: ops.moveaxis(t, 0, -1), lambda v: np.moveaxis(v, 0, -1), (2, 3, 4)),
    ("swapaxes", lambda t: ops.swapaxes(t, 0, 2), lambda v: np.swapaxes(v, 0, 2), (2, 3, 4)),
    ("diagonal", lambda t: ops.diagonal(t, offset=1), lambda v: np.diagonal(v, 1), (3, 4)),
    ("diag_vec", lambda t: ops.diag(t, k=-1), lambda v: np.diag(v, -1), (3,)),
    ("diag_mat", lambda t: ops.diag(t, k=1), lambda v: np.diag(v, 1), (3, 4)),
    ("triu", lambda t: ops.triu(t, k=1), lambda v: np.triu(v, 1), (2, 3, 4)),
    ("tril", lambda t: ops.tril(t), lambda v: np.tril(v), (3, 4)),
    ("ravel", ops.ravel, np.ravel, (3, 4)),
    ("slice", lambda t: ops.slice(t, [1, 0], [2, 3]), lambda v: v[1:3, 0:3], (3, 4)),
    ("sort", lambda t: ops.sort(t, axis=0), lambda v: np.sort(v, axis=0), (3, 4)),
    ("top_k", lambda t: ops.top_k(t, 2)[0], lambda v: -np.sort(-v, axis=-1)[..., :2], (3, 4)),
    ("transpose", lambda t: ops.transpose(t, (1, 0, 2)), lambda v: np.transpose(v, (1, 0, 2)), (2, 3, 4)),
]


@pytest.mark.parametrize("name,op,ref,shape", GATHER, ids=[g[0] for g in GATHER])
def test_gather_family(name, op, ref, shape):
    check(op, ref, [RNG.normal(size=shape)])


def test_multi_input_gather_ops():
    a, b = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
    check(lambda x, y: ops.stack([x, y], axis=1), lambda x, y: np.stack([x, y], axis=1), [a, b])
    check(lambda x, y: ops.append(x, y, axis=0), lambda x, y: np.append(x, y, axis=0), [a, b])
    check(lambda x, y: ops.append(x, y), lambda x, y: np.append(x, y), [a, b])
    u = RNG.normal(size=(2, 2))
    check(lambda x, y: ops.slice_update(x, [1, 2], y),
          lambda x, y: np.concatenate([x[:1], np.concatenate([x[1:3, :2], y], 1)], 0), [a, u])
    cond = a > 0
    check(lambda x, y: ops.where(cond, x, y), lambda x, y: np.where(cond, x, y), [a, b])
    check(lambda x: ops.where(cond, x, 0.5), lambda x: np.where(cond, x, 0.5), [a])
    # broadcasting condition and operands
    c1 = np.array([True, False, True, False])
    check(lambda x, y: ops.where(c1, x, y), lambda x, y: np.where(c1, x, y), [a, b[:1]])


def test_split_unstack_gradients():
    x = f32(RNG.normal(size=(4, 6)))
    t = et(x)
    with GradientTape() as tape:
        tape.watch(t)
        parts = ops.split(t, 3, axis=1)
        parts2 = ops.split(t, [1, 3], axis=0)
        rows = ops.unstack(t, axis=0)
        y = ops.sum(parts[0] * 2.0) + ops.sum(parts[2]) + ops.sum(parts2[1] * 3.0) + ops.sum(rows[3] * rows[3])
    assert [p.shape for p in parts] == [(4, 2)] * 3
    assert [p.shape for p in parts2] == [(1, 6), (2, 6), (1, 6)]
    for p, r in zip(parts, np.split(x, 3, axis=1)):
        assert_close(p, r, rtol=0, atol=0)
    g = np.zeros_like(x)
    g[:, 0:2] += 2
    g[:, 4:6] += 1
    g[1:3] += 3
    g[3] += 2 * x[3]
    assert_close(np.asarray(tape.gradient(y, t)), g, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="split"):
        ops.split(x, 4, axis=1)


def test_top_k_argsort_sort_indices():
    x = np.array([[3.0, 1.0, 3.0, 2.0], [0.0, -1.0, 5.0, 5.0]], np.float32)
    v, i = ops.top_k(x, 3)
    assert i.dtype == np.int32 and i.tolist() == [[0, 2, 3], [2, 3, 0]]
    assert v.tolist() == [[3, 3, 2], [5, 5, 0]]
    assert ops.argsort(x).tolist() == np.argsort(x, kind="stable").tolist()
    assert ops.argsort(x).dtype == np.int32
    with pytest.raises(ValueError, match="top_k"):
        ops.top_k(x, 5)
    assert ops.in_top_k(np.array([1, 2]), x, 2).tolist() == [False, True]


# ----------------------------------------------------------------- losses
def _softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_categorical_crossentropy_ops():
    logits = RNG.normal(size=(4, 5))
    t = _softmax(RNG.normal(size=(4, 5)))
    check(lambda o: ops.categorical_crossentropy(t, o, from_logits=True),
          lambda o: -np.sum(t * np.log(_softmax(o)), axis=-1), [logits])
    probs = _softmax(logits) * 3  # unnormalized: Keras divides by the sum first
    check(lambda o: ops.categorical_crossentropy(t, o),
          lambda o: -np.sum(t * np.log(np.clip(o / o.sum(-1, keepdims=True), 1e-7, 1 - 1e-7)), axis=-1), [probs])
    # axis=1 of a rank-3 tensor
    l3, t3 = RNG.normal(size=(2, 3, 4)), _softmax(RNG.normal(size=(2, 3, 4)), axis=1)
    check(lambda o: ops.categorical_crossentropy(t3, o, from_logits=True, axis=1),
          lambda o: -np.sum(t3 * np.log(_softmax(o, 1)), axis=1), [l3])
    with pytest.raises(ValueError, match="same shape"):
        ops.categorical_crossentropy(t[:, :4], logits)


def test_sparse_categorical_crossentropy_ops():
    logits = RNG.normal(size=(4, 5))
    y = np.array([0, 4, 2, 2])
    check(lambda o: ops.sparse_categorical_crossentropy(y, o, from_logits=True),
          lambda o: -np.log(_softmax(o))[np.arange(4), y], [logits])
    check(lambda o: ops.sparse_categorical_crossentropy(y[:, None], o, from_logits=True),
          lambda o: -np.log(_softmax(o))[np.arange(4), y], [logits])
    p = _softmax(logits)
    check(lambda o: ops.sparse_categorical_crossentropy(y, o),
          lambda o: -np.log(np.clip(o / o.sum(-1, keepdims=True), 1e-7, 1 - 1e-7))[np.arange(4), y], [p])
    with pytest.raises(ValueError, match="same shape"):
        ops.sparse_categorical_crossentropy(y[:3], logits)


def test_binary_crossentropy_ops_is_elementwise():
    z = RNG.normal(size=(3, 4)) * 3
    t = RNG.uniform(0, 1, size=(3, 4))
    check(lambda o: ops.binary_crossentropy(t, o, from_logits=True),
          lambda o: np.maximum(o, 0) - o * t + np.log1p(np.exp(-np.abs(o))), [z])
    p = RNG.uniform(0.05, 0.95, size=(3, 4))
    check(lambda o: ops.binary_crossentropy(t, o),
          lambda o: -(t * np.log(o) + (1 - t) * np.log(1 - o)), [p])
    # saturated probabilities are clipped to [eps, 1 - eps] (finite loss)
    out = ops.binary_crossentropy(np.array([1.0, 0.0]), np.array([0.0, 1.0], np.float32))
    assert np.all(np.isfinite(out)) and out[0] > 10


# ----------------------------------------------------------------- nn: conv / pool
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("strides", [1, 2])
def test_conv_ops_1d_2d(padding, strides):
    x, w = RNG.normal(size=(2, 5, 6, 3)), RNG.normal(size=(3, 2, 3, 4))
    check(lambda a, b: ops.conv(a, b, strides=strides, padding=padding),
          lambda a, b: RC.conv2d_forward(a, b, None, (strides, strides), padding), [x, w], atol=1e-4)
    x1, w1 = RNG.normal(size=(2, 7, 3)), RNG.normal(size=(3, 3, 2))
    check(lambda a, b: ops.conv(a, b, strides=strides, padding=padding, dilation_rate=1),
          lambda a, b: RC.conv2d_forward(a[:, None], b[None], None, (1, strides), padding)[:, 0], [x1, w1], atol=1e-4)
    dw = RNG.normal(size=(2, 2, 3, 2))
    check(lambda a, b: ops.depthwise_conv(a, b, strides=strides, padding=padding),
          lambda a, b: RC.conv2d_forward(a, b.reshape(2, 2, 1, 6), None, (strides, strides), padding, groups=3),
          [x, dw], atol=1e-4)
    pw = RNG.normal(size=(1, 1, 6, 4))
    check(lambda a, b, c: ops.separable_conv(a, b, c, strides=strides, padding=padding),
          lambda a, b, c: RC.conv2d_forward(RC.conv2d_forward(a, b.reshape(2, 2, 1, 6), None, (strides, strides),
                                                              padding, groups=3), c), [x, dw, pw], atol=1e-4)


def test_conv_ops_reject_channels_first():
    with pytest.raises(ValueError, match="channels_last"):
        ops.conv(np.zeros((1, 4, 4, 1), np.float32), np.zeros((1, 1, 1, 1), np.float32), data_format="channels_first")
    with pytest.raises(NotImplementedError, match="conv"):
        ops.conv(np.zeros((1, 4, 4, 4, 1), np.float32), np.zeros((1, 1, 1, 1, 1), np.float32))


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_pool_ops(padding):
    x = RNG.normal(size=(2, 5, 7, 3))
    for mode, op in (("max", ops.max_pool), ("avg", ops.average_pool)):
        check(lambda a: op(a, 2, padding=padding),
              lambda a: RP.pool2d_forward(a, mode, (2, 2, 1), (2, 2, 1), padding), [x])
        check(lambda a: op(a, (3, 2), strides=(1, 2), padding=padding),
              lambda a: RP.pool2d_forward(a, mode, (3, 2, 1), (1, 2, 1), padding), [x])
        x1 = RNG.normal(size=(2, 7, 3))
        check(lambda a: op(a, 3, strides=2, padding=padding),
              lambda a: RP.pool2d_forward(a[:, None], mode, (1, 3, 1), (1, 2, 1), padding)[:, 0], [x1])


def test_layer_rms_normalization_glu_attention():
    x = RNG.normal(size=(3, 6))
    g, b = RNG.uniform(0.5, 2, size=6), RNG.normal(size=6)
    check(lambda a, gg, bb: ops.layer_normalization(a, gg, bb, epsilon=1e-3),
          lambda a, gg, bb: (a - a.mean(-1, keepdims=True)) / np.sqrt(a.var(-1, keepdims=True) + 1e-3) * gg + bb,
          [x, g, b])
    # epsilon defaults to backend.epsilon() (1e-7), as in Keras (it was 1e-3 here)
    check(lambda a: ops.layer_normalization(a), lambda a: (a - a.mean(-1, keepdims=True)) / np.sqrt(
        a.var(-1, keepdims=True) + 1e-7), [x])
    x3 = RNG.normal(size=(2, 3, 4))
    check(lambda a: ops.layer_normalization(a, axis=[1, 2], rms_scaling=True),
          lambda a: a / np.sqrt(a.var(axis=(1, 2), keepdims=True) + 1e-7), [x3])
    check(lambda a, gg: ops.rms_normalization(a, gg, epsilon=1e-6),
          lambda a, gg: a / np.sqrt(np.mean(a * a, -1, keepdims=True) + 1e-6) * gg, [x, g])
    check(lambda a: ops.glu(a), lambda a: a[:, :3] / (1 + np.exp(-a[:, 3:])), [x])
    q, k, v = (RNG.normal(size=(2, 3, 2, 4)) for _ in range(3))

    def ref(q, k, v, causal=False):
        lg = np.einsum("btnh,bsnh->bnts", q, k) / 2.0
        if causal:
            lg = np.where(np.tril(np.ones((3, 3), bool)), lg, -1e30)
        return np.einsum("bnts,bsnh->btnh", _softmax(lg), v)
    check(lambda a, bb, c: ops.dot_product_attention(a, bb, c), ref, [q, k, v])
    check(lambda a, bb, c: ops.dot_product_attention(a, bb, c, is_causal=True),
          lambda a, bb, c: ref(a, bb, c, True), [q, k, v])


# ----------------------------------------------------------------- linear algebra
@pytest.mark.parametrize("sub,shapes", [
    ("ij,jk->ik", [(3, 4), (4, 2)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]), ("ij,kj->ik", [(3, 4), (2, 4)]),
    ("ij->ji", [(3, 4)]), ("ij->j", [(3, 4)]), ("ij->", [(3, 4)]), ("i,j->ij", [(3,), (4,)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]), ("ij,ij->i", [(3, 4), (3, 4)]), ("ijk,k->ij", [(2, 3, 4), (4,)]),
    ("ij,jk", [(3, 4), (4, 2)]), ("abc,cd->dba", [(2, 3, 4), (4, 5)]),
])
def test_einsum(sub, shapes):
    xs = [RNG.normal(size=s) for s in shapes]
    check(lambda *t: ops.einsum(sub, *t), lambda *v: np.einsum(sub, *v), xs)


def test_einsum_unsupported_forms_raise():
    with pytest.raises(NotImplementedError, match="einsum"):
        ops.einsum("...ij,...jk->...ik", np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(NotImplementedError, match="einsum"):
        ops.einsum("ii->i", np.ones((2, 2)))


def test_tensordot_outer_vdot():
    a, b = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(3, 4, 5))
    check(lambda x, y: ops.tensordot(x, y, axes=2), lambda x, y: np.tensordot(x, y, axes=2), [a, b])
    check(lambda x, y: ops.tensordot(x, y, axes=([1], [0])), lambda x, y: np.tensordot(x, y, axes=([1], [0])), [a, b])
    u, v = RNG.normal(size=(3,)), RNG.normal(size=(4,))
    check(ops.outer, np.outer, [u, v])
    check(ops.vdot, np.vdot, [u, u * 2])


# ----------------------------------------------------------------- non-differentiable ops
def test_comparisons_and_logic_dtypes():
    a = np.array([1.0, np.nan, np.inf, -2.0], np.float32)
    b = np.array([1.0, 0.0, 3.0, -1.0], np.float32)
    for name, ref in [("equal", np.equal), ("not_equal", np.not_equal), ("greater", np.greater),
                      ("greater_equal", np.greater_equal), ("less", np.less), ("less_equal", np.less_equal)]:
        r = getattr(ops, name)(a, b)
        assert r.dtype == np.bool_ and r.tolist() == ref(a, b).tolist(), name
        rt = getattr(ops, name)(et(a), et(b))
        assert isinstance(rt, EagerTensor) and np.asarray(rt).astype(bool).tolist() == ref(a, b).tolist()
    assert ops.isnan(a).tolist() == [False, True, False, False]
    assert ops.isinf(a).tolist() == [False, False, True, False]
    assert ops.isfinite(a).tolist() == [True, False, False, True]
    p, q = np.array([True, False, True]), np.array([True, True, False])
    assert ops.logical_and(p, q).tolist() == [True, False, False]
    assert ops.logical_or(p, q).tolist() == [True, True, True]
    assert ops.logical_xor(p, q).tolist() == [False, True, True]
    assert ops.logical_not(p).tolist() == [False, True, False]
    assert ops.all(p) == False and ops.any(p) == True  # noqa: E712
    assert ops.all(np.ones((2, 3)), axis=1, keepdims=True).shape == (2, 1)
    assert ops.count_nonzero(np.array([[0, 1], [2, 3]]), axis=0).tolist() == [1, 2]
    # on tape tensors: results carry no gradient and do not break the tape
    x = et(a[[0, 3]])
    with GradientTape() as tape:
        tape.watch(x)
        m = ops.greater(x, 0.0)
        y = ops.sum(x * ops.cast(m, "float32"))
    assert_close(np.asarray(tape.gradient(y, x)), [1.0, 0.0], rtol=0, atol=0)


def test_argmax_argmin_keras_defaults():
    x = np.array([[1.0, 5.0, 5.0], [7.0, 0.0, 7.0]], np.float32)
    assert ops.argmax(x) == 3 and ops.argmax(x).dtype == np.int32  # axis=None flattens (Keras)
    assert ops.argmax(x, axis=-1).tolist() == [1, 0]
    assert ops.argmax(x, axis=0, keepdims=True).shape == (1, 3)
    assert ops.argmin(x, axis=1).tolist() == [0, 1]
    assert np.asarray(ops.argmax(et(x), axis=1)).tolist() == [1, 0]


def test_creation_ops_dtypes_and_values():
    assert ops.arange(5).dtype == "int32" and np.asarray(ops.arange(5)).tolist() == [0, 1, 2, 3, 4]
    assert ops.arange(1, 2, 0.25).dtype == "float32"
    assert_close(ops.arange(1, 2, 0.25), [1, 1.25, 1.5, 1.75])
    assert ops.arange(0, 6, 2, dtype="float32").dtype == "float32"
    assert_close(ops.linspace(0, 1, 5), np.linspace(0, 1, 5))
    assert_close(ops.linspace(0, 1, 4, endpoint=False), [0, 0.25, 0.5, 0.75])
    assert_close(ops.eye(3, 4, k=1), np.eye(3, 4, 1))
    assert_close(ops.identity(2), np.eye(2))
    f = ops.full((2, 3), 7)
    assert f.dtype == "float32" and np.asarray(f).tolist() == [[7] * 3] * 2  # Keras: dtype None -> floatx
    assert ops.full((2,), 7, dtype="int32").dtype == "int32"
    assert ops.full((2,), 0.5).dtype == "float32"
    assert ops.full_like(np.zeros((2, 2), np.float32), 3).dtype == "float32"
    assert ops.zeros((2,)).dtype == "float32" and ops.zeros(3, dtype="int32").dtype == "int32"
    assert ops.ones((2, 2), dtype=None).dtype == "float32"
    assert ops.zeros_like(np.zeros((2,), np.int32)).dtype == "int32"
    assert ops.empty((2, 3)).shape == (2, 3)
    assert_close(ops.tri(3), np.tri(3))
    gx, gy = ops.meshgrid(np.arange(3), np.arange(2))
    assert gx.shape == (2, 3)


def test_one_hot_multi_hot():
    oh = ops.one_hot(np.array([0, 2, 5, -1]), 3)
    assert oh.dtype == np.float32 and oh.tolist() == [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]]
    assert ops.one_hot(np.array([[1, 0]]), 2, axis=0).shape == (2, 1, 2)
    assert ops.one_hot(np.array([1]), 3, dtype="int32").dtype == np.int32
    assert ops.multi_hot(np.array([[0, 2], [1, 1]]), 4).tolist() == [[1, 0, 1, 0], [0, 1, 0, 0]]
    t = ops.one_hot(et(np.array([1.0, 0.0])), 2)
    assert isinstance(t, EagerTensor) and np.asarray(t).tolist() == [[0, 1], [1, 0]]


def test_core_helpers():
    x = np.ones((2, 3), np.float32)
    t = ops.convert_to_tensor(x)
    assert ops.is_tensor(t) and not ops.is_tensor(x)
    assert ops.shape(x) == (2, 3) and ops.size(t) == 6 and ops.ndim(t) == 2
    assert ops.dtype(t) == "float32" and ops.dtype(np.zeros(2, np.int64)) == "int64"
    assert ops.convert_to_tensor([1, 2]).dtype == "int32"
    assert ops.convert_to_tensor([1.5]).dtype == "float32"
    assert ops.convert_to_tensor([True, False]).dtype == "uint8"
    assert ops.convert_to_tensor(x, dtype="int32").dtype == "int32"
    assert ops.cast(t, "int64").dtype == "int64"
    assert ops.cast(np.array([0.0, 2.0]), "bool").tolist() == [False, True]
    with pytest.raises(TypeError, match="float64"):
        ops.convert_to_tensor(x, dtype="float64")
    # stop_gradient cuts the tape
    a = et([1.0, 2.0])
    with GradientTape() as tape:
        tape.watch(a)
        y = ops.sum(a * ops.stop_gradient(a))
    assert_close(np.asarray(tape.gradient(y, a)), [1.0, 2.0], rtol=0, atol=0)
    assert ops.allclose(x, x + 1e-9) is True
    assert ops.isclose(x, x).all()
    assert ops.nan_to_num(np.array([np.nan, 1.0])).tolist() == [0.0, 1.0]
    assert ops.searchsorted(np.array([1, 3, 5]), np.array([0, 3, 6])).tolist() == [0, 1, 3]
    assert ops.digitize(np.array([0.5, 1.5]), np.array([1.0])).tolist() == [0, 1]
    assert ops.bincount(np.array([0, 2, 2])).tolist() == [1, 0, 2]
    assert ops.nonzero(np.array([0, 3, 0, 1]))[0].tolist() == [1, 3]
    assert ops.where(np.array([0, 3, 0, 1]))[0].tolist() == [1, 3]
    assert ops.median(np.array([3.0, 1.0, 2.0])) == 2.0
    assert_close(ops.quantile(np.arange(5.0), 0.25), 1.0)


def test_ops_on_keras_tensors_build_lambda_layers():
    inp = keras.Input((4,))
    out = ops.flip(ops.cumsum(ops.square(inp), axis=1), axis=1)
    model = keras.Model(inp, out)
    x = RNG.normal(size=(2, 4)).astype(np.float32)
    assert_close(model.predict(x, verbose=0), np.flip(np.cumsum(f32(x) ** 2, axis=1), axis=1), rtol=1e-5, atol=1e-5)


def test_custom_layer_with_many_ops_trains():
    class Gated(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], 4), initializer="glorot_uniform")

        def call(self, x):
            h = ops.matmul(x, self.w)
            h = ops.where(ops.greater(h, 0.0), h, ops.expm1(h))
            return ops.normalize(ops.concatenate([h, ops.flip(h, axis=1)], axis=1)) * ops.logsumexp(h, axis=1,
                                                                                                  keepdims=True)

    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((3,)), Gated(), keras.layers.Dense(1)])
    m.compile("adam", "mse")
    x = RNG.normal(size=(32, 3)).astype(np.float32)
    y = x.sum(1, keepdims=True)
    h = m.fit(x, y, epochs=4, batch_size=8, verbose=0)
    assert np.all(np.isfinite(h.history["loss"])) and h.history["loss"][-1] < h.history["loss"][0]


# ----------------------------------------------------------------- keras.random
def test_random_seed_semantics():
    r = keras.random
    a, b = r.normal((50,), seed=3), r.normal((50,), seed=3)
    assert isinstance(a, EagerTensor) and a.dtype == "float32" and a.shape == (50,)
    assert np.array_equal(np.asarray(a), np.asarray(b))  # int seed: stateless
    assert not np.array_equal(np.asarray(a), np.asarray(r.normal((50,), seed=4)))
    g1, g2 = r.SeedGenerator(7), r.SeedGenerator(7)
    u1, u2 = r.uniform((20,), seed=g1), r.uniform((20,), seed=g1)
    assert not np.array_equal(np.asarray(u1), np.asarray(u2))  # a generator advances
    assert np.array_equal(np.asarray(u1), np.asarray(r.uniform((20,), seed=g2)))  # ...and replays
    keras.utils.set_random_seed(11)
    s1 = [np.asarray(r.normal((5,))) for _ in range(2)]
    keras.utils.set_random_seed(11)
    s2 = [np.asarray(r.normal((5,))) for _ in range(2)]
    assert np.array_equal(s1[0], s2[0]) and np.array_equal(s1[1], s2[1]) and not np.array_equal(s1[0], s1[1])
    with pytest.raises(ValueError, match="seed"):
        r.normal((2,), seed="x")
    with pytest.raises(ValueError, match="integer"):
        keras.utils.set_random_seed(1.5)
    assert g1.get_config() == {"seed": 7, "name": g1.name}


def test_random_distributions():
    r = keras.random
    n = np.asarray(r.normal((20000,), mean=2.0, stddev=3.0, seed=1))
    assert abs(n.mean() - 2.0) < 0.1 and abs(n.std() - 3.0) < 0.1
    u = np.asarray(r.uniform((20000,), minval=-1.0, maxval=3.0, seed=1))
    assert u.min() >= -1.0 and u.max() < 3.0 and abs(u.mean() - 1.0) < 0.05
    t = np.asarray(r.truncated_normal((20000,), mean=1.0, stddev=0.5, seed=2))
    assert t.min() >= 0.0 and t.max() <= 2.0 and abs(t.std() - 0.5 * 0.8796) < 0.02  # std of N truncated at 2 sigma
    i = r.randint((1000,), 2, 5, seed=1)
    assert i.dtype == "int32" and set(np.asarray(i).tolist()) == {2, 3, 4}
    assert r.randint((3,), 0, 2, dtype="int64", seed=1).dtype == "int64"
    with pytest.raises(ValueError, match="float"):
        r.uniform((2,), dtype="int32")
    with pytest.raises(NotImplementedError, match="float64"):
        r.normal((2,), dtype="float64")
    s = r.shuffle(np.arange(10), seed=5)
    assert sorted(s.tolist()) == list(range(10)) and s.tolist() != list(range(10))
    assert np.array_equal(s, r.shuffle(np.arange(10), seed=5))
    s2 = r.shuffle(np.arange(12).reshape(3, 4), axis=1, seed=1)
    assert sorted(s2[0].tolist()) == [0, 1, 2, 3] and (s2 - s2[:, :1] == s2[0] - s2[0, 0]).all()
    c = np.asarray(r.categorical(np.log([[0.2, 0.8], [0.999, 0.001]]), 4000, seed=3))
    assert c.shape == (2, 4000) and c.dtype == np.int32
    assert abs(c[0].mean() - 0.8) < 0.03 and c[1].mean() < 0.01
    x = np.ones((200, 50), np.float32)
    d = r.dropout(x, 0.3, seed=1)
    assert set(np.unique(d).tolist()) <= {0.0, np.float32(1 / 0.7)} and abs((d == 0).mean() - 0.3) < 0.02
    dn = r.dropout(x, 0.5, noise_shape=(None, 1), seed=2)
    assert np.all((dn == 0).all(1) | (dn != 0).all(1))
    xt = et(np.full((3, 4), 2.0))
    with GradientTape() as tape:
        tape.watch(xt)
        y = ops.sum(r.dropout(xt, 0.5, seed=4))
    gd = np.asarray(tape.gradient(y, xt))
    assert set(np.unique(gd).tolist()) <= {0.0, 2.0}
    assert np.asarray(r.gamma((5000,), 2.0, seed=1)).mean() == pytest.approx(2.0, abs=0.1)
    assert np.asarray(r.beta((5000,), 2.0, 2.0, seed=1)).mean() == pytest.approx(0.5, abs=0.02)


# ----------------------------------------------------------------- keras.backend
def test_backend_config_and_dtypes():
    B = keras.backend
    assert B.epsilon() == 1e-7
    B.set_epsilon(1e-4)
    try:
        assert ops.normalize(np.zeros(3, np.float32)).tolist() == [0, 0, 0]
        out = ops.binary_crossentropy(np.array([1.0]), np.array([0.0], np.float32))
        assert out[0] == pytest.approx(-np.log(1e-4), rel=1e-3)  # the clip follows set_epsilon
    finally:
        B.set_epsilon(1e-7)
    B.set_floatx("float32")
    with pytest.raises(NotImplementedError, match="float32"):
        B.set_floatx("float64")
    with pytest.raises(ValueError, match="floatx"):
        B.set_floatx("float17")
    B.set_image_data_format("channels_last")
    with pytest.raises(NotImplementedError, match="channels_last"):
        B.set_image_data_format("channels_first")
    with pytest.raises(ValueError, match="data_format"):
        B.set_image_data_format("nhwc")
    assert B.is_keras_tensor(keras.Input((2,))) and not B.is_keras_tensor(np.zeros(2))
    assert B.standardize_dtype(None) == "float32" and B.standardize_dtype(float) == "float32"
    assert B.standardize_dtype(int) == "int32" and B.standardize_dtype(np.float64) == "float64"
    assert B.standardize_dtype("bool") == "bool"
    with pytest.raises(ValueError, match="dtype"):
        B.standardize_dtype("float")
    cases = {("int32", "float32"): "float32", (int, "int8"): "int8", ("float64", "float32"): "float32",
             ("float16", "bfloat16"): "float32", ("uint8", "int8"): "int16", (float, "int32"): "float32",
             ("int64", "float16"): "float16", ("uint64", "int64"): "float32", ("bool",): "bool",
             (int, float): "float32", ("int64",): "int32", ("bool", "int8"): "int8"}
    for args, want in cases.items():
        assert B.result_type(*args) == want, args
    B.clear_session()
    assert [B.get_uid("a"), B.get_uid("a"), B.get_uid("b")] == [1, 2, 1]
    assert B.is_float_dtype("float16") and B.is_int_dtype("uint8")


# ----------------------------------------------------------------- integer inputs, N-D matmul, ties
def test_integer_inputs_follow_keras_dtype_rules():
    a = np.array([[1, 2], [3, 4]], np.int32)
    b = np.array([[5, 6], [7, 8]], np.int32)
    cases = [("add", (a, b), a + b), ("subtract", (a, 2), a - 2), ("multiply", (a, b), a * b),
             ("maximum", (a, b), np.maximum(a, b)), ("power", (a, 2), a ** 2), ("negative", (a,), -a),
             ("abs", (-a,), a), ("square", (a,), a * a), ("clip", (a, 2, 3), np.clip(a, 2, 3)),
             ("sum", (a,), a.sum()), ("max", (a,), 4), ("prod", (a,), 24), ("relu", (a - 2,), np.maximum(a - 2, 0)),
             ("reshape", (a, (4,)), a.reshape(4)), ("transpose", (a,), a.T), ("concatenate", ([a, b],), np.r_[a, b]),
             ("mod", (a, 3), a % 3)]
    for name, args, want in cases:  # these raised TypeError ("binary: a must be float32") before
        r = getattr(ops, name)(*args)
        assert r.dtype == np.int32 and np.array_equal(r, want), name
    assert ops.divide(a, b).dtype == np.float32  # true division gives floatx
    assert ops.mean(a).dtype == np.float32
    assert ops.add(a, 0.5).dtype == np.float32 and ops.add(a, 0.5)[0, 0] == 1.5  # weak float promotes
    assert ops.add(a, np.ones((2, 2), np.float32))[1, 1] == 5.0
    assert ops.add(a > 2, a > 1).dtype == np.bool_
    ti = ops.convert_to_tensor(a)
    r = ops.add(ti, ti)
    assert isinstance(r, EagerTensor) and r.dtype == "int32" and np.asarray(r).tolist() == [[2, 4], [6, 8]]
    # an int tensor mixed with a float tensor on the tape: the float input still gets its gradient
    xf = et(np.ones((2, 2)))
    with GradientTape() as tape:
        tape.watch(xf)
        y = ops.sum(ops.multiply(xf, ti))
    assert_close(np.asarray(tape.gradient(y, xf)), a, rtol=0, atol=0)


def test_matmul_nd_and_vector_operands_with_gradients():
    cases = [((3,), (3, 2)), ((2, 3), (3,)), ((3,), (3,)), ((2, 2, 3, 4), (4, 5)), ((2, 1, 3, 4), (3, 4, 5)),
             ((4, 3), (2, 3, 5)), ((2, 3, 4), (2, 4, 2))]
    from pyconvnet import keras_ops  # keras.ops.matmul proper; pyconvnet.ops.matmul doubles as tf.matmul, which
    for sa, sb in cases:             # keeps tf's 2-D/3-D rules for pure NumPy operands (tests/test_gemm.py)
        check(lambda x, y: keras_ops.matmul(x, y), np.matmul, [RNG.normal(size=sa), RNG.normal(size=sb)])
        a, b = RNG.normal(size=sa), RNG.normal(size=sb)
        assert_close(np.asarray(ops.matmul(et(a), et(b))), np.matmul(f32(a), f32(b)), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="matmul"):
        ops.matmul(et(np.ones((2, 3))), et(np.ones((2, 3))))


def test_dot_follows_np_dot():
    for sa, sb in [((2, 3, 4), (5, 4, 6)), ((3, 4), (4,)), ((3,), (3, 2)), ((2, 3), (3, 4)), ((3,), (3,))]:
        check(lambda x, y: ops.dot(x, y), np.dot, [RNG.normal(size=sa), RNG.normal(size=sb)])
    assert_close(ops.dot(np.float32(2.0), np.ones((2, 2), np.float32)), np.full((2, 2), 2.0))


def test_expand_dims_squeeze_accept_tuples():
    x = RNG.normal(size=(2, 3))
    check(lambda t: ops.expand_dims(t, (0, 3)), lambda v: np.expand_dims(v, (0, 3)), [x])
    check(lambda t: ops.expand_dims(t, (-1, 1)), lambda v: np.expand_dims(v, (-1, 1)), [x])
    y = RNG.normal(size=(1, 2, 1, 3, 1))
    check(lambda t: ops.squeeze(t, (0, -1)), lambda v: np.squeeze(v, (0, -1)), [y])
    assert ops.squeeze(np.ones((1, 2, 1), np.int32), (0, 2)).dtype == np.int32
    with pytest.raises(ValueError, match="squeeze"):
        ops.squeeze(y, (1,))


@pytest.mark.parametrize("name", ["max", "min", "amax", "amin"])
def test_max_min_split_the_gradient_among_ties(name):
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [0.0, -1.0, 5.0]])
    ext = np.max if "max" in name else np.min
    for axis in (1, None):
        t = et(x)
        with GradientTape() as tape:
            tape.watch(t)
            y = getattr(ops, name)(t, axis=axis)
            s = ops.sum(y)
        m = (x == ext(x, axis=axis, keepdims=True)).astype(float)
        want = m / m.sum(axis=axis, keepdims=True)  # TF reduce_max / torch.amax: ties share evenly
        assert_close(np.asarray(tape.gradient(s, t)), want, rtol=1e-6, atol=1e-7)


# ----------------------------------------------------------------- control flow, composites, linalg
def test_control_flow_is_eager_and_differentiable():
    xs = f32(RNG.normal(size=(4, 3)))
    w = et(RNG.normal(size=(3,)))
    with GradientTape() as tape:
        tape.watch(w)
        carry, ys = ops.scan(lambda c, x: (c + ops.sum(x * w), x * w), 0.0, et(xs))
        loss = carry + ops.sum(ys)
    assert ys.shape == (4, 3)
    assert_close(np.asarray(tape.gradient(loss, w)), 2 * xs.sum(0), rtol=1e-5, atol=1e-5)
    c, ys = ops.scan(lambda c, x: (c + x, c), np.float32(0), np.arange(4, dtype=np.float32), reverse=True)
    assert float(np.asarray(c)) == 6 and np.asarray(ys).tolist() == [6, 5, 3, 0]  # ys[i] belongs to xs[i]
    c2, ys2 = ops.scan(lambda c, x: (c, (x[0] * 2, x[1])), 0.0, (np.ones((2, 3), np.float32), np.zeros((2,), np.float32)))
    assert ys2[0].shape == (2, 3) and ys2[1].shape == (2,)
    _, none = ops.scan(lambda c, x: (c + 1.0, None), 0.0, length=3)
    assert none is None
    assert np.asarray(ops.map(lambda x: x * 2, np.arange(3, dtype=np.float32))).tolist() == [0, 2, 4]
    i, s = ops.while_loop(lambda i, s: i < 5, lambda i, s: (i + 1, s + 2.0), (0, np.float32(1)))
    assert i == 5 and float(np.asarray(s)) == 11
    assert ops.while_loop(lambda v: True, lambda v: v + 1, 0, maximum_iterations=7) == 7
    assert ops.fori_loop(0, 4, lambda i, v: v + i, 0) == 6
    assert ops.cond(np.array(False), lambda: "t", lambda: "f") == "f"
    assert ops.switch(-3, [lambda x: x + 1, lambda x: x - 1], 10) == 11  # index clipped
    assert ops.switch(9, [lambda x: x + 1, lambda x: x - 1], 10) == 9
    acc = ops.associative_scan(lambda a, b: a * b, np.arange(1, 5, dtype=np.float32))
    assert np.asarray(acc).tolist() == [1, 2, 6, 24]
    accr = ops.associative_scan(lambda a, b: a + b, np.arange(4, dtype=np.float32).reshape(2, 2), reverse=True, axis=1)
    assert np.asarray(accr).tolist() == [[1, 1], [5, 3]]


def test_numpy_style_composites():
    a, b = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
    check(ops.logaddexp, np.logaddexp, [a, b])
    check(ops.hypot, np.hypot, [a, b])
    check(ops.exp2, np.exp2, [a])
    check(ops.deg2rad, np.deg2rad, [a])
    check(ops.rad2deg, np.rad2deg, [a])
    check(lambda x: ops.trace(x), np.trace, [a])
    check(lambda x, y: ops.hstack([x, y]), lambda x, y: np.hstack([x, y]), [a, b])
    check(lambda x, y: ops.vstack([x, y]), lambda x, y: np.vstack([x, y]), [a[0], b[0]])
    ids = np.array([0, 2, 0, -1, 3])
    d = RNG.normal(size=(5, 2))

    def seg(v):
        out = np.zeros((3, 2))
        for r, s in zip(v, ids):
            if 0 <= s < 3:
                out[s] += r
        return out
    check(lambda x: ops.segment_sum(x, ids, num_segments=3), seg, [d])
    assert ops.segment_max(np.array([1.0, 5.0, 2.0]), np.array([0, 0, 1])).tolist() == [5.0, 2.0]
    c = ops.copy(np.ones(2))
    assert c.tolist() == [1, 1]


def test_linalg_with_gradients():
    a = RNG.normal(size=(3, 3)) + 3 * np.eye(3)
    ab = RNG.normal(size=(2, 3, 3)) + 3 * np.eye(3)
    check(ops.inv, np.linalg.inv, [a], atol=1e-5, grtol=5e-3)
    check(ops.inv, np.linalg.inv, [ab], atol=1e-5, grtol=5e-3)
    check(ops.det, np.linalg.det, [a], rtol=1e-4, atol=1e-4, grtol=5e-3)
    check(ops.det, np.linalg.det, [ab], rtol=1e-4, atol=1e-4, grtol=5e-3)
    b = RNG.normal(size=(3, 2))
    check(ops.solve, np.linalg.solve, [a, b], atol=1e-5, grtol=5e-3)
    check(ops.solve, np.linalg.solve, [a, b[:, 0]], atol=1e-5, grtol=5e-3)


def test_ops_on_several_keras_tensors():
    """ops.add(a, b) on two Inputs recursed forever (only args[0] was wired into the Lambda)."""
    a, b = keras.Input((3,)), keras.Input((3,))
    outs = [ops.add(a, b), ops.multiply(b, a), ops.where(ops.greater(a, 0.5), a, b), ops.stack([a, b], axis=1),
            ops.matmul(ops.expand_dims(a, 2), ops.expand_dims(b, 1)), ops.einsum("bi,bi->b", a, b),
            ops.maximum(1.0, a)]
    m = keras.Model([a, b], outs)
    xa = np.array([[0.0, 1.0, 2.0]], np.float32)
    xb = np.array([[-1.0, 3.0, 0.5]], np.float32)
    r = m.predict([xa, xb], verbose=0)
    want = [xa + xb, xa * xb, np.where(xa > 0.5, xa, xb), np.stack([xa, xb], 1), xa[:, :, None] * xb[:, None, :],
            (xa * xb).sum(1), np.maximum(1.0, xa)]
    for got, ref in zip(r, want):
        assert_close(got, ref, rtol=1e-6, atol=1e-6)


def test_float_ops_accept_boolean_and_integer_tensors():
    """ops.mean(ops.equal(...)) -- a custom accuracy -- raised 'reduce: x must be float32, got uint8'."""
    y = ops.convert_to_tensor(np.array([1.0, 0.0, 1.0], np.float32))
    p = ops.convert_to_tensor(np.array([0.9, 0.2, 0.4], np.float32))
    eq = ops.equal(y, ops.round(p))
    acc = ops.mean(eq)
    assert acc.dtype == "float32" and float(np.asarray(acc)) == pytest.approx(2 / 3)
    assert ops.sum(eq).dtype == "int32" and int(np.asarray(ops.sum(eq))) == 2
    ti = ops.convert_to_tensor([1, 2])
    assert_close(np.asarray(ops.exp(ti)), np.exp([1.0, 2.0]))
    assert_close(np.asarray(ops.softmax(ti)), np.exp([1.0, 2.0]) / np.exp([1.0, 2.0]).sum())
    assert_close(np.asarray(ops.std(eq)), np.std([1.0, 1.0, 0.0]))


def test_python_numbers_and_lists_and_sub_namespaces():
    r = ops.add(1, 2)
    assert int(r) == 3 and np.asarray(r).dtype == np.int32  # Keras: Python ints -> int32
    assert ops.add([1, 2], [3, 4]).dtype == np.int32
    assert_close(ops.add([1.5], [2]), [3.5])  # a float list with an int list: floats (raised TypeError before)
    assert_close(ops.multiply([1, 2], 0.5), [0.5, 1.0])
    assert_close(ops.maximum([1, 2], [1.5, 0]), [1.5, 2.0])
    assert ops.sum([1, 2]) == 3
    assert_close(ops.nn.relu(np.array([-1.0, 2.0], np.float32)), [0.0, 2.0])
    assert ops.nn.softmax is ops.softmax and ops.linalg.det is ops.det and ops.numpy.add is ops.add


# ----------------------------------------------------------------- the long tail
def test_more_elementwise_with_gradients():
    a, b = _u(-2, 2), _u(0.3, 2) * RNG.choice([-1, 1], size=(3, 4))
    check(ops.arctan2, np.arctan2, [a, b])
    check(ops.arctan2, np.arctan2, [a, b[:1]])  # broadcasting
    check(ops.cbrt, np.cbrt, [_u(0.2, 3) * RNG.choice([-1, 1], size=(3, 4))])
    v = _u(-0.9, 0.9)
    e = ops.erfinv(v.astype(np.float32))
    assert_close(_np_erf(np.asarray(e, np.float64)), f32(v), rtol=1e-5, atol=1e-6)  # erf(erfinv(v)) = v
    t = et(v)
    with GradientTape() as tape:
        tape.watch(t)
        y = ops.sum(ops.erfinv(t))
    yv = np.asarray(ops.erfinv(f32(v).astype(np.float32)), np.float64)
    assert_close(np.asarray(tape.gradient(y, t)), np.sqrt(np.pi) / 2 * np.exp(yv ** 2), rtol=1e-4, atol=1e-5)
    check(ops.sinc, np.sinc, [_u(0.1, 2)])
    check(ops.fabs, np.fabs, [b])
    check(ops.hard_tanh, lambda v: np.clip(v, -1, 1), [_u(0.1, 0.9) * RNG.choice([-2, 1, -1, 2], size=(3, 4))])
    check(lambda t: ops.hard_shrink(t, 0.5), lambda v: np.where(np.abs(v) > 0.5, v, 0), [_awayfromint() / 2.7])
    check(lambda t: ops.soft_shrink(t, 0.5), lambda v: np.sign(v) * np.maximum(np.abs(v) - 0.5, 0),
          [_awayfromint() / 2.7])
    check(ops.tanh_shrink, lambda v: v - np.tanh(v), [a])
    check(lambda t: ops.threshold(t, 0.3, -1.0), lambda v: np.where(v > 0.3, v, -1.0), [_awayfromint() / 2.7 + 0.05])
    check(ops.sparse_sigmoid, lambda v: np.clip(0.5 * (v + 1), 0, 1), [_awayfromint() / 2.7])
    qz = f32(np.where(RNG.uniform(size=(3, 4)) < 0.3, 0.0, b))
    qz[0, 0] = 0.0
    check(lambda p: ops.divide_no_nan(p, qz), lambda p: np.where(qz == 0, 0.0, p / np.where(qz == 0, 1, qz)), [a])
    check(ops.divide_no_nan, lambda p, q: p / q, [a, b])  # away from zeros: both gradients
    check(ops.logaddexp2, np.logaddexp2, [a, b])
    check(lambda t: ops.heaviside(np.array([-1.0, 0.0, 2.0]), t), lambda q: np.heaviside([-1.0, 0.0, 2.0], q),
          [np.array([0.3, 0.7, 0.1])])
    check(ops.fmod, np.fmod, [np.array([[2.3, -2.3, 5.3]]), np.array([[1.1, 1.1, -1.7]])])
    check(lambda t: ops.diff(t, n=2, axis=1), lambda v: np.diff(v, n=2, axis=1), [a])
    check(lambda t: ops.ptp(t, axis=1), lambda v: np.ptp(v, axis=1), [a])
    check(lambda t: ops.sparsemax(t), lambda v: _sparsemax_ref(v), [RNG.normal(size=(3, 5))])
    check(lambda t: ops.sparsemax(t), lambda v: _sparsemax_ref(v), [RNG.normal(size=(4, 6)) * 0.3])
    check(lambda t: ops.sparsemax(t, axis=0), lambda v: _sparsemax_ref(v.T).T, [RNG.normal(size=(5, 3)) * 0.2])



def _sparsemax_ref(z):
    """Keras 3.15's sparsemax formula (keras/src/backend/*/nn.py), row by row."""
    out = np.zeros_like(z)
    for i, row in enumerate(z):
        s = np.sort(row)[::-1]
        c = np.cumsum(s)
        r = np.arange(1, len(row) + 1)
        sup = s - (c - 1) / r > 0
        tau = (c[sup].sum() - 1) / sup.sum()
        out[i] = np.maximum(row - tau, 0)
    return out


def test_nan_reductions():
    x = np.array([[1.0, np.nan, 3.0, -2.0], [np.nan, np.nan, 2.0, 0.5], [0.5, 1.5, 2.5, 1.0]])
    for name in ("nansum", "nanmean", "nanmax", "nanmin", "nanprod"):
        for axis in (None, 0, 1):
            got = getattr(ops, name)(x.astype(np.float32), axis=axis)
            assert_close(got, getattr(np, name)(f32(x), axis=axis), rtol=1e-5, atol=1e-6, what=name)
    t = et(x)
    with GradientTape() as tape:
        tape.watch(t)
        y = ops.nansum(ops.nanmean(t, axis=1))
    g = np.asarray(tape.gradient(y, t))
    want = np.where(np.isnan(x), 0.0, 1.0 / np.sum(~np.isnan(x), axis=1, keepdims=True))
    assert_close(g, want, rtol=1e-6, atol=1e-7)
    assert ops.nanargmax(x, axis=1).tolist() == [2, 2, 2]
    assert_close(ops.nanmedian(x, axis=1), np.nanmedian(x, axis=1))
    assert_close(ops.nanstd(x), np.nanstd(x))
    assert_close(ops.percentile(np.arange(5.0), 50), 2.0)


def _scatter_ref(ind, v, shape):
    z = np.zeros(shape)
    np.add.at(z, tuple(ind.T), v)
    return z


def test_shape_and_stacking_tail():
    a, b = RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3))
    check(ops.fliplr, np.fliplr, [a])
    check(ops.flipud, np.flipud, [a])
    check(lambda t: ops.rot90(t, k=3), lambda v: np.rot90(v, 3), [a])
    check(lambda x, y: ops.dstack([x, y]), lambda x, y: np.dstack([x, y]), [a, b])
    check(lambda x: ops.array_split(x, 2, axis=1)[1], lambda v: np.array_split(v, 2, axis=1)[1], [a])
    assert [p.shape for p in ops.hsplit(np.ones((2, 4), np.float32), 2)] == [(2, 2), (2, 2)]
    assert [p.shape for p in ops.vsplit(np.ones((2, 4), np.float32), 2)] == [(1, 4), (1, 4)]
    check(ops.inner, np.inner, [a, b])
    check(ops.kron, np.kron, [a, RNG.normal(size=(2, 2))])
    check(ops.cross, np.cross, [RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))])
    ind = np.array([[0, 1], [1, 2], [0, 1]])
    check(lambda v: ops.scatter(ind, v, (2, 3)), lambda v: _scatter_ref(ind, v, (2, 3)), [np.array([1.0, 2.0, 3.0])])
    check(lambda v: ops.scatter(ind[:2], v, (2, 3)), lambda v: _scatter_ref(ind[:2], v, (2, 3)),
          [np.array([1.0, 2.0])])

    def upd_ref(x, u):
        out = x.copy()
        out[0, 2], out[1, 0] = u[0], u[1]
        return out
    check(lambda x, u: ops.scatter_update(x, np.array([[0, 2], [1, 0]]), u), upd_ref, [a, np.array([5.0, 6.0])])
    x = np.zeros((2, 3), np.float32)
    assert_close(ops.get_item(x, (0, 1)), 0.0)
    assert_close(ops.logspace(0, 2, 3), [1, 10, 100])
    assert_close(ops.geomspace(1, 8, 4), [1, 2, 4, 8])
    assert ops.empty_like(x).shape == (2, 3)
    assert ops.array([1, 2]).dtype == "int32"
    assert np.asarray(ops.select([x > 1, x < 1], [x + 1, x - 1], 9.0)).tolist() == (x - 1).tolist()
    assert ops.isin(np.array([1, 2, 3]), np.array([2])).tolist() == [False, True, False]
    assert ops.unravel_index(np.array([5]), (2, 3))[1].tolist() == [2]
    assert ops.histogram(np.array([0.0, 1.0, 1.0]), bins=2)[0].tolist() == [1, 2]


def test_linalg_tail_and_forward_only_gradients_raise():
    a = RNG.normal(size=(3, 3)) + 3 * np.eye(3)
    spd = a @ a.T
    check(lambda t: ops.slogdet(t)[1], lambda v: np.linalg.slogdet(v)[1], [a], rtol=1e-4, atol=1e-5, grtol=5e-3)
    check(ops.logdet, lambda v: np.log(np.linalg.det(v)), [spd], rtol=1e-4, atol=1e-4, grtol=5e-3)
    assert_close(ops.cholesky(spd.astype(np.float32)), np.linalg.cholesky(f32(spd)), rtol=1e-4, atol=1e-4)
    q, r = ops.qr(a.astype(np.float32))
    assert_close(np.asarray(q) @ np.asarray(r), f32(a), rtol=1e-4, atol=1e-4)
    u, s, vt = ops.svd(a.astype(np.float32))
    assert_close(s, np.linalg.svd(f32(a))[1], rtol=1e-4, atol=1e-4)
    assert_close(ops.pinv(a.astype(np.float32)), np.linalg.pinv(f32(a)), rtol=1e-3, atol=1e-4)
    t = et(a)
    with GradientTape() as tape:
        tape.watch(t)
        y = ops.sum(ops.svd(t)[1])
    with pytest.raises(NotImplementedError, match="svd"):
        tape.gradient(y, t)


def test_custom_gradient():
    @ops.custom_gradient
    def clip_grad(x):
        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return ops.clip(upstream, -0.1, 0.1)
        return x * 1.0, grad

    @ops.custom_gradient
    def log1pexp(x):  # the Keras docstring example: a stable gradient
        e = ops.exp(x)

        def grad(upstream):
            return ops.multiply(upstream, 1.0 - 1.0 / ops.add(1, e))
        return ops.log(1 + e), grad
    x = et(np.array([1.0, 2.0, 100.0]))
    with GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(clip_grad(x) * 5.0) + ops.sum(log1pexp(x))
    g = np.asarray(tape.gradient(y, x))
    assert_close(g, 0.1 + 1 / (1 + np.exp(-np.array([1.0, 2.0, 100.0]))), rtol=1e-6, atol=1e-6)
    assert_close(np.asarray(log1pexp(np.array([0.0], np.float32))), [np.log(2.0)])


def _d2s_ref(x, r):
    n, h, w, c = x.shape
    out = np.zeros((n, h * r, w * r, c // (r * r)))
    for i in range(h * r):
        for j in range(w * r):
            for k in range(c // (r * r)):
                out[:, i, j, k] = x[:, i // r, j // r, ((i % r) * r + (j % r)) * (c // (r * r)) + k]  # TF DCR
    return out


def test_rearrangement_and_misc_tail():
    x = RNG.normal(size=(2, 2, 3, 8))
    check(lambda t: ops.depth_to_space(t, 2), lambda v: _d2s_ref(v, 2), [x])
    y = RNG.normal(size=(1, 4, 2, 3))
    check(lambda t: ops.depth_to_space(ops.space_to_depth(t, 2), 2), lambda v: v, [y])
    with pytest.raises(ValueError, match="space_to_depth"):
        ops.space_to_depth(np.zeros((1, 3, 2, 1), np.float32), 2)
    s = RNG.normal(size=(2, 10))
    check(lambda t: ops.extract_sequences(t, 4, 3),
          lambda v: np.stack([v[:, i:i + 4] for i in range(0, 7, 3)], axis=1), [s])
    check(lambda t: ops.diagflat(t), lambda v: np.diagflat(v), [RNG.normal(size=(2, 2))])
    a, b = RNG.uniform(0, 1, size=(3, 4)), RNG.uniform(0, 1, size=(3, 4))
    check(lambda p, q: ops.psnr(p, q, 1.0), lambda p, q: 20 * np.log10(1.0) - 10 * np.log10(np.mean((p - q) ** 2)),
          [a, b], rtol=1e-4, atol=1e-4)
    p, q = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(2, 5, 4))
    check(ops.cdist, lambda u, v: np.sqrt(((u[:, :, None] - v[:, None]) ** 2).sum(-1)), [p, q])
    check(lambda t: ops.trapezoid(t), lambda v: np.trapezoid(v), [a])
    xs = np.sort(RNG.uniform(0, 3, size=4))
    check(lambda t: ops.trapezoid(t, xs, axis=1), lambda v: np.trapezoid(v, xs, axis=1), [a])
    assert ops.saturate_cast(np.array([300.0, -5.0, 7.6]), "uint8").tolist() == [255, 0, 7]
    assert_close(ops.hamming(5), np.hamming(5))
    assert_close(ops.kaiser(5, 2.0), np.kaiser(5, 2.0))
    assert ops.bitwise_xor(np.array([6]), np.array([3])).tolist() == [5]
    assert ops.left_shift(np.array([1]), np.array([3])).tolist() == [8]
    check(lambda t: ops.ldexp(t, np.array([1, -1, 2, 0])), lambda v: np.ldexp(v, [1, -1, 2, 0]), [a])
    assert ops.segment_min(np.array([3.0, 1.0, 2.0]), np.array([0, 0, 1])).tolist() == [1.0, 2.0]
    assert ops.segment_prod(np.array([3.0, 2.0, 2.0]), np.array([0, 0, 1])).tolist() == [6.0, 2.0]
    assert_close(ops.solve_triangular(np.array([[2.0, 99.0], [1.0, 4.0]], np.float32), np.array([2.0, 5.0], np.float32),
                                      lower=True), [1.0, 1.0])  # the upper triangle is ignored


@pytest.mark.parametrize("strides,padding,output_padding,kshape", [
    (2, "valid", None, (3, 3)), (2, "same", None, (3, 3)), (1, "same", None, (3, 2)), (2, "same", 1, (3, 3)),
    (2, "valid", 1, (3, 3)), (3, "valid", None, (2, 2)), ((2, 1), "same", None, (2, 3))])
def test_conv_transpose(strides, padding, output_padding, kshape):
    """conv_transpose is the forward conv's input gradient (TF's conv2d_transpose) with Keras's output length."""
    x = RNG.normal(size=(2, 4, 3, 3))
    w = RNG.normal(size=kshape + (2, 3))  # (kh, kw, out, in)
    s = (strides, strides) if isinstance(strides, int) else strides
    op = None if output_padding is None else (output_padding, output_padding)

    def length(n, k, st, o):
        if o is None:
            return n * st + max(k - st, 0) if padding == "valid" else n * st
        return (n - 1) * st + k - 2 * (k // 2 if padding == "same" else 0) + o
    out = (2, length(4, kshape[0], s[0], None if op is None else op[0]), length(3, kshape[1], s[1],
                                                                             None if op is None else op[1]), 2)
    check(lambda a, b: ops.conv_transpose(a, b, strides=strides, padding=padding, output_padding=output_padding),
          lambda a, b: RC.conv2d_backward_input(a, b, out, s, padding), [x, w], atol=1e-4)


def test_conv_transpose_1d_and_errors():
    x, w = RNG.normal(size=(2, 5, 3)), RNG.normal(size=(3, 2, 3))
    check(lambda a, b: ops.conv_transpose(a, b, strides=2, padding="same"),
          lambda a, b: RC.conv2d_backward_input(a[:, None], b[None], (2, 1, 10, 2), (1, 2), "same")[:, 0], [x, w],
          atol=1e-4)
    with pytest.raises(ValueError, match="output_padding"):
        ops.conv_transpose(np.zeros((1, 3, 3, 1), np.float32), np.zeros((3, 3, 1, 1), np.float32), strides=2,
                           output_padding=2)
    with pytest.raises(ValueError, match="channels"):
        ops.conv_transpose(np.zeros((1, 3, 3, 2), np.float32), np.zeros((3, 3, 1, 1), np.float32))


def _adaptive_ref(x, out, mode):
    def bins(n, o):
        return [((i * n) // o, -((-(i + 1) * n) // o)) for i in range(o)]
    f = np.mean if mode == "avg" else np.max
    if x.ndim == 3:
        return np.stack([f(x[:, a:b], axis=1) for a, b in bins(x.shape[1], out[0])], axis=1)
    return np.stack([np.stack([f(x[:, a:b, c:d], axis=(1, 2)) for c, d in bins(x.shape[2], out[1])], axis=1)
                     for a, b in bins(x.shape[1], out[0])], axis=1)


@pytest.mark.parametrize("mode", ["avg", "max"])
def test_adaptive_pools(mode):
    op = ops.adaptive_average_pool if mode == "avg" else ops.adaptive_max_pool
    x = RNG.normal(size=(2, 7, 5, 3))
    for o in [(3, 2), (7, 5), (2, 4), (1, 1)]:
        check(lambda t: op(t, o), lambda v: _adaptive_ref(v, o, mode), [x])
    x1 = RNG.normal(size=(2, 7, 3))
    check(lambda t: op(t, 3), lambda v: _adaptive_ref(v, (3,), mode), [x1])


def test_erfc_fmax_fmin():
    a = _u(-2, 2)
    check(ops.erfc, lambda v: 1 - _np_erf(v), [a])
    p = np.array([1.0, np.nan, 3.0, np.nan], np.float32)
    q = np.array([2.0, 1.0, np.nan, np.nan], np.float32)
    assert np.array_equal(ops.fmax(p, q), np.fmax(p, q), equal_nan=True)
    assert np.array_equal(ops.fmin(p, q), np.fmin(p, q), equal_nan=True)
    b = _u(-2, 2)
    check(ops.fmax, np.fmax, [a, b])
    check(ops.fmin, np.fmin, [a, b])


def test_reshape_int_clip_array_bounds_softmax_tuple_axes():
    x = RNG.normal(size=(3, 4))
    check(lambda t: ops.reshape(t, -1), lambda v: v.reshape(-1), [x])  # an int newshape raised TypeError
    lo, hi = RNG.uniform(-1, 0, size=4), RNG.uniform(0.1, 1, size=(3, 1))
    xa = np.where(np.abs(x - lo) < 0.05, x + 0.1, x)
    xa = np.where(np.abs(xa - hi) < 0.05, xa + 0.1, xa)
    check(lambda t, a, b: ops.clip(t, a, b), lambda v, a, b: np.minimum(np.maximum(v, a), b), [xa, lo, hi])
    check(lambda t: ops.softmax(t, axis=(0, 1)), lambda v: np.exp(v) / np.exp(v).sum(), [x])
    check(lambda t: ops.log_softmax(t, axis=(0, 1)), lambda v: v - np.log(np.exp(v).sum()), [x])
    x3 = RNG.normal(size=(2, 3, 4))
    check(lambda t: ops.softmax(t, axis=(1, 2)),
          lambda v: np.exp(v) / np.exp(v).sum(axis=(1, 2), keepdims=True), [x3])
