"""Regression tests (CI, no Keras needed) for the recurrent-layer differences found by
tests/test_keras_diff_rnn.py against Keras 3.15:

- activations other than the fused kernels' (SimpleRNN sigmoid/linear, LSTM/GRU relu,
  hard_sigmoid, ...) raised NotImplementedError -> step loop on the tape's ops;
- GRU reset_after=False raised -> runs (bias (3u,));
- dropout / recurrent_dropout raised -> per-sequence masks, training only (LSTM/GRU
  implementation=1 and recurrent_dropout: one mask per gate);
- mask= raised -> Keras masking (state carried, previous output or zeros);
- stateful=True raised -> states carried across calls, reset_state(s);
- regularizers were accepted and silently dropped -> reach layer.losses;
- constraints / activity_regularizer were accepted and ignored -> NotImplementedError;
- implementation= / use_cudnn= were TypeErrors; SimpleRNN(recurrent_activation=) was ignored;
- get_config lacked dropout/regularizer/... keys; Bidirectional ignored initial_state, mask,
  weights= and did not serialize backward_layer.

The spec is `step_ref` below: the Keras 3 cells (keras/src/layers/rnn/*.py, torch backend
rnn loop) in float64, with explicit dropout masks.
"""
import numpy as np
import pytest

import pyconvnet as keras
from pyconvnet import autograd as ag
import reference_rnn as ref
from gradcheck import assert_grad_close, numeric_grad
from tolerance import assert_close

L = keras.layers


# ----------------------------------------------------------------------------- reference
def _sig(v):
    return 1.0 / (1.0 + np.exp(-v))


ACTS = {"tanh": np.tanh, "sigmoid": _sig, "relu": lambda v: np.maximum(v, 0.0), None: lambda v: v,
        "linear": lambda v: v, "hard_sigmoid": lambda v: np.clip(v / 6.0 + 0.5, 0.0, 1.0)}  # Keras 3 hard_sigmoid


def step_ref(kind, x, W, R, b, states, act="tanh", ract="sigmoid", go_backwards=False, mask=None,
             zero_output_for_mask=False, reset_after=True, dmasks=None, rmasks=None):
    """Keras 3 RNN over x (N,T,D) in float64. states [h] or [h, c]; mask (N,T) bool;
    dmasks / rmasks: None or a list of 1 or `gates` masks (N,D) / (N,U) (already scaled).
    Returns (outputs (N,T,U) in processing order, last output, final states)."""
    x, W, R = (np.asarray(a, np.float64) for a in (x, W, R))
    N, T, _ = x.shape
    U = R.shape[0]
    G = {"simple": 1, "lstm": 4, "gru": 3}[kind]
    a, ra = ACTS[act], ACTS[ract]
    if b is None:
        b_in, b_rec = np.zeros(G * U), np.zeros(G * U)
    elif kind == "gru" and reset_after:
        b_in, b_rec = np.asarray(b, np.float64)[0], np.asarray(b, np.float64)[1]
    else:
        b_in, b_rec = np.asarray(b, np.float64), np.zeros(G * U)
    h = np.asarray(states[0], np.float64)
    c = np.asarray(states[1], np.float64) if kind == "lstm" else None
    dm = lambda g: 1.0 if dmasks is None else dmasks[g if len(dmasks) > 1 else 0]  # noqa: E731
    rm = lambda g: 1.0 if rmasks is None else rmasks[g if len(rmasks) > 1 else 0]  # noqa: E731
    blk = lambda M, g: M[..., g * U:(g + 1) * U]  # noqa: E731
    prev, outs = np.zeros((N, U)), []
    for t in (range(T - 1, -1, -1) if go_backwards else range(T)):
        xt = x[:, t]
        xg = [(xt * dm(g)) @ blk(W, g) + blk(b_in, g) for g in range(G)]
        rg = lambda g, hh=h: (hh * rm(g)) @ blk(R, g)  # noqa: E731
        cn = None
        if kind == "simple":
            hn = a(xg[0] + rg(0))
        elif kind == "lstm":
            i, f = ra(xg[0] + rg(0)), ra(xg[1] + rg(1))
            cn = f * c + i * a(xg[2] + rg(2))
            hn = ra(xg[3] + rg(3)) * a(cn)
        else:
            z = ra(xg[0] + rg(0) + blk(b_rec, 0))
            r = ra(xg[1] + rg(1) + blk(b_rec, 1))
            if reset_after:
                hh = a(xg[2] + r * (rg(2) + blk(b_rec, 2)))
            else:
                hh = a(xg[2] + (r * h * rm(2)) @ blk(R, 2))
            hn = z * h + (1 - z) * hh
        out = hn
        if mask is not None:
            m = mask[:, t:t + 1].astype(np.float64)
            out = m * hn + (1 - m) * (0.0 if zero_output_for_mask else prev)
            hn = m * hn + (1 - m) * h
            if cn is not None:
                cn = m * cn + (1 - m) * c
        h, c, prev = hn, cn, out
        outs.append(out)
    return np.stack(outs, 1), prev, ([h, c] if kind == "lstm" else [h])


