"""keras.optimizers: SGD, Adam, RMSprop, Adagrad with Keras 3 defaults and
formulas; each step is one in-place `_C.*_update_` kernel per variable.
Learning-rate schedules: ExponentialDecay, PiecewiseConstantDecay.

The training loop calls `optimizer.apply_gradients([(grad, variable), ...])`
with `_C.Tensor` grads in model.trainable_weights order, so a distributed
wrapper can intercept it."""
import math

import numpy as np

from . import _C
from . import autograd as ag

__all__ = ["Optimizer", "SGD", "Adam", "RMSprop", "Adagrad", "schedules", "get", "serialize", "deserialize"]


class LearningRateSchedule:
    def __call__(self, step):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class ExponentialDecay(LearningRateSchedule):
    """lr = initial * decay_rate ** (step / decay_steps) (floored if staircase)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        if decay_steps <= 0:
            raise ValueError("ExponentialDecay: decay_steps must be > 0, got %r" % (decay_steps,))
        self.initial_learning_rate, self.decay_steps = float(initial_learning_rate), decay_steps
        self.decay_rate, self.staircase, self.name = float(decay_rate), bool(staircase), name

    def __call__(self, step):
        p = float(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate ** p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[i] while step <= boundaries[i] (values has one more entry)."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(values) != len(boundaries) + 1:
            raise ValueError("PiecewiseConstantDecay: len(values) must be len(boundaries) + 1, got %d and %d"
                             % (len(values), len(boundaries)))
        self.boundaries, self.values, self.name = list(boundaries), [float(v) for v in values], name

    def __call__(self, step):
        for b, v in zip(self.boundaries, self.values):
            if step <= b:
                return v
        return self.values[-1]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class _Schedules:
    LearningRateSchedule = LearningRateSchedule
    ExponentialDecay = ExponentialDecay
    PiecewiseConstantDecay = PiecewiseConstantDecay


schedules = _Schedules()
_SCHEDULES = {"ExponentialDecay": ExponentialDecay, "PiecewiseConstantDecay": PiecewiseConstantDecay}


class Optimizer:
    def __init__(self, learning_rate=0.001, name=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 weight_decay=None, use_ema=False, loss_scale_factor=None, gradient_accumulation_steps=None,
                 **kwargs):
        if kwargs:
            if "lr" in kwargs:
                learning_rate = kwargs.pop("lr")
            if kwargs:
                raise TypeError("%s: unrecognized arguments %s" % (type(self).__name__, sorted(kwargs)))
        if weight_decay or use_ema or gradient_accumulation_steps:
            raise NotImplementedError("%s: weight_decay/use_ema/gradient_accumulation_steps are not supported"
                                      % type(self).__name__)
        if sum(x is not None for x in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("%s: only one of clipnorm, clipvalue, global_clipnorm can be set" % type(self).__name__)
        self.name = name or type(self).__name__.lower()
        self._lr = learning_rate
        if not isinstance(learning_rate, LearningRateSchedule) and (not callable(learning_rate)):
            if float(learning_rate) < 0:
                raise ValueError("%s: learning_rate must be >= 0, got %r" % (type(self).__name__, learning_rate))
            self._lr = float(learning_rate)
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.iterations = 0
        self._slots = {}

    # Keras exposes learning_rate as a value that callbacks read and assign
    @property
    def learning_rate(self):
        if callable(self._lr):
            return float(self._lr(self.iterations))
        return self._lr

    @learning_rate.setter
    def learning_rate(self, value):
        self._lr = value if callable(value) else float(value)

    lr = learning_rate

    def _slot(self, var, name, init=0.0):
        """The `_C.Tensor` of this variable's state `name` (created on first use,
        on the variable's device; kept as a Variable so it can be saved/broadcast)."""
        key = (id(var), name)
        s = self._slots.get(key)
        if s is None or s.shape != var.shape or s.value.device != var.value.device:
            t = _C.empty(*var.shape, device=var.value.device)
            _C.fill_(t, float(init))
            s = ag.Variable(t, name="%s_%s" % (var.path.replace("/", "_"), name), trainable=False)
            self._slots[key] = s
        return s.value

    def _slot_specs(self):
        """(name, initial value) of the state slots _update creates per variable, in creation order."""
        return []

    def build(self, var_list):
        """Create the state slots now (Keras's optimizer.build) rather than at the first step, so that
        a checkpoint restore (pyconvnet.distributed.restore_checkpoint) can load momenta/moments into
        them before training resumes. Same creation order as the first apply_gradients."""
        for v in var_list:
            for name, init in self._slot_specs():
                self._slot(v, name, init)

    def _clip(self, grads):
        if self.clipvalue is not None:
            return [_C.clip(g, -float(self.clipvalue), float(self.clipvalue)) for g in grads]
        if self.clipnorm is not None or self.global_clipnorm is not None:
            sq = []
            for g in grads:
                s = _C.reduce("sum", _C.unary("square", g), list(range(g.ndim)), False)
                sq.append(float(np.asarray(s.numpy()).reshape(-1)[0]))
            if self.global_clipnorm is not None:
                n = math.sqrt(sum(sq))
                if n > self.global_clipnorm:
                    grads = [_C.binary_scalar("mul", g, self.global_clipnorm / n) for g in grads]
            else:
                grads = [(_C.binary_scalar("mul", g, self.clipnorm / math.sqrt(s)) if math.sqrt(s) > self.clipnorm
                          else g) for g, s in zip(grads, sq)]
        return grads

    def apply_gradients(self, grads_and_vars):
        """Update each variable in place from its `_C.Tensor` gradient (None skips)."""
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        if not pairs:
            self.iterations += 1
            return
        grads = [g.value if isinstance(g, ag.EagerTensor) else g for g, _ in pairs]
        for g, (_, v) in zip(grads, pairs):
            if tuple(g.shape) != v.shape:
                raise ValueError("%s.apply_gradients: gradient shape %s does not match variable %s shape %s"
                                 % (type(self).__name__, tuple(g.shape), v.path, v.shape))
        grads = self._clip(grads)
        lr = self.learning_rate
        for g, (_, v) in zip(grads, pairs):
            self._update(v, g, lr)
        self.iterations += 1

    def apply(self, grads, trainable_variables):
        self.apply_gradients(zip(grads, trainable_variables))

    def _update(self, var, grad, lr):
        raise NotImplementedError

    def get_config(self):
        lr = self._lr
        if isinstance(lr, LearningRateSchedule):
            lr = {"class_name": type(lr).__name__, "config": lr.get_config()}
        return {"name": self.name, "learning_rate": lr, "clipnorm": self.clipnorm, "clipvalue": self.clipvalue,
                "global_clipnorm": self.global_clipnorm}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        lr = config.get("learning_rate")
        if isinstance(lr, dict):
            config["learning_rate"] = _SCHEDULES[lr["class_name"]].from_config(lr["config"])
        return cls(**config)

    @property
    def variables(self):
        """Optimizer state Variables (momenta, moments...) in creation order, which
        follows model.trainable_weights, so it is the same on every process."""
        return list(self._slots.values())


