"""sgemm_tc3 (cuda/gemm_kernels.cuh, the v3 tensor-core GEMM picked by cuda/gemm.cu at
matmul precision "high" (TF32) / "medium" (BF16) when lda, ldb % 4 == 0 and A, B are
16-byte aligned) on shapes that reach every path of it: partial block tiles in M and N,
K below one k tile, a partial last k tile (cp.async zero-fill), more k tiles than
pipeline stages, several block rows and columns, odd M (A k-contiguous) / odd N (B
k-contiguous: scalar epilogue), all four transpose combinations, alpha/beta with and
without reading C, K = 0, and the fallbacks (K % 4 != 0 -> v2; PCN_GEMM_TC=v2). BF16
runs both v3 kernels: the default bf16 pre-pass + sgemm_bf16_tc3 (any layout) and, with
PCN_GEMM_TC=v3f, sgemm_tc3<.., true> (fp32 shared memory); TF32 also the v3p experiment
(tf32-rounding pre-pass, PCN_GEMM_TC=v3p).

The reference rounds the operands exactly as the kernel does (cvt.rna.tf32: nearest,
ties away; bf16: nearest even) and multiplies in float64, so the only difference left
is fp32 accumulation: the tolerance is 2e-5 of sum_k |a||b|, 50x tighter than the
unrounded comparison in test_emu_gemm.py (a wrong fragment, swizzle or k permutation
gives errors of order 1).

Run:  EMU_FAMILIES=gemm EMU_TESTS="tests/test_emu_gemm.py $PWD/cuda/emu/test_emu_gemm_tc3.py" cuda/emu/run.sh
(EMU_COVERAGE=1 lists the sgemm_tc3<TA, TB, BF16> instantiations launched). In a plain
CPU build the tests check the CPU kernel against the unrounded product only."""
import ctypes
import os

import numpy as np
import pytest

import pyconvnet as pcn

EMU = hasattr(ctypes.CDLL(pcn._C.__file__), "pcn_emu_test_mma")


def tf32_round(x):
    u = np.ascontiguousarray(x, np.float32).view(np.uint32)
    finite = (u & 0x7F800000) != 0x7F800000
    r = np.where(finite, (u + np.uint32(0x1000)) & np.uint32(0xFFFFE000), u).astype(np.uint32)
    return r.view(np.float32)


