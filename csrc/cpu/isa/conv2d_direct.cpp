// conv2d_direct.cpp — direct conv2d (no im2col) for groups == 1, C >= 5, compiled
// once per ISA (see isa.h). Declarations: conv2d_direct_isa.h; dispatch: cpu/conv2d.cpp.
//
// The im2col + packed SGEMM path copies x twice (im2col writes KH*KW copies of
// every pixel, then the GEMM packs them again); these kernels read x in place
// (or a column-padded copy of it, 1x x) and keep the register blocking of the GEMM.
//
//   forward: for P consecutive output pixels of one output row and NV vectors of
//     output channels, acc[P][NV] += x[pixel p, tap] (broadcast) * wp[tap][NV vectors]
//     over the taps (kh, kw, c); with dw == 1 the KW*C taps of one kernel row are
//     consecutive floats of x, so that loop is one flat loop. Kernel rows that fall
//     outside the image (top/bottom padding) are skipped, not multiplied by zeros;
//     left/right padding comes from the column-padded copy. Weights are packed once
//     per call into slivers wp[kblock][kh][kw][c][NV*VW] (K tail zero-padded), so a
//     k block's weights (KH*KW*C*NV*VW floats) stay in L2 while the rows stream.
//     Bias and relu are applied in registers; the K tail is stored with masks.
//   backward-input (stride 1) is the same forward kernel on dy, with the weights
//     rotated by 180 degrees and in/out channels swapped (see the header).
//   backward-filter: dW[(kh, kw, c)][k] = sum over pixels x[pixel at tap][c] * dy[pixel][k].
//     For T consecutive (kw, c) taps of one kernel row and NV vectors of k,
//     acc[T][NV] += x[in pixel][t] (broadcast, contiguous) * dy[pixel][NV vectors]
//     over the pixels of a band of output rows, then added into dW. Threads own
//     disjoint blocks of dW and sweep every band (no partials, no reduction: the
//     bits do not depend on the thread count).
#include <omp.h>

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "../../common.h"
#include "../../isa.h"
#include "conv2d_direct_isa.h"

namespace pcn {
namespace PCN_ISA_NS {
namespace {

#if defined(__AVX512F__)
constexpr int VW = 16, NACC = 24, NVMAX = 4;  // 32 zmm: 24 accumulators + weights/broadcast
#elif defined(__AVX2__)
constexpr int VW = 8, NACC = 12, NVMAX = 3;   // 16 ymm
#else
constexpr int VW = 4, NACC = 12, NVMAX = 3;   // 16 xmm
#endif
constexpr int PMAX = 12;                       // forward pixels per block (their offsets stay in registers)
constexpr int TMAX = NACC < 24 ? NACC : 24;    // backward-filter taps per block (constant offsets)

#include "vec.h"  // vf, loadu, storeu, relu, store_part for this build's VW

// v[0, n) = p[0, n), zero above; 0 < n < VW.
inline vf load_part(const float* p, int64_t n) {
#if defined(__AVX512F__)
  return (vf)_mm512_maskz_loadu_ps(__mmask16((1u << n) - 1u), p);
#elif defined(__AVX2__)
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return (vf)_mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), idx));
#else
  vf v = {};
  for (int64_t i = 0; i < n; ++i) v[i] = p[i];
  return v;
#endif
}
// A lane mask for loads of the first n lanes (n >= VW: all), built once per block.
#if defined(__AVX512F__)
typedef __mmask16 Mask;
inline Mask make_mask(int64_t n) { return n >= VW ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1u); }
inline vf load_m(const float* p, Mask m) { return (vf)_mm512_maskz_loadu_ps(m, p); }
#elif defined(__AVX2__)
// vmaskmovps for every dy vector made the AVX2 backward-filter 1.7x slower on Zen 4:
// plain loads unless the vector is partial (a predictable branch).
struct Mask {
  __m256i m;
  bool full;
};
inline Mask make_mask(int64_t n) {
  return Mask{_mm256_cmpgt_epi32(_mm256_set1_epi32(int(n >= VW ? VW : n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)),
              n >= VW};
}
inline vf load_m(const float* p, Mask m) { return m.full ? loadu(p) : (vf)_mm256_maskload_ps(p, m.m); }
#else
typedef int64_t Mask;
inline Mask make_mask(int64_t n) { return n; }
inline vf load_m(const float* p, Mask m) {
  if (m >= VW) return loadu(p);
  vf v = {};
  for (int64_t i = 0; i < m; ++i) v[i] = p[i];
  return v;
}
#endif
// n >= VW: a full vector.
inline vf load_n(const float* p, int64_t n) { return n >= VW ? loadu(p) : load_part(p, n); }
inline void store_n(float* p, vf v, int64_t n) {
  if (n >= VW) storeu(p, v);
  else if (n > 0) store_part(p, v, n);
}

inline int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }

// ---------------------------------------------------------------- geometry
// The kernels address x through "padded columns": column j of a row is input
// column j - pl. Either x itself (pl <= 0 and no right padding needed: a crop is
// just an offset) or a copy xp (N, H, Wp, C) with zero columns.
struct Geo {
  int64_t Wp;    // padded columns the kernels read
  bool copy;     // x copied into xp
  int64_t rowf;  // floats per input row of the buffer read
  int64_t coff;  // float offset of padded column 0 within a row
  int eL, eR;    // forward: skip the edge pixels' padded kernel column (see fwd_micro)
};
// Kernel columns (dw == 1) of output pixel o that lie right of the image.
inline int64_t missing_right(const DirectConv& d, int64_t o) {
  const int64_t f = d.W + d.pl - o * d.sw;  // first kw past the image
  return f >= d.KW ? 0 : d.KW - (f > 0 ? f : 0);
}
// fwd: with dw == 1, when only the row's first pixel misses kernel column 0 (pl == 1)
// and only its last pixel misses column KW-1, those taps are skipped and x is read in
// place (no column-padded copy): 3x3 "same" at stride 1 and 2, and its backward-input.
Geo geo(const DirectConv& d, bool fwd) {
  Geo g;
  g.Wp = (d.OW - 1) * d.sw + (d.KW - 1) * d.dw + 1;
  g.copy = d.pl > 0 || g.Wp - d.pl > d.W;
  g.eL = g.eR = 0;
  if (fwd && d.dw == 1 && d.KW >= 2 && d.OW > 0) {
    const int64_t mr1 = missing_right(d, d.OW - 1), mr2 = d.OW >= 2 ? missing_right(d, d.OW - 2) : 0;
    g.eL = d.pl == 1 && (d.OW >= 2 || mr1 <= 1);
    g.eR = mr1 == 1 && mr2 == 0;
    if ((d.pl <= 0 || g.eL) && (mr1 == 0 || g.eR)) g.copy = false;
  }
  g.rowf = (g.copy ? g.Wp : d.W) * d.C;
  g.coff = g.copy ? 0 : -d.pl * d.C;
  return g;
}

// Inside an omp parallel region: xp rows = x rows with zero columns.
void pad_copy(const DirectConv& d, const Geo& g, const float* x, float* xp) {
  const int64_t C = d.C;
  const int64_t j0 = imin(imax(d.pl, 0), g.Wp);
  int64_t j1 = imin(g.Wp, d.W + d.pl);
  if (j1 < j0) j1 = j0;
#pragma omp for schedule(static)
  for (int64_t r = 0; r < d.N * d.H; ++r) {
    float* dst = xp + r * g.Wp * C;
    const float* src = x + r * d.W * C;
    if (j0 > 0) std::memset(dst, 0, sizeof(float) * size_t(j0 * C));
    if (j1 > j0) std::memcpy(dst + j0 * C, src + (j0 - d.pl) * C, sizeof(float) * size_t((j1 - j0) * C));
    if (g.Wp > j1) std::memset(dst + j1 * C, 0, sizeof(float) * size_t((g.Wp - j1) * C));
  }
}

