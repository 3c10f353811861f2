// stream.cuh — the stream every kernel of the CUDA backend launches on.
//
// MINIMAL PLACEHOLDER (branch cudapool): returns the legacy default stream.
// The real pcn::cuda::stream() is being written on branch `cuda` (runtime
// rewrite); when the branches meet, that definition replaces this file. Keep
// the name and the signature: cuda/{pool2d,norm,rnn}.cu call only this.
#pragma once
#include <cuda_runtime.h>

namespace pcn {
namespace cuda {
inline cudaStream_t stream() { return cudaStream_t(0); }
}  // namespace cuda
}  // namespace pcn
