"""Recurrent layers on the whole-sequence `_C.rnn_forward/backward` kernels:
SimpleRNN, LSTM (gates i, f, c, o), GRU (z, r, h; reset_after=True, bias
(2, 3*units)); Bidirectional and TimeDistributed wrappers. Sequences are
(batch, time, features); stateful=False only."""
import numpy as np

from .. import activations
from .. import autograd as ag
from .. import initializers
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


class _RNN(Layer):
    _pcn_int_input = False
    _gates = 1
    _cell = "simple_tanh"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        if int(units) <= 0:
            raise ValueError("%s '%s': units must be positive, got %r" % (cls, self.name, units))
        if stateful:
            raise NotImplementedError("%s '%s': stateful=True is not supported" % (cls, self.name))
        if dropout or recurrent_dropout:
            raise NotImplementedError("%s '%s': dropout/recurrent_dropout inside the cell are not supported; "
                                      "use a Dropout layer between recurrent layers" % (cls, self.name))
        self.units = int(units)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful, self.unroll = False, bool(unroll)
        self.dropout, self.recurrent_dropout = 0.0, 0.0
        self.input_spec = InputSpec(ndim=3)
        self._check_acts()

    def _check_acts(self):
        if self.activation is activations.tanh:
            self._cell = "simple_tanh"
        elif self.activation is activations.relu:
            self._cell = "simple_relu"
        else:
            raise NotImplementedError("SimpleRNN '%s': activation must be 'tanh' or 'relu' (the fused kernels)"
                                      % self.name)

    def _bias_shape(self):
        return (self._gates * self.units,)

    def _bias_init(self):
        return self.bias_initializer

    def build(self, input_shape):
        if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (tuple, list)):
            input_shape = input_shape[0]
        d = input_shape[-1]
        if d is None:
            raise ValueError("%s '%s': the feature dimension of the inputs must be defined" %
                             (type(self).__name__, self.name))
        g = self._gates * self.units
        self.kernel = self.add_weight(name="kernel", shape=(d, g), initializer=self.kernel_initializer)
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(self.units, g),
                                                initializer=self.recurrent_initializer)
        self.bias = self.add_weight(name="bias", shape=self._bias_shape(), initializer=self._bias_init()) \
            if self.use_bias else None
        self.input_spec = InputSpec(ndim=3, axes={-1: d})
        self.built = True

    def call(self, inputs, initial_state=None, training=None, mask=None):
        if mask is not None:
            raise NotImplementedError("%s '%s': masking is not supported" % (type(self).__name__, self.name))
        if isinstance(inputs, (list, tuple)):
            inputs, initial_state = inputs[0], list(inputs[1:]) or initial_state
        h0 = c0 = None
        if initial_state is not None:
            st = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            need = 2 if self._cell == "lstm" else 1
            if len(st) != need:
                raise ValueError("%s '%s': expected %d initial state tensor(s), got %d"
                                 % (type(self).__name__, self.name, need, len(st)))
            h0 = st[0]
            c0 = st[1] if need == 2 else None
        out, h, c = ag.rnn(inputs, self.kernel, self.recurrent_kernel, self.bias, h0, c0, self._cell,
                           self.go_backwards, True)
        y = out if self.return_sequences else h
        if self.return_state:
            return [y, h, c] if self._cell == "lstm" else [y, h]
        return y

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (tuple, list)):
            input_shape = input_shape[0]
        n, t = input_shape[0], input_shape[1]
        y = (n, t, self.units) if self.return_sequences else (n, self.units)
        if self.return_state:
            return [y] + [(n, self.units)] * (2 if self._cell == "lstm" else 1)
        return y

    def get_config(self):
        c = super().get_config()
        c.update(units=self.units, activation=_act_config(self.activation), use_bias=self.use_bias,
                 kernel_initializer=_init_config(self.kernel_initializer),
                 recurrent_initializer=_init_config(self.recurrent_initializer),
                 bias_initializer=_init_config(self.bias_initializer), return_sequences=self.return_sequences,
                 return_state=self.return_state, go_backwards=self.go_backwards, stateful=False,
                 unroll=self.unroll)
        return c


class SimpleRNN(_RNN):
    """Fully-connected RNN: h_t = act(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)."""
    _gates = 1

    def __init__(self, units, activation="tanh", **kwargs):
        kwargs.pop("recurrent_activation", None)
        super().__init__(units, activation=activation, **kwargs)


