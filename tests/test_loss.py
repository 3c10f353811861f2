"""Loss family against reference_loss.py (Keras 3 semantics): fused softmax
cross-entropy (sparse and dense labels), crossentropy from probabilities,
binary crossentropy, MSE/MAE/Huber; every backward by finite differences."""
import numpy as np
import pytest

import pyconvnet as pcn
import reference_loss as ref
from gradcheck import assert_grad_close, numeric_grad, sample_indices
from tolerance import assert_close

C = pcn._C
T = pcn.tensor
A = np.asarray


def rnd(shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def labels_for(N, Cn, kind, seed):
    rng = np.random.default_rng(seed)
    if kind in ("int32", "int64"):
        return rng.integers(0, Cn, N).astype(kind)
    if kind == "onehot":
        return np.eye(Cn, dtype=np.float32)[rng.integers(0, Cn, N)]
    s = rng.random((N, Cn)).astype(np.float32)  # soft labels, rows sum to 1
    return (s / s.sum(1, keepdims=True)).astype(np.float32)


SHAPES = [(1, 1), (1, 5), (4, 1), (7, 3), (16, 10), (3, 1000), (300, 17)]
KINDS = ["int32", "int64", "onehot", "soft"]


@pytest.mark.parametrize("N,Cn", SHAPES)
@pytest.mark.parametrize("kind", KINDS)
def test_softmax_ce_forward_backward(N, Cn, kind):
    z = rnd((N, Cn), N * 7 + Cn, 3.0)
    lab = labels_for(N, Cn, kind, N + Cn)
    loss, probs = C.softmax_cross_entropy_forward(T(z), T(lab))
    assert_close(loss, ref.softmax_cross_entropy(z, lab), rtol=1e-5, atol=1e-5)
    e = np.exp(z - z.max(1, keepdims=True).astype(np.float64))
    assert_close(probs, e / e.sum(1, keepdims=True), rtol=1e-5, atol=1e-7)
    dl = rnd((N,), 3)
    dz = C.softmax_cross_entropy_backward(probs, T(lab), T(dl))
    num = numeric_grad(lambda v: ref.softmax_cross_entropy(v, lab), z, dl, indices=sample_indices(z.size, 40))
    assert_grad_close(dz, num, what="softmax_ce %s" % kind)


def test_softmax_ce_extreme_logits_finite():
    z = np.array([[1e4, -1e4, 0], [-1e4, 1e4, 1e4], [0, 0, 0]], np.float32)
    lab = np.array([1, 2, 0], np.int64)
    loss, probs = C.softmax_cross_entropy_forward(T(z), T(lab))
    loss = A(loss)
    assert np.isfinite(loss).all() and np.isfinite(A(probs)).all()
    assert_close(loss, [2e4, np.log(2.0), np.log(3.0)], rtol=1e-6, atol=1e-6)
    dz = A(C.softmax_cross_entropy_backward(probs, T(lab), T(np.ones(3, np.float32))))
    assert np.isfinite(dz).all()
    assert_close(dz[0], [1, -1, 0], rtol=0, atol=1e-6)


@pytest.mark.parametrize("bad", [-1, 5, 7, 2**31 - 1])
@pytest.mark.parametrize("dt", [np.int32, np.int64])
def test_softmax_ce_bad_label_names_op_label_and_C(bad, dt):
    lab = np.array([0, bad, 1], dt)
    with pytest.raises(ValueError, match=r"softmax_cross_entropy_forward.*label %d.*C=5" % bad):
        C.softmax_cross_entropy_forward(T(np.zeros((3, 5), np.float32)), T(lab))
    with pytest.raises(ValueError, match=r"softmax_cross_entropy_backward.*label %d" % bad):
        C.softmax_cross_entropy_backward(T(np.zeros((3, 5), np.float32)), T(lab), T(np.ones(3, np.float32)))


def test_deferred_label_checks_leave_cpu_labels_checked_at_once():
    """set_defer_label_checks only defers device read-backs: CPU labels still raise at the call."""
    C.set_defer_label_checks(True)
    try:
        with pytest.raises(ValueError, match=r"crossentropy_probs_forward.*label 9"):
            C.crossentropy_probs_forward(T(np.full((2, 3), 1 / 3, np.float32)), T(np.array([0, 9], np.int64)))
        C.flush_label_checks()  # nothing queued: no error
    finally:
        C.set_defer_label_checks(False)
        C.flush_label_checks(True)


def test_softmax_ce_bad_shapes_and_types():
    z = T(np.zeros((3, 5), np.float32))
    cases = [
        (lambda: C.softmax_cross_entropy_forward(z, T(np.zeros(4, np.int64))), ValueError),
        (lambda: C.softmax_cross_entropy_forward(z, T(np.zeros((3, 4), np.float32))), ValueError),
        (lambda: C.softmax_cross_entropy_forward(T(np.zeros(5, np.float32)), T(np.zeros(1, np.int64))), ValueError),
        (lambda: C.softmax_cross_entropy_forward(T(np.zeros((3, 5), np.int32)), T(np.zeros(3, np.int64))),
         TypeError),
        (lambda: C.softmax_cross_entropy_backward(z, T(np.zeros(3, np.int64)), T(np.ones(4, np.float32))),
         ValueError),
    ]
    for f, exc in cases:
        with pytest.raises(exc, match="softmax_cross_entropy"):
            f()


def test_softmax_ce_nan_propagates():
    z = np.array([[0, np.nan, 1], [0, 1, 2]], np.float32)
    loss, probs = C.softmax_cross_entropy_forward(T(z), T(np.array([0, 1])))
    loss = A(loss)
    assert np.isnan(loss[0]) and np.isfinite(loss[1])


@pytest.mark.parametrize("N,Cn", [(1, 2), (5, 4), (8, 10)])
@pytest.mark.parametrize("kind", KINDS)
def test_crossentropy_probs(N, Cn, kind):
    rng = np.random.default_rng(N * Cn)
    p = (rng.random((N, Cn)) * 2 + 0.05).astype(np.float32)  # unnormalized, positive
    lab = labels_for(N, Cn, kind, N)
    loss = C.crossentropy_probs_forward(T(p), T(lab))
    assert_close(loss, ref.crossentropy_probs(p, lab), rtol=1e-5, atol=1e-6)
    dl = rnd((N,), 4)
    dp = C.crossentropy_probs_backward(T(p), T(lab), T(dl))
    num = numeric_grad(lambda v: ref.crossentropy_probs(v, lab), p, dl)
    assert_grad_close(dp, num, rtol=2e-3, atol=1e-4, what="crossentropy_probs")


def test_crossentropy_probs_clipped():
    p = np.array([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]], np.float32)
    lab = np.array([0, 2])
    loss = A(C.crossentropy_probs_forward(T(p), T(lab)))
    assert_close(loss, [-np.log(1e-7), -np.log(1e-7)], rtol=1e-5, atol=0)
    assert_close(loss, ref.crossentropy_probs(p, lab), rtol=1e-5, atol=0)
    dp = A(C.crossentropy_probs_backward(T(p), T(lab), T(np.ones(2, np.float32))))
    assert np.isfinite(dp).all()


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("shape", [(5,), (4, 3), (2, 3, 6), (1, 1)])
def test_binary_crossentropy(from_logits, shape):
    rng = np.random.default_rng(len(shape))
    y = rnd(shape, 5, 2.0) if from_logits else (rng.random(shape) * 0.9 + 0.05).astype(np.float32)
    t = rng.random(shape).astype(np.float32)
    loss = C.binary_crossentropy_forward(T(y), T(t), from_logits)
    r = ref.binary_crossentropy(y, t, from_logits)
    assert tuple(loss.shape) == r.shape
    assert_close(loss, r, rtol=1e-5, atol=1e-6)
    dl = rnd(r.shape, 6) if r.shape else np.float32(0.7)
    dy = C.binary_crossentropy_backward(T(y), T(t), T(np.asarray(dl, np.float32)), from_logits)
    num = numeric_grad(lambda v: ref.binary_crossentropy(v, t, from_logits), y, dl)
    assert_grad_close(dy, num, what="bce")


