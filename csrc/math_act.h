// math_act.h — the activation math of the elementwise kernels, one text for the
// CPU (csrc/cpu/isa/elementwise.cpp, vectorized by GCC at each ISA's width) and
// CUDA (cuda/elementwise.cu), so both give the same bits for the same input.
// exp, sigmoid and tanh use a branch-free polynomial exp (Cephes' expf: range
// reduction by ln2, degree-6 polynomial, 2^k by exponent bits; ~1 ulp); expm1
// adds a Taylor polynomial near 0, erf/erfc rational approximations (gelu),
// log1p an atanh series (softplus); no libm calls.
//
// Include math_hd.h at file scope first, then this file INSIDE the including
// file's anonymous namespace: each ISA build of a kernel file must get its own
// copy (isa.h), never one inline symbol shared with a build for another ISA.
// Hence no #include and no std:: in here.
#pragma once
#ifndef PCN_HD
#error "include math_hd.h (at file scope) before math_act.h"
#endif

constexpr float kSeluAlpha = 1.6732632423543772848170429916717f;
constexpr float kSeluScale = 1.0507009873554804934193349852946f;
constexpr float kSqrtHalf = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;
constexpr float kSqrt2OverPi = 0.79788456080286535588f;

// exp(x): exact at the limits (x > 88.72 -> inf, x < -103.9 -> 0, NaN -> NaN), ~1 ulp elsewhere
// (results below FLT_MIN are flushed towards 0 by the 2^k scaling in two steps).
PCN_HD float vexp(float x) {
  const float xc = x > 88.72283935546875f ? 88.72283935546875f : (x < -103.0f ? -103.0f : x);
  const float k = PCN_FLOORF(xc * 1.44269504088896341f + 0.5f);
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
  const float s1 = PCN_BITS_TO_FLOAT((k1 + 127) << 23), s2 = PCN_BITS_TO_FLOAT((k2 + 127) << 23);
  float res = p * s1 * s2;
  res = x > 88.72283935546875f ? PCN_INFF : res;
  res = x < -103.0f ? 0.f : res;
  return x != x ? x : res;
}

// expm1(x): Taylor polynomial (degree 8) for |x| < 0.5 keeps relative accuracy near 0; exp(x) - 1 elsewhere.
PCN_HD float vexpm1(float x) {
  float p = 1.f / 40320.f;
  p = p * x + 1.f / 5040.f;
  p = p * x + 1.f / 720.f;
  p = p * x + 1.f / 120.f;
  p = p * x + 1.f / 24.f;
  p = p * x + 1.f / 6.f;
  p = p * x + 0.5f;
  const float small = x + x * x * p;
  const float r = PCN_FABSF(x) < 0.5f ? small : vexp(x) - 1.f;
  return x != x ? x : r;
}

// erf(x): odd/even rational approximation on [-4, 4] (outside, erf = +-1 in float32);
// max error a few ulp. Same form as Eigen's generic_fast_erf_float.
PCN_HD float verf(float a) {
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
PCN_HD float vnormcdf(float v) {
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
PCN_HD float vlog1p_unit(float t) {
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

PCN_HD float vsigmoid(float x) { return 1.f / (1.f + vexp(-x)); }  // exp(-x)=inf -> 0, no NaN

PCN_HD float vtanh(float x) {
  const float a = PCN_FABSF(x);
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
