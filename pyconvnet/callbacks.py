"""keras.callbacks: History, ModelCheckpoint (atomic), EarlyStopping,
ReduceLROnPlateau, LearningRateScheduler, CSVLogger, LambdaCallback,
TerminateOnNaN, and the progress bar (ProgbarLogger)."""
import csv
import os
import sys
import time
import warnings

import numpy as np

__all__ = ["Callback", "CallbackList", "History", "ModelCheckpoint", "EarlyStopping", "ReduceLROnPlateau",
           "LearningRateScheduler", "CSVLogger", "LambdaCallback", "TerminateOnNaN", "ProgbarLogger", "Progbar",
           "TensorBoard", "BackupAndRestore", "RemoteMonitor", "SwapEMAWeights"]


class Callback:
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

    # Keras 3: the train-batch hooks call the legacy on_batch_* (a callback overriding only
    # on_batch_end still runs)
    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass


class CallbackList(Callback):
    def __init__(self, callbacks, model, params):
        super().__init__()
        self.callbacks = list(callbacks)
        self.params = params  # shared with every callback (fit updates "steps" per epoch)
        for c in self.callbacks:
            c.set_model(model)
            c.set_params(params)

    def __getattribute__(self, name):
        if name.startswith("on_"):
            cbs = object.__getattribute__(self, "callbacks")

            n_idx = 1 if ("batch" in name or "epoch" in name) else 0

            def call(*a, **k):
                # Keras passes a dict (never None) to every hook
                if len(a) > n_idx:
                    if a[n_idx] is None:
                        a = a[:n_idx] + ({},) + a[n_idx + 1:]
                elif k.get("logs") is None:
                    k["logs"] = {}
                for c in cbs:
                    getattr(c, name)(*a, **k)
            return call
        return object.__getattribute__(self, name)


class History(Callback):
    """Records the logs of every epoch: history.history['loss'] etc."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        if self.model is not None:
            self.model.history = self  # Keras: the model's history is the latest one


def _fmt_time(sec):
    if sec >= 3600:
        return "%d:%02d:%02d" % (sec // 3600, (sec % 3600) // 60, sec % 60)
    if sec >= 60:
        return "%d:%02d" % (sec // 60, sec % 60)
    return "%ds" % sec


def _fmt_step(sec):
    if sec >= 1:
        return "%ds/step" % sec
    if sec >= 1e-3:
        return "%dms/step" % (sec * 1e3)
    return "%dus/step" % (sec * 1e6)


def _fmt_logs(logs):
    keys = sorted(k for k in logs if not k.startswith("val_")) + sorted(k for k in logs if k.startswith("val_"))
    parts = []
    for k in keys:
        v = logs[k]
        if isinstance(v, (float, int, np.floating)):
            parts.append("%s: %s" % (k, ("%.4f" % v) if abs(v) > 1e-3 else ("%.4e" % v)))  # Keras's rule
    return " - ".join(parts)


class Progbar:
    """Keras 3's progress bar: `N/N ━━━━━━━━━━━━━━━━━━━━ 2s 12ms/step - accuracy: 0.91 - loss: 0.31`."""

    def __init__(self, target, width=20, verbose=1, stream=None):
        self.target, self.width, self.verbose = target, width, verbose
        self.stream = stream or sys.stdout
        self.start = time.time()
        self.last = 0.0
        self._dyn = hasattr(self.stream, "isatty") and self.stream.isatty()

    def update(self, current, logs=None, finalize=False):
        now = time.time()
        if self.verbose == 2 and finalize:  # one line at the end, as Keras's verbose=2
            el = now - self.start
            s = _fmt_logs(logs or {})
            self.stream.write("%d/%d - %s - %s%s\n" % (current, self.target or current, _fmt_time(el),
                                                       _fmt_step(el / max(current, 1)), (" - " + s) if s else ""))
            self.stream.flush()
            return
        if self.verbose != 1:
            return
        if not finalize and now - self.last < 0.1 and current < (self.target or 0):
            return
        self.last = now
        elapsed = now - self.start
        tgt = self.target
        if tgt:
            filled = int(self.width * current / tgt)
            bar = "\x1b[1m" + "━" * filled + "\x1b[0m" + "\x1b[37m" + "━" * (self.width - filled) + "\x1b[0m" \
                if self._dyn else "━" * self.width
            line = "%d/%d %s " % (current, tgt, bar)
        else:
            line = "%d " % current
        per = elapsed / max(current, 1)
        if finalize or (tgt and current >= tgt):
            line += "%s %s" % (_fmt_time(elapsed), _fmt_step(per))
        else:
            eta = per * ((tgt or current) - current)
            line += "%s %s" % (_fmt_time(eta), _fmt_step(per))
        s = _fmt_logs(logs or {})
        if s:
            line += " - " + s
        if self._dyn:
            self.stream.write("\r" + line + "\x1b[K")
            if finalize:
                self.stream.write("\n")
        elif finalize:
            self.stream.write(line + "\n")
        self.stream.flush()


