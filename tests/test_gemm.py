"""GEMM against the float64 reference, every SIMD path, odd and prime sizes."""
import numpy as np
import pytest

import pyconvnet as pcn
import reference as ref
from tolerance import assert_close, scaled_tol

SHAPES = [(1, 1, 1), (1, 7, 3), (5, 1, 2), (7, 13, 5), (17, 31, 1), (33, 65, 129), (97, 131, 389),
          (12, 32, 384), (13, 33, 385), (200, 3, 700), (3, 200, 1000)]


@pytest.mark.parametrize("M,N,K", SHAPES)
@pytest.mark.parametrize("ta,tb", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_matmul_matches_reference(simd, M, N, K, ta, tb):
    rng = np.random.default_rng(M * 1000 + N * 10 + K)
    a = rng.standard_normal((K, M) if ta else (M, K)).astype(np.float32)
    b = rng.standard_normal((N, K) if tb else (K, N)).astype(np.float32)
    c = pcn.matmul(a, b, transpose_a=bool(ta), transpose_b=bool(tb))
    r = ref.gemm(a, b, ta, tb)
    assert_close(c, r, rtol=1e-5, atol=scaled_tol(r, K))


def test_matmul_small_integers_exact(simd):
    rng = np.random.default_rng(1)
    a = rng.integers(-4, 5, (67, 129)).astype(np.float32)
    b = rng.integers(-4, 5, (129, 45)).astype(np.float32)
    np.testing.assert_array_equal(pcn.matmul(a, b), (a.astype(np.int64) @ b.astype(np.int64)).astype(np.float32))


@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (0.5, 1.0), (-2.0, 0.25), (0.0, 3.0)])
def test_gemm_into_alpha_beta(simd, alpha, beta):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((40, 70)).astype(np.float32)
    b = rng.standard_normal((70, 50)).astype(np.float32)
    c0 = rng.standard_normal((40, 50)).astype(np.float32)
    c = pcn.tensor(c0)
    pcn._C.gemm_into(c, pcn.tensor(a), pcn.tensor(b), False, False, alpha, beta)
    r = ref.gemm(a, b, alpha=alpha, beta=beta, c=c0)
    assert_close(c.numpy(), r, rtol=1e-5, atol=scaled_tol(r, 70))


def test_beta_zero_ignores_nan_in_c():
    a = np.ones((3, 4), np.float32)
    b = np.ones((4, 5), np.float32)
    c = pcn.tensor(np.full((3, 5), np.nan, np.float32))
    pcn._C.gemm_into(c, pcn.tensor(a), pcn.tensor(b), False, False, 1.0, 0.0)
    np.testing.assert_array_equal(c.numpy(), np.full((3, 5), 4.0, np.float32))


def test_batched_matmul():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((3, 7, 9)).astype(np.float32)
    b = rng.standard_normal((3, 9, 4)).astype(np.float32)
    assert_close(pcn.matmul(a, b), ref.gemm(a, b), rtol=1e-5, atol=1e-5)
    b2 = rng.standard_normal((9, 4)).astype(np.float32)
    assert_close(pcn.matmul(a, b2), ref.gemm(a, b2), rtol=1e-5, atol=1e-5)


def test_nan_propagates():
    a = np.ones((4, 4), np.float32)
    a[1, 2] = np.nan
    c = pcn.matmul(a, np.ones((4, 3), np.float32))
    assert np.isnan(c[1]).all() and np.isfinite(c[[0, 2, 3]]).all()


def test_numpy_in_numpy_out_tensor_in_tensor_out():
    a = np.ones((2, 3), np.float32)
    assert isinstance(pcn.matmul(a, a.T.copy()), np.ndarray)
    assert isinstance(pcn.matmul(pcn.tensor(a), pcn.tensor(a.T.copy())), pcn.Tensor)


@pytest.mark.parametrize("a,b,exc", [
    (np.ones((2, 3)), np.ones((4, 5)), ValueError),
    (np.ones((2, 3, 4, 5)), np.ones((5, 2)), ValueError),
    (np.ones(3), np.ones((3, 2)), ValueError),
    (np.array([["a", "b"]]), np.ones((2, 2)), TypeError),
    (np.ones((2, 2), dtype=complex), np.ones((2, 2)), TypeError),
])
def test_bad_input_raises(a, b, exc):
    with pytest.raises(exc, match="matmul"):
        pcn.matmul(a, b)


def test_other_dtypes_and_noncontiguous_are_converted_once():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((6, 10))  # float64, and a strided view below
    b = rng.integers(-3, 3, (5, 4))
    r = ref.gemm(a[:, ::2], b)
    assert_close(pcn.matmul(a[:, ::2], b), r, rtol=1e-5, atol=1e-5)


def test_every_edge_tile_rows_and_columns(simd):
    """All M % MR remainders (the edge microkernels with 1..MR-1 rows) against every
    N % NR class (one masked vector, two vectors with the second masked, full)."""
    rng = np.random.default_rng(5)
    for M in range(1, 26):
        for N in (1, 15, 16, 17, 31, 32, 33, 47, 48, 64, 65):
            for ta, tb in ((0, 0), (1, 1)):
                a = rng.standard_normal((19, M) if ta else (M, 19)).astype(np.float32)
                b = rng.standard_normal((N, 19) if tb else (19, N)).astype(np.float32)
                c0 = rng.standard_normal((M, N)).astype(np.float32)
                c = pcn.tensor(c0)
                pcn._C.gemm_into(c, pcn.tensor(a), pcn.tensor(b), bool(ta), bool(tb), 0.75, -0.5)
                r = ref.gemm(a, b, ta, tb, alpha=0.75, beta=-0.5, c=c0)
                assert_close(c.numpy(), r, rtol=1e-5, atol=scaled_tol(r, 19))


# Shapes that reach each path of the driver (csrc/cpu/isa/gemm.cpp): split by columns
# with A shared and double-buffered over several K slices (100x300x1000 and 37x45x1537
# at 2-3 threads); split by rows, no barrier; several M chunks per thread (> 6144 rows
# with AVX-512, at 1 thread); several column chunks (> 4096 columns per thread);
# uneven last K slice; odd thread counts. (Several M chunks of a *shared* A needs
# many threads; it was checked with a build with PCN_GEMM_MCH=48.)
PAR_SHAPES = [(100, 300, 1000), (500, 20, 800), (6200, 20, 30), (6500, 70, 9), (13, 8300, 20),
              (37, 45, 1537), (250, 250, 250)]


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("M,N,K", PAR_SHAPES)
def test_parallel_paths_with_beta(simd, threads, M, N, K):
    rng = np.random.default_rng(M + N + K)
    a = rng.standard_normal((M, K)).astype(np.float32)
    bt = rng.standard_normal((N, K)).astype(np.float32)
    c0 = rng.standard_normal((M, N)).astype(np.float32)
    c = pcn.tensor(c0)
    prev = pcn.get_num_threads()
    pcn.set_num_threads(threads)
    try:
        pcn._C.gemm_into(c, pcn.tensor(a), pcn.tensor(bt), False, True, -1.5, 0.5)
    finally:
        pcn.set_num_threads(prev)
    r = ref.gemm(a, bt, 0, 1, alpha=-1.5, beta=0.5, c=c0)
    assert_close(c.numpy(), r, rtol=1e-5, atol=scaled_tol(r, K))
