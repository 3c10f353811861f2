// cpu/elementwise.cpp — OpenMP kernels of the elementwise family (see
// ops/elementwise.h for every Params struct and its layout). Kernels trust
// their Params: the fronts validated shapes, dtypes and sizes.
//
// Loops are written branch-free over contiguous data where possible so the
// compiler vectorizes them; parallel regions are skipped for small n.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "../isa.h"
#include "../ops/elementwise.h"
#include "isa/elementwise_isa.h"

namespace pcn {
namespace cpu {

namespace {
constexpr int64_t kPar = 1 << 15;  // below this, run serially

inline float sigmoidf(float x) {
  // stable for large |x|: never exponentiates a positive number
  if (x >= 0.f) {
    const float z = std::exp(-x);
    return 1.f / (1.f + z);
  }
  const float z = std::exp(x);
  return z / (1.f + z);
}
template <class F>
inline void par_for(int64_t n, F f) {
#pragma omp parallel for schedule(static) if (n >= kPar)
  for (int64_t i = 0; i < n; ++i) f(i);
}
}  // namespace

// ---------------------------------------------------------------- pointwise
// x (n), y (n), may alias.
void pointwise(const PointwiseParams& p, const float* x, float* y) {
  const int64_t n = p.n;
  const float a = p.a, b = p.b;
  switch (p.op) {
#define PW(OP, EXPR) \
  case PwOp::OP: par_for(n, [&](int64_t i) { const float v = x[i]; (void)v; y[i] = (EXPR); }); break;
    PW(Neg, -v)
    PW(Exp, std::exp(v))
    PW(Log, std::log(v))
    PW(Sqrt, std::sqrt(v))
    PW(Rsqrt, 1.f / std::sqrt(v))
    PW(Square, v * v)
    PW(Abs, std::fabs(v))
    PW(Sign, (v > 0.f) ? 1.f : (v < 0.f ? -1.f : (v == 0.f ? 0.f : v)))
    PW(Reciprocal, 1.f / v)
    PW(Sin, std::sin(v))
    PW(Cos, std::cos(v))
    PW(Floor, std::floor(v))
    PW(Round, std::nearbyint(v))  // half to even, as NumPy/TF
    PW(Tanh, std::tanh(v))
    PW(Sigmoid, sigmoidf(v))
    PW(Log1p, std::log1p(v))
    PW(Expm1, std::expm1(v))
    PW(AddS, v + a)
    PW(SubS, v - a)
    PW(RSubS, a - v)
    PW(MulS, v * a)
    PW(DivS, v / a)
    PW(RDivS, a / v)
    PW(MaxS, (v != v) ? v : std::fmax(v, a))
    PW(MinS, (v != v) ? v : std::fmin(v, a))
    PW(PowS, std::pow(v, a))
    PW(RPowS, std::pow(a, v))
    PW(Clip, (v != v) ? v : std::fmin(std::fmax(v, a), b))
#undef PW
    case PwOp::Fill:
      par_for(n, [&](int64_t i) { y[i] = a; });
      break;
  }
}

void axpby(const AxpbyParams& p, const float* x, float* y) {
  const float al = p.alpha, be = p.beta;
  if (be == 1.f)
    par_for(p.n, [&](int64_t i) { y[i] += al * x[i]; });
  else
    par_for(p.n, [&](int64_t i) { y[i] = al * x[i] + be * y[i]; });
}

// ---------------------------------------------------------------- activations
// The loops live in cpu/isa/elementwise.cpp (vectorized per ISA); here the work
// is cut into chunks shared among threads.
namespace {
constexpr int64_t kChunk = 8192;
}

// x (n) -> y (n)
void act_forward(const ActParams& p, const float* x, float* y) {
  const int64_t n = p.n, nch = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (n >= kPar)
  for (int64_t c = 0; c < nch; ++c) {
    const int64_t i0 = c * kChunk, len = n - i0 < kChunk ? n - i0 : kChunk;
    PCN_ISA_CALL(act_forward_span, int(p.act), p.alpha, len, x + i0, y + i0);
  }
}

// dy, x, y (n) -> dx (n). Reads only the inputs the front promised.
void act_backward(const ActParams& p, const float* dy, const float* x, const float* y, float* dx) {
  const int64_t n = p.n, nch = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (n >= kPar)
  for (int64_t c = 0; c < nch; ++c) {
    const int64_t i0 = c * kChunk, len = n - i0 < kChunk ? n - i0 : kChunk;
    PCN_ISA_CALL(act_backward_span, int(p.act), p.alpha, len, dy + i0, x ? x + i0 : nullptr,
                 y ? y + i0 : nullptr, dx + i0);
  }
}

// ---------------------------------------------------------------- binary
namespace {
template <class F>
void binary_loop(const BinaryParams& p, const float* a, const float* b, float* c, F f) {
  const int nd = p.ndim;
  const int64_t inner = p.shape[nd - 1];
  const int64_t sa_in = p.sa[nd - 1], sb_in = p.sb[nd - 1];
  const int64_t rows = inner ? p.n / inner : 0;
  if (rows == 1) {  // one long row: parallelize inside it
#pragma omp parallel for schedule(static) if (inner >= kPar)
    for (int64_t j = 0; j < inner; ++j) c[j] = f(a[j * sa_in], b[j * sb_in]);
    return;
  }
#pragma omp parallel for schedule(static) if (p.n >= kPar && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    // decompose row index over dims [0, nd-1)
    int64_t rem = r, oa = 0, ob = 0;
    for (int d = nd - 2; d >= 0; --d) {
      const int64_t i = rem % p.shape[d];
      rem /= p.shape[d];
      oa += i * p.sa[d];
      ob += i * p.sb[d];
    }
    const float* ap = a + oa;
    const float* bp = b + ob;
    float* cp = c + r * inner;
    if (sa_in == 1 && sb_in == 1) {
      for (int64_t j = 0; j < inner; ++j) cp[j] = f(ap[j], bp[j]);
    } else if (sa_in == 1 && sb_in == 0) {
      const float bv = bp[0];
      for (int64_t j = 0; j < inner; ++j) cp[j] = f(ap[j], bv);
    } else if (sa_in == 0 && sb_in == 1) {
      const float av = ap[0];
      for (int64_t j = 0; j < inner; ++j) cp[j] = f(av, bp[j]);
    } else {
      for (int64_t j = 0; j < inner; ++j) cp[j] = f(ap[j * sa_in], bp[j * sb_in]);
    }
  }
}
}  // namespace

// a, b strided per BinaryParams -> c (n) contiguous
void binary(const BinaryParams& p, const float* a, const float* b, float* c) {
  switch (p.op) {
    case BinOp::Add: binary_loop(p, a, b, c, [](float u, float v) { return u + v; }); break;
    case BinOp::Sub: binary_loop(p, a, b, c, [](float u, float v) { return u - v; }); break;
    case BinOp::Mul: binary_loop(p, a, b, c, [](float u, float v) { return u * v; }); break;
    case BinOp::Div: binary_loop(p, a, b, c, [](float u, float v) { return u / v; }); break;
    case BinOp::Maximum:  // NaN propagates (NumPy maximum)
      binary_loop(p, a, b, c, [](float u, float v) { return (u != u || v != v) ? u + v : (u > v ? u : v); });
      break;
    case BinOp::Minimum:
      binary_loop(p, a, b, c, [](float u, float v) { return (u != u || v != v) ? u + v : (u < v ? u : v); });
      break;
    case BinOp::Pow: binary_loop(p, a, b, c, [](float u, float v) { return std::pow(u, v); }); break;
  }
}

// ---------------------------------------------------------------- reduce
// Sum/mean/prod accumulate in double, max/min in float. Every path adds in an
// order fixed by the shape alone, so results do not depend on the thread count.
namespace {
constexpr int64_t kRedBlock = 16384;  // elements per partial in a blocked full reduction

template <class S, class Acc, class Fin>
void reduce_loop(const ReduceParams& p, const float* x, float* y, S init, Acc acc, Fin fin) {
  const int64_t R = p.red_n, M = p.out_n;
  const bool inner_contig = p.nr == 1 && p.rstride[0] == 1;
  auto out_offset = [&](int64_t o) {
    int64_t rem = o, off = 0;
    for (int d = p.nk - 1; d >= 0; --d) {
      const int64_t i = rem % p.kshape[d];
      rem /= p.kshape[d];
      off += i * p.kstride[d];
    }
    return off;
  };
  // (1) kept dim contiguous, reduced dims outside (column sums, e.g. a bias gradient)
  if (p.nk == 1 && p.kstride[0] == 1 && p.nr == 1 && M >= 16) {
    const int64_t rs = p.rstride[0];
    constexpr int64_t JB = 512;
    const int64_t nb = (M + JB - 1) / JB;
#pragma omp parallel for schedule(static) if (M * R >= kPar && nb > 1)
    for (int64_t b = 0; b < nb; ++b) {
      const int64_t j0 = b * JB, j1 = j0 + JB < M ? j0 + JB : M;
      S buf[JB];
      for (int64_t j = j0; j < j1; ++j) buf[j - j0] = init;
      for (int64_t r = 0; r < R; ++r) {
        const float* xr = x + r * rs;
        for (int64_t j = j0; j < j1; ++j) buf[j - j0] = acc(buf[j - j0], xr[j]);
      }
      for (int64_t j = j0; j < j1; ++j) y[j] = fin(buf[j - j0]);
    }
    return;
  }
  // (1b) the same with few (< 16) kept columns, e.g. the bias gradient of a 3-channel layer:
  // fixed blocks of rows in parallel, partial rows combined in order
  if (p.nk == 1 && p.kstride[0] == 1 && p.nr == 1 && R >= 2 * kRedBlock / M) {
    const int64_t rs = p.rstride[0], RB = kRedBlock / M, nb = (R + RB - 1) / RB;
    std::vector<S> part(size_t(nb * M));
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < nb; ++b) {
      S* pb = part.data() + b * M;
      for (int64_t j = 0; j < M; ++j) pb[j] = init;
      const int64_t r1 = (b + 1) * RB < R ? (b + 1) * RB : R;
      for (int64_t r = b * RB; r < r1; ++r)
        for (int64_t j = 0; j < M; ++j) pb[j] = acc(pb[j], x[r * rs + j]);
    }
    for (int64_t j = 0; j < M; ++j) {
      S s = part[size_t(j)];
      for (int64_t b = 1; b < nb; ++b) s = acc(s, part[size_t(b * M + j)]);
      y[j] = fin(s);
    }
    return;
  }
  // (2) few outputs, each a long contiguous run: fixed-size blocks in parallel, then combined in order
  if (inner_contig && R >= 2 * kRedBlock && M < 64) {
    const int64_t nb = (R + kRedBlock - 1) / kRedBlock;
    std::vector<S> part(size_t(M * nb));
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < M * nb; ++t) {
      const int64_t o = t / nb, b = t % nb;
      const float* xo = x + out_offset(o) + b * kRedBlock;
      const int64_t len = R - b * kRedBlock < kRedBlock ? R - b * kRedBlock : kRedBlock;
      S s = init;
      for (int64_t r = 0; r < len; ++r) s = acc(s, xo[r]);
      part[size_t(t)] = s;
    }
    for (int64_t o = 0; o < M; ++o) {
      S s = part[size_t(o * nb)];
      for (int64_t b = 1; b < nb; ++b) s = acc(s, part[size_t(o * nb + b)]);
      y[o] = fin(s);
    }
    return;
  }
  // (3) general: one output per iteration, odometer over the reduced dims
#pragma omp parallel for schedule(static) if (M * R >= kPar && M > 1)
  for (int64_t o = 0; o < M; ++o) {
    const float* xo = x + out_offset(o);
    S s = init;
    if (inner_contig) {
      for (int64_t r = 0; r < R; ++r) s = acc(s, xo[r]);
    } else {
      int64_t idx[kMaxBcastDims] = {0, 0, 0, 0, 0, 0};
      int64_t roff = 0;
      for (int64_t r = 0; r < R; ++r) {
        s = acc(s, xo[roff]);
        for (int d = p.nr - 1; d >= 0; --d) {  // odometer
          roff += p.rstride[d];
          if (++idx[d] < p.rshape[d]) break;
          roff -= idx[d] * p.rstride[d];
          idx[d] = 0;
        }
      }
    }
    y[o] = fin(s);
  }
}
}  // namespace

