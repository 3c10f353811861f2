"""Differential audit of the training API against Keras 3 itself (torch backend):
the same tiny model with the same weights (set_weights), shuffle=False, trained
and evaluated by both; losses, metrics, optimizers (k steps from the same
gradients), schedules and callbacks compared value by value, with the names that
end up in history/config. Skips without keras; the CI-runnable regression tests
for each difference found live in test_keras_training_regress.py.
Also passes on the TF backend: KERAS_BACKEND=tensorflow PYTHONPATH=<worktree>
/work/venv-tf/bin/python -m pytest tests/test_keras_diff_training.py (2026-11-27: 480 passed)."""
import os
import tempfile
import warnings

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
K = pytest.importorskip("keras")
if K.backend.backend() not in ("torch", "tensorflow"):
    pytest.skip("Keras 3 present but not on the torch or tensorflow backend", allow_module_level=True)

import pyconvnet as P  # noqa: E402
from pyconvnet import _C, autograd as ag  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning")]


def _build(M, out=3, act="softmax", inp=4, hidden=5):
    return M.Sequential([M.Input(shape=(inp,)), M.layers.Dense(hidden, activation="tanh"),
                         M.layers.Dense(out, activation=act)])


def _pair(out=3, act="softmax", seed=0):
    k, p = _build(K, out, act), _build(P, out, act)
    rng = np.random.default_rng(seed)
    ws = [(rng.normal(size=w.shape) * 0.5).astype(np.float32) for w in k.get_weights()]
    k.set_weights(ws)
    p.set_weights(ws)
    return k, p


def _data(n=20, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)).astype(np.float32), rng.integers(0, 3, n)


def _close(a, b, tol=1e-4):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape == b.shape and np.allclose(a, b, rtol=tol, atol=tol)


X, Y = _data()
YR = np.random.default_rng(3).normal(size=(20, 1)).astype(np.float32)
FIT_CASES = [
    ("basic", dict(loss="sparse_categorical_crossentropy", metrics=["accuracy"]), dict(epochs=2, batch_size=8), None),
    ("validation_split", dict(loss="sparse_categorical_crossentropy", metrics=["accuracy"]),
     dict(epochs=2, batch_size=8, validation_split=0.25), None),
    ("validation_data_3", dict(loss="sparse_categorical_crossentropy", metrics=["accuracy"]),
     dict(epochs=2, batch_size=8, validation_data=(X[:5], Y[:5], np.arange(5.0))), None),
    ("validation_freq", dict(loss="sparse_categorical_crossentropy"),
     dict(epochs=4, batch_size=8, validation_data=(X[:5], Y[:5]), validation_freq=2), None),
    ("validation_freq_list", dict(loss="sparse_categorical_crossentropy"),
     dict(epochs=4, batch_size=8, validation_data=(X[:5], Y[:5]), validation_freq=[1, 3]), None),
    ("initial_epoch", dict(loss="sparse_categorical_crossentropy"), dict(epochs=3, initial_epoch=1, batch_size=8),
     None),
    ("steps_per_epoch", dict(loss="sparse_categorical_crossentropy"), dict(epochs=3, steps_per_epoch=2, batch_size=8),
     None),
    ("class_weight", dict(loss="sparse_categorical_crossentropy", metrics=["accuracy"]),
     dict(epochs=2, batch_size=8, class_weight={0: 1.0, 1: 2.0, 2: 0.5}), None),
    ("sample_weight", dict(loss="sparse_categorical_crossentropy", metrics=["accuracy"]),
     dict(epochs=2, batch_size=8, sample_weight=np.linspace(0, 2, 20)), None),
    ("sample_weight_validation_split", dict(loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                                            weighted_metrics=["accuracy"]),
     dict(epochs=2, batch_size=8, sample_weight=np.linspace(0, 2, 20), validation_split=0.3), None),
    ("class_weight_validation_split", dict(loss="sparse_categorical_crossentropy", weighted_metrics=["accuracy"]),
     dict(epochs=2, batch_size=8, class_weight={0: 1.0, 1: 3.0, 2: 0.5}, validation_split=0.3), None),
    ("batch_size_default", dict(loss="sparse_categorical_crossentropy"), dict(epochs=1), None),
    ("epochs_0", dict(loss="sparse_categorical_crossentropy"), dict(epochs=0), None),
    ("weighted_metrics", dict(loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                              weighted_metrics=["accuracy"]),
     dict(epochs=1, batch_size=8, sample_weight=np.linspace(0, 2, 20)), None),
    ("loss_weights", dict(loss="sparse_categorical_crossentropy", loss_weights=2.0), dict(epochs=1, batch_size=8),
     None),
    ("loss_sum_reduction", dict(loss="SUM"), dict(epochs=2, batch_size=8), None),
    ("ignore_class", dict(loss="IGNORE"), dict(epochs=2, batch_size=8), None),
    ("mse_N1", dict(loss="mse", metrics=["mae"]), dict(epochs=2, batch_size=8), ("lin", YR)),
    ("mse_1d_target", dict(loss="mse", metrics=["mae", "mse"]), dict(epochs=2, batch_size=8), ("lin", YR[:, 0])),
    ("bce", dict(loss="binary_crossentropy", metrics=["accuracy"]), dict(epochs=2, batch_size=8),
     ("sig", (YR > 0).astype(np.float32))),
    ("cce_smoothing", dict(loss="SMOOTH", metrics=["accuracy"]), dict(epochs=2, batch_size=8),
     ("soft", np.eye(3, dtype=np.float32)[Y])),
]


