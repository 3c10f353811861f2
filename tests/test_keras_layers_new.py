"""The layers added in conv1d.py, extra.py and transpose.py against float64 NumPy
references written here as plain loops (the spec): forward values, the input and
weight gradients of sum(y * g) through the tape (against central differences of
the reference), output shapes (symbolic == eager), config round trips, a .keras
save/load round trip, training-mode behaviour of the noise layers, and bad
arguments (ValueError/TypeError naming the layer). Runs without Keras/TF."""
import math

import numpy as np
import pytest

import pyconvnet as keras
from pyconvnet import autograd as ag
from gradcheck import numeric_grad, assert_grad_close, sample_indices
from tolerance import assert_close

L = keras.layers


# --------------------------------------------------------------------------
# float64 references
# --------------------------------------------------------------------------
def _same_pads(n, k, s, d=1):
    ke = (k - 1) * d + 1
    out = -(-n // s)
    tot = max((out - 1) * s + ke - n, 0)
    return tot // 2, tot - tot // 2


def ref_conv1d(x, w, b, stride=1, padding="valid", dilation=1, groups=1):
    n, t, c = x.shape
    k, cg, f = w.shape
    if padding == "causal":
        lo, hi = dilation * (k - 1), 0
    elif padding == "same":
        lo, hi = _same_pads(t, k, stride, dilation)
    else:
        lo, hi = 0, 0
    xp = np.zeros((n, t + lo + hi, c))
    xp[:, lo:lo + t] = x
    tout = (t + lo + hi - (k - 1) * dilation - 1) // stride + 1
    fg = f // groups
    y = np.zeros((n, tout, f))
    for o in range(tout):
        for j in range(f):
            g = j // fg
            for kk in range(k):
                y[:, o, j] += xp[:, o * stride + kk * dilation, g * cg:(g + 1) * cg] @ w[kk, :, j]
    return y + (b if b is not None else 0)


def ref_pool1d(x, mode, k, s, padding):
    n, t, c = x.shape
    if padding == "same":
        lo, _ = _same_pads(t, k, s)
        tout = -(-t // s)
    else:
        lo, tout = 0, (t - k) // s + 1
    y = np.zeros((n, tout, c))
    for o in range(tout):
        a = max(o * s - lo, 0)
        e = min(o * s - lo + k, t)
        win = x[:, a:e]
        y[:, o] = win.max(1) if mode == "max" else win.mean(1)
    return y


def ref_layernorm(x, gamma, beta, axes, eps):
    mean = x.mean(axis=tuple(axes), keepdims=True)
    var = ((x - mean) ** 2).mean(axis=tuple(axes), keepdims=True)
    bshape = [x.shape[a] if a in axes else 1 for a in range(x.ndim)]
    y = (x - mean) / np.sqrt(var + eps)
    if gamma is not None:
        y = y * gamma.reshape(bshape)
    if beta is not None:
        y = y + beta.reshape(bshape)
    return y


def ref_bilinear(x, sh, sw):
    n, h, w, c = x.shape
    ho, wo = h * sh, w * sw
    y = np.zeros((n, ho, wo, c))

    def src(o, scale, size):
        s = max((o + 0.5) / scale - 0.5, 0.0)
        i0 = min(int(math.floor(s)), size - 1)
        return i0, min(i0 + 1, size - 1), s - i0
    for i in range(ho):
        a0, a1, la = src(i, sh, h)
        for j in range(wo):
            b0, b1, lb = src(j, sw, w)
            y[:, i, j] = ((1 - la) * (1 - lb) * x[:, a0, b0] + (1 - la) * lb * x[:, a0, b1]
                          + la * (1 - lb) * x[:, a1, b0] + la * lb * x[:, a1, b1])
    return y


def _tout(n, k, s, padding, op, d):
    ke = (k - 1) * d + 1
    if padding == "valid":
        return (n - 1) * s + ke + (max(ke, s) - ke if op is None else op)
    return n * s if op is None else (n - 1) * s + ke % 2 + op


def ref_conv2d_transpose(x, w, b, strides, padding, output_padding=None, dilation=(1, 1)):
    """Scatter form: each input pixel adds its kernel-weighted copy at i*s + k*d - pad_before."""
    n, h, wd, c = x.shape
    kh, kw, f, _ = w.shape
    ops = output_padding or (None, None)
    ho = _tout(h, kh, strides[0], padding, ops[0], dilation[0])
    wo = _tout(wd, kw, strides[1], padding, ops[1], dilation[1])
    pt = pl = 0
    if padding == "same":
        pt = max((h - 1) * strides[0] + (kh - 1) * dilation[0] + 1 - ho, 0) // 2
        pl = max((wd - 1) * strides[1] + (kw - 1) * dilation[1] + 1 - wo, 0) // 2
    y = np.zeros((n, ho, wo, f))
    for i in range(h):
        for j in range(wd):
            for a in range(kh):
                for bb in range(kw):
                    oi = i * strides[0] + a * dilation[0] - pt
                    oj = j * strides[1] + bb * dilation[1] - pl
                    if 0 <= oi < ho and 0 <= oj < wo:
                        y[:, oi, oj] += x[:, i, j] @ w[a, bb].T
    return y + (b if b is not None else 0)


def ref_separable(x, dw, pw, b, strides, padding):
    n, h, wd, c = x.shape
    kh, kw, _, dm = dw.shape
    if padding == "same":
        (pt, pb), (pl, pr) = _same_pads(h, kh, strides[0]), _same_pads(wd, kw, strides[1])
    else:
        pt = pb = pl = pr = 0
    xp = np.zeros((n, h + pt + pb, wd + pl + pr, c))
    xp[:, pt:pt + h, pl:pl + wd] = x
    ho = (h + pt + pb - kh) // strides[0] + 1
    wo = (wd + pl + pr - kw) // strides[1] + 1
    d = np.zeros((n, ho, wo, c * dm))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, i * strides[0]:i * strides[0] + kh, j * strides[1]:j * strides[1] + kw]  # n,kh,kw,c
            d[:, i, j] = np.einsum("nabc,abcm->ncm", patch, dw).reshape(n, c * dm)
    return d @ pw[0, 0] + (b if b is not None else 0)


# --------------------------------------------------------------------------
# harness
# --------------------------------------------------------------------------
def _set_random_weights(layer, rng, scale=0.5):
    ws = [rng.normal(0, scale, w.shape).astype(np.float32) for w in layer.get_weights()]
    layer.set_weights(ws)
    return [w.astype(np.float64) for w in ws]


def _check_layer(layer, x, ref, rng, rtol=1e-4, atol=1e-5, grad=True, sample=None):
    """Forward against ref(x, weights) and gradients of sum(y*g) w.r.t. x and each weight."""
    layer(x[:1])  # build
    ws = _set_random_weights(layer, rng)
    y = layer(x)
    assert y.shape == ref(x.astype(np.float64), ws).shape
    assert_close(y, ref(x.astype(np.float64), ws), rtol=rtol, atol=atol, what=type(layer).__name__ + " forward")
    sym = layer.compute_output_shape((None,) + x.shape[1:])
    assert tuple(sym[1:]) == tuple(y.shape[1:]), (sym, y.shape)
    if not grad:
        return
    g = rng.normal(0, 1, y.shape)
    xe = ag.EagerTensor(x.astype(np.float32))
    with ag.GradientTape() as tape:
        tape.watch(xe)
        out = layer(xe, training=True)
        loss = ag.reduce("sum", ag.multiply(out, g.astype(np.float32)))
    grads = tape.gradient(loss, [xe] + layer.trainable_weights)
    x64 = x.astype(np.float64)
    idx = None if sample is None else sample_indices(x.size, sample)
    nx = numeric_grad(lambda v: ref(v, ws), x64, g, indices=idx)
    assert_grad_close(grads[0].numpy(), nx, what=type(layer).__name__ + " dx")
    for i, (gw, w) in enumerate(zip(grads[1:], ws)):
        def f(v, i=i):
            w2 = list(ws)
            w2[i] = v
            return ref(x64, w2)
        idx = None if sample is None else sample_indices(w.size, sample)
        nw = numeric_grad(f, w, g, indices=idx)
        assert_grad_close(gw.numpy(), nw, what="%s d%s" % (type(layer).__name__, layer.weights[i].name))


@pytest.fixture
def rng():
    return np.random.default_rng(7)


# --------------------------------------------------------------------------
# Conv1D and 1-D pooling
# --------------------------------------------------------------------------
@pytest.mark.parametrize("padding,stride,dil,groups,k,t,c,f", [
    ("valid", 1, 1, 1, 3, 7, 2, 3),
    ("same", 2, 1, 1, 4, 9, 3, 2),
    ("same", 3, 1, 1, 2, 5, 1, 1),     # stride > kernel
    ("causal", 1, 2, 2, 3, 6, 4, 2),   # dilation + groups
    ("causal", 2, 1, 1, 3, 7, 2, 2),
    ("valid", 1, 3, 1, 2, 8, 2, 3),
    ("same", 1, 1, 1, 5, 3, 2, 2),     # padding larger than the input
])
def test_conv1d(rng, padding, stride, dil, groups, k, t, c, f):
    layer = L.Conv1D(f, k, strides=stride, padding=padding, dilation_rate=dil, groups=groups)
    x = rng.normal(0, 1, (2, t, c)).astype(np.float32)
    _check_layer(layer, x, lambda v, w: ref_conv1d(v, w[0], w[1], stride, padding, dil, groups), rng)
    assert [v.name for v in layer.weights] == ["kernel", "bias"]
    assert layer.kernel.shape == (k, c // groups, f)


def test_conv1d_no_bias_relu(rng):
    layer = L.Conv1D(3, 2, activation="relu", use_bias=False, padding="causal")
    x = rng.normal(0, 1, (1, 5, 2)).astype(np.float32)
    _check_layer(layer, x, lambda v, w: np.maximum(ref_conv1d(v, w[0], None, 1, "causal"), 0), rng)
    assert len(layer.weights) == 1


def test_conv1d_causal_sees_no_future(rng):
    layer = L.Conv1D(2, 3, padding="causal", dilation_rate=2)
    x = rng.normal(0, 1, (1, 10, 3)).astype(np.float32)
    y0 = layer(x)
    x2 = x.copy()
    x2[:, 6:] += 5.0
    y1 = layer(x2)
    np.testing.assert_array_equal(y0[:, :6], y1[:, :6])
    assert not np.allclose(y0[:, 6:], y1[:, 6:])


@pytest.mark.parametrize("cls,mode", [(L.MaxPooling1D, "max"), (L.AveragePooling1D, "avg")])
@pytest.mark.parametrize("k,s,padding,t", [(2, None, "valid", 7), (3, 2, "same", 10), (3, 1, "valid", 5),
                                           (2, 3, "same", 7), (1, 1, "valid", 3)])
def test_pool1d(rng, cls, mode, k, s, padding, t):
    layer = cls(k, strides=s, padding=padding)
    x = rng.normal(0, 1, (2, t, 3)).astype(np.float32)
    _check_layer(layer, x, lambda v, w: ref_pool1d(v, mode, k, s or k, padding), rng)


def test_pool1d_defaults_and_aliases():
    assert L.MaxPool1D is L.MaxPooling1D and L.AvgPool1D is L.AveragePooling1D
    assert L.MaxPooling1D().pool_size == (2,) and L.MaxPooling1D().strides == (2,)
    with pytest.raises(TypeError):
        L.AveragePooling1D()  # pool_size is required, as in Keras
    c = L.MaxPooling1D(3, strides=1).get_config()
    assert (c["pool_size"], c["strides"], c["padding"], c["data_format"]) == ((3,), (1,), "valid", "channels_last")


@pytest.mark.parametrize("cls,fn", [(L.GlobalAveragePooling1D, np.mean), (L.GlobalMaxPooling1D, np.max)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pool1d(rng, cls, fn, keepdims):
    layer = cls(keepdims=keepdims)
    x = rng.normal(0, 1, (3, 5, 4)).astype(np.float32)
    _check_layer(layer, x, lambda v, w: fn(v, axis=1, keepdims=keepdims), rng)


# --------------------------------------------------------------------------
# LayerNormalization
# --------------------------------------------------------------------------
@pytest.mark.parametrize("shape,axis,center,scale", [
    ((3, 5), -1, True, True), ((2, 4, 6), -1, True, True), ((2, 3, 4, 2), [1, 3], True, True),
    ((2, 3, 4), [-2, -1], False, True), ((2, 3, 4), 1, True, False), ((2, 7), -1, False, False)])
def test_layer_normalization(rng, shape, axis, center, scale):
    layer = L.LayerNormalization(axis=axis, center=center, scale=scale, epsilon=1e-3)
    x = rng.normal(0, 2, shape).astype(np.float32)
    nd = len(shape)
    axes = sorted(a % nd for a in (axis if isinstance(axis, list) else [axis]))

    def ref(v, w):
        w = list(w)
        gamma = w.pop(0) if scale else None
        beta = w.pop(0) if center else None
        return ref_layernorm(v, gamma, beta, axes, 1e-3)
    _check_layer(layer, x, ref, rng, rtol=2e-4, atol=2e-5)
    names = [v.name for v in layer.weights]
    assert names == [n for n, on in (("gamma", scale), ("beta", center)) if on]
    if layer.weights:
        assert layer.weights[0].shape == tuple(shape[a] for a in axes)


@pytest.mark.parametrize("groups,axis,shape,center,scale", [
    (2, -1, (2, 3, 4), True, True), (3, -1, (2, 2, 2, 6), True, False), (-1, -1, (2, 5, 3), False, True),
    (2, 1, (2, 4, 3), True, True), (1, -1, (3, 4), True, True)])
def test_group_normalization(rng, groups, axis, shape, center, scale):
    layer = L.GroupNormalization(groups=groups, axis=axis, center=center, scale=scale)
    x = rng.normal(0, 2, shape).astype(np.float32)

    def ref(v, w):
        w = list(w)
        gamma = w.pop(0) if scale else None
        beta = w.pop(0) if center else None
        a = axis % v.ndim
        c = v.shape[a]
        g = c if groups == -1 else groups
        vg = v.reshape(v.shape[:a] + (g, c // g) + v.shape[a + 1:])
        red = tuple(i for i in range(1, v.ndim + 1) if i != a)
        y = (vg - vg.mean(red, keepdims=True)) / np.sqrt(vg.var(red, keepdims=True) + 1e-3)
        y = y.reshape(v.shape)
        bs = [1] * v.ndim
        bs[a] = c
        if gamma is not None:
            y = y * gamma.reshape(bs)
        if beta is not None:
            y = y + beta.reshape(bs)
        return y
    _check_layer(layer, x, ref, rng, rtol=2e-4, atol=2e-5)
    with pytest.raises(ValueError, match="bad_l"):
        L.GroupNormalization(groups=7, name="bad_l")(x)  # more groups than channels


@pytest.mark.parametrize("axis,shape", [(-1, (3, 4)), ([1, 2], (2, 3, 4)), (1, (2, 3, 2))])
def test_unit_normalization(rng, axis, shape):
    x = rng.normal(0, 1, shape).astype(np.float32)
    axes = tuple(axis) if isinstance(axis, list) else (axis,)
    _check_layer(L.UnitNormalization(axis=axis), x,
                 lambda v, w: v / np.sqrt((v ** 2).sum(axes, keepdims=True)), rng)
    np.testing.assert_array_equal(L.UnitNormalization()(np.zeros((2, 3), np.float32)), 0)


def test_layer_normalization_defaults():
    layer = L.LayerNormalization()
    c = layer.get_config()
    assert (c["axis"], c["epsilon"], c["center"], c["scale"], c["rms_scaling"]) == (-1, 1e-3, True, True, False)
    layer(np.zeros((2, 3), np.float32))
    assert layer.get_config()["axis"] == [-1]  # Keras stores the built axis as a list
    y = layer(np.ones((2, 3), np.float32) * 5)  # constant rows -> 0 (not NaN)
    np.testing.assert_array_equal(y, 0)


# --------------------------------------------------------------------------
# resizing / reshaping
# --------------------------------------------------------------------------
def test_upsampling1d(rng):
    x = rng.normal(0, 1, (2, 4, 3)).astype(np.float32)
    _check_layer(L.UpSampling1D(3), x, lambda v, w: np.repeat(v, 3, axis=1), rng)


@pytest.mark.parametrize("size", [(2, 2), (1, 3), (3, 1)])
def test_upsampling2d_nearest(rng, size):
    x = rng.normal(0, 1, (2, 3, 4, 2)).astype(np.float32)
    _check_layer(L.UpSampling2D(size), x, lambda v, w: np.repeat(np.repeat(v, size[0], 1), size[1], 2), rng)


@pytest.mark.parametrize("size,hw", [((2, 2), (3, 4)), ((3, 2), (2, 1)), ((1, 4), (5, 2))])
def test_upsampling2d_bilinear(rng, size, hw):
    x = rng.normal(0, 1, (2,) + hw + (2,)).astype(np.float32)
    _check_layer(L.UpSampling2D(size, interpolation="bilinear"), x, lambda v, w: ref_bilinear(v, *size), rng)


def test_cropping_padding_permute_repeat(rng):
    x3 = rng.normal(0, 1, (2, 7, 3)).astype(np.float32)
    x4 = rng.normal(0, 1, (2, 6, 5, 3)).astype(np.float32)
    _check_layer(L.Cropping1D((2, 1)), x3, lambda v, w: v[:, 2:-1], rng)
    _check_layer(L.Cropping1D((0, 3)), x3, lambda v, w: v[:, :4], rng)
    _check_layer(L.Cropping2D(((1, 2), (0, 1))), x4, lambda v, w: v[:, 1:-2, 0:-1], rng)
    _check_layer(L.Cropping2D((1, 2)), x4, lambda v, w: v[:, 1:-1, 2:-2], rng)
    _check_layer(L.Cropping2D(1), x4, lambda v, w: v[:, 1:-1, 1:-1], rng)
    _check_layer(L.ZeroPadding1D((1, 3)), x3, lambda v, w: np.pad(v, ((0, 0), (1, 3), (0, 0))), rng)
    _check_layer(L.ZeroPadding1D(2), x3, lambda v, w: np.pad(v, ((0, 0), (2, 2), (0, 0))), rng)
    _check_layer(L.Permute((2, 1)), x3, lambda v, w: v.transpose(0, 2, 1), rng)
    _check_layer(L.Permute((3, 1, 2)), x4, lambda v, w: v.transpose(0, 3, 1, 2), rng)
    x2 = x3[:, 0]
    _check_layer(L.RepeatVector(4), x2, lambda v, w: np.repeat(v[:, None], 4, 1), rng)


# --------------------------------------------------------------------------
# Conv2DTranspose, SeparableConv2D
# --------------------------------------------------------------------------
@pytest.mark.parametrize("k,s,padding,op,dil,hw", [
    ((3, 3), (2, 2), "same", None, (1, 1), (3, 4)),
    ((3, 3), (2, 2), "valid", None, (1, 1), (3, 2)),
    ((2, 2), (3, 3), "valid", None, (1, 1), (2, 3)),    # stride > kernel: extra zero rows (bias only)
    ((4, 3), (2, 1), "same", None, (1, 1), (3, 3)),     # even kernel
    ((3, 3), (2, 2), "same", (1, 0), (1, 1), (3, 2)),   # output_padding
    ((3, 2), (2, 2), "valid", (1, 1), (1, 1), (2, 2)),
    ((3, 3), (1, 1), "same", None, (2, 2), (4, 3)),     # dilation
    ((1, 1), (1, 1), "valid", None, (1, 1), (2, 2)),
])
def test_conv2d_transpose(rng, k, s, padding, op, dil, hw):
    layer = L.Conv2DTranspose(3, k, strides=s, padding=padding, output_padding=op, dilation_rate=dil)
    x = rng.normal(0, 1, (2,) + hw + (2,)).astype(np.float32)
    _check_layer(layer, x, lambda v, w: ref_conv2d_transpose(v, w[0], w[1], s, padding, op, dil), rng)
    assert layer.kernel.shape == k + (3, 2)  # (kh, kw, filters, in), as Keras
    assert [v.name for v in layer.weights] == ["kernel", "bias"]


@pytest.mark.parametrize("s,padding,dm,act", [((1, 1), "valid", 1, None), ((2, 2), "same", 2, "relu"),
                                              ((2, 1), "same", 1, "tanh")])
def test_separable_conv2d(rng, s, padding, dm, act):
    layer = L.SeparableConv2D(4, (3, 2), strides=s, padding=padding, depth_multiplier=dm, activation=act)
    x = rng.normal(0, 1, (2, 5, 4, 3)).astype(np.float32)
    fn = {None: lambda v: v, "relu": lambda v: np.maximum(v, 0), "tanh": np.tanh}[act]
    _check_layer(layer, x, lambda v, w: fn(ref_separable(v, w[0], w[1], w[2], s, padding)), rng)
    assert [v.name for v in layer.weights] == ["depthwise_kernel", "pointwise_kernel", "bias"]
    assert [v.shape for v in layer.weights] == [(3, 2, 3, dm), (1, 1, 3 * dm, 4), (4,)]


@pytest.mark.parametrize("k,s,padding,op,t", [(3, 2, "same", None, 4), (2, 3, "valid", None, 3),
                                              (3, 2, "valid", 1, 3), (4, 1, "same", None, 5)])
def test_conv1d_transpose(rng, k, s, padding, op, t):
    layer = L.Conv1DTranspose(3, k, strides=s, padding=padding, output_padding=op)
    x = rng.normal(0, 1, (2, t, 2)).astype(np.float32)

    def ref(v, w):
        y = ref_conv2d_transpose(v[:, None], w[0][None], w[1], (1, s), padding,
                                 None if op is None else (0, op))
        return y[:, 0]
    _check_layer(layer, x, ref, rng)
    assert layer.kernel.shape == (k, 3, 2)


@pytest.mark.parametrize("s,padding,dm,d", [(1, "valid", 1, 1), (2, "same", 2, 1), (1, "same", 1, 2)])
def test_depthwise_and_separable_conv1d(rng, s, padding, dm, d):
    x = rng.normal(0, 1, (2, 7, 3)).astype(np.float32)

    def dw_ref(v, kern):
        k = kern.shape[0]
        return ref_conv1d(v, kern.reshape(k, 1, -1), None, s, padding, d, v.shape[-1])
    layer = L.DepthwiseConv1D(3, strides=s, padding=padding, depth_multiplier=dm, dilation_rate=d)
    _check_layer(layer, x, lambda v, w: dw_ref(v, w[0]) + w[1], rng)
    assert [v.shape for v in layer.weights] == [(3, 3, dm), (3 * dm,)]
    sep = L.SeparableConv1D(4, 3, strides=s, padding=padding, depth_multiplier=dm, dilation_rate=d)
    _check_layer(sep, x, lambda v, w: dw_ref(v, w[0]) @ w[1][0] + w[2], rng)
    assert [v.name for v in sep.weights] == ["depthwise_kernel", "pointwise_kernel", "bias"]
    assert [v.shape for v in sep.weights] == [(3, 3, dm), (1, 3 * dm, 4), (4,)]


@pytest.mark.parametrize("shared,shape", [(None, (2, 3, 4)), ([1], (2, 3, 4)), ([1, 2], (2, 3, 4, 2)), (None, (3, 5))])
def test_prelu(rng, shared, shape):
    layer = L.PReLU(shared_axes=shared)
    x = rng.normal(0, 1, shape).astype(np.float32)
    x[np.abs(x) < 1e-2] = 0.1  # away from the kink
    _check_layer(layer, x, lambda v, w: np.maximum(v, 0) - w[0] * np.maximum(-v, 0), rng)
    expect = list(shape[1:])
    for a in shared or []:
        expect[a - 1] = 1
    assert layer.alpha.shape == tuple(expect)


@pytest.mark.parametrize("axis,shape", [(-1, (40, 3)), ((1, 2), (30, 2, 3)), (None, (25, 4)), (1, (20, 3, 2))])
def test_normalization_adapt(rng, axis, shape):
    x = rng.normal(3, 2, shape).astype(np.float32)
    layer = L.Normalization(axis=axis)
    layer.adapt(x)
    nd = len(shape)
    keep = () if axis is None else tuple(sorted(a % nd for a in ((axis,) if isinstance(axis, int) else axis)))
    red = tuple(d for d in range(nd) if d not in keep)
    x64 = x.astype(np.float64)
    mean, var = x64.mean(axis=red, keepdims=True), x64.var(axis=red, keepdims=True)
    assert_close(layer(x), (x64 - mean) / np.sqrt(var), rtol=1e-4, atol=1e-5, what="Normalization")
    # batches (Keras's streaming merge) give the same statistics as the whole array
    l2 = L.Normalization(axis=axis)
    l2.adapt([x[:7], x[7:]])
    assert_close(l2.get_weights()[0], layer.get_weights()[0], rtol=1e-5, atol=1e-6, what="mean")
    assert_close(l2.get_weights()[1], layer.get_weights()[1], rtol=1e-5, atol=1e-6, what="variance")
    # differentiable w.r.t. the input: dy/dx = g / std
    xe = ag.EagerTensor(x)
    g = rng.normal(0, 1, shape)
    with ag.GradientTape() as tape:
        tape.watch(xe)
        loss = ag.reduce("sum", ag.multiply(layer(xe), g.astype(np.float32)))
    assert_close(tape.gradient(loss, xe).numpy(), g / np.sqrt(var), rtol=1e-4, atol=1e-5, what="dx")
    assert layer.trainable_weights == []


def test_normalization_given_stats_invert_and_save(tmp_path, rng):
    x = rng.normal(0, 1, (4, 3)).astype(np.float32)
    n = L.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 1.0, 0.0])
    y = np.asarray(n(x))
    assert_close(y, (x - [1, 2, 3]) / np.maximum(np.sqrt([4.0, 1.0, 0.0]), 1e-7), rtol=1e-6, atol=1e-6, what="y")
    assert n.weights == []
    inv = L.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 1.0, 0.25], invert=True)
    assert_close(inv(x), x * np.sqrt([4.0, 1.0, 0.25]) + [1, 2, 3], rtol=1e-6, atol=1e-6, what="invert")
    c = n.get_config()
    assert (c["axis"], c["mean"], c["invert"]) == ((-1,), [1.0, 2.0, 3.0], False)
    norm = L.Normalization()
    norm.adapt(rng.normal(5, 3, (50, 3)).astype(np.float32))
    model = keras.Sequential([keras.Input((3,)), norm, L.Dense(1)])
    p = str(tmp_path / "n.keras")
    model.save(p)
    np.testing.assert_array_equal(keras.models.load_model(p).predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(ValueError, match="bad_l"):
        L.Normalization(mean=[1.0], name="bad_l")
    with pytest.raises(ValueError, match="bad_l"):
        L.Normalization(axis=3, name="bad_l").adapt(x)


def ref_resize(x, th, tw, mode):
    """Half-pixel-centre resize of (N, H, W, C) with scalar loops (bilinear / nearest)."""
    n, h, w, c = x.shape

    def src(o, n_in, n_out):
        return (o + 0.5) * n_in / n_out - 0.5
    y = np.zeros((n, th, tw, c))
    for i in range(th):
        for j in range(tw):
            if mode == "nearest":
                a = min(int(math.floor(src(i, h, th) + 0.5)), h - 1)
                b = min(int(math.floor(src(j, w, tw) + 0.5)), w - 1)
                y[:, i, j] = x[:, a, b]
                continue
            si, sj = max(src(i, h, th), 0), max(src(j, w, tw), 0)
            a0, b0 = min(int(si), h - 1), min(int(sj), w - 1)
            a1, b1 = min(a0 + 1, h - 1), min(b0 + 1, w - 1)
            la, lb = si - a0, sj - b0
            y[:, i, j] = ((1 - la) * (1 - lb) * x[:, a0, b0] + (1 - la) * lb * x[:, a0, b1]
                          + la * (1 - lb) * x[:, a1, b0] + la * lb * x[:, a1, b1])
    return y


@pytest.mark.parametrize("th,tw,mode,crop,shape", [
    (4, 5, "bilinear", False, (2, 7, 9, 3)), (9, 4, "bilinear", False, (1, 3, 6, 2)),
    (4, 5, "nearest", False, (2, 7, 9, 1)), (9, 13, "nearest", False, (2, 4, 5, 1)),
    (4, 4, "bilinear", True, (2, 7, 10, 2)), (3, 5, "bilinear", True, (7, 10, 2))])
def test_resizing(rng, th, tw, mode, crop, shape):
    x = rng.normal(0, 1, shape).astype(np.float32)
    layer = L.Resizing(th, tw, interpolation=mode, crop_to_aspect_ratio=crop)

    def ref(v, w):
        b = v if v.ndim == 4 else v[None]
        if crop:
            h, wd = b.shape[1:3]
            ch = max(min(h, int(wd * th / tw)), 1)
            cw = max(min(wd, int(h * tw / th)), 1)
            b = b[:, (h - ch) // 2:(h - ch) // 2 + ch, (wd - cw) // 2:(wd - cw) // 2 + cw]
        y = ref_resize(b, th, tw, mode)
        return y if v.ndim == 4 else y[0]
    if len(shape) == 4:
        _check_layer(layer, x, ref, rng)
    else:
        assert_close(layer(x), ref(x.astype(np.float64), []), rtol=1e-5, atol=1e-6, what="unbatched resize")


def test_center_crop(rng):
    x = rng.normal(0, 1, (2, 7, 9, 2)).astype(np.float32)
    _check_layer(L.CenterCrop(3, 4), x, lambda v, w: v[:, 2:5, 2:6], rng)
    # smaller than the target on one axis: aspect crop + bilinear resize, as Keras's smart_resize
    x = rng.normal(0, 1, (2, 5, 9, 2)).astype(np.float32)
    y = L.CenterCrop(8, 4)(x)
    assert_close(y, ref_resize(x[:, :, 3:5].astype(np.float64), 8, 4, "bilinear"), rtol=1e-5, atol=1e-6,
                 what="smart resize")


@pytest.mark.parametrize("mode", ["horizontal", "vertical", "horizontal_and_vertical"])
def test_random_flip(rng, mode):
    x = rng.normal(0, 1, (16, 3, 4, 2)).astype(np.float32)
    layer = L.RandomFlip(mode, seed=4)
    np.testing.assert_array_equal(layer(x, training=False), x)
    model = keras.Sequential([keras.Input((3, 4, 2)), layer])
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)  # inference inside a model
    y = np.asarray(layer(x))  # a direct call defaults to training=True, as Keras
    f = {"horizontal": x[:, :, ::-1], "vertical": x[:, ::-1], "horizontal_and_vertical": x[:, ::-1, ::-1]}[mode]
    flipped = [np.array_equal(y[i], f[i]) for i in range(16)]
    kept = [np.array_equal(y[i], x[i]) for i in range(16)]
    assert all(a or b for a, b in zip(flipped, kept)) and 2 <= sum(flipped) <= 14
    assert np.asarray(layer(x[0], training=True)).shape == x[0].shape  # one image
    with pytest.raises(ValueError, match="bad_l"):
        L.RandomFlip("diagonal", name="bad_l")


def test_random_contrast(rng):
    x = rng.uniform(0, 255, (6, 4, 5, 3)).astype(np.float32)
    layer = L.RandomContrast((0.3, 0.5), seed=3)
    assert layer.get_config()["factor"] == (0.3, 0.5)
    assert L.RandomContrast(0.2).factor == (0, 0.2)  # Keras 3.15 reads a number f as (0, f)
    np.testing.assert_array_equal(layer(x, training=False), x)
    y = np.asarray(layer(x)).astype(np.float64)  # direct call: training
    x64 = x.astype(np.float64)
    mean = x64.mean((1, 2), keepdims=True)
    for i in range(6):
        inside = (y[i] > 0) & (y[i] < 255) & (np.abs(x64[i] - mean[i]) > 1.0)  # unclipped, well-conditioned
        f = ((y[i] - mean[i])[inside] / (x64[i] - mean[i])[inside])
        assert np.allclose(f, f[0], rtol=1e-3) and 0.7 - 1e-4 <= f[0] <= 1.5 + 1e-4
    assert y.min() >= 0 and y.max() <= 255
    with pytest.raises(ValueError, match="bad_l"):
        L.RandomContrast(1.5, name="bad_l")


# --------------------------------------------------------------------------
# noise / dropout / activity regularization
# --------------------------------------------------------------------------
@pytest.mark.parametrize("cls,shape", [(L.SpatialDropout1D, (8, 5, 16)), (L.SpatialDropout2D, (8, 3, 4, 16))])
def test_spatial_dropout(cls, shape):
    x = np.ones(shape, np.float32)
    layer = cls(0.5, seed=3)
    np.testing.assert_array_equal(layer(x), x)  # inference: identity
    y = np.asarray(layer(x, training=True))
    flat = y.reshape(shape[0], -1, shape[-1])
    assert np.all(flat == flat[:, :1]), "the mask must be constant over the spatial axes"
    assert set(np.unique(y)) <= {0.0, 2.0}
    assert 0.2 < (flat[:, 0] == 0).mean() < 0.8
    xe = ag.EagerTensor(x)
    with ag.GradientTape() as tape:
        tape.watch(xe)
        out = layer(xe, training=True)
        loss = ag.reduce("sum", out)
    g = tape.gradient(loss, xe).numpy()
    np.testing.assert_array_equal(g, np.asarray(out))  # dy/dx is the (scaled) mask
    assert cls(1.0)(x, training=True).sum() == 0


def test_gaussian_noise_and_dropout():
    x = np.full((200, 50), 2.0, np.float32)
    n = L.GaussianNoise(0.3, seed=1)
    np.testing.assert_array_equal(n(x), x)
    d = np.asarray(n(x, training=True)) - 2.0
    assert abs(d.mean()) < 0.02 and abs(d.std() - 0.3) < 0.02
    gd = L.GaussianDropout(0.2, seed=1)
    np.testing.assert_array_equal(gd(x), x)
    m = np.asarray(gd(x, training=True)) / 2.0
    assert abs(m.mean() - 1) < 0.02 and abs(m.std() - math.sqrt(0.2 / 0.8)) < 0.02
    xe = ag.EagerTensor(x)
    with ag.GradientTape() as tape:
        tape.watch(xe)
        out = gd(xe, training=True)
        loss = ag.reduce("sum", out)
    np.testing.assert_allclose(tape.gradient(loss, xe).numpy(), np.asarray(out) / 2.0, rtol=1e-6)


def test_alpha_dropout():
    x = np.random.default_rng(5).normal(0, 1, (400, 50)).astype(np.float32)
    layer = L.AlphaDropout(0.2, seed=2)
    np.testing.assert_array_equal(layer(x), x)
    y = np.asarray(layer(x, training=True)).astype(np.float64)
    ap = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946
    a = ((1 - 0.2) * (1 + 0.2 * ap ** 2)) ** -0.5
    b = -a * ap * 0.2
    kept = np.isclose(y, a * x + b, rtol=1e-5, atol=1e-6)
    dropped = np.isclose(y, a * ap + b, rtol=1e-5, atol=1e-6)
    assert np.all(kept | dropped) and abs(dropped.mean() - 0.2) < 0.01
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02  # self-normalizing: mean 0, variance 1 kept
    ys = np.asarray(L.AlphaDropout(0.5, noise_shape=(None, 1), seed=1)(x[:8], training=True))
    a5 = ((1 - 0.5) * (1 + 0.5 * ap ** 2)) ** -0.5
    d = np.isclose(ys, a5 * ap * 0.5, rtol=1e-5)  # a*alpha' + b for a dropped unit, rate 0.5
    assert all(r.all() or not r.any() for r in d)  # one draw per row
    with pytest.raises(ValueError, match="bad_l"):
        L.AlphaDropout(1.5, name="bad_l")


def test_activity_regularization_penalty_and_fit(rng):
    layer = L.ActivityRegularization(l1=0.1, l2=0.2)
    x = rng.normal(0, 1, (4, 3)).astype(np.float32)
    np.testing.assert_array_equal(layer(x), x)
    pen = float(np.asarray(layer.losses[0]))
    x64 = x.astype(np.float64)
    assert abs(pen - (0.1 * np.abs(x64).sum() + 0.2 * (x64 ** 2).sum()) / 4) < 1e-5
    # in fit: loss = mse + penalty of the Dense output / batch, gradient included
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), L.Dense(2), L.ActivityRegularization(l2=0.5)])
    w = [rng.normal(0, 0.5, v.shape).astype(np.float32) for v in model.get_weights()]
    model.set_weights(w)
    t = rng.normal(0, 1, (4, 2)).astype(np.float32)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    loss = model.train_on_batch(x, t)
    k, b = [a.astype(np.float64) for a in w]
    y = x64 @ k + b
    expect = ((y - t) ** 2).mean() + 0.5 * (y ** 2).sum() / 4
    assert abs(loss - expect) < 1e-4 * max(1, expect)
    dy = 2 * (y - t) / y.size + 0.5 * 2 * y / 4
    np.testing.assert_allclose(model.get_weights()[0], k - 0.1 * x64.T @ dy, rtol=1e-4, atol=1e-5)