// x strided per ReduceParams -> y (out_n)
void reduce(const ReduceParams& p, const float* x, float* y) {
  const double inv = p.red_n > 0 ? 1.0 / double(p.red_n) : std::numeric_limits<double>::quiet_NaN();
  auto sum = [](double s, double v) { return s + v; };
  auto tof = [](double s) { return float(s); };
  auto id = [](float s) { return s; };
  switch (p.op) {
    case RedOp::Sum: reduce_loop(p, x, y, 0.0, sum, tof); break;
    case RedOp::Mean: reduce_loop(p, x, y, 0.0, sum, [inv](double s) { return float(s * inv); }); break;
    case RedOp::Prod: reduce_loop(p, x, y, 1.0, [](double s, double v) { return s * v; }, tof); break;
    case RedOp::Max:  // NaN wins (NumPy)
      reduce_loop(p, x, y, -std::numeric_limits<float>::infinity(),
                  [](float s, float v) { return (v > s || v != v) && s == s ? v : s; }, id);
      break;
    case RedOp::Min:
      reduce_loop(p, x, y, std::numeric_limits<float>::infinity(),
                  [](float s, float v) { return (v < s || v != v) && s == s ? v : s; }, id);
      break;
  }
}

// ---------------------------------------------------------------- softmax
// x, y (outer, n, inner) contiguous. Max-subtracted: stable for any logits.
void softmax_forward(const SoftmaxParams& p, const float* x, float* y) {
  const int64_t n = p.n, in = p.inner, rows = p.outer * in;
  if (in == 1) {  // rows contiguous: vectorized per-ISA path
    const int64_t per = n >= kChunk ? 1 : kChunk / n, nb = (rows + per - 1) / per;
#pragma omp parallel for schedule(static) if (rows * n >= kPar && nb > 1)
    for (int64_t b = 0; b < nb; ++b) {
      const int64_t r0 = b * per, cnt = rows - r0 < per ? rows - r0 : per;
      PCN_ISA_CALL(softmax_rows_span, cnt, n, p.log, x + r0 * n, y + r0 * n);
    }
    return;
  }
#pragma omp parallel for schedule(static) if (rows * n >= kPar && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r / in, j = r % in;
    const float* xr = x + o * n * in + j;
    float* yr = y + o * n * in + j;
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t k = 0; k < n; ++k) m = std::fmax(m, xr[k * in]);
    bool nan = false;
    for (int64_t k = 0; k < n; ++k) nan |= (xr[k * in] != xr[k * in]);
    if (nan) {
      for (int64_t k = 0; k < n; ++k) yr[k * in] = std::numeric_limits<float>::quiet_NaN();
      continue;
    }
    if (m == -std::numeric_limits<float>::infinity()) m = 0.f;  // all -inf row
    double s = 0.0;
    if (p.log) {
      for (int64_t k = 0; k < n; ++k) s += std::exp(xr[k * in] - m);
      const float lse = m + float(std::log(s));
      for (int64_t k = 0; k < n; ++k) yr[k * in] = xr[k * in] - lse;
    } else {
      for (int64_t k = 0; k < n; ++k) {
        const float e = std::exp(xr[k * in] - m);
        yr[k * in] = e;
        s += e;
      }
      const float inv = float(1.0 / s);
      for (int64_t k = 0; k < n; ++k) yr[k * in] *= inv;
    }
  }
}

