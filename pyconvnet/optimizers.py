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

__all__ = ["Optimizer", "SGD", "Adam", "RMSprop", "Adagrad", "AdamW", "Adamax", "Nadam", "Adadelta", "Lion", "Ftrl",
           "schedules", "get", "serialize", "deserialize"]


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


class InverseTimeDecay(LearningRateSchedule):
    """lr = initial / (1 + decay_rate * step / decay_steps) (floored if staircase)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        if decay_steps <= 0:
            raise ValueError("Argument `decay_steps` must be > 0. Received: decay_steps=%r" % (decay_steps,))
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.decay_rate, self.staircase, self.name = decay_rate, staircase, name

    def __call__(self, step):
        p = float(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate / (1.0 + self.decay_rate * p)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """(initial - end) * (1 - min(step, decay_steps) / decay_steps) ** power + end (cycle: decay_steps
    grows to the next multiple of itself)."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                 name="PolynomialDecay"):
        if decay_steps <= 0:
            raise ValueError("Argument `decay_steps` must be > 0. Received: decay_steps=%r" % (decay_steps,))
        self.initial_learning_rate, self.decay_steps, self.end_learning_rate = initial_learning_rate, decay_steps, \
            end_learning_rate
        self.power, self.cycle, self.name = power, cycle, name

    def __call__(self, step):
        step = float(step)
        ds = float(self.decay_steps)
        if self.cycle:
            ds *= 1.0 if step == 0 else math.ceil(step / self.decay_steps)
        else:
            step = min(step, ds)
        p = step / ds
        return (self.initial_learning_rate - self.end_learning_rate) * (1 - p) ** self.power + self.end_learning_rate

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay from initial (or from warmup_target after a linear warmup of warmup_steps)
    to alpha * that value over decay_steps."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0):
        if decay_steps <= 0:
            raise ValueError("Argument `decay_steps` must be > 0. Received: decay_steps=%r" % (decay_steps,))
        self.initial_learning_rate, self.decay_steps, self.alpha, self.name = initial_learning_rate, decay_steps, \
            alpha, name
        self.warmup_target, self.warmup_steps = warmup_target, warmup_steps

    def _decay(self, step, frm):
        c = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return frm * ((1 - self.alpha) * c + self.alpha)

    def __call__(self, step):
        step = float(step)
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            return (self.warmup_target - self.initial_learning_rate) * (step / self.warmup_steps) + \
                self.initial_learning_rate
        return self._decay(step - self.warmup_steps, self.warmup_target)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(LearningRateSchedule):
    """SGDR: cosine decay restarted every first_decay_steps * t_mul**i steps, scaled by m_mul**i."""

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0, name="SGDRDecay"):
        if first_decay_steps <= 0:
            raise ValueError("Argument `first_decay_steps` must be > 0. Received: first_decay_steps=%r"
                             % (first_decay_steps,))
        self.initial_learning_rate, self.first_decay_steps = initial_learning_rate, first_decay_steps
        self._t_mul, self._m_mul, self.alpha, self.name = t_mul, m_mul, alpha, name

    def __call__(self, step):
        f = float(step) / self.first_decay_steps
        t = float(self._t_mul)
        if t == 1.0:
            i = math.floor(f)
            f -= i
        else:
            i = math.floor(math.log(1.0 - f * (1.0 - t)) / math.log(t))
            sum_r = (1.0 - t ** i) / (1.0 - t)
            f = (f - sum_r) / t ** i
        m_fac = self._m_mul ** i
        c = 0.5 * m_fac * (1.0 + math.cos(math.pi * f))
        return self.initial_learning_rate * ((1 - self.alpha) * c + self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "first_decay_steps": self.first_decay_steps,
                "t_mul": self._t_mul, "m_mul": self._m_mul, "alpha": self.alpha, "name": self.name}


