// conv2d_dw.cpp — depthwise conv2d (groups == C, one input channel per group,
// K = C*m output channels, channel k reads input channel k / m — TF's order
// c*m + j). Compiled once per ISA (see isa.h); the inner loops run over
// contiguous channels so the compiler vectorizes them (AVX-512 / AVX2 / SSE2).
// Shapes: x (N,H,W,C); w (KH,KW,1,K); b (K) or null; y/dy (N,OH,OW,K).
#include <omp.h>

#include <cstring>

#include "../../common.h"
#include "../../isa.h"

namespace pcn {
namespace PCN_ISA_NS {

// acc[k] += xp[k / m] * wp[k] for k < K = C*m.
static inline void dw_madd(float* __restrict acc, const float* __restrict xp, const float* __restrict wp,
                           int64_t C, int64_t m) {
  if (m == 1) {
#pragma omp simd
    for (int64_t k = 0; k < C; ++k) acc[k] += xp[k] * wp[k];
  } else {
    for (int64_t c = 0; c < C; ++c) {
      const float xv = xp[c];
      float* a = acc + c * m;
      const float* wv = wp + c * m;
#pragma omp simd
      for (int64_t j = 0; j < m; ++j) a[j] += xv * wv[j];
    }
  }
}

void conv2d_dw_forward(const Conv2dParams& p, const float* x, const float* w, const float* b, float* y) {
  const int64_t C = p.C, K = p.K, m = K / C;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t oh = 0; oh < p.OH; ++oh) {
      for (int64_t ow = 0; ow < p.OW; ++ow) {
        float* __restrict yr = y + ((n * p.OH + oh) * p.OW + ow) * K;
        if (b) std::memcpy(yr, b, sizeof(float) * size_t(K));
        else std::memset(yr, 0, sizeof(float) * size_t(K));
        for (int64_t kh = 0; kh < p.KH; ++kh) {
          const int64_t ih = oh * p.sh - p.pad_top + kh * p.dh;
          if (ih < 0 || ih >= p.H) continue;
          for (int64_t kw = 0; kw < p.KW; ++kw) {
            const int64_t iw = ow * p.sw - p.pad_left + kw * p.dw;
            if (iw < 0 || iw >= p.W) continue;
            dw_madd(yr, x + ((n * p.H + ih) * p.W + iw) * C, w + (kh * p.KW + kw) * K, C, m);
          }
        }
        if (p.activation == 1) {
#pragma omp simd
          for (int64_t k = 0; k < K; ++k) yr[k] = yr[k] > 0.f ? yr[k] : (yr[k] != yr[k] ? yr[k] : 0.f);
        }
      }
    }
}

void conv2d_dw_backward_input(const Conv2dParams& p, const float* dy, const float* w, float* dx) {
  const int64_t C = p.C, K = p.K, m = K / C;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t ih = 0; ih < p.H; ++ih) {
      for (int64_t iw = 0; iw < p.W; ++iw) {
        float* __restrict xr = dx + ((n * p.H + ih) * p.W + iw) * C;
        std::memset(xr, 0, sizeof(float) * size_t(C));
        for (int64_t kh = 0; kh < p.KH; ++kh) {
          const int64_t th = ih + p.pad_top - kh * p.dh;
          if (th < 0 || th % p.sh) continue;
          const int64_t oh = th / p.sh;
          if (oh >= p.OH) continue;
          for (int64_t kw = 0; kw < p.KW; ++kw) {
            const int64_t tw = iw + p.pad_left - kw * p.dw;
            if (tw < 0 || tw % p.sw) continue;
            const int64_t ow = tw / p.sw;
            if (ow >= p.OW) continue;
            const float* __restrict d = dy + ((n * p.OH + oh) * p.OW + ow) * K;
            const float* __restrict wp = w + (kh * p.KW + kw) * K;
            if (m == 1) {
#pragma omp simd
              for (int64_t c = 0; c < C; ++c) xr[c] += d[c] * wp[c];
            } else {
              for (int64_t c = 0; c < C; ++c) {
                float s = 0.f;
                for (int64_t j = 0; j < m; ++j) s += d[c * m + j] * wp[c * m + j];
                xr[c] += s;
              }
            }
          }
        }
      }
    }
}

void conv2d_dw_backward_filter(const Conv2dParams& p, const float* dy, const float* x, float* dw, bool accumulate,
                               float* scratch, int nscratch) {
  const int64_t C = p.C, K = p.K, m = K / C, WS = p.KH * p.KW * K;
#pragma omp parallel num_threads(nscratch)
  {
    const int t = omp_get_thread_num();
    float* part = scratch + int64_t(t) * WS;
    std::memset(part, 0, sizeof(float) * size_t(WS));
#pragma omp for collapse(2) schedule(static)
    for (int64_t n = 0; n < p.N; ++n)
      for (int64_t oh = 0; oh < p.OH; ++oh)
        for (int64_t ow = 0; ow < p.OW; ++ow) {
          const float* d = dy + ((n * p.OH + oh) * p.OW + ow) * K;
          for (int64_t kh = 0; kh < p.KH; ++kh) {
            const int64_t ih = oh * p.sh - p.pad_top + kh * p.dh;
            if (ih < 0 || ih >= p.H) continue;
            for (int64_t kw = 0; kw < p.KW; ++kw) {
              const int64_t iw = ow * p.sw - p.pad_left + kw * p.dw;
              if (iw < 0 || iw >= p.W) continue;
              // part[k] += d[k] * x[k / m]: same form as the forward's madd.
              float* __restrict a = part + (kh * p.KW + kw) * K;
              const float* __restrict xp = x + ((n * p.H + ih) * p.W + iw) * C;
              dw_madd(a, xp, d, C, m);
            }
          }
        }
    const int nt = omp_get_num_threads();
#pragma omp for schedule(static)
    for (int64_t i = 0; i < WS; ++i) {
      float s = accumulate ? dw[i] : 0.f;
      for (int u = 0; u < nt; ++u) s += scratch[int64_t(u) * WS + i];
      dw[i] = s;
    }
  }
}

}  // namespace PCN_ISA_NS
}  // namespace pcn
