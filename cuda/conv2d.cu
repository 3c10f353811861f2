// conv2d.cu — CUDA twins of csrc/cpu/conv2d.cpp (same Params, same tables).
//
// Shapes: x (N,H,W,C) NHWC; w (KH,KW,Cg,K) HWIO with Cg = C/groups, Kg = K/groups;
// y/dy (N,OH,OW,K). For group g the filter is W_g (KH*KW*Cg, Kg) = w[..., g*Kg:(g+1)*Kg]
// (row stride K); the (virtual) im2col row of output pixel r is laid out (kh, kw, c).
//
//   forward          implicit GEMM   y_g (M x Kg)  = col_g (M x KK) @ W_g (KK x Kg)
//                    M = N*OH*OW, KK = KH*KW*Cg; bias + relu in the epilogue.
//   backward_input   implicit GEMM in gather form: dx_g (N*H*W x Cg) =
//                    dycol_g (N*H*W x KH*KW*Kg) @ W_g^T, where dycol holds, for each
//                    input pixel and tap (kh, kw), the dy pixel whose window puts
//                    that tap on it (or 0). Every dx element is written once by one
//                    thread: no atomics, deterministic. Strided convs run one launch
//                    per stride phase (sh*sw <= 64), which skips the taps that can
//                    never hit a pixel of that phase; larger strides use the plain form.
//   backward_filter  dW_g (KK x Kg) = col_g^T @ dy_g, the reduction over M split
//                    into S fixed row ranges (one per grid.z); S > 1 writes per-split
//                    partials and a second kernel sums them in split order
//                    (deterministic), honouring `accumulate`.
//   backward_bias    column sums in double: per-split partials, then an ordered sum.
//   one channel      (C == 1, groups == 1: the first layer of a grayscale network):
//                    forward by a direct kernel, filter and input rows in shared memory
//                    (conv_fwd_c1); its backward passes use the implicit GEMMs.
//   depthwise        (groups == C > 1, Cg == 1, K = C*m, channel k reads input k/m):
//                    direct kernels, one thread per output pixel and 4 channels
//                    (float4) when m == 1 and C % 4 == 0, else one channel.
//
// The GEMM kernels use 64x64 block tiles, BK = 16, 256 threads with a 4x4 register
// block each, the next tile's global loads issued into registers before the current
// tile's FMAs. Index arithmetic is templated on I: int32 when every tensor and padded
// extent is below 2^30 (the common case; integer division is much cheaper), else int64.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "../csrc/ops/conv2d.h"
#include "../csrc/tensor.h"
#include "check.cuh"
#include "stream.cuh"

namespace pcn {
namespace {

constexpr int BM = 64, BN = 64, BK = 16, NT = 256, PADS = 4;

template <typename I>
struct CA {
  I N, H, W, C, KH, KW, K, Cg, Kg, groups;
  I sh, sw, dh, dw, pt, pl, OH, OW;
  I M;   // N*OH*OW
  I KK;  // KH*KW*Cg
  int act;
};

template <typename I>
CA<I> make_ca(const Conv2dParams& p) {
  CA<I> a;
  a.N = I(p.N); a.H = I(p.H); a.W = I(p.W); a.C = I(p.C);
  a.KH = I(p.KH); a.KW = I(p.KW); a.K = I(p.K);
  a.groups = I(p.groups); a.Cg = I(p.C / p.groups); a.Kg = I(p.K / p.groups);
  a.sh = I(p.sh); a.sw = I(p.sw); a.dh = I(p.dh); a.dw = I(p.dw);
  a.pt = I(p.pad_top); a.pl = I(p.pad_left);
  a.OH = I(p.OH); a.OW = I(p.OW);
  a.M = I(p.N * p.OH * p.OW);
  a.KK = I(p.KH * p.KW * (p.C / p.groups));
  a.act = p.activation;
  return a;
}

// int32 indexing is safe when every tensor and every padded spatial extent (all
// intermediate coordinates are bounded by these) is below 2^30.
bool fits32(const Conv2dParams& p) {
  const int64_t lim = int64_t(1) << 30;
  const int64_t v[] = {p.N * p.H * p.W * p.C,
                       p.N * p.OH * p.OW * p.K,
                       p.KH * p.KW * (p.C / p.groups) * p.K,
                       p.H + p.pad_top + p.pad_bottom + 1,
                       p.W + p.pad_left + p.pad_right + 1,
                       (p.KH - 1) * p.dh + 1,
                       (p.KW - 1) * p.dw + 1,
                       p.OH * p.sh,
                       p.OW * p.sw};
  for (int64_t q : v)
    if (q < 0 || q >= lim) return false;
  return true;
}

bool is_depthwise(const Conv2dParams& p) { return p.groups == p.C && p.groups > 1; }

int sm_count() {
  int dev = 0, n = 0;
  PCN_CUDA_CHECK(cudaGetDevice(&dev));
  PCN_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev));
  return std::max(n, 1);
}

// Scratch on the current device from the caching allocator (stream-ordered reuse:
// everything runs on cuda::stream()).
Tensor workspace(int64_t nfloats) {
  int dev = 0;
  PCN_CUDA_CHECK(cudaGetDevice(&dev));
  return Tensor::empty({std::max<int64_t>(nfloats, 1)}, DType::F32, Device{DeviceType::CUDA, dev});
}

inline bool aligned16(const void* q) { return (reinterpret_cast<uintptr_t>(q) & 15u) == 0; }
inline int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline unsigned grid_cap(int64_t n, int64_t cap) { return unsigned(std::max<int64_t>(1, std::min(n, cap))); }

__device__ __forceinline__ float act_apply(float v, int act) {
  // relu exactly as the CPU: NaN passes through.
  if (act == 1) return v > 0.f ? v : (v != v ? v : 0.f);
  return v;
}

// acc[i][j] += As[k][ty*TM+i] * Bs[k][tx*4+j] over the BK rows of the tiles
// (TM = 4: 64-row tiles, TM = 8: 128-row tiles).
template <int TM, int LDA>
__device__ __forceinline__ void tile_fma(const float (*As)[LDA], const float (*Bs)[BN + PADS], int ty, int tx,
                                         float (&acc)[TM][4]) {
#pragma unroll
  for (int kk = 0; kk < BK; ++kk) {
    float ar[TM];
#pragma unroll
    for (int h = 0; h < TM / 4; ++h) {
      const float4 av = *reinterpret_cast<const float4*>(&As[kk][ty * TM + 4 * h]);
      ar[4 * h] = av.x;
      ar[4 * h + 1] = av.y;
      ar[4 * h + 2] = av.z;
      ar[4 * h + 3] = av.w;
    }
    const float4 bv = *reinterpret_cast<const float4*>(&Bs[kk][tx * 4]);
    const float br[4] = {bv.x, bv.y, bv.z, bv.w};
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(ar[i], br[j], acc[i][j]);
  }
}

