"""The course's stacked SimpleRNN forecasting a noisy sum of sines, beside the naive
(last value) and linear (Dense on the flattened window) baselines."""
import numpy as np

import pyconvnet as keras
from _common import parse


def generate_time_series(batch_size, n_steps, rng):
    freq1, freq2, offsets1, offsets2 = rng.random((4, batch_size, 1))
    time = np.linspace(0, 1, n_steps)
    series = 0.5 * np.sin((time - offsets1) * (freq1 * 10 + 10))
    series += 0.2 * np.sin((time - offsets2) * (freq2 * 20 + 20))
    series += 0.1 * (rng.random((batch_size, n_steps)) - 0.5)
    return series[..., np.newaxis].astype(np.float32)


args = parse(__doc__, epochs=20, n_series=10000)
if args.quick:
    args.epochs, args.n_series = 2, 1000
keras.utils.set_random_seed(42)
rng = np.random.default_rng(42)
n_steps = 50
series = generate_time_series(args.n_series, n_steps + 1, rng)
n_train, n_valid = int(0.7 * args.n_series), int(0.9 * args.n_series)
X_train, y_train = series[:n_train, :n_steps], series[:n_train, -1]
X_valid, y_valid = series[n_train:n_valid, :n_steps], series[n_train:n_valid, -1]
X_test, y_test = series[n_valid:, :n_steps], series[n_valid:, -1]

naive = float(np.mean((X_test[:, -1] - y_test) ** 2))

linear = keras.models.Sequential([keras.layers.Flatten(input_shape=[50, 1]), keras.layers.Dense(1)])
linear.compile(loss="mse", optimizer="adam")
linear.fit(X_train, y_train, epochs=args.epochs, validation_data=(X_valid, y_valid), verbose=0)
linear_mse = float(linear.evaluate(X_test, y_test, verbose=0))

model = keras.models.Sequential([
    keras.layers.SimpleRNN(20, return_sequences=True, input_shape=[None, 1]),
    keras.layers.SimpleRNN(20),
    keras.layers.Dense(1)])
model.compile(loss="mse", optimizer="adam")
model.fit(X_train, y_train, epochs=args.epochs, validation_data=(X_valid, y_valid), verbose=2)
rnn_mse = float(model.evaluate(X_test, y_test, verbose=0))
print("MSE naive %.5f | linear %.5f | stacked SimpleRNN %.5f" % (naive, linear_mse, rnn_mse))
