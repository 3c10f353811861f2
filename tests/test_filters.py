"""pyconvnet.filters: the kernels' values, and apply() (our depthwise conv2d)
against the float64 loop reference in reference_filters.py."""
import zlib

import numpy as np
import pytest

import pyconvnet as pcn
from pyconvnet import filters as F
from reference_filters import apply_ref, filter2d_same
from tolerance import assert_close

HAS_CONV = hasattr(pcn._C, "conv2d_forward")
needs_conv = pytest.mark.skipif(not HAS_CONV, reason="pyconvnet._C has no conv2d_forward yet (branch conv not merged)")


def test_kernel_values():
    assert set(F.KERNELS) == {"identity", "edge1", "edge2", "edge3", "sharpen", "box_blur", "gaussian_blur"}
    for name, k in F.KERNELS.items():
        assert k.dtype == np.float32 and k.shape == (3, 3), name
        assert not k.flags.writeable, name
    np.testing.assert_array_equal(F.edge1, [[1, 0, -1], [0, 0, 0], [-1, 0, 1]])
    np.testing.assert_array_equal(F.edge2, [[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    np.testing.assert_array_equal(F.edge3, [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]])
    np.testing.assert_array_equal(F.sharpen, [[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
    np.testing.assert_allclose(F.box_blur, np.full((3, 3), 1 / 9), rtol=1e-7)
    np.testing.assert_allclose(F.gaussian_blur, np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16, rtol=1e-7)
    for name in ("identity", "sharpen", "box_blur", "gaussian_blur"):
        assert abs(F.KERNELS[name].sum() - 1) < 1e-6, name      # preserve mean brightness
    for name in ("edge1", "edge2", "edge3"):
        assert F.KERNELS[name].sum() == 0, name                  # flat regions -> 0


def test_get():
    k = F.get("edge3")
    k[0, 0] = 5                                                  # a copy: KERNELS unchanged
    assert F.edge3[0, 0] == -1
    with pytest.raises(ValueError, match="filters.get: unknown kernel 'blurr'"):
        F.get("blurr")


def test_reference_is_cross_correlation():
    # The reference is the spec: check it against torch (cross-correlation too) on an asymmetric kernel.
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    img, k = rng.standard_normal((7, 9)), rng.standard_normal((3, 3))
    t = torch.nn.functional.conv2d(torch.tensor(img)[None, None], torch.tensor(k)[None, None], padding=1)
    np.testing.assert_allclose(filter2d_same(img, k), t[0, 0].numpy(), rtol=1e-12, atol=1e-12)
    # even kernel: TF "same" puts the extra pad at the bottom/right
    k2 = rng.standard_normal((2, 2))
    ref = filter2d_same(img, k2)
    padded = np.pad(img, ((0, 1), (0, 1)))
    np.testing.assert_allclose(ref[2, 3], (padded[2:4, 3:5] * k2).sum(), rtol=1e-12)


@needs_conv
@pytest.mark.parametrize("name", list(F.KERNELS))
@pytest.mark.parametrize("shape", [(9, 7), (1, 1), (5, 6, 3), (2, 4, 5, 2), (1, 3, 3, 1)])
def test_apply_matches_reference(name, shape):
    rng = np.random.default_rng(zlib.crc32(repr((name, shape)).encode()))
    img = rng.standard_normal(shape).astype(np.float32)
    y = F.apply(img, name)
    assert y.dtype == np.float32 and y.shape == img.shape
    assert_close(y, apply_ref(img, F.KERNELS[name]), rtol=1e-5, atol=1e-5, what="filters.apply(%s)" % name)


@needs_conv
def test_apply_uint8_and_custom_kernels():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    y = F.apply(img, F.edge3)
    assert y.dtype == np.float32
    assert_close(y, apply_ref(img, F.edge3), rtol=1e-6, atol=1e-3)
    k = rng.standard_normal((3, 3))                               # asymmetric: checks there is no flip
    assert_close(F.apply(img, k), apply_ref(img, k.astype(np.float32)), rtol=1e-5, atol=1e-3)
    k5 = rng.standard_normal((5, 2))                              # non-square, even width
    x = rng.standard_normal((3, 7, 6, 2)).astype(np.float32)
    assert_close(F.apply(x, k5), apply_ref(x, k5.astype(np.float32)), rtol=1e-5, atol=1e-5)


@needs_conv
def test_apply_identity_and_blur_of_constant():
    img = np.full((5, 5), 2.0, np.float32)
    np.testing.assert_array_equal(F.apply(img, "identity"), img)
    y = F.apply(img, "box_blur")
    assert abs(y[2, 2] - 2.0) < 1e-6 and abs(y[0, 0] - 2.0 * 4 / 9) < 1e-6   # zero padding at the corners


@needs_conv
def test_apply_nan_propagates():
    img = np.zeros((5, 5), np.float32)
    img[2, 2] = np.nan
    y = F.apply(img, "box_blur")
    assert np.isnan(y[1:4, 1:4]).all() and np.isfinite(y[0]).all()


def test_apply_bad_inputs():
    with pytest.raises(ValueError, match=r"filters.apply: image must be \(H, W\)"):
        F.apply(np.zeros(5), "edge1")
    with pytest.raises(ValueError, match=r"filters.apply: image must be"):
        F.apply(np.zeros((1, 2, 3, 4, 5)), "edge1")
    with pytest.raises(ValueError, match="filters.apply: image has a zero-sized"):
        F.apply(np.zeros((0, 4)), "edge1")
    with pytest.raises(TypeError, match="filters.apply: image must be a real numeric"):
        F.apply(np.array([["a", "b"]]), "edge1")
    with pytest.raises(ValueError, match="filters.get: unknown kernel"):
        F.apply(np.zeros((4, 4)), "nope")
    with pytest.raises(ValueError, match=r"filters.apply: kernel must be 2-D"):
        F.apply(np.zeros((4, 4)), np.ones(3))
    with pytest.raises(ValueError, match=r"filters.apply: kernel has non-finite"):
        F.apply(np.zeros((4, 4)), np.full((3, 3), np.inf))
