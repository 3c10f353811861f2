"""Datasets with the ``keras.datasets`` API: ``mnist`` and ``fashion_mnist``.

``load_data()`` returns ``((x_train, y_train), (x_test, y_test))`` as uint8
arrays, read from the standard IDX files (downloaded once into
``~/.pyconvnet/datasets/<name>/``, or found in ``path`` / ``$PYCONVNET_DATA``).
``mnist.load_subset()`` loads a small real MNIST subset shipped with the
package. ``PYCONVNET_OFFLINE=1`` disables every download.
"""
from . import fashion_mnist, mnist
from ._idx import DatasetFileError, read_idx

__all__ = ["mnist", "fashion_mnist", "DatasetFileError", "read_idx"]
