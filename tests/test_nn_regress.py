"""CI regression tests (no TensorFlow needed) for the tf.nn differences that
tests/test_tfnn_vs_tf.py found. Each reference is a float64 NumPy spelling of
TensorFlow's documented formula; gradients are checked by finite differences
of that reference (tests/gradcheck.py).
"""
import numpy as np
import pytest

import pyconvnet as pcn
from gradcheck import assert_grad_close, numeric_grad
from tolerance import assert_close

R = np.random.default_rng(11)


def rnd(*shape, lo=-1.0, hi=1.0):
    return R.uniform(lo, hi, size=shape).astype(np.float32)


def tape_grads(fn, xs, gy):
    """Gradients of sum(fn(*Variables) * gy) w.r.t. each x, through pcn.GradientTape."""
    vs = [pcn.Variable(x) for x in xs]
    with pcn.GradientTape() as t:
        y = fn(*vs)
        assert isinstance(y, pcn.autograd.EagerTensor), "%s: EagerTensor in, %s out" % (fn, type(y))
        s = pcn.ops.sum(y * gy)
    gs = t.gradient(s, vs)
    assert all(g is not None for g in gs), "some input got no gradient (the op was not on the tape)"
    return [np.asarray(g) for g in gs]


def check_grad(fn, ref, xs, rtol=2e-3, atol=2e-4):
    """fn: pcn.nn expression of Variables; ref: float64 NumPy of arrays (same arity)."""
    y = ref(*[x.astype(np.float64) for x in xs])
    gy = R.uniform(-1, 1, size=np.shape(y))
    got = tape_grads(fn, xs, gy.astype(np.float32))
    for i, g in enumerate(got):
        def f(xi, i=i):
            a = [x.astype(np.float64) for x in xs]
            a[i] = xi
            return ref(*a)
        assert_grad_close(g, numeric_grad(f, xs[i], gy), rtol=rtol, atol=atol, what="input %d" % i)


# ------------------------------------------------ float64 references (TF formulas)
def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softplus(x):
    return np.logaddexp(0, x)


