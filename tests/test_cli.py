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
    (["train", "--out", "/proc/forbidden"], "not a writable directory"),
    (["train", "--dataset", "fashion_mnist", "--data", "/nonexistent/dir"], ""),
])
def test_user_errors_are_one_line(args, words, tmp_path):
    r = run(args, tmp_path, timeout=120)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in r.stderr, r.stderr
    assert words in err[0]