class ProgbarLogger(Callback):
    """verbose=1: a live bar per epoch; verbose=2: one line per epoch."""

    def __init__(self, verbose=None):
        super().__init__()
        self.verbose = verbose  # None: fit's verbose (Keras 3's ProgbarLogger() takes no argument)
        self.bar = None

    def set_params(self, params):
        super().set_params(params)
        if self.verbose is None:
            v = (params or {}).get("verbose", 1)
            self.verbose = 1 if v == "auto" else v

    def on_epoch_begin(self, epoch, logs=None):
        epochs = self.params.get("epochs", 1)
        if self.verbose:
            sys.stdout.write("Epoch %d/%d\n" % (epoch + 1, epochs))
            sys.stdout.flush()
        self.bar = Progbar(self.params.get("steps"), verbose=self.verbose)
        self.seen = 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen = batch + 1
        if self.bar is not None:
            self.bar.update(batch + 1, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.bar is None:
            return
        if self.verbose == 1:
            self.bar.update(self.seen, logs, finalize=True)
        elif self.verbose == 2:
            el = time.time() - self.bar.start
            s = _fmt_logs(logs or {})
            sys.stdout.write("%d/%d - %s - %s%s\n" % (self.seen, self.params.get("steps") or self.seen, _fmt_time(el),
                                                     _fmt_step(el / max(self.seen, 1)), (" - " + s) if s else ""))
            sys.stdout.flush()


class _Monitor(Callback):
    """Keras 3's MonitorCallback: mode "auto" resolves at the first epoch end from the
    monitored metric's direction ("loss" and errors go down, accuracies/AUC go up) and raises
    when it cannot tell; improvement is `current -/+ min_delta` beyond the reference."""

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn("%s mode '%s' is unknown, fallback to auto mode." % (type(self).__name__, mode),
                          stacklevel=3)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self):
        if self.mode == "min":
            self.monitor_op = np.less
        elif self.mode == "max":
            self.monitor_op = np.greater
        else:
            name = self.monitor[4:] if self.monitor.startswith("val_") else self.monitor
            if name == "loss":
                self.monitor_op = np.less
            for m in getattr(self.model, "metrics", None) or []:
                if m.name == name and getattr(m, "_direction", None) is not None:
                    self.monitor_op = np.greater if m._direction == "up" else np.less
            if self.monitor_op is None:
                raise ValueError("%s callback received monitor=%s, but Keras isn't able to automatically determine "
                                 "whether that metric should be maximized or minimized. Pass `mode='max'` in order "
                                 "to monitor based on the highest metric value, or pass `mode='min'` in order to use "
                                 "the lowest value." % (type(self).__name__, self.monitor))
        if self.monitor_op is np.less:
            self.min_delta *= -1

    def _is_improvement(self, current, reference):
        if reference is None:
            return True
        return bool(self.monitor_op(current - self.min_delta, reference))


