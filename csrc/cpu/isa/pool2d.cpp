// pool2d.cpp — max/avg pooling, forward and backward, and global pooling
// (compiled once per ISA; see isa.h). NHWC: the channel axis is contiguous, so
// every hot loop runs over channels and vectorizes; OpenMP runs over (n, oh)
// rows in the forward pass.
//
// Semantics (the spec is tests/reference_pool.py):
//  - a window covers rows [oh*sh - pad_top, +kh), cols [ow*sw - pad_left, +kw),
//    channels [oc*sc, oc*sc + kc) (depth is never padded);
//  - max ignores padding (as if it were -inf); avg divides by the number of
//    non-padding elements in the window (TensorFlow);
//  - a window made only of padding (explicit pad >= window) outputs 0 and
//    passes no gradient;
//  - NaN: a window containing a NaN yields NaN (like TF/NumPy max); max
//    backward routes dy to the FIRST maximum in row-major (kh, kw, kc) order,
//    where a NaN counts as larger than everything (the first NaN wins);
//  - overlapping windows accumulate their gradients.
#include <omp.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "../../common.h"
#include "../../isa.h"
#include "pool_isa.h"

namespace pcn {
namespace PCN_ISA_NS {

namespace {

// Forward max update: take v when larger or NaN (a NaN then sticks, since no
// comparison with it is true).
inline float max_step(float v, float a) { return (v > a || v != v) ? v : a; }
// Backward argmax update: strictly larger, or the first NaN.
inline bool arg_take(float v, float best) { return v > best || (v != v && best == best); }

inline int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }
inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }

// Valid (non-padding) input range of the window of output (oh, ow).
struct Win {
  int64_t h0, h1, w0, w1;
  bool empty() const { return h0 >= h1 || w0 >= w1; }
  int64_t count() const { return (h1 - h0) * (w1 - w0); }
};
inline Win window(const Pool2dParams& p, int64_t oh, int64_t ow) {
  const int64_t hs = oh * p.sh - p.pad_top, ws = ow * p.sw - p.pad_left;
  return Win{imax(hs, 0), imin(hs + p.kh, p.H), imax(ws, 0), imin(ws + p.kw, p.W)};
}

constexpr int64_t CB = 64;  // channel chunk held on the stack in the argmax loops

// ---------------------------------------------------------------- forward
// One output row (n, oh): y[n, oh, :, :]. xn = x + n*H*W*C.
void fwd_row(const Pool2dParams& p, const float* __restrict xn, float* __restrict yrow, int64_t oh) {
  const int64_t C = p.C, W = p.W, OC = p.OC, sc = p.sc, kc = p.kc;
  const bool is_max = p.mode == PoolMode::Max;
  for (int64_t ow = 0; ow < p.OW; ++ow) {
    float* __restrict yp = yrow + ow * OC;
    const Win w = window(p, oh, ow);
    if (w.empty()) {
      for (int64_t oc = 0; oc < OC; ++oc) yp[oc] = 0.f;
      continue;
    }
    if (kc == 1) {
      // Vector path: all channels of one window position at a time.
      const float* x0 = xn + (w.h0 * W + w.w0) * C;
      if (sc == 1) {
        for (int64_t oc = 0; oc < OC; ++oc) yp[oc] = x0[oc];
      } else {
        for (int64_t oc = 0; oc < OC; ++oc) yp[oc] = x0[oc * sc];
      }
      for (int64_t ih = w.h0; ih < w.h1; ++ih) {
        for (int64_t iw = (ih == w.h0 ? w.w0 + 1 : w.w0); iw < w.w1; ++iw) {
          const float* __restrict xp = xn + (ih * W + iw) * C;
          if (is_max) {
            if (sc == 1) {
              for (int64_t oc = 0; oc < OC; ++oc) yp[oc] = max_step(xp[oc], yp[oc]);
            } else {
              for (int64_t oc = 0; oc < OC; ++oc) yp[oc] = max_step(xp[oc * sc], yp[oc]);
            }
          } else {
            if (sc == 1) {
              for (int64_t oc = 0; oc < OC; ++oc) yp[oc] += xp[oc];
            } else {
              for (int64_t oc = 0; oc < OC; ++oc) yp[oc] += xp[oc * sc];
            }
          }
        }
      }
      if (!is_max) {
        const float inv = 1.f / float(w.count());
        for (int64_t oc = 0; oc < OC; ++oc) yp[oc] *= inv;
      }
    } else {
      // Depth windows: scalar loop per output channel, (kh, kw, kc) order.
      for (int64_t oc = 0; oc < OC; ++oc) {
        const int64_t c0 = oc * sc;
        float acc = xn[(w.h0 * W + w.w0) * C + c0];
        if (!is_max) acc = 0.f;
        for (int64_t ih = w.h0; ih < w.h1; ++ih)
          for (int64_t iw = w.w0; iw < w.w1; ++iw) {
            const float* xp = xn + (ih * W + iw) * C + c0;
            if (is_max)
              for (int64_t j = 0; j < kc; ++j) acc = max_step(xp[j], acc);
            else
              for (int64_t j = 0; j < kc; ++j) acc += xp[j];
          }
        yp[oc] = is_max ? acc : acc / float(w.count() * kc);
      }
    }
  }
}

// ---------------------------------------------------------------- backward
// Accumulate into dxn (= dx + n*H*W*C) the gradients of outputs
// (n, oh in [oh0, oh1), every ow, oc in [oc0, oc1)). The caller guarantees no
// other thread writes the input elements these windows cover.
void bwd_block(const Pool2dParams& p, const float* __restrict dyn, const float* __restrict xn, float* __restrict dxn,
               int64_t oh0, int64_t oh1, int64_t oc0, int64_t oc1) {
  const int64_t C = p.C, W = p.W, OC = p.OC, sc = p.sc, kc = p.kc;
  const bool is_max = p.mode == PoolMode::Max;
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    for (int64_t ow = 0; ow < p.OW; ++ow) {
      const Win w = window(p, oh, ow);
      if (w.empty()) continue;
      const float* __restrict dyp = dyn + (oh * p.OW + ow) * OC;
      if (kc == 1 && is_max) {
        // Two vector passes per channel chunk: m = window max (as forward),
        // then walk the window in order and give dy to the first element
        // equal to m (or the first NaN, when m is NaN); 'done' masks the rest.
        for (int64_t cb = oc0; cb < oc1; cb += CB) {
          const int64_t nc = imin(CB, oc1 - cb);
          float m[CB], done[CB];
          const float* x0 = xn + (w.h0 * W + w.w0) * C;
          for (int64_t c = 0; c < nc; ++c) {
            m[c] = x0[(cb + c) * sc];
            done[c] = 0.f;
          }
          for (int64_t ih = w.h0; ih < w.h1; ++ih)
            for (int64_t iw = (ih == w.h0 ? w.w0 + 1 : w.w0); iw < w.w1; ++iw) {
              const float* __restrict xp = xn + (ih * W + iw) * C;
              if (sc == 1) {
                for (int64_t c = 0; c < nc; ++c) m[c] = max_step(xp[cb + c], m[c]);
              } else {
                for (int64_t c = 0; c < nc; ++c) m[c] = max_step(xp[(cb + c) * sc], m[c]);
              }
            }
          for (int64_t ih = w.h0; ih < w.h1; ++ih)
            for (int64_t iw = w.w0; iw < w.w1; ++iw) {
              const float* __restrict xp = xn + (ih * W + iw) * C;
              float* __restrict dxp = dxn + (ih * W + iw) * C;
              if (sc == 1) {
                for (int64_t c = 0; c < nc; ++c) {
                  const float v = xp[cb + c];
                  const bool hit = done[c] == 0.f && (v == m[c] || v != v);
                  dxp[cb + c] += hit ? dyp[cb + c] : 0.f;
                  done[c] = hit ? 1.f : done[c];
                }
              } else {
                for (int64_t c = 0; c < nc; ++c) {
                  const float v = xp[(cb + c) * sc];
                  const bool hit = done[c] == 0.f && (v == m[c] || v != v);
                  dxp[(cb + c) * sc] += hit ? dyp[cb + c] : 0.f;
                  done[c] = hit ? 1.f : done[c];
                }
              }
            }
        }
      } else if (kc == 1) {
        const float inv = 1.f / float(w.count());
        for (int64_t ih = w.h0; ih < w.h1; ++ih)
          for (int64_t iw = w.w0; iw < w.w1; ++iw) {
            float* __restrict dxp = dxn + (ih * W + iw) * C;
            if (sc == 1) {
              for (int64_t oc = oc0; oc < oc1; ++oc) dxp[oc] += dyp[oc] * inv;
            } else {
              for (int64_t oc = oc0; oc < oc1; ++oc) dxp[oc * sc] += dyp[oc] * inv;
            }
          }
      } else {
        const float inv = 1.f / float(w.count() * kc);
        for (int64_t oc = oc0; oc < oc1; ++oc) {
          const int64_t c0 = oc * sc;
          if (is_max) {
            int64_t at = (w.h0 * W + w.w0) * C + c0;
            float best = xn[at];
            for (int64_t ih = w.h0; ih < w.h1; ++ih)
              for (int64_t iw = w.w0; iw < w.w1; ++iw) {
                const int64_t off = (ih * W + iw) * C + c0;
                for (int64_t j = 0; j < kc; ++j)
                  if (arg_take(xn[off + j], best)) {
                    best = xn[off + j];
                    at = off + j;
                  }
              }
            dxn[at] += dyp[oc];
          } else {
            const float g = dyp[oc] * inv;
            for (int64_t ih = w.h0; ih < w.h1; ++ih)
              for (int64_t iw = w.w0; iw < w.w1; ++iw) {
                float* dxp = dxn + (ih * W + iw) * C + c0;
                for (int64_t j = 0; j < kc; ++j) dxp[j] += g;
              }
          }
        }
      }
    }
  }
}

