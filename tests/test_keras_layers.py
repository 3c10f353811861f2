"""Per-layer equivalence: with weights set by set_weights, the forward output and
one SGD train_on_batch step (mse loss, lr=0.1) match the float64 references in
reference_keras.py (the gradient from central differences of the reference)."""
import numpy as np
import pytest

import pyconvnet as keras
import reference_keras as R
from gradcheck import assert_grad_close
from tolerance import assert_close

LR = 0.1


def _model(layers, x_shape, dtype="float32", functional=None):
    keras.utils.set_random_seed(1)
    if functional is not None:
        return functional
    return keras.Sequential([keras.Input(shape=x_shape[1:], dtype=dtype)] + list(layers))


def _check(model, x, ref, rng, rtol=1e-4, atol=1e-5, trainable_only=True):
    ws = [rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()]
    names = [v.path for v in model.weights]
    nt = set(id(v) for v in model.non_trainable_weights)
    trainable = [id(v) not in nt for v in model.weights]
    for i, n in enumerate(names):  # BN variances must be positive
        if n.endswith("moving_variance"):
            ws[i] = np.abs(ws[i]) + 0.5
    model.set_weights(ws)
    ws64 = [w.astype(np.float64) for w in ws]
    y = model.predict(x, verbose=0)
    assert_close(y, ref(x, ws64, False), rtol=rtol, atol=atol, what="forward")
    t = rng.normal(0, 1, y.shape).astype(np.float32)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=LR), loss="mse")
    loss = model.train_on_batch(x, t)
    assert abs(loss - R.mse(ref(x, ws64, True), t)) <= 1e-4 * max(1.0, abs(loss))
    new = model.get_weights()
    grads = R.fd_grads(lambda w: R.mse(ref(x, w, True), t), ws64)
    for i, (w0, w1, g, tr) in enumerate(zip(ws64, new, grads, trainable)):
        if not tr:
            continue
        assert_close(w1, w0 - LR * g, rtol=rtol, atol=atol, what="weight %s after one SGD step" % names[i])
        assert_grad_close((w0 - w1) / LR, g, what="gradient of %s" % names[i])
    return ws64, new


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def x_img(rng, shape=(2, 6, 5, 3)):
    return rng.normal(0, 1, shape).astype(np.float32)


def test_dense_2d_and_3d(rng):
    x = rng.normal(size=(4, 5)).astype(np.float32)
    m = _model([keras.layers.Dense(3, activation="tanh")], x.shape)
    _check(m, x, lambda x, w, tr: R.dense(x, w[0], w[1], "tanh"), rng)
    x3 = rng.normal(size=(3, 2, 5)).astype(np.float32)
    m = _model([keras.layers.Dense(4, use_bias=False)], x3.shape)
    assert [v.name for v in m.weights] == ["kernel"]
    _check(m, x3, lambda x, w, tr: R.dense(x, w[0]), rng)


@pytest.mark.parametrize("kw", [
    dict(filters=4, kernel_size=3, padding="same", strides=2),
    dict(filters=2, kernel_size=(2, 3), padding="valid", dilation_rate=2),
    dict(filters=4, kernel_size=3, padding="SAME", groups=3, activation="relu"),
    dict(filters=3, kernel_size=1, use_bias=False, activation="sigmoid"),
])
def test_conv2d(rng, kw):
    kw = dict(kw)
    x = x_img(rng, (2, 7, 6, 3 if kw.get("groups", 1) != 3 else 3))
    if kw.get("groups") == 3:
        kw["filters"] = 6
    layer = keras.layers.Conv2D(**kw)
    m = _model([layer], x.shape)
    act = kw.get("activation") or "linear"

    def ref(x, w, tr):
        b = w[1] if layer.use_bias else None
        y = R.conv2d(x, w[0], b, layer.strides, layer.padding, layer.dilation_rate, layer.groups)
        return R.ACT[act](y)
    _check(m, x, ref, rng)


def test_depthwise_conv2d(rng):
    x = x_img(rng, (2, 5, 6, 3))
    layer = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same")
    m = _model([layer], x.shape)
    assert m.get_weights()[0].shape == (3, 3, 3, 2)
    _check(m, x, lambda x, w, tr: R.depthwise_conv2d(x, w[0], w[1], (1, 1), "same"), rng)