// The staged main loop of the implicit-GEMM kernels: `load(q)` fills the thread's
// registers for k tile q, `store()` writes them to As/Bs; each step stores, prefetches
// the next tile into registers while the block multiplies this one out of shared memory.
template <int TM, int LDA, typename I, typename Load, typename Store>
__device__ __forceinline__ void igemm_tiles(I Q, Load&& load, Store&& store, const float (*As)[LDA],
                                            const float (*Bs)[BN + PADS], int ty, int tx, float (&acc)[TM][4]) {
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.f;
  load(I(0));
  for (I q0 = 0; q0 < Q; q0 += BK) {
    __syncthreads();  // the previous tile's readers are done
    store();
    __syncthreads();
    if (q0 + BK < Q) load(q0 + BK);
    tile_fma<TM, LDA>(As, Bs, ty, tx, acc);
  }
}

// ---------------------------------------------------------------- forward
// Block tile: rows [m0, m0+64) of M, columns [n0, n0+64) of group g's Kg.
// A loads: thread reads k = k0 + tid%16 for rows tid/16 + 16i (adjacent threads:
// adjacent channels, coalesced). B loads: column tid%64, k rows tid/64 + 4i.
template <typename I, int TBM>
__global__ void __launch_bounds__(NT) conv_fwd_igemm(const CA<I> a, const float* __restrict__ x,
                                                     const float* __restrict__ w, const float* __restrict__ bias,
                                                     float* __restrict__ y) {
  __shared__ __align__(16) float As[BK][TBM + PADS];
  constexpr int TM = TBM / 16;
  __shared__ __align__(16) float Bs[BK][BN + PADS];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int lk = tid % BK, lr = tid / BK;
  const int bn = tid % BN, bk = tid / BN;
  const I OHW = a.OH * a.OW;
  const I mtiles = (a.M + TBM - 1) / TBM, ntn = (a.Kg + BN - 1) / BN, nyt = ntn * a.groups;
  for (I by = blockIdx.y; by < nyt; by += gridDim.y) {
    const I g = by / ntn, n0 = (by - g * ntn) * BN;
    for (I bx = blockIdx.x; bx < mtiles; bx += gridDim.x) {
      const I m0 = bx * TBM;
      I rbase[TM], rih[TM], riw[TM];
      bool rok[TM];
#pragma unroll
      for (int i = 0; i < TM; ++i) {
        const I r = m0 + lr + 16 * i;
        rok[i] = r < a.M;
        const I rr = rok[i] ? r : 0;
        const I n = rr / OHW, rem = rr - n * OHW, oh = rem / a.OW, ow = rem - oh * a.OW;
        rih[i] = oh * a.sh - a.pt;
        riw[i] = ow * a.sw - a.pl;
        rbase[i] = n * a.H * a.W * a.C + g * a.Cg;
      }
      float ra[TM], rb[4];
      auto load = [&](I k0) {
        const I k = k0 + lk;
        if (k < a.KK) {
          const I c = k % a.Cg, t = k / a.Cg, kw = t % a.KW, kh = t / a.KW;
#pragma unroll
          for (int i = 0; i < TM; ++i) {
            const I ih = rih[i] + kh * a.dh, iw = riw[i] + kw * a.dw;
            ra[i] = (rok[i] && ih >= 0 && ih < a.H && iw >= 0 && iw < a.W) ? x[rbase[i] + (ih * a.W + iw) * a.C + c]
                                                                             : 0.f;
          }
        } else {
#pragma unroll
          for (int i = 0; i < TM; ++i) ra[i] = 0.f;
        }
        const I n = n0 + bn;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const I kb = k0 + bk + 4 * i;
          rb[i] = (kb < a.KK && n < a.Kg) ? w[kb * a.K + g * a.Kg + n] : 0.f;
        }
      };
      auto store = [&]() {
#pragma unroll
        for (int i = 0; i < TM; ++i) As[lk][lr + 16 * i] = ra[i];
#pragma unroll
        for (int i = 0; i < 4; ++i) Bs[bk + 4 * i][bn] = rb[i];
      };
      float acc[TM][4];
      igemm_tiles<TM, TBM + PADS>(a.KK, load, store, As, Bs, ty, tx, acc);
#pragma unroll
      for (int i = 0; i < TM; ++i) {
        const I m = m0 + ty * TM + i;
        if (m >= a.M) continue;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const I n = n0 + tx * 4 + j;
          if (n >= a.Kg) continue;
          const I col = g * a.Kg + n;
          float v = acc[i][j];
          if (bias) v = bias[col] + v;
          y[m * a.K + col] = act_apply(v, a.act);
        }
      }
    }
  }
}

// ---------------------------------------------------------------- backward input
// Rows: input pixels (n, ih, iw), M2 = N*H*W; columns: c in [0, Cg) of group g;
// reduction index q = (kh*KW + kw)*Kg + k. A[pixel][q] = dy[n, oh, ow, g*Kg + k] when
// ih + pt - kh*dh = oh*sh (0 <= oh < OH) and likewise for w, else 0;
// B[q][c] = w[kh, kw, c, g*Kg + k]. Both loads: q = q0 + tid%16 (k contiguous in
// memory), row/column tid/16 + 16i. (Launched only for sh*sw > kMaxPhases, with
// UNIT_STRIDE false; conv_bwd_input_phase below handles every other case.)
template <typename I, int TBM, bool UNIT_STRIDE>
__global__ void __launch_bounds__(NT) conv_bwd_input_igemm(const CA<I> a, const float* __restrict__ dy,
                                                           const float* __restrict__ w, float* __restrict__ dx) {
  __shared__ __align__(16) float As[BK][TBM + PADS];
  constexpr int TM = TBM / 16;
  __shared__ __align__(16) float Bs[BK][BN + PADS];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int lk = tid % BK, lr = tid / BK;
  const I HW = a.H * a.W, M2 = a.N * HW, Q = a.KH * a.KW * a.Kg;
  const I mtiles = (M2 + TBM - 1) / TBM, ntn = (a.Cg + BN - 1) / BN, nyt = ntn * a.groups;
  for (I by = blockIdx.y; by < nyt; by += gridDim.y) {
    const I g = by / ntn, n0 = (by - g * ntn) * BN;
    for (I bx = blockIdx.x; bx < mtiles; bx += gridDim.x) {
      const I m0 = bx * TBM;
      I rbase[TM], rth[TM], rtw[TM];
      bool rok[TM];
#pragma unroll
      for (int i = 0; i < TM; ++i) {
        const I r = m0 + lr + 16 * i;
        rok[i] = r < M2;
        const I rr = rok[i] ? r : 0;
        const I n = rr / HW, rem = rr - n * HW, ih = rem / a.W, iw = rem - ih * a.W;
        rth[i] = ih + a.pt;
        rtw[i] = iw + a.pl;
        rbase[i] = n * a.OH * a.OW * a.K + g * a.Kg;
      }
      float ra[TM], rb[4];
      auto load = [&](I q0) {
        const I q = q0 + lk;
        if (q < Q) {
          const I k = q % a.Kg, t = q / a.Kg, kw = t % a.KW, kh = t / a.KW;
#pragma unroll
          for (int i = 0; i < TM; ++i) {
            const I th = rth[i] - kh * a.dh, tw = rtw[i] - kw * a.dw;
            float v = 0.f;
            if (rok[i] && th >= 0 && tw >= 0) {
              if constexpr (UNIT_STRIDE) {  // no division: oh = th, ow = tw
                if (th < a.OH && tw < a.OW) v = dy[rbase[i] + (th * a.OW + tw) * a.K + k];
              } else {
                const I oh = th / a.sh, ow = tw / a.sw;
                if (oh * a.sh == th && ow * a.sw == tw && oh < a.OH && ow < a.OW)
                  v = dy[rbase[i] + (oh * a.OW + ow) * a.K + k];
              }
            }
            ra[i] = v;
          }
          const I wrow = (kh * a.KW + kw) * a.Cg;
#pragma unroll
          for (int i = 0; i < 4; ++i) {
            const I c = n0 + lr + 16 * i;
            rb[i] = c < a.Cg ? w[(wrow + c) * a.K + g * a.Kg + k] : 0.f;
          }
        } else {
#pragma unroll
          for (int i = 0; i < TM; ++i) ra[i] = 0.f;
#pragma unroll
          for (int i = 0; i < 4; ++i) rb[i] = 0.f;
        }
      };
      auto store = [&]() {
#pragma unroll
        for (int i = 0; i < TM; ++i) As[lk][lr + 16 * i] = ra[i];
#pragma unroll
        for (int i = 0; i < 4; ++i) Bs[lk][lr + 16 * i] = rb[i];
      };
      float acc[TM][4];
      igemm_tiles<TM, TBM + PADS>(Q, load, store, As, Bs, ty, tx, acc);
#pragma unroll
      for (int i = 0; i < TM; ++i) {
        const I m = m0 + ty * TM + i;
        if (m >= M2) continue;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const I c = n0 + tx * 4 + j;
          if (c < a.Cg) dx[m * a.C + g * a.Cg + c] = acc[i][j];
        }
      }
    }
  }
}

