// norm.cu — CUDA twins of the batch-norm and LRN kernels (csrc/cpu/norm.cpp,
// csrc/cpu/isa/norm.cpp). x viewed as (M, C) row-major, C contiguous.
//
// Batch norm: one block per 32-channel slice; threadIdx.x = channel (loads
// coalesced along C), threadIdx.y strides over the M rows. Per-channel sums in
// double, reduced through shared memory in a fixed order (deterministic).
// Variance two-pass (sum (x - mean)^2 with the double mean), biased (/M), as
// the CPU. The normalization itself is evaluated in double, as the CPU.
// LRN: one thread per element; window sums in double in the CPU's order.
#include <cuda_runtime.h>

#include "../csrc/ops/norm.h"
#include "check.cuh"
#include "register_families.h"
#include "scratch.cuh"
#include "stream.cuh"

namespace pcn {
namespace {

constexpr int BX = 32, BY = 16;  // batch-norm block: 32 channels x 16 row strides
constexpr int kThreads = 256;

// Column reduction of red[BY][BX] into row 0 (fixed order); every thread calls it.
__device__ __forceinline__ double reduce_rows(double (*red)[BX], double v) {
  red[threadIdx.y][threadIdx.x] = v;
  __syncthreads();
  double t = 0.0;
  for (int k = 0; k < BY; ++k) t += red[k][threadIdx.x];
  __syncthreads();  // red is reused by the next reduction
  return t;
}

// x, y (M,C); gamma/beta (C) or null; mean/var (C) out. M >= 1.
__global__ void bn_train_kernel(BatchNormParams p, const float* __restrict__ x, const float* __restrict__ gamma,
                                const float* __restrict__ beta, float* __restrict__ y, float* __restrict__ mean,
                                float* __restrict__ var) {
  __shared__ double red[BY][BX];
  const int64_t M = p.M, C = p.C;
  const int64_t c = blockIdx.x * int64_t(BX) + threadIdx.x;
  const bool ok = c < C;
  double s = 0.0;
  if (ok)
    for (int64_t r = threadIdx.y; r < M; r += BY) s += double(x[r * C + c]);
  const double mu = reduce_rows(red, s) / double(M);
  double q = 0.0;
  if (ok)
    for (int64_t r = threadIdx.y; r < M; r += BY) {
      const double d = double(x[r * C + c]) - mu;
      q += d * d;
    }
  const double v = reduce_rows(red, q) / double(M);
  if (!ok) return;  // no barrier below
  const double sc = (gamma ? double(gamma[c]) : 1.0) / sqrt(v + double(p.eps));
  const double sh = beta ? double(beta[c]) : 0.0;
  if (threadIdx.y == 0) {
    mean[c] = float(mu);
    var[c] = float(v);
  }
  for (int64_t r = threadIdx.y; r < M; r += BY) y[r * C + c] = float((double(x[r * C + c]) - mu) * sc + sh);
}

// y = (x - mean) * gamma / sqrt(var + eps) + beta, elementwise (M*C).
__global__ void bn_infer_kernel(BatchNormParams p, const float* __restrict__ x, const float* __restrict__ gamma,
                                const float* __restrict__ beta, const float* __restrict__ mean,
                                const float* __restrict__ var, float* __restrict__ y, int64_t total) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = i % p.C;
    const double sc = (gamma ? double(gamma[c]) : 1.0) / sqrt(double(var[c]) + double(p.eps));
    const double sh = beta ? double(beta[c]) : 0.0;
    y[i] = float((double(x[i]) - double(mean[c])) * sc + sh);
  }
}

