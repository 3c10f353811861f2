"""Regression tests (no Keras/TF needed) for the differences the Keras 3 differential audit of the
non-recurrent layers found: each test pins Keras 3.15's behaviour with a float64 NumPy reference or an
exact property. tests/test_keras_diff_layers.py checks the same against Keras itself where installed."""
import numpy as np
import pytest

import pyconvnet as keras
from pyconvnet import activations, constraints, initializers, regularizers
from pyconvnet import autograd as ag
from pyconvnet import _C
from gradcheck import numeric_grad, assert_grad_close
from tolerance import assert_close

L = keras.layers


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _tape_grads(fn, x, weights, g):
    """d sum(fn(x) * g) / d (x, *weights) through pyconvnet's tape."""
    xe = ag.EagerTensor(_C.tensor(np.ascontiguousarray(x, np.float32)))
    with ag.GradientTape() as tape:
        tape.watch(xe)
        y = fn(xe)
    gs = tape.gradient(y, [xe] + list(weights), output_gradients=[_C.tensor(np.ascontiguousarray(g, np.float32))])
    return y.numpy(), [None if v is None else np.asarray(v.numpy() if hasattr(v, "numpy") else v) for v in gs]


# ----------------------------------------------------------------- configs Keras writes
KERAS_DENSE_CONFIG = {
    "name": "dense", "trainable": True,
    "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None},
    "units": 3, "activation": "silu", "use_bias": True,
    "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform",
                           "config": {"seed": None, "input_axes": None, "output_axes": None}, "registered_name": None},
    "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": None},
    "kernel_regularizer": {"module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.01},
                           "registered_name": None},
    "bias_regularizer": None,
    "kernel_constraint": {"module": "keras.constraints", "class_name": "MaxNorm",
                          "config": {"max_value": 2, "axis": 0}, "registered_name": None},
    "bias_constraint": None, "quantization_config": None,
}


def test_dense_loads_a_keras_written_config():
    d = L.Dense.from_config(dict(KERAS_DENSE_CONFIG))
    assert isinstance(d.kernel_regularizer, regularizers.L2) and d.kernel_regularizer.l2 == 0.01
    assert isinstance(d.kernel_constraint, constraints.MaxNorm)
    assert d.activation is activations.silu
    c = d.get_config()
    for k in ("kernel_regularizer", "bias_regularizer", "kernel_constraint", "bias_constraint", "quantization_config"):
        assert k in c
    assert c["kernel_regularizer"] == KERAS_DENSE_CONFIG["kernel_regularizer"]
    assert c["kernel_constraint"] == KERAS_DENSE_CONFIG["kernel_constraint"]
    assert c["kernel_initializer"] == KERAS_DENSE_CONFIG["kernel_initializer"]
    assert c["activation"] == "silu"
    L.Dense.from_config(c)


@pytest.mark.parametrize("cls,kw,keys", [
    ("Conv2D", dict(filters=2, kernel_size=3), ["data_format", "kernel_regularizer", "bias_regularizer",
                                                  "activity_regularizer", "kernel_constraint", "bias_constraint"]),
    ("DepthwiseConv2D", dict(kernel_size=3), ["data_format", "depthwise_regularizer", "depthwise_constraint",
                                              "bias_regularizer", "bias_constraint", "activity_regularizer"]),
    ("BatchNormalization", dict(), ["moving_mean_initializer", "moving_variance_initializer", "beta_regularizer",
                                    "gamma_regularizer", "beta_constraint", "gamma_constraint", "synchronized",
                                    "renorm", "renorm_clipping", "renorm_momentum"]),
    ("Embedding", dict(input_dim=5, output_dim=2), ["embeddings_regularizer", "embeddings_constraint",
                                                    "activity_regularizer", "mask_zero", "quantization_config"]),
    ("Dropout", dict(rate=0.3), ["noise_shape", "seed"]),
    ("MaxPooling2D", dict(), ["data_format"]), ("GlobalAveragePooling2D", dict(), ["data_format", "keepdims"]),
    ("Flatten", dict(), ["data_format"]), ("ZeroPadding2D", dict(), ["data_format"]),
])
def test_config_has_keras_keys_and_round_trips(cls, kw, keys):
    layer = getattr(L, cls)(**kw)
    c = layer.get_config()
    for k in keys:
        assert k in c, (cls, k)
    c2 = getattr(L, cls).from_config(dict(c)).get_config()
    c.pop("name"), c2.pop("name")
    assert c == c2