// Stride-phase form of the same GEMM (used when sh*sw <= kMaxPhases): the input
// pixels are split by phase (ph, pw) = ((ih + pt) % sh, (iw + pl) % sw). Within a
// phase only the taps with kh*dh = ph (mod sh) (an arithmetic progression
// kh0 + t*ksh) and likewise for kw can hit a pixel, and for those the dy row is an
// exact offset: oh = ohb + jh - (toh0 + t*dtoh) where ih = ih0 + jh*sh. So the
// reduction skips the (sh*sw - 1)/(sh*sw) taps that are always zero and needs no
// per-element division. A phase with no valid tap (Q == 0) writes zeros.
template <typename I>
struct Phase {
  I ih0, nH, ohb, kh0, ksh, nkh, toh0, dtoh;  // rows: ih = ih0 + jh*sh, jh < nH
  I iw0, nW, owb, kw0, ksw, nkw, tow0, dtow;
};

template <typename I, int TBM>
__global__ void __launch_bounds__(NT) conv_bwd_input_phase(const CA<I> a, const Phase<I> ph,
                                                           const float* __restrict__ dy, const float* __restrict__ w,
                                                           float* __restrict__ dx) {
  __shared__ __align__(16) float As[BK][TBM + PADS];
  constexpr int TM = TBM / 16;
  __shared__ __align__(16) float Bs[BK][BN + PADS];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int lk = tid % BK, lr = tid / BK;
  const I HWp = ph.nH * ph.nW, M2 = a.N * HWp, Q = ph.nkh * ph.nkw * a.Kg;
  const I mtiles = (M2 + TBM - 1) / TBM, ntn = (a.Cg + BN - 1) / BN, nyt = ntn * a.groups;
  for (I by = blockIdx.y; by < nyt; by += gridDim.y) {
    const I g = by / ntn, n0 = (by - g * ntn) * BN;
    for (I bx = blockIdx.x; bx < mtiles; bx += gridDim.x) {
      const I m0 = bx * TBM;
      I rbase[TM], roh[TM], row[TM];
      bool rok[TM];
#pragma unroll
      for (int i = 0; i < TM; ++i) {
        const I r = m0 + lr + 16 * i;
        rok[i] = r < M2;
        const I rr = rok[i] ? r : 0;
        const I n = rr / HWp, rem = rr - n * HWp, jh = rem / ph.nW, jw = rem - jh * ph.nW;
        roh[i] = ph.ohb + jh;
        row[i] = ph.owb + jw;
        rbase[i] = n * a.OH * a.OW * a.K + g * a.Kg;
      }
      float ra[TM], rb[4];
      auto load = [&](I q0) {
        const I q = q0 + lk;
        if (q < Q) {
          const I k = q % a.Kg, t = q / a.Kg, tw = t % ph.nkw, th = t / ph.nkw;
          const I kh = ph.kh0 + th * ph.ksh, kw = ph.kw0 + tw * ph.ksw;
          const I toh = ph.toh0 + th * ph.dtoh, tow = ph.tow0 + tw * ph.dtow;
#pragma unroll
          for (int i = 0; i < TM; ++i) {
            const I oh = roh[i] - toh, ow = row[i] - tow;
            ra[i] = (rok[i] && oh >= 0 && oh < a.OH && ow >= 0 && ow < a.OW)
                        ? dy[rbase[i] + (oh * a.OW + ow) * a.K + k]
                        : 0.f;
          }
          const I wrow = (kh * a.KW + kw) * a.Cg;
#pragma unroll
          for (int i = 0; i < 4; ++i) {
            const I c = n0 + lr + 16 * i;
            rb[i] = c < a.Cg ? w[(wrow + c) * a.K + g * a.Kg + k] : 0.f;
          }
        } else {
#pragma unroll
          for (int i = 0; i < TM; ++i) ra[i] = 0.f;
#pragma unroll
          for (int i = 0; i < 4; ++i) rb[i] = 0.f;
        }
      };
      auto store = [&]() {
#pragma unroll
        for (int i = 0; i < TM; ++i) As[lk][lr + 16 * i] = ra[i];
#pragma unroll
        for (int i = 0; i < 4; ++i) Bs[lk][lr + 16 * i] = rb[i];
      };
      float acc[TM][4];
      igemm_tiles<TM, TBM + PADS>(Q, load, store, As, Bs, ty, tx, acc);
#pragma unroll
      for (int i = 0; i < TM; ++i) {
        const I m = m0 + ty * TM + i;
        if (m >= M2) continue;
        const I n = m / HWp, rem = m - n * HWp, jh = rem / ph.nW, jw = rem - jh * ph.nW;
        const I ih = ph.ih0 + jh * a.sh, iw = ph.iw0 + jw * a.sw;
        float* const d = dx + ((n * a.H + ih) * a.W + iw) * a.C + g * a.Cg;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const I c = n0 + tx * 4 + j;
          if (c < a.Cg) d[c] = acc[i][j];
        }
      }
    }
  }
}