def log_softmax(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def conv2d_ref(x, w, stride=(1, 1), pad=(0, 0, 0, 0), dil=(1, 1)):
    x = np.pad(x, ((0, 0), (pad[0], pad[1]), (pad[2], pad[3]), (0, 0)))
    n, h, wd, c = x.shape
    kh, kw, ci, k = w.shape
    g = c // ci
    ekh, ekw = (kh - 1) * dil[0] + 1, (kw - 1) * dil[1] + 1
    oh, ow = (h - ekh) // stride[0] + 1, (wd - ekw) // stride[1] + 1
    y = np.zeros((n, oh, ow, k))
    kg = k // g
    for gi in range(g):
        for i in range(kh):
            for j in range(kw):
                patch = x[:, i * dil[0]:i * dil[0] + (oh - 1) * stride[0] + 1:stride[0],
                          j * dil[1]:j * dil[1] + (ow - 1) * stride[1] + 1:stride[1], gi * ci:(gi + 1) * ci]
                y[..., gi * kg:(gi + 1) * kg] += patch @ w[i, j, :, gi * kg:(gi + 1) * kg]
    return y


def same_pad(n, k, s, d=1):
    ek = (k - 1) * d + 1
    o = -(-n // s)
    tot = max((o - 1) * s + ek - n, 0)
    return tot // 2, tot - tot // 2


def pool1d_ref(x, k, s, mode, padding):
    n, w, c = x.shape
    if padding == "SAME":
        lo, hi = same_pad(w, k, s)
    else:
        lo = hi = 0
    fill = -np.inf if mode == "max" else np.nan
    xp = np.concatenate([np.full((n, lo, c), fill), x, np.full((n, hi, c), fill)], axis=1)
    ow = (xp.shape[1] - k) // s + 1
    out = np.empty((n, ow, c))
    for o in range(ow):
        win = xp[:, o * s:o * s + k]
        out[:, o] = win.max(axis=1) if mode == "max" else np.nanmean(win, axis=1)
    return out


# ------------------------------------------------------------- on the tape
# Before: every tf.nn function except conv2d/depthwise/pooling/lrn turned an
# EagerTensor into NumPy, so inside a GradientTape the result had no gradient.
ACT = [
    ("relu", lambda nn, x: nn.relu(x), lambda x: np.maximum(x, 0)),
    ("relu6", lambda nn, x: nn.relu6(x), lambda x: np.clip(x, 0, 6)),
    ("leaky_relu", lambda nn, x: nn.leaky_relu(x, 0.1), lambda x: np.where(x >= 0, x, 0.1 * x)),
    ("elu", lambda nn, x: nn.elu(x), lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0)))),
    ("sigmoid", lambda nn, x: nn.sigmoid(x), sigmoid),
    ("tanh", lambda nn, x: nn.tanh(x), np.tanh),
    ("softplus", lambda nn, x: nn.softplus(x), softplus),
    ("softsign", lambda nn, x: nn.softsign(x), lambda x: x / (1 + np.abs(x))),
    ("silu", lambda nn, x: nn.silu(x), lambda x: x * sigmoid(x)),
    ("silu_beta", lambda nn, x: nn.silu(x, beta=1.7), lambda x: x * sigmoid(1.7 * x)),
    ("crelu", lambda nn, x: nn.crelu(x), lambda x: np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)], -1)),
    ("crelu_axis0", lambda nn, x: nn.crelu(x, axis=0),
     lambda x: np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)], 0)),
    ("softmax_ax0", lambda nn, x: nn.softmax(x, axis=0), lambda x: np.exp(log_softmax(x, 0))),
    ("log_softmax", lambda nn, x: nn.log_softmax(x), log_softmax),
    ("l2_loss", lambda nn, x: nn.l2_loss(x), lambda x: np.array(0.5 * np.sum(x * x))),
    ("l2_normalize", lambda nn, x: nn.l2_normalize(x, axis=1),
     lambda x: x / np.sqrt(np.maximum((x * x).sum(1, keepdims=True), 1e-12))),
    ("l2_normalize_all", lambda nn, x: nn.l2_normalize(x),
     lambda x: x / np.sqrt(np.maximum((x * x).sum(), 1e-12))),
    ("moments_var", lambda nn, x: nn.moments(x, [0])[1], lambda x: x.var(0)),
    ("moments_mean_keep", lambda nn, x: nn.moments(x, [1], keepdims=True)[0], lambda x: x.mean(1, keepdims=True)),
]


@pytest.mark.parametrize("name,fn,ref", ACT, ids=[a[0] for a in ACT])
def test_unary_on_the_tape(name, fn, ref):
    x = rnd(3, 5, lo=-3, hi=3)
    x[np.abs(x) < 0.05] = 0.3  # away from kinks
    y = fn(pcn.nn, x)
    assert isinstance(y, np.ndarray)
    assert_close(y, ref(x.astype(np.float64)), rtol=1e-5, atol=1e-6)
    check_grad(lambda v: fn(pcn.nn, v), ref, [x])


def test_bias_add_on_the_tape():
    check_grad(lambda x, b: pcn.nn.bias_add(x, b), lambda x, b: x + b, [rnd(2, 3, 4), rnd(4)])
    check_grad(lambda x, b: pcn.nn.bias_add(x, b, data_format="NCHW"),
               lambda x, b: x + b[:, None, None], [rnd(2, 4, 3, 2), rnd(4)])


