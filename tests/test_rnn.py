"""RNN family (SimpleRNN tanh/relu, LSTM, GRU reset_after True/False): forward
against the float64 step-loop reference, backward through time against finite
differences of that reference, a second opinion from torch.nn, bad inputs."""
import zlib

import numpy as np
import pytest

import pyconvnet as pcn
import reference_rnn as ref
from gradcheck import assert_grad_close, numeric_grad, sample_indices
from tolerance import assert_close

_C = pcn._C

# (name, _C cell, reset_after, gates)
CELLS = [("simple_tanh", "simple_tanh", True, 1), ("simple_relu", "simple_relu", True, 1),
         ("lstm", "lstm", True, 4), ("gru", "gru", True, 3), ("gru_v1", "gru", False, 3)]
CELL_IDS = [c[0] for c in CELLS]


def make(cell, N, T, I, U, rng, bias=True, state=True, scale=0.5):
    _, c, ra, G = cell
    f = lambda *s: (rng.standard_normal(s) * scale).astype(np.float32)  # noqa: E731
    d = dict(x=f(N, T, I) * 2, kernel=f(I, G * U), recurrent_kernel=f(U, G * U))
    d["bias"] = (f(2, G * U) if (c == "gru" and ra) else f(G * U)) if bias else None
    d["h0"] = f(N, U) if state else None
    d["c0"] = f(N, U) if (state and c == "lstm") else None
    return d


def T_(a):
    return None if a is None else pcn.tensor(a)


def run_fwd(cell, d, gb):
    _, c, ra, _ = cell
    return _C.rnn_forward(T_(d["x"]), T_(d["kernel"]), T_(d["recurrent_kernel"]), T_(d["bias"]), T_(d["h0"]),
                          T_(d["c0"]), c, gb, ra)


def ref_fwd(cell, d, gb):
    _, c, ra, _ = cell
    return ref.rnn_forward(d["x"], d["kernel"], d["recurrent_kernel"], d["bias"], d["h0"], d["c0"], c, gb, ra)


