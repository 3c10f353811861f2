// cpu/conv2d.cpp — conv2d on the CPU: dispatch, and im2col + packed SGEMM per row tile.
//
// Shapes: x (N,H,W,C) NHWC; w (KH,KW,Cg,K) HWIO with Cg = C/groups, Kg = K/groups;
// y/dy (N,OH,OW,K). Rows r = (n, oh, ow) of the output are the GEMM's M axis.
// For group g the filter is the matrix W_g (KH*KW*Cg, Kg) = w[..., g*Kg : (g+1)*Kg]
// (row stride K), and the im2col row of r is the window x[n, ih(oh,kh), iw(ow,kw),
// g*Cg : (g+1)*Cg] laid out (kh, kw, c) — the same order as W_g's rows.
//
//   forward          y_g[rows]  = col_g(rows) @ W_g (+ b, relu)
//   backward_input   dx        += col2im(dy_g[rows] @ W_g^T)
//   backward_filter  dW_g      += col_g(rows)^T @ dy_g[rows]
//
// The im2col buffer holds one tile of rows (a few MB at most; never the whole
// matrix). When there are at least as many tiles as threads, each thread owns
// a buffer and runs serial GEMMs on whole tiles; otherwise tiles run in order
// and the GEMM itself is parallel. 1x1 stride-1 unpadded convs skip im2col
// (x is already the matrix); depthwise convs use the kernels in isa/conv2d_dw.cpp.
// groups == 1 with C >= 5 (every 3x3 / 5x5 / strided layer of a CNN body) uses the
// direct kernels of isa/conv2d_direct.cpp instead (no im2col; backward-input as a
// forward conv of dy per stride phase); the GEMM path remains for grouped convs and
// backward-input with 5 <= C < 16. Dispatch table: docs/KERNELS.md.
// Everything is deterministic for a given thread count.
#include "conv2d.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "gemm.h"
#include "isa/conv2d_direct_isa.h"
#include "isa/conv2d_small_isa.h"

