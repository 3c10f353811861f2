"""Recurrent layers: SimpleRNN, LSTM (gates i, f, c, o), GRU (z, r, h; reset_after
True: bias (2, 3*units), False: bias (3*units,)); Bidirectional and TimeDistributed
wrappers. Sequences are (batch, time, features). Keras 3 semantics throughout
(checked against Keras 3.15 by tests/test_keras_diff_rnn.py).

Two paths compute the same recurrence:
- the whole-sequence `_C.rnn_forward/backward` kernels: the default activations
  (SimpleRNN tanh/relu, LSTM/GRU tanh+sigmoid), no mask, at most one input-dropout
  mask per sequence;
- a step loop over the tape's ops (`ag.*`, each a kernel call; ~10x slower) for
  everything else: other activations, `recurrent_dropout`, LSTM/GRU `implementation=1`
  dropout (one mask per gate), and masks.
Dropout masks are drawn once per sequence and reused at every step, in training only.
A masked step keeps the previous states and outputs the previous output (zeros with
zero_output_for_mask; Bidirectional sets it for return_sequences, as Keras). The mask
is `mask=` or the `_keras_mask` attribute of the inputs. stateful=True carries the
final states (detached, not weights) to the next call; reset_state(s) zeroes them.
Constraints and activity_regularizer raise NotImplementedError (nothing in pyconvnet
would apply them); weight regularizers reach `layer.losses`.
"""
import numpy as np

from .. import _C
from .. import activations
from .. import autograd as ag
from .. import initializers
from .. import regularizers
from .. import utils
from .base import Layer, InputSpec
from .core import _act_config, _init_config

__all__ = ["SimpleRNN", "LSTM", "GRU", "Bidirectional", "TimeDistributed"]


class _LstmBias(initializers.Initializer):
    """unit_forget_bias: zeros with ones in the forget-gate block."""

    def __init__(self, units, base):
        self.units, self.base = units, base

    def __call__(self, shape, dtype=None):
        u = self.units
        b = np.concatenate([self.base((u,)), np.ones((u,), np.float32), self.base((2 * u,))])
        return b.astype(np.float32)


def _get_regularizer(cls, name, arg, value):
    """regularizers.get plus the Keras config dict form ({'class_name': 'L2', 'config': {...}})."""
    if isinstance(value, dict):
        c = {"L1": regularizers.L1, "L2": regularizers.L2, "L1L2": regularizers.L1L2}.get(value.get("class_name"))
        if c is None:
            raise ValueError("%s '%s': unknown %s %r" % (cls, name, arg, value.get("class_name")))
        return c(**value.get("config", {}))
    return regularizers.get(value)


def _reg_config(r):
    if r is None:
        return None
    if isinstance(r, regularizers.L1L2):
        cls = type(r).__name__ if type(r) in (regularizers.L1, regularizers.L2) else "L1L2"
        cfg = {"L1": {"l1": r.l1}, "L2": {"l2": r.l2}}.get(cls, r.get_config())
        return {"module": "keras.regularizers", "class_name": cls, "config": cfg, "registered_name": None}
    raise ValueError("cannot serialize regularizer %r" % (r,))


def _const(a, like):
    """A constant (no gradient) EagerTensor on like's device from a NumPy array (one copy)."""
    return ag.EagerTensor(_C.tensor(np.ascontiguousarray(a, dtype=np.float32), device=like.device))


def _filled(shape, value, like):
    """A constant EagerTensor of `shape` filled with `value`, made on like's device."""
    t = _C.zeros(*shape, device=like.device)
    if value:
        _C.fill_(t, float(value))
    return ag.EagerTensor(t)


def _step_slice(x, t, n, width):
    """x (N, T, W) -> x[:, t] as (N, W)."""
    return ag.reshape(ag.slice_axis(x, 1, t, t + 1), [n, width])


def _cols(w, g, u):
    """Column block g (width u) of a (rows, k*u) or (k*u,) weight."""
    return ag.slice_axis(w, w.ndim - 1, g * u, (g + 1) * u)