// softmax: dx = y * (dy - sum(dy*y)); log_softmax: dx = dy - exp(y) * sum(dy)
void softmax_backward(const SoftmaxParams& p, const float* dy, const float* y, float* dx) {
  const int64_t n = p.n, in = p.inner, rows = p.outer * in;
#pragma omp parallel for schedule(static) if (rows * n >= kPar && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r / in, j = r % in, base = o * n * in + j;
    double s = 0.0;
    if (p.log) {
      for (int64_t k = 0; k < n; ++k) s += dy[base + k * in];
      const float sf = float(s);
      for (int64_t k = 0; k < n; ++k) dx[base + k * in] = dy[base + k * in] - std::exp(y[base + k * in]) * sf;
    } else {
      for (int64_t k = 0; k < n; ++k) s += double(dy[base + k * in]) * y[base + k * in];
      const float sf = float(s);
      for (int64_t k = 0; k < n; ++k) dx[base + k * in] = y[base + k * in] * (dy[base + k * in] - sf);
    }
  }
}

// ---------------------------------------------------------------- copy
namespace {
// Transposing copies: the source is contiguous along dim k, the destination
// along the last dim. Copy 32x32 tiles of (k, last) so both sides stay in cache.
template <class T>
void copy_tiled(const CopyParams& p, int k, const T* src, T* dst) {
  constexpr int64_t TB = 32;
  const int nd = p.ndim;
  const int64_t K = p.shape[k], I = p.shape[nd - 1];
  const int64_t outer = p.n / (K * I), tk = (K + TB - 1) / TB, ti = (I + TB - 1) / TB;
  const int64_t total = outer * tk * ti;
  const int64_t sk = p.ss[k], si = p.ss[nd - 1], dk = p.ds[k], di = p.ds[nd - 1];
#pragma omp parallel for schedule(static) if (p.n >= kPar && total > 1)
  for (int64_t t = 0; t < total; ++t) {
    const int64_t bi = t % ti, bk = (t / ti) % tk;
    int64_t rem = t / (ti * tk), so = 0, dof = 0;
    for (int d = nd - 2; d >= 0; --d) {
      if (d == k) continue;
      const int64_t i = rem % p.shape[d];
      rem /= p.shape[d];
      so += i * p.ss[d];
      dof += i * p.ds[d];
    }
    const int64_t k0 = bk * TB, k1 = k0 + TB < K ? k0 + TB : K;
    const int64_t i0 = bi * TB, i1 = i0 + TB < I ? i0 + TB : I;
    // through a local tile: both global sides walk their unit-stride dim
    // (a direct copy would hit one side at a power-of-two stride: L1 set conflicts)
    T buf[TB][TB + 1];
    const int64_t nk = k1 - k0, ni = i1 - i0;
    if (sk == 1 && di == 1) {  // the common case: unit strides known to the compiler
      for (int64_t ii = 0; ii < ni; ++ii) {
        const T* s = src + so + k0 + (i0 + ii) * si;
        for (int64_t kk = 0; kk < nk; ++kk) buf[ii][kk] = s[kk];
      }
      for (int64_t kk = 0; kk < nk; ++kk) {
        T* d = dst + dof + (k0 + kk) * dk + i0;
        for (int64_t ii = 0; ii < ni; ++ii) d[ii] = buf[ii][kk];
      }
      continue;
    }
    for (int64_t ii = 0; ii < ni; ++ii)
      for (int64_t kk = 0; kk < nk; ++kk) buf[ii][kk] = src[so + (k0 + kk) * sk + (i0 + ii) * si];
    for (int64_t kk = 0; kk < nk; ++kk)
      for (int64_t ii = 0; ii < ni; ++ii) dst[dof + (k0 + kk) * dk + (i0 + ii) * di] = buf[ii][kk];
  }
}

template <class T>
void copy_loop(const CopyParams& p, const T* src, T* dst) {
  const int nd = p.ndim;
  if (nd >= 2 && p.ss[nd - 1] != 1 && p.shape[nd - 1] >= 8) {
    for (int k = nd - 2; k >= 0; --k)
      if (p.ss[k] == 1 && p.shape[k] >= 8) return copy_tiled(p, k, src, dst);
  }
  const int64_t inner = p.shape[nd - 1];
  const int64_t si = p.ss[nd - 1], di = p.ds[nd - 1];
  const int64_t rows = inner ? p.n / inner : 0;
#pragma omp parallel for schedule(static) if (p.n >= kPar && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rem = r, so = 0, dof = 0;
    for (int d = nd - 2; d >= 0; --d) {
      const int64_t i = rem % p.shape[d];
      rem /= p.shape[d];
      so += i * p.ss[d];
      dof += i * p.ds[d];
    }
    const T* s = src + so;
    T* t = dst + dof;
    if (si == 1 && di == 1)
      std::memcpy(t, s, size_t(inner) * sizeof(T));
    else
      for (int64_t j = 0; j < inner; ++j) t[j * di] = s[j * si];
  }
}
}  // namespace

