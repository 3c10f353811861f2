"""The emulated CUDA device itself (cuda/emu/run_device.sh; cuda_runtime_emu.h):
pyconvnet.info() sees it, the caching allocator's out-of-memory path, host code
touching device memory faults, transfers are counted, and device-resident
training matches the CPU with only the batches (and the loss) crossing the bus.

Skipped outside the emulated-device build (needs its ctypes entry points)."""
import ctypes
import os
import subprocess
import sys

import numpy as np
import pytest

import pyconvnet as pcn

C = pcn._C
LIB = ctypes.CDLL(C.__file__)
pytestmark = pytest.mark.skipif(not hasattr(LIB, "pcn_emu_device_stats"),
                                reason="not the emulated-device build (cuda/emu/run_device.sh)")
STATS = ["h2d", "h2d_bytes", "d2h", "d2h_bytes", "d2d", "d2d_bytes", "memset", "memset_bytes", "malloc", "free",
         "launches", "live_bytes", "null_stream"]


def stats():
    out = (ctypes.c_longlong * len(STATS))()
    LIB.pcn_emu_device_stats(out)
    return dict(zip(STATS, out))


def delta(before, after):
    return {k: after[k] - before[k] for k in STATS}


def run_child(code, **env):
    e = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(pcn.__file__)), **env)
    pre = "import ctypes, numpy as np, pyconvnet as pcn\nC = pcn._C\n"
    return subprocess.run([sys.executable, "-X", "faulthandler", "-c", pre + code], env=e, capture_output=True,
                          text=True, timeout=300)


# ---------------------------------------------------------------- the device
def test_info_lists_the_emulated_device():
    d = pcn.info()
    assert d["cuda_compiled"] is True and d["cuda_arch"].startswith("sm_90")
    devs = d["cuda_devices"]
    assert len(devs) == 1
    dev = devs[0]
    assert "host emulation" in dev["name"]
    assert tuple(dev["compute_capability"]) == (9, 0)
    assert dev["total_memory"] > 0 and 0 < dev["free_memory"] <= dev["total_memory"]
    r = subprocess.run([sys.executable, "-m", "pyconvnet", "info"], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(pcn.__file__))))
    assert r.returncode == 0 and "host emulation" in r.stdout, r.stdout + r.stderr


def test_memory_size_is_configurable():
    r = run_child("print(pcn.info()['cuda_devices'][0])", PCN_EMU_MEM="96M")
    assert r.returncode == 0, r.stderr
    assert str(96 << 20) in r.stdout, r.stdout


def test_roundtrip_counts_one_copy_each_way():
    a = np.arange(1000, dtype=np.float32)
    s0 = stats()
    t = pcn.tensor(a, device="cuda")
    s1 = stats()
    assert delta(s0, s1)["h2d"] == 1 and delta(s0, s1)["h2d_bytes"] == 4000
    assert LIB.pcn_emu_is_device_pointer(ctypes.c_void_p(t.data_ptr())) == 1
    b = t.numpy()
    s2 = stats()
    assert delta(s1, s2)["d2h"] == 1 and delta(s1, s2)["d2h_bytes"] == 4000
    np.testing.assert_array_equal(b, a)
    u = t.to("cuda")  # already there: no copy
    assert delta(s2, stats())["h2d"] == 0 and delta(s2, stats())["d2d"] == 0
    del u


