"""Regression tests for the training-API differences from Keras 3.15 found by the
differential audit (tests/test_keras_diff_training.py is the oracle version).
Each test checks pyconvnet against a float64 NumPy reference of Keras's formula
or against a property Keras guarantees; no keras/TF needed."""
import csv
import os
import warnings

import numpy as np
import pytest

import pyconvnet as keras
from pyconvnet import _C
from pyconvnet import autograd as ag
from tolerance import assert_close

R = np.random.default_rng(0)
N, C = 6, 4
LOGITS = R.normal(size=(N, C)).astype(np.float32)
PROBS = (np.exp(LOGITS) / np.exp(LOGITS).sum(-1, keepdims=True)).astype(np.float32)
YI = np.array([0, 1, 2, 3, 1, 2])
YOH = np.eye(C, dtype=np.float32)[YI]
YR = R.normal(size=(N, C)).astype(np.float32)
PR = R.normal(size=(N, C)).astype(np.float32)
SW = R.random(N).astype(np.float32)
EPS = 1e-7
TOL = dict(rtol=1e-5, atol=1e-6)


def _d(a):
    return np.asarray(a, np.float64)


# ------------------------------------------------------------------ losses
def test_loss_call_applies_sample_weight():
    """Bug: Loss.__call__ ignored sample_weight. Keras: sum(l_i * w_i) / N."""
    per = np.mean((_d(PR) - _d(YR)) ** 2, -1)
    l = keras.losses.MeanSquaredError()
    assert_close(l(YR, PR, sample_weight=SW), np.sum(per * SW) / N, **TOL)
    assert_close(keras.losses.MeanSquaredError(reduction="sum")(YR, PR, sample_weight=SW), np.sum(per * SW), **TOL)
    assert_close(keras.losses.MeanSquaredError(reduction="none")(YR, PR, sample_weight=SW), per * SW, **TOL)
    assert_close(keras.losses.MeanSquaredError(reduction="mean_with_sample_weight")(YR, PR, sample_weight=SW),
                 np.sum(per * SW) / np.sum(SW), **TOL)


def test_loss_function_forms_return_per_sample_values():
    """Keras returns shape (N,) from the function forms (kept while they were rewritten on call())."""
    out = keras.losses.mean_squared_error(YR, PR)
    assert out.shape == (N,)
    assert_close(out, np.mean((_d(PR) - _d(YR)) ** 2, -1), **TOL)
    assert keras.losses.sparse_categorical_crossentropy(YI, PROBS).shape == (N,)
    assert keras.losses.binary_crossentropy((YR > 0).astype(np.float32), np.abs(np.tanh(PR))).shape == (N,)


def test_reduction_none_keeps_leading_axes():
    """Bug: 'none' on a (2,3,4) output flattened to (2,); Keras reduces only the last axis."""
    y, p = YR.reshape(2, 3, 4), PR.reshape(2, 3, 4)
    out = keras.losses.MeanSquaredError(reduction="none")(y, p)
    assert out.shape == (2, 3)
    assert_close(out, np.mean((_d(p) - _d(y)) ** 2, -1), **TOL)


def test_unknown_reduction_and_mean_accepted():
    assert_close(keras.losses.MeanAbsoluteError(reduction="mean")(YR, PR), np.mean(np.abs(_d(PR) - _d(YR))), **TOL)
    with pytest.raises(ValueError, match="reduction"):
        keras.losses.MeanAbsoluteError(reduction="avg")


def _hinge_t(t):
    return 2 * t - 1 if np.all((t == 0) | (t == 1)) else t


def _softplus(x):
    return np.logaddexp(0, x)


POS_Y, POS_P = np.abs(_d(YR)) + 0.1, np.abs(_d(PR)) + 0.1
YB = (YR > 0).astype(np.float32)
NEW_LOSSES = [
    ("mape", YR, PR, lambda t, p: 100 * np.mean(np.abs((t - p) / np.maximum(np.abs(t), EPS)), -1)),
    ("msle", POS_Y, POS_P, lambda t, p: np.mean((np.log(np.maximum(p, EPS) + 1) - np.log(np.maximum(t, EPS) + 1)) ** 2,
                                                -1)),
    ("kld", PROBS[::-1].copy(), PROBS, lambda t, p: np.sum(np.clip(t, EPS, 1) * np.log(np.clip(t, EPS, 1) /
                                                                                       np.clip(p, EPS, 1)), -1)),
    ("hinge", YB, PR, lambda t, p: np.mean(np.maximum(1 - _hinge_t(t) * p, 0), -1)),
    ("squared_hinge", YB, PR, lambda t, p: np.mean(np.maximum(1 - _hinge_t(t) * p, 0) ** 2, -1)),
    ("categorical_hinge", YOH, PR, lambda t, p: np.maximum(np.max((1 - t) * p, -1) - np.sum(t * p, -1) + 1, 0)),
    ("log_cosh", YR, PR, lambda t, p: np.mean((p - t) + _softplus(-2 * (p - t)) - np.log(2), -1)),
    ("poisson", POS_Y, POS_P, lambda t, p: np.mean(p - t * np.log(p + EPS), -1)),
    ("cosine_similarity", YR, PR, lambda t, p: -np.sum(t / np.linalg.norm(t, axis=-1, keepdims=True) *
                                                       p / np.linalg.norm(p, axis=-1, keepdims=True), -1)),
]


@pytest.mark.parametrize("name,t,p,ref", NEW_LOSSES, ids=[c[0] for c in NEW_LOSSES])
def test_new_losses_match_keras_formulas(name, t, p, ref):
    """Missing before: each name resolves, the function, the class and a fit step agree with the formula."""
    want = ref(_d(t), _d(p))
    assert_close(keras.losses.get(name)(t.astype(np.float32), p.astype(np.float32)), want, rtol=1e-4, atol=1e-5)
    cls = keras.losses._resolve(name)
    assert_close(cls(t.astype(np.float32), p.astype(np.float32)), np.mean(want), rtol=1e-4, atol=1e-5)


