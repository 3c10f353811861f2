// no_cuda.cpp — the CUDA backend's entry points for a CPU-only build.
#include "cuda_api.h"
#include "dispatch.h"

namespace pcn {
bool cuda_compiled_in() { return false; }
std::string cuda_build_arch() { return ""; }
std::vector<CudaDeviceInfo> cuda_devices() { return {}; }
int cuda_runtime_version() { return 0; }
int cuda_driver_version() { return 0; }
void cuda_synchronize() {}
void register_cuda_kernels() {}
}  // namespace pcn