def test_binary_crossentropy_extremes():
    z = np.array([[1e4, -1e4, 100, -100]], np.float32)
    t = np.array([[0, 1, 1, 0]], np.float32)
    loss = A(C.binary_crossentropy_forward(T(z), T(t), True))
    assert_close(loss, ref.binary_crossentropy(z, t, True), rtol=1e-6, atol=0)
    assert np.isfinite(A(C.binary_crossentropy_backward(T(z), T(t), T(np.ones(1, np.float32)), True))).all()
    p = np.array([[0.0, 1.0, 1.0, 0.0]], np.float32)
    loss = A(C.binary_crossentropy_forward(T(p), T(t), False))
    assert np.isfinite(loss).all()
    # float32 1 - 1e-7 rounds to 1 - 1.19e-7, as in Keras' float32 clip
    assert_close(loss, ref.binary_crossentropy(p, t, False), rtol=1e-4, atol=5e-8)


@pytest.mark.parametrize("name", ["mse", "mae", "huber"])
@pytest.mark.parametrize("shape", [(6,), (3, 4), (2, 3, 5), (1, 1)])
def test_regression_losses(name, shape):
    y = rnd(shape, 7, 2.0)
    t = rnd(shape, 8, 2.0)
    e = y - t
    if name == "mae":
        e = np.where(np.abs(e) < 0.05, 0.2, e)
    if name == "huber":
        e = np.where(np.abs(np.abs(e) - 1.0) < 0.05, 1.3 * np.sign(e), e)
    y = (t + e).astype(np.float32)
    fwd = {"mse": (C.mse_forward, ref.mse), "mae": (C.mae_forward, ref.mae), "huber": (C.huber_forward, ref.huber)}
    bwd = {"mse": C.mse_backward, "mae": C.mae_backward, "huber": C.huber_backward}
    loss = fwd[name][0](T(y), T(t))
    r = fwd[name][1](y, t)
    assert tuple(loss.shape) == r.shape
    assert_close(loss, r, rtol=1e-5, atol=1e-6)
    dl = np.asarray(rnd(r.shape, 9) if r.shape else np.float32(1.3), np.float32)
    dy = bwd[name](T(y), T(t), T(dl))
    num = numeric_grad(lambda v: fwd[name][1](v, t), y, dl)
    assert_grad_close(dy, num, what=name)