def test_activity_penalty_in_every_fit_step(rng):
    """fit caches the (weight, regularizer) pairs after its first step; the activity penalty
    must still be the current step's (lr=0: every epoch sees the same weights and loss)."""
    x = rng.normal(0, 1, (6, 4, 2)).astype(np.float32)
    t = rng.normal(0, 1, (6, 3, 1)).astype(np.float32)
    model = keras.Sequential([keras.Input((4, 2)), L.Conv1D(1, 2, activity_regularizer=keras.regularizers.L1(0.3))])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="mse")
    h = model.fit(x, t, epochs=3, batch_size=6, verbose=0).history["loss"]
    y = model.predict(x, verbose=0).astype(np.float64)
    expect = ((y - t) ** 2).mean() + 0.3 * np.abs(y).sum() / 6
    np.testing.assert_allclose(h, [expect] * 3, rtol=1e-5)


def test_conv1d_activity_regularizer(rng):
    layer = L.Conv1D(2, 2, activity_regularizer="l2")
    x = rng.normal(0, 1, (3, 4, 2)).astype(np.float32)
    y = np.asarray(layer(x)).astype(np.float64)
    assert abs(float(np.asarray(layer.losses[-1])) - 0.01 * (y ** 2).sum() / 3) < 1e-5
    c = layer.get_config()
    assert c["activity_regularizer"]["class_name"] == "L2"
    assert L.Conv1D.from_config(c).activity_regularizer.l2 == pytest.approx(0.01)