void copy_strided(const CopyParams& p, const void* src, void* dst) {
  switch (p.elem_size) {
    case 1: copy_loop(p, static_cast<const uint8_t*>(src), static_cast<uint8_t*>(dst)); break;
    case 4: copy_loop(p, static_cast<const uint32_t*>(src), static_cast<uint32_t*>(dst)); break;
    default: copy_loop(p, static_cast<const uint64_t*>(src), static_cast<uint64_t*>(dst)); break;
  }
}

// ---------------------------------------------------------------- cast
namespace {
template <class S, class D>
void cast_loop(int64_t n, const S* x, D* y) {
  par_for(n, [&](int64_t i) {
    if constexpr (std::is_same<S, float>::value && !std::is_same<D, float>::value) {
      // float -> int: truncate toward zero (NumPy/TF); NaN/out-of-range -> 0 (defined, not UB)
      const float v = x[i];
      const double lo = double(std::numeric_limits<D>::min()), hi = double(std::numeric_limits<D>::max());
      y[i] = (v == v && double(v) >= lo && double(v) < hi + 1.0) ? D(v) : D(0);
    } else {
      y[i] = D(x[i]);
    }
  });
}
template <class S>
void cast_from(const CastParams& p, const S* x, void* y) {
  switch (p.to) {
    case DType::F32: cast_loop(p.n, x, static_cast<float*>(y)); break;
    case DType::I32: cast_loop(p.n, x, static_cast<int32_t*>(y)); break;
    case DType::I64: cast_loop(p.n, x, static_cast<int64_t*>(y)); break;
    case DType::U8: cast_loop(p.n, x, static_cast<uint8_t*>(y)); break;
  }
}
}  // namespace