def test_bias_add_channels_first_and_errors():
    x, b = rnd(2, 4, 3, 2), rnd(4)
    assert_close(pcn.nn.bias_add(x, b, data_format="NCHW"), x + b[:, None, None], rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="bias_add"):
        pcn.nn.bias_add(x, rnd(3))
    with pytest.raises(ValueError, match="bias_add"):
        pcn.nn.bias_add(x, rnd(1, 2))
    with pytest.raises(ValueError, match="bias_add"):
        pcn.nn.bias_add(x, b, data_format="NHCW")


def test_losses_on_the_tape():
    z = rnd(4, 5, lo=-3, hi=3)
    lab = R.dirichlet(np.ones(5), size=4).astype(np.float32)
    check_grad(lambda v: pcn.nn.softmax_cross_entropy_with_logits(labels=lab, logits=v),
               lambda v: -(lab * log_softmax(v)).sum(-1), [z])
    # TF differentiates the labels too
    check_grad(lambda l, v: pcn.nn.softmax_cross_entropy_with_logits(labels=l, logits=v),
               lambda l, v: -(l * log_softmax(v)).sum(-1), [lab, z])
    check_grad(lambda v: pcn.nn.softmax_cross_entropy_with_logits(labels=lab.T.copy(), logits=v, axis=0),
               lambda v: -(lab.T * log_softmax(v, 0)).sum(0), [z.T.copy()])
    ids = np.array([[0, 4], [2, 1]])
    check_grad(lambda v: pcn.nn.sparse_softmax_cross_entropy_with_logits(labels=ids, logits=v),
               lambda v: -np.take_along_axis(log_softmax(v), ids[..., None], -1)[..., 0], [rnd(2, 2, 5)])
    t = R.uniform(size=(4, 5)).astype(np.float32)
    sig = lambda l, v: np.maximum(v, 0) - v * l + np.log1p(np.exp(-np.abs(v)))  # noqa: E731
    check_grad(lambda l, v: pcn.nn.sigmoid_cross_entropy_with_logits(labels=l, logits=v), sig, [t, z])


def weighted_ref(t, z, pw):
    return (1 - t) * z + (1 + (pw - 1) * t) * (np.log1p(np.exp(-np.abs(z))) + np.maximum(-z, 0))


def test_weighted_cross_entropy_with_logits():
    z = rnd(3, 4, lo=-40, hi=40)
    t = R.uniform(size=(3, 4)).astype(np.float32)
    for pw in (2.5, rnd(4, lo=0.2, hi=3)):
        got = pcn.nn.weighted_cross_entropy_with_logits(t, z, pw)
        assert_close(got, weighted_ref(t.astype(np.float64), z.astype(np.float64), pw), rtol=1e-5, atol=1e-5)
    # pos_weight = 1 is the sigmoid cross-entropy
    assert_close(pcn.nn.weighted_cross_entropy_with_logits(t, z, 1.0),
                 pcn.nn.sigmoid_cross_entropy_with_logits(labels=t, logits=z), rtol=1e-5, atol=1e-5)
    z = rnd(3, 4, lo=-3, hi=3)
    check_grad(lambda v: pcn.nn.weighted_cross_entropy_with_logits(t, v, 3.0),
               lambda v: weighted_ref(t, v, 3.0), [z])
    with pytest.raises(ValueError, match="weighted_cross_entropy_with_logits"):
        pcn.nn.weighted_cross_entropy_with_logits(t, rnd(3, 3), 2.0)