FWD_SHAPES = [(1, 1, 1, 1), (2, 7, 3, 5), (3, 4, 6, 2), (1, 5, 4, 3), (4, 3, 2, 7)]


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("gb", [False, True], ids=["fwd", "go_backwards"])
@pytest.mark.parametrize("state", [False, True], ids=["zero_state", "initial_state"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("shape", FWD_SHAPES, ids=lambda s: "N%dT%dI%dU%d" % s)
def test_forward_matches_reference(cell, gb, state, bias, shape):
    rng = np.random.default_rng(zlib.crc32(repr((cell[0], gb, state, bias, shape)).encode()))
    d = make(cell, *shape, rng, bias=bias, state=state)
    out, hT, cT, ws = run_fwd(cell, d, gb)
    ro, rh, rc = ref_fwd(cell, d, gb)
    assert_close(out, ro, rtol=1e-4, atol=1e-5, what="outputs")
    assert_close(hT, rh, rtol=1e-4, atol=1e-5, what="h_T")
    if cell[1] == "lstm":
        assert_close(cT, rc, rtol=1e-4, atol=1e-5, what="c_T")
    else:
        assert cT is None
    assert ws.ndim == 1 and ws.dtype == "float32"


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
def test_forward_larger_every_simd(simd, cell):
    """Sizes where the GEMMs use their packed paths and the gate loops go parallel."""
    rng = np.random.default_rng(7)
    d = make(cell, 33, 6, 17, 40, rng, scale=0.2)
    out, hT, _, _ = run_fwd(cell, d, False)
    ro, rh, _ = ref_fwd(cell, d, False)
    assert_close(out, ro, rtol=1e-4, atol=3e-5)
    assert_close(hT, rh, rtol=1e-4, atol=3e-5)


# ------------------------------------------------------------------ backward
ARGS = ["x", "kernel", "recurrent_kernel", "bias", "h0", "c0"]


def check_backward(cell, d, gb, mode, rng, sample=None):
    _, c, ra, _ = cell
    N, T, _ = d["x"].shape
    U = d["recurrent_kernel"].shape[0]
    g_out = rng.standard_normal((N, T, U)) if mode in ("outputs", "both") else np.zeros((N, T, U))
    g_h = rng.standard_normal((N, U)) if mode in ("hT", "both") else np.zeros((N, U))
    g_c = rng.standard_normal((N, U)) if (c == "lstm" and mode in ("hT", "cT", "both")) else np.zeros((N, U))
    out, hT, cT, ws = run_fwd(cell, d, gb)
    dout = T_(g_out.astype(np.float32)) if mode in ("outputs", "both") else None
    dhT = T_(g_h.astype(np.float32)) if mode in ("hT", "both") else None
    dcT = T_(g_c.astype(np.float32)) if (c == "lstm" and mode in ("hT", "cT", "both")) else None
    grads = _C.rnn_backward(dout, dhT, dcT, T_(d["x"]), T_(d["kernel"]), T_(d["recurrent_kernel"]), T_(d["bias"]),
                            T_(d["h0"]), T_(d["c0"]), ws, c, gb, ra)
    g_all = np.concatenate([g_out.ravel(), g_h.ravel(), g_c.ravel()])
    for name, g in zip(ARGS, grads):
        if d[name] is None:
            assert g is None, "%s: gradient returned for an absent input" % name
            continue
        assert g is not None and tuple(g.shape) == d[name].shape, name

        def f(v, name=name):
            dd = {k: (None if a is None else np.asarray(a, np.float64)) for k, a in d.items()}
            dd[name] = v
            o, h, cc = ref_fwd(cell, dd, gb)
            return np.concatenate([o.ravel(), h.ravel(), (cc if cc is not None else np.zeros_like(h)).ravel()])

        idx = None if sample is None else sample_indices(d[name].size, sample, rng)
        num = numeric_grad(f, d[name], g_all, eps=1e-6, indices=idx)
        assert_grad_close(np.asarray(g), num, rtol=2e-3, atol=2e-4, what="%s d%s (%s)" % (cell[0], name, mode))


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("gb", [False, True], ids=["fwd", "go_backwards"])
@pytest.mark.parametrize("mode", ["outputs", "hT", "both"])
@pytest.mark.parametrize("state", [False, True], ids=["zero_state", "initial_state"])
def test_backward_exhaustive_tiny(cell, gb, mode, state):
    rng = np.random.default_rng(zlib.crc32(repr((cell[0], gb, mode, state)).encode()))
    d = make(cell, 2, 3, 2, 2, rng, state=state)
    check_backward(cell, d, gb, mode, rng)


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("gb", [False, True], ids=["fwd", "go_backwards"])
def test_backward_sampled_odd_sizes(cell, gb):
    rng = np.random.default_rng(11 + gb)
    d = make(cell, 3, 7, 3, 5, rng)
    check_backward(cell, d, gb, "both", rng, sample=25)


@pytest.mark.parametrize("gb", [False, True], ids=["fwd", "go_backwards"])
def test_lstm_backward_d_cT_only(gb):
    rng = np.random.default_rng(17)
    d = make(CELLS[2], 2, 4, 3, 3, rng)
    check_backward(CELLS[2], d, gb, "cT", rng)


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
def test_backward_batch1_T1_no_bias(simd, cell):
    rng = np.random.default_rng(5)
    d = make(cell, 1, 1, 3, 4, rng, bias=False)
    check_backward(cell, d, False, "both", rng)


def test_backward_parallel_size_lstm_sampled(simd):
    """Large enough that the per-step loops run under OpenMP."""
    rng = np.random.default_rng(9)
    cell = CELLS[2]
    d = make(cell, 40, 3, 5, 110, rng, scale=0.15)
    check_backward(cell, d, True, "both", rng, sample=12)


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
def test_row_partitioned_path(cell):
    """Enough rows and work that threads own batch-row ranges for the whole sequence."""
    rng = np.random.default_rng(21)
    d = make(cell, 17, 12, 5, 80, rng, scale=0.15)
    out, hT, cT, _ = run_fwd(cell, d, True)
    ro, rh, rc = ref_fwd(cell, d, True)
    assert_close(out, ro, rtol=1e-4, atol=3e-5)
    check_backward(cell, d, True, "both", rng, sample=8)


def test_backward_no_gradients_in_gives_zeros():
    rng = np.random.default_rng(1)
    for cell in CELLS:
        d = make(cell, 2, 3, 2, 3, rng)
        *_, ws = run_fwd(cell, d, False)
        g = _C.rnn_backward(None, None, None, T_(d["x"]), T_(d["kernel"]), T_(d["recurrent_kernel"]),
                            T_(d["bias"]), T_(d["h0"]), T_(d["c0"]), ws, cell[1], False, cell[2])
        for a in g:
            if a is not None:
                np.testing.assert_array_equal(np.asarray(a), 0.0)


# ------------------------------------------------------------------ torch (second opinion)
try:
    import torch
except ImportError:  # the float64 reference tests above and below still run
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed (second-opinion oracle)")


@needs_torch
def test_lstm_matches_torch():
    rng = np.random.default_rng(3)
    N, T, I, U = 3, 6, 5, 7
    d = make(CELLS[2], N, T, I, U, rng)
    m = torch.nn.LSTM(I, U, batch_first=True)
    with torch.no_grad():  # torch gates i, f, g, o == Keras i, f, c, o
        m.weight_ih_l0.copy_(torch.from_numpy(d["kernel"].T.copy()))
        m.weight_hh_l0.copy_(torch.from_numpy(d["recurrent_kernel"].T.copy()))
        m.bias_ih_l0.copy_(torch.from_numpy(d["bias"]))
        m.bias_hh_l0.zero_()
        o, (h, c) = m(torch.from_numpy(d["x"]), (torch.from_numpy(d["h0"])[None], torch.from_numpy(d["c0"])[None]))
    out, hT, cT, _ = run_fwd(CELLS[2], d, False)
    assert_close(out, o.numpy(), rtol=1e-4, atol=1e-5)
    assert_close(hT, h[0].numpy(), rtol=1e-4, atol=1e-5)
    assert_close(cT, c[0].numpy(), rtol=1e-4, atol=1e-5)


@needs_torch
def test_gru_matches_torch():
    rng = np.random.default_rng(4)
    N, T, I, U = 2, 5, 4, 6
    d = make(CELLS[3], N, T, I, U, rng)
    K, R, B = d["kernel"], d["recurrent_kernel"], d["bias"]

    def zr_h_to_rzn(w):  # Keras columns [z, r, h] -> torch rows [r, z, n]
        z, r, h = np.split(w, 3, axis=-1)
        return np.concatenate([r, z, h], axis=-1)

    m = torch.nn.GRU(I, U, batch_first=True)
    with torch.no_grad():  # torch's GRU applies r after the recurrent matmul: Keras reset_after=True
        m.weight_ih_l0.copy_(torch.from_numpy(zr_h_to_rzn(K).T.copy()))
        m.weight_hh_l0.copy_(torch.from_numpy(zr_h_to_rzn(R).T.copy()))
        m.bias_ih_l0.copy_(torch.from_numpy(zr_h_to_rzn(B[0])))
        m.bias_hh_l0.copy_(torch.from_numpy(zr_h_to_rzn(B[1])))
        o, h = m(torch.from_numpy(d["x"]), torch.from_numpy(d["h0"])[None])
    out, hT, _, _ = run_fwd(CELLS[3], d, False)
    assert_close(out, o.numpy(), rtol=1e-4, atol=1e-5)
    assert_close(hT, h[0].numpy(), rtol=1e-4, atol=1e-5)


@needs_torch
@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_simple_rnn_matches_torch(act):
    rng = np.random.default_rng(6)
    N, T, I, U = 2, 5, 3, 4
    cell = CELLS[0] if act == "tanh" else CELLS[1]
    d = make(cell, N, T, I, U, rng)
    m = torch.nn.RNN(I, U, nonlinearity=act, batch_first=True)
    with torch.no_grad():
        m.weight_ih_l0.copy_(torch.from_numpy(d["kernel"].T.copy()))
        m.weight_hh_l0.copy_(torch.from_numpy(d["recurrent_kernel"].T.copy()))
        m.bias_ih_l0.copy_(torch.from_numpy(d["bias"]))
        m.bias_hh_l0.zero_()
        o, h = m(torch.from_numpy(d["x"]), torch.from_numpy(d["h0"])[None])
    out, hT, _, _ = run_fwd(cell, d, False)
    assert_close(out, o.numpy(), rtol=1e-4, atol=1e-5)


@needs_torch
def test_lstm_backward_matches_torch_autograd():
    rng = np.random.default_rng(8)
    N, T, I, U = 4, 5, 3, 6
    d = make(CELLS[2], N, T, I, U, rng)
    x = torch.tensor(d["x"], requires_grad=True)
    m = torch.nn.LSTM(I, U, batch_first=True)
    with torch.no_grad():
        m.weight_ih_l0.copy_(torch.from_numpy(d["kernel"].T.copy()))
        m.weight_hh_l0.copy_(torch.from_numpy(d["recurrent_kernel"].T.copy()))
        m.bias_ih_l0.copy_(torch.from_numpy(d["bias"]))
        m.bias_hh_l0.zero_()
    o, _ = m(x, (torch.from_numpy(d["h0"])[None], torch.from_numpy(d["c0"])[None]))
    g = rng.standard_normal(o.shape).astype(np.float32)
    o.backward(torch.from_numpy(g))
    *_, ws = run_fwd(CELLS[2], d, False)
    dx, dk, dr, db, _, _ = _C.rnn_backward(T_(g), None, None, T_(d["x"]), T_(d["kernel"]), T_(d["recurrent_kernel"]),
                                           T_(d["bias"]), T_(d["h0"]), T_(d["c0"]), ws, "lstm", False, True)
    assert_close(dx, x.grad.numpy(), rtol=1e-4, atol=1e-5)
    assert_close(dk, m.weight_ih_l0.grad.numpy().T, rtol=1e-4, atol=1e-5)
    assert_close(dr, m.weight_hh_l0.grad.numpy().T, rtol=1e-4, atol=1e-5)
    assert_close(db, m.bias_ih_l0.grad.numpy(), rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------ Python API
def test_functional_api_numpy_and_tensor():
    rng = np.random.default_rng(2)
    d = make(CELLS[2], 2, 4, 3, 5, rng)
    out, (h, c) = pcn.nn.lstm(d["x"], d["kernel"], d["recurrent_kernel"], d["bias"], [d["h0"], d["c0"]])
    ro, rh, rc = ref_fwd(CELLS[2], d, False)
    assert isinstance(out, np.ndarray) and isinstance(h, np.ndarray)
    assert_close(out, ro)
    assert_close(c, rc)
    last, st = pcn.nn.lstm(pcn.tensor(d["x"]), d["kernel"], d["recurrent_kernel"], d["bias"],
                           [d["h0"], d["c0"]], return_sequences=False)
    assert isinstance(last, pcn.Tensor) and len(st) == 2
    assert_close(last, rh)
    d = make(CELLS[4], 2, 4, 3, 5, rng)
    out, (h,) = pcn.nn.gru(d["x"], d["kernel"], d["recurrent_kernel"], d["bias"], d["h0"], go_backwards=True,
                           reset_after=False)
    assert_close(out, ref_fwd(CELLS[4], d, True)[0])
    d = make(CELLS[1], 2, 4, 3, 5, rng)
    out, (h,) = pcn.nn.simple_rnn(d["x"].astype(np.float64), d["kernel"], d["recurrent_kernel"], d["bias"],
                                  d["h0"], activation="relu", return_sequences=False)
    assert_close(out, ref_fwd(CELLS[1], d, False)[1])
    with pytest.raises(ValueError, match="simple_rnn"):
        pcn.nn.simple_rnn(d["x"], d["kernel"], d["recurrent_kernel"], activation="sigmoid")
    with pytest.raises(ValueError, match="lstm"):
        pcn.nn.lstm(d["x"], np.zeros((3, 20), np.float32), np.zeros((5, 20), np.float32), initial_state=d["h0"])


def test_non_contiguous_inputs():
    rng = np.random.default_rng(12)
    d = make(CELLS[3], 3, 4, 5, 2, rng)
    xt = np.ascontiguousarray(d["x"].transpose(1, 0, 2)).transpose(1, 0, 2)  # same values, strided
    kt = np.ascontiguousarray(d["kernel"].T).T
    out, _, _, _ = _C.rnn_forward(pcn.from_numpy(xt), pcn.from_numpy(kt), T_(d["recurrent_kernel"]), T_(d["bias"]),
                                  None, None, "gru", False, True)
    d["h0"] = None
    assert_close(out, ref_fwd(CELLS[3], d, False)[0])


def test_batch_zero():
    d = make(CELLS[2], 0, 3, 2, 4, np.random.default_rng(0), state=False)
    out, hT, cT, ws = run_fwd(CELLS[2], d, False)
    assert tuple(out.shape) == (0, 3, 4) and tuple(hT.shape) == (0, 4)
    g = _C.rnn_backward(T_(np.zeros((0, 3, 4), np.float32)), None, None, T_(d["x"]), T_(d["kernel"]),
                        T_(d["recurrent_kernel"]), T_(d["bias"]), None, None, ws, "lstm", False, True)
    for a in g[1:4]:
        np.testing.assert_array_equal(np.asarray(a), 0.0)


# ------------------------------------------------------------------ NaN, bad inputs
def test_nan_propagates_forward_and_backward():
    rng = np.random.default_rng(13)
    for cell in CELLS:
        d = make(cell, 2, 5, 3, 4, rng)
        d["x"][0, 2, 1] = np.nan
        out, hT, _, ws = run_fwd(cell, d, False)
        out = np.asarray(out)
        assert np.isfinite(out[1]).all() and np.isfinite(out[0, :2]).all()
        if cell[1] != "simple_relu":  # relu(NaN) is NaN too; check all cells see it
            assert np.isnan(out[0, 2:]).all(), cell[0]
        else:
            assert np.isnan(out[0, 2]).any()
        g = _C.rnn_backward(T_(np.ones(out.shape, np.float32)), None, None, T_(d["x"]), T_(d["kernel"]),
                            T_(d["recurrent_kernel"]), T_(d["bias"]), T_(d["h0"]), T_(d["c0"]), ws, cell[1],
                            False, cell[2])
        assert np.isnan(np.asarray(g[1])).any()  # dkernel sums over the NaN step
        assert np.isfinite(np.asarray(g[0])[1, 3:]).all()


def _good(cell="lstm", N=2, T=3, I=4, U=5):
    G = {"lstm": 4, "gru": 3}.get(cell, 1)
    z = lambda *s: np.zeros(s, np.float32)  # noqa: E731
    return dict(x=z(N, T, I), kernel=z(I, G * U), recurrent_kernel=z(U, G * U),
                bias=z(2, G * U) if cell == "gru" else z(G * U), h0=z(N, U), c0=z(N, U) if cell == "lstm" else None)


def _call(cell, d, reset_after=True):
    # from_numpy (zero-copy): pcn.tensor() of an array with a zero-length axis trips a Tensor copy bug.
    F = lambda a: None if a is None else pcn.from_numpy(a)  # noqa: E731
    return _C.rnn_forward(F(d["x"]), F(d["kernel"]), F(d["recurrent_kernel"]), F(d["bias"]), F(d["h0"]),
                          F(d["c0"]), cell, False, reset_after)


BAD = [
    ("lstm", "x", np.zeros((2, 3), np.float32), ValueError),            # rank
    ("lstm", "x", np.zeros((2, 0, 4), np.float32), ValueError),         # T == 0
    ("lstm", "x", np.zeros((2, 3, 6), np.float32), ValueError),         # features != kernel rows
    ("lstm", "kernel", np.zeros((4, 15), np.float32), ValueError),      # not 4U
    ("lstm", "kernel", np.zeros((4, 5, 4), np.float32), ValueError),
    ("lstm", "recurrent_kernel", np.zeros((5, 5), np.float32), ValueError),
    ("lstm", "recurrent_kernel", np.zeros((0, 0), np.float32), ValueError),
    ("lstm", "bias", np.zeros(21, np.float32), ValueError),
    ("lstm", "bias", np.zeros((2, 20), np.float32), ValueError),
    ("lstm", "h0", np.zeros((3, 5), np.float32), ValueError),
    ("lstm", "c0", np.zeros((2, 4), np.float32), ValueError),
    ("gru", "bias", np.zeros(15, np.float32), ValueError),              # reset_after needs (2, 3U)
    ("gru", "c0", np.zeros((2, 5), np.float32), ValueError),            # no cell state
    ("simple_tanh", "h0", np.zeros(5, np.float32), ValueError),
    ("simple_relu", "recurrent_kernel", np.zeros((5, 10), np.float32), ValueError),
    ("lstm", "x", np.zeros((2, 3, 4), np.int32), TypeError),
    ("gru", "kernel", np.zeros((4, 15), np.int64), TypeError),
    ("simple_tanh", "bias", np.zeros(5, np.uint8), TypeError),
    ("lstm", "h0", np.zeros((2, 5), np.int32), TypeError),
]
NAMES = {"lstm": "lstm", "gru": "gru", "simple_tanh": "simple_rnn", "simple_relu": "simple_rnn"}


@pytest.mark.parametrize("cell,arg,val,exc", BAD, ids=["%s-%s-%d" % (b[0], b[1], i) for i, b in enumerate(BAD)])
def test_bad_input_raises(cell, arg, val, exc):
    d = _good(cell)
    d[arg] = val
    with pytest.raises(exc) as ei:
        _call(cell, d)
    assert "rnn_forward" in str(ei.value) and NAMES[cell] in str(ei.value), str(ei.value)


def test_bad_cell_and_bad_gru_v1_bias():
    with pytest.raises(ValueError, match="unknown cell"):
        _call("transformer", _good("lstm"))
    d = _good("gru")
    with pytest.raises(ValueError, match="gru"):
        _call("gru", d, reset_after=False)  # v1 bias is (3U,), got (2, 3U)


def test_backward_bad_inputs():
    d = _good("lstm")
    *_, ws = _call("lstm", d)
    args = lambda **kw: dict(dict(d_outputs=None, d_hT=None, d_cT=None, x=T_(d["x"]), kernel=T_(d["kernel"]),  # noqa
                                  recurrent_kernel=T_(d["recurrent_kernel"]), bias=T_(d["bias"]), h0=T_(d["h0"]),
                                  c0=T_(d["c0"]), workspace=ws, cell="lstm", go_backwards=False,
                                  reset_after=True), **kw)
    for kw, exc in [(dict(workspace=T_(np.zeros(7, np.float32))), ValueError),
                    (dict(d_outputs=T_(np.zeros((2, 3, 4), np.float32))), ValueError),
                    (dict(d_hT=T_(np.zeros((2, 4), np.float32))), ValueError),
                    (dict(d_cT=T_(np.zeros((2, 5), np.int32))), TypeError),
                    (dict(workspace=T_(np.zeros(ws.shape, np.int32))), TypeError),
                    (dict(cell="gru", d_cT=T_(np.zeros((2, 5), np.float32))), ValueError)]:
        with pytest.raises(exc) as ei:
            _C.rnn_backward(**args(**kw))
        assert "rnn_backward" in str(ei.value)


def test_size_overflow_is_a_clear_error():
    x = np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), (2 ** 16, 2 ** 16, 1), (0, 0, 0))  # no memory
    k = np.zeros((1, 2048), np.float32)
    r = np.zeros((512, 2048), np.float32)
    with pytest.raises(ValueError, match="lstm.*too many elements"):
        _C.rnn_forward(pcn.from_numpy(x), T_(k), T_(r), None, None, None, "lstm", False, True)


def test_random_bad_calls_survive():
    rng = np.random.default_rng(99)
    cells = ["simple_tanh", "simple_relu", "lstm", "gru"]
    n_err = 0
    for it in range(300):
        cell = cells[rng.integers(4)]
        d = _good(cell, *[int(v) for v in rng.integers(1, 4, 4)])
        for _ in range(int(rng.integers(1, 3))):
            arg = ["x", "kernel", "recurrent_kernel", "bias", "h0", "c0"][rng.integers(6)]
            shape = tuple(int(v) for v in rng.integers(0, 5, rng.integers(0, 4)))
            dt = [np.float32, np.float32, np.float32, np.int32, np.uint8][rng.integers(5)]
            d[arg] = None if rng.random() < 0.15 else np.zeros(shape, dt)
        try:
            _call(cell, d, bool(rng.integers(2)))
        except (ValueError, TypeError) as e:
            n_err += 1
            assert "rnn_forward" in str(e)
        except Exception as e:  # anything else must at least name the op
            raise AssertionError("unexpected %r" % e)
    assert n_err > 200


# ------------------------------------------------------------------ gate math on every SIMD path
EXTREME = np.concatenate([np.linspace(-30, 30, 1201), [-1e-5, -3e-4, 0.0, 3e-4, 1e-5, 88.5, -88.5, 1e4, -1e4,
                                                       np.inf, -np.inf]]).astype(np.float32)


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
def test_gate_math_extremes(simd, cell):
    """Fast exp/tanh/sigmoid over a wide range, infinities included, against float64."""
    _, c, ra, G = cell
    N = EXTREME.size
    x = EXTREME.reshape(N, 1, 1)
    kernel = np.ones((1, G), np.float32)
    bias = (np.array([[0, 0, 0.5], [0, 0, 1.0]], np.float32) if (c == "gru" and ra)
            else np.linspace(-1, 1, G).astype(np.float32))
    d = dict(x=x, kernel=kernel, recurrent_kernel=np.full((1, G), 0.3, np.float32), bias=bias,
             h0=np.full((N, 1), 0.25, np.float32), c0=np.full((N, 1), -0.5, np.float32) if c == "lstm" else None)
    out, hT, cT, _ = run_fwd(cell, d, False)
    ro, rh, rc = ref_fwd(cell, d, False)
    fin = np.isfinite(ro)
    assert_close(np.asarray(out)[fin], ro[fin], rtol=2e-6, atol=2e-7)
    assert np.array_equal(np.asarray(out)[~fin], ro[~fin])
    if c == "lstm":
        assert_close(cT, rc, rtol=2e-6, atol=2e-7)


def test_nan_through_gate_math(simd):
    for cell in CELLS:
        d = make(cell, 3, 2, 1, 1, np.random.default_rng(0))
        d["x"][1, 0, 0] = np.nan
        out = np.asarray(run_fwd(cell, d, False)[0])
        assert np.isnan(out[1]).all() and np.isfinite(out[[0, 2]]).all(), cell[0]


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("N,I", [(15, 7), (16, 7), (15, 32), (16, 32), (16, 64)])
def test_packed_input_product_rule(simd, cell, N, I):
    """N >= 16: x_t W runs per step through the packed kernel (W packed in the
    XW area), and with I % 32 == 0 the backward's dx_t = dZ_t W^T too (W^T
    packed in dW's buffer); N = 15: one big GEMM each. Both sides of the
    rules, with and without initial state, every SIMD path, forward and
    sampled backward."""
    rng = np.random.default_rng(30 + N + I)
    for state in (True, False):
        d = make(cell, N, 4, I, 20, rng, state=state, scale=0.3)
        out, hT, cT, _ = run_fwd(cell, d, state)
        ro, rh, rc = ref_fwd(cell, d, state)
        assert_close(out, ro, rtol=1e-4, atol=3e-5)
        assert_close(hT, rh, rtol=1e-4, atol=3e-5)
        if cell[1] == "lstm":
            assert_close(cT, rc, rtol=1e-4, atol=3e-5)
    check_backward(cell, d, False, "both", rng, sample=6)


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
def test_step_paths_match_big_gemm_paths_exhaustively(simd, cell):
    """Batch rows are independent: rows 0..14 of a 16-row batch (per-step
    packed x_t W and dZ_t W^T) must equal a 15-row batch (big GEMMs), every
    element of outputs and dx, both directions of time (the forward sums
    x W + h R in another order, so float32 rounding, not bitwise)."""
    rng = np.random.default_rng(77)
    d = make(cell, 16, 5, 32, 24, rng, scale=0.3)
    d15 = {k: (None if v is None else np.ascontiguousarray(v[:15]) if k in ("x", "h0", "c0") else v)
           for k, v in d.items()}
    _, c, ra, _ = cell
    for gb in (False, True):
        res = []
        for dd in (d, d15):
            out, hT, cT, ws = run_fwd(cell, dd, gb)
            g = np.random.default_rng(5).standard_normal((16, 5, 24)).astype(np.float32)[:dd["x"].shape[0]]
            grads = _C.rnn_backward(T_(np.ascontiguousarray(g)), None, None, T_(dd["x"]), T_(dd["kernel"]),
                                    T_(dd["recurrent_kernel"]), T_(dd["bias"]), T_(dd["h0"]), T_(dd["c0"]), ws,
                                    c, gb, ra)
            res.append((out.numpy(), grads[0].numpy(), grads[4].numpy()))
        for a, b, what in zip(res[0], res[1], ("outputs", "dx", "dh0")):
            assert_close(a[:15], b, rtol=1e-4, atol=1e-5, what="%s %s" % (cell[0], what))
