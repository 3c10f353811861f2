"""The CUDA backend: tensors on the GPU, the SGEMM kernels (fp32 SIMT, TF32 and
BF16 tensor cores), __cuda_array_interface__ / DLPack interop with PyTorch,
error paths. Tests marked `cuda` skip with a reason when no GPU is visible;
the rest (build info, interop on the CPU, errors without a GPU) run anywhere."""
import numpy as np
import pytest

import pyconvnet as pcn
import reference as ref
from tolerance import assert_close, scaled_tol

C = pcn._C
CUDA_COMPILED = bool(C.build_info()["cuda_compiled"])
N_DEV = len(pcn.info()["cuda_devices"])
needs_gpu = [pytest.mark.cuda,
             pytest.mark.skipif(N_DEV == 0, reason="no CUDA device visible (pyconvnet.info()['cuda_devices'] is empty)")]


def gpu(f):
    for m in needs_gpu:
        f = m(f)
    return f


def rel_err(out, r):
    r = np.asarray(r, np.float64)
    o = np.asarray(out, np.float64)
    assert not np.isnan(o).any(), "NaN in output (unwritten element?)"
    return float(np.linalg.norm(o - r) / max(np.linalg.norm(r), 1e-30))


@pytest.fixture
def precision():
    """Set the matmul precision for one test and restore it afterwards."""
    prev = C.get_matmul_precision()
    yield C.set_matmul_precision
    C.set_matmul_precision(prev)


# ---------------------------------------------------------------- anywhere
def test_build_reports_cuda_with_zero_devices():
    if not CUDA_COMPILED:
        pytest.skip("CPU-only build (cuda_compiled is False)")
    if N_DEV:
        pytest.skip("a GPU is visible; this checks the no-GPU case")
    d = pcn.info()
    assert d["cuda_compiled"] is True
    assert d["cuda_devices"] == []
    assert d["cuda_arch"].startswith("sm_")


def test_to_cuda_without_gpu_raises_runtime_error():
    if N_DEV:
        pytest.skip("a GPU is visible")
    t = pcn.tensor(np.ones((2, 3), np.float32))
    with pytest.raises(RuntimeError, match="cuda"):
        t.to("cuda")
    with pytest.raises(RuntimeError, match="cuda"):
        pcn.empty(4, device="cuda")
    C.synchronize()  # a no-op without devices, never a crash


def test_matmul_precision_setting(precision):
    for p in ("highest", "high", "medium"):
        precision(p)
        assert C.get_matmul_precision() == p
    with pytest.raises(ValueError, match="set_matmul_precision"):
        C.set_matmul_precision("fast")


def test_memory_stats_keys():
    st = C.cuda_memory_stats()
    assert set(st) >= {"allocated", "cached", "reserved", "peak_allocated"}
    assert all(v >= 0 for v in st.values())


def test_cpu_tensor_has_no_cuda_array_interface():
    t = pcn.tensor(np.ones(3, np.float32))
    assert not hasattr(t, "__cuda_array_interface__")
    assert t.__dlpack_device__() == (1, 0)


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64, np.uint8])
def test_dlpack_cpu_roundtrip_numpy(dtype):
    a = (np.arange(24) % 7).astype(dtype).reshape(2, 3, 4)
    t = pcn.tensor(a)
    v = np.from_dlpack(t)            # zero-copy view of t
    np.testing.assert_array_equal(v, a)
    t2 = C.from_dlpack(a)            # zero-copy wrap of a
    assert t2.dtype == np.dtype(dtype).name and t2.shape == a.shape
    np.testing.assert_array_equal(t2.numpy(), a)
    a[0, 0, 0] = 5
    assert t2.numpy()[0, 0, 0] == 5
    del t
    np.testing.assert_array_equal(v[1], a[1])  # v keeps the storage alive


