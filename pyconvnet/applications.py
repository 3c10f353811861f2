"""The classic architectures, as builders returning Keras-style models.

Each builder takes ``input_shape`` and ``classes`` and returns an unbuilt-free,
ready-to-compile model whose ``summary()`` parameter count matches the
published count for the standard configuration:

==============  ==================  ==================================================
builder         standard config     parameters (total = trainable + non-trainable)
==============  ==================  ==================================================
LeNet5          32x32x1, 10         61,706 (LeCun et al. 1998, C5 as a 5x5 conv)
AlexNet         227x227x3, 1000     62,378,344 (Krizhevsky et al. 2012, ungrouped)
GoogLeNet       224x224x3, 1000     6,998,552 (Szegedy et al. 2014, no aux heads)
ResNet34        224x224x3, 1000     21,797,672 trainable (+ 17,024 BN moving stats)
FashionCNN      28x28x1, 10         1,413,834 (the course's CNN)
==============  ==================  ==================================================

Beside them, the Keras builders with Keras 3's signatures and layer names (VGG16, VGG19,
ResNet50/101/152, MobileNetV2 and their ``preprocess_input`` modules; random weights only,
see applications_keras.py).
"""
from functools import partial

from .applications_keras import (VGG16, VGG19, ResNet50, ResNet101, ResNet152, MobileNetV2,  # noqa: F401
                                 vgg16, vgg19, resnet, resnet50, mobilenet_v2)

__all__ = ["LeNet5", "AlexNet", "GoogLeNet", "ResNet34", "FashionCNN", "ResidualUnit", "get", "names",
           "VGG16", "VGG19", "ResNet50", "ResNet101", "ResNet152", "MobileNetV2",
           "vgg16", "vgg19", "resnet", "resnet50", "mobilenet_v2"]


def _keras():
    from . import layers, models, activations
    return layers, models, activations