def test_new_loss_gradient_through_the_tape():
    """The composed losses are differentiable: d/dp of log_cosh = tanh(p - t) / D."""
    p = ag.Variable(_C.tensor(PR.copy()), name="p")
    with ag.GradientTape() as tape:
        v = keras.losses.LogCosh()(ag.EagerTensor(_C.tensor(YR)), p)
    g = tape.gradient(v, [p])[0]
    assert_close(np.asarray(g.numpy()), np.tanh(_d(PR) - _d(YR)) / PR.size, rtol=1e-4, atol=1e-6)


def _cce(t, p):
    return -np.sum(t * np.log(np.clip(p, EPS, 1 - EPS)), -1)


def _log_softmax(z):
    z = _d(z)
    return z - z.max(-1, keepdims=True) - np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True))


def test_label_smoothing_categorical_and_binary():
    """Bug: label_smoothing raised NotImplementedError. Keras: t*(1-s) + s/C (binary: + s/2)."""
    s = 0.2
    ts = _d(YOH) * (1 - s) + s / C
    assert_close(keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=s, reduction="none")(
        YOH, LOGITS), -np.sum(ts * _log_softmax(LOGITS), -1), rtol=1e-5, atol=1e-5)
    pb = np.clip(np.abs(np.tanh(_d(PR))), 0.05, 0.95)
    tb = _d(YB) * (1 - s) + 0.5 * s
    ref = -np.mean(tb * np.log(pb + EPS) + (1 - tb) * np.log(1 - pb + EPS), -1)
    assert_close(keras.losses.BinaryCrossentropy(label_smoothing=s, reduction="none")(YB, pb.astype(np.float32)),
                 ref, rtol=1e-4, atol=1e-5)


def test_ignore_class_masks_and_renormalises():
    """Bug: ignore_class raised NotImplementedError. Keras: ignored entries weigh 0 and the mean is over
    the valid ones (labels equal to ignore_class may be out of range)."""
    y = np.array([0, 1, -1, 3, -1, 2])
    per = -_log_softmax(LOGITS)[np.arange(N), np.where(y < 0, 0, y)]
    valid = y != -1
    l = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    assert_close(l(y, LOGITS), np.sum(per * valid) / valid.sum(), **TOL)
    assert_close(keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1, reduction="none")(
        y, LOGITS), per * valid, **TOL)


def test_ignore_class_in_fit_step():
    x = R.normal(size=(8, 3)).astype(np.float32)
    y = np.array([0, 1, 2, 1, 2, 2, 0, 1])
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3)])
    m.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=2))
    z = m.predict(x, verbose=0)
    per = -_log_softmax(z)[np.arange(8), np.where(y == 2, 0, y)]
    valid = y != 2
    assert_close(m.test_on_batch(x, y), np.sum(per * valid) / valid.sum(), rtol=1e-5, atol=1e-5)


def test_categorical_crossentropy_axis():
    """Bug: axis was accepted and ignored. Keras renormalises the probabilities along `axis`."""
    pt = _d(PROBS).T
    ref = np.mean(_cce(_d(YOH).T, pt / pt.sum(-1, keepdims=True)))
    assert_close(keras.losses.CategoricalCrossentropy(axis=0)(YOH, PROBS), ref, rtol=1e-5, atol=1e-5)


def test_losses_get_follows_keras():
    """Bug: keras.losses.get('mse')(y, p) gave a scalar (an instance); Keras returns the function.
    A class name gives an instance; configs have Keras's keys."""
    assert keras.losses.get("mse") is keras.losses.mean_squared_error
    assert isinstance(keras.losses.get("MeanSquaredError"), keras.losses.MeanSquaredError)
    assert keras.losses.CategoricalCrossentropy().get_config() == {
        "name": "categorical_crossentropy", "reduction": "sum_over_batch_size", "from_logits": False,
        "label_smoothing": 0.0, "axis": -1}
    assert set(keras.losses.SparseCategoricalCrossentropy().get_config()) == {"name", "reduction", "from_logits",
                                                                             "ignore_class"}


# ------------------------------------------------------- compile & the step
def _mlp(n_out=3, act="softmax", seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="tanh"),
                             keras.layers.Dense(n_out, activation=act)])


X = R.normal(size=(20, 4)).astype(np.float32)
Y = R.integers(0, 3, 20)


def test_loss_weights_scale_loss_and_gradient():
    """Bug: loss_weights raised NotImplementedError. Keras: loss * w, gradient * w."""
    a, b = _mlp(), _mlp()
    b.set_weights(a.get_weights())
    a.compile(keras.optimizers.SGD(0.2), "sparse_categorical_crossentropy")
    b.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy", loss_weights=2.0)
    la = a.train_on_batch(X, Y)
    lb = b.train_on_batch(X, Y)
    assert_close(lb, 2 * la, rtol=1e-6, atol=1e-6)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        assert_close(wb, wa, rtol=1e-5, atol=1e-6)


def test_sum_reduction_trains_on_the_sum():
    """A compiled loss with reduction='sum' reports (and differentiates) the batch sum."""
    m = _mlp()
    m.compile("sgd", keras.losses.SparseCategoricalCrossentropy(reduction="sum"))
    p = m.predict(X, verbose=0)
    ref = -np.sum(np.log(np.clip(_d(p)[np.arange(20), Y], EPS, 1 - EPS)))
    assert_close(m.test_on_batch(X, Y), ref, rtol=1e-5, atol=1e-4)


def test_compile_single_output_list_and_dict_forms():
    m = _mlp()
    m.compile("sgd", loss=["sparse_categorical_crossentropy"], metrics={"dense": ["accuracy"]},
              run_eagerly=True, jit_compile=False)
    h = m.fit(X, Y, epochs=1, verbose=0)
    assert set(h.history) == {"loss", "accuracy"}


def test_weighted_metrics_use_sample_weights_and_are_renamed():
    """Bug: weighted_metrics raised NotImplementedError. Keras names a clash weighted_<name>."""
    m = _mlp()
    m.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"], weighted_metrics=["accuracy"])
    w = np.linspace(0, 2, 20).astype(np.float32)
    p = m.predict(X, verbose=0)
    d = m.evaluate(X, Y, sample_weight=w, verbose=0, return_dict=True)
    hit = (np.argmax(p, -1) == Y).astype(np.float64)
    assert set(d) == {"loss", "accuracy", "weighted_accuracy"}
    assert_close(d["accuracy"], hit.mean(), **TOL)
    assert_close(d["weighted_accuracy"], np.sum(hit * w) / np.sum(w), **TOL)