class _RNN(Layer):
    _pcn_int_input = False
    _gates = 1
    _kind = "simple"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, seed=None, zero_output_for_mask=False,
                 **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        if isinstance(units, bool) or int(units) <= 0:
            raise ValueError("%s '%s': units must be a positive integer, got %r" % (cls, self.name, units))
        # pyconvnet's optimizers apply no constraints and the tape has no activity losses: refuse
        # rather than train something different from Keras
        for arg, v in (("activity_regularizer", activity_regularizer), ("kernel_constraint", kernel_constraint),
                       ("recurrent_constraint", recurrent_constraint), ("bias_constraint", bias_constraint)):
            if v is not None:
                raise NotImplementedError("%s '%s': %s is not supported by pyconvnet (got %r)"
                                          % (cls, self.name, arg, v))
        self.units = int(units)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = _get_regularizer(cls, self.name, "kernel_regularizer", kernel_regularizer)
        self.recurrent_regularizer = _get_regularizer(cls, self.name, "recurrent_regularizer", recurrent_regularizer)
        self.bias_regularizer = _get_regularizer(cls, self.name, "bias_regularizer", bias_regularizer)
        self.activity_regularizer = None
        self.kernel_constraint = self.recurrent_constraint = self.bias_constraint = None
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful, self.unroll = bool(stateful), bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.dropout = min(1.0, max(0.0, float(dropout)))  # Keras clips the rates to [0, 1]
        self.recurrent_dropout = min(1.0, max(0.0, float(recurrent_dropout)))
        self.seed = seed
        self._pcn_rng = np.random.default_rng(seed) if seed is not None else None
        self.states = None  # stateful: the final states of the last call (EagerTensors, no gradient)
        self.supports_masking = True
        self.input_spec = InputSpec(ndim=3)

    def compute_mask(self, inputs, mask=None):
        """The sequence output keeps the input mask; a last-step output (and the states) has none."""
        out = mask if self.return_sequences else None
        return [out] if self.return_state else out

    # ---------------------------------------------------------------- weights
    def _bias_shape(self):
        return (self._gates * self.units,)

    def _bias_init(self):
        return self.bias_initializer

    def build(self, input_shape):
        if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (tuple, list)):
            input_shape = input_shape[0]
        cls = type(self).__name__
        d = input_shape[-1]
        if d is None:
            raise ValueError("%s '%s': the feature dimension of the inputs must be defined" % (cls, self.name))
        if self.unroll and len(input_shape) > 1 and input_shape[1] is None:
            raise ValueError("%s '%s': cannot unroll a RNN if the time dimension is undefined (inputs %s)"
                             % (cls, self.name, tuple(input_shape)))
        # stateful with an unknown batch size: Keras refuses a symbolic Input((T, F)) here but builds a
        # Sequential without Input at its first call; both work here, the states are sized by the
        # first batch and later batches must match it (checked in call)
        g = self._gates * self.units
        self.kernel = self.add_weight(name="kernel", shape=(d, g), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer)
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(self.units, g),
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer)
        self.bias = self.add_weight(name="bias", shape=self._bias_shape(), initializer=self._bias_init(),
                                    regularizer=self.bias_regularizer) if self.use_bias else None
        self.input_spec = InputSpec(ndim=3, axes={-1: d})
        self.built = True

    # ------------------------------------------------------------------ state
    def _nstates(self):
        return 2 if self._kind == "lstm" else 1

    def reset_state(self):
        """stateful=True: zero the carried states (the next call starts from zeros)."""
        if self.states is not None:
            self.states = [ag.EagerTensor(_C.zeros(*s.shape, device=s.device)) for s in self.states]

    def reset_states(self):
        self.reset_state()

    @property
    def state_size(self):
        return [self.units] * self._nstates()

    @property
    def output_size(self):
        return self.units

    @property
    def cell(self):
        """Keras' `layer.cell` (units, kernel, activation, dropout, ... live on the cell there):
        the layer itself, which carries the same attributes."""
        return self

    def get_initial_state(self, batch_size):
        """Zero states [h] or [h, c], each (batch_size, units), as Keras."""
        return [ag.EagerTensor(_C.zeros(int(batch_size), self.units, device=getattr(self, "_pcn_device", "cpu")))
                for _ in range(self._nstates())]

    # ------------------------------------------------------------------- call
    def _fused_cell(self):
        """The `_C.rnn_forward` cell for these activations, or None (step loop)."""
        a, ra = self.activation, self.recurrent_activation
        if self._kind == "simple":
            return {id(activations.tanh): "simple_tanh", id(activations.relu): "simple_relu"}.get(id(a))
        if a is activations.tanh and ra is activations.sigmoid:
            return self._kind
        return None

    def _rate_active(self, rate):
        # LSTMCell/GRUCell apply dropout only for 0 < rate < 1; SimpleRNNCell for any rate > 0
        return rate > 0 and (rate < 1 or self._kind == "simple")

    def _mask_count(self):
        return self._gates if getattr(self, "implementation", 2) == 1 else 1

    def _dropout_masks(self, n, width, rate, count, like, shape3):
        """`count` per-sequence dropout masks (N, width) scaled by 1/(1-rate), as constants
        ((N, 1, width) when shape3, to broadcast over time)."""
        out = []
        for _ in range(count):
            if rate >= 1:
                t = _filled((n, width), 0.0, like)
            else:
                seed = int(self._pcn_rng.integers(0, 2 ** 31 - 1)) if self._pcn_rng is not None else utils.next_seed()
                t = ag.EagerTensor(_C.dropout_forward(_filled((n, width), 1.0, like).value, float(rate), seed)[0])
            out.append(ag.reshape(t, [n, 1, width]) if shape3 else t)
        return out

    def call(self, inputs, initial_state=None, training=None, mask=None):
        cls = type(self).__name__
        if isinstance(inputs, (list, tuple)):
            inputs, initial_state = inputs[0], list(inputs[1:]) or initial_state
        if mask is None:  # Keras' implicit mask: the one an Embedding/Masking layer attached to its output
            mask = getattr(inputs, "_keras_mask", None)
        x = ag.as_eager(inputs)
        n, T, d = x.shape
        u, ns = self.units, self._nstates()
        if initial_state is not None:
            st = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            if len(st) != ns:
                raise ValueError("%s '%s': expected %d initial state tensor(s), got %d" % (cls, self.name, ns, len(st)))
            st = [ag.as_eager(s, x) for s in st]
            for s in st:
                if tuple(s.shape) != (n, u):
                    raise ValueError("%s '%s': initial state shape %s, expected (batch, units) = %s"
                                     % (cls, self.name, tuple(s.shape), (n, u)))
        elif self.stateful:
            if self.states is None:
                self.states = [ag.EagerTensor(_C.zeros(n, u, device=x.device)) for _ in range(ns)]
            elif self.states[0].device != x.device:  # the layer moved (layer.to): its states follow
                self.states = [ag.EagerTensor(s.value.to(x.device)) for s in self.states]
            if self.states[0].shape[0] != n:
                raise ValueError("%s '%s': if an RNN is stateful, the batch size of the input sequences must be the "
                                 "same as the batch size of the initial state. Expected batch size: %d, received "
                                 "batch size: %d" % (cls, self.name, self.states[0].shape[0], n))
            st = list(self.states)
        else:
            st = [None] * ns
        if mask is not None:
            m = mask.numpy() if hasattr(mask, "numpy") else mask
            m = np.asarray(m).astype(bool)
            if m.shape == (n, T, 1):
                m = m[..., 0]
            if m.shape != (n, T):
                raise ValueError("%s '%s': mask must have shape (batch, time) = %s, got %s"
                                 % (cls, self.name, (n, T), m.shape))
            mask = None if m.all() else m
        use_dp = bool(training) and self._rate_active(self.dropout)
        use_rdp = bool(training) and self._rate_active(self.recurrent_dropout)
        k = self._mask_count() if self._kind != "simple" else 1
        fused = self._fused_cell()
        if fused is not None and mask is None and not use_rdp and not (use_dp and k > 1):
            if use_dp:
                x = ag.multiply(x, self._dropout_masks(n, d, self.dropout, 1, x, True)[0])
            out, h, c = ag.rnn(x, self.kernel, self.recurrent_kernel, self.bias, st[0], st[1] if ns == 2 else None,
                               fused, self.go_backwards, getattr(self, "reset_after", True))
            seq, last, states = out, h, ([h, c] if ns == 2 else [h])
        else:
            if st[0] is None:
                st = [_filled((n, u), 0.0, x) for _ in range(ns)]
            dm = self._dropout_masks(n, d, self.dropout, k, x, True) if use_dp else None
            rm = self._dropout_masks(n, u, self.recurrent_dropout, k, x, False) if use_rdp else None
            seq, last, states = self._loop(x, st, mask, dm, rm)
        if self.stateful:
            self.states = [ag.EagerTensor(s.value) for s in states]  # carried to the next call, detached
        y = seq if self.return_sequences else last
        if self.return_state:
            return (y,) + tuple(states)  # a tuple, as Keras 3
        return y

    def _loop(self, x, states, mask, dmasks, rmasks):
        """The Keras cell, one step at a time on the tape's ops. x (N,T,D); states [h (N,U)]
        or [h, c]; mask (N,T) bool or None; dmasks None or [(N,1,D)] * (1 or gates);
        rmasks None or [(N,U)] * (1 or gates). Returns (sequence (N,T,U) or None, last
        output (N,U), final states)."""
        n, T, _ = x.shape
        u, G, kind = self.units, self._gates, self._kind
        act, ract = self.activation, self.recurrent_activation
        W, R, b = self.kernel, self.recurrent_kernel, self.bias
        gru_ra = kind == "gru" and self.reset_after
        b_in = b_rec = None
        if b is not None:
            if gru_ra:
                b_in = ag.reshape(ag.slice_axis(b, 0, 0, 1), [G * u])
                b_rec = ag.reshape(ag.slice_axis(b, 0, 1, 2), [G * u])
            else:
                b_in = b
        # input projections of every step at once: (N, T, G*U)
        if dmasks is not None and len(dmasks) > 1:
            xw = ag.concat([ag.dense(ag.multiply(x, dmasks[g]), _cols(W, g, u),
                                     None if b_in is None else _cols(b_in, g, u)) for g in range(G)], -1)
        else:
            xw = ag.dense(x if dmasks is None else ag.multiply(x, dmasks[0]), W, b_in)
        per_gate = rmasks is not None and len(rmasks) > 1
        Rg = [_cols(R, g, u) for g in range(G)] if (per_gate or kind == "gru") else None
        h = states[0]
        c = states[1] if kind == "lstm" else None
        zeros = _filled((n, u), 0.0, x)
        if mask is not None:  # one upload; the steps slice it on the device
            m_all = _const(mask, x)
            nm_all = ag.subtract(1.0, m_all)
        prev_out, outs = zeros, []
        for t in (range(T - 1, -1, -1) if self.go_backwards else range(T)):
            xt = _step_slice(xw, t, n, G * u)

            def hm(g):  # h_{t-1} through the recurrent dropout mask of gate g
                if rmasks is None:
                    return h
                return ag.multiply(h, rmasks[g if per_gate else 0])
            new_c = None
            if kind == "simple":
                new_h = act(ag.add(xt, ag.matmul(hm(0), R)))
            elif kind == "lstm":
                rec = ag.concat([ag.matmul(hm(g), Rg[g]) for g in range(4)], -1) if per_gate else ag.matmul(hm(0), R)
                z = ag.add(xt, rec)
                i, f = ract(_cols(z, 0, u)), ract(_cols(z, 1, u))
                gg, o = act(_cols(z, 2, u)), ract(_cols(z, 3, u))
                new_c = ag.add(ag.multiply(f, c), ag.multiply(i, gg))
                new_h = ag.multiply(o, act(new_c))
            else:
                if per_gate:
                    rz, rr = ag.matmul(hm(0), Rg[0]), ag.matmul(hm(1), Rg[1])
                    rh = ag.matmul(hm(2), Rg[2]) if gru_ra else None
                else:
                    rec = ag.matmul(hm(0), R if gru_ra else ag.slice_axis(R, 1, 0, 2 * u))
                    rz, rr = _cols(rec, 0, u), _cols(rec, 1, u)
                    rh = _cols(rec, 2, u) if gru_ra else None
                if b_rec is not None:
                    rz, rr, rh = ag.add(rz, _cols(b_rec, 0, u)), ag.add(rr, _cols(b_rec, 1, u)), \
                        ag.add(rh, _cols(b_rec, 2, u))
                z = ract(ag.add(_cols(xt, 0, u), rz))
                r = ract(ag.add(_cols(xt, 1, u), rr))
                if gru_ra:
                    rh = ag.multiply(r, rh)
                else:
                    rh = ag.matmul(ag.multiply(r, hm(2 if per_gate else 0)), Rg[2])
                hh = act(ag.add(_cols(xt, 2, u), rh))
                new_h = ag.add(ag.multiply(z, h), ag.multiply(ag.subtract(1.0, z), hh))
            out = new_h
            if mask is not None:
                mt, nm = ag.slice_axis(m_all, 1, t, t + 1), ag.slice_axis(nm_all, 1, t, t + 1)

                def blend(a, b_):
                    return ag.add(ag.multiply(a, mt), ag.multiply(b_, nm))
                out = blend(new_h, zeros if self.zero_output_for_mask else prev_out)
                new_h = blend(new_h, h)
                if new_c is not None:
                    new_c = blend(new_c, c)
            h, c, prev_out = new_h, new_c, out
            outs.append(out)
        seq = ag.concat([ag.reshape(o, [n, 1, u]) for o in outs], 1) if self.return_sequences else None
        return seq, prev_out, ([h, c] if kind == "lstm" else [h])

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (tuple, list)):
            input_shape = input_shape[0]
        n, t = input_shape[0], input_shape[1]
        y = (n, t, self.units) if self.return_sequences else (n, self.units)
        if self.return_state:
            return [y] + [(n, self.units)] * self._nstates()
        return y

    def get_config(self):
        c = super().get_config()
        c.update(return_sequences=self.return_sequences, return_state=self.return_state,
                 go_backwards=self.go_backwards, stateful=self.stateful, unroll=self.unroll,
                 zero_output_for_mask=self.zero_output_for_mask, units=self.units,
                 activation=_act_config(self.activation))
        if self._kind != "simple":
            c["recurrent_activation"] = _act_config(self.recurrent_activation)
        c["use_bias"] = self.use_bias
        if self._kind == "lstm":
            c["unit_forget_bias"] = self.unit_forget_bias
        c.update(kernel_initializer=_init_config(self.kernel_initializer),
                 recurrent_initializer=_init_config(self.recurrent_initializer),
                 bias_initializer=_init_config(self.bias_initializer),
                 kernel_regularizer=_reg_config(self.kernel_regularizer),
                 recurrent_regularizer=_reg_config(self.recurrent_regularizer),
                 bias_regularizer=_reg_config(self.bias_regularizer), activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=self.dropout, recurrent_dropout=self.recurrent_dropout)
        if self._kind == "gru":
            c["reset_after"] = self.reset_after
        if self._kind != "simple":
            c["seed"] = self.seed
        return c


