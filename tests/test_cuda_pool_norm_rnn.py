"""CUDA twins of the pooling, normalization and RNN kernels against the CPU
kernels (which tests/test_pool2d.py, test_norm.py and test_rnn.py check against
the float64 references): every `_C` op runs on CPU tensors and on `.to("cuda")`
copies of the same inputs and the results are compared. Poisoned allocations
(conftest) make an unwritten device element NaN, which fails the comparison.

Tolerances: max pooling, its gradient routing and the global max are exact
(no arithmetic that can round differently); everything else fp32 rtol 1e-5
plus an atol of a few ulps * sqrt(reduction length) (tolerance.scaled_tol)."""
import numpy as np
import pytest

import pyconvnet as pcn
from tolerance import assert_close, scaled_tol

_C = pcn._C


def _has_cuda():
    try:
        return bool(_C.build_info()["cuda_compiled"]) and len(_C.cuda_devices()) > 0
    except Exception:  # noqa: BLE001 - any failure to query means no usable device
        return False


pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not _has_cuda(), reason="no CUDA device (or CUDA not compiled in)")]


def cpu(a):
    return None if a is None else pcn.tensor(np.ascontiguousarray(a, dtype=np.float32))


def gpu(a):
    return None if a is None else cpu(a).to("cuda")


def host(t):
    """numpy copy of a CPU or CUDA tensor (None stays None)."""
    return None if t is None else np.array(t.to("cpu").numpy(), copy=True)


def close(g, c, k=1, rtol=1e-5, what="output"):
    """GPU result g vs CPU result c (numpy), reduction length k."""
    assert g.shape == c.shape, "%s: shape %s != %s" % (what, g.shape, c.shape)
    assert_close(g, c, rtol=rtol, atol=max(1e-6, scaled_tol(c, k)), what=what)


def exact(g, c, what="output"):
    assert g.shape == c.shape, "%s: shape %s != %s" % (what, g.shape, c.shape)
    assert np.array_equal(np.isnan(g), np.isnan(c)), "%s: NaN positions differ" % what
    m = ~np.isnan(c)
    bad = np.flatnonzero(g[m] != c[m])
    assert bad.size == 0, "%s: %d elements differ, first cuda %r cpu %r" % (what, bad.size, g[m][bad[0]],
                                                                            c[m][bad[0]])


# ---------------------------------------------------------------- pooling
POOL_CASES = [
    ((2, 6, 6, 4), (2, 2), (2, 2), "valid"),
    ((1, 7, 5, 3), (3, 3), (2, 2), "same"),              # batch 1, odd, non-square
    ((2, 8, 8, 5), (3, 3), (2, 2), "same"),
    ((3, 7, 9, 1), (3, 2), (1, 2), "same"),              # one channel
    ((2, 9, 8, 3), (2, 2), (3, 3), "valid"),             # stride > window (uncovered inputs get 0)
    ((1, 5, 7, 2), (2, 3), (4, 1), "SAME"),
    ((2, 6, 7, 3), (3, 3), (1, 1), [1, 0, 2, 1]),        # explicit asymmetric
    ((1, 4, 5, 2), (2, 2), (2, 2), [3, 2, 2, 4]),        # all-padding windows -> 0
    ((2, 5, 4, 9), (1, 1, 3), (1, 1, 3), "valid"),       # depth pooling
    ((2, 4, 5, 9), (1, 1, 3), (1, 1, 2), "valid"),       # overlapping depth windows
    ((2, 4, 5, 10), (1, 1, 3), (1, 1, 4), "valid"),      # depth stride > window, leftover channels
    ((1, 6, 5, 8), (2, 2, 2), (2, 1, 2), "same"),        # spatial + depth
    ((2, 5, 5, 7), (3, 2, 3), (2, 2, 1), [1, 1, 0, 1]),
    ((1, 3, 3, 70), (2, 2), (1, 1), "valid"),
    ((4, 3, 2, 3), (3, 2), (1, 1), "valid"),             # window == input
    ((3, 11, 13, 33), (5, 4), (2, 3), "same"),           # larger, heavy overlap
]


def _pool_x(shape, seed, kind):
    rng = np.random.default_rng(seed)
    if kind == "ties":  # few distinct values: many ties, tests first-max routing
        return rng.integers(-2, 3, size=shape).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("kind", ["randn", "ties"])