// Below this much work (elements touched) the kernels stay on one thread.
constexpr double kParallelWork = 1 << 15;

}  // namespace

#if defined(__AVX512F__)
// ---------------------------------------------------------------- AVX-512 fast paths
// Spatial windows only (kc == 1, sc == 1), any C (the channel tail is masked).
//
// Forward: one pass per output row; each window position is a row of C
// contiguous floats, loaded 16 at a time. max keeps the NaN rule with a mask
// of the lanes that met a NaN.
//
// Backward in gather form: every dx element is written exactly once (no
// zeroing pass, no read-modify-write of dx), so threads own disjoint ranges
// of the N*H input rows and never synchronize. For input row ih the covering
// output rows are [oh_lo, oh_hi] and for column iw the covering output
// columns [ow_lo, ow_hi] (precomputed); dx = sum of the contributions of those
// windows in (oh, ow) order -- the order the scatter form accumulates in.
//   avg: dy * (1 / non-pad count);
//   max: dy where the window's first argmax is this position. The argmax
//        ("code" = position within the unclipped window, < 255) of every
//        output element is computed once per output row into a small
//        per-thread ring of rows, reading x once.
// Large outputs are written with streaming (non-temporal) stores: they do not
// fit the cache anyway, and skipping the read-for-ownership saves a third of
// the traffic.
namespace fast {

inline __mmask16 tail_mask(int64_t n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1u); }

