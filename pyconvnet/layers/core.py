"""Core layers: Dense, Activation, ReLU, LeakyReLU, Softmax, Dropout, Lambda, Embedding."""
import base64
import marshal
import types

import numpy as np

from .. import activations
from .. import autograd as ag
from .. import initializers
from .. import utils
from .base import Layer, InputSpec

__all__ = ["Dense", "Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "Dropout", "Lambda", "Embedding",
           "Identity", "Rescaling"]


def _act_config(fn):
    return activations.serialize(fn)


def _init_config(init):
    try:
        return initializers.serialize(init)
    except ValueError:
        return None


class Dense(Layer):
    """y = activation(x @ kernel + bias); kernel (in, units). Inputs of rank > 2
    apply to the last axis."""
    _pcn_int_input = False

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, lora_rank=None, **kwargs):
        super().__init__(**kwargs)
        units = int(units) if not isinstance(units, bool) else -1
        if units <= 0:
            raise ValueError("Dense '%s': units must be a positive integer, got %r" % (self.name, units))
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.input_spec = InputSpec(min_ndim=2)

    def build(self, input_shape):
        d = input_shape[-1]
        if d is None:
            raise ValueError("Dense '%s': the last dimension of the inputs must be defined, got shape %s"
                             % (self.name, input_shape))
        self.kernel = self.add_weight(name="kernel", shape=(d, self.units), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer)
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer) if self.use_bias else None
        self.input_spec = InputSpec(min_ndim=2, axes={-1: d})
        self.built = True

    def call(self, inputs):
        return self.activation(ag.dense(inputs, self.kernel, self.bias))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        c = super().get_config()
        c.update(units=self.units, activation=_act_config(self.activation), use_bias=self.use_bias,
                 kernel_initializer=_init_config(self.kernel_initializer),
                 bias_initializer=_init_config(self.bias_initializer))
        return c


class Activation(Layer):
    _pcn_int_input = False
    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        c = super().get_config()
        c["activation"] = _act_config(self.activation)
        return c


class ReLU(Layer):
    _pcn_int_input = False
    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None and max_value < 0:
            raise ValueError("ReLU '%s': max_value must be >= 0, got %r" % (self.name, max_value))
        if negative_slope < 0:
            raise ValueError("ReLU '%s': negative_slope must be >= 0, got %r" % (self.name, negative_slope))
        if threshold != 0:
            raise NotImplementedError("ReLU '%s': threshold != 0 is not supported" % self.name)
        self.max_value, self.negative_slope, self.threshold = max_value, float(negative_slope), float(threshold)

    def call(self, inputs):
        return activations.relu(inputs, negative_slope=self.negative_slope, max_value=self.max_value)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        c = super().get_config()
        c.update(max_value=self.max_value, negative_slope=self.negative_slope, threshold=self.threshold)
        return c


class LeakyReLU(Layer):
    _pcn_int_input = False
    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        self.negative_slope = float(negative_slope)

    def call(self, inputs):
        return ag.activation(inputs, "leaky_relu", self.negative_slope)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        c = super().get_config()
        c["negative_slope"] = self.negative_slope
        return c


class ELU(Layer):
    _pcn_int_input = False
    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def call(self, inputs):
        return ag.activation(inputs, "elu", self.alpha)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        c = super().get_config()
        c["alpha"] = self.alpha
        return c


class Softmax(Layer):
    _pcn_int_input = False
    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs, mask=None):
        return ag.softmax(inputs, self.axis)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        c = super().get_config()
        c["axis"] = self.axis
        return c


class Identity(Layer):
    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