def test_compute_average_loss():
    per = rnd(6, lo=0, hi=2)
    assert_close(pcn.nn.compute_average_loss(per), per.astype(np.float64).sum() / 6, rtol=1e-6)
    assert_close(pcn.nn.compute_average_loss(per, global_batch_size=24), per.astype(np.float64).sum() / 24,
                 rtol=1e-6)
    w = rnd(6, lo=0, hi=1)
    assert_close(pcn.nn.compute_average_loss(per, sample_weight=w), (per * w).astype(np.float64).sum() / 6,
                 rtol=1e-6)
    assert_close(pcn.nn.compute_average_loss(per, sample_weight=0.5, global_batch_size=3),
                 per.astype(np.float64).sum() / 6, rtol=1e-6)
    assert float(pcn.nn.compute_average_loss(per, global_batch_size=0)) == 0.0   # div_no_nan
    with pytest.raises(ValueError, match="compute_average_loss"):
        pcn.nn.compute_average_loss(np.float32(1.0))
    with pytest.raises(TypeError, match="compute_average_loss"):
        pcn.nn.compute_average_loss(per, global_batch_size=6.0)
    with pytest.raises(ValueError, match="compute_average_loss"):
        pcn.nn.compute_average_loss(per, global_batch_size=-1)
    with pytest.raises(ValueError, match="compute_average_loss"):
        pcn.nn.compute_average_loss(per, sample_weight=rnd(3))
    check_grad(lambda v: pcn.nn.compute_average_loss(v, global_batch_size=8), lambda v: np.array(v.sum() / 8),
               [per])
    assert_close(pcn.nn.scale_regularization_loss([np.float32(1.0), np.float32(2.5)]), 3.5, rtol=1e-6)


# ------------------------------------------------------------- batch norm
def test_batch_normalization_broadcast_statistics():
    # Before: only one value per channel was accepted; TF broadcasts any shape
    # (per-instance statistics from moments(x, [1, 2], keepdims=True)).
    x = rnd(2, 3, 4, 5)
    m, v = pcn.nn.moments(x, [1, 2], keepdims=True)
    assert m.shape == (2, 1, 1, 5)
    off, sc = rnd(5), rnd(5)
    x64 = x.astype(np.float64)
    mr, vr = x64.mean((1, 2), keepdims=True), x64.var((1, 2), keepdims=True)
    ref = (x64 - mr) / np.sqrt(vr + 1e-3) * sc + off
    assert_close(pcn.nn.batch_normalization(x, m, v, off, sc, 1e-3), ref, rtol=1e-4, atol=1e-5)
    ref = (x64 - 0.1) / np.sqrt(2.0 + 1e-3)
    assert_close(pcn.nn.batch_normalization(x, 0.1, 2.0, None, None, 1e-3), ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="batch_normalization"):
        pcn.nn.batch_normalization(x, rnd(3), rnd(3), None, None, 1e-3)


def test_batch_normalization_on_the_tape():
    def ref(x, m, v, o, s):
        return (x - m) / np.sqrt(v + 1e-3) * s + o
    check_grad(lambda *a: pcn.nn.batch_normalization(*a, 1e-3), ref,
               [rnd(4, 3), rnd(3), rnd(3, lo=0.5, hi=1.5), rnd(3), rnd(3)])


# ---------------------------------------------------------------- dropout
def test_dropout_noise_shape():
    # Before: noise_shape other than x's shape raised ValueError.
    x = rnd(4, 6, 5)
    y = pcn.nn.dropout(x, 0.4, noise_shape=[4, 1, 5], seed=2)
    keep = (y != 0)
    assert (keep == keep[:, :1, :]).all()                      # one decision along axis 1
    assert_close(y[keep], (x / 0.6)[keep], rtol=1e-6, atol=0)
    y2 = pcn.nn.dropout(x, 0.4, noise_shape=[None, 1, None], seed=2)   # None takes x's size
    np.testing.assert_array_equal(y, y2)
    with pytest.raises(ValueError, match="dropout"):
        pcn.nn.dropout(x, 0.4, noise_shape=[4, 2, 5])
    with pytest.raises(ValueError, match="dropout"):
        pcn.nn.dropout(x, 0.4, noise_shape=[4, 5])
    xe = rnd(200)
    y = pcn.nn.dropout(np.ones((200, 100), np.float32), 0.3, noise_shape=[200, 1], seed=5)
    assert abs((y[:, 0] != 0).mean() - 0.7) < 0.1