void cast(const CastParams& p, const void* x, void* y) {
  switch (p.from) {
    case DType::F32: cast_from(p, static_cast<const float*>(x), y); break;
    case DType::I32: cast_from(p, static_cast<const int32_t*>(x), y); break;
    case DType::I64: cast_from(p, static_cast<const int64_t*>(x), y); break;
    case DType::U8: cast_from(p, static_cast<const uint8_t*>(x), y); break;
  }
}

// ---------------------------------------------------------------- dropout
namespace {
inline uint64_t splitmix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
}  // namespace

// Element i is kept iff (hash(seed, i) >> 40) / 2^24 >= rate. Same on any thread count.
void dropout_forward(const DropoutParams& p, const float* x, float* y, uint8_t* mask) {
  const uint64_t key = splitmix64(p.seed ^ 0x5851F42D4C957F2Dull);
  const uint32_t thr = uint32_t(std::ceil(double(p.rate) * 16777216.0));  // keep iff u24 >= thr
  const float scale = 1.f / (1.f - p.rate);
  par_for(p.n, [&](int64_t i) {
    const uint32_t u = uint32_t(splitmix64(key + uint64_t(i) * 0x9E3779B97F4A7C15ull) >> 40);
    const uint8_t k = u >= thr ? 1 : 0;
    mask[i] = k;
    y[i] = k ? x[i] * scale : 0.f;
  });
}

