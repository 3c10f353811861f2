"""keras.backend basics used by course code (clear_session, floatx, image_data_format)."""
from . import utils

__all__ = ["clear_session", "floatx", "image_data_format", "backend"]


def clear_session(free_memory=True):
    """Reset automatic layer names (dense, dense_1, ...)."""
    utils.clear_session()


def floatx():
    return "float32"


def image_data_format():
    return "channels_last"


def backend():
    return "pyconvnet"
