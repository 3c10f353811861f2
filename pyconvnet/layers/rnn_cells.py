"""keras.layers.RNN(cell) and the cells SimpleRNNCell, LSTMCell, GRUCell,
StackedRNNCells: a Python loop over time steps of differentiable ag ops (so any
user-defined cell with `state_size` and `call(inputs, states)` works, as in
Keras). The fused whole-sequence kernels behind SimpleRNN/LSTM/GRU are faster;
this path is for custom cells (e.g. layer-normalized cells). An explicit
`mask` (batch, time) is honoured as Keras's rnn loop does (masked steps keep
the states and repeat the previous output); stateful=True is not supported.

Weights as Keras 3: kernel (in, k*units), recurrent_kernel (units, k*units),
bias (k*units,) (GRU reset_after=True: (2, 3*units)); LSTM gates i, f, c, o;
GRU gates z, r, h.
"""
import numpy as np

from .. import _C
from .. import activations
from .. import autograd as ag
from .. import initializers
from .. import utils
from .base import Layer, InputSpec
from .conv1d import _lname, act_ser, init_ser, no_constraints, reg_get, reg_ser

__all__ = ["RNN", "SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells", "ConvLSTM2D"]


def _cols(t, a, b):
    return ag.slice_axis(t, 1, a, b)


class _LstmForgetBias(initializers.Initializer):
    """unit_forget_bias: bias_initializer everywhere but ones in the forget-gate block."""

    def __init__(self, units, base):
        self.units, self.base = units, base

    def __call__(self, shape, dtype=None):
        u = self.units
        parts = [np.asarray(self.base((u,)), np.float32), np.ones((u,), np.float32),
                 np.asarray(self.base((2 * u,)), np.float32)]
        return np.concatenate(parts)


class _Cell(Layer):
    _pcn_int_input = False
    _gates = 1

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError("%s: received an invalid value for argument `units`, expected a positive integer, "
                             "got %r" % (_lname(self), units))
        no_constraints(self, kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                       bias_constraint=bias_constraint)
        if dropout or recurrent_dropout:
            raise NotImplementedError("%s: dropout/recurrent_dropout inside the cell are not supported; use a "
                                      "Dropout layer outside the RNN" % _lname(self))
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = reg_get(kernel_regularizer)
        self.recurrent_regularizer = reg_get(recurrent_regularizer)
        self.bias_regularizer = reg_get(bias_regularizer)
        self.dropout, self.recurrent_dropout, self.seed = 0.0, 0.0, seed
        self.state_size = self.units
        self.output_size = self.units

    def _bias_shape(self):
        return (self._gates * self.units,)

    def _bias_init(self):
        return self.bias_initializer

    def build(self, input_shape):
        d = input_shape[-1]
        if d is None:
            raise ValueError("%s: the feature dimension of the inputs must be defined" % _lname(self))
        g = self._gates * self.units
        self.kernel = self.add_weight(name="kernel", shape=(d, g), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer)
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(self.units, g),
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer)
        self.bias = self.add_weight(name="bias", shape=self._bias_shape(), initializer=self._bias_init(),
                                    regularizer=self.bias_regularizer) if self.use_bias else None
        self.built = True

    def _states(self, states, n):
        st = list(states) if isinstance(states, (list, tuple)) else [states]
        if len(st) != n:
            raise ValueError("%s: expected %d state tensor(s), got %d" % (_lname(self), n, len(st)))
        return [ag.as_eager(s) for s in st]

    def get_initial_state(self, batch_size=None):
        ss = self.state_size if isinstance(self.state_size, (list, tuple)) else [self.state_size]
        return [np.zeros((batch_size, s), np.float32) for s in ss]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self):
        c = super().get_config()
        c.update(units=self.units, activation=act_ser(self.activation), use_bias=self.use_bias,
                 kernel_initializer=init_ser(self.kernel_initializer),
                 recurrent_initializer=init_ser(self.recurrent_initializer),
                 bias_initializer=init_ser(self.bias_initializer),
                 kernel_regularizer=reg_ser(self.kernel_regularizer),
                 recurrent_regularizer=reg_ser(self.recurrent_regularizer),
                 bias_regularizer=reg_ser(self.bias_regularizer), kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 seed=self.seed)
        return c