KINDS = {"SimpleRNN": "simple", "LSTM": "lstm", "GRU": "gru"}


def _layer(cls, x, rng, **kw):
    layer = getattr(L, cls)(**kw)
    layer.build(x.shape)
    layer.set_weights([(rng.standard_normal(w.shape) * 0.5).astype(np.float32) for w in layer.get_weights()])
    return layer


def _zeros_states(cls, n, u):
    return [np.zeros((n, u))] * (2 if cls == "LSTM" else 1)


def _call(layer, x, **kw):
    y = layer(x, **kw)
    return [np.asarray(v) for v in y] if isinstance(y, (list, tuple)) else np.asarray(y)


# ----------------------------------------------------------------------------- activations / GRU v1
ACT_CASES = [("SimpleRNN", dict(activation="sigmoid")), ("SimpleRNN", dict(activation=None)),
             ("LSTM", dict(activation="relu")), ("LSTM", dict(recurrent_activation="hard_sigmoid")),
             ("LSTM", dict(activation="sigmoid", recurrent_activation="relu")),
             ("GRU", dict(activation="relu")), ("GRU", dict(recurrent_activation="hard_sigmoid")),
             ("GRU", dict(activation=None, reset_after=False)), ("GRU", dict(reset_after=False)),
             ("GRU", dict(reset_after=False, use_bias=False))]


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("cls,kw", ACT_CASES)
def test_activation_variants_and_gru_v1_match_reference(cls, kw, go_backwards):
    rng = np.random.default_rng(len(cls) + len(str(kw)))
    x = rng.standard_normal((3, 4, 2)).astype(np.float32)
    layer = _layer(cls, x, rng, units=3, return_sequences=True, return_state=True, go_backwards=go_backwards, **kw)
    w = layer.get_weights()
    y = _call(layer, x)
    seq, last, st = step_ref(KINDS[cls], x, w[0], w[1], w[2] if len(w) > 2 else None, _zeros_states(cls, 3, 3),
                             kw.get("activation", "tanh"), kw.get("recurrent_activation", "sigmoid"),
                             go_backwards, reset_after=kw.get("reset_after", True))
    assert_close(y[0], seq, 1e-5, 1e-6)
    for a, r in zip(y[1:], st):
        assert_close(a, r, 1e-5, 1e-6, what="state")


def test_gru_reset_after_false_weights_and_fused_reference():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    g = _layer("GRU", x, rng, units=4, reset_after=False, return_sequences=True)
    assert [w.shape for w in g.get_weights()] == [(3, 12), (4, 12), (12,)]
    assert g.count_params() == 3 * 12 + 4 * 12 + 12
    w = g.get_weights()
    o, _ = ref.gru(x, w[0], w[1], w[2], None, False, reset_after=False)
    assert_close(_call(g, x), o, 1e-5, 1e-6)


# ----------------------------------------------------------------------------- masking
MASK = np.array([[1, 1, 0, 1, 0], [0, 1, 1, 1, 1], [0, 0, 0, 0, 0]], bool)


