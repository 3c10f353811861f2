#!/usr/bin/env python
"""Kernel benchmarks: ours beside NumPy (OpenBLAS) and PyTorch (oneDNN) in the same run.

For every case the competitors are timed in the same process, alternating
(ours, peer, ours, peer, ...) after warm-up; we report the median of >= 20 runs,
ms, GFLOP/s (or GB/s for memory-bound ops), the fraction of the machine's FMA
peak (measured here, once, with an FMA loop) and the ratio peer_time/our_time
(> 1 means we are faster).

    python bench/run.py                      # everything available
    python bench/run.py --only gemm conv     # case groups by prefix
    python bench/run.py --threads 1 --quick  # fewer repeats
Writes bench/results/<date>-<threads>t.json and .md (the markdown table).
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyconvnet as pcn  # noqa: E402
from pyconvnet import _C  # noqa: E402

try:
    import torch
except ImportError:  # the peers are optional; our numbers are still printed
    torch = None

CASES = []


def case(group, name, flops=0.0, nbytes=0.0):
    """Register a case builder: fn() -> (ours, peer_name, peer). Each callable runs one repetition."""
    def deco(fn):
        CASES.append(dict(group=group, name=name, flops=flops, nbytes=nbytes, build=fn))
        return fn
    return deco


def rnd(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def has(*names):
    return all(hasattr(_C, n) for n in names)


# ------------------------------------------------------------------ GEMM
def _gemm_case(M, N, K, ta=False, tb=False):
    tag = ("T" if ta else "N") + ("T" if tb else "N")

    @case("gemm", "sgemm %s %dx%dx%d" % (tag, M, N, K), flops=2.0 * M * N * K)
    def build():
        a = rnd(*((K, M) if ta else (M, K)), seed=1)
        b = rnd(*((N, K) if tb else (K, N)), seed=2)
        c = pcn.zeros(M, N)
        A, B = pcn.from_numpy(a), pcn.from_numpy(b)
        an = a.T if ta else a
        bn = b.T if tb else b
        cn = np.empty((M, N), np.float32)
        return (lambda: _C.gemm_into(c, A, B, ta, tb, 1.0, 0.0)), "numpy", (lambda: np.matmul(an, bn, out=cn))


for n in (256, 512, 1024, 2048):
    _gemm_case(n, n, n)
for ta, tb in ((False, True), (True, False)):
    _gemm_case(1024, 1024, 1024, ta, tb)
_gemm_case(64, 4096, 1024)
_gemm_case(6400, 4096, 1024)


# ------------------------------------------------------------------ conv
def _conv_case(label, N, H, W, C, K, kh, kw, stride=1, padding="same", groups=1):
    x = rnd(N, H, W, C, seed=3)
    w = rnd(kh, kw, C // groups, K, seed=4) * 0.1
    pads = padding.upper()
    y_shape = None

    def setup():
        nonlocal y_shape
        X, Wt = pcn.from_numpy(x), pcn.from_numpy(w)
        y = _C.conv2d_forward(X, Wt, None, (stride, stride), padding, (1, 1), groups, "none")
        y_shape = y.shape
        return X, Wt, y

    def flops():
        # computed from the output shape of the first run
        return 0.0

    tx = None
    if torch is not None:
        tx = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
        tw = torch.from_numpy(w).permute(3, 2, 0, 1).contiguous()
        tpad = "same" if pads == "SAME" and stride == 1 else 0 if pads == "VALID" else None

    def torch_conv(inp, weight):
        if tpad is None:  # TF SAME with stride: pad explicitly like TF
            oh = -(-H // stride)
            ow = -(-W // stride)
            ph = max((oh - 1) * stride + kh - H, 0)
            pw = max((ow - 1) * stride + kw - W, 0)
            inp = torch.nn.functional.pad(inp, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
            return torch.nn.functional.conv2d(inp, weight, None, stride, 0, 1, groups)
        return torch.nn.functional.conv2d(inp, weight, None, stride, tpad, 1, groups)

    def out_hw():
        if pads == "SAME":
            return -(-H // stride), -(-W // stride)
        return (H - kh) // stride + 1, (W - kw) // stride + 1

    oh, ow = out_hw()
    fl = 2.0 * N * oh * ow * K * kh * kw * (C // groups)

    @case("conv", "conv fwd %s" % label, flops=fl)
    def fwd():
        X, Wt, _ = setup()
        ours = lambda: _C.conv2d_forward(X, Wt, None, (stride, stride), padding, (1, 1), groups, "none")  # noqa: E731
        if torch is None:
            return ours, None, None
        return ours, "torch", (lambda: torch_conv(tx, tw))

    @case("conv", "conv bwd-input %s" % label, flops=fl)
    def bwd_in():
        X, Wt, y = setup()
        dy = pcn.from_numpy(rnd(*y.shape, seed=5))
        ours = lambda: _C.conv2d_backward_input(dy, Wt, (N, H, W, C), (stride, stride), padding, (1, 1), groups)  # noqa: E731
        if torch is None:
            return ours, None, None
        txg = tx.detach().clone().requires_grad_(True)
        tyg = torch_conv(txg, tw)
        tdy = torch.from_numpy(np.asarray(dy)).permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
        return ours, "torch", (lambda: torch.autograd.grad(tyg, txg, tdy, retain_graph=True))

    @case("conv", "conv bwd-filter %s" % label, flops=fl)
    def bwd_w():
        X, Wt, y = setup()
        dy = pcn.from_numpy(rnd(*y.shape, seed=5))
        ours = lambda: _C.conv2d_backward_filter(dy, X, (kh, kw, C // groups, K), (stride, stride), padding, (1, 1), groups)  # noqa: E731
        if torch is None:
            return ours, None, None
        twg = tw.detach().clone().requires_grad_(True)
        tyg = torch_conv(tx, twg)
        tdy = torch.from_numpy(np.asarray(dy)).permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
        return ours, "torch", (lambda: torch.autograd.grad(tyg, twg, tdy, retain_graph=True))


if has("conv2d_forward"):
    # LeNet-5 (32x32 padded input, batch 64)
    _conv_case("lenet c1 1->6 5x5 b64", 64, 32, 32, 1, 6, 5, 5, padding="valid")
    _conv_case("lenet c3 6->16 5x5 b64", 64, 14, 14, 6, 16, 5, 5, padding="valid")
    # the course CNN at batch 64
    _conv_case("cnn 1->64 7x7 @28 b64", 64, 28, 28, 1, 64, 7, 7)
    _conv_case("cnn 64->128 3x3 @14 b64", 64, 14, 14, 64, 128, 3, 3)
    _conv_case("cnn 128->128 3x3 @14 b64", 64, 14, 14, 128, 128, 3, 3)
    _conv_case("cnn 128->256 3x3 @7 b64", 64, 7, 7, 128, 256, 3, 3)
    _conv_case("cnn 256->256 3x3 @7 b64", 64, 7, 7, 256, 256, 3, 3)
    # AlexNet conv1 at batch 16
    _conv_case("alexnet c1 3->96 11x11/4 b16", 16, 227, 227, 3, 96, 11, 11, stride=4, padding="valid")
    # ResNet-34 3x3 at batch 16 and the stride-2 transitions
    for c, hw in ((64, 56), (128, 28), (256, 14), (512, 7)):
        _conv_case("resnet %d@%d 3x3 b16" % (c, hw), 16, hw, hw, c, c, 3, 3)
    for c, hw in ((64, 56), (128, 28), (256, 14)):
        _conv_case("resnet %d->%d /2 3x3 b16" % (c, 2 * c), 16, hw, hw, c, 2 * c, 3, 3, stride=2)
    _conv_case("depthwise 256@28 3x3 b16", 16, 28, 28, 256, 256, 3, 3, groups=256)


# ------------------------------------------------------------------ pooling
def _pool_case(label, N, H, W, C, k, s, mode):
    oh, ow = (H - k) // s + 1, (W - k) // s + 1
    nx, ny = N * H * W * C, N * oh * ow * C
    fn_name = "max_pool2d" if mode == "max" else "avg_pool2d"

    def torch_x(x):
        return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)

    @case("pool", "%s pool %dx%d/%d %s" % (mode, k, k, s, label), nbytes=4.0 * (nx + ny))
    def build():
        x = rnd(N, H, W, C, seed=6)
        X = pcn.from_numpy(x)
        ours = lambda: _C.pool2d_forward(X, mode, (k, k, 1), (s, s, 1), "valid")  # noqa: E731
        if torch is None:
            return ours, None, None
        tx = torch_x(x)
        fn = getattr(torch.nn.functional, fn_name)
        return ours, "torch", (lambda: fn(tx, k, s))

    # backward bytes: read dy (+ x for max), write dx
    @case("pool", "%s pool bwd %dx%d/%d %s" % (mode, k, k, s, label),
          nbytes=4.0 * (ny + nx + (nx if mode == "max" else 0)))
    def build_bwd():
        x = rnd(N, H, W, C, seed=6)
        dy = rnd(N, oh, ow, C, seed=7)
        X, DY = pcn.from_numpy(x), pcn.from_numpy(dy)
        ours = lambda: _C.pool2d_backward(DY, X, mode, (k, k, 1), (s, s, 1), "valid")  # noqa: E731
        if torch is None:
            return ours, None, None
        tx = torch_x(x).requires_grad_(True)
        ty = getattr(torch.nn.functional, fn_name)(tx, k, s)
        tdy = torch_x(dy)
        return ours, "torch", (lambda: torch.autograd.grad(ty, tx, tdy, retain_graph=True))


if has("pool2d_forward"):
    for mode in ("max", "avg"):
        _pool_case("(64,56,56,64)", 64, 56, 56, 64, 2, 2, mode)
        _pool_case("(64,56,56,64)", 64, 56, 56, 64, 3, 2, mode)

if has("global_pool_forward"):
    @case("pool", "global avg (64,14,14,512)", nbytes=4.0 * 64 * 14 * 14 * 512)
    def _gap():
        x = rnd(64, 14, 14, 512, seed=7)
        X = pcn.from_numpy(x)
        ours = lambda: _C.global_pool_forward(X, "avg")  # noqa: E731
        if torch is None:
            return ours, None, None
        tx = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
        return ours, "torch", (lambda: tx.mean((2, 3)))

    @case("pool", "global avg bwd (64,14,14,512)", nbytes=4.0 * 64 * 14 * 14 * 512)
    def _gap_bwd():
        x = rnd(64, 14, 14, 512, seed=7)
        dy = rnd(64, 512, seed=8)
        X, DY = pcn.from_numpy(x), pcn.from_numpy(dy)
        ours = lambda: _C.global_pool_backward(DY, X, "avg")  # noqa: E731
        if torch is None:
            return ours, None, None
        tx = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
        tx.requires_grad_(True)
        ty = tx.mean((2, 3))
        tdy = torch.from_numpy(dy)
        return ours, "torch", (lambda: torch.autograd.grad(ty, tx, tdy, retain_graph=True))


# ------------------------------------------------------------------ RNN
def _rnn_case(cell, U, T, N=64, I=None, backward=False):
    I = I or U
    G = {"lstm": 4, "gru": 3, "simple_tanh": 1}[cell]
    fl = 2.0 * N * T * (I + U) * G * U * (3 if backward else 1)

    @case("rnn", "%s %s U=%d T=%d N=%d" % (cell, "fwd+bwd" if backward else "fwd", U, T, N), flops=fl)
    def build():
        x = rnd(N, T, I, seed=8)
        k = rnd(I, G * U, seed=9) * 0.05
        rk = rnd(U, G * U, seed=10) * 0.05
        b = np.zeros((2, G * U) if cell == "gru" else (G * U,), np.float32)
        X, K_, RK, B = (pcn.from_numpy(a) for a in (x, k, rk, b))

        def ours():
            out = _C.rnn_forward(X, K_, RK, B, None, None, cell, False, True)
            if backward:
                dO = out[0]
                _C.rnn_backward(dO, None, None, X, K_, RK, B, None, None, out[3], cell, False, True)

        if torch is None:
            return ours, None, None
        mod = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "simple_tanh": torch.nn.RNN}[cell](I, U, batch_first=True)
        tx = torch.from_numpy(x).requires_grad_(backward)

        def peer():
            if backward:
                o, _ = mod(tx)
                o.backward(o.detach())
            else:
                with torch.no_grad():
                    mod(tx)
        return ours, "torch", peer


if has("rnn_forward"):
    for cell in ("lstm", "gru", "simple_tanh"):
        for U, T in ((256, 100), (1024, 50)):
            _rnn_case(cell, U, T)
            _rnn_case(cell, U, T, backward=True)


# ------------------------------------------------------------------ harness
def timeit(fns, reps, warmup, gap=0.003, prime=False):
    """Alternate the callables; return per-callable lists of seconds. prime: one untimed
    call right before each timed one (threads awake and placed, as in a loop of calls)."""
    for _ in range(warmup):
        for f in fns:
            f()
    times = [[] for _ in fns]
    for _ in range(reps):
        for i, f in enumerate(fns):
            # let the other runtime's idle threads stop spinning (OpenMP, OpenBLAS and
            # oneDNN all spin after a call): otherwise each steals the cores of the next
            time.sleep(gap)
            if prime:
                f()
            t = time.perf_counter()
            f()
            times[i].append(time.perf_counter() - t)
    return times


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", help="case groups or name prefixes (gemm conv pool rnn)")
    ap.add_argument("--threads", type=int, default=None, help="threads for ours and the peers")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="5 reps, smaller warm-up")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = ap.parse_args(argv)
    threads = args.threads or pcn.get_num_threads()
    pcn.set_num_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    reps = 5 if args.quick else max(args.reps, 20)
    warm = 1 if args.quick else 3
    peak = max(_C.fma_peak_gflops(0.3) for _ in range(3))
    stream = _stream_gbs()
    print("pyconvnet %s | %s | SIMD %s | %d thread(s) | FMA peak %.0f GFLOP/s | stream %.1f GB/s | torch %s"
          % (pcn.__version__, platform.node(), pcn.simd_level(), threads, peak, stream,
             torch.__version__ if torch else "absent"))
    rows = []
    for c in CASES:
        if args.only and not any(c["group"] == o or c["name"].startswith(o) for o in args.only):
            continue
        try:
            ours, pname, peer = c["build"]()
            fns = [ours] + ([peer] if peer else [])
            # OpenBLAS's idle threads spin for ~2^28 cycles (~70 ms) after each call, and a
            # worker woken after a long sleep may land on the busy core: the GEMM that followed
            # numpy ran at one core's speed (0.5x at 2 threads). For the GEMM cases each
            # timed call therefore follows an untimed call of the same function.
            t = timeit(fns, reps, warm, gap=0.2 if pname == "numpy" else 0.003, prime=pname == "numpy")
        except Exception as e:  # a missing kernel must not stop the table
            print("%-44s  skipped: %s" % (c["name"], str(e).splitlines()[0][:80]))
            continue
        med = [statistics.median(x) for x in t]
        r = dict(group=c["group"], name=c["name"], ours_ms=med[0] * 1e3, peer=pname,
                 peer_ms=med[1] * 1e3 if peer else None)
        if c["flops"]:
            r["ours_gflops"] = c["flops"] / med[0] / 1e9
            r["peak_frac"] = r["ours_gflops"] / peak
            if peer:
                r["peer_gflops"] = c["flops"] / med[1] / 1e9
        if c["nbytes"]:
            r["ours_gbs"] = c["nbytes"] / med[0] / 1e9
            r["stream_frac"] = r["ours_gbs"] / stream
            if peer:
                r["peer_gbs"] = c["nbytes"] / med[1] / 1e9
        r["speedup"] = (med[1] / med[0]) if peer else None
        rows.append(r)
        print(_fmt_row(r))
    meta = dict(date=datetime.date.today().isoformat(), host=platform.node(), threads=threads,
                simd=pcn.simd_level(), fma_peak_gflops=peak, stream_gbs=stream, reps=reps,
                torch=torch.__version__ if torch else None, numpy=np.__version__)
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, "%s-%dt" % (meta["date"], threads))
    with open(stem + ".json", "w") as f:
        json.dump(dict(meta=meta, rows=rows), f, indent=1)
    with open(stem + ".md", "w") as f:
        f.write(markdown(meta, rows))
    print("wrote %s.json and .md" % stem)


def _stream_gbs():
    """Streaming bandwidth (bytes read + written / s) of a large out-of-cache elementwise
    pass through our OpenMP kernels on all threads (y = x + 0, 128 MiB each way)."""
    a = pcn.from_numpy(np.ones(1 << 25, np.float32))
    best = 0.0
    for _ in range(6):
        t = time.perf_counter()
        _C.binary_scalar("add", a, 0.0)
        best = max(best, 2 * a.nbytes / (time.perf_counter() - t) / 1e9)
    return best


def _fmt_row(r):
    if "ours_gflops" in r:
        perf = "%8.1f GFLOP/s (%3.0f%% peak)" % (r["ours_gflops"], 100 * r["peak_frac"])
        pp = ("%8.1f" % r["peer_gflops"]) if r.get("peer_gflops") else "     n/a"
    else:
        perf = "%8.1f GB/s   (%3.0f%% strm)" % (r["ours_gbs"], 100 * r["stream_frac"])
        pp = ("%8.1f" % r["peer_gbs"]) if r.get("peer_gbs") else "     n/a"
    sp = ("%5.2fx" % r["speedup"]) if r["speedup"] else "  n/a"
    return "%-44s %9.3f ms %s | %-6s %s | peer/ours %s" % (r["name"], r["ours_ms"], perf, r["peer"] or "-", pp, sp)


def markdown(meta, rows):
    out = ["Date %(date)s, %(threads)d thread(s), SIMD %(simd)s, FMA peak %(fma_peak_gflops).0f GFLOP/s, "
           "stream %(stream_gbs).1f GB/s, median of %(reps)d runs, peers in the same process." % meta, "",
           "| case | ours ms | ours | % of peak | peer | peer | peer time / ours |",
           "|---|---:|---:|---:|---|---:|---:|"]
    for r in rows:
        if "ours_gflops" in r:
            ours = "%.1f GFLOP/s" % r["ours_gflops"]
            frac = "%.0f%%" % (100 * r["peak_frac"])
            peer = ("%.1f GFLOP/s" % r["peer_gflops"]) if r.get("peer_gflops") else "-"
        else:
            ours = "%.1f GB/s" % r["ours_gbs"]
            frac = "%.0f%% (stream)" % (100 * r["stream_frac"])
            peer = ("%.1f GB/s" % r["peer_gbs"]) if r.get("peer_gbs") else "-"
        out.append("| %s | %.3f | %s | %s | %s | %s | %s |" % (
            r["name"], r["ours_ms"], ours, frac, r["peer"] or "-", peer,
            ("%.2fx" % r["speedup"]) if r["speedup"] else "-"))
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
