"""Classical 3x3 image kernels, applied with pyconvnet's own convolution.

    import pyconvnet.filters as F
    edges = F.apply(image, "edge3")          # or F.apply(image, F.KERNELS["edge3"])

Kernels (float32, shape (3, 3)):

    identity       [[0,0,0],[0,1,0],[0,0,0]]
    edge1          [[1,0,-1],[0,0,0],[-1,0,1]]       diagonal edges
    edge2          [[0,1,0],[1,-4,1],[0,1,0]]        Laplacian, 4-neighbour
    edge3          [[-1,-1,-1],[-1,8,-1],[-1,-1,-1]] Laplacian, 8-neighbour
    sharpen        [[0,-1,0],[-1,5,-1],[0,-1,0]]
    box_blur       ones((3,3)) / 9
    gaussian_blur  [[1,2,1],[2,4,2],[1,2,1]] / 16

``apply`` is a cross-correlation, as in TensorFlow/Keras and most CNN code:
out[i, j] = sum_{u,v} image[i+u-1, j+v-1] * kernel[u, v] (no kernel flip). All the
kernels above are symmetric under a 180-degree rotation, so for them it equals a
true convolution; for your own asymmetric kernels it does not.
"""
import numpy as np

__all__ = ["KERNELS", "get", "apply", "identity", "edge1", "edge2", "edge3",
           "sharpen", "box_blur", "gaussian_blur"]


def _k(rows, scale=1.0):
    a = np.array(rows, dtype=np.float32) * np.float32(scale)
    a.setflags(write=False)
    return a


identity = _k([[0, 0, 0], [0, 1, 0], [0, 0, 0]])
edge1 = _k([[1, 0, -1], [0, 0, 0], [-1, 0, 1]])
edge2 = _k([[0, 1, 0], [1, -4, 1], [0, 1, 0]])
edge3 = _k([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]])
sharpen = _k([[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
box_blur = _k(np.ones((3, 3)), 1.0 / 9.0)
gaussian_blur = _k([[1, 2, 1], [2, 4, 2], [1, 2, 1]], 1.0 / 16.0)

#: name -> read-only float32 (3, 3) kernel, in display order.
KERNELS = {
    "identity": identity, "edge1": edge1, "edge2": edge2, "edge3": edge3,
    "sharpen": sharpen, "box_blur": box_blur, "gaussian_blur": gaussian_blur,
}


def get(name):
    """The kernel called `name` (see KERNELS), as a writable float32 (3, 3) copy."""
    try:
        return KERNELS[name].copy()
    except (KeyError, TypeError):
        raise ValueError("filters.get: unknown kernel %r; known: %s" % (name, ", ".join(KERNELS))) from None


def _kernel_array(kernel):
    if isinstance(kernel, str):
        return get(kernel)
    try:
        k = np.asarray(kernel)
    except Exception as e:
        raise TypeError("filters.apply: kernel could not be converted to an array (%s)" % e) from None
    if k.dtype.kind not in "biuf":
        raise TypeError("filters.apply: kernel must be a name or a real numeric array, got dtype %s" % k.dtype)
    if k.ndim != 2 or k.size == 0:
        raise ValueError("filters.apply: kernel must be 2-D (kh, kw) with kh, kw >= 1, got shape %s" % (k.shape,))
    if not np.all(np.isfinite(k)):
        raise ValueError("filters.apply: kernel has non-finite values")
    return k.astype(np.float32)


def apply(image, kernel):
    """Filter every channel of `image` with `kernel` ("same" zero padding).

    image: (H, W), (H, W, C) or (N, H, W, C), any real numeric dtype (converted
      once to float32; uint8 stays on its 0..255 scale).
    kernel: a name from KERNELS or a 2-D array (kh, kw); cross-correlation, no flip.
    Returns float32 with the layout of `image`.

    Runs pyconvnet's depthwise convolution:
    ``_C.conv2d_forward(x, w, None, (1, 1), "same", (1, 1), groups=C)`` with
    x (N, H, W, C) and w (kh, kw, 1, C) the kernel repeated per channel. For
    even kernel sizes "same" pads the extra row/column at the bottom/right (TF).
    """
    from . import _C
    from .ops import as_tensor

    k = _kernel_array(kernel)
    try:
        a = np.asarray(image)
    except Exception as e:
        raise TypeError("filters.apply: image could not be converted to an array (%s)" % e) from None
    if a.dtype.kind not in "biuf":
        raise TypeError("filters.apply: image must be a real numeric array, got dtype %s" % a.dtype)
    if a.ndim == 2:
        x = a[None, :, :, None]
    elif a.ndim == 3:
        x = a[None]
    elif a.ndim == 4:
        x = a
    else:
        raise ValueError("filters.apply: image must be (H, W), (H, W, C) or (N, H, W, C), got shape %s" % (a.shape,))
    if x.size == 0:
        raise ValueError("filters.apply: image has a zero-sized dimension: shape %s" % (a.shape,))
    c = x.shape[3]
    if not hasattr(_C, "conv2d_forward"):
        raise RuntimeError("filters.apply: this build of pyconvnet._C has no conv2d_forward (the conv kernels "
                           "are not compiled in); rebuild pyconvnet")
    tx, _ = as_tensor(x, "filters.apply", "image")
    w = np.ascontiguousarray(np.repeat(k[:, :, None, None], c, axis=3))  # (kh, kw, 1, C)
    tw, _ = as_tensor(w, "filters.apply", "kernel")
    y = np.asarray(_C.conv2d_forward(tx, tw, None, (1, 1), "same", (1, 1), c))
    return y.reshape(a.shape)
