"""python force_device_run.py SCRIPT [ARGS...] — run SCRIPT with every
Model.compile() without an explicit device training on "cuda" (the script-level
twin of emu_force_device.py; run_device.sh uses it for tests/mpi/keras_fit.py
under mpiexec -n 2, so the DistributedOptimizer's device staging path runs)."""
import os
import runpy
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[1])))
from pyconvnet import models  # noqa: E402

_orig = models.Model.compile


def _compile(self, *args, **kwargs):
    if kwargs.get("device") is None:
        kwargs["device"] = "cuda"
    return _orig(self, *args, **kwargs)


models.Model.compile = _compile
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
