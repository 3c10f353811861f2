// elementwise.cpp — vectorized activations and softmax rows (compiled once per
// ISA; see isa.h). The scalar math (exp, expm1, erf, normal CDF, log1p, sigmoid,
// tanh: ../../math_act.h, shared with cuda/elementwise.cu) is branch-free, so GCC
// vectorizes it at each ISA's width; no per-element libm calls remain. Loops are
// `omp simd`, serial; the caller splits work among threads.
#include <cmath>
#include <cstdint>

#include "../../common.h"
#include "../../isa.h"
#include "../../math_hd.h"
#include "elementwise_isa.h"

namespace pcn {
namespace PCN_ISA_NS {

namespace {
// Values of pcn::Act (ops/elementwise.h), duplicated here to keep this file free of that header.
enum : int {
  kLinear = 0, kRelu, kRelu6, kLeakyRelu, kElu, kSelu, kSigmoid, kHardSigmoid, kTanh, kSoftplus,
  kSoftsign, kSwish, kGelu, kGeluTanh, kExponential,
};
#include "../../math_act.h"
}  // namespace

void act_forward_span(int act, float al, int64_t n, const float* x, float* y) {
  switch (act) {
#define AF(A, EXPR)                                    \
  case A:                                              \
    _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) { \
      const float v = x[i];                            \
      y[i] = (EXPR);                                   \
    }                                                  \
    break;
    AF(kLinear, v)
    AF(kRelu, v > 0.f ? v : (v != v ? v : 0.f))
    AF(kRelu6, v != v ? v : (v < 0.f ? 0.f : (v > 6.f ? 6.f : v)))
    AF(kLeakyRelu, v >= 0.f ? v : al * v)
    AF(kElu, v > 0.f ? v : al * vexpm1(v))
    AF(kSelu, v > 0.f ? kSeluScale * v : kSeluScale * kSeluAlpha * vexpm1(v))
    AF(kSigmoid, vsigmoid(v))
    AF(kHardSigmoid, v != v ? v : (v < -3.f ? 0.f : (v > 3.f ? 1.f : (v + 3.f) * (1.f / 6.f))))
    AF(kTanh, vtanh(v))
    AF(kSoftplus, (v > 0.f ? v : 0.f) + vlog1p_unit(vexp(-__builtin_fabsf(v))))
    AF(kSoftsign, v / (1.f + __builtin_fabsf(v)))
    AF(kSwish, v * vsigmoid(v))
    AF(kGelu, v * vnormcdf(v))
    AF(kGeluTanh, 0.5f * v * (1.f + vtanh(kSqrt2OverPi * (v + 0.044715f * v * v * v))))
    AF(kExponential, vexp(v))
#undef AF
    default: break;
  }
}

void act_backward_span(int act, float al, int64_t n, const float* dy, const float* x, const float* y, float* dx) {
  switch (act) {
#define AB(A, EXPR)                                    \
  case A:                                              \
    _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) { \
      const float g = dy[i];                           \
      dx[i] = (EXPR);                                  \
    }                                                  \
    break;
    AB(kLinear, g)
    case kRelu:
      if (x) {
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) dx[i] = x[i] > 0.f ? dy[i] : 0.f;
      } else {
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) dx[i] = y[i] > 0.f ? dy[i] : 0.f;
      }
      break;
    AB(kRelu6, (x[i] > 0.f && x[i] < 6.f) ? g : 0.f)
    AB(kLeakyRelu, x[i] > 0.f ? g : al * g)  // alpha at 0, as TF and PyTorch
    case kElu:
      if (y) {
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) dx[i] = x[i] > 0.f ? dy[i] : dy[i] * (y[i] + al);
      } else {
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) dx[i] = x[i] > 0.f ? dy[i] : dy[i] * al * vexp(x[i]);
      }
      break;
    AB(kSelu, x[i] > 0.f ? g * kSeluScale : g * (kSeluScale * kSeluAlpha) * vexp(x[i]))
    AB(kSigmoid, g * y[i] * (1.f - y[i]))
    AB(kHardSigmoid, (x[i] > -3.f && x[i] < 3.f) ? g * (1.f / 6.f) : 0.f)
    AB(kTanh, g * (1.f - y[i] * y[i]))
    AB(kSoftplus, g * vsigmoid(x[i]))
    AB(kSoftsign, g / ((1.f + __builtin_fabsf(x[i])) * (1.f + __builtin_fabsf(x[i]))))
    case kSwish:
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) {
        const float v = x[i], s = vsigmoid(v);
        dx[i] = dy[i] * (s + v * s * (1.f - s));
      }
      break;
    case kGelu:
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        const float cdf = vnormcdf(v);
        const float pdf = kInvSqrt2Pi * vexp(-0.5f * v * v);
        dx[i] = dy[i] * (cdf + v * pdf);
      }
      break;
    case kGeluTanh:
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        const float t = vtanh(kSqrt2OverPi * (v + 0.044715f * v * v * v));
        const float du = kSqrt2OverPi * (1.f + 3.f * 0.044715f * v * v);
        dx[i] = dy[i] * (0.5f * (1.f + t) + 0.5f * v * (1.f - t * t) * du);
      }
      break;
    AB(kExponential, g * y[i])
#undef AB
    default: break;
  }
}

void softmax_rows_span(int64_t rows, int64_t n, bool log, const float* x, float* y) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    float m = -__builtin_inff();
    int nan = 0;
#pragma omp simd reduction(max : m) reduction(| : nan)
    for (int64_t k = 0; k < n; ++k) {
      m = xr[k] > m ? xr[k] : m;
      nan |= xr[k] != xr[k] ? 1 : 0;
    }
    if (nan) {
      for (int64_t k = 0; k < n; ++k) yr[k] = __builtin_nanf("");
      continue;
    }
    if (m == -__builtin_inff()) m = 0.f;  // all -inf row
    float s = 0.f;
    if (log) {
#pragma omp simd reduction(+ : s)
      for (int64_t k = 0; k < n; ++k) s += vexp(xr[k] - m);
      const float lse = m + std::log(s);
#pragma omp simd
      for (int64_t k = 0; k < n; ++k) yr[k] = xr[k] - lse;
    } else {
#pragma omp simd reduction(+ : s)
      for (int64_t k = 0; k < n; ++k) {
        const float e = vexp(xr[k] - m);
        yr[k] = e;
        s += e;
      }
      const float inv = 1.f / s;
#pragma omp simd
      for (int64_t k = 0; k < n; ++k) yr[k] *= inv;
    }
  }
}

}  // namespace PCN_ISA_NS
}  // namespace pcn
