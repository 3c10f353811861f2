"""Pictures: a digit through each classical filter, the first conv layer's filters and
its feature maps after a short training run. Writes PNGs to --out."""
import os

import numpy as np

import pyconvnet as keras
from pyconvnet import plot
from _common import parse

args = parse(__doc__, out="feature_maps_out", epochs=1)
os.makedirs(args.out, exist_ok=True)
(x_train, y_train), _ = keras.datasets.mnist.load_subset()
n = 512 if args.quick else 5000
x = (x_train[:n, ..., None] / 255.0).astype(np.float32)
plot.plot_filtered_images(x[0, :, :, 0], path=os.path.join(args.out, "classical_filters.png"))
model = keras.applications.LeNet5()
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y_train[:n], epochs=args.epochs, batch_size=64, verbose=2)
first_conv = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
plot.plot_filters(first_conv, path=os.path.join(args.out, "filters.png"))
probe = keras.Model(model.inputs, first_conv.output)
plot.plot_feature_maps(probe.predict(x[:1], verbose=0)[0], path=os.path.join(args.out, "feature_maps.png"))
print("wrote", sorted(os.listdir(args.out)))
