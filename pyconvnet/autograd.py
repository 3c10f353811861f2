"""The tape: eager reverse-mode autograd over the `_C` kernels.

`EagerTensor` wraps a `_C.Tensor` (its `.value`) and gives it operators. Ops
record a `Node` (inputs, outputs, backward closure) only while a `GradientTape`
is active and at least one input needs a gradient, so inference has no
overhead beyond the wrapper. `GradientTape.gradient` walks the recorded nodes
in reverse creation order (a topological order), accumulates the gradient of
a tensor used more than once with `_C.binary("add")`, and then frees every
node (and with it the saved activations).

`Variable` is a leaf EagerTensor that a layer owns (kernel, bias, moving
mean...). Trainable variables are watched automatically, like TensorFlow's
GradientTape(watch_accessed_variables=True).

All arithmetic runs in `_C`; nothing here converts to NumPy except
`EagerTensor.numpy()` / `__array__` for the user.
"""
import functools

import numpy as np

from . import _C

__all__ = ["EagerTensor", "Variable", "GradientTape", "no_grad", "is_eager", "routes_eager"]

_TAPES = []


class Node:
    __slots__ = ("inputs", "outputs", "backward", "multi")

    def __init__(self, inputs, outputs, backward, multi):
        self.inputs = inputs
        self.outputs = outputs
        self.backward = backward
        self.multi = multi


class EagerTensor:
    """A `_C.Tensor` with operators and a place in the tape."""

    __slots__ = ("value", "_node", "_watched", "__weakref__")
    __array_priority__ = 1000

    def __init__(self, value):
        if not isinstance(value, _C.Tensor):
            value = _C.from_numpy(np.require(value, np.float32, "C"))
        self.value = value
        self._node = None
        self._watched = False

    # --- array-like surface ---------------------------------------------
    @property
    def shape(self):
        return tuple(self.value.shape)

    @property
    def dtype(self):
        return self.value.dtype

    @property
    def ndim(self):
        return self.value.ndim

    @property
    def device(self):
        return self.value.device

    def numpy(self):
        return self.value.numpy()

    def __array__(self, dtype=None, copy=None):
        a = self.value.numpy()
        return a if dtype is None else a.astype(dtype, copy=False)

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        return "<EagerTensor shape=%s dtype=%s device=%s>" % (self.shape, self.dtype, self.device)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return reshape(self, shape)

    # --- operators -------------------------------------------------------
    def __add__(self, o): return add(self, o)
    def __radd__(self, o): return add(o, self)
    def __sub__(self, o): return subtract(self, o)
    def __rsub__(self, o): return subtract(o, self)
    def __mul__(self, o): return multiply(self, o)
    def __rmul__(self, o): return multiply(o, self)
    def __truediv__(self, o): return divide(self, o)
    def __rtruediv__(self, o): return divide(o, self)
    def __matmul__(self, o): return matmul(self, o)
    def __rmatmul__(self, o): return matmul(o, self)
    def __neg__(self): return negative(self)
    def __pos__(self): return self
    def __pow__(self, o): return power(self, o)
    def __abs__(self): return unary("abs", self)

    def __getitem__(self, idx):
        return getitem(self, idx)

    # comparisons / conversions / the rest of the arithmetic operators, with keras.ops semantics
    # (boolean results are uint8 0/1 tensors; integer tensors keep integer results)
    __hash__ = object.__hash__

    def __gt__(self, o): return _kops().greater(self, o)
    def __ge__(self, o): return _kops().greater_equal(self, o)
    def __lt__(self, o): return _kops().less(self, o)
    def __le__(self, o): return _kops().less_equal(self, o)
    def __floordiv__(self, o): return _kops().floor_divide(self, o)
    def __rfloordiv__(self, o): return _kops().floor_divide(o, self)
    def __mod__(self, o): return _kops().mod(self, o)
    def __rmod__(self, o): return _kops().mod(o, self)
    def __rpow__(self, o): return power(o, self)
    def __invert__(self): return _kops().logical_not(self)
    def __and__(self, o): return _kops().logical_and(self, o)
    def __or__(self, o): return _kops().logical_or(self, o)

    def __bool__(self):
        a = self.numpy()
        if a.size != 1:
            raise ValueError("The truth value of an EagerTensor with %d elements is ambiguous" % a.size)
        return bool(a.reshape(()))

    def __float__(self): return float(self.numpy().reshape(()))
    def __int__(self): return int(self.numpy().reshape(()))


class Variable(EagerTensor):
    """A layer's weight: a leaf of the tape with a name and a trainable flag.

    `.value` is the `_C.Tensor` the optimizer updates in place; `.assign(x)`
    copies a NumPy array or tensor of the same shape into it.
    """

    __slots__ = ("name", "path", "trainable", "_initializer", "constraint")

    def __init__(self, value, name="variable", trainable=True, path=None):
        super().__init__(value)
        self.name = name
        self.path = path or name
        self.trainable = bool(trainable)
        self.constraint = None  # a keras.constraints callable the optimizer applies after each update

    def assign(self, x):
        if isinstance(x, EagerTensor):
            x = x.value
        if not isinstance(x, _C.Tensor):
            a = np.asarray(x)
            if a.shape != self.shape:
                raise ValueError("Variable '%s': assign got shape %s, expected %s" % (self.path, a.shape, self.shape))
            x = _C.from_numpy(np.require(a, np.float32, "C"))
        elif tuple(x.shape) != self.shape:
            raise ValueError("Variable '%s': assign got shape %s, expected %s" % (self.path, tuple(x.shape), self.shape))
        self.value.copy_(x)
        return self

    def _to(self, device):
        if self.value.device != device:
            self.value = self.value.to(device)

    def __repr__(self):
        return "<Variable path=%s shape=%s trainable=%s>" % (self.path, self.shape, self.trainable)


