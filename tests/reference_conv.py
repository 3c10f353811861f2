"""Float64 references for the conv2d family: the spec.

Layouts: x (N,H,W,C) NHWC; w (KH,KW,C/groups,K) HWIO; b (K,); y (N,OH,OW,K).
Output channel k belongs to group g = k // (K/groups) and reads input channels
[g*C/groups, (g+1)*C/groups). padding: "valid", "same" (TensorFlow arithmetic:
out = ceil(in/stride), the odd pixel of padding goes bottom/right) or explicit
[top, bottom, left, right]. Written as plain loops over (group, kh, kw) and the
output pixels so that each term of the sum is visible.
"""
import numpy as np


def _pair(v):
    if np.isscalar(v):
        return int(v), int(v)
    v = list(v)
    return (int(v[0]), int(v[0])) if len(v) == 1 else (int(v[0]), int(v[1]))


def conv2d_resolve(H, W, KH, KW, strides=(1, 1), padding="valid", dilations=(1, 1)):
    """Return (pad_top, pad_bottom, pad_left, pad_right, OH, OW)."""
    sh, sw = _pair(strides)
    dh, dw = _pair(dilations)
    eh, ew = (KH - 1) * dh + 1, (KW - 1) * dw + 1
    if isinstance(padding, str) and padding.lower() == "valid":
        pads = (0, 0, 0, 0)
    elif isinstance(padding, str) and padding.lower() == "same":
        oh, ow = -(-H // sh), -(-W // sw)
        th = max((oh - 1) * sh + eh - H, 0)
        tw = max((ow - 1) * sw + ew - W, 0)
        pads = (th // 2, th - th // 2, tw // 2, tw - tw // 2)
    else:
        pads = tuple(int(p) for p in padding)
    pt, pb, pl, pr = pads
    OH = (H + pt + pb - eh) // sh + 1
    OW = (W + pl + pr - ew) // sw + 1
    return pt, pb, pl, pr, OH, OW


def conv2d_forward(x, w, b=None, strides=(1, 1), padding="valid", dilations=(1, 1), groups=1,
                   activation="none"):
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    N, H, W, C = x.shape
    KH, KW, Cg, K = w.shape
    assert C == Cg * groups and K % groups == 0
    Kg = K // groups
    sh, sw = _pair(strides)
    dh, dw = _pair(dilations)
    pt, pb, pl, pr, OH, OW = conv2d_resolve(H, W, KH, KW, strides, padding, dilations)
    y = np.zeros((N, OH, OW, K))
    for g in range(groups):
        for oh in range(OH):
            for ow in range(OW):
                acc = np.zeros((N, Kg))
                for kh in range(KH):
                    ih = oh * sh - pt + kh * dh
                    if ih < 0 or ih >= H:
                        continue
                    for kw in range(KW):
                        iw = ow * sw - pl + kw * dw
                        if iw < 0 or iw >= W:
                            continue
                        acc += x[:, ih, iw, g * Cg:(g + 1) * Cg] @ w[kh, kw, :, g * Kg:(g + 1) * Kg]
                y[:, oh, ow, g * Kg:(g + 1) * Kg] = acc
    if b is not None:
        y = y + np.asarray(b, np.float64)
    if activation == "relu":
        y = np.where(np.isnan(y), y, np.maximum(y, 0.0))
    return y


def conv2d_backward_input(dy, w, input_shape, strides=(1, 1), padding="valid", dilations=(1, 1), groups=1):
    """dx = d(sum(y * dy))/dx for y = conv2d_forward(x, w) (no bias, no activation)."""
    dy = np.asarray(dy, np.float64)
    w = np.asarray(w, np.float64)
    N, H, W, C = input_shape
    KH, KW, Cg, K = w.shape
    Kg = K // groups
    sh, sw = _pair(strides)
    dh, dw = _pair(dilations)
    pt, pb, pl, pr, OH, OW = conv2d_resolve(H, W, KH, KW, strides, padding, dilations)
    dx = np.zeros((N, H, W, C))
    for g in range(groups):
        for oh in range(OH):
            for ow in range(OW):
                d = dy[:, oh, ow, g * Kg:(g + 1) * Kg]
                for kh in range(KH):
                    ih = oh * sh - pt + kh * dh
                    if ih < 0 or ih >= H:
                        continue
                    for kw in range(KW):
                        iw = ow * sw - pl + kw * dw
                        if iw < 0 or iw >= W:
                            continue
                        dx[:, ih, iw, g * Cg:(g + 1) * Cg] += d @ w[kh, kw, :, g * Kg:(g + 1) * Kg].T
    return dx


def conv2d_backward_filter(dy, x, filter_shape, strides=(1, 1), padding="valid", dilations=(1, 1), groups=1):
    """dw = d(sum(y * dy))/dw for y = conv2d_forward(x, w)."""
    dy = np.asarray(dy, np.float64)
    x = np.asarray(x, np.float64)
    N, H, W, C = x.shape
    KH, KW, Cg, K = filter_shape
    Kg = K // groups
    sh, sw = _pair(strides)
    dh, dw_ = _pair(dilations)
    pt, pb, pl, pr, OH, OW = conv2d_resolve(H, W, KH, KW, strides, padding, dilations)
    dw = np.zeros((KH, KW, Cg, K))
    for g in range(groups):
        for oh in range(OH):
            for ow in range(OW):
                d = dy[:, oh, ow, g * Kg:(g + 1) * Kg]
                for kh in range(KH):
                    ih = oh * sh - pt + kh * dh
                    if ih < 0 or ih >= H:
                        continue
                    for kw in range(KW):
                        iw = ow * sw - pl + kw * dw_
                        if iw < 0 or iw >= W:
                            continue
                        dw[kh, kw, :, g * Kg:(g + 1) * Kg] += x[:, ih, iw, g * Cg:(g + 1) * Cg].T @ d
    return dw


def conv2d_backward_bias(dy):
    """db = sum of dy over every axis but the last."""
    dy = np.asarray(dy, np.float64)
    return dy.reshape(-1, dy.shape[-1]).sum(axis=0)