def test_accuracy_resolves_by_shapes_like_keras():
    """Keras 3 picks the accuracy from shapes, not the loss: multi-label BCE (N,5) -> categorical."""
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="sigmoid")])
    m.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    y = (R.random((20, 5)) > 0.5).astype(np.float32)
    m.fit(X, y, epochs=1, verbose=0)
    assert type(m._pcn_metrics[0]).__name__ == "CategoricalAccuracy"


def test_on_batch_calls_reset_metrics():
    """Keras 3 resets the metrics at every *_on_batch call: the result is this batch's (guards the
    now-stateful compiled metrics)."""
    m = _mlp()
    m.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    m.train_on_batch(X[:10], Y[:10])
    p = m.predict(X[10:], verbose=0)
    r = m.test_on_batch(X[10:], Y[10:], return_dict=True)
    assert_close(r["accuracy"], np.mean(np.argmax(p, -1) == Y[10:]), **TOL)


# --------------------------------------------------------------------- fit
def test_validation_data_with_sample_weights():
    """Bug: (x, y, w) validation_data raised NotImplementedError."""
    m = _mlp()
    m.compile("sgd", "sparse_categorical_crossentropy")
    w = np.array([0.0, 1.0, 2.0, 0.5, 1.0], np.float32)
    h = m.fit(X, Y, epochs=1, verbose=0, validation_data=(X[:5], Y[:5], w))
    p = m.predict(X[:5], verbose=0)
    per = -np.log(np.clip(_d(p)[np.arange(5), Y[:5]], EPS, 1 - EPS))
    assert_close(h.history["val_loss"][0], np.sum(per * w) / 5, rtol=1e-5, atol=1e-6)


def test_validation_freq_list_and_history_params():
    """Bug: a list validation_freq crashed; History.params had extra keys."""
    m = _mlp()
    m.compile("sgd", "sparse_categorical_crossentropy")
    h = m.fit(X, Y, epochs=4, batch_size=8, verbose=0, validation_data=(X[:5], Y[:5]), validation_freq=[1, 3])
    assert len(h.history["loss"]) == 4 and len(h.history["val_loss"]) == 2
    assert h.params == {"verbose": 0, "epochs": 4, "steps": 3}
    with pytest.raises(ValueError, match="validation_freq"):
        m.fit(X, Y, epochs=1, verbose=0, validation_data=(X[:5], Y[:5]), validation_freq="2")


class _Count(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.per_epoch, self.sizes = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.per_epoch.append(0)

    def on_train_batch_end(self, batch, logs=None):
        self.per_epoch[-1] += 1


def test_steps_per_epoch_continues_the_pass_like_keras():
    """Keras's EpochIterator: with 3 batches and steps_per_epoch=2, epoch 2 gets the 1 batch left
    (with a warning) and epoch 3 starts a new pass."""
    m = _mlp()
    m.compile("sgd", "sparse_categorical_crossentropy")
    c = _Count()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        m.fit(X, Y, epochs=3, batch_size=8, steps_per_epoch=2, verbose=0, shuffle=False, callbacks=[c])
    assert c.per_epoch == [2, 1, 2]
    assert any("ran out of data" in str(x.message) for x in w)


class _Hooks(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.ev = []

    def on_train_begin(self, logs=None):
        self.ev.append(("train_begin", logs))

    def on_test_begin(self, logs=None):
        self.ev.append(("test_begin", logs))

    def on_test_batch_end(self, batch, logs=None):
        self.ev.append(("test_batch_end", sorted(logs)))

    def on_predict_batch_end(self, batch, logs=None):
        self.ev.append(("predict_batch_end", sorted(logs)))

    def on_batch_end(self, batch, logs=None):  # the legacy name still fires for train batches
        self.ev.append(("batch_end", batch))

    def on_train_end(self, logs=None):
        self.ev.append(("train_end", sorted(logs)))


def test_callback_hooks_like_keras():
    """Bugs: evaluate/predict ignored callbacks, validation ran no test hooks, begin hooks got None,
    on_batch_end never fired, on_train_end got the last batch's logs."""
    m = _mlp()
    m.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    h = _Hooks()
    m.fit(X, Y, epochs=1, batch_size=10, verbose=0, validation_data=(X[:5], Y[:5]), callbacks=[h])
    assert h.ev[0] == ("train_begin", {})
    assert ("batch_end", 0) in h.ev and ("batch_end", 1) in h.ev
    assert ("test_begin", {}) in h.ev and ("test_batch_end", ["accuracy", "loss"]) in h.ev
    assert h.ev[-1] == ("train_end", ["accuracy", "loss", "val_accuracy", "val_loss"])
    h2 = _Hooks()
    m.evaluate(X, Y, batch_size=10, verbose=0, callbacks=[h2])
    m.predict(X, batch_size=10, verbose=0, callbacks=[h2])
    assert [e[0] for e in h2.ev] == ["test_begin", "test_batch_end", "test_batch_end", "predict_batch_end",
                                     "predict_batch_end"]
    assert h2.ev[-1][1] == ["outputs"]


# -------------------------------------------------------------- metrics
def test_metric_sample_weights_and_state():
    """Bug: update_state ignored sample_weight."""
    m = keras.metrics.SparseCategoricalAccuracy()
    hit = (np.argmax(PROBS, -1) == YI).astype(np.float64)
    m.update_state(YI[:3], PROBS[:3], sample_weight=SW[:3])
    m.update_state(YI[3:], PROBS[3:], sample_weight=SW[3:])
    assert_close(m.result(), np.sum(hit * SW) / np.sum(SW), **TOL)
    m.reset_state()
    assert m.result() == 0.0
    mse = keras.metrics.MeanSquaredError()
    mse.update_state(YR, PR, sample_weight=SW)
    per = np.mean((_d(PR) - _d(YR)) ** 2, -1)
    assert_close(mse.result(), np.sum(per * SW) / np.sum(SW), **TOL)


def test_new_metrics_values():
    """Missing before: top-k, RMSE, Precision/Recall, AUC, Sum."""
    r = np.argsort(-_d(PROBS), -1)
    topk = np.array([YI[i] in r[i, :2] for i in range(N)], np.float64)
    m = keras.metrics.SparseTopKCategoricalAccuracy(k=2)
    m.update_state(YI, PROBS)
    assert_close(m.result(), topk.mean(), **TOL)
    rm = keras.metrics.RootMeanSquaredError()
    rm.update_state(YR, PR)
    assert_close(rm.result(), np.sqrt(np.mean((_d(PR) - _d(YR)) ** 2)), **TOL)
    t = np.array([1, 0, 1, 1, 0, 0], np.float32)
    p = np.array([0.9, 0.6, 0.4, 0.7, 0.2, 0.1], np.float32)
    pr, rc = keras.metrics.Precision(), keras.metrics.Recall()
    pr.update_state(t, p)
    rc.update_state(t, p)
    assert_close(pr.result(), 2 / 3, **TOL) and None
    assert_close(rc.result(), 2 / 3, **TOL)
    auc = keras.metrics.AUC()
    auc.update_state(t, p)
    # exact ROC AUC of these scores is 8/9; 200 thresholds with interpolation reproduce it
    assert_close(auc.result(), 8 / 9, rtol=1e-3, atol=1e-3)
    s = keras.metrics.Sum()
    s.update_state([1.0, 2.0, 3.0], sample_weight=[1.0, 0.0, 2.0])
    assert s.result() == 7.0


# ----------------------------------------------------------- optimizers
def test_learning_rate_and_iterations_behave_like_variables():
    """Bug: optimizer.learning_rate.assign() and iterations.numpy() failed (plain floats)."""
    opt = keras.optimizers.SGD(0.1)
    opt.learning_rate.assign(0.02)
    assert abs(float(opt.learning_rate) - 0.02) < 1e-12
    assert np.asarray(opt.learning_rate.numpy()).dtype == np.float32
    assert int(opt.iterations.numpy()) == 0
    sch = keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(0.1, 2, 0.5))
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        sch.learning_rate = 0.01


def _apply(opt, steps=3, seed=0):
    rng = np.random.default_rng(seed)
    w0 = rng.normal(size=(3, 4)).astype(np.float32)
    v = ag.Variable(_C.tensor(w0.copy()), name="w")
    gs = [rng.normal(size=(3, 4)).astype(np.float32) for _ in range(steps)]
    for g in gs:
        opt.apply([_C.tensor(g)], [v])
    return _d(w0), [_d(g) for g in gs], _d(v.numpy())


def _adam_ref(w, gs, lr=1e-3, b1=0.9, b2=0.999, eps=1e-7, wd=0.0):
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t, g in enumerate(gs, 1):
        w = w - w * wd * lr
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - b2)
        w = w - m * (lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)) / (np.sqrt(v) + eps)
    return w


