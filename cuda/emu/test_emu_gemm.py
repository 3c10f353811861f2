"""The tensor-core GEMM kernels (gemm.cu / gemm_kernels.cuh: TF32 mma.m16n8k8 at
matmul precision "high", BF16 mma.m16n8k16 at "medium") and the host emulation
of the PTX instructions they use (cuda/emu/ptx_emu.h), checked against values
built here from the PTX ISA fragment layouts (cuda/ptx.cuh's header comment).

cuda/emu/run.sh runs this file against the emulated kernels (gemm family). In a
plain CPU build the ptx tests skip (no emulator entry points) and the GEMM tests
check the CPU kernel, which ignores the precision setting."""
import ctypes
import os
import subprocess
import sys

import numpy as np
import pytest

import pyconvnet as pcn

LIB = ctypes.CDLL(pcn._C.__file__)
EMU = hasattr(LIB, "pcn_emu_test_mma")
need_emu = pytest.mark.skipif(not EMU, reason="not the cuda/emu/run.sh build (no ptx_emu entry points)")


def P(a):
    assert a.flags.c_contiguous
    return a.ctypes.data_as(ctypes.c_void_p)


def tf32_round(x):
    """Round float32 to tf32 (10 stored mantissa bits), nearest, ties away from zero."""
    x = np.asarray(x, np.float64)
    m, e = np.frexp(x)  # |m| in [0.5, 1): 11 significant bits -> m * 2^11
    r = np.sign(m) * np.floor(np.abs(m) * 2.0 ** 11 + 0.5) / 2.0 ** 11
    return np.ldexp(r, e).astype(np.float32)


def bits(x):
    return np.asarray(x, np.float32).view(np.uint32)


# ---------------------------------------------------------------- cvt / bf16
@need_emu
def test_cvt_tf32_rounding_and_ties():
    one = np.float32(1.0)
    ulp_half = np.float32(2.0 ** -11)  # half a tf32 ulp at 1
    x = np.array([1.0, 1.0 + 2.0 ** -11, -(1.0 + 2.0 ** -11), 1.0 + 2.0 ** -11 - 2.0 ** -23,
                  1.0 + 3 * 2.0 ** -11, 0.0, -0.0, np.inf, -np.inf, 3.4028235e38, 1e-30, -7.25],
                 np.float32)
    out = np.zeros(len(x), np.uint32)
    LIB.pcn_emu_test_cvt_tf32(P(x), P(out), ctypes.c_longlong(len(x)))
    f = out.view(np.float32)
    assert f[0] == one
    assert f[1] == np.float32(1.0 + 2.0 ** -10)       # tie: away from zero (ties-to-even would give 1)
    assert f[2] == np.float32(-(1.0 + 2.0 ** -10))
    assert f[3] == one                                 # just below the tie
    assert f[4] == np.float32(1.0 + 2.0 ** -9)
    assert bits(f[5]) == 0 and bits(f[6]) == 0x80000000
    assert f[7] == np.inf and f[8] == -np.inf
    assert f[9] == np.inf                              # the largest float rounds up out of range
    assert f[10] == tf32_round(np.float32(1e-30)) and f[11] == np.float32(-7.25)
    assert (out & 0x1FFF == 0).all()                   # low 13 bits zero
    nan = np.array([np.nan], np.float32)
    LIB.pcn_emu_test_cvt_tf32(P(nan), P(out), ctypes.c_longlong(1))
    assert np.isnan(out[:1].view(np.float32)[0])
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(10000) * 10.0 ** rng.integers(-20, 20, 10000)).astype(np.float32)
    out = np.zeros(len(x), np.uint32)
    LIB.pcn_emu_test_cvt_tf32(P(x), P(out), ctypes.c_longlong(len(x)))
    np.testing.assert_array_equal(out.view(np.float32), tf32_round(x))
    del ulp_half


