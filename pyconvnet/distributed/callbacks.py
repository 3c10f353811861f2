"""horovod.keras callbacks on pyconvnet.distributed.

They subclass pyconvnet.callbacks.Callback when the Keras layer is present,
else a minimal stand-in with the same hooks (set_model, set_params,
on_train_begin, on_epoch_begin/end, on_batch_begin/end, on_train_batch_*).
"""
import numpy as np

from . import core
from ._fit import broadcast_model, verify_model

try:  # the Keras layer (pyconvnet/callbacks.py) may not be there yet
    from ..callbacks import Callback as _Base  # type: ignore
except Exception:  # pragma: no cover - depends on the branch
    class _Base:
        def __init__(self):
            self.model = None
            self.params = {}

        def set_model(self, model):
            self.model = model

        def set_params(self, params):
            self.params = params

        def on_train_begin(self, logs=None): pass
        def on_train_end(self, logs=None): pass
        def on_epoch_begin(self, epoch, logs=None): pass
        def on_epoch_end(self, epoch, logs=None): pass
        def on_batch_begin(self, batch, logs=None): pass
        def on_batch_end(self, batch, logs=None): pass

        def on_train_batch_begin(self, batch, logs=None):
            self.on_batch_begin(batch, logs)

        def on_train_batch_end(self, batch, logs=None):
            self.on_batch_end(batch, logs)

__all__ = ["BroadcastGlobalVariablesCallback", "MetricAverageCallback", "LearningRateWarmupCallback",
           "LearningRateScheduleCallback"]


def _init_base(self):
    try:
        _Base.__init__(self)
    except TypeError:
        pass
    if not hasattr(self, "params") or self.params is None:
        self.params = {}
    if not hasattr(self, "model"):
        self.model = None


class BroadcastGlobalVariablesCallback(_Base):
    """Broadcast model weights (incl. BatchNorm statistics) and optimizer state
    from `root_rank` at the start of training, then verify by checksum that all
    ranks agree. Optimizer variables that only appear with the first step are
    broadcast at the end of the first batch."""

    def __init__(self, root_rank=0, device=""):
        _init_base(self)
        self.root_rank = int(root_rank)
        self.broadcast_done = False
        self._opt_done = False

    def on_train_begin(self, logs=None):
        if self.broadcast_done or not core.is_initialized() or core.size() == 1:
            return
        n = broadcast_model(self.model, self.root_rank)
        verify_model(self.model, "BroadcastGlobalVariablesCallback")
        self.broadcast_done = True
        self._opt_done = n > 0

    def on_batch_end(self, batch, logs=None):
        if self._opt_done or not core.is_initialized() or core.size() == 1:
            return
        self._opt_done = True
        from ._fit import broadcast_and_verify, _variables
        _, ovs = _variables(self.model)
        broadcast_and_verify(ovs, "BroadcastGlobalVariablesCallback (optimizer.variables)", self.root_rank)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)


class MetricAverageCallback(_Base):
    """Average every numeric entry of `logs` over the ranks at the end of each
    epoch (sorted by name, so every rank reduces in the same order; one
    Allreduce for all of them)."""

    def __init__(self, device=""):
        _init_base(self)

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or not core.is_initialized() or core.size() == 1:
            return
        keys = sorted(k for k, v in logs.items() if np.ndim(v) == 0 and isinstance(np.asarray(v).item(),
                                                                                 (int, float)))
        vals = np.array([float(logs[k]) for k in keys], np.float64)
        avg = core.allreduce(vals, op=core.Average, name="MetricAverageCallback") if keys else vals
        for k, v in zip(keys, avg):
            logs[k] = float(v)


def _get_lr(opt):
    lr = getattr(opt, "learning_rate", None)
    if lr is None:
        lr = getattr(opt, "lr")
    if hasattr(lr, "numpy"):
        return float(np.asarray(lr.numpy()))
    return float(lr)


def _set_lr(opt, value):
    cur = getattr(opt, "learning_rate", None) if hasattr(opt, "learning_rate") else getattr(opt, "lr", None)
    if hasattr(cur, "assign"):
        cur.assign(np.asarray(value, np.float32) if np.ndim(cur.numpy()) == 0 else value)
    elif hasattr(opt, "learning_rate"):
        opt.learning_rate = float(value)
    else:
        opt.lr = float(value)


