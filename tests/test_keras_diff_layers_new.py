"""Differential check of the layers in conv1d.py, extra.py and transpose.py against
Keras 3 (skipped where keras is not installed). Each case builds the same layer
in both libraries, copies pyconvnet's (random) weights into Keras, and compares
weight names/shapes/order, outputs, output shapes, the gradients of sum(y * g)
w.r.t. the input and every weight, and get_config. Runs on the torch backend by
default (KERAS_BACKEND=torch) and also under TensorFlow
(/work/venv-tf: KERAS_BACKEND=tensorflow PYTHONPATH=. python -m pytest ...)."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

import pyconvnet as pk  # noqa: E402
from pyconvnet import autograd as ag  # noqa: E402

BACKEND = keras.backend.backend()


def _np(t):
    return keras.ops.convert_to_numpy(t)


def _keras_grads(kl, x, g):
    """d sum(kl(x) * g) / d(x, trainable weights) in Keras's backend."""
    if BACKEND == "torch":
        import torch
        xt = torch.tensor(x, requires_grad=True)
        y = kl(xt, training=True)
        (y * torch.tensor(g, dtype=y.dtype)).sum().backward()
        return _np(y), [xt.grad.numpy()] + [v.value.grad.numpy() for v in kl.trainable_weights]
    if BACKEND == "tensorflow":
        import tensorflow as tf
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = kl(xt, training=True)
            loss = tf.reduce_sum(y * tf.constant(g, dtype=y.dtype))
        gs = tape.gradient(loss, [xt] + [v.value for v in kl.trainable_weights])
        return _np(y), [np.asarray(t) for t in gs]
    pytest.skip("gradient comparison implemented for the torch and tensorflow backends")


def _pcn_grads(pl, x, g):
    xe = ag.EagerTensor(x)
    with ag.GradientTape() as tape:
        tape.watch(xe)
        y = pl(xe, training=True)
        loss = ag.reduce("sum", ag.multiply(y, g.astype(np.float32)))
    gs = tape.gradient(loss, [xe] + pl.trainable_weights)
    return y.numpy(), [t.numpy() for t in gs]