@need_emu
def test_bf16_round_to_nearest_even_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = np.concatenate([(rng.standard_normal(5000) * 10.0 ** rng.integers(-30, 30, 5000)),
                        [1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8), 0.0, -0.0, np.inf, -np.inf, 3.4e38]]
                       ).astype(np.float32)
    out = np.zeros(len(x), np.uint16)
    LIB.pcn_emu_test_bf16(P(x), P(out), ctypes.c_longlong(len(x)))
    ref = torch.from_numpy(x).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    np.testing.assert_array_equal(out, ref)
    nan = np.array([np.nan], np.float32)
    LIB.pcn_emu_test_bf16(P(nan), P(out), ctypes.c_longlong(1))
    assert (out[0] & 0x7F80) == 0x7F80 and (out[0] & 0x7F) != 0


# ---------------------------------------------------------------- mma
def frag_tf32(A, B, C):
    """Per-lane fragments of mma.m16n8k8 .tf32 (PTX ISA layout): a (32,4), b (32,2), c (32,4)."""
    a = np.zeros((32, 4), np.uint32); b = np.zeros((32, 2), np.uint32); c = np.zeros((32, 4), np.float32)
    for L in range(32):
        g, t = L // 4, L % 4
        a[L] = bits([A[g, t], A[g + 8, t], A[g, t + 4], A[g + 8, t + 4]])
        b[L] = bits([B[t, g], B[t + 4, g]])
        c[L] = [C[g, 2 * t], C[g, 2 * t + 1], C[g + 8, 2 * t], C[g + 8, 2 * t + 1]]
    return a, b, c


def bf16_bits(x):
    """x must already be bf16-representable."""
    return (bits(x) >> 16).astype(np.uint32)


def frag_bf16(A, B, C):
    """mma.m16n8k16 .bf16: each 32-bit register holds two elements, the lower k in the low half."""
    def pair(lo, hi):
        return int(bf16_bits(lo)) | (int(bf16_bits(hi)) << 16)
    a = np.zeros((32, 4), np.uint32); b = np.zeros((32, 2), np.uint32); c = np.zeros((32, 4), np.float32)
    for L in range(32):
        g, t = L // 4, L % 4
        a[L] = [pair(A[g, 2 * t], A[g, 2 * t + 1]), pair(A[g + 8, 2 * t], A[g + 8, 2 * t + 1]),
                pair(A[g, 2 * t + 8], A[g, 2 * t + 9]), pair(A[g + 8, 2 * t + 8], A[g + 8, 2 * t + 9])]
        b[L] = [pair(B[2 * t, g], B[2 * t + 1, g]), pair(B[2 * t + 8, g], B[2 * t + 9, g])]
        c[L] = [C[g, 2 * t], C[g, 2 * t + 1], C[g + 8, 2 * t], C[g + 8, 2 * t + 1]]
    return a, b, c


def unfrag_d(d):
    D = np.zeros((16, 8), np.float32)
    for L in range(32):
        g, t = L // 4, L % 4
        D[g, 2 * t], D[g, 2 * t + 1], D[g + 8, 2 * t], D[g + 8, 2 * t + 1] = d[L]
    return D


@need_emu
@pytest.mark.parametrize("bf16", [False, True], ids=["tf32", "bf16"])
def test_single_mma_known_fragments(bf16):
    K = 16 if bf16 else 8
    # Small integers: every product and sum is exact, so D must equal A@B+C exactly;
    # all entries distinct enough that a swapped fragment element shows.
    rng = np.random.default_rng(2)
    A = rng.integers(-8, 9, (16, K)).astype(np.float32)
    B = rng.integers(-8, 9, (K, 8)).astype(np.float32)
    C = rng.integers(-50, 51, (16, 8)).astype(np.float32)
    a, b, c = (frag_bf16 if bf16 else frag_tf32)(A, B, C)
    d = np.ascontiguousarray(c)
    LIB.pcn_emu_test_mma(int(bf16), P(a), P(b), P(d))
    np.testing.assert_array_equal(unfrag_d(d), A @ B + C)
    # Identity-like operands: D[m, n] = A[m, n] picks single elements (lane mapping).
    B = np.eye(K, 8, dtype=np.float32)
    A = np.arange(16 * K, dtype=np.float32).reshape(16, K)
    a, b, c = (frag_bf16 if bf16 else frag_tf32)(A, B, np.zeros((16, 8), np.float32))
    d = np.ascontiguousarray(c)
    LIB.pcn_emu_test_mma(int(bf16), P(a), P(b), P(d))
    np.testing.assert_array_equal(unfrag_d(d), A[:, :8])


