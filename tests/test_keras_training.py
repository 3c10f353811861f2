"""compile/fit/evaluate/predict, callbacks, optimizers and schedules, saving and
loading, summary, and bad inputs (clear errors, all-or-nothing loads)."""
import io
import json
import os
import re
import zipfile
from contextlib import redirect_stdout

import numpy as np
import pytest

import pyconvnet as keras
from tolerance import assert_close


def _data(n=96, seed=0):
    r = np.random.default_rng(seed)
    x = r.normal(size=(n, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)
    return x, y


def _mlp(seed=0, n_out=3, act="softmax"):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.layers.Dense(16, activation="relu", input_shape=(6,)),
                             keras.layers.Dense(n_out, activation=act)])


def test_fit_reduces_loss_and_history():
    x, y = _data()
    m = _mlp()
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = m.fit(x, y, batch_size=16, epochs=6, verbose=0, validation_split=0.25)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert h.history["loss"][-1] < 0.7 * h.history["loss"][0]
    loss, acc = m.evaluate(x, y, verbose=0)
    assert acc > 0.7
    p = m.predict(x, batch_size=7, verbose=0)
    assert p.shape == (96, 3)
    assert_close(p.sum(1), np.ones(96), rtol=1e-5, atol=1e-5)
    d = m.evaluate(x, y, verbose=0, return_dict=True)
    assert set(d) == {"loss", "accuracy"}


def test_seeded_runs_repeat():
    x, y = _data()
    out = []
    for _ in range(2):
        m = _mlp(seed=5)
        m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        keras.utils.set_random_seed(7)
        h = m.fit(x, y, batch_size=10, epochs=2, verbose=0)
        out.append((h.history["loss"], m.get_weights()[0]))
    assert out[0][0] == out[1][0]
    assert np.array_equal(out[0][1], out[1][1])


@pytest.mark.parametrize("loss,act,ytype", [
    ("categorical_crossentropy", "softmax", "onehot"),
    (keras.losses.SparseCategoricalCrossentropy(from_logits=True), None, "int"),
    ("binary_crossentropy", "sigmoid", "binary"),
    ("mse", None, "float"), ("mae", None, "float"), (keras.losses.Huber(0.5), None, "float"),
])
def test_losses_train(loss, act, ytype):
    x, y = _data()
    n_out = 1 if ytype in ("binary", "float") else 3
    if ytype == "onehot":
        y = keras.utils.to_categorical(y, 3)
    elif ytype == "binary":
        y = (y > 0).astype(np.float32)[:, None]
    elif ytype == "float":
        y = x[:, :1] * 2 - x[:, 1:2]
    m = _mlp(n_out=n_out, act=act)
    m.compile(optimizer=keras.optimizers.RMSprop(0.01), loss=loss,
              metrics=["accuracy"] if ytype != "float" else ["mae", "mse"])
    before = m.evaluate(x, y, verbose=0)
    m.fit(x, y, batch_size=16, epochs=5, verbose=0)
    after = m.evaluate(x, y, verbose=0)
    assert after[0] < before[0]


def test_metric_resolution_follows_keras():
    m = _mlp()
    m.compile(loss="categorical_crossentropy", metrics=["accuracy"])
    x, y = _data(8)
    m.train_on_batch(x, keras.utils.to_categorical(y, 3))
    assert type(m._pcn_metrics[0] if m._pcn_metrics else keras.metrics.resolve("accuracy", m._pcn_loss)).__name__ \
        == "CategoricalAccuracy"
    assert type(keras.metrics.resolve("accuracy", keras.losses.get("binary_crossentropy"))).__name__ == \
        "BinaryAccuracy"