def test_dlpack_cpu_torch():
    torch = pytest.importorskip("torch")
    t = pcn.tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
    tt = torch.from_dlpack(t)
    assert tt.shape == (3, 4) and tt.dtype == torch.float32
    tt[0, 0] = 100.0
    assert t.numpy()[0, 0] == 100.0          # shared memory
    x = torch.arange(10, dtype=torch.float32)[::2]  # strided view
    p = C.from_dlpack(x)
    np.testing.assert_array_equal(p.numpy(), x.numpy())
    with pytest.raises(TypeError, match="from_dlpack"):
        C.from_dlpack(torch.zeros(3, dtype=torch.float16))
    with pytest.raises(TypeError, match="from_dlpack"):
        C.from_dlpack(object())


# ---------------------------------------------------------------- GPU
@gpu
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64, np.uint8])
@pytest.mark.parametrize("shape", [(1,), (7,), (3, 5), (2, 3, 129), (0, 4)])
def test_roundtrip(dtype, shape):
    rng = np.random.default_rng(0)
    a = np.abs(rng.standard_normal(shape) * 50).astype(dtype)
    d = pcn.tensor(a, device="cuda")
    assert d.device == "cuda:0" and d.shape == shape and d.dtype == np.dtype(dtype).name
    np.testing.assert_array_equal(d.numpy(), a)
    np.testing.assert_array_equal(d.to("cpu").numpy(), a)
    d2 = d.clone()
    np.testing.assert_array_equal(d2.numpy(), a)
    np.testing.assert_array_equal(pcn.tensor(a).to("cuda").cpu().numpy(), a)


@gpu
def test_poisoned_allocation_visible():
    t = pcn.empty(5, 7, device="cuda")
    assert np.isnan(t.numpy()).all()
    t.zero_()
    np.testing.assert_array_equal(t.numpy(), np.zeros((5, 7), np.float32))
    i = pcn.empty(9, dtype="int32", device="cuda")
    assert (i.numpy() == 0x5A5A5A5A).all()


@gpu
def test_copy_between_devices():
    a = np.random.default_rng(1).standard_normal((33, 17)).astype(np.float32)
    d = pcn.empty(33, 17, device="cuda")
    d.copy_(pcn.tensor(a))
    e = pcn.empty(33, 17, device="cuda")
    e.copy_(d)
    h = pcn.empty(33, 17)
    h.copy_(e)
    np.testing.assert_array_equal(h.numpy(), a)


GPU_SHAPES = [(1, 1, 1), (1, 7, 3), (5, 1, 2), (7, 13, 5), (17, 31, 1), (33, 65, 129), (97, 131, 389),
              (128, 128, 8), (129, 127, 33), (257, 130, 64), (13, 33, 385), (200, 3, 700), (3, 200, 1000)]
PREC_TOL = {"high": 1e-3, "medium": 1e-2}