class SimpleRNN(_RNN):
    """Fully-connected RNN: h_t = act(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)."""
    _gates = 1
    _kind = "simple"

    def __init__(self, units, activation="tanh", **kwargs):
        for k in ("recurrent_activation", "implementation", "use_cudnn", "unit_forget_bias", "reset_after"):
            if k in kwargs:  # Keras' SimpleRNN has none of these
                raise ValueError("Unrecognized keyword arguments passed to SimpleRNN: {%r: %r}" % (k, kwargs[k]))
        super().__init__(units, activation=activation, **kwargs)


def _check_impl(layer, implementation, use_cudnn):
    if use_cudnn not in ("auto", True, False):
        raise ValueError("%s '%s': invalid value received for argument `use_cudnn`. Expected one of {'auto', "
                         "True, False}. Received: use_cudnn=%r" % (type(layer).__name__, layer.name, use_cudnn))
    # implementation=2 batches the gate matmuls; 1 (forced by recurrent_dropout, as Keras) draws one
    # dropout mask per gate. Same values otherwise; Keras treats any value but 1 as 2.
    layer.implementation = 1 if layer.recurrent_dropout else implementation
    layer.use_cudnn = use_cudnn  # no cuDNN here: the layer always runs pyconvnet's own kernels


class LSTM(_RNN):
    """LSTM, Keras 3 layout: kernel (in, 4u), recurrent_kernel (u, 4u), bias (4u,), gates i, f, c, o."""
    _gates = 4
    _kind = "lstm"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", unit_forget_bias=True,
                 implementation=2, use_cudnn="auto", **kwargs):
        self.unit_forget_bias = bool(unit_forget_bias)
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation, **kwargs)
        _check_impl(self, implementation, use_cudnn)

    def _bias_init(self):
        return _LstmBias(self.units, self.bias_initializer) if self.unit_forget_bias else self.bias_initializer