def test_keras_variance_scaling_config_keys_load():
    for name in ("GlorotUniform", "GlorotNormal", "HeNormal", "HeUniform", "LecunNormal", "LecunUniform"):
        init = initializers.deserialize({"module": "keras.initializers", "class_name": name,
                                         "config": {"seed": 3, "input_axes": None, "output_axes": None},
                                         "registered_name": None})
        assert init.get_config() == {"seed": 3, "input_axes": None, "output_axes": None}
    vs = initializers.VarianceScaling(distribution="normal")
    assert vs.distribution == "truncated_normal"  # Keras maps "normal" to the truncated normal
    with pytest.raises(ValueError):
        initializers.VarianceScaling(scale=0.0)
    assert initializers.get("IdentityInitializer").__class__ is initializers.Identity


def test_variance_scaling_input_output_axes():
    shape = (4, 6, 10)
    w = initializers.VarianceScaling(scale=1.0, mode="fan_in", distribution="uniform", input_axes=[0, 1],
                                     output_axes=[2], seed=1)(shape)
    assert np.abs(w).max() <= np.sqrt(3.0 / 24) + 1e-6
    assert np.abs(w).max() > 0.9 * np.sqrt(3.0 / 24)  # would be sqrt(3/60) with the default fans


def test_initializer_statistics():
    n = (400, 500)
    he = initializers.HeNormal(seed=0)(n).astype(np.float64)
    std = np.sqrt(2.0 / 400)
    assert np.abs(he).max() <= 2 * std / 0.87962566103423978 + 1e-6  # truncated at 2 stddev
    assert abs(he.std() - std) < 0.02 * std and abs(he.mean()) < 0.02 * std
    gu = initializers.GlorotUniform(seed=0)(n)
    lim = np.sqrt(6.0 / 900)
    assert np.abs(gu).max() <= lim and np.abs(gu).max() > 0.99 * lim
    c = initializers.Constant([1.0, 2.0, 3.0])((2, 3))
    assert_close(c, np.array([[1, 2, 3], [1, 2, 3]], np.float64), rtol=0, atol=0)


def test_regularizer_and_constraint_serialization():
    assert regularizers.L1(0.3).get_config() == {"l1": 0.3}
    assert regularizers.L2(0.3).get_config() == {"l2": 0.3}
    s = regularizers.serialize(regularizers.L1L2(0.1, 0.2))
    assert s["class_name"] == "L1L2" and s["module"] == "keras.regularizers"
    r = regularizers.get(s)
    assert (r.l1, r.l2) == (0.1, 0.2)
    c = constraints.get(constraints.serialize(constraints.MinMaxNorm(0.1, 0.5, 0.7, [0, 1])))
    assert c.get_config() == {"min_value": 0.1, "max_value": 0.5, "rate": 0.7, "axis": [0, 1]}
    assert isinstance(constraints.get("non_neg"), constraints.NonNeg)


# ------------------------------------------------------------------------ constraints
def _np_norms(w, axis):
    return np.sqrt(np.sum(w * w, axis=tuple(np.atleast_1d(axis)), keepdims=True))


@pytest.mark.parametrize("con,ref", [
    (constraints.NonNeg(), lambda w: np.maximum(w, 0)),
    (constraints.MaxNorm(0.7, axis=0), lambda w: w * np.clip(_np_norms(w, 0), 0, 0.7) / (1e-7 + _np_norms(w, 0))),
    (constraints.MaxNorm(0.7, axis=[0, 1, 2]),
     lambda w: w * np.clip(_np_norms(w, [0, 1, 2]), 0, 0.7) / (1e-7 + _np_norms(w, [0, 1, 2]))),
    (constraints.UnitNorm(axis=1), lambda w: w / (1e-7 + _np_norms(w, 1))),
    (constraints.MinMaxNorm(0.5, 0.9, rate=0.6, axis=0),
     lambda w: w * (0.6 * np.clip(_np_norms(w, 0), 0.5, 0.9) + 0.4 * _np_norms(w, 0)) / (1e-7 + _np_norms(w, 0))),
])
def test_constraint_formulas(rng, con, ref):
    w = rng.normal(0, 0.5, (3, 2, 4, 5)).astype(np.float32)
    assert_close(con(w), ref(w.astype(np.float64)), rtol=1e-5, atol=1e-6, what=type(con).__name__)