# --------------------------------------------------------------------------
# Attention / AdditiveAttention
# --------------------------------------------------------------------------
def ref_attention(q, v, k, mode, scale=None, csw=None, q_mask=None, v_mask=None, causal=False):
    if mode == "dot":
        s = np.einsum("nqd,nkd->nqk", q, k) * (1.0 if scale is None else scale)
    elif mode == "concat":
        s = csw * np.tanh((1.0 if scale is None else scale) * (q[:, :, None] + k[:, None])).sum(-1)
    else:  # additive
        s = ((1.0 if scale is None else scale) * np.tanh(q[:, :, None] + k[:, None])).sum(-1)
    keep = np.ones(s.shape, bool)
    if v_mask is not None:
        keep &= v_mask[:, None, :]
    if causal:
        keep &= np.tril(np.ones(s.shape[1:], bool))[None]
    s = np.where(keep, s, s - 1e9)
    w = np.exp(s - s.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    out = w @ v
    if q_mask is not None:
        out = out * q_mask[..., None]
    return out


@pytest.mark.parametrize("cls,kw,mode", [(L.Attention, {}, "dot"), (L.Attention, dict(use_scale=True), "dot"),
                                         (L.Attention, dict(score_mode="concat", use_scale=True), "concat"),
                                         (L.AdditiveAttention, {}, "add"),
                                         (L.AdditiveAttention, dict(use_scale=False), "add")])
@pytest.mark.parametrize("variant", ["plain", "key+masks", "causal"])
def test_attention(rng, cls, kw, mode, variant):
    q = rng.normal(0, 1, (2, 3, 4)).astype(np.float32)
    v = rng.normal(0, 1, (2, 5, 4)).astype(np.float32)
    k = rng.normal(0, 1, (2, 5, 4)).astype(np.float32)
    qm = np.array([[1, 1, 0], [1, 0, 1]], bool)
    vm = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 1]], bool)
    layer = cls(**kw)
    ins = [q, v, k] if variant == "key+masks" else [q, v]
    ckw = dict(mask=[qm, vm]) if variant == "key+masks" else (dict(use_causal_mask=True) if variant == "causal" else {})
    layer(ins, **ckw)
    ws = [rng.normal(0.5, 0.3, w.shape).astype(np.float32) for w in layer.get_weights()]
    layer.set_weights(ws)
    names = [w.name for w in layer.weights]
    w64 = dict(zip(names, [w.astype(np.float64) for w in ws]))

    def ref(arrs, wd):
        kk = arrs[2] if len(arrs) > 2 else arrs[1]
        return ref_attention(arrs[0], arrs[1], kk, mode, wd.get("scale"), wd.get("concat_score_weight"),
                             qm if variant == "key+masks" else None, vm if variant == "key+masks" else None,
                             variant == "causal")
    x64 = [a.astype(np.float64) for a in ins]
    assert_close(layer(ins, **ckw), ref(x64, w64), rtol=1e-4, atol=1e-5, what="attention forward")
    es = [ag.EagerTensor(a) for a in ins]
    g = rng.normal(0, 1, (2, 3, 4))
    with ag.GradientTape() as tape:
        for e in es:
            tape.watch(e)
        loss = ag.reduce("sum", ag.multiply(layer(es, **ckw), g.astype(np.float32)))
    grads = tape.gradient(loss, es + layer.trainable_weights)
    for i in range(len(ins)):
        def f(a, i=i):
            arrs = list(x64)
            arrs[i] = a
            return ref(arrs, w64)
        assert_grad_close(grads[i].numpy(), numeric_grad(f, x64[i], g), what="d input %d" % i)
    for j, name in enumerate(names):
        def fw(a, name=name):
            return ref(x64, dict(w64, **{name: a}))
        assert_grad_close(grads[len(ins) + j].numpy(), numeric_grad(fw, w64[name], g), what="d " + name)