// Streaming stores when the destination is 64-byte aligned, C % 16 == 0 and
// the output is larger than this (bytes): half of the 32 MiB L3, so an output
// the next layer could still find in cache is written normally.
constexpr double kStreamBytes = 16.0 * 1024 * 1024;

inline void store16(float* p, __m512 v, __mmask16 m, bool nt) {
  if (m == 0) return;
  if (nt)
    _mm512_stream_ps(p, v);
  else if (m == 0xFFFF)
    _mm512_storeu_ps(p, v);
  else
    _mm512_mask_storeu_ps(p, m, v);
}

// Channels are handled in blocks of up to 4 vectors (64 floats): the loops
// over window positions run once per block, with 4 independent accumulators.
constexpr int64_t V = 4;
inline void block_masks(int64_t nc, __mmask16* m) {
  for (int64_t v = 0; v < V; ++v) m[v] = nc > 16 * v ? tail_mask(nc - 16 * v) : __mmask16(0);
}

bool ok(const Pool2dParams& p) {
  return p.kc == 1 && p.sc == 1 && p.kh * p.kw <= 254 && (p.kh + p.sh - 1) / p.sh < 16;
}

void fwd_row(const Pool2dParams& p, const float* __restrict xn, float* __restrict yrow, int64_t oh, bool nt) {
  const int64_t C = p.C, W = p.W;
  const bool is_max = p.mode == PoolMode::Max;
  const int64_t hs = oh * p.sh - p.pad_top;
  const int64_t h0 = imax(hs, 0), h1 = imin(hs + p.kh, p.H);
  const __m512 qnan = _mm512_set1_ps(__builtin_nanf(""));
  for (int64_t ow = 0; ow < p.OW; ++ow) {
    float* __restrict yp = yrow + ow * C;
    const int64_t ws = ow * p.sw - p.pad_left;
    const int64_t w0 = imax(ws, 0), w1 = imin(ws + p.kw, p.W);
    const bool empty = h0 >= h1 || w0 >= w1;
    const __m512 inv = _mm512_set1_ps(empty ? 0.f : 1.f / float((h1 - h0) * (w1 - w0)));
    for (int64_t c = 0; c < C; c += 16 * V) {
      __mmask16 m[V];
      block_masks(C - c, m);
      __m512 acc[V];
      __mmask16 nan[V];
      for (int64_t v = 0; v < V; ++v) acc[v] = _mm512_setzero_ps();
      if (!empty) {
        const float* x0 = xn + (h0 * W + w0) * C + c;
        for (int64_t v = 0; v < V; ++v) {
          acc[v] = _mm512_maskz_loadu_ps(m[v], x0 + 16 * v);
          nan[v] = _mm512_cmp_ps_mask(acc[v], acc[v], _CMP_UNORD_Q);
        }
        for (int64_t ih = h0; ih < h1; ++ih)
          for (int64_t iw = (ih == h0 ? w0 + 1 : w0); iw < w1; ++iw) {
            const float* xp = xn + (ih * W + iw) * C + c;
            for (int64_t v = 0; v < V; ++v) {
              const __m512 x = _mm512_maskz_loadu_ps(m[v], xp + 16 * v);
              if (is_max) {
                acc[v] = _mm512_max_ps(acc[v], x);
                nan[v] = _kor_mask16(nan[v], _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q));
              } else {
                acc[v] = _mm512_add_ps(acc[v], x);
              }
            }
          }
        for (int64_t v = 0; v < V; ++v)
          acc[v] = is_max ? _mm512_mask_mov_ps(acc[v], nan[v], qnan) : _mm512_mul_ps(acc[v], inv);
      }
      for (int64_t v = 0; v < V; ++v) store16(yp + c + 16 * v, acc[v], m[v], nt);
    }
  }
}