def _pre_conv(c):
    return keras.layers.Conv2D(c, 1, use_bias=False)


@pytest.mark.parametrize("layer_fn,ref", [
    (lambda: keras.layers.MaxPooling2D(2), lambda y: R.pool2d(y, "max", (2, 2), (2, 2), "valid")),
    (lambda: keras.layers.MaxPool2D(3, strides=2, padding="same"),
     lambda y: R.pool2d(y, "max", (3, 3), (2, 2), "same")),
    (lambda: keras.layers.AveragePooling2D(3, strides=2, padding="same"),
     lambda y: R.pool2d(y, "avg", (3, 3), (2, 2), "same")),
    (lambda: keras.layers.AvgPool2D((2, 3)), lambda y: R.pool2d(y, "avg", (2, 3), (2, 3), "valid")),
    (lambda: keras.layers.GlobalAveragePooling2D(), lambda y: y.mean(axis=(1, 2))),
    (lambda: keras.layers.GlobalMaxPooling2D(), lambda y: y.max(axis=(1, 2))),
    (lambda: keras.layers.ZeroPadding2D(((1, 2), (0, 1))), lambda y: np.pad(y, ((0, 0), (1, 2), (0, 1), (0, 0)))),
    (lambda: keras.layers.Flatten(), lambda y: y.reshape(len(y), -1)),
    (lambda: keras.layers.Reshape((5, -1)), lambda y: y.reshape(len(y), 5, -1)),
    (lambda: keras.layers.LocalResponseNormalization(2, 1.0, 0.5, 0.75), lambda y: R.lrn(y, 2, 1.0, 0.5, 0.75)),
    (lambda: keras.layers.Activation("sigmoid"), R.sigmoid),
    (lambda: keras.layers.Softmax(), R.softmax),
    (lambda: keras.layers.ReLU(), R.ACT["relu"]),
    (lambda: keras.layers.Dropout(0.5), lambda y: y),  # predict: identity; train_on_batch below checks
])
def test_weightless_layers(rng, layer_fn, ref):
    x = x_img(rng, (2, 6, 5, 3))
    layer = layer_fn()
    m = _model([_pre_conv(4), layer], x.shape)
    if isinstance(layer, keras.layers.Dropout):
        y = m.predict(x, verbose=0)
        assert_close(y, R.conv2d(x, m.get_weights()[0]), rtol=1e-4, atol=1e-5)
        return
    _check(m, x, lambda x, w, tr: ref(R.conv2d(x, w[0])), rng)


def test_dropout_training_masks_and_scales(rng):
    x = np.ones((64, 50), np.float32)
    d = keras.layers.Dropout(0.25, seed=3)
    y = d(keras.autograd.EagerTensor(keras.tensor(x)), training=True).numpy()
    kept = y[y != 0]
    assert_close(kept, np.full(kept.shape, 1 / 0.75), rtol=1e-6, atol=0)
    assert 0.15 < (y == 0).mean() < 0.35
    assert np.array_equal(d(x), x)  # NumPy in, inference: identity


def test_batch_normalization_train_and_infer(rng):
    x = x_img(rng, (4, 3, 3, 2))
    bn = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3)
    m = _model([_pre_conv(3), bn], x.shape)
    assert [v.name for v in m.weights] == ["kernel", "gamma", "beta", "moving_mean", "moving_variance"]
    assert [v.name for v in m.non_trainable_weights] == ["moving_mean", "moving_variance"]

    def ref(x, w, tr):
        return R.batch_norm(R.conv2d(x, w[0]), w[1], w[2], w[3], w[4], 1e-3, tr)
    old, new = _check(m, x, ref, rng)
    z = R.conv2d(x, old[0])
    assert_close(new[3], 0.9 * old[3] + 0.1 * z.mean((0, 1, 2)), rtol=1e-4, atol=1e-5, what="moving_mean")
    assert_close(new[4], 0.9 * old[4] + 0.1 * z.var((0, 1, 2)), rtol=1e-4, atol=1e-5, what="moving_variance")


