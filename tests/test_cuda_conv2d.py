"""CUDA conv2d family (cuda/conv2d.cu) against the CPU kernels on the same
float32 inputs: forward (bias, fused relu), backward_input, backward_filter and
backward_bias, with and without accumulate. Outputs are NaN-poisoned (conftest),
so an element the GPU never writes fails. Skipped without a CUDA device."""
import numpy as np
import pytest

import pyconvnet as pcn
from test_conv2d import CASES as CPU_CASES

C_ = pcn._C


def _no_gpu():
    try:
        return not pcn.info()["cuda_devices"]
    except Exception:  # noqa: BLE001 - a broken driver counts as no GPU
        return True


pytestmark = [pytest.mark.cuda, pytest.mark.skipif(_no_gpu(), reason="no CUDA device (pcn.info()['cuda_devices'] empty)")]

EPS = float(np.finfo(np.float32).eps)

# Every case of the CPU test file (tests/test_conv2d.py: first layers, direct and
# depthwise kernels, groups, padding/stride/dilation corners), plus shapes for the
# paths of cuda/conv2d.cu that those do not reach.
# (N,H,W,C, KH,KW,K, strides, padding, dilations, groups, bias, activation)
GPU_CASES = {
    "first_layer_c3": (2, 17, 15, 3, 5, 5, 70, (2, 2), "same", (1, 1), 1, True, "relu"),
    "groups2_wide": (2, 9, 7, 70, 3, 3, 130, (1, 1), "same", (1, 1), 2, True, "relu"),
    "depthwise_vec4": (2, 9, 8, 8, 3, 3, 8, (1, 1), "same", (1, 1), 8, True, "none"),
    "depthwise_mult3_dilated_explicit": (1, 10, 9, 3, 3, 3, 9, (1, 2), [2, 1, 0, 3], (2, 1), 3, True, "none"),
    "pointwise_stride2_padded": (2, 7, 7, 4, 1, 1, 5, (2, 2), [1, 0, 2, 1], (1, 1), 1, True, "none"),
    "multi_tile_odd": (4, 12, 12, 67, 3, 3, 97, (1, 1), "same", (1, 1), 1, True, "none"),
    "long_reduction_splits": (8, 20, 20, 8, 3, 3, 16, (1, 1), "same", (1, 1), 1, True, "none"),
    # backward_input stride phases: dilation 2 with stride 2 leaves odd phases with no tap
    "stride2_dilation2_phases": (2, 13, 12, 5, 3, 3, 6, (2, 2), "same", (2, 2), 1, True, "none"),
    "stride3_kernel2_phases": (2, 14, 11, 4, 2, 2, 5, (3, 3), [1, 0, 2, 1], (1, 1), 1, False, "none"),
    "pointwise_stride2_phases": (2, 9, 8, 6, 1, 1, 7, (2, 2), "valid", (1, 1), 1, True, "none"),
    "huge_stride_fallback": (1, 30, 28, 3, 2, 2, 4, (9, 8), "valid", (1, 1), 1, False, "none"),
    # big enough for the 128-row tiles on an H100 (rows >= 128 * 2 * SMs)
    "tall_tiles": (4, 96, 96, 8, 3, 3, 8, (1, 1), "same", (1, 1), 1, True, "relu"),
}
CASES = {**CPU_CASES, **GPU_CASES}


def T(a, device="cpu"):
    t = pcn.tensor(np.ascontiguousarray(a, dtype=np.float32))
    return t if device == "cpu" else t.to(device)


def host(t):
    return np.asarray(t.to("cpu").numpy(), dtype=np.float64)


