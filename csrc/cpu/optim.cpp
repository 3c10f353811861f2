// cpu/optim.cpp — OpenMP kernels of the optimizer updates (see ops/optim.h for
// the exact formulas). param, grad, s1..s3 (n) contiguous; grad is read-only.
#include <omp.h>

#include <cmath>

#include "../ops/optim.h"

namespace pcn {
namespace cpu {

namespace {
constexpr int64_t kPar = 1 << 15;
}

void optim_update(const OptimParams& p, float* w, const float* g, float* s1, float* s2, float* s3) {
  const int64_t n = p.n;
  const float lr = p.lr;
  switch (p.kind) {
    case OptimKind::Sgd: {
      if (!s1) {
#pragma omp parallel for simd schedule(static) if (n >= kPar)
        for (int64_t i = 0; i < n; ++i) w[i] -= g[i] * lr;
      } else {
        const float mu = p.momentum;
        if (p.nesterov) {
#pragma omp parallel for simd schedule(static) if (n >= kPar)
          for (int64_t i = 0; i < n; ++i) {
            const float m = s1[i] * mu - g[i] * lr;
            s1[i] = m;
            w[i] += m * mu - g[i] * lr;
          }
        } else {
#pragma omp parallel for simd schedule(static) if (n >= kPar)
          for (int64_t i = 0; i < n; ++i) {
            const float m = s1[i] * mu - g[i] * lr;
            s1[i] = m;
            w[i] += m;
          }
        }
      }
      break;
    }
    case OptimKind::Adam: {
      const float a = p.alpha, b1 = 1.f - p.beta1, b2 = 1.f - p.beta2, eps = p.eps;
      float *m = s1, *v = s2, *vh = s3;
      if (!vh) {
#pragma omp parallel for simd schedule(static) if (n >= kPar)
        for (int64_t i = 0; i < n; ++i) {
          const float gi = g[i];
          const float mi = m[i] + (gi - m[i]) * b1;
          const float vi = v[i] + (gi * gi - v[i]) * b2;
          m[i] = mi;
          v[i] = vi;
          w[i] -= (mi * a) / (std::sqrt(vi) + eps);
        }
      } else {
#pragma omp parallel for simd schedule(static) if (n >= kPar)
        for (int64_t i = 0; i < n; ++i) {
          const float gi = g[i];
          const float mi = m[i] + (gi - m[i]) * b1;
          const float vi = v[i] + (gi * gi - v[i]) * b2;
          const float hi = vh[i] > vi ? vh[i] : vi;
          m[i] = mi;
          v[i] = vi;
          vh[i] = hi;
          w[i] -= (mi * a) / (std::sqrt(hi) + eps);
        }
      }
      break;
    }
    case OptimKind::RmsProp: {
      const float rho = p.rho, orho = 1.f - p.rho, eps = p.eps, mu = p.momentum;
      float *vel = s1, *avg = s2, *mb = s3;
#pragma omp parallel for schedule(static) if (n >= kPar)
      for (int64_t i = 0; i < n; ++i) {
        const float gi = g[i];
        const float ve = rho * vel[i] + orho * (gi * gi);
        vel[i] = ve;
        float den;
        if (avg) {
          const float ag = rho * avg[i] + orho * gi;
          avg[i] = ag;
          den = ve - ag * ag + eps;
        } else {
          den = ve + eps;
        }
        const float inc = (lr * gi) / std::sqrt(den);
        if (mb) {
          const float m = mu * mb[i] + inc;
          mb[i] = m;
          w[i] -= m;
        } else {
          w[i] -= inc;
        }
      }
      break;
    }
    case OptimKind::Adagrad: {
      const float eps = p.eps;
      float* acc = s1;
#pragma omp parallel for simd schedule(static) if (n >= kPar)
      for (int64_t i = 0; i < n; ++i) {
        const float gi = g[i];
        const float a = acc[i] + gi * gi;
        acc[i] = a;
        w[i] -= (lr * gi) / std::sqrt(a + eps);
      }
      break;
    }
  }
}

}  // namespace cpu
}  // namespace pcn