// ---------------------------------------------------------------- backward filter
// Tile rows: q in [m0, m0+64) of KK = KH*KW*Cg (filter rows, (kh, kw, c));
// columns n in [n0, n0+64) of Kg; reduction over output rows r in
// [z*chunk, min(M, (z+1)*chunk)). A[r][q] = col_g[r][q] (thread: fixed q = tid%64,
// rows tid/64 + 4i), B[r][n] = dy[r, g*Kg + n].
// direct: dst is dw (accumulate honoured); else dst is the partial buffer, split z
// at dst + z*WS.
template <typename I>
__global__ void __launch_bounds__(NT) conv_bwd_filter_igemm(const CA<I> a, I chunk, const float* __restrict__ dy,
                                                            const float* __restrict__ x, float* __restrict__ dst,
                                                            bool direct, bool accumulate) {
  __shared__ __align__(16) float As[BK][BM + PADS];
  __shared__ __align__(16) float Bs[BK][BN + PADS];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int lc = tid % 64, lr = tid / 64;
  const I OHW = a.OH * a.OW;
  const I WS = a.KK * a.K;
  const I r_begin = I(blockIdx.z) * chunk;
  const I r_end = r_begin + chunk < a.M ? r_begin + chunk : a.M;
  float* const out = direct ? dst : dst + I(blockIdx.z) * WS;
  const I mtiles = (a.KK + BM - 1) / BM, ntn = (a.Kg + BN - 1) / BN, nyt = ntn * a.groups;
  for (I by = blockIdx.y; by < nyt; by += gridDim.y) {
    const I g = by / ntn, n0 = (by - g * ntn) * BN;
    for (I bx = blockIdx.x; bx < mtiles; bx += gridDim.x) {
      const I m0 = bx * BM;
      const I q = m0 + lc;
      const bool qok = q < a.KK;
      const I qq = qok ? q : 0;
      const I c = qq % a.Cg, t = qq / a.Cg, kw = t % a.KW, kh = t / a.KW;
      const I offh = kh * a.dh - a.pt, offw = kw * a.dw - a.pl;
      const I nb = n0 + lc;
      const bool nok = nb < a.Kg;
      // (n, oh, ow) of this thread's rows r0 + lr + 4i, carried from one BK step to
      // the next (load() is called for r0 = r_begin, r_begin + BK, ... in order);
      // divisions only when a row wraps.
      I sn[4], soh[4], sow[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const I r = r_begin + lr + 4 * i;
        sn[i] = r / OHW;
        const I rem = r - sn[i] * OHW;
        soh[i] = rem / a.OW;
        sow[i] = rem - soh[i] * a.OW;
      }
      float ra[4], rb[4];
      auto load = [&](I r0) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const I r = r0 + lr + 4 * i;
          float va = 0.f, vb = 0.f;
          if (r < r_end) {
            if (qok) {
              const I ih = soh[i] * a.sh + offh, iw = sow[i] * a.sw + offw;
              if (ih >= 0 && ih < a.H && iw >= 0 && iw < a.W)
                va = x[((sn[i] * a.H + ih) * a.W + iw) * a.C + g * a.Cg + c];
            }
            if (nok) vb = dy[r * a.K + g * a.Kg + nb];
          }
          ra[i] = va;
          rb[i] = vb;
          sow[i] += BK;
          if (sow[i] >= a.OW) {
            const I cw = sow[i] / a.OW;
            sow[i] -= cw * a.OW;
            soh[i] += cw;
            if (soh[i] >= a.OH) {
              const I ch = soh[i] / a.OH;
              soh[i] -= ch * a.OH;
              sn[i] += ch;
            }
          }
        }
      };
      float acc[4][4];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = 0.f;
      load(r_begin);
      for (I r0 = r_begin; r0 < r_end; r0 += BK) {
        __syncthreads();
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          As[lr + 4 * i][lc] = ra[i];
          Bs[lr + 4 * i][lc] = rb[i];
        }
        __syncthreads();
        if (r0 + BK < r_end) load(r0 + BK);
        tile_fma<4, BM + PADS>(As, Bs, ty, tx, acc);
      }
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const I qm = m0 + ty * 4 + i;
        if (qm >= a.KK) continue;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const I n = n0 + tx * 4 + j;
          if (n >= a.Kg) continue;
          const I e = qm * a.K + g * a.Kg + n;
          const float v = acc[i][j];
          out[e] = (direct && accumulate) ? out[e] + v : v;
        }
      }
    }
  }
}

// dst[e] = (accumulate ? dst[e] : 0) + part[0][e] + part[1][e] + ... (split order).
__global__ void sum_splits(const float* __restrict__ part, int64_t S, int64_t WS, float* __restrict__ dst,
                           bool accumulate) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < WS; e += int64_t(gridDim.x) * blockDim.x) {
    float s = accumulate ? dst[e] : 0.f;
    for (int64_t u = 0; u < S; ++u) s += part[u * WS + e];
    dst[e] = s;
  }
}

// ---------------------------------------------------------------- depthwise
// One thread per (output pixel, VEC channels); VEC == 4 only when m == 1, C % 4 == 0
// and the pointers are 16-byte aligned. Same summation order as the CPU (bias,
// then taps in (kh, kw) order).
template <typename I, int VEC>
__global__ void __launch_bounds__(256) dw_forward(const CA<I> a, const float* __restrict__ x,
                                                  const float* __restrict__ w, const float* __restrict__ bias,
                                                  float* __restrict__ y) {
  const I KV = a.K / VEC, total = a.M * KV, mult = a.K / a.C, OHW = a.OH * a.OW;
  for (I idx = I(blockIdx.x) * I(blockDim.x) + I(threadIdx.x); idx < total; idx += I(gridDim.x) * I(blockDim.x)) {
    const I r = idx / KV, k = (idx - r * KV) * VEC;
    const I n = r / OHW, rem = r - n * OHW, oh = rem / a.OW, ow = rem - oh * a.OW;
    float acc[VEC];
#pragma unroll
    for (int v = 0; v < VEC; ++v) acc[v] = bias ? bias[k + v] : 0.f;
    for (I kh = 0; kh < a.KH; ++kh) {
      const I ih = oh * a.sh - a.pt + kh * a.dh;
      if (ih < 0 || ih >= a.H) continue;
      for (I kw = 0; kw < a.KW; ++kw) {
        const I iw = ow * a.sw - a.pl + kw * a.dw;
        if (iw < 0 || iw >= a.W) continue;
        const I xp = ((n * a.H + ih) * a.W + iw) * a.C, wp = (kh * a.KW + kw) * a.K + k;
        if constexpr (VEC == 4) {
          const float4 xv = *reinterpret_cast<const float4*>(x + xp + k);
          const float4 wv = *reinterpret_cast<const float4*>(w + wp);
          acc[0] += xv.x * wv.x;
          acc[1] += xv.y * wv.y;
          acc[2] += xv.z * wv.z;
          acc[3] += xv.w * wv.w;
        } else {
#pragma unroll
          for (int v = 0; v < VEC; ++v) acc[v] += x[xp + (k + v) / mult] * w[wp + v];
        }
      }
    }
    float* yr = y + r * a.K + k;
    if constexpr (VEC == 4) {
      float4 o;
      o.x = act_apply(acc[0], a.act);
      o.y = act_apply(acc[1], a.act);
      o.z = act_apply(acc[2], a.act);
      o.w = act_apply(acc[3], a.act);
      *reinterpret_cast<float4*>(yr) = o;
    } else {
#pragma unroll
      for (int v = 0; v < VEC; ++v) yr[v] = act_apply(acc[v], a.act);
    }
  }
}

