"""compare.py — the emulated CUDA kernels against the CPU kernels themselves
(not the float64 references): outputs that the .cu files promise to equal the
CPU's bit for bit (dropout masks from the counter-based RNG, optimizer updates
written with explicit _rn intrinsics, casts, index ops, copies, binary ops,
relu/max/min NaN rules) must match exactly; the rest is reported in ulps and
(relative to the largest |value|) flagged above 1e-5 or when NaN positions differ.

  python compare.py dump OUT.npz      (in the emulation build; PCN_EMU_OFF=1: CPU kernels)
  python compare.py compare CPU.npz EMU.npz
run.sh does both with EMU_COMPARE=1. The CPU side runs at simd level "base"
(no FMA contraction on either side). What the host cannot show: the GPU's own
libm (expf/logf/... differ from glibc by an ulp or two) and nvcc's contraction of
a*b+c into FMA wherever the .cu does not use _rn intrinsics."""
import sys

import numpy as np

EXACT = ("edge_", "dropout", "optim", "cast", "argmax", "one_hot", "where", "copy", "binary", "unary_", "reduce_max",
         "reduce_min", "fill", "axpy")
EXACT_ACT = ("linear", "relu", "relu6", "leaky_relu", "hard_sigmoid")


def inputs(rng, shape, special=True):
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    if special:
        flat = x.reshape(-1)
        vals = [np.nan, np.inf, -np.inf, 0.0, -0.0, 6.0, -3.0, 3.0, 88.8, -104.0, 1e-30, -1e30]
        idx = rng.choice(flat.size, min(len(vals), flat.size), replace=False)
        flat[idx] = vals[:len(idx)]
    return x