# ---------------------------------------------------------------- allocator
def test_out_of_memory_frees_the_cache_and_retries():
    """PCN_EMU_MEM=64M: tensors fill the device, a too-large request raises a clean
    RuntimeError; a request that only fits once the cache is released succeeds."""
    r = run_child(r"""
MiB = 1 << 20
ts = [pcn.empty(4 * MiB, device="cuda") for _ in range(3)]     # 3 x 16 MiB (rounded to 2 MiB)
try:
    pcn.empty(8 * MiB, device="cuda")                           # 32 MiB: does not fit
    raise SystemExit("expected out of memory")
except RuntimeError as e:
    assert "out of memory" in str(e), e
x = pcn.tensor(np.ones(5, np.float32), device="cuda")             # the error did not poison later calls
assert (x.numpy() == 1).all()
del ts                                                          # 48 MiB now cached, not returned
st = C.cuda_memory_stats()
assert st["cached"] >= 48 * MiB, st
big = pcn.empty(12 * MiB, device="cuda")                          # 48 MiB: only after the cache is released
st = C.cuda_memory_stats()
assert st["cached"] < 48 * MiB, st
C.fill_(big, 2.0)
assert float(big.numpy()[-1]) == 2.0
print("OK")
""", PCN_EMU_MEM="64M")
    assert r.returncode == 0 and "OK" in r.stdout, r.stdout + r.stderr


def test_allocator_reuses_blocks_and_empty_cache_frees_them():
    C.synchronize()
    C.cuda_empty_cache()
    s0 = stats()
    for _ in range(5):
        t = pcn.empty(1000, device="cuda")
        del t
    s1 = stats()
    assert delta(s0, s1)["malloc"] == 1  # one cudaMalloc, then the cached block
    C.cuda_empty_cache()
    assert delta(s1, stats())["free"] == 1
    assert C.cuda_memory_stats()["cached"] == 0


# ---------------------------------------------------------------- protection
@pytest.mark.skipif(os.environ.get("PCN_EMU_PROTECT") == "0", reason="arena protection off (PCN_EMU_PROTECT=0, EMU_ASAN)")
def test_host_read_of_device_memory_faults():
    code = ("t = pcn.tensor(np.ones(16, np.float32), device='cuda')\n"
            "v = ctypes.c_float.from_address(t.data_ptr()).value\n"
            "print('READ', v)\n")
    r = run_child(code)
    assert r.returncode != 0 and "HOST CODE TOUCHED DEVICE MEMORY" in r.stderr, r.stdout + r.stderr
    assert "line 4" in r.stderr  # Python's faulthandler names the line (2 lines of preamble)
    r = run_child(code, PCN_EMU_PROTECT="0")
    assert r.returncode == 0 and "READ 1.0" in r.stdout, r.stderr


def test_device_memory_is_poisoned_when_new():
    C.cuda_empty_cache()
    C.set_poison_allocations(False)
    try:
        t = pcn.empty(64, device="cuda")  # a fresh cudaMalloc block: 0xff bytes (NaN)
        assert np.isnan(t.numpy()).all()
    finally:
        C.set_poison_allocations(True)


# ---------------------------------------------------------------- training on the device
def _mnist(n):
    from pyconvnet.datasets import mnist
    (x, y), _ = mnist.load_subset()
    idx = np.random.default_rng(0).permutation(len(x))[:n]
    return (x[idx].astype(np.float32) / 255.0)[..., None], y[idx].astype(np.int32)


def _pair(make, optimizer="adam"):
    cpu, dev = make(), make()
    dev.set_weights(cpu.get_weights())
    cpu.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    dev.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"], device="cuda")
    return cpu, dev


def test_lenet5_train_steps_match_cpu_and_copy_only_the_batch():
    from pyconvnet import applications
    x, y = _mnist(96)
    cpu, dev = _pair(lambda: applications.LeNet5())
    per_step = []
    for i in range(3):
        xb, yb = x[32 * i:32 * (i + 1)], y[32 * i:32 * (i + 1)]
        lc = cpu.train_on_batch(xb, yb)
        s0 = stats()
        ld = dev.train_on_batch(xb, yb)
        per_step.append(delta(s0, stats()))
        lc, ld = np.atleast_1d(lc), np.atleast_1d(ld)
        np.testing.assert_allclose(ld, lc, rtol=2e-4, atol=1e-5)
    for w_c, w_d in zip(cpu.get_weights(), dev.get_weights()):
        np.testing.assert_allclose(w_d, w_c, rtol=1e-3, atol=1e-5)
    d = per_step[-1]
    batch_bytes = x[:32].nbytes + y[:32].nbytes
    print("LeNet-5 train_on_batch on the emulated device, per step:", d)
    assert d["h2d_bytes"] <= batch_bytes + 1024, d       # the batch, not the weights
    assert d["d2h_bytes"] <= 1024, d                     # loss / metric scalars only
    assert d["h2d"] <= 8 and d["d2h"] <= 8, d
    assert all(s["null_stream"] == 0 for s in per_step)  # everything on the backend's stream


