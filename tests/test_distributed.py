"""pyconvnet.distributed: serial behaviour in-process, and the multi-rank
scripts in tests/mpi launched with `timeout ... mpiexec -n 2` (OMP_NUM_THREADS=1)."""
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import pyconvnet as pcn
import pyconvnet.distributed as hvd
from pyconvnet.distributed import _fit, checkpoint as ck

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

# The directory holding the pyconvnet these tests import (the source tree when built in
# place, site-packages when installed): child processes must import the same one.
import pyconvnet as _pcn_for_path  # noqa: E402
PKG_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(_pcn_for_path.__file__)))

MPI_DIR = os.path.join(ROOT, "tests", "mpi")
sys.path.insert(0, MPI_DIR)
from _common import StubVar, StubModel, StubSGD  # noqa: E402


def _mpiexec():
    cand = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return cand if os.path.exists(cand) else shutil.which("mpiexec")


MPIEXEC = _mpiexec()


def _has_mpi4py():
    try:
        import mpi4py.MPI  # noqa: F401
        return True
    except Exception:
        return False


_skip_no_mpi = pytest.mark.skipif(MPIEXEC is None or not _has_mpi4py(), reason="mpiexec/mpi4py not available")


def needs_mpi(f):
    return pytest.mark.mpi(_skip_no_mpi(f))


def run_mpi(args, n=2, timeout=60, env=None, launcher=()):
    """Run `python <args>` on n ranks under a hard timeout; return (rc, stdout, stderr, seconds)."""
    e = dict(os.environ)
    e.update({"OMP_NUM_THREADS": "1", "PYCONVNET_NUM_THREADS": "1",
              "PYTHONPATH": PKG_ROOT + os.pathsep + e.get("PYTHONPATH", "")})
    e.pop("PYCONVNET_DIST_DEBUG", None)
    e.update(env or {})
    cmd = [MPIEXEC, "-n", str(n), sys.executable, *launcher] + list(args)
    if shutil.which("timeout"):
        cmd = ["timeout", "-k", "5", str(timeout)] + cmd
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, cwd=ROOT, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout + 15)
    except subprocess.TimeoutExpired:  # no coreutils timeout: kill the whole process group
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        return 124, out, err, time.monotonic() - t0
    return p.returncode, out, err, time.monotonic() - t0


def script(name):
    return os.path.join(MPI_DIR, name)


# ----------------------------------------------------------------------------- serial (size 1)
def test_import_does_not_need_mpi(tmp_path):
    code = ("import sys; import pyconvnet, pyconvnet.distributed as hvd; "
            "assert 'mpi4py' not in sys.modules and 'mpi4py.MPI' not in sys.modules; print('ok')")
    p = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path), capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=PKG_ROOT))
    assert p.returncode == 0 and "ok" in p.stdout, p.stderr


def test_serial_without_mpi4py(tmp_path):
    # mpi4py hidden: init() falls back to one process and every collective is the identity
    (tmp_path / "mpi4py").mkdir()
    (tmp_path / "mpi4py" / "__init__.py").write_text("raise ImportError('hidden for the test')\n")
    code = ("import numpy as np, pyconvnet.distributed as hvd; hvd.init(); "
            "assert (hvd.rank(), hvd.size(), hvd.local_rank(), hvd.local_size()) == (0, 1, 0, 1); "
            "assert hvd.allreduce(np.ones(3), op=hvd.Sum).tolist() == [1, 1, 1]; "
            "assert hvd.broadcast_object({'a': 1}, 0) == {'a': 1}; print('ok')")
    p = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path), capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(tmp_path) + os.pathsep + PKG_ROOT))
    assert p.returncode == 0 and "ok" in p.stdout, p.stderr


@pytest.fixture
def single():
    hvd.init()
    yield
    hvd.shutdown()


def test_uninitialized_errors():
    with pytest.raises(ValueError, match="hvd.init"):
        hvd.rank()
    with pytest.raises(ValueError, match="allreduce"):
        hvd.allreduce(np.ones(2))