void dropout_backward(const DropoutParams& p, const float* dy, const uint8_t* mask, float* dx) {
  const float scale = 1.f / (1.f - p.rate);
  par_for(p.n, [&](int64_t i) { dx[i] = mask[i] ? dy[i] * scale : 0.f; });
}

// ---------------------------------------------------------------- index ops
namespace {
template <class L>
void one_hot_loop(const IndexParams& p, const L* lab, float* y) {
  par_for(p.outer, [&](int64_t r) {
    float* yr = y + r * p.n;
    for (int64_t k = 0; k < p.n; ++k) yr[k] = 0.f;
    const int64_t l = int64_t(lab[r]);
    if (l >= 0 && l < p.n) yr[l] = 1.f;
  });
}
}  // namespace

void index_op(const IndexParams& p, const void* x, const void* a, const void* b, void* y) {
  switch (p.op) {
    case IndexOp::OneHot:
      if (p.label_dtype == DType::I32) one_hot_loop(p, static_cast<const int32_t*>(x), static_cast<float*>(y));
      else if (p.label_dtype == DType::U8) one_hot_loop(p, static_cast<const uint8_t*>(x), static_cast<float*>(y));
      else one_hot_loop(p, static_cast<const int64_t*>(x), static_cast<float*>(y));
      break;
    case IndexOp::Argmax: {
      const float* xf = static_cast<const float*>(x);
      int64_t* yi = static_cast<int64_t*>(y);
      const int64_t n = p.n, in = p.inner;
      par_for(p.outer * in, [&](int64_t r) {
        const int64_t o = r / in, j = r % in;
        const float* xr = xf + o * n * in + j;
        int64_t best = 0;
        float bv = xr[0];
        if (bv == bv) {
          for (int64_t k = 1; k < n; ++k) {
            const float v = xr[k * in];
            if (v != v) { best = k; break; }
            if (v > bv) { bv = v; best = k; }
          }
        }
        yi[r] = best;
      });
      break;
    }
    case IndexOp::Where: {
      const float* af = static_cast<const float*>(a);
      const float* bf = static_cast<const float*>(b);
      float* yf = static_cast<float*>(y);
      if (p.label_dtype == DType::U8) {
        const uint8_t* c = static_cast<const uint8_t*>(x);
        par_for(p.outer, [&](int64_t i) { yf[i] = c[i] ? af[i] : bf[i]; });
      } else {
        const float* c = static_cast<const float*>(x);
        par_for(p.outer, [&](int64_t i) { yf[i] = c[i] != 0.f ? af[i] : bf[i]; });
      }
      break;
    }
  }
}