class LSTM(_RNN):
    """LSTM, Keras 3 layout: kernel (in, 4u), recurrent_kernel (u, 4u), bias (4u,), gates i, f, c, o."""
    _gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", unit_forget_bias=True, **kwargs):
        self.unit_forget_bias = bool(unit_forget_bias)
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation, **kwargs)

    def _check_acts(self):
        if self.activation is not activations.tanh or self.recurrent_activation is not activations.sigmoid:
            raise NotImplementedError("LSTM '%s': only activation='tanh', recurrent_activation='sigmoid' are "
                                      "supported (the fused kernel)" % self.name)
        self._cell = "lstm"

    def _bias_init(self):
        return _LstmBias(self.units, self.bias_initializer) if self.unit_forget_bias else self.bias_initializer

    def get_config(self):
        c = super().get_config()
        c.update(recurrent_activation="sigmoid", unit_forget_bias=self.unit_forget_bias)
        return c


class GRU(_RNN):
    """GRU, Keras 3 layout (reset_after=True): kernel (in, 3u), recurrent_kernel (u, 3u),
    bias (2, 3u) (input and recurrent biases), gates z, r, h."""
    _gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", reset_after=True, **kwargs):
        if not reset_after:
            raise NotImplementedError("GRU: only reset_after=True (the Keras 3 default) is supported")
        self.reset_after = True
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation, **kwargs)

    def _check_acts(self):
        if self.activation is not activations.tanh or self.recurrent_activation is not activations.sigmoid:
            raise NotImplementedError("GRU '%s': only activation='tanh', recurrent_activation='sigmoid' are "
                                      "supported (the fused kernel)" % self.name)
        self._cell = "gru"

    def _bias_shape(self):
        return (2, 3 * self.units)

    def get_config(self):
        c = super().get_config()
        c.update(recurrent_activation="sigmoid", reset_after=True)
        return c


class Bidirectional(Layer):
    """Runs `layer` forward and a copy with go_backwards=True; merges with
    merge_mode 'concat' (default), 'sum', 'mul', 'ave' or None (a list).
    Weights: the forward layer's, then the backward layer's."""

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, _RNN):
            raise ValueError("Bidirectional '%s': expects a SimpleRNN, LSTM or GRU layer, got %r" % (self.name, layer))
        if merge_mode not in ("concat", "sum", "mul", "ave", None):
            raise ValueError("Bidirectional '%s': invalid merge_mode %r" % (self.name, merge_mode))
        self.merge_mode = merge_mode
        cfg = layer.get_config()
        cfg.pop("batch_input_shape", None)
        self.forward_layer = layer
        layer.name = "forward_" + layer.name
        if backward_layer is None:
            cfg["name"] = "backward_" + cfg["name"]
            cfg["go_backwards"] = not layer.go_backwards
            backward_layer = type(layer).from_config(cfg)
        self.backward_layer = backward_layer
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.input_spec = InputSpec(ndim=3)

    def build(self, input_shape):
        self.forward_layer._maybe_build([tuple(input_shape)])
        self.backward_layer._maybe_build([tuple(input_shape)])
        self.built = True

    def call(self, inputs, training=None, initial_state=None):
        yf = self.forward_layer(inputs, training=training)
        yb = self.backward_layer(inputs, training=training)
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
            y = [yf, yb]
        if self.return_state:
            return (y if isinstance(y, list) else [y]) + sf + sb
        return y

    def compute_output_shape(self, input_shape):
        fs = self.forward_layer.compute_output_shape(input_shape)
        y = fs[0] if self.return_state else fs
        if self.merge_mode == "concat":
            y = tuple(y[:-1]) + (2 * y[-1],)
        ys = [y, y] if self.merge_mode is None else [y]
        if self.return_state:
            st = fs[1:]
            return ys + st + st
        return ys if self.merge_mode is None else y

    def get_config(self):
        from ..saving import serialize_layer
        c = super().get_config()
        c.update(layer=serialize_layer(self.forward_layer), merge_mode=self.merge_mode)
        return c

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..saving import deserialize_layer
        config = dict(config)
        layer = deserialize_layer(config.pop("layer"), custom_objects)
        if layer.name.startswith("forward_"):
            layer.name = layer.name[len("forward_"):]
        return cls(layer, **config)


class TimeDistributed(Layer):
    """Applies `layer` to every time step: (N, T, ...) -> (N*T, ...) -> layer -> (N, T, ...)."""

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise ValueError("TimeDistributed '%s': expects a Layer, got %r" % (self.name, layer))
        self.layer = layer

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError("TimeDistributed '%s': inputs must be at least 3-D (batch, time, ...), got %s"
                             % (self.name, input_shape))
        self.layer._maybe_build([(None,) + tuple(input_shape[2:])])
        self.built = True

    def call(self, inputs, training=None):
        x = ag.as_eager(inputs)
        n, t = x.shape[0], x.shape[1]
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