@pytest.mark.parametrize("case", range(len(POOL_CASES)))
def test_pool2d_forward_backward(mode, kind, case):
    shape, k, s, pad = POOL_CASES[case]
    x = _pool_x(shape, 100 + case, kind)
    yc = host(_C.pool2d_forward(cpu(x), mode, k, s, pad))
    yg = host(_C.pool2d_forward(gpu(x), mode, k, s, pad))
    dy = np.random.default_rng(200 + case).standard_normal(yc.shape).astype(np.float32)
    dxc = host(_C.pool2d_backward(cpu(dy), cpu(x), mode, k, s, pad))
    dxg = host(_C.pool2d_backward(gpu(dy), gpu(x), mode, k, s, pad))
    win = int(np.prod(k))
    if mode == "max":
        exact(yg, yc, "max_pool forward")
        exact(dxg, dxc, "max_pool backward")  # same routing; sums in the same (oh, ow, oc) order
    else:
        close(yg, yc, win, what="avg_pool forward")
        close(dxg, dxc, win, what="avg_pool backward")


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pool2d_nan_propagates_like_cpu(mode):
    x = _pool_x((2, 6, 7, 5), 7, "randn")
    x[0, 1, 2, 3] = np.nan
    x[1, 4, 4, 0] = np.nan
    x[1, 4, 5, 0] = np.nan  # two NaNs in one window: the first one gets the gradient
    args = (mode, (3, 3), (2, 2), "same")
    yc, yg = host(_C.pool2d_forward(cpu(x), *args)), host(_C.pool2d_forward(gpu(x), *args))
    dy = np.ones_like(yc)
    dxc, dxg = host(_C.pool2d_backward(cpu(dy), cpu(x), *args)), host(_C.pool2d_backward(gpu(dy), gpu(x), *args))
    assert np.array_equal(np.isnan(yg), np.isnan(yc))
    assert np.array_equal(np.isnan(dxg), np.isnan(dxc))
    if mode == "max":
        exact(yg, yc)
        exact(dxg, dxc)


GLOBAL_SHAPES = [(1, 1, 1, 1), (2, 3, 5, 7), (3, 4, 4, 33), (1, 17, 9, 70), (5, 1, 1, 3), (2, 40, 40, 4)]


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("kind", ["randn", "ties"])
@pytest.mark.parametrize("shape", GLOBAL_SHAPES)
def test_global_pool(mode, kind, shape):
    x = _pool_x(shape, sum(shape), kind)
    yc, yg = host(_C.global_pool_forward(cpu(x), mode)), host(_C.global_pool_forward(gpu(x), mode))
    dy = np.random.default_rng(3).standard_normal(yc.shape).astype(np.float32)
    dxc = host(_C.global_pool_backward(cpu(dy), cpu(x), mode))
    dxg = host(_C.global_pool_backward(gpu(dy), gpu(x), mode))
    if mode == "max":
        exact(yg, yc, "global_max_pool forward")
        exact(dxg, dxc, "global_max_pool backward")  # first maximum gets dy
    else:
        close(yg, yc, shape[1] * shape[2], what="global_avg_pool forward")
        close(dxg, dxc, what="global_avg_pool backward")


def test_global_max_pool_nan_first_wins():
    x = _pool_x((2, 5, 6, 3), 1, "randn")
    x[0, 2, 3, 1] = np.nan
    x[0, 4, 0, 1] = np.nan
    yc, yg = host(_C.global_pool_forward(cpu(x), "max")), host(_C.global_pool_forward(gpu(x), "max"))
    assert np.array_equal(np.isnan(yc), np.isnan(yg))
    dy = np.ones(yc.shape, np.float32)
    exact(host(_C.global_pool_backward(gpu(dy), gpu(x), "max")), host(_C.global_pool_backward(cpu(dy), cpu(x), "max")))


# ---------------------------------------------------------------- batch norm
BN_SHAPES = [(1, 1), (7, 3), (2, 5, 6, 4), (3, 4, 5, 70), (1, 1, 1, 33), (4000, 5), (2, 3, 37),
             (64, 9, 9, 70)]  # (4000, 5), (64, 9, 9, 70): many row chunks in the CUDA kernels, the last partial


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm(shape, affine):
    rng = np.random.default_rng(len(shape) * 100 + shape[-1])
    C = shape[-1]
    M = int(np.prod(shape)) // C
    x = (rng.standard_normal(shape) * 3 + 5).astype(np.float32)  # |mean| > std: tests the two-pass variance
    gamma = rng.standard_normal(C).astype(np.float32) if affine else None
    beta = rng.standard_normal(C).astype(np.float32) if affine else None
    eps = 1e-3
    yc, mc, vc = map(host, _C.batch_norm_forward_train(cpu(x), cpu(gamma), cpu(beta), eps))
    yg, mg, vg = map(host, _C.batch_norm_forward_train(gpu(x), gpu(gamma), gpu(beta), eps))
    close(mg, mc, M, what="mean")
    close(vg, vc, M, what="var")
    close(yg, yc, M, what="y (train)")

    yic = host(_C.batch_norm_forward_infer(cpu(x), cpu(gamma), cpu(beta), cpu(mc), cpu(vc), eps))
    yig = host(_C.batch_norm_forward_infer(gpu(x), gpu(gamma), gpu(beta), gpu(mc), gpu(vc), eps))
    close(yig, yic, what="y (infer)")

    dy = rng.standard_normal(shape).astype(np.float32)
    dxc, dgc, dbc = map(host, _C.batch_norm_backward(cpu(dy), cpu(x), cpu(gamma), cpu(mc), cpu(vc), eps))
    dxg, dgg, dbg = map(host, _C.batch_norm_backward(gpu(dy), gpu(x), gpu(gamma), gpu(mc), gpu(vc), eps))
    close(dbg, dbc, M, what="dbeta")
    close(dgg, dgc, M, what="dgamma")
    close(dxg, dxc, M, what="dx")