def ref_mha(q, v, k, w, heads, kd, vd, mask=None):
    """w: query kernel/bias, key kernel/bias, value kernel/bias, output kernel/bias (Keras order)."""
    qk, qb, kk, kb, vk, vb, ok, ob = w
    Q = np.einsum("btd,dhk->bthk", q, qk) + qb
    K = np.einsum("bsd,dhk->bshk", k, kk) + kb
    V = np.einsum("bsd,dhk->bshk", v, vk) + vb
    s = np.einsum("bthk,bshk->bhts", Q / np.sqrt(kd), K)
    if mask is not None:
        s = np.where(mask[:, None], s, -1e9)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    o = np.einsum("bhts,bshk->bthk", p, V)
    return np.einsum("bthk,hko->bto", o, ok) + ob


@pytest.mark.parametrize("heads,kd,vd,out,variant", [(2, 3, None, None, "plain"), (3, 2, 4, 6, "masks"),
                                                    (1, 4, None, None, "causal")])
def test_multi_head_attention(rng, heads, kd, vd, out, variant):
    q = rng.normal(0, 1, (2, 4, 5)).astype(np.float32)
    v = rng.normal(0, 1, (2, 3, 7)).astype(np.float32)
    k = rng.normal(0, 1, (2, 3, 6)).astype(np.float32)
    vm = np.array([[1, 1, 0], [0, 1, 1]], bool)
    am = np.array([[[1, 1, 1], [1, 0, 1], [0, 1, 1], [1, 1, 0]]] * 2, bool)
    layer = L.MultiHeadAttention(heads, kd, value_dim=vd, output_shape=out)
    ckw = {}
    mask = None
    if variant == "masks":
        ckw = dict(key=k, value_mask=vm, attention_mask=am)
        mask = am & vm[:, None, :]
    elif variant == "causal":
        ckw = dict(use_causal_mask=True)
        mask = np.broadcast_to(np.tril(np.ones((4, 3), bool))[None], (2, 4, 3))
    layer(q, v, **ckw)
    ws = [rng.normal(0, 0.5, w.shape).astype(np.float32) for w in layer.get_weights()]
    layer.set_weights(ws)
    names = [w.path.split("/")[-2] + "/" + w.name for w in layer.weights]
    assert names == ["query/kernel", "query/bias", "key/kernel", "key/bias", "value/kernel", "value/bias",
                     "attention_output/kernel", "attention_output/bias"]
    vdim = vd or kd
    assert layer.weights[6].shape == (heads, vdim, out or 5)
    w64 = [w.astype(np.float64) for w in ws]

    def ref(arrs, wl):
        return ref_mha(arrs[0], arrs[1], arrs[2] if len(arrs) > 2 else arrs[1], wl, heads, kd, vdim, mask)
    ins = [q, v] + ([k] if variant == "masks" else [])
    x64 = [a.astype(np.float64) for a in ins]
    assert_close(layer(q, v, **ckw), ref(x64, w64), rtol=1e-4, atol=1e-5, what="mha forward")
    es = [ag.EagerTensor(a) for a in ins]
    g = rng.normal(0, 1, (2, 4, out or 5))
    with ag.GradientTape() as tape:
        for e in es:
            tape.watch(e)
        kw2 = dict(ckw, key=es[2]) if variant == "masks" else ckw
        loss = ag.reduce("sum", ag.multiply(layer(es[0], es[1], **kw2), g.astype(np.float32)))
    grads = tape.gradient(loss, es + layer.trainable_weights)
    for i in range(len(ins)):
        def f(a, i=i):
            arrs = list(x64)
            arrs[i] = a
            return ref(arrs, w64)
        assert_grad_close(grads[i].numpy(), numeric_grad(f, x64[i], g, indices=sample_indices(x64[i].size, 12)),
                          what="mha d input %d" % i)
    for j in range(len(w64)):
        def fw(a, j=j):
            wl = list(w64)
            wl[j] = a
            return ref(x64, wl)
        assert_grad_close(grads[len(ins) + j].numpy(),
                          numeric_grad(fw, w64[j], g, indices=sample_indices(w64[j].size, 12)),
                          what="mha d " + names[j])


