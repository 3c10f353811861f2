"""(Superseded by bench/train_steps.py, which adds TF/Keras, the stacked SimpleRNN and
ResNet-34 and alternates the frameworks; kept because older WORKLOG entries cite it.)

Training throughput (samples/s) of the course CNN and LeNet-5 at batch 64:
pyconvnet's Keras layer (fit's train step: forward, tape backward, optimizer)
beside the same model in PyTorch, measured in the same run on the same threads.

    PYTHONPATH=. python bench/keras_throughput.py [--steps 10] [--batch 64] [--models cnn,lenet5] [--json out.json]
"""
import argparse
import json
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import pyconvnet as keras  # noqa: E402


def course_cnn():
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


def lenet5():
    L = keras.layers
    return keras.models.Sequential([
        L.ZeroPadding2D(2, input_shape=[28, 28, 1]),
        L.Conv2D(6, 5, activation="tanh"), L.AveragePooling2D(2),
        L.Conv2D(16, 5, activation="tanh"), L.AveragePooling2D(2),
        L.Conv2D(120, 5, activation="tanh"), L.Flatten(),
        L.Dense(84, activation="tanh"), L.Dense(10, activation="softmax")])


def torch_model(name):
    import torch.nn as nn
    if name == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 64, 7, padding=3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.Conv2d(128, 128, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(128, 256, 3, padding=1), nn.ReLU(), nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(256 * 3 * 3, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 64), nn.ReLU(),
            nn.Dropout(0.5), nn.Linear(64, 10))
    return nn.Sequential(
        nn.ZeroPad2d(2), nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(),
        nn.AvgPool2d(2), nn.Conv2d(16, 120, 5), nn.Tanh(), nn.Flatten(), nn.Linear(120, 84), nn.Tanh(),
        nn.Linear(84, 10))


def bench_ours(name, batch, steps, x, y):
    keras.utils.set_random_seed(0)
    m = course_cnn() if name == "cnn" else lenet5()
    m.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    for i in range(2):
        m.train_on_batch(x[:batch], y[:batch])
    t = time.perf_counter()
    for i in range(steps):
        m.train_on_batch(x[:batch], y[:batch])
    dt = time.perf_counter() - t
    # forward-only (predict) throughput
    t2 = time.perf_counter()
    for i in range(steps):
        m.predict_on_batch(x[:batch])
    dt2 = time.perf_counter() - t2
    return batch * steps / dt, batch * steps / dt2


def bench_torch(name, batch, steps, x, y):
    import torch
    torch.manual_seed(0)
    m = torch_model(name)
    opt = torch.optim.Adam(m.parameters(), 1e-3)
    lossf = torch.nn.CrossEntropyLoss()
    xb = torch.from_numpy(np.ascontiguousarray(x[:batch].transpose(0, 3, 1, 2)))
    yb = torch.from_numpy(y[:batch].astype(np.int64))

    def step():
        opt.zero_grad()
        loss = lossf(m(xb), yb)
        loss.backward()
        opt.step()
    for _ in range(2):
        step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    dt = time.perf_counter() - t
    m.eval()
    with torch.no_grad():
        t2 = time.perf_counter()
        for _ in range(steps):
            m(xb)
        dt2 = time.perf_counter() - t2
    return batch * steps / dt, batch * steps / dt2


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--models", default="cnn,lenet5")
    ap.add_argument("--json", default="")
    ap.add_argument("--no-torch", action="store_true")
    a = ap.parse_args()
    r = np.random.default_rng(0)
    x = r.random((a.batch, 28, 28, 1), dtype=np.float32)
    y = r.integers(0, 10, a.batch)
    threads = keras.get_num_threads()
    try:
        import torch
        torch.set_num_threads(threads)
        tv = torch.__version__
    except ImportError:
        torch, tv = None, None
    rows = []
    for name in a.models.split(","):
        ours = bench_ours(name, a.batch, a.steps, x, y)
        theirs = bench_torch(name, a.batch, a.steps, x, y) if torch is not None and not a.no_torch else (None, None)
        rows.append({"model": name, "batch": a.batch, "steps": a.steps, "pyconvnet_train_sps": ours[0],
                     "pyconvnet_predict_sps": ours[1], "torch_train_sps": theirs[0], "torch_predict_sps": theirs[1]})
    info = {"machine": platform.node(), "threads": threads, "simd": keras.simd_level(), "torch": tv,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": rows}
    print("| model | batch | pyconvnet train samples/s | torch train samples/s | ratio | pyconvnet predict | torch predict |")
    print("|---|---|---|---|---|---|---|")
    f = lambda v: "-" if v is None else "%.0f" % v
    for rr in rows:
        ratio = "-" if not rr["torch_train_sps"] else "%.2f" % (rr["pyconvnet_train_sps"] / rr["torch_train_sps"])
        print("| %s | %d | %s | %s | %s | %s | %s |" % (rr["model"], rr["batch"], f(rr["pyconvnet_train_sps"]),
                                                      f(rr["torch_train_sps"]), ratio, f(rr["pyconvnet_predict_sps"]),
                                                      f(rr["torch_predict_sps"])))
    print("threads=%d simd=%s torch=%s %s" % (threads, info["simd"], tv, info["date"]))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(info, fh, indent=1)


if __name__ == "__main__":
    main()
