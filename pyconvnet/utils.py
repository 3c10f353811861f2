"""Seeds, the global RNG used by initializers and dropout, Keras naming helpers."""
import random
import re

import numpy as np

__all__ = ["set_random_seed", "clear_session", "to_categorical", "get_rng", "next_seed", "PyDataset", "Sequence"]

_STATE = {"rng": np.random.default_rng(), "names": {}}


def set_random_seed(seed):
    """Seed Python's `random`, NumPy's global RNG and pyconvnet's own generator
    (weight initializers, Dropout masks, fit() shuffling), so a run repeats."""
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    _STATE["rng"] = np.random.default_rng(seed)
    _STATE["seed_generator"] = None  # keras.random's global SeedGenerator is rebuilt from `random`
    _STATE["seed"] = seed


def get_rng():
    return _STATE["rng"]


def next_seed():
    """A fresh 31-bit seed from the global generator (Dropout's counter-based RNG)."""
    return int(_STATE["rng"].integers(0, 2 ** 31 - 1))


def clear_session():
    """Reset automatic layer names (dense, dense_1, ...), like keras.backend.clear_session."""
    _STATE["names"].clear()


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


def to_categorical(y, num_classes=None):
    """One-hot encode integer labels (NumPy, for data preparation)."""
    y = np.asarray(y, dtype=np.int64).reshape(-1)
    n = int(num_classes) if num_classes is not None else int(y.max()) + 1
    if y.size and (y.min() < 0 or y.max() >= n):
        raise ValueError("to_categorical: labels must be in [0, %d), got range [%d, %d]" % (n, y.min(), y.max()))
    out = np.zeros((y.size, n), dtype=np.float32)
    out[np.arange(y.size), y] = 1.0
    return out


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
