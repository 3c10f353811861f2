"""Second opinion from Keras 3 itself (torch backend), when it is installed:
same layer config -> same get_weights() shapes and order; Keras's weights
loaded with set_weights -> the same outputs; same summary parameter counts.
Skips cleanly without keras; the float64 references in test_keras_layers.py
are the primary check."""
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
k3 = pytest.importorskip("keras")
if k3.backend.backend() != "torch":
    pytest.skip("Keras 3 present but not on the torch backend", allow_module_level=True)

import pyconvnet as pk  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
from tolerance import assert_close  # noqa: E402

CASES = [
    ("Dense", dict(units=5, activation="relu"), (3, 4)),
    ("Conv2D", dict(filters=4, kernel_size=3, padding="same", strides=2), (2, 7, 6, 3)),
    ("Conv2D", dict(filters=6, kernel_size=(2, 3), dilation_rate=2, groups=3), (2, 7, 8, 3)),
    ("DepthwiseConv2D", dict(kernel_size=3, depth_multiplier=2, padding="same"), (2, 5, 5, 3)),
    ("MaxPooling2D", dict(pool_size=3, strides=2, padding="same"), (2, 7, 6, 3)),
    ("AveragePooling2D", dict(pool_size=2, padding="same"), (2, 5, 5, 3)),
    ("GlobalAveragePooling2D", dict(), (2, 4, 5, 3)),
    ("BatchNormalization", dict(), (4, 3, 3, 2)),
    ("ZeroPadding2D", dict(padding=((1, 2), (0, 1))), (2, 3, 3, 2)),
    ("SimpleRNN", dict(units=3, return_sequences=True), (2, 5, 4)),
    ("LSTM", dict(units=3), (2, 5, 4)),
    ("LSTM", dict(units=3, go_backwards=True, return_sequences=True), (2, 5, 4)),
    ("GRU", dict(units=3, return_sequences=True), (2, 5, 4)),
    ("Embedding", dict(input_dim=7, output_dim=3), (2, 5)),
]


@pytest.mark.parametrize("name,kw,shape", CASES)
def test_same_weights_layout_and_output(name, kw, shape):
    rng = np.random.default_rng(0)
    if name == "Embedding":
        x = rng.integers(0, 7, shape).astype(np.int32)
    else:
        x = rng.normal(size=shape).astype(np.float32)
    theirs = getattr(k3.layers, name)(**kw)
    ours = getattr(pk.layers, name)(**kw)
    yk = np.asarray(k3.ops.convert_to_numpy(theirs(x)))
    ours(x)
    wk = [np.asarray(w) for w in theirs.get_weights()]
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in wk]
    assert [v.name for v in ours.weights] == [v.name for v in theirs.weights]
    if name == "BatchNormalization":  # non-trivial statistics
        wk = [wk[0] * 1.5, wk[1] + 0.2, wk[2] + 0.1, wk[3] * 2.0]
        theirs.set_weights(wk)
        yk = np.asarray(k3.ops.convert_to_numpy(theirs(x)))
    ours.set_weights(wk)
    assert_close(ours(x), yk, rtol=1e-4, atol=1e-5, what="%s output vs Keras 3" % name)


def test_bidirectional_matches_keras():
    x = np.random.default_rng(1).normal(size=(2, 4, 3)).astype(np.float32)
    theirs = k3.layers.Bidirectional(k3.layers.GRU(2, return_sequences=True))
    ours = pk.layers.Bidirectional(pk.layers.GRU(2, return_sequences=True))
    yk = np.asarray(k3.ops.convert_to_numpy(theirs(x)))
    ours(x)
    ours.set_weights(theirs.get_weights())
    assert_close(ours(x), yk, rtol=1e-4, atol=1e-5)


