"""BatchNormalization (last axis, Keras 3 semantics) and AlexNet's
LocalResponseNormalization (tf.nn.local_response_normalization)."""
from .. import _C
from .. import autograd as ag
from .. import initializers
from .base import Layer, InputSpec
from .core import _init_config

__all__ = ["BatchNormalization", "LocalResponseNormalization"]


class BatchNormalization(Layer):
    """Normalizes over all axes but the last. Training (fit, and layer.trainable)
    uses batch statistics and updates moving_mean/moving_variance with
    `momentum` (moving = moving*momentum + batch*(1-momentum), biased variance);
    inference uses the moving statistics. Weights: gamma, beta, moving_mean,
    moving_variance."""
    _pcn_int_input = False

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, synchronized=False, **kwargs):
        super().__init__(**kwargs)
        if axis not in (-1, [-1], (-1,)) and not isinstance(axis, int):
            raise NotImplementedError("BatchNormalization '%s': only a single (last) axis is supported" % self.name)
        self.axis = axis if isinstance(axis, int) else -1
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)

    def build(self, input_shape):
        nd = len(input_shape)
        if self.axis % nd != nd - 1:
            raise NotImplementedError("BatchNormalization '%s': axis=%d is not the last axis of inputs of rank %d "
                                      "(only channels-last is supported)" % (self.name, self.axis, nd))
        c = input_shape[-1]
        self.gamma = self.add_weight(name="gamma", shape=(c,), initializer=self.gamma_initializer) \
            if self.scale else None
        self.beta = self.add_weight(name="beta", shape=(c,), initializer=self.beta_initializer) \
            if self.center else None
        self.moving_mean = self.add_weight(name="moving_mean", shape=(c,), initializer=self.moving_mean_initializer,
                                           trainable=False)
        self.moving_variance = self.add_weight(name="moving_variance", shape=(c,),
                                               initializer=self.moving_variance_initializer, trainable=False)
        self.input_spec = InputSpec(ndim=nd, axes={-1: c})
        self.built = True

    def call(self, inputs, training=None):
        if training and self.trainable:
            y, mean, var = ag.batch_norm_train(inputs, self.gamma, self.beta, self.epsilon)
            _C.batch_norm_update_running_(self.moving_mean.value, self.moving_variance.value, mean, var,
                                          self.momentum)
            return y
        return ag.batch_norm_infer(inputs, self.gamma, self.beta, self.moving_mean, self.moving_variance,
                                   self.epsilon)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        c = super().get_config()
        c.update(axis=self.axis, momentum=self.momentum, epsilon=self.epsilon, center=self.center, scale=self.scale,
                 beta_initializer=_init_config(self.beta_initializer),
                 gamma_initializer=_init_config(self.gamma_initializer))
        return c


class LocalResponseNormalization(Layer):
    """AlexNet's LRN across channels: x / (bias + alpha * sum_{|d|<=r} x_d^2) ** beta
    (TensorFlow's definition: alpha multiplies the plain sum)."""
    _pcn_int_input = False

    def __init__(self, depth_radius=5, bias=1.0, alpha=1.0, beta=0.5, **kwargs):
        super().__init__(**kwargs)
        if int(depth_radius) < 0:
            raise ValueError("LocalResponseNormalization '%s': depth_radius must be >= 0" % self.name)
        self.depth_radius, self.bias, self.alpha, self.beta = int(depth_radius), float(bias), float(alpha), float(beta)
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        return ag.lrn(inputs, self.depth_radius, self.bias, self.alpha, self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        c = super().get_config()
        c.update(depth_radius=self.depth_radius, bias=self.bias, alpha=self.alpha, beta=self.beta)
        return c
