// gemm_kernels.cuh — the SGEMM kernels themselves (no pyconvnet headers, so
// the standalone lab in cuda/dev/ times exactly these). cuda/gemm.cu is the
// host side that picks one and launches it; see there for the design notes.
//
// sgemm_simt<TA, TB>   fp32, 128x128x8 tile, 8x8 per thread, double-buffered
// sgemm_tc<TA, TB, BF16>  TF32 m16n8k8 / BF16 m16n8k16 mma.sync, 128x128x32 tile
// Both: 256 threads, grid (ceil(N/128), ceil(M/128) rows from m_base), any
// shape; vecA/vecB allow float4 loads (ld % 4 == 0 and 16-byte aligned base).
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "ptx.cuh"

namespace pcn {
namespace gemm_kernels {

constexpr int kThreads = 256;

// ---------------------------------------------------------------- tile loads
// One tile of an operand seen as (MN, K): element (r, k) with r along M (A) or
// N (B). KC ("k contiguous"): element at p[r*ld + k]; else at p[k*ld + r].
// The tile spans rows [r0, r0+ROWS) and k in [k0, k0+BK); each thread loads
// LOADS runs of 4 consecutive elements along the contiguous direction.
//
// SPREAD (only for !KC with ROWS == 128, BK == 32, used by the tensor-core
// kernel, whose shared tiles are [r][k]): a warp instruction covers 16 k rows
// x 2 runs instead of 1 k row x 32 runs, so the 4 scalar stores of each run
// into [r + j][k] hit 32 distinct banks (with the default mapping r = 4*lane
// and a row stride of 36 words they hit 2: 16-way conflicts). Global loads
// stay fully used 32-byte sectors.
template <int ROWS, int BK, bool KC, bool SPREAD = false>
struct TileLoader {
  static constexpr int kRuns = ROWS * BK / 4;
  static constexpr int LOADS = kRuns / kThreads;
  static_assert(kRuns % kThreads == 0, "tile must split evenly over the block");
  static_assert(!SPREAD || (!KC && ROWS == 128 && BK == 32 && kThreads == 256), "SPREAD layout assumptions");

  // Position of run i of this thread: (r, k) of its first element.
  __device__ static void run_pos(int i, int& r, int& k) {
    if (SPREAD) {
      // 32 blocks of (16 k x 2 runs): block b = warp + 8*i; lanes: k low 4
      // bits, run parity from bit 4.
      const int lane = threadIdx.x % 32, b = threadIdx.x / 32 + 8 * i;
      k = (b % 2) * 16 + lane % 16;
      r = ((b / 2) * 2 + lane / 16) * 4;
      return;
    }
    const int idx = threadIdx.x + i * kThreads;
    if (KC) {
      r = idx / (BK / 4);
      k = (idx % (BK / 4)) * 4;
    } else {
      k = idx / (ROWS / 4);
      r = (idx % (ROWS / 4)) * 4;
    }
  }

