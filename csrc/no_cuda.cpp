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
uintptr_t cuda_stream_handle(int) { return 0; }
void cuda_stream_synchronize(int) {}
CudaMemoryStats cuda_memory_stats() { return {}; }
void cuda_empty_cache() {}
static MatmulPrecision g_matmul_precision = MatmulPrecision::Highest;
void set_matmul_precision(MatmulPrecision p) { g_matmul_precision = p; }
MatmulPrecision get_matmul_precision() { return g_matmul_precision; }
}  // namespace pcn