def test_dropout_on_the_tape():
    x = rnd(5, 4)
    v = pcn.Variable(x)
    with pcn.GradientTape() as t:
        y = pcn.nn.dropout(v, 0.5, noise_shape=[5, 1], seed=4)
        s = pcn.ops.sum(y)
    g = np.asarray(t.gradient(s, v))
    np.testing.assert_allclose(g, np.asarray(y.numpy()) / np.where(x == 0, 1, x), rtol=1e-5)


# ------------------------------------------------------------ conv / pool
def test_conv1d():
    x, w = rnd(2, 9, 3), rnd(3, 3, 4)
    ref = conv2d_ref(x[:, None].astype(np.float64), w[None].astype(np.float64), (1, 2), (0, 0, *same_pad(9, 3, 2)))
    assert_close(pcn.nn.conv1d(x, w, 2, "SAME"), ref[:, 0], rtol=1e-4, atol=1e-5)
    ref = conv2d_ref(x[:, None].astype(np.float64), w[None].astype(np.float64), (1, 1), (0, 0, 0, 0), (1, 2))
    assert_close(pcn.nn.conv1d(x, w, [1, 1, 1], "VALID", dilations=2), ref[:, 0], rtol=1e-4, atol=1e-5)
    check_grad(lambda a, b: pcn.nn.conv1d(a, b, 1, "VALID"),
               lambda a, b: conv2d_ref(a[:, None], b[None])[:, 0], [rnd(1, 6, 2), rnd(2, 2, 3)])
    with pytest.raises(ValueError, match="conv1d"):
        pcn.nn.conv1d(rnd(2, 9, 3, 1), w, 1, "SAME")
    with pytest.raises(NotImplementedError, match="conv1d"):
        pcn.nn.conv1d(x, w, 1, "SAME", data_format="NCW")


def test_separable_conv2d():
    x, dw, pw = rnd(2, 6, 5, 3), rnd(3, 3, 3, 2), rnd(1, 1, 6, 4)
    x64 = x.astype(np.float64)
    dwg = dw.reshape(3, 3, 1, 6).astype(np.float64)
    mid = conv2d_ref(x64, dwg, (1, 1), (1, 1, 1, 1))
    ref = conv2d_ref(mid, pw.astype(np.float64))
    assert_close(pcn.nn.separable_conv2d(x, dw, pw, [1, 1, 1, 1], "SAME"), ref, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="separable_conv2d"):
        pcn.nn.separable_conv2d(x, dw, rnd(1, 1, 5, 4), 1, "SAME")
    check_grad(lambda a, b, c: pcn.nn.separable_conv2d(a, b, c, 1, "VALID"),
               lambda a, b, c: conv2d_ref(conv2d_ref(a, b.reshape(2, 2, 1, 4)), c),
               [rnd(1, 4, 3, 2), rnd(2, 2, 2, 2), rnd(1, 1, 4, 2)])


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_pool1d_and_rank3_dispatch(mode, padding):
    # Before: max_pool/avg_pool of a rank-3 input raised; tf.nn pools it in 1-D.
    x = rnd(2, 9, 3)
    ref = pool1d_ref(x.astype(np.float64), 3, 2, mode, padding)
    fn1 = getattr(pcn.nn, mode + "_pool1d")
    fn = getattr(pcn.nn, mode + "_pool")
    assert_close(fn1(x, 3, 2, padding), ref, rtol=1e-6, atol=1e-7)
    assert_close(fn(x, [3], [1, 2, 1], padding), ref, rtol=1e-6, atol=1e-7)
    assert_close(pcn.nn.pool(x, [3], mode.upper(), strides=[2], padding=padding), ref, rtol=1e-6, atol=1e-7)
    check_grad(lambda v: fn(v, 3, 2, padding), lambda v: pool1d_ref(v, 3, 2, mode, padding), [x])


