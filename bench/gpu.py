"""GPU benchmark: each pyconvnet CUDA kernel beside PyTorch on the same GPU.

    python bench/gpu.py [--quick] [--only NAME] [--reps 30]

For every registered case: check the CUDA result against pyconvnet's CPU kernel
on small random shapes (relative L2 error), then time the case at its full
size with CUDA events on pyconvnet's own stream and PyTorch (cuBLAS/cuDNN) on
its stream: warm-up, then the median of `--reps` (>= 20) runs, rotating among
several input sets so the timed runs do not just re-read L2. Prints ms,
TFLOP/s (or GB/s) and % of torch; writes $OUT/bench_gpu.json when OUT is set.
Builds nothing: run after `pip install .` (or scripts/dev_build.sh).

Adding a case (conv, pool, rnn, ...): write a function that returns a Case and
decorate it with @case("name"); see the GEMM cases below.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import pyconvnet as pcn  # noqa: E402

C = pcn._C
DEV = "cuda"  # "cpu" under --cpu-dry-run
CASES = []


def case(name):
    def deco(fn):
        CASES.append((name, fn))
        return fn
    return deco


class Case:
    """One timed comparison.

    ours / theirs: callables taking the rotation index i (0..R-1) and queuing
    one run (no sync). work: FLOPs (unit "TFLOP/s") or bytes ("GB/s") per run.
    check: callable returning (rel_err, tolerance) from small random shapes.
    setup/teardown: optional callables around the case (precision switches).
    alt: optional callable returning a second torch time in ms (e.g. cuDNN with
    TF32), reported beside the like-for-like one. wall: time whole calls with
    host clocks and device synchronizes (for ops that sync inside, like fit);
    reps: cap on the repetitions (slow cases)."""

    def __init__(self, shape, ours, theirs, work, unit="TFLOP/s", check=None, setup=None, teardown=None,
                 note="", alt=None, wall=False, reps=None):
        self.shape, self.ours, self.theirs, self.work, self.unit = shape, ours, theirs, work, unit
        self.check, self.setup, self.teardown, self.note = check, setup, teardown, note
        self.alt, self.wall, self.reps = alt, wall, reps


def rel_err(out, ref):
    out = np.asarray(out, np.float64)
    ref = np.asarray(ref, np.float64)
    if not np.isfinite(out).all():
        return float("inf")
    return float(np.linalg.norm(out - ref) / max(np.linalg.norm(ref), 1e-30))


def _sync(torch):
    if DEV == "cuda":
        torch.cuda.synchronize()
        C.synchronize()


def time_fn(torch, fn, reps, rotate, stream, wall=False):
    """Median ms of `reps` runs of fn(i) (after warm-up) with events on `stream`
    (wall=True, or no GPU in a --cpu-dry-run: host clock between synchronizes)."""
    for i in range(1 if wall else 3):
        fn(i % rotate)
    _sync(torch)
    times = []
    if wall or DEV != "cuda":
        for r in range(reps):
            t0 = time.perf_counter()
            fn(r % rotate)
            _sync(torch)
            times.append((time.perf_counter() - t0) * 1e3)
        return float(np.median(times)), float(np.min(times)), float(np.max(times))
    with torch.cuda.stream(stream):
        for r in range(reps):
            s = torch.cuda.Event(enable_timing=True)
            e = torch.cuda.Event(enable_timing=True)
            s.record(stream)
            fn(r % rotate)
            e.record(stream)
            e.synchronize()
            times.append(s.elapsed_time(e))
    return float(np.median(times)), float(np.min(times)), float(np.max(times))


# ---------------------------------------------------------------- GEMM
def _gemm_check(prec, rng, shapes=((1, 1, 1), (37, 45, 19), (129, 257, 300), (257, 3, 511))):
    """Max rel L2 error of the CUDA matmul against pyconvnet's CPU matmul over
    small random shapes (all four transpose combinations)."""
    C.set_matmul_precision(prec)
    worst = 0.0
    for (M, N, K) in shapes:
        for ta in (False, True):
            for tb in (False, True):
                a = rng.standard_normal((K, M) if ta else (M, K)).astype(np.float32)
                b = rng.standard_normal((N, K) if tb else (K, N)).astype(np.float32)
                ref = C.matmul(pcn.tensor(a), pcn.tensor(b), ta, tb).numpy()
                out = C.matmul(pcn.tensor(a, device="cuda"), pcn.tensor(b, device="cuda"), ta, tb).numpy()
                worst = max(worst, rel_err(out, ref))
    return worst


def _gemm_case(torch, prec, M, N, K, ta=False, tb=False, rotate=3, tc="v3"):
    """tc: the tensor-core kernel for "high"/"medium", chosen through
    PCN_GEMM_TC, which cuda/gemm.cu reads at every call (set in setup, so the
    check runs the same kernel): "v3" (default: sgemm_tc3 for TF32, the bf16
    pre-pass + sgemm_bf16_tc3 for BF16, timed together), "v3f" (BF16 from fp32
    shared memory, sgemm_tc3<.., true>), "v3p" (TF32 through a tf32-rounding
    pre-pass, then no cvt in the main loop) or "v2" (sgemm_tc)."""
    tol = {"highest": 1e-5, "high": 1e-3, "medium": 1e-2}[prec]
    g = torch.Generator(device="cuda").manual_seed(M + N + K)
    dev = "cuda"
    As = [torch.randn((K, M) if ta else (M, K), device=dev, generator=g) for _ in range(rotate)]
    Bs = [torch.randn((N, K) if tb else (K, N), device=dev, generator=g) for _ in range(rotate)]
    out_t = torch.empty((M, N), device=dev)
    pa = [C.from_dlpack(x) for x in As]
    pb = [C.from_dlpack(x) for x in Bs]
    pc = C.from_dlpack(out_t)
    if prec == "medium":  # torch baseline: bf16 inputs and output, fp32 accumulate (cuBLAS)
        tA = [x.to(torch.bfloat16) for x in As]
        tB = [x.to(torch.bfloat16) for x in Bs]
        t_out = torch.empty((M, N), device=dev, dtype=torch.bfloat16)
    else:
        tA, tB, t_out = As, Bs, torch.empty((M, N), device=dev)
    opA = (lambda x: x.t()) if ta else (lambda x: x)
    opB = (lambda x: x.t()) if tb else (lambda x: x)
    torch.cuda.synchronize()

    def ours(i):
        C.gemm_into(pc, pa[i], pb[i], ta, tb, 1.0, 0.0)

    def theirs(i):
        torch.matmul(opA(tA[i]), opB(tB[i]), out=t_out)

    prev = {}

    def setup():
        prev["p"] = C.get_matmul_precision()
        prev["tf32"] = torch.backends.cuda.matmul.allow_tf32
        prev["tc"] = os.environ.get("PCN_GEMM_TC")
        C.set_matmul_precision(prec)
        torch.backends.cuda.matmul.allow_tf32 = prec == "high"
        if tc == "v3":
            os.environ.pop("PCN_GEMM_TC", None)
        else:
            os.environ["PCN_GEMM_TC"] = tc

    def teardown():
        C.set_matmul_precision(prev["p"])
        torch.backends.cuda.matmul.allow_tf32 = prev["tf32"]
        if prev["tc"] is None:
            os.environ.pop("PCN_GEMM_TC", None)
        else:
            os.environ["PCN_GEMM_TC"] = prev["tc"]

    def check():
        rng = np.random.default_rng(M ^ N ^ K)
        small = _gemm_check(prec, rng)
        # the full-size result against float64 on the GPU
        ours(0)
        C.synchronize()
        ref = opA(As[0]).double() @ opB(Bs[0]).double()
        big = float(torch.linalg.norm(out_t.double() - ref) / torch.linalg.norm(ref))
        if not torch.isfinite(out_t).all():
            big = float("inf")
        return max(small, big), tol

    return Case("%dx%dx%d%s" % (M, N, K, ("" if not (ta or tb) else " " + "NT"[ta] + "NT"[tb])), ours, theirs,
                2.0 * M * N * K, check=check, setup=setup, teardown=teardown,
                note={"highest": "fp32 SIMT vs cuBLAS fp32", "high": "TF32 mma.sync %s vs cuBLAS TF32" % tc,
                      "medium": "BF16 mma.sync %s (fp32 in) vs cuBLAS bf16 in/out" % tc}[prec])


@case("gemm_fp32")
def gemm_fp32(torch, quick):
    return _gemm_case(torch, "highest", *((2048,) * 3 if quick else (4096,) * 3))


@case("gemm_fp32_odd_tn")
def gemm_fp32_odd(torch, quick):
    return _gemm_case(torch, "highest", 1000, 3001, 777, ta=True, tb=False)


@case("gemm_tf32")
def gemm_tf32(torch, quick):
    return _gemm_case(torch, "high", *((2048,) * 3 if quick else (4096,) * 3))


@case("gemm_tf32_v2")
def gemm_tf32_v2(torch, quick):
    return _gemm_case(torch, "high", *((2048,) * 3 if quick else (4096,) * 3), tc="v2")


@case("gemm_tf32_v3p")
def gemm_tf32_v3p(torch, quick):  # TF32 pre-pass experiment (pre-pass timed with the GEMM)
    return _gemm_case(torch, "high", *((2048,) * 3 if quick else (4096,) * 3), tc="v3p")


@case("gemm_tf32_nt")
def gemm_tf32_nt(torch, quick):  # v3 with both operands k-contiguous (ldmatrix for A and B)
    return _gemm_case(torch, "high", *((2048,) * 3 if quick else (4096,) * 3), tb=True)


@case("gemm_bf16")
def gemm_bf16(torch, quick):
    return _gemm_case(torch, "medium", *((2048,) * 3 if quick else (4096,) * 3))


@case("gemm_bf16_v3f")
def gemm_bf16_v3f(torch, quick):  # BF16 converted at fragment load from fp32 shared memory (no pre-pass)
    return _gemm_case(torch, "medium", *((2048,) * 3 if quick else (4096,) * 3), tc="v3f")


@case("gemm_bf16_v2")
def gemm_bf16_v2(torch, quick):
    return _gemm_case(torch, "medium", *((2048,) * 3 if quick else (4096,) * 3), tc="v2")


# ---------------------------------------------------------------- memory
@case("copy_d2d")
def copy_d2d(torch, quick):
    """Device-to-device copy: the memory-bandwidth ceiling (bytes read + written)."""
    n = (64 if quick else 256) << 20 >> 2  # float32 elements
    src = [torch.randn(n, device="cuda") for _ in range(2)]
    dst = torch.empty(n, device="cuda")
    psrc = [C.from_dlpack(x) for x in src]
    pdst = C.from_dlpack(dst)

    def check():
        pdst.copy_(psrc[1])
        C.synchronize()
        return (0.0 if torch.equal(dst, src[1]) else float("inf")), 0.0

    return Case("%d MiB" % (n * 4 >> 20), lambda i: pdst.copy_(psrc[i]), lambda i: dst.copy_(src[i]),
                2.0 * n * 4, unit="GB/s", check=check, note="cudaMemcpyAsync vs torch copy_")


# ---------------------------------------------------------------- conv2d
C_ = C  # the case builders below use C for a channel count
# Both libraries see the same memory layout: our x is NHWC; torch gets the same
# storage as an NCHW view with channels_last strides (cuDNN's NHWC kernels) and
# its own OIHW channels_last copy of the filter. Like for like: ours runs fp32
# SIMT, so cuDNN runs with TF32 off (torch.backends.cudnn.allow_tf32 = False);
# the note gives cuDNN's time with its default (TF32 on) as well.
# ResNet-34's 3x3 convolutions at batch 64 (Keras ResNet34 in pyconvnet.applications):
R34 = {"r34_56": (56, 64, 64, 1), "r34_28": (28, 128, 128, 1), "r34_14": (14, 256, 256, 1),
       "r34_7": (7, 512, 512, 1), "r34_56s2": (56, 64, 128, 2)}


def _conv_arrays(rng, N, H, W, C, KH, KW, K, dtype=np.float32):
    x = rng.standard_normal((N, H, W, C)).astype(dtype)
    w = (rng.standard_normal((KH, KW, C, K)) / np.sqrt(KH * KW * C)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype) * 0.1
    return x, w, b


def _conv_check(direction, N, H, W, C, KH, KW, K, stride, pad):
    """Our CUDA conv against our CPU conv on the same shape at a small batch."""
    rng = np.random.default_rng(H * 131 + C)
    n = min(N, 2)
    x, w, b = _conv_arrays(rng, n, H, W, C, KH, KW, K)
    st = [stride, stride]
    y_cpu = C_.conv2d_forward(pcn.tensor(x), pcn.tensor(w), pcn.tensor(b), st, pad, activation="relu")
    oh, ow = y_cpu.shape[1], y_cpu.shape[2]
    dy = rng.standard_normal((n, oh, ow, K)).astype(np.float32)
    if direction == "fwd":
        ref = y_cpu.numpy()
        out = C_.conv2d_forward(pcn.tensor(x, device=DEV), pcn.tensor(w, device=DEV), pcn.tensor(b, device=DEV),
                                st, pad, activation="relu").numpy()
    elif direction == "bwd_in":
        ref = C_.conv2d_backward_input(pcn.tensor(dy), pcn.tensor(w), list(x.shape), st, pad).numpy()
        out = C_.conv2d_backward_input(pcn.tensor(dy, device=DEV), pcn.tensor(w, device=DEV), list(x.shape),
                                       st, pad).numpy()
    else:
        ref = C_.conv2d_backward_filter(pcn.tensor(dy), pcn.tensor(x), list(w.shape), st, pad).numpy()
        out = C_.conv2d_backward_filter(pcn.tensor(dy, device=DEV), pcn.tensor(x, device=DEV), list(w.shape),
                                        st, pad).numpy()
    return rel_err(out, ref)


def _conv_case(torch, direction, N, H, W, C, KH, KW, K, stride=1, pad="same", rotate=2, label="", env=None):
    """env: environment settings for the case's duration (kernel A/B switches such as
    PCN_CONV_C1=igemm, read by the library at each call)."""
    F = torch.nn.functional
    g = torch.Generator(device=DEV).manual_seed(H * 7 + C)
    xs = [torch.randn((N, H, W, C), device=DEV, generator=g) for _ in range(rotate)]
    w = torch.randn((KH, KW, C, K), device=DEV, generator=g) / float(np.sqrt(KH * KW * C))
    b = torch.randn(K, device=DEV, generator=g) * 0.1
    px = [C_.from_dlpack(x) for x in xs]
    pw, pb = C_.from_dlpack(w), C_.from_dlpack(b)
    st = [stride, stride]
    # torch's view of the same input, and its own filter in its layout
    tx = [x.permute(0, 3, 1, 2) for x in xs]  # NCHW view, channels_last strides
    tw = w.permute(3, 2, 0, 1).contiguous(memory_format=torch.channels_last)
    if pad == "same":  # TF "same" (extra pad bottom/right) for odd kernels at stride 1 or even sizes
        tpad = [(KH - 1) // 2, (KW - 1) // 2]
        if stride > 1:  # asymmetric TF padding: pad the input explicitly for torch
            th = max((-(-H // stride) - 1) * stride + KH - H, 0)
            tw_ = max((-(-W // stride) - 1) * stride + KW - W, 0)
            tx = [F.pad(t, (tw_ // 2, tw_ - tw_ // 2, th // 2, th - th // 2)).contiguous(
                memory_format=torch.channels_last) for t in tx]
            tpad = [0, 0]
    else:
        tpad = [0, 0]
    y0 = F.conv2d(tx[0], tw, b, stride, tpad)
    OH, OW = y0.shape[2], y0.shape[3]
    dys = [torch.randn((N, OH, OW, K), device=DEV, generator=g) for _ in range(rotate)]
    pdy = [C_.from_dlpack(d) for d in dys]
    tdy = [d.permute(0, 3, 1, 2) for d in dys]
    flops = 2.0 * N * OH * OW * K * KH * KW * C
    conv_bw = torch.ops.aten.convolution_backward
    if direction == "fwd":
        def ours(i):
            C_.conv2d_forward(px[i], pw, pb, st, pad, activation="relu")

        def theirs(i):
            F.relu(F.conv2d(tx[i], tw, b, stride, tpad))
    elif direction == "bwd_in":
        def ours(i):
            C_.conv2d_backward_input(pdy[i], pw, [N, H, W, C], st, pad)

        def theirs(i):
            conv_bw(tdy[i], tx[i], tw, None, [stride] * 2, tpad, [1, 1], False, [0, 0], 1, [True, False, False])
    else:
        def ours(i):
            C_.conv2d_backward_filter(pdy[i], px[i], [KH, KW, C, K], st, pad)

        def theirs(i):
            conv_bw(tdy[i], tx[i], tw, None, [stride] * 2, tpad, [1, 1], False, [0, 0], 1, [False, True, False])

    prev = {}

    def setup():
        prev["env"] = {k: os.environ.get(k) for k in (env or {})}
        os.environ.update(env or {})
        prev["tf32"] = torch.backends.cudnn.allow_tf32
        prev["bench"] = torch.backends.cudnn.benchmark
        torch.backends.cudnn.benchmark = True  # cuDNN at its best: autotuned algorithm per shape
        torch.backends.cudnn.allow_tf32 = False

    def teardown():
        torch.backends.cudnn.allow_tf32 = prev["tf32"]
        torch.backends.cudnn.benchmark = prev["bench"]
        for k, v in prev["env"].items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    def alt():  # cuDNN with torch's default (TF32 allowed), for the note
        torch.backends.cudnn.allow_tf32 = True
        try:
            return time_fn(torch, theirs, 20, rotate, torch.cuda.current_stream() if DEV == "cuda" else None)[0]
        finally:
            torch.backends.cudnn.allow_tf32 = False

    def check():
        return _conv_check(direction, N, H, W, C, KH, KW, K, stride, pad), 1e-5 if C * KH * KW < 4096 else 2e-5

    return Case("%s%dx%dx%d>%d k%d s%d b%d" % (label, H, W, C, K, KH, stride, N), ours, theirs, flops, check=check,
                setup=setup, teardown=teardown, alt=alt,
                note="%s fp32 vs cuDNN fp32 (benchmark=True)%s" % (direction, " " + str(env) if env else ""))


def _r34(direction, key):
    def make(torch, quick):
        H, C, K, s = R34[key]
        return _conv_case(torch, direction, 16 if quick else 64, H, H, C, 3, 3, K, s)
    return make


for _k in R34:
    case("conv_fwd_" + _k)(_r34("fwd", _k))
for _k in ("r34_28", "r34_7"):
    case("conv_bwdin_" + _k)(_r34("bwd_in", _k))
    case("conv_bwdw_" + _k)(_r34("bwd_w", _k))


@case("conv_fwd_cnn_first")
def conv_cnn_first(torch, quick):
    """The course CNN's first layer: 64 7x7 filters over 28x28x1, batch 256."""
    return _conv_case(torch, "fwd", 64 if quick else 256, 28, 28, 1, 7, 7, 64)


