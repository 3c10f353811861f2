// stream.cu — see stream.cuh.
#include <mutex>

#include "check.cuh"
#include "stream.cuh"

namespace pcn {
namespace cuda {

namespace {
constexpr int kMaxDevices = 64;
std::mutex g_mu;
cudaStream_t g_streams[kMaxDevices] = {};
bool g_made[kMaxDevices] = {};
}  // namespace

cudaStream_t stream(int device) {
  if (device < 0 || device >= kMaxDevices) PCN_THROW(RuntimeError, "cuda stream: bad device index " << device);
  std::lock_guard<std::mutex> g(g_mu);
  if (!g_made[device]) {
    int cur = 0;
    PCN_CUDA_CHECK(cudaGetDevice(&cur));
    PCN_CUDA_CHECK(cudaSetDevice(device));
    cudaStream_t s = nullptr;
    const cudaError_t e = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
    cudaSetDevice(cur);
    PCN_CUDA_CHECK(e);
    g_streams[device] = s;
    g_made[device] = true;
  }
  return g_streams[device];
}

cudaStream_t activate(int device) {
  PCN_CUDA_CHECK(cudaSetDevice(device));
  return stream(device);
}

int device_of(const void* p) {
  cudaPointerAttributes a;
  PCN_CUDA_CHECK(cudaPointerGetAttributes(&a, p));
  if (a.type != cudaMemoryTypeDevice && a.type != cudaMemoryTypeManaged)
    PCN_THROW(RuntimeError, "CUDA kernel called with a pointer that is not device memory");
  return a.device;
}

void sync_stream(int device) {
  cudaStream_t s = stream(device);
  PCN_CUDA_CHECK(cudaStreamSynchronize(s));
}

void sync_all_streams() {
  cudaStream_t todo[kMaxDevices];
  int n = 0;
  {
    std::lock_guard<std::mutex> g(g_mu);
    for (int d = 0; d < kMaxDevices; ++d)
      if (g_made[d]) todo[n++] = g_streams[d];
  }
  for (int i = 0; i < n; ++i) PCN_CUDA_CHECK(cudaStreamSynchronize(todo[i]));
}

cudaStream_t stream() {
  int dev = 0;
  PCN_CUDA_CHECK(cudaGetDevice(&dev));
  return stream(dev);
}

}  // namespace cuda
}  // namespace pcn