@need_emu
def test_mma_tf32_real_values():
    rng = np.random.default_rng(3)
    A = tf32_round(rng.standard_normal((16, 8)))
    B = tf32_round(rng.standard_normal((8, 8)))
    C = rng.standard_normal((16, 8)).astype(np.float32)
    a, b, c = frag_tf32(A, B, C)
    d = np.ascontiguousarray(c)
    LIB.pcn_emu_test_mma(0, P(a), P(b), P(d))
    R = A.astype(np.float64) @ B.astype(np.float64) + C
    np.testing.assert_allclose(unfrag_d(d), R, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------- ldmatrix
@need_emu
@pytest.mark.parametrize("nm,trans", [(1, 0), (2, 0), (4, 0), (2, 1), (4, 1)])
def test_ldmatrix_lane_mapping(nm, trans):
    rng = np.random.default_rng(10 * nm + trans)
    src = rng.integers(0, 65536, (64, 8)).astype(np.uint16)
    rows = rng.permutation(64)[:32].astype(np.int32)  # lane L points at row rows[L]
    off = np.zeros(32, np.int32)
    out = np.zeros((32, 4), np.uint32)
    LIB.pcn_emu_test_ldmatrix(nm, trans, P(src), P(rows), P(off), P(out))
    for L in range(32):
        for i in range(nm):
            if not trans:
                r = src[rows[8 * i + L // 4]]
                want = int(r[2 * (L % 4)]) | (int(r[2 * (L % 4) + 1]) << 16)
            else:
                lo = src[rows[8 * i + 2 * (L % 4)]][L // 4]
                hi = src[rows[8 * i + 2 * (L % 4) + 1]][L // 4]
                want = int(lo) | (int(hi) << 16)
            assert out[L, i] == want, (L, i)


def run_child(code):
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(pcn.__file__)))
    pre = ("import ctypes, numpy as np, pyconvnet as pcn\n"
           "LIB = ctypes.CDLL(pcn._C.__file__)\n"
           "P = lambda a: a.ctypes.data_as(ctypes.c_void_p)\n")
    return subprocess.run([sys.executable, "-c", pre + code], env=env, capture_output=True, text=True, timeout=120)


@need_emu
def test_ldmatrix_misaligned_address_aborts():
    r = run_child("src = np.zeros((64, 8), np.uint16); rows = np.arange(32, dtype=np.int32)\n"
                  "off = np.zeros(32, np.int32); off[5] = 4; out = np.zeros((32, 4), np.uint32)\n"
                  "LIB.pcn_emu_test_ldmatrix(4, 0, P(src), P(rows), P(off), P(out))\n")
    assert r.returncode != 0 and "ldmatrix_x4 address" in r.stderr and "16-byte aligned" in r.stderr, r.stderr


# ---------------------------------------------------------------- cp.async
def aligned_src(rng):
    buf = np.zeros(256 + 4, np.float32)
    k = (-(buf.ctypes.data % 16) // 4) % 4
    src = buf[k:k + 256]
    assert src.ctypes.data % 16 == 0
    src[:] = rng.standard_normal(256).astype(np.float32)
    return src


@need_emu
def test_cp_async_groups_zero_fill_and_poison_before_wait():
    rng = np.random.default_rng(4)
    src = aligned_src(rng)
    bytes_a = np.array([16, 12, 8, 4, 0, 6, 16, 1] * 4, np.int32)
    bytes_b = np.array([16, 0, 16, 16] * 8, np.int32)
    off = np.zeros(32, np.int32)
    out = np.zeros((3, 32, 8), np.float32)
    LIB.pcn_emu_test_cp_async(P(src), P(bytes_a), P(bytes_b), P(off), 0, P(out))
    raw = out.view(np.uint32)
    # Before any wait: nothing copied, shared memory still holds the NaN poison.
    assert (raw[0] == 0xFFFFFFFF).all()

    def chunk(base, t, nb):
        want = np.zeros(16, np.uint8)
        want[:nb] = src[base + 4 * t: base + 4 * t + 4].view(np.uint8)[:nb]
        return want.view(np.uint32)
    for t in range(32):
        a, b = chunk(0, t, bytes_a[t]), chunk(128, t, bytes_b[t])
        # wait<1>: group 0 (chunk A) complete, group 1 (chunk B) may still be in flight
        np.testing.assert_array_equal(raw[1, t, :4], a)
        assert (raw[1, t, 4:] == 0xFFFFFFFF).all()
        # wait<0>: both
        np.testing.assert_array_equal(raw[2, t, :4], a)
        np.testing.assert_array_equal(raw[2, t, 4:], b)


@need_emu
@pytest.mark.parametrize("case,msg", [("misaligned", "not 16-byte aligned"), ("global_dst", "not inside a __shared__")])
def test_cp_async_bad_destination_aborts(case, msg):
    r = run_child("src = np.zeros(512, np.float32); s = src[(-(src.ctypes.data % 16) // 4) % 4:]\n"
                  "ba = np.full(32, 16, np.int32); off = np.zeros(32, np.int32); out = np.zeros(768, np.float32)\n"
                  + ("off[3] = 8\n" if case == "misaligned" else "") +
                  "LIB.pcn_emu_test_cp_async(P(s), P(ba), P(ba), P(off), %d, P(out))\n" % (case == "global_dst"))
    assert r.returncode != 0 and msg in r.stderr, r.stderr


# ---------------------------------------------------------------- dynamic shared memory
@need_emu
def test_dynamic_shared_memory_poisoned_and_shared_by_the_block():
    out = np.zeros(64, np.float32)
    LIB.pcn_emu_test_dyn_smem(ctypes.c_longlong(96 << 10), 100 << 10, P(out))
    assert np.isnan(out[32:]).all()
    np.testing.assert_array_equal(out[:32], (np.arange(32) + 1) % 32)
    LIB.pcn_emu_test_dyn_smem(ctypes.c_longlong(1024), 0, P(out))  # <= 48 KiB needs no attribute
    np.testing.assert_array_equal(out[:32], (np.arange(32) + 1) % 32)


@need_emu
def test_dynamic_shared_memory_over_48k_needs_the_attribute():
    r = run_child("out = np.zeros(64, np.float32)\n"
                  "LIB.pcn_emu_test_dyn_smem(ctypes.c_longlong(64 << 10), 0, P(out))\n")
    assert r.returncode != 0 and "MaxDynamicSharedMemorySize" in r.stderr, r.stderr


# ---------------------------------------------------------------- the GEMM kernels
@pytest.fixture
def precision(request):
    prev = pcn.get_matmul_precision()
    pcn.set_matmul_precision(request.param)
    yield request.param
    pcn.set_matmul_precision(prev)


TOL = {"highest": 2e-6, "high": 1e-3, "medium": 1e-2}
SHAPES = [(1, 1, 1), (7, 13, 5), (17, 9, 33), (33, 65, 70), (130, 7, 41), (5, 131, 96), (129, 130, 3)]


def check(c, a, b, ta, tb, prec, alpha=1.0, beta=0.0, c0=None):
    a64 = a.T.astype(np.float64) if ta else a.astype(np.float64)
    b64 = b.T.astype(np.float64) if tb else b.astype(np.float64)
    r = alpha * (a64 @ b64)
    scale = abs(alpha) * (np.abs(a64) @ np.abs(b64))  # error bound per element: sum_k |a||b|
    if beta != 0.0:
        r += beta * c0
        scale += 1e-6 * abs(beta) * np.abs(c0)
    err = np.abs(c.astype(np.float64) - r)
    rel = (err / np.maximum(scale, 1e-30)).max()
    assert rel <= TOL[prec], "precision %s: max error %.3g of sum|a||b| (limit %g)" % (prec, rel, TOL[prec])
    return rel


@pytest.mark.parametrize("precision", ["high", "medium", "highest"], indirect=True)
@pytest.mark.parametrize("M,N,K", SHAPES)
@pytest.mark.parametrize("ta,tb", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_tensor_core_gemm(precision, M, N, K, ta, tb):
    rng = np.random.default_rng(M * 7 + N * 3 + K)
    a = rng.standard_normal((K, M) if ta else (M, K)).astype(np.float32)
    b = rng.standard_normal((N, K) if tb else (K, N)).astype(np.float32)
    c = pcn.matmul(a, b, transpose_a=bool(ta), transpose_b=bool(tb))
    check(c, a, b, ta, tb, precision)


@pytest.mark.parametrize("precision", ["high", "medium"], indirect=True)
@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (0.5, 1.0), (-2.0, 0.25), (0.0, 3.0)])
def test_tensor_core_gemm_alpha_beta(precision, alpha, beta):
    rng = np.random.default_rng(9)
    a = rng.standard_normal((45, 70)).astype(np.float32)
    b = rng.standard_normal((70, 37)).astype(np.float32)
    c0 = rng.standard_normal((45, 37)).astype(np.float32)
    c = pcn.tensor(c0)
    pcn._C.gemm_into(c, pcn.tensor(a), pcn.tensor(b), False, False, alpha, beta)
    check(c.numpy(), a, b, 0, 0, precision, alpha, beta, c0)


@pytest.mark.parametrize("precision", ["high", "medium"], indirect=True)
def test_tensor_core_gemm_beta_zero_ignores_nan_and_unaligned_operands(precision):
    rng = np.random.default_rng(11)
    big_a = rng.standard_normal(19 * 23 + 1).astype(np.float32)
    big_b = rng.standard_normal(23 * 21 + 1).astype(np.float32)
    a, b = big_a[1:].reshape(19, 23), big_b[1:].reshape(23, 21)  # base not 16-byte aligned, ld odd
    c = pcn.tensor(np.full((19, 21), np.nan, np.float32))
    pcn._C.gemm_into(c, pcn.from_numpy(a), pcn.from_numpy(b), False, False, 1.0, 0.0)
    check(c.numpy(), a, b, 0, 0, precision)


@pytest.mark.skipif(not EMU, reason="the CPU kernel ignores the precision")
@pytest.mark.parametrize("precision", ["high", "medium"], indirect=True)
def test_reduced_precision_really_used(precision):
    """Values that tf32/bf16 cannot represent: the error must be well above fp32's,
    so the tensor-core kernel (not the SIMT one) ran."""
    rng = np.random.default_rng(12)
    a = rng.standard_normal((40, 64)).astype(np.float32)
    b = rng.standard_normal((64, 24)).astype(np.float32)
    rel = check(pcn.matmul(a, b), a, b, 0, 0, precision)
    assert rel > (1e-5 if precision == "high" else 1e-4)
    # the operands are rounded exactly as cvt.rna.tf32 / __float2bfloat16_rn do
    if precision == "high":
        ar, br = tf32_round(a).astype(np.float64), tf32_round(b).astype(np.float64)
        np.testing.assert_allclose(pcn.matmul(a, b), ar @ br, rtol=0, atol=1e-5 * (np.abs(ar) @ np.abs(br)).max())