def _one_step(opt, steps=3):
    keras.utils.set_random_seed(0)
    d = keras.layers.Dense(2, use_bias=False)
    m = keras.Sequential([keras.Input((3,)), d])
    w0 = np.array([[0.5, -0.2], [0.1, 0.3], [-0.4, 0.2]], np.float32)
    m.set_weights([w0])
    m.compile(optimizer=opt, loss="mse")
    x = np.array([[1.0, 2.0, -1.0], [0.5, -1.0, 2.0]], np.float32)
    t = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    for _ in range(steps):
        m.train_on_batch(x, t)
    return m.get_weights()[0]


def _ref_steps(update, steps=3):
    w0 = np.array([[0.5, -0.2], [0.1, 0.3], [-0.4, 0.2]])
    x = np.array([[1.0, 2.0, -1.0], [0.5, -1.0, 2.0]])
    t = np.array([[1.0, 0.0], [0.0, 1.0]])
    w = w0.copy()
    state = {}
    for k in range(1, steps + 1):
        g = x.T @ (2 * (x @ w - t) / t.size)
        w = update(w, g, state, k)
    return w


@pytest.mark.parametrize("opt,update", [
    (lambda: keras.optimizers.SGD(), lambda w, g, s, k: w - 0.01 * g),
    (lambda: keras.optimizers.SGD(0.1, momentum=0.9), lambda w, g, s, k: _sgdm(w, g, s, 0.1, 0.9, False)),
    (lambda: keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True), lambda w, g, s, k: _sgdm(w, g, s, 0.1, 0.9, True)),
    (lambda: keras.optimizers.Adam(0.05), lambda w, g, s, k: _adam(w, g, s, k, 0.05)),
    (lambda: keras.optimizers.RMSprop(0.05), lambda w, g, s, k: _rms(w, g, s, 0.05)),
    (lambda: keras.optimizers.Adagrad(0.05), lambda w, g, s, k: _adagrad(w, g, s, 0.05)),
])
def test_optimizers_follow_keras3_formulas(opt, update):
    w = _one_step(opt())
    assert_close(w, _ref_steps(update), rtol=1e-4, atol=1e-6, what="weights after 3 steps")


def _sgdm(w, g, s, lr, mom, nesterov):
    v = mom * s.get("v", 0) - lr * g
    s["v"] = v
    return w + (mom * v - lr * g if nesterov else v)


def _adam(w, g, s, k, lr, b1=0.9, b2=0.999, eps=1e-7):
    m = s.get("m", 0) + (g - s.get("m", 0)) * (1 - b1)
    v = s.get("v", 0) + (g * g - s.get("v", 0)) * (1 - b2)
    s["m"], s["v"] = m, v
    a = lr * np.sqrt(1 - b2 ** k) / (1 - b1 ** k)
    return w - a * m / (np.sqrt(v) + eps)


def _rms(w, g, s, lr, rho=0.9, eps=1e-7):
    v = rho * s.get("v", 0) + (1 - rho) * g * g
    s["v"] = v
    return w - lr * g / np.sqrt(v + eps)


def _adagrad(w, g, s, lr, eps=1e-7):
    a = s.get("a", 0.1) + g * g
    s["a"] = a
    return w - lr * g / np.sqrt(a + eps)


def test_defaults_and_schedules():
    assert keras.optimizers.SGD().learning_rate == 0.01
    for c in (keras.optimizers.Adam, keras.optimizers.RMSprop, keras.optimizers.Adagrad):
        assert c().learning_rate == 0.001
    s = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    opt = keras.optimizers.SGD(s)
    assert opt.learning_rate == pytest.approx(0.1)
    opt.iterations = 20
    assert opt.learning_rate == pytest.approx(0.025)
    p = keras.optimizers.schedules.PiecewiseConstantDecay([5, 10], [1.0, 0.5, 0.1])
    assert [p(0), p(5), p(6), p(11)] == [1.0, 1.0, 0.5, 0.1]