@pytest.mark.parametrize("zero_out", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("cls", ["SimpleRNN", "LSTM", "GRU"])
def test_mask_matches_keras_semantics(cls, go_backwards, zero_out):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 5, 2)).astype(np.float32)
    layer = _layer(cls, x, rng, units=3, return_sequences=True, return_state=True, go_backwards=go_backwards,
                   zero_output_for_mask=zero_out)
    h0 = [rng.standard_normal((3, 3)).astype(np.float32) for _ in range(2 if cls == "LSTM" else 1)]
    w = layer.get_weights()
    y = _call(layer, x, initial_state=h0, mask=MASK)
    seq, last, st = step_ref(KINDS[cls], x, w[0], w[1], w[2], h0, go_backwards=go_backwards, mask=MASK,
                             zero_output_for_mask=zero_out)
    assert_close(y[0], seq, 1e-5, 1e-6)
    for a, r in zip(y[1:], st):
        assert_close(a, r, 1e-5, 1e-6, what="state")
    # an all-masked row keeps its initial state; the last output (not return_sequences) is the loop's
    assert_close(y[1][2], h0[0][2], 0, 0, what="fully masked state")
    layer.return_sequences = False
    assert_close(_call(layer, x, initial_state=h0, mask=MASK)[0], last, 1e-5, 1e-6, what="last output")


def test_right_padded_mask_equals_truncated_sequence_and_all_true_equals_none():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 6, 2)).astype(np.float32)
    lstm = _layer("LSTM", x, rng, units=3, return_state=True)
    m = np.array([[1, 1, 1, 1, 0, 0]], bool)
    a, b = _call(lstm, x, mask=m), _call(lstm, x[:, :4])
    for u, v in zip(a, b):
        assert_close(u, v, 1e-6, 1e-7)
    for u, v in zip(_call(lstm, x, mask=np.ones((1, 6), bool)), _call(lstm, x)):
        assert_close(u, v, 0, 0)
    with pytest.raises(ValueError, match="lstm.*mask must have shape"):
        lstm(x, mask=np.ones((1, 5), bool))


def test_mask_through_functional_model_input():
    rng = np.random.default_rng(3)
    i, m = keras.Input((5, 3)), keras.Input((5,), dtype="bool")
    model = keras.Model([i, m], L.GRU(4)(i, mask=m))
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    mk = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    y = model.predict([x, mk], verbose=0)
    g = model.layers[-1]
    assert_close(y[0], _call(g, x[:1, :3])[0], 1e-6, 1e-7)
    assert_close(y[1], _call(g, x[1:])[0], 1e-6, 1e-7)


@pytest.mark.parametrize("cls,kw", [("SimpleRNN", dict(activation="sigmoid")), ("LSTM", dict(activation="relu")),
                                    ("GRU", dict(reset_after=False)),
                                    ("GRU", dict(recurrent_activation="hard_sigmoid"))])