def test_weight_decay_and_adamw():
    """Bug: weight_decay raised NotImplementedError; AdamW was missing."""
    w0, gs, w = _apply(keras.optimizers.AdamW(learning_rate=0.01, weight_decay=0.1))
    assert_close(w, _adam_ref(w0, gs, lr=0.01, wd=0.1), rtol=1e-5, atol=1e-6)
    w0, gs, w = _apply(keras.optimizers.SGD(0.1, weight_decay=0.5))
    ref = w0
    for g in gs:
        ref = ref - ref * 0.5 * 0.1
        ref = ref - 0.1 * g
    assert_close(w, ref, rtol=1e-5, atol=1e-6)


def test_adamax_nadam_adadelta_lion_match_keras_formulas():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7
    w0, gs, w = _apply(keras.optimizers.Adamax(lr))
    ref, m, u = w0.copy(), 0 * w0, 0 * w0
    for t, g in enumerate(gs, 1):
        m += (g - m) * (1 - b1)
        u = np.maximum(b2 * u, np.abs(g))
        ref -= lr * m / ((1 - b1 ** t) * (u + eps))
    assert_close(w, ref, rtol=1e-5, atol=1e-6)
    w0, gs, w = _apply(keras.optimizers.Nadam(lr))
    ref, m, v, up = w0.copy(), 0 * w0, 0 * w0, 1.0
    for t, g in enumerate(gs, 1):
        up *= b1 * (1 - 0.5 * 0.96 ** t)
        u_t, u_t1 = b1 * (1 - 0.5 * 0.96 ** t), b1 * (1 - 0.5 * 0.96 ** (t + 1))
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - b2)
        m_hat = u_t1 * m / (1 - up * u_t1) + (1 - u_t) * g / (1 - up)
        ref -= m_hat * lr / (np.sqrt(v / (1 - b2 ** t)) + eps)
    assert_close(w, ref, rtol=1e-5, atol=1e-6)
    w0, gs, w = _apply(keras.optimizers.Adadelta(1.0))
    ref, ag_, ad, rho = w0.copy(), 0 * w0, 0 * w0, 0.95
    for g in gs:
        ag_ = rho * ag_ + (1 - rho) * g * g
        d = -np.sqrt(ad + eps) / np.sqrt(ag_ + eps) * g
        ad = rho * ad + (1 - rho) * d * d
        ref += d
    assert_close(w, ref, rtol=1e-5, atol=1e-6)
    w0, gs, w = _apply(keras.optimizers.Lion(lr))
    ref, m = w0.copy(), 0 * w0
    for g in gs:
        ref -= lr * np.sign(m * 0.9 + g * 0.1)
        m = m * 0.99 + g * 0.01
    assert_close(w, ref, rtol=1e-5, atol=1e-6)


def test_new_schedules():
    s = keras.optimizers.schedules
    assert abs(s.InverseTimeDecay(0.1, 2, 0.5)(3) - 0.1 / (1 + 0.5 * 1.5)) < 1e-12
    assert abs(s.PolynomialDecay(0.1, 4, end_learning_rate=0.0, power=2.0)(1) - 0.1 * 0.75 ** 2) < 1e-12
    assert abs(s.PolynomialDecay(0.1, 4)(10) - 0.0001) < 1e-12
    cd = s.CosineDecay(0.0, 10, warmup_target=0.1, warmup_steps=5)
    assert abs(cd(2) - 0.04) < 1e-12 and abs(cd(5) - 0.1) < 1e-12 and abs(cd(10) - 0.05) < 1e-12
    r = s.CosineDecayRestarts(0.1, 2, t_mul=1.0)
    assert abs(r(2) - 0.1) < 1e-12 and abs(r(1) - 0.05) < 1e-9
    opt = keras.optimizers.deserialize(keras.optimizers.serialize(keras.optimizers.SGD(cd)))
    assert isinstance(opt._lr, s.CosineDecay) and opt._lr.warmup_steps == 5