CASES = [
    ("Conv1D", (4, 3), {}, (2, 9, 6)),
    ("Conv1D", (4, 3), dict(padding="causal", dilation_rate=2, groups=2), (2, 9, 6)),
    ("Conv1D", (4, 3), dict(padding="same", strides=2, activation="relu"), (2, 9, 6)),
    ("Conv1D", (3, 4), dict(padding="same", strides=3, use_bias=False), (2, 10, 2)),
    ("Conv1D", (2, 5), dict(padding="causal", strides=2), (1, 7, 3)),
    ("MaxPooling1D", (), {}, (2, 9, 3)),
    ("MaxPooling1D", (3,), dict(strides=2, padding="same"), (2, 10, 3)),
    ("AveragePooling1D", (3,), dict(strides=1), (2, 6, 3)),
    ("AveragePooling1D", (3,), dict(strides=2, padding="same"), (2, 10, 3)),
    ("GlobalAveragePooling1D", (), {}, (2, 5, 3)),
    ("GlobalMaxPooling1D", (), dict(keepdims=True), (2, 5, 3)),
    ("LayerNormalization", (), {}, (3, 6)),
    ("LayerNormalization", (), dict(axis=[1, 3], epsilon=1e-5), (2, 3, 4, 2)),
    ("LayerNormalization", (), dict(axis=1, center=False), (2, 4, 3)),
    ("UpSampling1D", (3,), {}, (2, 4, 3)),
    ("UpSampling2D", (), {}, (2, 3, 4, 2)),
    ("UpSampling2D", ((2, 3),), dict(interpolation="bilinear"), (2, 3, 4, 2)),
    ("Cropping1D", ((2, 1),), {}, (2, 6, 3)),
    ("Cropping2D", (((1, 0), (2, 1)),), {}, (2, 5, 6, 2)),
    ("ZeroPadding1D", ((1, 2),), {}, (2, 4, 3)),
    ("Permute", ((2, 1),), {}, (2, 4, 3)),
    ("Permute", ((3, 1, 2),), {}, (2, 4, 3, 2)),
    ("RepeatVector", (3,), {}, (2, 4)),
    ("Conv2DTranspose", (3, 3), dict(strides=2, padding="same"), (2, 4, 5, 2)),
    ("Conv2DTranspose", (3, 3), dict(strides=2), (2, 4, 5, 2)),
    ("Conv2DTranspose", (3, 2), dict(strides=3), (2, 3, 2, 2)),
    ("Conv2DTranspose", (2, 4), dict(strides=2, padding="same"), (2, 3, 3, 2)),
    ("Conv2DTranspose", (2, 3), dict(strides=2, padding="same", output_padding=1), (2, 3, 3, 2)),
    ("Conv2DTranspose", (2, 3), dict(strides=2, output_padding=(1, 0)), (2, 3, 3, 2)),
    ("Conv2DTranspose", (2, 3), dict(dilation_rate=2, padding="same"), (2, 5, 4, 2)),
    ("SeparableConv2D", (4, 3), {}, (2, 6, 5, 3)),
    ("SeparableConv2D", (2, (3, 2)), dict(dilation_rate=2, padding="same", use_bias=False), (1, 6, 5, 2)),
    ("Conv2DTranspose", (3, (3, 2)), dict(strides=(2, 1), padding="same", activation="tanh"), (2, 3, 4, 2)),
    ("Conv1D", (4, 3), dict(padding="same", dilation_rate=3, groups=4), (2, 11, 4)),
    ("Cropping2D", (1,), {}, (2, 4, 5, 2)),
    ("Conv1DTranspose", (3, 3), dict(strides=2, padding="same"), (2, 5, 2)),
    ("Conv1DTranspose", (3, 2), dict(strides=3), (2, 4, 2)),
    ("Conv1DTranspose", (2, 3), dict(strides=2, output_padding=1, activation="relu"), (2, 4, 3)),
    ("DepthwiseConv1D", (3,), {}, (2, 7, 3)),
    ("DepthwiseConv1D", (2,), dict(strides=2, padding="same", depth_multiplier=2), (2, 7, 3)),
    ("SeparableConv1D", (4, 3), dict(padding="same", depth_multiplier=2, activation="relu"), (2, 7, 3)),
    ("SeparableConv1D", (2, 3), dict(strides=2, use_bias=False), (2, 8, 2)),
    ("SeparableConv1D", (2, 3), dict(dilation_rate=2), (1, 8, 2)),
    ("PReLU", (), {}, (2, 3, 4)),
    ("GroupNormalization", (), dict(groups=2), (2, 3, 4)),
    ("GroupNormalization", (), dict(groups=-1, center=False, epsilon=1e-5), (2, 2, 3, 3)),
    ("GroupNormalization", (), dict(groups=3, axis=1), (2, 6, 4)),
    ("UnitNormalization", (), {}, (3, 4)),
    ("UnitNormalization", (), dict(axis=[1, 2]), (2, 3, 4)),
    ("Resizing", (4, 5), {}, (2, 7, 9, 3)),
    ("Resizing", (9, 4), {}, (2, 3, 6, 2)),
    ("Resizing", (9, 13), dict(interpolation="nearest"), (2, 4, 5, 1)),
    ("Resizing", (4, 4), dict(crop_to_aspect_ratio=True), (2, 7, 10, 2)),
    ("CenterCrop", (3, 4), {}, (2, 7, 9, 2)),
    ("CenterCrop", (8, 4), {}, (2, 5, 9, 2)),
    ("PReLU", (), dict(shared_axes=[1, 2]), (2, 3, 4, 2)),
    ("Cropping2D", ((1, 2),), {}, (2, 4, 6, 2)),
    ("ZeroPadding1D", (2,), {}, (2, 3, 2)),
    ("UpSampling2D", ((3, 1),), dict(interpolation="bilinear"), (1, 2, 3, 2)),
    ("SeparableConv2D", (4, 3), dict(strides=2, padding="same", depth_multiplier=2, activation="relu"),
     (2, 7, 6, 3)),
]

# the torch backend of Keras itself differs from TensorFlow here (pyconvnet follows TF)
def _torch_differs(name, kw, shape):
    if name == "AveragePooling1D" and kw.get("padding") == "same":
        return ("Keras's torch backend counts the padded steps of an edge window in 1-D 'same' average pooling; "
                "TensorFlow (and pyconvnet) average only the real steps")
    if name == "LayerNormalization" and isinstance(kw.get("axis", -1), int) and \
            kw.get("axis", -1) not in (-1, len(shape) - 1):
        return ("Keras's torch backend hands a single non-last axis to F.layer_norm, which normalizes the "
                "trailing axes and fails; TensorFlow (and pyconvnet) normalize the given axis")
    return None


def _strip_axes(cfg):
    if isinstance(cfg, dict):
        return {k: _strip_axes(v) for k, v in cfg.items() if k not in ("input_axes", "output_axes")}
    return cfg