def dump(out):
    import pyconvnet as pcn
    C = pcn._C
    C.force_simd_level("base")
    T = lambda a: pcn.tensor(np.ascontiguousarray(a))
    A = lambda t: np.array(t.numpy() if hasattr(t, "numpy") else t)
    rng = np.random.default_rng(0)
    r = {}
    x = inputs(rng, (7, 33))
    for rate, seed in [(0.1, 1), (0.5, 1234), (0.9, 2**40 + 7)]:
        xd = rng.standard_normal(10007).astype(np.float32)
        y, m = C.dropout_forward(T(xd), rate, seed)
        r["dropout_y_%g" % rate], r["dropout_mask_%g" % rate] = A(y), A(m)
        r["dropout_bwd_%g" % rate] = A(C.dropout_backward(T(xd), m, rate))
    for name in ["linear", "relu", "relu6", "leaky_relu", "elu", "selu", "sigmoid", "hard_sigmoid", "tanh",
                 "softplus", "softsign", "swish", "gelu", "gelu_tanh", "exponential"]:
        y = C.activation_forward(T(x), name)
        r["act_" + name] = A(y)
        dy = rng.standard_normal(x.shape).astype(np.float32)
        try:
            r["actbwd_" + name] = A(C.activation_backward(T(dy), T(x), y, name))
        except Exception as e:  # an activation that takes only one of x / y
            r["actbwd_" + name] = np.array([str(e)])
        if name in ("relu", "sigmoid", "tanh", "exponential"):  # from y alone / x alone
            r["actbwd_yonly_" + name] = A(C.activation_backward(T(dy), None, y, name))
        if name in ("relu", "elu"):
            r["actbwd_xonly_" + name] = A(C.activation_backward(T(dy), T(x), None, name))
    for op in ["add", "sub", "mul", "div", "maximum", "minimum", "pow"]:
        b = inputs(rng, (1, 33))
        r["binary_" + op] = A(C.binary(op, T(x), T(b)))
        r["binary_same_" + op] = A(C.binary(op, T(x), T(inputs(rng, x.shape))))
    for op in ["neg", "exp", "log", "sqrt", "rsqrt", "square", "abs", "sign", "reciprocal", "sin", "cos", "floor",
               "round", "tanh", "sigmoid", "log1p", "expm1"]:
        xu = np.concatenate([x.ravel(), np.array([0.5, 1.5, 2.5, -0.5, -2.5, -1e-8, 1e-8], np.float32)])
        r["unary_" + op] = A(C.unary(op, T(xu)))
    for op in ["add", "sub", "mul", "div", "maximum", "minimum", "pow"]:
        for rev in [False, True]:
            r["unary_scalar_%s_%d" % (op, rev)] = A(C.binary_scalar(op, T(x), -1.5 if op == "pow" else 0.7, rev))
            r["unary_scalar_nan_%s_%d" % (op, rev)] = A(C.binary_scalar(op, T(x), float("nan"), rev))
    r["unary_maxs"] = A(C.binary_scalar("maximum", T(x), 0.5))
    r["unary_clip"] = A(C.clip(T(x), -1.0, 2.0))
    for op in ["sum", "mean", "max", "min", "prod"]:
        xr = inputs(rng, (5, 3000, 3))
        r["reduce_%s_1" % op] = A(C.reduce(op, T(xr), [1], False))
        r["reduce_%s_2" % op] = A(C.reduce(op, T(xr), [0, 2], False))
    for t in ["int32", "int64", "uint8", "float32"]:
        r["cast_" + t] = A(C.cast(T(x * 40), t))
    r["argmax"] = A(C.argmax(T(x), -1))
    r["one_hot"] = A(C.one_hot(T(rng.integers(-1, 12, 20).astype(np.int64)), 10))
    r["where"] = A(C.where(T((x > 0).astype(np.uint8)), T(x), T(-x)))
    r["copy"] = A(C.transpose(T(inputs(rng, (3, 4, 5, 6))), [2, 0, 3, 1]))
    f = T(np.zeros(37, np.float32)); C.fill_(f, 2.5); r["fill"] = A(f)
    yv = T(x.copy()); C.axpy_(yv, T(x * 0.3), 1.7); r["axpy"] = A(yv)
    for ax in [-1, 0]:
        y = C.softmax_forward(T(x), ax)
        r["softmax_%d" % ax] = A(y)
        r["log_softmax_%d" % ax] = A(C.log_softmax_forward(T(x), ax))
        r["softmax_bwd_%d" % ax] = A(C.softmax_backward(T(x), y, ax))
    lab = rng.integers(0, 33, 7).astype(np.int64)
    logits = (rng.standard_normal((7, 33)) * 2).astype(np.float32)
    loss, probs = C.softmax_cross_entropy_forward(T(logits), T(lab))
    r["sce_loss"], r["sce_probs"] = A(loss), A(probs)
    r["sce_bwd"] = A(C.softmax_cross_entropy_backward(probs, T(lab), T(np.linspace(0.5, 2, 7, dtype=np.float32))))
    soft = rng.uniform(0, 1, (7, 33)).astype(np.float32)
    soft /= soft.sum(1, keepdims=True)
    loss, probs = C.softmax_cross_entropy_forward(T(logits), T(soft))
    r["sce_dense_loss"], r["sce_dense_probs"] = A(loss), A(probs)
    r["sce_dense_bwd"] = A(C.softmax_cross_entropy_backward(probs, T(soft), T(np.ones(7, np.float32))))
    p = np.abs(logits) / np.abs(logits).sum(1, keepdims=True)
    r["cep_dense_loss"] = A(C.crossentropy_probs_forward(T(p), T(soft)))
    r["cep_dense_bwd"] = A(C.crossentropy_probs_backward(T(p), T(soft), T(np.ones(7, np.float32))))
    r["cep_loss"] = A(C.crossentropy_probs_forward(T(p), T(lab)))
    r["cep_bwd"] = A(C.crossentropy_probs_backward(T(p), T(lab), T(np.ones(7, np.float32))))
    pr = rng.uniform(0, 1, (6, 40)).astype(np.float32)
    tg = rng.uniform(0, 1, (6, 40)).astype(np.float32)
    for k, fwd, bwd in [("mse", C.mse_forward, C.mse_backward), ("mae", C.mae_forward, C.mae_backward)]:
        r[k] = A(fwd(T(pr), T(tg)))
        r[k + "_bwd"] = A(bwd(T(pr), T(tg), T(np.ones(6, np.float32))))
    r["huber"] = A(C.huber_forward(T(pr), T(tg), 0.2))
    r["huber_bwd"] = A(C.huber_backward(T(pr), T(tg), T(np.ones(6, np.float32)), 0.2))
    for fl in [False, True]:
        z = pr * 10 - 5 if fl else pr
        r["bce_%d" % fl] = A(C.binary_crossentropy_forward(T(z), T(tg), fl))
        r["bce_bwd_%d" % fl] = A(C.binary_crossentropy_backward(T(z), T(tg), T(np.ones(6, np.float32)), fl))
    n = 1001
    w0, g0 = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    s0 = np.abs(rng.standard_normal(n)).astype(np.float32)
    for name, run in [
        ("sgd", lambda w, g, a, b, c: C.sgd_update_(w, g, None, 0.1)),
        ("sgd_mom", lambda w, g, a, b, c: C.sgd_update_(w, g, a, 0.1, 0.9, False)),
        ("sgd_nesterov", lambda w, g, a, b, c: C.sgd_update_(w, g, a, 0.1, 0.9, True)),
        ("adam", lambda w, g, a, b, c: C.adam_update_(w, g, a, b, 0.01, 0.9, 0.999, 1e-7, 3)),
        ("adam_ams", lambda w, g, a, b, c: C.adam_update_(w, g, a, b, 0.01, 0.9, 0.999, 1e-7, 3, c)),
        ("rmsprop", lambda w, g, a, b, c: C.rmsprop_update_(w, g, a, None, None, 0.01, 0.9, 0.0, 1e-7, False)),
        ("rmsprop_centered_mom", lambda w, g, a, b, c: C.rmsprop_update_(w, g, a, b, c, 0.01, 0.9, 0.5, 1e-7, True)),
        ("adagrad", lambda w, g, a, b, c: C.adagrad_update_(w, g, a, 0.05, 1e-7)),
    ]:
        w, a, b, c = T(w0), T(s0), T(s0 * 0.5), T(s0 * 2)
        for _ in range(3):
            run(w, T(g0), a, b, c)
        r["optim_" + name] = np.stack([A(w), A(a), A(b), A(c)])
    # conv2d (ulps only: the GPU tiles sum in another order)
    xc = rng.standard_normal((2, 9, 8, 6)).astype(np.float32)
    wc = rng.standard_normal((3, 3, 3, 8)).astype(np.float32)
    r["conv_fwd"] = A(C.conv2d_forward(T(xc), T(wc), None, [2, 1], "same", [1, 1], 2, "relu"))
    edges(C, T, r)
    np.savez(out, **r)


