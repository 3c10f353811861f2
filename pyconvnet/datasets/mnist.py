"""MNIST handwritten digits, as ``keras.datasets.mnist``.

    (x_train, y_train), (x_test, y_test) = pyconvnet.datasets.mnist.load_data()

x: uint8 (N, 28, 28), values 0..255; y: uint8 (N,), digits 0..9. N = 60000
train, 10000 test. Files and downloads: see ``pyconvnet.datasets._idx``
(``path`` -> ``$PYCONVNET_DATA/mnist/`` -> ``~/.pyconvnet/datasets/mnist/``).

Downloads use the original IDX .gz files (the same format whether the files
came from a mirror or were placed by hand), not Keras's ``mnist.npz``.

``load_subset()`` returns a small real subset shipped inside the package
(5000 train + 1000 test images, 500/100 per digit), for offline use and tests.

MNIST: Yann LeCun, Corinna Cortes and Christopher J.C. Burges,
http://yann.lecun.com/exdb/mnist/ , licensed CC BY-SA 3.0.
"""
import os

from . import _idx

__all__ = ["load_data", "load_subset", "SPEC"]

SPEC = _idx.DatasetSpec(
    "mnist",
    title="MNIST",
    md5={  # MD5 of the decompressed IDX files (the .gz on the mirrors decompress to these)
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
    mirrors=[
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ],
    counts={"train": 60000, "t10k": 10000},
)

SUBSET_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "mnist_subset")

SUBSET_SPEC = _idx.DatasetSpec(
    "mnist_subset",
    title="MNIST subset (bundled)",
    md5={},  # filled below from the file written by scripts/make_mnist_subset.py
    mirrors=["(bundled with pyconvnet; rebuild with scripts/make_mnist_subset.py)"],
    counts={"train": 5000, "t10k": 1000},
)


def _subset_md5():
    p = os.path.join(SUBSET_DIR, "MD5SUMS")
    out = {}
    if os.path.isfile(p):
        with open(p) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2:
                    out[parts[1]] = parts[0]
    return out


SUBSET_SPEC.md5 = _subset_md5()


def load_data(path=None, *, download=None, verify=True, progress=True):
    """Load MNIST: ((x_train, y_train), (x_test, y_test)), as keras.datasets.mnist.

    Args:
      path: a directory holding train-images-idx3-ubyte[.gz],
        train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz],
        t10k-labels-idx1-ubyte[.gz]. Default: ``$PYCONVNET_DATA/mnist/`` when
        set and complete, else ``~/.pyconvnet/datasets/mnist/``.
        A path ending in ``.npz`` is read as a Keras ``mnist.npz`` (arrays
        x_train, y_train, x_test, y_test); a bare name such as Keras's default
        ``"mnist.npz"`` is looked up in ``~/.keras/datasets/`` and, when absent
        there, ignored (the default search above applies), so Keras code runs
        unchanged.
      download: None (default) downloads missing files unless
        ``PYCONVNET_OFFLINE=1``; False never downloads; True always may.
      verify: check each file's decompressed MD5 and the split sizes.
      progress: draw a progress bar on stderr while downloading.

    Returns:
      x_train uint8 (60000, 28, 28), y_train uint8 (60000,),
      x_test uint8 (10000, 28, 28), y_test uint8 (10000,).

    Raises:
      FileNotFoundError: files missing and not downloadable (the message lists
        the files and directories).
      DatasetFileError (a ValueError): a file is corrupt; the message names it.
    """
    return _idx.load(SPEC, path, download=download, verify=verify, progress=progress)


def load_subset():
    """The MNIST subset shipped with pyconvnet (no network, no files needed).

    5000 training and 1000 test images: the first 500 (train) / 100 (test)
    images of each digit, in their original order, from the official files
    (scripts/make_mnist_subset.py). Same layout as load_data():
    x uint8 (N, 28, 28), y uint8 (N,).
    """
    return _idx.load(SUBSET_SPEC, SUBSET_DIR, download=False, verify=True)
