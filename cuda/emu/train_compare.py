"""Train the course CNN (applications.FashionCNN) and LeNet-5 on a small MNIST
subset on the CPU and on the emulated CUDA device (cuda/emu/run_device.sh build)
from the same seed (same initial weights, same Dropout masks, same shuffling),
and compare loss/accuracy per epoch; count host<->device transfers per step.

    cd $PCN_EMU_DIR && python /path/to/cuda/emu/train_compare.py [--n 256] [--epochs 2] [--batch 32]

(run_device.sh leaves the build in /tmp/pcn_cuda_emu_dev; run from there so
`import pyconvnet` finds it.) The device run is slow: every kernel runs under the
fiber emulator (roughly 1000x slower than the CPU kernels)."""
import argparse
import ctypes
import time

import numpy as np

import pyconvnet as keras
from pyconvnet import applications
from pyconvnet.datasets import mnist

STATS = ["h2d", "h2d_bytes", "d2h", "d2h_bytes", "d2d", "d2d_bytes", "memset", "memset_bytes", "malloc", "free",
         "launches", "live_bytes", "null_stream"]


def stats(lib):
    out = (ctypes.c_longlong * len(STATS))()
    lib.pcn_emu_device_stats(out)
    return dict(zip(STATS, out))


def run(name, make, x, y, xt, yt, device, epochs, batch, lib):
    keras.utils.set_random_seed(1234)
    keras.utils.clear_session()
    m = make()
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
              device=device if device != "cpu" else None)
    s0 = stats(lib) if lib else None
    t0 = time.time()
    h = m.fit(x, y, batch_size=batch, epochs=epochs, verbose=0, shuffle=True)
    t1 = time.time()
    d = {k: stats(lib)[k] - s0[k] for k in STATS} if lib else None
    ev = m.evaluate(xt, yt, verbose=0)
    return h.history, ev, t1 - t0, d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--models", default="lenet5,course_cnn")
    a = ap.parse_args()
    lib = ctypes.CDLL(keras._C.__file__)
    if not hasattr(lib, "pcn_emu_device_stats"):
        raise SystemExit("not the emulated-device build (cuda/emu/run_device.sh)")
    (x, y), (xt, yt) = mnist.load_subset()
    rng = np.random.default_rng(0)
    i, j = rng.permutation(len(x))[:a.n], rng.permutation(len(xt))[:a.test]
    prep = lambda v: (v.astype(np.float32) / 255.0)[..., None]  # noqa: E731
    x, y, xt, yt = prep(x[i]), y[i].astype(np.int32), prep(xt[j]), yt[j].astype(np.int32)
    makers = {"lenet5": lambda: applications.LeNet5(), "course_cnn": lambda: applications.FashionCNN()}
    steps = a.epochs * -(-a.n // a.batch)
    for name in a.models.split(","):
        hc, ec, tc, _ = run(name, makers[name], x, y, xt, yt, "cpu", a.epochs, a.batch, None)
        hd, ed, td, d = run(name, makers[name], x, y, xt, yt, "cuda", a.epochs, a.batch, lib)
        print("%s: %d train / %d test samples, %d epochs x batch %d (%d steps); CPU %.1f s, emulated device %.1f s"
              % (name, a.n, a.test, a.epochs, a.batch, steps, tc, td))
        for e in range(a.epochs):
            print("  epoch %d  loss cpu %.6f dev %.6f  |  acc cpu %.4f dev %.4f"
                  % (e + 1, hc["loss"][e], hd["loss"][e], hc["accuracy"][e], hd["accuracy"][e]))
        print("  test     loss cpu %.6f dev %.6f  |  acc cpu %.4f dev %.4f" % (ec[0], ed[0], ec[1], ed[1]))
        print("  transfers per step (fit, device): H2D %.1f (%.0f B), D2H %.1f (%.0f B), D2D %.1f, kernel launches %.0f"
              % (d["h2d"] / steps, d["h2d_bytes"] / steps, d["d2h"] / steps, d["d2h_bytes"] / steps,
                 d["d2d"] / steps, d["launches"] / steps))
        print("  batch bytes: x %d + y %d" % (a.batch * 28 * 28 * 4, a.batch * 4))


if __name__ == "__main__":
    main()
