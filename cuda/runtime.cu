// runtime.cu — the CUDA backend's runtime: device queries, the caching device
// allocator, host<->device copies, and registration of the CUDA kernels into
// the op tables (register_cuda_kernels, called once at module import).
#include <cuda_runtime.h>

#include <atomic>
#include <map>
#include <mutex>
#include <vector>

#include "../csrc/cuda_api.h"
#include "../csrc/dispatch.h"
#include "../csrc/tensor.h"
#include "check.cuh"
#include "register.cuh"
#include "stream.cuh"

#ifndef PCN_CUDA_ARCH
#define PCN_CUDA_ARCH "90"
#endif

namespace pcn {

bool cuda_compiled_in() { return true; }
std::string cuda_build_arch() { return std::string("sm_") + PCN_CUDA_ARCH + " + compute_" + PCN_CUDA_ARCH + " PTX"; }

int cuda_runtime_version() {
  int v = 0;
  if (cudaRuntimeGetVersion(&v) != cudaSuccess) { cudaGetLastError(); return CUDART_VERSION; }
  return v;
}

int cuda_driver_version() {
  int v = 0;
  if (cudaDriverGetVersion(&v) != cudaSuccess) { cudaGetLastError(); return 0; }
  return v;
}

std::vector<CudaDeviceInfo> cuda_devices() {
  std::vector<CudaDeviceInfo> out;
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {  // no driver / no GPU: zero devices
    cudaGetLastError();
    return out;
  }
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) { cudaGetLastError(); continue; }
    CudaDeviceInfo d;
    d.index = i;
    d.name = p.name;
    d.total_bytes = int64_t(p.totalGlobalMem);
    d.major = p.major;
    d.minor = p.minor;
    d.multiprocessors = p.multiProcessorCount;
    int cur = 0;
    size_t fr = 0, tot = 0;
    if (cudaGetDevice(&cur) == cudaSuccess && cudaSetDevice(i) == cudaSuccess &&
        cudaMemGetInfo(&fr, &tot) == cudaSuccess) {
      d.free_bytes = int64_t(fr);
      cudaSetDevice(cur);
    } else {
      cudaGetLastError();
    }
    out.push_back(d);
  }
  return out;
}

namespace {
// Number of visible devices, asked once (any error: zero devices).
int device_count() {
  static const int n = [] {
    int c = 0;
    if (cudaGetDeviceCount(&c) != cudaSuccess) { cudaGetLastError(); c = 0; }
    return c;
  }();
  return n;
}
void check_device(int dev) {
  const int n = device_count();
  if (dev < 0 || dev >= n)
    PCN_THROW(RuntimeError, "cuda:" << dev << " is not available: " << n
                                    << " CUDA device(s) visible"
                                    << (n == 0 ? " (no GPU or no driver on this machine)" : ""));
}
std::atomic<int> g_matmul_precision{int(MatmulPrecision::Highest)};
}  // namespace

void cuda_synchronize() {
  if (device_count() == 0) return;
  cuda::sync_all_streams();
}

uintptr_t cuda_stream_handle(int device) {
  check_device(device);
  return reinterpret_cast<uintptr_t>(cuda::stream(device));
}

void cuda_stream_synchronize(int device) {
  check_device(device);
  cuda::sync_stream(device);
}

void set_matmul_precision(MatmulPrecision p) { g_matmul_precision = int(p); }
MatmulPrecision get_matmul_precision() { return MatmulPrecision(g_matmul_precision.load()); }