def _kops():
    from . import keras_ops
    return keras_ops


def _needs(t):
    return isinstance(t, EagerTensor) and (t._node is not None or t._watched
                                           or (isinstance(t, Variable) and t.trainable))


def recording():
    """True while a GradientTape records."""
    return bool(_TAPES) and _TAPES[-1]._active


def _record(inputs, outputs, backward, multi=False):
    """Attach a Node to `outputs` when a tape records and an input needs a gradient."""
    if not _TAPES or not _TAPES[-1]._active:
        return
    if not any(_needs(i) for i in inputs):
        return
    node = Node(list(inputs), list(outputs), backward, multi)
    for o in outputs:
        if o is not None:
            o._node = node
    _TAPES[-1]._nodes.append(node)


class GradientTape:
    """Records ops on EagerTensors; `gradient(target, sources)` runs backward.

    with GradientTape() as tape:
        loss = model(x, training=True) ...
    grads = tape.gradient(loss, model.trainable_weights)   # list of _C.Tensor / None
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self._nodes = []
        self._active = False
        self._persistent = persistent

    def __enter__(self):
        self._active = True
        _TAPES.append(self)
        return self

    def __exit__(self, *exc):
        self._active = False
        if _TAPES and _TAPES[-1] is self:
            _TAPES.pop()
        if exc[0] is not None:
            self._release()
        return False

    def watch(self, t):
        for x in (t if isinstance(t, (list, tuple)) else [t]):
            if not isinstance(x, EagerTensor):
                raise TypeError("GradientTape.watch: expected an EagerTensor, got %s" % type(x).__name__)
            x._watched = True

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none", sinks=None,
                 sink_accumulate=False):
        """Gradients of sum(target * output_gradients) w.r.t. each source.

        Returns `_C.Tensor`s (None where a source does not reach target, or
        zeros with unconnected_gradients="zero"), as a list if sources is one.

        sinks: optional list of `_C.Tensor`s, one per source (or None): where the
        ops that support it (matmul, bias_add, conv2d weights) write that
        source's gradient directly (`out=`, overwriting, or adding when
        sink_accumulate); such a source's result is then the sink tensor itself
        (a DistributedOptimizer's gradient_buffers(): no packing copy).
        """
        if sinks is not None:
            srcs0 = [sources] if not isinstance(sources, (list, tuple)) else list(sources)
            _SINKS.clear()
            _SINKS.update({id(s): (b, bool(sink_accumulate)) for s, b in zip(srcs0, sinks) if b is not None})
            try:
                return self._gradient(target, sources, output_gradients, unconnected_gradients)
            finally:
                _SINKS.clear()
                _WALK.clear()
        return self._gradient(target, sources, output_gradients, unconnected_gradients)

    def _gradient(self, target, sources, output_gradients, unconnected_gradients):
        single = not isinstance(sources, (list, tuple))
        srcs = [sources] if single else list(sources)
        targets = target if isinstance(target, (list, tuple)) else [target]
        ogs = output_gradients if isinstance(output_gradients, (list, tuple)) else [output_gradients] * len(targets)
        grads = {}
        if _SINKS:
            _WALK["grads"] = grads
        for t, og in zip(targets, ogs):
            if not isinstance(t, EagerTensor):
                raise TypeError("GradientTape.gradient: target must be an EagerTensor, got %s" % type(t).__name__)
            if og is None:
                g = _C.empty(*t.shape, device=t.device)
                _C.fill_(g, 1.0)
            else:
                g = _val(og, t)
            _acc(grads, t, g)
        for node in reversed(self._nodes):
            outs = node.outputs
            if node.multi:
                gs = [grads.pop(id(o), None) if o is not None else None for o in outs]
                if all(g is None for g in gs):
                    continue
                gin = node.backward(gs, [_needs(i) for i in node.inputs])
            else:
                g = grads.pop(id(outs[0]), None)
                if g is None:
                    continue
                gin = node.backward(g, [_needs(i) for i in node.inputs])
            for i, gi in zip(node.inputs, gin):
                if gi is not None and _needs(i):
                    _acc(grads, i, gi)
        out = []
        for s in srcs:
            g = grads.get(id(s))
            if g is None and unconnected_gradients == "zero":
                g = _C.zeros(*s.shape, device=s.device)
            out.append(g)
        if not self._persistent:
            self._release()
        return out[0] if single else out

    def _release(self):
        for node in self._nodes:
            for o in node.outputs:
                if o is not None:
                    o._node = None
            node.inputs = node.outputs = node.backward = None
        self._nodes = []


_SINKS = {}  # id(source) -> (tensor, accumulate) during GradientTape.gradient(..., sinks=)
_WALK = {}   # {"grads": the gradient dict of that walk}


def _sink(t):
    """(out, accumulate) for writing the gradient of leaf `t` straight into its sink,
    or (None, False): only while the sink is t's whole gradient so far."""
    s = _SINKS.get(id(t)) if _SINKS else None
    if s is None:
        return None, False
    cur = _WALK["grads"].get(id(t))
    if cur is None:
        return s
    if cur is s[0]:
        return s[0], True
    return None, False


def _acc(grads, t, g):
    k = id(t)
    prev = grads.get(k)
    if prev is g:  # an op accumulated into the sink already
        return
    if prev is None:
        grads[k] = g
    else:
        grads[k] = _C.binary("add", prev, g)


class no_grad:
    """Context in which ops record nothing (even inside a tape)."""

    def __enter__(self):
        self._saved = [t._active for t in _TAPES]
        for t in _TAPES:
            t._active = False

    def __exit__(self, *exc):
        for t, a in zip(_TAPES, self._saved):
            t._active = a
        return False


# --------------------------------------------------------------------------
# conversion helpers
# --------------------------------------------------------------------------
def is_eager(x):
    return isinstance(x, EagerTensor)


def _device_of(*xs):
    for x in xs:
        if isinstance(x, EagerTensor):
            return x.value.device
        if isinstance(x, _C.Tensor):
            return x.device
    return "cpu"


def _val(x, like=None):
    """The `_C.Tensor` of x (EagerTensor, _C.Tensor, NumPy, scalar)."""
    if isinstance(x, EagerTensor):
        return x.value
    if isinstance(x, _C.Tensor):
        return x
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise TypeError("expected a numeric array, got dtype %s" % a.dtype)
    dev = _device_of(like) if like is not None else "cpu"
    if a.dtype.kind == "f" or a.dtype == np.bool_:
        a = a.astype(np.float32)
    return _C.tensor(np.require(a, None, "C"), device=dev)


def as_eager(x, like=None):
    if isinstance(x, EagerTensor):
        return x
    return EagerTensor(_val(x, like))


def _isscalar(x):
    return isinstance(x, (int, float, np.number)) and not isinstance(x, bool)


def _shape(x):
    return tuple(x.shape)


def _unbroadcast(g, shape):
    if tuple(g.shape) == tuple(shape):
        return g
    return _C.sum_to_shape(g, list(shape))


# --------------------------------------------------------------------------
# elementwise
# --------------------------------------------------------------------------
_BIN_OPS = {"add", "sub", "mul", "div", "maximum", "minimum", "pow"}


def _binary(op, a, b):
    if any(isinstance(v, EagerTensor) and v.dtype != "float32" for v in (a, b)):
        k = _kops()
        return {"add": k.add, "sub": k.subtract, "mul": k.multiply, "div": k.divide, "maximum": k.maximum,
                "minimum": k.minimum, "pow": k.power}[op](a, b)
    if _isscalar(b) and not _isscalar(a):
        return _binary_scalar(op, as_eager(a), float(b), False)
    if _isscalar(a) and not _isscalar(b):
        return _binary_scalar(op, as_eager(b), float(a), True)
    like = a if isinstance(a, (EagerTensor, _C.Tensor)) else b
    a = as_eager(a, like)
    b = as_eager(b, like)
    av, bv = a.value, b.value
    y = EagerTensor(_C.binary(op, av, bv))
    if recording():
        sa, sb = _shape(av), _shape(bv)

        def bw(g, needs):
            ga = gb = None
            if op == "add":
                ga = _unbroadcast(g, sa) if needs[0] else None
                gb = _unbroadcast(g, sb) if needs[1] else None
            elif op == "sub":
                ga = _unbroadcast(g, sa) if needs[0] else None
                gb = _unbroadcast(_C.unary("neg", g), sb) if needs[1] else None
            elif op == "mul":
                ga = _unbroadcast(_C.binary("mul", g, bv), sa) if needs[0] else None
                gb = _unbroadcast(_C.binary("mul", g, av), sb) if needs[1] else None
            elif op == "div":
                if needs[0]:
                    ga = _unbroadcast(_C.binary("div", g, bv), sa)
                if needs[1]:
                    t = _C.binary("div", _C.binary("mul", g, y.value), bv)
                    gb = _unbroadcast(_C.unary("neg", t), sb)
            elif op in ("maximum", "minimum"):
                # route to a where a wins (ties to a): mask = (a >= b) for max
                d = _C.binary("sub", av, bv) if op == "maximum" else _C.binary("sub", bv, av)
                ma = _C.binary_scalar("add", _C.binary_scalar("mul", _C.unary("sign", d), 0.5), 0.5)
                ma = _C.unary("round", _C.binary_scalar("add", ma, 0.25))  # 1 where d >= 0 else 0
                if needs[0]:
                    ga = _unbroadcast(_C.binary("mul", g, ma), sa)
                if needs[1]:
                    mb = _C.binary_scalar("sub", ma, 1.0, True)
                    gb = _unbroadcast(_C.binary("mul", g, mb), sb)
            else:  # pow
                if needs[0]:
                    t = _C.binary("mul", bv, _C.binary("div", y.value, av))
                    ga = _unbroadcast(_C.binary("mul", g, t), sa)
                if needs[1]:
                    t = _C.binary("mul", y.value, _C.unary("log", av))
                    gb = _unbroadcast(_C.binary("mul", g, t), sb)
            return ga, gb
        _record([a, b], [y], bw)
    return y


def _binary_scalar(op, x, s, reverse):
    xv = x.value
    y = EagerTensor(_C.binary_scalar(op, xv, s, reverse))
    if recording():
        def bw(g, needs):
            if op in ("add",):
                return (g,)
            if op == "sub":
                return (_C.unary("neg", g) if reverse else g,)
            if op == "mul":
                return (_C.binary_scalar("mul", g, s),)
            if op == "div":
                if not reverse:
                    return (_C.binary_scalar("mul", g, 1.0 / s),)
                t = _C.binary("div", y.value, xv)  # s/x^2 = y/x
                return (_C.unary("neg", _C.binary("mul", g, t)),)
            if op == "pow":
                if not reverse:  # x**s
                    t = _C.binary_scalar("mul", _C.binary_scalar("pow", xv, s - 1.0), s)
                    return (_C.binary("mul", g, t),)
                t = _C.binary_scalar("mul", y.value, float(np.log(s)))  # s**x
                return (_C.binary("mul", g, t),)
            if op in ("maximum", "minimum"):
                d = _C.binary_scalar("sub", xv, s)
                if op == "minimum":
                    d = _C.unary("neg", d)
                m = _C.binary_scalar("add", _C.binary_scalar("mul", _C.unary("sign", d), 0.5), 0.5)
                m = _C.unary("round", _C.binary_scalar("add", m, 0.25))
                return (_C.binary("mul", g, m),)
            raise NotImplementedError(op)
        _record([x], [y], bw)
    return y


def add(a, b): return _binary("add", a, b)
def subtract(a, b): return _binary("sub", a, b)
def multiply(a, b): return _binary("mul", a, b)
def divide(a, b): return _binary("div", a, b)
def maximum(a, b): return _binary("maximum", a, b)
def minimum(a, b): return _binary("minimum", a, b)
def power(a, b): return _binary("pow", a, b)
def negative(x): return unary("neg", x)


def unary(op, x):
    x = as_eager(x)
    xv = x.value
    y = EagerTensor(_C.unary(op, xv))
    if recording():
        def bw(g, needs):
            yv = y.value
            if op == "neg":
                return (_C.unary("neg", g),)
            if op == "exp":
                return (_C.binary("mul", g, yv),)
            if op == "log":
                return (_C.binary("div", g, xv),)
            if op == "sqrt":
                return (_C.binary_scalar("mul", _C.binary("div", g, yv), 0.5),)
            if op == "rsqrt":  # d x^-1/2 = -1/2 y^3
                t = _C.binary("mul", _C.binary("mul", yv, yv), yv)
                return (_C.binary_scalar("mul", _C.binary("mul", g, t), -0.5),)
            if op == "square":
                return (_C.binary_scalar("mul", _C.binary("mul", g, xv), 2.0),)
            if op == "abs":
                return (_C.binary("mul", g, _C.unary("sign", xv)),)
            if op == "reciprocal":
                return (_C.unary("neg", _C.binary("mul", g, _C.binary("mul", yv, yv))),)
            if op == "sin":
                return (_C.binary("mul", g, _C.unary("cos", xv)),)
            if op == "cos":
                return (_C.unary("neg", _C.binary("mul", g, _C.unary("sin", xv))),)
            if op in ("sign", "floor", "round"):
                z = _C.empty(*xv.shape, device=xv.device)
                _C.fill_(z, 0.0)
                return (z,)
            raise NotImplementedError("gradient of unary %s" % op)
        _record([x], [y], bw)
    return y


def activation(x, name, alpha=None):
    """activation_forward by name; backward through activation_backward.
    alpha None means the kernel's default for that activation (elu: 1)."""
    x = as_eager(x)
    if name == "linear":
        return x
    xv = x.value
    alpha = None if alpha is None else float(alpha)
    y = EagerTensor(_C.activation_forward(xv, name, alpha))
    if recording():
        def bw(g, needs):
            return (_C.activation_backward(g, xv, y.value, name, alpha),)
        _record([x], [y], bw)
    return y


def softmax(x, axis=-1):
    x = as_eager(x)
    y = EagerTensor(_C.softmax_forward(x.value, int(axis)))
    if recording():
        _record([x], [y], lambda g, n: (_C.softmax_backward(g, y.value, int(axis)),))
    return y


def log_softmax(x, axis=-1):
    x = as_eager(x)
    y = EagerTensor(_C.log_softmax_forward(x.value, int(axis)))
    if recording():
        def bw(g, needs):
            # d/dx = g - softmax * sum(g)
            p = _C.unary("exp", y.value)
            s = _C.reduce("sum", g, [int(axis) % len(y.shape)], True)
            return (_C.binary("sub", g, _C.binary("mul", p, s)),)
        _record([x], [y], bw)
    return y


def bias_add(x, b):
    x, b = as_eager(x), as_eager(b, x)
    y = EagerTensor(_C.bias_add(x.value, b.value))
    if recording():
        def bw(g, needs):
            db = None
            if needs[1]:
                out, acc = _sink(b)
                if out is not None:
                    _C.conv2d_backward_bias(g, out, acc)
                    db = out  # the sink object itself (the binding returns a new alias)
                else:
                    db = _C.conv2d_backward_bias(g)
            return (g if needs[0] else None, db)
        _record([x, b], [y], bw)
    return y


def clip(x, lo, hi):
    x = as_eager(x)
    xv = x.value
    y = EagerTensor(_C.clip(xv, float(lo), float(hi)))
    if recording():
        def bw(g, needs):
            # pass-through where lo < x < hi: mask = (y == x) computed as 1 - sign(|y - x|)
            d = _C.unary("sign", _C.unary("abs", _C.binary("sub", y.value, xv)))
            m = _C.binary_scalar("sub", d, 1.0, True)
            return (_C.binary("mul", g, m),)
        _record([x], [y], bw)
    return y


# --------------------------------------------------------------------------
# shape ops
# --------------------------------------------------------------------------
def reshape(x, shape):
    x = as_eager(x)
    shape = [int(s) for s in shape]
    xs = x.shape
    v = x.value if x.value.is_contiguous() else x.value.contiguous()
    y = EagerTensor(v.reshape(shape))
    if recording():
        _record([x], [y], lambda g, n: (g.reshape(list(xs)) if g.is_contiguous() else g.contiguous().reshape(list(xs)),))
    return y


def transpose(x, perm):
    x = as_eager(x)
    perm = [int(p) % x.ndim for p in perm]
    y = EagerTensor(_C.transpose(x.value, perm))
    if recording():
        inv = [0] * len(perm)
        for i, p in enumerate(perm):
            inv[p] = i
        _record([x], [y], lambda g, n: (_C.transpose(g, inv),))
    return y


def concat(xs, axis=-1):
    xs = [as_eager(x) for x in xs]
    nd = xs[0].ndim
    ax = int(axis) % nd
    y = EagerTensor(_C.concat([x.value for x in xs], ax))
    if recording():
        sizes = [x.shape[ax] for x in xs]

        def bw(g, needs):
            out, s = [], 0
            for n, k in zip(needs, sizes):
                out.append(_C.slice_axis(g, ax, s, s + k) if n else None)
                s += k
            return out
        _record(xs, [y], bw)
    return y


def slice_axis(x, axis, start, stop):
    x = as_eager(x)
    ax = int(axis) % x.ndim
    xs = x.shape
    y = EagerTensor(_C.slice_axis(x.value, ax, int(start), int(stop)))
    if recording():
        def bw(g, needs):
            parts = []
            if start > 0:
                s = list(xs); s[ax] = start
                parts.append(_C.zeros(*s, device=g.device))
            parts.append(g)
            if stop < xs[ax]:
                s = list(xs); s[ax] = xs[ax] - stop
                parts.append(_C.zeros(*s, device=g.device))
            return (_C.concat(parts, ax) if len(parts) > 1 else g,)
        _record([x], [y], bw)
    return y


def getitem(x, idx):
    """Basic indexing: ints and unit-step slices (x[:, -1], x[..., 0:3])."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    if any(i is Ellipsis for i in idx):
        k = idx.index(Ellipsis)
        fill = x.ndim - (len(idx) - 1)
        idx = idx[:k] + (slice(None),) * fill + idx[k + 1:]
    y = x
    drop = []
    for ax, i in enumerate(idx):
        n = x.shape[ax]
        if isinstance(i, slice):
            start, stop, step = i.indices(n)
            if step != 1:
                raise NotImplementedError("EagerTensor indexing: only unit-step slices are supported")
            if (start, stop) != (0, n):
                y = slice_axis(y, ax, start, stop)
        elif isinstance(i, (int, np.integer)):
            i = int(i) + (n if i < 0 else 0)
            if not 0 <= i < n:
                raise IndexError("index %d out of range for axis %d of size %d" % (i, ax, n))
            y = slice_axis(y, ax, i, i + 1)
            drop.append(ax)
        else:
            raise NotImplementedError("EagerTensor indexing with %r" % (i,))
    if drop:
        y = reshape(y, [s for a, s in enumerate(y.shape) if a not in drop])
    return y


def reduce(op, x, axes=None, keepdims=False):
    x = as_eager(x)
    nd = x.ndim
    axes = list(range(nd)) if axes is None else [int(a) % nd for a in (axes if isinstance(axes, (list, tuple)) else [axes])]
    xv = x.value
    y = EagerTensor(_C.reduce(op, xv, axes, bool(keepdims)))
    if recording():
        xs = x.shape
        kshape = [1 if a in axes else s for a, s in enumerate(xs)]

        def bw(g, needs):
            gk = g.reshape(kshape) if g.is_contiguous() else g.contiguous().reshape(kshape)
            if op in ("sum", "mean"):
                z = _C.zeros(*xs, device=g.device)
                out = _C.binary("add", z, gk)
                if op == "mean":
                    cnt = 1
                    for a in axes:
                        cnt *= xs[a]
                    out = _C.binary_scalar("mul", out, 1.0 / cnt)
                return (out,)
            if op in ("max", "min"):
                yk = y.value.reshape(kshape) if keepdims is False else y.value
                d = _C.unary("abs", _C.binary("sub", xv, yk))
                m = _C.binary_scalar("sub", _C.unary("sign", d), 1.0, True)  # 1 where x == extreme
                cnt = _C.reduce("sum", m, axes, True)  # ties share the gradient evenly (TF, torch.amax)
                return (_C.binary("mul", m, _C.binary("div", gk, cnt)),)
            raise NotImplementedError("gradient of reduce %s" % op)
        _record([x], [y], bw)
    return y


def matmul(a, b):
    """a @ b for rank-2, or batched rank-3 operands."""
    like = a if isinstance(a, (EagerTensor, _C.Tensor)) else b
    a, b = as_eager(a, like), as_eager(b, like)
    av, bv = a.value, b.value
    y = EagerTensor(_C.matmul(av, bv, False, False))
    if recording():
        def bw(g, needs):
            db = None
            if needs[1]:
                out, acc = _sink(b) if av.ndim == 2 else (None, False)
                if out is not None:
                    _C.gemm_into(out, av.contiguous(), g.contiguous(), True, False, 1.0, 1.0 if acc else 0.0)
                    db = out
                else:
                    db = _C.matmul(av, g, True, False)
            return (_C.matmul(g, bv, False, True) if needs[0] else None, db)
        _record([a, b], [y], bw)
    return y


def dense(x, w, b=None):
    """x (..., in) @ w (in, out) [+ b]: rank > 2 inputs are flattened around the GEMM."""
    x = as_eager(x)
    lead = x.shape[:-1]
    x2 = reshape(x, [-1, x.shape[-1]]) if x.ndim != 2 else x
    y = matmul(x2, w)
    if b is not None:
        y = bias_add(y, b)
    if x.ndim != 2:
        y = reshape(y, list(lead) + [y.shape[-1]])
    return y


def cast(x, dtype):
    x = as_eager(x)
    if x.dtype == dtype:
        return x
    return EagerTensor(_C.cast(x.value, dtype))


def one_hot(ids, depth):
    ids = as_eager(ids)
    v = ids.value
    if v.dtype == "float32":
        v = _C.cast(v, "int32")
    return EagerTensor(_C.one_hot(v, int(depth)))


def embedding(ids, table):
    """table[ids]: (..., dim) rows of table (vocab, dim) gathered by integer ids (the CPU
    kernel; on a device, one_hot(ids) @ table). Gradient only for the table."""
    table = as_eager(table)
    ids = as_eager(ids, table)
    v = ids.value
    if v.dtype == "float32":
        v = _C.cast(v, "int32")
    vocab = table.shape[0]
    if table.value.device != "cpu":
        y = matmul(one_hot(reshape(EagerTensor(v), [-1]), vocab), table)
        return reshape(y, list(ids.shape) + [table.shape[1]])
    y = EagerTensor(_C.embedding_lookup(v, table.value))
    if recording():
        def bw(g, needs):
            out, acc = _sink(table)
            if out is not None:
                return (None, _C.embedding_backward(g.contiguous(), v, vocab, out, acc))
            return (None, _C.embedding_backward(g.contiguous(), v, vocab))
        _record([ids, table], [y], bw)
    return y


# --------------------------------------------------------------------------
# conv / pooling / normalization / dropout / padding
# --------------------------------------------------------------------------
def conv2d(x, w, b=None, strides=(1, 1), padding="valid", dilations=(1, 1), groups=1, activation="none"):
    x = as_eager(x)
    w = as_eager(w, x)
    b = as_eager(b, x) if b is not None else None
    strides, dilations = tuple(strides), tuple(dilations)
    xv, wv = x.value, w.value
    y = EagerTensor(_C.conv2d_forward(xv, wv, None if b is None else b.value, strides, padding, dilations,
                                      int(groups), activation))
    if recording():
        xs, ws = list(xv.shape), list(wv.shape)

        def bw(g, needs):
            if activation == "relu":
                g = _C.activation_backward(g, y.value, y.value, "relu")
            dx = _C.conv2d_backward_input(g, wv, xs, strides, padding, dilations, int(groups)) if needs[0] else None
            dw = db = None
            if needs[1]:
                out, acc = _sink(w)
                dw = _C.conv2d_backward_filter(g, xv, ws, strides, padding, dilations, int(groups), out, acc)
                if out is not None:
                    dw = out  # the sink object itself (the binding returns a new alias)
            if len(needs) > 2 and needs[2]:
                out, acc = _sink(b)
                if out is not None:
                    _C.conv2d_backward_bias(g, out, acc)
                    db = out
                else:
                    db = _C.conv2d_backward_bias(g)
            return dx, dw, db
        _record([x, w] + ([b] if b is not None else []), [y], bw)
    return y


def pool2d(x, mode, ksize, strides, padding):
    x = as_eager(x)
    ksize, strides = tuple(int(k) for k in ksize), tuple(int(s) for s in strides)
    xv = x.value
    y = EagerTensor(_C.pool2d_forward(xv, mode, ksize, strides, padding))
    if recording():
        _record([x], [y], lambda g, n: (_C.pool2d_backward(g, xv, mode, ksize, strides, padding),))
    return y


def global_pool(x, mode):
    x = as_eager(x)
    xv = x.value
    y = EagerTensor(_C.global_pool_forward(xv, mode))
    if recording():
        _record([x], [y], lambda g, n: (_C.global_pool_backward(g, xv, mode),))
    return y


def batch_norm_train(x, gamma, beta, eps):
    """Training-mode batch norm over all axes but the last: returns (y, mean, var)
    (mean/var are `_C.Tensor`s for the running-statistics update)."""
    x = as_eager(x)
    xv = x.value
    gv = gamma.value if gamma is not None else None
    bv = beta.value if beta is not None else None
    yv, mean, var = _C.batch_norm_forward_train(xv, gv, bv, float(eps))
    y = EagerTensor(yv)
    if recording():
        def bw(g, needs):
            dx, dg, db = _C.batch_norm_backward(g, xv, gv, mean, var, float(eps))
            out = [dx]
            if gamma is not None:
                out.append(dg)
            if beta is not None:
                out.append(db)
            return out
        _record([x] + [t for t in (gamma, beta) if t is not None], [y], bw)
    return y, mean, var


def batch_norm_infer(x, gamma, beta, mean, var, eps):
    x = as_eager(x)
    need = recording() and any(_needs(t) for t in (x, gamma, beta))
    if not need:
        return EagerTensor(_C.batch_norm_forward_infer(
            x.value, None if gamma is None else gamma.value, None if beta is None else beta.value,
            mean.value, var.value, float(eps)))
    # differentiable composition (frozen statistics): (x - mean) * rsqrt(var + eps) * gamma + beta
    inv = EagerTensor(_C.unary("rsqrt", _C.binary_scalar("add", var.value, float(eps))))
    y = multiply(subtract(x, EagerTensor(mean.value)), inv)
    if gamma is not None:
        y = multiply(y, gamma)
    if beta is not None:
        y = add(y, beta)
    return y


def lrn(x, depth_radius=5, bias=1.0, alpha=1.0, beta=0.5):
    x = as_eager(x)
    xv = x.value
    args = (int(depth_radius), float(bias), float(alpha), float(beta))
    y = EagerTensor(_C.lrn_forward(xv, *args))
    if recording():
        _record([x], [y], lambda g, n: (_C.lrn_backward(g, xv, *args),))
    return y


def pad2d(x, top, bottom, left, right):
    x = as_eager(x)
    p = (int(top), int(bottom), int(left), int(right))
    y = EagerTensor(_C.pad2d(x.value, *p))
    if recording():
        _record([x], [y], lambda g, n: (_C.pad2d_backward(g, *p),))
    return y


def dropout(x, rate, seed):
    x = as_eager(x)
    yv, mask = _C.dropout_forward(x.value, float(rate), int(seed))
    y = EagerTensor(yv)
    if recording():
        _record([x], [y], lambda g, n: (_C.dropout_backward(g, mask, float(rate)),))
    return y


# --------------------------------------------------------------------------
# recurrent
# --------------------------------------------------------------------------
def rnn(x, kernel, recurrent_kernel, bias=None, h0=None, c0=None, cell="simple_tanh",
        go_backwards=False, reset_after=True):
    """Whole-sequence RNN: returns (outputs (N,T,U), h_T, c_T or None) as EagerTensors."""
    x = as_eager(x)
    h0 = as_eager(h0, x) if h0 is not None else None
    c0 = as_eager(c0, x) if c0 is not None else None
    vals = [t.value if t is not None else None for t in (x, kernel, recurrent_kernel, bias, h0, c0)]
    o, h, c, ws = _C.rnn_forward(vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], cell,
                                 bool(go_backwards), bool(reset_after))
    outs = [EagerTensor(o), EagerTensor(h), EagerTensor(c) if c is not None else None]
    if recording():
        present = [t is not None for t in (bias, h0, c0)]

        def bw(gs, needs):
            r = _C.rnn_backward(gs[0], gs[1], gs[2] if len(gs) > 2 else None, vals[0], vals[1], vals[2], vals[3],
                                vals[4], vals[5], ws, cell, bool(go_backwards), bool(reset_after))
            dx, dk, drk, db, dh0, dc0 = r
            out = [dx, dk, drk]
            for p, d in zip(present, (db, dh0, dc0)):
                if p:
                    out.append(d)
            return out
        ins = [x, kernel, recurrent_kernel] + [t for t in (bias, h0, c0) if t is not None]
        _record(ins, outs, bw, multi=True)
    return outs[0], outs[1], outs[2]


def reverse_time(x):
    """x (N, T, U) reversed along axis 1 (a permutation GEMM, so it is differentiable)."""
    x = as_eager(x)
    n, t, u = x.shape
    if t == 1:
        return x
    j = np.ascontiguousarray(np.eye(t, dtype=np.float32)[::-1])
    jt = EagerTensor(_C.tensor(j, device=x.device))
    xt = reshape(transpose(x, [0, 2, 1]), [n * u, t])
    y = reshape(matmul(xt, jt), [n, u, t])
    return transpose(y, [0, 2, 1])


# --------------------------------------------------------------------------
# losses: per-sample vectors
# --------------------------------------------------------------------------
def softmax_cross_entropy(logits, labels):
    logits = as_eager(logits)
    lab = _val(labels, logits)
    loss, probs = _C.softmax_cross_entropy_forward(logits.value, lab)
    out = EagerTensor(loss)
    if recording():
        _record([logits], [out], lambda g, n: (_C.softmax_cross_entropy_backward(probs, lab, g),))
    return out


def crossentropy_probs(probs, labels):
    probs = as_eager(probs)
    lab = _val(labels, probs)
    pv = probs.value
    out = EagerTensor(_C.crossentropy_probs_forward(pv, lab))
    if recording():
        _record([probs], [out], lambda g, n: (_C.crossentropy_probs_backward(pv, lab, g),))
    return out


def binary_crossentropy(pred, target, from_logits=False):
    pred = as_eager(pred)
    tv = _val(target, pred)
    pv = pred.value
    out = EagerTensor(_C.binary_crossentropy_forward(pv, tv, bool(from_logits)))
    if recording():
        _record([pred], [out], lambda g, n: (_C.binary_crossentropy_backward(pv, tv, g, bool(from_logits)),))
    return out


def _regression(fw, bwf, pred, target, *extra):
    pred = as_eager(pred)
    tv = _val(target, pred)
    pv = pred.value
    out = EagerTensor(fw(pv, tv, *extra))
    if recording():
        _record([pred], [out], lambda g, n: (bwf(pv, tv, g, *extra),))
    return out


def mse(pred, target):
    return _regression(_C.mse_forward, _C.mse_backward, pred, target)


def mae(pred, target):
    return _regression(_C.mae_forward, _C.mae_backward, pred, target)


def huber(pred, target, delta=1.0):
    return _regression(_C.huber_forward, _C.huber_backward, pred, target, float(delta))


# --------------------------------------------------------------------------
# routing tf.nn-style functions to differentiable versions
# --------------------------------------------------------------------------
def routes_eager(diff_fn):
    """Decorator for pyconvnet.nn functions: when any argument is an EagerTensor,
    call `diff_fn` (same signature) instead, so the op lands on the tape."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if any(isinstance(a, EagerTensor) for a in args) or \
                    any(isinstance(v, EagerTensor) for v in kwargs.values()):
                return diff_fn(*args, **kwargs)
            return fn(*args, **kwargs)
        return wrapper
    return deco


# --------------------------------------------------------------------------
# tf.nn-style differentiable versions (pyconvnet.nn routes EagerTensors here)
# --------------------------------------------------------------------------
def _nhwc4(v, what):
    if isinstance(v, (int, np.integer)):
        return (1, int(v), int(v), 1)
    v = tuple(int(i) for i in v)
    if len(v) == 1:
        return (1, v[0], v[0], 1)
    if len(v) == 2:
        return (1, v[0], v[1], 1)
    if len(v) == 4:
        if v[0] != 1:
            raise ValueError("%s: pooling over the batch dimension is not supported, got %s" % (what, v))
        return v
    raise ValueError("%s: expected an int, 2 or 4 values, got %s" % (what, v))


def _tf_pool(mode, name, input, ksize, strides, padding, data_format=None):
    from .nn.pooling import _window_arg, _padding_arg  # tf.nn argument forms, shared with pyconvnet.nn
    if data_format not in (None, "NHWC"):
        raise ValueError("%s: only data_format='NHWC' is supported, got %r" % (name, data_format))
    return pool2d(input, mode, _window_arg(ksize, name, "ksize"), _window_arg(strides, name, "strides"),
                  _padding_arg(padding, name))


def tfnn_max_pool(input, ksize, strides, padding, data_format=None, name=None):
    return _tf_pool("max", "max_pool", input, ksize, strides, padding, data_format)


def tfnn_avg_pool(input, ksize, strides, padding, data_format=None, name=None):
    return _tf_pool("avg", "avg_pool", input, ksize, strides, padding, data_format)


def tfnn_conv2d(input, filters, strides, padding, data_format="NHWC", dilations=None, name=None):
    from .nn.conv import _hw, _padding, _nhwc  # tf.nn argument forms, shared with pyconvnet.nn
    op = "conv2d"
    _nhwc(data_format, op)
    x, w = as_eager(input), as_eager(filters, input)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError("conv2d: input and filters must be 4-D, got shapes %s and %s" % (x.shape, w.shape))
    if w.shape[2] <= 0 or x.shape[3] % w.shape[2]:
        raise ValueError("conv2d: input channels %d not divisible by the filter's input channels %d"
                         % (x.shape[3], w.shape[2]))
    return conv2d(x, w, None, _hw(strides, "strides", op), _padding(padding, op), _hw(dilations, "dilations", op),
                  x.shape[3] // w.shape[2])


def tfnn_depthwise_conv2d(input, filter, strides, padding, data_format="NHWC", dilations=None, name=None):
    from .nn.conv import _hw, _padding, _nhwc
    op = "depthwise_conv2d"
    _nhwc(data_format, op)
    x, w = as_eager(input), as_eager(filter, input)
    kh, kw, c, m = w.shape
    if c != x.shape[3]:
        raise ValueError("depthwise_conv2d: filter has %d input channels, input has %d" % (c, x.shape[3]))
    return conv2d(x, reshape(w, [kh, kw, 1, c * m]), None, _hw(strides, "strides", op), _padding(padding, op),
                  _hw(dilations, "dilations", op), c)


def tfnn_global_avg_pool(x):
    return global_pool(x, "avg")


def tfnn_global_max_pool(x):
    return global_pool(x, "max")


def tfnn_lrn(input, depth_radius=5, bias=1, alpha=1, beta=0.5, name=None):
    return lrn(input, depth_radius, bias, alpha, beta)