def test_pool_generic_2d_and_errors():
    x = rnd(2, 7, 6, 3)
    assert_close(pcn.nn.pool(x, [3, 2], "MAX", strides=[2, 2], padding="SAME"),
                 pcn.nn.max_pool(x, [3, 2], 2, "SAME"), rtol=0, atol=0)
    assert_close(pcn.nn.pool(x, [2, 2], "AVG"), pcn.nn.avg_pool(x, 2, 1, "VALID"), rtol=0, atol=0)
    with pytest.raises(NotImplementedError, match="pool"):
        pcn.nn.pool(x, [2, 2], "MAX", dilations=[2, 2])
    with pytest.raises(ValueError, match="pool"):
        pcn.nn.pool(x, [2], "MAX")
    with pytest.raises(ValueError, match="pool"):
        pcn.nn.pool(x, [2, 2], "MIN")
    with pytest.raises(NotImplementedError, match="max_pool"):
        pcn.nn.max_pool(rnd(1, 2, 2, 2, 1), 1, 1, "VALID")
    with pytest.raises(NotImplementedError, match="max_pool"):
        pcn.nn.max_pool(x, 2, 2, "VALID", data_format="NCHW")
    with pytest.raises(NotImplementedError, match="conv2d"):
        pcn.nn.conv2d(x, rnd(2, 2, 3, 2), 1, "VALID", data_format="NCHW")


# ------------------------------------------------------------------ misc
def test_top_k_in_top_k_zero_fraction():
    x = np.array([[3, 1, 3, 2, 5], [0, 0, 0, 1, -1]], np.float32)
    v, i = pcn.nn.top_k(x, 3)
    np.testing.assert_array_equal(v, [[5, 3, 3], [1, 0, 0]])
    np.testing.assert_array_equal(i, [[4, 0, 2], [3, 0, 1]])   # ties: lower index first
    assert i.dtype == np.int32
    with pytest.raises(ValueError, match="top_k"):
        pcn.nn.top_k(x, 6)
    xv = rnd(2, 6)
    check_grad(lambda a: pcn.nn.top_k(a, 2)[0],
               lambda a: np.take_along_axis(a, np.argsort(-xv, axis=-1, kind="stable")[:, :2], -1), [xv])
    p = np.array([[0.1, 0.5, 0.5, 0.2], [1, 2, 3, 4]], np.float32)
    np.testing.assert_array_equal(pcn.nn.in_top_k(np.array([2, 0]), p, 1), [True, False])
    assert float(pcn.nn.zero_fraction(np.array([0, 1, 0, 2], np.float32))) == 0.5


def test_lrn_rank_checked():
    with pytest.raises(ValueError, match="lrn"):
        pcn.nn.local_response_normalization(rnd(3, 4, 5))


def test_scalar_inputs_stay_scalar():
    # Before: np.ascontiguousarray made a 0-D input (1,), so tf.nn.relu(2.0) had shape (1,) (TF: ())
    for fn in (pcn.nn.relu, pcn.nn.sigmoid, pcn.nn.tanh, pcn.nn.softplus, pcn.nn.l2_loss):
        assert np.shape(fn(np.float32(2.0))) == ()
        assert np.shape(fn(-1.5)) == ()
    assert np.shape(pcn.nn.sigmoid_cross_entropy_with_logits(labels=1.0, logits=0.5)) == ()


def test_conv2d_transpose_on_the_tape():
    # Before: an EagerTensor input became NumPy (no gradient). Reference: the adjoint of conv2d.
    x, w = rnd(1, 3, 3, 2), rnd(2, 2, 3, 2)   # w (kh, kw, out_channels=3, in_channels=2)

    def ref(a, b):
        out = np.zeros((1, 6, 6, 3))
        for i in range(3):
            for j in range(3):
                out[0, 2 * i:2 * i + 2, 2 * j:2 * j + 2] += np.einsum("c,hwoc->hwo", a[0, i, j], b)
        return out
    assert_close(pcn.nn.conv2d_transpose(x, w, [1, 6, 6, 3], 2, "VALID"), ref(x.astype(np.float64), w), rtol=1e-5,
                 atol=1e-6)
    check_grad(lambda a, b: pcn.nn.conv2d_transpose(a, b, [1, 6, 6, 3], 2, "VALID"), ref, [x, w])