def _opt_for(M, opt):
    if opt == "adam_ema":
        return M.optimizers.Adam(0.01, use_ema=True, ema_momentum=0.9)
    if opt == "sgd_accum":
        return M.optimizers.SGD(0.1, gradient_accumulation_steps=2)
    return opt


def _loss_for(M, tag):
    if tag == "SUM":
        return M.losses.SparseCategoricalCrossentropy(reduction="sum")
    if tag == "IGNORE":
        return M.losses.SparseCategoricalCrossentropy(ignore_class=2)
    if tag == "SMOOTH":
        return M.losses.CategoricalCrossentropy(label_smoothing=0.1)
    return tag


@pytest.mark.parametrize("name,compile_kw,fit_kw,target", FIT_CASES, ids=[c[0] for c in FIT_CASES])
@pytest.mark.parametrize("opt", ["sgd", "adam", "adam_ema", "sgd_accum"])
def test_fit_history_weights_match_keras(name, compile_kw, fit_kw, target, opt):
    out, act, y = 3, "softmax", Y
    if target is not None:
        kind, y = target
        out, act = (1, None) if kind == "lin" else (1, "sigmoid") if kind == "sig" else (3, "softmax")
    k, p = _pair(out, act)
    for M, m in ((K, k), (P, p)):
        kw = dict(compile_kw, loss=_loss_for(M, compile_kw["loss"]))
        m.compile(optimizer=_opt_for(M, opt), **kw)
    hk = k.fit(X, y, verbose=0, shuffle=False, **fit_kw)
    hp = p.fit(X, y, verbose=0, shuffle=False, **fit_kw)
    assert sorted(hk.history) == sorted(hp.history)
    for key in hk.history:
        assert _close(hk.history[key], hp.history[key]), (key, hk.history[key], hp.history[key])
    assert hk.epoch == hp.epoch
    assert hk.params == hp.params
    for a, b in zip(k.get_weights(), p.get_weights()):
        assert _close(a, b, 2e-4)
    ek = k.evaluate(X, y, verbose=0, return_dict=True)
    ep = p.evaluate(X, y, verbose=0, return_dict=True)
    assert sorted(ek) == sorted(ep) and all(_close(ek[n], ep[n]) for n in ek)


def test_on_batch_and_evaluate_forms_match_keras():
    k, p = _pair()
    res = []
    for M, m in ((K, k), (P, p)):
        m.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
        r = [m.train_on_batch(X[:8], Y[:8]), m.train_on_batch(X[8:16], Y[8:16], return_dict=True),
             m.test_on_batch(X[:8], Y[:8]), m.test_on_batch(X[:8], Y[:8], sample_weight=np.arange(8.0)),
             m.evaluate(X, Y, verbose=0), m.evaluate(X, Y, verbose=0, batch_size=7),
             m.predict(X, verbose=0), m.predict_on_batch(X[:3]), int(np.asarray(m.optimizer.iterations))]
        res.append(r)
    for a, b in zip(*res):
        if isinstance(a, dict):
            assert sorted(a) == sorted(b) and all(_close(a[n], b[n]) for n in a)
        else:
            assert _close(a, b), (a, b)


