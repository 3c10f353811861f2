"""The course's CNN on Fashion-MNIST (falls back to the bundled MNIST subset offline)."""
import numpy as np

import pyconvnet as keras
from _common import parse

args = parse(__doc__, epochs=5, batch_size=64)
try:
    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
except (OSError, RuntimeError, ValueError) as e:
    print("Fashion-MNIST not available (%s); using the bundled MNIST subset" % str(e).splitlines()[0])
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_subset()
if args.quick:
    x_train, y_train, x_test, y_test = x_train[:256], y_train[:256], x_test[:128], y_test[:128]
    args.epochs = 1
x_train = (x_train[..., None] / 255.0).astype(np.float32)
x_test = (x_test[..., None] / 255.0).astype(np.float32)

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
model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size, validation_split=0.1, verbose=2)
print("test accuracy: %.4f" % model.evaluate(x_test, y_test, verbose=0)[1])