def _ids(c):
    return "%s-%s-%s" % (c[0], c[1], "-".join("%s=%s" % kv for kv in sorted(c[2].items())))


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_matches_keras(case):
    name, args, kw, shape = case
    if BACKEND == "torch" and _torch_differs(name, kw, shape):
        pytest.skip(_torch_differs(name, kw, shape))
    rng = np.random.default_rng(abs(hash(_ids(case))) % 2 ** 31)
    x = rng.normal(0, 1, shape).astype(np.float32)
    kl = getattr(keras.layers, name)(*args, **kw)
    pl = getattr(pk.layers, name)(*args, **kw)
    kl.build(shape)
    pl(x[:1])
    assert [v.shape for v in pl.weights] == [tuple(v.shape) for v in kl.weights]
    assert [v.name for v in pl.weights] == [v.name for v in kl.weights]
    ws = [rng.normal(0, 0.5, w.shape).astype(np.float32) for w in pl.get_weights()]
    pl.set_weights(ws)
    kl.set_weights(ws)
    g = rng.normal(0, 1, _np(kl(x)).shape).astype(np.float32)
    ky, kg = _keras_grads(kl, x, g)
    py, pg = _pcn_grads(pl, x, g)
    assert py.shape == ky.shape
    np.testing.assert_allclose(py, ky, rtol=1e-4, atol=1e-5)
    assert len(pg) == len(kg)
    for a, b in zip(pg, kg):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    # symbolic output shape
    ks = keras.layers.__dict__[name](*args, **kw).compute_output_shape((None,) + shape[1:])
    ps = pk.layers.__dict__[name](*args, **kw).compute_output_shape((None,) + shape[1:])
    assert tuple(ks) == tuple(ps)
    # config: same keys, same plain values
    kc, pc = kl.get_config(), pl.get_config()
    assert set(kc) == set(pc), (set(kc) ^ set(pc))
    for k in kc:
        if k in ("name", "dtype") or isinstance(kc[k], dict):
            continue
        assert pc[k] == kc[k], (k, pc[k], kc[k])
    # a config written by Keras rebuilds the same layer here
    try:
        rebuilt = getattr(pk.layers, name).from_config(kc)
    except TypeError as e:  # Keras 3.15 initializer keys, accepted once initializers.py knows them
        if "input_axes" not in str(e):
            raise
        rebuilt = getattr(pk.layers, name).from_config(_strip_axes(kc))
    rc = rebuilt.get_config()
    for k in kc:
        if k not in ("name", "dtype") and not isinstance(kc[k], dict):
            assert rc[k] == kc[k], (k, rc[k], kc[k])
    for k in ("kernel_initializer", "bias_initializer", "depthwise_initializer", "pointwise_initializer",
              "gamma_initializer", "beta_initializer"):
        if k in kc:
            assert pc[k]["class_name"] == kc[k]["class_name"]


NOISE = [("SpatialDropout1D", (0.3,), {}, (2, 4, 3)), ("SpatialDropout2D", (0.3,), {}, (2, 3, 4, 3)),
         ("GaussianNoise", (0.2,), dict(seed=1), (2, 4, 3)), ("GaussianDropout", (0.2,), {}, (2, 4)),
         ("ActivityRegularization", (), dict(l1=0.01, l2=0.02), (2, 4)),
         ("RandomFlip", ("horizontal",), dict(seed=3), (2, 3, 4, 2)),
         ("RandomContrast", ((0.2, 0.5),), dict(value_range=(-10, 10)), (2, 3, 4, 2)),
         ("AlphaDropout", (0.2,), dict(noise_shape=(None, 1, 3)), (2, 4, 3))]


@pytest.mark.parametrize("case", NOISE, ids=lambda c: c[0])
def test_noise_layers_inference_and_config(case):
    name, args, kw, shape = case
    x = np.random.default_rng(0).normal(0, 1, shape).astype(np.float32)
    kl = getattr(keras.layers, name)(*args, **kw)
    pl = getattr(pk.layers, name)(*args, **kw)
    np.testing.assert_array_equal(np.asarray(pl(x, training=False)), _np(kl(x, training=False)))
    if name.startswith("Random"):  # a direct call defaults to training=True: not the identity in both
        assert not np.array_equal(np.asarray(pl(np.repeat(x, 8, 0))), np.repeat(x, 8, 0))
        assert not np.array_equal(_np(kl(np.repeat(x, 8, 0))), np.repeat(x, 8, 0))
    else:
        np.testing.assert_array_equal(np.asarray(pl(x)), _np(kl(x)))
    kc, pc = kl.get_config(), pl.get_config()
    assert set(kc) == set(pc)
    for k in kc:
        if k not in ("name", "dtype"):
            assert pc[k] == kc[k], (k, pc[k], kc[k])
    assert pl(x, training=True).shape == _np(kl(x, training=True)).shape


