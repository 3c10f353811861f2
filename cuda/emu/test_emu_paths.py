"""Shapes that reach the CUDA kernels' launch paths the CPU test files do not
(cuda/emu/run.sh runs this file against the emulated kernels; in a plain CPU
build it tests the CPU kernels on the same shapes). Found with EMU_COVERAGE=1:
tall (128-row) GEMM tiles, split reductions with accumulate, the plain
backward-input gather for strides with sh*sw > 64, stride phases without a valid
tap, several column tiles per group, long loss rows, many-row softmax/losses.
PCN_EMU_SMS (read by the emulated cudaDeviceGetAttribute at each launch) moves
the tile/split heuristics: 132 (H100) makes many splits, 1 makes tall tiles."""
import os

import numpy as np
import pytest

import pyconvnet as pcn
import reference_conv as ref
import reference_loss as rloss
from tolerance import assert_close, scaled_tol

C_ = pcn._C


def T(a):
    return pcn.tensor(np.ascontiguousarray(a))


@pytest.fixture(params=["132", "1"], ids=["sms132", "sms1"])
def sms(request, monkeypatch):
    """The SM count the kernels' tile/split heuristics see (read by the emulator at each launch)."""
    monkeypatch.setenv("PCN_EMU_SMS", request.param)
    return request.param


# (N,H,W,C, KH,KW,K, strides, padding, dilations, groups, bias, activation)
CONV = {
    "tall_rows": (2, 13, 12, 5, 3, 3, 7, (1, 1), "same", (1, 1), 1, True, "relu"),
    "split_rows_many": (3, 17, 16, 4, 3, 2, 6, (1, 1), "same", (1, 1), 1, True, "none"),
    "col_tiles_groups": (1, 6, 5, 130, 2, 2, 132, (1, 1), "valid", (1, 1), 2, True, "none"),
    "kk_tail": (2, 9, 8, 7, 3, 3, 70, (2, 1), "same", (1, 1), 1, False, "none"),
    "huge_stride_gather": (2, 20, 19, 3, 3, 2, 5, (9, 8), "valid", (1, 1), 1, True, "none"),
    "huge_stride_gather_groups": (1, 19, 25, 4, 4, 3, 6, (10, 9), [3, 1, 2, 4], (1, 2), 2, False, "relu"),
    "phase_without_taps": (2, 11, 10, 3, 3, 3, 4, (2, 2), "same", (2, 2), 1, True, "none"),
    "phase_without_taps_w": (1, 9, 14, 2, 2, 3, 3, (1, 3), [1, 1, 2, 2], (1, 3), 1, False, "none"),
    "stride3_dil2": (2, 14, 13, 3, 3, 3, 4, (3, 3), [2, 2, 1, 3], (2, 2), 1, True, "none"),
    "depthwise_split": (4, 15, 14, 8, 3, 3, 8, (1, 1), "same", (1, 1), 8, True, "relu"),
    "depthwise_mult3_split": (3, 14, 15, 3, 2, 3, 9, (2, 1), "same", (2, 1), 3, False, "none"),
    "depthwise_v4_nobias_pad": (2, 7, 9, 12, 3, 2, 12, (2, 3), [3, 0, 2, 4], (1, 1), 12, False, "none"),
    "pointwise_big_m": (4, 16, 16, 3, 1, 1, 5, (1, 1), "valid", (1, 1), 1, True, "relu"),
    # int64 index paths (fits32 false) with tiny tensors: a padded extent, a stride
    # or a dilated kernel extent of 2^30
    "int64_stride": (2, 3, 4, 2, 1, 2, 3, (2**30, 1), [2**30, 0, 0, 1], (1, 1), 1, True, "none"),
    "int64_dilation_phases": (2, 4, 5, 3, 2, 2, 4, (1, 1), [2**30, 0, 1, 0], (2**30, 1), 1, True, "relu"),
    "int64_groups": (1, 4, 6, 4, 2, 3, 6, (1, 2), [2**30, 0, 1, 1], (2**30, 1), 2, False, "none"),
    "int64_depthwise": (1, 4, 5, 4, 2, 2, 4, (1, 1), [2**30, 0, 1, 0], (2**30, 1), 4, True, "none"),
    "int64_depthwise_mult2_stride": (2, 3, 5, 2, 1, 2, 4, (2**30, 2), [2**30, 0, 0, 1], (1, 1), 2, False, "none"),
}