@case("conv_fwd_cnn_first_igemm")
def conv_cnn_first_igemm(torch, quick):
    """The same layer through the implicit GEMM instead of the one-channel direct kernel."""
    return _conv_case(torch, "fwd", 64 if quick else 256, 28, 28, 1, 7, 7, 64, env={"PCN_CONV_C1": "igemm"})


@case("conv_bwdw_cnn_first")
def conv_cnn_first_bw(torch, quick):
    return _conv_case(torch, "bwd_w", 64 if quick else 256, 28, 28, 1, 7, 7, 64)


@case("conv_fwd_lenet_c3")
def conv_lenet_c3(torch, quick):
    """LeNet-5 C3: 16 5x5 over 14x14x6 (valid), batch 256: a small, launch-bound layer."""
    return _conv_case(torch, "fwd", 256, 14, 14, 6, 5, 5, 16, pad="valid")


# ---------------------------------------------------------------- pooling
@case("maxpool_2x2")
def maxpool(torch, quick):
    """2x2/2 max pooling of the course CNN's 28x28x64 maps at batch 256 (bytes read + written)."""
    N, H, Cc = (64 if quick else 256), 28, 64
    g = torch.Generator(device=DEV).manual_seed(5)
    xs = [torch.randn((N, H, H, Cc), device=DEV, generator=g) for _ in range(2)]
    px = [C_.from_dlpack(x) for x in xs]
    tx = [x.permute(0, 3, 1, 2) for x in xs]
    F = torch.nn.functional

    def check():
        x = np.random.default_rng(1).standard_normal((2, 27, 29, 5)).astype(np.float32)
        ref = C_.pool2d_forward(pcn.tensor(x), "max", [2, 2, 1], [2, 2, 1], "same").numpy()
        out = C_.pool2d_forward(pcn.tensor(x, device=DEV), "max", [2, 2, 1], [2, 2, 1], "same").numpy()
        return rel_err(out, ref), 0.0

    return Case("%dx%dx%d b%d" % (H, H, Cc, N), lambda i: C_.pool2d_forward(px[i], "max", [2, 2, 1], [2, 2, 1]),
                lambda i: F.max_pool2d(tx[i], 2), N * H * H * Cc * 4 * 1.25, unit="GB/s", check=check,
                note="NHWC max pool vs torch channels_last")