class GRU(_RNN):
    """GRU, Keras 3 layout: kernel (in, 3u), recurrent_kernel (u, 3u), gates z, r, h;
    bias (2, 3u) (input and recurrent biases) with reset_after=True (default), (3u,) with
    reset_after=False (the reset gate applied before the recurrent matmul)."""
    _gates = 3
    _kind = "gru"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", reset_after=True,
                 implementation=2, use_cudnn="auto", **kwargs):
        self.reset_after = bool(reset_after)
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation, **kwargs)
        _check_impl(self, implementation, use_cudnn)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)


def _is_rnn(layer):
    """A layer Bidirectional can wrap: ours or any Keras-style RNN layer (e.g. RNN(cell))."""
    return isinstance(layer, Layer) and all(hasattr(layer, a) for a in ("go_backwards", "return_sequences",
                                                                         "return_state"))


def _nstates(layer):
    ss = getattr(layer, "state_size", 1)
    return len(ss) if isinstance(ss, (list, tuple)) else 1


class Bidirectional(Layer):
    """Runs a copy of `layer` forward and a copy with go_backwards=True (or `backward_layer`);
    merges with merge_mode 'concat' (default), 'sum', 'mul', 'ave' or None (a list).
    Weights: the forward layer's, then the backward layer's. initial_state: the forward
    layer's states then the backward layer's."""

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        super().__init__(**kwargs)
        if not _is_rnn(layer):
            raise ValueError("Bidirectional '%s': expects a recurrent layer (SimpleRNN, LSTM, GRU, RNN), got %r"
                             % (self.name, layer))
        if backward_layer is not None and not _is_rnn(backward_layer):
            raise ValueError("Bidirectional '%s': backward_layer must be a recurrent layer (SimpleRNN, LSTM, GRU, "
                             "RNN), got %r" % (self.name, backward_layer))
        if merge_mode not in ("concat", "sum", "mul", "ave", None):
            raise ValueError("Bidirectional '%s': invalid merge mode. Received: %r. Merge mode should be one of "
                             '{"sum", "mul", "ave", "concat", None}' % (self.name, merge_mode))
        self.merge_mode = merge_mode
        # Keras builds the forward (and default backward) layer from the given layer's config
        cfg = layer.get_config()
        cfg.pop("batch_input_shape", None)
        base = layer.name[len("forward_"):] if layer.name.startswith("forward_") else layer.name
        self.forward_layer = type(layer).from_config(dict(cfg, name="forward_" + base))
        if backward_layer is None:
            base = layer.name[len("backward_"):] if layer.name.startswith("backward_") else layer.name
            backward_layer = type(layer).from_config(dict(cfg, name="backward_" + base, go_backwards=True))
        self.backward_layer = backward_layer
        if self.forward_layer.go_backwards == self.backward_layer.go_backwards:
            raise ValueError("Bidirectional '%s': forward layer and backward layer should have different "
                             "`go_backwards` value. Received: forward_layer.go_backwards %s, "
                             "backward_layer.go_backwards=%s" % (self.name, self.forward_layer.go_backwards,
                                                                 self.backward_layer.go_backwards))
        for a in ("stateful", "return_sequences", "return_state"):
            fv, bv = getattr(self.forward_layer, a, False), getattr(self.backward_layer, a, False)
            if fv != bv:
                raise ValueError('Bidirectional \'%s\': forward layer and backward layer are expected to have the '
                                 'same value for attribute "%s", got "%s" for forward layer and "%s" for backward '
                                 'layer' % (self.name, a, fv, bv))
        for l in (self.forward_layer, self.backward_layer):  # as Keras: masked steps output zeros
            if getattr(l, "zero_output_for_mask", None) is not None:
                l.zero_output_for_mask = l.return_sequences
        self._pcn_initial_weights = list(weights) if weights else None
        self.stateful = getattr(layer, "stateful", False)
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.supports_masking = True
        self.input_spec = InputSpec(ndim=3)

    def compute_mask(self, inputs, mask=None):
        out = mask if self.return_sequences else None
        if self.merge_mode is None:
            return [out, out]
        return [out] if self.return_state else out

    def build(self, input_shape):
        if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (tuple, list)):
            input_shape = input_shape[0]
        self.forward_layer._maybe_build([tuple(input_shape)])
        self.backward_layer._maybe_build([tuple(input_shape)])
        if self._pcn_initial_weights is not None:
            w, self._pcn_initial_weights = self._pcn_initial_weights, None
            h = len(w) // 2
            self.forward_layer.set_weights(w[:h])
            self.backward_layer.set_weights(w[h:])
        self.built = True

    def reset_state(self):
        if not self.stateful:
            raise AttributeError("Bidirectional '%s': layer must be stateful." % self.name)
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    @property
    def states(self):
        """Forward then backward carried states (stateful), else None; as Keras."""
        f, b = getattr(self.forward_layer, "states", None), getattr(self.backward_layer, "states", None)
        return tuple(f) + tuple(b) if f and b else None

    def reset_states(self):
        self.reset_state()

    def call(self, inputs, initial_state=None, mask=None, training=None):
        if isinstance(inputs, (list, tuple)):
            inputs, initial_state = inputs[0], list(inputs[1:]) or initial_state
        fs = bs = None
        if initial_state is not None:
            st = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            need = _nstates(self.forward_layer) + _nstates(self.backward_layer)
            if len(st) != need:
                raise ValueError("Bidirectional '%s': expected %d initial state tensors (forward then backward), "
                                 "got %d" % (self.name, need, len(st)))
            half = len(st) // 2
            fs, bs = st[:half], st[half:]
        if mask is None:
            mask = getattr(inputs, "_keras_mask", None)
        kw = {"training": training} if mask is None else {"training": training, "mask": mask}
        yf = self.forward_layer(inputs, initial_state=fs, **kw)
        yb = self.backward_layer(inputs, initial_state=bs, **kw)
        sf = sb = []
        if self.return_state:
            yf, sf = yf[0], list(yf[1:])
            yb, sb = yb[0], list(yb[1:])
        if self.return_sequences:
            yb = ag.reverse_time(yb)
        if self.merge_mode == "concat":
            y = ag.concat([yf, yb], -1)
        elif self.merge_mode == "sum":
            y = ag.add(yf, yb)
        elif self.merge_mode == "mul":
            y = ag.multiply(yf, yb)
        elif self.merge_mode == "ave":
            y = ag.multiply(ag.add(yf, yb), 0.5)
        else:
            y = (yf, yb)
        if self.return_state:  # tuples, as Keras 3
            return (y if isinstance(y, tuple) else (y,)) + tuple(sf + sb)
        return y

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (tuple, list)):
            input_shape = input_shape[0]
        fs = self.forward_layer.compute_output_shape(input_shape)
        bs = self.backward_layer.compute_output_shape(input_shape)
        y = tuple(fs[0] if self.return_state else fs)
        if self.merge_mode == "concat":
            y = y[:-1] + (y[-1] + (bs[0] if self.return_state else bs)[-1],)
        ys = [y, y] if self.merge_mode is None else [y]
        if self.return_state:
            return ys + list(fs[1:]) + list(bs[1:])
        return ys if self.merge_mode is None else y

    def get_config(self):
        from ..saving import serialize_layer
        c = super().get_config()
        c.update(merge_mode=self.merge_mode, layer=serialize_layer(self.forward_layer),
                 backward_layer=serialize_layer(self.backward_layer))
        return c

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..saving import deserialize_layer
        config = dict(config)
        layer = deserialize_layer(config.pop("layer"), custom_objects)
        bw = config.pop("backward_layer", None)
        if bw is not None:
            config["backward_layer"] = deserialize_layer(bw, custom_objects)
        return cls(layer, **config)


