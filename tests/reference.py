"""NumPy float64 reference implementations of every op: the spec.

Written plainly (loops where that is clearest); each kernel in the extension is
tested against these. Families live in reference_<family>.py and are
re-exported here, so tests write `from reference import conv2d_forward`.
"""
import numpy as np

from reference_conv import *       # noqa: F401,F403
from reference_pool import *       # noqa: F401,F403
from reference_elementwise import *  # noqa: F401,F403
from reference_norm import *       # noqa: F401,F403
from reference_loss import *       # noqa: F401,F403
from reference_optim import *      # noqa: F401,F403
from reference_rnn import *        # noqa: F401,F403


def gemm(a, b, transpose_a=False, transpose_b=False, alpha=1.0, beta=0.0, c=None):
    """alpha * op(a) @ op(b) + beta * c in float64."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    a = np.swapaxes(a, -1, -2) if transpose_a else a
    b = np.swapaxes(b, -1, -2) if transpose_b else b
    out = alpha * np.matmul(a, b)
    if c is not None and beta != 0.0:
        out = out + beta * np.asarray(c, np.float64)
    return out