def test_optimizer_auto_names_and_config_keys():
    keras.utils.set_random_seed(0)
    a, b = keras.optimizers.RMSprop(), keras.optimizers.RMSprop()
    assert a.name.startswith("rm_sprop") and a.name != b.name
    assert {"weight_decay", "use_ema", "ema_momentum", "loss_scale_factor",
            "gradient_accumulation_steps"} <= set(keras.optimizers.Adam().get_config())


# ------------------------------------------------------------ callbacks
def _fit_with(cb, epochs=3, **kw):
    m = _mlp()
    m.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return m, m.fit(X, Y, batch_size=8, epochs=epochs, verbose=0, validation_split=0.25, callbacks=[cb], **kw)


def test_monitor_auto_mode_from_metric_direction():
    """Keras 3: auto mode comes from the metric's direction and unknown names raise."""
    es = keras.callbacks.EarlyStopping(monitor="val_accuracy")
    _fit_with(es, epochs=1)
    assert es.monitor_op is np.greater
    with pytest.raises(ValueError, match="maximized or minimized"):
        _fit_with(keras.callbacks.EarlyStopping(monitor="val_f1"), epochs=1)


def test_model_checkpoint_keras3_rules(tmp_path):
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        keras.callbacks.ModelCheckpoint(str(tmp_path / "w.h5"), save_weights_only=True)
    with pytest.raises(ValueError, match=r"\.keras"):
        keras.callbacks.ModelCheckpoint(str(tmp_path / "ckpt"))
    cb = keras.callbacks.ModelCheckpoint(str(tmp_path / "sub" / "w{epoch}-{batch}.weights.h5"),
                                         save_weights_only=True, save_freq=2)
    _fit_with(cb, epochs=1)  # 15 train samples / 8 = 2 batches per epoch
    assert sorted(os.listdir(tmp_path / "sub")) == ["w1-2.weights.h5"]
    cb = keras.callbacks.ModelCheckpoint(str(tmp_path / "best.weights.h5"), save_weights_only=True,
                                         save_best_only=True, monitor="val_missing", mode="min")
    with pytest.warns(UserWarning, match="val_missing"):
        _fit_with(cb, epochs=1)
    assert os.path.exists(tmp_path / "best.weights.h5")


def test_csv_logger_adds_val_columns(tmp_path):
    f = str(tmp_path / "log.csv")
    m = _mlp()
    m.compile("sgd", "sparse_categorical_crossentropy")
    m.fit(X, Y, epochs=2, verbose=0, callbacks=[keras.callbacks.CSVLogger(f)])
    rows = list(csv.reader(open(f)))
    assert rows[0] == ["epoch", "loss", "val_loss"] and rows[1][2] == "NA" and len(rows) == 3


def test_terminate_on_nan_raise_error_and_scheduler_type():
    m = _mlp()
    m.compile(keras.optimizers.SGD(1e30), "mse")
    y = np.full((20, 3), 1e30, np.float32)
    with pytest.raises(RuntimeError, match="NaN or Inf"):
        m.fit(X, y, epochs=2, verbose=0, callbacks=[keras.callbacks.TerminateOnNaN(raise_error=True)])
    with pytest.raises(ValueError, match="should be a float"):
        _fit_with(keras.callbacks.LearningRateScheduler(lambda e, lr: 1), epochs=1)


def test_unsupported_callbacks_say_so():
    for name in ("TensorBoard", "BackupAndRestore"):
        with pytest.raises(NotImplementedError, match=name):
            getattr(keras.callbacks, name)("logs")


def test_class_weight_rules():
    """Keras: class_weight with sample_weight is a ValueError; float labels are rounded; using
    an uncompiled model is a ValueError."""
    m = _mlp()
    m.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="class_weight"):
        m.fit(X, Y, class_weight={0: 1.0, 1: 1.0, 2: 1.0}, sample_weight=np.ones(20), verbose=0)
    with pytest.raises(ValueError, match="class_weight"):
        m.train_on_batch(X, Y, class_weight={0: 1.0, 1: 1.0, 2: 1.0}, sample_weight=np.ones(20))
    b = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    b.compile("sgd", "binary_crossentropy")
    yb = np.array([0.9999, 0.0001] * 10, np.float32)
    p = b.predict(X, verbose=0)[:, 0]
    per = -(yb * np.log(p + EPS) + (1 - yb) * np.log(1 - p + EPS))
    w = np.where(yb > 0.5, 3.0, 1.0)
    assert_close(b.train_on_batch(X, yb, class_weight={0: 1.0, 1: 3.0}), np.mean(per * w), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="compile"):
        keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).evaluate(X, Y, verbose=0)


