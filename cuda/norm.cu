// norm.cu — CUDA twins of the batch-norm and LRN kernels (csrc/cpu/norm.cpp,
// csrc/cpu/isa/norm.cpp). x viewed as (M, C) row-major, C contiguous.
//
// Batch norm: per-channel sums in double, two levels, in a fixed order
// (deterministic): grid (32-channel slices, row chunks), block 32x16 with
// threadIdx.x = channel (loads coalesced along C) and threadIdx.y striding the
// chunk's rows, reduced through shared memory into one partial per (chunk,
// channel); then one thread per channel adds the partials in chunk order.
// Variance two-pass (sum (x - mean)^2 with the double mean), biased (/M), as
// the CPU. The normalization itself is evaluated in double, as the CPU.
// LRN: one thread per element; window sums in double in the CPU's order.
#include <cuda_runtime.h>

#include "../csrc/ops/norm.h"
#include "check.cuh"
#include "register.cuh"
#include "scratch.cuh"
#include "stream.cuh"

namespace pcn {
namespace {

constexpr int BX = 32, BY = 16;  // batch-norm block: 32 channels x 16 row strides
constexpr int kThreads = 256;

// Per-(chunk, channel) partial sums over the rows of chunk blockIdx.y
// (rows [blockIdx.y*rows_per, +rows_per) clipped to M):
//   kind 0: p1 = sum x                        (mu unused)
//   kind 1: p1 = sum (x - mu)^2               (mu: double (C))
//   kind 2: p1 = sum dy, p2 = sum dy*(x - mu) (mu from the float mean (C))
// p1, p2: (gridDim.y, C) doubles; every (chunk, c < C) element written.
template <int kKind>
__global__ void bn_partial_kernel(int64_t M, int64_t C, int64_t rows_per, const float* __restrict__ x,
                                  const float* __restrict__ dy, const double* __restrict__ mu_d,
                                  const float* __restrict__ mu_f, double* __restrict__ p1, double* __restrict__ p2) {
  __shared__ double r1[BY][BX];
  __shared__ double r2[BY][BX];
  const int64_t c = blockIdx.x * int64_t(BX) + threadIdx.x;
  const bool ok = c < C;
  const int64_t r0 = blockIdx.y * rows_per;
  const int64_t r1_end = r0 + rows_per < M ? r0 + rows_per : M;
  double a = 0.0, b = 0.0;
  if (ok) {
    const double mu = kKind == 1 ? mu_d[c] : (kKind == 2 ? double(mu_f[c]) : 0.0);
    for (int64_t r = r0 + threadIdx.y; r < r1_end; r += BY) {
      const double v = double(x[r * C + c]);
      if (kKind == 0) {
        a += v;
      } else if (kKind == 1) {
        const double d = v - mu;
        a += d * d;
      } else {
        const double g = double(dy[r * C + c]);
        a += g;
        b += g * (v - mu);
      }
    }
  }
  r1[threadIdx.y][threadIdx.x] = a;
  r2[threadIdx.y][threadIdx.x] = b;
  __syncthreads();
  if (threadIdx.y == 0 && ok) {
    double s1 = 0.0, s2 = 0.0;
    for (int k = 0; k < BY; ++k) {
      s1 += r1[k][threadIdx.x];
      s2 += r2[k][threadIdx.x];
    }
    p1[blockIdx.y * C + c] = s1;
    if (kKind == 2) p2[blockIdx.y * C + c] = s2;
  }
}

// One thread per channel: add the nchunks partials in order.
__device__ __forceinline__ double sum_partials(const double* p, int64_t nchunks, int64_t C, int64_t c) {
  double s = 0.0;
  for (int64_t k = 0; k < nchunks; ++k) s += p[k * C + c];
  return s;
}

// Forward finalize, step 1: mu (C) double = sum x / M.
__global__ void bn_mean_kernel(BatchNormParams p, int64_t nchunks, const double* __restrict__ p1,
                               double* __restrict__ mu) {
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < p.C; c += int64_t(gridDim.x) * blockDim.x)
    mu[c] = sum_partials(p1, nchunks, p.C, c) / double(p.M);
}

// Forward finalize, step 2: var (biased), the float mean/var outputs and the
// affine coefficients sc = gamma/sqrt(var + eps), sh = beta (double, (C)).
__global__ void bn_var_kernel(BatchNormParams p, int64_t nchunks, const double* __restrict__ p1,
                              const double* __restrict__ mu, const float* __restrict__ gamma,
                              const float* __restrict__ beta, float* __restrict__ mean, float* __restrict__ var,
                              double* __restrict__ sc, double* __restrict__ sh) {
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < p.C; c += int64_t(gridDim.x) * blockDim.x) {
    const double v = sum_partials(p1, nchunks, p.C, c) / double(p.M);
    mean[c] = float(mu[c]);
    var[c] = float(v);
    sc[c] = (gamma ? double(gamma[c]) : 1.0) / sqrt(v + double(p.eps));
    sh[c] = beta ? double(beta[c]) : 0.0;
  }
}

