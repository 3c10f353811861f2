"""Whole training steps (samples/s) of the course's networks: pyconvnet beside the same model
in PyTorch and in TensorFlow/Keras, measured in the same process, alternating.

Models (Adam, random data of the right shapes; one step = forward, backward, update):
  cnn     the course's Fashion-MNIST CNN (64 7x7, 128-128 and 256-256 3x3, dense 128-64), batch 64
  lenet5  LeNet-5 on 28x28 zero-padded to 32x32 (tanh, average pooling), batch 64
  rnn     the course's stacked SimpleRNN (20, 20, Dense 1) on 50-step series, MSE, batch 32
  resnet34  the course's ResNet-34 (ResidualUnit 64x3, 128x4, 256x6, 512x3) on 32x32x3, batch 32
  lstm    two stacked LSTM(128) on 50 steps of 16 features, Dense 1, MSE, batch 32
  gru     the same with GRU(128) (Keras reset_after=True = torch's nn.GRU formula)

Method: every framework gets the same thread count (pyconvnet and torch set_num_threads,
TF intra-op threads; inter-op 1). After warm-up, R rounds; in each round each framework
runs K steps back to back (the order rotates every round); the per-step time of a round is
its K-step time / K and the table shows the median over rounds. pyconvnet and TF run their
Keras train_on_batch (TF: compiled tf.function), torch a plain zero_grad/forward/backward/step.
OMP_WAIT_POLICY defaults to passive so one runtime's spinning threads do not steal the
cores from the next one in the rotation; --omp-default-wait leaves the runtimes' default
(spin, then sleep), which favours frameworks with many small parallel regions.

    PYTHONPATH=. python bench/train_steps.py [--models cnn,lenet5,rnn,resnet34,lstm,gru] [--threads 2]
        [--rounds 7] [--steps 3] [--no-tf] [--no-torch] [--json out.json]
"""
import argparse
import json
import os
import platform
import sys
import time
from functools import partial

if "--omp-default-wait" not in sys.argv:  # before the OpenMP runtimes start
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import pyconvnet  # noqa: E402

BATCH = {"cnn": 64, "lenet5": 64, "rnn": 32, "resnet34": 32, "lstm": 32, "gru": 32}


# ---------------------------------------------------------------- Keras models (K = pyconvnet or tf.keras)
def course_cnn(K):
    conv = partial(K.layers.Conv2D, kernel_size=3, activation="relu", padding="same")
    return K.Sequential([
        K.layers.Input((28, 28, 1)),
        conv(64, kernel_size=7), K.layers.MaxPooling2D(2),
        conv(128), conv(128), K.layers.MaxPooling2D(2),
        conv(256), conv(256), K.layers.MaxPooling2D(2),
        K.layers.Flatten(),
        K.layers.Dense(128, activation="relu"), K.layers.Dropout(0.5),
        K.layers.Dense(64, activation="relu"), K.layers.Dropout(0.5),
        K.layers.Dense(10, activation="softmax")])


def lenet5(K):
    L = K.layers
    return K.Sequential([
        L.Input((28, 28, 1)), L.ZeroPadding2D(2),
        L.Conv2D(6, 5, activation="tanh"), L.AveragePooling2D(2),
        L.Conv2D(16, 5, activation="tanh"), L.AveragePooling2D(2),
        L.Conv2D(120, 5, activation="tanh"), L.Flatten(),
        L.Dense(84, activation="tanh"), L.Dense(10, activation="softmax")])


def stacked_rnn(K):
    return K.Sequential([
        K.layers.Input((None, 1)),
        K.layers.SimpleRNN(20, return_sequences=True),
        K.layers.SimpleRNN(20),
        K.layers.Dense(1)])


def stacked_lstm(K, cell="LSTM"):
    layer = getattr(K.layers, cell)
    return K.Sequential([
        K.layers.Input((50, 16)),
        layer(128, return_sequences=True),
        layer(128),
        K.layers.Dense(1)])


