"""keras.Model (functional and subclassed), keras.Sequential, and the training
loop: compile / fit / evaluate / predict / train_on_batch / test_on_batch,
summary, weights I/O (see saving.py).

A training step: NumPy batch -> `_C.Tensor` on the model's device (once) ->
forward under a GradientTape -> per-sample loss vector -> backward seeded with
1/M -> `optimizer.apply_gradients([(grad, var)...])` in trainable_weights
order. Only the loss/metric values come back to the host.
"""
import numpy as np

from . import _C
from . import autograd as ag
from . import callbacks as cbks
from . import distributed_hook
from . import losses as losses_mod
from . import metrics as metrics_mod
from . import optimizers as optimizers_mod
from . import utils
from .layers.base import Layer, KerasTensor, InputLayer, InputSpec, _flatten, _map, _fmt_shape

__all__ = ["Model", "Sequential", "load_model", "clone_model", "save_model", "model_from_json"]


def _scalar(t):
    return float(np.asarray(t.numpy()).reshape(-1)[0])


class Model(Layer):
    """A trainable Layer. `Model(inputs, outputs)` builds a functional graph;
    subclasses define layers in __init__ and the forward pass in call()."""

    def __init__(self, *args, **kwargs):
        inputs = kwargs.pop("inputs", None)
        outputs = kwargs.pop("outputs", None)
        if len(args) >= 1 and inputs is None:
            inputs = args[0]
        if len(args) >= 2 and outputs is None:
            outputs = args[1]
        self._pcn_functional = inputs is not None and outputs is not None
        if self._pcn_functional and not kwargs.get("name"):
            kwargs["name"] = utils.unique_name("functional")  # Keras 3's default name
        Layer.__init__(self, **kwargs)
        self._pcn_model_init()
        if self._pcn_functional:
            self._init_graph(inputs, outputs)
            self._adopt_layer_device()

    def _adopt_layer_device(self):
        """A model over layers whose weights already live on one device runs there
        (a feature extractor Model(model.inputs, layer.output) or
        Sequential(model.layers[:k]) of a model moved to "cuda"); else predict()
        would send CPU batches to CUDA weights."""
        devs = {getattr(l, "_pcn_device", "cpu") for l in self._sublayers() if l.weights}
        if len(devs) == 1:
            self._pcn_device = devs.pop()

    def _pcn_model_init(self):
        self.optimizer = None
        self.stop_training = False
        self.history = None
        self.compiled = False
        self._pcn_device = getattr(self, "_pcn_device", "cpu")
        self._pcn_loss = None
        self._pcn_metric_ids = []
        self._pcn_weighted_ids = []
        self._pcn_metric_weighted = []
        self._pcn_loss_weight = 1.0
        self._pcn_metrics = None

    # ------------------------------------------------------------- functional
    def _init_graph(self, inputs, outputs):
        self._pcn_in_struct = inputs
        self._pcn_out_struct = outputs
        self._pcn_inputs = [t for t in _flatten(inputs)]
        self._pcn_outputs = [t for t in _flatten(outputs)]
        for t in self._pcn_inputs + self._pcn_outputs:
            if not isinstance(t, KerasTensor):
                raise TypeError("Model '%s': inputs and outputs must be KerasTensors (from keras.Input and layer "
                                "calls), got %r" % (self.name, t))
        input_ids = set(id(t) for t in self._pcn_inputs)
        order, seen = [], set()
        visited_inputs = set()
        first_visit = {}  # layer -> index of its first visit in a pre-order walk from the outputs
        parents = {}      # id(node) -> the nodes (in the graph) that produced its inputs

        def visit(kt, path):
            if id(kt) in input_ids:
                visited_inputs.add(id(kt))
                first_visit.setdefault(kt._keras_history[0], len(first_visit))
                return
            hist = kt._keras_history
            if hist is None:
                raise ValueError("Model '%s': tensor %r was not produced by a layer call" % (self.name, kt))
            layer, ni, _ = hist
            node = layer._inbound_nodes[ni]
            if isinstance(layer, InputLayer):
                raise ValueError("Graph disconnected: cannot find parent for input %r needed by layer %s. "
                                 "Pass it in Model(inputs=...)." % (kt.name, path))
            if id(node) in seen:
                return
            first_visit.setdefault(layer, len(first_visit))
            for t in node.flat_inputs:
                visit(t, layer.name)
            parents[id(node)] = [t._keras_history[0]._inbound_nodes[t._keras_history[1]]
                                 for t in node.flat_inputs if id(t) not in input_ids]
            seen.add(id(node))
            order.append(node)
        for o in self._pcn_outputs:
            visit(o, "the outputs")
        self._pcn_nodes = order
        self._pcn_layers = self._keras_layer_order(order, parents, first_visit)
        self.built = True
        if len(self._pcn_inputs) == 1:
            s = self._pcn_inputs[0].shape
            self.input_spec = InputSpec(ndim=len(s), axes={i: d for i, d in enumerate(s) if d is not None and i > 0})
        self._pcn_out_shape = _map(lambda t: t.shape, outputs)

    def _keras_layer_order(self, order, parents, first_visit):
        """model.layers in Keras 3's order (keras.src.ops.function.map_graph): by depth counted
        from the outputs, deepest (nearest the inputs) first, ties by first visit in a walk from
        the outputs. get_weights()/set_weights() follow this order, so weights move between
        Keras and pyconvnet models of the same architecture, branched ones included."""
        node_depth, layer_depth = {}, {}
        for node in reversed(order):
            d = max(node_depth.setdefault(id(node), 0), layer_depth.get(node.layer, 0))
            layer_depth[node.layer] = node_depth[id(node)] = d
            for p in parents[id(node)]:
                node_depth[id(p)] = max(d + 1, node_depth.get(id(p), 0))
        top = max(layer_depth.values(), default=-1) + 1
        for t in self._pcn_inputs:  # the declared inputs sit below every layer that reads them
            src = t._keras_history[0]
            readers = [layer_depth[n.layer] for n in order if any(x is t for x in n.flat_inputs)]
            layer_depth[src] = max(layer_depth.get(src, 0), max(readers, default=top - 1) + 1)
        return sorted(layer_depth, key=lambda l: (-layer_depth[l], first_visit.get(l, len(first_visit))))

    def _run_graph(self, inputs):
        xs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        if isinstance(inputs, dict):
            xs = [inputs[t.name] for t in self._pcn_inputs]
        if len(xs) != len(self._pcn_inputs):
            raise ValueError("Model '%s' expects %d input(s), but it received %d input tensors"
                             % (self.name, len(self._pcn_inputs), len(xs)))
        vals = {}
        for i, (kt, x) in enumerate(zip(self._pcn_inputs, xs)):
            x = ag.as_eager(x)
            _check_shape(self.name, i, kt.shape, x.shape)
            vals[id(kt)] = x
        for node in self._pcn_nodes:
            args = _map(lambda t: vals[id(t)] if isinstance(t, KerasTensor) else t, node.inputs)
            kw = {k: _map(lambda t: vals[id(t)] if isinstance(t, KerasTensor) else t, v)
                  for k, v in node.kwargs.items()}
            extra = kw.pop("_args", ())
            out = node.layer(args, *extra, **kw)
            for kt, o in zip(node.flat_outputs, _flatten(out)):
                vals[id(kt)] = o
        return _map(lambda t: vals[id(t)], self._pcn_out_struct)

    def call(self, inputs, training=None):
        if self._pcn_functional:
            return self._run_graph(inputs)
        raise NotImplementedError("Model '%s': a subclassed Model must implement call()" % self.name)

    def _sublayers(self):
        if self._pcn_functional or isinstance(self, Sequential):
            return [l for l in self._pcn_layers if not isinstance(l, InputLayer)]
        return Layer._sublayers(self)

    @property
    def layers(self):
        if self._pcn_functional or isinstance(self, Sequential):
            return list(self._pcn_layers)
        return Layer._sublayers(self)

    def get_layer(self, name=None, index=None):
        ls = self.layers
        if index is not None:
            if not -len(ls) <= index < len(ls):
                raise ValueError("Model '%s': get_layer index %d out of range (%d layers)" % (self.name, index,
                                                                                           len(ls)))
            return ls[index]
        for l in ls:
            if l.name == name:
                return l
        raise ValueError("No such layer: %s. Existing layers are: %s" % (name, [l.name for l in ls]))

    @property
    def inputs(self):
        return list(self._pcn_inputs) if self._pcn_functional else None

    @property
    def output(self):
        """A functional model's output KerasTensor (a list for several), as in Keras 3, so
        `keras.Model(base.input, Dense(10)(base.output))` extends a built model."""
        if self._pcn_functional:  # Keras: node 0 of a functional model is its own construction
            return self._pcn_out_struct
        return Layer.output.fget(self)

    @property
    def input(self):
        if self._pcn_functional:
            return self._pcn_in_struct
        return Layer.input.fget(self)

    @property
    def outputs(self):
        return list(self._pcn_outputs) if self._pcn_functional else None

    def _input_dtype(self):
        if self._pcn_functional:
            return self._pcn_inputs[0].dtype
        ls = self._sublayers()
        from .layers.core import Embedding
        return "int32" if ls and isinstance(ls[0], Embedding) else "float32"

    def to(self, device):
        """Move weights (and later batches) to `device`; optimizer slots follow lazily."""
        Layer.to(self, device)
        self._pcn_device = device
        return self

    @property
    def device(self):
        return self._pcn_device

    # ---------------------------------------------------------------- compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True, device=None):
        """Configure training. `device` (pyconvnet extension): move the model there."""
        self.optimizer = optimizers_mod.get(optimizer)
        loss = _single_output(self, loss, "loss")
        self._pcn_loss = losses_mod._resolve(loss) if loss is not None else None
        self.loss = loss
        lw = _single_output(self, loss_weights, "loss_weights")
        self._pcn_loss_weight = 1.0 if lw is None else float(lw)
        metrics = _single_output(self, metrics, "metrics", listy=True)
        weighted_metrics = _single_output(self, weighted_metrics, "weighted_metrics", listy=True)
        if metrics is None:
            metrics = []
        if isinstance(metrics, (str, metrics_mod.Metric)) or isinstance(metrics, type) or callable(metrics):
            metrics = [metrics]
        if weighted_metrics is None:
            weighted_metrics = []
        if isinstance(weighted_metrics, (str, metrics_mod.Metric)) or isinstance(weighted_metrics, type) or \
                callable(weighted_metrics):
            weighted_metrics = [weighted_metrics]
        for m in list(metrics) + list(weighted_metrics):  # validate names now
            metrics_mod.resolve(m, self._pcn_loss)
        self._pcn_weighted_ids = list(weighted_metrics)
        self._pcn_metric_ids = list(metrics)
        self._pcn_metrics = None
        self.compiled = True
        self._pcn_compile_args = {"optimizer": optimizer if isinstance(optimizer, str) else None,
                                  "loss": loss if isinstance(loss, str) else None,
                                  "metrics": [m for m in metrics if isinstance(m, str)]}
        self.run_eagerly, self.jit_compile = bool(run_eagerly), jit_compile
        self.steps_per_execution = steps_per_execution
        if device is not None:
            self.to(device)

    def get_compile_config(self):
        """compile()'s arguments as a JSON-able dict (Keras 3's get_compile_config); None if not compiled."""
        if not self.compiled:
            return None

        def ser_metric(m):
            if isinstance(m, str):
                return m
            if isinstance(m, metrics_mod.Metric):
                return metrics_mod.serialize(m)
            return getattr(m, "__name__", str(m))
        loss = self.loss
        if loss is not None and not isinstance(loss, str):
            loss = losses_mod.serialize(self._pcn_loss)
        lw = getattr(self, "_pcn_loss_weight", 1.0)
        return {"optimizer": optimizers_mod.serialize(self.optimizer), "loss": loss,
                "loss_weights": None if lw == 1.0 else lw,
                "metrics": [ser_metric(m) for m in self._pcn_metric_ids] or None,
                "weighted_metrics": [ser_metric(m) for m in self._pcn_weighted_ids] or None,
                "run_eagerly": self.run_eagerly, "steps_per_execution": self.steps_per_execution,
                "jit_compile": self.jit_compile}

    def compile_from_config(self, config, custom_objects=None):
        """compile() from get_compile_config()'s dict (Keras's own dicts are understood too)."""
        config = dict(config or {})

        custom = dict(custom_objects or {})

        def des_metric(m):
            if isinstance(m, str) and m in custom:  # a custom metric function saved by its name
                return custom[m]
            return metrics_mod.deserialize(m, custom_objects) if isinstance(m, dict) else m
        opt = config.get("optimizer", "rmsprop")
        if isinstance(opt, dict):
            opt = optimizers_mod.deserialize(opt, custom_objects)
        loss = config.get("loss")
        if isinstance(loss, dict):
            loss = losses_mod.deserialize(loss, custom_objects)
        elif isinstance(loss, str) and loss in custom:  # a custom loss function saved by its name
            loss = custom[loss]
        self.compile(optimizer=opt, loss=loss, loss_weights=config.get("loss_weights"),
                     metrics=[des_metric(m) for m in (config.get("metrics") or [])] or None,
                     weighted_metrics=[des_metric(m) for m in (config.get("weighted_metrics") or [])] or None,
                     run_eagerly=config.get("run_eagerly", False),
                     steps_per_execution=config.get("steps_per_execution", 1),
                     jit_compile=config.get("jit_compile", "auto"))

    @property
    def metrics_names(self):
        return ["loss"] + [m.name for m in (self._pcn_metrics or [])]

    def _make_metrics(self, y, out_shape):
        """The compiled metrics (created on the first batch, when the shapes that resolve
        'accuracy' are known), metrics then weighted_metrics; a weighted metric whose name
        is already taken is renamed weighted_<name>, as in Keras."""
        if self._pcn_metrics is None:
            ms, weighted, names = [], [], set()
            for ids, w in ((self._pcn_metric_ids, False), (getattr(self, "_pcn_weighted_ids", []), True)):
                for mid in ids:
                    m = metrics_mod.resolve(mid, self._pcn_loss, np.shape(y), out_shape)
                    if w and m.name in names:
                        if not isinstance(mid, metrics_mod.Metric):
                            m.name = "weighted_" + m.name
                    names.add(m.name)
                    ms.append(m)
                    weighted.append(w)
            self._pcn_metrics, self._pcn_metric_weighted = ms, weighted
        return self._pcn_metrics

    def _update_metrics(self, ynp, out, swb):
        """Update the compiled metrics with one batch; returns {name: result}. Plain metrics
        ignore sample weights, weighted_metrics use them (Keras 3)."""
        mets = self._make_metrics(ynp, out.shape)
        sw = None
        if swb is not None and any(self._pcn_metric_weighted):
            sw = np.array(swb.numpy(), copy=True)
        res = {}
        for m, w in zip(mets, self._pcn_metric_weighted):
            m.update_state(ynp, out, sw if w else None)
            res[m.name] = _metric_value(m.result())
        return res

    def _assert_compiled(self, what):
        if not self.compiled:
            raise ValueError("You must call `compile()` before using `%s` on model '%s'." % (what, self.name))
        # a model whose train_step/test_step is overridden may compute its own loss (Keras allows
        # compile() without one then)
        step = {"fit": "train_step", "train_on_batch": "train_step"}.get(what, "test_step")
        if self._pcn_loss is None and not self._overrides(step):
            raise ValueError("You must call `compile()` with a loss before using `%s` on model '%s'."
                             % (what, self.name))  # ValueError, as Keras 3

    # ------------------------------------------------------------------ data
    def _to_batch(self, a, dtype):
        a = np.ascontiguousarray(a, dtype=dtype)
        if self._pcn_device == "cpu":
            return ag.EagerTensor(_C.from_numpy(a))
        return ag.EagerTensor(_C.tensor(a, device=self._pcn_device))

    def _prep_x(self, x):
        if isinstance(x, dict) and self._pcn_functional:
            x = [x[t.name] for t in self._pcn_inputs]
        xs = x if isinstance(x, (list, tuple)) else [x]
        out = []
        for i, a in enumerate(xs):
            if isinstance(a, (ag.EagerTensor, _C.Tensor)):
                a = a.numpy()
            a = np.asarray(a)
            if a.dtype.kind not in "biuf":
                raise TypeError("Model '%s': input %d must be numeric, got dtype %s" % (self.name, i, a.dtype))
            if a.ndim == 0:
                raise ValueError("Model '%s': input %d must have a batch dimension, got a scalar" % (self.name, i))
            out.append(a)
        return out, isinstance(x, (list, tuple))

    def _x_dtypes(self, xs):
        if self._pcn_functional:
            dts = [t.dtype for t in self._pcn_inputs]
        else:
            dts = [self._input_dtype()] * len(xs)
        return [np.int32 if "int" in str(d) else np.float32 for d in dts]

    def _prep_y(self, y, n):
        if y is None:
            raise ValueError("Model '%s': y (targets) is required for training/evaluation" % self.name)
        if isinstance(y, (ag.EagerTensor, _C.Tensor)):
            y = y.numpy()
        y = np.asarray(y)
        if y.dtype.kind not in "biuf":
            raise TypeError("Model '%s': y must be numeric, got dtype %s" % (self.name, y.dtype))
        if len(y) != n:
            raise ValueError("Data cardinality is ambiguous. Make sure all arrays contain the same number of "
                             "samples. 'x' sizes: %d, 'y' sizes: %d" % (n, len(y)))
        return y

    def _batch(self, xs, dts, idx, multi):
        b = [self._to_batch(a[idx], dt) for a, dt in zip(xs, dts)]
        return b if multi else b[0]

    def _y_batch(self, y, idx):
        return self._to_batch(y[idx], self._target_dtype(y)).value

    def _target_dtype(self, y):
        """The dtype targets are sent in: the loss's, else (no compiled loss) int32 for integer y."""
        if self._pcn_loss is not None:
            return self._pcn_loss.target_dtype
        return np.int32 if np.asarray(y).dtype.kind in "biu" else np.float32

    @staticmethod
    def _n(xs):
        n = len(xs[0])
        for i, a in enumerate(xs[1:]):
            if len(a) != n:
                raise ValueError("Data cardinality is ambiguous: input 0 has %d samples, input %d has %d"
                                 % (n, i + 1, len(a)))
        return n

    # ------------------------------------------------------------- the steps
    def _weights_seed(self, per, swb, scale=1.0):
        """Backward seed for the per-sample loss and the weighted per-sample loss tensor: the seed
        is w_i * f (w_i = 1 without sample weights) where f = loss_weight / divisor, and the
        divisor is what Keras's reduction divides the summed loss by (M for
        "sum_over_batch_size"; see Loss.batch_divisor). Returns (seed, weighted, f); the
        batch's loss is f * sum(weighted). `scale` multiplies the seed only (a
        DistributedOptimizer's gradient_seed_scale)."""
        m = per.shape[0] if per.ndim else 1
        if swb is not None and (per.ndim != 1 or tuple(swb.shape) != (m,)):
            raise ValueError("sample_weight: expected one weight per sample (%d,), got shape %s for a per-sample "
                             "loss of shape %s" % (m, tuple(swb.shape), per.shape))
        loss = self._pcn_loss
        sws = None
        if swb is not None and getattr(loss, "reduction", None) == "mean_with_sample_weight":
            sws = _scalar(_C.reduce("sum", swb, [0], False))
        div = loss.batch_divisor(max(m, 1), sws) if hasattr(loss, "batch_divisor") else float(max(m, 1))
        f = getattr(self, "_pcn_loss_weight", 1.0) / div
        if swb is None:
            seed = _C.empty(*per.shape, device=per.device)
            _C.fill_(seed, scale * f)
            return seed, per.value, f
        return _C.binary_scalar("mul", swb, scale * f), _C.binary("mul", per.value, swb), f

    def _train_step(self, xb, yb, swb=None):
        # On a device, the class losses' label range checks are read back once, after the
        # backward is queued and before the update (a bad label still stops fit before any
        # weight changes), instead of stalling the device between forward and backward.
        deferred = self._pcn_device != "cpu"
        if deferred:
            _C.set_defer_label_checks(True)
        try:
            grads, tw, per, weighted, f, regs, out = self._step_gradients(xb, yb, swb)
            if deferred:
                _C.flush_label_checks()
        finally:
            if deferred:
                _C.set_defer_label_checks(False)
                _C.flush_label_checks(True)  # drop what a failed step left queued
        self.optimizer.apply_gradients(list(zip(grads, tw)))
        loss = _scalar(_C.reduce("sum", weighted, list(range(per.ndim)), False)) * f
        for r in regs:
            loss += _scalar(r.value)
        return loss, out

    def _step_gradients(self, xb, yb, swb):
        # fit caches the trainable weights and the (weight, regularizer) pairs after its first
        # step: walking the layer tree for them costs ~1 ms of Python per step on LeNet-5
        cache = getattr(self, "_pcn_step_cache", None)
        tw = self.trainable_weights if cache is None else cache[0]
        with ag.GradientTape() as tape:
            out = self(xb, training=True)
            if isinstance(out, (list, tuple)):
                raise NotImplementedError("fit: models with several outputs are not supported")
            per, swb = self._per_sample(out, yb, swb)
            regs = self.losses if cache is None else [reg(v) for v, reg in cache[1]]
        # a DistributedOptimizer(gradients_prescaled=True) expects gradients already divided
        # by the number of ranks: fold that into the seed (free) so its reduce skips a pass
        gscale = float(getattr(self.optimizer, "gradient_seed_scale", 1.0))
        if getattr(self.optimizer, "loss_scale_factor", None) is not None:  # Keras's optimizer.scale_loss
            gscale *= float(self.optimizer.loss_scale_factor)
        seed, weighted, f = self._weights_seed(per, swb, gscale)
        targets, ogs = [per], [seed]
        for r in regs:
            targets.append(r)
            if gscale == 1.0:
                ogs.append(None)
            else:
                rs = _C.empty(*r.shape, device=r.device)
                _C.fill_(rs, gscale)
                ogs.append(rs)
        # distributed: the backward writes weight gradients straight into the optimizer's
        # fused buckets where the op supports it (no packing copy in apply_gradients)
        bufs = None
        if distributed_hook.get() is not None and hasattr(self.optimizer, "gradient_buffers") and \
                getattr(self.optimizer, "backward_passes_per_step", 1) == 1 and \
                all(v.value.device == "cpu" for v in tw):
            bufs = self.optimizer.gradient_buffers(tw)
        if bufs is not None:
            grads = tape.gradient(targets, tw, output_gradients=ogs, sinks=bufs, sink_accumulate=False)
        else:
            grads = tape.gradient(targets, tw, output_gradients=ogs)
        grads = [g if g is not None else _C.zeros(*v.shape, device=v.value.device) for g, v in zip(grads, tw)]
        return grads, tw, per, weighted, f, regs, out

    def _per_sample(self, out, yb, swb):
        """(per-sample loss (N,), per-sample weights or None). Element-wise weights (e.g. (N, T)
        for a sequence output, Keras's temporal sample weights) go through the loss's own
        weighting and reduction instead: a (1,) loss and no weights."""
        loss = self._pcn_loss
        if swb is None or swb.ndim <= 1:
            return loss.per_sample(out, yb), swb
        v = ag.as_eager(loss(yb, out, sample_weight=ag.EagerTensor(swb)))
        if v.ndim:  # reduction "none": the compiled loss takes the mean, as Keras's does
            v = ag.reduce("mean", v, None)
        loss._pcn_inner, loss._pcn_mask_scale = 1, 1.0
        return ag.reshape(v, [1]), None

    def _test_step(self, xb, yb, swb=None):
        out = self(xb, training=False)
        per, swb = self._per_sample(out, yb, swb)
        _, weighted, f = self._weights_seed(per, swb)
        m = _first(out).shape[0]
        # the batch's loss times its size: evaluate averages batch losses weighted by batch size (Keras)
        s = _scalar(_C.reduce("sum", weighted, list(range(per.ndim)), False)) * f * m
        return s, m, out

    # ------------------------------------------- Keras 3 overridable steps
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss of (y, y_pred), reduced as the loss says and times loss_weights,
        plus the layers' regularization losses: a scalar tensor the tape can differentiate."""
        if self._pcn_loss is None:
            raise ValueError("compute_loss: the model was compiled without a loss")
        yt = y.value if isinstance(y, ag.EagerTensor) else y
        if not isinstance(yt, _C.Tensor):
            yt = self._to_batch(np.asarray(yt), self._target_dtype(np.asarray(yt))).value
        loss = self._pcn_loss(yt, ag.as_eager(y_pred), sample_weight=sample_weight)
        if getattr(self, "_pcn_loss_weight", 1.0) != 1.0:
            loss = ag.multiply(loss, self._pcn_loss_weight)
        for r in self.losses:
            loss = ag.add(loss, r)
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Update the compiled metrics with one batch; returns get_metrics_result()."""
        ynp = y.numpy() if isinstance(y, (ag.EagerTensor, _C.Tensor)) else np.asarray(y)
        sw = sample_weight.value if isinstance(sample_weight, ag.EagerTensor) else sample_weight
        if sw is not None and not isinstance(sw, _C.Tensor):
            sw = self._to_batch(np.asarray(sw, np.float32), np.float32).value
        self._update_metrics(np.asarray(ynp), ag.as_eager(y_pred), sw)
        return self.get_metrics_result()

    def get_metrics_result(self):
        return {m.name: _metric_value(m.result()) for m in self.metrics}

    def train_step(self, data):
        """Keras 3's overridable step: data = (x, y[, sample_weight]) of tensors; one optimizer
        step; returns {name: value}. fit calls an override per batch (else its built-in step)."""
        x, y, sw = _unpack_data(data)
        with ag.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred, sw, training=True)
        tw = self.trainable_variables
        grads = tape.gradient(loss, tw)
        self.optimizer.apply(grads, tw)
        self.metrics[0].update_state(loss.numpy(), sample_weight=_batch_len(x))
        return self.compute_metrics(x, y, y_pred, sw)

    def test_step(self, data):
        x, y, sw = _unpack_data(data)
        y_pred = self(x, training=False)
        loss = self.compute_loss(x, y, y_pred, sw, training=False)
        self.metrics[0].update_state(loss.numpy(), sample_weight=_batch_len(x))
        return self.compute_metrics(x, y, y_pred, sw)

    def predict_step(self, data):
        x, _, _ = _unpack_data(data)
        return self(x, training=False)

    def _overrides(self, name):
        return getattr(type(self), name) is not getattr(Model, name)

    def _custom_step(self, name, xb, yb, swb):
        if self._pcn_metrics is None:  # self.metrics must hold the compiled metrics before the user's step
            with ag.no_grad():
                out = self(xb, training=False)
            self._make_metrics(np.asarray(yb.numpy()), _first(out).shape)
        data = (xb, ag.EagerTensor(yb)) + ((ag.EagerTensor(swb),) if swb is not None else ())
        logs = getattr(self, name)(data)
        return {k: _metric_value(np.asarray(v.numpy() if hasattr(v, "numpy") else v, np.float64))
                for k, v in (logs or {}).items()}

    # ------------------------------------------------------------------- fit
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
        """Train for `epochs` over (x, y) in mini-batches; returns a History."""
        self._assert_compiled("fit")
        if x is None:
            raise ValueError("fit: x is required")
        source = _DataSource.wrap(x, "fit")
        if source is not None:
            if y is not None:
                raise ValueError("fit: `y` is not supported when x is a %s (it yields the targets)" % source.kind)
            if sample_weight is not None:
                raise ValueError("fit: `sample_weight` is not supported when x is a %s (yield (x, y, "
                                 "sample_weight) batches instead)" % source.kind)
            if validation_split:
                raise ValueError("fit: validation_split is not supported when x is a %s" % source.kind)
            if class_weight is not None and source.kind != "PyDataset":
                raise ValueError("Argument `class_weight` is not supported for Python generator inputs (nor other "
                                 "iterables; a keras.utils.PyDataset takes it). Received: class_weight=%r"
                                 % (class_weight,))
            return self._fit_loop(source, None, epochs, verbose, callbacks, validation_data, shuffle, class_weight,
                                  initial_epoch, steps_per_epoch, validation_steps, validation_batch_size,
                                  validation_freq)
        xs, multi = self._prep_x(x)
        n = self._n(xs)
        y = self._prep_y(y, n)
        sw = _sample_weights(y, n, sample_weight, class_weight)
        batch_size = int(batch_size or 32)
        if batch_size <= 0:
            raise ValueError("fit: batch_size must be positive, got %d" % batch_size)
        if validation_data is None and validation_split:
            if not 0 < validation_split < 1:
                raise ValueError("fit: validation_split must be in (0, 1), got %r" % (validation_split,))
            split = int(n * (1.0 - validation_split))
            validation_data = ([a[split:] for a in xs] if multi else xs[0][split:], y[split:])
            if sample_weight is not None:  # Keras splits sample_weight too (class_weight stays training-only)
                validation_data += (np.asarray(sample_weight, np.float32).reshape(-1)[split:],)
            xs = [a[:split] for a in xs]
            y = y[:split]
            sw = sw[:split] if sw is not None else None
            n = split
        if n == 0:
            raise ValueError("fit: no training samples")
        arrays = (xs, multi, y, sw, n, batch_size)
        return self._fit_loop(None, arrays, epochs, verbose, callbacks, validation_data, shuffle, class_weight,
                              initial_epoch, steps_per_epoch, validation_steps, validation_batch_size,
                              validation_freq)

    def _fit_loop(self, source, arrays, epochs, verbose, callbacks, validation_data, shuffle, class_weight,
                  initial_epoch, steps_per_epoch, validation_steps, validation_batch_size, validation_freq):
        """The epoch loop of fit over arrays ((xs, multi, y, sw, n, batch_size)) or a _DataSource."""
        vx = vy = vsw = None
        if not isinstance(validation_freq, (int, list)) or isinstance(validation_freq, bool):
            raise ValueError("Expected `validation_freq` to be a list or int. Received: validation_freq=%r of the "
                             "type %s." % (validation_freq, type(validation_freq)))
        if validation_data is not None:
            if _DataSource.wrap(validation_data, "fit") is not None:
                vx = validation_data
            else:
                if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                    raise ValueError("fit: validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
                                     "val_sample_weight), or a dataset; got %s" % type(validation_data).__name__)
                vx, vy = validation_data[0], validation_data[1]
                vsw = validation_data[2] if len(validation_data) == 3 else None
        dist = distributed_hook.get()
        chief = distributed_hook.is_chief()
        if verbose == "auto":
            verbose = 1
        if source is None:
            xs, multi, y, sw, n, batch_size = arrays
            dts = self._x_dtypes(xs)
            steps = steps_per_epoch or -(-n // batch_size)
        else:
            batch_size = None
            steps = steps_per_epoch or source.num_batches
        # Keras's default callbacks: the user's own History/ProgbarLogger are used if given, else
        # a History then a ProgbarLogger are appended after the user's callbacks (in that order)
        cb_list = list(callbacks or [])
        history = next((c for c in cb_list if isinstance(c, cbks.History)), None)
        if history is None:
            history = cbks.History()
            cb_list.append(history)
        if verbose and chief and not any(isinstance(c, cbks.ProgbarLogger) for c in cb_list):
            cb_list.append(cbks.ProgbarLogger(verbose))
        # Keras 3's History.params: exactly verbose, epochs, steps
        cb = cbks.CallbackList(cb_list, self, {"verbose": verbose, "epochs": epochs, "steps": steps})
        self.history = history
        self.stop_training = False
        seed = utils.next_seed()
        rng = np.random.default_rng(seed)
        # build on a first batch before the distributed hook broadcasts weights
        if source is not None and source.kind == "generator":
            source.peek(self)  # an empty stream is an error before training starts, as in Keras
        if not self.built or not self.trainable_weights:
            if source is None:
                self._ensure_built(xs, dts, multi)
            else:
                bxs, bmulti, _, _ = source.peek(self)
                self._ensure_built(bxs, self._x_dtypes(bxs), bmulti)
        if dist is not None:
            dist.on_train_begin(self)
        cb.on_train_begin()
        self._pcn_step_cache = None
        try:
            logs = self._epochs(source, arrays, cb, epochs, initial_epoch, steps_per_epoch, shuffle, class_weight,
                                rng, seed, dist, validation_data, vx, vy, vsw, validation_steps,
                                validation_batch_size, validation_freq)
        finally:
            self._pcn_step_cache = None
        if epochs > 0 and hasattr(self.optimizer, "finalize_variable_values"):
            self.optimizer.finalize_variable_values(self.trainable_weights)  # use_ema: weights <- averages
        cb.on_train_end(logs)
        return history

    def _epochs(self, source, arrays, cb, epochs, initial_epoch, steps_per_epoch, shuffle, class_weight, rng, seed,
                dist, validation_data, vx, vy, vsw, validation_steps, validation_batch_size, validation_freq):
        """Runs the epochs; returns the last epoch's logs (with val_*), which on_train_end gets.
        With steps_per_epoch on arrays, the pass over the data continues across epochs (Keras
        3's EpochIterator): an epoch that reaches the end of the data stops there, with a
        warning, and the next epoch starts a new (reshuffled) pass."""
        if source is None:
            xs, multi, y, sw, n, batch_size = arrays
            dts = self._x_dtypes(xs)
        else:
            batch_size = None
        logs = {}
        train_logs = {}
        pass_order, pass_pos = None, 0
        custom_train = self._overrides("train_step")
        for epoch in range(initial_epoch, epochs):
            self._reset_metrics()
            if source is None:
                if pass_order is None:
                    if dist is not None:
                        pass_order = np.asarray(dist.epoch_indices(n, epoch, shuffle, seed))
                    else:
                        pass_order = rng.permutation(n) if shuffle else np.arange(n)
                    pass_pos = 0
                total = -(-len(pass_order) // batch_size)
                nsteps = total - pass_pos
                if steps_per_epoch:
                    if nsteps <= 0:
                        nsteps = 0
                    if steps_per_epoch > nsteps:
                        import warnings
                        warnings.warn("Your input ran out of data; interrupting epoch. Make sure that your dataset "
                                      "or generator can generate at least `steps_per_epoch * epochs` batches.",
                                      stacklevel=4)
                    nsteps = min(nsteps, steps_per_epoch)
                order = pass_order[pass_pos * batch_size:(pass_pos + nsteps) * batch_size]
                pass_pos += nsteps
                if pass_pos >= total:
                    pass_order = None
                batches = self._array_batches(xs, dts, multi, y, sw, order, batch_size, nsteps,
                                              sort=shuffle is True and dist is None)
            else:
                nsteps = source.steps(steps_per_epoch)
                batches = source.batches(self, steps_per_epoch, rng if shuffle else None, class_weight)
            cb.params["steps"] = steps_per_epoch or nsteps
            cb.on_epoch_begin(epoch)
            tot_loss, tot_n, step = 0.0, 0, 0
            spe = max(int(getattr(self, "steps_per_execution", 1) or 1), 1)
            for step, (xb, yb, swb, ynp) in enumerate(batches):
                # steps_per_execution=k: Keras calls the batch hooks once per k steps, with the
                # chunk's first and last step indices, and checks stop_training between chunks
                first, last = step % spe == 0, (step + 1) % spe == 0 or step + 1 == nsteps
                if first:
                    cb.on_train_batch_begin(step)
                if custom_train:
                    logs = self._custom_step("train_step", xb, yb, swb)
                else:
                    loss, out = self._train_step(xb, yb, swb)
                    if self._pcn_step_cache is None:  # built now: the weight set is fixed for this fit
                        self._pcn_step_cache = (self.trainable_weights, _regularizers(self))
                    tot_loss += loss * len(ynp)
                    tot_n += len(ynp)
                    logs = {"loss": tot_loss / tot_n}
                    self._track_loss(tot_loss, tot_n)
                    logs.update(self._update_metrics(ynp, out, swb))
                if last:
                    cb.on_train_batch_end(step - step % spe + spe - 1, dict(logs))
                    if self.stop_training:
                        break
            if source is not None:
                source.end_epoch()
                if tot_n == 0 and not (custom_train and logs):
                    import warnings
                    warnings.warn("fit: your input ran out of data; interrupting training. Make sure the "
                                  "generator can produce steps_per_epoch * epochs batches.", stacklevel=3)
                    break
            epoch_logs = dict(logs)
            if validation_data is not None and _should_eval(epoch, validation_freq):
                val = self.evaluate(vx, vy, batch_size=validation_batch_size or batch_size, verbose=0,
                                    sample_weight=vsw, return_dict=True, steps=validation_steps, callbacks=cb)
                epoch_logs.update({"val_" + k: v for k, v in val.items()})
            cb.on_epoch_end(epoch, epoch_logs)
            train_logs = epoch_logs
            if self.stop_training:
                break
        return train_logs

    def _array_batches(self, xs, dts, multi, y, sw, order, batch_size, nsteps, sort):
        for step in range(nsteps):
            idx = order[step * batch_size:(step + 1) * batch_size]
            if sort:
                idx = np.sort(idx)  # sequential memory access; the batch's content is what shuffles
            swb = self._to_batch(sw[idx], np.float32).value if sw is not None else None
            yield self._batch(xs, dts, idx, multi), self._y_batch(y, idx), swb, y[idx]

    def _ensure_built(self, xs, dts, multi):
        if self.built and self.weights:
            return
        idx = np.arange(min(2, len(xs[0])))
        with ag.no_grad():
            self(self._batch(xs, dts, idx, multi), training=False)

    @property
    def metrics(self):
        """The compiled metric objects (created at the first batch), after a "loss" Mean that
        holds the last fit/evaluate loss."""
        tr = getattr(self, "_pcn_loss_tracker", None)
        if tr is None:
            tr = self._pcn_loss_tracker = metrics_mod.Mean(name="loss")
        return ([tr] if self.compiled else []) + list(self._pcn_metrics or [])

    def _reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def _track_loss(self, total, count):
        tr = self.metrics[0] if self.compiled else None
        if tr is not None:
            tr.total, tr.count = float(total), float(count)

    def reset_metrics(self):
        self._reset_metrics()

    # -------------------------------------------------------------- evaluate
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """Loss (and metrics) over (x, y); a scalar, a list [loss, *metrics] or a dict."""
        self._assert_compiled("evaluate")
        source = _DataSource.wrap(x, "evaluate")
        dist = distributed_hook.get()
        if source is not None:
            if y is not None:
                raise ValueError("evaluate: `y` is not supported when x is a %s (it yields the targets)" % source.kind)
            if sample_weight is not None:
                raise ValueError("evaluate: `sample_weight` is not supported when x is a %s" % source.kind)
            nsteps = source.steps(steps)
            batches = source.batches(self, steps, None, None)  # on_epoch_begin/end around the pass, as Keras
        else:
            xs, multi = self._prep_x(x)
            n = self._n(xs)
            y = self._prep_y(y, n)
            sw = _sample_weights(y, n, sample_weight, None)
            dts = self._x_dtypes(xs)
            batch_size = int(batch_size or 32)
            order = np.asarray(dist.eval_indices(n)) if dist is not None else np.arange(n)
            nsteps = -(-len(order) // batch_size)
            if steps:
                nsteps = min(nsteps, steps)
            batches = self._array_batches(xs, dts, multi, y, sw, order, batch_size, nsteps, sort=False)
        bar = cbks.Progbar(nsteps, verbose=_bar_verbose(verbose))
        loss_sum, loss_n = 0.0, 0
        self._reset_metrics()
        custom_test = self._overrides("test_step")
        blogs = {}
        cbl = _callback_list(callbacks, self, {"verbose": verbose, "epochs": 1, "steps": nsteps})
        cbl.on_test_begin()
        mlogs = {}
        step = 0
        for step, (xb, yb, swb, ynp) in enumerate(batches):
            cbl.on_test_batch_begin(step)
            if custom_test:
                blogs = self._custom_step("test_step", xb, yb, swb)
                loss_n += len(ynp)
                cbl.on_test_batch_end(step, blogs)
                bar.update(step + 1, blogs)
                continue
            s, m, out = self._test_step(xb, yb, swb)
            loss_sum += s
            loss_n += m
            mlogs = self._update_metrics(ynp, out, swb)
            self._track_loss(loss_sum, loss_n)
            blogs = dict({"loss": loss_sum / loss_n if loss_n else 0.0}, **mlogs)
            cbl.on_test_batch_end(step, blogs)
            bar.update(step + 1, blogs)
        if source is not None:
            source.end_epoch()
        if nsteps is None:
            nsteps = step + 1 if loss_n else 0
        mets = self._pcn_metrics if self._pcn_metrics is not None else \
            [metrics_mod.resolve(mid, self._pcn_loss) for mid in self._pcn_metric_ids + self._pcn_weighted_ids]
        if dist is not None:
            states = [m.state_vector() for m in mets]
            vec = np.concatenate([[loss_sum, loss_n]] + states).astype(np.float64)
            red = np.asarray(dist.reduce_sums(vec), dtype=np.float64)
            loss_sum, loss_n = red[0], red[1]
            i = 2
            for m, st in zip(mets, states):
                m.set_state_vector(red[i:i + st.size])
                i += st.size
        logs = {"loss": float(loss_sum / loss_n) if loss_n else 0.0}
        for m in mets:
            logs[m.name] = _metric_value(m.result())
        if custom_test:  # an overridden test_step's own logs (Keras: the last batch's)
            logs = dict(blogs)
            mets = [k for k in logs if k != "loss"]
        bar.update(nsteps, logs, finalize=True)
        cbl.on_test_end(logs)
        if return_dict:
            return logs
        if not mets:
            return logs.get("loss")
        if custom_test:
            return list(logs.values())
        return [logs["loss"]] + [logs[m.name] for m in mets]

    # --------------------------------------------------------------- predict
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs for x, batch by batch, as NumPy (concatenated over batches)."""
        source = _DataSource.wrap(x, "predict")
        if source is not None:
            nsteps = source.steps(steps)
            xiter = source.inputs(self, steps)  # on_epoch_begin/end around the pass, as Keras
        else:
            xs, multi = self._prep_x(x)
            n = self._n(xs)
            dts = self._x_dtypes(xs)
            batch_size = int(batch_size or 32)
            nsteps = -(-n // batch_size)
            if steps:
                nsteps = min(nsteps, steps)
            xiter = (self._batch(xs, dts, np.arange(i * batch_size, min((i + 1) * batch_size, n)), multi)
                     for i in range(nsteps))
        bar = cbks.Progbar(nsteps, verbose=_bar_verbose(verbose))
        outs = []
        custom_predict = self._overrides("predict_step")
        cbl = _callback_list(callbacks, self, {"verbose": verbose, "epochs": 1, "steps": nsteps})
        cbl.on_predict_begin()
        for step, xb in enumerate(xiter):
            cbl.on_predict_batch_begin(step)
            out = self.predict_step((xb,)) if custom_predict else self(xb, training=False)
            outs.append(_map(lambda t: np.array(t.numpy(), copy=True), out))
            cbl.on_predict_batch_end(step, {"outputs": outs[-1]})
            bar.update(step + 1)
        cbl.on_predict_end()
        if source is not None:
            source.end_epoch()
        if nsteps is None:
            nsteps = len(outs)
        bar.update(nsteps, finalize=True)
        if not outs:
            return np.zeros((0,), np.float32)
        if isinstance(outs[0], list):
            return [np.concatenate([o[i] for o in outs]) for i in range(len(outs[0]))]
        return np.concatenate(outs)

    def predict_on_batch(self, x):
        xs, multi = self._prep_x(x)
        out = self(self._batch(xs, self._x_dtypes(xs), np.arange(len(xs[0])), multi), training=False)
        return _map(lambda t: np.array(t.numpy(), copy=True), out)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on (x, y); returns this batch's loss (and metrics)."""
        self._assert_compiled("train_on_batch")
        xs, multi = self._prep_x(x)
        n = self._n(xs)
        y = self._prep_y(y, n)
        idx = np.arange(n)
        sw = _sample_weights(y, n, sample_weight, class_weight)
        swb = self._to_batch(sw, np.float32).value if sw is not None else None
        loss, out = self._train_step(self._batch(xs, self._x_dtypes(xs), idx, multi), self._y_batch(y, idx), swb)
        return self._batch_result(loss, y, out, return_dict, swb)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._assert_compiled("test_on_batch")
        xs, multi = self._prep_x(x)
        n = self._n(xs)
        y = self._prep_y(y, n)
        idx = np.arange(n)
        sw = _sample_weights(y, n, sample_weight, None)
        swb = self._to_batch(sw, np.float32).value if sw is not None else None
        s, m, out = self._test_step(self._batch(xs, self._x_dtypes(xs), idx, multi), self._y_batch(y, idx), swb)
        return self._batch_result(s / max(m, 1), y, out, return_dict, swb)

    def _batch_result(self, loss, y, out, return_dict, swb=None):
        """Keras 3's *_on_batch: the compiled metrics are updated with this batch (not reset,
        unless reset_metrics() is called) and their running results returned."""
        self._reset_metrics()  # Keras 3 resets the metrics at every *_on_batch call
        logs = {"loss": float(loss)}
        logs.update(self._update_metrics(y, out, swb))
        if return_dict:
            return logs
        return logs["loss"] if len(logs) == 1 else list(logs.values())

    # --------------------------------------------------------------- summary
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                layer_range=None):
        """Print Keras 3's table: layer (type), output shape, param #, and totals."""
        lines = summary_lines(self)
        text = "\n".join(lines)
        if print_fn is None:
            print(text)
        else:
            for l in lines:
                print_fn(l)

    # --------------------------------------------------------------- saving
    def save_weights(self, filepath, overwrite=True):
        from . import saving
        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False):
        from . import saving
        saving.load_weights(self, filepath, skip_mismatch=skip_mismatch)

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        from . import saving
        saving.save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    def to_json(self, **kwargs):
        """The architecture as a JSON string (keras Model.to_json)."""
        from . import saving
        return saving.model_to_json(self, **kwargs)

    def get_config(self):
        if self._pcn_functional:
            from . import saving
            return saving.functional_config(self)
        return Layer.get_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from . import saving
        if "layers" in config and "input_layers" in config:
            return saving.functional_from_config(config, custom_objects)
        return cls(**config)


