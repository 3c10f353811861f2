// loss.cu — CUDA twins of csrc/cpu/loss.cpp (see ops/loss.h). Same formulas and
// the same accumulation precision as the CPU (double for row sums), rounded the
// same way where it matters (explicit _rn intrinsics: no fused multiply-add the
// CPU loop does not have).
//
//   class loss   x (N,C) one block per row (grid-stride over rows), block size from C;
//                sparse labels (N,) int32/int64 out of [0,C) are reported through
//                p.bad_label (atomicMin of the row: the smallest bad row wins, as the
//                CPU's first-bad-index message) and never used as an index
//   reg loss     pred, target (R,D): forward one thread per row (D <= 32) or one block
//                per row; backward one thread per element
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "../csrc/ops/loss.h"
#include "check.cuh"
#include "kernel_util.cuh"
#include "stream.cuh"

namespace pcn {
namespace {

using namespace kutil;  // grid_for, gtid/gstride, warp/block_reduce, Add/Max/OrOp

inline int row_threads(int64_t n) { return n <= 64 ? 32 : (n <= 512 ? 128 : 256); }

__device__ __forceinline__ float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

// Label of row i, or -1 (and the row reported) when it is out of [0, C). Dense labels: -1.
__device__ __forceinline__ int64_t row_label(const ClassLossParams& p, const void* labels, int64_t i, bool report) {
  if (p.labels == LabelKind::Dense) return -1;
  const int64_t l = p.labels == LabelKind::SparseI32 ? int64_t(static_cast<const int32_t*>(labels)[i])
                                                     : static_cast<const int64_t*>(labels)[i];
  if (l < 0 || l >= p.C) {
    if (report && p.bad_label)
      atomicMin(reinterpret_cast<unsigned long long*>(p.bad_label), static_cast<unsigned long long>(i));
    return -2;
  }
  return l;
}

// x (N,C); labels (N) or (N,C); loss (N); probs (N,C) when !from_probs.
__global__ void class_fwd_kernel(ClassLossParams p, const float* x, const void* labels, float* loss, float* probs) {
  __shared__ float sf[32];
  __shared__ int si[32];
  __shared__ double sd[32];
  const int64_t C = p.C;
  const bool dense = p.labels == LabelKind::Dense;
  const float* t = static_cast<const float*>(labels);
  const float kNaN = __int_as_float(0x7fc00000);
  for (int64_t i = blockIdx.x; i < p.N; i += gridDim.x) {
    const float* xr = x + i * C;
    const int64_t lab = row_label(p, labels, i, threadIdx.x == 0);  // -2: bad sparse label
    if (!p.from_probs) {
      float* pr = probs + i * C;
      float m = -__int_as_float(0x7f800000);
      int nan = 0;
      for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        const float v = xr[c];
        m = fmaxf(m, v);
        nan |= v != v;
      }
      m = block_reduce(m, MaxOp(), sf);
      nan = block_reduce(nan, OrOp(), si);
      if (nan) {
        for (int64_t c = threadIdx.x; c < C; c += blockDim.x) pr[c] = kNaN;
        if (threadIdx.x == 0) loss[i] = kNaN;
        continue;
      }
      double s = 0.0;
      for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        const float e = expf(xr[c] - m);
        pr[c] = e;
        s += e;
      }
      s = block_reduce(s, AddOp(), sd);
      const float inv = float(1.0 / s);
      for (int64_t c = threadIdx.x; c < C; c += blockDim.x) pr[c] *= inv;  // this thread wrote pr[c]
      const double lse = double(m) + ::log(s);
      if (dense) {
        const float* tr = t + i * C;
        double l = 0.0;
        for (int64_t c = threadIdx.x; c < C; c += blockDim.x) l += double(tr[c]) * (lse - double(xr[c]));
        l = block_reduce(l, AddOp(), sd);
        if (threadIdx.x == 0) loss[i] = float(l);
      } else if (threadIdx.x == 0) {
        loss[i] = lab >= 0 ? float(lse - double(xr[lab])) : kNaN;
      }
    } else {
      double s = 0.0;
      for (int64_t c = threadIdx.x; c < C; c += blockDim.x) s += xr[c];
      s = block_reduce(s, AddOp(), sd);
      const float inv = float(1.0 / s);
      const float lo = p.eps, hi = 1.f - p.eps;
      if (dense) {
        const float* tr = t + i * C;
        double l = 0.0;
        for (int64_t c = threadIdx.x; c < C; c += blockDim.x)
          l += double(tr[c]) * ::log(double(clampf(__fmul_rn(xr[c], inv), lo, hi)));
        l = block_reduce(l, AddOp(), sd);
        if (threadIdx.x == 0) loss[i] = float(-l);
      } else if (threadIdx.x == 0) {
        loss[i] = lab >= 0 ? -logf(clampf(__fmul_rn(xr[lab], inv), lo, hi)) : kNaN;
      }
    }
  }
}

