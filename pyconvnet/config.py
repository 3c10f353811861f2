"""keras.config: global settings (`import pyconvnet as keras; keras.config.floatx()`).

floatx/epsilon/image_data_format and their setters are pyconvnet.backend's (only float32 and
channels_last exist: other values raise); enable_unsafe_deserialization is pyconvnet.saving's.
"""
from .backend import floatx, set_floatx, epsilon, set_epsilon, image_data_format, set_image_data_format
from .backend import backend
from .saving import enable_unsafe_deserialization

__all__ = ["floatx", "set_floatx", "epsilon", "set_epsilon", "image_data_format", "set_image_data_format",
           "backend", "enable_unsafe_deserialization", "dtype_policy", "set_dtype_policy",
           "enable_interactive_logging", "disable_interactive_logging", "is_interactive_logging_enabled",
           "enable_traceback_filtering", "disable_traceback_filtering", "is_traceback_filtering_enabled"]

_STATE = {"interactive_logging": True, "traceback_filtering": True}


def dtype_policy():
    """The global dtype policy's name: always "float32" (no mixed precision)."""
    return "float32"


def set_dtype_policy(policy):
    name = getattr(policy, "name", policy)
    if name != "float32":
        raise NotImplementedError("set_dtype_policy: pyconvnet computes in float32 only; got %r" % (name,))


def enable_interactive_logging():
    """Progress bars and summaries print to stdout (the default)."""
    _STATE["interactive_logging"] = True


def disable_interactive_logging():
    """Keras routes its messages to absl logging instead; pyconvnet has no such logger, so
    this records the setting for is_interactive_logging_enabled() only."""
    _STATE["interactive_logging"] = False


def is_interactive_logging_enabled():
    return _STATE["interactive_logging"]


def enable_traceback_filtering():
    _STATE["traceback_filtering"] = True


def disable_traceback_filtering():
    """pyconvnet does not filter tracebacks; recorded for the query only."""
    _STATE["traceback_filtering"] = False


def is_traceback_filtering_enabled():
    return _STATE["traceback_filtering"]