class SGD(Optimizer):
    """Keras 3 SGD: v = momentum*v - lr*g; w += v (nesterov: w += momentum*v - lr*g)."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name="SGD", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if not 0 <= momentum <= 1:
            raise ValueError("SGD: momentum must be in [0, 1], got %r" % (momentum,))
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _slot_specs(self):
        return [("momentum", 0.0)] if self.momentum else []

    def _update(self, var, grad, lr):
        vel = self._slot(var, "momentum") if self.momentum else None
        _C.sgd_update_(var.value, grad, vel, float(lr), self.momentum, self.nesterov)

    def get_config(self):
        c = super().get_config()
        c.update(momentum=self.momentum, nesterov=self.nesterov)
        return c


class Adam(Optimizer):
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, name="adam",
                 **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = float(beta_1), float(beta_2), float(epsilon), bool(amsgrad)

    def _slot_specs(self):
        return [("m", 0.0), ("v", 0.0)] + ([("vhat", 0.0)] if self.amsgrad else [])

    def _update(self, var, grad, lr):
        m = self._slot(var, "m")
        v = self._slot(var, "v")
        vhat = self._slot(var, "vhat") if self.amsgrad else None
        _C.adam_update_(var.value, grad, m, v, float(lr), self.beta_1, self.beta_2, self.epsilon,
                        int(self.iterations + 1), vhat)

    def get_config(self):
        c = super().get_config()
        c.update(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon, amsgrad=self.amsgrad)
        return c


class RMSprop(Optimizer):
    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, name="rmsprop",
                 **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = float(rho), float(momentum), float(epsilon), bool(centered)

    def _slot_specs(self):
        return ([("velocity", 0.0)] + ([("average_gradient", 0.0)] if self.centered else [])
                + ([("momentum", 0.0)] if self.momentum else []))

    def _update(self, var, grad, lr):
        vel = self._slot(var, "velocity")
        avg = self._slot(var, "average_gradient") if self.centered else None
        mom = self._slot(var, "momentum") if self.momentum else None
        _C.rmsprop_update_(var.value, grad, vel, avg, mom, float(lr), self.rho, self.momentum, self.epsilon,
                           self.centered)

    def get_config(self):
        c = super().get_config()
        c.update(rho=self.rho, momentum=self.momentum, epsilon=self.epsilon, centered=self.centered)
        return c


class Adagrad(Optimizer):
    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, name="adagrad", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.initial_accumulator_value, self.epsilon = float(initial_accumulator_value), float(epsilon)

    def _slot_specs(self):
        return [("accumulator", self.initial_accumulator_value)]

    def _update(self, var, grad, lr):
        acc = self._slot(var, "accumulator", self.initial_accumulator_value)
        _C.adagrad_update_(var.value, grad, acc, float(lr), self.epsilon)

    def get_config(self):
        c = super().get_config()
        c.update(initial_accumulator_value=self.initial_accumulator_value, epsilon=self.epsilon)
        return c


_NAMES = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adagrad": Adagrad}
_CLASSES = {"SGD": SGD, "Adam": Adam, "RMSprop": RMSprop, "Adagrad": Adagrad}


def get(identifier):
    if isinstance(identifier, Optimizer) or hasattr(identifier, "apply_gradients"):
        return identifier
    if isinstance(identifier, str):
        cls = _NAMES.get(identifier.lower())
        if cls is None:
            raise ValueError("Could not interpret optimizer identifier: '%s'. Known: %s"
                             % (identifier, ", ".join(sorted(_NAMES))))
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError("Could not interpret optimizer identifier: %r" % (identifier,))


def serialize(opt):
    return {"class_name": type(opt).__name__, "config": opt.get_config()}


def deserialize(config, custom_objects=None):
    cls = _CLASSES.get(config.get("class_name")) or (custom_objects or {}).get(config.get("class_name"))
    if cls is None:
        raise ValueError("Unknown optimizer class: %r" % (config.get("class_name"),))
    return cls.from_config(config.get("config", {}))