def test_callbacks(tmp_path):
    x, y = _data()
    m = _mlp()
    m.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    ck = str(tmp_path / "best.weights.h5")
    csv = str(tmp_path / "log.csv")
    lrs = []
    cbs = [keras.callbacks.ModelCheckpoint(ck, save_best_only=True, save_weights_only=True, monitor="val_loss"),
           keras.callbacks.CSVLogger(csv),
           keras.callbacks.LearningRateScheduler(lambda e, lr: 0.05 * 0.5 ** e),
           keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: lrs.append(logs["learning_rate"]))]
    h = m.fit(x, y, epochs=3, batch_size=32, validation_data=(x[:32], y[:32]), callbacks=cbs, verbose=0)
    assert os.path.exists(ck)
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp")]
    rows = open(csv).read().strip().splitlines()
    assert rows[0].startswith("epoch,") and len(rows) == 4
    assert lrs == pytest.approx([0.05, 0.025, 0.0125])
    assert len(h.history["val_loss"]) == 3


def test_early_stopping_restores_best_and_reduce_lr():
    x, y = _data()
    m = _mlp()
    m.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy")
    es = keras.callbacks.EarlyStopping(monitor="loss", patience=1, min_delta=10.0, restore_best_weights=True)
    rl = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=10.0)
    h = m.fit(x, y, epochs=10, batch_size=32, callbacks=[es, rl], verbose=0)
    assert len(h.history["loss"]) == 2  # stops after the first non-improving epoch
    assert m.optimizer.learning_rate == pytest.approx(0.025)


def test_progress_bar_formats():
    x, y = _data(64)
    m = _mlp()
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    for v, pat in ((1, r"2/2 ━{20} \d+s \d+(us|ms|s)/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}"),
                   (2, r"2/2 - \d+s - \d+(us|ms|s)/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}")):
        buf = io.StringIO()
        with redirect_stdout(buf):
            m.fit(x, y, batch_size=32, epochs=1, verbose=v)
        out = buf.getvalue()
        assert "Epoch 1/1" in out and re.search(pat, out), out
    buf = io.StringIO()
    with redirect_stdout(buf):
        m.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert buf.getvalue() == ""


def test_summary_counts_non_trainable():
    m = keras.Sequential([keras.layers.Conv2D(4, 3, input_shape=(8, 8, 1)), keras.layers.BatchNormalization(),
                          keras.layers.Flatten(), keras.layers.Dense(2)])
    lines = []
    m.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "(None, 6, 6, 4)" in text and "Param #" in text
    assert "Total params: 346" in text and "Trainable params: 338" in text and "Non-trainable params: 8" in text


def _functional():
    keras.utils.set_random_seed(0)
    inp = keras.Input(shape=(8, 8, 2))
    a = keras.layers.Conv2D(3, 1, activation="relu")(inp)
    b = keras.layers.Conv2D(2, 3, padding="same")(inp)
    b = keras.layers.MaxPooling2D(3, strides=1, padding="same")(b)
    c = keras.layers.Concatenate()([a, b])
    c = keras.layers.BatchNormalization()(c)
    out = keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalAveragePooling2D()(c))
    return keras.Model(inp, out)


def test_save_load_roundtrip(tmp_path):
    m = _functional()
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(0).normal(size=(8, 8, 8, 2)).astype(np.float32)
    y = np.arange(8) % 2
    m.fit(x, y, epochs=1, batch_size=4, verbose=0)
    p = m.predict(x, verbose=0)
    path = str(tmp_path / "m.keras")
    m.save(path)
    with zipfile.ZipFile(path) as z:
        assert set(z.namelist()) == {"config.json", "metadata.json", "model.weights.npz"}
        json.loads(z.read("config.json"))
    m2 = keras.models.load_model(path)
    assert_close(m2.predict(x, verbose=0), p, rtol=1e-6, atol=1e-7)
    assert m2.compiled
    m2.fit(x, y, epochs=1, batch_size=4, verbose=0)
    wpath = str(tmp_path / "w.weights.h5")
    m.save_weights(wpath)
    m3 = _functional()
    m3.load_weights(wpath)
    assert_close(m3.predict(x, verbose=0), p, rtol=1e-6, atol=1e-7)
    s = keras.Sequential([keras.layers.Dense(3, input_shape=(4,)), keras.layers.Dense(1)])
    s.save(str(tmp_path / "s.keras"))
    s2 = keras.models.load_model(str(tmp_path / "s.keras"))
    xx = np.ones((2, 4), np.float32)
    assert_close(s2.predict(xx, verbose=0), s.predict(xx, verbose=0))


