"""keras.utils: seeds and the global RNG used by initializers and dropout, Keras
naming helpers, data preparation (to_categorical, pad_sequences, normalize,
timeseries_dataset_from_array), PyDataset, Progbar, and the keras.saving registry
names Keras also exports here."""
import random
import re
import sys
import time

import numpy as np

from .saving_api import (CustomObjectScope, custom_object_scope, deserialize_keras_object, get_custom_objects,
                         get_registered_name, get_registered_object, register_keras_serializable,
                         serialize_keras_object)

__all__ = ["set_random_seed", "clear_session", "to_categorical", "get_rng", "next_seed", "PyDataset", "Sequence",
           "pad_sequences", "normalize", "timeseries_dataset_from_array", "Progbar", "plot_model", "model_to_dot",
           "pack_x_y_sample_weight", "unpack_x_y_sample_weight", "get_source_inputs", "is_keras_tensor", "standardize_dtype",
           "get_random_seed", "CustomObjectScope", "custom_object_scope", "deserialize_keras_object",
           "get_custom_objects", "get_registered_name", "get_registered_object", "register_keras_serializable",
           "serialize_keras_object"]

_STATE = {"rng": np.random.default_rng(), "names": {}}


def set_random_seed(seed):
    """Seed Python's `random`, NumPy's global RNG and pyconvnet's own generator
    (weight initializers, Dropout masks, fit() shuffling, keras.random with
    seed=None), so a run repeats. `seed` must be an int (ValueError otherwise, as Keras)."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError("Expected `seed` argument to be an integer. Received: seed=%r (of type %s)"
                         % (seed, type(seed)))
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    _STATE["rng"] = np.random.default_rng(seed)
    _STATE["seed_generator"] = None  # keras.random's global SeedGenerator is rebuilt from `random`
    _STATE["seed"] = seed


def get_random_seed():
    """The int last given to set_random_seed, or None."""
    return _STATE.get("seed")


def get_rng():
    return _STATE["rng"]


def next_seed():
    """A fresh 31-bit seed from the global generator (Dropout's counter-based RNG)."""
    return int(_STATE["rng"].integers(0, 2 ** 31 - 1))


def clear_session():
    """Reset automatic layer names (dense, dense_1, ...), like keras.backend.clear_session;
    as in Keras it also drops keras.random's global SeedGenerator and the recorded
    get_random_seed() (the generators seeded by set_random_seed keep their state)."""
    _STATE["names"].clear()
    _STATE["seed_generator"] = None
    _STATE["seed"] = None


def to_snake_case(name):
    """Keras 3's rule: Conv2D -> conv2d, SimpleRNN -> simple_rnn."""
    s = re.sub(r"\W+", "", name)
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", s)
    s = re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()
    return s


def unique_name(base):
    n = _STATE["names"].get(base, 0)
    _STATE["names"][base] = n + 1
    return base if n == 0 else "%s_%d" % (base, n)


def to_categorical(x, num_classes=None):
    """One-hot encode integer labels: shape x.shape + (num_classes,) (a trailing axis
    of size 1 is dropped first), like Keras; float32 (Keras's NumPy path gives float64:
    the values are identical). Out-of-range labels raise ValueError."""
    x = np.asarray(x, dtype=np.int64)
    shape = x.shape
    if shape and shape[-1] == 1 and len(shape) > 1:
        shape = shape[:-1]
    y = x.reshape(-1)
    n = int(num_classes) if num_classes else (int(y.max()) + 1 if y.size else 0)
    if y.size and (y.min() < 0 or y.max() >= n):
        raise ValueError("to_categorical: labels must be in [0, %d), got range [%d, %d]" % (n, y.min(), y.max()))
    out = np.zeros((y.size, n), dtype=np.float32)
    out[np.arange(y.size), y] = 1.0
    return out.reshape(tuple(shape) + (n,))


def normalize(x, axis=-1, order=2):
    """x divided by its `order`-norm along `axis` (zero norms left as 1), as
    keras.utils.normalize; NumPy in -> NumPy out, tensors -> keras.ops.normalize."""
    if isinstance(x, np.ndarray):
        norm = np.atleast_1d(np.linalg.norm(x, order, axis))
        norm[norm == 0] = 1
        axis = axis or -1
        return x / np.expand_dims(norm, axis)
    from .keras_ops import normalize as _ops_normalize
    return _ops_normalize(x, axis=axis, order=order)


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """List of variable-length sequences -> array (num_samples, maxlen, *sample_shape)
    of `dtype`, padded with `value` and truncated at the front ("pre") or back ("post")."""
    if not hasattr(sequences, "__len__"):
        raise ValueError("`sequences` must be iterable.")
    num_samples = len(sequences)
    lengths = []
    sample_shape = ()
    flag = True
    for x in sequences:
        try:
            lengths.append(len(x))
            if flag and len(x):
                sample_shape = np.asarray(x).shape[1:]
                flag = False
        except TypeError as e:
            raise ValueError("`sequences` must be a list of iterables. Found non-iterable: %s" % (x,)) from e
    if maxlen is None:
        maxlen = np.max(lengths) if lengths else 0
    is_dtype_str = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not is_dtype_str:
        raise ValueError("`dtype` %s is not compatible with `value`'s type: %s\nYou should set `dtype=object` for "
                         "variable length strings." % (dtype, type(value)))
    x = np.full((num_samples, maxlen) + sample_shape, value, dtype=dtype)
    for idx, s in enumerate(sequences):
        if not len(s):
            continue
        if truncating == "pre":
            trunc = s[-maxlen:] if maxlen else s[:0]
        elif truncating == "post":
            trunc = s[:maxlen]
        else:
            raise ValueError('Truncating type "%s" not understood' % truncating)
        trunc = np.asarray(trunc, dtype=dtype)
        if trunc.shape[1:] != sample_shape:
            raise ValueError("Shape of sample %s of sequence at position %d is different from expected shape %s"
                             % (trunc.shape[1:], idx, sample_shape))
        if not len(trunc):
            continue
        if padding == "post":
            x[idx, :len(trunc)] = trunc
        elif padding == "pre":
            x[idx, -len(trunc):] = trunc
        else:
            raise ValueError('Padding type "%s" not understood' % padding)
    return x


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """(x,) / (x, y) / (x, y, sample_weight) as Keras packs a batch (x alone when not a tuple)."""
    if y is None:
        if not isinstance(x, (tuple, list)):
            return x
        return (x,)
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def unpack_x_y_sample_weight(data):
    """(x, y, sample_weight) from a batch, None for the missing parts."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return (data, None, None)
    if len(data) == 1:
        return (data[0], None, None)
    if len(data) == 2:
        return (data[0], data[1], None)
    if len(data) == 3:
        return (data[0], data[1], data[2])
    raise ValueError("Data is expected to be in format `x`, `(x,)`, `(x, y)`, or `(x, y, sample_weight)`, "
                     "found: %s" % (data,))


def is_keras_tensor(x):
    from .backend import is_keras_tensor as _f
    return _f(x)


def standardize_dtype(dtype):
    from .backend import standardize_dtype as _f
    return _f(dtype)


def get_source_inputs(tensor):
    """The keras.Input tensors that `tensor` (a KerasTensor) is computed from, in
    first-visit order, without duplicates (keras.utils.get_source_inputs)."""
    from .layers.base import KerasTensor
    if not isinstance(tensor, KerasTensor) or getattr(tensor, "_keras_history", None) is None:
        return tensor
    out, seen, stack = [], set(), [tensor]
    while stack:
        t = stack.pop(0)
        layer, ni, _ = t._keras_history
        node = layer._inbound_nodes[ni] if layer._inbound_nodes else None
        if node is None or not node.flat_inputs:  # an InputLayer's node
            if id(t) not in seen:
                seen.add(id(t))
                out.append(t)
            continue
        stack.extend(i for i in node.flat_inputs if isinstance(i, KerasTensor))
    return out


def model_to_dot(model, *args, **kwargs):
    try:
        import pydot  # noqa: F401
    except ImportError:
        raise ImportError("You must install pydot (`pip install pydot`) for `model_to_dot` to work.") from None
    raise NotImplementedError("keras.utils.model_to_dot: not implemented by pyconvnet; use model.summary()")


def plot_model(model, to_file="model.png", *args, **kwargs):
    """Keras draws the graph with pydot + graphviz; pyconvnet raises ImportError
    as Keras does without pydot (and NotImplementedError with it)."""
    try:
        import pydot  # noqa: F401
    except ImportError:
        raise ImportError("You must install pydot (`pip install pydot`) for `plot_model` to work.") from None
    raise NotImplementedError("keras.utils.plot_model: graph drawing is not implemented by pyconvnet; "
                              "use model.summary()")


class PyDataset:
    """keras.utils.PyDataset: batches by index, for data that does not fit one array or that
    changes every epoch (augmentation). Subclasses implement ``__len__`` (the number of
    batches; or the ``num_batches`` property, None for an endless dataset) and
    ``__getitem__(index)`` returning ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``;
    ``on_epoch_begin()`` / ``on_epoch_end()`` run around each epoch of fit.

    ``workers`` / ``use_multiprocessing`` / ``max_queue_size`` are accepted for Keras
    compatibility; batches are produced in the training thread, in order.
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    @property
    def workers(self):
        return getattr(self, "_workers", 1)

    @workers.setter
    def workers(self, value):
        self._workers = value

    @property
    def use_multiprocessing(self):
        return getattr(self, "_use_multiprocessing", False)

    @use_multiprocessing.setter
    def use_multiprocessing(self, value):
        self._use_multiprocessing = value

    @property
    def max_queue_size(self):
        return getattr(self, "_max_queue_size", 10)

    @max_queue_size.setter
    def max_queue_size(self, value):
        self._max_queue_size = value

    def __getitem__(self, index):
        raise NotImplementedError("%s must implement __getitem__(index)" % type(self).__name__)

    @property
    def num_batches(self):
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError("%s must implement __len__ or the num_batches property" % type(self).__name__)

    def __iter__(self):
        n = self.num_batches
        i = 0
        while n is None or i < n:
            yield self[i]
            i += 1

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass


Sequence = PyDataset  # the Keras 2 name


class TimeseriesDataset(PyDataset):
    """What keras.utils.timeseries_dataset_from_array returns here: a PyDataset of
    (inputs, targets) batches -- or inputs alone when targets is None -- equal to
    the batches of Keras's tf.data.Dataset (in order when shuffle=False). With
    shuffle=True the start positions are shuffled by np.random.RandomState(seed)
    as in Keras, and reshuffled each epoch (tf.data reshuffles each iteration)."""

    _pcn_tf_dataset_like = True  # Keras ignores fit(shuffle=) for a tf.data.Dataset

    def __init__(self, data, targets, starts, sequence_length, sampling_rate, batch_size, shuffle, rng):
        super().__init__()
        self.data, self.targets = data, targets
        self.starts = starts
        self.sequence_length, self.sampling_rate = int(sequence_length), int(sampling_rate)
        self.batch_size = None if batch_size is None else int(batch_size)
        self._shuffle, self._rng = shuffle, rng

    def __len__(self):
        if self.batch_size is None:
            return len(self.starts)
        return (len(self.starts) + self.batch_size - 1) // self.batch_size

    def _window(self, p):
        return self.data[p + np.arange(self.sequence_length) * self.sampling_rate]

    def __getitem__(self, index):
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("TimeseriesDataset: batch %d out of range [0, %d)" % (index, n))
        if self.batch_size is None:
            p = self.starts[index]
            x = self._window(p)
            return x if self.targets is None else (x, self.targets[p])
        ps = self.starts[index * self.batch_size:(index + 1) * self.batch_size]
        x = np.stack([self._window(p) for p in ps])
        if self.targets is None:
            return x
        return x, np.asarray(self.targets[ps])

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def take(self, count):
        """The first `count` batches as a TimeseriesDataset (tf.data.Dataset.take, for
        `for x, y in ds.take(1): ...`); count -1 keeps all."""
        count = len(self) if count is None or count < 0 else int(count)
        n = count if self.batch_size is None else count * self.batch_size
        return TimeseriesDataset(self.data, self.targets, self.starts[:n].copy(), self.sequence_length,
                                 self.sampling_rate, self.batch_size, False, None)

    def on_epoch_end(self):
        if self._shuffle:
            self._rng.shuffle(self.starts)


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1, sampling_rate=1, batch_size=128,
                                  shuffle=False, seed=None, start_index=None, end_index=None, format="tf"):
    """Sliding windows over `data` (time first): window i holds
    data[start_index + s_i + k * sampling_rate] for k < sequence_length with
    s_i = i * sequence_stride, and its target is targets[start_index + s_i].
    Returns a TimeseriesDataset (a PyDataset: len(), ds[i], iteration, model.fit)."""
    if start_index:
        if start_index < 0:
            raise ValueError("`start_index` must be 0 or greater. Received: start_index=%s" % start_index)
        if start_index >= len(data):
            raise ValueError("`start_index` must be lower than the length of the data. Received: start_index=%s, "
                             "for data of length %d" % (start_index, len(data)))
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError("`end_index` must be higher than `start_index`. Received: start_index=%s, and "
                             "end_index=%s " % (start_index, end_index))
        if end_index >= len(data):
            raise ValueError("`end_index` must be lower than the length of the data. Received: end_index=%s, for "
                             "data of length %d" % (end_index, len(data)))
        if end_index <= 0:
            raise ValueError("`end_index` must be higher than 0. Received: end_index=%s" % end_index)
    if sampling_rate <= 0:
        raise ValueError("`sampling_rate` must be higher than 0. Received: sampling_rate=%s" % sampling_rate)
    if sampling_rate >= len(data):
        raise ValueError("`sampling_rate` must be lower than the length of the data. Received: sampling_rate=%s, "
                         "for data of length %d" % (sampling_rate, len(data)))
    if sequence_stride <= 0:
        raise ValueError("`sequence_stride` must be higher than 0. Received: sequence_stride=%s" % sequence_stride)
    if sequence_stride >= len(data):
        raise ValueError("`sequence_stride` must be lower than the length of the data. Received: sequence_stride=%s, "
                         "for data of length %d" % (sequence_stride, len(data)))
    if format not in ("tf", "grain"):
        raise ValueError('`format` should be either "tf" or "grain". Received: format=%s' % (format,))
    start_index = start_index or 0
    end_index = len(data) if end_index is None else end_index
    data = np.asarray(data)[start_index:end_index]
    tgt = None if targets is None else np.asarray(targets)[start_index:end_index]
    num_seqs = end_index - start_index - (sequence_length - 1) * sampling_rate
    if targets is not None:
        num_seqs = min(num_seqs, len(targets))
    starts = np.arange(0, max(num_seqs, 0), sequence_stride, dtype=np.int64)
    rng = None
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        rng = np.random.RandomState(seed)
        rng.shuffle(starts)
    return TimeseriesDataset(data, tgt, starts, sequence_length, sampling_rate, batch_size, shuffle, rng)