// Kernel rows [lo, hi) of output row oh that land inside the image.
inline void kh_range(const DirectConv& d, int64_t oh, int64_t* lo, int64_t* hi) {
  const int64_t ih0 = oh * d.sh - d.pt;
  int64_t l = ih0 >= 0 ? 0 : cdiv(-ih0, d.dh);
  int64_t h = ih0 > d.H - 1 ? 0 : (d.H - 1 - ih0) / d.dh + 1;
  if (h > d.KH) h = d.KH;
  if (l > h) l = h;
  *lo = l;
  *hi = h;
}

// Cycles per tap of one register block of A x NV accumulators (A + NV loads):
// FMA throughput, load throughput, and the FMA latency chain.
// In half-cycles at 1 vector FMA and 2 loads per cycle; >= 8 accumulators hide the latency.
inline int64_t block_cost(int64_t A, int64_t nv) { return imax(imax(A * nv * 2, A + nv), 16); }

// Split n into cdiv(n, amax) near-equal blocks; returns the total cost for nv vectors.
inline int64_t split_cost(int64_t n, int64_t amax, int64_t nv) {
  const int64_t nb = cdiv(n, amax), q = n / nb, r = n % nb;
  return r * block_cost(q + 1, nv) + (nb - r) * block_cost(q, nv);
}

// ---------------------------------------------------------------- forward
struct FwdArgs {
  const float* x;      // pixel 0 at the first valid tap
  int64_t xs;          // pixel stride (floats)
  int64_t nkh, rs;     // valid kernel rows and their stride in x
  int64_t nkw, kws, L; // kw loop (1 when (kw, c) is flattened), its stride, taps per (kh, kw)
  const float* w;      // weights at the first valid tap (NV vectors)
  int64_t wts;         // floats between taps (NV*VW). Reading the filter in place (K apart)
                       // was 0.7x at K = 512: 2 KB strides hit two L1 sets.
  const float* b;      // NV*VW packed bias (zeros when none)
  float* y;            // output pixel 0, channel k0
  int64_t C;           // input channels (the EL / ER segments)
  int64_t K, nk;       // y pixel stride (floats); valid channels in the block
  bool relu;
};

// Taps [c0, c1) of one kernel row for pixels [QLO, QHI) of the block.
#define PCN_FWD_TAPS(c0, c1, QLO, QHI)                                     \
  for (int64_t c = (c0); c < (c1); ++c, w += wts) {                       \
    vf wv[NV];                                                             \
    _Pragma("GCC unroll 4") for (int j = 0; j < NV; ++j) wv[j] = loadu(w + j * VW); \
    _Pragma("GCC unroll 32") for (int q = (QLO); q < (QHI); ++q) {         \
      const float xv = r[q * xs + c];                                      \
      _Pragma("GCC unroll 4") for (int j = 0; j < NV; ++j) acc[q][j] += xv * wv[j]; \
    }                                                                      \
  }

// EL / ER (flattened taps only): the block's first / last pixel is the row's first /
// last and its kernel column 0 / KW-1 lies in the padding: those C taps are skipped
// for that pixel instead of multiplied by zeros (9.5% of a 3x3 same conv at 7x7).
template <int P, int NV, int EL, int ER>
void fwd_micro(const FwdArgs& a) {
  vf acc[P][NV];
#pragma GCC unroll 4
  for (int j = 0; j < NV; ++j) {
    const vf bv = loadu(a.b + j * VW);
#pragma GCC unroll 32
    for (int q = 0; q < P; ++q) acc[q][j] = bv;
  }
  const float* w = a.w;
  const int64_t xs = a.xs, L = a.L, C = a.C, wts = a.wts;
  for (int64_t kh = 0; kh < a.nkh; ++kh) {
    if (EL || ER) {
      const float* r = a.x + kh * a.rs;
      if (EL) PCN_FWD_TAPS(0, C, 1, P)
      PCN_FWD_TAPS(EL ? C : 0, ER ? L - C : L, 0, P)
      if (ER) PCN_FWD_TAPS(L - C, L, 0, P - 1)
    } else {
      for (int64_t kw = 0; kw < a.nkw; ++kw) {
        const float* r = a.x + kh * a.rs + kw * a.kws;
        PCN_FWD_TAPS(0, L, 0, P)
      }
    }
  }
#pragma GCC unroll 32
  for (int q = 0; q < P; ++q) {
    float* yp = a.y + q * a.K;
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) store_n(yp + j * VW, a.relu ? relu(acc[q][j]) : acc[q][j], a.nk - j * VW);
  }
}
#undef PCN_FWD_TAPS