def edges(C, T, out):
    """Empty sizes, NaN/inf, all -inf rows, zero-probability rows, clipped
    probabilities, out-of-range casts: the CPU's rules, exactly."""
    def rec(name, f):
        try:
            v = f()
            v = [np.asarray(np.array(u)) for u in v] if isinstance(v, (tuple, list)) else [np.asarray(np.array(v))]
            for i, u in enumerate(v):
                out["edge_%s_%d" % (name, i)] = u
        except Exception as e:
            out["edge_" + name] = np.array(["EXC %s: %s" % (type(e).__name__, str(e)[:80])])
    x0 = np.zeros((0, 5, 6, 3), np.float32); w = np.ones((3, 3, 3, 4), np.float32)
    rec("conv_fwd_n0", lambda: C.conv2d_forward(T(x0), T(w), None, [1,1], "same", [1,1], 1, "none").numpy())
    rec("conv_bwdf_n0", lambda: C.conv2d_backward_filter(T(np.zeros((0,5,6,4),np.float32)), T(x0), list(w.shape), [1,1], "same", [1,1], 1).numpy())
    rec("conv_bias_n0", lambda: C.conv2d_backward_bias(T(np.zeros((0,4),np.float32))).numpy())
    rec("conv_bwdi_n0", lambda: C.conv2d_backward_input(T(np.zeros((0,5,6,4),np.float32)), T(w), [0,5,6,3], [1,1], "same", [1,1], 1).numpy())
    dwx = np.zeros((0,5,6,4),np.float32); dww = np.ones((3,3,1,4),np.float32)
    rec("dw_bwdf_n0", lambda: C.conv2d_backward_filter(T(np.zeros((0,5,6,4),np.float32)), T(dwx), [3,3,1,4], [1,1], "same", [1,1], 4).numpy())
    for op in ["sum","mean","max","min","prod"]:
        rec("reduce_empty_"+op, lambda: C.reduce(op, T(np.zeros((3,0,2),np.float32)), [1], False).numpy())
        rec("reduce_empty_all_"+op, lambda: C.reduce(op, T(np.zeros((0,),np.float32)), [0], False).numpy())
    rec("softmax_0rows", lambda: C.softmax_forward(T(np.zeros((0,4),np.float32)), -1).numpy())
    rec("softmax_0cols", lambda: C.softmax_forward(T(np.zeros((3,0),np.float32)), -1).numpy())
    rec("softmax_allneg_inf", lambda: C.softmax_forward(T(np.full((2,5),-np.inf,np.float32)), -1).numpy())
    rec("logsoftmax_allneg_inf", lambda: C.log_softmax_forward(T(np.full((2,5),-np.inf,np.float32)), -1).numpy())
    rec("softmax_posinf", lambda: C.softmax_forward(T(np.array([[np.inf,1,2],[np.inf,np.inf,0]],np.float32)), -1).numpy())
    rec("sce_n0", lambda: C.softmax_cross_entropy_forward(T(np.zeros((0,3),np.float32)), T(np.zeros(0,np.int64))))
    rec("sce_inf", lambda: C.softmax_cross_entropy_forward(T(np.array([[np.inf,1,2],[-np.inf,0,1]],np.float32)), T(np.array([0,0],np.int64))))
    rec("cep_zero_row", lambda: C.crossentropy_probs_forward(T(np.zeros((2,3),np.float32)), T(np.array([0,1],np.int64))))
    rec("cep_zero_row_bwd", lambda: C.crossentropy_probs_backward(T(np.zeros((2,3),np.float32)), T(np.array([0,1],np.int64)), T(np.ones(2,np.float32))))
    rec("mse_d0", lambda: C.mse_forward(T(np.zeros((3,0),np.float32)), T(np.zeros((3,0),np.float32))).numpy())
    rec("mse_nan", lambda: C.mse_forward(T(np.array([[np.nan,1]],np.float32)), T(np.ones((1,2),np.float32))).numpy())
    rec("bce_logits_inf", lambda: C.binary_crossentropy_forward(T(np.array([[np.inf,-np.inf,np.nan]],np.float32)), T(np.array([[1,0,1]],np.float32)), True).numpy())
    rec("bce_logits_inf_bwd", lambda: C.binary_crossentropy_backward(T(np.array([[np.inf,-np.inf,np.nan]],np.float32)), T(np.array([[1,0,1]],np.float32)), T(np.ones(1,np.float32)), True).numpy())
    rec("bce_probs_edge", lambda: C.binary_crossentropy_forward(T(np.array([[0,1,np.nan,1e-9]],np.float32)), T(np.array([[1,0,1,1]],np.float32)), False).numpy())
    rec("bce_probs_edge_bwd", lambda: C.binary_crossentropy_backward(T(np.array([[0,1,np.nan,1e-9]],np.float32)), T(np.array([[1,0,1,1]],np.float32)), T(np.ones(1,np.float32)), False).numpy())
    rec("huber_nan", lambda: C.huber_backward(T(np.array([[np.nan,2,-2,0]],np.float32)), T(np.zeros((1,4),np.float32)), T(np.ones(1,np.float32)), 1.0).numpy())
    rec("mae_nan_bwd", lambda: C.mae_backward(T(np.array([[np.nan,2,-2,0]],np.float32)), T(np.zeros((1,4),np.float32)), T(np.ones(1,np.float32))).numpy())
    rec("argmax_allnan", lambda: C.argmax(T(np.full((2,3),np.nan,np.float32)), -1).numpy())
    rec("argmax_neginf", lambda: C.argmax(T(np.full((2,3),-np.inf,np.float32)), -1).numpy())
    rec("argmax_axis0", lambda: C.argmax(T(np.array([[1,5],[3,2],[3,np.nan]],np.float32)), 0).numpy())
    rec("dropout_rate0", lambda: C.dropout_forward(T(np.arange(10,dtype=np.float32)), 0.0, 3))
    rec("sgd_nan", lambda: (lambda w: (C.sgd_update_(w, T(np.array([np.nan,np.inf,1],np.float32)), None, 0.1), w.numpy())[1])(T(np.ones(3,np.float32))))
    rec("cast_edge", lambda: [C.cast(T(np.array([np.nan,np.inf,-np.inf,2.9,-2.9,255.5,256,-0.5,3e9],np.float32)), t).numpy() for t in ["int32","int64","uint8"]])