def _batch_statistics(layer):
    """Does `layer` (or a layer inside it) normalize with batch statistics in training?"""
    if type(layer).__name__ == "BatchNormalization":
        return True
    return any(_batch_statistics(l) for l in layer._sublayers())


class TimeDistributed(Layer):
    """Applies `layer` to every time step: (N, T, ...) -> (N*T, ...) -> layer -> (N, T, ...).
    In training, a layer with batch statistics (BatchNormalization) is called once per time
    step instead, as Keras does: statistics (and moving-average updates) per step."""

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise ValueError("TimeDistributed '%s': expects a Layer, got %r" % (self.name, layer))
        self.layer = layer
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError("TimeDistributed '%s': inputs must be at least 3-D (batch, time, ...), got %s"
                             % (self.name, input_shape))
        self.layer._maybe_build([(None,) + tuple(input_shape[2:])])
        self.built = True

    def call(self, inputs, training=None, mask=None):
        if mask is not None:
            raise NotImplementedError("TimeDistributed '%s': mask is not supported" % self.name)
        x = ag.as_eager(inputs)
        n, t = x.shape[0], x.shape[1]
        if training and _batch_statistics(self.layer):
            ys = [self.layer(ag.getitem(x, (slice(None), i)), training=training) for i in range(t)]
            return ag.concat([ag.reshape(y, [n, 1] + list(y.shape[1:])) for y in ys], 1)
        y = self.layer(ag.reshape(x, [n * t] + list(x.shape[2:])), training=training)
        return ag.reshape(y, [n, t] + list(y.shape[1:]))

    def compute_output_shape(self, input_shape):
        try:
            inner = self.layer.compute_output_shape((None,) + tuple(input_shape[2:]))
        except NotImplementedError:
            inner, _ = self.layer._dummy_output_shapes(
                __import__("pyconvnet").layers.base.KerasTensor((None,) + tuple(input_shape[2:])), (), {})
        return (input_shape[0], input_shape[1]) + tuple(inner[1:])

    def get_config(self):
        from ..saving import serialize_layer
        c = super().get_config()
        c["layer"] = serialize_layer(self.layer)
        return c

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..saving import deserialize_layer
        config = dict(config)
        layer = deserialize_layer(config.pop("layer"), custom_objects)
        return cls(layer, **config)
