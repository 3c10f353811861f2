// pool2d.cu — CUDA twins of the pooling kernels (csrc/cpu/isa/pool2d.cpp):
// max/avg 2-D pooling with spatial and depth windows, forward and backward,
// and global max/avg pooling. Same Params, same semantics, same float
// operation order as the CPU kernels where it matters:
//  - window of output (oh, ow, oc): rows [oh*sh - pad_top, +kh), cols
//    [ow*sw - pad_left, +kw), channels [oc*sc, oc*sc + kc); depth never padded;
//  - max ignores padding; a NaN in the window gives NaN; avg divides by the
//    count of non-padding elements; an all-padding window outputs 0 and passes
//    no gradient;
//  - max backward routes dy to the FIRST maximum in (kh, kw, kc) order, a NaN
//    counting as larger than everything (the first NaN wins);
//  - overlapping windows accumulate (summed in (oh, ow, oc) order, as the CPU).
// Backward is a gather (one thread per input element walks the output windows
// that cover it): deterministic, no atomics, no races.
#include <cuda_runtime.h>

#include "../csrc/ops/pool2d.h"
#include "check.cuh"
#include "register.cuh"
#include "scratch.cuh"
#include "stream.cuh"

namespace pcn {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float max_step(float v, float a) { return (v > a || v != v) ? v : a; }
__device__ __forceinline__ bool arg_take(float v, float best) { return v > best || (v != v && best == best); }
__device__ __forceinline__ int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }
__device__ __forceinline__ int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }

struct Win {
  int64_t h0, h1, w0, w1;
};
__device__ __forceinline__ Win window(const Pool2dParams& p, int64_t oh, int64_t ow) {
  const int64_t hs = oh * p.sh - p.pad_top, ws = ow * p.sw - p.pad_left;
  return Win{imax(hs, 0), imin(hs + p.kh, p.H), imax(ws, 0), imin(ws + p.kw, p.W)};
}

// ceil(a / b) for b > 0 and any sign of a, clamped below at 0.
__device__ __forceinline__ int64_t first_cover(int64_t a, int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; }

// ---------------------------------------------------------------- forward
// x (N,H,W,C), y (N,OH,OW,OC); one thread per y element, oc fastest (coalesced).
__global__ void pool_fwd_kernel(Pool2dParams p, const float* __restrict__ x, float* __restrict__ y, int64_t total) {
  const bool is_max = p.mode == PoolMode::Max;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t oc = i % p.OC;
    int64_t r = i / p.OC;
    const int64_t ow = r % p.OW;
    r /= p.OW;
    const int64_t oh = r % p.OH;
    const int64_t n = r / p.OH;
    const Win w = window(p, oh, ow);
    if (w.h0 >= w.h1 || w.w0 >= w.w1) {
      y[i] = 0.f;
      continue;
    }
    const float* xn = x + n * p.H * p.W * p.C + oc * p.sc;
    const int64_t cnt = (w.h1 - w.h0) * (w.w1 - w.w0);
    if (p.kc == 1) {
      float acc = xn[(w.h0 * p.W + w.w0) * p.C];
      for (int64_t ih = w.h0; ih < w.h1; ++ih)
        for (int64_t iw = (ih == w.h0 ? w.w0 + 1 : w.w0); iw < w.w1; ++iw) {
          const float v = xn[(ih * p.W + iw) * p.C];
          acc = is_max ? max_step(v, acc) : acc + v;
        }
      y[i] = is_max ? acc : acc * (1.f / float(cnt));
    } else {
      float acc = is_max ? xn[(w.h0 * p.W + w.w0) * p.C] : 0.f;
      for (int64_t ih = w.h0; ih < w.h1; ++ih)
        for (int64_t iw = w.w0; iw < w.w1; ++iw) {
          const float* xp = xn + (ih * p.W + iw) * p.C;
          for (int64_t j = 0; j < p.kc; ++j) acc = is_max ? max_step(xp[j], acc) : acc + xp[j];
        }
      y[i] = is_max ? acc : acc / float(cnt * p.kc);
    }
  }
}

