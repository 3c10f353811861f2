"""Fashion-MNIST (Zalando article images), as ``keras.datasets.fashion_mnist``.

    (x_train, y_train), (x_test, y_test) = pyconvnet.datasets.fashion_mnist.load_data()

x: uint8 (N, 28, 28); y: uint8 (N,), classes 0..9 (CLASS_NAMES). N = 60000
train, 10000 test. Files and downloads: see ``pyconvnet.datasets._idx``
(``path`` -> ``$PYCONVNET_DATA/fashion_mnist/`` ->
``~/.pyconvnet/datasets/fashion_mnist/``).

Fashion-MNIST: Han Xiao, Kashif Rasul, Roland Vollgraf (Zalando Research),
https://github.com/zalandoresearch/fashion-mnist , MIT license.
"""
from . import _idx

__all__ = ["load_data", "CLASS_NAMES", "SPEC"]

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

SPEC = _idx.DatasetSpec(
    "fashion_mnist",
    title="Fashion-MNIST",
    md5={  # MD5 of the decompressed IDX files
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
    mirrors=[
        "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ],
    counts={"train": 60000, "t10k": 10000},
)


def load_data(path=None, *, download=None, verify=True, progress=True):
    """Load Fashion-MNIST: ((x_train, y_train), (x_test, y_test)).

    Same arguments, shapes, dtypes and errors as pyconvnet.datasets.mnist.load_data:
    x uint8 (60000|10000, 28, 28), y uint8 (N,).
    """
    return _idx.load(SPEC, path, download=download, verify=verify, progress=progress)