def test_activity_regularization_training_loss():
    """train_on_batch: the loss includes the batch-size-normalized activity penalty, as Keras 3."""
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (4, 3)).astype(np.float32)
    t = rng.normal(0, 1, (4, 2)).astype(np.float32)
    out = []
    for lib in (keras, pk):
        m = lib.Sequential([lib.Input((3,)), lib.layers.Dense(2), lib.layers.ActivityRegularization(0.05, 0.3),
                            lib.layers.Reshape((2, 1)),
                            lib.layers.Conv1D(1, 1, activity_regularizer=lib.regularizers.L2(0.1)),
                            lib.layers.Reshape((2,))])
        m.set_weights([np.full(w.shape, 0.3, np.float32) + np.arange(w.size, dtype=np.float32).reshape(w.shape)
                       * 0.1 for w in m.get_weights()])
        m.compile(optimizer=lib.optimizers.SGD(learning_rate=0.1), loss="mse")
        loss = m.train_on_batch(x, t)
        out.append((float(np.asarray(loss).ravel()[0]) if np.ndim(loss) else float(loss), m.get_weights()))
    assert abs(out[0][0] - out[1][0]) < 1e-4 * max(1, abs(out[0][0]))
    for a, b in zip(out[0][1], out[1][1]):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


BAD = [
    ("Conv1D", (0, 3), {}), ("Conv1D", (4, 3), dict(groups=3)), ("Conv1D", (4, 3), dict(padding="full")),
    ("Conv1D", (4, 3), dict(strides=2, dilation_rate=2)),
    ("LayerNormalization", (), dict(axis="x")), ("UpSampling1D", (2.5,), {}), ("Cropping2D", ((1, 2, 3),), {}),
    ("Permute", ((1, 3),), {}), ("RepeatVector", (0,), {}), ("RepeatVector", ("3",), {}),
    ("SpatialDropout1D", (1.5,), {}), ("GaussianNoise", (-0.1,), {}), ("GaussianDropout", (2,), {}),
    ("Conv2DTranspose", (2, 3), dict(strides=2, output_padding=2)),
]


@pytest.mark.parametrize("case", BAD, ids=lambda c: c[0] + str(c[1]) + str(c[2]))
def test_bad_arguments_same_exception(case):
    name, args, kw = case
    with pytest.raises(Exception) as ke:
        getattr(keras.layers, name)(*args, **kw)
    with pytest.raises(Exception) as pe:
        getattr(pk.layers, name)(*args, **kw)
    assert issubclass(pe.type, ke.type) or issubclass(ke.type, pe.type), (ke.type, pe.type, str(pe.value))


RNN_CASES = [("SimpleRNNCell", {}, {}), ("SimpleRNNCell", dict(activation="relu"), dict(return_sequences=True)),
             ("LSTMCell", {}, dict(return_sequences=True, go_backwards=True)), ("LSTMCell", dict(use_bias=False), {}),
             ("GRUCell", {}, dict(return_sequences=True)), ("GRUCell", dict(reset_after=False), {})]


@pytest.mark.parametrize("case", RNN_CASES, ids=lambda c: "%s-%s-%s" % c)
def test_rnn_cell_matches_keras(case):
    cell, ckw, rkw = case
    rng = np.random.default_rng(5)
    x = rng.normal(0, 1, (2, 5, 3)).astype(np.float32)
    kl = keras.layers.RNN(getattr(keras.layers, cell)(4, **ckw), **rkw)
    pl = pk.layers.RNN(getattr(pk.layers, cell)(4, **ckw), **rkw)
    kl.build(x.shape)
    pl(x[:1])
    assert [v.shape for v in pl.weights] == [tuple(v.shape) for v in kl.weights]
    assert [v.name for v in pl.weights] == [v.name for v in kl.weights]
    init = [_np(v) for v in kl.cell.weights]
    if cell == "LSTMCell" and ckw.get("use_bias", True):  # unit_forget_bias initial bias
        np.testing.assert_array_equal(pl.cell.bias.numpy(), init[2])
    ws = [rng.normal(0, 0.5, w.shape).astype(np.float32) for w in pl.get_weights()]
    pl.set_weights(ws)
    kl.set_weights(ws)
    g = rng.normal(0, 1, _np(kl(x)).shape).astype(np.float32)
    ky, kg = _keras_grads(kl, x, g)
    py, pg = _pcn_grads(pl, x, g)
    np.testing.assert_allclose(py, ky, rtol=1e-4, atol=1e-5)
    for a, b in zip(pg, kg):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    kc, pc = kl.cell.get_config(), pl.cell.get_config()
    assert set(kc) == set(pc), set(kc) ^ set(pc)
    kc, pc = kl.get_config(), pl.get_config()
    assert set(kc) == set(pc), set(kc) ^ set(pc)
    for k in kc:
        if k not in ("name", "dtype", "cell"):
            assert pc[k] == kc[k], (k, pc[k], kc[k])
    assert pc["cell"]["class_name"] == kc["cell"]["class_name"]


