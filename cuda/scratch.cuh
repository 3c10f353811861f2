// scratch.cuh — temporary device memory for a kernel launcher, from the CUDA
// caching allocator (csrc/tensor.h). Freed at scope exit: the block goes back
// to the cache and is reused by later work on the same stream, which runs
// after the kernels queued here (stream order), so no synchronization needed.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>

#include "../csrc/tensor.h"
#include "check.cuh"

namespace pcn {
namespace cuda {

class DeviceScratch {
 public:
  explicit DeviceScratch(size_t nbytes) : nbytes_(nbytes) {
    PCN_CUDA_CHECK(cudaGetDevice(&dev_));
    alloc_ = get_allocator(DeviceType::CUDA);
    p_ = alloc_->allocate(nbytes_ ? nbytes_ : 1, dev_);
  }
  ~DeviceScratch() { alloc_->deallocate(p_, nbytes_ ? nbytes_ : 1, dev_); }
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;
  template <class T>
  T* as() const { return static_cast<T*>(p_); }

 private:
  size_t nbytes_;
  int dev_ = 0;
  Allocator* alloc_ = nullptr;
  void* p_ = nullptr;
};

// Blocks for a grid-stride loop over n elements (n > 0).
inline unsigned grid_for(int64_t n, int threads) {
  int64_t b = (n + threads - 1) / threads;
  const int64_t cap = int64_t(1) << 20;
  return unsigned(b < cap ? b : cap);
}

}  // namespace cuda
}  // namespace pcn
