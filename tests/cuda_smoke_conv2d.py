"""Call every CUDA conv2d kernel path once on tiny shapes (for compute-sanitizer):
    compute-sanitizer --tool memcheck  python tests/cuda_smoke_conv2d.py
    compute-sanitizer --tool racecheck python tests/cuda_smoke_conv2d.py
Paths: implicit-GEMM forward / backward_input / backward_filter (direct and split
partials, accumulate), groups, depthwise (float4 and scalar, multiplier), bias
(direct and split). Each result is checked loosely against the CPU kernel;
exit status 1 on a mismatch, 0 (with a note) when there is no GPU."""
import os
import sys

import numpy as np

# the source tree only when the extension was built in place there; else the installed package
if __import__("glob").glob(os.path.join(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."), "pyconvnet", "_C*.so")):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import pyconvnet as pcn  # noqa: E402

C_ = pcn._C


def T(a, dev="cpu"):
    t = pcn.tensor(np.ascontiguousarray(a, dtype=np.float32))
    return t if dev == "cpu" else t.to(dev)


def H(t):
    return np.asarray(t.to("cpu").numpy(), dtype=np.float64)


def check(name, got, ref):
    err = float(np.max(np.abs(got - ref))) if ref.size else 0.0
    scale = max(float(np.max(np.abs(ref))) if ref.size else 1.0, 1e-30)
    ok = np.isfinite(got).all() and err <= 1e-4 * scale
    print("%-44s max|err| %.3g (scale %.3g) %s" % (name, err, scale, "ok" if ok else "FAIL"))
    return ok


def main():
    if not pcn.info()["cuda_devices"]:
        print("no CUDA device: nothing to do")
        return 0
    C_.set_poison_allocations(True)
    rng = np.random.default_rng(7)
    ok = True
    # (name, N,H,W,C, KH,KW,K, strides, padding, dilations, groups)
    cases = [
        ("gemm_basic", 2, 7, 9, 3, 3, 3, 5, [1, 1], "same", [1, 1], 1),
        ("gemm_split_filter", 2, 20, 20, 4, 3, 3, 6, [1, 1], "same", [1, 1], 1),
        ("gemm_groups_dil_stride", 1, 11, 10, 6, 3, 2, 9, [2, 1], [1, 2, 0, 1], [2, 2], 3),
        ("gemm_huge_stride_fallback", 1, 20, 19, 3, 2, 2, 4, [9, 8], "valid", [1, 1], 1),
        ("gemm_stride2_dil2_phases", 2, 9, 8, 5, 3, 3, 6, [2, 2], "same", [2, 2], 1),
        ("depthwise_vec4", 2, 6, 5, 8, 3, 3, 8, [1, 1], "same", [1, 1], 8),
        ("depthwise_mult2_split", 2, 20, 20, 3, 3, 3, 6, [2, 2], "same", [1, 1], 3),
    ]
    for name, N, Hh, W, C, KH, KW, K, s, pad, d, g in cases:
        x = rng.standard_normal((N, Hh, W, C)).astype(np.float32)
        w = rng.standard_normal((KH, KW, C // g, K)).astype(np.float32)
        b = rng.standard_normal(K).astype(np.float32)
        a = (s, pad, d, g)
        yc = H(C_.conv2d_forward(T(x), T(w), T(b), *a, "relu"))
        yg = H(C_.conv2d_forward(T(x, "cuda"), T(w, "cuda"), T(b, "cuda"), *a, "relu"))
        ok &= check(name + " forward", yg, yc)
        dy = rng.standard_normal(yc.shape).astype(np.float32)
        dxc = H(C_.conv2d_backward_input(T(dy), T(w), list(x.shape), *a))
        dxg = H(C_.conv2d_backward_input(T(dy, "cuda"), T(w, "cuda"), list(x.shape), *a))
        ok &= check(name + " backward_input", dxg, dxc)
        dwc = H(C_.conv2d_backward_filter(T(dy), T(x), list(w.shape), *a))
        out = T(np.ones(w.shape, np.float32), "cuda")
        C_.conv2d_backward_filter(T(dy, "cuda"), T(x, "cuda"), list(w.shape), *a, out=out, accumulate=True)
        ok &= check(name + " backward_filter(accumulate)", H(out), dwc + 1.0)
        dbc = H(C_.conv2d_backward_bias(T(dy)))
        dbg = H(C_.conv2d_backward_bias(T(dy, "cuda")))
        ok &= check(name + " backward_bias", dbg, dbc)
    dy = rng.standard_normal((4000, 37)).astype(np.float32)  # split bias reduction
    base = rng.standard_normal(37).astype(np.float32)
    out = T(base, "cuda")
    C_.conv2d_backward_bias(T(dy, "cuda"), out=out, accumulate=True)
    ok &= check("bias_split(accumulate)", H(out), H(C_.conv2d_backward_bias(T(dy))) + base)
    pcn._C.cuda_synchronize() if hasattr(pcn._C, "cuda_synchronize") else None
    print("ALL OK" if ok else "SOME FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