def _single_output(model, value, what, listy=False):
    """compile's per-output structures for a single-output model: [v] or {output_name: v} -> v
    (a list of metrics stays a list; [[...]] or {name: [...]} unwrap one level)."""
    if isinstance(value, dict):
        if len(value) != 1:
            raise NotImplementedError("compile: %s as a dict for several outputs is not supported (got keys %s)"
                                      % (what, sorted(value)))
        return next(iter(value.values()))
    if isinstance(value, (list, tuple)) and not listy:
        if len(value) != 1:
            raise ValueError("compile: %s has %d entries but the model has 1 output" % (what, len(value)))
        return value[0]
    if listy and isinstance(value, (list, tuple)) and len(value) == 1 and isinstance(value[0], (list, tuple)):
        return list(value[0])
    return value


class _DataSource:
    """Batches from a keras.utils.PyDataset (or any Sequence-like object: __len__, __getitem__,
    on_epoch_end), a Python generator/iterator (one stream shared by all epochs, as in Keras),
    or another re-iterable (e.g. a torch DataLoader: a new pass per epoch). Each batch is
    ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` of NumPy-convertible arrays."""

    def __init__(self, obj, kind, op):
        self.obj, self.kind, self.op = obj, kind, op
        self.pending = []  # batches taken from a generator by peek(), served first
        self.it = iter(obj) if kind == "generator" else None

    @staticmethod
    def wrap(x, op):
        if isinstance(x, (np.ndarray, list, tuple, dict, str, bytes, ag.EagerTensor, _C.Tensor, KerasTensor)):
            return None
        if isinstance(x, utils.PyDataset) or (hasattr(x, "__getitem__") and hasattr(x, "__len__")
                                              and hasattr(x, "on_epoch_end")):
            return _DataSource(x, "PyDataset", op)
        if hasattr(x, "__next__"):
            return _DataSource(x, "generator", op)
        if hasattr(x, "__iter__") and not hasattr(x, "__array__") and not hasattr(x, "__array_interface__"):
            return _DataSource(x, "iterable", op)
        return None

    @property
    def num_batches(self):
        if self.kind != "PyDataset":
            return None
        n = getattr(self.obj, "num_batches", None) if isinstance(self.obj, utils.PyDataset) else len(self.obj)
        return None if n is None else int(n)

    def steps(self, steps):
        n = self.num_batches
        if n is None:
            return steps or None
        return min(n, steps) if steps else n

    def _raw(self, steps, rng, epoch_hooks):
        if self.kind == "PyDataset":
            n = self.num_batches
            if n is None and not steps:
                raise ValueError("%s: an endless PyDataset (num_batches None) needs steps%s" %
                                 (self.op, "_per_epoch" if self.op == "fit" else ""))
            if epoch_hooks and hasattr(self.obj, "on_epoch_begin"):
                self.obj.on_epoch_begin()
            if n is None:
                order = range(steps)
            else:
                if getattr(self.obj, "_pcn_tf_dataset_like", False):
                    rng = None  # a tf.data.Dataset in Keras: fit(shuffle=) does not reorder its batches
                order = rng.permutation(n) if rng is not None else np.arange(n)
                if steps:
                    order = order[:steps]
            for i in order:
                yield self.obj[int(i)]
            return
        it = self.it if self.kind == "generator" else iter(self.obj)
        k = 0
        while not steps or k < steps:
            if self.pending:
                b = self.pending.pop(0)
            else:
                try:
                    b = next(it)
                except StopIteration:
                    return
            yield b
            k += 1

    def _split(self, b):
        if isinstance(b, np.ndarray) or not isinstance(b, (tuple, list)):
            b = (b,)
        if len(b) not in (1, 2, 3):
            raise ValueError("%s: each batch of a %s must be (x,), (x, y) or (x, y, sample_weight); got a "
                             "sequence of %d items" % (self.op, self.kind, len(b)))
        b = tuple(b)
        return b + (None,) * (3 - len(b))

    def peek(self, model):
        """The first batch, converted (for building the model), without consuming it."""
        if self.kind == "PyDataset":
            b = self.obj[0]
        elif self.kind == "generator":
            if not self.pending:
                try:
                    self.pending.append(next(self.it))
                except StopIteration:
                    raise ValueError("%s: the generator yielded no batch" % self.op)
            b = self.pending[0]
        else:
            b = next(iter(self.obj), None)
            if b is None:
                raise ValueError("%s: the %s yielded no batch" % (self.op, self.kind))
        bx, by, bsw = self._split(b)
        xs, multi = model._prep_x(bx)
        return xs, multi, by, bsw

    def batches(self, model, steps, rng, class_weight, epoch_hooks=True):
        """(x tensors, y tensor, sample-weight tensor or None, y as NumPy) per batch."""
        for b in self._raw(steps, rng, epoch_hooks):
            bx, by, bsw = self._split(b)
            xs, multi = model._prep_x(bx)
            n = model._n(xs)
            if by is None:
                raise ValueError("%s: the %s's batches carry no targets; yield (x, y) pairs" % (self.op, self.kind))
            by = model._prep_y(by, n)
            sw = _sample_weights(by, n, bsw, class_weight)
            xb = [model._to_batch(a, dt) for a, dt in zip(xs, model._x_dtypes(xs))]
            yield (xb if multi else xb[0]), model._to_batch(by, model._target_dtype(by)).value, \
                (model._to_batch(sw, np.float32).value if sw is not None else None), by

    def inputs(self, model, steps):
        for b in self._raw(steps, None, True):
            bx = self._split(b)[0]
            xs, multi = model._prep_x(bx)
            xb = [model._to_batch(a, dt) for a, dt in zip(xs, model._x_dtypes(xs))]
            yield xb if multi else xb[0]

    def end_epoch(self):
        if self.kind == "PyDataset" and hasattr(self.obj, "on_epoch_end"):
            self.obj.on_epoch_end()


