"""Shared helpers for the scripts in tests/mpi (run under mpiexec by tests/test_distributed.py)."""
import os
import sys

# the source tree only when the extension was built in place there; else the installed package
if __import__("glob").glob(os.path.join(os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")), "pyconvnet", "_C*.so")):
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

import numpy as np  # noqa: E402


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def close(a, b, rtol, atol, msg):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or not np.allclose(a, b, rtol=rtol, atol=atol):
        err = np.max(np.abs(a - b)) if a.shape == b.shape else "shape %s vs %s" % (a.shape, b.shape)
        raise AssertionError("%s: max abs err %s (rtol %g atol %g)" % (msg, err, rtol, atol))


def expect_raises(exc, fn, *words):
    try:
        fn()
    except exc as e:
        s = str(e)
        for w in words:
            if w not in s:
                raise AssertionError("message %r lacks %r" % (s, w))
        return s
    raise AssertionError("expected %s" % exc.__name__)


class StubVar:
    """The variable interface the Keras layer will expose: .value (Tensor), .assign, .numpy, .name, .shape."""

    def __init__(self, array, name):
        import pyconvnet as pcn
        self._a = np.ascontiguousarray(np.asarray(array, np.float32))
        self.value = pcn.from_numpy(self._a)
        self.name = name

    @property
    def shape(self):
        return self._a.shape

    def numpy(self):
        return self._a

    def assign(self, x):
        np.copyto(self._a, np.asarray(x, np.float32).reshape(self._a.shape))


class StubSGD:
    """Minimal optimizer: apply_gradients(list of (grad, variable)); plain SGD
    (optionally momentum, Keras formula v = m*v - lr*g; w += v) written in
    NumPy on the variables' storage (main has no _C.sgd_update_ yet)."""

    def __init__(self, learning_rate=0.1, momentum=0.0):
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.variables = []
        self.iterations = 0
        self._vel = {}

    def build(self, var_list):
        if self.momentum:
            for v in var_list:
                sv = StubVar(np.zeros(v.shape, np.float32), "momentum/" + v.name)
                self._vel[id(v)] = sv
                self.variables.append(sv)

    def apply_gradients(self, grads_and_vars):
        pairs = list(grads_and_vars)
        if self.momentum and not self.variables:
            self.build([v for _, v in pairs])
        lr = np.float32(self.learning_rate)
        for g, v in pairs:
            g = np.asarray(g)
            w = v.numpy()
            if self.momentum:
                vel = self._vel[id(v)].numpy()
                vel *= np.float32(self.momentum)
                vel -= lr * g
                w += vel
            else:
                w -= lr * g
        self.iterations += 1


class StubModel:
    def __init__(self, weights, optimizer=None, nontrainable=()):
        self.trainable_weights = list(weights)
        self.non_trainable_weights = list(nontrainable)
        self.weights = self.trainable_weights + self.non_trainable_weights
        self.optimizer = optimizer

    def get_weights(self):
        return [v.numpy().copy() for v in self.weights]

    def set_weights(self, ws):
        for v, a in zip(self.weights, ws):
            v.assign(a)
