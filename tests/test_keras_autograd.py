"""The tape: a custom ResidualUnit's gradients (inputs and every weight) against
central differences of a float64 reference; accumulation for tensors used
twice; nothing recorded outside a tape; nodes freed after backward."""
from functools import partial

import numpy as np
import pytest

import pyconvnet as keras
import reference_keras as R
from gradcheck import assert_grad_close, numeric_grad
from pyconvnet.autograd import EagerTensor, GradientTape

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


def _ref_unit(x, w, strides):
    """float64 ResidualUnit in training mode; w in layer.weights order (non-trainable excluded)."""
    eps = 1e-3
    relu = R.ACT["relu"]
    z = R.conv2d(x, w[0], None, (strides, strides), "same")
    z = relu(R.batch_norm(z, w[1], w[2], None, None, eps, True))
    z = R.conv2d(z, w[3], None, (1, 1), "same")
    z = R.batch_norm(z, w[4], w[5], None, None, eps, True)
    if strides > 1:
        s = R.conv2d(x, w[6], None, (strides, strides), "same")
        s = R.batch_norm(s, w[7], w[8], None, None, eps, True)
    else:
        s = x
    return relu(z + s)


@pytest.mark.parametrize("strides,cin", [(1, 3), (2, 2)])
def test_residual_unit_gradients_vs_finite_differences(strides, cin):
    rng = np.random.default_rng(strides)
    keras.utils.set_random_seed(0)
    filters = cin if strides == 1 else 3
    ru = ResidualUnit(filters, strides=strides)
    x = rng.normal(size=(2, 5, 4, cin)).astype(np.float32)
    ru(x)  # build (inference, NumPy in -> NumPy out)
    tw = ru.trainable_weights
    assert len(tw) == (9 if strides > 1 else 6)
    for v in tw:  # non-trivial gamma/beta
        v.assign(rng.normal(0.5 if v.name == "gamma" else 0.0, 0.5, v.shape).astype(np.float32))
    g_out = rng.normal(size=_ref_unit(x, [v.numpy().astype(np.float64) for v in tw], strides).shape)
    xt = EagerTensor(keras.tensor(x))
    with GradientTape() as tape:
        tape.watch(xt)
        y = ru(xt, training=True)
        loss = keras.ops.sum(y * g_out.astype(np.float32))
    grads = tape.gradient(loss, [xt] + tw)
    w64 = [v.numpy().astype(np.float64) for v in tw]
    gx = numeric_grad(lambda a: _ref_unit(a, w64, strides), x, g_out)
    assert_grad_close(grads[0].numpy(), gx, what="d/dinputs")
    for i, v in enumerate(tw):
        def f(wi, i=i):
            ws = list(w64)
            ws[i] = wi
            return _ref_unit(x, ws, strides)
        gw = numeric_grad(f, w64[i], g_out)
        assert_grad_close(grads[i + 1].numpy(), gw, what="d/d%s" % v.path)


def test_tensor_used_twice_accumulates():
    a = EagerTensor(keras.tensor(np.array([1.0, 2.0, 3.0], np.float32)))
    with GradientTape() as tape:
        tape.watch(a)
        y = a * a + a * 3.0 - a / 2.0
    g = tape.gradient(y, a).numpy()
    np.testing.assert_allclose(g, 2 * a.numpy() + 3.0 - 0.5, rtol=1e-6)


def test_broadcast_ops_gradients():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 4)).astype(np.float32)
    b = rng.normal(size=(4,)).astype(np.float32) + 3.0
    at, bt = EagerTensor(keras.tensor(a)), EagerTensor(keras.tensor(b))
    go = rng.normal(size=(3, 4))
    with GradientTape() as tape:
        tape.watch([at, bt])
        y = (at - bt) * at / bt + keras.ops.exp(at) @ keras.ops.ones((4, 4))
    ga, gb = tape.gradient(y, [at, bt], output_gradients=keras.tensor(go.astype(np.float32)))

    def f(a64, b64):
        return (a64 - b64) * a64 / b64 + np.exp(a64) @ np.ones((4, 4))
    assert_grad_close(ga.numpy(), numeric_grad(lambda v: f(v, b), a, go))
    assert_grad_close(gb.numpy(), numeric_grad(lambda v: f(a, v), b, go))


def test_inference_records_nothing_and_tape_frees_nodes():
    d = keras.layers.Dense(3)
    x = EagerTensor(keras.tensor(np.ones((2, 4), np.float32)))
    y = d(x)
    assert y._node is None
    with GradientTape() as tape:
        y = d(x)
        assert y._node is not None
        n = len(tape._nodes)
        assert n >= 2
    tape.gradient(y, d.trainable_weights)
    assert tape._nodes == [] and y._node is None
    with GradientTape() as tape:
        with keras.autograd.no_grad():
            y = d(x)
        assert y._node is None


def test_unconnected_gradient_is_none():
    d1, d2 = keras.layers.Dense(2), keras.layers.Dense(2)
    x = EagerTensor(keras.tensor(np.ones((1, 2), np.float32)))
    d2(x)
    with GradientTape() as tape:
        y = d1(x)
    g = tape.gradient(y, d1.trainable_weights + d2.trainable_weights)
    assert g[0] is not None and g[2] is None and g[3] is None


def test_tf_nn_functions_on_the_tape():
    """pyconvnet.nn (tf.nn) functions given EagerTensors record on the tape."""
    import pyconvnet as tf
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 6, 5, 4)).astype(np.float32)
    w = rng.normal(size=(3, 3, 2, 4)).astype(np.float32)  # grouped: 4 input channels, 2 per group
    go = rng.normal(size=(2, 3, 3, 4))
    xt, wt = EagerTensor(keras.tensor(x)), EagerTensor(keras.tensor(w))
    with GradientTape() as tape:
        tape.watch([xt, wt])
        y = tf.nn.max_pool(tf.nn.conv2d(xt, wt, strides=[1, 2, 2, 1], padding="SAME"), 2, 1, "SAME")
        y = tf.nn.local_response_normalization(y, depth_radius=1, alpha=0.5)
    gx, gw = tape.gradient(y, [xt, wt], output_gradients=keras.tensor(go.astype(np.float32)))

    def f(x64, w64):
        z = R.conv2d(x64, w64, None, (2, 2), "same", groups=2)
        return R.lrn(R.pool2d(z, "max", (2, 2), (1, 1), "same"), 1, 1.0, 0.5, 0.5)
    assert_grad_close(gx.numpy(), numeric_grad(lambda v: f(v, w), x, go))
    assert_grad_close(gw.numpy(), numeric_grad(lambda v: f(x, v), w, go))
    assert isinstance(tf.nn.max_pool(x, 2, 2, "VALID"), np.ndarray)  # NumPy path unchanged
