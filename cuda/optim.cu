// optim.cu — CUDA twins of csrc/cpu/optim.cpp: in-place optimizer updates,
// Keras 3 formulas (ops/optim.h), one thread per element (grid-stride).
// Every operation is written with an explicit round-to-nearest intrinsic in
// the CPU loop's order, so no multiply-add is fused that the CPU does not fuse:
// a CUDA update equals the CPU update bit for bit (sqrt and division are the
// IEEE-rounded ones, nvcc's default without fast-math).
//   param, grad, s1..s3 (n) contiguous float32; grad read-only; s* null when unused.
#include <cuda_runtime.h>

#include <cstdint>

#include "../csrc/ops/optim.h"
#include "check.cuh"
#include "kernel_util.cuh"
#include "stream.cuh"

namespace pcn {
namespace {

using kutil::grid_for;
using kutil::kThreads;

__device__ __forceinline__ float mul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ float add(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ float sub(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ float div(float a, float b) { return __fdiv_rn(a, b); }

// w -= lr*g  |  m = mu*m - lr*g; w += nesterov ? mu*m - lr*g : m
__global__ void sgd_kernel(int64_t n, float lr, float mu, bool nesterov, float* w, const float* g, float* vel) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float gi = g[i];
    if (!vel) {
      w[i] = sub(w[i], mul(gi, lr));
    } else {
      const float m = sub(mul(vel[i], mu), mul(gi, lr));
      vel[i] = m;
      w[i] = nesterov ? add(w[i], sub(mul(m, mu), mul(gi, lr))) : add(w[i], m);
    }
  }
}

// m += (g-m)(1-beta1); v += (g^2-v)(1-beta2); amsgrad: vh = max(vh, v); w -= m*alpha/(sqrt(v') + eps)
__global__ void adam_kernel(int64_t n, float a, float b1, float b2, float eps, float* w, const float* g, float* m,
                            float* v, float* vh) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float gi = g[i];
    const float mi = add(m[i], mul(sub(gi, m[i]), b1));
    const float vi = add(v[i], mul(sub(mul(gi, gi), v[i]), b2));
    m[i] = mi;
    v[i] = vi;
    float den = vi;
    if (vh) {
      const float hi = vh[i] > vi ? vh[i] : vi;
      vh[i] = hi;
      den = hi;
    }
    w[i] = sub(w[i], div(mul(mi, a), add(__fsqrt_rn(den), eps)));
  }
}

// vel = rho*vel + (1-rho)*g^2; centered: avg = rho*avg + (1-rho)*g, den = vel - avg^2 + eps, else vel + eps;
// inc = lr*g/sqrt(den); momentum: mb = mu*mb + inc, w -= mb; else w -= inc
__global__ void rmsprop_kernel(int64_t n, float lr, float rho, float orho, float eps, float mu, float* w,
                               const float* g, float* vel, float* avg, float* mb) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float gi = g[i];
    const float ve = add(mul(rho, vel[i]), mul(orho, mul(gi, gi)));
    vel[i] = ve;
    float den;
    if (avg) {
      const float ag = add(mul(rho, avg[i]), mul(orho, gi));
      avg[i] = ag;
      den = add(sub(ve, mul(ag, ag)), eps);
    } else {
      den = add(ve, eps);
    }
    const float inc = div(mul(lr, gi), __fsqrt_rn(den));
    if (mb) {
      const float mm = add(mul(mu, mb[i]), inc);
      mb[i] = mm;
      w[i] = sub(w[i], mm);
    } else {
      w[i] = sub(w[i], inc);
    }
  }
}

// acc += g^2; w -= lr*g/sqrt(acc + eps)
__global__ void adagrad_kernel(int64_t n, float lr, float eps, float* w, const float* g, float* acc) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float gi = g[i];
    const float a = add(acc[i], mul(gi, gi));
    acc[i] = a;
    w[i] = sub(w[i], div(mul(lr, gi), __fsqrt_rn(add(a, eps))));
  }
}

void optim_update_cuda(const OptimParams& p, float* w, const float* g, float* s1, float* s2, float* s3) {
  if (p.n <= 0) return;
  cudaStream_t s = cuda::activate(cuda::device_of(w));
  const unsigned grid = grid_for(p.n);
  switch (p.kind) {
    case OptimKind::Sgd:
      sgd_kernel<<<grid, kThreads, 0, s>>>(p.n, p.lr, p.momentum, p.nesterov, w, g, s1);
      break;
    case OptimKind::Adam:
      adam_kernel<<<grid, kThreads, 0, s>>>(p.n, p.alpha, 1.f - p.beta1, 1.f - p.beta2, p.eps, w, g, s1, s2, s3);
      break;
    case OptimKind::RmsProp:
      rmsprop_kernel<<<grid, kThreads, 0, s>>>(p.n, p.lr, p.rho, 1.f - p.rho, p.eps, p.momentum, w, g, s1, s2, s3);
      break;
    case OptimKind::Adagrad:
      adagrad_kernel<<<grid, kThreads, 0, s>>>(p.n, p.lr, p.eps, w, g, s1);
      break;
    default: PCN_THROW(RuntimeError, "optimizer_update (cuda): unknown optimizer " << int(p.kind));
  }
  PCN_CUDA_LAUNCH_CHECK();
}

}  // namespace

// Fills the .cuda slot of the optimizer family (called once from register_cuda_kernels()).
void register_optim_cuda() { optim_table.cuda = &optim_update_cuda; }

}  // namespace pcn