def test_weights_file_has_no_pickle(tmp_path):
    m = _mlp()
    path = str(tmp_path / "w.npz")
    m.save_weights(path)
    with np.load(path, allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)


def test_lambda_needs_unsafe_mode(tmp_path):
    import pyconvnet as tf
    m = keras.Sequential([keras.Input((4, 4, 6)), keras.layers.Lambda(
        lambda X: tf.nn.max_pool(X, ksize=(1, 1, 1, 3), strides=(1, 1, 1, 3), padding="valid")),
        keras.layers.Flatten(), keras.layers.Dense(1)])
    path = str(tmp_path / "lam.keras")
    m.save(path)
    with pytest.raises(ValueError, match="safe_mode=False"):
        keras.models.load_model(path)
    m2 = keras.models.load_model(path, safe_mode=False)
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 6)).astype(np.float32)
    assert_close(m2.predict(x, verbose=0), m.predict(x, verbose=0))


# ------------------------------------------------------------------ bad input
def test_bad_inputs_name_layer_and_shapes():
    m = keras.Sequential([keras.layers.Conv2D(2, 3, input_shape=(8, 8, 1), name="c1"), keras.layers.Flatten(),
                          keras.layers.Dense(2)])
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"sequential.*expected axis 3.*value 1.*\(2, 8, 8, 3\)"):
        m.predict(np.zeros((2, 8, 8, 3), np.float32), verbose=0)
    with pytest.raises(ValueError, match="cardinality.*'x' sizes: 4.*'y' sizes: 3"):
        m.fit(np.zeros((4, 8, 8, 1), np.float32), np.zeros(3), verbose=0)
    with pytest.raises(ValueError, match="label"):
        m.fit(np.zeros((4, 8, 8, 1), np.float32), np.array([0, 1, 5, 0]), verbose=0)
    with pytest.raises(ValueError, match=r"c1.*\(3, 3, 1, 2\).*\(3, 3, 2, 2\)"):
        m.get_layer("c1").set_weights([np.zeros((3, 3, 2, 2)), np.zeros(2)])
    with pytest.raises(ValueError, match="c1.*length 1.*expecting 2"):
        m.get_layer("c1").set_weights([np.zeros((3, 3, 1, 2))])
    d = keras.layers.Dense(2, name="dd")
    d(np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match=r'"dd".*axis -1.*value 3'):
        d(np.zeros((1, 4), np.float32))


def test_unknown_names():
    with pytest.raises(ValueError, match="Unknown activation.*'relux'"):
        keras.layers.Dense(2, activation="relux")
    with pytest.raises(ValueError, match="Unknown loss.*'msee'"):
        _mlp().compile(loss="msee")
    with pytest.raises(ValueError, match="optimizer.*'adamm'"):
        _mlp().compile(optimizer="adamm", loss="mse")
    with pytest.raises(ValueError, match="Unknown metric.*'acuracy'"):
        _mlp().compile(loss="mse", metrics=["acuracy"])
    with pytest.raises(ValueError, match="Unknown initializer.*'he_norm'"):
        keras.layers.Dense(2, kernel_initializer="he_norm")
    with pytest.raises(TypeError, match="Dense.*unitz"):
        keras.layers.Dense(2, unitz=3)