// dx (N,C) = gradient of sum_i dloss[i] * loss[i]; x = probs (softmax of the forward) or probabilities.
__global__ void class_bwd_kernel(ClassLossParams p, const float* x, const void* labels, const float* dloss,
                                 float* dx) {
  __shared__ float sf[32];
  __shared__ double sd[32];
  const int64_t C = p.C;
  const bool dense = p.labels == LabelKind::Dense;
  const float* t = static_cast<const float*>(labels);
  for (int64_t i = blockIdx.x; i < p.N; i += gridDim.x) {
    const float* xr = x + i * C;
    float* dr = dx + i * C;
    const float g = dloss[i];
    const int64_t lab = row_label(p, labels, i, threadIdx.x == 0);
    if (!p.from_probs) {
      if (dense) {
        const float* tr = t + i * C;
        float st = 0.f;
        for (int64_t c = threadIdx.x; c < C; c += blockDim.x) st += tr[c];
        st = block_reduce(st, AddOp(), sf);
        for (int64_t c = threadIdx.x; c < C; c += blockDim.x)
          dr[c] = __fmul_rn(g, __fsub_rn(__fmul_rn(xr[c], st), tr[c]));
      } else {
        for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
          const float v = __fmul_rn(g, xr[c]);
          dr[c] = c == lab ? __fsub_rn(v, g) : v;
        }
      }
    } else {
      // q = x/s; gq_c = -t_c/q_c inside (eps, 1-eps), 0 where clipped; dx_k = (gq_k - sum_c gq_c q_c)/s
      double s = 0.0;
      for (int64_t c = threadIdx.x; c < C; c += blockDim.x) s += xr[c];
      s = block_reduce(s, AddOp(), sd);
      const float inv = float(1.0 / s);
      const float lo = p.eps, hi = 1.f - p.eps;
      double dot = 0.0;
      for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        const float q = __fmul_rn(xr[c], inv);
        const float tc = dense ? t[i * C + c] : (c == lab ? 1.f : 0.f);
        const float gq = (q > lo && q < hi) ? -tc / q : 0.f;
        dot += double(gq) * double(q);
      }
      dot = block_reduce(dot, AddOp(), sd);
      const float d = float(dot);
      for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        const float q = __fmul_rn(xr[c], inv);
        const float tc = dense ? t[i * C + c] : (c == lab ? 1.f : 0.f);
        const float gq = (q > lo && q < hi) ? -tc / q : 0.f;
        dr[c] = __fmul_rn(__fmul_rn(g, __fsub_rn(gq, d)), inv);
      }
    }
  }
}

void class_loss_forward_cuda(const ClassLossParams& p, const float* x, const void* labels, float* loss,
                             float* probs) {
  if (p.N <= 0 || p.C <= 0) return;
  cudaStream_t s = cuda::activate(cuda::device_of(loss));
  class_fwd_kernel<<<grid_for(p.N, 1), row_threads(p.C), 0, s>>>(p, x, labels, loss, probs);
  PCN_CUDA_LAUNCH_CHECK();
}