typedef void (*FwdFn)(const FwdArgs&);
template <int P, int NV, int E>
constexpr FwdFn fwd_fn() {
  if constexpr (P * NV <= NACC && NV <= NVMAX) return &fwd_micro<P, NV, (E & 1), (E / 2)>;
  else return nullptr;
}
#define PCN_FWD_ROW(NV, E)                                                                                \
  {                                                                                                       \
    fwd_fn<1, NV, E>(), fwd_fn<2, NV, E>(), fwd_fn<3, NV, E>(), fwd_fn<4, NV, E>(), fwd_fn<5, NV, E>(),   \
        fwd_fn<6, NV, E>(), fwd_fn<7, NV, E>(), fwd_fn<8, NV, E>(), fwd_fn<9, NV, E>(), fwd_fn<10, NV, E>(), \
        fwd_fn<11, NV, E>(), fwd_fn<12, NV, E>()                                                          \
  }
#define PCN_FWD_E(E) {PCN_FWD_ROW(1, E), PCN_FWD_ROW(2, E), PCN_FWD_ROW(3, E), PCN_FWD_ROW(4, E)}
// kFwd[EL + 2*ER][NV-1][P-1]
const FwdFn kFwd[4][4][PMAX] = {PCN_FWD_E(0), PCN_FWD_E(1), PCN_FWD_E(2), PCN_FWD_E(3)};
#undef PCN_FWD_E
#undef PCN_FWD_ROW

inline int64_t fwd_pmax(int64_t nv) { return imin(PMAX, NACC / nv); }

// Vectors of K per block: the cheapest split of OW into pixel blocks x K into
// vector blocks, with a k block's packed weights <= 640 KB (L2 residency).
int64_t fwd_nv(const DirectConv& d) {
  const int64_t nvec = cdiv(d.K, VW), taps = d.KH * d.KW * d.C;
  int64_t best = 1, bestc = -1;
  for (int64_t nv = 1; nv <= NVMAX; ++nv) {
    if (nv > 1 && (nv > nvec || taps * nv * VW * 4 > (int64_t(640) << 10))) break;
    int64_t c = 0;
    for (int64_t v = 0; v < nvec; v += nv) c += split_cost(d.OW, fwd_pmax(nv), imin(nv, nvec - v));
    // On a tie take more vectors (x read once per fewer k blocks, fewer loads per FMA:
    // measured 5% on 64@56) if that leaves no K tail block and pixel blocks >= 5 (with
    // fewer pixels per loaded weight vector the L2 weight stream limits: 0.7x at 4+3).
    const bool wider_ok = d.K % (nv * VW) == 0 && d.OW / cdiv(d.OW, fwd_pmax(nv)) >= 5;
    if (bestc < 0 || c < bestc || (c == bestc && wider_ok)) {
      best = nv;
      bestc = c;
    }
  }
  return best;
}

}  // namespace

void conv2d_direct_forward_scratch(const DirectConv& d, int64_t* wp_floats, int64_t* xp_floats) {
  const int64_t KB = fwd_nv(d) * VW, nkb = cdiv(d.K, KB);
  *wp_floats = nkb * KB * (d.KH * d.KW * d.C + 1);
  const Geo g = geo(d, true);
  *xp_floats = g.copy ? d.N * d.H * g.Wp * d.C : 0;
}