class SimpleRNNCell(_Cell):
    """h = activation(x @ kernel + bias + h_prev @ recurrent_kernel); returns (h, [h])."""

    def call(self, sequence, states, training=False):
        listed = isinstance(states, (list, tuple))
        (h_prev,) = self._states(states, 1)
        h = ag.matmul(ag.as_eager(sequence), self.kernel)
        if self.bias is not None:
            h = ag.bias_add(h, self.bias)
        out = self.activation(ag.add(h, ag.matmul(h_prev, self.recurrent_kernel)))
        return out, ([out] if listed else out)


class LSTMCell(_Cell):
    """Gates i, f, c, o from z = x @ kernel + h_prev @ recurrent_kernel + bias:
    c = f*c_prev + i*activation(z_c), h = o*activation(c); returns (h, [h, c])."""
    _gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [self.units, self.units]

    def _bias_init(self):
        return _LstmForgetBias(self.units, self.bias_initializer) if self.unit_forget_bias else self.bias_initializer

    def call(self, inputs, states, training=False):
        h_prev, c_prev = self._states(states, 2)
        u = self.units
        z = ag.add(ag.matmul(ag.as_eager(inputs), self.kernel), ag.matmul(h_prev, self.recurrent_kernel))
        if self.bias is not None:
            z = ag.bias_add(z, self.bias)
        ra = self.recurrent_activation
        i, f = ra(_cols(z, 0, u)), ra(_cols(z, u, 2 * u))
        c = ag.add(ag.multiply(f, c_prev), ag.multiply(i, self.activation(_cols(z, 2 * u, 3 * u))))
        o = ra(_cols(z, 3 * u, 4 * u))
        h = ag.multiply(o, self.activation(c))
        return h, [h, c]

    def get_config(self):
        c = super().get_config()
        c.update(recurrent_activation=act_ser(self.recurrent_activation), unit_forget_bias=self.unit_forget_bias)
        return c


class GRUCell(_Cell):
    """Gates z, r, h (Keras 3). reset_after=True (default): bias (2, 3*units),
    hh = activation(x_h + r * (h_prev @ U_h + b_rec_h)); h = z*h_prev + (1-z)*hh."""
    _gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 reset_after=True, **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def call(self, inputs, states, training=False):
        listed = isinstance(states, (list, tuple))
        (h_prev,) = self._states(states, 1)
        u = self.units
        x = ag.as_eager(inputs)
        xm = ag.matmul(x, self.kernel)
        ib = rb = None
        if self.bias is not None:
            if self.reset_after:
                ib, rb = ag.reshape(self.bias[0], [3 * u]), ag.reshape(self.bias[1], [3 * u])
            else:
                ib = self.bias
            xm = ag.bias_add(xm, ib)
        ra = self.recurrent_activation
        if self.reset_after:
            inner = ag.matmul(h_prev, self.recurrent_kernel)
            if rb is not None:
                inner = ag.bias_add(inner, rb)
            z = ra(ag.add(_cols(xm, 0, u), _cols(inner, 0, u)))
            r = ra(ag.add(_cols(xm, u, 2 * u), _cols(inner, u, 2 * u)))
            rh = ag.multiply(r, _cols(inner, 2 * u, 3 * u))
        else:
            rk = self.recurrent_kernel
            inner = ag.matmul(h_prev, _cols(rk, 0, 2 * u))
            z = ra(ag.add(_cols(xm, 0, u), _cols(inner, 0, u)))
            r = ra(ag.add(_cols(xm, u, 2 * u), _cols(inner, u, 2 * u)))
            rh = ag.matmul(ag.multiply(r, h_prev), _cols(rk, 2 * u, 3 * u))
        hh = self.activation(ag.add(_cols(xm, 2 * u, 3 * u), rh))
        h = ag.add(ag.multiply(z, h_prev), ag.multiply(ag.subtract(1.0, z), hh))
        return h, ([h] if listed else h)

    def get_config(self):
        c = super().get_config()
        c.update(recurrent_activation=act_ser(self.recurrent_activation), reset_after=self.reset_after)
        return c