def test_step_loop_gradients_against_finite_differences(cls, kw):
    """Backward of the step-loop path (masked, with an initial state) vs central differences
    of the float64 reference, exhaustive on a tiny shape."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 2)).astype(np.float32)
    layer = _layer(cls, x, rng, units=2, return_sequences=True, **kw)
    mask = np.array([[1, 0, 1], [1, 1, 1]], bool)
    ns = 2 if cls == "LSTM" else 1
    h0 = [rng.standard_normal((2, 2)).astype(np.float32) for _ in range(ns)]
    g_out = rng.standard_normal((2, 3, 2))
    ws = layer.get_weights()
    xe, he = ag.EagerTensor(keras.tensor(x)), [ag.EagerTensor(keras.tensor(h)) for h in h0]
    with ag.GradientTape() as tape:
        tape.watch(xe)
        for h in he:
            tape.watch(h)
        y = layer(xe, initial_state=he, mask=mask)
        loss = ag.reduce("sum", ag.multiply(y, g_out.astype(np.float32)))
    grads = tape.gradient(loss, [xe] + list(layer.trainable_weights) + he)

    def f(i):
        def fn(v):
            args = [x] + list(ws) + list(h0)
            args[i] = v
            nw = len(ws)
            return step_ref(KINDS[cls], args[0], args[1], args[2], args[3] if nw > 2 else None, args[1 + nw:],
                            kw.get("activation", "tanh"), kw.get("recurrent_activation", "sigmoid"), mask=mask,
                            reset_after=kw.get("reset_after", True))[0]
        return fn
    for i, (v, g) in enumerate(zip([x] + list(ws) + h0, grads)):
        num = numeric_grad(f(i), np.asarray(v, np.float64), g_out)
        assert_grad_close(np.asarray(g), num, what="%s d[%d]" % (cls, i))


# ----------------------------------------------------------------------------- dropout
@pytest.mark.parametrize("cls", ["SimpleRNN", "LSTM", "GRU"])
def test_dropout_only_in_training(cls):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 5, 3)).astype(np.float32)
    layer = _layer(cls, x, rng, units=3, dropout=0.5, recurrent_dropout=0.5, return_sequences=True)
    plain = getattr(L, cls).from_config(dict(layer.get_config(), dropout=0.0, recurrent_dropout=0.0, name="p"))
    plain.build(x.shape)
    plain.set_weights(layer.get_weights())
    assert_close(_call(layer, x), _call(plain, x), 0, 0, what="inference output")
    assert_close(_call(layer, x, training=False), _call(plain, x), 0, 0)
    assert np.abs(_call(layer, x, training=True) - _call(plain, x)).max() > 1e-3


@pytest.mark.parametrize("cls,kw,count", [("SimpleRNN", dict(dropout=0.3, recurrent_dropout=0.4), 1),
                                          ("LSTM", dict(dropout=0.3), 1),
                                          ("LSTM", dict(dropout=0.3, implementation=1), 4),
                                          ("LSTM", dict(dropout=0.3, recurrent_dropout=0.4), 4),
                                          ("GRU", dict(dropout=0.3, recurrent_dropout=0.4), 3),
                                          ("GRU", dict(dropout=0.3, reset_after=False, activation="relu"), 1)])
def test_dropout_masks_fed_to_the_cell_match_reference(cls, kw, count, monkeypatch):
    """With the masks pinned, the training output is the Keras cell with those masks (one
    mask per sequence; one per gate where Keras uses implementation=1)."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4, 2)).astype(np.float32)
    layer = _layer(cls, x, rng, units=3, return_sequences=True, **kw)
    drawn = {}

    def fake(n, width, rate, cnt, like, shape3):
        ms = [(rng.random((n, width)) >= rate).astype(np.float32) / (1 - rate) for _ in range(cnt)]
        drawn[width] = (ms, cnt)
        return [ag.EagerTensor(keras.tensor(m.reshape(n, 1, width) if shape3 else m)) for m in ms]
    monkeypatch.setattr(layer, "_dropout_masks", fake)
    y = _call(layer, x, training=True)
    w = layer.get_weights()
    assert drawn[2][1] == count
    if kw.get("recurrent_dropout"):
        assert drawn[3][1] == count
    seq, _, _ = step_ref(KINDS[cls], x, w[0], w[1], w[2], _zeros_states(cls, 3, 3), kw.get("activation", "tanh"),
                         reset_after=kw.get("reset_after", True), dmasks=drawn[2][0],
                         rmasks=drawn[3][0] if 3 in drawn else None)
    assert_close(y, seq, 1e-5, 1e-6)