def _operands(M, N, K, ta, tb, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((K, M) if ta else (M, K)).astype(np.float32)
    b = rng.standard_normal((N, K) if tb else (K, N)).astype(np.float32)
    return a, b


@gpu
@pytest.mark.parametrize("prec", ["highest", "high", "medium"])
@pytest.mark.parametrize("ta,tb", [(0, 0), (0, 1), (1, 0), (1, 1)])
@pytest.mark.parametrize("M,N,K", GPU_SHAPES)
def test_matmul_cuda(precision, prec, M, N, K, ta, tb):
    precision(prec)
    a, b = _operands(M, N, K, ta, tb, M * 7919 + N * 31 + K + 1000 * ta + 2000 * tb)
    out = C.matmul(pcn.tensor(a, device="cuda"), pcn.tensor(b, device="cuda"), bool(ta), bool(tb))
    assert out.device == "cuda:0" and out.shape == (M, N)
    r = ref.gemm(a, b, ta, tb)
    o = out.numpy()
    if prec == "highest":
        assert_close(o, r, rtol=1e-5, atol=scaled_tol(r, K))
    else:
        assert rel_err(o, r) < PREC_TOL[prec], (prec, rel_err(o, r))


@gpu
@pytest.mark.parametrize("prec", ["highest", "high", "medium"])
def test_matmul_cuda_equals_cpu_larger(precision, prec):
    precision(prec)
    a, b = _operands(333, 517, 700, 0, 0, 5)
    cpu = C.matmul(pcn.tensor(a), pcn.tensor(b)).numpy()
    gpu_out = C.matmul(pcn.tensor(a, device="cuda"), pcn.tensor(b, device="cuda")).numpy()
    if prec == "highest":
        assert_close(gpu_out, cpu, rtol=1e-5, atol=scaled_tol(cpu, 700))
    else:
        assert rel_err(gpu_out, ref.gemm(a, b)) < PREC_TOL[prec]


@gpu
@pytest.mark.parametrize("prec", ["highest", "high", "medium"])
@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (0.5, 1.0), (-2.0, 0.25), (0.0, 3.0)])
@pytest.mark.parametrize("ta,tb", [(0, 0), (1, 1)])
def test_gemm_into_cuda_alpha_beta(precision, prec, alpha, beta, ta, tb):
    precision(prec)
    M, N, K = 41, 67, 70
    a, b = _operands(M, N, K, ta, tb, 2)
    c0 = np.random.default_rng(3).standard_normal((M, N)).astype(np.float32)
    c = pcn.tensor(c0, device="cuda")
    C.gemm_into(c, pcn.tensor(a, device="cuda"), pcn.tensor(b, device="cuda"), bool(ta), bool(tb), alpha, beta)
    r = ref.gemm(a, b, ta, tb, alpha=alpha, beta=beta, c=c0)
    if prec == "highest":
        assert_close(c.numpy(), r, rtol=1e-5, atol=scaled_tol(r, K))
    else:
        assert rel_err(c.numpy(), r) < PREC_TOL[prec]


@gpu
@pytest.mark.parametrize("prec", ["highest", "high", "medium"])
def test_beta_zero_ignores_nan_in_c_cuda(precision, prec):
    precision(prec)
    c = pcn.tensor(np.full((3, 5), np.nan, np.float32), device="cuda")
    C.gemm_into(c, pcn.tensor(np.ones((3, 4), np.float32), device="cuda"),
                pcn.tensor(np.ones((4, 5), np.float32), device="cuda"), False, False, 1.0, 0.0)
    np.testing.assert_array_equal(c.numpy(), np.full((3, 5), 4.0, np.float32))


@gpu
def test_batched_and_nan_cuda():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((3, 7, 9)).astype(np.float32)
    b = rng.standard_normal((3, 9, 4)).astype(np.float32)
    out = C.matmul(pcn.tensor(a, device="cuda"), pcn.tensor(b, device="cuda"))
    assert_close(out.numpy(), ref.gemm(a, b), rtol=1e-5, atol=1e-5)
    a2 = a[0].copy()
    a2[2, 3] = np.nan
    o = C.matmul(pcn.tensor(a2, device="cuda"), pcn.tensor(b[0], device="cuda")).numpy()
    assert np.isnan(o[2]).all() and not np.isnan(np.delete(o, 2, axis=0)).any()


@gpu
def test_k_zero_and_empty_cuda():
    a = pcn.tensor(np.zeros((4, 0), np.float32), device="cuda")
    b = pcn.tensor(np.zeros((0, 3), np.float32), device="cuda")
    np.testing.assert_array_equal(C.matmul(a, b).numpy(), np.zeros((4, 3), np.float32))
    e = C.matmul(pcn.tensor(np.zeros((0, 5), np.float32), device="cuda"),
                 pcn.tensor(np.zeros((5, 3), np.float32), device="cuda"))
    assert e.shape == (0, 3)