def test_constraint_applied_after_each_sgd_step(rng):
    """Keras: w1 = C(w0 - lr * g(w0)); initial and set weights are not projected."""
    x = rng.normal(size=(6, 4)).astype(np.float32)
    t = rng.normal(size=(6, 3)).astype(np.float32)
    m = keras.Sequential([keras.Input((4,)), L.Dense(3, kernel_constraint=constraints.NonNeg(),
                                                     bias_constraint="non_neg")])
    m.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    w0 = [rng.normal(0, 0.5, (4, 3)).astype(np.float32), np.array([-0.5, 0.2, 0.1], np.float32)]
    m.set_weights(w0)
    assert (m.get_weights()[0] < 0).any()  # set weights are kept as given
    m.train_on_batch(x, t)
    k64, b64 = (w.astype(np.float64) for w in w0)
    y = x @ k64 + b64
    dy = 2 * (y - t) / y.size
    k1 = np.maximum(k64 - 0.1 * x.T @ dy, 0)
    b1 = np.maximum(b64 - 0.1 * dy.sum(0), 0)
    got = m.get_weights()  # model.get_weights sees the projected weights
    assert_close(got[0], k1, rtol=1e-5, atol=1e-6, what="kernel after step")
    assert_close(got[1], b1, rtol=1e-5, atol=1e-6, what="bias after step")
    # the second step starts from the projected weights
    m.train_on_batch(x, t)
    y = x @ k1 + b1
    dy = 2 * (y - t) / y.size
    assert_close(m.layers[-1].get_weights()[0], np.maximum(k1 - 0.1 * x.T @ dy, 0), rtol=1e-5, atol=1e-6,
                 what="kernel after 2 steps")


@pytest.mark.parametrize("make", [
    lambda: L.Conv2D(2, 2, kernel_constraint="non_neg", bias_constraint="non_neg"),
    lambda: L.DepthwiseConv2D(2, depthwise_constraint="non_neg", bias_constraint="non_neg"),
    lambda: L.BatchNormalization(gamma_constraint="non_neg", beta_constraint="non_neg"),
])
def test_other_layers_apply_constraints(rng, make):
    x = rng.normal(size=(2, 4, 4, 3)).astype(np.float32)
    m = keras.Sequential([keras.Input((4, 4, 3)), make(), L.Flatten(), L.Dense(1)])
    m.compile(optimizer=keras.optimizers.SGD(5.0), loss="mse")
    lay = m.layers[0]
    ws = [w - 1.0 for w in lay.get_weights()]
    lay.set_weights(ws)
    m.train_on_batch(x, rng.normal(size=(2, 1)).astype(np.float32))
    for v, w in zip(lay.weights, lay.get_weights()):
        if v.trainable:
            assert (w >= 0).all(), v.path


# ---------------------------------------------------------------------- regularizers
def test_depthwise_and_bn_and_embedding_regularizers_count(rng):
    dw = L.DepthwiseConv2D(2, depthwise_regularizer=regularizers.L2(0.5), bias_regularizer=regularizers.L1(0.25),
                           bias_initializer="ones")
    dw(np.zeros((1, 3, 3, 2), np.float32))
    k = dw.get_weights()[0].astype(np.float64)
    got = [float(np.asarray(v)) for v in dw.losses]
    assert_close(np.array(got), np.array([0.5 * (k * k).sum(), 0.25 * 2.0]), rtol=1e-5, atol=1e-7)
    bn = L.BatchNormalization(gamma_regularizer="l2", beta_regularizer="l1", beta_initializer="ones")
    bn(np.zeros((2, 3), np.float32))
    assert_close(np.array([float(np.asarray(v)) for v in bn.losses]), np.array([0.03, 0.03]), rtol=1e-6, atol=0)
    emb = L.Embedding(4, 2, embeddings_regularizer=regularizers.L1(1.0))
    emb(np.zeros((1, 2), np.int32))
    assert_close(float(np.asarray(emb.losses[0])), np.abs(emb.get_weights()[0]).sum(), rtol=1e-5, atol=1e-7)


def test_regularizer_of_frozen_layer_is_not_a_loss():
    d = L.Dense(2, kernel_regularizer="l2", trainable=False)
    d(np.zeros((1, 3), np.float32))
    assert d.losses == []  # Keras: only trainable weights' penalties