def test_dropout_masks_are_per_sequence_with_the_right_rate():
    """SimpleRNN with W = I, R = 0, linear, x = 1: every output step is the input mask, so
    it must be constant over time, 0 or 1/(1-p), with a fraction p of zeros."""
    p, n, u = 0.3, 400, 8
    layer = L.SimpleRNN(u, activation=None, dropout=p, return_sequences=True, use_bias=False, seed=3)
    layer.build((n, 6, u))
    layer.set_weights([np.eye(u, dtype=np.float32), np.zeros((u, u), np.float32)])
    y = _call(layer, np.ones((n, 6, u), np.float32), training=True)
    assert np.all(y == y[:, :1])
    assert np.all(np.isclose(y, 0.0) | np.isclose(y, 1 / (1 - p), rtol=1e-6))
    assert abs((y[:, 0] == 0).mean() - p) < 0.03
    # recurrent mask: x = 0, R = I, h0 = 1 -> h_t = rm^t, so a dropped unit stays dropped
    layer2 = L.SimpleRNN(u, activation=None, recurrent_dropout=p, return_sequences=True, use_bias=False, seed=4)
    layer2.build((n, 4, u))
    layer2.set_weights([np.zeros((u, u), np.float32), np.eye(u, dtype=np.float32)])
    y2 = _call(layer2, np.zeros((n, 4, u), np.float32), initial_state=[np.ones((n, u), np.float32)], training=True)
    s = 1 / (1 - p)
    kept = y2[:, 0] > 0
    assert abs((~kept).mean() - p) < 0.03
    for t in range(4):
        assert_close(y2[:, t], np.where(kept, s ** (t + 1), 0.0), 1e-5, 0)


def test_dropout_seeded_layers_repeat():
    x = np.random.default_rng(0).standard_normal((2, 4, 3)).astype(np.float32)
    outs = []
    for _ in range(2):
        layer = _layer("GRU", x, np.random.default_rng(1), units=3, dropout=0.5, recurrent_dropout=0.5, seed=9)
        outs.append(_call(layer, x, training=True))
    assert_close(outs[0], outs[1], 0, 0)


# ----------------------------------------------------------------------------- stateful
@pytest.mark.parametrize("cls", ["SimpleRNN", "LSTM", "GRU"])
def test_stateful_carries_states_across_calls(cls):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 6, 3)).astype(np.float32)
    st = _layer(cls, x, rng, units=4, stateful=True, return_sequences=True)
    full = getattr(L, cls).from_config(dict(st.get_config(), stateful=False, name="full"))
    full.build(x.shape)
    full.set_weights(st.get_weights())
    assert len(st.weights) == len(full.weights)  # states are not weights (Keras)
    a, b = _call(st, x[:, :3]), _call(st, x[:, 3:])
    assert_close(np.concatenate([a, b], 1), _call(full, x), 1e-6, 1e-7)
    st.reset_states()
    assert all(np.all(np.asarray(s) == 0) for s in st.states)
    assert_close(_call(st, x[:, :3]), a, 0, 0)
    st.reset_state()
    with pytest.raises(ValueError, match="stateful.*batch size"):
        st(x[:1])


def test_stateful_sequential_without_input_and_model_fit_runs():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5, 3)).astype(np.float32)
    m = keras.Sequential([L.LSTM(4, stateful=True), L.Dense(1)])  # Keras builds it at the first batch
    assert m.predict(x, batch_size=2, verbose=0).shape == (4, 1)
    with pytest.raises(ValueError, match="stateful.*batch size"):
        m.predict(x, batch_size=4, verbose=0)
    i = keras.Input(batch_shape=(2, 5, 2))
    model = keras.Model(i, L.Dense(1)(L.GRU(3, stateful=True)(i)))
    model.compile("sgd", "mse")
    x, y = rng.standard_normal((4, 5, 2)).astype(np.float32), rng.standard_normal((4, 1)).astype(np.float32)
    h = model.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0)
    assert np.all(np.isfinite(h.history["loss"]))
    p1 = model.predict(x[:2], batch_size=2, verbose=0)
    p2 = model.predict(x[:2], batch_size=2, verbose=0)
    assert np.abs(p1 - p2).max() > 1e-6  # the state moved on
    model.layers[1].reset_states()
    model.layers[1].reset_states()


