"""Core layers: Dense, Activation, ReLU, LeakyReLU, Softmax, Dropout, Lambda, Embedding."""
import base64
import marshal
import types

import numpy as np

from .. import _C
from .. import activations
from .. import autograd as ag
from .. import constraints
from .. import initializers
from .. import regularizers
from .. import utils
from .base import Layer, InputSpec

__all__ = ["Dense", "Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "Dropout", "Lambda", "Embedding",
           "Identity", "Rescaling"]


def _act_config(fn):
    """Built-ins by Keras name; another callable by its __name__ (get_config must not fail on a custom
    activation: load it back with custom_objects)."""
    try:
        return activations.serialize(fn)
    except ValueError:
        return getattr(fn, "__name__", repr(fn))


def _init_config(init):
    try:
        return initializers.serialize(init)
    except ValueError:
        return None


def _reg_config(reg):
    try:
        return regularizers.serialize(reg)
    except ValueError:
        return None


def _con_config(con):
    try:
        return constraints.serialize(con)
    except ValueError:
        return None


def _positive_int(v, what, layer):
    """Keras raises ValueError for a non-integer or non-positive size (units=2.5, filters=0)."""
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
        raise ValueError("Received an invalid value for `%s`, expected a positive integer. Received: %s=%r "
                         "(layer %s '%s')" % (what, what, v, type(layer).__name__, layer.name))
    return int(v)


def _no_quantization(layer, quantization_config=None, lora_rank=None):
    """Keras-written configs carry quantization_config (None) and maybe lora_rank: accept None, refuse the rest."""
    if quantization_config is not None:
        raise NotImplementedError("%s '%s': quantization_config is not supported" % (type(layer).__name__, layer.name))
    if lora_rank:
        raise NotImplementedError("%s '%s': lora_rank (LoRA) is not supported" % (type(layer).__name__, layer.name))


class _ActivityLoss:
    """Regularizer-shaped callable (reg(v)) that returns the activity penalty of `layer`'s latest call;
    registered in the layer's (weight, regularizer) list so fit's cached regularizer pass includes it."""

    def __init__(self, layer):
        self.layer = layer

    def __call__(self, _v):
        return self.layer._pcn_activity_loss


def _optimizer_applies_constraints():
    """True once optimizers.Optimizer applies `variable.constraint` after each update itself (it then sets
    the class attribute `applies_constraints = True`); until then the layers apply them lazily."""
    from .. import optimizers
    return bool(getattr(optimizers.Optimizer, "applies_constraints", False))