// dx[n, ih, iw, c] = sum over taps whose window hits (ih, iw) of
// sum_j dy[n, oh, ow, c*m + j] * w[kh, kw, 0, c*m + j]. One thread per (pixel, VEC channels).
template <typename I, int VEC>
__global__ void __launch_bounds__(256) dw_backward_input(const CA<I> a, const float* __restrict__ dy,
                                                         const float* __restrict__ w, float* __restrict__ dx) {
  const I CV = a.C / VEC, HW = a.H * a.W, total = a.N * HW * CV, mult = a.K / a.C;
  for (I idx = I(blockIdx.x) * I(blockDim.x) + I(threadIdx.x); idx < total; idx += I(gridDim.x) * I(blockDim.x)) {
    const I pix = idx / CV, c = (idx - pix * CV) * VEC;
    const I n = pix / HW, rem = pix - n * HW, ih = rem / a.W, iw = rem - ih * a.W;
    float acc[VEC];
#pragma unroll
    for (int v = 0; v < VEC; ++v) acc[v] = 0.f;
    for (I kh = 0; kh < a.KH; ++kh) {
      const I th = ih + a.pt - kh * a.dh;
      if (th < 0) continue;
      const I oh = th / a.sh;
      if (oh * a.sh != th || oh >= a.OH) continue;
      for (I kw = 0; kw < a.KW; ++kw) {
        const I tw = iw + a.pl - kw * a.dw;
        if (tw < 0) continue;
        const I ow = tw / a.sw;
        if (ow * a.sw != tw || ow >= a.OW) continue;
        const I dp = ((n * a.OH + oh) * a.OW + ow) * a.K, wp = (kh * a.KW + kw) * a.K;
        if constexpr (VEC == 4) {
          const float4 dv = *reinterpret_cast<const float4*>(dy + dp + c);
          const float4 wv = *reinterpret_cast<const float4*>(w + wp + c);
          acc[0] += dv.x * wv.x;
          acc[1] += dv.y * wv.y;
          acc[2] += dv.z * wv.z;
          acc[3] += dv.w * wv.w;
        } else {
#pragma unroll
          for (int v = 0; v < VEC; ++v) {
            const I cb = (c + v) * mult;
            float s = 0.f;
            for (I j = 0; j < mult; ++j) s += dy[dp + cb + j] * w[wp + cb + j];
            acc[v] += s;
          }
        }
      }
    }
    float* xr = dx + pix * a.C + c;
    if constexpr (VEC == 4) {
      *reinterpret_cast<float4*>(xr) =
          make_float4(acc[0], acc[1], acc[2], acc[3]);
    } else {
#pragma unroll
      for (int v = 0; v < VEC; ++v) xr[v] = acc[v];
    }
  }
}

// dw[kh, kw, 0, k] = sum_r dy[r, k] * x[n, ih, iw, k/m] over rows r of split z.
// Block (32, 8): threadIdx.x = channel lane, threadIdx.y = row lane (rows strided by
// 8); the 8 row-lane sums are added in order in shared memory. grid (k blocks,
// taps, splits). direct: dst is dw (accumulate honoured), else partials at z*WS.
template <typename I>
__global__ void __launch_bounds__(256) dw_backward_filter(const CA<I> a, I chunk, const float* __restrict__ dy,
                                                          const float* __restrict__ x, float* __restrict__ dst,
                                                          bool direct, bool accumulate) {
  __shared__ float sm[8][33];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const I mult = a.K / a.C, OHW = a.OH * a.OW, taps = a.KH * a.KW, WS = taps * a.K;
  const I kblocks = (a.K + 31) / 32;
  const I r_begin = I(blockIdx.z) * chunk;
  const I r_end = r_begin + chunk < a.M ? r_begin + chunk : a.M;
  float* const out = direct ? dst : dst + I(blockIdx.z) * WS;
  for (I tap = blockIdx.y; tap < taps; tap += gridDim.y) {
    const I kh = tap / a.KW, kw = tap - kh * a.KW;
    for (I kb = blockIdx.x; kb < kblocks; kb += gridDim.x) {
      const I k = kb * 32 + tx;
      float acc = 0.f;
      if (k < a.K) {
        const I c = k / mult;
        for (I r = r_begin + ty; r < r_end; r += 8) {
          const I n = r / OHW, rem = r - n * OHW, oh = rem / a.OW, ow = rem - oh * a.OW;
          const I ih = oh * a.sh - a.pt + kh * a.dh, iw = ow * a.sw - a.pl + kw * a.dw;
          if (ih < 0 || ih >= a.H || iw < 0 || iw >= a.W) continue;
          acc += dy[r * a.K + k] * x[((n * a.H + ih) * a.W + iw) * a.C + c];
        }
      }
      sm[ty][tx] = acc;
      __syncthreads();
      if (ty == 0 && k < a.K) {
        float s = 0.f;
#pragma unroll
        for (int u = 0; u < 8; ++u) s += sm[u][tx];
        const I e = tap * a.K + k;
        out[e] = (direct && accumulate) ? out[e] + s : s;
      }
      __syncthreads();
    }
  }
}

// ---------------------------------------------------------------- bias
// Column sums of dy (rows, K) in double. Block (32, 8), grid (k blocks, splits).
// direct: write db (accumulate honoured); else part[z*K + k].
__global__ void __launch_bounds__(256) bias_partial(int64_t rows, int64_t K, int64_t chunk,
                                                    const float* __restrict__ dy, double* __restrict__ part,
                                                    float* __restrict__ db, bool direct, bool accumulate) {
  __shared__ double sm[8][33];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t kblocks = (K + 31) / 32;
  const int64_t r_begin = int64_t(blockIdx.y) * chunk;
  const int64_t r_end = r_begin + chunk < rows ? r_begin + chunk : rows;
  for (int64_t kb = blockIdx.x; kb < kblocks; kb += gridDim.x) {
    const int64_t k = kb * 32 + tx;
    double acc = 0.0;
    if (k < K)
      for (int64_t r = r_begin + ty; r < r_end; r += 8) acc += double(dy[r * K + k]);
    sm[ty][tx] = acc;
    __syncthreads();
    if (ty == 0 && k < K) {
      double s = 0.0;
#pragma unroll
      for (int u = 0; u < 8; ++u) s += sm[u][tx];
      if (direct) db[k] = float(accumulate ? double(db[k]) + s : s);
      else part[int64_t(blockIdx.y) * K + k] = s;
    }
    __syncthreads();
  }
}

