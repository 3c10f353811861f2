// conv2d_small.cpp — direct conv2d for few input channels (first layers),
// compiled once per ISA (see isa.h). Declarations: conv2d_small_isa.h.
//
// With C = 1..4 the im2col GEMM has a tiny inner dimension (KH*KW*C = 25..363)
// and an im2col matrix KH*KW times larger than x; these kernels read x in place
// instead and vectorize over the output channels K:
//
//   forward: for one output row (n, oh), a block of P output pixels and KB
//     vectors of K, acc[P][KB] += x[pixel p, tap] (broadcast) * wp[tap][KB vectors]
//     over all taps (kh, kw, c); KB loads + P broadcasts feed P*KB FMAs.
//     Bias and relu are applied in registers before the single store.
//   backward_filter: for one output row, a block of T taps and KB vectors of K,
//     acc[T][KB] += x[pixel, tap t] (broadcast) * dy[pixel][KB vectors] over the
//     row's pixels, then added to the thread's partial dW (threads own fixed,
//     contiguous ranges of rows; one ordered reduction at the end: deterministic
//     for a given thread count).
//
// Padding: for each output row the KH input rows are either used in place
// (in range, no left/right padding needed) or copied once into a zero-padded
// row buffer (Wneed*C floats), so the inner loops never test bounds.
#include <omp.h>

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "../../common.h"
#include "../../isa.h"
#include "conv2d_small_isa.h"