def resnet34(K):
    DefaultConv2D = partial(K.layers.Conv2D, kernel_size=3, strides=1, padding="same", use_bias=False)

    class ResidualUnit(K.layers.Layer):
        def __init__(self, filters, strides=1, activation="relu", **kwargs):
            super().__init__(**kwargs)
            self.activation = K.activations.get(activation)
            self.main_layers = [DefaultConv2D(filters, strides=strides), K.layers.BatchNormalization(),
                                self.activation, DefaultConv2D(filters), K.layers.BatchNormalization()]
            self.skip_layers = []
            if strides > 1:
                self.skip_layers = [DefaultConv2D(filters, kernel_size=1, strides=strides),
                                    K.layers.BatchNormalization()]

        def call(self, inputs):
            Z = inputs
            for layer in self.main_layers:
                Z = layer(Z)
            skip_Z = inputs
            for layer in self.skip_layers:
                skip_Z = layer(skip_Z)
            return self.activation(Z + skip_Z)

    model = K.Sequential([K.layers.Input((32, 32, 3)), DefaultConv2D(64, kernel_size=7, strides=2),
                          K.layers.BatchNormalization(), K.layers.Activation("relu"),
                          K.layers.MaxPooling2D(pool_size=3, strides=2, padding="same")])
    prev = 64
    for filters in [64] * 3 + [128] * 4 + [256] * 6 + [512] * 3:
        model.add(ResidualUnit(filters, strides=1 if filters == prev else 2))
        prev = filters
    model.add(K.layers.GlobalAveragePooling2D())
    model.add(K.layers.Flatten())
    model.add(K.layers.Dense(10, activation="softmax"))
    return model


KERAS_BUILD = {"cnn": course_cnn, "lenet5": lenet5, "rnn": stacked_rnn, "resnet34": resnet34,
               "lstm": stacked_lstm, "gru": partial(stacked_lstm, cell="GRU")}
SEQ = ("rnn", "lstm", "gru")


def data(name, batch):
    r = np.random.default_rng(0)
    if name in SEQ:
        f = 1 if name == "rnn" else 16
        return r.standard_normal((batch, 50, f)).astype(np.float32), r.standard_normal((batch, 1)).astype(np.float32)
    shape = (batch, 32, 32, 3) if name == "resnet34" else (batch, 28, 28, 1)
    return r.random(shape, dtype=np.float32), r.integers(0, 10, batch)


def keras_step(K, name, x, y):
    K.utils.set_random_seed(0)
    m = KERAS_BUILD[name](K)
    m.compile(optimizer=K.optimizers.Adam(1e-3), loss="mse" if name in SEQ else "sparse_categorical_crossentropy")
    return lambda: m.train_on_batch(x, y)


# ---------------------------------------------------------------- PyTorch twins
def torch_step(name, x, y):
    import torch
    import torch.nn as nn
    torch.manual_seed(0)
    if name == "cnn":
        m = nn.Sequential(
            nn.Conv2d(1, 64, 7, padding=3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.Conv2d(128, 128, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(128, 256, 3, padding=1), nn.ReLU(), nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(256 * 3 * 3, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 64), nn.ReLU(),
            nn.Dropout(0.5), nn.Linear(64, 10))
    elif name == "lenet5":
        m = nn.Sequential(
            nn.ZeroPad2d(2), nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(),
            nn.AvgPool2d(2), nn.Conv2d(16, 120, 5), nn.Tanh(), nn.Flatten(), nn.Linear(120, 84), nn.Tanh(),
            nn.Linear(84, 10))
    elif name == "rnn":
        class RNN(nn.Module):
            def __init__(self):
                super().__init__()
                self.r1 = nn.RNN(1, 20, batch_first=True)
                self.r2 = nn.RNN(20, 20, batch_first=True)
                self.out = nn.Linear(20, 1)

            def forward(self, s):
                h, _ = self.r1(s)
                _, hn = self.r2(h)
                return self.out(hn[0])
        m = RNN()
    elif name in ("lstm", "gru"):
        cell = nn.LSTM if name == "lstm" else nn.GRU

        class Stacked(nn.Module):
            def __init__(self):
                super().__init__()
                self.r = cell(16, 128, num_layers=2, batch_first=True)
                self.out = nn.Linear(128, 1)

            def forward(self, s):
                h, _ = self.r(s)
                return self.out(h[:, -1])
        m = Stacked()
    else:
        class Unit(nn.Module):
            def __init__(self, cin, cout, stride):
                super().__init__()
                self.main = nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
                                          nn.ReLU(), nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
                self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)) \
                    if stride > 1 else nn.Identity()

            def forward(self, z):
                return torch.relu(self.main(z) + self.skip(z))
        layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
        prev = 64
        for f in [64] * 3 + [128] * 4 + [256] * 6 + [512] * 3:
            layers.append(Unit(prev, f, 1 if f == prev else 2))
            prev = f
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 10)]
        m = nn.Sequential(*layers)
    if name in ("cnn", "lenet5", "resnet34"):
        m = m.to(memory_format=torch.channels_last) if name != "lenet5" else m
        xb = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        if name != "lenet5":
            xb = xb.contiguous(memory_format=torch.channels_last)
        yb = torch.from_numpy(y.astype(np.int64))
        lossf = nn.CrossEntropyLoss()
    else:
        xb, yb = torch.from_numpy(x), torch.from_numpy(y)
        lossf = nn.MSELoss()
    m.train()
    opt = torch.optim.Adam(m.parameters(), 1e-3)

    def step():
        opt.zero_grad()
        loss = lossf(m(xb), yb)
        loss.backward()
        opt.step()
    return step


