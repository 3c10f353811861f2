"""keras.applications builders with Keras 3's signatures, layer names and parameter counts.

``VGG16``, ``VGG19``, ``ResNet50``, ``ResNet101``, ``ResNet152`` and ``MobileNetV2`` build the
same graphs as ``keras.applications`` (same layer names, so ``model.get_layer("block5_conv3")``
works for feature maps), with ``include_top``, ``input_tensor``, ``input_shape``, ``pooling``,
``classes`` and ``classifier_activation`` as there.

Weights: pyconvnet ships no pretrained ImageNet weights and never downloads any, so
``weights="imagenet"`` (Keras's default) raises a ValueError that says so; ``weights=None``
gives a randomly initialized model and ``weights="<path>"`` loads a weights file saved by
pyconvnet (``model.save_weights``).

Each family also has its module, as in Keras: ``applications.vgg16.preprocess_input``,
``applications.resnet50.preprocess_input``, ``applications.mobilenet_v2.preprocess_input``.
"""
import os
import types
import warnings

import numpy as np

__all__ = ["VGG16", "VGG19", "ResNet50", "ResNet101", "ResNet152", "MobileNetV2", "preprocess_input_caffe",
           "preprocess_input_tf", "get_source_inputs"]

_BN_EPS_RESNET = 1.001e-5


def _layers():
    from . import layers, models
    return layers, models


def get_source_inputs(tensor):
    """The Input KerasTensors a symbolic tensor was computed from (keras.utils.get_source_inputs)."""
    from .layers.base import InputLayer, KerasTensor
    if not isinstance(tensor, KerasTensor):
        raise TypeError("get_source_inputs: expected a symbolic KerasTensor, got %s" % type(tensor).__name__)
    out, seen, stack = [], set(), [tensor]
    while stack:
        t = stack.pop()
        hist = t._keras_history
        if hist is None:
            raise ValueError("get_source_inputs: tensor %r was not produced by a layer call" % (t.name,))
        layer, node_index, _ = hist
        if isinstance(layer, InputLayer):
            if id(t) not in seen:
                seen.add(id(t))
                out.append(t)
            continue
        stack.extend(reversed(layer._inbound_nodes[node_index].flat_inputs))
    return out


def _check_weights(weights, include_top, classes, fn):
    if weights is None:
        return
    if isinstance(weights, (str, os.PathLike)) and os.fspath(weights) == "imagenet":
        raise ValueError(
            "%s: weights='imagenet' (the Keras default) asks for pretrained ImageNet weights, which "
            "pyconvnet does not ship or download. Pass weights=None for a randomly initialized model, or "
            "the path of a weights file saved by pyconvnet (model.save_weights)." % fn)
    if not isinstance(weights, (str, os.PathLike)) or not os.path.exists(weights):
        raise ValueError("%s: the `weights` argument should be either None (random initialization), 'imagenet' "
                         "or the path to the weights file to be loaded. Received: weights=%r" % (fn, weights))


def _input_shape(input_shape, default_size, min_size, include_top, fn):
    """keras.applications' obtain_input_shape for channels_last and weights != 'imagenet'."""
    if input_shape is not None:
        input_shape = tuple(None if d is None else int(d) for d in input_shape)
        if len(input_shape) != 3:
            raise ValueError("%s: `input_shape` must be a tuple of three integers (height, width, channels). "
                             "Received: input_shape=%r" % (fn, input_shape))
        if input_shape[-1] not in (1, 3):
            warnings.warn("This model usually expects 1 or 3 input channels. However, it was passed an "
                          "input_shape with %s input channels." % (input_shape[-1],), stacklevel=3)
        for d in input_shape[:2]:
            if d is not None and d < min_size:
                raise ValueError("%s: input size must be at least %dx%d; Received: input_shape=%r"
                                 % (fn, min_size, min_size, input_shape))
        if include_top and None in input_shape:
            raise ValueError("%s: if include_top is True, you should specify a static `input_shape`. "
                             "Received: input_shape=%r" % (fn, input_shape))
        return input_shape
    return (default_size, default_size, 3) if include_top else (None, None, 3)