def _regularizers(layer):
    """(weight, regularizer) pairs of `layer` and its sub-layers, in Layer.losses order."""
    out = list(getattr(layer, "_pcn_regularizers", []))
    for l in layer._sublayers():
        out.extend(_regularizers(l))
    return out


def _sample_weights(y, n, sample_weight, class_weight):
    """Per-sample weights (n,) float32 from sample_weight and/or class_weight {class: weight}, or None."""
    sw = None
    if sample_weight is not None and class_weight is not None:
        raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
    if sample_weight is not None:
        sw = np.asarray(sample_weight, dtype=np.float32)
        if sw.ndim >= 2 and sw.shape[0] == n and sw.size != n:
            return np.ascontiguousarray(sw)  # element-wise (temporal) weights, e.g. (N, T)
        sw = sw.reshape(-1)
        if sw.size != n:
            raise ValueError("sample_weight has %d entries but there are %d samples" % (sw.size, n))
    if class_weight is not None:
        if not isinstance(class_weight, dict):
            raise TypeError("class_weight must be a dict {class index: weight}, got %r" % (type(class_weight),))
        labels = np.argmax(y, -1) if (y.ndim > 1 and y.shape[-1] > 1) else y.reshape(n, -1)[:, 0]
        labels = np.round(labels).astype(np.int64)  # Keras rounds float labels (0.9999 -> class 1)
        # a class without an entry weighs 1.0 (Keras's class_weight_to_sample_weights)
        table = {int(k): float(v) for k, v in class_weight.items()}
        uniq, inv = np.unique(labels, return_inverse=True)
        cw = np.array([table.get(int(c), 1.0) for c in uniq], np.float32)[inv.reshape(-1)]
        sw = cw if sw is None else sw * cw
    return sw