def make(case, seed=0):
    N, H, W, C, KH, KW, K, s, pad, d, g, bias, act = CASES[case]
    rng = np.random.default_rng(sum(map(ord, case)) * 7919 + seed)
    x = rng.standard_normal((N, H, W, C)).astype(np.float32)
    w = rng.standard_normal((KH, KW, C // g, K)).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32) if bias else None
    kw = dict(strides=list(s), padding=pad, dilations=list(d), groups=g)
    return x, w, b, act, kw, rng


def close(got, ref, k, what):
    """rtol 1e-5 plus atol scaled by sqrt(reduction length) * eps * max|ref|."""
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape, "%s: shape %s != %s" % (what, got.shape, ref.shape)
    assert not (np.isnan(got) & ~np.isnan(ref)).any(), "%s: NaN where the CPU is finite (unwritten element?)" % what
    scale = float(np.max(np.abs(ref))) if ref.size else 1.0
    atol = 8 * EPS * np.sqrt(max(k, 1)) * max(scale, 1e-30)
    err = np.abs(got - ref)
    lim = atol + 1e-5 * np.abs(ref)
    bad = err > lim
    if bad.any():
        i = np.unravel_index(np.argmax(err - lim), got.shape)
        raise AssertionError("%s: %d of %d elements out; worst at %s: got %r, cpu %r (allowed %.3g)"
                             % (what, int(bad.sum()), got.size, i, got[i], ref[i], lim[i]))


def fwd(x, w, b, act, kw, device):
    return C_.conv2d_forward(T(x, device), T(w, device), None if b is None else T(b, device), kw["strides"],
                             kw["padding"], kw["dilations"], kw["groups"], act)


def dy_for(x, w, b, act, kw, rng):
    y = fwd(x, w, b, act, kw, "cpu")
    return rng.standard_normal(tuple(y.shape)).astype(np.float32)


@pytest.mark.parametrize("case", list(CASES))
def test_forward_matches_cpu(case):
    x, w, b, act, kw, _ = make(case)
    ref = host(fwd(x, w, b, act, kw, "cpu"))
    got = fwd(x, w, b, act, kw, "cuda")
    assert got.device.startswith("cuda")
    close(host(got), ref, w.shape[0] * w.shape[1] * w.shape[2], "conv2d_forward[%s]" % case)


@pytest.mark.parametrize("case", list(CASES))
def test_backward_input_matches_cpu(case):
    x, w, b, act, kw, rng = make(case)
    dy = dy_for(x, w, b, act, kw, rng)
    ref = host(C_.conv2d_backward_input(T(dy), T(w), list(x.shape), kw["strides"], kw["padding"], kw["dilations"],
                                        kw["groups"]))
    got = C_.conv2d_backward_input(T(dy, "cuda"), T(w, "cuda"), list(x.shape), kw["strides"], kw["padding"],
                                   kw["dilations"], kw["groups"])
    close(host(got), ref, w.shape[0] * w.shape[1] * w.shape[3], "conv2d_backward_input[%s]" % case)


@pytest.mark.parametrize("case", list(CASES))
def test_backward_filter_matches_cpu(case):
    x, w, b, act, kw, rng = make(case)
    dy = dy_for(x, w, b, act, kw, rng)
    args = (list(w.shape), kw["strides"], kw["padding"], kw["dilations"], kw["groups"])
    ref = host(C_.conv2d_backward_filter(T(dy), T(x), *args))
    got = C_.conv2d_backward_filter(T(dy, "cuda"), T(x, "cuda"), *args)
    k = dy.size // dy.shape[3]
    close(host(got), ref, k, "conv2d_backward_filter[%s]" % case)
    # accumulate=True adds into out (which is returned)
    base = rng.standard_normal(w.shape).astype(np.float32)
    out = T(base, "cuda")
    res = C_.conv2d_backward_filter(T(dy, "cuda"), T(x, "cuda"), *args, out=out, accumulate=True)
    close(host(res), ref + base, k + 1, "conv2d_backward_filter[%s] accumulate" % case)
    close(host(out), ref + base, k + 1, "conv2d_backward_filter[%s] accumulate (out)" % case)
    # out without accumulate overwrites
    out2 = T(base, "cuda")
    C_.conv2d_backward_filter(T(dy, "cuda"), T(x, "cuda"), *args, out=out2, accumulate=False)
    close(host(out2), ref, k, "conv2d_backward_filter[%s] out=" % case)


@pytest.mark.parametrize("case", ["basic", "multi_tile_odd", "depthwise_mult2_stride2", "long_reduction_splits"])
def test_backward_filter_deterministic(case):
    x, w, b, act, kw, rng = make(case)
    dy = dy_for(x, w, b, act, kw, rng)
    args = (list(w.shape), kw["strides"], kw["padding"], kw["dilations"], kw["groups"])
    r1 = host(C_.conv2d_backward_filter(T(dy, "cuda"), T(x, "cuda"), *args))
    r2 = host(C_.conv2d_backward_filter(T(dy, "cuda"), T(x, "cuda"), *args))
    assert np.array_equal(r1, r2)


@pytest.mark.parametrize("shape", [(1, 1), (7,), (3, 5), (2, 7, 9, 4), (4, 50, 50, 33), (64, 1000), (3000, 3)])
def test_backward_bias_matches_cpu(shape):
    rng = np.random.default_rng(len(shape) * 101 + shape[-1])
    dy = rng.standard_normal(shape).astype(np.float32)
    K = shape[-1]
    ref = host(C_.conv2d_backward_bias(T(dy)))
    got = C_.conv2d_backward_bias(T(dy, "cuda"))
    close(host(got), ref, dy.size // K, "conv2d_backward_bias%s" % (shape,))
    base = rng.standard_normal(K).astype(np.float32)
    out = T(base, "cuda")
    C_.conv2d_backward_bias(T(dy, "cuda"), out=out, accumulate=True)
    close(host(out), ref + base, dy.size // K + 1, "conv2d_backward_bias%s accumulate" % (shape,))
    out2 = T(base, "cuda")
    C_.conv2d_backward_bias(T(dy, "cuda"), out=out2, accumulate=False)
    close(host(out2), ref, dy.size // K, "conv2d_backward_bias%s out=" % (shape,))


def test_random_shapes_all_ops():
    """Fresh random configurations: every op on CUDA against the CPU kernel."""
    rng = np.random.default_rng(12345)
    for it in range(25):
        g = int(rng.choice([1, 1, 2, 3]))
        depthwise = rng.random() < 0.25
        if depthwise:
            C = int(rng.integers(1, 9))
            g = C
            K = C * int(rng.integers(1, 4))
        else:
            C = g * int(rng.integers(1, 6))
            K = g * int(rng.integers(1, 7))
        KH, KW = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        s = [int(rng.integers(1, 4)), int(rng.integers(1, 4))]
        d = [int(rng.integers(1, 3)), int(rng.integers(1, 3))]
        H = int(rng.integers((KH - 1) * d[0] + 1, 16))
        W = int(rng.integers((KW - 1) * d[1] + 1, 16))
        N = int(rng.integers(1, 4))
        pad = ["valid", "same", [int(v) for v in rng.integers(0, 4, 4)]][int(rng.integers(0, 3))]
        kw = dict(strides=s, padding=pad, dilations=d, groups=g)
        x = rng.standard_normal((N, H, W, C)).astype(np.float32)
        w = rng.standard_normal((KH, KW, C // g, K)).astype(np.float32)
        b = rng.standard_normal(K).astype(np.float32) if rng.random() < 0.5 else None
        act = "relu" if rng.random() < 0.5 else "none"
        what = "iter %d %s" % (it, dict(N=N, H=H, W=W, C=C, KH=KH, KW=KW, K=K, **kw))
        ref = host(fwd(x, w, b, act, kw, "cpu"))
        close(host(fwd(x, w, b, act, kw, "cuda")), ref, KH * KW * C // g, "forward " + what)
        dy = rng.standard_normal(ref.shape).astype(np.float32)
        a = (kw["strides"], kw["padding"], kw["dilations"], g)
        rdx = host(C_.conv2d_backward_input(T(dy), T(w), list(x.shape), *a))
        close(host(C_.conv2d_backward_input(T(dy, "cuda"), T(w, "cuda"), list(x.shape), *a)), rdx, KH * KW * K // g,
              "backward_input " + what)
        rdw = host(C_.conv2d_backward_filter(T(dy), T(x), list(w.shape), *a))
        close(host(C_.conv2d_backward_filter(T(dy, "cuda"), T(x, "cuda"), list(w.shape), *a)), rdw,
              dy.size // K, "backward_filter " + what)


def test_nan_propagates():
    x, w, b, act, kw, rng = make("basic")
    x[0, 3, 4, 1] = np.nan
    y = host(fwd(x, w, b, "relu", kw, "cuda"))
    assert np.isnan(y).any()
    ref = host(fwd(x, w, b, "relu", kw, "cpu"))
    assert np.array_equal(np.isnan(y), np.isnan(ref))