namespace {
struct View {
  const DirectConv* d;
  const DirectMap* m;
  Geo g;
  int64_t nv, KB, nkb, nvec, taps, rows, nb, q, rem;
  const float* X0;
  float *wp, *bp, *xp;
};

// Pack view v's filter: wp[kb][kh][kw][c][nvb*VW]; block kb starts at kb*KB*taps. One
// item = one k block of one kernel tap (C x nvb*VW floats). Inside a parallel region.
void pack_weights(const View& v, const float* w, const float* b) {
  const DirectConv& d = *v.d;
  const DirectMap& m = *v.m;
  const int64_t C = d.C, K = d.K;
#pragma omp for schedule(static) nowait
  for (int64_t it = 0; it < v.nkb * d.KH * d.KW; ++it) {
    const int64_t kb = it / (d.KH * d.KW), t = it % (d.KH * d.KW), kh = t / d.KW, kw = t % d.KW;
    const int64_t nvb = imin(v.nv, v.nvec - kb * v.nv), k0 = kb * v.KB, W = nvb * VW, nk = imin(W, K - k0);
    float* dst = v.wp + kb * v.KB * v.taps + t * C * W;
    if (!m.transposed) {
      const float* src = w + t * C * K + k0;  // (c, k) rows of K floats
      for (int64_t c = 0; c < C; ++c) {
        std::memcpy(dst + c * W, src + c * K, sizeof(float) * size_t(nk));
        for (int64_t l = nk; l < W; ++l) dst[c * W + l] = 0.f;
      }
    } else {
      // original tap (kh_hi - kh*step, kw_hi - kw*step): a (K, C) matrix, transposed here
      const float* src = w + ((m.kh_hi - kh * m.kh_step) * m.KW0 + (m.kw_hi - kw * m.kw_step)) * K * C;
      for (int64_t l = 0; l < nk; ++l) {
        const float* sr = src + (k0 + l) * C;
        for (int64_t c = 0; c < C; ++c) dst[c * W + l] = sr[c];
      }
      for (int64_t l = nk; l < W; ++l)
        for (int64_t c = 0; c < C; ++c) dst[c * W + l] = 0.f;
    }
  }
#pragma omp single nowait
  for (int64_t k = 0; k < v.nkb * v.KB; ++k) v.bp[k] = b && k < K ? b[k] : 0.f;
}

// One output row r (n, oh) of view v, k block kb.
inline void fwd_row(const View& v, int64_t r, int64_t kb, int act, float* y) {
  const DirectConv& d = *v.d;
  const DirectMap& m = *v.m;
  const int64_t C = d.C, oh = r % d.OH, n = r / d.OH;
  const int64_t nvb = imin(v.nv, v.nvec - kb * v.nv);
  const bool flat = d.dw == 1;
  int64_t lo, hi;
  kh_range(d, oh, &lo, &hi);
  FwdArgs a;
  a.xs = d.sw * C;
  a.nkh = hi - lo;
  a.rs = d.dh * v.g.rowf;
  a.nkw = flat ? 1 : d.KW;
  a.kws = flat ? 0 : d.dw * C;
  a.L = flat ? d.KW * C : C;
  a.C = C;
  const float* xrow = a.nkh > 0 ? v.X0 + (n * d.H + oh * d.sh - d.pt + lo * d.dh) * v.g.rowf : v.X0;
  a.wts = nvb * VW;
  a.w = v.wp + kb * v.KB * v.taps + lo * d.KW * C * a.wts;
  a.b = v.bp + kb * v.KB;
  a.K = m.y_pix;
  a.nk = imin(v.KB, d.K - kb * v.KB);
  a.relu = act == 1;
  float* yrow = y + n * m.y_img + oh * m.y_row + m.y_off + kb * v.KB;
  int64_t ow = 0;
  for (int64_t i = 0; i < v.nb; ++i) {
    const int64_t P = i < v.rem ? v.q + 1 : v.q;
    a.x = xrow + ow * a.xs;
    a.y = yrow + ow * m.y_pix;
    const int e = (i == 0 ? v.g.eL : 0) + (i == v.nb - 1 ? 2 * v.g.eR : 0);
    kFwd[e][nvb - 1][P - 1](a);
    ow += P;
  }
}
}  // namespace

