// isa/rnn.cpp — packed small-M matrix product for the recurrent step (see
// rnn_isa.h). Compiled once per ISA; plain loops with fixed trip counts that
// the compiler turns into register-blocked FMAs (MB rows x 32 columns).
#include <omp.h>

#include <cmath>
#include <cstdint>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "../../math_hd.h"
#include "rnn_isa.h"

namespace pcn {
namespace PCN_ISA_NS {

namespace {
constexpr int64_t NB = kRnnPanel;
#if defined(__AVX512F__)
constexpr int64_t MB = 8;  // 8 x 32 accumulators = 16 zmm
#elif defined(__AVX2__)
constexpr int64_t MB = 3;  // 3 x 32 = 12 ymm
#else
constexpr int64_t MB = 2;
#endif

// rows [i0, i0+MBr) x panel jb; full panel of NB columns computed, ncols stored.
// A second product A2 (MBr,K2) @ bp2 (K2 = 0: none) accumulates into the same
// registers before the store: C = A bp + A2 bp2 in one pass over C.
template <int64_t MBr>
inline void block(int64_t K, const float* A, int64_t lda, const float* bp, bool acc_c, float* C, int64_t ldc,
                  int64_t ncols, int64_t K2 = 0, const float* A2 = nullptr, int64_t lda2 = 0,
                  const float* bp2 = nullptr) {
  float acc[MBr][NB];
  for (int64_t r = 0; r < MBr; ++r)
    for (int64_t j = 0; j < NB; ++j) acc[r][j] = 0.f;
  for (int64_t k = 0; k < K; ++k) {
    const float* b = bp + k * NB;
    for (int64_t r = 0; r < MBr; ++r) {
      const float a = A[r * lda + k];
      for (int64_t j = 0; j < NB; ++j) acc[r][j] += a * b[j];
    }
  }
  for (int64_t k = 0; k < K2; ++k) {
    const float* b = bp2 + k * NB;
    for (int64_t r = 0; r < MBr; ++r) {
      const float a = A2[r * lda2 + k];
      for (int64_t j = 0; j < NB; ++j) acc[r][j] += a * b[j];
    }
  }
  for (int64_t r = 0; r < MBr; ++r) {
    float* c = C + r * ldc;
    if (acc_c)
      for (int64_t j = 0; j < ncols; ++j) c[j] += acc[r][j];
    else
      for (int64_t j = 0; j < ncols; ++j) c[j] = acc[r][j];
  }
}
}  // namespace

void rnn_pack_b(const float* B, int64_t ldb, bool trans, int64_t K, int64_t Nc, float* Bp) {
  const int64_t np = (Nc + NB - 1) / NB;
#pragma omp parallel for schedule(static) if (K * Nc >= (1 << 16) && !omp_in_parallel())
  for (int64_t jb = 0; jb < np; ++jb) {
    float* dst = Bp + jb * K * NB;
    for (int64_t k = 0; k < K; ++k)
      for (int64_t jj = 0; jj < NB; ++jj) {
        const int64_t j = jb * NB + jj;
        dst[k * NB + jj] = j < Nc ? (trans ? B[j * ldb + k] : B[k * ldb + j]) : 0.f;
      }
  }
}

void rnn_gemm_packed2(int64_t M, int64_t Nc, int64_t K, const float* A, int64_t lda, const float* Bp, int64_t K2,
                      const float* A2, int64_t lda2, const float* Bp2, bool accumulate, float* C, int64_t ldc) {
  if (M <= 0 || Nc <= 0) return;
  const int64_t np = (Nc + NB - 1) / NB, nm = (M + MB - 1) / MB;
  const bool par = !omp_in_parallel() && omp_get_max_threads() > 1 && M * Nc * (K + K2) >= (1 << 17);
#pragma omp parallel for schedule(static) collapse(2) if (par)
  for (int64_t jb = 0; jb < np; ++jb)
    for (int64_t ib = 0; ib < nm; ++ib) {
      const int64_t i0 = ib * MB, j0 = jb * NB;
      const int64_t ncols = Nc - j0 < NB ? Nc - j0 : NB;
      const float* bp = Bp + jb * K * NB;
      const float* bp2 = K2 > 0 ? Bp2 + jb * K2 * NB : nullptr;
      const float* a = A + i0 * lda;
      const float* a2 = K2 > 0 ? A2 + i0 * lda2 : nullptr;
      float* c = C + i0 * ldc + j0;
      const int64_t rows = M - i0 < MB ? M - i0 : MB;
      if (rows == MB) {
        block<MB>(K, a, lda, bp, accumulate, c, ldc, ncols, K2, a2, lda2, bp2);
      } else {
        for (int64_t r = 0; r < rows; ++r)
          block<1>(K, a + r * lda, lda, bp, accumulate, c + r * ldc, ldc, ncols, K2, K2 > 0 ? a2 + r * lda2 : nullptr,
                   lda2, bp2);
      }
    }
}

void rnn_gemm_packed(int64_t M, int64_t Nc, int64_t K, const float* A, int64_t lda, const float* Bp,
                     bool accumulate, float* C, int64_t ldc) {
  rnn_gemm_packed2(M, Nc, K, A, lda, Bp, 0, nullptr, 0, nullptr, accumulate, C, ldc);
}

// ---------------------------------------------------------------- gate math
namespace {
#include "../../math_gate.h"

#if defined(__AVX512F__)
// 16-lane versions of vexp / vsigmoid / vtanh (same polynomials; the
// divisions become a 14-bit reciprocal + one Newton step, ~1e-8 relative).
inline __m512 rcp_nr(__m512 d) {
  const __m512 r = _mm512_rcp14_ps(d);
  return _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(1.f)), r);
}
inline __m512 vexp16(__m512 x0) {
  __m512 x = _mm512_min_ps(x0, _mm512_set1_ps(88.f));  // NaN -> 88 (restored below)
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.f));
  const __m512 fi = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(fi, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(fi, _mm512_set1_ps(-2.12194440e-4f), r);
  const __m512 z = _mm512_mul_ps(r, r);
  __m512 y = _mm512_set1_ps(1.9875691500e-4f);
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.3981999507e-3f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(8.3334519073e-3f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(4.1665795894e-2f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.6666665459e-1f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.0000001201e-1f));
  y = _mm512_add_ps(_mm512_fmadd_ps(y, z, r), _mm512_set1_ps(1.f));
  y = _mm512_scalef_ps(y, fi);
  return _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x0, x0, _CMP_UNORD_Q), x0);
}
inline __m512 vsigmoid16(__m512 x) {
  return rcp_nr(_mm512_add_ps(_mm512_set1_ps(1.f), vexp16(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}
inline __m512 vtanh16(__m512 x) {
  const __m512 c = _mm512_set1_ps(7.90531110763549805f);
  __m512 xc = _mm512_min_ps(c, x);  // NaN stays NaN
  xc = _mm512_max_ps(_mm512_sub_ps(_mm512_setzero_ps(), c), xc);
  const __m512 x2 = _mm512_mul_ps(xc, xc);
  __m512 p = _mm512_set1_ps(-2.76076847742355e-16f);
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(2.00018790482477e-13f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-8.60467152213735e-11f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(5.12229709037114e-08f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(1.48572235717979e-05f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(6.37261928875436e-04f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(4.89352455891786e-03f));
  p = _mm512_mul_ps(p, xc);
  __m512 q = _mm512_set1_ps(1.19825839466702e-06f);
  q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(1.18534705686654e-04f));
  q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(2.26843463243900e-03f));
  q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(4.89352518554385e-03f));
  const __m512 y = _mm512_mul_ps(p, rcp_nr(q));
  const __mmask16 small = _mm512_cmp_ps_mask(_mm512_abs_ps(x), _mm512_set1_ps(0.0004f), _CMP_LT_OQ);
  return _mm512_mask_mov_ps(y, small, x);
}
inline bool aligned64(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 63) == 0; }
// Workspace rows (only read again by the backward pass, long after) are
// written with streaming stores when aligned: no read-for-ownership.
inline void ws_store(float* p, __m512 v, bool nt) {
  if (nt)
    _mm512_stream_ps(p, v);
  else
    _mm512_storeu_ps(p, v);
}
#endif
}  // namespace

void rnn_simple_row(int64_t U, bool relu, const float* __restrict__ xw, const float* __restrict__ hu, const float* __restrict__ b, float* __restrict__ a, float* __restrict__ ho) {
  if (relu) {
    for (int64_t u = 0; u < U; ++u) {
      const float v = xw[u] + b[u] + hu[u];
      const float h = v > 0.f ? v : (v != v ? v : 0.f);
      a[u] = h;
      ho[u] = h;
    }
  } else {
    for (int64_t u = 0; u < U; ++u) {
      const float h = vtanh(xw[u] + b[u] + hu[u]);
      a[u] = h;
      ho[u] = h;
    }
  }
}

void rnn_lstm_row(int64_t U, const float* __restrict__ xw, const float* __restrict__ hu, const float* __restrict__ b, const float* __restrict__ cp, float* __restrict__ a,
                  float* __restrict__ cpw, float* __restrict__ tc, float* __restrict__ cn, float* __restrict__ ho) {
  int64_t u0 = 0;
#if defined(__AVX512F__)
  const bool nt = U % 16 == 0 && aligned64(a) && aligned64(cpw) && aligned64(tc);
  for (; u0 + 16 <= U; u0 += 16) {
    const int64_t u = u0;
    auto pre = [&](int64_t g) {
      return _mm512_add_ps(_mm512_add_ps(_mm512_loadu_ps(xw + g * U + u), _mm512_loadu_ps(b + g * U + u)),
                           _mm512_loadu_ps(hu + g * U + u));
    };
    const __m512 ig = vsigmoid16(pre(0)), fg = vsigmoid16(pre(1)), gg = vtanh16(pre(2)), og = vsigmoid16(pre(3));
    const __m512 c_old = _mm512_loadu_ps(cp + u);
    const __m512 c = _mm512_fmadd_ps(fg, c_old, _mm512_mul_ps(ig, gg));
    const __m512 t = vtanh16(c);
    ws_store(a + u, ig, nt);
    ws_store(a + U + u, fg, nt);
    ws_store(a + 2 * U + u, gg, nt);
    ws_store(a + 3 * U + u, og, nt);
    ws_store(cpw + u, c_old, nt);
    ws_store(tc + u, t, nt);
    _mm512_storeu_ps(cn + u, c);
    _mm512_storeu_ps(ho + u, _mm512_mul_ps(og, t));
  }
  if (nt) _mm_sfence();  // the streamed rows are read by other threads later
#endif
  for (int64_t u = u0; u < U; ++u) {
    const float ig = vsigmoid(xw[u] + b[u] + hu[u]);
    const float fg = vsigmoid(xw[U + u] + b[U + u] + hu[U + u]);
    const float gg = vtanh(xw[2 * U + u] + b[2 * U + u] + hu[2 * U + u]);
    const float og = vsigmoid(xw[3 * U + u] + b[3 * U + u] + hu[3 * U + u]);
    const float c_old = cp[u];
    const float c = fg * c_old + ig * gg;
    const float t = vtanh(c);
    a[u] = ig; a[U + u] = fg; a[2 * U + u] = gg; a[3 * U + u] = og;
    cpw[u] = c_old;
    tc[u] = t;
    cn[u] = c;
    ho[u] = og * t;
  }
}

void rnn_gru_row(int64_t U, const float* __restrict__ xw, const float* __restrict__ hu, const float* __restrict__ bin, const float* __restrict__ brec, const float* __restrict__ hp,
                 float* __restrict__ a, float* __restrict__ ho) {
  for (int64_t u = 0; u < U; ++u) {
    const float zg = vsigmoid(xw[u] + bin[u] + hu[u] + brec[u]);
    const float rg = vsigmoid(xw[U + u] + bin[U + u] + hu[U + u] + brec[U + u]);
    const float e = hu[2 * U + u] + brec[2 * U + u];
    const float hh = vtanh(xw[2 * U + u] + bin[2 * U + u] + rg * e);
    a[u] = zg; a[U + u] = rg; a[2 * U + u] = hh; a[3 * U + u] = e;
    ho[u] = zg * hp[u] + (1.f - zg) * hh;
  }
}

void rnn_gru_v1_row1(int64_t U, const float* __restrict__ xw, const float* __restrict__ hu, const float* __restrict__ b, const float* __restrict__ hp, float* __restrict__ a) {
  for (int64_t u = 0; u < U; ++u) {
    const float zg = vsigmoid(xw[u] + b[u] + hu[u]);
    const float rg = vsigmoid(xw[U + u] + b[U + u] + hu[U + u]);
    a[u] = zg; a[U + u] = rg; a[3 * U + u] = rg * hp[u];
  }
}

void rnn_gru_v1_row2(int64_t U, const float* __restrict__ xw, const float* __restrict__ hu, const float* __restrict__ b, const float* __restrict__ hp, float* __restrict__ a,
                     float* __restrict__ ho) {
  for (int64_t u = 0; u < U; ++u) {
    const float hh = vtanh(xw[2 * U + u] + b[2 * U + u] + hu[2 * U + u]);
    const float zg = a[u];
    a[2 * U + u] = hh;
    ho[u] = zg * hp[u] + (1.f - zg) * hh;
  }
}

// ---------------------------------------------------------------- backward gate math
// Same formulas as the scalar loops they replace (cpu/rnn.cpp); HasOut picks
// the loop with / without an output gradient so both vectorize.
namespace {
template <bool HasOut>
inline float dh_of(const float* __restrict__ dcarry, const float* __restrict__ dov, int64_t u) {
  return HasOut ? dcarry[u] + dov[u] : dcarry[u];
}
template <bool HasOut>
void simple_bwd(int64_t U, bool relu, const float* __restrict__ dcarry, const float* __restrict__ dov,
                const float* __restrict__ a, float* __restrict__ dz) {
  if (relu) {
    for (int64_t u = 0; u < U; ++u) {
      const float dh = dh_of<HasOut>(dcarry, dov, u);
      dz[u] = a[u] > 0.f ? dh : 0.f;
    }
  } else {
    for (int64_t u = 0; u < U; ++u) {
      const float dh = dh_of<HasOut>(dcarry, dov, u);
      const float h = a[u];
      dz[u] = dh * (1.f - h * h);
    }
  }
}
template <bool HasOut>
void lstm_bwd(int64_t U, const float* __restrict__ dcarry, const float* __restrict__ dov, const float* __restrict__ a,
              const float* __restrict__ cp, const float* __restrict__ tc, float* __restrict__ dcn,
              float* __restrict__ dz) {
  for (int64_t u = 0; u < U; ++u) {
    const float dh = dh_of<HasOut>(dcarry, dov, u);
    const float ig = a[u], fg = a[U + u], gg = a[2 * U + u], og = a[3 * U + u], tcv = tc[u];
    const float dc = dcn[u] + dh * og * (1.f - tcv * tcv);
    dz[u] = dc * gg * ig * (1.f - ig);
    dz[U + u] = dc * cp[u] * fg * (1.f - fg);
    dz[2 * U + u] = dc * ig * (1.f - gg * gg);
    dz[3 * U + u] = dh * tcv * og * (1.f - og);
    dcn[u] = dc * fg;
  }
}
template <bool HasOut>
void gru_bwd(int64_t U, const float* __restrict__ dcarry, const float* __restrict__ dov, const float* __restrict__ a,
             const float* __restrict__ hp, float* __restrict__ dz, float* __restrict__ dzr, float* __restrict__ dhn) {
  for (int64_t u = 0; u < U; ++u) {
    const float dh = dh_of<HasOut>(dcarry, dov, u);
    const float zg = a[u], rg = a[U + u], hh = a[2 * U + u], e = a[3 * U + u];
    const float daz = dh * (hp[u] - hh) * zg * (1.f - zg);
    const float dah = dh * (1.f - zg) * (1.f - hh * hh);
    const float dar = dah * e * rg * (1.f - rg);
    dz[u] = daz; dz[U + u] = dar; dz[2 * U + u] = dah;
    dzr[u] = daz; dzr[U + u] = dar; dzr[2 * U + u] = dah * rg;
    dhn[u] = dh * zg;
  }
}
template <bool HasOut>
void gru_v1_bwd1(int64_t U, const float* __restrict__ dcarry, const float* __restrict__ dov,
                 const float* __restrict__ a, const float* __restrict__ hp, float* __restrict__ dz,
                 float* __restrict__ dhn) {
  for (int64_t u = 0; u < U; ++u) {
    const float dh = dh_of<HasOut>(dcarry, dov, u);
    const float zg = a[u], hh = a[2 * U + u];
    dz[u] = dh * (hp[u] - hh) * zg * (1.f - zg);
    dz[2 * U + u] = dh * (1.f - zg) * (1.f - hh * hh);
    dhn[u] = dh * zg;
  }
}
}  // namespace

void rnn_simple_bwd_row(int64_t U, bool relu, const float* dcarry, const float* dov, const float* a, float* dz) {
  if (dov) simple_bwd<true>(U, relu, dcarry, dov, a, dz);
  else simple_bwd<false>(U, relu, dcarry, dov, a, dz);
}
void rnn_lstm_bwd_row(int64_t U, const float* dcarry, const float* dov, const float* a, const float* cp,
                      const float* tc, float* dcn, float* dz) {
  if (dov) lstm_bwd<true>(U, dcarry, dov, a, cp, tc, dcn, dz);
  else lstm_bwd<false>(U, dcarry, dov, a, cp, tc, dcn, dz);
}
void rnn_gru_bwd_row(int64_t U, const float* dcarry, const float* dov, const float* a, const float* hp, float* dz,
                     float* dzr, float* dhn) {
  if (dov) gru_bwd<true>(U, dcarry, dov, a, hp, dz, dzr, dhn);
  else gru_bwd<false>(U, dcarry, dov, a, hp, dz, dzr, dhn);
}
void rnn_gru_v1_bwd_row1(int64_t U, const float* dcarry, const float* dov, const float* a, const float* hp,
                         float* dz, float* dhn) {
  if (dov) gru_v1_bwd1<true>(U, dcarry, dov, a, hp, dz, dhn);
  else gru_v1_bwd1<false>(U, dcarry, dov, a, hp, dz, dhn);
}
void rnn_column_sums(const float* M, int64_t rows, int64_t cols, int64_t ld, float* out) {
  constexpr int64_t CB = 64;
  const int64_t nb = (cols + CB - 1) / CB;
#pragma omp parallel for schedule(static) if (rows * cols >= (1 << 16) && !omp_in_parallel())
  for (int64_t blk = 0; blk < nb; ++blk) {
    const int64_t j0 = blk * CB, nj = cols - j0 < CB ? cols - j0 : CB;
    float acc[CB];
    for (int64_t j = 0; j < CB; ++j) acc[j] = 0.f;
    if (nj == CB) {
      for (int64_t r = 0; r < rows; ++r) {
        const float* m = M + r * ld + j0;
        for (int64_t j = 0; j < CB; ++j) acc[j] += m[j];
      }
    } else {
      for (int64_t r = 0; r < rows; ++r) {
        const float* m = M + r * ld + j0;
        for (int64_t j = 0; j < nj; ++j) acc[j] += m[j];
      }
    }
    for (int64_t j = 0; j < nj; ++j) out[j0 + j] = acc[j];
  }
}

void rnn_gru_v1_bwd_row2(int64_t U, const float* __restrict__ a, const float* __restrict__ hp,
                         const float* __restrict__ g, float* __restrict__ dz, float* __restrict__ dhn) {
  for (int64_t u = 0; u < U; ++u) {
    const float rg = a[U + u];
    dz[U + u] = g[u] * hp[u] * rg * (1.f - rg);
    dhn[u] += g[u] * rg;
  }
}

}  // namespace PCN_ISA_NS
}  // namespace pcn