def test_corrupt_or_mismatched_weights_leave_model_unchanged(tmp_path):
    m = _mlp()
    before = m.get_weights()
    path = str(tmp_path / "w.weights.h5")
    m.save_weights(path)
    data = open(path, "rb").read()
    trunc = str(tmp_path / "t.weights.h5")
    open(trunc, "wb").write(data[:len(data) // 2])
    with pytest.raises(ValueError, match="not a valid pyconvnet weights file"):
        m.load_weights(trunc)
    other = keras.Sequential([keras.layers.Dense(16, input_shape=(6,)), keras.layers.Dense(4)])
    other.save_weights(str(tmp_path / "o.npz"))
    m.set_weights([w + 1 for w in before])
    with pytest.raises(ValueError, match=r"dense.*\(16, 3\).*\(16, 4\)"):
        m.load_weights(str(tmp_path / "o.npz"))
    for a, b in zip(m.get_weights(), before):  # untouched by the failed load
        assert np.array_equal(a, b + 1)
    garbage = str(tmp_path / "g.keras")
    open(garbage, "wb").write(b"not a zip")
    with pytest.raises(ValueError, match="not a valid pyconvnet model file"):
        keras.models.load_model(garbage)
    with pytest.raises(FileNotFoundError):
        m.load_weights(str(tmp_path / "missing.npz"))


def test_unknown_custom_layer_on_load(tmp_path):
    class Scale(keras.layers.Layer):
        def build(self, s):
            self.k = self.add_weight(shape=(s[-1],), initializer="ones", name="k")

        def call(self, x):
            return x * self.k
    m = keras.Sequential([keras.Input((3,)), Scale(name="scale_x")])
    path = str(tmp_path / "c.keras")
    m.save(path)
    m2 = keras.models.load_model(path, custom_objects={"Scale": Scale})
    assert m2.get_layer("scale_x").get_weights()[0].shape == (3,)


def test_subclassed_model_and_keras_ops():
    class MLP(keras.Model):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.d1 = keras.layers.Dense(8, activation="relu")
            self.d2 = keras.layers.Dense(3)

        def call(self, x, training=None):
            h = self.d1(x)
            return keras.ops.softmax(self.d2(keras.ops.add(h, keras.ops.multiply(h, 0.5))))
    x, y = _data()
    m = MLP()
    m.compile(optimizer=keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = m.fit(x, y, epochs=4, batch_size=16, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert len(m.trainable_weights) == 4
    w = m.trainable_weights[0]
    assert w.name == "kernel" and w.shape == (6, 8) and w.trainable and isinstance(w.value, keras.Tensor)


def test_custom_layer_add_weight_and_training_flag():
    class Noisy(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(name="w", shape=(input_shape[-1],), initializer="ones", trainable=True)
            self.c = self.add_weight(shape=(1,), initializer="zeros", trainable=False, name="c")

        def call(self, x, training=None):
            self.seen = training
            return x * self.w
    layer = Noisy()
    m = keras.Sequential([keras.Input((3,)), layer, keras.layers.Dense(1)])
    assert [v.name for v in layer.weights] == ["w", "c"] and [v.name for v in layer.non_trainable_weights] == ["c"]
    m.compile(loss="mse")
    m.train_on_batch(np.ones((2, 3), np.float32), np.ones((2, 1), np.float32))
    assert layer.seen is True
    m.predict(np.ones((2, 3), np.float32), verbose=0)
    assert layer.seen is False


def test_device_string_is_kept():
    m = _mlp()
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", device="cpu")
    assert m.device == "cpu" and m.weights[0].value.device == "cpu"


def test_distributed_hook_contract(tmp_path, monkeypatch, capsys):
    """fit/evaluate consult pyconvnet.distributed._fit when active: sharded
    indices, on_train_begin, reduced metric sums, chief-only output."""
    from pyconvnet import distributed_hook
    calls = {"begin": 0, "epochs": [], "reduced": []}

    class FakeDist:
        @staticmethod
        def active():
            return True

        @staticmethod
        def is_chief():
            return False

        @staticmethod
        def on_train_begin(model):
            calls["begin"] += 1

        @staticmethod
        def epoch_indices(n, epoch, shuffle, seed):
            calls["epochs"].append((n, epoch, shuffle))
            return np.arange(0, n, 2)

        @staticmethod
        def eval_indices(n):
            return np.arange(1, n, 2)

        @staticmethod
        def reduce_sums(v):
            calls["reduced"].append(v.copy())
            return v * 2

    monkeypatch.setattr(distributed_hook, "_dist", FakeDist)
    x, y = _data(40)
    m = _mlp()
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    ck = str(tmp_path / "ck.keras")
    m.fit(x, y, epochs=2, batch_size=8, verbose=1, callbacks=[keras.callbacks.ModelCheckpoint(ck)])
    assert calls["begin"] == 1 and calls["epochs"] == [(40, 0, True), (40, 1, True)]
    assert capsys.readouterr().out == ""  # not the chief: no progress bar
    assert not os.path.exists(ck)  # not the chief: no checkpoint
    loss, acc = m.evaluate(x, y, verbose=0)
    v = calls["reduced"][-1]
    assert v.dtype == np.float64 and v[1] == 20  # 20 samples evaluated locally
    assert loss == pytest.approx(v[0] / v[1]) and acc == pytest.approx(v[2] / v[3])


def test_l2_regularizer_adds_to_loss_and_gradient():
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, use_bias=False, kernel_regularizer=keras.regularizers.l2(0.1))])
    w0 = np.array([[1.0, -1.0], [0.5, 0.0], [0.0, 2.0]], np.float32)
    m.set_weights([w0])
    m.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x = np.zeros((2, 3), np.float32)
    loss = m.train_on_batch(x, np.zeros((2, 2), np.float32))
    assert loss == pytest.approx(0.1 * float((w0.astype(np.float64) ** 2).sum()), rel=1e-5)
    assert_close(m.get_weights()[0], w0 - 0.1 * 0.2 * w0, rtol=1e-5, atol=1e-7)


def test_sequential_add_and_build_on_first_call():
    m = keras.Sequential()
    m.add(keras.layers.Dense(4, activation="relu"))
    m.add(keras.layers.Dense(1))
    assert not m.built and m.weights == []
    y = m(np.ones((2, 5), np.float32))
    assert isinstance(y, np.ndarray) and y.shape == (2, 1) and m.built
    assert [w.shape for w in m.get_weights()] == [(5, 4), (4,), (4, 1), (1,)]
    lines = []
    m.summary(print_fn=lines.append)
    assert "(None, 4)" in "\n".join(lines) and "Total params: 29" in "\n".join(lines)
    with pytest.raises(ValueError, match="unique names"):
        m.add(keras.layers.Dense(1, name=m.layers[0].name))


def test_unknown_layer_class_in_file(tmp_path):
    m = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])
    path = str(tmp_path / "m.keras")
    m.save(path)
    with zipfile.ZipFile(path) as z:
        files = {n: z.read(n) for n in z.namelist()}
    cfg = json.loads(files["config.json"])
    cfg["config"]["layers"][0]["class_name"] = "NoSuchLayer"
    files["config.json"] = json.dumps(cfg).encode()
    bad = str(tmp_path / "bad.keras")
    with zipfile.ZipFile(bad, "w") as z:
        for n, d in files.items():
            z.writestr(n, d)
    with pytest.raises(ValueError, match="Unknown layer: 'NoSuchLayer'.*custom_objects"):
        keras.models.load_model(bad)


