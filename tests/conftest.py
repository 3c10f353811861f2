"""Shared test setup: poison every new tensor with NaN so an unwritten output
element fails its comparison; helpers to compare against float64 references."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
# Tests check results, not speed: idle OpenMP threads sleep instead of spinning, so a
# busy machine (or MPI ranks sharing cores) does not turn every small kernel into a
# scheduler-tick wait. Must be set before the extension (and libgomp) loads.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import pyconvnet as pcn  # noqa: E402


@pytest.fixture(autouse=True)
def _poison_outputs():
    pcn._C.set_poison_allocations(True)
    yield
    pcn._C.set_poison_allocations(False)


SIMD_LEVELS = [lvl for lvl in ("base", "avx2", "avx512")
               if ["base", "avx2", "avx512"].index(lvl) <= ["base", "avx2", "avx512"].index(pcn._C.best_simd_level())]


@pytest.fixture(params=SIMD_LEVELS)
def simd(request):
    """Run a test once per SIMD path this CPU supports."""
    prev = pcn._C.simd_level()
    pcn._C.force_simd_level(request.param)
    yield request.param
    pcn._C.force_simd_level(prev)


def has_cuda():
    return bool(pcn._C.build_info()["cuda_compiled"]) and len(pcn._C.cuda_devices()) > 0


DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda,
                                              pytest.mark.skipif(not has_cuda(), reason="no CUDA device")])]


@pytest.fixture(params=DEVICES)
def device(request):
    """Run a test once per device; the CUDA case skips without a GPU."""
    return request.param
