"""The command line: the main job (train) end to end on the bundled subset, and
user errors as one line on stderr with exit status 2 (no traceback)."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The directory holding the pyconvnet these tests import (the source tree when built in
# place, site-packages when installed): child processes must import the same one.
import pyconvnet as _pcn_for_path  # noqa: E402
PKG_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(_pcn_for_path.__file__)))



def run(args, cwd, timeout=600):
    env = dict(os.environ, PYCONVNET_OFFLINE="1", PYTHONPATH=PKG_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "pyconvnet"] + args, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_info(tmp_path):
    r = run(["info"], tmp_path)
    assert r.returncode == 0 and "pyconvnet" in r.stdout and "SIMD" in r.stdout


def test_train_main_job_writes_weights_and_pictures(tmp_path):
    r = run(["train", "--epochs", "1", "--out", "out", "--verbose", "2"], tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "sgd lr 0.02 (x0.9 per epoch), momentum 0.9 (Nesterov), images shifted by up to 2 px" in r.stdout
    assert "test accuracy:" in r.stdout
    acc = float(r.stdout.split("test accuracy:")[1].split()[0])
    assert acc > 0.8, r.stdout  # one epoch of LeNet-5 on 5000 real MNIST images
    files = sorted(os.listdir(tmp_path / "out"))
    assert files == ["feature_maps.png", "filters.png", "lenet5.weights.npz", "training_curve.png"], files
    for f in files:
        assert (tmp_path / "out" / f).stat().st_size > 1000


@pytest.mark.parametrize("args,words", [
    (["train", "--model", "vgg99"], "unknown model"),
    (["train", "--dataset", "cifar1000"], "unknown dataset"),
    (["train", "--epochs", "0"], "--epochs"),
    (["train", "--epochs", "-3"], "--epochs"),
    (["train", "--batch-size", "0"], "--batch-size"),
    (["train", "--lr", "-1"], "--lr"),
    (["train", "--lr-decay", "1.5"], "--lr-decay"),
    (["train", "--momentum", "1"], "--momentum"),
    (["train", "--augment", "-2"], "--augment"),
    (["train", "--optimizer", "lbfgs"], "unknown optimizer"),
    (["train", "--out", "/proc/forbidden"], "not a writable directory"),
    (["train", "--dataset", "fashion_mnist", "--data", "/nonexistent/dir"], ""),
])
def test_user_errors_are_one_line(args, words, tmp_path):
    r = run(args, tmp_path, timeout=120)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in r.stderr, r.stderr
    assert words in err[0]


def test_shift_augmentation_translates_each_image_once_per_epoch():
    import numpy as np

    from pyconvnet.__main__ import _shifted_batches
    rng = np.random.default_rng(3)
    x = rng.random((40, 8, 9, 1)).astype(np.float32) + 0.5  # no zeros: the fill is visible
    y = np.arange(40)
    ds = _shifted_batches(x, y, 16, 2, seed=0)

    def shifted(img, dy, dx):  # content moves by (dy, dx), zero fill
        out = np.zeros_like(img)
        h, w = img.shape[:2]
        out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = img[max(-dy, 0):h - max(dy, 0),
                                                                        max(-dx, 0):w - max(dx, 0)]
        return out

    for _ in range(2):
        ds.on_epoch_begin()
        seen, moves = [], set()
        for i in range(len(ds)):
            xb, yb = ds[i]
            assert xb.shape == (len(yb), 8, 9, 1) and xb.dtype == np.float32
            for img, label in zip(xb, yb):
                match = [(a, b) for a in range(-2, 3) for b in range(-2, 3)
                         if np.array_equal(img, shifted(x[label], a, b))]
                assert match, "image %d is not a whole-pixel translation of its source" % label
                moves.add(match[0])
                seen.append(int(label))
        assert sorted(seen) == list(range(40))
        assert len(moves) > 5