void forward(const Pool2dParams& p, const float* x, float* y) {
  const int64_t rows = p.N * p.OH;
  const double bytes = 4.0 * double(p.N * p.OH * p.OW * p.C);
  const bool nt = bytes > kStreamBytes && p.C % 16 == 0 && (reinterpret_cast<uintptr_t>(y) & 63) == 0;
  const double work = double(p.N * p.OH * p.OW * p.OC) * double(p.kh) * double(p.kw);
#pragma omp parallel if (work > kParallelWork)
  {
    // dynamic chunks: see backward
    const int64_t rc = imax(1, rows / (16 * omp_get_num_threads()));
#pragma omp for schedule(dynamic, rc) nowait
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t n = r / p.OH, oh = r % p.OH;
      fwd_row(p, x + n * p.H * p.W * p.C, y + r * p.OW * p.C, oh, nt);
    }
    if (nt) _mm_sfence();
  }
}

// Argmax codes of output row oh (every ow, every channel) into code (OW*C bytes).
void codes_row(const Pool2dParams& p, const float* __restrict xn, uint8_t* __restrict code, int64_t oh) {
  const int64_t C = p.C, W = p.W, kw = p.kw;
  const int64_t hs = oh * p.sh - p.pad_top;
  const int64_t h0 = imax(hs, 0), h1 = imin(hs + p.kh, p.H);
  if (h0 >= h1) return;  // covers no input row: never read
  for (int64_t ow = 0; ow < p.OW; ++ow) {
    const int64_t ws = ow * p.sw - p.pad_left;
    const int64_t w0 = imax(ws, 0), w1 = imin(ws + p.kw, p.W);
    if (w0 >= w1) continue;
    for (int64_t c = 0; c < C; c += 16 * V) {
      __mmask16 m[V];
      block_masks(C - c, m);
      __m512 best[V];
      __m512i at[V];
      const float* x0 = xn + (h0 * W + w0) * C + c;
      const __m512i p0 = _mm512_set1_epi32(int32_t((h0 - hs) * kw + (w0 - ws)));
      for (int64_t v = 0; v < V; ++v) {
        best[v] = _mm512_maskz_loadu_ps(m[v], x0 + 16 * v);
        at[v] = p0;
      }
      for (int64_t ih = h0; ih < h1; ++ih)
        for (int64_t iw = (ih == h0 ? w0 + 1 : w0); iw < w1; ++iw) {
          const float* xp = xn + (ih * W + iw) * C + c;
          const __m512i pos = _mm512_set1_epi32(int32_t((ih - hs) * kw + (iw - ws)));
          for (int64_t v = 0; v < V; ++v) {
            const __m512 x = _mm512_maskz_loadu_ps(m[v], xp + 16 * v);
            // take x when x > best or x is NaN, unless best is already NaN
            const __mmask16 tk =
                _mm512_mask_cmp_ps_mask(_mm512_cmp_ps_mask(best[v], best[v], _CMP_ORD_Q), x, best[v], _CMP_NLE_UQ);
            best[v] = _mm512_mask_mov_ps(best[v], tk, x);
            at[v] = _mm512_mask_mov_epi32(at[v], tk, pos);
          }
        }
      for (int64_t v = 0; v < V; ++v)
        if (m[v]) _mm512_mask_cvtepi32_storeu_epi8(code + ow * C + c + 16 * v, m[v], at[v]);
    }
  }
}

