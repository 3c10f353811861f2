"""Float64 references: pool family (the spec; plain loops over output windows).

Windows: rows [oh*sh - top, +kh), cols [ow*sw - left, +kw), channels
[oc*sc, oc*sc + kc) (depth never padded). Max ignores padding; avg divides by
the count of non-padding elements (TensorFlow); an all-padding window outputs 0
and gets no gradient. Max backward routes dy to the first maximum in row-major
(kh, kw, kc) order (np.argmax: a NaN counts as the maximum, first one wins).
"""
import numpy as np

__all__ = ["pool_padding", "pool2d_out_shape", "pool2d_forward", "pool2d_backward",
           "global_pool_forward", "global_pool_backward"]


def _triple(v):
    v = tuple(int(a) for a in v)
    return v if len(v) == 3 else v + (1,)


def pool_padding(H, W, ksize, strides, padding):
    """(top, bottom, left, right, OH, OW) with TF's arithmetic for 'same'."""
    kh, kw, _ = _triple(ksize)
    sh, sw, _ = _triple(strides)
    if isinstance(padding, str):
        if padding.lower() == "valid":
            return 0, 0, 0, 0, (H - kh) // sh + 1, (W - kw) // sw + 1
        oh, ow = -(-H // sh), -(-W // sw)
        ph = max((oh - 1) * sh + kh - H, 0)
        pw = max((ow - 1) * sw + kw - W, 0)
        return ph // 2, ph - ph // 2, pw // 2, pw - pw // 2, oh, ow
    t, b, l, r = padding
    return t, b, l, r, (H + t + b - kh) // sh + 1, (W + l + r - kw) // sw + 1


def pool2d_out_shape(xshape, ksize, strides, padding):
    N, H, W, C = xshape
    _, _, kc = _triple(ksize)
    _, _, sc = _triple(strides)
    *_, OH, OW = pool_padding(H, W, ksize, strides, padding)
    return (N, OH, OW, (C - kc) // sc + 1)


def _windows(xshape, ksize, strides, padding):
    """Yield (oh, ow, oc, h0, h1, w0, w1, c0, c1) with the valid input ranges."""
    N, H, W, C = xshape
    kh, kw, kc = _triple(ksize)
    sh, sw, sc = _triple(strides)
    t, _, l, _, OH, OW = pool_padding(H, W, ksize, strides, padding)
    OC = (C - kc) // sc + 1
    for oh in range(OH):
        hs = oh * sh - t
        for ow in range(OW):
            ws = ow * sw - l
            for oc in range(OC):
                yield (oh, ow, oc, max(hs, 0), min(hs + kh, H), max(ws, 0), min(ws + kw, W),
                       oc * sc, oc * sc + kc)


def pool2d_forward(x, mode, ksize, strides, padding):
    x = np.asarray(x, np.float64)
    y = np.zeros(pool2d_out_shape(x.shape, ksize, strides, padding))
    for oh, ow, oc, h0, h1, w0, w1, c0, c1 in _windows(x.shape, ksize, strides, padding):
        if h0 >= h1 or w0 >= w1:
            continue  # all padding: 0
        win = x[:, h0:h1, w0:w1, c0:c1].reshape(x.shape[0], -1)
        y[:, oh, ow, oc] = win.max(axis=1) if mode == "max" else win.mean(axis=1)
    return y


def pool2d_backward(dy, x, mode, ksize, strides, padding):
    x = np.asarray(x, np.float64)
    dy = np.asarray(dy, np.float64)
    dx = np.zeros_like(x)
    N = x.shape[0]
    for oh, ow, oc, h0, h1, w0, w1, c0, c1 in _windows(x.shape, ksize, strides, padding):
        if h0 >= h1 or w0 >= w1:
            continue
        g = dy[:, oh, ow, oc]
        if mode == "max":
            win = x[:, h0:h1, w0:w1, c0:c1]
            for n in range(N):
                i, j, k = np.unravel_index(np.argmax(win[n]), win[n].shape)
                dx[n, h0 + i, w0 + j, c0 + k] += g[n]
        else:
            cnt = (h1 - h0) * (w1 - w0) * (c1 - c0)
            dx[:, h0:h1, w0:w1, c0:c1] += (g / cnt)[:, None, None, None]
    return dx


def global_pool_forward(x, mode):
    x = np.asarray(x, np.float64)
    return x.max(axis=(1, 2)) if mode == "max" else x.mean(axis=(1, 2))


def global_pool_backward(dy, x, mode):
    x = np.asarray(x, np.float64)
    dy = np.asarray(dy, np.float64)
    N, H, W, C = x.shape
    if mode == "avg":
        return np.broadcast_to(dy[:, None, None, :] / (H * W), x.shape).copy()
    dx = np.zeros_like(x)
    flat = x.reshape(N, H * W, C)
    for n in range(N):
        for c in range(C):
            i = int(np.argmax(flat[n, :, c]))
            dx[n, i // W, i % W, c] = dy[n, c]
    return dx
