"""keras.callbacks: History, ModelCheckpoint (atomic), EarlyStopping,
ReduceLROnPlateau, LearningRateScheduler, CSVLogger, LambdaCallback,
TerminateOnNaN, and the progress bar (ProgbarLogger)."""
import csv
import math
import os
import sys
import time
import warnings

import numpy as np

__all__ = ["Callback", "CallbackList", "History", "ModelCheckpoint", "EarlyStopping", "ReduceLROnPlateau",
           "LearningRateScheduler", "CSVLogger", "LambdaCallback", "TerminateOnNaN", "ProgbarLogger", "Progbar"]


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
            parts.append("%s: %s" % (k, ("%.4f" % v) if abs(v) >= 1e-3 or v == 0 else ("%.4e" % v)))
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

    def __init__(self, verbose=1):
        super().__init__()
        self.verbose = verbose
        self.bar = None

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
    def __init__(self, monitor, mode, min_delta=0.0):
        super().__init__()
        self.monitor = monitor
        if mode not in ("auto", "min", "max"):
            warnings.warn("%s mode %s is unknown, fallback to auto mode." % (type(self).__name__, mode))
            mode = "auto"
        if mode == "auto":
            mode = "max" if ("acc" in monitor or monitor.startswith("fmeasure") or "auc" in monitor) else "min"
        self.mode = mode
        self.min_delta = abs(min_delta)

    def _better(self, current, ref):
        if ref is None:
            return True
        if self.mode == "min":
            return current < ref - self.min_delta
        return current > ref + self.min_delta

    def _get(self, logs):
        v = (logs or {}).get(self.monitor)
        if v is None:
            warnings.warn("%s: metric '%s' is not available; available metrics are: %s"
                          % (type(self).__name__, self.monitor, ", ".join(sorted(logs or {}))))
        return v


class ModelCheckpoint(_Monitor):
    """Saves the model (or weights) after each epoch, atomically: a temporary
    file in the same directory, fsync, then os.replace. `filepath` may hold
    format fields ({epoch:02d}, {val_loss:.2f})."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__(monitor, mode)
        if save_freq != "epoch":
            raise NotImplementedError("ModelCheckpoint: only save_freq='epoch' is supported")
        self.filepath = os.fspath(filepath)
        self.verbose, self.save_best_only, self.save_weights_only = verbose, save_best_only, save_weights_only
        self.best = initial_value_threshold

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        from .distributed_hook import is_chief
        if not is_chief():
            return
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            cur = self._get(logs)
            if cur is None:
                return
            if not self._better(cur, self.best):
                if self.verbose:
                    print("\nEpoch %d: %s did not improve from %.5f" % (epoch + 1, self.monitor, self.best))
                return
            if self.verbose:
                print("\nEpoch %d: %s improved from %s to %.5f, saving model to %s"
                      % (epoch + 1, self.monitor, "inf" if self.best is None else "%.5f" % self.best, cur, path))
            self.best = cur
        elif self.verbose:
            print("\nEpoch %d: saving model to %s" % (epoch + 1, path))
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


class EarlyStopping(_Monitor):
    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta)
        self.patience, self.verbose, self.baseline = patience, verbose, baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        cur = self._get(logs)
        if cur is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._better(cur, self.best):
            self.best = cur
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._better(cur, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose:
            print("Epoch %d: early stopping" % (self.stopped_epoch + 1))
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print("Restoring model weights from the end of the best epoch: %d." % (self.best_epoch + 1))
            self.model.set_weights(self.best_weights)


class ReduceLROnPlateau(_Monitor):
    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0, **kwargs):
        super().__init__(monitor, mode, min_delta)
        if factor >= 1.0:
            raise ValueError("ReduceLROnPlateau does not support a factor >= 1.0. Got %r" % (factor,))
        self.factor, self.patience, self.verbose = float(factor), patience, verbose
        self.cooldown, self.min_lr = cooldown, float(min_lr)

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.cooldown_counter = 0
        self.best = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        cur = self._get(logs)
        if cur is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._better(cur, self.best):
            self.best = cur
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = float(self.model.optimizer.learning_rate)
                if old > self.min_lr:
                    new = max(old * self.factor, self.min_lr)
                    self.model.optimizer.learning_rate = new
                    if self.verbose:
                        print("\nEpoch %d: ReduceLROnPlateau reducing learning rate to %s." % (epoch + 1, new))
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class LearningRateScheduler(Callback):
    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        lr = float(self.model.optimizer.learning_rate)
        try:
            new = self.schedule(epoch, lr)
        except TypeError:
            new = self.schedule(epoch)
        if not isinstance(new, (float, int, np.floating, np.integer)):
            raise ValueError('The output of the "schedule" function should be a float. Got: %r' % (new,))
        self.model.optimizer.learning_rate = float(new)
        if self.verbose:
            print("\nEpoch %d: LearningRateScheduler setting learning rate to %s." % (epoch + 1, new))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class CSVLogger(Callback):
    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self.keys = None

    def on_train_begin(self, logs=None):
        from .distributed_hook import is_chief
        self._on = is_chief()
        if not self._on:
            return
        exists = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self.file = open(self.filename, "a" if self.append else "w", newline="")
        self.writer = None
        self._header = not exists

    def on_epoch_end(self, epoch, logs=None):
        if not self._on:
            return
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
        if self.writer is None:
            self.writer = csv.DictWriter(self.file, fieldnames=["epoch"] + self.keys, delimiter=self.sep)
            if self._header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update({k: logs.get(k, "NA") for k in self.keys})
        self.writer.writerow(row)
        self.file.flush()

    def on_train_end(self, logs=None):
        if self._on:
            self.file.close()


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
    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and (math.isnan(loss) or math.isinf(loss)):
            print("Batch %d: Invalid loss, terminating training" % batch)
            self.model.stop_training = True
