"""BatchNormalization (last axis, Keras 3 semantics) and AlexNet's
LocalResponseNormalization (tf.nn.local_response_normalization)."""
import numpy as np

from .. import _C
from .. import autograd as ag
from .. import constraints
from .. import initializers
from .. import regularizers
from .base import Layer, InputSpec
from .core import _init_config, _reg_config, _con_config, _WeightExtras, _AnyActivity

__all__ = ["BatchNormalization", "LocalResponseNormalization"]


class BatchNormalization(_WeightExtras, Layer):
    """Normalizes over all axes but `axis` (one int; default the last, other axes run through a
    transpose). Training (fit, and layer.trainable) uses batch statistics and updates
    moving_mean/moving_variance with `momentum` (moving = moving*momentum + batch*(1-momentum), biased
    variance); inference uses the moving statistics. Weights: gamma, beta, moving_mean, moving_variance.
    `synchronized` only matters on Keras's TensorFlow backend (as on its torch backend, it changes nothing)."""
    _pcn_int_input = False

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, renorm=False, renorm_clipping=None,
                 renorm_momentum=0.99, synchronized=False, activity_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # an input mask passes on (Keras; its statistics here include masked steps)
        if renorm:
            raise NotImplementedError("BatchNormalization '%s': renorm=True (batch renormalization) is not "
                                      "supported" % self.name)
        if isinstance(axis, (list, tuple)):
            if len(axis) != 1:
                raise TypeError("Expected an int value for `axis` of BatchNormalization '%s'. Received: axis=%r"
                                % (self.name, axis))
            axis = axis[0]
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError("Expected an int value for `axis` of BatchNormalization '%s'. Received: axis=%r"
                            % (self.name, axis))
        self.axis = int(axis)
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.synchronized = bool(synchronized)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self._pcn_init_extras(activity_regularizer)

    def build(self, input_shape):
        nd = len(input_shape)
        if not -nd <= self.axis < nd:
            raise ValueError("BatchNormalization '%s': axis %d is out of range for inputs of rank %d"
                             % (self.name, self.axis, nd))
        ax = self.axis % nd
        self._pcn_perm = None if ax == nd - 1 else [i for i in range(nd) if i != ax] + [ax]
        c = input_shape[ax]
        if c is None:
            raise ValueError("BatchNormalization '%s': axis %d of the inputs must be defined, got shape %s"
                             % (self.name, self.axis, tuple(input_shape)))
        self.gamma = self.add_weight(name="gamma", shape=(c,), initializer=self.gamma_initializer,
                                     regularizer=self.gamma_regularizer) if self.scale else None
        self.beta = self.add_weight(name="beta", shape=(c,), initializer=self.beta_initializer,
                                    regularizer=self.beta_regularizer) if self.center else None
        self._pcn_constrain(self.gamma, self.gamma_constraint)
        self._pcn_constrain(self.beta, self.beta_constraint)
        self.moving_mean = self.add_weight(name="moving_mean", shape=(c,), initializer=self.moving_mean_initializer,
                                           trainable=False)
        self.moving_variance = self.add_weight(name="moving_variance", shape=(c,),
                                               initializer=self.moving_variance_initializer, trainable=False)
        self.input_spec = InputSpec(ndim=nd, axes={ax: c})
        self.built = True

    def call(self, inputs, training=None):
        self._pcn_before_call(training)
        x = inputs
        if self._pcn_perm is not None:  # normalize over all axes but `axis`: move it last and back
            x = ag.transpose(x, self._pcn_perm)
        if training and self.trainable:
            y, mean, var = ag.batch_norm_train(x, self.gamma, self.beta, self.epsilon)
            _C.batch_norm_update_running_(self.moving_mean.value, self.moving_variance.value, mean, var,
                                          self.momentum)
        else:
            y = ag.batch_norm_infer(x, self.gamma, self.beta, self.moving_mean, self.moving_variance, self.epsilon)
        if self._pcn_perm is not None:
            y = ag.transpose(y, [self._pcn_perm.index(i) for i in range(len(self._pcn_perm))])
        return self._pcn_after_call(y)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        c = super().get_config()
        c.update(axis=self.axis, momentum=self.momentum, epsilon=self.epsilon, center=self.center, scale=self.scale,
                 beta_initializer=_init_config(self.beta_initializer),
                 gamma_initializer=_init_config(self.gamma_initializer),
                 moving_mean_initializer=_init_config(self.moving_mean_initializer),
                 moving_variance_initializer=_init_config(self.moving_variance_initializer),
                 beta_regularizer=_reg_config(self.beta_regularizer),
                 gamma_regularizer=_reg_config(self.gamma_regularizer),
                 beta_constraint=_con_config(self.beta_constraint), gamma_constraint=_con_config(self.gamma_constraint),
                 synchronized=self.synchronized, renorm=False, renorm_clipping=None, renorm_momentum=0.99)
        if self.activity_regularizer is not None:
            c["activity_regularizer"] = _reg_config(self.activity_regularizer)
        return c


class LocalResponseNormalization(_AnyActivity, Layer):
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
