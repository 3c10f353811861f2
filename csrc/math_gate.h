// math_gate.h — the gate math of the RNN cells (sigmoid, tanh and the exp under
// them), one text for the CPU (csrc/cpu/isa/rnn.cpp, whose AVX-512 path has
// 16-lane twins of these) and CUDA (cuda/rnn.cu). Cheaper than math_act.h's
// (clamped range, 1.5*2^23 rounding trick), which is fine inside a gate.
//
// Include math_hd.h at file scope first, then this file INSIDE the including
// file's anonymous namespace (see math_act.h for why).
#pragma once
#ifndef PCN_HD
#error "include math_hd.h (at file scope) before math_gate.h"
#endif

// exp(x) by range reduction x = n ln2 + r and a degree-6 polynomial (Cephes
// expf); |x| clamped to 88 (NaN passes the clamps and stays NaN). Branch-free
// so the loops below vectorize.
PCN_HD float vexp(float x0) {
  float x = x0 > 88.f ? 88.f : x0;
  x = x < -87.f ? -87.f : x;
  x = x == x ? x : 0.f;  // keep the integer conversion defined; NaN is restored below
  // n = round(x / ln2) with the 1.5*2^23 trick (exact for |n| < 2^22, no branch).
  const float fi = (x * 1.44269504088896341f + 12582912.f) - 12582912.f;
  const int32_t i = static_cast<int32_t>(fi);
  float r = x - fi * 0.693359375f;
  r = r - fi * -2.12194440e-4f;
  const float z = r * r;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * z + r + 1.f;
  return x0 != x0 ? x0 : y * PCN_BITS_TO_FLOAT((i + 127) << 23);
}
PCN_HD float vsigmoid(float x) { return 1.f / (1.f + vexp(-x)); }
// tanh by a 13/6 rational approximation on [-7.9, 7.9] (Eigen's float tanh).
PCN_HD float vtanh(float x) {
  const float c = 7.90531110763549805f;
  float xc = x > c ? c : x;
  xc = xc < -c ? -c : xc;
  const float x2 = xc * xc;
  float p = -2.76076847742355e-16f;
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  p = p * xc;
  float q = 1.19825839466702e-06f;
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  const float y = p / q;
  return PCN_FABSF(x) < 0.0004f ? x : y;
}