namespace pcn {
namespace PCN_ISA_NS {
namespace {

#if defined(__AVX512F__)
constexpr int VW = 16, NACC = 24;  // 32 zmm: 24 accumulators + weights/broadcast
constexpr int KBMAX = 6;           // vectors of K per forward block (K = 96 in one pass)
#elif defined(__AVX2__)
constexpr int VW = 8, NACC = 12;   // 16 ymm
constexpr int KBMAX = 4;
#else
constexpr int VW = 4, NACC = 12;   // 16 xmm
constexpr int KBMAX = 4;
#endif
constexpr int KBF = 4;             // vectors of K per backward-filter block

#include "vec.h"  // vf, loadu, storeu, relu, store_part for this build's VW


inline int64_t wneed(const Conv2dParams& p) { return (p.OW - 1) * p.sw + (p.KW - 1) * p.dw + 1; }

// rows[kh] -> input row ih = oh*sh - pt + kh*dh, starting at iw = -pl, with
// Wn*C readable floats (zero outside the image). buf holds KH padded rows,
// then one zero row.
void make_rows(const Conv2dParams& p, const float* x, int64_t n, int64_t oh, int64_t Wn, float* buf,
               const float** rows) {
  const int64_t C = p.C, L = Wn * C;
  float* zero = buf + p.KH * L;
  const bool inplace_cols = p.pad_left == 0 && Wn <= p.W;
  for (int64_t kh = 0; kh < p.KH; ++kh) {
    const int64_t ih = oh * p.sh - p.pad_top + kh * p.dh;
    if (ih < 0 || ih >= p.H) {
      rows[kh] = zero;
      continue;
    }
    const float* xr = x + ((n * p.H + ih) * p.W) * C;
    if (inplace_cols) {
      rows[kh] = xr;
      continue;
    }
    float* d = buf + kh * L;
    const int64_t lo = p.pad_left;                                         // first in-image column of d
    const int64_t hi = p.pad_left + p.W < Wn ? p.pad_left + p.W : Wn;    // one past the last
    if (lo >= Wn) {
      rows[kh] = zero;
      continue;
    }
    std::memset(d, 0, sizeof(float) * size_t(lo * C));
    std::memcpy(d + lo * C, xr, sizeof(float) * size_t((hi - lo) * C));
    std::memset(d + hi * C, 0, sizeof(float) * size_t((Wn - hi) * C));
    rows[kh] = d;
  }
}

// P output pixels starting at ow0, KB vectors of K starting at k0 (nk = valid
// lanes in the block, <= KB*VW).
template <int KB, int P>
inline void fwd_block(const Conv2dParams& p, const float* const* rows, const float* wp, const float* bp, int64_t Kp,
                      int64_t ow0, int64_t k0, int64_t nk, float* yrow, bool stream) {
  const int64_t C = p.C, xs = p.sw * C, KWC = p.KW * C;
  vf acc[P][KB];
  for (int j = 0; j < KB; ++j) {
    const vf b = loadu(bp + k0 + j * VW);
    for (int q = 0; q < P; ++q) acc[q][j] = b;
  }
  const float* w = wp + k0;
  // dw == 1: the taps (kw, c) of one kh are KW*C consecutive floats of the row.
  const int64_t nin = p.dw == 1 ? KWC : C, nout = p.dw == 1 ? 1 : p.KW;
  for (int64_t kh = 0; kh < p.KH; ++kh) {
    const float* r = rows[kh] + ow0 * xs;
    for (int64_t kw = 0; kw < nout; ++kw) {
      const float* rk = r + kw * p.dw * C;
      for (int64_t c = 0; c < nin; ++c, w += Kp) {
        vf wv[KB];
        for (int j = 0; j < KB; ++j) wv[j] = loadu(w + j * VW);
#pragma GCC unroll 32
        for (int q = 0; q < P; ++q) {
          const float xv = rk[q * xs + c];
          for (int j = 0; j < KB; ++j) acc[q][j] += xv * wv[j];
        }
      }
    }
  }
  const bool act = p.activation == 1;
  for (int q = 0; q < P; ++q) {
    float* yp = yrow + (ow0 + q) * p.K + k0;
    for (int j = 0; j < KB; ++j) {
      const vf v = act ? relu(acc[q][j]) : acc[q][j];
#if defined(__AVX512F__)
      if (stream) {  // aligned full vectors (checked by the caller)
        _mm512_stream_ps(yp + j * VW, (__m512)v);
        continue;
      }
#endif
      if (nk >= (j + 1) * VW) storeu(yp + j * VW, v);
      else store_part(yp + j * VW, v, nk - j * VW);
    }
  }
}

template <int KB>
void fwd_row(const Conv2dParams& p, const float* const* rows, const float* wp, const float* bp, int64_t Kp,
             int64_t k0, int64_t nk, float* yrow, bool stream) {
  constexpr int P = NACC / KB < 12 ? NACC / KB : 12;  // the P row offsets stay in registers
  int64_t ow = 0;
  // Blocks of P and P-1 pixels cover OW with no single-pixel tail when they can
  // (a P = 1 block has only KB accumulators: FMA-latency bound).
  const int64_t nb = (p.OW + P - 1) / P, nsmall = nb * P - p.OW;
  if (P > 2 && nsmall > 0 && nsmall <= nb) {
    for (int64_t i = 0; i < nb - nsmall; ++i, ow += P) fwd_block<KB, P>(p, rows, wp, bp, Kp, ow, k0, nk, yrow, stream);
    for (int64_t i = 0; i < nsmall; ++i, ow += P - 1)
      fwd_block<KB, (P > 2 ? P - 1 : 1)>(p, rows, wp, bp, Kp, ow, k0, nk, yrow, stream);
    return;
  }
  for (; ow + P <= p.OW; ow += P) fwd_block<KB, P>(p, rows, wp, bp, Kp, ow, k0, nk, yrow, stream);
  for (; ow < p.OW; ++ow) fwd_block<KB, 1>(p, rows, wp, bp, Kp, ow, k0, nk, yrow, stream);
}

#if defined(__AVX512F__)
// K <= 8, C == 1, sw == 1 (LeNet's 1->6 5x5): K-vectors would leave most lanes
// idle, so vectorize over 16 output pixels instead: acc[k] (16 pixels) +=
// x[row kh][ow0 + kw*dw .. +16] * w[kh][kw][k] (broadcast), then interleave the
// KK vectors into y's (pixel, k) order with vpermt2ps (idx/msk from the caller).
template <int KK>
void fwd_row_ow(const Conv2dParams& p, const float* const* rows, const float* w, int64_t Kp, const float* bp,
                float* yrow, const __m512i* idx, const __mmask16* msk) {
  const bool act = p.activation == 1;
  for (int64_t ow0 = 0; ow0 < p.OW; ow0 += 16) {
    const int64_t n = p.OW - ow0 < 16 ? p.OW - ow0 : 16;
    const __mmask16 lm = __mmask16((1u << n) - 1u);
    __m512 acc[KK];
    for (int k = 0; k < KK; ++k) acc[k] = _mm512_set1_ps(bp[k]);
    const float* wk = w;
    for (int64_t kh = 0; kh < p.KH; ++kh) {
      const float* r = rows[kh] + ow0;
      for (int64_t kw = 0; kw < p.KW; ++kw, wk += Kp) {
        const __m512 xv = n == 16 ? _mm512_loadu_ps(r + kw * p.dw) : _mm512_maskz_loadu_ps(lm, r + kw * p.dw);
        for (int k = 0; k < KK; ++k) acc[k] = _mm512_fmadd_ps(xv, _mm512_set1_ps(wk[k]), acc[k]);
      }
    }
    if (act)
      for (int k = 0; k < KK; ++k) acc[k] = (__m512)relu((vf)acc[k]);
    float* yp = yrow + ow0 * KK;
    const int64_t total = n * KK;
    for (int v = 0; v < KK; ++v) {
      __m512 o = _mm512_setzero_ps();
      for (int kp = 0; kp < (KK + 1) / 2; ++kp) {
        const __m512 hi = 2 * kp + 1 < KK ? acc[2 * kp + 1] : acc[2 * kp];
        o = _mm512_mask_mov_ps(o, msk[v * 4 + kp], _mm512_permutex2var_ps(acc[2 * kp], idx[v], hi));
      }
      const int64_t f0 = int64_t(v) * 16;
      if (f0 >= total) break;
      if (f0 + 16 <= total) _mm512_storeu_ps(yp + f0, o);
      else _mm512_mask_storeu_ps(yp + f0, __mmask16((1u << (total - f0)) - 1u), o);
    }
  }
}
#endif

// acc[T][KB] over the pixels of one output row for taps [t0, t0+T), then into part.
template <int KB, int T>
inline void bwf_block(const Conv2dParams& p, const float* const* rows, const int64_t* taps, const float* dyr,
                      int64_t dys, int64_t t0, int64_t k0, float* part, int64_t Kp) {
  const float* xp[T];
  for (int t = 0; t < T; ++t) xp[t] = rows[taps[2 * (t0 + t)]] + taps[2 * (t0 + t) + 1];
  const int64_t xs = p.sw * p.C;
  vf acc[T][KB];
  for (int t = 0; t < T; ++t)
    for (int j = 0; j < KB; ++j) acc[t][j] = vf{};
  const float* d = dyr + k0;
  for (int64_t ow = 0; ow < p.OW; ++ow, d += dys) {
    vf dv[KB];
    for (int j = 0; j < KB; ++j) dv[j] = loadu(d + j * VW);
    const int64_t o = ow * xs;
#pragma GCC unroll 32
    for (int t = 0; t < T; ++t) {
      const float xv = xp[t][o];
      for (int j = 0; j < KB; ++j) acc[t][j] += xv * dv[j];
    }
  }
  for (int t = 0; t < T; ++t) {
    float* pp = part + (t0 + t) * Kp + k0;
    for (int j = 0; j < KB; ++j) storeu(pp + j * VW, loadu(pp + j * VW) + acc[t][j]);
  }
}

template <int KB>
void bwf_row(const Conv2dParams& p, const float* const* rows, const int64_t* taps, int64_t KKC, const float* dyr,
             int64_t dys, int64_t k0, float* part, int64_t Kp) {
  constexpr int T = NACC / KB < 10 ? NACC / KB : 10;  // the T tap pointers stay in registers
  int64_t t = 0;
  for (; t + T <= KKC; t += T) bwf_block<KB, T>(p, rows, taps, dyr, dys, t, k0, part, Kp);
  for (; t < KKC; ++t) bwf_block<KB, 1>(p, rows, taps, dyr, dys, t, k0, part, Kp);
}

#if defined(__AVX512F__)
// Backward-filter, K <= 8, C == 1, stride_w 1 (LeNet c1): vectors over 16 output
// pixels. Per output row: de-interleave dy's row into dT[k][OWr] (vpermt2ps; zero
// past OW), then for blocks of TB taps: acc[t][k] (16 pixels) += x[tap t] * dT[k]
// over the row in registers, added into the thread's vector partials
// vpart[tap][k][16]; one horizontal sum per (tap, k) at the end.
template <int KK, int TB>
inline void bwf_ow_tile(const Conv2dParams& p, const float* const* rows, const int64_t* taps, int64_t t0,
                        const float* dT, int64_t OWr, float* vpart) {
  const float* xp[TB];
  for (int t = 0; t < TB; ++t) xp[t] = rows[taps[2 * (t0 + t)]] + taps[2 * (t0 + t) + 1];
  __m512 acc[TB][KK];
  for (int t = 0; t < TB; ++t)
    for (int k = 0; k < KK; ++k) acc[t][k] = _mm512_setzero_ps();
  for (int64_t ow0 = 0; ow0 < p.OW; ow0 += 16) {
    const int64_t n = p.OW - ow0 < 16 ? p.OW - ow0 : 16;
    const __mmask16 lm = __mmask16((1u << n) - 1u);
    __m512 dv[KK];
    for (int k = 0; k < KK; ++k) dv[k] = _mm512_loadu_ps(dT + k * OWr + ow0);
#pragma GCC unroll 32
    for (int t = 0; t < TB; ++t) {
      const __m512 xv = n == 16 ? _mm512_loadu_ps(xp[t] + ow0) : _mm512_maskz_loadu_ps(lm, xp[t] + ow0);
      for (int k = 0; k < KK; ++k) acc[t][k] = _mm512_fmadd_ps(xv, dv[k], acc[t][k]);
    }
  }
  for (int t = 0; t < TB; ++t)
    for (int k = 0; k < KK; ++k) {
      float* v = vpart + ((t0 + t) * KK + k) * 16;
      _mm512_storeu_ps(v, _mm512_add_ps(_mm512_loadu_ps(v), acc[t][k]));
    }
}

template <int KK>
void bwf_ow(const Conv2dParams& p, const float* x, const float* dy, int64_t lo, int64_t hi, const __m512i* idx,
            const __mmask16* msk, float* scratch, int64_t Wn, float* buf, const float** rows, const int64_t* taps,
            float* part, int64_t Kp) {
  constexpr int TB = 24 / KK < 8 ? 24 / KK : 8;
  const int64_t ntaps = p.KH * p.KW, OWr = (p.OW + 15) / 16 * 16;
  float* dT = scratch;
  float* vpart = scratch + KK * OWr;
  std::memset(vpart, 0, sizeof(float) * size_t(ntaps * KK * 16));
  for (int64_t r = lo; r < hi; ++r) {
    make_rows(p, x, r / p.OH, r % p.OH, Wn, buf, rows);
    for (int64_t ow0 = 0; ow0 < OWr; ow0 += 16) {
      const int64_t n = p.OW - ow0 < 16 ? p.OW - ow0 : 16;
      const int64_t total = n * KK;
      const float* src = dy + (r * p.OW + ow0) * KK;
      __m512 in[KK + (KK & 1)];
      for (int v = 0; v < KK + (KK & 1); ++v) {
        const int64_t f0 = int64_t(v) * 16;
        in[v] = f0 + 16 <= total ? _mm512_loadu_ps(src + f0)
                : f0 < total    ? _mm512_maskz_loadu_ps(__mmask16((1u << (total - f0)) - 1u), src + f0)
                                : _mm512_setzero_ps();
      }
      for (int k = 0; k < KK; ++k) {
        __m512 o = _mm512_setzero_ps();
        for (int q = 0; q < (KK + 1) / 2; ++q)
          o = _mm512_mask_mov_ps(o, msk[k * 4 + q], _mm512_permutex2var_ps(in[2 * q], idx[k], in[2 * q + 1]));
        _mm512_storeu_ps(dT + k * OWr + ow0, o);
      }
    }
    int64_t t0 = 0;
    for (; t0 + TB <= ntaps; t0 += TB) bwf_ow_tile<KK, TB>(p, rows, taps, t0, dT, OWr, vpart);
    for (; t0 < ntaps; ++t0) bwf_ow_tile<KK, 1>(p, rows, taps, t0, dT, OWr, vpart);
  }
  for (int64_t t = 0; t < ntaps; ++t)
    for (int k = 0; k < KK; ++k) part[t * Kp + k] = _mm512_reduce_add_ps(_mm512_loadu_ps(vpart + (t * KK + k) * 16));
}
#endif

}  // namespace

void conv2d_small_forward(const Conv2dParams& p, const float* x, const float* wp, const float* bp, float* y,
                          int64_t Kp, float* rowbuf, const float** rowptr, int nt) {
  const int64_t Wn = wneed(p), rowfl = (p.KH + 1) * Wn * p.C;
  const int64_t nrows = p.N * p.OH;
  // Outputs well beyond the caches: non-temporal stores (no read-for-ownership of y).
  // Measured: a win at 18.6 MB (AlexNet conv1), a loss at 12.8 MB (the 1->64 layer).
  const bool stream = VW == 16 && p.K % 16 == 0 && (reinterpret_cast<uintptr_t>(y) & 63) == 0 &&
                      nrows * p.OW * p.K * 4 >= (int64_t(16) << 20);
#if defined(__AVX512F__)
  if (p.K <= 8 && p.C == 1 && p.sw == 1) {
    // interleave tables: output vector v, lane e holds flat f = 16v + e = pixel i * K + k
    const int KK = int(p.K);
    __m512i idx[8];
    __mmask16 msk[32];
    for (int v = 0; v < KK; ++v) {
      alignas(64) int32_t ix[16];
      unsigned m[4] = {0, 0, 0, 0};
      for (int e = 0; e < 16; ++e) {
        const int f = 16 * v + e, i = f / KK, k = f % KK;
        ix[e] = (i & 15) + 16 * (k & 1);
        m[k / 2] |= 1u << e;
      }
      idx[v] = _mm512_load_si512(ix);
      for (int kp = 0; kp < 4; ++kp) msk[v * 4 + kp] = __mmask16(m[kp]);
    }
#pragma omp parallel num_threads(nt)
    {
      const int t = omp_get_thread_num();
      float* buf = rowbuf + t * rowfl;
      const float** rows = rowptr + t * p.KH;
      std::memset(buf + p.KH * Wn * p.C, 0, sizeof(float) * size_t(Wn * p.C));
#pragma omp for schedule(static)
      for (int64_t r = 0; r < nrows; ++r) {
        make_rows(p, x, r / p.OH, r % p.OH, Wn, buf, rows);
        float* yrow = y + r * p.OW * p.K;
        switch (KK) {
          case 1: fwd_row_ow<1>(p, rows, wp, Kp, bp, yrow, idx, msk); break;
          case 2: fwd_row_ow<2>(p, rows, wp, Kp, bp, yrow, idx, msk); break;
          case 3: fwd_row_ow<3>(p, rows, wp, Kp, bp, yrow, idx, msk); break;
          case 4: fwd_row_ow<4>(p, rows, wp, Kp, bp, yrow, idx, msk); break;
          case 5: fwd_row_ow<5>(p, rows, wp, Kp, bp, yrow, idx, msk); break;
          case 6: fwd_row_ow<6>(p, rows, wp, Kp, bp, yrow, idx, msk); break;
          case 7: fwd_row_ow<7>(p, rows, wp, Kp, bp, yrow, idx, msk); break;
          default: fwd_row_ow<8>(p, rows, wp, Kp, bp, yrow, idx, msk); break;
        }
      }
    }
    return;
  }
#endif
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num();
    float* buf = rowbuf + t * rowfl;
    const float** rows = rowptr + t * p.KH;
    std::memset(buf + p.KH * Wn * p.C, 0, sizeof(float) * size_t(Wn * p.C));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < nrows; ++r) {
      const int64_t n = r / p.OH, oh = r % p.OH;
      make_rows(p, x, n, oh, Wn, buf, rows);
      float* yrow = y + r * p.OW * p.K;
      for (int64_t k0 = 0; k0 < p.K; k0 += KBMAX * VW) {
        const int64_t nk = p.K - k0 < KBMAX * VW ? p.K - k0 : KBMAX * VW;
        switch ((nk + VW - 1) / VW) {
          case 1: fwd_row<1>(p, rows, wp, bp, Kp, k0, nk, yrow, stream); break;
          case 2: fwd_row<2>(p, rows, wp, bp, Kp, k0, nk, yrow, stream); break;
          case 3: fwd_row<3>(p, rows, wp, bp, Kp, k0, nk, yrow, stream); break;
#if defined(__AVX512F__)
          case 4: fwd_row<4>(p, rows, wp, bp, Kp, k0, nk, yrow, stream); break;
          case 5: fwd_row<5>(p, rows, wp, bp, Kp, k0, nk, yrow, stream); break;
          default: fwd_row<6>(p, rows, wp, bp, Kp, k0, nk, yrow, stream); break;
#else
          default: fwd_row<4>(p, rows, wp, bp, Kp, k0, nk, yrow, stream); break;
#endif
        }
      }
    }
#if defined(__AVX512F__)
    if (stream) _mm_sfence();
#endif
  }
}