  __device__ static void load(const float* __restrict__ p, int64_t ld, int64_t R, int64_t K, int64_t r0,
                              int64_t k0, bool vec, float4 (&v)[LOADS]) {
#pragma unroll
    for (int i = 0; i < LOADS; ++i) {
      int rr, kk;
      run_pos(i, rr, kk);
      const int64_t r = r0 + rr, k = k0 + kk;
      float e[4];
      if (KC) {
        if (vec && r < R && k + 3 < K) {
          const float4 t = __ldg(reinterpret_cast<const float4*>(p + r * ld + k));
          e[0] = t.x; e[1] = t.y; e[2] = t.z; e[3] = t.w;
        } else {
#pragma unroll
          for (int j = 0; j < 4; ++j) e[j] = (r < R && k + j < K) ? __ldg(p + r * ld + k + j) : 0.f;
        }
      } else {
        if (vec && k < K && r + 3 < R) {
          const float4 t = __ldg(reinterpret_cast<const float4*>(p + k * ld + r));
          e[0] = t.x; e[1] = t.y; e[2] = t.z; e[3] = t.w;
        } else {
#pragma unroll
          for (int j = 0; j < 4; ++j) e[j] = (k < K && r + j < R) ? __ldg(p + k * ld + r + j) : 0.f;
        }
      }
      v[i] = make_float4(e[0], e[1], e[2], e[3]);
    }
  }
};

__device__ __forceinline__ float get(const float4& v, int j) {
  return j == 0 ? v.x : j == 1 ? v.y : j == 2 ? v.z : v.w;
}

// Epilogue for one element: alpha*acc (+ beta*C when beta != 0).
__device__ __forceinline__ void store_c(float* __restrict__ C, int64_t ldc, int64_t M, int64_t N, int64_t m,
                                        int64_t n, float acc, float alpha, float beta) {
  if (m < M && n < N) {
    float* c = C + m * ldc + n;
    *c = beta == 0.f ? alpha * acc : alpha * acc + beta * *c;
  }
}

// ---------------------------------------------------------------- fp32 SIMT
constexpr int SB_M = 128, SB_N = 128, SB_K = 8, S_PAD = 4;

template <bool TA, bool TB>
__global__ void __launch_bounds__(kThreads, 2) sgemm_simt(int64_t M, int64_t N, int64_t K, float alpha,
                                                       const float* __restrict__ A, int64_t lda,
                                                       const float* __restrict__ B, int64_t ldb, float beta,
                                                       float* __restrict__ C, int64_t ldc, bool vecA, bool vecB,
                                                       int64_t m_base) {
  using LA = TileLoader<SB_M, SB_K, !TA>;
  using LB = TileLoader<SB_N, SB_K, TB>;
  // [buffer][k][m or n], m/n contiguous so a thread reads 4 outputs' operands
  // with one 16-byte shared load.
  __shared__ __align__(16) float As[2][SB_K][SB_M + S_PAD];
  __shared__ __align__(16) float Bs[2][SB_K][SB_N + S_PAD];

  const int64_t m0 = m_base + int64_t(blockIdx.y) * SB_M;
  const int64_t n0 = int64_t(blockIdx.x) * SB_N;
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;

  float acc[8][8];
#pragma unroll
  for (int i = 0; i < 8; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j) acc[i][j] = 0.f;

  float4 ra[LA::LOADS], rb[LB::LOADS];
  auto stash = [&](int buf) {
#pragma unroll
    for (int i = 0; i < LA::LOADS; ++i) {
      int r, k;
      LA::run_pos(i, r, k);
      if (!TA) {  // run along k
#pragma unroll
        for (int j = 0; j < 4; ++j) As[buf][k + j][r] = get(ra[i], j);
      } else {  // run along m
        *reinterpret_cast<float4*>(&As[buf][k][r]) = ra[i];
      }
    }
#pragma unroll
    for (int i = 0; i < LB::LOADS; ++i) {
      int r, k;
      LB::run_pos(i, r, k);
      if (TB) {
#pragma unroll
        for (int j = 0; j < 4; ++j) Bs[buf][k + j][r] = get(rb[i], j);
      } else {
        *reinterpret_cast<float4*>(&Bs[buf][k][r]) = rb[i];
      }
    }
  };

  const int64_t ktiles = (K + SB_K - 1) / SB_K;
  if (ktiles > 0) {
    LA::load(A, lda, M, K, m0, 0, vecA, ra);
    LB::load(B, ldb, N, K, n0, 0, vecB, rb);
    stash(0);
    __syncthreads();
  }
  for (int64_t t = 0; t < ktiles; ++t) {
    const int buf = int(t & 1);
    const bool more = t + 1 < ktiles;
    if (more) {  // global loads for the next tile fly while this one is computed
      LA::load(A, lda, M, K, m0, (t + 1) * SB_K, vecA, ra);
      LB::load(B, ldb, N, K, n0, (t + 1) * SB_K, vecB, rb);
    }
#pragma unroll
    for (int k = 0; k < SB_K; ++k) {
      const float4 a0 = *reinterpret_cast<const float4*>(&As[buf][k][ty * 4]);
      const float4 a1 = *reinterpret_cast<const float4*>(&As[buf][k][64 + ty * 4]);
      const float4 b0 = *reinterpret_cast<const float4*>(&Bs[buf][k][tx * 4]);
      const float4 b1 = *reinterpret_cast<const float4*>(&Bs[buf][k][64 + tx * 4]);
      const float a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
      const float b[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    if (more) {
      // The other buffer was last read in iteration t-1, and every thread
      // passed the barrier at the end of t-1 after that read: safe to write.
      stash(buf ^ 1);
      __syncthreads();
    }
  }

  // Outputs: rows ty*4+i and 64+ty*4+i, columns tx*4+j and 64+tx*4+j.
  const bool vecC = (ldc % 4 == 0) && ((reinterpret_cast<uintptr_t>(C) & 15) == 0) && beta == 0.f;
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int64_t m = m0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + (i - 4));
    if (m >= M) continue;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int64_t n = n0 + h * 64 + tx * 4;
      if (vecC && n + 3 < N) {
        *reinterpret_cast<float4*>(C + m * ldc + n) =
            make_float4(alpha * acc[i][h * 4 + 0], alpha * acc[i][h * 4 + 1], alpha * acc[i][h * 4 + 2],
                        alpha * acc[i][h * 4 + 3]);
      } else {
#pragma unroll
        for (int j = 0; j < 4; ++j) store_c(C, ldc, M, N, m, n + j, acc[i][h * 4 + j], alpha, beta);
      }
    }
  }
}

// ---------------------------------------------------------------- tensor cores
constexpr int TB_M = 128, TB_N = 128, TB_K = 32;
constexpr int WARP_M = 64, WARP_N = 32;  // 2 x 4 warps
constexpr int MI = WARP_M / 16, NI = WARP_N / 8;

__device__ __forceinline__ uint32_t to_tf32(float x) { return ptx::cvt_tf32(x); }

// Shared-memory element type and k per mma for each precision.
template <bool BF16>
struct TcTraits;
template <>
struct TcTraits<false> {  // TF32: stored as the tf32 bit pattern in 32 bits
  using T = uint32_t;
  static constexpr int PAD = 4;   // row of 36 words: fragment rows hit distinct banks
  static constexpr int KSTEP = 8;
  __device__ static T cvt(float x) { return to_tf32(x); }
};
template <>
struct TcTraits<true> {  // BF16: two per 32-bit word
  using T = __nv_bfloat16;
  static constexpr int PAD = 8;   // row of 40 halves = 20 words: conflict free
  static constexpr int KSTEP = 16;
  __device__ static T cvt(float x) { return __float2bfloat16_rn(x); }
};

template <bool TA, bool TB, bool BF16>
__global__ void __launch_bounds__(kThreads) sgemm_tc(int64_t M, int64_t N, int64_t K, float alpha,
                                                     const float* __restrict__ A, int64_t lda,
                                                     const float* __restrict__ B, int64_t ldb, float beta,
                                                     float* __restrict__ C, int64_t ldc, bool vecA, bool vecB,
                                                     int64_t m_base) {
  using Tr = TcTraits<BF16>;
  using T = typename Tr::T;
  using LA = TileLoader<TB_M, TB_K, !TA, /*SPREAD=*/TA>;
  using LB = TileLoader<TB_N, TB_K, TB, /*SPREAD=*/!TB>;
  constexpr int LDS = TB_K + Tr::PAD;
  __shared__ __align__(16) T As[TB_M][LDS];
  __shared__ __align__(16) T Bs[TB_N][LDS];

  const int64_t m0 = m_base + int64_t(blockIdx.y) * TB_M;
  const int64_t n0 = int64_t(blockIdx.x) * TB_N;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int wm = (warp / 4) * WARP_M, wn = (warp % 4) * WARP_N;
  const int g = lane / 4, tg = lane % 4;  // groupID, thread in group

  float acc[MI][NI][4];
#pragma unroll
  for (int i = 0; i < MI; ++i)
#pragma unroll
    for (int j = 0; j < NI; ++j)
#pragma unroll
      for (int c = 0; c < 4; ++c) acc[i][j][c] = 0.f;

  float4 ra[LA::LOADS], rb[LB::LOADS];
  // Staging: smem holds [row][k], k contiguous. A run along k lands in one
  // row; a run along the row direction is spread over 4 rows.
  auto stash_one = [&](T(*S)[LDS], int r, int k, const float4& v, bool run_along_k) {
    if (run_along_k) {  // k is a multiple of 4: 16-byte (tf32) / 8-byte (bf16) aligned
      if (!BF16) {
        *reinterpret_cast<uint4*>(&S[r][k]) =
            make_uint4(to_tf32(v.x), to_tf32(v.y), to_tf32(v.z), to_tf32(v.w));
      } else {
        __nv_bfloat162 lo = __floats2bfloat162_rn(v.x, v.y), hi = __floats2bfloat162_rn(v.z, v.w);
        uint2 w;
        w.x = *reinterpret_cast<uint32_t*>(&lo);
        w.y = *reinterpret_cast<uint32_t*>(&hi);
        *reinterpret_cast<uint2*>(&S[r][k]) = w;
      }
    } else {
#pragma unroll
      for (int j = 0; j < 4; ++j) S[r + j][k] = Tr::cvt(get(v, j));
    }
  };
  auto stash = [&]() {
#pragma unroll
    for (int i = 0; i < LA::LOADS; ++i) {
      int r, k;
      LA::run_pos(i, r, k);
      stash_one(As, r, k, ra[i], !TA);
    }
#pragma unroll
    for (int i = 0; i < LB::LOADS; ++i) {
      int r, k;
      LB::run_pos(i, r, k);
      stash_one(Bs, r, k, rb[i], TB);
    }
  };

  const int64_t ktiles = (K + TB_K - 1) / TB_K;
  if (ktiles > 0) {
    LA::load(A, lda, M, K, m0, 0, vecA, ra);
    LB::load(B, ldb, N, K, n0, 0, vecB, rb);
  }
  for (int64_t t = 0; t < ktiles; ++t) {
    stash();
    __syncthreads();
    if (t + 1 < ktiles) {  // next tile's global loads overlap this tile's mma
      LA::load(A, lda, M, K, m0, (t + 1) * TB_K, vecA, ra);
      LB::load(B, ldb, N, K, n0, (t + 1) * TB_K, vecB, rb);
    }
#pragma unroll
    for (int ks = 0; ks < TB_K; ks += Tr::KSTEP) {
      uint32_t af[MI][4], bfr[NI][2];
      if (!BF16) {
        // m16n8k8 tf32: a0 (g, tg) a1 (g+8, tg) a2 (g, tg+4) a3 (g+8, tg+4);
        // b0 (k=tg, n=g) b1 (k=tg+4, n=g).
#pragma unroll
        for (int i = 0; i < MI; ++i) {
          const int r = wm + i * 16 + g;
          af[i][0] = *reinterpret_cast<const uint32_t*>(&As[r][ks + tg]);
          af[i][1] = *reinterpret_cast<const uint32_t*>(&As[r + 8][ks + tg]);
          af[i][2] = *reinterpret_cast<const uint32_t*>(&As[r][ks + tg + 4]);
          af[i][3] = *reinterpret_cast<const uint32_t*>(&As[r + 8][ks + tg + 4]);
        }
#pragma unroll
        for (int j = 0; j < NI; ++j) {
          const int c = wn + j * 8 + g;
          bfr[j][0] = *reinterpret_cast<const uint32_t*>(&Bs[c][ks + tg]);
          bfr[j][1] = *reinterpret_cast<const uint32_t*>(&Bs[c][ks + tg + 4]);
        }
      } else {
        // m16n8k16 bf16 (pairs, lower k in the low half): a0 (g, 2tg..+1)
        // a1 (g+8, 2tg..) a2 (g, 2tg+8..) a3 (g+8, 2tg+8..); b0 (k=2tg.., n=g)
        // b1 (k=2tg+8.., n=g).
#pragma unroll
        for (int i = 0; i < MI; ++i) {
          const int r = wm + i * 16 + g;
          af[i][0] = *reinterpret_cast<const uint32_t*>(&As[r][ks + 2 * tg]);
          af[i][1] = *reinterpret_cast<const uint32_t*>(&As[r + 8][ks + 2 * tg]);
          af[i][2] = *reinterpret_cast<const uint32_t*>(&As[r][ks + 2 * tg + 8]);
          af[i][3] = *reinterpret_cast<const uint32_t*>(&As[r + 8][ks + 2 * tg + 8]);
        }
#pragma unroll
        for (int j = 0; j < NI; ++j) {
          const int c = wn + j * 8 + g;
          bfr[j][0] = *reinterpret_cast<const uint32_t*>(&Bs[c][ks + 2 * tg]);
          bfr[j][1] = *reinterpret_cast<const uint32_t*>(&Bs[c][ks + 2 * tg + 8]);
        }
      }
#pragma unroll
      for (int i = 0; i < MI; ++i)
#pragma unroll
        for (int j = 0; j < NI; ++j) {
          if (!BF16)
            ptx::mma_tf32_16x8x8(acc[i][j], af[i], bfr[j]);
          else
            ptx::mma_bf16_16x8x16(acc[i][j], af[i], bfr[j]);
        }
    }
    __syncthreads();  // everyone is done reading before the next stash
  }

  // Accumulator layout: c0 (g, 2tg) c1 (g, 2tg+1) c2 (g+8, 2tg) c3 (g+8, 2tg+1).
  const bool vec2 = (ldc % 2 == 0) && ((reinterpret_cast<uintptr_t>(C) & 7) == 0) && beta == 0.f;
#pragma unroll
  for (int i = 0; i < MI; ++i)
#pragma unroll
    for (int j = 0; j < NI; ++j)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int64_t m = m0 + wm + i * 16 + g + h * 8;
        const int64_t n = n0 + wn + j * 8 + 2 * tg;
        const float v0 = acc[i][j][2 * h], v1 = acc[i][j][2 * h + 1];
        if (vec2 && m < M && n + 1 < N) {
          *reinterpret_cast<float2*>(C + m * ldc + n) = make_float2(alpha * v0, alpha * v1);
        } else {
          store_c(C, ldc, M, N, m, n, v0, alpha, beta);
          store_c(C, ldc, M, N, m, n + 1, v1, alpha, beta);
        }
      }
}

}  // namespace gemm_kernels
}  // namespace pcn