__global__ void bias_final(const double* __restrict__ part, int64_t S, int64_t K, float* __restrict__ db,
                           bool accumulate) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < K; k += int64_t(gridDim.x) * blockDim.x) {
    double s = 0.0;
    for (int64_t u = 0; u < S; ++u) s += part[u * K + k];
    db[k] = float(accumulate ? double(db[k]) + s : s);
  }
}

// ---------------------------------------------------------------- host side
constexpr int64_t kMaxGridX = 0x7fffffff, kMaxGridYZ = 65535;
constexpr int64_t kMaxPhases = 64;                       // backward_input: stride-phase launches at most
constexpr int64_t kMaxPartialFloats = int64_t(64) << 20;  // 256 MB of split partials at most

// Split count for a reduction of `rows` rows when `tiles` blocks already exist per
// split: enough blocks to fill the GPU a few times over, at least min_rows rows per
// split, partials within budget. Returns S and sets *chunk (rows per split,
// a multiple of `align`).
int64_t choose_splits(int64_t rows, int64_t tiles, int64_t ws_floats, int64_t min_rows, int64_t align,
                      int64_t* chunk) {
  int64_t S = 1;
  if (rows > 2 * min_rows) {
    const int64_t target = 4 * int64_t(sm_count());
    S = std::max<int64_t>(1, cdiv(target, std::max<int64_t>(tiles, 1)));
    S = std::min(S, std::max<int64_t>(1, rows / min_rows));
    S = std::min(S, std::max<int64_t>(1, kMaxPartialFloats / std::max<int64_t>(ws_floats, 1)));
    S = std::min<int64_t>(S, std::min<int64_t>(kMaxGridYZ, 1024));
  }
  int64_t c = cdiv(std::max<int64_t>(rows, 1), S);
  c = cdiv(c, align) * align;
  *chunk = c;
  return std::max<int64_t>(1, cdiv(rows, c));
}

// 128-row tiles (8x4 per thread) when they still give every SM two blocks, else 64.
bool use_tall_tiles(int64_t rows, int64_t col_tiles) {
  return cdiv(rows, 2 * BM) * col_tiles >= 2 * int64_t(sm_count());
}

// ---------------------------------------------------------------- forward, one input channel
// The first layer of a grayscale network (C == 1, groups == 1): the reduction is only
// KH*KW taps long, so the implicit GEMM's 16-deep k tiles are partly padding and its
// gathers fetch each input pixel KH*KW times. Here a block owns C1_PIX = PG*C1_P
// consecutive output pixels of one image (flattened oh*OW + ow, possibly spanning
// rows) and every output channel: the filter (KH*KW*K floats) and the zero-padded input
// rows those pixels read sit in shared memory; thread (kg, pg) computes channels
// 4kg..4kg+3 of pixels pg, pg + PG, ... (C1_P of them). Each sum runs over the taps in
// (kh, kw) order with fmaf from 0, then bias + activation: the operations of the
// implicit GEMM in its order, so both kernels give the same bits.
constexpr int C1_THREADS = 256, C1_P = 4, C1_WMAX = 4096, C1_XMAX = 4096;

template <typename I>
__global__ void __launch_bounds__(C1_THREADS) conv_fwd_c1(const CA<I> a, I rows_span, I Wp,
                                                          const float* __restrict__ x, const float* __restrict__ w,
                                                          const float* __restrict__ bias, float* __restrict__ y,
                                                          bool vec_out) {
  __shared__ __align__(16) float ws[C1_WMAX];
  __shared__ float xs[C1_XMAX];
  const int tid = threadIdx.x;
  const int K = int(a.K), KG = (K + 3) / 4, PG = C1_THREADS / KG, taps = int(a.KH * a.KW);
  const I pix = I(PG) * C1_P, OHW = a.OH * a.OW, per_img = (OHW + pix - 1) / pix;
  for (int i = tid; i < taps * K; i += C1_THREADS) ws[i] = w[i];  // w (KH,KW,1,K): ws[t*K + k]
  const int kg = tid % KG, pg = tid / KG;
  for (I tile = blockIdx.x; tile < a.N * per_img; tile += gridDim.x) {
    const I n = tile / per_img, p0 = (tile - n * per_img) * pix;
    const I ph0 = (p0 / a.OW) * a.sh;  // first padded input row (ih + pt) the tile reads
    __syncthreads();                    // the previous tile's readers are done (and ws is complete)
    for (I i = tid; i < rows_span * Wp; i += C1_THREADS) {
      const I r = i / Wp, c = i - r * Wp, ih = ph0 + r - a.pt, iw = c - a.pl;
      xs[i] = (ih >= 0 && ih < a.H && iw >= 0 && iw < a.W) ? x[(n * a.H + ih) * a.W + iw] : 0.f;
    }
    __syncthreads();
    if (pg >= PG) continue;  // idle threads when KG does not divide the block
    I off[C1_P];
    bool ok[C1_P];
#pragma unroll
    for (int j = 0; j < C1_P; ++j) {
      const I p = p0 + pg + I(j) * PG;
      ok[j] = p < OHW;
      const I oh = ok[j] ? p / a.OW : p0 / a.OW, ow = ok[j] ? p - oh * a.OW : 0;
      off[j] = (oh * a.sh - ph0) * Wp + ow * a.sw;
    }
    float acc[C1_P][4];
#pragma unroll
    for (int j = 0; j < C1_P; ++j)
#pragma unroll
      for (int v = 0; v < 4; ++v) acc[j][v] = 0.f;
    const int k0 = 4 * kg;
    for (int kh = 0; kh < int(a.KH); ++kh)
      for (int kw = 0; kw < int(a.KW); ++kw) {
        const int t = kh * int(a.KW) + kw;
        const I toff = I(kh) * a.dh * Wp + I(kw) * a.dw;
        float wv[4];
#pragma unroll
        for (int v = 0; v < 4; ++v) wv[v] = k0 + v < K ? ws[t * K + k0 + v] : 0.f;
#pragma unroll
        for (int j = 0; j < C1_P; ++j) {
          const float xv = xs[off[j] + toff];
#pragma unroll
          for (int v = 0; v < 4; ++v) acc[j][v] = fmaf(xv, wv[v], acc[j][v]);
        }
      }
#pragma unroll
    for (int j = 0; j < C1_P; ++j) {
      if (!ok[j]) continue;
      float o[4];
#pragma unroll
      for (int v = 0; v < 4; ++v) {
        const int k = k0 + v < K ? k0 + v : K - 1;
        o[v] = act_apply(bias ? bias[k] + acc[j][v] : acc[j][v], a.act);
      }
      float* yr = y + (n * OHW + p0 + pg + I(j) * PG) * a.K + k0;
      if (vec_out) {
        *reinterpret_cast<float4*>(yr) = make_float4(o[0], o[1], o[2], o[3]);
      } else {
#pragma unroll
        for (int v = 0; v < 4; ++v)
          if (k0 + v < K) yr[v] = o[v];
      }
    }
  }
}