void backward(const Pool2dParams& p, const float* dy, const float* x, float* dx) {
  const int64_t N = p.N, H = p.H, W = p.W, C = p.C, OH = p.OH, OW = p.OW;
  const int64_t HWC = H * W * C, OHWC = OH * OW * C;
  const bool is_max = p.mode == PoolMode::Max;
  const double bytes = 4.0 * double(N * HWC);
  const bool nt = bytes > kStreamBytes && C % 16 == 0 && (reinterpret_cast<uintptr_t>(dx) & 63) == 0;
  // Covering output columns of each input column, and the non-pad column count of each window.
  int64_t* tab = static_cast<int64_t*>(std::malloc(sizeof(int64_t) * size_t(2 * W + OW + 1)));
  if (!tab) PCN_THROW(RuntimeError, "pool2d_backward: out of memory for " << 2 * W + OW << " indices");
  int64_t* owlo = tab;
  int64_t* owhi = tab + W;
  int64_t* ccnt = tab + 2 * W;
  for (int64_t iw = 0; iw < W; ++iw) {
    // ow*sw - pl <= iw < ow*sw - pl + kw
    const int64_t a = iw + p.pad_left - p.kw + 1;  // ow >= ceil(a / sw)
    owlo[iw] = a <= 0 ? 0 : (a + p.sw - 1) / p.sw;
    owhi[iw] = imin((iw + p.pad_left) / p.sw, OW - 1);  // iw + pl >= 0 always
  }
  for (int64_t ow = 0; ow < OW; ++ow) {
    const int64_t ws = ow * p.sw - p.pad_left;
    ccnt[ow] = imax(imin(ws + p.kw, W) - imax(ws, 0), 0);
  }
  const int64_t R = (p.kh + p.sh - 1) / p.sh + 1;  // ring rows: >= output rows covering one input row + 1
  const int64_t rows = N * H;
  const double work = double(N * OHWC) * double(p.kh) * double(p.kw) + double(N * HWC);
  bool oom = false;
#pragma omp parallel if (work > kParallelWork)
  {
    // Dynamic chunks of rows: on this oversubscribed machine a descheduled
    // thread's share is taken by the others instead of stalling the join.
    // The ring is keyed by (n, oh), so codes stay valid across chunks.
    const int64_t nth = omp_get_num_threads();
    const int64_t rc = imax(4, rows / (16 * nth)), nch = (rows + rc - 1) / rc;
    uint8_t* ring = nullptr;
    int64_t tag[16];
    if (is_max) {
      ring = static_cast<uint8_t*>(std::malloc(size_t(R * OW * C)));
      if (!ring) {
#pragma omp atomic write
        oom = true;
      }
      for (int64_t i = 0; i < R; ++i) tag[i] = -1;
    }
#pragma omp for schedule(dynamic, 1) nowait
    for (int64_t ch = 0; ch < nch; ++ch) {
      if (is_max && !ring) continue;
      for (int64_t r = ch * rc; r < imin(rows, (ch + 1) * rc); ++r) {
        const int64_t n = r / H, ih = r % H;
        const float* xn = x + n * HWC;
        const float* dyn = dy + n * OHWC;
        float* dxr = dx + r * W * C;
        const int64_t a = ih + p.pad_top - p.kh + 1;
        const int64_t oh_lo = a <= 0 ? 0 : (a + p.sh - 1) / p.sh;
        const int64_t oh_hi = imin((ih + p.pad_top) / p.sh, OH - 1);
        const uint8_t* crow[16];
        int64_t rcnt[16], dh[16];
        int64_t nrow = 0;
        for (int64_t oh = oh_lo; oh <= oh_hi; ++oh, ++nrow) {
          const int64_t hs = oh * p.sh - p.pad_top;
          rcnt[nrow] = imin(hs + p.kh, H) - imax(hs, 0);
          dh[nrow] = ih - hs;
          if (is_max) {
            const int64_t slot = oh % R, key = n * OH + oh;
            uint8_t* cr = ring + slot * OW * C;
            if (tag[slot] != key) {
              codes_row(p, xn, cr, oh);
              tag[slot] = key;
            }
            crow[nrow] = cr;
          }
        }
        for (int64_t iw = 0; iw < W; ++iw) {
          float* dxp = dxr + iw * C;
          const int64_t wlo = owlo[iw], whi = owhi[iw];
          for (int64_t c = 0; c < C; c += 16 * V) {
            __mmask16 m[V];
            block_masks(C - c, m);
            __m512 acc[V];
            for (int64_t v = 0; v < V; ++v) acc[v] = _mm512_setzero_ps();
            for (int64_t j = 0; j < nrow; ++j) {
              const int64_t oh = oh_lo + j;
              for (int64_t ow = wlo; ow <= whi; ++ow) {
                const float* g = dyn + (oh * OW + ow) * C + c;
                if (is_max) {
                  const __m512i pos = _mm512_set1_epi32(int32_t(dh[j] * p.kw + iw - (ow * p.sw - p.pad_left)));
                  const uint8_t* cp = crow[j] + ow * C + c;
                  for (int64_t v = 0; v < V; ++v) {
                    const __m128i cb = _mm_maskz_loadu_epi8(m[v], cp + 16 * v);
                    const __mmask16 hit = _mm512_mask_cmpeq_epi32_mask(m[v], _mm512_cvtepu8_epi32(cb), pos);
                    acc[v] = _mm512_mask_add_ps(acc[v], hit, acc[v], _mm512_maskz_loadu_ps(hit, g + 16 * v));
                  }
                } else {
                  const __m512 inv = _mm512_set1_ps(1.f / float(rcnt[j] * ccnt[ow]));
                  for (int64_t v = 0; v < V; ++v)
                    acc[v] = _mm512_add_ps(acc[v], _mm512_mul_ps(_mm512_maskz_loadu_ps(m[v], g + 16 * v), inv));
                }
              }
            }
            for (int64_t v = 0; v < V; ++v) store16(dxp + c + 16 * v, acc[v], m[v], nt);
          }
        }
      }
    }
    std::free(ring);
    if (nt) _mm_sfence();
  }
  std::free(tab);
  if (oom) PCN_THROW(RuntimeError, "pool2d_backward: out of memory for the argmax rows (" << R * OW * C << " bytes)");
}

}  // namespace fast
#endif  // __AVX512F__