def make(case, seed=0):
    N, H, W, C, KH, KW, K, s, pad, d, g, bias, act = CONV[case]
    rng = np.random.default_rng(sum(map(ord, case)) + seed)
    x = rng.standard_normal((N, H, W, C)).astype(np.float32)
    w = rng.standard_normal((KH, KW, C // g, K)).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32) if bias else None
    kw = dict(strides=list(s), padding=pad, dilations=list(d), groups=g)
    return x, w, b, act, kw


@pytest.mark.parametrize("case", list(CONV))
def test_conv_paths(sms, case):
    x, w, b, act, kw = make(case)
    r = ref.conv2d_forward(x, w, b, activation=act, **kw)
    y = C_.conv2d_forward(T(x), T(w), None if b is None else T(b), kw["strides"], kw["padding"], kw["dilations"],
                          kw["groups"], act).numpy()
    assert_close(y, r, rtol=1e-4, atol=scaled_tol(r, w.shape[0] * w.shape[1] * w.shape[2]), what="forward")
    dy = np.random.default_rng(5).standard_normal(r.shape).astype(np.float32)
    dx = C_.conv2d_backward_input(T(dy), T(w), list(x.shape), **kw).numpy()
    rdx = ref.conv2d_backward_input(dy, w, x.shape, **kw)
    assert_close(dx, rdx, rtol=1e-4, atol=scaled_tol(rdx, w.shape[0] * w.shape[1] * w.shape[3]), what="dx")
    rows = dy.size // dy.shape[3]
    rdw = ref.conv2d_backward_filter(dy, x, w.shape, **kw)
    dw = C_.conv2d_backward_filter(T(dy), T(x), list(w.shape), **kw).numpy()
    assert_close(dw, rdw, rtol=1e-4, atol=scaled_tol(rdw, rows), what="dw")
    base = np.random.default_rng(6).standard_normal(w.shape).astype(np.float32)
    out = T(base)
    C_.conv2d_backward_filter(T(dy), T(x), list(w.shape), **kw, out=out, accumulate=True)
    assert_close(out.numpy(), base + rdw, rtol=1e-4, atol=scaled_tol(rdw, rows) + 1e-5, what="dw accumulate")
    rb = ref.conv2d_backward_bias(dy)
    assert_close(C_.conv2d_backward_bias(T(dy)).numpy(), rb, rtol=1e-5, atol=scaled_tol(rb, rows), what="db")
    bb = np.random.default_rng(7).standard_normal(rb.shape).astype(np.float32)
    outb = T(bb)
    C_.conv2d_backward_bias(T(dy), out=outb, accumulate=True)
    assert_close(outb.numpy(), bb + rb, rtol=1e-5, atol=scaled_tol(rb, rows) + 1e-6, what="db accumulate")


def test_conv_nan_propagates_through_fused_relu(sms):
    x, w, b, _, kw = make("tall_rows")
    x[0, 3, 4, 1] = np.nan
    y = C_.conv2d_forward(T(x), T(w), T(b), kw["strides"], kw["padding"], kw["dilations"], kw["groups"],
                          "relu").numpy()
    r = ref.conv2d_forward(x, w, b, activation="none", **kw)
    assert np.array_equal(np.isnan(y), np.isnan(r))
    assert np.isnan(y).any()


@pytest.mark.parametrize("shape", [(3, 1000), (2, 600), (9000, 3)])
def test_bias_grad_splits_any_rows(sms, shape):
    dy = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    rb = dy.astype(np.float64).sum(0)
    assert_close(C_.conv2d_backward_bias(T(dy)).numpy(), rb, rtol=1e-5, atol=scaled_tol(rb, shape[0]))


# ---------------------------------------------------------------- losses, softmax
@pytest.mark.parametrize("D", [33, 100, 700])
@pytest.mark.parametrize("kind", ["mse", "mae", "huber", "bce", "bce_logits"])
def test_reg_loss_long_rows(kind, D):
    rng = np.random.default_rng(D)
    pred = rng.uniform(0.05, 0.95, (5, D)).astype(np.float32)
    target = rng.uniform(0, 1, (5, D)).astype(np.float32)
    if kind == "mse":
        got, want = C_.mse_forward(T(pred), T(target)), ((pred.astype(np.float64) - target) ** 2).mean(-1)
    elif kind == "mae":
        got, want = C_.mae_forward(T(pred), T(target)), np.abs(pred.astype(np.float64) - target).mean(-1)
    elif kind == "huber":
        e = np.abs(pred.astype(np.float64) - target)
        got, want = C_.huber_forward(T(pred), T(target), 0.3), np.where(e <= 0.3, 0.5 * e * e, 0.3 * e - 0.045).mean(-1)
    elif kind == "bce":
        p = pred.astype(np.float64)
        got, want = C_.binary_crossentropy_forward(T(pred), T(target), False), \
            -(target * np.log(p) + (1 - target) * np.log(1 - p)).mean(-1)
    else:
        z = pred.astype(np.float64) * 8 - 4
        got = C_.binary_crossentropy_forward(T(z.astype(np.float32)), T(target), True)
        want = (np.maximum(z, 0) - z * target + np.log1p(np.exp(-np.abs(z)))).mean(-1)
    assert_close(np.asarray(got), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("N,C", [(9000, 3), (3, 700), (5, 64), (4, 65), (2, 513)])
def test_softmax_ce_many_rows_and_long_rows(N, C):
    rng = np.random.default_rng(N + C)
    x = (rng.standard_normal((N, C)) * 3).astype(np.float32)
    lab = rng.integers(0, C, N).astype(np.int64)
    loss, probs = C_.softmax_cross_entropy_forward(T(x), T(lab))
    x64 = x.astype(np.float64)
    lse = np.log(np.exp(x64 - x64.max(1, keepdims=True)).sum(1)) + x64.max(1)
    assert_close(np.asarray(loss), lse - x64[np.arange(N), lab], rtol=1e-5, atol=1e-5)
    p = np.exp(x64 - lse[:, None])
    assert_close(np.asarray(probs), p, rtol=1e-5, atol=1e-7)
    dl = rng.standard_normal(N).astype(np.float32)
    dx = np.asarray(C_.softmax_cross_entropy_backward(probs, T(lab), T(dl)))
    g = p.copy()
    g[np.arange(N), lab] -= 1
    assert_close(dx, g * dl[:, None], rtol=1e-5, atol=1e-6)
    y = np.asarray(C_.softmax_forward(T(x), -1))
    assert_close(y, p, rtol=1e-5, atol=1e-7)
    ls = np.asarray(C_.log_softmax_forward(T(x), -1))
    assert_close(ls, x64 - lse[:, None], rtol=1e-5, atol=1e-5)
    dy = rng.standard_normal((N, C)).astype(np.float32)
    dxs = np.asarray(C_.softmax_backward(T(dy), T(y), -1))
    assert_close(dxs, p * (dy - (dy * p).sum(1, keepdims=True)), rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------- device label check
def _label_check_entry():
    import ctypes
    try:
        lib = ctypes.CDLL(C_.__file__)
        f = lib.pcn_emu_class_loss_label_check
    except (OSError, AttributeError):
        pytest.skip("not the emulation build (cuda/emu/run.sh)")
    f.restype = ctypes.c_longlong
    f.argtypes = [ctypes.c_longlong, ctypes.c_longlong, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                  ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    return f


@pytest.mark.parametrize("from_probs", [False, True])
@pytest.mark.parametrize("dtype", [np.int64, np.int32])
@pytest.mark.parametrize("labels", [[0, 5, -1, 2, 3], [1, 2, 0, 2, 1], [2, 1, 0, 1, 2**31 - 1]])
def test_device_label_check(labels, dtype, from_probs):
    """The kernels' half of LabelCheck: the smallest bad row is reported (forward and
    backward), valid rows are computed as usual, bad rows never index with their label."""
    import ctypes
    f = _label_check_entry()
    N, Cn = 5, 3
    lab = np.array(labels, dtype=np.int64).astype(dtype)
    rng = np.random.default_rng(0)
    x = rng.uniform(0.1, 1, (N, Cn)).astype(np.float32)
    loss = np.full(N, np.nan, np.float32)
    probs = np.full((N, Cn), np.nan, np.float32)
    dx = np.full((N, Cn), np.nan, np.float32)
    bad_bwd = ctypes.c_longlong(-1)
    P = lambda a: a.ctypes.data
    got = f(N, Cn, P(x), P(lab), int(dtype == np.int32), int(from_probs), P(loss), P(probs), P(dx),
            ctypes.addressof(bad_bwd))
    badrows = [i for i, l in enumerate(labels) if not 0 <= l < Cn]
    want = badrows[0] if badrows else N
    assert got == want and bad_bwd.value == want
    ok = [i for i in range(N) if i not in badrows]
    x64 = x.astype(np.float64)
    if from_probs:
        q = np.clip(x64 / x64.sum(1, keepdims=True), 1e-7, 1 - 1e-7)
        want_loss = -np.log(q[np.arange(N), np.clip(lab, 0, Cn - 1)])
    else:
        lse = np.log(np.exp(x64).sum(1))
        want_loss = lse - x64[np.arange(N), np.clip(lab, 0, Cn - 1)]
    assert_close(loss[ok], want_loss[ok], rtol=1e-5, atol=1e-6)
    assert np.isfinite(dx[ok]).all()


# ---------------------------------------------------------------- random conv configurations
def _random_conv(rng):
    groups_kind = rng.integers(0, 4)
    if groups_kind == 0:  # depthwise, multiplier 1..3
        C = int(rng.integers(1, 10)) * (4 if rng.random() < 0.4 else 1)
        g, K = C, C * int(rng.integers(1, 4))
        if C == 1:
            g = 1
    elif groups_kind == 1:
        g = int(rng.integers(2, 4))
        C, K = g * int(rng.integers(1, 5)), g * int(rng.integers(1, 5))
    else:
        g, C, K = 1, int(rng.integers(1, 9)), int(rng.integers(1, 20))
    KH, KW = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    sh, sw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    if rng.random() < 0.1:
        sh, sw = int(rng.integers(7, 12)), int(rng.integers(7, 12))  # sh*sw > 64: the plain gather
    dh, dw = (int(rng.integers(1, 4)), int(rng.integers(1, 4))) if rng.random() < 0.4 else (1, 1)
    r = rng.random()
    pad = "same" if r < 0.35 else ("valid" if r < 0.6 else [int(v) for v in rng.integers(0, 5, 4)])
    H = int(rng.integers(1, 14)) + (KH - 1) * dh
    W = int(rng.integers(1, 14)) + (KW - 1) * dw
    N = int(rng.integers(1, 4))
    return N, H, W, C, KH, KW, K, (sh, sw), pad, (dh, dw), g


@pytest.mark.parametrize("seed", range(int(os.environ.get("EMU_FUZZ_N", "40"))))
def test_conv_random_configurations(seed):
    rng = np.random.default_rng(1000 + seed)
    N, H, W, C, KH, KW, K, s, pad, d, g = _random_conv(rng)
    os.environ["PCN_EMU_SMS"] = str(rng.choice([1, 4, 132]))
    try:
        x = rng.standard_normal((N, H, W, C)).astype(np.float32)
        w = rng.standard_normal((KH, KW, C // g, K)).astype(np.float32)
        b = rng.standard_normal(K).astype(np.float32) if rng.random() < 0.5 else None
        act = "relu" if rng.random() < 0.3 else "none"
        kw = dict(strides=list(s), padding=pad, dilations=list(d), groups=g)
        what = "N,H,W,C=%s KH,KW,K=%s s=%s pad=%s d=%s g=%d" % ((N, H, W, C), (KH, KW, K), s, pad, d, g)
        r = ref.conv2d_forward(x, w, b, activation=act, **kw)
        y = C_.conv2d_forward(T(x), T(w), None if b is None else T(b), kw["strides"], kw["padding"],
                              kw["dilations"], g, act).numpy()
        assert_close(y, r, rtol=1e-4, atol=scaled_tol(r, KH * KW * (C // g)), what="forward " + what)
        dy = rng.standard_normal(r.shape).astype(np.float32)
        dx = C_.conv2d_backward_input(T(dy), T(w), list(x.shape), **kw).numpy()
        rdx = ref.conv2d_backward_input(dy, w, x.shape, **kw)
        assert_close(dx, rdx, rtol=1e-4, atol=scaled_tol(rdx, KH * KW * K), what="dx " + what)
        dw_ = C_.conv2d_backward_filter(T(dy), T(x), list(w.shape), **kw).numpy()
        rdw = ref.conv2d_backward_filter(dy, x, w.shape, **kw)
        assert_close(dw_, rdw, rtol=1e-4, atol=scaled_tol(rdw, dy.size // K), what="dw " + what)
    finally:
        del os.environ["PCN_EMU_SMS"]
