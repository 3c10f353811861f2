"""CUDA elementwise / loss / optimizer kernels against the CPU kernels (the CPU
results are themselves tested against float64 references in test_elementwise.py,
test_loss.py and test_optim.py). Every op runs on the same inputs on both
devices; outputs are poisoned with NaN at allocation (conftest), so an
unwritten element fails.

Tolerances: IEEE single operations (add, mul, div, sqrt, max, casts, copies,
dropout, optimizers rounded op by op) must be bit-identical; libm-style
transcendentals differ by a few ulp between the CPU's libm / polynomial and
CUDA's (rtol ~1e-6); reductions allow atol = 8*sqrt(n)*eps*max|ref| (tolerance.scaled_tol)
since the tree order differs from the CPU's loop order."""
import numpy as np
import pytest

import pyconvnet as pcn
from tolerance import assert_close, scaled_tol

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not pcn.info()["cuda_devices"], reason="no CUDA device")]

C = pcn._C
EPS = float(np.finfo(np.float32).eps)


def rnd(shape, seed=0, scale=1.0, dtype=np.float32):
    return np.asarray(np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def on(dev, v):
    """NumPy arrays become tensors on dev; lists of arrays likewise; other values pass through."""
    if isinstance(v, np.ndarray):
        t = pcn.tensor(np.array(v, order="C"))  # (ascontiguousarray would make a 0-d array 1-d)
        return t if dev == "cpu" else t.to(dev)
    if isinstance(v, list) and v and isinstance(v[0], np.ndarray):
        return [on(dev, a) for a in v]
    return v


def host(t):
    if isinstance(t, tuple):
        return tuple(host(u) for u in t)
    if isinstance(t, (int, float)):
        return t
    return np.array(t.cpu(), copy=True)


def both(fn, *args, **kw):
    """(cpu result, cuda result) of fn on the same inputs, as NumPy."""
    cpu = host(fn(*[on("cpu", a) for a in args], **{k: on("cpu", v) for k, v in kw.items()}))
    gpu = host(fn(*[on("cuda", a) for a in args], **{k: on("cuda", v) for k, v in kw.items()}))
    return cpu, gpu


def same(a, b, what="output"):
    """Bit-identical (NaN == NaN, and -0 == +0 as values)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, "%s: %s %s vs %s %s" % (what, a.shape, a.dtype, b.shape, b.dtype)
    if a.dtype.kind == "f":
        ok = (a == b) | (np.isnan(a) & np.isnan(b))
    else:
        ok = a == b
    if not ok.all():
        idx = np.unravel_index(np.argmin(ok), a.shape)
        raise AssertionError("%s: cpu %r != cuda %r at %s (%d of %d differ)" % (what, a[idx], b[idx], idx,
                                                                               int((~ok).sum()), a.size))


SIZES = [1, 3, 4, 7, 64, 1001, 70001]  # odd sizes exercise the float4 tail


# ---------------------------------------------------------------- pointwise
EXACT_UNARY = ["neg", "sqrt", "rsqrt", "square", "abs", "sign", "reciprocal", "floor", "round"]
TRANS_UNARY = ["exp", "log", "sin", "cos", "tanh", "sigmoid", "log1p", "expm1"]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("op", EXACT_UNARY + TRANS_UNARY)
def test_unary(op, n):
    x = rnd((n,), n, 3.0)
    if op in ("sqrt", "rsqrt", "log"):
        x = np.abs(x) + 0.1
    if op == "log1p":
        x = np.abs(x) - 0.5
    if op == "round":
        x = np.round(x * 2) / 2 + (x - x)  # many exact halves: half-to-even
    if n >= 7:
        x[:3] = [np.nan, np.inf, -np.inf] if op not in ("sqrt", "rsqrt", "log") else [np.nan, np.inf, 0.0]
    cpu, gpu = both(C.unary, op, x)
    if op in EXACT_UNARY:
        same(cpu, gpu, op)
    else:
        assert_close(gpu, cpu, rtol=2e-6, atol=1e-7, what=op)


@pytest.mark.parametrize("n", [5, 1000])
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum", "minimum", "pow"])
@pytest.mark.parametrize("reverse", [False, True])
def test_binary_scalar(op, reverse, n):
    x = rnd((n,), 2, 2.0)
    if op == "pow":
        x = np.abs(x) + 0.5
    x[0] = np.nan
    cpu, gpu = both(C.binary_scalar, op, x, 1.75, reverse=reverse)
    if op == "pow":
        assert_close(gpu, cpu, rtol=2e-6, atol=0)
    else:
        same(cpu, gpu, op)


def test_clip_fill_scale_axpy():
    x = rnd((1003,), 4, 3.0)
    x[5] = np.nan
    same(*both(C.clip, x, -1.0, 2.0), what="clip")
    for fn, args in (("fill_", (0.25,)), ("scale_", (-1.5,))):
        res = []
        for dev in ("cpu", "cuda"):
            t = on(dev, x.copy())
            getattr(C, fn)(t, *args)
            res.append(host(t))
        same(*res, what=fn)
    res = []
    y0, xx = rnd((1003,), 5), rnd((1003,), 6)
    for dev in ("cpu", "cuda"):
        y = on(dev, y0.copy())
        C.axpy_(y, on(dev, xx), 0.3)
        res.append(host(y))
    same(*res, what="axpy_")


# ---------------------------------------------------------------- activations
ACTS = ["linear", "relu", "relu6", "leaky_relu", "elu", "selu", "sigmoid", "hard_sigmoid", "tanh", "softplus",
        "softsign", "swish", "gelu", "gelu_tanh", "exponential"]


def act_tol(name):
    return 2e-5 if name.startswith("gelu") else 2e-6


@pytest.mark.parametrize("n", [1, 7, 4099])
@pytest.mark.parametrize("name", ACTS)
def test_activation_forward_backward(name, n):
    x = rnd((n,), n + len(name), 4.0)
    if name == "exponential":
        x = x / 4
    if n >= 7:
        x[:4] = [0.0, -0.0, 6.0, -3.0]  # kinks
    alpha = 0.3 if name in ("leaky_relu", "elu") else None
    cpu_y, gpu_y = both(C.activation_forward, x, name, alpha=alpha)
    assert_close(gpu_y, cpu_y, rtol=act_tol(name), atol=1e-7, what=name + " forward")
    dy = rnd((n,), 99)
    # backward from x only, from y only where allowed, and from both
    for use_x, use_y in ((True, False), (True, True), (False, True)):
        if not use_x and name not in ("linear", "sigmoid", "tanh", "exponential", "relu"):
            continue
        res = []
        for dev in ("cpu", "cuda"):
            xt = on(dev, x) if use_x else None
            yt = C.activation_forward(on(dev, x), name, alpha=alpha) if use_y else None
            res.append(host(C.activation_backward(on(dev, dy), xt, yt, name, alpha=alpha)))
        assert_close(res[1], res[0], rtol=act_tol(name), atol=1e-6,
                     what="%s backward (x=%s, y=%s)" % (name, use_x, use_y))


# ---------------------------------------------------------------- binary
BCAST = [((7,), (7,)), ((1001,), (1001,)), ((5, 1000), (1000,)), ((4, 3, 5), (4, 1, 5)), ((2, 1, 6), (1, 3, 1)),
         ((3, 4), ()), ((), (17,)), ((2, 3, 1, 5, 1, 2), (3, 4, 1, 6, 1)), ((1,), (1,)), ((0, 3), (3,))]


@pytest.mark.parametrize("sa,sb", BCAST)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum", "minimum", "pow"])
def test_binary_broadcast(op, sa, sb):
    a, b = rnd(sa, 1), rnd(sb, 2)
    if op == "pow":
        a = np.asarray(np.abs(a) + 0.5, np.float32)
    if a.size > 2:
        a.flat[1] = np.nan
    cpu, gpu = both(C.binary, op, a, b)
    if op == "pow":
        assert_close(gpu, cpu, rtol=2e-6, atol=0)
    else:
        same(cpu, gpu, op)


def test_bias_add():
    x, b = rnd((6, 5, 7, 33), 3), rnd((33,), 4)
    same(*both(C.bias_add, x, b))


# ---------------------------------------------------------------- reduce
RED_CASES = [((1000,), None), ((300000,), None), ((7, 11), 1), ((7, 11), 0), ((100000, 3), 0), ((3, 100000), 1),
             ((4, 1000, 5), 1), ((4, 1000, 5), [0, 2]), ((2, 3, 4, 5), [1, 3]), ((2, 3, 4, 5), [0, 1, 2, 3]),
             ((50, 70), [0, 1]), ((1, 1), None), ((9,), 0), ((2000, 40), 1)]


@pytest.mark.parametrize("shape,axes", RED_CASES)
@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "prod"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduce(op, shape, axes, keepdims):
    x = rnd(shape, len(shape) + 7, 1.0)
    if op == "prod":
        x = (1.0 + 0.001 * x).astype(np.float32)
    cpu, gpu = both(C.reduce, op, x, axes, keepdims=keepdims)
    if op in ("max", "min"):
        same(cpu, gpu, op)
    else:
        k = x.size // max(cpu.size, 1)
        assert_close(gpu, cpu, rtol=1e-5, atol=scaled_tol(cpu, k), what=op)


def test_reduce_nan_and_empty():
    x = rnd((5, 300), 1)
    x[2, 17] = np.nan
    for op in ("sum", "max", "min"):
        same(*both(C.reduce, op, x, 1), what=op + " nan")
    e = np.zeros((4, 0), np.float32)
    for op in ("sum", "mean", "prod"):
        same(*both(C.reduce, op, e, 1), what=op + " empty")


def test_sum_to_shape():
    x = rnd((6, 4, 5), 2)
    cpu, gpu = both(C.sum_to_shape, x, [4, 1])
    assert_close(gpu, cpu, rtol=1e-5, atol=scaled_tol(cpu, 30))


def test_reduce_deterministic():
    x = on("cuda", rnd((1 << 19,), 3))
    r = [host(C.reduce("sum", x, None)) for _ in range(3)]
    same(r[0], r[1]), same(r[0], r[2])


# ---------------------------------------------------------------- softmax
@pytest.mark.parametrize("shape,axis", [((5, 1), -1), ((7, 10), -1), ((3, 100), -1), ((2, 1000), -1),
                                        ((2, 5000), -1), ((4, 6, 9), 1), ((10, 3), 0), ((1, 17), 0)])
@pytest.mark.parametrize("log", [False, True])
def test_softmax(shape, axis, log):
    x = rnd(shape, 5, 3.0)
    fwd = C.log_softmax_forward if log else C.softmax_forward
    bwd = C.log_softmax_backward if log else C.softmax_backward
    cpu, gpu = both(fwd, x, axis)
    n = shape[axis]
    assert_close(gpu, cpu, rtol=2e-6, atol=scaled_tol(cpu, n), what="forward")
    dy = rnd(shape, 6)
    cpu_dx, gpu_dx = both(bwd, dy, cpu, axis)
    assert_close(gpu_dx, cpu_dx, rtol=2e-6, atol=scaled_tol(cpu_dx, n), what="backward")


def test_softmax_nan_and_neg_inf_rows():
    x = rnd((3, 40), 1)
    x[0, 3] = np.nan
    x[1, :] = -np.inf
    for fwd in (C.softmax_forward, C.log_softmax_forward):
        cpu, gpu = both(fwd, x, -1)
        same(np.isnan(cpu), np.isnan(gpu))
        assert_close(gpu[2], cpu[2], rtol=2e-6, atol=1e-7)


# ---------------------------------------------------------------- data movement
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.uint8, np.int32])
@pytest.mark.parametrize("shape,perm", [((3, 4), (1, 0)), ((2, 3, 4, 5), (0, 3, 1, 2)), ((33, 65), (1, 0)),
                                        ((2, 3, 4, 5, 6, 7), (5, 4, 3, 2, 1, 0)), ((1, 5, 1), (2, 0, 1))])
def test_transpose(shape, perm, dtype):
    x = (rnd(shape, 3, 50.0)).astype(dtype)
    same(*both(C.transpose, x, list(perm)))


def test_slice_concat_pad():
    x = rnd((3, 7, 5, 2), 4)
    same(*both(C.slice_axis, x, 1, 2, 6))
    same(*both(C.slice_axis, x, -1, 1, 2))
    xs = [rnd((3, k, 5, 2), k) for k in (1, 4, 2)]
    same(*both(C.concat, xs, 1))
    same(*both(C.concat, [rnd((2, 3), 1), rnd((2, 5), 2)], -1))
    same(*both(C.pad2d, x, 1, 2, 0, 3, value=-1.5))
    same(*both(C.pad2d_backward, x, 1, 2, 1, 1))


# ---------------------------------------------------------------- cast
SPECIAL = np.array([0.0, -0.0, 1.5, -1.5, 2.7, -2.7, 255.9, 256.0, -1.0, 3e9, -3e9, 2.1e9, 1e19, -1e19,
                    np.nan, np.inf, -np.inf, 127.5], np.float32)


@pytest.mark.parametrize("src", ["float32", "int32", "int64", "uint8"])
@pytest.mark.parametrize("dst", ["float32", "int32", "int64", "uint8"])
def test_cast(src, dst):
    if src == "float32":
        x = np.concatenate([SPECIAL, rnd((1001,), 1, 1e3)])
    elif src == "uint8":
        x = np.random.default_rng(1).integers(0, 256, 1019).astype(np.uint8)
    else:
        info = np.iinfo(src)
        x = np.random.default_rng(2).integers(info.min, info.max, 1019, dtype=src)
        x[:3] = [info.min, info.max, 0]
    same(*both(C.cast, x, dst), what="%s->%s" % (src, dst))


# ---------------------------------------------------------------- dropout
@pytest.mark.parametrize("n", [1, 5, 100003])
@pytest.mark.parametrize("rate", [0.0, 0.1, 0.5, 0.9])
@pytest.mark.parametrize("seed", [0, 12345, 2 ** 63 + 7])
def test_dropout_mask_bit_identical(n, rate, seed):
    x = rnd((n,), 1)
    (cy, cm), (gy, gm) = both(C.dropout_forward, x, rate, seed)
    same(cm, gm, "mask")
    same(cy, gy, "y")
    dy = rnd((n,), 2)
    same(*both(C.dropout_backward, dy, cm, rate), what="dx")


# ---------------------------------------------------------------- index ops
@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8"])
def test_one_hot(dtype):
    lab = np.array([0, 3, 9, 1, 10, 200, 4], dtype=dtype)
    if dtype != "uint8":
        lab[1] = -1
    same(*both(C.one_hot, lab, 10))
    same(*both(C.one_hot, lab.reshape(7, 1), 12))


@pytest.mark.parametrize("shape,axis", [((6, 10), -1), ((6, 10), 0), ((3, 4, 5), 1), ((7,), 0), ((2, 1), -1)])
def test_argmax(shape, axis):
    x = rnd(shape, 9)
    x.flat[0] = x.flat[1] = 5.0  # tie: first wins
    if x.size > 5:
        x.flat[4] = np.nan
    same(*both(C.argmax, x, axis))


def test_where_and_accuracy():
    a, b = rnd((1001,), 1), rnd((1001,), 2)
    c8 = (rnd((1001,), 3) > 0).astype(np.uint8)
    cf = np.where(c8 > 0, 2.0, 0.0).astype(np.float32)
    cf[7] = np.nan
    same(*both(C.where, c8, a, b))
    same(*both(C.where, cf, a, b))
    pred = rnd((50, 7), 4)
    lab = np.random.default_rng(5).integers(0, 7, 50).astype(np.int64)
    cpu, gpu = both(C.accuracy_count, pred, lab)
    assert cpu == gpu
    cpu, gpu = both(C.accuracy_count, pred, np.eye(7, dtype=np.float32)[lab])
    assert cpu == gpu


# ---------------------------------------------------------------- losses
def labels_for(N, Cn, kind, seed):
    rng = np.random.default_rng(seed)
    if kind in ("int32", "int64", "uint8"):
        return rng.integers(0, Cn, N).astype(kind)
    if kind == "onehot":
        return np.eye(Cn, dtype=np.float32)[rng.integers(0, Cn, N)]
    s = rng.random((N, Cn)).astype(np.float32)
    return (s / s.sum(1, keepdims=True)).astype(np.float32)


LOSS_SHAPES = [(1, 1), (4, 1), (7, 3), (16, 10), (3, 1000), (300, 17), (2, 3000)]


@pytest.mark.parametrize("N,Cn", LOSS_SHAPES)
@pytest.mark.parametrize("kind", ["int32", "int64", "uint8", "onehot", "soft"])
def test_softmax_cross_entropy(N, Cn, kind):
    if kind == "uint8" and Cn > 255:
        pytest.skip("uint8 labels")
    z = rnd((N, Cn), N + Cn, 3.0)
    lab = labels_for(N, Cn, kind, N * Cn)
    (cl, cp), (gl, gp) = both(C.softmax_cross_entropy_forward, z, lab)
    assert_close(gl, cl, rtol=1e-5, atol=1e-6, what="loss")
    assert_close(gp, cp, rtol=2e-6, atol=scaled_tol(cp, Cn), what="probs")
    dl = rnd((N,), 3)
    cpu, gpu = both(C.softmax_cross_entropy_backward, cp, lab, dl)
    assert_close(gpu, cpu, rtol=1e-6, atol=1e-6, what="dlogits")  # soft labels: sum(t) order differs


@pytest.mark.parametrize("N,Cn", LOSS_SHAPES)
@pytest.mark.parametrize("kind", ["int64", "int32", "onehot", "soft"])
def test_crossentropy_probs(N, Cn, kind):
    p = np.abs(rnd((N, Cn), N, 1.0)) + 0.01
    p /= p.sum(1, keepdims=True)
    if Cn > 2:
        p[0, 1] = 1e-9  # clipped
    lab = labels_for(N, Cn, kind, 7)
    cpu, gpu = both(C.crossentropy_probs_forward, p, lab)
    assert_close(gpu, cpu, rtol=1e-5, atol=1e-6, what="loss")
    dl = rnd((N,), 4)
    cpu, gpu = both(C.crossentropy_probs_backward, p, lab, dl)
    assert_close(gpu, cpu, rtol=1e-5, atol=scaled_tol(cpu, Cn), what="dprobs")


@pytest.mark.parametrize("fwd,bwd,kw", [("mse_forward", "mse_backward", {}), ("mae_forward", "mae_backward", {}),
                                        ("huber_forward", "huber_backward", {"delta": 0.7}),
                                        ("binary_crossentropy_forward", "binary_crossentropy_backward",
                                         {"from_logits": True}),
                                        ("binary_crossentropy_forward", "binary_crossentropy_backward",
                                         {"from_logits": False})])
@pytest.mark.parametrize("shape", [(5,), (7, 1), (6, 3), (4, 100), (3, 2, 33)])
def test_regression_losses(fwd, bwd, kw, shape):
    pred, target = rnd(shape, 1, 2.0), rnd(shape, 2)
    if kw.get("from_logits") is False:
        pred = 1 / (1 + np.exp(-pred))
        pred.flat[0] = 0.0  # clipped
        target = (target > 0).astype(np.float32)
    cpu, gpu = both(getattr(C, fwd), pred, target, **kw)
    assert_close(gpu, cpu, rtol=1e-5, atol=1e-6, what=fwd)
    dl = rnd(shape[:-1], 3)
    cpu, gpu = both(getattr(C, bwd), pred, target, dl, **kw)
    assert_close(gpu, cpu, rtol=2e-6, atol=1e-6, what=bwd)  # sigmoid - t may cancel


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8"])
@pytest.mark.parametrize("fn", ["softmax_cross_entropy", "crossentropy_probs"])
def test_label_out_of_range_raises_on_cuda(fn, dtype):
    N, Cn = 6, 4
    x = np.full((N, Cn), 0.25, np.float32)
    lab = np.array([0, 1, 7, 2, 9, 3], dtype=dtype)
    if dtype != "uint8":
        lab[4] = -2
    msgs = []
    for dev in ("cpu", "cuda"):
        with pytest.raises(ValueError) as e:
            getattr(C, fn + "_forward")(on(dev, x), on(dev, lab))
        msgs.append(str(e.value))
        with pytest.raises(ValueError) as e:
            getattr(C, fn + "_backward")(on(dev, x), on(dev, lab), on(dev, np.ones(N, np.float32)))
        msgs.append(str(e.value))
    assert msgs[0] == msgs[2] and msgs[1] == msgs[3], msgs
    assert fn in msgs[2] and "label 7 at index 2" in msgs[2]


@pytest.mark.parametrize("fn", ["softmax_cross_entropy", "crossentropy_probs"])
def test_deferred_label_check_raises_at_flush(fn):
    """Deferred (as fit does within a step): the op returns without reading its flag back;
    flush_label_checks raises the same ValueError as the immediate check, then nothing is left."""
    N, Cn = 5, 4
    x = np.full((N, Cn), 0.25, np.float32)
    lab = np.array([0, 1, 2, 6, 3], np.int64)
    with pytest.raises(ValueError) as e:
        getattr(C, fn + "_forward")(on("cuda", x), on("cuda", lab))
    immediate = str(e.value)
    C.set_defer_label_checks(True)
    try:
        getattr(C, fn + "_forward")(on("cuda", x), on("cuda", lab))  # no error yet
        getattr(C, fn + "_forward")(on("cuda", x), on("cuda", np.array([0, 1, 2, 3, 3], np.int64)))
        with pytest.raises(ValueError) as e:
            C.flush_label_checks()
        assert str(e.value) == immediate and "label 6 at index 3" in immediate
        C.flush_label_checks()  # the queue was emptied by the first flush
        getattr(C, fn + "_backward")(on("cuda", x), on("cuda", lab), on("cuda", np.ones(N, np.float32)))
        C.flush_label_checks(True)  # discard: dropped, no error
        C.flush_label_checks()
    finally:
        C.set_defer_label_checks(False)
        C.flush_label_checks(True)


def test_fit_on_cuda_bad_label_stops_before_the_update():
    """fit defers the label checks within a step and flushes before the optimizer: a bad
    label raises the loss's ValueError and leaves every weight as it was."""
    keras = pcn
    model = keras.models.Sequential([keras.layers.Input(shape=(6,)), keras.layers.Dense(4, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", device="cuda")
    before = [w.copy() for w in model.get_weights()]
    x = rnd((8, 6), 3)
    y = np.array([0, 1, 2, 3, 0, 1, 5, 2])
    with pytest.raises(ValueError, match=r"label 5 at index 6"):
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights()):
        assert np.array_equal(a, b)
    model.fit(x, y % 4, batch_size=8, epochs=1, verbose=0)  # the next fit trains normally
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


# ---------------------------------------------------------------- optimizers
OPT_CASES = [
    ("sgd", dict(lr=0.1), ()),
    ("sgd", dict(lr=0.1, momentum=0.9), ("velocity",)),
    ("sgd", dict(lr=0.05, momentum=0.5, nesterov=True), ("velocity",)),
    ("adam", dict(lr=0.01), ("m", "v")),
    ("adam", dict(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6), ("m", "v", "vhat")),
    ("rmsprop", dict(lr=0.01), ("velocity",)),
    ("rmsprop", dict(lr=0.01, rho=0.8, momentum=0.9, centered=True), ("velocity", "average_grad", "momentum_buf")),
    ("adagrad", dict(lr=0.1), ("accumulator",)),
]


@pytest.mark.parametrize("n", [1, 7, 10007])
@pytest.mark.parametrize("kind,kw,bufs", OPT_CASES)
def test_optimizers_three_steps(kind, kw, bufs, n):
    w0 = rnd((n,), 1)
    grads = [rnd((n,), 10 + s) for s in range(3)]
    out = {}
    for dev in ("cpu", "cuda"):
        w = on(dev, w0.copy())
        state = {b: on(dev, np.zeros(n, np.float32)) for b in bufs}
        for s, g in enumerate(grads):
            args = dict(kw)
            args.update(state)
            if kind == "adam":
                args["step"] = s + 1
            getattr(C, kind + "_update_")(w, on(dev, g), **args)
        out[dev] = [host(w)] + [host(state[b]) for b in bufs]
    for name, c, g in zip(("param",) + tuple(bufs), out["cpu"], out["cuda"]):
        assert_close(g, c, rtol=1e-6, atol=0, what="%s %s" % (kind, name))