def test_activity_regularizer_divides_by_batch(rng):
    x = rng.normal(size=(5, 4)).astype(np.float32)
    d = L.Dense(3, activity_regularizer=regularizers.L1L2(0.1, 0.2), kernel_regularizer=regularizers.L2(0.3))
    y = d(x).astype(np.float64)
    k = d.get_weights()[0].astype(np.float64)
    got = [float(np.asarray(v)) for v in d.losses]
    want = [(0.1 * np.abs(y).sum() + 0.2 * (y * y).sum()) / 5, 0.3 * (k * k).sum()]  # activity first
    assert_close(np.array(got), np.array(want), rtol=1e-5, atol=1e-7)
    c = L.Conv2D(2, 2, activity_regularizer="l2")
    yc = c(rng.normal(size=(2, 3, 3, 1)).astype(np.float32)).astype(np.float64)
    assert_close(float(np.asarray(c.losses[0])), 0.01 * (yc * yc).sum() / 2, rtol=1e-5, atol=1e-7)


def test_activity_regularizer_enters_the_fit_loss(rng):
    x = rng.normal(size=(4, 3)).astype(np.float32)
    t = np.zeros((4, 2), np.float32)
    m = keras.Sequential([keras.Input((3,)), L.Dense(2, activity_regularizer=regularizers.L1(0.5))])
    m.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    y = m.predict(x, verbose=0).astype(np.float64)
    for _ in range(2):  # the second step runs fit's cached regularizer path
        loss = m.train_on_batch(x, t)
        assert abs(loss - ((y ** 2).mean() + 0.5 * np.abs(y).sum() / 4)) < 1e-5


# ----------------------------------------------------------------- argument checks
@pytest.mark.parametrize("make", [
    lambda: L.Dense(2.5), lambda: L.Dense("3"), lambda: L.Dense(0), lambda: L.Conv2D(2.0, 3),
    lambda: L.Embedding(3.5, 2), lambda: L.LeakyReLU(negative_slope=-0.1), lambda: L.ReLU(threshold=-1.0),
    lambda: L.Dropout(1.5), lambda: initializers.VarianceScaling(mode="fan_x"),
])
def test_bad_arguments_raise_value_error(make):
    with pytest.raises(ValueError):
        make()


@pytest.mark.parametrize("make", [
    lambda: L.Dense(2, lora_rank=4), lambda: L.BatchNormalization(renorm=True),
    lambda: L.Lambda(lambda t: t, mask=lambda i, m: m),
    lambda: L.Dense(2, quantization_config={"mode": "int8"}),
])
def test_unsupported_arguments_say_so(make):
    with pytest.raises(NotImplementedError):
        make()


def test_activation_names_are_case_sensitive_like_keras():
    with pytest.raises(ValueError):
        activations.get("Relu")
    assert activations.serialize(activations.get("swish")) == "silu"
    assert activations.serialize(activations.get("hard_swish")) == "hard_silu"


# ------------------------------------------------------------------ values and grads
def _relu_ref(x, negative_slope=0.0, max_value=None, threshold=0.0):
    y = np.where(x > threshold, x, 0.0) if threshold else np.maximum(x, 0.0)
    if max_value is not None:
        y = np.clip(y, 0.0, max_value)
    neg = np.maximum(threshold - x, 0.0) if threshold else np.maximum(-x, 0.0)
    return y - negative_slope * neg


@pytest.mark.parametrize("kw", [dict(threshold=0.5), dict(threshold=0.5, negative_slope=0.1),
                                dict(threshold=0.3, max_value=1.0, negative_slope=0.2), dict(max_value=0.7)])
def test_relu_threshold(rng, kw):
    x = rng.normal(size=(4, 7))
    x = x[np.abs(np.abs(x) - 0.5) > 0.02].reshape(-1)[:24].reshape(4, 6)  # avoid kinks for the FD check
    layer = L.ReLU(**kw)
    assert_close(layer(x.astype(np.float32)), _relu_ref(x, **kw), rtol=1e-6, atol=1e-6)
    g = rng.normal(size=x.shape)
    _, (gx,) = _tape_grads(layer, x, [], g)
    assert_grad_close(gx, numeric_grad(lambda a: _relu_ref(a, **kw), x, g))


def _np_softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


NEW_ACTS = {
    "mish": lambda x: x * np.tanh(_np_softplus(x)),
    "hard_silu": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "hard_swish": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "log_sigmoid": lambda x: -_np_softplus(-x),
    "celu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "glu": lambda x: x[..., :2] / (1 + np.exp(-x[..., 2:])),
    "sparse_plus": lambda x: np.where(x <= -1, 0, np.where(x >= 1, x, (x + 1) ** 2 / 4)),
    "squareplus": lambda x: (x + np.sqrt(x * x + 4)) / 2,
    "hard_tanh": lambda x: np.clip(x, -1, 1),
    "tanh_shrink": lambda x: x - np.tanh(x),
    "soft_shrink": lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0)),
    "hard_shrink": lambda x: np.where(np.abs(x) > 0.5, x, 0),
    "sparse_sigmoid": lambda x: np.clip((x + 1) / 2, 0, 1),
}