def test_multi_head_attention_functional_save(tmp_path, rng):
    inp, enc = keras.Input((6, 8)), keras.Input((5, 8))
    z, sc = L.MultiHeadAttention(num_heads=2, key_dim=4)(inp, enc, return_attention_scores=True)
    assert tuple(z.shape) == (None, 6, 8) and tuple(sc.shape) == (None, 2, 6, 5)
    z2 = L.MultiHeadAttention(2, 4, dropout=0.1)(z, z, use_causal_mask=True)
    y = L.LayerNormalization()(keras.layers.Add()([inp, z2]))
    m = keras.Model([inp, enc], L.Dense(1)(L.GlobalAveragePooling1D()(y)))
    assert m.count_params() == 2 * 4 * (8 * 8 + 8) + 16 + 9
    x1 = rng.normal(0, 1, (4, 6, 8)).astype(np.float32)
    x2 = rng.normal(0, 1, (4, 5, 8)).astype(np.float32)
    m.compile(optimizer="adam", loss="mse")
    m.fit([x1, x2], rng.normal(0, 1, (4, 1)).astype(np.float32), epochs=1, verbose=0)
    p = str(tmp_path / "mha.keras")
    m.save(p)
    np.testing.assert_array_equal(keras.models.load_model(p).predict([x1, x2], verbose=0),
                                  m.predict([x1, x2], verbose=0))
    with pytest.raises(ValueError, match="bad_l"):
        L.MultiHeadAttention(0, 4, name="bad_l")
    with pytest.raises(NotImplementedError, match="bad_l"):
        L.MultiHeadAttention(2, 4, attention_axes=(1, 2), name="bad_l")