void conv2d_direct_forward(int nview, const DirectConv* ds, const DirectMap* ms, const float* x, const float* w,
                           const float* b, int act, float* y, float* const* wps, float* const* xps) {
  View vs[kDirectMaxViews];
  int64_t nkbmax = 0, rows_max = 0, RC = int64_t(1) << 40;
  for (int i = 0; i < nview; ++i) {
    View& v = vs[i];
    const DirectConv& d = ds[i];
    v.d = &ds[i];
    v.m = &ms[i];
    v.g = geo(d, true);
    v.nv = fwd_nv(d);
    v.KB = v.nv * VW;
    v.nkb = cdiv(d.K, v.KB);
    v.nvec = cdiv(d.K, VW);
    v.taps = d.KH * d.KW * d.C;
    v.rows = d.N * d.OH;
    v.nb = cdiv(d.OW, fwd_pmax(v.nv));
    v.q = d.OW / v.nb;
    v.rem = d.OW % v.nb;
    v.wp = wps[i];
    v.bp = v.wp + v.nkb * v.KB * v.taps;
    v.xp = xps[i];
    v.X0 = (v.g.copy ? v.xp : x) + v.g.coff;
    nkbmax = imax(nkbmax, v.nkb);
    rows_max = imax(rows_max, v.rows);
    // Chunks of RC output rows (their input rows ~192 KB, in L2); for each chunk every
    // view and k block (its weights <= 640 KB, in L2) over the chunk's rows.
    RC = imin(RC, imax(1, (int64_t(192) << 10) / (4 * imax(1, d.sh) * v.g.rowf)));
  }
  if (rows_max == 0) return;
  const int64_t nch = cdiv(rows_max, RC);
  RC = cdiv(rows_max, nch);  // equal chunks (the last one is not a sliver)
  const int64_t per_ch = int64_t(nview) * nkbmax * RC;
#pragma omp parallel
  {
    for (int i = 0; i < nview; ++i) pack_weights(vs[i], w, b);
    for (int i = 0; i < nview; ++i)
      if (vs[i].g.copy) pad_copy(*vs[i].d, vs[i].g, x, vs[i].xp);  // ends with a barrier
#pragma omp barrier
#pragma omp for schedule(static)
    for (int64_t it = 0; it < nch * per_ch; ++it) {
      const int64_t ch = it / per_ch, rest = it - ch * per_ch;
      const int64_t vi = rest / (nkbmax * RC), kb = (rest / RC) % nkbmax, r = ch * RC + rest % RC;
      const View& v = vs[vi];
      if (kb < v.nkb && r < v.rows) fwd_row(v, r, kb, act, y);
    }
  }
}

