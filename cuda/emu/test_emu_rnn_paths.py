"""Shapes that reach the launch paths of cuda/rnn.cu's split-K recurrent
product (rec_gemm_kernel) that tests/test_rnn.py does not: batch > 64 (two row
tiles, the second partial), units that are not a multiple of the 64-column tile
nor of 4 (scalar loads/stores instead of float4), several K splits with a
partial last split, h0 rows at stride U, GRU reset_after=False's two extra
products. PCN_EMU_SMS (read at each call by the emulated
cudaDeviceGetAttribute) moves the split plan: 132 (H100) many splits, 7 a few,
1 a single split with tall K loops.

Checks: forward against the float64 reference, the same call twice gives the
same bits (fixed summation order of the splits), backward (every gradient,
sampled) against finite differences of the reference (tests/test_rnn.py's
check_backward, imported with the other helpers: this file must sit in tests/).
Run under the emulation: cuda/emu/run.sh copies only test_emu_paths.py into its
tests/, so this needs run.sh's copy line to take every cuda/emu/test_emu_*.py:
  cp "$root"/cuda/emu/test_emu_*.py "$stage/tests/"
then  EMU_FAMILIES=rnn EMU_TESTS="tests/test_rnn.py tests/test_emu_rnn_paths.py" cuda/emu/run.sh
"""

import numpy as np
import pytest

from test_rnn import CELLS, check_backward, make, ref_fwd, run_fwd
from tolerance import assert_close

CELL = {c[0]: c for c in CELLS}


@pytest.fixture(params=["132", "7", "1"], ids=["sms132", "sms7", "sms1"])
def sms(request, monkeypatch):
    """The SM count the kernels' tile/split heuristics see (read by the emulator at each launch)."""
    monkeypatch.setenv("PCN_EMU_SMS", request.param)
    return request.param


# name: (cell, N, T, I, U, initial state, go_backwards)
CASES = {
    # 2 row tiles (67 = 64 + 3); U = 37: 3 column tiles of 4U = 148 (last partial), odd
    # leading dimensions (scalar loads), K = 37 / 148 split with a partial last split
    "lstm_rows67_u37": ("lstm", 67, 3, 5, 37, True, False),
    # U = 36: float4 loads/stores (h0 rows at stride U, outputs at stride T*U)
    "lstm_u36_vec": ("lstm", 3, 4, 6, 36, True, True),
    # GRU v1: h_prev R[:, :2U] and (r*h_prev) R[:, 2U:] with their own plans; backward Gm
    "gru_v1_u36": ("gru_v1", 5, 4, 3, 36, True, True),
    "gru_v1_u21_rows66": ("gru_v1", 66, 3, 4, 21, False, False),
    "gru_u70": ("gru", 3, 5, 4, 70, True, False),
    "simple_relu_u130": ("simple_relu", 2, 4, 3, 130, True, False),
    "simple_tanh_u65_rows65": ("simple_tanh", 65, 3, 2, 65, False, True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_rnn_split_paths(sms, case):
    name, N, T, I, U, state, gb = CASES[case]
    cell = CELL[name]
    rng = np.random.default_rng(sum(map(ord, case)))
    d = make(cell, N, T, I, U, rng, state=state, scale=0.2)
    out, hT, cT, _ = run_fwd(cell, d, gb)
    ro, rh, rc = ref_fwd(cell, d, gb)
    assert_close(out, ro, rtol=1e-4, atol=3e-5, what="outputs")
    assert_close(hT, rh, rtol=1e-4, atol=3e-5, what="h_T")
    if rc is not None:
        assert_close(cT, rc, rtol=1e-4, atol=3e-5, what="c_T")
    # deterministic: the same call gives the same bits
    out2 = run_fwd(cell, d, gb)[0]
    assert np.array_equal(np.asarray(out), np.asarray(out2))
    check_backward(cell, d, gb, "both", rng, sample=6)
