"""keras.applications builders (VGG16/19, ResNet50/101/152, MobileNetV2): Keras 3's signatures,
layer names, published parameter counts, no pretrained weights; and model.layers in Keras 3's
order for branched functional graphs, so get_weights()/set_weights() move between the two."""
import os

import numpy as np
import pytest

import pyconvnet as keras
from pyconvnet import applications as apps


@pytest.mark.parametrize("fn,kw,total", [
    ("VGG16", {}, 138_357_544),
    ("VGG19", {}, 143_667_240),
    ("ResNet50", {}, 25_636_712),
    ("ResNet101", {}, 44_707_176),
    ("ResNet152", {}, 60_419_944),
    ("MobileNetV2", {}, 3_538_984),
    ("ResNet50", dict(include_top=False, input_shape=(64, 64, 3), pooling="avg"), 23_587_712),
    ("VGG16", dict(input_shape=(32, 32, 3), classes=10), 33_638_218),
    ("MobileNetV2", dict(alpha=0.35, include_top=False, input_shape=(97, 97, 3)), 410_208),
])
def test_published_parameter_counts(fn, kw, total):
    m = getattr(keras.applications, fn)(weights=None, **kw)
    assert m.count_params() == total


def test_layer_names_follow_keras():
    m = apps.ResNet50(weights=None, include_top=False, input_shape=(32, 32, 3))
    names = [l.name for l in m.layers]
    # bottleneck block: main path before the projection shortcut (Keras orders by depth)
    i = names.index
    assert names[1:7] == ["conv1_pad", "conv1_conv", "conv1_bn", "conv1_relu", "pool1_pad", "pool1_pool"]
    assert i("conv2_block1_1_conv") < i("conv2_block1_0_conv") < i("conv2_block1_add")
    assert names[-1] == "conv5_block3_out" and m.output_shape == (None, 1, 1, 2048)
    v = apps.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="max")
    assert v.get_layer("block5_conv3").output_shape == (None, 2, 2, 512)
    assert v.output_shape == (None, 512)
    mn = apps.MobileNetV2(weights=None, input_shape=(96, 96, 3), classes=3)
    assert mn.name == "mobilenetv2_1.00_96"
    assert mn.get_layer("block_16_project_BN").output_shape == (None, 3, 3, 320)


def test_no_pretrained_weights_and_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="ImageNet weights"):
        apps.ResNet50()  # the Keras default asks for ImageNet weights
    with pytest.raises(ValueError, match="weights"):
        apps.VGG16(weights=str(tmp_path / "missing.weights.h5"))
    with pytest.raises(ValueError, match="pooling"):
        apps.VGG16(weights=None, include_top=False, pooling="mean")
    with pytest.raises(ValueError, match="at least 32x32"):
        apps.ResNet50(weights=None, include_top=False, input_shape=(16, 16, 3))
    with pytest.raises(ValueError, match="static"):
        apps.VGG16(weights=None, include_top=True, input_shape=(None, None, 3))
    with pytest.raises(TypeError, match="input_tensor"):
        apps.VGG16(weights=None, input_tensor=np.zeros((1, 32, 32, 3)))