@pytest.mark.parametrize("name", sorted(NEW_ACTS))
def test_new_activations_values_and_grads(rng, name):
    x = rng.uniform(-2.5, 2.5, size=(3, 4))
    x = np.where(np.min(np.abs(np.abs(x)[..., None] - np.array([0.5, 1.0, 3.0])), -1) < 0.03, 0.2, x)
    fn = activations.get(name)
    assert_close(fn(x.astype(np.float32)), NEW_ACTS[name](x), rtol=1e-5, atol=1e-6, what=name)
    layer = L.Activation(name)
    g = rng.normal(size=NEW_ACTS[name](x).shape)
    _, (gx,) = _tape_grads(layer, x, [], g)
    assert_grad_close(gx, numeric_grad(NEW_ACTS[name], x, g), what=name)


def test_softmax_over_several_axes(rng):
    x = rng.normal(size=(2, 3, 4))
    e = np.exp(x - x.max(axis=(1, 2), keepdims=True))
    ref = e / e.sum(axis=(1, 2), keepdims=True)
    layer = L.Softmax(axis=(1, 2))
    assert_close(layer(x.astype(np.float32)), ref, rtol=1e-5, atol=1e-7)
    g = rng.normal(size=x.shape)

    def f(a):
        e = np.exp(a - a.max(axis=(1, 2), keepdims=True))
        return e / e.sum(axis=(1, 2), keepdims=True)
    _, (gx,) = _tape_grads(layer, x, [], g)
    assert_grad_close(gx, numeric_grad(f, x, g))


def test_dropout_noise_shape(rng):
    x = rng.normal(size=(6, 5, 4)).astype(np.float32) + 3.0
    layer = L.Dropout(0.5, noise_shape=(None, 1, 4), seed=3)
    y = layer(x, training=True)
    ratio = y / x
    assert set(np.unique(np.round(ratio, 5))) <= {0.0, 2.0}
    assert (ratio == ratio[:, :1, :]).all()  # one draw per (batch, channel), shared along axis 1
    assert 0 < (ratio == 0).mean() < 1
    assert_close(layer(x, training=False), x.astype(np.float64), rtol=0, atol=0)
    with pytest.raises(ValueError):
        L.Dropout(0.5, noise_shape=(None, 2, 4))(x, training=True)


def test_rescaling_per_channel():
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    y = L.Rescaling([0.5, 2.0], offset=[1.0, -1.0])(x)
    assert_close(y, x.astype(np.float64) * [0.5, 2.0] + [1.0, -1.0], rtol=0, atol=1e-7)


def _bn_ref(x, axis, gamma, beta, mean, var, eps, training):
    red = tuple(i for i in range(x.ndim) if i != axis % x.ndim)
    shp = [1] * x.ndim
    shp[axis] = -1
    if training:
        mean, var = x.mean(axis=red), x.var(axis=red)
    return (x - mean.reshape(shp)) / np.sqrt(var.reshape(shp) + eps) * gamma.reshape(shp) + beta.reshape(shp), \
        mean, var


@pytest.mark.parametrize("axis,shape", [(1, (4, 3, 5)), (-2, (3, 4, 2, 5)), (0, (3, 4))])
def test_batch_normalization_other_axis(rng, axis, shape):
    x = rng.normal(size=shape) * 2 + 1
    bn = L.BatchNormalization(axis=axis, momentum=0.8, epsilon=1e-2)
    bn(x.astype(np.float32))
    c = shape[axis]
    ws = [rng.uniform(0.5, 2, c), rng.normal(size=c), rng.normal(size=c), rng.uniform(0.5, 2, c)]
    bn.set_weights(ws)
    yi, _, _ = _bn_ref(x, axis, *ws, 1e-2, False)
    assert_close(bn(x.astype(np.float32), training=False), yi, rtol=1e-5, atol=1e-5, what="inference")
    g = rng.normal(size=shape)
    yt, m, v = _bn_ref(x, axis, *ws, 1e-2, True)
    y, (gx, gg, gb) = _tape_grads(lambda t: bn(t, training=True), x, bn.trainable_weights, g)
    assert_close(y, yt, rtol=1e-5, atol=1e-5, what="training")
    mm, mv = bn.get_weights()[2:]
    assert_close(mm, ws[2] * 0.8 + m * 0.2, rtol=1e-5, atol=1e-6, what="moving_mean")
    assert_close(mv, ws[3] * 0.8 + v * 0.2, rtol=1e-5, atol=1e-6, what="moving_variance")
    assert_grad_close(gx, numeric_grad(lambda a: _bn_ref(a, axis, *ws, 1e-2, True)[0], x, g), what="dx")
    assert_grad_close(gg, numeric_grad(lambda a: _bn_ref(x, axis, a, *ws[1:], 1e-2, True)[0], ws[0], g))
    assert bn.compute_output_shape((None,) + shape[1:]) == (None,) + shape[1:]


