"""A/B of our conv2d against PyTorch (oneDNN, channels_last) for the layers the direct
conv kernels target: alternating in one process, thread CPU time and wall time.

    PYTHONPATH=. python bench/conv_direct_ab.py [--threads 1] [--reps 15] [--only cnn resnet lenet]
                                                [--dirs fwd bwd-input bwd-filter]

ratio = torch / ours (> 1: we are faster). With 1 thread both libraries compute on the
calling thread, so time.thread_time() is their CPU time (robust to a loaded machine).
With more threads use the wall-clock column.
"""
import argparse
import statistics
import time

import numpy as np
import torch

import pyconvnet as pcn
from pyconvnet import _C

CASES = [
    # label, N, H, W, C, K, kh, kw, stride, padding
    ("cnn 64->128 3x3 @14 b64", 64, 14, 14, 64, 128, 3, 3, 1, "same"),
    ("cnn 128->128 3x3 @14 b64", 64, 14, 14, 128, 128, 3, 3, 1, "same"),
    ("cnn 128->256 3x3 @7 b64", 64, 7, 7, 128, 256, 3, 3, 1, "same"),
    ("cnn 256->256 3x3 @7 b64", 64, 7, 7, 256, 256, 3, 3, 1, "same"),
    ("resnet 64@56 3x3 b16", 16, 56, 56, 64, 64, 3, 3, 1, "same"),
    ("resnet 128@28 3x3 b16", 16, 28, 28, 128, 128, 3, 3, 1, "same"),
    ("resnet 256@14 3x3 b16", 16, 14, 14, 256, 256, 3, 3, 1, "same"),
    ("resnet 512@7 3x3 b16", 16, 7, 7, 512, 512, 3, 3, 1, "same"),
    ("resnet 64->128 3x3/2 @56 b16", 16, 56, 56, 64, 128, 3, 3, 2, "same"),
    ("resnet 128->256 3x3/2 @28 b16", 16, 28, 28, 128, 256, 3, 3, 2, "same"),
    ("resnet 256->512 3x3/2 @14 b16", 16, 14, 14, 256, 512, 3, 3, 2, "same"),
    ("resnet 64->128 1x1/2 @56 b16", 16, 56, 56, 64, 128, 1, 1, 2, "valid"),
    ("lenet c3 6->16 5x5 valid @14 b64", 64, 14, 14, 6, 16, 5, 5, 1, "valid"),
]


def tf_pads(H, W, kh, kw, s, padding):
    if padding == "valid":
        return 0, 0, 0, 0, (H - kh) // s + 1, (W - kw) // s + 1
    oh, ow = -(-H // s), -(-W // s)
    ph = max((oh - 1) * s + kh - H, 0)
    pw = max((ow - 1) * s + kw - W, 0)
    return ph // 2, ph - ph // 2, pw // 2, pw - pw // 2, oh, ow


def make(case, direction):
    label, N, H, W, C, K, kh, kw, s, padding = case
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, H, W, C), dtype=np.float32)
    w = (rng.standard_normal((kh, kw, C, K), dtype=np.float32) * 0.1).astype(np.float32)
    pt, pb, pl, pr, oh, ow = tf_pads(H, W, kh, kw, s, padding)
    dy = rng.standard_normal((N, oh, ow, K), dtype=np.float32)
    X, Wt, DY = pcn.from_numpy(x), pcn.from_numpy(w), pcn.from_numpy(dy)
    tx = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
    tw = torch.from_numpy(w).permute(3, 2, 0, 1).contiguous(memory_format=torch.channels_last)
    tdy = torch.from_numpy(dy).permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
    # oneDNN pads symmetrically; where TF's pad is asymmetric (stride-2 "same") use the
    # larger side on both: the same output size and (within one row) the same work.
    tpad = (max(pt, pb), max(pl, pr))
    if (pt, pl) != (pb, pr):
        # torch output with symmetric max padding: (H + 2p - k)//s + 1 may exceed oh; crop via
        # explicit F.pad instead so shapes match exactly
        tpad = None
    if tpad is None:
        txp = torch.nn.functional.pad(tx, (pl, pr, pt, pb)).contiguous(memory_format=torch.channels_last)
        tpad = (0, 0)
    else:
        txp = tx
    st, dil = (s, s), (1, 1)
    if direction == "fwd":
        ours = lambda: _C.conv2d_forward(X, Wt, None, st, padding, dil, 1, "none")  # noqa: E731
        peer = lambda: torch.nn.functional.conv2d(txp, tw, None, st, tpad, 1, 1)  # noqa: E731
    elif direction == "bwd-input":
        ours = lambda: _C.conv2d_backward_input(DY, Wt, (N, H, W, C), st, padding, dil, 1)  # noqa: E731
        peer = lambda: torch.ops.aten.convolution_backward(  # noqa: E731
            tdy, txp, tw, None, st, list(tpad), [1, 1], False, [0, 0], 1, [True, False, False])
    else:
        ours = lambda: _C.conv2d_backward_filter(DY, X, (kh, kw, C, K), st, padding, dil, 1)  # noqa: E731
        peer = lambda: torch.ops.aten.convolution_backward(  # noqa: E731
            tdy, txp, tw, None, st, list(tpad), [1, 1], False, [0, 0], 1, [False, True, False])
    return ours, peer


def timed(f):
    t0, c0 = time.perf_counter(), time.thread_time()
    f()
    return time.thread_time() - c0, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--dirs", nargs="*", default=["fwd", "bwd-input", "bwd-filter"])
    a = ap.parse_args()
    pcn.set_num_threads(a.threads)
    torch.set_num_threads(a.threads)
    print("threads %d, reps %d, simd %s, torch %s" % (a.threads, a.reps, pcn.simd_level(), torch.__version__))
    print("| case | dir | ours cpu ms | torch cpu ms | ratio cpu | ours wall ms | torch wall ms | ratio wall |")
    print("|---|---|---|---|---|---|---|---|")
    for case in CASES:
        if a.only and not any(case[0].startswith(o) or o in case[0] for o in a.only):
            continue
        for d in a.dirs:
            ours, peer = make(case, d)
            for _ in range(3):
                ours()
                peer()
            oc, ow_, pc, pw = [], [], [], []
            for _ in range(a.reps):
                time.sleep(0.002)
                c, w = timed(ours)
                oc.append(c)
                ow_.append(w)
                time.sleep(0.002)
                c, w = timed(peer)
                pc.append(c)
                pw.append(w)
            m = statistics.median
            print("| %s | %s | %.3f | %.3f | **%.2f** | %.3f | %.3f | %.2f |" % (
                case[0], d, 1e3 * m(oc), 1e3 * m(pc), m(pc) / m(oc), 1e3 * m(ow_), 1e3 * m(pw), m(pw) / m(ow_)),
                flush=True)


if __name__ == "__main__":
    main()
