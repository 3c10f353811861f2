"""Run every CUDA kernel of pyconvnet once on tiny shapes and check the
results; meant to run under compute-sanitizer (memcheck, racecheck), so the
shapes are small and nothing else (no torch) is loaded.

    compute-sanitizer --tool memcheck --error-exitcode 3 python tests/cuda_smoke.py

Exit status 0 when every result matches, 1 on a mismatch, 2 without a GPU."""
import os
import sys

import numpy as np

# the source tree only when the extension was built in place there; else the installed package
if __import__("glob").glob(os.path.join(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."), "pyconvnet", "_C*.so")):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import pyconvnet as pcn  # noqa: E402

C = pcn._C


def main():
    if not C.cuda_devices():
        print("cuda_smoke: no CUDA device visible")
        return 2
    C.set_poison_allocations(True)  # exercises the fill kernel on every allocation
    rng = np.random.default_rng(0)
    bad = []
    n = 0
    # runtime: H2D, D2D, D2H copies, fill (zero_ and poison)
    a = rng.standard_normal((5, 3)).astype(np.float32)
    d = pcn.tensor(a, device="cuda")
    e = d.clone()
    z = pcn.empty(7, device="cuda").zero_()
    n += 1
    if not (np.array_equal(e.numpy(), a) and not z.numpy().any()):
        bad.append("copies/fill")
    # GEMM: every kernel instance (3 precisions x 4 transposes), beta 0 and not,
    # a shape with a partial tile in every dimension and odd leading dims.
    shapes = [(37, 45, 19), (130, 9, 40)]
    tol = {"highest": 1e-5, "high": 2e-3, "medium": 2e-2}
    for prec in ("highest", "high", "medium"):
        C.set_matmul_precision(prec)
        for ta in (False, True):
            for tb in (False, True):
                for (M, N, K) in shapes:
                    A = rng.standard_normal((K, M) if ta else (M, K)).astype(np.float32)
                    B = rng.standard_normal((N, K) if tb else (K, N)).astype(np.float32)
                    C0 = rng.standard_normal((M, N)).astype(np.float32)
                    for beta in (0.0, 0.5):
                        c = pcn.tensor(C0, device="cuda")
                        C.gemm_into(c, pcn.tensor(A, device="cuda"), pcn.tensor(B, device="cuda"), ta, tb, 1.5, beta)
                        r = 1.5 * ((A.T if ta else A).astype(np.float64) @ (B.T if tb else B)) + beta * C0
                        out = c.numpy()
                        err = np.linalg.norm(out - r) / np.linalg.norm(r)
                        n += 1
                        if not np.isfinite(out).all() or err > tol[prec]:
                            bad.append("gemm %s ta=%d tb=%d %s beta=%g err=%.3g" % (prec, ta, tb, (M, N, K), beta, err))
    C.set_matmul_precision("highest")
    C.synchronize()
    print("cuda_smoke: %d checks, %d failed" % (n, len(bad)))
    for b in bad:
        print("  FAIL", b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
