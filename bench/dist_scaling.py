"""Weak scaling of Model.fit() over MPI ranks (same per-rank batch).

    python bench/dist_scaling.py [--steps 20] [--lenet-steps 40] [--warmup 3] [--models cnn,lenet5]

Runs three configurations, one after the other, each a fresh process tree:
  2r x 1t   mpiexec -n 2, OMP_NUM_THREADS=1 (DistributedOptimizer, gradients averaged every step)
  1r x 1t   one process, 1 thread
  1r x 2t   one process, 2 threads
training the course CNN (tests/test_keras_snippets.py) and LeNet-5 with fit()
on MNIST-shaped synthetic data, per-rank batch 64 (global 128 on 2 ranks),
plain SGD; a callback timestamps every batch and the first --warmup steps are
not timed. samples/s counts all ranks' samples;
efficiency = samples/s(2r x 1t) / (2 x samples/s(1r x 1t)).
Prints a Markdown table and the load average before/after each configuration,
and, for the 2-rank run, the gradient sync's cost inside fit's real step
(DistributedOptimizer pack + Allreduce + scale vs its Allreduce calls alone).
(`--worker` is the per-configuration entry point; not for direct use.)
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)

BATCH = 64


def course_cnn(keras):
    # tests/test_keras_snippets.py::course_cnn (Géron, ch. 14), verbatim
    return keras.models.Sequential([
        keras.layers.Conv2D(64, 7, activation="relu", padding="same", input_shape=[28, 28, 1]),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(128, 3, activation="relu", padding="same"),
        keras.layers.Conv2D(128, 3, activation="relu", padding="same"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(256, 3, activation="relu", padding="same"),
        keras.layers.Conv2D(256, 3, activation="relu", padding="same"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(10, activation="softmax")])


def worker(args):
    import numpy as np
    import pyconvnet as keras
    import pyconvnet.distributed as hvd
    hvd.init()
    size, rank = hvd.size(), hvd.rank()
    res = {}
    for name in args.models.split(","):
        steps = args.steps if name == "cnn" else args.lenet_steps
        total = args.warmup + steps
        keras.utils.set_random_seed(1)
        model = course_cnn(keras) if name == "cnn" else keras.applications.LeNet5(input_shape=(28, 28, 1))
        opt = keras.optimizers.SGD(0.01)
        sync = {"total": [], "allreduce": []}
        if size > 1:
            opt = hvd.DistributedOptimizer(opt, gradients_prescaled=args.prescaled)
            # time the sync inside the real train step: the whole _dist_reduce (pack the
            # gradients into the buckets, Allreduce, scale) and the Allreduce calls alone
            # (which include waiting for the other rank)
            red, start = opt._dist_reduce, opt._dist_start

            def timed_reduce(*a, **k):
                t0 = time.perf_counter()
                out = red(*a, **k)
                sync["total"].append(time.perf_counter() - t0)
                return out

            def timed_start(*a, **k):
                t0 = time.perf_counter()
                out = start(*a, **k)
                if len(sync["allreduce"]) < len(sync["total"]) + 1:
                    sync["allreduce"].append(0.0)
                sync["allreduce"][-1] += time.perf_counter() - t0
                return out

            opt._dist_reduce, opt._dist_start = timed_reduce, timed_start
        model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
        g = np.random.default_rng(rank)
        n = size * BATCH * total
        x = g.random((n, 28, 28, 1), dtype=np.float32)
        y = g.integers(0, 10, n).astype(np.int32)
        stamps = []

        class Clock(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                stamps.append(time.perf_counter())

        cbs = [Clock()]
        if size > 1:
            cbs.insert(0, hvd.callbacks.BroadcastGlobalVariablesCallback(0))
        model.fit(x, y, batch_size=BATCH, epochs=1, steps_per_epoch=total, shuffle=False, verbose=0, callbacks=cbs)
        dt = stamps[-1] - stamps[args.warmup - 1]
        # the slowest rank sets the pace
        dt = float(hvd.allreduce(np.array([dt]), op=hvd.Max)[0]) if size > 1 else dt
        res[name] = {"steps": steps, "seconds": dt, "samples_per_s": size * BATCH * steps / dt,
                     "step_ms": 1000.0 * dt / steps}
        if sync["total"]:
            tot, ar = np.array(sync["total"][args.warmup:]), np.array(sync["allreduce"][args.warmup:])
            m = hvd.allreduce(np.array([np.median(tot), np.median(ar), np.median(tot / ar)]), op=hvd.Max)
            res[name].update(sync_ms=1000.0 * float(m[0]), allreduce_ms=1000.0 * float(m[1]),
                             sync_ratio=float(m[2]))
    if rank == 0:
        print("RESULT " + json.dumps(res), flush=True)


def run_config(label, nranks, threads, args):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYCONVNET_NUM_THREADS=str(threads),
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("PYCONVNET_DIST_DEBUG", None)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--steps", str(args.steps),
           "--lenet-steps", str(args.lenet_steps), "--warmup", str(args.warmup), "--models", args.models]
    if args.prescaled:
        cmd.append("--prescaled")
    if nranks > 1:
        mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
        cmd = [mpiexec if os.path.exists(mpiexec) else "mpiexec", "-n", str(nranks)] + cmd
    la0 = os.getloadavg()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
    la1 = os.getloadavg()
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
    if p.returncode != 0 or not line:
        raise SystemExit("%s failed (rc %s):\n%s\n%s" % (label, p.returncode, p.stdout, p.stderr[-3000:]))
    return json.loads(line[0][7:]), la0, la1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", action="store_true")
    ap.add_argument("--steps", type=int, default=20, help="timed steps, course CNN")
    ap.add_argument("--lenet-steps", type=int, default=40, help="timed steps, LeNet-5")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--models", default="cnn,lenet5")
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("--only-2r", action="store_true", help="just the 2-rank run (the in-step sync timing)")
    ap.add_argument("--prescaled", action="store_true",
                    help="DistributedOptimizer(gradients_prescaled=True): fit folds 1/size into its loss seed")
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    configs = [("2r x 1t", 2, 1), ("1r x 1t", 1, 1), ("1r x 2t", 1, 2)]
    if args.only_2r:
        configs = configs[:1]
    out = {}
    print("dist_scaling: per-rank batch %d, %d cores%s; %s" % (
        BATCH, os.cpu_count(), ", gradients_prescaled" if args.prescaled else "",
        time.strftime("%H:%M:%S UTC", time.gmtime())))
    for label, nr, th in configs:
        res, la0, la1 = run_config(label, nr, th, args)
        out[label] = res
        print("  %s done: load average %.2f -> %.2f  %s" % (label, la0[0], la1[0], json.dumps(res)), flush=True)
    if len(configs) < 3:
        configs += [(None, 0, 0)] * 2
        out[None] = {m: {"samples_per_s": float("nan")} for m in args.models.split(",")}
    print("| model | 2r x 1t samples/s | 1r x 1t samples/s | 1r x 2t samples/s | efficiency 2r/(2 x 1r1t) | "
          "2r vs 1r x 2t |")
    print("|---|---|---|---|---|---|")
    for m in args.models.split(","):
        a, b, c = (out[k][m]["samples_per_s"] for k, _, _ in configs)
        print("| %s | %.1f | %.1f | %.1f | **%.3f** | %.3f |" % (m, a, b, c, a / (2 * b), a / c))
    print("2 ranks, inside fit's step (median; max over ranks): sync = DistributedOptimizer pack + Allreduce + "
          "scale, vs its Allreduce calls alone")
    for m in args.models.split(","):
        r = out[configs[0][0]][m]
        print("  %s: step %.1f ms, sync %.3f ms, Allreduce %.3f ms, sync/Allreduce %.3f"
              % (m, r["step_ms"], r["sync_ms"], r["allreduce_ms"], r["sync_ratio"]))


if __name__ == "__main__":
    main()
