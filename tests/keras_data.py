"""Test data for the Keras-layer tests: real MNIST from ../shared/data/mnist
(IDX, gzip), small samples of it, and a sum-of-sines series."""
import gzip
import os

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
# the repo's sibling shared/ (main checkout); worktrees one level deeper; or $PCN_MNIST_DIR
_CANDIDATES = [os.environ.get("PCN_MNIST_DIR", ""),
               os.path.join(_HERE, "..", "..", "shared", "data", "mnist"),
               os.path.join(_HERE, "..", "..", "..", "shared", "data", "mnist")]
MNIST_DIR = next((d for d in _CANDIDATES if d and os.path.exists(os.path.join(d, "train-images-idx3-ubyte.gz"))),
                 _CANDIDATES[1])


def _idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    nd = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def have_mnist():
    return os.path.exists(os.path.join(MNIST_DIR, "train-images-idx3-ubyte.gz"))


_CACHE = {}


def mnist():
    """(x_train, y_train), (x_test, y_test): float32 in [0,1] of shape (N,28,28,1), int labels."""
    if "m" not in _CACHE:
        xtr = _idx(os.path.join(MNIST_DIR, "train-images-idx3-ubyte.gz"))
        ytr = _idx(os.path.join(MNIST_DIR, "train-labels-idx1-ubyte.gz"))
        xte = _idx(os.path.join(MNIST_DIR, "t10k-images-idx3-ubyte.gz"))
        yte = _idx(os.path.join(MNIST_DIR, "t10k-labels-idx1-ubyte.gz"))
        f = lambda x: (x.astype(np.float32) / 255.0)[..., None]
        _CACHE["m"] = (f(xtr), ytr.astype(np.int64)), (f(xte), yte.astype(np.int64))
    return _CACHE["m"]


def mnist_sample(n_train, n_test, seed=0):
    (xtr, ytr), (xte, yte) = mnist()
    r = np.random.default_rng(seed)
    i = r.choice(len(xtr), n_train, replace=False)
    j = r.choice(len(xte), n_test, replace=False)
    return (xtr[i], ytr[i]), (xte[j], yte[j])


def generate_time_series(batch_size, n_steps, seed=42):
    """Géron's noisy sum of two sines: (batch, n_steps, 1) float32."""
    r = np.random.default_rng(seed)
    freq1, freq2, offsets1, offsets2 = r.random((4, batch_size, 1))
    time = np.linspace(0, 1, n_steps)
    series = 0.5 * np.sin((time - offsets1) * (freq1 * 10 + 10))
    series += 0.2 * np.sin((time - offsets2) * (freq2 * 20 + 20))
    series += 0.1 * (r.random((batch_size, n_steps)) - 0.5)
    return series[..., np.newaxis].astype(np.float32)