# ---------------------------------------------------------------- RNN
def _rnn_case(torch, cell, U, T=100, N=64, I=None, train=True):
    """One layer over a (N, T, I) sequence: ours (input projection as one GEMM, then a
    recurrent GEMM and a fused pointwise kernel per step) vs cuDNN through torch.nn.LSTM/GRU
    (batch_first, training-mode forward: both keep what the backward needs)."""
    I = I or U
    G = {"lstm": 4, "gru": 3}[cell]
    g = torch.Generator(device=DEV).manual_seed(U)
    xs = [torch.randn((N, T, I), device=DEV, generator=g) for _ in range(2)]
    k = torch.randn((I, G * U), device=DEV, generator=g) / float(np.sqrt(I))
    rk = torch.randn((U, G * U), device=DEV, generator=g) / float(np.sqrt(U))
    bias = torch.zeros((G * U,) if cell == "lstm" else (2, G * U), device=DEV)
    px = [C_.from_dlpack(x) for x in xs]
    pk, prk, pbias = C_.from_dlpack(k), C_.from_dlpack(rk), C_.from_dlpack(bias)
    mod = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(I, U, batch_first=True).to(DEV)
    mod.train()
    # forward with requires_grad on the weights keeps cuDNN's reserve space, as ours keeps its workspace
    flops = 2.0 * N * T * (I + U) * G * U

    def check():
        rng = np.random.default_rng(U)
        n, t, i_, u = 3, 7, 13, 17
        x = rng.standard_normal((n, t, i_)).astype(np.float32)
        kk = (rng.standard_normal((i_, G * u)) * 0.3).astype(np.float32)
        rr = (rng.standard_normal((u, G * u)) * 0.3).astype(np.float32)
        bb = (rng.standard_normal((G * u,) if cell == "lstm" else (2, G * u)) * 0.1).astype(np.float32)
        ref = C_.rnn_forward(pcn.tensor(x), pcn.tensor(kk), pcn.tensor(rr), pcn.tensor(bb), cell=cell)[0].numpy()
        out = C_.rnn_forward(pcn.tensor(x, device=DEV), pcn.tensor(kk, device=DEV), pcn.tensor(rr, device=DEV),
                             pcn.tensor(bb, device=DEV), cell=cell)[0].numpy()
        return rel_err(out, ref), 1e-5

    prev = {}

    def setup():  # like for like: ours runs fp32, so cuDNN may not use TF32 either
        prev["tf32"] = torch.backends.cudnn.allow_tf32
        torch.backends.cudnn.allow_tf32 = False

    def teardown():
        torch.backends.cudnn.allow_tf32 = prev["tf32"]

    def alt():  # torch's default (cuDNN RNNs may use TF32 tensor cores)
        torch.backends.cudnn.allow_tf32 = True
        try:
            return time_fn(torch, lambda i: mod(xs[i]), 20, 2, torch.cuda.current_stream() if DEV == "cuda" else None)[0]
        finally:
            torch.backends.cudnn.allow_tf32 = False

    return Case("U%d T%d N%d I%d" % (U, T, N, I), lambda i: C_.rnn_forward(px[i], pk, prk, pbias, cell=cell),
                lambda i: mod(xs[i]), flops, check=check, setup=setup, teardown=teardown, alt=alt,
                note="%s forward (training) vs cuDNN fp32 through torch.nn.%s" % (cell, cell.upper()))


