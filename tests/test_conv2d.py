"""conv2d family (forward, backward_input, backward_filter, backward_bias) against
the float64 reference (tests/reference_conv.py), finite differences of the
reference forward, PyTorch as a second opinion for the tf.nn wrappers, and bad
inputs. Outputs are NaN-poisoned (conftest), so unwritten elements fail."""
import numpy as np
import pytest

import pyconvnet as pcn
import reference_conv as ref
from gradcheck import assert_grad_close, numeric_grad, sample_indices
from tolerance import assert_close, scaled_tol

C_ = pcn._C


def T(a):
    return pcn.tensor(np.ascontiguousarray(a, dtype=np.float32))


# (N,H,W,C, KH,KW,K, strides, padding, dilations, groups, bias, activation)
CASES = {
    "basic": (2, 7, 9, 3, 3, 3, 4, (1, 1), "valid", (1, 1), 1, True, "none"),
    "batch1_one_channel_same": (1, 6, 5, 1, 3, 2, 2, (1, 1), "same", (1, 1), 1, False, "none"),
    "nonsquare_odd": (3, 11, 7, 5, 2, 4, 6, (2, 3), "valid", (1, 1), 1, True, "relu"),
    "stride_gt_kernel": (2, 9, 10, 3, 2, 2, 4, (3, 4), "valid", (1, 1), 1, False, "none"),
    "stride_gt_kernel_same": (2, 9, 10, 3, 1, 2, 4, (3, 3), "SAME", (1, 1), 1, True, "none"),
    "explicit_pad_gt_kernel": (1, 5, 6, 2, 2, 3, 3, (1, 2), [4, 3, 5, 2], (1, 1), 1, True, "relu"),
    "same_even_kernel_stride2": (2, 8, 9, 3, 4, 2, 5, (2, 2), "same", (1, 1), 1, False, "none"),
    "same_even_kernel_stride1": (1, 7, 6, 2, 2, 4, 3, (1, 1), "same", (1, 1), 1, True, "none"),
    "dilation_stride": (2, 13, 12, 3, 3, 2, 4, (2, 3), "valid", (2, 3), 1, False, "none"),
    "dilation_same": (1, 9, 9, 2, 3, 3, 3, (1, 1), "same", (2, 2), 1, True, "relu"),
    "groups2": (2, 7, 8, 4, 3, 3, 6, (1, 1), "same", (1, 1), 2, True, "none"),
    "groups3_strided_explicit": (1, 9, 7, 6, 3, 2, 3, (2, 1), [1, 2, 0, 1], (1, 1), 3, False, "none"),
    "depthwise": (2, 8, 7, 5, 3, 3, 5, (1, 1), "same", (1, 1), 5, True, "relu"),
    "depthwise_mult2_stride2": (2, 9, 8, 4, 3, 2, 8, (2, 2), "same", (1, 1), 4, False, "none"),
    "depthwise_mult2_dilated_explicit": (1, 10, 9, 3, 3, 3, 6, (1, 2), [2, 1, 0, 3], (2, 1), 3, True, "none"),
    "depthwise_stride_gt_kernel": (2, 10, 9, 3, 2, 2, 3, (3, 4), "valid", (1, 1), 3, False, "none"),
    # register-blocked m == 1 path (C a multiple of every vector width): channel blocks
    # of 4 vectors + single vectors, interior column blocks + edges, stride-1 bwd-input
    "depthwise_c80_blocked": (2, 9, 15, 80, 3, 3, 80, (1, 1), "same", (1, 1), 80, True, "relu"),
    "depthwise_c32_dilated_explicit": (1, 10, 17, 32, 3, 2, 32, (1, 1), [2, 0, 1, 3], (2, 3), 32, False, "none"),
    "depthwise_c16_stride2": (2, 11, 16, 16, 3, 3, 16, (2, 2), "same", (1, 1), 16, True, "none"),
    "one_channel_many_filters": (2, 8, 8, 1, 3, 3, 16, (1, 1), "same", (1, 1), 1, True, "relu"),
    "pointwise": (2, 5, 6, 7, 1, 1, 9, (1, 1), "valid", (1, 1), 1, True, "relu"),
    "pointwise_groups2": (2, 5, 4, 6, 1, 1, 4, (1, 1), "valid", (1, 1), 2, False, "none"),
    "pointwise_stride2": (2, 7, 7, 4, 1, 1, 5, (2, 2), "valid", (1, 1), 1, True, "none"),
    "pointwise_padded": (1, 4, 4, 3, 1, 1, 2, (1, 1), [1, 0, 2, 1], (1, 1), 1, False, "none"),
    "kernel_equals_input": (1, 5, 4, 3, 5, 4, 2, (1, 1), "valid", (1, 1), 1, True, "none"),
    "multi_tile": (4, 12, 12, 256, 3, 3, 16, (1, 1), "same", (1, 1), 1, True, "none"),
    "multi_tile_groups": (3, 10, 10, 128, 3, 3, 8, (1, 1), "same", (1, 1), 2, False, "none"),
    "batch1_wide": (1, 12, 12, 64, 3, 3, 8, (1, 1), "same", (1, 1), 1, True, "none"),  # N < threads
    # first layers (groups 1, C <= 4): the direct kernels of isa/conv2d_small.cpp.
    # K = 64 / 96 / 6 / 21 / 40 cover full vectors, several K blocks and partial
    # vectors on every SIMD width; OW covers whole pixel blocks and tails.
    "first_c1_k64_7x7_same": (2, 11, 10, 1, 7, 7, 64, (1, 1), "same", (1, 1), 1, True, "relu"),
    "first_c3_k96_stride": (2, 23, 19, 3, 5, 5, 96, (4, 3), "valid", (1, 1), 1, True, "none"),
    "first_c1_k6_valid": (3, 12, 13, 1, 5, 5, 6, (1, 1), "valid", (1, 1), 1, False, "relu"),
    "first_c2_dilated_pad": (1, 9, 11, 2, 3, 2, 21, (2, 1), [2, 3, 4, 1], (2, 3), 1, True, "none"),
    "first_c4_k40_same_s12": (2, 8, 9, 4, 3, 3, 40, (1, 2), "same", (1, 1), 1, False, "relu"),
    "first_c1_wide_pad_gt_kernel": (1, 3, 40, 1, 2, 3, 17, (1, 1), [3, 2, 5, 4], (1, 1), 1, True, "none"),
    # C == 1 with K = 200: the CUDA direct kernel's (conv_fwd_c1) partial thread groups
    "first_c1_k200_strided_dilated": (2, 15, 13, 1, 3, 3, 200, (2, 1), "same", (1, 2), 1, True, "relu"),
    # K <= 8, C == 1, stride_w 1: vectors over 16 output pixels (AVX-512), 2 full + a tail
    "first_c1_k5_pixel_vectors": (2, 9, 37, 1, 3, 3, 5, (2, 1), "same", (1, 2), 1, True, "relu"),
    "first_c1_k8_pixel_vectors": (1, 6, 20, 1, 2, 4, 8, (1, 1), "valid", (1, 1), 1, False, "none"),
    # W > 64: the backward-input gather's second 64-column chunk and a 6-column tail
    "first_c1_k4_wide_rows": (2, 4, 70, 1, 3, 3, 4, (1, 1), "same", (1, 1), 1, True, "none"),
    # groups 1, C >= 5, not 1x1/s1: the direct kernels of isa/conv2d_direct.cpp (forward,
    # stride-1 backward-input as a forward of dy, backward-filter). C in {5, 6, 16, 17, 64},
    # K in {1, 15, 16, 33, 64, 100}: full and partial vectors, several K blocks; OW 56 / 14
    # / 7 give several pixel blocks, a 7 + 7 split and one block; dilation 2 takes the
    # per-kw (not flattened) tap loop; negative derived padding (pad > kernel) a crop.
    "direct_c5_k1_valid": (2, 6, 7, 5, 3, 3, 1, (1, 1), "valid", (1, 1), 1, True, "relu"),
    "direct_c6_k16_lenet_c3": (3, 14, 14, 6, 5, 5, 16, (1, 1), "valid", (1, 1), 1, True, "relu"),
    "direct_c16_k15_same": (2, 9, 8, 16, 3, 3, 15, (1, 1), "same", (1, 1), 1, True, "none"),
    "direct_c17_k33_stride2_same": (2, 11, 13, 17, 3, 3, 33, (2, 2), "same", (1, 1), 1, False, "relu"),
    "direct_c64_k64_14_same": (1, 14, 14, 64, 3, 3, 64, (1, 1), "same", (1, 1), 1, True, "relu"),
    "direct_c16_k48_7_same_batch1": (1, 7, 7, 16, 3, 3, 48, (1, 1), "same", (1, 1), 1, True, "none"),
    "direct_c8_k100_wide56": (1, 3, 56, 8, 3, 3, 100, (1, 1), "same", (1, 1), 1, False, "none"),
    "direct_c16_k16_dilation2": (2, 12, 11, 16, 3, 3, 16, (1, 1), "same", (2, 2), 1, False, "relu"),
    "direct_c5_k33_pad_gt_kernel": (1, 6, 9, 5, 2, 3, 33, (1, 1), [3, 1, 4, 0], (1, 1), 1, True, "none"),
    "direct_c17_k15_dil_stride_explicit": (2, 13, 12, 17, 3, 2, 15, (2, 3), [1, 2, 0, 1], (2, 3), 1, True, "none"),
    "direct_c6_k6_kernel_equals_input_nonsquare": (2, 5, 4, 6, 5, 4, 6, (1, 1), "valid", (1, 1), 1, False, "none"),
    "direct_c32_k40_1x1_stride2": (2, 9, 9, 32, 1, 1, 40, (2, 2), "valid", (1, 1), 1, True, "relu"),
    "direct_c5_k7_asym_dilated": (1, 10, 11, 5, 3, 3, 7, (1, 1), [0, 3, 2, 1], (1, 2), 1, True, "none"),
    # backward-input per stride phase: stride 2 with dilation 2 / 3 (phases with all or no
    # taps, step 1 and 2), stride 3 > kernel (empty phases), 1x1 stride 2
    "direct_c16_k20_stride2_dil2": (2, 11, 10, 16, 3, 3, 20, (2, 2), "same", (2, 2), 1, False, "none"),
    "direct_c20_k17_stride23_dil3": (1, 13, 14, 20, 3, 3, 17, (2, 3), [2, 1, 3, 0], (3, 2), 1, True, "none"),
    "direct_c16_k8_stride3_gt_kernel": (2, 10, 11, 16, 2, 2, 8, (3, 3), "valid", (1, 1), 1, False, "none"),
    "direct_c64_k32_1x1_stride2_same": (1, 9, 8, 64, 1, 1, 32, (2, 2), "same", (1, 1), 1, False, "none"),
}
FIRST_CASES = [k for k in CASES if k.startswith("first_")]
DIRECT_CASES = [k for k in CASES if k.startswith("direct_")]
DW_CASES = [k for k in CASES if k.startswith("depthwise") or k == "one_channel_many_filters"]