#if defined(__AVX512F__)
namespace fast {

// Global pooling, x (N,HW,C). Forward: per (n, channel block) task, rows are
// taken 8 at a time (8 x C contiguous floats, in L1), reduced in registers
// (float for 8 rows: sum, or max) and folded into per-channel accumulators
// (double for avg) -- a sequential stream through x.
void global_forward(const GlobalPoolParams& p, const float* x, float* y) {
  const int64_t N = p.N, HW = p.HW, C = p.C;
  const bool is_max = p.mode == PoolMode::Max;
  const int nth = omp_get_max_threads();
  // Split channels only when there are too few images to feed the threads.
  int64_t cb = C;
  if (N < 2 * nth) {
    const int64_t want = (2 * nth + N - 1) / N;
    cb = imax(64, ((C + want - 1) / want + 15) / 16 * 16);
  }
  const int64_t nb = (C + cb - 1) / cb, tasks = N * nb;
  const __m512 qnan = _mm512_set1_ps(__builtin_nanf(""));
#pragma omp parallel if (double(N * HW * C) > kParallelWork)
  {
    double* dacc = static_cast<double*>(std::malloc(sizeof(double) * size_t(cb + 16)));
    float* facc = reinterpret_cast<float*>(dacc);  // max: cb floats
    __mmask16* nanm = static_cast<__mmask16*>(std::malloc(sizeof(__mmask16) * size_t(cb / 16 + 1)));
#pragma omp for schedule(dynamic, 1) nowait
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t n = t / nb, c0 = (t % nb) * cb, nc = imin(cb, C - c0);
      const float* xn = x + n * HW * C + c0;
      if (!dacc || !nanm) {  // out of memory: the plain loop
        for (int64_t c = 0; c < nc; ++c) {
          double s = 0.0;
          float b = xn[c];
          for (int64_t i = 0; i < HW; ++i) {
            s += double(xn[i * C + c]);
            b = max_step(xn[i * C + c], b);
          }
          y[n * C + c0 + c] = is_max ? b : float(s / double(HW));
        }
        continue;
      }
      for (int64_t c = 0; c < nc; c += 16) {
        if (is_max) {
          _mm512_storeu_ps(facc + c, _mm512_maskz_loadu_ps(tail_mask(nc - c), xn + c));
          nanm[c / 16] = 0;
        } else {
          _mm512_storeu_pd(dacc + c, _mm512_setzero_pd());
          _mm512_storeu_pd(dacc + c + 8, _mm512_setzero_pd());
        }
      }
      for (int64_t i0 = 0; i0 < HW; i0 += 8) {
        const int64_t ni = imin(8, HW - i0);
        const float* xb = xn + i0 * C;
        for (int64_t c = 0; c < nc; c += 16) {
          const __mmask16 m = tail_mask(nc - c);
          __m512 s = _mm512_maskz_loadu_ps(m, xb + c);
          if (is_max) {
            __mmask16 nn = _mm512_cmp_ps_mask(s, s, _CMP_UNORD_Q);
            for (int64_t i = 1; i < ni; ++i) {
              const __m512 v = _mm512_maskz_loadu_ps(m, xb + i * C + c);
              s = _mm512_max_ps(s, v);
              nn = _kor_mask16(nn, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q));
            }
            _mm512_storeu_ps(facc + c, _mm512_max_ps(_mm512_loadu_ps(facc + c), s));
            nanm[c / 16] = _kor_mask16(nanm[c / 16], nn);
          } else {
            for (int64_t i = 1; i < ni; ++i) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(m, xb + i * C + c));
            const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(s));
            const __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(s), 1)));
            _mm512_storeu_pd(dacc + c, _mm512_add_pd(_mm512_loadu_pd(dacc + c), lo));
            _mm512_storeu_pd(dacc + c + 8, _mm512_add_pd(_mm512_loadu_pd(dacc + c + 8), hi));
          }
        }
      }
      float* yp = y + n * C + c0;
      for (int64_t c = 0; c < nc; c += 16) {
        const __mmask16 m = tail_mask(nc - c);
        if (is_max) {
          _mm512_mask_storeu_ps(yp + c, m, _mm512_mask_mov_ps(_mm512_loadu_ps(facc + c), nanm[c / 16], qnan));
        } else {
          const __m512d d = _mm512_set1_pd(double(HW));
          const __m256 lo = _mm512_cvtpd_ps(_mm512_div_pd(_mm512_loadu_pd(dacc + c), d));
          const __m256 hi = _mm512_cvtpd_ps(_mm512_div_pd(_mm512_loadu_pd(dacc + c + 8), d));
          const __m512 v = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)),
                                                               _mm256_castps_pd(hi), 1));
          _mm512_mask_storeu_ps(yp + c, m, v);
        }
      }
    }
    std::free(dacc);
    std::free(nanm);
  }
}

