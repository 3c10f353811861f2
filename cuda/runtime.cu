// runtime.cu — the CUDA backend's runtime: device queries, the caching device
// allocator, host<->device copies, and registration of the CUDA kernels into
// the op tables (register_cuda_kernels, called once at module import).
#include <cuda_runtime.h>

#include <map>
#include <mutex>
#include <vector>

#include "../csrc/cuda_api.h"
#include "../csrc/dispatch.h"
#include "../csrc/tensor.h"
#include "check.cuh"

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

void cuda_synchronize() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) { cudaGetLastError(); return; }
  PCN_CUDA_CHECK(cudaDeviceSynchronize());
}

// ---------------------------------------------------------------- allocator
// Caching allocator: freed blocks are kept in per-device, per-size free lists
// (sizes rounded up to 512 B below 1 MiB, to 2 MiB above) and reused; on
// cudaErrorMemoryAllocation the cache is released and the allocation retried.
namespace {
struct CachingAllocator final : Allocator {
  std::mutex mu;
  std::map<std::pair<int, size_t>, std::vector<void*>> free_blocks;
  static size_t round(size_t n) {
    if (n < (size_t(1) << 20)) return (std::max<size_t>(n, 1) + 511) & ~size_t(511);
    return (n + (size_t(2) << 20) - 1) & ~((size_t(2) << 20) - 1);
  }
  void release_all() {
    for (auto& kv : free_blocks) {
      cudaSetDevice(kv.first.first);
      for (void* p : kv.second) cudaFree(p);
    }
    free_blocks.clear();
  }
  void* allocate(size_t nbytes, int dev) override {
    const size_t n = round(nbytes);
    std::lock_guard<std::mutex> g(mu);
    auto it = free_blocks.find({dev, n});
    if (it != free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
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
    return p;
  }
  void deallocate(void* p, size_t nbytes, int dev) override {
    std::lock_guard<std::mutex> g(mu);
    free_blocks[{dev, round(nbytes)}].push_back(p);
  }
};
CachingAllocator* g_alloc = nullptr;

void device_copy(void* dst, const void* src, size_t n, int kind, int dev) {
  PCN_CUDA_CHECK(cudaSetDevice(dev));
  const cudaMemcpyKind k = kind == 0 ? cudaMemcpyHostToDevice
                           : kind == 1 ? cudaMemcpyDeviceToHost
                                       : cudaMemcpyDeviceToDevice;
  PCN_CUDA_CHECK(cudaMemcpy(dst, src, n, k));
}

__global__ void fill32(uint32_t* p, uint32_t v, size_t n) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    p[i] = v;
}

void device_fill(void* dst, uint32_t pattern, size_t n32, int dev) {
  if (n32 == 0) return;
  PCN_CUDA_CHECK(cudaSetDevice(dev));
  const unsigned blocks = unsigned(std::min<size_t>((n32 + 255) / 256, 65535));
  fill32<<<blocks, 256>>>(static_cast<uint32_t*>(dst), pattern, n32);
  PCN_CUDA_LAUNCH_CHECK();
}
}  // namespace

void register_cuda_kernels() {
  // The allocator lives for the whole process (never destroyed: device memory
  // is reclaimed by the driver at exit, and destroying it after the CUDA
  // runtime has shut down would fail).
  if (!g_alloc) g_alloc = new CachingAllocator();
  set_allocator(DeviceType::CUDA, g_alloc);
  set_device_copy(&device_copy);
  set_device_fill(&device_fill);
  // Kernel registration: each cuda/<family>.cu adds itself here.
}

}  // namespace pcn
