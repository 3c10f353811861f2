"""keras.backend: configuration (floatx, epsilon, image_data_format), dtype helpers
and names, with Keras 3.15 semantics. pyconvnet computes in float32 and lays images
out channels_last; asking for anything else raises a clear error instead of being
ignored."""
import numpy as np

from . import utils

__all__ = ["clear_session", "floatx", "set_floatx", "epsilon", "set_epsilon", "image_data_format",
           "set_image_data_format", "backend", "is_keras_tensor", "standardize_dtype", "result_type", "get_uid",
           "is_float_dtype", "is_int_dtype"]

_CONFIG = {"epsilon": 1e-7}
_UIDS = {}

ALLOWED_DTYPES = ("float16", "float32", "float64", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32",
                  "int64", "bfloat16", "bool", "string", "float8_e4m3fn", "float8_e5m2", "complex64", "complex128")
_PYTHON_DTYPES = {bool: "bool", int: "int32", float: "float32", str: "string", "int": "int32", complex: "complex64"}


def clear_session(free_memory=True):
    """Reset automatic layer names (dense, dense_1, ...) and get_uid counters."""
    utils.clear_session()
    _UIDS.clear()


def floatx():
    return "float32"


def set_floatx(value):
    """Only 'float32' is supported (the kernels are float32); Keras's other
    accepted values raise NotImplementedError, unknown values ValueError (as Keras)."""
    accepted = {"bfloat16", "float16", "float32", "float64"}
    if value not in accepted:
        raise ValueError("Unknown `floatx` value: %s. Expected one of %s" % (value, accepted))
    if value != "float32":
        raise NotImplementedError("keras.backend.set_floatx(%r): pyconvnet computes in float32 only" % (value,))


def epsilon():
    """The fuzz factor used by keras.ops losses and normalize (default 1e-7)."""
    return _CONFIG["epsilon"]


def set_epsilon(value):
    _CONFIG["epsilon"] = value


def image_data_format():
    return "channels_last"


def set_image_data_format(data_format):
    fmt = str(data_format).lower()
    if fmt not in {"channels_first", "channels_last"}:
        raise ValueError("The `data_format` argument must be one of {'channels_first', 'channels_last'}. "
                         "Received: data_format=%s" % data_format)
    if fmt != "channels_last":
        raise NotImplementedError("keras.backend.set_image_data_format('channels_first'): pyconvnet lays images out "
                                  "channels_last (NHWC) only")


def backend():
    return "pyconvnet"


def is_keras_tensor(x):
    """True for a symbolic KerasTensor (keras.Input and layer outputs on it)."""
    from .layers.base import KerasTensor
    return isinstance(x, KerasTensor)


def standardize_dtype(dtype):
    """Keras's dtype name for `dtype` (None -> floatx(); float -> 'float32';
    int -> 'int32'; np.float64 -> 'float64'; a tensor's dtype string as is)."""
    if dtype is None:
        return floatx()
    try:
        dtype = _PYTHON_DTYPES.get(dtype, dtype)
    except TypeError:  # unhashable
        pass
    if hasattr(dtype, "name"):
        dtype = dtype.name
    elif hasattr(dtype, "__name__"):
        dtype = dtype.__name__
    elif "torch" in str(dtype) or "jax.numpy" in str(dtype):
        dtype = str(dtype).split(".")[-1]
    if dtype not in ALLOWED_DTYPES:
        raise ValueError("Invalid dtype: %s" % (dtype,))
    return dtype


def is_float_dtype(dtype):
    d = standardize_dtype(dtype)
    return d.startswith("float") or d.startswith("bfloat")


def is_int_dtype(dtype):
    d = standardize_dtype(dtype)
    return d.startswith("int") or d.startswith("uint")


_FLOAT_RANK = {"float16": 1, "bfloat16": 1, "float32": 2, "float64": 3}


_BIT64_TO_32 = {"int64": "int32", "uint64": "uint32", "float64": "float32", "complex128": "complex64"}


def result_type(*dtypes):
    """The dtype Keras's promotion lattice gives (JAX-like): ints with a float give
    that float, float16 with bfloat16 give float32, Python int/float are weak
    (they do not widen a tensor's dtype; float with ints gives floatx); 64-bit
    results come back as their 32-bit kind, as in Keras."""
    r = _result_type(*(floatx() if d is None else d for d in dtypes))
    return _BIT64_TO_32.get(r, r)


def _result_type(*dtypes):
    if not dtypes:
        return floatx()
    weak = [d for d in dtypes if d in (int, float, bool)]
    strong = [standardize_dtype(d) for d in dtypes if d not in (int, float, bool)]
    if not strong:
        if float in weak:
            return floatx()
        return "int32" if int in weak else "bool"
    floats = [d for d in strong if d in _FLOAT_RANK]
    if floats:
        if len(set(floats)) > 1 and set(floats) <= {"float16", "bfloat16"}:
            return "float32"
        return max(floats, key=lambda d: (_FLOAT_RANK[d], d == "float16"))
    ints = [d for d in strong if d != "bool"]
    if not ints:
        return floatx() if float in weak else ("int32" if int in weak else "bool")
    if float in weak:
        return floatx()
    r = np.dtype(ints[0])
    for d in ints[1:]:
        r = np.promote_types(r, np.dtype(d))
    if r == np.float64:  # uint64 with a signed int: Keras/JAX give float32 there
        return floatx()
    return r.name


def get_uid(prefix=""):
    """1, 2, 3 ... per prefix (reset by clear_session)."""
    _UIDS[prefix] = _UIDS.get(prefix, 0) + 1
    return _UIDS[prefix]
