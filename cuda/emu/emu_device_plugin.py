"""pytest plugin for cuda/emu/run_device.sh (loaded with -p emu_device_plugin).

Tests that need torch.cuda (interop with PyTorch tensors ON the GPU) cannot run
against the emulated device when torch is a CPU build: they are skipped with
that reason instead of failing in torch. Nothing else is changed."""
import pytest

TORCH_CUDA_TESTS = {
    "test_cuda_array_interface_torch",
    "test_dlpack_cuda_torch_both_ways",
    "test_unaligned_operands_from_torch",
}


def _torch_cuda():
    try:
        import torch
        return torch.cuda.is_available()
    except Exception:
        return False


def pytest_collection_modifyitems(config, items):
    if _torch_cuda():
        return
    skip = pytest.mark.skip(reason="needs torch.cuda (torch is a CPU build; the emulated device is not visible to it)")
    for it in items:
        if it.originalname in TORCH_CUDA_TESTS or it.name in TORCH_CUDA_TESTS:
            it.add_marker(skip)
