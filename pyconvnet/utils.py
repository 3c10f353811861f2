"""Seeds, the global RNG used by initializers and dropout, Keras naming helpers."""
import random
import re

import numpy as np

__all__ = ["set_random_seed", "clear_session", "to_categorical", "get_rng", "next_seed"]

_STATE = {"rng": np.random.default_rng(), "names": {}}


def set_random_seed(seed):
    """Seed Python's `random`, NumPy's global RNG and pyconvnet's own generator
    (weight initializers, Dropout masks, fit() shuffling), so a run repeats."""
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    _STATE["rng"] = np.random.default_rng(seed)


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