def test_batch_normalization_bad_axis_type():
    with pytest.raises(TypeError):
        L.BatchNormalization(axis=[1, 2])


def test_embedding_float_ids_truncate_like_keras():
    e = L.Embedding(5, 2)
    ids = np.array([[0.7, 3.2], [4.9, 1.0]], np.float32)
    y = e(ids)
    w = e.get_weights()[0]
    assert_close(y, w[ids.astype(np.int32)].astype(np.float64), rtol=0, atol=0)


@pytest.mark.parametrize("make", [
    lambda df: L.Conv2D(3, (2, 3), strides=(2, 1), padding="same", data_format=df),
    lambda df: L.DepthwiseConv2D(3, depth_multiplier=2, data_format=df),
    lambda df: L.MaxPooling2D(2, data_format=df), lambda df: L.AveragePooling2D(3, 2, "same", data_format=df),
    lambda df: L.GlobalAveragePooling2D(data_format=df, keepdims=True), lambda df: L.GlobalMaxPooling2D(data_format=df),
    lambda df: L.ZeroPadding2D(((1, 2), (0, 1)), data_format=df), lambda df: L.Flatten(data_format=df),
])
def test_channels_first_equals_channels_last_transposed(rng, make):
    """Keras supports data_format='channels_first' (it was NotImplementedError here): same weights,
    NCHW in -> the NHWC result transposed (Flatten: moved to channels-last order first, as Keras)."""
    x = rng.normal(size=(2, 5, 6, 4)).astype(np.float32)
    last, first = make("channels_last"), make("channels_first")
    y_last = last(x)
    first(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    first.set_weights(last.get_weights())
    y_first = first(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    if y_last.ndim == 4:
        y_last = y_last.transpose(0, 3, 1, 2)
    assert_close(y_first, y_last.astype(np.float64), rtol=1e-6, atol=1e-6)
    s = first.compute_output_shape((None, 4, 5, 6))
    assert tuple(s) == (None,) + y_first.shape[1:] or isinstance(first, L.Flatten)
    assert first.get_config()["data_format"] == "channels_first"


def test_bad_data_format_is_value_error():
    with pytest.raises(ValueError):
        L.Conv2D(2, 2, data_format="NHWC")


@pytest.mark.parametrize("ids", [[[3]], [[-1]], [[0, 7]]])
def test_embedding_out_of_range_ids_raise(ids):
    """They embedded to zeros silently (one_hot); Keras raises (IndexError on torch)."""
    e = L.Embedding(3, 2)
    with pytest.raises(IndexError):
        e(np.array(ids, np.int32))
    with pytest.raises(ValueError, match="Embedding"):
        e(np.array(ids, np.int64))


def test_merge_of_a_single_input_passes_through():
    x = np.arange(4, dtype=np.float32).reshape(2, 2)
    for cls in (L.Add, L.Multiply, L.Average, L.Maximum, L.Minimum, L.Concatenate):
        assert_close(cls()([x]), x.astype(np.float64), rtol=0, atol=0)


def test_custom_activation_config_does_not_fail():
    def my_act(t):
        return t
    assert L.Dense(2, activation=my_act).get_config()["activation"] == "my_act"
    assert L.Activation(lambda t: t).get_config()["activation"] == "<lambda>"


def test_gelu_approximate():
    """activations.gelu(approximate=True) raised NotImplementedError; Keras has the tanh form."""
    x = np.linspace(-4, 4, 41)
    ref = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    assert_close(activations.gelu(x.astype(np.float32), approximate=True), ref, rtol=1e-5, atol=1e-6)


def test_frozen_layer_penalty_not_in_fit_loss(rng):
    """Keras counts a weight's regularizer only while it is trainable; fit added it anyway."""
    x = rng.normal(size=(4, 3)).astype(np.float32)
    t = np.zeros((4, 2), np.float32)
    frozen = L.Dense(2, kernel_regularizer=regularizers.L2(10.0), trainable=False)
    m = keras.Sequential([keras.Input((3,)), frozen])
    m.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    y = m.predict(x, verbose=0).astype(np.float64)
    for _ in range(2):  # first step (model.losses) and the cached regularizer path
        assert abs(m.train_on_batch(x, t) - (y ** 2).mean()) < 1e-5
    frozen.trainable = True
    m.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    k = frozen.get_weights()[0].astype(np.float64)
    assert abs(m.train_on_batch(x, t) - ((y ** 2).mean() + 10.0 * (k * k).sum())) < 1e-4


def _orth_ref(w, factor, mode):
    x = w if mode == "rows" else w.T
    x = x / np.maximum(np.sqrt((x * x).sum(1, keepdims=True)), 1e-7)
    p = x @ x.T
    n = p.shape[0]
    return factor * 0.5 * np.abs(p * (1 - np.eye(n))).sum() / (n * (n - 1) / 2)


@pytest.mark.parametrize("mode", ["rows", "columns"])
def test_orthogonal_regularizer(rng, mode):
    """keras.regularizers.OrthogonalRegularizer was missing."""
    w = rng.normal(size=(4, 6))
    reg = regularizers.OrthogonalRegularizer(0.3, mode)
    assert_close(float(np.asarray(reg(w.astype(np.float32)))), _orth_ref(w, 0.3, mode), rtol=1e-5, atol=1e-7)
    _, (g,) = _tape_grads(lambda t: reg(t), w, [], np.ones(()))
    assert_grad_close(g, numeric_grad(lambda a: np.array(_orth_ref(a, 0.3, mode)), w, np.ones(())))
    assert regularizers.get(regularizers.serialize(reg)).get_config() == {"factor": 0.3, "mode": mode}
    with pytest.raises(ValueError):
        regularizers.OrthogonalRegularizer(mode="diag")


def test_keras_positional_orders_and_aliases():
    assert initializers.he_normal is initializers.HeNormal
    assert initializers.OrthogonalInitializer is initializers.Orthogonal
    # Keras: (pool_size, strides, padding, data_format, name)
    assert L.MaxPooling2D(2, 2, "valid", None, "mp").name == "mp"
    bn = L.BatchNormalization(-1, 0.9, 1e-3, True, True, "zeros", "ones", "zeros", "ones", None, None, None, None,
                              False, None, 0.99, True)  # ..., renorm, renorm_clipping, renorm_momentum, synchronized
    assert bn.synchronized is True


def test_reshape_unknown_dimension_is_none():
    """A -1 target dimension over an input with unknown sizes came out as -1 in the symbolic shape."""
    assert L.Reshape((-1, 2)).compute_output_shape((None, None, 4)) == (None, None, 2)
    assert tuple(L.Reshape((2, -1))(keras.Input((None,))).shape) == (None, 2, None)
    assert L.Reshape((3, -1)).compute_output_shape((None, 6)) == (None, 3, 2)


def test_softmax_mask(rng):
    """Softmax(mask=...) raised NotImplementedError; Keras: masked logits -> -1e9, masked outputs -> 0."""
    x = rng.normal(size=(2, 3, 4))
    mask = rng.random((3, 4)) > 0.4
    mask[0] = False  # a fully masked row gives zeros
    xm = np.where(mask, x, -1e9)
    e = np.exp(xm - xm.max(-1, keepdims=True))
    ref = np.where(mask, e / e.sum(-1, keepdims=True), 0.0)
    assert_close(L.Softmax()(x.astype(np.float32), mask=mask), ref, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError):
        L.Softmax()(x.astype(np.float32), mask=np.ones((2, 5), bool))


@pytest.mark.parametrize("padding", [(1, 2, 3), ((1, 2), (3,)), -1])
def test_zero_padding_bad_padding_is_value_error(padding):
    """(1, 2, 3) raised TypeError ('int' object is not iterable); Keras raises ValueError."""
    with pytest.raises(ValueError, match="ZeroPadding2D"):
        L.ZeroPadding2D(padding)


def test_activations_softmax_tuple_axis(rng):
    x = rng.normal(size=(2, 3, 4))
    e = np.exp(x - x.max(axis=(0, 2), keepdims=True))
    assert_close(activations.softmax(x.astype(np.float32), axis=(0, 2)), e / e.sum(axis=(0, 2), keepdims=True),
                 rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("make,shape", [
    (lambda **k: L.Activation("tanh", **k), (3, 4)), (lambda **k: L.ReLU(**k), (3, 4)),
    (lambda **k: L.MaxPooling2D(2, **k), (2, 4, 4, 3)), (lambda **k: L.GlobalAveragePooling2D(**k), (2, 4, 4, 3)),
    (lambda **k: L.Flatten(**k), (2, 3, 4)), (lambda **k: L.Dropout(0.5, **k), (3, 4)),
    (lambda **k: L.LocalResponseNormalization(**k), (2, 3, 3, 4)),
])
def test_weightless_layers_take_activity_regularizer(rng, make, shape):
    """Keras's base Layer takes activity_regularizer for every layer; these raised TypeError."""
    x = rng.normal(size=shape).astype(np.float32)
    layer = make(activity_regularizer=regularizers.L2(0.5))
    y = np.asarray(layer(x), np.float64)
    assert_close(float(np.asarray(layer.losses[0])), 0.5 * (y * y).sum() / shape[0], rtol=1e-5, atol=1e-7)
    c = layer.get_config()
    assert c["activity_regularizer"]["class_name"] == "L2"
    assert type(layer).from_config(c).activity_regularizer.l2 == 0.5
    assert "activity_regularizer" not in make().get_config()


def test_activity_regularizer_of_weightless_layer_in_fit(rng):
    x = rng.normal(size=(4, 3)).astype(np.float32)
    m = keras.Sequential([keras.Input((3,)), L.Dense(2, kernel_initializer="ones"),
                          L.Activation("relu", activity_regularizer=regularizers.L1(0.5))])
    m.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    y = m.predict(x, verbose=0).astype(np.float64)
    for _ in range(2):
        assert abs(m.train_on_batch(x, np.zeros((4, 2), np.float32)) - ((y ** 2).mean() + 0.5 * y.sum() / 4)) < 1e-5


@pytest.mark.parametrize("df", ["channels_last", "channels_first"])
def test_global_max_pooling_splits_gradient_among_ties(df):
    """Keras (TF reduce_max, torch amax) shares the gradient equally among tied maxima; the kernel's
    backward gave all of it to the first. Forward values stay the exact max."""
    x = np.zeros((2, 3, 2, 2), np.float32)  # NHWC
    x[0, 0, 0, 1] = x[0, 2, 1, 1] = 1.0     # two tied maxima in (batch 0, channel 1)
    x[1] = np.arange(12, dtype=np.float32).reshape(3, 2, 2)
    g = np.array([[1.0, 2.0], [3.0, 4.0]])
    ref = np.zeros_like(x, dtype=np.float64)
    ref[0, :, :, 0] = 1.0 / 6              # all six zeros tie
    ref[0, 0, 0, 1] = ref[0, 2, 1, 1] = 1.0
    ref[1, 2, 1, 0], ref[1, 2, 1, 1] = 3.0, 4.0
    xin = x if df == "channels_last" else np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    y, (gx,) = _tape_grads(L.GlobalMaxPooling2D(data_format=df), xin, [], g)
    assert_close(y, x.max(axis=(1, 2)).astype(np.float64), rtol=0, atol=0)
    if df == "channels_first":
        gx = gx.transpose(0, 2, 3, 1)
    assert_close(gx, ref, rtol=1e-6, atol=1e-7)


def test_relu_and_sparse_sigmoid_kink_gradients_follow_keras():
    """Keras composes relu(x) [relu6 when max_value == 6] - slope * relu(-x): gradient 0 at x = 0 (and at 6
    with max_value=6); ours was leaky_relu then minimum (1 at both). sparse_sigmoid: 0 at +-1 (was 0.5)."""
    x = np.array([[-1.0, 0.0, 0.5, 1.0, 6.0, 2.0, 7.0]])
    g = np.ones_like(x)
    _, (gx,) = _tape_grads(L.ReLU(negative_slope=0.1, max_value=6.0), x, [], g)
    assert_close(gx, np.array([[0.1, 0, 1, 1, 0, 1, 0]]), rtol=0, atol=1e-7)
    _, (gx,) = _tape_grads(L.ReLU(negative_slope=0.1, max_value=2.0), x, [], g)
    assert_close(gx, np.array([[0.1, 0, 1, 1, 0, 1, 0]]), rtol=0, atol=1e-7)
    _, (gx,) = _tape_grads(L.Activation("sparse_sigmoid"), x, [], g)
    assert_close(gx, np.array([[0, 0.5, 0.5, 0, 0, 0, 0]]), rtol=0, atol=1e-7)
    y = activations.sparse_sigmoid(x.astype(np.float32))
    assert_close(y, np.clip((x + 1) / 2, 0, 1), rtol=0, atol=1e-7)