def _hook_recorder(M):
    ev = []

    class R(M.callbacks.Callback):
        pass
    r = R()
    hooks = ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
             "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
             "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end"]
    for h in hooks:
        def f(*a, h=h, **k):
            logs = k.get("logs", a[-1] if a and isinstance(a[-1], dict) else None)
            ev.append((h, tuple(v for v in a if not isinstance(v, dict)),
                       sorted(logs) if isinstance(logs, dict) else logs))
        setattr(r, h, f)
    return r, ev


def test_callback_hook_order_and_logs_match_keras():
    k, p = _pair()
    evs = []
    for M, m in ((K, k), (P, p)):
        m.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
        r, ev = _hook_recorder(M)
        m.fit(X, Y, batch_size=10, epochs=2, validation_data=(X[:5], Y[:5]), callbacks=[r], verbose=0,
              shuffle=False)
        m.evaluate(X, Y, batch_size=10, callbacks=[r], verbose=0)
        m.predict(X, batch_size=10, callbacks=[r], verbose=0)
        evs.append(ev)
    assert evs[0] == evs[1]


R = np.random.default_rng(0)
_N, _C4 = 6, 4
_LOGITS = R.normal(size=(_N, _C4)).astype(np.float32)
_PROBS = np.exp(_LOGITS) / np.exp(_LOGITS).sum(-1, keepdims=True)
_YI = R.integers(0, _C4, _N)
_YOH = np.eye(_C4, dtype=np.float32)[_YI]
_YR, _PR = R.normal(size=(_N, _C4)).astype(np.float32), R.normal(size=(_N, _C4)).astype(np.float32)
_YB, _PB = (R.random((_N, _C4)) > 0.5).astype(np.float32), R.random((_N, _C4)).astype(np.float32)
_SW = R.random(_N).astype(np.float32)
LOSS_CASES = [
    ("MeanSquaredError", {}, _YR, _PR), ("MeanAbsoluteError", {}, _YR, _PR),
    ("MeanAbsolutePercentageError", {}, _YR, _PR), ("MeanSquaredLogarithmicError", {}, np.abs(_YR), np.abs(_PR)),
    ("KLDivergence", {}, _PROBS[::-1].copy(), _PROBS), ("Hinge", {}, _YB, _PR), ("SquaredHinge", {}, _YB * 2 - 1, _PR),
    ("CategoricalHinge", {}, _YOH, _PR), ("LogCosh", {}, _YR, _PR), ("Poisson", {}, np.abs(_YR), np.abs(_PR) + 0.1),
    ("CosineSimilarity", {}, _YR, _PR), ("Huber", {"delta": 0.5}, _YR, _PR),
    ("CategoricalCrossentropy", {}, _YOH, _PROBS), ("CategoricalCrossentropy", {"from_logits": True}, _YOH, _LOGITS),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.2}, _YOH, _LOGITS),
    ("CategoricalCrossentropy", {"axis": 0}, _YOH, _PROBS),
    ("SparseCategoricalCrossentropy", {}, _YI, _PROBS), ("SparseCategoricalCrossentropy", {}, _YI[:, None], _PROBS),
    ("SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": 1}, _YI, _LOGITS),
    ("BinaryCrossentropy", {}, _YB, _PB), ("BinaryCrossentropy", {"from_logits": True}, _YB, _PR),
    ("BinaryCrossentropy", {"label_smoothing": 0.1}, _YB, _PB),
    ("BinaryCrossentropy", {}, _YB[:, 0], _PB[:, :1]), ("MeanSquaredError", {}, _YR[:, 0], _PR[:, :1]),
    ("MeanSquaredError", {}, _YR.reshape(2, 3, 4), _PR.reshape(2, 3, 4)),
    ("BinaryFocalCrossentropy", {}, _YB, _PB),
    ("BinaryFocalCrossentropy", {"apply_class_balancing": True, "gamma": 3.0, "from_logits": True,
                                 "label_smoothing": 0.1}, _YB, _PR),
    ("CategoricalFocalCrossentropy", {}, _YOH, _PROBS),
    ("CategoricalFocalCrossentropy", {"from_logits": True, "alpha": 0.5, "label_smoothing": 0.1}, _YOH, _LOGITS),
]