def _inputs(input_tensor, input_shape):
    layers, _ = _layers()
    from .layers.base import KerasTensor
    if input_tensor is None:
        return layers.Input(shape=input_shape), None
    if not isinstance(input_tensor, KerasTensor):
        raise TypeError("input_tensor must be a symbolic tensor from keras.Input (or computed from one), "
                        "got %s" % type(input_tensor).__name__)
    return input_tensor, get_source_inputs(input_tensor)


def _check_pooling(pooling, fn):
    if pooling not in (None, "avg", "max"):
        raise ValueError("%s: pooling must be None, 'avg' or 'max', got %r" % (fn, pooling))


def _finish(x, img_input, sources, weights, name, include_top, pooling, gap_name=None, gmp_name=None):
    layers, models = _layers()
    if not include_top:
        if pooling == "avg":
            x = layers.GlobalAveragePooling2D(name=gap_name)(x)
        elif pooling == "max":
            x = layers.GlobalMaxPooling2D(name=gmp_name)(x)
    inputs = sources if sources is not None else img_input
    if isinstance(inputs, list) and len(inputs) == 1:
        inputs = inputs[0]
    model = models.Model(inputs, x, name=name)
    if weights is not None:
        model.load_weights(weights)
    return model


# ----------------------------------------------------------------------------- VGG
def _vgg(blocks, name, include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation):
    fn = name.upper()
    _check_weights(weights, include_top, classes, fn)
    _check_pooling(pooling, fn)
    layers, _ = _layers()
    img_input, sources = _inputs(input_tensor, _input_shape(input_shape, 224, 32, include_top, fn))
    x = img_input
    for b, (filters, n) in enumerate(blocks, start=1):
        for i in range(1, n + 1):
            x = layers.Conv2D(filters, (3, 3), activation="relu", padding="same", name="block%d_conv%d" % (b, i))(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name="block%d_pool" % b)(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    return _finish(x, img_input, sources, weights, name, include_top, pooling)


def VGG16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation="softmax", name="vgg16"):
    """VGG16 (Simonyan & Zisserman 2014): 13 3x3 convolutions in 5 blocks, then fc1/fc2 4096 and
    `classes` outputs. 138,357,544 parameters at 224x224x3 with the top."""
    return _vgg([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)], name, include_top, weights, input_tensor,
                input_shape, pooling, classes, classifier_activation)


def VGG19(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation="softmax", name="vgg19"):
    """VGG19: as VGG16 with 4 convolutions in blocks 3-5. 143,667,240 parameters with the top."""
    return _vgg([(64, 2), (128, 2), (256, 4), (512, 4), (512, 4)], name, include_top, weights, input_tensor,
                input_shape, pooling, classes, classifier_activation)