def test_attention_scores_symbolic_and_errors(rng):
    q, v = keras.Input((3, 4)), keras.Input((5, 4))
    out, sc = L.Attention()([q, v], return_attention_scores=True)
    assert tuple(out.shape) == (None, 3, 4) and tuple(sc.shape) == (None, 3, 5)
    a = rng.normal(0, 1, (2, 3, 4)).astype(np.float32)
    o, w = L.Attention()([a, a], return_attention_scores=True)
    np.testing.assert_allclose(np.asarray(w).sum(-1), 1, rtol=1e-6)
    with pytest.raises(ValueError, match="bad_l"):
        L.Attention(score_mode="general", name="bad_l")
    with pytest.raises(ValueError, match="bad_l"):
        L.Attention(name="bad_l")(a)
    with pytest.raises(ValueError, match="bad_l"):
        L.Attention(name="bad_l")([a, a], mask=[None, np.ones((2, 4), bool)])
    assert "score_mode" not in L.AdditiveAttention().get_config()


# --------------------------------------------------------------------------
# configs, symbolic shapes, saving
# --------------------------------------------------------------------------
ALL = [
    (lambda: L.Conv1D(4, 3, padding="causal", dilation_rate=2, kernel_regularizer="l2"), (9, 3)),
    (lambda: L.MaxPooling1D(2), (8, 3)), (lambda: L.AveragePooling1D(3, 2, "same"), (8, 3)),
    (lambda: L.GlobalAveragePooling1D(keepdims=True), (8, 3)), (lambda: L.GlobalMaxPooling1D(), (8, 3)),
    (lambda: L.LayerNormalization(axis=[1, 2]), (5, 3)), (lambda: L.UpSampling1D(2), (4, 3)),
    (lambda: L.UpSampling2D((2, 3), interpolation="bilinear"), (3, 4, 2)),
    (lambda: L.Cropping1D((1, 2)), (6, 3)), (lambda: L.Cropping2D(((1, 0), (0, 2))), (4, 5, 2)),
    (lambda: L.ZeroPadding1D((2, 1)), (4, 3)), (lambda: L.Permute((2, 1)), (4, 3)),
    (lambda: L.SpatialDropout1D(0.3), (4, 3)), (lambda: L.SpatialDropout2D(0.3), (4, 4, 3)),
    (lambda: L.GaussianNoise(0.1), (4, 3)), (lambda: L.GaussianDropout(0.1), (4, 3)),
    (lambda: L.AlphaDropout(0.1, noise_shape=(None, 1, 3)), (4, 3)),
    (lambda: L.ActivityRegularization(0.01, 0.02), (4, 3)),
    (lambda: L.Conv2DTranspose(3, 3, strides=2, padding="same"), (4, 3, 2)),
    (lambda: L.SeparableConv2D(3, 3, padding="same", depth_multiplier=2), (4, 5, 2)),
    (lambda: L.Conv1DTranspose(3, 3, strides=2, output_padding=1), (4, 2)),
    (lambda: L.DepthwiseConv1D(3, depth_multiplier=2, padding="same"), (5, 2)),
    (lambda: L.SeparableConv1D(3, 2, strides=2), (5, 2)),
    (lambda: L.PReLU(shared_axes=[1]), (5, 2)),
    (lambda: L.Normalization(mean=[1.0, 2.0], variance=[1.0, 4.0]), (5, 2)),
    (lambda: L.Resizing(3, 2, crop_to_aspect_ratio=True), (5, 6, 2)), (lambda: L.CenterCrop(2, 3), (5, 6, 2)),
    (lambda: L.RandomFlip("vertical"), (5, 6, 2)), (lambda: L.Masking(0.5), (4, 3)),
    (lambda: L.RandomContrast((0.1, 0.3), value_range=(0, 1)), (5, 6, 2)),
    (lambda: L.GroupNormalization(groups=2, epsilon=1e-4), (3, 4)), (lambda: L.UnitNormalization([1, 2]), (3, 4)),
]


@pytest.mark.parametrize("make,shape", ALL, ids=lambda v: "" if callable(v) else str(v))
def test_config_roundtrip_and_symbolic_shape(rng, make, shape):
    layer = make()
    inp = keras.Input(shape)
    out = layer(inp)
    x = rng.normal(0, 1, (2,) + shape).astype(np.float32)
    y = np.asarray(layer(x, training=False))
    assert tuple(out.shape[1:]) == y.shape[1:]
    c = layer.get_config()
    clone = type(layer).from_config(c)
    clone(x, training=False)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(np.asarray(clone(x, training=False)), y)
    assert clone.get_config() == layer.get_config() or clone.get_config().keys() == c.keys()


def test_save_load_roundtrip(tmp_path, rng):
    model = keras.Sequential([
        keras.Input((12, 3)), L.Conv1D(4, 3, padding="causal", activation="relu"), L.LayerNormalization(),
        L.ZeroPadding1D(1), L.MaxPooling1D(2), L.SpatialDropout1D(0.2), L.Reshape((7, 4, 1)),
        L.Conv2DTranspose(2, 3, strides=2, padding="same"), L.SeparableConv2D(3, 3), L.Cropping2D(1),
        L.UpSampling2D(interpolation="bilinear"), L.Permute((2, 1, 3)), L.Reshape((-1, 3)),
        L.GaussianNoise(0.1), L.GlobalAveragePooling1D(), L.RepeatVector(2), L.Cropping1D((1, 0)),
        L.UpSampling1D(2), L.GlobalMaxPooling1D(), L.ActivityRegularization(l2=0.01), L.GaussianDropout(0.1),
        L.Dense(1)])
    x = rng.normal(0, 1, (3, 12, 3)).astype(np.float32)
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, rng.normal(0, 1, (3, 1)).astype(np.float32), epochs=1, verbose=0)
    y = model.predict(x, verbose=0)
    p = str(tmp_path / "m.keras")
    model.save(p)
    m2 = keras.models.load_model(p)
    np.testing.assert_array_equal(m2.predict(x, verbose=0), y)
    assert [type(l).__name__ for l in m2.layers] == [type(l).__name__ for l in model.layers]


# --------------------------------------------------------------------------
# bad arguments: the message names the layer
# --------------------------------------------------------------------------
@pytest.mark.parametrize("make,exc", [
    (lambda: L.Conv1D(0, 3, name="bad_l"), ValueError),
    (lambda: L.Conv1D(4, 0, name="bad_l"), ValueError),
    (lambda: L.Conv1D(4, 3, padding="full", name="bad_l"), ValueError),
    (lambda: L.Conv1D(4, 3, groups=3, name="bad_l"), ValueError),
    (lambda: L.Conv1D(4, 3, strides=2, dilation_rate=2, name="bad_l"), ValueError),
    (lambda: L.Conv1D(4, 3, kernel_constraint="non_neg", name="bad_l"), NotImplementedError),
    (lambda: L.Conv1D(4, 3, data_format="channels_first", name="bad_l"), NotImplementedError),
    (lambda: L.MaxPooling1D(2, padding="causal", name="bad_l"), ValueError),
    (lambda: L.MaxPooling1D((2, 2), name="bad_l"), ValueError),
    (lambda: L.LayerNormalization(axis="x", name="bad_l"), TypeError),
    (lambda: L.LayerNormalization(gamma_constraint="non_neg", name="bad_l"), NotImplementedError),
    (lambda: L.UpSampling1D(2.5, name="bad_l"), TypeError),
    (lambda: L.UpSampling2D(interpolation="cubic", name="bad_l"), ValueError),
    (lambda: L.UpSampling2D(interpolation="bicubic", name="bad_l"), NotImplementedError),
    (lambda: L.Cropping1D((-1, 1), name="bad_l"), ValueError),
    (lambda: L.Cropping2D((1, 2, 3), name="bad_l"), ValueError),
    (lambda: L.ZeroPadding1D(-1, name="bad_l"), ValueError),
    (lambda: L.Permute((1, 3), name="bad_l"), ValueError),
    (lambda: L.RepeatVector(0, name="bad_l"), ValueError),
    (lambda: L.RepeatVector("3", name="bad_l"), TypeError),
    (lambda: L.SpatialDropout1D(1.5, name="bad_l"), ValueError),
    (lambda: L.GaussianNoise(-0.1, name="bad_l"), ValueError),
    (lambda: L.GaussianDropout(2, name="bad_l"), ValueError),
    (lambda: L.Conv2DTranspose(2, 3, strides=2, output_padding=2, name="bad_l"), ValueError),
    (lambda: L.Conv2DTranspose(2, 3, padding="causal", name="bad_l"), ValueError),
    (lambda: L.SeparableConv2D(2, 3, depth_multiplier=0, name="bad_l"), ValueError),
    (lambda: L.Resizing(0, 3, name="bad_l"), ValueError),
    (lambda: L.Resizing(3, 3, interpolation="bicubic", name="bad_l"), NotImplementedError),
    (lambda: L.Resizing(3, 3, pad_to_aspect_ratio=True, name="bad_l"), NotImplementedError),
    (lambda: L.CenterCrop(3, -1, name="bad_l"), ValueError),
])
def test_bad_arguments(make, exc):
    with pytest.raises(exc, match="bad_l"):
        make()