def test_embedding(rng):
    ids = rng.integers(0, 7, (3, 4)).astype(np.int32)
    m = _model([keras.layers.Embedding(7, 3), keras.layers.Flatten()], ids.shape, dtype="int32")
    _check(m, ids, lambda x, w, tr: R.embedding(x, w[0]).reshape(len(x), -1), rng)


@pytest.mark.parametrize("kind,kw", [
    ("SimpleRNN", dict(return_sequences=True)),
    ("SimpleRNN", dict(go_backwards=True, activation="relu")),
    ("LSTM", dict()),
    ("LSTM", dict(return_sequences=True, go_backwards=True)),
    ("GRU", dict()),
    ("GRU", dict(return_sequences=True)),
])
def test_recurrent(rng, kind, kw):
    x = rng.normal(size=(3, 4, 2)).astype(np.float32)
    layer = getattr(keras.layers, kind)(3, **kw)
    m = _model([layer], x.shape)
    shapes = [w.shape for w in m.get_weights()]
    g = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}[kind]
    assert shapes[:2] == [(2, g * 3), (3, g * 3)]
    assert shapes[2] == ((2, 9) if kind == "GRU" else (g * 3,))
    rs, gb = kw.get("return_sequences", False), kw.get("go_backwards", False)

    def ref(x, w, tr):
        if kind == "SimpleRNN":
            return R.simple_rnn(x, w[0], w[1], w[2], kw.get("activation", "tanh"), gb, rs)
        return getattr(R, kind.lower())(x, w[0], w[1], w[2], gb, rs)
    _check(m, x, ref, rng, rtol=2e-4, atol=2e-5)


def test_lstm_initial_weights_follow_keras():
    keras.utils.set_random_seed(0)
    l = keras.layers.LSTM(4)
    l.build((None, 5, 3))
    b = l.get_weights()[2]
    assert np.array_equal(b, np.r_[np.zeros(4), np.ones(4), np.zeros(8)])
    rk = l.get_weights()[1]  # orthogonal (4, 16): rows orthonormal
    assert_close(rk @ rk.T, np.eye(4), rtol=0, atol=1e-5)


def test_bidirectional_and_time_distributed(rng):
    x = rng.normal(size=(2, 3, 2)).astype(np.float32)
    bi = keras.layers.Bidirectional(keras.layers.SimpleRNN(2, return_sequences=True))
    m = _model([bi, keras.layers.TimeDistributed(keras.layers.Dense(2))], x.shape)
    assert [w.shape for w in m.get_weights()] == [(2, 2), (2, 2), (2,), (2, 2), (2, 2), (2,), (4, 2), (2,)]

    def ref(x, w, tr):
        f = R.simple_rnn(x, w[0], w[1], w[2], "tanh", False, True)
        b = R.simple_rnn(x, w[3], w[4], w[5], "tanh", True, True)[:, ::-1]
        return R.dense(np.concatenate([f, b], -1), w[6], w[7])
    _check(m, x, ref, rng, rtol=2e-4, atol=2e-5)


def test_functional_add_concatenate(rng):
    keras.utils.set_random_seed(0)
    inp = keras.Input(shape=(4,))
    a = keras.layers.Dense(3, activation="relu")(inp)
    b = keras.layers.Dense(3)(inp)
    s = keras.layers.Add()([a, b])
    c = keras.layers.Concatenate()([s, a])
    out = keras.layers.Dense(2)(c)
    m = keras.Model(inp, out)
    x = rng.normal(size=(5, 4)).astype(np.float32)

    def ref(x, w, tr):
        a = R.dense(x, w[0], w[1], "relu")
        b = R.dense(x, w[2], w[3])
        return R.dense(np.concatenate([a + b, a], -1), w[4], w[5])
    _check(m, x, ref, rng)


def test_layer_on_numpy_returns_numpy(rng):
    d = keras.layers.Dense(2)
    x = rng.normal(size=(3, 4)).astype(np.float32)
    y = d(x)
    assert isinstance(y, np.ndarray) and y.shape == (3, 2)
    k, b = d.get_weights()
    assert_close(y, x @ k + b)
