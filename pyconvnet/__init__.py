"""pyconvnet: hand-written CPU and CUDA kernels for convolutional and recurrent
networks, with the API of Keras 3 (``import pyconvnet as keras``).

The kernels live in the extension module ``pyconvnet._C``; this package is the
thin layer that speaks Keras, tf.nn and Horovod.
"""
try:
    from . import _C
except ImportError as _e:  # the source tree imported instead of the installed package
    raise ImportError(
        "pyconvnet's compiled extension (_C) is not next to %s: this looks like the source tree "
        "without an in-place build. Install with `pip install .` and run from another directory "
        "(or `pytest tests`, which does not put the current directory on sys.path), or build in "
        "place with scripts/dev_build.sh." % __file__) from _e
from ._C import Tensor, from_numpy, tensor, empty, zeros, from_dlpack, synchronize
from ._C import set_matmul_precision, get_matmul_precision
from ._runtime import info, devices, set_num_threads, get_num_threads, simd_level
from .ops import matmul
from . import nn
from . import ops
from . import autograd
from . import backend, random, activations, initializers, regularizers, losses, metrics, optimizers, callbacks, utils
from . import saving, config, constraints  # keras.saving, keras.config, keras.constraints
from . import layers
from . import models
from .layers import Input, Layer
from .models import Model, Sequential
from .autograd import GradientTape, Variable
from . import datasets, filters, plot, applications

__version__ = _C.build_info()["version"]

__all__ = [
    "Tensor", "tensor", "from_dlpack", "synchronize", "set_matmul_precision", "get_matmul_precision", "datasets", "filters", "plot", "applications", "from_numpy", "empty", "zeros", "matmul", "nn",
    "info", "devices", "set_num_threads", "get_num_threads", "simd_level",
    "ops", "autograd", "backend", "random", "saving", "config", "constraints", "activations", "initializers", "regularizers", "losses", "metrics", "optimizers", "callbacks", "utils",
    "layers", "models", "Input", "Layer", "Model", "Sequential", "GradientTape", "Variable",
]