// avg backward: dx rows = dy[n] / HW, a pure write stream.
void global_avg_backward(const GlobalPoolParams& p, const float* dy, float* dx) {
  const int64_t C = p.C, rows = p.N * p.HW;
  const bool nt = 4.0 * double(rows * C) > kStreamBytes && C % 16 == 0 && (reinterpret_cast<uintptr_t>(dx) & 63) == 0;
  const __m512 inv = _mm512_set1_ps(float(1.0 / double(p.HW)));
#pragma omp parallel if (double(rows * C) > kParallelWork)
  {
    const int64_t rc = imax(1, rows / (16 * omp_get_num_threads()));
#pragma omp for schedule(dynamic, rc) nowait
    for (int64_t r = 0; r < rows; ++r) {
      const float* g = dy + (r / p.HW) * C;
      float* d = dx + r * C;
      for (int64_t c = 0; c < C; c += 16) {
        const __mmask16 m = tail_mask(C - c);
        store16(d + c, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, g + c), inv), m, nt);
      }
    }
    if (nt) _mm_sfence();
  }
}

}  // namespace fast
#endif  // __AVX512F__

// x (N,H,W,C), y (N,OH,OW,OC); parallel over (n, oh).
void pool2d_forward(const Pool2dParams& p, const float* x, float* y) {
#if defined(__AVX512F__)
  if (fast::ok(p)) return fast::forward(p, x, y);
#endif
  const int64_t rows = p.N * p.OH;
  const double work = double(p.N * p.OH * p.OW * p.OC) * double(p.kh) * double(p.kw) * double(p.kc);  // may exceed int64
#pragma omp parallel for schedule(static) if (work > kParallelWork)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t n = r / p.OH, oh = r % p.OH;
    fwd_row(p, x + n * p.H * p.W * p.C, y + r * p.OW * p.OC, oh);
  }
}

// dy (N,OH,OW,OC), x (N,H,W,C), dx (N,H,W,C) overwritten. Each task zeroes
// and accumulates a block of outputs whose windows no other task touches:
// (n, oh) rows when windows do not overlap along H (sh >= kh), else (after a
// zeroing pass) (n, channel block) when depth windows do not overlap
// (sc >= kc), else n.
void pool2d_backward(const Pool2dParams& p, const float* dy, const float* x, float* dx) {
#if defined(__AVX512F__)
  if (fast::ok(p)) return fast::backward(p, dy, x, dx);
#endif
  const int64_t HWC = p.H * p.W * p.C, OHWC = p.OH * p.OW * p.OC;
  const double work = double(p.N * OHWC) * double(p.kh) * double(p.kw) * double(p.kc) + double(p.N * HWC);
  const bool par = work > kParallelWork;
  if (p.sh >= p.kh) {
    // Output row oh owns input rows [oh*sh - pad_top, (oh+1)*sh - pad_top)
    // (the first and last rows extended to the edges): it zeroes them while
    // they are hot in cache and accumulates its windows into them.
    const int64_t rows = p.N * p.OH;
#pragma omp parallel for schedule(static) if (par)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t n = r / p.OH, oh = r % p.OH;
      const int64_t lo = oh == 0 ? 0 : imax(imin(oh * p.sh - p.pad_top, p.H), 0);
      const int64_t hi = oh == p.OH - 1 ? p.H : imax(imin((oh + 1) * p.sh - p.pad_top, p.H), 0);
      if (hi > lo) std::memset(dx + n * HWC + lo * p.W * p.C, 0, sizeof(float) * size_t((hi - lo) * p.W * p.C));
      bwd_block(p, dy + n * OHWC, x + n * HWC, dx + n * HWC, oh, oh + 1, 0, p.OC);
    }
    return;
  }
  const int64_t rows_x = p.N * p.H;