// ---------------------------------------------------------------- allocator
// Caching allocator: freed blocks are kept in per-device, per-size free lists
// (sizes rounded up to 512 B below 1 MiB, to 2 MiB above) and reused; on
// cudaErrorMemoryAllocation the cache is released and the allocation retried.
// All device work runs on one stream per device (stream.cuh), so a block freed
// on the host can be handed to the next tensor at once: any kernel that still
// reads it was queued earlier on the same stream.
namespace {
struct CachingAllocator final : Allocator {
  std::mutex mu;
  std::map<std::pair<int, size_t>, std::vector<void*>> free_blocks;
  int64_t allocated = 0, cached = 0, peak = 0;
  static size_t round(size_t n) {
    if (n < (size_t(1) << 20)) return (std::max<size_t>(n, 1) + 511) & ~size_t(511);
    return (n + (size_t(2) << 20) - 1) & ~((size_t(2) << 20) - 1);
  }
  void release_all() {  // caller holds mu
    int cur = 0;
    if (cudaGetDevice(&cur) != cudaSuccess) { cudaGetLastError(); cur = 0; }
    for (auto& kv : free_blocks) {
      if (kv.second.empty()) continue;
      cudaSetDevice(kv.first.first);
      for (void* p : kv.second) cudaFree(p);  // implies a device sync
    }
    cudaGetLastError();
    cudaSetDevice(cur);
    free_blocks.clear();
    cached = 0;
  }
  void note_alloc(size_t n) {
    allocated += int64_t(n);
    if (allocated > peak) peak = allocated;
  }
  void* allocate(size_t nbytes, int dev) override {
    check_device(dev);
    const size_t n = round(nbytes);
    std::lock_guard<std::mutex> g(mu);
    auto it = free_blocks.find({dev, n});
    if (it != free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      cached -= int64_t(n);
      note_alloc(n);
      return p;
    }
    PCN_CUDA_CHECK(cudaSetDevice(dev));
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, n);
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      release_all();
      PCN_CUDA_CHECK(cudaSetDevice(dev));
      e = cudaMalloc(&p, n);
    }
    if (e != cudaSuccess) {
      cudaGetLastError();
      PCN_THROW(RuntimeError, "CUDA out of memory allocating " << nbytes << " bytes on cuda:" << dev << " ("
                                                               << cudaGetErrorString(e) << ")");
    }
    note_alloc(n);
    return p;
  }
  void deallocate(void* p, size_t nbytes, int dev) override {
    const size_t n = round(nbytes);
    std::lock_guard<std::mutex> g(mu);
    free_blocks[{dev, n}].push_back(p);
    allocated -= int64_t(n);
    cached += int64_t(n);
  }
};
CachingAllocator* g_alloc = nullptr;

// Copies are queued on the backend's stream. H2D from pageable memory returns
// once the source has been staged (the host buffer may be reused at once);
// D2H is followed by a stream sync so the host sees the data on return.
void device_copy(void* dst, const void* src, size_t n, int kind, int dev) {
  if (n == 0) return;
  cudaStream_t s = cuda::activate(dev);
  if (kind == 2) {
    // Device to device: if the source lives on another device, its stream
    // must have finished writing it first.
    const int sdev = cuda::device_of(src);
    if (sdev != dev) cuda::sync_stream(sdev);
    PCN_CUDA_CHECK(cudaSetDevice(dev));
    PCN_CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyDefault, s));
    return;
  }
  const cudaMemcpyKind k = kind == 0 ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost;
  PCN_CUDA_CHECK(cudaMemcpyAsync(dst, src, n, k, s));
  if (kind == 1) PCN_CUDA_CHECK(cudaStreamSynchronize(s));
}

__global__ void fill32(uint32_t* p, uint32_t v, size_t n) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    p[i] = v;
}

void device_fill(void* dst, uint32_t pattern, size_t n32, int dev) {
  if (n32 == 0) return;
  cudaStream_t s = cuda::activate(dev);
  const unsigned blocks = unsigned(std::min<size_t>((n32 + 255) / 256, 65535));
  fill32<<<blocks, 256, 0, s>>>(static_cast<uint32_t*>(dst), pattern, n32);
  PCN_CUDA_LAUNCH_CHECK();
}
}  // namespace

CudaMemoryStats cuda_memory_stats() {
  CudaMemoryStats st;
  if (!g_alloc) return st;
  std::lock_guard<std::mutex> g(g_alloc->mu);
  st.allocated = g_alloc->allocated;
  st.cached = g_alloc->cached;
  st.peak_allocated = g_alloc->peak;
  return st;
}

void cuda_empty_cache() {
  if (!g_alloc || device_count() == 0) return;
  std::lock_guard<std::mutex> g(g_alloc->mu);
  g_alloc->release_all();
}

void register_cuda_kernels() {
  // The allocator lives for the whole process (never destroyed: device memory
  // is reclaimed by the driver at exit, and destroying it after the CUDA
  // runtime has shut down would fail).
  if (!g_alloc) g_alloc = new CachingAllocator();
  set_allocator(DeviceType::CUDA, g_alloc);
  set_device_copy(&device_copy);
  set_device_fill(&device_fill);
  // Kernel registration: each cuda/<family>.cu defines register_<family>_cuda()
  // (declared in register.cuh) and is called here.
  register_gemm_cuda();
  register_pool2d_cuda();
  register_norm_cuda();
  register_rnn_cuda();
  register_elementwise_cuda();
  register_loss_cuda();
  register_optim_cuda();
  register_conv2d_cuda();
}

}  // namespace pcn
