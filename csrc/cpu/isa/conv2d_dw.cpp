// conv2d_dw.cpp — depthwise conv2d (groups == C, one input channel per group,
// K = C*m output channels, channel k reads input channel k / m — TF's order
// c*m + j). Compiled once per ISA (see isa.h); the inner loops run over
// contiguous channels so the compiler vectorizes them (AVX-512 / AVX2 / SSE2).
// Shapes: x (N,H,W,C); w (KH,KW,1,K); b (K) or null; y/dy (N,OH,OW,K).
#include <omp.h>

#include <immintrin.h>

#include <cstdint>
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

// ---- m == 1, register-blocked: P output pixels x KB channel vectors in registers.
// One form serves the forward (in = x, out = y) and the stride-1 backward-input
// (in = dy, out = dx, taps mirrored): the input position of output (r, c) and
// tap (kh, kw) is (r*sr + orr + kh*dr, c*sc + oc + kw*dc).
namespace {
#if defined(__AVX512F__)
constexpr int VW = 16, KB = 4, P = 6;  // 24 accumulators + 4 weights of 32 zmm
#elif defined(__AVX2__)
constexpr int VW = 8, KB = 2, P = 5;   // 10 + 2 of 16 ymm
#else
constexpr int VW = 4, KB = 2, P = 5;
#endif
typedef float vf __attribute__((vector_size(VW * 4)));
typedef float vfu __attribute__((vector_size(VW * 4), aligned(4)));
inline vf ld(const float* q) { return *reinterpret_cast<const vfu*>(q); }
inline void st(float* q, vf v) { *reinterpret_cast<vfu*>(q) = v; }

struct DwMap {
  int64_t Hin, Win, Hout, Wout, C;
  int64_t sr, orr, dr, sc, oc, dc;  // see above
  int64_t KH, KW;
  bool relu;
  bool stream;  // out is 64-byte aligned and C*4 a multiple of 64: non-temporal stores
};

// Outputs larger than the caches are written with non-temporal stores (no
// read-for-ownership: the op is memory-bound at the sizes where this matters).
inline bool stream_ok(const float* out, int64_t C, int64_t pixels) {
  return (reinterpret_cast<uintptr_t>(out) & 63) == 0 && (C * 4) % 64 == 0 && pixels * C * 4 >= (int64_t(8) << 20);
}

// NB pixels (compile time) starting at column c0 of output row r, channel
// vectors [cv, cv + KBN*VW); every tap column in range when CHECK is false.
template <int NB, int KBN, bool CHECK>
inline void dw_block(const DwMap& g, const float* in_img, const float* w, const float* b, float* out_row,
                     int64_t r, int64_t c0, int64_t cv) {
  vf acc[NB][KBN];
  for (int j = 0; j < KBN; ++j) {
    const vf bv = b ? ld(b + cv + j * VW) : vf{};
    for (int q = 0; q < NB; ++q) acc[q][j] = bv;
  }
  for (int64_t kh = 0; kh < g.KH; ++kh) {
    const int64_t ir = r * g.sr + g.orr + kh * g.dr;
    if (ir < 0 || ir >= g.Hin) continue;
    const float* inr = in_img + ir * g.Win * g.C + cv;
    const float* wk = w + kh * g.KW * g.C + cv;
    for (int64_t kw = 0; kw < g.KW; ++kw, wk += g.C) {
      vf wv[KBN];
      for (int j = 0; j < KBN; ++j) wv[j] = ld(wk + j * VW);
#pragma GCC unroll 8
      for (int q = 0; q < NB; ++q) {
        const int64_t ic = (c0 + q) * g.sc + g.oc + kw * g.dc;
        if (CHECK && (ic < 0 || ic >= g.Win)) continue;
        const float* xp = inr + ic * g.C;
        for (int j = 0; j < KBN; ++j) acc[q][j] += ld(xp + j * VW) * wv[j];
      }
    }
  }
  for (int q = 0; q < NB; ++q)
    for (int j = 0; j < KBN; ++j) {
      vf v = acc[q][j];
      if (g.relu) {
        const vf z = {};
        v = (v > z) | (v != v) ? v : z;
      }
#if defined(__AVX512F__)
      if (g.stream) {
        _mm512_stream_ps(out_row + (c0 + q) * g.C + cv + j * VW, (__m512)v);
        continue;
      }
#endif
      st(out_row + (c0 + q) * g.C + cv + j * VW, v);
    }
}

// Column block [c, c+NB) of output row r, every channel vector of [0, Cv):
// the block's input pixels stay in L1 across the channel blocks.
template <int NB, bool CHECK>
inline void dw_cols(const DwMap& g, const float* in_img, const float* w, const float* b, float* out_row, int64_t r,
                    int64_t c, int64_t Cv) {
  int64_t cv = 0;
  for (; cv + KB * VW <= Cv; cv += KB * VW) dw_block<NB, KB, CHECK>(g, in_img, w, b, out_row, r, c, cv);
  for (; cv < Cv; cv += VW) dw_block<NB, 1, CHECK>(g, in_img, w, b, out_row, r, c, cv);
}

// Output row r, channels [0, Cv) (Cv a multiple of VW).
void dw_row_vec(const DwMap& g, const float* in_img, const float* w, const float* b, float* out_row, int64_t r,
                int64_t Cv) {
  // interior columns [lo, hi): every tap in range
  const int64_t dmin = g.dc < 0 ? (g.KW - 1) * g.dc : 0, dmax = g.dc > 0 ? (g.KW - 1) * g.dc : 0;
  int64_t lo = 0, hi = g.Wout;
  while (lo < g.Wout && (lo * g.sc + g.oc + dmin < 0 || lo * g.sc + g.oc + dmax >= g.Win)) ++lo;
  while (hi > lo && ((hi - 1) * g.sc + g.oc + dmax >= g.Win || (hi - 1) * g.sc + g.oc + dmin < 0)) --hi;
  int64_t c = 0;
  for (; c < lo; ++c) dw_cols<1, true>(g, in_img, w, b, out_row, r, c, Cv);
  for (; c + P <= hi; c += P) dw_cols<P, false>(g, in_img, w, b, out_row, r, c, Cv);
  for (; c < hi; ++c) dw_cols<1, false>(g, in_img, w, b, out_row, r, c, Cv);
  for (; c < g.Wout; ++c) dw_cols<1, true>(g, in_img, w, b, out_row, r, c, Cv);
}

// All output rows, channels [0, Cv) vectorized.
void dw_vec(const DwMap& g, int64_t N, const float* in, const float* w, const float* b, float* out, int64_t Cv) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t r = 0; r < g.Hout; ++r)
      dw_row_vec(g, in + n * g.Hin * g.Win * g.C, w, b, out + (n * g.Hout + r) * g.Wout * g.C, r, Cv);
#if defined(__AVX512F__)
  if (g.stream) _mm_sfence();
#endif
}
}  // namespace

void conv2d_dw_forward(const Conv2dParams& p, const float* x, const float* w, const float* b, float* y) {
  const int64_t C = p.C, K = p.K, m = K / C;
  if (m == 1 && C >= VW && C % VW == 0) {
    DwMap g{p.H, p.W, p.OH, p.OW, C, p.sh, -p.pad_top, p.dh, p.sw, -p.pad_left, p.dw, p.KH, p.KW,
            p.activation == 1, stream_ok(y, C, p.N * p.OH * p.OW)};
    dw_vec(g, p.N, x, w, b, y, C);
    return;
  }
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
  if (m == 1 && C >= VW && C % VW == 0 && p.sh == 1 && p.sw == 1) {
    // dx[ih, iw] = sum dy[ih + pt - kh*dh, iw + pl - kw*dw] * w[kh, kw]
    DwMap g{p.OH, p.OW, p.H, p.W, C, 1, p.pad_top, -p.dh, 1, p.pad_left, -p.dw, p.KH, p.KW, false,
            stream_ok(dx, C, p.N * p.H * p.W)};
    dw_vec(g, p.N, dy, w, nullptr, dx, C);
    return;
  }
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
