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

#include <cstring>

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

// x (N,H,W,C), y (N,OH,OW,OC); parallel over (n, oh).
void pool2d_forward(const Pool2dParams& p, const float* x, float* y) {
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