// y[r,c] = (x[r,c] - mu[c]) * sc[c] + sh[c] in double, elementwise (M*C).
__global__ void bn_affine_kernel(int64_t C, const float* __restrict__ x, const double* __restrict__ mu,
                                 const double* __restrict__ sc, const double* __restrict__ sh, float* __restrict__ y,
                                 int64_t total) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = i % C;
    y[i] = float((double(x[i]) - mu[c]) * sc[c] + sh[c]);
  }
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

// Training-mode backward (see csrc/cpu/isa/norm.cpp), per channel:
//   dbeta = sum dy, dgamma = sum dy * xhat,
//   dx = gamma*istd*(dy - dbeta/M - xhat*dgamma/M) = a*dy + k*(x - mean) + b.
// coef (3, C) doubles: a, k, b.
__global__ void bn_bwd_coef_kernel(BatchNormParams p, int64_t nchunks, const double* __restrict__ p1,
                                   const double* __restrict__ p2, const float* __restrict__ gamma,
                                   const float* __restrict__ var, float* __restrict__ dgamma,
                                   float* __restrict__ dbeta, double* __restrict__ coef) {
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < p.C; c += int64_t(gridDim.x) * blockDim.x) {
    const double s1 = sum_partials(p1, nchunks, p.C, c), s2 = sum_partials(p2, nchunks, p.C, c);
    const double istd = 1.0 / sqrt(double(var[c]) + double(p.eps));
    const double g = gamma ? double(gamma[c]) : 1.0;
    const double a = g * istd;
    dbeta[c] = float(s1);
    dgamma[c] = float(s2 * istd);
    coef[c] = a;
    coef[p.C + c] = -a * istd * istd * s2 / double(p.M);
    coef[2 * p.C + c] = -a * s1 / double(p.M);
  }
}

__global__ void bn_bwd_dx_kernel(int64_t C, const float* __restrict__ dy, const float* __restrict__ x,
                                 const float* __restrict__ mean, const double* __restrict__ coef,
                                 float* __restrict__ dx, int64_t total) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = i % C;
    dx[i] = float(coef[c] * double(dy[i]) + coef[C + c] * (double(x[i]) - double(mean[c])) + coef[2 * C + c]);
  }
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
// Row chunking of the statistics passes: about 8 row strides per thread at
// least, and enough (slice, chunk) blocks to fill the GPU (~1024), fixed by
// (M, C) alone so the result is deterministic.
struct Chunks {
  int64_t cblocks, nchunks, rows_per;
};
Chunks bn_chunks(int64_t M, int64_t C) {
  Chunks k;
  k.cblocks = (C + BX - 1) / BX;
  int64_t want = 1024 / k.cblocks;
  if (want < 1) want = 1;
  int64_t by_rows = (M + 8 * BY - 1) / (8 * BY);
  k.nchunks = want < by_rows ? want : by_rows;
  if (k.nchunks < 1) k.nchunks = 1;
  if (k.nchunks > 65535) k.nchunks = 65535;
  k.rows_per = (M + k.nchunks - 1) / k.nchunks;
  k.nchunks = (M + k.rows_per - 1) / k.rows_per;  // no empty chunk
  return k;
}

