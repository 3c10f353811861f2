// stream.cuh — the stream every CUDA kernel of pyconvnet launches on.
//
// MINIMAL PLACEHOLDER (branch cudaelem): the legacy default stream, inline.
// main's runtime rewrite has the real cuda/stream.cuh + stream.cu (one
// non-blocking stream per device) with the same stream(int) / activate(int) /
// device_of(const void*) signatures as below; when the branches meet, take
// main's header and drop this one: cuda/{elementwise,loss,optim}.cu call only
// activate(device_of(p)), which then runs them on the backend's stream.
#pragma once
#include <cuda_runtime.h>

#include "check.cuh"

namespace pcn {
namespace cuda {

inline cudaStream_t stream() { return cudaStream_t(0); }
inline cudaStream_t stream(int /*device*/) { return cudaStream_t(0); }

// Make `device` current and return its stream.
inline cudaStream_t activate(int device) {
  PCN_CUDA_CHECK(cudaSetDevice(device));
  return stream(device);
}

// Device that owns a device pointer; RuntimeError for host or unknown memory.
inline int device_of(const void* p) {
  cudaPointerAttributes a;
  PCN_CUDA_CHECK(cudaPointerGetAttributes(&a, p));
  if (a.type != cudaMemoryTypeDevice && a.type != cudaMemoryTypeManaged)
    PCN_THROW(RuntimeError, "CUDA kernel called with a pointer that is not device memory");
  return a.device;
}

}  // namespace cuda
}  // namespace pcn
