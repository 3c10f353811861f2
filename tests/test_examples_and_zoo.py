"""The examples run (in their --quick mode, so they cannot rot) and the model zoo
matches the published parameter counts."""
import os
import subprocess
import sys

import pytest

import pyconvnet as keras

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The directory holding the pyconvnet these tests import (the source tree when built in
# place, site-packages when installed): child processes must import the same one.
import pyconvnet as _pcn_for_path  # noqa: E402
PKG_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(_pcn_for_path.__file__)))

EXAMPLES = ["train_lenet5_mnist", "fashion_cnn", "resnet34_small", "forecast_time_series",
            "sentiment_seq_to_vector", "encoder_decoder", "feature_maps"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs_quick(name, tmp_path):
    env = dict(os.environ, PYCONVNET_OFFLINE="1",
               PYTHONPATH=PKG_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, os.path.join(ROOT, "examples", name + ".py"), "--quick"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    if name == "forecast_time_series":
        assert "MSE naive" in r.stdout
    if name == "feature_maps":
        out = tmp_path / "feature_maps_out"
        assert sorted(os.listdir(out)) == ["classical_filters.png", "feature_maps.png", "filters.png"]


def _count(model):
    return sum(int(w.numpy().size) for w in model.weights)


def _trainable(model):
    return sum(int(w.numpy().size) for w in model.trainable_weights)


# Published counts for the standard configurations (see pyconvnet/applications.py).
@pytest.mark.parametrize("builder,shape,classes,total,trainable", [
    ("LeNet5", (32, 32, 1), 10, 61_706, 61_706),          # LeCun et al. 1998 (C5 as a 5x5 conv)
    ("LeNet5", (28, 28, 1), 10, 61_706, 61_706),          # 28x28 zero-padded to 32x32
    ("FashionCNN", (28, 28, 1), 10, 1_413_834, 1_413_834),
    ("AlexNet", (227, 227, 3), 1000, 62_378_344, 62_378_344),   # Krizhevsky et al. 2012, one tower
    ("GoogLeNet", (224, 224, 3), 1000, 6_998_552, 6_998_552),   # Szegedy et al. 2014, no aux heads
    ("ResNet34", (224, 224, 3), 1000, 21_814_696, 21_797_672),  # He et al. 2015 (+ BN moving stats)
])
def test_zoo_parameter_counts(builder, shape, classes, total, trainable):
    model = getattr(keras.applications, builder)(input_shape=shape, classes=classes)
    assert _trainable(model) == trainable
    assert _count(model) == total


def test_zoo_unknown_name():
    with pytest.raises(ValueError, match="unknown model"):
        keras.applications.get("vgg99")
    assert keras.applications.get("LeNet-5") is keras.applications.LeNet5