def _state_sizes(cell):
    ss = getattr(cell, "state_size", None)
    if ss is None:
        raise ValueError("RNN: the cell %r has no `state_size` attribute" % (cell,))
    return [int(s) for s in ss] if isinstance(ss, (list, tuple)) else [int(ss)]


def _output_size(cell):
    o = getattr(cell, "output_size", None)
    return int(o) if o is not None else _state_sizes(cell)[0]


def _serialize(layer):
    return {"module": "keras.layers", "class_name": type(layer).__name__, "config": layer.get_config(),
            "registered_name": None}


def _deserialize(cfg, custom_objects=None):
    from .. import saving
    return saving.deserialize_layer(cfg, custom_objects)


class StackedRNNCells(Layer):
    """Several cells as one: the output of each feeds the next; the states are
    the concatenated lists of the cells' states."""

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        for c in cells:
            if not hasattr(c, "call") or not hasattr(c, "state_size"):
                raise ValueError("%s: every cell needs `call` and `state_size`, got %r" % (_lname(self), c))
        self.cells = list(cells)

    @property
    def state_size(self):
        return [s for c in self.cells for s in _state_sizes(c)]

    @property
    def output_size(self):
        return _output_size(self.cells[-1])

    def build(self, input_shape):
        shape = tuple(input_shape)
        for c in self.cells:
            if not c.built:
                c._maybe_build([shape])
            shape = (shape[0], _output_size(c))
        self.built = True

    def call(self, inputs, states, training=False):
        states = list(states)
        new, x = [], inputs
        for c in self.cells:
            k = len(_state_sizes(c))
            st, states = states[:k], states[k:]
            x, ns = c(x, st, training=training)
            new.extend(ns if isinstance(ns, (list, tuple)) else [ns])
        return x, new

    def get_config(self):
        c = super().get_config()
        c["cells"] = [_serialize(cell) for cell in self.cells]
        return c

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        cells = [_deserialize(c, custom_objects) for c in config.pop("cells")]
        return cls(cells, **config)