def test_batch_norm_update_running():
    rng = np.random.default_rng(5)
    for C in (1, 3, 300):
        rm, rv = rng.standard_normal(C).astype(np.float32), rng.random(C).astype(np.float32)
        m, v = rng.standard_normal(C).astype(np.float32), rng.random(C).astype(np.float32)
        tc = [cpu(rm), cpu(rv)]
        tg = [gpu(rm), gpu(rv)]
        _C.batch_norm_update_running_(tc[0], tc[1], cpu(m), cpu(v), 0.9)
        _C.batch_norm_update_running_(tg[0], tg[1], gpu(m), gpu(v), 0.9)
        close(host(tg[0]), host(tc[0]), what="running_mean")
        close(host(tg[1]), host(tc[1]), what="running_var")


def test_batch_norm_nan_propagates():
    x = np.random.default_rng(1).standard_normal((6, 4)).astype(np.float32)
    x[2, 1] = np.nan
    yc, mc, vc = map(host, _C.batch_norm_forward_train(cpu(x), None, None, 1e-3))
    yg, mg, vg = map(host, _C.batch_norm_forward_train(gpu(x), None, None, 1e-3))
    assert np.array_equal(np.isnan(yc), np.isnan(yg)) and np.array_equal(np.isnan(mc), np.isnan(mg))


# ---------------------------------------------------------------- LRN
LRN_CASES = [  # (shape, depth_radius, bias, alpha, beta)
    ((2, 3, 4, 7), 5, 1.0, 1.0, 0.5),
    ((1, 2, 3, 16), 2, 2.0, 1e-4, 0.75),   # AlexNet's
    ((2, 2, 2, 5), 0, 1.0, 0.5, 1.0),
    ((1, 3, 2, 4), 9, 1.5, 0.3, 0.6),      # radius > C, generic pow
    ((1, 2, 2, 130), 40, 1.0, 0.01, 0.5),  # wide window (the CPU takes prefix sums)
    ((3, 1, 1, 1), 5, 1.0, 1.0, 0.5),      # one channel
]


@pytest.mark.parametrize("case", range(len(LRN_CASES)))
def test_lrn(case):
    shape, r, bias, alpha, beta = LRN_CASES[case]
    rng = np.random.default_rng(case)
    x = rng.standard_normal(shape).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    yc, yg = host(_C.lrn_forward(cpu(x), r, bias, alpha, beta)), host(_C.lrn_forward(gpu(x), r, bias, alpha, beta))
    close(yg, yc, 2 * r + 1, what="lrn forward")
    dxc = host(_C.lrn_backward(cpu(dy), cpu(x), r, bias, alpha, beta))
    dxg = host(_C.lrn_backward(gpu(dy), gpu(x), r, bias, alpha, beta))
    close(dxg, dxc, 2 * r + 1, what="lrn backward")


# ---------------------------------------------------------------- RNN
CELLS = [("simple_tanh", True, 1), ("simple_relu", True, 1), ("lstm", True, 4), ("gru", True, 3), ("gru", False, 3)]
CELL_IDS = ["simple_tanh", "simple_relu", "lstm", "gru", "gru_v1"]
RNN_SHAPES = [(1, 1, 1, 1), (2, 5, 3, 4), (3, 4, 7, 9), (1, 6, 33, 35), (5, 3, 2, 40),
              (70, 4, 20, 37)]  # (N, T, I, U); the last: two 64-row tiles of the step product, odd U


def _rnn_inputs(cell, ra, G, N, T, I, U, rng, bias, state):
    # Weights ~ 1.5/sqrt(fan_in) at most: a non-chaotic recurrence, so rounding
    # differences between the devices do not grow step after step.
    sc = min(0.5, 1.5 / np.sqrt(max(I, U)))
    f = lambda *s: (rng.standard_normal(s) * sc).astype(np.float32)  # noqa: E731
    d = dict(x=f(N, T, I) * 2, kernel=f(I, G * U), recurrent_kernel=f(U, G * U))
    d["bias"] = (f(2, G * U) if (cell == "gru" and ra) else f(G * U)) if bias else None
    d["h0"] = f(N, U) if state else None
    d["c0"] = f(N, U) if (state and cell == "lstm") else None
    return d