def test_fit_on_device_matches_cpu():
    from pyconvnet import applications
    x, y = _mnist(128)
    cpu, dev = _pair(lambda: applications.LeNet5(), optimizer="sgd")
    hc = cpu.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    s0 = stats()
    hd = dev.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    d = delta(s0, stats())
    print("LeNet-5 fit, 2 epochs x 4 steps on the emulated device:", d)
    for k in hc.history:
        np.testing.assert_allclose(hd.history[k], hc.history[k], rtol=1e-3, atol=1e-4, err_msg=k)
    assert d["h2d_bytes"] <= 2 * (x.nbytes + y.nbytes) + 64 * 1024, d
    ec = cpu.evaluate(x, y, verbose=0)
    ed = dev.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(ed, ec, rtol=1e-3, atol=1e-4)
    pc = cpu.predict(x[:40], verbose=0)
    pd = dev.predict(x[:40], verbose=0)
    assert isinstance(pd, np.ndarray)
    np.testing.assert_allclose(pd, pc, rtol=1e-3, atol=1e-5)


# ---------------------------------------------------------------- bugs found on the emulated device
def test_keras_ops_like_constructors_keep_device_and_dtype():
    """keras.ops.zeros_like / ones_like of a CUDA tensor returned a CPU float32 tensor
    (device and dtype ignored): the next op mixing it with the CUDA tensor failed."""
    from pyconvnet import keras_ops as ops
    t = pcn.tensor(np.ones((2, 3), np.float32), device="cuda")
    for f, v in ((ops.zeros_like, 0.0), (ops.ones_like, 1.0)):
        z = f(t)
        assert z.device == "cuda:0" and z.dtype == "float32" and tuple(z.shape) == (2, 3)
        np.testing.assert_array_equal(ops.add(t, z).numpy(), np.full((2, 3), 1.0 + v, np.float32))
        zi = f(t, dtype="int32")
        assert zi.dtype == "int32" and zi.device == "cuda:0"


def test_numpy_from_dlpack_of_a_cuda_tensor_raises_numpys_error():
    """numpy rejects a CUDA capsule and drops it while raising; the capsule's
    destructor called PyErr_Clear(), wiping numpy's exception: 'SystemError:
    <built-in function from_dlpack> returned NULL without setting an exception'."""
    t = pcn.tensor(np.ones(3, np.float32), device="cuda")
    with pytest.raises((RuntimeError, BufferError, TypeError, ValueError)) as e:
        np.from_dlpack(t)
    assert not isinstance(e.value, SystemError), e.value
    np.testing.assert_array_equal(np.from_dlpack(pcn.tensor(np.ones(3, np.float32))), np.ones(3, np.float32))


def test_np_asarray_of_a_cuda_tensor_raises():
    """The buffer protocol's 'no host buffer' error never reached the user: NumPy
    swallowed it and np.asarray(cuda_tensor) returned a 0-d object array holding
    the Tensor. Tensor.__array__ now raises TypeError for device tensors and
    gives CPU tensors their zero-copy view."""
    t = pcn.tensor(np.ones(3, np.float32), device="cuda")
    with pytest.raises(TypeError, match="no host buffer"):
        np.asarray(t)
    c = pcn.tensor(np.arange(3, dtype=np.float32))
    v = np.asarray(c)
    v[0] = 7.0
    assert c.numpy()[0] == 7.0  # still a view
    assert np.asarray(c, dtype=np.float64).dtype == np.float64


