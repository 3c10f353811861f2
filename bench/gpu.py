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
    setup/teardown: optional callables around the case (precision switches)."""

    def __init__(self, shape, ours, theirs, work, unit="TFLOP/s", check=None, setup=None, teardown=None,
                 note=""):
        self.shape, self.ours, self.theirs, self.work, self.unit = shape, ours, theirs, work, unit
        self.check, self.setup, self.teardown, self.note = check, setup, teardown, note


def rel_err(out, ref):
    out = np.asarray(out, np.float64)
    ref = np.asarray(ref, np.float64)
    if not np.isfinite(out).all():
        return float("inf")
    return float(np.linalg.norm(out - ref) / max(np.linalg.norm(ref), 1e-30))


def time_fn(torch, fn, reps, rotate, stream):
    """Median ms of `reps` runs of fn(i) (after warm-up) with events on `stream`."""
    for i in range(3):
        fn(i % rotate)
    torch.cuda.synchronize()
    C.synchronize()
    times = []
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


# ---------------------------------------------------------------- driver
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes")
    p.add_argument("--only", default="", help="comma-separated case names")
    p.add_argument("--reps", type=int, default=30)
    args = p.parse_args(argv)
    args.reps = max(args.reps, 20)
    try:
        import torch
    except ImportError:
        print("bench/gpu.py: PyTorch is required for the comparison")
        return 2
    if not C.cuda_devices() or not torch.cuda.is_available():
        print("bench/gpu.py: no CUDA device")
        return 2
    dev = C.cuda_devices()[0]
    stream = torch.cuda.ExternalStream(C.cuda_stream(0))
    tstream = torch.cuda.current_stream()
    results = []
    only = set(x for x in args.only.split(",") if x)
    failed = False
    for name, make in CASES:
        if only and name not in only:
            continue
        t0 = time.time()
        row = {"case": name}
        try:
            c = make(torch, args.quick)
            if c.setup:
                c.setup()
            try:
                err, tol = c.check() if c.check else (float("nan"), float("nan"))
                ms, ms_min, ms_max = time_fn(torch, c.ours, args.reps, 3 if name.startswith("gemm") else 2, stream)
                tms, _, _ = time_fn(torch, c.theirs, args.reps, 3 if name.startswith("gemm") else 2, tstream)
            finally:
                if c.teardown:
                    c.teardown()
            scale = 1e-9 if c.unit == "TFLOP/s" else 1e-6
            row.update(shape=c.shape, ms=ms, ms_min=ms_min, ms_max=ms_max, torch_ms=tms,
                       rate=c.work / ms * scale, torch_rate=c.work / tms * scale, unit=c.unit,
                       pct_torch=100.0 * tms / ms, rel_err=err, tol=tol, ok=bool(err <= tol), note=c.note,
                       seconds=time.time() - t0)
            failed |= not row["ok"]
        except Exception as ex:  # one broken case must not hide the others
            row.update(error="%s: %s" % (type(ex).__name__, ex), ok=False)
            failed = True
        results.append(row)
        C.cuda_empty_cache()
        torch.cuda.empty_cache()

    print("GPU: %s (%d SMs), pyconvnet %s, torch %s" % (dev["name"], dev["multiprocessors"],
                                                       pcn.__version__, torch.__version__))
    hdr = "%-17s %-17s %9s %9s %9s %9s %7s %9s %s" % ("case", "shape", "ms", "rate", "torch ms", "torch", "%torch",
                                                       "rel_err", "")
    print(hdr)
    print("-" * len(hdr))
    for r in results:
        if "error" in r:
            print("%-17s ERROR %s" % (r["case"], r["error"][:100]))
            continue
        print("%-17s %-17s %9.3f %9.1f %9.3f %9.1f %6.1f%% %9.2e %s %s" % (
            r["case"], r["shape"], r["ms"], r["rate"], r["torch_ms"], r["torch_rate"], r["pct_torch"],
            r["rel_err"], "ok" if r["ok"] else "FAIL", r["unit"]))
    out = os.environ.get("OUT")
    if out:
        with open(os.path.join(out, "bench_gpu.json"), "w") as f:
            json.dump({"device": dev, "torch": torch.__version__, "results": results}, f, indent=1, default=str)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