def test_course_helpers_and_rescaling():
    import pyconvnet as tf
    keras.backend.clear_session()
    tf.random.set_seed(42)
    assert keras.layers.Dense(1).name == "dense"
    r = keras.layers.Rescaling(1.0 / 255)
    assert_close(r(np.array([[0, 255, 51]], np.uint8)), np.array([[0.0, 1.0, 0.2]]), rtol=1e-6, atol=1e-7)


def test_functional_initial_state_kwarg_trains_and_saves(tmp_path):
    """Encoder-decoder: KerasTensors passed as initial_state=[h, c] are graph inputs."""
    keras.utils.set_random_seed(0)
    enc_in, dec_in = keras.Input(shape=(5,), dtype="int32"), keras.Input(shape=(4,), dtype="int32")
    emb = keras.layers.Embedding(7, 3)
    _, h, c = keras.layers.LSTM(4, return_state=True)(emb(enc_in))
    seq = keras.layers.LSTM(4, return_sequences=True)(emb(dec_in), initial_state=[h, c])
    m = keras.Model([enc_in, dec_in], keras.layers.Dense(7, activation="softmax")(seq))
    r = np.random.default_rng(0)
    xe, xd = r.integers(0, 7, (16, 5)), r.integers(0, 7, (16, 4))
    y = np.roll(xd, 1, axis=1)
    m.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h1 = m.fit([xe, xd], y, epochs=5, batch_size=8, verbose=0)
    assert h1.history["loss"][-1] < h1.history["loss"][0]
    p = m.predict([xe, xd], verbose=0)
    assert p.shape == (16, 4, 7)
    path = str(tmp_path / "s2s.keras")
    m.save(path)
    m2 = keras.models.load_model(path)
    assert_close(m2.predict([xe, xd], verbose=0), p, rtol=1e-5, atol=1e-6)