def make(case, seed=0):
    N, H, W, C, KH, KW, K, s, pad, d, g, bias, act = CASES[case]
    rng = np.random.default_rng(sum(map(ord, case)) * 7919 + seed)  # the same data in every run
    x = rng.standard_normal((N, H, W, C)).astype(np.float32)
    w = rng.standard_normal((KH, KW, C // g, K)).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32) if bias else None
    kw = dict(strides=list(s), padding=pad, dilations=list(d), groups=g)
    return x, w, b, act, kw


def fwd(x, w, b=None, act="none", **kw):
    return C_.conv2d_forward(T(x), T(w), None if b is None else T(b), kw["strides"], kw["padding"],
                             kw["dilations"], kw["groups"], act).numpy()


def red(w, kw):
    return w.shape[0] * w.shape[1] * w.shape[2]


@pytest.mark.parametrize("case", list(CASES))
def test_forward_matches_reference(case):
    x, w, b, act, kw = make(case)
    r = ref.conv2d_forward(x, w, b, activation=act, **kw)
    assert_close(fwd(x, w, b, act, **kw), r, rtol=1e-4, atol=scaled_tol(r, red(w, kw)))


@pytest.mark.parametrize("case", DW_CASES + FIRST_CASES + DIRECT_CASES + ["basic", "groups2", "pointwise"])
def test_every_simd_path(simd, case):
    x, w, b, act, kw = make(case, seed=1)
    r = ref.conv2d_forward(x, w, b, activation=act, **kw)
    assert_close(fwd(x, w, b, act, **kw), r, rtol=1e-4, atol=scaled_tol(r, red(w, kw)))
    dy = np.random.default_rng(2).standard_normal(r.shape).astype(np.float32)
    dx = C_.conv2d_backward_input(T(dy), T(w), list(x.shape), **kw).numpy()
    rdx = ref.conv2d_backward_input(dy, w, x.shape, **kw)
    assert_close(dx, rdx, rtol=1e-4, atol=scaled_tol(rdx, w.shape[0] * w.shape[1] * w.shape[3]))
    dw = C_.conv2d_backward_filter(T(dy), T(x), list(w.shape), **kw).numpy()
    rdw = ref.conv2d_backward_filter(dy, x, w.shape, **kw)
    assert_close(dw, rdw, rtol=1e-4, atol=scaled_tol(rdw, dy.size // dy.shape[3]))


@pytest.mark.parametrize("case", list(CASES))
def test_backward_input_matches_reference(case):
    x, w, _, _, kw = make(case)
    N, H, W_, C = x.shape
    OH, OW = ref.conv2d_resolve(H, W_, w.shape[0], w.shape[1], kw["strides"], kw["padding"], kw["dilations"])[4:]
    dy = np.random.default_rng(3).standard_normal((N, OH, OW, w.shape[3])).astype(np.float32)
    dx = C_.conv2d_backward_input(T(dy), T(w), list(x.shape), **kw).numpy()
    r = ref.conv2d_backward_input(dy, w, x.shape, **kw)
    assert_close(dx, r, rtol=1e-4, atol=scaled_tol(r, w.shape[0] * w.shape[1] * w.shape[3]))


@pytest.mark.parametrize("case", list(CASES))
def test_backward_filter_and_bias_match_reference(case):
    x, w, _, _, kw = make(case)
    N, H, W_, C = x.shape
    OH, OW = ref.conv2d_resolve(H, W_, w.shape[0], w.shape[1], kw["strides"], kw["padding"], kw["dilations"])[4:]
    dy = np.random.default_rng(4).standard_normal((N, OH, OW, w.shape[3])).astype(np.float32)
    dw = C_.conv2d_backward_filter(T(dy), T(x), list(w.shape), **kw).numpy()
    r = ref.conv2d_backward_filter(dy, x, w.shape, **kw)
    assert_close(dw, r, rtol=1e-4, atol=scaled_tol(r, N * OH * OW))
    db = C_.conv2d_backward_bias(T(dy)).numpy()
    rb = ref.conv2d_backward_bias(dy)
    assert_close(db, rb, rtol=1e-5, atol=scaled_tol(rb, N * OH * OW))


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("case", ["multi_tile", "groups2", "depthwise_mult2_stride2", "pointwise", "batch1_wide",
                                  "first_c3_k96_stride", "first_c1_k6_valid", "direct_c64_k64_14_same",
                                  "direct_c8_k100_wide56"])
def test_thread_counts_and_determinism(threads, case):
    prev = pcn.get_num_threads()
    pcn.set_num_threads(threads)
    try:
        x, w, b, act, kw = make(case, seed=5)
        y = fwd(x, w, b, act, **kw)
        r = ref.conv2d_forward(x, w, b, activation=act, **kw)
        assert_close(y, r, rtol=1e-4, atol=scaled_tol(r, red(w, kw)))
        dy = np.random.default_rng(6).standard_normal(r.shape).astype(np.float32)
        outs = []
        for _ in range(2):
            outs.append((C_.conv2d_backward_input(T(dy), T(w), list(x.shape), **kw).numpy().copy(),
                         C_.conv2d_backward_filter(T(dy), T(x), list(w.shape), **kw).numpy().copy(),
                         C_.conv2d_backward_bias(T(dy)).numpy().copy()))
        for a, c in zip(outs[0], outs[1]):
            np.testing.assert_array_equal(a, c)  # bitwise deterministic
        rdx = ref.conv2d_backward_input(dy, w, x.shape, **kw)
        assert_close(outs[0][0], rdx, rtol=1e-4, atol=scaled_tol(rdx, w.shape[0] * w.shape[1] * w.shape[3]))
        rdw = ref.conv2d_backward_filter(dy, x, w.shape, **kw)
        assert_close(outs[0][1], rdw, rtol=1e-4, atol=scaled_tol(rdw, dy.size // dy.shape[3]))
    finally:
        pcn.set_num_threads(prev)


# ---------------------------------------------------------------- gradient checks
GRAD_CASES = {
    "basic": (1, 4, 5, 2, 2, 3, 3, (1, 1), "valid", (1, 1), 1),
    "stride_gt_kernel": (1, 5, 6, 1, 1, 2, 2, (3, 2), "valid", (1, 1), 1),
    "same_even_stride2": (2, 4, 5, 2, 2, 2, 2, (2, 2), "same", (1, 1), 1),
    "dilation_stride": (1, 6, 6, 1, 2, 2, 2, (2, 2), "valid", (2, 2), 1),
    "groups2": (1, 4, 4, 4, 2, 2, 4, (1, 1), "same", (1, 1), 2),
    "depthwise_mult2": (1, 4, 5, 3, 2, 2, 6, (1, 1), "same", (1, 1), 3),
    "explicit_pad_gt_kernel": (1, 3, 3, 1, 2, 2, 2, (1, 1), [3, 2, 1, 3], (1, 1), 1),
    "pointwise": (2, 3, 2, 3, 1, 1, 2, (1, 1), "valid", (1, 1), 1),
    # first-layer kernels: K spans a full vector plus a partial one on every SIMD width
    "first_c1_k20_same": (1, 5, 6, 1, 3, 3, 20, (1, 1), "same", (1, 1), 1),
    "first_c3_k17_dilated_explicit": (2, 6, 5, 3, 2, 2, 17, (1, 2), [1, 2, 0, 1], (2, 1), 1),
    "first_c1_k3_pixel_vectors": (1, 4, 19, 1, 2, 2, 3, (1, 1), [1, 0, 1, 1], (1, 2), 1),
    # direct kernels (C >= 5): stride 1 (dx through the rotated-filter forward), stride 2,
    # dilation + explicit padding larger than the kernel
    "direct_c5_k17_same": (1, 4, 5, 5, 3, 3, 17, (1, 1), "same", (1, 1), 1),
    "direct_c6_k3_stride2": (2, 5, 4, 6, 2, 3, 3, (2, 2), "same", (1, 1), 1),
    "direct_c5_k2_dilated_pad_gt_kernel": (1, 4, 5, 5, 2, 2, 2, (1, 1), [3, 1, 0, 3], (2, 2), 1),
    # C >= 16: backward-input per stride phase (3x3/2 same; stride 3 > kernel 2: empty phases)
    "direct_c16_k3_stride2_same": (1, 5, 6, 16, 3, 3, 3, (2, 2), "same", (1, 1), 1),
    "direct_c16_k2_stride3_gt_kernel": (1, 7, 5, 16, 2, 2, 2, (3, 2), "valid", (1, 1), 1),
}


@pytest.mark.parametrize("case", [k for k in GRAD_CASES if k.startswith(("first_", "direct_"))])
def test_gradcheck_first_layer_kernels_every_simd_path(simd, case):
    test_gradcheck_exhaustive(case)


@pytest.mark.parametrize("case", list(GRAD_CASES))
def test_gradcheck_exhaustive(case):
    N, H, W, C, KH, KW, K, s, pad, d, g = GRAD_CASES[case]
    kw = dict(strides=list(s), padding=pad, dilations=list(d), groups=g)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((N, H, W, C)).astype(np.float32)
    w = rng.standard_normal((KH, KW, C // g, K)).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32)
    y = ref.conv2d_forward(x, w, b, **kw)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    ndx = numeric_grad(lambda v: ref.conv2d_forward(v, w, b, **kw), x, dy)
    assert_grad_close(C_.conv2d_backward_input(T(dy), T(w), list(x.shape), **kw).numpy(), ndx, what="dx")
    ndw = numeric_grad(lambda v: ref.conv2d_forward(x, v, b, **kw), w, dy)
    assert_grad_close(C_.conv2d_backward_filter(T(dy), T(x), list(w.shape), **kw).numpy(), ndw, what="dw")
    ndb = numeric_grad(lambda v: ref.conv2d_forward(x, w, v, **kw), b, dy)
    assert_grad_close(C_.conv2d_backward_bias(T(dy)).numpy(), ndb, what="db")


def test_gradcheck_sampled_larger():
    N, H, W, C, KH, KW, K = 2, 9, 8, 6, 3, 3, 6
    kw = dict(strides=[2, 1], padding="same", dilations=[1, 2], groups=2)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((N, H, W, C)).astype(np.float32)
    w = rng.standard_normal((KH, KW, C // 2, K)).astype(np.float32)
    y = ref.conv2d_forward(x, w, **kw)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    ndx = numeric_grad(lambda v: ref.conv2d_forward(v, w, **kw), x, dy, indices=sample_indices(x.size, 30))
    assert_grad_close(C_.conv2d_backward_input(T(dy), T(w), list(x.shape), **kw).numpy(), ndx, what="dx")
    ndw = numeric_grad(lambda v: ref.conv2d_forward(x, v, **kw), w, dy, indices=sample_indices(w.size, 30))
    assert_grad_close(C_.conv2d_backward_filter(T(dy), T(x), list(w.shape), **kw).numpy(), ndw, what="dw")


def test_gradcheck_sampled_depthwise_blocked_every_simd_path(simd):
    # the register-blocked depthwise path (C a multiple of 16), sampled finite differences
    N, H, W, C, KH, KW = 1, 4, 9, 16, 3, 3
    kw = dict(strides=[1, 1], padding="same", dilations=[1, 1], groups=C)
    rng = np.random.default_rng(9)
    x = rng.standard_normal((N, H, W, C)).astype(np.float32)
    w = rng.standard_normal((KH, KW, 1, C)).astype(np.float32)
    y = ref.conv2d_forward(x, w, **kw)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    ndx = numeric_grad(lambda v: ref.conv2d_forward(v, w, **kw), x, dy, indices=sample_indices(x.size, 12))
    assert_grad_close(C_.conv2d_backward_input(T(dy), T(w), list(x.shape), **kw).numpy(), ndx, what="dx")
    ndw = numeric_grad(lambda v: ref.conv2d_forward(x, v, **kw), w, dy, indices=sample_indices(w.size, 12))
    assert_grad_close(C_.conv2d_backward_filter(T(dy), T(x), list(w.shape), **kw).numpy(), ndw, what="dw")


def test_backward_input_stride_gt_kernel_writes_zeros():
    # stride 3 > kernel 1: two of every three rows/cols of dx get no gradient (exact zeros, not NaN)
    w = np.ones((1, 1, 2, 3), np.float32)
    dy = np.ones((1, 3, 3, 3), np.float32)
    dx = C_.conv2d_backward_input(T(dy), T(w), [1, 9, 9, 2], [3, 3], "valid", [1, 1], 1).numpy()
    expect = np.zeros((1, 9, 9, 2), np.float32)
    expect[:, ::3, ::3, :] = 3.0
    np.testing.assert_array_equal(dx, expect)


# ---------------------------------------------------------------- out= / accumulate
@pytest.mark.parametrize("case", ["basic", "pointwise", "depthwise_mult2_stride2", "multi_tile_groups",
                                  "direct_c17_k33_stride2_same", "direct_c64_k64_14_same"])
def test_backward_filter_accumulate_adds(case):
    x, w, _, _, kw = make(case)
    y = ref.conv2d_forward(x, w, **kw)
    dy = np.random.default_rng(9).standard_normal(y.shape).astype(np.float32)
    base = np.random.default_rng(10).standard_normal(w.shape).astype(np.float32)
    out = T(base)
    got = C_.conv2d_backward_filter(T(dy), T(x), list(w.shape), **kw, out=out, accumulate=True)
    r = base + ref.conv2d_backward_filter(dy, x, w.shape, **kw)
    assert_close(out.numpy(), r, rtol=1e-4, atol=scaled_tol(r, dy.size // dy.shape[3]))
    assert_close(got.numpy(), r, rtol=1e-4, atol=scaled_tol(r, dy.size // dy.shape[3]))
    # out= without accumulate overwrites (even NaN contents)
    out2 = T(np.full(w.shape, np.nan, np.float32))
    C_.conv2d_backward_filter(T(dy), T(x), list(w.shape), **kw, out=out2, accumulate=False)
    r2 = ref.conv2d_backward_filter(dy, x, w.shape, **kw)
    assert_close(out2.numpy(), r2, rtol=1e-4, atol=scaled_tol(r2, dy.size // dy.shape[3]))


@pytest.mark.parametrize("shape", [(7,), (5, 3), (2, 3, 4), (2, 3, 4, 5), (300, 200)])
def test_backward_bias_any_rank_and_accumulate(shape):
    rng = np.random.default_rng(11)
    dy = rng.standard_normal(shape).astype(np.float32)
    r = ref.conv2d_backward_bias(dy)
    assert_close(C_.conv2d_backward_bias(T(dy)).numpy(), r, rtol=1e-5, atol=1e-5)
    base = rng.standard_normal(shape[-1]).astype(np.float32)
    out = T(base)
    C_.conv2d_backward_bias(T(dy), out=out, accumulate=True)
    assert_close(out.numpy(), base + r, rtol=1e-5, atol=1e-5)


def test_accumulate_without_out_is_an_error():
    with pytest.raises(ValueError, match="conv2d"):
        C_.conv2d_backward_bias(T(np.ones((2, 3))), accumulate=True)
    with pytest.raises(ValueError, match="conv2d"):
        C_.conv2d_backward_filter(T(np.ones((1, 2, 2, 1))), T(np.ones((1, 2, 2, 1))), [1, 1, 1, 1],
                                  accumulate=True)


# ---------------------------------------------------------------- NaN
@pytest.mark.parametrize("case", ["basic", "dilation_stride", "groups2", "depthwise_mult2_stride2", "pointwise",
                                  "explicit_pad_gt_kernel"])
def test_nan_propagates_to_exactly_its_windows(case):
    x, w, _, _, kw = make(case)
    w = np.where(w == 0, 1.0, w).astype(np.float32)
    n, i, j, c = (x.shape[0] - 1, x.shape[1] // 2, x.shape[2] // 2, x.shape[3] - 1)
    x[n, i, j, c] = np.nan
    y = fwd(x, w, **kw)
    ind = np.zeros(x.shape)
    ind[n, i, j, c] = 1.0
    touched = ref.conv2d_forward(ind, np.ones(w.shape), **kw) > 0
    np.testing.assert_array_equal(np.isnan(y), touched)
    assert touched.any()


# ---------------------------------------------------------------- tf.nn wrappers vs torch
try:  # torch is a second opinion only; without it these tests skip, the rest still run
    import torch
    F = torch.nn.functional
except ImportError:  # pragma: no cover
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed")


def torch_conv(x, w, strides, pads, dil, groups):
    """x NHWC, w HWIO, pads (t,b,l,r) -> NHWC via torch (NCHW)."""
    xt = torch.tensor(np.asarray(x, np.float64)).permute(0, 3, 1, 2)
    xt = F.pad(xt, (pads[2], pads[3], pads[0], pads[1]))
    wt = torch.tensor(np.asarray(w, np.float64)).permute(3, 2, 0, 1)
    return F.conv2d(xt, wt, stride=strides, dilation=dil, groups=groups).permute(0, 2, 3, 1).numpy()


@needs_torch
@pytest.mark.parametrize("strides,padding,dil,groups", [
    ([1, 2, 2, 1], "SAME", None, 1),
    (2, [[0, 0], [1, 2], [3, 0], [0, 0]], 1, 1),
    ((1, 3), "VALID", [1, 2, 2, 1], 2),
    (1, [2, 1, 1, 2], (2, 1), 3),
])
def test_nn_conv2d_vs_torch(strides, padding, dil, groups):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 9, 10, 6)).astype(np.float32)
    w = rng.standard_normal((3, 2, 6 // groups, 6)).astype(np.float32)
    y = pcn.nn.conv2d(x, w, strides=strides, padding=padding, dilations=dil)
    assert isinstance(y, np.ndarray)
    s = pcn.nn.conv._hw(strides, "s", "t")
    d = pcn.nn.conv._hw(dil, "d", "t")
    p = pcn.nn.conv._padding(padding, "t")
    pads = ref.conv2d_resolve(9, 10, 3, 2, s, p, d)[:4]
    r = torch_conv(x, w, s, pads, d, groups)
    assert_close(y, r, rtol=1e-4, atol=1e-4)
    # Tensor in -> Tensor out
    yt = pcn.nn.conv2d(pcn.tensor(x), w, strides=strides, padding=padding, dilations=dil)
    assert isinstance(yt, pcn.Tensor)


@needs_torch
def test_nn_depthwise_channel_order_vs_torch():
    rng = np.random.default_rng(13)
    C, M = 3, 2
    x = rng.standard_normal((2, 8, 7, C)).astype(np.float32)
    f = rng.standard_normal((3, 3, C, M)).astype(np.float32)
    y = pcn.nn.depthwise_conv2d(x, f, strides=[1, 2, 2, 1], padding="SAME")
    pads = ref.conv2d_resolve(8, 7, 3, 3, (2, 2), "same", (1, 1))[:4]
    # torch depthwise: weight (C*M, 1, kh, kw), output channel c*M + m uses input channel c (TF order)
    w_hwio = f.reshape(3, 3, 1, C * M)
    r = torch_conv(x, w_hwio, (2, 2), pads, (1, 1), C)
    assert_close(y, r, rtol=1e-4, atol=1e-4)


def test_nn_depthwise_channel_order_vs_reference():
    # TF order without torch: output channel c*M+m == conv of input channel c with f[..., c, m]
    rng = np.random.default_rng(17)
    C, M = 3, 2
    x = rng.standard_normal((2, 7, 6, C)).astype(np.float32)
    f = rng.standard_normal((2, 3, C, M)).astype(np.float32)
    y = pcn.nn.depthwise_conv2d(x, f, strides=[1, 1, 2, 1], padding="SAME", dilations=[2, 1])
    for c in range(C):
        for m in range(M):
            one = ref.conv2d_forward(x[..., c:c + 1], f[:, :, c:c + 1, m:m + 1], strides=(1, 2), padding="same",
                                     dilations=(2, 1))
            assert_close(y[..., c * M + m], one[..., 0], rtol=1e-4, atol=1e-4)


@needs_torch
def test_nn_backprops_vs_torch_autograd():
    rng = np.random.default_rng(14)
    x = rng.standard_normal((2, 9, 8, 4)).astype(np.float32)
    w = rng.standard_normal((3, 2, 2, 6)).astype(np.float32)  # groups inferred = 2
    pads = ref.conv2d_resolve(9, 8, 3, 2, (2, 2), "same", (1, 1))[:4]
    xt = torch.tensor(x.astype(np.float64)).permute(0, 3, 1, 2).requires_grad_()
    wt = torch.tensor(w.astype(np.float64)).permute(3, 2, 0, 1).requires_grad_()
    yt = F.conv2d(F.pad(xt, (pads[2], pads[3], pads[0], pads[1])), wt, stride=2, groups=2)
    dy = rng.standard_normal(tuple(yt.permute(0, 2, 3, 1).shape)).astype(np.float32)
    yt.backward(torch.tensor(dy.astype(np.float64)).permute(0, 3, 1, 2))
    dx = pcn.nn.conv2d_backprop_input(x.shape, w, dy, strides=[1, 2, 2, 1], padding="SAME")
    assert_close(dx, xt.grad.permute(0, 2, 3, 1).numpy(), rtol=1e-4, atol=1e-4)
    dw = pcn.nn.conv2d_backprop_filter(x, w.shape, dy, strides=2, padding="SAME")
    assert_close(dw, wt.grad.permute(2, 3, 1, 0).numpy(), rtol=1e-4, atol=1e-4)
    dt = pcn.nn.conv2d_transpose(dy, w, x.shape, strides=2, padding="SAME")
    assert_close(dt, dx, rtol=1e-6, atol=1e-6)
    # dilations positional right after padding; Tensor in -> Tensor out
    dxd = pcn.nn.conv2d_backprop_input(list(x.shape), pcn.tensor(w), pcn.tensor(dy), [1, 2, 2, 1], "SAME", 1)
    assert isinstance(dxd, pcn.Tensor)
    assert_close(dxd.numpy(), dx, rtol=0, atol=0)


def test_nn_groups_inference_errors():
    x = np.ones((1, 5, 5, 6), np.float32)
    with pytest.raises(ValueError, match="conv2d"):
        pcn.nn.conv2d(x, np.ones((3, 3, 4, 2), np.float32), 1, "SAME")
    with pytest.raises(ValueError, match="conv2d"):
        pcn.nn.conv2d(x, np.ones((3, 3, 6, 2), np.float32), [2, 2, 2, 2], "SAME")
    with pytest.raises(ValueError, match="conv2d"):
        pcn.nn.conv2d(x, np.ones((3, 3, 6, 2), np.float32), 1, [[1, 0], [1, 1], [1, 1], [0, 0]])
    with pytest.raises(ValueError, match="conv2d"):
        pcn.nn.conv2d(x, np.ones((3, 3, 6, 2), np.float32), 1, "FULL")
    with pytest.raises(ValueError, match="conv2d"):
        pcn.nn.depthwise_conv2d(x, np.ones((3, 3, 5, 2), np.float32), [1, 1, 1, 1], "SAME")
    with pytest.raises(TypeError, match="conv2d"):
        pcn.nn.conv2d(np.array([["a"]]), np.ones((3, 3, 6, 2), np.float32), 1, "SAME")


# ---------------------------------------------------------------- bad inputs
def _x(*s):
    # from_numpy: pcn.tensor() of a zero-size array trips Tensor.is_contiguous (shared code)
    return pcn.from_numpy(np.ones(s, np.float32))


BIG = 1 << 21
BAD = {
    "x_rank3": (lambda: C_.conv2d_forward(_x(5, 5, 3), _x(3, 3, 3, 2)), ValueError),
    "w_rank5": (lambda: C_.conv2d_forward(_x(1, 5, 5, 3), _x(1, 3, 3, 3, 2)), ValueError),
    "channels_mismatch": (lambda: C_.conv2d_forward(_x(1, 5, 5, 3), _x(3, 3, 2, 2)), ValueError),
    "groups_not_dividing_C": (lambda: C_.conv2d_forward(_x(1, 5, 5, 4), _x(3, 3, 2, 3), groups=3), ValueError),
    "groups_not_dividing_K": (lambda: C_.conv2d_forward(_x(1, 5, 5, 4), _x(3, 3, 2, 3), groups=2), ValueError),
    "groups_zero": (lambda: C_.conv2d_forward(_x(1, 5, 5, 4), _x(3, 3, 2, 3), groups=0), ValueError),
    "bias_shape": (lambda: C_.conv2d_forward(_x(1, 5, 5, 3), _x(3, 3, 3, 2), _x(3)), ValueError),
    "stride_zero": (lambda: C_.conv2d_forward(_x(1, 5, 5, 3), _x(3, 3, 3, 2), strides=[0, 1]), ValueError),
    "dilation_negative": (lambda: C_.conv2d_forward(_x(1, 5, 5, 3), _x(3, 3, 3, 2), dilations=[1, -2]),
                          ValueError),
    "strides_3_values": (lambda: C_.conv2d_forward(_x(1, 5, 5, 3), _x(3, 3, 3, 2), strides=[1, 1, 1]), ValueError),
    "kernel_gt_input_valid": (lambda: C_.conv2d_forward(_x(1, 2, 5, 3), _x(3, 3, 3, 2)), ValueError),
    "dilated_kernel_gt_input_valid": (lambda: C_.conv2d_forward(_x(1, 5, 5, 3), _x(3, 3, 3, 2), dilations=[3, 1]),
                                      ValueError),
    "explicit_pad_negative": (lambda: C_.conv2d_forward(_x(1, 5, 5, 3), _x(3, 3, 3, 2), padding=[1, -1, 0, 0]),
                              ValueError),
    "explicit_pad_3_values": (lambda: C_.conv2d_forward(_x(1, 5, 5, 3), _x(3, 3, 3, 2), padding=[1, 1, 0]),
                              ValueError),
    "padding_unknown": (lambda: C_.conv2d_forward(_x(1, 5, 5, 3), _x(3, 3, 3, 2), padding="full"), ValueError),
    "activation_unknown": (lambda: C_.conv2d_forward(_x(1, 5, 5, 3), _x(3, 3, 3, 2), activation="tanh"), ValueError),
    "zero_batch": (lambda: C_.conv2d_forward(_x(0, 5, 5, 3), _x(3, 3, 3, 2)), ValueError),
    "zero_filters": (lambda: C_.conv2d_forward(_x(1, 5, 5, 3), _x(3, 3, 3, 0)), ValueError),
    "x_int32": (lambda: C_.conv2d_forward(pcn.tensor(np.ones((1, 5, 5, 3), np.int32)), _x(3, 3, 3, 2)), TypeError),
    "w_int64": (lambda: C_.conv2d_forward(_x(1, 5, 5, 3), pcn.tensor(np.ones((3, 3, 3, 2), np.int64))), TypeError),
    "output_overflow": (lambda: C_.conv2d_forward(_x(1, 1, 1, 1), _x(1, 1, 1, 1), padding=[BIG, BIG, BIG, BIG]),
                        ValueError),
    "huge_dilation": (lambda: C_.conv2d_forward(_x(1, 5, 5, 1), _x(3, 3, 1, 1), dilations=[1 << 62, 1]),
                      ValueError),
    "bi_dy_shape": (lambda: C_.conv2d_backward_input(_x(1, 4, 4, 2), _x(3, 3, 3, 2), [1, 5, 5, 3]), ValueError),
    "bi_input_shape_negative": (lambda: C_.conv2d_backward_input(_x(1, 3, 3, 2), _x(3, 3, 3, 2), [1, -5, 5, 3]),
                                ValueError),
    "bi_input_shape_rank": (lambda: C_.conv2d_backward_input(_x(1, 3, 3, 2), _x(3, 3, 3, 2), [5, 5, 3]),
                            ValueError),
    "bi_huge_input_shape": (lambda: C_.conv2d_backward_input(_x(1, 1, 1, 1), _x(1, 1, 1, 1),
                                                             [1 << 30, 1 << 30, 1 << 30, 1], [1 << 30, 1 << 30]),
                            ValueError),
    "bi_dtype": (lambda: C_.conv2d_backward_input(pcn.tensor(np.ones((1, 3, 3, 2), np.int32)), _x(3, 3, 3, 2),
                                                  [1, 5, 5, 3]), TypeError),
    "bf_dy_shape": (lambda: C_.conv2d_backward_filter(_x(1, 4, 4, 2), _x(1, 5, 5, 3), [3, 3, 3, 2]), ValueError),
    "bf_filter_channels": (lambda: C_.conv2d_backward_filter(_x(1, 3, 3, 2), _x(1, 5, 5, 3), [3, 3, 2, 2]),
                           ValueError),
    "bf_out_shape": (lambda: C_.conv2d_backward_filter(_x(1, 3, 3, 2), _x(1, 5, 5, 3), [3, 3, 3, 2],
                                                       out=_x(3, 3, 3, 3), accumulate=True), ValueError),
    "bf_huge_im2col": (lambda: C_.conv2d_backward_filter(_x(1, 1, 1, 1), _x(1, 1, 1, 1), [BIG, BIG, 1, 1],
                                                         padding=[BIG, BIG, BIG, BIG]), ValueError),
    "bb_scalar": (lambda: C_.conv2d_backward_bias(pcn.tensor(np.array(1.0, np.float32))), ValueError),
    "bb_out_shape": (lambda: C_.conv2d_backward_bias(_x(2, 3), out=_x(4)), ValueError),
    "bb_dtype": (lambda: C_.conv2d_backward_bias(pcn.tensor(np.ones((2, 3), np.int64))), TypeError),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_inputs(name):
    fn, exc = BAD[name]
    with pytest.raises(exc) as ei:
        fn()
    assert "conv2d" in str(ei.value), str(ei.value)


def test_random_bad_calls_survive():
    rng = np.random.default_rng(15)
    huge = [0, -1, 1 << 20, 1 << 41, 1 << 62]

    def dim(p_huge=0.1):
        if rng.random() < p_huge:
            return int(rng.choice(huge))
        return int(rng.integers(-1, 5))

    n_ok = n_err = 0
    for it in range(400):
        xs = [max(int(rng.integers(0, 4)), 0) for _ in range(4)]
        ws = [max(int(rng.integers(0, 4)), 0) for _ in range(4)]
        rank_x = int(rng.choice([3, 4, 4, 4, 5]))
        x = np.ones(xs[:rank_x] + [1] * max(0, rank_x - 4), np.float32)
        w = np.ones(ws, np.float32)
        strides = [dim(0.05) for _ in range(int(rng.choice([1, 2, 2, 3])))]
        dil = [dim(0.05) for _ in range(int(rng.choice([1, 2, 2])))]
        pad = rng.choice(["valid", "same", "SAME", "bogus", "list"])
        pad = [dim(0.1) for _ in range(int(rng.choice([3, 4, 4])))] if pad == "list" else str(pad)
        groups = int(rng.integers(-1, 4))
        which = it % 3
        x_t, w_t = pcn.from_numpy(x), pcn.from_numpy(w)
        try:
            if which == 0:
                C_.conv2d_forward(x_t, w_t, None, strides, pad, dil, groups, "none")
            elif which == 1:
                shape = [dim(0.15) for _ in range(4)]
                C_.conv2d_backward_input(x_t, w_t, shape, strides, pad, dil, groups)
            else:
                fshape = [dim(0.15) for _ in range(4)]
                C_.conv2d_backward_filter(x_t, x_t, fshape, strides, pad, dil, groups)
            n_ok += 1
        except (ValueError, TypeError) as e:
            assert "conv2d" in str(e), str(e)
            n_err += 1
    assert n_err > 100


def test_non_contiguous_and_converted_inputs():
    rng = np.random.default_rng(16)
    big = rng.standard_normal((2, 10, 7, 6)).astype(np.float32)
    x = big[:, ::2, :, 1::2]                      # strided view: (2, 5, 7, 3)
    w = rng.standard_normal((3, 2, 3, 4))         # float64: converted once by the wrapper
    b = rng.standard_normal(4).astype(np.float32)
    kw = dict(strides=[1, 2], padding="same", dilations=[1, 1], groups=1)
    r = ref.conv2d_forward(x, w.astype(np.float32), b, **kw)
    y = C_.conv2d_forward(pcn.from_numpy(x), T(w), pcn.from_numpy(b[::1]), **kw).numpy()
    assert_close(y, r, rtol=1e-4, atol=scaled_tol(r, 18))
    assert_close(pcn.nn.conv2d(x, w, [1, 1, 2, 1], "SAME"), ref.conv2d_forward(x, w.astype(np.float32), **kw),
                 rtol=1e-4, atol=scaled_tol(r, 18))
    dy = rng.standard_normal((2, 8, 4, 4)).astype(np.float32)[:, ::2]  # (2, 4, 4, 4), strided
    assert_close(C_.conv2d_backward_input(pcn.from_numpy(dy), T(w), [2, 9, 8, 3], [2, 2], "valid").numpy(),
                 ref.conv2d_backward_input(dy, w.astype(np.float32), (2, 9, 8, 3), (2, 2), "valid"),
                 rtol=1e-4, atol=1e-4)
    assert_close(C_.conv2d_backward_bias(pcn.from_numpy(dy)).numpy(), ref.conv2d_backward_bias(dy),
                 rtol=1e-5, atol=1e-5)


def test_relu_is_fused_after_bias():
    x = np.ones((1, 3, 3, 1), np.float32)
    w = np.ones((1, 1, 1, 2), np.float32)
    b = np.array([-2.0, 0.5], np.float32)
    y = C_.conv2d_forward(T(x), T(w), T(b), [1, 1], "valid", [1, 1], 1, "relu").numpy()
    np.testing.assert_array_equal(y[..., 0], 0.0)
    np.testing.assert_array_equal(y[..., 1], 1.5)