def test_course_cnn_param_counts_match():
    def build(K):
        return K.models.Sequential([
            K.Input(shape=(28, 28, 1)),
            K.layers.Conv2D(64, 7, activation="relu", padding="same"), K.layers.MaxPooling2D(2),
            K.layers.Conv2D(128, 3, activation="relu", padding="same"), K.layers.BatchNormalization(),
            K.layers.MaxPooling2D(2), K.layers.Flatten(), K.layers.Dense(10, activation="softmax")])
    a, b = build(k3), build(pk)
    assert a.count_params() == b.count_params()
    assert [w.shape for w in a.get_weights()] == [w.shape for w in b.get_weights()]
    assert len(a.non_trainable_weights) == len(b.non_trainable_weights) == 2


def test_one_sgd_step_matches_keras():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(8, 5)).astype(np.float32)
    y = rng.integers(0, 3, 8)

    def build(K):
        m = K.models.Sequential([K.Input(shape=(5,)), K.layers.Dense(4, activation="tanh"),
                                 K.layers.Dense(3, activation="softmax")])
        m.compile(optimizer=K.optimizers.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy")
        return m
    a, b = build(k3), build(pk)
    b.set_weights(a.get_weights())
    for _ in range(2):
        la = float(np.asarray(a.train_on_batch(x, y)))
        lb = b.train_on_batch(x, y)
        assert abs(la - lb) <= 1e-4 * max(1.0, abs(la))
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        assert_close(wb, wa, rtol=1e-4, atol=1e-6, what="weights after 2 SGD steps")


def test_fit_on_pydataset_and_generator_matches_keras():
    """Same PyDataset subclass (written against each library's keras.utils.PyDataset) and the
    same generator: fit without shuffling gives the same weights, history and hook calls."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(40, 5)).astype(np.float32)
    y = rng.integers(0, 3, 40)

    def build(K):
        m = K.models.Sequential([K.Input(shape=(5,)), K.layers.Dense(4, activation="tanh"),
                                 K.layers.Dense(3, activation="softmax")])
        m.compile(optimizer=K.optimizers.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
        return m

    def dataset(K):
        class DS(K.utils.PyDataset):
            def __init__(self):
                super().__init__()
                self.calls = []

            def __len__(self):
                return 3

            def __getitem__(self, i):
                s = slice(i * 16, (i + 1) * 16)  # 16, 16, 8
                return x[s], y[s]

            def on_epoch_begin(self):
                self.calls.append("begin")

            def on_epoch_end(self):
                self.calls.append("end")
        return DS()

    a, b = build(k3), build(pk)
    b.set_weights(a.get_weights())
    da, db = dataset(k3), dataset(pk)
    ha = a.fit(da, epochs=3, shuffle=False, verbose=0)
    hb = b.fit(db, epochs=3, shuffle=False, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        assert_close(wb, wa, rtol=1e-4, atol=1e-6, what="weights after 3 epochs on a PyDataset")
    np.testing.assert_allclose(hb.history["loss"], ha.history["loss"], rtol=1e-4)
    np.testing.assert_allclose(hb.history["accuracy"], ha.history["accuracy"], rtol=1e-6)
    # Keras also brackets its first peek at the data with begin/end; the epochs themselves agree
    assert db.calls == ["begin", "end"] * 3 and da.calls[-6:] == db.calls
    ea = a.evaluate(dataset(k3), verbose=0, return_dict=True)
    eb = b.evaluate(dataset(pk), verbose=0, return_dict=True)
    assert abs(ea["loss"] - eb["loss"]) <= 1e-4 * max(1.0, ea["loss"])

    def gen():
        for i in range(0, 40, 10):
            yield x[i:i + 10], y[i:i + 10]
    ha = a.fit(gen(), epochs=2, steps_per_epoch=2, verbose=0)
    hb = b.fit(gen(), epochs=2, steps_per_epoch=2, verbose=0)
    np.testing.assert_allclose(hb.history["loss"], ha.history["loss"], rtol=1e-4)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        assert_close(wb, wa, rtol=1e-4, atol=1e-6, what="weights after a generator fit")