void class_loss_backward_cuda(const ClassLossParams& p, const float* x, const void* labels, const float* dloss,
                              float* dx) {
  if (p.N <= 0 || p.C <= 0) return;
  cudaStream_t s = cuda::activate(cuda::device_of(dx));
  class_bwd_kernel<<<grid_for(p.N, 1), row_threads(p.C), 0, s>>>(p, x, labels, dloss, dx);
  PCN_CUDA_LAUNCH_CHECK();
}

// ---------------------------------------------------------------- regression-style losses
template <int K>
__device__ __forceinline__ float reg_elem(const RegLossParams& p, float y, float t) {
  constexpr RegLoss k = RegLoss(K);
  if constexpr (k == RegLoss::Mse) {
    const float e = y - t;
    return e * e;
  } else if constexpr (k == RegLoss::Mae) {
    return fabsf(y - t);
  } else if constexpr (k == RegLoss::Huber) {
    const float e = fabsf(y - t);
    return e <= p.delta ? 0.5f * e * e : __fsub_rn(__fmul_rn(p.delta, e), __fmul_rn(0.5f * p.delta, p.delta));
  } else if constexpr (k == RegLoss::BceLogits) {  // max(z,0) - z*t + log1p(exp(-|z|))
    return __fadd_rn(__fsub_rn(fmaxf(y, 0.f), __fmul_rn(y, t)), log1pf(expf(-fabsf(y))));
  } else {
    const float q = y < p.eps ? p.eps : (y > 1.f - p.eps ? 1.f - p.eps : y);
    return -__fadd_rn(__fmul_rn(t, logf(q)), __fmul_rn(1.f - t, logf(1.f - q)));
  }
}
template <int K>
__device__ __forceinline__ float reg_grad(const RegLossParams& p, float y, float t) {
  constexpr RegLoss k = RegLoss(K);
  if constexpr (k == RegLoss::Mse) {
    return 2.f * (y - t);
  } else if constexpr (k == RegLoss::Mae) {
    const float e = y - t;
    return e > 0.f ? 1.f : (e < 0.f ? -1.f : 0.f);
  } else if constexpr (k == RegLoss::Huber) {
    const float e = y - t;
    return fabsf(e) <= p.delta ? e : (e > 0.f ? p.delta : -p.delta);
  } else if constexpr (k == RegLoss::BceLogits) {
    const float s = y >= 0.f ? 1.f / (1.f + expf(-y)) : expf(y) / (1.f + expf(y));
    return s - t;
  } else {
    if (!(y > p.eps && y < 1.f - p.eps)) return 0.f;
    return __fadd_rn(-t / y, (1.f - t) / (1.f - y));
  }
}

// pred, target (R,D) -> loss (R): one thread per row, serial double sum (the CPU's order).
template <int K>
__global__ void reg_fwd_thread_kernel(RegLossParams p, double inv, const float* pred, const float* target,
                                      float* loss) {
  for (int64_t i = gtid(); i < p.R; i += gstride()) {
    double s = 0.0;
    for (int64_t j = 0; j < p.D; ++j) s += reg_elem<K>(p, pred[i * p.D + j], target[i * p.D + j]);
    loss[i] = float(s * inv);
  }
}
// The same with one block per row (long rows).
template <int K>
__global__ void reg_fwd_block_kernel(RegLossParams p, double inv, const float* pred, const float* target,
                                     float* loss) {
  __shared__ double sd[32];
  for (int64_t i = blockIdx.x; i < p.R; i += gridDim.x) {
    double s = 0.0;
    for (int64_t j = threadIdx.x; j < p.D; j += blockDim.x) s += reg_elem<K>(p, pred[i * p.D + j], target[i * p.D + j]);
    s = block_reduce(s, AddOp(), sd);
    if (threadIdx.x == 0) loss[i] = float(s * inv);
  }
}
// dpred (R,D) = dloss[i] / D * d elem / d pred
template <int K>
__global__ void reg_bwd_kernel(RegLossParams p, const float* pred, const float* target, const float* dloss,
                               float* dpred) {
  const int64_t n = p.R * p.D;
  const float fd = float(p.D);
  for (int64_t e = gtid(); e < n; e += gstride()) {
    const int64_t i = e / p.D;
    const float g = dloss[i] / fd;
    dpred[e] = __fmul_rn(g, reg_grad<K>(p, pred[e], target[e]));
  }
}

