// Host emulation of the CUDA subset used by cuda/{pool2d,norm,rnn}.cu, to run
// those kernels on the CPU under the CPU test suites. One CUDA block at a time;
// its threads are OpenMP threads (__syncthreads = omp barrier, __shared__ =
// static, shared by the block's threads).
#pragma once
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "../common.h"
#include "../tensor.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;

inline void __syncthreads() {
#pragma omp barrier
}
inline float __int_as_float(int i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}

typedef void* cudaStream_t;
enum cudaError_t { cudaSuccess = 0 };
enum cudaMemcpyKind { cudaMemcpyDeviceToDevice = 3 };
inline cudaError_t cudaMemsetAsync(void* p, int v, size_t n, cudaStream_t) { std::memset(p, v, n); return cudaSuccess; }
inline cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind, cudaStream_t) {
  std::memcpy(d, s, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpy2DAsync(void* d, size_t dp, const void* s, size_t sp, size_t w, size_t h, cudaMemcpyKind,
                                     cudaStream_t) {
  for (size_t r = 0; r < h; ++r) std::memcpy((char*)d + r * dp, (const char*)s + r * sp, w);
  return cudaSuccess;
}

#define PCN_CUDA_CHECK(call) (void)(call)
#define PCN_CUDA_LAUNCH_CHECK() (void)0

namespace emu {
inline long long launches = 0;
template <class F, class G, class B, class... R>
void launch(F f, G g, B b, R...) {
  const dim3 grid(g), block(b);
  const int nt = int(block.x * block.y * block.z);
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || nt == 0 || nt > 1024) {
    std::fprintf(stderr, "emu: bad launch config grid (%u,%u,%u) block (%u,%u,%u)\n", grid.x, grid.y, grid.z, block.x,
                 block.y, block.z);
    std::abort();
  }
  ++launches;
  gridDim = grid;
  blockDim = block;
  omp_set_dynamic(0);
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
#pragma omp parallel num_threads(nt)
        {
          if (omp_get_num_threads() != nt) {
            std::fprintf(stderr, "emu: got %d threads, wanted %d\n", omp_get_num_threads(), nt);
            std::abort();
          }
          const unsigned t = unsigned(omp_get_thread_num());
          blockIdx = dim3(bx, by, bz);
          threadIdx = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
          f();
        }
      }
}
}  // namespace emu

namespace pcn {
namespace cuda {
inline cudaStream_t stream() { return nullptr; }
class DeviceScratch {
 public:
  explicit DeviceScratch(size_t n) : p_(std::malloc(n ? n : 1)) {
    // poison: NaN floats / junk, so reads of unwritten scratch show up
    std::memset(p_, 0xff, n);
  }
  ~DeviceScratch() { std::free(p_); }
  template <class T>
  T* as() const { return static_cast<T*>(p_); }
 private:
  void* p_;
};
inline unsigned grid_for(int64_t n, int threads) {
  int64_t b = (n + threads - 1) / threads;
  const int64_t cap = int64_t(1) << 20;
  return unsigned(b < cap ? b : cap);
}
}  // namespace cuda
}  // namespace pcn