# ----------------------------------------------------------------------------- arguments / config
def test_regularizers_reach_losses():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 2)).astype(np.float32)
    lstm = _layer("LSTM", x, rng, units=3, kernel_regularizer=keras.regularizers.L2(0.1),
                  recurrent_regularizer="l1", bias_regularizer={"class_name": "L1L2", "config": {"l1": 0.2, "l2": 0.3}})
    k, r, b = [w.astype(np.float64) for w in lstm.get_weights()]
    want = [0.1 * (k ** 2).sum(), 0.01 * np.abs(r).sum(), 0.2 * np.abs(b).sum() + 0.3 * (b ** 2).sum()]
    got = [float(np.asarray(v.numpy())) for v in lstm.losses]
    assert_close(np.array(got), np.array(want), 1e-5, 1e-6, what="regularization losses")
    c = lstm.get_config()
    assert c["kernel_regularizer"]["class_name"] == "L2" and c["kernel_regularizer"]["config"] == {"l2": 0.1}
    again = L.LSTM.from_config(c)
    assert again.bias_regularizer.l1 == pytest.approx(0.2) and again.bias_regularizer.l2 == pytest.approx(0.3)


@pytest.mark.parametrize("arg", ["kernel_constraint", "recurrent_constraint", "bias_constraint",
                                 "activity_regularizer"])
@pytest.mark.parametrize("cls", ["SimpleRNN", "LSTM", "GRU"])
def test_unsupported_arguments_raise_not_silently_ignored(cls, arg):
    with pytest.raises(NotImplementedError, match="%s '.*': %s" % (cls, arg)):
        getattr(L, cls)(2, **{arg: "non_neg" if "constraint" in arg else "l2"})


def test_keras_only_keywords():
    for cls in ("LSTM", "GRU"):
        layer = getattr(L, cls)(2, implementation=1, use_cudnn=False)
        assert layer.implementation == 1
        assert getattr(L, cls)(2, recurrent_dropout=0.1).implementation == 1  # Keras forces 1
        with pytest.raises(ValueError, match="use_cudnn"):
            getattr(L, cls)(2, use_cudnn="yes")
    for k in ("recurrent_activation", "implementation", "use_cudnn"):
        with pytest.raises(ValueError, match="SimpleRNN.*%s" % k):
            L.SimpleRNN(2, **{k: 1})
    with pytest.raises(ValueError, match="unroll.*time dimension"):
        L.GRU(2, unroll=True)(keras.Input((None, 3)))


KERAS_KEYS = {"name", "trainable", "dtype", "return_sequences", "return_state", "go_backwards", "stateful",
              "unroll", "zero_output_for_mask", "units", "activation", "use_bias", "kernel_initializer",
              "recurrent_initializer", "bias_initializer", "kernel_regularizer", "recurrent_regularizer",
              "bias_regularizer", "activity_regularizer", "kernel_constraint", "recurrent_constraint",
              "bias_constraint", "dropout", "recurrent_dropout"}
EXTRA = {"SimpleRNN": set(), "LSTM": {"recurrent_activation", "unit_forget_bias", "seed"},
         "GRU": {"recurrent_activation", "reset_after", "seed"}}


@pytest.mark.parametrize("cls", ["SimpleRNN", "LSTM", "GRU"])
def test_get_config_has_keras_keys_and_round_trips(cls):
    layer = getattr(L, cls)(3, dropout=0.25, recurrent_dropout=0.5, go_backwards=True, stateful=True)
    c = layer.get_config()
    assert set(c) == KERAS_KEYS | EXTRA[cls]
    assert c["dropout"] == 0.25 and c["recurrent_dropout"] == 0.5 and c["stateful"] is True
    c2 = getattr(L, cls).from_config(c).get_config()
    assert c2 == c
    assert getattr(L, cls)(3, dropout=1.5).dropout == 1.0  # Keras clips rates to [0, 1]