def test_leaky_relu_gradient_at_zero_is_alpha():
    # Before: the tape gave 1 at x == 0 (kernel: x >= 0 ? 1 : alpha); TF and PyTorch give alpha
    x = np.array([-1.0, 0.0, 0.0, 2.0], np.float32)
    g = tape_grads(lambda v: pcn.nn.leaky_relu(v, 0.3), [x], np.ones(4, np.float32))[0]
    np.testing.assert_allclose(g, [0.3, 0.3, 0.3, 1.0], rtol=1e-6)
    np.testing.assert_allclose(pcn.nn.leaky_relu(x, 0.3), [-0.3, 0, 0, 2], rtol=1e-6)


def test_moments_of_no_axes():
    # Before: ValueError; TF returns (x, zeros)
    x = rnd(2, 3)
    m, v = pcn.nn.moments(x, [])
    np.testing.assert_array_equal(m, x)
    np.testing.assert_array_equal(v, np.zeros_like(x))


# ------------------------------------------ tf.nn functions added in the second pass
def test_convolution_atrous_conv1d_transpose():
    x, w = rnd(2, 7, 6, 3), rnd(3, 2, 3, 4)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    ph, pw = same_pad(7, 3, 1, 2), same_pad(6, 2, 1, 2)
    ref = conv2d_ref(x64, w64, (1, 1), (*ph, *pw), (2, 2))
    assert_close(pcn.nn.atrous_conv2d(x, w, 2, "SAME"), ref, rtol=1e-4, atol=1e-5)
    assert_close(pcn.nn.convolution(x, w, padding="SAME", dilations=[2, 2]), ref, rtol=1e-4, atol=1e-5)
    assert_close(pcn.nn.convolution(x, w, strides=[2, 1]), conv2d_ref(x64, w64, (2, 1)), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="convolution"):
        pcn.nn.convolution(x, w, strides=[2, 2], dilations=[2, 2])
    with pytest.raises(NotImplementedError, match="convolution"):
        pcn.nn.convolution(rnd(1, 2, 2, 2, 1), rnd(1, 1, 1, 1, 1))
    # conv1d_transpose is the adjoint of conv1d: <conv1d(y, f), x> == <y, conv1d_transpose(x, f)>
    y, f = rnd(2, 10, 3), rnd(3, 3, 4)
    xt = rnd(2, 5, 4)
    lhs = np.sum(pcn.nn.conv1d(y, f, 2, "SAME").astype(np.float64) * xt)
    rhs = np.sum(y.astype(np.float64) * pcn.nn.conv1d_transpose(xt, f, [2, 10, 3], 2, "SAME"))
    assert abs(lhs - rhs) <= 1e-4 * max(1.0, abs(lhs))


def test_space_to_depth_and_back():
    x = rnd(2, 4, 6, 3)
    y = pcn.nn.space_to_depth(x, 2)
    assert y.shape == (2, 2, 3, 12)
    n, h, w, i, j, c = 1, 1, 2, 1, 0, 2
    assert y[n, h, w, (i * 2 + j) * 3 + c] == x[n, h * 2 + i, w * 2 + j, c]
    np.testing.assert_array_equal(pcn.nn.depth_to_space(y, 2), x)
    with pytest.raises(ValueError, match="space_to_depth"):
        pcn.nn.space_to_depth(rnd(1, 3, 4, 1), 2)
    check_grad(lambda v: pcn.nn.space_to_depth(v, 2),
               lambda v: v.reshape(1, 1, 2, 2, 2, 1).transpose(0, 1, 3, 2, 4, 5).reshape(1, 1, 2, 4),
               [rnd(1, 2, 4, 1)])


