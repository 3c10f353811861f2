"""Float64 references: recurrent cells over a sequence (Keras 3 semantics).

Step-by-step loops, written to be read: these ARE the spec.
Shapes: x (N,T,I); kernel (I, G*U); recurrent_kernel (U, G*U); bias (G*U,) or
(2, 3U) for GRU reset_after (row 0 input bias, row 1 recurrent bias).
LSTM gates i, f, c, o; GRU gates z, r, h. go_backwards processes t = T-1..0 and
the returned sequence is in processing order (as Keras).
"""
import numpy as np


def _sigmoid(v):
    with np.errstate(over="ignore"):  # exp(-v) -> inf gives the right limit 0
        return 1.0 / (1.0 + np.exp(-v))


def _steps(T, go_backwards):
    return range(T - 1, -1, -1) if go_backwards else range(T)


def simple_rnn(x, kernel, recurrent_kernel, bias=None, h0=None, activation="tanh", go_backwards=False):
    """h_t = act(x_t W + h_{t-1} U + b). Returns (outputs (N,T,U), h_T)."""
    x = np.asarray(x, np.float64)
    W = np.asarray(kernel, np.float64)
    R = np.asarray(recurrent_kernel, np.float64)
    N, T, _ = x.shape
    U = R.shape[0]
    b = np.zeros(U) if bias is None else np.asarray(bias, np.float64)
    h = np.zeros((N, U)) if h0 is None else np.asarray(h0, np.float64)
    act = np.tanh if activation == "tanh" else (lambda v: np.maximum(v, 0.0))
    outs = []
    for t in _steps(T, go_backwards):
        h = act(x[:, t] @ W + h @ R + b)
        outs.append(h)
    return np.stack(outs, axis=1), h


def lstm(x, kernel, recurrent_kernel, bias=None, h0=None, c0=None, go_backwards=False):
    """z = x_t W + h U + b split (i, f, c, o); c = f*c + i*tanh(z_c);
    h = o*tanh(c). Returns (outputs, h_T, c_T)."""
    x = np.asarray(x, np.float64)
    W = np.asarray(kernel, np.float64)
    R = np.asarray(recurrent_kernel, np.float64)
    N, T, _ = x.shape
    U = R.shape[0]
    b = np.zeros(4 * U) if bias is None else np.asarray(bias, np.float64)
    h = np.zeros((N, U)) if h0 is None else np.asarray(h0, np.float64)
    c = np.zeros((N, U)) if c0 is None else np.asarray(c0, np.float64)
    outs = []
    for t in _steps(T, go_backwards):
        z = x[:, t] @ W + h @ R + b
        i = _sigmoid(z[:, :U])
        f = _sigmoid(z[:, U:2 * U])
        g = np.tanh(z[:, 2 * U:3 * U])
        o = _sigmoid(z[:, 3 * U:])
        c = f * c + i * g
        h = o * np.tanh(c)
        outs.append(h)
    return np.stack(outs, axis=1), h, c


def gru(x, kernel, recurrent_kernel, bias=None, h0=None, go_backwards=False, reset_after=True):
    """Keras 3 GRU (gates z, r, h). reset_after=True: bias (2,3U),
    hh = tanh(xW_h + b_in_h + r*(h U_h + b_rec_h)); False: bias (3U,),
    hh = tanh(xW_h + b_h + (r*h) U_h). h = z*h_prev + (1-z)*hh.
    Returns (outputs, h_T)."""
    x = np.asarray(x, np.float64)
    W = np.asarray(kernel, np.float64)
    R = np.asarray(recurrent_kernel, np.float64)
    N, T, _ = x.shape
    U = R.shape[0]
    if bias is None:
        b_in, b_rec = np.zeros(3 * U), np.zeros(3 * U)
    elif reset_after:
        b_in, b_rec = np.asarray(bias, np.float64)[0], np.asarray(bias, np.float64)[1]
    else:
        b_in, b_rec = np.asarray(bias, np.float64), np.zeros(3 * U)
    h = np.zeros((N, U)) if h0 is None else np.asarray(h0, np.float64)
    outs = []
    for t in _steps(T, go_backwards):
        xz = x[:, t] @ W + b_in
        if reset_after:
            hz = h @ R + b_rec
            z = _sigmoid(xz[:, :U] + hz[:, :U])
            r = _sigmoid(xz[:, U:2 * U] + hz[:, U:2 * U])
            hh = np.tanh(xz[:, 2 * U:] + r * hz[:, 2 * U:])
        else:
            z = _sigmoid(xz[:, :U] + h @ R[:, :U])
            r = _sigmoid(xz[:, U:2 * U] + h @ R[:, U:2 * U])
            hh = np.tanh(xz[:, 2 * U:] + (r * h) @ R[:, 2 * U:])
        h = z * h + (1.0 - z) * hh
        outs.append(h)
    return np.stack(outs, axis=1), h


def rnn_forward(x, kernel, recurrent_kernel, bias=None, h0=None, c0=None, cell="simple_tanh",
                go_backwards=False, reset_after=True):
    """Same contract as _C.rnn_forward minus the workspace: (outputs, h_T, c_T or None)."""
    if cell in ("simple_tanh", "simple_relu"):
        o, h = simple_rnn(x, kernel, recurrent_kernel, bias, h0, cell[7:], go_backwards)
        return o, h, None
    if cell == "lstm":
        return lstm(x, kernel, recurrent_kernel, bias, h0, c0, go_backwards)
    if cell == "gru":
        o, h = gru(x, kernel, recurrent_kernel, bias, h0, go_backwards, reset_after)
        return o, h, None
    raise ValueError(cell)
