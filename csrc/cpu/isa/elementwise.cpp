// elementwise.cpp — vectorized activations and softmax rows (compiled once per
// ISA; see isa.h). exp, sigmoid and tanh use a branch-free polynomial exp
// (Cephes' expf: range reduction by ln2, degree-6 polynomial, 2^k by exponent
// bits; ~1 ulp) that GCC vectorizes at each ISA's width; expm1 adds a Taylor
// polynomial near 0, erf/erfc rational approximations (gelu), log1p an atanh series (softplus);
// no per-element libm calls remain. Loops are `omp simd`, serial; the caller splits work among threads.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "../../common.h"
#include "../../isa.h"
#include "elementwise_isa.h"

namespace pcn {
namespace PCN_ISA_NS {

namespace {
// Values of pcn::Act (ops/elementwise.h), duplicated here to keep this file free of that header.
enum : int {
  kLinear = 0, kRelu, kRelu6, kLeakyRelu, kElu, kSelu, kSigmoid, kHardSigmoid, kTanh, kSoftplus,
  kSoftsign, kSwish, kGelu, kGeluTanh, kExponential,
};
constexpr float kSeluAlpha = 1.6732632423543772848170429916717f;
constexpr float kSeluScale = 1.0507009873554804934193349852946f;
constexpr float kSqrtHalf = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;
constexpr float kSqrt2OverPi = 0.79788456080286535588f;

// exp(x): exact at the limits (x > 88.72 -> inf, x < -103.9 -> 0, NaN -> NaN), ~1 ulp elsewhere
// (results below FLT_MIN are flushed towards 0 by the 2^k scaling in two steps).
inline float vexp(float x) {
  const float xc = x > 88.72283935546875f ? 88.72283935546875f : (x < -103.0f ? -103.0f : x);
  const float k = __builtin_floorf(xc * 1.44269504088896341f + 0.5f);
  float r = xc - k * 0.693359375f;
  r = r - k * -2.12194440e-4f;
  const float z = r * r;
  float p = 1.9875691500E-4f;
  p = p * r + 1.3981999507E-3f;
  p = p * r + 8.3334519073E-3f;
  p = p * r + 4.1665795894E-2f;
  p = p * r + 1.6666665459E-1f;
  p = p * r + 5.0000001201E-1f;
  p = p * z + r + 1.0f;
  // 2^k in two factors so k in [-150, 128] stays representable
  const int ki = int(k);
  const int k1 = ki < -126 ? -126 : (ki > 127 ? 127 : ki);
  const int k2 = ki - k1;  // in [-24, 1]
  const int32_t b1 = (k1 + 127) << 23, b2 = (k2 + 127) << 23;
  float s1, s2;
  std::memcpy(&s1, &b1, 4);
  std::memcpy(&s2, &b2, 4);
  float res = p * s1 * s2;
  res = x > 88.72283935546875f ? __builtin_inff() : res;
  res = x < -103.0f ? 0.f : res;
  return x != x ? x : res;
}

// expm1(x): Taylor polynomial (degree 8) for |x| < 0.5 keeps relative accuracy near 0; exp(x) - 1 elsewhere.
inline float vexpm1(float x) {
  float p = 1.f / 40320.f;
  p = p * x + 1.f / 5040.f;
  p = p * x + 1.f / 720.f;
  p = p * x + 1.f / 120.f;
  p = p * x + 1.f / 24.f;
  p = p * x + 1.f / 6.f;
  p = p * x + 0.5f;
  const float small = x + x * x * p;
  const float r = __builtin_fabsf(x) < 0.5f ? small : vexp(x) - 1.f;
  return x != x ? x : r;
}

// erf(x): odd/even rational approximation on [-4, 4] (outside, erf = +-1 in float32);
// max error a few ulp. Same form as Eigen's generic_fast_erf_float.
inline float verf(float a) {
  const float x = a < -4.f ? -4.f : (a > 4.f ? 4.f : a);
  const float x2 = x * x;
  float p = -2.72614225801306e-10f;
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 - 2.10102402082508e-06f;
  p = p * x2 - 5.69250639462346e-05f;
  p = p * x2 - 7.34990630326855e-04f;
  p = p * x2 - 2.95459980854025e-03f;
  p = p * x2 - 1.60960333262415e-02f;
  p = p * x;
  float q = -1.45660718464996e-05f;
  q = q * x2 - 2.13374055278905e-04f;
  q = q * x2 - 1.68282697438203e-03f;
  q = q * x2 - 7.37332916720468e-03f;
  q = q * x2 - 1.42647390514189e-02f;
  return a != a ? a : p / q;
}

// Phi(v) = 0.5 * (1 + erf(v / sqrt 2)), the normal CDF in gelu. For v < 0 it is
// 0.5 * erfc(-v / sqrt 2), computed with Numerical Recipes' erfcc (relative error
// < 1.2e-7) so the left tail keeps relative accuracy instead of cancelling in 1 + erf.
inline float vnormcdf(float v) {
  const float z = v < 0.f ? -v * kSqrtHalf : 0.f;
  const float t = 1.f / (1.f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  const float lower = 0.5f * t * vexp(p - z * z);
  const float upper = 0.5f * (1.f + verf(v * kSqrtHalf));
  return v < 0.f ? lower : upper;
}

// log1p(t) for t in [0, 1]: 2*atanh(s), s = t/(2+t) <= 1/3, odd series to s^15
// (truncation < 1e-9); keeps relative accuracy for tiny t.
inline float vlog1p_unit(float t) {
  const float s = t / (2.f + t), s2 = s * s;
  float p = 1.f / 15.f;
  p = p * s2 + 1.f / 13.f;
  p = p * s2 + 1.f / 11.f;
  p = p * s2 + 1.f / 9.f;
  p = p * s2 + 1.f / 7.f;
  p = p * s2 + 1.f / 5.f;
  p = p * s2 + 1.f / 3.f;
  p = p * s2 + 1.f;
  return 2.f * s * p;
}

inline float vsigmoid(float x) { return 1.f / (1.f + vexp(-x)); }  // exp(-x)=inf -> 0, no NaN

inline float vtanh(float x) {
  const float a = __builtin_fabsf(x);
  // small |x|: Cephes tanhf polynomial (keeps relative accuracy near 0)
  const float z = x * x;
  float p = -5.70498872745E-3f;
  p = p * z + 2.06390887954E-2f;
  p = p * z - 5.37397155531E-2f;
  p = p * z + 1.33314422036E-1f;
  p = p * z - 3.33332819422E-1f;
  const float small = x + x * z * p;
  const float big = 1.f - 2.f / (vexp(2.f * a) + 1.f);  // exp = inf -> 1
  const float r = a < 0.625f ? small : (x < 0.f ? -big : big);
  return x != x ? x : r;
}
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
    AB(kLeakyRelu, x[i] >= 0.f ? g : al * g)
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