class ModelCheckpoint(_Monitor):
    """Saves the model (or weights) each epoch or every `save_freq` batches, atomically
    (saving.py writes a temporary file, fsyncs, renames). `filepath` may hold format
    fields ({epoch:02d}, {batch}, {val_loss:.2f}); it must end in .keras or .h5, or in
    .weights.h5 with save_weights_only=True (Keras 3's rules)."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__(monitor, mode, initial_value_threshold)
        self.filepath = os.fspath(filepath)
        self.verbose, self.save_best_only, self.save_weights_only = verbose, save_best_only, save_weights_only
        self.save_freq = save_freq
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = None
        self._current_epoch = 0
        if save_freq != "epoch" and not isinstance(save_freq, int):
            raise ValueError("Unrecognized save_freq: %s. Expected save_freq are 'epoch' or integer values"
                             % (save_freq,))
        if save_weights_only:
            if not self.filepath.endswith(".weights.h5"):
                raise ValueError("When using `save_weights_only=True` in `ModelCheckpoint`, the filepath provided "
                                 "must end in `.weights.h5` (Keras weights format). Received: filepath=%s"
                                 % self.filepath)
        elif not self.filepath.endswith((".keras", ".h5")):
            raise ValueError("The filepath provided must end in `.keras` (Keras model format). Received: "
                             "filepath=%s" % self.filepath)

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(self._current_epoch, batch, logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs)

    def _should_save_on_batch(self, batch):
        if self.save_freq == "epoch":
            return False
        if self._last_batch_seen is None or batch <= self._last_batch_seen:
            add = batch + 1
        else:
            add = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += add
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _should_save(self, epoch, logs, path):
        if not self.save_best_only:
            if self.verbose > 0:
                print("\nEpoch %d: saving model to %s" % (epoch + 1, path))
            return True
        cur = logs.get(self.monitor)
        if cur is None:
            warnings.warn("Can save best model only with %s available." % self.monitor, stacklevel=3)
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        best_str = "None" if self.best is None else "%.5f" % self.best
        if self._is_improvement(cur, self.best):
            if self.verbose > 0:
                print("\nEpoch %d: %s improved from %s to %.5f, saving model to %s"
                      % (epoch + 1, self.monitor, best_str, cur, path))
            self.best = cur
            return True
        if self.verbose > 0:
            print("\nEpoch %d: %s did not improve from %s" % (epoch + 1, self.monitor, best_str))
        return False

    def _save_model(self, epoch, batch, logs):
        logs = logs or {}
        from .distributed_hook import is_chief
        try:
            if batch is None or "batch" in logs:
                path = self.filepath.format(epoch=epoch + 1, **logs)
            else:
                path = self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as e:
            raise KeyError('Failed to format this callback filepath: "%s". Reason: %s' % (self.filepath, e))
        if not self._should_save(epoch, logs, path) or not is_chief():
            return
        d = os.path.dirname(path)
        if d and not os.path.exists(d):
            os.makedirs(d, exist_ok=True)
        if os.path.isdir(path):
            raise IOError("Please specify a non-directory filepath for ModelCheckpoint. Filepath used is an "
                          "existing directory: %s" % path)
        if self.save_weights_only:
            self.model.save_weights(path, overwrite=True)
        else:
            self.model.save(path, overwrite=True)


class EarlyStopping(_Monitor):
    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience, self.verbose, self.baseline = patience, verbose, baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights = None

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        cur = self.get_monitor_value(logs)
        if cur is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(cur, self.best):
            self.best = cur
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(cur, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def get_monitor_value(self, logs):
        logs = logs or {}
        v = logs.get(self.monitor)
        if v is None:
            warnings.warn("Early stopping conditioned on metric `%s` which is not available. Available metrics "
                          "are: %s" % (self.monitor, ",".join(logs)), stacklevel=3)
        return v

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print("Epoch %d: early stopping" % (self.stopped_epoch + 1))
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print("Restoring model weights from the end of the best epoch: %d." % (self.best_epoch + 1))
            self.model.set_weights(self.best_weights)


class ReduceLROnPlateau(_Monitor):
    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0, **kwargs):
        super().__init__(monitor, mode, min_delta=min_delta)
        if factor >= 1.0:
            raise ValueError("ReduceLROnPlateau does not support a factor >= 1.0. Received factor=%r" % (factor,))
        self.factor, self.patience, self.verbose = factor, patience, verbose
        self.cooldown, self.min_lr = cooldown, min_lr
        self.cooldown_counter = 0
        self.wait = 0

    def _reset(self):
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def in_cooldown(self):
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs if logs is not None else {}
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        cur = logs.get(self.monitor)
        if cur is None:
            warnings.warn("Learning rate reduction is conditioned on metric `%s` which is not available. Available "
                          "metrics are: %s." % (self.monitor, ",".join(logs)), stacklevel=3)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(cur, self.best):
            self.best = cur
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old = float(self.model.optimizer.learning_rate)
                if old > np.float32(self.min_lr):
                    new = max(old * self.factor, self.min_lr)
                    self.model.optimizer.learning_rate = new
                    if self.verbose > 0:
                        print("\nEpoch %d: ReduceLROnPlateau reducing learning rate to %s." % (epoch + 1, new))
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class LearningRateScheduler(Callback):
    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.model.optimizer
        if not hasattr(opt, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        try:  # schedule(epoch, lr), else the old schedule(epoch)
            new = self.schedule(epoch, float(opt.learning_rate))
        except TypeError:
            new = self.schedule(epoch)
        if not isinstance(new, (float, np.float32, np.float64)):
            raise ValueError("The output of the `schedule` function should be a float. Got: %r" % (new,))
        opt.learning_rate = float(new)
        if self.verbose > 0:
            print("\nEpoch %d: LearningRateScheduler setting learning rate to %s." % (epoch + 1, new))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class CSVLogger(Callback):
    """One row per epoch: "epoch" then the sorted log keys (and val_<key> columns, "NA",
    when the first epoch has no validation, as Keras writes them)."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self.keys = None
        self.writer = None
        self.append_header = True
        self.file = None

    def on_train_begin(self, logs=None):
        from .distributed_hook import is_chief
        self._on = is_chief()
        if not self._on:
            return
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename) as f:
                    self.append_header = not bool(len(f.readline()))
            mode = "a"
        else:
            mode = "w"
        if self.file is not None and not self.file.closed:
            self.file.close()
        self.file = open(self.filename, mode, newline="")
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        if not self._on:
            return
        logs = logs or {}

        def handle(v):
            if isinstance(v, str):
                return v
            if isinstance(v, (list, tuple, np.ndarray)) and np.ndim(v) > 0:
                return '"[%s]"' % ", ".join(map(str, v))
            return v
        if self.keys is None:
            self.keys = sorted(logs)
            if not any(k.startswith("val_") for k in self.keys) and self.keys:
                self.keys.extend(["val_" + k for k in self.keys])
        if self.writer is None:
            self.writer = csv.DictWriter(self.file, fieldnames=["epoch"] + self.keys, delimiter=self.sep,
                                         lineterminator="\r\n")
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update({k: handle(logs.get(k, "NA")) for k in self.keys})
        self.writer.writerow(row)
        self.file.flush()

    def on_train_end(self, logs=None):
        if self._on and self.file is not None and not self.file.closed:
            self.file.close()
        self.writer = None