#pragma omp parallel for schedule(static) if (par)
  for (int64_t r = 0; r < rows_x; ++r) std::memset(dx + r * p.W * p.C, 0, sizeof(float) * size_t(p.W * p.C));

  if (p.sc >= p.kc) {
    // Enough channel blocks to feed every thread a few times; at least 16 wide.
    const int64_t nt = omp_get_max_threads();
    int64_t nb = (4 * nt + p.N - 1) / p.N;
    int64_t bw = (p.OC + nb - 1) / nb;
    bw = bw < 16 ? 16 : ((bw + 15) / 16) * 16;
    nb = (p.OC + bw - 1) / bw;
    const int64_t tasks = p.N * nb;
#pragma omp parallel for schedule(dynamic) if (par)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t n = t / nb, b = t % nb;
      const int64_t oc0 = b * bw, oc1 = imin(oc0 + bw, p.OC);
      bwd_block(p, dy + n * OHWC, x + n * HWC, dx + n * HWC, 0, p.OH, oc0, oc1);
    }
  } else {
#pragma omp parallel for schedule(dynamic) if (par)
    for (int64_t n = 0; n < p.N; ++n) bwd_block(p, dy + n * OHWC, x + n * HWC, dx + n * HWC, 0, p.OH, 0, p.OC);
  }
}

// ---------------------------------------------------------------- global pooling
// x (N,HW,C) -> y (N,C); tasks (n, 64-channel block). avg sums in double.
void global_pool_forward(const GlobalPoolParams& p, const float* x, float* y) {
#if defined(__AVX512F__)
  return fast::global_forward(p, x, y);
#endif
  const int64_t nb = (p.C + CB - 1) / CB, tasks = p.N * nb;
  const bool is_max = p.mode == PoolMode::Max;
#pragma omp parallel for schedule(static) if (double(p.N * p.HW * p.C) > kParallelWork)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t n = t / nb, c0 = (t % nb) * CB, nc = imin(CB, p.C - c0);
    const float* xn = x + n * p.HW * p.C + c0;
    float* yp = y + n * p.C + c0;
    if (is_max) {
      float best[CB];
      for (int64_t c = 0; c < nc; ++c) best[c] = xn[c];
      for (int64_t i = 1; i < p.HW; ++i) {
        const float* xp = xn + i * p.C;
        for (int64_t c = 0; c < nc; ++c) best[c] = max_step(xp[c], best[c]);
      }
      for (int64_t c = 0; c < nc; ++c) yp[c] = best[c];
    } else {
      double acc[CB];
      for (int64_t c = 0; c < nc; ++c) acc[c] = 0.0;
      for (int64_t i = 0; i < p.HW; ++i) {
        const float* xp = xn + i * p.C;
        for (int64_t c = 0; c < nc; ++c) acc[c] += double(xp[c]);
      }
      for (int64_t c = 0; c < nc; ++c) yp[c] = float(acc[c] / double(p.HW));
    }
  }
}

// dy (N,C), x (N,HW,C), dx (N,HW,C) overwritten. avg: dy/HW everywhere;
// max: dy at the first maximum of each (n, c), 0 elsewhere.
void global_pool_backward(const GlobalPoolParams& p, const float* dy, const float* x, float* dx) {
  const bool par = double(p.N * p.HW * p.C) > kParallelWork;
  if (p.mode == PoolMode::Avg) {
#if defined(__AVX512F__)
    return fast::global_avg_backward(p, dy, dx);
#endif
    const int64_t rows = p.N * p.HW;
    const float inv = float(1.0 / double(p.HW));
#pragma omp parallel for schedule(static) if (par)
    for (int64_t r = 0; r < rows; ++r) {
      const float* g = dy + (r / p.HW) * p.C;
      float* d = dx + r * p.C;
      for (int64_t c = 0; c < p.C; ++c) d[c] = g[c] * inv;
    }
    return;
  }
  const int64_t nb = (p.C + CB - 1) / CB, tasks = p.N * nb;
#pragma omp parallel for schedule(static) if (par)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t n = t / nb, c0 = (t % nb) * CB, nc = imin(CB, p.C - c0);
    const float* xn = x + n * p.HW * p.C + c0;
    float* dxn = dx + n * p.HW * p.C + c0;
    const float* g = dy + n * p.C + c0;
    float best[CB];
    int64_t at[CB];
    for (int64_t c = 0; c < nc; ++c) {
      best[c] = xn[c];
      at[c] = 0;
    }
    for (int64_t i = 1; i < p.HW; ++i) {
      const float* xp = xn + i * p.C;
      for (int64_t c = 0; c < nc; ++c) {
        const bool tk = arg_take(xp[c], best[c]);
        best[c] = tk ? xp[c] : best[c];
        at[c] = tk ? i : at[c];
      }
    }
    for (int64_t i = 0; i < p.HW; ++i) {
      float* d = dxn + i * p.C;
      for (int64_t c = 0; c < nc; ++c) d[c] = at[c] == i ? g[c] : 0.f;
    }
  }
}

}  // namespace PCN_ISA_NS
}  // namespace pcn