// ---------------------------------------------------------------- embedding
namespace {
template <class I>
void embed_fwd(const EmbeddingParams& p, const I* ids, const float* table, float* y) {
  const int64_t d = p.d, v = p.v;
#pragma omp parallel for schedule(static) if (p.n * d >= kPar)
  for (int64_t i = 0; i < p.n; ++i) {
    const int64_t id = int64_t(ids[i]);
    float* yr = y + i * d;
    if (id < 0 || id >= v) {
      std::memset(yr, 0, size_t(d) * sizeof(float));
    } else {
      std::memcpy(yr, table + id * d, size_t(d) * sizeof(float));
    }
  }
}

// Each thread owns a slice of the columns and adds every row of dy into it in index order:
// no atomics, the same sums in the same order for any thread count.
template <class I>
void embed_bwd(const EmbeddingParams& p, const I* ids, const float* dy, float* dw, bool accumulate) {
  const int64_t d = p.d, v = p.v, n = p.n;
  if (!accumulate) {
#pragma omp parallel for schedule(static) if (v * d >= kPar)
    for (int64_t r = 0; r < v; ++r) std::memset(dw + r * d, 0, size_t(d) * sizeof(float));
  }
  const int64_t chunk = 16;
  const int64_t nchunks = (d + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (n * d >= kPar && nchunks > 1)
  for (int64_t c = 0; c < nchunks; ++c) {
    const int64_t c0 = c * chunk, c1 = std::min(d, c0 + chunk);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t id = int64_t(ids[i]);
      if (id < 0 || id >= v) continue;
      float* wr = dw + id * d;
      const float* gr = dy + i * d;
      for (int64_t k = c0; k < c1; ++k) wr[k] += gr[k];
    }
  }
}
}  // namespace

void embedding_forward(const EmbeddingParams& p, const void* ids, const float* table, float* y) {
  if (p.id_dtype == DType::I32) embed_fwd(p, static_cast<const int32_t*>(ids), table, y);
  else if (p.id_dtype == DType::U8) embed_fwd(p, static_cast<const uint8_t*>(ids), table, y);
  else embed_fwd(p, static_cast<const int64_t*>(ids), table, y);
}

void embedding_backward(const EmbeddingParams& p, const void* ids, const float* dy, float* dw, bool accumulate) {
  if (p.id_dtype == DType::I32) embed_bwd(p, static_cast<const int32_t*>(ids), dy, dw, accumulate);
  else if (p.id_dtype == DType::U8) embed_bwd(p, static_cast<const uint8_t*>(ids), dy, dw, accumulate);
  else embed_bwd(p, static_cast<const int64_t*>(ids), dy, dw, accumulate);
}

}  // namespace cpu
}  // namespace pcn