class _Hits(keras.metrics.Metric):
    """A Keras 3 style custom metric: add_variable/add_weight, assign_add, its own reset_state."""

    def __init__(self, name="hits", **kw):
        super().__init__(name=name, **kw)
        self.hits = self.add_variable(shape=(), initializer="zeros", name="hits")
        self.n = self.add_weight(name="n", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        pred = np.argmax(keras.ops.convert_to_numpy(y_pred), -1)
        self.hits.assign_add(np.sum(pred == np.asarray(y_true).reshape(-1)))
        self.n.assign_add(float(len(pred)))

    def result(self):
        return self.hits / self.n

    def reset_state(self):
        self.hits.assign(0.0)
        self.n.assign(0.0)


def test_custom_metric_subclass_with_variables():
    """Bug: Metric had no add_variable/add_weight and its __init__ called the subclass's
    reset_state before the variables existed."""
    m = _mlp()
    m.compile("sgd", "sparse_categorical_crossentropy", metrics=[_Hits(), "accuracy"])
    h = m.fit(X, Y, epochs=2, batch_size=8, verbose=0, validation_split=0.2)
    assert h.history["hits"] == pytest.approx(h.history["accuracy"])
    assert h.history["val_hits"] == pytest.approx(h.history["val_accuracy"])
    d = m.evaluate(X, Y, verbose=0, return_dict=True)
    assert d["hits"] == pytest.approx(d["accuracy"])
    st = m._pcn_metrics[0].state_vector()
    assert st.shape == (2,) and st[1] == 20.0


def test_verbose_2_lines_and_small_value_format(capsys):
    """Keras prints one line for evaluate/predict(verbose=2) (we printed nothing) and formats
    |v| <= 1e-3 (0 included) as %.4e."""
    m = _mlp()
    m.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    capsys.readouterr()
    m.evaluate(X, Y, verbose=2)
    m.predict(X, verbose=2)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith("1/1 - ") and "loss: " in out[0] and out[1].startswith("1/1 - ")
    from pyconvnet.callbacks import _fmt_logs
    assert _fmt_logs({"a": 0.0, "b": 0.5}) == "a: 0.0000e+00 - b: 0.5000"


def test_string_metric_named_by_the_string():
    """Keras names a metric given as a string by that string ('MeanSquaredError', 'AUC')."""
    m = _mlp()
    m.compile("sgd", "categorical_crossentropy", metrics=["MeanSquaredError", "AUC", "acc"])
    h = m.fit(X, np.eye(3, dtype=np.float32)[Y], epochs=1, verbose=0)
    assert sorted(h.history) == ["AUC", "MeanSquaredError", "acc", "loss"]


def test_zero_clip_values_do_not_clip():
    """Keras clips only for values > 0; clipvalue=0 used to zero every gradient."""
    for kw in (dict(clipvalue=0.0), dict(clipnorm=0.0), dict(global_clipnorm=0.0)):
        w0, gs, w = _apply(keras.optimizers.SGD(0.1, **kw))
        assert_close(w, w0 - 0.1 * sum(gs), rtol=1e-5, atol=1e-6)


class _StepModel(keras.Model):
    """Keras 3 style overrides (TF-style tape: pyconvnet's GradientTape)."""

    def train_step(self, data):
        x, y = data
        with keras.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        for m in self.metrics:
            if m.name == "loss":
                m.update_state(loss)
            else:
                m.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


class _SuperStepModel(keras.Model):
    def train_step(self, data):
        self.calls = getattr(self, "calls", 0) + 1
        return super().train_step(data)

    def test_step(self, data):
        out = super().test_step(data)
        out["extra"] = 1.0
        return out

    def predict_step(self, data):
        return super().predict_step(data) * 2.0


def _functional(cls):
    keras.utils.set_random_seed(0)
    inp = keras.Input((4,))
    out = keras.layers.Dense(3, activation="softmax")(keras.layers.Dense(5, activation="tanh")(inp))
    return cls(inp, out)


def test_overridden_train_step_is_used():
    """Bug: an overridden train_step/test_step/predict_step was silently ignored by fit/evaluate/predict."""
    ref, a, b = _functional(keras.Model), _functional(_StepModel), _functional(_SuperStepModel)
    for m in (ref, a, b):
        m.set_weights(ref.get_weights())
        m.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy", metrics=["accuracy"])
    # equal batches: the user's unweighted running mean of the loss equals fit's size-weighted one
    hr = ref.fit(X, Y, epochs=2, batch_size=10, verbose=0, shuffle=False)
    ha = a.fit(X, Y, epochs=2, batch_size=10, verbose=0, shuffle=False)
    hb = b.fit(X, Y, epochs=2, batch_size=10, verbose=0, shuffle=False)
    for h in (ha, hb):
        assert sorted(h.history) == ["accuracy", "loss"]
        assert h.history["loss"] == pytest.approx(hr.history["loss"], rel=1e-5)
        assert h.history["accuracy"] == pytest.approx(hr.history["accuracy"])
    assert b.calls == 4
    for w1, w2 in zip(ref.get_weights(), a.get_weights()):
        assert_close(w2, w1, rtol=1e-5, atol=1e-6)
    d = b.evaluate(X, Y, verbose=0, return_dict=True)
    assert d["extra"] == 1.0 and d["loss"] == pytest.approx(ref.evaluate(X, Y, verbose=0)[0], rel=1e-5)
    assert_close(b.predict(X, verbose=0), 2 * ref.predict(X, verbose=0), rtol=1e-6, atol=1e-7)


def test_f1_and_r2_scores():
    """Missing before: F1Score/FBetaScore/R2Score (sklearn's definitions, Keras's epsilon)."""
    t = (R.random((10, 3)) > 0.5).astype(np.float32)
    p = R.random((10, 3)).astype(np.float32)
    f1 = keras.metrics.F1Score(threshold=0.5)
    f1.update_state(t, p)
    pp = (_d(p) > 0.5)
    tp = np.sum(pp * t, 0)
    prec, rec = tp / (pp.sum(0) + 1e-7), tp / (t.sum(0) + 1e-7)
    assert_close(f1.result(), 2 * prec * rec / (prec + rec + 1e-7), rtol=1e-5, atol=1e-6)
    r2 = keras.metrics.R2Score()
    r2.update_state(YR, PR)
    ss_res = np.sum((_d(YR) - _d(PR)) ** 2, 0)
    ss_tot = np.sum((_d(YR) - _d(YR).mean(0)) ** 2, 0)
    assert_close(r2.result(), np.mean(1 - ss_res / ss_tot), rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="2D"):
        keras.metrics.R2Score().update_state(YR[:, 0], PR[:, 0])


def test_user_history_and_progbar_are_reused(capsys):
    """Keras uses a History/ProgbarLogger given in callbacks instead of adding its own (we printed
    the bar twice and returned a different History); ProgbarLogger() takes fit's verbose."""
    m = _mlp()
    m.compile("sgd", "sparse_categorical_crossentropy")
    hist = keras.callbacks.History()
    capsys.readouterr()
    h = m.fit(X, Y, epochs=2, verbose=2, callbacks=[hist, keras.callbacks.ProgbarLogger()])
    out = capsys.readouterr().out
    assert h is hist and m.history is hist and len(hist.history["loss"]) == 2
    assert out.count("Epoch 1/2") == 1 and out.count(" - loss: ") == 2


class _OwnLossModel(keras.Model):
    def train_step(self, data):
        x, y = data
        with keras.GradientTape() as tape:
            loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, self(x, training=True)))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return {"my_loss": loss}