# ----------------------------------------------------------------------------- Bidirectional
def test_bidirectional_initial_state_mask_and_weights():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 5, 2)).astype(np.float32)
    bi = L.Bidirectional(L.LSTM(3, return_sequences=True, return_state=True), merge_mode=None)
    bi.build(x.shape)
    ws = [(rng.standard_normal(w.shape) * 0.5).astype(np.float32) for w in bi.get_weights()]
    bi.set_weights(ws)
    st = [rng.standard_normal((3, 3)).astype(np.float32) for _ in range(4)]
    y = _call(bi, x, initial_state=st, mask=MASK)
    f_seq, _, f_st = step_ref("lstm", x, ws[0], ws[1], ws[2], st[:2], mask=MASK, zero_output_for_mask=True)
    b_seq, _, b_st = step_ref("lstm", x, ws[3], ws[4], ws[5], st[2:], go_backwards=True, mask=MASK,
                              zero_output_for_mask=True)
    assert len(y) == 6
    assert_close(y[0], f_seq, 1e-5, 1e-6)
    assert_close(y[1], b_seq[:, ::-1], 1e-5, 1e-6)
    for a, r in zip(y[2:], f_st + b_st):
        assert_close(a, r, 1e-5, 1e-6, what="state")
    # weights= is used at build (it was accepted and ignored)
    bi2 = L.Bidirectional(L.LSTM(3, return_sequences=True, return_state=True), merge_mode=None, weights=ws)
    bi2.build(x.shape)
    for a, b in zip(bi2.get_weights(), ws):
        assert_close(a, b, 0, 0)
    with pytest.raises(ValueError, match="expected 4 initial state"):
        bi(x, initial_state=st[:2])


def test_bidirectional_backward_layer_checks_and_config():
    with pytest.raises(ValueError, match="go_backwards"):
        L.Bidirectional(L.GRU(2), backward_layer=L.GRU(2))
    with pytest.raises(ValueError, match="return_sequences"):
        L.Bidirectional(L.GRU(2), backward_layer=L.GRU(2, go_backwards=True, return_sequences=True))
    user = L.GRU(2, name="g")
    bi = L.Bidirectional(user, backward_layer=L.SimpleRNN(3, go_backwards=True, name="b"))
    assert user.name == "g" and bi.forward_layer is not user  # Keras copies the layer
    c = bi.get_config()
    assert c["backward_layer"]["class_name"] == "SimpleRNN"
    bi2 = L.Bidirectional.from_config(c)
    assert type(bi2.backward_layer).__name__ == "SimpleRNN" and bi2.forward_layer.name == "forward_g"
    assert bi2.compute_output_shape((None, 4, 5)) == (None, 5)
    x = np.ones((1, 4, 5), np.float32)
    assert _call(bi2, x).shape == (1, 5)


def test_return_types_and_keras_cell_api():
    """Keras 3 returns tuples for return_state and Bidirectional(merge_mode=None) (we
    returned lists); layer.cell / state_size / get_initial_state exist on Keras' RNNs."""
    x = np.ones((2, 3, 4), np.float32)
    out = L.LSTM(2, return_state=True)(x)
    assert isinstance(out, tuple) and len(out) == 3
    assert isinstance(L.Bidirectional(L.GRU(2), merge_mode=None)(x), tuple)
    out = L.Bidirectional(L.GRU(2, return_state=True), merge_mode=None)(x)
    assert isinstance(out, tuple) and len(out) == 4
    lstm = L.LSTM(3)
    lstm(x)
    assert lstm.cell.units == 3 and lstm.cell.kernel.shape == (4, 12) and lstm.state_size == [3, 3]
    assert [tuple(s.shape) for s in lstm.get_initial_state(5)] == [(5, 3), (5, 3)]
    assert L.GRU(2).state_size == [2] and L.SimpleRNN(2).output_size == 2