@pytest.mark.parametrize("make,x", [
    (lambda: L.Conv1D(2, 5, name="bad_l"), np.zeros((1, 3, 2), np.float32)),        # kernel > valid input
    (lambda: L.MaxPooling1D(4, name="bad_l"), np.zeros((1, 3, 2), np.float32)),
    (lambda: L.Cropping1D((2, 2), name="bad_l"), np.zeros((1, 4, 2), np.float32)),
    (lambda: L.Cropping2D(((1, 1), (3, 0)), name="bad_l"), np.zeros((1, 4, 3, 2), np.float32)),
    (lambda: L.Conv1D(2, 2, name="bad_l"), np.zeros((1, 4, 2, 2), np.float32)),     # wrong rank
    (lambda: L.RepeatVector(2, name="bad_l"), np.zeros((1, 4, 2), np.float32)),
    (lambda: L.Permute((2, 1), name="bad_l"), np.zeros((1, 4, 2, 2), np.float32)),
    (lambda: L.LayerNormalization(axis=3, name="bad_l"), np.zeros((1, 4, 2), np.float32)),
])
def test_bad_inputs(make, x):
    with pytest.raises(ValueError, match="bad_l"):
        make()(x)


def test_nan_propagates():
    x = np.zeros((1, 5, 2), np.float32)
    x[0, 2, 1] = np.nan
    assert np.isnan(L.Conv1D(2, 2)(x)).any()
    assert np.isnan(L.LayerNormalization()(x)[0, 2]).all()
    assert np.isnan(L.UpSampling1D(2)(x)[0, 4:6, 1]).all()


# --------------------------------------------------------------------------
# RNN(cell): a Python time loop over ag ops; cells as Keras 3
# --------------------------------------------------------------------------
def _sig(v):
    return 1 / (1 + np.exp(-v))


def ref_rnn(x, ws, cell, units, return_sequences=False, go_backwards=False, reset_after=True, act=np.tanh):
    n, t, _ = x.shape
    k, rk = ws[0], ws[1]
    b = ws[2] if len(ws) > 2 else None
    u = units
    h = np.zeros((n, u))
    c = np.zeros((n, u))
    outs = []
    for i in (range(t - 1, -1, -1) if go_backwards else range(t)):
        xt = x[:, i]
        if cell == "simple":
            h = act(xt @ k + (b if b is not None else 0) + h @ rk)
        elif cell == "lstm":
            z = xt @ k + h @ rk + (b if b is not None else 0)
            ig, fg, og = _sig(z[:, :u]), _sig(z[:, u:2 * u]), _sig(z[:, 3 * u:])
            c = fg * c + ig * act(z[:, 2 * u:3 * u])
            h = og * act(c)
        else:  # gru
            if reset_after:
                ib, rb = (b[0], b[1]) if b is not None else (0, 0)
                xm = xt @ k + ib
                inner = h @ rk + rb
                z = _sig(xm[:, :u] + inner[:, :u])
                r = _sig(xm[:, u:2 * u] + inner[:, u:2 * u])
                hh = act(xm[:, 2 * u:] + r * inner[:, 2 * u:])
            else:
                xm = xt @ k + (b if b is not None else 0)
                inner = h @ rk[:, :2 * u]
                z = _sig(xm[:, :u] + inner[:, :u])
                r = _sig(xm[:, u:2 * u] + inner[:, u:2 * u])
                hh = act(xm[:, 2 * u:] + (r * h) @ rk[:, 2 * u:])
            h = z * h + (1 - z) * hh
        outs.append(h)
    return np.stack(outs, 1) if return_sequences else h


@pytest.mark.parametrize("cell,ckw,rkw", [
    ("simple", {}, {}), ("simple", dict(activation="relu"), dict(return_sequences=True)),
    ("lstm", {}, dict(return_sequences=True, go_backwards=True)), ("lstm", dict(use_bias=False), {}),
    ("gru", {}, dict(return_sequences=True)), ("gru", dict(reset_after=False), dict(go_backwards=True)),
])
def test_rnn_cells(rng, cell, ckw, rkw):
    cls = {"simple": L.SimpleRNNCell, "lstm": L.LSTMCell, "gru": L.GRUCell}[cell]
    layer = L.RNN(cls(3, **ckw), **rkw)
    x = rng.normal(0, 1, (2, 4, 2)).astype(np.float32)
    act = np.tanh if ckw.get("activation", "tanh") == "tanh" else (lambda v: np.maximum(v, 0))
    _check_layer(layer, x, lambda v, w: ref_rnn(v, w, cell, 3, rkw.get("return_sequences", False),
                                                rkw.get("go_backwards", False), ckw.get("reset_after", True),
                                                act), rng, rtol=2e-4, atol=2e-5)
    g = {"simple": 1, "lstm": 4, "gru": 3}[cell]
    shapes = [(2, 3 * g), (3, 3 * g)]
    if ckw.get("use_bias", True):
        shapes.append((2, 9) if cell == "gru" and ckw.get("reset_after", True) else (3 * g,))
    assert [v.shape for v in layer.weights] == shapes
    assert [v.name for v in layer.weights] == ["kernel", "recurrent_kernel", "bias"][:len(shapes)]


@pytest.mark.parametrize("zero_out,back", [(False, False), (True, False), (False, True)])
def test_rnn_mask(rng, zero_out, back):
    """Masked steps keep the states and repeat the previous output (zeros before any step, or
    zeros with zero_output_for_mask), as Keras's rnn loop."""
    x = rng.normal(0, 1, (3, 5, 2)).astype(np.float32)
    mask = np.array([[1, 1, 0, 1, 0], [0, 1, 1, 1, 1], [1, 0, 0, 0, 0]], bool)
    layer = L.RNN(L.SimpleRNNCell(3), return_sequences=True, zero_output_for_mask=zero_out, go_backwards=back)
    layer(x)
    k, rk, b = [w.astype(np.float64) for w in layer.get_weights()]
    h = np.zeros((3, 3))
    prev = np.zeros((3, 3))
    outs = []
    for i in (range(4, -1, -1) if back else range(5)):
        m = mask[:, i:i + 1]
        hn = np.tanh(x[:, i] @ k + b + h @ rk)
        h = np.where(m, hn, h)
        prev = np.where(m, hn, prev)
        outs.append(np.where(m, prev, 0) if zero_out else prev)
    assert_close(layer(x, mask=mask), np.stack(outs, 1), rtol=1e-5, atol=1e-6, what="masked rnn")
    last = L.RNN(layer.cell, return_state=True, zero_output_for_mask=zero_out, go_backwards=back)
    y, hT = last(x, mask=mask)
    assert_close(hT, h, rtol=1e-5, atol=1e-6, what="final state")


def test_global_average_pooling1d_mask(rng):
    x = rng.normal(0, 1, (2, 4, 3)).astype(np.float32)
    mask = np.array([[1, 0, 1, 1], [0, 0, 1, 0]], bool)
    for keep in (False, True):
        y = L.GlobalAveragePooling1D(keepdims=keep)(x, mask=mask)
        ref = (x * mask[..., None]).sum(1, keepdims=keep) / mask.sum(1).reshape((2, 1, 1) if keep else (2, 1))
        assert_close(y, ref, rtol=1e-6, atol=1e-6, what="masked mean")
    np.testing.assert_array_equal(L.GlobalMaxPooling1D()(x, mask=mask), x.max(1))