def test_concurrent_device_work_from_threads():
    """Ops release the GIL: three host threads launching kernels and copying at
    once (the emulator serializes launches; results must be unaffected)."""
    import threading
    rng = np.random.default_rng(3)
    a = rng.standard_normal((70, 90)).astype(np.float32)
    b = rng.standard_normal((90, 50)).astype(np.float32)
    x = rng.standard_normal((2, 12, 12, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 8)).astype(np.float32)
    ref_mm = pcn.matmul(a, b)
    ref_cv = C.conv2d_forward(pcn.tensor(x), pcn.tensor(w), None, [1, 1], "same", [1, 1], 1, "none").numpy()
    errs = []

    def work(k):
        try:
            for i in range(8):
                r = pcn.matmul(pcn.tensor(a, device="cuda"), pcn.tensor(b, device="cuda")).numpy()
                c = C.conv2d_forward(pcn.tensor(x, device="cuda"), pcn.tensor(w, device="cuda"), None, [1, 1],
                                     "same", [1, 1], 1, "none").numpy()
                if np.abs(r - ref_mm).max() > 1e-3 or np.abs(c - ref_cv).max() > 1e-3:
                    errs.append((k, i))
        except Exception as e:  # noqa: BLE001
            errs.append((k, repr(e)))
    ts = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errs == []


def test_feature_extractor_of_a_device_model_runs_on_the_device(tmp_path):
    """A functional Model over layers already on "cuda" (the CLI's feature-map probe
    Model(model.inputs, conv.output) after `pyconvnet train --device cuda`) kept
    device "cpu": predict() sent CPU batches to CUDA weights -> ValueError 'conv2d:
    tensors on different devices'. It now takes its layers' device."""
    from pyconvnet import applications, layers, models
    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype(np.float32)
    cpu = applications.LeNet5()
    dev = applications.LeNet5()
    dev.set_weights(cpu.get_weights())
    dev.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", device="cuda")
    conv_c = next(l for l in cpu.layers if isinstance(l, layers.Conv2D))
    conv_d = next(l for l in dev.layers if isinstance(l, layers.Conv2D))
    probe_c, probe_d = models.Model(cpu.inputs, conv_c.output), models.Model(dev.inputs, conv_d.output)
    assert probe_c.device == "cpu" and probe_d.device == "cuda"
    np.testing.assert_allclose(probe_d.predict(x, verbose=0), probe_c.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    seq_c, seq_d = pcn.Sequential(cpu.layers[:4]), pcn.Sequential(dev.layers[:4])  # the same through Sequential
    assert seq_c.device == "cpu" and seq_d.device == "cuda"
    np.testing.assert_allclose(seq_d.predict(x, verbose=0), seq_c.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_cli_train_on_the_device(tmp_path, monkeypatch):
    """`pyconvnet train --device cuda` end to end (tiny data): fit, evaluate, weights,
    and the pictures (filters, feature maps through the probe model above)."""
    import pyconvnet.__main__ as cli
    from pyconvnet.datasets import mnist
    (x, y), (xt, yt) = mnist.load_subset()
    monkeypatch.setattr(cli, "_load_dataset", lambda name, data: (((x[:64], y[:64]), (xt[:16], yt[:16])), "64 images"))
    rc = cli.main(["train", "--model", "lenet5", "--device", "cuda", "--epochs", "1", "--batch-size", "32",
                   "--out", str(tmp_path), "--verbose", "0"])
    assert rc in (0, None)
    assert (tmp_path / "lenet5.weights.npz").exists()


def test_sequential_add_on_a_device_model_builds_there():
    """Sequential.add() after model.to("cuda") built the new layer's weights on the
    CPU: predict() failed with 'matmul: tensors on different devices' until the
    model was moved again."""
    m = pcn.Sequential([pcn.layers.Input((5,)), pcn.layers.Dense(4)])
    m.to("cuda")
    m.add(pcn.layers.Dense(3))
    assert all(w.value.device == "cuda:0" for w in m.weights)
    assert m.predict(np.ones((2, 5), np.float32), verbose=0).shape == (2, 3)
