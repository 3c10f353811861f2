"""Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate."""
from .. import autograd as ag
from .base import Layer
from .core import _AnyActivity

__all__ = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "add", "concatenate"]


def _bcast(shapes, layer):
    nd = max(len(s) for s in shapes)
    out = []
    for ax in range(nd):
        dims = [s[ax - nd + len(s)] for s in shapes if ax - nd + len(s) >= 0]
        known = [d for d in dims if d not in (None, 1)]
        if len(set(known)) > 1:
            raise ValueError("%s '%s': inputs with incompatible shapes %s" % (type(layer).__name__, layer.name, shapes))
        out.append(known[0] if known else (None if None in dims else 1))
    return tuple(out)


class _Merge(_AnyActivity, Layer):
    def _check(self, inputs):
        # Keras 3 merges a list of at least 1 input (a single input passes through)
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 1:
            raise ValueError("%s '%s': a merge layer should be called on a list of at least 1 input, got %r"
                             % (type(self).__name__, self.name, inputs))

    def compute_output_shape(self, input_shape):
        return _bcast([tuple(s) for s in input_shape], self)

    def call(self, inputs):
        self._check(inputs)
        y = inputs[0]
        for x in inputs[1:]:
            y = self._combine(y, x)
        return y


class Add(_Merge):
    def _combine(self, a, b):
        return ag.add(a, b)


class Multiply(_Merge):
    def _combine(self, a, b):
        return ag.multiply(a, b)


class Maximum(_Merge):
    def _combine(self, a, b):
        return ag.maximum(a, b)


class Minimum(_Merge):
    def _combine(self, a, b):
        return ag.minimum(a, b)


class Subtract(_Merge):
    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError("Subtract '%s': expects exactly 2 inputs" % self.name)
        return ag.subtract(inputs[0], inputs[1])


class Average(_Merge):
    def call(self, inputs):
        self._check(inputs)
        y = inputs[0]
        for x in inputs[1:]:
            y = ag.add(y, x)
        return ag.multiply(y, 1.0 / len(inputs))


class Concatenate(_AnyActivity, Layer):
    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 1:
            raise ValueError("Concatenate '%s': expects a list of inputs" % self.name)
        shapes = [tuple(x.shape) for x in inputs]
        nd = len(shapes[0])
        ax = self.axis % nd
        for s in shapes:
            if len(s) != nd or any(a != b for i, (a, b) in enumerate(zip(s, shapes[0])) if i != ax):
                raise ValueError("Concatenate '%s': a Concatenate layer requires inputs with matching shapes except "
                                 "for the concatenation axis %d. Received: input_shape=%s" % (self.name, self.axis,
                                                                                              shapes))
        return ag.concat(list(inputs), ax)

    def compute_output_shape(self, input_shape):
        shapes = [tuple(s) for s in input_shape]
        nd = len(shapes[0])
        ax = self.axis % nd
        for s in shapes:
            if len(s) != nd or any(a != b and None not in (a, b) for i, (a, b) in enumerate(zip(s, shapes[0]))
                                   if i != ax):
                raise ValueError("Concatenate '%s': a Concatenate layer requires inputs with matching shapes except "
                                 "for the concatenation axis %d. Received: input_shape=%s" % (self.name, self.axis,
                                                                                              shapes))
        out = list(shapes[0])
        out[ax] = None if any(s[ax] is None for s in shapes) else sum(s[ax] for s in shapes)
        return tuple(out)

    def get_config(self):
        c = super().get_config()
        c["axis"] = self.axis
        return c


class _BinaryOp(Layer):
    """KerasTensor arithmetic (x + y, 2 * x) in the functional API."""

    def __init__(self, op, reverse=False, **kwargs):
        super().__init__(**kwargs)
        self.op, self.reverse = op, bool(reverse)

    def call(self, inputs, other=None):
        fn = {"add": ag.add, "sub": ag.subtract, "mul": ag.multiply, "div": ag.divide}[self.op]
        if len(inputs) == 2:
            a, b = inputs
        else:
            a, b = inputs[0], other
        return fn(b, a) if self.reverse else fn(a, b)

    def compute_output_shape(self, input_shape):
        return _bcast([tuple(s) for s in input_shape], self) if len(input_shape) == 2 else tuple(input_shape[0])

    def get_config(self):
        c = super().get_config()
        c.update(op=self.op, reverse=self.reverse)
        return c


def add(inputs, **kwargs):
    return Add(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    return Concatenate(axis=axis, **kwargs)(inputs)