def test_rnn_return_state_matches_keras():
    rng = np.random.default_rng(6)
    x = rng.normal(0, 1, (2, 4, 3)).astype(np.float32)
    kl = keras.layers.RNN(keras.layers.LSTMCell(3), return_state=True)
    pl = pk.layers.RNN(pk.layers.LSTMCell(3), return_state=True)
    kl.build(x.shape)
    pl(x[:1])
    pl.set_weights(kl.get_weights())
    ko, po = kl(x), pl(x)
    assert type(po) is type(ko) and len(po) == len(ko) == 3
    for a, b in zip(po, ko):
        np.testing.assert_allclose(np.asarray(a), _np(b), rtol=1e-5, atol=1e-6)
    ks = kl.compute_output_shape((None, 4, 3))
    ps = pl.compute_output_shape((None, 4, 3))
    assert [tuple(s) for s in ks] == [tuple(s) for s in ps]


def _homl_cell(lib):
    class LNSimpleRNNCell(lib.layers.Layer):
        def __init__(self, units, activation="tanh", **kwargs):
            super().__init__(**kwargs)
            self.state_size = units
            self.output_size = units
            self.simple_rnn_cell = lib.layers.SimpleRNNCell(units, activation=None)
            self.layer_norm = lib.layers.LayerNormalization()
            self.activation = lib.activations.get(activation)

        def call(self, inputs, states):
            outputs, new_states = self.simple_rnn_cell(inputs, states)
            norm_outputs = self.activation(self.layer_norm(outputs))
            return norm_outputs, [norm_outputs]
    return LNSimpleRNNCell