@gpu
@pytest.mark.parametrize("prec", ["highest", "high", "medium"])
def test_unaligned_operands_from_torch(precision, prec):
    """Operands 4 bytes off a 16-byte boundary (torch views via DLPack): the
    kernels must take their scalar-load path and stay correct."""
    torch = pytest.importorskip("torch")
    precision(prec)
    M, N, K = 37, 45, 52
    ta = torch.randn(1 + M * K, device="cuda")[1:].view(M, K)
    tb = torch.randn(3 + K * N, device="cuda")[3:].view(K, N)
    tc = torch.empty(1 + M * N, device="cuda")[1:].view(M, N)
    a, b, c = C.from_dlpack(ta), C.from_dlpack(tb), C.from_dlpack(tc)
    assert a.data_ptr() % 16 != 0
    C.gemm_into(c, a, b, False, False, 1.0, 0.0)
    C.synchronize()
    r = ref.gemm(ta.cpu().numpy(), tb.cpu().numpy())
    tol = 1e-5 if prec == "highest" else PREC_TOL[prec]
    assert rel_err(tc.cpu().numpy(), r) < tol


@gpu
def test_cuda_array_interface_torch():
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(5).standard_normal((6, 10)).astype(np.float32)
    t = pcn.tensor(a, device="cuda")
    cai = t.__cuda_array_interface__
    assert cai["version"] == 3 and cai["typestr"] == "<f4" and cai["shape"] == (6, 10)
    assert cai["data"][0] == t.data_ptr() and cai["stream"] not in (None, 0)
    tt = torch.as_tensor(t, device="cuda")
    assert tt.is_cuda and tt.data_ptr() == t.data_ptr()
    np.testing.assert_array_equal(tt.cpu().numpy(), a)
    tt.mul_(2.0)
    torch.cuda.synchronize()
    np.testing.assert_array_equal(t.numpy(), 2 * a)


@gpu
def test_dlpack_cuda_torch_both_ways():
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(6).standard_normal((5, 8)).astype(np.float32)
    t = pcn.tensor(a, device="cuda")
    assert t.__dlpack_device__() == (2, 0)
    tt = torch.from_dlpack(t)
    assert tt.is_cuda and tt.data_ptr() == t.data_ptr()
    np.testing.assert_array_equal(tt.cpu().numpy(), a)
    # torch -> pyconvnet, zero-copy, then a kernel on it
    x = torch.randn(9, 11, device="cuda")
    y = torch.randn(11, 4, device="cuda")
    px, py = C.from_dlpack(x), C.from_dlpack(y)
    assert px.device == "cuda:0" and px.data_ptr() == x.data_ptr()
    out = C.matmul(px, py)
    assert_close(out.numpy(), ref.gemm(x.cpu().numpy(), y.cpu().numpy()), rtol=1e-5, atol=1e-4)
    del x
    np.testing.assert_array_equal(px.numpy().shape, (9, 11))  # px keeps torch's memory alive


@gpu
def test_mismatched_devices_value_error():
    a = pcn.tensor(np.ones((3, 4), np.float32), device="cuda")
    b = pcn.tensor(np.ones((4, 2), np.float32))
    with pytest.raises(ValueError, match="matmul"):
        C.matmul(a, b)
    c = pcn.empty(3, 2, device="cuda")
    with pytest.raises(ValueError, match="gemm"):
        C.gemm_into(c, a, b, False, False, 1.0, 0.0)


@gpu
def test_out_of_memory_is_runtime_error():
    with pytest.raises(RuntimeError, match="out of memory"):
        pcn.empty(2 ** 38, device="cuda")          # 1 TiB
    t = pcn.tensor(np.ones(10, np.float32), device="cuda")  # still usable afterwards
    np.testing.assert_array_equal(t.numpy(), np.ones(10, np.float32))


@gpu
def test_bad_device_index():
    with pytest.raises(RuntimeError, match="not available"):
        pcn.empty(3, device="cuda:%d" % N_DEV)


@gpu
def test_memory_stats_and_stream():
    C.synchronize()
    base = C.cuda_memory_stats()
    t = pcn.empty(1 << 20, device="cuda")           # 4 MiB
    st = C.cuda_memory_stats()
    assert st["allocated"] >= base["allocated"] + (4 << 20)
    del t
    st2 = C.cuda_memory_stats()
    assert st2["allocated"] == base["allocated"] and st2["cached"] >= 4 << 20
    C.cuda_empty_cache()
    assert C.cuda_memory_stats()["cached"] == 0
    assert C.cuda_stream(0) != 0
    C.synchronize()