def LeNet5(input_shape=(28, 28, 1), classes=10, activation="tanh", output_activation="softmax"):
    """LeNet-5 (1998): inputs zero-padded to 32x32, tanh, average-pool subsampling.

    C1 6@5x5 -> S2 avg 2x2/2 -> C3 16@5x5 -> S4 avg 2x2/2 -> C5 120@5x5 -> F6 84 -> output.
    28x28 inputs are zero-padded by 2 on each side (the paper's 32x32 field; 32x32 inputs
    are used as they are), then inputs in [0, 1] (background 0) are mapped to
    [-0.1, 1.175] as in the paper, which makes the mean input roughly 0 and its variance
    roughly 1 for the tanh units.
    """
    layers, models, _ = _keras()
    h, w = int(input_shape[0]), int(input_shape[1])
    pad = ((32 - h) // 2, (32 - w) // 2) if h < 32 and w < 32 else (0, 0)
    seq = [layers.Input(shape=tuple(input_shape))]
    if pad != (0, 0):
        seq.append(layers.ZeroPadding2D(padding=((pad[0], 32 - h - pad[0]), (pad[1], 32 - w - pad[1]))))
    seq.append(layers.Rescaling(1.275, offset=-0.1, name="normalize"))
    seq += [
        layers.Conv2D(6, 5, activation=activation, name="C1"),
        layers.AveragePooling2D(2, name="S2"),
        layers.Conv2D(16, 5, activation=activation, name="C3"),
        layers.AveragePooling2D(2, name="S4"),
        layers.Conv2D(120, 5, activation=activation, name="C5"),
        layers.Flatten(),
        layers.Dense(84, activation=activation, name="F6"),
        layers.Dense(classes, activation=output_activation, name="output"),
    ]
    return models.Sequential(seq, name="lenet5")


def AlexNet(input_shape=(227, 227, 3), classes=1000, dropout=0.5):
    """AlexNet (2012), single-tower: 11x11/4 conv, LRN after C1 and C3, overlapping
    3x3/2 max-pools, 4096-4096 dense with 50% dropout."""
    layers, models, _ = _keras()
    LRN = partial(layers.LocalResponseNormalization, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75)
    return models.Sequential([
        layers.Input(shape=tuple(input_shape)),
        layers.Conv2D(96, 11, strides=4, padding="valid", activation="relu", name="C1"),
        LRN(name="LRN1"),
        layers.MaxPooling2D(3, strides=2, padding="valid", name="S2"),
        layers.Conv2D(256, 5, padding="same", activation="relu", name="C3"),
        LRN(name="LRN3"),
        layers.MaxPooling2D(3, strides=2, padding="valid", name="S4"),
        layers.Conv2D(384, 3, padding="same", activation="relu", name="C5"),
        layers.Conv2D(384, 3, padding="same", activation="relu", name="C6"),
        layers.Conv2D(256, 3, padding="same", activation="relu", name="C7"),
        layers.MaxPooling2D(3, strides=2, padding="valid", name="S8"),
        layers.Flatten(),
        layers.Dense(4096, activation="relu", name="F9"),
        layers.Dropout(dropout),
        layers.Dense(4096, activation="relu", name="F10"),
        layers.Dropout(dropout),
        layers.Dense(classes, activation="softmax", name="output"),
    ], name="alexnet")


def _inception(layers, x, f1, f3r, f3, f5r, f5, fp, name):
    """One inception module: 1x1 | 1x1->3x3 | 1x1->5x5 | 3x3 maxpool->1x1, concatenated over channels."""
    conv = partial(layers.Conv2D, padding="same", activation="relu")
    b1 = conv(f1, 1, name=name + "_1x1")(x)
    b2 = conv(f3, 3, name=name + "_3x3")(conv(f3r, 1, name=name + "_3x3_reduce")(x))
    b3 = conv(f5, 5, name=name + "_5x5")(conv(f5r, 1, name=name + "_5x5_reduce")(x))
    b4 = conv(fp, 1, name=name + "_pool_proj")(layers.MaxPooling2D(3, strides=1, padding="same",
                                                                    name=name + "_pool")(x))
    return layers.Concatenate(axis=-1, name=name + "_concat")([b1, b2, b3, b4])


def GoogLeNet(input_shape=(224, 224, 3), classes=1000, dropout=0.4):
    """GoogLeNet / Inception v1 (2014) without the auxiliary classifiers."""
    layers, models, _ = _keras()
    conv = partial(layers.Conv2D, padding="same", activation="relu")
    LRN = partial(layers.LocalResponseNormalization, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75)
    inp = layers.Input(shape=tuple(input_shape))
    x = conv(64, 7, strides=2, name="conv1")(inp)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    x = LRN(name="lrn1")(x)
    x = conv(64, 1, name="conv2_reduce")(x)
    x = conv(192, 3, name="conv2")(x)
    x = LRN(name="lrn2")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool2")(x)
    x = _inception(layers, x, 64, 96, 128, 16, 32, 32, "inception_3a")
    x = _inception(layers, x, 128, 128, 192, 32, 96, 64, "inception_3b")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool3")(x)
    x = _inception(layers, x, 192, 96, 208, 16, 48, 64, "inception_4a")
    x = _inception(layers, x, 160, 112, 224, 24, 64, 64, "inception_4b")
    x = _inception(layers, x, 128, 128, 256, 24, 64, 64, "inception_4c")
    x = _inception(layers, x, 112, 144, 288, 32, 64, 64, "inception_4d")
    x = _inception(layers, x, 256, 160, 320, 32, 128, 128, "inception_4e")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool4")(x)
    x = _inception(layers, x, 256, 160, 320, 32, 128, 128, "inception_5a")
    x = _inception(layers, x, 384, 192, 384, 48, 128, 128, "inception_5b")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dropout(dropout)(x)
    out = layers.Dense(classes, activation="softmax", name="output")(x)
    return models.Model(inp, out, name="googlenet")


def ResidualUnit(filters, strides=1, activation="relu", **kwargs):
    """The course's ResidualUnit layer (two 3x3 convs + BN, 1x1/stride skip when strides > 1)."""
    layers, _, activations = _keras()

    class _ResidualUnit(layers.Layer):
        def __init__(self, filters, strides=1, activation="relu", **kw):
            super().__init__(**kw)
            conv = partial(layers.Conv2D, kernel_size=3, strides=1, padding="same", use_bias=False)
            self.filters, self.strides = filters, strides
            self.activation = activations.get(activation)
            self.main_layers = [conv(filters, strides=strides), layers.BatchNormalization(),
                                self.activation, conv(filters), layers.BatchNormalization()]
            self.skip_layers = []
            if strides > 1:
                self.skip_layers = [conv(filters, kernel_size=1, strides=strides),
                                    layers.BatchNormalization()]

        def call(self, inputs):
            z = inputs
            for layer in self.main_layers:
                z = layer(z)
            skip = inputs
            for layer in self.skip_layers:
                skip = layer(skip)
            return self.activation(z + skip)

    return _ResidualUnit(filters, strides, activation, **kwargs)


def ResNet34(input_shape=(224, 224, 3), classes=1000):
    """ResNet-34: 7x7/2 conv, 3x3/2 max-pool, ResidualUnits 64x3, 128x4, 256x6, 512x3, global average pool."""
    layers, models, _ = _keras()
    seq = [layers.Input(shape=tuple(input_shape)),
           layers.Conv2D(64, 7, strides=2, padding="same", use_bias=False, name="conv1"),
           layers.BatchNormalization(name="bn1"),
           layers.Activation("relu"),
           layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")]
    prev = 64
    for filters in [64] * 3 + [128] * 4 + [256] * 6 + [512] * 3:
        seq.append(ResidualUnit(filters, strides=1 if filters == prev else 2))
        prev = filters
    seq += [layers.GlobalAveragePooling2D(), layers.Flatten(),
            layers.Dense(classes, activation="softmax", name="output")]
    return models.Sequential(seq, name="resnet34")


def FashionCNN(input_shape=(28, 28, 1), classes=10):
    """The course's Fashion-MNIST CNN (64 7x7, then 128-128 and 256-256 3x3 blocks, dense 128-64)."""
    layers, models, _ = _keras()
    conv = partial(layers.Conv2D, kernel_size=3, activation="relu", padding="same")
    return models.Sequential([
        layers.Input(shape=tuple(input_shape)),
        conv(64, kernel_size=7),
        layers.MaxPooling2D(2),
        conv(128), conv(128),
        layers.MaxPooling2D(2),
        conv(256), conv(256),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(64, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(classes, activation="softmax"),
    ], name="fashion_cnn")


_REGISTRY = {"lenet5": LeNet5, "alexnet": AlexNet, "googlenet": GoogLeNet, "resnet34": ResNet34,
             "fashion_cnn": FashionCNN, "cnn": FashionCNN}


def names():
    """Names accepted by get() and the CLI's --model."""
    return sorted(_REGISTRY)


def get(name):
    """The builder for a model name (case-insensitive); ValueError lists the known names."""
    key = str(name).lower().replace("-", "").replace("_", "") if name else ""
    for k, fn in _REGISTRY.items():
        if k.replace("_", "") == key:
            return fn
    raise ValueError("unknown model %r; known models: %s" % (name, ", ".join(names())))