void bn_forward_train_cuda(const BatchNormParams& p, const float* x, const float* gamma, const float* beta, float* y,
                           float* mean, float* var) {
  if (p.C <= 0 || p.M <= 0) return;  // the front guarantees M >= 1
  PCN_CHECK(p.C < (int64_t(1) << 35), "batch_norm: " << p.C << " channels exceed the CUDA grid");
  const Chunks k = bn_chunks(p.M, p.C);
  // doubles: partials (nchunks, C), mu, sc, sh (C) each
  cuda::DeviceScratch buf(sizeof(double) * size_t((k.nchunks + 3) * p.C));
  double* part = buf.as<double>();
  double* mu = part + k.nchunks * p.C;
  double* sc = mu + p.C;
  double* sh = sc + p.C;
  cudaStream_t st = cuda::stream();
  const dim3 grid(unsigned(k.cblocks), unsigned(k.nchunks)), block(BX, BY);
  const unsigned cgrid = cuda::grid_for(p.C, kThreads);
  bn_partial_kernel<0><<<grid, block, 0, st>>>(p.M, p.C, k.rows_per, x, nullptr, nullptr, nullptr, part, nullptr);
  PCN_CUDA_LAUNCH_CHECK();
  bn_mean_kernel<<<cgrid, kThreads, 0, st>>>(p, k.nchunks, part, mu);
  PCN_CUDA_LAUNCH_CHECK();
  bn_partial_kernel<1><<<grid, block, 0, st>>>(p.M, p.C, k.rows_per, x, nullptr, mu, nullptr, part, nullptr);
  PCN_CUDA_LAUNCH_CHECK();
  bn_var_kernel<<<cgrid, kThreads, 0, st>>>(p, k.nchunks, part, mu, gamma, beta, mean, var, sc, sh);
  PCN_CUDA_LAUNCH_CHECK();
  const int64_t total = p.M * p.C;
  bn_affine_kernel<<<cuda::grid_for(total, kThreads), kThreads, 0, st>>>(p.C, x, mu, sc, sh, y, total);
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
  PCN_CHECK(p.C < (int64_t(1) << 35), "batch_norm: " << p.C << " channels exceed the CUDA grid");
  const Chunks k = bn_chunks(p.M, p.C);
  // doubles: partials p1, p2 (nchunks, C) each, coef (3, C)
  cuda::DeviceScratch buf(sizeof(double) * size_t((2 * k.nchunks + 3) * p.C));
  double* p1 = buf.as<double>();
  double* p2 = p1 + k.nchunks * p.C;
  double* coef = p2 + k.nchunks * p.C;
  cudaStream_t st = cuda::stream();
  const dim3 grid(unsigned(k.cblocks), unsigned(k.nchunks)), block(BX, BY);
  bn_partial_kernel<2><<<grid, block, 0, st>>>(p.M, p.C, k.rows_per, x, dy, nullptr, mean, p1, p2);
  PCN_CUDA_LAUNCH_CHECK();
  bn_bwd_coef_kernel<<<cuda::grid_for(p.C, kThreads), kThreads, 0, st>>>(p, k.nchunks, p1, p2, gamma, var, dgamma,
                                                                         dbeta, coef);
  PCN_CUDA_LAUNCH_CHECK();
  const int64_t total = p.M * p.C;
  bn_bwd_dx_kernel<<<cuda::grid_for(total, kThreads), kThreads, 0, st>>>(p.C, dy, x, mean, coef, dx, total);
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