namespace pcn {
namespace cpu {
namespace {

constexpr int64_t kColBytes = int64_t(2) << 20;     // im2col tile budget per thread
constexpr int64_t kBwdColBytes = int64_t(4) << 20;  // backward-input image-group tile budget

struct Geom {
  int64_t Cg, Kg, KKC, rows, OHW;
};
Geom geom(const Conv2dParams& p) {
  Geom g;
  g.Cg = p.C / p.groups;
  g.Kg = p.K / p.groups;
  g.KKC = p.KH * p.KW * g.Cg;
  g.OHW = p.OH * p.OW;
  g.rows = p.N * g.OHW;
  return g;
}

bool is_pointwise(const Conv2dParams& p) {
  return p.KH == 1 && p.KW == 1 && p.sh == 1 && p.sw == 1 && p.pad_top == 0 && p.pad_bottom == 0 &&
         p.pad_left == 0 && p.pad_right == 0;
}
bool is_depthwise(const Conv2dParams& p) { return p.groups == p.C && p.K % p.C == 0; }

// First layers: few input channels, so the im2col GEMM's inner dimension is
// tiny and its A matrix KH*KW times x; the direct kernels in
// isa/conv2d_small.cpp read x in place and vectorize over K instead.
bool is_small_c(const Conv2dParams& p) { return p.groups == 1 && p.C <= 4 && !is_pointwise(p); }
constexpr int64_t kSmallKp = 16;  // K padding of the packed weights (a multiple of every VW)
inline int64_t small_kp(const Conv2dParams& p) { return (p.K + kSmallKp - 1) / kSmallKp * kSmallKp; }
inline int64_t small_rowbuf(const Conv2dParams& p) {
  return (p.KH + 1) * ((p.OW - 1) * p.sw + (p.KW - 1) * p.dw + 1) * p.C;
}

void small_forward(const Conv2dParams& p, const float* x, const float* w, const float* b, float* y) {
  const int nt = omp_get_max_threads();
  const int64_t Kp = small_kp(p), KKC = p.KH * p.KW * p.C;
  std::vector<float> wp(size_t(KKC * Kp), 0.f), bp(size_t(Kp), 0.f);
  for (int64_t t = 0; t < KKC; ++t) std::memcpy(wp.data() + t * Kp, w + t * p.K, sizeof(float) * size_t(p.K));
  if (b) std::memcpy(bp.data(), b, sizeof(float) * size_t(p.K));
  std::vector<float> rowbuf(size_t(nt) * size_t(small_rowbuf(p)));
  std::vector<const float*> rowptr(size_t(nt) * size_t(p.KH));
  PCN_ISA_CALL(conv2d_small_forward, p, x, wp.data(), bp.data(), y, Kp, rowbuf.data(), rowptr.data(), nt);
}

void small_backward_filter(const Conv2dParams& p, const float* dy, const float* x, float* dw, bool accumulate) {
  const int nt = omp_get_max_threads();
  const int64_t Kp = small_kp(p), KKC = p.KH * p.KW * p.C;
  std::vector<float> part(size_t(nt) * size_t(KKC * Kp));
  std::vector<float> dyrow(size_t(nt) * size_t(p.OW * Kp));
  std::vector<float> rowbuf(size_t(nt) * size_t(small_rowbuf(p)));
  std::vector<const float*> rowptr(size_t(nt) * size_t(p.KH));
  std::vector<int64_t> taps(size_t(2 * KKC));
  // K <= 8, C == 1, stride_w 1: scratch of the pixel-vector path (one de-interleaved
  // dy row + per-tap vector partials per thread).
  std::vector<float> dyt;
  int64_t dyt_pt = 0;
  if (p.K <= 8 && p.C == 1 && p.sw == 1) {
    dyt_pt = p.K * ((p.OW + 15) / 16 * 16) + p.KH * p.KW * p.K * 16;  // one dy row + vector partials
    if (dyt_pt * nt <= (int64_t(16) << 20)) dyt.resize(size_t(dyt_pt * nt));
    else dyt_pt = 0;
  }
  PCN_ISA_CALL(conv2d_small_backward_filter, p, dy, x, dw, accumulate, Kp, part.data(), dyrow.data(),
               rowbuf.data(), rowptr.data(), taps.data(), dyt_pt ? dyt.data() : nullptr, dyt_pt, nt);
}

// groups == 1 with C >= 5 (the small-C kernels take C <= 4), not 1x1/stride-1/unpadded
// (that is one GEMM on x as is): the direct kernels of isa/conv2d_direct.cpp.
bool is_direct(const Conv2dParams& p) { return p.groups == 1 && p.C >= 5 && !is_pointwise(p); }

DirectConv direct_fwd(const Conv2dParams& p) {
  return DirectConv{p.N, p.H, p.W, p.C, p.K, p.KH, p.KW, p.sh, p.sw, p.dh, p.dw, p.pad_top, p.pad_left, p.OH, p.OW};
}

// Per-thread scratch kept between calls: the packed weights of a 512x512 3x3 filter
// are 9.4 MB, and a fresh zeroed vector per call cost its page faults and memset
// (~5% of the call). Grows; buffers over 64 MB are freed after the call.
struct DirectScratch {
  std::unique_ptr<float[]> p;
  size_t cap = 0;
  float* get(size_t n) {
    if (n > cap) {
      p.reset(new float[n]);
      cap = n;
    }
    return p.get();
  }
  void trim() {  // do not keep more than 64 MB alive between calls
    if (cap > (size_t(16) << 20)) {
      p.reset();
      cap = 0;
    }
  }
};
thread_local DirectScratch tl_wp, tl_xp;

// nview views sharing x (see conv2d_direct_isa.h), scratch carved from the per-thread buffers.
void direct_forward(int nview, const DirectConv* d, const DirectMap* m, const float* x, const float* w, const float* b,
                    int act, float* y) {
  int64_t ow[kDirectMaxViews + 1] = {0}, ox[kDirectMaxViews + 1] = {0};
  for (int i = 0; i < nview; ++i) {
    int64_t nwp = 0, nxp = 0;
    PCN_ISA_CALL(conv2d_direct_forward_scratch, d[i], &nwp, &nxp);
    ow[i + 1] = ow[i] + (nwp + 15) / 16 * 16;
    ox[i + 1] = ox[i] + (nxp + 15) / 16 * 16;
  }
  float* wbuf = tl_wp.get(static_cast<size_t>(ow[nview]));
  float* xbuf = tl_xp.get(static_cast<size_t>(ox[nview]));
  float* wp[kDirectMaxViews];
  float* xp[kDirectMaxViews];
  for (int i = 0; i < nview; ++i) {
    wp[i] = wbuf + ow[i];
    xp[i] = xbuf + ox[i];
  }
  PCN_ISA_CALL(conv2d_direct_forward, nview, d, m, x, w, b, act, y, wp, xp);
  tl_wp.trim();
  tl_xp.trim();
}

void direct_forward(const Conv2dParams& p, const float* x, const float* w, const float* b, float* y) {
  DirectMap m{};
  m.transposed = false;
  m.y_img = p.OH * p.OW * p.K;
  m.y_row = p.OW * p.K;
  m.y_pix = p.K;
  m.y_off = 0;
  const DirectConv d = direct_fwd(p);
  direct_forward(1, &d, &m, x, w, b, p.activation, y);
}

// The kernel taps t in [0, KT) with (r + pad - t*dil) % s == 0 for stride phase r:
// first/last/step/count, and e(last) = (r + pad - last*dil) / s (the smallest dy offset).
struct PhaseTaps {
  int64_t hi, step, count, emin;
};
PhaseTaps phase_taps(int64_t r, int64_t pad, int64_t KT, int64_t dil, int64_t s) {
  PhaseTaps t{0, 1, 0, 0};
  int64_t lo = -1;
  for (int64_t k = 0; k < KT; ++k) {
    const int64_t v = r + pad - k * dil;
    if (((v % s) + s) % s != 0) continue;
    if (lo < 0) lo = k;
    else if (t.count == 1) t.step = k - lo;
    t.hi = k;
    ++t.count;
  }
  if (t.count > 0) {
    const int64_t v = r + pad - t.hi * dil;  // divisible by s; may be negative
    t.emin = v >= 0 ? v / s : -((-v) / s);
  }
  return t;
}

// dx, one forward conv of dy per stride phase of dx (see conv2d_direct_isa.h):
// dx(ph + sh*i, pw + sw*j) = sum over the phase's taps of dy(i + e(kh), j + e(kw)) . w^T.
// Phases no tap reaches (stride > kernel) are zero.
void direct_backward_input(const Conv2dParams& p, const float* dy, const float* w, float* dx) {
  DirectConv ds[kDirectMaxViews];
  DirectMap ms[kDirectMaxViews];
  int nview = 0;
  // The phases run as one multi-view call (one pass over dy), kDirectMaxViews at a time.
  for (int64_t ph = 0; ph < p.sh; ++ph) {
    for (int64_t pw = 0; pw < p.sw; ++pw) {
      const int64_t Hph = p.H > ph ? (p.H - ph + p.sh - 1) / p.sh : 0;
      const int64_t Wph = p.W > pw ? (p.W - pw + p.sw - 1) / p.sw : 0;
      if (Hph == 0 || Wph == 0) continue;
      const PhaseTaps th = phase_taps(ph, p.pad_top, p.KH, p.dh, p.sh);
      const PhaseTaps tw = phase_taps(pw, p.pad_left, p.KW, p.dw, p.sw);
      DirectMap m{};
      m.transposed = true;
      m.KW0 = p.KW;
      m.kh_hi = th.hi;
      m.kh_step = th.step;
      m.kw_hi = tw.hi;
      m.kw_step = tw.step;
      m.y_img = p.H * p.W * p.C;
      m.y_row = p.sh * p.W * p.C;
      m.y_pix = p.sw * p.C;
      m.y_off = (ph * p.W + pw) * p.C;
      if (th.count == 0 || tw.count == 0 || p.OH == 0 || p.OW == 0) {
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < p.N * Hph; ++r) {
          float* row = dx + (r / Hph) * m.y_img + (r % Hph) * m.y_row + m.y_off;
          for (int64_t j = 0; j < Wph; ++j) std::memset(row + j * m.y_pix, 0, sizeof(float) * size_t(p.C));
        }
        continue;
      }
      // view: input dy (OH, OW, K), kernel th.count x tw.count with dilation
      // (step*dil/s), padding -e(last tap), output the phase grid (Hph, Wph, C)
      ds[nview] = DirectConv{p.N, p.OH, p.OW, p.K, p.C, th.count, tw.count, 1, 1,
                             th.step * p.dh / p.sh > 0 ? th.step * p.dh / p.sh : 1,
                             tw.step * p.dw / p.sw > 0 ? tw.step * p.dw / p.sw : 1,
                             -th.emin, -tw.emin, Hph, Wph};
      ms[nview] = m;
      if (++nview == kDirectMaxViews) {
        direct_forward(nview, ds, ms, dy, w, nullptr, 0, dx);
        nview = 0;
      }
    }
  }
  if (nview > 0) direct_forward(nview, ds, ms, dy, w, nullptr, 0, dx);
}

// Rows per tile: the cache budget, and no more than an even share per thread.
int64_t tile_rows(int64_t KKC, int64_t rows, int64_t nthreads) {
  int64_t r = std::max<int64_t>(1, kColBytes / (int64_t(sizeof(float)) * KKC));
  const int64_t share = (rows + nthreads - 1) / nthreads;
  r = std::min(r, std::max<int64_t>(share, 1));
  if (r > 32) r = r / 16 * 16;
  return std::max<int64_t>(1, std::min(r, rows));
}

// Outside a parallel region, im2col/col2im split their work over threads
// themselves (the serial-tile paths); inside one they run on the caller.
inline bool split_here(int64_t work) { return !omp_in_parallel() && omp_get_max_threads() > 1 && work > (1 << 15); }

// col (R, KKC) = im2col rows [r0, r0+R) of group g.
void im2col(const Conv2dParams& p, const Geom& G, const float* x, int64_t g, int64_t r0, int64_t R, float* col) {
  const int64_t Cg = G.Cg;
  const bool dense_row = p.groups == 1 && p.dw == 1;
#pragma omp parallel for schedule(static) if (split_here(R * G.KKC))
  for (int64_t i = 0; i < R; ++i) {
    const int64_t r = r0 + i, n = r / G.OHW, rem = r % G.OHW, oh = rem / p.OW, ow = rem % p.OW;
    float* dst = col + i * G.KKC;
    for (int64_t kh = 0; kh < p.KH; ++kh) {
      const int64_t ih = oh * p.sh - p.pad_top + kh * p.dh;
      if (ih < 0 || ih >= p.H) {
        std::memset(dst, 0, sizeof(float) * size_t(p.KW * Cg));
        dst += p.KW * Cg;
        continue;
      }
      const float* xrow = x + ((n * p.H + ih) * p.W) * p.C + g * Cg;
      const int64_t iw0 = ow * p.sw - p.pad_left;
      if (dense_row && iw0 >= 0 && iw0 + p.KW <= p.W) {  // the KW pixels are one contiguous run of x
        std::memcpy(dst, xrow + iw0 * p.C, sizeof(float) * size_t(p.KW * Cg));
        dst += p.KW * Cg;
        continue;
      }
      for (int64_t kw = 0; kw < p.KW; ++kw, dst += Cg) {
        const int64_t iw = ow * p.sw - p.pad_left + kw * p.dw;
        if (iw < 0 || iw >= p.W) std::memset(dst, 0, sizeof(float) * size_t(Cg));
        else std::memcpy(dst, xrow + iw * p.C, sizeof(float) * size_t(Cg));
      }
    }
  }
}

// dx[n, ih, iw, g*Cg + c] += col[i, (kh, kw, c)] for rows [r0, r0+R) of group g,
// channels [c0, c1) of the group only.
void col2im_add_range(const Conv2dParams& p, const Geom& G, const float* col, int64_t g, int64_t r0, int64_t R,
                      int64_t c0, int64_t c1, float* dx) {
  const int64_t Cg = G.Cg;
  // Whole-run fast path only when this call owns every channel.
  const bool dense_row = p.groups == 1 && p.dw == 1 && c0 == 0 && c1 == Cg;
  for (int64_t i = 0; i < R; ++i) {
    const int64_t r = r0 + i, n = r / G.OHW, rem = r % G.OHW, oh = rem / p.OW, ow = rem % p.OW;
    const float* src = col + i * G.KKC;
    for (int64_t kh = 0; kh < p.KH; ++kh) {
      const int64_t ih = oh * p.sh - p.pad_top + kh * p.dh;
      if (ih < 0 || ih >= p.H) {
        src += p.KW * Cg;
        continue;
      }
      float* xrow = dx + ((n * p.H + ih) * p.W) * p.C + g * Cg;
      const int64_t iw0 = ow * p.sw - p.pad_left;
      if (dense_row && iw0 >= 0 && iw0 + p.KW <= p.W) {  // one contiguous run of dx
        float* d = xrow + iw0 * p.C;
        for (int64_t e = 0; e < p.KW * Cg; ++e) d[e] += src[e];
        src += p.KW * Cg;
        continue;
      }
      for (int64_t kw = 0; kw < p.KW; ++kw, src += Cg) {
        const int64_t iw = ow * p.sw - p.pad_left + kw * p.dw;
        if (iw < 0 || iw >= p.W) continue;
        float* d = xrow + iw * p.C;
        for (int64_t c = c0; c < c1; ++c) d[c] += src[c];
      }
    }
  }
}

// Windows overlap, so threads split the channels (disjoint writes, same order
// of additions per element as the serial loop: deterministic).
void col2im_add(const Conv2dParams& p, const Geom& G, const float* col, int64_t g, int64_t r0, int64_t R,
                float* dx) {
  if (split_here(R * G.KKC) && G.Cg >= 32) {
#pragma omp parallel
    {
      const int64_t T = omp_get_num_threads(), t = omp_get_thread_num();
      const int64_t c0 = G.Cg * t / T / 16 * 16, c1 = t + 1 == T ? G.Cg : G.Cg * (t + 1) / T / 16 * 16;
      col2im_add_range(p, G, col, g, r0, R, c0, c1, dx);
    }
  } else {
    col2im_add_range(p, G, col, g, r0, R, 0, G.Cg, dx);
  }
}

inline void relu_rows(float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = y[i] > 0.f ? y[i] : (y[i] != y[i] ? y[i] : 0.f);
}

// y rows [r0, r0+R) of all groups, given this thread's col buffer.
void forward_tile(const Conv2dParams& p, const Geom& G, const float* x, const float* w, const float* b, float* y,
                  int64_t r0, int64_t R, float* col) {
  float* yt = y + r0 * p.K;
  if (b)
    for (int64_t i = 0; i < R; ++i) std::memcpy(yt + i * p.K, b, sizeof(float) * size_t(p.K));
  for (int64_t g = 0; g < p.groups; ++g) {
    im2col(p, G, x, g, r0, R, col);
    GemmParams gp;
    gp.M = R; gp.N = G.Kg; gp.K = G.KKC;
    gp.lda = G.KKC; gp.ldb = p.K; gp.ldc = p.K;
    gp.beta = b ? 1.f : 0.f;
    sgemm(gp, col, w + g * G.Kg, yt + g * G.Kg);
  }
  if (p.activation == 1) relu_rows(yt, R * p.K);
}

}  // namespace

void conv2d_forward(const Conv2dParams& p, const float* x, const float* w, const float* b, float* y) {
  if (is_small_c(p)) {
    small_forward(p, x, w, b, y);
    return;
  }
  if (is_direct(p)) {
    direct_forward(p, x, w, b, y);
    return;
  }
  if (is_depthwise(p) && (p.groups > 1 || p.KH * p.KW > 1)) {
    PCN_ISA_CALL(conv2d_dw_forward, p, x, w, b, y);
    return;
  }
  const Geom G = geom(p);
  if (is_pointwise(p)) {
    // y_g (rows, Kg) = x_g (rows, Cg; row stride C) @ W_g (Cg, Kg; row stride K)
    if (b) {
#pragma omp parallel for schedule(static)
      for (int64_t r = 0; r < G.rows; ++r) std::memcpy(y + r * p.K, b, sizeof(float) * size_t(p.K));
    }
    for (int64_t g = 0; g < p.groups; ++g) {
      GemmParams gp;
      gp.M = G.rows; gp.N = G.Kg; gp.K = G.Cg;
      gp.lda = p.C; gp.ldb = p.K; gp.ldc = p.K;
      gp.beta = b ? 1.f : 0.f;
      sgemm(gp, x + g * G.Cg, w + g * G.Kg, y + g * G.Kg);
    }
    if (p.activation == 1) {
      const int64_t total = G.rows * p.K, chunk = 1 << 16;
#pragma omp parallel for schedule(static)
      for (int64_t s = 0; s < total; s += chunk) relu_rows(y + s, std::min(chunk, total - s));
    }
    return;
  }
  const int nt = omp_get_max_threads();
  const int64_t R = tile_rows(G.KKC, G.rows, nt);
  const int64_t ntiles = (G.rows + R - 1) / R;
  if (ntiles >= nt && nt > 1) {
    // Buffers are allocated before the region: an exception must not leave an omp region.
    std::vector<float> cols(size_t(nt) * size_t(R * G.KKC));
#pragma omp parallel num_threads(nt)
    {
      float* col = cols.data() + size_t(omp_get_thread_num()) * size_t(R * G.KKC);
#pragma omp for schedule(dynamic, 1)  // tiles are independent: any order gives the same bits
      for (int64_t t = 0; t < ntiles; ++t) {
        const int64_t r0 = t * R;
        forward_tile(p, G, x, w, b, y, r0, std::min(R, G.rows - r0), col);
      }
    }
  } else {
    std::vector<float> col(size_t(R * G.KKC));
    for (int64_t t = 0; t < ntiles; ++t) {
      const int64_t r0 = t * R;
      forward_tile(p, G, x, w, b, y, r0, std::min(R, G.rows - r0), col.data());
    }
  }
}

void conv2d_backward_input(const Conv2dParams& p, const float* dy, const float* w, float* dx) {
  if (is_depthwise(p) && p.groups > 1) {
    PCN_ISA_CALL(conv2d_dw_backward_input, p, dy, w, dx);
    return;
  }
  if (p.groups == 1 && p.C == 1 && p.K <= 8 && p.sh == 1 && p.sw == 1 && !is_pointwise(p) &&
      active_isa() == Isa::Avx512) {
    // LeNet c1: the pixel-vector gather (isa/conv2d_small.cpp); falls through if it declines
    const int nt = omp_get_max_threads();
    const int64_t ML = std::max<int64_t>(0, (p.KW - 1) * p.dw - p.pad_left);
    const int64_t Wr = (p.W + 15) / 16 * 16, OWr = (p.OW + 15) / 16 * 16;
    const int64_t per = p.OH * p.K * (std::max(Wr + p.pad_left, OWr) + ML + 16);
    if (per * nt <= (int64_t(16) << 20)) {
      std::vector<float> scratch(size_t(per * nt));
      if (PCN_ISA_CALL(conv2d_small_backward_input, p, dy, w, dx, scratch.data(), per, nt)) return;
    }
  }
  if (is_direct(p) && p.C >= 16) {
    direct_backward_input(p, dy, w, dx);
    return;
  }
  const Geom G = geom(p);
  if (is_pointwise(p)) {
    // dx_g (rows, Cg; stride C) = dy_g (rows, Kg; stride K) @ W_g^T  [W_g is (Cg, Kg), stride K]
    for (int64_t g = 0; g < p.groups; ++g) {
      GemmParams gp;
      gp.transB = true;
      gp.M = G.rows; gp.N = G.Cg; gp.K = G.Kg;
      gp.lda = p.K; gp.ldb = p.K; gp.ldc = p.C;
      sgemm(gp, dy + g * G.Kg, w + g * G.Kg, dx + g * G.Cg);
    }
    return;
  }
  // Tiles never cross an image group, so groups are independent: a thread owns
  // whole images of dx (zeroes them, then scatter-adds) when there are enough images.
  // Small images are batched G at a time into one tile (M = G*OH*OW): every
  // sgemm call repacks all of W^T, which for a 7x7 image cost as much as the
  // product itself.
  const int nt = omp_get_max_threads();
  const int64_t img = p.H * p.W * p.C;
  const bool per_image = p.N >= nt && nt > 1;
  // An image that fits the tile budget is one tile (tile_rows' rounding to 16
  // rows used to split a 7x7 image into 48 + 1 rows: an M = 1 GEMM per image).
  const bool whole = G.OHW <= std::max<int64_t>(1, kColBytes / (int64_t(sizeof(float)) * G.KKC));
  const int64_t R = whole ? G.OHW : tile_rows(G.KKC, G.OHW, per_image ? 1 : nt);
  const int64_t tpi = (G.OHW + R - 1) / R;  // tiles per image
  int64_t GI = 1;                           // images per group
  if (tpi == 1) {
    GI = std::max<int64_t>(1, kBwdColBytes / (int64_t(sizeof(float)) * G.KKC * G.OHW));
    GI = std::min(GI, per_image ? (p.N + nt - 1) / nt : p.N);
  }
  const int64_t ngroups = (p.N + GI - 1) / GI;
  const int64_t col_rows = std::max(R, GI * G.OHW);
  auto tile = [&](int64_t r0, int64_t Rt, float* col) {
    for (int64_t g = 0; g < p.groups; ++g) {
      // col (Rt, KKC) = dy_g rows (Rt, Kg; stride K) @ W_g^T  [W_g (KKC, Kg), stride K]
      GemmParams gp;
      gp.transB = true;
      gp.M = Rt; gp.N = G.KKC; gp.K = G.Kg;
      gp.lda = p.K; gp.ldb = p.K; gp.ldc = G.KKC;
      sgemm(gp, dy + r0 * p.K + g * G.Kg, w + g * G.Kg, col);
      col2im_add(p, G, col, g, r0, Rt, dx);
    }
  };
  auto group = [&](int64_t gi, float* col) {
    const int64_t n0 = gi * GI, ng = std::min(GI, p.N - n0);
    if (GI > 1) {
      tile(n0 * G.OHW, ng * G.OHW, col);
      return;
    }
    for (int64_t t = 0; t < tpi; ++t) tile(n0 * G.OHW + t * R, std::min(R, G.OHW - t * R), col);
  };
  if (per_image) {
    std::vector<float> cols(size_t(nt) * size_t(col_rows * G.KKC));  // allocated outside the region
#pragma omp parallel num_threads(nt)
    {
      float* col = cols.data() + size_t(omp_get_thread_num()) * size_t(col_rows * G.KKC);
#pragma omp for schedule(dynamic, 1)  // groups are independent: any order gives the same bits
      for (int64_t gi = 0; gi < ngroups; ++gi) {
        const int64_t n0 = gi * GI, ng = std::min(GI, p.N - n0);
        std::memset(dx + n0 * img, 0, sizeof(float) * size_t(ng * img));
        group(gi, col);
      }
    }
  } else {
    const int64_t total = p.N * img, chunk = 1 << 16;
#pragma omp parallel for schedule(static)
    for (int64_t s = 0; s < total; s += chunk) std::memset(dx + s, 0, sizeof(float) * size_t(std::min(chunk, total - s)));
    std::vector<float> col(size_t(col_rows * G.KKC));
    for (int64_t gi = 0; gi < ngroups; ++gi) group(gi, col.data());
  }
}

void conv2d_backward_filter(const Conv2dParams& p, const float* dy, const float* x, float* dw, bool accumulate) {
  if (is_small_c(p)) {
    small_backward_filter(p, dy, x, dw, accumulate);
    return;
  }
  // AVX2 / SSE2 copies (12 accumulators) measured 1.2-1.8x slower than the GEMM path for
  // C >= 16 on the AVX-512 box (forced AVX2); they keep the small-C layers (LeNet C3: 2x).
  if (is_direct(p) && (active_isa() == Isa::Avx512 || p.C < 16)) {
    PCN_ISA_CALL(conv2d_direct_backward_filter, direct_fwd(p), dy, x, dw, accumulate);
    return;
  }
  const int nt = omp_get_max_threads();
  if (is_depthwise(p) && (p.groups > 1 || p.KH * p.KW > 1)) {
    std::vector<float> scratch(size_t(nt) * size_t(p.KH * p.KW * p.K));
    PCN_ISA_CALL(conv2d_dw_backward_filter, p, dy, x, dw, accumulate, scratch.data(), nt);
    return;
  }
  const Geom G = geom(p);
  // 1x1 stride-1 unpadded: x itself is the im2col matrix (rows, C), no copy.
  const bool pw = is_pointwise(p);
  const int64_t WS = G.KKC * p.K;  // == KH*KW*Cg*K, the filter's size
  // dW_g += col_g(rows)^T @ dy_g(rows), into `acc` (beta 0 on its first tile)
  auto tile = [&](int64_t r0, int64_t Rt, float* col, float* acc, bool first) {
    for (int64_t g = 0; g < p.groups; ++g) {
      GemmParams gp;
      gp.transA = true;
      gp.M = G.KKC; gp.N = G.Kg; gp.K = Rt;
      gp.ldb = p.K; gp.ldc = p.K;
      gp.beta = first ? 0.f : 1.f;
      const float* A = x + r0 * p.C + g * G.Cg;  // pointwise: rows of x (stride C)
      gp.lda = p.C;
      if (!pw) {
        im2col(p, G, x, g, r0, Rt, col);
        A = col;
        gp.lda = G.KKC;
      }
      sgemm(gp, A, dy + r0 * p.K + g * G.Kg, acc + g * G.Kg);
    }
  };
  const bool partials = nt > 1 && int64_t(nt) * WS <= (int64_t(64) << 20);  // <= 256 MB of partials
  const int64_t R = pw ? (G.rows + nt - 1) / nt : tile_rows(G.KKC, G.rows, partials ? nt : 1);
  const int64_t ntiles = (G.rows + R - 1) / R;
  const size_t col_size = pw ? 0 : size_t(R * G.KKC);
  if (partials && ntiles >= nt) {
    // Thread t sums a fixed, contiguous range of tiles into its own partial;
    // then one ordered reduction: deterministic for a given thread count.
    std::vector<float> part(size_t(nt) * size_t(WS));
    std::vector<float> cols(size_t(nt) * col_size);  // allocated outside the region
#pragma omp parallel num_threads(nt)
    {
      const int t = omp_get_thread_num(), T = omp_get_num_threads();
      float* col = cols.data() + size_t(t) * col_size;
      float* acc = part.data() + int64_t(t) * WS;
      const int64_t lo = ntiles * t / T, hi = ntiles * (t + 1) / T;
      if (lo == hi) std::memset(acc, 0, sizeof(float) * size_t(WS));
      for (int64_t i = lo; i < hi; ++i) tile(i * R, std::min(R, G.rows - i * R), col, acc, i == lo);
#pragma omp barrier
#pragma omp for schedule(static)
      for (int64_t e = 0; e < WS; ++e) {
        float s = accumulate ? dw[e] : 0.f;
        for (int u = 0; u < T; ++u) s += part[size_t(u) * size_t(WS) + size_t(e)];
        dw[e] = s;
      }
    }
  } else {
    std::vector<float> col(col_size);
    for (int64_t i = 0; i < ntiles; ++i)
      tile(i * R, std::min(R, G.rows - i * R), col.data(), dw, i == 0 && !accumulate);
  }
}

void conv2d_backward_bias(int64_t rows, int64_t K, const float* dy, float* db, bool accumulate) {
  // Per-thread double partials over fixed row ranges, then an ordered reduction.
  const int nt = omp_get_max_threads();
  const bool par = nt > 1 && rows * K > (int64_t(1) << 15);
  const int T = par ? nt : 1;
  std::vector<double> part(size_t(T) * size_t(K), 0.0);
#pragma omp parallel num_threads(T) if (par)
  {
    const int t = omp_get_thread_num(), TT = omp_get_num_threads();
    double* a = part.data() + size_t(t) * size_t(K);
    const int64_t lo = rows * t / TT, hi = rows * (t + 1) / TT;
    for (int64_t r = lo; r < hi; ++r) {
      const float* d = dy + r * K;
      for (int64_t k = 0; k < K; ++k) a[k] += d[k];
    }
  }
  for (int64_t k = 0; k < K; ++k) {
    double s = 0.0;
    for (int u = 0; u < T; ++u) s += part[size_t(u) * size_t(K) + size_t(k)];
    db[k] = float(accumulate ? double(db[k]) + s : s);
  }
}

}  // namespace cpu
}  // namespace pcn