def test_homl_ln_cell_matches_keras():
    """HOML ch15's custom cell in RNN(..., return_sequences=True): same weights list, same
    predictions, same loss and weights after one SGD step."""
    rng = np.random.default_rng(8)
    x = rng.normal(0, 1, (3, 6, 1)).astype(np.float32)
    t = rng.normal(0, 1, (3, 6, 2)).astype(np.float32)
    res = []
    ws = None
    for lib in (keras, pk):
        cell = _homl_cell(lib)
        m = lib.Sequential([lib.Input((None, 1)), lib.layers.RNN(cell(4), return_sequences=True),
                            lib.layers.Dense(2)])
        # Keras creates the custom cell's sub-layer weights on the first call (pyconvnet already at
        # build time, so that summary()/set_weights work before it): call once before comparing
        m.predict(x, verbose=0)
        if ws is None:
            ws = [rng.normal(0, 0.5, w.shape).astype(np.float32) for w in m.get_weights()]
        assert [w.shape for w in m.get_weights()] == [w.shape for w in ws]
        m.set_weights(ws)
        p = m.predict(x, verbose=0)
        m.compile(loss="mse", optimizer=lib.optimizers.SGD(learning_rate=0.1))
        loss = m.train_on_batch(x, t)
        res.append((p, float(np.asarray(loss).ravel()[0]) if np.ndim(loss) else float(loss), m.get_weights()))
    np.testing.assert_allclose(res[1][0], res[0][0], rtol=1e-4, atol=1e-5)
    assert abs(res[1][1] - res[0][1]) < 1e-4
    for a, b in zip(res[1][2], res[0][2]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("axis,shape", [(-1, (40, 3)), ((1, 2), (30, 2, 3)), (None, (25, 4))])
def test_normalization_matches_keras(axis, shape):
    rng = np.random.default_rng(11)
    x = rng.normal(3, 2, shape).astype(np.float32)
    kl, pl = keras.layers.Normalization(axis=axis), pk.layers.Normalization(axis=axis)
    kl.adapt(x)
    pl.adapt(x)
    kw, pw = [_np(v) for v in kl.weights], pl.get_weights()
    assert [v.name for v in kl.weights] == [v.name for v in pl.weights]
    for a, b in zip(pw[:2], kw[:2]):
        np.testing.assert_allclose(a.reshape(b.shape), b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(pl(x)), _np(kl(x)), rtol=1e-4, atol=1e-5)
    # batched adapt (Keras's streaming merge; Keras's adapt needs tensorflow for iterables)
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return
    kb, pb = keras.layers.Normalization(axis=axis), pk.layers.Normalization(axis=axis)
    kb.adapt([x[:9], x[9:]])
    pb.adapt([x[:9], x[9:]])
    np.testing.assert_allclose(np.asarray(pb(x)), _np(kb(x)), rtol=1e-4, atol=1e-5)
    kc, pc = kl.get_config(), pl.get_config()
    assert set(kc) == set(pc)
    for k in ("axis", "invert", "mean", "variance"):
        assert pc[k] == kc[k], (k, pc[k], kc[k])


def test_normalization_given_stats_matches_keras():
    x = np.random.default_rng(2).normal(0, 1, (3, 2, 4)).astype(np.float32)
    for kw in (dict(mean=0.5, variance=4.0), dict(mean=[1.0, 2.0, 3.0, 4.0], variance=[1.0, 4.0, 9.0, 0.0]),
               dict(mean=[1.0, 2.0, 3.0, 4.0], variance=[1.0, 4.0, 9.0, 0.5], invert=True)):
        kl, pl = keras.layers.Normalization(**kw), pk.layers.Normalization(**kw)
        np.testing.assert_allclose(np.asarray(pl(x)), _np(kl(x)), rtol=1e-5, atol=1e-6)
        assert pl.get_config()["mean"] == kl.get_config()["mean"]


def test_model_of_new_layers_trains_like_keras():
    """A Sequential of the new layers: same predictions, then 3 SGD epochs (2 batches each, no
    shuffle) give the same per-epoch losses and final weights (activity penalty included)."""
    rng = np.random.default_rng(21)
    x = rng.normal(0, 1, (8, 10, 3)).astype(np.float32)
    t = rng.normal(0, 1, (8, 2)).astype(np.float32)

    def build(lib):
        Ly = lib.layers
        return lib.Sequential([
            lib.Input((10, 3)),
            Ly.Conv1D(4, 3, padding="causal", dilation_rate=2, activation="tanh",
                      activity_regularizer=lib.regularizers.L2(0.01)),
            Ly.LayerNormalization(),
            Ly.ZeroPadding1D((1, 0)), Ly.MaxPooling1D(2), Ly.Cropping1D((0, 1)),
            Ly.SeparableConv1D(3, 2, padding="same", depth_multiplier=2),
            Ly.Conv1DTranspose(2, 3, strides=2, padding="same"),
            Ly.PReLU(), Ly.UpSampling1D(2), Ly.Permute((2, 1)), Ly.Reshape((16, 2, 1)),
            Ly.Conv2DTranspose(2, 2, strides=(1, 2)), Ly.SeparableConv2D(2, 3), Ly.Reshape((-1, 2)),
            Ly.RNN(Ly.GRUCell(3), return_sequences=True), Ly.GlobalAveragePooling1D(),
            Ly.RepeatVector(2), Ly.Flatten(), Ly.ActivityRegularization(l1=0.01), Ly.Dense(2)])
    ks, ps = build(keras), build(pk)
    assert [tuple(w.shape) for w in ks.weights] == [w.shape for w in ps.weights]
    ws = [rng.normal(0, 0.4, w.shape).astype(np.float32) for w in ps.get_weights()]
    ks.set_weights(ws)
    ps.set_weights(ws)
    np.testing.assert_allclose(ps.predict(x, verbose=0), ks.predict(x, verbose=0), rtol=1e-4, atol=1e-5)
    hist = []
    for m, lib in ((ks, keras), (ps, pk)):
        m.compile(optimizer=lib.optimizers.SGD(learning_rate=0.05), loss="mse")
        hist.append(m.fit(x, t, epochs=3, batch_size=4, shuffle=False, verbose=0).history["loss"])
    np.testing.assert_allclose(hist[1], hist[0], rtol=2e-4)
    for a, b in zip(ps.get_weights(), ks.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("zero_out,back,seq", [(False, False, True), (True, False, True), (False, True, False),
                                                (True, True, False), (True, True, True)])
def test_rnn_mask_matches_keras(zero_out, back, seq):
    rng = np.random.default_rng(13)
    x = rng.normal(0, 1, (3, 5, 2)).astype(np.float32)
    mask = np.array([[1, 1, 0, 1, 0], [0, 1, 1, 1, 1], [1, 0, 0, 0, 1]], bool)
    kw = dict(return_sequences=seq, zero_output_for_mask=zero_out, go_backwards=back, return_state=True)
    if BACKEND == "torch" and zero_out and back and seq:
        pytest.skip("Keras's torch rnn applies the unflipped mask to go_backwards outputs")
    kl, pl = keras.layers.RNN(keras.layers.LSTMCell(3), **kw), pk.layers.RNN(pk.layers.LSTMCell(3), **kw)
    kl.build(x.shape)
    pl(x)
    pl.set_weights(kl.get_weights())
    ko, po = kl(x, mask=mask), pl(x, mask=mask)
    for a, b in zip(po, ko):
        np.testing.assert_allclose(np.asarray(a), _np(b), rtol=1e-5, atol=1e-6)


def test_global_average_pooling1d_mask_matches_keras():
    x = np.random.default_rng(3).normal(0, 1, (2, 4, 3)).astype(np.float32)
    mask = np.array([[1, 0, 1, 1], [0, 0, 1, 0]], bool)
    for keep in (False, True):
        k = keras.layers.GlobalAveragePooling1D(keepdims=keep)(x, mask=mask)
        p = pk.layers.GlobalAveragePooling1D(keepdims=keep)(x, mask=mask)
        np.testing.assert_allclose(np.asarray(p), _np(k), rtol=1e-6, atol=1e-6)


def test_masking_matches_keras():
    rng = np.random.default_rng(17)
    x = rng.normal(0, 1, (3, 6, 2)).astype(np.float32)
    x[0, 4:] = 0.0
    x[1, :2] = 0.0
    x[2, 3] = 0.0
    res = []
    for lib in (keras, pk):
        m = lib.Sequential([lib.Input((6, 2)), lib.layers.Masking(),
                            lib.layers.RNN(lib.layers.GRUCell(3), return_sequences=True),
                            lib.layers.GlobalAveragePooling1D()])
        if res:
            m.set_weights(res[0][1])
        res.append((m.predict(x, verbose=0), m.get_weights()))
    np.testing.assert_allclose(res[1][0], res[0][0], rtol=1e-5, atol=1e-6)
    k = _np(keras.layers.Masking(mask_value=0.5)(x))
    np.testing.assert_array_equal(np.asarray(pk.layers.Masking(mask_value=0.5)(x)), k)


@pytest.mark.parametrize("cls", ["SimpleRNN", "LSTM", "GRU"])
def test_masking_reaches_fused_rnn(cls):
    """Masking -> SimpleRNN/LSTM/GRU (recurrent.py): the implicit mask must be used, not ignored."""
    rng = np.random.default_rng(19)
    x = rng.normal(0, 1, (3, 5, 2)).astype(np.float32)
    x[0, 3:] = 0.0
    x[1, 0] = 0.0
    layer = getattr(pk.layers, cls)(3)
    try:
        explicit = np.asarray(layer(x, mask=(x != 0).any(-1)))
    except NotImplementedError:
        pytest.skip("this branch's %s refuses masks (the rnn-diff branch implements them)" % cls)
    implicit = np.asarray(layer(pk.layers.Masking()(ag.EagerTensor(x))))
    np.testing.assert_allclose(implicit, explicit, rtol=1e-6, atol=1e-7)
    kl = getattr(keras.layers, cls)(3)
    kl.build(x.shape)
    kl.set_weights(layer.get_weights())
    np.testing.assert_allclose(explicit, _np(kl(keras.layers.Masking()(x))), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kw", [dict(padding="same", return_sequences=True), dict(strides=2, return_state=True),
                                dict(dilation_rate=2, padding="same", go_backwards=True, use_bias=False)])
def test_conv_lstm2d_matches_keras(kw):
    rng = np.random.default_rng(23)
    x = rng.normal(0, 1, (2, 3, 6, 5, 2)).astype(np.float32)
    kl, pl = keras.layers.ConvLSTM2D(3, (3, 2), **kw), pk.layers.ConvLSTM2D(3, (3, 2), **kw)
    kl.build(x.shape)
    pl(x[:1])
    assert [tuple(v.shape) for v in kl.weights] == [v.shape for v in pl.weights]
    assert [v.name for v in kl.weights] == [v.name for v in pl.weights]
    if kw.get("use_bias", True):
        np.testing.assert_array_equal(pl.get_weights()[2], _np(kl.weights[2]))  # unit_forget_bias init
    ws = [rng.normal(0, 0.4, w.shape).astype(np.float32) for w in pl.get_weights()]
    kl.set_weights(ws)
    pl.set_weights(ws)
    if kw.get("return_state"):
        ko, po = kl(x), pl(x)
        assert len(ko) == len(po) == 3
        for a, b in zip(po, ko):
            np.testing.assert_allclose(np.asarray(a), _np(b), rtol=1e-4, atol=1e-5)
        return
    g = rng.normal(0, 1, _np(kl(x)).shape).astype(np.float32)
    ky, kg = _keras_grads(kl, x, g)
    py, pg = _pcn_grads(pl, x, g)
    np.testing.assert_allclose(py, ky, rtol=1e-4, atol=1e-5)
    for a, b in zip(pg, kg):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    kc, pc = kl.get_config(), pl.get_config()
    assert set(kc) == set(pc), set(kc) ^ set(pc)
    for k in kc:
        if k not in ("name", "dtype") and not isinstance(kc[k], dict):
            assert pc[k] == kc[k], (k, pc[k], kc[k])
    shape = (None,) + x.shape[1:]
    assert tuple(pl.compute_output_shape(shape)) == tuple(kl.compute_output_shape(shape))


def test_alpha_dropout_values_match_keras():
    """On zeros, a training call outputs b (kept) or a*alpha' + b (dropped): the same two values."""
    z = np.zeros((64, 32), np.float32)
    k = np.unique(np.round(_np(keras.layers.AlphaDropout(0.3, seed=1)(z, training=True)), 6))
    p = np.unique(np.round(np.asarray(pk.layers.AlphaDropout(0.3, seed=1)(z, training=True)), 6))
    np.testing.assert_allclose(p, k, rtol=1e-5)


@pytest.mark.parametrize("cls,kw", [("Attention", {}), ("Attention", dict(use_scale=True)),
                                    ("Attention", dict(score_mode="concat", use_scale=True)),
                                    ("AdditiveAttention", {}), ("AdditiveAttention", dict(use_scale=False))])
def test_attention_matches_keras(cls, kw):
    rng = np.random.default_rng(29)
    q = rng.normal(0, 1, (2, 3, 4)).astype(np.float32)
    v = rng.normal(0, 1, (2, 5, 4)).astype(np.float32)
    k = rng.normal(0, 1, (2, 5, 4)).astype(np.float32)
    qm = np.array([[1, 1, 0], [1, 0, 1]], bool)
    vm = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 1]], bool)
    for ins, ckw in (([q, v], {}), ([q, v, k], dict(mask=[qm, vm])),
                     ([q, v], dict(use_causal_mask=True, return_attention_scores=True))):
        kl, pl = getattr(keras.layers, cls)(**kw), getattr(pk.layers, cls)(**kw)
        kl(ins, **ckw)
        pl(ins, **ckw)
        assert [v_.name for v_ in kl.weights] == [v_.name for v_ in pl.weights]
        ws = [rng.normal(0.5, 0.3, tuple(w.shape)).astype(np.float32) for w in kl.weights]
        assert [w.shape for w in ws] == [tuple(p.shape) for p in pl.weights]  # scalar weights stay ()
        kl.set_weights(ws)
        pl.set_weights(ws)
        ko, po = kl(ins, **ckw), pl(ins, **ckw)
        ko = ko if isinstance(ko, tuple) else (ko,)
        po = po if isinstance(po, tuple) else (po,)
        for a, b in zip(po, ko):
            np.testing.assert_allclose(np.asarray(a), _np(b), rtol=1e-5, atol=1e-6)
        kc, pc = kl.get_config(), pl.get_config()
        assert set(kc) == set(pc)
        for key in kc:
            if key not in ("name", "dtype"):
                assert pc[key] == kc[key], (key, pc[key], kc[key])