// Training-mode backward (see csrc/cpu/isa/norm.cpp):
//   dbeta = sum dy, dgamma = sum dy * xhat,
//   dx = gamma*istd*(dy - dbeta/M - xhat*dgamma/M).
__global__ void bn_bwd_kernel(BatchNormParams p, const float* __restrict__ dy, const float* __restrict__ x,
                              const float* __restrict__ gamma, const float* __restrict__ mean,
                              const float* __restrict__ var, float* __restrict__ dx, float* __restrict__ dgamma,
                              float* __restrict__ dbeta) {
  __shared__ double red[BY][BX];
  const int64_t M = p.M, C = p.C;
  const int64_t c = blockIdx.x * int64_t(BX) + threadIdx.x;
  const bool ok = c < C;
  const double mu = ok ? double(mean[c]) : 0.0;
  double s1 = 0.0, s2 = 0.0;
  if (ok)
    for (int64_t r = threadIdx.y; r < M; r += BY) {
      const double g = double(dy[r * C + c]);
      s1 += g;
      s2 += g * (double(x[r * C + c]) - mu);
    }
  s1 = reduce_rows(red, s1);
  s2 = reduce_rows(red, s2);
  if (!ok) return;  // no barrier below
  const double istd = 1.0 / sqrt(double(var[c]) + double(p.eps));
  const double g = gamma ? double(gamma[c]) : 1.0;
  const double a = g * istd;
  const double b = -a * s1 / double(M);
  const double k = -a * istd * istd * s2 / double(M);
  if (threadIdx.y == 0) {
    dbeta[c] = float(s1);
    dgamma[c] = float(s2 * istd);
  }
  for (int64_t r = threadIdx.y; r < M; r += BY)
    dx[r * C + c] = float(a * double(dy[r * C + c]) + k * (double(x[r * C + c]) - mu) + b);
}

// running (C) in place: r = r*momentum + batch*(1-momentum).
__global__ void bn_running_kernel(int64_t C, float m, float k, float* __restrict__ rm, float* __restrict__ rv,
                                  const float* __restrict__ mean, const float* __restrict__ var) {
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < C; c += int64_t(gridDim.x) * blockDim.x) {
    rm[c] = rm[c] * m + mean[c] * k;
    rv[c] = rv[c] * m + var[c] * k;
  }
}

// ---------------------------------------------------------------- LRN
// base^(-beta), the common exponents without pow() (as the CPU).
__device__ __forceinline__ double pow_neg(double base, double beta) {
  if (beta == 0.5) return 1.0 / sqrt(base);
  if (beta == 0.75) {
    const double s = sqrt(base);
    return 1.0 / (s * sqrt(s));
  }
  if (beta == 1.0) return 1.0 / base;
  return pow(base, -beta);
}

// sum_{|j-d| <= r, 0 <= j < C} f(j), in the CPU's order: f(d), then for
// k = 1..r: f(d-k), f(d+k).
template <class F>
__device__ __forceinline__ double window_sum(int64_t C, int64_t r, int64_t d, F f) {
  if (r > C - 1) r = C - 1;
  double s = f(d);
  for (int64_t k = 1; k <= r; ++k) {
    if (d - k >= 0) s += f(d - k);
    if (d + k < C) s += f(d + k);
  }
  return s;
}

// x, y (M,C): y = x * (bias + alpha * window_sum(x^2))^(-beta).
__global__ void lrn_fwd_kernel(LrnParams p, const float* __restrict__ x, float* __restrict__ y, int64_t total) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t d = i % p.C;
    const float* xr = x + (i - d);
    const double s = window_sum(p.C, p.radius, d, [&](int64_t j) {
      const double v = double(xr[j]);
      return v * v;
    });
    y[i] = float(double(x[i]) * pow_neg(double(p.bias) + double(p.alpha) * s, double(p.beta)));
  }
}

// Backward pass 1: per element d, f = N_d^(-beta) and t = dy*x*f/N_d (double),
// N_d = bias + alpha*sqr_sum_d. ft (M*C, 2) interleaved [f, t].
__global__ void lrn_bwd1_kernel(LrnParams p, const float* __restrict__ dy, const float* __restrict__ x,
                                double* __restrict__ ft, int64_t total) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t d = i % p.C;
    const float* xr = x + (i - d);
    const double s = window_sum(p.C, p.radius, d, [&](int64_t j) {
      const double v = double(xr[j]);
      return v * v;
    });
    const double n = double(p.bias) + double(p.alpha) * s;
    const double f = pow_neg(n, double(p.beta));
    ft[2 * i] = f;
    ft[2 * i + 1] = double(dy[i]) * double(x[i]) * f / n;
  }
}