class RNN(Layer):
    """Runs `cell` over the time axis of (batch, time, features): at each step
    `output, new_states = cell(x_t, states)`. Returns the last output (or all of
    them with return_sequences, in processing order when go_backwards), plus the
    final states with return_state. A list of cells is stacked."""
    _pcn_int_input = False

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, zero_output_for_mask=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        if not hasattr(cell, "call") or not callable(cell):
            raise ValueError("%s: argument `cell` should have a `call` method, got %r" % (_lname(self), cell))
        if getattr(cell, "state_size", None) is None:
            raise ValueError("%s: the RNN cell should have a `state_size` attribute (a single integer or a list "
                             "of integers, one per state), got cell %r" % (_lname(self), cell))
        if stateful:
            raise NotImplementedError("%s: stateful=True is not supported" % _lname(self))
        self.cell = cell
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.stateful, self.unroll = bool(go_backwards), False, bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.input_spec = InputSpec(ndim=self._step_ndim + 2)
        self.supports_masking = True

    _step_ndim = 1  # axes of one step's input after the batch (ConvLSTM2D: H, W, C)

    def compute_mask(self, inputs, mask=None):
        out = mask if self.return_sequences else None
        return [out] if self.return_state else out

    def build(self, input_shape):
        if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (tuple, list)):
            input_shape = input_shape[0]
        if len(input_shape) != self._step_ndim + 2 or input_shape[-1] is None:
            raise ValueError("%s: expected inputs (batch, time, %s) with known channels, got shape %s"
                             % (_lname(self), "features" if self._step_ndim == 1 else "rows, cols, channels",
                                input_shape))
        step = (input_shape[0],) + tuple(input_shape[2:])
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell._maybe_build([step])
        if isinstance(self.cell, Layer) and not self.cell.weights:
            # a custom cell may create its sub-layers' weights on its first call: run one step on zeros
            # so that the model has its weights (summary, set_weights, the optimizer) before training
            x = ag.EagerTensor(_C.zeros(1, *step[1:], device=getattr(self, "_pcn_device", "cpu")))
            with ag.no_grad():
                self._step(x, self._zero_states(1, x.device), False)
        self.built = True

    @property
    def state_size(self):
        return self.cell.state_size

    def reset_state(self):
        """stateful=False only: nothing is carried between calls."""

    reset_states = reset_state

    def _zero_states(self, n, device):
        if isinstance(self.cell, _ConvLSTMCell):  # spatial states: the cell knows their shape
            return [ag.EagerTensor(_C.zeros(*s.shape, device=device)) for s in self.cell.get_initial_state(n)]
        return [ag.EagerTensor(_C.zeros(n, s, device=device)) for s in _state_sizes(self.cell)]

    def _step(self, x, states, training):
        # states go in as a list, as Keras's RNN passes them; Layer.__call__ forwards `training`
        # only to a call() that takes it
        kw = {"training": training} if isinstance(self.cell, Layer) else {}
        out, new = self.cell(x, list(states), **kw)
        new = list(new) if isinstance(new, (list, tuple)) else [new]
        return ag.as_eager(out), [ag.as_eager(s) for s in new]

    def _mask(self, mask, n, t, device):
        """mask (N, T) bool/0-1 -> per step, (m, 1 - m) as (N, 1) float EagerTensors (constants)."""
        m = mask.numpy() if isinstance(mask, (ag.EagerTensor, _C.Tensor)) else np.asarray(mask)
        if m.shape != (n, t):
            raise ValueError("%s: mask must have shape (batch, time) = %s, got %s" % (_lname(self), (n, t), m.shape))
        m = (m != 0).astype(np.float32)
        return [(ag.EagerTensor(_C.tensor(np.ascontiguousarray(m[:, i:i + 1]), device=device)),
                 ag.EagerTensor(_C.tensor(np.ascontiguousarray(1.0 - m[:, i:i + 1]), device=device)))
                for i in range(t)]

    def call(self, inputs, initial_state=None, mask=None, training=None):
        if isinstance(inputs, (list, tuple)):
            inputs, initial_state = inputs[0], list(inputs[1:]) or initial_state
        if mask is None:  # Keras's implicit mask (a Masking layer's output)
            mask = getattr(inputs, "_keras_mask", None)
        x = ag.as_eager(inputs)
        n, t = x.shape[:2]
        sizes = _state_sizes(self.cell)
        zeros = self._zero_states(n, x.device)
        if initial_state is None:
            states = zeros
        else:
            states = [ag.as_eager(s, x) for s in (initial_state if isinstance(initial_state, (list, tuple))
                                                  else [initial_state])]
            if len(states) != len(sizes):
                raise ValueError("%s: expected %d initial state tensor(s), got %d"
                                 % (_lname(self), len(sizes), len(states)))
            for s, z in zip(states, zeros):
                if s.shape != z.shape:
                    raise ValueError("%s: an initial state has shape %s, expected %s" % (_lname(self), s.shape,
                                                                                          z.shape))
        if t == 0:
            raise ValueError("%s: the input has 0 time steps" % _lname(self))
        masks = self._mask(mask, n, t, x.device) if mask is not None else None
        outs = []
        out = prev = None
        for i in (range(t - 1, -1, -1) if self.go_backwards else range(t)):
            xt = ag.reshape(ag.slice_axis(x, 1, i, i + 1), [n] + list(x.shape[2:]))
            new_out, new_states = self._step(xt, states, bool(training))
            if masks is None:
                out, states = new_out, new_states
            else:
                # Keras: a masked step keeps the previous states and repeats the previous output
                # (zeros before the first step; zeros at masked steps with zero_output_for_mask)
                mt, keep = masks[i]
                if new_out.ndim > 2:  # spatial outputs/states (ConvLSTM2D): (N, 1, 1, 1)
                    mt = ag.reshape(mt, [n] + [1] * (new_out.ndim - 1))
                    keep = ag.reshape(keep, [n] + [1] * (new_out.ndim - 1))
                if prev is None:
                    prev = ag.multiply(new_out, 0.0)
                # exact select (m in {0, 1}): new*m + old*(1-m)
                out = ag.add(ag.multiply(new_out, mt), ag.multiply(prev, keep))
                states = [ag.add(ag.multiply(ns, mt), ag.multiply(s, keep)) for s, ns in zip(states, new_states)]
                prev = out
                if self.zero_output_for_mask:
                    out = ag.multiply(out, mt)
            if self.return_sequences:
                outs.append(ag.reshape(out, [n, 1] + list(out.shape[1:])))
        y = ag.concat(outs, 1) if self.return_sequences else out
        if mask is not None and self.return_sequences:  # Keras: the output sequence keeps the mask
            from .extra import with_mask
            m = mask.numpy() if isinstance(mask, (ag.EagerTensor, _C.Tensor)) else np.asarray(mask)
            y = with_mask(y, m != 0)
        if self.return_state:
            return (y, *states)  # a tuple, as Keras 3
        return y

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (tuple, list)):
            input_shape = input_shape[0]
        n, t = input_shape[0], input_shape[1]
        o = _output_size(self.cell)
        y = (n, t, o) if self.return_sequences else (n, o)
        if self.return_state:
            return [y] + [(n, s) for s in _state_sizes(self.cell)]
        return y

    def get_config(self):
        c = super().get_config()
        c.update(return_sequences=self.return_sequences, return_state=self.return_state,
                 go_backwards=self.go_backwards, stateful=False, unroll=self.unroll,
                 zero_output_for_mask=self.zero_output_for_mask, cell=_serialize(self.cell))
        return c

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        cell = _deserialize(config.pop("cell"), custom_objects)
        return cls(cell, **config)