void conv2d_small_backward_filter(const Conv2dParams& p, const float* dy, const float* x, float* dw,
                                  bool accumulate, int64_t Kp, float* part, float* dyrow, float* rowbuf,
                                  const float** rowptr, int64_t* taps, float* dyt, int64_t dyt_per_thread,
                                  int nt) {
  const int64_t Wn = wneed(p), rowfl = (p.KH + 1) * Wn * p.C;
  const int64_t KKC = p.KH * p.KW * p.C, WS = KKC * Kp;
  const int64_t nrows = p.N * p.OH;
  for (int64_t kh = 0, t = 0; kh < p.KH; ++kh)
    for (int64_t kw = 0; kw < p.KW; ++kw)
      for (int64_t c = 0; c < p.C; ++c, ++t) {
        taps[2 * t] = kh;
        taps[2 * t + 1] = kw * p.dw * p.C + c;
      }
  const bool padk = Kp != p.K;
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num(), T = omp_get_num_threads();
    float* buf = rowbuf + t * rowfl;
    const float** rows = rowptr + t * p.KH;
    float* acc = part + t * WS;
    float* dyr_buf = dyrow + t * p.OW * Kp;
    std::memset(buf + p.KH * Wn * p.C, 0, sizeof(float) * size_t(Wn * p.C));
    std::memset(acc, 0, sizeof(float) * size_t(WS));
    if (padk) std::memset(dyr_buf, 0, sizeof(float) * size_t(p.OW * Kp));
    const int64_t lo = nrows * t / T, hi = nrows * (t + 1) / T;  // fixed ranges: deterministic
#if defined(__AVX512F__)
    const int64_t OWr = (p.OW + 15) / 16 * 16;
    if (dyt && p.K <= 8 && p.C == 1 && p.sw == 1 && p.K * OWr + p.KH * p.KW * p.K * 16 <= dyt_per_thread) {
      float* dt = dyt + t * dyt_per_thread;
      // lane i of dT[k] is flat f = i*K + k of a 16-pixel run: input pair q = f / 32, index f % 32
      const int KK = int(p.K);
      __m512i idx[8];
      __mmask16 msk[32];
      for (int k = 0; k < KK; ++k) {
        alignas(64) int32_t ix[16];
        unsigned m[4] = {0, 0, 0, 0};
        for (int i = 0; i < 16; ++i) {
          const int f = i * KK + k;
          ix[i] = f % 32;
          m[f / 32] |= 1u << i;
        }
        idx[k] = _mm512_load_si512(ix);
        for (int q = 0; q < 4; ++q) msk[k * 4 + q] = __mmask16(m[q]);
      }
      switch (KK) {
        case 1: bwf_ow<1>(p, x, dy, lo, hi, idx, msk, dt, Wn, buf, rows, taps, acc, Kp); break;
        case 2: bwf_ow<2>(p, x, dy, lo, hi, idx, msk, dt, Wn, buf, rows, taps, acc, Kp); break;
        case 3: bwf_ow<3>(p, x, dy, lo, hi, idx, msk, dt, Wn, buf, rows, taps, acc, Kp); break;
        case 4: bwf_ow<4>(p, x, dy, lo, hi, idx, msk, dt, Wn, buf, rows, taps, acc, Kp); break;
        case 5: bwf_ow<5>(p, x, dy, lo, hi, idx, msk, dt, Wn, buf, rows, taps, acc, Kp); break;
        case 6: bwf_ow<6>(p, x, dy, lo, hi, idx, msk, dt, Wn, buf, rows, taps, acc, Kp); break;
        case 7: bwf_ow<7>(p, x, dy, lo, hi, idx, msk, dt, Wn, buf, rows, taps, acc, Kp); break;
        default: bwf_ow<8>(p, x, dy, lo, hi, idx, msk, dt, Wn, buf, rows, taps, acc, Kp); break;
      }
    } else
#endif
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t n = r / p.OH, oh = r % p.OH;
      make_rows(p, x, n, oh, Wn, buf, rows);
      const float* dyr = dy + r * p.OW * p.K;
      int64_t dys = p.K;
      if (padk) {  // vector loads of the last K block must not run past dy
        for (int64_t ow = 0; ow < p.OW; ++ow)
          std::memcpy(dyr_buf + ow * Kp, dyr + ow * p.K, sizeof(float) * size_t(p.K));
        dyr = dyr_buf;
        dys = Kp;
      }
      for (int64_t k0 = 0; k0 < p.K; k0 += KBF * VW) {
        const int64_t nk = p.K - k0 < KBF * VW ? p.K - k0 : KBF * VW;
        switch ((nk + VW - 1) / VW) {
          case 1: bwf_row<1>(p, rows, taps, KKC, dyr, dys, k0, acc, Kp); break;
          case 2: bwf_row<2>(p, rows, taps, KKC, dyr, dys, k0, acc, Kp); break;
          case 3: bwf_row<3>(p, rows, taps, KKC, dyr, dys, k0, acc, Kp); break;
          default: bwf_row<4>(p, rows, taps, KKC, dyr, dys, k0, acc, Kp); break;
        }
      }
    }