class _AnyActivity:
    """Keras's base Layer takes `activity_regularizer` for every layer: penalty(output) / batch_size,
    recomputed at each call and listed in layer.losses (and fit's loss). Mixin for the weightless layers
    (layers with weights implement it in _WeightExtras)."""

    def __init__(self, *args, activity_regularizer=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self._pcn_activity_loss = None

    def __call__(self, *args, **kwargs):
        out = super().__call__(*args, **kwargs)
        if self.activity_regularizer is not None and isinstance(out, (ag.EagerTensor, np.ndarray)):
            y = out if isinstance(out, ag.EagerTensor) else \
                ag.EagerTensor(_C.tensor(np.ascontiguousarray(out, dtype=np.float32)))
            loss = self.activity_regularizer(y)
            self._pcn_activity_loss = ag.multiply(loss, 1.0 / y.shape[0]) if y.ndim and y.shape[0] else loss
            regs = getattr(self, "_pcn_regularizers", None)
            if regs is None:
                regs = self._pcn_regularizers = []
            if not any(isinstance(r, _ActivityLoss) for _, r in regs):
                regs.append((None, _ActivityLoss(self)))
        return out

    def get_config(self):
        c = super().get_config()
        if self.activity_regularizer is not None:
            c["activity_regularizer"] = _reg_config(self.activity_regularizer)
        return c


class _WhenTrainable:
    """Wraps a weight regularizer registered by add_weight: Keras counts the penalty of a weight only while
    it is trainable (layer.trainable and the variable's flag); otherwise it contributes 0 to fit's loss."""

    def __init__(self, reg, layer):
        self.reg, self.layer = reg, layer

    def __call__(self, v):
        if v.trainable and self.layer.trainable:
            return self.reg(v)
        with ag.no_grad():
            return ag.multiply(self.reg(v), 0.0)


class _WeightExtras:
    """Mixin for layers with weight regularizers, constraints and an activity regularizer (Keras semantics):
    - weight regularizers: add_weight(regularizer=...), penalties in `layer.losses` (trainable weights only);
    - activity_regularizer: penalty(output) / batch_size, recomputed at every call, first in `layer.losses`;
    - constraints: Keras projects a weight right after each optimizer update. The optimizer here does not
      know about constraints, so the layer applies a pending projection in place before its next call (and
      in get_weights): a weight that changed since a training call under a recording tape is projected.
      The forward of every training step thus sees the weights Keras's would."""

    def _pcn_init_extras(self, activity_regularizer):
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self._pcn_activity_loss = None
        self._pcn_constraints = []   # [variable, constraint, snapshot _C.Tensor or None]

    def _pcn_constrain(self, var, constraint):
        """Register `constraint` for `var` (called in build after add_weight); also makes the weight
        regularizers registered so far count only while trainable."""
        regs = getattr(self, "_pcn_regularizers", [])
        for i, (v, r) in enumerate(regs):
            if v is not None and not isinstance(r, (_WhenTrainable, _ActivityLoss)):
                regs[i] = (v, _WhenTrainable(r, self))
        if var is None or constraint is None:
            return
        try:  # Keras's variable.constraint, where the Variable class has the slot
            var.constraint = constraint
        except AttributeError:
            pass
        if not _optimizer_applies_constraints():
            self._pcn_constraints.append([var, constraint, None])

    def _pcn_apply_constraints(self):
        """Project every constrained weight that changed since the last training call (an optimizer update)."""
        for entry in self._pcn_constraints:
            v, con, snap = entry
            if snap is None:
                continue
            if snap.device != v.value.device or tuple(snap.shape) != tuple(v.value.shape):
                entry[2] = None
                continue
            diff = _C.reduce("max", _C.unary("abs", _C.binary("sub", v.value, snap)), list(range(snap.ndim)), False)
            if float(np.asarray(diff.numpy()).reshape(-1)[0]) > 0:  # updated since the training call
                entry[2] = None
                with ag.no_grad():
                    v.assign(con(v))

    def _pcn_before_call(self, training):
        if not self._pcn_constraints:
            return
        self._pcn_apply_constraints()
        if training and ag.recording():
            for entry in self._pcn_constraints:
                snap = _C.empty(*entry[0].value.shape, device=entry[0].value.device)
                snap.copy_(entry[0].value)
                entry[2] = snap

    def _pcn_after_call(self, y):
        if self.activity_regularizer is not None:
            loss = self.activity_regularizer(y)
            n = y.shape[0] if y.ndim > 0 else 0
            self._pcn_activity_loss = ag.multiply(loss, 1.0 / n) if n else loss
            regs = getattr(self, "_pcn_regularizers", None)
            if regs is None:
                regs = self._pcn_regularizers = []
            if not any(isinstance(r, _ActivityLoss) for _, r in regs):
                regs.append((None, _ActivityLoss(self)))
        return y

    @property
    def losses(self):
        """Activity penalty of the latest call, then penalties of the trainable regularized weights."""
        out = [self._pcn_activity_loss] if self.activity_regularizer is not None and \
            self._pcn_activity_loss is not None else []
        for v, reg in getattr(self, "_pcn_regularizers", []):
            if not isinstance(reg, _ActivityLoss) and v.trainable and self.trainable:
                out.append(reg.reg(v) if isinstance(reg, _WhenTrainable) else reg(v))
        return out

    @property
    def weights(self):
        # model.get_weights()/save() read weights through here: apply pending projections first
        if getattr(self, "_pcn_constraints", None):
            self._pcn_apply_constraints()
        return super().weights

    def get_weights(self):
        self._pcn_apply_constraints()
        return super().get_weights()

    def set_weights(self, weights):
        super().set_weights(weights)
        for entry in self._pcn_constraints:  # assigned weights are not projected (as in Keras)
            entry[2] = None


class Dense(_WeightExtras, Layer):
    """y = activation(x @ kernel + bias); kernel (in, units). Inputs of rank > 2
    apply to the last axis."""
    _pcn_int_input = False

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, lora_rank=None,
                 lora_alpha=None, quantization_config=None, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # an input mask passes on to the output (Keras)
        _no_quantization(self, quantization_config, lora_rank)
        self.units = _positive_int(units, "units", self)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self._pcn_init_extras(activity_regularizer)
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
        self._pcn_constrain(self.kernel, self.kernel_constraint)
        self._pcn_constrain(self.bias, self.bias_constraint)
        self.input_spec = InputSpec(min_ndim=2, axes={-1: d})
        self.built = True

    def call(self, inputs, training=None):
        self._pcn_before_call(training)
        return self._pcn_after_call(self.activation(ag.dense(inputs, self.kernel, self.bias)))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        c = super().get_config()
        c.update(units=self.units, activation=_act_config(self.activation), use_bias=self.use_bias,
                 kernel_initializer=_init_config(self.kernel_initializer),
                 bias_initializer=_init_config(self.bias_initializer),
                 kernel_regularizer=_reg_config(self.kernel_regularizer),
                 bias_regularizer=_reg_config(self.bias_regularizer),
                 kernel_constraint=_con_config(self.kernel_constraint),
                 bias_constraint=_con_config(self.bias_constraint), quantization_config=None)
        if self.activity_regularizer is not None:
            c["activity_regularizer"] = _reg_config(self.activity_regularizer)
        return c


class Activation(_AnyActivity, Layer):
    _pcn_int_input = False
    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # an input mask passes on to the output (Keras)
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        c = super().get_config()
        c["activation"] = _act_config(self.activation)
        return c


class ReLU(_AnyActivity, Layer):
    _pcn_int_input = False
    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # an input mask passes on to the output (Keras)
        if max_value is not None and max_value < 0:
            raise ValueError("ReLU '%s': max_value must be >= 0, got %r" % (self.name, max_value))
        if negative_slope is None or negative_slope < 0:
            raise ValueError("ReLU '%s': negative_slope must be >= 0, got %r" % (self.name, negative_slope))
        if threshold is None or threshold < 0:
            raise ValueError("ReLU '%s': threshold of a ReLU layer cannot be None or a negative value, got %r"
                             % (self.name, threshold))
        self.max_value, self.negative_slope, self.threshold = max_value, float(negative_slope), float(threshold)

    def call(self, inputs):
        return activations.relu(inputs, negative_slope=self.negative_slope, max_value=self.max_value,
                                threshold=self.threshold)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        c = super().get_config()
        c.update(max_value=self.max_value, negative_slope=self.negative_slope, threshold=self.threshold)
        return c


class LeakyReLU(_AnyActivity, Layer):
    _pcn_int_input = False
    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        self.supports_masking = True  # an input mask passes on to the output (Keras)
        if negative_slope is None or negative_slope < 0:
            raise ValueError("The negative_slope value of a Leaky ReLU layer cannot be None or negative value. "
                             "Expected a float. Received: negative_slope=%r (layer '%s')" % (negative_slope, self.name))
        self.negative_slope = float(negative_slope)

    def call(self, inputs):
        return ag.activation(inputs, "leaky_relu", self.negative_slope)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        c = super().get_config()
        c["negative_slope"] = self.negative_slope
        return c


class ELU(_AnyActivity, Layer):
    _pcn_int_input = False
    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # an input mask passes on to the output (Keras)
        self.alpha = float(alpha)

    def call(self, inputs):
        return ag.activation(inputs, "elu", self.alpha)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        c = super().get_config()
        c["alpha"] = self.alpha
        return c


class Softmax(_AnyActivity, Layer):
    _pcn_int_input = False
    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # an input mask passes on to the output (Keras)
        self.axis = axis

    def call(self, inputs, mask=None):
        m = None
        if mask is not None:
            # Keras: positions where mask is True (> 0.5) keep their logits, the others get -1e9, and the
            # masked outputs are zeroed (a fully masked axis gives zeros, not a uniform distribution)
            x = ag.as_eager(inputs)
            mv = np.asarray(mask.numpy() if hasattr(mask, "numpy") else mask)
            if mv.ndim > x.ndim or any(a != 1 and a != b for a, b in zip(mv.shape[::-1], x.shape[::-1])):
                raise ValueError("Softmax '%s': the `mask` must be broadcastable to `inputs`. Received: "
                                 "inputs.shape=%s, mask.shape=%s" % (self.name, tuple(x.shape), mv.shape))
            keep = np.broadcast_to(mv > 0.5 if mv.dtype != bool else mv, x.shape).astype(np.float32)
            m = ag.EagerTensor(_C.tensor(np.ascontiguousarray(keep), device=x.value.device))
            inputs = ag.add(ag.multiply(x, m), ag.multiply(ag.subtract(m, 1.0), 1e9))
        y = self._softmax(inputs)
        return ag.multiply(y, m) if m is not None else y

    def _softmax(self, inputs):
        return activations.softmax(inputs, self.axis)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        c = super().get_config()
        c["axis"] = self.axis
        return c


class Identity(_AnyActivity, Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


class Dropout(_AnyActivity, Layer):
    """Zeroes a fraction `rate` of inputs in training and scales the rest by 1/(1-rate)."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # an input mask passes on to the output (Keras)
        if not 0 <= rate <= 1:
            raise ValueError("Invalid value received for argument `rate`. Expected a float value between 0 and 1. "
                             "Received: rate=%r (Dropout '%s')" % (rate, self.name))
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(None if d is None else int(d) for d in noise_shape)
        self.seed = seed
        self._pcn_rng = np.random.default_rng(seed) if seed is not None else None

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        if self.rate >= 1:
            return ag.multiply(inputs, 0.0)
        seed = int(self._pcn_rng.integers(0, 2 ** 31 - 1)) if self._pcn_rng is not None else utils.next_seed()
        if self.noise_shape is None:
            return ag.dropout(inputs, self.rate, seed)
        # one keep/drop draw per element of noise_shape (None: the input's size), broadcast over the rest
        x = ag.as_eager(inputs)
        if len(self.noise_shape) != x.ndim:
            raise ValueError("Dropout '%s': noise_shape %s does not match inputs of rank %d"
                             % (self.name, self.noise_shape, x.ndim))
        ns = [x.shape[i] if d is None else d for i, d in enumerate(self.noise_shape)]
        if any(d not in (1, x.shape[i]) for i, d in enumerate(ns)):
            raise ValueError("Dropout '%s': noise_shape %s is not broadcastable to the input shape %s"
                             % (self.name, self.noise_shape, tuple(x.shape)))
        ones = _C.empty(*ns, device=x.value.device)
        _C.fill_(ones, 1.0)
        mask, _ = _C.dropout_forward(ones, self.rate, seed)  # 0 or 1/(1-rate)
        return ag.multiply(x, ag.EagerTensor(mask))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        c = super().get_config()
        c.update(rate=self.rate, seed=self.seed,
                 noise_shape=None if self.noise_shape is None else list(self.noise_shape))
        return c


class Lambda(_AnyActivity, Layer):
    """Wraps a function of tensors. Saving stores its bytecode; loading it needs
    safe_mode=False (as in Keras), since loading runs arbitrary code."""

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # an input mask passes on to the output (Keras)
        if not callable(function):
            raise TypeError("Lambda '%s': function must be callable, got %r" % (self.name, function))
        if mask is not None:  # pyconvnet has no mask propagation: refuse rather than drop it
            raise NotImplementedError("Lambda '%s': mask is not supported (pyconvnet does not propagate masks)"
                                      % self.name)
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


class EmbeddingIndexError(IndexError, ValueError):
    """An Embedding id out of [0, input_dim): an IndexError as on Keras's torch backend, and a ValueError
    as every bad value in pyconvnet."""


class Embedding(_WeightExtras, Layer):
    """Integer ids (..., ) -> vectors (..., output_dim): a row gather on the CPU
    (_C.embedding_lookup, its gradient a deterministic scatter-add), one_hot(ids) @
    embeddings on a device.
    Float ids are cast to int32 first (truncation), as Keras does."""

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, weights=None, lora_rank=None, lora_alpha=None,
                 quantization_config=None, activity_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        _no_quantization(self, quantization_config, lora_rank)
        self.input_dim = _positive_int(input_dim, "input_dim", self)
        self.output_dim = _positive_int(output_dim, "output_dim", self)
        self.mask_zero = bool(mask_zero)  # id 0 is padding: its steps are masked for the layers after
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self._pcn_init_extras(activity_regularizer)
        self._pcn_initial = weights

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(name="embeddings", shape=(self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer,
                                          regularizer=self.embeddings_regularizer)
        self._pcn_constrain(self.embeddings, self.embeddings_constraint)
        if self._pcn_initial is not None:
            self.set_weights(self._pcn_initial)
        self.built = True

    def call(self, inputs, training=None):
        self._pcn_before_call(training)
        x = ag.as_eager(inputs)
        lead = list(x.shape)
        if x.dtype not in ("int32", "int64"):
            x = ag.EagerTensor(_C.cast(x.value, "int32"))
        if int(np.prod(x.shape)) and x.value.device != "cpu":
            # an id outside [0, input_dim) would silently embed to zeros (one_hot on a device): refuse it,
            # as Keras does (IndexError on its torch backend, InvalidArgumentError on TensorFlow). The
            # float32 min/max is exact for ids below 2**24 and still flags larger ones against a smaller
            # input_dim. On the CPU the gather kernel checks every id itself (below).
            axes = list(range(x.ndim))
            lo = int(np.asarray(_C.reduce("min", _C.cast(x.value, "float32"), axes, False).numpy()).reshape(-1)[0])
            hi = int(np.asarray(_C.reduce("max", _C.cast(x.value, "float32"), axes, False).numpy()).reshape(-1)[0])
            if lo < 0 or hi >= self.input_dim:
                raise EmbeddingIndexError("Embedding '%s': ids must be in [0, %d), got values in [%d, %d]"
                                          % (self.name, self.input_dim, lo, hi))
        try:
            y = ag.embedding(x, self.embeddings)  # a row gather (one_hot @ table on a device)
        except ValueError as e:
            if "embedding_lookup: id" not in str(e):
                raise
            raise EmbeddingIndexError("Embedding '%s': ids must be in [0, %d): %s"
                                      % (self.name, self.input_dim, str(e).split(": ", 1)[1])) from None
        y = self._pcn_after_call(y)
        if self.mask_zero:  # Keras's compute_mask: ids != 0, carried by the output for the next layer
            from .extra import with_mask
            ids = _C.cast(x.value, "float32")
            keep = _C.unary("abs", _C.unary("sign", ids))
            y = with_mask(y, np.asarray(keep.numpy()).reshape(lead) > 0)
        return y

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return np.asarray(ag.as_eager(inputs).numpy()) != 0

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self):
        c = super().get_config()
        c.update(input_dim=self.input_dim, output_dim=self.output_dim,
                 embeddings_initializer=_init_config(self.embeddings_initializer),
                 embeddings_regularizer=_reg_config(self.embeddings_regularizer),
                 activity_regularizer=_reg_config(self.activity_regularizer),
                 embeddings_constraint=_con_config(self.embeddings_constraint), mask_zero=self.mask_zero,
                 quantization_config=None)
        return c


class Rescaling(_AnyActivity, Layer):
    """y = x * scale + offset (e.g. Rescaling(1./255) for uint8 images)."""
    _pcn_int_input = False

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # an input mask passes on to the output (Keras)
        # scalars, or per-channel lists/arrays broadcast against the inputs (as Keras)
        self.scale = float(scale) if np.ndim(scale) == 0 else np.asarray(scale, np.float32).tolist()
        self.offset = float(offset) if np.ndim(offset) == 0 else np.asarray(offset, np.float32).tolist()

    def _const(self, v, like):
        if isinstance(v, float):
            return v
        return ag.EagerTensor(_C.tensor(np.ascontiguousarray(np.asarray(v, np.float32)), device=like.value.device))

    def call(self, inputs):
        x = ag.as_eager(inputs)
        y = ag.multiply(x, self._const(self.scale, x))
        return ag.add(y, self._const(self.offset, x)) if (not isinstance(self.offset, float) or self.offset) else y

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        c = super().get_config()
        c.update(scale=self.scale, offset=self.offset)
        return c