# ---------------------------------------------------------------- timing
def measure(steps, rounds, k):
    """{framework: median seconds per step} over `rounds` rotations of k back-to-back steps."""
    names = list(steps)
    for n in names:  # warm-up (TF traces its graph, caches fill)
        for _ in range(3):
            steps[n]()
    per = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            t = time.perf_counter()
            for _ in range(k):
                steps[n]()
            per[n].append((time.perf_counter() - t) / k)
            time.sleep(0.003)
    return {n: float(np.median(v)) for n, v in per.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="cnn,lenet5,rnn,resnet34,lstm,gru")
    ap.add_argument("--threads", type=int, default=0, help="default: pyconvnet's default (all cores)")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=3, help="steps per framework per round")
    ap.add_argument("--no-tf", action="store_true")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--json", default="")
    ap.add_argument("--omp-default-wait", action="store_true", help="do not set OMP_WAIT_POLICY=passive")
    a = ap.parse_args()
    if a.threads:
        pyconvnet.set_num_threads(a.threads)
    threads = pyconvnet.get_num_threads()
    tf = torch = None
    if not a.no_tf:
        try:
            import tensorflow as tf
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except ImportError:
            tf = None
    if not a.no_torch:
        try:
            import torch
            torch.set_num_threads(threads)
        except ImportError:
            torch = None
    rows = []
    for name in a.models.split(","):
        x, y = data(name, BATCH[name])
        steps = {"pyconvnet": keras_step(pyconvnet, name, x, y)}
        if torch is not None:
            steps["torch"] = torch_step(name, x, y)
        if tf is not None:
            steps["tf"] = keras_step(tf.keras, name, x, y)
        t = measure(steps, a.rounds, a.steps)
        row = {"model": name, "batch": BATCH[name]}
        row.update({k + "_sps": BATCH[name] / v for k, v in t.items()})
        rows.append(row)
        print(name, {k: "%.1f samples/s" % (BATCH[name] / v) for k, v in t.items()}, flush=True)
    info = {"machine": platform.node(), "cpu_count": os.cpu_count(), "threads": threads,
            "simd": pyconvnet.simd_level(), "torch": torch.__version__ if torch else None,
            "tensorflow": tf.__version__ if tf else None, "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": rows}
    f = lambda v: "-" if v is None else "%.0f" % v
    r_ = lambda a_, b_: "-" if not (a_ and b_) else "%.2f" % (a_ / b_)
    print("\n| model | batch | pyconvnet samples/s | torch | TF/Keras | ours/torch | ours/TF |")
    print("|---|---|---|---|---|---|---|")
    for rr in rows:
        o, p, k = rr["pyconvnet_sps"], rr.get("torch_sps"), rr.get("tf_sps")
        print("| %s | %d | %s | %s | %s | %s | %s |" % (rr["model"], rr["batch"], f(o), f(p), f(k), r_(o, p), r_(o, k)))
    print("threads=%d simd=%s torch=%s tensorflow=%s OMP_WAIT_POLICY=%s %s"
          % (threads, info["simd"], info["torch"], info["tensorflow"], info["omp_wait_policy"], info["date"]))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(info, fh, indent=1)


if __name__ == "__main__":
    main()
