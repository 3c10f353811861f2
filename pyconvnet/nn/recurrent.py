"""pyconvnet.nn: recurrent cells over a whole sequence (Keras 3 semantics).

Shapes (U = units): x (batch, time, features); kernel (features, G*U);
recurrent_kernel (U, G*U); bias (G*U,) — or (2, 3U) for GRU with reset_after
(row 0 input bias, row 1 recurrent bias). G = 1 (SimpleRNN), 4 (LSTM, gates
i, f, c, o), 3 (GRU, gates z, r, h). These are the arrays Keras 3's
`get_weights()` returns for the same layer, in the same order.

Each function returns `(outputs, states)`: outputs (batch, time, U) when
return_sequences else the last output (batch, U); states the list of final
states ([h] for SimpleRNN and GRU, [h, c] for LSTM). With go_backwards the
sequence is processed from the last step to the first and the returned
sequence is in processing order (as Keras). NumPy in -> NumPy out, Tensor in
-> Tensor out. The backward pass is `_C.rnn_backward` (used by the tape).
"""
from .. import _C
from ..ops import as_tensor, like_input

__all__ = ["simple_rnn", "lstm", "gru"]


def _states(initial_state, n, op):
    """Normalize initial_state (None, an array, or a list of arrays) to a list of n entries or Nones."""
    if initial_state is None:
        return [None] * n
    if isinstance(initial_state, (list, tuple)):
        if len(initial_state) != n:
            raise ValueError("%s: initial_state must be a list of %d state(s), got %d" % (op, n, len(initial_state)))
        return [None if s is None else as_tensor(s, op, "initial_state")[0] for s in initial_state]
    if n != 1:
        raise ValueError("%s: initial_state must be a list [h0, c0], got a single array" % op)
    return [as_tensor(initial_state, op, "initial_state")[0]]


def _run(op, cell, x, kernel, recurrent_kernel, bias, states, go_backwards, return_sequences, reset_after=True):
    tx, was_numpy = as_tensor(x, op, "inputs")
    tk, _ = as_tensor(kernel, op, "kernel")
    tr, _ = as_tensor(recurrent_kernel, op, "recurrent_kernel")
    tb = None if bias is None else as_tensor(bias, op, "bias")[0]
    h0 = states[0]
    c0 = states[1] if len(states) > 1 else None
    out, h, c, _ws = _C.rnn_forward(tx, tk, tr, tb, h0, c0, cell, bool(go_backwards), bool(reset_after))
    if not return_sequences:
        out = h  # the last output of an RNN is its final hidden state
    st = [like_input(h, was_numpy)] + ([like_input(c, was_numpy)] if c is not None else [])
    return like_input(out, was_numpy), st


def simple_rnn(x, kernel, recurrent_kernel, bias=None, initial_state=None, activation="tanh",
               go_backwards=False, return_sequences=True):
    """keras.layers.SimpleRNN over a sequence: h_t = act(x_t W + h_{t-1} U + b).

    x (N,T,I); kernel (I,U); recurrent_kernel (U,U); bias (U,) or None;
    initial_state None, h0 (N,U) or [h0]; activation "tanh" or "relu".
    Returns (outputs (N,T,U) or (N,U), [h_T (N,U)]).
    """
    act = str(activation).lower()
    if act not in ("tanh", "relu"):
        raise ValueError("simple_rnn: activation must be 'tanh' or 'relu', got %r" % (activation,))
    return _run("simple_rnn", "simple_" + act, x, kernel, recurrent_kernel, bias,
                _states(initial_state, 1, "simple_rnn"), go_backwards, return_sequences)


def lstm(x, kernel, recurrent_kernel, bias=None, initial_state=None, go_backwards=False, return_sequences=True):
    """keras.layers.LSTM (activation tanh, recurrent_activation sigmoid), gates i, f, c, o.

    x (N,T,I); kernel (I,4U); recurrent_kernel (U,4U); bias (4U,) or None;
    initial_state None or [h0 (N,U), c0 (N,U)].
    Returns (outputs (N,T,U) or (N,U), [h_T, c_T]).
    """
    return _run("lstm", "lstm", x, kernel, recurrent_kernel, bias, _states(initial_state, 2, "lstm"),
                go_backwards, return_sequences)


def gru(x, kernel, recurrent_kernel, bias=None, initial_state=None, go_backwards=False, return_sequences=True,
        reset_after=True):
    """keras.layers.GRU (activation tanh, recurrent_activation sigmoid), gates z, r, h.

    x (N,T,I); kernel (I,3U); recurrent_kernel (U,3U); bias (2,3U) when
    reset_after (Keras 3 default) else (3U,), or None; initial_state None,
    h0 (N,U) or [h0]. Returns (outputs (N,T,U) or (N,U), [h_T]).
    """
    return _run("gru", "gru", x, kernel, recurrent_kernel, bias, _states(initial_state, 1, "gru"),
                go_backwards, return_sequences, reset_after)
