"""tf.random.set_seed / keras.random.seed for course code: seeds pyconvnet's generators."""
from . import utils

__all__ = ["set_seed"]


def set_seed(seed):
    """Same as pyconvnet.utils.set_random_seed(seed)."""
    utils.set_random_seed(seed)