// Pass 2: dx_j = dy_j*f_j - 2*alpha*beta * x_j * sum_{|d-j|<=r} t_d.
__global__ void lrn_bwd2_kernel(LrnParams p, const float* __restrict__ dy, const float* __restrict__ x,
                                const double* __restrict__ ft, float* __restrict__ dx, int64_t total) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t d = i % p.C;
    const double* tr = ft + 2 * (i - d) + 1;
    const double ts = window_sum(p.C, p.radius, d, [&](int64_t j) { return tr[2 * j]; });
    dx[i] = float(double(dy[i]) * ft[2 * i] - 2.0 * double(p.alpha) * double(p.beta) * double(x[i]) * ts);
  }
}

// ---------------------------------------------------------------- launchers (shapes as ops/norm.h)
unsigned channel_blocks(int64_t C) { return unsigned((C + BX - 1) / BX); }

void bn_forward_train_cuda(const BatchNormParams& p, const float* x, const float* gamma, const float* beta, float* y,
                           float* mean, float* var) {
  if (p.C <= 0 || p.M <= 0) return;  // the front guarantees M >= 1
  bn_train_kernel<<<channel_blocks(p.C), dim3(BX, BY), 0, cuda::stream()>>>(p, x, gamma, beta, y, mean, var);
  PCN_CUDA_LAUNCH_CHECK();
}

void bn_forward_infer_cuda(const BatchNormParams& p, const float* x, const float* gamma, const float* beta,
                           const float* mean, const float* var, float* y) {
  const int64_t total = p.M * p.C;
  if (total <= 0) return;
  bn_infer_kernel<<<cuda::grid_for(total, kThreads), kThreads, 0, cuda::stream()>>>(p, x, gamma, beta, mean, var, y,
                                                                                    total);
  PCN_CUDA_LAUNCH_CHECK();
}

void bn_backward_cuda(const BatchNormParams& p, const float* dy, const float* x, const float* gamma,
                      const float* mean, const float* var, float* dx, float* dgamma, float* dbeta) {
  if (p.C <= 0 || p.M <= 0) return;
  bn_bwd_kernel<<<channel_blocks(p.C), dim3(BX, BY), 0, cuda::stream()>>>(p, dy, x, gamma, mean, var, dx, dgamma,
                                                                          dbeta);
  PCN_CUDA_LAUNCH_CHECK();
}

void bn_update_running_cuda(const BatchNormParams& p, float* rm, float* rv, const float* mean, const float* var) {
  if (p.C <= 0) return;
  bn_running_kernel<<<cuda::grid_for(p.C, kThreads), kThreads, 0, cuda::stream()>>>(p.C, p.momentum,
                                                                                    1.f - p.momentum, rm, rv, mean, var);
  PCN_CUDA_LAUNCH_CHECK();
}

void lrn_forward_cuda(const LrnParams& p, const float* x, float* y) {
  const int64_t total = p.M * p.C;
  if (total <= 0) return;
  lrn_fwd_kernel<<<cuda::grid_for(total, kThreads), kThreads, 0, cuda::stream()>>>(p, x, y, total);
  PCN_CUDA_LAUNCH_CHECK();
}

void lrn_backward_cuda(const LrnParams& p, const float* dy, const float* x, float* dx) {
  const int64_t total = p.M * p.C;
  if (total <= 0) return;
  cuda::DeviceScratch ft(size_t(total) * 2 * sizeof(double));
  lrn_bwd1_kernel<<<cuda::grid_for(total, kThreads), kThreads, 0, cuda::stream()>>>(p, dy, x, ft.as<double>(), total);
  PCN_CUDA_LAUNCH_CHECK();
  lrn_bwd2_kernel<<<cuda::grid_for(total, kThreads), kThreads, 0, cuda::stream()>>>(p, dy, x, ft.as<double>(), dx,
                                                                                    total);
  PCN_CUDA_LAUNCH_CHECK();
}

}  // namespace

void register_norm_cuda() {
  batch_norm_forward_train_table.cuda = bn_forward_train_cuda;
  batch_norm_forward_infer_table.cuda = bn_forward_infer_cuda;
  batch_norm_backward_table.cuda = bn_backward_cuda;
  batch_norm_update_running_table.cuda = bn_update_running_cuda;
  lrn_forward_table.cuda = lrn_forward_cuda;
  lrn_backward_table.cuda = lrn_backward_cuda;
}

}  // namespace pcn
