"""Tiny smoke run of every CUDA pooling / normalization / RNN op, for
compute-sanitizer (few launches, tiny shapes, seconds under memcheck):

    compute-sanitizer --tool memcheck   python tests/cuda_smoke_pool_norm_rnn.py
    compute-sanitizer --tool racecheck  python tests/cuda_smoke_pool_norm_rnn.py
    compute-sanitizer --tool initcheck  python tests/cuda_smoke_pool_norm_rnn.py --no-poison
    compute-sanitizer --tool synccheck  python tests/cuda_smoke_pool_norm_rnn.py

Each op runs on CPU and CUDA copies of the same input and the results are
compared (loose tolerance: this is a sanitizer driver, the real checks are in
tests/test_cuda_pool_norm_rnn.py). Exit status 1 on any mismatch, 2 (with a
message) when there is no CUDA device. --no-poison leaves new allocations
unfilled so initcheck can see reads of memory nothing wrote."""
import os
import sys

import numpy as np

# the source tree only when the extension was built in place there; else the installed package
if __import__("glob").glob(os.path.join(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."), "pyconvnet", "_C*.so")):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import pyconvnet as pcn  # noqa: E402

_C = pcn._C
checks = 0
failed = 0


def cpu(a):
    return None if a is None else pcn.tensor(np.ascontiguousarray(a, dtype=np.float32))


def gpu(a):
    return None if a is None else cpu(a).to("cuda")


def host(t):
    return None if t is None else np.array(t.to("cpu").numpy(), copy=True)


def check(name, fn, *args, rtol=1e-4, atol=1e-4):
    """fn(*args) on CPU and CUDA (numpy args; None passes through); compare every returned tensor."""
    global checks, failed
    rc = fn(*[cpu(a) if isinstance(a, np.ndarray) else a for a in args])
    rg = fn(*[gpu(a) if isinstance(a, np.ndarray) else a for a in args])
    rc = rc if isinstance(rc, tuple) else (rc,)
    rg = rg if isinstance(rg, tuple) else (rg,)
    _C.synchronize()
    for i, (a, b) in enumerate(zip(rc, rg)):
        checks += 1
        a, b = host(a), host(b)
        if a is None and b is None:
            continue
        ok = a is not None and b is not None and a.shape == b.shape and np.allclose(b, a, rtol=rtol, atol=atol)
        if not ok:
            failed += 1
            print("MISMATCH %s output %d" % (name, i))
    return rc, rg


def main():
    global checks, failed
    if not (_C.build_info()["cuda_compiled"] and _C.cuda_devices()):
        print("cuda_smoke_pool_norm_rnn: no CUDA device (or CUDA not compiled in)")
        return 2
    _C.set_poison_allocations("--no-poison" not in sys.argv)
    rng = np.random.default_rng(0)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731

    # pooling: spatial overlap + padding, depth pooling, all-pad windows
    for (shape, k, s, pad) in [((2, 5, 6, 3), (3, 3), (2, 2), "same"),
                               ((1, 4, 5, 7), (2, 2, 3), (1, 2, 2), "valid"),
                               ((1, 3, 4, 2), (2, 2), (2, 2), [2, 2, 3, 1])]:
        x = f(*shape)
        for mode in ("max", "avg"):
            (yc,), _ = check("pool2d_forward %s" % mode, _C.pool2d_forward, x, mode, k, s, pad)
            dy = f(*yc.shape)
            check("pool2d_backward %s" % mode, _C.pool2d_backward, dy, x, mode, k, s, pad)
    x = f(2, 3, 5, 37)
    for mode in ("max", "avg"):
        check("global_pool_forward %s" % mode, _C.global_pool_forward, x, mode)
        check("global_pool_backward %s" % mode, _C.global_pool_backward, f(2, 37), x, mode)

    # batch norm (C > 32: two channel blocks), LRN
    x = f(3, 4, 2, 40)
    g, b = f(40), f(40)
    (y, m, v), _ = check("batch_norm_forward_train", _C.batch_norm_forward_train, x, g, b, 1e-3)
    check("batch_norm_forward_train (no affine)", _C.batch_norm_forward_train, x, None, None, 1e-3)
    mn, vr = host(m), host(v)
    check("batch_norm_forward_infer", _C.batch_norm_forward_infer, x, g, b, mn, vr, 1e-3)
    check("batch_norm_backward", _C.batch_norm_backward, f(3, 4, 2, 40), x, g, mn, vr, 1e-3)
    rm, rv = gpu(f(40)), gpu(np.abs(f(40)))
    _C.batch_norm_update_running_(rm, rv, gpu(mn), gpu(vr), 0.9)
    _C.synchronize()
    for r, (rad, beta) in enumerate([(2, 0.75), (5, 0.5), (1, 0.6)]):
        x = f(2, 2, 3, 9)
        check("lrn_forward %d" % r, _C.lrn_forward, x, rad, 1.0, 0.1, beta)
        check("lrn_backward %d" % r, _C.lrn_backward, f(2, 2, 3, 9), x, rad, 1.0, 0.1, beta)

    # RNN: every cell, go_backwards and initial states on some
    N, T, I, U = 2, 3, 4, 5
    for cell, ra, G, gb, state in [("simple_tanh", True, 1, False, True), ("simple_relu", True, 1, True, False),
                                   ("lstm", True, 4, True, True), ("gru", True, 3, False, True),
                                   ("gru", False, 3, True, True)]:
        x, k, rk = f(N, T, I), f(I, G * U) * 0.5, f(U, G * U) * 0.5
        bias = f(2, G * U) if (cell == "gru" and ra) else f(G * U)
        h0 = f(N, U) if state else None
        c0 = f(N, U) if (state and cell == "lstm") else None
        name = "%s%s" % (cell, "" if ra else "_v1")
        rc, rg = check("rnn_forward %s" % name, _C.rnn_forward, x, k, rk, bias, h0, c0, cell, gb, ra)
        dout, dhT = f(N, T, U), f(N, U)
        dcT = f(N, U) if cell == "lstm" else None
        put = [cpu, gpu]
        res = []
        for dev, r in enumerate((rc, rg)):
            p = put[dev]
            res.append(_C.rnn_backward(p(dout), p(dhT), p(dcT), p(x), p(k), p(rk), p(bias), p(h0), p(c0), r[3],
                                       cell, gb, ra))
        _C.synchronize()
        for i, (a, b) in enumerate(zip(*res)):
            checks += 1
            a, b = host(a), host(b)
            if (a is None) != (b is None) or (a is not None and not np.allclose(b, a, rtol=1e-4, atol=1e-4)):
                failed += 1
                print("MISMATCH rnn_backward %s output %d" % (name, i))

    _C.synchronize()
    print("cuda_smoke_pool_norm_rnn: %d checks, %d failed" % (checks, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