#pragma omp barrier
#pragma omp for schedule(static)
    for (int64_t tap = 0; tap < KKC; ++tap)
      for (int64_t k = 0; k < p.K; ++k) {
        float s = accumulate ? dw[tap * p.K + k] : 0.f;
        for (int u = 0; u < T; ++u) s += part[u * WS + tap * Kp + k];
        dw[tap * p.K + k] = s;
      }
  }
}

}  // namespace PCN_ISA_NS
}  // namespace pcn

namespace pcn {
namespace PCN_ISA_NS {

bool conv2d_small_backward_input(const Conv2dParams& p, const float* dy, const float* w, float* dx, float* scratch,
                                 int64_t per_thread, int nt) {
#if defined(__AVX512F__)
  if (!(p.groups == 1 && p.C == 1 && p.K <= 8 && p.sh == 1 && p.sw == 1)) return false;
  const int64_t K = p.K, pl = p.pad_left;
  const int64_t ML = (p.KW - 1) * p.dw > pl ? (p.KW - 1) * p.dw - pl : 0;
  const int64_t Wr = (p.W + 15) / 16 * 16, OWr = (p.OW + 15) / 16 * 16;
  const int64_t BW = (Wr + pl > OWr ? Wr + pl : OWr) + ML + 16;
  if (p.OH * K * BW > per_thread) return false;
  // de-interleave tables (as in the backward-filter): lane i of row k is flat i*K + k
  const int KK = int(K);
  __m512i idx[8];
  __mmask16 msk[32];
  for (int k = 0; k < KK; ++k) {
    alignas(64) int32_t ix[16];
    unsigned m[4] = {0, 0, 0, 0};
    for (int i = 0; i < 16; ++i) {
      const int f = i * KK + k;
      ix[i] = f % 32;
      m[f / 32] |= 1u << i;
    }
    idx[k] = _mm512_load_si512(ix);
    for (int q = 0; q < 4; ++q) msk[k * 4 + q] = __mmask16(m[q]);
  }
#pragma omp parallel num_threads(nt)
  {
    float* dT = scratch + omp_get_thread_num() * per_thread;
#pragma omp for schedule(static)
    for (int64_t n = 0; n < p.N; ++n) {
      // dT[oh][k][BW]: column ML + ow holds dy[n, oh, ow, k]; zero elsewhere
      for (int64_t oh = 0; oh < p.OH; ++oh) {
        float* rowk = dT + oh * K * BW;
        for (int64_t ow0 = 0; ow0 < p.OW; ow0 += 16) {
          const int64_t cnt = p.OW - ow0 < 16 ? p.OW - ow0 : 16, total = cnt * KK;
          const float* src = dy + ((n * p.OH + oh) * p.OW + ow0) * K;
          __m512 in[8];
          for (int v = 0; v < KK + (KK & 1); ++v) {
            const int64_t f0 = int64_t(v) * 16;
            in[v] = f0 + 16 <= total ? _mm512_loadu_ps(src + f0)
                    : f0 < total    ? _mm512_maskz_loadu_ps(__mmask16((1u << (total - f0)) - 1u), src + f0)
                                    : _mm512_setzero_ps();
          }
          for (int k = 0; k < KK; ++k) {
            __m512 o = _mm512_setzero_ps();
            for (int q = 0; q < (KK + 1) / 2; ++q)
              o = _mm512_mask_mov_ps(o, msk[k * 4 + q], _mm512_permutex2var_ps(in[2 * q], idx[k], in[2 * q + 1]));
            _mm512_storeu_ps(rowk + k * BW + ML + ow0, o);
          }
        }
        for (int64_t k = 0; k < K; ++k) {
          std::memset(rowk + k * BW, 0, sizeof(float) * size_t(ML));
          std::memset(rowk + k * BW + ML + p.OW, 0, sizeof(float) * size_t(BW - ML - p.OW));
        }
      }
      // dx[n, ih, iw] = sum_{kh, kw, k} dT[ih + pt - kh*dh][k][iw + pl - kw*dw + ML] * w[kh, kw, k]
      for (int64_t ih = 0; ih < p.H; ++ih) {
        float* dxr = dx + (n * p.H + ih) * p.W;
        for (int64_t iw0 = 0; iw0 < p.W; iw0 += 64) {
          __m512 a0[4], a1[4];
          for (int j = 0; j < 4; ++j) a0[j] = a1[j] = _mm512_setzero_ps();
          const int64_t nv = (p.W - iw0 + 15) / 16 < 4 ? (p.W - iw0 + 15) / 16 : 4;
          for (int64_t kh = 0; kh < p.KH; ++kh) {
            const int64_t oh = ih + p.pad_top - kh * p.dh;
            if (oh < 0 || oh >= p.OH) continue;
            const float* rowk = dT + oh * K * BW;
            for (int64_t kw = 0; kw < p.KW; ++kw) {
              const float* base = rowk + iw0 + pl - kw * p.dw + ML;
              const float* wk = w + (kh * p.KW + kw) * K;
              int64_t k = 0;
              for (; k + 1 < K; k += 2) {  // two accumulator sets: twice the FMA chains
                const __m512 w0 = _mm512_set1_ps(wk[k]), w1 = _mm512_set1_ps(wk[k + 1]);
                for (int j = 0; j < 4; ++j) {
                  if (j >= nv) break;
                  a0[j] = _mm512_fmadd_ps(_mm512_loadu_ps(base + k * BW + 16 * j), w0, a0[j]);
                  a1[j] = _mm512_fmadd_ps(_mm512_loadu_ps(base + (k + 1) * BW + 16 * j), w1, a1[j]);
                }
              }
              if (k < K) {
                const __m512 w0 = _mm512_set1_ps(wk[k]);
                for (int j = 0; j < 4; ++j) {
                  if (j >= nv) break;
                  a0[j] = _mm512_fmadd_ps(_mm512_loadu_ps(base + k * BW + 16 * j), w0, a0[j]);
                }
              }
            }
          }
          for (int j = 0; j < nv; ++j) {
            const int64_t iw = iw0 + 16 * j, cnt = p.W - iw < 16 ? p.W - iw : 16;
            const __m512 v = _mm512_add_ps(a0[j], a1[j]);
            if (cnt == 16) _mm512_storeu_ps(dxr + iw, v);
            else _mm512_mask_storeu_ps(dxr + iw, __mmask16((1u << cnt) - 1u), v);
          }
        }
      }
    }
  }
  return true;
#else
  (void)p; (void)dy; (void)w; (void)dx; (void)scratch; (void)per_thread; (void)nt;
  return false;
#endif
}

}  // namespace PCN_ISA_NS
}  // namespace pcn
