"""Regression tests for the horovod-compatibility differences found by the
session-4 audit of pyconvnet.distributed (horovod.keras 0.28 semantics).
Serial checks run in-process; the multi-rank ones run tests/mpi/regress.py
under `mpiexec -n 2` (skipped without mpiexec/mpi4py)."""
import warnings

import numpy as np
import pytest

import pyconvnet as pcn
import pyconvnet.distributed as hvd
from pyconvnet.distributed.optimizer import DistributedOptimizerMixin

from test_distributed import run_mpi, needs_mpi, script  # noqa: E402  (sys.path set by conftest)
from _common import StubVar, StubModel, StubSGD  # noqa: E402


@pytest.fixture
def single():
    hvd.init()
    yield
    hvd.shutdown()


def test_allreduce_horovod_keras_signature(single):
    # Before: allreduce(tensor, op=Average, name=None, ...): hvd.allreduce(x, "loss") raised
    # "op must be", and average= (horovod's deprecated flag) was a TypeError.
    x = np.arange(4, dtype=np.float32)
    np.testing.assert_array_equal(hvd.allreduce(x, "loss"), x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        np.testing.assert_array_equal(hvd.allreduce(x, average=False), x)
        np.testing.assert_array_equal(hvd.allreduce(x, "n", True), x)
    with pytest.raises(ValueError, match="supersedes"):
        hvd.allreduce(x, average=True, op=hvd.Sum)
    with pytest.raises(TypeError, match="allreduce"):
        hvd.allreduce(x, hvd.Sum)          # the old positional order, now a clear error
    np.testing.assert_allclose(hvd.allreduce(x, op=hvd.Sum, prescale_factor=3.0, postscale_factor=0.5), 1.5 * x)


def test_object_and_alltoall_collectives_single(single):
    assert hvd.allgather_object({"a": 1}) == [{"a": 1}]
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.testing.assert_array_equal(hvd.alltoall(x), x)
    y, rs = hvd.alltoall(x, splits=[3])
    np.testing.assert_array_equal(y, x)
    assert list(rs) == [3]
    with pytest.raises(ValueError, match="alltoall"):
        hvd.alltoall(x, splits=[2])
    with pytest.raises(NotImplementedError, match="broadcast_object"):
        hvd.broadcast_object(1, 0, session=object())


def test_grouped_allreduce_reducescatter_timeline_single(single):
    xs = [np.ones(3, np.float32), np.arange(4, dtype=np.float32).reshape(2, 2)]
    out = hvd.grouped_allreduce(xs, op=hvd.Sum)
    for a, b in zip(out, xs):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(hvd.reducescatter(xs[1]), xs[1])
    with pytest.raises(ValueError, match="reducescatter"):
        hvd.reducescatter(np.float32(1.0))
    with pytest.raises(NotImplementedError, match="timeline"):
        hvd.start_timeline("/tmp/t.json")


def _run_callback(cb, model, steps=2, epochs=1):
    cb.set_model(model)
    cb.set_params({"steps": steps, "epochs": epochs})
    cb.on_train_begin()
    logs = {}
    for e in range(epochs):
        cb.on_epoch_begin(e)
        for b in range(steps):
            cb.on_train_batch_begin(b)
            cb.on_train_batch_end(b)
        logs = {"loss": 1.0}
        cb.on_epoch_end(e, logs)
    return logs


def test_lr_callbacks_log_lr_like_horovod(single):
    # Before: the schedule callbacks logged logs["learning_rate"]; horovod logs logs["lr"]
    opt = StubSGD(0.5)
    model = StubModel([StubVar(np.zeros(2, np.float32), "w")], opt)
    logs = _run_callback(hvd.callbacks.LearningRateScheduleCallback(0.5, 0.1, start_epoch=0), model)
    assert "lr" in logs and "learning_rate" not in logs
    assert logs["lr"] == pytest.approx(0.5)       # epoch 0: 0.5 * 0.1 ** 0
    logs = _run_callback(hvd.callbacks.LearningRateWarmupCallback(0.5, warmup_epochs=1, steps_per_epoch=2), model)
    assert logs["lr"] == pytest.approx(0.5)       # size 1: warmup is the identity


def test_backward_passes_per_step_counts_iterations(single):
    # Before: optimizer.iterations advanced only on the applying calls (N / k after N
    # backward passes); horovod increments it on the accumulation calls too.
    v = StubVar(np.zeros(2, np.float32), "w")
    inner = StubSGD(1.0)
    opt = hvd.DistributedOptimizer(inner, backward_passes_per_step=3)
    for _ in range(6):
        opt.apply_gradients([(np.ones(2, np.float32), v)])
    assert opt.iterations == 6 and inner.iterations == 6
    np.testing.assert_allclose(v.numpy(), [-6.0, -6.0])   # two updates of the summed (k=3) gradient


def test_distributed_optimizer_horovod_arguments(single):
    v = StubVar(np.zeros(2, np.float32), "w")
    opt = hvd.DistributedOptimizer(StubSGD(1.0), gradient_predivide_factor=4.0, num_groups=2)
    opt.apply_gradients([(np.ones(2, np.float32), v)])
    np.testing.assert_allclose(v.numpy(), [-1.0, -1.0])
    with pytest.raises(ValueError, match="gradient_predivide_factor"):
        hvd.DistributedOptimizer(StubSGD(1.0), op=hvd.Sum, gradient_predivide_factor=2.0)
    with pytest.raises(NotImplementedError, match="Adasum"):   # was a ValueError "op must be"
        hvd.DistributedOptimizer(StubSGD(1.0), op=hvd.Adasum)
    with pytest.raises(NotImplementedError, match="process_set"):
        hvd.DistributedOptimizer(StubSGD(1.0), process_set=object())


def test_load_model_wraps_the_optimizer(single, tmp_path):
    # Before: hvd.load_model did not exist (horovod.keras.load_model)
    model = pcn.Sequential([pcn.Input((3,)), pcn.layers.Dense(2)])
    model.compile(optimizer=pcn.optimizers.SGD(0.05), loss="mse")
    path = str(tmp_path / "m.keras")
    model.save(path)
    m2 = hvd.load_model(path, compression=hvd.Compression.fp16)
    assert isinstance(m2.optimizer, DistributedOptimizerMixin)
    assert isinstance(m2.optimizer, pcn.optimizers.SGD)
    assert m2.optimizer.learning_rate == pytest.approx(0.05)
    np.testing.assert_allclose(m2.predict(np.ones((1, 3), np.float32), verbose=0),
                               model.predict(np.ones((1, 3), np.float32), verbose=0), rtol=1e-6)


def test_gradient_tape_and_broadcast_variables_single(single):
    # Before: horovod.tensorflow's DistributedGradientTape / broadcast_variables (custom loops) were missing
    w = pcn.Variable(np.ones(3, np.float32))
    with pcn.GradientTape() as t:
        loss = pcn.ops.sum(w * 2.0)
    g = hvd.DistributedGradientTape(t).gradient(loss, [w])
    np.testing.assert_allclose(np.asarray(g[0]), [2, 2, 2])
    with pytest.raises(NotImplementedError, match="Adasum"):
        hvd.DistributedGradientTape(t, op=hvd.Adasum)
    with pytest.raises(ValueError, match="gradient_predivide_factor"):
        hvd.DistributedGradientTape(t, op=hvd.Sum, gradient_predivide_factor=2.0)
    hvd.broadcast_variables([w], root_rank=0)
    with pytest.raises(ValueError, match="root_rank"):
        hvd.broadcast_variables([w], root_rank=1)
    assert hvd.gloo_built() is False and hvd.nccl_built() == 0 and hvd.cuda_built() is False


@needs_mpi
def test_horovod_semantics_on_two_ranks():
    rc, out, err, _ = run_mpi([script("regress.py")], n=2, timeout=60)
    assert rc == 0 and out.count("OK regress") == 2, out + err


def test_model_saved_with_distributed_optimizer_loads_without_it(single, tmp_path):
    # Before: the wrapper class was named "DistributedSGD", so model.save() recorded that
    # name and pcn.models.load_model raised "Unknown optimizer class: 'DistributedSGD'".
    # horovod names the wrapper after the wrapped class for exactly this reason.
    model = pcn.Sequential([pcn.Input((3,)), pcn.layers.Dense(2)])
    opt = hvd.DistributedOptimizer(pcn.optimizers.SGD(0.05, momentum=0.9))
    assert type(opt).__name__ == "SGD"
    model.compile(optimizer=opt, loss="mse")
    model.fit(np.ones((4, 3), np.float32), np.ones((4, 2), np.float32), verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    m2 = pcn.models.load_model(path)
    assert type(m2.optimizer) is pcn.optimizers.SGD
    assert m2.optimizer.get_config()["momentum"] == pytest.approx(0.9)
    m3 = hvd.load_model(path)
    assert isinstance(m3.optimizer, DistributedOptimizerMixin) and type(m3.optimizer).__name__ == "SGD"
