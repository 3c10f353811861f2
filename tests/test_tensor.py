"""Tensor: NumPy interop (zero-copy where promised), devices, reshape, errors."""
import numpy as np
import pytest

import pyconvnet as pcn


def test_from_numpy_is_zero_copy_and_numpy_view_too():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = pcn.from_numpy(a)
    a[0, 0] = 42
    assert t.numpy()[0, 0] == 42
    v = np.asarray(t)
    v[1, 1] = -1
    assert a[1, 1] == -1
    assert t.shape == (3, 4) and t.dtype == "float32" and t.device == "cpu" and t.ndim == 2 and t.size == 12


def test_tensor_copies():
    a = np.ones((2, 2), np.float32)
    t = pcn.tensor(a)
    a[0, 0] = 5
    assert t.numpy()[0, 0] == 1


def test_view_outlives_tensor():
    t = pcn.tensor(np.arange(6, dtype=np.float32))
    v = t.numpy()
    del t
    assert v.sum() == 15


@pytest.mark.parametrize("dt", [np.float32, np.int32, np.int64, np.uint8])
def test_dtypes_roundtrip(dt):
    a = (np.arange(10) % 7).astype(dt)
    t = pcn.tensor(a)
    assert t.dtype == np.dtype(dt).name
    np.testing.assert_array_equal(t.numpy(), a)


def test_unsupported_dtype_is_type_error():
    with pytest.raises(TypeError, match="dtype"):
        pcn.tensor(np.ones(3, dtype=np.float16))


def test_reshape_and_errors():
    t = pcn.tensor(np.arange(24, dtype=np.float32))
    assert t.reshape(2, 3, 4).shape == (2, 3, 4)
    assert t.reshape((4, -1)).shape == (4, 6)
    with pytest.raises(ValueError, match="reshape"):
        t.reshape(5, 5)
    with pytest.raises(ValueError, match="reshape"):
        t.reshape(-1, -1)


def test_empty_zeros_and_bad_shapes():
    assert np.all(pcn.zeros(3, 4).numpy() == 0)
    assert pcn.empty((2, 5), dtype="int64").dtype == "int64"
    with pytest.raises(ValueError, match="negative"):
        pcn.empty(3, -1)
    with pytest.raises(ValueError, match="too many elements"):
        pcn.empty(2**30, 2**30)


def test_device_parse_errors():
    t = pcn.tensor(np.ones(3, np.float32))
    with pytest.raises(ValueError, match="device"):
        t.to("tpu")
    assert t.to("cpu") is not None


def test_cuda_without_gpu_is_a_clear_error():
    if pcn.info()["cuda_devices"]:
        pytest.skip("a GPU is present")
    t = pcn.tensor(np.ones(3, np.float32))
    with pytest.raises(RuntimeError):
        t.to("cuda")


def test_info_and_threads():
    d = pcn.info()
    for k in ("version", "openmp_threads", "simd", "cuda_compiled", "cuda_devices"):
        assert k in d
    n = pcn.get_num_threads()
    pcn.set_num_threads(1)
    assert pcn.get_num_threads() == 1
    pcn.set_num_threads(n)
    with pytest.raises(ValueError):
        pcn.set_num_threads(0)


def test_empty_arrays_roundtrip():
    for shape in [(0,), (2, 0, 3), (0, 5)]:
        a = np.ones(shape, np.float32)
        t = pcn.tensor(a)
        assert t.shape == shape and t.is_contiguous()
        assert t.numpy().shape == shape


def test_large_blocks_are_reused_without_stale_reads():
    # a freed large block comes back from the cache: it must still be poisoned/overwritten
    a = pcn.tensor(np.full(1 << 20, 7.0, np.float32))
    del a
    b = pcn.zeros(1 << 20)
    assert float(np.asarray(b).max()) == 0.0