class LearningRateScheduleCallback(_Base):
    """lr = initial_lr * multiplier(epoch) between start_epoch and end_epoch
    (horovod semantics: staircase applies at each epoch's first batch, else at
    every batch with a fractional epoch; momentum correction scales momentum by
    new_lr/old_lr for the batch in which lr changed)."""

    def __init__(self, initial_lr, multiplier, start_epoch=0, end_epoch=None, staircase=True,
                 momentum_correction=True, steps_per_epoch=None):
        _init_base(self)
        if initial_lr is None:
            raise ValueError("%s: initial_lr is required" % type(self).__name__)
        self.initial_lr = float(initial_lr)
        self.multiplier = multiplier if callable(multiplier) else (lambda epoch, m=multiplier: m ** epoch)
        self.start_epoch, self.end_epoch = start_epoch, end_epoch
        self.staircase, self.momentum_correction = staircase, momentum_correction
        self.steps_per_epoch = steps_per_epoch
        self.current_epoch = None
        self.restore_momentum = None

    def _autodetect_steps_per_epoch(self):
        p = self.params or {}
        if p.get("steps"):
            return p["steps"]
        if p.get("samples") and p.get("batch_size"):
            return p["samples"] // p["batch_size"]
        raise ValueError("%s: could not detect the number of steps per epoch; pass steps_per_epoch="
                         % type(self).__name__)

    def _adjust(self, epoch):
        opt = self.model.optimizer
        old = _get_lr(opt)
        new = self.initial_lr * self.multiplier(epoch)
        _set_lr(opt, new)
        if self.momentum_correction and hasattr(opt, "momentum") and old > 0:
            m = opt.momentum
            mv = float(np.asarray(m.numpy())) if hasattr(m, "numpy") else float(m)
            if mv:
                self.restore_momentum = mv
                _set_attr_value(opt, "momentum", mv * new / old)

    def _restore(self):
        if self.restore_momentum:
            _set_attr_value(self.model.optimizer, "momentum", self.restore_momentum)
            self.restore_momentum = None

    def on_train_begin(self, logs=None):
        if not self.staircase and not self.steps_per_epoch:
            self.steps_per_epoch = self._autodetect_steps_per_epoch()

    def on_epoch_begin(self, epoch, logs=None):
        self.current_epoch = epoch

    def on_batch_begin(self, batch, logs=None):
        e = self.current_epoch
        if e is None or e < self.start_epoch or (self.end_epoch is not None and e >= self.end_epoch):
            return
        if self.staircase and batch == 0:
            self._adjust(e)
        elif not self.staircase:
            self._adjust(e + float(batch) / self.steps_per_epoch)

    def on_batch_end(self, batch, logs=None):
        self._restore()

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            # horovod logs the current rate as "lr" (so History has history["lr"])
            logs["lr"] = _get_lr(self.model.optimizer)


def _set_attr_value(obj, name, value):
    cur = getattr(obj, name)
    if hasattr(cur, "assign"):
        cur.assign(np.asarray(value, np.float32))
    else:
        setattr(obj, name, float(value))


class LearningRateWarmupCallback(LearningRateScheduleCallback):
    """Gradual warmup (Goyal et al. 2017), horovod semantics: lr goes linearly
    from initial_lr / size() to initial_lr over `warmup_epochs`, adjusted at
    every batch: lr(e) = initial_lr / size * (e' * (size - 1) / warmup_epochs + 1)
    with e' = epoch + batch/steps_per_epoch + 1/steps_per_epoch, so the last
    batch of the last warmup epoch runs at exactly initial_lr."""

    def __init__(self, initial_lr, warmup_epochs=5, momentum_correction=True, steps_per_epoch=None, verbose=0):
        self.warmup_epochs = warmup_epochs
        self.verbose = verbose

        def multiplier(epoch):
            n = core.size() if core.is_initialized() else 1
            epoch += 1.0 / self.steps_per_epoch
            return 1.0 / n * (epoch * (n - 1) / warmup_epochs + 1)

        super().__init__(initial_lr, multiplier, start_epoch=0, end_epoch=warmup_epochs, staircase=False,
                         momentum_correction=momentum_correction, steps_per_epoch=steps_per_epoch)

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if epoch == self.end_epoch - 1 and self.verbose > 0 and (not core.is_initialized() or core.rank() == 0):
            print("\nEpoch %d: finished gradual learning rate warmup to %g." % (epoch + 1,
                                                                               _get_lr(self.model.optimizer)))