def test_custom_training_loop_with_gradient_tape():
    x, y = _data(64)
    m = _mlp(n_out=3, act=None)
    opt = keras.optimizers.Adam(0.02)
    losses = []
    for step in range(30):
        with keras.GradientTape() as tape:
            logits = m(x, training=True)  # NumPy in, but under a tape: an EagerTensor out
            loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
        grads = tape.gradient(loss, m.trainable_variables)
        opt.apply_gradients(zip(grads, m.trainable_variables))
        losses.append(float(keras.ops.convert_to_numpy(loss)))
    assert losses[-1] < 0.6 * losses[0]


def test_sample_and_class_weights():
    x, y = _data(32)
    m = _mlp()
    m.compile(optimizer=keras.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
    per = keras.losses.SparseCategoricalCrossentropy(reduction="none")(y, m.predict(x, verbose=0))
    w = np.linspace(0.0, 2.0, 32).astype(np.float32)
    loss = m.train_on_batch(x, y, sample_weight=w)  # lr 0: weights unchanged, loss reported weighted
    assert loss == pytest.approx(float(np.mean(per * w)), rel=1e-5)
    assert m.evaluate(x, y, sample_weight=w, verbose=0) == pytest.approx(float(np.mean(per * w)), rel=1e-5)
    cw = {0: 0.5, 1: 2.0, 2: 1.0}
    loss = m.train_on_batch(x, y, class_weight=cw)
    assert loss == pytest.approx(float(np.mean(per * np.array([cw[int(c)] for c in y]))), rel=1e-5)
    # a zero weight removes a sample's gradient: training on [a, b] with weights [1, 0] == training on [a]
    m1, m2 = _mlp(seed=3), _mlp(seed=3)
    for mm in (m1, m2):
        mm.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    m1.fit(x[:2], y[:2], sample_weight=np.array([2.0, 0.0]), batch_size=2, epochs=1, shuffle=False, verbose=0)
    m2.fit(x[:1], y[:1], batch_size=1, epochs=1, verbose=0)
    for a, b in zip(m1.get_weights(), m2.get_weights()):
        assert_close(a, b, rtol=1e-5, atol=1e-6)
    # a class missing from class_weight weighs 1.0, as in Keras
    loss = m.train_on_batch(x, y, class_weight={0: 3.0})  # lr 0: the weights are still those of `per`
    assert loss == pytest.approx(float(np.mean(per * np.where(y == 0, 3.0, 1.0))), rel=1e-5)
    with pytest.raises(ValueError, match="sample_weight has 3 entries but there are 32 samples"):
        m.fit(x, y, sample_weight=np.ones(3), verbose=0)
