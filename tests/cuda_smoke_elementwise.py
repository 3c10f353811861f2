"""Call every CUDA kernel of the elementwise, loss and optimizer families once
(each launch path: float4 and scalar tails, one- and two-pass reductions, row
and column softmax, every cast, the label-error path), on tiny shapes, for
compute-sanitizer:

    compute-sanitizer --tool memcheck  python tests/cuda_smoke_elementwise.py
    compute-sanitizer --tool racecheck python tests/cuda_smoke_elementwise.py
    compute-sanitizer --tool initcheck python tests/cuda_smoke_elementwise.py

Exits 0 after printing "cuda_smoke_elementwise: OK", or prints SKIP when there is no CUDA device."""
import os
import sys

import numpy as np

# the source tree only when the extension was built in place there; else the installed package
if __import__("glob").glob(os.path.join(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."), "pyconvnet", "_C*.so")):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import pyconvnet as pcn  # noqa: E402

C = pcn._C


def main():
    if not pcn.info()["cuda_devices"]:
        print("cuda_smoke_elementwise: SKIP (no CUDA device)")
        return 0
    rng = np.random.default_rng(0)

    def d(a):
        return pcn.tensor(np.array(a, order="C")).to("cuda")

    def f(*shape, scale=1.0):
        return d((rng.standard_normal(shape) * scale).astype(np.float32))

    def h(t):
        return np.array(t.cpu(), copy=True)

    calls = 0

    def run(fn, *a, **k):
        nonlocal calls
        calls += 1
        return fn(*a, **k)

    # pointwise: float4 body + tail (n=1001), scalar-only (n=3); every op once
    for n in (3, 1001):
        x = f(n)
        xp = d(np.abs(h(x)) + 0.1)
        for op in ("neg", "exp", "log", "sqrt", "rsqrt", "square", "abs", "sign", "reciprocal", "sin", "cos",
                   "floor", "round", "tanh", "sigmoid", "log1p", "expm1"):
            run(C.unary, op, xp if op in ("log", "sqrt", "rsqrt", "log1p") else x)
        for op in ("add", "sub", "mul", "div", "maximum", "minimum", "pow"):
            run(C.binary_scalar, op, xp, 1.5, reverse=False)
            run(C.binary_scalar, op, xp, 1.5, reverse=True)
        run(C.clip, x, -0.5, 0.5)
        t = f(n)
        run(C.fill_, t, 2.0)
        run(C.scale_, t, 0.5)
        run(C.axpy_, t, x, 0.25)
        # activations forward / backward (x only, y only, both)
        dy = f(n)
        for name in ("linear", "relu", "relu6", "leaky_relu", "elu", "selu", "sigmoid", "hard_sigmoid", "tanh",
                     "softplus", "softsign", "swish", "gelu", "gelu_tanh", "exponential"):
            y = run(C.activation_forward, x, name)
            run(C.activation_backward, dy, x, None, name)
            run(C.activation_backward, dy, x, y, name)
            if name in ("linear", "relu", "sigmoid", "tanh", "exponential"):
                run(C.activation_backward, dy, None, y, name)
        # dropout
        y, m = run(C.dropout_forward, x, 0.3, 7)
        run(C.dropout_backward, dy, m, 0.3)

    # binary: same shape (float4), broadcast (int32 path), 6 merged dims
    for op in ("add", "sub", "mul", "div", "maximum", "minimum", "pow"):
        run(C.binary, op, f(1001), f(1001))
        run(C.binary, op, f(5, 33), f(33))
        run(C.binary, op, f(2, 3, 1, 5, 1, 2), f(3, 4, 1, 6, 1))
    run(C.bias_add, f(4, 3, 3, 8), f(8))

    # reduce: row one-pass / two-pass, column one-pass / two-pass, odometer, empty
    for op in ("sum", "mean", "max", "min", "prod"):
        run(C.reduce, op, f(7, 11), 1)          # row, one pass
        run(C.reduce, op, f(5000), None)        # row, chunks + final
        run(C.reduce, op, f(7, 11), 0)          # column, one pass
        run(C.reduce, op, f(4, 3, 5), [0, 2])   # row, two reduced dims (div/mod offsets)
        run(C.reduce, op, f(70000, 1, 2), 0)    # column, few outputs, chunks
        run(C.reduce, op, f(2, 3, 4, 5), [0, 2])  # column, two reduced dims (odometer)
        run(C.reduce, op, f(3, 4, 5), [1, 2], keepdims=True)
    run(C.reduce, "sum", d(np.zeros((3, 0), np.float32)), 1)
    run(C.sum_to_shape, f(6, 4, 5), [4, 1])

    # softmax: rows of 32 / 128 / 256 threads, columns; NaN row; backward
    for shape, axis in (((3, 10), -1), ((2, 300), -1), ((2, 3000), -1), ((3, 4, 5), 1)):
        for log in (False, True):
            x = f(*shape)
            y = run(C.log_softmax_forward if log else C.softmax_forward, x, axis)
            run(C.log_softmax_backward if log else C.softmax_backward, f(*shape), y, axis)
    xn = np.ones((2, 5), np.float32)
    xn[0, 2] = np.nan
    run(C.softmax_forward, d(xn), -1)

    # data movement: transpose (1/4/8-byte), slice, concat, pad
    for dt in (np.float32, np.int64, np.uint8):
        run(C.transpose, d((rng.standard_normal((2, 3, 4)) * 10).astype(dt)), [2, 0, 1])
    x = f(2, 5, 4, 3)
    run(C.slice_axis, x, 1, 1, 4)
    run(C.concat, [f(2, 1, 3), f(2, 4, 3)], 1)
    run(C.pad2d, x, 1, 0, 2, 1, value=0.5)
    run(C.pad2d_backward, x, 1, 1, 1, 1)

    # casts: every pair
    src = {"float32": d(np.array([1.5, -2.5, np.nan, 3e9, 300.0], np.float32)),
           "int32": d(np.array([1, -2, 300, 7, 0], np.int32)),
           "int64": d(np.array([1, -2, 300, 7, 1 << 40], np.int64)),
           "uint8": d(np.array([1, 2, 255, 7, 0], np.uint8))}
    for s, t in src.items():
        for dst in ("float32", "int32", "int64", "uint8"):
            run(C.cast, t, dst)

    # index ops
    for dt in ("int32", "int64", "uint8"):
        run(C.one_hot, d(np.array([0, 2, 9, 1], dt)), 4)
    run(C.argmax, f(5, 7), -1)
    run(C.argmax, f(3, 4, 5), 1)
    run(C.where, d((rng.random(9) > 0.5).astype(np.uint8)), f(9), f(9))
    run(C.where, f(9), f(9), f(9))
    lab = rng.integers(0, 7, 6).astype(np.int64)
    run(C.accuracy_count, f(6, 7), d(lab))

    # losses: sparse int32/int64/uint8, dense; bad labels raise ValueError
    for N, Cn in ((4, 3), (2, 700)):
        z = f(N, Cn)
        for lab in (rng.integers(0, Cn, N).astype(np.int32), rng.integers(0, Cn, N).astype(np.int64),
                    np.eye(Cn, dtype=np.float32)[rng.integers(0, Cn, N)]):
            loss, probs = run(C.softmax_cross_entropy_forward, z, d(lab))
            run(C.softmax_cross_entropy_backward, probs, d(lab), f(N))
            run(C.crossentropy_probs_forward, probs, d(lab))
            run(C.crossentropy_probs_backward, probs, d(lab), f(N))
    z = f(4, 3)
    run(C.softmax_cross_entropy_forward, z, d(np.array([0, 1, 2, 1], np.uint8)))
    for fn in (C.softmax_cross_entropy_forward, C.crossentropy_probs_forward):
        try:
            run(fn, z, d(np.array([0, 5, -1, 1], np.int64)))
        except ValueError as e:
            assert "label 5 at index 1" in str(e), e
        else:
            raise AssertionError("out-of-range label did not raise")
    for shape in ((6, 3), (3, 100)):
        p, t = f(*shape), d((rng.random(shape) > 0.5).astype(np.float32))
        q = d(np.clip(rng.random(shape), 0.01, 0.99).astype(np.float32))
        dl = f(shape[0])
        for fwd, bwd, kw, x in ((C.mse_forward, C.mse_backward, {}, p), (C.mae_forward, C.mae_backward, {}, p),
                                (C.huber_forward, C.huber_backward, {"delta": 0.5}, p),
                                (C.binary_crossentropy_forward, C.binary_crossentropy_backward,
                                 {"from_logits": True}, p),
                                (C.binary_crossentropy_forward, C.binary_crossentropy_backward,
                                 {"from_logits": False}, q)):
            run(fwd, x, t, **kw)
            run(bwd, x, t, dl, **kw)

    # optimizers: every variant
    n = 1001
    z0 = lambda: d(np.zeros(n, np.float32))  # noqa: E731
    w, g = f(n), f(n)
    run(C.sgd_update_, w, g, lr=0.1)
    run(C.sgd_update_, w, g, z0(), lr=0.1, momentum=0.9)
    run(C.sgd_update_, w, g, z0(), lr=0.1, momentum=0.9, nesterov=True)
    run(C.adam_update_, w, g, z0(), z0(), step=1)
    run(C.adam_update_, w, g, z0(), z0(), step=2, vhat=z0())
    run(C.rmsprop_update_, w, g, z0())
    run(C.rmsprop_update_, w, g, z0(), average_grad=z0(), momentum_buf=z0(), momentum=0.9, centered=True)
    run(C.adagrad_update_, w, g, z0())

    assert np.isfinite(h(w)).all()
    print("cuda_smoke_elementwise: OK (%d calls)" % calls)
    return 0


if __name__ == "__main__":
    sys.exit(main())
