"""keras.layers.Layer, the symbolic KerasTensor of the functional API, Input and
InputLayer.

A layer call dispatches on its inputs:
- KerasTensors (from keras.Input): record a Node in the graph, build the layer
  for the symbolic shape, return KerasTensors of the output shape;
- EagerTensors: run `call` eagerly (recorded by the tape when one is active);
- NumPy arrays / lists: run inference eagerly and return NumPy.
"""
import inspect

import numpy as np

from .. import _C
from .. import autograd as ag
from .. import initializers
from .. import utils

__all__ = ["Layer", "KerasTensor", "Input", "InputLayer", "InputSpec"]

_TRAINING = [False]


class training_scope:
    """Sets the default `training` flag seen by layers called inside."""

    def __init__(self, training):
        self.training = bool(training)

    def __enter__(self):
        _TRAINING.append(self.training)

    def __exit__(self, *exc):
        _TRAINING.pop()
        return False


def _fmt_shape(s):
    return "(" + ", ".join("None" if d is None else str(d) for d in s) + ("," if len(s) == 1 else "") + ")"


def _flatten(x):
    if isinstance(x, (list, tuple)):
        out = []
        for i in x:
            out.extend(_flatten(i))
        return out
    if isinstance(x, dict):
        out = []
        for k in x:
            out.extend(_flatten(x[k]))
        return out
    return [x]


def _map(fn, x):
    if isinstance(x, list):
        return [_map(fn, i) for i in x]
    if isinstance(x, tuple):
        return tuple(_map(fn, i) for i in x)
    if isinstance(x, dict):
        return {k: _map(fn, v) for k, v in x.items()}
    return fn(x)


class _UnrecognizedArguments(ValueError, TypeError):
    """A layer got keyword arguments it does not know (ValueError as in Keras, and a TypeError)."""