namespace {
// ---------------------------------------------------------------- backward-filter
struct BwfArgs {
  const float* x0;  // x at input column -pl of input row 0 (never read out of the image)
  const float* dy;
  int64_t rowf, H, OH, OW, sh, pt, dh, xs, K;
};

// dw rows [t][k0 .. k0+nk) (row stride K) (+)= sum over output rows [r0, r1), output
// columns [o0, o1) (those whose kernel column lies in the image) of
// x[pixel at kernel row kh, column offset xoff + t] * dy[pixel][k0 ..].
template <int T, int NV>
void bwf_micro(const BwfArgs& a, int64_t r0, int64_t r1, int64_t o0, int64_t o1, int64_t kh, int64_t xoff,
               int64_t k0, int64_t nk, float* dwp, bool store) {
  vf acc[T][NV];
#pragma GCC unroll 32
  for (int t = 0; t < T; ++t)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[t][j] = vf{};
  const Mask mlast = make_mask(nk - (NV - 1) * VW);  // lanes of the last vector
  const int64_t xs = a.xs, K = a.K, OW = a.OW;
  // (n, oh) of row r kept incrementally: a division per row cost as much as the
  // row's FMAs at OW = 7 on AVX2.
  int64_t n = r0 / a.OH, oh = r0 - n * a.OH;
  const float* dr0 = a.dy + (r0 * OW + o0) * K + k0;
  for (int64_t r = r0; r < r1; ++r, dr0 += OW * K) {
    const int64_t ih = oh * a.sh - a.pt + kh * a.dh, nn = n;
    if (++oh == a.OH) {
      oh = 0;
      ++n;
    }
    if (ih < 0 || ih >= a.H) continue;
    const float* xr = a.x0 + (nn * a.H + ih) * a.rowf + xoff + o0 * xs;
    const float* dr = dr0;
    for (int64_t ow = o0; ow < o1; ++ow, xr += xs, dr += K) {
      vf dv[NV];
#pragma GCC unroll 4
      for (int j = 0; j < NV - 1; ++j) dv[j] = loadu(dr + j * VW);
      dv[NV - 1] = load_m(dr + (NV - 1) * VW, mlast);
#pragma GCC unroll 32
      for (int t = 0; t < T; ++t) {
        const float xv = xr[t];
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) acc[t][j] += xv * dv[j];
      }
    }
  }
#pragma GCC unroll 32
  for (int t = 0; t < T; ++t) {
    float* p = dwp + t * K;
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      const int64_t m = nk - j * VW;
      store_n(p + j * VW, store ? acc[t][j] : load_n(p + j * VW, m) + acc[t][j], m);
    }
  }
}

typedef void (*BwfFn)(const BwfArgs&, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                      float*, bool);
template <int T, int NV>
constexpr BwfFn bwf_fn() {
  if constexpr (T * NV <= NACC && T <= TMAX && NV <= NVMAX) return &bwf_micro<T, NV>;
  else return nullptr;
}
#define PCN_BWF_ROW(NV)                                                                                          \
  {                                                                                                              \
    bwf_fn<1, NV>(), bwf_fn<2, NV>(), bwf_fn<3, NV>(), bwf_fn<4, NV>(), bwf_fn<5, NV>(), bwf_fn<6, NV>(),        \
        bwf_fn<7, NV>(), bwf_fn<8, NV>(), bwf_fn<9, NV>(), bwf_fn<10, NV>(), bwf_fn<11, NV>(), bwf_fn<12, NV>(), \
        bwf_fn<13, NV>(), bwf_fn<14, NV>(), bwf_fn<15, NV>(), bwf_fn<16, NV>(), bwf_fn<17, NV>(),                \
        bwf_fn<18, NV>(), bwf_fn<19, NV>(), bwf_fn<20, NV>(), bwf_fn<21, NV>(), bwf_fn<22, NV>(),                \
        bwf_fn<23, NV>(), bwf_fn<24, NV>()                                                                       \
  }
const BwfFn kBwf[4][24] = {PCN_BWF_ROW(1), PCN_BWF_ROW(2), PCN_BWF_ROW(3), PCN_BWF_ROW(4)};
#undef PCN_BWF_ROW

inline int64_t bwf_tmax(int64_t nv) { return imin(TMAX, NACC / nv); }

int64_t bwf_nv(const DirectConv& d, int64_t L) {
  const int64_t nvec = cdiv(d.K, VW);
  int64_t best = 1, bestc = -1;
  for (int64_t nv = 1; nv <= NVMAX && nv <= nvec; ++nv) {
    int64_t c = 0;
    for (int64_t v = 0; v < nvec; v += nv) c += split_cost(L, bwf_tmax(nv), imin(nv, nvec - v));
    if (bestc < 0 || c < bestc) {
      best = nv;
      bestc = c;
    }
  }
  return best;
}
}  // namespace

