"""Differential audit of pyconvnet's recurrent layers against Keras 3 (torch backend):
SimpleRNN, LSTM, GRU, Bidirectional, TimeDistributed with identical weights (set_weights),
comparing outputs, states, gradients (torch autograd through the Keras layer vs our tape),
one SGD step of a tiny model, stateful behaviour, masks, dropout statistics, configs,
save/load and parameter counts. Skips where Keras is not installed (CI); the regression
tests for every difference found live in test_keras_rnn_regress.py.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")
import numpy as np  # noqa: E402
import pytest  # noqa: E402

K = pytest.importorskip("keras")
torch = pytest.importorskip("torch")
if K.backend.backend() != "torch":
    pytest.skip("needs KERAS_BACKEND=torch", allow_module_level=True)

import pyconvnet as P  # noqa: E402
from pyconvnet import autograd as ag  # noqa: E402

ATOL = 2e-6


def knp(v):
    return [K.ops.convert_to_numpy(a) for a in v] if isinstance(v, (list, tuple)) else [K.ops.convert_to_numpy(v)]


def pnp(v):
    return [np.asarray(a) for a in v] if isinstance(v, (list, tuple)) else [np.asarray(v)]


def pair(kind, shape, **kw):
    kl = getattr(K.layers, kind)(**kw)
    kl.build(shape)
    pl = getattr(P.layers, kind)(**kw)
    pl.build(shape)
    pl.set_weights(kl.get_weights())
    return kl, pl


def assert_all_close(ka, pa, atol=ATOL):
    assert len(ka) == len(pa)
    for a, b in zip(ka, pa):
        assert a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=atol)


FWD = []
for _kind in ("SimpleRNN", "LSTM", "GRU"):
    FWD += [(_kind, dict()), (_kind, dict(return_sequences=True)), (_kind, dict(return_state=True)),
            (_kind, dict(go_backwards=True)), (_kind, dict(go_backwards=True, return_sequences=True,
                                                           return_state=True)),
            (_kind, dict(use_bias=False, return_sequences=True)), (_kind, dict(unroll=True, return_sequences=True)),
            (_kind, dict(activation="relu", return_sequences=True)),
            (_kind, dict(activation="sigmoid", return_sequences=True)),
            (_kind, dict(activation=None, return_sequences=True))]
    if _kind != "SimpleRNN":
        FWD += [(_kind, dict(recurrent_activation="hard_sigmoid", return_sequences=True)),
                (_kind, dict(recurrent_activation="relu", activation="sigmoid", return_state=True)),
                (_kind, dict(implementation=1, use_cudnn=False))]
FWD += [("GRU", dict(reset_after=False, return_sequences=True, return_state=True)),
        ("GRU", dict(reset_after=False, activation="relu", go_backwards=True)),
        ("LSTM", dict(unit_forget_bias=False))]


@pytest.mark.parametrize("shape", [(2, 5, 3), (1, 1, 2)])
@pytest.mark.parametrize("kind,kw", FWD)
def test_forward_matches_keras(kind, kw, shape):
    kl, pl = pair(kind, shape, units=4, **kw)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    assert_all_close(knp(kl(x)), pnp(pl(x)))


def _grad_case(kind, kw, shape=(2, 5, 3), mask=None, init=False, seed=1):
    rng = np.random.default_rng(seed)
    kl, pl = pair(kind, shape, units=4, **kw)
    x = rng.standard_normal(shape).astype(np.float32)
    ns = 2 if kind == "LSTM" else 1
    st = [rng.standard_normal((shape[0], 4)).astype(np.float32) for _ in range(ns)] if init else None
    xt = torch.tensor(x, requires_grad=True)
    stt = [torch.tensor(s, requires_grad=True) for s in st] if init else None
    margs = dict(mask=torch.tensor(mask)) if mask is not None else {}
    ky = kl(xt, initial_state=stt, **margs)
    ky = list(ky) if isinstance(ky, (list, tuple)) else [ky]
    ws = [rng.standard_normal(tuple(a.shape)).astype(np.float32) for a in ky]
    sum((a * torch.tensor(w)).sum() for a, w in zip(ky, ws)).backward()
    kg = [xt.grad.numpy()] + [v.value.grad.numpy() for v in kl.trainable_weights] + \
         ([s.grad.numpy() for s in stt] if init else [])
    xe = ag.EagerTensor(P.tensor(x))
    ste = [ag.EagerTensor(P.tensor(s)) for s in st] if init else None
    with ag.GradientTape() as tape:
        tape.watch(xe)
        for s in ste or []:
            tape.watch(s)
        py = pl(xe, initial_state=ste, **(dict(mask=mask) if mask is not None else {}))
        py = list(py) if isinstance(py, (list, tuple)) else [py]
        loss = None
        for a, w in zip(py, ws):
            t = ag.reduce("sum", ag.multiply(a, w))
            loss = t if loss is None else ag.add(loss, t)
    pg = tape.gradient(loss, [xe] + list(pl.trainable_weights) + (ste or []))
    assert_all_close([K.ops.convert_to_numpy(a) for a in ky], pnp(py))
    for a, b in zip(kg, pg):
        np.testing.assert_allclose(np.asarray(b), a, rtol=1e-4, atol=1e-5)


MASK = np.array([[1, 1, 0, 1, 0], [0, 1, 1, 1, 1]], bool)
GRAD = []
for _kind in ("SimpleRNN", "LSTM", "GRU"):
    GRAD += [(_kind, dict(return_sequences=True), None, False), (_kind, dict(go_backwards=True), None, True),
             (_kind, dict(return_state=True), None, False),
             (_kind, dict(activation="sigmoid", return_sequences=True), None, True),
             (_kind, dict(return_sequences=True), MASK, True), (_kind, dict(return_state=True), MASK, False),
             (_kind, dict(return_sequences=True, go_backwards=True), MASK, False),
             (_kind, dict(return_sequences=True, zero_output_for_mask=True), MASK, True)]
GRAD += [("GRU", dict(reset_after=False, return_sequences=True), None, True),
         ("GRU", dict(reset_after=False, return_sequences=True), MASK, False)]


@pytest.mark.parametrize("kind,kw,mask,init", GRAD)
def test_gradients_match_torch_autograd_through_keras(kind, kw, mask, init):
    _grad_case(kind, kw, mask=mask, init=init)


def test_batch1_t1_gradients():
    _grad_case("LSTM", dict(return_sequences=True), shape=(1, 1, 2), init=True)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("kind,kw", [("LSTM", dict()), ("GRU", dict(return_sequences=True, return_state=True)),
                                     ("LSTM", dict(return_sequences=True, return_state=True))])
def test_bidirectional_matches_keras(kind, kw, merge_mode):
    x = np.random.default_rng(2).standard_normal((2, 5, 3)).astype(np.float32)
    kb = K.layers.Bidirectional(getattr(K.layers, kind)(4, name="rnn", **kw), merge_mode=merge_mode)
    ky = knp(kb(x))
    pb = P.layers.Bidirectional(getattr(P.layers, kind)(4, name="rnn", **kw), merge_mode=merge_mode)
    pb.build(x.shape)
    pb.set_weights(kb.get_weights())
    assert_all_close(ky, pnp(pb(x)))
    assert [w.path.split("/")[-1] for w in pb.weights] == [w.path.split("/")[-1] for w in kb.weights]
    assert (pb.forward_layer.name, pb.backward_layer.name) == (kb.forward_layer.name, kb.backward_layer.name)


def test_bidirectional_initial_state_mask_and_backward_layer():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    st = [rng.standard_normal((2, 4)).astype(np.float32) for _ in range(4)]
    kb = K.layers.Bidirectional(K.layers.LSTM(4, return_sequences=True, return_state=True),
                                backward_layer=K.layers.LSTM(4, return_sequences=True, return_state=True,
                                                             go_backwards=True, activation="relu"))
    ky = knp(kb(x, initial_state=[torch.tensor(s) for s in st], mask=torch.tensor(MASK)))
    pb = P.layers.Bidirectional(P.layers.LSTM(4, return_sequences=True, return_state=True),
                                backward_layer=P.layers.LSTM(4, return_sequences=True, return_state=True,
                                                             go_backwards=True, activation="relu"))
    pb.build(x.shape)
    pb.set_weights(kb.get_weights())
    assert_all_close(ky, pnp(pb(x, initial_state=st, mask=MASK)))
    kc, pc = kb.get_config(), pb.get_config()
    assert set(kc) - {"dtype"} <= set(pc)
    assert pc["backward_layer"]["config"]["activation"] == "relu"


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
def test_stateful_predict_reset_and_states(kind):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 5, 3)).astype(np.float32)

    def build(L):
        i = L.Input(batch_shape=(2, 5, 3))
        return L.Model(i, L.layers.Dense(2)(getattr(L.layers, kind)(4, stateful=True)(i)))
    km, pm = build(K), build(P)
    pm.set_weights(km.get_weights())
    assert len(km.weights) == len(pm.weights)
    for _ in range(2):  # the second predict starts from the carried states
        np.testing.assert_allclose(pm.predict(x, batch_size=2, verbose=0),
                                   knp(km.predict(x, batch_size=2, verbose=0))[0], atol=ATOL)
    for s, t in zip(pm.layers[1].states, km.layers[1].states):
        np.testing.assert_allclose(np.asarray(s), K.ops.convert_to_numpy(t), atol=ATOL)
    km.layers[1].reset_states()
    pm.layers[1].reset_states()
    np.testing.assert_allclose(pm.predict(x[:2], batch_size=2, verbose=0),
                               knp(km.predict(x[:2], batch_size=2, verbose=0))[0], atol=ATOL)
    with pytest.raises(ValueError):
        km.predict(x[:3], batch_size=3, verbose=0)
    with pytest.raises(ValueError, match="stateful"):
        pm.predict(x[:3], batch_size=3, verbose=0)


def test_stateful_fit_simple_rnn_matches():
    """(Keras 3.15 torch raises an in-place autograd error fitting stateful LSTM/GRU, so the
    fit comparison is SimpleRNN only.)"""
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((4, 5, 3)).astype(np.float32), rng.standard_normal((4, 2)).astype(np.float32)

    def build(L):
        i = L.Input(batch_shape=(2, 5, 3))
        return L.Model(i, L.layers.Dense(2)(L.layers.SimpleRNN(4, stateful=True)(i)))
    km, pm = build(K), build(P)
    pm.set_weights(km.get_weights())
    km.compile("sgd", "mse")
    pm.compile("sgd", "mse")
    hk = km.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0).history["loss"]
    hp = pm.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(hp, hk, rtol=1e-5)
    for a, b in zip(km.get_weights(), pm.get_weights()):
        np.testing.assert_allclose(b, a, atol=1e-6)


def test_stateful_sequential_without_input_like_keras():
    """Keras builds a stateful RNN at the first batch of a Sequential without Input (and
    refuses a symbolic Input((T, F)), which pyconvnet accepts: states sized at first call)."""
    x = np.random.default_rng(0).standard_normal((4, 5, 3)).astype(np.float32)
    km = K.Sequential([K.layers.LSTM(4, stateful=True), K.layers.Dense(1)])
    pm = P.Sequential([P.layers.LSTM(4, stateful=True), P.layers.Dense(1)])
    ky = K.ops.convert_to_numpy(km.predict(x, batch_size=2, verbose=0))
    pm.predict(x, batch_size=2, verbose=0)  # builds it
    pm.set_weights(km.get_weights())
    pm.layers[0].reset_states()
    np.testing.assert_allclose(pm.predict(x, batch_size=2, verbose=0), ky, atol=ATOL)
    for m in (km, pm):
        with pytest.raises(ValueError):
            m.predict(x, batch_size=4, verbose=0)


def _model(L, time=None):
    i = L.Input((time, 3))
    h = L.layers.Bidirectional(L.layers.LSTM(4, return_sequences=True, kernel_regularizer=L.regularizers.L2(0.01),
                                             recurrent_dropout=0.0), merge_mode="sum")(i)
    h = L.layers.GRU(3, reset_after=False, return_sequences=True, recurrent_activation="hard_sigmoid",
                     bias_regularizer="l1")(h)
    h = L.layers.TimeDistributed(L.layers.Dense(2))(h)
    h = L.layers.SimpleRNN(2, activation="relu", go_backwards=True)(h)
    return L.Model(i, h)


def test_model_predict_params_losses_sgd_step_and_save(tmp_path):
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((4, 5, 3)).astype(np.float32), rng.standard_normal((4, 2)).astype(np.float32)
    km, pm = _model(K), _model(P)
    pm.set_weights(km.get_weights())
    np.testing.assert_allclose(pm.predict(x, verbose=0), knp(km.predict(x, verbose=0))[0], atol=ATOL)
    assert pm.count_params() == km.count_params()
    assert [l.count_params() for l in pm.layers] == [l.count_params() for l in km.layers]
    np.testing.assert_allclose([float(np.asarray(v.numpy())) for v in pm.losses],
                               [float(K.ops.convert_to_numpy(v)) for v in km.losses], rtol=1e-5)
    # one SGD step: the regularized loss and the updated weights
    for m in (km, pm):
        m.compile(optimizer=(K if m is km else P).optimizers.SGD(0.1), loss="mse")
    lk = km.train_on_batch(x, y)
    lp = pm.train_on_batch(x, y)
    np.testing.assert_allclose(np.ravel(lp)[0], np.ravel(lk)[0], rtol=1e-5)
    for a, b in zip(km.get_weights(), pm.get_weights()):
        np.testing.assert_allclose(b, a, atol=1e-6)
    pm.save(str(tmp_path / "m.keras"))
    pm2 = P.models.load_model(str(tmp_path / "m.keras"))
    np.testing.assert_allclose(pm2.predict(x, verbose=0), pm.predict(x, verbose=0), atol=0)
    assert pm2.layers[2].reset_after is False and pm2.layers[1].forward_layer.kernel_regularizer.l2 == 0.01


@pytest.mark.parametrize("kind,kw", [("SimpleRNN", dict(dropout=0.3, recurrent_dropout=0.4)),
                                     ("LSTM", dict(dropout=0.3, recurrent_dropout=0.4, unit_forget_bias=False)),
                                     ("GRU", dict(dropout=0.3, recurrent_dropout=0.4)),
                                     ("LSTM", dict(dropout=0.3))])
def test_config_keys_match_keras(kind, kw):
    kc = getattr(K.layers, kind)(3, **kw).get_config()
    pc = getattr(P.layers, kind)(3, **kw).get_config()
    assert set(pc) == set(kc)
    for k in kc:
        if k in ("name", "dtype") or k.endswith("_initializer"):
            continue
        assert pc[k] == kc[k], k


def test_dropout_statistics_match_keras():
    """Input dropout through W = I, R = 0, linear, x = 1: per-sequence mask (constant over
    time) with rate p, in both libraries; inference is untouched."""
    p, n, u = 0.3, 300, 6
    x = np.ones((n, 4, u), np.float32)
    w = [np.eye(u, dtype=np.float32), np.zeros((u, u), np.float32)]
    outs = []
    for L in (K, P):
        layer = L.layers.SimpleRNN(u, activation=None, use_bias=False, dropout=p, return_sequences=True)
        layer.build(x.shape)
        layer.set_weights(w)
        y = (knp if L is K else pnp)(layer(x, training=True))[0]
        yi = (knp if L is K else pnp)(layer(x, training=False))[0]
        np.testing.assert_allclose(yi, x, atol=1e-6)
        assert np.all(y == y[:, :1])
        outs.append((y[:, 0] == 0).mean())
    assert abs(outs[0] - p) < 0.04 and abs(outs[1] - p) < 0.04


def test_orthogonal_recurrent_initializer_statistics():
    for kind, g in (("SimpleRNN", 1), ("LSTM", 4), ("GRU", 3)):
        r = getattr(P.layers, kind)(5)
        r.build((1, 2, 3))
        rk = r.get_weights()[1].astype(np.float64)
        assert rk.shape == (5, 5 * g)
        np.testing.assert_allclose(rk @ rk.T, np.eye(5), atol=1e-5)  # rows orthonormal, as Keras
        kr = getattr(K.layers, kind)(5)
        kr.build((1, 2, 3))
        krk = K.ops.convert_to_numpy(kr.weights[1]).astype(np.float64)
        np.testing.assert_allclose(krk @ krk.T, np.eye(5), atol=1e-5)


def test_lstm_unit_forget_bias_init_matches_keras():
    kl, pl = K.layers.LSTM(3), P.layers.LSTM(3)
    kl.build((1, 2, 2))
    pl.build((1, 2, 2))
    np.testing.assert_array_equal(pl.get_weights()[2], K.ops.convert_to_numpy(kl.weights[2]))


def test_time_distributed_dense_and_conv2d():
    rng = np.random.default_rng(7)
    for inner, shape in ((lambda L: L.layers.Dense(3), (2, 4, 5)),
                         (lambda L: L.layers.Conv2D(4, 3, padding="same"), (2, 3, 6, 6, 2))):
        x = rng.standard_normal(shape).astype(np.float32)
        kt, pt = K.layers.TimeDistributed(inner(K)), P.layers.TimeDistributed(inner(P))
        ky = knp(kt(x))[0]
        pt.build(x.shape)
        pt.set_weights(kt.get_weights())
        np.testing.assert_allclose(pnp(pt(x))[0], ky, atol=1e-5)
        ks = K.layers.TimeDistributed(inner(K))(K.Input((None,) + shape[2:])).shape
        ps = P.layers.TimeDistributed(inner(P))(P.Input((None,) + shape[2:])).shape
        assert tuple(ks) == tuple(ps)


def test_errors_match_keras():
    for L in (K, P):
        with pytest.raises(ValueError):
            L.layers.SimpleRNN(3, recurrent_activation="sigmoid")
        with pytest.raises(ValueError):
            L.layers.LSTM(3, use_cudnn="yes")
        with pytest.raises(ValueError):
            L.layers.Bidirectional(L.layers.GRU(2), backward_layer=L.layers.GRU(2))
        with pytest.raises(ValueError):
            L.layers.Bidirectional(L.layers.GRU(2), merge_mode="max")
    # accepted by Keras, but pyconvnet has nowhere to apply them: refuse loudly
    with pytest.raises(NotImplementedError, match="LSTM.*kernel_constraint"):
        P.layers.LSTM(3, kernel_constraint="non_neg")
    with pytest.raises(NotImplementedError, match="GRU.*activity_regularizer"):
        P.layers.GRU(3, activity_regularizer="l2")


def test_return_types_and_cell_api_match_keras():
    x = np.ones((2, 3, 4), np.float32)
    for kl, pl in ((K.layers.LSTM(2, return_state=True), P.layers.LSTM(2, return_state=True)),
                   (K.layers.Bidirectional(K.layers.GRU(2), merge_mode=None),
                    P.layers.Bidirectional(P.layers.GRU(2), merge_mode=None))):
        a, b = kl(x), pl(x)
        assert type(a) is type(b) and len(a) == len(b)
    kl, pl = K.layers.LSTM(3), P.layers.LSTM(3)
    kl(x)
    pl(x)
    assert pl.cell.units == kl.cell.units and list(pl.cell.state_size) == list(kl.cell.state_size)
    assert [tuple(s.shape) for s in pl.get_initial_state(5)] == [tuple(s.shape) for s in kl.get_initial_state(5)]


def test_time_distributed_batchnorm_training_matches_keras():
    x = (np.random.default_rng(3).standard_normal((4, 3, 5)) * np.arange(1, 4)[None, :, None]).astype(np.float32)
    kt = K.layers.TimeDistributed(K.layers.BatchNormalization())
    kt.build(x.shape)
    pt = P.layers.TimeDistributed(P.layers.BatchNormalization())
    pt.build(x.shape)
    pt.set_weights(kt.get_weights())
    np.testing.assert_allclose(pnp(pt(x, training=True))[0], knp(kt(x, training=True))[0], atol=2e-6)
    for a, b in zip(kt.get_weights(), pt.get_weights()):
        np.testing.assert_allclose(b, a, atol=1e-6)
    np.testing.assert_allclose(pnp(pt(x))[0], knp(kt(x))[0], atol=2e-6)


_TF_SCRIPT = r'''
import os
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, keras as K
import pyconvnet as P
rng = np.random.default_rng(2)
x, y = rng.standard_normal((4, 5, 3)).astype(np.float32), rng.standard_normal((4, 2)).astype(np.float32)
def build(L, kind, bi, kw):
    i = L.Input(batch_shape=(2, 5, 3))
    r = getattr(L.layers, kind)(4, stateful=True, **kw)
    return L.Model(i, L.layers.Dense(2)((L.layers.Bidirectional(r) if bi else r)(i)))
worst = 0.0
for kind, bi, kw in [("LSTM", False, {}), ("GRU", True, {}), ("LSTM", False, {"activation": "relu"}),
                     ("GRU", False, {"reset_after": False})]:
    km, pm = build(K, kind, bi, kw), build(P, kind, bi, kw)
    pm.set_weights(km.get_weights())
    km.compile(K.optimizers.SGD(0.1), "mse")
    pm.compile(P.optimizers.SGD(0.1), "mse")
    hk = km.fit(x, y, batch_size=2, epochs=3, shuffle=False, verbose=0).history["loss"]
    hp = pm.fit(x, y, batch_size=2, epochs=3, shuffle=False, verbose=0).history["loss"]
    worst = max(worst, float(np.max(np.abs(np.array(hk) - hp))))
    worst = max([worst] + [float(np.abs(a - b).max()) for a, b in zip(km.get_weights(), pm.get_weights())])
    d = km.predict(x, batch_size=2, verbose=0) - pm.predict(x, batch_size=2, verbose=0)
    worst = max(worst, float(np.abs(d).max()))
print("WORST", worst)
'''


def test_stateful_fit_lstm_gru_bidirectional_match_keras_tensorflow():
    """Keras 3.15's torch backend cannot fit stateful LSTM/GRU (in-place autograd error), so
    this compares against Keras on TensorFlow in its own interpreter (PCN_TF_PYTHON, default
    /work/venv-tf/bin/python; skipped where absent)."""
    import subprocess
    py = os.environ.get("PCN_TF_PYTHON", "/work/venv-tf/bin/python")
    if not os.path.exists(py):
        pytest.skip("no TensorFlow interpreter at %s" % py)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root, OMP_NUM_THREADS="1")
    r = subprocess.run([py, "-c", _TF_SCRIPT], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    worst = float(r.stdout.split("WORST")[-1])
    assert worst < 1e-5, worst