// Launch conv_fwd_c1 when it applies (C == 1, groups == 1, filter and input rows fit
// its shared arrays); PCN_CONV_C1=igemm turns it off (for A/B timing in bench/gpu.py).
template <typename I>
bool forward_c1(const Conv2dParams& p, const CA<I>& a, cudaStream_t st, const float* x, const float* w,
                const float* b, float* y) {
  if (p.C != 1 || p.groups != 1 || p.K > 4 * C1_THREADS || p.KH * p.KW * p.K > C1_WMAX) return false;
  const char* env = std::getenv("PCN_CONV_C1");
  if (env && std::strcmp(env, "igemm") == 0) return false;
  const int64_t KG = (p.K + 3) / 4, pix = (C1_THREADS / KG) * C1_P;
  const int64_t Wp = (p.OW - 1) * p.sw + (p.KW - 1) * p.dw + 1;
  const int64_t span_oh = (p.OW - 1 + pix - 1) / p.OW;  // output rows a tile spans, minus one
  const int64_t rows_span = span_oh * p.sh + (p.KH - 1) * p.dh + 1;
  if (rows_span * Wp > C1_XMAX) return false;
  const bool vec_out = p.K % 4 == 0 && aligned16(y);
  // Blocks loop over tiles, so each stages the filter once for several tiles: about
  // as many blocks as fit on the GPU at once (32 KiB of shared memory each).
  const int64_t tiles = p.N * cdiv(p.OH * p.OW, pix);
  conv_fwd_c1<I><<<grid_cap(tiles, 6 * int64_t(sm_count())), C1_THREADS, 0, st>>>(a, I(rows_span), I(Wp), x, w, b,
                                                                                   y, vec_out);
  PCN_CUDA_LAUNCH_CHECK();
  return true;
}

template <typename I>
void forward_impl(const Conv2dParams& p, const float* x, const float* w, const float* b, float* y) {
  const CA<I> a = make_ca<I>(p);
  cudaStream_t st = cuda::stream();
  if (is_depthwise(p)) {
    const bool v4 = p.K == p.C && p.C % 4 == 0 && aligned16(x) && aligned16(w) && aligned16(y) &&
                    (b == nullptr || aligned16(b));
    const int64_t total = int64_t(a.M) * (p.K / (v4 ? 4 : 1));
    const unsigned blocks = grid_cap(cdiv(total, 256), 1 << 16);
    if (v4) dw_forward<I, 4><<<blocks, 256, 0, st>>>(a, x, w, b, y);
    else dw_forward<I, 1><<<blocks, 256, 0, st>>>(a, x, w, b, y);
    PCN_CUDA_LAUNCH_CHECK();
    return;
  }
  if (forward_c1<I>(p, a, st, x, w, b, y)) return;
  const int64_t ny = cdiv(int64_t(a.Kg), BN) * p.groups;
  if constexpr (sizeof(I) == 4) {  // (int64 indexing: 64-row tiles only, fewer registers)
    if (use_tall_tiles(int64_t(a.M), ny)) {
      const dim3 grid(grid_cap(cdiv(int64_t(a.M), 2 * BM), kMaxGridX), grid_cap(ny, kMaxGridYZ));
      conv_fwd_igemm<I, 2 * BM><<<grid, NT, 0, st>>>(a, x, w, b, y);
      PCN_CUDA_LAUNCH_CHECK();
      return;
    }
  }
  const dim3 grid(grid_cap(cdiv(int64_t(a.M), BM), kMaxGridX), grid_cap(ny, kMaxGridYZ));
  conv_fwd_igemm<I, BM><<<grid, NT, 0, st>>>(a, x, w, b, y);
  PCN_CUDA_LAUNCH_CHECK();
}

template <typename I, bool UNIT_STRIDE>
void backward_input_gemm(const CA<I>& a, int64_t M2, int64_t ny, cudaStream_t st, const float* dy, const float* w,
                         float* dx) {
  if constexpr (sizeof(I) == 4) {  // (int64 indexing: 64-row tiles only, fewer registers)
    if (use_tall_tiles(M2, ny)) {
      const dim3 grid(grid_cap(cdiv(M2, 2 * BM), kMaxGridX), grid_cap(ny, kMaxGridYZ));
      conv_bwd_input_igemm<I, 2 * BM, UNIT_STRIDE><<<grid, NT, 0, st>>>(a, dy, w, dx);
      PCN_CUDA_LAUNCH_CHECK();
      return;
    }
  }
  const dim3 grid(grid_cap(cdiv(M2, BM), kMaxGridX), grid_cap(ny, kMaxGridYZ));
  conv_bwd_input_igemm<I, BM, UNIT_STRIDE><<<grid, NT, 0, st>>>(a, dy, w, dx);
  PCN_CUDA_LAUNCH_CHECK();
}

// One spatial axis of a stride phase (see conv_bwd_input_phase): input size n,
// kernel k, stride s, dilation d, leading pad pad, phase ph in [0, s). Returns false
// when no input position has this phase. Valid taps: kk*d = ph (mod s), i.e.
// kk = k0 + t*kstep, t < nk (nk may be 0: the phase gets zeros).
template <typename I>
bool phase_axis(int64_t n, int64_t k, int64_t s, int64_t d, int64_t pad, int64_t ph, int64_t* cnt, I* i0, I* ob,
                I* k0, I* kstep, I* nk, I* t0, I* dt) {
  const int64_t first = (((ph - pad) % s) + s) % s;  // first input index with (i + pad) % s == ph
  if (first >= n) return false;
  *cnt = cdiv(n - first, s);
  *i0 = I(first);
  *ob = I((first + pad - ph) / s);  // exact, >= 0
  int64_t kk0 = -1;
  for (int64_t kk = 0; kk < std::min(k, s); ++kk)
    if (((kk % s) * (d % s)) % s == ph) {
      kk0 = kk;
      break;
    }
  int64_t g = s, b = d % s;  // gcd(d, s)
  while (b) { const int64_t t = g % b; g = b; b = t; }
  const int64_t step = s / g;
  *kstep = I(step);
  if (kk0 < 0) {
    *k0 = 0; *nk = 0; *t0 = 0; *dt = 0;
    return true;
  }
  *k0 = I(kk0);
  *nk = I(cdiv(k - kk0, step));
  *t0 = I((kk0 * d - ph) / s);  // exact, >= 0
  *dt = I(step * d / s);        // step*d is a multiple of s
  return true;
}