# ----------------------------------------------------------------------------- ResNet (v1)
def _bottleneck(x, filters, stride=1, conv_shortcut=True, name=None):
    layers, _ = _layers()
    bn = lambda n: layers.BatchNormalization(axis=3, epsilon=_BN_EPS_RESNET, name=n)  # noqa: E731
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=name + "_0_conv")(x)
        shortcut = bn(name + "_0_bn")(shortcut)
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=name + "_1_conv")(x)
    x = bn(name + "_1_bn")(x)
    x = layers.Activation("relu", name=name + "_1_relu")(x)
    x = layers.Conv2D(filters, 3, padding="SAME", name=name + "_2_conv")(x)
    x = bn(name + "_2_bn")(x)
    x = layers.Activation("relu", name=name + "_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=name + "_3_conv")(x)
    x = bn(name + "_3_bn")(x)
    x = layers.Add(name=name + "_add")([shortcut, x])
    return layers.Activation("relu", name=name + "_out")(x)


def _stack(x, filters, blocks, stride1=2, name=None):
    x = _bottleneck(x, filters, stride=stride1, name=name + "_block1")
    for i in range(2, blocks + 1):
        x = _bottleneck(x, filters, conv_shortcut=False, name="%s_block%d" % (name, i))
    return x


def _resnet(depths, name, include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation):
    fn = {"resnet50": "ResNet50", "resnet101": "ResNet101", "resnet152": "ResNet152"}.get(name, name)
    _check_weights(weights, include_top, classes, fn)
    _check_pooling(pooling, fn)
    layers, _ = _layers()
    img_input, sources = _inputs(input_tensor, _input_shape(input_shape, 224, 32, include_top, fn))
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=True, name="conv1_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=_BN_EPS_RESNET, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for i, (filters, n) in enumerate(zip((64, 128, 256, 512), depths)):
        x = _stack(x, filters, n, stride1=1 if i == 0 else 2, name="conv%d" % (i + 2))
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    return _finish(x, img_input, sources, weights, name, include_top, pooling, gap_name="avg_pool",
                   gmp_name="max_pool")


def ResNet50(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", name="resnet50"):
    """ResNet-50 v1 (He et al. 2015, bottleneck blocks 3-4-6-3). 25,636,712 parameters with the top."""
    return _resnet((3, 4, 6, 3), name, include_top, weights, input_tensor, input_shape, pooling, classes,
                   classifier_activation)


def ResNet101(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
              classes=1000, classifier_activation="softmax", name="resnet101"):
    """ResNet-101 v1 (bottleneck blocks 3-4-23-3). 44,707,176 parameters with the top."""
    return _resnet((3, 4, 23, 3), name, include_top, weights, input_tensor, input_shape, pooling, classes,
                   classifier_activation)


def ResNet152(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
              classes=1000, classifier_activation="softmax", name="resnet152"):
    """ResNet-152 v1 (bottleneck blocks 3-8-36-3). 60,419,944 parameters with the top."""
    return _resnet((3, 8, 36, 3), name, include_top, weights, input_tensor, input_shape, pooling, classes,
                   classifier_activation)


# ----------------------------------------------------------------------------- MobileNetV2
def _make_divisible(v, divisor, min_value=None):
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:  # rounding down must not lose more than 10%
        new_v += divisor
    return new_v


def _correct_pad(shape, kernel_size):
    """Padding ((top, bottom), (left, right)) that makes a stride-2 'valid' conv act like TF 'same'."""
    h, w = shape[1], shape[2]
    adjust = (1, 1) if h is None else (1 - h % 2, 1 - w % 2)
    c = kernel_size // 2
    return ((c - adjust[0], c), (c - adjust[1], c))


def _inverted_res_block(x, expansion, stride, alpha, filters, block_id):
    layers, _ = _layers()
    inputs = x
    in_channels = x.shape[-1]
    pointwise_filters = _make_divisible(int(filters * alpha), 8)
    bn = lambda n: layers.BatchNormalization(axis=-1, epsilon=1e-3, momentum=0.999, name=n)  # noqa: E731
    prefix = "block_%d_" % block_id
    if block_id:
        x = layers.Conv2D(expansion * in_channels, kernel_size=1, padding="same", use_bias=False, activation=None,
                          name=prefix + "expand")(x)
        x = bn(prefix + "expand_BN")(x)
        x = layers.ReLU(6.0, name=prefix + "expand_relu")(x)
    else:
        prefix = "expanded_conv_"
    if stride == 2:
        x = layers.ZeroPadding2D(padding=_correct_pad(x.shape, 3), name=prefix + "pad")(x)
    x = layers.DepthwiseConv2D(kernel_size=3, strides=stride, activation=None, use_bias=False,
                               padding="same" if stride == 1 else "valid", name=prefix + "depthwise")(x)
    x = bn(prefix + "depthwise_BN")(x)
    x = layers.ReLU(6.0, name=prefix + "depthwise_relu")(x)
    x = layers.Conv2D(pointwise_filters, kernel_size=1, padding="same", use_bias=False, activation=None,
                      name=prefix + "project")(x)
    x = bn(prefix + "project_BN")(x)
    if in_channels == pointwise_filters and stride == 1:
        return layers.Add(name=prefix + "add")([inputs, x])
    return x


_MNV2_BLOCKS = [  # (filters, stride, expansion) for block_id 0..16
    (16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6), (64, 2, 6), (64, 1, 6), (64, 1, 6),
    (64, 1, 6), (96, 1, 6), (96, 1, 6), (96, 1, 6), (160, 2, 6), (160, 1, 6), (160, 1, 6), (320, 1, 6)]


def MobileNetV2(input_shape=None, alpha=1.0, include_top=True, weights="imagenet", input_tensor=None, pooling=None,
                classes=1000, classifier_activation="softmax", name=None):
    """MobileNetV2 (Sandler et al. 2018): inverted residual blocks with linear bottlenecks, ReLU6.
    3,538,984 parameters at alpha 1.0 with the top."""
    fn = "MobileNetV2"
    _check_weights(weights, include_top, classes, fn)
    _check_pooling(pooling, fn)
    if alpha <= 0:
        raise ValueError("MobileNetV2: alpha must be positive, got %r" % (alpha,))
    layers, _ = _layers()
    shape = _input_shape(input_shape, 224, 32, include_top, fn)
    img_input, sources = _inputs(input_tensor, shape)
    rows = img_input.shape[1] if img_input.shape[1] is not None else 224
    x = layers.Conv2D(_make_divisible(32 * alpha, 8), kernel_size=3, strides=(2, 2), padding="same",
                      use_bias=False, name="Conv1")(img_input)
    x = layers.BatchNormalization(axis=-1, epsilon=1e-3, momentum=0.999, name="bn_Conv1")(x)
    x = layers.ReLU(6.0, name="Conv1_relu")(x)
    for block_id, (filters, stride, expansion) in enumerate(_MNV2_BLOCKS):
        x = _inverted_res_block(x, expansion, stride, alpha, filters, block_id)
    last = _make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = layers.Conv2D(last, kernel_size=1, use_bias=False, name="Conv_1")(x)
    x = layers.BatchNormalization(axis=-1, epsilon=1e-3, momentum=0.999, name="Conv_1_bn")(x)
    x = layers.ReLU(6.0, name="out_relu")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D()(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    name = name or "mobilenetv2_%0.2f_%s" % (alpha, rows)
    return _finish(x, img_input, sources, weights, name, include_top, pooling)


# ----------------------------------------------------------------------------- preprocessing
_CAFFE_MEAN = np.array([103.939, 116.779, 123.68], np.float32)  # BGR ImageNet means


def _as_float(x):
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise TypeError("preprocess_input: expected a numeric array, got dtype %s" % a.dtype)
    if a.ndim < 1 or a.shape[-1] != 3:
        raise ValueError("preprocess_input: expected images with 3 channels last (..., 3), got shape %s"
                         % (a.shape,))
    return a.astype(np.float32) if a.dtype != np.float32 else a.copy()


def preprocess_input_caffe(x, data_format=None):
    """'caffe' mode (VGG, ResNet v1): RGB -> BGR, then subtract the ImageNet channel means; no scaling."""
    if data_format not in (None, "channels_last"):
        raise NotImplementedError("preprocess_input: only data_format='channels_last' is supported")
    a = _as_float(x)[..., ::-1]
    return np.ascontiguousarray(a - _CAFFE_MEAN)


def preprocess_input_tf(x, data_format=None):
    """'tf' mode (MobileNetV2): scale pixels in [0, 255] to [-1, 1]."""
    if data_format not in (None, "channels_last"):
        raise NotImplementedError("preprocess_input: only data_format='channels_last' is supported")
    a = _as_float(x)
    return a / 127.5 - 1.0


def _module(name, doc, **members):
    m = types.ModuleType("pyconvnet.applications." + name, doc)
    for k, v in members.items():
        setattr(m, k, v)
    return m


vgg16 = _module("vgg16", "keras.applications.vgg16", VGG16=VGG16, preprocess_input=preprocess_input_caffe)
vgg19 = _module("vgg19", "keras.applications.vgg19", VGG19=VGG19, preprocess_input=preprocess_input_caffe)
resnet = _module("resnet", "keras.applications.resnet", ResNet50=ResNet50, ResNet101=ResNet101,
                 ResNet152=ResNet152, preprocess_input=preprocess_input_caffe)
resnet50 = _module("resnet50", "keras.applications.resnet50", ResNet50=ResNet50,
                   preprocess_input=preprocess_input_caffe)
mobilenet_v2 = _module("mobilenet_v2", "keras.applications.mobilenet_v2", MobileNetV2=MobileNetV2,
                       preprocess_input=preprocess_input_tf)