def test_single_process_api(single):
    assert hvd.is_initialized() and hvd.size() == 1 and hvd.rank() == 0
    assert hvd.local_rank() == 0 and hvd.local_size() == 1
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(hvd.allreduce(x), x)
    np.testing.assert_array_equal(hvd.allreduce(x, op=hvd.Sum), x)
    t = hvd.allreduce(pcn.from_numpy(x))
    assert isinstance(t, pcn.Tensor)
    np.testing.assert_array_equal(hvd.broadcast(x, 0), x)
    np.testing.assert_array_equal(hvd.allgather(x), x)
    assert hvd.broadcast_object([1, "a"], 0) == [1, "a"]
    with pytest.raises(ValueError, match="root_rank"):
        hvd.broadcast(x, 1)
    with pytest.raises(ValueError, match="op must be"):
        hvd.allreduce(x, op="sum")
    hvd.init()  # idempotent
    assert not _fit.active() and _fit.is_chief()


def test_shutdown_restores_hooks():
    prev = sys.excepthook
    hvd.init()
    assert sys.excepthook is not prev
    hvd.shutdown()
    assert sys.excepthook is prev and not hvd.is_initialized()


def test_distributed_optimizer_single_process(single):
    w = StubVar(np.ones((2, 2)), "w")
    inner = StubSGD(0.5)
    opt = hvd.DistributedOptimizer(inner)
    assert isinstance(opt, StubSGD)
    opt.learning_rate = 0.25
    assert inner.learning_rate == 0.25  # state is shared with the wrapped optimizer
    opt.apply_gradients([(pcn.from_numpy(np.ones((2, 2), np.float32)), w)])
    np.testing.assert_allclose(w.numpy(), 0.75)
    with pytest.raises(ValueError, match="already distributed"):
        hvd.DistributedOptimizer(opt)
    with pytest.raises(TypeError, match="apply_gradients"):
        hvd.DistributedOptimizer(object())
    with pytest.raises(ValueError, match="backward_passes_per_step"):
        hvd.DistributedOptimizer(StubSGD(), backward_passes_per_step=0)
    with pytest.raises(ValueError, match="op must be"):
        hvd.DistributedOptimizer(StubSGD(), op=hvd.Max)
    # accumulation works with one process too: update every 2nd call with the summed gradients
    acc = hvd.DistributedOptimizer(StubSGD(1.0), backward_passes_per_step=2)
    w2 = StubVar(np.zeros(3), "w2")
    acc.apply_gradients([(pcn.from_numpy(np.ones(3, np.float32)), w2)])
    np.testing.assert_array_equal(w2.numpy(), 0)
    acc.apply_gradients([(pcn.from_numpy(np.full(3, 2, np.float32)), w2)])
    np.testing.assert_array_equal(w2.numpy(), -3)


class SlotsSGD:
    """An optimizer class that cannot share its __dict__: the wrapper falls back to a proxy."""
    __slots__ = ("learning_rate", "calls")

    def __init__(self):
        self.learning_rate = 0.1
        self.calls = 0

    def apply_gradients(self, gv):
        for g, v in gv:
            v.numpy()[...] -= self.learning_rate * np.asarray(g)
        self.calls += 1


def test_proxy_for_unsubclassable_optimizer(single):
    inner = SlotsSGD()
    opt = hvd.DistributedOptimizer(inner, backward_passes_per_step=1)
    opt.learning_rate = 0.5
    assert inner.learning_rate == 0.5 and opt.calls == 0
    w = StubVar(np.ones(3), "w")
    opt.apply_gradients([(pcn.from_numpy(np.ones(3, np.float32)), w)])
    np.testing.assert_allclose(w.numpy(), 0.5)
    assert inner.calls == 1


def test_bucket_layout_single_process(single):
    shapes = [(10,), (300_000,), (7, 7), (600_000,), (5,)]
    vs = [StubVar(np.zeros(s), "v%d" % i) for i, s in enumerate(shapes)]
    opt = hvd.DistributedOptimizer(StubSGD(0.0), bucket_bytes=2 ** 20, backward_passes_per_step=2)
    bufs = opt.gradient_buffers(vs)
    assert [tuple(b.shape) for b in bufs] == shapes
    b = opt.dist_buckets()
    assert [i for _, s in b for i in s] == [4, 3, 2, 1, 0]
    assert all(nb <= 2 ** 20 or len(s) == 1 for nb, s in b)
    assert opt.gradient_accumulate is False
    for t in bufs:
        t.numpy()[...] = 1.0
    opt.apply_gradients(zip(bufs, vs))
    assert opt.gradient_accumulate is True  # k=2: the second pass adds into the buffers
    ptrs = sorted((t.data_ptr(), t.nbytes) for t in bufs)
    assert all(p1 + n1 <= p2 for (p1, n1), (p2, _) in zip(ptrs, ptrs[1:])), "slices overlap"
    assert all(p % 64 == 0 for p, _ in ptrs), "slices are cache-line aligned"