def test_custom_train_step_without_compiled_loss():
    """Keras allows compile() without a loss when train_step computes its own."""
    m = _functional(_OwnLossModel)
    m.compile(keras.optimizers.SGD(0.5))
    h = m.fit(X, Y, epochs=3, batch_size=20, verbose=0)
    assert list(h.history) == ["my_loss"] and h.history["my_loss"][2] < h.history["my_loss"][0]
    with pytest.raises(ValueError, match="with a loss"):
        m.evaluate(X, Y, verbose=0)


def test_steps_per_execution_groups_batch_hooks():
    """Bug: steps_per_execution was accepted and ignored. Keras (TF backend) calls the batch hooks
    once per chunk with (first step, first step + k - 1); the weights see every step."""
    ev = []
    m = _mlp()
    m.compile("sgd", "sparse_categorical_crossentropy", steps_per_execution=2)
    cb = keras.callbacks.LambdaCallback(on_train_batch_begin=lambda b, logs=None: ev.append(("b", b)),
                                        on_train_batch_end=lambda b, logs=None: ev.append(("e", b)))
    m.fit(X, Y, batch_size=3, epochs=1, verbose=0, callbacks=[cb])
    assert ev == [("b", 0), ("e", 1), ("b", 2), ("e", 3), ("b", 4), ("e", 5), ("b", 6), ("e", 7)]
    assert int(m.optimizer.iterations) == 7


def test_validation_split_keeps_sample_weights_not_class_weights():
    """Bug: the validation part of validation_split lost its sample weights (Keras weighs val_loss
    with them); class_weight stays training-only."""
    w = np.linspace(0, 2, 20).astype(np.float32)
    m = _mlp()
    m.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    h = m.fit(X, Y, epochs=1, batch_size=8, verbose=0, validation_split=0.3, sample_weight=w)
    p = m.predict(X[14:], verbose=0)
    per = -np.log(np.clip(_d(p)[np.arange(6), Y[14:]], EPS, 1 - EPS))
    assert_close(h.history["val_loss"][0], np.sum(per * w[14:]) / 6, rtol=1e-5, atol=1e-6)
    h = m.fit(X, Y, epochs=1, batch_size=8, verbose=0, validation_split=0.3, class_weight={0: 5.0, 1: 1.0, 2: 1.0})
    assert_close(h.history["val_loss"][0], np.mean(per), rtol=1e-5, atol=1e-6)


def test_temporal_sample_weights():
    """Bug: (N, T) sample weights for a sequence output were rejected. Keras weighs each timestep:
    sum(l_nt * w_nt) / (N * T)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 5, 4)).astype(np.float32)
    y = rng.integers(0, 3, (6, 5))
    w = rng.random((6, 5)).astype(np.float32)
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((5, 4)), keras.layers.Dense(3, activation="softmax")])
    m.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    p = _d(m.predict(x, verbose=0))
    per = -np.log(np.clip(np.take_along_axis(p, y[..., None], -1)[..., 0], EPS, 1 - EPS))
    assert_close(m.evaluate(x, y, sample_weight=w, verbose=0), np.sum(per * w) / per.size, rtol=1e-5, atol=1e-6)
    h = m.fit(x, y, sample_weight=w, epochs=1, batch_size=6, verbose=0)
    assert_close(h.history["loss"][0], np.sum(per * w) / per.size, rtol=1e-5, atol=1e-6)


def test_focal_losses():
    """Missing before: BinaryFocalCrossentropy / CategoricalFocalCrossentropy (Keras's formulas), and
    they train (the tape differentiates them)."""
    pb = np.clip(np.abs(np.tanh(_d(PR))), 0.05, 0.95)
    t = _d(YB)
    bce = -(t * np.log(pb) + (1 - t) * np.log(1 - pb))
    p_t = t * pb + (1 - t) * (1 - pb)
    w = t * 0.25 + (1 - t) * 0.75
    ref = np.mean(w * (1 - p_t) ** 2 * bce, -1)
    got = keras.losses.BinaryFocalCrossentropy(apply_class_balancing=True, reduction="none")(YB, pb.astype(np.float32))
    assert_close(got, ref, rtol=1e-4, atol=1e-6)
    out = np.clip(_d(PROBS), EPS, 1 - EPS)
    ref = np.sum(0.25 * (1 - out) ** 2 * -_d(YOH) * np.log(out), -1)
    assert_close(keras.losses.categorical_focal_crossentropy(YOH, PROBS), ref, rtol=1e-4, atol=1e-6)
    m = _mlp()
    m.compile(keras.optimizers.SGD(0.5), keras.losses.CategoricalFocalCrossentropy())
    h = m.fit(X, np.eye(3, dtype=np.float32)[Y], epochs=5, batch_size=20, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]


def test_ftrl_matches_keras_formula():
    """Missing before: keras.optimizers.Ftrl / 'ftrl'."""
    lr, p, l1, l2, sh, beta = 0.1, 0.7, 0.01, 0.02, 0.01, 0.1
    w0, gs, w = _apply(keras.optimizers.Ftrl(lr, learning_rate_power=-p, l1_regularization_strength=l1,
                                             l2_regularization_strength=l2, l2_shrinkage_regularization_strength=sh,
                                             beta=beta))
    ref, acc, lin = w0.copy(), np.full_like(w0, 0.1), np.zeros_like(w0)
    for g in gs:
        l2r = l2 + beta / (2 * lr)
        na = acc + g * g
        lin += g + 2 * sh * ref - (na ** p - acc ** p) / lr * ref
        quad = na ** p / lr + 2 * l2r
        ref = (np.clip(lin, -l1, l1) - lin) / quad
        acc = na
    assert_close(w, ref, rtol=1e-5, atol=1e-6)
    assert isinstance(keras.optimizers.get("ftrl"), keras.optimizers.Ftrl)


def test_use_ema_accumulation_and_loss_scale():
    """Bugs: use_ema and gradient_accumulation_steps raised NotImplementedError, ema_momentum /
    ema_overwrite_frequency were rejected, loss_scale_factor raised. Keras's formulas."""
    w0, gs, w = _apply(keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5))
    ref, avg = w0.copy(), 0 * w0
    for i, g in enumerate(gs):
        ref = ref - 0.1 * g
        m = 0.5 if i else 0.0
        avg = m * avg + (1 - m) * ref
    assert_close(w, ref, rtol=1e-6, atol=1e-7)  # weights untouched until finalize
    opt = keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5)
    v = ag.Variable(_C.tensor(w0.astype(np.float32)), name="w")
    for g in gs:
        opt.apply([_C.tensor(g.astype(np.float32))], [v])
    opt.finalize_variable_values([v])
    assert_close(v.numpy(), avg, rtol=1e-5, atol=1e-6)
    w0, gs, w = _apply(keras.optimizers.SGD(0.1, gradient_accumulation_steps=2), steps=4)
    assert_close(w, w0 - 0.1 * (gs[0] + gs[1]) / 2 - 0.1 * (gs[2] + gs[3]) / 2, rtol=1e-5, atol=1e-6)
    w0, gs, w = _apply(keras.optimizers.SGD(0.1, loss_scale_factor=4.0))
    assert_close(w, w0 - 0.1 * sum(gs) / 4.0, rtol=1e-5, atol=1e-6)  # apply() unscales, like Keras
    a, b = _mlp(), _mlp()
    b.set_weights(a.get_weights())
    a.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    b.compile(keras.optimizers.SGD(0.1, loss_scale_factor=4.0), "sparse_categorical_crossentropy")
    a.fit(X, Y, epochs=1, batch_size=10, verbose=0, shuffle=False)
    b.fit(X, Y, epochs=1, batch_size=10, verbose=0, shuffle=False)
    for wa, wb in zip(a.get_weights(), b.get_weights()):  # fit scales the loss: the two cancel
        assert_close(wb, wa, rtol=1e-5, atol=1e-6)