class _Schedules:
    LearningRateSchedule = LearningRateSchedule
    ExponentialDecay = ExponentialDecay
    PiecewiseConstantDecay = PiecewiseConstantDecay
    InverseTimeDecay = InverseTimeDecay
    PolynomialDecay = PolynomialDecay
    CosineDecay = CosineDecay
    CosineDecayRestarts = CosineDecayRestarts

    @staticmethod
    def serialize(schedule):
        return {"class_name": type(schedule).__name__, "config": schedule.get_config()}

    @staticmethod
    def deserialize(config, custom_objects=None):
        cls = _SCHEDULES.get(config.get("class_name")) or (custom_objects or {}).get(config.get("class_name"))
        if cls is None:
            raise ValueError("Unknown learning rate schedule: %r" % (config.get("class_name"),))
        return cls.from_config(config.get("config", {}))


schedules = _Schedules()
_SCHEDULES = {c.__name__: c for c in (ExponentialDecay, PiecewiseConstantDecay, InverseTimeDecay, PolynomialDecay,
                                       CosineDecay, CosineDecayRestarts)}


class _Value(float):
    """A scalar optimizer attribute read like a Keras variable: float(v), np.asarray(v),
    v.numpy(), v.assign(x) (writes back through the optimizer)."""

    def __new__(cls, value, setter=None):
        o = float.__new__(cls, value)
        o._setter = setter
        return o

    def numpy(self):
        return np.float32(self)

    def assign(self, value):
        if self._setter is None:
            raise TypeError("this value is read-only")
        self._setter(float(np.asarray(value).reshape(-1)[0]))
        return self

    @property
    def value(self):
        return float(self)

    @property
    def dtype(self):
        return "float32"

    @property
    def shape(self):
        return ()


class _Step(int):
    """optimizer.iterations: an int that also answers .numpy() and .value like a Keras variable."""

    def numpy(self):
        return np.int64(self)

    @property
    def value(self):
        return int(self)