def test_default_buckets_resnet34_sizes(single):
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    from dist_sync import resnet34_shapes, lenet5_shapes
    import math
    for shapes in (resnet34_shapes(), lenet5_shapes()):
        vs = [StubVar(np.zeros(1), "v%d" % i) for i in range(len(shapes))]
        for v, sh in zip(vs, shapes):
            v._a = np.zeros(sh, np.float32)
        opt = hvd.DistributedOptimizer(StubSGD(0.0))
        opt.gradient_buffers(vs)
        b = opt.dist_buckets()
        total = sum(4 * int(np.prod(sh)) for sh in shapes)
        assert math.ceil(total / (25 * 2 ** 20)) <= len(b) <= math.ceil(total / (25 * 2 ** 20)) + 1
        assert sorted(i for _, sl in b for i in sl) == list(range(len(shapes)))


def test_sampler():
    s = hvd.DistributedSampler(10, rank=1, size=3, shuffle=False)
    assert s.indices().tolist() == [1, 4, 7] and len(s) == 3
    s = hvd.DistributedSampler(10, rank=2, size=3, shuffle=False, drop_last=False)
    assert s.indices().tolist() == [2, 5, 8, 1] and len(s) == 4
    a = hvd.DistributedSampler(100, 0, 2, seed=5)
    b = hvd.DistributedSampler(100, 0, 2, seed=5)
    a.set_epoch(3)
    b.load_state_dict(a.state_dict())
    assert np.array_equal(a.indices(), b.indices())
    with pytest.raises(ValueError, match="rank"):
        hvd.DistributedSampler(10, rank=3, size=3)
    from pyconvnet.distributed.sampler import eval_shard
    assert [eval_shard(10, r, 3) for r in range(3)] == [(0, 4), (4, 7), (7, 10)]
    np.testing.assert_array_equal(_fit.epoch_indices(10, 0, False, 0), np.arange(10))
    np.testing.assert_array_equal(_fit.eval_indices(7), np.arange(7))
    np.testing.assert_array_equal(_fit.reduce_sums(np.array([1.5, 2.0])), [1.5, 2.0])


def test_warmup_callback_single_process(single):
    m = StubModel([StubVar(np.zeros(1), "w")], StubSGD(0.0, momentum=0.9))
    cb = hvd.callbacks.LearningRateWarmupCallback(0.1, warmup_epochs=2, steps_per_epoch=2)
    cb.set_model(m)
    cb.on_train_begin()
    cb.on_epoch_begin(0)
    cb.on_batch_begin(0)
    assert m.optimizer.learning_rate == pytest.approx(0.1)  # size 1: no ramp
    assert m.optimizer.momentum == pytest.approx(0.9)
    cb.on_batch_end(0)


# ----------------------------------------------------------------------------- checkpoints
def _model(seed=0):
    g = np.random.default_rng(seed)
    w = [StubVar(g.standard_normal((3, 4)), "k"), StubVar(g.standard_normal(4), "b")]
    opt = StubSGD(0.1, momentum=0.9)
    opt.build(w)
    for v in opt.variables:
        v.assign(g.standard_normal(v.shape))
    return StubModel(w, opt)