@pytest.mark.parametrize("name,kw,yt,yp", LOSS_CASES, ids=["%s-%d" % (c[0], i) for i, c in enumerate(LOSS_CASES)])
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "none", "mean", "mean_with_sample_weight"])
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_values_match_keras(name, kw, yt, yp, reduction, weighted):
    if weighted and (kw.get("axis") == 0 or yp.ndim == 3):
        pytest.skip("per-sample weights do not broadcast to this loss shape (Keras raises too)")
    w = _SW[:yp.shape[0]] if weighted else None
    a = K.ops.convert_to_numpy(getattr(K.losses, name)(reduction=reduction, **kw)(yt, yp, sample_weight=w))
    b = getattr(P.losses, name)(reduction=reduction, **kw)(yt, yp, sample_weight=w)
    assert _close(a, b, 1e-5), (a, b)
    assert getattr(K.losses, name)().name == getattr(P.losses, name)().name


@pytest.mark.parametrize("fn", ["mse", "mae", "mape", "msle", "kld", "kl_divergence", "hinge", "squared_hinge",
                                "categorical_hinge", "log_cosh", "poisson", "cosine_similarity", "huber",
                                "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_loss_function_forms_match_keras(fn):
    yt, yp = np.abs(_YR) + 0.1, np.abs(_PR) + 0.1
    if "sparse" in fn:
        yt, yp = _YI, _PROBS
    elif "categorical" in fn or fn in ("kld", "kl_divergence"):
        yt, yp = _YOH, _PROBS
    elif "binary" in fn:
        yt, yp = _YB, _PB
    a = K.ops.convert_to_numpy(K.losses.get(fn)(yt, yp))
    b = P.losses.get(fn)(yt, yp)
    assert _close(a, b, 1e-5)


MET_CASES = [
    ("Accuracy", {}, _YI, np.argmax(_PROBS, -1)), ("BinaryAccuracy", {"threshold": 0.7}, _YB[:, :1], _PB[:, :1]),
    ("CategoricalAccuracy", {}, _YOH, _PROBS), ("SparseCategoricalAccuracy", {}, _YI[:, None], _PROBS),
    ("TopKCategoricalAccuracy", {"k": 2}, _YOH, _PROBS), ("SparseTopKCategoricalAccuracy", {"k": 2}, _YI, _PROBS),
    ("MeanSquaredError", {}, _YR, _PR), ("RootMeanSquaredError", {}, _YR, _PR), ("CosineSimilarity", {}, _YR, _PR),
    ("AUC", {}, _YB[:, :1], _PB[:, :1]), ("AUC", {"curve": "PR"}, _YB[:, :1], _PB[:, :1]),
    ("AUC", {"num_thresholds": 7, "summation_method": "minoring"}, _YB[:, :1], _PB[:, :1]),
    ("Precision", {"thresholds": [0.3, 0.6]}, _YB[:, :1], _PB[:, :1]), ("Recall", {}, _YB[:, :1], _PB[:, :1]),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, _YI, _LOGITS), ("KLDivergence", {}, _YOH, _PROBS),
    ("F1Score", {}, _YB, _PB), ("F1Score", {"average": "macro", "threshold": 0.5}, _YB, _PB),
    ("F1Score", {"average": "micro"}, _YB, _PB), ("FBetaScore", {"average": "weighted", "beta": 2.0}, _YB, _PB),
    ("R2Score", {}, _YR, _PR), ("R2Score", {"class_aggregation": "variance_weighted_average"}, _YR, _PR),
    ("PearsonCorrelation", {}, _YR, _PR), ("ConcordanceCorrelation", {}, _YR, _PR),
    ("AUC", {"multi_label": True}, _YB, _PB), ("AUC", {"multi_label": True, "curve": "PR"}, _YB, _PB),
    ("AUC", {"multi_label": True, "num_labels": 4, "label_weights": [1.0, 2.0, 0.5, 1.0]}, _YB, _PB),
]


@pytest.mark.parametrize("name,kw,yt,yp", MET_CASES, ids=["%s-%d" % (c[0], i) for i, c in enumerate(MET_CASES)])
@pytest.mark.parametrize("weighted", [False, True])
def test_metric_values_match_keras(name, kw, yt, yp, weighted):
    mk, mp = getattr(K.metrics, name)(**kw), getattr(P.metrics, name)(**kw)
    for sl in (slice(0, 4), slice(4, None)):
        w = _SW[sl] if weighted else None
        mk.update_state(yt[sl], yp[sl], sample_weight=w)
        mp.update_state(yt[sl], yp[sl], sample_weight=w)
    assert _close(K.ops.convert_to_numpy(mk.result()), mp.result(), 1e-5)
    assert set(mk.get_config()) == set(mp.get_config())


_W0 = [np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32),
       np.random.default_rng(1).normal(size=(4,)).astype(np.float32)]