template <typename I>
void backward_input_impl(const Conv2dParams& p, const float* dy, const float* w, float* dx) {
  const CA<I> a = make_ca<I>(p);
  cudaStream_t st = cuda::stream();
  const int64_t M2 = p.N * p.H * p.W;
  if (is_depthwise(p)) {
    const bool v4 = p.K == p.C && p.C % 4 == 0 && aligned16(dy) && aligned16(w) && aligned16(dx);
    const int64_t total = M2 * (p.C / (v4 ? 4 : 1));
    const unsigned blocks = grid_cap(cdiv(total, 256), 1 << 16);
    if (v4) dw_backward_input<I, 4><<<blocks, 256, 0, st>>>(a, dy, w, dx);
    else dw_backward_input<I, 1><<<blocks, 256, 0, st>>>(a, dy, w, dx);
    PCN_CUDA_LAUNCH_CHECK();
    return;
  }
  const int64_t ny = cdiv(int64_t(a.Cg), BN) * p.groups;
  if (p.sh * p.sw > kMaxPhases) {  // huge strides: the plain gather form, one launch
    backward_input_gemm<I, false>(a, M2, ny, st, dy, w, dx);
    return;
  }
  for (int64_t ph = 0; ph < p.sh; ++ph)
    for (int64_t pw = 0; pw < p.sw; ++pw) {
      Phase<I> f;
      int64_t nH = 0, nW = 0;
      if (!phase_axis(p.H, p.KH, p.sh, p.dh, p.pad_top, ph, &nH, &f.ih0, &f.ohb, &f.kh0, &f.ksh, &f.nkh, &f.toh0,
                      &f.dtoh) ||
          !phase_axis(p.W, p.KW, p.sw, p.dw, p.pad_left, pw, &nW, &f.iw0, &f.owb, &f.kw0, &f.ksw, &f.nkw, &f.tow0,
                      &f.dtow))
        continue;  // no input pixel in this phase
      f.nH = I(nH);
      f.nW = I(nW);
      const int64_t rows = p.N * nH * nW;
      if constexpr (sizeof(I) == 4) {
        if (use_tall_tiles(rows, ny)) {
          const dim3 grid(grid_cap(cdiv(rows, 2 * BM), kMaxGridX), grid_cap(ny, kMaxGridYZ));
          conv_bwd_input_phase<I, 2 * BM><<<grid, NT, 0, st>>>(a, f, dy, w, dx);
          PCN_CUDA_LAUNCH_CHECK();
          continue;
        }
      }
      const dim3 grid(grid_cap(cdiv(rows, BM), kMaxGridX), grid_cap(ny, kMaxGridYZ));
      conv_bwd_input_phase<I, BM><<<grid, NT, 0, st>>>(a, f, dy, w, dx);
      PCN_CUDA_LAUNCH_CHECK();
    }
}

template <typename I>
void backward_filter_impl(const Conv2dParams& p, const float* dy, const float* x, float* dw, bool accumulate) {
  const CA<I> a = make_ca<I>(p);
  cudaStream_t st = cuda::stream();
  const int64_t M = int64_t(a.M), WS = p.KH * p.KW * (p.C / p.groups) * p.K;
  if (is_depthwise(p)) {
    const int64_t taps = p.KH * p.KW, kblocks = cdiv(p.K, 32);
    int64_t chunk = 0;
    const int64_t S = choose_splits(M, kblocks * taps, WS, 64, 8, &chunk);
    Tensor part;
    if (S > 1) part = workspace(S * WS);
    const dim3 grid(grid_cap(kblocks, kMaxGridX), grid_cap(taps, kMaxGridYZ), unsigned(S));
    dw_backward_filter<I><<<grid, dim3(32, 8), 0, st>>>(a, I(chunk), dy, x, S > 1 ? part.data<float>() : dw,
                                                        S == 1, accumulate);
    PCN_CUDA_LAUNCH_CHECK();
    if (S > 1) {
      sum_splits<<<grid_cap(cdiv(WS, 256), 1 << 16), 256, 0, st>>>(part.data<float>(), S, WS, dw, accumulate);
      PCN_CUDA_LAUNCH_CHECK();
    }
    return;
  }
  const int64_t mt = cdiv(int64_t(a.KK), BM), nt = cdiv(int64_t(a.Kg), BN) * p.groups;
  int64_t chunk = 0;
  const int64_t S = choose_splits(M, mt * nt, WS, 256, BK, &chunk);
  Tensor part;
  if (S > 1) part = workspace(S * WS);
  const dim3 grid(grid_cap(mt, kMaxGridX), grid_cap(nt, kMaxGridYZ), unsigned(S));
  conv_bwd_filter_igemm<I><<<grid, NT, 0, st>>>(a, I(chunk), dy, x, S > 1 ? part.data<float>() : dw, S == 1,
                                                accumulate);
  PCN_CUDA_LAUNCH_CHECK();
  if (S > 1) {
    sum_splits<<<grid_cap(cdiv(WS, 256), 1 << 16), 256, 0, st>>>(part.data<float>(), S, WS, dw, accumulate);
    PCN_CUDA_LAUNCH_CHECK();
  }
}

void conv2d_forward_cuda(const Conv2dParams& p, const float* x, const float* w, const float* b, float* y) {
  if (fits32(p)) forward_impl<int32_t>(p, x, w, b, y);
  else forward_impl<int64_t>(p, x, w, b, y);
}

void conv2d_backward_input_cuda(const Conv2dParams& p, const float* dy, const float* w, float* dx) {
  if (fits32(p)) backward_input_impl<int32_t>(p, dy, w, dx);
  else backward_input_impl<int64_t>(p, dy, w, dx);
}

void conv2d_backward_filter_cuda(const Conv2dParams& p, const float* dy, const float* x, float* dw, bool accumulate) {
  if (fits32(p)) backward_filter_impl<int32_t>(p, dy, x, dw, accumulate);
  else backward_filter_impl<int64_t>(p, dy, x, dw, accumulate);
}

void conv2d_backward_bias_cuda(int64_t rows, int64_t K, const float* dy, float* db, bool accumulate) {
  if (K <= 0) return;
  cudaStream_t st = cuda::stream();
  const int64_t kblocks = cdiv(K, 32);
  int64_t chunk = 0;
  const int64_t S = choose_splits(rows, kblocks, 2 * K, 256, 8, &chunk);
  if (S == 1) {
    bias_partial<<<dim3(grid_cap(kblocks, kMaxGridX), 1), dim3(32, 8), 0, st>>>(
        rows, K, std::max<int64_t>(rows, 0), dy, nullptr, db, true, accumulate);
    PCN_CUDA_LAUNCH_CHECK();
    return;
  }
  Tensor ws = workspace(2 * S * K);  // S*K doubles
  double* part = reinterpret_cast<double*>(ws.data<float>());
  bias_partial<<<dim3(grid_cap(kblocks, kMaxGridX), unsigned(S)), dim3(32, 8), 0, st>>>(rows, K, chunk, dy, part, db,
                                                                                       false, accumulate);
  PCN_CUDA_LAUNCH_CHECK();
  bias_final<<<grid_cap(cdiv(K, 256), 1 << 16), 256, 0, st>>>(part, S, K, db, accumulate);
  PCN_CUDA_LAUNCH_CHECK();
}

}  // namespace

// Called from register_cuda_kernels() (cuda/runtime.cu).
void register_conv2d_cuda() {
  conv2d_forward_table.cuda = &conv2d_forward_cuda;
  conv2d_backward_input_table.cuda = &conv2d_backward_input_cuda;
  conv2d_backward_filter_table.cuda = &conv2d_backward_filter_cuda;
  conv2d_backward_bias_table.cuda = &conv2d_backward_bias_cuda;
}

}  // namespace pcn
