// stream.cuh — the stream every CUDA kernel of pyconvnet launches on.
// Minimal placeholder (created by the conv2d CUDA work): the legacy default
// stream. The runtime owner may replace this with an explicit stream.
#pragma once
#include <cuda_runtime.h>

namespace pcn {
namespace cuda {
inline cudaStream_t stream() { return 0; }
}  // namespace cuda
}  // namespace pcn
