"""Differential check of pyconvnet.nn against tf.nn itself (TensorFlow 2.x).

Skips without TensorFlow (CI); run with the TF venv:
    PYTHONPATH=. /work/venv-tf/bin/python -m pytest -q tests/test_tfnn_vs_tf.py
Same NumPy inputs -> same values (rel 1e-5-ish), same output shapes; the same
argument forms accepted; bad arguments rejected by both (ours with ValueError /
TypeError / NotImplementedError naming the function). The CI regression tests
for the bugs this file found are in tests/test_nn_regress.py.
"""
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
tf = pytest.importorskip("tensorflow")

import pyconvnet as pcn  # noqa: E402
from tolerance import assert_close  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

R = np.random.default_rng(7)


def rnd(*shape, lo=-1.0, hi=1.0):
    return R.uniform(lo, hi, size=shape).astype(np.float32)


def same(name, *args, rtol=1e-5, atol=1e-6, tf_name=None, **kw):
    """Call tf.nn.<name> and pcn.nn.<name> with the same arguments; compare."""
    fn_tf = getattr(tf.nn, tf_name or name)
    ref = fn_tf(*args, **kw)
    got = getattr(pcn.nn, name)(*args, **kw)
    if isinstance(ref, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(ref), name
        for g, r in zip(got, ref):
            assert_close(np.asarray(g), np.asarray(r), rtol=rtol, atol=atol, what=name)
            assert np.asarray(g).shape == tuple(r.shape)
    else:
        ref = np.asarray(ref)
        assert isinstance(got, np.ndarray), "%s returned %s for NumPy input" % (name, type(got))
        assert_close(got, ref, rtol=rtol, atol=atol, what=name)
    return got


def both_raise(name, *args, ours=(ValueError, TypeError, NotImplementedError), tf_too=True, **kw):
    if tf_too:  # (some TF kernels abort the process on bad shapes instead of raising)
        with pytest.raises(Exception):
            getattr(tf.nn, name)(*args, **kw)
    with pytest.raises(ours) as e:
        getattr(pcn.nn, name)(*args, **kw)
    assert name.split("_")[0] in str(e.value) or name in str(e.value), str(e.value)


# ----------------------------------------------------------------------- conv
X = rnd(2, 9, 8, 4)
W = rnd(3, 2, 4, 5)


@pytest.mark.parametrize("strides", [1, 2, [2, 1], [1, 2, 3, 1]])
@pytest.mark.parametrize("padding", ["SAME", "VALID", [[0, 0], [1, 2], [0, 3], [0, 0]]])
def test_conv2d_forms(strides, padding):
    same("conv2d", X, W, strides=strides, padding=padding, rtol=1e-4, atol=1e-5)


def test_conv2d_lowercase_padding_is_a_superset():
    # TF rejects "same"; pyconvnet accepts any case (documented in DESIGN.md) and means "SAME"
    ref = tf.nn.conv2d(X, W, 2, "SAME").numpy()
    assert_close(pcn.nn.conv2d(X, W, 2, "same"), ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dil", [2, [1, 2], [1, 2, 1, 1]])
def test_conv2d_dilations(dil):
    same("conv2d", X, W, 1, "SAME", dilations=dil, rtol=1e-4, atol=1e-5)


def test_conv2d_grouped():
    same("conv2d", X, rnd(3, 3, 2, 6), 1, "VALID", rtol=1e-4, atol=1e-5)


def test_conv2d_positional_data_format():
    same("conv2d", X, W, [1, 1, 1, 1], "VALID", "NHWC", rtol=1e-4, atol=1e-5)


def test_conv2d_bad():
    both_raise("conv2d", X, rnd(3, 3, 3, 2), 1, "VALID", tf_too=False)  # 4 channels vs 3 (TF aborts)
    both_raise("conv2d", X, W, 1, "FULL")
    both_raise("conv2d", X[0], W, 1, "VALID", tf_too=False)      # rank 3 (TF aborts)
    with pytest.raises((ValueError, NotImplementedError), match="conv2d"):
        pcn.nn.conv2d(X, W, 1, "VALID", data_format="NCHW")


@pytest.mark.parametrize("stride,padding", [(1, "SAME"), (2, "VALID"), ([2], "SAME")])
def test_conv1d(stride, padding):
    x, w = rnd(2, 11, 3), rnd(3, 3, 4)
    same("conv1d", x, w, stride, padding, rtol=1e-4, atol=1e-5)


def test_conv1d_dilation():
    same("conv1d", rnd(2, 11, 3), rnd(3, 3, 4), 1, "SAME", dilations=2, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_depthwise_conv2d(padding):
    same("depthwise_conv2d", X, rnd(3, 3, 4, 2), [1, 2, 2, 1], padding, rtol=1e-4, atol=1e-5)


def test_depthwise_conv2d_dilations():
    same("depthwise_conv2d", X, rnd(3, 3, 4, 1), [1, 1, 1, 1], "SAME", dilations=[2, 2], rtol=1e-4, atol=1e-5)


def test_separable_conv2d():
    same("separable_conv2d", X, rnd(3, 3, 4, 2), rnd(1, 1, 8, 5), [1, 1, 1, 1], "SAME", rtol=1e-4, atol=1e-5)
    same("separable_conv2d", X, rnd(3, 3, 4, 2), rnd(1, 1, 8, 5), [1, 2, 2, 1], "VALID", rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("stride,padding,oshape", [(2, "SAME", (2, 10, 8, 3)), (2, "VALID", (2, 11, 9, 3)),
                                                   (1, "SAME", (2, 5, 4, 3)), ([1, 2, 2, 1], "SAME", (2, 9, 7, 3))])
def test_conv2d_transpose(stride, padding, oshape):
    x = rnd(2, 5, 4, 6)
    w = rnd(3, 3, 3, 6)   # (kh, kw, out_channels, in_channels)
    same("conv2d_transpose", x, w, list(oshape), stride, padding, rtol=1e-4, atol=1e-5)


def test_conv2d_transpose_bad_output_shape():
    both_raise("conv2d_transpose", rnd(2, 5, 4, 6), rnd(3, 3, 3, 6), [2, 10, 8, 4], 2, "SAME")


def test_conv2d_backprops():
    dy = rnd(2, 5, 4, 5)
    ref = tf.raw_ops.Conv2DBackpropInput(input_sizes=list(X.shape), filter=W, out_backprop=dy,
                                         strides=[1, 2, 2, 1], padding="SAME")
    got = pcn.nn.conv2d_backprop_input(list(X.shape), W, dy, [1, 2, 2, 1], "SAME")
    assert_close(got, ref.numpy(), rtol=1e-4, atol=1e-5)
    ref = tf.raw_ops.Conv2DBackpropFilter(input=X, filter_sizes=list(W.shape), out_backprop=dy,
                                          strides=[1, 2, 2, 1], padding="SAME")
    got = pcn.nn.conv2d_backprop_filter(X, list(W.shape), dy, [1, 2, 2, 1], "SAME")
    assert_close(got, ref.numpy(), rtol=1e-4, atol=1e-5)


# -------------------------------------------------------------------- pooling
@pytest.mark.parametrize("name", ["max_pool", "avg_pool", "max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("ksize,strides,padding", [(2, 2, "VALID"), (3, 2, "SAME"), ([2, 3], [1, 2], "SAME"),
                                                   ([1, 3, 3, 1], [1, 2, 2, 1], "VALID"), (3, 1, "SAME")])
def test_pool(name, ksize, strides, padding):
    same(name, X, ksize, strides, padding)


def test_max_pool_depth():
    same("max_pool", rnd(2, 4, 4, 6), [1, 1, 1, 3], [1, 1, 1, 3], "VALID")


def test_max_pool_explicit_padding():
    same("max_pool", X, 3, 2, [[0, 0], [1, 1], [2, 0], [0, 0]])


@pytest.mark.parametrize("ptype", ["MAX", "AVG"])
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_pool_generic(ptype, padding):
    same("pool", X, [3, 2], ptype, strides=[2, 2], padding=padding)
    same("pool", X, [2, 2], ptype, padding=padding)
    same("pool", rnd(2, 9, 3), [3], ptype, strides=[2], padding=padding)


def test_pool_dilation():
    with pytest.raises(ValueError):   # TF: SAME + dilation is not implemented
        tf.nn.pool(X, [2, 2], "MAX", padding="SAME", dilations=[2, 2])
    tf.nn.pool(X, [2, 2], "MAX", padding="VALID", dilations=[2, 2])
    with pytest.raises(NotImplementedError, match="pool"):   # ours: not implemented at all (documented)
        pcn.nn.pool(X, [2, 2], "MAX", padding="VALID", dilations=[2, 2])
    same("pool", X, [2, 2], "MAX", padding="VALID", dilations=[1, 1])


@pytest.mark.parametrize("name", ["max_pool1d", "avg_pool1d"])
def test_pool1d(name):
    same(name, rnd(2, 9, 3), 3, 2, "SAME")
    same(name, rnd(2, 9, 3), [2], [1, 2, 1], "VALID")


def test_max_pool_rank3_dispatch():
    same("max_pool", rnd(2, 9, 3), 3, 2, "SAME")
    same("avg_pool", rnd(2, 9, 3), 3, 2, "VALID")


def test_pool_bad():
    both_raise("max_pool", X, [2, 2, 2, 1], 1, "VALID")  # batch pooling
    both_raise("avg_pool", X, 2, 1, "FULL")


# ----------------------------------------------------------------- elementwise
A = rnd(3, 4, 5, lo=-4, hi=4)


@pytest.mark.parametrize("name", ["relu", "relu6", "elu", "selu", "sigmoid", "tanh", "softplus", "softsign",
                                  "silu", "swish", "gelu"])
def test_activations(name):
    same(name, A, rtol=2e-5, atol=2e-6)


def test_activation_args():
    same("leaky_relu", A, alpha=0.2)
    same("leaky_relu", A, 0.01)
    same("leaky_relu", A)
    same("gelu", A, approximate=True, rtol=2e-5, atol=2e-6)
    same("gelu", A, approximate=False, rtol=2e-5, atol=2e-6)
    same("silu", A, beta=1.5, rtol=2e-5, atol=2e-6)
    same("crelu", A)
    same("crelu", A, axis=1)


@pytest.mark.parametrize("axis", [None, -1, 0, 1])
def test_softmax(axis):
    kw = {} if axis is None else {"axis": axis}
    same("softmax", A, **kw)
    same("log_softmax", A, rtol=1e-5, atol=1e-5, **kw)


def test_bias_add():
    same("bias_add", A, rnd(5))
    same("bias_add", X, rnd(4), data_format="NHWC")
    both_raise("bias_add", A, rnd(4))


def test_l2_normalize():
    same("l2_normalize", A, axis=-1)
    same("l2_normalize", A, axis=[1, 2])
    same("l2_normalize", A)
    same("l2_normalize", np.zeros((2, 3), np.float32), axis=1)


# ------------------------------------------------------------- normalization
@pytest.mark.parametrize("axes,keepdims", [([], False), ([0], False), ([0, 1, 2], False), ([0, 1, 2], True),
                                           ([1, 2], True),
                                           ([1], False), ([-1], True), ([0, 1, 2, 3], False)])
def test_moments(axes, keepdims):
    same("moments", X, axes, keepdims=keepdims, rtol=1e-5, atol=1e-6)


def test_batch_normalization():
    m, v = tf.nn.moments(tf.constant(X), [0, 1, 2])
    m, v = m.numpy(), v.numpy()
    same("batch_normalization", X, m, v, rnd(4), rnd(4), 1e-3)
    same("batch_normalization", X, m, v, None, None, 1e-3)
    m, v = [t.numpy() for t in tf.nn.moments(tf.constant(X), [1, 2], keepdims=True)]
    same("batch_normalization", X, m, v, rnd(4), rnd(4), 1e-3)   # per-instance statistics
    same("batch_normalization", A, np.float32(0.1), np.float32(2.0), np.float32(0.5), np.float32(3.0), 1e-3)


@pytest.mark.parametrize("kw", [{}, dict(depth_radius=2, bias=2.0, alpha=1e-2, beta=0.75),
                                dict(depth_radius=0, alpha=0.5), dict(depth_radius=7)])
def test_lrn(kw):
    x = rnd(2, 3, 3, 9)
    same("local_response_normalization", x, **kw)
    same("lrn", x, **kw)


# ----------------------------------------------------------------- dropout
def test_dropout_statistics_and_scaling():
    x = np.ones((200, 50), np.float32)
    y = pcn.nn.dropout(x, 0.25, seed=3)
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    ref = tf.nn.dropout(x, 0.25, seed=3).numpy()
    np.testing.assert_allclose(np.unique(ref[ref != 0]), np.unique(y[kept]), rtol=1e-6)


def test_dropout_noise_shape():
    x = np.ones((4, 5, 6), np.float32)
    y = pcn.nn.dropout(x, 0.5, noise_shape=[4, 1, 6], seed=1)
    assert y.shape == x.shape
    assert (y == y[:, :1, :]).all()           # same mask along the broadcast axis
    tf.nn.dropout(x, 0.5, noise_shape=[4, 1, 6])


def test_dropout_bad():
    both_raise("dropout", A, 1.0)
    both_raise("dropout", A, -0.1)
    same("dropout", A, 0.0)


# ------------------------------------------------------------------- losses
def test_softmax_cross_entropy_with_logits():
    z = rnd(6, 5, lo=-3, hi=3)
    lab = R.dirichlet(np.ones(5), size=6).astype(np.float32)
    same("softmax_cross_entropy_with_logits", labels=lab, logits=z)
    same("softmax_cross_entropy_with_logits", lab, z)
    same("softmax_cross_entropy_with_logits", labels=lab.T.copy(), logits=z.T.copy(), axis=0)
    z3, l3 = rnd(2, 3, 4), R.dirichlet(np.ones(4), size=(2, 3)).astype(np.float32)
    same("softmax_cross_entropy_with_logits", labels=l3, logits=z3)
    same("softmax_cross_entropy_with_logits", labels=l3, logits=z3, axis=1)


def test_sparse_softmax_cross_entropy_with_logits():
    z = rnd(6, 5, lo=-3, hi=3)
    same("sparse_softmax_cross_entropy_with_logits", labels=np.array([0, 4, 2, 1, 3, 3]), logits=z)
    same("sparse_softmax_cross_entropy_with_logits", labels=np.array([[0, 4], [2, 1]], np.int32),
         logits=rnd(2, 2, 5))
    both_raise("sparse_softmax_cross_entropy_with_logits", labels=np.array([0, 1.0]), logits=rnd(2, 3))
    both_raise("sparse_softmax_cross_entropy_with_logits", labels=np.array([0, 1, 2]), logits=rnd(2, 3))


def test_sigmoid_and_weighted_cross_entropy():
    z = rnd(4, 5, lo=-30, hi=30)
    t = R.uniform(size=(4, 5)).astype(np.float32)
    same("sigmoid_cross_entropy_with_logits", labels=t, logits=z, rtol=1e-5, atol=1e-5)
    for pw in (0.5, 3.0, rnd(5, lo=0.1, hi=2)):
        same("weighted_cross_entropy_with_logits", labels=t, logits=z, pos_weight=pw, rtol=1e-5, atol=1e-5)
    both_raise("sigmoid_cross_entropy_with_logits", labels=t, logits=rnd(4, 4))


def test_l2_loss_and_average_loss():
    same("l2_loss", A)
    per = rnd(8, lo=0, hi=2)
    same("compute_average_loss", per)
    same("compute_average_loss", per, global_batch_size=16)
    same("compute_average_loss", per, sample_weight=rnd(8, lo=0, hi=1))
    same("compute_average_loss", per, sample_weight=0.5, global_batch_size=4)


def test_scale_regularization_loss():
    same("scale_regularization_loss", np.float32(3.0))
    same("scale_regularization_loss", [np.float32(1.0), np.float32(2.5)])


# -------------------------------------------------------------------- misc
def test_top_k():
    x = np.array([[3, 1, 3, 2, 5], [0, 0, 0, 1, -1]], np.float32)
    rv, ri = tf.nn.top_k(x, 3)
    gv, gi = pcn.nn.top_k(x, 3)
    np.testing.assert_array_equal(gv, rv.numpy())
    np.testing.assert_array_equal(gi, ri.numpy())
    assert gi.dtype == np.int32
    gv, gi = pcn.nn.top_k(rnd(2, 3, 6), k=2)
    assert gv.shape == (2, 3, 2)


def test_in_top_k():
    p = rnd(5, 4)
    t = np.array([0, 1, 2, 3, 1])
    np.testing.assert_array_equal(pcn.nn.in_top_k(t, p, 2), tf.nn.in_top_k(t, p, 2).numpy())


def test_zero_fraction_and_normalize_moments():
    same("zero_fraction", np.array([[0, 1, 0], [2, 0, 0]], np.float32))


# --------------------------------------------------------------- gradients
def _grads_tf(fn, *xs):
    xs_t = [tf.Variable(x) for x in xs]
    with tf.GradientTape() as t:
        y = fn(*xs_t)
        s = tf.reduce_sum(y * tf.constant(GY[:int(np.prod(y.shape))].reshape(y.shape)))
    return [tf.convert_to_tensor(g).numpy() for g in t.gradient(s, xs_t)]  # (IndexedSlices -> dense)


def _grads_ours(fn, *xs):
    xs_v = [pcn.Variable(x) for x in xs]
    with pcn.GradientTape() as t:
        y = fn(*xs_v)
        s = pcn.ops.sum(y * GY[:int(np.prod(y.shape))].reshape(y.shape))
    return [np.asarray(g) for g in t.gradient(s, xs_v)]


GY = rnd(10000)

GRAD_CASES = [
    ("conv2d", lambda nn, x, w: nn.conv2d(x, w, 2, "SAME"), [X, W]),
    ("depthwise", lambda nn, x, w: nn.depthwise_conv2d(x, w, [1, 1, 1, 1], "VALID"), [X, rnd(3, 3, 4, 2)]),
    ("separable", lambda nn, x, d, p: nn.separable_conv2d(x, d, p, [1, 1, 1, 1], "SAME"),
     [X, rnd(3, 3, 4, 2), rnd(1, 1, 8, 3)]),
    ("conv1d", lambda nn, x, w: nn.conv1d(x, w, 1, "SAME"), [rnd(2, 7, 3), rnd(3, 3, 2)]),
    ("conv2d_transpose", lambda nn, x, w: nn.conv2d_transpose(x, w, [2, 9, 7, 3], 2, "SAME"),
     [rnd(2, 5, 4, 6), rnd(3, 3, 3, 6)]),
    ("max_pool", lambda nn, x: nn.max_pool(x, 3, 2, "SAME"), [X]),
    ("avg_pool", lambda nn, x: nn.avg_pool(x, 3, 2, "SAME"), [X]),
    ("lrn", lambda nn, x: nn.lrn(x, 2, 1.0, 0.1, 0.75), [X]),
    ("relu", lambda nn, x: nn.relu(x), [A]),
    ("elu", lambda nn, x: nn.elu(x), [A]),
    ("gelu", lambda nn, x: nn.gelu(x), [A]),
    ("softplus", lambda nn, x: nn.softplus(x), [A]),
    ("leaky", lambda nn, x: nn.leaky_relu(x, 0.1), [A]),
    ("silu", lambda nn, x: nn.silu(x), [A]),
    ("tanh", lambda nn, x: nn.tanh(x), [A]),
    ("sigmoid", lambda nn, x: nn.sigmoid(x), [A]),
    ("softmax", lambda nn, x: nn.softmax(x, axis=1), [A]),
    ("log_softmax", lambda nn, x: nn.log_softmax(x), [A]),
    ("bias_add", lambda nn, x, b: nn.bias_add(x, b), [A, rnd(5)]),
    ("l2_loss", lambda nn, x: nn.l2_loss(x), [A]),
    ("l2_normalize", lambda nn, x: nn.l2_normalize(x, axis=-1), [A]),
    ("moments", lambda nn, x: nn.moments(x, [0, 1])[1], [A]),
    ("batchnorm", lambda nn, x, m, v, o, s: nn.batch_normalization(x, m, v, o, s, 1e-3),
     [A, rnd(5), rnd(5, lo=0.5, hi=1), rnd(5), rnd(5)]),
    ("sce", lambda nn, z: nn.softmax_cross_entropy_with_logits(labels=np.eye(5, dtype=np.float32)[[0, 2, 4]],
                                                               logits=z), [rnd(3, 5)]),
    ("ssce", lambda nn, z: nn.sparse_softmax_cross_entropy_with_logits(labels=np.array([0, 2, 4]), logits=z),
     [rnd(3, 5)]),
    ("sigce", lambda nn, z: nn.sigmoid_cross_entropy_with_logits(labels=R.uniform(size=(3, 5)).astype(np.float32),
                                                                 logits=z), [rnd(3, 5)]),
    ("crelu", lambda nn, x: nn.crelu(x), [A]),
    ("leaky_at_zero", lambda nn, x: nn.leaky_relu(x, 0.3), [np.array([-1, 0, 0, 2], np.float32)]),
]


@pytest.mark.parametrize("name,fn,xs", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_gradients_match_tf(name, fn, xs):
    if name == "sigce":
        R2 = np.random.default_rng(0)
        lab = R2.uniform(size=(3, 5)).astype(np.float32)
        fn = lambda nn, z: nn.sigmoid_cross_entropy_with_logits(labels=lab, logits=z)  # noqa: E731
    ref = _grads_tf(lambda *a: fn(tf.nn, *a), *xs)
    got = _grads_ours(lambda *a: fn(pcn.nn, *a), *xs)
    for g, r in zip(got, ref):
        assert_close(g, r, rtol=1e-4, atol=1e-5, what=name)


# ------------------------------------------------- more tf.nn functions (second pass)
def test_convolution_and_atrous():
    same("convolution", X, W, padding="SAME", rtol=1e-4, atol=1e-5)
    same("convolution", X, W, strides=[2, 1], padding="VALID", rtol=1e-4, atol=1e-5)
    same("convolution", X, W, padding="SAME", dilations=[2, 2], rtol=1e-4, atol=1e-5)
    same("convolution", rnd(2, 9, 3), rnd(3, 3, 2), strides=[2], padding="SAME", rtol=1e-4, atol=1e-5)
    same("atrous_conv2d", X, W, 2, "SAME", rtol=1e-4, atol=1e-5)
    same("atrous_conv2d", X, W, 2, "VALID", rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("stride,padding,ow", [(2, "SAME", 10), (2, "VALID", 11), (1, "SAME", 5)])
def test_conv1d_transpose(stride, padding, ow):
    same("conv1d_transpose", rnd(2, 5, 4), rnd(3, 3, 4), [2, ow, 3], stride, padding, rtol=1e-4, atol=1e-5)


def test_space_depth():
    x = rnd(2, 4, 6, 3)
    same("space_to_depth", x, 2)
    same("depth_to_space", rnd(2, 3, 2, 12), 2)
    same("depth_to_space", same("space_to_depth", x, 2), 2)
    both_raise("space_to_depth", rnd(2, 5, 6, 3), 2)


def test_embedding_lookup():
    p = rnd(7, 3)
    same("embedding_lookup", p, np.array([[0, 6], [3, 3]]))
    same("embedding_lookup", rnd(7, 2, 2), np.array([1, 5]))
    same("embedding_lookup", p * 4, np.array([0, 2, 5]), max_norm=1.5)
    both_raise("embedding_lookup", p, np.array([7]))


def test_moment_helpers():
    x = rnd(3, 4, 5)
    c, m, v, s = tf.nn.sufficient_statistics(x, [0, 1])
    gc, gm, gv, gs = pcn.nn.sufficient_statistics(x, [0, 1])
    assert float(gc) == float(c) and gs is None
    assert_close(gm, m.numpy(), rtol=1e-5, atol=1e-5)
    assert_close(gv, v.numpy(), rtol=1e-5, atol=1e-5)
    c, m, v, s = tf.nn.sufficient_statistics(x, [1], shift=0.5, keepdims=True)
    gc, gm, gv, gs = pcn.nn.sufficient_statistics(x, [1], shift=0.5, keepdims=True)
    assert_close(gm, m.numpy(), rtol=1e-5, atol=1e-5)
    assert_close(gv, v.numpy(), rtol=1e-5, atol=1e-5)
    same("normalize_moments", np.float32(12.0), rnd(5), rnd(5, lo=1, hi=2), None)
    same("normalize_moments", np.float32(12.0), rnd(5), rnd(5, lo=1, hi=2), np.float32(0.3))
    fw = rnd(3, 4, 1, lo=0.1, hi=1)
    same("weighted_moments", x, [0, 1], fw, rtol=1e-5, atol=1e-6)
    same("weighted_moments", x, [2], fw, keepdims=True, rtol=1e-5, atol=1e-6)


def test_log_poisson_loss():
    t = np.array([[0.0, 0.5, 1.0, 3.0], [2.0, 7.0, 0.2, 1.5]], np.float32)
    li = rnd(2, 4)
    same("log_poisson_loss", t, li, rtol=1e-5, atol=1e-6)
    same("log_poisson_loss", t, li, compute_full_loss=True, rtol=1e-5, atol=1e-5)


GRAD_CASES2 = [
    ("space_to_depth", lambda nn, x: nn.space_to_depth(x, 2), [rnd(1, 4, 2, 3)]),
    ("embedding", lambda nn, p: nn.embedding_lookup(p, np.array([[0, 2], [2, 1]])), [rnd(3, 4)]),
    ("embedding_maxnorm", lambda nn, p: nn.embedding_lookup(p, np.array([0, 2]), max_norm=0.5), [rnd(3, 4)]),
    ("atrous", lambda nn, x, w: nn.atrous_conv2d(x, w, 2, "SAME"), [X, W]),
    ("conv1d_transpose", lambda nn, x, w: nn.conv1d_transpose(x, w, [2, 10, 3], 2, "SAME"),
     [rnd(2, 5, 4), rnd(3, 3, 4)]),
    ("weighted_moments", lambda nn, x: nn.weighted_moments(x, [0], np.float32([[1.0], [2.0], [0.5]]))[1],
     [rnd(3, 4)]),
    ("log_poisson_full", lambda nn, t, li: nn.log_poisson_loss(t, li, compute_full_loss=True),
     [np.array([0.5, 2.0, 3.0], np.float32), rnd(3)]),
]


@pytest.mark.parametrize("name,fn,xs", GRAD_CASES2, ids=[c[0] for c in GRAD_CASES2])
def test_gradients_match_tf_2(name, fn, xs):
    ref = _grads_tf(lambda *a: fn(tf.nn, *a), *xs)
    got = _grads_ours(lambda *a: fn(pcn.nn, *a), *xs)
    for g, r in zip(got, ref):
        assert_close(g, r, rtol=1e-4, atol=1e-5, what=name)