class Dropout(Layer):
    """Zeroes a fraction `rate` of inputs in training and scales the rest by 1/(1-rate)."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate <= 1:
            raise ValueError("Dropout '%s': rate must be in [0, 1], got %r" % (self.name, rate))
        if noise_shape is not None:
            raise NotImplementedError("Dropout '%s': noise_shape is not supported" % self.name)
        self.rate = float(rate)
        self.seed = seed
        self._pcn_rng = np.random.default_rng(seed) if seed is not None else None

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        if self.rate >= 1:
            return ag.multiply(inputs, 0.0)
        seed = int(self._pcn_rng.integers(0, 2 ** 31 - 1)) if self._pcn_rng is not None else utils.next_seed()
        return ag.dropout(inputs, self.rate, seed)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        c = super().get_config()
        c.update(rate=self.rate, seed=self.seed)
        return c


class Lambda(Layer):
    """Wraps a function of tensors. Saving stores its bytecode; loading it needs
    safe_mode=False (as in Keras), since loading runs arbitrary code."""

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError("Lambda '%s': function must be callable, got %r" % (self.name, function))
        self.function = function
        self.arguments = arguments or {}
        self._output_shape = output_shape

    def call(self, inputs, training=None):
        return self.function(inputs, **self.arguments)

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            raise NotImplementedError
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        return (input_shape[0],) + tuple(self._output_shape)

    def get_config(self):
        c = super().get_config()
        f = self.function
        if isinstance(f, types.FunctionType):
            c["function"] = {"class_name": "__lambda__", "config": {
                "code": base64.b64encode(marshal.dumps(f.__code__)).decode("ascii"),
                "defaults": None, "closure": None, "name": f.__name__}}
        else:
            c["function"] = {"class_name": "__unsupported__", "config": {"repr": repr(f)}}
        c["arguments"] = self.arguments
        c["output_shape"] = self._output_shape if not callable(self._output_shape) else None
        return c

    @classmethod
    def from_config(cls, config, safe_mode=True, custom_objects=None):
        config = dict(config)
        fn = config.pop("function")
        if isinstance(fn, dict) and fn.get("class_name") == "__lambda__":
            if safe_mode:
                raise ValueError(
                    "Requested the deserialization of a Lambda layer ('%s') whose function is Python bytecode. "
                    "This carries a potential risk of arbitrary code execution and thus it is disallowed by default. "
                    "If you trust the source of the saved model, pass safe_mode=False to load_model()."
                    % config.get("name"))
            import pyconvnet
            code = marshal.loads(base64.b64decode(fn["config"]["code"]))
            g = {"tf": pyconvnet, "keras": pyconvnet, "np": np, "__builtins__": __builtins__}
            g.update(custom_objects or {})
            missing = [v for v in code.co_freevars if v not in g]
            if missing:
                raise ValueError("Lambda '%s': its function refers to enclosing-scope names %s; pass them in "
                                 "custom_objects" % (config.get("name"), missing))
            closure = tuple(types.CellType(g[v]) for v in code.co_freevars) or None
            fn = types.FunctionType(code, g, fn["config"].get("name"), None, closure)
        elif isinstance(fn, str) and custom_objects and fn in custom_objects:
            fn = custom_objects[fn]
        else:
            raise ValueError("Lambda '%s': cannot deserialize its function %r" % (config.get("name"), fn))
        return cls(fn, **config)


class Embedding(Layer):
    """Integer ids (..., ) -> vectors (..., output_dim). Implemented as
    one_hot(ids) @ embeddings on the kernels (memory grows with input_dim)."""

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, weights=None, lora_rank=None, **kwargs):
        super().__init__(**kwargs)
        if int(input_dim) <= 0 or int(output_dim) <= 0:
            raise ValueError("Embedding '%s': input_dim and output_dim must be positive, got %r, %r"
                             % (self.name, input_dim, output_dim))
        if mask_zero:
            raise NotImplementedError("Embedding '%s': mask_zero=True (masking) is not supported" % self.name)
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self._pcn_initial = weights

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(name="embeddings", shape=(self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer)
        if self._pcn_initial is not None:
            self.set_weights(self._pcn_initial)
        self.built = True

    def call(self, inputs):
        x = ag.as_eager(inputs)
        lead = list(x.shape)
        flat = ag.reshape(x, [-1])
        oh = ag.one_hot(flat, self.input_dim)
        y = ag.matmul(oh, self.embeddings)
        return ag.reshape(y, lead + [self.output_dim])

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self):
        c = super().get_config()
        c.update(input_dim=self.input_dim, output_dim=self.output_dim,
                 embeddings_initializer=_init_config(self.embeddings_initializer))
        return c


class Rescaling(Layer):
    """y = x * scale + offset (e.g. Rescaling(1./255) for uint8 images)."""
    _pcn_int_input = False

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.offset = float(scale), float(offset)

    def call(self, inputs):
        y = ag.multiply(inputs, self.scale)
        return ag.add(y, self.offset) if self.offset else y

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        c = super().get_config()
        c.update(scale=self.scale, offset=self.offset)
        return c
