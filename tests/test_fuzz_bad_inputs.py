"""Thousands of random, mostly invalid calls into every op of the extension.

Each call must either succeed or raise ValueError / TypeError / RuntimeError /
IndexError / OverflowError / NotImplementedError with a message; nothing may
crash the interpreter, hang, or raise anything else. The fuzzing runs in a child
process, so a segfault shows up as a failed test (with the seed and the last
call printed) instead of taking pytest down.
"""
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The directory holding the pyconvnet these tests import (the source tree when built in
# place, site-packages when installed): child processes must import the same one.
import pyconvnet as _pcn_for_path  # noqa: E402
PKG_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(_pcn_for_path.__file__)))


FUZZ = textwrap.dedent(r"""
    import sys, random, traceback
    import numpy as np
    import pyconvnet as pcn
    from pyconvnet import _C

    seed, n_calls = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    OK = (ValueError, TypeError, RuntimeError, IndexError, OverflowError, NotImplementedError)
    SKIP = {"set_num_threads", "force_simd_level", "set_poison_allocations", "fma_peak_gflops", "cuda_empty_cache",
            "set_matmul_precision", "from_dlpack"}
    ops = [n for n in dir(_C) if not n.startswith("_") and callable(getattr(_C, n)) and n not in SKIP
           and n != "Tensor"]

    def rand_shape():
        nd = rng.choice([0, 1, 1, 2, 2, 3, 4, 4, 4, 5, 7])
        dims = []
        for _ in range(nd):
            dims.append(rng.choice([0, 1, 1, 2, 3, 4, 5, 7, 8, 16]))
        return tuple(dims)

    def rand_tensor():
        shape = rand_shape()
        kind = rng.random()
        if kind < 0.70:
            a = nrng.standard_normal(shape).astype(np.float32)
            if rng.random() < 0.1 and a.size:
                a.flat[rng.randrange(a.size)] = np.nan
        elif kind < 0.8:
            a = nrng.integers(-3, 12, shape).astype(rng.choice([np.int32, np.int64]))
        elif kind < 0.85:
            a = nrng.integers(0, 255, shape).astype(np.uint8)
        else:
            a = nrng.standard_normal(shape).astype(np.float32)
            if a.ndim >= 2 and a.shape[-1] > 1:
                return pcn.from_numpy(a[..., ::2])  # a strided (non-contiguous) view
        return pcn.from_numpy(a)

    def rand_arg():
        r = rng.random()
        if r < 0.45:
            return rand_tensor()
        if r < 0.55:
            return None
        if r < 0.65:
            return rng.choice([0, 1, 2, 3, -1, -7, 2**31, 2**40, 2**62])
        if r < 0.72:
            return rng.choice([0.0, 0.5, -1.0, 1e30, float("nan"), float("inf")])
        if r < 0.82:
            return rng.choice(["valid", "same", "SAME", "max", "avg", "relu", "lstm", "gru", "simple_tanh",
                               "add", "mul", "sum", "mean", "bogus", ""])
        if r < 0.95:
            return tuple(rng.choice([0, 1, 2, 3, -1, 5, 2**33]) for _ in range(rng.choice([0, 1, 2, 3, 4, 5])))
        return [rand_tensor() for _ in range(rng.choice([0, 1, 2, 3]))]

    def small_int():
        return rng.choice([-2, -1, 0, 1, 1, 2, 3, 5, 9, 2**31 + 1, 2**45])

    def pad():
        return rng.choice(["valid", "same", "SAME", "full", [0, 0, 0, 0], [1, 2, 0, 3], [-1, 0, 0, 0],
                           [2**41, 0, 0, 0], [1, 1]])

    # Well-typed calls with random (often inconsistent) shapes and values: these
    # get past the binding layer and exercise the fronts' validation and kernels.
    TYPED = {
        "conv2d_forward": lambda: (rand_tensor(), rand_tensor(), rng.choice([None, rand_tensor()]),
                                   (small_int(), small_int()), pad(), (small_int(), small_int()), small_int(),
                                   rng.choice(["none", "relu", "tanh"])),
        "conv2d_backward_input": lambda: (rand_tensor(), rand_tensor(), rand_shape() or (1, 2, 3, 4),
                                          (small_int(), small_int()), pad(), (1, 1), small_int()),
        "conv2d_backward_filter": lambda: (rand_tensor(), rand_tensor(), rand_shape() or (1, 1, 1, 1),
                                           (small_int(), small_int()), pad(), (1, small_int()), small_int()),
        "pool2d_forward": lambda: (rand_tensor(), rng.choice(["max", "avg", "min"]),
                                   tuple(small_int() for _ in range(rng.choice([2, 3]))),
                                   tuple(small_int() for _ in range(rng.choice([2, 3]))), pad()),
        "pool2d_backward": lambda: (rand_tensor(), rand_tensor(), rng.choice(["max", "avg"]),
                                    (small_int(), small_int(), 1), (small_int(), small_int(), 1), pad()),
        "matmul": lambda: (rand_tensor(), rand_tensor(), rng.random() < 0.5, rng.random() < 0.5),
        "rnn_forward": lambda: (rand_tensor(), rand_tensor(), rand_tensor(), rng.choice([None, rand_tensor()]),
                                rng.choice([None, rand_tensor()]), rng.choice([None, rand_tensor()]),
                                rng.choice(["simple_tanh", "simple_relu", "lstm", "gru", "x"]),
                                rng.random() < 0.5, rng.random() < 0.5),
        "batch_norm_forward_train": lambda: (rand_tensor(), rng.choice([None, rand_tensor()]),
                                             rng.choice([None, rand_tensor()]), rng.choice([1e-3, -1.0, 0.0])),
        "lrn_forward": lambda: (rand_tensor(), small_int(), 1.0, 1e-4, 0.75),
        "softmax_cross_entropy_forward": lambda: (rand_tensor(), rand_tensor()),
        "binary": lambda: (rng.choice(["add", "sub", "mul", "div", "pow", "xor"]), rand_tensor(), rand_tensor()),
        "reduce": lambda: (rng.choice(["sum", "mean", "max", "min", "prod"]), rand_tensor(),
                           rng.choice([None, small_int(), [0, -1], [5, 5]]), rng.random() < 0.5),
        "transpose": lambda: (rand_tensor(), tuple(rng.choice([0, 1, 2, 3, -1, 7]) for _ in range(rng.choice([1, 2, 3, 4])))),
        "concat": lambda: ([rand_tensor() for _ in range(rng.choice([0, 1, 2, 3]))], small_int()),
        "pad2d": lambda: (rand_tensor(), small_int(), small_int(), small_int(), small_int()),
        "dropout_forward": lambda: (rand_tensor(), rng.choice([0.0, 0.5, 1.0, -0.1, float("nan")]), rng.randrange(2**63)),
    }
    typed = [n for n in TYPED if hasattr(_C, n)]

    last = None
    done = 0
    for i in range(n_calls):
        if typed and i % 2:
            name = rng.choice(typed)
            args = list(TYPED[name]())
        else:
            name = rng.choice(ops)
            args = [rand_arg() for _ in range(rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13]))]
        fn = getattr(_C, name)
        last = (name, [type(a).__name__ + (str(a.shape) if hasattr(a, "shape") else "") for a in args])
        try:
            fn(*args)
        except OK as e:
            if not str(e):
                print("EMPTY MESSAGE", name, last); sys.exit(3)
        except Exception as e:
            print("UNEXPECTED", type(e).__name__, e, last); traceback.print_exc(); sys.exit(4)
        done += 1
    print("survived", done)
""")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_bad_calls_never_crash(seed, tmp_path):
    script = tmp_path / "fuzz.py"
    script.write_text(FUZZ)
    env = dict(os.environ, OMP_NUM_THREADS="2", PYTHONPATH=PKG_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    n = 1500
    r = subprocess.run([sys.executable, str(script), str(seed), str(n)], capture_output=True, text=True,
                       timeout=300, env=env, cwd=str(tmp_path))
    assert r.returncode == 0, "fuzz seed %d died with %d:\n%s\n%s" % (seed, r.returncode, r.stdout[-3000:],
                                                                       r.stderr[-3000:])
    assert ("survived %d" % n) in r.stdout
