// cuda_api.h — what the rest of the code may ask of the CUDA backend. Defined
// in cuda/runtime.cu when CUDA is compiled in, else in csrc/no_cuda.cpp.
// Nothing here includes CUDA headers.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace pcn {

struct CudaDeviceInfo {
  int index = 0;
  std::string name;
  int64_t total_bytes = 0, free_bytes = 0;
  int major = 0, minor = 0, multiprocessors = 0;
};

bool cuda_compiled_in();
std::string cuda_build_arch();              // e.g. "sm_90 + compute_90 PTX"; "" when not compiled in
std::vector<CudaDeviceInfo> cuda_devices(); // empty when no driver/GPU (never throws)
int cuda_runtime_version();                 // e.g. 13000; 0 when not compiled in
int cuda_driver_version();                  // 0 when no driver
void cuda_synchronize();                    // no-op when not compiled in

// The backend's stream on `device` as an integer handle (cudaStream_t), for
// __cuda_array_interface__ / DLPack; 0 when not compiled in.
uintptr_t cuda_stream_handle(int device);
void cuda_stream_synchronize(int device);   // wait for the backend's stream on `device`

// Caching allocator statistics (bytes): in use by tensors, held in the cache
// (freed, kept for reuse), and the peak of `allocated` since start.
struct CudaMemoryStats {
  int64_t allocated = 0, cached = 0, peak_allocated = 0;
};
CudaMemoryStats cuda_memory_stats();
void cuda_empty_cache();                    // return cached blocks to the driver

// Float32 matmul precision on the GPU (torch's names): Highest = fp32 SIMT,
// High = TF32 tensor cores, Medium = BF16 tensor cores (fp32 accumulate).
enum class MatmulPrecision : int { Highest = 0, High = 1, Medium = 2 };
void set_matmul_precision(MatmulPrecision p);
MatmulPrecision get_matmul_precision();

}  // namespace pcn