def _unpack_data(data):
    """Keras's unpack_x_y_sample_weight: x, (x,), (x, y) or (x, y, sample_weight)."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError("Data is expected to be in format `x`, `(x,)`, `(x, y)`, or `(x, y, sample_weight)`, found: "
                     "a tuple of %d items" % len(data))


def _first(out):
    return out[0] if isinstance(out, (list, tuple)) else out


def _batch_len(x):
    x0 = x[0] if isinstance(x, (list, tuple)) else x
    return float(x0.shape[0])


def _bar_verbose(verbose):
    """evaluate/predict's progress bar: 1 (live bar) for "auto"/1/True, 2 (one line) for 2, else
    none; only the chief process prints."""
    if not distributed_hook.is_chief():
        return 0
    if verbose in ("auto", 1, True):
        return 1
    return 2 if verbose == 2 else 0


def _callback_list(callbacks, model, params):
    """evaluate/predict's callbacks: fit's own CallbackList as is, else a new one."""
    if isinstance(callbacks, cbks.CallbackList):
        return callbacks
    return cbks.CallbackList(list(callbacks or []), model, params)


def _should_eval(epoch, validation_freq):
    """Keras: validate after 1-indexed epoch e when e % freq == 0 (int) or e in freq (list)."""
    e = epoch + 1
    if isinstance(validation_freq, int):
        return e % validation_freq == 0
    return e in validation_freq


def _metric_value(v):
    """A metric result as a Python float (a per-threshold result stays an array)."""
    a = np.asarray(v)
    return float(a) if a.ndim == 0 else a


def _check_shape(name, i, expected, got):
    if len(expected) != len(got) or any(e is not None and e != g for e, g in zip(expected[1:], got[1:])):
        raise ValueError('Input %d of layer "%s" is incompatible with the layer: expected shape=%s, found shape=%s'
                         % (i, name, _fmt_shape(expected), _fmt_shape(got)))


class Sequential(Model):
    """A linear stack of layers. The first layer may carry input_shape=..., or
    start with keras.Input(shape); otherwise the model builds on first call."""

    def __init__(self, layers=None, trainable=True, name=None):
        Layer.__init__(self, trainable=trainable, name=name)
        self._pcn_functional = False
        self._pcn_model_init()
        self._pcn_layers = []
        self._pcn_input_layer = None
        self._pcn_last = None
        self.built = False
        for l in layers or []:
            self.add(l)

    def add(self, layer, rebuild=True):
        if isinstance(layer, KerasTensor):
            layer = layer._keras_history[0]
        if isinstance(layer, InputLayer):
            if self._pcn_layers:
                raise ValueError("Sequential '%s': an Input must be the first layer" % self.name)
            self._pcn_input_layer = layer
            self._pcn_last = layer._inbound_nodes[0].outputs
            self._set_input_spec(self._pcn_last.shape)
            return
        if not isinstance(layer, Layer):
            raise ValueError("Only instances of `keras.Layer` can be added to a Sequential model. Received: %r "
                             "(of type %s)" % (layer, type(layer).__name__))
        if any(l.name == layer.name for l in self._pcn_layers):
            raise ValueError("All layers added to a Sequential model should have unique names. Name '%s' is "
                             "already the name of a layer in this model." % layer.name)
        self._pcn_layers.append(layer)
        if self._pcn_device != "cpu" and getattr(layer, "_pcn_device", "cpu") == "cpu":
            layer.to(self._pcn_device)  # a model already on a device: the new layer's weights go there too
        if self._pcn_last is None and len(self._pcn_layers) == 1 and layer._batch_input_shape is not None:
            inp = InputLayer(batch_shape=layer._batch_input_shape)
            self._pcn_input_layer = inp
            self._pcn_last = inp._inbound_nodes[0].outputs
            self._set_input_spec(self._pcn_last.shape)
        if self._pcn_last is not None:
            self._pcn_last = layer(self._pcn_last)
            self.built = True
            self._pcn_out_shape = self._pcn_last.shape if isinstance(self._pcn_last, KerasTensor) else \
                [t.shape for t in self._pcn_last]
        self._adopt_layer_device()

    def pop(self):
        if not self._pcn_layers:
            raise TypeError("There are no layers in the model.")
        self._pcn_layers.pop()
        self._rebuild()

    def _rebuild(self):
        if self._pcn_input_layer is None:
            return
        t = self._pcn_input_layer._inbound_nodes[0].outputs
        for l in self._pcn_layers:
            t = l(t)
        self._pcn_last = t

    def _set_input_spec(self, shape):
        self.input_spec = InputSpec(ndim=len(shape), axes={i: d for i, d in enumerate(shape) if d is not None and i})
        self._pcn_in_shape = shape

    def build(self, input_shape=None):
        if self._pcn_last is not None:
            self.built = True
            return
        if input_shape is None:
            raise ValueError("Sequential '%s': build() needs an input_shape" % self.name)
        shape = (None,) + tuple(input_shape)[1:]
        inp = InputLayer(batch_shape=shape)
        self._pcn_input_layer = inp
        t = inp._inbound_nodes[0].outputs
        for l in self._pcn_layers:
            t = l(t)
        self._pcn_last = t
        self._set_input_spec(shape)
        self._pcn_out_shape = t.shape if isinstance(t, KerasTensor) else [x.shape for x in t]
        self.built = True

    def call(self, inputs, training=None):
        x = inputs
        for l in self._pcn_layers:
            x = l(x)
        return x

    @property
    def input_shape(self):
        if self._pcn_input_layer is None:
            raise AttributeError("Sequential '%s' has no defined input shape yet" % self.name)
        return self._pcn_input_layer._batch_input_shape

    @property
    def inputs(self):
        return [self._pcn_input_layer._inbound_nodes[0].outputs] if self._pcn_input_layer else None

    @property
    def outputs(self):
        return [self._pcn_last] if self._pcn_last is not None else None

    def _input_dtype(self):
        if self._pcn_input_layer is not None and "int" in str(self._pcn_input_layer._pcn_dtype):
            return "int32"
        return Model._input_dtype(self)

    def get_config(self):
        from . import saving
        cfg = {"name": self.name, "trainable": self.trainable,
               "layers": [saving.serialize_layer(l) for l in self._pcn_layers]}
        if self._pcn_input_layer is not None:
            cfg["input_layer"] = saving.serialize_layer(self._pcn_input_layer)
        return cfg

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from . import saving
        m = cls(name=config.get("name"), trainable=config.get("trainable", True))
        if "input_layer" in config:
            m.add(saving.deserialize_layer(config["input_layer"], custom_objects))
        for lc in config["layers"]:
            m.add(saving.deserialize_layer(lc, custom_objects))
        return m


# ------------------------------------------------------------------- summary
def _fmt_int(n):
    return "{:,}".format(int(n))


def _fmt_bytes(n):
    for unit, div in (("GB", 1024 ** 3), ("MB", 1024 ** 2), ("KB", 1024)):
        if n >= div:
            return "%.2f %s" % (n / div, unit)
    return "%.2f B" % n


def _shape_str(s):
    if s is None:
        return "?"
    if isinstance(s, list):
        return "[" + ", ".join(_shape_str(x) for x in s) + "]"
    return _fmt_shape(s)


def summary_lines(model):
    """Keras 3's summary table, as a list of lines."""
    functional = getattr(model, "_pcn_functional", False)
    rows = []
    layers = model.layers
    for l in layers:
        if isinstance(l, InputLayer) and not functional:
            continue
        name = "%s (%s)" % (l.name, type(l).__name__)
        shape = _shape_str(l._pcn_out_shape)
        params = _fmt_int(l.count_params()) if (l.built or isinstance(l, InputLayer)) else "0 (unbuilt)"
        conn = ""
        if functional and l._inbound_nodes:
            srcs = []
            for node in l._inbound_nodes:
                for t in node.flat_inputs:
                    h = t._keras_history
                    if h is not None:
                        srcs.append("%s[%d][%d]" % (h[0].name, h[1], h[2]))
            conn = ", ".join(srcs) if srcs else "-"
        rows.append((name, shape, params, conn))
    cols = [33, 26, 13] + ([24] if functional else [])
    heads = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if functional else [])

    def line(l, m, r, fill):
        return l + m.join(fill * (w + 2) for w in cols) + r

    def row(vals):
        cells = []
        for i, (v, w) in enumerate(zip(vals, cols)):
            v = v if len(v) <= w else v[:w - 1] + "…"
            cells.append(" " + (v.rjust(w) if i == 2 else v.ljust(w)) + " ")
        return "│" + "│".join(cells) + "│"
    out = ['Model: "%s"' % model.name, line("┏", "┳", "┓", "━"),
           "┃" + "┃".join(" " + (h.rjust(w) if i == 2 else h.ljust(w)) + " " for i, (h, w) in
                          enumerate(zip(heads, cols))) + "┃",
           line("┡", "╇", "┩", "━")]
    for i, r in enumerate(rows):
        out.append(row(r[:len(cols)]))
        if i != len(rows) - 1 and functional:
            out.append(line("├", "┼", "┤", "─"))
    out.append(line("└", "┴", "┘", "─"))
    tw = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    allw = sum(int(np.prod(v.shape)) for v in model.weights)
    out.append(" Total params: %s (%s)" % (_fmt_int(allw), _fmt_bytes(4 * allw)))
    out.append(" Trainable params: %s (%s)" % (_fmt_int(tw), _fmt_bytes(4 * tw)))
    out.append(" Non-trainable params: %s (%s)" % (_fmt_int(allw - tw), _fmt_bytes(4 * (allw - tw))))
    return out


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    from . import saving
    return saving.load_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)


def clone_model(model):
    from . import saving
    return saving.model_from_config(saving.serialize_layer(model), None)


def model_from_json(json_string, custom_objects=None):
    """keras.models.model_from_json."""
    from . import saving
    return saving.model_from_json(json_string, custom_objects=custom_objects)
