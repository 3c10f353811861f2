"""Keras's implicit masks: Embedding(mask_zero=True) and Masking attach a mask that layers
supporting masking pass on (Dense, Dropout, activations, normalization, sequence-returning
RNNs) and that RNNs / GlobalAveragePooling1D consume; a layer that does not support masking
drops it with Keras's warning."""
import os
import warnings

import numpy as np
import pytest

import pyconvnet as keras

IDS = np.array([[3, 5, 0, 0, 0], [1, 2, 3, 4, 0], [7, 0, 0, 0, 0]])


def _model(mask_zero):
    keras.utils.set_random_seed(1)
    L = keras.layers
    inp = L.Input((5,), dtype="int32")
    x = L.Embedding(8, 4, mask_zero=mask_zero, name="emb")(inp)
    x = L.Dense(4, activation="tanh", name="d")(x)
    x = L.LSTM(3, return_sequences=True, name="l1")(x)
    x = L.GRU(2, name="g")(x)
    return keras.Model(inp, L.Dense(1, name="out")(x))


def test_mask_zero_equals_an_explicit_mask_through_dense():
    masked, plain = _model(True), _model(False)
    plain.set_weights(masked.get_weights())
    got = masked.predict(IDS, verbose=0)
    # the same network with the mask handed to the RNNs by hand
    mask = IDS != 0
    L = {l.name: l for l in plain.layers}
    h = L["d"](L["emb"](IDS))
    h = L["l1"](h, mask=mask)
    h = L["g"](h, mask=mask)
    np.testing.assert_allclose(got, L["out"](h), rtol=1e-6, atol=1e-7)
    assert not np.allclose(got, plain.predict(IDS, verbose=0))  # the mask matters
    assert masked.get_layer("emb").compute_mask(IDS).tolist() == mask.tolist()
    cfg = masked.get_layer("emb").get_config()
    assert cfg["mask_zero"] is True and keras.layers.Embedding.from_config(cfg).mask_zero


def test_last_step_rnn_consumes_the_mask_and_unsupported_layers_warn():
    emb = keras.layers.Embedding(8, 4, mask_zero=True)
    y = emb(keras.ops.convert_to_tensor(IDS, dtype="int32"))
    assert getattr(y, "_keras_mask", None) is not None
    seq = keras.layers.SimpleRNN(3, return_sequences=True)(y)
    assert getattr(seq, "_keras_mask", None) is not None
    last = keras.layers.SimpleRNN(3)(y)
    assert getattr(last, "_keras_mask", None) is None
    pooled = keras.layers.GlobalAveragePooling1D()(y)
    assert getattr(pooled, "_keras_mask", None) is None
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = keras.layers.Conv1D(2, 2)(y)
    assert getattr(out, "_keras_mask", None) is None
    assert any("does not support masking" in str(x.message) for x in w)


def test_masking_matches_keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    k3 = pytest.importorskip("keras")
    if k3.backend.backend() != "torch":
        pytest.skip("Keras 3 present but not on the torch backend")

    def build(K):
        L = K.layers
        inp = L.Input((5,), dtype="int32")
        x = L.Embedding(8, 4, mask_zero=True)(inp)
        x = L.Bidirectional(L.LSTM(3, return_sequences=True))(x)
        x = L.Dense(3, activation="relu")(x)
        x = L.GRU(2)(x)
        return K.Model(inp, L.Dense(1)(x))
    km, pm = build(k3), build(keras)
    pm.set_weights(km.get_weights())
    np.testing.assert_allclose(pm.predict(IDS, verbose=0), km.predict(IDS, verbose=0), rtol=1e-5, atol=1e-6)
    y = np.array([[0.5], [-1.0], [2.0]], np.float32)
    km.compile(optimizer=k3.optimizers.SGD(0.1), loss="mse")
    pm.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    km.fit(IDS, y, batch_size=3, epochs=2, verbose=0, shuffle=False)
    pm.fit(IDS, y, batch_size=3, epochs=2, verbose=0, shuffle=False)
    for a, b in zip(pm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _tagger(K):
    L = K.layers
    inp = L.Input((5,), dtype="int32")
    x = L.Embedding(9, 4, mask_zero=True)(inp)
    x = L.LSTM(4, return_sequences=True)(x)
    return K.Model(inp, L.Dense(3, activation="softmax")(x))


def test_the_output_mask_weights_the_loss_and_the_metrics():
    # Keras: a masked output's loss and metrics average over the unmasked steps only
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 9, (6, 5))
    ids[0, 3:] = 0
    ids[1, 1:] = 0
    y = rng.integers(0, 3, (6, 5))
    m = _tagger(keras)
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    probs = m.predict(ids, verbose=0).astype(np.float64)
    valid = ids != 0
    ce = -np.log(np.clip(np.take_along_axis(probs, y[..., None], -1)[..., 0], 1e-7, 1.0))
    acc = (probs.argmax(-1) == y)
    loss, accuracy = m.evaluate(ids, y, batch_size=6, verbose=0)
    assert loss == pytest.approx(ce[valid].mean(), rel=1e-5)
    assert accuracy == pytest.approx(acc[valid].mean(), rel=1e-6)
    assert abs(loss - ce.mean()) > 1e-4  # counting the padded steps would change it
    # the gradient sees only the valid steps: a target changed on a padded step changes nothing
    y2 = y.copy()
    y2[~valid] = (y2[~valid] + 1) % 3
    w0 = [w.copy() for w in m.get_weights()]
    m.train_on_batch(ids, y)
    w1 = m.get_weights()
    m.set_weights(w0)
    m.train_on_batch(ids, y2)
    for a, b in zip(w1, m.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_masked_sequence_training_matches_keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    k3 = pytest.importorskip("keras")
    if k3.backend.backend() != "torch":
        pytest.skip("Keras 3 present but not on the torch backend")
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 9, (6, 5))
    ids[0, 3:] = 0
    ids[4, 4:] = 0
    y = rng.integers(0, 3, (6, 5))
    km, pm = _tagger(k3), _tagger(keras)
    pm.set_weights(km.get_weights())
    km.compile(optimizer=k3.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    pm.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hk = km.fit(ids, y, batch_size=3, epochs=2, verbose=0, shuffle=False).history
    hp = pm.fit(ids, y, batch_size=3, epochs=2, verbose=0, shuffle=False).history
    for k in ("loss", "accuracy"):
        np.testing.assert_allclose(hp[k], hk[k], rtol=1e-5)
    for a, b in zip(pm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