class Optimizer:
    applies_constraints = True  # apply_gradients projects variables that carry a constraint
    def __init__(self, learning_rate=0.001, name=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 weight_decay=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, **kwargs):
        if kwargs:
            if "lr" in kwargs:
                learning_rate = kwargs.pop("lr")
            if kwargs:
                raise TypeError("%s: unrecognized arguments %s" % (type(self).__name__, sorted(kwargs)))
        if gradient_accumulation_steps and not gradient_accumulation_steps >= 2:
            raise ValueError("`gradient_accumulation_steps` must be an integer >= 2. Received: "
                             "gradient_accumulation_steps=%r" % (gradient_accumulation_steps,))
        if use_ema:
            if ema_momentum > 1 or ema_momentum < 0:
                raise ValueError("`ema_momentum` must be in the range [0, 1]. Received: ema_momentum=%r"
                                 % (ema_momentum,))
            if ema_overwrite_frequency and (not isinstance(ema_overwrite_frequency, int)
                                            or ema_overwrite_frequency < 1):
                raise ValueError("`ema_overwrite_frequency` must be an integer >= 1 or None. Received: "
                                 "ema_overwrite_frequency=%r" % (ema_overwrite_frequency,))
        if weight_decay is not None and float(weight_decay) < 0:
            raise ValueError("%s: weight_decay must be >= 0, got %r" % (type(self).__name__, weight_decay))
        self.weight_decay = None if weight_decay is None else float(weight_decay)
        self.use_ema, self.ema_momentum, self.ema_overwrite_frequency = bool(use_ema), ema_momentum, \
            ema_overwrite_frequency
        # loss_scale_factor: fit scales the loss seed by it (scale_loss) and apply_gradients divides
        # the gradients by it, as Keras does
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self._wd_exclude_ids, self._wd_exclude_names = set(), []
        if sum(x is not None for x in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("%s: only one of clipnorm, clipvalue, global_clipnorm can be set" % type(self).__name__)
        if not name:  # Keras 3 auto-names: sgd, adam, rm_sprop, adam_w, then _1, _2...
            from .utils import to_snake_case, unique_name
            name = unique_name(to_snake_case(type(self).__name__))
        self.name = name
        self._lr = learning_rate
        if not isinstance(learning_rate, LearningRateSchedule) and (not callable(learning_rate)):
            if float(learning_rate) < 0:
                raise ValueError("%s: learning_rate must be >= 0, got %r" % (type(self).__name__, learning_rate))
            self._lr = float(learning_rate)
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.iterations = 0
        self._slots = {}

    @property
    def iterations(self):
        return _Step(self._steps)

    @property
    def _steps(self):
        """Optimizer updates so far (Keras's iterations: calls // gradient_accumulation_steps)."""
        k = self.gradient_accumulation_steps
        return self._iterations // k if k else self._iterations

    @iterations.setter
    def iterations(self, value):
        v = int(np.asarray(value).reshape(-1)[0]) if not isinstance(value, int) else int(value)
        k = getattr(self, "gradient_accumulation_steps", None)
        self._iterations = v * k if k else v  # the counter of calls; iterations counts updates

    # Keras exposes learning_rate as a variable that callbacks read and assign
    @property
    def learning_rate(self):
        if callable(self._lr):
            return _Value(self._lr(self._steps))
        return _Value(self._lr, self._set_lr)

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(self._lr, LearningRateSchedule) and not isinstance(value, LearningRateSchedule):
            raise TypeError("This optimizer was created with a `LearningRateSchedule` object as its "
                            "`learning_rate` constructor argument, hence its learning rate is not settable. If "
                            "you need the learning rate to be settable, you should instantiate the optimizer with "
                            "a float `learning_rate` argument.")
        self._set_lr(value)

    def _set_lr(self, value):
        if callable(value):
            self._lr = value
        else:
            self._lr = float(np.asarray(value).reshape(-1)[0])

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Variables (or variables whose name contains one of var_names) that weight decay skips."""
        self._wd_exclude_ids.update(id(v) for v in (var_list or []))
        self._wd_exclude_names.extend(var_names or [])

    def _apply_weight_decay(self, vars_, lr):
        """Keras: before the update, w -= w * weight_decay * lr for every non-excluded variable."""
        if not self.weight_decay:
            return
        for v in vars_:
            if id(v) in self._wd_exclude_ids or any(n in getattr(v, "name", "") for n in self._wd_exclude_names):
                continue
            _C.scale_(v.value, 1.0 - self.weight_decay * float(lr))

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
        # Keras applies a clip only when its value is > 0 (clipvalue=0 does not zero the gradients)
        if self.clipvalue and self.clipvalue > 0 and not (self.clipnorm and self.clipnorm > 0) and \
                not (self.global_clipnorm and self.global_clipnorm > 0):
            return [_C.clip(g, -float(self.clipvalue), float(self.clipvalue)) for g in grads]
        if (self.clipnorm and self.clipnorm > 0) or (self.global_clipnorm and self.global_clipnorm > 0):
            sq = []
            for g in grads:
                s = _C.reduce("sum", _C.unary("square", g), list(range(g.ndim)), False)
                sq.append(float(np.asarray(s.numpy()).reshape(-1)[0]))
            if not (self.clipnorm and self.clipnorm > 0):
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
            self._iterations += 1
            return
        grads = [g.value if isinstance(g, ag.EagerTensor) else g for g, _ in pairs]
        if self.loss_scale_factor is not None:  # Keras unscales here what scale_loss scaled
            grads = [_C.binary_scalar("mul", g, 1.0 / float(self.loss_scale_factor)) for g in grads]
        for g, (_, v) in zip(grads, pairs):
            if tuple(g.shape) != v.shape:
                raise ValueError("%s.apply_gradients: gradient shape %s does not match variable %s shape %s"
                                 % (type(self).__name__, tuple(g.shape), v.path, v.shape))
        vars_ = [v for _, v in pairs]
        k = self.gradient_accumulation_steps
        if k:  # Keras: sum k micro-batch gradients, update with their mean every k-th call
            accs = [self._slot(v, "gradient_accumulator") for v in vars_]
            if (self._iterations + 1) % k != 0:
                for a, g in zip(accs, grads):
                    a.copy_(_C.binary("add", a, g))
                self._ema(vars_)
                self._iterations += 1
                return
            grads = [_C.binary_scalar("mul", _C.binary("add", g, a), 1.0 / k) for g, a in zip(grads, accs)]
            for a in accs:
                _C.fill_(a, 0.0)
        grads = self._clip(grads)
        lr = float(self._lr(self._steps)) if callable(self._lr) else self._lr
        self._apply_weight_decay(vars_, lr)
        self._before_update()
        for g, v in zip(grads, vars_):
            self._update(v, g, lr)
        self._ema(vars_)
        for v in vars_:  # Keras: each variable's constraint projects it right after the update
            con = getattr(v, "constraint", None)
            if con is not None:
                with ag.no_grad():
                    v.assign(con(v))
        self._iterations += 1

    def _ema(self, vars_):
        """Keras's use_ema: average = m * average + (1 - m) * w after each step (m = 0 at the first),
        copied into the weights every ema_overwrite_frequency steps and by finalize_variable_values."""
        if not self.use_ema:
            return
        m = self.ema_momentum if self._steps != 0 else 0.0
        for v in vars_:
            avg = self._slot(v, "average")
            avg.copy_(_C.binary("add", _C.binary_scalar("mul", avg, m), _C.binary_scalar("mul", v.value, 1.0 - m)))
        if self.ema_overwrite_frequency and (self._steps + 1) % self.ema_overwrite_frequency == 0:
            self._overwrite_with_average(vars_)

    def _overwrite_with_average(self, vars_):
        for v in vars_:
            key = (id(v), "average")
            if key in self._slots:
                v.value.copy_(self._slots[key].value)

    def scale_loss(self, loss):
        """loss * loss_scale_factor (apply_gradients divides the gradients by it again)."""
        if self.loss_scale_factor is not None:
            return loss * self.loss_scale_factor
        return loss

    def finalize_variable_values(self, var_list):
        """End of fit: with use_ema, the weights take their moving averages (Keras)."""
        if self.use_ema:
            self._overwrite_with_average(list(var_list))

    def _before_update(self):
        """Per-step state shared by all variables (Nadam's u_product)."""

    def apply(self, grads, trainable_variables):
        self.apply_gradients(zip(grads, trainable_variables))

    def _update(self, var, grad, lr):
        raise NotImplementedError

    def get_config(self):
        lr = self._lr
        if isinstance(lr, LearningRateSchedule):
            lr = {"class_name": type(lr).__name__, "config": lr.get_config()}
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue,
                "use_ema": self.use_ema, "ema_momentum": self.ema_momentum,
                "ema_overwrite_frequency": self.ema_overwrite_frequency,
                "loss_scale_factor": self.loss_scale_factor,
                "gradient_accumulation_steps": self.gradient_accumulation_steps}

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

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name=None, **kwargs):
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
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, name=None,
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
                        int(self._steps + 1), vhat)

    def get_config(self):
        c = super().get_config()
        c.update(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon, amsgrad=self.amsgrad)
        return c