@pytest.mark.parametrize("delta", [0.5, 2.0])
def test_huber_delta(delta):
    y, t = rnd((4, 6), 10, 3.0), rnd((4, 6), 11)
    assert_close(C.huber_forward(T(y), T(t), delta), ref.huber(y, t, delta), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="huber_forward"):
        C.huber_forward(T(y), T(t), 0.0)


def test_regression_bad_inputs():
    y = T(np.ones((3, 4), np.float32))
    for f in (C.mse_forward, C.mae_forward, C.huber_forward):
        with pytest.raises(ValueError, match="_forward"):
            f(y, T(np.ones((3, 5), np.float32)))
        with pytest.raises(TypeError, match="_forward"):
            f(y, T(np.ones((3, 4), np.int32)))
    with pytest.raises(ValueError, match="mse_backward"):
        C.mse_backward(y, y, T(np.ones(4, np.float32)))
    with pytest.raises(ValueError, match="binary_crossentropy_forward"):
        C.binary_crossentropy_forward(y, T(np.ones((4, 3), np.float32)), True)


# ---------------------------------------------------------------- tf.nn wrappers
def test_nn_loss_wrappers():
    z = rnd((2, 3, 5), 12, 2.0)
    lab = np.random.default_rng(0).integers(0, 5, (2, 3))
    out = pcn.nn.sparse_softmax_cross_entropy_with_logits(labels=lab, logits=z)
    assert out.shape == (2, 3)
    assert_close(out, ref.softmax_cross_entropy(z.reshape(6, 5), lab.reshape(6)).reshape(2, 3), rtol=1e-5,
                 atol=1e-5)
    oh = np.eye(5, dtype=np.float32)[lab]
    assert_close(pcn.nn.softmax_cross_entropy_with_logits(oh, z), out, rtol=1e-5, atol=1e-5)
    # class axis first
    zt, oht = np.moveaxis(z, -1, 0).copy(), np.moveaxis(oh, -1, 0).copy()
    assert_close(pcn.nn.softmax_cross_entropy_with_logits(oht, zt, axis=0), out, rtol=1e-5, atol=1e-5)
    t = np.random.default_rng(1).random((2, 3, 5)).astype(np.float32)
    s = pcn.nn.sigmoid_cross_entropy_with_logits(labels=t, logits=z)
    assert s.shape == z.shape
    assert_close(s, np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z))), rtol=1e-5, atol=1e-6)
    assert_close(pcn.nn.l2_loss(z), 0.5 * (z.astype(np.float64) ** 2).sum(), rtol=1e-5, atol=1e-5)
    assert isinstance(pcn.nn.l2_loss(T(z)), pcn.Tensor)
    with pytest.raises(ValueError, match="softmax_cross_entropy.*label 9"):
        pcn.nn.sparse_softmax_cross_entropy_with_logits(labels=np.array([[9, 0, 0], [0, 0, 0]]), logits=z)
    with pytest.raises(TypeError, match="sparse_softmax_cross_entropy_with_logits"):
        pcn.nn.sparse_softmax_cross_entropy_with_logits(labels=np.zeros((2, 3)), logits=z)
    with pytest.raises(ValueError, match="softmax_cross_entropy_with_logits"):
        pcn.nn.softmax_cross_entropy_with_logits(oh[:1], z)


def test_random_bad_loss_calls_survive():
    rng = np.random.default_rng(13)
    shapes = [(), (0,), (3,), (3, 4), (4, 3), (2, 3, 4)]
    dts = [np.float32, np.int32, np.int64, np.uint8]
    fns = [C.softmax_cross_entropy_forward, C.crossentropy_probs_forward,
           lambda a, b: C.binary_crossentropy_forward(a, b, True), C.mse_forward, C.mae_forward,
           lambda a, b: C.softmax_cross_entropy_backward(a, b, a), lambda a, b: C.mse_backward(a, b, b)]
    errs = 0
    for i in range(300):
        a = T((rng.integers(-2, 6, shapes[rng.integers(len(shapes))])).astype(dts[rng.integers(4)]))
        b = T((rng.integers(-2, 6, shapes[rng.integers(len(shapes))])).astype(dts[rng.integers(4)]))
        try:
            fns[i % len(fns)](a, b)
        except (ValueError, TypeError) as e:
            assert str(e)
            errs += 1
    assert errs > 100
