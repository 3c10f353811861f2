"""Array conversion shared by the functional API, and matmul (tf.matmul)."""
import builtins as _bi

import numpy as np

from . import _C

_SUPPORTED = {np.dtype(np.float32), np.dtype(np.int32), np.dtype(np.int64), np.dtype(np.uint8)}


def as_tensor(x, op, arg="input", dtype=np.float32):
    """Return (Tensor, was_numpy) for x (a Tensor, NumPy array, or nested list).

    Numeric inputs of another dtype are converted once to `dtype`; non-contiguous
    arrays are copied once. Non-numeric inputs raise TypeError naming `op`.
    """
    if isinstance(x, _C.Tensor):
        if dtype is not None and x.dtype != np.dtype(dtype).name:
            if x.device != "cpu":
                raise TypeError("%s: %s must be %s, got %s on %s" % (op, arg, np.dtype(dtype).name, x.dtype, x.device))
            return _C.from_numpy(np.ascontiguousarray(x.numpy(), dtype=dtype)), False
        return x, False
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray) and type(x).__module__.startswith("pyconvnet"):
        x = x.numpy()
    try:
        a = np.asarray(x)
    except Exception as e:  # ragged lists etc.
        raise TypeError("%s: %s could not be converted to an array (%s)" % (op, arg, e)) from None
    if a.dtype.kind not in "biuf":
        raise TypeError("%s: %s must be a real numeric array, got dtype %s" % (op, arg, a.dtype))
    if dtype is not None:
        a = np.ascontiguousarray(a, dtype=dtype)
    elif a.dtype not in _SUPPORTED:
        a = np.ascontiguousarray(a, dtype=np.float32 if a.dtype.kind == "f" else np.int64)
    else:
        a = np.ascontiguousarray(a)
    return _C.from_numpy(a), True


def like_input(t, was_numpy):
    """Return t as a NumPy array when the caller passed NumPy, else as a Tensor."""
    return np.asarray(t) if was_numpy else t


def matmul(a, b, transpose_a=False, transpose_b=False):
    """tf.matmul: op(a) @ op(b) for rank-2 or batched rank-3 float32 operands.

    a: (M, K) [(K, M) if transpose_a] or (B, M, K); b: (K, N) [(N, K) if
    transpose_b] or (B, K, N). Returns NumPy if `a` was NumPy, else a Tensor.
    With an EagerTensor/KerasTensor operand and no transpose flags this is
    keras.ops.matmul (NumPy semantics: 1-D and broadcast N-D operands, the tape).
    """
    from . import autograd as _ag
    from .layers.base import KerasTensor
    # (builtins: this module re-exports keras.ops names such as any/all/max/min/sum/round/slice)
    if not (transpose_a or transpose_b) and _bi.any(isinstance(v, (_ag.EagerTensor, KerasTensor)) for v in (a, b)):
        # keras.ops.matmul on the tape / on symbolic inputs: NumPy semantics (1-D and broadcast N-D operands).
        # Pure NumPy operands keep tf.matmul's rules here because pyconvnet.matmul (tf.matmul) is this function.
        from .keras_ops import matmul as _keras_matmul
        return _keras_matmul(a, b)
    if isinstance(a, _ag.EagerTensor) or isinstance(b, _ag.EagerTensor):
        if transpose_a or transpose_b:
            raise NotImplementedError("matmul: transpose flags with EagerTensors; use keras.ops.transpose")
        return _ag.matmul(a, b)
    ta, na = as_tensor(a, "matmul", "a")
    tb, _ = as_tensor(b, "matmul", "b")
    return like_input(_C.matmul(ta, tb, bool(transpose_a), bool(transpose_b)), na)


# keras.ops (import pyconvnet as keras; keras.ops.add ...): the Keras-named ops
# for custom layers live in keras_ops.py and are re-exported here.
_tf_matmul = matmul
tf_matmul = matmul  # tf.matmul by its own name (see matmul's docstring)
from .keras_ops import *  # noqa: E402,F401,F403
matmul = _tf_matmul  # tf.matmul semantics (transpose flags) and EagerTensor routing; a superset of keras.ops.matmul