def test_embedding_lookup():
    p = rnd(5, 3)
    ids = np.array([[4, 0], [2, 2]])
    np.testing.assert_array_equal(pcn.nn.embedding_lookup(p, ids), p[ids])
    big = p * 5
    n = np.linalg.norm(big.astype(np.float64)[[1, 3]], axis=1, keepdims=True)
    assert_close(pcn.nn.embedding_lookup(big, np.array([1, 3]), max_norm=2.0),
                 big[[1, 3]] * 2.0 / np.maximum(n, 2.0), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="embedding_lookup"):
        pcn.nn.embedding_lookup(p, np.array([5]))
    with pytest.raises(TypeError, match="embedding_lookup"):
        pcn.nn.embedding_lookup(p, np.array([1.0]))
    check_grad(lambda v: pcn.nn.embedding_lookup(v, ids), lambda v: v[ids], [p])


def test_moment_helpers():
    x = rnd(3, 4, 5)
    x64 = x.astype(np.float64)
    cnt, mss, vss, sh = pcn.nn.sufficient_statistics(x, [0, 1], shift=0.25)
    assert float(cnt) == 12.0 and sh == 0.25
    assert_close(mss, (x64 - 0.25).sum((0, 1)), rtol=1e-5, atol=1e-5)
    assert_close(vss, ((x64 - 0.25) ** 2).sum((0, 1)), rtol=1e-5, atol=1e-5)
    m, v = pcn.nn.normalize_moments(cnt, mss, vss, np.float32(0.25))
    assert_close(m, x64.mean((0, 1)), rtol=1e-5, atol=1e-6)
    assert_close(v, x64.var((0, 1)), rtol=1e-4, atol=1e-5)
    fw = rnd(3, 4, 1, lo=0.1, hi=1).astype(np.float64)
    wm = (fw * x64).sum((0, 1)) / np.broadcast_to(fw, x.shape).sum((0, 1))
    wv = (fw * (x64 - wm) ** 2).sum((0, 1)) / np.broadcast_to(fw, x.shape).sum((0, 1))
    gm, gv = pcn.nn.weighted_moments(x, [0, 1], fw.astype(np.float32))
    assert_close(gm, wm, rtol=1e-5, atol=1e-6)
    assert_close(gv, wv, rtol=1e-4, atol=1e-6)


def test_log_poisson_loss():
    t = np.array([0.0, 0.5, 1.0, 3.0, 7.0], np.float32)
    li = rnd(5)
    t64, l64 = t.astype(np.float64), li.astype(np.float64)
    base = np.exp(l64) - l64 * t64
    assert_close(pcn.nn.log_poisson_loss(t, li), base, rtol=1e-5, atol=1e-6)
    with np.errstate(divide="ignore", invalid="ignore"):
        st = np.where(t64 <= 1, 0.0, t64 * np.log(t64) - t64 + 0.5 * np.log(2 * np.pi * t64))
    assert_close(pcn.nn.log_poisson_loss(t, li, compute_full_loss=True), base + st, rtol=1e-5, atol=1e-5)


def test_leaky_relu_layer_gradient_at_zero_is_alpha():
    # the kernel's backward (behind keras.layers.LeakyReLU and activation="leaky_relu"):
    # slope alpha at exactly 0, as TF and PyTorch
    from pyconvnet import _C
    x = np.array([-1.0, 0.0, 0.0, 2.0], np.float32)
    dy = np.ones(4, np.float32)
    y = _C.activation_forward(_C.from_numpy(x), "leaky_relu", 0.3)
    dx = _C.activation_backward(_C.from_numpy(dy), _C.from_numpy(x), y, "leaky_relu", 0.3).numpy()
    np.testing.assert_allclose(dx, [0.3, 0.3, 0.3, 1.0], rtol=1e-6)