def _rnn_run(dev, d, cell, gb, ra, grads):
    put = gpu if dev == "cuda" else cpu
    a = [put(d[k]) for k in ("x", "kernel", "recurrent_kernel", "bias", "h0", "c0")]
    out, hT, cT, ws = _C.rnn_forward(*a, cell, gb, ra)
    res = dict(out=host(out), hT=host(hT), cT=host(cT), ws=host(ws))
    dout, dhT, dcT = (put(g) for g in grads)
    r = _C.rnn_backward(dout, dhT, dcT, a[0], a[1], a[2], a[3], a[4], a[5], ws, cell, gb, ra)
    for name, t in zip(("dx", "dkernel", "drecurrent", "dbias", "dh0", "dc0"), r):
        res[name] = host(t)
    return res


@pytest.mark.parametrize("gb", [False, True], ids=["fwd", "go_backwards"])
@pytest.mark.parametrize("opts", [(True, True), (False, False), (True, False)], ids=["bias+state", "bare", "bias"])
@pytest.mark.parametrize("shape", RNN_SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("ci", range(len(CELLS)), ids=CELL_IDS)
def test_rnn_forward_backward(ci, shape, opts, gb):
    cell, ra, G = CELLS[ci]
    N, T, I, U = shape
    bias, state = opts
    rng = np.random.default_rng(ci * 1000 + N * 100 + T * 10 + U)
    d = _rnn_inputs(cell, ra, G, N, T, I, U, rng, bias, state)
    g = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    grads = (g(N, T, U), g(N, U), g(N, U) if cell == "lstm" else None)
    c = _rnn_run("cpu", d, cell, gb, ra, grads)
    k = T * (I + G * U)  # recurrence depth x reduction length: rounding differences compound over steps
    gres = _rnn_run("cuda", d, cell, gb, ra, grads)
    for name in ("out", "hT", "cT", "ws"):
        if c[name] is None:
            assert gres[name] is None
            continue
        close(gres[name], c[name], k, rtol=5e-5, what="rnn_forward %s" % name)
    for name in ("dx", "dkernel", "drecurrent", "dbias", "dh0", "dc0"):
        if c[name] is None:
            assert gres[name] is None, name
            continue
        close(gres[name], c[name], k * N * T, rtol=2e-4, what="rnn_backward %s" % name)


@pytest.mark.parametrize("ci", range(len(CELLS)), ids=CELL_IDS)
def test_rnn_backward_partial_gradients(ci):
    """Only d_hT (or only d_cT for LSTM), no d_outputs."""
    cell, ra, G = CELLS[ci]
    N, T, I, U = 3, 4, 5, 6
    rng = np.random.default_rng(ci)
    d = _rnn_inputs(cell, ra, G, N, T, I, U, rng, True, True)
    grads = (None, None, rng.standard_normal((N, U)).astype(np.float32)) if cell == "lstm" else \
        (None, rng.standard_normal((N, U)).astype(np.float32), None)
    c = _rnn_run("cpu", d, cell, False, ra, grads)
    gres = _rnn_run("cuda", d, cell, False, ra, grads)
    for name in ("dx", "dkernel", "drecurrent", "dbias", "dh0", "dc0"):
        if c[name] is None:
            assert gres[name] is None
            continue
        close(gres[name], c[name], T * (I + G * U) * N * T, rtol=2e-4, what=name)


def test_rnn_backward_batch_zero_gives_zero_weight_grads():
    cell, ra, G = CELLS[2]
    rng = np.random.default_rng(0)
    d = _rnn_inputs(cell, ra, G, 2, 3, 4, 5, rng, True, False)
    x0 = np.zeros((0, 3, 4), np.float32)
    _, _, _, ws0 = _C.rnn_forward(gpu(x0), gpu(d["kernel"]), gpu(d["recurrent_kernel"]), gpu(d["bias"]), None, None,
                                  cell, False, ra)
    r = _C.rnn_backward(gpu(np.zeros((0, 3, 5), np.float32)), None, None, gpu(x0), gpu(d["kernel"]),
                        gpu(d["recurrent_kernel"]), gpu(d["bias"]), None, None, ws0, cell, False, ra)
    assert host(r[0]).shape == (0, 3, 4)
    for t in r[1:4]:
        a = host(t)
        assert np.array_equal(a, np.zeros_like(a))