class KerasTensor:
    """A symbolic tensor: a shape (batch None), a dtype and the layer call that made it."""

    def __init__(self, shape, dtype="float32", name=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = dtype
        self.name = name
        self._keras_history = None

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return "<KerasTensor shape=%s, dtype=%s, name=%s>" % (_fmt_shape(self.shape), self.dtype, self.name)

    def _op(self, op, other, reverse=False):
        from .merge import _BinaryOp
        if isinstance(other, KerasTensor):
            return _BinaryOp(op, reverse=reverse)([self, other])
        return _BinaryOp(op, reverse=reverse)([self], other)

    def __add__(self, o): return self._op("add", o)
    def __radd__(self, o): return self._op("add", o, True)
    def __sub__(self, o): return self._op("sub", o)
    def __rsub__(self, o): return self._op("sub", o, True)
    def __mul__(self, o): return self._op("mul", o)
    def __rmul__(self, o): return self._op("mul", o, True)
    def __truediv__(self, o): return self._op("div", o)

    def __array__(self, *a, **k):
        raise TypeError("A symbolic KerasTensor (%s) cannot be converted to a NumPy array: it has no values. "
                        "Build a Model from it and call predict()." % (self.name,))


class Node:
    """One call of a layer on symbolic inputs."""

    def __init__(self, layer, inputs, outputs, kwargs):
        self.layer = layer
        self.inputs = inputs                # the call's input structure of KerasTensors
        self.outputs = outputs              # the call's output structure
        # KerasTensors passed as keyword arguments (e.g. RNN initial_state) are inputs of the node too
        self.flat_inputs = [t for t in _flatten(inputs) + _flatten(list(kwargs.values()))
                            if isinstance(t, KerasTensor)]
        self.flat_outputs = _flatten(outputs)
        self.kwargs = kwargs


class InputSpec:
    def __init__(self, ndim=None, axes=None, min_ndim=None):
        self.ndim = ndim
        self.axes = axes or {}
        self.min_ndim = min_ndim


_SKIP_TRACK = {"_inbound_nodes", "_outbound_nodes", "_pcn_layers", "_pcn_nodes", "_pcn_inputs", "_pcn_outputs",
               "_pcn_callbacks", "optimizer", "history", "stop_training", "loss", "compiled_loss",
               "_trainable_vars", "_non_trainable_vars", "_pcn_regularizers", "_pcn_step_cache",
               "_pcn_in_shape", "_pcn_out_shape", "_batch_input_shape"}
# attribute values that can never hold a layer (skipped by the sub-layer scan without recursing)
_LEAF_TYPES = {int, float, bool, str, bytes, type(None), np.ndarray, ag.Variable, ag.EagerTensor, _C.Tensor}


class Layer:
    """Base of every layer. Subclasses implement `build(input_shape)` (create
    weights with `add_weight`) and `call(inputs, training=None)`."""

    _pcn_int_input = True  # NumPy integer inputs stay integers; float-only layers set False (cast once)

    _pcn_registered = {}

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        Layer._pcn_registered.setdefault(cls.__name__, cls)

    def __init__(self, trainable=True, name=None, dtype=None, input_shape=None, batch_input_shape=None,
                 input_dim=None, batch_size=None, autocast=True, **kwargs):
        # tolerate keys Keras writes into configs
        for k in ("input_length", "dynamic"):
            kwargs.pop(k, None)
        if kwargs:  # Keras raises ValueError; Python's own habit is TypeError: this is both
            raise _UnrecognizedArguments("Unrecognized keyword arguments passed to %s: %s"
                                         % (type(self).__name__, kwargs))
        if dtype not in (None, "float32", "int32", "int64") and not (isinstance(dtype, dict)):
            raise ValueError("%s: dtype %r is not supported (float32 only for weights)" % (type(self).__name__, dtype))
        self.name = name or utils.unique_name(utils.to_snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        self.built = False
        self._trainable_vars = []
        self._non_trainable_vars = []
        self._inbound_nodes = []
        self._pcn_out_shape = None
        self._pcn_in_shape = None
        self.input_spec = None
        self.supports_masking = False
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            self._batch_input_shape = tuple(batch_input_shape)
        elif input_shape is not None:
            self._batch_input_shape = (batch_size,) + tuple(input_shape)
        else:
            self._batch_input_shape = None
        try:
            params = inspect.signature(self.call).parameters
            self._pcn_call_training = "training" in params
            self._pcn_call_mask = "mask" in params
        except (TypeError, ValueError):
            self._pcn_call_training = self._pcn_call_mask = False

    # ------------------------------------------------------------------ weights
    def add_weight(self, *args, shape=None, initializer=None, dtype=None, trainable=True, autocast=True,
                   regularizer=None, constraint=None, aggregation="none", name=None, **kw):
        """Create a Variable owned by this layer. Accepts Keras 3 (shape first) and
        tf.keras (name first) positional order."""
        args = list(args)
        if args and isinstance(args[0], str):
            name = args.pop(0)
        if args:
            shape = args.pop(0)
        if args:
            initializer = args.pop(0)
        if "getter" in kw or "partitioner" in kw:
            raise TypeError("%s.add_weight: unsupported arguments %s" % (self.name, list(kw)))
        shape = tuple(int(s) for s in (shape or ()))
        if any(s < 0 for s in shape):
            raise ValueError("%s.add_weight(%s): negative dimension in shape %s" % (self.name, name, shape))
        init = initializers.get(initializer if initializer is not None else "glorot_uniform")
        val = np.asarray(init(shape, dtype="float32"), dtype=np.float32)
        if val.shape != shape:
            raise ValueError("%s.add_weight(%s): initializer returned shape %s, expected %s"
                             % (self.name, name, val.shape, shape))
        dev = getattr(self, "_pcn_device", "cpu")
        t = _C.tensor(np.require(val, np.float32, "C"), device=dev)
        v = ag.Variable(t, name=name or "variable", trainable=trainable and self._trainable,
                        path="%s/%s" % (self.name, name or "variable"))
        if constraint is not None:  # applied by the optimizer after each update, as in Keras
            from .. import constraints as _constraints
            v.constraint = _constraints.get(constraint)
        (self._trainable_vars if trainable else self._non_trainable_vars).append(v)
        if regularizer is not None:
            from .. import regularizers
            regularizer = regularizers.get(regularizer)
            self._pcn_regularizers = getattr(self, "_pcn_regularizers", [])
            self._pcn_regularizers.append((v, regularizer))
        return v

    def _sublayers(self):
        out, seen = [], set()

        def visit(v):
            if type(v) in _LEAF_TYPES:  # most attributes: sizes, names, flags, weights
                return
            if isinstance(v, Layer):
                if id(v) not in seen and v is not self:
                    seen.add(id(v))
                    out.append(v)
            elif isinstance(v, (list, tuple)):
                for i in v:
                    visit(i)
            elif isinstance(v, dict):
                for i in v.values():
                    visit(i)
        for k, v in vars(self).items():
            if k not in _SKIP_TRACK:
                visit(v)
        return out

    @property
    def layers(self):
        return self._sublayers()

    @property
    def weights(self):
        out, seen = [], set()
        for v in self._trainable_vars + self._non_trainable_vars:
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        for l in self._sublayers():
            for v in l.weights:
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    variables = weights

    @property
    def trainable_weights(self):
        if not self._trainable:
            return []
        return [v for v in self.weights if v.trainable]

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self):
        tw = set(id(v) for v in self.trainable_weights)
        return [v for v in self.weights if id(v) not in tw]

    non_trainable_variables = non_trainable_weights

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        value = bool(value)
        self._trainable = value
        for v in self._trainable_vars:
            v.trainable = value
        for l in self._sublayers():
            l.trainable = value

    def get_weights(self):
        """The weights as NumPy copies, in Keras 3 order."""
        return [np.array(v.numpy(), copy=True) for v in self.weights]

    def set_weights(self, weights):
        """Assign a list of arrays (Keras order). Validates every shape first, then
        assigns, so a bad list leaves the layer unchanged."""
        params = self.weights
        weights = list(weights)
        if len(weights) != len(params):
            raise ValueError("You called `set_weights(weights)` on layer '%s' with a weight list of length %d, "
                             "but the layer was expecting %d weights (%s)."
                             % (self.name, len(weights), len(params), ", ".join(v.path for v in params)))
        arrs = []
        for v, w in zip(params, weights):
            a = np.asarray(w.numpy() if hasattr(w, "numpy") else w)
            if a.dtype.kind not in "biuf":
                raise TypeError("set_weights on layer '%s': weight %s has non-numeric dtype %s"
                                % (self.name, v.path, a.dtype))
            if a.shape != v.shape:
                raise ValueError("Layer '%s' weight shape %s is not compatible with provided weight shape %s "
                                 "(weight %s)." % (self.name, v.shape, a.shape, v.path))
            arrs.append(np.require(a, np.float32, "C"))
        for v, a in zip(params, arrs):
            v.assign(a)

    def count_params(self):
        return int(sum(int(np.prod(v.shape)) for v in self.weights))

    def to(self, device):
        """Move this layer's weights to `device` ('cpu', 'cuda', 'cuda:N')."""
        self._pcn_device = device
        for v in self._trainable_vars + self._non_trainable_vars:
            v._to(device)
        for l in self._sublayers():  # recursive: weights created later (lazy build) land there too
            l.to(device)
        return self

    # -------------------------------------------------------------- build/call
    def build(self, input_shape):
        self.built = True

    def _maybe_build(self, shapes):
        if not self.built:
            shp = shapes[0] if len(shapes) == 1 else shapes
            self._pcn_in_shape = shp
            self.build(shp)
            self.built = True

    def call(self, inputs, *args, **kwargs):
        return inputs

    def compute_output_shape(self, input_shape):
        raise NotImplementedError

    def _check_input(self, shape):
        spec = self.input_spec
        if spec is None or isinstance(spec, (list, tuple)):
            return
        if spec.ndim is not None and len(shape) != spec.ndim:
            raise ValueError('Input 0 of layer "%s" is incompatible with the layer: expected ndim=%d, found ndim=%d. '
                             "Full shape received: %s" % (self.name, spec.ndim, len(shape), _fmt_shape(shape)))
        if spec.min_ndim is not None and len(shape) < spec.min_ndim:
            raise ValueError('Input 0 of layer "%s" is incompatible with the layer: expected min_ndim=%d, found '
                             "ndim=%d. Full shape received: %s" % (self.name, spec.min_ndim, len(shape),
                                                                   _fmt_shape(shape)))
        for ax, size in spec.axes.items():
            if shape[ax] is not None and size is not None and shape[ax] != size:
                raise ValueError('Input 0 of layer "%s" is incompatible with the layer: expected axis %d of input '
                                 "shape to have value %d, but received input with shape %s"
                                 % (self.name, ax, size, _fmt_shape(shape)))

    def __call__(self, *args, **kwargs):
        if args:
            inputs, args = args[0], args[1:]
        elif "inputs" in kwargs:
            inputs = kwargs.pop("inputs")
        else:
            raise TypeError("%s.__call__: missing inputs" % self.name)
        flat = _flatten(inputs)
        if any(isinstance(t, KerasTensor) for t in flat + _flatten(list(kwargs.values()))):
            return self._symbolic_call(inputs, args, kwargs)
        # NumPy in -> NumPy out, except under a recording tape (a custom training loop wants the graph)
        numpy_in = not any(isinstance(t, (ag.EagerTensor, _C.Tensor)) for t in flat) and not ag.recording()
        dev = getattr(self, "_pcn_device", "cpu")

        def conv(t):
            if isinstance(t, ag.EagerTensor) or t is None or isinstance(t, (bool, str, int, float)):
                return t
            if isinstance(t, _C.Tensor):
                return ag.EagerTensor(t)
            a = np.asarray(t)
            if a.dtype.kind in "iu" and self._pcn_int_input:  # ids (Embedding) stay integers
                a = a.astype(np.int32 if a.dtype.itemsize <= 4 else np.int64)
            elif a.dtype.kind in "iu":
                a = a.astype(np.float32)  # Keras autocasts inputs to the layer's float dtype
            elif a.dtype.kind in "fb":
                a = a.astype(np.float32)
            else:
                raise TypeError("Layer '%s' expected a numeric array, got dtype %s" % (self.name, a.dtype))
            return ag.EagerTensor(_C.tensor(np.require(a, None, "C"), device=dev))
        x = _map(conv, inputs)
        training = kwargs.pop("training", None)
        if training is None:
            training = _TRAINING[-1]
        shapes = [t.shape for t in _flatten(x) if isinstance(t, ag.EagerTensor)]
        if not self.built:
            self._maybe_build(shapes)
        if len(shapes) == 1:
            self._check_input(shapes[0])
        if self._pcn_call_training:
            kwargs["training"] = bool(training)
        # Keras's implicit masks (Masking, Embedding(mask_zero=True)): the first input's mask is
        # handed to a call() that takes `mask`, and passed on by layers that support masking
        flat_x = _flatten(x)
        prev_mask = getattr(flat_x[0], "_keras_mask", None) if flat_x else None
        if prev_mask is not None and len(flat_x) == 1 and getattr(self, "_pcn_call_mask", False) \
                and kwargs.get("mask") is None:
            kwargs["mask"] = prev_mask
        with training_scope(training):
            out = self.call(x, *args, **kwargs)
        if prev_mask is not None:
            out = self._pcn_pass_mask(x, out, prev_mask)
        if self._pcn_out_shape is None:  # for summary() of layers only ever called eagerly
            self._pcn_out_shape = _map(lambda t: (None,) + tuple(t.shape[1:]) if isinstance(t, ag.EagerTensor)
                                       else None, out)
        if numpy_in:
            return _map(lambda t: t.numpy() if isinstance(t, ag.EagerTensor) else t, out)
        return out

    def compute_mask(self, inputs, mask=None):
        """The mask of this layer's output given its input's mask (Keras: the same mask)."""
        return mask

    def _pcn_pass_mask(self, inputs, out, prev_mask):
        """Attach compute_mask's result to outputs that carry none (Keras's _set_mask_metadata);
        a layer that does not support masking drops the mask with Keras's warning."""
        from .extra import with_mask
        if not self.supports_masking:
            if not getattr(self, "_pcn_warned_mask", False):
                import warnings
                warnings.warn("Layer '%s' (of type %s) was passed an input with a mask attached to it. However, this "
                              "layer does not support masking and will therefore destroy the mask information. "
                              "Downstream layers will not see the mask." % (self.name, type(self).__name__),
                              stacklevel=3)
                self._pcn_warned_mask = True
            return out
        outs = _flatten(out)
        if all(getattr(o, "_keras_mask", None) is not None for o in outs):
            return out
        masks = self.compute_mask(inputs, prev_mask)
        if masks is None:
            return out
        if isinstance(out, ag.EagerTensor):
            m = masks[0] if isinstance(masks, (list, tuple)) else masks
            return with_mask(out, m) if m is not None and getattr(out, "_keras_mask", None) is None else out
        if isinstance(out, (list, tuple)) and isinstance(masks, (list, tuple)):
            res = [with_mask(o, m) if isinstance(o, ag.EagerTensor) and m is not None
                   and getattr(o, "_keras_mask", None) is None else o for o, m in zip(out, masks)]
            return type(out)(res)
        return out

    def _symbolic_call(self, inputs, args, kwargs):
        shapes = _map(lambda t: t.shape if isinstance(t, KerasTensor) else t, inputs)
        flat_shapes = [t.shape for t in _flatten(inputs) if isinstance(t, KerasTensor)]
        if not self.built:
            self._maybe_build(flat_shapes)
        if len(flat_shapes) == 1:
            self._check_input(flat_shapes[0])
        try:
            out_shapes = self.compute_output_shape(shapes)
        except NotImplementedError:
            out_shapes, _ = self._dummy_output_shapes(inputs, args, kwargs)
        if isinstance(out_shapes, list) and out_shapes and isinstance(out_shapes[0], (tuple, list)):
            outputs = [KerasTensor(s) for s in out_shapes]
        else:
            outputs = KerasTensor(out_shapes)
        node = Node(self, inputs, outputs, dict(kwargs, _args=args) if args else kwargs)
        self._inbound_nodes.append(node)
        for i, kt in enumerate(_flatten(outputs)):
            kt._keras_history = (self, len(self._inbound_nodes) - 1, i)
            kt.name = "%s/output_%d" % (self.name, i) if len(_flatten(outputs)) > 1 else self.name
        self._pcn_out_shape = out_shapes
        return outputs

    def _dummy_output_shapes(self, inputs, args, kwargs):
        """Output shapes from running the layer on a tiny zero batch (batch 1; other
        unknown dims 3 and reported unknown when the output keeps that size)."""
        unknown = set()

        def dummy(t):
            if not isinstance(t, KerasTensor):
                return t
            s = []
            for ax, d in enumerate(t.shape):
                if d is None:
                    s.append(1 if ax == 0 else 3)
                    if ax:
                        unknown.add(ax)
                else:
                    s.append(d)
            dt = np.int32 if "int" in str(t.dtype) else np.float32
            return np.zeros(s, dt)
        x = _map(dummy, inputs)
        kw = {k: _map(dummy, v) for k, v in kwargs.items()}
        kw["training"] = False
        out = self(x, *args, **kw)

        def shp(a):
            a = np.asarray(a)
            return (None,) + tuple(None if (ax in unknown and d == 3) else d for ax, d in enumerate(a.shape) if ax > 0)
        if isinstance(out, (list, tuple)):
            return [shp(o) for o in out], None
        return shp(out), None

    # ------------------------------------------------------------ properties
    @property
    def output(self):
        if not self._inbound_nodes:
            raise AttributeError("Layer %s has never been called and thus has no defined output." % self.name)
        return self._inbound_nodes[0].outputs

    @property
    def input(self):
        if not self._inbound_nodes:
            raise AttributeError("Layer %s has never been called and thus has no defined input." % self.name)
        return self._inbound_nodes[0].inputs

    @property
    def output_shape(self):
        if self._pcn_out_shape is None:
            raise AttributeError("The layer %s has never been called and thus has no defined output shape."
                                 % self.name)
        return self._pcn_out_shape

    @property
    def input_shape(self):
        if self._pcn_in_shape is None:
            raise AttributeError("The layer %s has never been called and thus has no defined input shape." % self.name)
        return self._pcn_in_shape

    @property
    def dtype(self):
        return "float32"

    @property
    def losses(self):
        """Regularization penalties as EagerTensors (recorded when a tape is active)."""
        out = []
        for v, reg in getattr(self, "_pcn_regularizers", []):
            out.append(reg(v))
        for l in self._sublayers():
            out.extend(l.losses)
        return out

    # ---------------------------------------------------------------- config
    def get_config(self):
        cfg = {"name": self.name, "trainable": self.trainable, "dtype": "float32"}
        if self._batch_input_shape is not None:
            cfg["batch_input_shape"] = list(self._batch_input_shape)
        return cfg

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return "<%s name=%s, built=%s>" % (type(self).__name__, self.name, self.built)


class InputLayer(Layer):
    """The layer behind keras.Input: holds the input shape; identity when called."""

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None,
                 input_tensor=None, optional=False, name=None, input_shape=None, batch_input_shape=None, **kwargs):
        if sparse or ragged:
            raise NotImplementedError("InputLayer: sparse=True / ragged=True inputs are not supported (dense only)")
        if input_tensor is not None:
            raise NotImplementedError("InputLayer: input_tensor= (wrapping an existing tensor) is not supported; "
                                      "pass shape= and feed the values to the model")
        if optional:
            raise NotImplementedError("InputLayer: optional=True inputs are not supported")
        if shape is None and input_shape is not None:
            shape = input_shape
        if batch_shape is None and batch_input_shape is not None:
            batch_shape = batch_input_shape
        if batch_shape is None:
            if shape is None:
                raise ValueError("InputLayer: you must pass a `shape` argument")
            batch_shape = (batch_size,) + tuple(shape)
        super().__init__(name=name or utils.unique_name("input_layer"), **kwargs)
        self._batch_input_shape = tuple(None if d is None else int(d) for d in batch_shape)
        self._pcn_dtype = dtype or "float32"
        self.built = True
        kt = KerasTensor(self._batch_input_shape, dtype=self._pcn_dtype, name=self.name)
        node = Node(self, [], kt, {})
        self._inbound_nodes.append(node)
        kt._keras_history = (self, 0, 0)
        self._pcn_out_shape = self._batch_input_shape

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {"batch_shape": list(self._batch_input_shape), "dtype": self._pcn_dtype, "sparse": False,
                "ragged": False, "name": self.name, "optional": False}


def Input(shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None, name=None,
          tensor=None, optional=False):
    """A symbolic input of shape (batch, *shape) for the functional API (Keras 3's argument order)."""
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse, ragged=ragged,
                       batch_shape=batch_shape, input_tensor=tensor, optional=optional, name=name)
    return layer._inbound_nodes[0].outputs
