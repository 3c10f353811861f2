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

}  // namespace pcn
