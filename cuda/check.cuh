// check.cuh — every CUDA call and launch checked; errors throw pcn::RuntimeError
// with file:line (never exit()).
#pragma once
#include <cuda_runtime.h>

#include "../csrc/common.h"

#define PCN_CUDA_CHECK(call)                                                              \
  do {                                                                                    \
    cudaError_t pcn_e_ = (call);                                                          \
    if (pcn_e_ != cudaSuccess) {                                                          \
      cudaGetLastError(); /* clear non-sticky errors so later calls are not poisoned */   \
      PCN_THROW(RuntimeError, "CUDA error " << cudaGetErrorName(pcn_e_) << " ("          \
                                           << cudaGetErrorString(pcn_e_) << ") at "       \
                                           << __FILE__ << ":" << __LINE__ << ": " #call); \
    }                                                                                     \
  } while (0)

// After a <<<...>>> launch: configuration errors surface here.
#define PCN_CUDA_LAUNCH_CHECK() PCN_CUDA_CHECK(cudaGetLastError())