def test_weights_file_and_input_tensor_train(tmp_path):
    keras.utils.set_random_seed(0)
    inp = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 255.)(inp)
    base = apps.ResNet50(weights=None, include_top=False, input_tensor=x, pooling="avg")
    assert base.inputs[0] is inp  # the source Input, as keras.utils.get_source_inputs finds it
    out = keras.layers.Dense(3, activation="softmax")(base.output)
    model = keras.Model(inp, out)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(0.01))
    rng = np.random.default_rng(0)
    xb = rng.uniform(0, 255, (4, 32, 32, 3)).astype(np.float32)
    yb = np.array([0, 1, 2, 1])
    w0 = [w.copy() for w in model.get_weights()]
    model.train_on_batch(xb, yb)
    assert not np.array_equal(w0[1], model.get_weights()[1])
    path = tmp_path / "r50.weights.h5"
    base.save_weights(path)
    again = apps.ResNet50(weights=str(path), include_top=False, input_shape=(32, 32, 3), pooling="avg")
    for a, b in zip(base.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_preprocess_input_modes():
    x = np.random.default_rng(1).uniform(0, 255, (2, 4, 5, 3)).astype(np.float32)
    caffe = apps.resnet50.preprocess_input(x)
    ref = x.astype(np.float64)[..., ::-1] - np.array([103.939, 116.779, 123.68])
    np.testing.assert_allclose(caffe, ref, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(apps.mobilenet_v2.preprocess_input(x), x / 127.5 - 1, rtol=1e-6, atol=1e-6)
    assert apps.vgg16.preprocess_input is apps.resnet50.preprocess_input
    with pytest.raises(ValueError, match="3 channels"):
        apps.vgg16.preprocess_input(np.zeros((2, 2, 4)))


def _branched(L, M):
    a = L.Input((4,), name="a")
    b = L.Input((3,), name="b")
    shared = L.Dense(2, name="shared")
    x = L.Dense(5, name="d1")(a)
    y = L.Dense(5, name="d2")(b)
    z = L.Dense(4, name="d3")(L.Concatenate(name="cat")([x, y]))
    s = L.Add(name="add")([z, L.Dense(4, name="d4")(x)])
    out = L.Add(name="add2")([shared(s), shared(L.Dense(4, name="d5")(y))])
    return M.Model([a, b], out)


def test_functional_layer_order_is_keras_order():
    # Keras 3 (keras.src.ops.function.map_graph): depth from the outputs, deepest first; ties
    # by first visit from the outputs. A shared layer sits at the depth of its deepest call.
    m = _branched(keras.layers, keras)
    assert [l.name for l in m.layers] == ["a", "b", "d1", "d2", "cat", "d3", "d4", "add", "d5", "shared", "add2"]
    x = [np.ones((2, 4), np.float32), np.ones((2, 3), np.float32)]
    y0 = m.predict(x, verbose=0)
    m.set_weights(m.get_weights())
    np.testing.assert_array_equal(y0, m.predict(x, verbose=0))


def test_layer_order_and_outputs_match_keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    k3 = pytest.importorskip("keras")
    if k3.backend.backend() != "torch":
        pytest.skip("Keras 3 present but not on the torch backend")
    km, pm = _branched(k3.layers, k3), _branched(keras.layers, keras)
    assert [l.name for l in km.layers] == [l.name for l in pm.layers]
    pm.set_weights(km.get_weights())
    x = [np.random.default_rng(2).normal(size=(3, 4)).astype(np.float32),
         np.random.default_rng(3).normal(size=(3, 3)).astype(np.float32)]
    np.testing.assert_allclose(pm.predict(x, verbose=0), km.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    for fn, kw in [("ResNet50", dict(input_shape=(32, 32, 3), classes=5)),
                   ("MobileNetV2", dict(input_shape=(35, 35, 3), classes=4, alpha=0.5)),
                   ("VGG19", dict(include_top=False, input_shape=(32, 32, 3)))]:
        km = getattr(k3.applications, fn)(weights=None, **kw)
        pm = getattr(keras.applications, fn)(weights=None, **kw)
        auto = lambda n: n.split("_")[0] in ("global", "input")  # noqa: E731  (auto-named: counters differ)
        assert [l.name for l in km.layers if not auto(l.name)] == [l.name for l in pm.layers if not auto(l.name)]
        assert [w.shape for w in km.get_weights()] == [w.shape for w in pm.get_weights()], fn
        assert km.count_params() == pm.count_params()
        pm.set_weights(km.get_weights())
        xb = np.random.default_rng(4).uniform(0, 1, (2,) + kw["input_shape"]).astype(np.float32)
        np.testing.assert_allclose(pm.predict(xb, verbose=0), km.predict(xb, verbose=0), rtol=1e-4, atol=1e-5)


def test_weights_saved_in_another_order_load_by_path(tmp_path):
    # a file whose entries are the model's weights in another order (as written before
    # model.layers followed Keras's order) is matched by weight path, not by position
    import json
    m = _branched(keras.layers, keras)
    ws = m.weights
    perm = list(range(len(ws)))[::-1]
    header = {"format": "pyconvnet.weights", "version": 1, "model": m.name,
              "weights": [{"path": ws[i].path, "shape": list(ws[i].shape)} for i in perm]}
    rng = np.random.default_rng(5)
    vals = [rng.normal(size=ws[i].shape).astype(np.float32) for i in perm]
    arrays = {"w%05d" % k: v for k, v in enumerate(vals)}
    arrays["__header__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    path = tmp_path / "old.weights.npz"
    np.savez(path, **arrays)
    m.load_weights(path)
    for k, i in enumerate(perm):
        np.testing.assert_array_equal(m.weights[i].numpy(), vals[k])