_GS = [[np.random.default_rng(10 + i).normal(size=w.shape).astype(np.float32) * 3 for w in _W0] for i in range(5)]
OPT_CASES = [("SGD", {}), ("SGD", dict(momentum=0.9, nesterov=True)), ("Adam", dict(amsgrad=True)),
             ("Adam", dict(weight_decay=0.1)), ("AdamW", {}), ("Adamax", {}), ("Nadam", {}),
             ("Adadelta", dict(learning_rate=1.0)), ("RMSprop", dict(momentum=0.5, centered=True)), ("Adagrad", {}),
             ("Lion", {}), ("Ftrl", {}),
             ("Ftrl", dict(learning_rate=0.1, l1_regularization_strength=0.01, l2_regularization_strength=0.02,
                           l2_shrinkage_regularization_strength=0.01, beta=0.1, learning_rate_power=-0.7)),
             ("Adam", dict(use_ema=True, ema_momentum=0.5)),
             ("SGD", dict(use_ema=True, ema_overwrite_frequency=2, momentum=0.9)),
             ("Adam", dict(gradient_accumulation_steps=2, weight_decay=0.1)),
             ("SGD", dict(gradient_accumulation_steps=3, use_ema=True, clipnorm=1.0)),
             ("SGD", dict(loss_scale_factor=128.0)),
             ("SGD", dict(clipnorm=1.0)), ("SGD", dict(clipvalue=0.5)), ("SGD", dict(global_clipnorm=1.0)),
             ("SGD", dict(learning_rate=("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=2,
                                                                  decay_rate=0.5, staircase=True)))),
             ("Adam", dict(learning_rate=("CosineDecay", dict(initial_learning_rate=0.01, decay_steps=3,
                                                              warmup_target=0.1, warmup_steps=2)))),
             ("SGD", dict(learning_rate=("PiecewiseConstantDecay", dict(boundaries=[1, 3], values=[0.1, 0.05, 0.01])))),
             ("SGD", dict(learning_rate=("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=2,
                                                                  decay_rate=0.5)))),
             ("SGD", dict(learning_rate=("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=2,
                                                                 cycle=True)))),
             ("SGD", dict(learning_rate=("CosineDecayRestarts", dict(initial_learning_rate=0.1,
                                                                     first_decay_steps=2))))]


def _opt(M, name, kw):
    kw = dict(kw)
    if isinstance(kw.get("learning_rate"), tuple):
        sname, skw = kw["learning_rate"]
        kw["learning_rate"] = getattr(M.optimizers.schedules, sname)(**skw)
    return getattr(M.optimizers, name)(**kw)


@pytest.mark.parametrize("name,kw", OPT_CASES, ids=["%s-%d" % (c[0], i) for i, c in enumerate(OPT_CASES)])
def test_optimizer_steps_match_keras(name, kw):
    ok, op = _opt(K, name, kw), _opt(P, name, kw)
    vk = [K.Variable(w.copy()) for w in _W0]
    vp = [ag.Variable(_C.tensor(w.copy()), name="v%d" % i) for i, w in enumerate(_W0)]
    for g in _GS:
        ok.apply([K.ops.convert_to_tensor(x) for x in g], vk)
        op.apply([_C.tensor(x) for x in g], vp)
    for a, b in zip(vk, vp):
        assert np.allclose(K.ops.convert_to_numpy(a), b.numpy(), rtol=1e-5, atol=1e-6)
    assert int(np.asarray(ok.iterations)) == int(op.iterations)
    assert abs(float(np.asarray(ok.learning_rate)) - float(op.learning_rate)) < 1e-7
    ck, cp = ok.get_config(), op.get_config()
    assert set(ck) == set(cp)


