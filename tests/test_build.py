"""The build works with and without CUDA: configure with PYCONVNET_CUDA=OFF and with
no nvcc on PATH (AUTO must become OFF), and compile + import a CPU-only module."""
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pybind11 = pytest.importorskip("pybind11", reason="pybind11 is in the test extra")


def _cmake():
    exe = shutil.which("cmake")
    if exe is None:
        pytest.fail("cmake not found on PATH (it is in the test extra)")
    return exe


def _configure(build_dir, env, *defs):
    cmd = [_cmake(), "-S", ROOT, "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release",
           "-DPython_EXECUTABLE=" + sys.executable, "-Dpybind11_DIR=" + pybind11.get_cmake_dir()] + list(defs)
    if shutil.which("ninja"):
        cmd += ["-G", "Ninja"]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def _env_without_nvcc():
    env = dict(os.environ)
    env.pop("CUDACXX", None)
    env.pop("CUDA_PATH", None)
    env.pop("CUDA_HOME", None)
    nvcc = shutil.which("nvcc")
    keep = [p for p in env.get("PATH", "").split(os.pathsep)
            if not (nvcc and os.path.realpath(p) == os.path.realpath(os.path.dirname(nvcc)))
            and not os.path.exists(os.path.join(p, "nvcc"))]
    env["PATH"] = os.pathsep.join(keep)
    return env


def test_configure_without_nvcc_on_path_builds_cpu_only(tmp_path):
    out = _configure(tmp_path / "b", _env_without_nvcc(), "-DPYCONVNET_CUDA=AUTO",
                     "-DCMAKE_CUDA_COMPILER=")
    assert "CUDA         : OFF" in out, out
    assert "SIMD paths   : avx512, avx2, base" in out


def test_cpu_only_build_compiles_and_imports(tmp_path):
    out = _configure(tmp_path / "b", dict(os.environ), "-DPYCONVNET_CUDA=OFF")
    assert "CUDA         : OFF" in out
    r = subprocess.run([_cmake(), "--build", str(tmp_path / "b"), "-j2"], capture_output=True, text=True,
                       timeout=1200)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    so = [f for f in os.listdir(tmp_path / "b") if f.startswith("_C") and f.endswith(".so")]
    assert so, os.listdir(tmp_path / "b")
    # Import the fresh module under a scratch package name and use it.
    pkg = tmp_path / "pkg" / "cpuonly"
    pkg.mkdir(parents=True)
    shutil.copy(tmp_path / "b" / so[0], pkg / so[0])
    (pkg / "__init__.py").write_text("")
    code = textwrap.dedent("""
        import numpy as np
        from cpuonly import _C
        info = _C.build_info()
        assert info["cuda_compiled"] is False, info
        a = np.arange(6, dtype=np.float32).reshape(2, 3)
        c = np.asarray(_C.matmul(_C.from_numpy(a), _C.from_numpy(np.ascontiguousarray(a.T))))
        assert np.allclose(c, a @ a.T), c
        print("ok", _C.simd_level())
    """)
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path / "pkg", capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("ok"), r.stdout + r.stderr
