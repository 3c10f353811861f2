"""Accuracy bars on real MNIST, tested on the full 10,000-image test set.

Both run in the default suite (deselect with -m "not slow" while iterating):
LeNet-5 >= 99.0% through the CLI (20 epochs, ~3-4 min on 2 cores) and the course CNN >= 98.5%
(two epochs: measured 98.97% in 18 min on one busy core; ~10-15 min on 2 idle cores)."""
import os
import time

import numpy as np
import pytest

import pyconvnet as keras
from keras_data import MNIST_DIR, have_mnist, mnist

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not have_mnist(), reason="MNIST not found")]



def _train(model, n_train, epochs, batch_size, lr):
    """Train on the first n_train of a fixed permutation of the 60k training images; test on all 10k."""
    (x, y), (xt, yt) = mnist()
    keras.utils.set_random_seed(0)
    idx = np.random.default_rng(0).permutation(len(x))[:n_train]
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    t = time.time()
    model.fit(x[idx], y[idx], batch_size=batch_size, epochs=epochs, verbose=2)
    t_fit = time.time() - t
    loss, acc = model.evaluate(xt, yt, batch_size=256, verbose=0)
    print("\n%s: %d samples x %d epochs, fit %.0f s (%.0f samples/s), test accuracy %.4f, total %.0f s"
          % (model.name, n_train, epochs, t_fit, n_train * epochs / t_fit, acc, time.time() - t))
    return acc


def test_course_cnn_reaches_98_5():
    from test_keras_snippets import course_cnn
    keras.utils.set_random_seed(0)
    # measured here (2 shared cores, OMP_WAIT_POLICY=passive): one 60k epoch at batch 32 took 17:07 (58 samples/s)
    # and reached 0.9753 test accuracy (the loss plateaus near 2.30 for the first ~100 steps, as with this init in
    # Keras). Two epochs: 0.9897 (2026-11-27, one thread on a busy machine, 1066 s of fit at 113 samples/s).
    acc = _train(course_cnn(), n_train=int(os.environ.get("PCN_CNN_N", 60000)),
                 epochs=int(os.environ.get("PCN_CNN_EPOCHS", 2)), batch_size=32, lr=1e-3)
    assert acc >= 0.985


def test_lenet5_cli_reaches_99_0_on_full_mnist(tmp_path):
    """The issue's bar through the main job's command: `pyconvnet train --data DIR --epochs 20`
    (the LeNet-5 recipe: Nesterov SGD 0.02 x0.9 per epoch, batch 32, 2-pixel shifts).
    Measured 2026-11-27 (2 shared cores): 0.9915 after 10 epochs, see bench/WORKLOG.md."""
    import subprocess
    import sys
    pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(keras.__file__)))
    env = dict(os.environ, PYTHONPATH=pkg_root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    epochs = os.environ.get("PCN_LENET_EPOCHS", "20")
    r = subprocess.run([sys.executable, "-m", "pyconvnet", "train", "--model", "lenet5", "--data", MNIST_DIR,
                        "--epochs", epochs, "--out", str(tmp_path / "out"), "--verbose", "2"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=3600)
    print(r.stdout[-3000:])
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "60000 train / 10000 test images" in r.stdout
    acc = float(r.stdout.split("test accuracy:")[1].split()[0])
    assert acc >= 0.990