template <int K>
void launch_reg_fwd(const RegLossParams& p, const float* pred, const float* target, float* loss, cudaStream_t s) {
  const double inv = p.D ? 1.0 / double(p.D) : std::nan("");
  if (p.D <= 32) reg_fwd_thread_kernel<K><<<grid_for(p.R), kThreads, 0, s>>>(p, inv, pred, target, loss);
  else reg_fwd_block_kernel<K><<<grid_for(p.R, 1), row_threads(p.D), 0, s>>>(p, inv, pred, target, loss);
  PCN_CUDA_LAUNCH_CHECK();
}

void reg_loss_forward_cuda(const RegLossParams& p, const float* pred, const float* target, float* loss) {
  if (p.R <= 0) return;
  cudaStream_t s = cuda::activate(cuda::device_of(loss));
  switch (p.kind) {
    case RegLoss::Mse: launch_reg_fwd<int(RegLoss::Mse)>(p, pred, target, loss, s); break;
    case RegLoss::Mae: launch_reg_fwd<int(RegLoss::Mae)>(p, pred, target, loss, s); break;
    case RegLoss::Huber: launch_reg_fwd<int(RegLoss::Huber)>(p, pred, target, loss, s); break;
    case RegLoss::BceLogits: launch_reg_fwd<int(RegLoss::BceLogits)>(p, pred, target, loss, s); break;
    case RegLoss::BceProbs: launch_reg_fwd<int(RegLoss::BceProbs)>(p, pred, target, loss, s); break;
    default: PCN_THROW(RuntimeError, "reg_loss_forward (cuda): unknown loss " << int(p.kind));
  }
}

void reg_loss_backward_cuda(const RegLossParams& p, const float* pred, const float* target, const float* dloss,
                            float* dpred) {
  const int64_t n = p.R * p.D;
  if (n <= 0) return;
  cudaStream_t s = cuda::activate(cuda::device_of(dpred));
  const unsigned g = grid_for(n);
  switch (p.kind) {
    case RegLoss::Mse: reg_bwd_kernel<int(RegLoss::Mse)><<<g, kThreads, 0, s>>>(p, pred, target, dloss, dpred); break;
    case RegLoss::Mae: reg_bwd_kernel<int(RegLoss::Mae)><<<g, kThreads, 0, s>>>(p, pred, target, dloss, dpred); break;
    case RegLoss::Huber:
      reg_bwd_kernel<int(RegLoss::Huber)><<<g, kThreads, 0, s>>>(p, pred, target, dloss, dpred);
      break;
    case RegLoss::BceLogits:
      reg_bwd_kernel<int(RegLoss::BceLogits)><<<g, kThreads, 0, s>>>(p, pred, target, dloss, dpred);
      break;
    case RegLoss::BceProbs:
      reg_bwd_kernel<int(RegLoss::BceProbs)><<<g, kThreads, 0, s>>>(p, pred, target, dloss, dpred);
      break;
    default: PCN_THROW(RuntimeError, "reg_loss_backward (cuda): unknown loss " << int(p.kind));
  }
  PCN_CUDA_LAUNCH_CHECK();
}

}  // namespace

// Fills the .cuda slots of the loss family (called once from register_cuda_kernels()).
void register_loss_cuda() {
  class_loss_forward_table.cuda = &class_loss_forward_cuda;
  class_loss_backward_table.cuda = &class_loss_backward_cuda;
  reg_loss_forward_table.cuda = &reg_loss_forward_cuda;
  reg_loss_backward_table.cuda = &reg_loss_backward_cuda;
}

}  // namespace pcn