class _ConvLSTMCell(Layer):
    """ConvLSTM2D's cell: the LSTM gates i, f, c, o from convolutions,
    z = conv(x, kernel; strides, padding, dilation) + bias + conv(h, recurrent_kernel; 'same');
    kernel (kh, kw, C, 4F), recurrent_kernel (kh, kw, F, 4F), bias (4F,)."""
    _pcn_int_input = False

    def __init__(self, filters, kernel_size, strides, padding, dilation_rate, activation, recurrent_activation,
                 use_bias, kernel_initializer, recurrent_initializer, bias_initializer, unit_forget_bias,
                 kernel_regularizer, recurrent_regularizer, bias_regularizer, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.strides = filters, kernel_size, strides
        self.padding, self.dilation_rate = padding, dilation_rate
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias, self.unit_forget_bias = bool(use_bias), bool(unit_forget_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = reg_get(kernel_regularizer)
        self.recurrent_regularizer = reg_get(recurrent_regularizer)
        self.bias_regularizer = reg_get(bias_regularizer)
        self.state_size = [filters, filters]

    def build(self, input_shape):
        _, h, w, c = input_shape
        if h is None or w is None:
            raise ValueError("%s: ConvLSTM layers only support static input shapes for the spatial dimensions, "
                             "received input shape %s" % (_lname(self), input_shape))
        from .conv1d import out_length
        self.spatial_dims = (h, w)
        self.out_hw = tuple(out_length(n, k, self.padding, s, d) for n, k, s, d in
                            zip((h, w), self.kernel_size, self.strides, self.dilation_rate))
        if min(self.out_hw) <= 0:
            raise ValueError("%s: the kernel %s does not fit the input (%d, %d) with padding=%r"
                             % (_lname(self), self.kernel_size, h, w, self.padding))
        f = self.filters
        self.kernel = self.add_weight(name="kernel", shape=self.kernel_size + (c, 4 * f),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer)
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=self.kernel_size + (f, 4 * f),
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer)
        binit = _LstmForgetBias(f, self.bias_initializer) if self.unit_forget_bias else self.bias_initializer
        self.bias = self.add_weight(name="bias", shape=(4 * f,), initializer=binit,
                                    regularizer=self.bias_regularizer) if self.use_bias else None
        self.built = True

    def get_initial_state(self, batch_size=None):
        return [np.zeros((batch_size,) + self.out_hw + (self.filters,), np.float32) for _ in range(2)]

    def call(self, inputs, states, training=False):
        h_prev, c_prev = [ag.as_eager(s) for s in states]
        f = self.filters
        z = ag.conv2d(inputs, self.kernel, self.bias, self.strides, self.padding, self.dilation_rate, 1, "none")
        z = ag.add(z, ag.conv2d(h_prev, self.recurrent_kernel, None, (1, 1), "same", (1, 1), 1, "none"))
        ra = self.recurrent_activation

        def gate(k):
            return ag.slice_axis(z, 3, k * f, (k + 1) * f)
        i, fg = ra(gate(0)), ra(gate(1))
        c = ag.add(ag.multiply(fg, c_prev), ag.multiply(i, self.activation(gate(2))))
        h = ag.multiply(ra(gate(3)), self.activation(c))
        return h, [h, c]


class ConvLSTM2D(RNN):
    """Convolutional LSTM over (batch, time, rows, cols, channels): the LSTM's
    matrix products are 2-D convolutions (input: strides/padding/dilation as
    given; recurrent: 'same', stride 1). Weights kernel (kh, kw, C, 4F),
    recurrent_kernel (kh, kw, F, 4F), bias (4F,) (unit_forget_bias), gates
    i, f, c, o; outputs (N, T, H', W', F) with return_sequences else (N, H', W', F)."""
    _step_ndim = 3

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, **kwargs):
        from .conv1d import data_format_arg, ntuple, padding_arg
        rnn_kw = {k: kwargs.pop(k) for k in ("unroll", "zero_output_for_mask") if k in kwargs}
        Layer.__init__(self, **kwargs)  # name first, so that argument errors can name the layer
        self.data_format = data_format_arg(data_format, self)
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters <= 0:
            raise ValueError("%s: filters must be a positive integer, got %r" % (_lname(self), filters))
        no_constraints(self, kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                       bias_constraint=bias_constraint)
        if activity_regularizer is not None:
            raise NotImplementedError("%s: activity_regularizer is not supported" % _lname(self))
        if dropout or recurrent_dropout:
            raise NotImplementedError("%s: dropout/recurrent_dropout are not supported; use SpatialDropout3D-like "
                                      "dropout outside the layer" % _lname(self))
        cell = _ConvLSTMCell(int(filters), ntuple(kernel_size, 2, "kernel_size", self),
                             ntuple(strides, 2, "strides", self), padding_arg(padding, self),
                             ntuple(dilation_rate, 2, "dilation_rate", self), activation, recurrent_activation,
                             use_bias, kernel_initializer, recurrent_initializer, bias_initializer, unit_forget_bias,
                             kernel_regularizer, recurrent_regularizer, bias_regularizer,
                             name=utils.unique_name("conv_lstm_cell"))
        name = self.name
        RNN.__init__(self, cell, return_sequences=return_sequences, return_state=return_state,
                     go_backwards=go_backwards, stateful=stateful, name=name,
                     trainable=kwargs.get("trainable", True), **rnn_kw)
        self.seed = seed

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (tuple, list)):
            input_shape = input_shape[0]
        from .conv1d import out_length
        c = self.cell
        n, t, h, w, _ = input_shape
        hw = tuple(out_length(a, k, c.padding, s, d) for a, k, s, d in
                   zip((h, w), c.kernel_size, c.strides, c.dilation_rate))
        y = (n, t) + hw + (c.filters,) if self.return_sequences else (n,) + hw + (c.filters,)
        if self.return_state:
            return [y, (n,) + hw + (c.filters,), (n,) + hw + (c.filters,)]
        return y

    def get_config(self):
        c = Layer.get_config(self)
        cell = self.cell
        c.update(return_sequences=self.return_sequences, return_state=self.return_state,
                 go_backwards=self.go_backwards, stateful=False, unroll=self.unroll,
                 zero_output_for_mask=self.zero_output_for_mask, filters=cell.filters,
                 kernel_size=cell.kernel_size, strides=cell.strides, padding=cell.padding,
                 data_format=self.data_format, dilation_rate=cell.dilation_rate,
                 activation=act_ser(cell.activation), recurrent_activation=act_ser(cell.recurrent_activation),
                 use_bias=cell.use_bias, kernel_initializer=init_ser(cell.kernel_initializer),
                 recurrent_initializer=init_ser(cell.recurrent_initializer),
                 bias_initializer=init_ser(cell.bias_initializer), unit_forget_bias=cell.unit_forget_bias,
                 kernel_regularizer=reg_ser(cell.kernel_regularizer),
                 recurrent_regularizer=reg_ser(cell.recurrent_regularizer),
                 bias_regularizer=reg_ser(cell.bias_regularizer), activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=self.seed)
        return c

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)