// ---------------------------------------------------------------- backward
// Max, pass 1: for every output, the offset (within image n, i.e. into
// x + n*H*W*C) of the first maximum of its window, or -1 for an all-padding
// window. arg (N,OH,OW,OC) of Idx: int32 when H*W*C < 2^31, else int64.
template <class Idx>
__global__ void pool_argmax_kernel(Pool2dParams p, const float* __restrict__ x, Idx* __restrict__ arg,
                                   int64_t total) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t oc = i % p.OC;
    int64_t r = i / p.OC;
    const int64_t ow = r % p.OW;
    r /= p.OW;
    const int64_t oh = r % p.OH;
    const int64_t n = r / p.OH;
    const Win w = window(p, oh, ow);
    if (w.h0 >= w.h1 || w.w0 >= w.w1) {
      arg[i] = -1;
      continue;
    }
    const float* xn = x + n * p.H * p.W * p.C;
    const int64_t c0 = oc * p.sc;
    int64_t at = (w.h0 * p.W + w.w0) * p.C + c0;
    float best = xn[at];
    for (int64_t ih = w.h0; ih < w.h1; ++ih)
      for (int64_t iw = w.w0; iw < w.w1; ++iw) {
        const int64_t off = (ih * p.W + iw) * p.C + c0;
        for (int64_t j = 0; j < p.kc; ++j) {
          const float v = xn[off + j];
          if (arg_take(v, best)) {
            best = v;
            at = off + j;
          }
        }
      }
    arg[i] = Idx(at);
  }
}

// Pass 2 (max: with arg; avg: arg == nullptr): one thread per dx element
// (n, ih, iw, c), c fastest; sums the contributions of every output window
// covering it in (oh, ow, oc) order. Every dx element is written.
template <class Idx>
__global__ void pool_bwd_gather_kernel(Pool2dParams p, const float* __restrict__ dy, const Idx* __restrict__ arg,
                                       float* __restrict__ dx, int64_t total) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = i % p.C;
    int64_t r = i / p.C;
    const int64_t iw = r % p.W;
    r /= p.W;
    const int64_t ih = r % p.H;
    const int64_t n = r / p.H;
    const int64_t self = (ih * p.W + iw) * p.C + c;  // offset inside image n
    // Outputs whose window covers (ih, iw, c).
    const int64_t oh0 = first_cover(ih + p.pad_top - p.kh + 1, p.sh);
    const int64_t oh1 = imin((ih + p.pad_top) / p.sh, p.OH - 1);
    const int64_t ow0 = first_cover(iw + p.pad_left - p.kw + 1, p.sw);
    const int64_t ow1 = imin((iw + p.pad_left) / p.sw, p.OW - 1);
    const int64_t oc0 = first_cover(c - p.kc + 1, p.sc);
    const int64_t oc1 = imin(c / p.sc, p.OC - 1);
    const float* dyn = dy + n * p.OH * p.OW * p.OC;
    float acc = 0.f;
    if (arg) {
      const Idx* an = arg + n * p.OH * p.OW * p.OC;
      for (int64_t oh = oh0; oh <= oh1; ++oh)
        for (int64_t ow = ow0; ow <= ow1; ++ow)
          for (int64_t oc = oc0; oc <= oc1; ++oc) {
            const int64_t o = (oh * p.OW + ow) * p.OC + oc;
            if (int64_t(an[o]) == self) acc += dyn[o];
          }
    } else {
      for (int64_t oh = oh0; oh <= oh1; ++oh)
        for (int64_t ow = ow0; ow <= ow1; ++ow) {
          const Win w = window(p, oh, ow);  // non-empty: it covers (ih, iw)
          const float inv = 1.f / float((w.h1 - w.h0) * (w.w1 - w.w0) * p.kc);
          for (int64_t oc = oc0; oc <= oc1; ++oc) acc += dyn[(oh * p.OW + ow) * p.OC + oc] * inv;
        }
    }
    dx[i] = acc;
  }
}

// ---------------------------------------------------------------- global pooling
// Block (32, GY): threadIdx.x = channel inside a 32-channel slice (coalesced
// loads along C), threadIdx.y strides over the HW rows; grid (C slices, N).
constexpr int GX = 32, GY = 16;

