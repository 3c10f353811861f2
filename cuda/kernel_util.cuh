// kernel_util.cuh — the launch-shape and reduction helpers shared by the
// pointwise families (elementwise.cu, loss.cu, optim.cu): grid-stride loop
// bounds, 16-byte alignment tests, and fixed-order warp/block reductions
// (deterministic: no float atomics, the same tree on every run).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace pcn {
namespace kutil {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 8192;

// Blocks for a grid-stride loop over `work` items of `per_block` each (1..kMaxBlocks).
inline unsigned grid_for(int64_t work, int64_t per_block = kThreads) {
  int64_t b = (work + per_block - 1) / per_block;
  if (b < 1) b = 1;
  if (b > kMaxBlocks) b = kMaxBlocks;
  return unsigned(b);
}

inline bool aligned16(const void* p) { return p == nullptr || (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

__device__ __forceinline__ int64_t gtid() { return int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ __forceinline__ int64_t gstride() { return int64_t(gridDim.x) * blockDim.x; }

// Every lane ends with lane 0's value (broadcast), so the result does not depend on the lane.
template <class T, class Op>
__device__ __forceinline__ T warp_reduce(T v, Op op) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, off));
  return __shfl_sync(0xffffffffu, v, 0);
}

// All threads of the block must call it; blockDim.x a multiple of 32, <= 1024.
// smem: 32 entries. Partials of the warps are combined in warp order by every thread.
template <class T, class Op>
__device__ __forceinline__ T block_reduce(T v, Op op, T* smem) {
  v = warp_reduce(v, op);
  const int nw = blockDim.x >> 5;
  if (nw == 1) return v;
  __syncthreads();  // earlier readers of smem are done
  if ((threadIdx.x & 31) == 0) smem[threadIdx.x >> 5] = v;
  __syncthreads();
  T r = smem[0];
  for (int w = 1; w < nw; ++w) r = op(r, smem[w]);
  return r;
}

struct AddOp {
  template <class T>
  __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
struct MaxOp {  // ignores NaN (fmax)
  __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
};
struct OrOp {
  __device__ __forceinline__ int operator()(int a, int b) const { return a | b; }
};

}  // namespace kutil
}  // namespace pcn