def test_time_distributed_batchnorm_uses_per_step_statistics_in_training():
    """Keras' TimeDistributed calls the layer once per time step: BatchNormalization in
    training normalizes each step over the batch and updates its moving averages T times
    (we normalized over batch*time once)."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((4, 3, 5)) * np.arange(1, 4)[None, :, None] + np.arange(3)[None, :, None])
    x = x.astype(np.float32)
    td = L.TimeDistributed(L.BatchNormalization(momentum=0.9, epsilon=1e-3))
    y = _call(td, x, training=True)
    xd = x.astype(np.float64)
    mean, var = xd.mean(0), xd.var(0)  # (T, C)
    assert_close(y, (xd - mean) / np.sqrt(var + 1e-3), 1e-4, 1e-5)
    mm, mv = np.zeros(5), np.ones(5)
    for t in range(3):
        mm, mv = mm * 0.9 + mean[t] * 0.1, mv * 0.9 + var[t] * 0.1
    w = td.get_weights()
    assert_close(w[2], mm, 1e-5, 1e-6, what="moving_mean")
    assert_close(w[3], mv, 1e-5, 1e-6, what="moving_variance")
    # inference stays one batched call on the moving statistics
    assert_close(_call(td, x), (xd - mm) / np.sqrt(mv + 1e-3), 1e-4, 1e-5)
    with pytest.raises(NotImplementedError, match="TimeDistributed.*mask"):
        td(x, mask=np.ones((4, 3), bool))


class _CumSum(keras.layers.Layer):
    """A minimal Keras-style recurrent layer that is not one of ours (like a future RNN(cell))."""

    def __init__(self, units, go_backwards=False, return_sequences=False, return_state=False, **kw):
        super().__init__(**kw)
        self.units, self.go_backwards = units, go_backwards
        self.return_sequences, self.return_state = return_sequences, return_state
        self.state_size = [units]

    def call(self, inputs, initial_state=None, training=None):
        x = np.asarray(inputs.numpy())[:, ::-1] if self.go_backwards else np.asarray(inputs.numpy())
        seq = np.cumsum(x, 1)
        y = seq if self.return_sequences else seq[:, -1]
        return (y, seq[:, -1]) if self.return_state else y

    def compute_output_shape(self, s):
        y = (s[0], s[1], s[2]) if self.return_sequences else (s[0], s[2])
        return [y, (s[0], s[2])] if self.return_state else y

    def get_config(self):
        c = super().get_config()
        c.update(units=self.units, go_backwards=self.go_backwards, return_sequences=self.return_sequences,
                 return_state=self.return_state)
        return c


def test_bidirectional_wraps_any_keras_style_recurrent_layer():
    x = np.arange(12, dtype=np.float32).reshape(1, 4, 3)
    bi = L.Bidirectional(_CumSum(3, return_sequences=True, return_state=True))
    y = _call(bi, x)
    c = np.cumsum(x, 1)
    r = np.cumsum(x[:, ::-1], 1)
    assert_close(y[0], np.concatenate([c, r[:, ::-1]], -1), 0, 0)
    assert_close(y[1], c[:, -1], 0, 0) and assert_close(y[2], r[:, -1], 0, 0)
    assert bi.compute_output_shape((None, 4, 3)) == [(None, 4, 6), (None, 3), (None, 3)]
    with pytest.raises(ValueError, match="expects a recurrent layer"):
        L.Bidirectional(L.Dense(2))


def test_implicit_keras_mask_attribute_is_honoured():
    """Keras layers read the mask an upstream Embedding(mask_zero)/Masking attached to the
    tensor (`_keras_mask`); pyconvnet's mask producers can use the same contract."""
    class Masked(ag.EagerTensor):  # EagerTensor has __slots__; a subclass can carry the attribute
        pass
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    m = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], bool)
    xt = Masked(keras.tensor(x))
    xt._keras_mask = m
    for layer in (L.GRU(3, return_sequences=True), L.Bidirectional(L.LSTM(2, return_sequences=True))):
        layer(x)
        assert_close(np.asarray(layer(xt)), np.asarray(layer(x, mask=m)), 0, 0)
        assert np.abs(np.asarray(layer(xt)) - np.asarray(layer(x))).max() > 1e-4


def test_bidirectional_stateful_states_and_reset():
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    bi = L.Bidirectional(L.GRU(3, stateful=True))
    assert bi.stateful and bi.states is None
    y1 = _call(bi, x)
    assert len(bi.states) == 2 and bi.states[0].shape == (2, 3)
    assert np.abs(_call(bi, x) - y1).max() > 1e-5  # carried
    bi.reset_states()
    assert_close(_call(bi, x), y1, 0, 0)
    with pytest.raises(AttributeError, match="must be stateful"):
        L.Bidirectional(L.GRU(3)).reset_states()