def test_masking_feeds_rnn_and_pooling(rng):
    x = rng.normal(0, 1, (3, 5, 2)).astype(np.float32)
    x[0, 3:] = 0.0
    x[1, 0] = 0.0
    x[2, 2, 0] = 0.0  # one zero feature only: not masked
    mask = (x != 0).any(-1)
    layer = L.Masking()
    xe = ag.EagerTensor(x)
    y = layer(xe)
    np.testing.assert_array_equal(y._keras_mask, mask)
    np.testing.assert_array_equal(y.numpy(), x * mask[..., None])
    rnn = L.RNN(L.LSTMCell(3), return_sequences=True)
    model = keras.Sequential([keras.Input((5, 2)), layer, rnn, L.GlobalAveragePooling1D()])
    seq = rnn(x, mask=mask)
    expect = (np.asarray(seq) * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    assert_close(model.predict(x, verbose=0), expect, rtol=1e-5, atol=1e-6, what="Masking -> RNN -> GAP")
    assert_close(L.GlobalAveragePooling1D()(layer(xe)).numpy(), (x * mask[..., None]).sum(1) /
                 mask.sum(1, keepdims=True), rtol=1e-6, atol=1e-6, what="Masking -> GAP")
    with ag.GradientTape() as tape:  # the mask wrapper passes gradients through
        tape.watch(xe)
        loss = ag.reduce("sum", layer(xe))
    np.testing.assert_array_equal(tape.gradient(loss, xe).numpy(), np.broadcast_to(mask[..., None], x.shape))
    assert L.Masking(mask_value=-1.0).get_config()["mask_value"] == -1.0


def test_lstm_cell_unit_forget_bias():
    layer = L.RNN(L.LSTMCell(2))
    layer(np.zeros((1, 3, 2), np.float32))
    np.testing.assert_array_equal(layer.cell.bias.numpy(), [0, 0, 1, 1, 0, 0, 0, 0])


def test_rnn_return_state_and_initial_state(rng):
    x = rng.normal(0, 1, (2, 5, 3)).astype(np.float32)
    layer = L.RNN(L.LSTMCell(4), return_state=True, return_sequences=True)
    y, h, c = layer(x)
    assert y.shape == (2, 5, 4) and h.shape == (2, 4) and c.shape == (2, 4)
    np.testing.assert_array_equal(y[:, -1], h)
    h0, c0 = rng.normal(0, 1, (2, 4)).astype(np.float32), rng.normal(0, 1, (2, 4)).astype(np.float32)
    y2 = layer(x, initial_state=[h0, c0])[0]
    assert not np.allclose(y2, y)
    with pytest.raises(ValueError, match=layer.name):
        layer(x, initial_state=[h0])
    inp = keras.Input((None, 3))
    outs = layer(inp)
    assert [tuple(o.shape) for o in outs] == [(None, None, 4), (None, 4), (None, 4)]


class LNSimpleRNNCell(keras.layers.Layer):
    """The layer-normalized cell of HOML (3rd ed.) chapter 15, verbatim but for get_config."""

    def __init__(self, units, activation="tanh", **kwargs):
        super().__init__(**kwargs)
        self.state_size = units
        self.output_size = units
        self.simple_rnn_cell = keras.layers.SimpleRNNCell(units, activation=None)
        self.layer_norm = keras.layers.LayerNormalization()
        self.activation = keras.activations.get(activation)

    def call(self, inputs, states):
        outputs, new_states = self.simple_rnn_cell(inputs, states)
        norm_outputs = self.activation(self.layer_norm(outputs))
        return norm_outputs, [norm_outputs]

    def get_config(self):
        c = super().get_config()
        c["units"] = self.state_size
        return c


def test_rnn_custom_cell_fit_save_load(tmp_path, rng):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.layers.RNN(LNSimpleRNNCell(5), return_sequences=True, input_shape=[None, 1]),
        keras.layers.RNN(LNSimpleRNNCell(5), return_sequences=True),
        keras.layers.Dense(2)])
    assert model.count_params() == (5 + 25 + 5 + 10) + (25 + 25 + 5 + 10) + 12
    x = rng.normal(0, 1, (4, 6, 1)).astype(np.float32)
    w = model.get_weights()

    def ref(v, ws):
        def ln_cell_rnn(v, k, rk, b, gamma, beta):
            h = np.zeros((v.shape[0], k.shape[1]))
            out = []
            for i in range(v.shape[1]):
                o = v[:, i] @ k + b + h @ rk
                h = np.tanh(ref_layernorm(o, gamma, beta, [1], 1e-3))
                out.append(h)
            return np.stack(out, 1)
        y = ln_cell_rnn(v, *ws[:5])
        y = ln_cell_rnn(y, *ws[5:10])
        return y @ ws[10] + ws[11]
    ws = [rng.normal(0, 0.5, a.shape).astype(np.float32) for a in w]
    model.set_weights(ws)
    assert_close(model.predict(x, verbose=0), ref(x.astype(np.float64), [a.astype(np.float64) for a in ws]),
                 rtol=2e-4, atol=2e-5, what="LNSimpleRNNCell forward")
    t = rng.normal(0, 1, (4, 6, 2)).astype(np.float32)
    model.compile(loss="mse", optimizer=keras.optimizers.SGD(learning_rate=0.1))
    w64 = [a.astype(np.float64) for a in ws]
    loss = model.train_on_batch(x, t)
    assert abs(loss - ((ref(x.astype(np.float64), w64) - t) ** 2).mean()) < 1e-4
    # the SGD step against finite differences of the reference loss, on a few entries of each weight
    new = model.get_weights()
    for i in range(len(w64)):
        def f(v, i=i):
            w2 = list(w64)
            w2[i] = v
            return np.array(((ref(x.astype(np.float64), w2) - t) ** 2).mean())
        idx = sample_indices(w64[i].size, 6)
        g = numeric_grad(f, w64[i], np.array(1.0), indices=idx)
        assert_grad_close((w64[i] - new[i]) / 0.1, g, rtol=2e-3, atol=2e-4, what="weight %d" % i)
    p = str(tmp_path / "ln.keras")
    model.save(p)
    m2 = keras.models.load_model(p, custom_objects={"LNSimpleRNNCell": LNSimpleRNNCell})
    np.testing.assert_array_equal(m2.predict(x, verbose=0), model.predict(x, verbose=0))


def ref_conv2d(x, w, strides=(1, 1), padding="valid", dilation=(1, 1)):
    """Plain 2-D convolution, TF padding, (N, H, W, C) x (kh, kw, C, F)."""
    n, h, wd, c = x.shape
    kh, kw, _, f = w.shape
    if padding == "same":
        (pt, pb), (pl, pr) = _same_pads(h, kh, strides[0], dilation[0]), _same_pads(wd, kw, strides[1], dilation[1])
    else:
        pt = pb = pl = pr = 0
    xp = np.zeros((n, h + pt + pb, wd + pl + pr, c))
    xp[:, pt:pt + h, pl:pl + wd] = x
    ho = (h + pt + pb - (kh - 1) * dilation[0] - 1) // strides[0] + 1
    wo = (wd + pl + pr - (kw - 1) * dilation[1] - 1) // strides[1] + 1
    y = np.zeros((n, ho, wo, f))
    for i in range(ho):
        for j in range(wo):
            for a in range(kh):
                for b in range(kw):
                    y[:, i, j] += xp[:, i * strides[0] + a * dilation[0], j * strides[1] + b * dilation[1]] @ w[a, b]
    return y


@pytest.mark.parametrize("kw,seq", [(dict(padding="same"), True), (dict(strides=2), False),
                                    (dict(dilation_rate=2, padding="same", go_backwards=True), True)])
def test_conv_lstm2d(rng, kw, seq):
    layer = L.ConvLSTM2D(2, (3, 2), return_sequences=seq, **kw)
    x = rng.normal(0, 1, (2, 3, 5, 4, 2)).astype(np.float32)
    pad = kw.get("padding", "valid")
    st = (kw.get("strides", 1),) * 2
    dl = (kw.get("dilation_rate", 1),) * 2

    def ref(v, w):
        k, rk, b = w
        h = c = None
        outs = []
        for t in (range(2, -1, -1) if kw.get("go_backwards") else range(3)):
            z = ref_conv2d(v[:, t], k, st, pad, dl) + b
            if h is None:
                h = np.zeros(z.shape[:3] + (2,))
                c = np.zeros_like(h)
            z = z + ref_conv2d(h, rk, (1, 1), "same")
            i, f, o = _sig(z[..., :2]), _sig(z[..., 2:4]), _sig(z[..., 6:])
            c = f * c + i * np.tanh(z[..., 4:6])
            h = o * np.tanh(c)
            outs.append(h)
        return np.stack(outs, 1) if seq else h
    _check_layer(layer, x, ref, rng, rtol=2e-4, atol=2e-5, sample=30)
    assert [v.shape for v in layer.weights] == [(3, 2, 2, 8), (3, 2, 2, 8), (8,)]
    clone = L.ConvLSTM2D.from_config(layer.get_config())
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(np.asarray(clone(x)), np.asarray(layer(x)))


def test_rnn_stacked_cells_and_config(rng):
    layer = L.RNN([L.SimpleRNNCell(3), L.GRUCell(2)], return_sequences=True)
    x = rng.normal(0, 1, (2, 4, 2)).astype(np.float32)
    y = layer(x)
    assert y.shape == (2, 4, 2)
    w = [a.astype(np.float64) for a in layer.get_weights()]
    h1 = ref_rnn(x.astype(np.float64), w[:3], "simple", 3, True)
    assert_close(y, ref_rnn(h1, w[3:], "gru", 2, True), rtol=1e-4, atol=1e-5, what="stacked")
    clone = L.RNN.from_config(layer.get_config())
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x), y)


@pytest.mark.parametrize("make,exc", [
    (lambda: L.SimpleRNNCell(0, name="bad_l"), ValueError),
    (lambda: L.LSTMCell(3, dropout=0.2, name="bad_l"), NotImplementedError),
    (lambda: L.GRUCell(3, recurrent_constraint="non_neg", name="bad_l"), NotImplementedError),
    (lambda: L.RNN(L.SimpleRNNCell(2), stateful=True, name="bad_l"), NotImplementedError),
    (lambda: L.RNN(keras.layers.Dense(2), name="bad_l"), ValueError),  # no state_size
])
def test_rnn_bad_arguments(make, exc):
    with pytest.raises(exc, match="bad_l"):
        make()


def test_scalar_weights_stay_scalar(tmp_path):
    # a weight of shape () keeps shape () through add_weight, set_weights, Variable.assign and
    # a save/load round trip (np.ascontiguousarray used to make it (1,))
    class Scale(keras.layers.Layer):
        def build(self, input_shape):
            self.s = self.add_weight(shape=(), initializer="ones", name="s")

        def call(self, x):
            return x * self.s

    m = keras.Sequential([keras.Input((3,)), Scale()])
    assert [w.shape for w in m.get_weights()] == [()]
    m.set_weights([np.float32(2.5)])
    np.testing.assert_allclose(m.predict(np.ones((1, 3), np.float32), verbose=0), [[2.5, 2.5, 2.5]])
    m.layers[0].s.assign(np.float32(3.0))
    path = tmp_path / "m.weights.h5"
    m.save_weights(path)
    m.layers[0].s.assign(np.float32(0.0))
    m.load_weights(path)
    assert m.get_weights()[0].shape == () and float(m.get_weights()[0]) == 3.0


def test_unknown_layer_keyword_is_value_error_like_keras():
    for exc in (ValueError, TypeError):
        with pytest.raises(exc, match="Unrecognized keyword arguments passed to Dense"):
            keras.layers.Dense(3, foo=1)


def test_input_follows_keras_argument_order_and_refuses_sparse():
    t = keras.Input((3,), 4, "float32", None, None, None, "inp")  # shape, batch_size, dtype, sparse, ragged, batch_shape, name
    assert t.shape == (4, 3) and t.name == "inp"
    for kw in (dict(sparse=True), dict(ragged=True), dict(optional=True)):
        with pytest.raises(NotImplementedError, match="InputLayer"):
            keras.Input((3,), **kw)
    cfg = keras.layers.InputLayer(shape=(2,)).get_config()
    assert keras.layers.InputLayer(**cfg).get_config() == cfg and cfg["sparse"] is False
