// norm.cpp — batch norm (train/infer/backward) and LRN (forward/backward),
// compiled once per ISA (see isa.h). x is viewed as (M, C) row-major, C the
// contiguous channel axis; the hot loops run over channels and vectorize.
//
// Batch-norm statistics: every thread sums a contiguous block of rows into its
// own per-channel double accumulators, the blocks are then added in thread
// order (deterministic for a given thread count). The variance is two-pass:
// sum((x - mean)^2) with the double mean, so large M and large |mean| stay
// accurate. The spec is tests/reference_norm.py.
#include <omp.h>

#include <cmath>
#include <cstdlib>

#include "../../common.h"
#include "../../isa.h"
#include "norm_isa.h"

namespace pcn {
namespace PCN_ISA_NS {

namespace {

constexpr int64_t kParallelWork = 1 << 15;

double* alloc_doubles(int64_t n, const char* what) {
  double* p = static_cast<double*>(std::calloc(size_t(n > 0 ? n : 1), sizeof(double)));
  if (!p) PCN_THROW(RuntimeError, what << ": out of memory for " << n << " doubles of workspace");
  return p;
}

// Per-channel double sums over the rows of (M, C):
//   kind 0: s1 = sum x
//   kind 1: s1 = sum (x - mu)^2
//   kind 2: s1 = sum dy, s2 = sum dy * (x - mu)
// s1, s2 (C) are overwritten.
void channel_sums(int kind, int64_t M, int64_t C, const float* x, const float* dy, const double* mu, double* s1,
                  double* s2, const char* what) {
  const int T = M * C > kParallelWork ? omp_get_max_threads() : 1;
  double* ws = alloc_doubles(2 * int64_t(T) * C, what);
#pragma omp parallel num_threads(T)
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t r0 = M * t / nt, r1 = M * (t + 1) / nt;
    double* __restrict a = ws + 2 * t * C;
    double* __restrict b = a + C;
    for (int64_t r = r0; r < r1; ++r) {
      const float* __restrict xr = x + r * C;
      if (kind == 0) {
        for (int64_t c = 0; c < C; ++c) a[c] += double(xr[c]);
      } else if (kind == 1) {
        for (int64_t c = 0; c < C; ++c) {
          const double d = double(xr[c]) - mu[c];
          a[c] += d * d;
        }
      } else {
        const float* __restrict gr = dy + r * C;
        for (int64_t c = 0; c < C; ++c) {
          const double g = double(gr[c]);
          a[c] += g;
          b[c] += g * (double(xr[c]) - mu[c]);
        }
      }
    }
  }
  for (int64_t c = 0; c < C; ++c) {
    s1[c] = 0.0;
    if (s2) s2[c] = 0.0;
  }
  for (int t = 0; t < T; ++t) {
    const double* a = ws + 2 * int64_t(t) * C;
    for (int64_t c = 0; c < C; ++c) s1[c] += a[c];
    if (s2)
      for (int64_t c = 0; c < C; ++c) s2[c] += a[C + c];
  }
  std::free(ws);
}

// y[r,c] = (x[r,c] - mu[c]) * sc[c] + sh[c], all rows, in double.
void affine_rows(int64_t M, int64_t C, const float* x, const double* mu, const double* sc, const double* sh,
                 float* y) {
#pragma omp parallel for schedule(static) if (M * C > kParallelWork)
  for (int64_t r = 0; r < M; ++r) {
    const float* __restrict xr = x + r * C;
    float* __restrict yr = y + r * C;
    for (int64_t c = 0; c < C; ++c) yr[c] = float((double(xr[c]) - mu[c]) * sc[c] + sh[c]);
  }
}

}  // namespace

// x, y (M,C); gamma, beta (C) or null; mean, var (C) out (var biased).
void bn_forward_train(const BatchNormParams& p, const float* x, const float* gamma, const float* beta, float* y,
                      float* mean, float* var) {
  const int64_t M = p.M, C = p.C;
  double* w = alloc_doubles(4 * C, "batch_norm");
  double *mu = w, *q = w + C, *sc = w + 2 * C, *sh = w + 3 * C;
  channel_sums(0, M, C, x, nullptr, nullptr, mu, nullptr, "batch_norm");
  for (int64_t c = 0; c < C; ++c) mu[c] /= double(M);
  channel_sums(1, M, C, x, nullptr, mu, q, nullptr, "batch_norm");
  for (int64_t c = 0; c < C; ++c) {
    const double v = q[c] / double(M);
    mean[c] = float(mu[c]);
    var[c] = float(v);
    sc[c] = (gamma ? double(gamma[c]) : 1.0) / std::sqrt(v + double(p.eps));
    sh[c] = beta ? double(beta[c]) : 0.0;
  }
  affine_rows(M, C, x, mu, sc, sh, y);
  std::free(w);
}

// y = (x - mean) * gamma / sqrt(var + eps) + beta with the given statistics.
void bn_forward_infer(const BatchNormParams& p, const float* x, const float* gamma, const float* beta,
                      const float* mean, const float* var, float* y) {
  const int64_t C = p.C;
  double* w = alloc_doubles(3 * C, "batch_norm");
  double *mu = w, *sc = w + C, *sh = w + 2 * C;
  for (int64_t c = 0; c < C; ++c) {
    mu[c] = double(mean[c]);
    sc[c] = (gamma ? double(gamma[c]) : 1.0) / std::sqrt(double(var[c]) + double(p.eps));
    sh[c] = beta ? double(beta[c]) : 0.0;
  }
  affine_rows(p.M, C, x, mu, sc, sh, y);
  std::free(w);
}

// Training-mode backward with the batch statistics (mean, biased var):
//   xhat = (x - mean) * istd, istd = 1/sqrt(var + eps)
//   dbeta = sum dy, dgamma = sum dy * xhat
//   dx = gamma * istd * (dy - dbeta/M - xhat * dgamma/M)
void bn_backward(const BatchNormParams& p, const float* dy, const float* x, const float* gamma, const float* mean,
                 const float* var, float* dx, float* dgamma, float* dbeta) {
  const int64_t M = p.M, C = p.C;
  double* w = alloc_doubles(6 * C, "batch_norm");
  double *mu = w, *s1 = w + C, *s2 = w + 2 * C, *a = w + 3 * C, *k = w + 4 * C, *b = w + 5 * C;
  for (int64_t c = 0; c < C; ++c) mu[c] = double(mean[c]);
  channel_sums(2, M, C, x, dy, mu, s1, s2, "batch_norm");
  for (int64_t c = 0; c < C; ++c) {
    const double istd = 1.0 / std::sqrt(double(var[c]) + double(p.eps));
    const double g = gamma ? double(gamma[c]) : 1.0;
    dbeta[c] = float(s1[c]);
    dgamma[c] = float(s2[c] * istd);
    a[c] = g * istd;
    b[c] = -a[c] * s1[c] / double(M);
    k[c] = -a[c] * istd * istd * s2[c] / double(M);
  }
#pragma omp parallel for schedule(static) if (M * C > kParallelWork)
  for (int64_t r = 0; r < M; ++r) {
    const float* __restrict xr = x + r * C;
    const float* __restrict gr = dy + r * C;
    float* __restrict dr = dx + r * C;
    for (int64_t c = 0; c < C; ++c)
      dr[c] = float(a[c] * double(gr[c]) + k[c] * (double(xr[c]) - mu[c]) + b[c]);
  }
  std::free(w);
}

// ---------------------------------------------------------------- LRN
namespace {

// base^(-beta), with the common exponents done without pow().
inline double pow_neg(double base, double beta) {
  if (beta == 0.5) return 1.0 / std::sqrt(base);
  if (beta == 0.75) {
    const double s = std::sqrt(base);
    return 1.0 / (s * std::sqrt(s));
  }
  if (beta == 1.0) return 1.0 / base;
  return std::pow(base, -beta);
}

// out[d] = sum_{|j-d| <= r, 0 <= j < C} in[j]. Narrow windows: a shifted-add
// per offset (exact, vectorizes over d); wide ones: double prefix sums.
void window_sum(int64_t C, int64_t r, const double* __restrict in, double* __restrict out, double* __restrict pre) {
  if (r > C - 1) r = C - 1;
  if (2 * r + 1 <= 64) {
    for (int64_t d = 0; d < C; ++d) out[d] = in[d];
    for (int64_t k = 1; k <= r; ++k) {
      for (int64_t d = k; d < C; ++d) out[d] += in[d - k];
      for (int64_t d = 0; d < C - k; ++d) out[d] += in[d + k];
    }
  } else {
    pre[0] = 0.0;
    for (int64_t j = 0; j < C; ++j) pre[j + 1] = pre[j] + in[j];
    for (int64_t d = 0; d < C; ++d) {
      const int64_t lo = d - r < 0 ? 0 : d - r, hi = d + r + 1 > C ? C : d + r + 1;
      out[d] = pre[hi] - pre[lo];
    }
  }
}

}  // namespace

// x, y (M,C): y = x * (bias + alpha * window_sum(x^2))^(-beta).
void lrn_forward(const LrnParams& p, const float* x, float* y) {
  const int64_t M = p.M, C = p.C;
  const double alpha = p.alpha, bias = p.bias, beta = p.beta;
#pragma omp parallel if (M * C > kParallelWork / 4)
  {
    double* buf = static_cast<double*>(std::malloc(sizeof(double) * size_t(3 * C + 1)));
    if (buf) {
      double *sq = buf, *s = buf + C, *pre = buf + 2 * C;
#pragma omp for schedule(static)
      for (int64_t m = 0; m < M; ++m) {
        const float* xr = x + m * C;
        float* yr = y + m * C;
        for (int64_t c = 0; c < C; ++c) sq[c] = double(xr[c]) * double(xr[c]);
        window_sum(C, p.radius, sq, s, pre);
        for (int64_t c = 0; c < C; ++c) yr[c] = float(double(xr[c]) * pow_neg(bias + alpha * s[c], beta));
      }
      std::free(buf);
    } else {
      // Out of memory for a few KB: give NaN rather than crash (never expected).
#pragma omp for schedule(static)
      for (int64_t m = 0; m < M; ++m)
        for (int64_t c = 0; c < C; ++c) y[m * C + c] = NAN;
    }
  }
}

// dx_j = dy_j * f_j - 2*alpha*beta * x_j * sum_{|d-j|<=r} dy_d * x_d * f_d / N_d,
// N_d = bias + alpha * sqr_sum_d, f_d = N_d^(-beta). (The window is symmetric.)
void lrn_backward(const LrnParams& p, const float* dy, const float* x, float* dx) {
  const int64_t M = p.M, C = p.C;
  const double alpha = p.alpha, bias = p.bias, beta = p.beta;
#pragma omp parallel if (M * C > kParallelWork / 4)
  {
    double* buf = static_cast<double*>(std::malloc(sizeof(double) * size_t(5 * C + 1)));
    if (buf) {
      double *sq = buf, *f = buf + C, *t = buf + 2 * C, *ts = buf + 3 * C, *pre = buf + 4 * C;
#pragma omp for schedule(static)
      for (int64_t m = 0; m < M; ++m) {
        const float* xr = x + m * C;
        const float* gr = dy + m * C;
        float* dr = dx + m * C;
        for (int64_t c = 0; c < C; ++c) sq[c] = double(xr[c]) * double(xr[c]);
        window_sum(C, p.radius, sq, f, pre);  // f = sqr_sum for now
        for (int64_t c = 0; c < C; ++c) {
          const double n = bias + alpha * f[c];
          f[c] = pow_neg(n, beta);
          t[c] = double(gr[c]) * double(xr[c]) * f[c] / n;
        }
        window_sum(C, p.radius, t, ts, pre);
        for (int64_t c = 0; c < C; ++c)
          dr[c] = float(double(gr[c]) * f[c] - 2.0 * alpha * beta * double(xr[c]) * ts[c]);
      }
      std::free(buf);
    } else {
#pragma omp for schedule(static)
      for (int64_t m = 0; m < M; ++m)
        for (int64_t c = 0; c < C; ++c) dx[m * C + c] = NAN;
    }
  }
}

}  // namespace PCN_ISA_NS
}  // namespace pcn
