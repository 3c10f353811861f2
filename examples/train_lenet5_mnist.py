"""Train LeNet-5 on MNIST (the bundled subset unless --data points at the full IDX files)."""
import numpy as np

import pyconvnet as keras
from _common import parse

args = parse(__doc__, epochs=10, batch_size=64, data="")
if args.data:
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data(path=args.data)
else:
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_subset()
if args.quick:
    x_train, y_train, x_test, y_test = x_train[:512], y_train[:512], x_test[:256], y_test[:256]
    args.epochs = 1
x_train = (x_train[..., None] / 255.0).astype(np.float32)
x_test = (x_test[..., None] / 255.0).astype(np.float32)

model = keras.applications.LeNet5(input_shape=(28, 28, 1), classes=10)
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.summary()
model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, validation_split=0.1, verbose=2)
loss, acc = model.evaluate(x_test, y_test, verbose=0)
print("test accuracy: %.4f" % acc)
