"""Accuracy bars on real MNIST, tested on the full 10,000-image test set.

LeNet-5 >= 98.0% runs in the default suite (a few minutes on 2 cores; deselect
with -m "not slow" while iterating). The course CNN >= 98.5% needs two full
epochs (~25-35 min on 2 cores), too long for CI: it runs with -m slow or
PCN_SLOW=1."""
import os
import time

import numpy as np
import pytest

import pyconvnet as keras
from keras_data import have_mnist, mnist

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not have_mnist(), reason="MNIST not found")]


@pytest.fixture
def only_when_asked(request):
    expr = request.config.getoption("-m") or ""
    if not (os.environ.get("PCN_SLOW") == "1" or ("slow" in expr and "not slow" not in expr)):
        pytest.skip("two-epoch course-CNN run (~30 min): run with -m slow or PCN_SLOW=1")


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


def test_course_cnn_reaches_98_5(only_when_asked):
    from test_keras_snippets import course_cnn
    keras.utils.set_random_seed(0)
    # measured here (2 shared cores, OMP_WAIT_POLICY=passive): one 60k epoch at batch 32 took 17:07 (58 samples/s)
    # and reached 0.9753 test accuracy (the loss plateaus near 2.30 for the first ~100 steps, as with this init in
    # Keras). Two epochs (~35 min here) are needed for the 0.985 bar; that run was not completed before the deadline.
    acc = _train(course_cnn(), n_train=int(os.environ.get("PCN_CNN_N", 60000)),
                 epochs=int(os.environ.get("PCN_CNN_EPOCHS", 2)), batch_size=32, lr=1e-3)
    assert acc >= 0.985


def test_lenet5_reaches_98_0():
    keras.utils.set_random_seed(0)
    # measured (2 shared cores, OMP_WAIT_POLICY=passive): test accuracy 0.9616 / 0.9807 / 0.9815 / 0.9852
    # after epochs 1-4 at batch 32, Adam 1e-3; ~60-100 s per epoch. Four epochs leave a margin over the bar.
    acc = _train(keras.applications.LeNet5(input_shape=(28, 28, 1), classes=10),
                 n_train=int(os.environ.get("PCN_LENET_N", 60000)), epochs=int(os.environ.get("PCN_LENET_EPOCHS", 4)), batch_size=32, lr=1e-3)
    assert acc >= 0.980