def bf16_round(x):
    u = np.ascontiguousarray(x, np.float32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    return r.astype(np.uint32).view(np.float32)


@pytest.fixture
def precision(request):
    prev = pcn.get_matmul_precision()
    pcn.set_matmul_precision(request.param)
    yield request.param
    pcn.set_matmul_precision(prev)


# (precision, PCN_GEMM_TC): "high" -> sgemm_tc3<.., false> (v3) or the tf32
# pre-pass + sgemm_tc3<false, true, false, PRE> (v3p); "medium" -> the bf16
# pre-pass + sgemm_bf16_tc3 (v3, default) or sgemm_tc3<.., true> (v3f).
GENS = [("high", "v3"), ("high", "v3p"), ("medium", "v3"), ("medium", "v3f")]


@pytest.fixture
def prec_gen(request, monkeypatch):
    prec, gen = request.param
    monkeypatch.setenv("PCN_GEMM_TC", gen)
    prev = pcn.get_matmul_precision()
    pcn.set_matmul_precision(prec)
    yield prec
    pcn.set_matmul_precision(prev)


def reference(a, b, ta, tb, prec, alpha, beta, c0):
    a = a.T if ta else a
    b = b.T if tb else b
    if EMU:
        rnd = tf32_round if prec == "high" else bf16_round
        a, b = rnd(a), rnd(b)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    r = alpha * (a64 @ b64)
    scale = abs(alpha) * (np.abs(a64) @ np.abs(b64))
    if beta != 0.0:
        r += beta * c0.astype(np.float64)
        scale += abs(beta) * np.abs(c0.astype(np.float64))
    return r, scale


def run_case(prec, M, N, K, ta, tb, alpha=1.0, beta=0.0, seed=0):
    rng = np.random.default_rng(seed + M * 131 + N * 7 + K)
    a = rng.uniform(-1, 1, (K, M) if ta else (M, K)).astype(np.float32)
    b = rng.uniform(-1, 1, (N, K) if tb else (K, N)).astype(np.float32)
    c0 = rng.uniform(-1, 1, (M, N)).astype(np.float32)
    # beta == 0: C is write-only, so NaN in it must not reach the result
    c = pcn.tensor(c0 if beta != 0.0 else np.full((M, N), np.nan, np.float32))
    pcn._C.gemm_into(c, pcn.tensor(a), pcn.tensor(b), bool(ta), bool(tb), alpha, beta)
    out = c.numpy().astype(np.float64)
    r, scale = reference(a, b, ta, tb, prec, alpha, beta, c0)
    assert np.isfinite(out).all()
    tol = 2e-5 if EMU else {"high": 1e-3, "medium": 1e-2}[prec]
    rel = (np.abs(out - r) / np.maximum(scale, 1e-30)).max()
    assert rel <= tol, "%s %dx%dx%d ta=%d tb=%d: max error %.3g of sum|a||b| (limit %g)" % (
        prec, M, N, K, ta, tb, rel, tol)


# (M, N, K) per transpose pair; v3 needs lda = (ta ? M : K) and ldb = (tb ? K : N) to be
# multiples of 4, so odd sizes go where the layout allows them.
def shapes(ta, tb):
    m_odd = 0 if ta else 3   # M is the leading dimension of A^T
    n_odd = 1 if tb else 0   # N is the leading dimension of B (not B^T)
    return [
        (4, 4, 4),                          # one partial block, K < one k tile
        (8 + m_odd, 12 + n_odd, 20),        # tiny, partial everything
        (132 + m_odd, 260 + n_odd, 36),     # 2 x 2 blocks, 2 k tiles (the last has 4 k)
        (260 + m_odd, 516 + n_odd, 164),    # 3 block rows x 3 block columns, 6 k tiles > 4 stages
        (64 + m_odd, 8 + n_odd, 300),       # thin N, 10 k tiles, the last partial (12 k)
    ]


@pytest.mark.parametrize("prec_gen", GENS, indirect=True)
@pytest.mark.parametrize("ta,tb", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_tc3_shapes(prec_gen, ta, tb):
    for (M, N, K) in shapes(ta, tb):
        run_case(prec_gen, M, N, K, ta, tb)


@pytest.mark.parametrize("prec_gen", GENS, indirect=True)
@pytest.mark.parametrize("ta,tb", [(0, 0), (1, 1)])
@pytest.mark.parametrize("alpha,beta", [(0.5, -1.5), (0.0, 2.0), (-1.0, 1.0)])
def test_tc3_alpha_beta(prec_gen, ta, tb, alpha, beta):
    run_case(prec_gen, 132, 260 + (1 if tb else 0), 36, ta, tb, alpha, beta)


@pytest.mark.parametrize("ta,tb", [(0, 0), (0, 1), (1, 0), (1, 1)])
@pytest.mark.parametrize("prec,gen", [("medium", "v3"), ("high", "v3p")])
def test_prepass_any_layout(prec, gen, ta, tb, monkeypatch):
    """The pre-passes take any lda/ldb (no v2 fallback): odd sizes everywhere,
    K = 1, K just past a 64 / 32 k tile, rows past a 32-row conversion tile."""
    monkeypatch.setenv("PCN_GEMM_TC", gen)
    prev = pcn.get_matmul_precision()
    pcn.set_matmul_precision(prec)
    try:
        for (M, N, K) in [(1, 1, 1), (5, 3, 7), (37, 41, 30), (33, 257, 65), (130, 9, 129)]:
            run_case(prec, M, N, K, ta, tb)
    finally:
        pcn.set_matmul_precision(prev)


@pytest.mark.parametrize("precision", ["high", "medium"], indirect=True)
def test_tc3_fallbacks(precision, monkeypatch):
    monkeypatch.setenv("PCN_GEMM_TC", "v3f")          # medium: the fp32-smem kernel, which needs ld % 4 == 0
    run_case(precision, 36, 40, 30, 0, 0)           # lda = 30: not a multiple of 4 -> v2
    run_case(precision, 37, 41, 36, 1, 0)           # lda = 37, ldb = 41 -> v2
    monkeypatch.setenv("PCN_GEMM_TC", "v2")         # read by gemm.cu at every call
    run_case(precision, 132, 260, 36, 0, 0)
    run_case(precision, 132, 261, 36, 1, 1)


@pytest.mark.parametrize("prec_gen", GENS, indirect=True)
@pytest.mark.parametrize("beta", [0.0, 0.5])
def test_tc3_k_zero(prec_gen, beta):
    """K = 0: no k tile at all (and no pre-pass launch); C = beta * C, or 0 over NaN."""
    run_case(prec_gen, 8, 12, 0, 0, 0, 1.0, beta)
    run_case(prec_gen, 8, 13, 0, 1, 1, 1.0, beta)