// (value, index) of the first maximum: combine two partial results of
// disjoint index sets so that the result equals the sequential arg_take scan
// (first NaN if any, else the first element equal to the maximum).
__device__ __forceinline__ void argmax_combine(float& bv, int64_t& bi, float v, int64_t i) {
  const bool bn = bv != bv, vn = v != v;
  bool take;
  if (bn || vn) take = (vn && !bn) || (vn && bn && i < bi);
  else take = v > bv || (v == bv && i < bi);
  if (take) {
    bv = v;
    bi = i;
  }
}

// x (N,HW,C) -> y (N,C). avg sums in double. grid.y strides over n.
__global__ void global_pool_fwd_kernel(GlobalPoolParams p, const float* __restrict__ x, float* __restrict__ y) {
  __shared__ double sd[GY][GX];
  __shared__ float sf[GY][GX];
  const int64_t c = blockIdx.x * int64_t(GX) + threadIdx.x;
  const bool ok = c < p.C;
  const bool is_max = p.mode == PoolMode::Max;
  for (int64_t n = blockIdx.y; n < p.N; n += gridDim.y) {  // uniform across the block
    const float* xn = x + n * p.HW * p.C + c;
    double s = 0.0;
    float m = 0.f;
    if (ok) {
      for (int64_t i = threadIdx.y; i < p.HW; i += GY) {
        const float v = xn[i * p.C];
        if (is_max) m = i == threadIdx.y ? v : max_step(v, m);
        else s += double(v);
      }
    }
    sd[threadIdx.y][threadIdx.x] = s;
    sf[threadIdx.y][threadIdx.x] = m;
    __syncthreads();
    if (threadIdx.y == 0 && ok) {
      if (is_max) {
        float b = sf[0][threadIdx.x];  // row 0 always saw i = 0 (HW >= 1)
        for (int k = 1; k < GY && k < p.HW; ++k) b = max_step(sf[k][threadIdx.x], b);
        y[n * p.C + c] = b;
      } else {
        double t = 0.0;
        for (int k = 0; k < GY; ++k) t += sd[k][threadIdx.x];
        y[n * p.C + c] = float(t / double(p.HW));
      }
    }
    __syncthreads();  // shared rows are rewritten by the next n
  }
}

// dy (N,C), x (N,HW,C) -> dx (N,HW,C): max only (avg is elementwise below).
// grid.y strides over n.
__global__ void global_max_bwd_kernel(GlobalPoolParams p, const float* __restrict__ dy, const float* __restrict__ x,
                                      float* __restrict__ dx) {
  __shared__ float sv[GY][GX];
  __shared__ int64_t si[GY][GX];
  const int64_t c = blockIdx.x * int64_t(GX) + threadIdx.x;
  const bool ok = c < p.C;
  for (int64_t n = blockIdx.y; n < p.N; n += gridDim.y) {  // uniform across the block
    const float* xn = x + n * p.HW * p.C + c;
    float bv = 0.f;
    int64_t bi = -1;
    if (ok) {
      for (int64_t i = threadIdx.y; i < p.HW; i += GY) {
        const float v = xn[i * p.C];
        if (bi < 0) {
          bv = v;
          bi = i;
        } else {
          argmax_combine(bv, bi, v, i);
        }
      }
    }
    sv[threadIdx.y][threadIdx.x] = bv;
    si[threadIdx.y][threadIdx.x] = bi;
    __syncthreads();
    if (threadIdx.y == 0 && ok) {
      for (int k = 1; k < GY; ++k)
        if (si[k][threadIdx.x] >= 0) argmax_combine(bv, bi, sv[k][threadIdx.x], si[k][threadIdx.x]);
      si[0][threadIdx.x] = bi;
    }
    __syncthreads();
    if (ok) {
      const int64_t at = si[0][threadIdx.x];
      const float g = dy[n * p.C + c];
      float* dxn = dx + n * p.HW * p.C + c;
      for (int64_t i = threadIdx.y; i < p.HW; i += GY) dxn[i * p.C] = i == at ? g : 0.f;
    }
    __syncthreads();  // si[0] is read above before the next n rewrites it
  }
}

