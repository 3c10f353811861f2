"""pytest plugin for cuda/emu/run_device.sh (EMU_FORCE_DEVICE=1, loaded with
-p emu_force_device): every Model.compile() without an explicit device trains on
"cuda", so the Keras test files (written for the CPU) run their models on the
emulated device: fit/evaluate/predict, optimizers, metrics, callbacks, saving.
A test that checks CPU-specific behaviour may then fail for that reason alone;
read failures before calling them bugs."""
import pytest


def pytest_configure(config):
    from pyconvnet import models
    orig = models.Model.compile

    def compile(self, *args, **kwargs):
        if kwargs.get("device") is None:
            kwargs["device"] = "cuda"
        return orig(self, *args, **kwargs)
    compile.__doc__ = orig.__doc__
    models.Model.compile = compile