@pytest.mark.parametrize("kw", [dict(num_heads=2, key_dim=3), dict(num_heads=3, key_dim=2, value_dim=4, output_shape=6),
                                dict(num_heads=1, key_dim=4, use_bias=False)])
def test_multi_head_attention_matches_keras(kw):
    rng = np.random.default_rng(31)
    q = rng.normal(0, 1, (2, 4, 5)).astype(np.float32)
    v = rng.normal(0, 1, (2, 6, 7)).astype(np.float32)
    k = rng.normal(0, 1, (2, 6, 3)).astype(np.float32)
    vm = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0]], bool)
    for args, ckw in (((q, v), {}), ((q, v, k), dict(value_mask=vm)),
                      ((q, v), dict(use_causal_mask=True, return_attention_scores=True))):
        kl, pl = keras.layers.MultiHeadAttention(**kw), pk.layers.MultiHeadAttention(**kw)
        kl(*args, **ckw)
        pl(*args, **ckw)
        assert [tuple(w.shape) for w in kl.weights] == [w.shape for w in pl.weights]
        assert [w.name for w in kl.weights] == [w.name for w in pl.weights]
        ws = [rng.normal(0, 0.5, tuple(w.shape)).astype(np.float32) for w in kl.weights]
        kl.set_weights(ws)
        pl.set_weights(ws)
        ko, po = kl(*args, **ckw), pl(*args, **ckw)
        ko = ko if isinstance(ko, tuple) else (ko,)
        po = po if isinstance(po, tuple) else (po,)
        for a, b in zip(po, ko):
            np.testing.assert_allclose(np.asarray(a), _np(b), rtol=1e-4, atol=1e-5)
    kc, pc = kl.get_config(), pl.get_config()
    assert set(kc) == set(pc), set(kc) ^ set(pc)
    for key in kc:
        if key not in ("name", "dtype") and not isinstance(kc[key], dict):
            assert pc[key] == kc[key], (key, pc[key], kc[key])
