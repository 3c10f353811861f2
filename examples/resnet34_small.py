"""ResNet-34 (the course's ResidualUnit stack) on 32x32 inputs: a few training steps."""
import numpy as np

import pyconvnet as keras
from _common import parse

args = parse(__doc__, steps=5, batch_size=16)
if args.quick:
    args.steps, args.batch_size = 1, 4
model = keras.applications.ResNet34(input_shape=(32, 32, 3), classes=10)
model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
model.summary()
rng = np.random.default_rng(0)
x = rng.standard_normal((args.batch_size, 32, 32, 3)).astype(np.float32)
y = rng.integers(0, 10, args.batch_size)
for step in range(args.steps):
    loss, acc = model.train_on_batch(x, y)
    print("step %d: loss %.4f, accuracy %.3f" % (step, loss, acc))