class RMSprop(Optimizer):
    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, name=None,
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
    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, name=None, **kwargs):
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


def _b(op, a, b):
    return _C.binary(op, a, b)


def _bs(op, a, x):
    return _C.binary_scalar(op, a, float(x))


class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.004), applied before the update as in Keras."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, name=None, **kwargs):
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, name=name, weight_decay=weight_decay, **kwargs)


class Adamax(Optimizer):
    """m += (g - m)(1 - b1); u = max(b2 u, |g|); w -= lr m / ((1 - b1^t)(u + eps))."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _slot_specs(self):
        return [("m", 0.0), ("u", 0.0)]

    def _update(self, var, grad, lr):
        m, u = self._slot(var, "m"), self._slot(var, "u")
        t = self._steps + 1
        m.copy_(_b("add", m, _bs("mul", _b("sub", grad, m), 1.0 - self.beta_1)))
        u.copy_(_b("maximum", _bs("mul", u, self.beta_2), _C.unary("abs", grad)))
        step = _b("div", _bs("mul", m, lr), _bs("mul", _bs("add", u, self.epsilon), 1.0 - self.beta_1 ** t))
        var.value.copy_(_b("sub", var.value, step))

    def get_config(self):
        c = super().get_config()
        c.update(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)
        return c


class Nadam(Optimizer):
    """Adam with Nesterov momentum and the 0.96 momentum schedule (Keras 3's formulas)."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self._u_product = 1.0

    def _slot_specs(self):
        return [("m", 0.0), ("v", 0.0)]

    def _before_update(self):
        self._u_product *= self.beta_1 * (1.0 - 0.5 * 0.96 ** (self._steps + 1))

    def _update(self, var, grad, lr):
        m, v = self._slot(var, "m"), self._slot(var, "v")
        t = self._steps + 1
        b1, b2 = self.beta_1, self.beta_2
        u_t = b1 * (1.0 - 0.5 * 0.96 ** t)
        u_t1 = b1 * (1.0 - 0.5 * 0.96 ** (t + 1))
        up_t = self._u_product
        up_t1 = up_t * u_t1
        m.copy_(_b("add", m, _bs("mul", _b("sub", grad, m), 1.0 - b1)))
        v.copy_(_b("add", v, _bs("mul", _b("sub", _C.unary("square", grad), v), 1.0 - b2)))
        m_hat = _b("add", _bs("mul", m, u_t1 / (1.0 - up_t1)), _bs("mul", grad, (1.0 - u_t) / (1.0 - up_t)))
        v_hat = _bs("mul", v, 1.0 / (1.0 - b2 ** t))
        step = _b("div", _bs("mul", m_hat, lr), _bs("add", _C.unary("sqrt", v_hat), self.epsilon))
        var.value.copy_(_b("sub", var.value, step))

    def get_config(self):
        c = super().get_config()
        c.update(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)
        return c


class Adadelta(Optimizer):
    """acc_g = rho acc_g + (1-rho) g^2; d = -sqrt(acc_d + eps)/sqrt(acc_g + eps) g;
    acc_d = rho acc_d + (1-rho) d^2; w += lr d."""

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.rho, self.epsilon = float(rho), float(epsilon)

    def _slot_specs(self):
        return [("accumulated_grad", 0.0), ("accumulated_delta_var", 0.0)]

    def _update(self, var, grad, lr):
        ag_, ad = self._slot(var, "accumulated_grad"), self._slot(var, "accumulated_delta_var")
        rho = self.rho
        ag_.copy_(_b("add", _bs("mul", ag_, rho), _bs("mul", _C.unary("square", grad), 1.0 - rho)))
        rms_d = _C.unary("sqrt", _bs("add", ad, self.epsilon))
        rms_g = _C.unary("sqrt", _bs("add", ag_, self.epsilon))
        delta = _C.unary("neg", _b("div", _b("mul", rms_d, grad), rms_g))
        ad.copy_(_b("add", _bs("mul", ad, rho), _bs("mul", _C.unary("square", delta), 1.0 - rho)))
        var.value.copy_(_b("add", var.value, _bs("mul", delta, lr)))

    def get_config(self):
        c = super().get_config()
        c.update(rho=self.rho, epsilon=self.epsilon)
        return c


class Lion(Optimizer):
    """w -= lr sign(b1 m + (1-b1) g); m = b2 m + (1-b2) g."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if beta_1 <= 0 or beta_1 > 1:
            raise ValueError("Argument for `beta_1` must be in range (0, 1]. Received: beta_1=%r" % (beta_1,))
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)

    def _slot_specs(self):
        return [("momentum", 0.0)]

    def _update(self, var, grad, lr):
        m = self._slot(var, "momentum")
        d = _C.unary("sign", _b("add", _bs("mul", m, self.beta_1), _bs("mul", grad, 1.0 - self.beta_1)))
        var.value.copy_(_b("sub", var.value, _bs("mul", d, lr)))
        m.copy_(_b("add", _bs("mul", m, self.beta_2), _bs("mul", grad, 1.0 - self.beta_2)))

    def get_config(self):
        c = super().get_config()
        c.update(beta_1=self.beta_1, beta_2=self.beta_2)
        return c


class Ftrl(Optimizer):
    """FTRL-proximal (Keras 3's update: accumulator, linear; l1/l2/l2-shrinkage/beta)."""

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5, initial_accumulator_value=0.1,
                 l1_regularization_strength=0.0, l2_regularization_strength=0.0,
                 l2_shrinkage_regularization_strength=0.0, beta=0.0, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        for arg, v in (("initial_accumulator_value", initial_accumulator_value),
                       ("l1_regularization_strength", l1_regularization_strength),
                       ("l2_regularization_strength", l2_regularization_strength),
                       ("l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength)):
            if v < 0.0:
                raise ValueError("`%s` needs to be positive or zero. Received: %s=%r." % (arg, arg, v))
        if learning_rate_power > 0.0:
            raise ValueError("`learning_rate_power` needs to be negative or zero. Received: learning_rate_power=%r."
                             % (learning_rate_power,))
        self.learning_rate_power, self.initial_accumulator_value = learning_rate_power, initial_accumulator_value
        self.l1_regularization_strength = l1_regularization_strength
        self.l2_regularization_strength = l2_regularization_strength
        self.l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self.beta = beta

    def _slot_specs(self):
        return [("accumulator", self.initial_accumulator_value), ("linear", 0.0)]

    def _update(self, var, grad, lr):
        acc = self._slot(var, "accumulator", self.initial_accumulator_value)
        lin = self._slot(var, "linear")
        w = var.value
        p = -float(self.learning_rate_power)
        l2 = self.l2_regularization_strength + self.beta / (2.0 * lr)
        g2 = _b("add", grad, _bs("mul", w, 2 * self.l2_shrinkage_regularization_strength))
        new_acc = _b("add", acc, _C.unary("square", grad))
        pn, po = _bs("pow", new_acc, p), _bs("pow", acc, p)
        lin.copy_(_b("add", lin, _b("sub", g2, _b("mul", _bs("mul", _b("sub", pn, po), 1.0 / lr), w))))
        quad = _bs("add", _bs("mul", pn, 1.0 / lr), 2 * l2)
        l1 = float(self.l1_regularization_strength)
        clipped = _C.clip(lin, -l1, l1)
        w.copy_(_b("div", _b("sub", clipped, lin), quad))
        acc.copy_(new_acc)

    def get_config(self):
        c = super().get_config()
        c.update(learning_rate_power=self.learning_rate_power, initial_accumulator_value=self.initial_accumulator_value,
                 l1_regularization_strength=self.l1_regularization_strength,
                 l2_regularization_strength=self.l2_regularization_strength,
                 l2_shrinkage_regularization_strength=self.l2_shrinkage_regularization_strength, beta=self.beta)
        return c


_NAMES = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adagrad": Adagrad, "adamw": AdamW, "adamax": Adamax,
          "nadam": Nadam, "adadelta": Adadelta, "lion": Lion, "ftrl": Ftrl}
_CLASSES = {"SGD": SGD, "Adam": Adam, "RMSprop": RMSprop, "Adagrad": Adagrad, "AdamW": AdamW, "Adamax": Adamax,
            "Nadam": Nadam, "Adadelta": Adadelta, "Lion": Lion, "Ftrl": Ftrl}



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
