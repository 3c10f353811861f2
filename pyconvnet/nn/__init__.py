"""Functional ops with tf.nn names and semantics (NHWC, HWIO); EagerTensors go on the tape.

Each function takes NumPy arrays or Tensors and returns the same kind. All
arithmetic runs in the extension's kernels.
"""
from .conv import *         # noqa: F401,F403  conv2d, depthwise_conv2d, bias_add, ...
from .pooling import *      # noqa: F401,F403  max_pool, avg_pool, global pooling
from .activation import *   # noqa: F401,F403  relu, tanh, sigmoid, softmax, elu, selu, dropout, ...
from .normalization import *  # noqa: F401,F403  batch_normalization, local_response_normalization
from .losses import *       # noqa: F401,F403  softmax_cross_entropy_with_logits, ...
from .recurrent import *    # noqa: F401,F403  rnn / lstm / gru over a sequence
from .misc import *         # noqa: F401,F403  top_k, in_top_k, zero_fraction
from .array import *        # noqa: F401,F403  embedding_lookup, space_to_depth, depth_to_space