def ulps(a, b):
    a, b = a.astype(np.float32).ravel(), b.astype(np.float32).ravel()
    both_nan = np.isnan(a) & np.isnan(b)
    ia, ib = a.view(np.int32).astype(np.int64), b.view(np.int32).astype(np.int64)
    ia = np.where(ia < 0, -(ia & 0x7fffffff), ia)
    ib = np.where(ib < 0, -(ib & 0x7fffffff), ib)
    d = np.abs(ia - ib)
    d[both_nan] = 0
    d[np.isnan(a) != np.isnan(b)] = 2**31
    return int(d.max()) if d.size else 0


def compare(cpu, emu):
    a, b = np.load(cpu), np.load(emu)
    bad = 0
    for k in sorted(a.files):
        x, y = a[k], b[k]
        exact = k.startswith(EXACT) or (k.startswith("act") and k.rsplit("_", 1)[-1] in EXACT_ACT) or \
            (k.startswith("act") and k.split("_", 1)[1] in EXACT_ACT)
        if x.dtype.kind in "US" or x.shape != y.shape:
            same = x.shape == y.shape and np.array_equal(x, y)
            print("%-28s %s" % (k, "same" if same else "DIFFERENT %r vs %r" % (x[:1], y[:1])))
            bad += not same
            continue
        if x.dtype.kind == "f":
            eq = np.array_equal(x.view(np.uint32 if x.dtype == np.float32 else np.uint64),
                                y.view(np.uint32 if y.dtype == np.float32 else np.uint64)) or \
                np.array_equal(x, y, equal_nan=True)
            u = 0 if eq else ulps(x, y)
        else:
            eq, u = np.array_equal(x, y), None
        status = "bitwise" if eq else ("%d ulp" % u if u is not None else "DIFFERENT")
        scaled = 0.0
        if not eq and u is not None:
            fin = np.isfinite(x) & np.isfinite(y)
            scale = np.abs(x[fin]).max() if fin.any() else 1.0
            scaled = float(np.abs(x[fin].astype(np.float64) - y[fin]).max() / max(scale, 1e-30)) if fin.any() else 0.0
            status += ", max err %.1e of max |value|" % scaled
        if exact and not eq:
            status = "MISMATCH (promised equal): " + status
            bad += 1
        elif u is not None and (u >= 2**31 or scaled > 1e-5):
            status = "LARGE: " + status
            bad += 1
        print("%-28s %s" % (k, status))
    print("compare: %d problem(s)" % bad)
    return bad


if __name__ == "__main__":
    if sys.argv[1] == "dump":
        dump(sys.argv[2])
    else:
        sys.exit(1 if compare(sys.argv[2], sys.argv[3]) else 0)
