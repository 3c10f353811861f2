"""keras.regularizers: L1, L2, L1L2 weight penalties, added to the training loss
(computed on the kernels, recorded by the tape like any op)."""
from . import autograd as ag

__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get"]


class Regularizer:
    def __call__(self, x):
        raise NotImplementedError

    def get_config(self):
        return {}


class L1L2(Regularizer):
    def __init__(self, l1=0.0, l2=0.0):
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, x):
        out = None
        if self.l1:
            out = ag.multiply(ag.reduce("sum", ag.unary("abs", x), None), self.l1)
        if self.l2:
            t = ag.multiply(ag.reduce("sum", ag.unary("square", x), None), self.l2)
            out = t if out is None else ag.add(out, t)
        return out if out is not None else ag.multiply(ag.reduce("sum", x, None), 0.0)

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1=0.01):
        super().__init__(l1=l1)


class L2(L1L2):
    def __init__(self, l2=0.01):
        super().__init__(l2=l2)


l1, l2, l1_l2 = L1, L2, L1L2


def get(identifier):
    if identifier is None or isinstance(identifier, Regularizer) or callable(identifier):
        return identifier
    if isinstance(identifier, str):
        c = {"l1": L1, "l2": L2, "l1_l2": L1L2}.get(identifier.lower())
        if c is None:
            raise ValueError("Unknown regularizer: '%s'. Known: l1, l2, l1_l2" % identifier)
        return c()
    raise ValueError("Could not interpret regularizer identifier: %r" % (identifier,))
