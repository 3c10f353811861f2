"""keras.layers: one module per family."""
from .base import Layer, Input, InputLayer, InputSpec, KerasTensor  # noqa: F401
from .core import *           # noqa: F401,F403
from .conv import Conv2D, Convolution2D, DepthwiseConv2D  # noqa: F401
from .pooling import *        # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .reshaping import *      # noqa: F401,F403
from .merge import *          # noqa: F401,F403
from .recurrent import *      # noqa: F401,F403
from .conv1d import *         # noqa: F401,F403
from .extra import *          # noqa: F401,F403
from .transpose import (Conv2DTranspose, Convolution2DTranspose, Conv1DTranspose, Convolution1DTranspose,  # noqa: F401
                        SeparableConv2D, SeparableConvolution2D)
from .rnn_cells import RNN, SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells, ConvLSTM2D  # noqa: F401
from .preprocessing import Normalization, Resizing, CenterCrop, RandomFlip, RandomContrast  # noqa: F401
from .attention import Attention, AdditiveAttention, MultiHeadAttention  # noqa: F401