def test_compile_config_round_trip():
    """Missing before: Model.get_compile_config / compile_from_config (Keras 3), with metric
    objects, loss_weights and weighted_metrics surviving a JSON round trip."""
    import json
    m = _mlp()
    m.compile(keras.optimizers.AdamW(0.01), keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
              metrics=["accuracy", keras.metrics.AUC(name="auc")], weighted_metrics=["mae"], loss_weights=2.0)
    cfg = json.loads(json.dumps(m.get_compile_config()))
    q = _mlp()
    q.compile_from_config(cfg)
    assert isinstance(q.optimizer, keras.optimizers.AdamW) and q.optimizer.weight_decay == 0.004
    assert q._pcn_loss.get_config()["label_smoothing"] == 0.1 and q._pcn_loss_weight == 2.0
    assert q.get_compile_config() == cfg


def test_generator_rejects_class_weight():
    """Keras: class_weight is a ValueError for generator inputs (we silently applied it)."""
    m = _mlp()
    m.compile("sgd", "sparse_categorical_crossentropy")

    def gen():
        while True:
            yield X[:10], Y[:10]
    with pytest.raises(ValueError, match="class_weight"):
        m.fit(gen(), steps_per_epoch=2, class_weight={0: 1.0, 1: 1.0, 2: 1.0}, verbose=0)


def test_mean_iou():
    """Missing before: the IoU metrics. MeanIoU = mean over present classes of TP / (TP + FP + FN)."""
    t = np.array([0, 0, 1, 1, 2, 2])
    p = np.array([0, 1, 1, 1, 2, 0])
    m = keras.metrics.MeanIoU(num_classes=3)
    m.update_state(t, p)
    # class 0: tp 1, fp 1, fn 1 -> 1/3; class 1: tp 2, fp 1 -> 2/3; class 2: tp 1, fn 1 -> 1/2
    assert_close(m.result(), (1 / 3 + 2 / 3 + 1 / 2) / 3, rtol=1e-5, atol=1e-6)
    b = keras.metrics.BinaryIoU(target_class_ids=[1], threshold=0.5)
    b.update_state([0, 1, 1, 0], [0.2, 0.7, 0.4, 0.6])
    assert_close(b.result(), 1 / 3, rtol=1e-5, atol=1e-6)


def test_pearson_correlation_metric():
    """Missing before: PearsonCorrelation (per-sample correlation along the last axis, averaged)."""
    m = keras.metrics.PearsonCorrelation()
    m.update_state(YR, PR)
    ref = np.mean([np.corrcoef(_d(YR)[i], _d(PR)[i])[0, 1] for i in range(N)])
    assert_close(m.result(), ref, rtol=1e-6, atol=1e-8)


def test_auc_multi_label():
    """Bug: AUC(multi_label=True) raised NotImplementedError. It is the mean of the per-label AUCs."""
    rng = np.random.default_rng(1)
    t = (rng.random((30, 2)) > 0.5).astype(np.float32)
    p = rng.random((30, 2)).astype(np.float32)
    m = keras.metrics.AUC(multi_label=True)
    m.update_state(t, p)
    singles = []
    for j in range(2):
        a = keras.metrics.AUC()
        a.update_state(t[:, j], p[:, j])
        singles.append(a.result())
    assert_close(m.result(), np.mean(singles), rtol=1e-6, atol=1e-7)


def test_optimizer_applies_weight_constraints_right_after_the_update():
    # Keras: variable.constraint projects the variable inside apply_gradients, so a direct read
    # of the weight after a step already sees the projection (custom add_weight(constraint=) too)
    class L(keras.layers.Layer):
        def build(self, s):
            self.w = self.add_weight(shape=(s[-1], 2), initializer="ones", constraint=keras.constraints.NonNeg(),
                                     name="w")

        def call(self, x):
            return keras.ops.matmul(x, self.w)
    x, y = np.ones((4, 3), np.float32), np.full((4, 2), -100.0, np.float32)
    for layer in (L(), keras.layers.Dense(2, kernel_constraint="non_neg", kernel_initializer="ones")):
        m = keras.Sequential([keras.Input((3,)), layer])
        m.compile(optimizer=keras.optimizers.SGD(10.0), loss="mse")
        m.train_on_batch(x, y)
        w = (layer.w if isinstance(layer, L) else layer.kernel).numpy()
        assert w.min() == 0.0 and np.all(w >= 0)