void conv2d_direct_backward_filter(const DirectConv& d, const float* dy, const float* x, float* dw,
                                   bool accumulate) {
  const int64_t C = d.C, K = d.K, rows = d.N * d.OH;
  if (rows == 0 || d.OW == 0) {
    if (!accumulate) std::memset(dw, 0, sizeof(float) * size_t(d.KH * d.KW * C * K));
    return;
  }
  // x is read in place: for kernel column kw only the output columns whose input
  // column is inside the image are visited. (kw, c) is one flat tap run of KW*C
  // floats when dw == 1 and no column padding is needed.
  const Geo g = geo(d, false);
  const bool flat = d.dw == 1 && !g.copy;
  const int64_t L = flat ? d.KW * C : C, nkw = flat ? 1 : d.KW;
  const int64_t nv = bwf_nv(d, L), KB = nv * VW, nkb = cdiv(K, KB), nvec = cdiv(K, VW);
  const int64_t ntb = cdiv(L, bwf_tmax(nv)), tq = L / ntb, trem = L % ntb;
  const int64_t nblk = nkb * d.KH * nkw * ntb;
  // Band of output rows: dy + x of a band (~256 KB) stay in L2 while every block sweeps
  // it. When that gives short bands (big C and K at 7x7: 63 pixels), lengthen them up to
  // a dy slice of one k block of 24 KB (reused from L1 by the next tap blocks) and an x
  // band of 512 KB: the per-block cost (row set-up, dW load/add/store) was a quarter of
  // resnet 512@7 (41.7 -> 31.4 ms). Longer bands everywhere lost 5-15% (dy slices
  // falling out of L1).
  const int64_t RB0 = imax(1, (int64_t(256) << 10) / (4 * d.OW * (K + d.sw * C)));
  const int64_t RB1 = imax(1, imin((int64_t(24) << 10) / (4 * d.OW * KB), (int64_t(512) << 10) / (4 * d.OW * d.sw * C)));
  const int64_t RB = imax(RB0, RB1);
  BwfArgs a;
  a.x0 = x - d.pl * C;
  a.dy = dy;
  a.rowf = d.W * C;
  a.H = d.H;
  a.OH = d.OH;
  a.OW = d.OW;
  a.sh = d.sh;
  a.pt = d.pt;
  a.dh = d.dh;
  a.xs = d.sw * C;
  a.K = K;
#pragma omp parallel
  {
    const int64_t T = omp_get_num_threads(), th = omp_get_thread_num();
    const int64_t lo = nblk * th / T, hi = nblk * (th + 1) / T;
    for (int64_t r0 = 0; r0 < rows; r0 += RB) {
      const int64_t r1 = imin(rows, r0 + RB);
      for (int64_t blk = lo; blk < hi; ++blk) {
        const int64_t tb = blk % ntb, kwi = (blk / ntb) % nkw, kh = (blk / (ntb * nkw)) % d.KH;
        const int64_t kb = blk / (ntb * nkw * d.KH);
        const int64_t nvb = imin(nv, nvec - kb * nv), k0 = kb * KB;
        const int64_t t0 = tb * tq + imin(tb, trem), tn = tq + (tb < trem ? 1 : 0);
        // output columns whose input column ow*sw + kwi*dw - pl is inside [0, W)
        int64_t o0 = 0, o1 = d.OW;
        if (!flat) {
          const int64_t lft = d.pl - kwi * d.dw, rgt = d.W - 1 + d.pl - kwi * d.dw;
          o0 = lft > 0 ? cdiv(lft, d.sw) : 0;
          o1 = rgt < 0 ? 0 : imin(d.OW, rgt / d.sw + 1);
          if (o1 < o0) o1 = o0;
        }
        const int64_t xoff = kwi * d.dw * C + t0;
        float* dwp = dw + ((kh * d.KW + kwi) * C + t0) * K + k0;
        kBwf[nvb - 1][tn - 1](a, r0, r1, o0, o1, kh, xoff, k0, imin(KB, K - k0), dwp, r0 == 0 && !accumulate);
      }
    }
  }
}

}  // namespace PCN_ISA_NS
}  // namespace pcn