__global__ void global_avg_bwd_kernel(GlobalPoolParams p, const float* __restrict__ dy, float inv,
                                      float* __restrict__ dx, int64_t total) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = i % p.C, n = i / (p.HW * p.C);
    dx[i] = dy[n * p.C + c] * inv;
  }
}

// ---------------------------------------------------------------- launchers
// Shapes as in ops/pool2d.h; the front never calls with an empty output.
void pool2d_forward_cuda(const Pool2dParams& p, const float* x, float* y) {
  const int64_t total = p.N * p.OH * p.OW * p.OC;
  if (total <= 0) return;
  pool_fwd_kernel<<<cuda::grid_for(total, kThreads), kThreads, 0, cuda::stream()>>>(p, x, y, total);
  PCN_CUDA_LAUNCH_CHECK();
}

template <class Idx>
void pool2d_max_backward(const Pool2dParams& p, const float* dy, const float* x, float* dx, int64_t nx, int64_t ny) {
  cuda::DeviceScratch arg(size_t(ny) * sizeof(Idx));
  pool_argmax_kernel<Idx><<<cuda::grid_for(ny, kThreads), kThreads, 0, cuda::stream()>>>(p, x, arg.as<Idx>(), ny);
  PCN_CUDA_LAUNCH_CHECK();
  pool_bwd_gather_kernel<Idx><<<cuda::grid_for(nx, kThreads), kThreads, 0, cuda::stream()>>>(p, dy, arg.as<Idx>(),
                                                                                             dx, nx);
  PCN_CUDA_LAUNCH_CHECK();
}

void pool2d_backward_cuda(const Pool2dParams& p, const float* dy, const float* x, float* dx) {
  const int64_t nx = p.N * p.H * p.W * p.C, ny = p.N * p.OH * p.OW * p.OC;
  if (nx <= 0) return;
  if (p.mode == PoolMode::Max && ny > 0) {
    if (p.H * p.W * p.C < (int64_t(1) << 31))
      pool2d_max_backward<int32_t>(p, dy, x, dx, nx, ny);
    else
      pool2d_max_backward<int64_t>(p, dy, x, dx, nx, ny);
  } else {
    // avg (or no outputs at all: every window range is empty, dx = 0)
    pool_bwd_gather_kernel<int32_t><<<cuda::grid_for(nx, kThreads), kThreads, 0, cuda::stream()>>>(p, dy, nullptr,
                                                                                                 dx, nx);
    PCN_CUDA_LAUNCH_CHECK();
  }
}

void global_pool_forward_cuda(const GlobalPoolParams& p, const float* x, float* y) {
  if (p.N <= 0 || p.C <= 0) return;
  const dim3 grid(unsigned((p.C + GX - 1) / GX), unsigned(p.N < 65535 ? p.N : 65535)), block(GX, GY);
  global_pool_fwd_kernel<<<grid, block, 0, cuda::stream()>>>(p, x, y);
  PCN_CUDA_LAUNCH_CHECK();
}

void global_pool_backward_cuda(const GlobalPoolParams& p, const float* dy, const float* x, float* dx) {
  if (p.N <= 0 || p.C <= 0 || p.HW <= 0) return;
  if (p.mode == PoolMode::Avg) {
    const int64_t total = p.N * p.HW * p.C;
    const float inv = float(1.0 / double(p.HW));
    global_avg_bwd_kernel<<<cuda::grid_for(total, kThreads), kThreads, 0, cuda::stream()>>>(p, dy, inv, dx, total);
    PCN_CUDA_LAUNCH_CHECK();
    return;
  }
  const dim3 grid(unsigned((p.C + GX - 1) / GX), unsigned(p.N < 65535 ? p.N : 65535)), block(GX, GY);
  global_max_bwd_kernel<<<grid, block, 0, cuda::stream()>>>(p, dy, x, dx);
  PCN_CUDA_LAUNCH_CHECK();
}

}  // namespace

void register_pool2d_cuda() {
  pool2d_forward_table.cuda = pool2d_forward_cuda;
  pool2d_backward_table.cuda = pool2d_backward_cuda;
  global_pool_forward_table.cuda = global_pool_forward_cuda;
  global_pool_backward_table.cuda = global_pool_backward_cuda;
}

}  // namespace pcn
