"""Float64 reference for pyconvnet.filters.apply: per-channel 2-D
cross-correlation (no kernel flip) with TF "same" zero padding, written as
plain loops (the spec)."""
import numpy as np


def filter2d_same(img, k):
    """img (H, W), k (kh, kw) -> (H, W) float64; pad top/left = (k-1)//2, rest bottom/right."""
    img = np.asarray(img, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    h, w = img.shape
    kh, kw = k.shape
    top, left = (kh - 1) // 2, (kw - 1) // 2
    out = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            s = 0.0
            for u in range(kh):
                for v in range(kw):
                    ii, jj = i + u - top, j + v - left
                    if 0 <= ii < h and 0 <= jj < w:
                        s += img[ii, jj] * k[u, v]
            out[i, j] = s
    return out


def apply_ref(image, k):
    """Same layouts as filters.apply: (H,W), (H,W,C), (N,H,W,C); float64 result."""
    a = np.asarray(image, dtype=np.float64)
    if a.ndim == 2:
        return filter2d_same(a, k)
    if a.ndim == 3:
        return np.stack([filter2d_same(a[:, :, c], k) for c in range(a.shape[2])], axis=2)
    return np.stack([apply_ref(a[n], k) for n in range(a.shape[0])], axis=0)