ES_CASES = [dict(), dict(monitor="loss", patience=2), dict(monitor="val_accuracy", patience=1),
            dict(min_delta=0.05, patience=1), dict(baseline=0.1, patience=2),
            dict(patience=1, restore_best_weights=True),
            dict(patience=2, baseline=0.01, restore_best_weights=True),
            dict(monitor="loss", patience=0, start_from_epoch=3), dict(monitor="loss", patience=1, mode="max")]


@pytest.mark.parametrize("kw", ES_CASES)
def test_early_stopping_matches_keras(kw):
    x, y = _data(40)
    res = []
    for M in (K, P):
        k, p = _pair()
        m = k if M is K else p
        m.compile(optimizer=M.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        es = M.callbacks.EarlyStopping(**kw)
        h = m.fit(x, y, batch_size=8, epochs=6, verbose=0, shuffle=False, validation_split=0.25, callbacks=[es])
        res.append((h.epoch, es.stopped_epoch, es.wait, es.best_epoch, float(es.best), m.get_weights()[-1]))
    a, b = res
    assert a[:4] == b[:4] and _close(a[4], b[4]) and _close(a[5], b[5])


@pytest.mark.parametrize("kw", [dict(monitor="loss", patience=1, factor=0.5, mode="max"),
                                dict(monitor="loss", patience=0, factor=0.5, mode="max", cooldown=1, min_lr=0.1),
                                dict(patience=1, factor=0.5, min_delta=0.5)])
def test_reduce_lr_on_plateau_matches_keras(kw):
    x, y = _data(40)
    res = []
    for M in (K, P):
        k, p = _pair()
        m = k if M is K else p
        m.compile(optimizer=M.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
        cb = M.callbacks.ReduceLROnPlateau(**kw)
        h = m.fit(x, y, batch_size=8, epochs=6, verbose=0, shuffle=False, validation_split=0.25, callbacks=[cb])
        res.append((h.history["learning_rate"], cb.wait, cb.cooldown_counter))
    assert _close(res[0][0], res[1][0]) and res[0][1:] == res[1][1:]


@pytest.mark.parametrize("kw", [dict(filepath="m-{epoch:02d}-{val_loss:.2f}.keras"),
                                dict(filepath="w-{epoch:02d}.weights.h5", save_weights_only=True),
                                dict(filepath="best.keras", save_best_only=True, monitor="val_accuracy"),
                                dict(filepath="w.h5", save_weights_only=True), dict(filepath="dir_{epoch}"),
                                dict(filepath="x{epoch}-{batch}.weights.h5", save_freq=3, save_weights_only=True)])
def test_model_checkpoint_files_match_keras(kw):
    x, y = _data(40)
    out = []
    for M in (K, P):
        d = tempfile.mkdtemp()
        k, p = _pair()
        m = k if M is K else p
        m.compile(optimizer=M.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        try:
            m.fit(x, y, batch_size=8, epochs=3, verbose=0, shuffle=False, validation_split=0.25,
                  callbacks=[M.callbacks.ModelCheckpoint(**dict(kw, filepath=os.path.join(d, kw["filepath"])))])
            out.append(sorted(os.listdir(d)))
        except ValueError:
            out.append("ValueError")
    assert out[0] == out[1]


def test_csv_logger_columns_match_keras():
    x, y = _data(40)
    out = []
    for M in (K, P):
        f = os.path.join(tempfile.mkdtemp(), "log.csv")
        k, p = _pair()
        m = k if M is K else p
        m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        m.fit(x, y, batch_size=8, verbose=0, epochs=1, callbacks=[M.callbacks.CSVLogger(f)])
        m.fit(x, y, batch_size=8, verbose=0, epochs=1, validation_split=0.2,
              callbacks=[M.callbacks.CSVLogger(f, append=True)])
        out.append([line.split(",")[:1] + [c if not c[:1].isdigit() else "num" for c in line.split(",")[1:]]
                    for line in open(f).read().splitlines()])
    assert out[0] == out[1]


@pytest.mark.parametrize("loss,out", [("sparse_categorical_crossentropy", 3), ("mse", 2), ("IGNORE", 3)])
@pytest.mark.parametrize("temporal", [False, True])
def test_sequence_outputs_match_keras(loss, out, temporal):
    """(N, T, C) outputs: per-timestep losses, ignore_class, and (N, T) temporal sample weights."""
    if loss == "IGNORE" and temporal:
        pytest.skip("covered by the two others")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 5, 4)).astype(np.float32)
    y = rng.integers(0, 3, (12, 5)) if out == 3 else rng.normal(size=(12, 5, 2)).astype(np.float32)
    sw = rng.random((12, 5)).astype(np.float32) if temporal else None
    res = []
    for M in (K, P):
        m = M.Sequential([M.Input((5, 4)), M.layers.Dense(out, activation="softmax" if out == 3 else None)])
        m.set_weights([np.random.default_rng(1).normal(size=w.shape).astype(np.float32) for w in m.get_weights()])
        lo = M.losses.SparseCategoricalCrossentropy(ignore_class=1) if loss == "IGNORE" else loss
        m.compile("sgd", lo, weighted_metrics=["accuracy" if out == 3 else "mae"])
        h = m.fit(x, y, epochs=2, batch_size=5, verbose=0, shuffle=False, sample_weight=sw)
        res.append((h.history, m.evaluate(x, y, sample_weight=sw, verbose=0), m.get_weights()[0]))
    (hk, ek, wk), (hp, ep, wp) = res
    assert sorted(hk) == sorted(hp) and all(_close(hk[n], hp[n]) for n in hk)
    assert _close(ek, ep) and _close(wk, wp)


@pytest.mark.parametrize("which", ["two_args", "one_arg", "float32"])
def test_learning_rate_scheduler_matches_keras(which):
    sched = {"two_args": lambda e, lr: lr * 0.5 if e > 0 else lr, "one_arg": lambda e: 0.1 / (e + 1),
             "float32": lambda e, lr: np.float32(0.05)}[which]
    x, y = _data(40)
    hs = []
    for M in (K, P):
        k, p = _pair()
        m = k if M is K else p
        m.compile(M.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
        hs.append(m.fit(x, y, epochs=3, batch_size=8, verbose=0, shuffle=False,
                        callbacks=[M.callbacks.LearningRateScheduler(sched)]).history)
    assert sorted(hs[0]) == sorted(hs[1]) and all(_close(hs[0][n], hs[1][n]) for n in hs[0])


_R2 = np.random.default_rng(0)
_SI, _SP = _R2.integers(0, 4, (6, 5)), _R2.integers(0, 4, (6, 5))
_SPR = _R2.random((6, 5, 4)).astype(np.float32)
_SOH = np.eye(4, dtype=np.float32)[_SI]
_SSW = _R2.integers(0, 3, (6, 5)).astype(np.float32)
_SB, _SPB = (_R2.random((6, 5)) > 0.5).astype(np.float32), _R2.random((6, 5)).astype(np.float32)
IOU_CASES = [("MeanIoU", (4,), {}, _SI, _SP), ("MeanIoU", (4,), {"ignore_class": 2}, _SI, _SP),
             ("MeanIoU", (5,), {}, _SI, _SP), ("MeanIoU", (4,), {"sparse_y_pred": False}, _SI, _SPR),
             ("IoU", (4, [0, 2]), {}, _SI, _SP), ("BinaryIoU", (), {}, _SB, _SPB),
             ("BinaryIoU", ([1],), {"threshold": 0.3}, _SB, _SPB), ("OneHotIoU", (4, [1, 3]), {}, _SOH, _SPR),
             ("OneHotMeanIoU", (4,), {}, _SOH, _SPR), ("MeanIoU", (4,), {"dtype": "float32"}, _SI, _SP)]


@pytest.mark.parametrize("name,args,kw,yt,yp", IOU_CASES, ids=["%s-%d" % (c[0], i) for i, c in enumerate(IOU_CASES)])
@pytest.mark.parametrize("w", [None, 1.0, 0.5])
def test_iou_metrics_match_keras(name, args, kw, yt, yp, w):
    """Keras's default int32 dtype truncates predictions and weights (0.5 -> 0); so do we."""
    sw = None if w is None else _SSW * w
    mk, mp = getattr(K.metrics, name)(*args, **kw), getattr(P.metrics, name)(*args, **kw)
    for sl in (slice(0, 3), slice(3, 6)):
        mk.update_state(yt[sl], yp[sl], sample_weight=None if sw is None else sw[sl])
        mp.update_state(yt[sl], yp[sl], sample_weight=None if sw is None else sw[sl])
    assert _close(K.ops.convert_to_numpy(mk.result()), mp.result(), 1e-5)
    assert set(mk.get_config()) == set(mp.get_config())