class LambdaCallback(Callback):
    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        for k, v in dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_train_begin=on_train_begin,
                         on_train_end=on_train_end, on_train_batch_begin=on_train_batch_begin,
                         on_train_batch_end=on_train_batch_end, **kwargs).items():
            if v is not None:
                setattr(self, k, v)


class TerminateOnNaN(Callback):
    """Stops training (or raises RuntimeError with raise_error=True) at a NaN/Inf batch loss."""

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and (np.isnan(loss) or np.isinf(loss)):
            if self.raise_error:
                raise RuntimeError("NaN or Inf loss encountered at batch %d. Loss value: %s. Terminating training "
                                   "immediately." % (batch, loss))
            print("Batch %d: Invalid loss, terminating training" % batch)
            self.model.stop_training = True


def _unsupported(cls_name, hint):
    def __init__(self, *args, **kwargs):
        raise NotImplementedError("keras.callbacks.%s is not supported by pyconvnet; %s" % (cls_name, hint))
    return type(cls_name, (Callback,), {"__init__": __init__,
                                        "__doc__": "Not supported: constructing it raises NotImplementedError."})


# Present so that code naming them fails with a clear message rather than an AttributeError (a silent
# no-op would drop the user's logs/backups without telling them).
TensorBoard = _unsupported("TensorBoard", "log with CSVLogger or read History.history, and plot with "
                           "pyconvnet.plot")
BackupAndRestore = _unsupported("BackupAndRestore", "use ModelCheckpoint, or pyconvnet.distributed's "
                                "checkpoint/restore_checkpoint for a resumable run")
RemoteMonitor = _unsupported("RemoteMonitor", "use a LambdaCallback that posts the logs")
SwapEMAWeights = _unsupported("SwapEMAWeights", "optimizers here have no use_ema")