class Progbar:
    """A text progress bar: Progbar(target).update(current, values=[("loss", v)]);
    verbose=1 redraws one line, verbose=2 prints at the end; values are averaged
    over the steps unless named in stateful_metrics."""

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None, unit_name="step"):
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics) if stateful_metrics else set()
        self._values = {}
        self._values_order = []
        self._start = time.time()
        self._last_update = 0.0
        self._seen_so_far = 0
        self._prev_len = 0

    def update(self, current, values=None, finalize=None):
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for k, v in values or []:
            if k not in self._values_order:
                self._values_order.append(k)
            v = float(np.mean(np.asarray(v)))
            if k in self.stateful_metrics:
                self._values[k] = [v, 1]
            else:
                step = max(current - self._seen_so_far, 1)
                if k not in self._values:
                    self._values[k] = [v * step, step]
                else:
                    self._values[k][0] += v * step
                    self._values[k][1] += step
        self._seen_so_far = current
        now = time.time()
        if self.verbose == 0:
            return
        if self.verbose == 1 and not finalize and now - self._last_update < self.interval:
            return
        if self.verbose == 2 and not finalize:
            return
        self._last_update = now
        if self.target is not None:
            frac = min(current / self.target, 1.0) if self.target else 1.0
            done = int(self.width * frac)
            bar = "%d/%d [%s%s%s]" % (current, self.target, "=" * max(done - 1, 0), ">" if done < self.width and
                                      done else ("=" if done else ""), "." * (self.width - done))
        else:
            bar = "%d" % current
        info = " - %.0fs" % (now - self._start)
        for k in self._values_order:
            tot, cnt = self._values[k]
            info += " - %s: %.4f" % (k, tot / max(cnt, 1))
        line = bar + info
        if self.verbose == 1:
            sys.stdout.write("\r" + line + " " * max(self._prev_len - len(line), 0) + ("\n" if finalize else ""))
        else:
            sys.stdout.write(line + "\n")
        self._prev_len = len(line)
        sys.stdout.flush()

    def add(self, n, values=None):
        self.update(self._seen_so_far + n, values)