def test_checkpoint_roundtrip(tmp_path):
    m = _model(1)
    s = hvd.DistributedSampler(50, 0, 1, seed=9)
    s.set_epoch(4)
    np.random.seed(123)
    path = str(tmp_path / "ck.npz")
    assert ck.save_checkpoint(path, m, epoch=4, step=77, sampler=s, extra={"best": 0.5}) == path
    expected = np.random.rand(3)
    m2 = _model(2)
    s2 = hvd.DistributedSampler(50, 0, 1, seed=0)
    np.random.seed(999)
    c = hvd.restore_checkpoint(path, m2, sampler=s2)
    assert c["epoch"] == 4 and c["step"] == 77 and c["extra"] == {"best": 0.5}
    for a, b in zip(m.get_weights(), m2.get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(m.optimizer.variables, m2.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert s2.epoch == 4 and s2.seed == 9
    np.testing.assert_array_equal(np.random.rand(3), expected)  # RNG state restored
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    # no pickle anywhere in the file: every entry loads with allow_pickle=False
    with np.load(path, allow_pickle=False) as z:
        for k in z.files:
            z[k]
    assert hvd.restore_checkpoint(str(tmp_path / "missing.npz"), m2) is None
    with pytest.raises(ValueError, match="optimizer variables"):
        hvd.restore_checkpoint(path, StubModel(m2.weights, StubSGD(0.1)))


def test_checkpoint_optimizer_built_on_restore(tmp_path):
    m = _model(1)
    path = str(tmp_path / "ck.npz")
    ck.save_checkpoint(path, m)
    m2 = StubModel([StubVar(np.zeros((3, 4)), "k"), StubVar(np.zeros(4), "b")], StubSGD(0.1, momentum=0.9))
    hvd.restore_checkpoint(path, m2)
    assert len(m2.optimizer.variables) == 2
    np.testing.assert_array_equal(m2.optimizer.variables[1].numpy(), m.optimizer.variables[1].numpy())


def test_checkpoint_rejects_foreign_files(tmp_path):
    p = str(tmp_path / "x.npz")
    np.savez(p, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a pyconvnet checkpoint"):
        hvd.load_checkpoint(p)
    for i in (3, 12, 7):
        ck.save_checkpoint(str(tmp_path / ("ckpt-%d.npz" % i)), weights=[np.zeros(1)])
    assert hvd.latest_checkpoint(str(tmp_path)).endswith("ckpt-12.npz")


def test_checkpoint_survives_kill_during_write(tmp_path):
    path = str(tmp_path / "ck.npz")
    e = dict(os.environ, PYTHONPATH=PKG_ROOT, OMP_NUM_THREADS="1")
    p = subprocess.Popen([sys.executable, script("ckpt_writer.py"), path, "64"], stdout=subprocess.PIPE,
                         text=True, env=e)
    try:
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = p.stdout.readline()
            lines.append(line)
            if line.startswith("writing 4"):  # the big save is part-way through
                break
        assert lines[-1].startswith("writing 4"), lines
        os.kill(p.pid, signal.SIGKILL)
        p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == -signal.SIGKILL
    tmps = [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    assert tmps, "the interrupted save wrote to a temporary file"
    assert os.path.getsize(os.path.join(tmp_path, tmps[0])) > 4 * 2 ** 20
    c = hvd.load_checkpoint(path)  # the previous checkpoint, intact
    assert c["epoch"] == 1 and c["step"] == 10 and c["extra"] == {"note": "first"}
    np.testing.assert_array_equal(c["weights"][0], np.full((4, 4), 1.0, np.float32))
    assert len(c["optimizer"]) == 2


# ----------------------------------------------------------------------------- multi-rank (mpiexec -n 2)
def _ok(rc, out, err, tag, n=2):
    assert rc == 0, "rc=%s\nstdout:\n%s\nstderr:\n%s" % (rc, out, err[-4000:])
    for r in range(n):
        assert "OK %s rank %d" % (tag, r) in out, out + err


@needs_mpi
def test_mpi_collectives():
    _ok(*run_mpi([script("collectives.py")])[:3], "collectives")


@needs_mpi
def test_mpi_buckets_one_allreduce_per_bucket():
    rc, out, err, _ = run_mpi([script("buckets.py")])
    _ok(rc, out, err, "buckets")
    assert "rank 1" in out and "layer2/kernel" in out and "(3, 3) float32" in out


@needs_mpi
def test_mpi_sgd_matches_single_process_and_ranks_bit_identical():
    _ok(*run_mpi([script("sgd_equivalence.py")])[:3], "sgd_equivalence")


@needs_mpi
def test_mpi_fit_flow_and_bit_identical_resume():
    _ok(*run_mpi([script("fit_flow.py")])[:3], "fit_flow")


@needs_mpi
@pytest.mark.parametrize("mode,code", [("raise", 1), ("kill", None), ("exit", 3), ("mismatch", 1)])
def test_mpi_failure_ends_job(mode, code):
    rc, out, err, dt = run_mpi([script("faults.py"), mode], timeout=30)
    assert rc != 0 and rc != 124 and rc != 137, "rc=%s (124/137: the job hung until timeout)\n%s" % (rc, err)
    if code is not None:
        assert rc == code, (rc, err[-3000:])
    assert dt < 10, "took %.1f s" % dt
    assert "UNREACHABLE" not in out
    if mode == "raise":
        assert "injected failure on rank 1" in err and "aborting the job" in err
    if mode == "kill":
        assert "signal 9" in out + err or "Killed" in out + err
    if mode == "mismatch":
        assert "rank 1 has (64, 33) float32, rank 0 has (64, 32) float32" in err
        assert "dense/kernel" in err


@needs_mpi
def test_mpi_launch_under_python_m_mpi4py():
    rc, out, err, dt = run_mpi([script("faults.py"), "raise"], timeout=30, launcher=("-m", "mpi4py"))
    assert rc != 0 and rc not in (124, 137) and dt < 10, (rc, err)


@needs_mpi
def test_mpi_debug_watchdog_names_lagging_rank():
    rc, out, err, dt = run_mpi([script("faults.py"), "stall"], timeout=30,
                               env={"PYCONVNET_DIST_DEBUG": "1", "PYCONVNET_DIST_TIMEOUT": "2"})
    assert rc not in (0, 124, 137) and dt < 15, (rc, dt, err)
    assert "STALL" in err and "lagging rank(s): 1" in err, err


@needs_mpi
def test_mpi_debug_mode_clean_run():
    # fingerprints + watchdog must not disturb a correct program (overlap, fp16, accumulation included)
    rc, out, err, _ = run_mpi([script("buckets.py")], env={"PYCONVNET_DIST_DEBUG": "1",
                                                          "PYCONVNET_DIST_TIMEOUT": "30"})
    _ok(rc, out, err, "buckets")
    assert "STALL" not in err


@needs_mpi
def test_mpi_debug_collective_mismatch():
    rc, out, err, dt = run_mpi([script("faults.py"), "wrong_op"], timeout=30,
                               env={"PYCONVNET_DIST_DEBUG": "1", "PYCONVNET_DIST_TIMEOUT": "20"})
    assert rc not in (0, 124, 137) and dt < 10, (rc, dt, err)
    assert "collective mismatch" in err and "broadcast" in err and "allreduce" in err, err


# ----------------------------------------------------------------------------- Keras fit() on 2 ranks (issue 6)
@needs_mpi
def test_mpi_keras_fit_equivalence_evaluate_checkpoint_resume():
    # (a) fit on 2 ranks x B == 1 process x 2B (Dense and Conv2D+MaxPool models), ranks bit-identical;
    # (b) evaluate with an uneven test set == single process; (d) ModelCheckpoint on rank 0 only,
    # resume from hvd.save_checkpoint + fit(initial_epoch=1) == uninterrupted run
    rc, out, err, _ = run_mpi([script("keras_fit.py"), "all"], timeout=90)
    _ok(rc, out, err, "keras_fit")
    assert "(a) dense_model" in out and "(a) conv_model" in out and "(b) evaluate" in out and "(d)" in out, out


@needs_mpi
def test_mpi_keras_fit_callback_raise_ends_job():
    # (c) a callback raising on rank 1 inside fit() ends the job non-zero, quickly
    rc, out, err, dt = run_mpi([script("keras_fit.py"), "raise"], timeout=30)
    assert rc != 0 and rc not in (124, 137), "rc=%s (124/137: the job hung until timeout)\n%s" % (rc, err[-3000:])
    assert dt < 10, "took %.1f s" % dt
    assert "injected failure in a callback on rank 1" in err and "aborting the job" in err, err[-3000:]
    assert "UNREACHABLE" not in out


@needs_mpi
def test_mpi_example_train_distributed_quick(tmp_path):
    rc, out, err, dt = run_mpi([os.path.join(ROOT, "examples", "train_distributed.py"), "--quick",
                                "--checkpoint-dir", str(tmp_path)], timeout=120, launcher=("-m", "mpi4py"))
    assert rc == 0, "rc=%s\nstdout:\n%s\nstderr:\n%s" % (rc, out, err[-4000:])
    assert "2 rank(s)" in out and "test accuracy:" in out, out
    assert out.count("test accuracy:") == 1, "only rank 0 prints: " + out
    assert sorted(os.listdir(tmp_path)) == ["ckpt-1.npz", "lenet5-1.weights.h5"]
