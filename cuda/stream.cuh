// stream.cuh — one non-default (non-blocking) stream per device, created at
// first use. Every kernel and copy of the CUDA backend is queued on it, so work
// is ordered without touching the legacy default stream; _C.synchronize()
// waits for it.
#pragma once
#include <cuda_runtime.h>

namespace pcn {
namespace cuda {

// The backend's stream on `device` (created on first use; never destroyed).
cudaStream_t stream(int device);
// The stream of the current device (kernels launched by a front after the
// allocation of their outputs run on the outputs' device).
cudaStream_t stream();
// Make `device` current and return its stream (the usual kernel-launch prelude).
cudaStream_t activate(int device);
// Device that owns a device pointer (cudaPointerGetAttributes); RuntimeError
// for host or unknown memory.
int device_of(const void* p);
// Wait for the stream of `device` / of every device that has one.
void sync_stream(int device);
void sync_all_streams();

}  // namespace cuda
}  // namespace pcn
