"""The course's Keras code, verbatim after `import pyconvnet as keras` (and
`import pyconvnet as tf`), builds and trains on small real tasks: MNIST
samples and a noisy sum-of-sines series."""
from functools import partial

import numpy as np
import pytest

import pyconvnet as keras
import pyconvnet as tf
from keras_data import have_mnist, mnist_sample, generate_time_series

needs_mnist = pytest.mark.skipif(not have_mnist(), reason="MNIST not found under ../shared/data/mnist")


def course_cnn():
    model = keras.models.Sequential([
        keras.layers.Conv2D(64, 7, activation="relu", padding="same", input_shape=[28, 28, 1]),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(128, 3, activation="relu", padding="same"),
        keras.layers.Conv2D(128, 3, activation="relu", padding="same"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(256, 3, activation="relu", padding="same"),
        keras.layers.Conv2D(256, 3, activation="relu", padding="same"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(10, activation="softmax")])
    return model


depth_pool = keras.layers.Lambda(
    lambda X: tf.nn.max_pool(X, ksize=(1, 1, 1, 3), strides=(1, 1, 1, 3), padding="valid"))

DefaultConv2D = partial(keras.layers.Conv2D, kernel_size=3, strides=1, padding="SAME", use_bias=False)


class ResidualUnit(keras.layers.Layer):
    def __init__(self, filters, strides=1, activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.activation = keras.activations.get(activation)
        self.main_layers = [DefaultConv2D(filters, strides=strides), keras.layers.BatchNormalization(),
                            self.activation, DefaultConv2D(filters), keras.layers.BatchNormalization()]
        self.skip_layers = []
        if strides > 1:
            self.skip_layers = [DefaultConv2D(filters, kernel_size=1, strides=strides),
                                keras.layers.BatchNormalization()]

    def call(self, inputs):
        Z = inputs
        for layer in self.main_layers:
            Z = layer(Z)
        skip_Z = inputs
        for layer in self.skip_layers:
            skip_Z = layer(skip_Z)
        return self.activation(Z + skip_Z)


def rnn_model():
    model = keras.models.Sequential([
        keras.layers.SimpleRNN(20, return_sequences=True, input_shape=[None, 1]),
        keras.layers.SimpleRNN(20),
        keras.layers.Dense(1)])
    return model


@needs_mnist
def test_course_cnn_trains_on_mnist_sample():
    keras.utils.set_random_seed(0)
    (x, y), (xt, yt) = mnist_sample(256, 128)
    model = course_cnn()
    assert model.count_params() == 1413834
    lines = []
    model.summary(print_fn=lines.append)
    assert "(None, 3, 3, 256)" in "\n".join(lines) and "Total params: 1,413,834" in "\n".join(lines)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(1e-3),
                  metrics=["accuracy"])
    before = model.evaluate(xt, yt, verbose=0)
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)  # 8 steps through fit()
    b0 = model.test_on_batch(x[:32], y[:32])[0]  # inference mode: no dropout noise
    for _ in range(8):  # the same batch: its loss must fall
        model.train_on_batch(x[:32], y[:32])
    b1 = model.test_on_batch(x[:32], y[:32])[0]
    after = model.evaluate(xt, yt, verbose=0)
    assert b1 < b0 - 0.05, (b0, b1)
    assert np.isfinite(after[0]) and np.isfinite(before[0])  # accuracy bars: test_keras_slow.py


def test_depth_pool_lambda_is_differentiable():
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 6)).astype(np.float32)
    y = depth_pool(x)
    assert isinstance(y, np.ndarray)
    np.testing.assert_array_equal(y, x.reshape(2, 4, 4, 2, 3).max(-1))
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.layers.Conv2D(6, 3, padding="same", input_shape=[8, 8, 1]), depth_pool,
                          keras.layers.Flatten(), keras.layers.Dense(1)])
    assert m.layers[1].output_shape == (None, 8, 8, 2)
    m.compile(loss="mse", optimizer="sgd")
    xb = np.random.default_rng(1).normal(size=(8, 8, 8, 1)).astype(np.float32)
    yb = xb.mean(axis=(1, 2))
    w0 = m.layers[0].get_weights()[0].copy()
    m.train_on_batch(xb, yb)
    assert not np.array_equal(w0, m.layers[0].get_weights()[0])  # gradient reached the conv through max_pool


@needs_mnist
def test_residual_units_train_on_mnist_sample():
    keras.utils.set_random_seed(0)
    (x, y), (xt, yt) = mnist_sample(384, 256)
    model = keras.models.Sequential([
        DefaultConv2D(16, kernel_size=5, strides=2, input_shape=[28, 28, 1]),
        keras.layers.BatchNormalization(), keras.layers.Activation("relu"),
        keras.layers.MaxPool2D(pool_size=2, padding="SAME"),
        ResidualUnit(16), ResidualUnit(32, strides=2),
        keras.layers.GlobalAvgPool2D(), keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax")])
    ru = model.layers[4]
    assert len(ru.trainable_weights) == 6 and len(ru.non_trainable_weights) == 4
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    h = model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    assert h.history["loss"][-1] < 0.75 * h.history["loss"][0]
    assert h.history["accuracy"][-1] > 0.5


def test_simple_rnn_beats_naive_forecast_5x():
    keras.utils.set_random_seed(42)
    n_steps = 50
    series = generate_time_series(3000, n_steps + 1)
    X_train, y_train = series[:2000, :n_steps], series[:2000, -1]
    X_valid, y_valid = series[2000:, :n_steps], series[2000:, -1]
    naive = float(np.mean((X_valid[:, -1] - y_valid) ** 2))
    model = rnn_model()
    model.compile(loss="mse", optimizer=keras.optimizers.Adam(0.005))
    model.fit(X_train, y_train, epochs=8, batch_size=32, validation_data=(X_valid, y_valid), verbose=0)
    mse = model.evaluate(X_valid, y_valid, verbose=0)
    assert mse * 5 < naive, (mse, naive)