for _u in (256, 512, 1024):
    case("lstm_%d" % _u)((lambda u: lambda torch, quick: _rnn_case(torch, "lstm", u, T=20 if quick else 100))(_u))
case("gru_512")(lambda torch, quick: _rnn_case(torch, "gru", 512, T=20 if quick else 100))


# ---------------------------------------------------------------- whole training steps
def _torch_fashion_cnn(torch):
    nn = torch.nn
    conv = lambda i, o, k=3: nn.Conv2d(i, o, k, padding=k // 2)  # noqa: E731
    return nn.Sequential(conv(1, 64, 7), nn.ReLU(), nn.MaxPool2d(2), conv(64, 128), nn.ReLU(), conv(128, 128),
                         nn.ReLU(), nn.MaxPool2d(2), conv(128, 256), nn.ReLU(), conv(256, 256), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(256 * 9, 128), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(128, 64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, 10))


@case("train_cnn_b256")
def train_cnn(torch, quick):
    """The course CNN (pyconvnet.applications.FashionCNN), Adam, sparse categorical
    cross-entropy, batch 256, on MNIST-shaped data held in host memory: ours is
    `model.fit(..., epochs=1)` on the GPU (each batch copied in); torch is the
    fastest plain loop (batch .to(device), zero_grad/backward/step, loss summed on the
    device and read once). Rate: images/s; one run = `steps` steps."""
    steps = 4 if quick else 20
    N = 256 * steps
    rng = np.random.default_rng(0)
    x = rng.random((N, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, N).astype(np.int64)
    model = pcn.applications.FashionCNN()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", device=DEV)
    tm = _torch_fashion_cnn(torch).to(DEV).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(tm.parameters(), 1e-3)
    lossf = torch.nn.CrossEntropyLoss()
    tx = torch.from_numpy(x).permute(0, 3, 1, 2)  # NCHW view of the same host NHWC array
    ty = torch.from_numpy(y)

    def ours(i):
        model.fit(x, y, batch_size=256, epochs=1, verbose=0, shuffle=False)

    def theirs(i):
        tot = torch.zeros((), device=DEV)
        for s in range(steps):
            xb = tx[s * 256:(s + 1) * 256].to(DEV)
            yb = ty[s * 256:(s + 1) * 256].to(DEV)
            opt.zero_grad(set_to_none=True)
            loss = lossf(tm(xb), yb)
            loss.backward()
            opt.step()
            tot += loss.detach()
        return float(tot)

    def check():
        return _train_check(), 1e-3

    prev = {}

    def setup():  # like for like: ours computes in fp32, so cuDNN does too
        prev["tf32"] = torch.backends.cudnn.allow_tf32
        torch.backends.cudnn.allow_tf32 = False

    def teardown():
        torch.backends.cudnn.allow_tf32 = prev["tf32"]

    def alt():  # torch as users run it by default: cuDNN convolutions in TF32
        torch.backends.cudnn.allow_tf32 = True
        try:
            return time_fn(torch, theirs, 5, 1, None, wall=True)[0]
        finally:
            torch.backends.cudnn.allow_tf32 = False

    return Case("b256 x %d steps" % steps, ours, theirs, float(N), unit="img/s", check=check, wall=True, reps=5,
                setup=setup, teardown=teardown, alt=alt,
                note="fit() on the GPU vs a torch loop, cuDNN fp32 (alt: torch default, TF32 convs)")


def _train_check():
    """Relative difference between the loss histories of 3 epochs of LeNet-5 trained from the
    same weights on the same batches on the CPU and on the device (no dropout, no shuffle)."""
    rng = np.random.default_rng(3)
    x = rng.random((512, 28, 28, 1), dtype=np.float32)
    y = (x[:, 10:18, 10:18, 0].mean(axis=(1, 2)) * 10).astype(np.int64).clip(0, 9)  # learnable target
    hist = {}
    w0 = None
    for dev in ("cpu", DEV):
        m = pcn.applications.LeNet5()
        if w0 is None:
            w0 = m.get_weights()
        m.set_weights(w0)
        m.compile(optimizer=pcn.optimizers.SGD(0.05, momentum=0.9), loss="sparse_categorical_crossentropy",
                  device=None if dev == "cpu" else dev)
        hist[dev] = m.fit(x, y, batch_size=64, epochs=3, verbose=0, shuffle=False).history["loss"]
    a, b = np.array(hist["cpu"]), np.array(hist[DEV])
    return float(np.max(np.abs(a - b) / np.abs(a)))


# ---------------------------------------------------------------- driver
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes")
    p.add_argument("--only", default="", help="comma-separated case names")
    p.add_argument("--reps", type=int, default=30)
    p.add_argument("--cpu-dry-run", action="store_true",
                   help="no GPU: run every case's code path with both libraries on the CPU, small sizes, "
                        "2 reps (checks the script, measures nothing)")
    args = p.parse_args(argv)
    global DEV
    if args.cpu_dry_run:
        DEV, args.quick, args.reps = "cpu", True, 2
    else:
        args.reps = max(args.reps, 20)
    try:
        import torch
    except ImportError:
        print("bench/gpu.py: PyTorch is required for the comparison")
        return 2
    if DEV == "cuda" and (not C.cuda_devices() or not torch.cuda.is_available()):
        print("bench/gpu.py: no CUDA device")
        return 2
    if DEV == "cuda":
        dev = C.cuda_devices()[0]
        stream = torch.cuda.ExternalStream(C.cuda_stream(0))
        tstream = torch.cuda.current_stream()
    else:
        dev, stream, tstream = {"name": "CPU dry run (nothing measured)", "multiprocessors": 0}, None, None
    results = []
    only = set(x for x in args.only.split(",") if x)
    failed = False
    for name, make in CASES:
        if only and name not in only:
            continue
        if DEV != "cuda" and (name.startswith("gemm") or name == "copy_d2d"):
            continue  # these build their tensors on "cuda" directly
        t0 = time.time()
        row = {"case": name}
        try:
            c = make(torch, args.quick)
            if c.setup:
                c.setup()
            try:
                err, tol = c.check() if c.check else (float("nan"), float("nan"))
                reps = min(args.reps, c.reps or args.reps)
                rot = 3 if name.startswith("gemm") else 2
                ms, ms_min, ms_max = time_fn(torch, c.ours, reps, rot, stream, c.wall)
                tms, _, _ = time_fn(torch, c.theirs, reps, rot, tstream, c.wall)
                if c.alt:
                    row["torch_alt_ms"] = c.alt()
            finally:
                if c.teardown:
                    c.teardown()
            scale = {"TFLOP/s": 1e-9, "GB/s": 1e-6, "img/s": 1e3}[c.unit]
            row.update(shape=c.shape, ms=ms, ms_min=ms_min, ms_max=ms_max, torch_ms=tms,
                       rate=c.work / ms * scale, torch_rate=c.work / tms * scale, unit=c.unit,
                       pct_torch=100.0 * tms / ms, rel_err=err, tol=tol, ok=bool(err <= tol), note=c.note,
                       seconds=time.time() - t0)
            failed |= not row["ok"]
        except Exception as ex:  # one broken case must not hide the others
            row.update(error="%s: %s" % (type(ex).__name__, ex), ok=False)
            failed = True
        results.append(row)
        print("  %-22s %5.1f s %s" % (name, time.time() - t0, "ok" if row["ok"] else row.get("error", "FAIL")),
              flush=True)
        if DEV == "cuda":
            C.cuda_empty_cache()
            torch.cuda.empty_cache()

    print("GPU: %s (%d SMs), pyconvnet %s, torch %s" % (dev["name"], dev["multiprocessors"],
                                                       pcn.__version__, torch.__version__))
    hdr = "%-25s %-22s %9s %9s %9s %9s %7s %9s %s" % ("case", "shape", "ms", "rate", "torch ms", "torch", "%torch",
                                                       "rel_err", "")
    print(hdr)
    print("-" * len(hdr))
    for r in results:
        if "error" in r:
            print("%-25s ERROR %s" % (r["case"], r["error"][:100]))
            continue
        alt = ""
        if "torch_alt_ms" in r:
            alt = " (torch TF32: %.3f ms, ours %.0f%%)" % (r["torch_alt_ms"], 100.0 * r["torch_alt_ms"] / r["ms"])
        print("%-25s %-22s %9.3f %9.1f %9.3f %9.1f %6.1f%% %9.2e %s %s%s" % (
            r["case"], r["shape"], r["ms"], r["rate"], r["torch_ms"], r["torch_rate"], r["pct_torch"],
            r["rel_err"], "ok" if r["ok"] else "FAIL", r["unit"], alt))
    out = os.environ.get("OUT")
    if out:
        with open(os.path.join(out, "bench_gpu.json"), "w") as f:
            json.dump({"device": dev, "torch": torch.__version__, "results": results}, f, indent=1, default=str)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
