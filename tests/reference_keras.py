"""Float64 NumPy references for the Keras layers (the spec). Forward only:
gradients in the tests come from central differences of these functions.

Layouts: NHWC, HWIO kernels, Keras 3 weight lists; TF "same" padding (extra
pad at the bottom/right)."""
import numpy as np


def _pads(n, k, s, d, padding):
    ke = (k - 1) * d + 1
    if padding == "valid":
        return 0, 0
    out = -(-n // s)
    tot = max((out - 1) * s + ke - n, 0)
    return tot // 2, tot - tot // 2


def conv2d(x, w, b=None, strides=(1, 1), padding="valid", dilation=(1, 1), groups=1):
    """x (N,H,W,C), w (KH,KW,C/groups,F) -> (N,OH,OW,F); plain loops over the kernel window."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    n, h, wd, c = x.shape
    kh, kw, cg, f = w.shape
    t, bt = _pads(h, kh, strides[0], dilation[0], padding)
    l, r = _pads(wd, kw, strides[1], dilation[1], padding)
    xp = np.pad(x, ((0, 0), (t, bt), (l, r), (0, 0)))
    oh = (h + t + bt - ((kh - 1) * dilation[0] + 1)) // strides[0] + 1
    ow = (wd + l + r - ((kw - 1) * dilation[1] + 1)) // strides[1] + 1
    y = np.zeros((n, oh, ow, f))
    fg = f // groups
    for g in range(groups):
        xs = xp[..., g * cg:(g + 1) * cg]
        for i in range(kh):
            for j in range(kw):
                hi = i * dilation[0]
                wj = j * dilation[1]
                patch = xs[:, hi:hi + strides[0] * (oh - 1) + 1:strides[0], wj:wj + strides[1] * (ow - 1) + 1:strides[1], :]
                y[..., g * fg:(g + 1) * fg] += patch @ w[i, j, :, g * fg:(g + 1) * fg]
    if b is not None:
        y += b
    return y


def depthwise_conv2d(x, dw, b=None, strides=(1, 1), padding="valid", dilation=(1, 1)):
    kh, kw, c, m = dw.shape
    return conv2d(x, np.asarray(dw).reshape(kh, kw, 1, c * m), b, strides, padding, dilation, groups=c)


def pool2d(x, mode, k, s, padding):
    x = np.asarray(x, np.float64)
    n, h, w, c = x.shape
    t, bt = _pads(h, k[0], s[0], 1, padding)
    l, r = _pads(w, k[1], s[1], 1, padding)
    oh = (h + t + bt - k[0]) // s[0] + 1
    ow = (w + l + r - k[1]) // s[1] + 1
    y = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            h0, w0 = i * s[0] - t, j * s[1] - l
            win = x[:, max(h0, 0):min(h0 + k[0], h), max(w0, 0):min(w0 + k[1], w), :]
            y[:, i, j] = win.max(axis=(1, 2)) if mode == "max" else win.mean(axis=(1, 2))
    return y


def depth_max_pool(x, k):
    n, h, w, c = x.shape
    return np.asarray(x, np.float64).reshape(n, h, w, c // k, k).max(-1)


def batch_norm(x, gamma, beta, mean, var, eps, training):
    x = np.asarray(x, np.float64)
    ax = tuple(range(x.ndim - 1))
    if training:
        mean, var = x.mean(ax), x.var(ax)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def lrn(x, r=5, bias=1.0, alpha=1.0, beta=0.5):
    x = np.asarray(x, np.float64)
    c = x.shape[-1]
    s = np.zeros_like(x)
    for i in range(c):
        s[..., i] = (x[..., max(0, i - r):min(c, i + r + 1)] ** 2).sum(-1)
    return x / (bias + alpha * s) ** beta


def softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


ACT = {
    "linear": lambda x: x, "relu": lambda x: np.maximum(x, 0), "tanh": np.tanh, "sigmoid": sigmoid,
    "softmax": softmax, "elu": lambda x: np.where(x > 0, x, np.exp(x) - 1),
    "selu": lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * (np.exp(x) - 1)),
    "softplus": lambda x: np.log1p(np.exp(x)), "swish": lambda x: x * sigmoid(x),
    "relu6": lambda x: np.clip(x, 0, 6), "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x),
}


def dense(x, w, b=None, act="linear"):
    y = np.asarray(x, np.float64) @ w
    if b is not None:
        y = y + b
    return ACT[act](y)


def simple_rnn(x, k, rk, b, act="tanh", go_backwards=False, return_sequences=False):
    x = np.asarray(x, np.float64)
    n, t, _ = x.shape
    h = np.zeros((n, rk.shape[0]))
    outs = []
    steps = range(t - 1, -1, -1) if go_backwards else range(t)
    for i in steps:
        h = ACT[act](x[:, i] @ k + h @ rk + b)
        outs.append(h)
    return np.stack(outs, 1) if return_sequences else h


def lstm(x, k, rk, b, go_backwards=False, return_sequences=False):
    x = np.asarray(x, np.float64)
    n, t, _ = x.shape
    u = rk.shape[0]
    h = np.zeros((n, u))
    c = np.zeros((n, u))
    outs = []
    for i in (range(t - 1, -1, -1) if go_backwards else range(t)):
        z = x[:, i] @ k + h @ rk + b
        ig, fg, cg, og = sigmoid(z[:, :u]), sigmoid(z[:, u:2 * u]), np.tanh(z[:, 2 * u:3 * u]), sigmoid(z[:, 3 * u:])
        c = fg * c + ig * cg
        h = og * np.tanh(c)
        outs.append(h)
    return np.stack(outs, 1) if return_sequences else h


def gru(x, k, rk, b, go_backwards=False, return_sequences=False):
    """Keras 3 GRU, reset_after=True: bias (2, 3u) = input bias, recurrent bias."""
    x = np.asarray(x, np.float64)
    n, t, _ = x.shape
    u = rk.shape[0]
    h = np.zeros((n, u))
    outs = []
    for i in (range(t - 1, -1, -1) if go_backwards else range(t)):
        xz = x[:, i] @ k + b[0]
        hz = h @ rk + b[1]
        z = sigmoid(xz[:, :u] + hz[:, :u])
        r = sigmoid(xz[:, u:2 * u] + hz[:, u:2 * u])
        hh = np.tanh(xz[:, 2 * u:] + r * hz[:, 2 * u:])
        h = z * h + (1 - z) * hh
        outs.append(h)
    return np.stack(outs, 1) if return_sequences else h


def embedding(ids, e):
    return np.asarray(e, np.float64)[np.asarray(ids)]


def mse(pred, target):
    return np.mean((np.asarray(pred, np.float64) - target) ** 2)


def sparse_ce_probs(p, labels):
    p = np.clip(p / p.sum(-1, keepdims=True), 1e-7, 1 - 1e-7)
    return -np.mean(np.log(p[np.arange(len(labels)), labels]))


def fd_grads(loss_of_weights, weights, eps=1e-6):
    """Central-difference gradients of loss_of_weights(list of float64 arrays)."""
    ws = [np.array(w, np.float64) for w in weights]
    out = []
    for w in ws:
        g = np.zeros_like(w)
        flat, gf = w.reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            lp = loss_of_weights(ws)
            flat[i] = old - eps
            lm = loss_of_weights(ws)
            flat[i] = old
            gf[i] = (lp - lm) / (2 * eps)
        out.append(g)
    return out
